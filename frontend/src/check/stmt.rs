//! Statements: blocks and scopes, declarations, control flow, `return`, assignment,
//! and which statements end their block.

use super::BodyChecker;
use crate::diagnostic::Diagnostic;
use crate::program::{Resolution, VarKind};
use crate::types::{ExceptionKind, Ty};
use ftc_grammar::{AssignOp, Block, Expr, ExprKind, Span, Stmt, StmtKind};

impl<'a> BodyChecker<'a, '_> {
    pub(super) fn block(&mut self, b: &'a Block) {
        self.push_scope();
        self.statements(b);
        self.pop_scope();
    }

    /// The statements of a block, in the current scope.
    pub(super) fn statements(&mut self, b: &'a Block) {
        let mut ended: Option<&'a Stmt> = None;
        for s in &b.stmts {
            if let Some(end) = ended.take() {
                if !matches!(s.kind, StmtKind::Empty | StmtKind::Error) {
                    self.diags.push(
                        Diagnostic::warning("W0005", "unreachable statement", s.span)
                            .with_label("this never runs")
                            .with_secondary(end.span, "control never gets past this"),
                    );
                }
            }
            self.stmt(s);
            let loop_jump =
                matches!(s.kind, StmtKind::Break | StmtKind::Continue) && self.ctx.loop_depth > 0;
            let jumps = loop_jump || stmt_exits(s);
            if jumps && !matches!(s.kind, StmtKind::Error) {
                ended = Some(s);
            }
        }
    }

    /// A statement in its own scope (a branch or loop body).
    pub(super) fn scoped_stmt(&mut self, s: &'a Stmt) {
        self.push_scope();
        self.stmt(s);
        self.pop_scope();
    }

    pub(super) fn stmt(&mut self, s: &'a Stmt) {
        match &s.kind {
            StmtKind::VarDecl(d) => {
                for (decl, init) in &d.vars {
                    if let Some(len) = decl.array.as_ref().and_then(|a| a.as_ref()) {
                        self.expect(len, &Ty::Int, "an array length");
                    }
                    let var = self.decls.new_var(&decl.name, Ty::Unknown, VarKind::Local);
                    let base = self.resolve_value_type(&d.ty, Some(var));
                    let ty = if decl.array.is_some() {
                        Ty::Array(Box::new(base))
                    } else {
                        base
                    };
                    self.decls.vars[var.0 as usize].ty = ty.clone();
                    if let Some(init) = init {
                        self.expect_assign(init, &ty, "the variable's type");
                    }
                    // Declare after the initializer: `int x = x;` uses an outer `x`.
                    if let Some(prev) = self.scope.in_current(&decl.name.name) {
                        let prev_span = self.decls.vars[prev.0 as usize].span;
                        self.diags.push(
                            Diagnostic::error(
                                "E0109",
                                format!("`{}` is declared twice in this block", decl.name.name),
                                decl.name.span,
                            )
                            .with_label("second declaration")
                            .with_secondary(prev_span, "first declared here"),
                        );
                    }
                    self.scope.bind(&decl.name.name, var);
                }
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value),
            StmtKind::If {
                cond,
                then_branch,
                else_branch,
            } => {
                self.condition(cond, "an `if` condition");
                self.scoped_stmt(then_branch);
                if let Some(e) = else_branch {
                    self.scoped_stmt(e);
                }
            }
            StmtKind::While { cond, body } => {
                self.condition(cond, "a `while` condition");
                self.loop_body(body);
            }
            StmtKind::For {
                init,
                cond,
                step,
                body,
            } => {
                self.push_scope();
                if let Some(i) = init {
                    self.stmt(i);
                }
                if let Some(c) = cond {
                    self.condition(c, "a `for` condition");
                }
                if let Some(st) = step {
                    self.stmt(st);
                }
                self.loop_body(body);
                self.pop_scope();
            }
            StmtKind::ForEvery {
                var,
                lower,
                upper,
                body,
                ..
            } => {
                self.expect(lower, &Ty::Int, "a `for every` bound");
                self.expect(upper, &Ty::Int, "a `for every` bound");
                self.push_scope();
                self.declare_local(var, Ty::Int, VarKind::Local);
                self.loop_body(body);
                self.pop_scope();
            }
            StmtKind::Break | StmtKind::Continue => {
                if self.ctx.loop_depth == 0 {
                    let word = if matches!(s.kind, StmtKind::Break) {
                        "break"
                    } else {
                        "continue"
                    };
                    self.diags.push(
                        Diagnostic::error("E0210", format!("`{word}` outside a loop"), s.span)
                            .with_label("not inside `while`, `for` or `for every`"),
                    );
                }
            }
            StmtKind::Return(value) => self.ret(value.as_ref(), s.span),
            StmtKind::Block(b) => self.block(b),
            StmtKind::Expr(e) => {
                self.expr(e);
            }
            StmtKind::Assert(e) => self.condition(e, "an assertion"),
            StmtKind::Raise(e) => {
                self.expect(e, &Ty::Str, "the message of `raise`");
            }
            StmtKind::Try { body, catches } => {
                self.block(body);
                let mut earlier: Vec<(ExceptionKind, Span)> = Vec::new();
                for c in catches {
                    let kind = ExceptionKind::from_name(&c.kind.name);
                    if let Some(k) = kind {
                        let covered = earlier
                            .iter()
                            .find(|(e, _)| *e == k || *e == ExceptionKind::Failure);
                        if let Some(&(_, span)) = covered {
                            self.diags.push(
                                Diagnostic::warning(
                                    "W0006",
                                    format!("this `catch ({})` never runs", k.name()),
                                    c.kind.span,
                                )
                                .with_label("already caught above")
                                .with_secondary(span, "this catch comes first")
                                .with_help("`failure` catches every kind: put it last"),
                            );
                        }
                        earlier.push((k, c.kind.span));
                    }
                    if kind.is_none() {
                        self.diags.push(
                            Diagnostic::error(
                                "E0123",
                                format!("`{}` is not an exception kind", c.kind.name),
                                c.kind.span,
                            )
                            .with_label("unknown exception kind")
                            .with_help(
                                "catch one of `failure`, `timeout`, `server_failure`, \
                                 `assertion_failure`, `program_error`",
                            ),
                        );
                    }
                    self.push_scope();
                    if let Some(b) = &c.binding {
                        let ty = kind.map_or(Ty::Unknown, Ty::Exception);
                        self.declare_local(b, ty, VarKind::CatchBinding);
                    }
                    self.block(&c.body);
                    self.pop_scope();
                }
            }
            StmtKind::Empty | StmtKind::Error => {}
        }
    }

    pub(super) fn loop_body(&mut self, body: &'a Stmt) {
        self.ctx.loop_depth += 1;
        self.scoped_stmt(body);
        self.ctx.loop_depth -= 1;
    }

    pub(super) fn ret(&mut self, value: Option<&'a Expr>, span: Span) {
        let want = self.ctx.ret.clone();
        match (value, &want) {
            (None, Ty::Void | Ty::Unknown) => {}
            (None, _) => self.diags.push(
                Diagnostic::error(
                    "E0204",
                    "`return;` in a function that returns a value",
                    span,
                )
                .with_label(format!("expected a value of type `{}`", self.show(&want))),
            ),
            (Some(v), Ty::Void) => {
                self.expr(v);
                self.diags.push(
                    Diagnostic::error(
                        "E0204",
                        "`return` with a value in a `void` function",
                        v.span,
                    )
                    .with_label("the function returns nothing")
                    .with_help("remove the value, or declare a result type"),
                );
            }
            (Some(v), _) => {
                let got = self.value(v);
                if !self.coerce(&want, &got, v.span) {
                    self.diags.push(
                        Diagnostic::error("E0204", "returned value has the wrong type", v.span)
                            .with_label(format!(
                                "expected `{}`, found `{}`",
                                self.show(&want),
                                self.show(&got)
                            )),
                    );
                }
            }
        }
    }

    pub(super) fn assign(&mut self, target: &'a Expr, op: AssignOp, value: &'a Expr) {
        let tt = self.expr(target);
        let assignable = match &target.kind {
            ExprKind::Name(_) => matches!(
                self.resolutions.get(&target.id),
                Some(Resolution::Var(_)) | None
            ),
            ExprKind::Index { .. } | ExprKind::Member { .. } => !matches!(
                self.resolutions.get(&target.id),
                Some(Resolution::FutureResult | Resolution::ExceptionMessage)
            ),
            ExprKind::Error => true,
            _ => false,
        };
        if !assignable {
            self.diags.push(
                Diagnostic::error("E0206", "cannot assign to this expression", target.span)
                    .with_label("not a variable, array element or state variable"),
            );
            self.expr(value);
            return;
        }
        match op {
            AssignOp::Assign => self.expect_assign(value, &tt, "the target's type"),
            AssignOp::Add | AssignOp::Sub | AssignOp::Mul | AssignOp::Div => {
                let vt = self.expr(value);
                let ok = match (&tt, &vt) {
                    (Ty::Unknown, _) | (_, Ty::Unknown) => true,
                    (Ty::Str, v) => op == AssignOp::Add && *v != Ty::Void,
                    (Ty::Int, Ty::Int) => true,
                    (Ty::Real, v) => v.is_numeric(),
                    _ => false,
                };
                if !ok {
                    self.diags.push(
                        Diagnostic::error("E0206", "invalid compound assignment", value.span)
                            .with_label(format!(
                                "cannot apply this to `{}` and `{}`",
                                self.show(&tt),
                                self.show(&vt)
                            ))
                            .with_secondary(target.span, format!("this is `{}`", self.show(&tt))),
                    );
                }
            }
        }
    }
}

