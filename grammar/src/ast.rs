//! The CMSL abstract syntax tree: every node carries the byte span it came from.
//!
//! The tree is what the parser saw, not what it means: `real`, `float` and
//! `double` are kept apart only by their span text, names are not resolved, and
//! no types are known. Nodes that the parser had to invent while recovering from
//! a syntax error are `*Kind::Error` and never produce further diagnostics.

use std::fmt;

/// A half-open byte range `[start, end)` into the source text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        // Sources are limited to u32::MAX bytes before lexing (see `parse`).
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// Identifies one expression node, so later passes can keep side tables
/// (types, resolutions) keyed by it. Unique within one parsed program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

/// A whole source file.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `class C { … }` or `server class C { … }`.
    Class(ClassDecl),
    /// `T C::m (…) { … }`: a method defined outside its class.
    MethodDef(MethodDef),
    /// A free function, declared (`T f (…);`) or defined (`T f (…) { … }`); `main` is one.
    Function(Function),
    /// A global variable.
    Global(VarDecl),
    /// What the parser skipped while recovering from a syntax error.
    Error(Span),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClassDecl {
    pub is_server: bool,
    pub name: Ident,
    /// `class b : a { … }` (single inheritance).
    pub base: Option<Ident>,
    pub members: Vec<Member>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Private,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The section the member is in; members before any section label are private (C++).
    pub visibility: Visibility,
    pub kind: MemberKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MemberKind {
    /// `attribute T x [= e];` or `relation T x [= e];`.
    State(StateDecl),
    /// A method, declared or defined inline.
    Method(Function),
    /// `invariant e;`
    Invariant(Expr),
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKind {
    Attribute,
    Relation,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StateDecl {
    pub kind: StateKind,
    pub ty: TypeExpr,
    pub declarator: Declarator,
    pub init: Option<Expr>,
    pub span: Span,
}

/// A function or method signature, its contracts and (if defined) its body.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub ret: TypeExpr,
    pub name: Ident,
    pub params: Vec<Param>,
    /// `requires e;` clauses, in order.
    pub requires: Vec<Expr>,
    /// `ensures e;` clauses, in order; they may use `result`.
    pub ensures: Vec<Expr>,
    /// `None` for a declaration ending in `;`.
    pub body: Option<Block>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MethodDef {
    pub class: Ident,
    pub function: Function,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub ty: TypeExpr,
    pub declarator: Declarator,
    pub span: Span,
}

/// A declared name with an optional array suffix: `x`, `a[5]`, `a[]` (parameters).
#[derive(Clone, Debug, PartialEq)]
pub struct Declarator {
    pub name: Ident,
    /// `Some(Some(len))` for `a[len]`, `Some(None)` for `a[]`, `None` for a scalar.
    pub array: Option<Option<Expr>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    Int,
    /// `real`, `float` or `double`.
    Real,
    /// `boolean` or `bool`.
    Bool,
    String,
    Void,
    Host,
    List(Box<TypeExpr>),
    Map(Box<TypeExpr>, Box<TypeExpr>),
    /// `future` (`None`: result type inferred) or `future<T>`.
    Future(Option<Box<TypeExpr>>),
    /// A user class or server class name (or a predefined exception kind such as `failure`).
    Named(Ident),
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VarDecl {
    pub ty: TypeExpr,
    /// `int a = 1, b[3];` declares several names of one type.
    pub vars: Vec<(Declarator, Option<Expr>)>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    Assign,
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Catch {
    /// The exception kind caught: `failure`, `timeout`, `server_failure`, …
    pub kind: Ident,
    /// `catch (failure f)` binds the exception to `f`.
    pub binding: Option<Ident>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    VarDecl(VarDecl),
    /// `target op value;` where `target` is a name, an index or a member access.
    /// `x++` / `x--` are parsed as `x += 1` / `x -= 1`.
    Assign {
        target: Expr,
        op: AssignOp,
        value: Expr,
    },
    If {
        cond: Expr,
        then_branch: Box<Stmt>,
        else_branch: Option<Box<Stmt>>,
    },
    While {
        cond: Expr,
        body: Box<Stmt>,
    },
    /// `for (init; cond; step) body`; each part may be empty.
    For {
        init: Option<Box<Stmt>>,
        cond: Option<Expr>,
        step: Option<Box<Stmt>>,
        body: Box<Stmt>,
    },
    /// `for every i, lower <= i < upper body`.
    ForEvery {
        var: Ident,
        lower: Expr,
        lower_op: BoundOp,
        upper_op: BoundOp,
        upper: Expr,
        body: Box<Stmt>,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    Block(Block),
    Expr(Expr),
    Assert(Expr),
    Raise(Expr),
    Try {
        body: Block,
        catches: Vec<Catch>,
    },
    /// `;` on its own.
    Empty,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub id: ExprId,
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    Correct,
    Crash,
    Byzantine,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServerProp {
    pub kind: ServerPropKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ServerPropKind {
    Priority(Expr),
    Replicas(Expr),
    /// `tolerate (e)` or `tolerance (e)`.
    Tolerate(Expr),
    Model(Model),
    /// `hosts (h1, h2)`: each is an expression of type `host` or a bare host name.
    Hosts(Vec<Expr>),
    Disjoint,
    /// `durable (name)`: the server keeps its state on stable storage under
    /// the name, an expression of type `string`.
    Durable(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct AcceptTimeout {
    pub seconds: Box<Expr>,
    /// The block run when the timeout fires; without one, `timeout` is raised.
    pub block: Option<Block>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Real(f64),
    /// The string's value, escapes already decoded.
    Str(String),
    Bool(bool),
    Null,
    This,
    Name(Ident),
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `base[index]`
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `base->name` (a state variable, or `f->result`, or `e->message`).
    Member {
        base: Box<Expr>,
        name: Ident,
    },
    /// `f(args)`: a free function, a built-in, or a method of `this`.
    Call {
        callee: Ident,
        args: Vec<Expr>,
    },
    /// `receiver->method(args)`
    MethodCall {
        receiver: Box<Expr>,
        method: Ident,
        args: Vec<Expr>,
    },
    /// `new C` or `new T[len]`.
    New {
        ty: TypeExpr,
        array_len: Option<Box<Expr>>,
    },
    /// `server C [count] props…`
    Server {
        class: Ident,
        count: Option<Box<Expr>>,
        props: Vec<ServerProp>,
    },
    /// `invoke receiver->method(args)`: `call` is always a `MethodCall` (or `Error`).
    Invoke {
        call: Box<Expr>,
    },
    /// `accept (futures, count) [timeout (seconds) [block]]`
    Accept {
        futures: Box<Expr>,
        count: Box<Expr>,
        timeout: Option<AcceptTimeout>,
    },
    Error,
}
