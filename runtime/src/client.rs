//! The client side of server calls: request numbering, retransmission to the newest
//! sequencer (or, for a byzantine server, to every member), the reply rule of the
//! server's model (first reply, or `t+1` matching ones: [`crate::vote`]),
//! deadlines, and waiting for a new server to run.
//!
//! One [`Client`] per host serves every local client (e.g. `main` and its futures):
//! any number of calls may be outstanding at once. It is pure like the protocol
//! engines: the host core feeds it local requests, replies, views and timers, and
//! carries out its [`ClientOutput`]s.
//!
//! ```
//! use ftc_runtime::client::{Client, ClientOutput};
//! use ftc_runtime::group::GroupMessage;
//! use ftc_runtime::host::ClientEvent;
//! use ftc_runtime::types::{ClientId, GroupId, HostId, Incarnation, RequestId};
//!
//! let mut client = Client::new(HostId(0), 50_000, 1_000_000);
//! let mut out = Vec::new();
//! let me = ClientId::Host { host: HostId(0), incarnation: Incarnation(1), local: 0 };
//! // No view of group 7 is known yet: the call waits (and is retransmitted once one is).
//! client.call(0, 1, me, GroupId(7), b"get x".to_vec(), &mut out);
//! out.clear();
//! let reply = GroupMessage::Reply {
//!     group: GroupId(7),
//!     request: RequestId { client: me, seq: 1 },
//!     payload: b"42".to_vec(),
//! };
//! client.on_message(10, HostId(3), reply.clone(), &mut out);
//! assert_eq!(out, vec![ClientOutput::Event(ClientEvent::Reply { token: 1, payload: b"42".to_vec() })]);
//! // A second copy (from another replica) is dropped.
//! out.clear();
//! client.on_message(11, HostId(4), reply, &mut out);
//! assert!(out.is_empty());
//! ```

use crate::group::GroupMessage;
use crate::host::{ClientEvent, Trace};
use crate::message::MAX_CALL_BYTES;
use crate::types::{ClientId, GroupId, GroupView, HostId, Micros, RequestId, TimerId, TimerSpace};
use crate::vote::{Notices, ReplyRule, Tally};
use calls::PendingCalls;
use std::collections::BTreeMap;

mod calls;

/// What the client engine asks its host core to do.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientOutput {
    Send {
        to: HostId,
        msg: GroupMessage,
    },
    /// A timer in [`TimerSpace::Client`]; pass it back to [`Client::on_timer`].
    SetTimer {
        timer: TimerId,
        at: Micros,
    },
    Event(ClientEvent),
    Trace(Trace),
}

#[derive(Clone, Debug)]
struct PendingCall {
    token: u64,
    payload: Vec<u8>,
    deadline: Micros,
    next_retry: Micros,
    /// Copies of the reply so far (byzantine servers: until `t+1` match).
    replies: Tally,
    /// Members that said "working" since the deadline last restarted.
    working: Notices,
}

#[derive(Clone, Debug)]
struct PendingStart {
    /// Known once the view service decided the start.
    group: Option<GroupId>,
    deadline: Micros,
    next_retry: Micros,
    ready: Notices,
}

#[derive(Clone, Debug)]
struct KnownView {
    view_id: u64,
    /// Every member's host, sequencer first.
    members: Vec<HostId>,
    rule: ReplyRule,
    /// Every member is asked (by the server's own rule, even when a planted
    /// bug counts replies by another).
    asks_all: bool,
    failed: bool,
}

impl KnownView {
    /// Where requests and probes go: the sequencer, or every member when the
    /// rule counts every member's reply.
    fn destinations(&self) -> &[HostId] {
        if self.asks_all {
            &self.members
        } else {
            self.members.get(..1).unwrap_or(&[])
        }
    }
}

