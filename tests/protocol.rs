//! Protocol negotiation and bad input over raw sockets against a real broker: each bad frame
//! gets Kafka's answer or a closed connection, and a second client keeps being served.

mod common;

use common::group::{protocol, RawMember};
use common::{encode_request, framed, RawClient, TestBroker};
use gregor::protocol::versions::SUPPORTED;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_protocol::ResponseError;

async fn api_versions(c: &mut RawClient, version: i16) -> ApiVersionsResponse {
    match c
        .call(
            RequestKind::ApiVersions(
                ApiVersionsRequest::default()
                    .with_client_software_name(StrBytes::from_static_str("t"))
                    .with_client_software_version(StrBytes::from_static_str("1")),
            ),
            version,
        )
        .await
    {
        ResponseKind::ApiVersions(r) => r,
        other => panic!("{other:?}"),
    }
}

/// A second connection that must keep working while the first misbehaves.
async fn still_served(b: &TestBroker) {
    let mut c = RawClient::connect(b.addr).await;
    let r = api_versions(&mut c, 3).await;
    assert_eq!(r.error_code, 0);
}

#[tokio::test]
async fn api_versions_every_version_lists_the_table() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    for v in 0..=4 {
        let r = api_versions(&mut c, v).await;
        assert_eq!(r.error_code, 0, "v{v}");
        assert_eq!(r.api_keys.len(), SUPPORTED.len());
        for s in SUPPORTED {
            let k = r
                .api_keys
                .iter()
                .find(|k| k.api_key == s.key as i16)
                .expect("listed");
            assert_eq!((k.min_version, k.max_version), (s.advertised_min, s.max));
        }
    }
}

#[tokio::test]
async fn api_versions_v3_carries_kafkas_feature_tags_and_no_default_ones() {
    // Old librdkafka (Debian's kcat) reads past the end when default-valued tagged fields are
    // present: the body carries exactly Kafka 4.4's three (SupportedFeatures,
    // FinalizedFeaturesEpoch, FinalizedFeatures), each with a value, and no others.
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    let req = RequestKind::ApiVersions(ApiVersionsRequest::default());
    c.send_raw(&encode_request(&req, ApiKey::ApiVersions, 3, 5))
        .await;
    let (h, body) = c.read_frame(0).await.expect("answer");
    assert_eq!(h.correlation_id, 5);
    let mut at = 2 + 1 + SUPPORTED.len() * 7 + 4;
    assert_eq!(body[at], 3, "three tagged fields");
    at += 1;
    let mut tags = Vec::new();
    for _ in 0..3 {
        let (tag, size) = (body[at], usize::from(body[at + 1]));
        tags.push(tag);
        at += 2 + size;
    }
    assert_eq!(tags, [0, 1, 2]);
    assert_eq!(at, body.len(), "nothing after the tagged fields");
    let r = api_versions(&mut c, 3).await;
    let names = |fs: Vec<String>| fs.join(",");
    assert_eq!(
        names(
            r.supported_features
                .iter()
                .map(|f| format!("{}:{}-{}", f.name, f.min_version, f.max_version))
                .collect()
        ),
        "metadata.version:7-33",
        "below v4, features with minimum 0 are left out (KIP-1022)"
    );
    assert_eq!(r.finalized_features_epoch, 1);
    assert_eq!(
        names(
            r.finalized_features
                .iter()
                .map(|f| format!("{}={}", f.name, f.max_version_level))
                .collect()
        ),
        "metadata.version=33,group.version=1"
    );
    let r = api_versions(&mut c, 4).await;
    assert!(r
        .supported_features
        .iter()
        .any(|f| f.name.as_str() == "group.version" && f.min_version == 0 && f.max_version == 1));
}

