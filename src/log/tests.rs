//! Tests of the whole partition log against real files in temporary directories.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
};
use kafka_protocol::ResponseError;

use super::segment::file_name;
use super::*;
use crate::record::batch::{frame_batches, BatchHeader};

const NOW: i64 = 1_700_000_000_000;

/// One batch of `n` records of `value_len` bytes, timestamps from `first_ts` (also for other
/// modules' tests).
pub(crate) fn encode(
    n: usize,
    first_ts: i64,
    value_len: usize,
    compression: Compression,
) -> Vec<u8> {
    encode_with_producer(n, first_ts, value_len, compression, None)
}

/// One batch of `n` records; `producer` is `(producer id, epoch, first sequence)`.
fn encode_with_producer(
    n: usize,
    first_ts: i64,
    value_len: usize,
    compression: Compression,
    producer: Option<(i64, i16, i32)>,
) -> Vec<u8> {
    encode_batch(n, first_ts, value_len, compression, producer, false)
}

fn encode_batch(
    n: usize,
    first_ts: i64,
    value_len: usize,
    compression: Compression,
    producer: Option<(i64, i16, i32)>,
    transactional: bool,
) -> Vec<u8> {
    let (pid, epoch, seq) = producer.unwrap_or((NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE));
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // offset - sequence must be constant for the encoder to keep records in one batch.
            sequence: seq.wrapping_add(i as i32),
            timestamp: first_ts + i as i64,
            key: None,
            value: Some(Bytes::from(vec![b'x'; value_len])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.to_vec()
}

/// Appends one batch of `n` records with timestamps from `ts`, at leader epoch `epoch`.
fn append_batch(
    log: &mut PartitionLog,
    n: usize,
    ts: i64,
    value_len: usize,
    epoch: i32,
) -> AppendInfo {
    let b = encode(n, ts, value_len, Compression::None);
    let headers = frame_batches(&b).unwrap();
    log.append(&b, &headers, epoch, NOW).unwrap()
}

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 100,
        ..LogConfig::default()
    }
}

/// Every record offset in the bytes, in order.
fn offsets_in(bytes: Bytes) -> Vec<i64> {
    let mut b = bytes;
    RecordBatchDecoder::decode_all(&mut b)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.records.into_iter().map(|r| r.offset))
        .collect()
}

fn headers_in(bytes: &[u8]) -> Vec<BatchHeader> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let h = crate::record::batch::check_batch(&bytes[pos..], pos).unwrap();
        pos += h.total_len();
        out.push(h);
    }
    out
}

/// Reads the whole log from `from` by following fetches, returning all record offsets.
fn read_all(log: &PartitionLog, from: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut next = from;
    while next < log.log_end_offset() {
        let slice = log.read(next, 300).unwrap();
        assert!(slice.len > 0, "empty read at {next}");
        let bytes = slice.read_bytes().unwrap();
        for h in headers_in(&bytes) {
            next = h.next_offset();
        }
        out.extend(offsets_in(bytes).into_iter().filter(|&o| o >= from));
    }
    out
}

fn seg_path(dir: &Path, base: i64, ext: &str) -> std::path::PathBuf {
    dir.join(file_name(base, ext))
}

#[test]
fn append_assigns_contiguous_offsets_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));

    let mut buf = encode(3, NOW, 10, Compression::None);
    buf.extend(encode(2, NOW, 10, Compression::Gzip));
    buf.extend(encode(4, NOW, 10, Compression::Zstd));
    let headers = frame_batches(&buf).unwrap();
    let info = log.append(&buf, &headers, 0, NOW).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (0, 8));
    assert_eq!(info.log_append_time, -1);
    assert_eq!(info.log_start_offset, 0);
    // The caller's buffer is left as it was; the stored batches carry the assigned offsets.
    assert_eq!(buf, {
        let mut b = encode(3, NOW, 10, Compression::None);
        b.extend(encode(2, NOW, 10, Compression::Gzip));
        b.extend(encode(4, NOW, 10, Compression::Zstd));
        b
    });
    let stored_bytes = log.read(0, 1 << 20).unwrap().read_bytes().unwrap();
    let stored: Vec<(i64, i64)> = headers_in(&stored_bytes)
        .iter()
        .map(|h| (h.base_offset, h.last_offset()))
        .collect();
    assert_eq!(stored, [(0, 2), (3, 4), (5, 8)]);

    let info = append_batch(&mut log, 2, NOW, 10, 0);
    assert_eq!((info.base_offset, info.last_offset), (9, 10));
    assert_eq!(log.high_watermark(), 11);

    let all = log.read(0, 1 << 20).unwrap().read_bytes().unwrap();
    assert_eq!(offsets_in(all), (0..11).collect::<Vec<_>>());
    assert!(log.read(11, 100).unwrap().is_empty());
    assert!(matches!(
        log.read(12, 100),
        Err(LogError::OffsetOutOfRange { offset: 12, .. })
    ));
    assert_eq!(
        log.read(-1, 100).unwrap_err().code(),
        ResponseError::OffsetOutOfRange
    );
}

