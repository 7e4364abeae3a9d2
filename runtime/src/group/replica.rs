//! One member's engine of the crash-model group protocol: ordering, uniform
//! delivery, view-change flush, state transfer, nested calls and timers.

use super::{
    Callee, ClientTable, DiskMirror, DurableCopy, GroupMessage, GroupOutput, LogEntry, NestedCall,
    PendingCall, ReplicaState,
};
use crate::app::{AppInput, AppOutput, AppTimerId, CallOutcome, NestedCallId, StateMachine};
use crate::host::Trace;
use crate::types::{ClientId, GroupId, GroupView, HostId, Micros, ReplicaId, RequestId};
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

/// Most entries one `Prepare` carries.
const PREPARE_ENTRIES_MAX: usize = 64;
/// Most hosts a replica that is not normal yet remembers as waiting for
/// [`GroupMessage::Ready`]; a probe beyond is answered at its retransmission.
const READY_WAITERS_MAX: usize = 64;
/// Most positions the sequencer keeps uncommitted; requests beyond are dropped
/// (the client retransmits).
const UNCOMMITTED_MAX: u64 = 1024;
/// Executed entries kept for members that lag; older ones are only reachable
/// through a state transfer.
const LOG_RETAIN: u64 = 1024;

/// Static configuration of one replica.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    pub group: GroupId,
    pub me: ReplicaId,
    /// Retransmission period of every protocol step.
    pub retry_us: Micros,
    /// A nested call without outcome after this long fails with `ServerFailure`.
    pub call_deadline_us: Micros,
    #[cfg(feature = "planted-bugs")]
    pub bugs: crate::host::PlantedBugs,
}

/// Where a replica is in its current view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaStatus {
    /// The view was installed; the flush has not finished (members: waiting for
    /// `StartView`; the sequencer: collecting `DoViewChange`s).
    ViewChange,
    /// The sequencer adopted the log and sent `StartView`; waiting for every member.
    Starting,
    /// Ordering commands.
    Normal,
}

/// The sequencer's knowledge about one other member.
#[derive(Clone, Debug)]
struct Progress {
    /// The member holds every position up to here.
    held: u64,
    executed: u64,
    /// Highest position sent in a `Prepare` (pipelining sends each new entry once).
    sent_up_to: u64,
    /// When `held` last grew: a member silent for `retry_us` while behind gets a
    /// retransmission (even while new entries keep being pipelined to it).
    heard_at: Micros,
    /// Last retransmission (`Prepare` or `Commit`) by the periodic tick.
    retransmitted_at: Option<Micros>,
}

/// A surviving member's `DoViewChange`, as the new sequencer keeps it.
#[derive(Clone, Debug)]
struct ViewChangeReport {
    last_normal_view: Option<u64>,
    executed_position: u64,
    entries: Vec<LogEntry>,
    state: Option<ReplicaState>,
}

impl ViewChangeReport {
    fn log_end(&self) -> u64 {
        self.executed_position
            .saturating_add(self.entries.len() as u64)
    }
    fn holds_state(&self) -> bool {
        self.last_normal_view.is_some() || self.state.is_some()
    }
}

/// The committed entry the application works on off the core's time (its
/// asynchronous mode, [`StateMachine::start_apply`]): the entry after
/// `executed_position`, executed when the application's outputs come back
/// ([`Replica::on_app_ready`]). The replica's tables change only then, so
/// that everything it packages meanwhile is the state at `executed_position`.
#[derive(Clone, Debug)]
struct Running {
    position: u64,
    entry: LogEntry,
    /// Whether the application was given the entry (false: a duplicate).
    applied: bool,
    since: Micros,
}

/// One member of a group: the replicated application plus the protocol state.
///
/// Every handler is pure: it takes the current time and appends what must be done
/// to `out`. Invariants are checked after each handler in debug builds.
///
/// A one-member group (`model correct`) commits on append:
///
/// ```
/// use ftc_runtime::app::{AppInput, AppOutput, RestoreError, StateMachine};
/// use ftc_runtime::group::{GroupMessage, GroupOutput, Replica, ReplicaConfig, ReplicaStatus};
/// use ftc_runtime::types::*;
///
/// struct Echo;
/// impl StateMachine for Echo {
///     fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
///         if let AppInput::Command { request, payload } = input {
///             out.push(AppOutput::Reply { request, payload: payload.to_vec() });
///         }
///     }
///     fn snapshot(&self) -> Vec<u8> { Vec::new() }
///     fn restore(&mut self, _: &[u8]) -> Result<(), RestoreError> { Ok(()) }
///     fn digest(&self) -> u64 { 0 }
/// }
///
/// let me = ReplicaId { host: HostId(0), incarnation: Incarnation(0) };
/// let spec = ServerSpec {
///     class: "Echo".into(), model: Model::Correct, tolerate: 0, replicas: 1,
///     hosts: vec![], disjoint_key: None, priority: 0, durable: None,
/// };
/// let view = GroupView {
///     group: GroupId(1), view_id: 1, members: vec![me], joining: vec![], spec, failed: false,
/// };
/// let config = ReplicaConfig {
///     group: GroupId(1), me, retry_us: 50_000, call_deadline_us: 1_000_000,
///     # #[cfg(feature = "planted-bugs")]
///     # bugs: Default::default(),
/// };
/// let mut out = Vec::new();
/// let mut replica = Replica::new(0, config, Box::new(Echo), view, true, &mut out);
/// assert_eq!(replica.status(), ReplicaStatus::Normal);
///
/// let client = ClientId::Host { host: HostId(5), incarnation: Incarnation(0), local: 0 };
/// let request = RequestId { client, seq: 1 };
/// let msg = GroupMessage::Request { group: GroupId(1), request, payload: b"hi".to_vec(), low_water: 1 };
/// out.clear();
/// replica.on_message(10, ReplicaId { host: HostId(5), incarnation: Incarnation(0) }, msg, &mut out);
/// assert_eq!(replica.executed_position(), 1);
/// assert!(out.iter().any(|o| matches!(o, GroupOutput::Reply { client: c, .. } if *c == client)));
/// ```
pub struct Replica {
    config: ReplicaConfig,
    app: Box<dyn StateMachine>,
    view: GroupView,
    status: ReplicaStatus,
    /// Holds the group's state (fresh in the group's first view, or restored).
    initialized: bool,
    last_normal_view: Option<u64>,
    /// Positions up to `log_base` are only in the application state; `entries[0]`
    /// is position `log_base + 1`. A deque: executed entries leave at the front
    /// on every commit, and a `Vec` moved the whole retained log each time.
    log_base: u64,
    entries: VecDeque<LogEntry>,
    commit_position: u64,
    executed_position: u64,
    /// The entry after `executed_position`, while the application runs it.
    running: Option<Running>,
    clients: ClientTable,
    /// Requests, nested outcomes, timer firings and departures in the log
    /// after `executed_position`. The requests (up to a window of them, one
    /// insert and one removal per command) are only looked up, never
    /// iterated: a hash set.
    requests_in_log: HashSet<RequestId>,
    departing_in_log: BTreeSet<ClientId>,
    calls_in_log: BTreeSet<NestedCallId>,
    timers_in_log: BTreeSet<AppTimerId>,
    calls: BTreeMap<NestedCallId, PendingCall>,
    /// Groups the view service declared failed: calls to them fail at once.
    failed_targets: BTreeSet<GroupId>,
    /// Armed application timers and when they are due (local clock).
    timers: BTreeMap<AppTimerId, Micros>,
    progress: BTreeMap<ReplicaId, Progress>,
    reports: BTreeMap<ReplicaId, ViewChangeReport>,
    start_acks: BTreeMap<ReplicaId, u64>,
    /// Hosts that probed while the view was not normal yet: answered
    /// [`GroupMessage::Ready`] when it becomes normal (a new server's starter
    /// probes as soon as it learned the view, usually before the backups
    /// acknowledged it), instead of at their next retransmission.
    ready_waiters: BTreeSet<HostId>,
    start_sent: BTreeMap<ReplicaId, Micros>,
    report_sent: Option<Micros>,
    next_tick: Option<Micros>,
    /// No surviving member holds the group's state: this view can never start.
    stuck: bool,
    dropped_messages: u64,
    /// Batching ([`Replica::set_batching`]): normal-operation sends wait for
    /// [`Replica::flush`]. The first position appended since the last flush, and
    /// whether a new commit point or acknowledgement is still to be sent.
    batching: bool,
    unsent_from: Option<u64>,
    commit_unsent: bool,
    ack_unsent: bool,
    /// A durable server's replica: what its host's disk holds (see
    /// `group/durable.rs`); `None` for servers that are not durable.
    disk: Option<DiskMirror>,
    /// A replica that brought a dormant durable group back from its disk:
    /// its log is the group's log (it is the only state holder), so the view
    /// it starts commits all of it at once, and recruits get the state after
    /// it rather than replaying it.
    revived_up_to: u64,
    /// A durable group's sequencer commits nothing while a member of its view
    /// is not yet counted by the view service as holding the state (see
    /// `view_service/state.rs`, `complete_disks`); its host opens the gate.
    commit_gated: bool,
}

