//! What the replicas of a byzantine group exchange: the PBFT messages, the
//! digests they name batches and states by, and what a view change reports.

use crate::group::LogEntry;
use crate::types::ReplicaId;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest of a batch or of a checkpointed state.
pub type Digest = [u8; 32];

/// The digest of a batch of log entries (the empty batch is the null request).
pub fn batch_digest(batch: &[LogEntry]) -> Digest {
    let mut h = Sha256::new();
    h.update(b"ftc-pbft-batch");
    for entry in batch {
        // Postcard of a log entry cannot fail (no maps with non-string keys, no
        // unsupported types); an empty encoding would still be hashed with the count.
        let bytes = postcard::to_allocvec(entry).unwrap_or_default();
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    h.finalize().into()
}

/// One replica's knowledge of one sequence number, as a view change reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedSlot {
    pub seq: u64,
    /// The highest view in which this replica prepared a batch here, and its digest.
    pub prepared: Option<(u64, Digest)>,
    /// The batches this replica accepted a pre-prepare for here: per digest the
    /// highest view.
    pub pre_prepared: Vec<(u64, Digest)>,
    /// The contents of the batches named above that the replica holds.
    pub batches: Vec<Vec<LogEntry>>,
}

/// A replica's view-change message for view `view`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewChange {
    pub view: u64,
    /// The replica's stable checkpoint (its low water mark).
    pub stable: u64,
    /// Checkpoints the replica holds the state of, stable one included.
    pub checkpoints: Vec<(u64, Digest)>,
    /// Sequence numbers above `stable` it knows something about.
    pub slots: Vec<ReportedSlot>,
    /// The sender is a recruit that has not yet installed a new view: it
    /// replaced a member whose log it never saw, so "nothing prepared here"
    /// from it says nothing about what the old members committed.
    pub amnesiac: bool,
}

/// The state of a replica after executing sequence number `seq`: what a
/// checkpoint's digest covers, and what a state transfer carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointState {
    pub seq: u64,
    /// Log entries executed up to here (positions of the group's log).
    pub position: u64,
    #[serde(with = "serde_bytes")]
    pub snapshot: Vec<u8>,
    pub clients: Vec<(crate::types::ClientId, crate::group::ClientRecord)>,
    /// The clients the group forgot.
    pub departed: crate::group::Departed,
    /// Outstanding nested calls: id, target, payload.
    pub calls: Vec<(u64, crate::group::Callee, Vec<u8>)>,
    /// Armed application timers.
    pub timers: Vec<u64>,
}

impl CheckpointState {
    pub fn digest(&self) -> Digest {
        let bytes = postcard::to_allocvec(self).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(b"ftc-pbft-state");
        h.update(&bytes);
        h.finalize().into()
    }
}

/// The PBFT messages of one byzantine group (inside [`crate::group::GroupMessage::Pbft`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PbftMessage {
    /// Primary → backups: `batch` is ordered at `seq` in `view`.
    PrePrepare {
        view: u64,
        seq: u64,
        batch: Vec<LogEntry>,
    },
    /// Backup → all: accepted the pre-prepare of `digest` at `seq` in `view`.
    Prepare { view: u64, seq: u64, digest: Digest },
    /// Replica → all: prepared `digest` at `seq` in `view`.
    Commit { view: u64, seq: u64, digest: Digest },
    /// Replica → all: its state after executing `seq` has digest `digest`.
    Checkpoint { seq: u64, digest: Digest },
    /// Replica → all: moving to a view.
    ViewChange(ViewChange),
    /// A replica already in the view → one still moving to it: its own view
    /// change again (never answered, so two replicas do not echo forever).
    ViewChangeAnswer(ViewChange),
    /// New primary → all: the view starts from the view changes of `senders`,
    /// from checkpoint `(stable, stable_digest)`, with `batches` re-proposed
    /// at `stable + 1 ..` (an empty batch is the null request).
    NewView {
        view: u64,
        senders: Vec<ReplicaId>,
        stable: u64,
        stable_digest: Digest,
        batches: Vec<Vec<LogEntry>>,
    },
    /// Lagging replica → all: send what you executed from `seq` on.
    Fetch { seq: u64 },
    /// Answer to a fetch: the sender executed `batch` at `seq`.
    Executed { seq: u64, batch: Vec<LogEntry> },
    /// Replica → one replica: send your state at checkpoint `seq`.
    StateRequest { seq: u64 },
    /// The state at a checkpoint.
    State { state: CheckpointState },
}

impl PbftMessage {
    /// The lengths of the byte payloads carried (a lower bound of the size).
    pub fn bulk_bytes(&self) -> usize {
        let batch = |b: &[LogEntry]| -> usize { b.iter().map(LogEntry::bulk_bytes).sum() };
        match self {
            PbftMessage::PrePrepare { batch: b, .. } | PbftMessage::Executed { batch: b, .. } => {
                batch(b)
            }
            PbftMessage::NewView { batches, .. } => batches.iter().map(|b| batch(b)).sum(),
            PbftMessage::ViewChange(vc) | PbftMessage::ViewChangeAnswer(vc) => vc
                .slots
                .iter()
                .flat_map(|s| s.batches.iter())
                .map(|b| batch(b))
                .sum(),
            PbftMessage::State { state } => state.snapshot.len(),
            _ => 0,
        }
    }
}
