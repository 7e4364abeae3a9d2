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

use crate::app::{AppFactory, NestedCallId};
use crate::client::{Client, ClientOutput};
use crate::failure_detector::{FailureDetector, FdOutput};
use crate::group::{DiskMirror, DurableCopy, GroupMessage, GroupOutput, ReplicaConfig};
use crate::identity::ProofKeys;
use crate::message::Message;
use crate::protocol::{new_engine, EngineContext, GroupProtocol};
use crate::storage::{Recovered, StorageOp, Store};
use crate::types::{
    ClientId, GroupId, GroupView, HostId, Incarnation, Micros, ReplicaId, RequestId, Scope,
    ServerSpec, TimerId, TimerSpace,
};
use crate::view_service::{Starter, ViewService, VsOutput};
use crate::vote::{content_digest, ContentDigest, Notices, ReplyRule, Tally};
use std::collections::{BTreeMap, BTreeSet};
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
    /// The view service never holds a recovery election: once a majority of
    /// voting identities is lost to restarts, it can decide nothing again.
    pub no_recovery_election: bool,
    /// Clients take a byzantine server's first reply instead of `t+1` matching ones.
    pub first_reply_for_byzantine: bool,
    /// The view service restores its term, vote and snapshot from stable
    /// storage but not the log records after the snapshot.
    pub restore_without_log_tail: bool,
    /// For drivers (the simulator's host node honours it): what an input
    /// persisted is synced only at the next input, after the messages and
    /// answers that depend on it left (an acknowledgement before the fsync).
    pub sync_after_send: bool,
    /// Byzantine replicas commit a batch as soon as they accept its
    /// pre-prepare: no prepare quorum (and so no commit quorum built on one).
    pub commit_without_prepare_quorum: bool,
    /// A byzantine replica installs a transferred state without checking its digest.
    pub state_transfer_skips_digest_check: bool,
    /// A byzantine backup follows a new view without checking the signatures
    /// of the reports it was decided from (a lying primary's forged reports).
    pub new_view_reports_unchecked: bool,
    /// A byzantine callee executes a byzantine caller's nested command on one copy.
    pub nested_command_on_one_copy: bool,
    /// A durable group's sequencer commits while recruits of its view are
    /// not yet counted as state holders (the commit gate stays open).
    pub durable_commit_ungated: bool,
    /// A durable server's replica keeps only its snapshots on disk, not the
    /// log entries it acknowledges.
    pub durable_log_not_persisted: bool,
}

/// Everything a host core needs to start (see [`HostConfig::new`] for the defaults).
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
    /// This host's signing key and every host's public key (byzantine groups
    /// sign their view changes with it).
    pub proofs: Arc<ProofKeys>,
    #[cfg(feature = "planted-bugs")]
    pub bugs: PlantedBugs,
}

impl HostConfig {
    /// A configuration with default timing and no planted bugs.
    pub fn new(
        host: HostId,
        incarnation: Incarnation,
        cluster: Vec<HostId>,
        seed: u64,
        proofs: Arc<ProofKeys>,
    ) -> HostConfig {
        assert_eq!(proofs.me(), host, "a host signs with its own key");
        HostConfig {
            host,
            incarnation,
            cluster,
            timing: Timing::default(),
            seed,
            proofs,
            #[cfg(feature = "planted-bugs")]
            bugs: PlantedBugs::default(),
        }
    }
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
    /// The application of `group`'s replica has outputs ready for the input
    /// it runs off the core's time (see [`Host::set_app_waker`]). Spurious
    /// ones are harmless.
    AppReady { group: GroupId },
}

/// Called from any thread with a group whose replica's application has
/// outputs ready; the driver then feeds [`Input::AppReady`].
pub type GroupWaker = Arc<dyn Fn(GroupId) + Send + Sync>;

/// What a local client asks of its host. `token` is the client's own correlation id,
/// echoed in the matching [`ClientEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientRequest {
    /// `server C …`: start a (replicated) server; answered once every replica runs.
    StartServer {
        token: u64,
        /// Boxed: rare and large (see [`crate::message::Message::View`]).
        spec: Box<ServerSpec>,
        scope: Scope,
    },
    /// Call a method: answered by the first reply (crash model), retried across
    /// view changes, executed exactly once.
    Call {
        token: u64,
        client: ClientId,
        group: GroupId,
        payload: Vec<u8>,
    },
    /// Send `payload` to host `to`, whose core sends it straight back: answered
    /// by a [`ClientEvent::Reply`] with the same payload, or a
    /// [`ClientEvent::CallFailed`] when `to` is not in the cluster or more than
    /// [`ECHOES_MAX`] echoes are outstanding (the oldest gives way). No
    /// retransmission and no deadline: a lost echo is never answered, so the
    /// client waits with a timeout. Measures the round trip under every protocol.
    Echo {
        token: u64,
        to: HostId,
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
    /// This host learned a committed view (boxed: rare and large, see
    /// [`crate::message::Message::View`]).
    ViewInstalled { host: HostId, view: Box<GroupView> },
}

/// Something the driver must do.
#[derive(Clone, Debug)]
pub enum Output {
    Send {
        to: HostId,
        msg: Message,
    },
    SetTimer {
        timer: TimerId,
        at: Micros,
    },
    Client(ClientEvent),
    Trace(Trace),
    /// Only with stable storage ([`Host::restore_view_service`]): carry the
    /// operation out on `store`'s log; it must be durable (synced) before
    /// any later `Send` or `Client` output leaves the host.
    Persist {
        store: Store,
        op: StorageOp,
    },
}