#[tokio::test]
async fn api_versions_unknown_version_answers_v0_with_unsupported_version() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    // ApiVersions v99 with a header v2 and an unparseable body.
    let mut body = vec![0, 18, 0, 99, 0, 0, 0, 42, 0, 1, b'x', 0];
    body.extend_from_slice(&[1, 2, 3]);
    c.send_raw(&framed(&body)).await;
    let (h, mut rest) = c.read_frame(0).await.expect("answer");
    assert_eq!(h.correlation_id, 42);
    let r = ApiVersionsResponse::decode(&mut rest, 0).expect("v0 body");
    assert_eq!(r.error_code, ResponseError::UnsupportedVersion.code());
    assert!(r
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::Metadata as i16));
    still_served(&b).await;
}

#[tokio::test]
async fn every_advertised_api_and_version_is_answered() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    for s in SUPPORTED {
        for v in s.served_min..=s.max {
            let req = match s.key {
                ApiKey::Produce => RequestKind::Produce(ProduceRequest::default().with_acks(1)),
                ApiKey::Fetch => RequestKind::Fetch(FetchRequest::default()),
                ApiKey::ListOffsets => RequestKind::ListOffsets(ListOffsetsRequest::default()),
                ApiKey::Metadata => {
                    RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![])))
                }
                ApiKey::ApiVersions => RequestKind::ApiVersions(ApiVersionsRequest::default()),
                ApiKey::CreateTopics => RequestKind::CreateTopics(CreateTopicsRequest::default()),
                ApiKey::DeleteTopics => RequestKind::DeleteTopics(DeleteTopicsRequest::default()),
                ApiKey::DeleteRecords => {
                    RequestKind::DeleteRecords(DeleteRecordsRequest::default())
                }
                ApiKey::OffsetForLeaderEpoch => {
                    RequestKind::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default())
                }
                ApiKey::DescribeConfigs => {
                    RequestKind::DescribeConfigs(DescribeConfigsRequest::default())
                }
                ApiKey::AlterConfigs => RequestKind::AlterConfigs(AlterConfigsRequest::default()),
                ApiKey::CreatePartitions => {
                    RequestKind::CreatePartitions(CreatePartitionsRequest::default())
                }
                ApiKey::IncrementalAlterConfigs => {
                    RequestKind::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default())
                }
                ApiKey::DescribeCluster => {
                    RequestKind::DescribeCluster(DescribeClusterRequest::default())
                }
                ApiKey::InitProducerId => RequestKind::InitProducerId(
                    InitProducerIdRequest::default().with_transaction_timeout_ms(60000),
                ),
                ApiKey::FindCoordinator => {
                    RequestKind::FindCoordinator(FindCoordinatorRequest::default())
                }
                // Group requests with an empty group id are answered at once (INVALID_GROUP_ID),
                // never parked.
                ApiKey::JoinGroup => RequestKind::JoinGroup(
                    JoinGroupRequest::default().with_session_timeout_ms(10_000),
                ),
                ApiKey::SyncGroup => RequestKind::SyncGroup(SyncGroupRequest::default()),
                ApiKey::Heartbeat => RequestKind::Heartbeat(HeartbeatRequest::default()),
                ApiKey::LeaveGroup => RequestKind::LeaveGroup(LeaveGroupRequest::default()),
                ApiKey::OffsetCommit => RequestKind::OffsetCommit(OffsetCommitRequest::default()),
                ApiKey::OffsetFetch => RequestKind::OffsetFetch(OffsetFetchRequest::default()),
                ApiKey::OffsetDelete => RequestKind::OffsetDelete(OffsetDeleteRequest::default()),
                ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
                ApiKey::DescribeGroups => {
                    RequestKind::DescribeGroups(DescribeGroupsRequest::default())
                }
                ApiKey::DeleteGroups => RequestKind::DeleteGroups(DeleteGroupsRequest::default()),
                ApiKey::DescribeAcls => RequestKind::DescribeAcls(DescribeAclsRequest::default()),
                ApiKey::CreateAcls => RequestKind::CreateAcls(CreateAclsRequest::default()),
                ApiKey::DeleteAcls => RequestKind::DeleteAcls(DeleteAclsRequest::default()),
                ApiKey::DescribeLogDirs => {
                    RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default())
                }
                ApiKey::ElectLeaders => RequestKind::ElectLeaders(ElectLeadersRequest::default()),
                ApiKey::AlterPartitionReassignments => RequestKind::AlterPartitionReassignments(
                    AlterPartitionReassignmentsRequest::default(),
                ),
                ApiKey::ListPartitionReassignments => RequestKind::ListPartitionReassignments(
                    ListPartitionReassignmentsRequest::default(),
                ),
                ApiKey::DescribeClientQuotas => {
                    RequestKind::DescribeClientQuotas(DescribeClientQuotasRequest::default())
                }
                ApiKey::DescribeQuorum => {
                    RequestKind::DescribeQuorum(DescribeQuorumRequest::default())
                }
                ApiKey::DescribeProducers => {
                    RequestKind::DescribeProducers(DescribeProducersRequest::default())
                }
                ApiKey::DescribeTransactions => {
                    RequestKind::DescribeTransactions(DescribeTransactionsRequest::default())
                }
                ApiKey::ListTransactions => {
                    RequestKind::ListTransactions(ListTransactionsRequest::default())
                }
                ApiKey::DescribeTopicPartitions => {
                    RequestKind::DescribeTopicPartitions(DescribeTopicPartitionsRequest::default())
                }
                ApiKey::AddPartitionsToTxn => {
                    RequestKind::AddPartitionsToTxn(AddPartitionsToTxnRequest::default())
                }
                ApiKey::AddOffsetsToTxn => {
                    RequestKind::AddOffsetsToTxn(AddOffsetsToTxnRequest::default())
                }
                ApiKey::EndTxn => RequestKind::EndTxn(EndTxnRequest::default()),
                ApiKey::WriteTxnMarkers => {
                    RequestKind::WriteTxnMarkers(WriteTxnMarkersRequest::default())
                }
                ApiKey::TxnOffsetCommit => {
                    RequestKind::TxnOffsetCommit(TxnOffsetCommitRequest::default())
                }
                ApiKey::ConsumerGroupHeartbeat => {
                    RequestKind::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest::default())
                }
                ApiKey::ConsumerGroupDescribe => {
                    RequestKind::ConsumerGroupDescribe(ConsumerGroupDescribeRequest::default())
                }
                other => panic!("add a default request for {other:?} to this test"),
            };
            // `call` asserts the correlation id and that the body decodes at this version.
            let _ = c.call(req, v).await;
        }
    }
}

