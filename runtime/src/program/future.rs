//! Futures and `accept`: the tickets `invoke` returns, and waiting for the next
//! reply among several of them, with an optional timeout.

use super::context;
use crate::app::NestedCallId;
use crate::kernel::CallTicket;
use crate::lang::{decode, Array, Encoded, Failure, Printer, Res, Show};
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

/// How a call that is still running is tracked.
pub(crate) enum Pending {
    /// A call from `main`, through the kernel's local-client API.
    Ticket(CallTicket),
    /// A nested call from a server method, answered through the group's log.
    Nested(NestedCallId),
}

/// The shared state of one future.
pub(crate) struct FutureState {
    /// `Some` until the outcome is known.
    pub(crate) pending: Option<Pending>,
    /// The reply's value bytes, or the exception the call ended with.
    pub(crate) outcome: Option<Result<Encoded, Failure>>,
    /// Returned by an `accept` already.
    pub(crate) accepted: bool,
    /// The decoded result, so repeated `f->result` reads give the same objects.
    decoded: Option<Box<dyn Any>>,
}

pub(crate) type Slot = Rc<RefCell<FutureState>>;

/// `future<T>`: the reply of an `invoke`, or `null`. `Clone` shares the future
/// (as assignment does). A future belongs to the process that invoked (it cannot
/// be passed to or from a server).
///
/// ```no_run
/// # use ftc_runtime::lang::Res;
/// # use ftc_runtime::program::{accept_timeout, Future};
/// # fn f(fut: &Future<i64>) -> Res<()> {
/// // int i = accept (f, 1) timeout (5.0) { println("no reply"); }
/// let i = match accept_timeout(fut, 1, 5.0)? {
///     Some(i) => i,
///     None => {
///         ftc_runtime::program::println(&[&"no reply"]);
///         -1
///     }
/// };
/// let total: i64 = fut.result()?; // f->result
/// # Ok(()) }
/// ```
pub struct Future<T> {
    slot: Option<Slot>,
    result: PhantomData<fn() -> T>,
}

impl<T> Future<T> {
    /// `null`.
    pub fn null() -> Future<T> {
        Future {
            slot: None,
            result: PhantomData,
        }
    }

    pub(crate) fn pending(pending: Pending) -> Future<T> {
        Future {
            slot: Some(Rc::new(RefCell::new(FutureState {
                pending: Some(pending),
                outcome: None,
                accepted: false,
                decoded: None,
            }))),
            result: PhantomData,
        }
    }

    /// `f == null`.
    pub fn is_null(&self) -> bool {
        self.slot.is_none()
    }

    /// Whether the reply is known here without waiting (`false` for `null`). In
    /// `main`, true once the reply arrived; in a server method, once an `accept`
    /// or `result` took it (replies reach a server only through its log).
    pub fn is_ready(&self) -> bool {
        match &self.slot {
            Some(slot) => {
                context::poll(slot);
                slot.borrow().outcome.is_some()
            }
            None => false,
        }
    }

    pub(crate) fn slot(&self) -> Option<&Slot> {
        self.slot.as_ref()
    }
}

impl<T: DeserializeOwned + Clone + 'static> Future<T> {
    /// `f->result`: the method's result, waiting for the reply if it has not
    /// arrived; raises what the method raised, or `server_failure`. Reading it does
    /// not count as an `accept`.
    pub fn result(&self) -> Res<T> {
        let slot = self
            .slot
            .as_ref()
            .ok_or_else(|| Failure::program_error("null dereference (future)"))?;
        context::wait_for(slot)?;
        let mut state = slot.borrow_mut();
        if let Some(value) = state.decoded.as_ref().and_then(|d| d.downcast_ref::<T>()) {
            return Ok(value.clone());
        }
        let value: T = match &state.outcome {
            Some(Ok(bytes)) => decode(bytes)?,
            Some(Err(failure)) => return Err(failure.clone()),
            None => return Err(Failure::program_error("future has no reply")),
        };
        state.decoded = Some(Box::new(value.clone()));
        Ok(value)
    }
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Future<T> {
        Future {
            slot: self.slot.clone(),
            result: PhantomData,
        }
    }
}

