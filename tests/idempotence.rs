//! The idempotent producer: a retried batch is stored once and answered with its original
//! offsets; gaps and old epochs are refused; state survives restarts. Both halves of the seed
//! scenario: with idempotence off a lost response makes a duplicate, with it on it does not.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::process::BrokerProcess;
use common::{end_offset, produce_raw, record_batch, RawClient, TestBroker};
use gregor::cluster::faults::FaultSpec;
use kafka_protocol::messages::{InitProducerIdRequest, ProducerId, RequestKind, ResponseKind};
use kafka_protocol::ResponseError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

async fn init_pid(c: &mut RawClient, version: i16, current: Option<(i64, i16)>) -> (i16, i64, i16) {
    let (pid, epoch) = current.unwrap_or((-1, -1));
    // An idempotent producer's request: no transactional id (null, not empty).
    let req = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch);
    match c.call(RequestKind::InitProducerId(req), version).await {
        ResponseKind::InitProducerId(r) => (r.error_code, r.producer_id.0, r.producer_epoch),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn raw_duplicates_gaps_fencing_and_wraparound() {
    let b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    let (err, pid, epoch) = init_pid(&mut c, 4, None).await;
    assert_eq!((err, epoch), (0, 0));
    let (_, pid2, _) = init_pid(&mut c, 1, None).await;
    assert_ne!(pid, pid2, "ids are never reused");

    let batch = record_batch(3, Some((pid, 0, 0)));
    assert_eq!(produce_raw(&mut c, "idem", 0, batch.clone()).await, (0, 0));
    // The same batch again: success with the original base offset, stored once.
    assert_eq!(produce_raw(&mut c, "idem", 0, batch).await, (0, 0));
    assert_eq!(end_offset(&mut c, "idem", 0).await, 3);
    // A gap (expected sequence 3).
    let (code, _) = produce_raw(&mut c, "idem", 0, record_batch(1, Some((pid, 0, 5)))).await;
    assert_eq!(code, ResponseError::OutOfOrderSequenceNumber.code());
    // InitProducerId naming the current id and epoch without a transactional id: Kafka hands
    // out a fresh id (only a transactional producer's epoch is bumped by the coordinator)...
    let (err, fresh, fresh_epoch) = init_pid(&mut c, 4, Some((pid, 0))).await;
    assert_eq!((err, fresh_epoch), (0, 0));
    assert_ne!(fresh, pid);
    // ...and an id without an epoch is a malformed request.
    let (err, _, _) = init_pid(&mut c, 4, Some((pid, -1))).await;
    assert_eq!(err, ResponseError::InvalidRequest.code());
    // KIP-360's client-side bump for an idempotent producer: a batch at epoch + 1 from
    // sequence 0 is accepted, and the old epoch is then fenced.
    assert_eq!(
        produce_raw(&mut c, "idem", 0, record_batch(1, Some((pid, 1, 0)))).await,
        (0, 3)
    );
    let (code, _) = produce_raw(&mut c, "idem", 0, record_batch(1, Some((pid, 0, 3)))).await;
    assert_eq!(code, ResponseError::InvalidProducerEpoch.code());
    assert_eq!(end_offset(&mut c, "idem", 0).await, 4);

    // Sequences wrap at i32::MAX: a batch ending at MAX, then one starting at 0.
    let (_, wp, _) = init_pid(&mut c, 4, None).await;
    assert_eq!(
        produce_raw(
            &mut c,
            "idem-wrap",
            0,
            record_batch(2, Some((wp, 0, i32::MAX - 1)))
        )
        .await,
        (0, 0)
    );
    assert_eq!(
        produce_raw(&mut c, "idem-wrap", 0, record_batch(2, Some((wp, 0, 0)))).await,
        (0, 2)
    );
    let (code, _) = produce_raw(&mut c, "idem-wrap", 0, record_batch(1, Some((wp, 0, 0)))).await;
    assert_eq!(code, ResponseError::OutOfOrderSequenceNumber.code());

    // A transactional id goes to the transaction coordinator: its own id at epoch 0
    // (tests/transactions.rs has the rest).
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(kafka_protocol::messages::TransactionalId("tx".into())))
        .with_transaction_timeout_ms(60_000);
    let ResponseKind::InitProducerId(r) = c.call(RequestKind::InitProducerId(req), 4).await else {
        panic!()
    };
    assert_eq!((r.error_code, r.producer_epoch), (0, 0));
}

#[tokio::test]
async fn producer_ids_survive_restart() {
    let mut b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    let (_, before, _) = init_pid(&mut c, 4, None).await;
    let batch = record_batch(2, Some((before, 0, 0)));
    assert_eq!(
        produce_raw(&mut c, "idem-restart", 0, batch.clone()).await,
        (0, 0)
    );
    drop(c);
    b.restart().await;
    let mut c = RawClient::connect(b.addr).await;
    let (_, after, _) = init_pid(&mut c, 4, None).await;
    assert!(
        after > before,
        "allocator continues after restart: {before} then {after}"
    );
    // The retry after a restart is still recognised.
    assert_eq!(produce_raw(&mut c, "idem-restart", 0, batch).await, (0, 0));
    assert_eq!(end_offset(&mut c, "idem-restart", 0).await, 2);
}

