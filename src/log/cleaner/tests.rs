//! The cleaner against real logs in temporary directories, on a clock driven by hand.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::*;
use crate::clock::Clock;
use crate::log::fs::{FaultInjectingFileSystem, FileSystem, FsOp, StdFileSystem, EIO};
use crate::log::AppendInfo;
use crate::record::batch::{frame_batches, DELETE_HORIZON_BIT, TRANSACTIONAL_BIT};
use crate::record::builder::{build_batch, put_record, BatchFields, RecordFields};

const T0: i64 = 1_700_000_000_000;
const DAY: i64 = 24 * 60 * 60 * 1000;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 256,
        compact: true,
        retention_ms: -1,
        ..LogConfig::default()
    }
}

fn open(dir: &Path, clock: &Clock, fs: Arc<dyn FileSystem>, recover: bool) -> PartitionLog {
    let log_dir = LogDir::with_options(dir.parent().unwrap(), fs, 64, clock.clone());
    PartitionLog::open_in(&log_dir, dir, config(), recover).unwrap()
}

/// A new compacted log in a temporary directory (kept alive by the first value) on a clock at
/// [`T0`].
fn fresh() -> (tempfile::TempDir, std::path::PathBuf, Clock, PartitionLog) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t-0");
    let clock = Clock::manual(T0);
    let log = open(&path, &clock, Arc::new(StdFileSystem), false);
    (dir, path, clock, log)
}

/// One batch of keyed records (`None` value: a tombstone), from `producer` (id, epoch, first
/// sequence) if given.
fn keyed(
    records: &[(&str, Option<&str>)],
    producer: Option<(i64, i16, i32)>,
    transactional: bool,
    ts: i64,
) -> Vec<u8> {
    let mut section = Vec::new();
    for (i, (k, v)) in records.iter().enumerate() {
        put_record(
            &mut section,
            &RecordFields {
                timestamp_delta: i as i64,
                offset_delta: i as i32,
                key: Some(k.as_bytes()),
                value: v.map(str::as_bytes),
                headers: &[(b"h", Some(b"hv"))],
            },
        );
    }
    let (pid, epoch, seq) = producer.unwrap_or((-1, -1, -1));
    build_batch(
        &BatchFields {
            attributes: if transactional { TRANSACTIONAL_BIT } else { 0 },
            last_offset_delta: records.len() as i32 - 1,
            base_timestamp: ts,
            max_timestamp: ts + records.len() as i64 - 1,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: records.len() as i32,
            ..BatchFields::default()
        },
        &section,
    )
}

fn append(log: &mut PartitionLog, batch: Vec<u8>, now: i64) -> AppendInfo {
    let headers = frame_batches(&batch).unwrap();
    log.append(&batch, &headers, 0, now).unwrap()
}

/// `n` batches of one record each, keys `k{i % keys}`, values `v{i}`.
fn fill(log: &mut PartitionLog, n: usize, keys: usize, now: i64) {
    for i in 0..n {
        let (k, v) = (format!("k{}", i % keys), format!("v{i}"));
        append(log, keyed(&[(&k, Some(&v))], None, false, now), now);
    }
}

/// One record read back: offset, key, value.
type Rec = (i64, String, Option<String>);

/// Every record from the log start, and the stored batch headers.
fn records(log: &PartitionLog) -> (Vec<Rec>, Vec<BatchHeader>) {
    let mut out = Vec::new();
    let mut headers = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.log_end_offset() {
        let bytes = log.read(next, 1 << 20).unwrap().read_bytes().unwrap();
        assert!(!bytes.is_empty(), "nothing at {next}");
        let mut pos = 0;
        while pos + BATCH_HEADER_LEN <= bytes.len() {
            let h = BatchHeader::parse(&bytes[pos..]).unwrap();
            if pos + h.total_len() > bytes.len() {
                break;
            }
            let b = &bytes[pos..pos + h.total_len()];
            batch::check_crc(b, &h, pos).unwrap();
            if h.last_offset() >= next {
                headers.push(h);
                let mut r = RecordReader::new(b, &h, 1 << 30).unwrap();
                while let Some(m) = r.next_record(Want::Data).unwrap() {
                    let text =
                        |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
                    if !h.is_control() {
                        out.push((
                            h.base_offset + i64::from(m.offset_delta),
                            text(r.key()).unwrap(),
                            text(r.value()),
                        ));
                    }
                }
            }
            next = next.max(h.next_offset());
            pos += h.total_len();
        }
    }
    (out, headers)
}

