//! The CMSL value model for generated code: exceptions ([`Failure`], [`Res`]),
//! checked `int` arithmetic ([`int`]), object references ([`Obj`]), lists, maps
//! and arrays ([`List`], [`Map`], [`Array`]), hosts ([`Host`]), printing
//! ([`Show`]), deep copies for by-value server arguments ([`value`]) and the
//! built-in functions ([`builtins`]).
//!
//! | CMSL | Rust |
//! |---|---|
//! | `int` | `i64`, arithmetic through [`int`] |
//! | `real` (`float`, `double`) | `f64` |
//! | `boolean` (`bool`) | `bool` |
//! | `string` | `String` |
//! | `void` | `()` |
//! | user class `C` | [`Obj<C>`] |
//! | `list<T>` | [`List<T>`] |
//! | `map<K,V>` | [`Map<K,V>`] |
//! | `T a[N]`, `new T[n]` | [`Array<T>`] |
//! | `host` | [`Host`] |
//! | server class `S` | [`crate::program::Server<S>`] |
//! | `future<T>` | [`crate::program::Future<T>`] |
//!
//! See `docs/codegen-contract.md` for how generated code uses them.

pub mod builtins;
mod coll;
mod failure;
mod host;
pub mod int;
mod obj;
mod show;
pub mod value;

pub use coll::{len, Array, Len, List, Map, MAX_ARRAY_SIZE};
pub use failure::{check, Failure, FailureKind, Location, Res, ResultExt};
pub use host::Host;
pub use obj::Obj;
pub use show::{show, show_all, Printer, Show};
pub use value::{decode, deep_copy, encode, Encoded};
