//! The client side of server calls: request numbering, retransmission to the newest
//! sequencer, first reply wins, deadlines, and waiting for a new server to run.
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
//! client.on_message(10, reply.clone(), &mut out);
//! assert_eq!(out, vec![ClientOutput::Event(ClientEvent::Reply { token: 1, payload: b"42".to_vec() })]);
//! // A second copy (from another replica) is dropped.
//! out.clear();
//! client.on_message(11, reply, &mut out);
//! assert!(out.is_empty());
//! ```

use crate::group::GroupMessage;
use crate::host::{ClientEvent, Trace};
use crate::types::{ClientId, GroupId, GroupView, HostId, Micros, RequestId, TimerId, TimerSpace};
use std::collections::BTreeMap;

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
}

#[derive(Clone, Debug)]
struct PendingStart {
    /// Known once the view service decided the start.
    group: Option<GroupId>,
    deadline: Micros,
    next_retry: Micros,
}

#[derive(Clone, Debug)]
struct KnownView {
    view_id: u64,
    sequencer: Option<HostId>,
    failed: bool,
}

/// The client engine of one host. See the module documentation.
pub struct Client {
    host: HostId,
    retry_us: Micros,
    call_deadline_us: Micros,
    /// Last request number used, per client and server.
    last_seq: BTreeMap<(ClientId, GroupId), u64>,
    calls: BTreeMap<(GroupId, RequestId), PendingCall>,
    starts: BTreeMap<u64, PendingStart>,
    views: BTreeMap<GroupId, KnownView>,
    next_timer: u64,
    /// The earliest timer already requested and not yet fired.
    armed_at: Option<Micros>,
}

impl Client {
    pub fn new(host: HostId, retry_us: Micros, call_deadline_us: Micros) -> Client {
        Client {
            host,
            retry_us,
            call_deadline_us,
            last_seq: BTreeMap::new(),
            calls: BTreeMap::new(),
            starts: BTreeMap::new(),
            views: BTreeMap::new(),
            next_timer: 0,
            armed_at: None,
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
        };
        self.calls.insert((group, request), call);
        self.send_request(group, request, out);
        self.arm(now, out);
    }

    /// A local `server C …` was handed to the view service; it is answered here once
    /// the decision came and every replica runs.
    pub fn start_requested(&mut self, token: u64) {
        let start = PendingStart {
            group: None,
            deadline: Micros::MAX,
            next_retry: Micros::MAX,
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
            return; // not asked here, or already failed (exclusion)
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
            sequencer: view.members.first().map(|m| m.host),
            failed: view.failed,
        };
        self.views.insert(view.group, known);
        let group = view.group;
        if view.failed {
            let reason = format!("server {} failed: every replica is gone", group.0);
            self.fail_where(|g| g == group, &reason, out);
            return;
        }
        let requests: Vec<RequestId> = self
            .calls
            .keys()
            .filter(|(g, _)| *g == group)
            .map(|(_, r)| *r)
            .collect();
        for request in requests {
            if let Some(call) = self.calls.get_mut(&(group, request)) {
                call.next_retry = now + self.retry_us;
            }
            self.send_request(group, request, out);
        }
        if self.starts.values().any(|s| s.group == Some(group)) {
            self.send_probe(group, out);
        }
        self.arm(now, out);
    }

    /// A reply or ready notice addressed to this host.
    pub fn on_message(&mut self, now: Micros, msg: GroupMessage, out: &mut Vec<ClientOutput>) {
        match msg {
            GroupMessage::Reply {
                group,
                request,
                payload,
            } => {
                if let Some(call) = self.calls.remove(&(group, request)) {
                    let event = ClientEvent::Reply {
                        token: call.token,
                        payload,
                    };
                    out.push(ClientOutput::Event(event));
                }
            }
            GroupMessage::Ready { group, .. } => {
                let tokens: Vec<u64> = self
                    .starts
                    .iter()
                    .filter(|(_, s)| s.group == Some(group))
                    .map(|(t, _)| *t)
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
        let _ = now;
    }

    /// A client timer is due: retransmit what is due, fail what is past its deadline.
    pub fn on_timer(&mut self, now: Micros, _timer: TimerId, out: &mut Vec<ClientOutput>) {
        if self.armed_at.is_some_and(|at| now >= at) {
            self.armed_at = None;
        }
        let keys: Vec<(GroupId, RequestId)> = self.calls.keys().copied().collect();
        for key in keys {
            let Some(call) = self.calls.get_mut(&key) else {
                continue;
            };
            if now >= call.deadline {
                let token = call.token;
                self.calls.remove(&key);
                let reason = format!("server {} gave no reply within the call deadline", key.0 .0);
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

    /// This host was excluded: every pending call and start fails.
    pub fn fail_all(&mut self, reason: &str, out: &mut Vec<ClientOutput>) {
        self.fail_where(|_| true, reason, out);
        for (token, _) in std::mem::take(&mut self.starts) {
            let reason = reason.to_string();
            out.push(ClientOutput::Event(ClientEvent::ServerStartFailed {
                token,
                reason,
            }));
        }
    }

    fn fail_where(
        &mut self,
        which: impl Fn(GroupId) -> bool,
        reason: &str,
        out: &mut Vec<ClientOutput>,
    ) {
        let keys: Vec<(GroupId, RequestId)> = self
            .calls
            .keys()
            .filter(|(g, _)| which(*g))
            .copied()
            .collect();
        for key in keys {
            if let Some(call) = self.calls.remove(&key) {
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
        let Some(to) = self.views.get(&group).and_then(|v| v.sequencer) else {
            return;
        };
        let Some(call) = self.calls.get(&(group, request)) else {
            return;
        };
        // The lowest request of this client to this server still waiting: replicas may
        // forget the replies below it.
        let low_water = self
            .calls
            .keys()
            .filter(|(g, r)| *g == group && r.client == request.client)
            .map(|(_, r)| r.seq)
            .min()
            .unwrap_or(request.seq);
        let msg = GroupMessage::Request {
            group,
            request,
            payload: call.payload.clone(),
            low_water,
        };
        out.push(ClientOutput::Send { to, msg });
    }

    fn send_probe(&self, group: GroupId, out: &mut Vec<ClientOutput>) {
        if let Some(to) = self.views.get(&group).and_then(|v| v.sequencer) {
            out.push(ClientOutput::Send {
                to,
                msg: GroupMessage::ReadyProbe { group },
            });
        }
    }

    /// Requests a timer for the earliest retransmission or deadline, unless one at
    /// or before it is already requested.
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
        let Some(at) = next_call.into_iter().chain(next_start).min() else {
            return;
        };
        if self.armed_at.is_some_and(|armed| armed <= at) {
            return;
        }
        self.armed_at = Some(at);
        self.next_timer += 1;
        let timer = TimerId::new(TimerSpace::Client, self.next_timer);
        out.push(ClientOutput::SetTimer { timer, at });
    }
}
