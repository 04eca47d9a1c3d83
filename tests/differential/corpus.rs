//! The corpus: requests sent to both brokers in order, each comparison named `family/what`.
//! Topics and groups are `diff-` names created here, so both brokers start from the same
//! state. Grow it with every feature.

use bytes::Bytes;
use gregor::record::builder::{
    build_batch, put_record, simple_batch, varint, BatchFields, RecordFields,
};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::{Answer, Pair};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn name(v: &str) -> TopicName {
    TopicName(s(v))
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub(crate) fn create(
    topic: &str,
    partitions: i32,
    rf: i16,
    configs: &[(&str, &str)],
) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(name(topic))
        .with_num_partitions(partitions)
        .with_replication_factor(rf)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(s(k))
                        .with_value(Some(s(v)))
                })
                .collect(),
        )
}

pub(crate) fn create_topics(topics: Vec<CreatableTopic>, validate_only: bool) -> RequestKind {
    RequestKind::CreateTopics(
        CreateTopicsRequest::default()
            .with_topics(topics)
            .with_timeout_ms(30_000)
            .with_validate_only(validate_only),
    )
}

pub(crate) fn produce(topic: &str, partition: i32, acks: i16, records: Vec<u8>) -> RequestKind {
    RequestKind::Produce(
        ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(10_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(Bytes::from(records)))])]),
    )
}

fn metadata(topics: Option<&[&str]>, auto_create: bool) -> RequestKind {
    RequestKind::Metadata(
        MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(name(t))))
                    .collect()
            }))
            .with_allow_auto_topic_creation(auto_create),
    )
}

fn list_offsets(topic: &str, partition: i32, ts: i64) -> RequestKind {
    RequestKind::ListOffsets(
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_timestamp(ts)])]),
    )
}

pub(crate) fn fetch(topic: &str, partition: i32, offset: i64) -> RequestKind {
    RequestKind::Fetch(
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(0)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(name(topic))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)])]),
    )
}

fn describe_configs(resource_type: i8, resource: &str, keys: Option<&[&str]>) -> RequestKind {
    RequestKind::DescribeConfigs(
        DescribeConfigsRequest::default()
            .with_resources(vec![DescribeConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(s(resource))
                .with_configuration_keys(
                    keys.map(|k| k.iter().map(|k| s(k)).collect()),
                )])
            .with_include_synonyms(true),
    )
}

fn incremental_alter(topic: &str, configs: &[(&str, i8, Option<&str>)]) -> RequestKind {
    incremental_alter_resource(2, topic, configs)
}

fn incremental_alter_resource(
    resource_type: i8,
    resource: &str,
    configs: &[(&str, i8, Option<&str>)],
) -> RequestKind {
    RequestKind::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default().with_resources(
        vec![
        AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(s(resource))
            .with_configs(
                configs
                    .iter()
                    .map(|(k, op, v)| {
                        AlterableConfig::default()
                            .with_name(s(k))
                            .with_config_operation(*op)
                            .with_value(v.map(s))
                    })
                    .collect(),
            ),
    ],
    ))
}

fn group_id(g: &str) -> GroupId {
    GroupId(s(g))
}

fn join(group: &str, member: &str, session_ms: i32) -> RequestKind {
    RequestKind::JoinGroup(
        JoinGroupRequest::default()
            .with_group_id(group_id(group))
            .with_member_id(s(member))
            .with_session_timeout_ms(session_ms)
            .with_rebalance_timeout_ms(30_000)
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(&[
                    0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                ]))]),
    )
}

fn commit(
    group: &str,
    generation: i32,
    member: &str,
    topic: &str,
    partition: i32,
    offset: i64,
) -> RequestKind {
    RequestKind::OffsetCommit(
        OffsetCommitRequest::default()
            .with_group_id(group_id(group))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(s(member))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(partition)
                    .with_committed_offset(offset)
                    .with_committed_leader_epoch(-1)])]),
    )
}

/// A batch with one record per value, at the test's fixed time.
fn batch(t0: i64, values: &[&str]) -> Vec<u8> {
    let records: Vec<RecordFields<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| RecordFields {
            timestamp_delta: i as i64,
            key: Some(b"key"),
            value: Some(v.as_bytes()),
            ..Default::default()
        })
        .collect();
    simple_batch(t0, &records)
}

/// `data` as one LZ4 frame with the given block mode.
fn lz4_frame(data: &[u8], mode: lz4::BlockMode) -> Vec<u8> {
    let mut enc = lz4::EncoderBuilder::new()
        .block_mode(mode)
        .build(Vec::new())
        .unwrap();
    std::io::Write::write_all(&mut enc, data).unwrap();
    let (out, r) = enc.finish();
    r.unwrap();
    out
}

