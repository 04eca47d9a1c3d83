//! The leader epoch cache: at which offset each leader epoch started, so OffsetForLeaderEpoch can
//! tell a consumer where an epoch ended (Kafka's `LeaderEpochFileCache`).
//!
//! # On-disk format
//!
//! `leader-epoch-checkpoint`, text, as Kafka writes it: a version line (`0`), a count line, then
//! one `epoch start_offset` line per entry, epochs and offsets strictly increasing. Rewritten
//! atomically whenever an entry is added or the cache is truncated. If the file is missing or
//! unreadable, the log rebuilds the cache from the batch headers (every stored batch carries the
//! leader epoch it was appended in).
//!
//! # Thread safety
//!
//! Not thread-safe: owned by the [`super::Log`], used under the partition's lock.

use std::path::Path;

use super::fs::FileSystem;

/// File name of the epoch checkpoint in the partition directory.
pub const LEADER_EPOCH_FILE: &str = "leader-epoch-checkpoint";

/// Version line of the checkpoint format.
const VERSION: i32 = 0;

/// In-memory leader epoch cache.
#[derive(Debug, Clone, Default)]
pub struct LeaderEpochCache {
    /// `(epoch, start offset)`, both strictly increasing.
    entries: Vec<(i32, i64)>,
    /// Changed since last written, so a failed write is retried on the next flush.
    dirty: bool,
}

impl LeaderEpochCache {
    /// An empty cache.
    pub fn new() -> Self {
        LeaderEpochCache::default()
    }

