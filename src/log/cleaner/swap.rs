//! Swapping cleaned segments in, and finishing a swap a crash interrupted (Kafka's
//! `LocalLog.replaceSegments` and the swap-file recovery of `LogLoader`).
//!
//! A cleaned group of segments `[X, next)` becomes one segment at base `X`:
//!
//! 1. `X.{txnindex,index,timeindex}.cleaned` are renamed to `.swap`, then `X.log.cleaned` to
//!    `X.log.swap`; the directory is fsynced. From here the cleaned segment is the truth.
//! 2. Each old segment's files are renamed to `.deleted`.
//! 3. `X.*.swap` are renamed to their final names, the log file last; directory fsync.
//! 4. The `.deleted` files are removed.
//!
//! On open ([`recover_interrupted`], when the listing finds such files, before anything is
//! judged an orphan): `.cleaned` and
//! `.deleted` files are removed; for each `X.log.swap`, the old segments it replaces (those
//! with a base offset in `(X, its next offset)`) are removed, its `.txnindex.swap` takes the
//! place of `X.txnindex` (if it is gone, step 3 had already moved it), its offset and time
//! indexes are dropped to be rebuilt from the log, and it becomes `X.log`. Swap files of
//! indexes with no log swap are leftovers of step 1 and removed.

use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::super::error::LogError;
use super::super::fs::FileSystem;
use super::super::partition_log::PartitionLog;
use super::super::segment::{self, LogSegment};
use super::super::txn_index::{self, AbortedTxn};
use crate::record::batch::{BatchHeader, BATCH_HEADER_LEN};

/// Suffix of a cleaned segment's files being written.
pub(super) const CLEANED: &str = ".cleaned";
/// Suffix of a cleaned segment's files being swapped in.
pub(super) const SWAP: &str = ".swap";
/// Suffix of a replaced segment's files about to be removed.
pub(super) const DELETED: &str = ".deleted";

/// `path` with `suffix` appended to its file name.
pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Whether a file of a partition directory is one a cleaner pass leaves only while it runs.
pub(crate) fn is_leftover(name: &str) -> bool {
    [CLEANED, SWAP, DELETED].iter().any(|s| name.ends_with(s))
}

fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

/// Removes a cleaned segment that will not be swapped in (best effort: the next open removes
/// whatever is left).
pub(super) fn discard(fs: &dyn FileSystem, dir: &Path, base: i64, seg: LogSegment) {
    let txn = with_suffix(&txn_index::path(dir, base), CLEANED);
    if let Err(e) = seg.delete_files().and_then(|()| fs.remove_file(&txn)) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a cleaned segment");
    }
}

impl PartitionLog {
    /// Step 4 of a pass: swaps `new` (a cleaned `.cleaned` segment) in for the segments with
    /// base offsets `old` (consecutive, none active), and puts `aborts` in the
    /// aborted-transaction index in place of their entries. `Ok(false)`, with `new` removed,
    /// if those segments are no longer all there.
    pub(super) fn install_cleaned(
        &mut self,
        new: LogSegment,
        old: &[i64],
        aborts: &[AbortedTxn],
    ) -> Result<bool, LogError> {
        let at = self
            .segments
            .iter()
            .position(|s| s.base_offset() == old[0])
            .filter(|&i| {
                i + old.len() < self.segments.len()
                    && self.segments[i..i + old.len()]
                        .iter()
                        .map(LogSegment::base_offset)
                        .eq(old.iter().copied())
            });
        let Some(i) = at.filter(|_| self.check_online().is_ok()) else {
            discard(self.log_dir.fs(), &self.dir, new.base_offset(), new);
            return Ok(false);
        };
        self.guarded(|log| log.swap_in(i, old.len(), new, aborts))
            .map(|()| true)
    }

