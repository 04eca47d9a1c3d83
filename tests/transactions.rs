//! Transactions with a real client (librdkafka through the `rdkafka` crate): commit and abort
//! seen by read_committed and read_uncommitted consumers, fencing of a zombie producer,
//! sendOffsetsToTransaction, the broker aborting a transaction past its timeout, and open
//! transactions surviving a restart. The raw protocol of each API is diffed against Kafka in
//! tests/differential; the state machine has its unit tests in src/txn.

mod common;

use std::time::{Duration, Instant};

use common::TestBroker;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(30);

fn config(b: &TestBroker) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", b.bootstrap())
        .set("broker.address.family", "v4");
    c
}

async fn create_topic(b: &TestBroker, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = config(b).create().unwrap();
    let r = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
}

fn txn_producer(
    b: &TestBroker,
    id: &str,
    extra: &[(&str, &str)],
) -> ThreadedProducer<DefaultProducerContext> {
    let mut c = config(b);
    c.set("transactional.id", id).set("linger.ms", "5");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    let p: ThreadedProducer<DefaultProducerContext> = c.create().unwrap();
    p.init_transactions(T).unwrap();
    p
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, topic: &str, partition: i32, value: &str) {
    p.send(
        BaseRecord::<(), str>::to(topic)
            .partition(partition)
            .payload(value),
    )
    .unwrap();
}

