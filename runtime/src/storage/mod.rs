//! Stable storage: the sans-IO seam between protocol engines and a disk, and
//! the on-disk log that carries it out.
//!
//! Engines never touch files. An engine that keeps something durable outputs
//! [`StorageOp`]s (append records, cut a conflicting suffix, save a snapshot
//! or its metadata) in order with its other outputs (the host core's
//! `Output::Persist`). The contract with drivers: an operation is durable
//! before any *later* send or answer leaves the host. So an engine may act
//! on a record in the same step that wrote it (acknowledge, vote, reply),
//! and the disk still sees one `fsync` per batch (group commit): a kernel
//! syncs once per round of its core, before the round's messages go out;
//! the simulator once per input that sends anything. The drivers carry the
//! operations out on a [`DurableLog`]: the kernel on an [`FsDisk`] under its
//! data directory, the simulator on a [`MemDisk`] that loses unsynced writes
//! and tears the last one at a crash. [`apply_ops`] reports what is durable
//! as [`Synced`], for an engine that would rather keep working while a sync
//! is in flight and learn of it as an input (none does yet).
//!
//! ```text
//!  engine ──StorageOp, then Send──▶ driver ──append…, sync, then send──▶ DurableLog<Disk> ──▶ files
//! ```

mod crc;
mod disk;
pub mod format;
mod host_storage;
mod log;
mod mem_disk;
#[cfg(test)]
mod tests;

pub use crc::{crc32c, Crc32c};
pub use disk::{Disk, FsDisk};
pub use host_storage::{open_store, HostStorage};
pub use log::{DurableLog, Recovered, StorageError, RECORD_BYTES_MAX};
pub use mem_disk::{DiskStats, MemDisk};

use crate::types::GroupId;

/// Which log of a host an operation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Store {
    /// The view service's participant (directory `view-service`).
    ViewService,
    /// This host's replica of a durable server (directory `group-<id>`):
    /// a snapshot of its state and the log entries it holds after it.
    Group(GroupId),
}

/// The prefix of a durable group's directory name.
const GROUP_DIR_PREFIX: &str = "group-";

impl Store {
    /// The directory of this store under a host's data directory.
    pub fn dir_name(&self) -> String {
        match self {
            Store::ViewService => "view-service".to_string(),
            Store::Group(group) => format!("{GROUP_DIR_PREFIX}{}", group.0),
        }
    }

    /// The store a directory name under a data directory belongs to, if any.
    pub fn from_dir_name(name: &str) -> Option<Store> {
        if name == "view-service" {
            return Some(Store::ViewService);
        }
        let id: u64 = name.strip_prefix(GROUP_DIR_PREFIX)?.parse().ok()?;
        let store = Store::Group(GroupId(id));
        (store.dir_name() == name).then_some(store)
    }
}

/// What an engine asks of its stable storage, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageOp {
    /// Append a record after the log's last one (written at the next sync).
    Append(Vec<u8>),
    /// Remove every record after this index.
    TruncateAfter(u64),
    /// The engine's state after record `index`: records up to it may go.
    Snapshot { index: u64, state: Vec<u8> },
    /// Replace the small metadata record (e.g. a term and a vote).
    Meta(Vec<u8>),
}

/// The driver's answer: every operation output so far is durable, and the
/// log's last record is `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Synced {
    pub index: u64,
}

/// Carries out one operation on `log`; appended records wait for its next sync.
pub fn apply_op<D: Disk>(log: &mut DurableLog<D>, op: StorageOp) -> Result<(), StorageError> {
    match op {
        StorageOp::Append(record) => log.append(&record).map(|_| ()),
        StorageOp::TruncateAfter(index) => log.truncate_after(index),
        StorageOp::Snapshot { index, state } => log.save_snapshot(index, &state),
        StorageOp::Meta(meta) => log.save_meta(&meta),
    }
}

/// Carries out `ops` on `log` in order and syncs them with one `fsync`.
pub fn apply_ops<D: Disk>(
    log: &mut DurableLog<D>,
    ops: impl IntoIterator<Item = StorageOp>,
) -> Result<Synced, StorageError> {
    for op in ops {
        apply_op(log, op)?;
    }
    log.sync()?;
    Ok(Synced {
        index: log.last_index(),
    })
}
