//! Crash safety with the real binary: SIGKILL after acknowledged writes, torn and corrupt log
//! tails, and a clean SIGTERM.

mod common;

use std::time::Duration;

use common::process::BrokerProcess;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

fn client(addr: std::net::SocketAddr) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", addr.to_string())
        .set("broker.address.family", "v4");
    c
}

async fn produce(addr: std::net::SocketAddr, topic: &str, n: usize) -> Vec<(i32, i64, String)> {
    let p: FutureProducer = client(addr)
        .set("acks", "all")
        .set("linger.ms", "2")
        .create()
        .unwrap();
    let mut futs = Vec::new();
    for i in 0..n {
        let v = format!("record-{i}");
        let f = p
            .send_result(
                FutureRecord::to(topic)
                    .key(&format!("k{}", i % 7))
                    .payload(&v),
            )
            .map_err(|(e, _)| e)
            .unwrap();
        futs.push((v, f));
    }
    let mut acked = Vec::new();
    for (v, f) in futs {
        let d = f.await.unwrap().expect("acknowledged");
        acked.push((d.partition, d.offset, v));
    }
    acked
}

/// Reads every partition from the beginning up to its high watermark.
fn read_all(addr: std::net::SocketAddr, topic: &str, partitions: i32) -> Vec<(i32, i64, String)> {
    let c: BaseConsumer = client(addr)
        .set("group.id", "crash-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let n: i64 = (0..partitions)
        .map(|p| {
            c.fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap()
                .1
        })
        .sum();
    let n = n as usize;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while out.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "read {} of {n} records in 30 s",
            out.len()
        );
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.expect("message");
            out.push((
                m.partition(),
                m.offset(),
                String::from_utf8(m.payload().unwrap().to_vec()).unwrap(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn sigkill_after_acks_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = BrokerProcess::spawn(dir.path(), &["-o", "num.partitions=3"]);
    let mut acked = produce(b.addr, "durable", 20_000).await;
    b.kill9();
    let b = BrokerProcess::spawn(dir.path(), &[]);
    assert!(b.log_contains("loaded log"), "broker reopened its logs");
    let mut got = tokio::task::spawn_blocking({
        let addr = b.addr;
        move || read_all(addr, "durable", 3)
    })
    .await
    .unwrap();
    acked.sort();
    got.sort();
    assert_eq!(got.len(), acked.len());
    assert_eq!(
        got, acked,
        "every acknowledged record is there, at its offset"
    );
}

fn last_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

#[tokio::test]
async fn torn_and_corrupt_tails_are_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = BrokerProcess::spawn(dir.path(), &[]);
    // Twenty rounds, so the log holds many batches.
    let mut acked = Vec::new();
    for _ in 0..20 {
        acked.extend(produce(b.addr, "torn", 100).await);
    }
    b.kill9();
    let seg = last_segment(&dir.path().join("torn-0"));
    let len = std::fs::metadata(&seg).unwrap().len();
    // Tear the tail: cut a few bytes into the last batch.
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 7).unwrap();
    drop(f);
    let b2 = BrokerProcess::spawn(dir.path(), &[]);
    assert!(
        b2.log_contains("truncating invalid bytes"),
        "the cut is logged: {:?}",
        b2.log.lock().unwrap()
    );
    let got = tokio::task::spawn_blocking({
        let addr = b2.addr;
        move || read_all(addr, "torn", 1)
    })
    .await
    .unwrap();
    // Every whole batch before the damage is kept, in order and intact.
    assert!(!got.is_empty() && got.len() < acked.len());
    assert_eq!(got[..], acked[..got.len()]);
    drop(b2);

    // Corrupt a byte in the middle of the (now) last segment after another crash.
    let mut b3 = BrokerProcess::spawn(dir.path(), &[]);
    b3.kill9();
    let seg = last_segment(&dir.path().join("torn-0"));
    let mut bytes = std::fs::read(&seg).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    let b4 = BrokerProcess::spawn(dir.path(), &[]);
    assert!(b4.log_contains("truncating invalid bytes"));
    let kept = tokio::task::spawn_blocking({
        let addr = b4.addr;
        move || read_all(addr, "torn", 1)
    })
    .await
    .unwrap();
    assert!(
        !kept.is_empty() && kept.len() < got.len(),
        "cut from the corrupt batch on"
    );
    assert_eq!(kept[..], acked[..kept.len()]);
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_restart_skips_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = BrokerProcess::spawn(dir.path(), &[]);
    produce(b.addr, "clean", 100).await;
    let status = b.terminate();
    assert!(status.success(), "exit 0 on SIGTERM: {status:?}");
    assert!(dir.path().join(".clean-shutdown").exists());
    let b = BrokerProcess::spawn(dir.path(), &[]);
    assert!(
        b.log_contains("recovered_segments=0"),
        "no recovery scan after a clean stop"
    );
    assert!(!b.log_contains("recovered_segments=1"));
    let got = tokio::task::spawn_blocking({
        let addr = b.addr;
        move || read_all(addr, "clean", 1)
    })
    .await
    .unwrap();
    assert_eq!(got.len(), 100);
}
