//! CMSL `int` arithmetic: `i64` with every overflow and division by zero raising
//! `program_error` instead of wrapping or panicking.
//!
//! ```
//! use ftc_runtime::lang::int;
//! assert_eq!(int::add(2, 3), Ok(5));
//! assert_eq!(int::div(-7, 2), Ok(-3)); // truncates toward zero, like C++ and Java
//! assert_eq!(int::rem(-7, 2), Ok(-1));
//! assert!(int::mul(i64::MAX, 2).is_err());
//! assert_eq!(int::div(1, 0).unwrap_err().message, "division by zero");
//! ```

use super::failure::{Failure, Res};

fn overflow(a: i64, op: &str, b: i64) -> Failure {
    Failure::program_error(format!("integer overflow in {a} {op} {b}"))
}

/// `a + b`.
pub fn add(a: i64, b: i64) -> Res<i64> {
    a.checked_add(b).ok_or_else(|| overflow(a, "+", b))
}

/// `a - b`.
pub fn sub(a: i64, b: i64) -> Res<i64> {
    a.checked_sub(b).ok_or_else(|| overflow(a, "-", b))
}

/// `a * b`.
pub fn mul(a: i64, b: i64) -> Res<i64> {
    a.checked_mul(b).ok_or_else(|| overflow(a, "*", b))
}

/// `a / b`, truncating toward zero.
pub fn div(a: i64, b: i64) -> Res<i64> {
    if b == 0 {
        return Err(Failure::program_error("division by zero"));
    }
    a.checked_div(b).ok_or_else(|| overflow(a, "/", b))
}

/// `a % b`, with the sign of `a` (as in C++ and Java).
pub fn rem(a: i64, b: i64) -> Res<i64> {
    if b == 0 {
        return Err(Failure::program_error("remainder by zero"));
    }
    a.checked_rem(b).ok_or_else(|| overflow(a, "%", b))
}

/// Unary `-a`.
///
/// ```
/// assert!(ftc_runtime::lang::int::neg(i64::MIN).is_err());
/// ```
pub fn neg(a: i64) -> Res<i64> {
    a.checked_neg()
        .ok_or_else(|| Failure::program_error(format!("integer overflow in -({a})")))
}
