//! The exactly-once kill -9 loop: a consume-transform-produce application (read_committed
//! consumer, transactional producer, offsets sent to each transaction) runs while the broker is
//! SIGKILLed at random moments, mid-transaction and mid-commit, and restarted on the same
//! address. Afterwards its output topic holds each input record's result exactly once, and its
//! committed input offsets are the input's end. Cycles: `GREGOR_KILL9_EOS_CYCLES` (default 20;
//! `scripts/kill9-loop` runs 100).
//!
//! The application recovers as Kafka's documentation says an exactly-once app must: a commit
//! that fails retriably is retried; any other failure drops the producer and the consumer and
//! starts again, the new producer's `init_transactions` fencing (and aborting) whatever the old
//! one left open, the new consumer resuming from the committed offsets.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::process::{kill_loop_client as cfg, xorshift, BrokerProcess};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

const INPUT: &str = "eos-in";
const OUTPUT: &str = "eos-out";
const PARTITIONS: i32 = 3;
const RECORDS: usize = 3_000;
const GROUP: &str = "eos-app";
const T: Duration = Duration::from_secs(10);

/// One incarnation of the application; `Err` when it must be dropped and started again.
fn run_app(
    bootstrap: &str,
    stop: &AtomicBool,
    transactions: &AtomicUsize,
) -> Result<(), KafkaError> {
    let producer: ThreadedProducer<DefaultProducerContext> = cfg(bootstrap)
        .set("transactional.id", "eos-app-1")
        .set("linger.ms", "2")
        .set("transaction.timeout.ms", "10000")
        .create()?;
    producer.init_transactions(T)?;
    let consumer: BaseConsumer = cfg(bootstrap)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(INPUT, p);
    }
    // Resume from the committed offsets (earliest where none).
    let committed = consumer.committed_offsets(tpl, T)?;
    let mut start = TopicPartitionList::new();
    for e in committed.elements() {
        let o = match e.offset() {
            Offset::Offset(o) => Offset::Offset(o),
            _ => Offset::Beginning,
        };
        start.add_partition_offset(INPUT, e.partition(), o)?;
    }
    consumer.assign(&start)?;
    while !stop.load(Ordering::Relaxed) {
        let mut batch = Vec::new();
        let deadline = Instant::now() + Duration::from_millis(50);
        while batch.len() < 10 && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(10)) {
                Some(Ok(m)) => batch.push((
                    m.partition(),
                    m.offset(),
                    String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                )),
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
        if batch.is_empty() {
            continue;
        }
        producer.begin_transaction()?;
        let mut next: HashMap<i32, i64> = HashMap::new();
        for (p, o, v) in &batch {
            let out = format!("out-{v}");
            producer
                .send(
                    BaseRecord::<(), str>::to(OUTPUT)
                        .partition(*p)
                        .payload(&out),
                )
                .map_err(|(e, _)| e)?;
            next.insert(*p, o + 1);
        }
        let mut offsets = TopicPartitionList::new();
        for (p, o) in &next {
            offsets.add_partition_offset(INPUT, *p, Offset::Offset(*o))?;
        }
        producer.send_offsets_to_transaction(
            &offsets,
            &consumer
                .group_metadata()
                .ok_or(KafkaError::NoMessageReceived)?,
            T,
        )?;
        let mut attempts = 0;
        loop {
            match producer.commit_transaction(T) {
                Ok(()) => break,
                Err(KafkaError::Transaction(e)) if e.is_retriable() && attempts < 5 => {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
        transactions.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn committed_total(bootstrap: &str) -> Option<i64> {
    let c: BaseConsumer = cfg(bootstrap).set("group.id", GROUP).create().ok()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(INPUT, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(5)).ok()?;
    Some(
        got.elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            })
            .sum(),
    )
}

#[test]
fn exactly_once_survives_kill9_loop_with_no_duplicate_and_nothing_lost() {
    let cycles: usize = std::env::var("GREGOR_KILL9_EOS_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let partitions = format!("num.partitions={PARTITIONS}");
    let args = [
        "-o",
        partitions.as_str(),
        "-o",
        "transaction.state.log.num.partitions=5",
    ];
    let mut broker = BrokerProcess::spawn(dir.path(), &args);
    let bootstrap = broker.addr.to_string();
    // The input, written before the kills start.
    {
        let p: ThreadedProducer<DefaultProducerContext> = cfg(&bootstrap)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .unwrap();
        for i in 0..RECORDS {
            let v = i.to_string();
            p.send(BaseRecord::<str, str>::to(INPUT).key(&v).payload(&v))
                .unwrap();
        }
        // The output topic exists before the application starts.
        p.send(
            BaseRecord::<str, str>::to(OUTPUT)
                .key("init")
                .payload("init"),
        )
        .unwrap();
        p.flush(Duration::from_secs(60)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let transactions = Arc::new(AtomicUsize::new(0));
    let restarts = Arc::new(AtomicUsize::new(0));
    let app = {
        let (bootstrap, stop, transactions, restarts) = (
            bootstrap.clone(),
            stop.clone(),
            transactions.clone(),
            restarts.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = run_app(&bootstrap, &stop, &transactions) {
                    if restarts.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("kill9-eos: application restarts after: {e}");
                    }
                }
            }
        })
    };
    let mut rnd = xorshift(0x2545f4914f6cdd1d);
    for _ in 0..cycles {
        std::thread::sleep(Duration::from_millis(150 + rnd(350)));
        broker.kill9();
        broker = BrokerProcess::spawn_at(&bootstrap, dir.path(), &args);
    }
    // Let the application finish the input: its committed offsets reach the end.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if committed_total(&bootstrap) == Some(RECORDS as i64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the application never finished: committed {:?}",
            committed_total(&bootstrap)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    app.join().unwrap();

    // The output, read_committed, to its end.
    let reader: BaseConsumer = cfg(&bootstrap)
        .set("group.id", "eos-reader")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(OUTPUT, p, Offset::Beginning)
            .unwrap();
    }
    reader.assign(&tpl).unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut eof = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while eof.len() < PARTITIONS as usize {
        assert!(
            Instant::now() < deadline,
            "never reached the end of the output"
        );
        match reader.poll(Duration::from_millis(100)) {
            Some(Err(KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            Some(Ok(m)) => {
                eof.remove(&m.partition());
                *seen
                    .entry(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned())
                    .or_default() += 1;
            }
            _ => {}
        }
    }
    let lost: Vec<usize> = (0..RECORDS)
        .filter(|i| !seen.contains_key(&format!("out-{i}")))
        .collect();
    let dups: Vec<(&String, &usize)> = seen.iter().filter(|(_, c)| **c > 1).collect();
    eprintln!(
        "kill9-eos: {cycles} kills, {RECORDS} inputs, {} transactions committed, {} app restarts, {} outputs, {} lost, {} duplicated",
        transactions.load(Ordering::Relaxed),
        restarts.load(Ordering::Relaxed),
        seen.values().sum::<usize>(),
        lost.len(),
        dups.len()
    );
    assert!(lost.is_empty(), "lost: {:?}", &lost[..lost.len().min(10)]);
    assert!(
        dups.is_empty(),
        "duplicated: {:?}",
        &dups[..dups.len().min(10)]
    );
    assert_eq!(
        seen.len(),
        RECORDS + 1,
        "the outputs and the one record written first"
    );
    drop(reader);
    drop(broker);
}
