//! Entry points for the fuzz targets under `fuzz/` and for the regression test that replays
//! their findings (`tests/fuzz_regressions.rs`). Each takes arbitrary bytes and must return
//! without panicking, whatever they hold; nothing here is used by the broker itself.

use bytes::{Bytes, BytesMut};

use crate::group::records::RecordKey;
use crate::group::OffsetsLogRecord;
use crate::log::producer_state::ProducerStateManager;
use crate::log::{LogConfig, PartitionLog};
use crate::protocol;
use crate::record::validate::{validate_produce, ProduceRules};
use crate::record::{batch, reader};
use crate::server::connection::take_frame;

/// Framing and request decoding: splits `data` into frames as a connection would (with a
/// small frame limit), and decodes each as a request.
pub fn frames_and_requests(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = take_frame(&mut buf, 1 << 20) {
        let _ = protocol::decode_request(frame);
    }
    // The whole input as one frame body too, so the decoder sees every byte layout.
    let _ = protocol::decode_request(Bytes::copy_from_slice(data));
}

/// Record-batch header parsing and produce validation (every codec, compacted or not), then
/// the in-place rewrites the log applies to valid batches, and the record walks of the read
/// paths.
pub fn record_batches(data: &[u8]) {
    let rules = ProduceRules {
        compacted: data.first().is_some_and(|b| b & 1 == 1),
        max_uncompressed_bytes: 1 << 20,
        ..ProduceRules::default()
    };
    if let Ok(h) = validate_produce(data, &rules, 1_700_000_000_000) {
        let mut owned = data[..h.total_len()].to_vec();
        batch::set_base_offset(&mut owned, 42);
        batch::set_partition_leader_epoch(&mut owned, 7);
        batch::set_log_append_time(&mut owned, 1_700_000_000_000);
        assert!(
            batch::check_batch(&owned, 0).is_ok(),
            "rewrites keep a valid batch valid"
        );
    }
    let _ = batch::check_batch(data, 0);
    cleaned(data);
    let _ = reader::find_record_by_timestamp(data, 0, 0, 1 << 20);
    if let Some(h) = batch::BatchHeader::parse(data) {
        if let Ok(mut r) = reader::RecordReader::new(data, &h, 1 << 20) {
            while let Ok(Some(_)) = r.next_record(reader::Want::Data) {}
        }
    }
}

/// The log cleaner's decision for `data` as a stored batch (a key in the map, a tombstone
/// horizon passed or not): whatever it keeps is a batch that reads back with a valid CRC.
fn cleaned(data: &[u8]) {
    use crate::log::cleaner::filter::{filter_batch, FilterContext, Kept, TxnTracker};
    let Some(h) = batch::BatchHeader::parse(data) else {
        return;
    };
    if h.total_len() < batch::BATCH_HEADER_LEN || h.total_len() > data.len() {
        return;
    }
    let mut map = crate::log::cleaner::offset_map::OffsetMap::new(0);
    map.put(b"key", 1);
    let producers = std::collections::HashMap::new();
    for now_ms in [0, i64::MAX] {
        let ctx = FilterContext {
            map: &map,
            now_ms,
            delete_retention_ms: 1000,
            producers: &producers,
            decompress_limit: 1 << 20,
        };
        let whole = &data[..h.total_len()];
        if let Ok(f) = filter_batch(whole, &h, &ctx, &mut TxnTracker::new(Vec::new())) {
            if let Kept::Rebuilt(b) = f.kept {
                let back = batch::BatchHeader::parse(&b).expect("a rebuilt batch has a header");
                assert_eq!(back.total_len(), b.len(), "a rebuilt batch is framed");
                assert!(
                    batch::check_crc(&b, &back, 0).is_ok(),
                    "a rebuilt batch has its CRC"
                );
                assert_eq!(back.base_offset, h.base_offset, "offsets are kept");
            }
        }
    }
}

