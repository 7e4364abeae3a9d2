//! The crash-model group protocol: sequencer ordering, uniform delivery, view-change
//! flush and state transfer for one server group's replicas, plus client requests.
//!
//! The engine is [`Replica`]: one per group member, pure (`on_…(&mut self, now, …,
//! out)`), driven by the host core ([`crate::host`]). This module holds what the
//! replicas exchange ([`GroupMessage`]), what they order ([`LogEntry`]) and what a
//! recruited or lagging replica is given ([`ReplicaState`]). The protocol itself
//! is described in `docs/replication.md`, "Group protocol".

mod clients;
mod durable;
#[cfg(test)]
mod fuzz;
mod replica;
mod replies;
#[cfg(test)]
mod tests;

pub use clients::{ClientTable, Departed, DEPARTED_PER_ENTRY_MAX};
pub use durable::{DiskMirror, DurableCopy};
pub use replica::{Replica, ReplicaConfig, ReplicaStatus};
pub use replies::ExecutedReplies;

use crate::app::{AppTimerId, CallOutcome, NestedCallId};
use crate::digest::Fnv;
use crate::types::HostId;
use crate::types::{ClientId, GroupId, Micros, ReplicaId, RequestId, ServerSpec};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Messages of the group protocol and client requests/replies.
///
/// Every replica-to-replica message carries the `view_id` it belongs to; a replica
/// drops messages of any other view than its current one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GroupMessage {
    /// Client → sequencer. `low_water`: the client waits for no reply of a request
    /// numbered below it, so replicas may forget those cached replies.
    Request {
        group: GroupId,
        request: RequestId,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
        low_water: u64,
    },
    /// Sequencer → client, after executing (backups record the reply but do not
    /// send it; a retransmission reaches the next sequencer, which answers).
    Reply {
        group: GroupId,
        request: RequestId,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// Sequencer → client, answering a retransmitted request whose method is
    /// running (it waits for a nested call, a timer or `sleep`): the server is
    /// alive and busy with it, so the client restarts its call deadline. A
    /// method may take longer than the deadline; a server that stops answering
    /// does not.
    Working { group: GroupId, request: RequestId },
    /// Client → sequencer: "answer [`GroupMessage::Ready`] once every member runs".
    ReadyProbe { group: GroupId },
    /// Sequencer → client: the view is normal (every member acknowledged its start).
    Ready { group: GroupId, view_id: u64 },
    /// Sequencer → member: entries at positions `first_position..`, plus the commit point.
    Prepare {
        group: GroupId,
        view_id: u64,
        first_position: u64,
        entries: Vec<LogEntry>,
        commit_position: u64,
    },
    /// Member → sequencer: cumulative, "I hold every position up to `position`",
    /// and "I executed up to `executed_position`".
    PrepareOk {
        group: GroupId,
        view_id: u64,
        position: u64,
        executed_position: u64,
    },
    /// Sequencer → member: every member holds the positions up to `commit_position`.
    Commit {
        group: GroupId,
        view_id: u64,
        commit_position: u64,
    },
    /// Surviving member → new sequencer: what it holds beyond what it executed.
    DoViewChange {
        group: GroupId,
        view_id: u64,
        /// The last view in which this member's log was normal; `None` when it never
        /// held the group's state (a recruited replica whose transfer did not finish).
        last_normal_view: Option<u64>,
        /// Positions up to here are executed at the sender (and so committed).
        executed_position: u64,
        /// The sender's log after `executed_position`.
        entries: Vec<LogEntry>,
        /// The sender's state at `executed_position`, so that a new sequencer that
        /// holds no state (or less) can adopt it. `None` when it holds none.
        /// Boxed, like every rare large variant's bulk: a message is moved
        /// several times on its way (outputs, outbox, frames), so the enum's
        /// size is paid by every message.
        state: Option<Box<ReplicaState>>,
    },
    /// New sequencer → member: the log of the new view from `base_position + 1`.
    /// `state` is present for a state transfer (the receiver restores it first; it
    /// is the group's state at `base_position`).
    StartView {
        group: GroupId,
        view_id: u64,
        base_position: u64,
        entries: Vec<LogEntry>,
        commit_position: u64,
        state: Option<Box<ReplicaState>>,
    },
    /// Member → new sequencer: installed the view; holds up to `position`.
    StartViewOk {
        group: GroupId,
        view_id: u64,
        position: u64,
    },
    /// The byzantine model's agreement protocol (see [`crate::pbft`]).
    Pbft {
        group: GroupId,
        msg: Box<crate::pbft::PbftMessage>,
    },
}

