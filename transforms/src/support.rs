//! Pass 1: rejects what code generation does not support yet.
//!
//! After it: no class has a base class, so every object type is one Rust
//! struct.

use crate::Unsupported;
use ftc_frontend::CheckedProgram;

pub(crate) fn check(program: &CheckedProgram) -> Result<(), Vec<Unsupported>> {
    let mut errors = Vec::new();
    for class in &program.classes {
        if class.base.is_some() {
            errors.push(Unsupported {
                message: format!(
                    "code generation does not support inheritance yet (class `{}`)",
                    class.name
                ),
                span: class.name_span,
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
