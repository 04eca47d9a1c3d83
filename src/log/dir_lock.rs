//! [`DirLock`]: an exclusive advisory lock on a data directory, held for the life of the broker
//! (Kafka's `FileLock` on `<log.dir>/.lock`), so a second broker pointed at the same directory
//! stops before it touches any file instead of writing beside the first.
//!
//! The lock is `flock(2)` on `<dir>/.lock`. The kernel drops it when the process exits, however
//! it exits (kill -9 included), so a stale file never blocks a restart. The holder writes its pid
//! into the file so the refusal can say who holds it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Name of the lock file inside the data directory.
pub const LOCK_FILE: &str = ".lock";

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum DirLockError {
    /// Another process (or another broker in this process) holds it.
    #[error(
        "data directory {} is in use by another broker ({holder}); stop it first, or give this \
         one another directory with --data-dir",
        dir.display()
    )]
    InUse {
        /// The data directory.
        dir: PathBuf,
        /// Who holds it, as far as the lock file says.
        holder: String,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock data directory {}: {source}", dir.display())]
    Io {
        /// The data directory.
        dir: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// The held lock; dropping it releases the directory.
#[derive(Debug)]
pub struct DirLock {
    /// The open, locked `.lock` file.
    _file: File,
}

impl DirLock {
    /// Locks `dir` (which must exist) or says who holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, DirLockError> {
        let io = |source| DirLockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.trim().parse::<u32>() {
                    Ok(pid) if pid == std::process::id() => {
                        format!("this process, pid {pid}")
                    }
                    Ok(pid) => format!("pid {pid}"),
                    Err(_) => format!("see {}", path.display()),
                };
                return Err(DirLockError::InUse {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(e) => return Err(io(e.into())),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(DirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let e = DirLock::acquire(dir.path()).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, DirLockError::InUse { .. }), "{msg}");
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        drop(first);
        assert!(DirLock::acquire(dir.path()).is_ok());
    }
}
