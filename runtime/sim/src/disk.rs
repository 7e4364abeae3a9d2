//! A host's simulated disk, kept across the host's lives: the runtime's
//! [`MemDisk`] (unsynced writes lost and the last one torn at a crash) behind
//! a shared handle, so each new life of the host opens what the last left.
//! Each store of the host ([`Store`]) is a directory of it
//! ([`SharedDisk::store`]); a crash hits them all at once.

use ftc_runtime::storage::{Disk, MemDisk, Store};
use rand::Rng;
use std::collections::BTreeSet;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// One host's disk (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct SharedDisk {
    disk: Arc<Mutex<MemDisk>>,
    /// The directory this handle sees (`""`: the whole disk).
    dir: String,
}

impl SharedDisk {
    fn disk(&self) -> MutexGuard<'_, MemDisk> {
        // The simulator runs on one thread: the lock is never poisoned.
        self.disk.lock().expect("the simulated disk's lock")
    }

    /// The directory of `store` on this disk.
    pub fn store(&self, store: Store) -> SharedDisk {
        SharedDisk {
            disk: self.disk.clone(),
            dir: format!("{}/", store.dir_name()),
        }
    }

    /// The stores with files on this disk.
    pub fn stores(&self) -> io::Result<Vec<Store>> {
        let names = self.disk().list()?;
        let dirs: BTreeSet<Store> = names
            .iter()
            .filter_map(|n| n.split_once('/'))
            .filter_map(|(dir, _)| Store::from_dir_name(dir))
            .collect();
        Ok(dirs.into_iter().collect())
    }

    fn name(&self, name: &str) -> String {
        format!("{}{name}", self.dir)
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

/// A handle sees the files of its directory, by their names in it. (A
/// directory sync makes every name of the disk durable: one directory's
/// sync covering its neighbours' is harmless for the checks.)
impl Disk for SharedDisk {
    fn list(&self) -> io::Result<Vec<String>> {
        let names = self.disk().list()?;
        Ok(names
            .into_iter()
            .filter_map(|n| n.strip_prefix(self.dir.as_str()).map(str::to_string))
            .filter(|n| !n.contains('/'))
            .collect())
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.disk().read(&self.name(name))
    }
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let name = self.name(name);
        self.disk().append(&name, bytes)
    }
    fn write_new(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let name = self.name(name);
        self.disk().write_new(&name, bytes)
    }
    fn sync(&mut self, name: &str) -> io::Result<()> {
        let name = self.name(name);
        self.disk().sync(&name)
    }
    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        let name = self.name(name);
        self.disk().truncate(&name, len)
    }
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (self.name(from), self.name(to));
        self.disk().rename(&from, &to)
    }
    fn remove(&mut self, name: &str) -> io::Result<()> {
        let name = self.name(name);
        self.disk().remove(&name)
    }
    fn sync_dir(&mut self) -> io::Result<()> {
        self.disk().sync_dir()
    }
}
