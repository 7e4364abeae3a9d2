//! The byzantine-model group protocol: PBFT-style agreement among `3t+1`
//! replicas of one server group, any `t` of which may lie.
//!
//! The engine is [`Pbft`], one per member, pure like the crash model's
//! [`crate::group::Replica`] and driven through [`GroupProtocol`]. The
//! primary of view `v` is `members[v mod n]`; it orders batches with
//! pre-prepare → prepare → commit and `2t+1` quorums ([`normal`]), every
//! replica executes committed batches in sequence order and replies
//! ([`execute`]), a view change with the prepared and pre-prepared batches of
//! `2t+1` replicas replaces a faulty, silent or slow primary
//! ([`view_change`]), and every [`CHECKPOINT_INTERVAL`] sequence numbers a
//! checkpoint with `2t+1` matching state digests truncates the log; a lagging
//! or recruited replica fetches batches or a state vouched for by `t+1`
//! replicas ([`checkpoint`]). Membership comes from the view service; the
//! engine's view number is its own. The protocol is described in
//! `docs/replication.md`, "Byzantine groups".

mod checkpoint;
mod execute;
mod log;
pub mod messages;
mod normal;
mod pending;
#[cfg(test)]
mod tests;
mod view_change;

pub use messages::{
    batch_digest, CheckpointState, Digest, PbftMessage, ReportedSlot, SignedViewChange, ViewChange,
};
pub use view_change::{decide_new_view, NewViewDecision};

use crate::app::{AppTimerId, CallOutcome, NestedCallId, StateMachine};
use crate::group::{ClientTable, GroupMessage, GroupOutput, LogEntry, PendingCall, ReplicaConfig};
use crate::identity::ProofKeys;
use crate::protocol::GroupProtocol;
use crate::types::{ClientId, GroupId, GroupView, Micros, ReplicaId, RequestId};
use log::Slot;
use pending::{PendingRequest, PendingRequests};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Sequence numbers between two checkpoints.
pub const CHECKPOINT_INTERVAL: u64 = 32;
/// Sequence numbers above the stable checkpoint a replica accepts (the log window).
pub const WINDOW: u64 = 4 * CHECKPOINT_INTERVAL;
/// Most entries in one batch.
const BATCH_MAX: usize = 64;
/// Most requests a replica keeps waiting for their order.
const REQUESTS_MAX: usize = 4096;
/// Most names of blocking requests a backup keeps between two ticks (a
/// held slot names one at a time; stale names are what a lying primary's
/// replaced pre-prepares leave).
const BLOCKED_MAX: usize = 2 * WINDOW as usize;
/// The view-change timeout is this many retry periods, doubled with every
/// view change that did not complete.
const VIEW_TIMEOUT_RETRIES: u64 = 6;

/// Most distinct (view, digest) pairs voted on at one sequence number, per member.
fn log_votes_max(members: usize) -> usize {
    members.max(1)
}

/// Where a replica is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PbftStatus {
    /// Ordering in view `view_number()`.
    Normal,
    /// Moving to view `view_number()`: waiting for its new-view message.
    ViewChange,
}

/// A nested call's voted outcome this replica holds, and since when (the
/// current view's start, if later): an outcome the primary does not order
/// within the view timeout replaces it, like a request.
#[derive(Clone, Debug)]
struct HeldOutcome {
    outcome: CallOutcome,
    since: Micros,
}

/// The entry the application runs off the core's time.
#[derive(Clone, Debug)]
struct Running {
    entry: LogEntry,
    applied: bool,
    since: Micros,
}

/// Deliberately wrong variants of this protocol (planted bugs).
#[derive(Clone, Copy, Debug, Default)]
struct Bugs {
    commit_without_prepare_quorum: bool,
    /// A backup follows a new view without checking its reports' signatures.
    new_view_reports_unchecked: bool,
}

