//! The file operations stable storage needs, on a real directory ([`FsDisk`]).
//!
//! [`super::DurableLog`] speaks only to the [`Disk`] trait, so the same
//! recovery code runs on the operating system's files and on the simulator's
//! [`super::MemDisk`], which loses unsynced writes and tears the last one at a
//! crash.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One flat directory of named files.
///
/// Durability contract (what `fsync` gives on Linux): bytes written to a file
/// survive a crash once [`Disk::sync`] of that file returned; a file's name
/// (its creation, a rename or a removal) survives once [`Disk::sync_dir`]
/// returned. Anything else may be lost, or survive in part.
pub trait Disk {
    /// The names of the files in the directory, in any order.
    fn list(&self) -> io::Result<Vec<String>>;
    /// A file's whole content.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// Appends to a file, creating it when missing.
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Creates or replaces a file with `bytes` (not synced).
    fn write_new(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Makes a file's content durable.
    fn sync(&mut self, name: &str) -> io::Result<()>;
    /// Cuts a file to `len` bytes and makes that durable.
    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` (atomic).
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()>;
    fn remove(&mut self, name: &str) -> io::Result<()>;
    /// Makes the directory's names durable.
    fn sync_dir(&mut self) -> io::Result<()>;
}

/// A directory of the operating system's file system.
pub struct FsDisk {
    root: PathBuf,
    /// Files opened for appending, kept open between batches.
    open: BTreeMap<String, File>,
}

impl FsDisk {
    /// Uses `root`, creating it (and syncing its parent) when missing.
    pub fn open(root: &Path) -> io::Result<FsDisk> {
        if !root.is_dir() {
            fs::create_dir_all(root)?;
            if let Some(parent) = root.parent() {
                if !parent.as_os_str().is_empty() {
                    File::open(parent)?.sync_all()?;
                }
            }
        }
        Ok(FsDisk {
            root: root.to_path_buf(),
            open: BTreeMap::new(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a plain file name: {name:?}"),
            ));
        }
        Ok(self.root.join(name))
    }

    fn handle(&mut self, name: &str) -> io::Result<&mut File> {
        if !self.open.contains_key(name) {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(name)?)?;
            self.open.insert(name.to_string(), file);
        }
        Ok(self.open.get_mut(name).expect("inserted above"))
    }
}

impl Disk for FsDisk {
    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(name)?)
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.handle(name)?.write_all(bytes)
    }

    fn write_new(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.open.remove(name);
        let mut file = File::create(self.path(name)?)?;
        file.write_all(bytes)?;
        self.open.insert(name.to_string(), file);
        Ok(())
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.handle(name)?.sync_data()
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        let file = self.handle(name)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.open.remove(from);
        self.open.remove(to);
        fs::rename(self.path(from)?, self.path(to)?)
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.open.remove(name);
        match fs::remove_file(self.path(name)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        File::open(&self.root)?.sync_all()
    }
}
