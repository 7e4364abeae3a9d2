//! Pass 1: rejects what code generation does not support yet.
//!
//! After it: no class has a base class, so every object type is one Rust
//! struct; inside a server class `this` is only used to reach the server's
//! own members (`this->x`, `this->m()`), never as a value; no method,
//! invariant or initializer of a server class contains a `server` expression
//! (a replicated server starting servers needs the start ordered through its
//! log, which the runtime does not offer yet).

use crate::Unsupported;
use ftc_frontend::types::Ty;
use ftc_frontend::CheckedProgram;
use ftc_grammar::{Expr, ExprKind, Item, MemberKind};
use std::collections::HashSet;

pub(crate) fn check(program: &CheckedProgram) -> Result<(), Vec<Unsupported>> {
    let mut errors = Vec::new();
    for class in &program.classes {
        if class.base.is_some() {
            errors.push(Unsupported {
                code: "E0401",
                message: format!(
                    "code generation does not support inheritance yet (class `{}`)",
                    class.name
                ),
                span: class.name_span,
                help: "copy the base class's members into the derived class",
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
                code: "E0402",
                message: "code generation does not support using a server's `this` as a value yet"
                    .into(),
                span,
                help: "use `this` only to reach the server's own members (`this->x`, `this->m()`)",
            });
        }
    }
    for span in server_starts_in_servers(program) {
        errors.push(Unsupported {
            code: "E0403",
            message: "code generation does not support a server starting servers yet".into(),
            span,
            help: "start the server in the client and pass its handle to the method",
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The spans of `server` expressions written inside server classes (their
/// methods, in class or out of class, invariants and state initializers).
fn server_starts_in_servers(program: &CheckedProgram) -> Vec<ftc_grammar::Span> {
    let servers: HashSet<&str> = program
        .classes
        .iter()
        .filter(|c| c.is_server)
        .map(|c| c.name.as_str())
        .collect();
    let mut spans = Vec::new();
    let mut find = |e: &Expr| {
        if matches!(e.kind, ExprKind::Server { .. }) {
            spans.push(e.span);
        }
    };
    for item in &program.ast.items {
        match item {
            Item::Class(c) if c.is_server => {
                for member in &c.members {
                    match &member.kind {
                        MemberKind::Method(func) => crate::walk::function(func, &mut find),
                        MemberKind::State(s) => {
                            s.init.iter().for_each(|e| crate::walk::expr(e, &mut find))
                        }
                        MemberKind::Invariant(e) => crate::walk::expr(e, &mut find),
                        MemberKind::Error => {}
                    }
                }
            }
            Item::MethodDef(m) if servers.contains(m.class.name.as_str()) => {
                crate::walk::function(&m.function, &mut find)
            }
            _ => {}
        }
    }
    spans
}
