//! Checkpoints, log truncation and catching up: `2t+1` matching state
//! digests make a checkpoint stable; a lagging replica executes batches that
//! `t+1` replicas say they executed, and fetches a state whose digest `t+1`
//! replicas vouch for.

use super::messages::{batch_digest, CheckpointState, Digest, PbftMessage};
use super::{Pbft, PbftStatus, CHECKPOINT_INTERVAL, WINDOW};
use crate::group::{GroupOutput, LogEntry};
use crate::types::{Micros, ReplicaId};

/// Most executed batches sent in answer to one fetch.
const FETCH_BATCHES_MAX: u64 = 16;

impl Pbft {
    /// After executing a multiple of the interval: record the state and tell everyone.
    pub(super) fn take_checkpoint(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        let seq = self.last_exec;
        let state = self.package(seq);
        let digest = state.digest();
        self.own_checkpoints.insert(seq, (digest, state));
        self.checkpoint_votes
            .entry(seq)
            .or_default()
            .insert(self.config.me, digest);
        self.broadcast(PbftMessage::Checkpoint { seq, digest }, out);
        self.check_stable(now, seq);
    }

    pub(super) fn on_checkpoint(
        &mut self,
        now: Micros,
        from: ReplicaId,
        seq: u64,
        digest: Digest,
        out: &mut Vec<GroupOutput>,
    ) {
        let interesting = seq % CHECKPOINT_INTERVAL == 0
            && (seq > self.stable || (!self.initialized && seq >= self.stable))
            && seq <= self.stable.saturating_add(8 * WINDOW);
        if !interesting {
            return;
        }
        self.highest_seen = self.highest_seen.max(seq);
        self.checkpoint_votes
            .entry(seq)
            .or_default()
            .insert(from, digest);
        self.check_stable(now, seq);
        self.catch_up(now, out);
    }

    fn check_stable(&mut self, _now: Micros, seq: u64) {
        let Some(votes) = self.checkpoint_votes.get(&seq) else {
            return;
        };
        let count = |d: &Digest| votes.values().filter(|v| *v == d).count();
        let Some(best) = votes.values().max_by_key(|d| (count(d), **d)).copied() else {
            return;
        };
        let n = count(&best);
        match self.own_checkpoints.get(&seq) {
            Some((own, state)) if n >= self.quorum() => {
                // Correct replicas that executed the same batches agree.
                debug_assert!(
                    *own == best || cfg!(feature = "planted-bugs"),
                    "checkpoint {seq}: own state differs from 2t+1 others"
                );
                if *own == best {
                    let state = state.clone();
                    self.make_stable(seq, best, state);
                }
            }
            None if n >= self.weak()
                && (seq > self.last_exec || !self.initialized)
                && self.want_state.is_none_or(|(s, _)| s < seq) =>
            {
                // At least one correct replica executed up to `seq`: we lag.
                self.want_state = Some((seq, best));
                self.state_asked = None;
            }
            _ => {}
        }
    }

    fn make_stable(&mut self, seq: u64, digest: Digest, state: CheckpointState) {
        if seq <= self.stable && self.initialized {
            return;
        }
        self.stable = seq;
        self.stable_digest = digest;
        self.stable_state = Some(state);
        self.slots.retain(|s, _| *s > seq);
        self.own_checkpoints.retain(|s, _| *s > seq);
        self.checkpoint_votes.retain(|s, _| *s > seq);
        self.next_seq = self.next_seq.max(seq);
    }

    /// A lagging replica asks for what it misses: a state, or executed batches.
    pub(super) fn catch_up(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        let retry = self.config.retry_us;
        if let Some((seq, digest)) = self.want_state {
            if seq <= self.last_exec && self.initialized {
                self.want_state = None;
            } else if self.state_asked.is_none_or(|t| now >= t + retry) {
                let donors: Vec<ReplicaId> = self
                    .checkpoint_votes
                    .get(&seq)
                    .map(|v| {
                        v.iter()
                            .filter(|(r, d)| **d == digest && **r != self.config.me)
                            .map(|(r, _)| *r)
                            .collect()
                    })
                    .unwrap_or_default();
                let donors = if donors.is_empty() {
                    let me = self.config.me;
                    self.members()
                        .iter()
                        .copied()
                        .filter(|m| *m != me)
                        .collect()
                } else {
                    donors
                };
                if !donors.is_empty() {
                    self.state_donor = (self.state_donor + 1) % donors.len();
                    self.send(
                        donors[self.state_donor],
                        PbftMessage::StateRequest { seq },
                        out,
                    );
                    self.state_asked = Some(now);
                }
            }
            if self.want_state.is_some() {
                return;
            }
        }
        let lagging = !self.initialized
            || (self.highest_seen > self.last_exec && now >= self.exec_at + 2 * retry);
        if lagging && self.fetch_sent.is_none_or(|t| now >= t + retry) {
            self.fetch_sent = Some(now);
            let seq = self.last_exec + 1;
            self.broadcast(PbftMessage::Fetch { seq }, out);
        }
    }

