//! The host core: one per host kernel, composing failure detection, the view
//! service participant, the replicas placed on this host and the local clients.
//!
//! It is sans-IO: a driver (the deterministic simulator or the TCP kernel) feeds
//! it [`Input`]s with the current time and carries out the [`Output`]s:
//!
//! ```text
//!   Input::Message / Timer / Client ──▶ Host::handle ──▶ Output::Send / SetTimer / Client / Trace
//! ```
//!
//! The driver stamps every sent message with the sending host's id and current
//! incarnation ([`Host::incarnation`]) and hands both to the receiver; timers are never cancelled (the
//! core ignores a timer it no longer wants).

use crate::app::AppFactory;
use crate::message::Message;
use crate::types::{
    ClientId, GroupId, GroupView, HostId, Incarnation, Micros, ReplicaId, RequestId, ServerSpec,
    TimerId,
};
use std::sync::Arc;

/// Protocol timeouts. Units are microseconds (`_us`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How often a host heartbeats every other host.
    pub heartbeat_us: Micros,
    /// Silence after which a host suspects another and reports it to the view service.
    pub suspect_after_us: Micros,
    /// View-service leader election timeout range (randomised with the seeded RNG).
    pub election_min_us: Micros,
    pub election_max_us: Micros,
    /// How long a client or protocol step waits before retransmitting.
    pub retry_us: Micros,
    /// How long a call may stay unanswered before it fails with `server_failure`.
    pub call_deadline_us: Micros,
}

impl Default for Timing {
    /// Defaults for a local cluster on loopback.
    fn default() -> Timing {
        Timing {
            heartbeat_us: 20_000,
            suspect_after_us: 150_000,
            election_min_us: 150_000,
            election_max_us: 300_000,
            retry_us: 50_000,
            call_deadline_us: 10_000_000,
        }
    }
}

/// Deliberately wrong protocol variants, so tests can show the harness catches them.
#[cfg(feature = "planted-bugs")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlantedBugs {
    /// The sequencer executes and replies before every member holds the command.
    pub reply_before_all_hold: bool,
    /// Replicas execute a retried request again instead of resending the cached reply.
    pub no_duplicate_suppression: bool,
    /// A view change adopts the shortest surviving sequence instead of the longest.
    pub view_change_adopts_shorter: bool,
    /// State transfer sends the snapshot without the per-client duplicate table.
    pub state_transfer_without_dedup: bool,
}

/// Everything a host core needs to start.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub host: HostId,
    /// Larger than every earlier incarnation of this host.
    pub incarnation: Incarnation,
    /// Every host of the cluster (the view service runs on a majority of them).
    pub cluster: Vec<HostId>,
    pub timing: Timing,
    /// Seeds the core's only source of randomness.
    pub seed: u64,
    #[cfg(feature = "planted-bugs")]
    pub bugs: PlantedBugs,
}

/// An event for the host core.
#[derive(Clone, Debug)]
pub enum Input {
    /// The host just started (first input).
    Start,
    /// A message from another host (or this one), stamped by the driver.
    Message {
        from: HostId,
        from_incarnation: Incarnation,
        msg: Message,
    },
    /// A timer set by an earlier [`Output::SetTimer`] is due.
    Timer(TimerId),
    /// A request from a local client (e.g. `main`).
    Client(ClientRequest),
}

/// What a local client asks of its host. `token` is the client's own correlation id,
/// echoed in the matching [`ClientEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientRequest {
    /// `server C …`: start a (replicated) server; answered once every replica runs.
    StartServer { token: u64, spec: ServerSpec },
    /// Call a method: answered by the first reply (crash model), retried across
    /// view changes, executed exactly once.
    Call {
        token: u64,
        client: ClientId,
        group: GroupId,
        payload: Vec<u8>,
    },
}

/// An answer to a local client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    ServerStarted {
        token: u64,
        group: GroupId,
    },
    /// E.g. the cluster has too few hosts: the reason says how many are needed and how many exist.
    ServerStartFailed {
        token: u64,
        reason: String,
    },
    Reply {
        token: u64,
        payload: Vec<u8>,
    },
    /// `server_failure`: the server cannot answer. The call may or may not have executed.
    CallFailed {
        token: u64,
        reason: String,
    },
}

/// Observations for tests and logs; drivers may ignore them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trace {
    /// A local client's call was assigned this request id.
    Submitted { token: u64, request: RequestId },
    /// A replica applied the log entry at `position` (1-based) of its group.
    Executed {
        group: GroupId,
        replica: ReplicaId,
        position: u64,
        /// The client request, for command entries (None for nested replies and timer firings).
        request: Option<RequestId>,
        /// Identifies the entry's content, so sequences can be compared across replicas.
        entry_digest: u64,
        /// The application's state digest after applying it.
        state_digest: u64,
    },
    /// This host learned a committed view.
    ViewInstalled { host: HostId, view: GroupView },
}

/// Something the driver must do.
#[derive(Clone, Debug)]
pub enum Output {
    Send { to: HostId, msg: Message },
    SetTimer { timer: TimerId, at: Micros },
    Client(ClientEvent),
    Trace(Trace),
}

/// The host core. See the module documentation.
pub struct Host {
    config: HostConfig,
    #[allow(dead_code)]
    apps: Arc<dyn AppFactory>,
}

impl Host {
    pub fn new(config: HostConfig, apps: Arc<dyn AppFactory>) -> Host {
        Host { config, apps }
    }

    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// The current incarnation. Drivers stamp every sent message with it at send
    /// time: it grows when the view service declared this host failed and the
    /// core rejoined as a new incarnation.
    pub fn incarnation(&self) -> Incarnation {
        self.config.incarnation
    }

    /// Handles one input at time `now`, appending what must be done to `out`.
    pub fn handle(&mut self, _now: Micros, _input: Input, _out: &mut Vec<Output>) {}
}
