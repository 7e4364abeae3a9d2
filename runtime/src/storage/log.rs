//! A durable log of records on a [`Disk`]: appends with group commit, atomic
//! snapshots that compact the log, atomically replaced metadata, and recovery
//! that cuts a torn tail and refuses corruption.
//!
//! Files of one log directory:
//!
//! ```text
//!  log-<first index, 20 digits>   segments: records, each  magic len index batch crc | payload
//!  snapshot                       magic index len crc | state    (the state after record `index`)
//!  meta                           magic 0 len crc | bytes         (e.g. a term and a vote)
//!  *.tmp                          an atomic write in progress (removed at open)
//! ```
//!
//! Records are numbered from 1. [`DurableLog::append`] only buffers;
//! [`DurableLog::sync`] writes every buffered record with one write and one
//! `fsync` (group commit) and reports the last durable index. A record's
//! `batch` is the index of the first record of the sync it was written in:
//! a damaged record followed by an intact one of a *later* batch was synced
//! (the later batch was only written after it), so that is corruption and
//! [`DurableLog::open`] refuses the directory; damage with nothing of a later
//! batch after it is a torn tail of the last, unfinished sync, and is cut.
//! A snapshot rolls the log to a new segment and deletes the segments it
//! covers, so the log stays bounded by the snapshot interval.

use super::crc::Crc32c;
use super::disk::Disk;
use std::io;

const RECORD_MAGIC: u32 = 0x4654_5243; // "FTRC"
const FILE_MAGIC: u32 = 0x4654_534E; // "FTSN"
const RECORD_HEADER: usize = 4 + 4 + 8 + 8 + 4;
const FILE_HEADER: usize = 4 + 8 + 8 + 4;
/// The largest record or snapshot accepted (a server's whole state at most).
pub const RECORD_BYTES_MAX: usize = 1 << 30;

const SNAPSHOT: &str = "snapshot";
const META: &str = "meta";
const SEGMENT_PREFIX: &str = "log-";

/// Why stable storage cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("stable storage: {0}")]
    Io(#[from] io::Error),
    #[error("stable storage: {file} is corrupt at byte {offset}: {why}")]
    Corrupt {
        file: String,
        offset: u64,
        why: String,
    },
    #[error("stable storage failed earlier; nothing more is written")]
    Broken,
}

/// What [`DurableLog::open`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The newest snapshot: the state after record `.0`.
    pub snapshot: Option<(u64, Vec<u8>)>,
    /// The metadata last saved with [`DurableLog::save_meta`].
    pub meta: Option<Vec<u8>>,
    /// Every record after the snapshot, in order, with its index.
    pub records: Vec<(u64, Vec<u8>)>,
    /// Bytes of a torn tail cut from the last segment.
    pub cut_bytes: u64,
}

struct Segment {
    first: u64,
    name: String,
    /// The byte offset where each record ends (record `first + k` ends at `ends[k]`).
    ends: Vec<u64>,
}

impl Segment {
    fn last(&self) -> u64 {
        self.first + self.ends.len() as u64 - 1
    }
    fn len(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }
}

/// One durable log (see the module documentation).
pub struct DurableLog<D: Disk> {
    disk: D,
    segments: Vec<Segment>,
    /// The next sync starts a new segment.
    roll: bool,
    /// Encoded records appended but not yet written.
    pending: Vec<Vec<u8>>,
    next_index: u64,
    synced_index: u64,
    snapshot_index: u64,
    broken: bool,
}

fn segment_name(first: u64) -> String {
    format!("{SEGMENT_PREFIX}{first:020}")
}

fn encode_record(index: u64, batch: u64, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("record sizes are checked by append");
    let mut out = Vec::with_capacity(RECORD_HEADER + payload.len());
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&batch.to_le_bytes());
    let crc = Crc32c::new().update(&out[4..]).update(payload).finish();
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// A record read back: its index, batch and payload range, and where it ends.
struct RawRecord {
    index: u64,
    batch: u64,
    payload: std::ops::Range<usize>,
    end: usize,
}