    pub(super) fn on_fetch(&mut self, from: ReplicaId, seq: u64, out: &mut Vec<GroupOutput>) {
        if !self.initialized {
            return;
        }
        if seq <= self.stable || self.status == PbftStatus::ViewChange {
            let msg = PbftMessage::Checkpoint {
                seq: self.stable,
                digest: self.stable_digest,
            };
            self.send(from, msg, out);
        }
        let first = seq.max(self.stable + 1);
        for s in first..=self.last_exec.min(first + FETCH_BATCHES_MAX) {
            let batch = self
                .slots
                .get(&s)
                .and_then(|slot| slot.committed.and_then(|d| slot.batch(&d)).cloned());
            if let Some(batch) = batch {
                self.send(from, PbftMessage::Executed { seq: s, batch }, out);
            }
        }
    }

    /// `from` says it executed `batch` at `seq`: `t+1` such claims commit it here.
    pub(super) fn on_executed_claim(
        &mut self,
        now: Micros,
        from: ReplicaId,
        seq: u64,
        batch: Vec<LogEntry>,
        out: &mut Vec<GroupOutput>,
    ) {
        if seq <= self.last_exec || seq <= self.stable || seq > self.stable + WINDOW {
            return;
        }
        let digest = batch_digest(&batch);
        let weak = self.weak();
        let slot = self.slots.entry(seq).or_default();
        slot.executed_claims.insert(from, digest);
        let agreeing = slot
            .executed_claims
            .values()
            .filter(|d| **d == digest)
            .count();
        if agreeing >= weak {
            debug_assert!(
                slot.committed.is_none_or(|d| d == digest) || cfg!(feature = "planted-bugs"),
                "seq {seq}: t+1 replicas executed another batch than the one committed here"
            );
            slot.batches.entry(digest).or_insert(batch);
            if slot.committed.is_none() {
                slot.committed = Some(digest);
            }
            self.execute_ready(now, out);
        }
    }

    pub(super) fn on_state_request(
        &mut self,
        from: ReplicaId,
        seq: u64,
        out: &mut Vec<GroupOutput>,
    ) {
        let state = if seq == self.stable {
            self.stable_state.clone()
        } else {
            self.own_checkpoints.get(&seq).map(|(_, s)| s.clone())
        };
        match state {
            Some(state) => self.send(from, PbftMessage::State { state }, out),
            None => self.dropped += 1,
        }
    }

    /// A transferred state: installed only with the digest `t+1` replicas vouched for.
    pub(super) fn on_state(
        &mut self,
        now: Micros,
        state: CheckpointState,
        out: &mut Vec<GroupOutput>,
    ) {
        let Some((seq, digest)) = self.want_state else {
            self.dropped += 1;
            return;
        };
        #[cfg(feature = "planted-bugs")]
        let checked =
            self.config.bugs.state_transfer_skips_digest_check || state.digest() == digest;
        #[cfg(not(feature = "planted-bugs"))]
        let checked = state.digest() == digest;
        if state.seq != seq || !checked || (self.initialized && seq <= self.last_exec) {
            self.dropped += 1;
            return;
        }
        if !self.restore(now, &state) {
            return;
        }
        self.want_state = None;
        // Vouched for by t+1: this replica now holds it and says so, which
        // helps the others make it stable.
        self.checkpoint_votes
            .entry(seq)
            .or_default()
            .insert(self.config.me, digest);
        self.broadcast(PbftMessage::Checkpoint { seq, digest }, out);
        self.stable = 0;
        self.make_stable(seq, digest, state);
        self.stable = seq;
        self.execute_ready(now, out);
    }
}
