//! Exact tests of the byzantine engine's new-view decision: which batch a
//! sequence number gets from a set of view-change reports, and when the
//! reports do not settle it (recruits' amnesiac reports included); and of a
//! backup vouching for a pre-prepare whose requests arrive after it.

use super::messages::{batch_digest, Digest, PbftMessage, ReportedSlot, ViewChange};
use super::view_change::decide_new_view;
use super::Pbft;
use crate::group::{GroupMessage, GroupOutput, LogEntry, ReplicaConfig};
use crate::identity::ProofKeys;
use crate::protocol::GroupProtocol;
use crate::types::{
    ClientId, GroupId, GroupView, HostId, Incarnation, Model, ReplicaId, RequestId, ServerSpec,
};
use std::collections::BTreeMap;
use std::sync::Arc;

fn replica(host: u32) -> ReplicaId {
    ReplicaId {
        host: HostId(host),
        incarnation: Incarnation(1),
    }
}

/// A batch of one command of client `c`.
fn batch(c: u32) -> Vec<LogEntry> {
    let request = RequestId {
        client: ClientId::Host {
            host: HostId(c),
            incarnation: Incarnation(1),
            local: 0,
        },
        seq: 1,
    };
    vec![LogEntry::Command {
        request,
        payload: vec![u8::try_from(c).unwrap_or(0)],
        low_water: 1,
    }]
}

const CHECKPOINT: Digest = [7; 32];

/// A report from a replica at checkpoint 0 with `slots`.
fn report(slots: Vec<ReportedSlot>, amnesiac: bool) -> ViewChange {
    ViewChange {
        view: 5,
        stable: 0,
        checkpoints: vec![(0, CHECKPOINT)],
        slots,
        amnesiac,
    }
}

/// Sequence number 1: `b` prepared in view `prepared_in` (if any) and
/// pre-prepared in view `pre_prepared_in`.
fn slot(b: &[LogEntry], prepared_in: Option<u64>, pre_prepared_in: u64) -> ReportedSlot {
    let d = batch_digest(b);
    ReportedSlot {
        seq: 1,
        prepared: prepared_in.map(|v| (v, d)),
        pre_prepared: vec![(pre_prepared_in, d)],
        batches: vec![b.to_vec()],
    }
}

fn reports(list: Vec<ViewChange>) -> BTreeMap<ReplicaId, ViewChange> {
    list.into_iter()
        .enumerate()
        .map(|(i, vc)| (replica(u32::try_from(i).unwrap_or(0)), vc))
        .collect()
}

#[test]
fn three_empty_reports_give_the_null_batch() {
    let vcs = reports(vec![
        report(vec![], false),
        report(vec![], false),
        report(vec![], false),
        report(vec![slot(&batch(1), None, 2)], false),
    ]);
    let d = decide_new_view(&vcs, 1).expect("settled");
    assert_eq!(d.stable, 0);
    assert_eq!(d.stable_digest, CHECKPOINT);
    assert_eq!(d.batches, vec![Vec::<LogEntry>::new()]);
}

#[test]
fn a_prepared_batch_pre_prepared_by_two_is_chosen() {
    let b = batch(1);
    let vcs = reports(vec![
        report(vec![slot(&b, Some(2), 2)], false),
        report(vec![slot(&b, None, 2)], false),
        report(vec![], false),
    ]);
    let d = decide_new_view(&vcs, 1).expect("settled");
    assert_eq!(d.batches, vec![b]);
}

#[test]
fn one_report_of_a_prepared_batch_blocks_the_null_batch() {
    // Two say nothing, one prepared a batch only it pre-prepared: neither the
    // batch (t+1 pre-prepares missing) nor the null batch (2t+1 empty) yet.
    let vcs = reports(vec![
        report(vec![slot(&batch(1), Some(2), 2)], false),
        report(vec![], false),
        report(vec![], false),
    ]);
    assert_eq!(decide_new_view(&vcs, 1), None);
}

#[test]
fn amnesiac_reports_never_count_towards_the_null_batch() {
    // The batch was committed by members two recruits replaced: one correct
    // preparer is left. The recruits' silence must not outvote it.
    let vcs = reports(vec![
        report(vec![slot(&batch(1), Some(2), 2)], false),
        report(vec![], false),
        report(vec![], true),
        report(vec![], true),
    ]);
    assert_eq!(decide_new_view(&vcs, 1), None);
}