/// The host core. See the module documentation.
///
/// A driver creates one per host, feeds [`Input::Start`] first and then every
/// message, due timer and local client request, carrying out the outputs:
///
/// ```
/// use ftc_runtime::app::{AppFactory, StateMachine};
/// use ftc_runtime::host::{Host, HostConfig, Input, Output};
/// use ftc_runtime::identity::ProofKeys;
/// use ftc_runtime::types::{HostId, Incarnation};
/// use std::sync::Arc;
///
/// struct NoClasses;
/// impl AppFactory for NoClasses {
///     fn create(&self, _class: &str) -> Option<Box<dyn StateMachine>> {
///         None
///     }
/// }
///
/// let cluster = vec![HostId(0), HostId(1), HostId(2)];
/// // A real kernel's keys come from its key file and the cluster file.
/// let proofs = Arc::new(ProofKeys::simulated(HostId(0), &cluster, 7));
/// let config = HostConfig::new(HostId(0), Incarnation(1), cluster, 7, proofs);
/// let mut host = Host::new(config, Arc::new(NoClasses));
/// let mut out = Vec::new();
/// host.handle(0, Input::Start, &mut out);
/// for output in out.drain(..) {
///     match output {
///         Output::Send { to, msg } => { /* stamp with host.incarnation() and send */ let _ = (to, msg); }
///         Output::SetTimer { timer, at } => { /* feed Input::Timer(timer) at `at` */ let _ = (timer, at); }
///         Output::Client(event) => { /* answer the local client */ let _ = event; }
///         Output::Trace(_) => {}
///         Output::Persist { store, op } => { /* write, and sync before the next send */ let _ = (store, op); }
///     }
/// }
/// ```
pub struct Host {
    config: HostConfig,
    apps: Arc<dyn AppFactory>,
    incarnation: Incarnation,
    fd: FailureDetector,
    vs: ViewService,
    /// The newest committed view of every group this host learned.
    views: BTreeMap<GroupId, GroupView>,
    /// The replicas of the current incarnation, one per group at most, each
    /// the engine of its group's model.
    replicas: BTreeMap<GroupId, Box<dyn GroupProtocol>>,
    /// The groups of `replicas` whose server is durable: the ones whose
    /// commit gate follows the view service (`gate_durable_commits`, which
    /// runs after every view-service step and so must not visit every replica).
    durable_replicas: BTreeSet<GroupId>,
    client: Client,
    /// Group timers in flight: local timer number → group.
    group_timers: BTreeMap<u64, GroupId>,
    /// When the replicas next look for departed clients.
    next_departure_sweep: Micros,
    next_group_timer: u64,
    /// Inputs dropped because they were malformed or unexpected.
    dropped: u64,
    /// The replicas batch their normal-operation sends until [`Host::flush`].
    batching: bool,
    /// Copies of nested-call answers from byzantine servers, counted until
    /// `t+1` members agree (see [`Host::vote_nested`]).
    nested_votes: BTreeMap<(GroupId, RequestId), NestedVote>,
    /// Copies of nested commands from byzantine callers, counted until `t+1`
    /// caller members agree (see [`Host::vote_nested_request`]).
    nested_requests: BTreeMap<(GroupId, RequestId), Tally>,
    /// Nested commands that passed their vote: later copies with the same
    /// content (retransmissions, caller replicas that lag) go straight to the
    /// callee, which answers them from its duplicate table; copies of another
    /// content are dropped.
    nested_passed: BTreeMap<(GroupId, RequestId), PassedCommand>,
    /// Echoes sent and not answered yet: token → the host asked.
    echoes: BTreeMap<u64, HostId>,
    /// Set: replicas' applications run inputs off the core's time.
    app_waker: Option<GroupWaker>,
    /// The driver keeps this host's stable storage ([`Host::restore_view_service`]):
    /// replicas of durable servers keep their state on it.
    stable: bool,
    /// What this host's disk held at start for durable servers' replicas
    /// ([`Host::restore_durable`]), until a replica of the group is created
    /// here: it then starts from the copy if it brings a dormant group
    /// back, and otherwise only learns what its disk holds.
    durable_copies: BTreeMap<GroupId, (DiskMirror, Option<DurableCopy>)>,
    /// Group messages that arrived before this host's replica of their group
    /// existed, handed to it when it is created (see [`early`]).
    early: early::EarlyMessages,
}

/// Most echoes ([`ClientRequest::Echo`]) outstanding at once; beyond, the
/// oldest fails.
pub const ECHOES_MAX: usize = 1024;

/// Most nested answers a host counts at once; the oldest is forgotten beyond
/// (its call retransmits, and the copies come again).
const NESTED_VOTES_MAX: usize = 4096;

/// How often every replica looks for departed clients besides when the view
/// service says more departed (a new sequencer or a recruit catches up).
pub const DEPARTURE_SWEEP_US: Micros = 1_000_000;

/// A byzantine caller's nested command that passed its vote: what later
/// copies must carry to pass too.
#[derive(Clone, Copy, Debug)]
struct PassedCommand {
    payload: ContentDigest,
    low_water: u64,
}

/// The copies of one nested call's answer received so far.
#[derive(Default)]
struct NestedVote {
    replies: Tally,
    working: Notices,
}

impl Host {
    pub fn new(config: HostConfig, apps: Arc<dyn AppFactory>) -> Host {
        let timing = &config.timing;
        let fd = FailureDetector::new(config.host, &config.cluster, timing);
        let vs = ViewService::new(
            config.host,
            config.incarnation,
            &config.cluster,
            timing,
            config.seed,
        );
        #[cfg(feature = "planted-bugs")]
        let vs = {
            let mut vs = vs;
            vs.plant_bugs(config.bugs.clone());
            vs
        };
        let client = Client::new(config.host, timing.retry_us, timing.call_deadline_us);
        #[cfg(feature = "planted-bugs")]
        let client = client.with_first_reply_only(config.bugs.first_reply_for_byzantine);
        let early = early::EarlyMessages::new(config.timing.retry_us);
        Host {
            incarnation: config.incarnation,
            config,
            apps,
            fd,
            vs,
            views: BTreeMap::new(),
            replicas: BTreeMap::new(),
            durable_replicas: BTreeSet::new(),
            client,
            group_timers: BTreeMap::new(),
            next_departure_sweep: 0,
            nested_votes: BTreeMap::new(),
            nested_requests: BTreeMap::new(),
            nested_passed: BTreeMap::new(),
            echoes: BTreeMap::new(),
            app_waker: None,
            stable: false,
            durable_copies: BTreeMap::new(),
            early,
            next_group_timer: 0,
            dropped: 0,
            batching: false,
        }
    }

    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Keeps the view service's participant on stable storage, restored
    /// from what its log held (`Recovered::default()` at a first start);
    /// call before [`Input::Start`]. From then on the core emits
    /// [`Output::Persist`].
    pub fn restore_view_service(&mut self, recovered: Recovered) -> Result<(), String> {
        self.stable = true;
        self.vs.restore(recovered)
    }

