//! A zero-copy view of Kafka record batches (magic v2), their validation on produce, and the few
//! in-place rewrites the broker makes before storing them. No I/O, no state.
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
//! Each uncompressed record starts with its body length as a zigzag varint, so the records of an
//! uncompressed batch can be walked without decoding them.
//!
//! The produce path calls [`validate_batches`] on a partition's records outside any lock and hands
//! the headers to the log, which assigns offsets with [`set_base_offset`] and friends.

use kafka_protocol::records::RecordBatchDecoder;
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
const MAX_TIMESTAMP_AT: usize = 35;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;

/// Highest compression codec id Kafka defines (zstd).
const MAX_COMPRESSION_CODE: u8 = 4;

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
    /// The records of an uncompressed batch do not match its header: a record length runs past the
    /// batch, the count is wrong, or bytes are left over (Kafka's "Invalid record size" /
    /// "Incorrect declared batch size").
    #[error("batch at byte {position}: {reason}")]
    InvalidRecords {
        /// Start of the batch within the buffer.
        position: usize,
        /// What did not add up.
        reason: &'static str,
    },
    /// A record length varint longer than 5 bytes.
    #[error("batch at byte {position}: malformed record length varint")]
    MalformedVarint {
        /// Start of the batch within the buffer.
        position: usize,
    },
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
            | BatchError::InvalidRecords { .. } => ResponseError::InvalidRecord,
            BatchError::Empty
            | BatchError::Truncated { .. }
            | BatchError::InvalidLength { .. }
            | BatchError::InvalidMagic { .. }
            | BatchError::CrcMismatch { .. }
            | BatchError::UnknownCompression { .. }
            | BatchError::MalformedVarint { .. } => ResponseError::CorruptMessage,
        }
    }
}

/// The fixed header of one v2 record batch, copied out of the bytes (61 bytes, so `Copy` is
/// cheaper than borrowing). Parsing does not validate anything; see [`check_batch`] and
/// [`validate_batches`].
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
/// recovery checks for every stored batch; [`validate_batches`] adds the produce-time rules.
pub fn check_batch(buf: &[u8], position: usize) -> Result<BatchHeader, BatchError> {
    let header = check_frame(buf, position)?;
    check_crc(buf, &header, position)?;
    Ok(header)
}

