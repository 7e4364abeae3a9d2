//! The normal case: requests, the primary's batches, pre-prepare → prepare →
//! commit with `2t+1` quorums, nested calls' outcomes and retransmission.

use super::log::Held;
use super::messages::{batch_digest, Digest, PbftMessage};
use super::{
    HeldOutcome, Pbft, PbftStatus, PendingRequest, BATCH_MAX, BLOCKED_MAX, REQUESTS_MAX, WINDOW,
};
use crate::app::{CallOutcome, NestedCallId};
use crate::group::{Callee, GroupMessage, GroupOutput, LogEntry, PendingCall};
use crate::types::{ClientId, Micros, ReplicaId, RequestId};

/// Most uncommitted sequence numbers retransmitted per tick.
const RETRANSMIT_MAX: usize = 16;

impl Pbft {
    pub(super) fn on_request(
        &mut self,
        now: Micros,
        from: ReplicaId,
        request: RequestId,
        payload: Vec<u8>,
        low_water: u64,
        out: &mut Vec<GroupOutput>,
    ) {
        if !self.initialized {
            self.dropped += 1;
            return;
        }
        // A host speaks only for its own clients (the transport authenticated it);
        // a group's requests were voted by the host core.
        if let ClientId::Host { host, .. } = request.client {
            if host != from.host {
                self.dropped += 1;
                return;
            }
        }
        if self.is_duplicate(request) {
            let group = self.config.group;
            let msg = match self.clients.reply(request) {
                Some(Some(payload)) => GroupMessage::Reply {
                    group,
                    request,
                    payload: payload.clone(),
                },
                Some(None) if self.app.running() == Some(request) => {
                    GroupMessage::Working { group, request }
                }
                _ => return,
            };
            out.push(GroupOutput::Reply {
                client: request.client,
                msg,
            });
            return;
        }
        let room = self.requests.len() < REQUESTS_MAX;
        match self.requests.get_mut(&request) {
            Some(r) => r.low_water = r.low_water.max(low_water),
            None if room => {
                self.requests.insert(
                    request,
                    PendingRequest {
                        payload,
                        low_water,
                        since: now,
                    },
                );
            }
            None => {
                self.dropped += 1;
                return;
            }
        }
        if self.status == PbftStatus::Normal {
            if self.is_primary() && !self.batching {
                self.propose(now, out);
            } else if !self.is_primary() {
                if let Some(seq) = self.blocked.remove(&request) {
                    self.try_accept_held(now, seq, out);
                }
            }
        }
    }

    /// The voted outcome of `call` this replica holds.
    fn held_outcome(&self, call: NestedCallId) -> Option<&CallOutcome> {
        self.outcomes.get(&call).map(|o| &o.outcome)
    }

    /// Executed already (or executed and forgotten)?
    pub(super) fn is_duplicate(&self, request: RequestId) -> bool {
        self.clients.is_duplicate(request)
    }

    /// A nested call's outcome, voted by the host core by the callee's rule.
    pub(super) fn on_nested_outcome(
        &mut self,
        now: Micros,
        call: NestedCallId,
        outcome: CallOutcome,
        out: &mut Vec<GroupOutput>,
    ) {
        if !self.calls.contains_key(&call) {
            self.dropped += 1;
            return;
        }
        self.outcomes.entry(call).or_insert(HeldOutcome {
            outcome,
            since: now,
        });
        if self.status == PbftStatus::Normal {
            if self.is_primary() && !self.batching {
                self.propose(now, out);
            } else if !self.is_primary() {
                self.recheck_held(now, out);
            }
        }
    }

    pub(super) fn flush_batch(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.status == PbftStatus::Normal && self.is_primary() {
            self.propose(now, out);
        }
    }

    /// Primary: orders what waits (requests, nested outcomes, failed calls,
    /// due timers) in batches at the next sequence numbers.
    pub(super) fn propose(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.status != PbftStatus::Normal || !self.is_primary() || !self.initialized {
            return;
        }
        self.requests.track_unproposed();
        for _ in 0..WINDOW {
            let seq = self.next_seq + 1;
            if seq > self.stable + WINDOW {
                return;
            }
            let batch = self.next_batch(now);
            if batch.is_empty() {
                return;
            }
            self.mark_proposed(&batch);
            self.next_seq = seq;
            let digest = batch_digest(&batch);
            let view = self.pview;
            self.slots
                .entry(seq)
                .or_default()
                .accept(view, digest, batch.clone());
            self.broadcast(PbftMessage::PrePrepare { view, seq, batch }, out);
            self.check_progress(now, seq, out);
        }
    }

