//! Pass 4: which variables of server class type hold arrays of handles.
//!
//! After it: [`ProgramIr::handle_arrays`] holds every variable of server class
//! type that is initialized or assigned from `server C [n] …` or indexed;
//! every other such variable holds one handle.

use crate::ProgramIr;
use ftc_frontend::program::Resolution;
use ftc_frontend::types::{Ty, VarId};
use ftc_frontend::CheckedProgram;
use ftc_grammar::{Block, Expr, ExprKind, Item, MemberKind, ServerPropKind, Stmt, StmtKind};

struct Finder<'a> {
    program: &'a CheckedProgram,
    decls: &'a std::collections::HashMap<(u32, u32), VarId>,
    found: Vec<VarId>,
}

impl Finder<'_> {
    fn var_of(&self, e: &Expr) -> Option<VarId> {
        match (&e.kind, self.program.resolution(e.id)) {
            (ExprKind::Name(_), Some(Resolution::Var(v))) => Some(*v),
            (ExprKind::Member { .. }, Some(Resolution::Var(v))) => Some(*v),
            _ => None,
        }
    }

    fn is_server_var(&self, v: VarId) -> bool {
        match &self.program.var(v).ty {
            Ty::Class(c) => self.program.class(*c).is_server,
            _ => false,
        }
    }

    fn note_array_value(&mut self, target: Option<VarId>, value: &Expr) {
        if let (Some(v), ExprKind::Server { count: Some(_), .. }) = (target, &value.kind) {
            if self.is_server_var(v) {
                self.found.push(v);
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Index { base, index } => {
                if let Some(v) = self.var_of(base) {
                    if self.is_server_var(v) {
                        self.found.push(v);
                    }
                }
                self.expr(base);
                self.expr(index);
            }
            ExprKind::Unary { operand, .. } => self.expr(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Member { base, .. } => self.expr(base),
            ExprKind::Call { args, .. } => args.iter().for_each(|a| self.expr(a)),
            ExprKind::MethodCall { receiver, args, .. } => {
                self.expr(receiver);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::New {
                array_len: Some(n), ..
            } => self.expr(n),
            ExprKind::Server { count, props, .. } => {
                count.iter().for_each(|n| self.expr(n));
                for p in props {
                    match &p.kind {
                        ServerPropKind::Priority(x)
                        | ServerPropKind::Replicas(x)
                        | ServerPropKind::Tolerate(x)
                        | ServerPropKind::Durable(x) => self.expr(x),
                        ServerPropKind::Hosts(hosts) => hosts.iter().for_each(|h| self.expr(h)),
                        ServerPropKind::Model(_) | ServerPropKind::Disjoint => {}
                    }
                }
            }
            ExprKind::Invoke { call } => self.expr(call),
            ExprKind::Accept {
                futures,
                count,
                timeout,
            } => {
                self.expr(futures);
                self.expr(count);
                if let Some(t) = timeout {
                    self.expr(&t.seconds);
                    if let Some(b) = &t.block {
                        self.block(b);
                    }
                }
            }
            _ => {}
        }
    }

    fn block(&mut self, b: &Block) {
        b.stmts.iter().for_each(|s| self.stmt(s));
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::VarDecl(d) => {
                for (decl, init) in &d.vars {
                    if let Some(init) = init {
                        let v = self
                            .decls
                            .get(&(decl.name.span.start, decl.name.span.end))
                            .copied();
                        self.note_array_value(v, init);
                        self.expr(init);
                    }
                }
            }
            StmtKind::Assign { target, value, .. } => {
                let v = self.var_of(target);
                self.note_array_value(v, value);
                self.expr(target);
                self.expr(value);
            }
            StmtKind::If {
                cond,
                then_branch,
                else_branch,
            } => {
                self.expr(cond);
                self.stmt(then_branch);
                if let Some(e) = else_branch {
                    self.stmt(e);
                }
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.stmt(body);
            }
            StmtKind::For {
                init,
                cond,
                step,
                body,
            } => {
                if let Some(i) = init {
                    self.stmt(i);
                }
                if let Some(c) = cond {
                    self.expr(c);
                }
                if let Some(s) = step {
                    self.stmt(s);
                }
                self.stmt(body);
            }
            StmtKind::ForEvery {
                lower, upper, body, ..
            } => {
                self.expr(lower);
                self.expr(upper);
                self.stmt(body);
            }
            StmtKind::Return(Some(e)) | StmtKind::Expr(e) | StmtKind::Assert(e) => self.expr(e),
            StmtKind::Raise(e) => self.expr(e),
            StmtKind::Block(b) => self.block(b),
            StmtKind::Try { body, catches } => {
                self.block(body);
                catches.iter().for_each(|c| self.block(&c.body));
            }
            _ => {}
        }
    }
}

pub(crate) fn find_arrays(program: &CheckedProgram, ir: &mut ProgramIr) {
    let decls = ir.decl_vars.clone();
    let mut finder = Finder {
        program,
        decls: &decls,
        found: Vec::new(),
    };
    for item in &program.ast.items {
        match item {
            Item::Function(f) => {
                if let Some(b) = &f.body {
                    finder.block(b)
                }
            }
            Item::MethodDef(m) => {
                if let Some(b) = &m.function.body {
                    finder.block(b)
                }
            }
            Item::Class(c) => {
                for m in &c.members {
                    match &m.kind {
                        MemberKind::Method(f) => {
                            if let Some(b) = &f.body {
                                finder.block(b)
                            }
                        }
                        MemberKind::State(s) => {
                            if let Some(init) = &s.init {
                                let v = decls
                                    .get(&(
                                        s.declarator.name.span.start,
                                        s.declarator.name.span.end,
                                    ))
                                    .copied();
                                finder.note_array_value(v, init);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    ir.handle_arrays.extend(finder.found);
}
