//! Errors of the partition log, each mapped to the Kafka error code a client should see.

use std::path::PathBuf;

use kafka_protocol::ResponseError;

/// Why a log operation failed. [`LogError::code`] gives the per-partition error code.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file operation failed. The in-memory state was left as it was before the call; the
    /// log directory is taken offline (see [`super::log_dir`]).
    #[error("{op} in {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "append to".
        op: &'static str,
        /// The partition directory or segment file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The process is out of file descriptors (EMFILE, ENFILE). A resource limit, not a
    /// failing disk: the request fails, the log directory stays online, and the next request
    /// may succeed once descriptors are free.
    #[error(
        "{op} in {}: {source}: out of file descriptors; raise the limit (`ulimit -n`) or lower \
         gregor.log.max.open.files",
        path.display()
    )]
    OutOfDescriptors {
        /// What was being done.
        op: &'static str,
        /// The partition directory or file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The partition's log directory went offline after an I/O error (Kafka's
    /// `KafkaStorageException` for a partition in an offline log dir).
    #[error("log directory {} is offline", path.display())]
    LogDirOffline {
        /// The log directory.
        path: PathBuf,
    },
    /// The partition was deleted (its topic was deleted) while a caller still held it.
    #[error("partition log {} was deleted", path.display())]
    Deleted {
        /// The partition directory.
        path: PathBuf,
    },
    /// A read or DeleteRecords outside `[log start offset, log end offset]`.
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        /// The requested offset.
        offset: i64,
        /// The first offset still readable.
        log_start_offset: i64,
        /// The next offset to be assigned.
        log_end_offset: i64,
    },
    /// One append larger than a whole segment can never be stored (Kafka's
    /// `RecordBatchTooLargeException`).
    #[error("append of {size} bytes exceeds the segment size of {segment_bytes} bytes")]
    RecordListTooLarge {
        /// Bytes in the append.
        size: usize,
        /// The configured `segment.bytes`.
        segment_bytes: u64,
    },
    /// The batch headers handed to `append` do not describe the buffer (a caller bug, or bytes
    /// that were not validated).
    #[error("append rejected: {0}")]
    InvalidAppend(&'static str),
    /// An idempotent producer's batch was refused (fenced epoch, sequence gap).
    #[error(transparent)]
    Producer(#[from] super::producer_state::ProducerError),
    /// A transactional batch whose verification (KIP-890) a marker overtook: the transaction it
    /// was verified for has ended in this partition.
    #[error("producer {producer_id}'s transaction ended while its batch was being verified")]
    NotVerified {
        /// The batch's producer.
        producer_id: i64,
    },
}

impl LogError {
    /// The Kafka error code for a response partition.
    pub fn code(&self) -> ResponseError {
        match self {
            // KAFKA_STORAGE_ERROR is retriable: clients try again, which is right for both.
            LogError::Io { .. }
            | LogError::OutOfDescriptors { .. }
            | LogError::LogDirOffline { .. } => ResponseError::KafkaStorageError,
            LogError::Deleted { .. } => ResponseError::UnknownTopicOrPartition,
            LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
            LogError::RecordListTooLarge { .. } => ResponseError::RecordListTooLarge,
            LogError::InvalidAppend(_) => ResponseError::CorruptMessage,
            LogError::Producer(e) => e.code(),
            LogError::NotVerified { .. } => ResponseError::InvalidTxnState,
        }
    }

    /// Wraps an I/O error with what was being done and to which file. Running out of file
    /// descriptors is told apart from every other I/O error: only the latter take the log
    /// directory offline.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if out_of_descriptors(&source) {
            tracing::warn!(op, path = %path.display(), error = %source, "out of file descriptors: raise `ulimit -n` or lower gregor.log.max.open.files");
            return LogError::OutOfDescriptors { op, path, source };
        }
        LogError::Io { op, path, source }
    }
}

/// EMFILE (this process) or ENFILE (the whole system), here or anywhere down the error's
/// sources.
pub fn out_of_descriptors(e: &std::io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    let is = |e: &std::io::Error| matches!(e.raw_os_error(), Some(ENFILE | EMFILE));
    if is(e) {
        return true;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e
        .get_ref()
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    while let Some(err) = cur {
        if err.downcast_ref::<std::io::Error>().is_some_and(is) {
            return true;
        }
        cur = err.source();
    }
    false
}
