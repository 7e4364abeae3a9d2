//! Stable-storage tests: recovery after crashes at every point of a write,
//! torn tails, corrupted records, snapshots bounding the log, group commit.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io;

/// A disk that fails every operation after `budget` of them: a crash in the
/// middle of a log operation, between any two of its disk operations.
struct CrashAfter {
    inner: MemDisk,
    budget: usize,
}

impl CrashAfter {
    fn spend(&mut self) -> io::Result<()> {
        if self.budget == 0 {
            return Err(io::Error::other("power failure"));
        }
        self.budget -= 1;
        Ok(())
    }
}

impl Disk for CrashAfter {
    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.inner.read(name)
    }
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.spend()?;
        self.inner.append(name, bytes)
    }
    fn write_new(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.spend()?;
        self.inner.write_new(name, bytes)
    }
    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.spend()?;
        self.inner.sync(name)
    }
    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.spend()?;
        self.inner.truncate(name, len)
    }
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.spend()?;
        self.inner.rename(from, to)
    }
    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.spend()?;
        self.inner.remove(name)
    }
    fn sync_dir(&mut self) -> io::Result<()> {
        self.spend()?;
        self.inner.sync_dir()
    }
}

fn payload(rng: &mut ChaCha8Rng, index: u64) -> Vec<u8> {
    let len = rng.random_range(0..200);
    let mut bytes = index.to_le_bytes().to_vec();
    bytes.extend((0..len).map(|_| rng.random::<u8>()));
    bytes
}

/// The state a snapshot at `index` of `model` holds.
fn state_of(model: &[Vec<u8>], index: u64) -> Vec<u8> {
    let mut crc = Crc32c::new();
    for record in &model[..index as usize] {
        crc = crc.update(record);
    }
    let mut state = index.to_le_bytes().to_vec();
    state.extend_from_slice(&crc.finish().to_le_bytes());
    state
}

/// Checks what was recovered against `model` (every record ever appended at
/// its index, truncations applied) and `durable` (the last index synced
/// before the crash); returns the recovered last index.
fn check_recovered(seed: u64, r: &Recovered, model: &[Vec<u8>], durable: u64) -> u64 {
    let snap = r.snapshot.as_ref().map_or(0, |s| s.0);
    if let Some((index, state)) = &r.snapshot {
        assert_eq!(
            state,
            &state_of(model, *index),
            "seed {seed}: snapshot state"
        );
    }
    let mut next = snap + 1;
    for (index, record) in &r.records {
        assert_eq!(*index, next, "seed {seed}: records in sequence");
        assert_eq!(
            record,
            &model[*index as usize - 1],
            "seed {seed}: record {index} is what was appended"
        );
        next += 1;
    }
    let last = next - 1;
    assert!(
        last >= durable,
        "seed {seed}: synced record lost: recovered up to {last}, synced {durable}"
    );
    last
}

/// Random appends, syncs, truncations and snapshots, with crashes in the
/// middle of operations and between them, torn tails included: every synced
/// record survives, nothing recovered differs from what was appended.
#[test]
fn recovery_keeps_every_synced_record_across_random_crashes() {
    for seed in 0..300u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut disk = MemDisk::new();
        let mut model: Vec<Vec<u8>> = Vec::new();
        let mut durable = 0u64;
        for _life in 0..6 {
            let budget = rng.random_range(0..60);
            let (mut log, recovered) = DurableLog::open(CrashAfter {
                inner: disk,
                budget: usize::MAX,
            })
            .unwrap_or_else(|e| panic!("seed {seed}: open failed: {e}"));
            let last = check_recovered(seed, &recovered, &model, durable);
            model.truncate(last as usize);
            durable = last;
            // The budget counts from here: recovery's own writes are done.
            log.disk_mut().budget = budget;
            for _ in 0..rng.random_range(1..40) {
                let step: u32 = rng.random_range(0..100);
                let result = if step < 60 {
                    let index = log.last_index() + 1;
                    let record = payload(&mut rng, index);
                    model.truncate(index as usize - 1);
                    model.push(record.clone());
                    log.append(&record).map(|_| ())
                } else if step < 85 {
                    log.sync().map(|synced| durable = synced)
                } else if step < 93 {
                    // The model keeps the cut records: a crash in the
                    // middle of the cut may leave them.
                    let to = rng.random_range(log.snapshot_index()..=log.last_index());
                    let r = log.truncate_after(to);
                    durable = durable.min(to);
                    r
                } else {
                    let at = rng.random_range(log.snapshot_index()..=log.last_index());
                    let state = state_of(&model, at);
                    let r = log.save_snapshot(at, &state);
                    if r.is_ok() {
                        durable = log.synced_index();
                    }
                    r
                };
                if result.is_err() {
                    break;
                }
            }
            let mut inner = log.into_disk().inner;
            let tear = rng.random_bool(0.7);
            inner.crash(&mut rng, tear);
            disk = inner;
        }
    }
}

