//! Idempotent-producer state of one partition, as Kafka's `ProducerStateManager`: for each
//! producer id its epoch and the metadata of its last five batches, so a retried batch is found
//! and answered with its original offsets instead of being stored twice; and for a
//! transactional producer the first offset of its open transaction, which bounds the last
//! stable offset ([`ProducerStateManager::first_unstable_offset`]).
//!
//! Transactions: a transactional data batch opens the producer's transaction (if none is open)
//! at its offset; a marker ([`ProducerStateManager::complete_txn`]) closes it and, for an ABORT,
//! returns the range `[first offset, marker offset]` for the aborted-transaction index. Batches
//! the broker writes itself (markers, transactional offset commits) carry no sequence (-1):
//! their epoch is checked and adopted, their sequence is not.
//!
//! Use, under the partition's lock (Kafka's `UnifiedLog.append`):
//! 1. [`ProducerStateManager::check`] each batch before writing: `Append`, `Duplicate` (answer
//!    with the original offsets, write nothing) or an error;
//! 2. write the batches;
//! 3. only then [`ProducerStateManager::update`] with the offsets they got. A failed write
//!    leaves the state untouched, so the producer's retry is judged against the old state.
//!
//! Snapshot file `<offset>.snapshot` (offset = the log end offset it covers), big-endian:
//! `b"GRPS"` magic, u16 format version (3; 1 and 2 are read too), u32 entry count, entries, u32
//! CRC-32C of everything before it. An entry: producer id i64, epoch i16, last timestamp i64,
//! (v2+) first offset of the open transaction i64 (-1: none), (v3) coordinator epoch of the last
//! marker i32, batch count u8, then per batch first seq i32, last seq i32, first offset i64, last
//! offset i64, max timestamp i64.
//! A snapshot that fails its CRC is ignored (the state is rebuilt from an older one or from the
//! log), as Kafka does with a corrupt snapshot.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use kafka_protocol::ResponseError;

use super::fs::FileSystem;
use crate::record::batch::BatchHeader;

/// Batches remembered per producer: Kafka's `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`, which
/// is why `max.in.flight.requests.per.connection` may be at most 5 with idempotence.
pub const BATCHES_TO_RETAIN: usize = 5;

const SNAPSHOT_MAGIC: &[u8; 4] = b"GRPS";
const SNAPSHOT_VERSION: u16 = 3;
/// Extension of snapshot files in the partition directory.
pub const SNAPSHOT_EXT: &str = "snapshot";

/// What one batch of an idempotent producer was stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    /// Sequence of the first record.
    pub first_seq: i32,
    /// Sequence of the last record (wraps at `i32::MAX`).
    pub last_seq: i32,
    /// Offset the batch was stored at.
    pub first_offset: i64,
    /// Offset of its last record.
    pub last_offset: i64,
    /// Its max timestamp, for the duplicate's answer and for expiry.
    pub timestamp: i64,
}

/// One producer id's state in this partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    /// Current epoch; older epochs are fenced.
    pub epoch: i16,
    /// The last batches, oldest first, at most [`BATCHES_TO_RETAIN`].
    pub batches: VecDeque<BatchMetadata>,
    /// Largest timestamp seen, for `producer.id.expiration.ms`.
    pub last_timestamp: i64,
    /// First offset of the producer's open transaction in this partition.
    pub current_txn_first_offset: Option<i64>,
    /// The coordinator epoch of the last marker written for it (-1: none).
    pub coordinator_epoch: i32,
}

impl ProducerEntry {
    /// The entry a producer's first batch `h` creates.
    fn new(h: &BatchHeader) -> Self {
        ProducerEntry {
            epoch: h.producer_epoch,
            batches: VecDeque::with_capacity(BATCHES_TO_RETAIN),
            last_timestamp: h.max_timestamp,
            current_txn_first_offset: None,
            coordinator_epoch: -1,
        }
    }
}

