//! The executor: runs one server object as a [`StateMachine`], on a thread of its
//! own so that a method can block on nested calls, `accept … timeout` and `sleep`
//! with ordinary synchronous code.
//!
//! ```text
//!  group replica ── apply(input) ──▶ Executor ── ToThread::Input ──▶ server thread
//!       ▲                               │  ◀── Output(AppOutput)… ──   (runs the method until it
//!       └──── outputs ◀─────────────────┘  ◀── Yielded ────────────    returns or waits for input)
//! ```
//!
//! Every input is handed to the thread, and `apply` returns when the thread asks
//! for its next input: the method returned (`AppOutput::Reply`), or it waits for a
//! nested reply (`AppOutput::Call`) or a timer (`AppOutput::ArmTimer`). Nothing
//! but the inputs decides what the thread does, so every replica computes the
//! same outputs. One method runs at a time: commands that arrive while a method
//! waits are queued and run, in arrival order, after it returns.
//!
//! **Asynchronous mode** (a kernel, [`StateMachine::set_waker`]):
//! `start_apply` waits for the thread at most [`SLICE`]; a method still
//! computing then is left *in flight* (its outputs are collected as they come,
//! and handed on together by `poll` once the thread yielded), and the thread
//! calls the waker after that yield. Without a waker (the simulator) every
//! input completes before `start_apply` returns, exactly as `apply`. While an
//! input is in flight the executor reports no running method, so a method
//! computing without yielding is bounded by its caller's deadline.
//!
//! Nested call ids and timer ids come from counters in the replicated state.
//!
//! **Snapshots** are consistent even while a method waits: a snapshot is the
//! encoded server object at the last *quiescent* point (no method running) plus
//! every input applied since. Restoring decodes that object (or constructs a
//! fresh one when there is none yet) and replays the inputs on a new thread with
//! its outputs muted: the replica's state transfer carries its own record of
//! outstanding nested calls and timers, replies were already sent (and clients
//! drop duplicates), and a re-issued nested call is answered by the callee's
//! duplicate suppression. After each input, when no method runs and at least
//! [`COMPACT_AFTER_INPUTS`] inputs were recorded, the object is encoded again
//! and the record is cleared; an object that cannot be encoded (it holds a cycle
//! or a future) keeps the longer record, which stays correct. The executor
//! keeps its own copy of that record from the thread's messages (each completed
//! input, and `Compacted` when the thread encodes its object again), so a
//! snapshot never waits for the thread: with an input in flight it is the
//! state before that input, which is what the replica packages (debug builds
//! check the copy against the thread's own whenever the thread is idle).
//!
//! The digest is a hash chained over every input and output, carried in snapshots.

use super::context::{self, Context, WireReply};
use super::server::ServerClass;
use crate::app::{
    started_group, AppInput, AppOutput, AppTimerId, AppWaker, CallOutcome, NestedCallId,
    RestoreError, StateMachine,
};
use crate::lang::{decode, encode, Encoded, Failure, Res};
use crate::types::{GroupId, RequestId, ServerSpec};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Inputs recorded since the last encoded object before the executor encodes it again.
pub const COMPACT_AFTER_INPUTS: usize = 32;

/// Stack of a server thread: deep object graphs and recursion are the program's.
pub const SERVER_STACK_BYTES: usize = 64 << 20;

/// FNV-1a, for digests and keys.
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub(crate) fn starting_at(value: u64) -> Fnv {
        Fnv(value)
    }
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// An [`AppInput`] the executor keeps (in its record and in snapshots).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum OwnedInput {
    Command {
        request: RequestId,
        payload: Vec<u8>,
    },
    NestedReply {
        call: NestedCallId,
        outcome: CallOutcome,
    },
    TimerFired {
        timer: AppTimerId,
    },
}

impl OwnedInput {
    fn of(input: AppInput<'_>) -> OwnedInput {
        match input {
            AppInput::Command { request, payload } => OwnedInput::Command {
                request,
                payload: payload.to_vec(),
            },
            AppInput::NestedReply { call, outcome } => OwnedInput::NestedReply {
                call,
                outcome: outcome.clone(),
            },
            AppInput::TimerFired { timer } => OwnedInput::TimerFired { timer },
        }
    }
}

/// Replicated executor state besides the object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    next_call: u64,
    next_timer: u64,
    digest: u64,
}

/// What [`Executor::snapshot`] returns.
#[derive(Debug, Serialize, Deserialize)]
struct ExecSnapshot {
    /// The encoded object at the last quiescent point; `None`: freshly constructed.
    base: Option<Encoded>,
    base_meta: Meta,
    /// Every input applied since `base`.
    since: Vec<OwnedInput>,
}

