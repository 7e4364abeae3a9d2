//! The interface between the replication protocols and the replicated application.
//!
//! A server class becomes a [`StateMachine`]: deterministic, fed one [`AppInput`] at
//! a time in the group's total order. Everything it wants done outside itself —
//! replying, calling another server, arming a timer — it asks for as an
//! [`AppOutput`]. Nested replies and timer firings come back as inputs *ordered
//! through the group's log*, so every replica sees them at the same position.

use crate::types::{GroupId, Micros, RequestId};
use serde::{Deserialize, Serialize};

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
    /// Deliver `TimerFired { timer }` after `after` microseconds (ordered through the log).
    ArmTimer { timer: AppTimerId, after: Micros },
    /// The timer is no longer wanted; a firing that is already ordered is still delivered.
    CancelTimer { timer: AppTimerId },
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
}

/// Creates the application of a server class on a host that was chosen to run a replica.
pub trait AppFactory: Send + Sync {
    /// `None` when the class is unknown to this program.
    fn create(&self, class: &str) -> Option<Box<dyn StateMachine>>;
}
