//! Opening a partition's log from its directory (Kafka's `LogLoader`): checkpoints, segments
//! (loaded from their indexes after a clean stop, scanned and cut after a crash), the offsets
//! that bound the log, the leader epoch cache and the producer state.
//!
//! Steps, each a function below, in order:
//! 1. [`Checkpoints::read`]: log start offset, recovery point, leader epochs.
//! 2. [`load_segments`]: every `.log` file becomes a segment. After an unclean stop those at or
//!    past the recovery point are scanned; the first invalid batch and everything after it is
//!    cut, and later segments are deleted, as in Kafka. Segments with missing or inconsistent
//!    indexes are rebuilt either way.
//! 3. [`settle_offsets`]: the log start offset within the segments, segments wholly below it
//!    deleted (a crash between checkpoint and deletion), an empty log created where needed.
//! 4. Epochs rebuilt from batch headers if their checkpoint is missing, then cut to the log.
//! 5. [`load_producer_state`]: the newest producer snapshot and the batches after it; the
//!    aborted-transaction index, with entries past the log end dropped and those of replayed
//!    ABORT markers re-added (a crash may have lost the file write; a damaged index file makes
//!    the whole log replay, snapshot ignored).
//! 6. After a recovery the result is flushed and checkpointed; after a clean stop the indexes
//!    are written if rebuilt.

use std::path::Path;
use std::sync::Arc;

use super::checkpoint::{self, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE};
use super::config::LogConfig;
use super::epoch::LeaderEpochCache;
use super::error::LogError;
use super::fs::FileSystem;
use super::log_dir::LogDir;
use super::partition_log::PartitionLog;
use super::producer_state::ProducerStateManager;
use super::segment::{self, LogSegment};
use super::txn_index::{AbortedTxn, TxnIndex};
use crate::record::control;

/// What the small checkpoint files say.
struct Checkpoints {
    /// `log-start-offset`, if written.
    log_start: Option<i64>,
    /// `recovery-point-offset-checkpoint`, if written.
    recovery_point: Option<i64>,
    /// `leader-epoch-checkpoint`, if present and readable.
    epochs: Option<LeaderEpochCache>,
}

impl Checkpoints {
    fn read(dir: &Path) -> Result<Checkpoints, LogError> {
        let log_start = checkpoint::read_offset(dir, LOG_START_OFFSET_FILE)
            .map_err(|e| LogError::io("read log start offset", dir, e))?;
        let recovery_point = checkpoint::read_offset(dir, RECOVERY_POINT_FILE)
            .map_err(|e| LogError::io("read recovery point", dir, e))?;
        let epochs = LeaderEpochCache::load(dir).unwrap_or_else(|e| {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read leader epoch checkpoint");
            None
        });
        Ok(Checkpoints {
            log_start,
            recovery_point,
            epochs,
        })
    }
}

/// The segments as loaded, and how many were scanned because of a crash.
struct Loaded {
    segments: Vec<LogSegment>,
    recovered: usize,
}

impl PartitionLog {
    /// Opens (creating if needed) the log in `dir`, in a log directory of its own on the real
    /// file system (tests and tools).
    ///
    /// After a clean stop (`recover == false`) segments are loaded from their index files
    /// without reading the log data, except the batches after the active segment's last index
    /// entry (to find the log end offset). Segments with missing or inconsistent index files
    /// are always rebuilt by scanning.
    ///
    /// After an unclean stop (`recover == true`) every segment from the one containing the
    /// recovery point onward is scanned: each batch's framing and CRC is checked, the first
    /// invalid batch and everything after it is cut (and, as in Kafka, any later segment is
    /// deleted), indexes are rebuilt, and the result is fsynced and checkpointed.
    pub fn open(dir: &Path, config: LogConfig, recover: bool) -> Result<PartitionLog, LogError> {
        let parent = dir.parent().unwrap_or(dir);
        Self::open_in(&LogDir::std(parent), dir, config, recover)
    }