enum ToThread {
    Input(OwnedInput),
    /// Only debug builds ask: they check the executor's record against it.
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    Snapshot,
}

enum FromThread {
    Output(AppOutput),
    /// The thread waits for its next input.
    Yielded {
        digest: u64,
    },
    /// The thread encoded its object again (at a quiescent point): `base` is
    /// the state after the first `covered` inputs of its record, which it
    /// dropped. Sent before the `Yielded` of the input it follows.
    Compacted {
        base: Option<Encoded>,
        base_meta: Meta,
        covered: usize,
    },
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    Snapshot(Encoded),
    /// The thread ended without being asked to (it cannot serve any more).
    Crashed(String),
}

/// Unwinds a server thread whose executor was dropped or replaced.
struct Abandoned;

/// How a server thread wakes its executor's driver in the asynchronous mode:
/// after it yielded, if the executor stopped waiting for it (`wanted`).
#[derive(Default)]
struct Wake {
    wanted: AtomicBool,
    waker: Mutex<Option<AppWaker>>,
    /// The replica's group ([`StateMachine::set_group`]), shared with every
    /// thread the executor starts; [`NO_GROUP`] until the host says.
    group: Arc<AtomicU64>,
}

/// [`Wake::group`] before the host named the group.
const NO_GROUP: u64 = u64::MAX;

impl Wake {
    /// Called by the thread after each `Yielded` or `Crashed` it sent.
    fn notify(&self) {
        if self.wanted.swap(false, Ordering::SeqCst) {
            let waker = self.waker.lock().ok().and_then(|w| w.clone());
            if let Some(waker) = waker {
                waker();
            }
        }
    }
}

/// The thread side: what a server method's runtime operations use.
pub(crate) struct ServerCtx {
    to_adapter: Sender<FromThread>,
    from_adapter: Receiver<ToThread>,
    wake: Arc<Wake>,
    st: RefCell<ThreadState>,
}

#[derive(Default)]
struct ThreadState {
    meta: Meta,
    base: Option<Encoded>,
    base_meta: Meta,
    since: Vec<OwnedInput>,
    /// Inputs still to replay after a restore.
    replay: VecDeque<OwnedInput>,
    replaying: bool,
    /// The object is being constructed (its state initializers run), which
    /// is not an input of the log: nothing may be started then.
    constructing: bool,
    /// Commands waiting for the running method to return.
    queue: VecDeque<(RequestId, Vec<u8>)>,
    /// Nested replies not yet taken, with their arrival number.
    arrived: BTreeMap<NestedCallId, (u64, CallOutcome)>,
    arrivals: u64,
    fired: BTreeSet<AppTimerId>,
    owes_yield: bool,
}

fn hash_output(h: &mut Fnv, output: &AppOutput) {
    match output {
        AppOutput::Reply { request, payload } => {
            h.write(b"reply");
            h.write(&encode(request).unwrap_or_default());
            h.write(payload);
        }
        AppOutput::Call {
            call,
            group,
            payload,
        } => {
            h.write(b"call");
            h.write(&call.0.to_le_bytes());
            h.write(&group.0.to_le_bytes());
            h.write(payload);
        }
        AppOutput::StartServer { call, spec } => {
            h.write(b"start");
            h.write(&call.0.to_le_bytes());
            h.write(&encode(spec).unwrap_or_default());
        }
        AppOutput::ArmTimer { timer, after } => {
            h.write(b"arm");
            h.write(&timer.0.to_le_bytes());
            h.write(&after.to_le_bytes());
        }
        AppOutput::CancelTimer { timer } => {
            h.write(b"cancel");
            h.write(&timer.0.to_le_bytes());
        }
    }
}

impl ServerCtx {
    pub(crate) fn is_replaying(&self) -> bool {
        self.st.borrow().replaying
    }

    /// The next input, recorded; answers snapshot requests meanwhile. Never
    /// returns once the executor is gone: the thread unwinds instead.
    fn next_input(&self) -> OwnedInput {
        loop {
            {
                let mut st = self.st.borrow_mut();
                if let Some(input) = st.replay.pop_front() {
                    st.record(&input);
                    return input;
                }
                st.replaying = false;
                if st.owes_yield {
                    st.owes_yield = false;
                    let _ = self.to_adapter.send(FromThread::Yielded {
                        digest: st.meta.digest,
                    });
                    self.wake.notify();
                }
            }
            match self.from_adapter.recv() {
                Ok(ToThread::Input(input)) => {
                    let mut st = self.st.borrow_mut();
                    st.owes_yield = true;
                    st.record(&input);
                    return input;
                }
                Ok(ToThread::Snapshot) => {
                    let st = self.st.borrow();
                    let snapshot = ExecSnapshot {
                        base: st.base.clone(),
                        base_meta: st.base_meta,
                        since: st.since.clone(),
                    };
                    let _ = self
                        .to_adapter
                        .send(FromThread::Snapshot(encode(&snapshot).unwrap_or_default()));
                }
                Err(_) => resume_unwind(Box::new(Abandoned)),
            }
        }
    }

