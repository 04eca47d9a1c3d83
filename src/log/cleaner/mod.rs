//! Log compaction (Kafka's `LogCleaner`, `Cleaner` and `LogCleanerManager`, for one log): keeps
//! the latest record of each key in a `cleanup.policy=compact` log, tombstones for
//! `delete.retention.ms`, and nothing of aborted transactions, with offsets unchanged.
//!
//! # A pass
//!
//! 1. Under the partition lock, [`PartitionLog::dirtiness`] measures the log and the pass takes
//!    a plan: the segments before the first uncleanable offset (the active segment, the last
//!    stable offset, and `min.compaction.lag.ms` bound it), their open files, the aborted
//!    transactions and what the producer state says of each producer.
//! 2. Without the lock, the dirty part (from the `cleaner-offset-checkpoint`) is read into the
//!    bounded [`offset_map::OffsetMap`]; a full map ends the pass's reach there.
//! 3. Without the lock, the segments from the log start to that point are cleaned in groups of
//!    at most `segment.bytes` (see [`filter`]) into a new segment per group, written as
//!    `<base>.log.cleaned` (with its `.index`, `.timeindex`, `.txnindex`), fsynced.
//! 4. Under the lock, each group is swapped in (see `swap`): the cleaned files renamed to
//!    `.swap` (the log file last: its rename is the commit point), the old segments to
//!    `.deleted`, the swap files to their final names, then the old files deleted. Readers
//!    holding the old files finish reading them. A group whose segments changed meanwhile
//!    (retention, DeleteRecords, deletion) is dropped.
//! 5. The checkpoint moves to where the map reached.
//!
//! Bytes below a segment's size never change while the broker runs (appends go to the active
//! segment only), which is what lets steps 2 and 3 read without the lock.
//!
//! A crash at any step loses nothing: on open, `.cleaned` and `.deleted` files are removed and
//! an interrupted swap is finished (see `swap`).

pub mod filter;
pub mod offset_map;
mod swap;

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use self::filter::{FilterContext, Kept, LastRecord, TxnTracker};
use self::offset_map::OffsetMap;
use super::checkpoint;
use super::config::LogConfig;
use super::error::LogError;
use super::log_dir::LogDir;
use super::partition_log::PartitionLog;
use super::segment::LogSegment;
use super::txn_index::{self, AbortedTxn};
use crate::record::batch::{self, BatchHeader, BATCH_HEADER_LEN};
use crate::record::control;
use crate::record::reader::{RecordReader, Want};

pub(crate) use swap::{is_leftover, recover_interrupted};

/// The file of a partition directory saying where the clean part of its log ends (Kafka keeps
/// one such file per log directory, for all its partitions; one per partition here).
pub const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// The broker's cleaner settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanerConfig {
    /// `log.cleaner.dedupe.buffer.size` divided among `log.cleaner.threads`: the most the
    /// offset map of one pass may take.
    pub dedupe_buffer_bytes: usize,
    /// `log.cleaner.io.buffer.size`: how much of a segment is read at once.
    pub io_buffer_bytes: usize,
}

impl Default for CleanerConfig {
    /// Kafka's defaults for one cleaner thread.
    fn default() -> Self {
        CleanerConfig {
            dedupe_buffer_bytes: 128 << 20,
            io_buffer_bytes: 512 << 10,
        }
    }
}

/// How dirty a compacted log is (Kafka's `LogToClean`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dirtiness {
    /// Where the part not yet cleaned starts.
    pub first_dirty: i64,
    /// The first offset that may not be cleaned now.
    pub first_uncleanable: i64,
    /// Bytes of the segments before `first_dirty`.
    pub clean_bytes: u64,
    /// Bytes of the segments between the two.
    pub cleanable_bytes: u64,
    /// `cleanable / (clean + cleanable)`.
    pub ratio: f64,
    /// `max.compaction.lag.ms` passed for the oldest dirty segment.
    pub overdue: bool,
    /// A delete horizon written by an earlier pass has passed: tombstones or markers can go.
    pub horizon_passed: bool,
    /// `min.cleanable.dirty.ratio`.
    pub min_ratio: f64,
}

