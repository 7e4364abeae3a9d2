//! The view service on stable storage: what a participant keeps on its
//! host's disk when the host has a data directory, and its restoration.
//!
//! Kept (Raft's persistent state): the term, the vote of that term, the
//! memory's first incarnation (`created_as`) and whether it stood in for a
//! lost identity, as the metadata; the log entries, one record each at their
//! log index; the compacted prefix as a snapshot of the applied state after
//! `log_base`. The participant emits them as [`StorageOp`]s through
//! [`ViewService::take_storage_ops`]; the host core puts them before the
//! sends of the same input, and drivers make them durable before any of
//! those sends leaves the host (so a vote or an acknowledgement never
//! precedes the state it reports).
//!
//! A restored participant is the same memory in a new incarnation, exactly
//! like one that [`ViewService::rejoin`]ed: it votes and acknowledges under
//! the voting identity of its applied state and asks to join as the new
//! incarnation. Its commit point restarts at the snapshot; a leader's
//! appends, or a candidate's `RequestVote`, tell it what is committed.

use super::state::ClusterState;
use super::{LogEntry, ViewService};
use crate::storage::{Recovered, StorageOp};
use crate::types::{Incarnation, ReplicaId};
use serde::{Deserialize, Serialize};

/// The metadata record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct HardState {
    term: u64,
    voted_for: Option<ReplicaId>,
    created_as: Incarnation,
    stood_in: bool,
    /// The newest incarnation that held this memory: a later start must
    /// claim a larger one.
    incarnation: Incarnation,
}

/// What is on stable storage already, to emit only the difference.
pub(super) struct Tracker {
    hard: Option<HardState>,
    /// The snapshot's index on disk.
    base: u64,
    /// The last log index on disk.
    last: u64,
    /// The lowest index after which the log was cut since the last emission.
    cut_after: Option<u64>,
}

fn decode<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("view service's {what} unreadable: {e}"))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("view-service state always serializes")
}

impl ViewService {
    /// Keeps this participant on stable storage from now on, starting from
    /// what `recovered` holds (empty at a host's first start). Call before
    /// the host starts. A state of another cluster, or entries out of
    /// sequence, are refused.
    pub fn restore(&mut self, recovered: Recovered) -> Result<(), String> {
        assert!(self.stable.is_none(), "restored twice");
        if let Some(meta) = &recovered.meta {
            let hard: HardState = decode("metadata", meta)?;
            if hard.incarnation >= self.incarnation {
                return Err(format!(
                    "the stored view service was already used by incarnation {}; this start must claim a larger one than {} (was the incarnation file lost?)",
                    hard.incarnation.0, self.incarnation.0
                ));
            }
            self.term = hard.term;
            self.voted_for = hard.voted_for;
            self.created_as = hard.created_as;
            self.stood_in = hard.stood_in;
        }
        if let Some((index, bytes)) = &recovered.snapshot {
            let (base_term, state): (u64, ClusterState) = decode("snapshot", bytes)?;
            if state.hosts.keys().copied().collect::<Vec<_>>() != self.cluster {
                return Err("the view service's snapshot is of another cluster".into());
            }
            self.log_base = *index;
            self.base_term = base_term;
            self.base_state = state.clone();
            self.state = state;
            self.commit_index = *index;
            self.applied_index = *index;
        }
        #[cfg(feature = "planted-bugs")]
        let recovered = Recovered {
            records: if self.bugs.restore_without_log_tail {
                Vec::new()
            } else {
                recovered.records
            },
            ..recovered
        };
        for (index, bytes) in &recovered.records {
            if *index != self.last_index() + 1 {
                return Err(format!("view-service log record {index} out of sequence"));
            }
            let entry: LogEntry = decode("log entry", bytes)?;
            if entry.term > self.term {
                return Err(format!(
                    "view-service log entry {index} is of a future term"
                ));
            }
            self.log.push(entry);
        }
        // Vote as the identity the restored state gives this memory.
        let mut ignored = Vec::new();
        self.after_state_change(&mut ignored);
        self.stable = Some(Tracker {
            // Written at once: it records this incarnation.
            hard: None,
            base: self.log_base,
            last: self.last_index(),
            cut_after: None,
        });
        Ok(())
    }

