//! The view service: a majority-quorum replicated log of cluster decisions that
//! installs one totally ordered sequence of views per server group.
//!
//! See `docs/replication.md`, "View service". Every host runs one participant;
//! the host core feeds it messages, timers, local suspicions and local server
//! creation requests, and receives [`VsOutput`]s.
//!
//! ```text
//!  on_message / on_timer / suspect / heard_from / start_server
//!        │
//!        ▼
//!  Raft-style consensus (terms, votes, leader appends) ──▶ Send, SetTimer
//!        │ committed Decisions, in log order
//!        ▼
//!  ClusterState::apply (hosts, placement, views)        ──▶ View, StartDecided, Excluded
//! ```
//!
//! The log is compacted behind checkpoints of the applied state; a peer that
//! needs compacted entries gets [`VsMessage::Snapshot`] instead.
//!
//! Without stable storage a restarted host is a new, larger incarnation
//! with an empty log; with it (`stable.rs`), the same memory in a new
//! incarnation, like a participant that rejoined. Votes and acknowledgements count per *memory*: each host
//! has one voting identity, the incarnation of its newest committed
//! `HostJoined` (initially [`FIRST_INCARNATION`]). A restarted participant
//! neither votes nor counts until its own join is committed and known to it; a
//! failure does not take the vote from a memory that still lives (see
//! [`ViewService::rejoin`]).
//!
//! # Recovery
//!
//! Restarts in quick succession (a burst, or one host after another faster
//! than joins commit) can leave fewer live memories than a majority: nothing
//! could ever be committed again, not even the joins that would restore the
//! majority. A candidate learns which identities are lost from the votes it
//! is refused: a *fresh* participant (restarted, its join not applied) says
//! so in its [`VsMessage::Vote`], and the identity its host had is gone for
//! good (one process per host; an identity is never reused). When the hosts
//! not known lost are fewer than a majority, the candidate holds a
//! *recovery election*: fresh participants *stand in* for their hosts' lost
//! identities, and the candidate wins with a majority of votes that includes
//! **every** host not known lost (each grants only to a log at least as up
//! to date as its own, once per term). So the recovered log is the most up to
//! date of all surviving memories; only decisions that no surviving memory
//! holds can be lost, which no protocol without stable storage can avoid.
//! The recovery leader counts its stand-ins' acknowledgements for its term
//! and commits their joins first; then they vote as themselves.
//!
//! # Example
//!
//! A single-host cluster elects itself and decides a server creation:
//!
//! ```
//! use ftc_runtime::host::Timing;
//! use ftc_runtime::types::{HostId, Model, Scope, ServerSpec, TimerId, TimerSpace};
//! use ftc_runtime::view_service::{Starter, ViewService, VsOutput, FIRST_INCARNATION};
//!
//! let timing = Timing::default();
//! let mut vs = ViewService::new(HostId(0), FIRST_INCARNATION, &[HostId(0)], &timing, 7);
//! let mut out = Vec::new();
//! vs.on_start(0, &mut out);
//! // Fire the election timer the participant asked for.
//! let (timer, at) = out
//!     .iter()
//!     .find_map(|o| match o {
//!         VsOutput::SetTimer { timer, at } if *timer == TimerId::new(TimerSpace::ViewService, 1) => {
//!             Some((*timer, *at))
//!         }
//!         _ => None,
//!     })
//!     .unwrap();
//! out.clear();
//! vs.on_timer(at, timer, &mut out);
//! let spec = ServerSpec {
//!     class: "Counter".into(),
//!     model: Model::Correct,
//!     tolerate: 0,
//!     replicas: 1,
//!     hosts: vec![],
//!     disjoint_key: None,
//!     priority: 0,
//!     durable: None,
//! };
//! vs.start_server(at, 1, spec, Scope::Cluster, &mut out);
//! let decided = |o: &VsOutput| {
//!     matches!(o, VsOutput::StartDecided { starter: Starter::Client { token: 1, .. }, result: Ok(_) })
//! };
//! assert!(out.iter().any(decided));
//! ```

#[cfg(test)]
mod harness;
mod stable;
mod state;
#[cfg(test)]
mod tests;

use crate::host::Timing;
use crate::types::{
    ClientId, GroupId, GroupView, HostId, Incarnation, Micros, ReplicaId, Scope, ServerSpec,
    TimerId, TimerSpace,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use state::{ApplyEvent, ClusterState};
use std::collections::{BTreeMap, BTreeSet};

/// The incarnation every configured host has at the cluster's first boot: the
/// initial configuration admits exactly these. A restarted host must use a
/// larger incarnation, never one an earlier life of the host used (including
/// one taken by [`ViewService::rejoin`]), and is admitted only through a
/// committed `HostJoined`.
pub const FIRST_INCARNATION: Incarnation = Incarnation(1);

/// Most entries one `Append` carries.
const APPEND_BATCH_MAX: usize = 64;
/// Most entries a participant holds in memory (after the compacted prefix);
/// beyond it nothing more is appended. Compaction keeps the log far below it.
pub const LOG_ENTRIES_MAX: u64 = 1 << 16;
/// No real log reaches this index; a snapshot claiming more is dropped.
const LOG_INDEX_MAX: u64 = 1 << 62;
/// A checkpoint of the applied state is taken every this many applied
/// entries; taking one compacts the log up to the previous checkpoint, so
/// between one and two such intervals of applied entries stay in the log.
pub const COMPACT_EVERY: u64 = 1024;
/// Most uncommitted entries a leader holds; further proposals wait (their origin retries).
const UNCOMMITTED_MAX: u64 = 256;
/// Most server creations of this host waiting for a decision.
pub const PENDING_CREATIONS_MAX: usize = 256;

const ELECTION_TIMER: u64 = 1;
const TICK_TIMER: u64 = 2;

/// A decision of the view service: the entries of its replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// A new leader's first entry: lets it commit entries of earlier terms.
    Noop,
    /// This incarnation of the host is failed: its replicas leave their groups.
    HostFailed {
        host: HostId,
        incarnation: Incarnation,
    },
    /// This (new) incarnation of the host is admitted; it ends any earlier one.
    HostJoined {
        host: HostId,
        incarnation: Incarnation,
    },
    /// A `server C …`, idempotent by its starter: decided once however many
    /// times (and by however many replicas of a starting group) it is asked.
    /// A program-scoped group belongs to its starter's program.
    CreateGroup {
        starter: Starter,
        spec: ServerSpec,
        scope: Scope,
    },
    /// This member of the group holds the group's state: it is a recruit whose
    /// state transfer completed. Only state holders carry a group on.
    StateHeld { group: GroupId, replica: ReplicaId },
    /// This replica, on a host whose disk holds every committed entry of the
    /// dormant durable group, recovered the group's state from its disk: it
    /// brings the group back (a no-op unless the group is still dormant and
    /// the replica may revive it when applied).
    Revive { group: GroupId, replica: ReplicaId },
    /// A member of `group` asks for the start its application issued as
    /// nested call `call`. The server is created once as many members as its
    /// callers' reply rule needs (`t+1` of a byzantine group, one of any
    /// other) asked for the same spec, and never again for that call: a
    /// lying member alone cannot start a server of its choosing for the group.
    StartVote {
        group: GroupId,
        call: u64,
        voter: ReplicaId,
        spec: ServerSpec,
    },
    /// A process of `host` started as `incarnation` (asked by that process
    /// itself, once its join is applied): every earlier process of the host
    /// is gone for good, so their programs' groups are stopped and their
    /// clients count as departed (the groups they called forget them).
    Restarted {
        host: HostId,
        incarnation: Incarnation,
    },
}

/// Who asked for a server start, and which of its starts it is: a
/// creation's idempotence key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Starter {
    /// A local client of this host incarnation (`main`), with its token.
    Client { origin: ReplicaId, token: u64 },
    /// A replicated server's method, with the start's nested call id: every
    /// replica of the group asks with the same key (the id comes from the
    /// replicated state), so the server is started once and every replica
    /// gets the same group.
    Group { group: GroupId, call: u64 },
}

/// One entry of the view service's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The leader term in which the entry was appended.
    pub term: u64,
    pub decision: Decision,
}