    /// Primary: what a batch it proposed carries is not proposed again in
    /// this view.
    pub(super) fn mark_proposed(&mut self, batch: &[LogEntry]) {
        for entry in batch {
            match entry {
                LogEntry::Command { request, .. } => {
                    self.requests.mark_proposed(*request);
                }
                LogEntry::NestedReply { call, .. } => {
                    self.proposed_calls.insert(*call);
                }
                LogEntry::TimerFired { timer } => {
                    self.proposed_timers.insert(*timer);
                }
                LogEntry::Departed { clients } => {
                    self.proposed_departures.extend(clients.iter().copied());
                }
            }
        }
    }

    /// This host's view service says these clients departed: the primary
    /// proposes forgetting them, a backup may now vouch for it.
    pub(super) fn on_departures(
        &mut self,
        now: Micros,
        gone: &dyn Fn(ClientId) -> bool,
        out: &mut Vec<GroupOutput>,
    ) {
        let known = &self.known_departed;
        let new = self.clients.departures(gone, &|c| known.contains(&c));
        if new.is_empty() {
            return;
        }
        self.known_departed.extend(new);
        if self.status == PbftStatus::Normal {
            if self.is_primary() {
                self.propose(now, out);
            } else {
                self.recheck_held(now, out);
            }
        }
    }

    fn next_batch(&self, now: Micros) -> Vec<LogEntry> {
        let mut batch = Vec::new();
        for (request, r) in self.requests.unproposed() {
            if batch.len() >= BATCH_MAX {
                return batch;
            }
            if !self.is_duplicate(request) {
                batch.push(LogEntry::Command {
                    request,
                    payload: r.payload.clone(),
                    low_water: r.low_water,
                });
            }
        }
        for (call, pending) in &self.calls {
            if batch.len() >= BATCH_MAX {
                return batch;
            }
            if self.proposed_calls.contains(call) {
                continue;
            }
            let outcome = match self.held_outcome(*call) {
                Some(o) => o.clone(),
                None => match pending.failure(&self.failed_targets, now) {
                    Some(failure) => failure,
                    None => continue,
                },
            };
            batch.push(LogEntry::NestedReply {
                call: *call,
                outcome,
            });
        }
        for (timer, at) in &self.timers {
            if batch.len() >= BATCH_MAX {
                return batch;
            }
            if now >= *at && !self.proposed_timers.contains(timer) {
                batch.push(LogEntry::TimerFired { timer: *timer });
            }
        }
        let departing: Vec<ClientId> = self
            .known_departed
            .iter()
            .filter(|c| !self.proposed_departures.contains(c) && !self.clients.has_departed(**c))
            .take(crate::group::DEPARTED_PER_ENTRY_MAX)
            .copied()
            .collect();
        if !departing.is_empty() && batch.len() < BATCH_MAX {
            batch.push(LogEntry::Departed { clients: departing });
        }
        batch
    }

    /// Whether a backup can vouch for `entry`: it holds the request itself,
    /// received the same nested outcome, or sees the call's deadline or the
    /// timer due on its own clock.
    fn acceptable(&self, now: Micros, entry: &LogEntry) -> bool {
        match entry {
            LogEntry::Command {
                request,
                payload,
                low_water,
            } => {
                self.requests
                    .get(request)
                    .is_some_and(|r| r.payload == *payload && *low_water <= r.low_water)
                    || self.is_duplicate(*request)
            }
            LogEntry::NestedReply { call, outcome } => match outcome {
                CallOutcome::Reply(_) => self.held_outcome(*call) == Some(outcome),
                // A failure the backup received itself (a start the view
                // service refused), or sees on its own.
                CallOutcome::ServerFailure(_) => {
                    self.held_outcome(*call) == Some(outcome)
                        || self
                            .calls
                            .get(call)
                            .is_some_and(|p| p.failure(&self.failed_targets, now).is_some())
                }
            },
            LogEntry::TimerFired { timer } => self.timers.get(timer).is_some_and(|at| now >= *at),
            // Its own view service says so (a lying primary cannot make the
            // group forget a live client).
            LogEntry::Departed { clients } => {
                !clients.is_empty()
                    && clients.len() <= crate::group::DEPARTED_PER_ENTRY_MAX
                    && clients
                        .iter()
                        .all(|c| self.known_departed.contains(c) || self.clients.has_departed(*c))
            }
        }
    }

