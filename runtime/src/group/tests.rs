//! Engine tests of the group protocol: exact events in, exact outputs out.

use super::*;
use crate::app::{
    AppInput, AppOutput, AppTimerId, CallOutcome, NestedCallId, RestoreError, StateMachine,
};
use crate::host::Trace;
use crate::types::{GroupView, HostId, Incarnation, Model, ServerSpec};
use std::collections::{BTreeSet, VecDeque};

const GROUP: GroupId = GroupId(1);
const CALLEE: GroupId = GroupId(2);
const RETRY_US: Micros = 1_000;
const DEADLINE_US: Micros = 100_000;

/// A counter: `inc` adds one and replies the new value; `call` calls [`CALLEE`] and
/// replies its answer once it is ordered; `arm` arms timer 1 and replies at its firing.
#[derive(Default)]
struct Counter {
    value: u64,
    next_call: u64,
    /// Nested call → the request waiting for it.
    waiting: BTreeMap<u64, RequestId>,
    waiting_timer: Option<RequestId>,
}

impl StateMachine for Counter {
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
        match input {
            AppInput::Command { request, payload } => match payload {
                b"inc" => {
                    self.value += 1;
                    let payload = self.value.to_string().into_bytes();
                    out.push(AppOutput::Reply { request, payload });
                }
                b"call" => {
                    self.next_call += 1;
                    self.waiting.insert(self.next_call, request);
                    out.push(AppOutput::Call {
                        call: NestedCallId(self.next_call),
                        group: CALLEE,
                        payload: b"inc".to_vec(),
                    });
                }
                b"start" => {
                    self.next_call += 1;
                    self.waiting.insert(self.next_call, request);
                    out.push(AppOutput::StartServer {
                        call: NestedCallId(self.next_call),
                        spec: spec(),
                    });
                }
                b"arm" => {
                    self.waiting_timer = Some(request);
                    out.push(AppOutput::ArmTimer {
                        timer: AppTimerId(1),
                        after: 5_000,
                    });
                }
                _ => {}
            },
            AppInput::NestedReply { call, outcome } => {
                if let Some(request) = self.waiting.remove(&call.0) {
                    let payload = match outcome {
                        CallOutcome::Reply(p) => p.clone(),
                        CallOutcome::ServerFailure(_) => b"failed".to_vec(),
                    };
                    out.push(AppOutput::Reply { request, payload });
                }
            }
            AppInput::TimerFired { .. } => {
                if let Some(request) = self.waiting_timer.take() {
                    out.push(AppOutput::Reply {
                        request,
                        payload: b"fired".to_vec(),
                    });
                }
            }
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(self.value.to_le_bytes());
        bytes.extend(self.next_call.to_le_bytes());
        bytes
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        let word = |i: usize| {
            snapshot
                .get(i * 8..i * 8 + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .ok_or_else(|| RestoreError("short snapshot".into()))
        };
        self.value = word(0)?;
        self.next_call = word(1)?;
        Ok(())
    }

    fn digest(&self) -> u64 {
        self.value * 1_000 + self.next_call
    }
}

fn replica_id(host: u32) -> ReplicaId {
    ReplicaId {
        host: HostId(host),
        incarnation: Incarnation(1),
    }
}

fn client(local: u32) -> ClientId {
    ClientId::Host {
        host: HostId(9),
        incarnation: Incarnation(1),
        local,
    }
}

fn spec() -> ServerSpec {
    ServerSpec {
        class: "counter".into(),
        model: Model::Crash,
        tolerate: 2,
        replicas: 3,
        hosts: vec![],
        disjoint_key: None,
        priority: 0,
        durable: None,
    }
}

fn view(view_id: u64, members: &[u32], joining: &[u32]) -> GroupView {
    GroupView {
        group: GROUP,
        view_id,
        members: members.iter().map(|h| replica_id(*h)).collect(),
        joining: joining.iter().map(|h| replica_id(*h)).collect(),
        spec: spec(),
        failed: false,
    }
}

pub(super) fn config_for(host: u32, retry_us: Micros) -> ReplicaConfig {
    ReplicaConfig {
        retry_us,
        ..config(host)
    }
}

pub(super) fn counter() -> Box<dyn StateMachine> {
    Box::<Counter>::default()
}

pub(super) fn view_of(view_id: u64, members: &[u32], joining: &[u32]) -> GroupView {
    view(view_id, members, joining)
}

fn config(host: u32) -> ReplicaConfig {
    ReplicaConfig {
        group: GROUP,
        me: replica_id(host),
        retry_us: RETRY_US,
        call_deadline_us: DEADLINE_US,
        #[cfg(feature = "planted-bugs")]
        bugs: Default::default(),
    }
}

fn request(local: u32, seq: u64, payload: &[u8]) -> GroupMessage {
    GroupMessage::Request {
        group: GROUP,
        request: RequestId {
            client: client(local),
            seq,
        },
        payload: payload.to_vec(),
        low_water: 1,
    }
}

fn command(local: u32, seq: u64, payload: &[u8]) -> LogEntry {
    LogEntry::Command {
        request: RequestId {
            client: client(local),
            seq,
        },
        payload: payload.to_vec(),
        low_water: 1,
    }
}

fn reply(local: u32, seq: u64, payload: &[u8]) -> GroupOutput {
    let request = RequestId {
        client: client(local),
        seq,
    };
    GroupOutput::Reply {
        client: request.client,
        msg: GroupMessage::Reply {
            group: GROUP,
            request,
            payload: payload.to_vec(),
        },
    }
}

fn executed(replica: u32, position: u64, entry: &LogEntry, state_digest: u64) -> GroupOutput {
    GroupOutput::Trace(Trace::Executed {
        group: GROUP,
        replica: replica_id(replica),
        position,
        request: entry.request(),
        entry_digest: entry.digest(),
        state_digest,
    })
}

fn send(to: u32, msg: GroupMessage) -> GroupOutput {
    GroupOutput::Send {
        to: replica_id(to),
        msg,
    }
}

fn prepare(
    view_id: u64,
    first_position: u64,
    entries: Vec<LogEntry>,
    commit_position: u64,
) -> GroupMessage {
    GroupMessage::Prepare {
        group: GROUP,
        view_id,
        first_position,
        entries,
        commit_position,
    }
}

fn prepare_ok(view_id: u64, position: u64, executed_position: u64) -> GroupMessage {
    GroupMessage::PrepareOk {
        group: GROUP,
        view_id,
        position,
        executed_position,
    }
}

fn commit(view_id: u64, commit_position: u64) -> GroupMessage {
    GroupMessage::Commit {
        group: GROUP,
        view_id,
        commit_position,
    }
}

/// The replicas of one group, wired by a message pump the test controls.
struct Cluster {
    now: Micros,
    replicas: BTreeMap<u32, Replica>,
    /// In flight: (from, to, message).
    queue: VecDeque<(u32, u32, GroupMessage)>,
    /// Hosts whose messages (both ways) are dropped.
    cut: BTreeSet<u32>,
    /// (replica, position, entry digest, state digest, request) in execution order.
    executed: Vec<(u32, u64, u64, u64, Option<RequestId>)>,
    replies: Vec<(u32, GroupMessage)>,
    calls: Vec<(u32, GroupMessage)>,
    /// Starts asked of the view service: by which host, for which call.
    starts: Vec<(u32, NestedCallId)>,
}

impl Cluster {
    fn new() -> Cluster {
        Cluster {
            now: 0,
            replicas: BTreeMap::new(),
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
            executed: Vec::new(),
            replies: Vec::new(),
            calls: Vec::new(),
            starts: Vec::new(),
        }
    }

