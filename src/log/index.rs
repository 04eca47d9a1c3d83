//! The two sparse indexes of a segment, as in Kafka's `OffsetIndex` and `TimeIndex`.
//!
//! # On-disk format
//!
//! Both are flat arrays of fixed-size big-endian entries with no header and no checksum:
//!
//! - `<base>.index`, 8-byte entries: `relative offset: u32` (offset - segment base offset),
//!   `position: u32` (byte position of a batch in the `.log` file). An entry is added for a batch
//!   whenever more than `index.interval.bytes` of log were written since the previous entry; it
//!   maps the batch's *last* offset to the batch's *start* position (Kafka >= 3.6). Offsets and
//!   positions strictly increase.
//! - `<base>.timeindex`, 12-byte entries: `timestamp: i64`, `relative offset: u32`. An entry
//!   records "the largest timestamp seen so far in this segment is `timestamp`, first reached in
//!   the batch whose last offset is `offset`". Timestamps strictly increase. The segment appends a
//!   final entry for its maximum when it is rolled or flushed, so the last entry is the segment's
//!   largest timestamp (what time-based retention looks at).
//!
//! # Life cycle
//!
//! Indexes live in memory (`Vec`) while the broker runs and are written whole to their files when
//! the segment is rolled, flushed or closed. They are derived data: a missing, short or
//! inconsistent file is rebuilt by scanning the segment, and after an unclean stop the segments
//! past the recovery point are rebuilt regardless of what their files say.
//!
//! # Thread safety
//!
//! Not thread-safe: the owning segment is only touched by the holder of the partition's lock.

use std::path::Path;

/// Bytes per offset index entry.
pub const OFFSET_ENTRY_LEN: usize = 8;
/// Bytes per time index entry.
pub const TIME_ENTRY_LEN: usize = 12;

/// An index file whose contents cannot be right; the segment rebuilds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// The size is not a multiple of the entry size (torn write).
    #[error("index size {0} is not a multiple of the entry size")]
    PartialEntry(usize),
    /// Entries are not strictly increasing.
    #[error("index entry {0} is out of order")]
    OutOfOrder(usize),
}

/// Sparse map from offsets to file positions in one segment.
#[derive(Debug, Clone, Default)]
pub struct OffsetIndex {
    /// Base offset of the segment; entries store offsets relative to it to fit in 4 bytes.
    base_offset: i64,
    /// `(relative offset, position)`, both strictly increasing.
    entries: Vec<(u32, u32)>,
    /// Changed since last written to disk, so clean segments are not rewritten on every flush.
    dirty: bool,
}

impl OffsetIndex {
    /// An empty index for the segment starting at `base_offset`.
    pub fn new(base_offset: i64) -> Self {
        OffsetIndex {
            base_offset,
            entries: Vec::new(),
            dirty: true,
        }
    }

    /// Parses an index file's bytes, checking sizes and ordering (Kafka's `sanityCheck`).
    pub fn decode(base_offset: i64, bytes: &[u8]) -> Result<Self, IndexError> {
        if !bytes.len().is_multiple_of(OFFSET_ENTRY_LEN) {
            return Err(IndexError::PartialEntry(bytes.len()));
        }
        let mut entries: Vec<(u32, u32)> = Vec::with_capacity(bytes.len() / OFFSET_ENTRY_LEN);
        for (i, e) in bytes.chunks_exact(OFFSET_ENTRY_LEN).enumerate() {
            let rel = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            let pos = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
            if let Some(&(r, p)) = entries.last() {
                if rel <= r || pos <= p {
                    return Err(IndexError::OutOfOrder(i));
                }
            }
            entries.push((rel, pos));
        }
        Ok(OffsetIndex {
            base_offset,
            entries,
            dirty: false,
        })
    }

