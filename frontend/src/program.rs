//! The checked program: the AST plus symbol tables and per-expression side tables.

use crate::types::{ClassId, FnId, FutureOf, Ty, VarId};
use ftc_grammar::{ExprId, Function, Item, MemberKind, Program, Span, Visibility};
use std::collections::HashMap;

/// A built-in function of LANGUAGE.md §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Builtin {
    Print,
    Println,
    Sqrt,
    Abs,
    Min,
    Max,
    Floor,
    Sin,
    Cos,
    Atan2,
    Len,
    ToString,
    Split,
    Trim,
    ParseInt,
    ParseReal,
    ReadLines,
    WriteFile,
    Args,
    MyHost,
    Host,
    Now,
    Random,
    Sleep,
    ToInt,
    ToReal,
    Round,
    Ceil,
    Substr,
    IndexOf,
    CharAt,
}

impl Builtin {
    /// The built-in called `name`, if any.
    pub fn from_name(name: &str) -> Option<Builtin> {
        use Builtin::*;
        Some(match name {
            "print" => Print,
            "println" => Println,
            "sqrt" => Sqrt,
            "abs" => Abs,
            "min" => Min,
            "max" => Max,
            "floor" => Floor,
            "sin" => Sin,
            "cos" => Cos,
            "atan2" => Atan2,
            "len" => Len,
            "to_string" => ToString,
            "split" => Split,
            "trim" => Trim,
            "parse_int" => ParseInt,
            "parse_real" => ParseReal,
            "read_lines" => ReadLines,
            "write_file" => WriteFile,
            "args" => Args,
            "my_host" => MyHost,
            "host" => Host,
            "now" => Now,
            "random" => Random,
            "sleep" => Sleep,
            "to_int" => ToInt,
            "to_real" => ToReal,
            "round" => Round,
            "ceil" => Ceil,
            "substr" => Substr,
            "index_of" => IndexOf,
            "char_at" => CharAt,
            _ => return None,
        })
    }

    /// Every built-in, in the order of LANGUAGE.md §4.
    pub const ALL: [Builtin; 31] = [
        Builtin::Print,
        Builtin::Println,
        Builtin::Sqrt,
        Builtin::Abs,
        Builtin::Min,
        Builtin::Max,
        Builtin::Floor,
        Builtin::Sin,
        Builtin::Cos,
        Builtin::Atan2,
        Builtin::Len,
        Builtin::ToString,
        Builtin::Split,
        Builtin::Trim,
        Builtin::ParseInt,
        Builtin::ParseReal,
        Builtin::ReadLines,
        Builtin::WriteFile,
        Builtin::Args,
        Builtin::MyHost,
        Builtin::Host,
        Builtin::Now,
        Builtin::Random,
        Builtin::Sleep,
        Builtin::ToInt,
        Builtin::ToReal,
        Builtin::Round,
        Builtin::Ceil,
        Builtin::Substr,
        Builtin::IndexOf,
        Builtin::CharAt,
    ];

    /// The name as written in CMSL.
    pub fn name(self) -> &'static str {
        use Builtin::*;
        match self {
            Print => "print",
            Println => "println",
            Sqrt => "sqrt",
            Abs => "abs",
            Min => "min",
            Max => "max",
            Floor => "floor",
            Sin => "sin",
            Cos => "cos",
            Atan2 => "atan2",
            Len => "len",
            ToString => "to_string",
            Split => "split",
            Trim => "trim",
            ParseInt => "parse_int",
            ParseReal => "parse_real",
            ReadLines => "read_lines",
            WriteFile => "write_file",
            Args => "args",
            MyHost => "my_host",
            Host => "host",
            Now => "now",
            Random => "random",
            Sleep => "sleep",
            ToInt => "to_int",
            ToReal => "to_real",
            Round => "round",
            Ceil => "ceil",
            Substr => "substr",
            IndexOf => "index_of",
            CharAt => "char_at",
        }
    }

    /// True for the calls whose result or effect can differ between replicas.
    pub fn is_nondeterministic(self) -> bool {
        use Builtin::*;
        matches!(
            self,
            Now | Random | MyHost | Sleep | ReadLines | WriteFile | Args
        )
    }
}