    /// Three replicas 0, 1, 2 in view 1, started and normal.
    fn booted() -> Cluster {
        let mut cluster = Cluster::new();
        let first = view(1, &[0, 1, 2], &[0, 1, 2]);
        for host in 0..3 {
            cluster.create(host, first.clone(), true);
        }
        cluster.run();
        for host in 0..3 {
            assert_eq!(cluster.replicas[&host].status(), ReplicaStatus::Normal);
        }
        cluster
    }

    fn create(&mut self, host: u32, view: GroupView, fresh: bool) {
        let mut out = Vec::new();
        let replica = Replica::new(
            self.now,
            config(host),
            Box::<Counter>::default(),
            view,
            fresh,
            &mut out,
        );
        self.replicas.insert(host, replica);
        self.absorb(host, out);
    }

    fn install(&mut self, view: &GroupView) {
        let hosts: Vec<u32> = self.replicas.keys().copied().collect();
        for host in hosts {
            if self.cut.contains(&host) {
                continue;
            }
            let mut out = Vec::new();
            if let Some(r) = self.replicas.get_mut(&host) {
                r.on_view(self.now, view.clone(), &mut out);
            }
            self.absorb(host, out);
        }
    }

    fn absorb(&mut self, host: u32, out: Vec<GroupOutput>) {
        for o in out {
            match o {
                GroupOutput::Send { to, msg } => self.queue.push_back((host, to.host.0, msg)),
                GroupOutput::Reply { msg, .. } | GroupOutput::SendHost { msg, .. } => {
                    self.replies.push((host, msg))
                }
                GroupOutput::Call { msg, .. } => self.calls.push((host, msg)),
                GroupOutput::StartServer { call, .. } => self.starts.push((host, call)),
                GroupOutput::SetTimer { .. } => {}
                GroupOutput::Trace(Trace::Executed {
                    position,
                    request,
                    entry_digest,
                    state_digest,
                    ..
                }) => self
                    .executed
                    .push((host, position, entry_digest, state_digest, request)),
                GroupOutput::Trace(_) => {}
                GroupOutput::Persist(_) => unreachable!("no durable replicas in these tests"),
            }
        }
    }

    fn deliver(&mut self, from: u32, to: u32, msg: GroupMessage) {
        if self.cut.contains(&from) || self.cut.contains(&to) {
            return;
        }
        let mut out = Vec::new();
        if let Some(r) = self.replicas.get_mut(&to) {
            r.on_message(self.now, replica_id(from), msg, &mut out);
        }
        self.absorb(to, out);
    }

    /// Delivers everything in flight (and what that sends), in order.
    fn run(&mut self) {
        let mut steps = 0;
        while let Some((from, to, msg)) = self.queue.pop_front() {
            self.deliver(from, to, msg);
            steps += 1;
            assert!(steps < 10_000, "message storm");
        }
    }

    /// Advances time by one retransmission period and ticks every replica.
    fn tick(&mut self) {
        self.now += RETRY_US;
        let hosts: Vec<u32> = self.replicas.keys().copied().collect();
        for host in hosts {
            if self.cut.contains(&host) {
                continue;
            }
            let mut out = Vec::new();
            if let Some(r) = self.replicas.get_mut(&host) {
                r.on_tick(self.now, &mut out);
            }
            self.absorb(host, out);
        }
    }

    fn client_request(&mut self, to: u32, msg: GroupMessage) {
        let mut out = Vec::new();
        let from = ReplicaId {
            host: HostId(9),
            incarnation: Incarnation(1),
        };
        if let Some(r) = self.replicas.get_mut(&to) {
            r.on_message(self.now, from, msg, &mut out);
        }
        self.absorb(to, out);
    }

    /// The sequence of entry digests replica `host` executed, by position.
    fn sequence(&self, host: u32) -> Vec<(u64, u64, u64)> {
        self.executed
            .iter()
            .filter(|e| e.0 == host)
            .map(|e| (e.1, e.2, e.3))
            .collect()
    }