    /// The file contents.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * OFFSET_ENTRY_LEN);
        for &(rel, pos) in &self.entries {
            out.extend_from_slice(&rel.to_be_bytes());
            out.extend_from_slice(&pos.to_be_bytes());
        }
        out
    }

    /// Adds an entry for the batch ending at `last_offset` that starts at `position`. Ignored
    /// (returns false) if it would break the ordering or does not fit the relative encoding.
    pub fn append(&mut self, last_offset: i64, position: u32) -> bool {
        let Some(rel) = self.relative(last_offset) else {
            return false;
        };
        if let Some(&(r, p)) = self.entries.last() {
            if rel <= r || position <= p {
                return false;
            }
        }
        self.entries.push((rel, position));
        self.dirty = true;
        true
    }

    /// The entry with the largest offset `<= target` as `(offset, position)`, or the segment start
    /// `(base_offset, 0)` if there is none. Scanning batches forward from the returned position
    /// finds the batch containing `target`.
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        let Some(rel) = self.relative_floor(target) else {
            return (self.base_offset, 0);
        };
        let n = self.entries.partition_point(|&(r, _)| r <= rel);
        match n.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(&(r, p)) => (self.base_offset + i64::from(r), p),
            None => (self.base_offset, 0),
        }
    }

    /// The entry with the largest position `<= position`, as `(offset, position)`. Used to skip
    /// ahead when a read may cover many batches.
    pub fn floor_position(&self, position: u64) -> Option<(i64, u32)> {
        let n = self
            .entries
            .partition_point(|&(_, p)| u64::from(p) <= position);
        let &(r, p) = self.entries.get(n.checked_sub(1)?)?;
        Some((self.base_offset + i64::from(r), p))
    }

    /// The last entry as `(offset, position)`.
    pub fn last_entry(&self) -> Option<(i64, u32)> {
        self.entries
            .last()
            .map(|&(r, p)| (self.base_offset + i64::from(r), p))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the in-memory entries differ from the file.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Records that the file now matches.
    pub fn mark_clean(&mut self) {
        self.dirty = false;
    }

    fn relative(&self, offset: i64) -> Option<u32> {
        u32::try_from(offset.checked_sub(self.base_offset)?).ok()
    }

    /// Relative form of `target` clamped to the u32 range; `None` if below the base.
    fn relative_floor(&self, target: i64) -> Option<u32> {
        let d = target.checked_sub(self.base_offset)?;
        if d < 0 {
            return None;
        }
        Some(u32::try_from(d).unwrap_or(u32::MAX))
    }
}

/// Sparse map from timestamps to offsets in one segment.
#[derive(Debug, Clone, Default)]
pub struct TimeIndex {
    /// Base offset of the segment, for the relative offsets.
    base_offset: i64,
    /// `(timestamp, relative offset)`, timestamps strictly increasing, offsets non-decreasing.
    entries: Vec<(i64, u32)>,
    /// Changed since last written to disk.
    dirty: bool,
}

impl TimeIndex {
    /// An empty index for the segment starting at `base_offset`.
    pub fn new(base_offset: i64) -> Self {
        TimeIndex {
            base_offset,
            entries: Vec::new(),
            dirty: true,
        }
    }

    /// Parses a time index file's bytes, checking sizes and ordering.
    pub fn decode(base_offset: i64, bytes: &[u8]) -> Result<Self, IndexError> {
        if !bytes.len().is_multiple_of(TIME_ENTRY_LEN) {
            return Err(IndexError::PartialEntry(bytes.len()));
        }
        let mut entries: Vec<(i64, u32)> = Vec::with_capacity(bytes.len() / TIME_ENTRY_LEN);
        for (i, e) in bytes.chunks_exact(TIME_ENTRY_LEN).enumerate() {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&e[..8]);
            let ts = i64::from_be_bytes(ts);
            let rel = u32::from_be_bytes([e[8], e[9], e[10], e[11]]);
            let ordered = match entries.last() {
                Some(&(t, r)) => ts > t && rel >= r,
                None => ts >= 0,
            };
            if !ordered {
                return Err(IndexError::OutOfOrder(i));
            }
            entries.push((ts, rel));
        }
        Ok(TimeIndex {
            base_offset,
            entries,
            dirty: false,
        })
    }

    /// The file contents.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * TIME_ENTRY_LEN);
        for &(ts, rel) in &self.entries {
            out.extend_from_slice(&ts.to_be_bytes());
            out.extend_from_slice(&rel.to_be_bytes());
        }
        out
    }

    /// Adds `(timestamp, offset)` if `timestamp` is larger than the last entry's (and not
    /// negative, i.e. not "no timestamp"), as Kafka's `TimeIndex.maybeAppend`.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> bool {
        let Some(rel) = offset
            .checked_sub(self.base_offset)
            .and_then(|d| u32::try_from(d).ok())
        else {
            return false;
        };
        let ok = match self.entries.last() {
            Some(&(t, r)) => timestamp > t && rel >= r,
            None => timestamp >= 0,
        };
        if ok {
            self.entries.push((timestamp, rel));
            self.dirty = true;
        }
        ok
    }

    /// The entry with the largest timestamp `<= target` as `(timestamp, offset)`, or
    /// `(-1, base_offset)` if there is none (Kafka's `TimeIndex.lookup`). Records before that
    /// offset all have timestamps `<= timestamp`, so a search for `target` may start there.
    pub fn lookup(&self, target: i64) -> (i64, i64) {
        let n = self.entries.partition_point(|&(t, _)| t <= target);
        match n.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(&(t, r)) => (t, self.base_offset + i64::from(r)),
            None => (-1, self.base_offset),
        }
    }

    /// The last entry as `(timestamp, offset)`: the segment's largest timestamp once the final
    /// entry was appended.
    pub fn last_entry(&self) -> Option<(i64, i64)> {
        self.entries
            .last()
            .map(|&(t, r)| (t, self.base_offset + i64::from(r)))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the in-memory entries differ from the file.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Records that the file now matches.
    pub fn mark_clean(&mut self) {
        self.dirty = false;
    }
}

