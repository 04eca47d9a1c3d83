//! One partition's segmented on-disk log, with Kafka's `UnifiedLog` / `LogSegment` /
//! `OffsetIndex` / `TimeIndex` semantics: offsets assigned on append, segments rolled by size and
//! age, sparse indexes, crash recovery that cuts a torn tail, DeleteRecords, and time/size
//! retention. Record batches are stored exactly as produced (after offset assignment) and served
//! as is.
//!
//! The module knows nothing about topics, replication or the network: the caller gives it a
//! directory and a [`LogConfig`], serialises calls with the partition's lock, and reads the
//! [`FileSlice`]s returned by [`PartitionLog::read`] outside that lock.
//!
//! - [`partition_log`]: [`PartitionLog`] and [`AppendInfo`].
//! - [`config`]: [`LogConfig`], the per-topic settings.
//! - `loader`: opening a log from its directory, with recovery after a crash.
//! - [`segment`]: one `.log` file and its indexes; the on-disk format.
//! - [`index`]: the offset and time indexes.
//! - [`epoch`]: the leader epoch cache behind OffsetForLeaderEpoch.
//! - [`checkpoint`]: the small atomically-replaced metadata files.
//! - [`producer_state`]: idempotent and transactional producer state (Kafka's
//!   `ProducerStateManager`) and its snapshots.
//! - [`txn_index`]: the aborted-transaction index (`.txnindex`).
//! - `transactions`: markers, the last stable offset and read_committed reads of a
//!   [`PartitionLog`].
//! - [`cleaner`]: log compaction, one pass over one log at a time, and the crash recovery of
//!   its segment swaps.
//! - [`error`]: [`LogError`] and its Kafka error codes.
//! - [`fs`]: the [`FileSystem`] seam every write goes through, and a fault-injecting one.
//! - [`log_dir`]: [`LogDir`], a directory of logs that goes offline on an I/O error.
//! - [`dir_lock`]: [`dir_lock::DirLock`], the data directory's `.lock`, one broker at a time.
//! - [`file_cache`]: [`file_cache::FileCache`], the bounded set of open segment files.

pub mod checkpoint;
pub mod cleaner;
pub mod config;
pub mod dir_lock;
pub mod epoch;
pub mod error;
pub mod file_cache;
pub mod fs;
pub mod index;
mod loader;
pub mod log_dir;
pub mod partition_log;
pub mod producer_state;
pub mod segment;
mod transactions;
pub mod txn_index;

pub use config::LogConfig;
pub use error::LogError;
pub use fs::{FaultInjectingFileSystem, FileSystem, FsGate, FsOp, GatedFileSystem, StdFileSystem};
pub use log_dir::LogDir;
pub use partition_log::{AppendInfo, PartitionLog};

#[cfg(test)]
pub(crate) mod tests;
