//! Produce-time validation of a client's record batch, as Kafka's `UnifiedLog.analyzeAndValidateRecords`
//! and `LogValidator` do for `AppendOrigin.CLIENT`: nothing a client sends is stored unless its
//! header, its CRC and every record inside it agree.
//!
//! Checked, in this order (the first failure answers; nothing of the partition is stored):
//! 1. Framing: length, magic (v2 only), size against `max.message.bytes`, CRC-32C.
//! 2. Exactly one batch per partition (Kafka: "Compressed outer record has more than one batch").
//! 3. Header rules: known codec, base offset 0, `recordsCount == lastOffsetDelta + 1 >= 1`, no
//!    control batch, a sequence with every producer id.
//! 4. Every record, decompressed as a stream ([`super::reader`]): well-formed varints, every
//!    length inside its record, record sizes that exactly fill the payload, `recordsCount`
//!    records and no more, offset deltas `0..n-1`, and at most the broker's decompressed-size
//!    limit in all.
//! 5. Per record (answered with `record_errors`): a key on compacted topics; on CreateTime topics
//!    a timestamp within `message.timestamp.before.max.ms` / `after.max.ms` of now; no
//!    LogAppendTime flag from a producer.
//!
//! The result is the header to store: for CreateTime topics its `maxTimestamp` is the largest
//! record timestamp (Kafka rewrites a lying one), which the log writes if it differs.

use kafka_protocol::ResponseError;

use super::batch::{
    check_crc, check_frame, BatchError, BatchHeader, RecordError, MAX_COMPRESSION_CODE,
    MAX_RECORD_ERRORS,
};
use super::reader::{ReadError, RecordReader, Want};

/// The topic's and broker's settings a client batch is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceRules {
    /// `max.message.bytes`: the largest batch, compressed, in bytes.
    pub max_batch_bytes: usize,
    /// `cleanup.policy` includes `compact`: every record needs a key.
    pub compacted: bool,
    /// `message.timestamp.type=LogAppendTime`: the broker stamps batches; timestamps are not
    /// range-checked.
    pub log_append_time: bool,
    /// `message.timestamp.before.max.ms`: how far in the past a CreateTime timestamp may be.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: how far in the future a CreateTime timestamp may be.
    pub timestamp_after_max_ms: i64,
    /// `max.decompressed.message.bytes`: the most bytes a compressed batch may decompress to.
    pub max_uncompressed_bytes: u64,
}

impl Default for ProduceRules {
    /// Kafka 4's defaults for a delete-policy CreateTime topic, and Gregor's decompression limit.
    fn default() -> Self {
        ProduceRules {
            max_batch_bytes: 1_048_588,
            compacted: false,
            log_append_time: false,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: 3_600_000,
            max_uncompressed_bytes: DEFAULT_MAX_UNCOMPRESSED_BYTES,
        }
    }
}

/// Default decompressed-size limit of one batch: Kafka 4.4's `max.decompressed.message.bytes`
/// default (2,147,483,639 bytes). Memory does not depend on it: records are walked through a
/// 16 KiB buffer; it bounds the CPU a decompression bomb costs.
pub const DEFAULT_MAX_UNCOMPRESSED_BYTES: u64 = 2_147_483_639;

/// Validates one produce partition's records (see the module documentation). `now_ms` is the
/// broker's clock for the timestamp range check.
pub fn validate_produce(
    buf: &[u8],
    rules: &ProduceRules,
    now_ms: i64,
) -> Result<BatchHeader, BatchError> {
    if buf.is_empty() {
        return Err(BatchError::Empty);
    }
    let mut h = check_frame(buf, 0)?;
    let size = h.total_len();
    if size > rules.max_batch_bytes {
        return Err(BatchError::TooLarge {
            position: 0,
            size,
            max: rules.max_batch_bytes,
        });
    }
    check_crc(buf, &h, 0)?;
    if buf.len() > size {
        // Another whole batch is Kafka's "more than one batch"; anything shorter is a broken
        // frame and answered as such.
        check_frame(&buf[size..], size)?;
        return Err(BatchError::MultipleBatches { position: size });
    }
    check_header(&h)?;
    let max_timestamp = check_records(buf, &h, rules, now_ms)?;
    if !rules.log_append_time {
        h.max_timestamp = max_timestamp;
        h.attributes &= !super::batch::TIMESTAMP_TYPE_BIT;
    }
    Ok(h)
}

