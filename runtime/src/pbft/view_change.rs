//! The view change: replicas that suspect the primary report what they
//! prepared and pre-prepared, each report signed with its sender's host key;
//! the next primary decides, from `2t+1` reports, the checkpoint to start
//! from and the batch of every sequence number above it, and sends the
//! signed reports with its decision. Every backup checks the signatures and
//! recomputes the decision from exactly those reports before it follows (no
//! proof is taken on the new primary's word), so a replica that reports
//! differently to different members cannot make them disagree.

use super::messages::{batch_digest, Digest, PbftMessage, SignedViewChange, ViewChange};
use super::{Pbft, PbftStatus, WINDOW};
use crate::group::{GroupOutput, LogEntry};
use crate::types::{Micros, ReplicaId};
use std::collections::BTreeMap;

/// Most views ahead of its own a replica keeps reports for.
const VIEWS_AHEAD_MAX: u64 = 64;

/// What a new view starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewViewDecision {
    pub stable: u64,
    pub stable_digest: Digest,
    /// The batches at `stable + 1 ..` (empty: the null request).
    pub batches: Vec<Vec<LogEntry>>,
}

/// The decision of a new view from the view changes `vcs` of a group that
/// tolerates `t` liars, or `None` when these reports do not settle it yet.
///
/// At least `2t+1` reports must come from replicas that kept their logs
/// (not [`ViewChange::amnesiac`]): a recruit that replaced a member cannot
/// speak for what that member prepared, so the safety argument below needs
/// `2t+1` others, and only they count towards a null request.
///
/// The checkpoint is the highest `(s, d)` that `t+1` reports hold (one is
/// correct) and at or above which `2t+1` reports start. A sequence number
/// `n` above it gets the batch `(v, d)` one report prepared when `2t+1`
/// reports starting below `n` do not contradict it (they prepared nothing at
/// `n`, or in a lower view, or the same) and `t+1` reports pre-prepared `d`
/// in view `v` or later; it gets the null request when `2t+1` such reports
/// prepared nothing there. A batch committed in an earlier view was prepared
/// by `t+1` correct replicas, one of which is in any `2t+1` reports, so no
/// other batch and no null request can be chosen for it.
pub fn decide_new_view(vcs: &BTreeMap<ReplicaId, ViewChange>, t: usize) -> Option<NewViewDecision> {
    let quorum = 2 * t + 1;
    let weak = t + 1;
    if vcs.values().filter(|vc| !vc.amnesiac).count() < quorum {
        return None;
    }
    let mut checkpoints: Vec<(u64, Digest)> = vcs
        .values()
        .flat_map(|vc| vc.checkpoints.iter().copied())
        .collect();
    checkpoints.sort_unstable();
    checkpoints.dedup();
    let (stable, stable_digest) = checkpoints.into_iter().rev().find(|(s, d)| {
        vcs.values().filter(|vc| vc.stable <= *s).count() >= quorum
            && vcs
                .values()
                .filter(|vc| vc.checkpoints.contains(&(*s, *d)))
                .count()
                >= weak
    })?;
    let max_seq = vcs
        .values()
        .flat_map(|vc| vc.slots.iter().map(|s| s.seq))
        .filter(|s| *s > stable && *s <= stable + WINDOW)
        .max()
        .unwrap_or(stable);
    let mut batches = Vec::new();
    for n in stable + 1..=max_seq {
        let participants: Vec<&ViewChange> = vcs.values().filter(|vc| vc.stable < n).collect();
        let prepared_at = |vc: &ViewChange| {
            vc.slots
                .iter()
                .find(|s| s.seq == n)
                .and_then(|s| s.prepared)
        };
        let mut candidates: Vec<(u64, Digest)> = participants
            .iter()
            .filter_map(|vc| prepared_at(vc))
            .collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        candidates.dedup();
        let chosen = candidates.into_iter().find_map(|(v, d)| {
            let not_contradicting = participants
                .iter()
                .filter(|vc| prepared_at(vc).is_none_or(|(pv, pd)| pv < v || (pv == v && pd == d)))
                .count();
            let pre_prepared = vcs
                .values()
                .filter(|vc| {
                    vc.slots.iter().any(|s| {
                        s.seq == n && s.pre_prepared.iter().any(|(qv, qd)| *qv >= v && *qd == d)
                    })
                })
                .count();
            if not_contradicting < quorum || pre_prepared < weak {
                return None;
            }
            vcs.values()
                .flat_map(|vc| vc.slots.iter().filter(|s| s.seq == n))
                .flat_map(|s| s.batches.iter())
                .find(|b| batch_digest(b) == d)
                .cloned()
        });
        match chosen {
            Some(batch) => batches.push(batch),
            None => {
                let empty = participants
                    .iter()
                    .filter(|vc| !vc.amnesiac && prepared_at(vc).is_none())
                    .count();
                if empty >= quorum {
                    batches.push(Vec::new());
                } else {
                    return None;
                }
            }
        }
    }
    Some(NewViewDecision {
        stable,
        stable_digest,
        batches,
    })
}