    fn replies_to(&self, local: u32, seq: u64) -> Vec<Vec<u8>> {
        self.replies
            .iter()
            .filter_map(|(_, m)| match m {
                GroupMessage::Reply {
                    request, payload, ..
                } if request.client == client(local) && request.seq == seq => Some(payload.clone()),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn normal_path_prepare_ok_commit_reply() {
    let mut c = Cluster::booted();
    let r0 = c.replicas.get_mut(&0).unwrap();
    let mut out = Vec::new();
    r0.on_message(0, replica_id(9), request(0, 1, b"inc"), &mut out);
    let entry = command(0, 1, b"inc");
    assert_eq!(
        out,
        vec![
            send(1, prepare(1, 1, vec![entry.clone()], 0)),
            send(2, prepare(1, 1, vec![entry.clone()], 0)),
        ]
    );

    let r1 = c.replicas.get_mut(&1).unwrap();
    out.clear();
    r1.on_message(
        0,
        replica_id(0),
        prepare(1, 1, vec![entry.clone()], 0),
        &mut out,
    );
    assert_eq!(out, vec![send(0, prepare_ok(1, 1, 0))]);

    // Not every member holds it yet: nothing executes, nobody is answered.
    let r0 = c.replicas.get_mut(&0).unwrap();
    out.clear();
    r0.on_message(0, replica_id(1), prepare_ok(1, 1, 0), &mut out);
    assert_eq!(out, vec![]);

    out.clear();
    r0.on_message(0, replica_id(2), prepare_ok(1, 1, 0), &mut out);
    assert_eq!(
        out,
        vec![
            executed(0, 1, &entry, 1000),
            reply(0, 1, b"1"),
            send(1, commit(1, 1)),
            send(2, commit(1, 1)),
        ]
    );

    let r1 = c.replicas.get_mut(&1).unwrap();
    out.clear();
    r1.on_message(0, replica_id(0), commit(1, 1), &mut out);
    assert_eq!(
        out,
        vec![executed(1, 1, &entry, 1000), send(0, prepare_ok(1, 1, 1))]
    );
}

#[test]
fn pipelined_requests_and_batched_retransmission() {
    let mut c = Cluster::booted();
    let r0 = c.replicas.get_mut(&0).unwrap();
    let mut out = Vec::new();
    r0.on_message(0, replica_id(9), request(0, 1, b"inc"), &mut out);
    r0.on_message(0, replica_id(9), request(1, 1, b"inc"), &mut out);
    // Two positions outstanding at once, one Prepare each.
    assert_eq!(out.len(), 4);
    // Member 2 lost both Prepares: a cumulative PrepareOk from member 1 commits nothing;
    // the next tick resends both positions to member 2 in one Prepare.
    out.clear();
    r0.on_message(0, replica_id(1), prepare_ok(1, 2, 0), &mut out);
    assert_eq!(out, vec![]);
    r0.on_tick(RETRY_US, &mut out);
    assert_eq!(
        out,
        vec![
            send(
                2,
                prepare(1, 1, vec![command(0, 1, b"inc"), command(1, 1, b"inc")], 0)
            ),
            GroupOutput::SetTimer { at: 2 * RETRY_US },
        ]
    );
}

/// Hands the messages in flight to `deliver` or drops them.
fn deliver_only(c: &mut Cluster, keep: impl Fn(u32, u32, &GroupMessage) -> bool) {
    let in_flight: Vec<_> = c.queue.drain(..).collect();
    for (from, to, msg) in in_flight {
        if keep(from, to, &msg) {
            c.deliver(from, to, msg);
        }
    }
}

#[test]
fn retried_request_is_answered_from_the_reply_table() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"inc"));
    c.run();
    assert_eq!(c.replies_to(0, 1), vec![b"1".to_vec()]);
    let executions = c.executed.len();

    // Executed: the sequencer resends the cached reply and orders nothing.
    let mut out = Vec::new();
    let r0 = c.replicas.get_mut(&0).unwrap();
    r0.on_message(c.now, replica_id(9), request(0, 1, b"inc"), &mut out);
    assert_eq!(out, vec![reply(0, 1, b"1")]);

    // A backup answers a retransmission from its own table too (a byzantine
    // server's client asks every member), but never orders a new request.
    out.clear();
    let r1 = c.replicas.get_mut(&1).unwrap();
    r1.on_message(c.now, replica_id(9), request(0, 1, b"inc"), &mut out);
    assert_eq!(out, vec![reply(0, 1, b"1")]);
    out.clear();
    r1.on_message(c.now, replica_id(9), request(0, 7, b"inc"), &mut out);
    assert_eq!(out, vec![]);
    assert_eq!(c.executed.len(), executions);

    // Every running member says it is ready.
    for host in 0..3 {
        out.clear();
        let r = c.replicas.get_mut(&host).unwrap();
        let probe = GroupMessage::ReadyProbe { group: GroupId(1) };
        r.on_message(c.now, replica_id(9), probe, &mut out);
        assert_eq!(out.len(), 1, "member {host} answers the probe");
    }

    // Ordered but not yet executed (member 2 is unreachable): a retry is ignored.
    c.cut.insert(2);
    c.client_request(0, request(0, 2, b"inc"));
    c.run();
    let r0 = c.replicas.get_mut(&0).unwrap();
    out.clear();
    r0.on_message(c.now, replica_id(9), request(0, 2, b"inc"), &mut out);
    assert_eq!(out, vec![]);
    assert_eq!(c.executed.len(), executions);
    assert!(c.replies_to(0, 2).is_empty());
}

/// A starter probes a new server as soon as its host learned the view,
/// usually before the backups acknowledged it: the sequencer answers when
/// the view becomes normal, not at the probe's retransmission.
#[test]
fn a_probe_before_the_view_is_normal_is_answered_when_it_is() {
    let mut c = Cluster::new();
    let first = view(1, &[0, 1, 2], &[0, 1, 2]);
    for host in 0..3 {
        c.create(host, first.clone(), true);
    }
    assert_ne!(c.replicas[&0].status(), ReplicaStatus::Normal);
    let mut out = Vec::new();
    let probe = GroupMessage::ReadyProbe { group: GroupId(1) };
    let r0 = c.replicas.get_mut(&0).unwrap();
    r0.on_message(c.now, replica_id(9), probe.clone(), &mut out);
    r0.on_message(c.now, replica_id(9), probe, &mut out);
    assert_eq!(out, vec![], "not normal yet: no answer");
    c.run();
    assert_eq!(c.replicas[&0].status(), ReplicaStatus::Normal);
    let ready = GroupMessage::Ready {
        group: GroupId(1),
        view_id: 1,
    };
    let answers: Vec<_> = c
        .replies
        .iter()
        .filter(|(h, m)| *h == 0 && *m == ready)
        .collect();
    assert_eq!(
        answers.len(),
        1,
        "answered once when normal: {:?}",
        c.replies
    );
}

#[test]
fn low_water_mark_forgets_replies_everywhere() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"inc"));
    c.run();
    let mut second = request(0, 2, b"inc");
    if let GroupMessage::Request { low_water, .. } = &mut second {
        *low_water = 2;
    }
    c.client_request(0, second);
    c.run();
    // Request 1 is below the client's low-water mark now: a late copy is dropped,
    // neither answered nor executed again.
    let mut out = Vec::new();
    let r0 = c.replicas.get_mut(&0).unwrap();
    r0.on_message(c.now, replica_id(9), request(0, 1, b"inc"), &mut out);
    assert_eq!(out, vec![]);
    assert_eq!(c.replicas[&0].executed_position(), 2);
}