    /// Whether the participant keeps its state on stable storage.
    pub fn is_stable(&self) -> bool {
        self.stable.is_some()
    }

    fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            voted_for: self.voted_for,
            created_as: self.created_as,
            stood_in: self.stood_in,
            incarnation: self.incarnation,
        }
    }

    /// The log was cut after `index` (a conflicting suffix, or all of it
    /// before a snapshot from a peer).
    pub(super) fn note_cut(&mut self, index: u64) {
        if let Some(t) = &mut self.stable {
            t.cut_after = Some(t.cut_after.map_or(index, |c| c.min(index)));
        }
    }

    /// What must reach stable storage since the last call, in order (empty
    /// without stable storage). The host core calls it after every input.
    pub fn take_storage_ops(&mut self) -> Vec<StorageOp> {
        let Some(mut t) = self.stable.take() else {
            return Vec::new();
        };
        let mut ops = Vec::new();
        let hard = self.hard_state();
        if t.hard.as_ref() != Some(&hard) {
            ops.push(StorageOp::Meta(encode(&hard)));
            t.hard = Some(hard);
        }
        if let Some(cut) = t.cut_after.take() {
            if cut < t.last {
                ops.push(StorageOp::TruncateAfter(cut));
                t.last = cut;
            }
        }
        if self.log_base > t.base {
            ops.push(StorageOp::Snapshot {
                index: self.log_base,
                state: encode(&(self.base_term, &self.base_state)),
            });
            t.base = self.log_base;
            t.last = t.last.max(self.log_base);
        }
        for index in t.last + 1..=self.last_index() {
            ops.push(StorageOp::Append(encode(&self.log[self.position(index)])));
        }
        t.last = self.last_index();
        self.stable = Some(t);
        ops
    }
}

#[cfg(test)]
mod tests {
    use crate::host::Timing;
    use crate::storage::{apply_ops, DurableLog, MemDisk};
    use crate::types::{HostId, Incarnation};
    use crate::view_service::{ViewService, FIRST_INCARNATION};

    fn participant(incarnation: Incarnation) -> ViewService {
        ViewService::new(
            HostId(0),
            incarnation,
            &[HostId(0), HostId(1), HostId(2)],
            &Timing::default(),
            1,
        )
    }

    /// Runs a participant's first start on `disk` and returns the disk.
    fn first_life(incarnation: Incarnation, disk: MemDisk) -> MemDisk {
        let (mut log, recovered) = DurableLog::open(disk).expect("open");
        let mut vs = participant(incarnation);
        vs.restore(recovered).expect("restore");
        let mut out = Vec::new();
        vs.on_start(0, &mut out);
        apply_ops(&mut log, vs.take_storage_ops()).expect("persist");
        log.into_disk()
    }

    #[test]
    fn a_stored_memory_refuses_an_incarnation_it_already_had() {
        let disk = first_life(FIRST_INCARNATION, MemDisk::new());
        for reused in [FIRST_INCARNATION, Incarnation(0)] {
            let (_, recovered) = DurableLog::open(disk.clone()).expect("open");
            let err = participant(reused).restore(recovered).unwrap_err();
            assert!(err.contains("already used by incarnation 1"), "{err}");
        }
        // A larger one resumes the memory, and records itself at once.
        let disk = first_life(Incarnation(7), disk);
        let (_, recovered) = DurableLog::open(disk.clone()).expect("open");
        let err = participant(Incarnation(5)).restore(recovered).unwrap_err();
        assert!(err.contains("already used by incarnation 7"), "{err}");
        let (_, recovered) = DurableLog::open(disk).expect("open");
        assert!(participant(Incarnation(8)).restore(recovered).is_ok());
    }
}