impl<T> Default for Future<T> {
    fn default() -> Future<T> {
        Future::null()
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::lang::show(self))
    }
}

impl<T> Show for Future<T> {
    /// `future(pending)`, `future(ready)` or `null`.
    fn show(&self, p: &mut Printer) {
        match &self.slot {
            None => p.text("null"),
            Some(slot) => match slot.try_borrow() {
                Ok(s) if s.outcome.is_some() => p.text("future(ready)"),
                _ => p.text("future(pending)"),
            },
        }
    }
}

/// A future cannot be copied to or from a server: serializing one is refused
/// (a `program_error` for arguments; server state holding a future is
/// snapshotted by replay instead).
impl<T> Serialize for Future<T> {
    fn serialize<S: Serializer>(&self, _serializer: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(crate::lang::value::refuse(
            "a future cannot be passed to or from a server",
        )))
    }
}

impl<'de, T> serde::Deserialize<'de> for Future<T> {
    fn deserialize<D: serde::Deserializer<'de>>(_deserializer: D) -> Result<Future<T>, D::Error> {
        Err(serde::de::Error::custom(
            "a future cannot be passed to or from a server",
        ))
    }
}

/// One future of a [`FutureSet`], whatever its result type.
pub struct AnyFuture(Option<Slot>);

/// What `accept` can wait on: one future, or an array or list of futures.
pub trait FutureSet {
    /// The futures, in index order.
    fn futures(&self) -> Vec<AnyFuture>;
}

impl<T> FutureSet for Future<T> {
    fn futures(&self) -> Vec<AnyFuture> {
        vec![AnyFuture(self.slot().cloned())]
    }
}

impl<T> FutureSet for Array<Future<T>> {
    fn futures(&self) -> Vec<AnyFuture> {
        self.to_vec()
            .iter()
            .map(|f| AnyFuture(f.slot().cloned()))
            .collect()
    }
}

impl<T> FutureSet for crate::lang::List<Future<T>> {
    fn futures(&self) -> Vec<AnyFuture> {
        self.to_vec()
            .iter()
            .map(|f| AnyFuture(f.slot().cloned()))
            .collect()
    }
}

fn first_n(futures: &dyn FutureSet, n: i64) -> Res<Vec<Option<Slot>>> {
    let all = futures.futures();
    let count = usize::try_from(n)
        .ok()
        .filter(|c| *c >= 1 && *c <= all.len())
        .ok_or_else(|| {
            Failure::program_error(format!(
                "accept: n = {n} is not between 1 and the number of futures ({})",
                all.len()
            ))
        })?;
    Ok(all.into_iter().take(count).map(|f| f.0).collect())
}

/// `accept (futures, n)`: waits for the next reply among the first `n` futures
/// that has not been returned by an earlier `accept`, and returns its index.
/// With none left to wait for (all accepted or `null`), a `program_error`
/// (with a timeout, [`accept_timeout`] and [`accept_or_timeout`] time out).
pub fn accept(futures: &dyn FutureSet, n: i64) -> Res<i64> {
    let slots = first_n(futures, n)?;
    match context::accept(&slots, None)? {
        Some(i) => Ok(i as i64),
        None => Err(Failure::program_error("accept returned without a reply")),
    }
}

/// `accept (futures, n) timeout (seconds) { block }`: like [`accept`], but
/// `None` when `seconds` pass first (generated code then runs the block and, if
/// it completes normally, uses -1).
pub fn accept_timeout(futures: &dyn FutureSet, n: i64, seconds: f64) -> Res<Option<i64>> {
    let slots = first_n(futures, n)?;
    Ok(context::accept(&slots, Some(seconds))?.map(|i| i as i64))
}

/// `accept (futures, n) timeout (seconds)` without a block: raises `timeout`
/// when `seconds` pass first.
pub fn accept_or_timeout(futures: &dyn FutureSet, n: i64, seconds: f64) -> Res<i64> {
    accept_timeout(futures, n, seconds)?
        .ok_or_else(|| Failure::timeout(format!("accept: no reply within {seconds:?} seconds")))
}