#[tokio::test]
async fn bad_lengths_close_the_connection_and_others_keep_working() {
    let b = TestBroker::start(&[("socket.request.max.bytes", "1000")]).await;
    for bytes in [
        (-1i32).to_be_bytes().to_vec(),
        1001i32.to_be_bytes().to_vec(),
        i32::MAX.to_be_bytes().to_vec(),
        framed(&[]),
        framed(&[0, 1, 2]),
    ] {
        let mut c = RawClient::connect(b.addr).await;
        c.send_raw(&bytes).await;
        assert!(c.is_closed().await, "{bytes:?} should close the connection");
        still_served(&b).await;
    }
}

#[tokio::test]
async fn truncated_frame_then_close_does_not_disturb_the_broker() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    c.send_raw(&[0, 0, 0, 100, 0, 18, 0, 3]).await;
    drop(c);
    still_served(&b).await;
}

#[tokio::test]
async fn random_bytes_unknown_keys_and_unsupported_versions_close() {
    let b = TestBroker::start(&[]).await;
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for _ in 0..50 {
        let n = (rnd() % 200) as usize + 1;
        cases.push(framed(&(0..n).map(|_| rnd() as u8).collect::<Vec<_>>()));
    }
    // Unknown API key 999, a known API (Metadata) at v99, Produce v0 (advertised, refused).
    cases.push(framed(&[0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0, 0]));
    cases.push(framed(&[0, 3, 0, 99, 0, 0, 0, 1, 0, 0]));
    cases.push(framed(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0]));
    for case in cases {
        let mut c = RawClient::connect(b.addr).await;
        c.send_raw(&case).await;
        // Random bytes that happen to form a valid request may be answered, else the
        // connection closes; either way the broker must keep serving (checked below).
        let _ = c.read_frame(0).await;
    }
    still_served(&b).await;
    let mut c = RawClient::connect(b.addr).await;
    c.send_raw(&framed(&[0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0, 0]))
        .await;
    assert!(c.is_closed().await, "unknown API key closes");
    let mut c = RawClient::connect(b.addr).await;
    c.send_raw(&framed(&[0, 3, 0, 99, 0, 0, 0, 1, 0, 0])).await;
    assert!(c.is_closed().await, "unsupported version closes");
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    let mut burst = Vec::new();
    for id in 0..20 {
        let req = RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![])));
        burst.extend_from_slice(&encode_request(&req, ApiKey::Metadata, 9, 1000 + id));
    }
    c.send_raw(&burst).await;
    for id in 0..20 {
        let (h, _) = c.read_frame(1).await.expect("answer");
        assert_eq!(h.correlation_id, 1000 + id);
    }
}