/// The latest (offset, value) of each key.
fn latest(recs: &[Rec]) -> BTreeMap<String, (i64, Option<String>)> {
    recs.iter()
        .map(|(o, k, v)| (k.clone(), (*o, v.clone())))
        .collect()
}

fn run(log: &Mutex<PartitionLog>) -> Option<CleanStats> {
    clean(
        log,
        &CleanerConfig::default(),
        true,
        &AtomicBool::new(false),
    )
    .unwrap()
}

#[test]
fn keeps_the_latest_record_of_each_key_with_offsets_and_order_unchanged() {
    let (_dir, path, clock, mut log) = fresh();
    fill(&mut log, 2000, 50, T0);
    let (before, _) = records(&log);
    let want = latest(&before);
    let segments_before = log.segment_count();
    let size_before = log.size_bytes();
    let log = Mutex::new(log);
    let d = log.lock().unwrap().dirtiness(T0).unwrap();
    assert!(
        d.wants_cleaning() && d.ratio == 1.0 && d.clean_bytes == 0,
        "{d:?}"
    );
    let stats = run(&log).unwrap();
    let active_base = *log.lock().unwrap().segment_base_offsets().last().unwrap();
    assert_eq!(
        stats.end_offset, active_base,
        "the active segment is never cleaned"
    );
    assert_eq!(stats.keys, 50);
    let log = log.into_inner().unwrap();
    let (after, _) = records(&log);
    assert_eq!(
        latest(&after),
        want,
        "the latest value of every key is kept"
    );
    for w in after.windows(2) {
        assert!(w[0].0 < w[1].0, "offsets increase: {:?}", w);
    }
    // Below the active segment, one record per key is left.
    let cleaned: Vec<_> = after.iter().filter(|r| r.0 < active_base).collect();
    let distinct: std::collections::HashSet<_> = cleaned.iter().map(|r| &r.1).collect();
    assert_eq!(cleaned.len(), distinct.len());
    assert!(log.size_bytes() < size_before / 5);
    // Each full segment was its own group; the next pass merges the small cleaned ones.
    let log = Mutex::new(log);
    run(&log).unwrap();
    let mut log = log.into_inner().unwrap();
    assert!(
        log.segment_count() < segments_before / 4,
        "{} segments",
        log.segment_count()
    );
    assert_eq!(records(&log).0, after);
    assert_eq!(log.log_end_offset(), 2000, "the log end does not move");
    assert_eq!(log.cleaner_checkpoint(), Some(active_base));
    // Nothing dirty is left to clean, and a clean stop keeps it all.
    let d = log.dirtiness(T0).unwrap();
    assert_eq!((d.first_dirty, d.cleanable_bytes), (active_base, 0));
    assert!(!d.wants_cleaning());
    log.close().unwrap();
    drop(log);
    let log = open(&path, &clock, Arc::new(StdFileSystem), false);
    assert_eq!(records(&log).0, after);
    assert_eq!(log.cleaner_checkpoint(), Some(active_base));
}

#[test]
fn tombstones_stay_for_delete_retention_ms_then_go() {
    let (_dir, _path, clock, mut log) = fresh();
    append(
        &mut log,
        keyed(&[("a", Some("1")), ("b", Some("1"))], None, false, T0),
        T0,
    );
    append(&mut log, keyed(&[("a", None)], None, false, T0), T0);
    fill(&mut log, 200, 20, T0); // keys k*, rolls segments
    let log = Mutex::new(log);
    run(&log).unwrap();
    let (recs, headers) = records(&log.lock().unwrap());
    assert!(
        recs.iter().any(|r| r.1 == "a" && r.2.is_none()),
        "the tombstone is kept"
    );
    let with_horizon: Vec<_> = headers
        .iter()
        .filter(|h| h.attributes & DELETE_HORIZON_BIT != 0)
        .collect();
    assert_eq!(
        with_horizon.len(),
        1,
        "the tombstone's batch carries its delete horizon"
    );
    assert_eq!(with_horizon[0].delete_horizon_ms(), Some(T0 + DAY));
    // Not yet due: nothing new, horizon not passed.
    clock.set(T0 + DAY - 1);
    assert!(!log
        .lock()
        .unwrap()
        .dirtiness(T0 + DAY - 1)
        .unwrap()
        .wants_cleaning());
    clock.set(T0 + DAY);
    let d = log.lock().unwrap().dirtiness(T0 + DAY).unwrap();
    assert!(d.horizon_passed && d.wants_cleaning(), "{d:?}");
    run(&log).unwrap();
    let (recs, _) = records(&log.lock().unwrap());
    assert!(
        !recs.iter().any(|r| r.1 == "a"),
        "the tombstone is gone once its horizon passed"
    );
    assert!(recs
        .iter()
        .any(|r| r.1 == "b" && r.2.as_deref() == Some("1")));
    assert!(!log
        .lock()
        .unwrap()
        .dirtiness(T0 + DAY)
        .unwrap()
        .wants_cleaning());
}