impl Pbft {
    /// Suspects the primary: moves to view `view` and reports.
    pub(super) fn start_view_change(&mut self, now: Micros, view: u64, out: &mut Vec<GroupOutput>) {
        if view <= self.pview {
            return;
        }
        self.pview = view;
        self.status = PbftStatus::ViewChange;
        self.view_since = now;
        self.new_view = None;
        self.requests.clear_proposed();
        self.proposed_calls.clear();
        self.proposed_timers.clear();
        self.proposed_departures.clear();
        for slot in self.slots.values_mut() {
            slot.leave_view();
        }
        self.view_changes.retain(|v, _| *v >= view);
        self.my_view_change = None;
        self.report_view_change(out);
        self.try_new_view(now, out);
    }

    /// Sends this replica's report for the view it moves to, once it holds a
    /// state (a recruit reports when its state transfer completes).
    pub(super) fn report_view_change(&mut self, out: &mut Vec<GroupOutput>) {
        if !self.initialized || self.status != PbftStatus::ViewChange {
            return;
        }
        if self
            .my_view_change
            .as_ref()
            .is_some_and(|vc| vc.report.view == self.pview)
        {
            return;
        }
        let view = self.pview;
        let mut checkpoints = vec![(self.stable, self.stable_digest)];
        checkpoints.extend(self.own_checkpoints.iter().map(|(s, (d, _))| (*s, *d)));
        let report = ViewChange {
            view,
            stable: self.stable,
            checkpoints,
            slots: self
                .slots
                .iter()
                .filter(|(seq, _)| **seq <= self.stable + WINDOW)
                .filter(|(_, s)| {
                    s.prepared.is_some() || !s.pre_prepared.is_empty() || s.committed.is_some()
                })
                .map(|(seq, s)| s.report(*seq))
                .collect(),
            amnesiac: self.amnesiac,
        };
        let signed =
            SignedViewChange::sign(&self.proofs, self.config.group, self.config.me, report);
        self.view_changes
            .entry(view)
            .or_default()
            .insert(self.config.me, signed.clone());
        self.broadcast(PbftMessage::ViewChange(signed.clone()), out);
        self.my_view_change = Some(signed);
    }

    /// True when `report` is a well-formed report from `from`, signed by its
    /// host for this group.
    fn proven_report(&self, from: ReplicaId, report: &SignedViewChange) -> bool {
        let vc = &report.report;
        let sane = vc
            .slots
            .iter()
            .all(|s| s.seq > vc.stable && s.seq <= vc.stable + WINDOW)
            && vc.slots.len() as u64 <= WINDOW
            && vc.checkpoints.len() as u64 <= WINDOW;
        sane && report.sender == from && report.verify(&self.proofs, self.config.group)
    }

    pub(super) fn on_view_change(
        &mut self,
        now: Micros,
        from: ReplicaId,
        vc: SignedViewChange,
        answer: bool,
        out: &mut Vec<GroupOutput>,
    ) {
        let view = vc.report.view;
        if view + 1 < self.pview
            || view > self.pview + VIEWS_AHEAD_MAX
            || !self.proven_report(from, &vc)
        {
            self.dropped += 1;
            return;
        }
        if view < self.pview {
            return;
        }
        self.view_changes.entry(view).or_default().insert(from, vc);
        if view == self.pview && self.status == PbftStatus::Normal {
            if answer {
                return;
            }
            // The sender still moves into our view: help it.
            if self.is_primary() {
                if let Some(nv) = self.new_view.clone() {
                    self.send(from, nv, out);
                }
            }
            if let Some(mine) = self
                .my_view_change
                .clone()
                .filter(|m| m.report.view == view)
            {
                self.send(from, PbftMessage::ViewChangeAnswer(mine), out);
            }
            return;
        }
        // `t+1` replicas moved beyond our view: at least one correct one did.
        let ahead: BTreeMap<ReplicaId, u64> = self
            .view_changes
            .range(self.pview + 1..)
            .flat_map(|(v, vcs)| vcs.keys().map(move |r| (*r, *v)))
            .collect();
        if ahead.len() >= self.weak() {
            if let Some(target) = ahead.values().min().copied() {
                self.start_view_change(now, target, out);
                return;
            }
        }
        if self.status == PbftStatus::ViewChange && view == self.pview {
            self.try_new_view(now, out);
        }
    }

