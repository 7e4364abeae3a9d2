//! The group-protocol seam: the interface every replication protocol's engine
//! implements, so the host core composes replicas without knowing their model.
//!
//! One engine runs per group on each member host: the crash model's
//! [`crate::group::Replica`] (sequencer, uniform delivery, view-change flush)
//! and the byzantine model's [`crate::pbft::Pbft`] (PBFT agreement among
//! `3t+1`). Both are pure,
//! take events and append [`GroupOutput`]s, and both are created by
//! [`new_engine`] from the group's first view of this host. A third protocol
//! is one new module plus one arm of [`new_engine`].

use crate::app::{NestedCallId, StateMachine};
use crate::group::{DiskMirror, DurableCopy, GroupMessage, GroupOutput, Replica, ReplicaConfig};
use crate::identity::ProofKeys;
use crate::pbft::Pbft;
use crate::types::{ClientId, GroupId, GroupView, Micros, Model, ReplicaId};
use std::sync::Arc;

/// What the host core asks of a group's engine on this host.
pub trait GroupProtocol: Send {
    /// A newly committed view of this group from the view service.
    fn on_view(&mut self, now: Micros, view: GroupView, out: &mut Vec<GroupOutput>);
    /// A message about this group, or a reply to one of its nested calls, from
    /// `from` (authenticated by the transport: the host is who it says).
    fn on_message(
        &mut self,
        now: Micros,
        from: ReplicaId,
        msg: GroupMessage,
        out: &mut Vec<GroupOutput>,
    );
    /// A timer asked for with [`GroupOutput::SetTimer`] is due.
    fn on_tick(&mut self, now: Micros, out: &mut Vec<GroupOutput>);
    /// The view service declared `group` (a server this one calls) failed.
    fn on_group_failed(&mut self, now: Micros, group: GroupId, out: &mut Vec<GroupOutput>);
    /// The view service's committed log, as this host knows it, says the
    /// clients `gone` accepts departed: the group forgets those it has
    /// records of, through its log ([`crate::group::LogEntry::Departed`]).
    fn on_departures(
        &mut self,
        now: Micros,
        gone: &dyn Fn(ClientId) -> bool,
        out: &mut Vec<GroupOutput>,
    );
    /// Batching on: normal-operation sends wait for [`GroupProtocol::flush`].
    fn set_batching(&mut self, on: bool, now: Micros, out: &mut Vec<GroupOutput>);
    /// Sends what batching held back.
    fn flush(&mut self, now: Micros, out: &mut Vec<GroupOutput>);
    /// Whether this replica holds the group's state (the view service counts
    /// only state holders as carrying a crash-model group on).
    fn holds_state(&self) -> bool;
    /// The newest view of the view service this engine installed.
    fn view(&self) -> &GroupView;
    /// Log entries executed so far (1-based positions of the group's log).
    fn executed_position(&self) -> u64;
    /// The application's state digest now.
    fn state_digest(&self) -> u64;
    /// The application has outputs ready for an input it ran off the core's
    /// time ([`StateMachine::start_apply`]).
    fn on_app_ready(&mut self, now: Micros, out: &mut Vec<GroupOutput>);
    /// Since when the application has been running an input off the core's
    /// time, and what it runs.
    fn busy(&self) -> Option<(Micros, String)>;
    /// A recruit that cannot yet speak for the log of the member it replaced
    /// (a byzantine group's amnesiac recruit, until it heals): the protocol
    /// counts it among the `t` faulty members, and so does the simulator's
    /// nemesis before it disrupts another host.
    fn is_unhealed_recruit(&self) -> bool {
        false
    }
    /// A durable server's replica: what its disk holds, and — once it
    /// holds the state — that as a copy (taken when the host drops the
    /// replica without restarting, so that a later replica on this host
    /// knows its disk and a next incarnation can bring the server back from
    /// it). `None` for replicas of servers that are not durable.
    fn durable_copy(&self, _now: Micros) -> Option<(DiskMirror, Option<DurableCopy>)> {
        None
    }
    /// A durable server's replica: closes or opens its commit gate (see
    /// [`Replica::set_commit_gate`]). Others ignore it.
    fn set_commit_gate(&mut self, _gated: bool, _now: Micros, _out: &mut Vec<GroupOutput>) {}
    /// The view service decided the start this replica asked for with
    /// [`GroupOutput::StartServer`] (nested call `call`).
    fn on_start_decided(
        &mut self,
        now: Micros,
        call: NestedCallId,
        result: Result<GroupId, String>,
        out: &mut Vec<GroupOutput>,
    );
}

