//! `server` expressions: the class, its properties (model, replicas,
//! hosts, durability) and the site recorded for the server rules.

use super::{const_int, BodyChecker};
use crate::decls::Member;
use crate::diagnostic::Diagnostic;
use crate::program::{Builtin, Resolution, ServerSite};
use crate::types::Ty;
use ftc_grammar::{Expr, ExprKind, Ident, Model, ServerPropKind, Span};

impl<'a> BodyChecker<'a, '_> {
    pub(super) fn server(
        &mut self,
        e: &'a Expr,
        class: &'a Ident,
        count: Option<&'a Expr>,
        props: &'a [ftc_grammar::ServerProp],
    ) -> Ty {
        let cls = match self.decls.class_by_name.get(class.name.as_str()) {
            None => {
                self.diags.push(
                    Diagnostic::error(
                        "E0101",
                        format!("cannot find server class `{}`", class.name),
                        class.span,
                    )
                    .with_label("not a declared class"),
                );
                None
            }
            Some(&c) if !self.decls.classes[c.0 as usize].is_server => {
                self.diags.push(
                    Diagnostic::error(
                        "E0300",
                        format!("`{}` is not a server class", class.name),
                        class.span,
                    )
                    .with_label("a plain class")
                    .with_secondary(self.decls.classes[c.0 as usize].name_span, "declared here")
                    .with_help(format!(
                        "declare it `server class {}`, or use `new {}`",
                        class.name, class.name
                    )),
                );
                None
            }
            Some(&c) => Some(c),
        };
        if let Some(n) = count {
            self.expect(n, &Ty::Int, "the number of servers");
            if let Some(v) = const_int(n) {
                if v <= 0 {
                    self.diags.push(
                        Diagnostic::error(
                            "E0310",
                            "the number of servers must be positive",
                            n.span,
                        )
                        .with_label(format!("this is {v}")),
                    );
                }
            }
        }
        let mut seen: [Option<Span>; 7] = [None; 7];
        let mut replicas: Option<(Option<i64>, Span)> = None;
        let mut tolerate: Option<(Option<i64>, Span)> = None;
        let mut durable: Option<Span> = None;
        let mut model = Model::Correct;
        for p in props {
            let slot = match p.kind {
                ServerPropKind::Priority(_) => 0,
                ServerPropKind::Replicas(_) => 1,
                ServerPropKind::Tolerate(_) => 2,
                ServerPropKind::Model(_) => 3,
                ServerPropKind::Hosts(_) => 4,
                ServerPropKind::Disjoint => 5,
                ServerPropKind::Durable(_) => 6,
            };
            if let Some(prev) = seen[slot] {
                self.diags.push(
                    Diagnostic::error("E0312", "server property given twice", p.span)
                        .with_label("second occurrence")
                        .with_secondary(prev, "first given here"),
                );
                continue;
            }
            seen[slot] = Some(p.span);
            match &p.kind {
                ServerPropKind::Priority(x) => self.expect(x, &Ty::Int, "a priority"),
                ServerPropKind::Replicas(x) => {
                    self.expect(x, &Ty::Int, "a replica count");
                    let v = const_int(x);
                    if let Some(v) = v.filter(|v| *v <= 0) {
                        self.diags.push(
                            Diagnostic::error(
                                "E0310",
                                "the replica count must be positive",
                                x.span,
                            )
                            .with_label(format!("this is {v}")),
                        );
                    }
                    replicas = Some((v, p.span));
                }
                ServerPropKind::Tolerate(x) => {
                    self.expect(x, &Ty::Int, "a tolerance");
                    let v = const_int(x);
                    if let Some(v) = v.filter(|v| *v < 0) {
                        self.diags.push(
                            Diagnostic::error("E0309", "the tolerance cannot be negative", x.span)
                                .with_label(format!("this is {v}")),
                        );
                    }
                    tolerate = Some((v, p.span));
                }
                ServerPropKind::Model(m) => model = *m,
                ServerPropKind::Hosts(hosts) => {
                    let mut named: Vec<(&str, Span)> = Vec::new();
                    for h in hosts {
                        let Some(name) = self.host_entry(h) else {
                            continue;
                        };
                        if let Some(&(_, first)) = named.iter().find(|(n, _)| *n == name) {
                            self.diags.push(
                                Diagnostic::warning(
                                    "W0004",
                                    format!("host `{name}` is listed twice"),
                                    h.span,
                                )
                                .with_label("listed again here")
                                .with_secondary(first, "first listed here")
                                .with_note("two replicas of one server never share a host")
                                .with_help("remove the repeated host"),
                            );
                        } else {
                            named.push((name, h.span));
                        }
                    }
                }
                ServerPropKind::Durable(name) => {
                    self.durable_name(name);
                    durable = Some(p.span);
                }
                ServerPropKind::Disjoint => {
                    if count.is_none() {
                        self.diags.push(
                            Diagnostic::warning(
                                "W0003",
                                "`disjoint` on a single server has no effect",
                                p.span,
                            )
                            .with_label("no array of servers here")
                            .with_help(format!(
                                "remove it, or start an array: `server {} [n] …`",
                                class.name
                            )),
                        );
                    }
                }
            }
        }
        if let (Model::Byzantine, Some(span)) = (model, durable) {
            self.diags.push(
                Diagnostic::error(
                    "E0404",
                    "durable byzantine servers are not supported yet",
                    span,
                )
                .with_label("`durable` on a `model byzantine` server")
                .with_note("ftc keeps the state of `model crash` and `model correct` servers on stable storage, not yet that of byzantine ones")
                .with_help("use `model crash` for a durable server, or drop `durable`"),
            );
        }
        let t = match tolerate {
            Some((v, _)) => v,
            None => Some(0),
        };
        if model == Model::Correct {
            if let (Some(t), Some((_, span))) = (t, tolerate) {
                if t > 0 {
                    self.diags.push(
                        Diagnostic::error(
                            "E0311",
                            "`model correct` cannot tolerate failures",
                            span,
                        )
                        .with_label(format!("tolerates {t} failure(s)"))
                        .with_help("use `model crash` or `model byzantine`"),
                    );
                }
            }
        }
        let need = match model {
            Model::Correct => Some(1),
            _ => t,
        }
        .and_then(|t| match model {
            Model::Correct => Some(1),
            Model::Crash => t.checked_add(1),
            Model::Byzantine => t.checked_mul(3).and_then(|x| x.checked_add(1)),
        });
        let used = match (replicas, need) {
            (None, need) => need,
            (Some((Some(r), span)), Some(need)) => {
                if need > r && r > 0 {
                    let rule = match model {
                        Model::Crash => format!("t+1 = {need}"),
                        Model::Byzantine => format!("3t+1 = {need}"),
                        Model::Correct => need.to_string(),
                    };
                    let model_name = match model {
                        Model::Crash => "crash",
                        Model::Byzantine => "byzantine",
                        Model::Correct => "correct",
                    };
                    self.diags.push(
                        Diagnostic::warning(
                            "W0001",
                            format!("replica count raised from {r} to {need}"),
                            span,
                        )
                        .with_label(format!("{need} replicas will be used"))
                        .with_note(format!(
                            "`model {model_name}` with `tolerate ({})` needs {rule} replicas",
                            t.unwrap_or(0)
                        ))
                        .with_help(format!(
                            "write `replicas ({need})`, or leave `replicas` out"
                        )),
                    );
                }
                Some(r.max(need))
            }
            _ => None,
        };
        if let Some(c) = cls {
            self.server_sites.push(ServerSite {
                expr: e.id,
                model,
                span: e.span,
                class: c,
                replicas: used,
            });
            Ty::Class(c)
        } else {
            Ty::Unknown
        }
    }

    /// Checks the name of `durable (name)`: any expression of type `string`.
    pub(super) fn durable_name(&mut self, name: &'a Expr) {
        let got = self.value(name);
        if !self.coerce(&Ty::Str, &got, name.span) {
            self.diags.push(
                Diagnostic::error("E0200", "mismatched types", name.span)
                    .with_label(format!(
                        "a durable server's name must be `string`, found `{}`",
                        self.show(&got)
                    ))
                    .with_help("name the server with a string, such as `durable (\"accounts\")`"),
            );
        }
    }

    /// Checks a `hosts` entry; returns the host's name when it is a constant
    /// (a bare name or `host("name")`).
    pub(super) fn host_entry(&mut self, h: &'a Expr) -> Option<&'a str> {
        if let ExprKind::Name(id) = &h.kind {
            let visible = self.lookup_local(&id.name).is_some()
                || self.ctx.class.is_some_and(|c| {
                    matches!(self.decls.find_member(c, &id.name), Some(Member::State(_)))
                })
                || self.decls.global_by_name.contains_key(id.name.as_str());
            if !visible {
                self.resolutions
                    .insert(h.id, Resolution::HostName(id.name.clone()));
                self.expr_types.insert(h.id, Ty::Host);
                return Some(&id.name);
            }
        }
        let t = self.value(h);
        if !matches!(t, Ty::Host | Ty::Unknown) {
            self.diags.push(
                Diagnostic::error("E0313", "`hosts` entry is not a host", h.span)
                    .with_label(format!("this is `{}`", self.show(&t)))
                    .with_help("write a host name (`h1`) or a host expression (`host(\"h1\")`)"),
            );
        }
        match &h.kind {
            ExprKind::Call { args, .. }
                if self.resolutions.get(&h.id) == Some(&Resolution::Builtin(Builtin::Host)) =>
            {
                match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Str(name)) => Some(name),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}