    /// The new primary decides once `2t+1` reports settle the view; a backup
    /// checks a received new-view message against the reports it holds.
    pub(super) fn try_new_view(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.status != PbftStatus::ViewChange {
            return;
        }
        if !self.is_primary() {
            self.try_accept_new_view(now, out);
            return;
        }
        if !self.initialized {
            return;
        }
        let Some(vcs) = self.view_changes.get(&self.pview) else {
            return;
        };
        if vcs.len() < self.quorum() {
            return;
        }
        // Held reports are keyed by their checked sender (`proven_report`).
        let Some(decision) = decide_new_view(&SignedViewChange::reports(vcs.values()), self.t)
        else {
            return;
        };
        let msg = PbftMessage::NewView {
            view: self.pview,
            reports: vcs.values().cloned().collect(),
            stable: decision.stable,
            stable_digest: decision.stable_digest,
            batches: decision.batches.clone(),
        };
        self.broadcast(msg.clone(), out);
        self.new_view = Some(msg);
        self.install_new_view(now, decision, out);
    }

    pub(super) fn on_new_view(
        &mut self,
        now: Micros,
        from: ReplicaId,
        msg: PbftMessage,
        out: &mut Vec<GroupOutput>,
    ) {
        let PbftMessage::NewView { view, .. } = &msg else {
            return;
        };
        let view = *view;
        if Some(from) != self.primary_of(view)
            || view < self.pview
            || view > self.pview + VIEWS_AHEAD_MAX
        {
            self.dropped += 1;
            return;
        }
        if view == self.pview && self.status == PbftStatus::Normal {
            return;
        }
        if view > self.pview {
            self.start_view_change(now, view, out);
        }
        self.new_view = Some(msg);
        self.try_accept_new_view(now, out);
    }

    fn try_accept_new_view(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        let Some(PbftMessage::NewView {
            view,
            reports,
            stable,
            stable_digest,
            batches,
        }) = self.new_view.clone()
        else {
            return;
        };
        if view != self.pview || self.status != PbftStatus::ViewChange {
            return;
        }
        // Every report the primary decided from is checked here: a member's,
        // for this view, once, and signed by its sender's host.
        let used = SignedViewChange::reports(&reports);
        let proven = used.len() == reports.len()
            && used.len() >= self.quorum()
            && reports.iter().all(|vc| {
                self.is_member(vc.sender)
                    && vc.report.view == view
                    && (self.bugs.new_view_reports_unchecked || self.proven_report(vc.sender, vc))
            });
        if !proven {
            // The primary forged or left out proofs: wait for the next view.
            self.dropped += 1;
            self.new_view = None;
            return;
        }
        let expected = decide_new_view(&used, self.t);
        let claimed = NewViewDecision {
            stable,
            stable_digest,
            batches,
        };
        let same = expected.as_ref().is_some_and(|e| {
            e.stable == claimed.stable
                && e.stable_digest == claimed.stable_digest
                && e.batches.len() == claimed.batches.len()
                && e.batches
                    .iter()
                    .zip(&claimed.batches)
                    .all(|(a, b)| batch_digest(a) == batch_digest(b))
        });
        if !same {
            // The primary lied about the reports: wait for the next view.
            self.dropped += 1;
            self.new_view = None;
            return;
        }
        self.install_new_view(now, claimed, out);
    }

    fn install_new_view(
        &mut self,
        now: Micros,
        decision: NewViewDecision,
        out: &mut Vec<GroupOutput>,
    ) {
        self.status = PbftStatus::Normal;
        self.view_since = now;
        // Decided from 2t+1 reports of replicas that kept their logs: every
        // batch the old members may have committed is in this decision, so a
        // recruit heals once it has executed up to its end.
        if self.amnesiac {
            let end = decision.stable + decision.batches.len() as u64;
            self.heal_at = Some(self.heal_at.map_or(end, |h| h.max(end)));
        }
        let view = self.pview;
        let me = self.config.me;
        let primary = self.is_primary();
        if decision.stable > self.last_exec || !self.initialized {
            self.want_state = Some((decision.stable, decision.stable_digest));
            self.state_asked = None;
        }
        let mut seq = decision.stable;
        for batch in decision.batches {
            seq += 1;
            if seq <= self.stable || seq > self.stable + WINDOW {
                // Below: executed and truncated. Above the window: fetched
                // once the state at the new view's checkpoint is installed.
                continue;
            }
            let digest = batch_digest(&batch);
            let slot = self.slots.entry(seq).or_default();
            debug_assert!(
                seq > self.last_exec
                    || slot.committed.is_none_or(|d| d == digest)
                    || cfg!(feature = "planted-bugs"),
                "new view {view} re-proposes another batch at executed seq {seq}"
            );
            slot.accept(view, digest, batch.clone());
            if !primary {
                slot.prepares.entry((view, digest)).or_default().insert(me);
                self.broadcast(PbftMessage::Prepare { view, seq, digest }, out);
            } else {
                self.mark_proposed(&batch);
            }
        }
        self.next_seq = seq.max(self.last_exec).max(self.stable);
        self.maybe_heal();
        for r in self.requests.values_mut() {
            r.since = now;
        }
        for o in self.outcomes.values_mut() {
            o.since = now;
        }
        let seqs: Vec<u64> = self.slots.keys().copied().collect();
        for s in seqs {
            self.check_progress(now, s, out);
        }
        if primary {
            self.propose(now, out);
        }
        self.catch_up(now, out);
    }
}