#[test]
fn append_and_read_back_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    for i in 0..40 {
        append_batch(&mut log, 1 + i % 3, NOW + i as i64, 40, 0);
    }
    let leo = log.log_end_offset();
    assert_eq!(leo, (0..40).map(|i| 1 + i % 3).sum::<i64>());
    assert!(log.segment_count() > 3, "{}", log.segment_count());
    let bases = log.segment_base_offsets();
    for seg in bases.iter() {
        assert!(seg_path(dir.path(), *seg, "log").exists());
    }
    // Segments respect segment.bytes.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "log") {
            assert!(std::fs::metadata(&p).unwrap().len() <= 1024);
        }
    }
    assert_eq!(read_all(&log, 0), (0..leo).collect::<Vec<_>>());
    // Every offset can be fetched and the answer starts with the batch containing it.
    for offset in 0..leo {
        let bytes = log.read(offset, 1).unwrap().read_bytes().unwrap();
        let hs = headers_in(&bytes);
        assert_eq!(hs.len(), 1, "KIP-74 min one batch at {offset}");
        assert!(hs[0].base_offset <= offset && offset <= hs[0].last_offset());
    }
    // A read never crosses into the next segment.
    let slice = log.read(bases[1] - 1, 1 << 20).unwrap();
    let hs = headers_in(&slice.read_bytes().unwrap());
    assert!(hs.last().unwrap().next_offset() <= bases[1]);
}

#[test]
fn read_inside_batch_and_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
    for _ in 0..10 {
        append_batch(&mut log, 5, NOW, 20, 0);
    }
    let batch_len = log.size_bytes() as usize / 10;
    let slice = log.read(12, 1).unwrap();
    let hs = headers_in(&slice.read_bytes().unwrap());
    assert_eq!(hs.len(), 1);
    assert_eq!((hs[0].base_offset, hs[0].last_offset()), (10, 14));
    assert_eq!(slice.position as usize, 2 * batch_len);

    // max_bytes covers whole batches only.
    for (max, expected) in [
        (batch_len * 3, 3),
        (batch_len * 3 + batch_len / 2, 3),
        (batch_len * 4 - 1, 3),
    ] {
        let slice = log.read(12, max).unwrap();
        assert_eq!(slice.len, expected * batch_len, "max {max}");
    }
    let slice = log.read(0, usize::MAX).unwrap();
    assert_eq!(slice.len, 10 * batch_len);
}

#[test]
fn kip74_oversize_batch_is_returned_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
    append_batch(&mut log, 1, NOW, 10, 0);
    append_batch(&mut log, 3, NOW, 5000, 0);
    append_batch(&mut log, 1, NOW, 10, 0);
    let slice = log.read(1, 100).unwrap();
    assert!(slice.len > 15_000);
    let hs = headers_in(&slice.read_bytes().unwrap());
    assert_eq!(hs.len(), 1);
    assert_eq!((hs[0].base_offset, hs[0].last_offset()), (1, 3));
}

#[test]
fn index_entries_follow_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        index_interval_bytes: 250,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config, false).unwrap();
    for _ in 0..50 {
        append_batch(&mut log, 2, NOW, 30, 0);
    }
    log.flush().unwrap();
    let index = std::fs::read(seg_path(dir.path(), 0, "index")).unwrap();
    assert_eq!(index.len() % 8, 0);
    let batch_len = log.size_bytes() / 50;
    let entries = index.len() / 8;
    // One entry each time more than 250 bytes were written since the previous one.
    let per_entry = 250 / batch_len + 1;
    assert_eq!(entries as u64, (50 - 1) / per_entry);
    for (i, e) in index.chunks_exact(8).enumerate() {
        let rel = u32::from_be_bytes(e[..4].try_into().unwrap()) as u64;
        let pos = u32::from_be_bytes(e[4..].try_into().unwrap()) as u64;
        let batch_no = (i as u64 + 1) * per_entry;
        assert_eq!(pos, batch_no * batch_len);
        assert_eq!(rel, batch_no * 2 + 1, "entry maps the batch's last offset");
    }
    assert_eq!(read_all(&log, 37), (37..100).collect::<Vec<_>>());
}

#[test]
fn reopen_after_clean_close_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    for i in 0..30 {
        append_batch(&mut log, 2, NOW + i * 10, 40, (i / 10) as i32);
    }
    log.close().unwrap();
    let (leo, bases, size) = (
        log.log_end_offset(),
        log.segment_base_offsets(),
        log.size_bytes(),
    );
    let max_ts = log.max_timestamp();
    drop(log);

    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(log.segment_base_offsets(), bases);
    assert_eq!(log.size_bytes(), size);
    assert_eq!(log.max_timestamp(), max_ts);
    assert_eq!(log.end_offset_for_epoch(0), (0, 20));
    assert_eq!(log.end_offset_for_epoch(2), (2, leo));
    assert_eq!(read_all(&log, 0), (0..leo).collect::<Vec<_>>());
    let info = append_batch(&mut log, 1, NOW, 10, 2);
    assert_eq!(info.base_offset, leo);
}

