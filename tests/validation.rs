//! Produce validation over raw sockets against a real broker: batches that lie about their
//! contents, each with a correct CRC so the check under test is the validator. Each gets Kafka's
//! error code (and from Produce v8 its `error_message` and `record_errors`), nothing is stored,
//! the broker keeps serving, and another client's data stays as it was.

mod common;

use std::io::Write;

use bytes::Bytes;
use common::{end_offset, RawClient, TestBroker};
use gregor::record::builder::{
    build_batch, put_record, simple_batch, varint, BatchFields, RecordFields,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

async fn produce(
    c: &mut RawClient,
    topic: &str,
    records: Vec<u8>,
    version: i16,
) -> PartitionProduceResponse {
    common::ensure_topic(c, topic).await;
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(records)))])]);
    match c.call(RequestKind::Produce(req), version).await {
        ResponseKind::Produce(mut r) => r.responses.remove(0).partition_responses.remove(0),
        other => panic!("{other:?}"),
    }
}

/// ListOffsets for one timestamp (or -1 latest, -3 max timestamp): (error, offset, timestamp).
async fn list_offset(c: &mut RawClient, topic: &str, ts: i64) -> (i16, i64, i64) {
    let req = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(name(topic))
        .with_partitions(vec![ListOffsetsPartition::default()
            .with_partition_index(0)
            .with_timestamp(ts)])]);
    match c.call(RequestKind::ListOffsets(req), 7).await {
        ResponseKind::ListOffsets(r) => {
            let p = &r.topics[0].partitions[0];
            (p.error_code, p.offset, p.timestamp)
        }
        other => panic!("{other:?}"),
    }
}

async fn fetch_bytes(c: &mut RawClient, topic: &str) -> Bytes {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_partition_max_bytes(1 << 20)])]);
    match c.call(RequestKind::Fetch(req), 12).await {
        ResponseKind::Fetch(r) => r.responses[0].partitions[0]
            .records
            .clone()
            .unwrap_or_default(),
        other => panic!("{other:?}"),
    }
}

async fn create(c: &mut RawClient, topic: &str, configs: &[(&str, &str)]) {
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
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
            )]);
    match c.call(RequestKind::CreateTopics(req), 5).await {
        ResponseKind::CreateTopics(r) => assert_eq!(r.topics[0].error_code, 0),
        other => panic!("{other:?}"),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The records section of `n` keyed records numbered from 0.
fn section(n: usize) -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..n {
        put_record(
            &mut s,
            &RecordFields {
                offset_delta: i as i32,
                key: Some(b"key"),
                value: Some(b"value"),
                ..Default::default()
            },
        );
    }
    s
}

/// A batch header claiming `count` records, over `records` compressed with `codec` as given.
fn claiming(count: i32, codec: i16, records: &[u8]) -> Vec<u8> {
    let now = now_ms();
    build_batch(
        &BatchFields {
            attributes: codec,
            records_count: count,
            last_offset_delta: count - 1,
            base_timestamp: now,
            max_timestamp: now,
            ..BatchFields::default()
        },
        records,
    )
}

#[tokio::test]
async fn batches_that_lie_are_refused_and_store_nothing() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    // Another client's data, which none of what follows may touch.
    let mut other = RawClient::connect(b.addr).await;
    let theirs = simple_batch(
        now_ms(),
        &[RecordFields {
            key: Some(b"mine"),
            value: Some(b"untouched"),
            ..Default::default()
        }],
    );
    assert_eq!(
        produce(&mut other, "theirs", theirs.clone(), 9)
            .await
            .error_code,
        0
    );
    let theirs_stored = fetch_bytes(&mut other, "theirs").await;

    let good = claiming(2, 0, &section(2));
    assert_eq!(produce(&mut c, "lies", good.clone(), 9).await.error_code, 0);

    let one = section(1);
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
    let mut two_batches = good.clone();
    two_batches.extend(claiming(1, 0, &section(1)));
    let mut negative_headers = section(1);
    let hc = negative_headers.len() - 1;
    negative_headers[hc] = 0x01; // header count -1
    let future = simple_batch(
        now_ms() + 2 * 3_600_000,
        &[RecordFields {
            key: Some(b"k"),
            value: Some(b"from the future"),
            ..Default::default()
        }],
    );

    let cases: Vec<(&str, Vec<u8>, ResponseError)> = vec![
        (
            "gzip claiming 2^31-1 records holding one",
            claiming(i32::MAX, 1, &gzip(&one)),
            ResponseError::InvalidRecord,
        ),
        (
            "gzip claiming 3 records holding 1",
            claiming(3, 1, &gzip(&one)),
            ResponseError::InvalidRecord,
        ),
        (
            "plain claiming 3 records holding 1",
            claiming(3, 0, &one),
            ResponseError::InvalidRecord,
        ),
        (
            "gzip claiming 1 record holding 2",
            claiming(1, 1, &gzip(&section(2))),
            ResponseError::InvalidRecord,
        ),
        // Kafka 4.4 answers a payload its decompressor cannot read with UNKNOWN_SERVER_ERROR
        // (checked against the reference broker by tests/differential).
        (
            "gzip payload that is not gzip",
            claiming(1, 1, &one),
            ResponseError::UnknownServerError,
        ),
        (
            "snappy payload that is not snappy",
            claiming(1, 2, &one),
            ResponseError::UnknownServerError,
        ),
        (
            "lz4 payload that is not lz4",
            claiming(1, 3, &one),
            ResponseError::UnknownServerError,
        ),
        (
            "zstd payload that is not zstd",
            claiming(1, 4, &one),
            ResponseError::UnknownServerError,
        ),
        (
            "a key 2^30 bytes long",
            claiming(1, 0, &huge_key),
            ResponseError::InvalidRecord,
        ),
        (
            "offset delta 7 in a 1-record batch",
            claiming(1, 0, &delta_7),
            ResponseError::InvalidRecord,
        ),
        (
            "a negative header count",
            claiming(1, 0, &negative_headers),
            ResponseError::InvalidRecord,
        ),
        (
            "two batches in one partition",
            two_batches,
            ResponseError::InvalidRecord,
        ),
        (
            "a timestamp two hours ahead",
            future,
            ResponseError::InvalidTimestamp,
        ),
    ];
    for (what, batch, want) in cases {
        // Every case has a valid CRC: the refusal comes from the validator.
        let h = gregor::record::batch::check_batch(&batch, 0);
        assert!(
            h.is_ok() || what == "two batches in one partition",
            "{what}: {h:?}"
        );
        let r = produce(&mut c, "lies", batch, 9).await;
        assert_eq!(r.error_code, want.code(), "{what}: {:?}", r.error_message);
        assert_eq!(
            end_offset(&mut c, "lies", 0).await,
            2,
            "{what}: nothing stored"
        );
        // ListOffsets by timestamp walks the stored records: still answered.
        let (code, offset, _) = list_offset(&mut c, "lies", 0).await;
        assert_eq!((code, offset), (0, 0), "{what}");
    }
    assert_eq!(fetch_bytes(&mut c, "lies").await.len(), good.len());
    assert_eq!(fetch_bytes(&mut other, "theirs").await, theirs_stored);
    assert_eq!(end_offset(&mut other, "theirs", 0).await, 1);
    assert_eq!(produce(&mut c, "lies", good, 9).await.base_offset, 2);
}

