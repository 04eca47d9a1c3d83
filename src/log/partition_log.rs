//! [`PartitionLog`]: one partition's log, a list of segments with a log start offset, a log end offset and
//! a leader epoch cache (Kafka's `UnifiedLog` + `LocalLog` + `LogLoader`, for a single replica).
//!
//! # Directory
//!
//! ```text
//! <dir>/00000000000000000000.log        segments (see super::segment)
//! <dir>/00000000000000000000.index
//! <dir>/00000000000000000000.timeindex
//! <dir>/00000000000000012345.log ...
//! <dir>/leader-epoch-checkpoint         see super::epoch
//! <dir>/log-start-offset                see super::checkpoint
//! <dir>/recovery-point-offset-checkpoint
//! <dir>/00000000000000012345.snapshot   idempotent-producer state (see super::producer_state)
//! ```
//!
//! # Producer state
//!
//! Idempotent producers' sequence numbers are checked under the partition lock before a write
//! and recorded after it (Kafka's `ProducerStateManager`). The state is snapshotted when a
//! segment rolls and on close; on open the newest snapshot is loaded and only the batches after
//! it are replayed from their headers, so a restart does not rescan the whole log.
//!
//! # Offsets
//!
//! `log start offset <= high watermark == log end offset`. With a single replica every appended
//! batch is committed, so the high watermark is the log end offset. The log start offset is the
//! first segment's base offset unless DeleteRecords moved it further.
//!
//! # Thread safety
//!
//! `PartitionLog` is not thread-safe: the caller wraps it in the partition's lock and holds it for every
//! method. [`PartitionLog::read`] only locates bytes; the returned [`FileSlice`] is read after the lock is
//! released.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::checkpoint::{self, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE};
use super::epoch::LeaderEpochCache;
use super::error::LogError;
use super::log_dir::LogDir;
use super::producer_state::{Check, ProducerStateManager};
use super::segment::LogSegment;
use crate::record::batch::{self, BatchHeader, BATCH_HEADER_LEN};
use crate::record::FileSlice;

use super::config::LogConfig;

/// The outcome of an append, for the produce response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset assigned to the first record.
    pub base_offset: i64,
    /// Offset assigned to the last record.
    pub last_offset: i64,
    /// The broker time written into the batches for LogAppendTime topics, -1 for CreateTime.
    pub log_append_time: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
}

/// One partition's log. See the module documentation.
#[derive(Debug)]
pub struct PartitionLog {
    /// The partition directory.
    pub(super) dir: PathBuf,
    /// The log directory it lives in: the file system writes go through, and whether an I/O
    /// error took it offline.
    pub(super) log_dir: Arc<LogDir>,
    /// Current settings.
    pub(super) config: LogConfig,
    /// Segments by increasing base offset; never empty, the last one is active.
    pub(super) segments: Vec<LogSegment>,
    /// First readable offset (DeleteRecords and retention move it forward).
    pub(super) log_start_offset: i64,
    /// Next offset to assign; also the high watermark.
    pub(super) log_end_offset: i64,
    /// Everything below this offset is fsynced; recovery starts from its segment.
    pub(super) recovery_point: i64,
    /// What the recovery-point checkpoint file says, so a flush with nothing new does not
    /// rewrite (and fsync) it: a clean stop of 10,000 idle partitions is then no disk work.
    pub(super) checkpointed_recovery_point: Option<i64>,
    /// Where each leader epoch started, for OffsetForLeaderEpoch.
    pub(super) epochs: LeaderEpochCache,
    /// Wall-clock time of the last flush, for `flush.ms`.
    pub(super) last_flush_ms: i64,
    /// Idempotent-producer state: epochs and the last batches of each producer id.
    pub(super) producers: ProducerStateManager,
    /// Batch headers scanned to rebuild the producer state at open (those after the snapshot);
    /// for tests and logs.
    pub(super) producer_replayed_batches: usize,
    /// Log end offset covered by the newest producer snapshot on disk (-1: none).
    pub(super) producer_snapshot_offset: i64,
    /// Aborted transactions, for read_committed fetches (see `super::txn_index`).
    pub(super) txn_index: super::txn_index::TxnIndex,
    /// KIP-890 verification guards: per producer, the token a transactional append must still
    /// find when it is written (a marker removes it). In memory only, as Kafka's.
    pub(super) verifications: std::collections::HashMap<i64, u64>,
    /// Source of verification tokens.
    pub(super) next_verification: u64,
    /// Where the clean part of the log ends (`cleaner-offset-checkpoint`), if a pass ran.
    pub(super) cleaner_checkpoint: Option<i64>,
    /// The earliest delete horizon the last cleaner pass left in the log (in memory only): the
    /// log is due again when it passes.
    pub(super) cleaner_horizon: Option<i64>,
    /// Set when the topic is deleted: later calls through a partition handle still held
    /// elsewhere fail with [`LogError::Deleted`] instead of writing into a removed directory
    /// (which would look like a disk failure and take the log directory offline).
    pub(super) deleted: bool,
}