enum Parse {
    Record(RawRecord),
    /// Too few bytes for what the header announces (or for a header).
    Short,
    Bad(&'static str),
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}
fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn parse_record(bytes: &[u8], at: usize) -> Parse {
    if bytes.len() - at < RECORD_HEADER {
        return Parse::Short;
    }
    if u32_at(bytes, at) != RECORD_MAGIC {
        return Parse::Bad("no record starts here");
    }
    let len = u32_at(bytes, at + 4) as usize;
    if len > RECORD_BYTES_MAX {
        return Parse::Bad("record length out of range");
    }
    let start = at + RECORD_HEADER;
    if bytes.len() - start < len {
        return Parse::Short;
    }
    let crc = Crc32c::new()
        .update(&bytes[at + 4..at + 24])
        .update(&bytes[start..start + len])
        .finish();
    if crc != u32_at(bytes, at + 24) {
        return Parse::Bad("checksum mismatch");
    }
    Parse::Record(RawRecord {
        index: u64_at(bytes, at + 8),
        batch: u64_at(bytes, at + 16),
        payload: start..start + len,
        end: start + len,
    })
}

fn encode_file(index: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FILE_HEADER + payload.len());
    out.extend_from_slice(&FILE_MAGIC.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let crc = Crc32c::new().update(&out[4..]).update(payload).finish();
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn decode_file(name: &str, bytes: &[u8]) -> Result<(u64, Vec<u8>), StorageError> {
    let corrupt = |why: &str| StorageError::Corrupt {
        file: name.to_string(),
        offset: 0,
        why: why.to_string(),
    };
    if bytes.len() < FILE_HEADER || u32_at(bytes, 0) != FILE_MAGIC {
        return Err(corrupt("bad header"));
    }
    let index = u64_at(bytes, 4);
    let len = u64_at(bytes, 12);
    if len != (bytes.len() - FILE_HEADER) as u64 {
        return Err(corrupt("length mismatch"));
    }
    let crc = Crc32c::new()
        .update(&bytes[4..20])
        .update(&bytes[FILE_HEADER..])
        .finish();
    if crc != u32_at(bytes, 20) {
        return Err(corrupt("checksum mismatch"));
    }
    Ok((index, bytes[FILE_HEADER..].to_vec()))
}

impl<D: Disk> DurableLog<D> {
    /// Recovers the log kept on `disk` (an empty disk is an empty log).
    pub fn open(mut disk: D) -> Result<(DurableLog<D>, Recovered), StorageError> {
        let mut recovered = Recovered::default();
        let mut seg_firsts = Vec::new();
        for name in disk.list()? {
            if name.ends_with(".tmp") {
                disk.remove(&name)?;
            } else if let Some(number) = name.strip_prefix(SEGMENT_PREFIX) {
                match number.parse::<u64>() {
                    Ok(first) if first >= 1 && segment_name(first) == name => {
                        seg_firsts.push(first)
                    }
                    _ => {
                        return Err(StorageError::Corrupt {
                            file: name,
                            offset: 0,
                            why: "not a segment name".into(),
                        })
                    }
                }
            }
        }
        seg_firsts.sort_unstable();
        let files = disk.list()?;
        if files.iter().any(|n| n == SNAPSHOT) {
            recovered.snapshot = Some(decode_file(SNAPSHOT, &disk.read(SNAPSHOT)?)?);
        }
        if files.iter().any(|n| n == META) {
            recovered.meta = Some(decode_file(META, &disk.read(META)?)?.1);
        }
        let snapshot_index = recovered.snapshot.as_ref().map_or(0, |s| s.0);

        let mut segments = Vec::new();
        // The index the next record after the snapshot must have.
        let mut expected = snapshot_index + 1;
        let count = seg_firsts.len();
        for (k, first) in seg_firsts.into_iter().enumerate() {
            let name = segment_name(first);
            let bytes = disk.read(&name)?;
            let last_segment = k + 1 == count;
            let corrupt = |offset: usize, why: &str| StorageError::Corrupt {
                file: name.clone(),
                offset: offset as u64,
                why: why.to_string(),
            };
            let mut segment = Segment {
                first,
                name: name.clone(),
                ends: Vec::new(),
            };
            let mut at = 0;
            while at < bytes.len() {
                match parse_record(&bytes, at) {
                    Parse::Record(r) => {
                        if r.index != first + segment.ends.len() as u64 || r.batch > r.index {
                            return Err(corrupt(at, "record out of sequence"));
                        }
                        if r.index >= expected {
                            if r.index != expected {
                                return Err(corrupt(at, "records missing before this one"));
                            }
                            recovered.records.push((r.index, bytes[r.payload].to_vec()));
                            expected += 1;
                        }
                        segment.ends.push(r.end as u64);
                        at = r.end;
                    }
                    Parse::Short | Parse::Bad(_) if last_segment => {
                        let next = first + segment.ends.len() as u64;
                        if synced_after(&bytes, at, next) {
                            return Err(corrupt(at, "damaged record before synced ones"));
                        }
                        recovered.cut_bytes = (bytes.len() - at) as u64;
                        disk.truncate(&name, at as u64)?;
                        break;
                    }
                    Parse::Short => return Err(corrupt(at, "segment ends inside a record")),
                    Parse::Bad(why) => return Err(corrupt(at, why)),
                }
            }
            if segment.ends.is_empty() && !last_segment {
                return Err(corrupt(0, "empty segment before others"));
            }
            segments.push(segment);
        }
        if let Some(last) = segments.last() {
            // What a torn write left intact is kept: make it durable before
            // anyone acts on it.
            let name = last.name.clone();
            disk.sync(&name)?;
        }
        let next_index = expected;
        // Append to the last segment only where its records continue.
        let roll = segments
            .last()
            .is_none_or(|s| s.first + s.ends.len() as u64 != next_index);
        let log = DurableLog {
            disk,
            roll,
            segments,
            pending: Vec::new(),
            next_index,
            synced_index: next_index - 1,
            snapshot_index,
            broken: false,
        };
        Ok((log, recovered))
    }

    /// The index of the last record appended (synced or not).
    pub fn last_index(&self) -> u64 {
        self.next_index - 1
    }

    /// The index of the last record known durable.
    pub fn synced_index(&self) -> u64 {
        self.synced_index
    }

    /// The index the newest snapshot covers (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    /// Buffers a record; it is written and made durable by the next [`DurableLog::sync`].
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, StorageError> {
        if self.broken {
            return Err(StorageError::Broken);
        }
        if payload.len() > RECORD_BYTES_MAX {
            return Err(StorageError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "record too large",
            )));
        }
        let index = self.next_index;
        let batch = self.synced_index + 1;
        self.pending.push(encode_record(index, batch, payload));
        self.next_index += 1;
        Ok(index)
    }

