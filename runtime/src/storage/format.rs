//! The data directory's format mark: a kernel reads only stores written in
//! the format it writes, and says so when a directory is older.
//!
//! The records are `postcard`-encoded without field names or versions, so a
//! store written by an earlier `ftc` could decode into wrong values instead
//! of failing. A file `format` at the top of the data directory names the
//! format; a directory that holds stores but no mark is from before marks
//! existed. Both are refused with what to do; an empty directory is marked.

use super::{Disk, FsDisk, Store};
use std::path::Path;

/// The file holding the mark.
pub const FORMAT_FILE: &str = "format";

/// The format this version reads and writes. Raised whenever what a store
/// holds changes its encoding (1: before the mark, with durable servers; 2:
/// creations keyed by their starter, nested calls that start servers; 3:
/// program-scoped servers and the clients a group forgot).
pub const FORMAT: u32 = 3;

fn mark() -> String {
    format!("ftc data format {FORMAT}\n")
}

/// Checks `dir`'s mark, or marks it (synced, with its directory entry) when
/// it holds no store yet. `Err` says why the directory cannot be used.
pub fn check_or_mark(dir: &Path) -> Result<(), String> {
    let fresh = "start this host on a fresh data directory (see docs/deployment.md, Upgrading)";
    match std::fs::read_to_string(dir.join(FORMAT_FILE)) {
        Ok(text) if text == mark() => Ok(()),
        Ok(text) => Err(format!(
            "written in {:?}, this version reads format {FORMAT}: {fresh}",
            text.trim()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if holds_stores(dir)? {
                return Err(format!(
                    "written by a version of ftc before data formats were marked: {fresh}"
                ));
            }
            let mut disk = FsDisk::open(dir).map_err(|e| e.to_string())?;
            let tmp = format!("{FORMAT_FILE}.tmp");
            disk.write_new(&tmp, mark().as_bytes())
                .and_then(|()| disk.sync(&tmp))
                .and_then(|()| disk.rename(&tmp, FORMAT_FILE))
                .and_then(|()| disk.sync_dir())
                .map_err(|e| format!("cannot write {FORMAT_FILE}: {e}"))
        }
        Err(e) => Err(format!("cannot read {FORMAT_FILE}: {e}")),
    }
}

/// Whether `dir` has a store's directory in it.
fn holds_stores(dir: &Path) -> Result<bool, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.to_string()),
    };
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry
            .file_name()
            .to_str()
            .and_then(Store::from_dir_name)
            .is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_directory_is_marked_and_then_accepted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("h1");
        check_or_mark(&data).expect("marks a missing directory");
        assert_eq!(
            std::fs::read_to_string(data.join(FORMAT_FILE)).expect("mark"),
            mark()
        );
        check_or_mark(&data).expect("accepts its own mark");
    }

    #[test]
    fn unmarked_stores_and_other_formats_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join(Store::ViewService.dir_name())).expect("store");
        let err = check_or_mark(dir.path()).expect_err("an unmarked store");
        assert!(err.contains("before data formats were marked"), "{err}");
        assert!(!dir.path().join(FORMAT_FILE).exists(), "not marked");
        std::fs::write(dir.path().join(FORMAT_FILE), "ftc data format 1\n").expect("mark");
        let err = check_or_mark(dir.path()).expect_err("an older format");
        assert!(err.contains("format 1"), "{err}");
        assert!(err.contains(&format!("reads format {FORMAT}")), "{err}");
    }
}
