//! The small metadata files of a partition directory, each replaced atomically (write a
//! temporary file, fsync, rename, fsync the directory) so a crash leaves the old or the new
//! contents, never a mix:
//!
//! - `recovery-point-offset-checkpoint`: one decimal offset. Everything below it was fsynced;
//!   after an unclean stop only segments from the one containing it are scanned.
//! - `log-start-offset`: one decimal offset, written when DeleteRecords or retention moves the
//!   log start offset.
//! - `leader-epoch-checkpoint`: Kafka's format, see [`super::epoch`].

use std::path::Path;

use super::fs::FileSystem;

/// File name of the recovery point.
pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
/// File name of the persisted log start offset.
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset";

/// Reads a file holding one decimal i64. `None` if missing; unparsable contents are logged and
/// treated as missing (the file is derived data with a safe default).
pub(crate) fn read_offset(dir: &Path, name: &str) -> std::io::Result<Option<i64>> {
    let path = dir.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match text.trim().parse::<i64>() {
        Ok(v) => Ok(Some(v)),
        Err(_) => {
            tracing::warn!(file = %path.display(), "ignoring unparsable checkpoint file");
            Ok(None)
        }
    }
}

/// Writes one decimal i64 to `dir/name` atomically.
pub(crate) fn write_offset(
    fs: &dyn FileSystem,
    dir: &Path,
    name: &str,
    value: i64,
) -> std::io::Result<()> {
    fs.write_atomic(&dir.join(name), format!("{value}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_offset(dir.path(), "x").unwrap(), None);
        write_offset(&crate::log::StdFileSystem, dir.path(), "x", 42).unwrap();
        assert_eq!(read_offset(dir.path(), "x").unwrap(), Some(42));
        std::fs::write(dir.path().join("x"), "garbage").unwrap();
        assert_eq!(read_offset(dir.path(), "x").unwrap(), None);
    }
}
