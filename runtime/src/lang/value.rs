//! Deep copies for by-value passing to and from servers: encoding through serde
//! with cycle detection, so a cyclic object graph becomes a `program_error`
//! instead of an endless loop or a stack overflow.
//!
//! Every shared CMSL value ([`Obj`](super::Obj), [`List`](super::List),
//! [`Map`](super::Map), [`Array`](super::Array)) registers itself here while it
//! is being serialized. Meeting a value that is already being serialized further
//! up means the graph has a cycle; nesting deeper than [`MAX_DEPTH`] shared values
//! is refused too. Sharing without a cycle (two fields pointing at one object) is
//! not an error: the copy then holds two separate objects.

use super::failure::{Failure, Res};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashSet;

/// The deepest nesting of objects, lists, maps and arrays a copied value may have.
pub const MAX_DEPTH: usize = 2_000;

/// Bytes of an encoded value (a command, a reply value, a snapshot).
pub type Encoded = Vec<u8>;

#[derive(Default)]
struct Visiting {
    on_path: HashSet<usize>,
    /// Why the last serialization failed (serde formats may drop custom messages).
    refused: Option<Failure>,
}

thread_local! {
    static VISITING: RefCell<Visiting> = RefCell::new(Visiting::default());
}

/// Marks one shared value as being serialized; dropping it unmarks it.
pub(crate) struct VisitGuard {
    address: usize,
}

impl VisitGuard {
    /// Enters the value at `address`, or explains why it cannot be copied.
    pub(crate) fn enter(address: usize, what: &str) -> Result<VisitGuard, String> {
        VISITING.with(|v| {
            let mut v = v.borrow_mut();
            let refused = if v.on_path.contains(&address) {
                Some(format!(
                    "cyclic value: this {what} refers back to itself and cannot be copied to or from a server"
                ))
            } else if v.on_path.len() >= MAX_DEPTH {
                Some(format!(
                    "value nested too deeply to copy to or from a server (more than {MAX_DEPTH} levels)"
                ))
            } else {
                None
            };
            match refused {
                Some(message) => {
                    v.refused = Some(Failure::program_error(message.clone()));
                    Err(message)
                }
                None => {
                    v.on_path.insert(address);
                    Ok(VisitGuard { address })
                }
            }
        })
    }
}

impl Drop for VisitGuard {
    fn drop(&mut self) {
        VISITING.with(|v| {
            v.borrow_mut().on_path.remove(&self.address);
        });
    }
}

/// Records why a value cannot be serialized (e.g. a future), for [`encode`].
pub(crate) fn refuse(message: &str) -> String {
    VISITING.with(|v| v.borrow_mut().refused = Some(Failure::program_error(message)));
    message.to_string()
}

/// Encodes a value (a deep copy of everything it refers to).
///
/// ```
/// use ftc_runtime::lang::{decode, encode, List};
/// let l = List::from_vec(vec![1i64, 2, 3]);
/// let back: List<i64> = decode(&encode(&l).unwrap()).unwrap();
/// assert_eq!(back.to_vec(), vec![1, 2, 3]);
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Res<Encoded> {
    VISITING.with(|v| v.borrow_mut().refused = None);
    postcard::to_allocvec(value).map_err(|e| {
        VISITING
            .with(|v| v.borrow_mut().refused.take())
            .unwrap_or_else(|| Failure::program_error(format!("cannot encode value: {e}")))
    })
}

/// Decodes a value produced by [`encode`]; malformed bytes are a `program_error`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Res<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| Failure::program_error(format!("cannot decode value: {e}")))
}

/// A deep copy, as made when passing a value to or from a server.
///
/// ```
/// use ftc_runtime::lang::{deep_copy, Obj};
/// let a = Obj::new(5i64);
/// let b = deep_copy(&a).unwrap();
/// *b.get_mut().unwrap() = 6;
/// assert_eq!(*a.get().unwrap(), 5);
/// ```
pub fn deep_copy<T: Serialize + DeserializeOwned>(value: &T) -> Res<T> {
    decode(&encode(value)?)
}
