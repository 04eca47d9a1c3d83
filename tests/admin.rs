//! Topic administration and metadata with the rdkafka crate (librdkafka) against a real broker.

mod common;

use std::time::Duration;

use common::TestBroker;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;

fn admin(b: &TestBroker) -> AdminClient<DefaultClientContext> {
    b.client_config().create().expect("admin client")
}

fn consumer(b: &TestBroker, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut c: ClientConfig = b.client_config();
    c.set("group.id", "metadata-test");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("consumer")
}

fn opts() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)))
}

fn partitions_of(b: &TestBroker, topic: &str) -> Option<usize> {
    let c = consumer(b, &[("allow.auto.create.topics", "false")]);
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    t.error().is_none().then(|| t.partitions().len())
}

#[tokio::test]
async fn create_describe_alter_grow_delete_and_restart() {
    let mut b = TestBroker::start(&[]).await;
    let a = admin(&b);
    let res = a
        .create_topics(
            &[NewTopic::new("orders", 3, TopicReplication::Fixed(1))],
            &opts(),
        )
        .await
        .expect("create");
    assert!(res[0].is_ok(), "{res:?}");
    assert_eq!(partitions_of(&b, "orders"), Some(3));

    // Creating it again is TOPIC_ALREADY_EXISTS.
    let res = a
        .create_topics(
            &[NewTopic::new("orders", 3, TopicReplication::Fixed(1))],
            &opts(),
        )
        .await
        .unwrap();
    assert_eq!(
        res[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::TopicAlreadyExists
    );

    // Every config is described with its default and source.
    let d = a
        .describe_configs(&[ResourceSpecifier::Topic("orders")], &opts())
        .await
        .unwrap();
    let cfg = d[0].as_ref().expect("described");
    let get = |cfg: &rdkafka::admin::ConfigResource, k: &str| {
        let e = cfg.get(k).unwrap_or_else(|| panic!("{k} missing"));
        (
            e.value.clone(),
            format!("{:?}", e.source),
            e.is_default,
            e.is_read_only,
        )
    };
    let retention = get(cfg, "retention.ms");
    assert_eq!(retention.0.as_deref(), Some("604800000"));
    assert_eq!(retention.1, "Default");
    assert!(retention.2, "is_default");
    assert!(!retention.3, "topic configs are not read-only");
    assert_eq!(get(cfg, "cleanup.policy").0.as_deref(), Some("delete"));
    assert_eq!(get(cfg, "max.message.bytes").0.as_deref(), Some("1048588"));
    assert!(
        cfg.entries.len() >= 25,
        "all topic configs described: {}",
        cfg.entries.len()
    );

    // Alter one config: it shows as a dynamic topic config, and survives a restart.
    let res = a
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("orders")).set("retention.ms", "3600000")],
            &opts(),
        )
        .await
        .unwrap();
    assert!(res[0].is_ok(), "{res:?}");
    // A bad value changes nothing. (The rdkafka crate drops per-resource AlterConfigs errors,
    // so the INVALID_CONFIG code itself is checked over raw protocol in tests/protocol.rs.)
    let _ = a
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("orders")).set("retention.ms", "soon")],
            &opts(),
        )
        .await
        .unwrap();
    let d = a
        .describe_configs(&[ResourceSpecifier::Topic("orders")], &opts())
        .await
        .unwrap();
    assert_eq!(
        d[0].as_ref()
            .unwrap()
            .get("retention.ms")
            .unwrap()
            .value
            .as_deref(),
        Some("3600000")
    );

    // Grow to 5 partitions; shrinking is refused.
    let res = a
        .create_partitions(&[NewPartitions::new("orders", 5)], &opts())
        .await
        .unwrap();
    assert!(res[0].is_ok(), "{res:?}");
    let res = a
        .create_partitions(&[NewPartitions::new("orders", 2)], &opts())
        .await
        .unwrap();
    assert_eq!(
        res[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::InvalidPartitions
    );
    assert_eq!(partitions_of(&b, "orders"), Some(5));

    drop(a);
    b.restart().await;
    assert_eq!(
        partitions_of(&b, "orders"),
        Some(5),
        "topics survive a restart"
    );
    let a = admin(&b);
    let d = a
        .describe_configs(&[ResourceSpecifier::Topic("orders")], &opts())
        .await
        .unwrap();
    let cfg = d[0].as_ref().unwrap();
    let r = cfg.get("retention.ms").unwrap();
    assert_eq!(r.value.as_deref(), Some("3600000"));
    assert_eq!(r.source, rdkafka::admin::ConfigSource::DynamicTopic);

    let res = a.delete_topics(&["orders"], &opts()).await.unwrap();
    assert!(res[0].is_ok(), "{res:?}");
    assert_eq!(partitions_of(&b, "orders"), None);
    let res = a.delete_topics(&["orders"], &opts()).await.unwrap();
    assert_eq!(
        res[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::UnknownTopicOrPartition
    );
    assert!(
        !b.data_dir().join("orders-0").exists(),
        "partition data removed"
    );
}

#[tokio::test]
async fn create_topics_validates_names_counts_and_configs() {
    let b = TestBroker::start(&[]).await;
    let a = admin(&b);
    let bad = [
        NewTopic::new("bad/name", 1, TopicReplication::Fixed(1)),
        NewTopic::new("zero", 0, TopicReplication::Fixed(1)),
        NewTopic::new("rf3", 1, TopicReplication::Fixed(3)),
        NewTopic::new("cfg", 1, TopicReplication::Fixed(1)).set("no.such.config", "1"),
        NewTopic::new("cfg2", 1, TopicReplication::Fixed(1)).set("retention.ms", "-7"),
    ];
    let res = a.create_topics(&bad, &opts()).await.unwrap();
    let codes: Vec<_> = res.iter().map(|r| r.as_ref().unwrap_err().1).collect();
    assert_eq!(
        codes,
        vec![
            RDKafkaErrorCode::InvalidTopic,
            RDKafkaErrorCode::InvalidPartitions,
            RDKafkaErrorCode::InvalidReplicationFactor,
            RDKafkaErrorCode::InvalidConfig,
            RDKafkaErrorCode::InvalidConfig,
        ]
    );
    // validate_only creates nothing.
    let res = a
        .create_topics(
            &[NewTopic::new("dry", 2, TopicReplication::Fixed(1))],
            &opts().validate_only(true),
        )
        .await
        .unwrap();
    assert!(res[0].is_ok());
    assert_eq!(partitions_of(&b, "dry"), None);
}

#[tokio::test]
async fn metadata_lists_broker_and_auto_creates_topics() {
    let b = TestBroker::start(&[("num.partitions", "2")]).await;
    let c = consumer(&b, &[("allow.auto.create.topics", "true")]);
    let md = c
        .fetch_metadata(Some("auto-made"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(md.brokers().len(), 1);
    assert_eq!(md.brokers()[0].port() as u16, b.addr.port());
    assert_eq!(md.brokers()[0].host(), "127.0.0.1");
    let t = &md.topics()[0];
    assert!(t.error().is_none(), "{:?}", t.error());
    assert_eq!(t.partitions().len(), 2, "num.partitions applies");
    assert_eq!(
        t.partitions()[0].leader(),
        b.running.as_ref().unwrap().node.id
    );

    // An invalid name is refused and not created.
    let md = c
        .fetch_metadata(Some("no spaces"), Duration::from_secs(10))
        .unwrap();
    assert!(md.topics()[0].error().is_some());
    let all = c.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    assert!(all.topics().iter().all(|t| t.name() != "no spaces"));
    assert!(all.topics().iter().any(|t| t.name() == "auto-made"));
}

#[tokio::test]
async fn auto_create_can_be_turned_off() {
    let b = TestBroker::start(&[("auto.create.topics.enable", "false")]).await;
    let c = consumer(&b, &[("allow.auto.create.topics", "true")]);
    let md = c
        .fetch_metadata(Some("nope"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        md.topics()[0].error().map(RDKafkaErrorCode::from),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition)
    );
}

#[tokio::test]
async fn cluster_id_and_topic_ids_are_stable_across_restarts() {
    let mut b = TestBroker::start(&[]).await;
    let a = admin(&b);
    a.create_topics(
        &[NewTopic::new("ids", 1, TopicReplication::Fixed(1))],
        &opts(),
    )
    .await
    .unwrap();
    let before = b.running.as_ref().unwrap().cluster.cluster_id.clone();
    let id_before = b
        .running
        .as_ref()
        .unwrap()
        .cluster
        .topics
        .get("ids")
        .unwrap()
        .id;
    b.restart().await;
    let broker = &b.running.as_ref().unwrap().cluster;
    assert_eq!(broker.cluster_id, before);
    assert_eq!(broker.topics.get("ids").unwrap().id, id_before);
    assert!(
        !b.running.as_ref().unwrap().recovered,
        "clean restart does not scan"
    );
}