    /// Files an input: commands are queued, replies and firings remembered.
    fn absorb(&self, input: OwnedInput) {
        let mut st = self.st.borrow_mut();
        match input {
            OwnedInput::Command { request, payload } => st.queue.push_back((request, payload)),
            OwnedInput::NestedReply { call, outcome } => {
                st.arrivals += 1;
                let n = st.arrivals;
                st.arrived.insert(call, (n, outcome));
            }
            OwnedInput::TimerFired { timer } => {
                st.fired.insert(timer);
            }
        }
    }

    fn emit(&self, output: AppOutput) {
        let mut st = self.st.borrow_mut();
        let mut h = Fnv::starting_at(st.meta.digest);
        hash_output(&mut h, &output);
        st.meta.digest = h.finish();
        if !st.replaying {
            let _ = self.to_adapter.send(FromThread::Output(output));
        }
    }

    /// Waits (taking inputs) until `done` holds.
    fn wait_until(&self, mut done: impl FnMut(&ThreadState) -> bool) {
        while !done(&self.st.borrow()) {
            let input = self.next_input();
            self.absorb(input);
        }
    }

    /// Sends a nested call; its reply arrives as a `NestedReply` input.
    /// The group this replica belongs to, once the host named it.
    pub(crate) fn own_group(&self) -> Option<GroupId> {
        match self.wake.group.load(Ordering::SeqCst) {
            NO_GROUP => None,
            g => Some(GroupId(g)),
        }
    }

    pub(crate) fn issue_call(&self, group: GroupId, payload: Vec<u8>) -> NestedCallId {
        let call = self.next_call_id();
        self.emit(AppOutput::Call {
            call,
            group,
            payload,
        });
        call
    }

    /// The next nested call id, from the replicated counter.
    fn next_call_id(&self) -> NestedCallId {
        let mut st = self.st.borrow_mut();
        st.meta.next_call += 1;
        NestedCallId(st.meta.next_call)
    }

    /// `server C …` in a server method: the view service starts the server
    /// once for the whole group (the start's call id is the same on every
    /// replica) and every replica gets the same group, through the log.
    pub(crate) fn start_server(&self, spec: ServerSpec) -> Res<GroupId> {
        if self.st.borrow().constructing {
            // Each replica constructs on its own, outside the log (`ftc
            // check` refuses the direct cases with E0403).
            return Err(Failure::program_error(format!(
                "server {} cannot be started while a server is constructed (in a state \
                 initializer): start it in a method",
                spec.class
            )));
        }
        let call = self.next_call_id();
        self.emit(AppOutput::StartServer { call, spec });
        started_group(&self.wait_outcome(call)?).map_err(Failure::server_failure)
    }

    /// A key for a `disjoint` server array started in a server method: the
    /// same on every replica (it comes from the replicated call counter and
    /// the group), and no other start's.
    pub(crate) fn fresh_key(&self) -> u64 {
        let call = self.next_call_id();
        let mut h = Fnv::new();
        h.write(b"disjoint");
        h.write(&self.own_group().map_or(0, |g| g.0).to_le_bytes());
        h.write(&call.0.to_le_bytes());
        h.finish()
    }

    fn new_timer(&self, after: Duration) -> AppTimerId {
        let timer = {
            let mut st = self.st.borrow_mut();
            st.meta.next_timer += 1;
            AppTimerId(st.meta.next_timer)
        };
        let after_us = u64::try_from(after.as_micros()).unwrap_or(u64::MAX);
        self.emit(AppOutput::ArmTimer {
            timer,
            after: after_us,
        });
        timer
    }

    /// Waits for the reply of `call` and takes it.
    pub(crate) fn wait_reply(&self, call: NestedCallId) -> WireReply {
        open_outcome(self.wait_outcome(call)?)
    }

