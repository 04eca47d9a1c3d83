//! Resource limits with the real binary: one broker per data directory, thousands of
//! partitions under a low `ulimit -n`, and a decompression bomb against the broker's memory.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use common::process::BrokerProcess;
use common::{end_offset, produce_raw, RawClient};
use gregor::record::builder::{build_batch, simple_batch, BatchFields, RecordFields};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// Every file under `dir` with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.insert(
                    e.path().display().to_string(),
                    (m.len(), m.modified().unwrap()),
                );
            }
        }
    }
    out
}

#[tokio::test]
async fn a_second_broker_on_the_same_data_directory_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = BrokerProcess::spawn(dir.path(), &[]);
    let mut c = RawClient::connect(first.addr).await;
    let batch = simple_batch(now_ms(), &[RecordFields::default()]);
    assert_eq!(
        produce_raw(&mut c, "held", 0, Bytes::from(batch.clone()))
            .await
            .0,
        0
    );
    let before = snapshot(dir.path());

    let second = std::process::Command::new(env!("CARGO_BIN_EXE_gregor"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run a second gregor");
    assert!(!second.status.success(), "the second broker must not run");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("in use by another broker"), "{stderr}");
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "names the directory: {stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {}", first.child.id())),
        "names the other process: {stderr}"
    );
    assert!(second.stdout.is_empty(), "it never said it was listening");
    assert_eq!(snapshot(dir.path()), before, "it touched no file");

    // The first is unaffected.
    assert_eq!(
        produce_raw(&mut c, "held", 0, Bytes::from(batch)).await,
        (0, 1)
    );
    assert_eq!(end_offset(&mut c, "held", 0).await, 2);
}

#[tokio::test]
async fn two_thousand_partitions_under_ulimit_256() {
    const TOPICS: usize = 20;
    const PARTITIONS: i32 = 100;
    let dir = tempfile::tempdir().unwrap();
    let mut broker = BrokerProcess::spawn_with_file_limit(256, dir.path(), &[]);
    let mut c = RawClient::connect(broker.addr).await;
    let topics: Vec<String> = (0..TOPICS).map(|t| format!("many-{t}")).collect();
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(60_000)
        .with_topics(
            topics
                .iter()
                .map(|t| {
                    CreatableTopic::default()
                        .with_name(name(t))
                        .with_num_partitions(PARTITIONS)
                        .with_replication_factor(1)
                })
                .collect(),
        );
    match c.call(RequestKind::CreateTopics(req), 5).await {
        ResponseKind::CreateTopics(r) => {
            for t in &r.topics {
                assert_eq!(t.error_code, 0, "{:?}: {:?}", t.name, t.error_message);
            }
        }
        other => panic!("{other:?}"),
    }
    let value = |t: &str, p: i32| format!("{t}/{p}");
    for t in &topics {
        for p in 0..PARTITIONS {
            let v = value(t, p);
            let batch = simple_batch(
                now_ms(),
                &[RecordFields {
                    value: Some(v.as_bytes()),
                    ..Default::default()
                }],
            );
            assert_eq!(
                produce_raw(&mut c, t, p, Bytes::from(batch)).await,
                (0, 0),
                "{v}"
            );
        }
    }
    assert!(broker.open_fds() < 256, "{} descriptors", broker.open_fds());
    let read_all = |addr| async move {
        let mut c = RawClient::connect(addr).await;
        for t in 0..TOPICS {
            let t = format!("many-{t}");
            for p in 0..PARTITIONS {
                let got = fetch_value(&mut c, &t, p).await;
                assert_eq!(got, value(&t, p).into_bytes(), "{t}/{p}");
            }
        }
    };
    read_all(broker.addr).await;
    assert!(broker.open_fds() < 256, "{} descriptors", broker.open_fds());
    assert!(
        !broker.log_contains("offline"),
        "no log directory went offline"
    );
    // And again after a clean restart under the same limit.
    assert!(broker.terminate().success());
    broker = BrokerProcess::spawn_with_file_limit(256, dir.path(), &[]);
    read_all(broker.addr).await;
    assert!(broker.open_fds() < 256, "{} descriptors", broker.open_fds());
}

