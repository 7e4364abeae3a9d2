//! Visits a program's blocks, statements and expressions (bodies,
//! initializers, contracts), outer before inner: one walk for every pass
//! (a [`Visit`] says what to call back).

use ftc_grammar::{Block, Expr, ExprKind, Function, Item, MemberKind, Program, Stmt, StmtKind};

/// What a walk calls back: every block, statement and expression it meets,
/// each outer before inner.
pub struct Visit<'f, 'a> {
    pub block: &'f mut dyn FnMut(&'a Block),
    pub stmt: &'f mut dyn FnMut(&'a Stmt),
    pub expr: &'f mut dyn FnMut(&'a Expr),
}

/// Calls `f` on every block of `ast` (function bodies, nested blocks,
/// branches and loop bodies written as blocks, `try` and `catch` bodies,
/// `accept … timeout` blocks), outer before inner.
pub fn blocks<'a>(ast: &'a Program, f: &mut dyn FnMut(&'a Block)) {
    program(
        ast,
        &mut Visit {
            block: f,
            stmt: &mut |_| {},
            expr: &mut |_| {},
        },
    );
}

/// Calls `f` on every statement of `b`, nested ones included.
pub fn stmts_of<'a>(b: &'a Block, f: &mut dyn FnMut(&'a Stmt)) {
    block_v(
        b,
        &mut Visit {
            block: &mut |_| {},
            stmt: f,
            expr: &mut |_| {},
        },
    );
}

/// Calls `f` on every expression of `b`, nested ones included.
pub fn block_exprs<'a>(b: &'a Block, f: &mut dyn FnMut(&'a Expr)) {
    block_v(
        b,
        &mut Visit {
            block: &mut |_| {},
            stmt: &mut |_| {},
            expr: f,
        },
    );
}

/// Calls `f` on every expression of `ast`, outer before inner.
pub fn exprs<'a>(ast: &'a Program, f: &mut dyn FnMut(&'a Expr)) {
    program(
        ast,
        &mut Visit {
            block: &mut |_| {},
            stmt: &mut |_| {},
            expr: f,
        },
    );
}

/// Walks every item of `ast`.
pub fn program<'a>(ast: &'a Program, v: &mut Visit<'_, 'a>) {
    for item in &ast.items {
        match item {
            Item::Function(func) => function_v(func, v),
            Item::MethodDef(m) => function_v(&m.function, v),
            Item::Global(g) => g
                .vars
                .iter()
                .flat_map(|(_, i)| i)
                .for_each(|e| expr_v(e, v)),
            Item::Class(c) => {
                for m in &c.members {
                    match &m.kind {
                        MemberKind::Method(func) => function_v(func, v),
                        MemberKind::State(s) => s.init.iter().for_each(|e| expr_v(e, v)),
                        MemberKind::Invariant(e) => expr_v(e, v),
                        MemberKind::Error => {}
                    }
                }
            }
            Item::Error(_) => {}
        }
    }
}

fn function_v<'a>(func: &'a Function, v: &mut Visit<'_, 'a>) {
    func.requires.iter().for_each(|e| expr_v(e, v));
    func.ensures.iter().for_each(|e| expr_v(e, v));
    if let Some(b) = &func.body {
        block_v(b, v);
    }
}

fn block_v<'a>(b: &'a Block, v: &mut Visit<'_, 'a>) {
    (v.block)(b);
    b.stmts.iter().for_each(|s| stmt_v(s, v));
}

fn stmt_v<'a>(s: &'a Stmt, v: &mut Visit<'_, 'a>) {
    (v.stmt)(s);
    match &s.kind {
        StmtKind::VarDecl(d) => {
            for (decl, init) in &d.vars {
                if let Some(Some(len)) = &decl.array {
                    expr_v(len, v);
                }
                if let Some(i) = init {
                    expr_v(i, v);
                }
            }
        }
        StmtKind::Assign { target, value, .. } => {
            expr_v(target, v);
            expr_v(value, v);
        }
        StmtKind::If {
            cond,
            then_branch,
            else_branch,
        } => {
            expr_v(cond, v);
            stmt_v(then_branch, v);
            if let Some(e) = else_branch {
                stmt_v(e, v);
            }
        }
        StmtKind::While { cond, body } => {
            expr_v(cond, v);
            stmt_v(body, v);
        }
        StmtKind::For {
            init,
            cond,
            step,
            body,
        } => {
            if let Some(i) = init {
                stmt_v(i, v);
            }
            if let Some(c) = cond {
                expr_v(c, v);
            }
            if let Some(s) = step {
                stmt_v(s, v);
            }
            stmt_v(body, v);
        }
        StmtKind::ForEvery {
            lower, upper, body, ..
        } => {
            expr_v(lower, v);
            expr_v(upper, v);
            stmt_v(body, v);
        }
        StmtKind::Return(Some(e))
        | StmtKind::Expr(e)
        | StmtKind::Assert(e)
        | StmtKind::Raise(e) => expr_v(e, v),
        StmtKind::Block(b) => block_v(b, v),
        StmtKind::Try { body, catches } => {
            block_v(body, v);
            catches.iter().for_each(|c| block_v(&c.body, v));
        }
        _ => {}
    }
}

/// Calls `f` on `e` and every expression inside it, outer before inner.
pub fn expr<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    expr_v(
        e,
        &mut Visit {
            block: &mut |_| {},
            stmt: &mut |_| {},
            expr: f,
        },
    );
}

fn expr_v<'a>(e: &'a Expr, v: &mut Visit<'_, 'a>) {
    (v.expr)(e);
    match &e.kind {
        ExprKind::Unary { operand, .. } => expr_v(operand, v),
        ExprKind::Binary { lhs, rhs, .. } => {
            expr_v(lhs, v);
            expr_v(rhs, v);
        }
        ExprKind::Index { base, index } => {
            expr_v(base, v);
            expr_v(index, v);
        }
        ExprKind::Member { base, .. } => expr_v(base, v),
        ExprKind::Call { args, .. } => args.iter().for_each(|a| expr_v(a, v)),
        ExprKind::MethodCall { receiver, args, .. } => {
            expr_v(receiver, v);
            args.iter().for_each(|a| expr_v(a, v));
        }
        ExprKind::New { array_len, .. } => array_len.iter().for_each(|n| expr_v(n, v)),
        ExprKind::Server { count, props, .. } => {
            count.iter().for_each(|n| expr_v(n, v));
            for p in props {
                match &p.kind {
                    ftc_grammar::ServerPropKind::Priority(e)
                    | ftc_grammar::ServerPropKind::Replicas(e)
                    | ftc_grammar::ServerPropKind::Tolerate(e)
                    | ftc_grammar::ServerPropKind::Durable(e) => expr_v(e, v),
                    ftc_grammar::ServerPropKind::Hosts(hs) => hs.iter().for_each(|h| expr_v(h, v)),
                    _ => {}
                }
            }
        }
        ExprKind::Invoke { call } => expr_v(call, v),
        ExprKind::Accept {
            futures,
            count,
            timeout,
        } => {
            expr_v(futures, v);
            expr_v(count, v);
            if let Some(t) = timeout {
                expr_v(&t.seconds, v);
                if let Some(b) = &t.block {
                    block_v(b, v);
                }
            }
        }
        _ => {}
    }
}