/// Why an idempotent batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducerError {
    /// The batch's epoch is older than the producer's current one (a zombie producer).
    #[error("producer {producer_id} epoch {epoch} is older than current epoch {current}")]
    Fenced {
        /// Producer id.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The epoch in force.
        current: i16,
    },
    /// The first sequence does not follow the last stored one.
    #[error("out of order sequence for producer {producer_id}: expected {expected}, got {got}")]
    OutOfOrder {
        /// Producer id.
        producer_id: i64,
        /// The sequence that would be in order.
        expected: i32,
        /// The batch's first sequence.
        got: i32,
    },
}

impl ProducerError {
    /// The Kafka error code a producer gets.
    pub fn code(&self) -> ResponseError {
        match self {
            ProducerError::Fenced { .. } => ResponseError::InvalidProducerEpoch,
            ProducerError::OutOfOrder { .. } => ResponseError::OutOfOrderSequenceNumber,
        }
    }
}

/// The verdict on one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Store it.
    Append,
    /// Already stored: answer with these offsets and store nothing.
    Duplicate(BatchMetadata),
}

/// The sequence number `delta` after `seq`, wrapping past `i32::MAX` to 0 as Kafka does.
pub fn increment_sequence(seq: i32, delta: i32) -> i32 {
    if seq > i32::MAX - delta {
        delta - (i32::MAX - seq) - 1
    } else {
        seq + delta
    }
}

fn in_sequence(last: i32, next: i32) -> bool {
    next == increment_sequence(last, 1)
}

/// Producer states of one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProducerStateManager {
    /// State per producer id.
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset -> producer id (the smallest bounds the LSO).
    ongoing: BTreeMap<i64, i64>,
    /// Number of batches applied since the last snapshot (to know whether one is worth writing).
    dirty: usize,
}

