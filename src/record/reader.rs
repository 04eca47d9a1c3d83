//! Walking the records of one v2 batch, compressed or not, with bounded memory and every length
//! checked against the record that holds it (Kafka's `DefaultRecord.readFrom`).
//!
//! # Record layout (inside the batch's records section, decompressed)
//!
//! ```text
//! length          varint   bytes of the record after this field
//! attributes      int8     unused
//! timestampDelta  varlong  from the batch's baseTimestamp
//! offsetDelta     varint   from the batch's baseOffset
//! keyLength       varint   -1 = null key
//! key             bytes
//! valueLength     varint   -1 = null value (a tombstone)
//! value           bytes
//! headerCount     varint
//! headers         [headerKeyLength varint (>= 0), key, headerValueLength varint (-1 = null), value]
//! ```
//!
//! A [`RecordReader`] reads from the batch bytes themselves or from a streaming decompressor
//! ([`super::codec`]) through a fixed 16 KiB buffer. It allocates nothing from a length or count
//! it reads: key and value bytes are skipped unless the caller asks for them, and then they are
//! copied into one reusable buffer no larger than the record. The total of decompressed bytes is
//! capped by the caller's limit, so a decompression bomb stops there.

use std::io::Read;

use super::batch::{BatchHeader, BATCH_HEADER_LEN};
use super::codec;

/// What went wrong while walking the records. [`ReadError::Records`] is a batch whose records do
/// not match what it declares (Kafka's `InvalidRecordException`); the others are about the
/// compressed payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// A length, count or varint that does not fit the record or batch.
    #[error("{0}")]
    Records(String),
    /// The compressed payload does not decompress.
    #[error("cannot decompress the {codec} payload: {reason}")]
    Decompression {
        /// Codec name.
        codec: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The payload decompresses to more than the caller's limit.
    #[error("the {codec} payload decompresses to more than {limit} bytes")]
    TooLarge {
        /// Codec name.
        codec: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
}

fn invalid(msg: impl Into<String>) -> ReadError {
    ReadError::Records(msg.into())
}

/// How much of a record the caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Lengths and deltas only; key, value and header bytes are skipped.
    Meta,
    /// Key, value and headers too (copied into the reader's buffer).
    Data,
}

/// One record's fixed fields. Key and value are in [`RecordReader::key`] /
/// [`RecordReader::value`] when read with [`Want::Data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    /// Bytes of the record after its length varint.
    pub size: usize,
    /// The attributes byte (unused by Kafka for v2 records).
    pub attributes: i8,
    /// From the batch's base timestamp.
    pub timestamp_delta: i64,
    /// From the batch's base offset.
    pub offset_delta: i32,
    /// Key length, -1 for a null key.
    pub key_len: i32,
    /// Value length, -1 for a null value.
    pub value_len: i32,
    /// Number of headers.
    pub header_count: i32,
}

impl RecordMeta {
    /// Whether the record has a key (compacted topics require one).
    pub fn has_key(&self) -> bool {
        self.key_len >= 0
    }
}

const STREAM_BUFFER: usize = 16 * 1024;

/// Where a field's bytes lie in the reader's buffer: `start..end`.
type Span = (usize, usize);

/// Where the records section comes from: read byte by byte (varints) and in runs (keys,
/// values). Two implementations, so the per-byte path of each is monomorphised.
trait Source {
    /// The next byte; `None` at the end of the input.
    fn byte(&mut self) -> Result<Option<u8>, ReadError>;
    /// Moves `n` bytes past, appending them to `out` if given; false if the input ended first.
    fn take(&mut self, n: usize, out: Option<&mut Vec<u8>>) -> Result<bool, ReadError>;
    /// Whether any byte is left.
    fn has_more(&mut self) -> Result<bool, ReadError>;
}

/// The uncompressed section itself.
struct SliceInput<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Source for SliceInput<'_> {
    #[inline]
    fn byte(&mut self) -> Result<Option<u8>, ReadError> {
        let b = self.data.get(self.pos).copied();
        self.pos += usize::from(b.is_some());
        Ok(b)
    }

    fn take(&mut self, n: usize, out: Option<&mut Vec<u8>>) -> Result<bool, ReadError> {
        let Some(chunk) = self.data.get(self.pos..self.pos.saturating_add(n)) else {
            self.pos = self.data.len();
            return Ok(false);
        };
        self.pos += n;
        if let Some(o) = out {
            o.extend_from_slice(chunk);
        }
        Ok(true)
    }

    fn has_more(&mut self) -> Result<bool, ReadError> {
        Ok(self.pos < self.data.len())
    }
}