/// Messages of the view service's consensus protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum VsMessage {
    /// A candidate asks for a vote in `term`. It also shares what it knows is
    /// committed (`commit_index`, whose entry has `commit_term`): a voter whose
    /// log holds that entry holds the same prefix, and learns it is committed.
    /// `recovery`: a recovery election (a majority of voting identities is
    /// known lost), in which fresh participants may stand in for their hosts'
    /// lost identities (see "Recovery" in the module documentation).
    RequestVote {
        term: u64,
        last_index: u64,
        last_term: u64,
        commit_index: u64,
        commit_term: u64,
        recovery: bool,
    },
    /// `voter`: the voting identity whose memory the sender holds (see
    /// [`ViewService::rejoin`]); `standing`: whether it holds one at all.
    Vote {
        term: u64,
        granted: bool,
        voter: Incarnation,
        standing: Standing,
    },
    /// The leader's entries after `prev_index` (empty as a heartbeat) and its commit index.
    Append {
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<LogEntry>,
        commit_index: u64,
    },
    /// `success`: the log matches the leader's up to `match_index`. Otherwise
    /// `match_index` is the follower's last index, a hint where to resume.
    AppendReply {
        term: u64,
        success: bool,
        match_index: u64,
        voter: Incarnation,
    },
    /// A request forwarded to the leader (retried until committed).
    Propose { decision: Decision },
    /// "Your incarnation `incarnation` was declared failed": the receiver must rejoin.
    Shunned { incarnation: Incarnation },
    /// "Are you there?": sent to a suspected host before the suspicion is
    /// reported; any message back withdraws it.
    Probe,
    /// The answer to a [`VsMessage::Probe`].
    ProbeReply,
    /// "Send me committed entries after `commit_index`": sent when no leader is
    /// known, so a participant can learn (e.g. its own admission) without one.
    /// `standing` as in [`VsMessage::Vote`].
    CatchUpRequest {
        commit_index: u64,
        standing: Standing,
    },
    /// Entries after `prev_index` that the sender knows are committed (up to
    /// its `commit_index`).
    CatchUp {
        prev_index: u64,
        prev_term: u64,
        entries: Vec<LogEntry>,
        commit_index: u64,
    },
    /// The committed state after entry `last_index` (of term `last_term`), for a
    /// participant that needs entries the sender has compacted away. From the
    /// leader of `term` (`from_leader`, answered like an `Append`) or, without
    /// a leader, in answer to a `CatchUpRequest`.
    Snapshot {
        term: u64,
        from_leader: bool,
        last_index: u64,
        last_term: u64,
        state: VsSnapshot,
    },
}

/// What a participant's memory is worth, as it tells candidates (see "Recovery").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Standing {
    /// It holds a voting identity (its own or, after a rejoin, an earlier one).
    Joined,
    /// Restarted and not joined yet, but it stood in for its host's lost
    /// identity: its log may hold decisions its word helped commit.
    StoodIn,
    /// Restarted, not joined, never stood in: its log counted for nothing,
    /// and its host's earlier identity is lost.
    Fresh,
}

/// A snapshot of the view service's replicated state (opaque outside it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VsSnapshot(Box<ClusterState>);

/// The applied state at one log index, kept until the next checkpoint.
struct Checkpoint {
    index: u64,
    term: u64,
    state: ClusterState,
}

/// What the participant asks its host core to do or tells it.
#[derive(Clone, Debug, PartialEq)]
pub enum VsOutput {
    Send {
        to: HostId,
        msg: VsMessage,
    },
    /// A timer in [`crate::types::TimerSpace::ViewService`].
    SetTimer {
        timer: TimerId,
        at: Micros,
    },
    /// A newly committed view; for each group, views arrive in `view_id` order.
    /// A group's first view (`view_id` 1) has an empty `joining`: every member
    /// starts with the initial state. A participant that installs a snapshot
    /// (it lagged behind a peer's compacted log) skips to each group's newest
    /// view.
    View(GroupView),
    /// A start asked on this host ([`ViewService::start_server`] for a
    /// local client, [`ViewService::start_server_for`] for a replica) was decided.
    StartDecided {
        starter: Starter,
        result: Result<GroupId, String>,
    },
    /// The view service declared this host's current incarnation failed: the host
    /// must drop its replicas and rejoin as a new incarnation (see [`ViewService::rejoin`]).
    Excluded,
    /// The group was stopped (the program that started it ended) and is
    /// forgotten: its replicas stop, calls to it fail.
    Stopped(GroupId),
    /// More clients departed ([`ViewService::departed`]): the host's groups
    /// may forget them.
    Departed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Follower,
    Candidate,
    Leader,
}

/// How far the leader knows a peer's log matches its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Progress {
    /// The peer's incarnation and the voting identity whose memory it reported.
    incarnation: Incarnation,
    voter: Incarnation,
    next_index: u64,
    match_index: u64,
    /// Last time this peer acknowledged an append of the current term.
    acked_at: Micros,
}

/// One host's view-service participant.
pub struct ViewService {
    me: HostId,
    incarnation: Incarnation,
    /// The voting identity whose memory this participant holds: its own
    /// incarnation, or after [`ViewService::rejoin`] the earlier one until the
    /// new incarnation's `HostJoined` is applied.
    voter: Incarnation,
    /// The incarnation this participant was created with: every incarnation of
    /// this host from it up to `incarnation` shares this memory.
    created_as: Incarnation,
    /// The incarnation this process started as (with stable storage the
    /// memory may be older: `created_as` then comes from the disk).
    process: Incarnation,
    /// Every configured host, sorted.
    cluster: Vec<HostId>,
    timing: Timing,
    rng: ChaCha8Rng,

    term: u64,
    voted_for: Option<ReplicaId>,
    role: Role,
    leader: Option<ReplicaId>,
    votes: BTreeSet<HostId>,
    /// `log[i]` holds index `log_base + i + 1`; entries up to `log_base` are
    /// compacted into `base_state`.
    log: Vec<LogEntry>,
    log_base: u64,
    base_term: u64,
    /// The applied state after entry `log_base` (what a lagging peer is sent).
    base_state: ClusterState,
    /// The applied state at the newest multiple of `compact_every`: it becomes
    /// the base when the next checkpoint is taken.
    checkpoint: Option<Checkpoint>,
    compact_every: u64,
    commit_index: u64,
    applied_index: u64,
    state: ClusterState,
    progress: BTreeMap<HostId, Progress>,
    /// The largest incarnation heard from each host: messages of smaller ones are ignored.
    known_incarnation: BTreeMap<HostId, Incarnation>,

    /// Requests of this host waiting to be committed, retried every `retry_us`.
    pending_failures: BTreeMap<HostId, Incarnation>,
    /// When the unanswered probe of a suspected host was sent while this
    /// participant was connected to a leader: a suspicion is reported only once
    /// such a probe stayed unanswered for `retry_us`.
    probes: BTreeMap<HostId, Micros>,
    /// When this participant last heard from the leader of its term.
    leader_heard_at: Option<Micros>,
    pending_joins: BTreeMap<HostId, Incarnation>,
    /// Starts asked on this host and not decided yet, by starter (a local
    /// client's keeps the incarnation that asked), with their specs.
    pending_creations: BTreeMap<Starter, (ServerSpec, Scope)>,
    /// Groups whose local replica (this incarnation) reported that it holds
    /// the state, until the committed log counts it (or it left the group).
    pending_held: BTreeSet<GroupId>,
    /// Dormant durable groups this incarnation offers to bring back from its
    /// disk, until one is brought back (by it or another) or it may not.
    pending_revive: BTreeSet<GroupId>,
    next_forward_at: Micros,

    election_deadline: Micros,
    election_timer_at: Option<Micros>,
    tick_at: Option<Micros>,
    excluded_reported: bool,
    /// Snapshots installed so far (for tests and traces).
    snapshots_installed: u64,
    /// Hosts whose participant said it is unjoined, with that participant's
    /// incarnation: their earlier voting identity is lost.
    unjoined_hosts: BTreeMap<HostId, Incarnation>,
    /// The current election is a recovery election.
    recovery_election: bool,
    /// Fresh participants (host, incarnation) that granted this term's
    /// recovery election: they stand in for their hosts' lost identities in
    /// this term.
    stand_ins: BTreeMap<HostId, Incarnation>,
    /// Hosts that said in this term's votes that they are fresh.
    fresh_votes: BTreeSet<HostId>,
    /// This unjoined participant granted a recovery vote or led a recovery:
    /// its log may hold decisions its word helped commit, so it is not fresh.
    stood_in: bool,
    /// This unjoined participant won a recovery election of the current term
    /// and stands in for its own host's lost identity.
    self_stands_in: bool,
    /// Set when the participant keeps its state on stable storage (see `stable.rs`).
    stable: Option<stable::Tracker>,
    #[cfg(feature = "planted-bugs")]
    bugs: crate::host::PlantedBugs,
}

impl ViewService {
    /// A participant for host `me` in `incarnation`. `cluster` lists every
    /// configured host (order and duplicates do not matter); `seed` seeds the
    /// election timeouts. Use [`FIRST_INCARNATION`] at the cluster's first boot
    /// and a larger incarnation for every restart.
    pub fn new(
        me: HostId,
        incarnation: Incarnation,
        cluster: &[HostId],
        timing: &Timing,
        seed: u64,
    ) -> ViewService {
        let mut cluster: Vec<HostId> = cluster.to_vec();
        cluster.sort();
        cluster.dedup();
        let state = ClusterState::new(&cluster);
        let mut pending_joins = BTreeMap::new();
        if incarnation != FIRST_INCARNATION {
            // A restarted host asks to join itself too (others also do when they hear it).
            pending_joins.insert(me, incarnation);
        }
        ViewService {
            me,
            incarnation,
            voter: incarnation,
            created_as: incarnation,
            process: incarnation,
            cluster,
            timing: timing.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            term: 0,
            voted_for: None,
            role: Role::Follower,
            leader: None,
            votes: BTreeSet::new(),
            log: Vec::new(),
            log_base: 0,
            base_term: 0,
            base_state: state.clone(),
            checkpoint: None,
            compact_every: COMPACT_EVERY,
            commit_index: 0,
            applied_index: 0,
            state,
            progress: BTreeMap::new(),
            known_incarnation: BTreeMap::new(),
            pending_failures: BTreeMap::new(),
            probes: BTreeMap::new(),
            leader_heard_at: None,
            pending_joins,
            pending_creations: BTreeMap::new(),
            pending_held: BTreeSet::new(),
            pending_revive: BTreeSet::new(),
            next_forward_at: 0,
            election_deadline: 0,
            election_timer_at: None,
            tick_at: None,
            excluded_reported: false,
            snapshots_installed: 0,
            unjoined_hosts: BTreeMap::new(),
            recovery_election: false,
            stand_ins: BTreeMap::new(),
            self_stands_in: false,
            fresh_votes: BTreeSet::new(),
            stood_in: false,
            stable: None,
            #[cfg(feature = "planted-bugs")]
            bugs: crate::host::PlantedBugs::default(),
        }
    }

