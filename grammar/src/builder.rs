//! Tree building for the grammar's actions: expression ids, spans, nesting limits, recovered errors.
//!
//! Every node the parser builds goes through [`Ctx`], which knows each node's
//! nesting depth (expressions in a side table indexed by [`ExprId`], statements,
//! blocks and types as a number paired with the node). A node that would nest
//! deeper than [`MAX_NESTING_DEPTH`] is replaced by an error node and reported
//! once as [`SyntaxErrorKind::TooDeep`]; so no tree deeper than the limit ever
//! exists, not even on the parser's stack while it recovers from an error, and
//! dropping any tree is a bounded recursion.

use crate::ast::*;
use crate::lexer::{describe, Token};
use crate::{SyntaxError, SyntaxErrorKind, MAX_NESTING_DEPTH};
use lalrpop_util::{ErrorRecovery, ParseError};
use std::cell::{Cell, RefCell};
use std::convert::Infallible;

/// A statement and its nesting depth.
pub(crate) type S = (Box<Stmt>, u32);
/// A block and its nesting depth.
pub(crate) type B = (Block, u32);
/// A type and its nesting depth.
pub(crate) type T = (TypeExpr, u32);

/// The limit as a depth: a node may have depth `LIMIT`, not more.
const LIMIT: u32 = MAX_NESTING_DEPTH as u32;

/// The parser's state besides its stack.
pub(crate) struct Ctx<'src> {
    source: &'src str,
    /// Nesting depth of every expression built so far, indexed by its id.
    depths: RefCell<Vec<u16>>,
    errors: RefCell<Vec<SyntaxError>>,
    too_deep: Cell<bool>,
    /// The most recent tokens read, as (start, end of the token before it),
    /// so an error can point just after the token that precedes it.
    recent: [Cell<(usize, usize)>; RECENT],
    recent_next: Cell<usize>,
    last_end: Cell<usize>,
    /// Nodes built so far: the token guard's measure of progress.
    actions: Cell<u64>,
}

const RECENT: usize = 16;

/// One item of a function's tail: a contract clause.
pub(crate) enum Contract {
    Requires(Expr),
    Ensures(Expr),
}

/// What follows a function's name: parameters, contracts, body.
pub(crate) struct FnTail {
    /// Boxed as the grammar's `Param` nonterminal produces them (small stack slots).
    #[allow(clippy::vec_box)]
    pub params: Vec<Box<Param>>,
    pub contracts: Vec<Contract>,
    pub body: Option<B>,
}

/// An entry of a class body: a section label or a member.
pub(crate) enum Entry {
    Label(Visibility),
    Member(Box<Member>),
}

impl<'src> Ctx<'src> {
    pub fn new(source: &'src str) -> Ctx<'src> {
        Ctx {
            source,
            // About one expression per four bytes of typical source; huge
            // inputs (mostly comments, say) grow the table as they go.
            depths: RefCell::new(Vec::with_capacity((source.len() / 4).min(1 << 22))),
            errors: RefCell::new(Vec::new()),
            too_deep: Cell::new(false),
            recent: std::array::from_fn(|_| Cell::new((usize::MAX, 0))),
            recent_next: Cell::new(0),
            last_end: Cell::new(0),
            actions: Cell::new(0),
        }
    }

    /// How many nodes have been built so far.
    pub fn actions(&self) -> u64 {
        self.actions.get()
    }

    fn progress(&self) {
        self.actions.set(self.actions.get().wrapping_add(1));
    }

    /// How many syntax errors the parser has reported so far.
    pub fn error_count(&self) -> usize {
        self.errors.borrow().len()
    }

    /// Notes a token the parser is about to read.
    pub fn saw_token(&self, start: usize, end: usize) {
        let next = self.recent_next.get();
        if let Some(slot) = self.recent.get(next % RECENT) {
            slot.set((start, self.last_end.get()));
        }
        self.recent_next.set(next.wrapping_add(1));
        self.last_end.set(end);
    }

    /// The end of the token before the one starting at `start`, if recent.
    fn end_before(&self, start: usize) -> Option<usize> {
        self.recent
            .iter()
            .map(Cell::get)
            .find(|(s, _)| *s == start)
            .map(|(_, end)| end)
    }

    /// The tree, the errors met while parsing, and whether a node was too deep.
    pub fn finish<'t>(
        self,
        result: Result<Program, ParseError<usize, Token<'t>, Infallible>>,
        source_len: usize,
    ) -> (Program, Vec<SyntaxError>, bool) {
        let program = match result {
            Ok(program) => program,
            Err(error) => {
                self.push_parse_error(error, source_len);
                Program { items: Vec::new() }
            }
        };
        (program, self.errors.into_inner(), self.too_deep.get())
    }

