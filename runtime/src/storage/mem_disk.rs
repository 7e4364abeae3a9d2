//! An in-memory [`Disk`] with the failure semantics of a real one, for the
//! simulator and tests: a crash keeps only what was synced, may keep part of
//! the unsynced tail of a file (a torn write, possibly with garbage), and
//! forgets names whose directory was not synced; [`MemDisk::corrupt`] flips a
//! byte that was already durable (a bad sector).

use super::disk::Disk;
use rand::Rng;
use std::collections::BTreeMap;
use std::io;

#[derive(Clone, Debug, Default)]
struct MemFile {
    /// What a reader sees now.
    data: Vec<u8>,
    /// What survives a crash for certain.
    synced: Vec<u8>,
}

/// Counts of the operations that cost time on a real disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// File and directory syncs.
    pub syncs: u64,
    pub bytes_written: u64,
}

/// One simulated directory.
#[derive(Clone, Debug, Default)]
pub struct MemDisk {
    files: Vec<MemFile>,
    names: BTreeMap<String, usize>,
    durable_names: BTreeMap<String, usize>,
    stats: DiskStats,
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name:?}"))
}

impl MemDisk {
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    pub fn stats(&self) -> DiskStats {
        self.stats
    }

    /// A power failure: every file goes back to its synced content, plus (when
    /// `tear`) a random part of its unsynced appended tail, whose kept bytes
    /// may be damaged; names go back to the last synced directory.
    pub fn crash<R: Rng>(&mut self, rng: &mut R, tear: bool) {
        self.names = self.durable_names.clone();
        for file in &mut self.files {
            let appended =
                file.data.len() > file.synced.len() && file.data.starts_with(&file.synced);
            let mut kept = file.synced.clone();
            if tear && appended {
                let extra = rng.random_range(0..=file.data.len() - file.synced.len());
                kept.extend_from_slice(&file.data[file.synced.len()..file.synced.len() + extra]);
                if extra > 0 && rng.random_bool(0.5) {
                    let at = file.synced.len() + rng.random_range(0..extra);
                    kept[at] = rng.random();
                }
            }
            file.data = kept.clone();
            file.synced = kept;
        }
    }

    /// Flips the bits of byte `offset` of `name`, durably (a bad sector).
    pub fn corrupt(&mut self, name: &str, offset: usize) -> io::Result<()> {
        let id = *self.names.get(name).ok_or_else(|| not_found(name))?;
        let file = &mut self.files[id];
        if offset >= file.data.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "past the end"));
        }
        file.data[offset] ^= 0xFF;
        if offset < file.synced.len() {
            file.synced[offset] ^= 0xFF;
        }
        Ok(())
    }

    /// A file's current length.
    pub fn len_of(&self, name: &str) -> Option<usize> {
        self.names.get(name).map(|&id| self.files[id].data.len())
    }

    fn file_mut(&mut self, name: &str) -> io::Result<&mut MemFile> {
        let id = *self.names.get(name).ok_or_else(|| not_found(name))?;
        Ok(&mut self.files[id])
    }

    fn create(&mut self, name: &str) -> usize {
        if let Some(&id) = self.names.get(name) {
            return id;
        }
        self.files.push(MemFile::default());
        let id = self.files.len() - 1;
        self.names.insert(name.to_string(), id);
        id
    }
}

impl Disk for MemDisk {
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.names.keys().cloned().collect())
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let id = *self.names.get(name).ok_or_else(|| not_found(name))?;
        Ok(self.files[id].data.clone())
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let id = self.create(name);
        self.files[id].data.extend_from_slice(bytes);
        self.stats.bytes_written += bytes.len() as u64;
        Ok(())
    }

    fn write_new(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let id = self.create(name);
        self.files[id].data = bytes.to_vec();
        self.stats.bytes_written += bytes.len() as u64;
        Ok(())
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        let file = self.file_mut(name)?;
        file.synced = file.data.clone();
        self.stats.syncs += 1;
        Ok(())
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        let file = self.file_mut(name)?;
        let len = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(file.data.len());
        file.data.truncate(len);
        file.synced = file.data.clone();
        self.stats.syncs += 1;
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        let id = self.names.remove(from).ok_or_else(|| not_found(from))?;
        self.names.insert(to.to_string(), id);
        Ok(())
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.names.remove(name);
        Ok(())
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        self.durable_names = self.names.clone();
        self.stats.syncs += 1;
        Ok(())
    }
}
