//! Where the running code is: `main` (calls go through the host kernel's
//! local-client API) or a server method (calls are nested commands through the
//! executor). Each thread has at most one context; generated code never sees it.

use super::executor::ServerCtx;
use super::future::{FutureState, Pending, Slot};
use crate::kernel::{CallError, KernelHandle};
use crate::lang::{decode, Encoded, Failure, Res};
use crate::types::{ClientId, GroupId, ServerSpec};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often `accept` in `main` looks at its pending calls.
const ACCEPT_POLL: Duration = Duration::from_millis(1);

/// `main`'s context: its kernel and its client identity.
pub(crate) struct MainCtx {
    pub(crate) kernel: KernelHandle,
    pub(crate) client: ClientId,
    pub(crate) keys_issued: Cell<u64>,
}

#[derive(Clone)]
pub(crate) enum Context {
    Main(Rc<MainCtx>),
    Server(Rc<ServerCtx>),
}

thread_local! {
    static CURRENT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Makes `context` the current thread's context.
pub(crate) fn install(context: Context) {
    CURRENT.with(|c| *c.borrow_mut() = Some(context));
}

fn current() -> Res<Context> {
    CURRENT.with(|c| c.borrow().clone()).ok_or_else(|| {
        Failure::program_error("no running program: servers are used from main or a server")
    })
}

/// True while a restored server replays its inputs (its output is not repeated).
pub(crate) fn is_replaying() -> bool {
    CURRENT.with(|c| match &*c.borrow() {
        Some(Context::Server(s)) => s.is_replaying(),
        _ => false,
    })
}

/// The encoded reply of a method: its value's bytes, or what it raised.
pub(crate) type WireReply = Result<Encoded, Failure>;

/// Interprets a reply payload from a server.
pub(crate) fn open_reply(payload: &[u8]) -> WireReply {
    decode::<WireReply>(payload)?
}

fn call_failure(e: CallError) -> Failure {
    match e {
        CallError::ServerFailure(reason) => Failure::server_failure(reason),
        other => Failure::server_failure(other.to_string()),
    }
}

pub(crate) fn start_server(spec: ServerSpec) -> Res<GroupId> {
    match current()? {
        Context::Main(m) => m
            .kernel
            .start_program_server(spec)
            .map_err(Failure::server_failure),
        Context::Server(s) => s.start_server(spec),
    }
}

/// The group of the server whose method is running (`this` as a value).
pub(crate) fn own_group() -> Res<GroupId> {
    match current()? {
        Context::Server(s) => s.own_group().ok_or_else(|| {
            Failure::program_error("this server's group is not known yet (during construction)")
        }),
        Context::Main(_) => Err(Failure::program_error(
            "`this` names a server only inside its methods",
        )),
    }
}

/// A key no other `disjoint` server array of this cluster uses.
pub(crate) fn fresh_key() -> Res<u64> {
    match current()? {
        Context::Main(m) => {
            let n = m.keys_issued.get() + 1;
            m.keys_issued.set(n);
            let mut h = crate::program::executor::Fnv::new();
            h.write(format!("{:?}/{n}", m.client).as_bytes());
            Ok(h.finish())
        }
        Context::Server(s) => Ok(s.fresh_key()),
    }
}

/// A synchronous call: the value bytes of the reply.
pub(crate) fn call(group: GroupId, payload: Vec<u8>) -> Res<Encoded> {
    match current()? {
        Context::Main(m) => {
            let reply = m
                .kernel
                .call(m.client, group, payload)
                .map_err(call_failure)?;
            open_reply(&reply)
        }
        Context::Server(s) => s.call(group, payload),
    }
}

/// Starts a call without waiting.
pub(crate) fn invoke(group: GroupId, payload: Vec<u8>) -> Res<Pending> {
    match current()? {
        Context::Main(m) => Ok(Pending::Ticket(
            m.kernel.call_async(m.client, group, payload),
        )),
        Context::Server(s) => Ok(Pending::Nested(s.issue_call(group, payload))),
    }
}

/// Moves a main-side reply that has arrived into the future (no waiting).
pub(crate) fn poll(slot: &Slot) {
    let mut state = slot.borrow_mut();
    poll_state(&mut state, Duration::ZERO);
}

fn poll_state(state: &mut FutureState, wait: Duration) {
    if state.outcome.is_some() {
        return;
    }
    let answer = match &state.pending {
        Some(Pending::Ticket(ticket)) => ticket.wait_timeout(wait),
        _ => None,
    };
    if let Some(answer) = answer {
        state.pending = None;
        state.outcome = Some(match answer {
            Ok(payload) => open_reply(&payload),
            Err(e) => Err(call_failure(e)),
        });
    }
}

/// Waits until the future's outcome is known.
pub(crate) fn wait_for(slot: &Slot) -> Res<()> {
    let nested = match &slot.borrow().pending {
        Some(Pending::Nested(call)) => Some(*call),
        _ => None,
    };
    match nested {
        Some(call) => {
            let outcome = match current()? {
                Context::Server(s) => s.wait_reply(call),
                Context::Main(_) => Err(Failure::program_error(
                    "a future of a server method was used outside it",
                )),
            };
            let mut state = slot.borrow_mut();
            state.pending = None;
            state.outcome = Some(outcome);
        }
        None => loop {
            // Waits without a bound of our own: a ticket ends with the kernel's
            // call deadline.
            let mut state = slot.borrow_mut();
            if state.outcome.is_some() {
                break;
            }
            if state.pending.is_none() {
                return Err(Failure::program_error("future has no call"));
            }
            poll_state(&mut state, Duration::from_millis(100));
        },
    }
    Ok(())
}

/// `accept` over `slots`: the index of the next reply not accepted before, or
/// `None` when `timeout_seconds` passed first (also when no future is left).
pub(crate) fn accept(slots: &[Option<Slot>], timeout_seconds: Option<f64>) -> Res<Option<usize>> {
    let open: Vec<(usize, &Slot)> = slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
        .filter(|(_, s)| !s.borrow().accepted)
        .collect();
    // With none left, nothing can arrive: with a timeout, `accept` waits it
    // out and times out, as when the futures' replies are late; without
    // one it would wait forever, which is a `program_error`.
    if open.is_empty() && timeout_seconds.is_none() {
        return Err(Failure::program_error(
            "accept: every future is null or was accepted already",
        ));
    }
    // A reply already known (e.g. read through `result`) is returned first, lowest index.
    for (i, slot) in &open {
        let mut state = slot.borrow_mut();
        poll_state(&mut state, Duration::ZERO);
        if state.outcome.is_some() {
            state.accepted = true;
            return Ok(Some(*i));
        }
    }
    match current()? {
        Context::Main(_) => accept_main(&open, timeout_seconds),
        Context::Server(s) => {
            let calls: Vec<(usize, crate::app::NestedCallId)> = open
                .iter()
                .filter_map(|(i, slot)| match &slot.borrow().pending {
                    Some(Pending::Nested(call)) => Some((*i, *call)),
                    _ => None,
                })
                .collect();
            match s.accept(&calls, timeout_seconds)? {
                Some((index, outcome)) => {
                    if let Some((_, slot)) = open.iter().find(|(i, _)| *i == index) {
                        let mut state = slot.borrow_mut();
                        state.pending = None;
                        state.outcome = Some(outcome);
                        state.accepted = true;
                    }
                    Ok(Some(index))
                }
                None => Ok(None),
            }
        }
    }
}

fn accept_main(open: &[(usize, &Slot)], timeout_seconds: Option<f64>) -> Res<Option<usize>> {
    let deadline = timeout_seconds.map(|s| Instant::now() + seconds(s));
    loop {
        for (i, slot) in open {
            let mut state = slot.borrow_mut();
            poll_state(&mut state, Duration::ZERO);
            if state.outcome.is_some() {
                state.accepted = true;
                return Ok(Some(*i));
            }
        }
        let now = Instant::now();
        let wait = match deadline {
            Some(d) if now >= d => return Ok(None),
            Some(d) => (d - now).min(ACCEPT_POLL),
            None => ACCEPT_POLL,
        };
        std::thread::sleep(wait);
    }
}

/// A non-negative, finite duration of `s` seconds (negative and NaN are zero; at most a year).
pub(crate) fn seconds(s: f64) -> Duration {
    const YEAR: f64 = 365.0 * 24.0 * 3600.0;
    if s.is_nan() || s <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(s.min(YEAR))
    }
}

/// `sleep(seconds)`: in `main` the thread sleeps; in a server method it waits for
/// an application timer ordered through the group's log (so every replica
/// resumes at the same point).
pub(crate) fn sleep(secs: f64) -> Res<()> {
    match CURRENT.with(|c| c.borrow().clone()) {
        Some(Context::Server(s)) => s.sleep(seconds(secs)),
        _ => {
            std::thread::sleep(seconds(secs));
            Ok(())
        }
    }
}