    /// Parses the checkpoint text; `None` if it is malformed.
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next()?.parse::<i32>().ok()? != VERSION {
            return None;
        }
        let count: usize = lines.next()?.parse().ok()?;
        let mut cache = LeaderEpochCache::new();
        for _ in 0..count {
            let mut parts = lines.next()?.split_whitespace();
            let epoch: i32 = parts.next()?.parse().ok()?;
            let start: i64 = parts.next()?.parse().ok()?;
            if let Some(&(e, s)) = cache.entries.last() {
                if epoch <= e || start < s {
                    return None;
                }
            }
            cache.entries.push((epoch, start));
        }
        Some(cache)
    }

    /// The checkpoint text.
    pub fn render(&self) -> String {
        let mut out = format!("{VERSION}\n{}\n", self.entries.len());
        for (e, s) in &self.entries {
            out.push_str(&format!("{e} {s}\n"));
        }
        out
    }

    /// Loads `dir/leader-epoch-checkpoint`; `Ok(None)` if missing or malformed.
    pub fn load(dir: &Path) -> std::io::Result<Option<Self>> {
        let path = dir.join(LEADER_EPOCH_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let parsed = Self::parse(&text);
                if parsed.is_none() {
                    tracing::warn!(file = %path.display(), "malformed leader epoch checkpoint");
                }
                Ok(parsed)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the checkpoint if anything changed since the last successful write.
    pub fn write_if_dirty(&mut self, fs: &dyn FileSystem, dir: &Path) -> std::io::Result<()> {
        if self.dirty {
            fs.write_atomic(&dir.join(LEADER_EPOCH_FILE), self.render().as_bytes())?;
            self.dirty = false;
        }
        Ok(())
    }

    /// The latest epoch, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|&(e, _)| e)
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// Records that `epoch` starts at `start_offset` if it is newer than the latest epoch.
    /// Entries that conflict (an epoch >= `epoch` or a start >= `start_offset`) are dropped
    /// first, as Kafka's `assign` does. Returns whether the cache changed.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 {
            return false;
        }
        if let Some(&(e, s)) = self.entries.last() {
            if e >= epoch && s <= start_offset {
                // Same or older epoch appending later: nothing new.
                return false;
            }
        }
        self.entries.retain(|&(e, s)| e < epoch && s < start_offset);
        self.entries.push((epoch, start_offset));
        self.dirty = true;
        true
    }

    /// Drops epochs starting at or after `end_offset` (the log was truncated there).
    pub fn truncate_from_end(&mut self, end_offset: i64) {
        let before = self.entries.len();
        self.entries.retain(|&(_, s)| s < end_offset);
        self.dirty |= self.entries.len() != before;
    }

    /// The log start moved to `start_offset`: epochs that ended before it are dropped and the
    /// one containing it now starts there (Kafka's `truncateFromStart`).
    pub fn truncate_from_start(&mut self, start_offset: i64) {
        let n = self.entries.partition_point(|&(_, s)| s <= start_offset);
        // entries[..n] start at or before the new log start; keep only the last of them.
        if n == 0 {
            return;
        }
        let (epoch, start) = self.entries[n - 1];
        if n == 1 && start == start_offset {
            return;
        }
        self.entries.drain(..n - 1);
        self.entries[0] = (epoch, start_offset);
        self.dirty = true;
    }

    /// OffsetForLeaderEpoch: `(epoch, end offset)` for a requested epoch, with Kafka's
    /// `endOffsetFor` semantics:
    /// - the latest epoch ends at the log end offset;
    /// - an older epoch ends where the next higher epoch starts, and the answer names the
    ///   largest known epoch `<=` the requested one;
    /// - an epoch below the first known one answers `(requested, first start offset)`;
    /// - an unknown newer epoch, a negative epoch or an empty cache answer `(-1, -1)`.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        const UNDEFINED: (i32, i64) = (-1, -1);
        if requested < 0 {
            return UNDEFINED;
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end_offset);
        }
        let higher = self.entries.partition_point(|&(e, _)| e <= requested);
        let Some(&(_, higher_start)) = self.entries.get(higher) else {
            return UNDEFINED;
        };
        match higher.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(&(floor_epoch, _)) => (floor_epoch, higher_start),
            None => (requested, higher_start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
        let mut c = LeaderEpochCache::new();
        for &(e, s) in entries {
            assert!(c.assign(e, s));
        }
        c
    }

    #[test]
    fn end_offset_for_epoch() {
        let c = cache(&[(1, 0), (3, 100), (4, 250)]);
        assert_eq!(c.end_offset_for(4, 300), (4, 300));
        assert_eq!(c.end_offset_for(3, 300), (3, 250));
        assert_eq!(c.end_offset_for(2, 300), (1, 100));
        assert_eq!(c.end_offset_for(1, 300), (1, 100));
        assert_eq!(c.end_offset_for(0, 300), (0, 0));
        assert_eq!(c.end_offset_for(5, 300), (-1, -1));
        assert_eq!(c.end_offset_for(-1, 300), (-1, -1));
        assert_eq!(LeaderEpochCache::new().end_offset_for(0, 10), (-1, -1));
    }

    #[test]
    fn assign_and_truncate() {
        let mut c = cache(&[(0, 0), (2, 10)]);
        assert!(!c.assign(2, 15));
        assert!(!c.assign(1, 20));
        assert!(c.assign(5, 30));
        assert_eq!(c.entries(), &[(0, 0), (2, 10), (5, 30)]);
        // A newer epoch at an offset below existing starts replaces them.
        assert!(c.assign(6, 10));
        assert_eq!(c.entries(), &[(0, 0), (6, 10)]);

        let mut c = cache(&[(0, 0), (2, 10), (5, 30)]);
        c.truncate_from_end(30);
        assert_eq!(c.entries(), &[(0, 0), (2, 10)]);
        c.truncate_from_start(15);
        assert_eq!(c.entries(), &[(2, 15)]);
        c.truncate_from_start(5);
        assert_eq!(c.entries(), &[(2, 15)]);
    }

    #[test]
    fn checkpoint_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache(&[(0, 0), (3, 42)]);
        assert_eq!(c.render(), "0\n2\n0 0\n3 42\n");
        c.write_if_dirty(&crate::log::StdFileSystem, dir.path())
            .unwrap();
        let back = LeaderEpochCache::load(dir.path()).unwrap().unwrap();
        assert_eq!(back.entries(), c.entries());
        assert!(LeaderEpochCache::parse("0\n2\n0 0\n").is_none());
        assert!(LeaderEpochCache::parse("0\n2\n3 0\n1 5\n").is_none());
        std::fs::remove_file(dir.path().join(LEADER_EPOCH_FILE)).unwrap();
        assert!(LeaderEpochCache::load(dir.path()).unwrap().is_none());
    }
}
