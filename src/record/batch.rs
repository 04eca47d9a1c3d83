//! A zero-copy view of Kafka record batches (magic v2): the fixed header, framing and CRC checks,
//! and the few in-place header rewrites the broker makes before storing a batch. No I/O, no
//! state.
//!
//! # Layout (big-endian, as in Kafka's `DefaultRecordBatch`)
//!
//! ```text
//! @0  baseOffset            i64   rewritten by the broker; not covered by the CRC
//! @8  batchLength           i32   bytes after this field: total size = 12 + batchLength
//! @12 partitionLeaderEpoch  i32   rewritten by the broker; not covered by the CRC
//! @16 magic                 i8    always 2 here
//! @17 crc                   u32   CRC-32C of bytes @21 .. end of batch
//! @21 attributes            i16   bits 0-2 compression, 3 timestamp type (1 = LogAppendTime),
//!                                 4 transactional, 5 control, 6 delete horizon
//! @23 lastOffsetDelta       i32
//! @27 baseTimestamp         i64
//! @35 maxTimestamp          i64
//! @43 producerId            i64
//! @51 producerEpoch         i16
//! @53 baseSequence          i32
//! @57 recordsCount          i32
//! @61 records               (compressed as a whole when the codec is not 0)
//! ```
//!
//! The records themselves are walked by [`super::reader`]; the produce path validates a batch
//! with [`super::validate`] outside any lock and hands its header to the log, which assigns
//! offsets with [`set_base_offset`] and friends.

use kafka_protocol::ResponseError;

/// Size of the fixed batch header, up to and including `recordsCount`.
pub const BATCH_HEADER_LEN: usize = 61;

/// Bytes before the part counted by `batchLength`: `baseOffset` and `batchLength` themselves
/// (Kafka's `LOG_OVERHEAD`).
pub const LOG_OVERHEAD: usize = 12;

/// The smallest legal `batchLength`: a header with no records.
pub const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;

/// The only record format Gregor accepts and stores.
pub const MAGIC_V2: i8 = 2;

const BASE_OFFSET_AT: usize = 0;
const LENGTH_AT: usize = 8;
const LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
/// First byte covered by the CRC.
const ATTRIBUTES_AT: usize = 21;
/// First byte covered by the CRC (the attributes), for callers that check it in pieces.
pub const CRC_COVERED_FROM: usize = ATTRIBUTES_AT;
const MAX_TIMESTAMP_AT: usize = 35;

const COMPRESSION_MASK: i16 = 0x07;
pub(crate) const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
/// Attribute bit of a transactional batch.
pub const TRANSACTIONAL_BIT: i16 = 1 << 4;
/// Attribute bit of a control batch (transaction markers).
pub const CONTROL_BIT: i16 = 1 << 5;
/// Attribute bit: `baseTimestamp` holds the batch's delete horizon (KIP-534), set by the log
/// cleaner on batches with tombstones or markers it may remove once that time has passed.
pub const DELETE_HORIZON_BIT: i16 = 1 << 6;

/// Highest compression codec id Kafka defines (zstd).
pub(crate) const MAX_COMPRESSION_CODE: u8 = 4;

