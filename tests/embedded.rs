//! The embedded API as a Rust test suite uses it: start, point a client at it, drive faults
//! and leader moves from the handle, drop it.

use std::time::Duration;

use gregor::cluster::faults::WaitOutcome;
use gregor::Embedded;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("retry.backoff.ms", "20");
    c
}

#[test]
fn an_embedded_cluster_serves_clients_and_takes_faults_and_moves_from_its_handle() {
    let cluster = Embedded::builder()
        .brokers(3)
        .config("num.partitions", "1")
        .start()
        .expect("starts");
    let dir = cluster.data_dir().to_path_buf();
    assert!(dir.exists());
    assert_eq!(cluster.brokers().len(), 3);
    assert_eq!(cluster.bootstrap_servers().split(',').count(), 3);
    assert_eq!(cluster.admin_addr(), None, "no admin endpoint unless asked");
    // Three replicas, so the partition keeps a leader while one broker is down.
    cluster
        .cluster()
        .topics
        .create("orders", 1, 3, Default::default())
        .unwrap();

    let rule = cluster
        .faults()
        .on(ApiKey::Produce)
        .partition("orders", 0)
        .times(2)
        .fail(ResponseError::NotEnoughReplicas)
        .unwrap();
    let lost = cluster
        .faults()
        .on(ApiKey::Produce)
        .topic("orders")
        .lose_response()
        .unwrap();
    assert!(cluster
        .faults()
        .on(ApiKey::SaslHandshake)
        .fail(ResponseError::NotEnoughReplicas)
        .is_err());
    let producer: BaseProducer = client(&cluster.bootstrap_servers())
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    let send = |v: &str| {
        producer
            .send(BaseRecord::<(), _>::to("orders").payload(v).partition(0))
            .map_err(|(e, _)| e)
            .unwrap();
        producer
            .flush(Duration::from_secs(30))
            .expect("acknowledged");
    };
    send("a");
    assert!(matches!(
        cluster.faults().wait(rule.id, 2, Duration::from_secs(10)),
        WaitOutcome::Reached(r) if r.hits == 2
    ));
    assert!(matches!(
        cluster.faults().wait(lost.id, 1, Duration::from_secs(10)),
        WaitOutcome::Reached(_)
    ));
    let leader = cluster
        .cluster()
        .topics
        .get("orders")
        .unwrap()
        .partition(0)
        .unwrap()
        .leader();
    let to = if leader == 3 { 1 } else { 3 };
    let change = cluster.move_leader("orders", 0, to).unwrap();
    assert_eq!((change.from, change.leader), (leader, to));
    cluster.broker_down(to).unwrap();
    send("b");
    cluster.broker_up(to).unwrap();
    send("c");
    assert!(cluster
        .requests(1000)
        .iter()
        .any(|r| r.fault == Some(rule.id)));

    let consumer: BaseConsumer = client(&cluster.bootstrap_servers())
        .set("group.id", "embedded")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("orders", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while got.len() < 3 {
        assert!(std::time::Instant::now() < deadline, "read {got:?}");
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            got.push(String::from_utf8_lossy(m.payload().unwrap()).into_owned());
        }
    }
    assert_eq!(
        got,
        ["a", "b", "c"],
        "once each: the lost response was deduplicated"
    );
    drop(consumer);
    drop(producer);
    cluster.faults().clear();
    assert!(cluster.faults().list().is_empty());
    drop(cluster);
    assert!(
        !dir.exists(),
        "the temporary data directory is removed on drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_starts_from_async_code_through_spawn_blocking() {
    let cluster = tokio::task::spawn_blocking(|| Embedded::builder().admin_endpoint(true).start())
        .await
        .unwrap()
        .unwrap();
    let admin = cluster.admin_addr().expect("asked for");
    assert!(admin.ip().is_loopback());
    let dir = cluster.data_dir().to_path_buf();
    // Dropped inside a runtime: stops in the background without panicking.
    drop(cluster);
    assert!(!dir.exists());
}
