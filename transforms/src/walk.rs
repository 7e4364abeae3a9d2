//! Visits every expression of a program (bodies, initializers, contracts).

use ftc_grammar::{Block, Expr, ExprKind, Function, Item, MemberKind, Program, Stmt, StmtKind};

/// Calls `f` on every expression of `ast`, outer before inner.
pub fn exprs<'a>(ast: &'a Program, f: &mut dyn FnMut(&'a Expr)) {
    for item in &ast.items {
        match item {
            Item::Function(func) => function(func, f),
            Item::MethodDef(m) => function(&m.function, f),
            Item::Global(v) => v.vars.iter().flat_map(|(_, i)| i).for_each(|e| expr(e, f)),
            Item::Class(c) => {
                for m in &c.members {
                    match &m.kind {
                        MemberKind::Method(func) => function(func, f),
                        MemberKind::State(s) => s.init.iter().for_each(|e| expr(e, f)),
                        MemberKind::Invariant(e) => expr(e, f),
                        MemberKind::Error => {}
                    }
                }
            }
            Item::Error(_) => {}
        }
    }
}

/// Calls `f` on every expression of one function (contracts, then body).
pub(crate) fn function<'a>(func: &'a Function, f: &mut dyn FnMut(&'a Expr)) {
    func.requires.iter().for_each(|e| expr(e, f));
    func.ensures.iter().for_each(|e| expr(e, f));
    if let Some(b) = &func.body {
        block(b, f);
    }
}

fn block<'a>(b: &'a Block, f: &mut dyn FnMut(&'a Expr)) {
    b.stmts.iter().for_each(|s| stmt(s, f));
}

fn stmt<'a>(s: &'a Stmt, f: &mut dyn FnMut(&'a Expr)) {
    match &s.kind {
        StmtKind::VarDecl(d) => {
            for (decl, init) in &d.vars {
                if let Some(Some(len)) = &decl.array {
                    expr(len, f);
                }
                if let Some(i) = init {
                    expr(i, f);
                }
            }
        }
        StmtKind::Assign { target, value, .. } => {
            expr(target, f);
            expr(value, f);
        }
        StmtKind::If {
            cond,
            then_branch,
            else_branch,
        } => {
            expr(cond, f);
            stmt(then_branch, f);
            if let Some(e) = else_branch {
                stmt(e, f);
            }
        }
        StmtKind::While { cond, body } => {
            expr(cond, f);
            stmt(body, f);
        }
        StmtKind::For {
            init,
            cond,
            step,
            body,
        } => {
            if let Some(i) = init {
                stmt(i, f);
            }
            if let Some(c) = cond {
                expr(c, f);
            }
            if let Some(s) = step {
                stmt(s, f);
            }
            stmt(body, f);
        }
        StmtKind::ForEvery {
            lower, upper, body, ..
        } => {
            expr(lower, f);
            expr(upper, f);
            stmt(body, f);
        }
        StmtKind::Return(Some(e))
        | StmtKind::Expr(e)
        | StmtKind::Assert(e)
        | StmtKind::Raise(e) => expr(e, f),
        StmtKind::Block(b) => block(b, f),
        StmtKind::Try { body, catches } => {
            block(body, f);
            catches.iter().for_each(|c| block(&c.body, f));
        }
        _ => {}
    }
}

/// Calls `f` on `e` and every expression inside it, outer before inner.
pub fn expr<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Unary { operand, .. } => expr(operand, f),
        ExprKind::Binary { lhs, rhs, .. } => {
            expr(lhs, f);
            expr(rhs, f);
        }
        ExprKind::Index { base, index } => {
            expr(base, f);
            expr(index, f);
        }
        ExprKind::Member { base, .. } => expr(base, f),
        ExprKind::Call { args, .. } => args.iter().for_each(|a| expr(a, f)),
        ExprKind::MethodCall { receiver, args, .. } => {
            expr(receiver, f);
            args.iter().for_each(|a| expr(a, f));
        }
        ExprKind::New { array_len, .. } => array_len.iter().for_each(|n| expr(n, f)),
        ExprKind::Server { count, props, .. } => {
            count.iter().for_each(|n| expr(n, f));
            for p in props {
                match &p.kind {
                    ftc_grammar::ServerPropKind::Priority(e)
                    | ftc_grammar::ServerPropKind::Replicas(e)
                    | ftc_grammar::ServerPropKind::Tolerate(e)
                    | ftc_grammar::ServerPropKind::Durable(e) => expr(e, f),
                    ftc_grammar::ServerPropKind::Hosts(hs) => hs.iter().for_each(|h| expr(h, f)),
                    _ => {}
                }
            }
        }
        ExprKind::Invoke { call } => expr(call, f),
        ExprKind::Accept {
            futures,
            count,
            timeout,
        } => {
            expr(futures, f);
            expr(count, f);
            if let Some(t) = timeout {
                expr(&t.seconds, f);
                if let Some(b) = &t.block {
                    block(b, f);
                }
            }
        }
        _ => {}
    }
}
