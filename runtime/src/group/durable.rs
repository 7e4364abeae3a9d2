//! A durable server's replica on stable storage: what its host's disk holds
//! of the replica's log ([`DiskMirror`]), the storage operations that keep
//! it there, and the copy a restarted host recovers ([`DurableCopy`]).
//!
//! The disk of a replica is one [`crate::storage::DurableLog`] whose record
//! `p` is the log entry at position `p`, after an optional snapshot: the
//! [`ReplicaState`] at the snapshot's position (no snapshot: the
//! application's initial state at position 0). The replica brings the disk
//! in line with its log at the end of every step ([`DiskMirror::persist`]);
//! its host puts those operations before the step's sends, and the driver
//! makes them durable before anything leaves the host. So an entry is on the
//! disk of every member that acknowledged it, and since a command commits
//! only when every member of the view holds it, every replica that counts as
//! a state holder has every committed command on its disk.
//!
//! What the disk may hold that the replica no longer has (entries of a log
//! suffix a view change replaced, a state transfer replacing the whole log)
//! is cut before anything new is appended: a truncation or a restore marks
//! the records after a position as no longer known to match
//! ([`DiskMirror::invalidate_after`]). Committed positions are the same on
//! every replica, so a snapshot (always of executed, hence committed,
//! positions) stays valid whatever happens to the log after it.

use super::{LogEntry, ReplicaState};
use crate::storage::{Recovered, StorageOp};
use std::collections::VecDeque;

/// A snapshot is taken once the records appended since the last one hold
/// more bytes than that snapshot (so writing snapshots costs at most as much
/// as writing the log), and not below this many bytes.
const SNAPSHOT_MIN_BYTES: u64 = 4 << 20;
/// ... or once this many records were appended since the last snapshot (a
/// bound on the entries a restart replays).
const SNAPSHOT_MAX_RECORDS: u64 = 1 << 16;

/// What a replica knows of its disk (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskMirror {
    /// The position of the disk's snapshot (0: none, the initial state).
    snapshot: u64,
    /// The last position with a record on disk.
    end: u64,
    /// Records up to here are known to equal the replica's log entries.
    valid: u64,
    /// Record bytes and records appended since the snapshot.
    bytes_since: u64,
    records_since: u64,
    /// The size of the last snapshot written.
    snapshot_bytes: u64,
    /// The disk's store exists (it was found, or [`DISK_MARK`] was written):
    /// a replica that never executed anything must still leave a copy (of
    /// the initial state) that brings its server back.
    marked: bool,
    /// When a snapshot is due (the constants; smaller in tests).
    snapshot_min_bytes: u64,
    snapshot_max_records: u64,
}

impl Default for DiskMirror {
    /// An empty disk.
    fn default() -> DiskMirror {
        DiskMirror {
            snapshot: 0,
            end: 0,
            valid: 0,
            bytes_since: 0,
            records_since: 0,
            snapshot_bytes: 0,
            marked: false,
            snapshot_min_bytes: SNAPSHOT_MIN_BYTES,
            snapshot_max_records: SNAPSHOT_MAX_RECORDS,
        }
    }
}

/// The metadata record of a durable replica's store: what makes a store
/// with no snapshot and no record the copy of an initial state.
pub const DISK_MARK: &[u8] = b"ftc durable replica 1";

impl DiskMirror {
    /// A disk holding a snapshot at `snapshot` and records up to `end`, none
    /// of them known to match the replica's log yet (an earlier life's).
    pub fn found(snapshot: u64, end: u64) -> DiskMirror {
        assert!(
            snapshot <= end,
            "a disk's records end at or after its snapshot"
        );
        DiskMirror {
            snapshot,
            end,
            valid: snapshot,
            marked: true,
            ..DiskMirror::default()
        }
    }

    /// The replica's log was restored from exactly what the disk holds.
    pub fn matches_disk(&mut self) {
        self.valid = self.end;
    }

    /// The replica's entries after `position` changed (or its state was
    /// replaced): the disk's records after it go at the next persist.
    pub fn invalidate_after(&mut self, position: u64) {
        self.valid = self.valid.min(position);
    }