fn check_header(h: &BatchHeader) -> Result<(), BatchError> {
    let position = 0;
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

/// Walks every record; returns the largest record timestamp (-1 if none carries one).
fn check_records(
    buf: &[u8],
    h: &BatchHeader,
    rules: &ProduceRules,
    now_ms: i64,
) -> Result<i64, BatchError> {
    let mut reader = RecordReader::new(buf, h, rules.max_uncompressed_bytes).map_err(read_error)?;
    let mut errors: Vec<RecordError> = Vec::new();
    let mut refused = 0usize;
    let mut timestamp_refused = false;
    let mut max_timestamp = -1i64;
    let batch_log_append = h.timestamp_type_log_append();
    while let Some(r) = reader.next_record(Want::Meta).map_err(read_error)? {
        let index = reader.records_read() - 1;
        if r.offset_delta != index {
            return Err(BatchError::Records {
                reason: format!(
                    "record {index} has offset delta {}; a batch's records must be numbered \
                     0..{}",
                    r.offset_delta, h.last_offset_delta
                ),
            });
        }
        let ts = if batch_log_append {
            h.max_timestamp
        } else {
            h.base_timestamp.wrapping_add(r.timestamp_delta)
        };
        let problem = if rules.compacted && !r.has_key() {
            Some((
                ResponseError::InvalidRecord,
                "Compacted topic cannot accept message without key".to_string(),
            ))
        } else if !rules.log_append_time && ts != -1 {
            let earliest = now_ms.saturating_sub(rules.timestamp_before_max_ms);
            let latest = now_ms.saturating_add(rules.timestamp_after_max_ms);
            (ts < earliest || ts > latest).then(|| {
                (
                    ResponseError::InvalidTimestamp,
                    format!(
                        "Timestamp {ts} of message with offset {index} is out of range. The \
                         timestamp should be within [{earliest}, {latest}]"
                    ),
                )
            })
        } else if batch_log_append {
            Some((
                ResponseError::InvalidTimestamp,
                "Invalid timestamp type in message: producer should not set timestamp type to \
                 LogAppendTime"
                    .to_string(),
            ))
        } else {
            None
        };
        match problem {
            Some((code, message)) => {
                refused += 1;
                timestamp_refused |= code == ResponseError::InvalidTimestamp;
                if errors.len() < MAX_RECORD_ERRORS {
                    errors.push(RecordError {
                        batch_index: index,
                        message,
                    });
                }
            }
            None => max_timestamp = max_timestamp.max(ts),
        }
    }
    if refused == 0 {
        return Ok(max_timestamp);
    }
    let (code, message) = if timestamp_refused {
        (
            ResponseError::InvalidTimestamp,
            "One or more records have been rejected due to invalid timestamp".to_string(),
        )
    } else {
        let shown: Vec<String> = errors
            .iter()
            .take(3)
            .map(|e| {
                format!(
                    "RecordError(batchIndex={}, message='{}')",
                    e.batch_index, e.message
                )
            })
            .collect();
        (
            ResponseError::InvalidRecord,
            format!(
                "One or more records have been rejected due to {refused} record errors in total, \
                 and only showing the first three errors at most: [{}]",
                shown.join(", ")
            ),
        )
    };
    Err(BatchError::RecordErrors {
        code,
        message,
        errors,
    })
}

fn read_error(e: ReadError) -> BatchError {
    match e {
        ReadError::Records(reason) => BatchError::Records { reason },
        e @ ReadError::Decompression { .. } => BatchError::Decompression {
            reason: e.to_string(),
        },
        e @ ReadError::TooLarge { .. } => BatchError::UncompressedTooLarge {
            reason: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::builder::{
        build_batch, put_record, simple_batch, BatchFields, RecordFields,
    };
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    const NOW: i64 = 1_700_000_000_000;

    fn encode(n: usize, c: Compression, key: bool) -> Vec<u8> {
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
                timestamp: NOW + i as i64,
                key: key.then(|| Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(format!("value-{i}"))),
                headers: Default::default(),
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

    /// Overwrites a header field and fixes the CRC, so the check under test is not the CRC.
    fn patch(buf: &mut [u8], at: usize, bytes: &[u8]) {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
        let crc = crc32c::crc32c(&buf[21..]);
        buf[17..21].copy_from_slice(&crc.to_be_bytes());
    }

    fn check(b: &[u8]) -> Result<BatchHeader, BatchError> {
        validate_produce(b, &ProduceRules::default(), NOW)
    }

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn valid_batches_in_every_codec() {
        for c in ALL {
            let b = encode(5, c, true);
            let h = check(&b).unwrap();
            assert_eq!((h.records_count, h.last_offset_delta), (5, 4), "{c:?}");
            assert_eq!(h.max_timestamp, NOW + 4);
            assert_eq!(h.total_len(), b.len());
        }
    }

    #[test]
    fn gzip_batch_claiming_two_billion_records_holding_one() {
        let mut b = encode(1, Compression::Gzip, true);
        patch(&mut b, 57, &i32::MAX.to_be_bytes());
        patch(&mut b, 23, &(i32::MAX - 1).to_be_bytes());
        let e = check(&b).unwrap_err();
        assert_eq!(e.code(), ResponseError::InvalidRecord, "{e}");
        assert!(e.to_string().contains("premature EOF"), "{e}");
    }

    #[test]
    fn count_larger_or_smaller_than_the_records() {
        for c in ALL {
            let mut b = encode(1, c, true);
            patch(&mut b, 57, &3i32.to_be_bytes());
            patch(&mut b, 23, &2i32.to_be_bytes());
            assert_eq!(
                check(&b).unwrap_err().code(),
                ResponseError::InvalidRecord,
                "{c:?}"
            );
            let mut b = encode(3, c, true);
            patch(&mut b, 57, &2i32.to_be_bytes());
            patch(&mut b, 23, &1i32.to_be_bytes());
            let e = check(&b).unwrap_err();
            assert!(e.to_string().contains("still remaining"), "{c:?}: {e}");
        }
    }

    #[test]
    fn payload_that_is_not_what_the_codec_says() {
        for codec in 1..=4i16 {
            let mut b = encode(2, Compression::None, true);
            patch(&mut b, 21, &codec.to_be_bytes());
            let e = check(&b).unwrap_err();
            // Kafka 4.4 answers an undecodable payload with UNKNOWN_SERVER_ERROR.
            assert_eq!(
                e.code(),
                ResponseError::UnknownServerError,
                "codec {codec}: {e}"
            );
        }
        let mut b = encode(2, Compression::None, true);
        patch(&mut b, 21, &5i16.to_be_bytes());
        assert_eq!(
            check(&b).unwrap_err().code(),
            ResponseError::UnknownServerError
        );
    }

    #[test]
    fn lengths_that_run_past_the_record() {
        // Key length 2^30 in a 20-byte record.
        let mut section = Vec::new();
        let mut body = vec![0u8, 0, 0];
        body.extend(crate::record::builder::varint(1 << 30));
        body.extend_from_slice(b"abc");
        body.extend(crate::record::builder::varint(-1));
        body.extend(crate::record::builder::varint(0));
        section.extend(crate::record::builder::varint(body.len() as i32));
        section.extend(&body);
        let b = build_batch(&BatchFields::default(), &section);
        let e = check(&b).unwrap_err();
        assert_eq!(e.code(), ResponseError::InvalidRecord);
        assert!(e.to_string().contains("key length"), "{e}");

        // A header value length past the record, a negative header count, a negative header
        // key length, a record length past the batch, and bytes left over inside a record.
        let hdr: &[(&[u8], Option<&[u8]>)] = &[(b"h", Some(b"v"))];
        let mut good = Vec::new();
        put_record(
            &mut good,
            &RecordFields {
                key: Some(b"k"),
                value: Some(b"v"),
                headers: hdr,
                ..Default::default()
            },
        );
        let last = good.len() - 1; // the header value byte, after its length varint
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut v = good.clone();
        v[last - 1] = 0x7e; // header value length 63
        cases.push(("header value length", v));
        let mut v = good.clone();
        v[last - 4] = 0x01; // header count -1
        cases.push(("header count", v));
        let mut v = good.clone();
        v[last - 3] = 0x01; // header key length -1
        cases.push(("header key", v));
        let mut v = good.clone();
        v[0] += 2; // zigzag: the record claims one byte more than the batch holds
        cases.push(("record length", v));
        let mut v = good.clone();
        v[0] += 2;
        v.push(0); // one stray byte inside the record, after its last field
        cases.push(("left over", v));
        for (name, section) in cases {
            let b = build_batch(&BatchFields::default(), &section);
            let e = check(&b).unwrap_err();
            assert_eq!(e.code(), ResponseError::InvalidRecord, "{name}: {e}");
        }
        let b = build_batch(&BatchFields::default(), &good);
        assert!(check(&b).is_ok());
    }

    #[test]
    fn offset_deltas_must_count_from_zero() {
        let mut section = Vec::new();
        put_record(
            &mut section,
            &RecordFields {
                offset_delta: 7,
                value: Some(b"v"),
                ..Default::default()
            },
        );
        let b = build_batch(&BatchFields::default(), &section);
        let e = check(&b).unwrap_err();
        assert_eq!(e.code(), ResponseError::InvalidRecord);
        assert!(e.to_string().contains("offset delta 7"), "{e}");
    }

    #[test]
    fn malformed_varints() {
        let b = build_batch(
            &BatchFields::default(),
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        );
        assert_eq!(check(&b).unwrap_err().code(), ResponseError::InvalidRecord);
        let b = build_batch(&BatchFields::default(), &[0x80]);
        assert_eq!(check(&b).unwrap_err().code(), ResponseError::InvalidRecord);
    }

    #[test]
    fn compacted_topics_need_keys() {
        let rules = ProduceRules {
            compacted: true,
            ..ProduceRules::default()
        };
        for c in ALL {
            let b = encode(3, c, false);
            match validate_produce(&b, &rules, NOW).unwrap_err() {
                BatchError::RecordErrors {
                    code,
                    message,
                    errors,
                } => {
                    assert_eq!(code, ResponseError::InvalidRecord);
                    assert_eq!(errors.len(), 3);
                    assert_eq!(errors[2].batch_index, 2);
                    assert!(message.contains("3 record errors"), "{message}");
                }
                e => panic!("{c:?}: {e}"),
            }
            assert!(validate_produce(&encode(3, c, true), &rules, NOW).is_ok());
        }
    }

    #[test]
    fn timestamps_out_of_range() {
        let rules = ProduceRules {
            timestamp_before_max_ms: 1_000,
            timestamp_after_max_ms: 1_000,
            ..ProduceRules::default()
        };
        let at = |delta: i64| simple_batch(NOW + delta, &[RecordFields::default()]);
        assert!(validate_produce(&at(0), &rules, NOW).is_ok());
        assert!(validate_produce(&at(-1_000), &rules, NOW).is_ok());
        for delta in [-1_001, 1_001, i64::MIN / 2] {
            let e = validate_produce(&at(delta), &rules, NOW).unwrap_err();
            assert_eq!(e.code(), ResponseError::InvalidTimestamp, "{delta}");
        }
        // Kafka 4's defaults: one hour into the future, any age.
        assert!(check(&at(-10 * 365 * 86_400_000)).is_ok());
        assert_eq!(
            check(&at(3_600_001)).unwrap_err().code(),
            ResponseError::InvalidTimestamp
        );
        // LogAppendTime topics take any timestamp; a producer may not flag LogAppendTime.
        let lat = ProduceRules {
            log_append_time: true,
            ..rules
        };
        assert!(validate_produce(&at(1 << 40), &lat, NOW).is_ok());
        let mut b = at(0);
        patch(&mut b, 21, &(1i16 << 3).to_be_bytes());
        assert_eq!(
            validate_produce(&b, &lat, NOW).unwrap_err().code(),
            ResponseError::InvalidTimestamp
        );
    }

    #[test]
    fn a_lying_max_timestamp_is_replaced() {
        let mut b = encode(3, Compression::Lz4, true);
        patch(&mut b, 35, &(NOW + 1_000_000).to_be_bytes());
        assert_eq!(check(&b).unwrap().max_timestamp, NOW + 2);
    }

    #[test]
    fn one_batch_per_partition_and_trailing_bytes() {
        let mut two = encode(2, Compression::None, true);
        two.extend(encode(1, Compression::None, true));
        let e = check(&two).unwrap_err();
        assert!(matches!(e, BatchError::MultipleBatches { .. }), "{e}");
        assert_eq!(e.code(), ResponseError::InvalidRecord);
        let mut tail = encode(2, Compression::None, true);
        tail.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            check(&tail).unwrap_err().code(),
            ResponseError::CorruptMessage
        );
    }

    #[test]
    fn header_rules() {
        let base = encode(1, Compression::None, true);
        let mut b = base.clone();
        patch(&mut b, 21, &(1i16 << 5).to_be_bytes());
        assert!(matches!(check(&b), Err(BatchError::ControlBatch { .. })));
        let mut b = base.clone();
        b[..8].copy_from_slice(&42i64.to_be_bytes());
        assert_eq!(check(&b).unwrap_err().code(), ResponseError::InvalidRecord);
        let mut b = base.clone();
        patch(&mut b, 43, &7i64.to_be_bytes());
        assert!(matches!(check(&b), Err(BatchError::InvalidSequence { .. })));
        patch(&mut b, 53, &0i32.to_be_bytes());
        assert!(check(&b).unwrap().has_producer_id());
        let mut b = base.clone();
        patch(&mut b, 57, &0i32.to_be_bytes());
        patch(&mut b, 23, &(-1i32).to_be_bytes());
        assert!(matches!(
            check(&b),
            Err(BatchError::InvalidRecordCount { .. })
        ));
        let e = validate_produce(
            &base,
            &ProduceRules {
                max_batch_bytes: base.len() - 1,
                ..ProduceRules::default()
            },
            NOW,
        )
        .unwrap_err();
        assert_eq!(e.code(), ResponseError::MessageTooLarge);
        let mut b = base.clone();
        let n = b.len() - 1;
        b[n] ^= 1;
        assert!(matches!(check(&b), Err(BatchError::CrcMismatch { .. })));
        assert_eq!(check(&[]).unwrap_err(), BatchError::Empty);
    }

    #[test]
    fn decompression_bomb_stops_at_the_limit() {
        // 16 MiB of one repeated value, zstd-compressed to a few KiB, in one record.
        let value = vec![b'x'; 16 << 20];
        let mut section = Vec::new();
        put_record(
            &mut section,
            &RecordFields {
                value: Some(&value),
                ..Default::default()
            },
        );
        let compressed = zstd::encode_all(&section[..], 3).unwrap();
        assert!(compressed.len() < 1 << 16);
        let b = build_batch(
            &BatchFields {
                attributes: 4,
                base_timestamp: NOW,
                max_timestamp: NOW,
                ..BatchFields::default()
            },
            &compressed,
        );
        let small = ProduceRules {
            max_uncompressed_bytes: 1 << 20,
            ..ProduceRules::default()
        };
        let e = validate_produce(&b, &small, NOW).unwrap_err();
        assert_eq!(e.code(), ResponseError::InvalidRecord, "{e}");
        assert!(validate_produce(&b, &ProduceRules::default(), NOW).is_ok());
    }
}
