//! Byzantine behaviours for fault injection: what a lying host does to the
//! messages its replicas send (`ftc run --byzantine hN@S=behaviour[,behaviour…]`,
//! a kernel's `--byzantine BEHAVIOURS`). A lying kernel starts lying when it receives
//! SIGUSR1; until then it is correct. The protocols never call this module.
//!
//! ```
//! use ftc_runtime::group::GroupMessage;
//! use ftc_runtime::identity::ProofKeys;
//! use ftc_runtime::lie::Behaviour;
//! use ftc_runtime::message::Message;
//! use ftc_runtime::types::{ClientId, GroupId, HostId, Incarnation, RequestId};
//!
//! let keys = ProofKeys::simulated(HostId(3), &[HostId(3)], 1);
//! let request = RequestId {
//!     client: ClientId::Host { host: HostId(1), incarnation: Incarnation(1), local: 0 },
//!     seq: 1,
//! };
//! let mut msg = Message::Group(GroupMessage::Reply { group: GroupId(1), request, payload: vec![0, 42] });
//! assert!(Behaviour::WrongReplies.apply(HostId(2), &mut msg, &keys), "sent, but changed");
//! let Message::Group(GroupMessage::Reply { payload, .. }) = &msg else { unreachable!() };
//! assert_ne!(payload, &vec![0, 42]);
//! assert!(!Behaviour::Silent.apply(HostId(2), &mut msg, &keys), "not sent at all");
//! ```

use crate::group::{GroupMessage, LogEntry};
use crate::identity::ProofKeys;
use crate::message::Message;
use crate::pbft::{decide_new_view, PbftMessage, SignedViewChange};
use crate::types::{ClientId, HostId};
use crate::view_service::{Decision, VsMessage};

/// What a lying host does to the messages its replicas send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Every reply carries a different, plausible answer (its last byte changed).
    WrongReplies,
    /// No reply, "working" or "ready" notice leaves the host.
    Silent,
    /// As a byzantine group's primary, orders differently for different
    /// backups: hosts with an odd number get every batch reversed (or, for a
    /// batch of one entry, the null batch) in pre-prepares and new views.
    Equivocate,
    /// No message of the byzantine agreement (nor a reply) leaves the host,
    /// while it keeps heartbeating: a silent primary the view service does
    /// not exclude.
    Mute,
    /// Every nested command its replicas send carries other arguments (the
    /// last byte of the payload changed), and every start its replicas vote
    /// for asks for another server (one more replica).
    WrongNested,
    /// Every state it sends in a state transfer is altered (its log position
    /// moved by one), while its checkpoint digests stay true, so a recruit
    /// picks it as a donor.
    CorruptState,
    /// Its view-change reports to hosts with an odd number claim that it
    /// prepared and pre-prepared nothing, signed with its key like the true
    /// ones the others get: two validly signed, contradicting reports.
    EquivocateReports,
    /// As a new primary, it sends a new view decided from forged reports:
    /// every report's prepared batches removed (so the batches the old
    /// primary's view may have committed become null requests), its own
    /// report signed again, the others' keeping their now false signatures.
    /// (It takes the group's `t` to be `(reports − 1) / 2`, exact for `t = 1`.)
    ForgeReports,
}

