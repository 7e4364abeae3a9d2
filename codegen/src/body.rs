//! Statements and expressions of function and method bodies to Rust.
//!
//! Every CMSL expression becomes a Rust expression of its value type (owned:
//! references are cloned handles). Fallible operations end in `.at(SRC, line)?`,
//! or `attempt!('try_N, …)` inside a `try` block. Object fields are read with
//! `Obj::read`, so no borrow outlives the read.

use crate::source::Source;
use ftc_frontend::program::{Builtin, ListMethod, MapMethod, Resolution, VarKind};
use ftc_frontend::types::{ClassId, ExceptionKind, FnId, FutureOf, Ty, VarId};
use ftc_frontend::CheckedProgram;
use ftc_grammar::{
    AcceptTimeout, AssignOp, BinaryOp, Block, BoundOp, Expr, ExprKind, Stmt, StmtKind, TypeExpr,
    TypeKind, UnaryOp,
};
use ftc_transforms::{Operand, ProgramIr};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

/// What `this` is in the body being generated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum This {
    /// A free function or `main`.
    None,
    /// A method of a server class: `&mut self`.
    Server,
    /// A method of a plain class: `this: &Obj<C>`.
    Plain,
}

struct Loop {
    /// The loop's label: `break` leaves it.
    label: String,
    /// Where `continue` goes: `continue 'l` or `break 'c` (the body block).
    cont: TokenStream,
}

/// The generator of one body.
pub(crate) struct Body<'a> {
    pub program: &'a CheckedProgram,
    pub ir: &'a ProgramIr,
    pub source: &'a Source<'a>,
    pub this: This,
    /// The result type of the function (`Ty::Void` for void, `Int` for main).
    pub ret: Ty,
    /// `void main`: `return;` is `return Ok(0)`.
    pub void_main: bool,
    /// `ensures` clauses checked before each return.
    pub ensures: Vec<&'a Expr>,
    loops: Vec<Loop>,
    tries: Vec<String>,
    counter: usize,
}

pub(crate) fn ident(name: &str) -> Ident {
    format_ident!("{}", name)
}

impl<'a> Body<'a> {
    pub fn new(
        program: &'a CheckedProgram,
        ir: &'a ProgramIr,
        source: &'a Source<'a>,
        this: This,
    ) -> Self {
        Body {
            program,
            ir,
            source,
            this,
            ret: Ty::Void,
            void_main: false,
            ensures: Vec::new(),
            loops: Vec::new(),
            tries: Vec::new(),
            counter: 0,
        }
    }

    pub fn line(&self, span: ftc_grammar::Span) -> u32 {
        self.source.line(span.start) as u32
    }