#[test]
fn recovery_cuts_a_torn_tail_at_any_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
    let mut ends = vec![0u64];
    for _ in 0..6 {
        append_batch(&mut log, 3, NOW, 25, 0);
        ends.push(log.size_bytes());
    }
    log.close().unwrap();
    drop(log);
    let path = seg_path(dir.path(), 0, "log");
    let full = std::fs::read(&path).unwrap();
    // Cut at each interesting point: batch boundaries, inside headers, inside records.
    let cuts = [
        0,
        1,
        30,
        61,
        ends[1],
        ends[2] + 7,
        ends[4] - 1,
        ends[5] + 60,
    ];
    for cut in cuts {
        std::fs::write(&path, &full[..cut as usize]).unwrap();
        let log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
        let whole = ends.iter().filter(|&&e| e <= cut).count() as i64 - 1;
        assert_eq!(log.log_end_offset(), whole * 3, "cut at {cut}");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            ends[whole as usize]
        );
        assert_eq!(read_all(&log, 0), (0..whole * 3).collect::<Vec<_>>());
        drop(log);
        std::fs::write(&path, &full).unwrap();
        // Indexes written by the recovery are for the cut file; rebuild them for the next round.
        let _ = std::fs::remove_file(seg_path(dir.path(), 0, "index"));
    }
}

#[test]
fn recovery_cuts_from_a_corrupt_batch_and_drops_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 600,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config.clone(), false).unwrap();
    for _ in 0..12 {
        append_batch(&mut log, 2, NOW, 60, 0);
    }
    assert!(log.segment_count() >= 3);
    let bases = log.segment_base_offsets();
    // Flush up to here: recovery starts in the segment containing the recovery point.
    log.flush().unwrap();
    let rp = log.recovery_point();
    drop(log);
    // Pretend the broker crashed with the recovery point inside segment 1, then corrupt the
    // second batch of segment 1.
    checkpoint::write_offset(
        &crate::log::StdFileSystem,
        dir.path(),
        checkpoint::RECOVERY_POINT_FILE,
        bases[1],
    )
    .unwrap();
    let path = seg_path(dir.path(), bases[1], "log");
    let mut bytes = std::fs::read(&path).unwrap();
    let first_len = BatchHeader::parse(&bytes).unwrap().total_len();
    bytes[first_len + 70] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let log = PartitionLog::open(dir.path(), config, true).unwrap();
    assert_eq!(log.log_end_offset(), bases[1] + 2);
    assert_eq!(log.segment_base_offsets(), &bases[..2]);
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, first_len);
    assert!(!seg_path(dir.path(), bases[2], "log").exists());
    assert_eq!(read_all(&log, 0), (0..bases[1] + 2).collect::<Vec<_>>());
    assert!(rp > log.recovery_point() || rp == log.log_end_offset());
    assert_eq!(log.recovery_point(), log.log_end_offset());
}

#[test]
fn recovery_skips_segments_below_the_recovery_point() {
    // As in Kafka, only segments from the one holding the recovery point are scanned: a flipped
    // byte in an older, flushed segment is not looked for (its CRC is checked by consumers).
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    for _ in 0..20 {
        append_batch(&mut log, 1, NOW, 40, 0);
    }
    log.close().unwrap();
    let (leo, bases) = (log.log_end_offset(), log.segment_base_offsets());
    assert!(bases.len() > 2);
    drop(log);
    let path = seg_path(dir.path(), bases[0], "log");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[70] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(log.segment_base_offsets(), bases);

    // Without a recovery point everything is scanned and the corrupt batch is cut, with every
    // later segment.
    drop(log);
    std::fs::remove_file(dir.path().join(checkpoint::RECOVERY_POINT_FILE)).unwrap();
    let log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.segment_base_offsets(), [0]);
}

#[test]
fn missing_or_corrupt_index_files_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    for i in 0..30 {
        append_batch(&mut log, 2, NOW + i, 40, 0);
    }
    log.close().unwrap();
    let leo = log.log_end_offset();
    let bases = log.segment_base_offsets();
    let index0 = std::fs::read(seg_path(dir.path(), bases[0], "index")).unwrap();
    assert!(!index0.is_empty());
    drop(log);

    std::fs::remove_file(seg_path(dir.path(), bases[0], "index")).unwrap();
    std::fs::remove_file(seg_path(dir.path(), bases[1], "timeindex")).unwrap();
    std::fs::write(seg_path(dir.path(), bases[2], "index"), [1, 2, 3]).unwrap();
    let last = *bases.last().unwrap();
    std::fs::remove_file(seg_path(dir.path(), last, "index")).unwrap();
    // An orphan index is removed.
    std::fs::write(seg_path(dir.path(), 999_999, "index"), []).unwrap();

    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(read_all(&log, 0), (0..leo).collect::<Vec<_>>());
    assert_eq!(
        std::fs::read(seg_path(dir.path(), bases[0], "index")).unwrap(),
        index0
    );
    assert!(seg_path(dir.path(), bases[1], "timeindex").exists());
    assert!(!seg_path(dir.path(), 999_999, "index").exists());
    assert_eq!(append_batch(&mut log, 1, NOW, 1, 0).base_offset, leo);
}

