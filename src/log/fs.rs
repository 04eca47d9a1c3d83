//! The file-system seam: every operation by which the log changes what is on disk goes through
//! [`FileSystem`] (as raft-engine's `FileSystem` trait), so tests can make any of them fail the
//! way a full disk or a removed directory would, and check that the broker answers
//! KAFKA_STORAGE_ERROR instead of panicking or acknowledging data it did not write.
//!
//! Reads do not go through the seam: fetches pread (and later `sendfile`) the `File` handles
//! directly, outside the partition lock. A file is opened through the seam, so a test can
//! still make opening fail.
//!
//! - [`StdFileSystem`]: the real thing, `std::fs` and positioned I/O.
//! - [`FaultInjectingFileSystem`]: wraps it and fails chosen operations on chosen paths with a
//!   chosen OS error, until told to stop.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The writes the log makes. Every method names the path it works on, for errors and for
/// fault injection. Implementations must be usable from several threads at once.
pub trait FileSystem: Send + Sync + fmt::Debug {
    /// Creates (or truncates) `path` and opens it for reading and writing.
    fn create(&self, path: &Path) -> io::Result<File>;
    /// Opens an existing `path` for reading and writing.
    fn open(&self, path: &Path) -> io::Result<File>;
    /// Writes all of `buf` at byte `pos` of `file` (which is `path`).
    fn write_at(&self, path: &Path, file: &File, buf: &[u8], pos: u64) -> io::Result<()>;

    /// Writes the concatenation of `parts` at byte `pos` (appends: patched batch headers
    /// between untouched batch bodies). By default one [`Self::write_at`] per part.
    fn write_parts_at(
        &self,
        path: &Path,
        file: &File,
        parts: &[&[u8]],
        pos: u64,
    ) -> io::Result<()> {
        let mut at = pos;
        for p in parts {
            self.write_at(path, file, p, at)?;
            at += p.len() as u64;
        }
        Ok(())
    }
    /// Sets the length of `file` (which is `path`).
    fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()>;
    /// Flushes `file`'s data (and the metadata needed to read it) to the device.
    fn sync(&self, path: &Path, file: &File) -> io::Result<()>;
    /// Fsyncs a directory, making creates, renames and deletes in it durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file; a missing file is not an error.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything in it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;

    /// Writes a whole file without fsync (data that is rebuilt after a crash, such as indexes).
    fn write(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        let f = self.create(path)?;
        self.write_at(path, &f, contents, 0)
    }

    /// Replaces `path` with `contents` atomically: temporary file, fsync, rename, fsync of the
    /// directory. A crash leaves the old or the new contents, never a mix.
    fn write_atomic(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = Path::new(&tmp);
        {
            let f = self.create(tmp)?;
            self.write_at(tmp, &f, contents, 0)?;
            self.sync(tmp, &f)?;
        }
        self.rename(tmp, path)?;
        match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => self.sync_dir(dir),
            _ => Ok(()),
        }
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFileSystem;

impl FileSystem for StdFileSystem {
    fn create(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    fn open(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).open(path)
    }

    fn write_at(&self, _path: &Path, file: &File, buf: &[u8], pos: u64) -> io::Result<()> {
        file.write_all_at(buf, pos)
    }

    /// One `pwritev(2)` per 1,024 parts (IOV_MAX), continued after short writes.
    #[cfg(target_os = "linux")]
    fn write_parts_at(
        &self,
        _path: &Path,
        file: &File,
        parts: &[&[u8]],
        pos: u64,
    ) -> io::Result<()> {
        let mut slices: Vec<io::IoSlice<'_>> = parts.iter().map(|p| io::IoSlice::new(p)).collect();
        let mut rest = &mut slices[..];
        let mut at = pos;
        while !rest.is_empty() {
            let n = rest.len().min(1024);
            let written = match rustix::io::pwritev(file, &rest[..n], at) {
                Ok(w) => w,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            at += written as u64;
            io::IoSlice::advance_slices(&mut rest, written);
        }
        Ok(())
    }

    fn set_len(&self, _path: &Path, file: &File, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    fn sync(&self, _path: &Path, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }
}

/// An operation of [`FileSystem`], for choosing which ones fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsOp {
    /// [`FileSystem::create`] (new segments, index files, temporary files).
    Create,
    /// [`FileSystem::open`].
    Open,
    /// [`FileSystem::write_at`] (appends, index and checkpoint contents).
    Write,
    /// [`FileSystem::set_len`].
    SetLen,
    /// [`FileSystem::sync`] and [`FileSystem::sync_dir`].
    Sync,
    /// [`FileSystem::rename`].
    Rename,
    /// [`FileSystem::remove_file`] and [`FileSystem::remove_dir_all`].
    Remove,
    /// [`FileSystem::create_dir_all`].
    CreateDir,
}

/// Linux `ENOSPC`: what a write to a full disk fails with.
pub const ENOSPC: i32 = 28;
/// Linux `ENOENT`: what creating a file in a removed directory fails with.
pub const ENOENT: i32 = 2;
/// Linux `EIO`: a failing device.
pub const EIO: i32 = 5;
/// Linux `EMFILE`: this process has no file descriptor left.
pub const EMFILE: i32 = 24;

#[derive(Debug, Clone)]
struct Fault {
    op: FsOp,
    path_contains: String,
    errno: i32,
}

/// Decides, before a file operation is done, whether it fails (and with which OS error).
pub trait FsGate: Send + Sync + fmt::Debug {
    /// `Err` fails `op` on `path` without doing it.
    fn check(&self, op: FsOp, path: &Path) -> io::Result<()>;
}

/// A [`FileSystem`] that asks its [`FsGate`] before every operation and hands the ones it lets
/// through to the file system it wraps: the tests' [`FaultInjectingFileSystem`], and the
/// user's `disk` fault rules (`crate::cluster::faults`).
#[derive(Debug)]
pub struct GatedFileSystem<G> {
    inner: Arc<dyn FileSystem>,
    gate: G,
}

impl<G: FsGate> GatedFileSystem<G> {
    /// `inner` behind `gate`.
    pub fn wrap(inner: Arc<dyn FileSystem>, gate: G) -> Self {
        GatedFileSystem { inner, gate }
    }