#[tokio::test]
async fn configs_over_raw_protocol_report_codes_sources_and_synonyms() {
    let b = TestBroker::start(&[("log.retention.ms", "86400000")]).await;
    let mut c = RawClient::connect(b.addr).await;
    let create = CreateTopicsRequest::default().with_topics(vec![
        create_topics_request::CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("cfg")))
            .with_num_partitions(1)
            .with_replication_factor(1),
    ]);
    let ResponseKind::CreateTopics(r) = c.call(RequestKind::CreateTopics(create), 7).await else {
        panic!()
    };
    assert_eq!(r.topics[0].error_code, 0);
    assert_ne!(r.topics[0].topic_id, uuid::Uuid::nil());

    // AlterConfigs with a bad value: INVALID_CONFIG, nothing changed.
    let alter = AlterConfigsRequest::default().with_resources(vec![
        alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("cfg"))
            .with_configs(vec![alter_configs_request::AlterableConfig::default()
                .with_name(StrBytes::from_static_str("retention.ms"))
                .with_value(Some(StrBytes::from_static_str("soon")))]),
    ]);
    let ResponseKind::AlterConfigs(r) = c.call(RequestKind::AlterConfigs(alter), 2).await else {
        panic!()
    };
    assert_eq!(
        r.responses[0].error_code,
        ResponseError::InvalidConfig.code()
    );

    // Incremental SET then DELETE of segment.ms.
    for (op, value) in [(0i8, Some("60000")), (1, None)] {
        let inc = IncrementalAlterConfigsRequest::default().with_resources(vec![
            incremental_alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("cfg"))
                .with_configs(vec![
                    incremental_alter_configs_request::AlterableConfig::default()
                        .with_name(StrBytes::from_static_str("segment.ms"))
                        .with_config_operation(op)
                        .with_value(value.map(StrBytes::from_static_str)),
                ]),
        ]);
        let ResponseKind::IncrementalAlterConfigs(r) =
            c.call(RequestKind::IncrementalAlterConfigs(inc), 1).await
        else {
            panic!()
        };
        assert_eq!(r.responses[0].error_code, 0);
        if op == 0 {
            assert_eq!(
                b.running
                    .as_ref()
                    .unwrap()
                    .cluster
                    .topics
                    .get("cfg")
                    .unwrap()
                    .overrides()["segment.ms"],
                "60000"
            );
        }
    }

    let describe = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_resources(vec![
            describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("cfg")),
            describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(4)
                .with_resource_name(StrBytes::from_static_str("1")),
        ]);
    let ResponseKind::DescribeConfigs(r) = c.call(RequestKind::DescribeConfigs(describe), 4).await
    else {
        panic!()
    };
    let topic = &r.results[0];
    assert_eq!(topic.error_code, 0);
    let retention = topic
        .configs
        .iter()
        .find(|e| *e.name == *"retention.ms")
        .unwrap();
    assert_eq!(retention.value.as_deref(), Some("86400000"));
    assert_eq!(retention.config_source, 4, "STATIC_BROKER_CONFIG");
    let syn: Vec<(&str, i8)> = retention
        .synonyms
        .iter()
        .map(|s| (s.name.as_str(), s.source))
        .collect();
    // As Kafka 4.4 lists it: the static setting, then the key it falls back to.
    assert_eq!(
        syn,
        vec![("log.retention.ms", 4), ("log.retention.hours", 5)]
    );
    assert_eq!(retention.config_type, 5, "LONG");
    let segment_ms = topic
        .configs
        .iter()
        .find(|e| *e.name == *"segment.ms")
        .unwrap();
    assert_eq!(
        segment_ms.config_source, 5,
        "deleted override falls back to the default"
    );
    let broker = &r.results[1];
    assert_eq!(broker.error_code, 0);
    assert!(broker
        .configs
        .iter()
        .any(|e| *e.name == *"num.partitions" && e.read_only));
}