impl Dirtiness {
    /// Whether the cleaner should pick this log (Kafka's `grabFilthiestCompactedLog` filter,
    /// plus logs whose tombstones' delete horizon has passed).
    pub fn wants_cleaning(&self) -> bool {
        (self.cleanable_bytes > 0 && (self.overdue || self.ratio > self.min_ratio))
            || self.horizon_passed
    }
}

/// The figures of one pass, for its log line and the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Bytes of log read into the offset map.
    pub map_bytes_read: u64,
    /// Bytes of segments read while cleaning.
    pub bytes_read: u64,
    /// Bytes of cleaned segments written.
    pub bytes_written: u64,
    /// Records read while cleaning.
    pub records_read: u64,
    /// Records kept.
    pub records_kept: u64,
    /// Keys in the offset map.
    pub keys: u64,
    /// Whether the map filled before the end of the dirty part.
    pub map_full: bool,
    /// Segments replaced and segments written.
    pub segments_in: u64,
    /// Segments written.
    pub segments_out: u64,
    /// Where the clean part ends now.
    pub end_offset: i64,
    /// Wall time of the pass.
    pub duration_ms: u64,
}

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    /// A storage error (the log directory is offline now).
    #[error(transparent)]
    Log(#[from] LogError),
    /// A stored batch that does not read back: the log is left as it was and not cleaned again
    /// (Kafka marks such a partition uncleanable).
    #[error("{path}: batch at position {position}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Where in it.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// The cleaner is stopping, or the log changed under the pass; nothing was lost and the
    /// next pass starts over.
    #[error("cleaning abandoned: {0}")]
    Abandoned(&'static str),
}

/// An inactive segment as the pass reads it without the lock.
#[derive(Debug, Clone)]
struct SegView {
    base: i64,
    /// The next segment's base offset.
    next: i64,
    size: u64,
    /// Opened when the pass reads it, so a pass over many segments holds one descriptor.
    path: PathBuf,
}

/// What a pass takes from the log under the lock.
#[derive(Debug)]
struct Plan {
    dir: PathBuf,
    log_dir: Arc<LogDir>,
    config: LogConfig,
    dirtiness: Dirtiness,
    segments: Vec<SegView>,
    aborted: Vec<AbortedTxn>,
    producers: HashMap<i64, LastRecord>,
}

fn lock(log: &Mutex<PartitionLog>) -> std::sync::MutexGuard<'_, PartitionLog> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

impl PartitionLog {
    /// How dirty this log is, or `None` if its `cleanup.policy` has no `compact`.
    pub fn dirtiness(&self, now_ms: i64) -> Option<Dirtiness> {
        if !self.config.compact || self.check_online().is_err() {
            return None;
        }
        let n = self.segments.len();
        let next_of = |i: usize| {
            self.segments
                .get(i + 1)
                .map_or(self.log_end_offset, LogSegment::base_offset)
        };
        let active_base = self.segments[n - 1].base_offset();
        let first_dirty = match self.cleaner_checkpoint {
            Some(c) if c >= self.log_start_offset && c <= self.log_end_offset => c,
            _ => self.log_start_offset,
        };
        let mut first_uncleanable = self.last_stable_offset().min(active_base);
        let min_lag = self.config.min_compaction_lag_ms.max(0);
        let dirty: Vec<usize> = (0..n - 1).filter(|&i| next_of(i) > first_dirty).collect();
        if min_lag > 0 {
            if let Some(&i) = dirty
                .iter()
                .find(|&&i| self.segments[i].largest_timestamp() > now_ms.saturating_sub(min_lag))
            {
                first_uncleanable = first_uncleanable.min(self.segments[i].base_offset());
            }
        }
        let first_uncleanable = first_uncleanable.max(first_dirty);
        let max_lag = self.config.max_compaction_lag_ms;
        let overdue = max_lag > 0
            && max_lag < i64::MAX
            && dirty.first().is_some_and(|&i| {
                let seg = &self.segments[i];
                let ts = seg
                    .first_batch_timestamp()
                    .filter(|&t| t >= 0)
                    .unwrap_or_else(|| seg.largest_timestamp());
                now_ms.saturating_sub(ts) > max_lag
            });
        let mut clean_bytes = 0u64;
        let mut cleanable_bytes = 0u64;
        for (i, seg) in self.segments[..n - 1].iter().enumerate() {
            if seg.base_offset() < first_dirty {
                clean_bytes += seg.size();
            }
            if seg.base_offset() < first_uncleanable && next_of(i) > first_dirty {
                cleanable_bytes += seg.size();
            }
        }
        let total = clean_bytes + cleanable_bytes;
        Some(Dirtiness {
            first_dirty,
            first_uncleanable,
            clean_bytes,
            cleanable_bytes,
            ratio: if total == 0 {
                0.0
            } else {
                cleanable_bytes as f64 / total as f64
            },
            overdue,
            horizon_passed: self.cleaner_horizon.is_some_and(|t| t <= now_ms) && n > 1,
            min_ratio: self.config.min_cleanable_ratio,
        })
    }

    fn plan_clean(&self, now_ms: i64) -> Option<Plan> {
        let dirtiness = self.dirtiness(now_ms)?;
        let n = self.segments.len();
        let mut segments = Vec::with_capacity(n - 1);
        for (i, seg) in self.segments[..n - 1].iter().enumerate() {
            if seg.base_offset() >= dirtiness.first_uncleanable {
                break;
            }
            segments.push(SegView {
                base: seg.base_offset(),
                next: self.segments[i + 1].base_offset(),
                size: seg.size(),
                path: seg.log_path().to_path_buf(),
            });
        }
        let producers = self
            .producers
            .iter()
            .map(|(pid, e)| {
                (
                    pid,
                    LastRecord {
                        last_data_offset: e.batches.back().map(|b| b.last_offset),
                        epoch: e.epoch,
                    },
                )
            })
            .collect();
        Some(Plan {
            dir: self.dir.clone(),
            log_dir: Arc::clone(&self.log_dir),
            config: self.config.clone(),
            dirtiness,
            segments,
            aborted: self.txn_index.entries().to_vec(),
            producers,
        })
    }

    /// Where the clean part of the log ends (tests and metrics).
    pub fn cleaner_checkpoint(&self) -> Option<i64> {
        self.cleaner_checkpoint
    }

    fn finish_pass(&mut self, end: i64, horizon: Option<i64>) -> Result<(), LogError> {
        self.guarded(|log| {
            checkpoint::write_offset(log.log_dir.fs(), &log.dir, CLEANER_CHECKPOINT_FILE, end)
                .map_err(|e| LogError::io("write cleaner checkpoint", &log.dir, e))?;
            log.cleaner_checkpoint = Some(end);
            log.cleaner_horizon = horizon;
            Ok(())
        })
    }
}

/// Runs one pass over `log` if it is dirty enough (see the module documentation), or `force`d
/// whenever it has anything to clean. `Ok(None)`: nothing to do.
pub fn clean(
    log: &Mutex<PartitionLog>,
    config: &CleanerConfig,
    force: bool,
    stop: &AtomicBool,
) -> Result<Option<CleanStats>, CleanError> {
    let started = Instant::now();
    let plan = {
        let l = lock(log);
        let now = l.log_dir.clock().now_ms();
        match l.plan_clean(now) {
            Some(p) if p.dirtiness.wants_cleaning() => p,
            Some(p) if force && (p.dirtiness.cleanable_bytes > 0 || !p.segments.is_empty()) => p,
            _ => return Ok(None),
        }
    };
    let now_ms = plan.log_dir.clock().now_ms();
    let mut stats = CleanStats::default();
    let mut map = OffsetMap::new(config.dedupe_buffer_bytes);
    build_offset_map(&plan, &mut map, config, stop, &mut stats).map_err(|e| fail(log, &plan, e))?;
    let d = plan.dirtiness;
    let end =
        (map.latest_offset() + 1).clamp(d.first_dirty, d.first_uncleanable.max(d.first_dirty));
    stats.keys = map.len() as u64;
    stats.end_offset = end;
    let ctx = FilterContext {
        map: &map,
        now_ms,
        delete_retention_ms: plan.config.delete_retention_ms,
        producers: &plan.producers,
        decompress_limit: crate::record::validate::DEFAULT_MAX_UNCOMPRESSED_BYTES,
    };
    let mut horizon: Option<i64> = None;
    for group in groups(&plan, end) {
        if stop.load(Ordering::Relaxed) {
            return Err(CleanError::Abandoned("the cleaner is stopping"));
        }
        let (seg, kept_aborts, h) = clean_group(&plan, group, &ctx, config, stop, &mut stats)
            .map_err(|e| fail(log, &plan, e))?;
        horizon = match (horizon, h) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let bases: Vec<i64> = group.iter().map(|s| s.base).collect();
        if !lock(log).install_cleaned(seg, &bases, &kept_aborts)? {
            return Err(CleanError::Abandoned("the log changed during the pass"));
        }
        stats.segments_in += group.len() as u64;
        stats.segments_out += 1;
    }
    lock(log).finish_pass(end, horizon)?;
    stats.duration_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        dir = %plan.dir.display(),
        map_bytes_read = stats.map_bytes_read,
        bytes_read = stats.bytes_read,
        bytes_written = stats.bytes_written,
        records_read = stats.records_read,
        records_kept = stats.records_kept,
        keys = stats.keys,
        map_full = stats.map_full,
        segments_in = stats.segments_in,
        segments_out = stats.segments_out,
        cleaned_up_to = end,
        dirty_ratio = format!("{:.3}", d.ratio),
        duration_ms = stats.duration_ms,
        "cleaned log"
    );
    Ok(Some(stats))
}

