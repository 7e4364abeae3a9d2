//! Every message hosts exchange, one enum per protocol layer.

use crate::types::Incarnation;
use serde::{Deserialize, Serialize};

/// A message between host cores (the driver adds sender id and incarnation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Failure detection: "I am alive in this incarnation".
    Heartbeat { incarnation: Incarnation },
    /// The view service's consensus protocol.
    View(crate::view_service::VsMessage),
    /// A server group's replication protocol (sequencer, flush, state transfer) and
    /// client requests and replies.
    Group(crate::group::GroupMessage),
}