    /// Waits for the outcome of nested call `call` (a reply or a start) and takes it.
    fn wait_outcome(&self, call: NestedCallId) -> Res<CallOutcome> {
        self.wait_until(|st| st.arrived.contains_key(&call));
        let outcome = self.st.borrow_mut().arrived.remove(&call);
        outcome
            .map(|(_, outcome)| outcome)
            .ok_or_else(|| Failure::program_error("nested reply lost"))
    }

    /// A synchronous nested call.
    ///
    /// A call of the replica's own group could only be served after the
    /// running method returns (one method runs at a time), so it fails at
    /// once with `server_failure` rather than wait for the call deadline;
    /// every replica knows its group, so every replica fails alike.
    pub(crate) fn call(&self, group: GroupId, payload: Vec<u8>) -> Res<Encoded> {
        if self.own_group() == Some(group) {
            return Err(Failure::server_failure(
                "a server cannot wait for a call to itself: its running method must return first \
                 (one method runs at a time); use `invoke` without waiting, or call the method directly",
            ));
        }
        let call = self.issue_call(group, payload);
        self.wait_reply(call)
    }

    /// `accept` among `calls` (index, call): the earliest reply to arrive.
    pub(crate) fn accept(
        &self,
        calls: &[(usize, NestedCallId)],
        timeout_seconds: Option<f64>,
    ) -> Res<Option<(usize, WireReply)>> {
        let earliest = |st: &ThreadState| {
            calls
                .iter()
                .filter_map(|(i, c)| st.arrived.get(c).map(|(n, _)| (*n, *i, *c)))
                .min()
        };
        let timer = timeout_seconds.map(|s| self.new_timer(context::seconds(s)));
        self.wait_until(|st| {
            earliest(st).is_some() || timer.is_some_and(|t| st.fired.contains(&t))
        });
        let found = earliest(&self.st.borrow());
        match found {
            Some((_, index, call)) => {
                if let Some(t) = timer {
                    self.st.borrow_mut().fired.remove(&t);
                    self.emit(AppOutput::CancelTimer { timer: t });
                }
                let outcome = self.st.borrow_mut().arrived.remove(&call);
                match outcome {
                    Some((_, outcome)) => Ok(Some((index, open_outcome(outcome)))),
                    None => Err(Failure::program_error("nested reply lost")),
                }
            }
            None => {
                if let Some(t) = timer {
                    self.st.borrow_mut().fired.remove(&t);
                }
                Ok(None)
            }
        }
    }

    /// `sleep` in a server method: an application timer.
    pub(crate) fn sleep(&self, after: Duration) -> Res<()> {
        let timer = self.new_timer(after);
        self.wait_until(|st| st.fired.contains(&timer));
        self.st.borrow_mut().fired.remove(&timer);
        Ok(())
    }

    fn pop_command(&self) -> Option<(RequestId, Vec<u8>)> {
        self.st.borrow_mut().queue.pop_front()
    }

    /// At a quiescent point: encodes the object again if the record grew long.
    fn compact_if_due<C: ServerClass>(&self, object: &Res<C>) {
        if self.st.borrow().since.len() < COMPACT_AFTER_INPUTS {
            return;
        }
        let base = match object {
            Ok(obj) => match encode(obj) {
                Ok(bytes) => Some(bytes),
                Err(_) => return,
            },
            // Construction failed: constructing again fails the same way.
            Err(_) => None,
        };
        let mut st = self.st.borrow_mut();
        st.base = base;
        st.base_meta = st.meta;
        let _ = self.to_adapter.send(FromThread::Compacted {
            base: st.base.clone(),
            base_meta: st.base_meta,
            covered: st.since.len(),
        });
        st.since.clear();
        // An encodable object holds no futures: nobody waits for these any more.
        st.arrived.clear();
        st.fired.clear();
    }
}

impl ThreadState {
    fn record(&mut self, input: &OwnedInput) {
        let mut h = Fnv::starting_at(self.meta.digest);
        h.write(b"input");
        h.write(&encode(input).unwrap_or_default());
        self.meta.digest = h.finish();
        self.since.push(input.clone());
    }
}

fn open_outcome(outcome: CallOutcome) -> WireReply {
    match outcome {
        CallOutcome::Reply(payload) => context::open_reply(&payload),
        CallOutcome::ServerFailure(reason) => Err(Failure::server_failure(reason)),
    }
}

