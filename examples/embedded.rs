//! Gregor embedded in a Rust program or test suite: three virtual brokers on ephemeral ports,
//! a fault injected, a leader moved, and a librdkafka producer and consumer that carry on.
//!
//! ```text
//! cargo run --example embedded
//! ```

use std::time::Duration;

use gregor::Embedded;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

fn main() -> anyhow::Result<()> {
    // Three brokers, a temporary data directory removed when `cluster` is dropped.
    let cluster = Embedded::builder()
        .brokers(3)
        .config("num.partitions", "1")
        .start()?;
    let bootstrap = cluster.bootstrap_servers();
    println!("brokers: {bootstrap}");

    // The next two produces to orders-0 fail with a retriable error; the producer retries.
    let rule = cluster
        .faults()
        .on(ApiKey::Produce)
        .partition("orders", 0)
        .times(2)
        .fail(ResponseError::NotEnoughReplicas)?;

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("enable.idempotence", "true")
        .set("retry.backoff.ms", "20")
        .create()?;
    let send = |value: &str| -> anyhow::Result<()> {
        producer
            .send(
                BaseRecord::<(), _>::to("orders")
                    .payload(value)
                    .partition(0),
            )
            .map_err(|(e, _)| e)?;
        producer.flush(Duration::from_secs(30))?;
        Ok(())
    };
    send("first")?;
    if let gregor::cluster::faults::WaitOutcome::Reached(r) =
        cluster.faults().wait(rule.id, 2, Duration::from_secs(10))
    {
        println!(
            "fault rule {}: {} fired {} times",
            r.id,
            r.describe(),
            r.hits
        );
    }

    // Move the partition's leader; the producer finds the new one and carries on.
    let leader = cluster
        .cluster()
        .topics
        .get("orders")
        .map(|t| t.partition(0).map(|p| p.leader()));
    let to = if leader == Some(Some(3)) { 1 } else { 3 };
    let change = cluster.move_leader("orders", 0, to)?;
    println!(
        "moved orders-0 from broker {} to {} (epoch {})",
        change.from, change.leader, change.epoch
    );
    send("second")?;

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "example")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("orders", 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let mut got = Vec::new();
    while got.len() < 2 {
        if let Some(m) = consumer.poll(Duration::from_secs(1)) {
            got.push(String::from_utf8_lossy(m?.payload().unwrap_or_default()).into_owned());
        }
    }
    println!("read back: {got:?}");
    for r in cluster.requests(5) {
        println!(
            "  broker {} {} v{} fault {:?}",
            r.broker, r.api, r.version, r.fault
        );
    }
    Ok(())
}