#[test]
fn aborted_transactions_go_and_markers_follow_after_their_horizon() {
    let (_dir, _path, clock, mut log) = fresh();
    let marker = |log: &mut PartitionLog, pid: i64, commit: bool| {
        let m = crate::record::control::ControlMarker {
            producer_id: pid,
            producer_epoch: 0,
            commit,
            coordinator_epoch: 0,
        };
        log.append_marker(&m, 0, T0).unwrap();
    };
    append(
        &mut log,
        keyed(&[("x", Some("committed"))], Some((7, 0, 0)), true, T0),
        T0,
    );
    append(
        &mut log,
        keyed(
            &[("y", Some("aborted")), ("x", Some("aborted"))],
            Some((8, 0, 0)),
            true,
            T0,
        ),
        T0,
    );
    marker(&mut log, 7, true);
    marker(&mut log, 8, false);
    assert_eq!(log.aborted_transactions().len(), 1);
    fill(&mut log, 200, 10, T0);
    let log = Mutex::new(log);
    run(&log).unwrap();
    {
        let l = log.lock().unwrap();
        let (recs, headers) = records(&l);
        assert!(recs
            .iter()
            .any(|r| r.1 == "x" && r.2.as_deref() == Some("committed")));
        assert!(
            !recs.iter().any(|r| r.2.as_deref() == Some("aborted")),
            "aborted records go"
        );
        // Producer 8's aborted batch was its last: kept, empty, for its sequence.
        let b8 = headers
            .iter()
            .find(|h| h.producer_id == 8 && !h.is_control())
            .unwrap();
        assert_eq!(
            (b8.records_count, b8.base_offset, b8.last_offset_delta),
            (0, 1, 1)
        );
        let markers: Vec<_> = headers.iter().filter(|h| h.is_control()).collect();
        assert_eq!(markers.len(), 2, "both markers stay");
        // The ABORT marker keeps its index entry while a batch of its transaction is there.
        assert_eq!(l.aborted_transactions().len(), 1);
        assert!(markers.iter().all(|h| h.delete_horizon_ms().is_none()));
    }
    // Once the producers expire, the empty batch goes, and the ABORT marker, with nothing
    // left of its transaction, gets a delete horizon; the COMMIT marker's data is still there.
    assert_eq!(log.lock().unwrap().expire_producers(T0 + 10, 0), 2);
    clock.set(T0 + 10);
    run(&log).unwrap();
    let (_, headers) = records(&log.lock().unwrap());
    assert!(!headers
        .iter()
        .any(|h| h.producer_id == 8 && !h.is_control()));
    // This pass still saw (and removed) a batch of the aborted transaction: as Kafka, the
    // marker and its entry wait for a pass that finds none.
    assert_eq!(log.lock().unwrap().aborted_transactions().len(), 1);
    run(&log).unwrap();
    let (_, headers) = records(&log.lock().unwrap());
    let abort = headers
        .iter()
        .find(|h| h.is_control() && h.producer_id == 8)
        .unwrap();
    assert_eq!(abort.delete_horizon_ms(), Some(T0 + 10 + DAY));
    assert!(log.lock().unwrap().aborted_transactions().is_empty());
    let commit = headers
        .iter()
        .find(|h| h.is_control() && h.producer_id == 7)
        .unwrap();
    assert_eq!(commit.delete_horizon_ms(), None);
    // A pass after the horizon removes the ABORT marker.
    clock.set(T0 + 10 + DAY);
    run(&log).unwrap();
    let (recs, headers) = records(&log.lock().unwrap());
    assert!(!headers.iter().any(|h| h.producer_id == 8));
    assert!(recs
        .iter()
        .any(|r| r.1 == "x" && r.2.as_deref() == Some("committed")));
}