    /// The operations that make the disk hold the replica's state: its log
    /// entries after `base` in `entries` (position `base + 1` first), its
    /// application state at `executed` as `package` builds it.
    pub fn persist(
        &mut self,
        base: u64,
        executed: u64,
        entries: &VecDeque<LogEntry>,
        package: impl FnOnce() -> ReplicaState,
        ops: &mut Vec<StorageOp>,
    ) {
        debug_assert!(base <= executed);
        let log_end = base + entries.len() as u64;
        if !self.marked {
            ops.push(StorageOp::Meta(DISK_MARK.to_vec()));
            self.marked = true;
        }
        // 1. Records that may differ from the log go.
        if self.valid < self.end {
            let keep = self.valid.max(self.snapshot);
            if keep < self.end {
                ops.push(StorageOp::TruncateAfter(keep));
                self.end = keep;
            }
        }
        self.valid = self.end;
        // 2. A snapshot when the log no longer holds what follows the disk's
        // records (a state transfer, or entries dropped from memory), or
        // when the records outgrew the last snapshot.
        let behind = self.end < base;
        let grown = self.bytes_since > self.snapshot_min_bytes.max(self.snapshot_bytes)
            || self.records_since >= self.snapshot_max_records;
        if (behind || grown) && executed > self.snapshot {
            let mut state = package();
            state.position = executed;
            let bytes = encode(&state);
            self.snapshot_bytes = bytes.len() as u64;
            ops.push(StorageOp::Snapshot {
                index: executed,
                state: bytes,
            });
            self.snapshot = executed;
            self.end = self.end.max(executed);
            self.valid = self.end;
            self.bytes_since = 0;
            self.records_since = 0;
        }
        assert!(
            self.end >= base,
            "the disk continues where the replica's log starts"
        );
        // 3. The entries the disk does not have yet.
        let skip = usize::try_from(self.end - base).unwrap_or(usize::MAX);
        for entry in entries.iter().skip(skip) {
            let record = encode(entry);
            self.bytes_since += record.len() as u64;
            self.records_since += 1;
            ops.push(StorageOp::Append(record));
        }
        self.end = self.end.max(log_end);
        self.valid = self.end;
    }
}

/// What a host's disk held of its replica of a durable group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurableCopy {
    /// The state at the snapshot (`None`: the application's initial state at
    /// position 0).
    pub state: Option<ReplicaState>,
    /// The entries after the state, in position order.
    pub entries: Vec<LogEntry>,
}

impl DurableCopy {
    /// Decodes what [`crate::storage::DurableLog::open`] recovered; an
    /// unreadable or inconsistent copy is refused.
    pub fn decode(recovered: &Recovered) -> Result<DurableCopy, String> {
        if recovered.meta.as_deref() != Some(DISK_MARK) {
            return Err("not a durable server's store (its mark is missing or unknown)".into());
        }
        let state = match &recovered.snapshot {
            Some((index, bytes)) => {
                let state: ReplicaState = postcard::from_bytes(bytes)
                    .map_err(|e| format!("a durable server's snapshot is unreadable: {e}"))?;
                if state.position != *index {
                    return Err(format!(
                        "a durable server's snapshot says position {} but is stored as {index}",
                        state.position
                    ));
                }
                Some(state)
            }
            None => None,
        };
        let base = state.as_ref().map_or(0, |s| s.position);
        let mut entries = Vec::with_capacity(recovered.records.len());
        for (k, (index, bytes)) in recovered.records.iter().enumerate() {
            if *index != base + 1 + k as u64 {
                return Err(format!(
                    "a durable server's log record {index} is out of sequence"
                ));
            }
            let entry: LogEntry = postcard::from_bytes(bytes)
                .map_err(|e| format!("a durable server's log record {index} is unreadable: {e}"))?;
            entries.push(entry);
        }
        Ok(DurableCopy { state, entries })
    }

