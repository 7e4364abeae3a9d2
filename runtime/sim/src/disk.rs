//! A host's simulated disk, kept across the host's lives: the runtime's
//! [`MemDisk`] (unsynced writes lost and the last one torn at a crash) behind
//! a shared handle, so each new life of the host opens what the last left.

use ftc_runtime::storage::{Disk, MemDisk};
use rand::Rng;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// One host's disk (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct SharedDisk(Arc<Mutex<MemDisk>>);

impl SharedDisk {
    fn disk(&self) -> MutexGuard<'_, MemDisk> {
        // The simulator runs on one thread: the lock is never poisoned.
        self.0.lock().expect("the simulated disk's lock")
    }

    /// A power failure of the host (see [`MemDisk::crash`]).
    pub fn crash<R: Rng>(&self, rng: &mut R, tear: bool) {
        self.disk().crash(rng, tear);
    }

    /// File and directory syncs so far.
    pub fn syncs(&self) -> u64 {
        self.disk().stats().syncs
    }
}

impl Disk for SharedDisk {
    fn list(&self) -> io::Result<Vec<String>> {
        self.disk().list()
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.disk().read(name)
    }
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.disk().append(name, bytes)
    }
    fn write_new(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.disk().write_new(name, bytes)
    }
    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.disk().sync(name)
    }
    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.disk().truncate(name, len)
    }
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.disk().rename(from, to)
    }
    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.disk().remove(name)
    }
    fn sync_dir(&mut self) -> io::Result<()> {
        self.disk().sync_dir()
    }
}
