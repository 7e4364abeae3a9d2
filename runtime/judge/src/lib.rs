//! Judges recorded client histories linearizable or not, with the todc-utils
//! WGL (Wing–Gong–Lowe) checker, a checker this project did not write.
//!
//! - [`history`]: the JSON Lines history format and its model.
//! - [`spec`]: sequential specifications (one key; the etcd register).
//! - [`check`]: the encoding into todc-utils and the budgeted verdict.
//! - [`corpus`]: parsers for the calibration corpus (Jepsen etcd logs,
//!   EDN-like key-value histories).
//! - [`synth`]: seeded synthetic histories, to measure what the judge can
//!   decide within a budget (`cargo run --release --example envelope`).
//!
//! ```
//! use std::time::Duration;
//! use ftc_judge::{check_kv, Operation, Verdict};
//! let history = vec![
//!     Operation::put(0, "x", "1", 0, Some(10)),
//!     Operation::get(1, "x", None, 20, Some(30)),
//! ];
//! assert_eq!(
//!     check_kv(&history, Duration::from_secs(5)),
//!     Verdict::NotLinearizable { key: "x".into() }
//! );
//! ```

pub mod check;
pub mod corpus;
pub mod history;
pub mod spec;
pub mod synth;

pub use check::{check_kv, check_object, Outcome, Timed, Verdict};
pub use history::{read_jsonl, write_jsonl, HistoryError, OpKind, OpStatus, Operation};