impl GroupMessage {
    /// The lengths of the byte payloads the message carries (a lower bound of
    /// its encoded size, computed without encoding it).
    pub fn bulk_bytes(&self) -> usize {
        let entries =
            |entries: &[LogEntry]| -> usize { entries.iter().map(LogEntry::bulk_bytes).sum() };
        let state = |state: &Option<Box<ReplicaState>>| -> usize {
            state.as_ref().map_or(0, |s| {
                s.snapshot.len()
                    + s.clients
                        .iter()
                        .flat_map(|(_, r)| r.executed.values())
                        .map(|reply| reply.as_ref().map_or(0, Vec::len))
                        .sum::<usize>()
            })
        };
        match self {
            GroupMessage::Request { payload, .. } | GroupMessage::Reply { payload, .. } => {
                payload.len()
            }
            GroupMessage::Prepare { entries: e, .. } => entries(e),
            GroupMessage::DoViewChange {
                entries: e,
                state: s,
                ..
            }
            | GroupMessage::StartView {
                entries: e,
                state: s,
                ..
            } => entries(e) + state(s),
            GroupMessage::Pbft { msg, .. } => msg.bulk_bytes(),
            GroupMessage::Working { .. }
            | GroupMessage::ReadyProbe { .. }
            | GroupMessage::Ready { .. }
            | GroupMessage::PrepareOk { .. }
            | GroupMessage::Commit { .. }
            | GroupMessage::StartViewOk { .. } => 0,
        }
    }

    /// The group the message is about.
    pub fn group(&self) -> GroupId {
        match self {
            GroupMessage::Request { group, .. }
            | GroupMessage::Reply { group, .. }
            | GroupMessage::Working { group, .. }
            | GroupMessage::ReadyProbe { group }
            | GroupMessage::Ready { group, .. }
            | GroupMessage::Prepare { group, .. }
            | GroupMessage::PrepareOk { group, .. }
            | GroupMessage::Commit { group, .. }
            | GroupMessage::DoViewChange { group, .. }
            | GroupMessage::StartView { group, .. }
            | GroupMessage::StartViewOk { group, .. }
            | GroupMessage::Pbft { group, .. } => *group,
        }
    }
}

/// One position of a group's totally ordered log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogEntry {
    /// A client's command. `low_water` travels with it so that every replica forgets
    /// the same cached replies at the same position.
    Command {
        request: RequestId,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
        low_water: u64,
    },
    /// The first outcome the sequencer saw for a nested call.
    NestedReply {
        call: NestedCallId,
        outcome: CallOutcome,
    },
    /// An application timer armed by the group fired (at the sequencer).
    TimerFired { timer: AppTimerId },
    /// These clients are gone for good (the view service's committed log
    /// says so): every replica forgets their records here, and refuses
    /// their requests from here on ([`ClientTable`]).
    Departed { clients: Vec<ClientId> },
}