/// A method of the built-in `list<T>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ListMethod {
    Add,
    Get,
    Set,
    Size,
    Remove,
}

/// A method of the built-in `map<K, V>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum MapMethod {
    Put,
    Get,
    Has,
    Remove,
    Keys,
    Size,
}

/// What a name, call or member expression refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    /// A variable (`Name`), or a state variable (`Name` inside a method, or `e->x`).
    Var(VarId),
    /// `f(…)`: a free function.
    Function(FnId),
    /// `m(…)` on `this`, or `r->m(…)` on an object of a plain class (or on
    /// `this`): a local method call, resolved statically.
    Method(FnId),
    /// `r->m(…)` (also inside `invoke`) where `r` is a server handle: a
    /// command sent to a (possibly replicated) server.
    ServerMethod(FnId),
    /// `f(…)`: a built-in function.
    Builtin(Builtin),
    /// `l->m(…)` on a list.
    ListMethod(ListMethod),
    /// `m->m(…)` on a map.
    MapMethod(MapMethod),
    /// `f->result` on a future.
    FutureResult,
    /// `e->message` on a caught exception.
    ExceptionMessage,
    /// `result` in an `ensures` clause.
    EnsuresResult,
    /// A bare host name in `hosts (…)`, meaning `host("name")`.
    HostName(String),
}

/// A `server C [n] props…` expression, with its replica arithmetic done.
#[derive(Clone, Debug)]
pub struct ServerSite {
    /// The `server` expression.
    pub expr: ExprId,
    /// Its span.
    pub span: Span,
    /// The server class started.
    pub class: ClassId,
    /// The failure model (`correct` when not written).
    pub model: ftc_grammar::Model,
    /// Replicas per server actually used, `max(replicas, need)`, when the
    /// numbers are constants; `None` when they are computed at run time.
    pub replicas: Option<i64>,
}

/// Where a function's AST node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FnLoc {
    /// `program.items[item]` is an `Item::Function`.
    Free {
        /// Index into `program.items`.
        item: usize,
    },
    /// `program.items[item]` is a class whose `members[member]` is the method.
    Inline {
        /// Index into `program.items`.
        item: usize,
        /// Index into the class's members.
        member: usize,
    },
    /// `program.items[item]` is an `Item::MethodDef`.
    OutOfClass {
        /// Index into `program.items`.
        item: usize,
    },
}

/// A class or server class.
#[derive(Clone, Debug)]
pub struct ClassInfo {
    /// Its name.
    pub name: String,
    /// The span of its name in the declaration.
    pub name_span: Span,
    /// `server class`.
    pub is_server: bool,
    /// The base class (`class b : a`), if any; the chain has no cycles.
    pub base: Option<ClassId>,
    /// Its own state variables, in declaration order (see [`VarKind::State`]).
    pub state: Vec<VarId>,
    /// Its own methods, in declaration order.
    pub methods: Vec<FnId>,
    /// Index of its `Item::Class` in `program.items`.
    pub item: usize,
}

/// A free function or a method.
#[derive(Clone, Debug)]
pub struct FunctionInfo {
    /// Its name.
    pub name: String,
    /// The class it is a method of; `None` for a free function.
    pub owner: Option<ClassId>,
    /// For methods, its section; free functions are `Public`.
    pub visibility: Visibility,
    /// Parameters, in order (from the definition when there is one).
    pub params: Vec<VarId>,
    /// The result type (`Ty::Void` for `void`).
    pub ret: Ty,
    /// Span of the name in the first declaration.
    pub name_span: Span,
    /// Where it was first declared. Its contracts are those written there
    /// and those written on the definition (both are checked).
    pub decl: FnLoc,
    /// Where its body is; always `Some` in a program without errors.
    pub def: Option<FnLoc>,
}

