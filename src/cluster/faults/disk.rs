//! [`RuleFileSystem`]: the log's file-system seam with the `disk` fault rules in front, so a
//! user can make a partition's disk fail (ENOSPC, EIO, ...) from the same rule set as the
//! request faults. The broker then does what it does on a real disk error: the log directory
//! goes offline, appends answer KAFKA_STORAGE_ERROR, and a restart recovers.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::Faults;
use crate::log::{FileSystem, FsOp};

/// A [`FileSystem`] that fails an operation when a `disk` rule of [`Faults`] matches it, and
/// otherwise hands it to the file system it wraps.
#[derive(Debug)]
pub struct RuleFileSystem {
    inner: Arc<dyn FileSystem>,
    faults: Arc<Faults>,
}

impl RuleFileSystem {
    /// `inner` behind the `disk` rules of `faults`.
    pub fn new(inner: Arc<dyn FileSystem>, faults: Arc<Faults>) -> RuleFileSystem {
        RuleFileSystem { inner, faults }
    }

    fn check(&self, op: FsOp, path: &Path) -> io::Result<()> {
        match self.faults.disk_error(op, path) {
            Some(errno) => Err(io::Error::from_raw_os_error(errno)),
            None => Ok(()),
        }
    }
}

impl FileSystem for RuleFileSystem {
    fn create(&self, path: &Path) -> io::Result<File> {
        self.check(FsOp::Create, path)?;
        self.inner.create(path)
    }

    fn open(&self, path: &Path) -> io::Result<File> {
        self.check(FsOp::Open, path)?;
        self.inner.open(path)
    }

    fn write_at(&self, path: &Path, file: &File, buf: &[u8], pos: u64) -> io::Result<()> {
        self.check(FsOp::Write, path)?;
        self.inner.write_at(path, file, buf, pos)
    }

    fn write_parts_at(
        &self,
        path: &Path,
        file: &File,
        parts: &[&[u8]],
        pos: u64,
    ) -> io::Result<()> {
        self.check(FsOp::Write, path)?;
        self.inner.write_parts_at(path, file, parts, pos)
    }

    fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        self.check(FsOp::SetLen, path)?;
        self.inner.set_len(path, file, len)
    }

    fn sync(&self, path: &Path, file: &File) -> io::Result<()> {
        self.check(FsOp::Sync, path)?;
        self.inner.sync(path, file)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check(FsOp::Sync, dir)?;
        self.inner.sync_dir(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(FsOp::Rename, from)?;
        self.inner.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.check(FsOp::Remove, path)?;
        self.inner.remove_file(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check(FsOp::CreateDir, path)?;
        self.inner.create_dir_all(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check(FsOp::Remove, path)?;
        self.inner.remove_dir_all(path)
    }
}
