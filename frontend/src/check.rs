//! Body checking: name resolution and typing of every statement and expression.
//!
//! AFTER THIS POINT every expression has a type and every name, call and member
//! a resolution; the facts the server rules need (global uses, calls,
//! nondeterministic built-ins, `server` sites) are recorded per body.

use crate::collect::Member;
use crate::diagnostic::Diagnostic;
use crate::program::{
    Builtin, ClassInfo, ExprMap, FnLoc, FunctionInfo, ListMethod, MapMethod, Resolution,
    ServerSite, VarInfo, VarKind,
};
use crate::types::{ClassId, ExceptionKind, FnId, FutureOf, Ty, VarId};
use ftc_grammar::{
    AssignOp, BinaryOp, Block, ClassDecl, Expr, ExprId, ExprKind, Ident, MemberKind, Model,
    Program, ServerPropKind, Span, Stmt, StmtKind, UnaryOp,
};
use std::collections::HashMap;

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

/// The checker's state: tables being built and diagnostics.
pub(crate) struct Checker<'a> {
    pub ast: &'a Program,
    pub diags: Vec<Diagnostic>,
    pub classes: Vec<ClassInfo>,
    pub class_items: Vec<&'a ClassDecl>,
    pub class_by_name: HashMap<&'a str, ClassId>,
    pub members: HashMap<(ClassId, &'a str), Member>,
    pub functions: Vec<FunctionInfo>,
    pub fn_by_name: HashMap<&'a str, FnId>,
    pub vars: Vec<VarInfo>,
    pub globals: Vec<VarId>,
    pub global_by_name: HashMap<&'a str, VarId>,
    pub main: Option<FnId>,
    pub expr_types: ExprMap<Ty>,
    pub resolutions: ExprMap<Resolution>,
    /// Inferred result type of plain futures, with the span that fixed it.
    pub future_results: HashMap<VarId, (Ty, Span)>,
    /// `->result` reads of plain futures not inferred yet when checked.
    pub pending_results: Vec<(ExprId, VarId, Span)>,
    /// `target` receives plain future `source`, whose result was unknown then.
    pub future_aliases: Vec<(VarId, VarId, Span)>,
    pub facts: Vec<BodyFacts>,
    pub server_sites: Vec<ServerSite>,
    scope: crate::scope::Scopes<'a>,
    ctx: Ctx,
}

/// Index of the body that holds global initializers.
fn globals_body(functions: usize, classes: usize) -> usize {
    functions + classes
}