/// Reads a whole index file; `Ok(None)` if it does not exist.
pub(crate) fn read_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_lookup_math() {
        let mut idx = OffsetIndex::new(100);
        assert_eq!(idx.lookup(150), (100, 0));
        assert!(idx.append(109, 4096));
        assert!(idx.append(120, 8200));
        assert!(idx.append(135, 12400));
        // Out of order or below base: ignored.
        assert!(!idx.append(130, 20000));
        assert!(!idx.append(140, 12400));
        assert!(!idx.append(99, 1));
        assert_eq!(idx.len(), 3);

        assert_eq!(idx.lookup(50), (100, 0));
        assert_eq!(idx.lookup(100), (100, 0));
        assert_eq!(idx.lookup(108), (100, 0));
        assert_eq!(idx.lookup(109), (109, 4096));
        assert_eq!(idx.lookup(119), (109, 4096));
        assert_eq!(idx.lookup(120), (120, 8200));
        assert_eq!(idx.lookup(1_000_000), (135, 12400));
        assert_eq!(idx.lookup(i64::MAX), (135, 12400));
        assert_eq!(idx.lookup(i64::MIN), (100, 0));

        assert_eq!(idx.floor_position(0), None);
        assert_eq!(idx.floor_position(4096), Some((109, 4096)));
        assert_eq!(idx.floor_position(8199), Some((109, 4096)));
        assert_eq!(idx.floor_position(u64::MAX), Some((135, 12400)));
        assert_eq!(idx.last_entry(), Some((135, 12400)));
    }

    #[test]
    fn offset_index_roundtrip_and_sanity() {
        let mut idx = OffsetIndex::new(7);
        idx.append(10, 100);
        idx.append(20, 300);
        let bytes = idx.encode();
        assert_eq!(bytes.len(), 16);
        assert_eq!(&bytes[..8], &[0, 0, 0, 3, 0, 0, 0, 100]);
        let back = OffsetIndex::decode(7, &bytes).unwrap();
        assert_eq!(back.lookup(25), (20, 300));
        assert!(!back.is_dirty());

        assert_eq!(
            OffsetIndex::decode(7, &bytes[..12]).unwrap_err(),
            IndexError::PartialEntry(12)
        );
        let mut swapped = bytes[8..].to_vec();
        swapped.extend_from_slice(&bytes[..8]);
        assert_eq!(
            OffsetIndex::decode(7, &swapped).unwrap_err(),
            IndexError::OutOfOrder(1)
        );
    }

    #[test]
    fn time_index() {
        let mut t = TimeIndex::new(1000);
        assert_eq!(t.lookup(5), (-1, 1000));
        assert!(!t.maybe_append(-1, 1000));
        assert!(t.maybe_append(10, 1004));
        assert!(!t.maybe_append(10, 1010));
        assert!(!t.maybe_append(5, 1010));
        assert!(t.maybe_append(30, 1020));
        assert_eq!(t.lookup(9), (-1, 1000));
        assert_eq!(t.lookup(10), (10, 1004));
        assert_eq!(t.lookup(29), (10, 1004));
        assert_eq!(t.lookup(i64::MAX), (30, 1020));
        assert_eq!(t.last_entry(), Some((30, 1020)));

        let back = TimeIndex::decode(1000, &t.encode()).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back.lookup(31), (30, 1020));
        assert!(TimeIndex::decode(1000, &t.encode()[..13]).is_err());
    }
}
