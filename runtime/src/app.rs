//! The interface between the replication protocols and the replicated application.
//!
//! A server class becomes a [`StateMachine`]: deterministic, fed one [`AppInput`] at
//! a time in the group's total order. Everything it wants done outside itself —
//! replying, calling another server, arming a timer — it asks for as an
//! [`AppOutput`]. Nested replies and timer firings come back as inputs *ordered
//! through the group's log*, so every replica sees them at the same position.

use crate::types::{GroupId, Micros, RequestId, ServerSpec};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Called (from any thread) when an application that took an input off the
/// core's time ([`StateMachine::start_apply`]) has outputs ready for
/// [`StateMachine::poll`].
pub type AppWaker = Arc<dyn Fn() + Send + Sync>;

/// Identifies a nested call issued by a replicated application. Assigned by the
/// application deterministically (e.g. a counter kept in its state), so every
/// replica issues the same id for the same call, and growing: every call's id is
/// larger than the ids of the calls issued before it. The runtime sends it as
/// request `RequestId { client: ClientId::Group(own group), seq: call.0 }` with
/// the lowest id still outstanding to that server as the low-water mark, so the
/// callee forgets its replies to older calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NestedCallId(pub u64);

/// Identifies an application timer (e.g. an `accept … timeout` inside a server method).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AppTimerId(pub u64);

/// How a call to a server ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallOutcome {
    /// The server's reply (application-level exceptions are encoded inside it).
    Reply(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The server cannot answer: too many replicas failed, or no reply within the deadline.
    ServerFailure(String),
}

/// One input to the application, in the group's total order.
#[derive(Clone, Copy, Debug)]
pub enum AppInput<'a> {
    /// A client's command.
    Command {
        request: RequestId,
        payload: &'a [u8],
    },
    /// The outcome of a nested call this application issued earlier.
    NestedReply {
        call: NestedCallId,
        outcome: &'a CallOutcome,
    },
    /// A timer this application armed earlier fired.
    TimerFired { timer: AppTimerId },
}

/// Something the application asks the runtime to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppOutput {
    /// Reply to a client command (possibly long after the command's own input,
    /// when the method waited for nested calls).
    Reply {
        request: RequestId,
        payload: Vec<u8>,
    },
    /// Call another server.
    Call {
        call: NestedCallId,
        group: GroupId,
        payload: Vec<u8>,
    },
    /// Start a server (`server C …` in a server method): the view service
    /// decides it once for the whole group, however many replicas and
    /// retries ask (the call id is the key), and the outcome arrives as a
    /// `NestedReply` with the same id: [`start_outcome`] made it, and
    /// [`started_group`] reads it.
    StartServer {
        call: NestedCallId,
        spec: ServerSpec,
    },
    /// Deliver `TimerFired { timer }` after `after` microseconds (ordered through the log).
    ArmTimer { timer: AppTimerId, after: Micros },
    /// The timer is no longer wanted; a firing that is already ordered is still delivered.
    CancelTimer { timer: AppTimerId },
}

/// The outcome of a decided [`AppOutput::StartServer`]: the new group's id
/// (8 little-endian bytes), or why it was not started.
pub fn start_outcome(result: Result<GroupId, String>) -> CallOutcome {
    match result {
        Ok(group) => CallOutcome::Reply(group.0.to_le_bytes().to_vec()),
        Err(reason) => CallOutcome::ServerFailure(reason),
    }
}

/// Reads an outcome [`start_outcome`] made: the started group, or why not.
pub fn started_group(outcome: &CallOutcome) -> Result<GroupId, String> {
    match outcome {
        CallOutcome::Reply(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
            .map(|b| GroupId(u64::from_le_bytes(b)))
            .map_err(|_| format!("a start's outcome of {} bytes", bytes.len())),
        CallOutcome::ServerFailure(reason) => Err(reason.clone()),
    }
}

/// The snapshot could not be restored.
#[derive(Debug, thiserror::Error)]
#[error("cannot restore snapshot: {0}")]
pub struct RestoreError(pub String);

/// A deterministic replicated application (one server class instance per replica).
pub trait StateMachine: Send {
    /// Applies one input; equal inputs in equal order must give equal outputs and states.
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>);
    /// The whole state, for state transfer to a recruited replica.
    fn snapshot(&self) -> Vec<u8>;
    /// Replaces the state with a snapshot taken by [`StateMachine::snapshot`].
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError>;
    /// A digest of the state, compared across replicas by the tests.
    fn digest(&self) -> u64;
    /// The client command whose method is running now (started and waiting
    /// for a nested reply or a timer, not yet replied), if any. The sequencer
    /// answers that command's retransmissions with "working", which restarts
    /// the caller's call deadline, so a method may run longer than the
    /// deadline. Commands queued behind it are not reported: a call cycle (a
    /// server calling itself) still ends at the deadline. Local knowledge, not
    /// part of the replicated state (a replica restored from a snapshot may
    /// answer `None` until its next command).
    fn running(&self) -> Option<RequestId> {
        None
    }

    /// Asks for the asynchronous mode: from now on [`StateMachine::start_apply`]
    /// may leave an input running off the caller's thread and call `waker`
    /// once its outputs are ready. A kernel asks; the simulator never does,
    /// and an application that ignores it stays synchronous (the default).
    fn set_waker(&mut self, waker: AppWaker) {
        let _ = waker;
    }

    /// Tells the replica which group it belongs to, once, right after the
    /// factory created it (before any input): a server that names itself
    /// (`this` as a value) needs it. The default ignores it.
    fn set_group(&mut self, group: crate::types::GroupId) {
        let _ = group;
    }

    /// Applies one input like [`StateMachine::apply`] and returns true, or (in
    /// the asynchronous mode) returns false while the input is still running:
    /// then nothing is in `out` yet, the state (snapshot, digest) is still the
    /// state before the input, and the outputs come from [`StateMachine::poll`]
    /// after the waker was called. No other input is given meanwhile.
    fn start_apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) -> bool {
        self.apply(input, out);
        true
    }

    /// For an input left running by [`StateMachine::start_apply`]: true once it
    /// completed, with all its outputs appended to `out` in order; false
    /// while it still runs (nothing appended).
    fn poll(&mut self, out: &mut Vec<AppOutput>) -> bool {
        let _ = out;
        true
    }

    /// What the input left running is doing, for the kernel log (e.g. the
    /// server class and method); `None` when unknown.
    fn describe_running(&self) -> Option<String> {
        None
    }
}

/// Creates the application of a server class on a host that was chosen to run a replica.
pub trait AppFactory: Send + Sync {
    /// `None` when the class is unknown to this program.
    fn create(&self, class: &str) -> Option<Box<dyn StateMachine>>;
}
