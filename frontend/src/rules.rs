//! CMSL's server rules, which follow calls across bodies: no shared state in
//! server classes, by-value server interfaces, nondeterminism in replicated servers.
//!
//! AFTER THIS POINT the program obeys every rule of LANGUAGE.md §3 and §5 that
//! can be checked at compile time.

use crate::check::BodyTables;
use crate::decls::Declarations;
use crate::diagnostic::Diagnostic;
use crate::program::Builtin;
use crate::types::{ClassId, Ty, VarId};
use ftc_grammar::{Span, Visibility};
use std::collections::HashMap;

/// At most this many nondeterminism warnings per `server` expression.
const NONDET_WARNINGS_PER_SITE_MAX: usize = 4;

/// A body reached from a server class's own bodies: `via` is the call in a
/// root body that leads to it (`None` for the roots).
struct Reach {
    body: usize,
    via: Option<Span>,
}

/// Checks the server rules over the declarations and the body tables.
pub(crate) fn check_server_rules(decls: &Declarations<'_>, bodies: &BodyTables) -> Vec<Diagnostic> {
    let mut rules = Rules {
        decls,
        bodies,
        diags: Vec::new(),
    };
    rules.run();
    rules.diags
}

/// The server-rules pass: reads the tables, writes only diagnostics.
struct Rules<'a, 'd> {
    decls: &'d Declarations<'a>,
    bodies: &'d BodyTables,
    diags: Vec<Diagnostic>,
}

impl Rules<'_, '_> {
    /// The bodies that run inside server class `c`'s objects: its (and its
    /// bases') methods and initializers, and everything they call locally.
    fn reachable(&self, c: ClassId, overrides: &[Vec<usize>]) -> Vec<Reach> {
        let mut seen = vec![false; self.bodies.facts.len()];
        let mut out = Vec::new();
        let mut cur = Some(c);
        let mut steps = 0;
        while let Some(k) = cur {
            let info = &self.decls.classes[k.0 as usize];
            for m in &info.methods {
                let b = m.0 as usize;
                if !seen[b] {
                    seen[b] = true;
                    out.push(Reach { body: b, via: None });
                }
            }
            let b = self.decls.class_body(k);
            if !seen[b] {
                seen[b] = true;
                out.push(Reach { body: b, via: None });
            }
            steps += 1;
            if steps > self.decls.classes.len() {
                break;
            }
            cur = info.base;
        }
        let mut i = 0;
        while i < out.len() {
            let (body, via) = (out[i].body, out[i].via);
            for &(callee, span) in &self.bodies.facts[body].calls {
                if callee < seen.len() && !seen[callee] {
                    seen[callee] = true;
                    out.push(Reach {
                        body: callee,
                        via: Some(via.unwrap_or(span)),
                    });
                }
            }
            // A call of a method may run any override of it.
            for &o in overrides.get(body).map_or(&[][..], Vec::as_slice) {
                if !seen[o] {
                    seen[o] = true;
                    out.push(Reach { body: o, via });
                }
            }
            i += 1;
        }
        out
    }

    /// The class whose method or initializers a body is.
    fn body_owner(&self, body: usize) -> Option<ClassId> {
        if body < self.decls.functions.len() {
            self.decls.functions[body].owner
        } else {
            let c = body - self.decls.functions.len();
            (c < self.decls.classes.len()).then_some(ClassId(c as u32))
        }
    }