/// Sequencer 0 commits A, then orders B, which reaches member 1 only, and crashes.
fn crash_sequencer_mid_burst() -> Cluster {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"inc"));
    c.run();
    c.client_request(0, request(1, 1, b"inc"));
    deliver_only(&mut c, |_, to, _| to == 1);
    // Member 1's acknowledgement never arrives: 0 crashed.
    c.queue.clear();
    c.cut.insert(0);
    c
}

#[test]
fn sequencer_crash_flushes_the_same_prefix_everywhere() {
    let mut c = crash_sequencer_mid_burst();
    assert_eq!(c.replicas[&1].log_end(), 2);
    assert_eq!(c.replicas[&2].log_end(), 1);

    let second = view(2, &[1, 2], &[]);
    c.install(&second);
    // Member 2 reports to the new sequencer; nothing else happens before that.
    let reports: Vec<_> = c
        .queue
        .iter()
        .map(|(f, t, m)| (*f, *t, m.clone()))
        .collect();
    assert_eq!(
        reports,
        vec![(
            2,
            1,
            GroupMessage::DoViewChange {
                group: GROUP,
                view_id: 2,
                last_normal_view: Some(1),
                executed_position: 1,
                entries: vec![],
                state: Some(Box::new(ReplicaState {
                    position: 1,
                    snapshot: Counter {
                        value: 1,
                        ..Default::default()
                    }
                    .snapshot(),
                    clients: vec![(
                        client(0),
                        ClientRecord {
                            forgotten_below: 1,
                            executed: [(1, Some(b"1".to_vec()))].into_iter().collect(),
                        }
                    )],
                    departed: Default::default(),
                    nested_calls: vec![],
                    timers: vec![],
                })),
            }
        )]
    );
    c.run();
    for host in [1, 2] {
        assert_eq!(c.replicas[&host].status(), ReplicaStatus::Normal);
        assert_eq!(c.replicas[&host].executed_position(), 2);
    }
    // The acknowledged command A (position 1) survived; B, held by a survivor, was
    // flushed and executed at position 2 by both, with equal states.
    assert_eq!(c.sequence(1), c.sequence(2));
    assert_eq!(c.sequence(1)[..1], c.sequence(0)[..]);
    assert_eq!(c.replies_to(1, 1), vec![b"2".to_vec()]);
    // B's client retries at the new sequencer: answered from the table.
    let executions = c.executed.len();
    c.client_request(1, request(1, 1, b"inc"));
    c.run();
    assert_eq!(c.executed.len(), executions);
    assert_eq!(c.replies_to(1, 1).len(), 2);
}

#[test]
fn partitioned_old_sequencer_never_replies() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"inc"));
    c.run();
    // 0 is cut off; the others move to view 2 without it.
    c.cut.insert(0);
    c.install(&view(2, &[1, 2], &[]));
    c.run();
    assert_eq!(c.replicas[&1].status(), ReplicaStatus::Normal);
    // The partition heals for messages, but 0 has not learned view 2: its Prepares
    // are of view 1, which the members drop, so it never commits or replies.
    c.cut.clear();
    c.client_request(0, request(0, 2, b"inc"));
    for _ in 0..5 {
        c.run();
        c.tick();
    }
    c.run();
    assert_eq!(c.replicas[&0].executed_position(), 1);
    assert_eq!(c.replicas[&0].commit_position(), 1);
    assert!(c.replies_to(0, 2).is_empty());
    assert!(c.replicas[&1].dropped_messages() > 0);
    // The request retried at the real sequencer executes once.
    c.client_request(1, request(0, 2, b"inc"));
    c.run();
    assert_eq!(c.replies_to(0, 2), vec![b"2".to_vec()]);
}

#[test]
fn state_transfer_carries_snapshot_and_duplicate_table() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"inc"));
    c.run();
    c.client_request(0, request(0, 2, b"inc"));
    c.run();
    // Member 2 crashes; 3 is recruited.
    c.cut.insert(2);
    let second = view(2, &[0, 1, 3], &[3]);
    c.create(3, second.clone(), false);
    c.install(&second);
    c.run();
    let r3 = &c.replicas[&3];
    assert_eq!(r3.status(), ReplicaStatus::Normal);
    assert_eq!(r3.executed_position(), 2);
    assert_eq!(r3.state_digest(), c.replicas[&0].state_digest());
    assert!(
        c.sequence(3).is_empty(),
        "the joiner restored, it did not re-execute"
    );

    // Later commands run everywhere, the joiner included, with equal digests.
    c.client_request(0, request(0, 3, b"inc"));
    c.run();
    assert_eq!(c.sequence(3), c.sequence(0)[2..].to_vec());

    // The old members crash one after the other; the joiner becomes sequencer and
    // answers a retry of an old request from the transferred table.
    c.cut.insert(0);
    c.install(&view(3, &[3, 1], &[]));
    c.run();
    assert_eq!(c.replicas[&3].status(), ReplicaStatus::Normal);
    let executions = c.executed.len();
    let mut out = Vec::new();
    let r3 = c.replicas.get_mut(&3).unwrap();
    r3.on_message(c.now, replica_id(9), request(0, 2, b"inc"), &mut out);
    assert_eq!(out, vec![reply(0, 2, b"2")]);
    assert_eq!(c.executed.len(), executions);
}

fn request_from(client: ClientId, seq: u64) -> GroupMessage {
    GroupMessage::Request {
        group: GROUP,
        request: RequestId { client, seq },
        payload: b"inc".to_vec(),
        low_water: 1,
    }
}