/// One member of a byzantine group. See the module documentation.
pub struct Pbft {
    config: ReplicaConfig,
    /// This host's signing key and every host's public key: view changes are
    /// signed, so a new primary can prove to every backup what was reported.
    proofs: Arc<ProofKeys>,
    app: Box<dyn StateMachine>,
    view: GroupView,
    /// `t`: the group tolerates this many lying members.
    t: usize,
    pview: u64,
    status: PbftStatus,
    initialized: bool,
    /// A recruit: it replaced a member whose log it never saw, so its view
    /// changes abstain about what that member may have prepared. It heals
    /// once it has executed every batch of a new view decided by `2t+1`
    /// replicas that kept their logs (`heal_at`: that view's last batch).
    amnesiac: bool,
    heal_at: Option<u64>,
    slots: BTreeMap<u64, Slot>,
    /// Every slot holding a pre-prepare it cannot vouch for yet (and maybe
    /// some that no longer do: `Pbft::recheck_held` forgets those).
    held_seqs: BTreeSet<u64>,
    /// Backup: the held pre-prepare each missing request blocks (the first
    /// entry it cannot vouch for names it), so an arriving request rechecks
    /// that one slot, not every held one. A hint only: a name may be stale,
    /// and a request two held batches wait for (a lying primary's doing)
    /// wakes only the one that named it last; the tick's full recheck covers
    /// both, and rebuilds it (at most [`BLOCKED_MAX`] names between two ticks).
    blocked: foldhash::HashMap<RequestId, u64>,
    /// Primary: the last sequence number assigned.
    next_seq: u64,
    /// Every batch up to here is executed; of the next one, `exec_index` entries.
    last_exec: u64,
    exec_index: usize,
    /// Log entries executed (the group's log positions).
    position: u64,
    running: Option<Running>,
    stable: u64,
    stable_digest: Digest,
    stable_state: Option<CheckpointState>,
    own_checkpoints: BTreeMap<u64, (Digest, CheckpointState)>,
    checkpoint_votes: BTreeMap<u64, BTreeMap<ReplicaId, Digest>>,
    clients: ClientTable,
    /// Clients this host's view service says departed, not yet forgotten
    /// here: what the primary proposes and a backup vouches for.
    known_departed: BTreeSet<ClientId>,
    calls: BTreeMap<NestedCallId, PendingCall>,
    timers: BTreeMap<AppTimerId, Micros>,
    /// Voted outcomes of nested calls received and not yet executed.
    outcomes: BTreeMap<NestedCallId, HeldOutcome>,
    failed_targets: BTreeSet<GroupId>,
    /// Requests received and not yet executed; at the primary, which of
    /// them batches of this view carry.
    requests: PendingRequests,
    proposed_calls: BTreeSet<NestedCallId>,
    proposed_timers: BTreeSet<AppTimerId>,
    proposed_departures: BTreeSet<ClientId>,
    /// View changes received (their signatures checked), per target view.
    view_changes: BTreeMap<u64, BTreeMap<ReplicaId, SignedViewChange>>,
    my_view_change: Option<SignedViewChange>,
    /// When the current view (or view change) started.
    view_since: Micros,
    /// View changes since the last view that made progress.
    attempts: u32,
    /// The new-view message of `pview` (sent as primary, or received and not yet checked).
    new_view: Option<PbftMessage>,
    want_state: Option<(u64, Digest)>,
    state_asked: Option<Micros>,
    state_donor: usize,
    fetch_sent: Option<Micros>,
    /// When the executed sequence number last grew.
    exec_at: Micros,
    /// Highest sequence number any message named (to notice lagging).
    highest_seen: u64,
    next_tick: Option<Micros>,
    batching: bool,
    dropped: u64,
    bugs: Bugs,
}

