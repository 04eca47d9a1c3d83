//! What the cleaner keeps of each batch (Kafka's `LogCleaner.RecordFilter`,
//! `CleanedTransactionMetadata` and `MemoryRecords.filterTo`), as functions of the batch, the
//! offset map, the transactions seen so far and the time: no I/O.
//!
//! - A data record is kept if it is past the map (the map did not reach it), or if it has a key
//!   and no later offset for that key is in the map, and it has a value or is a tombstone whose
//!   batch's delete horizon has not passed. Keyless records are removed (compacted topics refuse
//!   them on produce).
//! - A batch of an aborted transaction is removed whole; its ABORT marker stays (and keeps its
//!   entry in the aborted-transaction index) while the pass saw any of its batches, then is
//!   removed like a tombstone. A COMMIT marker whose transaction left no batch in the group is
//!   removed the same way: first stamped with a delete horizon, gone in a pass after it.
//! - A batch kept whole and needing no horizon is copied byte for byte. Otherwise it is rebuilt
//!   with the same base offset, last offset delta, producer id, epoch, base sequence, leader
//!   epoch, codec and flags (KIP-534's delete horizon in the base timestamp when set).
//! - A batch that loses every record but is the last of a producer still in the producer state
//!   is kept as an empty batch (no records), so that producer's sequence and epoch survive.

use std::collections::{HashMap, HashSet, VecDeque};

use super::offset_map::OffsetMap;
use crate::log::txn_index::AbortedTxn;
use crate::record::batch::{BatchHeader, DELETE_HORIZON_BIT};
use crate::record::builder::{build_batch, put_record, BatchFields, RecordFields};
use crate::record::codec;
use crate::record::control;
use crate::record::reader::{ReadError, RecordReader, Want};

/// What the producer state says of a producer still known to the log when the pass began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastRecord {
    /// Last offset of its last data batch, if it has one.
    pub last_data_offset: Option<i64>,
    /// Its current epoch.
    pub epoch: i16,
}

/// The transactions a pass goes through (Kafka's `CleanedTransactionMetadata`).
#[derive(Debug, Default)]
pub struct TxnTracker {
    /// Aborted transactions not reached yet, by first offset.
    aborted: VecDeque<AbortedTxn>,
    /// Producers inside a committed transaction whose batches were seen.
    ongoing_committed: HashSet<i64>,
    /// Producers inside an aborted transaction: the entry, and whether a batch of it was seen.
    ongoing_aborted: HashMap<i64, (AbortedTxn, bool)>,
    /// Index entries of the ABORT markers kept (for the cleaned segment's `.txnindex`).
    pub kept_aborts: Vec<AbortedTxn>,
}

impl TxnTracker {
    /// A tracker over the aborted transactions that overlap what is read.
    pub fn new(mut aborted: Vec<AbortedTxn>) -> TxnTracker {
        aborted.sort_by_key(|a| a.first_offset);
        TxnTracker {
            aborted: aborted.into(),
            ..TxnTracker::default()
        }
    }

    fn consume_up_to(&mut self, offset: i64) {
        while self
            .aborted
            .front()
            .is_some_and(|a| a.first_offset <= offset)
        {
            if let Some(a) = self.aborted.pop_front() {
                self.ongoing_aborted
                    .entry(a.producer_id)
                    .or_insert((a, false));
            }
        }
    }

    /// A data batch: whether it belongs to an aborted transaction (and is to be removed).
    pub fn on_batch(&mut self, h: &BatchHeader) -> bool {
        self.consume_up_to(h.last_offset());
        if !h.is_transactional() {
            return false;
        }
        match self.ongoing_aborted.get_mut(&h.producer_id) {
            Some((_, seen)) => {
                *seen = true;
                true
            }
            None => {
                self.ongoing_committed.insert(h.producer_id);
                false
            }
        }
    }

    /// A control batch with its marker (`Some(true)` COMMIT): whether the marker may be removed
    /// (its transaction has no batch left in what was read).
    pub fn on_control(&mut self, h: &BatchHeader, marker: Option<bool>) -> bool {
        self.consume_up_to(h.last_offset());
        match marker {
            Some(false) => match self.ongoing_aborted.remove(&h.producer_id) {
                Some((entry, true)) => {
                    self.kept_aborts.push(entry);
                    false
                }
                _ => true,
            },
            Some(true) => !self.ongoing_committed.remove(&h.producer_id),
            None => false,
        }
    }
}

/// The pass's fixed inputs.
#[derive(Debug)]
pub struct FilterContext<'a> {
    /// Key -> latest offset of the dirty part.
    pub map: &'a OffsetMap,
    /// The cleaner's clock.
    pub now_ms: i64,
    /// `delete.retention.ms`.
    pub delete_retention_ms: i64,
    /// Producers the producer state knows.
    pub producers: &'a HashMap<i64, LastRecord>,
    /// Most bytes a compressed batch may decompress to (what produce validation allowed).
    pub decompress_limit: u64,
}

/// What to write for one batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Kept {
    /// Nothing.
    Nothing,
    /// The batch as stored.
    Original,
    /// A rebuilt batch (fewer records, an empty batch, or a delete horizon stamped).
    Rebuilt(Vec<u8>),
}

/// The decision for one batch, with its counts.
#[derive(Debug, PartialEq, Eq)]
pub struct Filtered {
    /// What to write.
    pub kept: Kept,
    /// Records read.
    pub records_read: u64,
    /// Records kept.
    pub records_kept: u64,
    /// The delete horizon the written batch carries, if any (the cleaner comes back then).
    pub delete_horizon_ms: Option<i64>,
}

