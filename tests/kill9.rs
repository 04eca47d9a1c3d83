//! The kill -9 loop: an idempotent acks=all producer and a committing consumer group run while
//! the broker is SIGKILLed at random moments and restarted on the same address. Afterwards:
//! no acknowledged record lost, no duplicates, committed offsets never went backwards.
//! Cycles: `GREGOR_KILL9_CYCLES` (default 20; `scripts/kill9-loop` runs 100).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{kill_loop_client as cfg, xorshift, Acks, BrokerProcess};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

const TOPIC: &str = "k9";
const PARTITIONS: i32 = 3;

fn committed(bootstrap: &str) -> Option<BTreeMap<i32, i64>> {
    let c: BaseConsumer = cfg(bootstrap).set("group.id", "k9-group").create().ok()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(TOPIC, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(5)).ok()?;
    Some(
        got.elements()
            .iter()
            .map(|e| {
                (
                    e.partition(),
                    if let Offset::Offset(o) = e.offset() {
                        o
                    } else {
                        -1
                    },
                )
            })
            .collect(),
    )
}

#[test]
fn kill9_loop_loses_nothing_duplicates_nothing_and_never_rewinds_commits() {
    let cycles: usize = std::env::var("GREGOR_KILL9_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let mut broker =
        BrokerProcess::spawn(dir.path(), &["-o", &format!("num.partitions={PARTITIONS}")]);
    let bootstrap = broker.addr.to_string();

    let acks = Acks::default();
    let producer: ThreadedProducer<Acks> = cfg(&bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "300000")
        .create_with_context(acks.clone())
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Produce from this thread between kills (ThreadedProducer retries in the background).
    let consumed = Arc::new(Mutex::new(0usize));
    let consumer_stop = Arc::new(AtomicBool::new(false));
    let consumer = {
        let (bootstrap, consumed, consumer_stop) =
            (bootstrap.clone(), consumed.clone(), consumer_stop.clone());
        std::thread::spawn(move || {
            let c: BaseConsumer = cfg(&bootstrap)
                .set("group.id", "k9-group")
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "earliest")
                .set("session.timeout.ms", "6000")
                .set("heartbeat.interval.ms", "500")
                .create()
                .unwrap();
            c.subscribe(&[TOPIC]).unwrap();
            let mut since_commit = 0;
            while !consumer_stop.load(Ordering::Relaxed) {
                if let Some(Ok(_)) = c.poll(Duration::from_millis(50)) {
                    *consumed.lock().unwrap() += 1;
                    since_commit += 1;
                    if since_commit >= 20 && c.commit_consumer_state(CommitMode::Sync).is_ok() {
                        since_commit = 0;
                    }
                }
            }
            c.unsubscribe();
            for _ in 0..10 {
                let _ = c.poll(Duration::from_millis(20));
            }
        })
    };

    let mut rnd = xorshift(0x9e3779b97f4a7c15);
    let mut next = 0u64;
    let mut last_commits: BTreeMap<i32, i64> = BTreeMap::new();
    let mut rewinds = Vec::new();
    for cycle in 0..cycles {
        // Produce for a random while, then kill.
        let until = Instant::now() + Duration::from_millis(100 + rnd(300));
        while Instant::now() < until {
            let v = format!("v{next}");
            let key = format!("k{}", next % 11);
            if producer
                .send(BaseRecord::to(TOPIC).key(&key).payload(&v))
                .is_ok()
            {
                next += 1;
            }
            std::thread::sleep(Duration::from_micros(300));
        }
        broker.kill9();
        broker = BrokerProcess::spawn_at(&bootstrap, dir.path(), &[]);
        if let Some(now) = committed(&bootstrap) {
            for (p, o) in &now {
                if let Some(before) = last_commits.get(p) {
                    if o < before {
                        rewinds.push((cycle, *p, *before, *o));
                    }
                }
            }
            last_commits = now;
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    stop.store(true, Ordering::Relaxed);
    consumer_stop.store(true, Ordering::Relaxed);
    consumer.join().unwrap();
    assert!(
        acks.errors.lock().unwrap().is_empty(),
        "delivery errors: {:?}",
        acks.errors.lock().unwrap()
    );
    let acked: Vec<String> = acks.acked.lock().unwrap().clone();
    assert_eq!(
        acked.len() as u64,
        next,
        "every record acknowledged in the end"
    );

    // Read the whole topic back.
    let reader: BaseConsumer = cfg(&bootstrap)
        .set("group.id", "k9-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut total = 0;
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
            .unwrap();
        total += reader
            .fetch_watermarks(TOPIC, p, Duration::from_secs(10))
            .unwrap()
            .1;
    }
    reader.assign(&tpl).unwrap();
    let mut stored: HashMap<String, usize> = HashMap::new();
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while read < total {
        assert!(Instant::now() < deadline, "read {read} of {total}");
        if let Some(Ok(m)) = reader.poll(Duration::from_millis(100)) {
            *stored
                .entry(String::from_utf8_lossy(m.payload().unwrap()).into_owned())
                .or_default() += 1;
            read += 1;
        }
    }
    let lost: Vec<&String> = acked.iter().filter(|v| !stored.contains_key(*v)).collect();
    let dups: Vec<(&String, &usize)> = stored.iter().filter(|(_, c)| **c > 1).collect();
    eprintln!(
        "kill9: {cycles} cycles, {} records acknowledged, {} stored, {} consumed by the group, {} lost, {} duplicated, {} commit rewinds",
        acked.len(),
        stored.len(),
        consumed.lock().unwrap(),
        lost.len(),
        dups.len(),
        rewinds.len()
    );
    assert!(
        lost.is_empty(),
        "acknowledged but lost: {:?}",
        &lost[..lost.len().min(10)]
    );
    assert!(
        dups.is_empty(),
        "duplicates: {:?}",
        &dups[..dups.len().min(10)]
    );
    assert!(
        rewinds.is_empty(),
        "committed offsets went backwards: {rewinds:?}"
    );
    assert!(!last_commits.is_empty(), "the group committed offsets");
    // Clients close before the broker goes: a consumer closing against a dead broker can wait
    // for it forever.
    drop(reader);
    drop(broker);
}