/// The reply payload of a method that ended with `reply`: the encoded value, or
/// the exception it raised (what [`reply_value`] reads).
///
/// ```
/// use ftc_runtime::lang::{encode, Failure};
/// use ftc_runtime::program::executor::{reply_payload, reply_value};
/// let ok = reply_payload(encode(&7i64));
/// assert_eq!(reply_value::<i64>(&ok), Ok(7));
/// let raised = reply_payload(Err(Failure::program_error("no")));
/// assert_eq!(reply_value::<i64>(&raised).unwrap_err().message, "no");
/// ```
pub fn reply_payload(reply: Res<Encoded>) -> Vec<u8> {
    encode(&reply).unwrap_or_else(|e| encode(&WireReply::Err(e)).unwrap_or_default())
}

/// The result a reply payload carries: the method's value, or what it raised.
pub fn reply_value<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Res<T> {
    decode(&context::open_reply(payload)?)
}

fn wire(reply: WireReply) -> Vec<u8> {
    reply_payload(reply)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown".to_string()
    }
}

fn construct<C: ServerClass>(ctx: &ServerCtx) -> Res<C> {
    ctx.st.borrow_mut().constructing = true;
    let object = C::construct();
    ctx.st.borrow_mut().constructing = false;
    let object = object?;
    object.invariant()?;
    Ok(object)
}

fn run_command<C: ServerClass>(object: &mut Res<C>, payload: &[u8]) -> WireReply {
    let obj = match object {
        Ok(obj) => obj,
        Err(f) => return Err(f.clone()),
    };
    let command: C::Command = decode(payload).map_err(|e| {
        Failure::program_error(format!(
            "bad command for server class {}: {}",
            C::NAME,
            e.message
        ))
    })?;
    let value = obj.dispatch(command)?;
    obj.invariant()?;
    Ok(value)
}

/// The server thread: construct or restore, then serve inputs until abandoned.
fn serve<C: ServerClass>(ctx: &ServerCtx, restore: Option<ExecSnapshot>) -> Result<(), String> {
    let mut object: Res<C> = match restore {
        None => construct::<C>(ctx),
        Some(snapshot) => {
            let object = match &snapshot.base {
                Some(bytes) => Ok(decode::<C>(bytes)
                    .map_err(|e| format!("cannot decode {} state: {}", C::NAME, e.message))?),
                None => {
                    // Output of the construction was produced before, by the original.
                    ctx.st.borrow_mut().replaying = true;
                    construct::<C>(ctx)
                }
            };
            let mut st = ctx.st.borrow_mut();
            st.meta = snapshot.base_meta;
            st.base = snapshot.base;
            st.base_meta = snapshot.base_meta;
            st.replaying = true;
            st.replay = snapshot.since.into();
            object
        }
    };
    loop {
        let input = ctx.next_input();
        ctx.absorb(input);
        while let Some((request, payload)) = ctx.pop_command() {
            let reply =
                match catch_unwind(AssertUnwindSafe(|| run_command::<C>(&mut object, &payload))) {
                    Ok(reply) => reply,
                    Err(p) if p.is::<Abandoned>() => resume_unwind(p),
                    Err(p) => Err(Failure::program_error(format!(
                        "internal error in server class {}: {}",
                        C::NAME,
                        panic_message(&*p)
                    ))),
                };
            ctx.emit(AppOutput::Reply {
                request,
                payload: wire(reply),
            });
        }
        ctx.compact_if_due(&object);
    }
}

struct Link {
    to_thread: Sender<ToThread>,
    from_thread: Receiver<FromThread>,
    wake: Arc<Wake>,
}

/// How long [`StateMachine::start_apply`] waits for the thread in the
/// asynchronous mode before it leaves the input running: a method that
/// yields within it costs no extra trip through the driver.
pub const SLICE: Duration = Duration::from_millis(1);

/// The executor's own copy of the thread's record: what [`Executor::snapshot`]
/// returns, kept from the thread's messages, so that a snapshot never waits
/// for the thread (it is the state after the last completed input).
#[derive(Clone, Debug, Default)]
struct Record {
    base: Option<Encoded>,
    base_meta: Meta,
    since: Vec<OwnedInput>,
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        encode(&ExecSnapshot {
            base: self.base.clone(),
            base_meta: self.base_meta,
            since: self.since.clone(),
        })
        .unwrap_or_default()
    }
}

/// The input the thread is working on.
struct InFlight {
    input: OwnedInput,
    /// Its outputs so far, handed on together when it completes.
    outputs: Vec<AppOutput>,
    /// A compaction after it already covers it (it is in the new base).
    covered: bool,
}