impl Pbft {
    /// Creates this host's replica of `view`'s byzantine group. `fresh`: the
    /// group's first view (the initial state is the group's); otherwise the
    /// replica fetches a state vouched for by `t+1` members.
    pub fn new(
        now: Micros,
        config: ReplicaConfig,
        proofs: Arc<ProofKeys>,
        app: Box<dyn StateMachine>,
        view: GroupView,
        fresh: bool,
        out: &mut Vec<GroupOutput>,
    ) -> Pbft {
        #[cfg(feature = "planted-bugs")]
        let bugs = Bugs {
            commit_without_prepare_quorum: config.bugs.commit_without_prepare_quorum,
            new_view_reports_unchecked: config.bugs.new_view_reports_unchecked,
        };
        #[cfg(not(feature = "planted-bugs"))]
        let bugs = Bugs::default();
        let t = usize::try_from(view.spec.tolerate).unwrap_or(usize::MAX / 4);
        let mut engine = Pbft {
            config,
            proofs,
            app,
            t,
            view,
            pview: 0,
            status: PbftStatus::Normal,
            initialized: fresh,
            amnesiac: !fresh,
            heal_at: None,
            slots: BTreeMap::new(),
            held_seqs: BTreeSet::new(),
            blocked: foldhash::HashMap::default(),
            next_seq: 0,
            last_exec: 0,
            exec_index: 0,
            position: 0,
            running: None,
            stable: 0,
            stable_digest: [0; 32],
            stable_state: None,
            own_checkpoints: BTreeMap::new(),
            checkpoint_votes: BTreeMap::new(),
            clients: ClientTable::default(),
            known_departed: BTreeSet::new(),
            calls: BTreeMap::new(),
            timers: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            failed_targets: BTreeSet::new(),
            requests: PendingRequests::default(),
            proposed_calls: BTreeSet::new(),
            proposed_timers: BTreeSet::new(),
            proposed_departures: BTreeSet::new(),
            view_changes: BTreeMap::new(),
            my_view_change: None,
            view_since: now,
            attempts: 0,
            new_view: None,
            want_state: None,
            state_asked: None,
            state_donor: 0,
            fetch_sent: None,
            exec_at: now,
            highest_seen: 0,
            next_tick: None,
            batching: false,
            dropped: 0,
            bugs,
        };
        if fresh {
            let state = engine.package(0);
            engine.stable_digest = state.digest();
            engine.stable_state = Some(state);
        }
        engine.arm_tick(now, out);
        engine
    }

    pub fn status(&self) -> PbftStatus {
        self.status
    }
    /// The engine's own view number (not the view service's).
    pub fn view_number(&self) -> u64 {
        self.pview
    }
    pub fn last_executed_seq(&self) -> u64 {
        self.last_exec
    }
    pub fn stable_checkpoint(&self) -> u64 {
        self.stable
    }
    /// Messages dropped as malformed, unexpected or unproven.
    pub fn dropped_messages(&self) -> u64 {
        self.dropped
    }
    /// Sequence numbers the log holds (above the stable checkpoint).
    pub fn log_len(&self) -> usize {
        self.slots.len()
    }
    pub fn is_primary(&self) -> bool {
        self.primary_of(self.pview) == Some(self.config.me)
    }

    fn members(&self) -> &[ReplicaId] {
        &self.view.members
    }
    fn primary_of(&self, view: u64) -> Option<ReplicaId> {
        let n = self.members().len() as u64;
        (n > 0).then(|| self.members()[usize::try_from(view % n).unwrap_or(0)])
    }
    /// `2t+1`.
    fn quorum(&self) -> usize {
        2 * self.t + 1
    }
    /// `t+1`.
    fn weak(&self) -> usize {
        self.t + 1
    }
    fn is_member(&self, r: ReplicaId) -> bool {
        self.members().contains(&r)
    }

    fn send(&self, to: ReplicaId, msg: PbftMessage, out: &mut Vec<GroupOutput>) {
        let msg = GroupMessage::Pbft {
            group: self.config.group,
            msg: Box::new(msg),
        };
        out.push(GroupOutput::Send { to, msg });
    }

    fn broadcast(&self, msg: PbftMessage, out: &mut Vec<GroupOutput>) {
        let me = self.config.me;
        let peers = self.members().iter().copied().filter(|m| *m != me);
        crate::message::one_copy_each(peers, msg, |m, msg| self.send(m, msg, out));
    }

    fn arm_tick(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.next_tick.is_none() && !self.view.failed {
            let at = now + self.config.retry_us;
            self.next_tick = Some(at);
            out.push(GroupOutput::SetTimer { at });
        }
    }

    fn view_timeout(&self) -> Micros {
        let base = self.config.retry_us.saturating_mul(VIEW_TIMEOUT_RETRIES);
        base.saturating_mul(1 << self.attempts.min(3))
    }