/// An I/O error of the pass takes the log directory offline, as any other (Kafka's cleaner
/// reports it to the `LogDirFailureChannel`); what it left behind is removed on the next open.
/// A log deleted (its topic) or offline meanwhile only ends the pass.
fn fail(log: &Mutex<PartitionLog>, plan: &Plan, e: CleanError) -> CleanError {
    if lock(log).check_online().is_err() {
        return CleanError::Abandoned("the log was deleted or went offline during the pass");
    }
    if let CleanError::Log(e @ LogError::Io { .. }) = &e {
        plan.log_dir.mark_offline(e);
    }
    e
}

/// Groups of consecutive segments below `end`, each at most `segment.bytes` and with offsets
/// that fit one segment (Kafka's `groupSegmentsBySize`).
fn groups(plan: &Plan, end: i64) -> Vec<&[SegView]> {
    let segs: Vec<&SegView> = plan.segments.iter().filter(|s| s.base < end).collect();
    let max = plan.config.segment_bytes.min(i32::MAX as u64);
    let mut out = Vec::new();
    let mut i = 0;
    while i < segs.len() {
        let mut j = i + 1;
        let mut size = segs[i].size;
        while j < segs.len()
            && size + segs[j].size <= max
            && segs[j].next - 1 - segs[i].base <= i64::from(u32::MAX)
        {
            size += segs[j].size;
            j += 1;
        }
        out.push(&plan.segments[i..j]);
        i = j;
    }
    out
}