impl LogEntry {
    /// A digest of the entry's content (FNV-1a over a fixed encoding), equal on every
    /// replica for equal entries.
    pub fn digest(&self) -> u64 {
        let mut h = Fnv::new();
        match self {
            LogEntry::Command {
                request,
                payload,
                low_water,
            } => {
                h.byte(1);
                hash_request(&mut h, request);
                h.bytes(payload);
                h.u64(*low_water);
            }
            LogEntry::NestedReply { call, outcome } => {
                h.byte(2);
                h.u64(call.0);
                match outcome {
                    CallOutcome::Reply(p) => {
                        h.byte(1);
                        h.bytes(p);
                    }
                    CallOutcome::ServerFailure(r) => {
                        h.byte(2);
                        h.bytes(r.as_bytes());
                    }
                }
            }
            LogEntry::TimerFired { timer } => {
                h.byte(3);
                h.u64(timer.0);
            }
            LogEntry::Departed { clients } => {
                h.byte(4);
                h.u64(clients.len() as u64);
                for client in clients {
                    hash_client(&mut h, client);
                }
            }
        }
        h.finish()
    }

    /// The length of the byte payload the entry carries.
    pub fn bulk_bytes(&self) -> usize {
        match self {
            LogEntry::Command { payload, .. } => payload.len(),
            LogEntry::NestedReply { outcome, .. } => match outcome {
                CallOutcome::Reply(p) => p.len(),
                CallOutcome::ServerFailure(r) => r.len(),
            },
            LogEntry::TimerFired { .. } | LogEntry::Departed { .. } => 0,
        }
    }

    /// The client request of a command entry.
    pub fn request(&self) -> Option<RequestId> {
        match self {
            LogEntry::Command { request, .. } => Some(*request),
            _ => None,
        }
    }
}

fn hash_request(h: &mut Fnv, r: &RequestId) {
    hash_client(h, &r.client);
    h.u64(r.seq);
}

fn hash_client(h: &mut Fnv, client: &ClientId) {
    match *client {
        ClientId::Host {
            host,
            incarnation,
            local,
        } => {
            h.byte(1);
            h.u64(u64::from(host.0));
            h.u64(incarnation.0);
            h.u64(u64::from(local));
        }
        ClientId::Group(g) => {
            h.byte(2);
            h.u64(g.0);
        }
    }
}

/// Duplicate suppression for one client of a group: part of the replicated state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// Requests numbered below this were executed and their replies forgotten:
    /// a late copy of one is dropped, never executed again.
    pub forgotten_below: u64,
    /// Executed requests: `Some(reply)` once the application replied.
    pub executed: ExecutedReplies,
}

/// What a nested call of the application asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Callee {
    /// A command of another server (the call's payload).
    Group(GroupId),
    /// Starting a server through the view service ([`AppOutput::StartServer`]);
    /// the call's payload is empty.
    ///
    /// [`AppOutput::StartServer`]: crate::app::AppOutput::StartServer
    Start(ServerSpec),
}

/// An engine's record of a nested call its application issued (the crash
/// replica's and PBFT's alike): what it asks, until when, last sent when.
#[derive(Clone, Debug)]
pub(crate) struct PendingCall {
    pub(crate) target: Callee,
    pub(crate) payload: Vec<u8>,
    pub(crate) deadline: Micros,
    pub(crate) last_sent: Option<Micros>,
}

impl PendingCall {
    /// A call not sent yet that fails with `ServerFailure` at `deadline`.
    pub(crate) fn new(target: Callee, payload: Vec<u8>, deadline: Micros) -> PendingCall {
        PendingCall {
            target,
            payload,
            deadline,
            last_sent: None,
        }
    }

    /// The `ServerFailure` the call ends with at `now`, if it ends: its
    /// server is among those declared failed (`failed`), or its deadline
    /// passed.
    pub(crate) fn failure(&self, failed: &BTreeSet<GroupId>, now: Micros) -> Option<CallOutcome> {
        let reason = match &self.target {
            Callee::Group(g) if failed.contains(g) => {
                format!("server {} failed: every replica is gone", g.0)
            }
            _ if now < self.deadline => return None,
            Callee::Group(_) => "no reply within the call deadline".to_string(),
            Callee::Start(spec) => format!(
                "server {} was not started: the view service decided nothing within the call deadline",
                spec.class
            ),
        };
        Some(CallOutcome::ServerFailure(reason))
    }
}

