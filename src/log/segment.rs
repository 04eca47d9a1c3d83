//! One segment of a partition log: a `.log` file of record batches plus its two sparse indexes
//! (Kafka's `LogSegment`).
//!
//! # On-disk format
//!
//! Files are named by the segment's base offset (the first offset it may hold), zero-padded to
//! 20 digits: `00000000000000000000.log`, `.index`, `.timeindex`.
//!
//! - `.log`: v2 record batches back to back, byte for byte as Kafka stores them: the producer's
//!   batch with the broker-assigned base offset and partition leader epoch (and, for
//!   LogAppendTime topics, the append time and a recomputed CRC). No file header: the batches
//!   carry their own lengths and CRCs, which is what recovery checks. Offsets strictly increase
//!   from batch to batch; each batch's offsets fit in `[base, base + u32::MAX]`.
//! - `.index`, `.timeindex`: see [`super::index`]. Written whole on roll, flush and close; rebuilt
//!   from the `.log` when missing or inconsistent.
//!
//! # Writes and reads
//!
//! Every write goes through the [`FileSystem`] seam. The `.log` file is not held open: the
//! segment asks its log directory's [`FileCache`] for it on every read and write, which opens
//! it (read-write) on a miss and keeps a bounded number open, so descriptors do not grow with
//! partitions. Handles are shared as `Arc<File>`. Appends use
//! positioned writes at the segment's logical size, so a failed or partial write is simply
//! overwritten by the next one (and cut off on a best-effort basis right away). Readers receive
//! `(Arc<File>, position, len)` and pread whole batches below the size they were given; bytes
//! below a segment's size never change while the broker runs, and a deleted segment's open file
//! stays readable until the last reader drops it.
//!
//! # Thread safety
//!
//! Not thread-safe: the caller holds the partition's lock for every method. Only the
//! `Arc<File>` handed out for reads is used without it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use super::epoch::LeaderEpochCache;
use super::file_cache::FileCache;
use super::fs::FileSystem;
use super::index::{self, OffsetIndex, TimeIndex};
use crate::record::batch::{self, BatchHeader, BATCH_HEADER_LEN};

/// File name of a segment file: the base offset zero-padded to 20 digits plus `ext`.
pub fn file_name(base_offset: i64, ext: &str) -> String {
    format!("{base_offset:020}.{ext}")
}

/// Parses a `.log` file name back into a base offset.
pub fn parse_log_file_name(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// What a recovery scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecoveryOutcome {
    /// Whole, valid batches kept.
    pub batches: u64,
    /// Bytes cut from the end of the file (0 if it was intact).
    pub truncated_bytes: u64,
}

/// One segment: its files, its in-memory indexes and what the log needs to know about it
/// without reading it (size, next offset, largest timestamp).
#[derive(Debug)]
pub struct LogSegment {
    /// First offset this segment may hold; also its file name.
    base_offset: i64,
    /// The `.log` file path, for errors, truncation and deletion.
    log_path: PathBuf,
    /// The `.index` file path.
    index_path: PathBuf,
    /// The `.timeindex` file path.
    time_index_path: PathBuf,
    /// Where the `.log` file is opened and kept open (bounded, shared by the log directory).
    cache: Arc<FileCache>,
    /// This segment's key in `cache`.
    cache_id: u64,
    /// Every write goes through this (see [`super::fs`]).
    fs: Arc<dyn FileSystem>,
    /// Bytes of whole batches in the file; appends go here and reads stop here.
    size: u64,
    /// Bytes known to be fsynced, so flush skips clean segments.
    synced_size: u64,
    /// Offset index, in memory.
    offset_index: OffsetIndex,
    /// Time index, in memory.
    time_index: TimeIndex,
    /// Log bytes written since the last index entry (Kafka's `bytesSinceLastIndexEntry`).
    bytes_since_last_index_entry: u64,
    /// One past the last offset stored, `base_offset` when empty. Exact for the active segment
    /// and for scanned segments; for segments loaded from their indexes it is set from the next
    /// segment's base offset by the log.
    next_offset: i64,
    /// Largest batch `maxTimestamp` in the segment, -1 if none: retention and ListOffsets -3.
    max_timestamp: i64,
    /// Last offset of the batch that first reached `max_timestamp`.
    offset_of_max_timestamp: i64,
    /// `maxTimestamp` of the first batch: `segment.ms` counts from it, as Kafka's
    /// `rollingBasedTimestamp` (so old CreateTime data does not roll on every append).
    first_batch_timestamp: Option<i64>,
    /// When this process created or opened the segment: the roll clock when batches carry no
    /// timestamps.
    created_ms: i64,
}

