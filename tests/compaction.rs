//! Log compaction with real clients (librdkafka through the `rdkafka` crate) against a real
//! broker: the latest value per key with offsets unchanged, tombstones for
//! `delete.retention.ms` then gone, `compact,delete`, an idempotent producer across cleaning
//! and a restart, consumers reading while the cleaner swaps segments, and `__consumer_offsets`
//! compacted so a restart replays live state, not history. The cleaner's logic has unit tests
//! in src/log/cleaner.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{RawClient, TestBroker};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(30);
/// How long a test waits for the cleaner before failing (generous: a slow machine is not a
/// failure; the cleaner's speed is measured in scripts/bench, not here).
const PATIENCE: Duration = Duration::from_secs(120);

const BROKER: &[(&str, &str)] = &[
    ("log.cleaner.backoff.ms", "50"),
    ("log.retention.check.interval.ms", "100"),
];

async fn create_topic(b: &TestBroker, name: &str, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = b.client_config().create().unwrap();
    let mut t = NewTopic::new(name, 1, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let r = admin
        .create_topics(&[t], &AdminOptions::new())
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
}

fn producer(b: &TestBroker, idempotent: bool) -> ThreadedProducer<DefaultProducerContext> {
    let mut c = b.client_config();
    c.set("linger.ms", "5").set(
        "enable.idempotence",
        if idempotent { "true" } else { "false" },
    );
    c.create().unwrap()
}

fn send(
    p: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    key: &str,
    value: Option<&str>,
    ts: Option<i64>,
) {
    let mut r = BaseRecord::<str, str>::to(topic).partition(0).key(key);
    if let Some(v) = value {
        r = r.payload(v);
    }
    if let Some(ts) = ts {
        r = r.timestamp(ts);
    }
    let mut r = r;
    loop {
        match p.send(r) {
            Ok(()) => return,
            Err((_, back)) => {
                p.poll(Duration::from_millis(10));
                r = back;
            }
        }
    }
}

/// One record as a consumer from the beginning sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    offset: i64,
    key: String,
    value: Option<String>,
}

/// Everything in partition 0 from the start, as a read_uncommitted consumer reads it.
fn read_all(b: &TestBroker, topic: &str) -> Vec<Rec> {
    let c: BaseConsumer = b
        .client_config()
        .set("group.id", "reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (_, high) = c.fetch_watermarks(topic, 0, T).unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out: Vec<Rec> = Vec::new();
    let deadline = Instant::now() + T;
    while out.last().is_none_or(|r| r.offset + 1 < high) {
        assert!(
            Instant::now() < deadline,
            "read {} records, not up to {high}",
            out.len()
        );
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            out.push(Rec {
                offset: m.offset(),
                key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                value: m.payload().map(|v| String::from_utf8_lossy(v).into_owned()),
            });
        }
    }
    out
}

fn latest(recs: &[Rec]) -> BTreeMap<String, Option<String>> {
    recs.iter()
        .map(|r| (r.key.clone(), r.value.clone()))
        .collect()
}

/// Offsets strictly increase (a consumer never sees the log go backwards or repeat).
fn assert_ordered(recs: &[Rec]) {
    for w in recs.windows(2) {
        assert!(w[0].offset < w[1].offset, "{:?}", w);
    }
}