/// A departed client is forgotten through the log: only the sequencer orders
/// it, for the clients `gone` (the view service, as its host knows it) names;
/// every replica drops the record at the same position and refuses the
/// client's requests from then on — a late copy of an executed one is not
/// executed again — and a recruit's transferred table keeps the mark.
#[test]
fn departed_clients_are_forgotten_through_the_log_and_stay_refused() {
    let mut c = Cluster::booted();
    let old = ClientId::Host {
        host: HostId(9),
        incarnation: Incarnation(1),
        local: 0,
    };
    let new = ClientId::Host {
        host: HostId(9),
        incarnation: Incarnation(5),
        local: 0,
    };
    c.client_request(0, request_from(old, 1));
    c.client_request(0, request_from(new, 1));
    c.run();
    let gone = |client: ClientId| matches!(client, ClientId::Host { incarnation, .. } if incarnation < Incarnation(5));
    let mut out = Vec::new();
    let r1 = c.replicas.get_mut(&1).unwrap();
    r1.on_departures(c.now, &gone, &mut out);
    assert_eq!(out, vec![], "a backup orders nothing");
    let r0 = c.replicas.get_mut(&0).unwrap();
    r0.on_departures(c.now, &gone, &mut out);
    c.absorb(0, std::mem::take(&mut out));
    c.run();
    let departed = LogEntry::Departed { clients: vec![old] };
    for host in 0..3 {
        assert!(
            c.sequence(host)
                .contains(&(3, departed.digest(), c.replicas[&0].state_digest())),
            "member {host} forgot the client at position 3"
        );
    }
    let r0 = c.replicas.get_mut(&0).unwrap();
    r0.on_departures(c.now, &gone, &mut out);
    assert_eq!(out, vec![], "nothing left to forget");

    let executions = c.executed.len();
    for host in 0..3 {
        let r = c.replicas.get_mut(&host).unwrap();
        r.on_message(c.now, replica_id(9), request_from(old, 1), &mut out);
        assert_eq!(
            out,
            vec![],
            "member {host} neither answers nor orders a late copy"
        );
    }
    c.client_request(0, request_from(old, 2));
    c.run();
    assert_eq!(
        c.executed.len(),
        executions,
        "a departed client's request is refused"
    );
    c.client_request(0, request_from(new, 2));
    c.run();
    assert_eq!(c.executed.len(), executions + 3, "a live client is served");

    // Member 2 crashes, 3 is recruited; then 0 crashes and 3 is sequencer.
    c.cut.insert(2);
    let second = view(2, &[0, 1, 3], &[3]);
    c.create(3, second.clone(), false);
    c.install(&second);
    c.run();
    c.cut.insert(0);
    c.install(&view(3, &[3, 1], &[]));
    c.run();
    let executions = c.executed.len();
    let r3 = c.replicas.get_mut(&3).unwrap();
    r3.on_message(c.now, replica_id(9), request_from(old, 1), &mut out);
    c.absorb(3, out);
    c.run();
    assert_eq!(c.executed.len(), executions, "the recruit refuses it too");
}

#[test]
fn nested_call_reply_is_ordered_through_the_log() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"call"));
    c.run();
    // Every replica executed the command; only the sequencer calls.
    assert_eq!(c.executed.len(), 3);
    let nested = GroupMessage::Request {
        group: CALLEE,
        request: RequestId {
            client: ClientId::Group(GROUP),
            seq: 1,
        },
        payload: b"inc".to_vec(),
        // The lowest call still outstanding to the callee: this one.
        low_water: 1,
    };
    assert_eq!(c.calls, vec![(0, nested)]);

    let callee_reply = GroupMessage::Reply {
        group: CALLEE,
        request: RequestId {
            client: ClientId::Group(GROUP),
            seq: 1,
        },
        payload: b"7".to_vec(),
    };
    // A member ignores it; the sequencer orders it.
    let mut out = Vec::new();
    let r1 = c.replicas.get_mut(&1).unwrap();
    r1.on_message(c.now, replica_id(5), callee_reply.clone(), &mut out);
    assert_eq!(out, vec![]);
    let r0 = c.replicas.get_mut(&0).unwrap();
    r0.on_message(c.now, replica_id(5), callee_reply.clone(), &mut out);
    let entry = LogEntry::NestedReply {
        call: NestedCallId(1),
        outcome: CallOutcome::Reply(b"7".to_vec()),
    };
    assert_eq!(
        out,
        vec![
            send(1, prepare(1, 2, vec![entry.clone()], 1)),
            send(2, prepare(1, 2, vec![entry], 1))
        ]
    );
    // A second copy of the reply (from another callee replica) is not ordered again.
    out.clear();
    r0.on_message(c.now, replica_id(6), callee_reply, &mut out);
    assert_eq!(out, vec![]);
    c.absorb(0, vec![]);
    c.queue.extend([
        (
            0,
            1,
            prepare(
                1,
                2,
                vec![LogEntry::NestedReply {
                    call: NestedCallId(1),
                    outcome: CallOutcome::Reply(b"7".to_vec()),
                }],
                1,
            ),
        ),
        (
            0,
            2,
            prepare(
                1,
                2,
                vec![LogEntry::NestedReply {
                    call: NestedCallId(1),
                    outcome: CallOutcome::Reply(b"7".to_vec()),
                }],
                1,
            ),
        ),
    ]);
    c.run();
    // The sequencer answers the client with the callee's reply, at position 2;
    // every replica executed it there.
    assert_eq!(c.replies_to(0, 1), vec![b"7".to_vec()]);
    assert_eq!(c.sequence(0), c.sequence(1));
    assert_eq!(c.sequence(0), c.sequence(2));
}