/// A batch header claiming `count` records over `records` with codec `attributes`.
fn claiming(t0: i64, count: i32, attributes: i16, records: &[u8]) -> Vec<u8> {
    build_batch(
        &BatchFields {
            attributes,
            records_count: count,
            last_offset_delta: count - 1,
            base_timestamp: t0,
            max_timestamp: t0,
            ..BatchFields::default()
        },
        records,
    )
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub async fn run(p: &mut Pair) {
    let t0 = now_ms();
    // Written first, read back last: the cleaners of both run in between.
    super::compaction::setup(p).await;
    api_versions(p).await;
    topics(p).await;
    configs(p).await;
    produce_cases(p, t0).await;
    reads(p).await;
    groups(p).await;
    super::consumer_groups::run(p).await;
    misc(p).await;
    tool_apis(p, t0).await;
    broker_configs(p).await;
    transactions(p, t0).await;
    super::compaction::check(p).await;
}

async fn api_versions(p: &mut Pair) {
    for v in 0..=4 {
        p.reconnect().await;
        let req = ApiVersionsRequest::default()
            .with_client_software_name(s("diff"))
            .with_client_software_version(s("1"));
        p.compare(
            &format!("api_versions/v{v}"),
            RequestKind::ApiVersions(req),
            v,
        )
        .await;
    }
}

/// `t` with explicit replica assignments: (partition index, brokers).
fn assigned(t: CreatableTopic, assignments: &[(i32, &[i32])]) -> CreatableTopic {
    use kafka_protocol::messages::create_topics_request::CreatableReplicaAssignment;
    t.with_assignments(
        assignments
            .iter()
            .map(|(i, b)| {
                CreatableReplicaAssignment::default()
                    .with_partition_index(*i)
                    .with_broker_ids(b.iter().map(|&id| BrokerId(id)).collect())
            })
            .collect(),
    )
}

async fn topics(p: &mut Pair) {
    let valid = create_topics(
        vec![create("diff-topic", 2, 1, &[("retention.ms", "3600000")])],
        false,
    );
    p.compare("create_topics/valid", valid, 7).await;
    p.compare(
        "create_topics/exists",
        create_topics(vec![create("diff-topic", 2, 1, &[])], false),
        7,
    )
    .await;
    p.compare(
        "create_topics/validate_only",
        create_topics(vec![create("diff-validate", 3, 1, &[])], true),
        7,
    )
    .await;
    for (what, topic) in [
        ("zero_partitions", create("diff-zero", 0, 1, &[])),
        ("replication_factor_3", create("diff-rf3", 1, 3, &[])),
        (
            "unknown_config",
            create("diff-badcfg", 1, 1, &[("no.such.config", "1")]),
        ),
        (
            "bad_config_value",
            create("diff-badval", 1, 1, &[("retention.ms", "soon")]),
        ),
        ("bad_name", create("bad name!", 1, 1, &[])),
        ("defaults", create("diff-defaults", -1, -1, &[])),
        (
            "assignment",
            assigned(create("diff-asg", -1, -1, &[]), &[(0, &[1])]),
        ),
        (
            "assignment_with_count",
            assigned(create("diff-asg-count", 1, -1, &[]), &[(0, &[1])]),
        ),
        (
            "assignment_with_factor",
            assigned(create("diff-asg-factor", -1, 1, &[]), &[(0, &[1])]),
        ),
        (
            "assignment_gap",
            assigned(create("diff-asg-gap", -1, -1, &[]), &[(0, &[1]), (2, &[1])]),
        ),
        (
            "assignment_twice",
            assigned(
                create("diff-asg-twice", -1, -1, &[]),
                &[(0, &[1]), (0, &[1])],
            ),
        ),
    ] {
        p.compare(
            &format!("create_topics/{what}"),
            create_topics(vec![topic], false),
            7,
        )
        .await;
    }
    p.compare(
        "create_topics/v5",
        create_topics(vec![create("diff-v5", 1, 1, &[])], false),
        5,
    )
    .await;
    for v in [1, 4, 9, 12] {
        // Before v4 a request cannot ask not to create (and diff-nope would be created).
        p.compare(
            &format!("metadata/topic_v{v}"),
            metadata(Some(&["diff-topic"]), v < 4),
            v,
        )
        .await;
        if v >= 4 {
            p.compare(
                &format!("metadata/unknown_v{v}"),
                metadata(Some(&["diff-nope"]), false),
                v,
            )
            .await;
        }
    }
    p.compare(
        "metadata/bad_name",
        metadata(Some(&["bad name!"]), true),
        12,
    )
    .await;
    p.compare(
        "create_partitions/grow",
        RequestKind::CreatePartitions(
            CreatePartitionsRequest::default()
                .with_timeout_ms(10_000)
                .with_topics(vec![CreatePartitionsTopic::default()
                    .with_name(name("diff-topic"))
                    .with_count(3)
                    .with_assignments(None)]),
        ),
        3,
    )
    .await;
    p.compare(
        "create_partitions/shrink",
        RequestKind::CreatePartitions(
            CreatePartitionsRequest::default()
                .with_timeout_ms(10_000)
                .with_topics(vec![CreatePartitionsTopic::default()
                    .with_name(name("diff-topic"))
                    .with_count(1)
                    .with_assignments(None)]),
        ),
        3,
    )
    .await;
    p.compare(
        "create_partitions/unknown",
        RequestKind::CreatePartitions(
            CreatePartitionsRequest::default()
                .with_timeout_ms(10_000)
                .with_topics(vec![CreatePartitionsTopic::default()
                    .with_name(name("diff-nope"))
                    .with_count(2)
                    .with_assignments(None)]),
        ),
        3,
    )
    .await;
    p.compare(
        "metadata/after_grow",
        metadata(Some(&["diff-topic"]), false),
        12,
    )
    .await;
    p.compare(
        "delete_topics/unknown",
        RequestKind::DeleteTopics(
            DeleteTopicsRequest::default()
                .with_topic_names(vec![name("diff-nope")])
                .with_timeout_ms(10_000),
        ),
        5,
    )
    .await;
}

async fn configs(p: &mut Pair) {
    p.compare(
        "describe_configs/topic",
        describe_configs(2, "diff-topic", None),
        4,
    )
    .await;
    p.compare(
        "describe_configs/topic_keys",
        describe_configs(
            2,
            "diff-topic",
            Some(&["retention.ms", "cleanup.policy", "segment.bytes"]),
        ),
        4,
    )
    .await;
    p.compare(
        "describe_configs/unknown_topic",
        describe_configs(2, "diff-nope", None),
        4,
    )
    .await;
    p.compare(
        "describe_configs/broker_keys",
        describe_configs(
            4,
            "1",
            Some(&[
                "num.partitions",
                "auto.create.topics.enable",
                "log.retention.ms",
                "log.segment.bytes",
                "offsets.topic.num.partitions",
                "message.max.bytes",
            ]),
        ),
        4,
    )
    .await;
    p.compare(
        "incremental_alter_configs/set",
        incremental_alter("diff-topic", &[("retention.ms", 0, Some("7200000"))]),
        1,
    )
    .await;
    p.compare(
        "incremental_alter_configs/delete",
        incremental_alter("diff-topic", &[("retention.ms", 1, None)]),
        1,
    )
    .await;
    p.compare(
        "incremental_alter_configs/unknown_key",
        incremental_alter("diff-topic", &[("no.such.config", 0, Some("1"))]),
        1,
    )
    .await;
    p.compare(
        "incremental_alter_configs/bad_value",
        incremental_alter("diff-topic", &[("retention.ms", 0, Some("soon"))]),
        1,
    )
    .await;
    p.compare(
        "incremental_alter_configs/unknown_topic",
        incremental_alter("diff-nope", &[("retention.ms", 0, Some("1"))]),
        1,
    )
    .await;
    p.compare(
        "describe_configs/after_alter",
        describe_configs(2, "diff-topic", Some(&["retention.ms"])),
        4,
    )
    .await;
}

async fn produce_cases(p: &mut Pair, t0: i64) {
    p.compare(
        "create_topics/for_produce",
        create_topics(
            vec![
                create("diff-log", 1, 1, &[]),
                create("diff-compact", 1, 1, &[("cleanup.policy", "compact")]),
                create("diff-odd", 1, 1, &[]),
                create(
                    "diff-small",
                    1,
                    1,
                    &[("max.decompressed.message.bytes", "1048576")],
                ),
            ],
            false,
        ),
        7,
    )
    .await;
    for v in [3, 7, 9, 12] {
        p.compare(
            &format!("produce/valid_v{v}"),
            produce("diff-log", 0, -1, batch(t0, &["a", "b", "c"])),
            v,
        )
        .await;
    }
    let mut one = Vec::new();
    put_record(
        &mut one,
        &RecordFields {
            key: Some(b"k"),
            value: Some(b"v"),
            ..Default::default()
        },
    );
    let mut key_2_30 = vec![0u8, 0, 0];
    key_2_30.extend(varint(1 << 30));
    key_2_30.extend_from_slice(b"abc");
    key_2_30.extend(varint(-1));
    key_2_30.extend(varint(0));
    let mut huge_key = varint(key_2_30.len() as i32);
    huge_key.extend(key_2_30);
    let mut delta_7 = Vec::new();
    put_record(
        &mut delta_7,
        &RecordFields {
            offset_delta: 7,
            value: Some(b"v"),
            ..Default::default()
        },
    );
    let mut crc = batch(t0, &["x"]);
    let last = crc.len() - 1;
    crc[last] ^= 1;
    let mut two = batch(t0, &["x"]);
    two.extend(batch(t0, &["y"]));
    let keyless = simple_batch(
        t0,
        &[RecordFields {
            value: Some(b"no key"),
            ..Default::default()
        }],
    );
    let future = batch(t0 + 2 * 3_600_000, &["late"]);
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("bad_crc", "diff-log", crc),
        (
            "gzip_claims_2^31-1",
            "diff-log",
            claiming(t0, i32::MAX, 1, &gzip(&one)),
        ),
        (
            "gzip_claims_3_holds_1",
            "diff-log",
            claiming(t0, 3, 1, &gzip(&one)),
        ),
        (
            "plain_claims_3_holds_1",
            "diff-log",
            claiming(t0, 3, 0, &one),
        ),
        ("not_gzip", "diff-log", claiming(t0, 1, 1, &one)),
        ("not_snappy", "diff-log", claiming(t0, 1, 2, &one)),
        ("not_lz4", "diff-log", claiming(t0, 1, 3, &one)),
        ("not_zstd", "diff-log", claiming(t0, 1, 4, &one)),
        // An LZ4 frame with linked (dependent) blocks, as lz4js writes: Kafka refuses it.
        (
            "lz4_dependent_blocks",
            "diff-log",
            claiming(t0, 1, 3, &lz4_frame(&one, lz4::BlockMode::Linked)),
        ),
        (
            "lz4_independent_blocks",
            "diff-log",
            claiming(t0, 1, 3, &lz4_frame(&one, lz4::BlockMode::Independent)),
        ),
        ("unknown_codec", "diff-log", claiming(t0, 1, 5, &one)),
        ("key_2^30", "diff-log", claiming(t0, 1, 0, &huge_key)),
        // Kafka stores this one: on its own topic, so the reads below see the same log.
        ("offset_delta_7", "diff-odd", claiming(t0, 1, 0, &delta_7)),
        ("two_batches", "diff-log", two),
        ("keyless_on_compacted", "diff-compact", keyless),
        ("timestamp_2h_ahead", "diff-log", future),
        ("empty", "diff-log", Vec::new()),
    ];
    for (what, topic, records) in cases {
        p.compare(
            &format!("produce/{what}"),
            produce(topic, 0, -1, records),
            9,
        )
        .await;
    }
    p.compare(
        "produce/unknown_partition",
        produce("diff-log", 7, -1, batch(t0, &["x"])),
        9,
    )
    .await;
    // acks=0 gets no answer; on an error Kafka closes the connection, its only way to tell
    // the producer.
    p.compare(
        "produce/acks0_unknown_partition",
        produce("diff-log", 7, 0, batch(t0, &["x"])),
        9,
    )
    .await;
    p.compare(
        "produce/bad_acks",
        produce("diff-log", 0, 2, batch(t0, &["x"])),
        9,
    )
    .await;
    p.compare(
        "produce/internal_topic",
        produce("__consumer_offsets", 0, -1, batch(t0, &["x"])),
        9,
    )
    .await;
    p.compare(
        "produce/keyed_on_compacted",
        produce("diff-compact", 0, -1, batch(t0, &["v1"])),
        9,
    )
    .await;
    p.compare(
        "produce/unknown_topic",
        produce("diff-nowhere", 0, -1, batch(t0, &["x"])),
        9,
    )
    .await;
    // 4 MiB of zeros in one zstd record against max.decompressed.message.bytes = 1 MiB.
    let mut big = Vec::new();
    put_record(
        &mut big,
        &RecordFields {
            key: Some(b"k"),
            value: Some(&vec![0u8; 4 << 20]),
            ..Default::default()
        },
    );
    let bomb = claiming(t0, 1, 4, &zstd::encode_all(&big[..], 3).unwrap());
    p.compare(
        "produce/over_max_decompressed",
        produce("diff-small", 0, -1, bomb.clone()),
        9,
    )
    .await;
    p.compare(
        "produce/under_max_decompressed",
        produce("diff-log", 0, -1, bomb),
        9,
    )
    .await;
}