/// Why a produce partition's records were rejected. Each variant maps to the error code Kafka's
/// `LogValidator` / `UnifiedLog.analyzeAndValidateRecords` would answer with ([`Self::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The partition carried no bytes at all.
    #[error("no records in the produce partition")]
    Empty,
    /// The buffer ends inside a batch (or inside the 12-byte length prefix).
    #[error("truncated batch at byte {position}: {needed} bytes needed, {available} available")]
    Truncated {
        /// Start of the incomplete batch within the buffer.
        position: usize,
        /// Bytes the batch claims (or at least needs).
        needed: usize,
        /// Bytes left in the buffer from `position`.
        available: usize,
    },
    /// `batchLength` is smaller than a batch header.
    #[error("invalid batch length {length} at byte {position} (minimum {MIN_BATCH_LENGTH})")]
    InvalidLength {
        /// Start of the batch within the buffer.
        position: usize,
        /// The declared `batchLength`.
        length: i32,
    },
    /// A legacy message set (magic 0 or 1): Gregor only stores v2 batches.
    #[error("message format v{magic} at byte {position} is not supported (only v2)")]
    UnsupportedMagic {
        /// Start of the batch within the buffer.
        position: usize,
        /// The magic byte found.
        magic: i8,
    },
    /// A magic byte that no Kafka version ever wrote.
    #[error("invalid magic byte {magic} at byte {position}")]
    InvalidMagic {
        /// Start of the batch within the buffer.
        position: usize,
        /// The magic byte found.
        magic: i8,
    },
    /// The stored CRC does not match the bytes.
    #[error("CRC mismatch at byte {position}: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// Start of the batch within the buffer.
        position: usize,
        /// CRC found in the header.
        stored: u32,
        /// CRC-32C of the bytes.
        computed: u32,
    },
    /// Compression codec id outside 0..=4.
    #[error("unknown compression codec {codec} at byte {position}")]
    UnknownCompression {
        /// Start of the batch within the buffer.
        position: usize,
        /// The codec id from the attributes.
        codec: u8,
    },
    /// A batch larger than `max.message.bytes`.
    #[error("batch of {size} bytes at byte {position} exceeds the maximum of {max} bytes")]
    TooLarge {
        /// Start of the batch within the buffer.
        position: usize,
        /// Total size of the batch.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// Kafka requires clients to send batches with base offset 0.
    #[error("batch at byte {position} has base offset {base_offset}, clients must send 0")]
    NonZeroBaseOffset {
        /// Start of the batch within the buffer.
        position: usize,
        /// The offending base offset.
        base_offset: i64,
    },
    /// `recordsCount` < 1, or it disagrees with `lastOffsetDelta + 1`.
    #[error(
        "batch at byte {position}: record count {count} is inconsistent with last offset delta \
         {last_offset_delta}"
    )]
    InvalidRecordCount {
        /// Start of the batch within the buffer.
        position: usize,
        /// The declared `recordsCount`.
        count: i32,
        /// The declared `lastOffsetDelta`.
        last_offset_delta: i32,
    },
    /// Only the broker (transaction coordinator) writes control batches.
    #[error("batch at byte {position}: clients may not write control records")]
    ControlBatch {
        /// Start of the batch within the buffer.
        position: usize,
    },
    /// An idempotent batch (producer id set) without a sequence number.
    #[error(
        "batch at byte {position}: producer id {producer_id} with invalid sequence {base_sequence}"
    )]
    InvalidSequence {
        /// Start of the batch within the buffer.
        position: usize,
        /// The batch's producer id.
        producer_id: i64,
        /// The batch's base sequence.
        base_sequence: i32,
    },
    /// Kafka allows one batch per partition in a produce request (magic v2).
    #[error("batch at byte {position}: a produce partition must hold exactly one record batch")]
    MultipleBatches {
        /// Start of the second batch.
        position: usize,
    },
    /// The records do not match the header, or a length inside a record does not fit it
    /// (Kafka's `InvalidRecordException` from the record iterator).
    #[error("{reason}")]
    Records {
        /// What did not add up.
        reason: String,
    },
    /// The compressed payload does not decompress.
    #[error("{reason}")]
    Decompression {
        /// The decoder's complaint.
        reason: String,
    },
    /// The payload decompresses to more than the broker's limit.
    #[error("{reason}")]
    UncompressedTooLarge {
        /// Which codec and limit.
        reason: String,
    },
    /// Single records were refused (Kafka's `RecordValidationException`): keyless records on
    /// a compacted topic, timestamps out of range. Answered with `record_errors` from Produce v8.
    #[error("{message}")]
    RecordErrors {
        /// INVALID_RECORD or INVALID_TIMESTAMP.
        code: ResponseError,
        /// The response's `error_message`.
        message: String,
        /// The refused records: index in the batch and why (at most [`MAX_RECORD_ERRORS`]).
        errors: Vec<RecordError>,
    },
}

/// The most record errors one response carries; the message still counts them all.
pub const MAX_RECORD_ERRORS: usize = 100;

/// One refused record (Produce v8 `record_errors` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The record's index in its batch.
    pub batch_index: i32,
    /// Why.
    pub message: String,
}