/// Segment recovery over arbitrary bytes: `data` becomes the only segment of a partition
/// that is opened as after a crash, then read from every offset it claims to hold.
pub fn segment_recovery(data: &[u8]) {
    let Ok(dir) = tempdir() else { return };
    let path = dir.join("00000000000000000000.log");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(log) = PartitionLog::open(&dir, LogConfig::default(), true) {
        let end = log.log_end_offset();
        for offset in log.log_start_offset()..end.min(log.log_start_offset() + 64) {
            if let Ok(slice) = log.read(offset, 1 << 16) {
                let _ = slice.read_bytes();
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `__consumer_offsets` record decoding and replay into a coordinator.
pub fn offsets_records(data: &[u8]) {
    let split = data
        .first()
        .map_or(0, |b| usize::from(*b))
        .min(data.len().saturating_sub(1));
    let (key, value) = data
        .get(1..)
        .unwrap_or_default()
        .split_at(split.min(data.len().saturating_sub(1)));
    let _ = RecordKey::decode(key);
    let record = OffsetsLogRecord {
        key: Bytes::copy_from_slice(key),
        value: (!value.is_empty()).then(|| Bytes::copy_from_slice(value)),
    };
    let _ = record.decode();
    let mut c = crate::group::Coordinator::new(crate::group::GroupConfig::default());
    let _ = c.replay(0, &record);
}

/// Producer-state snapshot decoding.
pub fn producer_snapshot(data: &[u8]) {
    if let Some(state) = ProducerStateManager::decode(data) {
        assert_eq!(
            ProducerStateManager::decode(&state.encode()),
            Some(state.clone())
        );
    }
}

/// Reads fuzz input as a sequence of small numbers.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// Base time of the batches the stateful target builds.
const FUZZ_NOW: i64 = 1_700_000_000_000;

/// A batch built from fuzz input: records with input-chosen keys, values and timestamps,
/// compressed with an input-chosen codec, then (sometimes) made to lie about itself with its
/// CRC kept correct, so the validator rather than the CRC is what is tested.
fn fuzz_batch(input: &mut Input<'_>) -> Vec<u8> {
    use crate::record::builder::{build_batch, put_record, BatchFields, RecordFields};
    let n = 1 + usize::from(input.u8().unwrap_or(0) % 8);
    let codec = input.u8().unwrap_or(0) % 5;
    let mut section = Vec::new();
    let mut max_delta = 0i64;
    for i in 0..n {
        let key_len = input.u8().unwrap_or(0);
        let value_len = input.u8().unwrap_or(0);
        let ts = i64::from(input.u8().unwrap_or(0));
        let key = (key_len != 0xff).then(|| vec![b'k'; usize::from(key_len % 32)]);
        let value = (value_len != 0xff).then(|| vec![b'v'; usize::from(value_len)]);
        max_delta = max_delta.max(ts);
        put_record(
            &mut section,
            &RecordFields {
                timestamp_delta: ts,
                offset_delta: i as i32,
                key: key.as_deref(),
                value: value.as_deref(),
                headers: &[(b"h", Some(b"x"))],
            },
        );
    }
    let mut body = compress(codec, &section);
    let mut fields = BatchFields {
        attributes: i16::from(codec),
        last_offset_delta: n as i32 - 1,
        records_count: n as i32,
        base_timestamp: FUZZ_NOW,
        max_timestamp: FUZZ_NOW + max_delta,
        ..BatchFields::default()
    };
    match input.u8().unwrap_or(0) % 8 {
        4 => fields.records_count += 1,
        5 => {
            fields.records_count += 1;
            fields.last_offset_delta += 1;
        }
        6 if !body.is_empty() => {
            let at = usize::from(input.u8().unwrap_or(0)) % body.len();
            body[at] ^= input.u8().unwrap_or(1) | 1;
        }
        7 => {
            let cut = usize::from(input.u8().unwrap_or(1)).min(body.len());
            body.truncate(body.len() - cut);
        }
        _ => {}
    }
    build_batch(&fields, &body)
}

/// `section` compressed with `codec` as Kafka clients do (raw snappy, as librdkafka writes).
fn compress(codec: u8, section: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match codec {
        1 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = e.write_all(section);
            e.finish().unwrap_or_default()
        }
        2 => snap::raw::Encoder::new()
            .compress_vec(section)
            .unwrap_or_default(),
        3 => {
            let mut out = Vec::new();
            if let Ok(mut e) = lz4::EncoderBuilder::new()
                .block_mode(lz4::BlockMode::Independent)
                .build(&mut out)
            {
                let _ = e.write_all(section);
                let _ = e.finish().1;
            }
            out
        }
        4 => zstd::encode_all(section, 1).unwrap_or_default(),
        _ => section.to_vec(),
    }
}

/// The stateful produce-path target: batches built from the input (valid ones and ones that
/// lie) go through the real validator into a real log on disk (small segments, so it rolls),
/// interleaved with crash recoveries, clean restarts and DeleteRecords; then every read path
/// runs over the result. Nothing may panic, and every accepted batch reads back with the bytes
/// it was sent with (only the header fields the broker assigns may differ), before and after a
/// recovery.
pub fn produce_log(data: &[u8]) {
    let Ok(dir) = tempdir() else { return };
    let mut input = Input(data);
    let rules = ProduceRules {
        compacted: input.u8().is_some_and(|b| b & 1 == 1),
        timestamp_after_max_ms: i64::MAX,
        max_uncompressed_bytes: 1 << 16,
        ..ProduceRules::default()
    };
    let config = LogConfig {
        segment_bytes: 2048,
        index_interval_bytes: 128,
        ..LogConfig::default()
    };
    let Ok(mut log) = PartitionLog::open(&dir, config.clone(), false) else {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    };
    // (base offset, the bytes sent) of every accepted batch.
    let mut accepted: Vec<(i64, Vec<u8>)> = Vec::new();
    for _ in 0..48 {
        let Some(op) = input.u8() else { break };
        match op % 8 {
            0..=3 => {
                let batch = if op % 8 == 3 {
                    // Raw bytes, CRC fixed when there is a header to fix.
                    let len = usize::from(input.u8().unwrap_or(0)) * 2;
                    let mut b = input.take(len).to_vec();
                    if b.len() > 21 {
                        let crc = crc32c::crc32c(&b[21..]);
                        b[17..21].copy_from_slice(&crc.to_be_bytes());
                    }
                    b
                } else {
                    fuzz_batch(&mut input)
                };
                let end = log.log_end_offset();
                match validate_produce(&batch, &rules, FUZZ_NOW) {
                    Ok(h) => {
                        if let Ok(info) = log.append(&batch, &[h], 3, FUZZ_NOW) {
                            accepted.push((info.base_offset, batch));
                        }
                    }
                    Err(_) => {
                        assert_eq!(log.log_end_offset(), end, "a refused batch moved the log")
                    }
                }
            }
            4 | 5 => {
                let recover = op % 8 == 4;
                if !recover {
                    let _ = log.close();
                }
                drop(log);
                match PartitionLog::open(&dir, config.clone(), recover) {
                    Ok(l) => log = l,
                    Err(e) => panic!("reopening the log failed: {e}"),
                }
            }
            6 => {
                let span = (log.log_end_offset() - log.log_start_offset()).max(1);
                let to = log.log_start_offset() + i64::from(input.u8().unwrap_or(0)) % span;
                let _ = log.delete_records_before(to);
            }
            _ => {
                let _ = log.flush();
            }
        }
    }
    check_reads(&log, &accepted);
    drop(log);
    if let Ok(recovered) = PartitionLog::open(&dir, config, true) {
        check_reads(&recovered, &accepted);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every read path over the log: each accepted batch still above the log start reads back
/// byte-identical but for the header fields the broker assigns; ListOffsets answers stay in
/// range.
fn check_reads(log: &PartitionLog, accepted: &[(i64, Vec<u8>)]) {
    let (start, end) = (log.log_start_offset(), log.log_end_offset());
    for (base, sent) in accepted {
        let Ok(h) = batch::check_batch(sent, 0) else {
            panic!("an accepted batch fails its own check");
        };
        if base + i64::from(h.last_offset_delta) < start {
            continue;
        }
        let slice = log
            .read((*base).max(start), 1)
            .expect("read an accepted batch");
        let bytes = slice.read_bytes().expect("read its bytes");
        let stored = batch::check_batch(&bytes, 0).expect("stored batch has a valid CRC");
        assert_eq!(stored.base_offset, *base);
        assert_eq!(stored.partition_leader_epoch, 3);
        assert_eq!(
            (
                stored.records_count,
                stored.last_offset_delta,
                stored.attributes & !8
            ),
            (h.records_count, h.last_offset_delta, h.attributes & !8)
        );
        assert_eq!(
            &bytes[61..stored.total_len()],
            &sent[61..],
            "records changed"
        );
    }
    for ts in [0, FUZZ_NOW, FUZZ_NOW + 100, i64::MAX] {
        if let Some((offset, _)) = log.offset_for_timestamp(ts) {
            assert!(
                (start..end).contains(&offset),
                "{offset} outside {start}..{end}"
            );
        }
    }
    // MAX_TIMESTAMP may name an offset below a log start that DeleteRecords moved into the
    // middle of a batch or segment, as Kafka's does (it looks at whole segments).
    if let Some((offset, _)) = log.max_timestamp() {
        assert!((0..end).contains(&offset), "{offset} outside 0..{end}");
    }
    for offset in start..end.min(start + 64) {
        let _ = log.read(offset, 1 << 12).map(|s| s.read_bytes());
    }
}

/// A fresh private directory under the system temp dir (no `tempfile` in non-test builds).
fn tempdir() -> std::io::Result<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gregor-fuzz-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