async fn reads(p: &mut Pair) {
    for v in [4, 11, 12] {
        p.compare(&format!("fetch/from_0_v{v}"), fetch("diff-log", 0, 0), v)
            .await;
    }
    p.compare("fetch/from_5", fetch("diff-log", 0, 5), 12).await;
    p.compare("fetch/at_end", fetch("diff-log", 0, 12), 12)
        .await;
    p.compare("fetch/out_of_range", fetch("diff-log", 0, 1_000), 12)
        .await;
    p.compare("fetch/unknown_partition", fetch("diff-log", 9, 0), 12)
        .await;
    p.compare("fetch/unknown_topic", fetch("diff-nope", 0, 0), 12)
        .await;
    for (what, ts) in [
        ("latest", -1),
        ("earliest", -2),
        ("max_timestamp", -3),
        ("time_0", 0),
        ("far_future", i64::MAX / 2),
    ] {
        for v in [1, 7, 10] {
            if ts == -3 && v < 7 {
                continue;
            }
            p.compare(
                &format!("list_offsets/{what}_v{v}"),
                list_offsets("diff-log", 0, ts),
                v,
            )
            .await;
        }
    }
    p.compare(
        "list_offsets/unknown_partition",
        list_offsets("diff-log", 5, -1),
        7,
    )
    .await;
    p.compare(
        "list_offsets/invalid_timestamp",
        list_offsets("diff-log", 0, -7),
        7,
    )
    .await;
    p.compare(
        "offset_for_leader_epoch/epoch_0",
        RequestKind::OffsetForLeaderEpoch(
            OffsetForLeaderEpochRequest::default()
                .with_replica_id(BrokerId(-2))
                .with_topics(vec![OffsetForLeaderTopic::default()
                    .with_topic(name("diff-log"))
                    .with_partitions(vec![OffsetForLeaderPartition::default()
                        .with_partition(0)
                        .with_current_leader_epoch(-1)
                        .with_leader_epoch(0)])]),
        ),
        4,
    )
    .await;
    for (what, offset) in [("to_3", 3), ("beyond_end", 1_000), ("minus_one", -1)] {
        p.compare(
            &format!("delete_records/{what}"),
            RequestKind::DeleteRecords(
                DeleteRecordsRequest::default()
                    .with_timeout_ms(10_000)
                    .with_topics(vec![DeleteRecordsTopic::default()
                        .with_name(name("diff-log"))
                        .with_partitions(vec![DeleteRecordsPartition::default()
                            .with_partition_index(0)
                            .with_offset(offset)])]),
            ),
            2,
        )
        .await;
    }
    p.compare(
        "list_offsets/earliest_after_delete",
        list_offsets("diff-log", 0, -2),
        7,
    )
    .await;
}