/// The client engine of one host. See the module documentation.
pub struct Client {
    host: HostId,
    retry_us: Micros,
    call_deadline_us: Micros,
    /// Last request number used, per client and server.
    last_seq: BTreeMap<(ClientId, GroupId), u64>,
    calls: PendingCalls<PendingCall>,
    starts: BTreeMap<u64, PendingStart>,
    views: BTreeMap<GroupId, KnownView>,
    next_timer: u64,
    /// The earliest timer already requested and not yet fired.
    armed_at: Option<Micros>,
    /// Planted bug: every server's first copy decides, byzantine ones too.
    #[cfg(feature = "planted-bugs")]
    first_reply_only: bool,
}

impl Client {
    pub fn new(host: HostId, retry_us: Micros, call_deadline_us: Micros) -> Client {
        Client {
            host,
            retry_us,
            call_deadline_us,
            last_seq: BTreeMap::new(),
            calls: PendingCalls::default(),
            starts: BTreeMap::new(),
            views: BTreeMap::new(),
            next_timer: 0,
            armed_at: None,
            #[cfg(feature = "planted-bugs")]
            first_reply_only: false,
        }
    }

    /// Plants the bug "the first copy decides for every model" (simulator only).
    #[cfg(feature = "planted-bugs")]
    pub fn with_first_reply_only(self, on: bool) -> Client {
        Client {
            first_reply_only: on,
            ..self
        }
    }

    /// The host this engine runs on.
    pub fn host(&self) -> HostId {
        self.host
    }

    /// Calls still waiting for an answer.
    pub fn pending_calls(&self) -> usize {
        self.calls.len()
    }

    /// Starts a call: numbers it, sends it to the newest sequencer known, and
    /// answers `token` with a [`ClientEvent::Reply`] or [`ClientEvent::CallFailed`].
    pub fn call(
        &mut self,
        now: Micros,
        token: u64,
        client: ClientId,
        group: GroupId,
        payload: Vec<u8>,
        out: &mut Vec<ClientOutput>,
    ) {
        let seq = self.last_seq.entry((client, group)).or_insert(0);
        *seq += 1;
        let request = RequestId { client, seq: *seq };
        out.push(ClientOutput::Trace(Trace::Submitted { token, request }));
        if payload.len() > MAX_CALL_BYTES {
            let reason = format!(
                "the call's arguments take {} bytes, more than the largest message allows ({MAX_CALL_BYTES} bytes)",
                payload.len()
            );
            out.push(ClientOutput::Event(ClientEvent::CallFailed {
                token,
                reason,
            }));
            return;
        }
        if self.views.get(&group).is_some_and(|v| v.failed) {
            let reason = format!("server {} failed: every replica is gone", group.0);
            out.push(ClientOutput::Event(ClientEvent::CallFailed {
                token,
                reason,
            }));
            return;
        }
        let call = PendingCall {
            token,
            payload,
            deadline: now + self.call_deadline_us,
            next_retry: now + self.retry_us,
            replies: Tally::default(),
            working: Notices::default(),
        };
        let at = call.next_retry.min(call.deadline);
        self.calls.insert(group, request, call);
        self.send_request(group, request, out);
        self.arm_for(at, out);
    }

    /// A local `server C …` was handed to the view service; it is answered here once
    /// the decision came and every replica runs.
    pub fn start_requested(&mut self, token: u64) {
        let start = PendingStart {
            group: None,
            deadline: Micros::MAX,
            next_retry: Micros::MAX,
            ready: Notices::default(),
        };
        self.starts.insert(token, start);
    }

    /// The view service decided the start with this token.
    pub fn on_start_decided(
        &mut self,
        now: Micros,
        token: u64,
        result: Result<GroupId, String>,
        out: &mut Vec<ClientOutput>,
    ) {
        if !self.starts.contains_key(&token) {
            return; // not asked here
        }
        match result {
            Err(reason) => {
                self.starts.remove(&token);
                out.push(ClientOutput::Event(ClientEvent::ServerStartFailed {
                    token,
                    reason,
                }));
            }
            Ok(group) => {
                let start = PendingStart {
                    group: Some(group),
                    deadline: now + self.call_deadline_us,
                    next_retry: now + self.retry_us,
                    ready: Notices::default(),
                };
                self.starts.insert(token, start);
                self.send_probe(group, out);
                self.arm(now, out);
            }
        }
    }