/// Step 2: every keyed record of the dirty part, outside aborted transactions.
fn build_offset_map(
    plan: &Plan,
    map: &mut OffsetMap,
    config: &CleanerConfig,
    stop: &AtomicBool,
    stats: &mut CleanStats,
) -> Result<(), CleanError> {
    let d = plan.dirtiness;
    let dirty_aborts: Vec<AbortedTxn> = plan
        .aborted
        .iter()
        .filter(|a| a.last_offset >= d.first_dirty && a.first_offset < d.first_uncleanable)
        .copied()
        .collect();
    let mut txns = TxnTracker::new(dirty_aborts);
    map.advance_to(d.first_dirty - 1);
    for seg in plan
        .segments
        .iter()
        .filter(|s| s.next > d.first_dirty && s.base < d.first_uncleanable)
    {
        let mut full = false;
        read_batches(seg, config, stop, |pos, h, bytes| {
            if h.last_offset() < d.first_dirty {
                return Ok(true);
            }
            if h.base_offset >= d.first_uncleanable {
                return Ok(false);
            }
            stats.map_bytes_read += bytes.len() as u64;
            if h.is_control() {
                txns.on_control(h, control::read_marker(bytes, h).map(|(c, _)| c));
            } else if !txns.on_batch(h) {
                let mut records = RecordReader::new(
                    bytes,
                    h,
                    crate::record::validate::DEFAULT_MAX_UNCOMPRESSED_BYTES,
                )
                .map_err(|e| corrupt(seg, pos, e.to_string()))?;
                while let Some(r) = records
                    .next_record(Want::Data)
                    .map_err(|e| corrupt(seg, pos, e.to_string()))?
                {
                    let offset = h.base_offset + i64::from(r.offset_delta);
                    let Some(key) = records.key() else { continue };
                    if offset < d.first_dirty {
                        continue;
                    }
                    if !map.put(key, offset) {
                        full = true;
                        return Ok(false);
                    }
                }
            }
            map.advance_to(h.last_offset());
            Ok(true)
        })?;
        if full {
            stats.map_full = true;
            tracing::info!(dir = %plan.dir.display(), keys = map.len(), up_to = map.latest_offset(), "offset map full; the rest waits for the next pass");
            break;
        }
    }
    Ok(())
}