#[test]
fn fewer_than_2t_plus_1_reports_that_kept_their_logs_settle_nothing() {
    let vcs = reports(vec![
        report(vec![], false),
        report(vec![], false),
        report(vec![], true),
    ]);
    assert_eq!(decide_new_view(&vcs, 1), None);
    let mut with_third = vcs.clone();
    with_third.insert(replica(9), report(vec![], false));
    let d = decide_new_view(&with_third, 1).expect("settled with a third");
    assert!(d.batches.is_empty(), "no sequence number reported");
}

#[test]
fn a_later_view_wins_over_an_earlier_prepared_batch() {
    let old = batch(1);
    let new = batch(2);
    let vcs = reports(vec![
        report(vec![slot(&old, Some(1), 1)], false),
        report(vec![slot(&new, Some(3), 3)], false),
        report(vec![slot(&new, None, 3)], false),
    ]);
    let d = decide_new_view(&vcs, 1).expect("settled");
    assert_eq!(d.batches, vec![new]);
}

#[test]
fn the_checkpoint_needs_t_plus_1_holders() {
    let other: Digest = [9; 32];
    let mut lone = report(vec![], false);
    lone.checkpoints.push((32, other));
    let vcs = reports(vec![lone, report(vec![], false), report(vec![], false)]);
    let d = decide_new_view(&vcs, 1).expect("settled");
    assert_eq!(
        (d.stable, d.stable_digest),
        (0, CHECKPOINT),
        "one holder is not enough"
    );
}

/// A backup (host 2) of a fresh 4-member group (hosts 1-4, primary host 1).
fn backup() -> Pbft {
    let hosts: Vec<HostId> = (1..=4).map(HostId).collect();
    let view = GroupView {
        group: GroupId(1),
        view_id: 1,
        members: (1..=4).map(replica).collect(),
        joining: vec![],
        spec: ServerSpec {
            class: crate::kv_app::KV_CLASS.into(),
            model: Model::Byzantine,
            tolerate: 1,
            replicas: 4,
            hosts: vec![],
            disjoint_key: None,
            priority: 0,
            durable: None,
        },
        failed: false,
    };
    let config = ReplicaConfig {
        group: GroupId(1),
        me: replica(2),
        retry_us: 1_000,
        call_deadline_us: 1_000_000,
        #[cfg(feature = "planted-bugs")]
        bugs: Default::default(),
    };
    let proofs = Arc::new(ProofKeys::simulated(HostId(2), &hosts, 1));
    let app = Box::new(crate::kv_app::KvStore::default());
    Pbft::new(0, config, proofs, app, view, true, &mut Vec::new())
}

/// Whether `out` holds this backup's prepare for sequence number `seq`.
fn prepares(out: &[GroupOutput], seq: u64) -> bool {
    out.iter().any(|o| match o {
        GroupOutput::Send {
            msg: GroupMessage::Pbft { msg, .. },
            ..
        } => matches!(**msg, PbftMessage::Prepare { seq: s, .. } if s == seq),
        _ => false,
    })
}

#[test]
fn a_held_pre_prepare_is_accepted_when_its_last_request_arrives() {
    let mut b = backup();
    let (first, second) = (batch(9).remove(0), batch(8).remove(0));
    let pre_prepare = PbftMessage::PrePrepare {
        view: 0,
        seq: 1,
        batch: vec![first.clone(), second.clone()],
    };
    let mut out = Vec::new();
    let group = GroupId(1);
    b.on_message(
        10,
        replica(1),
        GroupMessage::Pbft {
            group,
            msg: Box::new(pre_prepare),
        },
        &mut out,
    );
    assert!(!prepares(&out, 1), "no request held yet");
    // The requests come straight from their clients' hosts, the batch's
    // last entry first; no tick runs in between.
    for (i, entry) in [second, first].into_iter().enumerate() {
        let LogEntry::Command {
            request,
            payload,
            low_water,
        } = entry
        else {
            unreachable!("the test's batches hold commands");
        };
        let ClientId::Host { host, .. } = request.client else {
            unreachable!("the test's clients are hosts' clients");
        };
        let msg = GroupMessage::Request {
            group,
            request,
            payload,
            low_water,
        };
        let mut out = Vec::new();
        b.on_message(11 + i as u64, replica(host.0), msg, &mut out);
        assert_eq!(prepares(&out, 1), i == 1, "after request {i}");
    }
}