#[test]
fn a_callee_forgets_the_replies_to_finished_nested_calls() {
    let mut c = Cluster::booted();
    let mut callee_view = view(1, &[5], &[5]);
    callee_view.group = CALLEE;
    let mut out = Vec::new();
    let mut callee = Replica::new(
        c.now,
        ReplicaConfig {
            group: CALLEE,
            ..config(5)
        },
        counter(),
        callee_view.clone(),
        true,
        &mut out,
    );
    // 300 calls one after another: the caller's sequencer calls, the callee
    // executes and replies, the caller orders the reply and answers its client.
    for seq in 1..=300 {
        c.client_request(0, request(0, seq, b"call"));
        c.run();
        for (_, call) in std::mem::take(&mut c.calls) {
            out.clear();
            callee.on_message(c.now, replica_id(0), call, &mut out);
            for o in std::mem::take(&mut out) {
                if let GroupOutput::Reply { msg, .. } | GroupOutput::SendHost { msg, .. } = o {
                    c.queue.push_back((5, 0, msg));
                }
            }
        }
        c.run();
        assert_eq!(c.replies_to(0, seq), vec![seq.to_string().into_bytes()]);
    }
    // The callee's duplicate table, as a state transfer carries it: the caller
    // waits for nothing, so at most the last reply is kept, not all 300.
    let mut second = view(2, &[5, 6], &[6]);
    second.group = CALLEE;
    out.clear();
    callee.on_view(c.now, second, &mut out);
    let state = out
        .iter()
        .find_map(|o| match o {
            GroupOutput::Send {
                msg: GroupMessage::StartView { state: Some(s), .. },
                ..
            } => Some(s.clone()),
            _ => None,
        })
        .expect("a state transfer to the joiner");
    let record = state
        .clients
        .iter()
        .find(|(client, _)| *client == ClientId::Group(GROUP))
        .map(|(_, r)| r.clone())
        .expect("the caller's record");
    assert_eq!(record.forgotten_below, 300);
    assert_eq!(record.executed.len(), 1);
}

#[test]
fn new_sequencer_reissues_outstanding_nested_calls() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"call"));
    c.run();
    c.calls.clear();
    c.cut.insert(0);
    c.install(&view(2, &[1, 2], &[]));
    c.run();
    assert_eq!(c.calls.len(), 1);
    assert_eq!(c.calls[0].0, 1);
    // Without any reply the call fails at its deadline, ordered through the log.
    for _ in 0..(DEADLINE_US / RETRY_US + 2) {
        c.tick();
        c.run();
    }
    assert_eq!(c.replies_to(0, 1), vec![b"failed".to_vec()]);
    assert_eq!(c.sequence(1), c.sequence(2));
}

#[test]
fn a_start_is_asked_by_the_sequencer_and_decided_once_through_the_log() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"start"));
    c.run();
    // Every replica executed the command; only the sequencer asks.
    assert_eq!(c.executed.len(), 3);
    assert_eq!(c.starts, vec![(0, NestedCallId(1))]);
    // The sequencer's host crashes before the decision arrives; its
    // successor asks again (the view service answers a decided start at once).
    c.starts.clear();
    c.cut.insert(0);
    c.install(&view(2, &[1, 2], &[]));
    c.run();
    assert_eq!(c.starts, vec![(1, NestedCallId(1))]);
    // A member that is not the sequencer ignores a decision.
    let started = GroupId(9);
    let mut out = Vec::new();
    let r2 = c.replicas.get_mut(&2).unwrap();
    r2.on_start_decided(c.now, NestedCallId(1), Ok(started), &mut out);
    assert_eq!(out, vec![]);
    // The sequencer orders it; every replica gets the same group.
    let r1 = c.replicas.get_mut(&1).unwrap();
    r1.on_start_decided(c.now, NestedCallId(1), Ok(started), &mut out);
    c.absorb(1, out);
    c.run();
    let id = started.0.to_le_bytes().to_vec();
    assert_eq!(c.replies_to(0, 1), vec![id]);
    // A second decision (a retry's answer) is not ordered again.
    let executed = c.executed.len();
    let mut out = Vec::new();
    let r1 = c.replicas.get_mut(&1).unwrap();
    r1.on_start_decided(c.now, NestedCallId(1), Ok(started), &mut out);
    c.absorb(1, out);
    c.run();
    assert_eq!(c.executed.len(), executed);
    assert_eq!(c.sequence(1), c.sequence(2));
}

#[test]
fn an_undecided_start_fails_at_the_call_deadline_through_the_log() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"start"));
    c.run();
    for _ in 0..(DEADLINE_US / RETRY_US + 2) {
        c.tick();
        c.run();
    }
    // Asked again every retry interval, then failed for every replica alike.
    assert!(c.starts.len() > 10, "{} asks", c.starts.len());
    assert!(c
        .starts
        .iter()
        .all(|&(host, call)| host == 0 && call == NestedCallId(1)));
    assert_eq!(c.replies_to(0, 1), vec![b"failed".to_vec()]);
}

#[test]
fn timer_firing_is_ordered_through_the_log() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"arm"));
    c.run();
    for _ in 0..6 {
        c.tick();
        c.run();
    }
    assert_eq!(c.replies_to(0, 1), vec![b"fired".to_vec()]);
    let fired = LogEntry::TimerFired {
        timer: AppTimerId(1),
    };
    for host in 0..3 {
        assert_eq!(c.sequence(host)[1].1, fired.digest());
    }
}

#[test]
fn single_member_commits_on_append() {
    let mut c = Cluster::new();
    c.create(0, view(1, &[0], &[0]), true);
    assert_eq!(c.replicas[&0].status(), ReplicaStatus::Normal);
    let mut out = Vec::new();
    let r0 = c.replicas.get_mut(&0).unwrap();
    r0.on_message(0, replica_id(9), request(0, 1, b"inc"), &mut out);
    assert_eq!(
        out,
        vec![
            executed(0, 1, &command(0, 1, b"inc"), 1000),
            reply(0, 1, b"1")
        ]
    );
}

#[test]
fn messages_of_other_views_and_strangers_are_dropped() {
    let mut c = Cluster::booted();
    let mut out = Vec::new();
    let r1 = c.replicas.get_mut(&1).unwrap();
    // Not from the sequencer.
    r1.on_message(
        0,
        replica_id(2),
        prepare(1, 1, vec![command(0, 1, b"inc")], 0),
        &mut out,
    );
    // From the sequencer, but of another view.
    r1.on_message(
        0,
        replica_id(0),
        prepare(7, 1, vec![command(0, 1, b"inc")], 0),
        &mut out,
    );
    // Position 0 does not exist.
    r1.on_message(
        0,
        replica_id(0),
        prepare(1, 0, vec![command(0, 1, b"inc")], 0),
        &mut out,
    );
    assert_eq!(out, vec![]);
    assert_eq!(r1.log_end(), 0);
    assert_eq!(r1.dropped_messages(), 3);
}

