//! The nesting limit: measures a tree's depth without recursion and refuses trees that are too deep.
//!
//! The parser already refuses to build a node deeper than the limit (see
//! `builder.rs`); this walk is the final check on the finished tree, so every
//! pass after parsing can rely on it whatever the parser does.

use crate::ast::*;
use crate::{Parsed, SyntaxError, SyntaxErrorKind};

/// The deepest nesting of expressions, statements and blocks a program may
/// have. Types (`list<list<…>>`) are limited to the same depth separately.
pub const MAX_NESTING_DEPTH: usize = 256;

enum Node<'a> {
    Expr(&'a Expr),
    Stmt(&'a Stmt),
    Block(&'a Block),
}

/// The depth of the deepest chain of nested expressions, statements and
/// blocks in `program`, and the span of the node at its bottom. Iterative:
/// safe on trees of any depth.
pub fn nesting_depth(program: &Program) -> (usize, Span) {
    let mut stack: Vec<(Node<'_>, usize)> = Vec::new();
    for item in &program.items {
        match item {
            Item::Class(class) => {
                for member in &class.members {
                    match &member.kind {
                        MemberKind::State(state) => {
                            push_declarator(&mut stack, &state.declarator, 1);
                            if let Some(init) = &state.init {
                                stack.push((Node::Expr(init), 1));
                            }
                        }
                        MemberKind::Method(function) => push_function(&mut stack, function),
                        MemberKind::Invariant(e) => stack.push((Node::Expr(e), 1)),
                        MemberKind::Error => {}
                    }
                }
            }
            Item::MethodDef(def) => push_function(&mut stack, &def.function),
            Item::Function(function) => push_function(&mut stack, function),
            Item::Global(decl) => push_var_decl(&mut stack, decl, 1),
            Item::Error(_) => {}
        }
    }
    let mut deepest = (0, Span::default());
    while let Some((node, depth)) = stack.pop() {
        let child = depth + 1;
        let span = match node {
            Node::Expr(e) => {
                push_expr_children(&mut stack, e, child);
                e.span
            }
            Node::Block(b) => {
                stack.extend(b.stmts.iter().map(|s| (Node::Stmt(s), child)));
                b.span
            }
            Node::Stmt(s) => {
                push_stmt_children(&mut stack, s, child);
                s.span
            }
        };
        if depth > deepest.0 {
            deepest = (depth, span);
        }
    }
    deepest
}

fn push_function<'a>(stack: &mut Vec<(Node<'a>, usize)>, function: &'a Function) {
    for param in &function.params {
        push_declarator(stack, &param.declarator, 1);
    }
    stack.extend(function.requires.iter().map(|e| (Node::Expr(e), 1)));
    stack.extend(function.ensures.iter().map(|e| (Node::Expr(e), 1)));
    if let Some(body) = &function.body {
        stack.push((Node::Block(body), 1));
    }
}

fn push_declarator<'a>(
    stack: &mut Vec<(Node<'a>, usize)>,
    declarator: &'a Declarator,
    depth: usize,
) {
    if let Some(Some(len)) = &declarator.array {
        stack.push((Node::Expr(len), depth));
    }
}

fn push_var_decl<'a>(stack: &mut Vec<(Node<'a>, usize)>, decl: &'a VarDecl, depth: usize) {
    for (declarator, init) in &decl.vars {
        push_declarator(stack, declarator, depth);
        if let Some(init) = init {
            stack.push((Node::Expr(init), depth));
        }
    }
}