impl BatchError {
    /// The Kafka error code for a produce response partition.
    pub fn code(&self) -> ResponseError {
        match self {
            BatchError::UnsupportedMagic { .. } => ResponseError::UnsupportedForMessageFormat,
            BatchError::TooLarge { .. } => ResponseError::MessageTooLarge,
            BatchError::NonZeroBaseOffset { .. }
            | BatchError::InvalidRecordCount { .. }
            | BatchError::ControlBatch { .. }
            | BatchError::InvalidSequence { .. }
            | BatchError::MultipleBatches { .. }
            | BatchError::Empty
            | BatchError::Records { .. } => ResponseError::InvalidRecord,
            // Kafka 4.4 answers a batch over max.decompressed.message.bytes with INVALID_RECORD.
            BatchError::UncompressedTooLarge { .. } => ResponseError::InvalidRecord,
            BatchError::RecordErrors { code, .. } => *code,
            BatchError::Truncated { .. }
            | BatchError::InvalidLength { .. }
            | BatchError::InvalidMagic { .. }
            | BatchError::CrcMismatch { .. } => ResponseError::CorruptMessage,
            // Kafka 4.4 answers these with UNKNOWN_SERVER_ERROR (its decompressor's
            // KafkaException), checked against the reference broker.
            BatchError::UnknownCompression { .. } | BatchError::Decompression { .. } => {
                ResponseError::UnknownServerError
            }
        }
    }

    /// Whether the refusal comes from the bytes alone, before the partition's log is asked
    /// (framing, CRC, size, batch count): Kafka then answers without the log start offset.
    pub fn before_log(&self) -> bool {
        matches!(
            self,
            BatchError::Empty
                | BatchError::Truncated { .. }
                | BatchError::InvalidLength { .. }
                | BatchError::InvalidMagic { .. }
                | BatchError::UnsupportedMagic { .. }
                | BatchError::CrcMismatch { .. }
                | BatchError::TooLarge { .. }
                | BatchError::MultipleBatches { .. }
        )
    }
}

/// The fixed header of one v2 record batch, copied out of the bytes (61 bytes, so `Copy` is
/// cheaper than borrowing). Parsing does not validate anything; see [`check_batch`] and
/// [`super::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record; 0 from clients, assigned by the log.
    pub base_offset: i64,
    /// Bytes after the length field; the whole batch is `12 + batch_length` bytes.
    pub batch_length: i32,
    /// Leader epoch stamped by the broker at append; OffsetForLeaderEpoch is built from it.
    pub partition_leader_epoch: i32,
    /// Record format version; 2 for everything Gregor stores.
    pub magic: i8,
    /// CRC-32C over the bytes from the attributes to the end of the batch.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control flags.
    pub attributes: i16,
    /// `last offset - base offset`; with `records_count` it fixes the offsets the batch takes.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (CreateTime).
    pub base_timestamp: i64,
    /// Largest record timestamp, or the append time for LogAppendTime; drives the time index
    /// and retention.
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, -1 if none.
    pub producer_id: i64,
    /// Epoch of that producer id.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Reads the header at the start of `buf`; `None` if fewer than [`BATCH_HEADER_LEN`] bytes.
    pub fn parse(buf: &[u8]) -> Option<BatchHeader> {
        let b = buf.get(..BATCH_HEADER_LEN)?;
        Some(BatchHeader {
            base_offset: be_i64(b, BASE_OFFSET_AT),
            batch_length: be_i32(b, LENGTH_AT),
            partition_leader_epoch: be_i32(b, LEADER_EPOCH_AT),
            magic: b[MAGIC_AT] as i8,
            crc: be_i32(b, CRC_AT) as u32,
            attributes: be_i16(b, ATTRIBUTES_AT),
            last_offset_delta: be_i32(b, 23),
            base_timestamp: be_i64(b, 27),
            max_timestamp: be_i64(b, MAX_TIMESTAMP_AT),
            producer_id: be_i64(b, 43),
            producer_epoch: be_i16(b, 51),
            base_sequence: be_i32(b, 53),
            records_count: be_i32(b, 57),
        })
    }

    /// The delete horizon the log cleaner stamped on the batch (KIP-534), if any.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_BIT != 0).then_some(self.base_timestamp)
    }

    /// Size of the whole batch in bytes (`12 + batchLength`; a negative length counts as 0).
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + usize::try_from(self.batch_length).unwrap_or(0)
    }

    /// Offset of the last record (`base + lastOffsetDelta`).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset just after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// Compression codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> u8 {
        (self.attributes & COMPRESSION_MASK) as u8
    }

    /// Part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Holds transaction markers rather than data.
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// `maxTimestamp` is the broker's append time rather than the producer's CreateTime.
    pub fn timestamp_type_log_append(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    /// Written by an idempotent or transactional producer.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
}