#[cfg(feature = "planted-bugs")]
mod planted {
    use super::*;

    fn with_bugs(c: &mut Cluster, bugs: crate::host::PlantedBugs) {
        for r in c.replicas.values_mut() {
            r.set_bugs(bugs.clone());
        }
    }

    #[test]
    fn reply_before_all_hold_answers_at_once() {
        let mut c = Cluster::booted();
        with_bugs(
            &mut c,
            crate::host::PlantedBugs {
                reply_before_all_hold: true,
                ..Default::default()
            },
        );
        c.client_request(0, request(0, 1, b"inc"));
        assert_eq!(
            c.replies_to(0, 1),
            vec![b"1".to_vec()],
            "replied before any PrepareOk"
        );
    }

    #[test]
    fn no_duplicate_suppression_executes_a_retry_again() {
        let mut c = Cluster::booted();
        with_bugs(
            &mut c,
            crate::host::PlantedBugs {
                no_duplicate_suppression: true,
                ..Default::default()
            },
        );
        c.client_request(0, request(0, 1, b"inc"));
        c.run();
        c.client_request(0, request(0, 1, b"inc"));
        c.run();
        // Only the sequencer replies: the retry, executed again, answers 2.
        assert_eq!(c.replies_to(0, 1), vec![b"1".to_vec(), b"2".to_vec()]);
    }

    #[test]
    fn view_change_adopting_the_shorter_sequence_executes_again() {
        let mut c = Cluster::booted();
        with_bugs(
            &mut c,
            crate::host::PlantedBugs {
                view_change_adopts_shorter: true,
                ..Default::default()
            },
        );
        // A commits; the Commit to member 2 is lost; the sequencer crashes.
        c.client_request(0, request(0, 1, b"inc"));
        deliver_only(&mut c, |_, _, _| true);
        deliver_only(&mut c, |_, _, _| true);
        deliver_only(&mut c, |_, to, _| to != 2);
        c.queue.clear();
        c.cut.insert(0);
        assert_eq!(c.replicas[&1].executed_position(), 1);
        assert_eq!(c.replicas[&2].executed_position(), 0);
        c.install(&view(2, &[1, 2], &[]));
        c.run();
        let a = Some(RequestId {
            client: client(0),
            seq: 1,
        });
        let executions_at_1 = c.executed.iter().filter(|e| e.0 == 1 && e.4 == a).count();
        assert_eq!(
            executions_at_1, 2,
            "member 1 rolled back to member 2's sequence"
        );
    }

    #[test]
    fn state_transfer_without_duplicate_table_executes_a_retry_again() {
        let mut c = Cluster::booted();
        with_bugs(
            &mut c,
            crate::host::PlantedBugs {
                state_transfer_without_dedup: true,
                ..Default::default()
            },
        );
        c.client_request(0, request(0, 1, b"inc"));
        c.run();
        c.cut.insert(2);
        let second = view(2, &[0, 1, 3], &[3]);
        c.create(3, second.clone(), false);
        c.install(&second);
        c.run();
        c.cut.insert(0);
        c.install(&view(3, &[3, 1], &[]));
        c.run();
        c.client_request(3, request(0, 1, b"inc"));
        c.run();
        assert_eq!(
            c.replies_to(0, 1).last(),
            Some(&b"2".to_vec()),
            "executed twice"
        );
    }
}

#[test]
fn nested_call_to_a_failed_server_fails_through_the_log() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"call"));
    c.run();
    let mut out = Vec::new();
    for host in 0..3 {
        let r = c.replicas.get_mut(&host).unwrap();
        r.on_group_failed(c.now, CALLEE, &mut out);
        c.absorb(host, std::mem::take(&mut out));
    }
    c.run();
    assert_eq!(c.replies_to(0, 1), vec![b"failed".to_vec()]);
    assert_eq!(c.sequence(0), c.sequence(1));
}

#[test]
fn view_change_exact_messages() {
    let mut c = crash_sequencer_mid_burst();
    let second = view(2, &[1, 2], &[]);
    c.install(&second);
    let (_, _, report) = c.queue.pop_front().unwrap();
    let b = command(1, 1, b"inc");

    // The new sequencer holds the longer log of the same normal view: it keeps its
    // own, and member 2 (which executed position 1) gets only what follows.
    let mut out = Vec::new();
    let r1 = c.replicas.get_mut(&1).unwrap();
    r1.on_message(c.now, replica_id(2), report, &mut out);
    let start_view = GroupMessage::StartView {
        group: GROUP,
        view_id: 2,
        base_position: 1,
        entries: vec![b.clone()],
        commit_position: 1,
        state: None,
    };
    assert_eq!(out, vec![send(2, start_view.clone())]);
    assert_eq!(r1.status(), ReplicaStatus::Starting);

    out.clear();
    let r2 = c.replicas.get_mut(&2).unwrap();
    r2.on_message(c.now, replica_id(1), start_view, &mut out);
    let ok = GroupMessage::StartViewOk {
        group: GROUP,
        view_id: 2,
        position: 2,
    };
    assert_eq!(out, vec![send(1, ok.clone())]);
    assert_eq!(r2.status(), ReplicaStatus::Normal);

    // Every member acknowledged: the view is normal and the flushed entry commits.
    out.clear();
    let r1 = c.replicas.get_mut(&1).unwrap();
    r1.on_message(c.now, replica_id(2), ok, &mut out);
    assert_eq!(
        out,
        vec![
            executed(1, 2, &b, 2000),
            reply(1, 1, b"2"),
            send(2, commit(2, 2))
        ]
    );
    assert_eq!(r1.status(), ReplicaStatus::Normal);

    // A late Prepare of view 1 from the old sequencer is dropped.
    out.clear();
    let r2 = c.replicas.get_mut(&2).unwrap();
    r2.on_message(
        c.now,
        replica_id(0),
        prepare(1, 3, vec![command(5, 1, b"inc")], 2),
        &mut out,
    );
    assert_eq!(out, vec![]);
}