#[test]
fn one_sync_per_batch() {
    let (mut log, _) = DurableLog::open(MemDisk::new()).unwrap();
    for i in 0..100u64 {
        log.append(&i.to_le_bytes()).unwrap();
    }
    assert_eq!(log.disk().stats().syncs, 0, "appending only buffers");
    assert_eq!(log.sync().unwrap(), 100);
    // The segment's data, and its name (a new file) once.
    assert_eq!(log.disk().stats().syncs, 2);
    for i in 0..50u64 {
        log.append(&i.to_le_bytes()).unwrap();
    }
    assert_eq!(log.sync().unwrap(), 150);
    assert_eq!(
        log.disk().stats().syncs,
        3,
        "one fsync for the second batch"
    );
    assert_eq!(log.sync().unwrap(), 150);
    assert_eq!(log.disk().stats().syncs, 3, "nothing to sync, no fsync");
}

fn two_batches() -> MemDisk {
    let (mut log, _) = DurableLog::open(MemDisk::new()).unwrap();
    for i in 1..=3u64 {
        log.append(&[i as u8; 10]).unwrap();
    }
    log.sync().unwrap();
    for i in 4..=6u64 {
        log.append(&[i as u8; 10]).unwrap();
    }
    log.sync().unwrap();
    log.into_disk()
}

const SEGMENT: &str = "log-00000000000000000001";
/// Header (28 bytes) plus 10 payload bytes.
const RECORD: usize = 38;