/// Names the file (not the whole path: the log adds the directory) and the operation.
fn io_at(e: std::io::Error, what: &str, path: &Path) -> std::io::Error {
    let name = path.file_name().unwrap_or(path.as_os_str());
    std::io::Error::new(
        e.kind(),
        AtFile {
            what: format!("{what} {}", name.to_string_lossy()),
            source: e,
        },
    )
}

/// An I/O error with the operation and file it happened on, keeping the original as its
/// source (so callers can still tell running out of descriptors from a failing disk).
#[derive(Debug)]
struct AtFile {
    what: String,
    source: std::io::Error,
}

impl std::fmt::Display for AtFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl std::error::Error for AtFile {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn invalid_data(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

impl LogSegment {
    fn paths(dir: &Path, base_offset: i64) -> (PathBuf, PathBuf, PathBuf) {
        Self::paths_with_suffix(dir, base_offset, "")
    }

    /// The three files' paths with `suffix` after the extension (`.cleaned`, `.swap`: the log
    /// cleaner's segments on their way in, see `super::cleaner`).
    fn paths_with_suffix(
        dir: &Path,
        base_offset: i64,
        suffix: &str,
    ) -> (PathBuf, PathBuf, PathBuf) {
        let at = |ext: &str| dir.join(format!("{}{suffix}", file_name(base_offset, ext)));
        (at("log"), at("index"), at("timeindex"))
    }

    fn with_file(
        fs: Arc<dyn FileSystem>,
        cache: &Arc<FileCache>,
        dir: &Path,
        base_offset: i64,
        file: Option<File>,
        size: u64,
        now_ms: i64,
    ) -> Self {
        let (log_path, index_path, time_index_path) = Self::paths(dir, base_offset);
        let cache_id = cache.register();
        if let Some(f) = file {
            cache.put(cache_id, f);
        }
        LogSegment {
            base_offset,
            log_path,
            index_path,
            time_index_path,
            cache: Arc::clone(cache),
            cache_id,
            fs,
            size,
            synced_size: 0,
            offset_index: OffsetIndex::new(base_offset),
            time_index: TimeIndex::new(base_offset),
            bytes_since_last_index_entry: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            first_batch_timestamp: None,
            created_ms: now_ms,
        }
    }

    /// Creates a new, empty segment (truncating any leftover file of that name: a new segment
    /// always starts at the log end offset, so nothing valid can be there).
    pub fn create(
        fs: Arc<dyn FileSystem>,
        cache: &Arc<FileCache>,
        dir: &Path,
        base_offset: i64,
        now_ms: i64,
    ) -> std::io::Result<Self> {
        Self::create_with_suffix(fs, cache, dir, base_offset, "", now_ms)
    }

    /// [`Self::create`] with `suffix` after each file's extension (the log cleaner writes
    /// `<base>.log.cleaned` and its indexes, then renames them, see [`Self::rename_suffix`]).
    pub fn create_with_suffix(
        fs: Arc<dyn FileSystem>,
        cache: &Arc<FileCache>,
        dir: &Path,
        base_offset: i64,
        suffix: &str,
        now_ms: i64,
    ) -> std::io::Result<Self> {
        let (log_path, index_path, time_index_path) =
            Self::paths_with_suffix(dir, base_offset, suffix);
        let file = fs
            .create(&log_path)
            .map_err(|e| io_at(e, "create", &log_path))?;
        for p in [&index_path, &time_index_path] {
            fs.remove_file(p).map_err(|e| io_at(e, "remove stale", p))?;
        }
        let mut seg = Self::with_file(fs, cache, dir, base_offset, Some(file), 0, now_ms);
        (seg.log_path, seg.index_path, seg.time_index_path) =
            (log_path, index_path, time_index_path);
        Ok(seg)
    }

    /// Renames the segment's three files from `<name><from>` to `<name><to>` (suffixes such as
    /// `""`, `.cleaned`, `.swap`, `.deleted`), the log file last, and follows them. The open
    /// file handle stays valid. Files that were never written (an index with no entries) are
    /// written first, so all three always move together.
    pub fn rename_suffix(&mut self, from: &str, to: &str) -> std::io::Result<()> {
        let moved = |p: &Path| -> PathBuf {
            let s = p.as_os_str().to_string_lossy();
            PathBuf::from(format!("{}{to}", s.strip_suffix(from).unwrap_or(&s)))
        };
        for p in [self.index_path.clone(), self.time_index_path.clone()] {
            if std::fs::symlink_metadata(&p).is_err() {
                self.write_file(&p, &[])?;
            }
            let q = moved(&p);
            self.fs.rename(&p, &q).map_err(|e| io_at(e, "rename", &p))?;
        }
        let q = moved(&self.log_path);
        self.fs
            .rename(&self.log_path, &q)
            .map_err(|e| io_at(e, "rename", &self.log_path))?;
        self.log_path = q;
        self.index_path = moved(&self.index_path);
        self.time_index_path = moved(&self.time_index_path);
        Ok(())
    }

    /// An existing segment, by its `.log` file's size; the file is opened when first read. The
    /// indexes are not loaded yet: call [`Self::load_indexes`] or [`Self::recover`].
    pub fn open(
        fs: Arc<dyn FileSystem>,
        cache: &Arc<FileCache>,
        dir: &Path,
        base_offset: i64,
        now_ms: i64,
    ) -> std::io::Result<Self> {
        let (log_path, _, _) = Self::paths(dir, base_offset);
        let size = std::fs::metadata(&log_path)
            .map_err(|e| io_at(e, "stat", &log_path))?
            .len();
        Ok(Self::with_file(
            fs,
            cache,
            dir,
            base_offset,
            None,
            size,
            now_ms,
        ))
    }

    /// The `.log` file, opened (through the seam) if the cache does not hold it now. Shared with
    /// readers, which may keep it past an eviction or a delete.
    pub fn file(&self) -> std::io::Result<Arc<File>> {
        self.cache.get(self.cache_id, || {
            self.fs
                .open(&self.log_path)
                .map_err(|e| io_at(e, "open", &self.log_path))
        })
    }

    /// Loads the index files and checks them against the log (Kafka's `sanityCheck`, plus a
    /// look at the batch the last offset entry points to). For the last segment (`is_last`) the
    /// batches after the last index entry are scanned to find the log end offset and the
    /// largest timestamp. Returns `Ok(false)` if the indexes are missing or inconsistent and the
    /// segment must be recovered instead; `Err` only for I/O errors.
    pub fn load_indexes(&mut self, is_last: bool) -> std::io::Result<bool> {
        let (Some(off_bytes), Some(time_bytes)) = (
            index::read_file(&self.index_path)?,
            index::read_file(&self.time_index_path)?,
        ) else {
            return Ok(false);
        };
        let (Ok(offsets), Ok(times)) = (
            OffsetIndex::decode(self.base_offset, &off_bytes),
            TimeIndex::decode(self.base_offset, &time_bytes),
        ) else {
            return Ok(false);
        };
        // The last offset entry must point at a stored batch ending at that offset.
        let mut scan_from = 0u64;
        if let Some((offset, pos)) = offsets.last_entry() {
            match self.read_header_at(u64::from(pos))? {
                Some(h) if h.last_offset() == offset => scan_from = u64::from(pos),
                _ => return Ok(false),
            }
        }
        if let Some((_, offset)) = times.last_entry() {
            if offset < self.base_offset {
                return Ok(false);
            }
        }
        self.offset_index = offsets;
        self.time_index = times;
        self.synced_size = self.size;
        if let Some((ts, offset)) = self.time_index.last_entry() {
            self.max_timestamp = ts;
            self.offset_of_max_timestamp = offset;
        }
        if let Some(h) = self.read_header_at(0)? {
            self.first_batch_timestamp = Some(h.max_timestamp);
        }
        if is_last {
            let mut pos = scan_from;
            while pos < self.size {
                let Some(h) = self.read_header_at(pos)? else {
                    return Ok(false);
                };
                let end = pos + h.total_len() as u64;
                if h.total_len() < BATCH_HEADER_LEN || end > self.size {
                    return Ok(false);
                }
                self.note_timestamp(h.max_timestamp, h.last_offset());
                self.next_offset = h.next_offset();
                pos = end;
            }
        }
        Ok(true)
    }

    /// Scans the whole `.log` file, validating every batch (framing, magic, CRC-32C, offsets
    /// increasing and within this segment's range), rebuilds both indexes and cuts the file at
    /// the first invalid batch (Kafka's `LogSegment.recover`). Epochs found in batch headers are
    /// added to `epochs` if newer than its latest. Logs a warning naming what was cut.
    pub fn recover(
        &mut self,
        index_interval_bytes: u32,
        mut epochs: Option<&mut LeaderEpochCache>,
    ) -> std::io::Result<RecoveryOutcome> {
        self.offset_index = OffsetIndex::new(self.base_offset);
        self.time_index = TimeIndex::new(self.base_offset);
        self.bytes_since_last_index_entry = 0;
        self.next_offset = self.base_offset;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.first_batch_timestamp = None;
        self.synced_size = 0;

        let file_len = self.size;
        let mut buf = Vec::new();
        let mut pos = 0u64;
        let mut outcome = RecoveryOutcome::default();
        let mut reason = String::new();
        while pos < file_len {
            match self.check_stored_batch(pos, file_len, &mut buf)? {
                Ok(h) => {
                    self.index_batch(&h, pos, index_interval_bytes);
                    if let Some(e) = epochs.as_deref_mut() {
                        e.assign(h.partition_leader_epoch, h.base_offset);
                    }
                    pos += h.total_len() as u64;
                    outcome.batches += 1;
                }
                Err(why) => {
                    reason = why;
                    break;
                }
            }
        }
        self.size = pos;
        if pos < file_len {
            outcome.truncated_bytes = file_len - pos;
            tracing::warn!(
                file = %self.log_path.display(),
                position = pos,
                bytes = outcome.truncated_bytes,
                reason = %reason,
                "truncating invalid bytes at the end of the log segment"
            );
            self.fs
                .set_len(&self.log_path, &*self.file()?, pos)
                .map_err(|e| io_at(e, "truncate", &self.log_path))?;
        }
        Ok(outcome)
    }

    /// Reads and validates the batch at `pos`. The outer `Result` is I/O, the inner one says why
    /// the batch is not acceptable.
    fn check_stored_batch(
        &self,
        pos: u64,
        file_len: u64,
        buf: &mut Vec<u8>,
    ) -> std::io::Result<Result<BatchHeader, String>> {
        let remaining = file_len - pos;
        if remaining < BATCH_HEADER_LEN as u64 {
            return Ok(Err(format!(
                "{remaining} trailing bytes, less than a batch header"
            )));
        }
        let Some(h) = self.read_header_at(pos)? else {
            return Ok(Err("unreadable batch header".into()));
        };
        let total = h.total_len() as u64;
        if total < BATCH_HEADER_LEN as u64 || total > remaining {
            return Ok(Err(format!(
                "batch length {} does not fit in the {remaining} remaining bytes",
                h.batch_length
            )));
        }
        if h.magic != batch::MAGIC_V2 {
            return Ok(Err(format!("batch magic {} is not 2", h.magic)));
        }
        // CRC-32C over the batch from its attributes on, read a chunk at a time: the length
        // came off the disk, so nothing is allocated from it.
        const CHUNK: u64 = 64 * 1024;
        buf.resize(CHUNK as usize, 0);
        let file = self.file()?;
        let mut crc = 0u32;
        let mut at = pos + batch::CRC_COVERED_FROM as u64;
        let end = pos + total;
        while at < end {
            let n = (end - at).min(CHUNK) as usize;
            file.read_exact_at(&mut buf[..n], at)?;
            crc = crc32c::crc32c_append(crc, &buf[..n]);
            at += n as u64;
        }
        if crc != h.crc {
            return Ok(Err(format!(
                "CRC mismatch: stored {:#010x}, computed {crc:#010x}",
                h.crc
            )));
        }
        if h.base_offset < self.next_offset || h.last_offset_delta < 0 {
            return Ok(Err(format!(
                "batch offsets {}..={} do not follow offset {}",
                h.base_offset,
                h.last_offset(),
                self.next_offset - 1
            )));
        }
        if u32::try_from(h.last_offset() - self.base_offset).is_err() {
            return Ok(Err(format!(
                "batch last offset {} is outside the segment",
                h.last_offset()
            )));
        }
        Ok(Ok(h))
    }

    /// Updates indexes and bookkeeping for a batch stored at `pos` (append and recovery).
    fn index_batch(&mut self, h: &BatchHeader, pos: u64, index_interval_bytes: u32) {
        let len = h.total_len() as u64;
        self.note_timestamp(h.max_timestamp, h.last_offset());
        if self.first_batch_timestamp.is_none() {
            self.first_batch_timestamp = Some(h.max_timestamp);
        }
        if self.bytes_since_last_index_entry > u64::from(index_interval_bytes) {
            if let Ok(p) = u32::try_from(pos) {
                self.offset_index.append(h.last_offset(), p);
                self.time_index
                    .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
                self.bytes_since_last_index_entry = 0;
            }
        }
        self.bytes_since_last_index_entry += len;
        self.next_offset = h.next_offset();
    }

    fn note_timestamp(&mut self, ts: i64, last_offset: i64) {
        if ts > self.max_timestamp {
            self.max_timestamp = ts;
            self.offset_of_max_timestamp = last_offset;
        }
    }

    /// Appends whole batches, offsets already assigned, given as `parts` whose concatenation
    /// is the batches (patched headers between untouched bodies) and `headers`, the stored
    /// batches' headers: one positioned (vectored) write at the current size, then the indexes.
    /// On error nothing in memory changes and the partial bytes are cut off (best effort; the
    /// next append overwrites them anyway).
    pub fn append(
        &mut self,
        parts: &[&[u8]],
        headers: &[BatchHeader],
        index_interval_bytes: u32,
    ) -> std::io::Result<()> {
        let file = self.file()?;
        if let Err(e) = self
            .fs
            .write_parts_at(&self.log_path, &file, parts, self.size)
        {
            let _ = self.fs.set_len(&self.log_path, &file, self.size);
            return Err(io_at(e, "append to", &self.log_path));
        }
        let mut pos = self.size;
        for h in headers {
            self.index_batch(h, pos, index_interval_bytes);
            pos += h.total_len() as u64;
        }
        self.size = pos;
        Ok(())
    }

    /// Reads the header of the batch at `pos`; `None` if fewer than a header's bytes remain.
    pub fn read_header_at(&self, pos: u64) -> std::io::Result<Option<BatchHeader>> {
        if pos.saturating_add(BATCH_HEADER_LEN as u64) > self.size {
            return Ok(None);
        }
        let mut h = [0u8; BATCH_HEADER_LEN];
        self.file()?
            .read_exact_at(&mut h, pos)
            .map_err(|e| io_at(e, "read", &self.log_path))?;
        Ok(BatchHeader::parse(&h))
    }

    /// Reads the whole batch at `pos` with header `h`.
    pub fn read_batch_at(&self, pos: u64, h: &BatchHeader) -> std::io::Result<Vec<u8>> {
        // The length comes off the disk: bound it by what the file holds before allocating.
        if pos.saturating_add(h.total_len() as u64) > self.size {
            return Err(invalid_data(format!(
                "{}: batch at position {pos} claims {} bytes, past the end of the segment",
                self.log_path.display(),
                h.total_len()
            )));
        }
        let mut buf = vec![0u8; h.total_len()];
        self.file()?
            .read_exact_at(&mut buf, pos)
            .map_err(|e| io_at(e, "read", &self.log_path))?;
        Ok(buf)
    }

    /// The batch containing `offset` or, if `offset` falls in a gap, the first batch after it:
    /// its position and header. `None` if every batch in the segment ends before `offset`.
    /// Starts from the offset index entry at or below `offset` and scans headers forward.
    pub fn find_batch(&self, offset: i64) -> std::io::Result<Option<(u64, BatchHeader)>> {
        let (_, start) = self.offset_index.lookup(offset);
        self.scan_from(u64::from(start), |h| h.last_offset() >= offset)
    }

    /// Calls `f` with every batch header, in order (header reads only, no CRC check).
    pub fn for_each_header(&self, mut f: impl FnMut(&BatchHeader)) -> std::io::Result<()> {
        self.scan_from(0, |h| {
            f(h);
            false
        })
        .map(|_| ())
    }

    /// Calls `f` with the position and header of each batch from the batch containing `offset`
    /// to the end, using the offset index to skip the part before it (producer-state replay
    /// after a snapshot).
    pub fn for_each_batch_from(
        &self,
        offset: i64,
        mut f: impl FnMut(u64, &BatchHeader),
    ) -> std::io::Result<()> {
        let Some((start, _)) = self.find_batch(offset)? else {
            return Ok(());
        };
        let mut pos = start;
        self.scan_from(start, |h| {
            f(pos, h);
            pos += h.total_len() as u64;
            false
        })
        .map(|_| ())
    }

    /// Scans batch headers from `pos` to the first one satisfying `pred`.
    fn scan_from(
        &self,
        mut pos: u64,
        mut pred: impl FnMut(&BatchHeader) -> bool,
    ) -> std::io::Result<Option<(u64, BatchHeader)>> {
        while let Some(h) = self.read_header_at(pos)? {
            if pred(&h) {
                return Ok(Some((pos, h)));
            }
            let len = h.total_len() as u64;
            if len < BATCH_HEADER_LEN as u64 {
                return Err(invalid_data(format!(
                    "{}: invalid batch length at position {pos}",
                    self.log_path.display()
                )));
            }
            pos += len;
        }
        Ok(None)
    }

    /// End position of a read starting at the batch at `start` (of `first_len` bytes): the
    /// first batch always, then following whole batches while the total stays within
    /// `max_bytes`. Uses the offset index to skip over batches that certainly fit.
    pub fn read_end(&self, start: u64, first_len: u64, max_bytes: usize) -> std::io::Result<u64> {
        let mut end = start + first_len;
        let limit = start.saturating_add(max_bytes as u64).min(self.size);
        if limit <= end {
            return Ok(end);
        }
        if let Some((_, p)) = self.offset_index.floor_position(limit) {
            // Index positions are batch starts, so everything before `p` is whole batches.
            end = end.max(u64::from(p));
        }
        while let Some(h) = self.read_header_at(end)? {
            let len = h.total_len() as u64;
            if len < BATCH_HEADER_LEN as u64 || end + len > limit {
                break;
            }
            end += len;
        }
        Ok(end)
    }

    /// First batch whose `maxTimestamp >= ts` at or after `min_offset`, starting from the time
    /// index (Kafka's `findOffsetByTimestamp`, at batch level).
    pub fn find_batch_by_timestamp(
        &self,
        ts: i64,
        min_offset: i64,
    ) -> std::io::Result<Option<(u64, BatchHeader)>> {
        let (_, from_offset) = self.time_index.lookup(ts);
        let (_, start) = self.offset_index.lookup(from_offset.max(min_offset));
        self.scan_from(u64::from(start), |h| {
            h.last_offset() >= min_offset && h.max_timestamp >= ts
        })
    }

    /// Marks the end of this segment's active life: appends the final time index entry and
    /// writes both index files (Kafka's `onBecomeInactiveSegment`).
    pub fn on_roll(&mut self) -> std::io::Result<()> {
        self.write_indexes()
    }

    /// Writes the index files if they changed, adding the final time index entry first.
    pub fn write_indexes(&mut self) -> std::io::Result<()> {
        self.time_index
            .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
        if self.offset_index.is_dirty() {
            self.write_file(&self.index_path, &self.offset_index.encode())?;
            self.offset_index.mark_clean();
        }
        if self.time_index.is_dirty() {
            self.write_file(&self.time_index_path, &self.time_index.encode())?;
            self.time_index.mark_clean();
        }
        Ok(())
    }

    /// Fsyncs the log data if anything was written since the last sync, and writes the indexes.
    pub fn flush(&mut self) -> std::io::Result<()> {
        if self.synced_size != self.size {
            self.fs
                .sync(&self.log_path, &*self.file()?)
                .map_err(|e| io_at(e, "fsync", &self.log_path))?;
            self.synced_size = self.size;
        }
        self.write_indexes()
    }

    /// Deletes the segment's files. Readers holding the `Arc<File>` can still finish.
    pub fn delete_files(&self) -> std::io::Result<()> {
        for p in [&self.log_path, &self.index_path, &self.time_index_path] {
            self.fs.remove_file(p).map_err(|e| io_at(e, "delete", p))?;
        }
        Ok(())
    }

    /// Writes a whole index file (no fsync: indexes are rebuilt after a crash).
    fn write_file(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        self.fs
            .write(path, bytes)
            .map_err(|e| io_at(e, "write", path))
    }

    /// Whether the segment should be rolled before appending `incoming` bytes whose largest
    /// timestamp is `incoming_max_ts` and last offset `last_offset` (Kafka's `shouldRoll`:
    /// size, `segment.ms` counted from the first batch's timestamp, relative offset overflow).
    pub fn should_roll(
        &self,
        incoming: u64,
        incoming_max_ts: i64,
        last_offset: i64,
        segment_bytes: u64,
        segment_ms: i64,
        now_ms: i64,
    ) -> bool {
        if self.size == 0 {
            return false;
        }
        let waited = match self.first_batch_timestamp {
            Some(t) if t >= 0 => incoming_max_ts.saturating_sub(t),
            _ => now_ms.saturating_sub(self.created_ms),
        };
        self.size.saturating_add(incoming) > segment_bytes
            || (segment_ms >= 0 && waited > segment_ms)
            || u32::try_from(last_offset.saturating_sub(self.base_offset)).is_err()
    }

    /// `maxTimestamp` of the first batch, if any (`max.compaction.lag.ms` counts from it).
    pub fn first_batch_timestamp(&self) -> Option<i64> {
        self.first_batch_timestamp
    }

    /// Largest timestamp for retention: the largest batch timestamp, or the file's modification
    /// time if no batch has one (Kafka's `largestTimestamp`).
    pub fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            return self.max_timestamp;
        }
        std::fs::metadata(&self.log_path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    /// First offset this segment may hold.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// One past the last stored offset (see the field comment for when it is exact).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Sets the next offset of a non-last segment loaded without scanning.
    pub(crate) fn set_next_offset(&mut self, next: i64) {
        self.next_offset = next;
    }

    /// Bytes of whole batches.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// No batches.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Fsyncs the `.log` data away from the partition lock (a rolled segment): the file and the
    /// seam to do it with. Does not change `synced_size`: the recovery point is what counts.
    pub fn sync_handle(&self) -> std::io::Result<(Arc<File>, Arc<dyn FileSystem>, PathBuf)> {
        Ok((self.file()?, Arc::clone(&self.fs), self.log_path.clone()))
    }

    /// The `.log` file path.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Largest batch timestamp and the last offset of the batch that reached it, if any batch
    /// has a timestamp.
    pub fn max_timestamp_and_offset(&self) -> Option<(i64, i64)> {
        (self.max_timestamp >= 0).then_some((self.max_timestamp, self.offset_of_max_timestamp))
    }

    /// The offset index (for tests and diagnostics).
    pub fn offset_index(&self) -> &OffsetIndex {
        &self.offset_index
    }
}

impl Drop for LogSegment {
    /// The segment is gone from its log (deleted, truncated away, or the log closed): its file
    /// leaves the cache; readers holding it keep their handle.
    fn drop(&mut self) {
        self.cache.forget(self.cache_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(file_name(0, "log"), "00000000000000000000.log");
        assert_eq!(file_name(1234, "index"), "00000000000000001234.index");
        assert_eq!(parse_log_file_name("00000000000000001234.log"), Some(1234));
        assert_eq!(parse_log_file_name("00000000000000001234.index"), None);
        assert_eq!(parse_log_file_name("1234.log"), None);
        assert_eq!(parse_log_file_name("0000000000000000123x.log"), None);
    }
}
