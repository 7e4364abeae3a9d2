//! Pass 5: `server` expressions to [`ServerSpec`]s.
//!
//! After it: every `server C [n] props…` expression of the program has a
//! spec in [`ProgramIr::specs`]; integer properties that are compile-time
//! constants (literals, negation and arithmetic on them) are folded to
//! [`Operand::Const`], the others stay expressions evaluated at run time, as
//! do `hosts` entries and a `durable` name.

use crate::{Operand, ProgramIr, ServerSpec};
use ftc_frontend::{const_int, CheckedProgram};
use ftc_grammar::{Expr, ExprKind, Model, ServerPropKind};

fn operand(e: &Expr) -> Operand {
    match const_int(e) {
        Some(v) => Operand::Const(v),
        None => Operand::Expr(e.id),
    }
}

pub(crate) fn fold_all(program: &CheckedProgram, ir: &mut ProgramIr) {
    let mut servers = std::collections::HashMap::new();
    crate::walk::exprs(&program.ast, &mut |e| {
        if matches!(e.kind, ExprKind::Server { .. }) {
            servers.insert(e.id, e);
        }
    });
    for site in &program.server_sites {
        let Some(expr) = servers.get(&site.expr) else {
            continue;
        };
        let ExprKind::Server { count, props, .. } = &expr.kind else {
            continue;
        };
        let mut spec = ServerSpec {
            class: site.class,
            count: count.as_deref().map(operand),
            model: Model::Correct,
            tolerate: Operand::Default,
            replicas: Operand::Default,
            priority: Operand::Default,
            hosts: Vec::new(),
            disjoint: false,
            durable: None,
            replicas_used: site.replicas,
        };
        for p in props {
            match &p.kind {
                ServerPropKind::Priority(e) => spec.priority = operand(e),
                ServerPropKind::Replicas(e) => spec.replicas = operand(e),
                ServerPropKind::Tolerate(e) => spec.tolerate = operand(e),
                ServerPropKind::Model(m) => spec.model = *m,
                ServerPropKind::Hosts(hs) => spec.hosts = hs.iter().map(|h| h.id).collect(),
                ServerPropKind::Disjoint => spec.disjoint = true,
                ServerPropKind::Durable(e) => spec.durable = Some(e.id),
            }
        }
        spec.model = site.model;
        ir.specs.insert(site.expr, spec);
    }
}
