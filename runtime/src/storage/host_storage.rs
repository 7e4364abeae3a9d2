//! A host's stable storage as its driver holds it: one [`DurableLog`] per
//! [`Store`], operations applied in output order, and one sync for all of
//! them before anything that depends on them leaves the host (group commit).

use super::disk::{Disk, FsDisk};
use super::log::{DurableLog, Recovered, StorageError};
use super::{StorageOp, Store};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// The logs of one host (see the module documentation).
pub struct HostStorage<D: Disk> {
    logs: BTreeMap<Store, DurableLog<D>>,
    /// Some log holds appended records that are not synced yet.
    unsynced: bool,
    /// Syncs carried out (each one `fsync` per log written).
    syncs: u64,
}

impl<D: Disk> Default for HostStorage<D> {
    fn default() -> HostStorage<D> {
        HostStorage {
            logs: BTreeMap::new(),
            unsynced: false,
            syncs: 0,
        }
    }
}

impl<D: Disk> HostStorage<D> {
    pub fn new() -> HostStorage<D> {
        HostStorage::default()
    }

    /// Adds the log of `store`.
    pub fn insert(&mut self, store: Store, log: DurableLog<D>) {
        self.logs.insert(store, log);
    }

    /// Whether the log of `store` is open.
    pub fn contains(&self, store: Store) -> bool {
        self.logs.contains_key(&store)
    }

    /// Takes the log of `store` out (the simulator crashes its disk).
    pub fn remove(&mut self, store: Store) -> Option<DurableLog<D>> {
        self.logs.remove(&store)
    }

    /// Carries out one operation; appended records wait for [`HostStorage::sync`].
    pub fn apply(&mut self, store: Store, op: StorageOp) -> Result<(), StorageError> {
        let log = self.logs.get_mut(&store).ok_or_else(|| {
            StorageError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no log for the {store:?} store"),
            ))
        })?;
        super::apply_op(log, op)?;
        self.unsynced |= log.last_index() > log.synced_index();
        Ok(())
    }

    /// Whether appended records wait for a sync.
    pub fn needs_sync(&self) -> bool {
        self.unsynced
    }

    /// Makes every appended record durable: one `fsync` per log written.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        if !self.unsynced {
            return Ok(());
        }
        for log in self.logs.values_mut() {
            if log.last_index() > log.synced_index() {
                log.sync()?;
                self.syncs += 1;
            }
        }
        self.unsynced = false;
        Ok(())
    }

    /// Syncs carried out so far.
    pub fn syncs(&self) -> u64 {
        self.syncs
    }
}

/// Opens (creating it if needed) the log of `store` under a host's data
/// directory: `DATA_DIR/<store's directory>`.
pub fn open_store(
    data_dir: &Path,
    store: Store,
) -> Result<(DurableLog<FsDisk>, Recovered), StorageError> {
    let disk = FsDisk::open(&data_dir.join(store.dir_name()))?;
    DurableLog::open(disk)
}