    fn swap_in(
        &mut self,
        i: usize,
        n: usize,
        mut new: LogSegment,
        aborts: &[AbortedTxn],
    ) -> Result<(), LogError> {
        let dir = self.dir.clone();
        let fs = self.log_dir.fs_arc();
        let err = |what: &'static str| {
            let dir = dir.clone();
            move |e: io::Error| LogError::io(what, &dir, e)
        };
        let base = new.base_offset();
        let txn = txn_index::path(&dir, base);
        // 1. The commit point: the log file's `.swap`.
        fs.rename(&with_suffix(&txn, CLEANED), &with_suffix(&txn, SWAP))
            .map_err(err("swap in cleaned segment"))?;
        new.rename_suffix(CLEANED, SWAP)
            .map_err(err("swap in cleaned segment"))?;
        fs.sync_dir(&dir).map_err(err("swap in cleaned segment"))?;
        // 2. The old segments out of the way.
        for seg in &mut self.segments[i..i + n] {
            let old_txn = txn_index::path(&dir, seg.base_offset());
            if exists(&old_txn) {
                fs.rename(&old_txn, &with_suffix(&old_txn, DELETED))
                    .map_err(err("retire replaced segment"))?;
            }
            seg.rename_suffix("", DELETED)
                .map_err(err("retire replaced segment"))?;
        }
        // 3. The new segment under its real names.
        fs.rename(&with_suffix(&txn, SWAP), &txn)
            .map_err(err("swap in cleaned segment"))?;
        new.rename_suffix(SWAP, "")
            .map_err(err("swap in cleaned segment"))?;
        fs.sync_dir(&dir).map_err(err("swap in cleaned segment"))?;
        // 4. Memory follows, and the old files go.
        let next = self.segments[i + n].base_offset();
        new.set_next_offset(next);
        let old: Vec<LogSegment> = self.segments.splice(i..i + n, [new]).collect();
        for seg in old {
            let old_txn = with_suffix(&txn_index::path(&dir, seg.base_offset()), DELETED);
            seg.delete_files()
                .and_then(|()| fs.remove_file(&old_txn))
                .map_err(err("delete replaced segment"))?;
        }
        self.txn_index.replace_range(base, next, aborts);
        Ok(())
    }
}

/// The next offset after the last whole batch of the file at `path` (its base offset if none).
fn next_offset_of(path: &Path, base: i64) -> io::Result<i64> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut pos = 0u64;
    let mut next = base;
    let mut head = [0u8; BATCH_HEADER_LEN];
    while pos + BATCH_HEADER_LEN as u64 <= size {
        file.read_exact_at(&mut head, pos)?;
        let Some(h) = BatchHeader::parse(&head) else {
            break;
        };
        let len = h.total_len() as u64;
        if len < BATCH_HEADER_LEN as u64 || pos + len > size {
            break;
        }
        next = h.next_offset();
        pos += len;
    }
    Ok(next)
}

/// Finishes or undoes what a crash left of the cleaner's renames in `dir`; see the module
/// documentation. Called by the loader before it lists the segments.
pub(crate) fn recover_interrupted(fs: &dyn FileSystem, dir: &Path) -> io::Result<()> {
    let mut log_swaps: Vec<i64> = Vec::new();
    let mut other_swaps: Vec<PathBuf> = Vec::new();
    let mut segments: Vec<i64> = Vec::new();
    let mut changed = false;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(CLEANED) || name.ends_with(DELETED) {
            tracing::info!(file = %entry.path().display(), "removing a leftover of an interrupted log cleaning");
            fs.remove_file(&entry.path())?;
            changed = true;
        } else if let Some(stem) = name.strip_suffix(SWAP) {
            match segment::parse_log_file_name(stem) {
                Some(base) => log_swaps.push(base),
                None => other_swaps.push(entry.path()),
            }
        } else if let Some(base) = segment::parse_log_file_name(name) {
            segments.push(base);
        }
    }
    log_swaps.sort_unstable();
    for &base in &log_swaps {
        let log = dir.join(segment::file_name(base, "log"));
        let swap_log = with_suffix(&log, SWAP);
        let next = next_offset_of(&swap_log, base)?;
        for &old in segments.iter().filter(|&&b| b > base && b < next) {
            for ext in ["log", "index", "timeindex", "txnindex"] {
                fs.remove_file(&dir.join(segment::file_name(old, ext)))?;
            }
        }
        let txn = txn_index::path(dir, base);
        let swap_txn = with_suffix(&txn, SWAP);
        if exists(&swap_txn) {
            fs.rename(&swap_txn, &txn)?;
        }
        for ext in ["index", "timeindex"] {
            let p = dir.join(segment::file_name(base, ext));
            fs.remove_file(&p)?;
            fs.remove_file(&with_suffix(&p, SWAP))?;
        }
        fs.rename(&swap_log, &log)?;
        tracing::warn!(file = %log.display(), replaced_up_to = next, "finished a segment swap interrupted by a crash");
        changed = true;
    }
    for p in other_swaps {
        if exists(&p) {
            fs.remove_file(&p)?;
            changed = true;
        }
    }
    if changed {
        fs.sync_dir(dir)?;
    }
    Ok(())
}