    /// Plants deliberately wrong behaviour (tests of the checks only).
    #[cfg(feature = "planted-bugs")]
    pub fn plant_bugs(&mut self, bugs: crate::host::PlantedBugs) {
        self.bugs = bugs;
    }

    /// The host just started.
    pub fn on_start(&mut self, now: Micros, out: &mut Vec<VsOutput>) {
        self.tick_at = Some(now + self.tick_period_us());
        out.push(VsOutput::SetTimer {
            timer: TimerId::new(TimerSpace::ViewService, TICK_TIMER),
            at: now + self.tick_period_us(),
        });
        self.reset_election_deadline(now, out);
    }

    /// The host core declared a new incarnation after [`VsOutput::Excluded`]
    /// (its replicas are dropped; the failed incarnation is never resumed).
    ///
    /// The participant's memory of the consensus (term, vote, log) is intact,
    /// so it keeps voting under its earlier voting identity until the new
    /// incarnation's `HostJoined` is committed; it asks for that join itself.
    /// Server creations still pending keep their original origin and are still
    /// answered with [`VsOutput::StartDecided`]; pending suspicions are dropped
    /// (made while the host was cut off, they are stale). (A host
    /// that does not call this and builds a new participant instead is treated
    /// like a restarted one: safe, but it does not count until its join commits.)
    pub fn rejoin(&mut self, now: Micros, incarnation: Incarnation, out: &mut Vec<VsOutput>) {
        if incarnation <= self.incarnation {
            return;
        }
        self.incarnation = incarnation;
        self.excluded_reported = false;
        // Suspicions of the failed incarnation are stale: it was excluded because
        // it could not hear the others, which is also why it suspected them.
        self.pending_failures.clear();
        self.probes.clear();
        // The host dropped its replicas: their state is gone with the old
        // incarnation, and so are their starts (other replicas ask the same).
        self.pending_held.clear();
        self.pending_creations
            .retain(|s, _| matches!(s, Starter::Client { .. }));
        self.pending_revive.clear();
        self.pending_joins.insert(self.me, incarnation);
        if self.role != Role::Follower {
            self.role = Role::Follower;
            self.leader = None;
        }
        // Re-arm both timers: a driver may drop the failed incarnation's timers.
        self.election_timer_at = None;
        self.on_start(now, out);
        self.forward_pending(now, out);
    }