    /// What this host's disk held for its replica of the durable server
    /// `group` ([`crate::storage::Store::Group`]); call after
    /// [`Host::restore_view_service`] and before [`Input::Start`]. When the
    /// view service finds the group dormant (every state holder gone) and
    /// this host ran one of its last holders, the host brings it back from
    /// this copy. An unreadable copy is refused.
    pub fn restore_durable(&mut self, group: GroupId, recovered: &Recovered) -> Result<(), String> {
        assert!(self.stable, "durable copies need stable storage");
        let copy = DurableCopy::decode(recovered)?;
        let disk = DiskMirror::found(copy.base(), copy.end());
        self.durable_copies.insert(group, (disk, Some(copy)));
        Ok(())
    }

    /// Offers the view service every durable copy it could bring back.
    fn offer_durable_copies(&mut self, now: Micros, out: &mut Vec<Output>) {
        let revivable: Vec<GroupId> = self
            .durable_copies
            .iter()
            .filter(|(g, (_, copy))| copy.is_some() && self.vs.may_revive(**g))
            .map(|(g, _)| *g)
            .collect();
        for group in revivable {
            let mut vs_out = Vec::new();
            self.vs.revive(now, group, &mut vs_out);
            // Only a first offer has outputs (then it is pending): handling
            // them offers again, and that stops here.
            if !vs_out.is_empty() {
                self.on_vs_outputs(now, vs_out, out);
            }
        }
    }

    /// The current incarnation. Drivers stamp every sent message with it at send
    /// time: it grows when the view service declared this host failed and the
    /// core rejoined as a new incarnation.
    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    /// Lets the applications of the replicas created from now on run their
    /// inputs off the core's time ([`crate::app::StateMachine::set_waker`]):
    /// a long method then delays only its own group, and its outputs come back
    /// as [`Input::AppReady`] once `waker` was called with the group. A
    /// kernel sets it; the simulator does not (every input completes within
    /// [`Host::handle`], deterministically).
    pub fn set_app_waker(&mut self, waker: GroupWaker) {
        self.app_waker = Some(waker);
    }

    /// The replicas whose application has been running an input off the
    /// core's time: group, since when (the core's time), what it runs.
    pub fn busy_replicas(&self) -> Vec<(GroupId, Micros, String)> {
        self.replicas
            .iter()
            .filter_map(|(g, r)| r.busy().map(|(since, what)| (*g, since, what)))
            .collect()
    }

    /// How many of this host's replicas are unhealed recruits
    /// ([`GroupProtocol::is_unhealed_recruit`]).
    pub fn unhealed_recruits(&self) -> usize {
        self.replicas
            .values()
            .filter(|r| r.is_unhealed_recruit())
            .count()
    }

    /// This host's replica of `group`, if it runs one.
    pub fn replica(&self, group: GroupId) -> Option<&dyn GroupProtocol> {
        self.replicas.get(&group).map(|r| r.as_ref())
    }

    /// The newest committed view of `group` this host knows.
    pub fn view(&self, group: GroupId) -> Option<&GroupView> {
        self.views.get(&group)
    }

    /// This host's view-service participant (for traces and the simulator's checks).
    pub fn view_service(&self) -> &ViewService {
        &self.vs
    }

    /// How a driver that has several inputs ready at once should order them
    /// (`ServerSpec::priority`, higher first): `None` for control work that goes
    /// before any group's work (failure-detector heartbeats, view-service
    /// messages and timers, server starts, anything not about a known group);
    /// `Some(p)` for work of a group whose newest known view has priority `p`
    /// (its protocol messages, its clients' calls and replies, its timers). A
    /// reply to a nested call counts for the calling group.
    pub fn input_priority(&self, input: &Input) -> Option<i64> {
        match input {
            Input::Start
            | Input::Client(ClientRequest::StartServer { .. } | ClientRequest::Echo { .. }) => None,
            Input::Message { msg, .. } => self.message_priority(msg),
            Input::Timer(timer) => match timer.space() {
                Some(TimerSpace::Group) => self
                    .group_timers
                    .get(&timer.local())
                    .and_then(|g| self.group_priority(*g)),
                _ => None,
            },
            Input::Client(ClientRequest::Call { group, .. }) | Input::AppReady { group } => {
                self.group_priority(*group)
            }
        }
    }

    /// [`Host::input_priority`] of a received message.
    pub fn message_priority(&self, msg: &Message) -> Option<i64> {
        match msg {
            Message::Heartbeat { .. }
            | Message::View(_)
            | Message::Echo { .. }
            | Message::Echoed { .. } => None,
            Message::Group(
                GroupMessage::Reply {
                    request:
                        RequestId {
                            client: ClientId::Group(caller),
                            ..
                        },
                    ..
                }
                | GroupMessage::Working {
                    request:
                        RequestId {
                            client: ClientId::Group(caller),
                            ..
                        },
                    ..
                },
            ) => self.group_priority(*caller),
            Message::Group(m) => self.group_priority(m.group()),
        }
    }

