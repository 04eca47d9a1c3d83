//! Produce and fetch through librdkafka (the rdkafka crate) against a real broker on disk:
//! every compression codec, headers, null keys and values, large records, offsets queries,
//! replay, delete records and retention.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::TestBroker;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

/// (partition, offset, key, value, headers)
type Rec = (
    i32,
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Option<Vec<u8>>)>,
);

async fn create(b: &TestBroker, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let a: AdminClient<DefaultClientContext> = b.client_config().create().unwrap();
    let mut t = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let r = a.create_topics(&[t], &AdminOptions::new()).await.unwrap();
    assert!(r[0].is_ok(), "{r:?}");
}

fn producer(b: &TestBroker, extra: &[(&str, &str)]) -> FutureProducer {
    let mut c = b.client_config();
    c.set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("producer")
}

fn consumer(b: &TestBroker, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut c = b.client_config();
    c.set("group.id", "unused-assign-only")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("consumer")
}

/// Reads partitions from the given offsets until `n` records arrived (or 30 s pass).
fn read_n(c: &BaseConsumer, topic: &str, from: &[(i32, Offset)], n: usize) -> Vec<Rec> {
    let mut tpl = TopicPartitionList::new();
    for (p, o) in from {
        tpl.add_partition_offset(topic, *p, *o).unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while out.len() < n && std::time::Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(|v| v.to_vec())))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((
                    m.partition(),
                    m.offset(),
                    m.key().map(|k| k.to_vec()),
                    m.payload().map(|v| v.to_vec()),
                    headers,
                ));
            }
            Some(Err(e)) => panic!("consumer error: {e}"),
            None => {}
        }
    }
    out
}

#[tokio::test]
async fn every_codec_round_trips_byte_identical_in_order() {
    let b = TestBroker::start(&[]).await;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        create(&b, &topic, 3, &[]).await;
        let p = producer(&b, &[("compression.codec", codec)]);
        let n = 3000;
        let mut sent: HashMap<i32, Vec<Rec>> = HashMap::new();
        let mut futures = Vec::new();
        for i in 0..n {
            let key = format!("key-{}", i % 17);
            let value = format!("value-{i}-{}", "x".repeat(i % 100));
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "i",
                    value: Some(&i.to_string()),
                })
                .insert(Header {
                    key: "null",
                    value: None::<&[u8]>,
                });
            let rec = FutureRecord::to(&topic)
                .key(&key)
                .payload(&value)
                .headers(headers);
            let f = p.send_result(rec).map_err(|(e, _)| e).expect("queued");
            futures.push((key.clone(), value.clone(), i, f));
        }
        for (key, value, i, f) in futures {
            let d = f.await.unwrap().expect("delivered");
            sent.entry(d.partition).or_default().push((
                d.partition,
                d.offset,
                Some(key.into_bytes()),
                Some(value.into_bytes()),
                vec![
                    ("i".into(), Some(i.to_string().into_bytes())),
                    ("null".into(), None),
                ],
            ));
        }
        assert_eq!(sent.len(), 3, "keys spread over the 3 partitions");
        let c = consumer(&b, &[]);
        let got = read_n(
            &c,
            &topic,
            &[
                (0, Offset::Beginning),
                (1, Offset::Beginning),
                (2, Offset::Beginning),
            ],
            n,
        );
        assert_eq!(got.len(), n, "{codec}: every record read back");
        let mut by_part: HashMap<i32, Vec<Rec>> = HashMap::new();
        for r in got {
            by_part.entry(r.0).or_default().push(r);
        }
        for (part, mut want) in sent {
            want.sort_by_key(|r| r.1);
            assert_eq!(
                by_part[&part], want,
                "{codec}: partition {part} identical and in order"
            );
            let offsets: Vec<i64> = want.iter().map(|r| r.1).collect();
            assert_eq!(
                offsets,
                (0..want.len() as i64).collect::<Vec<_>>(),
                "contiguous offsets"
            );
        }
    }
}

#[tokio::test]
async fn null_and_empty_keys_values_and_large_records() {
    let b = TestBroker::start(&[]).await;
    create(&b, "odd", 1, &[("max.message.bytes", "3000000")]).await;
    let p = producer(&b, &[("message.max.bytes", "3000000")]);
    let big = vec![7u8; 1024 * 1024];
    type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);
    let sends: Vec<KeyValue> = vec![
        (None, None),
        (Some(b""), Some(b"")),
        (None, Some(&big[..])),
        (Some(b"k"), None),
    ];
    for (k, v) in &sends {
        let mut r: FutureRecord<[u8], [u8]> = FutureRecord::to("odd");
        if let Some(k) = k {
            r = r.key(*k);
        }
        if let Some(v) = v {
            r = r.payload(*v);
        }
        p.send(r, Duration::from_secs(10)).await.expect("delivered");
    }
    let c = consumer(
        &b,
        &[
            ("fetch.max.bytes", "5000000"),
            ("receive.message.max.bytes", "6000000"),
        ],
    );
    let got = read_n(&c, "odd", &[(0, Offset::Beginning)], sends.len());
    assert_eq!(got.len(), sends.len());
    for (g, (k, v)) in got.iter().zip(&sends) {
        assert_eq!(g.2.as_deref(), *k);
        assert_eq!(g.3.as_deref(), *v);
    }
}