impl Behaviour {
    /// Every behaviour with its name, as `--byzantine` takes it.
    pub const ALL: [(&'static str, Behaviour); 8] = [
        ("wrong-replies", Behaviour::WrongReplies),
        ("silent", Behaviour::Silent),
        ("equivocate", Behaviour::Equivocate),
        ("mute", Behaviour::Mute),
        ("wrong-nested", Behaviour::WrongNested),
        ("corrupt-state", Behaviour::CorruptState),
        ("equivocate-reports", Behaviour::EquivocateReports),
        ("forge-reports", Behaviour::ForgeReports),
    ];

    /// The behaviour called `name`.
    pub fn parse(name: &str) -> Option<Behaviour> {
        Behaviour::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
    }

    /// The names, for messages.
    pub fn names() -> String {
        Behaviour::ALL.map(|(n, _)| n).join(", ")
    }

    /// Applies the behaviour to a message for host `to`; false when it is not
    /// sent. `keys` are the lying host's own: what it alters and signs again
    /// carries a valid signature of its host, never of another.
    pub fn apply(self, to: HostId, msg: &mut Message, keys: &ProofKeys) -> bool {
        if let (Behaviour::WrongNested, Message::View(vs)) = (self, &mut *msg) {
            if let VsMessage::Propose {
                decision: Decision::StartVote { spec, .. },
            } = &mut **vs
            {
                spec.replicas = spec.replicas.saturating_add(1);
            }
            return true;
        }
        let Message::Group(group_msg) = msg else {
            return true;
        };
        match (self, group_msg) {
            (Behaviour::EquivocateReports, GroupMessage::Pbft { group, msg }) => {
                if let PbftMessage::ViewChange(vc) | PbftMessage::ViewChangeAnswer(vc) = &mut **msg
                {
                    if to.0 % 2 == 1 && vc.sender.host == keys.me() {
                        let mut report = vc.report.clone();
                        report.slots.clear();
                        *vc = SignedViewChange::sign(keys, *group, vc.sender, report);
                    }
                }
                true
            }
            (Behaviour::ForgeReports, GroupMessage::Pbft { group, msg }) => {
                if let PbftMessage::NewView {
                    reports,
                    stable,
                    stable_digest,
                    batches,
                    ..
                } = &mut **msg
                {
                    for vc in reports.iter_mut() {
                        for slot in &mut vc.report.slots {
                            slot.prepared = None;
                        }
                        if vc.sender.host == keys.me() {
                            *vc =
                                SignedViewChange::sign(keys, *group, vc.sender, vc.report.clone());
                        }
                    }
                    let forged = SignedViewChange::reports(reports.iter());
                    let t = reports.len().saturating_sub(1) / 2;
                    if let Some(decision) = decide_new_view(&forged, t) {
                        *stable = decision.stable;
                        *stable_digest = decision.stable_digest;
                        *batches = decision.batches;
                    }
                }
                true
            }
            (Behaviour::Equivocate, GroupMessage::Pbft { msg, .. }) => {
                if to.0 % 2 == 1 {
                    let twist = |batch: &mut Vec<LogEntry>| {
                        if batch.len() >= 2 {
                            batch.reverse();
                        } else {
                            batch.clear();
                        }
                    };
                    match &mut **msg {
                        PbftMessage::PrePrepare { batch, .. } => twist(batch),
                        PbftMessage::NewView { batches, .. } => batches.iter_mut().for_each(twist),
                        _ => {}
                    }
                }
                true
            }
            (
                Behaviour::Mute,
                GroupMessage::Pbft { .. }
                | GroupMessage::Reply { .. }
                | GroupMessage::Working { .. }
                | GroupMessage::Ready { .. },
            ) => false,
            (Behaviour::WrongReplies, GroupMessage::Reply { payload, .. }) => {
                twist_last_byte(payload);
                true
            }
            (
                Behaviour::WrongNested,
                GroupMessage::Request {
                    request, payload, ..
                },
            ) => {
                if matches!(request.client, ClientId::Group(_)) {
                    twist_last_byte(payload);
                }
                true
            }
            (Behaviour::CorruptState, GroupMessage::Pbft { msg, .. }) => {
                if let PbftMessage::State { state } = &mut **msg {
                    state.position = state.position.wrapping_add(1);
                }
                true
            }
            (
                Behaviour::Silent,
                GroupMessage::Reply { .. }
                | GroupMessage::Working { .. }
                | GroupMessage::Ready { .. },
            ) => false,
            _ => true,
        }
    }
}

/// The behaviours one lying host combines (`wrong-replies,equivocate`), in
/// the order given: each may alter a message, and one that drops it ends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behaviours(Vec<Behaviour>);

impl Behaviours {
    /// Comma-separated behaviour names, at least one, none twice.
    pub fn parse(text: &str) -> Result<Behaviours, String> {
        let mut out = Vec::new();
        for name in text.split(',') {
            let name = name.trim();
            let Some(b) = Behaviour::parse(name) else {
                return Err(format!(
                    "`{name}` is not a behaviour (one of {})",
                    Behaviour::names()
                ));
            };
            if out.contains(&b) {
                return Err(format!("`{name}` is given twice"));
            }
            out.push(b);
        }
        Ok(Behaviours(out))
    }

    /// Applies every behaviour to a message for host `to`; false when it is
    /// not sent. `keys`: the lying host's own.
    pub fn apply(&self, to: HostId, msg: &mut Message, keys: &ProofKeys) -> bool {
        self.0.iter().all(|b| b.apply(to, msg, keys))
    }
}

impl std::fmt::Display for Behaviours {
    /// The names as `--byzantine` takes them: `wrong-replies,equivocate`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .0
            .iter()
            .filter_map(|b| Behaviour::ALL.iter().find(|(_, x)| x == b).map(|(n, _)| *n))
            .collect();
        f.write_str(&names.join(","))
    }
}

/// A plausible wrong value: the last byte changed (one added to an empty payload).
fn twist_last_byte(payload: &mut Vec<u8>) {
    match payload.last_mut() {
        Some(last) => *last ^= 1,
        None => payload.push(1),
    }
}