fn producer(bootstrap: &str, idempotent: bool, extra: &[(&str, &str)]) -> FutureProducer {
    let mut c = ClientConfig::new();
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("enable.idempotence", idempotent.to_string())
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("retry.backoff.ms", "20")
        .set("message.timeout.ms", "60000");
    c.create().expect("producer")
}

/// Produces `n` unique values while the broker loses 3 responses (after storing the batch)
/// and answers 3 produce requests with a retriable error. Returns the values stored.
async fn produce_through_faults(idempotent: bool, topic: &str, n: usize) -> Vec<(i32, String)> {
    let b = TestBroker::start(&[]).await;
    let broker = b.running.as_ref().unwrap().cluster.clone();
    let p = producer(&b.bootstrap(), idempotent, &[("batch.num.messages", "100")]);
    // Warm up so metadata and the producer id are in place before faults start.
    p.send(
        FutureRecord::<(), _>::to(topic)
            .payload("warm-up")
            .partition(0),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    // Phase 1: lost responses (the batch is stored, the answer never arrives). Phase 2:
    // retriable errors (nothing stored). Separate phases, so a request is not hit by both.
    let phases = [
        FaultSpec {
            api: "produce".into(),
            action: "lose-response".into(),
            times: Some(3),
            ..FaultSpec::default()
        },
        FaultSpec {
            api: "produce".into(),
            topic: Some(topic.into()),
            action: "error".into(),
            error: Some("NOT_ENOUGH_REPLICAS".into()),
            times: Some(3),
            ..FaultSpec::default()
        },
    ];
    let per_phase = n / phases.len();
    for (k, rule) in phases.into_iter().enumerate() {
        broker.faults.add(rule).expect("a valid rule");
        let mut futs = Vec::new();
        for i in k * per_phase..(k + 1) * per_phase {
            let v = format!("v{i}");
            futs.push(
                p.send_result(FutureRecord::<(), _>::to(topic).payload(&v).partition(0))
                    .map_err(|(e, _)| e)
                    .unwrap(),
            );
            if i % 1000 == 999 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        for f in futs {
            f.await.unwrap().expect("delivered despite faults");
        }
    }
    assert!(
        broker
            .faults
            .list()
            .iter()
            .all(|r| r.hits == 3 && r.remaining == Some(0)),
        "every injected fault fired: {:?}",
        broker.faults.list()
    );
    let bootstrap = b.bootstrap();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || common::process::read_all(&bootstrap, &topic, 1))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_stores_each_record_once_despite_lost_responses() {
    let n = 20_000;
    let stored = produce_through_faults(true, "faulty-idem", n).await;
    let values: Vec<&str> = stored
        .iter()
        .map(|(_, v)| v.as_str())
        .filter(|v| *v != "warm-up")
        .collect();
    let expected: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    assert_eq!(values.len(), n, "no duplicates, nothing lost");
    assert_eq!(
        values,
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idempotence_a_lost_response_stores_a_duplicate() {
    // The seed notes' story: the broker stored the batch, the response was lost, the
    // producer retried, and the record is now there twice.
    let n = 2_000;
    let stored = produce_through_faults(false, "faulty-plain", n).await;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, v) in &stored {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    assert!(
        (0..n).all(|i| counts.contains_key(format!("v{i}").as_str())),
        "nothing lost"
    );
    let duplicated = counts.values().filter(|c| **c > 1).count();
    assert!(
        duplicated > 0,
        "lost responses made the retries store duplicates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_survives_sigkill_of_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = BrokerProcess::spawn(dir.path(), &["-o", "num.partitions=3"]);
    let listen = b.addr.to_string();
    let p = producer(&listen, true, &[]);
    let n = 30_000;
    let mut futs = Vec::new();
    for i in 0..n {
        let v = format!("v{i}");
        let key = format!("k{}", i % 13);
        futs.push(
            p.send_result(FutureRecord::to("crashy").key(&key).payload(&v))
                .map_err(|(e, _)| e)
                .unwrap(),
        );
        if i == n / 3 {
            // Let some be acknowledged, then kill the broker mid-stream and bring it back on
            // the same address while the producer keeps retrying.
            tokio::time::sleep(Duration::from_millis(50)).await;
            b.kill9();
            b = BrokerProcess::spawn_at(&listen, dir.path(), &[]);
        }
    }
    for f in futs {
        f.await
            .unwrap()
            .expect("no fatal error, every record delivered");
    }
    let stored =
        tokio::task::spawn_blocking(move || common::process::read_all(&listen, "crashy", 3))
            .await
            .unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (_, v) in stored {
        *seen.entry(v).or_default() += 1;
    }
    assert_eq!(seen.len(), n, "nothing lost");
    assert!(seen.values().all(|c| *c == 1), "no duplicates");
    drop(b);
}