    pub(super) fn on_pre_prepare(
        &mut self,
        now: Micros,
        from: ReplicaId,
        view: u64,
        seq: u64,
        batch: Vec<LogEntry>,
        out: &mut Vec<GroupOutput>,
    ) {
        let expected = self.status == PbftStatus::Normal
            && view == self.pview
            && Some(from) == self.primary_of(view)
            && seq > self.stable
            && seq <= self.stable + WINDOW
            && batch.len() <= BATCH_MAX;
        if !expected {
            self.dropped += 1;
            return;
        }
        self.highest_seen = self.highest_seen.max(seq);
        let digest = batch_digest(&batch);
        let slot = self.slots.entry(seq).or_default();
        match slot.accepted {
            Some((v, d)) if v == view && d == digest => {
                // A retransmission: our prepare may have been lost.
                if slot.committed.is_none() {
                    self.send(from, PbftMessage::Prepare { view, seq, digest }, out);
                }
                return;
            }
            Some((v, _)) if v == view => {
                // The primary equivocates: the first pre-prepare stands.
                self.dropped += 1;
                return;
            }
            _ => {}
        }
        slot.held = Some(Held {
            view,
            digest,
            batch,
            checked: 0,
        });
        self.held_seqs.insert(seq);
        self.try_accept_held(now, seq, out);
    }

    /// Accepts the held pre-prepare at `seq` once every entry checks out.
    fn try_accept_held(&mut self, now: Micros, seq: u64, out: &mut Vec<GroupOutput>) {
        let Some(held) = self.slots.get(&seq).and_then(|s| s.held.as_ref()) else {
            return;
        };
        if held.view != self.pview {
            return;
        }
        let checked = held.checked
            + held.batch[held.checked..]
                .iter()
                .take_while(|e| self.acceptable(now, e))
                .count();
        let complete = checked == held.batch.len();
        let Some(slot) = self.slots.get_mut(&seq) else {
            unreachable!("the held pre-prepare was just read");
        };
        if !complete {
            let Some(held) = slot.held.as_mut() else {
                unreachable!("the held pre-prepare was just read");
            };
            held.checked = checked;
            if let LogEntry::Command { request, .. } = &held.batch[checked] {
                if self.blocked.len() >= BLOCKED_MAX {
                    self.blocked.clear();
                }
                self.blocked.insert(*request, seq);
            }
            return;
        }
        let Some(Held {
            view,
            digest,
            batch,
            ..
        }) = slot.held.take()
        else {
            unreachable!("the held pre-prepare was just read");
        };
        debug_assert_eq!(
            digest,
            batch_digest(&batch),
            "seq {seq}: a held batch's digest"
        );
        let me = self.config.me;
        slot.accept(view, digest, batch);
        slot.prepares.entry((view, digest)).or_default().insert(me);
        self.broadcast(PbftMessage::Prepare { view, seq, digest }, out);
        self.check_progress(now, seq, out);
    }

    /// Held pre-prepares whose entries may check out now. `held_seqs` names
    /// every slot that may hold one (a slot may have dropped it since: a new
    /// view, a checkpoint; such names go here).
    pub(super) fn recheck_held(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        self.blocked.clear();
        let mut held = std::mem::take(&mut self.held_seqs);
        held.retain(|&seq| {
            self.try_accept_held(now, seq, out);
            self.slots.get(&seq).is_some_and(|s| s.held.is_some())
        });
        self.held_seqs.append(&mut held);
    }

    pub(super) fn on_prepare(
        &mut self,
        now: Micros,
        from: ReplicaId,
        view: u64,
        seq: u64,
        digest: Digest,
        out: &mut Vec<GroupOutput>,
    ) {
        if view != self.pview
            || Some(from) == self.primary_of(view)
            || seq <= self.stable
            || seq > self.stable + WINDOW
        {
            self.dropped += 1;
            return;
        }
        self.highest_seen = self.highest_seen.max(seq);
        let slot = self.slots.entry(seq).or_default();
        if slot.prepares.len() < 2 * super::log_votes_max(self.view.members.len())
            || slot.prepares.contains_key(&(view, digest))
        {
            slot.prepares
                .entry((view, digest))
                .or_default()
                .insert(from);
        }
        self.check_progress(now, seq, out);
    }