#[test]
fn joiner_gets_snapshot_table_and_suffix() {
    let mut c = Cluster::booted();
    c.client_request(0, request(0, 1, b"inc"));
    c.run();
    c.cut.insert(2);
    let second = view(2, &[0, 1, 3], &[3]);
    c.create(3, second.clone(), false);
    c.install(&second);
    // Member 1 reports; the sequencer sends it the (empty) suffix and the joiner a
    // state transfer at the commit point.
    let (_, _, report) = c.queue.pop_front().unwrap();
    let mut out = Vec::new();
    let r0 = c.replicas.get_mut(&0).unwrap();
    r0.on_message(c.now, replica_id(1), report, &mut out);
    let state = ReplicaState {
        position: 1,
        snapshot: Counter {
            value: 1,
            ..Default::default()
        }
        .snapshot(),
        clients: vec![(
            client(0),
            ClientRecord {
                forgotten_below: 1,
                executed: [(1, Some(b"1".to_vec()))].into_iter().collect(),
            },
        )],
        departed: Default::default(),
        nested_calls: vec![],
        timers: vec![],
    };
    let start = |state| GroupMessage::StartView {
        group: GROUP,
        view_id: 2,
        base_position: 1,
        entries: vec![],
        commit_position: 1,
        state,
    };
    assert_eq!(
        out,
        vec![
            send(1, start(None)),
            send(3, start(Some(Box::new(state.clone()))))
        ]
    );
    out.clear();
    let r3 = c.replicas.get_mut(&3).unwrap();
    r3.on_message(c.now, replica_id(0), start(Some(Box::new(state))), &mut out);
    let ok = GroupMessage::StartViewOk {
        group: GROUP,
        view_id: 2,
        position: 1,
    };
    assert_eq!(out, vec![send(0, ok)]);
    assert_eq!(r3.executed_position(), 1);
    assert_eq!(r3.state_digest(), 1000);
}

/// An application in the asynchronous mode: `slow` is left running until the
/// test lets it finish; everything else completes at once.
struct Slow {
    value: u64,
    running: Option<RequestId>,
    finish: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StateMachine for Slow {
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
        assert!(self.start_apply(input, out), "only `slow` runs long");
    }
    fn start_apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) -> bool {
        assert!(self.running.is_none(), "an input while another runs");
        if let AppInput::Command { request, payload } = input {
            self.value += 1;
            if payload == b"slow" {
                self.running = Some(request);
                return false;
            }
            let payload = self.value.to_string().into_bytes();
            out.push(AppOutput::Reply { request, payload });
        }
        true
    }
    fn poll(&mut self, out: &mut Vec<AppOutput>) -> bool {
        if !self.finish.load(std::sync::atomic::Ordering::SeqCst) {
            return false;
        }
        if let Some(request) = self.running.take() {
            out.push(AppOutput::Reply {
                request,
                payload: b"slow done".to_vec(),
            });
        }
        true
    }
    fn describe_running(&self) -> Option<String> {
        self.running.map(|_| "Slow.slow".to_string())
    }
    fn snapshot(&self) -> Vec<u8> {
        self.value.to_le_bytes().to_vec()
    }
    fn restore(&mut self, _: &[u8]) -> Result<(), RestoreError> {
        Ok(())
    }
    fn digest(&self) -> u64 {
        self.value
    }
}

/// A method left running delays its group's later commands (ordered, not
/// executed) without blocking the replica: a retransmission of it is neither
/// ordered again nor answered "working", and once the application is ready
/// everything executes in log order.
#[test]
fn an_entry_running_off_the_core_holds_back_execution_but_not_ordering() {
    let me = replica_id(0);
    let view = GroupView {
        group: GROUP,
        view_id: 1,
        members: vec![me],
        joining: vec![],
        spec: ServerSpec {
            model: Model::Correct,
            tolerate: 0,
            replicas: 1,
            ..spec()
        },
        failed: false,
    };
    let config = ReplicaConfig {
        group: GROUP,
        me,
        retry_us: RETRY_US,
        call_deadline_us: DEADLINE_US,
        #[cfg(feature = "planted-bugs")]
        bugs: Default::default(),
    };
    let finish = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = Slow {
        value: 0,
        running: None,
        finish: finish.clone(),
    };
    let mut out = Vec::new();
    let mut replica = Replica::new(0, config, Box::new(app), view, true, &mut out);
    let request = |seq| RequestId {
        client: client(0),
        seq,
    };
    let send = |replica: &mut Replica, seq, payload: &[u8], now| {
        let mut out = Vec::new();
        let msg = GroupMessage::Request {
            group: GROUP,
            request: request(seq),
            payload: payload.to_vec(),
            low_water: 1,
        };
        replica.on_message(now, replica_id(9), msg, &mut out);
        out
    };
    let replies = |out: &[GroupOutput]| -> Vec<(u64, Vec<u8>)> {
        out.iter()
            .filter_map(|o| match o {
                GroupOutput::Reply {
                    msg:
                        GroupMessage::Reply {
                            request, payload, ..
                        },
                    ..
                } => Some((request.seq, payload.clone())),
                _ => None,
            })
            .collect()
    };
    let out = send(&mut replica, 1, b"slow", 10);
    assert!(replies(&out).is_empty());
    assert_eq!(replica.executed_position(), 0);
    assert_eq!(replica.busy(), Some((10, "Slow.slow".to_string())));
    // Ordered and committed behind it, not executed.
    let out = send(&mut replica, 2, b"inc", 20);
    assert!(replies(&out).is_empty());
    assert_eq!(
        (replica.commit_position(), replica.executed_position()),
        (2, 0)
    );
    // A retransmission of the running command: no second entry, no "working".
    let out = send(&mut replica, 1, b"slow", 30);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(replica.log_end(), 2);
    // A wake-up before it is ready changes nothing.
    let mut out = Vec::new();
    replica.on_app_ready(40, &mut out);
    assert!(out.is_empty());
    finish.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut out = Vec::new();
    replica.on_app_ready(50, &mut out);
    assert_eq!(
        replies(&out),
        vec![(1, b"slow done".to_vec()), (2, b"2".to_vec())]
    );
    assert_eq!(replica.executed_position(), 2);
    assert_eq!(replica.busy(), None);
    // Executed now: a retransmission is answered from the reply table.
    let out = send(&mut replica, 1, b"slow", 60);
    assert_eq!(replies(&out), vec![(1, b"slow done".to_vec())]);
}