impl Replica {
    /// Creates the replica of `view` on this host. `fresh`: the group's first view,
    /// the application starts from its initial state; otherwise it waits for a
    /// state transfer.
    pub fn new(
        now: Micros,
        config: ReplicaConfig,
        app: Box<dyn StateMachine>,
        view: GroupView,
        fresh: bool,
        out: &mut Vec<GroupOutput>,
    ) -> Replica {
        let mut replica = Replica::build(config, app, &view, fresh);
        replica.install(now, view, out);
        replica.finish_step(now, out);
        replica
    }

    /// Creates the replica of a durable server's `view` on this host, whose
    /// disk `disk` describes. With `recovered` (what that disk held), the
    /// replica starts from it: it brings a dormant durable group back, so it
    /// is the sequencer of `view` and its only member with state. Otherwise
    /// as [`Replica::new`].
    #[allow(clippy::too_many_arguments)]
    pub fn new_durable(
        now: Micros,
        config: ReplicaConfig,
        app: Box<dyn StateMachine>,
        view: GroupView,
        fresh: bool,
        disk: DiskMirror,
        recovered: Option<DurableCopy>,
        out: &mut Vec<GroupOutput>,
    ) -> Replica {
        let mut replica = Replica::build(config, app, &view, fresh);
        replica.disk = Some(disk);
        if let Some(copy) = recovered {
            assert!(
                view.members.first() == Some(&replica.config.me)
                    && !view.joining.contains(&replica.config.me),
                "a replica recovered from disk starts as its view's sequencer"
            );
            match copy.state {
                // The host decoded the copy; only an application that cannot
                // read its own snapshot fails here, and then the replica has
                // no state (it is not fresh: `initialized` stays false).
                Some(state) => {
                    let _ = replica.restore(now, state, copy.entries);
                }
                None => {
                    // No snapshot: the initial state, and the log from position 1.
                    replica.entries = copy.entries.into();
                    replica.initialized = true;
                }
            }
            if let Some(disk) = &mut replica.disk {
                disk.matches_disk();
            }
            replica.revived_up_to = replica.log_end();
        }
        replica.install(now, view, out);
        replica.finish_step(now, out);
        replica
    }

    fn build(
        config: ReplicaConfig,
        app: Box<dyn StateMachine>,
        view: &GroupView,
        fresh: bool,
    ) -> Replica {
        let mut placeholder = view.clone();
        placeholder.view_id = 0;
        Replica {
            config,
            app,
            view: placeholder,
            status: ReplicaStatus::ViewChange,
            initialized: fresh,
            last_normal_view: None,
            log_base: 0,
            entries: VecDeque::new(),
            commit_position: 0,
            executed_position: 0,
            running: None,
            clients: ClientTable::default(),
            departing_in_log: BTreeSet::new(),
            requests_in_log: HashSet::new(),
            calls_in_log: BTreeSet::new(),
            timers_in_log: BTreeSet::new(),
            calls: BTreeMap::new(),
            failed_targets: BTreeSet::new(),
            timers: BTreeMap::new(),
            progress: BTreeMap::new(),
            reports: BTreeMap::new(),
            start_acks: BTreeMap::new(),
            ready_waiters: BTreeSet::new(),
            start_sent: BTreeMap::new(),
            report_sent: None,
            next_tick: None,
            stuck: false,
            dropped_messages: 0,
            batching: false,
            unsent_from: None,
            commit_unsent: false,
            ack_unsent: false,
            disk: None,
            revived_up_to: 0,
            commit_gated: false,
        }
    }

    pub fn view(&self) -> &GroupView {
        &self.view
    }
    pub fn status(&self) -> ReplicaStatus {
        self.status
    }
    pub fn is_sequencer(&self) -> bool {
        self.view.members.first() == Some(&self.config.me)
    }
    pub fn commit_position(&self) -> u64 {
        self.commit_position
    }
    pub fn executed_position(&self) -> u64 {
        self.executed_position
    }
    /// The last position this replica holds.
    pub fn log_end(&self) -> u64 {
        self.log_base + self.entries.len() as u64
    }
    pub fn state_digest(&self) -> u64 {
        self.app.digest()
    }
    /// True when this view can never become normal: no surviving member holds the state.
    pub fn is_stuck(&self) -> bool {
        self.stuck
    }
    /// Whether this replica holds the group's state: it started with the group
    /// or a state transfer to it completed (the host tells the view service).
    pub fn holds_state(&self) -> bool {
        self.initialized
    }
    /// Malformed or unexpected messages dropped so far.
    pub fn dropped_messages(&self) -> u64 {
        self.dropped_messages
    }
    /// The entry at `position`, while it is still kept.
    pub fn entry(&self, position: u64) -> Option<&LogEntry> {
        let index = position.checked_sub(self.log_base + 1)?;
        self.entries.get(usize::try_from(index).ok()?)
    }

    #[cfg(all(test, feature = "planted-bugs"))]
    pub(crate) fn set_bugs(&mut self, bugs: crate::host::PlantedBugs) {
        self.config.bugs = bugs;
    }

    /// A newly committed view of this group (views arrive in `view_id` order).
    pub fn on_view(&mut self, now: Micros, view: GroupView, out: &mut Vec<GroupOutput>) {
        if view.group != self.config.group || view.view_id <= self.view.view_id {
            return;
        }
        self.install(now, view, out);
        self.finish_step(now, out);
    }