#[tokio::test]
async fn bad_produce_batches_get_error_codes_and_store_nothing() {
    use common::{end_offset, produce_raw, record_batch};
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    let good = record_batch(3, None);
    assert_eq!(
        produce_raw(&mut c, "bad-input", 0, good.clone()).await,
        (0, 0)
    );
    let mutate = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = good.to_vec();
        f(&mut v);
        bytes::Bytes::from(v)
    };
    let cases: Vec<(&str, bytes::Bytes, ResponseError)> = vec![
        (
            "bad crc",
            mutate(&|v| {
                let n = v.len() - 1;
                v[n] ^= 1;
            }),
            ResponseError::CorruptMessage,
        ),
        (
            "length too long",
            mutate(&|v| {
                let doubled = (v.len() as i32) * 2;
                v[8..12].copy_from_slice(&doubled.to_be_bytes())
            }),
            ResponseError::CorruptMessage,
        ),
        (
            "length too short",
            mutate(&|v| v[8..12].copy_from_slice(&10i32.to_be_bytes())),
            ResponseError::CorruptMessage,
        ),
        (
            "magic 0",
            mutate(&|v| v[16] = 0),
            ResponseError::UnsupportedForMessageFormat,
        ),
        (
            "magic 1",
            mutate(&|v| v[16] = 1),
            ResponseError::UnsupportedForMessageFormat,
        ),
        (
            "record count",
            mutate(&|v| {
                v[57..61].copy_from_slice(&5i32.to_be_bytes());
                let crc = crc32c::crc32c(&v[21..]);
                v[17..21].copy_from_slice(&crc.to_be_bytes());
            }),
            ResponseError::InvalidRecord,
        ),
        (
            "trailing garbage",
            mutate(&|v| v.extend_from_slice(&[1, 2, 3])),
            ResponseError::CorruptMessage,
        ),
        ("empty", bytes::Bytes::new(), ResponseError::InvalidRecord),
    ];
    for (name, batch, want) in cases {
        let (code, _) = produce_raw(&mut c, "bad-input", 0, batch).await;
        assert_eq!(code, want.code(), "{name}");
        assert_eq!(
            end_offset(&mut c, "bad-input", 0).await,
            3,
            "{name}: nothing stored"
        );
    }
    // Oversized against the topic limit.
    let big = record_batch(60_000, None);
    let (code, _) = produce_raw(&mut c, "bad-input", 0, big).await;
    assert_eq!(code, ResponseError::MessageTooLarge.code());
    // The same connection still works, and the stored batch is intact.
    assert_eq!(produce_raw(&mut c, "bad-input", 0, good).await, (0, 3));
    assert_eq!(end_offset(&mut c, "bad-input", 0).await, 6);
    // Unknown partition.
    let (code, _) = produce_raw(&mut c, "bad-input", 7, record_batch(1, None)).await;
    assert_eq!(code, ResponseError::UnknownTopicOrPartition.code());
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let b = TestBroker::start(&[("connections.max.idle.ms", "300")]).await;
    let mut c = RawClient::connect(b.addr).await;
    let _ = api_versions(&mut c, 3).await;
    assert!(c.is_closed().await, "closed after connections.max.idle.ms");
    still_served(&b).await;
}

