//! I/O errors (issue 8, item 5): an append, roll or flush failing through the file-system seam
//! answers KAFKA_STORAGE_ERROR, takes the log directory offline, acknowledges nothing it did not
//! write, keeps the connection and the broker up, and the next start recovers the logs.

mod common;

use std::sync::Arc;

use common::{end_offset, produce_raw, record_batch, RawClient, TestBroker};
use gregor::log::fs::{EIO, EMFILE, ENOENT, ENOSPC};
use gregor::log::{FaultInjectingFileSystem, FsOp};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiVersionsRequest, CreateTopicsRequest, FetchRequest, ListOffsetsRequest, MetadataRequest,
    RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

const STORAGE: i16 = 56;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

async fn create(c: &mut RawClient, topic: &str, configs: &[(&str, &str)]) -> i16 {
    let t = CreatableTopic::default()
        .with_name(name(topic))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.to_string()))
                        .with_value(Some(StrBytes::from_string(v.to_string())))
                })
                .collect(),
        );
    let req = CreateTopicsRequest::default()
        .with_topics(vec![t])
        .with_timeout_ms(5000);
    match c.call(RequestKind::CreateTopics(req), 5).await {
        ResponseKind::CreateTopics(r) => r.topics[0].error_code,
        other => panic!("{other:?}"),
    }
}

async fn list_offsets_code(c: &mut RawClient, topic: &str) -> i16 {
    let req = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(name(topic))
        .with_partitions(vec![ListOffsetsPartition::default()
            .with_partition_index(0)
            .with_timestamp(-1)])]);
    match c.call(RequestKind::ListOffsets(req), 7).await {
        ResponseKind::ListOffsets(r) => r.topics[0].partitions[0].error_code,
        other => panic!("{other:?}"),
    }
}

/// Fetch from offset 0: (error code, bytes of records returned).
async fn fetch(c: &mut RawClient, topic: &str) -> (i16, usize) {
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    match c.call(RequestKind::Fetch(req), 11).await {
        ResponseKind::Fetch(r) => {
            let p = &r.responses[0].partitions[0];
            (p.error_code, p.records.as_ref().map_or(0, |b| b.len()))
        }
        other => panic!("{other:?}"),
    }
}

/// Metadata for one topic: (partition error, leader, offline replicas).
async fn metadata(c: &mut RawClient, topic: &str) -> (i16, i32, Vec<i32>) {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name(topic)))
        ]))
        .with_allow_auto_topic_creation(false);
    match c.call(RequestKind::Metadata(req), 12).await {
        ResponseKind::Metadata(r) => {
            let p = &r.topics[0].partitions[0];
            (
                p.error_code,
                p.leader_id.0,
                p.offline_replicas.iter().map(|b| b.0).collect(),
            )
        }
        other => panic!("{other:?}"),
    }
}

/// FindCoordinator for a group at v3 and v4: (error, node) each.
async fn find_coordinator(c: &mut RawClient, group: &str) -> [(i16, i32); 2] {
    use kafka_protocol::messages::FindCoordinatorRequest;
    let v3 = FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.into()));
    let v4 = FindCoordinatorRequest::default()
        .with_coordinator_keys(vec![StrBytes::from_string(group.into())]);
    let ResponseKind::FindCoordinator(a) = c.call(RequestKind::FindCoordinator(v3), 3).await else {
        panic!("not a FindCoordinator response");
    };
    let ResponseKind::FindCoordinator(b) = c.call(RequestKind::FindCoordinator(v4), 4).await else {
        panic!("not a FindCoordinator response");
    };
    let k = &b.coordinators[0];
    [(a.error_code, a.node_id.0), (k.error_code, k.node_id.0)]
}

/// A standalone (generation -1) OffsetCommit of one offset: the partition's error code.
async fn commit(c: &mut RawClient, group: &str, topic: &str, offset: i64) -> i16 {
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::{GroupId, OffsetCommitRequest};
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.into())))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])]);
    match c.call(RequestKind::OffsetCommit(req), 8).await {
        ResponseKind::OffsetCommit(r) => r.topics[0].partitions[0].error_code,
        other => panic!("{other:?}"),
    }
}