fn push_stmt_children<'a>(stack: &mut Vec<(Node<'a>, usize)>, stmt: &'a Stmt, d: usize) {
    match &stmt.kind {
        StmtKind::VarDecl(decl) => push_var_decl(stack, decl, d),
        StmtKind::Assign { target, value, .. } => {
            stack.push((Node::Expr(target), d));
            stack.push((Node::Expr(value), d));
        }
        StmtKind::If {
            cond,
            then_branch,
            else_branch,
        } => {
            stack.push((Node::Expr(cond), d));
            stack.push((Node::Stmt(then_branch), d));
            if let Some(else_branch) = else_branch {
                stack.push((Node::Stmt(else_branch), d));
            }
        }
        StmtKind::While { cond, body } => {
            stack.push((Node::Expr(cond), d));
            stack.push((Node::Stmt(body), d));
        }
        StmtKind::For {
            init,
            cond,
            step,
            body,
        } => {
            if let Some(init) = init {
                stack.push((Node::Stmt(init), d));
            }
            if let Some(cond) = cond {
                stack.push((Node::Expr(cond), d));
            }
            if let Some(step) = step {
                stack.push((Node::Stmt(step), d));
            }
            stack.push((Node::Stmt(body), d));
        }
        StmtKind::ForEvery {
            lower, upper, body, ..
        } => {
            stack.push((Node::Expr(lower), d));
            stack.push((Node::Expr(upper), d));
            stack.push((Node::Stmt(body), d));
        }
        StmtKind::Return(Some(e))
        | StmtKind::Expr(e)
        | StmtKind::Assert(e)
        | StmtKind::Raise(e) => {
            stack.push((Node::Expr(e), d));
        }
        StmtKind::Block(block) => stack.push((Node::Block(block), d)),
        StmtKind::Try { body, catches } => {
            stack.push((Node::Block(body), d));
            stack.extend(catches.iter().map(|c| (Node::Block(&c.body), d)));
        }
        StmtKind::Return(None)
        | StmtKind::Break
        | StmtKind::Continue
        | StmtKind::Empty
        | StmtKind::Error => {}
    }
}

fn push_expr_children<'a>(stack: &mut Vec<(Node<'a>, usize)>, expr: &'a Expr, d: usize) {
    match &expr.kind {
        ExprKind::Unary { operand, .. } => stack.push((Node::Expr(operand), d)),
        ExprKind::Binary { lhs, rhs, .. } => {
            stack.push((Node::Expr(lhs), d));
            stack.push((Node::Expr(rhs), d));
        }
        ExprKind::Index { base, index } => {
            stack.push((Node::Expr(base), d));
            stack.push((Node::Expr(index), d));
        }
        ExprKind::Member { base, .. } => stack.push((Node::Expr(base), d)),
        ExprKind::Call { args, .. } => stack.extend(args.iter().map(|a| (Node::Expr(a), d))),
        ExprKind::MethodCall { receiver, args, .. } => {
            stack.push((Node::Expr(receiver), d));
            stack.extend(args.iter().map(|a| (Node::Expr(a), d)));
        }
        ExprKind::New { array_len, .. } => {
            if let Some(len) = array_len {
                stack.push((Node::Expr(len), d));
            }
        }
        ExprKind::Server { count, props, .. } => {
            if let Some(count) = count {
                stack.push((Node::Expr(count), d));
            }
            for prop in props {
                match &prop.kind {
                    ServerPropKind::Priority(e)
                    | ServerPropKind::Replicas(e)
                    | ServerPropKind::Durable(e)
                    | ServerPropKind::Tolerate(e) => stack.push((Node::Expr(e), d)),
                    ServerPropKind::Hosts(hosts) => {
                        stack.extend(hosts.iter().map(|h| (Node::Expr(h), d)));
                    }
                    ServerPropKind::Model(_) | ServerPropKind::Disjoint => {}
                }
            }
        }
        ExprKind::Invoke { call } => stack.push((Node::Expr(call), d)),
        ExprKind::Accept {
            futures,
            count,
            timeout,
        } => {
            stack.push((Node::Expr(futures), d));
            stack.push((Node::Expr(count), d));
            if let Some(timeout) = timeout {
                stack.push((Node::Expr(&timeout.seconds), d));
                if let Some(block) = &timeout.block {
                    stack.push((Node::Block(block), d));
                }
            }
        }
        ExprKind::Int(_)
        | ExprKind::Real(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::This
        | ExprKind::Name(_)
        | ExprKind::Error => {}
    }
}

/// Returns the program if it is within [`MAX_NESTING_DEPTH`]; otherwise
/// reports [`SyntaxErrorKind::TooDeep`] at the deepest node and returns an
/// empty program.
pub(crate) fn limit_depth(program: Program, mut errors: Vec<SyntaxError>) -> Parsed {
    let (depth, span) = nesting_depth(&program);
    if depth <= MAX_NESTING_DEPTH {
        return Parsed { program, errors };
    }
    errors.push(SyntaxError {
        span,
        kind: SyntaxErrorKind::TooDeep {
            limit: MAX_NESTING_DEPTH,
        },
    });
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    // Dropping a tree this deep would recurse once per level and could
    // overflow the stack: leak it instead. The parser never builds such a
    // tree, so this only guards against a future change there.
    std::mem::forget(program);
    Parsed {
        program: Program { items: Vec::new() },
        errors,
    }
}