#[test]
fn offset_for_timestamp_and_max_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    assert_eq!(log.offset_for_timestamp(0), None);
    assert_eq!(log.max_timestamp(), None);
    // Batch i holds offsets 3i..3i+2 with timestamps 1000*i + 0..2.
    for i in 0..20 {
        append_batch(&mut log, 3, 1000 * i, 40, 0);
    }
    assert!(log.segment_count() > 2);
    assert_eq!(log.offset_for_timestamp(0), Some((0, 0)));
    assert_eq!(log.offset_for_timestamp(5000), Some((15, 5000)));
    assert_eq!(log.offset_for_timestamp(5001), Some((16, 5001)));
    assert_eq!(log.offset_for_timestamp(5003), Some((18, 6000)));
    assert_eq!(log.offset_for_timestamp(19_002), Some((59, 19_002)));
    assert_eq!(log.offset_for_timestamp(19_003), None);
    assert_eq!(log.max_timestamp(), Some((59, 19_002)));

    // Compressed batches are refined to the record too.
    let b = encode(4, 50_000, 10, Compression::Snappy);
    let h = frame_batches(&b).unwrap();
    log.append(&b, &h, 0, NOW).unwrap();
    assert_eq!(log.offset_for_timestamp(50_002), Some((62, 50_002)));
    assert_eq!(log.max_timestamp(), Some((63, 50_003)));

    // Records below the log start offset are not answered.
    log.delete_records_before(16).unwrap();
    assert_eq!(log.offset_for_timestamp(0), Some((16, 5001)));

    // Survives a reopen (time index loaded from disk).
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    assert_eq!(log.offset_for_timestamp(5003), Some((18, 6000)));
    assert_eq!(log.max_timestamp(), Some((63, 50_003)));
}

#[test]
fn log_append_time_topics() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        message_timestamp_log_append: true,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config, false).unwrap();
    let info = append_batch(&mut log, 3, 5, 10, 0);
    assert_eq!(info.log_append_time, NOW);
    let bytes = log.read(0, 1000).unwrap().read_bytes().unwrap();
    let h = headers_in(&bytes)[0];
    assert!(h.timestamp_type_log_append());
    assert_eq!(h.max_timestamp, NOW);
    assert_eq!(log.offset_for_timestamp(NOW), Some((0, NOW)));
    assert_eq!(log.max_timestamp(), Some((0, NOW)));
    // The stamped batch's CRC was recomputed: it validates, and a recovery scan keeps it.
    crate::record::batch::check_batch(&bytes, 0).expect("valid CRC after stamping");
    drop(log);
    let config = LogConfig {
        message_timestamp_log_append: true,
        ..LogConfig::default()
    };
    let log = PartitionLog::open(dir.path(), config, true).unwrap();
    assert_eq!(log.log_end_offset(), 3);
}

#[test]
fn delete_records_deletes_segments_and_persists_log_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    for _ in 0..30 {
        append_batch(&mut log, 2, NOW, 40, 0);
    }
    let bases = log.segment_base_offsets();
    let leo = log.log_end_offset();
    assert!(matches!(
        log.delete_records_before(leo + 1),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.delete_records_before(0).unwrap(), 0);

    // Inside segment 1: segment 0 goes, segment 1 stays.
    let target = bases[1] + 3;
    assert_eq!(log.delete_records_before(target).unwrap(), target);
    assert_eq!(log.log_start_offset(), target);
    assert_eq!(log.segment_base_offsets(), &bases[1..]);
    assert!(!seg_path(dir.path(), bases[0], "log").exists());
    assert!(matches!(
        log.read(target - 1, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // Reading at the log start returns the batch containing it.
    let hs = headers_in(&log.read(target, 1).unwrap().read_bytes().unwrap());
    assert!(hs[0].base_offset <= target && target <= hs[0].last_offset());
    // Moving backwards is a no-op.
    assert_eq!(log.delete_records_before(5).unwrap(), target);
    drop(log);

    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    assert_eq!(log.log_start_offset(), target);
    assert_eq!(log.log_end_offset(), leo);

    // Everything: only the active segment is kept, and appends continue from the end.
    assert_eq!(log.delete_records_before(leo).unwrap(), leo);
    assert_eq!(log.segment_count(), 1);
    assert!(log.read(leo, 100).unwrap().is_empty());
    let info = append_batch(&mut log, 1, NOW, 1, 0);
    assert_eq!((info.base_offset, info.log_start_offset), (leo, leo));
    drop(log);
    let log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    assert_eq!(
        (log.log_start_offset(), log.log_end_offset()),
        (leo, leo + 1)
    );
}

#[test]
fn retention_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: 1000,
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config, false).unwrap();
    // Old data, then new data.
    for i in 0..12 {
        append_batch(&mut log, 2, NOW - 10_000 + i, 40, 0);
    }
    log.roll_for_test(NOW);
    for i in 0..12 {
        append_batch(&mut log, 2, NOW + i, 40, 0);
    }
    let bases = log.segment_base_offsets();
    let old_segments = bases.iter().filter(|&&b| b < 24).count();
    assert_eq!(log.apply_retention(NOW).unwrap(), old_segments);
    assert_eq!(log.log_start_offset(), 24);
    assert_eq!(read_all(&log, 24), (24..48).collect::<Vec<_>>());
    assert_eq!(log.apply_retention(NOW).unwrap(), 0);

    // Later everything expires: the active segment is rolled and deleted too.
    let leo = log.log_end_offset();
    let n = log.segment_count();
    assert_eq!(log.apply_retention(NOW + 5000).unwrap(), n);
    assert_eq!(log.segment_count(), 1);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (leo, leo));
    assert_eq!(log.size_bytes(), 0);
    // An empty active segment is never deleted.
    assert_eq!(log.apply_retention(NOW + 10_000).unwrap(), 0);
    drop(log);
    let log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (leo, leo));
}