/// Sends nested call `call` of `caller`'s application, marking it sent at
/// `now`: a request to its server, with the lowest call to that server still
/// outstanding as the low-water mark (call ids grow, so the callee may
/// forget its replies to the calls below it, as for a client), or a start's
/// vote through the view service. The crash replica's sequencer and every
/// PBFT replica send with it.
pub(crate) fn send_call(
    calls: &mut BTreeMap<NestedCallId, PendingCall>,
    caller: GroupId,
    call: NestedCallId,
    now: Micros,
    out: &mut Vec<GroupOutput>,
) {
    let Some(pending) = calls.get_mut(&call) else {
        return;
    };
    pending.last_sent = Some(now);
    let target = match &pending.target {
        Callee::Group(target) => *target,
        Callee::Start(spec) => {
            let spec = Box::new(spec.clone());
            out.push(GroupOutput::StartServer { call, spec });
            return;
        }
    };
    let payload = pending.payload.clone();
    let low_water = calls
        .iter()
        .find(|(_, p)| p.target == Callee::Group(target))
        .map_or(call.0, |(id, _)| id.0);
    let msg = GroupMessage::Request {
        group: target,
        request: RequestId {
            client: ClientId::Group(caller),
            seq: call.0,
        },
        payload,
        low_water,
    };
    out.push(GroupOutput::Call { target, msg });
}

/// A nested call the group's application issued and has not yet seen the outcome of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NestedCall {
    pub call: NestedCallId,
    pub target: Callee,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// Time left before it fails with `ServerFailure` (relative, so it survives
    /// transfer between hosts whose clocks differ).
    pub remaining_us: Micros,
}

/// Everything a replica needs to continue from a position without the log before it:
/// the application snapshot, the duplicate-suppression table, outstanding nested
/// calls and armed timers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaState {
    /// The state reflects every entry up to this position.
    pub position: u64,
    #[serde(with = "serde_bytes")]
    pub snapshot: Vec<u8>,
    pub clients: Vec<(ClientId, ClientRecord)>,
    /// The clients the group forgot ([`ClientTable`]).
    pub departed: Departed,
    pub nested_calls: Vec<NestedCall>,
    /// Armed application timers with the time left until they fire.
    pub timers: Vec<(AppTimerId, Micros)>,
}

/// What a [`Replica`] asks its host core to do.
#[derive(Clone, Debug, PartialEq)]
pub enum GroupOutput {
    /// Send to another replica of the group (the host sends to `to.host`).
    Send {
        to: ReplicaId,
        msg: GroupMessage,
    },
    /// Send to a host (a reply to a client, or a ready notice).
    SendHost {
        to: HostId,
        msg: GroupMessage,
    },
    /// A reply for a client of the group; the host routes it (to the client's host,
    /// or to every member of a calling group).
    Reply {
        client: ClientId,
        msg: GroupMessage,
    },
    /// A nested request to the sequencer of `target`'s newest view.
    Call {
        target: GroupId,
        msg: GroupMessage,
    },
    /// Vote, through the view service, for the start of a server for the
    /// application's call `call` (a crash group's sequencer, every replica
    /// of a byzantine group; again after each retry interval until the
    /// outcome is in the log); the host answers with
    /// [`crate::protocol::GroupProtocol::on_start_decided`].
    StartServer {
        call: NestedCallId,
        spec: Box<ServerSpec>,
    },
    /// Call [`Replica::on_tick`] at `at` (timers are never cancelled).
    SetTimer {
        at: Micros,
    },
    Trace(crate::host::Trace),
    /// A durable server's replica keeps this on its host's disk; the host
    /// carries it out before every send of the same step.
    Persist(crate::storage::StorageOp),
}