    fn install(&mut self, now: Micros, view: GroupView, out: &mut Vec<GroupOutput>) {
        self.view = view;
        self.status = ReplicaStatus::ViewChange;
        self.progress.clear();
        self.reports.clear();
        self.start_acks.clear();
        self.start_sent.clear();
        self.report_sent = None;
        self.stuck = false;
        // What the old view had not sent yet belongs to the old view.
        self.unsent_from = None;
        self.commit_unsent = false;
        self.ack_unsent = false;
        if self.view.failed || !self.view.members.contains(&self.config.me) {
            return;
        }
        let survivor = !self.view.joining.contains(&self.config.me);
        if self.is_sequencer() {
            if survivor {
                let own = self.own_report();
                self.reports.insert(self.config.me, own);
            }
            self.try_start_view(now, out);
        } else if survivor {
            self.send_report(now, out);
        }
        self.arm_tick(now, out);
    }

    /// Batching on: the normal-operation messages of this replica — the
    /// sequencer's `Prepare`s of newly appended entries and its `Commit`s, a
    /// member's `PrepareOk`s — are not sent by the handler that causes them but
    /// by the next [`Replica::flush`], coalesced: one `Prepare` run per member
    /// with every entry appended since the last flush (which also carries the
    /// commit point), one `Commit` to a member that got no `Prepare`, one
    /// cumulative `PrepareOk`. That is the same as delaying and merging those
    /// messages, which the protocol tolerates. A driver that turns it on must
    /// call `flush` after every batch of inputs (the kernel: every round).
    /// View changes, state transfer, replies and retransmissions are not delayed.
    pub fn set_batching(&mut self, on: bool, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.batching && !on {
            self.flush(now, out);
        }
        self.batching = on;
    }

    /// Sends what batching held back (see [`Replica::set_batching`]).
    pub fn flush(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        let from = self.unsent_from.take();
        let commit = std::mem::take(&mut self.commit_unsent);
        let ack = std::mem::take(&mut self.ack_unsent);
        if self.status != ReplicaStatus::Normal {
            return;
        }
        if !self.is_sequencer() {
            if ack {
                self.send_prepare_ok(out);
            }
            return;
        }
        let log_end = self.log_end();
        let members: Vec<ReplicaId> = self.progress.keys().copied().collect();
        for m in members {
            let mut prepared = false;
            if let Some(from) = from {
                // Pipelining as in `append`: a member that was sent everything before
                // the new entries gets them now (in runs of `PREPARE_ENTRIES_MAX`); a
                // lagging one is caught up by the tick's retransmission.
                for _ in 0..=UNCOMMITTED_MAX {
                    let Some(sent) = self.progress.get(&m).map(|p| p.sent_up_to) else {
                        break;
                    };
                    if sent + 1 < from || sent >= log_end {
                        break;
                    }
                    self.send_prepare(sent + 1, m, out);
                    prepared = true;
                    if self.progress.get(&m).is_none_or(|p| p.sent_up_to <= sent) {
                        break;
                    }
                }
            }
            if commit && !prepared {
                self.send_commit(m, out);
            }
        }
        self.finish_step(now, out);
    }

    /// The view service declared `group` failed: outstanding and later nested calls
    /// to it fail with `ServerFailure` (ordered through the log by the sequencer).
    pub fn on_group_failed(&mut self, now: Micros, group: GroupId, out: &mut Vec<GroupOutput>) {
        if self.failed_targets.insert(group)
            && self.is_sequencer()
            && self.status == ReplicaStatus::Normal
        {
            self.sequencer_tick(now, out);
        }
        self.finish_step(now, out);
    }

    /// The view service decided the start this group's application asked for
    /// as nested call `call` ([`GroupOutput::StartServer`]): the sequencer
    /// orders its outcome; other members ignore it (a sequencer asks again,
    /// and a decided start is answered at once).
    pub fn on_start_decided(
        &mut self,
        now: Micros,
        call: NestedCallId,
        result: Result<GroupId, String>,
        out: &mut Vec<GroupOutput>,
    ) {
        let wanted = self.is_sequencer()
            && self.status == ReplicaStatus::Normal
            && !self.calls_in_log.contains(&call)
            && self
                .calls
                .get(&call)
                .is_some_and(|p| matches!(p.target, Callee::Start(_)));
        if wanted {
            let outcome = crate::app::start_outcome(result);
            self.append(now, LogEntry::NestedReply { call, outcome }, out);
        }
        self.finish_step(now, out);
    }

    /// A timer set through [`GroupOutput::SetTimer`] is due.
    pub fn on_tick(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.next_tick.is_some_and(|at| now >= at) {
            self.next_tick = None;
        }
        let retry_due = |last: Option<Micros>| last.is_none_or(|t| now >= t + self.config.retry_us);
        match self.status {
            ReplicaStatus::ViewChange => {
                if !self.is_sequencer()
                    && !self.view.joining.contains(&self.config.me)
                    && retry_due(self.report_sent)
                {
                    self.send_report(now, out);
                }
            }
            ReplicaStatus::Starting => {
                let waiting: Vec<ReplicaId> = self
                    .other_members()
                    .filter(|m| !self.start_acks.contains_key(m))
                    .filter(|m| retry_due(self.start_sent.get(m).copied()))
                    .collect();
                for m in waiting {
                    self.send_start_view(now, m, out);
                }
            }
            ReplicaStatus::Normal if self.is_sequencer() => self.sequencer_tick(now, out),
            ReplicaStatus::Normal => {}
        }
        self.arm_tick(now, out);
        self.finish_step(now, out);
    }

    fn sequencer_tick(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        let retry_us = self.config.retry_us;
        let log_end = self.log_end();
        let members: Vec<ReplicaId> = self.progress.keys().copied().collect();
        for m in members {
            let Some(p) = self.progress.get(&m).cloned() else {
                continue;
            };
            let quiet = now >= p.heard_at + retry_us
                && p.retransmitted_at.is_none_or(|t| now >= t + retry_us);
            if !quiet {
                continue;
            }
            if p.held < log_end {
                self.send_prepare(p.held + 1, m, out);
            } else if p.executed < self.commit_position {
                self.send_commit(m, out);
            } else {
                continue;
            }
            if let Some(p) = self.progress.get_mut(&m) {
                p.retransmitted_at = Some(now);
            }
        }
        let calls: Vec<NestedCallId> = self
            .calls
            .keys()
            .filter(|c| !self.calls_in_log.contains(c))
            .copied()
            .collect();
        for call in calls {
            let Some(pending) = self.calls.get(&call) else {
                continue;
            };
            if let Some(outcome) = pending.failure(&self.failed_targets, now) {
                self.append(now, LogEntry::NestedReply { call, outcome }, out);
            } else if pending.last_sent.is_none_or(|t| now >= t + retry_us) {
                self.send_call(now, call, out);
            }
        }
        let due: Vec<AppTimerId> = self
            .timers
            .iter()
            .filter(|(t, at)| now >= **at && !self.timers_in_log.contains(t))
            .map(|(t, _)| *t)
            .collect();
        for timer in due {
            self.append(now, LogEntry::TimerFired { timer }, out);
        }
    }