async fn api_versions_ok(c: &mut RawClient) -> bool {
    match c
        .call(RequestKind::ApiVersions(ApiVersionsRequest::default()), 3)
        .await
    {
        ResponseKind::ApiVersions(r) => r.error_code == 0,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_storage_error_and_takes_the_log_dir_offline() {
    let fs = Arc::new(FaultInjectingFileSystem::new());
    let mut b = TestBroker::start_with_fs(&[], fs.clone()).await;
    let mut c = RawClient::connect(b.addr).await;
    assert_eq!(create(&mut c, "full", &[]).await, 0);
    assert_eq!(create(&mut c, "other", &[]).await, 0);
    assert_eq!(
        produce_raw(&mut c, "full", 0, record_batch(3, None)).await,
        (0, 0)
    );

    // The disk fills up under one partition's segment.
    fs.fail(FsOp::Write, "full-0/", ENOSPC);
    let (code, _) = produce_raw(&mut c, "full", 0, record_batch(2, None)).await;
    assert_eq!(code, ResponseError::KafkaStorageError.code());
    assert_eq!(fs.injected(), 1);

    // The whole log directory is offline now, including partitions whose writes would work.
    let (code, _) = produce_raw(&mut c, "other", 0, record_batch(1, None)).await;
    assert_eq!(code, STORAGE);
    assert_eq!(
        fs.injected(),
        1,
        "nothing more was written to the offline directory"
    );
    assert_eq!(fetch(&mut c, "full").await.0, STORAGE);
    assert_eq!(list_offsets_code(&mut c, "full").await, STORAGE);
    assert_eq!(
        metadata(&mut c, "full").await,
        (ResponseError::LeaderNotAvailable.code(), -1, vec![1])
    );
    assert_eq!(create(&mut c, "new", &[]).await, STORAGE);
    // Consumer groups: __consumer_offsets lives in the same directory. As in Kafka, a commit
    // that cannot be stored answers NOT_COORDINATOR and FindCoordinator finds none.
    assert_eq!(
        commit(&mut c, "g", "full", 1).await,
        ResponseError::NotCoordinator.code()
    );
    let none = (ResponseError::CoordinatorNotAvailable.code(), -1);
    assert_eq!(find_coordinator(&mut c, "g").await, [none, none]);

    // The connection and the broker stay up for everything that does not touch the logs.
    assert!(api_versions_ok(&mut c).await);
    let mut other = RawClient::connect(b.addr).await;
    assert!(api_versions_ok(&mut other).await);

    // After the disk is freed, a restart recovers (no clean-shutdown marker was written) and
    // holds exactly what was acknowledged.
    fs.heal();
    b.restart().await;
    assert!(
        b.running.as_ref().unwrap().recovered,
        "a broker stopped with an offline log dir must recover on the next start"
    );
    let mut c = RawClient::connect(b.addr).await;
    assert_eq!(end_offset(&mut c, "full", 0).await, 3);
    assert_eq!(end_offset(&mut c, "other", 0).await, 0);
    assert_eq!(fetch(&mut c, "full").await.0, 0);
    assert_eq!(
        produce_raw(&mut c, "full", 0, record_batch(1, None)).await,
        (0, 3)
    );
    assert_eq!(
        metadata(&mut c, "full").await,
        (0, 1, vec![]),
        "online again after the restart"
    );
    assert_eq!(find_coordinator(&mut c, "g").await, [(0, 1), (0, 1)]);
    assert_eq!(commit(&mut c, "g", "full", 1).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_flush_is_not_acknowledged() {
    let fs = Arc::new(FaultInjectingFileSystem::new());
    let b = TestBroker::start_with_fs(&[], fs.clone()).await;
    let mut c = RawClient::connect(b.addr).await;
    // flush.messages=1: every append is fsynced before it is answered.
    assert_eq!(
        create(&mut c, "durable", &[("flush.messages", "1")]).await,
        0
    );
    assert_eq!(
        produce_raw(&mut c, "durable", 0, record_batch(1, None)).await,
        (0, 0)
    );
    fs.fail(FsOp::Sync, "durable-0/", EIO);
    let (code, _) = produce_raw(&mut c, "durable", 0, record_batch(1, None)).await;
    assert_eq!(
        code, STORAGE,
        "an append whose fsync failed is not acknowledged"
    );
    assert!(fs.injected() >= 1);
    assert_eq!(fetch(&mut c, "durable").await.0, STORAGE);
    assert!(api_versions_ok(&mut c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_that_cannot_be_created_fails_the_roll() {
    let fs = Arc::new(FaultInjectingFileSystem::new());
    let mut b = TestBroker::start_with_fs(&[], fs.clone()).await;
    let mut c = RawClient::connect(b.addr).await;
    // Segments of 200 bytes: the second 3-record batch needs a new segment.
    assert_eq!(
        create(&mut c, "rolls", &[("segment.bytes", "200")]).await,
        0
    );
    assert_eq!(
        produce_raw(&mut c, "rolls", 0, record_batch(3, None)).await,
        (0, 0)
    );
    // The partition directory was removed under the broker: creating the next segment fails.
    fs.fail(FsOp::Create, "rolls-0/00000000000000000003.log", ENOENT);
    let (code, _) = produce_raw(&mut c, "rolls", 0, record_batch(3, None)).await;
    assert_eq!(code, STORAGE);
    assert_eq!(fs.injected(), 1);
    fs.heal();
    b.restart().await;
    let mut c = RawClient::connect(b.addr).await;
    assert_eq!(end_offset(&mut c, "rolls", 0).await, 3);
    assert_eq!(
        produce_raw(&mut c, "rolls", 0, record_batch(3, None)).await,
        (0, 3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_cut_short_under_the_broker_closes_the_fetch_and_fails_the_dir() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    assert_eq!(create(&mut c, "cut", &[]).await, 0);
    // One batch large enough (> 32 KiB) to be sent from the file with sendfile.
    let batch = record_batch(3000, None);
    assert!(batch.len() > 32 * 1024);
    assert_eq!(produce_raw(&mut c, "cut", 0, batch).await, (0, 0));
    // Something outside the broker truncates the segment it already acknowledged.
    let segment = b.data_dir().join("cut-0").join("00000000000000000000.log");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(1000)
        .unwrap();
    // The response's length was promised before the file came up short: the connection closes
    // mid-frame rather than sending bytes that are not there.
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name("cut"))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let frame = common::encode_request(
        &RequestKind::Fetch(req),
        kafka_protocol::messages::ApiKey::Fetch,
        11,
        7,
    );
    c.send_raw(&frame).await;
    assert!(c.read_frame(1).await.is_none(), "no whole response");
    // The lost bytes take the log directory offline, as an I/O error would.
    let mut c = RawClient::connect(b.addr).await;
    let (code, _) = produce_raw(&mut c, "cut", 0, record_batch(1, None)).await;
    assert_eq!(code, STORAGE);
    assert!(api_versions_ok(&mut c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_fails_the_request_but_not_the_log_dir() {
    let fs = Arc::new(FaultInjectingFileSystem::new());
    let b = TestBroker::start_with_fs(&[], fs.clone()).await;
    let mut c = RawClient::connect(b.addr).await;
    // Tiny segments: the second batch rolls, which creates a file.
    assert_eq!(create(&mut c, "fds", &[("segment.bytes", "120")]).await, 0);
    assert_eq!(create(&mut c, "calm", &[]).await, 0);
    assert_eq!(
        produce_raw(&mut c, "fds", 0, record_batch(2, None)).await,
        (0, 0)
    );
    fs.fail(FsOp::Create, "fds-0/", EMFILE);
    let (code, _) = produce_raw(&mut c, "fds", 0, record_batch(2, None)).await;
    assert_eq!(code, STORAGE);
    assert!(fs.injected() >= 1);
    // Not a disk failure: the directory stays online, other partitions and reads work.
    assert_eq!(metadata(&mut c, "fds").await, (0, 1, vec![]));
    assert_eq!(
        produce_raw(&mut c, "calm", 0, record_batch(1, None)).await,
        (0, 0)
    );
    assert_eq!(fetch(&mut c, "fds").await.0, 0);
    assert_eq!(
        end_offset(&mut c, "fds", 0).await,
        2,
        "nothing of the refused batch stored"
    );
    // Descriptors free again: the same partition takes writes without a restart.
    fs.heal();
    assert_eq!(
        produce_raw(&mut c, "fds", 0, record_batch(2, None)).await,
        (0, 2)
    );
    assert_eq!(end_offset(&mut c, "fds", 0).await, 4);
}