/// Checks the framing and CRC of the batch at the start of `buf` (which may hold more bytes
/// after it): length, magic, CRC-32C. `position` is only used in errors. This is what log
/// recovery checks for every stored batch; [`super::validate`] adds the produce-time rules.
pub fn check_batch(buf: &[u8], position: usize) -> Result<BatchHeader, BatchError> {
    let header = check_frame(buf, position)?;
    check_crc(buf, &header, position)?;
    Ok(header)
}

/// Checks framing and CRC of every batch in `buf`, which must be whole batches back to back, and
/// returns their headers. For batches the broker builds itself (coordinator records); client
/// batches go through [`super::validate::validate_produce`].
pub fn frame_batches(buf: &[u8]) -> Result<Vec<BatchHeader>, BatchError> {
    if buf.is_empty() {
        return Err(BatchError::Empty);
    }
    let mut headers = Vec::new();
    let mut position = 0;
    while position < buf.len() {
        let h = check_batch(&buf[position..], position)?;
        position += h.total_len();
        headers.push(h);
    }
    Ok(headers)
}

/// Length and magic of the batch at the start of `buf`, without the CRC.
pub(crate) fn check_frame(buf: &[u8], position: usize) -> Result<BatchHeader, BatchError> {
    if buf.len() < LOG_OVERHEAD {
        return Err(BatchError::Truncated {
            position,
            needed: LOG_OVERHEAD,
            available: buf.len(),
        });
    }
    let length = be_i32(buf, LENGTH_AT);
    // Legacy message sets put their magic at the same place but may be shorter than a v2
    // header: name them for what they are rather than as corrupt.
    if let Some(&m) = buf.get(MAGIC_AT) {
        if m == 0 || m == 1 {
            return Err(BatchError::UnsupportedMagic {
                position,
                magic: m as i8,
            });
        }
    }
    if length < MIN_BATCH_LENGTH {
        return Err(BatchError::InvalidLength { position, length });
    }
    // `length` is positive here, so the cast is lossless.
    let needed = LOG_OVERHEAD + length as usize;
    if buf.len() < needed {
        return Err(BatchError::Truncated {
            position,
            needed,
            available: buf.len(),
        });
    }
    let header = match BatchHeader::parse(buf) {
        Some(h) => h,
        // Unreachable: needed >= BATCH_HEADER_LEN. Kept as an error rather than a panic.
        None => {
            return Err(BatchError::Truncated {
                position,
                needed,
                available: buf.len(),
            })
        }
    };
    match header.magic {
        MAGIC_V2 => {}
        0 | 1 => {
            return Err(BatchError::UnsupportedMagic {
                position,
                magic: header.magic,
            })
        }
        magic => return Err(BatchError::InvalidMagic { position, magic }),
    }
    Ok(header)
}

pub(crate) fn check_crc(
    buf: &[u8],
    header: &BatchHeader,
    position: usize,
) -> Result<(), BatchError> {
    let computed = crc32c::crc32c(&buf[ATTRIBUTES_AT..header.total_len()]);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            position,
            stored: header.crc,
            computed,
        });
    }
    Ok(())
}

/// Sets `baseOffset`. Not covered by the CRC, so no recomputation. Buffers shorter than a batch
/// header are left unchanged.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    if let Some(b) = batch.get_mut(BASE_OFFSET_AT..BASE_OFFSET_AT + 8) {
        b.copy_from_slice(&base_offset.to_be_bytes());
    }
}

/// Sets `partitionLeaderEpoch`. Not covered by the CRC. Buffers shorter than a batch header are
/// left unchanged.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    if let Some(b) = batch.get_mut(LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4) {
        b.copy_from_slice(&epoch.to_be_bytes());
    }
}

/// Marks the batch as LogAppendTime with `maxTimestamp = ts` and recomputes the CRC, as Kafka's
/// `LogValidator` does for topics with `message.timestamp.type=LogAppendTime` (record timestamps
/// are left alone: readers use `maxTimestamp` for every record of such a batch). The batch must
/// be whole; otherwise it is left unchanged.
pub fn set_log_append_time(batch: &mut [u8], ts: i64) {
    let Some(h) = BatchHeader::parse(batch) else {
        return;
    };
    let total = h.total_len();
    if total < BATCH_HEADER_LEN || batch.len() < total {
        return;
    }
    let (head, body) = batch[..total].split_at_mut(BATCH_HEADER_LEN);
    set_max_timestamp_split(head, body, true, ts);
}