    /// [`Self::open`] for a partition directory `dir` inside `log_dir`, writing through its
    /// file system. See the module documentation for the steps.
    pub fn open_in(
        log_dir: &Arc<LogDir>,
        dir: &Path,
        config: LogConfig,
        recover: bool,
    ) -> Result<PartitionLog, LogError> {
        log_dir.check_online()?;
        let now = log_dir.clock().now_ms();
        log_dir
            .fs()
            .create_dir_all(dir)
            .map_err(|e| LogError::io("create log directory", dir, e))?;
        let bases = match list_segments(dir)? {
            Listed::Segments(bases) => bases,
            Listed::CleanerLeftovers => {
                super::cleaner::recover_interrupted(log_dir.fs(), dir)
                    .map_err(|e| LogError::io("recover an interrupted log cleaning", dir, e))?;
                match list_segments(dir)? {
                    Listed::Segments(bases) => bases,
                    Listed::CleanerLeftovers => {
                        return Err(LogError::io(
                            "recover an interrupted log cleaning",
                            dir,
                            std::io::Error::other("cleaner files left after recovery"),
                        ))
                    }
                }
            }
        };
        let checkpoints = Checkpoints::read(dir)?;
        let recover_from = checkpoints.recovery_point.unwrap_or(0);
        let epochs_loaded = checkpoints.epochs.is_some();
        let mut epochs = checkpoints.epochs.unwrap_or_default();

        let Loaded {
            mut segments,
            recovered,
        } = load_segments(
            log_dir,
            dir,
            &bases,
            &config,
            recover.then_some(recover_from),
            &mut epochs,
            now,
        )?;
        let (log_start_offset, log_end_offset) =
            settle_offsets(log_dir, dir, &mut segments, checkpoints.log_start, now)?;

        if !epochs_loaded && log_end_offset > log_start_offset {
            tracing::info!(dir = %dir.display(), "rebuilding leader epoch cache from batch headers");
            epochs = LeaderEpochCache::new();
            for seg in &segments {
                seg.for_each_header(|h| {
                    epochs.assign(h.partition_leader_epoch, h.base_offset);
                })
                .map_err(|e| LogError::io("scan segment", dir, e))?;
            }
        }
        epochs.truncate_from_end(log_end_offset);
        epochs.truncate_from_start(log_start_offset);

        let seg_bases: Vec<i64> = segments.iter().map(LogSegment::base_offset).collect();
        let (mut txn_index, damaged) = TxnIndex::load(dir, &seg_bases)
            .map_err(|e| LogError::io("read transaction index", dir, e))?;
        let mut txn_index_changed = txn_index.truncate_from(log_end_offset) > 0 || damaged;
        let (producers, snapshot_offset, replayed) = load_producer_state(
            dir,
            &segments,
            (log_start_offset, log_end_offset),
            !damaged,
            &mut txn_index,
            &mut txn_index_changed,
        )?;
        if txn_index_changed {
            for (i, &base) in seg_bases.iter().enumerate() {
                txn_index
                    .write_segment(log_dir.fs(), dir, base, seg_bases.get(i + 1).copied())
                    .map_err(|e| LogError::io("write transaction index", dir, e))?;
            }
        }
        let mut log = PartitionLog {
            txn_index,
            verifications: std::collections::HashMap::new(),
            next_verification: 0,
            producers,
            producer_replayed_batches: replayed,
            producer_snapshot_offset: snapshot_offset,
            dir: dir.to_path_buf(),
            log_dir: Arc::clone(log_dir),
            config,
            segments,
            log_start_offset,
            log_end_offset,
            recovery_point: if recover {
                recover_from.clamp(0, log_end_offset)
            } else {
                log_end_offset
            },
            checkpointed_recovery_point: checkpoints.recovery_point,
            epochs,
            last_flush_ms: now,
            cleaner_checkpoint: checkpoint::read_offset(
                dir,
                super::cleaner::CLEANER_CHECKPOINT_FILE,
            )
            .map_err(|e| LogError::io("read cleaner checkpoint", dir, e))?,
            cleaner_horizon: None,
            deleted: false,
        };
        if recover && !bases.is_empty() {
            log.flush_inner()?;
        } else if !recover {
            for seg in &mut log.segments {
                seg.write_indexes()
                    .map_err(|e| LogError::io("write indexes", dir, e))?;
            }
            log.epochs
                .write_if_dirty(log_dir.fs(), &log.dir)
                .map_err(|e| LogError::io("write leader epoch checkpoint", &log.dir, e))?;
        }
        tracing::info!(
            dir = %log.dir.display(),
            segments = log.segments.len(),
            recovered_segments = recovered,
            log_start_offset = log.log_start_offset,
            log_end_offset = log.log_end_offset,
            producers = log.producers.len(),
            producer_snapshot = snapshot_offset,
            producer_replayed_batches = replayed,
            "loaded log"
        );
        Ok(log)
    }
}

