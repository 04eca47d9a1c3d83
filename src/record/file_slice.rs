//! [`FileSlice`]: whole record batches of one segment file, located under the partition lock and
//! read (or sent with `sendfile`) after it is released. The log hands them out; the protocol layer
//! encodes them into Fetch responses and the connection sends them. What a failed read means is
//! the owner's business ([`ReadFailure`]: the log directory goes offline).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

/// Told when reading a slice's bytes fails.
pub trait ReadFailure: Send + Sync + std::fmt::Debug {
    /// The bytes promised could not be read: `cause` says why.
    fn read_failed(&self, cause: &dyn std::fmt::Display);
}

/// Whole batches of one segment to be sent to a fetcher: read with [`FileSlice::read_bytes`]
/// after releasing the partition lock.
#[derive(Debug, Clone)]
pub struct FileSlice {
    /// The segment's `.log` file (kept alive even if retention deletes the segment or the file
    /// cache closes it meanwhile); `None` for an empty slice, which needs no file.
    pub file: Option<Arc<File>>,
    /// Byte position of the first batch.
    pub position: u64,
    /// Bytes to read; 0 when the fetch offset is the log end offset.
    pub len: usize,
    /// Told when reading the bytes fails (the log directory).
    pub failure: Arc<dyn ReadFailure>,
}

impl FileSlice {
    /// Reads the bytes (one pread). A failure is reported to [`Self::failure`].
    pub fn read_bytes(&self) -> std::io::Result<Bytes> {
        if self.len == 0 {
            return Ok(Bytes::new());
        }
        let Some(file) = &self.file else {
            return Err(std::io::Error::other(
                "a non-empty file slice without its file",
            ));
        };
        let mut buf = vec![0u8; self.len];
        if let Err(e) = file.read_exact_at(&mut buf, self.position) {
            self.read_failed(&e);
            return Err(e);
        }
        Ok(Bytes::from(buf))
    }

    /// Reports a failed read of these bytes (also by the connection's `sendfile`, when the
    /// file turns out shorter than the slice).
    pub fn read_failed(&self, cause: &dyn std::fmt::Display) {
        self.failure.read_failed(cause);
    }

    /// Nothing to read.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