/// One replica's server object as a [`StateMachine`]. See the module documentation.
pub struct Executor {
    class: &'static str,
    /// The method names of the class, by command variant (for the log).
    methods: &'static [&'static str],
    spawn: fn(Option<ExecSnapshot>, Arc<Wake>) -> Result<Link, String>,
    link: Option<Link>,
    digest: u64,
    /// Why the thread is gone, when it is.
    crashed: Option<String>,
    /// Commands handed to the thread and not replied to yet, in arrival order,
    /// with their command variant: the first is the one running (one method
    /// runs at a time, in arrival order), the others wait behind it.
    unanswered: VecDeque<(RequestId, Option<u32>)>,
    record: Record,
    in_flight: Option<InFlight>,
    /// Set: the asynchronous mode ([`StateMachine::set_waker`]).
    waker: Option<AppWaker>,
    /// The replica's group, once known ([`StateMachine::set_group`]).
    group: Arc<AtomicU64>,
    /// A thread was started (constructing or restoring the server). The first
    /// waits for the group ([`StateMachine::set_group`], which the host calls
    /// right after creating the replica) or for the first input, so that
    /// state initializers and invariants may use `this` as a value.
    started: bool,
}

fn spawn<C: ServerClass>(restore: Option<ExecSnapshot>, wake: Arc<Wake>) -> Result<Link, String> {
    let (to_thread, from_adapter) = channel();
    let (to_adapter, from_thread) = channel();
    let crash_report = to_adapter.clone();
    let thread_wake = wake.clone();
    std::thread::Builder::new()
        .name(format!("ftc-server-{}", C::NAME))
        .stack_size(SERVER_STACK_BYTES)
        .spawn(move || {
            let ctx = Rc::new(ServerCtx {
                to_adapter,
                from_adapter,
                wake: thread_wake.clone(),
                st: RefCell::new(ThreadState {
                    owes_yield: true,
                    ..ThreadState::default()
                }),
            });
            context::install(Context::Server(ctx.clone()));
            let ended = catch_unwind(AssertUnwindSafe(|| serve::<C>(&ctx, restore)));
            let reason = match ended {
                Ok(Ok(())) => return,
                Ok(Err(reason)) => reason,
                Err(p) if p.is::<Abandoned>() => return,
                Err(p) => format!("internal error: {}", panic_message(&*p)),
            };
            let _ = crash_report.send(FromThread::Crashed(reason));
            thread_wake.notify();
        })
        .map_err(|e| format!("cannot start a server thread: {e}"))?;
    Ok(Link {
        to_thread,
        from_thread,
        wake,
    })
}

/// The variant names of an enum type, read from its `Deserialize`
/// implementation (which names them to the deserializer before reading
/// anything); empty when the type is not an enum.
fn variant_names<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    #[derive(Debug)]
    enum Probe {
        Variants(&'static [&'static str]),
        Other,
    }
    impl std::fmt::Display for Probe {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }
    impl std::error::Error for Probe {}
    impl serde::de::Error for Probe {
        fn custom<M: std::fmt::Display>(_: M) -> Probe {
            Probe::Other
        }
    }
    struct Names;
    impl<'de> serde::Deserializer<'de> for Names {
        type Error = Probe;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Probe> {
            Err(Probe::Other)
        }
        fn deserialize_enum<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Probe> {
            Err(Probe::Variants(variants))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }
    match T::deserialize(Names) {
        Err(Probe::Variants(names)) => names,
        _ => &[],
    }
}

/// The command variant of an encoded command: postcard writes an enum's
/// variant index first, as a LEB128 varint.
fn command_variant(payload: &[u8]) -> Option<u32> {
    let mut value: u32 = 0;
    for (i, byte) in payload.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f).checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

impl Executor {
    /// A new replica of server class `C`: constructs the object on its thread.
    ///
    /// ```
    /// # use ftc_runtime::lang::{encode, Encoded, Res};
    /// # use ftc_runtime::program::ServerClass;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Default, Serialize, Deserialize)] struct Counter { total: i64 }
    /// # #[derive(Serialize, Deserialize)] enum CounterCommand { Total {} }
    /// # impl ServerClass for Counter {
    /// #     const NAME: &'static str = "counter";
    /// #     type Command = CounterCommand;
    /// #     fn construct() -> Res<Counter> { Ok(Counter::default()) }
    /// #     fn dispatch(&mut self, c: CounterCommand) -> Res<Encoded> { encode(&self.total) }
    /// # }
    /// use ftc_runtime::app::StateMachine;
    /// use ftc_runtime::program::executor::Executor;
    /// let replica = Executor::new::<Counter>();
    /// let state = replica.snapshot();
    /// assert!(!state.is_empty());
    /// ```
    pub fn new<C: ServerClass>() -> Executor {
        Executor {
            class: C::NAME,
            methods: variant_names::<C::Command>(),
            spawn: spawn::<C>,
            link: None,
            digest: 0,
            crashed: None,
            unanswered: VecDeque::new(),
            record: Record::default(),
            in_flight: None,
            waker: None,
            group: Arc::new(AtomicU64::new(NO_GROUP)),
            started: false,
        }
    }