/// Step 2: one segment per base offset. `recover_from` is the recovery point after an unclean
/// stop (segments that may hold unflushed data are scanned), `None` after a clean one.
fn load_segments(
    log_dir: &Arc<LogDir>,
    dir: &Path,
    bases: &[i64],
    config: &LogConfig,
    recover_from: Option<i64>,
    epochs: &mut LeaderEpochCache,
    now: i64,
) -> Result<Loaded, LogError> {
    let fs = log_dir.fs_arc();
    let interval = config.index_interval_bytes;
    let mut segments: Vec<LogSegment> = Vec::with_capacity(bases.len().max(1));
    let mut scanned: Vec<bool> = Vec::with_capacity(bases.len());
    let mut recovered = 0usize;
    for (i, &base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied();
        let mut seg = LogSegment::open(fs.clone(), log_dir.files(), dir, base, now)
            .map_err(|e| LogError::io("open segment", dir, e))?;
        let unflushed = recover_from.is_some_and(|rp| next_base.is_none_or(|n| n > rp));
        if unflushed {
            let out = seg
                .recover(interval, Some(epochs))
                .map_err(|e| LogError::io("recover segment", dir, e))?;
            recovered += 1;
            segments.push(seg);
            scanned.push(true);
            if out.truncated_bytes > 0 && next_base.is_some() {
                for &later in &bases[i + 1..] {
                    tracing::warn!(
                        dir = %dir.display(),
                        segment = %segment::file_name(later, "log"),
                        "deleting segment after a truncated one"
                    );
                    delete_segment_files(fs.as_ref(), dir, later);
                }
                break;
            }
            continue;
        }
        let loaded = seg
            .load_indexes(next_base.is_none())
            .map_err(|e| LogError::io("load indexes", dir, e))?;
        if !loaded {
            tracing::warn!(
                file = %seg.log_path().display(),
                "missing or inconsistent index files, rebuilding"
            );
            seg.recover(interval, Some(epochs))
                .map_err(|e| LogError::io("rebuild indexes", dir, e))?;
        }
        segments.push(seg);
        scanned.push(!loaded);
    }
    // A segment loaded from its indexes ends where the next one begins.
    for i in 0..segments.len().saturating_sub(1) {
        if !scanned[i] {
            let next = segments[i + 1].base_offset();
            segments[i].set_next_offset(next);
        }
    }
    Ok(Loaded {
        segments,
        recovered,
    })
}

/// Step 3: the log start and end offsets, with the segments made to agree with them. Returns
/// `(log start offset, log end offset)`.
fn settle_offsets(
    log_dir: &Arc<LogDir>,
    dir: &Path,
    segments: &mut Vec<LogSegment>,
    start_file: Option<i64>,
    now: i64,
) -> Result<(i64, i64), LogError> {
    let create = |base: i64| {
        LogSegment::create(log_dir.fs_arc(), log_dir.files(), dir, base, now)
            .map_err(|e| LogError::io("create segment", dir, e))
    };
    if segments.is_empty() {
        segments.push(create(start_file.unwrap_or(0).max(0))?);
    }
    let first_base = segments[0].base_offset();
    let mut log_end_offset = segments.last().map_or(first_base, |s| s.next_offset());
    let mut log_start_offset = start_file.unwrap_or(first_base).max(first_base);
    if log_start_offset > log_end_offset {
        tracing::warn!(
            dir = %dir.display(),
            log_start_offset,
            log_end_offset,
            "log start offset beyond the recovered log end; starting an empty log there"
        );
        for seg in segments.drain(..) {
            if let Err(e) = seg.delete_files() {
                tracing::warn!(error = %e, "cannot delete segment");
            }
        }
        segments.push(create(log_start_offset)?);
        log_end_offset = log_start_offset;
    }
    // Segments wholly below the log start (a crash between checkpoint and deletion).
    while segments.len() > 1 && segments[1].base_offset() <= log_start_offset {
        let seg = segments.remove(0);
        if let Err(e) = seg.delete_files() {
            tracing::warn!(error = %e, "cannot delete segment below the log start offset");
        }
    }
    log_start_offset = log_start_offset.max(segments[0].base_offset());
    Ok((log_start_offset, log_end_offset))
}