#[tokio::test]
async fn keyless_records_on_a_compacted_topic_get_record_errors() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    create(&mut c, "table", &[("cleanup.policy", "compact")]).await;
    let keyless = RecordFields {
        value: Some(b"no key"),
        ..Default::default()
    };
    let keyed = RecordFields {
        key: Some(b"k"),
        value: Some(b"v"),
        ..Default::default()
    };
    let batch = simple_batch(now_ms(), &[keyed, keyless, keyed, keyless]);
    let r = produce(&mut c, "table", batch.clone(), 9).await;
    assert_eq!(r.error_code, ResponseError::InvalidRecord.code());
    let indexes: Vec<i32> = r.record_errors.iter().map(|e| e.batch_index).collect();
    assert_eq!(indexes, [1, 3]);
    let msg = r.error_message.as_deref().unwrap_or_default().to_string();
    assert!(msg.contains("2 record errors"), "{msg}");
    assert!(
        r.record_errors[0]
            .batch_index_error_message
            .as_deref()
            .is_some_and(|m| m.contains("without key")),
        "{:?}",
        r.record_errors
    );
    // Before v8 the code alone.
    assert_eq!(
        produce(&mut c, "table", batch, 7).await.error_code,
        ResponseError::InvalidRecord.code()
    );
    assert_eq!(end_offset(&mut c, "table", 0).await, 0);
    let ok = simple_batch(now_ms(), &[keyed, keyed]);
    assert_eq!(produce(&mut c, "table", ok, 9).await.error_code, 0);
    assert_eq!(end_offset(&mut c, "table", 0).await, 2);
}

#[tokio::test]
async fn timestamp_limits_follow_the_topic_configs() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    create(
        &mut c,
        "recent",
        &[("message.timestamp.before.max.ms", "60000")],
    )
    .await;
    let at = |ts: i64| {
        simple_batch(
            ts,
            &[RecordFields {
                value: Some(b"v"),
                ..Default::default()
            }],
        )
    };
    let r = produce(&mut c, "recent", at(now_ms() - 3_600_000), 9).await;
    assert_eq!(r.error_code, ResponseError::InvalidTimestamp.code());
    assert_eq!(r.record_errors.len(), 1);
    assert_eq!(
        produce(&mut c, "recent", at(now_ms()), 9).await.error_code,
        0
    );
    // LogAppendTime topics stamp the batch and take any producer timestamp.
    create(
        &mut c,
        "stamped",
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .await;
    let r = produce(&mut c, "stamped", at(now_ms() + 10 * 3_600_000), 9).await;
    assert_eq!(r.error_code, 0);
    assert!(r.log_append_time_ms > 0);
}

#[tokio::test]
async fn a_lying_max_timestamp_is_stored_as_the_records_say() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    let now = now_ms();
    let mut s = Vec::new();
    for (i, delta) in [0i64, 50, 20].iter().enumerate() {
        put_record(
            &mut s,
            &RecordFields {
                offset_delta: i as i32,
                timestamp_delta: *delta,
                value: Some(b"v"),
                ..Default::default()
            },
        );
    }
    let lying = build_batch(
        &BatchFields {
            records_count: 3,
            last_offset_delta: 2,
            base_timestamp: now,
            max_timestamp: now + 1_000_000,
            ..BatchFields::default()
        },
        &s,
    );
    assert_eq!(produce(&mut c, "ts", lying, 9).await.error_code, 0);
    assert_eq!(list_offset(&mut c, "ts", -3).await, (0, 1, now + 50));
    let stored = fetch_bytes(&mut c, "ts").await;
    let h = gregor::record::batch::check_batch(&stored, 0).expect("stored batch has a valid CRC");
    assert_eq!(h.max_timestamp, now + 50);
    assert_eq!(list_offset(&mut c, "ts", now + 21).await, (0, 1, now + 50));
}
