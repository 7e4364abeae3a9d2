//! Calls: argument checking, functions, built-ins and methods (local and
//! remote, with their privacy rules).

use super::BodyChecker;
use crate::decls::Member;
use crate::diagnostic::Diagnostic;
use crate::program::{Builtin, ListMethod, MapMethod, Resolution};
use crate::types::{FnId, Ty};
use ftc_grammar::{Expr, ExprKind, Ident, Span};

impl<'a> BodyChecker<'a, '_> {
    pub(super) fn check_args(
        &mut self,
        params: &[Ty],
        args: &'a [Expr],
        call_span: Span,
        what: &str,
    ) {
        if params.len() != args.len() {
            self.diags.push(
                Diagnostic::error(
                    "E0201",
                    format!(
                        "{what} takes {} argument{} but {} {} given",
                        params.len(),
                        if params.len() == 1 { "" } else { "s" },
                        args.len(),
                        if args.len() == 1 { "was" } else { "were" }
                    ),
                    call_span,
                )
                .with_label(format!("expected {} argument(s)", params.len())),
            );
            for a in args {
                self.value(a);
            }
            return;
        }
        for (p, a) in params.iter().zip(args) {
            let got = self.value(a);
            if !self.coerce(p, &got, a.span) {
                self.diags.push(
                    Diagnostic::error("E0200", "mismatched argument type", a.span).with_label(
                        format!("expected `{}`, found `{}`", self.show(p), self.show(&got)),
                    ),
                );
            }
        }
    }

    pub(super) fn param_types(&self, f: FnId) -> Vec<Ty> {
        self.decls.functions[f.0 as usize]
            .params
            .iter()
            .map(|v| self.decls.vars[v.0 as usize].ty.clone())
            .collect()
    }

    pub(super) fn call(&mut self, e: &'a Expr, callee: &'a Ident, args: &'a [Expr]) -> Ty {
        // A method of `this`, then a free function, then a built-in.
        if let (Some(c), true) = (self.ctx.class, self.ctx.has_this) {
            if let Some(Member::Method(m)) = self.decls.find_member(c, &callee.name) {
                self.resolutions.insert(e.id, Resolution::Method(m));
                self.check_method_privacy(m, callee);
                self.facts[self.ctx.body].calls.push((m.0 as usize, e.span));
                let params = self.param_types(m);
                self.check_args(&params, args, e.span, &format!("method `{}`", callee.name));
                return self.decls.functions[m.0 as usize].ret.clone();
            }
        }
        if let Some(&f) = self.decls.fn_by_name.get(callee.name.as_str()) {
            self.resolutions.insert(e.id, Resolution::Function(f));
            self.facts[self.ctx.body].calls.push((f.0 as usize, e.span));
            let params = self.param_types(f);
            self.check_args(
                &params,
                args,
                e.span,
                &format!("function `{}`", callee.name),
            );
            return self.decls.functions[f.0 as usize].ret.clone();
        }
        if let Some(b) = Builtin::from_name(&callee.name) {
            self.resolutions.insert(e.id, Resolution::Builtin(b));
            if b.is_nondeterministic() {
                self.facts[self.ctx.body].nondet.push((b, e.span));
            }
            return self.builtin(e, b, args);
        }
        let mut d = Diagnostic::error(
            "E0102",
            format!("cannot find function `{}`", callee.name),
            callee.span,
        )
        .with_label("not a function, method or built-in");
        let methods = match (self.ctx.class, self.ctx.has_this) {
            (Some(c), true) => self.decls.member_names(c, true),
            _ => Vec::new(),
        };
        let candidates = methods
            .into_iter()
            .chain(self.decls.fn_by_name.keys().copied())
            .chain(Builtin::ALL.iter().map(|b| b.name()));
        if let Some(s) = crate::suggest::similar(&callee.name, candidates) {
            d = d.with_help(format!("a function with a similar name exists: `{s}`"));
        }
        self.diags.push(d);
        for a in args {
            self.expr(a);
        }
        Ty::Unknown
    }

    pub(super) fn builtin(&mut self, e: &'a Expr, b: Builtin, args: &'a [Expr]) -> Ty {
        use Builtin::*;
        let what = format!("built-in `{}`", b.name());
        let fixed = |params: Vec<Ty>, ret: Ty| (params, ret);
        let (params, ret) = match b {
            Print | Println => {
                for a in args {
                    self.value(a);
                }
                return Ty::Void;
            }
            Abs | Min | Max => {
                let n = if b == Abs { 1 } else { 2 };
                if args.len() != n {
                    self.check_args(&vec![Ty::Real; n], args, e.span, &what);
                    return Ty::Unknown;
                }
                let mut all_int = true;
                let mut unknown = false;
                for a in args {
                    let t = self.value(a);
                    match t {
                        Ty::Int => {}
                        Ty::Real => all_int = false,
                        Ty::Unknown => unknown = true,
                        other => {
                            self.diags.push(
                                Diagnostic::error("E0200", "mismatched argument type", a.span)
                                    .with_label(format!(
                                        "expected `int` or `real`, found `{}`",
                                        self.show(&other)
                                    )),
                            );
                            unknown = true;
                        }
                    }
                }
                return if unknown {
                    Ty::Unknown
                } else if all_int {
                    Ty::Int
                } else {
                    Ty::Real
                };
            }
            Len => {
                if args.len() != 1 {
                    self.check_args(&[Ty::Unknown], args, e.span, &what);
                    return Ty::Int;
                }
                let t = self.value(&args[0]);
                if !matches!(
                    t,
                    Ty::Array(_) | Ty::List(_) | Ty::Map(..) | Ty::Str | Ty::Unknown
                ) {
                    self.diags.push(
                        Diagnostic::error("E0200", "mismatched argument type", args[0].span)
                            .with_label(format!(
                                "`len` takes an array, list, map or string, found `{}`",
                                self.show(&t)
                            )),
                    );
                }
                return Ty::Int;
            }
            ToString => fixed(vec![Ty::Unknown], Ty::Str),
            Sqrt | Floor | Sin | Cos | Round | Ceil => fixed(vec![Ty::Real], Ty::Real),
            ToInt => fixed(vec![Ty::Real], Ty::Int),
            ToReal => fixed(vec![Ty::Int], Ty::Real),
            Substr => fixed(vec![Ty::Str, Ty::Int, Ty::Int], Ty::Str),
            IndexOf => fixed(vec![Ty::Str, Ty::Str], Ty::Int),
            CharAt => fixed(vec![Ty::Str, Ty::Int], Ty::Str),
            Atan2 => fixed(vec![Ty::Real, Ty::Real], Ty::Real),
            Split => fixed(vec![Ty::Str, Ty::Str], Ty::List(Box::new(Ty::Str))),
            Trim => fixed(vec![Ty::Str], Ty::Str),
            ParseInt => fixed(vec![Ty::Str], Ty::Int),
            ParseReal => fixed(vec![Ty::Str], Ty::Real),
            ReadLines => fixed(vec![Ty::Str], Ty::List(Box::new(Ty::Str))),
            WriteFile => fixed(vec![Ty::Str, Ty::Str], Ty::Void),
            Args => fixed(vec![], Ty::List(Box::new(Ty::Str))),
            MyHost => fixed(vec![], Ty::Host),
            Host => fixed(vec![Ty::Str], Ty::Host),
            Now | Random => fixed(vec![], Ty::Real),
            Sleep => fixed(vec![Ty::Real], Ty::Void),
        };
        self.check_args(&params, args, e.span, &what);
        ret
    }

    pub(super) fn check_method_privacy(&mut self, m: FnId, name: &'a Ident) {
        let info = &self.decls.functions[m.0 as usize];
        if info.visibility == ftc_grammar::Visibility::Private && self.ctx.class != info.owner {
            let owner = info.owner.map_or(String::new(), |c| {
                self.decls.classes[c.0 as usize].name.clone()
            });
            let decl = info.name_span;
            self.diags.push(
                Diagnostic::error(
                    "E0118",
                    format!("method `{}` of class `{owner}` is private", name.name),
                    name.span,
                )
                .with_label("private member")
                .with_secondary(decl, "declared private here"),
            );
        }
    }

    /// Checks `receiver->method(args)`; returns the result type and whether
    /// the call goes to a server (a remote call).
    pub(super) fn method_call(
        &mut self,
        e: &'a Expr,
        receiver: &'a Expr,
        method: &'a Ident,
        args: &'a [Expr],
    ) -> (Ty, bool) {
        let rt = self.value(receiver);
        let mut remote = false;
        let ret = match &rt {
            Ty::Class(c) => {
                let c = *c;
                match self.decls.find_member(c, &method.name) {
                    Some(Member::Method(m)) => {
                        self.resolutions.insert(e.id, Resolution::Method(m));
                        self.check_method_privacy(m, method);
                        let is_server = self.decls.classes[c.0 as usize].is_server;
                        if is_server && !matches!(receiver.kind, ExprKind::This) {
                            remote = true;
                            self.resolutions.insert(e.id, Resolution::ServerMethod(m));
                        } else {
                            self.facts[self.ctx.body].calls.push((m.0 as usize, e.span));
                        }
                        let params = self.param_types(m);
                        self.check_args(
                            &params,
                            args,
                            e.span,
                            &format!("method `{}`", method.name),
                        );
                        self.decls.functions[m.0 as usize].ret.clone()
                    }
                    other => {
                        let cname = self.decls.classes[c.0 as usize].name.clone();
                        let mut d = Diagnostic::error(
                            "E0103",
                            format!("class `{cname}` has no method `{}`", method.name),
                            method.span,
                        )
                        .with_label("unknown method");
                        if matches!(other, Some(Member::State(_))) {
                            d = d.with_note(format!("`{}` is a state variable", method.name));
                        } else {
                            let methods = self.decls.member_names(c, true);
                            if let Some(s) =
                                crate::suggest::similar(&method.name, methods.into_iter())
                            {
                                d = d.with_help(format!(
                                    "a method with a similar name exists: `{s}`"
                                ));
                            }
                        }
                        self.diags.push(d);
                        for a in args {
                            self.expr(a);
                        }
                        Ty::Unknown
                    }
                }
            }
            Ty::List(elem) => {
                let elem = (**elem).clone();
                let (m, params, ret) = match method.name.as_str() {
                    "add" => (ListMethod::Add, vec![elem.clone()], Ty::Void),
                    "get" => (ListMethod::Get, vec![Ty::Int], elem.clone()),
                    "set" => (ListMethod::Set, vec![Ty::Int, elem.clone()], Ty::Void),
                    "size" => (ListMethod::Size, vec![], Ty::Int),
                    "remove" => (ListMethod::Remove, vec![Ty::Int], Ty::Void),
                    _ => {
                        self.unknown_builtin_method(
                            &rt,
                            method,
                            args,
                            "add, get, set, size, remove",
                        );
                        return (Ty::Unknown, false);
                    }
                };
                self.resolutions.insert(e.id, Resolution::ListMethod(m));
                self.check_args(&params, args, e.span, &format!("`list->{}`", method.name));
                ret
            }
            Ty::Map(k, v) => {
                let (k, v) = ((**k).clone(), (**v).clone());
                let (m, params, ret) = match method.name.as_str() {
                    "put" => (MapMethod::Put, vec![k.clone(), v.clone()], Ty::Void),
                    "get" => (MapMethod::Get, vec![k.clone()], v.clone()),
                    "has" => (MapMethod::Has, vec![k.clone()], Ty::Bool),
                    "remove" => (MapMethod::Remove, vec![k.clone()], Ty::Void),
                    "keys" => (MapMethod::Keys, vec![], Ty::List(Box::new(k.clone()))),
                    "size" => (MapMethod::Size, vec![], Ty::Int),
                    _ => {
                        self.unknown_builtin_method(
                            &rt,
                            method,
                            args,
                            "put, get, has, remove, keys, size",
                        );
                        return (Ty::Unknown, false);
                    }
                };
                self.resolutions.insert(e.id, Resolution::MapMethod(m));
                self.check_args(&params, args, e.span, &format!("`map->{}`", method.name));
                ret
            }
            Ty::Unknown => {
                for a in args {
                    self.expr(a);
                }
                Ty::Unknown
            }
            other => {
                self.diags.push(
                    Diagnostic::error(
                        "E0208",
                        format!("`{}` has no methods", self.show(other)),
                        method.span,
                    )
                    .with_label("no such method")
                    .with_secondary(receiver.span, format!("this is `{}`", self.show(other))),
                );
                for a in args {
                    self.expr(a);
                }
                Ty::Unknown
            }
        };
        (ret, remote)
    }

    pub(super) fn unknown_builtin_method(
        &mut self,
        t: &Ty,
        method: &'a Ident,
        args: &'a [Expr],
        list: &str,
    ) {
        self.diags.push(
            Diagnostic::error(
                "E0103",
                format!("`{}` has no method `{}`", self.show(t), method.name),
                method.span,
            )
            .with_label("unknown method")
            .with_note(format!("its methods are {list}")),
        );
        for a in args {
            self.expr(a);
        }
    }
}