    /// The gate.
    pub fn gate(&self) -> &G {
        &self.gate
    }
}

impl<G: FsGate> FileSystem for GatedFileSystem<G> {
    fn create(&self, path: &Path) -> io::Result<File> {
        self.gate.check(FsOp::Create, path)?;
        self.inner.create(path)
    }

    fn open(&self, path: &Path) -> io::Result<File> {
        self.gate.check(FsOp::Open, path)?;
        self.inner.open(path)
    }

    fn write_at(&self, path: &Path, file: &File, buf: &[u8], pos: u64) -> io::Result<()> {
        self.gate.check(FsOp::Write, path)?;
        self.inner.write_at(path, file, buf, pos)
    }

    fn write_parts_at(
        &self,
        path: &Path,
        file: &File,
        parts: &[&[u8]],
        pos: u64,
    ) -> io::Result<()> {
        self.gate.check(FsOp::Write, path)?;
        self.inner.write_parts_at(path, file, parts, pos)
    }

    fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        self.gate.check(FsOp::SetLen, path)?;
        self.inner.set_len(path, file, len)
    }

    fn sync(&self, path: &Path, file: &File) -> io::Result<()> {
        self.gate.check(FsOp::Sync, path)?;
        self.inner.sync(path, file)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.gate.check(FsOp::Sync, dir)?;
        self.inner.sync_dir(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.gate.check(FsOp::Rename, from)?;
        self.inner.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.gate.check(FsOp::Remove, path)?;
        self.inner.remove_file(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.gate.check(FsOp::CreateDir, path)?;
        self.inner.create_dir_all(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.gate.check(FsOp::Remove, path)?;
        self.inner.remove_dir_all(path)
    }
}

/// The failures a [`FaultInjectingFileSystem`] injects.
#[derive(Debug, Default)]
pub struct FaultList {
    faults: Mutex<Vec<Fault>>,
    injected: AtomicU64,
}

impl FaultList {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl FsGate for FaultList {
    fn check(&self, op: FsOp, path: &Path) -> io::Result<()> {
        let path = path.to_string_lossy();
        let hit = self
            .lock()
            .iter()
            .find(|f| f.op == op && path.contains(f.path_contains.as_str()))
            .map(|f| f.errno);
        match hit {
            Some(errno) => {
                self.injected.fetch_add(1, Ordering::Relaxed);
                Err(io::Error::from_raw_os_error(errno))
            }
            None => Ok(()),
        }
    }
}

/// [`StdFileSystem`] with failures on demand: after [`Self::fail`], every matching operation
/// returns the given OS error (and does nothing) until [`Self::heal`].
pub type FaultInjectingFileSystem = GatedFileSystem<FaultList>;

impl Default for GatedFileSystem<FaultList> {
    fn default() -> Self {
        GatedFileSystem::wrap(Arc::new(StdFileSystem), FaultList::default())
    }
}

impl GatedFileSystem<FaultList> {
    /// A file system with no faults yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `op` on any path containing `path_contains` fail with OS error `errno` (for
    /// example [`ENOSPC`]).
    pub fn fail(&self, op: FsOp, path_contains: &str, errno: i32) {
        self.gate.lock().push(Fault {
            op,
            path_contains: path_contains.to_string(),
            errno,
        });
    }

    /// Removes every fault.
    pub fn heal(&self) {
        self.gate.lock().clear();
    }

    /// How many operations have been failed so far.
    pub fn injected(&self) -> u64 {
        self.gate.injected.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_hit_only_matching_operations_and_paths() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultInjectingFileSystem::new();
        let a = dir.path().join("a.log");
        let b = dir.path().join("b.log");
        fs.fail(FsOp::Write, "a.log", ENOSPC);
        let fa = fs.create(&a).unwrap();
        let err = fs.write_at(&a, &fa, b"x", 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(ENOSPC));
        assert_eq!(
            std::fs::metadata(&a).unwrap().len(),
            0,
            "a failed write writes nothing"
        );
        fs.write_atomic(&b, b"ok").unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"ok");
        assert_eq!(fs.injected(), 1);
        fs.heal();
        fs.write_at(&a, &fa, b"x", 0).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"x");
    }

    #[test]
    fn parts_are_written_in_order_past_iov_max() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parts");
        let fs = StdFileSystem;
        let f = fs.create(&path).unwrap();
        let data: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| vec![(i % 251) as u8; (i % 7) as usize])
            .collect();
        let parts: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        fs.write_at(&path, &f, b"head", 0).unwrap();
        fs.write_parts_at(&path, &f, &parts, 4).unwrap();
        let mut expected = b"head".to_vec();
        expected.extend(data.concat());
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }

    #[test]
    fn write_atomic_leaves_the_old_contents_when_a_step_fails() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultInjectingFileSystem::new();
        let p = dir.path().join("checkpoint");
        fs.write_atomic(&p, b"1\n").unwrap();
        for op in [FsOp::Create, FsOp::Write, FsOp::Sync, FsOp::Rename] {
            fs.fail(op, "checkpoint", EIO);
            assert!(fs.write_atomic(&p, b"2\n").is_err(), "{op:?}");
            fs.heal();
            assert_eq!(std::fs::read(&p).unwrap(), b"1\n", "{op:?}");
        }
    }
}