async fn groups(p: &mut Pair) {
    // Kafka creates and loads __consumer_offsets on first use: wait until both coordinators
    // answer before comparing group calls.
    // (FindCoordinator is what makes Kafka create it.)
    let find =
        RequestKind::FindCoordinator(FindCoordinatorRequest::default().with_key(s("diff-probe")));
    p.settle(
        find,
        3,
        |r| matches!(r, ResponseKind::FindCoordinator(f) if f.error_code == 0),
    )
    .await;
    let probe = RequestKind::OffsetFetch(
        OffsetFetchRequest::default().with_group_id(group_id("diff-probe")),
    );
    p.settle(
        probe,
        7,
        |r| matches!(r, ResponseKind::OffsetFetch(f) if f.error_code == 0),
    )
    .await;
    let v3 = FindCoordinatorRequest::default().with_key(s("diff-group"));
    let v4 = FindCoordinatorRequest::default().with_coordinator_keys(vec![s("diff-group")]);
    p.compare("find_coordinator/v3", RequestKind::FindCoordinator(v3), 3)
        .await;
    p.compare("find_coordinator/v4", RequestKind::FindCoordinator(v4), 4)
        .await;
    p.compare(
        "join_group/bad_session_timeout",
        join("diff-group", "", 1),
        5,
    )
    .await;
    p.compare(
        "join_group/unknown_member",
        join("diff-group", "who", 10_000),
        5,
    )
    .await;
    let (g, k) = p
        .compare(
            "join_group/member_id_required",
            join("diff-group", "", 10_000),
            5,
        )
        .await;
    let member = |a: &Answer| match a {
        Answer::Response(r) => match r.as_ref() {
            ResponseKind::JoinGroup(j) => j.member_id.to_string(),
            _ => String::new(),
        },
        Answer::Closed => String::new(),
    };
    let (gm, km) = (member(&g), member(&k));
    // The second join carries each broker's own member id: compared as a pair of sends.
    let join_with = |m: &str| join("diff-group", m, 10_000);
    p.compare_each(
        join_with(&gm),
        join_with(&km),
        "join_group/with_member_id",
        5,
    )
    .await;
    let sync = |m: &str| {
        RequestKind::SyncGroup(
            SyncGroupRequest::default()
                .with_group_id(group_id("diff-group"))
                .with_generation_id(1)
                .with_member_id(s(m))
                .with_protocol_type(Some(s("consumer")))
                .with_protocol_name(Some(s("range"))),
        )
    };
    p.compare_each(
        sync(&gm),
        sync(&km),
        "sync_group/leader_without_assignment",
        5,
    )
    .await;
    let hb = |m: &str, generation: i32| {
        RequestKind::Heartbeat(
            HeartbeatRequest::default()
                .with_group_id(group_id("diff-group"))
                .with_generation_id(generation)
                .with_member_id(s(m)),
        )
    };
    p.compare_each(hb(&gm, 1), hb(&km, 1), "heartbeat/stable", 4)
        .await;
    p.compare_each(hb(&gm, 7), hb(&km, 7), "heartbeat/wrong_generation", 4)
        .await;
    p.compare("heartbeat/unknown_member", hb("nobody", 1), 4)
        .await;
    p.compare_each(
        commit("diff-group", 1, &gm, "diff-log", 0, 5),
        commit("diff-group", 1, &km, "diff-log", 0, 5),
        "offset_commit/member",
        8,
    )
    .await;
    p.compare(
        "offset_commit/wrong_generation",
        commit("diff-group", 9, "nobody", "diff-log", 0, 5),
        8,
    )
    .await;
    p.compare(
        "offset_commit/standalone",
        commit("diff-solo", -1, "", "diff-log", 0, 3),
        8,
    )
    .await;
    p.compare(
        "offset_commit/unknown_topic",
        commit("diff-solo", -1, "", "diff-nope", 0, 3),
        8,
    )
    .await;
    let fetch_offsets = |g: &str| {
        RequestKind::OffsetFetch(
            OffsetFetchRequest::default()
                .with_group_id(group_id(g))
                .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                    .with_name(name("diff-log"))
                    .with_partition_indexes(vec![0, 1])])),
        )
    };
    p.compare("offset_fetch/member_group", fetch_offsets("diff-group"), 7)
        .await;
    p.compare("offset_fetch/solo", fetch_offsets("diff-solo"), 7)
        .await;
    p.compare("offset_fetch/unknown_group", fetch_offsets("diff-never"), 7)
        .await;
    p.compare(
        "describe_groups/known_and_unknown",
        RequestKind::DescribeGroups(
            DescribeGroupsRequest::default()
                .with_groups(vec![group_id("diff-group"), group_id("diff-never")]),
        ),
        5,
    )
    .await;
    p.compare(
        "describe_groups/authorized_operations",
        RequestKind::DescribeGroups(
            DescribeGroupsRequest::default()
                .with_groups(vec![group_id("diff-group"), group_id("diff-never")])
                .with_include_authorized_operations(true),
        ),
        5,
    )
    .await;
    p.compare(
        "describe_groups/v6_unknown",
        RequestKind::DescribeGroups(
            DescribeGroupsRequest::default().with_groups(vec![group_id("diff-never")]),
        ),
        6,
    )
    .await;
    p.compare(
        "delete_groups/non_empty_and_unknown",
        RequestKind::DeleteGroups(
            DeleteGroupsRequest::default()
                .with_groups_names(vec![group_id("diff-group"), group_id("diff-never")]),
        ),
        2,
    )
    .await;
    let leave = |m: &str| {
        use kafka_protocol::messages::leave_group_request::MemberIdentity;
        RequestKind::LeaveGroup(
            LeaveGroupRequest::default()
                .with_group_id(group_id("diff-group"))
                .with_members(vec![MemberIdentity::default().with_member_id(s(m))]),
        )
    };
    p.compare_each(leave(&gm), leave(&km), "leave_group/member", 3)
        .await;
    p.compare("leave_group/unknown", leave("nobody"), 3).await;
    p.compare(
        "delete_groups/empty",
        RequestKind::DeleteGroups(
            DeleteGroupsRequest::default().with_groups_names(vec![group_id("diff-group")]),
        ),
        2,
    )
    .await;
}

async fn misc(p: &mut Pair) {
    let init = |txn: Option<&str>, pid: i64, epoch: i16| {
        RequestKind::InitProducerId(
            InitProducerIdRequest::default()
                .with_transactional_id(txn.map(|t| TransactionalId(s(t))))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch),
        )
    };
    // Kafka fetches its first block of producer ids from its controller after start-up and
    // answers COORDINATOR_LOAD_IN_PROGRESS until it has one: wait for that, then compare.
    p.settle(
        init(None, -1, -1),
        4,
        |r| matches!(r, ResponseKind::InitProducerId(r) if r.error_code == 0),
    )
    .await;
    p.compare("init_producer_id/idempotent", init(None, -1, -1), 4)
        .await;
    p.compare(
        "init_producer_id/empty_transactional_id",
        init(Some(""), -1, -1),
        4,
    )
    .await;
    p.compare("init_producer_id/id_without_epoch", init(None, 5, -1), 4)
        .await;
    p.compare("init_producer_id/epoch_without_id", init(None, -1, 3), 4)
        .await;
    // An idempotent producer naming its id and epoch gets a fresh id at epoch 0.
    p.compare("init_producer_id/idempotent_bump", init(None, 1000, 0), 4)
        .await;
    p.compare(
        "describe_cluster/v1",
        RequestKind::DescribeCluster(DescribeClusterRequest::default()),
        1,
    )
    .await;
    // An API key no Kafka has, and ApiVersions at a version from the future.
    let mut unknown = Vec::new();
    unknown.extend_from_slice(&12i32.to_be_bytes());
    unknown.extend_from_slice(&999i16.to_be_bytes());
    unknown.extend_from_slice(&0i16.to_be_bytes());
    unknown.extend_from_slice(&7i32.to_be_bytes());
    unknown.extend_from_slice(&(-1i16).to_be_bytes());
    p.compare_raw("raw/unknown_api_key", &unknown).await;
    let mut future = Vec::new();
    future.extend_from_slice(&12i32.to_be_bytes());
    future.extend_from_slice(&18i16.to_be_bytes());
    future.extend_from_slice(&99i16.to_be_bytes());
    future.extend_from_slice(&8i32.to_be_bytes());
    future.extend_from_slice(&(-1i16).to_be_bytes());
    p.compare_raw("raw/api_versions_v99", &future).await;
}