    /// Constructs the server on its thread, unless a thread was started
    /// already. On failure `crashed` says why, and every command is answered
    /// with it.
    fn start(&mut self) {
        if !self.started {
            let _ = self.connect(None);
        }
    }

    /// [`Executor::new`], boxed for an application factory.
    pub fn boxed<C: ServerClass>() -> Box<dyn StateMachine> {
        Box::new(Executor::new::<C>())
    }

    /// The server class this executor runs.
    pub fn class(&self) -> &'static str {
        self.class
    }

    /// Starts a thread and waits until it is ready for input (constructed, or
    /// restored and the record replayed). An input in flight on the old
    /// thread is abandoned with it.
    fn connect(&mut self, restore: Option<ExecSnapshot>) -> Result<(), String> {
        self.started = true;
        self.link = None;
        self.in_flight = None;
        self.record = match &restore {
            None => Record::default(),
            Some(s) => Record {
                base: s.base.clone(),
                base_meta: s.base_meta,
                since: s.since.clone(),
            },
        };
        let wake = Arc::new(Wake {
            wanted: AtomicBool::new(false),
            waker: Mutex::new(self.waker.clone()),
            group: self.group.clone(),
        });
        let link = (self.spawn)(restore, wake).inspect_err(|e| self.crashed = Some(e.clone()))?;
        loop {
            match link.from_thread.recv() {
                Ok(FromThread::Yielded { digest }) => {
                    self.digest = digest;
                    self.link = Some(link);
                    self.crashed = None;
                    return Ok(());
                }
                Ok(FromThread::Compacted {
                    base,
                    base_meta,
                    covered,
                }) => self.compacted(base, base_meta, covered),
                Ok(FromThread::Crashed(reason)) => {
                    self.crashed = Some(reason.clone());
                    return Err(reason);
                }
                Ok(_) => {}
                Err(_) => {
                    let reason = "the server thread ended".to_string();
                    self.crashed = Some(reason.clone());
                    return Err(reason);
                }
            }
        }
    }

    fn compacted(&mut self, base: Option<Encoded>, base_meta: Meta, covered: usize) {
        self.record.base = base;
        self.record.base_meta = base_meta;
        let dropped = covered.min(self.record.since.len());
        self.record.since.drain(..dropped);
        if covered > dropped {
            if let Some(f) = &mut self.in_flight {
                f.covered = true;
            }
        }
    }

    /// Takes one message of the thread; true when the input in flight completed
    /// (its outputs are then in `out`).
    fn take(&mut self, message: FromThread, out: &mut Vec<AppOutput>) -> bool {
        match message {
            FromThread::Output(output) => {
                if let AppOutput::Reply { request, .. } = &output {
                    self.unanswered.retain(|(r, _)| r != request);
                }
                if let Some(f) = &mut self.in_flight {
                    f.outputs.push(output);
                }
                false
            }
            FromThread::Compacted {
                base,
                base_meta,
                covered,
            } => {
                self.compacted(base, base_meta, covered);
                false
            }
            FromThread::Snapshot(_) => false,
            FromThread::Yielded { digest } => {
                self.digest = digest;
                if let Some(f) = self.in_flight.take() {
                    if !f.covered {
                        self.record.since.push(f.input);
                    }
                    out.extend(f.outputs);
                }
                true
            }
            FromThread::Crashed(reason) => {
                self.crashed = Some(reason);
                self.thread_gone(out);
                true
            }
        }
    }

    /// The thread is gone: the input in flight ends, every command is answered
    /// with the reason.
    fn thread_gone(&mut self, out: &mut Vec<AppOutput>) {
        self.link = None;
        self.unanswered.clear();
        let Some(f) = self.in_flight.take() else {
            return;
        };
        out.extend(f.outputs);
        if let OwnedInput::Command { request, .. } = f.input {
            let reason = self
                .crashed
                .clone()
                .unwrap_or_else(|| "the server thread ended".to_string());
            out.push(AppOutput::Reply {
                request,
                payload: wire(Err(Failure::program_error(format!(
                    "server {} cannot run: {reason}",
                    self.class
                )))),
            });
        }
    }

    /// Takes the thread's messages until the input in flight completes (true),
    /// waiting for it until `until` (`None`: as long as it takes). When it has
    /// not completed by then the thread is asked to wake the driver (false).
    fn pump(&mut self, until: Option<Instant>, out: &mut Vec<AppOutput>) -> bool {
        debug_assert!(self.in_flight.is_some());
        loop {
            let Some(link) = &self.link else {
                self.thread_gone(out);
                return true;
            };
            let next = match until {
                None => link
                    .from_thread
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
                Some(t) => link
                    .from_thread
                    .recv_timeout(t.saturating_duration_since(Instant::now())),
            };
            let message = match next {
                Ok(message) => message,
                Err(RecvTimeoutError::Timeout) => {
                    // Ask for a wake-up first, then look once more: a yield in
                    // between is either seen here or followed by the wake-up.
                    link.wake.wanted.store(true, Ordering::SeqCst);
                    match link.from_thread.try_recv() {
                        Ok(message) => message,
                        Err(TryRecvError::Empty) => return false,
                        Err(TryRecvError::Disconnected) => {
                            self.thread_gone(out);
                            return true;
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.thread_gone(out);
                    return true;
                }
            };
            if self.take(message, out) {
                return true;
            }
        }
    }
}

impl StateMachine for Executor {
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
        if !self.start_apply(input, out) {
            // Only reachable in the asynchronous mode: wait after all.
            self.pump(None, out);
        }
    }

    fn start_apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) -> bool {
        assert!(
            self.in_flight.is_none(),
            "an input was given while another one is running"
        );
        self.start();
        let input = OwnedInput::of(input);
        if let OwnedInput::Command { request, payload } = &input {
            self.unanswered
                .push_back((*request, command_variant(payload)));
        }
        let sent = self.link.as_ref().is_some_and(|link| {
            link.wake.wanted.store(false, Ordering::SeqCst);
            link.to_thread.send(ToThread::Input(input.clone())).is_ok()
        });
        self.in_flight = Some(InFlight {
            input,
            outputs: Vec::new(),
            covered: false,
        });
        if !sent {
            self.thread_gone(out);
            return true;
        }
        let until = self.waker.as_ref().map(|_| Instant::now() + SLICE);
        self.pump(until, out)
    }

    fn poll(&mut self, out: &mut Vec<AppOutput>) -> bool {
        if self.in_flight.is_none() {
            return true;
        }
        self.pump(Some(Instant::now()), out)
    }

    fn set_group(&mut self, group: GroupId) {
        self.group.store(group.0, Ordering::SeqCst);
        // Now `this` is known: the server may be constructed.
        self.start();
    }

    fn set_waker(&mut self, waker: AppWaker) {
        if let Some(link) = &self.link {
            if let Ok(mut w) = link.wake.waker.lock() {
                *w = Some(waker.clone());
            }
        }
        self.waker = Some(waker);
    }

    fn describe_running(&self) -> Option<String> {
        self.in_flight.as_ref()?;
        let method = self
            .unanswered
            .front()
            .and_then(|(_, variant)| *variant)
            .and_then(|v| self.methods.get(usize::try_from(v).ok()?))
            .copied()
            .unwrap_or("?");
        Some(format!("{}.{method}", self.class))
    }

    fn snapshot(&self) -> Vec<u8> {
        let Some(link) = &self.link else {
            // No thread: the state of a server that cannot run is its construction.
            return Record::default().encode();
        };
        let bytes = self.record.encode();
        // Tests check the record against the thread's own when it is idle.
        #[cfg(debug_assertions)]
        if self.in_flight.is_none()
            && bytes.len() <= 1 << 20
            && link.to_thread.send(ToThread::Snapshot).is_ok()
        {
            // Bounded: the thread may be waiting for room in the driver's
            // queue to wake it (a late answer is ignored by `take`).
            while let Ok(message) = link.from_thread.recv_timeout(Duration::from_secs(1)) {
                if let FromThread::Snapshot(thread_bytes) = message {
                    debug_assert!(thread_bytes == bytes, "the executor's record drifted");
                    break;
                }
            }
        }
        #[cfg(not(debug_assertions))]
        let _ = link;
        bytes
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        let snapshot: ExecSnapshot =
            decode(snapshot).map_err(|e| RestoreError(e.message.clone()))?;
        self.unanswered.clear();
        self.connect(Some(snapshot)).map_err(RestoreError)
    }

    fn running(&self) -> Option<RequestId> {
        // A method computing without yielding is not reported as running: its
        // caller's deadline then bounds it.
        if self.in_flight.is_some() {
            return None;
        }
        self.unanswered.front().map(|(r, _)| *r)
    }

    fn digest(&self) -> u64 {
        self.digest
    }
}
