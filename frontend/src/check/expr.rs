//! Expressions: names, operators, members and state access.

use super::BodyChecker;
use crate::decls::Member;
use crate::diagnostic::Diagnostic;
use crate::program::{Builtin, Resolution, VarKind};
use crate::types::{FutureOf, Ty, VarId};
use ftc_grammar::{BinaryOp, Expr, ExprKind, Ident, Span, UnaryOp};

impl<'a> BodyChecker<'a, '_> {
    /// Types an expression used as a value: `void` is an error.
    pub(crate) fn expr(&mut self, e: &'a Expr) -> Ty {
        let t = self.expr_inner(e);
        self.expr_types.insert(e.id, t.clone());
        t
    }

    pub(super) fn value(&mut self, e: &'a Expr) -> Ty {
        let t = self.expr(e);
        if t == Ty::Void {
            self.diags.push(
                Diagnostic::error("E0209", "`void` used as a value", e.span)
                    .with_label("this produces no value"),
            );
            return Ty::Unknown;
        }
        t
    }

    pub(super) fn record_global_use(&mut self, var: VarId, span: Span) {
        if self.decls.vars[var.0 as usize].kind == VarKind::Global {
            self.facts[self.ctx.body].globals.push((var, span));
        }
    }

    pub(super) fn expr_inner(&mut self, e: &'a Expr) -> Ty {
        match &e.kind {
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Real(_) => Ty::Real,
            ExprKind::Str(_) => Ty::Str,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Null => Ty::Null,
            ExprKind::This => match (self.ctx.has_this, self.ctx.class) {
                (true, Some(c)) => Ty::Class(c),
                _ => {
                    self.diags.push(
                        Diagnostic::error("E0119", "`this` outside a method", e.span)
                            .with_label("there is no object here"),
                    );
                    Ty::Unknown
                }
            },
            ExprKind::Name(id) => self.name(e, id),
            ExprKind::Unary { op, operand } => {
                let t = self.value(operand);
                match (op, &t) {
                    (_, Ty::Unknown) => Ty::Unknown,
                    (UnaryOp::Neg, Ty::Int | Ty::Real) => t,
                    (UnaryOp::Not, Ty::Bool) => Ty::Bool,
                    _ => {
                        let sym = if *op == UnaryOp::Neg { "-" } else { "!" };
                        self.diags.push(
                            Diagnostic::error(
                                "E0202",
                                format!("cannot apply unary `{sym}` to `{}`", self.show(&t)),
                                e.span,
                            )
                            .with_label(format!("this operand is `{}`", self.show(&t))),
                        );
                        Ty::Unknown
                    }
                }
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(e, *op, lhs, rhs),
            ExprKind::Index { base, index } => {
                let bt = self.value(base);
                self.expect(index, &Ty::Int, "an index");
                match bt {
                    Ty::Array(elem) => *elem,
                    Ty::Class(c) if self.decls.classes[c.0 as usize].is_server => Ty::Class(c),
                    Ty::Unknown => Ty::Unknown,
                    other => {
                        let mut d = Diagnostic::error(
                            "E0207",
                            format!("cannot index a value of type `{}`", self.show(&other)),
                            base.span,
                        )
                        .with_label("not an array");
                        if matches!(other, Ty::List(_)) {
                            d = d.with_help("read a list element with `l->get(i)`");
                        } else if matches!(other, Ty::Map(..)) {
                            d = d.with_help("read a map entry with `m->get(k)`");
                        }
                        self.diags.push(d);
                        Ty::Unknown
                    }
                }
            }
            ExprKind::Member { base, name } => self.member(e, base, name),
            ExprKind::Call { callee, args } => self.call(e, callee, args),
            ExprKind::MethodCall {
                receiver,
                method,
                args,
            } => self.method_call(e, receiver, method, args).0,
            ExprKind::New { ty, array_len } => {
                if let Some(len) = array_len {
                    self.expect(len, &Ty::Int, "an array length");
                    let elem = self.resolve_value_type(ty, None);
                    return Ty::Array(Box::new(elem));
                }
                let t = self.resolve_type(ty, None);
                match t {
                    Ty::Class(c) if self.decls.classes[c.0 as usize].is_server => {
                        let name = self.decls.classes[c.0 as usize].name.clone();
                        self.diags.push(
                            Diagnostic::error(
                                "E0301",
                                format!("`new` of server class `{name}`"),
                                e.span,
                            )
                            .with_label("a server class is started, not allocated")
                            .with_help(format!("use `server {name}`")),
                        );
                        Ty::Class(c)
                    }
                    Ty::Class(c) => {
                        let body = self.decls.class_body(c);
                        self.facts[self.ctx.body].calls.push((body, e.span));
                        Ty::Class(c)
                    }
                    Ty::Unknown => Ty::Unknown,
                    // `new list<T>` and `new map<K, V>` make empty collections.
                    t @ (Ty::List(_) | Ty::Map(..)) => t,
                    other => {
                        self.diags.push(
                            Diagnostic::error(
                                "E0211",
                                format!("`new` of `{}`, which is not a class", self.show(&other)),
                                ty.span,
                            )
                            .with_label("not a class")
                            .with_help("`new` makes objects (`new C`), collections (`new list<T>`) or arrays (`new T[n]`)"),
                        );
                        Ty::Unknown
                    }
                }
            }
            ExprKind::Server {
                class,
                count,
                props,
            } => self.server(e, class, count.as_deref(), props),
            ExprKind::Invoke { call } => match &call.kind {
                ExprKind::MethodCall {
                    receiver,
                    method,
                    args,
                } => {
                    let (ret, is_remote) = self.method_call(call, receiver, method, args);
                    self.expr_types.insert(call.id, ret.clone());
                    if !is_remote {
                        self.diags.push(
                            Diagnostic::error(
                                "E0307",
                                "`invoke` of a call that is not a server method call",
                                call.span,
                            )
                            .with_label("the receiver is not a server")
                            .with_help("call it synchronously, without `invoke`"),
                        );
                        return Ty::Unknown;
                    }
                    Ty::Future(FutureOf::Known(Box::new(ret)))
                }
                ExprKind::Error => Ty::Unknown,
                _ => {
                    self.expr(call);
                    self.diags.push(
                        Diagnostic::error(
                            "E0307",
                            "`invoke` of something that is not a server method call",
                            call.span,
                        )
                        .with_label("expected `server->method(…)`"),
                    );
                    Ty::Unknown
                }
            },
            ExprKind::Accept {
                futures,
                count,
                timeout,
            } => {
                let ft = self.value(futures);
                let ok = match &ft {
                    Ty::Future(_) | Ty::Unknown => true,
                    Ty::Array(e) => matches!(**e, Ty::Future(_) | Ty::Unknown),
                    _ => false,
                };
                if !ok {
                    self.diags.push(
                        Diagnostic::error(
                            "E0305",
                            "`accept` needs a future or an array of futures",
                            futures.span,
                        )
                        .with_label(format!("this is `{}`", self.show(&ft))),
                    );
                }
                self.expect(count, &Ty::Int, "the count of `accept`");
                if let Some(t) = timeout {
                    self.expect(&t.seconds, &Ty::Real, "a timeout in seconds");
                    if let Some(b) = &t.block {
                        self.block(b);
                    }
                }
                Ty::Int
            }
            ExprKind::Error => Ty::Unknown,
        }
    }

    pub(super) fn name(&mut self, e: &'a Expr, id: &'a Ident) -> Ty {
        if let Some(v) = self.lookup_local(&id.name) {
            self.resolutions.insert(e.id, Resolution::Var(v));
            return self.decls.vars[v.0 as usize].ty.clone();
        }
        if self.ctx.in_ensures && id.name == "result" {
            if self.ctx.ret == Ty::Void {
                self.diags.push(
                    Diagnostic::error(
                        "E0120",
                        "`result` in the postcondition of a `void` function",
                        id.span,
                    )
                    .with_label("there is no result to name"),
                );
                return Ty::Unknown;
            }
            self.resolutions.insert(e.id, Resolution::EnsuresResult);
            return self.ctx.ret.clone();
        }
        if let Some(c) = self.ctx.class {
            if let Some(Member::State(v)) = self.decls.find_member(c, &id.name) {
                self.resolutions.insert(e.id, Resolution::Var(v));
                return self.decls.vars[v.0 as usize].ty.clone();
            }
        }
        if let Some(&v) = self.decls.global_by_name.get(id.name.as_str()) {
            self.resolutions.insert(e.id, Resolution::Var(v));
            self.record_global_use(v, e.span);
            return self.decls.vars[v.0 as usize].ty.clone();
        }
        if id.name == "result" {
            self.diags.push(
                Diagnostic::error("E0120", "`result` outside an `ensures` clause", id.span)
                    .with_label("only postconditions can name the result")
                    .with_help("use `ensures result …;` or a local variable"),
            );
            return Ty::Unknown;
        }
        let mut d = Diagnostic::error("E0100", format!("cannot find `{}`", id.name), id.span)
            .with_label("not declared in this scope");
        if self.decls.fn_by_name.contains_key(id.name.as_str())
            || Builtin::from_name(&id.name).is_some()
        {
            d = d.with_help(format!("`{}` is a function: call it with `(…)`", id.name));
        } else {
            let members = self
                .ctx
                .class
                .map_or_else(Vec::new, |c| self.decls.member_names(c, false));
            let candidates = self
                .scope
                .names()
                .chain(members)
                .chain(self.decls.global_by_name.keys().copied());
            if let Some(s) = crate::suggest::similar(&id.name, candidates) {
                d = d.with_help(format!("a variable with a similar name exists: `{s}`"));
            }
        }
        self.diags.push(d);
        Ty::Unknown
    }

    pub(super) fn binary(&mut self, e: &'a Expr, op: BinaryOp, lhs: &'a Expr, rhs: &'a Expr) -> Ty {
        let l = self.value(lhs);
        let r = self.value(rhs);
        if l.is_unknown() || r.is_unknown() {
            return match op {
                BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge
                | BinaryOp::And
                | BinaryOp::Or => Ty::Bool,
                _ => Ty::Unknown,
            };
        }
        let result = match op {
            BinaryOp::Add if l == Ty::Str || r == Ty::Str => Some(Ty::Str),
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                match (&l, &r) {
                    (Ty::Int, Ty::Int) => Some(Ty::Int),
                    (a, b) if a.is_numeric() && b.is_numeric() => Some(Ty::Real),
                    _ => None,
                }
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                if (l.is_numeric() && r.is_numeric()) || (l == Ty::Str && r == Ty::Str) {
                    Some(Ty::Bool)
                } else {
                    None
                }
            }
            BinaryOp::And | BinaryOp::Or => (l == Ty::Bool && r == Ty::Bool).then_some(Ty::Bool),
            BinaryOp::Eq | BinaryOp::Ne => self.comparable(&l, &r).then_some(Ty::Bool),
        };
        match result {
            Some(t) => t,
            None => {
                self.diags.push(
                    Diagnostic::error(
                        "E0202",
                        format!(
                            "cannot apply `{}` to `{}` and `{}`",
                            op_text(op),
                            self.show(&l),
                            self.show(&r)
                        ),
                        e.span,
                    )
                    .with_label("invalid operand types")
                    .with_secondary(lhs.span, format!("`{}`", self.show(&l)))
                    .with_secondary(rhs.span, format!("`{}`", self.show(&r))),
                );
                match op {
                    BinaryOp::Add
                    | BinaryOp::Sub
                    | BinaryOp::Mul
                    | BinaryOp::Div
                    | BinaryOp::Rem => Ty::Unknown,
                    _ => Ty::Bool,
                }
            }
        }
    }

    pub(super) fn comparable(&self, l: &Ty, r: &Ty) -> bool {
        match (l, r) {
            (a, b) if a.is_numeric() && b.is_numeric() => true,
            (Ty::Null, Ty::Class(_) | Ty::Future(_) | Ty::Null)
            | (Ty::Class(_) | Ty::Future(_), Ty::Null) => true,
            (Ty::Class(a), Ty::Class(b)) => {
                self.decls.is_subclass(*a, *b) || self.decls.is_subclass(*b, *a)
            }
            (Ty::Future(_), Ty::Future(_)) => true,
            (Ty::Bool, Ty::Bool) | (Ty::Str, Ty::Str) | (Ty::Host, Ty::Host) => true,
            _ => false,
        }
    }

    pub(super) fn member(&mut self, e: &'a Expr, base: &'a Expr, name: &'a Ident) -> Ty {
        let bt = self.value(base);
        match &bt {
            Ty::Class(c) => {
                let c = *c;
                match self.decls.find_member(c, &name.name) {
                    Some(Member::State(v)) => {
                        self.resolutions.insert(e.id, Resolution::Var(v));
                        self.check_state_access(v, base, name);
                        self.decls.vars[v.0 as usize].ty.clone()
                    }
                    Some(Member::Method(_)) => {
                        self.diags.push(
                            Diagnostic::error(
                                "E0104",
                                format!("`{}` is a method, not a state variable", name.name),
                                name.span,
                            )
                            .with_label("a method")
                            .with_help(format!("call it: `->{}(…)`", name.name)),
                        );
                        Ty::Unknown
                    }
                    None => {
                        let cname = self.decls.classes[c.0 as usize].name.clone();
                        let cspan = self.decls.classes[c.0 as usize].name_span;
                        let mut d = Diagnostic::error(
                            "E0104",
                            format!("class `{cname}` has no state variable `{}`", name.name),
                            name.span,
                        )
                        .with_label("unknown field")
                        .with_secondary(cspan, "class declared here");
                        let states = self.decls.member_names(c, false);
                        if let Some(s) = crate::suggest::similar(&name.name, states.into_iter()) {
                            d = d.with_help(format!(
                                "a state variable with a similar name exists: `{s}`"
                            ));
                        }
                        self.diags.push(d);
                        Ty::Unknown
                    }
                }
            }
            Ty::Future(f) if name.name == "result" => {
                self.resolutions.insert(e.id, Resolution::FutureResult);
                match f {
                    FutureOf::Known(t) => (**t).clone(),
                    FutureOf::Inferred(v) => match self.future_results.get(v) {
                        Some((t, _)) => t.clone(),
                        None => {
                            self.pending_results.push((e.id, *v, e.span));
                            Ty::Unknown
                        }
                    },
                    FutureOf::Any => Ty::Unknown,
                }
            }
            Ty::Exception(_) if name.name == "message" => {
                self.resolutions.insert(e.id, Resolution::ExceptionMessage);
                Ty::Str
            }
            Ty::Unknown => Ty::Unknown,
            other => {
                if name.name == "result" {
                    self.diags.push(
                        Diagnostic::error(
                            "E0308",
                            format!(
                                "`->result` of a `{}`, which is not a future",
                                self.show(other)
                            ),
                            name.span,
                        )
                        .with_label("not a future")
                        .with_secondary(base.span, format!("this is `{}`", self.show(other))),
                    );
                } else {
                    self.diags.push(
                        Diagnostic::error(
                            "E0208",
                            format!("`{}` has no member `{}`", self.show(other), name.name),
                            name.span,
                        )
                        .with_label("no such member")
                        .with_secondary(base.span, format!("this is `{}`", self.show(other))),
                    );
                }
                Ty::Unknown
            }
        }
    }

    /// Privacy and the server-state rule for `base->x`.
    pub(super) fn check_state_access(&mut self, v: VarId, base: &'a Expr, name: &'a Ident) {
        let VarKind::State { class, visibility } = self.decls.vars[v.0 as usize].kind else {
            return;
        };
        let inside = self.ctx.class == Some(class);
        if visibility == ftc_grammar::Visibility::Private && !inside {
            let decl = self.decls.vars[v.0 as usize].span;
            self.diags.push(
                Diagnostic::error(
                    "E0118",
                    format!(
                        "state variable `{}` of class `{}` is private",
                        name.name, self.decls.classes[class.0 as usize].name
                    ),
                    name.span,
                )
                .with_label("private member")
                .with_secondary(decl, "declared private here"),
            );
            return;
        }
        let is_server = self.decls.classes[class.0 as usize].is_server;
        let within = matches!(base.kind, ExprKind::This)
            || self
                .ctx
                .class
                .is_some_and(|c| self.decls.is_subclass(c, class));
        if is_server && !within {
            let cname = self.decls.classes[class.0 as usize].name.clone();
            self.diags.push(
                Diagnostic::error(
                    "E0303",
                    format!("state variable `{}` of server class `{cname}` is not accessible from a client", name.name),
                    name.span,
                )
                .with_label("server state")
                .with_secondary(self.decls.vars[v.0 as usize].span, "declared here")
                .with_help(format!("add a method to `{cname}` that reads or writes it")),
            );
        }
    }
}

fn op_text(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        BinaryOp::Rem => "%",
        BinaryOp::Eq => "==",
        BinaryOp::Ne => "!=",
        BinaryOp::Lt => "<",
        BinaryOp::Le => "<=",
        BinaryOp::Gt => ">",
        BinaryOp::Ge => ">=",
        BinaryOp::And => "&&",
        BinaryOp::Or => "||",
    }
}

/// Folds an integer constant expression (literals, unary minus, `+ - * / %`);
/// `None` when it is not constant or overflows. The checker's property checks
/// and the lowering of `server` expressions share this one definition.
pub fn const_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(v) => Some(*v),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => const_int(operand)?.checked_neg(),
        ExprKind::Binary { op, lhs, rhs } => {
            let (a, b) = (const_int(lhs)?, const_int(rhs)?);
            match op {
                BinaryOp::Add => a.checked_add(b),
                BinaryOp::Sub => a.checked_sub(b),
                BinaryOp::Mul => a.checked_mul(b),
                BinaryOp::Div => a.checked_div(b),
                BinaryOp::Rem => a.checked_rem(b),
                _ => None,
            }
        }
        _ => None,
    }
}