/// A decompressor, read through a buffer.
struct StreamInput<'a> {
    reader: Box<dyn Read + 'a>,
    codec: &'static str,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// Decompressed bytes pulled from `reader` so far.
    total: u64,
    limit: u64,
    /// The decoder said it had no more bytes.
    eof: bool,
}

impl StreamInput<'_> {
    /// Makes at least one byte available; false at the end of the input.
    fn fill(&mut self) -> Result<bool, ReadError> {
        if self.pos < self.len {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        let n = loop {
            match self.reader.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::OutOfMemory => {
                    return Err(ReadError::TooLarge {
                        codec: self.codec,
                        limit: self.limit,
                    })
                }
                Err(e) => {
                    return Err(ReadError::Decompression {
                        codec: self.codec,
                        reason: e.to_string(),
                    })
                }
            }
        };
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.total += n as u64;
        if self.total > self.limit {
            return Err(ReadError::TooLarge {
                codec: self.codec,
                limit: self.limit,
            });
        }
        self.pos = 0;
        self.len = n;
        Ok(true)
    }
}

impl Source for StreamInput<'_> {
    fn byte(&mut self) -> Result<Option<u8>, ReadError> {
        if !self.fill()? {
            return Ok(None);
        }
        self.pos += 1;
        Ok(Some(self.buf[self.pos - 1]))
    }

    fn take(&mut self, mut n: usize, mut out: Option<&mut Vec<u8>>) -> Result<bool, ReadError> {
        while n > 0 {
            if !self.fill()? {
                return Ok(false);
            }
            let c = n.min(self.len - self.pos);
            if let Some(o) = out.as_deref_mut() {
                o.extend_from_slice(&self.buf[self.pos..self.pos + c]);
            }
            self.pos += c;
            n -= c;
        }
        Ok(true)
    }

    fn has_more(&mut self) -> Result<bool, ReadError> {
        self.fill()
    }
}

enum Input<'a> {
    Slice(SliceInput<'a>),
    Stream(StreamInput<'a>),
}

/// Key, value and header bytes of the last record read with [`Want::Data`], and where each
/// lies in `data`.
#[derive(Default)]
struct Captured {
    data: Vec<u8>,
    key: Option<Span>,
    value: Option<Span>,
    headers: Vec<(Span, Option<Span>)>,
}

/// Reads the records of one batch in order. See the module documentation.
pub struct RecordReader<'a> {
    input: Input<'a>,
    /// Records the header declares.
    declared: i32,
    /// Records read so far.
    read: i32,
    /// The last record's bytes, for [`Want::Data`].
    captured: Captured,
}

impl<'a> RecordReader<'a> {
    /// A reader over the whole batch `batch` (header included) with header `h`. Compressed
    /// payloads are decompressed as they are read, at most `limit` bytes in all.
    pub fn new(batch: &'a [u8], h: &BatchHeader, limit: u64) -> Result<Self, ReadError> {
        let section = batch.get(BATCH_HEADER_LEN..h.total_len()).unwrap_or(&[]);
        let input = match h.compression() {
            codec::NONE => Input::Slice(SliceInput {
                data: section,
                pos: 0,
            }),
            c => {
                let name = codec::name(c);
                let block_limit = usize::try_from(limit).unwrap_or(usize::MAX);
                let reader = codec::decoder(c, section, block_limit).map_err(|e| {
                    ReadError::Decompression {
                        codec: name,
                        reason: e.to_string(),
                    }
                })?;
                Input::Stream(StreamInput {
                    reader,
                    codec: name,
                    buf: vec![0u8; STREAM_BUFFER].into_boxed_slice(),
                    pos: 0,
                    len: 0,
                    total: 0,
                    limit,
                    eof: false,
                })
            }
        };
        Ok(RecordReader {
            input,
            declared: h.records_count.max(0),
            read: 0,
            captured: Captured::default(),
        })
    }

    /// Records read so far.
    pub fn records_read(&self) -> i32 {
        self.read
    }

    /// The next record, or `None` after the declared count. After the last one, checks that
    /// the payload holds nothing more (Kafka: "records still remaining").
    pub fn next_record(&mut self, want: Want) -> Result<Option<RecordMeta>, ReadError> {
        let (index, declared) = (self.read, self.declared);
        let capture = (want == Want::Data).then_some(&mut self.captured);
        let meta = match &mut self.input {
            Input::Slice(s) => read_record(s, index, declared, capture)?,
            Input::Stream(s) => read_record(s, index, declared, capture)?,
        };
        if meta.is_some() {
            self.read += 1;
        }
        Ok(meta)
    }

