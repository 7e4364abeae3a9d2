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

/// `ceil(x)` (a `real`).
pub fn ceil(x: f64) -> f64 {
    x.ceil()
}

/// `round(x)` (a `real`): halfway cases away from zero (`round(2.5)` is
/// `3.0`, `round(-2.5)` is `-3.0`).
pub fn round(x: f64) -> f64 {
    x.round()
}

/// `to_int(x)`: `x` truncated toward zero; NaN, an infinity or a value out
/// of the `int` range is a `program_error`.
///
/// ```
/// use ftc_runtime::lang::builtins::to_int;
/// assert_eq!(to_int(-2.9), Ok(-2));
/// assert!(to_int(f64::NAN).is_err());
/// assert!(to_int(9.3e18).is_err());
/// ```
pub fn to_int(x: f64) -> Res<i64> {
    // Every `int` lies in [-2^63, 2^63), and both bounds are exact reals.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let t = x.trunc();
    // NaN is in no range.
    if !(-LIMIT..LIMIT).contains(&t) {
        return Err(Failure::program_error(format!(
            "to_int: {x:?} is not in the int range"
        )));
    }
    Ok(t as i64)
}

/// `to_real(i)`: the nearest `real`.
pub fn to_real(i: i64) -> f64 {
    i as f64
}

/// The byte offset of character `index` of `s`, where `index == len` is the end.
fn char_offset(s: &str, index: i64) -> Option<usize> {
    let index = usize::try_from(index).ok()?;
    s.char_indices()
        .map(|(at, _)| at)
        .chain(std::iter::once(s.len()))
        .nth(index)
}

/// `substr(s, start, length)`: the characters `start .. start+length-1`
/// (Unicode scalar values); a negative `start` or `length`, or a range past
/// the end, is a `program_error`.
///
/// ```
/// use ftc_runtime::lang::builtins::substr;
/// assert_eq!(substr("héllo", 1, 3), Ok("éll".to_string()));
/// assert_eq!(substr("abc", 3, 0), Ok(String::new()));
/// assert!(substr("abc", 2, 2).is_err());
/// ```
pub fn substr(s: &str, start: i64, length: i64) -> Res<String> {
    let out_of_range = || {
        Failure::program_error(format!(
            "substr: characters {start} .. {start}+{length} are not within a string of {} characters",
            s.chars().count()
        ))
    };
    if length < 0 {
        return Err(out_of_range());
    }
    let from = char_offset(s, start).ok_or_else(out_of_range)?;
    let rest = &s[from..];
    let to = char_offset(rest, length).ok_or_else(out_of_range)?;
    Ok(rest[..to].to_string())
}

/// `index_of(s, t)`: the character position of the first `t` in `s`, or -1
/// (`index_of(s, "")` is 0).
///
/// ```
/// use ftc_runtime::lang::builtins::index_of;
/// assert_eq!(index_of("héllo", "llo"), 2);
/// assert_eq!(index_of("abc", "x"), -1);
/// ```
pub fn index_of(s: &str, t: &str) -> i64 {
    match s.find(t) {
        Some(at) => s[..at].chars().count() as i64,
        None => -1,
    }
}

/// `char_at(s, i)`: character `i` of `s` as a one-character string; an
/// index outside the string is a `program_error`.
///
/// ```
/// use ftc_runtime::lang::builtins::char_at;
/// assert_eq!(char_at("héllo", 1), Ok("é".to_string()));
/// assert!(char_at("abc", 3).is_err());
/// ```
pub fn char_at(s: &str, i: i64) -> Res<String> {
    usize::try_from(i)
        .ok()
        .and_then(|i| s.chars().nth(i))
        .map(String::from)
        .ok_or_else(|| {
            Failure::program_error(format!(
                "char_at: index {i} is not within a string of {} characters",
                s.chars().count()
            ))
        })
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