/// Step 5: the newest producer snapshot at or below the log end, and the batch headers after
/// it replayed. Returns the state, the snapshot offset (-1 if none) and the batches replayed.
fn load_producer_state(
    dir: &Path,
    segments: &[LogSegment],
    (log_start_offset, log_end_offset): (i64, i64),
    use_snapshot: bool,
    txn_index: &mut TxnIndex,
    txn_index_changed: &mut bool,
) -> Result<(ProducerStateManager, i64, usize), LogError> {
    // Without the snapshot (the aborted-transaction index was damaged) every batch is
    // replayed, so every ABORT marker's entry is re-added.
    let latest = ProducerStateManager::load_latest(dir, log_end_offset).filter(|_| use_snapshot);
    let (mut state, from, snapshot) = match latest {
        Some((s, at)) => (s, at, at),
        None => (ProducerStateManager::new(), log_start_offset, -1),
    };
    let mut replayed = 0usize;
    if from < log_end_offset {
        for seg in segments.iter().filter(|s| s.next_offset() > from) {
            let mut failed = None;
            seg.for_each_batch_from(from.max(seg.base_offset()), |pos, h| {
                if h.base_offset < from || failed.is_some() {
                    return;
                }
                replayed += 1;
                if !h.is_control() {
                    state.update(h, h.base_offset);
                    return;
                }
                // A marker: its type is in its one record.
                let marker = match seg.read_batch_at(pos, h) {
                    Ok(bytes) => control::read_marker(&bytes, h),
                    Err(e) => {
                        failed = Some(e);
                        return;
                    }
                };
                let Some((commit, coordinator_epoch)) = marker else {
                    return;
                };
                if let Some((first, last)) =
                    state.complete_txn(h, h.base_offset, commit, coordinator_epoch)
                {
                    let lso = state.first_unstable_offset().unwrap_or(last + 1);
                    *txn_index_changed |= txn_index.add(AbortedTxn {
                        producer_id: h.producer_id,
                        first_offset: first,
                        last_offset: last,
                        last_stable_offset: lso,
                    });
                }
            })
            .map_err(|e| LogError::io("replay producer state", dir, e))?;
            if let Some(e) = failed {
                return Err(LogError::io("replay producer state", dir, e));
            }
        }
    }
    Ok((state, snapshot, replayed))
}

/// What is in a partition directory.
enum Listed {
    /// Base offsets of the `.log` files, sorted.
    Segments(Vec<i64>),
    /// Files of an interrupted cleaner pass (`.cleaned`, `.swap`, `.deleted`): to recover
    /// first (see `super::cleaner`), before anything here is judged an orphan.
    CleanerLeftovers,
}

/// The `.log` files in `dir`. Index files without a `.log` are deleted, unless the cleaner left
/// files behind.
fn list_segments(dir: &Path) -> Result<Listed, LogError> {
    let mut bases = Vec::new();
    let mut index_files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| LogError::io("list log directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io("list log directory", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if super::cleaner::is_leftover(name) {
            return Ok(Listed::CleanerLeftovers);
        }
        if let Some(base) = segment::parse_log_file_name(name) {
            bases.push(base);
        } else if let Some(stem) = name
            .strip_suffix(".index")
            .or_else(|| name.strip_suffix(".timeindex"))
            .or_else(|| name.strip_suffix(".txnindex"))
        {
            if let Some(base) = segment::parse_log_file_name(&format!("{stem}.log")) {
                index_files.push((base, entry.path()));
            }
        }
    }
    bases.sort_unstable();
    for (base, path) in index_files {
        if bases.binary_search(&base).is_err() {
            tracing::warn!(file = %path.display(), "deleting index file without a log file");
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(Listed::Segments(bases))
}

fn delete_segment_files(fs: &dyn FileSystem, dir: &Path, base: i64) {
    for ext in ["log", "index", "timeindex", "txnindex"] {
        let path = dir.join(segment::file_name(base, ext));
        if let Err(e) = fs.remove_file(&path) {
            tracing::warn!(file = %path.display(), error = %e, "cannot delete segment file");
        }
    }
}