impl PartitionLog {
    /// Appends already-validated batches (one from
    /// [`validate_produce`](crate::record::validate::validate_produce), or the broker's own from
    /// [`frame_batches`](crate::record::batch::frame_batches), back to back) with `headers`, the
    /// headers to store. Assigns offsets from the log end offset by rewriting each batch's base
    /// offset and partition leader epoch in place, and its timestamp type and max timestamp
    /// where they differ from `headers` or the topic is LogAppendTime; rolls the active segment if `segment.bytes` or `segment.ms` say
    /// so, writes everything with one positioned write, and updates the indexes. If the write
    /// fails nothing advances and the error is [`LogError::Io`].
    pub fn append(
        &mut self,
        batches: &[u8],
        headers: &[BatchHeader],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.guarded(|log| log.append_inner(batches, headers, leader_epoch, now_ms, None))
    }

    /// [`Self::append`]; `marker` is the type (COMMIT `true`) and coordinator epoch of the
    /// control batches among `headers` (only the broker writes them, see `append_marker`).
    pub(super) fn append_inner(
        &mut self,
        batches: &[u8],
        headers: &[BatchHeader],
        leader_epoch: i32,
        now_ms: i64,
        marker: Option<(bool, i32)>,
    ) -> Result<AppendInfo, LogError> {
        if headers.is_empty() {
            return Err(LogError::InvalidAppend("no batches"));
        }
        let mut total = 0usize;
        for h in headers {
            if h.total_len() < BATCH_HEADER_LEN || h.last_offset_delta < 0 {
                return Err(LogError::InvalidAppend("batch header is not valid"));
            }
            total += h.total_len();
        }
        if total != batches.len() {
            return Err(LogError::InvalidAppend(
                "headers do not describe the buffer",
            ));
        }
        let segment_bytes = self.effective_segment_bytes();
        if total as u64 > segment_bytes {
            return Err(LogError::RecordListTooLarge {
                size: total,
                segment_bytes: self.config.segment_bytes,
            });
        }

        // Idempotence: judge every batch before writing anything (Kafka's
        // analyzeAndValidateProducerState). A duplicate answers with the original offsets.
        if let Some(dup) = self.check_producers(headers)? {
            return Ok(AppendInfo {
                base_offset: dup.first_offset,
                last_offset: dup.last_offset,
                log_append_time: -1,
                log_start_offset: self.log_start_offset,
            });
        }
        let base_offset = self.log_end_offset;
        let log_append = self.config.message_timestamp_log_append;
        let mut next = base_offset;
        let mut max_ts = -1i64;
        let mut pos = 0usize;
        // The broker changes only batch headers: patched copies of those are written between
        // the untouched batch bodies, so the request's bytes are never copied in user space.
        let mut heads: Vec<[u8; BATCH_HEADER_LEN]> = Vec::with_capacity(headers.len());
        for h in headers {
            let len = h.total_len();
            let mut head = [0u8; BATCH_HEADER_LEN];
            head.copy_from_slice(&batches[pos..pos + BATCH_HEADER_LEN]);
            let sent = BatchHeader::parse(&head);
            batch::set_base_offset(&mut head, next);
            batch::set_partition_leader_epoch(&mut head, leader_epoch);
            let body = &batches[pos + BATCH_HEADER_LEN..pos + len];
            if log_append {
                batch::set_max_timestamp_split(&mut head, body, true, now_ms);
            } else if sent.is_some_and(|s| {
                s.max_timestamp != h.max_timestamp
                    || s.timestamp_type_log_append() != h.timestamp_type_log_append()
            }) {
                // Kafka keeps the largest record timestamp, not what the producer claimed.
                batch::set_max_timestamp_split(&mut head, body, false, h.max_timestamp);
            }
            heads.push(head);
            max_ts = max_ts.max(if log_append { now_ms } else { h.max_timestamp });
            next = next.saturating_add(i64::from(h.last_offset_delta) + 1);
            pos += len;
        }
        let last_offset = next - 1;
        let mut stored = Vec::with_capacity(headers.len());
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * headers.len());
        let mut pos = 0usize;
        for (h, head) in headers.iter().zip(&heads) {
            stored.extend(BatchHeader::parse(head));
            parts.push(head);
            parts.push(&batches[pos + BATCH_HEADER_LEN..pos + h.total_len()]);
            pos += h.total_len();
        }