/// The admin APIs Kafka's command-line tools and the AdminClient call beyond the client basics.
async fn tool_apis(p: &mut Pair, t0: i64) {
    use kafka_protocol::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
    use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
    use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
    use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;

    // An idempotent producer's batch on each broker (each with the id its broker handed out),
    // for DescribeProducers.
    p.compare(
        "create_topics/for_tools",
        create_topics(vec![create("diff-tools", 2, 1, &[])], false),
        7,
    )
    .await;
    let init = RequestKind::InitProducerId(
        InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60_000),
    );
    let (g, k) = p.compare("init_producer_id/for_tools", init, 4).await;
    let pid = |a: &Answer| match a {
        Answer::Response(r) => match r.as_ref() {
            ResponseKind::InitProducerId(r) => r.producer_id.0,
            other => panic!("{other:?}"),
        },
        Answer::Closed => panic!("InitProducerId closed the connection"),
    };
    let idempotent = |pid: i64| {
        let records: Vec<RecordFields<'_>> = ["x", "y"]
            .iter()
            .enumerate()
            .map(|(i, v)| RecordFields {
                offset_delta: i as i32,
                timestamp_delta: i as i64,
                value: Some(v.as_bytes()),
                ..Default::default()
            })
            .collect();
        let mut body = Vec::new();
        for r in &records {
            put_record(&mut body, r);
        }
        build_batch(
            &BatchFields {
                base_timestamp: t0,
                max_timestamp: t0 + 1,
                last_offset_delta: 1,
                producer_id: pid,
                producer_epoch: 0,
                base_sequence: 0,
                records_count: 2,
                ..BatchFields::default()
            },
            &body,
        )
    };
    p.compare_each(
        produce("diff-tools", 1, -1, idempotent(pid(&g))),
        produce("diff-tools", 1, -1, idempotent(pid(&k))),
        "produce/idempotent_for_tools",
        9,
    )
    .await;
    let describe_producers = |partitions: &[i32]| {
        RequestKind::DescribeProducers(DescribeProducersRequest::default().with_topics(vec![
            kafka_protocol::messages::describe_producers_request::TopicRequest::default()
                .with_name(name("diff-tools"))
                .with_partition_indexes(partitions.to_vec()),
        ]))
    };
    p.compare(
        "describe_producers/partitions",
        describe_producers(&[0, 1, 7]),
        0,
    )
    .await;
    p.compare(
        "describe_producers/unknown_topic",
        RequestKind::DescribeProducers(DescribeProducersRequest::default().with_topics(vec![
            kafka_protocol::messages::describe_producers_request::TopicRequest::default()
                .with_name(name("diff-nope"))
                .with_partition_indexes(vec![0]),
        ])),
        0,
    )
    .await;

    // DescribeLogDirs: named partitions (sizes are those of identical batches), a missing one.
    for v in [1, 4] {
        p.compare(
            &format!("describe_log_dirs/v{v}"),
            RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default().with_topics(Some(
                vec![
                DescribableLogDirTopic::default()
                    .with_topic(name("diff-tools"))
                    .with_partitions(vec![0, 1, 9]),
                DescribableLogDirTopic::default()
                    .with_topic(name("diff-nope"))
                    .with_partitions(vec![0]),
            ],
            ))),
            v,
        )
        .await;
    }

    // DescribeTopicPartitions: named (sorted, unknown ones flagged), paged by a limit.
    let dtp = |topics: &[&str], limit: i32, cursor: Option<(&str, i32)>| {
        RequestKind::DescribeTopicPartitions(
            DescribeTopicPartitionsRequest::default()
                .with_topics(
                    topics
                        .iter()
                        .map(|t| TopicRequest::default().with_name(name(t)))
                        .collect(),
                )
                .with_response_partition_limit(limit)
                .with_cursor(cursor.map(|(t, i)| {
                    Cursor::default()
                        .with_topic_name(name(t))
                        .with_partition_index(i)
                })),
        )
    };
    p.compare(
        "describe_topic_partitions/named",
        dtp(&["diff-tools", "diff-nope", "diff-topic"], 2000, None),
        0,
    )
    .await;
    p.compare(
        "describe_topic_partitions/paged",
        dtp(&["diff-tools", "diff-topic"], 3, None),
        0,
    )
    .await;
    p.compare(
        "describe_topic_partitions/cursor",
        dtp(&["diff-tools", "diff-topic"], 3, Some(("diff-topic", 1))),
        0,
    )
    .await;

    // DescribeQuorum for the metadata log, and for a partition it does not have.
    let quorum = |partition: i32| {
        RequestKind::DescribeQuorum(DescribeQuorumRequest::default().with_topics(vec![
            TopicData::default()
                .with_topic_name(name("__cluster_metadata"))
                .with_partitions(vec![PartitionData::default().with_partition_index(partition)]),
        ]))
    };
    p.compare("describe_quorum/v2", quorum(0), 2).await;
    p.compare("describe_quorum/v0", quorum(0), 0).await;

    // ElectLeaders: preferred for named partitions (never needed), for all (nothing to do).
    let elect = |topics: Option<&[(&str, &[i32])]>| {
        RequestKind::ElectLeaders(
            ElectLeadersRequest::default()
                .with_election_type(0)
                .with_timeout_ms(10_000)
                .with_topic_partitions(topics.map(|ts| {
                    ts.iter()
                        .map(|(t, ps)| {
                            TopicPartitions::default()
                                .with_topic(name(t))
                                .with_partitions(ps.to_vec())
                        })
                        .collect()
                })),
        )
    };
    p.compare(
        "elect_leaders/named",
        elect(Some(&[("diff-tools", &[0, 1]), ("diff-nope", &[0])])),
        2,
    )
    .await;
    p.compare("elect_leaders/all", elect(None), 2).await;
    p.compare("elect_leaders/v0", elect(Some(&[("diff-tools", &[0])])), 0)
        .await;

    // Reassignments: none in progress; to the replica a partition has; to a broker that does
    // not exist; cancelling one that is not running; an unknown topic.
    p.compare(
        "list_partition_reassignments/all",
        RequestKind::ListPartitionReassignments(ListPartitionReassignmentsRequest::default()),
        0,
    )
    .await;
    p.compare(
        "list_partition_reassignments/named",
        RequestKind::ListPartitionReassignments(
            ListPartitionReassignmentsRequest::default().with_topics(Some(vec![
                ListPartitionReassignmentsTopics::default()
                    .with_name(name("diff-tools"))
                    .with_partition_indexes(vec![0]),
            ])),
        ),
        0,
    )
    .await;
    let reassign = |topic: &str, replicas: Option<Vec<i32>>| {
        RequestKind::AlterPartitionReassignments(
            AlterPartitionReassignmentsRequest::default()
                .with_timeout_ms(10_000)
                .with_topics(vec![ReassignableTopic::default()
                    .with_name(name(topic))
                    .with_partitions(vec![ReassignablePartition::default()
                        .with_partition_index(0)
                        .with_replicas(
                            replicas.map(|r| r.into_iter().map(BrokerId).collect()),
                        )])]),
        )
    };
    p.compare(
        "alter_partition_reassignments/same",
        reassign("diff-tools", Some(vec![1])),
        0,
    )
    .await;
    p.compare(
        "alter_partition_reassignments/missing_broker",
        reassign("diff-tools", Some(vec![7])),
        0,
    )
    .await;
    p.compare(
        "alter_partition_reassignments/cancel",
        reassign("diff-tools", None),
        0,
    )
    .await;
    p.compare(
        "alter_partition_reassignments/unknown_topic",
        reassign("diff-nope", Some(vec![1])),
        0,
    )
    .await;

    // ACLs with no authorizer; quotas with none configured.
    p.compare(
        "describe_acls/any",
        RequestKind::DescribeAcls(
            DescribeAclsRequest::default()
                .with_resource_type_filter(1)
                .with_pattern_type_filter(1)
                .with_operation(1)
                .with_permission_type(1),
        ),
        3,
    )
    .await;
    p.compare(
        "create_acls/one",
        RequestKind::CreateAcls(CreateAclsRequest::default().with_creations(vec![
            kafka_protocol::messages::create_acls_request::AclCreation::default()
                .with_resource_type(2)
                .with_resource_name(s("diff-tools"))
                .with_resource_pattern_type(3)
                .with_principal(s("User:alice"))
                .with_host(s("*"))
                .with_operation(3)
                .with_permission_type(3),
        ])),
        3,
    )
    .await;
    p.compare(
        "delete_acls/one",
        RequestKind::DeleteAcls(DeleteAclsRequest::default().with_filters(vec![
            kafka_protocol::messages::delete_acls_request::DeleteAclsFilter::default()
                .with_resource_type_filter(1)
                .with_pattern_type_filter(1)
                .with_operation(1)
                .with_permission_type(1),
        ])),
        3,
    )
    .await;
    p.compare(
        "describe_client_quotas/all",
        RequestKind::DescribeClientQuotas(DescribeClientQuotasRequest::default()),
        1,
    )
    .await;

    // Transactions: none exist yet.
    let list = |states: &[&str], pattern: Option<&str>| {
        RequestKind::ListTransactions(
            ListTransactionsRequest::default()
                .with_state_filters(states.iter().map(|t| s(t)).collect())
                .with_transactional_id_pattern(pattern.map(s)),
        )
    };
    p.compare("list_transactions/v0", list(&["Ongoing", "Bogus"], None), 0)
        .await;
    p.compare("list_transactions/v2", list(&[], Some("diff-.*")), 2)
        .await;
    // DescribeTransactions goes to the id's transaction coordinator, found first (Kafka creates
    // its transaction log then, and answers NOT_COORDINATOR until it has loaded it).
    let find_txn = RequestKind::FindCoordinator(
        FindCoordinatorRequest::default()
            .with_key_type(1)
            .with_coordinator_keys(vec![s("diff-nope")]),
    );
    // Kafka answers COORDINATOR_NOT_AVAILABLE while it creates its transaction log.
    p.settle(find_txn, 4, |r| {
        matches!(r, ResponseKind::FindCoordinator(r)
            if r.coordinators.iter().all(|c| c.error_code == 0))
    })
    .await;
    p.compare(
        "find_coordinator/transaction",
        RequestKind::FindCoordinator(
            FindCoordinatorRequest::default()
                .with_key_type(1)
                .with_coordinator_keys(vec![s("diff-nope")]),
        ),
        4,
    )
    .await;
    let describe = RequestKind::DescribeTransactions(
        DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(s("diff-nope"))]),
    );
    p.settle(describe.clone(), 0, |r| {
        matches!(r, ResponseKind::DescribeTransactions(r)
            if r.transaction_states.iter().all(|t| ![14, 15, 16].contains(&t.error_code)))
    })
    .await;
    p.compare("describe_transactions/unknown", describe, 0)
        .await;
    p.compare(
        "metadata/authorized_operations",
        RequestKind::Metadata(
            MetadataRequest::default()
                .with_topics(Some(vec![
                    MetadataRequestTopic::default().with_name(Some(name("diff-tools"))),
                    MetadataRequestTopic::default().with_name(Some(name("diff-nope"))),
                ]))
                .with_allow_auto_topic_creation(false)
                .with_include_cluster_authorized_operations(true)
                .with_include_topic_authorized_operations(true),
        ),
        10,
    )
    .await;
    p.compare(
        "describe_cluster/authorized_operations",
        RequestKind::DescribeCluster(
            DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
        ),
        1,
    )
    .await;
    p.compare(
        "describe_cluster/v2",
        RequestKind::DescribeCluster(
            DescribeClusterRequest::default().with_include_fenced_brokers(true),
        ),
        2,
    )
    .await;
}