/// Does this list of statements always end by `return` or `raise`?
pub(super) fn block_exits(stmts: &[Stmt]) -> bool {
    stmts.iter().any(stmt_exits)
}

fn stmt_exits(s: &Stmt) -> bool {
    match &s.kind {
        StmtKind::Return(_) | StmtKind::Raise(_) | StmtKind::Error => true,
        StmtKind::Block(b) => block_exits(&b.stmts),
        StmtKind::If {
            then_branch,
            else_branch: Some(e),
            ..
        } => stmt_exits(then_branch) && stmt_exits(e),
        StmtKind::While { cond, body } => is_true(cond) && !breaks(body),
        StmtKind::For { cond, body, .. } => cond.as_ref().is_none_or(is_true) && !breaks(body),
        StmtKind::Try { body, catches } => {
            block_exits(&body.stmts) && catches.iter().all(|c| block_exits(&c.body.stmts))
        }
        _ => false,
    }
}

fn is_true(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Bool(true))
}

/// Does `s` contain a `break` that leaves the loop whose body it is?
fn breaks(s: &Stmt) -> bool {
    match &s.kind {
        StmtKind::Break => true,
        StmtKind::Block(b) => b.stmts.iter().any(breaks),
        StmtKind::If {
            then_branch,
            else_branch,
            ..
        } => breaks(then_branch) || else_branch.as_deref().is_some_and(breaks),
        StmtKind::Try { body, catches } => {
            body.stmts.iter().any(breaks) || catches.iter().any(|c| c.body.stmts.iter().any(breaks))
        }
        _ => false,
    }
}