#[tokio::test]
async fn record_over_max_message_bytes_is_refused() {
    let b = TestBroker::start(&[]).await;
    create(&b, "small", 1, &[("max.message.bytes", "1000")]).await;
    let p = producer(&b, &[]);
    let err = p
        .send(
            FutureRecord::<(), _>::to("small").payload(&vec![1u8; 5000]),
            Duration::from_secs(10),
        )
        .await
        .expect_err("too large");
    assert_eq!(
        err.0.rdkafka_error_code(),
        Some(rdkafka::types::RDKafkaErrorCode::MessageSizeTooLarge),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_reset_replay_timestamps_and_delete_records() {
    let b = TestBroker::start(&[("log.segment.bytes", "2000")]).await;
    create(&b, "replay", 1, &[]).await;
    let p = producer(&b, &[("linger.ms", "0")]);
    let t0 = 1_700_000_000_000i64;
    for i in 0..100i64 {
        p.send(
            FutureRecord::to("replay")
                .key("k")
                .payload(&format!("m{i}"))
                .timestamp(t0 + i * 1000),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
    let c = consumer(&b, &[]);
    // Earliest, latest and by timestamp.
    let (low, high) = c
        .fetch_watermarks("replay", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!((low, high), (0, 100));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("replay", 0, Offset::Offset(t0 + 42_500))
        .unwrap();
    let found = c.offsets_for_times(tpl, Duration::from_secs(10)).unwrap();
    assert_eq!(found.elements()[0].offset(), Offset::Offset(43));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("replay", 0, Offset::Offset(t0 + 1_000_000))
        .unwrap();
    let found = c.offsets_for_times(tpl, Duration::from_secs(10)).unwrap();
    assert_eq!(
        found.elements()[0].offset(),
        Offset::End,
        "after the last timestamp: -1"
    );

    // Read it all, then replay from 0: messages stay after they are read.
    let all = read_n(&c, "replay", &[(0, Offset::Beginning)], 100);
    assert_eq!(all.len(), 100);
    let again = read_n(&c, "replay", &[(0, Offset::Offset(0))], 100);
    assert_eq!(again, all);

    // An offset past the end is OFFSET_OUT_OF_RANGE, and auto.offset.reset decides where the
    // consumer goes: earliest -> the log start. (Resetting from no committed offset needs the
    // group coordinator; tests/groups.rs covers that.)
    let earliest = consumer(&b, &[("auto.offset.reset", "earliest")]);
    let got = read_n(&earliest, "replay", &[(0, Offset::Offset(10_000))], 1);
    assert_eq!(got[0].1, 0);

    // Delete records below 60: log start moves, whole segments below it go.
    let segs_before = segment_count(&b, "replay-0");
    let a: AdminClient<DefaultClientContext> = b.client_config().create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("replay", 0, Offset::Offset(60))
        .unwrap();
    let res = a.delete_records(&tpl, &AdminOptions::new()).await.unwrap();
    assert_eq!(res.elements()[0].offset(), Offset::Offset(60));
    let (low, high) = c
        .fetch_watermarks("replay", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!((low, high), (60, 100));
    assert!(
        segment_count(&b, "replay-0") < segs_before,
        "segments below the log start deleted"
    );
    let earliest = consumer(&b, &[("auto.offset.reset", "earliest")]);
    let got = read_n(&earliest, "replay", &[(0, Offset::Offset(10_000))], 40);
    assert_eq!(got.first().map(|r| r.1), Some(60));
    assert_eq!(got.len(), 40);

    // auto.offset.reset=latest starts at the end: while a producer keeps
    // writing, the first record it sees is a new one, never one of the first 100.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (p, stop) = (p.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 600 {
                let _ = p
                    .send(
                        FutureRecord::to("replay").key("k").payload("late"),
                        Duration::from_secs(10),
                    )
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                i += 1;
            }
        })
    };
    let latest = consumer(&b, &[("auto.offset.reset", "latest")]);
    let got = tokio::task::block_in_place(|| {
        read_n(&latest, "replay", &[(0, Offset::Offset(10_000))], 1)
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    assert!(
        got[0].1 >= 100,
        "latest skipped the existing records: got offset {}",
        got[0].1
    );
    assert_eq!(got[0].3.as_deref(), Some(&b"late"[..]));
}

fn segment_count(b: &TestBroker, dir: &str) -> usize {
    std::fs::read_dir(b.data_dir().join(dir))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count()
}

#[tokio::test]
async fn retention_deletes_old_segments() {
    let b = TestBroker::start(&[("log.retention.check.interval.ms", "100")]).await;
    create(
        &b,
        "expiring",
        1,
        &[("segment.bytes", "1000"), ("retention.ms", "1000")],
    )
    .await;
    let p = producer(&b, &[("linger.ms", "0")]);
    let old = common_now() - 60_000;
    for i in 0..50i64 {
        p.send(
            FutureRecord::to("expiring")
                .key("k")
                .payload(&format!("old-{i}-{}", "y".repeat(50)))
                .timestamp(old),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
    let c = consumer(&b, &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut low = 0;
    while std::time::Instant::now() < deadline {
        low = c
            .fetch_watermarks("expiring", 0, Duration::from_secs(10))
            .unwrap()
            .0;
        if low > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(low > 0, "retention advanced the log start offset");
}

fn common_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Large fetches leave the record bytes in the segment files and send them with `sendfile`
/// (`SEND_FROM_FILE_MIN` and up); small ones are copied. Both must give the client exactly what
/// was produced: librdkafka reads 12 MB across two partitions, and raw fetches at a
/// non-flexible (v4), flexible (v12) and topic-id (v16) version decode to the same records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_fetches_sent_from_the_file_are_exact() {
    use bytes::Bytes;
    use common::RawClient;
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{FetchRequest, RequestKind, ResponseKind, TopicName};
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::RecordBatchDecoder;

    let b = TestBroker::start(&[]).await;
    create(&b, "bulk", 2, &[]).await;
    let value =
        |i: usize| -> Vec<u8> { (0..1024).map(|j| ((i * 31 + j * 7) % 251) as u8).collect() };
    let p = producer(&b, &[("batch.size", "1000000"), ("linger.ms", "20")]);
    let n = 12_000;
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let v = value(i);
        let key = format!("k{i}");
        let rec = FutureRecord::to("bulk")
            .partition((i % 2) as i32)
            .key(&key)
            .payload(&v);
        // Queue everything first (send_result does not wait), then collect the reports.
        let f = p.send_result(rec).map_err(|(e, _)| e).expect("queued");
        pending.push(f);
    }
    for f in pending {
        f.await.unwrap().expect("delivered");
    }

    let c = consumer(&b, &[("fetch.max.bytes", "52428800")]);
    let got = tokio::task::spawn_blocking(move || {
        read_n(
            &c,
            "bulk",
            &[(0, Offset::Beginning), (1, Offset::Beginning)],
            n,
        )
    })
    .await
    .unwrap();
    assert_eq!(got.len(), n);
    for (part, offset, key, payload, _) in &got {
        let i = usize::try_from(*offset).unwrap() * 2 + usize::try_from(*part).unwrap();
        assert_eq!(key.as_deref(), Some(format!("k{i}").as_bytes()));
        assert_eq!(payload.as_deref(), Some(&value(i)[..]), "record {i}");
    }

    let topic_id = {
        let t = b
            .running
            .as_ref()
            .unwrap()
            .cluster
            .topics
            .get("bulk")
            .unwrap();
        t.id
    };
    let mut raw = RawClient::connect(b.addr).await;
    for version in [4i16, 12, 16] {
        let req = FetchRequest::default()
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(4 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("bulk")))
                .with_topic_id(topic_id)
                .with_partitions(
                    (0..2)
                        .map(|p| {
                            FetchPartition::default()
                                .with_partition(p)
                                .with_fetch_offset(0)
                                .with_partition_max_bytes(1 << 20)
                        })
                        .collect(),
                )]);
        let ResponseKind::Fetch(r) = raw.call(RequestKind::Fetch(req), version).await else {
            panic!("not a fetch response");
        };
        for (pi, pd) in r.responses[0].partitions.iter().enumerate() {
            assert_eq!(pd.error_code, 0, "v{version}");
            let mut bytes: Bytes = pd.records.clone().expect("records");
            assert!(bytes.len() > 32 * 1024, "v{version}: a file-sized answer");
            let records = RecordBatchDecoder::decode_all(&mut bytes).expect("decodes");
            let recs: Vec<_> = records.into_iter().flat_map(|s| s.records).collect();
            assert!(!recs.is_empty());
            for rec in recs {
                let i = usize::try_from(rec.offset).unwrap() * 2 + pi;
                assert_eq!(
                    rec.value.as_deref(),
                    Some(&value(i)[..]),
                    "v{version} record {i}"
                );
            }
        }
    }
}
