//! Pass 1: rejects what code generation does not support yet.
//!
//! After it: no class has a base class, so every object type is one Rust
//! struct; inside a server class `this` is only used to reach the server's
//! own members (`this->x`, `this->m()`), never as a value.

use crate::Unsupported;
use ftc_frontend::types::Ty;
use ftc_frontend::CheckedProgram;
use ftc_grammar::ExprKind;
use std::collections::HashSet;

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
    let mut as_base = HashSet::new();
    let mut server_this = Vec::new();
    crate::walk::exprs(&program.ast, &mut |e| match &e.kind {
        ExprKind::Member { base, .. } | ExprKind::MethodCall { receiver: base, .. }
            if matches!(base.kind, ExprKind::This) =>
        {
            as_base.insert(base.id);
        }
        ExprKind::This => {
            if let Some(Ty::Class(c)) = program.type_of(e.id) {
                if program.class(*c).is_server {
                    server_this.push((e.id, e.span));
                }
            }
        }
        _ => {}
    });
    for (id, span) in server_this {
        if !as_base.contains(&id) {
            errors.push(Unsupported {
                message: "code generation does not support using a server's `this` as a value yet"
                    .into(),
                span,
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
