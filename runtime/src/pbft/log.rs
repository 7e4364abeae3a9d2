//! One sequence number's agreement state: the pre-prepare accepted in the
//! current view, the prepare and commit votes per (view, digest), and what a
//! view change must report about it.

use super::messages::{Digest, ReportedSlot};
use crate::group::LogEntry;
use crate::types::ReplicaId;
use std::collections::{BTreeMap, BTreeSet};

/// Most batches per digest kept for one slot (a lying primary may offer many).
const PRE_PREPARED_MAX: usize = 8;

/// A pre-prepare a backup cannot vouch for yet: it waits until the backup
/// holds what its entries carry (the requests, the nested outcomes).
#[derive(Clone, Debug)]
pub struct Held {
    pub view: u64,
    pub digest: Digest,
    pub batch: Vec<LogEntry>,
    /// The entries before this index were found acceptable already, so a
    /// recheck starts here: what a backup received, it keeps having received
    /// (and a request executed since counts as a duplicate, which is
    /// acceptable too). A batch waiting for many requests is so checked once
    /// per arriving request, not once per entry per arriving request.
    pub checked: usize,
}

/// What a replica knows about one sequence number.
#[derive(Clone, Debug, Default)]
pub struct Slot {
    /// The pre-prepare accepted in the current view: (view, digest).
    pub accepted: Option<(u64, Digest)>,
    /// A pre-prepare of the current view waiting until its entries can be checked.
    pub held: Option<Held>,
    /// Batch contents by digest.
    pub batches: BTreeMap<Digest, Vec<LogEntry>>,
    /// Per digest the highest view this replica accepted a pre-prepare for it.
    pub pre_prepared: BTreeMap<Digest, u64>,
    /// The highest view this replica prepared in, and the digest.
    pub prepared: Option<(u64, Digest)>,
    pub prepares: BTreeMap<(u64, Digest), BTreeSet<ReplicaId>>,
    pub commits: BTreeMap<(u64, Digest), BTreeSet<ReplicaId>>,
    /// Whether this replica sent its commit in the view of `accepted`.
    pub commit_sent: bool,
    /// Known committed: the digest (local commit certificate, or `t+1`
    /// replicas said they executed it).
    pub committed: Option<Digest>,
    /// Replicas that said they executed a batch here, with its digest.
    pub executed_claims: BTreeMap<ReplicaId, Digest>,
}

impl Slot {
    /// Records an accepted pre-prepare of `batch` in `view`.
    pub fn accept(&mut self, view: u64, digest: Digest, batch: Vec<LogEntry>) {
        self.accepted = Some((view, digest));
        self.held = None;
        self.commit_sent = false;
        if self.pre_prepared.len() < PRE_PREPARED_MAX || self.pre_prepared.contains_key(&digest) {
            let v = self.pre_prepared.entry(digest).or_insert(view);
            *v = (*v).max(view);
        }
        self.batches.entry(digest).or_insert(batch);
    }

    /// Prepared in the accepted view: the pre-prepare plus `2t` prepares from
    /// other backups than the primary `primary`.
    pub fn is_prepared(&self, quorum: usize, primary: ReplicaId, no_quorum: bool) -> bool {
        let Some(key) = self.accepted else {
            return false;
        };
        if no_quorum {
            return true;
        }
        let backups = self
            .prepares
            .get(&key)
            .map_or(0, |s| s.iter().filter(|r| **r != primary).count());
        backups + 1 >= quorum
    }

    /// Committed locally: prepared and `2t+1` commits for the accepted view and digest.
    pub fn commit_quorum(&self, quorum: usize) -> bool {
        self.accepted
            .and_then(|key| self.commits.get(&key))
            .is_some_and(|s| s.len() >= quorum)
    }

    /// The batch with `digest`, if held.
    pub fn batch(&self, digest: &Digest) -> Option<&Vec<LogEntry>> {
        self.batches.get(digest)
    }

    /// Keeps only the votes of `members`.
    pub fn retain_voters(&mut self, members: &[ReplicaId]) {
        for set in self.prepares.values_mut().chain(self.commits.values_mut()) {
            set.retain(|r| members.contains(r));
        }
        self.executed_claims.retain(|r, _| members.contains(r));
    }

    /// What a view change reports about this slot.
    pub fn report(&self, seq: u64) -> ReportedSlot {
        let mut pre_prepared: Vec<(u64, Digest)> =
            self.pre_prepared.iter().map(|(d, v)| (*v, *d)).collect();
        // A batch known committed (by its own certificate, or because `t+1`
        // replicas executed it) is never reported as "nothing prepared here":
        // a replica that caught up by fetching holds no prepare certificate.
        let mut prepared = self.prepared;
        if let Some(d) = self.committed {
            if prepared.is_none_or(|(_, p)| p != d) {
                let view = self.pre_prepared.get(&d).copied().unwrap_or(0);
                prepared = Some((view, d));
                if !self.pre_prepared.contains_key(&d) {
                    pre_prepared.push((view, d));
                }
            }
        }
        let mut batches = Vec::new();
        for (_, d) in pre_prepared.iter().chain(prepared.iter()) {
            if let Some(b) = self.batches.get(d) {
                if !batches.contains(b) {
                    batches.push(b.clone());
                }
            }
        }
        ReportedSlot {
            seq,
            prepared,
            pre_prepared,
            batches,
        }
    }

    /// Forgets the current view's pre-prepare (a new view starts).
    pub fn leave_view(&mut self) {
        self.accepted = None;
        self.held = None;
        self.commit_sent = false;
    }
}