/// Dynamic broker configs: this broker and the cluster default, what may change at run time,
/// and what DescribeConfigs then reports. Keys that do not disturb the rest of the corpus, and
/// every change undone at the end.
async fn broker_configs(p: &mut Pair) {
    let broker =
        |entity: &str, ops: &[(&str, i8, Option<&str>)]| incremental_alter_resource(4, entity, ops);
    // Kafka applies a dynamic change when its metadata log reaches the broker, a moment after
    // the answer: wait until both show `value` for `key` of topic diff-tools.
    let visible = |key: &'static str, value: &'static str| {
        (
            describe_configs(2, "diff-tools", Some(&[key])),
            move |r: &ResponseKind| {
                matches!(r, ResponseKind::DescribeConfigs(r)
                    if r.results[0].configs.first().and_then(|c| c.value.as_deref()) == Some(value))
            },
        )
    };
    p.compare(
        "describe_configs/cluster_default",
        describe_configs(4, "", None),
        4,
    )
    .await;
    p.compare(
        "incremental_alter_configs/broker_set",
        broker(
            "1",
            &[("log.cleaner.delete.retention.ms", 0, Some("86400001"))],
        ),
        1,
    )
    .await;
    p.compare(
        "incremental_alter_configs/default_set",
        broker(
            "",
            &[
                ("log.cleaner.delete.retention.ms", 0, Some("86400002")),
                ("log.flush.interval.messages", 0, Some("1000000")),
            ],
        ),
        1,
    )
    .await;
    let (req, cond) = visible("delete.retention.ms", "86400001");
    p.settle(req, 4, cond).await;
    let (req, cond) = visible("flush.messages", "1000000");
    p.settle(req, 4, cond).await;
    p.compare(
        "describe_configs/after_broker_set",
        describe_configs(
            2,
            "diff-tools",
            Some(&[
                "delete.retention.ms",
                "flush.messages",
                "min.insync.replicas",
            ]),
        ),
        4,
    )
    .await;
    p.compare(
        "describe_configs/broker_after_set",
        describe_configs(
            4,
            "1",
            Some(&[
                "log.cleaner.delete.retention.ms",
                "log.flush.interval.messages",
            ]),
        ),
        4,
    )
    .await;
    p.compare(
        "describe_configs/cluster_default_after_set",
        describe_configs(4, "", None),
        4,
    )
    .await;
    p.compare(
        "incremental_alter_configs/broker_static_key",
        broker("1", &[("node.id", 0, Some("5"))]),
        1,
    )
    .await;
    p.compare(
        "incremental_alter_configs/broker_bad_value",
        broker("1", &[("log.cleaner.delete.retention.ms", 0, Some("soon"))]),
        1,
    )
    .await;
    p.compare(
        "incremental_alter_configs/broker_unknown_key",
        broker("1", &[("diff.no.such.key", 0, Some("1"))]),
        1,
    )
    .await;
    let unknown = describe_configs(4, "1", Some(&["diff.no.such.key"]));
    p.settle(
        unknown.clone(),
        4,
        |r| matches!(r, ResponseKind::DescribeConfigs(r) if !r.results[0].configs.is_empty()),
    )
    .await;
    p.compare("describe_configs/broker_unknown_key", unknown, 4)
        .await;
    p.compare(
        "incremental_alter_configs/broker_delete",
        broker(
            "1",
            &[
                ("log.cleaner.delete.retention.ms", 1, None),
                ("diff.no.such.key", 1, None),
            ],
        ),
        1,
    )
    .await;
    p.compare(
        "incremental_alter_configs/default_delete",
        broker(
            "",
            &[
                ("log.cleaner.delete.retention.ms", 1, None),
                ("log.flush.interval.messages", 1, None),
            ],
        ),
        1,
    )
    .await;
    let (req, cond) = visible("delete.retention.ms", "86400000");
    p.settle(req, 4, cond).await;
    let (req, cond) = visible("flush.messages", "9223372036854775807");
    p.settle(req, 4, cond).await;
    p.compare(
        "describe_configs/after_broker_delete",
        describe_configs(
            2,
            "diff-tools",
            Some(&["delete.retention.ms", "flush.messages"]),
        ),
        4,
    )
    .await;
}

/// A Fetch of one partition at an isolation level (1: read_committed).
fn fetch_isolated(topic: &str, partition: i32, offset: i64, isolation: i8) -> RequestKind {
    match fetch(topic, partition, offset) {
        RequestKind::Fetch(f) => RequestKind::Fetch(f.with_isolation_level(isolation)),
        other => other,
    }
}

/// InitProducerId for transactional id `txn` (KIP-360 `current` producer id and epoch).
pub(crate) fn init_producer_id(
    txn: &str,
    timeout: i32,
    current: Option<(i64, i16)>,
) -> RequestKind {
    let (pid, epoch) = current.unwrap_or((-1, -1));
    RequestKind::InitProducerId(
        InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s(txn))))
            .with_transaction_timeout_ms(timeout)
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch),
    )
}

/// The producer id and epoch an InitProducerId answered.
pub(crate) fn producer_of(a: &Answer) -> (i64, i16) {
    match a {
        Answer::Response(r) => match r.as_ref() {
            ResponseKind::InitProducerId(r) => (r.producer_id.0, r.producer_epoch),
            other => panic!("{other:?}"),
        },
        Answer::Closed => panic!("InitProducerId closed the connection"),
    }
}

/// AddPartitionsToTxn (v3 and below) of `topics` for `txn` as producer (id, epoch).
pub(crate) fn add_partitions_to_txn(
    txn: &str,
    (pid, epoch): (i64, i16),
    topics: &[(&str, &[i32])],
) -> RequestKind {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    RequestKind::AddPartitionsToTxn(
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(s(txn)))
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(
                topics
                    .iter()
                    .map(|(t, ps)| {
                        AddPartitionsToTxnTopic::default()
                            .with_name(name(t))
                            .with_partitions(ps.to_vec())
                    })
                    .collect(),
            ),
    )
}

