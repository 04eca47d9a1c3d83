//! [`LogDir`]: a directory of partition logs, the file system it is written through, and
//! whether it is still online.
//!
//! As in Kafka (`LogDirFailureChannel`), the first I/O error while writing or reading a log
//! takes its whole log directory offline: every partition in it then answers
//! KAFKA_STORAGE_ERROR, nothing more is written there, and the clean-shutdown marker is not
//! written, so the next start recovers the logs as after a crash. Kafka halts a broker whose last
//! log directory failed; Gregor keeps serving (metadata, groups' reads, the error answers) so a
//! test that filled the disk sees errors rather than a vanished broker. Restarting after fixing
//! the cause brings the directory back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::error::LogError;
use super::file_cache::FileCache;
use super::fs::{FileSystem, StdFileSystem};
use crate::clock::Clock;

/// Segment files kept open per log directory unless told otherwise (see [`FileCache`]).
pub const DEFAULT_MAX_OPEN_FILES: usize = 1024;

/// One log directory. Shared (`Arc`) by every partition log in it.
#[derive(Debug)]
pub struct LogDir {
    /// The directory holding the partition directories.
    path: PathBuf,
    /// Every write goes through this.
    fs: Arc<dyn FileSystem>,
    /// Set by the first I/O error; never cleared while the broker runs.
    offline: AtomicBool,
    /// The segment files open now, bounded.
    files: Arc<FileCache>,
    /// The time its logs stamp flushes with (the cluster's clock).
    clock: Clock,
}

impl LogDir {
    /// A log directory written through `fs`.
    pub fn new(path: impl Into<PathBuf>, fs: Arc<dyn FileSystem>) -> Arc<LogDir> {
        Self::with_options(path, fs, DEFAULT_MAX_OPEN_FILES, Clock::system())
    }

    /// A log directory keeping at most `max_open_files` segment files open, on `clock`.
    pub fn with_options(
        path: impl Into<PathBuf>,
        fs: Arc<dyn FileSystem>,
        max_open_files: usize,
        clock: Clock,
    ) -> Arc<LogDir> {
        Arc::new(LogDir {
            path: path.into(),
            fs,
            offline: AtomicBool::new(false),
            files: FileCache::new(max_open_files),
            clock,
        })
    }

    /// The clock its logs use.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The cache of open segment files.
    pub fn files(&self) -> &Arc<FileCache> {
        &self.files
    }

    /// A log directory on the real file system.
    pub fn std(path: impl Into<PathBuf>) -> Arc<LogDir> {
        Self::new(path, Arc::new(StdFileSystem))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file system writes go through.
    pub fn fs(&self) -> &dyn FileSystem {
        self.fs.as_ref()
    }

    /// A shared handle to the file system (for work done off the partition lock).
    pub fn fs_arc(&self) -> Arc<dyn FileSystem> {
        Arc::clone(&self.fs)
    }

    /// Whether an I/O error has taken the directory offline.
    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Acquire)
    }

    /// `Err(LogError::LogDirOffline)` once the directory is offline.
    pub fn check_online(&self) -> Result<(), LogError> {
        if self.is_offline() {
            return Err(LogError::LogDirOffline {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Takes the directory offline because of `cause`; logs once.
    /// (Also what a failed read of a [`crate::record::FileSlice`] of it does.)
    pub fn mark_offline(&self, cause: &dyn std::fmt::Display) {
        if !self.offline.swap(true, Ordering::AcqRel) {
            tracing::error!(
                dir = %self.path.display(),
                cause = %cause,
                "log directory is offline after an I/O error: its partitions answer \
                 KAFKA_STORAGE_ERROR until the broker is restarted"
            );
        }
    }
}

impl crate::record::ReadFailure for LogDir {
    fn read_failed(&self, cause: &dyn std::fmt::Display) {
        self.mark_offline(cause);
    }
}
