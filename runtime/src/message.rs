//! Every message hosts exchange, one enum per protocol layer.

use crate::types::Incarnation;
use serde::{Deserialize, Serialize};

/// The largest encoded message (or batch of messages) hosts exchange; the
/// transport drops and logs anything larger. Anything up to it may exceed a
/// frame: the transport sends it in chunks.
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

/// The largest argument payload of a call: room is left for the rest of the
/// request. A larger call fails at once with `server_failure`.
pub const MAX_CALL_BYTES: usize = MAX_MESSAGE_BYTES - (1 << 20);

/// Hands `send` one copy of `msg` for each of `to`, in order; the last one
/// gets `msg` itself (one clone fewer than a copy for each: a message may
/// carry a whole batch).
pub(crate) fn one_copy_each<K, T: Clone>(
    to: impl IntoIterator<Item = K>,
    msg: T,
    mut send: impl FnMut(K, T),
) {
    let mut to = to.into_iter().peekable();
    while let Some(k) = to.next() {
        if to.peek().is_none() {
            send(k, msg);
            return;
        }
        send(k, msg.clone());
    }
}

/// A message between host cores (the driver adds sender id and incarnation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Failure detection: "I am alive in this incarnation".
    Heartbeat { incarnation: Incarnation },
    /// The view service's consensus protocol.
    /// Boxed: view-service messages are rare and large, and every message
    /// pays for the largest variant each time it is moved.
    View(Box<crate::view_service::VsMessage>),
    /// A server group's replication protocol (sequencer, flush, state transfer) and
    /// client requests and replies.
    Group(crate::group::GroupMessage),
    /// A bare request to another host's core, answered at once with
    /// [`Message::Echoed`] carrying the same token and payload: a round trip
    /// through the transport and both cores without any protocol (the floor
    /// `ftbench` measures calls against).
    Echo {
        token: u64,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// The answer to a [`Message::Echo`].
    Echoed {
        token: u64,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
}

impl Message {
    /// A cheap lower bound of the message's encoded size: the lengths of the
    /// byte payloads it carries (arguments, replies, snapshots). The transport
    /// uses it to tell large messages from the rest without encoding them.
    pub fn bulk_bytes(&self) -> usize {
        match self {
            Message::Heartbeat { .. } | Message::View(_) => 0,
            Message::Group(g) => g.bulk_bytes(),
            Message::Echo { payload, .. } | Message::Echoed { payload, .. } => payload.len(),
        }
    }
}

#[cfg(test)]
mod copies_tests {
    use super::one_copy_each;

    #[test]
    fn every_target_gets_one_copy_in_order() {
        let mut got = Vec::new();
        one_copy_each([3, 1, 2], "m".to_string(), |k, m| got.push((k, m)));
        assert_eq!(got, [(3, "m".into()), (1, "m".into()), (2, "m".into())]);
        let mut none: Vec<(u8, String)> = Vec::new();
        one_copy_each([], "m".to_string(), |k, m| none.push((k, m)));
        assert!(none.is_empty());
    }
}
