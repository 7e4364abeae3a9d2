//! Body checking: name resolution and typing of every statement and expression.
//!
//! AFTER THIS POINT every expression has a type and every name, call and member
//! a resolution; the facts the server rules need (global uses, calls,
//! nondeterministic built-ins, `server` sites) are recorded per body.

use crate::decls::{Declarations, FutureResults, Member};
use crate::diagnostic::Diagnostic;
use crate::program::{Builtin, ExprMap, FnLoc, Resolution, ServerSite, VarKind};
use crate::types::{ClassId, FnId, Ty, VarId};
use ftc_grammar::{ExprId, Ident, MemberKind, Program, Span, TypeExpr};
use std::collections::HashMap;

mod call;
mod expr;
mod relate;
mod server;
mod stmt;

use stmt::block_exits;

pub use expr::const_int;

/// Facts about one body (a function, or a class's initializers and invariants)
/// that the server rules follow transitively.
#[derive(Default, Debug)]
pub(crate) struct BodyFacts {
    /// Uses of global variables.
    pub globals: Vec<(VarId, Span)>,
    /// Calls of nondeterministic built-ins.
    pub nondet: Vec<(Builtin, Span)>,
    /// Local calls: other bodies run by this one (not remote server calls).
    pub calls: Vec<(usize, Span)>,
}

/// The per-body context.
#[derive(Clone)]
struct Ctx {
    class: Option<ClassId>,
    has_this: bool,
    ret: Ty,
    in_ensures: bool,
    loop_depth: u32,
    body: usize,
}

/// What body checking finds: every expression's type and resolution, the
/// inferred results of plain futures, and the facts the server rules follow.
pub(crate) struct BodyTables {
    pub expr_types: ExprMap<Ty>,
    pub resolutions: ExprMap<Resolution>,
    pub future_results: HashMap<VarId, Ty>,
    pub facts: Vec<BodyFacts>,
    pub server_sites: Vec<ServerSite>,
}

/// Checks every body of `ast` against its declarations, adding each local
/// variable to them.
pub(crate) fn check_bodies<'a>(
    ast: &'a Program,
    decls: &mut Declarations<'a>,
) -> (BodyTables, Vec<Diagnostic>) {
    let mut checker = BodyChecker {
        ast,
        decls,
        diags: Vec::new(),
        expr_types: ExprMap::new(),
        resolutions: ExprMap::new(),
        future_results: FutureResults::new(),
        pending_results: Vec::new(),
        future_aliases: Vec::new(),
        facts: Vec::new(),
        server_sites: Vec::new(),
        scope: crate::scope::Scopes::default(),
        ctx: Ctx {
            class: None,
            has_this: false,
            ret: Ty::Void,
            in_ensures: false,
            loop_depth: 0,
            body: 0,
        },
    };
    checker.run();
    let tables = BodyTables {
        expr_types: checker.expr_types,
        resolutions: checker.resolutions,
        future_results: checker
            .future_results
            .into_iter()
            .map(|(k, (t, _))| (k, t))
            .collect(),
        facts: checker.facts,
        server_sites: checker.server_sites,
    };
    (tables, checker.diags)
}

/// The body-checking pass.
struct BodyChecker<'a, 'd> {
    ast: &'a Program,
    decls: &'d mut Declarations<'a>,
    diags: Vec<Diagnostic>,
    expr_types: ExprMap<Ty>,
    resolutions: ExprMap<Resolution>,
    /// Inferred result type of plain futures, with the span that fixed it.
    future_results: FutureResults,
    /// `->result` reads of plain futures not inferred yet when checked.
    pending_results: Vec<(ExprId, VarId, Span)>,
    /// `target` receives plain future `source`, whose result was unknown then.
    future_aliases: Vec<(VarId, VarId, Span)>,
    facts: Vec<BodyFacts>,
    server_sites: Vec<ServerSite>,
    scope: crate::scope::Scopes<'a>,
    ctx: Ctx,
}