#[tokio::test]
async fn request_budget_pauses_reading_until_room_is_free() {
    // Budget of 1000 buffered request bytes across all connections.
    let b = TestBroker::start(&[("queued.max.request.bytes", "1000")]).await;
    // Connection A announces a 990-byte frame and sends only part of it: it holds the budget.
    let mut a = RawClient::connect(b.addr).await;
    let req = RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![])));
    let mut big = encode_request(&req, ApiKey::Metadata, 9, 77).to_vec();
    // Pad the request with a client id long enough to make a 990-byte frame.
    let client_id = "x".repeat(990 - (big.len() - 4) + "raw-test".len());
    let req_header = RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(9)
        .with_correlation_id(77)
        .with_client_id(Some(StrBytes::from_string(client_id)));
    big.clear();
    let mut body = bytes::BytesMut::new();
    kafka_protocol::protocol::Encodable::encode(&req_header, &mut body, 2).unwrap();
    kafka_protocol::protocol::Encodable::encode(
        &MetadataRequest::default().with_topics(Some(vec![])),
        &mut body,
        9,
    )
    .unwrap();
    big.extend_from_slice(&(body.len() as i32).to_be_bytes());
    big.extend_from_slice(&body);
    assert!(body.len() > 900 && body.len() <= 1000, "{}", body.len());
    a.send_raw(&big[..200]).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // Connection B's small request must wait for room...
    let mut c = RawClient::connect(b.addr).await;
    let small = encode_request(&req, ApiKey::Metadata, 9, 5);
    c.send_raw(&small).await;
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), c.read_frame(1)).await;
    assert!(waited.is_err(), "B is not served while A holds the budget");
    // ...and is served once A's frame is complete and handled.
    a.send_raw(&big[200..]).await;
    let (h, _) = a.read_frame(1).await.expect("A answered");
    assert_eq!(h.correlation_id, 77);
    let (h, _) = c.read_frame(1).await.expect("B answered after A");
    assert_eq!(h.correlation_id, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connections_are_served() {
    let b = TestBroker::start(&[]).await;
    let mut clients = Vec::new();
    for _ in 0..1000 {
        clients.push(RawClient::connect(b.addr).await);
    }
    for c in clients.iter_mut() {
        assert_eq!(api_versions(c, 3).await.error_code, 0);
    }
    still_served(&b).await;
}

#[tokio::test]
async fn fetch_by_topic_id_from_v13() {
    use common::{produce_raw, record_batch};
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    assert_eq!(
        produce_raw(&mut c, "by-id", 0, record_batch(4, None)).await,
        (0, 0)
    );
    let id = b
        .running
        .as_ref()
        .unwrap()
        .cluster
        .topics
        .get("by-id")
        .unwrap()
        .id;
    for (topic_id, want) in [
        (id, 0i16),
        (uuid::Uuid::new_v4(), ResponseError::UnknownTopicId.code()),
    ] {
        for version in [13i16, 17] {
            let req = FetchRequest::default()
                .with_max_wait_ms(0)
                .with_max_bytes(1 << 20)
                .with_topics(vec![FetchTopic::default()
                    .with_topic_id(topic_id)
                    .with_partitions(vec![FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(1)
                        .with_partition_max_bytes(1 << 20)])]);
            let ResponseKind::Fetch(r) = c.call(RequestKind::Fetch(req), version).await else {
                panic!()
            };
            let t = &r.responses[0];
            assert_eq!(t.topic_id, topic_id, "v{version} answers by topic id");
            let p = &t.partitions[0];
            assert_eq!(p.error_code, want, "v{version}");
            if want == 0 {
                assert_eq!(p.high_watermark, 4);
                let mut records = p.records.clone().unwrap();
                let sets =
                    kafka_protocol::records::RecordBatchDecoder::decode_all(&mut records).unwrap();
                let offsets: Vec<i64> = sets
                    .iter()
                    .flat_map(|s| s.records.iter().map(|r| r.offset))
                    .collect();
                assert_eq!(
                    offsets,
                    vec![0, 1, 2, 3],
                    "the whole stored batch, as stored"
                );
            }
        }
    }
}

#[tokio::test]
async fn forged_array_lengths_do_not_allocate_or_crash() {
    // Found by the fuzzer: a Metadata request whose topics array claims 0x7fffffff entries made
    // the decoder pre-allocate ~100 GB and abort the process (kafka-protocol is patched in
    // vendor/). Each such request must just close its connection.
    let b = TestBroker::start(&[]).await;
    for (api, version) in [(3i16, 1i16), (3, 12), (0, 9), (1, 12), (11, 5), (8, 8)] {
        let mut body = vec![];
        body.extend_from_slice(&api.to_be_bytes());
        body.extend_from_slice(&version.to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&1i16.to_be_bytes());
        body.push(b'x');
        let key = ApiKey::try_from(api).unwrap();
        if key.request_header_version(version) >= 2 {
            body.push(0); // empty tagged fields of a flexible (v2) header
        }
        body.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
        body.extend_from_slice(&[0xff; 8]);
        let mut c = RawClient::connect(b.addr).await;
        c.send_raw(&framed(&body)).await;
        let _ = c.read_frame(0).await;
        still_served(&b).await;
    }
}

/// JoinGroup v3 for one new member of `group` on its own connection: (error code, member id,
/// members the leader got).
async fn join(
    b: &TestBroker,
    group: &str,
    session_ms: i32,
    rebalance_ms: i32,
    protocols: Vec<join_group_request::JoinGroupRequestProtocol>,
) -> (i16, String, Vec<(String, usize)>) {
    let mut m = RawMember::connect(b.addr, group).await;
    let j = m.join_raw(3, session_ms, rebalance_ms, protocols).await;
    (j.error, j.member_id, j.members)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_group_with_absurd_timeouts_and_huge_metadata() {
    let b = TestBroker::start(&[]).await;
    let bad_session = ResponseError::InvalidSessionTimeout.code();
    // Session timeouts outside group.min/max.session.timeout.ms: refused, nothing created.
    for session in [i32::MIN, -1, 0, 5_999, 1_800_001, i32::MAX] {
        let (code, member, _) = join(
            &b,
            "absurd",
            session,
            30_000,
            vec![protocol("range", vec![])],
        )
        .await;
        assert_eq!(
            (code, member.as_str()),
            (bad_session, ""),
            "session {session}"
        );
    }
    // Rebalance timeouts are not bounded by Kafka either; extreme ones must not overflow the
    // coordinator's deadlines.
    for (i, rebalance) in [i32::MIN, -1, 0, i32::MAX].into_iter().enumerate() {
        let group = format!("rebalance-{i}");
        let (code, member, members) = join(
            &b,
            &group,
            10_000,
            rebalance,
            vec![protocol("range", vec![1, 2, 3])],
        )
        .await;
        assert_eq!(code, 0, "rebalance timeout {rebalance}");
        assert_eq!(members, vec![(member, 3)], "rebalance timeout {rebalance}");
    }
    // 4 MiB of protocol metadata (under socket.request.max.bytes) comes back to the leader
    // whole; 10,000 protocols are accepted and the first is chosen.
    let (code, member, members) = join(
        &b,
        "huge",
        10_000,
        30_000,
        vec![protocol("range", vec![7; 4 << 20])],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(members, vec![(member, 4 << 20)]);
    let many = (0..10_000)
        .map(|i| protocol(&format!("p{i}"), vec![0; 8]))
        .collect();
    let (code, _, members) = join(&b, "many", 10_000, 30_000, many).await;
    assert_eq!((code, members.len()), (0, 1));
    // An empty protocol list is refused (Kafka: INCONSISTENT_GROUP_PROTOCOL).
    let (code, _, _) = join(&b, "none", 10_000, 30_000, vec![]).await;
    assert_eq!(code, ResponseError::InconsistentGroupProtocol.code());
    still_served(&b).await;
}
