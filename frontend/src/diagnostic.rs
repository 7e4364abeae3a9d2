//! The one diagnostic type of the compiler: a stable code, a severity, a message and labelled spans.

use ftc_grammar::Span;

/// How bad a diagnostic is. Only errors make `ftc check` fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The program is rejected.
    Error,
    /// The program is accepted, but something is probably not what was meant.
    Warning,
}

impl Severity {
    /// `error` or `warning`, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A span of the source with a short message printed beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// The byte range it points at.
    pub span: Span,
    /// What to say there (may be empty).
    pub message: String,
}

/// One finding about the program, with a stable code (`E0xxx`, `W0xxx`) from [`crate::codes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code; its long explanation is in [`crate::codes::lookup`].
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// The headline, lower case, no final full stop.
    pub message: String,
    /// Where the problem is.
    pub primary: Label,
    /// Other places that explain it (a declaration, the other half of a conflict).
    pub secondary: Vec<Label>,
    /// Extra facts, each printed as `= note: …`.
    pub notes: Vec<String>,
    /// How to fix it, printed as `= help: …`.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with the given code, pointing at `span`.
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, message, span)
    }

    /// A warning with the given code, pointing at `span`.
    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, message, span)
    }

    fn new(
        severity: Severity,
        code: &'static str,
        message: impl Into<String>,
        span: Span,
    ) -> Diagnostic {
        debug_assert!(
            crate::codes::lookup(code).is_some(),
            "diagnostic code {code} is not registered"
        );
        Diagnostic {
            code,
            severity,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    /// Sets the message printed under the primary span.
    pub fn with_label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }

    /// Adds a secondary span with a message.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
