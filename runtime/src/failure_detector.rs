//! Heartbeat failure detection: suspects hosts it has not heard from; only the
//! view service turns a suspicion into a failure.

use crate::host::Timing;
use crate::types::{HostId, Incarnation, Micros, TimerId};

/// What the failure detector asks of its host core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FdOutput {
    /// Send a heartbeat to this host.
    Heartbeat { to: HostId },
    /// A timer in [`crate::types::TimerSpace::FailureDetector`].
    SetTimer { timer: TimerId, at: Micros },
    /// Report to the view service: this incarnation of the host has been silent too long.
    Suspect {
        host: HostId,
        incarnation: Incarnation,
    },
    /// First heartbeat from this incarnation of the host.
    HeardFrom {
        host: HostId,
        incarnation: Incarnation,
    },
}

/// One host's failure detector.
pub struct FailureDetector {
    #[allow(dead_code)]
    me: HostId,
}

impl FailureDetector {
    pub fn new(me: HostId, _cluster: &[HostId], _timing: &Timing) -> FailureDetector {
        FailureDetector { me }
    }

    pub fn on_start(&mut self, _now: Micros, _out: &mut Vec<FdOutput>) {}

    /// A heartbeat (or any message) arrived from `host` in `incarnation`.
    pub fn on_heartbeat(
        &mut self,
        _now: Micros,
        _host: HostId,
        _incarnation: Incarnation,
        _out: &mut Vec<FdOutput>,
    ) {
    }

    pub fn on_timer(&mut self, _now: Micros, _timer: TimerId, _out: &mut Vec<FdOutput>) {}
}