    /// A newly committed view: later retransmissions go to its sequencer (and one
    /// goes right away); a failed group fails its calls.
    pub fn on_view(&mut self, now: Micros, view: &GroupView, out: &mut Vec<ClientOutput>) {
        if self
            .views
            .get(&view.group)
            .is_some_and(|v| v.view_id >= view.view_id)
        {
            return;
        }
        let known = KnownView {
            view_id: view.view_id,
            members: view.members.iter().map(|m| m.host).collect(),
            rule: self.rule_of(view),
            asks_all: ReplyRule::of_view(view).asks_every_member(),
            failed: view.failed,
        };
        self.views.insert(view.group, known);
        let group = view.group;
        if view.failed {
            let reason = format!("server {} failed: every replica is gone", group.0);
            self.fail_where(|g| g == group, &reason, out);
            return;
        }
        for (_, request) in self.calls.keys_where(|g| g == group) {
            if let Some(call) = self.calls.get_mut(group, request) {
                call.next_retry = now + self.retry_us;
            }
            self.send_request(group, request, out);
        }
        if self.starts.values().any(|s| s.group == Some(group)) {
            self.send_probe(group, out);
        }
        self.arm(now, out);
    }

    /// The view service stopped `group` (its program ended) and forgot it:
    /// its calls fail, and what this engine kept about it goes.
    pub fn on_stopped(&mut self, group: GroupId, out: &mut Vec<ClientOutput>) {
        let reason = format!(
            "server {} was stopped: the program that started it ended",
            group.0
        );
        self.fail_where(|g| g == group, &reason, out);
        self.views.remove(&group);
        self.last_seq.retain(|(_, g), _| *g != group);
    }

    /// A reply or ready notice addressed to this host, sent by host `from`
    /// (authenticated by the transport). It counts by the server's reply rule:
    /// from a byzantine server only copies of its members count.
    pub fn on_message(
        &mut self,
        now: Micros,
        from: HostId,
        msg: GroupMessage,
        out: &mut Vec<ClientOutput>,
    ) {
        let rule = |group: GroupId| match self.views.get(&group) {
            Some(v) if v.rule.asks_every_member() && !v.members.contains(&from) => None,
            Some(v) => Some(v.rule),
            None => Some(ReplyRule::First),
        };
        match msg {
            GroupMessage::Reply {
                group,
                request,
                payload,
            } => {
                let Some(rule) = rule(group) else { return };
                let Some(call) = self.calls.get_mut(group, request) else {
                    return;
                };
                if let Some(payload) = call.replies.add(rule, from, &payload) {
                    let token = call.token;
                    self.calls.remove(group, request);
                    out.push(ClientOutput::Event(ClientEvent::Reply { token, payload }));
                }
            }
            GroupMessage::Working { group, request } => {
                let Some(rule) = rule(group) else { return };
                if let Some(call) = self.calls.get_mut(group, request) {
                    if call.working.add(rule, from) {
                        call.deadline = call.deadline.max(now + self.call_deadline_us);
                    }
                }
            }
            GroupMessage::Ready { group, .. } => {
                let Some(rule) = rule(group) else { return };
                let tokens: Vec<u64> = self
                    .starts
                    .iter_mut()
                    .filter(|(_, s)| s.group == Some(group))
                    .filter_map(|(t, s)| s.ready.add(rule, from).then_some(*t))
                    .collect();
                for token in tokens {
                    self.starts.remove(&token);
                    out.push(ClientOutput::Event(ClientEvent::ServerStarted {
                        token,
                        group,
                    }));
                }
            }
            _ => {}
        }
    }