    /// The key of the last record read with [`Want::Data`].
    pub fn key(&self) -> Option<&[u8]> {
        self.captured.key.map(|(a, b)| &self.captured.data[a..b])
    }

    /// The value of the last record read with [`Want::Data`].
    pub fn value(&self) -> Option<&[u8]> {
        self.captured.value.map(|(a, b)| &self.captured.data[a..b])
    }

    /// The headers of the last record read with [`Want::Data`].
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        let data = &self.captured.data;
        self.captured
            .headers
            .iter()
            .map(move |&((ka, kb), v)| (&data[ka..kb], v.map(|(a, b)| &data[a..b])))
    }
}

/// Reads record `index` of `declared` from `src`, or checks that nothing follows the last one.
fn read_record<S: Source>(
    src: &mut S,
    index: i32,
    declared: i32,
    mut capture: Option<&mut Captured>,
) -> Result<Option<RecordMeta>, ReadError> {
    if index >= declared {
        if src.has_more()? {
            return Err(invalid(format!(
                "Incorrect declared batch size, records still remaining after {declared} records"
            )));
        }
        return Ok(None);
    }
    let size = match length_varint(src)? {
        Some(s) if s >= 0 => s as usize,
        Some(s) => {
            return Err(invalid(format!(
                "Invalid record size {s} of record {index}"
            )))
        }
        None => {
            return Err(invalid(format!(
                "Incorrect declared batch size, premature EOF reached at record {index} of \
                 {declared}"
            )))
        }
    };
    if let Some(c) = capture.as_deref_mut() {
        c.data.clear();
        c.headers.clear();
    }
    let mut r = Body {
        input: src,
        left: size,
        index,
        capture: capture.as_deref_mut().map(|c| &mut c.data),
    };
    let attributes = r.byte()? as i8;
    let timestamp_delta = r.varlong()?;
    let offset_delta = r.varint()?;
    let (key_len, key) = r.bytes_field("key")?;
    let (value_len, value) = r.bytes_field("value")?;
    let header_count = r.varint()?;
    if header_count < 0 {
        return Err(invalid(format!(
            "Found invalid number of record headers {header_count} in record {index}"
        )));
    }
    let mut headers = Vec::new();
    for _ in 0..header_count {
        let (klen, k) = r.bytes_field("header key")?;
        if klen < 0 {
            return Err(invalid(format!(
                "Invalid negative header key size {klen} in record {index}"
            )));
        }
        let (_, v) = r.bytes_field("header value")?;
        if r.capture.is_some() {
            headers.push((k.unwrap_or((0, 0)), v));
        }
    }
    if r.left != 0 {
        return Err(invalid(format!(
            "Invalid record size: expected to read {size} bytes in record payload, but {} \
             bytes are left over in record {index}",
            r.left
        )));
    }
    if let Some(c) = capture {
        c.key = key;
        c.value = value;
        c.headers = headers;
    }
    Ok(Some(RecordMeta {
        size,
        attributes,
        timestamp_delta,
        offset_delta,
        key_len,
        value_len,
        header_count,
    }))
}

/// A record's length prefix: `None` at a clean end of input.
fn length_varint<S: Source>(src: &mut S) -> Result<Option<i32>, ReadError> {
    let mut raw: u32 = 0;
    for i in 0..5 {
        let Some(b) = src.byte()? else {
            return if i == 0 {
                Ok(None)
            } else {
                Err(invalid(
                    "Incorrect declared batch size, premature EOF reached",
                ))
            };
        };
        raw |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some(((raw >> 1) as i32) ^ -((raw & 1) as i32)));
        }
    }
    Err(invalid("Varint is too long"))
}

/// The bytes of one record, counted down so no field can run past the record.
struct Body<'r, S> {
    input: &'r mut S,
    /// Bytes of the record not read yet.
    left: usize,
    /// The record's index in the batch, for messages.
    index: i32,
    /// Where key, value and header bytes are copied, if the caller wants them.
    capture: Option<&'r mut Vec<u8>>,
}