    fn handle_message(
        &mut self,
        now: Micros,
        from: ReplicaId,
        msg: GroupMessage,
        out: &mut Vec<GroupOutput>,
    ) {
        let addressed = match &msg {
            GroupMessage::Reply { request, .. } | GroupMessage::Working { request, .. } => {
                request.client == ClientId::Group(self.config.group)
            }
            other => other.group() == self.config.group,
        };
        if !addressed {
            self.dropped += 1;
            return;
        }
        match msg {
            GroupMessage::Request {
                request,
                payload,
                low_water,
                ..
            } => self.on_request(now, from, request, payload, low_water, out),
            GroupMessage::Reply {
                request, payload, ..
            } => self.on_nested_outcome(
                now,
                NestedCallId(request.seq),
                CallOutcome::Reply(payload),
                out,
            ),
            GroupMessage::Working { request, .. } => {
                let deadline = now.saturating_add(self.config.call_deadline_us);
                match self.calls.get_mut(&NestedCallId(request.seq)) {
                    Some(p) => p.deadline = p.deadline.max(deadline),
                    None => self.dropped += 1,
                }
            }
            GroupMessage::ReadyProbe { group } => {
                if self.status == PbftStatus::Normal && self.initialized {
                    let msg = GroupMessage::Ready {
                        group,
                        view_id: self.view.view_id,
                    };
                    out.push(GroupOutput::SendHost { to: from.host, msg });
                }
            }
            GroupMessage::Pbft { msg, .. } => {
                if !self.is_member(from) || from == self.config.me {
                    self.dropped += 1;
                    return;
                }
                self.on_pbft(now, from, *msg, out);
            }
            _ => self.dropped += 1,
        }
    }

    fn on_pbft(
        &mut self,
        now: Micros,
        from: ReplicaId,
        msg: PbftMessage,
        out: &mut Vec<GroupOutput>,
    ) {
        match msg {
            PbftMessage::PrePrepare { view, seq, batch } => {
                self.on_pre_prepare(now, from, view, seq, batch, out)
            }
            PbftMessage::Prepare { view, seq, digest } => {
                self.on_prepare(now, from, view, seq, digest, out)
            }
            PbftMessage::Commit { view, seq, digest } => {
                self.on_commit(now, from, view, seq, digest, out)
            }
            PbftMessage::Checkpoint { seq, digest } => {
                self.on_checkpoint(now, from, seq, digest, out)
            }
            PbftMessage::ViewChange(vc) => self.on_view_change(now, from, vc, false, out),
            PbftMessage::ViewChangeAnswer(vc) => self.on_view_change(now, from, vc, true, out),
            msg @ PbftMessage::NewView { .. } => self.on_new_view(now, from, msg, out),
            PbftMessage::Fetch { seq } => self.on_fetch(from, seq, out),
            PbftMessage::Executed { seq, batch } => {
                self.on_executed_claim(now, from, seq, batch, out)
            }
            PbftMessage::StateRequest { seq } => self.on_state_request(from, seq, out),
            PbftMessage::State { state } => self.on_state(now, state, out),
        }
    }

    fn tick(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.next_tick.is_some_and(|at| now >= at) {
            self.next_tick = None;
        }
        self.resend_calls(now, out);
        match self.status {
            PbftStatus::Normal => {
                self.recheck_held(now, out);
                if self.is_primary() {
                    self.propose(now, out);
                }
                self.retransmit(now, out);
                let timeout = self.view_timeout();
                // A lying primary may leave out what it alone lacks (a
                // callee's answer it never received): outcomes count too.
                let stalled = self.requests.values().any(|r| now >= r.since + timeout)
                    || self.outcomes.values().any(|o| now >= o.since + timeout);
                if stalled && self.initialized {
                    self.start_view_change(now, self.pview + 1, out);
                }
            }
            PbftStatus::ViewChange => {
                // A replica without a state has no say: it follows the others' view.
                self.report_view_change(out);
                if self.initialized && now >= self.view_since + self.view_timeout() {
                    self.attempts = self.attempts.saturating_add(1);
                    self.start_view_change(now, self.pview + 1, out);
                } else {
                    if let Some(vc) = self.my_view_change.clone() {
                        self.broadcast(PbftMessage::ViewChange(vc), out);
                    }
                    self.try_new_view(now, out);
                }
            }
        }
        self.catch_up(now, out);
        self.arm_tick(now, out);
        self.check_invariants();
    }