/// Every value of `topic` (partitions `0..n`) up to the end, at an isolation level.
fn read_all(b: &TestBroker, topic: &str, n: i32, isolation: &str) -> Vec<(i32, String)> {
    let c: BaseConsumer = config(b)
        .set("group.id", format!("reader-{topic}-{isolation}"))
        .set("isolation.level", isolation)
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..n {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut eof = std::collections::HashSet::new();
    let deadline = Instant::now() + T;
    while eof.len() < n as usize {
        assert!(Instant::now() < deadline, "never reached the end: {out:?}");
        match c.poll(Duration::from_millis(200)) {
            Some(Err(KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            Some(Err(e)) => panic!("{e}"),
            Some(Ok(m)) => {
                eof.remove(&m.partition());
                out.push((
                    m.partition(),
                    String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                ));
            }
            None => {}
        }
    }
    out
}

fn values(read: &[(i32, String)]) -> Vec<String> {
    let mut v: Vec<String> = read.iter().map(|(_, v)| v.clone()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn read_committed_sees_committed_records_only_and_read_uncommitted_sees_all() {
    let b = TestBroker::start(&[]).await;
    create_topic(&b, "tx-a", 3).await;
    create_topic(&b, "tx-b", 2).await;
    let p = txn_producer(&b, "tx-basic", &[]);
    p.begin_transaction().unwrap();
    for i in 0..10 {
        send(
            &p,
            if i % 2 == 0 { "tx-a" } else { "tx-b" },
            i % 2,
            &format!("c1-{i:02}"),
        );
    }
    p.commit_transaction(T).unwrap();
    p.begin_transaction().unwrap();
    for i in 0..7 {
        send(&p, "tx-a", i % 3, &format!("ab-{i:02}"));
    }
    // Sent, not only queued: librdkafka drops unsent records on abort.
    p.flush(T).unwrap();
    p.abort_transaction(T).unwrap();
    p.begin_transaction().unwrap();
    for i in 0..5 {
        send(&p, "tx-a", 2, &format!("c2-{i:02}"));
    }
    p.commit_transaction(T).unwrap();

    let committed = read_all(&b, "tx-a", 3, "read_committed");
    let committed_b = read_all(&b, "tx-b", 2, "read_committed");
    let all = read_all(&b, "tx-a", 3, "read_uncommitted");
    assert_eq!(committed.len() + committed_b.len(), 15);
    assert!(
        committed.iter().all(|(_, v)| !v.starts_with("ab")),
        "{committed:?}"
    );
    // In order within each partition.
    let in_p2: Vec<&String> = committed
        .iter()
        .filter(|(p, _)| *p == 2)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(in_p2, ["c2-00", "c2-01", "c2-02", "c2-03", "c2-04"]);
    assert_eq!(all.len(), 5 + 7 + 5);
    assert_eq!(
        values(&all).iter().filter(|v| v.starts_with("ab")).count(),
        7
    );
}

#[tokio::test]
async fn a_second_producer_with_the_same_id_fences_the_first_and_aborts_its_transaction() {
    let b = TestBroker::start(&[]).await;
    create_topic(&b, "tx-fence", 1).await;
    let zombie = txn_producer(&b, "tx-fenced", &[]);
    zombie.begin_transaction().unwrap();
    send(&zombie, "tx-fence", 0, "zombie");
    zombie.flush(T).unwrap();
    // The new instance: its InitProducerId aborts the zombie's open transaction.
    let fresh = txn_producer(&b, "tx-fenced", &[]);
    let err = zombie.commit_transaction(T).unwrap_err();
    match &err {
        KafkaError::Transaction(e) => assert!(
            matches!(
                e.code(),
                RDKafkaErrorCode::Fenced | RDKafkaErrorCode::ProducerFenced
            ),
            "{e:?}"
        ),
        other => panic!("{other:?}"),
    }
    fresh.begin_transaction().unwrap();
    send(&fresh, "tx-fence", 0, "fresh");
    fresh.commit_transaction(T).unwrap();
    assert_eq!(
        values(&read_all(&b, "tx-fence", 1, "read_committed")),
        ["fresh"]
    );
    assert_eq!(read_all(&b, "tx-fence", 1, "read_uncommitted").len(), 2);
}

#[tokio::test]
async fn offsets_sent_to_a_transaction_are_committed_with_it_and_dropped_with_an_abort() {
    let b = TestBroker::start(&[]).await;
    create_topic(&b, "tx-in", 1).await;
    create_topic(&b, "tx-out", 1).await;
    let group: BaseConsumer = config(&b)
        .set("group.id", "tx-group")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("tx-in", 0, Offset::Beginning)
        .unwrap();
    group.assign(&tpl).unwrap();
    let p = txn_producer(&b, "tx-offsets", &[]);
    let committed = |c: &BaseConsumer| {
        let mut want = TopicPartitionList::new();
        want.add_partition("tx-in", 0);
        c.committed_offsets(want, T).unwrap().elements()[0].offset()
    };
    let offsets = |o: i64| {
        let mut t = TopicPartitionList::new();
        t.add_partition_offset("tx-in", 0, Offset::Offset(o))
            .unwrap();
        t
    };
    let metadata = group.group_metadata().unwrap();
    p.begin_transaction().unwrap();
    send(&p, "tx-out", 0, "out-1");
    p.send_offsets_to_transaction(&offsets(42), &metadata, T)
        .unwrap();
    p.commit_transaction(T).unwrap();
    assert_eq!(committed(&group), Offset::Offset(42));
    p.begin_transaction().unwrap();
    send(&p, "tx-out", 0, "out-2");
    p.send_offsets_to_transaction(&offsets(99), &metadata, T)
        .unwrap();
    p.abort_transaction(T).unwrap();
    assert_eq!(
        committed(&group),
        Offset::Offset(42),
        "the abort dropped 99"
    );
    // And again after a restart: the committed offset came back from __consumer_offsets.
    let mut b = b;
    drop(group);
    drop(p);
    b.restart().await;
    let group: BaseConsumer = config(&b).set("group.id", "tx-group").create().unwrap();
    assert_eq!(committed(&group), Offset::Offset(42));
    assert_eq!(
        values(&read_all(&b, "tx-out", 1, "read_committed")),
        ["out-1"]
    );
}

#[tokio::test]
async fn the_broker_aborts_a_transaction_left_open_past_its_timeout() {
    let b = TestBroker::start(&[]).await;
    create_topic(&b, "tx-timeout", 1).await;
    let p = txn_producer(&b, "tx-slow", &[("transaction.timeout.ms", "1000")]);
    p.begin_transaction().unwrap();
    send(&p, "tx-timeout", 0, "never");
    p.flush(T).unwrap();
    // No sleep for a fixed time: wait until the broker has ended it (the LSO reaches the end).
    let c: BaseConsumer = config(&b)
        .set("group.id", "tx-timeout-reader")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    let deadline = Instant::now() + T;
    loop {
        let (_, high) = c.fetch_watermarks("tx-timeout", 0, T).unwrap();
        // read_committed's high watermark is the LSO: past the record and its marker.
        if high == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the transaction was never aborted (LSO {high})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let err = p.commit_transaction(T).unwrap_err();
    assert!(matches!(err, KafkaError::Transaction(_)), "{err:?}");
    assert!(read_all(&b, "tx-timeout", 1, "read_committed").is_empty());
    assert_eq!(read_all(&b, "tx-timeout", 1, "read_uncommitted").len(), 1);
}

#[tokio::test]
async fn an_open_transaction_survives_a_restart_and_commits_after_it() {
    let mut b = TestBroker::start(&[]).await;
    create_topic(&b, "tx-restart", 2).await;
    let p = txn_producer(&b, "tx-restart-id", &[]);
    p.begin_transaction().unwrap();
    send(&p, "tx-restart", 0, "r0");
    send(&p, "tx-restart", 1, "r1");
    p.flush(T).unwrap();
    b.restart().await;
    // The LSO held at the open transaction across the restart: nothing visible yet.
    assert!(read_all(&b, "tx-restart", 2, "read_committed").is_empty());
    p.commit_transaction(T).unwrap();
    assert_eq!(
        values(&read_all(&b, "tx-restart", 2, "read_committed")),
        ["r0", "r1"]
    );
}

#[tokio::test]
async fn a_crash_with_some_markers_written_ends_the_transaction_on_every_partition() {
    use gregor::log::{FaultInjectingFileSystem, FsOp};
    let fs = std::sync::Arc::new(FaultInjectingFileSystem::new());
    let mut b = TestBroker::start_with_fs(&[], fs.clone()).await;
    create_topic(&b, "tx-crash", 2).await;
    let p = txn_producer(&b, "tx-crash-id", &[]);
    p.begin_transaction().unwrap();
    for i in 0..4 {
        send(&p, "tx-crash", i % 2, &format!("c{i}"));
    }
    p.flush(T).unwrap();
    // The COMMIT marker reaches partition 0, then partition 1's disk fails: the log directory
    // goes offline with the transaction prepared and half marked.
    fs.fail(FsOp::Write, "tx-crash-1/", gregor::log::fs::ENOSPC);
    p.commit_transaction(T).unwrap();
    drop(p);
    fs.heal();
    b.restart().await;
    // On start the coordinator finds PrepareCommit and writes the markers again.
    let deadline = Instant::now() + T;
    loop {
        let got = values(&read_all(&b, "tx-crash", 2, "read_committed"));
        if got == ["c0", "c1", "c2", "c3"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still not committed everywhere: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