    /// The priority of `group`'s newest known view (`None` if no view is known).
    pub fn group_priority(&self, group: GroupId) -> Option<i64> {
        self.views.get(&group).map(|v| v.spec.priority)
    }

    /// Inputs dropped so far because they were malformed or unexpected.
    pub fn dropped_inputs(&self) -> u64 {
        self.dropped
    }

    fn me(&self) -> ReplicaId {
        ReplicaId {
            host: self.config.host,
            incarnation: self.incarnation,
        }
    }

    /// Batching on: the replicas hold back their normal-operation messages
    /// (`Prepare`, `Commit`, `PrepareOk`) until [`Host::flush`], which sends them
    /// coalesced (see [`Replica::set_batching`]). A driver that handles inputs
    /// in rounds turns it on and calls `flush` at the end of every round: many
    /// client commands then travel in one `Prepare` and are acknowledged by one
    /// `PrepareOk`. Off by default (every handler sends at once).
    pub fn set_batching(&mut self, on: bool, now: Micros, out: &mut Vec<Output>) {
        self.batching = on;
        let groups: Vec<GroupId> = self.replicas.keys().copied().collect();
        for group in groups {
            let mut group_out = Vec::new();
            if let Some(replica) = self.replicas.get_mut(&group) {
                replica.set_batching(on, now, &mut group_out);
            }
            self.on_group_outputs(now, group, group_out, out);
        }
    }

    /// Sends what batching held back, higher-priority groups first.
    pub fn flush(&mut self, now: Micros, out: &mut Vec<Output>) {
        if !self.batching {
            return;
        }
        let mut groups: Vec<(i64, GroupId)> = self
            .replicas
            .keys()
            .map(|g| (self.group_priority(*g).unwrap_or(0), *g))
            .collect();
        groups.sort_by_key(|(p, g)| (p.saturating_neg(), *g));
        for (_, group) in groups {
            let mut group_out = Vec::new();
            if let Some(replica) = self.replicas.get_mut(&group) {
                replica.flush(now, &mut group_out);
            }
            self.on_group_outputs(now, group, group_out, out);
        }
    }