    /// A client timer is due: retransmit what is due, fail what is past its deadline.
    pub fn on_timer(&mut self, now: Micros, _timer: TimerId, out: &mut Vec<ClientOutput>) {
        if self.armed_at.is_some_and(|at| now >= at) {
            self.armed_at = None;
        }
        for key in self.calls.keys() {
            let Some(call) = self.calls.get_mut(key.0, key.1) else {
                continue;
            };
            if now >= call.deadline {
                let token = call.token;
                let reason = if call.replies.disagreed() {
                    format!(
                        "the replicas of server {} disagreed: no reply had enough matching copies within the call deadline",
                        key.0 .0
                    )
                } else {
                    format!("server {} gave no reply within the call deadline", key.0 .0)
                };
                self.calls.remove(key.0, key.1);
                out.push(ClientOutput::Event(ClientEvent::CallFailed {
                    token,
                    reason,
                }));
            } else if now >= call.next_retry {
                call.next_retry = now + self.retry_us;
                self.send_request(key.0, key.1, out);
            }
        }
        let tokens: Vec<u64> = self.starts.keys().copied().collect();
        for token in tokens {
            let Some(start) = self.starts.get_mut(&token) else {
                continue;
            };
            let Some(group) = start.group else {
                continue;
            };
            if now >= start.deadline {
                self.starts.remove(&token);
                let reason = format!(
                    "the replicas of server {} did not all start in time",
                    group.0
                );
                out.push(ClientOutput::Event(ClientEvent::ServerStartFailed {
                    token,
                    reason,
                }));
            } else if now >= start.next_retry {
                start.next_retry = now + self.retry_us;
                self.send_probe(group, out);
            }
        }
        self.arm(now, out);
    }

    fn fail_where(
        &mut self,
        which: impl Fn(GroupId) -> bool,
        reason: &str,
        out: &mut Vec<ClientOutput>,
    ) {
        for (group, request) in self.calls.keys_where(&which) {
            if let Some(call) = self.calls.remove(group, request) {
                let event = ClientEvent::CallFailed {
                    token: call.token,
                    reason: reason.to_string(),
                };
                out.push(ClientOutput::Event(event));
            }
        }
        let tokens: Vec<u64> = self
            .starts
            .iter()
            .filter(|(_, s)| s.group.is_some_and(&which))
            .map(|(t, _)| *t)
            .collect();
        for token in tokens {
            self.starts.remove(&token);
            let reason = reason.to_string();
            out.push(ClientOutput::Event(ClientEvent::ServerStartFailed {
                token,
                reason,
            }));
        }
    }

    fn send_request(&self, group: GroupId, request: RequestId, out: &mut Vec<ClientOutput>) {
        let Some(view) = self.views.get(&group) else {
            return;
        };
        // The oldest request of this client to this server still waiting:
        // replicas may forget the replies below it.
        let Some((call, low_water)) = self.calls.get_with_oldest(group, request) else {
            return;
        };
        let msg = GroupMessage::Request {
            group,
            request,
            payload: call.payload.clone(),
            low_water,
        };
        send_to_all(view.destinations(), msg, out);
    }

    fn rule_of(&self, view: &GroupView) -> ReplyRule {
        #[cfg(feature = "planted-bugs")]
        if self.first_reply_only {
            return ReplyRule::First;
        }
        ReplyRule::of_view(view)
    }

    fn send_probe(&self, group: GroupId, out: &mut Vec<ClientOutput>) {
        if let Some(view) = self.views.get(&group) {
            send_to_all(view.destinations(), GroupMessage::ReadyProbe { group }, out);
        }
    }

    /// Requests a timer for the earliest retransmission or deadline, unless one at
    /// or before it is already requested.
    /// Like [`Client::arm`] when only a new call due at `at` changed: the timer
    /// already requested, if any, is no later than every other pending call's
    /// (`arm` keeps it so), so the pending calls need not be scanned.
    fn arm_for(&mut self, at: Micros, out: &mut Vec<ClientOutput>) {
        if self.armed_at.is_some_and(|armed| armed <= at) {
            return;
        }
        self.armed_at = Some(at);
        self.next_timer += 1;
        let timer = TimerId::new(TimerSpace::Client, self.next_timer);
        out.push(ClientOutput::SetTimer { timer, at });
    }