    /// Writes every buffered record and makes them durable with one `fsync`;
    /// returns the last durable index. After an error the log is broken.
    pub fn sync(&mut self) -> Result<u64, StorageError> {
        if self.broken {
            return Err(StorageError::Broken);
        }
        if self.pending.is_empty() {
            return Ok(self.synced_index);
        }
        let result = self.write_pending();
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn write_pending(&mut self) -> Result<u64, StorageError> {
        let first = self.synced_index + 1;
        let created = self.roll;
        if self.roll {
            self.segments.push(Segment {
                first,
                name: segment_name(first),
                ends: Vec::new(),
            });
            self.roll = false;
        }
        let segment = self.segments.last_mut().expect("a segment to write to");
        let mut bytes = Vec::with_capacity(self.pending.iter().map(Vec::len).sum());
        let mut end = segment.len();
        for record in self.pending.drain(..) {
            end += record.len() as u64;
            segment.ends.push(end);
            bytes.extend_from_slice(&record);
        }
        let name = segment.name.clone();
        self.disk.append(&name, &bytes)?;
        self.disk.sync(&name)?;
        if created {
            self.disk.sync_dir()?;
        }
        self.synced_index = self.next_index - 1;
        Ok(self.synced_index)
    }

    /// Removes every record after `index` (a conflicting suffix), durably.
    /// `index` may not be below the snapshot.
    pub fn truncate_after(&mut self, index: u64) -> Result<(), StorageError> {
        if self.broken {
            return Err(StorageError::Broken);
        }
        assert!(
            index >= self.snapshot_index,
            "truncating the log below its snapshot"
        );
        if index >= self.last_index() {
            return Ok(());
        }
        let keep_pending = index.saturating_sub(self.synced_index) as usize;
        self.pending.truncate(keep_pending);
        // Pending records were encoded with the batch they would start; they
        // still will (the synced index only goes down).
        if index < self.synced_index {
            let result = self.cut_written(index);
            if result.is_err() {
                self.broken = true;
                return result;
            }
            assert!(self.pending.is_empty());
        }
        self.next_index = index + 1;
        Ok(())
    }

    fn cut_written(&mut self, index: u64) -> Result<(), StorageError> {
        // Whole segments after `index` go first, durably: a crash before the
        // cut of the segment holding `index` then leaves a log that still
        // continues without a gap.
        let mut removed = false;
        while self.segments.last().is_some_and(|s| s.first > index) {
            let segment = self.segments.pop().expect("checked above");
            self.disk.remove(&segment.name)?;
            removed = true;
        }
        if removed {
            self.disk.sync_dir()?;
        }
        if let Some(segment) = self.segments.last_mut() {
            let keep = (index + 1 - segment.first) as usize;
            segment.ends.truncate(keep);
            let (name, len) = (segment.name.clone(), segment.len());
            self.disk.truncate(&name, len)?;
        }
        self.roll = self
            .segments
            .last()
            .is_none_or(|s| s.first + s.ends.len() as u64 != index + 1);
        self.synced_index = index;
        Ok(())
    }

    /// Saves `state`, the state after record `index`, atomically, and deletes
    /// the log records it covers. An `index` past the log's end replaces the
    /// whole log (a state received from elsewhere): the next record is `index + 1`.
    pub fn save_snapshot(&mut self, index: u64, state: &[u8]) -> Result<(), StorageError> {
        if self.broken {
            return Err(StorageError::Broken);
        }
        if index <= self.snapshot_index {
            return Ok(());
        }
        let result = self.snapshot_inner(index, state);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn snapshot_inner(&mut self, index: u64, state: &[u8]) -> Result<(), StorageError> {
        if index > self.synced_index && index <= self.last_index() {
            self.write_pending()?;
        }
        self.write_atomic(SNAPSHOT, index, state)?;
        self.snapshot_index = index;
        if index > self.last_index() {
            self.pending.clear();
            self.next_index = index + 1;
            self.synced_index = index;
        }
        // Delete whole segments the snapshot covers; later appends go to a new one.
        let mut removed = false;
        while let Some(segment) = self.segments.first() {
            let covered = if segment.ends.is_empty() {
                segment.first <= index + 1
            } else {
                segment.last() <= index
            };
            if !covered {
                break;
            }
            let name = segment.name.clone();
            self.segments.remove(0);
            self.disk.remove(&name)?;
            removed = true;
        }
        if removed {
            self.disk.sync_dir()?;
        }
        self.roll = true;
        Ok(())
    }

    /// Replaces the metadata (e.g. a term and a vote) atomically and durably.
    pub fn save_meta(&mut self, meta: &[u8]) -> Result<(), StorageError> {
        if self.broken {
            return Err(StorageError::Broken);
        }
        let result = self.write_atomic(META, 0, meta);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// write-to-temporary, fsync, rename, fsync the directory.
    fn write_atomic(&mut self, name: &str, index: u64, payload: &[u8]) -> Result<(), StorageError> {
        let tmp = format!("{name}.tmp");
        self.disk.write_new(&tmp, &encode_file(index, payload))?;
        self.disk.sync(&tmp)?;
        self.disk.rename(&tmp, name)?;
        self.disk.sync_dir()?;
        Ok(())
    }

    /// Gives the disk back (the simulator crashes it and opens the log again).
    pub fn into_disk(self) -> D {
        self.disk
    }

    pub fn disk(&self) -> &D {
        &self.disk
    }

    #[cfg(test)]
    pub(crate) fn disk_mut(&mut self) -> &mut D {
        &mut self.disk
    }
}

/// Whether an intact record of a batch that started after index `next` lies
/// after byte `from`: then the damaged record `next` was synced.
fn synced_after(bytes: &[u8], from: usize, next: u64) -> bool {
    let magic = RECORD_MAGIC.to_le_bytes();
    let mut at = from + 1;
    while at + RECORD_HEADER <= bytes.len() {
        if bytes[at..at + 4] == magic {
            if let Parse::Record(r) = parse_record(bytes, at) {
                if r.batch > next {
                    return true;
                }
            }
        }
        at += 1;
    }
    false
}