    /// A protocol message from replica (or client host) `from`.
    pub fn on_message(
        &mut self,
        now: Micros,
        from: ReplicaId,
        msg: GroupMessage,
        out: &mut Vec<GroupOutput>,
    ) {
        let addressed = match &msg {
            // A nested call's reply names the answering server; it is ours by its client.
            GroupMessage::Reply { request, .. } | GroupMessage::Working { request, .. } => {
                request.client == ClientId::Group(self.config.group)
            }
            other => other.group() == self.config.group,
        };
        if !addressed {
            self.dropped_messages += 1;
            return;
        }
        match msg {
            GroupMessage::Request {
                request,
                payload,
                low_water,
                ..
            } => self.on_request(now, request, payload, low_water, out),
            GroupMessage::Reply {
                request, payload, ..
            } => self.on_nested_reply(now, request, payload, out),
            GroupMessage::Working { request, .. } => {
                // Our nested call is running at its server: its deadline restarts.
                let deadline = now.saturating_add(self.config.call_deadline_us);
                match self.calls.get_mut(&NestedCallId(request.seq)) {
                    Some(pending) => pending.deadline = pending.deadline.max(deadline),
                    None => self.dropped_messages += 1,
                }
            }
            GroupMessage::ReadyProbe { group } => {
                // Every running member answers: a crash-model client probes only
                // the sequencer, a byzantine one needs t+1 members to say so.
                if self.status == ReplicaStatus::Normal {
                    let msg = GroupMessage::Ready {
                        group,
                        view_id: self.view.view_id,
                    };
                    out.push(GroupOutput::SendHost { to: from.host, msg });
                } else if self.ready_waiters.len() < READY_WAITERS_MAX {
                    self.ready_waiters.insert(from.host);
                }
            }
            GroupMessage::Ready { .. } | GroupMessage::Pbft { .. } => self.dropped_messages += 1,
            GroupMessage::Prepare {
                view_id,
                first_position,
                entries,
                commit_position,
                ..
            } => {
                if self.sent_by_sequencer(from, view_id) && self.status == ReplicaStatus::Normal {
                    self.on_prepare(now, first_position, entries, commit_position, out);
                } else {
                    self.dropped_messages += 1;
                }
            }
            GroupMessage::Commit {
                view_id,
                commit_position,
                ..
            } => {
                if self.sent_by_sequencer(from, view_id) && self.status == ReplicaStatus::Normal {
                    self.learn_commit(now, commit_position, out);
                    self.acknowledge(out);
                } else {
                    self.dropped_messages += 1;
                }
            }
            GroupMessage::PrepareOk {
                view_id,
                position,
                executed_position,
                ..
            } => self.on_prepare_ok(now, from, view_id, position, executed_position, out),
            GroupMessage::DoViewChange {
                view_id,
                last_normal_view,
                executed_position,
                entries,
                state,
                ..
            } => {
                let fresh_report = view_id == self.view.view_id
                    && self.is_sequencer()
                    && self.view.members.contains(&from)
                    && !self.view.joining.contains(&from)
                    && from != self.config.me;
                if !fresh_report {
                    self.dropped_messages += 1;
                } else if self.status == ReplicaStatus::ViewChange {
                    let report = ViewChangeReport {
                        last_normal_view,
                        executed_position,
                        entries,
                        state: state.map(|s| *s),
                    };
                    self.reports.insert(from, report);
                    self.try_start_view(now, out);
                } else if self.status == ReplicaStatus::Starting
                    && !self.start_acks.contains_key(&from)
                {
                    self.send_start_view(now, from, out);
                }
            }
            GroupMessage::StartView {
                view_id,
                base_position,
                entries,
                commit_position,
                state,
                ..
            } => {
                if self.sent_by_sequencer(from, view_id) {
                    self.on_start_view(
                        now,
                        base_position,
                        entries,
                        commit_position,
                        state.map(|s| *s),
                        out,
                    );
                } else {
                    self.dropped_messages += 1;
                }
            }
            GroupMessage::StartViewOk {
                view_id, position, ..
            } => {
                let expected = view_id == self.view.view_id
                    && self.is_sequencer()
                    && self.status == ReplicaStatus::Starting
                    && self.view.members.contains(&from)
                    && from != self.config.me
                    // A member that installed the view holds at least the commit point.
                    && position >= self.commit_position;
                if expected {
                    self.start_acks.insert(from, position.min(self.log_end()));
                    if self
                        .other_members()
                        .all(|m| self.start_acks.contains_key(&m))
                    {
                        self.become_normal(now, out);
                    }
                } else {
                    self.dropped_messages += 1;
                }
            }
        }
        self.finish_step(now, out);
    }

    /// Sent by the sequencer of the current view to this member (not to itself).
    fn sent_by_sequencer(&self, from: ReplicaId, view_id: u64) -> bool {
        view_id == self.view.view_id
            && self.view.members.first() == Some(&from)
            && from != self.config.me
    }

