//! Registry tests against real files in temporary directories.

use super::*;

#[test]
fn a_partition_held_across_a_topic_delete_answers_unknown_not_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = Arc::new(Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    });
    let reg = TopicRegistry::open(config, LogDir::std(dir.path()), false).unwrap();
    // flush.messages=1: every append also writes files in the partition directory.
    let mut overrides = BTreeMap::new();
    overrides.insert("flush.messages".to_string(), "1".to_string());
    let topic = reg.create("doomed", 1, 1, overrides).unwrap();
    let held = topic.partition(0).unwrap();
    reg.delete("doomed").unwrap();
    // A produce that looked the partition up before the delete.
    let batch = crate::log::tests::encode(1, 0, 1, kafka_protocol::records::Compression::None);
    let headers = crate::record::batch::frame_batches(&batch).unwrap();
    let err = held.log().append(&batch, &headers, 0, 0).unwrap_err();
    assert_eq!(err.code(), ResponseError::UnknownTopicOrPartition, "{err}");
    assert!(held.log().read(0, 100).is_err());
    assert!(
        !reg.log_dir().is_offline(),
        "a deleted topic is not a disk failure"
    );
    // Other topics keep working.
    let other = reg.create("alive", 1, 1, BTreeMap::new()).unwrap();
    let p = other.partition(0).unwrap();
    assert!(p.log().append(&batch, &headers, 0, 0).is_ok());
}

#[test]
fn compacted_topics_get_no_time_or_size_retention() {
    let config = Config::default();
    let mut overrides = BTreeMap::new();
    overrides.insert("retention.ms".to_string(), "1000".to_string());
    assert_eq!(log_config(&config, &overrides).retention_ms, 1000);
    overrides.insert("cleanup.policy".to_string(), "compact".to_string());
    let lc = log_config(&config, &overrides);
    assert_eq!((lc.retention_ms, lc.retention_bytes), (-1, -1));
    overrides.insert("cleanup.policy".to_string(), "compact,delete".to_string());
    assert_eq!(log_config(&config, &overrides).retention_ms, 1000);
}
