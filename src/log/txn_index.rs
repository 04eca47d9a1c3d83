//! The aborted-transaction index (Kafka's `TransactionIndex`, `.txnindex`): for each aborted
//! transaction of a partition, its producer id and the offsets it spans, so a read_committed
//! fetch can list the aborted transactions that overlap the records it returns.
//!
//! An entry lives in the `.txnindex` file of the segment holding its ABORT marker (so retention
//! drops it with that segment): `<base offset>.txnindex`, 34-byte big-endian entries, as Kafka's:
//! version i16 (0), producer id i64, first offset i64, last offset i64 (the marker),
//! last stable offset i64 (after the abort). The file of a segment is replaced atomically when
//! an abort lands in it; recovery re-adds entries of markers it replays and drops those past a
//! cut log, and a damaged file makes the loader replay every marker of the log.

use std::path::{Path, PathBuf};

use super::fs::FileSystem;
use super::segment;

/// Bytes of one entry.
pub const ENTRY_LEN: usize = 34;
/// File extension.
pub const TXN_INDEX_EXT: &str = "txnindex";

/// One aborted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// Its producer id.
    pub producer_id: i64,
    /// Offset of its first batch in this partition.
    pub first_offset: i64,
    /// Offset of its ABORT marker.
    pub last_offset: i64,
    /// The partition's last stable offset once it was aborted.
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&self.producer_id.to_be_bytes());
        out.extend_from_slice(&self.first_offset.to_be_bytes());
        out.extend_from_slice(&self.last_offset.to_be_bytes());
        out.extend_from_slice(&self.last_stable_offset.to_be_bytes());
    }

    fn decode(b: &[u8]) -> Option<AbortedTxn> {
        let at = |i: usize| -> Option<i64> {
            Some(i64::from_be_bytes(b.get(i..i + 8)?.try_into().ok()?))
        };
        if b.get(..2)? != [0, 0] {
            return None;
        }
        Some(AbortedTxn {
            producer_id: at(2)?,
            first_offset: at(10)?,
            last_offset: at(18)?,
            last_stable_offset: at(26)?,
        })
    }
}

/// `entries` in the file format.
pub fn encode_entries(entries: &[AbortedTxn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * ENTRY_LEN);
    for e in entries {
        e.encode(&mut out);
    }
    out
}

/// `<dir>/<20-digit base offset>.txnindex`.
pub fn path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(segment::file_name(base_offset, TXN_INDEX_EXT))
}

/// The aborted transactions of one partition, ordered by marker offset.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TxnIndex {
    entries: Vec<AbortedTxn>,
}

