//! Building v2 record batches byte by byte: records from their fields, a batch around an
//! (optionally compressed) records section with its length and CRC computed. Every header field
//! is the caller's, so the same code writes the broker's own batches and, in tests, batches that
//! lie about their contents on purpose.

use super::batch::{BATCH_HEADER_LEN, LOG_OVERHEAD, MAGIC_V2};

/// One record's fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordFields<'a> {
    /// From the batch's base timestamp.
    pub timestamp_delta: i64,
    /// From the batch's base offset.
    pub offset_delta: i32,
    /// `None` = null key.
    pub key: Option<&'a [u8]>,
    /// `None` = null value (a tombstone).
    pub value: Option<&'a [u8]>,
    /// Header keys and values.
    pub headers: &'a [(&'a [u8], Option<&'a [u8]>)],
}

fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_unsigned(out, ((v << 1) ^ (v >> 31)) as u32);
}

fn put_unsigned(out: &mut Vec<u8>, mut z: u32) {
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, i32::try_from(b.len()).unwrap_or(i32::MAX));
            out.extend_from_slice(b);
        }
    }
}

/// Appends one record (length prefix included) to `out`.
pub fn put_record(out: &mut Vec<u8>, r: &RecordFields<'_>) {
    let mut body =
        Vec::with_capacity(16 + r.key.map_or(0, <[u8]>::len) + r.value.map_or(0, <[u8]>::len));
    body.push(0); // attributes
    put_varlong(&mut body, r.timestamp_delta);
    put_varint(&mut body, r.offset_delta);
    put_bytes(&mut body, r.key);
    put_bytes(&mut body, r.value);
    put_varint(
        &mut body,
        i32::try_from(r.headers.len()).unwrap_or(i32::MAX),
    );
    for (k, v) in r.headers {
        put_bytes(&mut body, Some(k));
        put_bytes(&mut body, *v);
    }
    put_varint(out, i32::try_from(body.len()).unwrap_or(i32::MAX));
    out.extend_from_slice(&body);
}

/// A zigzag varint as bytes (for tests that splice records by hand).
pub fn varint(v: i32) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, v);
    out
}

/// The header fields of a batch to build. `Default` is an uncompressed CreateTime batch at
/// offset 0 with no producer.
#[derive(Debug, Clone, Copy)]
pub struct BatchFields {
    /// `baseOffset`.
    pub base_offset: i64,
    /// `partitionLeaderEpoch`.
    pub partition_leader_epoch: i32,
    /// `attributes` (codec, timestamp type, transactional, control bits).
    pub attributes: i16,
    /// `lastOffsetDelta`.
    pub last_offset_delta: i32,
    /// `baseTimestamp`.
    pub base_timestamp: i64,
    /// `maxTimestamp`.
    pub max_timestamp: i64,
    /// `producerId`.
    pub producer_id: i64,
    /// `producerEpoch`.
    pub producer_epoch: i16,
    /// `baseSequence`.
    pub base_sequence: i32,
    /// `recordsCount`.
    pub records_count: i32,
}

impl Default for BatchFields {
    fn default() -> Self {
        BatchFields {
            base_offset: 0,
            partition_leader_epoch: -1,
            attributes: 0,
            last_offset_delta: 0,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records_count: 1,
        }
    }
}

/// A whole batch: `fields` as the header, `records` (already compressed if the attributes say
/// so) as the body, with `batchLength` and the CRC-32C computed.
pub fn build_batch(fields: &BatchFields, records: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(BATCH_HEADER_LEN + records.len());
    b.extend_from_slice(&fields.base_offset.to_be_bytes());
    let length = (BATCH_HEADER_LEN - LOG_OVERHEAD + records.len()) as i32;
    b.extend_from_slice(&length.to_be_bytes());
    b.extend_from_slice(&fields.partition_leader_epoch.to_be_bytes());
    b.push(MAGIC_V2 as u8);
    b.extend_from_slice(&[0; 4]); // CRC, below
    b.extend_from_slice(&fields.attributes.to_be_bytes());
    b.extend_from_slice(&fields.last_offset_delta.to_be_bytes());
    b.extend_from_slice(&fields.base_timestamp.to_be_bytes());
    b.extend_from_slice(&fields.max_timestamp.to_be_bytes());
    b.extend_from_slice(&fields.producer_id.to_be_bytes());
    b.extend_from_slice(&fields.producer_epoch.to_be_bytes());
    b.extend_from_slice(&fields.base_sequence.to_be_bytes());
    b.extend_from_slice(&fields.records_count.to_be_bytes());
    b.extend_from_slice(records);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// An uncompressed batch of `records` numbered from 0, with timestamps `base_timestamp +
/// timestamp_delta` and the header's count, deltas and max timestamp consistent with them.
pub fn simple_batch(base_timestamp: i64, records: &[RecordFields<'_>]) -> Vec<u8> {
    let mut section = Vec::new();
    let mut max_delta = 0i64;
    for (i, r) in records.iter().enumerate() {
        let r = RecordFields {
            offset_delta: i as i32,
            ..*r
        };
        max_delta = max_delta.max(r.timestamp_delta);
        put_record(&mut section, &r);
    }
    let n = records.len() as i32;
    build_batch(
        &BatchFields {
            base_timestamp,
            max_timestamp: base_timestamp + max_delta,
            last_offset_delta: n - 1,
            records_count: n,
            ..BatchFields::default()
        },
        &section,
    )
}
