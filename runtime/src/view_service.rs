//! The view service: a majority-quorum replicated log of cluster decisions that
//! installs one totally ordered sequence of views per server group.
//!
//! See `docs/replication.md`, "View service". Every host runs one participant;
//! the host core feeds it messages, timers, local suspicions and local server
//! creation requests, and receives [`VsOutput`]s.

use crate::host::Timing;
use crate::types::{GroupId, GroupView, HostId, Incarnation, Micros, ServerSpec, TimerId};
use serde::{Deserialize, Serialize};

/// Messages of the view service's consensus protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum VsMessage {}

/// What the participant asks its host core to do or tells it.
#[derive(Clone, Debug, PartialEq)]
pub enum VsOutput {
    Send {
        to: HostId,
        msg: VsMessage,
    },
    /// A timer in [`crate::types::TimerSpace::ViewService`].
    SetTimer {
        timer: TimerId,
        at: Micros,
    },
    /// A newly committed view; for each group, views arrive in `view_id` order.
    View(GroupView),
    /// The `start_server` request with this token (made on this host) was decided.
    StartDecided {
        token: u64,
        result: Result<GroupId, String>,
    },
    /// The view service declared this host's current incarnation failed: the host
    /// must drop its replicas and rejoin as a new incarnation.
    Excluded,
}

/// One host's view-service participant.
pub struct ViewService {
    #[allow(dead_code)]
    me: HostId,
}

impl ViewService {
    pub fn new(
        me: HostId,
        _incarnation: Incarnation,
        _cluster: &[HostId],
        _timing: &Timing,
        _seed: u64,
    ) -> ViewService {
        ViewService { me }
    }

    /// The host just started.
    pub fn on_start(&mut self, _now: Micros, _out: &mut Vec<VsOutput>) {}

    pub fn on_message(
        &mut self,
        _now: Micros,
        _from: HostId,
        _from_incarnation: Incarnation,
        _msg: VsMessage,
        _out: &mut Vec<VsOutput>,
    ) {
    }

    /// A view-service timer is due.
    pub fn on_timer(&mut self, _now: Micros, _timer: TimerId, _out: &mut Vec<VsOutput>) {}

    /// The local failure detector suspects this incarnation of `host`.
    pub fn suspect(
        &mut self,
        _now: Micros,
        _host: HostId,
        _incarnation: Incarnation,
        _out: &mut Vec<VsOutput>,
    ) {
    }

    /// The local failure detector heard from `host` in this incarnation (a new
    /// incarnation asks to join through this).
    pub fn heard_from(
        &mut self,
        _now: Micros,
        _host: HostId,
        _incarnation: Incarnation,
        _out: &mut Vec<VsOutput>,
    ) {
    }

    /// A local client's `server C …`: idempotent by `(this host's incarnation, token)`.
    pub fn start_server(
        &mut self,
        _now: Micros,
        _token: u64,
        _spec: ServerSpec,
        _out: &mut Vec<VsOutput>,
    ) {
    }

    /// The newest committed view of `group` this participant knows.
    pub fn view(&self, _group: GroupId) -> Option<&GroupView> {
        None
    }
}