impl GroupProtocol for Replica {
    fn on_start_decided(
        &mut self,
        now: Micros,
        call: NestedCallId,
        result: Result<GroupId, String>,
        out: &mut Vec<GroupOutput>,
    ) {
        Replica::on_start_decided(self, now, call, result, out)
    }
    fn durable_copy(&self, now: Micros) -> Option<(DiskMirror, Option<DurableCopy>)> {
        Replica::durable_copy(self, now)
    }
    fn set_commit_gate(&mut self, gated: bool, now: Micros, out: &mut Vec<GroupOutput>) {
        Replica::set_commit_gate(self, gated, now, out)
    }
    fn on_view(&mut self, now: Micros, view: GroupView, out: &mut Vec<GroupOutput>) {
        Replica::on_view(self, now, view, out)
    }
    fn on_message(
        &mut self,
        now: Micros,
        from: ReplicaId,
        msg: GroupMessage,
        out: &mut Vec<GroupOutput>,
    ) {
        Replica::on_message(self, now, from, msg, out)
    }
    fn on_departures(
        &mut self,
        now: Micros,
        gone: &dyn Fn(ClientId) -> bool,
        out: &mut Vec<GroupOutput>,
    ) {
        Replica::on_departures(self, now, gone, out);
    }
    fn on_tick(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        Replica::on_tick(self, now, out)
    }
    fn on_group_failed(&mut self, now: Micros, group: GroupId, out: &mut Vec<GroupOutput>) {
        Replica::on_group_failed(self, now, group, out)
    }
    fn set_batching(&mut self, on: bool, now: Micros, out: &mut Vec<GroupOutput>) {
        Replica::set_batching(self, on, now, out)
    }
    fn flush(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        Replica::flush(self, now, out)
    }
    fn holds_state(&self) -> bool {
        Replica::holds_state(self)
    }
    fn view(&self) -> &GroupView {
        Replica::view(self)
    }
    fn executed_position(&self) -> u64 {
        Replica::executed_position(self)
    }
    fn state_digest(&self) -> u64 {
        Replica::state_digest(self)
    }
    fn on_app_ready(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        Replica::on_app_ready(self, now, out)
    }
    fn busy(&self) -> Option<(Micros, String)> {
        Replica::busy(self)
    }
}

/// Everything the host core hands a new engine besides the application.
pub struct EngineContext {
    pub config: ReplicaConfig,
    /// The group's first view: every member starts from the initial state.
    pub fresh: bool,
    /// A durable server on a host with stable storage: what the host's disk
    /// holds for the group, and the copy the replica starts from when it
    /// brings a dormant group back (see `group/durable.rs`).
    pub durable: Option<(DiskMirror, Option<DurableCopy>)>,
    /// The host's signing key and every host's public key (byzantine groups
    /// sign their view changes).
    pub proofs: Arc<ProofKeys>,
}

/// Creates the engine of `view.spec.model` for this host's replica of the group.
pub fn new_engine(
    now: Micros,
    ctx: EngineContext,
    app: Box<dyn StateMachine>,
    view: GroupView,
    out: &mut Vec<GroupOutput>,
) -> Box<dyn GroupProtocol> {
    match view.spec.model {
        Model::Correct | Model::Crash => match ctx.durable {
            Some((disk, copy)) => Box::new(Replica::new_durable(
                now, ctx.config, app, view, ctx.fresh, disk, copy, out,
            )),
            None => Box::new(Replica::new(now, ctx.config, app, view, ctx.fresh, out)),
        },
        // The view service refuses durable byzantine servers.
        Model::Byzantine => {
            assert!(ctx.durable.is_none(), "no durable byzantine servers");
            Box::new(Pbft::new(
                now, ctx.config, ctx.proofs, app, view, ctx.fresh, out,
            ))
        }
    }
}