impl<'a> Checker<'a> {
    pub(crate) fn new(ast: &'a Program) -> Checker<'a> {
        Checker {
            ast,
            diags: Vec::new(),
            classes: Vec::new(),
            class_items: Vec::new(),
            class_by_name: HashMap::new(),
            members: HashMap::new(),
            functions: Vec::new(),
            fn_by_name: HashMap::new(),
            vars: Vec::new(),
            globals: Vec::new(),
            global_by_name: HashMap::new(),
            main: None,
            expr_types: ExprMap::new(),
            resolutions: ExprMap::new(),
            future_results: HashMap::new(),
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
        }
    }

    /// The body index of a class's initializers and invariants.
    pub(crate) fn class_body(&self, c: ClassId) -> usize {
        self.functions.len() + c.0 as usize
    }

    /// A type as the user writes it.
    pub(crate) fn show(&self, t: &Ty) -> String {
        match t {
            Ty::Int => "int".into(),
            Ty::Real => "real".into(),
            Ty::Bool => "boolean".into(),
            Ty::Str => "string".into(),
            Ty::Void => "void".into(),
            Ty::Host => "host".into(),
            Ty::Null => "null".into(),
            Ty::List(e) => format!("list<{}>", self.show(e)),
            Ty::Map(k, v) => format!("map<{}, {}>", self.show(k), self.show(v)),
            Ty::Array(e) => format!("{}[]", self.show(e)),
            Ty::Future(FutureOf::Known(r)) => format!("future<{}>", self.show(r)),
            Ty::Future(FutureOf::Inferred(v)) => match self.future_results.get(v) {
                Some((r, _)) => format!("future<{}>", self.show(r)),
                None => "future".into(),
            },
            Ty::Future(FutureOf::Any) => "future".into(),
            Ty::Class(c) => self.classes[c.0 as usize].name.clone(),
            Ty::Exception(k) => k.name().into(),
            Ty::Unknown => "{unknown}".into(),
        }
    }

    pub(crate) fn is_subclass(&self, sub: ClassId, base: ClassId) -> bool {
        let mut cur = Some(sub);
        let mut steps = 0;
        while let Some(c) = cur {
            if c == base {
                return true;
            }
            steps += 1;
            if steps > self.classes.len() {
                return false;
            }
            cur = self.classes[c.0 as usize].base;
        }
        false
    }

    /// Names of the state variables (or methods) of a class and its bases.
    pub(crate) fn member_names(&self, class: ClassId, methods: bool) -> Vec<&str> {
        let mut out = Vec::new();
        let mut cur = Some(class);
        let mut steps = 0;
        while let Some(c) = cur {
            let info = &self.classes[c.0 as usize];
            if methods {
                out.extend(
                    info.methods
                        .iter()
                        .map(|f| self.functions[f.0 as usize].name.as_str()),
                );
            } else {
                out.extend(
                    info.state
                        .iter()
                        .map(|v| self.vars[v.0 as usize].name.as_str()),
                );
            }
            steps += 1;
            if steps > self.classes.len() {
                break;
            }
            cur = info.base;
        }
        out
    }

    pub(crate) fn find_member(&self, class: ClassId, name: &str) -> Option<Member> {
        let mut cur = Some(class);
        let mut steps = 0;
        while let Some(c) = cur {
            if let Some(m) = self.members.get(&(c, name)) {
                return Some(*m);
            }
            steps += 1;
            if steps > self.classes.len() {
                return None;
            }
            cur = self.classes[c.0 as usize].base;
        }
        None
    }

    // ----- driving -----

    pub(crate) fn check_bodies(&mut self) {
        let ast = self.ast;
        let nbodies = self.functions.len() + self.classes.len() + 1;
        self.facts = (0..nbodies).map(|_| BodyFacts::default()).collect();
        // Global initializers.
        self.ctx = Ctx {
            class: None,
            has_this: false,
            ret: Ty::Void,
            in_ensures: false,
            loop_depth: 0,
            body: globals_body(self.functions.len(), self.classes.len()),
        };
        for item in &ast.items {
            if let ftc_grammar::Item::Global(g) = item {
                for (decl, init) in &g.vars {
                    if let Some(len) = decl.array.as_ref().and_then(|a| a.as_ref()) {
                        self.expect(len, &Ty::Int, "an array length");
                    }
                    if let (Some(init), Some(&var)) =
                        (init, self.global_by_name.get(decl.name.name.as_str()))
                    {
                        if self.vars[var.0 as usize].span == decl.name.span {
                            let ty = self.vars[var.0 as usize].ty.clone();
                            self.expect_assign(init, &ty, "the variable's type");
                        }
                    }
                }
            }
        }
        // Class initializers and invariants.
        for ci in 0..self.classes.len() {
            let class = ClassId(ci as u32);
            self.ctx = Ctx {
                class: Some(class),
                has_this: true,
                ret: Ty::Void,
                in_ensures: false,
                loop_depth: 0,
                body: self.class_body(class),
            };
            let decl = self.class_items[ci];
            for m in &decl.members {
                match &m.kind {
                    MemberKind::State(s) => {
                        if let Some(len) = s.declarator.array.as_ref().and_then(|a| a.as_ref()) {
                            self.expect(len, &Ty::Int, "an array length");
                        }
                        if let Some(init) = &s.init {
                            let var =
                                match self.members.get(&(class, s.declarator.name.name.as_str())) {
                                    Some(Member::State(v))
                                        if self.vars[v.0 as usize].span
                                            == s.declarator.name.span =>
                                    {
                                        Some(*v)
                                    }
                                    _ => None,
                                };
                            let ty =
                                var.map_or(Ty::Unknown, |v| self.vars[v.0 as usize].ty.clone());
                            self.expect_assign(init, &ty, "the state variable's type");
                        }
                    }
                    MemberKind::Invariant(e) => self.condition(e, "an invariant"),
                    _ => {}
                }
            }
        }
        // Functions and methods.
        for fi in 0..self.functions.len() {
            let Some(loc) = self.functions[fi].def else {
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
        let info = &self.functions[id.0 as usize];
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
        let decl_loc = self.functions[id.0 as usize].decl;
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
                    let name = self.vars[var.0 as usize].name.clone();
                    let decl = self.vars[var.0 as usize].span;
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
            let prev_span = self.vars[prev.0 as usize].span;
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
        let id = self.new_var(name, ty, kind);
        self.scope.bind(&name.name, id);
        id
    }

    // ----- statements -----

    fn block(&mut self, b: &'a Block) {
        self.push_scope();
        self.statements(b);
        self.pop_scope();
    }

    /// The statements of a block, in the current scope.
    fn statements(&mut self, b: &'a Block) {
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
    fn scoped_stmt(&mut self, s: &'a Stmt) {
        self.push_scope();
        self.stmt(s);
        self.pop_scope();
    }

    fn stmt(&mut self, s: &'a Stmt) {
        match &s.kind {
            StmtKind::VarDecl(d) => {
                for (decl, init) in &d.vars {
                    if let Some(len) = decl.array.as_ref().and_then(|a| a.as_ref()) {
                        self.expect(len, &Ty::Int, "an array length");
                    }
                    let var = self.new_var(&decl.name, Ty::Unknown, VarKind::Local);
                    let base = self.resolve_value_type(&d.ty, Some(var));
                    let ty = if decl.array.is_some() {
                        Ty::Array(Box::new(base))
                    } else {
                        base
                    };
                    self.vars[var.0 as usize].ty = ty.clone();
                    if let Some(init) = init {
                        self.expect_assign(init, &ty, "the variable's type");
                    }
                    // Declare after the initializer: `int x = x;` uses an outer `x`.
                    if let Some(prev) = self.scope.in_current(&decl.name.name) {
                        let prev_span = self.vars[prev.0 as usize].span;
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

    fn loop_body(&mut self, body: &'a Stmt) {
        self.ctx.loop_depth += 1;
        self.scoped_stmt(body);
        self.ctx.loop_depth -= 1;
    }

    fn ret(&mut self, value: Option<&'a Expr>, span: Span) {
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

    fn assign(&mut self, target: &'a Expr, op: AssignOp, value: &'a Expr) {
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

    // ----- type relations -----

    /// Can a `value` be stored where `target` is expected? Infers plain future results.
    pub(crate) fn coerce(&mut self, target: &Ty, value: &Ty, span: Span) -> bool {
        if value.is_unknown() {
            self.poison_futures(target);
            return true;
        }
        match (target, value) {
            (Ty::Unknown, _) | (_, Ty::Unknown) => true,
            (Ty::Real, Ty::Int) => true,
            (Ty::Class(_) | Ty::Future(_), Ty::Null) => true,
            (Ty::Class(t), Ty::Class(v)) => self.is_subclass(*v, *t),
            // `S arr[n] = server S [n]`.
            (Ty::Array(e), Ty::Class(v)) if matches!(**e, Ty::Class(t) if t == *v) => {
                self.classes[v.0 as usize].is_server
            }
            (Ty::Future(t), Ty::Future(v)) => self.coerce_future(t, v, span),
            (Ty::List(t), Ty::List(v)) | (Ty::Array(t), Ty::Array(v)) => self.same(t, v, span),
            (Ty::Map(tk, tv), Ty::Map(vk, vv)) => {
                self.same(tk, vk, span) && self.same(tv, vv, span)
            }
            (Ty::Exception(t), Ty::Exception(v)) => t == v || *t == ExceptionKind::Failure,
            (t, v) => t == v,
        }
    }

    /// A plain future that receives a value whose type is unknown (an error
    /// was reported) is not reported again as impossible to infer.
    fn poison_futures(&mut self, target: &Ty) {
        match target {
            Ty::Future(FutureOf::Inferred(v)) => {
                self.future_results
                    .entry(*v)
                    .or_insert((Ty::Unknown, Span::default()));
            }
            Ty::Array(e) | Ty::List(e) => self.poison_futures(e),
            _ => {}
        }
    }

    /// Type equality inside containers (no widening), with future inference.
    fn same(&mut self, t: &Ty, v: &Ty, span: Span) -> bool {
        match (t, v) {
            (Ty::Unknown, _) | (_, Ty::Unknown) => true,
            (Ty::Future(a), Ty::Future(b)) => self.coerce_future(a, b, span),
            (Ty::List(a), Ty::List(b)) | (Ty::Array(a), Ty::Array(b)) => self.same(a, b, span),
            (Ty::Map(a, b), Ty::Map(c, d)) => self.same(a, c, span) && self.same(b, d, span),
            _ => t == v,
        }
    }

    fn future_of(&self, f: &FutureOf) -> Option<Ty> {
        match f {
            FutureOf::Known(t) => Some((**t).clone()),
            FutureOf::Inferred(v) => self.future_results.get(v).map(|(t, _)| t.clone()),
            FutureOf::Any => None,
        }
    }

    fn coerce_future(&mut self, target: &FutureOf, value: &FutureOf, span: Span) -> bool {
        let vt = self.future_of(value);
        match target {
            FutureOf::Known(t) => match vt {
                Some(v) => self.same(t, &v, span),
                None => true,
            },
            FutureOf::Inferred(var) => {
                match (vt, value) {
                    (Some(v), _) => self.infer_future(*var, v, span),
                    // Not known yet (checked later): settled at the end.
                    (None, FutureOf::Inferred(source)) if source != var => {
                        self.future_aliases.push((*var, *source, span));
                    }
                    _ => {}
                }
                true
            }
            FutureOf::Any => true,
        }
    }

    /// Propagates result types along `future a = b` assignments whose source
    /// was not inferred yet when they were checked.
    fn settle_future_aliases(&mut self) {
        let aliases = std::mem::take(&mut self.future_aliases);
        // Each round settles at least one alias or stops; chains are short.
        for _ in 0..aliases.len().min(64) {
            let mut changed = false;
            for &(target, source, span) in &aliases {
                let known = self
                    .future_results
                    .get(&source)
                    .filter(|(t, _)| !t.is_unknown())
                    .map(|(t, _)| t.clone());
                let open = self
                    .future_results
                    .get(&target)
                    .is_none_or(|(t, _)| t.is_unknown());
                if let (Some(t), true) = (known, open) {
                    self.infer_future(target, t, span);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Records that plain future `var` receives a `t` at `span`.
    fn infer_future(&mut self, var: VarId, t: Ty, span: Span) {
        if t.is_unknown() {
            self.future_results
                .entry(var)
                .or_insert((Ty::Unknown, Span::default()));
            return;
        }
        match self.future_results.get(&var) {
            None | Some((Ty::Unknown, _)) => {
                self.future_results.insert(var, (t, span));
            }
            Some((prev, prev_span)) => {
                let (prev, prev_span) = (prev.clone(), *prev_span);
                if !self.same(&prev, &t, span) {
                    let name = self.vars[var.0 as usize].name.clone();
                    self.diags.push(
                        Diagnostic::error(
                            "E0306",
                            format!("future `{name}` receives results of different types"),
                            span,
                        )
                        .with_label(format!("this gives `{}`", self.show(&t)))
                        .with_secondary(prev_span, format!("this gives `{}`", self.show(&prev)))
                        .with_help("use a separate future for each result type"),
                    );
                }
            }
        }
    }

    /// Checks `e` against `want`, with a mismatch error naming `what`.
    fn expect_assign(&mut self, e: &'a Expr, want: &Ty, what: &str) {
        let got = self.value(e);
        if !self.coerce(want, &got, e.span) {
            self.diags.push(
                Diagnostic::error("E0200", "mismatched types", e.span)
                    .with_label(format!(
                        "expected `{}`, found `{}`",
                        self.show(want),
                        self.show(&got)
                    ))
                    .with_note(format!("the value must have {what}")),
            );
        }
    }

    /// Checks `e` against `want` (for positions like counts and indices).
    fn expect(&mut self, e: &'a Expr, want: &Ty, what: &str) {
        let got = self.value(e);
        if !self.coerce(want, &got, e.span) {
            self.diags.push(
                Diagnostic::error("E0200", "mismatched types", e.span).with_label(format!(
                    "{what} must be `{}`, found `{}`",
                    self.show(want),
                    self.show(&got)
                )),
            );
        }
    }

    fn condition(&mut self, e: &'a Expr, what: &str) {
        let got = self.value(e);
        if !matches!(got, Ty::Bool | Ty::Unknown) {
            self.diags.push(
                Diagnostic::error("E0203", format!("{what} must be a `boolean`"), e.span)
                    .with_label(format!("this is `{}`", self.show(&got)))
                    .with_help("compare explicitly, e.g. `x != 0`"),
            );
        }
    }

    // ----- expressions -----

    /// Types an expression used as a value: `void` is an error.
    pub(crate) fn expr(&mut self, e: &'a Expr) -> Ty {
        let t = self.expr_inner(e);
        self.expr_types.insert(e.id, t.clone());
        t
    }

    fn value(&mut self, e: &'a Expr) -> Ty {
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

    fn record_global_use(&mut self, var: VarId, span: Span) {
        if self.vars[var.0 as usize].kind == VarKind::Global {
            self.facts[self.ctx.body].globals.push((var, span));
        }
    }

    fn expr_inner(&mut self, e: &'a Expr) -> Ty {
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
                    Ty::Class(c) if self.classes[c.0 as usize].is_server => Ty::Class(c),
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
                    Ty::Class(c) if self.classes[c.0 as usize].is_server => {
                        let name = self.classes[c.0 as usize].name.clone();
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
                        let body = self.class_body(c);
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

    fn name(&mut self, e: &'a Expr, id: &'a Ident) -> Ty {
        if let Some(v) = self.lookup_local(&id.name) {
            self.resolutions.insert(e.id, Resolution::Var(v));
            return self.vars[v.0 as usize].ty.clone();
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
            if let Some(Member::State(v)) = self.find_member(c, &id.name) {
                self.resolutions.insert(e.id, Resolution::Var(v));
                return self.vars[v.0 as usize].ty.clone();
            }
        }
        if let Some(&v) = self.global_by_name.get(id.name.as_str()) {
            self.resolutions.insert(e.id, Resolution::Var(v));
            self.record_global_use(v, e.span);
            return self.vars[v.0 as usize].ty.clone();
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
        if self.fn_by_name.contains_key(id.name.as_str()) || Builtin::from_name(&id.name).is_some()
        {
            d = d.with_help(format!("`{}` is a function: call it with `(…)`", id.name));
        } else {
            let members = self
                .ctx
                .class
                .map_or_else(Vec::new, |c| self.member_names(c, false));
            let candidates = self
                .scope
                .names()
                .chain(members)
                .chain(self.global_by_name.keys().copied());
            if let Some(s) = crate::suggest::similar(&id.name, candidates) {
                d = d.with_help(format!("a variable with a similar name exists: `{s}`"));
            }
        }
        self.diags.push(d);
        Ty::Unknown
    }

    fn binary(&mut self, e: &'a Expr, op: BinaryOp, lhs: &'a Expr, rhs: &'a Expr) -> Ty {
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

    fn comparable(&self, l: &Ty, r: &Ty) -> bool {
        match (l, r) {
            (a, b) if a.is_numeric() && b.is_numeric() => true,
            (Ty::Null, Ty::Class(_) | Ty::Future(_) | Ty::Null)
            | (Ty::Class(_) | Ty::Future(_), Ty::Null) => true,
            (Ty::Class(a), Ty::Class(b)) => self.is_subclass(*a, *b) || self.is_subclass(*b, *a),
            (Ty::Future(_), Ty::Future(_)) => true,
            (Ty::Bool, Ty::Bool) | (Ty::Str, Ty::Str) | (Ty::Host, Ty::Host) => true,
            _ => false,
        }
    }

    fn member(&mut self, e: &'a Expr, base: &'a Expr, name: &'a Ident) -> Ty {
        let bt = self.value(base);
        match &bt {
            Ty::Class(c) => {
                let c = *c;
                match self.find_member(c, &name.name) {
                    Some(Member::State(v)) => {
                        self.resolutions.insert(e.id, Resolution::Var(v));
                        self.check_state_access(v, base, name);
                        self.vars[v.0 as usize].ty.clone()
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
                        let cname = self.classes[c.0 as usize].name.clone();
                        let cspan = self.classes[c.0 as usize].name_span;
                        let mut d = Diagnostic::error(
                            "E0104",
                            format!("class `{cname}` has no state variable `{}`", name.name),
                            name.span,
                        )
                        .with_label("unknown field")
                        .with_secondary(cspan, "class declared here");
                        let states = self.member_names(c, false);
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
    fn check_state_access(&mut self, v: VarId, base: &'a Expr, name: &'a Ident) {
        let VarKind::State { class, visibility } = self.vars[v.0 as usize].kind else {
            return;
        };
        let inside = self.ctx.class == Some(class);
        if visibility == ftc_grammar::Visibility::Private && !inside {
            let decl = self.vars[v.0 as usize].span;
            self.diags.push(
                Diagnostic::error(
                    "E0118",
                    format!(
                        "state variable `{}` of class `{}` is private",
                        name.name, self.classes[class.0 as usize].name
                    ),
                    name.span,
                )
                .with_label("private member")
                .with_secondary(decl, "declared private here"),
            );
            return;
        }
        let is_server = self.classes[class.0 as usize].is_server;
        let within = matches!(base.kind, ExprKind::This)
            || self.ctx.class.is_some_and(|c| self.is_subclass(c, class));
        if is_server && !within {
            let cname = self.classes[class.0 as usize].name.clone();
            self.diags.push(
                Diagnostic::error(
                    "E0303",
                    format!("state variable `{}` of server class `{cname}` is not accessible from a client", name.name),
                    name.span,
                )
                .with_label("server state")
                .with_secondary(self.vars[v.0 as usize].span, "declared here")
                .with_help(format!("add a method to `{cname}` that reads or writes it")),
            );
        }
    }

    fn check_args(&mut self, params: &[Ty], args: &'a [Expr], call_span: Span, what: &str) {
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

    fn param_types(&self, f: FnId) -> Vec<Ty> {
        self.functions[f.0 as usize]
            .params
            .iter()
            .map(|v| self.vars[v.0 as usize].ty.clone())
            .collect()
    }

    fn call(&mut self, e: &'a Expr, callee: &'a Ident, args: &'a [Expr]) -> Ty {
        // A method of `this`, then a free function, then a built-in.
        if let (Some(c), true) = (self.ctx.class, self.ctx.has_this) {
            if let Some(Member::Method(m)) = self.find_member(c, &callee.name) {
                self.resolutions.insert(e.id, Resolution::Method(m));
                self.check_method_privacy(m, callee);
                self.facts[self.ctx.body].calls.push((m.0 as usize, e.span));
                let params = self.param_types(m);
                self.check_args(&params, args, e.span, &format!("method `{}`", callee.name));
                return self.functions[m.0 as usize].ret.clone();
            }
        }
        if let Some(&f) = self.fn_by_name.get(callee.name.as_str()) {
            self.resolutions.insert(e.id, Resolution::Function(f));
            self.facts[self.ctx.body].calls.push((f.0 as usize, e.span));
            let params = self.param_types(f);
            self.check_args(
                &params,
                args,
                e.span,
                &format!("function `{}`", callee.name),
            );
            return self.functions[f.0 as usize].ret.clone();
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
            (Some(c), true) => self.member_names(c, true),
            _ => Vec::new(),
        };
        let candidates = methods
            .into_iter()
            .chain(self.fn_by_name.keys().copied())
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

    fn builtin(&mut self, e: &'a Expr, b: Builtin, args: &'a [Expr]) -> Ty {
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

    fn check_method_privacy(&mut self, m: FnId, name: &'a Ident) {
        let info = &self.functions[m.0 as usize];
        if info.visibility == ftc_grammar::Visibility::Private && self.ctx.class != info.owner {
            let owner = info
                .owner
                .map_or(String::new(), |c| self.classes[c.0 as usize].name.clone());
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
    fn method_call(
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
                match self.find_member(c, &method.name) {
                    Some(Member::Method(m)) => {
                        self.resolutions.insert(e.id, Resolution::Method(m));
                        self.check_method_privacy(m, method);
                        let is_server = self.classes[c.0 as usize].is_server;
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
                        self.functions[m.0 as usize].ret.clone()
                    }
                    other => {
                        let cname = self.classes[c.0 as usize].name.clone();
                        let mut d = Diagnostic::error(
                            "E0103",
                            format!("class `{cname}` has no method `{}`", method.name),
                            method.span,
                        )
                        .with_label("unknown method");
                        if matches!(other, Some(Member::State(_))) {
                            d = d.with_note(format!("`{}` is a state variable", method.name));
                        } else {
                            let methods = self.member_names(c, true);
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

    fn unknown_builtin_method(&mut self, t: &Ty, method: &'a Ident, args: &'a [Expr], list: &str) {
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

    fn server(
        &mut self,
        e: &'a Expr,
        class: &'a Ident,
        count: Option<&'a Expr>,
        props: &'a [ftc_grammar::ServerProp],
    ) -> Ty {
        let cls = match self.class_by_name.get(class.name.as_str()) {
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
            Some(&c) if !self.classes[c.0 as usize].is_server => {
                self.diags.push(
                    Diagnostic::error(
                        "E0300",
                        format!("`{}` is not a server class", class.name),
                        class.span,
                    )
                    .with_label("a plain class")
                    .with_secondary(self.classes[c.0 as usize].name_span, "declared here")
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
    fn durable_name(&mut self, name: &'a Expr) {
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
    fn host_entry(&mut self, h: &'a Expr) -> Option<&'a str> {
        if let ExprKind::Name(id) = &h.kind {
            let visible = self.lookup_local(&id.name).is_some()
                || self.ctx.class.is_some_and(|c| {
                    matches!(self.find_member(c, &id.name), Some(Member::State(_)))
                })
                || self.global_by_name.contains_key(id.name.as_str());
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

/// Does this list of statements always end by `return` or `raise`?
fn block_exits(stmts: &[Stmt]) -> bool {
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

/// The tables a finished checker hands to [`crate::CheckedProgram`].
pub(crate) struct Parts {
    pub classes: Vec<ClassInfo>,
    pub functions: Vec<FunctionInfo>,
    pub vars: Vec<VarInfo>,
    pub globals: Vec<VarId>,
    pub main: Option<FnId>,
    pub expr_types: ExprMap<Ty>,
    pub resolutions: ExprMap<Resolution>,
    pub future_results: HashMap<VarId, Ty>,
    pub class_by_name: HashMap<String, ClassId>,
    pub server_sites: Vec<ServerSite>,
}

impl Checker<'_> {
    pub(crate) fn into_parts(self) -> Parts {
        Parts {
            class_by_name: self
                .class_by_name
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            classes: self.classes,
            server_sites: self.server_sites,
            functions: self.functions,
            vars: self.vars,
            globals: self.globals,
            main: self.main,
            expr_types: self.expr_types,
            resolutions: self.resolutions,
            future_results: self
                .future_results
                .into_iter()
                .map(|(k, (t, _))| (k, t))
                .collect(),
        }
    }
}