#[test]
fn a_producers_last_batch_is_kept_empty_and_its_sequence_survives_a_replay() {
    let (_dir, path, clock, mut log) = fresh();
    append(
        &mut log,
        keyed(&[("k", Some("idempotent"))], Some((5, 0, 0)), false, T0),
        T0,
    );
    fill(&mut log, 300, 1, T0); // "k0" only: segments roll
    append(
        &mut log,
        keyed(&[("k", Some("plain"))], None, false, T0),
        T0,
    );
    fill(&mut log, 300, 1, T0);
    let log = Mutex::new(log);
    run(&log).unwrap();
    let mut log = log.into_inner().unwrap();
    let (recs, headers) = records(&log);
    assert!(!recs.iter().any(|r| r.2.as_deref() == Some("idempotent")));
    let empty = headers.iter().find(|h| h.producer_id == 5).unwrap();
    assert_eq!(
        (
            empty.records_count,
            empty.base_offset,
            empty.last_offset_delta,
            empty.base_sequence
        ),
        (0, 0, 0, 0),
        "the batch is kept without records, offsets and sequence intact"
    );
    // Replayed without a snapshot, the producer state still knows producer 5's sequence: its
    // retry is a duplicate and its next batch follows.
    log.close().unwrap();
    drop(log);
    for (_, p) in crate::log::producer_state::list_snapshots(&path) {
        std::fs::remove_file(p).unwrap();
    }
    let mut log = open(&path, &clock, Arc::new(StdFileSystem), true);
    assert_eq!(log.producer_state().entry(5).map(|e| e.epoch), Some(0));
    let retry = append(
        &mut log,
        keyed(&[("k", Some("idempotent"))], Some((5, 0, 0)), false, T0),
        T0,
    );
    assert_eq!(retry.base_offset, 0, "answered as the duplicate it is");
    let next = append(
        &mut log,
        keyed(&[("k", Some("next"))], Some((5, 0, 1)), false, T0),
        T0,
    );
    assert_eq!(next.base_offset, log.log_end_offset() - 1);
}

#[test]
fn a_full_offset_map_cleans_in_several_passes() {
    let (_dir, _path, _clock, mut log) = fresh();
    // 3,000 distinct keys twice over; the smallest map holds 921.
    fill(&mut log, 6000, 3000, T0);
    let want = latest(&records(&log).0);
    let log = Mutex::new(log);
    let tiny = CleanerConfig {
        dedupe_buffer_bytes: 0,
        ..CleanerConfig::default()
    };
    let stop = AtomicBool::new(false);
    let active = *log.lock().unwrap().segment_base_offsets().last().unwrap();
    let mut passes = 0;
    while log
        .lock()
        .unwrap()
        .cleaner_checkpoint()
        .is_none_or(|c| c < active)
    {
        let s = clean(&log, &tiny, true, &stop).unwrap().unwrap();
        assert!(
            s.keys <= 921 && s.map_full == (s.end_offset < active),
            "{s:?}"
        );
        passes += 1;
        assert!(passes < 20);
    }
    assert!(passes >= 5, "{passes} passes");
    let l = log.lock().unwrap();
    let (after, _) = records(&l);
    assert_eq!(latest(&after), want);
    let cleaned = after.iter().filter(|r| r.0 < active).count();
    let keys_below: std::collections::HashSet<_> = after
        .iter()
        .filter(|r| r.0 < active)
        .map(|r| &r.1)
        .collect();
    assert_eq!(
        cleaned,
        keys_below.len(),
        "one record per key once every pass ran"
    );
}

#[test]
fn a_reader_holding_old_segments_reads_them_through_a_swap() {
    let (_dir, _path, _clock, mut log) = fresh();
    fill(&mut log, 500, 5, T0);
    let slice = log.read(0, 1 << 20).unwrap();
    let log = Mutex::new(log);
    run(&log).unwrap();
    let bytes = slice.read_bytes().unwrap();
    assert_eq!(bytes.len(), slice.len, "the old file is still readable");
    assert_eq!(BatchHeader::parse(&bytes).unwrap().base_offset, 0);
}