/// Waits (bounded by [`PATIENCE`]) until `done` holds for what a reader sees, checking every
/// read on the way.
fn wait_for(
    b: &TestBroker,
    topic: &str,
    mut check: impl FnMut(&[Rec]),
    mut done: impl FnMut(&[Rec]) -> bool,
) -> Vec<Rec> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let recs = read_all(b, topic);
        check(&recs);
        if done(&recs) {
            return recs;
        }
        assert!(
            Instant::now() < deadline,
            "the cleaner did not get there: {} records",
            recs.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_topic_keeps_the_latest_value_per_key_and_tombstones_for_a_while() {
    let b = TestBroker::start(BROKER).await;
    create_topic(
        &b,
        "table",
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "262144"),
            ("segment.ms", "200"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("delete.retention.ms", "3000"),
        ],
    )
    .await;
    // 100,000 records over 1,000 keys; the last write of k0..k99 is a tombstone.
    let p = producer(&b, false);
    let mut want: BTreeMap<String, Option<String>> = BTreeMap::new();
    for i in 0..100_000 {
        let key = format!("k{}", i % 1000);
        let value = (!(i >= 99_000 && i % 1000 < 100)).then(|| format!("v{i}"));
        send(&p, "table", &key, value.as_deref(), None);
        want.insert(key, value);
    }
    p.flush(T).unwrap();
    // Past segment.ms, one more record rolls the segment: all of the above becomes cleanable.
    std::thread::sleep(Duration::from_millis(300));
    send(&p, "table", "end", Some("end"), None);
    p.flush(T).unwrap();
    want.insert("end".into(), Some("end".into()));

    // Readers during the passes always see every key's latest value, in offset order.
    let check = |recs: &[Rec]| {
        assert_ordered(recs);
        assert_eq!(latest(recs), want);
    };
    let recs = wait_for(&b, "table", check, |r| r.len() == 1001);
    assert_eq!(
        recs.last().unwrap().offset,
        100_000,
        "offsets are unchanged"
    );
    let tombstones = recs.iter().filter(|r| r.value.is_none()).count();
    assert_eq!(tombstones, 100, "tombstones stay for delete.retention.ms");
    assert_eq!(
        recs[0].offset, 99_000,
        "the first 99,000 offsets are a gap now"
    );

    // Once delete.retention.ms has passed the cleaner comes back for the tombstones.
    let recs = wait_for(&b, "table", assert_ordered, |r| r.len() == 901);
    assert!(recs.iter().all(|r| r.value.is_some()));
    let mut want_live = want.clone();
    want_live.retain(|_, v| v.is_some());
    assert_eq!(latest(&recs), want_live);
    let stats = b.cluster().topics.cleaner_stats();
    assert!(stats.passes.load(Ordering::Relaxed) >= 2);
    assert!(stats.records_removed.load(Ordering::Relaxed) >= 99_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_delete_applies_retention_and_compaction() {
    let b = TestBroker::start(BROKER).await;
    create_topic(
        &b,
        "both",
        &[
            ("cleanup.policy", "compact,delete"),
            ("retention.ms", "60000"),
            ("segment.ms", "200"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    )
    .await;
    let p = producer(&b, false);
    let old = chrono_now() - 600_000;
    for i in 0..500 {
        send(
            &p,
            "both",
            &format!("old{}", i % 50),
            Some("x"),
            Some(old + i),
        );
    }
    p.flush(T).unwrap();
    for i in 0..500 {
        send(
            &p,
            "both",
            &format!("new{}", i % 10),
            Some(&format!("v{i}")),
            None,
        );
    }
    p.flush(T).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    send(&p, "both", "end", Some("end"), None);
    p.flush(T).unwrap();
    let recs = wait_for(&b, "both", assert_ordered, |r| r.len() == 11);
    assert!(
        recs.iter().all(|r| !r.key.starts_with("old")),
        "retention removed the old segment"
    );
    assert!(
        recs[0].offset >= 500,
        "the log start moved past it: {:?}",
        recs[0]
    );
    assert_eq!(
        recs.iter()
            .find(|r| r.key == "new3")
            .unwrap()
            .value
            .as_deref(),
        Some("v493")
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_producer_carries_on_across_cleaning_and_a_restart() {
    let mut b = TestBroker::start(BROKER).await;
    create_topic(
        &b,
        "idem",
        &[
            ("cleanup.policy", "compact"),
            ("segment.ms", "100"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    )
    .await;
    let p = producer(&b, true);
    let mut i = 0;
    let mut burst = |p: &ThreadedProducer<DefaultProducerContext>, n: usize| {
        for _ in 0..n {
            send(
                p,
                "idem",
                &format!("k{}", i % 10),
                Some(&format!("v{i}")),
                None,
            );
            i += 1;
        }
        p.flush(T).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    };
    for _ in 0..5 {
        burst(&p, 400);
    }
    // Wait until the cleaner has been over it, then keep producing with the same producer.
    wait_for(&b, "idem", assert_ordered, |r| r.len() < 1000);
    for _ in 0..5 {
        burst(&p, 400);
    }
    drop(p);
    b.restart().await;
    let p = producer(&b, true);
    burst(&p, 400);
    send(&p, "idem", "end", Some("end"), None);
    p.flush(T).unwrap();
    let recs = wait_for(&b, "idem", assert_ordered, |r| r.len() <= 11 + 400);
    let mut seen = std::collections::HashSet::new();
    for r in &recs {
        assert!(seen.insert(r.value.clone()), "stored twice: {r:?}");
    }
    assert_eq!(
        latest(&recs).get("k3").cloned().flatten().as_deref(),
        Some("v4393")
    );
    // Every acknowledged record up to the end is accounted for by offsets: 4,401 + 1.
    assert_eq!(recs.last().unwrap().offset, 4400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_offsets_are_compacted_so_a_restart_replays_live_state() {
    let mut props = BROKER.to_vec();
    props.extend([
        ("offsets.topic.num.partitions", "1"),
        ("offsets.topic.segment.bytes", "1048576"),
        ("num.partitions", "100"),
    ]);
    let mut b = TestBroker::start(&props).await;
    let mut c = RawClient::connect(addr(&b)).await;
    common::ensure_topic(&mut c, "events").await;
    // 1,000,000 commits: 100 partitions, 10,000 times, one request each time.
    let s = |v: &str| StrBytes::from_string(v.to_string());
    for round in 0..10_000i64 {
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(s("busy")))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("events")))
                .with_partitions(
                    (0..100)
                        .map(|p| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(round)
                        })
                        .collect(),
                )]);
        let kafka_protocol::messages::ResponseKind::OffsetCommit(r) = c
            .call(kafka_protocol::messages::RequestKind::OffsetCommit(req), 8)
            .await
        else {
            panic!("not an OffsetCommit response");
        };
        assert!(r.topics[0].partitions.iter().all(|p| p.error_code == 0));
    }
    // Wait for the cleaner to reach the active segment of __consumer_offsets-0.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let t = b.cluster().topics.get("__consumer_offsets").unwrap();
        let part = t.partition(0).unwrap();
        let reached = {
            let log = part.log();
            let active = *log.segment_base_offsets().last().unwrap();
            log.cleaner_checkpoint().is_some_and(|c| c >= active) && log.segment_count() > 1
        };
        if reached {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cleaner did not reach the active segment"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(c);
    b.restart().await;
    let replayed = b.cluster().groups.replayed_at_open();
    eprintln!("replayed {replayed} records of __consumer_offsets after 1,000,000 commits");
    // The active segment (at most 1 MiB) is replayed whole, the rest is one record per key.
    assert!(replayed >= 100, "{replayed}");
    assert!(
        replayed < 100_000,
        "replayed {replayed} of 1,000,000 commits"
    );
    let consumer: BaseConsumer = b.client_config().set("group.id", "busy").create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..100 {
        tpl.add_partition("events", p);
    }
    let committed = consumer.committed_offsets(tpl, T).unwrap();
    for e in committed.elements() {
        assert_eq!(e.offset(), Offset::Offset(9_999), "{e:?}");
    }
}

fn addr(b: &TestBroker) -> std::net::SocketAddr {
    b.bootstrap().parse().unwrap()
}