        if self.active().should_roll(
            total as u64,
            max_ts,
            last_offset,
            segment_bytes,
            self.effective_segment_ms(),
            now_ms,
        ) {
            self.roll(now_ms)?;
        }
        let interval = self.config.index_interval_bytes;
        if let Err(e) = self.active_mut().append(&parts, &stored, interval) {
            return Err(LogError::io("append", &self.dir, e));
        }
        self.log_end_offset = next;
        // Only now that the write succeeded does the producer state move.
        let mut first = base_offset;
        for h in headers {
            match marker {
                Some(m) if h.is_control() => self.apply_marker(h, first, m)?,
                _ => self.producers.update(h, first),
            }
            first += i64::from(h.last_offset_delta) + 1;
        }
        if self.epochs.assign(leader_epoch, base_offset) {
            // As a failed flush: the data is written, but the produce is answered with the
            // storage error and the directory goes offline (Kafka's LeaderEpochFileCache).
            self.epochs
                .write_if_dirty(self.log_dir.fs(), &self.dir)
                .map_err(|e| LogError::io("write leader epoch checkpoint", &self.dir, e))?;
        }
        let unflushed = u64::try_from(self.log_end_offset - self.recovery_point).unwrap_or(0);
        let flush_due = unflushed >= self.config.flush_messages
            || (self.config.flush_ms >= 0
                && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms);
        if flush_due {
            // As in Kafka, a failed flush fails the produce (KAFKA_STORAGE_ERROR) even though
            // the write itself went through: the data is not known to be durable. A retry by an
            // idempotent producer after a restart is answered as a duplicate.
            self.flush_inner()?;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset,
            log_append_time: if log_append { now_ms } else { -1 },
            log_start_offset: self.log_start_offset,
        })
    }

    /// Locates whole batches to answer a fetch at `offset`: from the batch containing `offset`
    /// (so the first batch may start before it, as in Kafka), within one segment, up to
    /// `max_bytes` but always at least the first batch even if it is larger (KIP-74). Empty at
    /// the log end offset; [`LogError::OffsetOutOfRange`] outside `[log start, log end]`.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<FileSlice, LogError> {
        self.read_located(offset, max_bytes).map(|(slice, _)| slice)
    }

    /// [`Self::read`], and the index of the segment the slice came from (a later one than
    /// `offset`'s when `offset` lies in a gap the cleaner left).
    pub(super) fn read_located(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<(FileSlice, usize), LogError> {
        self.check_online()?;
        let r = self.read_inner(offset, max_bytes);
        if let Err(e @ LogError::Io { .. }) = &r {
            self.log_dir.mark_offline(e);
        }
        r
    }

    fn read_inner(&self, offset: i64, max_bytes: usize) -> Result<(FileSlice, usize), LogError> {
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(self.out_of_range(offset));
        }
        let mut i = self.segment_index_for(offset);
        let mut target = offset;
        while let Some(seg) = self.segments.get(i) {
            let found = seg
                .find_batch(target)
                .map_err(|e| LogError::io("read", &self.dir, e))?;
            if let Some((pos, h)) = found {
                let end = seg
                    .read_end(pos, h.total_len() as u64, max_bytes)
                    .map_err(|e| LogError::io("read", &self.dir, e))?;
                let slice = FileSlice {
                    file: Some(seg.file().map_err(|e| LogError::io("read", &self.dir, e))?),
                    position: pos,
                    len: usize::try_from(end - pos).unwrap_or(usize::MAX),
                    failure: self.log_dir.clone(),
                };
                return Ok((slice, i));
            }
            // `offset` is past this segment's batches (a gap): continue with the next one.
            i += 1;
            if let Some(next) = self.segments.get(i) {
                target = next.base_offset();
            }
        }
        let active = self.active();
        let slice = FileSlice {
            file: None,
            position: active.size(),
            len: 0,
            failure: self.log_dir.clone(),
        };
        Ok((slice, self.segments.len() - 1))
    }

    /// ListOffsets by timestamp: the first record at or after the log start offset whose
    /// timestamp is `>= ts`, as `(offset, timestamp)`; `None` if there is none. Found through the
    /// time index and then refined inside the batch (decompressing it if needed). I/O errors are
    /// logged and answered as `None`.
    pub fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        for seg in &self.segments {
            match seg.max_timestamp_and_offset() {
                Some((max, _)) if max >= ts => {}
                _ => continue,
            }
            let found = match seg.find_batch_by_timestamp(ts, self.log_start_offset) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(file = %seg.log_path().display(), error = %e, "timestamp lookup failed");
                    return None;
                }
            };
            if let Some((pos, h)) = found {
                let min = self.log_start_offset;
                let (offset, found_ts) = self
                    .refine(seg, pos, &h, ts, min)
                    .unwrap_or((h.base_offset.max(min), h.max_timestamp));
                return Some((offset, found_ts));
            }
        }
        None
    }

    /// ListOffsets -3 (MAX_TIMESTAMP): the first record with the largest timestamp in the log,
    /// as `(offset, timestamp)`; `None` if no batch carries a timestamp.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        let mut best: Option<(i64, i64, usize)> = None;
        for (i, seg) in self.segments.iter().enumerate() {
            if let Some((ts, off)) = seg.max_timestamp_and_offset() {
                if best.is_none_or(|(b, _, _)| ts > b) {
                    best = Some((ts, off, i));
                }
            }
        }
        let (ts, offset, i) = best?;
        let seg = &self.segments[i];
        let refined = match seg.find_batch(offset) {
            Ok(Some((pos, h))) => self.refine(seg, pos, &h, ts, i64::MIN),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(file = %seg.log_path().display(), error = %e, "max timestamp lookup failed");
                None
            }
        };
        Some(refined.unwrap_or((offset, ts)))
    }

    /// The first record of the batch at `pos` at or after `min_offset` with a timestamp `>= ts`.
    fn refine(
        &self,
        seg: &LogSegment,
        pos: u64,
        h: &BatchHeader,
        ts: i64,
        min_offset: i64,
    ) -> Option<(i64, i64)> {
        match seg.read_batch_at(pos, h) {
            Ok(bytes) => crate::record::reader::find_record_by_timestamp(
                &bytes,
                ts,
                min_offset,
                crate::record::validate::DEFAULT_MAX_UNCOMPRESSED_BYTES,
            ),
            Err(e) => {
                tracing::warn!(file = %seg.log_path().display(), error = %e, "cannot read batch");
                None
            }
        }
    }

    /// OffsetForLeaderEpoch: `(epoch, end offset)` with Kafka's semantics (see
    /// [`LeaderEpochCache::end_offset_for`]).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.epochs.end_offset_for(epoch, self.log_end_offset)
    }

    /// The latest leader epoch that appended to this log, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    /// DeleteRecords: moves the log start offset to `offset` (which must be within
    /// `[0, high watermark]`, else [`LogError::OffsetOutOfRange`]), persists it, and deletes the
    /// segments wholly below it. Returns the new log start offset (unchanged if `offset` is not
    /// beyond it).
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        self.guarded(|log| log.delete_records_inner(offset))
    }

    fn delete_records_inner(&mut self, offset: i64) -> Result<i64, LogError> {
        if offset < 0 || offset > self.high_watermark() {
            return Err(self.out_of_range(offset));
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        self.set_log_start_offset(offset)?;
        let mut k = 0;
        while k + 1 < self.segments.len() && self.segments[k + 1].base_offset() <= offset {
            k += 1;
        }
        self.remove_oldest_segments(k);
        Ok(self.log_start_offset)
    }

    /// Time- and size-based retention (Kafka's `deleteRetentionMsBreachedSegments` and
    /// `deleteRetentionSizeBreachedSegments`): deletes, oldest first, segments whose largest
    /// timestamp is more than `retention.ms` before `now_ms`, then segments while the log is
    /// larger than `retention.bytes`. The active segment is only deleted when non-empty and
    /// everything else goes too, after rolling a new empty one. Returns the segments deleted.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        self.guarded(|log| log.apply_retention_inner(now_ms))
    }

    fn apply_retention_inner(&mut self, now_ms: i64) -> Result<usize, LogError> {
        let n = self.segments.len();
        let eligible = |i: usize, seg: &LogSegment| i + 1 < n || !seg.is_empty();
        let mut k = 0;
        if self.config.retention_ms >= 0 {
            while let Some(seg) = self.segments.get(k) {
                let expired =
                    now_ms.saturating_sub(seg.largest_timestamp()) > self.config.retention_ms;
                if !expired || !eligible(k, seg) {
                    break;
                }
                k += 1;
            }
        }
        if self.config.retention_bytes >= 0 {
            let remaining: u64 = self.segments[k..].iter().map(LogSegment::size).sum();
            let mut diff = i128::from(remaining) - i128::from(self.config.retention_bytes);
            while let Some(seg) = self.segments.get(k) {
                let size = i128::from(seg.size());
                if diff - size < 0 || !eligible(k, seg) {
                    break;
                }
                diff -= size;
                k += 1;
            }
        }
        if k == 0 {
            return Ok(0);
        }
        if k == n {
            self.roll(now_ms)?;
        }
        let new_start = self.segments[k].base_offset().max(self.log_start_offset);
        if new_start > self.log_start_offset {
            self.set_log_start_offset(new_start)?;
        }
        self.remove_oldest_segments(k);
        Ok(k)
    }

    /// Fsyncs every segment written since the last flush, writes dirty indexes and the leader
    /// epoch checkpoint, then moves the recovery point to the log end offset.
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.guarded(Self::flush_inner)
    }

    pub(super) fn flush_inner(&mut self) -> Result<(), LogError> {
        for seg in &mut self.segments {
            seg.flush()
                .map_err(|e| LogError::io("flush", &self.dir, e))?;
        }
        self.epochs
            .write_if_dirty(self.log_dir.fs(), &self.dir)
            .map_err(|e| LogError::io("write leader epoch checkpoint", &self.dir, e))?;
        if self.checkpointed_recovery_point != Some(self.log_end_offset) {
            checkpoint::write_offset(
                self.log_dir.fs(),
                &self.dir,
                RECOVERY_POINT_FILE,
                self.log_end_offset,
            )
            .map_err(|e| LogError::io("write recovery point", &self.dir, e))?;
            self.checkpointed_recovery_point = Some(self.log_end_offset);
        }
        self.recovery_point = self.log_end_offset;
        self.last_flush_ms = self.log_dir.clock().now_ms();
        Ok(())
    }

    /// Flushes if `flush.ms` has passed since the last flush and there is unflushed data; for a
    /// periodic task. Returns whether it flushed.
    pub fn maybe_flush(&mut self, now_ms: i64) -> Result<bool, LogError> {
        let due = self.config.flush_ms >= 0
            && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms
            && self.log_end_offset > self.recovery_point;
        if due {
            self.flush()?;
        }
        Ok(due)
    }

    /// Flushes everything before shutdown, and snapshots the producer state so the next open
    /// replays nothing. A log that has never seen a producer id takes no snapshot here: the one
    /// written at the last roll bounds the next open's replay to the active segment's batch
    /// headers, and a clean stop of thousands of partitions saves a file, an fsync and a
    /// directory fsync each. The caller writes the clean-shutdown marker after every log closed
    /// successfully. The log stays usable.
    pub fn close(&mut self) -> Result<(), LogError> {
        self.guarded(|log| {
            log.flush_inner()?;
            if log.producers.is_empty() && !log.producers.is_dirty() {
                return Ok(());
            }
            log.snapshot_producers()
        })
    }

    /// Runs a mutating operation: refused with [`LogError::LogDirOffline`] once the log
    /// directory is offline, and any I/O error it hits takes the directory offline (Kafka's
    /// `LogDirFailureChannel`), so no later write lands after a failed one.
    pub(super) fn guarded<T>(
        &mut self,
        op: impl FnOnce(&mut Self) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        self.check_online()?;
        let r = op(self);
        if let Err(e @ LogError::Io { .. }) = &r {
            self.log_dir.mark_offline(e);
        }
        r
    }

    /// `Err(LogError::LogDirOffline)` if the log directory is offline (for ListOffsets and
    /// other reads of in-memory state that Kafka refuses on an offline replica).
    /// Also [`LogError::Deleted`] once the topic was deleted.
    pub fn check_online(&self) -> Result<(), LogError> {
        if self.deleted {
            return Err(LogError::Deleted {
                path: self.dir.clone(),
            });
        }
        self.log_dir.check_online()
    }

    /// Marks the log deleted (topic deletion, before its directory is removed): every later
    /// call fails with [`LogError::Deleted`].
    pub fn mark_deleted(&mut self) {
        self.deleted = true;
    }

    /// Judges `headers` against the producer state: `Some` with the original batch if the
    /// append is a retry of one already stored, an error if a producer is fenced or out of
    /// sequence. Several batches from one producer in one append are judged in order.
    fn check_producers(
        &self,
        headers: &[BatchHeader],
    ) -> Result<Option<super::producer_state::BatchMetadata>, LogError> {
        if !headers.iter().any(BatchHeader::has_producer_id) {
            return Ok(None);
        }
        if let [h] = headers {
            return match self.producers.check(h)? {
                Check::Duplicate(dup) => Ok(Some(dup)),
                Check::Append => Ok(None),
            };
        }
        let mut tentative = self.producers.clone();
        let mut next = self.log_end_offset;
        for h in headers {
            if let Check::Duplicate(dup) = tentative.check(h)? {
                return Ok(Some(dup));
            }
            tentative.update(h, next);
            next += i64::from(h.last_offset_delta) + 1;
        }
        Ok(None)
    }

    /// Writes a producer-state snapshot at the log end offset unless the newest one already
    /// covers it (also when there are no producers: the snapshot then says "nothing to replay
    /// before here"). An empty log needs none: there is nothing to replay.
    fn snapshot_producers(&mut self) -> Result<(), LogError> {
        let empty = self.log_end_offset == self.log_start_offset && self.producers.is_empty();
        if !empty
            && (self.producers.is_dirty() || self.producer_snapshot_offset != self.log_end_offset)
        {
            self.producers
                .write_snapshot(self.log_dir.fs(), &self.dir, self.log_end_offset)
                .map_err(|e| LogError::io("write producer snapshot", &self.dir, e))?;
            self.producer_snapshot_offset = self.log_end_offset;
        }
        Ok(())
    }

    /// Forgets producers idle for longer than `producer.id.expiration.ms`.
    pub fn expire_producers(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        self.producers.expire(now_ms, expiration_ms)
    }

    /// The idempotent-producer state (tests, DescribeProducers later).
    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producers
    }

    /// Batches replayed into the producer state when the log was opened.
    pub fn producer_replayed_batches(&self) -> usize {
        self.producer_replayed_batches
    }

    /// Deletes the partition directory (topic deletion). Readers holding file slices can finish.
    pub fn delete_dir(self) -> Result<(), LogError> {
        let dir = self.dir.clone();
        let log_dir = Arc::clone(&self.log_dir);
        drop(self);
        log_dir
            .fs()
            .remove_dir_all(&dir)
            .map_err(|e| LogError::io("delete log directory", &dir, e))
    }

    /// Replaces the settings (AlterConfigs). Takes effect for the next append or retention run.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// Current settings.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// First readable offset.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// Offset below which records are committed; the log end offset with a single replica.
    pub fn high_watermark(&self) -> i64 {
        self.log_end_offset
    }

    /// Offset below which everything is fsynced.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Total bytes of all segments (DescribeLogDirs).
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(LogSegment::size).sum()
    }

    /// Number of segments, including the active one.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.iter().map(LogSegment::base_offset).collect()
    }

    fn active(&self) -> &LogSegment {
        // `segments` is never empty (see `open` and `apply_retention`).
        &self.segments[self.segments.len() - 1]
    }

    fn active_mut(&mut self) -> &mut LogSegment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    /// Index of the last segment whose base offset is `<= offset` (0 if none).
    pub(super) fn segment_index_for(&self, offset: i64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1)
    }

    /// `segment.ms`, or `max.compaction.lag.ms` if sooner on a compacted log (Kafka's
    /// `LogConfig.maxSegmentMs`): the active segment is never cleaned, so it must roll.
    fn effective_segment_ms(&self) -> i64 {
        if self.config.compact && self.config.max_compaction_lag_ms > 0 {
            self.config
                .segment_ms
                .min(self.config.max_compaction_lag_ms)
        } else {
            self.config.segment_ms
        }
    }

    /// `segment.bytes`, capped so positions fit the index's 32 bits.
    fn effective_segment_bytes(&self) -> u64 {
        self.config.segment_bytes.min(i32::MAX as u64)
    }

    fn out_of_range(&self, offset: i64) -> LogError {
        LogError::OffsetOutOfRange {
            offset,
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
        }
    }

    /// Starts a new active segment at the log end offset.
    fn roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        let leo = self.log_end_offset;
        let dir = self.dir.clone();
        let old = self.active_mut();
        old.on_roll()
            .map_err(|e| LogError::io("write indexes on roll", &dir, e))?;
        // fsync the rolled segment off the append path, as Kafka's scheduler does: a
        // synchronous fsync of up to segment.bytes of dirty pages would stall this partition's
        // produces. The recovery point is not moved, so a crash still rescans it; a failure
        // takes the log directory offline like any other I/O error.
        let (rolled, fs, rolled_path) = old
            .sync_handle()
            .map_err(|e| LogError::io("roll segment", &dir, e))?;
        let log_dir = Arc::clone(&self.log_dir);
        std::thread::spawn(move || {
            if let Err(e) = fs.sync(&rolled_path, &rolled) {
                let e = LogError::io("fsync rolled segment", rolled_path, e);
                log_dir.mark_offline(&e);
            }
        });
        let seg = LogSegment::create(
            self.log_dir.fs_arc(),
            self.log_dir.files(),
            &dir,
            leo,
            now_ms,
        )
        .map_err(|e| LogError::io("roll segment", &dir, e))?;
        tracing::debug!(dir = %dir.display(), base_offset = leo, "rolled new segment");
        self.segments.push(seg);
        self.snapshot_producers()
    }

    /// Rolls the active segment now (tests of retention across segments).
    #[cfg(test)]
    pub(crate) fn roll_for_test(&mut self, now_ms: i64) {
        self.roll(now_ms).expect("roll");
    }

    /// Persists then adopts a new log start offset.
    fn set_log_start_offset(&mut self, offset: i64) -> Result<(), LogError> {
        checkpoint::write_offset(self.log_dir.fs(), &self.dir, LOG_START_OFFSET_FILE, offset)
            .map_err(|e| LogError::io("write log start offset", &self.dir, e))?;
        self.log_start_offset = offset;
        self.epochs.truncate_from_start(offset);
        self.epochs
            .write_if_dirty(self.log_dir.fs(), &self.dir)
            .map_err(|e| LogError::io("write leader epoch checkpoint", &self.dir, e))
    }

    /// Drops the `k` oldest segments (never the last one) and deletes their files. A file
    /// that cannot be deleted takes the log directory offline, as any I/O error; it lies below
    /// the persisted log start offset, so the next open deletes it.
    fn remove_oldest_segments(&mut self, k: usize) {
        let k = k.min(self.segments.len() - 1);
        for seg in self.segments.drain(..k) {
            tracing::info!(file = %seg.log_path().display(), "deleting segment");
            let txn_index = super::txn_index::path(&self.dir, seg.base_offset());
            let deleted = seg
                .delete_files()
                .and_then(|()| self.log_dir.fs().remove_file(&txn_index));
            if let Err(e) = deleted {
                let e = LogError::io("delete segment", &self.dir, e);
                self.log_dir.mark_offline(&e);
            }
        }
        let start = self.segments[0].base_offset();
        self.txn_index.truncate_before(start);
    }
}