/// One record kept, owned (the reader's buffer is reused).
struct Owned {
    offset_delta: i32,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Decides what of `batch` (whole, header `h`) to keep; see the module documentation.
pub fn filter_batch(
    batch: &[u8],
    h: &BatchHeader,
    ctx: &FilterContext<'_>,
    txns: &mut TxnTracker,
) -> Result<Filtered, ReadError> {
    let control = h.is_control();
    let can_discard = if control {
        let marker = control::read_marker(batch, h).map(|(commit, _)| commit);
        txns.on_control(h, marker)
    } else {
        txns.on_batch(h)
    };
    let horizon = h.delete_horizon_ms();
    let discard_records = if control {
        can_discard && horizon.is_some_and(|t| t <= ctx.now_ms)
    } else {
        can_discard
    };
    let last_of_producer = h.has_producer_id()
        && ctx
            .producers
            .get(&h.producer_id)
            .is_some_and(|l| match l.last_data_offset {
                Some(o) => h.last_offset() == o,
                None => control && h.producer_epoch == l.epoch,
            });
    let declared = u64::try_from(h.records_count.max(0)).unwrap_or(0);
    let nothing = |kept| Filtered {
        kept,
        records_read: declared,
        records_kept: 0,
        delete_horizon_ms: None,
    };
    if discard_records && !last_of_producer {
        return Ok(nothing(Kept::Nothing));
    }

    let mut reader = RecordReader::new(batch, h, ctx.decompress_limit)?;
    let mut kept: Vec<Owned> = Vec::new();
    let mut read = 0u64;
    let mut tombstones = false;
    while let Some(r) = reader.next_record(Want::Data)? {
        read += 1;
        let offset = h.base_offset + i64::from(r.offset_delta);
        let keep = if discard_records {
            false
        } else if control || offset > ctx.map.latest_offset() {
            true
        } else {
            match reader.key() {
                None => false,
                Some(key) => {
                    let latest = ctx.map.get(key).is_none_or(|o| offset >= o);
                    let live = reader.value().is_some() || horizon.is_none_or(|t| ctx.now_ms < t);
                    latest && live
                }
            }
        };
        if !keep {
            continue;
        }
        tombstones |= !control && reader.value().is_none();
        kept.push(Owned {
            offset_delta: r.offset_delta,
            timestamp: h.base_timestamp.wrapping_add(r.timestamp_delta),
            key: reader.key().map(<[u8]>::to_vec),
            value: reader.value().map(<[u8]>::to_vec),
            headers: reader
                .headers()
                .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
                .collect(),
        });
    }
    let records_kept = kept.len() as u64;
    let filtered = |kept, delete_horizon_ms| Filtered {
        kept,
        records_read: read,
        records_kept,
        delete_horizon_ms,
    };
    if kept.is_empty() {
        return Ok(if last_of_producer {
            filtered(Kept::Rebuilt(empty_batch(h)), None)
        } else {
            filtered(Kept::Nothing, None)
        });
    }
    let set_horizon = (tombstones || (control && can_discard)) && horizon.is_none();
    if records_kept == read && !set_horizon {
        return Ok(filtered(Kept::Original, horizon));
    }
    let new_horizon = if set_horizon {
        Some(ctx.now_ms.saturating_add(ctx.delete_retention_ms))
    } else {
        horizon
    };
    let rebuilt = rebuild(h, &kept, new_horizon).map_err(|e| ReadError::Decompression {
        codec: codec::name(h.compression()),
        reason: format!("cannot compress the cleaned batch: {e}"),
    })?;
    Ok(filtered(Kept::Rebuilt(rebuilt), new_horizon))
}

/// The batch with only `kept`, as Kafka's `buildRetainedRecordsInto`.
fn rebuild(h: &BatchHeader, kept: &[Owned], horizon: Option<i64>) -> std::io::Result<Vec<u8>> {
    let base_timestamp = horizon.unwrap_or(kept[0].timestamp);
    let mut section = Vec::new();
    let mut max_timestamp = i64::MIN;
    for r in kept {
        let headers: Vec<(&[u8], Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
            .collect();
        put_record(
            &mut section,
            &RecordFields {
                timestamp_delta: r.timestamp.wrapping_sub(base_timestamp),
                offset_delta: r.offset_delta,
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                headers: &headers,
            },
        );
        max_timestamp = max_timestamp.max(r.timestamp);
    }
    let section = codec::encode(h.compression(), &section)?;
    let mut attributes = h.attributes;
    if horizon.is_some() {
        attributes |= DELETE_HORIZON_BIT;
    }
    Ok(build_batch(
        &BatchFields {
            base_offset: h.base_offset,
            partition_leader_epoch: h.partition_leader_epoch,
            attributes,
            last_offset_delta: h.last_offset_delta,
            base_timestamp,
            max_timestamp: if h.timestamp_type_log_append() {
                h.max_timestamp
            } else {
                max_timestamp
            },
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
            records_count: kept.len() as i32,
        },
        &section,
    ))
}

/// A batch with no records that keeps `h`'s offsets and producer fields (Kafka's
/// `DefaultRecordBatch.writeEmptyHeader`).
fn empty_batch(h: &BatchHeader) -> Vec<u8> {
    const KEEP: i16 = crate::record::batch::TRANSACTIONAL_BIT
        | crate::record::batch::CONTROL_BIT
        | crate::record::batch::TIMESTAMP_TYPE_BIT;
    build_batch(
        &BatchFields {
            base_offset: h.base_offset,
            partition_leader_epoch: h.partition_leader_epoch,
            attributes: h.attributes & KEEP,
            last_offset_delta: h.last_offset_delta,
            base_timestamp: h.max_timestamp,
            max_timestamp: h.max_timestamp,
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
            records_count: 0,
        },
        &[],
    )
}