    /// A recruit that executed past the new view it installed knows the
    /// fate of every sequence number its predecessor may have prepared.
    fn maybe_heal(&mut self) {
        if self.amnesiac && self.initialized && self.heal_at.is_some_and(|h| self.last_exec >= h) {
            self.amnesiac = false;
            self.heal_at = None;
        }
    }

    fn check_invariants(&self) {
        debug_assert!(self.stable <= self.last_exec || !self.initialized);
        debug_assert!(self.slots.keys().all(|s| *s > self.stable));
        debug_assert!(self
            .slots
            .iter()
            .all(|(seq, s)| s.held.is_none() || self.held_seqs.contains(seq)));
        debug_assert!(self.blocked.len() <= BLOCKED_MAX);
        debug_assert!(self.running.is_none() || self.initialized);
        debug_assert!(self.heal_at.is_none() || self.amnesiac);
        self.requests.check();
    }
}

impl GroupProtocol for Pbft {
    fn on_departures(
        &mut self,
        now: Micros,
        gone: &dyn Fn(ClientId) -> bool,
        out: &mut Vec<GroupOutput>,
    ) {
        Pbft::on_departures(self, now, gone, out);
        self.check_invariants();
    }

    /// Every replica asked (its vote); each learns the decision from its own
    /// host's view service, and the primary orders it as the call's outcome,
    /// which backups vouch for by their own copy.
    fn on_start_decided(
        &mut self,
        now: Micros,
        call: NestedCallId,
        result: Result<GroupId, String>,
        out: &mut Vec<GroupOutput>,
    ) {
        let starting = self
            .calls
            .get(&call)
            .is_some_and(|p| matches!(p.target, crate::group::Callee::Start(_)));
        if starting {
            self.on_nested_outcome(now, call, crate::app::start_outcome(result), out);
        }
    }
    fn on_view(&mut self, now: Micros, view: GroupView, out: &mut Vec<GroupOutput>) {
        if view.group != self.config.group || view.view_id <= self.view.view_id {
            return;
        }
        let changed = view.members != self.view.members;
        self.view = view;
        if self.view.failed {
            return;
        }
        if changed {
            let members = self.view.members.clone();
            for slot in self.slots.values_mut() {
                slot.retain_voters(&members);
            }
            for votes in self.checkpoint_votes.values_mut() {
                votes.retain(|r, _| members.contains(r));
            }
            for vcs in self.view_changes.values_mut() {
                vcs.retain(|r, _| members.contains(r));
            }
            // Membership changed: the primary may be another one; move on together.
            if self.initialized {
                self.start_view_change(now, self.pview + 1, out);
            }
        }
        self.arm_tick(now, out);
    }
    fn on_message(
        &mut self,
        now: Micros,
        from: ReplicaId,
        msg: GroupMessage,
        out: &mut Vec<GroupOutput>,
    ) {
        self.handle_message(now, from, msg, out);
        self.check_invariants();
    }
    fn on_tick(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        self.tick(now, out)
    }
    fn on_group_failed(&mut self, now: Micros, group: GroupId, out: &mut Vec<GroupOutput>) {
        if self.failed_targets.insert(group) && self.is_primary() {
            self.propose(now, out);
        }
    }
    fn set_batching(&mut self, on: bool, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.batching && !on {
            self.flush_batch(now, out);
        }
        self.batching = on;
    }
    fn flush(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        self.flush_batch(now, out);
    }
    fn is_unhealed_recruit(&self) -> bool {
        self.amnesiac
    }
    fn holds_state(&self) -> bool {
        self.initialized
    }
    fn view(&self) -> &GroupView {
        &self.view
    }
    fn executed_position(&self) -> u64 {
        self.position
    }
    fn state_digest(&self) -> u64 {
        self.app.digest()
    }
    fn on_app_ready(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        self.app_ready(now, out);
    }
    fn busy(&self) -> Option<(Micros, String)> {
        let running = self.running.as_ref()?;
        let what = self
            .app
            .describe_running()
            .unwrap_or_else(|| "a method".to_string());
        Some((running.since, what))
    }
}