fn corrupt(seg: &SegView, position: u64, reason: String) -> CleanError {
    CleanError::Corrupt {
        path: seg.path.clone(),
        position,
        reason,
    }
}

/// Calls `f(position, header, whole batch)` for each batch of `seg`, in order, until it returns
/// false, reading `io_buffer_bytes` at a time. Every batch's framing and CRC is checked first;
/// nothing is allocated from a length before it is checked against the segment's size.
fn read_batches(
    seg: &SegView,
    config: &CleanerConfig,
    stop: &AtomicBool,
    mut f: impl FnMut(u64, &BatchHeader, &[u8]) -> Result<bool, CleanError>,
) -> Result<(), CleanError> {
    let io = |e: std::io::Error| {
        CleanError::Log(LogError::io(
            "read segment to clean",
            seg.path.parent().unwrap_or(Path::new("")),
            e,
        ))
    };
    // Retention or DeleteRecords may have removed the segment since the plan was made.
    let file = match File::open(&seg.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CleanError::Abandoned(
                "a segment was deleted during the pass",
            ))
        }
        Err(e) => return Err(io(e)),
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_at = 0u64; // file position of buf[0]
    let mut pos = 0u64;
    let mut seen = 0u32;
    while pos < seg.size {
        seen = seen.wrapping_add(1);
        if seen.is_multiple_of(1024) && stop.load(Ordering::Relaxed) {
            return Err(CleanError::Abandoned("the cleaner is stopping"));
        }
        let remaining = seg.size - pos;
        if remaining < BATCH_HEADER_LEN as u64 {
            return Err(corrupt(seg, pos, format!("{remaining} trailing bytes")));
        }
        let in_buf = |len: u64, buf: &Vec<u8>, buf_at: u64| {
            pos >= buf_at && pos + len <= buf_at + buf.len() as u64
        };
        if !in_buf(BATCH_HEADER_LEN as u64, &buf, buf_at) {
            let n = remaining.min(config.io_buffer_bytes.max(BATCH_HEADER_LEN) as u64) as usize;
            buf.resize(n, 0);
            file.read_exact_at(&mut buf, pos).map_err(io)?;
            buf_at = pos;
        }
        let off = (pos - buf_at) as usize;
        let Some(h) = BatchHeader::parse(&buf[off..]) else {
            return Err(corrupt(seg, pos, "unreadable header".into()));
        };
        let len = h.total_len() as u64;
        if len < BATCH_HEADER_LEN as u64 || len > remaining {
            return Err(corrupt(
                seg,
                pos,
                format!("batch length {len} does not fit"),
            ));
        }
        if !in_buf(len, &buf, buf_at) {
            let n = remaining.min((config.io_buffer_bytes as u64).max(len)) as usize;
            buf.resize(n, 0);
            file.read_exact_at(&mut buf, pos).map_err(io)?;
            buf_at = pos;
        }
        let off = (pos - buf_at) as usize;
        let bytes = &buf[off..off + len as usize];
        batch::check_crc(bytes, &h, pos as usize).map_err(|e| corrupt(seg, pos, e.to_string()))?;
        if !f(pos, &h, bytes)? {
            return Ok(());
        }
        pos += len;
    }
    Ok(())
}