    pub fn marker(&self, span: ftc_grammar::Span) -> TokenStream {
        let n = Literal::usize_unsuffixed(self.line(span) as usize);
        quote!(cmsl_line!(#n);)
    }

    fn text(&self, span: ftc_grammar::Span) -> String {
        self.source.slice(span).to_string()
    }

    /// A fallible operation: its value, or the failure propagated.
    fn q(&self, e: TokenStream, span: ftc_grammar::Span) -> TokenStream {
        let line = Literal::u32_unsuffixed(self.line(span));
        match self.tries.last() {
            Some(label) => {
                let l = syn_lifetime(label);
                quote!(attempt!(#l, #e.at(SRC, #line)))
            }
            None => quote!(#e.at(SRC, #line)?),
        }
    }

    /// Leaves with a failure: `return Err(…)` or `break 'try_N Err(…)`.
    fn fail(&self, failure: TokenStream) -> TokenStream {
        match self.tries.last() {
            Some(label) => {
                let l = syn_lifetime(label);
                quote!(break #l Err(#failure))
            }
            None => quote!(return Err(#failure)),
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{}", self.counter)
    }

    // ---- types ----

    pub fn rust_ty(&self, ty: &Ty) -> TokenStream {
        match ty {
            Ty::Int => quote!(i64),
            Ty::Real => quote!(f64),
            Ty::Bool => quote!(bool),
            Ty::Str => quote!(String),
            Ty::Void | Ty::Null | Ty::Unknown => quote!(()),
            Ty::Host => quote!(Host),
            Ty::List(t) => {
                let t = self.rust_ty(t);
                quote!(List<#t>)
            }
            Ty::Map(k, v) => {
                let (k, v) = (self.rust_ty(k), self.rust_ty(v));
                quote!(Map<#k, #v>)
            }
            Ty::Array(t) => {
                let t = self.rust_ty(t);
                quote!(Array<#t>)
            }
            Ty::Future(f) => {
                let r = self.future_result(f);
                let r = self.rust_ty(&r);
                quote!(Future<#r>)
            }
            Ty::Class(c) => self.class_ty(*c),
            Ty::Exception(_) => quote!(Failure),
        }
    }

    fn class_ty(&self, c: ClassId) -> TokenStream {
        // Every class of an inheritance tree shares its root's Rust type.
        let name = ident(self.ir.type_name(c));
        if self.program.class(c).is_server {
            quote!(Server<#name>)
        } else {
            quote!(Obj<#name>)
        }
    }

    /// The Rust type of a variable (server handle arrays included).
    pub fn var_ty(&self, v: VarId) -> TokenStream {
        let ty = &self.program.var(v).ty;
        if self.ir.handle_arrays.contains(&v) {
            let t = self.rust_ty(ty);
            return quote!(Array<#t>);
        }
        self.rust_ty(ty)
    }

    fn future_result(&self, f: &FutureOf) -> Ty {
        self.program.result_of(f).cloned().unwrap_or(Ty::Void)
    }

    fn ty_of(&self, e: &Expr) -> Ty {
        if let (ExprKind::Member { base, .. }, Some(Resolution::FutureResult)) =
            (&e.kind, self.program.resolution(e.id))
        {
            // The future's own result type (a plain future's is inferred).
            if let Ty::Future(f) = self.ty_of(base) {
                if let Some(t) = self.program.result_of(&f) {
                    return t.clone();
                }
            }
        }
        self.program.type_of(e.id).cloned().unwrap_or(Ty::Unknown)
    }

    fn is_copy(ty: &Ty) -> bool {
        matches!(ty, Ty::Int | Ty::Real | Ty::Bool | Ty::Host | Ty::Void)
    }

    fn var_name(&self, v: VarId) -> Ident {
        ident(self.ir.var_name(v))
    }

    // ---- statements ----

    pub fn block(&mut self, b: &'a Block) -> TokenStream {
        let mut out = TokenStream::new();
        let mut i = 0;
        while let Some(s) = b.stmts.get(i) {
            match self.ir.parallel.run_at(s.span) {
                Some(n) => {
                    let run = b.stmts.get(i..i + n);
                    let run = run.expect("internal error: a parallel run past its block's end");
                    out.extend(self.parallel_run(run));
                    i += n;
                }
                None => {
                    out.extend(self.stmt(s));
                    i += 1;
                }
            }
        }
        out
    }

    /// A statement as a braced block (for branches and loop bodies).
    fn braced(&mut self, s: &'a Stmt) -> TokenStream {
        match &s.kind {
            StmtKind::Block(b) => {
                let inner = self.block(b);
                quote!({ #inner })
            }
            _ => {
                let inner = self.stmt(s);
                quote!({ #inner })
            }
        }
    }

    pub fn stmt(&mut self, s: &'a Stmt) -> TokenStream {
        let marker = self.marker(s.span);
        let code = self.stmt_code(s);
        if matches!(s.kind, StmtKind::Block(_) | StmtKind::Empty) {
            return code;
        }
        quote!(#marker #code)
    }

    fn stmt_code(&mut self, s: &'a Stmt) -> TokenStream {
        match &s.kind {
            StmtKind::VarDecl(d) => {
                let mut out = TokenStream::new();
                for (decl, init) in &d.vars {
                    let Some(v) = self.ir.var_at(decl.name.span) else {
                        continue;
                    };
                    let name = self.var_name(v);
                    let ty = self.var_ty(v);
                    let value = match (init, &decl.array) {
                        (Some(e), _) => self.value_as(e, &self.program.var(v).ty.clone()),
                        (None, Some(Some(len))) => self.new_array(v, len),
                        (None, _) => quote!(Default::default()),
                    };
                    out.extend(quote!(let mut #name: #ty = #value;));
                }
                out
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value),
            StmtKind::If {
                cond,
                then_branch,
                else_branch,
            } => {
                let c = self.expr(cond);
                let t = self.braced(then_branch);
                match else_branch {
                    Some(e) => {
                        let e = self.braced(e);
                        quote!(if #c #t else #e)
                    }
                    None => quote!(if #c #t),
                }
            }
            StmtKind::While { cond, body } => {
                let label = self.fresh("l");
                let l = syn_lifetime(&label);
                self.loops.push(Loop {
                    label: label.clone(),
                    cont: quote!(continue #l),
                });
                let c = self.expr(cond);
                let b = self.braced(body);
                self.loops.pop();
                quote!(#l: while #c #b)
            }
            StmtKind::For {
                init,
                cond,
                step,
                body,
            } => {
                let init = init.as_deref().map(|i| self.stmt(i));
                let label = self.fresh("l");
                let l = syn_lifetime(&label);
                let cl = syn_lifetime(&self.fresh("c"));
                let c = match cond {
                    Some(c) => self.expr(c),
                    None => quote!(true),
                };
                self.loops.push(Loop {
                    label,
                    cont: quote!(break #cl),
                });
                let b = self.braced(body);
                self.loops.pop();
                let step = step.as_deref().map(|s| self.stmt(s));
                quote!({
                    #init
                    #l: while #c {
                        #cl: #b
                        #step
                    }
                })
            }
            StmtKind::ForEvery {
                var,
                lower,
                lower_op,
                upper_op,
                upper,
                body,
            } => {
                let v = self
                    .ir
                    .var_at(var.span)
                    .map(|v| self.var_name(v))
                    .unwrap_or_else(|| ident(&var.name));
                let lo = self.value_as(lower, &Ty::Int);
                let hi = self.value_as(upper, &Ty::Int);
                let start = match lower_op {
                    BoundOp::Le => quote!(#lo),
                    BoundOp::Lt => self.q(quote!(int::add(#lo, 1)), lower.span),
                };
                let cmp = match upper_op {
                    BoundOp::Lt => quote!(<),
                    BoundOp::Le => quote!(<=),
                };
                let label = self.fresh("l");
                let l = syn_lifetime(&label);
                let cl = syn_lifetime(&self.fresh("c"));
                self.loops.push(Loop {
                    label,
                    cont: quote!(break #cl),
                });
                let b = self.braced(body);
                self.loops.pop();
                quote!({
                    let upper: i64 = #hi;
                    let mut next: i64 = #start;
                    #l: while next #cmp upper {
                        #[allow(unused_mut)]
                        let mut #v: i64 = next;
                        next += 1;
                        #cl: #b
                    }
                })
            }
            StmtKind::Break => match self.loops.last() {
                Some(l) => {
                    let l = syn_lifetime(&l.label);
                    quote!(break #l;)
                }
                None => quote!(),
            },
            StmtKind::Continue => match self.loops.last() {
                Some(l) => {
                    let c = &l.cont;
                    quote!(#c;)
                }
                None => quote!(),
            },
            StmtKind::Return(value) => self.ret_stmt(value.as_ref()),
            StmtKind::Block(b) => {
                let inner = self.block(b);
                quote!({ #inner })
            }
            StmtKind::Expr(e) => {
                let v = self.expr(e);
                quote!(#v;)
            }
            StmtKind::Assert(e) => {
                let c = self.expr(e);
                let text = format!("assert {}", self.text(e.span));
                self.q(quote!(check(#c, #text)), e.span).with_semi()
            }
            StmtKind::Raise(e) => {
                let m = self.expr(e);
                let line = Literal::u32_unsuffixed(self.line(s.span));
                let failure = quote!(Failure::program_error(to_string(&#m)).at(SRC, #line));
                let f = self.fail(failure);
                quote!(#f;)
            }
            StmtKind::Try { body, catches } => self.try_stmt(body, catches),
            StmtKind::Empty | StmtKind::Error => quote!(),
        }
    }

    fn ret_stmt(&mut self, value: Option<&'a Expr>) -> TokenStream {
        if self.void_main {
            let v = match value {
                Some(e) => self.value_as(e, &Ty::Int),
                None => quote!(0),
            };
            return quote!(return Ok(#v););
        }
        let ret = self.ret.clone();
        let v = match value {
            Some(e) => self.value_as(e, &ret),
            None => quote!(()),
        };
        let checks = self.ensures_checks();
        if checks.is_empty() {
            quote!(return Ok(#v);)
        } else {
            let ty = self.rust_ty(&ret);
            quote!({
                let result: #ty = #v;
                #checks
                return Ok(result);
            })
        }
    }

    /// `check(…)?` for every `ensures` clause (they see `result`).
    pub fn ensures_checks(&mut self) -> TokenStream {
        let saved = std::mem::take(&mut self.tries);
        let mut out = TokenStream::new();
        for e in self.ensures.clone() {
            let c = self.expr(e);
            let text = format!("ensures {}", self.text(e.span));
            let check = self.q(quote!(check(#c, #text)), e.span);
            out.extend(quote!(#check;));
        }
        self.tries = saved;
        out
    }

    fn try_stmt(&mut self, body: &'a Block, catches: &'a [ftc_grammar::Catch]) -> TokenStream {
        let label = self.fresh("try");
        let l = syn_lifetime(&label);
        self.tries.push(label);
        let b = self.block(body);
        self.tries.pop();
        let mut arms = Vec::new();
        let mut catch_all = false;
        for c in catches {
            let kind = ExceptionKind::from_name(&c.kind.name).unwrap_or(ExceptionKind::Failure);
            let binding = c
                .binding
                .as_ref()
                .and_then(|b| self.ir.var_at(b.span))
                .map(|v| self.var_name(v))
                .unwrap_or_else(|| ident("_failure"));
            let marker = self.marker(c.span);
            let body = self.block(&c.body);
            if kind == ExceptionKind::Failure {
                catch_all = true;
                arms.push(quote!(Err(#binding) => { #marker #body }));
                break;
            }
            let k = ident(match kind {
                ExceptionKind::Timeout => "Timeout",
                ExceptionKind::ServerFailure => "ServerFailure",
                ExceptionKind::AssertionFailure => "AssertionFailure",
                ExceptionKind::ProgramError => "ProgramError",
                ExceptionKind::Failure => "Failure",
            });
            arms.push(quote!(Err(#binding) if #binding.is(FailureKind::#k) => { #marker #body }));
        }
        if !catch_all {
            let rethrow = self.fail(quote!(e));
            arms.push(quote!(Err(e) => #rethrow,));
        }
        quote! {
            let outcome: Res<()> = #l: {
                #b
                Ok(())
            };
            #[allow(unused_variables)]
            match outcome {
                Ok(()) => {}
                #(#arms)*
            }
        }
    }

    fn assign(&mut self, target: &'a Expr, op: AssignOp, value: &'a Expr) -> TokenStream {
        let tty = self.ty_of(target);
        let new_value = if op == AssignOp::Assign {
            self.value_as(value, &tty)
        } else {
            let cur = self.expr(target);
            let bop = match op {
                AssignOp::Add => BinaryOp::Add,
                AssignOp::Sub => BinaryOp::Sub,
                AssignOp::Mul => BinaryOp::Mul,
                AssignOp::Div => BinaryOp::Div,
                AssignOp::Assign => BinaryOp::Add,
            };
            let vty = self.ty_of(value);
            let rhs = self.expr(value);
            self.arith(bop, cur, &tty, rhs, &vty, &tty, value.span)
        };
        match &target.kind {
            ExprKind::Name(_) => match self.program.resolution(target.id) {
                Some(Resolution::Var(v)) => self.store_var(*v, new_value),
                _ => quote!(),
            },
            ExprKind::Member { base, .. } => {
                let Some(Resolution::Var(v)) = self.program.resolution(target.id).cloned() else {
                    return quote!();
                };
                if matches!(base.kind, ExprKind::This) {
                    return self.store_var(v, new_value);
                }
                let b = self.borrowed(base);
                let f = self.var_name(v);
                let simple = op == AssignOp::Assign
                    && matches!(
                        value.kind,
                        ExprKind::Int(_) | ExprKind::Real(_) | ExprKind::Bool(_) | ExprKind::Str(_)
                    );
                if simple {
                    // A literal: no failure to propagate, so it can go inside the closure.
                    let update = self.q(quote!(#b.update(|o| o.#f = #new_value)), target.span);
                    return quote!(#update;);
                }
                let update = self.q(quote!(#b.update(|o| o.#f = value)), target.span);
                quote! {
                    {
                        let value = #new_value;
                        #update;
                    }
                }
            }
            ExprKind::Index { base, index } => {
                let b = self.borrowed(base);
                let i = self.value_as(index, &Ty::Int);
                let set = self.q(quote!(#b.set(#i, value)), target.span);
                quote! {
                    {
                        let value = #new_value;
                        #set;
                    }
                }
            }
            _ => quote!(),
        }
    }

    pub fn store_var(&self, v: VarId, value: TokenStream) -> TokenStream {
        let info = self.program.var(v);
        let name = self.var_name(v);
        if info.kind == VarKind::Global {
            let g = self.global_name(v);
            return quote!({ let value = #value; #g.with(|g| *g.borrow_mut() = value); });
        }
        match info.kind {
            VarKind::State { .. } => match self.this {
                This::Server => quote!(self.#name = #value;),
                This::Plain => {
                    let update = self.q(quote!(this.update(|o| o.#name = value)), info.span);
                    quote!({ let value = #value; #update; })
                }
                This::None => quote!(),
            },
            _ => quote!(#name = #value;),
        }
    }

    // ---- expressions ----

    /// The expression converted to `want` (int to real where needed).
    pub fn value_as(&mut self, e: &'a Expr, want: &Ty) -> TokenStream {
        let have = self.ty_of(e);
        let v = self.expr(e);
        coerce(v, &have, want)
    }

    pub fn expr(&mut self, e: &'a Expr) -> TokenStream {
        match &e.kind {
            ExprKind::Int(v) => {
                let l = Literal::i64_suffixed(*v);
                quote!(#l)
            }
            ExprKind::Real(v) => {
                let l = if v.is_finite() {
                    Literal::f64_unsuffixed(*v)
                } else {
                    Literal::f64_suffixed(0.0)
                };
                quote!(#l)
            }
            ExprKind::Str(s) => quote!(#s.to_string()),
            ExprKind::Bool(b) => quote!(#b),
            ExprKind::Null => quote!(Default::default()),
            ExprKind::This => match self.this {
                This::Plain => quote!(this.clone()),
                // A server's `this` as a value: the handle of its own group.
                This::Server => match self.ty_of(e) {
                    Ty::Class(c) => {
                        let root = ident(self.ir.type_name(c));
                        self.q(quote!(Server::<#root>::this()), e.span)
                    }
                    _ => quote!(()),
                },
                This::None => quote!(()),
            },
            ExprKind::Name(_) => match self.program.resolution(e.id) {
                Some(Resolution::Var(v)) => self.load_var(*v, e.span),
                Some(Resolution::EnsuresResult) => quote!(result.clone()),
                Some(Resolution::HostName(h)) => self.q(quote!(host(#h)), e.span),
                _ => quote!(()),
            },
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } if matches!(operand.kind, ExprKind::Int(v) if v > 0) => {
                let ExprKind::Int(v) = operand.kind else {
                    return quote!(());
                };
                let l = Literal::i64_suffixed(-v);
                quote!(#l)
            }
            ExprKind::Unary { op, operand } => {
                let t = self.ty_of(operand);
                let v = self.expr(operand);
                match (op, t) {
                    (UnaryOp::Neg, Ty::Int) => self.q(quote!(int::neg(#v)), e.span),
                    (UnaryOp::Neg, _) => quote!((-#v)),
                    (UnaryOp::Not, _) => quote!((!#v)),
                }
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(e, *op, lhs, rhs),
            ExprKind::Index { base, index } => {
                let b = self.borrowed(base);
                let i = self.value_as(index, &Ty::Int);
                self.q(quote!(#b.get(#i)), e.span)
            }
            ExprKind::Member { base, name } => match self.program.resolution(e.id) {
                Some(Resolution::FutureResult) => {
                    let b = self.borrowed(base);
                    self.q(quote!(#b.result()), e.span)
                }
                Some(Resolution::ExceptionMessage) => {
                    let b = self.expr(base);
                    quote!(#b.message.clone())
                }
                Some(Resolution::Var(v)) => {
                    let _ = name;
                    if matches!(base.kind, ExprKind::This) {
                        return self.load_var(*v, e.span);
                    }
                    let b = self.borrowed(base);
                    let f = self.var_name(*v);
                    self.q(quote!(#b.read(|o| o.#f.clone())), e.span)
                }
                _ => quote!(()),
            },
            ExprKind::Call { callee: _, args } => self.call(e, args),
            ExprKind::MethodCall {
                receiver,
                method: _,
                args,
            } => self.method_call(e, receiver, args, false),
            ExprKind::New { ty, array_len } => self.new_expr(e, ty, array_len.as_deref()),
            ExprKind::Server { count, .. } => self.server_expr(e, count.as_deref()),
            ExprKind::Invoke { call } => match &call.kind {
                ExprKind::MethodCall { receiver, args, .. } => {
                    self.method_call(call, receiver, args, true)
                }
                _ => quote!(()),
            },
            ExprKind::Accept {
                futures,
                count,
                timeout,
            } => self.accept(e, futures, count, timeout.as_ref()),
            ExprKind::Error => quote!(()),
        }
    }

    /// The thread-local holding a global variable (only `main`'s thread uses them).
    pub fn global_name(&self, v: VarId) -> Ident {
        ident(&format!("GLOBAL_{}", self.ir.var_name(v)))
    }

    /// An expression used only by reference (a receiver, a `print` or
    /// `concat` argument): variables without a clone, string literals as `&str`.
    fn borrowed(&mut self, e: &'a Expr) -> TokenStream {
        match (&e.kind, self.program.resolution(e.id)) {
            (ExprKind::Str(s), _) => quote!(#s),
            (ExprKind::Name(_), Some(Resolution::Var(v))) => {
                let v = *v;
                let info = self.program.var(v);
                let name = self.var_name(v);
                match (info.kind, self.this) {
                    // A server's state is cloned (a cheap handle copy): the
                    // arguments may call `&mut self` methods.
                    (VarKind::Global | VarKind::State { .. }, _) => self.expr(e),
                    _ => quote!(#name),
                }
            }
            _ => self.expr(e),
        }
    }

    fn load_var(&self, v: VarId, span: ftc_grammar::Span) -> TokenStream {
        let info = self.program.var(v);
        let name = self.var_name(v);
        if info.kind == VarKind::Global {
            let g = self.global_name(v);
            return quote!(#g.with(|g| g.borrow().clone()));
        }
        let copy = Self::is_copy(&info.ty) && !self.ir.handle_arrays.contains(&v);
        match info.kind {
            VarKind::State { .. } => match self.this {
                This::Server => {
                    if copy {
                        quote!(self.#name)
                    } else {
                        quote!(self.#name.clone())
                    }
                }
                This::Plain => self.q(quote!(this.read(|o| o.#name.clone())), span),
                This::None => quote!(()),
            },
            _ => {
                if copy {
                    quote!(#name)
                } else {
                    quote!(#name.clone())
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn arith(
        &self,
        op: BinaryOp,
        a: TokenStream,
        at: &Ty,
        b: TokenStream,
        bt: &Ty,
        result: &Ty,
        span: ftc_grammar::Span,
    ) -> TokenStream {
        if *result == Ty::Str {
            return quote!(concat(&#a, &#b));
        }
        if *result == Ty::Int {
            let f = ident(match op {
                BinaryOp::Add => "add",
                BinaryOp::Sub => "sub",
                BinaryOp::Mul => "mul",
                BinaryOp::Div => "div",
                _ => "rem",
            });
            return self.q(quote!(int::#f(#a, #b)), span);
        }
        let a = coerce(a, at, &Ty::Real);
        let b = coerce(b, bt, &Ty::Real);
        match op {
            BinaryOp::Add => quote!((#a + #b)),
            BinaryOp::Sub => quote!((#a - #b)),
            BinaryOp::Mul => quote!((#a * #b)),
            BinaryOp::Div => quote!((#a / #b)),
            _ => quote!((#a % #b)),
        }
    }

    fn binary(&mut self, e: &'a Expr, op: BinaryOp, lhs: &'a Expr, rhs: &'a Expr) -> TokenStream {
        let (lt, rt) = (self.ty_of(lhs), self.ty_of(rhs));
        let concat = self.ty_of(e) == Ty::Str
            && matches!(op, BinaryOp::Add)
            && !matches!((&lt, &rt), (Ty::Int, Ty::Int));
        let (a, b) = if concat {
            (self.borrowed(lhs), self.borrowed(rhs))
        } else {
            (self.expr(lhs), self.expr(rhs))
        };
        match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                let result = match (&lt, &rt) {
                    (Ty::Int, Ty::Int) => Ty::Int,
                    _ => self.ty_of(e),
                };
                self.arith(op, a, &lt, b, &rt, &result, e.span)
            }
            BinaryOp::And => quote!((#a && #b)),
            BinaryOp::Or => quote!((#a || #b)),
            BinaryOp::Eq | BinaryOp::Ne => {
                let eq = self.equality(a, &lt, b, &rt);
                if op == BinaryOp::Eq {
                    eq
                } else {
                    quote!((!#eq))
                }
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let (a, b) = if lt == Ty::Real || rt == Ty::Real {
                    (coerce(a, &lt, &Ty::Real), coerce(b, &rt, &Ty::Real))
                } else {
                    (a, b)
                };
                match op {
                    BinaryOp::Lt => quote!((#a < #b)),
                    BinaryOp::Le => quote!((#a <= #b)),
                    BinaryOp::Gt => quote!((#a > #b)),
                    _ => quote!((#a >= #b)),
                }
            }
        }
    }

    fn equality(&self, a: TokenStream, lt: &Ty, b: TokenStream, rt: &Ty) -> TokenStream {
        match (lt, rt) {
            (Ty::Null, Ty::Null) => quote!(true),
            (Ty::Null, _) => quote!(#b.is_null()),
            (_, Ty::Null) => quote!(#a.is_null()),
            (Ty::Real, _) | (_, Ty::Real) => {
                let a = coerce(a, lt, &Ty::Real);
                let b = coerce(b, rt, &Ty::Real);
                quote!((#a == #b))
            }
            (Ty::Class(c), _) if !self.program.class(*c).is_server => quote!(#a.same(&#b)),
            (Ty::List(_) | Ty::Map(..) | Ty::Array(_) | Ty::Future(_), _) => {
                quote!(#a.same(&#b))
            }
            _ => quote!((#a == #b)),
        }
    }

    fn args_for(&mut self, args: &'a [Expr], params: &[VarId]) -> Vec<TokenStream> {
        args.iter()
            .enumerate()
            .map(|(i, a)| match params.get(i) {
                Some(p) => {
                    let t = self.program.var(*p).ty.clone();
                    self.value_as(a, &t)
                }
                None => self.expr(a),
            })
            .collect()
    }

    fn call(&mut self, e: &'a Expr, args: &'a [Expr]) -> TokenStream {
        match self.program.resolution(e.id).cloned() {
            Some(Resolution::Builtin(b)) => self.builtin(e, b, args),
            Some(Resolution::Function(f)) => {
                let name = ident(self.ir.function_name(f));
                let params = self.program.function(f).params.clone();
                let a = self.args_for(args, &params);
                self.q(quote!(#name(#(#a),*)), e.span)
            }
            Some(Resolution::Method(f)) => {
                let name = ident(self.ir.function_name(f));
                let params = self.program.function(f).params.clone();
                let a = self.args_for(args, &params);
                match self.this {
                    This::Server => self.self_call(e, f, args),
                    _ => {
                        let owner = self.program.function(f).owner;
                        let class = ident(
                            &owner
                                .map(|c| self.ir.class(c).rust_name.clone())
                                .unwrap_or_default(),
                        );
                        self.q(quote!(#class::#name(this, #(#a),*)), e.span)
                    }
                }
            }
            _ => quote!(()),
        }
    }

    /// A call of a server's own method, `self.m(…)`. The method takes
    /// `&mut self`, so when an argument itself calls one of the server's
    /// methods the arguments are evaluated first, in order, into locals named
    /// after the parameters: `{ let (col, row) = (self.col_of(x)?, …); self.put(col, row)? }`.
    fn self_call(&mut self, e: &'a Expr, f: FnId, args: &'a [Expr]) -> TokenStream {
        let name = ident(self.ir.function_name(f));
        let params = self.program.function(f).params.clone();
        let a = self.args_for(args, &params);
        if !args.iter().any(|a| self.calls_own_method(a)) {
            return self.q(quote!(self.#name(#(#a),*)), e.span);
        }
        let locals: Vec<Ident> = params.iter().map(|p| self.var_name(*p)).collect();
        let call = self.q(quote!(self.#name(#(#locals),*)), e.span);
        if let ([one], [local]) = (a.as_slice(), locals.as_slice()) {
            return quote!({ let #local = #one; #call });
        }
        quote!({ let (#(#locals),*) = (#(#a),*); #call })
    }

    /// Whether evaluating `e` in a server method calls one of the server's own
    /// methods (which borrow `self` mutably).
    fn calls_own_method(&self, e: &'a Expr) -> bool {
        let mut found = false;
        ftc_transforms::walk::expr(e, &mut |x| {
            let own = match (&x.kind, self.program.resolution(x.id)) {
                (ExprKind::Call { .. }, Some(Resolution::Method(_))) => true,
                (ExprKind::MethodCall { receiver, .. }, Some(Resolution::Method(_))) => {
                    matches!(receiver.kind, ExprKind::This)
                }
                _ => false,
            };
            found |= own;
        });
        found
    }

    fn builtin(&mut self, e: &'a Expr, b: Builtin, args: &'a [Expr]) -> TokenStream {
        let result = self.ty_of(e);
        let tys: Vec<Ty> = args.iter().map(|a| self.ty_of(a)).collect();
        let vals: Vec<TokenStream> = args.iter().map(|a| self.expr(a)).collect();
        let real = |i: usize| coerce(vals[i].clone(), &tys[i], &Ty::Real);
        let n = vals.len();
        let ok = |want: usize| n == want;
        match b {
            Builtin::Print | Builtin::Println => {
                let f = ident(b.name());
                let refs: Vec<TokenStream> = args.iter().map(|a| self.borrowed(a)).collect();
                // An argument calling one of the server's own methods takes
                // `&mut self`: the others are cloned into temporaries then,
                // not borrowed from `self` (a list in a variable, or in a
                // state variable, is cloned, not moved: the print may be in
                // a loop).
                if args.iter().any(|a| self.calls_own_method(a)) {
                    return quote!(#f(&[#(&{ ::std::clone::Clone::clone(&#refs) }),*]));
                }
                quote!(#f(&[#(&#refs),*]))
            }
            Builtin::Sqrt
            | Builtin::Floor
            | Builtin::Sin
            | Builtin::Cos
            | Builtin::Round
            | Builtin::Ceil
                if ok(1) =>
            {
                let f = ident(b.name());
                let a = real(0);
                quote!(#f(#a))
            }
            // An `int` is already whole: no round trip through `real`.
            Builtin::ToInt if ok(1) && tys[0] == Ty::Int => vals[0].clone(),
            Builtin::ToInt if ok(1) => {
                let a = real(0);
                self.q(quote!(to_int(#a)), e.span)
            }
            Builtin::ToReal if ok(1) => {
                let a = &vals[0];
                quote!(to_real(#a))
            }
            Builtin::Substr if ok(3) => {
                let (s, start, length) = (&vals[0], &vals[1], &vals[2]);
                self.q(quote!(substr(&#s, #start, #length)), e.span)
            }
            Builtin::IndexOf if ok(2) => {
                let (s, t) = (&vals[0], &vals[1]);
                quote!(index_of(&#s, &#t))
            }
            Builtin::CharAt if ok(2) => {
                let (s, i) = (&vals[0], &vals[1]);
                self.q(quote!(char_at(&#s, #i)), e.span)
            }
            Builtin::Atan2 if ok(2) => {
                let (y, x) = (real(0), real(1));
                quote!(atan2(#y, #x))
            }
            Builtin::Abs if ok(1) => {
                let a = &vals[0];
                if result == Ty::Int {
                    self.q(quote!(abs_int(#a)), e.span)
                } else {
                    let a = real(0);
                    quote!(abs_real(#a))
                }
            }
            Builtin::Min | Builtin::Max if ok(2) => {
                let int = result == Ty::Int;
                let f = ident(&format!(
                    "{}_{}",
                    b.name(),
                    if int { "int" } else { "real" }
                ));
                if int {
                    let (x, y) = (&vals[0], &vals[1]);
                    quote!(#f(#x, #y))
                } else {
                    let (x, y) = (real(0), real(1));
                    quote!(#f(#x, #y))
                }
            }
            Builtin::Len if ok(1) => {
                let a = &vals[0];
                quote!(len(&#a))
            }
            Builtin::ToString if ok(1) => {
                let a = &vals[0];
                quote!(to_string(&#a))
            }
            Builtin::Split if ok(2) => {
                let (s, sep) = (&vals[0], &vals[1]);
                self.q(quote!(split(&#s, &#sep)), e.span)
            }
            Builtin::Trim if ok(1) => {
                let a = &vals[0];
                quote!(trim(&#a))
            }
            Builtin::ParseInt | Builtin::ParseReal | Builtin::ReadLines | Builtin::Host
                if ok(1) =>
            {
                let f = ident(b.name());
                let a = &vals[0];
                self.q(quote!(#f(&#a)), e.span)
            }
            Builtin::WriteFile if ok(2) => {
                let (p, t) = (&vals[0], &vals[1]);
                self.q(quote!(write_file(&#p, &#t)), e.span)
            }
            Builtin::Sleep if ok(1) => {
                let a = real(0);
                self.q(quote!(sleep(#a)), e.span)
            }
            Builtin::Args | Builtin::MyHost | Builtin::Now | Builtin::Random => {
                let f = ident(b.name());
                quote!(#f())
            }
            _ => quote!(()),
        }
    }

    /// `r.client().m(args)` (or `r.client().invoke_m(args)`), the typed
    /// client's stub of method `f` called on the server `receiver` names: a
    /// `Res`, not raised.
    fn server_command(
        &mut self,
        receiver: &'a Expr,
        args: &'a [Expr],
        f: FnId,
        invoke: bool,
    ) -> Option<TokenStream> {
        let r = self.borrowed(receiver);
        // The command of the receiver's class (a subclass's command enum
        // begins with its base's: the server named may be of any subclass).
        let class = match self.ty_of(receiver) {
            Ty::Class(c) => Some(c),
            _ => self.program.function(f).owner,
        };
        let (class_ir, server, cmd) = class.and_then(|c| self.ir.command(c, f))?;
        let r = if class_ir.root == class_ir.id {
            r
        } else {
            let c = ident(&class_ir.rust_name);
            quote!(#r.cast::<#c>())
        };
        let params = self.program.function(f).params.clone();
        let a = self.args_for(args, &params);
        let method = ident(self.ir.function_name(cmd.method));
        let stub = match invoke {
            true => ftc_shell::invoke_stub_named(
                &method,
                server
                    .commands
                    .iter()
                    .map(|c| self.ir.function_name(c.method)),
            ),
            false => method,
        };
        Some(quote!(#r.client().#stub(#(#a),*)))
    }

    /// A run of statements whose calls are made in parallel
    /// (`ftc_transforms::parallel`): every call is evaluated and invoked
    /// first, in program order, keeping what the invoke gave; then each
    /// statement takes its call's result in program order, raising where
    /// it would have (the invoke's failure or the method's).
    fn parallel_run(&mut self, stmts: &'a [Stmt]) -> TokenStream {
        let mut invokes = TokenStream::new();
        let mut takes = TokenStream::new();
        for s in stmts {
            let found = match &s.kind {
                StmtKind::VarDecl(d) => match d.vars.as_slice() {
                    [(decl, Some(init))] => self.ir.var_at(decl.name.span).map(|v| (v, true, init)),
                    _ => None,
                },
                StmtKind::Assign { target, value, .. } => {
                    match self.program.resolution(target.id) {
                        Some(Resolution::Var(v)) => Some((*v, false, value)),
                        _ => None,
                    }
                }
                _ => None,
            };
            // `ftc_transforms::parallel` admits only these shapes.
            let Some((v, declares, call)) = found else {
                panic!("internal error: a parallel run holds a statement that assigns no call");
            };
            let ExprKind::MethodCall { receiver, args, .. } = &call.kind else {
                panic!("internal error: a parallel run holds a statement that is not a call");
            };
            let Some(Resolution::ServerMethod(f)) = self.program.resolution(call.id).cloned()
            else {
                panic!("internal error: a parallel run calls something that is not a server");
            };
            let sent = self.server_command(receiver, args, f, true);
            let sent = sent.expect("internal error: a parallel call's command was lowered");
            let pending = ident(&self.fresh("parallel"));
            invokes.extend(quote!(let #pending = #sent;));
            let value = self.q(quote!(#pending.and_then(|f| f.result())), call.span);
            let marker = self.marker(s.span);
            let store = if declares {
                let (name, ty) = (self.var_name(v), self.var_ty(v));
                quote!(let mut #name: #ty = #value;)
            } else {
                self.store_var(v, value)
            };
            takes.extend(quote!(#marker #store));
        }
        // The invokes under the first statement's line, each take under its own.
        let first = stmts.first().map(|s| self.marker(s.span));
        quote!(#first #invokes #takes)
    }

    fn method_call(
        &mut self,
        e: &'a Expr,
        receiver: &'a Expr,
        args: &'a [Expr],
        invoke: bool,
    ) -> TokenStream {
        if let Some(Resolution::ServerMethod(f)) = self.program.resolution(e.id).cloned() {
            let Some(sent) = self.server_command(receiver, args, f, invoke) else {
                return quote!(());
            };
            return self.q(sent, e.span);
        }
        let r = self.borrowed(receiver);
        match self.program.resolution(e.id).cloned() {
            Some(Resolution::Method(f)) => {
                if matches!(receiver.kind, ExprKind::This) && self.this == This::Server {
                    return self.self_call(e, f, args);
                }
                let name = ident(self.ir.function_name(f));
                let params = self.program.function(f).params.clone();
                let a = self.args_for(args, &params);
                let owner = self.program.function(f).owner;
                let class = ident(
                    &owner
                        .map(|c| self.ir.class(c).rust_name.clone())
                        .unwrap_or_default(),
                );
                self.q(quote!(#class::#name(&#r, #(#a),*)), e.span)
            }
            Some(Resolution::ListMethod(m)) => {
                let elem = match self.ty_of(receiver) {
                    Ty::List(t) => *t,
                    _ => Ty::Unknown,
                };
                match m {
                    ListMethod::Add => {
                        let v = self.value_as(&args[0], &elem);
                        quote!(#r.add(#v))
                    }
                    ListMethod::Get => {
                        let i = self.value_as(&args[0], &Ty::Int);
                        self.q(quote!(#r.get(#i)), e.span)
                    }
                    ListMethod::Set => {
                        let i = self.value_as(&args[0], &Ty::Int);
                        let v = self.value_as(&args[1], &elem);
                        self.q(quote!(#r.set(#i, #v)), e.span)
                    }
                    ListMethod::Size => quote!(#r.size()),
                    ListMethod::Remove => {
                        let i = self.value_as(&args[0], &Ty::Int);
                        self.q(quote!(#r.remove(#i)), e.span)
                    }
                }
            }
            Some(Resolution::MapMethod(m)) => {
                let (kt, vt) = match self.ty_of(receiver) {
                    Ty::Map(k, v) => (*k, *v),
                    _ => (Ty::Unknown, Ty::Unknown),
                };
                match m {
                    MapMethod::Put => {
                        let k = self.value_as(&args[0], &kt);
                        let v = self.value_as(&args[1], &vt);
                        quote!(#r.put(#k, #v))
                    }
                    MapMethod::Get => {
                        let k = self.value_as(&args[0], &kt);
                        self.q(quote!(#r.get(&#k)), e.span)
                    }
                    MapMethod::Has => {
                        let k = self.value_as(&args[0], &kt);
                        quote!(#r.has(&#k))
                    }
                    MapMethod::Remove => {
                        let k = self.value_as(&args[0], &kt);
                        quote!(#r.remove(&#k))
                    }
                    MapMethod::Keys => quote!(#r.keys()),
                    MapMethod::Size => quote!(#r.size()),
                }
            }
            _ => quote!(()),
        }
    }

    /// `T v[len]` declared without an initializer: `len` default elements,
    /// typed as the variable (an array of server handles included).
    pub fn new_array(&mut self, v: VarId, len: &'a Expr) -> TokenStream {
        let n = self.value_as(len, &Ty::Int);
        let ty = self.var_ty(v);
        self.q(quote!(<#ty>::new(#n)), len.span)
    }

    fn new_expr(&mut self, e: &'a Expr, ty: &TypeExpr, len: Option<&'a Expr>) -> TokenStream {
        if let Some(n) = len {
            let n = self.value_as(n, &Ty::Int);
            // The element type is spelled out: the array may be used directly
            // (`len (new int[3])`), where nothing else fixes it.
            let ty = self.rust_ty(&self.ty_of(e));
            return self.q(quote!(<#ty>::new(#n)), e.span);
        }
        match &ty.kind {
            TypeKind::Named(_) => match self.ty_of(e) {
                Ty::Class(c) => {
                    let name = ident(&self.ir.class(c).rust_name);
                    self.q(quote!(#name::construct()), e.span)
                }
                other => self.typed_default(&other),
            },
            // Spelled out: `println (new list<int>)` has nothing else to fix it.
            _ => self.typed_default(&self.ty_of(e)),
        }
    }

    fn typed_default(&self, ty: &Ty) -> TokenStream {
        let ty = self.rust_ty(ty);
        quote!(<#ty as Default>::default())
    }

    fn operand(&mut self, o: &Operand) -> Option<TokenStream> {
        match o {
            Operand::Default => None,
            Operand::Const(v) => {
                let l = Literal::i64_suffixed(*v);
                Some(quote!(#l))
            }
            Operand::Expr(id) => {
                let e = find_expr(self.program, *id)?;
                Some(self.value_as(e, &Ty::Int))
            }
        }
    }

    fn server_expr(&mut self, e: &'a Expr, _count: Option<&'a Expr>) -> TokenStream {
        let Some(spec) = self.ir.specs.get(&e.id).cloned() else {
            return quote!(());
        };
        let class = ident(&self.ir.class(spec.class).rust_name);
        let mut props = quote!(Props::new());
        match spec.model {
            ftc_grammar::Model::Correct => {}
            ftc_grammar::Model::Crash => props.extend(quote!(.model(Model::Crash))),
            ftc_grammar::Model::Byzantine => props.extend(quote!(.model(Model::Byzantine))),
        }
        if let Some(t) = self.operand(&spec.tolerate) {
            props.extend(quote!(.tolerate(#t)));
        }
        if let Some(r) = self.operand(&spec.replicas) {
            props.extend(quote!(.replicas(#r)));
        }
        if let Some(p) = self.operand(&spec.priority) {
            props.extend(quote!(.priority(#p)));
        }
        if !spec.hosts.is_empty() {
            let hs: Vec<TokenStream> = spec
                .hosts
                .iter()
                .filter_map(|h| find_expr(self.program, *h))
                .map(|h| self.expr(h))
                .collect();
            props.extend(quote!(.hosts(Vec::from([#(#hs),*]))));
        }
        if spec.disjoint {
            props.extend(quote!(.disjoint()));
        }
        let durable = spec.durable.and_then(|id| find_in(e, id));
        if let Some(name) = durable {
            let name = self.value_as(name, &Ty::Str);
            props.extend(quote!(.durable(#name)));
        }
        let root = ident(self.ir.type_name(spec.class));
        let same = self.ir.class(spec.class).root == spec.class;
        // An array's elements are named `name[i]` by the runtime.
        match (spec.count.as_ref().and_then(|c| self.operand(c)), same) {
            (Some(n), true) => self.q(quote!(Server::<#class>::start_array(#n, &#props)), e.span),
            (Some(n), false) => self.q(
                quote!(Server::<#class>::start_array_as::<#root>(#n, &#props)),
                e.span,
            ),
            (None, true) => self.q(quote!(Server::<#class>::start(&#props)), e.span),
            (None, false) => self.q(quote!(Server::<#class>::start_as::<#root>(&#props)), e.span),
        }
    }

    fn accept(
        &mut self,
        e: &'a Expr,
        futures: &'a Expr,
        count: &'a Expr,
        timeout: Option<&'a AcceptTimeout>,
    ) -> TokenStream {
        let f = self.borrowed(futures);
        let n = self.value_as(count, &Ty::Int);
        match timeout {
            None => self.q(quote!(accept(&#f, #n)), e.span),
            Some(t) => {
                let s = self.value_as(&t.seconds, &Ty::Real);
                match &t.block {
                    None => self.q(quote!(accept_or_timeout(&#f, #n, #s)), e.span),
                    Some(b) => {
                        let waited = self.q(quote!(accept_timeout(&#f, #n, #s)), e.span);
                        let body = self.block(b);
                        // The block may be empty, or leave (`break`): the
                        // file allows unreachable code, so no attribute here.
                        quote!(match #waited {
                            Some(index) => index,
                            None => {
                                #body
                                -1
                            }
                        })
                    }
                }
            }
        }
    }
}

/// Converts an `int` to a `real` where a real is wanted.
pub(crate) fn coerce(v: TokenStream, have: &Ty, want: &Ty) -> TokenStream {
    if *have == Ty::Int && *want == Ty::Real {
        quote!((#v as f64))
    } else {
        v
    }
}

fn syn_lifetime(label: &str) -> TokenStream {
    let l = syn::Lifetime::new(&format!("'{label}"), Span::call_site());
    quote!(#l)
}

/// The expression with id `id` inside `root` (a `server` expression's own
/// properties: no walk over the whole program).
fn find_in(root: &Expr, id: ftc_grammar::ExprId) -> Option<&Expr> {
    let mut found = None;
    ftc_transforms::walk::expr(root, &mut |e| {
        if e.id == id && found.is_none() {
            found = Some(e);
        }
    });
    found
}

/// The expression with id `id`.
fn find_expr(program: &CheckedProgram, id: ftc_grammar::ExprId) -> Option<&Expr> {
    let mut found = None;
    ftc_transforms::walk::exprs(&program.ast, &mut |e| {
        if e.id == id && found.is_none() {
            found = Some(e);
        }
    });
    found
}

trait WithSemi {
    fn with_semi(self) -> TokenStream;
}

impl WithSemi for TokenStream {
    fn with_semi(self) -> TokenStream {
        quote!(#self;)
    }
}