    /// For each method, the methods that directly override it.
    fn overrides(&self) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); self.decls.functions.len()];
        for (fi, f) in self.decls.functions.iter().enumerate() {
            // Overrides in server classes run in their own servers, whose
            // methods are roots of their own walk.
            let Some(owner) = f
                .owner
                .filter(|c| !self.decls.classes[c.0 as usize].is_server)
            else {
                continue;
            };
            let Some(base) = self.decls.classes[owner.0 as usize].base else {
                continue;
            };
            if let Some(crate::decls::Member::Method(over)) = self.decls.find_member(base, &f.name)
            {
                out[over.0 as usize].push(fi);
            }
        }
        out
    }

    fn run(&mut self) {
        let overrides = self.overrides();
        let server_classes: Vec<ClassId> = (0..self.decls.classes.len())
            .map(|i| ClassId(i as u32))
            .filter(|c| self.decls.classes[c.0 as usize].is_server)
            .collect();
        let mut reach_cache: Vec<Option<Vec<Reach>>> =
            (0..self.decls.classes.len()).map(|_| None).collect();
        for &c in &server_classes {
            let reach = self.reachable(c, &overrides);
            let cname = self.decls.classes[c.0 as usize].name.clone();
            for r in &reach {
                // One error per global per body: the first use, with a count of the others.
                let uses = &self.bodies.facts[r.body].globals;
                let mut counts: HashMap<VarId, usize> = HashMap::new();
                for (v, _) in uses {
                    *counts.entry(*v).or_insert(0) += 1;
                }
                for &(var, span) in uses {
                    // Taking the count out marks the global as reported.
                    let Some(count) = counts.remove(&var) else {
                        continue;
                    };
                    let more = count - 1;
                    let gname = self.decls.vars[var.0 as usize].name.clone();
                    let mut d = Diagnostic::error(
                        "E0302",
                        format!("server class `{cname}` uses global variable `{gname}`"),
                        span,
                    )
                    .with_label("a variable declared outside the server class")
                    .with_secondary(self.decls.vars[var.0 as usize].span, "global declared here")
                    .with_note(
                        "servers share no state: each server and replica has its own memory",
                    );
                    if more > 0 {
                        d = d.with_note(format!(
                            "`{gname}` is used {more} more time{} in the same function",
                            if more == 1 { "" } else { "s" }
                        ));
                    }
                    if let Some(via) = r.via {
                        d = d.with_secondary(
                            via,
                            format!("called from server class `{cname}` here"),
                        );
                    } else if let Some(owner) = self.body_owner(r.body).filter(|o| *o != c) {
                        d = d.with_note(format!(
                            "`{cname}` inherits this code from `{}`",
                            self.decls.classes[owner.0 as usize].name
                        ));
                    }
                    self.diags.push(d.with_help(format!(
                        "make it a state variable of `{cname}` or pass it as an argument"
                    )));
                }
            }
            reach_cache[c.0 as usize] = Some(reach);
            self.check_by_value(c);
        }
        let bodies = self.bodies;
        for site in &bodies.server_sites {
            if site.replicas.is_some_and(|r| r <= 1) {
                continue;
            }
            let Some(reach) = reach_cache[site.class.0 as usize].as_ref() else {
                continue;
            };
            let cname = &self.decls.classes[site.class.0 as usize].name;
            let count = match site.replicas {
                Some(r) => format!("{r} replicas"),
                None => "possibly more than one replica".to_string(),
            };
            let mut emitted = 0;
            let mut new = Vec::new();
            'outer: for r in reach {
                for &(b, span) in &self.bodies.facts[r.body].nondet {
                    if emitted == NONDET_WARNINGS_PER_SITE_MAX {
                        break 'outer;
                    }
                    emitted += 1;
                    new.push(nondet_warning(cname, &count, site.span, b, span, r.via));
                }
            }
            self.diags.extend(new);
        }
    }

    /// E0304: public methods of a server class take and return values that can be copied.
    fn check_by_value(&mut self, c: ClassId) {
        let methods = self.decls.classes[c.0 as usize].methods.clone();
        for m in methods {
            let info = &self.decls.functions[m.0 as usize];
            if info.visibility != Visibility::Public {
                continue;
            }
            let mut bad: Vec<(Span, String)> = Vec::new();
            for p in &info.params {
                let v = &self.decls.vars[p.0 as usize];
                if let Some(why) = self.not_by_value(&v.ty) {
                    bad.push((v.span, format!("parameter `{}` {why}", v.name)));
                }
            }
            if let Some(why) = self.not_by_value(&info.ret) {
                bad.push((info.name_span, format!("the result {why}")));
            }
            let mname = info.name.clone();
            let cname = self.decls.classes[c.0 as usize].name.clone();
            for (span, why) in bad {
                self.diags.push(
                    Diagnostic::error(
                        "E0304",
                        format!("server method `{cname}::{mname}` cannot pass this by value"),
                        span,
                    )
                    .with_label(why)
                    .with_note("arguments and results of server methods are copied between hosts")
                    .with_help("pass the future's result instead"),
                );
            }
        }
    }

    /// Why a value of type `t` cannot be copied to another host, if it cannot.
    fn not_by_value(&self, t: &Ty) -> Option<String> {
        let mut visiting = std::collections::HashSet::new();
        self.not_by_value_in(t, &mut visiting, 0)
    }

    fn not_by_value_in(
        &self,
        t: &Ty,
        visiting: &mut std::collections::HashSet<ClassId>,
        depth: usize,
    ) -> Option<String> {
        if depth > 64 {
            return None;
        }
        match t {
            Ty::Future(_) => Some("is a future".to_string()),
            Ty::List(e) | Ty::Array(e) => self.not_by_value_in(e, visiting, depth + 1),
            Ty::Map(k, v) => self
                .not_by_value_in(k, visiting, depth + 1)
                .or_else(|| self.not_by_value_in(v, visiting, depth + 1)),
            Ty::Class(c) => {
                let info = &self.decls.classes[c.0 as usize];
                if info.is_server || !visiting.insert(*c) {
                    return None; // a server handle is a name; cycles are checked at run time
                }
                let mut cur = Some(*c);
                let mut steps = 0;
                while let Some(k) = cur {
                    for s in &self.decls.classes[k.0 as usize].state {
                        let v = &self.decls.vars[s.0 as usize];
                        if self.not_by_value_in(&v.ty, visiting, depth + 1).is_some() {
                            return Some(format!(
                                "contains a future (state variable `{}::{}`)",
                                self.decls.classes[k.0 as usize].name, v.name
                            ));
                        }
                    }
                    steps += 1;
                    if steps > self.decls.classes.len() {
                        break;
                    }
                    cur = self.decls.classes[k.0 as usize].base;
                }
                None
            }
            _ => None,
        }
    }
}

fn nondet_warning(
    class: &str,
    count: &str,
    site: Span,
    builtin: Builtin,
    call: Span,
    via: Option<Span>,
) -> Diagnostic {
    let name = format!("{}()", builtin.name());
    let mut d = Diagnostic::warning(
        "W0002",
        format!(
            "server class `{class}` is replicated but calls `{name}`, which is nondeterministic"
        ),
        site,
    )
    .with_label(format!("started here with {count}"))
    .with_secondary(call, format!("`{name}` called here"));
    if let Some(via) = via {
        d = d.with_secondary(via, format!("reached from `{class}` through this call"));
    }
    d.with_note("replicas must compute the same results from the same commands")
        .with_help("compute the value in the client and pass it as an argument")
}
