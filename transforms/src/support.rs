//! Pass 1: rejects what code generation does not support yet.
//!
//! After it: no method, invariant or initializer of a server class contains
//! a `server` expression (a replicated server starting servers needs the
//! start ordered through its log, which the runtime does not offer yet).

use crate::Unsupported;
use ftc_frontend::CheckedProgram;
use ftc_grammar::{Expr, ExprKind, Item, MemberKind};
use std::collections::HashSet;

pub(crate) fn check(program: &CheckedProgram) -> Result<(), Vec<Unsupported>> {
    let mut errors = Vec::new();
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
