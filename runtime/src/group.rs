//! The crash-model group protocol: sequencer ordering, uniform delivery, view-change
//! flush and state transfer for one server group's replicas, plus client requests.

use serde::{Deserialize, Serialize};

/// Messages of the group protocol and client requests/replies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GroupMessage {}
