//! What the replicas of a byzantine group exchange: the PBFT messages, the
//! digests they name batches and states by, and what a view change reports.

use crate::group::LogEntry;
use crate::identity::ProofKeys;
use crate::types::{GroupId, ReplicaId};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest of a batch or of a checkpointed state.
pub type Digest = [u8; 32];

/// The digest of a batch of log entries (the empty batch is the null request).
pub fn batch_digest(batch: &[LogEntry]) -> Digest {
    let mut h = Sha256::new();
    h.update(b"ftc-pbft-batch");
    let mut bytes = Vec::new();
    for entry in batch {
        // Postcard of a log entry cannot fail (no maps with non-string keys, no
        // unsupported types); an empty encoding would still be hashed with the count.
        bytes.clear();
        bytes = postcard::to_extend(entry, bytes).unwrap_or_default();
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

/// A view change signed with its sender's host key: a new primary forwards
/// the reports it decided from, and every backup checks them itself, so what
/// a replica reported is proven to all, not only to those it sent it to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedViewChange {
    pub sender: ReplicaId,
    pub report: ViewChange,
    /// The sender's host's signature of [`SignedViewChange::signed_bytes`].
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

impl SignedViewChange {
    /// What is signed: the report bound to its group and its sender, so a
    /// signature proves nothing about another group or replica.
    pub fn signed_bytes(group: GroupId, sender: ReplicaId, report: &ViewChange) -> Vec<u8> {
        // Postcard of these types cannot fail; an empty encoding would only
        // make every signature check fail.
        postcard::to_allocvec(&(b"ftc-pbft-view-change", group, sender, report)).unwrap_or_default()
    }

    /// `sender`'s report, signed with its host's key in `keys`.
    pub fn sign(keys: &ProofKeys, group: GroupId, sender: ReplicaId, report: ViewChange) -> Self {
        debug_assert_eq!(keys.me(), sender.host, "a replica signs as its own host");
        let signature = keys
            .sign(&Self::signed_bytes(group, sender, &report))
            .to_vec();
        SignedViewChange {
            sender,
            report,
            signature,
        }
    }

    /// The reports of `signed`, by sender: what [`super::decide_new_view`] decides from.
    pub fn reports<'a>(
        signed: impl IntoIterator<Item = &'a SignedViewChange>,
    ) -> std::collections::BTreeMap<ReplicaId, ViewChange> {
        signed
            .into_iter()
            .map(|vc| (vc.sender, vc.report.clone()))
            .collect()
    }

    /// True when the sender's host signed this report for `group`.
    pub fn verify(&self, keys: &ProofKeys, group: GroupId) -> bool {
        keys.verify(
            self.sender.host,
            &Self::signed_bytes(group, self.sender, &self.report),
            &self.signature,
        )
    }
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
    ViewChange(SignedViewChange),
    /// A replica already in the view → one still moving to it: its own view
    /// change again (never answered, so two replicas do not echo forever).
    ViewChangeAnswer(SignedViewChange),
    /// New primary → all: the view starts from the signed view changes in
    /// `reports`, from checkpoint `(stable, stable_digest)`, with `batches`
    /// re-proposed at `stable + 1 ..` (an empty batch is the null request).
    NewView {
        view: u64,
        reports: Vec<SignedViewChange>,
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
        let report = |vc: &ViewChange| -> usize {
            vc.slots
                .iter()
                .flat_map(|s| s.batches.iter())
                .map(|b| batch(b))
                .sum()
        };
        match self {
            PbftMessage::PrePrepare { batch: b, .. } | PbftMessage::Executed { batch: b, .. } => {
                batch(b)
            }
            PbftMessage::NewView {
                batches, reports, ..
            } => {
                batches.iter().map(|b| batch(b)).sum::<usize>()
                    + reports.iter().map(|r| report(&r.report)).sum::<usize>()
            }
            PbftMessage::ViewChange(vc) | PbftMessage::ViewChangeAnswer(vc) => report(&vc.report),
            PbftMessage::State { state } => state.snapshot.len(),
            _ => 0,
        }
    }
}