/// The value of the one record at offset 0 of `topic`/`partition`.
async fn fetch_value(c: &mut RawClient, topic: &str, partition: i32) -> Vec<u8> {
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_partition_max_bytes(1 << 20)])]);
    let records = match c.call(RequestKind::Fetch(req), 12).await {
        ResponseKind::Fetch(r) => {
            let p = &r.responses[0].partitions[0];
            assert_eq!(p.error_code, 0, "{topic}/{partition}");
            p.records.clone().unwrap_or_default()
        }
        other => panic!("{other:?}"),
    };
    let h = gregor::record::batch::check_batch(&records, 0).expect("a whole batch");
    let mut r = gregor::record::reader::RecordReader::new(&records, &h, 1 << 20).unwrap();
    r.next_record(gregor::record::reader::Want::Data)
        .unwrap()
        .expect("one record");
    r.value().unwrap_or_default().to_vec()
}

/// A zstd batch of one record whose value is `value_bytes` zeros, built from concatenated
/// frames so the test need not compress a gigabyte: a frame with the record's fields, one
/// frame per MiB of zeros, and a last frame with the header count.
fn zstd_bomb(value_bytes: usize) -> Vec<u8> {
    let mut fields = Vec::new();
    fields.push(0); // attributes
    fields.extend(gregor::record::builder::varint(0)); // timestamp delta (varlong of 0 = 0)
    fields.extend(gregor::record::builder::varint(0)); // offset delta
    fields.extend(gregor::record::builder::varint(-1)); // null key
    fields.extend(gregor::record::builder::varint(value_bytes as i32));
    let tail = gregor::record::builder::varint(0); // no headers
    let body_len = fields.len() + value_bytes + tail.len();
    let mut head = gregor::record::builder::varint(body_len as i32);
    head.extend(fields);
    let mut compressed = zstd::encode_all(&head[..], 3).unwrap();
    let mib = zstd::encode_all(&vec![0u8; 1 << 20][..], 3).unwrap();
    for _ in 0..value_bytes >> 20 {
        compressed.extend_from_slice(&mib);
    }
    compressed.extend(zstd::encode_all(&tail[..], 3).unwrap());
    let now = now_ms();
    build_batch(
        &BatchFields {
            attributes: 4,
            base_timestamp: now,
            max_timestamp: now,
            ..BatchFields::default()
        },
        &compressed,
    )
}

#[tokio::test]
async fn a_batch_that_expands_to_a_gigabyte_leaves_memory_bounded() {
    let bomb = zstd_bomb(1 << 30);
    assert!(bomb.len() < 1 << 20, "{} bytes compressed", bomb.len());
    // A sanity check of the bomb itself: a small one is a valid batch.
    let small = zstd_bomb(4 << 20);
    let rules = gregor::record::validate::ProduceRules {
        timestamp_after_max_ms: i64::MAX,
        ..Default::default()
    };
    assert!(gregor::record::validate::validate_produce(&small, &rules, now_ms()).is_ok());

    // A 256 MiB limit (the broker-wide `max.decompressed.message.bytes`): refused, nothing
    // stored.
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::spawn(
        dir.path(),
        &["-o", "max.decompressed.message.bytes=268435456"],
    );
    let mut c = RawClient::connect(broker.addr).await;
    let before = broker.status_kb("VmRSS");
    let (code, _) = produce_raw(&mut c, "bomb", 0, Bytes::from(bomb.clone())).await;
    assert_eq!(code, ResponseError::InvalidRecord.code());
    assert_eq!(end_offset(&mut c, "bomb", 0).await, 0);
    let peak = broker.status_kb("VmHWM");
    eprintln!("refused 1 GiB bomb: VmRSS before {before} kB, VmHWM after {peak} kB");
    assert!(
        peak < before + 64 * 1024,
        "peak {peak} kB, before {before} kB"
    );

    // At Kafka's default limit (2 GiB) the same batch is validated to the end and stored,
    // still without the broker's memory following the decompressed size.
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::spawn(dir.path(), &[]);
    let mut c = RawClient::connect(broker.addr).await;
    let before = broker.status_kb("VmRSS");
    let (code, offset) = produce_raw(&mut c, "bomb", 0, Bytes::from(bomb)).await;
    assert_eq!((code, offset), (0, 0));
    assert_eq!(end_offset(&mut c, "bomb", 0).await, 1);
    let peak = broker.status_kb("VmHWM");
    eprintln!("stored 1 GiB bomb: VmRSS before {before} kB, VmHWM after {peak} kB");
    assert!(
        peak < before + 64 * 1024,
        "peak {peak} kB, before {before} kB"
    );
}