/// What kind of variable a [`VarId`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    /// A global variable.
    Global,
    /// A state variable (`attribute`/`relation`) of a class.
    State {
        /// The class declaring it.
        class: ClassId,
        /// Its section.
        visibility: Visibility,
    },
    /// A parameter of a function or method.
    Param {
        /// The function.
        function: FnId,
    },
    /// A local variable (including `for every` variables).
    Local,
    /// `catch (failure f)`'s `f`.
    CatchBinding,
    /// The result of a function whose result type is a plain `future`: its
    /// inferred result type comes from the invocations it returns.
    Result {
        /// The function.
        function: FnId,
    },
}

/// A variable of any kind.
#[derive(Clone, Debug)]
pub struct VarInfo {
    /// Its name.
    pub name: String,
    /// Its type (arrays are `Ty::Array`).
    pub ty: Ty,
    /// Span of its name in its declaration.
    pub span: Span,
    /// Global, state, parameter, local.
    pub kind: VarKind,
}

/// A program that passed the checker, ready for lowering: the AST plus tables.
#[derive(Debug)]
pub struct CheckedProgram {
    /// The parsed program the tables refer to.
    pub ast: Program,
    /// Every class, by [`ClassId`].
    pub classes: Vec<ClassInfo>,
    /// Every free function and method, by [`FnId`].
    pub functions: Vec<FunctionInfo>,
    /// Every variable, by [`VarId`].
    pub vars: Vec<VarInfo>,
    /// Global variables, in declaration order.
    pub globals: Vec<VarId>,
    /// The `main` function.
    pub main: Option<FnId>,
    /// Every `server` expression, in source order.
    pub server_sites: Vec<ServerSite>,
    pub(crate) expr_types: ExprMap<Ty>,
    pub(crate) resolutions: ExprMap<Resolution>,
    pub(crate) future_results: HashMap<VarId, Ty>,
    pub(crate) class_by_name: HashMap<String, ClassId>,
}

impl CheckedProgram {
    /// The type of an expression (every checked expression has one).
    pub fn type_of(&self, id: ExprId) -> Option<&Ty> {
        self.expr_types.get(&id)
    }

    /// What a `Name`, `Call`, `MethodCall` or `Member` expression refers to.
    pub fn resolution(&self, id: ExprId) -> Option<&Resolution> {
        self.resolutions.get(&id)
    }

    /// The inferred result type of a plain `future` variable (`None` if it never
    /// receives an invocation).
    pub fn future_result(&self, var: VarId) -> Option<&Ty> {
        self.future_results.get(&var)
    }

    /// The result type of a future type, resolving plain futures.
    pub fn result_of<'s>(&'s self, future: &'s FutureOf) -> Option<&'s Ty> {
        match future {
            FutureOf::Known(t) => Some(t),
            FutureOf::Inferred(v) => self.future_result(*v),
            FutureOf::Any => None,
        }
    }

    /// A type as the user writes it (plain futures with their inferred result).
    pub fn show_type(&self, t: &Ty) -> String {
        t.display(
            &|c| self.classes.get(c.0 as usize).map(|c| c.name.clone()),
            &|f| self.result_of(f).cloned(),
        )
    }

    /// The class called `name`.
    pub fn class_by_name(&self, name: &str) -> Option<ClassId> {
        self.class_by_name.get(name).copied()
    }

    /// The class's info.
    pub fn class(&self, id: ClassId) -> &ClassInfo {
        &self.classes[id.0 as usize]
    }

    /// The function's info.
    pub fn function(&self, id: FnId) -> &FunctionInfo {
        &self.functions[id.0 as usize]
    }

    /// The variable's info.
    pub fn var(&self, id: VarId) -> &VarInfo {
        &self.vars[id.0 as usize]
    }