impl TxnIndex {
    /// Reads the files of the segments with these base offsets; also says whether one was
    /// damaged (a length that is not a whole number of entries, an entry of an unknown
    /// version): its entries are read up to the damage and the caller rebuilds the index from
    /// the log's markers. A file that cannot be read is an I/O error.
    pub fn load(dir: &Path, bases: &[i64]) -> std::io::Result<(TxnIndex, bool)> {
        let mut entries = Vec::new();
        let mut damaged = false;
        for &base in bases {
            let p = path(dir, base);
            let bytes = match std::fs::read(&p) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for chunk in bytes.chunks(ENTRY_LEN) {
                match AbortedTxn::decode(chunk) {
                    Some(e) => entries.push(e),
                    None => {
                        tracing::warn!(file = %p.display(), "damaged transaction index; rebuilding it from the log");
                        damaged = true;
                        break;
                    }
                }
            }
        }
        entries.sort_by_key(|e| e.last_offset);
        entries.dedup();
        Ok((TxnIndex { entries }, damaged))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no transaction was aborted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, by marker offset.
    pub fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    /// Adds an entry unless it is there already (recovery replays markers it may have); returns
    /// whether it was added.
    pub fn add(&mut self, e: AbortedTxn) -> bool {
        if self
            .entries
            .iter()
            .rev()
            .take_while(|x| x.last_offset >= e.last_offset)
            .any(|x| x.last_offset == e.last_offset && x.producer_id == e.producer_id)
        {
            return false;
        }
        let at = self
            .entries
            .partition_point(|x| x.last_offset <= e.last_offset);
        self.entries.insert(at, e);
        true
    }

    /// Writes the file of the segment `[base, next_base)` with its entries, atomically.
    pub fn write_segment(
        &self,
        fs: &dyn FileSystem,
        dir: &Path,
        base: i64,
        next_base: Option<i64>,
    ) -> std::io::Result<()> {
        let mine: Vec<AbortedTxn> = self
            .entries
            .iter()
            .filter(|e| e.last_offset >= base && next_base.is_none_or(|n| e.last_offset < n))
            .copied()
            .collect();
        fs.write_atomic(&path(dir, base), &encode_entries(&mine))
    }

    /// Replaces the entries whose marker lies in `[base, next_base)` with `entries` (a segment
    /// range the log cleaner rewrote).
    pub fn replace_range(&mut self, base: i64, next_base: i64, entries: &[AbortedTxn]) {
        self.entries
            .retain(|e| e.last_offset < base || e.last_offset >= next_base);
        for e in entries {
            self.add(*e);
        }
    }

    /// Drops entries whose marker is at or past `end` (a log cut by recovery); returns how
    /// many.
    pub fn truncate_from(&mut self, end: i64) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| e.last_offset < end);
        before - self.entries.len()
    }

    /// Drops entries whose marker is below `start` (segments deleted by retention).
    pub fn truncate_before(&mut self, start: i64) {
        self.entries.retain(|e| e.last_offset >= start);
    }

    /// The aborted transactions a fetch of `[from, upper)` must list: those whose marker is at
    /// or after `from` and whose first offset is before `upper` (Kafka's
    /// `collectAbortedTxns`), as (producer id, first offset).
    pub fn overlapping(&self, from: i64, upper: i64) -> Vec<(i64, i64)> {
        let start = self.entries.partition_point(|e| e.last_offset < from);
        self.entries[start..]
            .iter()
            .filter(|e| e.first_offset < upper)
            .map(|e| (e.producer_id, e.first_offset))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::StdFileSystem;

    fn e(pid: i64, first: i64, last: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: last + 1,
        }
    }

    #[test]
    fn entries_round_trip_per_segment_and_overlap_as_kafka_collects_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = TxnIndex::default();
        assert!(idx.add(e(1, 0, 5)));
        assert!(idx.add(e(2, 3, 12)));
        assert!(
            !idx.add(e(2, 3, 12)),
            "a replayed marker is not added twice"
        );
        assert!(idx.add(e(3, 20, 25)));
        idx.write_segment(&StdFileSystem, dir.path(), 0, Some(10))
            .unwrap();
        idx.write_segment(&StdFileSystem, dir.path(), 10, None)
            .unwrap();
        assert_eq!(std::fs::metadata(path(dir.path(), 0)).unwrap().len(), 34);
        let (back, damaged) = TxnIndex::load(dir.path(), &[0, 10]).unwrap();
        assert_eq!(back, idx);
        assert!(!damaged);
        assert_eq!(idx.overlapping(0, 4), vec![(1, 0), (2, 3)]);
        assert_eq!(idx.overlapping(6, 30), vec![(2, 3), (3, 20)]);
        assert_eq!(idx.overlapping(13, 20), Vec::<(i64, i64)>::new());
        let mut cut = idx.clone();
        assert_eq!(cut.truncate_from(12), 2);
        cut.truncate_before(6);
        assert!(cut.is_empty());
        // A torn or foreign file is read up to the damage, never a panic.
        std::fs::write(path(dir.path(), 0), [0u8, 0, 1, 2, 3]).unwrap();
        let (torn, damaged) = TxnIndex::load(dir.path(), &[0]).unwrap();
        assert!(torn.is_empty() && damaged);
    }
}
