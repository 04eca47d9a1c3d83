//! Transactions on a [`PartitionLog`]: markers appended by the transaction coordinator, the last
//! stable offset, and what a read_committed fetch may see (Kafka's `UnifiedLog` LSO handling and
//! `collectAbortedTransactions`).
//!
//! - The **last stable offset** (LSO) is the first offset of the oldest open transaction, or the
//!   high watermark if none is open. It only moves forward: a transaction opens at the log end.
//! - An ABORT marker adds the transaction's range to the aborted-transaction index, in the
//!   `.txnindex` file of the segment it lands in, replaced atomically before the append is
//!   answered.
//! - [`PartitionLog::read_committed`] returns whole batches below the LSO and the offset just
//!   past them, so the aborted transactions listed are exactly those overlapping the range.

use super::error::LogError;
use super::partition_log::{AppendInfo, PartitionLog};
use super::txn_index::AbortedTxn;
use crate::record::batch::{self, BatchHeader};
use crate::record::control::ControlMarker;
use crate::record::FileSlice;

/// A read_committed read: the bytes and the aborted transactions they overlap.
#[derive(Debug)]
pub struct CommittedRead {
    /// Whole batches below the LSO.
    pub slice: FileSlice,
    /// Aborted transactions overlapping them, as (producer id, first offset).
    pub aborted: Vec<(i64, i64)>,
}

impl PartitionLog {
    /// Appends a transaction marker for `marker`'s producer (the coordinator's call; clients
    /// cannot write control batches). Its epoch is checked like any batch's: a marker older
    /// than the producer's epoch here is refused with INVALID_PRODUCER_EPOCH.
    pub fn append_marker(
        &mut self,
        marker: &ControlMarker,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let buf = marker.batch(now_ms);
        let headers = batch::frame_batches(&buf)
            .map_err(|_| LogError::InvalidAppend("marker batch failed its own check"))?;
        self.guarded(|log| {
            let m = (marker.commit, marker.coordinator_epoch);
            log.append_inner(&buf, &headers, leader_epoch, now_ms, Some(m))
        })
    }

    /// Starts the verification of a transactional batch of `producer_id` (KIP-890): the token
    /// [`Self::append_verified`] must still find. A producer with a guard already (batches in
    /// flight for the same transaction) shares it; a marker removes it.
    pub fn begin_verification(&mut self, producer_id: i64) -> u64 {
        let next = &mut self.next_verification;
        *self.verifications.entry(producer_id).or_insert_with(|| {
            *next += 1;
            *next
        })
    }

    /// A verification that failed: its guard goes (if no other batch took it meanwhile, the
    /// next one starts afresh).
    pub fn end_verification(&mut self, producer_id: i64, token: u64) {
        if self.verifications.get(&producer_id) == Some(&token) {
            self.verifications.remove(&producer_id);
        }
    }

    /// [`Self::append`] of a transactional batch verified with `token`: refused with
    /// [`LogError::NotVerified`] if a marker ended the producer's transaction here since the
    /// verification began (the check and the write under the same lock, so a batch delayed past
    /// its transaction's end cannot open a transaction no coordinator knows).
    pub fn append_verified(
        &mut self,
        batches: &[u8],
        headers: &[BatchHeader],
        leader_epoch: i32,
        now_ms: i64,
        (producer_id, token): (i64, u64),
    ) -> Result<AppendInfo, LogError> {
        self.guarded(|log| {
            if log.verifications.get(&producer_id) != Some(&token) {
                return Err(LogError::NotVerified { producer_id });
            }
            log.append_inner(batches, headers, leader_epoch, now_ms, None)
        })
    }

    /// The first offset a read_committed consumer may not see yet.
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        self.producers
            .first_unstable_offset()
            .map_or(hw, |first| first.clamp(self.log_start_offset, hw))
    }

    /// The aborted-transaction index.
    pub fn aborted_transactions(&self) -> &[AbortedTxn] {
        self.txn_index.entries()
    }

    /// Open transactions in this partition, as (producer id, first offset), oldest first.
    pub fn open_transactions(&self) -> Vec<(i64, i64)> {
        self.producers.ongoing().collect()
    }

    /// A read_committed fetch at `offset`: as [`PartitionLog::read`], but never at or past the
    /// last stable offset, with the aborted transactions overlapping what is returned.
    pub fn read_committed(&self, offset: i64, max_bytes: usize) -> Result<CommittedRead, LogError> {
        let lso = self.last_stable_offset();
        let (slice, i) = self.read_located(offset, max_bytes)?;
        let empty = |slice: FileSlice| FileSlice {
            len: 0,
            file: None,
            ..slice
        };
        if slice.len == 0 || offset >= lso {
            return Ok(CommittedRead {
                slice: empty(slice),
                aborted: Vec::new(),
            });
        }
        // The segment the slice came from (a later one than `offset`'s when `offset` is in a
        // gap the cleaner left), and where the LSO's batch starts in it.
        let io = |e| LogError::io("read", &self.dir, e);
        let Some(seg) = self.segments.get(i) else {
            return Ok(CommittedRead {
                slice: empty(slice),
                aborted: Vec::new(),
            });
        };
        let mut end = slice.position + slice.len as u64;
        if lso < seg.next_offset() {
            if let Some((pos, h)) = seg.find_batch(lso).map_err(io)? {
                if h.base_offset >= lso {
                    end = end.min(pos);
                }
            }
        }
        let len = usize::try_from(end.saturating_sub(slice.position)).unwrap_or(0);
        if len == 0 {
            return Ok(CommittedRead {
                slice: empty(slice),
                aborted: Vec::new(),
            });
        }
        // The offset just past the returned batches bounds the aborted list.
        let upper = match seg.read_header_at(end).map_err(io)? {
            Some(h) => h.base_offset,
            None => seg.next_offset(),
        }
        .min(lso);
        let aborted = self.txn_index.overlapping(offset, upper);
        Ok(CommittedRead {
            slice: FileSlice { len, ..slice },
            aborted,
        })
    }

    /// Applies a marker just written at `offset` to the producer state and, for an ABORT that
    /// ended a transaction, to the aborted-transaction index of the active segment.
    pub(super) fn apply_marker(
        &mut self,
        h: &BatchHeader,
        offset: i64,
        (commit, coordinator_epoch): (bool, i32),
    ) -> Result<(), LogError> {
        self.verifications.remove(&h.producer_id);
        let ended = self
            .producers
            .complete_txn(h, offset, commit, coordinator_epoch);
        let Some((first, last)) = ended else {
            return Ok(());
        };
        let entry = AbortedTxn {
            producer_id: h.producer_id,
            first_offset: first,
            last_offset: last,
            last_stable_offset: self.last_stable_offset(),
        };
        if self.txn_index.add(entry) {
            let base = self.segments[self.segments.len() - 1].base_offset();
            self.txn_index
                .write_segment(self.log_dir.fs(), &self.dir, base, None)
                .map_err(|e| LogError::io("write transaction index", &self.dir, e))?;
        }
        Ok(())
    }
}