/// Length and magic of the batch at the start of `buf`, without the CRC.
fn check_frame(buf: &[u8], position: usize) -> Result<BatchHeader, BatchError> {
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

fn check_crc(buf: &[u8], header: &BatchHeader, position: usize) -> Result<(), BatchError> {
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

/// Validates the records of one produce partition: one or more v2 batches back to back, as a
/// client sent them. Returns their headers in order. Follows Kafka's `LogValidator` for
/// `AppendOrigin.CLIENT`: framing, size limit, CRC, base offset 0, record count consistent with
/// the offset delta, no control batches, a sequence with every producer id, and for
/// uncompressed batches record lengths that exactly fill the batch.
///
/// Trailing bytes that do not form a whole batch are rejected (Kafka silently drops them; a
/// client never sends them, so they indicate a broken frame).
pub fn validate_batches(
    buf: &[u8],
    max_batch_bytes: usize,
) -> Result<Vec<BatchHeader>, BatchError> {
    if buf.is_empty() {
        return Err(BatchError::Empty);
    }
    let mut headers = Vec::with_capacity(1);
    let mut position = 0;
    while position < buf.len() {
        let rest = &buf[position..];
        let header = check_frame(rest, position)?;
        let size = header.total_len();
        if size > max_batch_bytes {
            return Err(BatchError::TooLarge {
                position,
                size,
                max: max_batch_bytes,
            });
        }
        check_crc(rest, &header, position)?;
        check_client_rules(&header, position)?;
        if header.compression() == 0 {
            walk_records(
                &rest[BATCH_HEADER_LEN..size],
                header.records_count,
                position,
            )?;
        }
        headers.push(header);
        position += size;
    }
    Ok(headers)
}

fn check_client_rules(h: &BatchHeader, position: usize) -> Result<(), BatchError> {
    if h.compression() > MAX_COMPRESSION_CODE {
        return Err(BatchError::UnknownCompression {
            position,
            codec: h.compression(),
        });
    }
    if h.base_offset != 0 {
        return Err(BatchError::NonZeroBaseOffset {
            position,
            base_offset: h.base_offset,
        });
    }
    if h.records_count < 1 || i64::from(h.records_count) != i64::from(h.last_offset_delta) + 1 {
        return Err(BatchError::InvalidRecordCount {
            position,
            count: h.records_count,
            last_offset_delta: h.last_offset_delta,
        });
    }
    if h.is_control() {
        return Err(BatchError::ControlBatch { position });
    }
    if h.has_producer_id() && h.base_sequence < 0 {
        return Err(BatchError::InvalidSequence {
            position,
            producer_id: h.producer_id,
            base_sequence: h.base_sequence,
        });
    }
    Ok(())
}

/// Walks the length prefixes of `count` uncompressed records filling `records` exactly.
fn walk_records(records: &[u8], count: i32, position: usize) -> Result<(), BatchError> {
    let mut at = 0usize;
    for _ in 0..count {
        if at >= records.len() {
            return Err(BatchError::InvalidRecords {
                position,
                reason: "fewer records than the declared count",
            });
        }
        let (len, used) =
            read_varint(&records[at..]).ok_or(BatchError::MalformedVarint { position })?;
        at += used;
        let len = usize::try_from(len).map_err(|_| BatchError::InvalidRecords {
            position,
            reason: "negative record size",
        })?;
        if len > records.len() - at {
            return Err(BatchError::InvalidRecords {
                position,
                reason: "record size runs past the end of the batch",
            });
        }
        at += len;
    }
    if at != records.len() {
        return Err(BatchError::InvalidRecords {
            position,
            reason: "incorrect declared batch size, records still remaining",
        });
    }
    Ok(())
}

/// Decodes a zigzag varint (at most 5 bytes, like Kafka's `ByteUtils.readVarint`). Returns the
/// value and the bytes used; `None` if truncated or too long.
fn read_varint(buf: &[u8]) -> Option<(i32, usize)> {
    let (raw, used) = read_unsigned_varint(buf, 5)?;
    let raw = raw as u32;
    Some((((raw >> 1) as i32) ^ -((raw & 1) as i32), used))
}

/// Decodes a zigzag varlong (at most 10 bytes).
fn read_varlong(buf: &[u8]) -> Option<(i64, usize)> {
    let (raw, used) = read_unsigned_varint(buf, 10)?;
    Some((((raw >> 1) as i64) ^ -((raw & 1) as i64), used))
}

fn read_unsigned_varint(buf: &[u8], max_bytes: usize) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in buf.iter().take(max_bytes).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Finds the first record of a stored batch at or after `min_offset` whose timestamp is
/// `>= target`, returning its offset and timestamp (Kafka's `LogSegment.findOffsetByTimestamp`
/// at record level). LogAppendTime batches give every record `maxTimestamp`; uncompressed
/// batches are walked in place; compressed ones are decoded. `None` if no record qualifies or
/// the batch cannot be decoded.
pub fn find_record_by_timestamp(batch: &[u8], target: i64, min_offset: i64) -> Option<(i64, i64)> {
    let h = BatchHeader::parse(batch)?;
    let batch = batch.get(..h.total_len())?;
    if h.timestamp_type_log_append() {
        let offset = h.base_offset.max(min_offset);
        return (h.max_timestamp >= target && offset <= h.last_offset())
            .then_some((offset, h.max_timestamp));
    }
    if h.compression() == 0 {
        let mut at = BATCH_HEADER_LEN;
        for _ in 0..h.records_count {
            let (len, used) = read_varint(batch.get(at..)?)?;
            let body_start = at + used;
            let body = batch.get(body_start..body_start + usize::try_from(len).ok()?)?;
            // body: attributes i8, timestampDelta varlong, offsetDelta varint, ...
            let (ts_delta, used) = read_varlong(body.get(1..)?)?;
            let (offset_delta, _) = read_varint(body.get(1 + used..)?)?;
            let ts = h.base_timestamp.saturating_add(ts_delta);
            let offset = h.base_offset.saturating_add(i64::from(offset_delta));
            if ts >= target && offset >= min_offset {
                return Some((offset, ts));
            }
            at = body_start + body.len();
        }
        return None;
    }
    let mut bytes = bytes::Bytes::copy_from_slice(batch);
    let set = RecordBatchDecoder::decode(&mut bytes).ok()?;
    set.records
        .iter()
        .find(|r| r.timestamp >= target && r.offset >= min_offset)
        .map(|r| (r.offset, r.timestamp))
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
/// be whole (as returned by [`validate_batches`]); otherwise it is left unchanged.
pub fn set_log_append_time(batch: &mut [u8], ts: i64) {
    let Some(h) = BatchHeader::parse(batch) else {
        return;
    };
    let total = h.total_len();
    if total < BATCH_HEADER_LEN || batch.len() < total {
        return;
    }
    let (head, body) = batch[..total].split_at_mut(BATCH_HEADER_LEN);
    set_log_append_time_split(head, body, ts);
}

/// [`set_log_append_time`] for a batch held in two pieces: `head`, its first
/// [`BATCH_HEADER_LEN`] bytes, and `body`, the rest. Only `head` changes, so the log can stamp a
/// batch it writes from the request buffer without copying it. Left unchanged unless the
/// pieces make one whole batch.
pub fn set_log_append_time_split(head: &mut [u8], body: &[u8], ts: i64) {
    let Some(h) = BatchHeader::parse(head) else {
        return;
    };
    if head.len() != BATCH_HEADER_LEN || h.total_len() != BATCH_HEADER_LEN + body.len() {
        return;
    }
    let attributes = h.attributes | TIMESTAMP_TYPE_BIT;
    head[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    head[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&ts.to_be_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&head[ATTRIBUTES_AT..]), body);
    head[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
        NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
    };

    fn record(offset: i64, ts: i64, value: &str) -> Record {
        Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            timestamp_type: TimestampType::Creation,
            offset,
            // offset - sequence must be constant for the encoder to keep records in one batch.
            sequence: offset as i32 + NO_SEQUENCE,
            timestamp: ts,
            key: Some(Bytes::from(format!("k{offset}"))),
            value: Some(Bytes::from(value.to_string())),
            headers: Default::default(),
        }
    }

    fn encode(records: &[Record], compression: Compression) -> Vec<u8> {
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            records,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .expect("encode");
        buf.to_vec()
    }

    fn batch(n: i64, compression: Compression) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
            .map(|i| record(i, 1_000 + i, &format!("value-{i}")))
            .collect();
        encode(&records, compression)
    }

    /// Overwrites a header field and fixes the CRC, to test the checks after the CRC.
    fn patch(buf: &mut [u8], at: usize, bytes: &[u8]) {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
        let total = BatchHeader::parse(buf).unwrap().total_len();
        let crc = crc32c::crc32c(&buf[ATTRIBUTES_AT..total]);
        buf[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    }

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn valid_batches_in_every_compression() {
        for c in ALL {
            let b = batch(5, c);
            let headers = validate_batches(&b, 1 << 20).unwrap();
            assert_eq!(headers.len(), 1, "{c:?}");
            let h = headers[0];
            assert_eq!(h.records_count, 5);
            assert_eq!(h.last_offset_delta, 4);
            assert_eq!(h.compression(), c as u8);
            assert_eq!(h.total_len(), b.len());
            assert_eq!(h.base_timestamp, 1_000);
            assert_eq!(h.max_timestamp, 1_004);
            assert!(!h.is_control() && !h.is_transactional() && !h.has_producer_id());
            assert!(!h.timestamp_type_log_append());
        }
    }

    #[test]
    fn several_batches_back_to_back() {
        let mut buf = batch(3, Compression::None);
        buf.extend(batch(2, Compression::Gzip));
        buf.extend(batch(1, Compression::None));
        let headers = validate_batches(&buf, 1 << 20).unwrap();
        let counts: Vec<i32> = headers.iter().map(|h| h.records_count).collect();
        assert_eq!(counts, [3, 2, 1]);
    }

    #[test]
    fn empty_and_truncated() {
        assert_eq!(validate_batches(&[], 100).unwrap_err(), BatchError::Empty);
        let b = batch(3, Compression::None);
        for cut in [1, 11, 12, 40, 61, b.len() - 1] {
            let e = validate_batches(&b[..cut], 1 << 20).unwrap_err();
            assert_eq!(e.code(), ResponseError::CorruptMessage, "cut {cut}: {e}");
        }
        // A whole batch followed by a partial one.
        let mut two = b.clone();
        two.extend_from_slice(&b[..30]);
        let e = validate_batches(&two, 1 << 20).unwrap_err();
        assert!(matches!(e, BatchError::Truncated { position, .. } if position == b.len()));
    }

    #[test]
    fn flipped_byte_is_corrupt() {
        let b = batch(3, Compression::Snappy);
        for at in [ATTRIBUTES_AT, 30, 60, b.len() - 1] {
            let mut bad = b.clone();
            bad[at] ^= 0x40;
            let e = validate_batches(&bad, 1 << 20).unwrap_err();
            assert_eq!(e.code(), ResponseError::CorruptMessage, "at {at}: {e}");
        }
    }

    #[test]
    fn bad_length() {
        let mut b = batch(1, Compression::None);
        b[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&10i32.to_be_bytes());
        assert!(matches!(
            validate_batches(&b, 1 << 20),
            Err(BatchError::InvalidLength { length: 10, .. })
        ));
        b[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(validate_batches(&b, 1 << 20).is_err());
        b[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            validate_batches(&b, usize::MAX),
            Err(BatchError::Truncated { .. })
        ));
    }

    #[test]
    fn legacy_magic_is_unsupported() {
        let mut b = batch(1, Compression::None);
        b[MAGIC_AT] = 1;
        let e = validate_batches(&b, 1 << 20).unwrap_err();
        assert_eq!(e.code(), ResponseError::UnsupportedForMessageFormat);
        b[MAGIC_AT] = 0;
        assert_eq!(
            validate_batches(&b, 1 << 20).unwrap_err().code(),
            ResponseError::UnsupportedForMessageFormat
        );
        // A real v1 message: offset, size 22, crc, magic 1, attributes, timestamp, null key and
        // empty value; shorter than any v2 batch.
        let mut v1 = vec![0u8; 8];
        v1.extend_from_slice(&22i32.to_be_bytes());
        v1.extend_from_slice(&[0, 0, 0, 0, 1, 0]);
        v1.extend_from_slice(&[0; 8]);
        v1.extend_from_slice(&(-1i32).to_be_bytes());
        v1.extend_from_slice(&0i32.to_be_bytes());
        assert!(matches!(
            validate_batches(&v1, 1 << 20),
            Err(BatchError::UnsupportedMagic { magic: 1, .. })
        ));
        b[MAGIC_AT] = 7;
        assert_eq!(
            validate_batches(&b, 1 << 20).unwrap_err().code(),
            ResponseError::CorruptMessage
        );
    }

    #[test]
    fn too_large() {
        let b = batch(10, Compression::None);
        let e = validate_batches(&b, b.len() - 1).unwrap_err();
        assert_eq!(e.code(), ResponseError::MessageTooLarge);
        assert!(validate_batches(&b, b.len()).is_ok());
    }

    #[test]
    fn count_mismatch_is_invalid_record() {
        let mut b = batch(3, Compression::None);
        patch(&mut b, 57, &4i32.to_be_bytes());
        let e = validate_batches(&b, 1 << 20).unwrap_err();
        assert!(matches!(e, BatchError::InvalidRecordCount { count: 4, .. }));
        assert_eq!(e.code(), ResponseError::InvalidRecord);

        let mut b = batch(3, Compression::Lz4);
        patch(&mut b, 57, &0i32.to_be_bytes());
        patch(&mut b, 23, &(-1i32).to_be_bytes());
        assert_eq!(
            validate_batches(&b, 1 << 20).unwrap_err().code(),
            ResponseError::InvalidRecord
        );
    }

    #[test]
    fn uncompressed_record_walk() {
        // Count and offset delta agree but the records do not: 3 records declared as 2.
        let mut b = batch(3, Compression::None);
        patch(&mut b, 57, &2i32.to_be_bytes());
        patch(&mut b, 23, &1i32.to_be_bytes());
        let e = validate_batches(&b, 1 << 20).unwrap_err();
        assert!(matches!(e, BatchError::InvalidRecords { .. }), "{e}");
        assert_eq!(e.code(), ResponseError::InvalidRecord);

        // Declared 4 records, only 3 present.
        let mut b = batch(3, Compression::None);
        patch(&mut b, 57, &4i32.to_be_bytes());
        patch(&mut b, 23, &3i32.to_be_bytes());
        assert!(matches!(
            validate_batches(&b, 1 << 20),
            Err(BatchError::InvalidRecords { .. })
        ));

        // First record's length varint made huge.
        let mut b = batch(3, Compression::None);
        patch(&mut b, BATCH_HEADER_LEN, &[0x7e]);
        assert!(matches!(
            validate_batches(&b, 1 << 20),
            Err(BatchError::InvalidRecords { .. })
        ));
    }

    #[test]
    fn control_and_base_offset_and_sequence() {
        let mut b = batch(1, Compression::None);
        patch(&mut b, ATTRIBUTES_AT, &CONTROL_BIT.to_be_bytes());
        assert!(matches!(
            validate_batches(&b, 1 << 20),
            Err(BatchError::ControlBatch { .. })
        ));

        let mut b = batch(1, Compression::None);
        set_base_offset(&mut b, 42);
        assert_eq!(
            validate_batches(&b, 1 << 20).unwrap_err().code(),
            ResponseError::InvalidRecord
        );

        let mut b = batch(1, Compression::None);
        patch(&mut b, 43, &7i64.to_be_bytes());
        assert!(matches!(
            validate_batches(&b, 1 << 20),
            Err(BatchError::InvalidSequence { producer_id: 7, .. })
        ));
        patch(&mut b, 53, &0i32.to_be_bytes());
        assert!(validate_batches(&b, 1 << 20).unwrap()[0].has_producer_id());
    }

    #[test]
    fn rewrite_base_offset_and_epoch_keeps_crc() {
        for c in ALL {
            let mut b = batch(4, c);
            set_base_offset(&mut b, 1_000);
            set_partition_leader_epoch(&mut b, 9);
            let h = check_batch(&b, 0).unwrap();
            assert_eq!(
                (h.base_offset, h.last_offset(), h.next_offset()),
                (1_000, 1_003, 1_004)
            );
            assert_eq!(h.partition_leader_epoch, 9);
            let set = RecordBatchDecoder::decode(&mut Bytes::from(b)).unwrap();
            let offsets: Vec<i64> = set.records.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, [1_000, 1_001, 1_002, 1_003], "{c:?}");
            assert!(set.records.iter().all(|r| r.partition_leader_epoch == 9));
        }
    }

    #[test]
    fn log_append_time_rewrite_keeps_crc() {
        for c in [Compression::None, Compression::Zstd] {
            let mut b = batch(3, c);
            set_log_append_time(&mut b, 77_777);
            let h = validate_batches(&b, 1 << 20).unwrap()[0];
            assert!(h.timestamp_type_log_append());
            assert_eq!(h.max_timestamp, 77_777);
            assert_eq!(h.compression(), c as u8);
            let set = RecordBatchDecoder::decode(&mut Bytes::from(b)).unwrap();
            assert_eq!(set.records[0].timestamp_type, TimestampType::LogAppend);
        }
        // Short buffers are left alone rather than panicking.
        let mut short = [0u8; 10];
        set_log_append_time(&mut short, 1);
        set_base_offset(&mut short[..4], 1);
        assert_eq!(short, [0u8; 10]);
    }

    #[test]
    fn find_record_by_timestamp_in_batches() {
        for c in [Compression::None, Compression::Gzip] {
            let records: Vec<Record> = [100, 300, 200, 400]
                .iter()
                .enumerate()
                .map(|(i, &ts)| record(i as i64, ts, "v"))
                .collect();
            let mut b = encode(&records, c);
            set_base_offset(&mut b, 50);
            assert_eq!(find_record_by_timestamp(&b, 0, 0), Some((50, 100)), "{c:?}");
            assert_eq!(find_record_by_timestamp(&b, 150, 0), Some((51, 300)));
            assert_eq!(find_record_by_timestamp(&b, 301, 0), Some((53, 400)));
            assert_eq!(find_record_by_timestamp(&b, 401, 0), None);
            assert_eq!(find_record_by_timestamp(&b, 0, 52), Some((52, 200)));
            assert_eq!(find_record_by_timestamp(&b, 0, 54), None);
            set_log_append_time(&mut b, 999);
            assert_eq!(find_record_by_timestamp(&b, 500, 0), Some((50, 999)));
            assert_eq!(find_record_by_timestamp(&b, 500, 52), Some((52, 999)));
            assert_eq!(find_record_by_timestamp(&b, 500, 54), None);
        }
    }

    #[test]
    fn varints() {
        assert_eq!(read_varint(&[0x00]), Some((0, 1)));
        assert_eq!(read_varint(&[0x01]), Some((-1, 1)));
        assert_eq!(read_varint(&[0x02]), Some((1, 1)));
        assert_eq!(read_varint(&[0xac, 0x02]), Some((150, 2)));
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
            Some((i32::MIN, 5))
        );
        assert_eq!(read_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), None);
        assert_eq!(read_varint(&[0x80]), None);
        assert_eq!(read_varlong(&[0x03]), Some((-2, 1)));
    }
}
