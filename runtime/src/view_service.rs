//! The view service: a majority-quorum replicated log of cluster decisions that
//! installs one totally ordered sequence of views per server group.

use serde::{Deserialize, Serialize};

/// Messages of the view service's consensus protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum VsMessage {}