#[test]
fn a_corrupted_synced_record_is_refused() {
    let mut disk = two_batches();
    // A payload byte of record 2: record 4 (a later batch) follows intact.
    disk.corrupt(SEGMENT, RECORD + 30).unwrap();
    match DurableLog::open(disk) {
        Err(StorageError::Corrupt { file, offset, .. }) => {
            assert_eq!(file, SEGMENT);
            assert_eq!(offset, RECORD as u64);
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok((_, r)) => panic!("corruption accepted: {} records", r.records.len()),
    }
    // A damaged header is refused too (record 3, the first batch's last).
    let mut disk = two_batches();
    disk.corrupt(SEGMENT, 2 * RECORD + 1).unwrap();
    assert!(matches!(
        DurableLog::open(disk),
        Err(StorageError::Corrupt { .. })
    ));
}

#[test]
fn a_damaged_tail_is_cut_and_the_log_goes_on() {
    let mut disk = two_batches();
    // Record 5 of the last batch: nothing of a later batch after it, so it
    // may be a torn write; records 5 and 6 are cut, never returned.
    disk.corrupt(SEGMENT, 4 * RECORD + 30).unwrap();
    let (mut log, r) = DurableLog::open(disk).unwrap();
    assert_eq!(r.records.len(), 4);
    assert_eq!(r.cut_bytes, 2 * RECORD as u64);
    assert_eq!(log.last_index(), 4);
    log.append(b"five again").unwrap();
    log.sync().unwrap();
    let (_, r) = DurableLog::open(log.into_disk()).unwrap();
    assert_eq!(r.records.len(), 5);
    assert_eq!(r.records[4], (5, b"five again".to_vec()));
    assert_eq!(r.cut_bytes, 0);
}

#[test]
fn a_torn_tail_is_cut() {
    let mut disk = two_batches();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    disk.append(SEGMENT, &encode_for_test(7)[..20]).unwrap();
    disk.crash(&mut rng, false);
    let (_, r) = DurableLog::open(disk.clone()).unwrap();
    assert_eq!(r.records.len(), 6);
    // Half a record that did reach the disk (a torn write) is cut.
    disk.append(SEGMENT, &encode_for_test(7)[..20]).unwrap();
    disk.sync(SEGMENT).unwrap();
    let (log, r) = DurableLog::open(disk).unwrap();
    assert_eq!(r.records.len(), 6);
    assert_eq!(r.cut_bytes, 20);
    assert_eq!(log.disk().len_of(SEGMENT), Some(6 * RECORD));
}

fn encode_for_test(index: u64) -> Vec<u8> {
    let (mut log, _) = DurableLog::open(MemDisk::new()).unwrap();
    log.save_snapshot(index - 1, b"").unwrap();
    log.append(&[7u8; 10]).unwrap();
    log.sync().unwrap();
    let disk = log.into_disk();
    disk.read(&format!("log-{index:020}")).unwrap()
}

#[test]
fn snapshots_bound_the_log() {
    let (mut log, _) = DurableLog::open(MemDisk::new()).unwrap();
    let mut model = Vec::new();
    for i in 1..=2_000u64 {
        let record = i.to_le_bytes().to_vec();
        model.push(record.clone());
        log.append(&record).unwrap();
        if i % 10 == 0 {
            log.sync().unwrap();
        }
        if i % 100 == 0 {
            log.save_snapshot(i - 50, &state_of(&model, i - 50))
                .unwrap();
            let files = log.disk().list().unwrap();
            let bytes: usize = files.iter().map(|f| log.disk().len_of(f).unwrap()).sum();
            assert!(files.len() <= 4, "files: {files:?}");
            assert!(bytes < 200 * 40, "{bytes} bytes on disk at record {i}");
        }
    }
    let (_, r) = DurableLog::open(log.into_disk()).unwrap();
    let (snap, _) = r.snapshot.as_ref().unwrap();
    assert_eq!(*snap, 1_950);
    assert_eq!(r.records.first().unwrap().0, 1_951);
    assert_eq!(r.records.last().unwrap().0, 2_000);
    check_recovered(0, &r, &model, 2_000);
}

#[test]
fn a_snapshot_past_the_end_replaces_the_log() {
    let (mut log, _) = DurableLog::open(MemDisk::new()).unwrap();
    log.append(b"a").unwrap();
    log.sync().unwrap();
    log.save_snapshot(40, b"state at 40").unwrap();
    assert_eq!(log.last_index(), 40);
    assert_eq!(log.append(b"b").unwrap(), 41);
    log.save_meta(b"term 3").unwrap();
    log.sync().unwrap();
    let (_, r) = DurableLog::open(log.into_disk()).unwrap();
    assert_eq!(r.snapshot, Some((40, b"state at 40".to_vec())));
    assert_eq!(r.records, vec![(41, b"b".to_vec())]);
    assert_eq!(r.meta, Some(b"term 3".to_vec()));
}

#[test]
fn apply_ops_syncs_once() {
    let (mut log, _) = DurableLog::open(MemDisk::new()).unwrap();
    let synced = apply_ops(
        &mut log,
        vec![
            StorageOp::Append(b"1".to_vec()),
            StorageOp::Append(b"2".to_vec()),
            StorageOp::TruncateAfter(1),
            StorageOp::Append(b"2'".to_vec()),
        ],
    )
    .unwrap();
    assert_eq!(synced, Synced { index: 2 });
    let (_, r) = DurableLog::open(log.into_disk()).unwrap();
    assert_eq!(r.records, vec![(1, b"1".to_vec()), (2, b"2'".to_vec())]);
}

#[test]
fn a_real_directory_survives_reopening_and_cuts_its_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    {
        let (mut log, r) = DurableLog::open(FsDisk::open(&root).unwrap()).unwrap();
        assert_eq!(r, Recovered::default());
        for i in 0..5u8 {
            log.append(&[i; 100]).unwrap();
        }
        log.sync().unwrap();
        log.save_snapshot(2, b"two").unwrap();
        log.append(&[9; 100]).unwrap();
        log.sync().unwrap();
    }
    // A torn write: part of a record at the end of the newest segment.
    let mut segments: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("log-"))
        .collect();
    segments.sort();
    let newest = root.join(segments.last().unwrap());
    let mut bytes = std::fs::read(&newest).unwrap();
    bytes.extend_from_slice(&[0x43, 0x52, 0x54, 0x46, 1, 2, 3]);
    std::fs::write(&newest, &bytes).unwrap();
    let (log, r) = DurableLog::open(FsDisk::open(&root).unwrap()).unwrap();
    assert_eq!(r.snapshot, Some((2, b"two".to_vec())));
    let indexes: Vec<u64> = r.records.iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, vec![3, 4, 5, 6]);
    assert_eq!(r.records[3].1, vec![9; 100]);
    assert_eq!(r.cut_bytes, 7);
    assert_eq!(log.last_index(), 6);
}