    /// A message of the view-service protocol from `from` in `from_incarnation`.
    /// Messages of stale or failed incarnations and unknown hosts are dropped.
    pub fn on_message(
        &mut self,
        now: Micros,
        from: HostId,
        from_incarnation: Incarnation,
        msg: VsMessage,
        out: &mut Vec<VsOutput>,
    ) {
        if from == self.me
            || !self.is_configured(from)
            || !self.note_incarnation(from, from_incarnation)
        {
            return;
        }
        if let VsMessage::Shunned { incarnation } = msg {
            if incarnation == self.incarnation {
                self.report_excluded(out);
            }
            return;
        }
        if self.is_shunned(from, from_incarnation) {
            out.push(VsOutput::Send {
                to: from,
                msg: VsMessage::Shunned {
                    incarnation: from_incarnation,
                },
            });
            return;
        }
        self.withdraw_suspicion(from, from_incarnation);
        let sender = ReplicaId {
            host: from,
            incarnation: from_incarnation,
        };
        match msg {
            VsMessage::RequestVote {
                term,
                last_index,
                last_term,
                commit_index,
                commit_term,
                recovery,
            } => {
                self.learn_commit(commit_index, commit_term, out);
                self.on_request_vote(now, sender, term, last_index, last_term, recovery, out)
            }
            VsMessage::Vote {
                term,
                granted,
                voter,
                standing,
            } => self.on_vote(now, sender, voter, standing, term, granted, out),
            VsMessage::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit_index,
            } => self.on_append(
                now,
                sender,
                term,
                prev_index,
                prev_term,
                entries,
                commit_index,
                out,
            ),
            VsMessage::AppendReply {
                term,
                success,
                match_index,
                voter,
            } => self.on_append_reply(now, sender, voter, term, success, match_index, out),
            VsMessage::Propose { decision } => {
                if self.propose(sender, decision) {
                    self.replicate_new_entries(out);
                }
            }
            VsMessage::Shunned { .. } | VsMessage::ProbeReply => {}
            VsMessage::Probe => self.send(from, VsMessage::ProbeReply, out),
            VsMessage::CatchUpRequest {
                commit_index,
                standing,
            } => {
                self.note_standing(from, from_incarnation, standing);
                self.on_catch_up_request(from, commit_index, out);
            }
            VsMessage::CatchUp {
                prev_index,
                prev_term,
                entries,
                commit_index,
            } => self.on_catch_up(from, prev_index, prev_term, entries, commit_index, out),
            VsMessage::Snapshot {
                term,
                from_leader,
                last_index,
                last_term,
                state,
            } => self.on_snapshot(
                now,
                sender,
                term,
                from_leader,
                last_index,
                last_term,
                state,
                out,
            ),
        }
    }

    /// A view-service timer is due. Timers this participant no longer wants are ignored.
    pub fn on_timer(&mut self, now: Micros, timer: TimerId, out: &mut Vec<VsOutput>) {
        if timer.space() != Some(TimerSpace::ViewService) {
            return;
        }
        match timer.local() {
            ELECTION_TIMER => {
                if self.election_timer_at.is_some_and(|at| at <= now) {
                    self.election_timer_at = None;
                }
                self.on_election_timer(now, out);
            }
            TICK_TIMER if self.tick_at.is_some_and(|at| at <= now) => self.on_tick(now, out),
            _ => {}
        }
    }

    /// The local failure detector suspects this incarnation of `host`. Retried
    /// (through the leader) until that incarnation is failed or superseded.
    pub fn suspect(
        &mut self,
        now: Micros,
        host: HostId,
        incarnation: Incarnation,
        out: &mut Vec<VsOutput>,
    ) {
        if host == self.me || !self.is_configured(host) {
            return;
        }
        let record = self.state.hosts.get(&host).copied();
        let superseded = record.is_some_and(|r| {
            r.incarnation > incarnation || (r.incarnation == incarnation && !r.alive)
        });
        let older_pending = self
            .pending_failures
            .get(&host)
            .is_some_and(|&i| i > incarnation);
        if superseded || older_pending {
            return;
        }
        self.pending_failures.insert(host, incarnation);
        self.forward_pending(now, out);
    }

    /// Direct evidence that this incarnation of `host` lives (a message or a
    /// heartbeat from it): withdraw a suspicion of it and its probe round (the
    /// failure detector re-arms and suspects it again if it falls silent).
    fn withdraw_suspicion(&mut self, host: HostId, incarnation: Incarnation) {
        if self.pending_failures.get(&host) == Some(&incarnation) {
            self.pending_failures.remove(&host);
            self.probes.remove(&host);
        }
    }

    /// The local failure detector heard from `host` in this incarnation: the
    /// first time, a new incarnation (which asks to join through this), or
    /// again after suspecting it (which withdraws the suspicion).
    pub fn heard_from(
        &mut self,
        now: Micros,
        host: HostId,
        incarnation: Incarnation,
        out: &mut Vec<VsOutput>,
    ) {
        if host == self.me || !self.is_configured(host) {
            return;
        }
        // Its heartbeat after a suspicion: a probe lost while this host was
        // cut off must not confirm a suspicion of a host it hears once healed.
        self.withdraw_suspicion(host, incarnation);
        if !self.note_incarnation(host, incarnation) {
            return;
        }
        let known = self
            .state
            .hosts
            .get(&host)
            .map_or(FIRST_INCARNATION, |r| r.incarnation);
        let newer_pending = self
            .pending_joins
            .get(&host)
            .is_some_and(|&i| i >= incarnation);
        if incarnation > known && !newer_pending {
            self.pending_joins.insert(host, incarnation);
            self.forward_pending(now, out);
        }
    }

    /// A local client's `server C …`: idempotent by `(this host's incarnation, token)`
    /// (a token still pending from an earlier incarnation stays that request).
    /// Answered by [`VsOutput::StartDecided`] once the creation is committed;
    /// at once with an error when [`PENDING_CREATIONS_MAX`] are already pending.
    pub fn start_server(
        &mut self,
        now: Micros,
        token: u64,
        spec: ServerSpec,
        scope: Scope,
        out: &mut Vec<VsOutput>,
    ) {
        let pending = self
            .pending_creations
            .keys()
            .any(|s| matches!(s, Starter::Client { token: t, .. } if *t == token));
        if pending {
            self.forward_pending(now, out);
            return;
        }
        let starter = Starter::Client {
            origin: self.replica_id(),
            token,
        };
        self.request_creation(now, starter, spec, scope, out);
    }

    /// A replicated server's `server C …` (the start with nested call id
    /// `call` of this host's replica of `group`): this host's vote
    /// ([`Decision::StartVote`]; the server is created once as many members
    /// as the group's reply rule needs asked for the same spec), idempotent
    /// by `(group, call)` across every replica and retry, so the server is
    /// started once and every replica is answered with the same group, by
    /// [`VsOutput::StartDecided`] (at once when already decided).
    pub fn start_server_for(
        &mut self,
        now: Micros,
        group: GroupId,
        call: u64,
        spec: ServerSpec,
        out: &mut Vec<VsOutput>,
    ) {
        let starter = Starter::Group { group, call };
        if self.pending_creations.contains_key(&starter) {
            self.forward_pending(now, out);
            return;
        }
        // The started server's scope follows the starting group's (the view
        // service's owners): the vote carries none.
        self.request_creation(now, starter, spec, Scope::Cluster, out);
    }

    /// Answers a start already decided, refuses one beyond
    /// [`PENDING_CREATIONS_MAX`], or makes it pending (proposed through the leader).
    fn request_creation(
        &mut self,
        now: Micros,
        starter: Starter,
        spec: ServerSpec,
        scope: Scope,
        out: &mut Vec<VsOutput>,
    ) {
        if let Some(result) = self.state.creations.get(&starter) {
            out.push(VsOutput::StartDecided {
                starter,
                result: result.clone(),
            });
            return;
        }
        if self.pending_creations.len() >= PENDING_CREATIONS_MAX {
            out.push(VsOutput::StartDecided {
                starter,
                result: Err(format!(
                    "too many server creations in flight on this host (at most {PENDING_CREATIONS_MAX})"
                )),
            });
            return;
        }
        self.pending_creations.insert(starter, (spec, scope));
        self.forward_pending(now, out);
    }

    /// This host's replica of `group` holds the group's state (it was
    /// recruited and its state transfer completed). Retried through the leader
    /// until the committed log counts it as a state holder; idempotent and
    /// cheap when already counted or pending, so a host core may call it after
    /// every step of a replica that holds state. `false` when it had nothing
    /// to do: then nothing changed (no output, nothing to persist).
    pub fn state_held(&mut self, now: Micros, group: GroupId, out: &mut Vec<VsOutput>) -> bool {
        let me = self.replica_id();
        if self.pending_held.contains(&group)
            || self.state.holds_state(group, me)
            || !self.state.is_member(group, me)
        {
            return false;
        }
        self.pending_held.insert(group);
        self.forward_pending(now, out);
        true
    }

    /// This host's disk holds `group`'s state and the group is dormant with
    /// this host among those whose disks are complete: proposes to bring it
    /// back (`Revive`), retried until the group is back or this incarnation
    /// may no longer; idempotent.
    pub fn revive(&mut self, now: Micros, group: GroupId, out: &mut Vec<VsOutput>) {
        if self.pending_revive.contains(&group) || !self.may_revive(group) {
            return;
        }
        self.pending_revive.insert(group);
        self.forward_pending(now, out);
    }

    /// Whether `group` is a dormant durable group this host's current
    /// incarnation may bring back with the state on its disk (it ran one of
    /// the group's last state holders, or a holder whose disk is still
    /// complete): then [`ViewService::revive`] proposes it.
    pub fn may_revive(&self, group: GroupId) -> bool {
        self.state.may_revive(group, self.replica_id())
    }

    /// Whether every member of `group`'s newest view counts as holding the
    /// group's state (a durable group's sequencer may commit only then).
    pub fn all_members_hold(&self, group: GroupId) -> bool {
        self.state.all_members_hold(group)
    }

    /// The dormant durable groups (see [`ViewService::may_revive`]).
    pub fn dormant_groups(&self) -> impl Iterator<Item = GroupId> + '_ {
        self.state.dormant.keys().copied()
    }

    /// Whether the committed log counts this host's replica of `group` as a
    /// holder of the group's state.
    pub fn counts_state_holder(&self, group: GroupId) -> bool {
        self.state.holds_state(group, self.replica_id())
    }

    /// The newest committed view of `group` this participant knows.
    pub fn view(&self, group: GroupId) -> Option<&GroupView> {
        self.state.groups.get(&group)
    }

    /// The newest committed view of every group, in group id order.
    pub fn views(&self) -> impl Iterator<Item = &GroupView> {
        self.state.groups.values()
    }

    /// Whether the committed log admits this participant's current incarnation
    /// (joined, or first, and not failed): its replicas may run. Its vote
    /// counts when it holds its host's voting identity.
    pub fn is_admitted(&self) -> bool {
        self.state.admitted(self.me) == Some(self.incarnation)
    }

    /// The host this participant believes leads the current term.
    pub fn leader(&self) -> Option<HostId> {
        self.leader.map(|r| r.host)
    }

    /// The current term and the commit index (for traces and tests).
    pub fn term_and_commit(&self) -> (u64, u64) {
        (self.term, self.commit_index)
    }

    // ---------------------------------------------------------------- basics

    fn replica_id(&self) -> ReplicaId {
        ReplicaId {
            host: self.me,
            incarnation: self.incarnation,
        }
    }

    fn is_configured(&self, host: HostId) -> bool {
        self.cluster.binary_search(&host).is_ok()
    }

    fn quorum(&self) -> usize {
        self.cluster.len() / 2 + 1
    }

    fn tick_period_us(&self) -> Micros {
        self.timing.heartbeat_us.max(1)
    }

    fn last_index(&self) -> u64 {
        self.log_base + self.log.len() as u64
    }

    /// The term of the entry at `index`; `None` past the log's end or inside
    /// the compacted prefix (except its last entry).
    fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.log_base {
            return Some(self.base_term);
        }
        if index < self.log_base {
            return None;
        }
        let position = usize::try_from(index - self.log_base - 1).ok()?;
        self.log.get(position).map(|e| e.term)
    }

    fn last_term(&self) -> u64 {
        self.log.last().map_or(self.base_term, |e| e.term)
    }

    /// Position in `log` of the entry at `index` (> `log_base`).
    fn position(&self, index: u64) -> usize {
        (index - self.log_base - 1) as usize
    }

    /// The entries after `after` (>= `log_base`) up to `end`, at most `max` of them.
    fn entries_between(&self, after: u64, end: u64, max: usize) -> Vec<LogEntry> {
        let from = ((after - self.log_base) as usize).min(self.log.len());
        let to = ((end.min(self.last_index()) - self.log_base) as usize)
            .min(from.saturating_add(max))
            .max(from);
        self.log[from..to].to_vec()
    }

    /// The entries not applied yet (the applied prefix is never compacted past).
    fn unapplied(&self) -> &[LogEntry] {
        &self.log[(self.applied_index - self.log_base) as usize..]
    }

    /// Keeps the entries up to `index` (>= `log_base`), drops the rest.
    fn truncate_after(&mut self, index: u64) {
        self.note_cut(index);
        self.log.truncate((index - self.log_base) as usize);
    }

    /// Holds as many entries as allowed.
    fn log_full(&self) -> bool {
        self.log.len() as u64 >= LOG_ENTRIES_MAX
    }

    /// Records the incarnation heard from `host`; `false` if it is stale.
    fn note_incarnation(&mut self, host: HostId, incarnation: Incarnation) -> bool {
        match self.known_incarnation.get(&host) {
            Some(&known) if incarnation < known => false,
            Some(&known) if incarnation == known => true,
            _ => {
                self.known_incarnation.insert(host, incarnation);
                // A new life has an empty log: replicate to it from scratch.
                self.progress.remove(&host);
                true
            }
        }
    }

    /// The committed log declared this incarnation failed or superseded it.
    fn is_shunned(&self, host: HostId, incarnation: Incarnation) -> bool {
        self.state.hosts.get(&host).is_some_and(|r| {
            r.incarnation > incarnation || (r.incarnation == incarnation && !r.alive)
        })
    }

    /// Whether a vote or acknowledgement counts that `host`, stamped with
    /// `incarnation`, gave holding the memory of voting identity `voter`: the
    /// committed state's voting identity of the host is `voter`, and no
    /// uncommitted `HostJoined` admits an incarnation newer than both (which
    /// would mean a new life without that memory exists).
    fn counts(&self, host: HostId, incarnation: Incarnation, voter: Incarnation) -> bool {
        if self.state.voters.get(&host) != Some(&voter) {
            return false;
        }
        !self.unapplied().iter().any(|e| match &e.decision {
            Decision::HostJoined {
                host: h,
                incarnation: i,
            } => *h == host && *i > voter && *i > incarnation,
            _ => false,
        })
    }

    /// Whether this participant's own word counts.
    fn counts_self(&self) -> bool {
        !self.excluded_reported && self.counts(self.me, self.incarnation, self.voter)
    }

    /// Whether this participant was created for a restarted incarnation and
    /// holds no voting identity yet (its own join is not applied): it may
    /// only stand in for its host's lost identity in recovery elections.
    fn is_unjoined(&self) -> bool {
        !self.excluded_reported
            && self.created_as != FIRST_INCARNATION
            && self.voter == self.created_as
            && self.state.voters.get(&self.me) != Some(&self.voter)
    }

    /// What this participant tells candidates about its memory.
    fn standing(&self) -> Standing {
        if !self.is_unjoined() {
            Standing::Joined
        } else if self.stood_in {
            Standing::StoodIn
        } else {
            Standing::Fresh
        }
    }

    /// `host` in `incarnation` told its standing.
    fn note_standing(&mut self, host: HostId, incarnation: Incarnation, standing: Standing) {
        if standing == Standing::Joined {
            self.unjoined_hosts.remove(&host);
        } else {
            self.unjoined_hosts.insert(host, incarnation);
        }
    }

    /// Whether this participant's own acknowledgement counts: it holds its
    /// host's voting identity, or it leads a recovery it won as a stand-in.
    fn counts_self_ack(&self) -> bool {
        self.counts_self() || (self.role == Role::Leader && self.self_stands_in)
    }

    /// Whether this participant may start an election: it holds its host's
    /// voting identity, or it could stand in and only a recovery can elect.
    fn may_stand(&self) -> bool {
        self.counts_self() || (self.is_unjoined() && self.needs_recovery())
    }

    /// Whether `host`'s voting identity is known lost: its current
    /// participant said it is unjoined (fresh or a stand-in).
    fn known_lost(&self, host: HostId) -> bool {
        if host == self.me {
            return self.is_unjoined();
        }
        self.unjoined_hosts.get(&host).is_some_and(|&i| {
            self.known_incarnation.get(&host) == Some(&i)
                && self.state.voters.get(&host).is_none_or(|&v| v < i)
        })
    }

    /// Whether fewer hosts than a majority may still hold a voting identity:
    /// only a recovery election can elect a leader.
    fn needs_recovery(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        if self.bugs.no_recovery_election {
            return false;
        }
        let survivors = self
            .cluster
            .iter()
            .filter(|&&h| !self.known_lost(h))
            .count();
        survivors < self.quorum()
    }

    /// Whether a peer's acknowledgement counts for this leader: it holds its
    /// host's voting identity, or it stands in for a lost one in this term.
    fn counts_peer(&self, host: HostId, p: &Progress) -> bool {
        self.counts(host, p.incarnation, p.voter)
            || self.stand_ins.get(&host) == Some(&p.incarnation)
    }

    /// Whether the votes of this term elect this candidate: a majority, and
    /// in a recovery election every host that did not say in this term that
    /// it is fresh among them (a surviving memory, or a stand-in that may
    /// hold decisions it acknowledged, is never left out).
    fn won(&self) -> bool {
        self.votes.len() >= self.quorum()
            && (!self.recovery_election
                || self.cluster.iter().all(|&h| {
                    self.votes.contains(&h) || (h != self.me && self.fresh_votes.contains(&h))
                }))
    }

    /// Counted participants that acknowledged the leader within an election
    /// timeout, the leader included.
    fn responsive(&self, now: Micros) -> usize {
        let horizon = now.saturating_sub(self.timing.election_max_us.max(1));
        usize::from(self.counts_self_ack())
            + self
                .progress
                .iter()
                .filter(|(&h, p)| p.acked_at >= horizon && self.counts_peer(h, p))
                .count()
    }

    /// After the applied state changed (an entry applied, a snapshot installed):
    /// vote as a joined incarnation of this memory, and report an exclusion.
    fn after_state_change(&mut self, out: &mut Vec<VsOutput>) {
        if let Some(&voter) = self.state.voters.get(&self.me) {
            if self.created_as <= voter && voter <= self.incarnation {
                // A join of one of this memory's incarnations: vote as it.
                self.voter = voter;
            }
        }
        if self.was_admitted_once() && self.state.admitted(self.me) != Some(self.incarnation) {
            self.report_excluded(out);
        }
    }

    fn report_excluded(&mut self, out: &mut Vec<VsOutput>) {
        if !self.excluded_reported {
            self.excluded_reported = true;
            if self.role != Role::Follower {
                self.role = Role::Follower;
                self.leader = None;
            }
            out.push(VsOutput::Excluded);
        }
    }

    fn send(&self, to: HostId, msg: VsMessage, out: &mut Vec<VsOutput>) {
        out.push(VsOutput::Send { to, msg });
    }

    fn peers(&self) -> Vec<HostId> {
        self.cluster
            .iter()
            .copied()
            .filter(|&h| h != self.me)
            .collect()
    }

    // ---------------------------------------------------------------- timers

    fn reset_election_deadline(&mut self, now: Micros, out: &mut Vec<VsOutput>) {
        let lo = self.timing.election_min_us.max(1);
        let hi = self.timing.election_max_us.max(lo);
        self.election_deadline = now + self.rng.random_range(lo..=hi);
        let covered = self
            .election_timer_at
            .is_some_and(|at| at >= now && at <= self.election_deadline);
        if !covered {
            self.election_timer_at = Some(self.election_deadline);
            out.push(VsOutput::SetTimer {
                timer: TimerId::new(TimerSpace::ViewService, ELECTION_TIMER),
                at: self.election_deadline,
            });
        }
    }

    fn on_election_timer(&mut self, now: Micros, out: &mut Vec<VsOutput>) {
        if self.role == Role::Leader {
            return;
        }
        if now < self.election_deadline {
            if self.election_timer_at.is_none() {
                self.election_timer_at = Some(self.election_deadline);
                out.push(VsOutput::SetTimer {
                    timer: TimerId::new(TimerSpace::ViewService, ELECTION_TIMER),
                    at: self.election_deadline,
                });
            }
            return;
        }
        // No leader heard for a timeout: learn what others know is committed.
        for peer in self.peers() {
            self.send(
                peer,
                VsMessage::CatchUpRequest {
                    commit_index: self.commit_index,
                    standing: self.standing(),
                },
                out,
            );
        }
        if self.may_stand() {
            self.start_election(now, out);
        } else {
            // Not admitted: wait to be caught up.
            self.leader = None;
            self.reset_election_deadline(now, out);
        }
    }

    fn on_catch_up_request(&mut self, from: HostId, commit_index: u64, out: &mut Vec<VsOutput>) {
        if commit_index >= self.commit_index {
            return;
        }
        if commit_index < self.log_base {
            // Compacted away: the committed state instead.
            self.send(from, self.snapshot_message(false), out);
            return;
        }
        let prev_term = self.term_at(commit_index).unwrap_or(0);
        let entries = self.entries_between(commit_index, self.commit_index, APPEND_BATCH_MAX);
        self.send(
            from,
            VsMessage::CatchUp {
                prev_index: commit_index,
                prev_term,
                entries,
                commit_index: self.commit_index,
            },
            out,
        );
    }

    /// Committed entries from a peer. Committed prefixes agree everywhere, so an
    /// entry of this log that conflicts with one is uncommitted and is replaced.
    fn on_catch_up(
        &mut self,
        from: HostId,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<LogEntry>,
        commit_index: u64,
        out: &mut Vec<VsOutput>,
    ) {
        if prev_index.saturating_add(entries.len() as u64) > commit_index {
            return;
        }
        let Some((prev_index, prev_term, entries)) =
            self.skip_compacted(prev_index, prev_term, entries)
        else {
            return;
        };
        if self.term_at(prev_index) != Some(prev_term) {
            return;
        }
        let mut index = prev_index;
        for entry in entries {
            index += 1;
            match self.term_at(index) {
                Some(t) if t == entry.term => {}
                Some(_) => {
                    if index <= self.commit_index || self.role == Role::Leader {
                        return;
                    }
                    self.truncate_after(index - 1);
                    self.log.push(entry);
                }
                None => {
                    if self.log_full() {
                        index -= 1;
                        break;
                    }
                    self.log.push(entry);
                }
            }
        }
        if index > self.commit_index {
            self.commit_index = index;
            self.apply_committed(out);
        }
        if commit_index > self.commit_index && index > prev_index {
            self.send(
                from,
                VsMessage::CatchUpRequest {
                    commit_index: self.commit_index,
                    standing: self.standing(),
                },
                out,
            );
        }
    }

    fn on_tick(&mut self, now: Micros, out: &mut Vec<VsOutput>) {
        let next = now + self.tick_period_us();
        self.tick_at = Some(next);
        out.push(VsOutput::SetTimer {
            timer: TimerId::new(TimerSpace::ViewService, TICK_TIMER),
            at: next,
        });
        if self.role == Role::Leader {
            // Step down when a majority has not acknowledged for an election timeout.
            let fresh = self.responsive(now);
            if fresh < self.quorum() {
                self.role = Role::Follower;
                self.leader = None;
                self.reset_election_deadline(now, out);
            } else {
                // A peer silent for an election timeout gets empty probes, not
                // the same batch of entries again and again.
                let horizon = now.saturating_sub(self.timing.election_min_us.max(1));
                for peer in self.peers() {
                    let silent = self
                        .progress
                        .get(&peer)
                        .is_some_and(|p| p.acked_at < horizon);
                    self.send_append_batch(peer, !silent, out);
                }
            }
        }
        if now >= self.next_forward_at {
            self.forward_pending(now, out);
        }
    }

    // ---------------------------------------------------------------- election

    fn start_election(&mut self, now: Micros, out: &mut Vec<VsOutput>) {
        self.term += 1;
        self.role = Role::Candidate;
        self.leader = None;
        self.voted_for = Some(self.replica_id());
        self.votes = BTreeSet::from([self.me]);
        self.stand_ins.clear();
        self.fresh_votes.clear();
        self.self_stands_in = false;
        self.recovery_election = self.needs_recovery();
        if self.recovery_election && self.is_unjoined() {
            self.stood_in = true;
        }
        self.reset_election_deadline(now, out);
        if self.won() {
            self.become_leader(now, out);
            return;
        }
        let (last_index, last_term) = (self.last_index(), self.last_term());
        let commit_term = self.term_at(self.commit_index).unwrap_or(0);
        for peer in self.peers() {
            self.send(
                peer,
                VsMessage::RequestVote {
                    term: self.term,
                    last_index,
                    last_term,
                    commit_index: self.commit_index,
                    commit_term,
                    recovery: self.recovery_election,
                },
                out,
            );
        }
    }

    /// Another participant knows the entry at `commit_index` (of `commit_term`)
    /// is committed. If this log holds the same entry, it holds the same prefix
    /// (log matching), so that prefix is committed here too.
    fn learn_commit(&mut self, commit_index: u64, commit_term: u64, out: &mut Vec<VsOutput>) {
        if commit_index > self.commit_index && self.term_at(commit_index) == Some(commit_term) {
            self.commit_index = commit_index;
            self.apply_committed(out);
        }
    }

    /// Adopts a newer term as a follower.
    fn observe_term(&mut self, now: Micros, term: u64, out: &mut Vec<VsOutput>) {
        if term > self.term {
            let was_leader = self.role == Role::Leader;
            self.term = term;
            self.voted_for = None;
            self.leader = None;
            self.role = Role::Follower;
            self.stand_ins.clear();
            self.fresh_votes.clear();
            self.self_stands_in = false;
            if was_leader {
                self.reset_election_deadline(now, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_request_vote(
        &mut self,
        now: Micros,
        candidate: ReplicaId,
        term: u64,
        last_index: u64,
        last_term: u64,
        recovery: bool,
        out: &mut Vec<VsOutput>,
    ) {
        self.observe_term(now, term, out);
        let up_to_date = (last_term, last_index) >= (self.last_term(), self.last_index());
        let granted = term == self.term
            && (self.counts_self() || (recovery && self.is_unjoined()))
            && self.voted_for.is_none_or(|v| v == candidate)
            && up_to_date;
        if granted {
            if !self.counts_self() {
                // From now on its acknowledgements may count: not fresh any more.
                self.stood_in = true;
            }
            self.voted_for = Some(candidate);
            self.reset_election_deadline(now, out);
        }
        self.send(
            candidate.host,
            VsMessage::Vote {
                term: self.term,
                granted,
                voter: self.voter,
                standing: self.standing(),
            },
            out,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn on_vote(
        &mut self,
        now: Micros,
        from: ReplicaId,
        voter: Incarnation,
        standing: Standing,
        term: u64,
        granted: bool,
        out: &mut Vec<VsOutput>,
    ) {
        self.note_standing(from.host, from.incarnation, standing);
        self.observe_term(now, term, out);
        if self.role != Role::Candidate || term != self.term {
            return;
        }
        if standing == Standing::Fresh {
            self.fresh_votes.insert(from.host);
        }
        if !granted {
            if self.won() {
                // The fresh refusal was the last host it waited to hear from.
                self.become_leader(now, out);
            }
            return;
        }
        if self.counts(from.host, from.incarnation, voter) {
            self.votes.insert(from.host);
        } else if self.recovery_election && standing == Standing::StoodIn {
            // An unjoined participant standing in for its host's lost identity.
            self.votes.insert(from.host);
            self.stand_ins.insert(from.host, from.incarnation);
            self.fresh_votes.remove(&from.host);
        } else {
            return;
        }
        if self.won() {
            self.become_leader(now, out);
        }
    }

    fn become_leader(&mut self, now: Micros, out: &mut Vec<VsOutput>) {
        self.role = Role::Leader;
        self.self_stands_in = self.recovery_election && self.is_unjoined();
        self.leader = Some(self.replica_id());
        self.progress.clear();
        let next_index = self.last_index() + 1;
        for peer in self.peers() {
            let incarnation = self
                .known_incarnation
                .get(&peer)
                .copied()
                .unwrap_or(FIRST_INCARNATION);
            self.progress.insert(
                peer,
                Progress {
                    incarnation,
                    voter: incarnation,
                    next_index,
                    match_index: 0,
                    acked_at: now,
                },
            );
        }
        if !self.log_full() {
            self.log.push(LogEntry {
                term: self.term,
                decision: Decision::Noop,
            });
        }
        for peer in self.peers() {
            self.send_append(peer, out);
        }
        self.advance_commit(out);
        self.forward_pending(now, out);
    }

    // ---------------------------------------------------------------- replication

    fn send_append(&mut self, peer: HostId, out: &mut Vec<VsOutput>) {
        self.send_append_batch(peer, true, out);
    }

    /// Sends `peer` the entries after what it is known to hold (none when
    /// `with_entries` is false: a probe that still reveals where its log stands).
    fn send_append_batch(&mut self, peer: HostId, with_entries: bool, out: &mut Vec<VsOutput>) {
        let last_index = self.last_index();
        let incarnation = self
            .known_incarnation
            .get(&peer)
            .copied()
            .unwrap_or(FIRST_INCARNATION);
        let progress = self.progress.entry(peer).or_insert(Progress {
            incarnation,
            voter: incarnation,
            next_index: last_index + 1,
            match_index: 0,
            acked_at: 0,
        });
        let next_index = progress.next_index.clamp(1, last_index + 1);
        let mut prev_index = next_index - 1;
        if prev_index < self.log_base {
            if with_entries {
                // The peer needs entries compacted away: send the state instead.
                let msg = self.snapshot_message(true);
                self.send(peer, msg, out);
                return;
            }
            prev_index = self.log_base;
        }
        let prev_term = self.term_at(prev_index).unwrap_or(0);
        let batch = if with_entries { APPEND_BATCH_MAX } else { 0 };
        let entries = self.entries_between(prev_index, last_index, batch);
        out.push(VsOutput::Send {
            to: peer,
            msg: VsMessage::Append {
                term: self.term,
                prev_index,
                prev_term,
                entries,
                commit_index: self.commit_index,
            },
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        now: Micros,
        leader: ReplicaId,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<LogEntry>,
        commit_index: u64,
        out: &mut Vec<VsOutput>,
    ) {
        self.observe_term(now, term, out);
        if term < self.term {
            self.send(
                leader.host,
                VsMessage::AppendReply {
                    term: self.term,
                    success: false,
                    match_index: self.last_index(),
                    voter: self.voter,
                },
                out,
            );
            return;
        }
        if self.role == Role::Leader {
            // Two leaders of one term cannot exist; drop rather than trust it.
            return;
        }
        self.role = Role::Follower;
        self.leader = Some(leader);
        self.leader_heard_at = Some(now);
        self.reset_election_deadline(now, out);
        let Some((prev_index, prev_term, entries)) =
            self.skip_compacted(prev_index, prev_term, entries)
        else {
            // Everything it carries is in the compacted (committed) prefix.
            self.send(
                leader.host,
                VsMessage::AppendReply {
                    term: self.term,
                    success: true,
                    match_index: self.log_base,
                    voter: self.voter,
                },
                out,
            );
            return;
        };
        if self.term_at(prev_index) != Some(prev_term) {
            self.send(
                leader.host,
                VsMessage::AppendReply {
                    term: self.term,
                    success: false,
                    match_index: self.last_index().min(prev_index.saturating_sub(1)),
                    voter: self.voter,
                },
                out,
            );
            return;
        }
        let mut index = prev_index;
        for entry in entries {
            index += 1;
            match self.term_at(index) {
                Some(t) if t == entry.term => continue,
                Some(_) => {
                    if index <= self.commit_index {
                        // A committed entry never changes: the message is bogus.
                        return;
                    }
                    self.truncate_after(index - 1);
                    self.log.push(entry);
                }
                None => {
                    if self.log_full() {
                        index -= 1;
                        break;
                    }
                    self.log.push(entry);
                }
            }
        }
        let match_index = index;
        let new_commit = commit_index.min(match_index);
        if new_commit > self.commit_index {
            self.commit_index = new_commit;
            self.apply_committed(out);
        }
        self.send(
            leader.host,
            VsMessage::AppendReply {
                term: self.term,
                success: true,
                match_index,
                voter: self.voter,
            },
            out,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_reply(
        &mut self,
        now: Micros,
        peer: ReplicaId,
        voter: Incarnation,
        term: u64,
        success: bool,
        match_index: u64,
        out: &mut Vec<VsOutput>,
    ) {
        self.observe_term(now, term, out);
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let last_index = self.last_index();
        // A peer not tracked yet resumes after what it reports holding.
        let fresh = Progress {
            incarnation: peer.incarnation,
            voter,
            next_index: if success {
                match_index.min(last_index) + 1
            } else {
                last_index + 1
            },
            match_index: 0,
            acked_at: 0,
        };
        let progress = self.progress.entry(peer.host).or_insert(fresh);
        if progress.incarnation != peer.incarnation {
            *progress = fresh;
        }
        progress.voter = voter;
        progress.acked_at = now;
        if success {
            let matched = match_index.min(last_index);
            let before = progress.match_index;
            progress.match_index = progress.match_index.max(matched);
            progress.next_index = progress.next_index.max(matched + 1);
            let behind = progress.next_index <= last_index;
            let committed = self.commit_index;
            self.advance_commit(out);
            if behind {
                self.send_append(peer.host, out);
            } else if matched > before && committed > before {
                // It acknowledged entries that had committed before its answer
                // came (the announcement could not cover them): tell it now.
                // A commit this answer made was announced to it already.
                self.send_append_batch(peer.host, false, out);
            }
        } else {
            // The follower's log ends at `match_index`. If that is below what it
            // acknowledged before, it lost its memory (e.g. a reply of its previous
            // participant arrived stamped with the new incarnation): believe the
            // shorter log, else the same rejected append would repeat forever.
            progress.match_index = progress.match_index.min(match_index);
            let resume = match_index
                .saturating_add(1)
                .min(progress.next_index.saturating_sub(1));
            progress.next_index = resume.max(progress.match_index + 1).max(1);
            self.send_append(peer.host, out);
        }
    }

    /// Commits the highest index of the current term that a quorum of counted
    /// participants holds.
    fn advance_commit(&mut self, out: &mut Vec<VsOutput>) {
        let mut candidate = self.last_index();
        while candidate > self.commit_index {
            if self.term_at(candidate) != Some(self.term) {
                break;
            }
            let mut holders = usize::from(self.counts_self_ack());
            for (&host, p) in &self.progress {
                if p.match_index >= candidate && self.counts_peer(host, p) {
                    holders += 1;
                }
            }
            if holders >= self.quorum() {
                self.commit_index = candidate;
                self.apply_committed(out);
                self.announce_commit(out);
                return;
            }
            candidate -= 1;
        }
    }

    /// Leader, its commit index just advanced: tells every peer at once (an
    /// append without entries), so that members create a new server's
    /// replicas and starters hear of it now, not at the next heartbeat.
    fn announce_commit(&mut self, out: &mut Vec<VsOutput>) {
        if self.role != Role::Leader {
            return;
        }
        for peer in self.peers() {
            self.send_append_batch(peer, false, out);
        }
    }

    fn apply_committed(&mut self, out: &mut Vec<VsOutput>) {
        let mut events = Vec::new();
        while self.applied_index < self.commit_index {
            let Some(entry) = self.log.get(self.position(self.applied_index + 1)) else {
                break;
            };
            self.applied_index += 1;
            let (decision, term) = (entry.decision.clone(), entry.term);
            self.state.apply(&decision, &mut events);
            for event in events.drain(..) {
                match event {
                    ApplyEvent::View(view) => out.push(VsOutput::View(view)),
                    ApplyEvent::Stopped(group) => out.push(VsOutput::Stopped(group)),
                    ApplyEvent::Departed => out.push(VsOutput::Departed),
                    ApplyEvent::Decided { starter, result } => {
                        if self.pending_creations.remove(&starter).is_some() {
                            out.push(VsOutput::StartDecided { starter, result });
                        }
                    }
                }
            }
            self.after_state_change(out);
            if self.applied_index % self.compact_every.max(1) == 0 {
                self.take_checkpoint(term);
            }
        }
        self.drop_resolved();
    }

    // ---------------------------------------------------------------- compaction

    /// Takes a checkpoint of the applied state and compacts the log up to the
    /// previous one (so a peer a little behind still gets entries, not the state).
    fn take_checkpoint(&mut self, term: u64) {
        if let Some(previous) = self.checkpoint.take() {
            if previous.index > self.log_base && previous.index <= self.applied_index {
                self.log.drain(..(previous.index - self.log_base) as usize);
                self.log_base = previous.index;
                self.base_term = previous.term;
                self.base_state = previous.state;
            }
        }
        self.checkpoint = Some(Checkpoint {
            index: self.applied_index,
            term,
            state: self.state.clone(),
        });
    }

    fn snapshot_message(&self, from_leader: bool) -> VsMessage {
        VsMessage::Snapshot {
            term: self.term,
            from_leader,
            last_index: self.log_base,
            last_term: self.base_term,
            state: VsSnapshot(Box::new(self.base_state.clone())),
        }
    }

    /// Drops the entries of a message that lie inside the compacted prefix
    /// (committed, so held here alike). `None` if nothing is left after it.
    fn skip_compacted(
        &self,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<LogEntry>,
    ) -> Option<(u64, u64, Vec<LogEntry>)> {
        if prev_index >= self.log_base {
            return Some((prev_index, prev_term, entries));
        }
        let skip = self.log_base - prev_index;
        if (entries.len() as u64) < skip {
            return None;
        }
        let entries = entries.into_iter().skip(skip as usize).collect();
        Some((self.log_base, self.base_term, entries))
    }

    /// A peer's committed state after `last_index`: installed when it is ahead
    /// of this participant's commit point. A leader's snapshot is answered like
    /// an `Append`.
    #[allow(clippy::too_many_arguments)]
    fn on_snapshot(
        &mut self,
        now: Micros,
        sender: ReplicaId,
        term: u64,
        from_leader: bool,
        last_index: u64,
        last_term: u64,
        snapshot: VsSnapshot,
        out: &mut Vec<VsOutput>,
    ) {
        let snapshot = *snapshot.0;
        if snapshot.hosts.keys().copied().collect::<Vec<_>>() != self.cluster
            || last_index > LOG_INDEX_MAX
        {
            return; // Another cluster's state, or an impossible index: never install it.
        }
        if from_leader {
            self.observe_term(now, term, out);
            if term < self.term || self.role == Role::Leader {
                return;
            }
            self.role = Role::Follower;
            self.leader = Some(sender);
            self.leader_heard_at = Some(now);
            self.reset_election_deadline(now, out);
        }
        if last_index > self.commit_index {
            self.install_snapshot(last_index, last_term, snapshot, out);
        }
        if from_leader {
            self.send(
                sender.host,
                VsMessage::AppendReply {
                    term: self.term,
                    success: true,
                    match_index: last_index.min(self.commit_index),
                    voter: self.voter,
                },
                out,
            );
        } else {
            // More may be committed after it.
            self.send(
                sender.host,
                VsMessage::CatchUpRequest {
                    commit_index: self.commit_index,
                    standing: self.standing(),
                },
                out,
            );
        }
    }

    /// Replaces the applied state by a committed one after `last_index`; keeps
    /// the entries after it if this log holds the same entry there.
    fn install_snapshot(
        &mut self,
        last_index: u64,
        last_term: u64,
        snapshot: ClusterState,
        out: &mut Vec<VsOutput>,
    ) {
        if self.term_at(last_index) == Some(last_term) {
            self.log.drain(..(last_index - self.log_base) as usize);
        } else {
            self.note_cut(self.log_base);
            self.log.clear();
        }
        self.log_base = last_index;
        self.base_term = last_term;
        self.base_state = snapshot.clone();
        self.checkpoint = None;
        self.commit_index = last_index;
        self.applied_index = last_index;
        let old = std::mem::replace(&mut self.state, snapshot);
        // What applying the skipped entries would have told the host: the
        // newest view of every group that changed (intermediate views are
        // skipped), the groups stopped, decisions of this host's creations,
        // its exclusion.
        // Stopped: every group it knew that the snapshot lacks, and every
        // group created and stopped within the skipped entries (this host
        // may have calls waiting for one it never saw a view of).
        for id in 1..self.state.next_group_id {
            let group = GroupId(id);
            let skipped = id >= old.next_group_id || old.groups.contains_key(&group);
            if skipped && !self.state.groups.contains_key(&group) {
                out.push(VsOutput::Stopped(group));
            }
        }
        if old
            .hosts
            .iter()
            .any(|(h, r)| self.state.hosts.get(h).is_some_and(|n| n.since > r.since))
        {
            out.push(VsOutput::Departed);
        }
        for view in self.state.groups.values() {
            if old
                .groups
                .get(&view.group)
                .is_none_or(|v| v.view_id < view.view_id)
            {
                out.push(VsOutput::View(view.clone()));
            }
        }
        let decided: Vec<(Starter, Result<GroupId, String>)> = self
            .pending_creations
            .keys()
            .filter_map(|starter| {
                self.state
                    .creations
                    .get(starter)
                    .map(|r| (*starter, r.clone()))
            })
            .collect();
        for (starter, result) in decided {
            self.pending_creations.remove(&starter);
            out.push(VsOutput::StartDecided { starter, result });
        }
        self.after_state_change(out);
        self.snapshots_installed += 1;
        self.drop_resolved();
    }

    /// Whether the committed log says `client` is gone for good (a client of
    /// an earlier process of its host, or a stopped or failed group): the
    /// groups it called may forget it ([`crate::group::LogEntry::Departed`]).
    pub fn departed(&self, client: ClientId) -> bool {
        self.state.departed(client)
    }

    /// Whether the committed log stopped `group` (its program ended): the
    /// id was given out and the group is forgotten.
    pub fn is_stopped(&self, group: GroupId) -> bool {
        group.0 < self.state.next_group_id && !self.state.groups.contains_key(&group)
    }

    /// Whether this process is a restart whose start the committed log does
    /// not know yet, and may say so: its host's admitted incarnation is this
    /// process's (or a later one of it).
    fn restart_unannounced(&self) -> bool {
        self.process > FIRST_INCARNATION && self.state.may_announce_restart(self.me, self.process)
    }

    /// Whether the committed log ever admitted this incarnation.
    fn was_admitted_once(&self) -> bool {
        self.state
            .hosts
            .get(&self.me)
            .is_some_and(|r| r.incarnation >= self.incarnation)
    }

    // ---------------------------------------------------------------- requests

    fn drop_resolved(&mut self) {
        let state = &self.state;
        self.pending_failures.retain(|host, inc| {
            state
                .hosts
                .get(host)
                .is_some_and(|r| r.incarnation < *inc || (r.incarnation == *inc && r.alive))
        });
        self.pending_joins
            .retain(|host, inc| state.hosts.get(host).is_some_and(|r| r.incarnation < *inc));
        self.pending_creations
            .retain(|starter, _| !state.creations.contains_key(starter));
        let me = ReplicaId {
            host: self.me,
            incarnation: self.incarnation,
        };
        self.pending_held
            .retain(|&group| state.is_member(group, me) && !state.holds_state(group, me));
        self.pending_revive
            .retain(|&group| state.may_revive(group, me));
    }

    /// Pending requests ready to be proposed: suspicions only once confirmed by
    /// an unanswered probe.
    fn pending_decisions(&self, now: Micros) -> Vec<Decision> {
        let mut decisions: Vec<Decision> = Vec::new();
        decisions.extend(
            self.pending_joins
                .iter()
                .map(|(&host, &incarnation)| Decision::HostJoined { host, incarnation }),
        );
        decisions.extend(
            self.pending_failures
                .iter()
                .filter(|(host, _)| {
                    self.probes
                        .get(host)
                        .is_some_and(|&at| at + self.timing.retry_us.max(1) <= now)
                })
                .map(|(&host, &incarnation)| Decision::HostFailed { host, incarnation }),
        );
        let me = self.replica_id();
        decisions.extend(
            self.pending_creations
                .iter()
                .filter_map(|(&starter, (spec, scope))| match starter {
                    Starter::Client { .. } => Some(Decision::CreateGroup {
                        starter,
                        spec: spec.clone(),
                        scope: *scope,
                    }),
                    // A replica's start is its vote; once recorded it waits
                    // for the other members' votes.
                    Starter::Group { group, call } => (!self
                        .state
                        .has_start_vote(group, call, me.host))
                    .then(|| Decision::StartVote {
                        group,
                        call,
                        voter: me,
                        spec: spec.clone(),
                    }),
                }),
        );
        decisions.extend(
            self.pending_held
                .iter()
                .map(|&group| Decision::StateHeld { group, replica: me }),
        );
        if self.restart_unannounced() {
            decisions.push(Decision::Restarted {
                host: self.me,
                incarnation: self.process,
            });
        }
        decisions.extend(
            self.pending_revive
                .iter()
                .map(|&group| Decision::Revive { group, replica: me }),
        );
        decisions
    }

    /// Sends this host's pending requests to the leader (or proposes them when leading).
    fn forward_pending(&mut self, now: Micros, out: &mut Vec<VsOutput>) {
        self.drop_resolved();
        self.next_forward_at = now + self.timing.retry_us.max(1);
        self.probe_suspects(now, out);
        let decisions = self.pending_decisions(now);
        match self.role {
            Role::Leader => {
                let me = self.replica_id();
                let mut appended = false;
                for decision in decisions {
                    appended |= self.propose(me, decision);
                }
                if appended {
                    self.replicate_new_entries(out);
                }
            }
            _ => {
                if let Some(leader) = self.leader {
                    for decision in decisions {
                        self.send(leader.host, VsMessage::Propose { decision }, out);
                    }
                }
            }
        }
    }

    /// Whether this participant can currently reach a leader (it is one with a
    /// responsive majority, or heard from one within an election timeout).
    fn connected(&self, now: Micros) -> bool {
        match self.role {
            Role::Leader => self.responsive(now) >= self.quorum(),
            _ => {
                self.leader.is_some()
                    && self
                        .leader_heard_at
                        .is_some_and(|at| at + self.timing.election_min_us.max(1) >= now)
            }
        }
    }

    /// Probes every suspected host that has no probe round yet. A round counts
    /// only if it starts while this participant is connected: a suspicion raised
    /// while cut off (or just before a partition heals) is confirmed first.
    fn probe_suspects(&mut self, now: Micros, out: &mut Vec<VsOutput>) {
        let connected = self.connected(now);
        let suspects: Vec<HostId> = self.pending_failures.keys().copied().collect();
        self.probes.retain(|h, _| connected && suspects.contains(h));
        for host in suspects {
            if !self.probes.contains_key(&host) {
                self.send(host, VsMessage::Probe, out);
                if connected {
                    self.probes.insert(host, now);
                }
            }
        }
    }

    /// The newest incarnation of `host` and whether it is alive, after the whole log.
    fn projected_host(&self, host: HostId) -> Option<(Incarnation, bool)> {
        let record = self.state.hosts.get(&host)?;
        let mut projected = (record.incarnation, record.alive);
        for entry in self.unapplied() {
            match &entry.decision {
                Decision::HostFailed {
                    host: h,
                    incarnation: i,
                } if *h == host && *i == projected.0 => projected.1 = false,
                Decision::HostJoined {
                    host: h,
                    incarnation: i,
                } if *h == host && *i > projected.0 => projected = (*i, true),
                _ => {}
            }
        }
        Some(projected)
    }

    /// The leader appends a request unless it is redundant or not allowed yet;
    /// `true` if it appended.
    fn propose(&mut self, from: ReplicaId, decision: Decision) -> bool {
        if self.role != Role::Leader
            || self.log_full()
            || self.last_index() - self.commit_index >= UNCOMMITTED_MAX
        {
            return false;
        }
        let wanted = match &decision {
            Decision::Noop => false,
            Decision::HostFailed { host, incarnation } => {
                // Only an admitted host's suspicion counts, and never below a majority alive.
                let reporter_admitted = self.state.admitted(from.host) == Some(from.incarnation);
                let alive_after = self
                    .cluster
                    .iter()
                    .filter(|&&h| self.projected_host(h).is_some_and(|p| p.1))
                    .count()
                    .saturating_sub(1);
                reporter_admitted
                    && self.projected_host(*host) == Some((*incarnation, true))
                    && alive_after >= self.quorum()
            }
            Decision::HostJoined { host, incarnation } => self
                .projected_host(*host)
                .is_some_and(|p| p.0 < *incarnation),
            Decision::CreateGroup { starter, .. } => {
                // Only a client's own host asks for its start (a replicated
                // server's start is voted: StartVote).
                matches!(starter, Starter::Client { origin, .. } if origin.host == from.host)
                    && !self.state.creations.contains_key(starter)
                    && !self.unapplied().iter().any(|e| {
                        matches!(&e.decision, Decision::CreateGroup { starter: s, .. } if s == starter)
                    })
            }
            Decision::StartVote {
                group, call, voter, ..
            } => {
                // Only the member itself votes, once per host and start.
                from == *voter
                    && self.state.admitted(from.host) == Some(from.incarnation)
                    && self.state.is_member(*group, *voter)
                    && !self.state.creations.contains_key(&Starter::Group {
                        group: *group,
                        call: *call,
                    })
                    && !self.state.has_start_vote(*group, *call, voter.host)
                    && !self.unapplied().iter().any(|e| {
                        matches!(&e.decision, Decision::StartVote { group: g, call: c, voter: v, .. }
                            if g == group && c == call && v.host == voter.host)
                    })
            }
            Decision::StateHeld { group, replica } => {
                // Only the replica itself says so (an admitted incarnation).
                from == *replica
                    && self.state.admitted(from.host) == Some(from.incarnation)
                    && !self.state.holds_state(*group, *replica)
                    && !self.unapplied().iter().any(|e| {
                        matches!(&e.decision, Decision::StateHeld { group: g, replica: r }
                            if g == group && r == replica)
                    })
            }
            Decision::Restarted { host, incarnation } => {
                // Only the process itself says it started, once it was admitted.
                from.host == *host
                    && self.state.may_announce_restart(*host, *incarnation)
                    && !self.unapplied().iter().any(
                        |e| matches!(&e.decision, Decision::Restarted { host: h, .. } if h == host),
                    )
            }
            Decision::Revive { group, replica } => {
                // Only the replica itself offers, while the group is dormant.
                from == *replica
                    && self.state.may_revive(*group, *replica)
                    && !self.unapplied().iter().any(
                        |e| matches!(&e.decision, Decision::Revive { group: g, .. } if g == group),
                    )
            }
        };
        if wanted {
            self.log.push(LogEntry {
                term: self.term,
                decision,
            });
        }
        wanted
    }

    /// After appending: sends the new entries to peers that are caught up (the
    /// others get them as their replies arrive or on the next tick).
    fn replicate_new_entries(&mut self, out: &mut Vec<VsOutput>) {
        let last_index = self.last_index();
        for peer in self.peers() {
            let caught_up = self
                .progress
                .get(&peer)
                .is_none_or(|p| p.match_index + APPEND_BATCH_MAX as u64 >= last_index);
            if caught_up {
                self.send_append(peer, out);
            }
        }
        self.advance_commit(out);
    }
}