    pub(super) fn on_commit(
        &mut self,
        now: Micros,
        from: ReplicaId,
        view: u64,
        seq: u64,
        digest: Digest,
        out: &mut Vec<GroupOutput>,
    ) {
        if view != self.pview || seq <= self.stable || seq > self.stable + WINDOW {
            self.dropped += 1;
            return;
        }
        self.highest_seen = self.highest_seen.max(seq);
        let slot = self.slots.entry(seq).or_default();
        if slot.commits.len() < 2 * super::log_votes_max(self.view.members.len())
            || slot.commits.contains_key(&(view, digest))
        {
            slot.commits.entry((view, digest)).or_default().insert(from);
        }
        self.check_progress(now, seq, out);
    }

    /// Prepared → send the commit; committed → execute.
    pub(super) fn check_progress(&mut self, now: Micros, seq: u64, out: &mut Vec<GroupOutput>) {
        let quorum = self.quorum();
        let me = self.config.me;
        let Some(primary) = self.primary_of(self.pview) else {
            return;
        };
        let no_quorum = self.bugs.commit_without_prepare_quorum;
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        let Some((view, digest)) = slot.accepted else {
            return;
        };
        if !slot.is_prepared(quorum, primary, no_quorum) {
            return;
        }
        if !slot.commit_sent {
            slot.commit_sent = true;
            slot.prepared = Some((view, digest));
            slot.commits.entry((view, digest)).or_default().insert(me);
            let msg = PbftMessage::Commit { view, seq, digest };
            self.broadcast(msg, out);
        }
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        if slot.commit_quorum(quorum) || no_quorum {
            // Never two different batches committed at one sequence number.
            debug_assert!(
                slot.committed.is_none_or(|d| d == digest) || cfg!(feature = "planted-bugs"),
                "seq {seq}: committed two different batches"
            );
            if slot.committed.is_none() {
                slot.committed = Some(digest);
            }
            self.execute_ready(now, out);
        }
    }

    /// Retransmits this view's unfinished steps (lossy links).
    pub(super) fn retransmit(&mut self, _now: Micros, out: &mut Vec<GroupOutput>) {
        let primary = self.is_primary();
        let pending: Vec<(u64, u64, Digest, bool)> = self
            .slots
            .iter()
            .filter(|(seq, s)| s.committed.is_none() || **seq > self.last_exec)
            .filter_map(|(seq, s)| {
                let (v, d) = s.accepted?;
                (v == self.pview).then_some((*seq, v, d, s.commit_sent))
            })
            .take(RETRANSMIT_MAX)
            .collect();
        for (seq, view, digest, commit_sent) in pending {
            if primary {
                if let Some(batch) = self.slots.get(&seq).and_then(|s| s.batch(&digest)) {
                    let msg = PbftMessage::PrePrepare {
                        view,
                        seq,
                        batch: batch.clone(),
                    };
                    self.broadcast(msg, out);
                }
            } else {
                self.broadcast(PbftMessage::Prepare { view, seq, digest }, out);
            }
            if commit_sent {
                self.broadcast(PbftMessage::Commit { view, seq, digest }, out);
            }
        }
        if let Some((seq, (digest, _))) = self.own_checkpoints.iter().next_back() {
            self.broadcast(
                PbftMessage::Checkpoint {
                    seq: *seq,
                    digest: *digest,
                },
                out,
            );
        }
    }

    /// Every replica sends its group's outstanding nested calls (the callee
    /// counts `t+1` matching copies) and resends them every retry period.
    pub(super) fn resend_calls(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        let due: Vec<NestedCallId> = self
            .calls
            .iter()
            .filter(|(c, p)| {
                !self.outcomes.contains_key(c)
                    && p.last_sent.is_none_or(|t| now >= t + self.config.retry_us)
            })
            .map(|(c, _)| *c)
            .collect();
        for call in due {
            self.send_call(now, call, out);
        }
    }

    /// Every replica sends its calls (the callee counts `t+1` matching
    /// copies) and its votes for starts (the view service counts them).
    pub(super) fn send_call(
        &mut self,
        now: Micros,
        call: NestedCallId,
        out: &mut Vec<GroupOutput>,
    ) {
        crate::group::send_call(&mut self.calls, self.config.group, call, now, out);
    }

    pub(super) fn new_call(
        &mut self,
        now: Micros,
        call: NestedCallId,
        target: Callee,
        payload: Vec<u8>,
        out: &mut Vec<GroupOutput>,
    ) {
        let deadline = now + self.config.call_deadline_us;
        self.calls
            .insert(call, PendingCall::new(target, payload, deadline));
        self.send_call(now, call, out);
    }
}