    /// The position of the state.
    pub fn base(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.position)
    }

    /// The last position held.
    pub fn end(&self) -> u64 {
        self.base() + self.entries.len() as u64
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("log entries and replica states always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppTimerId;
    use crate::storage::{apply_ops, DurableLog, MemDisk};

    /// A replica's log as the tests drive it: entries after `base`, the
    /// state at `executed` named by its position.
    struct Log {
        base: u64,
        executed: u64,
        entries: VecDeque<LogEntry>,
    }

    fn entry(n: u64) -> LogEntry {
        LogEntry::TimerFired {
            timer: AppTimerId(n),
        }
    }

    fn state(position: u64) -> ReplicaState {
        ReplicaState {
            position,
            snapshot: position.to_le_bytes().to_vec(),
            clients: Vec::new(),
            departed: Default::default(),
            nested_calls: Vec::new(),
            timers: Vec::new(),
        }
    }

    /// Persists `log` through `mirror` onto `disk`, then reopens the disk
    /// and checks the copy is the log: the state at its base (or the
    /// initial state) and every entry after it.
    fn persist_and_recover(
        mirror: &mut DiskMirror,
        log: &Log,
        disk: &mut Option<DurableLog<MemDisk>>,
    ) {
        let mut ops = Vec::new();
        mirror.persist(
            log.base,
            log.executed,
            &log.entries,
            || state(log.executed),
            &mut ops,
        );
        let mut durable = disk.take().expect("an open log");
        apply_ops(&mut durable, ops).expect("memory disk");
        let (reopened, recovered) = DurableLog::open(durable.into_disk()).expect("reopens");
        *disk = Some(reopened);
        let copy = DurableCopy::decode(&recovered).expect("a readable copy");
        let log_end = log.base + log.entries.len() as u64;
        assert_eq!(copy.end(), log_end, "the copy ends where the log does");
        // The copy's state may be ahead of the replica's (a snapshot of a
        // committed position it was rolled back below): positions up to it
        // are committed, the same everywhere.
        for position in copy.base() + 1..=log_end {
            let held = &copy.entries[(position - copy.base() - 1) as usize];
            if position > log.base {
                assert_eq!(held, &log.entries[(position - log.base - 1) as usize]);
            }
        }
        if let Some(s) = &copy.state {
            assert_eq!(s.snapshot, s.position.to_le_bytes().to_vec());
        }
    }

    fn fresh_disk() -> Option<DurableLog<MemDisk>> {
        Some(DurableLog::open(MemDisk::new()).expect("an empty disk").0)
    }

    #[test]
    fn the_disk_follows_appends_truncations_and_restores() {
        let mut disk = fresh_disk();
        let mut mirror = DiskMirror::default();
        let mut log = Log {
            base: 0,
            executed: 0,
            entries: VecDeque::new(),
        };
        // Nothing executed yet: the mark alone makes a copy of the initial state.
        persist_and_recover(&mut mirror, &log, &mut disk);
        log.entries.extend((1..=5).map(entry));
        log.executed = 3;
        persist_and_recover(&mut mirror, &log, &mut disk);
        // A view change replaced the entries after 3.
        log.entries.truncate(3);
        mirror.invalidate_after(3);
        log.entries.extend((40..43).map(entry));
        persist_and_recover(&mut mirror, &log, &mut disk);
        // A state transfer at 10 replaces everything.
        mirror.invalidate_after(0);
        log.base = 10;
        log.executed = 10;
        log.entries = (11..=12).map(entry).collect();
        persist_and_recover(&mut mirror, &log, &mut disk);
        // ... and one at 8, below what the disk holds: its snapshot stays.
        mirror.invalidate_after(0);
        log.base = 8;
        log.executed = 8;
        log.entries = (9..=14).map(entry).collect();
        persist_and_recover(&mut mirror, &log, &mut disk);
    }

    #[test]
    fn snapshots_keep_the_disk_bounded_and_entries_dropped_from_memory_are_covered() {
        let mut disk = fresh_disk();
        let mut mirror = DiskMirror {
            snapshot_max_records: 4,
            ..DiskMirror::default()
        };
        let mut log = Log {
            base: 0,
            executed: 0,
            entries: VecDeque::new(),
        };
        for n in 1..=40u64 {
            log.entries.push_back(entry(n));
            log.executed = n - 1;
            if n % 7 == 0 {
                // Executed entries leave memory (the replica keeps a window).
                let drop = (log.executed - 2).saturating_sub(log.base);
                log.entries.drain(..drop as usize);
                log.base += drop;
            }
            persist_and_recover(&mut mirror, &log, &mut disk);
            let held = disk
                .as_ref()
                .map_or(0, |d| d.last_index() - d.snapshot_index());
            assert!(
                held <= 8,
                "at most two intervals of records after the snapshot, held {held}"
            );
        }
    }

    #[test]
    fn a_store_without_the_mark_is_refused() {
        let recovered = Recovered::default();
        assert!(DurableCopy::decode(&recovered).is_err());
        let recovered = Recovered {
            meta: Some(DISK_MARK.to_vec()),
            records: vec![(2, encode(&entry(2)))],
            ..Recovered::default()
        };
        let e = DurableCopy::decode(&recovered).expect_err("a gap before record 2");
        assert!(e.contains("out of sequence"), "{e}");
    }
}