    fn other_members(&self) -> impl Iterator<Item = ReplicaId> + '_ {
        let me = self.config.me;
        self.view.members.iter().copied().filter(move |m| *m != me)
    }

    // ----- normal operation -------------------------------------------------

    fn on_request(
        &mut self,
        now: Micros,
        request: RequestId,
        payload: Vec<u8>,
        low_water: u64,
        out: &mut Vec<GroupOutput>,
    ) {
        if self.status != ReplicaStatus::Normal {
            self.dropped_messages += 1;
            return;
        }
        if self.is_duplicate(request) {
            // Executed before: answer from the reply table; while the method is
            // still running, say so (nothing when the reply was forgotten). Any
            // member answers a retransmission: a byzantine server's client asks
            // every member and needs t+1 matching copies.
            let group = self.config.group;
            let msg = match self.clients.reply(request) {
                Some(Some(payload)) => GroupMessage::Reply {
                    group,
                    request,
                    payload: payload.clone(),
                },
                Some(None) if self.app.running() == Some(request) => {
                    GroupMessage::Working { group, request }
                }
                _ => return,
            };
            out.push(GroupOutput::Reply {
                client: request.client,
                msg,
            });
            return;
        }
        if self.requests_in_log.contains(&request) {
            return; // ordered, not yet executed: its reply will come
        }
        if !self.is_sequencer() {
            self.dropped_messages += 1;
            return; // only the sequencer orders new requests
        }
        // Counted from the executed position, so that an application busy
        // with one method (asynchronous mode) does not make the log grow
        // without bound; when it is not, executed and committed are equal here.
        if self.log_end() - self.executed_position >= UNCOMMITTED_MAX {
            self.dropped_messages += 1;
            return;
        }
        let entry = LogEntry::Command {
            request,
            payload,
            low_water,
        };
        self.append(now, entry, out);
    }

    /// The sequencer orders the forgetting of clients `gone` says departed
    /// (the view service's committed log as this host knows it), one entry
    /// of at most [`crate::group::DEPARTED_PER_ENTRY_MAX`] at a time.
    pub fn on_departures(
        &mut self,
        now: Micros,
        gone: &dyn Fn(ClientId) -> bool,
        out: &mut Vec<GroupOutput>,
    ) {
        if !self.is_sequencer()
            || self.status != ReplicaStatus::Normal
            || self.log_end() - self.executed_position >= UNCOMMITTED_MAX
        {
            return;
        }
        let in_log = &self.departing_in_log;
        let clients = self.clients.departures(gone, &|c| in_log.contains(&c));
        if !clients.is_empty() {
            self.append(now, LogEntry::Departed { clients }, out);
            self.finish_step(now, out);
        }
    }

    /// Executed already (or executed and forgotten)?
    fn is_duplicate(&self, request: RequestId) -> bool {
        #[cfg(feature = "planted-bugs")]
        if self.config.bugs.no_duplicate_suppression {
            return false;
        }
        self.clients.is_duplicate(request)
    }

    fn on_nested_reply(
        &mut self,
        now: Micros,
        request: RequestId,
        payload: Vec<u8>,
        out: &mut Vec<GroupOutput>,
    ) {
        let call = NestedCallId(request.seq);
        let ours = request.client == ClientId::Group(self.config.group);
        let wanted = ours
            && self.is_sequencer()
            && self.status == ReplicaStatus::Normal
            && self.calls.contains_key(&call)
            && !self.calls_in_log.contains(&call);
        if wanted {
            let outcome = CallOutcome::Reply(payload);
            self.append(now, LogEntry::NestedReply { call, outcome }, out);
        }
    }

    /// Sequencer: orders `entry` at the next position and sends it to every member.
    fn append(&mut self, now: Micros, entry: LogEntry, out: &mut Vec<GroupOutput>) {
        debug_assert!(self.is_sequencer() && self.status == ReplicaStatus::Normal);
        self.index(&entry);
        self.entries.push_back(entry);
        let position = self.log_end();
        if self.batching {
            self.unsent_from.get_or_insert(position);
            self.advance_commit(now, out);
            return;
        }
        let members: Vec<ReplicaId> = self.progress.keys().copied().collect();
        for m in members {
            // Pipelining: a member that has everything before this position gets it now;
            // a lagging one is caught up by the retransmission on the next tick.
            if self
                .progress
                .get(&m)
                .is_some_and(|p| p.sent_up_to + 1 == position)
            {
                self.send_prepare(position, m, out);
            }
        }
        self.advance_commit(now, out);
    }

    fn send_prepare(&mut self, first: u64, to: ReplicaId, out: &mut Vec<GroupOutput>) {
        let first = first.max(self.log_base + 1);
        let start = usize::try_from(first - self.log_base - 1).unwrap_or(usize::MAX);
        let start = start.min(self.entries.len());
        let entries: Vec<LogEntry> = self
            .entries
            .range(start..)
            .take(PREPARE_ENTRIES_MAX)
            .cloned()
            .collect();
        let Some(last) = (first + entries.len() as u64)
            .checked_sub(1)
            .filter(|l| *l >= first)
        else {
            return;
        };
        if let Some(p) = self.progress.get_mut(&to) {
            p.sent_up_to = p.sent_up_to.max(last);
        }
        let msg = GroupMessage::Prepare {
            group: self.config.group,
            view_id: self.view.view_id,
            first_position: first,
            entries,
            commit_position: self.commit_position,
        };
        out.push(GroupOutput::Send { to, msg });
    }

    fn send_commit(&self, to: ReplicaId, out: &mut Vec<GroupOutput>) {
        let msg = GroupMessage::Commit {
            group: self.config.group,
            view_id: self.view.view_id,
            commit_position: self.commit_position,
        };
        out.push(GroupOutput::Send { to, msg });
    }

    fn on_prepare(
        &mut self,
        now: Micros,
        first_position: u64,
        entries: Vec<LogEntry>,
        commit_position: u64,
        out: &mut Vec<GroupOutput>,
    ) {
        if first_position == 0 {
            self.dropped_messages += 1;
            return;
        }
        if first_position <= self.log_end() + 1 {
            for (i, entry) in entries.into_iter().enumerate() {
                let position = first_position + i as u64;
                if position > self.log_end() {
                    self.index(&entry);
                    self.entries.push_back(entry);
                } else if self.entry(position).is_some_and(|e| *e != entry) {
                    // One sequencer per view: an entry held twice is the same entry.
                    // A different one is a corrupt message; it changes nothing.
                    self.dropped_messages += 1;
                }
            }
        }
        // Behind a gap the cumulative acknowledgement tells the sequencer where to resume.
        self.learn_commit(now, commit_position, out);
        self.acknowledge(out);
    }

    /// A member's `PrepareOk`, now or (batching) at the next flush.
    fn acknowledge(&mut self, out: &mut Vec<GroupOutput>) {
        if self.batching {
            self.ack_unsent = true;
        } else {
            self.send_prepare_ok(out);
        }
    }

    fn send_prepare_ok(&mut self, out: &mut Vec<GroupOutput>) {
        let msg = GroupMessage::PrepareOk {
            group: self.config.group,
            view_id: self.view.view_id,
            position: self.log_end(),
            executed_position: self.executed_position,
        };
        out.push(GroupOutput::Send {
            to: self.view.members[0],
            msg,
        });
    }

    fn learn_commit(&mut self, now: Micros, commit_position: u64, out: &mut Vec<GroupOutput>) {
        let known = commit_position.min(self.log_end());
        if known > self.commit_position {
            self.commit_position = known;
            self.execute_committed(now, out);
        }
    }

    fn on_prepare_ok(
        &mut self,
        now: Micros,
        from: ReplicaId,
        view_id: u64,
        position: u64,
        executed_position: u64,
        out: &mut Vec<GroupOutput>,
    ) {
        let expected = view_id == self.view.view_id
            && self.is_sequencer()
            && self.status == ReplicaStatus::Normal;
        let log_end = self.log_end();
        match self.progress.get_mut(&from) {
            Some(p) if expected => {
                if position.min(log_end) > p.held {
                    p.held = position.min(log_end);
                    p.heard_at = now;
                }
                p.executed = p.executed.max(executed_position.min(p.held));
                if p.sent_up_to < p.held {
                    p.sent_up_to = p.held;
                }
            }
            _ => {
                self.dropped_messages += 1;
                return;
            }
        }
        self.advance_commit(now, out);
    }

    /// Sequencer: commits what every member holds (uniform delivery).
    fn advance_commit(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if !self.is_sequencer() || self.status != ReplicaStatus::Normal || self.commit_gated {
            return;
        }
        let held_by_all = self
            .progress
            .values()
            .map(|p| p.held)
            .fold(self.log_end(), u64::min);
        #[cfg(feature = "planted-bugs")]
        let held_by_all = if self.config.bugs.reply_before_all_hold {
            self.log_end()
        } else {
            held_by_all
        };
        if held_by_all > self.commit_position {
            self.commit_position = held_by_all;
            self.execute_committed(now, out);
            if self.batching {
                self.commit_unsent = true;
                return;
            }
            let members: Vec<ReplicaId> = self.progress.keys().copied().collect();
            for m in members {
                self.send_commit(m, out);
            }
        }
    }

    // ----- execution --------------------------------------------------------

    fn execute_committed(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        let upto = self.commit_position.min(self.log_end());
        while self.running.is_none() && self.executed_position < upto {
            let position = self.executed_position + 1;
            let Some(entry) = self.entry(position).cloned() else {
                break;
            };
            self.start(now, position, entry, out);
        }
        self.collect_garbage();
    }

    /// Gives the entry at `position` to the application; executes it now if
    /// the application completed it, or keeps it [`Running`].
    fn start(&mut self, now: Micros, position: u64, entry: LogEntry, out: &mut Vec<GroupOutput>) {
        debug_assert_eq!(position, self.executed_position + 1);
        let mut app_out = Vec::new();
        let (applied, done) = match &entry {
            LogEntry::Command {
                request, payload, ..
            } => {
                if self.is_duplicate(*request) {
                    (false, true)
                } else {
                    let input = AppInput::Command {
                        request: *request,
                        payload,
                    };
                    (true, self.app.start_apply(input, &mut app_out))
                }
            }
            LogEntry::NestedReply { call, outcome } => {
                if self.calls.contains_key(call) {
                    let input = AppInput::NestedReply {
                        call: *call,
                        outcome,
                    };
                    (true, self.app.start_apply(input, &mut app_out))
                } else {
                    (false, true)
                }
            }
            LogEntry::TimerFired { timer } => {
                let input = AppInput::TimerFired { timer: *timer };
                (true, self.app.start_apply(input, &mut app_out))
            }
            LogEntry::Departed { .. } => (false, true),
        };
        let running = Running {
            position,
            entry,
            applied,
            since: now,
        };
        if done {
            self.execute(now, running, app_out, out);
        } else {
            debug_assert!(app_out.is_empty());
            self.running = Some(running);
        }
    }

    /// The application completed the entry it was running: execute it, and go
    /// on with the committed entries after it.
    pub fn on_app_ready(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.running.is_none() {
            return;
        }
        let mut app_out = Vec::new();
        if !self.app.poll(&mut app_out) {
            return;
        }
        if let Some(running) = self.running.take() {
            self.execute(now, running, app_out, out);
            self.execute_committed(now, out);
        }
        self.finish_step(now, out);
    }

    /// Since when the application has been running an entry off the core's
    /// time, and what it runs (for the kernel log).
    pub fn busy(&self) -> Option<(Micros, String)> {
        let running = self.running.as_ref()?;
        let what = self
            .app
            .describe_running()
            .unwrap_or_else(|| "a method".to_string());
        Some((running.since, what))
    }

    /// Executes a completed entry: the replica's tables, the trace, then the
    /// application's outputs.
    fn execute(
        &mut self,
        now: Micros,
        running: Running,
        app_out: Vec<AppOutput>,
        out: &mut Vec<GroupOutput>,
    ) {
        let Running {
            position,
            entry,
            applied,
            ..
        } = running;
        debug_assert_eq!(position, self.executed_position + 1);
        // Committed entries never change: the log still holds this one.
        #[cfg(not(feature = "planted-bugs"))]
        debug_assert!(self.entry(position).is_none_or(|e| *e == entry));
        self.executed_position = position;
        let mut executed_request = None;
        match &entry {
            LogEntry::Command {
                request, low_water, ..
            } => {
                self.requests_in_log.remove(request);
                self.clients.executed(*request, *low_water, applied);
                if applied {
                    executed_request = Some(*request);
                }
            }
            LogEntry::NestedReply { call, .. } => {
                self.calls_in_log.remove(call);
                self.calls.remove(call);
            }
            LogEntry::TimerFired { timer } => {
                self.timers_in_log.remove(timer);
                self.timers.remove(timer);
            }
            LogEntry::Departed { clients } => {
                for client in clients {
                    self.departing_in_log.remove(client);
                }
                self.clients.depart(clients);
            }
        }
        out.push(GroupOutput::Trace(Trace::Executed {
            group: self.config.group,
            replica: self.config.me,
            position,
            request: executed_request,
            entry_digest: entry.digest(),
            state_digest: self.app.digest(),
        }));
        for effect in app_out {
            self.on_app_output(now, effect, out);
        }
    }

    fn on_app_output(&mut self, now: Micros, effect: AppOutput, out: &mut Vec<GroupOutput>) {
        match effect {
            AppOutput::Reply { request, payload } => {
                self.clients.set_reply(request, &payload);
                // Only the sequencer answers: a backup's copy would reach the
                // client after the sequencer's (it executes once it learns of
                // the commit) and cost every call a message. If the sequencer
                // fails before its reply arrives, the client asks the next
                // view's sequencer, which answers from its reply table (or
                // once it has executed the request).
                if !self.is_sequencer() {
                    return;
                }
                let msg = GroupMessage::Reply {
                    group: self.config.group,
                    request,
                    payload,
                };
                out.push(GroupOutput::Reply {
                    client: request.client,
                    msg,
                });
            }
            AppOutput::Call {
                call,
                group,
                payload,
            } => self.new_call(now, call, Callee::Group(group), payload, out),
            AppOutput::StartServer { call, spec } => {
                self.new_call(now, call, Callee::Start(spec), Vec::new(), out)
            }
            AppOutput::ArmTimer { timer, after } => {
                let at = now.saturating_add(after);
                self.timers.insert(timer, at);
                if self.is_sequencer() && self.status == ReplicaStatus::Normal {
                    out.push(GroupOutput::SetTimer { at });
                }
            }
            AppOutput::CancelTimer { timer } => {
                self.timers.remove(&timer);
            }
        }
    }

    fn new_call(
        &mut self,
        now: Micros,
        call: NestedCallId,
        target: Callee,
        payload: Vec<u8>,
        out: &mut Vec<GroupOutput>,
    ) {
        let deadline = now + self.config.call_deadline_us;
        self.calls
            .insert(call, PendingCall::new(target, payload, deadline));
        if self.is_sequencer() && self.status == ReplicaStatus::Normal {
            self.send_call(now, call, out);
        }
    }

    fn send_call(&mut self, now: Micros, call: NestedCallId, out: &mut Vec<GroupOutput>) {
        super::send_call(&mut self.calls, self.config.group, call, now, out);
    }

    fn collect_garbage(&mut self) {
        let mut upto = self.executed_position.saturating_sub(LOG_RETAIN);
        if self.is_sequencer() && self.status == ReplicaStatus::Normal {
            upto = self.progress.values().map(|p| p.held).fold(upto, u64::min);
        }
        if upto > self.log_base {
            let drop = usize::try_from(upto - self.log_base).unwrap_or(usize::MAX);
            self.entries.drain(..drop.min(self.entries.len()));
            self.log_base = upto;
        }
    }

    fn index(&mut self, entry: &LogEntry) {
        match entry {
            LogEntry::Command { request, .. } => {
                self.requests_in_log.insert(*request);
            }
            LogEntry::NestedReply { call, .. } => {
                self.calls_in_log.insert(*call);
            }
            LogEntry::TimerFired { timer } => {
                self.timers_in_log.insert(*timer);
            }
            LogEntry::Departed { clients } => {
                self.departing_in_log.extend(clients.iter().copied());
            }
        }
    }

    fn reindex(&mut self) {
        self.requests_in_log.clear();
        self.calls_in_log.clear();
        self.timers_in_log.clear();
        self.departing_in_log.clear();
        let from = self.executed_position + 1;
        for position in from..=self.log_end() {
            if let Some(entry) = self.entry(position).cloned() {
                self.index(&entry);
            }
        }
    }

    /// Keeps positions up to `position`, drops the rest.
    fn truncate(&mut self, position: u64) {
        let keep = usize::try_from(position.saturating_sub(self.log_base)).unwrap_or(usize::MAX);
        self.entries.truncate(keep);
        if let Some(disk) = &mut self.disk {
            disk.invalidate_after(position);
        }
    }

    /// Entries after `position` (which must be at least `log_base`).
    fn entries_after(&self, position: u64) -> Vec<LogEntry> {
        let skip = usize::try_from(position.saturating_sub(self.log_base)).unwrap_or(usize::MAX);
        let skip = skip.min(self.entries.len());
        self.entries.range(skip..).cloned().collect()
    }

    // ----- view change and state transfer ------------------------------------

    fn own_report(&self) -> ViewChangeReport {
        ViewChangeReport {
            last_normal_view: self.last_normal_view,
            executed_position: self.executed_position,
            entries: self.entries_after(self.executed_position),
            state: None,
        }
    }

    fn send_report(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        let state = self.initialized.then(|| self.package(now));
        // Not again before a large state can have arrived.
        self.report_sent = Some(now + state.as_ref().map_or(0, transfer_allowance_us));
        let msg = GroupMessage::DoViewChange {
            group: self.config.group,
            view_id: self.view.view_id,
            last_normal_view: self.last_normal_view.filter(|_| self.initialized),
            executed_position: self.executed_position,
            entries: self.entries_after(self.executed_position),
            state: state.map(Box::new),
        };
        out.push(GroupOutput::Send {
            to: self.view.members[0],
            msg,
        });
    }

    /// The state at `executed_position`, for a state transfer.
    fn package(&self, now: Micros) -> ReplicaState {
        let (clients, departed) = self.clients.to_parts();
        ReplicaState {
            position: self.executed_position,
            snapshot: self.app.snapshot(),
            clients,
            departed,
            nested_calls: self
                .calls
                .iter()
                .map(|(call, p)| NestedCall {
                    call: *call,
                    target: p.target.clone(),
                    payload: p.payload.clone(),
                    remaining_us: p.deadline.saturating_sub(now),
                })
                .collect(),
            timers: self
                .timers
                .iter()
                .map(|(t, at)| (*t, at.saturating_sub(now)))
                .collect(),
        }
    }

    fn restore(&mut self, now: Micros, state: ReplicaState, entries: Vec<LogEntry>) -> bool {
        let fits = state.position.checked_add(entries.len() as u64).is_some();
        if !fits || self.app.restore(&state.snapshot).is_err() {
            self.dropped_messages += 1;
            return false;
        }
        // The application was replaced: what it was running is gone with it.
        self.running = None;
        if let Some(disk) = &mut self.disk {
            // Only the disk's snapshot (a committed state) still holds.
            disk.invalidate_after(0);
        }
        self.log_base = state.position;
        self.entries = entries.into();
        self.executed_position = state.position;
        self.commit_position = state.position;
        self.clients = ClientTable::from_parts(state.clients, state.departed);
        self.calls = state
            .nested_calls
            .into_iter()
            .map(|c| {
                let deadline = now.saturating_add(c.remaining_us);
                (c.call, PendingCall::new(c.target, c.payload, deadline))
            })
            .collect();
        self.timers = state
            .timers
            .into_iter()
            .map(|(t, left)| (t, now.saturating_add(left)))
            .collect();
        self.initialized = true;
        true
    }

    /// New sequencer: once every surviving member reported, adopt the longest log of
    /// the highest normal view and start the view.
    fn try_start_view(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.status != ReplicaStatus::ViewChange || !self.is_sequencer() {
            return;
        }
        let me = self.config.me;
        let survivors_reported = self
            .view
            .members
            .iter()
            .filter(|m| !self.view.joining.contains(m))
            .all(|m| self.reports.contains_key(m));
        if !survivors_reported {
            return;
        }
        if self.initialized && !self.reports.contains_key(&me) {
            // A fresh sequencer of the group's first view.
            let own = self.own_report();
            self.reports.insert(me, own);
        }
        let mut chosen: Option<(ReplicaId, (Option<u64>, u64))> = None;
        for (id, report) in &self.reports {
            let holds = if *id == me {
                self.initialized
            } else {
                report.holds_state()
            };
            if !holds {
                continue;
            }
            let key = (report.last_normal_view, report.log_end());
            let better = match chosen {
                None => true,
                Some((best_id, best_key)) => adopt_before(key, *id == me, best_key, best_id == me),
            };
            #[cfg(feature = "planted-bugs")]
            let better = if self.config.bugs.view_change_adopts_shorter {
                let shorter = |id: &ReplicaId| {
                    self.reports
                        .get(id)
                        .map(|r| (r.log_end(), r.executed_position))
                };
                chosen.is_none_or(|(best_id, _)| shorter(id) < shorter(&best_id))
            } else {
                better
            };
            if better {
                chosen = Some((*id, key));
            }
        }
        let Some((chosen_id, _)) = chosen else {
            // No surviving member holds the state: the view service should have marked
            // the group failed. Never invent a state.
            self.stuck = true;
            return;
        };
        let revived = std::mem::take(&mut self.revived_up_to);
        let committed = self
            .reports
            .values()
            .filter(|r| r.holds_state())
            .map(|r| r.executed_position)
            .fold(self.started_position().max(revived), u64::max);
        if chosen_id != me {
            let Some(report) = self.reports.get(&chosen_id).cloned() else {
                return;
            };
            #[cfg(feature = "planted-bugs")]
            let rolls_back = self.config.bugs.view_change_adopts_shorter;
            #[cfg(not(feature = "planted-bugs"))]
            let rolls_back = false;
            let keeps_own = !rolls_back
                && self.initialized
                && self.executed_position >= report.executed_position
                && self.executed_position <= report.log_end();
            if keeps_own {
                let skip = usize::try_from(self.executed_position - report.executed_position)
                    .unwrap_or(usize::MAX);
                self.truncate(self.executed_position);
                self.entries.extend(report.entries.into_iter().skip(skip));
            } else if let Some(state) = report.state {
                if !self.restore(now, state, report.entries) {
                    self.stuck = true;
                    return;
                }
            } else {
                self.stuck = true;
                return;
            }
        }
        self.initialized = true;
        self.last_normal_view = Some(self.view.view_id);
        self.reindex();
        self.commit_position = committed.clamp(self.executed_position, self.log_end());
        self.status = ReplicaStatus::Starting;
        self.execute_committed(now, out);
        let members: Vec<ReplicaId> = self.other_members().collect();
        for m in &members {
            self.send_start_view(now, *m, out);
        }
        if members.is_empty() {
            self.become_normal(now, out);
        }
    }

    fn send_start_view(&mut self, now: Micros, to: ReplicaId, out: &mut Vec<GroupOutput>) {
        self.start_sent.insert(to, now);
        let suffix_from = self
            .reports
            .get(&to)
            .filter(|r| r.holds_state())
            .map(|r| r.executed_position)
            .filter(|p| *p >= self.log_base && *p <= self.executed_position);
        let (base_position, state) = match suffix_from {
            Some(position) => (position, None),
            None => {
                let mut state = self.package(now);
                // Not again before a large state can have arrived.
                self.start_sent
                    .insert(to, now + transfer_allowance_us(&state));
                #[cfg(feature = "planted-bugs")]
                if self.config.bugs.state_transfer_without_dedup {
                    state.clients.clear();
                }
                state.position = self.executed_position;
                (self.executed_position, Some(state))
            }
        };
        let msg = GroupMessage::StartView {
            group: self.config.group,
            view_id: self.view.view_id,
            base_position,
            entries: self.entries_after(base_position),
            commit_position: self.commit_position,
            state: state.map(Box::new),
        };
        out.push(GroupOutput::Send { to, msg });
    }

    fn on_start_view(
        &mut self,
        now: Micros,
        base_position: u64,
        entries: Vec<LogEntry>,
        commit_position: u64,
        state: Option<ReplicaState>,
        out: &mut Vec<GroupOutput>,
    ) {
        if self.status == ReplicaStatus::Normal {
            // A retransmission: the acknowledgement was lost.
            self.send_start_view_ok(out);
            return;
        }
        let new_end = base_position.saturating_add(entries.len() as u64);
        let suffix_fits = self.initialized
            && base_position <= self.log_end()
            && self.executed_position <= new_end;
        if suffix_fits {
            if base_position >= self.executed_position {
                self.truncate(base_position);
                self.entries.extend(entries);
            } else {
                let skip =
                    usize::try_from(self.executed_position - base_position).unwrap_or(usize::MAX);
                self.truncate(self.executed_position);
                self.entries.extend(entries.into_iter().skip(skip));
            }
        } else if let Some(state) = state {
            if state.position != base_position || !self.restore(now, state, entries) {
                self.dropped_messages += 1;
                return;
            }
        } else {
            self.dropped_messages += 1;
            return;
        }
        self.last_normal_view = Some(self.view.view_id);
        self.status = ReplicaStatus::Normal;
        self.answer_ready_waiters(out);
        self.reindex();
        self.learn_commit(now, commit_position, out);
        self.send_start_view_ok(out);
    }

    /// The view is normal here: every host that probed meanwhile hears so.
    fn answer_ready_waiters(&mut self, out: &mut Vec<GroupOutput>) {
        debug_assert_eq!(self.status, ReplicaStatus::Normal);
        for to in std::mem::take(&mut self.ready_waiters) {
            let msg = GroupMessage::Ready {
                group: self.config.group,
                view_id: self.view.view_id,
            };
            out.push(GroupOutput::SendHost { to, msg });
        }
    }

    fn send_start_view_ok(&mut self, out: &mut Vec<GroupOutput>) {
        let msg = GroupMessage::StartViewOk {
            group: self.config.group,
            view_id: self.view.view_id,
            position: self.log_end(),
        };
        out.push(GroupOutput::Send {
            to: self.view.members[0],
            msg,
        });
    }

    /// Sequencer: every member acknowledged `StartView`.
    fn become_normal(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        self.status = ReplicaStatus::Normal;
        self.answer_ready_waiters(out);
        let acks = std::mem::take(&mut self.start_acks);
        for m in self.other_members().collect::<Vec<_>>() {
            let held = acks.get(&m).copied().unwrap_or(0);
            let progress = Progress {
                held,
                executed: 0,
                sent_up_to: held,
                heard_at: now,
                retransmitted_at: None,
            };
            self.progress.insert(m, progress);
        }
        self.advance_commit(now, out);
        // Re-issue outstanding nested calls and re-arm timers: the previous sequencer
        // may have died before their outcome was ordered.
        let calls: Vec<NestedCallId> = self
            .calls
            .keys()
            .filter(|c| !self.calls_in_log.contains(c))
            .copied()
            .collect();
        for call in calls {
            self.send_call(now, call, out);
        }
        if let Some(at) = self.timers.values().min() {
            out.push(GroupOutput::SetTimer { at: (*at).max(now) });
        }
    }

    fn arm_tick(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.next_tick.is_none() && !self.view.failed {
            let at = now + self.config.retry_us;
            self.next_tick = Some(at);
            out.push(GroupOutput::SetTimer { at });
        }
    }

    /// The last position given to the application: executed, or running.
    fn started_position(&self) -> u64 {
        self.running
            .as_ref()
            .map_or(self.executed_position, |r| r.position)
    }

    /// Closes (or opens) the commit gate of a durable group's replica: while
    /// closed, the sequencer orders and sends but commits nothing. Its host
    /// keeps it closed while some member of the view is not yet counted as
    /// a state holder by the view service.
    pub fn set_commit_gate(&mut self, gated: bool, now: Micros, out: &mut Vec<GroupOutput>) {
        let opened = self.commit_gated && !gated;
        self.commit_gated = gated;
        if opened {
            self.advance_commit(now, out);
            self.finish_step(now, out);
        }
    }

    /// A durable replica: what its disk holds (everything persisted so far,
    /// which its driver syncs before anything leaves) — always the disk's
    /// description, and, once the replica holds the state, the copy a later
    /// incarnation on this host can start from.
    pub fn durable_copy(&self, now: Micros) -> Option<(DiskMirror, Option<DurableCopy>)> {
        let disk = self.disk.clone()?;
        let copy = self.initialized.then(|| DurableCopy {
            state: Some(self.package(now)),
            entries: self.entries_after(self.executed_position),
        });
        Some((disk, copy))
    }

    /// The end of every step: a durable replica's disk is brought in line
    /// with its log (the host puts these operations before the step's sends),
    /// then the invariants are checked.
    fn finish_step(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.initialized {
            if let Some(mut disk) = self.disk.take() {
                let mut ops = Vec::new();
                disk.persist(
                    self.log_base,
                    self.executed_position,
                    &self.entries,
                    || self.package(now),
                    &mut ops,
                );
                #[cfg(feature = "planted-bugs")]
                if self.config.bugs.durable_log_not_persisted {
                    ops.retain(|op| !matches!(op, crate::storage::StorageOp::Append(_)));
                }
                out.extend(ops.into_iter().map(GroupOutput::Persist));
                self.disk = Some(disk);
            }
        }
        self.check_invariants();
    }

    fn check_invariants(&self) {
        debug_assert!(self.log_base <= self.executed_position);
        debug_assert!(self.started_position() <= self.commit_position);
        debug_assert!(self
            .running
            .as_ref()
            .is_none_or(|r| r.position == self.executed_position + 1));
        debug_assert!(self.executed_position <= self.commit_position);
        debug_assert!(self.commit_position <= self.log_end());
        debug_assert!(self.status != ReplicaStatus::Normal || self.initialized);
        debug_assert!(self.requests_in_log.len() as u64 <= self.log_end() - self.executed_position);
        debug_assert!(self.calls_in_log.len() as u64 <= self.log_end() - self.executed_position);
        if self.is_sequencer() && self.status == ReplicaStatus::Normal {
            debug_assert_eq!(self.progress.len() + 1, self.view.members.len());
            debug_assert!(self.progress.values().all(|p| p.held <= self.log_end()));
            debug_assert!(self
                .progress
                .values()
                .all(|p| p.held >= self.commit_position || cfg!(feature = "planted-bugs")));
        }
    }
}

/// Does a report with `key` (last normal view, log end) win over the current best?
/// Highest normal view first, then the longest log; on a tie the sequencer's own log
/// (no state to copy), then the first reporter.
fn adopt_before(
    key: (Option<u64>, u64),
    mine: bool,
    best: (Option<u64>, u64),
    best_mine: bool,
) -> bool {
    key > best || (key == best && mine && !best_mine)
}

/// Extra time before a message carrying `state` is sent again: a state of
/// more than 1 MiB is given a microsecond per 64 bytes beyond it (a transfer
/// at 64 MB/s), so retransmissions do not repackage and resend a large state
/// faster than it can travel. Smaller states get none.
fn transfer_allowance_us(state: &ReplicaState) -> Micros {
    const FREE_BYTES: usize = 1 << 20;
    const BYTES_PER_US: usize = 64;
    (state.snapshot.len().saturating_sub(FREE_BYTES) / BYTES_PER_US) as Micros
}