#[test]
fn retention_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    for _ in 0..40 {
        append_batch(&mut log, 1, NOW, 40, 0);
    }
    let total = log.size_bytes();
    let n = log.segment_count();
    let mut config = small_config();
    config.retention_bytes = (total / 2) as i64;
    log.set_config(config);
    let deleted = log.apply_retention(NOW).unwrap();
    assert!(deleted > 0 && deleted < n, "{deleted} of {n}");
    // Kafka deletes a segment only if the log stays at or above retention.bytes without it.
    let first = std::fs::metadata(seg_path(dir.path(), log.segment_base_offsets()[0], "log"))
        .unwrap()
        .len();
    assert!(log.size_bytes() >= total / 2);
    assert!(log.size_bytes() - first < total / 2);
    assert_eq!(log.log_start_offset(), log.segment_base_offsets()[0]);
    assert_eq!(log.apply_retention(NOW).unwrap(), 0);
}

#[test]
fn segment_ms_rolls_by_batch_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config, false).unwrap();
    append_batch(&mut log, 1, 10_000, 10, 0);
    append_batch(&mut log, 1, 10_900, 10, 0);
    assert_eq!(log.segment_count(), 1);
    append_batch(&mut log, 1, 11_001, 10, 0);
    assert_eq!(log.segment_base_offsets(), [0, 2]);
}

#[test]
fn too_large_and_invalid_appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    let b = encode(1, NOW, 2000, Compression::None);
    let h = frame_batches(&b).unwrap();
    let e = log.append(&b, &h, 0, NOW).unwrap_err();
    assert_eq!(e.code(), ResponseError::RecordListTooLarge);
    let b = encode(1, NOW, 10, Compression::None);
    let e = log.append(&b, &[], 0, NOW).unwrap_err();
    assert_eq!(e.code(), ResponseError::CorruptMessage);
    let h = frame_batches(&b).unwrap();
    let mut longer = b.clone();
    longer.push(0);
    assert!(log.append(&longer, &h, 0, NOW).is_err());
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
}

#[test]
fn leader_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
    assert_eq!(log.end_offset_for_epoch(0), (-1, -1));
    append_batch(&mut log, 5, NOW, 1, 0);
    assert_eq!(log.end_offset_for_epoch(0), (0, 5));
    append_batch(&mut log, 5, NOW, 1, 2);
    append_batch(&mut log, 5, NOW, 1, 2);
    append_batch(&mut log, 5, NOW, 1, 5);
    assert_eq!(log.latest_epoch(), Some(5));
    assert_eq!(log.end_offset_for_epoch(0), (0, 5));
    assert_eq!(log.end_offset_for_epoch(1), (0, 5));
    assert_eq!(log.end_offset_for_epoch(2), (2, 15));
    assert_eq!(log.end_offset_for_epoch(5), (5, 20));
    assert_eq!(log.end_offset_for_epoch(6), (-1, -1));
    // Stored batches carry the epoch they were appended in.
    let hs = headers_in(&log.read(0, 1 << 20).unwrap().read_bytes().unwrap());
    let epochs: Vec<i32> = hs.iter().map(|h| h.partition_leader_epoch).collect();
    assert_eq!(epochs, [0, 2, 2, 5]);
    let text = std::fs::read_to_string(dir.path().join(epoch::LEADER_EPOCH_FILE)).unwrap();
    assert_eq!(text, "0\n3\n0 0\n2 5\n5 15\n");
    drop(log);

    // A lost checkpoint is rebuilt from the batch headers.
    std::fs::remove_file(dir.path().join(epoch::LEADER_EPOCH_FILE)).unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
    assert_eq!(log.end_offset_for_epoch(2), (2, 15));
    assert_eq!(log.end_offset_for_epoch(5), (5, 20));
    // DeleteRecords moves the first epoch's start.
    log.delete_records_before(7).unwrap();
    assert_eq!(log.end_offset_for_epoch(0), (0, 7));
    assert_eq!(log.end_offset_for_epoch(2), (2, 15));
}