/// Step 3 for one group: the cleaned segment (`.cleaned`, fsynced), the ABORT entries it keeps,
/// and the earliest delete horizon it carries.
fn clean_group(
    plan: &Plan,
    group: &[SegView],
    ctx: &FilterContext<'_>,
    config: &CleanerConfig,
    stop: &AtomicBool,
    stats: &mut CleanStats,
) -> Result<(LogSegment, Vec<AbortedTxn>, Option<i64>), CleanError> {
    let base = group[0].base;
    let group_end = group[group.len() - 1].next;
    let dir = &plan.dir;
    let io =
        |what: &'static str| move |e: std::io::Error| CleanError::Log(LogError::io(what, dir, e));
    let mut out = LogSegment::create_with_suffix(
        plan.log_dir.fs_arc(),
        plan.log_dir.files(),
        dir,
        base,
        swap::CLEANED,
        ctx.now_ms,
    )
    .map_err(io("create cleaned segment"))?;
    let result = (|| {
        let aborted: Vec<AbortedTxn> = plan
            .aborted
            .iter()
            .filter(|a| a.last_offset >= base && a.first_offset < group_end)
            .copied()
            .collect();
        let mut txns = TxnTracker::new(aborted);
        let mut pending: Vec<Vec<u8>> = Vec::new();
        let mut pending_bytes = 0usize;
        let mut horizon: Option<i64> = None;
        let interval = plan.config.index_interval_bytes;
        let write = |out: &mut LogSegment, pending: &mut Vec<Vec<u8>>| -> Result<(), CleanError> {
            if pending.is_empty() {
                return Ok(());
            }
            let headers: Vec<BatchHeader> = pending
                .iter()
                .filter_map(|b| BatchHeader::parse(b))
                .collect();
            let parts: Vec<&[u8]> = pending.iter().map(Vec::as_slice).collect();
            out.append(&parts, &headers, interval)
                .map_err(io("write cleaned segment"))?;
            pending.clear();
            Ok(())
        };
        for seg in group {
            read_batches(seg, config, stop, |pos, h, bytes| {
                stats.bytes_read += bytes.len() as u64;
                let f = filter::filter_batch(bytes, h, ctx, &mut txns)
                    .map_err(|e| corrupt(seg, pos, e.to_string()))?;
                stats.records_read += f.records_read;
                stats.records_kept += f.records_kept;
                let kept = match f.kept {
                    Kept::Nothing => return Ok(true),
                    Kept::Original => bytes.to_vec(),
                    Kept::Rebuilt(b) => b,
                };
                if let Some(t) = f.delete_horizon_ms.filter(|&t| t > ctx.now_ms) {
                    horizon = Some(horizon.map_or(t, |h: i64| h.min(t)));
                }
                stats.bytes_written += kept.len() as u64;
                pending_bytes += kept.len();
                pending.push(kept);
                if pending_bytes >= config.io_buffer_bytes {
                    write(&mut out, &mut pending)?;
                    pending_bytes = 0;
                }
                Ok(true)
            })?;
        }
        write(&mut out, &mut pending)?;
        out.flush().map_err(io("flush cleaned segment"))?;
        let fs = plan.log_dir.fs();
        let txn_path = swap::with_suffix(&txn_index::path(dir, base), swap::CLEANED);
        let f = fs
            .create(&txn_path)
            .map_err(io("create cleaned transaction index"))?;
        let bytes = txn_index::encode_entries(&txns.kept_aborts);
        fs.write_at(&txn_path, &f, &bytes, 0)
            .and_then(|()| fs.sync(&txn_path, &f))
            .map_err(io("write cleaned transaction index"))?;
        Ok((txns.kept_aborts, horizon))
    })();
    match result {
        Ok((aborts, horizon)) => Ok((out, aborts, horizon)),
        Err(e) => {
            swap::discard(plan.log_dir.fs(), dir, base, out);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests;
