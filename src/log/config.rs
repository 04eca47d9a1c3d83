//! [`LogConfig`]: the per-topic settings a [`super::PartitionLog`] obeys.

/// Per-topic log settings (Kafka's `LogConfig`), replaceable at runtime with
/// [`super::PartitionLog::set_config`] because topic configs can be altered.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would exceed this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first batch is this old.
    pub segment_ms: i64,
    /// `retention.ms`: delete segments whose largest timestamp is older; -1 = unlimited.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments while the log is larger; -1 = unlimited.
    pub retention_bytes: i64,
    /// `index.interval.bytes`: bytes of log between offset index entries.
    pub index_interval_bytes: u32,
    /// `flush.messages`: fsync once this many messages are unflushed; `u64::MAX` (or Kafka's
    /// `i64::MAX`) = leave it to the OS.
    pub flush_messages: u64,
    /// `flush.ms`: fsync when the last flush is this old (checked on append and by
    /// [`super::PartitionLog::maybe_flush`]); `i64::MAX` = never.
    pub flush_ms: i64,
    /// `message.timestamp.type=LogAppendTime`: stamp batches with the broker's clock.
    pub message_timestamp_log_append: bool,
    /// `cleanup.policy` includes `compact`: the log cleaner keeps the latest record per key.
    pub compact: bool,
    /// `delete.retention.ms`: how long the cleaner keeps tombstones (and removable markers).
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: the share of the log not yet cleaned that makes it due.
    pub min_cleanable_ratio: f64,
    /// `min.compaction.lag.ms`: records younger than this are not cleaned.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: records older than this are cleaned whatever the ratio (and
    /// the active segment of a compacted log rolls by then).
    pub max_compaction_lag_ms: i64,
}

impl Default for LogConfig {
    /// Kafka's defaults.
    fn default() -> Self {
        const WEEK_MS: i64 = 7 * 24 * 60 * 60 * 1000;
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: WEEK_MS,
            retention_ms: WEEK_MS,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            flush_messages: i64::MAX as u64,
            flush_ms: i64::MAX,
            message_timestamp_log_append: false,
            compact: false,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            min_cleanable_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}