#[test]
fn flush_messages_moves_the_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_messages: 4,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config, false).unwrap();
    append_batch(&mut log, 3, NOW, 1, 0);
    assert_eq!(log.recovery_point(), 0);
    append_batch(&mut log, 3, NOW, 1, 0);
    assert_eq!(log.recovery_point(), 6);
    let rp = checkpoint::read_offset(dir.path(), checkpoint::RECOVERY_POINT_FILE).unwrap();
    assert_eq!(rp, Some(6));
    assert!(!log.maybe_flush(NOW).unwrap());
}

#[test]
fn delete_dir_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("t-0");
    let mut log = PartitionLog::open(&part, LogConfig::default(), false).unwrap();
    append_batch(&mut log, 2, NOW, 1, 0);
    let slice = log.read(0, 100).unwrap();
    log.delete_dir().unwrap();
    assert!(!part.exists());
    // A reader that located bytes before the deletion can still read them.
    assert_eq!(offsets_in(slice.read_bytes().unwrap()), [0, 1]);
}

/// One idempotent batch of `n` records from producer `pid` at `epoch`, first sequence `seq`.
fn idempotent(pid: i64, epoch: i16, seq: i32, n: usize) -> Vec<u8> {
    encode_with_producer(n, NOW, 2, Compression::None, Some((pid, epoch, seq)))
}

fn append_raw(log: &mut PartitionLog, b: Vec<u8>) -> Result<AppendInfo, LogError> {
    let headers = frame_batches(&b).unwrap();
    log.append(&b, &headers, 0, NOW)
}

#[test]
fn idempotent_retry_is_stored_once_and_answered_with_its_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
    append_batch(&mut log, 2, NOW, 10, 0);
    let first = append_raw(&mut log, idempotent(5, 0, 0, 3)).unwrap();
    assert_eq!((first.base_offset, first.last_offset), (2, 4));
    append_raw(&mut log, idempotent(5, 0, 3, 1)).unwrap();
    let size = log.size_bytes();
    // The retry of the first batch: same offsets, nothing written.
    let retry = append_raw(&mut log, idempotent(5, 0, 0, 3)).unwrap();
    assert_eq!((retry.base_offset, retry.last_offset), (2, 4));
    assert_eq!(log.size_bytes(), size);
    assert_eq!(log.log_end_offset(), 6);
    // A gap and a fenced epoch are refused with Kafka's codes, nothing written.
    let gap = append_raw(&mut log, idempotent(5, 0, 9, 1)).unwrap_err();
    assert_eq!(gap.code(), ResponseError::OutOfOrderSequenceNumber);
    append_raw(&mut log, idempotent(5, 1, 0, 1)).unwrap();
    let fenced = append_raw(&mut log, idempotent(5, 0, 4, 1)).unwrap_err();
    assert_eq!(fenced.code(), ResponseError::InvalidProducerEpoch);
    assert_eq!(log.log_end_offset(), 7);
}

#[test]
fn producer_state_survives_restart_from_snapshot_without_rescanning() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
        for seq in 0..20 {
            append_raw(&mut log, idempotent(8, 0, seq * 2, 2)).unwrap();
        }
        log.close().unwrap();
    }
    // Clean stop: the snapshot covers everything; nothing is replayed.
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    assert_eq!(log.producer_replayed_batches(), 0);
    let retry = append_raw(&mut log, idempotent(8, 0, 38, 2)).unwrap();
    assert_eq!(
        retry.base_offset, 38,
        "duplicate of the last batch found after restart"
    );
    // Crash after more appends (no close): only the batches after the last snapshot (written
    // when a segment rolled) are replayed, not the whole log.
    for seq in 20..30 {
        append_raw(&mut log, idempotent(8, 0, seq * 2, 2)).unwrap();
    }
    let total_batches = 30;
    drop(log);
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    let replayed = log.producer_replayed_batches();
    assert!(
        replayed > 0 && replayed < total_batches,
        "replayed {replayed}"
    );
    let retry = append_raw(&mut log, idempotent(8, 0, 58, 2)).unwrap();
    assert_eq!(retry.base_offset, 58);
    assert_eq!(log.log_end_offset(), 60);
    assert!(
        append_raw(&mut log, idempotent(8, 0, 70, 1)).is_err(),
        "gap still detected"
    );
}

#[test]
fn io_error_takes_the_log_dir_offline_and_nothing_advances() {
    let dir = tempfile::tempdir().unwrap();
    let fs = std::sync::Arc::new(FaultInjectingFileSystem::new());
    let log_dir = LogDir::new(dir.path(), fs.clone());
    let part = dir.path().join("t-0");
    let mut log = PartitionLog::open_in(&log_dir, &part, small_config(), false).unwrap();
    append_batch(&mut log, 2, NOW, 10, 0);
    fs.fail(FsOp::Write, "t-0/", fs::ENOSPC);
    let batch = encode(1, NOW, 10, Compression::None);
    let headers = headers_in(&batch);
    let err = log.append(&batch, &headers, 0, NOW).unwrap_err();
    assert!(matches!(err, LogError::Io { .. }), "{err}");
    assert_eq!(err.code(), ResponseError::KafkaStorageError);
    assert_eq!(log.log_end_offset(), 2, "a failed write assigns no offsets");
    assert!(log_dir.is_offline());
    // Every later operation is refused, even with the fault gone.
    fs.heal();
    let err = log.append(&batch, &headers, 0, NOW).unwrap_err();
    assert!(matches!(err, LogError::LogDirOffline { .. }), "{err}");
    assert!(matches!(
        log.read(0, 1000),
        Err(LogError::LogDirOffline { .. })
    ));
    assert!(log.flush().is_err());
    drop(log);
    // A new start (a fresh LogDir) recovers what was written.
    let mut log =
        PartitionLog::open_in(&LogDir::std(dir.path()), &part, small_config(), true).unwrap();
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(read_all(&log, 0), vec![0, 1]);
    append_batch(&mut log, 1, NOW, 10, 0);
    assert_eq!(log.log_end_offset(), 3);
}

