//! The kill -9 loop over a compacted topic: an idempotent acks=all producer writes keyed records
//! while the log cleaner compacts them (segments rolled every 200 ms, a low dirty ratio, a short
//! backoff) and the broker is SIGKILLed at random moments, mid-pass included, and restarted on
//! the same address. Afterwards each key reads back as its last acknowledged value, no value is stored
//! twice, offsets only increase, and the cleaner did run. Each step of a swap cut short is also
//! tested one by one in src/log/cleaner/tests.rs. Cycles: `GREGOR_KILL9_COMPACT_CYCLES`
//! (default 10; `scripts/kill9-loop` runs 100).

mod common;

use std::collections::{BTreeMap, HashSet};

use std::time::{Duration, Instant};

use common::process::{kill_loop_client as cfg, xorshift, Acks, BrokerProcess};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

const TOPIC: &str = "k9c";
const KEYS: u64 = 50;

/// Counts the cleaner passes a broker process logged and keeps its warnings and errors.
fn tally(broker: &BrokerProcess, passes: &mut usize, warnings: &mut Vec<String>) {
    let log = broker.log.lock().unwrap();
    *passes += log.iter().filter(|l| l.contains("cleaned log")).count();
    warnings.extend(
        log.iter()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .filter(|l| !warnings.contains(l))
            .cloned()
            .collect::<Vec<_>>(),
    );
}

#[test]
fn kill9_while_compacting_keeps_every_keys_last_acknowledged_value() {
    let cycles: usize = std::env::var("GREGOR_KILL9_COMPACT_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-o",
        "log.cleanup.policy=compact",
        "-o",
        "log.segment.bytes=262144",
        "-o",
        "log.roll.ms=200",
        "-o",
        "log.cleaner.min.cleanable.ratio=0.01",
        "-o",
        "log.cleaner.backoff.ms=10",
        "-o",
        "log.cleaner.delete.retention.ms=0",
    ];
    let mut broker = BrokerProcess::spawn(dir.path(), &args);
    let bootstrap = broker.addr.to_string();
    let acks = Acks::default();
    let producer: ThreadedProducer<Acks> = cfg(&bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        // Batches well below segment.bytes even when a loaded machine lets librdkafka fill
        // them: a batch larger than a segment is refused (RECORD_LIST_TOO_LARGE), as on Kafka.
        .set("batch.size", "16384")
        .set("message.timeout.ms", "300000")
        .create_with_context(acks.clone())
        .unwrap();
    let mut rnd = xorshift(0x2545f4914f6cdd1d);
    let mut next = 0u64;
    let mut passes = 0usize;
    let mut warnings: Vec<String> = Vec::new();
    for _ in 0..cycles {
        let until = Instant::now() + Duration::from_millis(300 + rnd(700));
        while Instant::now() < until {
            let (key, value) = (format!("k{}", next % KEYS), format!("v{next}"));
            if producer
                .send(BaseRecord::to(TOPIC).key(&key).payload(&value))
                .is_ok()
            {
                next += 1;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        tally(&broker, &mut passes, &mut warnings);
        broker.kill9();
        broker = BrokerProcess::spawn_at(&bootstrap, dir.path(), &args);
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    tally(&broker, &mut passes, &mut warnings);
    let errors = acks.errors.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "{} delivery errors, the first: {:?}; the brokers' warnings: {:?}",
        errors.len(),
        &errors[..errors.len().min(3)],
        &warnings[..warnings.len().min(30)]
    );
    let acked: Vec<u64> = acks
        .acked
        .lock()
        .unwrap()
        .iter()
        .map(|v| v[1..].parse().unwrap())
        .collect();
    assert_eq!(
        acked.len() as u64,
        next,
        "every record acknowledged in the end"
    );
    // The last acknowledged value of each key (values of a key are sent in increasing order
    // by one idempotent producer, so they are stored in that order).
    let mut want: BTreeMap<u64, u64> = BTreeMap::new();
    for v in &acked {
        let e = want.entry(v % KEYS).or_default();
        *e = (*e).max(*v);
    }

    let reader: BaseConsumer = cfg(&bootstrap)
        .set("group.id", "k9c-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (_, high) = reader
        .fetch_watermarks(TOPIC, 0, Duration::from_secs(10))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Beginning)
        .unwrap();
    reader.assign(&tpl).unwrap();
    let mut got: BTreeMap<u64, u64> = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut last_offset = -1;
    let mut stored = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while last_offset + 1 < high {
        assert!(
            Instant::now() < deadline,
            "read up to {last_offset} of {high}"
        );
        if let Some(m) = reader.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            assert!(
                m.offset() > last_offset,
                "offsets go backwards at {}",
                m.offset()
            );
            last_offset = m.offset();
            let key: u64 = String::from_utf8_lossy(m.key().unwrap())[1..]
                .parse()
                .unwrap();
            let v: u64 = String::from_utf8_lossy(m.payload().unwrap())[1..]
                .parse()
                .unwrap();
            assert_eq!(v % KEYS, key);
            assert!(seen.insert(v), "v{v} stored twice");
            got.insert(key, v);
            stored += 1;
        }
    }
    eprintln!(
        "kill9 compaction: {cycles} cycles, {} records acknowledged, {stored} left after compaction, {passes} cleaner passes seen",
        acked.len()
    );
    assert_eq!(
        got, want,
        "every key reads back as its last acknowledged value"
    );
    assert!(passes > 0, "the cleaner ran");
    assert!((stored as u64) < next, "compaction removed records");
    drop(producer);
    drop(reader);
    broker.kill9();
}