    fn span(l: usize, r: usize) -> Span {
        Span::new(l, r.max(l))
    }

    /// Reports a syntax error that the grammar found in a well-formed token sequence.
    pub fn error(&self, kind: SyntaxErrorKind, span: Span) {
        self.errors.borrow_mut().push(SyntaxError { span, kind });
    }

    fn too_deep(&self, span: Span) {
        if !self.too_deep.replace(true) {
            self.error(
                SyntaxErrorKind::TooDeep {
                    limit: MAX_NESTING_DEPTH,
                },
                span,
            );
        }
    }

    /// Records what `!` matched: the error that started recovery.
    pub fn recover<'t>(&self, recovery: ErrorRecovery<usize, Token<'t>, Infallible>) {
        self.progress();
        self.push_parse_error(recovery.error, self.source.len());
    }

    fn push_parse_error<'t>(&self, error: ParseError<usize, Token<'t>, Infallible>, eof: usize) {
        let (span, kind) = match error {
            ParseError::UnrecognizedToken {
                token: (l, token, r),
                expected,
            } => {
                let found = describe(&token, self.source.get(l..r).unwrap_or(""));
                let expected = expected_names(&expected);
                // A `;` missing at the end of a line is best shown there, not
                // at the first token of the next line.
                let missing_semicolon = expected.iter().any(|e| e == "`;`")
                    && self.end_before(l).is_some_and(|end| {
                        self.source
                            .get(end..l)
                            .is_some_and(|gap| gap.contains('\n'))
                    });
                match self.end_before(l) {
                    Some(end) if missing_semicolon => (
                        Self::span(end, end),
                        SyntaxErrorKind::MissingSemicolon { found },
                    ),
                    _ => (
                        Self::span(l, r),
                        SyntaxErrorKind::UnexpectedToken { found, expected },
                    ),
                }
            }
            ParseError::UnrecognizedEof { location, expected } => (
                Self::span(location, location),
                SyntaxErrorKind::UnexpectedEof {
                    expected: expected_names(&expected),
                },
            ),
            ParseError::ExtraToken {
                token: (l, token, r),
            } => (
                Self::span(l, r),
                SyntaxErrorKind::UnexpectedToken {
                    found: describe(&token, self.source.get(l..r).unwrap_or("")),
                    expected: Vec::new(),
                },
            ),
            ParseError::InvalidToken { location } => (
                Self::span(location, (location + 1).min(eof)),
                SyntaxErrorKind::InvalidToken,
            ),
            ParseError::User { error } => match error {},
        };
        self.error(kind, span);
    }

    pub fn ident(&self, name: &str, l: usize, r: usize) -> Ident {
        self.progress();
        Ident {
            name: name.to_string(),
            span: Self::span(l, r),
        }
    }

    // ---- expressions ----

    /// The nesting depth of an expression built by this context.
    pub fn d(&self, e: &Expr) -> u32 {
        self.depths
            .borrow()
            .get(e.id.0 as usize)
            .map_or(1, |&d| u32::from(d))
    }

    fn max_d<'e>(&self, exprs: impl IntoIterator<Item = &'e Expr>) -> u32 {
        exprs.into_iter().map(|e| self.d(e)).max().unwrap_or(0)
    }

    fn child_depth(&self, kind: &ExprKind) -> u32 {
        match kind {
            ExprKind::Unary { operand, .. } => self.d(operand),
            ExprKind::Binary { lhs, rhs, .. } => self.d(lhs).max(self.d(rhs)),
            ExprKind::Index { base, index } => self.d(base).max(self.d(index)),
            ExprKind::Member { base, .. } => self.d(base),
            ExprKind::Call { args, .. } => self.max_d(args),
            ExprKind::MethodCall { receiver, args, .. } => self.d(receiver).max(self.max_d(args)),
            ExprKind::New { array_len, .. } => array_len.as_ref().map_or(0, |e| self.d(e)),
            ExprKind::Server { count, props, .. } => {
                let mut depth = count.as_ref().map_or(0, |e| self.d(e));
                for prop in props {
                    depth = depth.max(match &prop.kind {
                        ServerPropKind::Priority(e)
                        | ServerPropKind::Replicas(e)
                        | ServerPropKind::Durable(e)
                        | ServerPropKind::Tolerate(e) => self.d(e),
                        ServerPropKind::Hosts(hosts) => self.max_d(hosts),
                        ServerPropKind::Model(_) | ServerPropKind::Disjoint => 0,
                    });
                }
                depth
            }
            ExprKind::Invoke { call } => self.d(call),
            ExprKind::Accept {
                futures,
                count,
                timeout,
            } => self
                .d(futures)
                .max(self.d(count))
                .max(timeout.as_ref().map_or(0, |t| self.d(&t.seconds))),
            ExprKind::Int(_)
            | ExprKind::Real(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Null
            | ExprKind::This
            | ExprKind::Name(_)
            | ExprKind::Error => 0,
        }
    }

    /// Builds an expression node spanning `l..r`.
    pub fn expr(&self, kind: ExprKind, l: usize, r: usize) -> Expr {
        self.expr_with(kind, l, r, 0)
    }

    /// Builds an expression node that also contains a block of depth `extra`.
    pub fn expr_with(&self, kind: ExprKind, l: usize, r: usize, extra: u32) -> Expr {
        self.progress();
        let span = Self::span(l, r);
        let child = self.child_depth(&kind).max(extra);
        let (kind, depth) = if child >= LIMIT {
            self.too_deep(span);
            (ExprKind::Error, 1)
        } else {
            (kind, child + 1)
        };
        let mut depths = self.depths.borrow_mut();
        let id = ExprId(u32::try_from(depths.len()).unwrap_or(u32::MAX));
        depths.push(u16::try_from(depth).unwrap_or(u16::MAX));
        Expr { id, kind, span }
    }

    pub fn binary(&self, lhs: Expr, op: BinaryOp, rhs: Expr) -> Expr {
        let (l, r) = (lhs.span.start as usize, rhs.span.end as usize);
        self.expr(
            ExprKind::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
            l,
            r,
        )
    }

    /// Builds `first op1 e1 op2 e2 …` into a tree by operator precedence
    /// (shunting-yard, no recursion); all binary operators are left-associative.
    pub fn climb(&self, first: Expr, rest: Vec<(BinaryOp, Expr)>) -> Expr {
        if rest.len() <= 1 {
            // The common cases `e` and `a op b` need no stacks.
            return match rest.into_iter().next() {
                None => first,
                Some((op, rhs)) => self.binary(first, op, rhs),
            };
        }
        let mut operands = Vec::with_capacity(rest.len() + 1);
        operands.push(first);
        let mut operators: Vec<BinaryOp> = Vec::with_capacity(rest.len());
        for (op, operand) in rest {
            while let Some(&top) = operators.last() {
                if precedence(top) < precedence(op) {
                    break;
                }
                operators.pop();
                self.apply(&mut operands, top);
            }
            operators.push(op);
            operands.push(operand);
        }
        while let Some(op) = operators.pop() {
            self.apply(&mut operands, op);
        }
        // Each operator consumed two operands and produced one: one is left.
        operands
            .pop()
            .unwrap_or_else(|| self.expr(ExprKind::Error, 0, 0))
    }

    fn apply(&self, operands: &mut Vec<Expr>, op: BinaryOp) {
        let rhs = operands.pop();
        let lhs = operands.pop();
        if let (Some(lhs), Some(rhs)) = (lhs, rhs) {
            operands.push(self.binary(lhs, op, rhs));
        }
    }

    /// `invoke e`: `e` must be a method call.
    pub fn invoke(&self, call: Expr, l: usize, r: usize) -> Expr {
        let call = match call.kind {
            ExprKind::MethodCall { .. } | ExprKind::Error => call,
            _ => {
                self.error(SyntaxErrorKind::InvokeNeedsMethodCall, call.span);
                self.expr(
                    ExprKind::Error,
                    call.span.start as usize,
                    call.span.end as usize,
                )
            }
        };
        self.expr(
            ExprKind::Invoke {
                call: Box::new(call),
            },
            l,
            r,
        )
    }

    /// `accept (futures, count) [timeout (seconds) [block]]`.
    #[allow(clippy::too_many_arguments)]
    pub fn accept(
        &self,
        futures: Expr,
        count: Expr,
        timeout: Option<(Expr, Option<B>, usize, usize)>,
        l: usize,
        r: usize,
    ) -> Expr {
        let mut extra = 0;
        let timeout = timeout.map(|(seconds, block, tl, tr)| {
            let block = block.map(|(block, depth)| {
                extra = depth;
                block
            });
            AcceptTimeout {
                seconds: Box::new(seconds),
                block,
                span: Self::span(tl, tr),
            }
        });
        self.expr_with(
            ExprKind::Accept {
                futures: Box::new(futures),
                count: Box::new(count),
                timeout,
            },
            l,
            r,
            extra,
        )
    }

    /// The integer `1` that `x++` adds, spanning the `++`.
    pub fn one(&self, l: usize, r: usize) -> Expr {
        self.expr(ExprKind::Int(1), l, r)
    }

    // ---- statements ----

    fn checked_stmt(&self, kind: StmtKind, span: Span, child: u32) -> S {
        self.progress();
        if child >= LIMIT {
            self.too_deep(span);
            (
                Box::new(Stmt {
                    kind: StmtKind::Error,
                    span,
                }),
                1,
            )
        } else {
            (Box::new(Stmt { kind, span }), child + 1)
        }
    }

    fn var_decl_depth(&self, decl: &VarDecl) -> u32 {
        decl.vars
            .iter()
            .map(|(declarator, init)| {
                let len = match &declarator.array {
                    Some(Some(len)) => self.d(len),
                    _ => 0,
                };
                len.max(init.as_ref().map_or(0, |e| self.d(e)))
            })
            .max()
            .unwrap_or(0)
    }

    /// A statement whose only children are expressions (or nothing).
    pub fn simple(&self, kind: StmtKind, l: usize, r: usize) -> S {
        let child = match &kind {
            StmtKind::VarDecl(decl) => self.var_decl_depth(decl),
            StmtKind::Assign { target, value, .. } => self.d(target).max(self.d(value)),
            StmtKind::Return(value) => value.as_ref().map_or(0, |e| self.d(e)),
            StmtKind::Expr(e) | StmtKind::Assert(e) | StmtKind::Raise(e) => self.d(e),
            _ => 0,
        };
        self.checked_stmt(kind, Self::span(l, r), child)
    }

    pub fn var_decl(
        &self,
        ty: TypeExpr,
        vars: Vec<(Box<Declarator>, Option<Expr>)>,
        l: usize,
        r: usize,
    ) -> VarDecl {
        VarDecl {
            ty,
            vars: vars.into_iter().map(|(d, init)| (*d, init)).collect(),
            span: Self::span(l, r),
        }
    }

    pub fn block(&self, stmts: Vec<S>, l: usize, r: usize) -> B {
        let span = Self::span(l, r);
        let child = stmts.iter().map(|s| s.1).max().unwrap_or(0);
        if child >= LIMIT {
            self.too_deep(span);
            return (
                Block {
                    stmts: Vec::new(),
                    span,
                },
                1,
            );
        }
        let stmts = stmts.into_iter().map(|s| *s.0).collect();
        (Block { stmts, span }, child + 1)
    }

    pub fn block_stmt(&self, block: B, l: usize, r: usize) -> S {
        self.checked_stmt(StmtKind::Block(block.0), Self::span(l, r), block.1)
    }

    pub fn if_stmt(
        &self,
        cond: Expr,
        then_branch: S,
        else_branch: Option<S>,
        l: usize,
        r: usize,
    ) -> S {
        let child = self
            .d(&cond)
            .max(then_branch.1)
            .max(else_branch.as_ref().map_or(0, |s| s.1));
        let kind = StmtKind::If {
            cond,
            then_branch: then_branch.0,
            else_branch: else_branch.map(|s| s.0),
        };
        self.checked_stmt(kind, Self::span(l, r), child)
    }

    pub fn while_stmt(&self, cond: Expr, body: S, l: usize, r: usize) -> S {
        let child = self.d(&cond).max(body.1);
        let kind = StmtKind::While { cond, body: body.0 };
        self.checked_stmt(kind, Self::span(l, r), child)
    }

    pub fn for_stmt(&self, head: ForHead, body: S, l: usize, r: usize) -> S {
        let child = head
            .init
            .as_ref()
            .map_or(0, |s| s.1)
            .max(head.cond.as_ref().map_or(0, |e| self.d(e)))
            .max(head.step.as_ref().map_or(0, |s| s.1))
            .max(body.1);
        let kind = StmtKind::For {
            init: head.init.map(|s| s.0),
            cond: head.cond,
            step: head.step.map(|s| s.0),
            body: body.0,
        };
        self.checked_stmt(kind, Self::span(l, r), child)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn for_every(
        &self,
        var: Ident,
        lower: Expr,
        lower_op: BoundOp,
        second: Ident,
        upper_op: BoundOp,
        upper: Expr,
        body: B,
        l: usize,
        r: usize,
    ) -> S {
        if second.name != var.name {
            self.error(
                SyntaxErrorKind::ForEveryNameMismatch {
                    first: var.name.clone(),
                    second: second.name.clone(),
                },
                second.span,
            );
        }
        let span = Self::span(l, r);
        let body_span = body.0.span;
        let body = self.checked_stmt(StmtKind::Block(body.0), body_span, body.1);
        let child = self.d(&lower).max(self.d(&upper)).max(body.1);
        let kind = StmtKind::ForEvery {
            var,
            lower,
            lower_op,
            upper_op,
            upper,
            body: body.0,
        };
        self.checked_stmt(kind, span, child)
    }

    pub fn try_stmt(&self, body: B, catches: Vec<(Catch, u32)>, l: usize, r: usize) -> S {
        let child = catches.iter().map(|c| c.1).max().unwrap_or(0).max(body.1);
        let kind = StmtKind::Try {
            body: body.0,
            catches: catches.into_iter().map(|c| c.0).collect(),
        };
        self.checked_stmt(kind, Self::span(l, r), child)
    }

    pub fn catch(
        &self,
        kind: Ident,
        binding: Option<Ident>,
        body: B,
        l: usize,
        r: usize,
    ) -> (Catch, u32) {
        (
            Catch {
                kind,
                binding,
                body: body.0,
                span: Self::span(l, r),
            },
            body.1,
        )
    }

    // ---- types ----

    pub fn ty(&self, kind: TypeKind, l: usize, r: usize, child: u32) -> T {
        self.progress();
        let span = Self::span(l, r);
        if child >= LIMIT {
            self.too_deep(span);
            (
                TypeExpr {
                    kind: TypeKind::Error,
                    span,
                },
                1,
            )
        } else {
            (TypeExpr { kind, span }, child + 1)
        }
    }

    // ---- declarations ----

    pub fn function(
        &self,
        ret: TypeExpr,
        name: Ident,
        tail: FnTail,
        l: usize,
        r: usize,
    ) -> Function {
        let mut requires = Vec::new();
        let mut ensures = Vec::new();
        for contract in tail.contracts {
            match contract {
                Contract::Requires(e) => requires.push(e),
                Contract::Ensures(e) => ensures.push(e),
            }
        }
        Function {
            ret,
            name,
            params: tail.params.into_iter().map(|p| *p).collect(),
            requires,
            ensures,
            body: tail.body.map(|b| b.0),
            span: Self::span(l, r),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn class(
        &self,
        is_server: bool,
        name: Ident,
        base: Option<Ident>,
        entries: Vec<Entry>,
        l: usize,
        r: usize,
    ) -> ClassDecl {
        let mut visibility = Visibility::Private;
        let mut members = Vec::new();
        for entry in entries {
            match entry {
                Entry::Label(v) => visibility = v,
                Entry::Member(member) => {
                    let mut member = *member;
                    member.visibility = visibility;
                    members.push(member);
                }
            }
        }
        ClassDecl {
            is_server,
            name,
            base,
            members,
            span: Self::span(l, r),
        }
    }

    pub fn member(&self, kind: MemberKind, l: usize, r: usize) -> Entry {
        Entry::Member(Box::new(Member {
            visibility: Visibility::Private,
            kind,
            span: Self::span(l, r),
        }))
    }

    pub fn span_of(&self, l: usize, r: usize) -> Span {
        Self::span(l, r)
    }
}

/// The parts of `for (init; cond; step)`.
pub(crate) struct ForHead {
    pub init: Option<S>,
    pub cond: Option<Expr>,
    pub step: Option<S>,
}

/// Binding strength of a binary operator: higher binds tighter (C's order).
fn precedence(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => 1,
        BinaryOp::And => 2,
        BinaryOp::Eq | BinaryOp::Ne => 3,
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 4,
        BinaryOp::Add | BinaryOp::Sub => 5,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 6,
    }
}

/// lalrpop names terminals as quoted strings (`"\";\""`); messages want
/// keywords and punctuation in backquotes and token classes plainly.
/// `durable` is left out where an identifier is expected: there it is just
/// one more name, not the server property.
fn expected_names(expected: &[String]) -> Vec<String> {
    let identifier = expected.iter().any(|name| name == "\"identifier\"");
    expected
        .iter()
        .filter(|name| !(identifier && *name == "\"durable\""))
        .map(|name| {
            let bare = name
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or(name);
            match bare {
                "identifier" | "integer literal" | "real literal" | "string literal" => {
                    bare.to_string()
                }
                _ => format!("`{}`", bare.replace("\\\"", "\"")),
            }
        })
        .collect()
}
