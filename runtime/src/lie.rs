//! Byzantine behaviours for fault injection: what a lying host does to the
//! answers its replicas send (`ftc run --byzantine hN@S=behaviour`, a kernel's
//! `--byzantine BEHAVIOUR`). A lying kernel starts lying when it receives
//! SIGUSR1; until then it is correct. The protocols never call this module.
//!
//! ```
//! use ftc_runtime::group::GroupMessage;
//! use ftc_runtime::lie::Behaviour;
//! use ftc_runtime::message::Message;
//! use ftc_runtime::types::{ClientId, GroupId, HostId, Incarnation, RequestId};
//!
//! let request = RequestId {
//!     client: ClientId::Host { host: HostId(1), incarnation: Incarnation(1), local: 0 },
//!     seq: 1,
//! };
//! let mut msg = Message::Group(GroupMessage::Reply { group: GroupId(1), request, payload: vec![0, 42] });
//! assert!(Behaviour::WrongReplies.apply(&mut msg), "sent, but changed");
//! let Message::Group(GroupMessage::Reply { payload, .. }) = &msg else { unreachable!() };
//! assert_ne!(payload, &vec![0, 42]);
//! assert!(!Behaviour::Silent.apply(&mut msg), "not sent at all");
//! ```

use crate::group::GroupMessage;
use crate::message::Message;

/// What a lying host does to the replies (and "working" and "ready" notices)
/// its replicas send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Every reply carries a different, plausible answer (its last byte changed).
    WrongReplies,
    /// No reply, "working" or "ready" notice leaves the host.
    Silent,
}

impl Behaviour {
    /// Every behaviour with its name, as `--byzantine` takes it.
    pub const ALL: [(&'static str, Behaviour); 2] = [
        ("wrong-replies", Behaviour::WrongReplies),
        ("silent", Behaviour::Silent),
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

    /// Applies the behaviour to an outgoing message; false when it is not sent.
    pub fn apply(self, msg: &mut Message) -> bool {
        let Message::Group(group_msg) = msg else {
            return true;
        };
        match (self, group_msg) {
            (Behaviour::WrongReplies, GroupMessage::Reply { payload, .. }) => {
                match payload.last_mut() {
                    Some(last) => *last ^= 1,
                    None => payload.push(1),
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