#[test]
fn failed_fsync_of_a_rolled_segment_takes_the_log_dir_offline() {
    let dir = tempfile::tempdir().unwrap();
    let fs = std::sync::Arc::new(FaultInjectingFileSystem::new());
    let log_dir = LogDir::new(dir.path(), fs.clone());
    let mut log =
        PartitionLog::open_in(&log_dir, &dir.path().join("t-0"), small_config(), false).unwrap();
    append_batch(&mut log, 2, NOW, 10, 0);
    fs.fail(FsOp::Sync, "00000000000000000000.log", fs::EIO);
    log.roll_for_test(NOW);
    // The fsync runs on its own thread: wait for it (bounded) rather than for a fixed time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !log_dir.is_offline() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(log_dir.is_offline());
    assert_eq!(fs.injected(), 1);
    let batch = encode(1, NOW, 10, Compression::None);
    let headers = headers_in(&batch);
    assert_eq!(
        log.append(&batch, &headers, 0, NOW).unwrap_err().code(),
        ResponseError::KafkaStorageError
    );
}

#[test]
fn a_failed_leader_epoch_checkpoint_fails_the_append_and_the_log_dir() {
    let dir = tempfile::tempdir().unwrap();
    let fs = std::sync::Arc::new(FaultInjectingFileSystem::new());
    let log_dir = LogDir::new(dir.path(), fs.clone());
    let mut log =
        PartitionLog::open_in(&log_dir, &dir.path().join("t-0"), small_config(), false).unwrap();
    append_batch(&mut log, 1, NOW, 10, 0);
    fs.fail(FsOp::Create, "leader-epoch-checkpoint", fs::EIO);
    // A new leader epoch must be checkpointed before the append is acknowledged.
    let batch = encode(1, NOW, 10, Compression::None);
    let headers = headers_in(&batch);
    let err = log.append(&batch, &headers, 1, NOW).unwrap_err();
    assert_eq!(err.code(), ResponseError::KafkaStorageError, "{err}");
    assert!(log_dir.is_offline());
}

/// One transactional batch of `n` records from producer `pid` at `epoch`, first sequence `seq`.
fn transactional(pid: i64, epoch: i16, seq: i32, n: usize) -> Vec<u8> {
    encode_batch(n, NOW, 2, Compression::None, Some((pid, epoch, seq)), true)
}

fn marker(
    log: &mut PartitionLog,
    pid: i64,
    epoch: i16,
    commit: bool,
) -> Result<AppendInfo, LogError> {
    let m = crate::record::control::ControlMarker {
        producer_id: pid,
        producer_epoch: epoch,
        commit,
        coordinator_epoch: 0,
    };
    log.append_marker(&m, 0, NOW)
}

#[test]
fn markers_move_the_last_stable_offset_and_read_committed_stops_there() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
    append_batch(&mut log, 2, NOW, 10, 0); // 0-1
    let first_len = log.read(0, 1 << 20).unwrap().len;
    append_raw(&mut log, transactional(7, 0, 0, 3)).unwrap(); // 2-4, open
    assert_eq!(log.last_stable_offset(), 2);
    let r = log.read_committed(0, 1 << 20).unwrap();
    assert_eq!(r.slice.len, first_len, "only the batch below the LSO");
    assert!(r.aborted.is_empty());
    assert_eq!(log.read_committed(2, 1 << 20).unwrap().slice.len, 0);
    append_raw(&mut log, transactional(8, 0, 0, 2)).unwrap(); // 5-6, open
    assert_eq!(log.open_transactions(), vec![(7, 2), (8, 5)]);
    assert_eq!(marker(&mut log, 7, 0, false).unwrap().base_offset, 7);
    assert_eq!(log.last_stable_offset(), 5, "producer 8 still open");
    assert_eq!(log.producer_state().entry(7).unwrap().coordinator_epoch, 0);
    assert_eq!(log.producer_state().entry(8).unwrap().coordinator_epoch, -1);
    // The read stops before producer 8's batch, and lists the abort it overlaps.
    let r = log.read_committed(0, 1 << 20).unwrap();
    assert_eq!(r.aborted, vec![(7, 2)]);
    marker(&mut log, 8, 0, true).unwrap(); // 8
    assert_eq!(log.last_stable_offset(), 9);
    assert_eq!(log.last_stable_offset(), log.high_watermark());
    let all = log.read_committed(0, 1 << 20).unwrap();
    assert_eq!(all.slice.len, log.read(0, 1 << 20).unwrap().len);
    assert_eq!(all.aborted, vec![(7, 2)]);
    assert!(log.read_committed(8, 1 << 20).unwrap().aborted.is_empty());
    // A marker from an older epoch than the producer's is refused.
    append_raw(&mut log, transactional(9, 3, 0, 1)).unwrap();
    let fenced = marker(&mut log, 9, 2, false).unwrap_err();
    assert_eq!(fenced.code(), ResponseError::InvalidProducerEpoch);
    // A marker with a bumped epoch (the coordinator fencing the producer) ends the
    // transaction, and the old epoch cannot write after it.
    marker(&mut log, 9, 4, false).unwrap();
    let zombie = append_raw(&mut log, transactional(9, 3, 1, 1)).unwrap_err();
    assert_eq!(zombie.code(), ResponseError::InvalidProducerEpoch);
    assert_eq!(log.aborted_transactions().len(), 2);
}