    /// Handles one input at time `now`, appending what must be done to `out`.
    pub fn handle(&mut self, now: Micros, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Start => {
                let mut fd_out = Vec::new();
                self.fd.on_start(now, &mut fd_out);
                self.on_fd_outputs(now, fd_out, out);
                let mut vs_out = Vec::new();
                self.vs.on_start(now, &mut vs_out);
                // Restored from stable storage, the view service already knows
                // views: the clients and replicas learn them now, not only when
                // a group changes again.
                vs_out.extend(self.vs.views().cloned().map(VsOutput::View));
                self.on_vs_outputs(now, vs_out, out);
            }
            Input::Message {
                from,
                from_incarnation,
                msg,
            } => {
                // Any message shows the sender is alive.
                let mut fd_out = Vec::new();
                self.fd
                    .on_heartbeat(now, from, from_incarnation, &mut fd_out);
                self.on_fd_outputs(now, fd_out, out);
                match msg {
                    Message::Heartbeat { .. } => {}
                    Message::View(vs_msg) => {
                        let mut vs_out = Vec::new();
                        self.vs
                            .on_message(now, from, from_incarnation, *vs_msg, &mut vs_out);
                        self.on_vs_outputs(now, vs_out, out);
                    }
                    Message::Group(group_msg) => {
                        let sender = ReplicaId {
                            host: from,
                            incarnation: from_incarnation,
                        };
                        self.on_group_message(now, sender, group_msg, out);
                    }
                    Message::Echo { token, payload } => out.push(Output::Send {
                        to: from,
                        msg: Message::Echoed { token, payload },
                    }),
                    Message::Echoed { token, payload } => self.on_echoed(from, token, payload, out),
                }
            }
            Input::Timer(timer) => match timer.space() {
                Some(TimerSpace::FailureDetector) => {
                    let mut fd_out = Vec::new();
                    self.fd.on_timer(now, timer, &mut fd_out);
                    self.on_fd_outputs(now, fd_out, out);
                    if now >= self.next_departure_sweep {
                        self.sweep_all_departures(now, out);
                    }
                }
                Some(TimerSpace::ViewService) => {
                    let mut vs_out = Vec::new();
                    self.vs.on_timer(now, timer, &mut vs_out);
                    self.on_vs_outputs(now, vs_out, out);
                }
                Some(TimerSpace::Group) => {
                    // A timer of a replica that is gone is simply not wanted any more.
                    if let Some(group) = self.group_timers.remove(&timer.local()) {
                        if let Some(replica) = self.replicas.get_mut(&group) {
                            let mut group_out = Vec::new();
                            replica.on_tick(now, &mut group_out);
                            self.on_group_outputs(now, group, group_out, out);
                            self.note_state_held(now, group, out);
                        }
                    }
                }
                Some(TimerSpace::Client) => {
                    let mut client_out = Vec::new();
                    self.client.on_timer(now, timer, &mut client_out);
                    self.on_client_outputs(client_out, out);
                }
                None => self.dropped += 1,
            },
            Input::Client(ClientRequest::StartServer { token, spec, scope }) => {
                self.client.start_requested(token);
                let mut vs_out = Vec::new();
                self.vs.start_server(now, token, *spec, scope, &mut vs_out);
                self.on_vs_outputs(now, vs_out, out);
            }
            Input::Client(ClientRequest::Call {
                token,
                client,
                group,
                payload,
            }) => {
                let mut client_out = Vec::new();
                self.client
                    .call(now, token, client, group, payload, &mut client_out);
                if self.vs.is_stopped(group) {
                    // Known only as stopped: it fails now, not at the deadline.
                    self.client.on_stopped(group, &mut client_out);
                }
                self.on_client_outputs(client_out, out);
            }
            Input::Client(ClientRequest::Echo { token, to, payload }) => {
                self.echo(token, to, payload, out)
            }
            Input::AppReady { group } => {
                // A replica that is gone no longer wants it.
                if let Some(replica) = self.replicas.get_mut(&group) {
                    let mut group_out = Vec::new();
                    replica.on_app_ready(now, &mut group_out);
                    self.on_group_outputs(now, group, group_out, out);
                    self.note_state_held(now, group, out);
                }
            }
        }
    }

    /// Sends an echo to `to` (see [`ClientRequest::Echo`]).
    fn echo(&mut self, token: u64, to: HostId, payload: Vec<u8>, out: &mut Vec<Output>) {
        if !self.config.cluster.contains(&to) {
            let reason = format!("cannot echo: h{} is not in the cluster", to.0);
            out.push(Output::Client(ClientEvent::CallFailed { token, reason }));
            return;
        }
        if self.echoes.len() >= ECHOES_MAX {
            if let Some((oldest, _)) = self.echoes.pop_first() {
                let reason = "echo given up: too many outstanding".to_string();
                let event = ClientEvent::CallFailed {
                    token: oldest,
                    reason,
                };
                out.push(Output::Client(event));
            }
        }
        self.echoes.insert(token, to);
        out.push(Output::Send {
            to,
            msg: Message::Echo { token, payload },
        });
        debug_assert!(self.echoes.len() <= ECHOES_MAX);
    }

    /// An echo came back: answers its client if it is ours and from the host asked.
    fn on_echoed(&mut self, from: HostId, token: u64, payload: Vec<u8>, out: &mut Vec<Output>) {
        if self.echoes.get(&token) != Some(&from) {
            self.dropped += 1;
            return;
        }
        self.echoes.remove(&token);
        out.push(Output::Client(ClientEvent::Reply { token, payload }));
    }

    fn on_group_message(
        &mut self,
        now: Micros,
        from: ReplicaId,
        msg: GroupMessage,
        out: &mut Vec<Output>,
    ) {
        let for_replica = match &msg {
            // A reply to a nested call goes to the calling group's replica; other replies
            // and ready notices to this host's clients.
            GroupMessage::Reply { request, .. } | GroupMessage::Working { request, .. } => {
                match request.client {
                    ClientId::Group(caller) => Some(caller),
                    ClientId::Host { .. } => None,
                }
            }
            GroupMessage::Ready { .. } => None,
            other => Some(other.group()),
        };
        let msg = match self.vote_nested_request(from, msg) {
            Some(msg) => msg,
            None => return,
        };
        let msg = match for_replica {
            Some(_) => match self.vote_nested(from, msg) {
                Some(msg) => msg,
                None => return,
            },
            None => msg,
        };
        match for_replica {
            Some(group) => match self.replicas.get_mut(&group) {
                Some(replica) => {
                    let mut group_out = Vec::new();
                    replica.on_message(now, from, msg, &mut group_out);
                    self.on_group_outputs(now, group, group_out, out);
                    self.note_state_held(now, group, out);
                }
                // Its view may be on its way here: kept for a retry period.
                None => self.dropped += self.early.keep(now, from, msg),
            },
            None => {
                let mut client_out = Vec::new();
                self.client.on_message(now, from.host, msg, &mut client_out);
                self.on_client_outputs(client_out, out);
            }
        }
    }

    /// A nested command from a byzantine caller passes on to the callee's
    /// replica only once `t+1` of the caller's members sent it with the same
    /// content; a copy from a non-member never counts. A later copy passes
    /// only with the content that passed (retransmissions reach the callee,
    /// whose duplicate table executes the command once; a liar's copy of
    /// another content is dropped). Other messages pass unchanged.
    fn vote_nested_request(
        &mut self,
        from: ReplicaId,
        mut msg: GroupMessage,
    ) -> Option<GroupMessage> {
        let GroupMessage::Request {
            group: callee,
            request,
            payload,
            low_water,
        } = &mut msg
        else {
            return Some(msg);
        };
        let ClientId::Group(caller) = request.client else {
            return Some(msg);
        };
        let Some(view) = self.views.get(&caller) else {
            return Some(msg);
        };
        let rule = ReplyRule::of_view(view);
        #[cfg(feature = "planted-bugs")]
        let rule = match self.config.bugs.nested_command_on_one_copy {
            true => ReplyRule::First,
            false => rule,
        };
        if !rule.asks_every_member() {
            return Some(msg);
        }
        if !view.members.iter().any(|m| m.host == from.host) {
            self.dropped += 1;
            return None;
        }
        let key = (*callee, *request);
        if let Some(passed) = self.nested_passed.get(&key) {
            // A later copy reaches the callee (whose duplicate table runs it
            // once) only with the content that passed, and the low-water
            // mark voted with it: the first copy to pass may have found no
            // replica here yet (a server just started), and a liar's copy
            // of another content must not take its place.
            if content_digest(payload) != passed.payload {
                self.dropped += 1;
                return None;
            }
            *low_water = passed.low_water;
            return Some(msg);
        }
        if !self.nested_requests.contains_key(&key)
            && self.nested_requests.len() >= NESTED_VOTES_MAX
        {
            self.nested_requests.pop_first();
        }
        let mut content = payload.clone();
        content.extend_from_slice(&low_water.to_le_bytes());
        let tally = self.nested_requests.entry(key).or_default();
        tally.add(rule, from.host, &content)?;
        self.nested_requests.remove(&key);
        if self.nested_passed.len() >= NESTED_VOTES_MAX {
            self.nested_passed.pop_first();
        }
        let passed = PassedCommand {
            payload: content_digest(payload),
            low_water: *low_water,
        };
        self.nested_passed.insert(key, passed);
        Some(msg)
    }

    /// A nested call's answer from a byzantine server passes on to the calling
    /// replica only once `t+1` of the server's members sent the same one (a
    /// reply) or said so (working); a copy from a non-member never counts.
    /// Other messages pass unchanged.
    fn vote_nested(&mut self, from: ReplicaId, msg: GroupMessage) -> Option<GroupMessage> {
        let (callee, request) = match &msg {
            GroupMessage::Reply { group, request, .. }
            | GroupMessage::Working { group, request } => (*group, *request),
            _ => return Some(msg),
        };
        let Some(view) = self.views.get(&callee) else {
            return Some(msg);
        };
        let rule = ReplyRule::of_view(view);
        #[cfg(feature = "planted-bugs")]
        let rule = match self.config.bugs.first_reply_for_byzantine {
            true => ReplyRule::First,
            false => rule,
        };
        if !rule.asks_every_member() {
            return Some(msg);
        }
        if !view.members.iter().any(|m| m.host == from.host) {
            self.dropped += 1;
            return None;
        }
        if !self.nested_votes.contains_key(&(callee, request))
            && self.nested_votes.len() >= NESTED_VOTES_MAX
        {
            self.nested_votes.pop_first();
        }
        let vote = self.nested_votes.entry((callee, request)).or_default();
        match msg {
            GroupMessage::Reply { payload, .. } => {
                let decided = vote.replies.add(rule, from.host, &payload)?;
                self.nested_votes.remove(&(callee, request));
                Some(GroupMessage::Reply {
                    group: callee,
                    request,
                    payload: decided,
                })
            }
            GroupMessage::Working { .. } => {
                vote.working
                    .add(rule, from.host)
                    .then_some(GroupMessage::Working {
                        group: callee,
                        request,
                    })
            }
            _ => unreachable!("only replies and working notices are counted"),
        }
    }

    fn on_fd_outputs(&mut self, now: Micros, fd_out: Vec<FdOutput>, out: &mut Vec<Output>) {
        for o in fd_out {
            match o {
                FdOutput::Heartbeat { to } => out.push(Output::Send {
                    to,
                    msg: Message::Heartbeat {
                        incarnation: self.incarnation,
                    },
                }),
                FdOutput::SetTimer { timer, at } => out.push(Output::SetTimer { timer, at }),
                FdOutput::Suspect { host, incarnation } => {
                    let mut vs_out = Vec::new();
                    self.vs.suspect(now, host, incarnation, &mut vs_out);
                    self.on_vs_outputs(now, vs_out, out);
                }
                FdOutput::HeardFrom { host, incarnation } => {
                    let mut vs_out = Vec::new();
                    self.vs.heard_from(now, host, incarnation, &mut vs_out);
                    self.on_vs_outputs(now, vs_out, out);
                }
            }
        }
    }

    fn on_vs_outputs(&mut self, now: Micros, vs_out: Vec<VsOutput>, out: &mut Vec<Output>) {
        // Durable before the sends that depend on it.
        for op in self.vs.take_storage_ops() {
            out.push(Output::Persist {
                store: Store::ViewService,
                op,
            });
        }
        let mut departures = false;
        for o in vs_out {
            match o {
                VsOutput::Send { to, msg } => out.push(Output::Send {
                    to,
                    msg: Message::View(Box::new(msg)),
                }),
                VsOutput::SetTimer { timer, at } => out.push(Output::SetTimer { timer, at }),
                VsOutput::View(view) => {
                    departures |= view.failed;
                    self.on_view(now, view, out);
                }
                VsOutput::StartDecided {
                    starter: Starter::Client { token, .. },
                    result,
                } => {
                    let mut client_out = Vec::new();
                    self.client
                        .on_start_decided(now, token, result, &mut client_out);
                    self.on_client_outputs(client_out, out);
                }
                VsOutput::StartDecided {
                    starter: Starter::Group { group, call },
                    result,
                } => {
                    // The replica that asked may be gone (excluded, moved).
                    if let Some(replica) = self.replicas.get_mut(&group) {
                        let mut group_out = Vec::new();
                        replica.on_start_decided(now, NestedCallId(call), result, &mut group_out);
                        self.on_group_outputs(now, group, group_out, out);
                    }
                }
                VsOutput::Excluded => self.on_excluded(now, out),
                VsOutput::Stopped(group) => {
                    departures = true;
                    self.on_stopped(now, group, out);
                }
                VsOutput::Departed => departures = true,
            }
        }
        if departures {
            self.sweep_all_departures(now, out);
        }
        if !self.durable_copies.is_empty() {
            self.offer_durable_copies(now, out);
        }
        self.gate_durable_commits(now, out);
    }

    /// A durable group's sequencer commits only while every member of its
    /// view counts as a state holder: until then, the holders that died
    /// before this view still have every committed entry on their disks,
    /// and the view service counts them for bringing the group back
    /// (`view_service/state.rs`, `complete_disks`).
    fn gate_durable_commits(&mut self, now: Micros, out: &mut Vec<Output>) {
        #[cfg(feature = "planted-bugs")]
        if self.config.bugs.durable_commit_ungated {
            return;
        }
        let durable: Vec<GroupId> = self.durable_replicas.iter().copied().collect();
        for group in durable {
            debug_assert!(
                self.replicas.contains_key(&group)
                    && self
                        .views
                        .get(&group)
                        .is_some_and(|v| v.spec.durable.is_some()),
                "{group:?} is marked durable without a durable replica here"
            );
            let gated = !self.vs.all_members_hold(group);
            let mut group_out = Vec::new();
            if let Some(replica) = self.replicas.get_mut(&group) {
                replica.set_commit_gate(gated, now, &mut group_out);
            }
            self.on_group_outputs(now, group, group_out, out);
        }
    }

    /// A committed view: create, update or drop the local replica, tell the clients.
    fn on_view(&mut self, now: Micros, view: GroupView, out: &mut Vec<Output>) {
        let group = view.group;
        if self
            .views
            .get(&group)
            .is_some_and(|v| v.view_id >= view.view_id)
        {
            return;
        }
        self.views.insert(group, view.clone());
        out.push(Output::Trace(Trace::ViewInstalled {
            host: self.config.host,
            view: Box::new(view.clone()),
        }));
        let mut client_out = Vec::new();
        self.client.on_view(now, &view, &mut client_out);
        self.on_client_outputs(client_out, out);

        let me = self.me();
        if view.failed {
            self.remove_replica(group);
            self.callee_failed(now, group, out);
            return;
        }
        if !view.members.contains(&me) {
            self.drop_replica(now, group);
            return;
        }
        let mut group_out = Vec::new();
        if let Some(replica) = self.replicas.get_mut(&group) {
            replica.on_view(now, view, &mut group_out);
        } else {
            let Some(mut app) = self.apps.create(&view.spec.class) else {
                self.dropped += 1;
                return;
            };
            app.set_group(group);
            if let Some(waker) = &self.app_waker {
                let waker = waker.clone();
                app.set_waker(Arc::new(move || waker(group)));
            }
            let config = ReplicaConfig {
                group,
                me,
                retry_us: self.config.timing.retry_us,
                call_deadline_us: self.config.timing.call_deadline_us,
                #[cfg(feature = "planted-bugs")]
                bugs: self.config.bugs.clone(),
            };
            let durable = (self.stable && view.spec.durable.is_some()).then(|| {
                let (disk, found) = self
                    .durable_copies
                    .remove(&group)
                    .unwrap_or_else(|| (DiskMirror::default(), None));
                // The view service counts a member that did not join as a state
                // holder at once only when it brought the group back.
                let revives = !view.joining.contains(&me)
                    && !is_first_view(&view)
                    && self.vs.counts_state_holder(group);
                (disk, found.filter(|_| revives))
            });
            let ctx = EngineContext {
                config,
                fresh: is_first_view(&view),
                durable,
                proofs: self.config.proofs.clone(),
            };
            let is_durable = view.spec.durable.is_some();
            let mut replica = new_engine(now, ctx, app, view, &mut group_out);
            replica.set_batching(self.batching, now, &mut group_out);
            for failed in self.views.values().filter(|v| v.failed) {
                replica.on_group_failed(now, failed.group, &mut group_out);
            }
            if is_durable {
                self.durable_replicas.insert(group);
            }
            let (early, expired) = self.early.take(now, group);
            self.dropped += expired;
            for (from, msg) in early {
                replica.on_message(now, from, msg, &mut group_out);
            }
            self.replicas.insert(group, replica);
        }
        self.on_group_outputs(now, group, group_out, out);
        self.note_state_held(now, group, out);
    }

    /// Drops this host's replica of `group`. A durable server's state stays
    /// on this host's disk: its copy is kept, so that a later incarnation of
    /// this host can bring the server back from it (or, recruited again,
    /// knows what the disk holds).
    fn drop_replica(&mut self, now: Micros, group: GroupId) {
        if let Some(replica) = self.remove_replica(group) {
            if let Some(copy) = replica.durable_copy(now) {
                self.durable_copies.insert(group, copy);
            }
        }
    }

    /// Removes this host's replica of `group`, if any.
    fn remove_replica(&mut self, group: GroupId) -> Option<Box<dyn GroupProtocol>> {
        self.durable_replicas.remove(&group);
        self.replicas.remove(&group)
    }

    /// The view service stopped `group` (its program ended): its replica here
    /// goes, calls to it fail, and replicas calling it see it as failed.
    fn on_stopped(&mut self, now: Micros, group: GroupId, out: &mut Vec<Output>) {
        self.views.remove(&group);
        self.durable_copies.remove(&group);
        self.remove_replica(group);
        self.group_timers.retain(|_, g| *g != group);
        let mut client_out = Vec::new();
        self.client.on_stopped(group, &mut client_out);
        self.on_client_outputs(client_out, out);
        self.callee_failed(now, group, out);
    }

    /// Every replica here learns which of its clients departed: when the
    /// view service says more did, and every [`DEPARTURE_SWEEP_US`] (a new
    /// sequencer, or a recruit's transferred table, catches up then).
    fn sweep_all_departures(&mut self, now: Micros, out: &mut Vec<Output>) {
        self.next_departure_sweep = now.saturating_add(DEPARTURE_SWEEP_US);
        let groups: Vec<GroupId> = self.replicas.keys().copied().collect();
        for group in groups {
            self.sweep_departures(now, group, out);
        }
    }

    /// The replica of `group` here learns which of its clients the view
    /// service's committed log says departed (its sequencer or primary has
    /// the group forget them).
    fn sweep_departures(&mut self, now: Micros, group: GroupId, out: &mut Vec<Output>) {
        let vs = &self.vs;
        let Some(replica) = self.replicas.get_mut(&group) else {
            return;
        };
        let mut group_out = Vec::new();
        replica.on_departures(now, &|client| vs.departed(client), &mut group_out);
        self.on_group_outputs(now, group, group_out, out);
    }

    /// `group` failed or was stopped: the nested calls of this host's
    /// replicas to it fail.
    fn callee_failed(&mut self, now: Micros, group: GroupId, out: &mut Vec<Output>) {
        let callers: Vec<GroupId> = self.replicas.keys().copied().collect();
        for caller in callers {
            let mut group_out = Vec::new();
            if let Some(replica) = self.replicas.get_mut(&caller) {
                replica.on_group_failed(now, group, &mut group_out);
            }
            self.on_group_outputs(now, caller, group_out, out);
        }
    }

    /// The view service declared this incarnation failed: drop every replica, keep
    /// pending calls and server starts, and continue as a new incarnation, which
    /// the view-service participant asks to join.
    fn on_excluded(&mut self, now: Micros, out: &mut Vec<Output>) {
        let groups: Vec<GroupId> = self.replicas.keys().copied().collect();
        for group in groups {
            self.drop_replica(now, group);
        }
        self.group_timers.clear();
        // Pending calls survive the exclusion: they keep their request ids and go on
        // retrying from the new incarnation. Duplicate suppression makes the retries
        // safe, and the call deadline still bounds them. (A `main` whose host was
        // paused past the suspicion timeout thus sees its calls complete.)
        self.incarnation = Incarnation(self.incarnation.0 + 1);
        // The participant keeps its memory of the consensus (and its vote) and asks
        // to join as the new incarnation; suspicions it raised while cut off are
        // dropped, so healing does not exclude the healthy hosts.
        let mut vs_out = Vec::new();
        self.vs.rejoin(now, self.incarnation, &mut vs_out);
        self.on_vs_outputs(now, vs_out, out);
    }

    fn on_group_outputs(
        &mut self,
        now: Micros,
        group: GroupId,
        mut group_out: Vec<GroupOutput>,
        out: &mut Vec<Output>,
    ) {
        // What a durable replica persists in a step goes before the step's
        // sends: the driver makes it durable before they leave.
        if group_out
            .iter()
            .any(|o| matches!(o, GroupOutput::Persist(_)))
        {
            let (ops, rest): (Vec<GroupOutput>, Vec<GroupOutput>) = group_out
                .into_iter()
                .partition(|o| matches!(o, GroupOutput::Persist(_)));
            for o in ops {
                if let GroupOutput::Persist(op) = o {
                    let store = Store::Group(group);
                    out.push(Output::Persist { store, op });
                }
            }
            group_out = rest;
        }
        let mut starts = Vec::new();
        for o in group_out {
            match o {
                GroupOutput::Send { to, msg } => out.push(Output::Send {
                    to: to.host,
                    msg: Message::Group(msg),
                }),
                GroupOutput::SendHost { to, msg } => out.push(Output::Send {
                    to,
                    msg: Message::Group(msg),
                }),
                GroupOutput::Reply { client, msg } => match client {
                    ClientId::Host { host, .. } => out.push(Output::Send {
                        to: host,
                        msg: Message::Group(msg),
                    }),
                    ClientId::Group(caller) => {
                        // Every replica of the caller may be its sequencer by the time
                        // the reply arrives.
                        if let Some(view) = self.views.get(&caller) {
                            for m in &view.members {
                                out.push(Output::Send {
                                    to: m.host,
                                    msg: Message::Group(msg.clone()),
                                });
                            }
                        }
                    }
                },
                GroupOutput::Call { target, msg } => {
                    // A byzantine server orders at its primary, which may lie:
                    // every member gets the request. Others: the sequencer.
                    let Some(view) = self.views.get(&target).filter(|v| !v.failed) else {
                        continue;
                    };
                    let to: &[ReplicaId] = if ReplyRule::of_view(view).asks_every_member() {
                        &view.members
                    } else {
                        view.members.get(..1).unwrap_or(&[])
                    };
                    for m in to {
                        out.push(Output::Send {
                            to: m.host,
                            msg: Message::Group(msg.clone()),
                        });
                    }
                }
                GroupOutput::SetTimer { at } => {
                    self.next_group_timer += 1;
                    self.group_timers.insert(self.next_group_timer, group);
                    let timer = TimerId::new(TimerSpace::Group, self.next_group_timer);
                    out.push(Output::SetTimer { timer, at });
                }
                // Asked after this step's other outputs: a start decided
                // already is answered at once, and the replica's next step
                // must not come before this one's sends.
                GroupOutput::StartServer { call, spec } => starts.push((call, spec)),
                GroupOutput::Trace(trace) => out.push(Output::Trace(trace)),
                GroupOutput::Persist(_) => unreachable!("taken out first"),
            }
        }
        for (call, spec) in starts {
            let mut vs_out = Vec::new();
            self.vs
                .start_server_for(now, group, call.0, *spec, &mut vs_out);
            self.on_vs_outputs(now, vs_out, out);
        }
    }

    /// A replica that holds its group's state (a finished transfer) tells the
    /// view service, which counts only state holders as carrying the group on.
    /// Idempotent: once counted or pending this is a lookup (it runs after
    /// every message to a replica, so nothing more: no storage check).
    fn note_state_held(&mut self, now: Micros, group: GroupId, out: &mut Vec<Output>) {
        if self.replicas.get(&group).is_some_and(|r| r.holds_state()) {
            let mut vs_out = Vec::new();
            if self.vs.state_held(now, group, &mut vs_out) {
                self.on_vs_outputs(now, vs_out, out);
            } else {
                debug_assert!(vs_out.is_empty(), "state_held did nothing but output");
            }
        }
    }

    fn on_client_outputs(&mut self, client_out: Vec<ClientOutput>, out: &mut Vec<Output>) {
        for o in client_out {
            match o {
                ClientOutput::Send { to, msg } => out.push(Output::Send {
                    to,
                    msg: Message::Group(msg),
                }),
                ClientOutput::SetTimer { timer, at } => out.push(Output::SetTimer { timer, at }),
                ClientOutput::Event(event) => out.push(Output::Client(event)),
                ClientOutput::Trace(trace) => out.push(Output::Trace(trace)),
            }
        }
    }
}

/// The group's first view: every member starts from the application's initial
/// state (no member of an earlier view exists to transfer it from).
fn is_first_view(view: &GroupView) -> bool {
    view.members.iter().all(|m| view.joining.contains(m))
        || (view.joining.is_empty() && view.view_id <= 1)
}

#[cfg(test)]
impl Host {
    /// Feeds view-service outputs directly (the scenario tests stand in for it).
    fn inject_view_service(&mut self, now: Micros, vs_out: Vec<VsOutput>, out: &mut Vec<Output>) {
        self.on_vs_outputs(now, vs_out, out);
    }
}

mod early;
#[cfg(test)]
mod tests;