impl ProducerStateManager {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of producers tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// True if no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// The entry of one producer.
    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Every tracked producer (id, state), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, e)| (*id, e))
    }

    /// Judges a batch against the state (Kafka: `findDuplicateBatch`, `checkProducerEpoch`,
    /// `checkSequence`). Batches without a producer id are always appended.
    pub fn check(&self, h: &BatchHeader) -> Result<Check, ProducerError> {
        if !h.has_producer_id() {
            return Ok(Check::Append);
        }
        let Some(entry) = self.producers.get(&h.producer_id) else {
            // Unknown producer (new, expired, or its batches were deleted): accept any sequence,
            // as Kafka does since KIP-360.
            return Ok(Check::Append);
        };
        if h.producer_epoch < entry.epoch {
            return Err(ProducerError::Fenced {
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
                current: entry.epoch,
            });
        }
        if h.base_sequence < 0 {
            // Written by the broker (a marker, a transactional offset commit): no sequence.
            return Ok(Check::Append);
        }
        let last_seq = increment_sequence(h.base_sequence, h.last_offset_delta);
        if h.producer_epoch == entry.epoch {
            if let Some(dup) = entry
                .batches
                .iter()
                .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
            {
                return Ok(Check::Duplicate(*dup));
            }
            if let Some(last) = entry.batches.back() {
                if !in_sequence(last.last_seq, h.base_sequence) {
                    return Err(ProducerError::OutOfOrder {
                        producer_id: h.producer_id,
                        expected: increment_sequence(last.last_seq, 1),
                        got: h.base_sequence,
                    });
                }
            }
        } else if h.base_sequence != 0 {
            // A new epoch must start at sequence 0.
            return Err(ProducerError::OutOfOrder {
                producer_id: h.producer_id,
                expected: 0,
                got: h.base_sequence,
            });
        }
        Ok(Check::Append)
    }

    /// Records a batch that was written at `first_offset` (call only after the write succeeded,
    /// and also when replaying the log on start-up).
    pub fn update(&mut self, h: &BatchHeader, first_offset: i64) {
        if !h.has_producer_id() || h.is_control() {
            // Markers are applied by `complete_txn`, which needs their type.
            return;
        }
        let meta = BatchMetadata {
            first_seq: h.base_sequence,
            last_seq: increment_sequence(h.base_sequence, h.last_offset_delta),
            first_offset,
            last_offset: first_offset + i64::from(h.last_offset_delta),
            timestamp: h.max_timestamp,
        };
        let entry = self.entry_at_epoch(h);
        if h.base_sequence >= 0 {
            if entry.batches.len() == BATCHES_TO_RETAIN {
                entry.batches.pop_front();
            }
            entry.batches.push_back(meta);
        }
        entry.last_timestamp = entry.last_timestamp.max(h.max_timestamp);
        if h.is_transactional() && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(first_offset);
            self.ongoing.insert(first_offset, h.producer_id);
        }
        self.dirty += 1;
    }

    /// Applies a transaction marker stored at `offset` (after the write, and when replaying):
    /// the producer's epoch moves to the marker's, and its open transaction (if any) ends.
    /// Returns `(first offset, marker offset)` of the transaction when the marker is an ABORT
    /// that ended one, for the aborted-transaction index.
    pub fn complete_txn(
        &mut self,
        h: &BatchHeader,
        offset: i64,
        commit: bool,
        coordinator_epoch: i32,
    ) -> Option<(i64, i64)> {
        let entry = self.entry_at_epoch(h);
        entry.coordinator_epoch = coordinator_epoch;
        entry.last_timestamp = entry.last_timestamp.max(h.max_timestamp);
        let first = entry.current_txn_first_offset.take();
        self.dirty += 1;
        let first = first?;
        self.ongoing.remove(&first);
        (!commit).then_some((first, offset))
    }

    /// The entry of `h`'s producer (created if new), moved to `h`'s epoch if that is newer (a
    /// new epoch forgets the old one's batches).
    fn entry_at_epoch(&mut self, h: &BatchHeader) -> &mut ProducerEntry {
        let entry = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry::new(h));
        if h.producer_epoch > entry.epoch {
            entry.epoch = h.producer_epoch;
            entry.batches.clear();
        }
        entry
    }

    /// The first offset of the oldest open transaction: the last stable offset, unless it is
    /// at or past the high watermark.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Open transactions, as (producer id, first offset), oldest first.
    pub fn ongoing(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.ongoing.iter().map(|(first, pid)| (*pid, *first))
    }

    /// Forgets producers whose last write is older than `now_ms - expiration_ms`
    /// (`producer.id.expiration.ms`). Returns how many were removed.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        // A producer with an open transaction is kept: it still bounds the LSO (as Kafka's).
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || e.last_timestamp >= now_ms.saturating_sub(expiration_ms)
        });
        let removed = before - self.producers.len();
        self.dirty += removed;
        removed
    }

    /// Whether anything changed since the last snapshot.
    pub fn is_dirty(&self) -> bool {
        self.dirty > 0
    }

    /// Serialises the state (see the module doc for the format).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.producers.len() * 64);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&(self.producers.len() as u32).to_be_bytes());
        let mut ids: Vec<&i64> = self.producers.keys().collect();
        ids.sort();
        for id in ids {
            let e = &self.producers[id];
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&e.epoch.to_be_bytes());
            out.extend_from_slice(&e.last_timestamp.to_be_bytes());
            out.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
            out.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            out.push(e.batches.len() as u8);
            for b in &e.batches {
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&b.last_seq.to_be_bytes());
                out.extend_from_slice(&b.first_offset.to_be_bytes());
                out.extend_from_slice(&b.last_offset.to_be_bytes());
                out.extend_from_slice(&b.timestamp.to_be_bytes());
            }
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Parses a snapshot; `None` if it is truncated, corrupt or of another format.
    pub fn decode(bytes: &[u8]) -> Option<ProducerStateManager> {
        let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
        if crc32c::crc32c(body).to_be_bytes() != crc {
            return None;
        }
        let mut r = Reader(body);
        if r.take(4)? != SNAPSHOT_MAGIC {
            return None;
        }
        let version = u16::from_be_bytes(r.arr()?);
        if !(1..=SNAPSHOT_VERSION).contains(&version) {
            return None;
        }
        let count = u32::from_be_bytes(r.arr()?);
        let mut producers = HashMap::new();
        let mut ongoing = BTreeMap::new();
        for _ in 0..count {
            let id = i64::from_be_bytes(r.arr()?);
            let epoch = i16::from_be_bytes(r.arr()?);
            let last_timestamp = i64::from_be_bytes(r.arr()?);
            let txn_first = if version >= 2 {
                Some(i64::from_be_bytes(r.arr()?)).filter(|o| *o >= 0)
            } else {
                None
            };
            if let Some(first) = txn_first {
                ongoing.insert(first, id);
            }
            let coordinator_epoch = if version >= 3 {
                i32::from_be_bytes(r.arr()?)
            } else {
                -1
            };
            let n = r.take(1)?[0] as usize;
            if n > BATCHES_TO_RETAIN {
                return None;
            }
            let mut batches = VecDeque::with_capacity(BATCHES_TO_RETAIN);
            for _ in 0..n {
                batches.push_back(BatchMetadata {
                    first_seq: i32::from_be_bytes(r.arr()?),
                    last_seq: i32::from_be_bytes(r.arr()?),
                    first_offset: i64::from_be_bytes(r.arr()?),
                    last_offset: i64::from_be_bytes(r.arr()?),
                    timestamp: i64::from_be_bytes(r.arr()?),
                });
            }
            producers.insert(
                id,
                ProducerEntry {
                    epoch,
                    batches,
                    last_timestamp,
                    current_txn_first_offset: txn_first,
                    coordinator_epoch,
                },
            );
        }
        if !r.0.is_empty() {
            return None;
        }
        Some(ProducerStateManager {
            producers,
            ongoing,
            dirty: 0,
        })
    }

    /// Writes `<offset>.snapshot` atomically and removes older snapshots.
    pub fn write_snapshot(
        &mut self,
        fs: &dyn FileSystem,
        dir: &Path,
        offset: i64,
    ) -> std::io::Result<()> {
        fs.write_atomic(&snapshot_path(dir, offset), &self.encode())?;
        for (o, p) in list_snapshots(dir) {
            if o < offset {
                let _ = fs.remove_file(&p);
            }
        }
        self.dirty = 0;
        Ok(())
    }

    /// Loads the newest valid snapshot at or below `max_offset`; returns it and the offset it
    /// covers. Snapshots above `max_offset` (the log was cut shorter) are deleted.
    pub fn load_latest(dir: &Path, max_offset: i64) -> Option<(ProducerStateManager, i64)> {
        let mut snaps = list_snapshots(dir);
        snaps.sort_by_key(|(o, _)| std::cmp::Reverse(*o));
        for (offset, path) in snaps {
            if offset > max_offset {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            match std::fs::read(&path)
                .ok()
                .and_then(|b| ProducerStateManager::decode(&b))
            {
                Some(state) => return Some((state, offset)),
                None => {
                    tracing::warn!(file = %path.display(), "ignoring corrupt producer snapshot")
                }
            }
        }
        None
    }
}