#[test]
fn the_aborted_index_and_open_transactions_survive_a_clean_stop_and_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
        append_raw(&mut log, transactional(7, 0, 0, 3)).unwrap(); // 0-2
        marker(&mut log, 7, 0, false).unwrap(); // 3
        append_raw(&mut log, transactional(8, 0, 0, 2)).unwrap(); // 4-5, open
        log.close().unwrap();
    }
    let txn_index = super::txn_index::path(dir.path(), 0);
    assert_eq!(std::fs::metadata(&txn_index).unwrap().len(), 34);
    {
        let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
        assert_eq!(log.aborted_transactions().len(), 1);
        assert_eq!(
            log.last_stable_offset(),
            4,
            "the open transaction came back from the snapshot"
        );
        marker(&mut log, 8, 0, false).unwrap(); // 6
                                                // A crash (no close) that lost the index file: recovery replays the markers.
        drop(log);
    }
    std::fs::remove_file(&txn_index).unwrap();
    for snapshot in super::producer_state::list_snapshots(dir.path()) {
        std::fs::remove_file(snapshot.1).unwrap();
    }
    let log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
    let got: Vec<(i64, i64, i64)> = log
        .aborted_transactions()
        .iter()
        .map(|a| (a.producer_id, a.first_offset, a.last_offset))
        .collect();
    assert_eq!(got, vec![(7, 0, 3), (8, 4, 6)]);
    assert_eq!(log.last_stable_offset(), 7);
    assert_eq!(
        std::fs::metadata(&txn_index).unwrap().len(),
        68,
        "rewritten"
    );
}

#[test]
fn a_batch_verified_before_its_transaction_ended_is_refused_after_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
    let append = |log: &mut PartitionLog, seq: i32, token: u64| {
        let b = transactional(7, 0, seq, 1);
        let headers = frame_batches(&b).unwrap();
        log.append_verified(&b, &headers, 0, NOW, (7, token))
    };
    // Two batches of one transaction in flight share the guard.
    let t1 = log.begin_verification(7);
    assert_eq!(log.begin_verification(7), t1);
    append(&mut log, 0, t1).unwrap();
    // The transaction ends while a third batch (verified with t1) is delayed.
    marker(&mut log, 7, 0, false).unwrap();
    let late = append(&mut log, 1, t1).unwrap_err();
    assert_eq!(late.code(), ResponseError::InvalidTxnState);
    assert_eq!(
        log.last_stable_offset(),
        log.high_watermark(),
        "no transaction was opened"
    );
    // The next transaction verifies afresh; a failed verification leaves no guard behind.
    let t2 = log.begin_verification(7);
    assert_ne!(t2, t1);
    log.end_verification(7, t2);
    let t3 = log.begin_verification(7);
    assert_ne!(t3, t2);
    append(&mut log, 1, t3).unwrap();
    assert_eq!(log.open_transactions(), vec![(7, 2)]);
}

#[test]
fn a_damaged_aborted_index_is_rebuilt_from_the_markers_even_behind_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
        append_raw(&mut log, transactional(7, 0, 0, 3)).unwrap(); // 0-2
        marker(&mut log, 7, 0, false).unwrap(); // 3
        append_raw(&mut log, transactional(8, 0, 0, 1)).unwrap(); // 4
        marker(&mut log, 8, 0, false).unwrap(); // 5
        log.close().unwrap(); // the snapshot covers both markers
    }
    let index = super::txn_index::path(dir.path(), 0);
    let bytes = std::fs::read(&index).unwrap();
    std::fs::write(&index, &bytes[..40]).unwrap(); // one entry and a torn one
    let log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
    let got: Vec<(i64, i64)> = log
        .aborted_transactions()
        .iter()
        .map(|a| (a.producer_id, a.first_offset))
        .collect();
    assert_eq!(got, vec![(7, 0), (8, 4)]);
    assert_eq!(std::fs::read(&index).unwrap(), bytes, "rewritten whole");
}
