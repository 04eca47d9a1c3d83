//! Entry points for the fuzz targets under `fuzz/` and for the regression test that replays
//! their findings (`tests/fuzz_regressions.rs`). Each takes arbitrary bytes and must return
//! without panicking, whatever they hold; nothing here is used by the broker itself.

use bytes::{Bytes, BytesMut};

use crate::group::records::RecordKey;
use crate::group::OffsetsLogRecord;
use crate::log::producer_state::ProducerStateManager;
use crate::log::{Log, LogConfig};
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
    let _ = reader::find_record_by_timestamp(data, 0, 0, 1 << 20);
    if let Some(h) = batch::BatchHeader::parse(data) {
        if let Ok(mut r) = reader::RecordReader::new(data, &h, 1 << 20) {
            while let Ok(Some(_)) = r.next_record(reader::Want::Data) {}
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
    if let Ok(log) = Log::open(&dir, LogConfig::default(), true) {
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