impl<S: Source> Body<'_, S> {
    #[inline]
    fn byte(&mut self) -> Result<u8, ReadError> {
        if self.left == 0 {
            return Err(self.short());
        }
        self.left -= 1;
        self.input.byte()?.ok_or_else(|| self.eof())
    }

    fn short(&self) -> ReadError {
        invalid(format!(
            "Found invalid record structure in record {}",
            self.index
        ))
    }

    fn eof(&self) -> ReadError {
        invalid(format!(
            "Incorrect declared batch size, premature EOF reached in record {}",
            self.index
        ))
    }

    #[inline]
    fn unsigned(&mut self, max_bytes: u32) -> Result<u64, ReadError> {
        let mut raw: u64 = 0;
        for i in 0..max_bytes {
            let b = self.byte()?;
            raw |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(raw);
            }
        }
        Err(invalid(format!(
            "Varint is too long in record {}",
            self.index
        )))
    }

    fn varint(&mut self) -> Result<i32, ReadError> {
        // As Kafka's `ByteUtils.readVarint`: bits past the 32nd of a fifth byte are dropped.
        let raw = self.unsigned(5)? as u32;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    fn varlong(&mut self) -> Result<i64, ReadError> {
        let raw = self.unsigned(10)?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// A length-prefixed field (`-1` = null): its length and, when capturing, where its bytes
    /// landed in the capture buffer.
    fn bytes_field(&mut self, what: &str) -> Result<(i32, Option<Span>), ReadError> {
        let len = self.varint()?;
        if len < -1 {
            return Err(invalid(format!(
                "Invalid {what} length {len} in record {}",
                self.index
            )));
        }
        if len == -1 {
            return Ok((len, None));
        }
        let n = len as usize;
        if n > self.left {
            return Err(invalid(format!(
                "Invalid {what} length {len} in record {}: only {} bytes left in the record",
                self.index, self.left
            )));
        }
        self.left -= n;
        let start = self.capture.as_ref().map_or(0, |c| c.len());
        if !self.input.take(n, self.capture.as_deref_mut())? {
            return Err(self.eof());
        }
        Ok((len, Some((start, start + n))))
    }
}

/// Finds the first record of a stored batch at or after `min_offset` whose timestamp is
/// `>= target`, returning its offset and timestamp (Kafka's `LogSegment.findOffsetByTimestamp`
/// at record level). LogAppendTime batches give every record `maxTimestamp`. The records are
/// walked with at most `limit` decompressed bytes; `None` if no record qualifies or the batch
/// cannot be read.
pub fn find_record_by_timestamp(
    batch: &[u8],
    target: i64,
    min_offset: i64,
    limit: u64,
) -> Option<(i64, i64)> {
    let h = BatchHeader::parse(batch)?;
    if batch.len() < h.total_len() {
        return None;
    }
    if h.timestamp_type_log_append() {
        let offset = h.base_offset.max(min_offset);
        return (h.max_timestamp >= target && offset <= h.last_offset())
            .then_some((offset, h.max_timestamp));
    }
    let mut reader = RecordReader::new(batch, &h, limit).ok()?;
    while let Ok(Some(r)) = reader.next_record(Want::Meta) {
        let ts = h.base_timestamp.wrapping_add(r.timestamp_delta);
        let offset = h.base_offset.saturating_add(i64::from(r.offset_delta));
        if ts >= target && offset >= min_offset {
            return Some((offset, ts));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::batch::BatchHeader;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    fn encode(n: usize, c: Compression) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32 - 1,
                timestamp: 1_000 + i as i64,
                key: (i % 2 == 0).then(|| Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(format!("value-{i}"))),
                headers: [(
                    kafka_protocol::protocol::StrBytes::from_static_str("h"),
                    Some(Bytes::from_static(b"hv")),
                )]
                .into_iter()
                .collect(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: c,
            },
        )
        .unwrap();
        buf.to_vec()
    }

    #[test]
    fn reads_every_codec_with_data() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let b = encode(5, c);
            let h = BatchHeader::parse(&b).unwrap();
            let mut r = RecordReader::new(&b, &h, 1 << 20).unwrap();
            let mut n = 0;
            while let Some(m) = r.next_record(Want::Data).unwrap() {
                assert_eq!(m.offset_delta, n);
                assert_eq!(m.timestamp_delta, i64::from(n));
                assert_eq!(m.has_key(), n % 2 == 0);
                assert_eq!(r.value(), Some(format!("value-{n}").as_bytes()));
                let hs: Vec<_> = r.headers().collect();
                assert_eq!(hs, vec![(&b"h"[..], Some(&b"hv"[..]))]);
                n += 1;
            }
            assert_eq!(n, 5, "{c:?}");
        }
    }

    #[test]
    fn decompression_limit_stops_a_bomb() {
        let b = encode(200, Compression::Zstd);
        let h = BatchHeader::parse(&b).unwrap();
        let mut r = RecordReader::new(&b, &h, 100).unwrap();
        let e = loop {
            match r.next_record(Want::Meta) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("limit not hit"),
                Err(e) => break e,
            }
        };
        assert!(matches!(e, ReadError::TooLarge { limit: 100, .. }), "{e}");
    }
}