    /// The server classes, in declaration order.
    pub fn server_classes(&self) -> impl Iterator<Item = ClassId> + '_ {
        (0..self.classes.len() as u32)
            .map(ClassId)
            .filter(|c| self.class(*c).is_server)
    }

    /// The class and its bases, the class first.
    pub fn class_chain(&self, class: ClassId) -> Vec<ClassId> {
        let mut chain = vec![class];
        while let Some(base) = self.class(chain[chain.len() - 1]).base {
            // Cycles were rejected by the checker; the bound is a safety net.
            if chain.len() > self.classes.len() {
                break;
            }
            chain.push(base);
        }
        chain
    }

    /// True when `sub` is `base` or inherits from it.
    pub fn is_subclass(&self, sub: ClassId, base: ClassId) -> bool {
        self.class_chain(sub).contains(&base)
    }

    /// Every state variable of an object of the class: inherited ones first,
    /// in declaration order (what a snapshot of a server holds).
    pub fn all_state(&self, class: ClassId) -> Vec<VarId> {
        let mut out = Vec::new();
        for c in self.class_chain(class).into_iter().rev() {
            out.extend_from_slice(&self.class(c).state);
        }
        out
    }

    /// Every method an object of the class answers: inherited ones first, an
    /// override taking the place of the method it overrides (what a server's
    /// command set is).
    pub fn all_methods(&self, class: ClassId) -> Vec<FnId> {
        let mut out: Vec<FnId> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for c in self.class_chain(class).into_iter().rev() {
            for &m in &self.class(c).methods {
                let name = self.function(m).name.as_str();
                match index.get(name) {
                    Some(&i) => out[i] = m,
                    None => {
                        index.insert(name, out.len());
                        out.push(m);
                    }
                }
            }
        }
        out
    }

    /// The AST of a function's definition (its declaration when undefined).
    pub fn function_ast(&self, id: FnId) -> Option<&Function> {
        let info = self.function(id);
        function_at(&self.ast, info.def.unwrap_or(info.decl))
    }
}

/// The function node at a location.
pub(crate) fn function_at(ast: &Program, loc: FnLoc) -> Option<&Function> {
    match loc {
        FnLoc::Free { item } => match ast.items.get(item)? {
            Item::Function(f) => Some(f),
            _ => None,
        },
        FnLoc::OutOfClass { item } => match ast.items.get(item)? {
            Item::MethodDef(m) => Some(&m.function),
            _ => None,
        },
        FnLoc::Inline { item, member } => match ast.items.get(item)? {
            Item::Class(c) => match &c.members.get(member)?.kind {
                MemberKind::Method(f) => Some(f),
                _ => None,
            },
            _ => None,
        },
    }
}

/// A table keyed by [`ExprId`]. The parser numbers expressions densely from
/// zero, so a vector is used; ids beyond a sane bound (which the parser never
/// makes) go to a hash map rather than a huge vector.
#[derive(Debug)]
pub(crate) struct ExprMap<T> {
    dense: Vec<Option<T>>,
    sparse: HashMap<ExprId, T>,
}

/// Ids below this are kept in the vector.
const DENSE_IDS_MAX: usize = 1 << 26;

impl<T> ExprMap<T> {
    pub(crate) fn new() -> ExprMap<T> {
        ExprMap {
            dense: Vec::new(),
            sparse: HashMap::new(),
        }
    }

    pub(crate) fn insert(&mut self, id: ExprId, value: T) {
        let i = id.0 as usize;
        if i >= DENSE_IDS_MAX {
            self.sparse.insert(id, value);
            return;
        }
        if i >= self.dense.len() {
            let len = (i + 1).max(self.dense.len() * 2);
            self.dense.resize_with(len, || None);
        }
        self.dense[i] = Some(value);
    }

    pub(crate) fn get(&self, id: &ExprId) -> Option<&T> {
        match self.dense.get(id.0 as usize) {
            Some(slot) => slot.as_ref(),
            None => self.sparse.get(id),
        }
    }
}