/// Index of the body that holds global initializers.
fn globals_body(functions: usize, classes: usize) -> usize {
    functions + classes
}

impl<'a> BodyChecker<'a, '_> {
    fn show(&self, t: &Ty) -> String {
        self.decls.show(t, &self.future_results)
    }

    fn resolve_type(&mut self, t: &TypeExpr, owner: Option<VarId>) -> Ty {
        self.decls.resolve_type(t, owner, &mut self.diags)
    }

    fn resolve_value_type(&mut self, t: &TypeExpr, owner: Option<VarId>) -> Ty {
        self.decls.resolve_value_type(t, owner, &mut self.diags)
    }

    // ----- driving -----

    fn run(&mut self) {
        let ast = self.ast;
        let nbodies = self.decls.functions.len() + self.decls.classes.len() + 1;
        self.facts = (0..nbodies).map(|_| BodyFacts::default()).collect();
        // Global initializers.
        self.ctx = Ctx {
            class: None,
            has_this: false,
            ret: Ty::Void,
            in_ensures: false,
            loop_depth: 0,
            body: globals_body(self.decls.functions.len(), self.decls.classes.len()),
        };
        for item in &ast.items {
            if let ftc_grammar::Item::Global(g) = item {
                for (decl, init) in &g.vars {
                    if let Some(len) = decl.array.as_ref().and_then(|a| a.as_ref()) {
                        self.expect(len, &Ty::Int, "an array length");
                    }
                    if let (Some(init), Some(&var)) =
                        (init, self.decls.global_by_name.get(decl.name.name.as_str()))
                    {
                        if self.decls.vars[var.0 as usize].span == decl.name.span {
                            let ty = self.decls.vars[var.0 as usize].ty.clone();
                            self.expect_assign(init, &ty, "the variable's type");
                        }
                    }
                }
            }
        }
        // Class initializers and invariants.
        for ci in 0..self.decls.classes.len() {
            let class = ClassId(ci as u32);
            self.ctx = Ctx {
                class: Some(class),
                has_this: true,
                ret: Ty::Void,
                in_ensures: false,
                loop_depth: 0,
                body: self.decls.class_body(class),
            };
            let decl = self.decls.class_items[ci];
            for m in &decl.members {
                match &m.kind {
                    MemberKind::State(s) => {
                        if let Some(len) = s.declarator.array.as_ref().and_then(|a| a.as_ref()) {
                            self.expect(len, &Ty::Int, "an array length");
                        }
                        if let Some(init) = &s.init {
                            let var = match self
                                .decls
                                .members
                                .get(&(class, s.declarator.name.name.as_str()))
                            {
                                Some(Member::State(v))
                                    if self.decls.vars[v.0 as usize].span
                                        == s.declarator.name.span =>
                                {
                                    Some(*v)
                                }
                                _ => None,
                            };
                            let ty = var
                                .map_or(Ty::Unknown, |v| self.decls.vars[v.0 as usize].ty.clone());
                            self.expect_assign(init, &ty, "the state variable's type");
                        }
                    }
                    MemberKind::Invariant(e) => self.condition(e, "an invariant"),
                    _ => {}
                }
            }
        }
        // Functions and methods.
        for fi in 0..self.decls.functions.len() {
            let Some(loc) = self.decls.functions[fi].def else {
                continue;
            };
            self.check_function(FnId(fi as u32), loc);
        }
        self.finish_pending_results();
    }

    fn check_function(&mut self, id: FnId, loc: FnLoc) {
        let Some(f) = crate::program::function_at(self.ast, loc) else {
            return;
        };
        let info = &self.decls.functions[id.0 as usize];
        let class = info.owner;
        self.ctx = Ctx {
            class,
            has_this: class.is_some(),
            ret: info.ret.clone(),
            in_ensures: false,
            loop_depth: 0,
            body: id.0 as usize,
        };
        let params = info.params.clone();
        self.scope.clear();
        self.push_scope();
        for (p, ast_param) in params.iter().zip(&f.params) {
            if let Some(len) = ast_param.declarator.array.as_ref().and_then(|a| a.as_ref()) {
                self.expect(len, &Ty::Int, "an array length");
            }
            self.scope.bind(&ast_param.declarator.name.name, *p);
        }
        for r in &f.requires {
            self.condition(r, "a precondition");
        }
        if let Some(body) = &f.body {
            // The body shares the parameters' scope: a local may not redeclare a parameter.
            let params_len = self.scope.len();
            self.statements(body);
            self.scope.truncate(params_len);
            let ret = self.ctx.ret.clone();
            if !matches!(ret, Ty::Void | Ty::Unknown) && !block_exits(&body.stmts) {
                let end = Span::new(
                    (body.span.end as usize).saturating_sub(1),
                    body.span.end as usize,
                );
                self.diags.push(
                    Diagnostic::error(
                        "E0205",
                        format!(
                            "`{}` can reach its end without returning a value",
                            f.name.name
                        ),
                        f.name.span,
                    )
                    .with_label(format!("declared to return `{}`", self.show(&ret)))
                    .with_secondary(end, "the end is reachable here")
                    .with_help("return a value (or `raise`) on every path"),
                );
            }
        }
        self.ctx.in_ensures = true;
        for e in &f.ensures {
            self.condition(e, "a postcondition");
        }
        self.ctx.in_ensures = false;
        self.pop_scope();
        // Contracts written on a separate declaration apply too, with the
        // declaration's parameter names bound to the same parameters.
        let decl_loc = self.decls.functions[id.0 as usize].decl;
        if decl_loc != loc {
            if let Some(d) = crate::program::function_at(self.ast, decl_loc) {
                self.push_scope();
                for (p, ast_param) in params.iter().zip(&d.params) {
                    if let Some(len) = ast_param.declarator.array.as_ref().and_then(|a| a.as_ref())
                    {
                        self.expect(len, &Ty::Int, "an array length");
                    }
                    self.scope.bind(&ast_param.declarator.name.name, *p);
                }
                for r in &d.requires {
                    self.condition(r, "a precondition");
                }
                self.ctx.in_ensures = true;
                for e in &d.ensures {
                    self.condition(e, "a postcondition");
                }
                self.ctx.in_ensures = false;
                self.pop_scope();
            }
        }
    }

    fn finish_pending_results(&mut self) {
        self.settle_future_aliases();
        let pending = std::mem::take(&mut self.pending_results);
        for (expr, var, span) in pending {
            match self.future_results.get(&var) {
                Some((t, _)) => {
                    self.expr_types.insert(expr, t.clone());
                }
                None => {
                    let name = self.decls.vars[var.0 as usize].name.clone();
                    let decl = self.decls.vars[var.0 as usize].span;
                    self.diags.push(
                        Diagnostic::error(
                            "E0212",
                            format!("cannot infer the result type of future `{name}`"),
                            span,
                        )
                        .with_label("result read here")
                        .with_secondary(decl, "no invocation is ever assigned to this future")
                        .with_help(format!("assign `{name} = invoke …` or declare `future<T>`")),
                    );
                }
            }
        }
    }

    // ----- scopes -----

    fn push_scope(&mut self) {
        self.scope.push();
    }

    fn pop_scope(&mut self) {
        self.scope.pop();
    }

    fn lookup_local(&self, name: &str) -> Option<VarId> {
        self.scope.lookup(name)
    }

    fn declare_local(&mut self, name: &'a Ident, ty: Ty, kind: VarKind) -> VarId {
        if let Some(prev) = self.scope.in_current(&name.name) {
            let prev_span = self.decls.vars[prev.0 as usize].span;
            self.diags.push(
                Diagnostic::error(
                    "E0109",
                    format!("`{}` is declared twice in this block", name.name),
                    name.span,
                )
                .with_label("second declaration")
                .with_secondary(prev_span, "first declared here"),
            );
        }
        let id = self.decls.new_var(name, ty, kind);
        self.scope.bind(&name.name, id);
        id
    }
}