    fn arm(&mut self, _now: Micros, out: &mut Vec<ClientOutput>) {
        let next_call = self
            .calls
            .values()
            .map(|c| c.next_retry.min(c.deadline))
            .min();
        let next_start = self
            .starts
            .values()
            .filter(|s| s.group.is_some())
            .map(|s| s.next_retry.min(s.deadline))
            .min();
        if let Some(at) = next_call.into_iter().chain(next_start).min() {
            self.arm_for(at, out);
        }
    }
}

/// One copy of `msg` to each of `to`.
fn send_to_all(to: &[HostId], msg: GroupMessage, out: &mut Vec<ClientOutput>) {
    crate::message::one_copy_each(to.iter().copied(), msg, |to, msg| {
        out.push(ClientOutput::Send { to, msg })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Incarnation, Model, ReplicaId, ServerSpec};

    const G: GroupId = GroupId(3);

    fn me() -> ClientId {
        ClientId::Host {
            host: HostId(0),
            incarnation: Incarnation(1),
            local: 0,
        }
    }

    fn view(view_id: u64, sequencer: u32, failed: bool) -> GroupView {
        GroupView {
            group: G,
            view_id,
            members: vec![ReplicaId {
                host: HostId(sequencer),
                incarnation: Incarnation(1),
            }],
            joining: vec![],
            spec: ServerSpec {
                class: "c".into(),
                model: Model::Correct,
                tolerate: 0,
                replicas: 1,
                hosts: vec![],
                disjoint_key: None,
                priority: 0,
                durable: None,
            },
            failed,
        }
    }

    fn request(seq: u64, low_water: u64) -> GroupMessage {
        GroupMessage::Request {
            group: G,
            request: RequestId { client: me(), seq },
            payload: b"x".to_vec(),
            low_water,
        }
    }

    fn timer(n: u64) -> TimerId {
        TimerId::new(TimerSpace::Client, n)
    }

    #[test]
    fn futures_are_numbered_retried_to_the_newest_sequencer_and_fail_at_the_deadline() {
        let mut client = Client::new(HostId(0), 100, 1_000);
        let mut out = Vec::new();
        client.on_view(0, &view(1, 5, false), &mut out);
        assert_eq!(out, vec![]);
        client.call(0, 10, me(), G, b"x".to_vec(), &mut out);
        client.call(0, 11, me(), G, b"x".to_vec(), &mut out);
        let submitted = |token, seq| {
            ClientOutput::Trace(Trace::Submitted {
                token,
                request: RequestId { client: me(), seq },
            })
        };
        assert_eq!(
            out,
            vec![
                submitted(10, 1),
                ClientOutput::Send {
                    to: HostId(5),
                    msg: request(1, 1)
                },
                ClientOutput::SetTimer {
                    timer: timer(1),
                    at: 100
                },
                submitted(11, 2),
                // Two calls outstanding: the low-water mark is the older one.
                ClientOutput::Send {
                    to: HostId(5),
                    msg: request(2, 1)
                },
            ]
        );
        // The first is answered; a newer view moves the retry of the second at once.
        out.clear();
        let reply = GroupMessage::Reply {
            group: G,
            request: RequestId {
                client: me(),
                seq: 1,
            },
            payload: b"ok".to_vec(),
        };
        client.on_message(50, HostId(5), reply, &mut out);
        client.on_view(60, &view(2, 6, false), &mut out);
        assert_eq!(
            out,
            vec![
                ClientOutput::Event(ClientEvent::Reply {
                    token: 10,
                    payload: b"ok".to_vec()
                }),
                ClientOutput::Send {
                    to: HostId(6),
                    msg: request(2, 2)
                },
            ]
        );
        // Retransmitted every retry period until the deadline, then it fails.
        out.clear();
        client.on_timer(160, timer(1), &mut out);
        assert_eq!(
            out,
            vec![
                ClientOutput::Send {
                    to: HostId(6),
                    msg: request(2, 2)
                },
                ClientOutput::SetTimer {
                    timer: timer(2),
                    at: 260
                },
            ]
        );
        out.clear();
        client.on_timer(1_000, timer(2), &mut out);
        assert!(matches!(
            out.as_slice(),
            [ClientOutput::Event(ClientEvent::CallFailed {
                token: 11,
                ..
            })]
        ));
        assert_eq!(client.pending_calls(), 0);
    }

    #[test]
    fn a_working_server_restarts_the_deadline_of_its_call() {
        let mut client = Client::new(HostId(0), 100, 1_000);
        let mut out = Vec::new();
        client.on_view(0, &view(1, 5, false), &mut out);
        client.call(0, 10, me(), G, b"x".to_vec(), &mut out);
        let working = || GroupMessage::Working {
            group: G,
            request: RequestId {
                client: me(),
                seq: 1,
            },
        };
        // The method runs on: each retransmission is answered "working", so
        // the call outlives its first deadline (1,000) by far.
        for at in (900..5_000).step_by(900) {
            client.on_message(at, HostId(5), working(), &mut out);
            client.on_timer(at + 100, timer(1), &mut out);
        }
        assert!(!out
            .iter()
            .any(|o| matches!(o, ClientOutput::Event(ClientEvent::CallFailed { .. }))));
        assert_eq!(client.pending_calls(), 1);
        // Silence: a deadline after the last "working" it fails.
        out.clear();
        client.on_timer(4_500 + 1_000, timer(1), &mut out);
        assert!(matches!(
            out.as_slice(),
            [ClientOutput::Event(ClientEvent::CallFailed {
                token: 10,
                ..
            })]
        ));
    }

    #[test]
    fn a_failed_server_fails_its_calls() {
        let mut client = Client::new(HostId(0), 100, 1_000);
        let mut out = Vec::new();
        client.on_view(0, &view(1, 5, false), &mut out);
        client.call(0, 10, me(), G, b"x".to_vec(), &mut out);
        out.clear();
        client.on_view(5, &view(2, 5, true), &mut out);
        assert!(matches!(
            out.as_slice(),
            [ClientOutput::Event(ClientEvent::CallFailed {
                token: 10,
                ..
            })]
        ));
        out.clear();
        client.call(6, 12, me(), G, b"x".to_vec(), &mut out);
        assert!(matches!(
            out.as_slice(),
            [
                ClientOutput::Trace(_),
                ClientOutput::Event(ClientEvent::CallFailed { token: 12, .. })
            ]
        ));
    }

    #[test]
    fn a_start_is_answered_once_the_sequencer_reports_ready() {
        let mut client = Client::new(HostId(0), 100, 1_000);
        let mut out = Vec::new();
        client.start_requested(7);
        client.on_start_decided(0, 7, Ok(G), &mut out);
        // No view yet: the probe waits for one.
        assert_eq!(
            out,
            vec![ClientOutput::SetTimer {
                timer: timer(1),
                at: 100
            }]
        );
        out.clear();
        client.on_view(10, &view(1, 4, false), &mut out);
        assert_eq!(
            out,
            vec![ClientOutput::Send {
                to: HostId(4),
                msg: GroupMessage::ReadyProbe { group: G }
            }]
        );
        out.clear();
        client.on_message(
            20,
            HostId(4),
            GroupMessage::Ready {
                group: G,
                view_id: 1,
            },
            &mut out,
        );
        assert_eq!(
            out,
            vec![ClientOutput::Event(ClientEvent::ServerStarted {
                token: 7,
                group: G
            })]
        );
    }

    fn byzantine_view(members: &[u32]) -> GroupView {
        let mut v = view(1, members[0], false);
        v.members = members
            .iter()
            .map(|&h| ReplicaId {
                host: HostId(h),
                incarnation: Incarnation(1),
            })
            .collect();
        v.spec.model = Model::Byzantine;
        v.spec.tolerate = 1;
        v
    }

    fn reply_from(seq: u64, payload: &[u8]) -> GroupMessage {
        GroupMessage::Reply {
            group: G,
            request: RequestId { client: me(), seq },
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn a_byzantine_server_is_asked_at_every_member_and_answers_on_t_plus_1_matching_copies() {
        let mut client = Client::new(HostId(0), 100, 1_000);
        let mut out = Vec::new();
        client.on_view(0, &byzantine_view(&[1, 2, 3, 4]), &mut out);
        client.call(0, 10, me(), G, b"x".to_vec(), &mut out);
        let sent: Vec<HostId> = out
            .iter()
            .filter_map(|o| match o {
                ClientOutput::Send { to, .. } => Some(*to),
                _ => None,
            })
            .collect();
        assert_eq!(sent, vec![HostId(1), HostId(2), HostId(3), HostId(4)]);
        out.clear();
        // A liar, a non-member and one correct copy decide nothing.
        client.on_message(10, HostId(1), reply_from(1, b"lie"), &mut out);
        client.on_message(11, HostId(9), reply_from(1, b"42"), &mut out);
        client.on_message(12, HostId(2), reply_from(1, b"42"), &mut out);
        client.on_message(13, HostId(2), reply_from(1, b"42"), &mut out);
        assert_eq!(out, vec![]);
        // The second matching copy from a distinct member does.
        client.on_message(14, HostId(3), reply_from(1, b"42"), &mut out);
        assert_eq!(
            out,
            vec![ClientOutput::Event(ClientEvent::Reply {
                token: 10,
                payload: b"42".to_vec()
            })]
        );
    }

    #[test]
    fn replicas_that_disagree_until_the_deadline_give_server_failure_saying_so() {
        let mut client = Client::new(HostId(0), 100, 1_000);
        let mut out = Vec::new();
        client.on_view(0, &byzantine_view(&[1, 2, 3, 4]), &mut out);
        client.call(0, 10, me(), G, b"x".to_vec(), &mut out);
        for (h, answer) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
            client.on_message(10, HostId(h), reply_from(1, answer.as_bytes()), &mut out);
        }
        out.clear();
        client.on_timer(1_000, timer(1), &mut out);
        match out.as_slice() {
            [ClientOutput::Event(ClientEvent::CallFailed { token: 10, reason })] => {
                assert!(reason.contains("disagreed"), "{reason}")
            }
            other => panic!("expected a failed call, got {other:?}"),
        }
    }

    #[test]
    fn a_call_larger_than_the_largest_message_fails_at_once() {
        let mut client = Client::new(HostId(0), 100, 1_000);
        let mut out = Vec::new();
        client.on_view(0, &byzantine_view(&[1, 2, 3, 4]), &mut out);
        out.clear();
        // Zeroed pages are not touched: this costs no gigabyte of memory.
        let too_big = vec![0u8; MAX_CALL_BYTES + 1];
        client.call(0, 10, me(), G, too_big, &mut out);
        let failed = out.iter().find_map(|o| match o {
            ClientOutput::Event(ClientEvent::CallFailed { token: 10, reason }) => Some(reason),
            _ => None,
        });
        let reason = failed.expect("the call failed at once");
        assert!(reason.contains("largest message"), "{reason}");
        assert!(
            !out.iter().any(|o| matches!(o, ClientOutput::Send { .. })),
            "nothing was sent: {out:?}"
        );
    }

    #[test]
    fn one_lying_member_saying_working_does_not_keep_a_call_alive() {
        let mut client = Client::new(HostId(0), 100, 1_000);
        let mut out = Vec::new();
        client.on_view(0, &byzantine_view(&[1, 2, 3, 4]), &mut out);
        client.call(0, 10, me(), G, b"x".to_vec(), &mut out);
        let working = GroupMessage::Working {
            group: G,
            request: RequestId {
                client: me(),
                seq: 1,
            },
        };
        client.on_message(900, HostId(4), working.clone(), &mut out);
        client.on_message(950, HostId(4), working, &mut out);
        out.clear();
        client.on_timer(1_000, timer(1), &mut out);
        assert!(matches!(
            out.as_slice(),
            [ClientOutput::Event(ClientEvent::CallFailed {
                token: 10,
                ..
            })]
        ));
    }
}