#[test]
fn min_compaction_lag_holds_recent_segments_back() {
    let (_dir, _path, _clock, mut log) = fresh();
    log.set_config(LogConfig {
        min_compaction_lag_ms: 60_000,
        ..config()
    });
    fill(&mut log, 200, 5, T0);
    let d = log.dirtiness(T0 + 1000).unwrap();
    assert_eq!(
        d.first_uncleanable, 0,
        "every segment is younger than the lag"
    );
    assert!(!d.wants_cleaning());
    let d = log.dirtiness(T0 + 61_000).unwrap();
    assert!(d.first_uncleanable > 0 && d.wants_cleaning());
}

/// Every way a swap can be cut short leaves, after a restart, the log from before the pass or
/// the one after it: the latest value of each key, no record lost, offsets increasing.
#[test]
fn a_crash_at_any_step_of_a_swap_loses_nothing() {
    let steps: &[(FsOp, &str)] = &[
        (FsOp::Create, ".log.cleaned"),
        (FsOp::Rename, ".txnindex.cleaned"),
        (FsOp::Rename, ".log.cleaned"),
        (FsOp::Rename, "00000000000000000000.log"),
        (FsOp::Rename, "00000000000000000000.timeindex"),
        (FsOp::Rename, ".txnindex.swap"),
        (FsOp::Rename, ".timeindex.swap"),
        (FsOp::Rename, ".log.swap"),
        (FsOp::Remove, ".deleted"),
    ];
    for &(op, at) in steps {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t-0");
        let clock = Clock::manual(T0);
        let fs = Arc::new(FaultInjectingFileSystem::new());
        let mut log = open(&path, &clock, fs.clone(), false);
        // Three segments of one group, plus a second group and the active segment.
        fill(&mut log, 600, 7, T0);
        let (before, _) = records(&log);
        let want = latest(&before);
        log.flush().unwrap();
        let log = Mutex::new(log);
        fs.fail(op, at, EIO);
        let r = clean(
            &log,
            &CleanerConfig::default(),
            true,
            &AtomicBool::new(false),
        );
        assert!(r.is_err(), "{op:?} {at}: the pass fails");
        assert!(fs.injected() > 0, "{op:?} {at}: the fault fired");
        drop(log);
        fs.heal();
        let log = open(&path, &clock, Arc::new(StdFileSystem), true);
        let (after, _) = records(&log);
        assert_eq!(latest(&after), want, "{op:?} {at}");
        for w in after.windows(2) {
            assert!(w[0].0 < w[1].0, "{op:?} {at}: {w:?}");
        }
        let names: Vec<String> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.ends_with(".cleaned")
                || n.ends_with(".swap")
                || n.ends_with(".deleted")),
            "{op:?} {at}: {names:?}"
        );
        // And the log cleans fine afterwards.
        let log = Mutex::new(log);
        run(&log);
        assert_eq!(
            latest(&records(&log.lock().unwrap()).0),
            want,
            "{op:?} {at}"
        );
    }
}

/// A read_committed fetch that starts in segments the cleaner emptied is answered from the next
/// segment with data (here the active one), with that segment's aborted transactions listed.
#[test]
fn read_committed_across_emptied_segments_lists_the_aborts_it_returns() {
    let (_dir, _path, clock, mut log) = fresh();
    fill(&mut log, 100, 10, T0);
    for k in 0..10 {
        let key = format!("k{k}");
        append(&mut log, keyed(&[(&key, None)], None, false, T0), T0);
    }
    log.roll_for_test(T0);
    let active = log.log_end_offset();
    // The active segment: an aborted transaction, then other data.
    append(
        &mut log,
        keyed(&[("x", Some("aborted"))], Some((8, 0, 0)), true, T0),
        T0,
    );
    let m = crate::record::control::ControlMarker {
        producer_id: 8,
        producer_epoch: 0,
        commit: false,
        coordinator_epoch: 0,
    };
    log.append_marker(&m, 0, T0).unwrap();
    append(
        &mut log,
        keyed(&[("y", Some("committed"))], None, false, T0),
        T0,
    );
    let log = Mutex::new(log);
    run(&log).unwrap();
    // Past the tombstones' horizon, the next pass removes them: nothing is left below the
    // active segment.
    clock.set(T0 + DAY);
    run(&log).unwrap();
    let log = log.into_inner().unwrap();
    let r = log.read_committed(0, 1 << 20).unwrap();
    let bytes = r.slice.read_bytes().unwrap();
    assert_eq!(BatchHeader::parse(&bytes).unwrap().base_offset, active);
    assert_eq!(
        r.aborted,
        vec![(8, active)],
        "the abort in what is returned is listed"
    );
}