/// EndTxn for `txn` as producer (id, epoch).
pub(crate) fn end_txn(txn: &str, (pid, epoch): (i64, i16), commit: bool) -> RequestKind {
    RequestKind::EndTxn(
        EndTxnRequest::default()
            .with_transactional_id(TransactionalId(s(txn)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(commit),
    )
}

/// A Produce request made transactional for `txn`.
pub(crate) fn transactional(txn: &str, req: RequestKind) -> RequestKind {
    match req {
        RequestKind::Produce(r) => {
            RequestKind::Produce(r.with_transactional_id(Some(TransactionalId(s(txn)))))
        }
        other => other,
    }
}

/// The transaction APIs, step by step as a transactional producer drives them, with the
/// errors of each (issue 14).
async fn transactions(p: &mut Pair, t0: i64) {
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::write_txn_markers_request::{
        WritableTxnMarker, WritableTxnMarkerTopic,
    };
    let txn = "diff-txn-id";
    p.compare(
        "create_topics/for_transactions",
        create_topics(
            vec![
                create("diff-txn", 2, 1, &[]),
                create("diff-txn-other", 1, 1, &[]),
            ],
            false,
        ),
        7,
    )
    .await;
    let find = |key: &str| {
        RequestKind::FindCoordinator(
            FindCoordinatorRequest::default()
                .with_key_type(1)
                .with_coordinator_keys(vec![s(key)]),
        )
    };
    p.compare("find_coordinator/transaction", find(txn), 4)
        .await;
    let init = |timeout: i32, current: Option<(i64, i16)>| init_producer_id(txn, timeout, current);
    // Kafka loads __transaction_state on first use: wait until it answers.
    p.settle(
        init(60_000, None),
        4,
        |r| matches!(r, ResponseKind::InitProducerId(r) if r.error_code == 0),
    )
    .await;
    p.compare(
        "init_producer_id/transaction_timeout_too_large",
        init(900_001, None),
        4,
    )
    .await;
    let (g, k) = p
        .compare("init_producer_id/transactional", init(60_000, None), 4)
        .await;
    let pe = producer_of;
    let (gp, kp) = (pe(&g), pe(&k));
    let add = |pe: (i64, i16), topics: &[(&str, &[i32])]| add_partitions_to_txn(txn, pe, topics);
    p.compare_each(
        add(gp, &[("diff-txn", &[0]), ("diff-nope", &[0])]),
        add(kp, &[("diff-txn", &[0]), ("diff-nope", &[0])]),
        "add_partitions_to_txn/unknown_topic",
        3,
    )
    .await;
    p.compare_each(
        add((gp.0, gp.1 + 5), &[("diff-txn", &[0])]),
        add((kp.0, kp.1 + 5), &[("diff-txn", &[0])]),
        "add_partitions_to_txn/wrong_epoch",
        3,
    )
    .await;
    p.compare_each(
        add((gp.0, gp.1 + 5), &[("diff-txn", &[0])]),
        add((kp.0, kp.1 + 5), &[("diff-txn", &[0])]),
        "add_partitions_to_txn/wrong_epoch_v1",
        1,
    )
    .await;
    p.compare(
        "add_partitions_to_txn/unknown_transactional_id",
        add((12345, 0), &[("diff-txn", &[0])]),
        3,
    )
    .await;
    p.compare_each(
        add(gp, &[("diff-txn", &[0, 1])]),
        add(kp, &[("diff-txn", &[0, 1])]),
        "add_partitions_to_txn/v3",
        3,
    )
    .await;
    let batch = |(pid, epoch): (i64, i16), seq: i32, values: &[&str]| {
        let mut body = Vec::new();
        for (i, v) in values.iter().enumerate() {
            put_record(
                &mut body,
                &RecordFields {
                    offset_delta: i as i32,
                    value: Some(v.as_bytes()),
                    ..Default::default()
                },
            );
        }
        build_batch(
            &BatchFields {
                attributes: gregor::record::batch::TRANSACTIONAL_BIT,
                base_timestamp: t0,
                max_timestamp: t0,
                last_offset_delta: values.len() as i32 - 1,
                producer_id: pid,
                producer_epoch: epoch,
                base_sequence: seq,
                records_count: values.len() as i32,
                ..BatchFields::default()
            },
            &body,
        )
    };
    let txn_produce = |topic: &str, partition: i32, records: Vec<u8>| {
        transactional(txn, produce(topic, partition, -1, records))
    };
    p.compare_each(
        txn_produce("diff-txn", 0, batch(gp, 0, &["a", "b"])),
        txn_produce("diff-txn", 0, batch(kp, 0, &["a", "b"])),
        "produce/transactional",
        9,
    )
    .await;
    p.compare_each(
        txn_produce("diff-txn-other", 0, batch(gp, 0, &["x"])),
        txn_produce("diff-txn-other", 0, batch(kp, 0, &["x"])),
        "produce/transactional_partition_not_added",
        9,
    )
    .await;
    p.compare_each(
        produce("diff-txn", 1, -1, batch(gp, 0, &["x"])),
        produce("diff-txn", 1, -1, batch(kp, 0, &["x"])),
        "produce/transactional_without_transactional_id",
        9,
    )
    .await;
    p.compare(
        "fetch/txn_open_read_committed",
        fetch_isolated("diff-txn", 0, 0, 1),
        12,
    )
    .await;
    p.compare(
        "fetch/txn_open_read_uncommitted",
        fetch_isolated("diff-txn", 0, 0, 0),
        12,
    )
    .await;
    let latest = |isolation: i8| match list_offsets("diff-txn", 0, -1) {
        RequestKind::ListOffsets(r) => RequestKind::ListOffsets(r.with_isolation_level(isolation)),
        other => other,
    };
    p.compare("list_offsets/txn_open_read_committed", latest(1), 7)
        .await;
    p.compare("list_offsets/txn_open_read_uncommitted", latest(0), 7)
        .await;
    let describe = RequestKind::DescribeTransactions(
        DescribeTransactionsRequest::default().with_transactional_ids(vec![
            TransactionalId(s(txn)),
            TransactionalId(s("diff-nope")),
        ]),
    );
    p.compare("describe_transactions/ongoing", describe.clone(), 0)
        .await;
    p.compare(
        "list_transactions/ongoing",
        RequestKind::ListTransactions(
            ListTransactionsRequest::default().with_state_filters(vec![s("Ongoing"), s("Bogus")]),
        ),
        1,
    )
    .await;
    let add_offsets = |(pid, epoch): (i64, i16)| {
        RequestKind::AddOffsetsToTxn(
            AddOffsetsToTxnRequest::default()
                .with_transactional_id(TransactionalId(s(txn)))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_group_id(group_id("diff-txn-group")),
        )
    };
    p.compare_each(add_offsets(gp), add_offsets(kp), "add_offsets_to_txn/v3", 3)
        .await;
    let txn_commit = |(pid, epoch): (i64, i16), offset: i64| {
        RequestKind::TxnOffsetCommit(
            TxnOffsetCommitRequest::default()
                .with_transactional_id(TransactionalId(s(txn)))
                .with_group_id(group_id("diff-txn-group"))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_generation_id(-1)
                .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                    .with_name(name("diff-txn"))
                    .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(offset)
                        .with_committed_leader_epoch(-1)])]),
        )
    };
    // Kafka's group coordinator answers the first TxnOffsetCommit of a new group after it
    // verified the partition with the transaction coordinator: settle on it, then compare.
    p.compare_each(
        txn_commit(gp, 1),
        txn_commit(kp, 1),
        "txn_offset_commit/v3",
        3,
    )
    .await;
    let offset_fetch = RequestKind::OffsetFetch(
        OffsetFetchRequest::default()
            .with_group_id(group_id("diff-txn-group"))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(name("diff-txn"))
                .with_partition_indexes(vec![0])]))
            .with_require_stable(true),
    );
    p.compare(
        "offset_fetch/unstable_under_transaction",
        offset_fetch.clone(),
        7,
    )
    .await;
    let end = |pe: (i64, i16), commit: bool| end_txn(txn, pe, commit);
    p.compare_each(end(gp, true), end(kp, true), "end_txn/commit", 3)
        .await;
    // Kafka writes its markers after answering: wait until the transaction completed.
    p.settle(describe.clone(), 0, |r| {
        matches!(r, ResponseKind::DescribeTransactions(r)
            if r.transaction_states[0].transaction_state.as_str() == "CompleteCommit")
    })
    .await;
    p.compare("describe_transactions/complete_commit", describe.clone(), 0)
        .await;
    p.compare_each(end(gp, true), end(kp, true), "end_txn/commit_retry", 3)
        .await;
    p.compare_each(
        end(gp, false),
        end(kp, false),
        "end_txn/abort_after_commit",
        3,
    )
    .await;
    p.compare("offset_fetch/stable_after_commit", offset_fetch.clone(), 7)
        .await;
    p.compare(
        "fetch/txn_committed_read_committed",
        fetch_isolated("diff-txn", 0, 0, 1),
        12,
    )
    .await;
    p.compare("list_offsets/txn_committed_read_committed", latest(1), 7)
        .await;
    // A second transaction, aborted: read_committed lists it, read_uncommitted does not.
    p.compare_each(
        add(gp, &[("diff-txn", &[1])]),
        add(kp, &[("diff-txn", &[1])]),
        "add_partitions_to_txn/second_transaction",
        3,
    )
    .await;
    p.compare_each(
        txn_produce("diff-txn", 1, batch(gp, 0, &["gone", "too"])),
        txn_produce("diff-txn", 1, batch(kp, 0, &["gone", "too"])),
        "produce/transactional_to_abort",
        9,
    )
    .await;
    p.compare_each(end(gp, false), end(kp, false), "end_txn/abort", 3)
        .await;
    p.settle(describe.clone(), 0, |r| {
        matches!(r, ResponseKind::DescribeTransactions(r)
            if r.transaction_states[0].transaction_state.as_str() == "CompleteAbort")
    })
    .await;
    p.compare(
        "fetch/txn_aborted_read_committed",
        fetch_isolated("diff-txn", 1, 0, 1),
        12,
    )
    .await;
    p.compare(
        "fetch/txn_aborted_read_uncommitted",
        fetch_isolated("diff-txn", 1, 0, 0),
        12,
    )
    .await;
    p.compare_each(
        end(gp, true),
        end(kp, true),
        "end_txn/commit_after_abort",
        3,
    )
    .await;
    p.compare_each(end(gp, true), end(kp, true), "end_txn/no_transaction_v1", 1)
        .await;
    p.compare(
        "end_txn/unknown_transactional_id",
        RequestKind::EndTxn(
            EndTxnRequest::default()
                .with_transactional_id(TransactionalId(s("diff-nope")))
                .with_producer_id(ProducerId(1))
                .with_producer_epoch(0)
                .with_committed(true),
        ),
        3,
    )
    .await;
    // Fencing: an InitProducerId while a transaction is open aborts it.
    p.compare_each(
        add(gp, &[("diff-txn", &[0])]),
        add(kp, &[("diff-txn", &[0])]),
        "add_partitions_to_txn/before_fencing",
        3,
    )
    .await;
    p.compare(
        "init_producer_id/fences_an_open_transaction",
        init(60_000, None),
        4,
    )
    .await;
    p.settle(describe.clone(), 0, |r| {
        matches!(r, ResponseKind::DescribeTransactions(r)
            if r.transaction_states[0].transaction_state.as_str() == "CompleteAbort")
    })
    .await;
    p.compare("init_producer_id/after_fencing", init(60_000, None), 4)
        .await;
    p.compare_each(
        add(gp, &[("diff-txn", &[0])]),
        add(kp, &[("diff-txn", &[0])]),
        "add_partitions_to_txn/fenced_producer",
        3,
    )
    .await;
    p.compare_each(end(gp, true), end(kp, true), "end_txn/fenced_producer", 3)
        .await;
    p.compare("describe_transactions/after_fencing", describe, 0)
        .await;
    // WriteTxnMarkers, as `kafka-transactions abort` sends it.
    let markers = |pid: i64| {
        RequestKind::WriteTxnMarkers(WriteTxnMarkersRequest::default().with_markers(vec![
            WritableTxnMarker::default()
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(9)
                .with_transaction_result(false)
                .with_coordinator_epoch(0)
                .with_topics(vec![WritableTxnMarkerTopic::default()
                    .with_name(name("diff-txn-other"))
                    .with_partition_indexes(vec![0])]),
        ]))
    };
    p.compare_each(markers(gp.0), markers(kp.0), "write_txn_markers/abort", 1)
        .await;
    p.compare(
        "describe_producers/transactional",
        RequestKind::DescribeProducers(DescribeProducersRequest::default().with_topics(vec![
            kafka_protocol::messages::describe_producers_request::TopicRequest::default()
                .with_name(name("diff-txn"))
                .with_partition_indexes(vec![0, 1]),
        ])),
        0,
    )
    .await;
    transaction_edges(p).await;
}