/// Sets the timestamp type (LogAppendTime if `log_append_time`, else CreateTime) and
/// `maxTimestamp`, and recomputes the CRC (Kafka's `setMaxTimestamp`), for a batch held in two
/// pieces: `head`, its first [`BATCH_HEADER_LEN`] bytes, and `body`, the rest. Only `head`
/// changes, so the log can stamp a batch it writes from the request buffer without copying it.
/// Left unchanged unless the pieces make one whole batch.
pub fn set_max_timestamp_split(head: &mut [u8], body: &[u8], log_append_time: bool, ts: i64) {
    let Some(h) = BatchHeader::parse(head) else {
        return;
    };
    if head.len() != BATCH_HEADER_LEN || h.total_len() != BATCH_HEADER_LEN + body.len() {
        return;
    }
    let attributes = if log_append_time {
        h.attributes | TIMESTAMP_TYPE_BIT
    } else {
        h.attributes & !TIMESTAMP_TYPE_BIT
    };
    head[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    head[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&ts.to_be_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&head[ATTRIBUTES_AT..]), body);
    head[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::builder::{simple_batch, RecordFields};

    fn batch(n: usize) -> Vec<u8> {
        let records: Vec<RecordFields<'_>> = (0..n)
            .map(|i| RecordFields {
                timestamp_delta: i as i64,
                value: Some(b"value"),
                ..Default::default()
            })
            .collect();
        simple_batch(1_000, &records)
    }

    #[test]
    fn framing_and_crc() {
        let b = batch(3);
        let h = check_batch(&b, 0).unwrap();
        assert_eq!(
            (h.records_count, h.last_offset_delta, h.max_timestamp),
            (3, 2, 1_002)
        );
        for cut in [0, 11, 12, 40, 61, b.len() - 1] {
            let e = check_batch(&b[..cut], 0).unwrap_err();
            assert_eq!(e.code(), ResponseError::CorruptMessage, "cut {cut}: {e}");
        }
        let mut bad = b.clone();
        bad[30] ^= 0x40;
        assert!(matches!(
            check_batch(&bad, 0),
            Err(BatchError::CrcMismatch { .. })
        ));
        let mut short = b.clone();
        short[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&10i32.to_be_bytes());
        assert!(matches!(
            check_batch(&short, 0),
            Err(BatchError::InvalidLength { length: 10, .. })
        ));
        for magic in [0, 1] {
            let mut old = b.clone();
            old[MAGIC_AT] = magic;
            assert_eq!(
                check_batch(&old, 0).unwrap_err().code(),
                ResponseError::UnsupportedForMessageFormat
            );
        }
        let mut odd = b.clone();
        odd[MAGIC_AT] = 7;
        assert!(matches!(
            check_batch(&odd, 0),
            Err(BatchError::InvalidMagic { .. })
        ));
        let mut two = b.clone();
        two.extend(batch(2));
        let counts: Vec<i32> = frame_batches(&two)
            .unwrap()
            .iter()
            .map(|h| h.records_count)
            .collect();
        assert_eq!(counts, [3, 2]);
        assert_eq!(frame_batches(&[]).unwrap_err(), BatchError::Empty);
    }

    #[test]
    fn header_rewrites_keep_the_crc_valid() {
        let mut b = batch(4);
        set_base_offset(&mut b, 1_000);
        set_partition_leader_epoch(&mut b, 9);
        let h = check_batch(&b, 0).unwrap();
        assert_eq!(
            (h.base_offset, h.last_offset(), h.next_offset()),
            (1_000, 1_003, 1_004)
        );
        assert_eq!(h.partition_leader_epoch, 9);
        set_log_append_time(&mut b, 77_777);
        let h = check_batch(&b, 0).unwrap();
        assert!(h.timestamp_type_log_append());
        assert_eq!(h.max_timestamp, 77_777);
        let (head, body) = b.split_at_mut(BATCH_HEADER_LEN);
        set_max_timestamp_split(head, body, false, 5);
        let h = check_batch(&b, 0).unwrap();
        assert!(!h.timestamp_type_log_append());
        assert_eq!(h.max_timestamp, 5);
        // Short buffers are left alone rather than panicking.
        let mut short = [0u8; 10];
        set_log_append_time(&mut short, 1);
        set_base_offset(&mut short[..4], 1);
        assert_eq!(short, [0u8; 10]);
    }
}
