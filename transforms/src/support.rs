//! Pass 1: rejects what code generation does not support yet.
//!
//! After it, no `server` expression is written in a state initializer or an
//! invariant of a server class: they run when a replica is constructed or
//! checked, outside the group's log, where a start could not be made once
//! for every replica. Server methods start servers through their log and the
//! view service, once for every replica (voted by `t+1` members of a
//! byzantine group).

use crate::Unsupported;
use ftc_frontend::CheckedProgram;
use ftc_grammar::{Expr, ExprKind, Item, MemberKind, Span};

pub(crate) fn check(program: &CheckedProgram) -> Result<(), Vec<Unsupported>> {
    let errors: Vec<Unsupported> = starts_at_construction(program)
        .map(|span| Unsupported {
            code: "E0403",
            message: "a server's state initializers and invariants cannot start servers".into(),
            span,
            help: "start the server in a method (or in the client) and keep its handle \
                   in a state variable",
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The spans of `server` expressions in server classes' state initializers
/// and invariants.
fn starts_at_construction(program: &CheckedProgram) -> impl Iterator<Item = Span> + '_ {
    let construction = program.ast.items.iter().flat_map(|item| match item {
        Item::Class(c) if c.is_server => c
            .members
            .iter()
            .filter_map(|member| match &member.kind {
                MemberKind::State(state) => state.init.as_ref(),
                MemberKind::Invariant(e) => Some(e),
                MemberKind::Method(_) | MemberKind::Error => None,
            })
            .collect(),
        _ => Vec::new(),
    });
    construction.flat_map(|e| {
        let mut spans = Vec::new();
        crate::walk::expr(e, &mut |x: &Expr| {
            if matches!(x.kind, ExprKind::Server { .. }) {
                spans.push(x.span);
            }
        });
        spans
    })
}
