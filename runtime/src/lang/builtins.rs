//! CMSL's built-in functions that do not depend on where the code runs: math,
//! strings, files, time and random numbers. (`print`, `sleep`, `args`, `my_host`
//! and `host` are in [`crate::program::builtins`].)
//!
//! Math follows IEEE: `sqrt(-1.0)` is `NaN`, no exception. The `int` forms of
//! `abs`, `min` and `max` are separate functions (`abs_int`, …) so generated code
//! picks one by the argument type.

use super::coll::List;
use super::failure::{Failure, Res};
use super::show::{show_all, Show};

/// `sqrt(x)`.
pub fn sqrt(x: f64) -> f64 {
    x.sqrt()
}

/// `abs(x)` for `real`.
pub fn abs_real(x: f64) -> f64 {
    x.abs()
}

/// `abs(x)` for `int`; `abs(-9223372036854775808)` overflows.
///
/// ```
/// use ftc_runtime::lang::builtins::abs_int;
/// assert_eq!(abs_int(-4), Ok(4));
/// assert!(abs_int(i64::MIN).is_err());
/// ```
pub fn abs_int(x: i64) -> Res<i64> {
    x.checked_abs()
        .ok_or_else(|| Failure::program_error(format!("integer overflow in abs({x})")))
}

/// `min(a, b)` for `int`.
pub fn min_int(a: i64, b: i64) -> i64 {
    a.min(b)
}

/// `max(a, b)` for `int`.
pub fn max_int(a: i64, b: i64) -> i64 {
    a.max(b)
}

/// `min(a, b)` for `real`.
pub fn min_real(a: f64, b: f64) -> f64 {
    a.min(b)
}

/// `max(a, b)` for `real`.
pub fn max_real(a: f64, b: f64) -> f64 {
    a.max(b)
}

/// `floor(x)` (a `real`).
pub fn floor(x: f64) -> f64 {
    x.floor()
}

/// `sin(x)`, radians.
pub fn sin(x: f64) -> f64 {
    x.sin()
}

/// `cos(x)`, radians.
pub fn cos(x: f64) -> f64 {
    x.cos()
}

/// `atan2(y, x)`, radians.
pub fn atan2(y: f64, x: f64) -> f64 {
    y.atan2(x)
}

/// `to_string(x)`: the text `print(x)` writes.
///
/// ```
/// use ftc_runtime::lang::builtins::to_string;
/// assert_eq!(to_string(&2.5), "2.5");
/// ```
pub fn to_string(x: &dyn Show) -> String {
    super::show::show(x)
}

/// String `+`: the two operands' text, concatenated (either may be any value
/// when the checker allows it, e.g. `"n = " + 5`).
///
/// ```
/// use ftc_runtime::lang::builtins::concat;
/// assert_eq!(concat(&"n = ", &5i64), "n = 5");
/// ```
pub fn concat(a: &dyn Show, b: &dyn Show) -> String {
    show_all(&[a, b])
}

/// `split(s, sep)`: the pieces between separators; an empty separator is a `program_error`.
///
/// ```
/// use ftc_runtime::lang::builtins::split;
/// assert_eq!(split("a,b,,c", ",").unwrap().to_vec(), vec!["a", "b", "", "c"]);
/// ```
pub fn split(s: &str, sep: &str) -> Res<List<String>> {
    if sep.is_empty() {
        return Err(Failure::program_error("split: empty separator"));
    }
    Ok(List::from_vec(s.split(sep).map(str::to_string).collect()))
}

/// `trim(s)`: without leading and trailing white space.
pub fn trim(s: &str) -> String {
    s.trim().to_string()
}

/// `parse_int(s)`: surrounding white space allowed; bad text is a `program_error`.
///
/// ```
/// use ftc_runtime::lang::builtins::parse_int;
/// assert_eq!(parse_int(" 42 "), Ok(42));
/// assert_eq!(parse_int("4x").unwrap_err().message, "parse_int: not an int: \"4x\"");
/// ```
pub fn parse_int(s: &str) -> Res<i64> {
    s.trim()
        .parse()
        .map_err(|_| Failure::program_error(format!("parse_int: not an int: {s:?}")))
}

/// `parse_real(s)`: surrounding white space allowed; bad text is a `program_error`.
pub fn parse_real(s: &str) -> Res<f64> {
    s.trim()
        .parse()
        .map_err(|_| Failure::program_error(format!("parse_real: not a real: {s:?}")))
}

/// `read_lines(path)`: the file's lines without line ends; an unreadable file is a
/// `program_error`.
pub fn read_lines(path: &str) -> Res<List<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::program_error(format!("read_lines: cannot read {path}: {e}")))?;
    Ok(List::from_vec(text.lines().map(str::to_string).collect()))
}

/// `write_file(path, text)`: creates or replaces the file; failure is a `program_error`.
pub fn write_file(path: &str, text: &str) -> Res<()> {
    std::fs::write(path, text)
        .map_err(|e| Failure::program_error(format!("write_file: cannot write {path}: {e}")))
}

/// `now()`: seconds since the Unix epoch, as a `real`.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `random()`: a `real` in `[0, 1)`.
pub fn random() -> f64 {
    rand::random::<f64>()
}