/// `<dir>/<20-digit offset>.snapshot`.
pub fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}.{SNAPSHOT_EXT}"))
}

/// Snapshot files in `dir` with the offsets they cover.
pub fn list_snapshots(dir: &Path) -> Vec<(i64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".snapshot")?;
            (stem.len() == 20).then(|| stem.parse().ok().map(|o| (o, e.path())))?
        })
        .collect()
}

/// A bounds-checked cursor over snapshot bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(pid: i64, epoch: i16, seq: i32, records: i32) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: records - 1,
            base_timestamp: 1000,
            max_timestamp: 1000 + i64::from(seq),
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: records,
        }
    }

    #[test]
    fn in_order_duplicate_gap_and_fencing() {
        let mut s = ProducerStateManager::new();
        let b0 = batch(7, 0, 0, 3);
        assert_eq!(s.check(&b0), Ok(Check::Append));
        s.update(&b0, 100);
        let b1 = batch(7, 0, 3, 2);
        assert_eq!(s.check(&b1), Ok(Check::Append));
        s.update(&b1, 103);
        // The same batch again is a duplicate answered with its original offsets.
        match s.check(&b0) {
            Ok(Check::Duplicate(m)) => assert_eq!((m.first_offset, m.last_offset), (100, 102)),
            other => panic!("{other:?}"),
        }
        // A gap.
        assert!(matches!(
            s.check(&batch(7, 0, 9, 1)),
            Err(ProducerError::OutOfOrder {
                expected: 5,
                got: 9,
                ..
            })
        ));
        // An older epoch is fenced once a newer one wrote.
        let e1 = batch(7, 1, 0, 1);
        assert_eq!(s.check(&e1), Ok(Check::Append));
        s.update(&e1, 105);
        assert_eq!(
            s.check(&batch(7, 0, 5, 1)).unwrap_err().code(),
            ResponseError::InvalidProducerEpoch
        );
        // A new epoch must start at 0.
        assert!(s.check(&batch(7, 2, 4, 1)).is_err());
        // Non-idempotent batches always append; unknown producers accept any sequence.
        assert_eq!(s.check(&batch(-1, -1, -1, 1)), Ok(Check::Append));
        assert_eq!(s.check(&batch(99, 0, 42, 1)), Ok(Check::Append));
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut s = ProducerStateManager::new();
        for i in 0..7 {
            let b = batch(1, 0, i, 1);
            s.update(&b, i64::from(i));
        }
        assert_eq!(s.entry(1).unwrap().batches.len(), BATCHES_TO_RETAIN);
        assert!(matches!(
            s.check(&batch(1, 0, 6, 1)),
            Ok(Check::Duplicate(_))
        ));
        assert!(matches!(
            s.check(&batch(1, 0, 2, 1)),
            Ok(Check::Duplicate(_))
        ));
        // Older than the window: no longer recognised, and out of order.
        assert!(s.check(&batch(1, 0, 1, 1)).is_err());
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        let mut s = ProducerStateManager::new();
        let b = batch(3, 0, i32::MAX - 1, 2);
        s.update(&b, 0);
        assert_eq!(s.entry(3).unwrap().batches[0].last_seq, i32::MAX);
        assert_eq!(s.check(&batch(3, 0, 0, 1)), Ok(Check::Append));
        assert!(s.check(&batch(3, 0, 1, 1)).is_err());
    }

    #[test]
    fn snapshot_round_trip_corruption_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ProducerStateManager::new();
        for pid in 0..3 {
            for seq in 0..4 {
                s.update(&batch(pid, 0, seq, 1), i64::from(seq));
            }
        }
        s.write_snapshot(&crate::log::StdFileSystem, dir.path(), 12)
            .unwrap();
        s.update(&batch(9, 0, 0, 1), 12);
        s.write_snapshot(&crate::log::StdFileSystem, dir.path(), 13)
            .unwrap();
        assert_eq!(
            list_snapshots(dir.path()).len(),
            1,
            "older snapshots removed"
        );
        let (loaded, at) = ProducerStateManager::load_latest(dir.path(), 100).unwrap();
        assert_eq!(at, 13);
        assert_eq!(loaded.producers, s.producers);
        // A snapshot beyond the log end is discarded.
        assert!(ProducerStateManager::load_latest(dir.path(), 12).is_none());
        // Corruption is detected, never a panic.
        let mut bytes = s.encode();
        for i in 0..bytes.len() {
            bytes[i] ^= 0x40;
            assert!(ProducerStateManager::decode(&bytes).is_none());
            bytes[i] ^= 0x40;
            assert!(ProducerStateManager::decode(&bytes[..i]).is_none());
        }
        let mut s2 = s.clone();
        // Producers 0-2 last wrote at 1003, producer 9 at 1000.
        assert_eq!(s2.expire(1000 + 3 + 10, 10), 1);
        assert_eq!(s2.len(), 3);
        assert!(s2.entry(9).is_none());
    }
}
