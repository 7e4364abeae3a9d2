//! Pass 1: rejects what code generation does not support yet.
//!
//! After it, no `server` expression is written
//! - in a state initializer or an invariant of a server class: they run when
//!   a replica is constructed or checked, outside the group's log, where a
//!   start could not be made once for every replica;
//! - in a method of a server class that the program starts with `model
//!   byzantine` (or of one of its bases, whose methods such a server runs):
//!   a byzantine group would need the view service to count `t+1` matching
//!   start requests from its hosts, which it does not do yet.
//!
//! Crash and correct servers start servers in their methods: through their
//! log and the view service, once for every replica.

use crate::Unsupported;
use ftc_frontend::CheckedProgram;
use ftc_grammar::{Expr, ExprKind, Item, MemberKind, Span};
use std::collections::HashSet;

pub(crate) fn check(program: &CheckedProgram) -> Result<(), Vec<Unsupported>> {
    let byzantine = byzantine_classes(program);
    let errors: Vec<Unsupported> = server_starts_in_servers(program)
        .into_iter()
        .filter_map(|(class, place, span)| match place {
            Place::Construction => Some(Unsupported {
                code: "E0403",
                message: "a server's state initializers and invariants cannot start servers".into(),
                span,
                help: "start the server in a method (or in the client) and keep its handle \
                       in a state variable",
            }),
            Place::Method if byzantine.contains(class) => Some(Unsupported {
                code: "E0403",
                message: "a server started with `model byzantine` cannot start servers yet".into(),
                span,
                help: "start the server in the client and pass its handle to the method, \
                       or start this server with `model crash`",
            }),
            Place::Method => None,
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Where in a server class a `server` expression is written.
#[derive(Clone, Copy)]
enum Place {
    /// A method, in class or out of class: runs as an input of the log.
    Method,
    /// A state initializer or an invariant: runs outside the log.
    Construction,
}

/// The server classes whose methods run in a byzantine group: every class a
/// `server … model byzantine` starts, and its bases.
fn byzantine_classes(program: &CheckedProgram) -> HashSet<&str> {
    let mut classes = HashSet::new();
    for site in &program.server_sites {
        if site.model != ftc_grammar::Model::Byzantine {
            continue;
        }
        let mut class = Some(site.class);
        while let Some(id) = class {
            let info = program.class(id);
            classes.insert(info.name.as_str());
            class = info.base;
        }
    }
    classes
}

/// Every `server` expression written inside a server class: the class,
/// where in it, and the span.
fn server_starts_in_servers(program: &CheckedProgram) -> Vec<(&str, Place, Span)> {
    let servers: HashSet<&str> = program
        .classes
        .iter()
        .filter(|c| c.is_server)
        .map(|c| c.name.as_str())
        .collect();
    let mut found = Vec::new();
    for item in &program.ast.items {
        let (class, starts) = match item {
            Item::Class(c) if c.is_server => {
                let mut starts = Vec::new();
                for member in &c.members {
                    match &member.kind {
                        MemberKind::Method(func) => starts.extend(
                            spans(|f| crate::walk::function(func, f)).map(|s| (Place::Method, s)),
                        ),
                        MemberKind::State(state) => {
                            if let Some(e) = &state.init {
                                starts.extend(
                                    spans(|f| crate::walk::expr(e, f))
                                        .map(|s| (Place::Construction, s)),
                                )
                            }
                        }
                        MemberKind::Invariant(e) => starts.extend(
                            spans(|f| crate::walk::expr(e, f)).map(|s| (Place::Construction, s)),
                        ),
                        MemberKind::Error => {}
                    }
                }
                (c.name.name.as_str(), starts)
            }
            Item::MethodDef(m) if servers.contains(m.class.name.as_str()) => {
                let starts =
                    spans(|f| crate::walk::function(&m.function, f)).map(|s| (Place::Method, s));
                (m.class.name.as_str(), starts.collect())
            }
            _ => continue,
        };
        found.extend(starts.into_iter().map(|(place, span)| (class, place, span)));
    }
    found
}

/// The spans of the `server` expressions a walk visits.
fn spans(walk: impl FnOnce(&mut dyn FnMut(&Expr))) -> impl Iterator<Item = Span> {
    let mut spans = Vec::new();
    walk(&mut |e: &Expr| {
        if matches!(e.kind, ExprKind::Server { .. }) {
            spans.push(e.span);
        }
    });
    spans.into_iter()
}