/// Edges of the transaction APIs: offsets committed to a transaction that never added the
/// group, the broker-only batched AddPartitionsToTxn (v4+, `verify_only`), and a producer
/// naming its current id and epoch in InitProducerId (KIP-360).
async fn transaction_edges(p: &mut Pair) {
    use kafka_protocol::messages::add_partitions_to_txn_request::{
        AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
    };
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    let txn = "diff-txn-edges";
    let init = |current: Option<(i64, i16)>| {
        let (pid, epoch) = current.unwrap_or((-1, -1));
        RequestKind::InitProducerId(
            InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(s(txn))))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch),
        )
    };
    p.settle(
        init(None),
        4,
        |r| matches!(r, ResponseKind::InitProducerId(r) if r.error_code == 0),
    )
    .await;
    let (g, k) = p.compare("init_producer_id/edges", init(None), 4).await;
    let pe = producer_of;
    let (gp, kp) = (pe(&g), pe(&k));
    let (g, k) = p
        .compare_each(
            init(Some(gp)),
            init(Some(kp)),
            "init_producer_id/kip360_current_epoch",
            4,
        )
        .await;
    let (gp, kp) = (pe(&g), pe(&k));
    p.compare_each(
        init(Some((gp.0, gp.1 + 3))),
        init(Some((kp.0, kp.1 + 3))),
        "init_producer_id/kip360_wrong_epoch",
        4,
    )
    .await;
    let txn_commit = |(pid, epoch): (i64, i16)| {
        RequestKind::TxnOffsetCommit(
            TxnOffsetCommitRequest::default()
                .with_transactional_id(TransactionalId(s(txn)))
                .with_group_id(group_id("diff-txn-edges-group"))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_generation_id(-1)
                .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                    .with_name(name("diff-txn"))
                    .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(1)
                        .with_committed_leader_epoch(-1)])]),
        )
    };
    p.compare_each(
        txn_commit(gp),
        txn_commit(kp),
        "txn_offset_commit/group_not_added",
        3,
    )
    .await;
    let batched = |(pid, epoch): (i64, i16), verify_only: bool| {
        RequestKind::AddPartitionsToTxn(AddPartitionsToTxnRequest::default().with_transactions(
            vec![AddPartitionsToTxnTransaction::default()
                .with_transactional_id(TransactionalId(s(txn)))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_verify_only(verify_only)
                .with_topics(vec![AddPartitionsToTxnTopic::default()
                    .with_name(name("diff-txn"))
                    .with_partitions(vec![1])])],
        ))
    };
    for v in [4, 5] {
        p.compare_each(
            batched(gp, true),
            batched(kp, true),
            &format!("add_partitions_to_txn/v{v}_verify_only_not_added"),
            v,
        )
        .await;
    }
}
