//! Semantic types of CMSL values, and the identifiers of the checked program's tables.

/// Index into [`crate::CheckedProgram::classes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId(pub u32);

/// Index into [`crate::CheckedProgram::functions`] (free functions and methods alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FnId(pub u32);

/// Index into [`crate::CheckedProgram::vars`]: globals, state variables,
/// parameters, locals, catch bindings and `for every` variables alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u32);

/// The predefined exception kinds (`failure` is the root of the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExceptionKind {
    /// `failure`: catches every exception.
    Failure,
    /// `timeout`
    Timeout,
    /// `server_failure`
    ServerFailure,
    /// `assertion_failure`
    AssertionFailure,
    /// `program_error`
    ProgramError,
}

impl ExceptionKind {
    /// The kind named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<ExceptionKind> {
        Some(match name {
            "failure" => ExceptionKind::Failure,
            "timeout" => ExceptionKind::Timeout,
            "server_failure" => ExceptionKind::ServerFailure,
            "assertion_failure" => ExceptionKind::AssertionFailure,
            "program_error" => ExceptionKind::ProgramError,
            _ => return None,
        })
    }

    /// The name as written in CMSL.
    pub fn name(self) -> &'static str {
        match self {
            ExceptionKind::Failure => "failure",
            ExceptionKind::Timeout => "timeout",
            ExceptionKind::ServerFailure => "server_failure",
            ExceptionKind::AssertionFailure => "assertion_failure",
            ExceptionKind::ProgramError => "program_error",
        }
    }
}

/// What a future's `->result` yields.
#[derive(Clone, Debug, PartialEq)]
pub enum FutureOf {
    /// `future<T>`, or the type of an `invoke` expression.
    Known(Box<Ty>),
    /// A plain `future` declared as this variable (or an array/list of them):
    /// its result type is inferred, see [`crate::CheckedProgram::future_result`].
    Inferred(VarId),
    /// A plain `future` not tied to a variable (a result type, `new future[n]`).
    Any,
}

/// The type of a CMSL value.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// `int`
    Int,
    /// `real`, `float`, `double`
    Real,
    /// `boolean`, `bool`
    Bool,
    /// `string`
    Str,
    /// `void` (results only)
    Void,
    /// `host`
    Host,
    /// The type of the literal `null`.
    Null,
    /// `list<T>`
    List(Box<Ty>),
    /// `map<K, V>`
    Map(Box<Ty>, Box<Ty>),
    /// `T a[n]`, `new T[n]`
    Array(Box<Ty>),
    /// `future`, `future<T>`
    Future(FutureOf),
    /// A reference to an object of a plain class, or a server handle (possibly
    /// of an array of servers) for a server class.
    Class(ClassId),
    /// A caught exception (`catch (failure f)`): has `->message`.
    Exception(ExceptionKind),
    /// The type of an expression that already produced an error; compatible
    /// with everything so that one mistake is reported once.
    Unknown,
}

impl Ty {
    /// `int` or `real`.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Real)
    }

    /// True for [`Ty::Unknown`].
    pub fn is_unknown(&self) -> bool {
        matches!(self, Ty::Unknown)
    }

    /// The type as the user writes it: `class` names a class, `result` gives
    /// a future's result type when known.
    pub fn display(
        &self,
        class: &dyn Fn(ClassId) -> Option<String>,
        result: &dyn Fn(&FutureOf) -> Option<Ty>,
    ) -> String {
        let show = |t: &Ty| t.display(class, result);
        match self {
            Ty::Int => "int".into(),
            Ty::Real => "real".into(),
            Ty::Bool => "boolean".into(),
            Ty::Str => "string".into(),
            Ty::Void => "void".into(),
            Ty::Host => "host".into(),
            Ty::Null => "null".into(),
            Ty::List(e) => format!("list<{}>", show(e)),
            Ty::Map(k, v) => format!("map<{}, {}>", show(k), show(v)),
            Ty::Array(e) => format!("{}[]", show(e)),
            Ty::Future(f) => match result(f) {
                Some(r) => format!("future<{}>", show(&r)),
                None => "future".into(),
            },
            Ty::Class(c) => class(*c).unwrap_or_else(|| "{unknown}".into()),
            Ty::Exception(k) => k.name().into(),
            Ty::Unknown => "{unknown}".into(),
        }
    }
}
