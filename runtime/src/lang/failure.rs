//! CMSL exceptions: [`Failure`] with its [`FailureKind`], and [`Res`], the result type of
//! every generated function that can raise.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The result of anything that can raise a CMSL exception.
///
/// ```
/// use ftc_runtime::lang::{int, Failure, FailureKind, Res};
/// fn half(x: i64) -> Res<i64> {
///     int::div(x, 2)
/// }
/// assert_eq!(half(7), Ok(3));
/// assert!(int::div(1, 0).unwrap_err().is(FailureKind::ProgramError));
/// ```
pub type Res<T> = Result<T, Failure>;

/// The kinds of CMSL exceptions. `failure` is the root: a `catch (failure f)` catches
/// every kind; a value of kind [`FailureKind::Failure`] is never raised by the runtime.
///
/// ```
/// use ftc_runtime::lang::FailureKind;
/// assert!(FailureKind::Failure.catches(FailureKind::Timeout));
/// assert!(!FailureKind::Timeout.catches(FailureKind::ServerFailure));
/// assert_eq!(FailureKind::ServerFailure.name(), "server_failure");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FailureKind {
    /// `failure`: the root kind, used in `catch` clauses only.
    Failure,
    /// `timeout`: an `accept … timeout` without a block ran out of time.
    Timeout,
    /// `server_failure`: a server cannot answer (too many replicas failed, or no
    /// reply within the call deadline), or cannot be started.
    ServerFailure,
    /// `assertion_failure`: a failed `requires`, `ensures`, `invariant` or `assert`.
    AssertionFailure,
    /// `program_error`: `raise`, integer overflow, division by zero, index out of
    /// range, null dereference, bad text for `parse_int`, a cyclic value passed to a
    /// server, and other run-time errors.
    ProgramError,
}

impl FailureKind {
    /// The CMSL name of the kind, e.g. `"program_error"`.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Failure => "failure",
            FailureKind::Timeout => "timeout",
            FailureKind::ServerFailure => "server_failure",
            FailureKind::AssertionFailure => "assertion_failure",
            FailureKind::ProgramError => "program_error",
        }
    }

    /// Whether `catch (self)` catches an exception of kind `raised`.
    pub fn catches(self, raised: FailureKind) -> bool {
        self == FailureKind::Failure || self == raised
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where in the CMSL source an exception was raised.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The CMSL file name, e.g. `"golden.cmsl"`.
    pub file: String,
    /// 1-based line number.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A CMSL exception: its kind, its `->message`, and optionally where it was raised.
/// Exceptions raised in a server travel back to the caller unchanged (they are
/// serialized in the reply).
///
/// ```
/// use ftc_runtime::lang::{Failure, FailureKind};
/// let f = Failure::program_error("total 9 exceeds 5").at("golden.cmsl", 31);
/// assert_eq!(f.kind, FailureKind::ProgramError);
/// assert_eq!(f.message, "total 9 exceeds 5");
/// assert_eq!(f.to_string(), "program_error: total 9 exceeds 5");
/// assert_eq!(
///     f.report(),
///     "error: program_error: total 9 exceeds 5\n  --> golden.cmsl:31"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What kind of exception this is (what `catch` matches on).
    pub kind: FailureKind,
    /// The text of `f->message`.
    pub message: String,
    /// The CMSL source location of the raise, when generated code attached one.
    pub location: Option<Location>,
}

impl Failure {
    /// An exception of any kind.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            location: None,
        }
    }

    /// A `program_error` (what `raise "…"` raises).
    pub fn program_error(message: impl Into<String>) -> Failure {
        Failure::new(FailureKind::ProgramError, message)
    }

    /// A `timeout`.
    pub fn timeout(message: impl Into<String>) -> Failure {
        Failure::new(FailureKind::Timeout, message)
    }

    /// A `server_failure`.
    pub fn server_failure(message: impl Into<String>) -> Failure {
        Failure::new(FailureKind::ServerFailure, message)
    }

    /// An `assertion_failure`.
    pub fn assertion_failure(message: impl Into<String>) -> Failure {
        Failure::new(FailureKind::AssertionFailure, message)
    }

    /// Attaches a source location, unless one is attached already (the innermost
    /// location, where the exception was raised, wins).
    pub fn at(mut self, file: &str, line: u32) -> Failure {
        if self.location.is_none() {
            self.location = Some(Location {
                file: file.to_string(),
                line,
            });
        }
        self
    }

    /// Whether `catch (kind)` catches this exception.
    pub fn is(&self, kind: FailureKind) -> bool {
        kind.catches(self.kind)
    }

    /// The message `main` prints on stderr when this exception is not caught:
    /// `error: <kind>: <message>`, then `  --> file:line` when a location is known.
    pub fn report(&self) -> String {
        match &self.location {
            Some(at) => format!("error: {}: {}\n  --> {at}", self.kind, self.message),
            None => format!("error: {}: {}", self.kind, self.message),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Failure {}

/// Attaches a source location to the error of a [`Res`].
///
/// ```
/// use ftc_runtime::lang::{int, ResultExt};
/// let r = int::add(i64::MAX, 1).at("golden.cmsl", 7);
/// assert_eq!(r.unwrap_err().location.unwrap().line, 7);
/// ```
pub trait ResultExt {
    /// See [`Failure::at`].
    fn at(self, file: &str, line: u32) -> Self;
}

impl<T> ResultExt for Res<T> {
    fn at(self, file: &str, line: u32) -> Self {
        self.map_err(|f| f.at(file, line))
    }
}

/// `assert e;`, `requires e;`, `ensures e;` and `invariant e;`: an
/// `assertion_failure` naming the condition's CMSL text when it is false.
///
/// ```
/// use ftc_runtime::lang::check;
/// assert!(check(true, "x > 0").is_ok());
/// assert_eq!(
///     check(false, "requires it->qty > 0").unwrap_err().message,
///     "requires it->qty > 0"
/// );
/// ```
pub fn check(condition: bool, text: &str) -> Res<()> {
    if condition {
        Ok(())
    } else {
        Err(Failure::assertion_failure(text))
    }
}
