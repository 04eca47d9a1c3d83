//! Several virtual brokers in one process, with leaders that move: placement, replication
//! factors up to the broker count, leader and epoch checks, brokers down and up, coordinator
//! moves, and librdkafka producers and a consumer group across 100 random moves.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{admin_ok, kill_loop_client as cfg, read_all, xorshift, Acks, BrokerProcess};
use common::{RawClient, TestBroker};
use gregor::cluster::topology::TopologyError;
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

async fn three() -> (TestBroker, Vec<SocketAddr>) {
    let b = TestBroker::start(&[("gregor.brokers", "3")]).await;
    let addrs = b
        .running
        .as_ref()
        .unwrap()
        .addrs
        .iter()
        .map(|(_, a)| *a)
        .collect();
    (b, addrs)
}

async fn metadata(c: &mut RawClient, topics: &[&str]) -> MetadataResponse {
    let req = MetadataRequest::default().with_topics(Some(
        topics
            .iter()
            .map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(sb(t)))))
            .collect(),
    ));
    match c.call(RequestKind::Metadata(req), 12).await {
        ResponseKind::Metadata(m) => m,
        other => panic!("{other:?}"),
    }
}

async fn create(c: &mut RawClient, topic: CreatableTopic) -> (i16, Option<String>) {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(5000);
    match c.call(RequestKind::CreateTopics(req), 7).await {
        ResponseKind::CreateTopics(r) => {
            let t = &r.topics[0];
            if t.error_code == 0 {
                // The factor created, as Kafka reports it (v5+).
                assert!(t.replication_factor >= 1, "{t:?}");
            }
            (
                t.error_code,
                t.error_message.as_ref().map(|m| m.to_string()),
            )
        }
        other => panic!("{other:?}"),
    }
}

fn produce_req(topic: &str, partition: i32) -> RequestKind {
    RequestKind::Produce(
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(sb(topic)))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(common::record_batch(1, None)))])]),
    )
}

async fn produce(c: &mut RawClient, topic: &str, partition: i32) -> (ProduceResponse, i16) {
    match c.call(produce_req(topic, partition), 11).await {
        ResponseKind::Produce(r) => {
            let code = r.responses[0].partition_responses[0].error_code;
            (r, code)
        }
        other => panic!("{other:?}"),
    }
}

async fn list_offsets(c: &mut RawClient, topic: &str, partition: i32, epoch: i32) -> i16 {
    let req = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(TopicName(sb(topic)))
        .with_partitions(vec![ListOffsetsPartition::default()
            .with_partition_index(partition)
            .with_current_leader_epoch(epoch)
            .with_timestamp(-1)])]);
    match c.call(RequestKind::ListOffsets(req), 7).await {
        ResponseKind::ListOffsets(r) => r.topics[0].partitions[0].error_code,
        other => panic!("{other:?}"),
    }
}

async fn fetch(c: &mut RawClient, topic: &str, partition: i32, epoch: i32) -> (i16, i32) {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(sb(topic)))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(epoch)
                .with_partition_max_bytes(1 << 20)])]);
    match c.call(RequestKind::Fetch(req), 12).await {
        ResponseKind::Fetch(r) => {
            let p = &r.responses[0].partitions[0];
            (p.error_code, p.current_leader.leader_id.0)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_brokers_spread_leaders_accept_rf_up_to_three_and_check_leadership() {
    let (b, addrs) = three().await;
    let cluster = b.cluster().clone();
    let mut c1 = RawClient::connect(addrs[0]).await;
    let m = metadata(&mut c1, &[]).await;
    let ids: Vec<i32> = m.brokers.iter().map(|b| b.node_id.0).collect();
    assert_eq!(ids, vec![1, 2, 3], "Metadata lists the three brokers");
    let ports: BTreeSet<i32> = m.brokers.iter().map(|b| b.port).collect();
    assert_eq!(ports.len(), 3, "one port each: {ports:?}");

    // RF 3 over six partitions: leaders on every broker, three replicas in sync each.
    let spread = CreatableTopic::default()
        .with_name(TopicName(sb("spread")))
        .with_num_partitions(6)
        .with_replication_factor(3);
    assert_eq!(create(&mut c1, spread).await.0, 0);
    assert_eq!(cluster.topics.get("spread").unwrap().replication_factor, 3);
    let m = metadata(&mut c1, &["spread"]).await;
    let parts = &m.topics[0].partitions;
    let leaders: BTreeSet<i32> = parts.iter().map(|p| p.leader_id.0).collect();
    assert_eq!(leaders, BTreeSet::from([1, 2, 3]));
    for p in parts {
        assert_eq!(p.replica_nodes.len(), 3, "{p:?}");
        assert_eq!(p.isr_nodes.len(), 3, "{p:?}");
        assert_eq!(p.replica_nodes[0], p.leader_id, "the first replica leads");
    }
    // RF 4 is refused with Kafka's message.
    let (code, msg) = create(
        &mut c1,
        CreatableTopic::default()
            .with_name(TopicName(sb("too-many")))
            .with_num_partitions(1)
            .with_replication_factor(4),
    )
    .await;
    assert_eq!(code, ResponseError::InvalidReplicationFactor.code());
    assert!(
        msg.as_deref()
            .is_some_and(|m| m.contains("only 3 broker(s) are registered")),
        "{msg:?}"
    );
    // An explicit assignment is kept; an unknown broker refused.
    let assigned = CreatableTopic::default()
        .with_name(TopicName(sb("assigned")))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![CreatableReplicaAssignment::default()
            .with_partition_index(0)
            .with_broker_ids(vec![BrokerId(2), BrokerId(3)])]);
    assert_eq!(create(&mut c1, assigned).await.0, 0);
    let bad = CreatableTopic::default()
        .with_name(TopicName(sb("bad-assignment")))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![CreatableReplicaAssignment::default()
            .with_partition_index(0)
            .with_broker_ids(vec![BrokerId(7)])]);
    assert_eq!(
        create(&mut c1, bad).await.0,
        ResponseError::InvalidReplicaAssignment.code()
    );
    let m = metadata(&mut c1, &["assigned"]).await;
    let p = &m.topics[0].partitions[0];
    assert_eq!((p.leader_id.0, p.leader_epoch), (2, 0));
    assert_eq!(p.replica_nodes, vec![BrokerId(2), BrokerId(3)]);

    // Only the leader takes writes; the others say where it is (KIP-951).
    let (r, code) = produce(&mut c1, "assigned", 0).await;
    assert_eq!(code, ResponseError::NotLeaderOrFollower.code());
    let hint = &r.responses[0].partition_responses[0].current_leader;
    assert_eq!((hint.leader_id.0, hint.leader_epoch), (2, 0));
    assert_eq!(r.node_endpoints.len(), 1);
    assert_eq!(r.node_endpoints[0].port, addrs[1].port() as i32);
    let mut c2 = RawClient::connect(addrs[1]).await;
    let mut c3 = RawClient::connect(addrs[2]).await;
    assert_eq!(produce(&mut c2, "assigned", 0).await.1, 0);

    // Move to broker 3: epoch 1; 2 no longer leads; stale and future epochs are refused.
    let change = cluster.move_leader("assigned", 0, 3).unwrap();
    assert_eq!((change.from, change.leader, change.epoch), (2, 3, 1));
    assert_eq!(
        produce(&mut c2, "assigned", 0).await.1,
        ResponseError::NotLeaderOrFollower.code()
    );
    assert_eq!(produce(&mut c3, "assigned", 0).await.1, 0);
    assert_eq!(
        list_offsets(&mut c3, "assigned", 0, 0).await,
        ResponseError::FencedLeaderEpoch.code()
    );
    assert_eq!(
        list_offsets(&mut c3, "assigned", 0, 5).await,
        ResponseError::UnknownLeaderEpoch.code()
    );
    assert_eq!(list_offsets(&mut c3, "assigned", 0, 1).await, 0);
    assert_eq!(
        fetch(&mut c3, "assigned", 0, 0).await.0,
        ResponseError::FencedLeaderEpoch.code()
    );
    assert_eq!(
        fetch(&mut c2, "assigned", 0, 1).await,
        (ResponseError::NotLeaderOrFollower.code(), 3)
    );
    assert_eq!(fetch(&mut c3, "assigned", 0, 1).await.0, 0);
    // Nothing was lost by the move: both writes are there.
    assert_eq!(common::end_offset(&mut c3, "assigned", 0).await, 2);

    // Broker 3 down: its connections close, it leaves Metadata, broker 2 leads again.
    let moved = cluster.broker_down(3).unwrap();
    assert!(moved
        .iter()
        .any(|m| m.topic == "assigned" && m.leader == 2 && m.epoch == 2));
    assert!(c3.is_closed().await, "the down broker's connection closed");
    let mut c3 = RawClient::connect(addrs[2]).await;
    c3.send_raw(&common::encode_request(
        &RequestKind::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::ApiVersions,
        0,
        1,
    ))
    .await;
    assert!(c3.is_closed().await, "a down broker refuses requests");
    let m = metadata(&mut c1, &["assigned", "spread"]).await;
    assert_eq!(m.brokers.len(), 2);
    let p = &m.topics[0].partitions[0];
    assert_eq!((p.leader_id.0, p.leader_epoch), (2, 2));
    assert_eq!(p.isr_nodes, vec![BrokerId(2)]);
    assert_eq!(p.offline_replicas, vec![BrokerId(3)]);
    assert!(m.topics[1].partitions.iter().all(|p| p.leader_id.0 != 3));
    assert_eq!(
        cluster.move_leader("assigned", 0, 3),
        Err(TopologyError::BrokerDown(3))
    );
    assert!(cluster.broker_down(2).is_ok());
    assert_eq!(cluster.broker_down(1), Err(TopologyError::LastBroker(1)));
    // Both back: Metadata lists three again; leaders stay where they moved.
    cluster.broker_up(2).unwrap();
    cluster.broker_up(3).unwrap();
    let m = metadata(&mut c1, &["assigned"]).await;
    assert_eq!(m.brokers.len(), 3);
    assert_eq!(m.topics[0].partitions[0].isr_nodes.len(), 2);
}

async fn find_coordinator(c: &mut RawClient, group: &str) -> i32 {
    let req = FindCoordinatorRequest::default().with_key(sb(group));
    match c.call(RequestKind::FindCoordinator(req), 3).await {
        ResponseKind::FindCoordinator(r) => {
            assert_eq!(r.error_code, 0);
            r.node_id.0
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_coordinator_answers_at_its_new_broker_only() {
    let (b, addrs) = three().await;
    let cluster = b.cluster().clone();
    let mut c1 = RawClient::connect(addrs[0]).await;
    let first = find_coordinator(&mut c1, "moving-group").await;
    let to = if first == 3 { 1 } else { first + 1 };
    let change = cluster.move_group_coordinator("moving-group", to).unwrap();
    assert_eq!(change.topic, "__consumer_offsets");
    assert_eq!(find_coordinator(&mut c1, "moving-group").await, to);
    let heartbeat = |_| {
        RequestKind::Heartbeat(
            HeartbeatRequest::default()
                .with_group_id(GroupId(sb("moving-group")))
                .with_generation_id(1)
                .with_member_id(sb("m")),
        )
    };
    let mut old = RawClient::connect(addrs[(first - 1) as usize]).await;
    match old.call(heartbeat(()), 3).await {
        ResponseKind::Heartbeat(r) => {
            assert_eq!(r.error_code, ResponseError::NotCoordinator.code())
        }
        other => panic!("{other:?}"),
    }
    let mut new = RawClient::connect(addrs[(to - 1) as usize]).await;
    match new.call(heartbeat(()), 3).await {
        // The coordinator itself answers: the group does not exist.
        ResponseKind::Heartbeat(r) => {
            assert_eq!(r.error_code, ResponseError::UnknownMemberId.code())
        }
        other => panic!("{other:?}"),
    }
}

const PARTITIONS: i32 = 6;

/// A producer thread sending `prefix-N` until `stop`, acks collected in `acks`.
fn produce_until(
    bootstrap: &str,
    idempotent: bool,
    prefix: &'static str,
    stop: Arc<AtomicBool>,
) -> (Acks, std::thread::JoinHandle<usize>) {
    let acks = Acks::default();
    let p: ThreadedProducer<Acks> = cfg(bootstrap)
        .set("enable.idempotence", idempotent.to_string())
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("retry.backoff.ms", "20")
        .set("message.timeout.ms", "120000")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create_with_context(acks.clone())
        .expect("producer");
    let handle = std::thread::spawn(move || {
        let mut n = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let v = format!("{prefix}-{n}");
            match p.send(BaseRecord::<(), _>::to("moves").payload(&v)) {
                Ok(()) => n += 1,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
            if n.is_multiple_of(50) {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        p.flush(Duration::from_secs(120)).expect("flushed");
        n
    });
    (acks, handle)
}

#[test]
fn producers_and_a_group_survive_100_random_leader_moves_and_broker_cycles() {
    let cycles: usize = std::env::var("GREGOR_MOVE_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    // The binary, driven through its admin endpoint, as a user would.
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::spawn(
        dir.path(),
        &[
            "--brokers",
            "3",
            "--admin",
            "127.0.0.1:0",
            "-o",
            "default.replication.factor=3",
        ],
    );
    let bootstrap = broker.bootstrap.clone();
    let admin = broker.admin_addr();
    let post = |path: &str, body: serde_json::Value| admin_ok(&admin, "POST", path, Some(body));
    {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        let a: AdminClient<rdkafka::client::DefaultClientContext> =
            cfg(&bootstrap).create().unwrap();
        let topic = NewTopic::new("moves", PARTITIONS, TopicReplication::Fixed(3));
        let created = futures_block(a.create_topics(&[topic], &AdminOptions::new())).unwrap();
        assert!(created.iter().all(|r| r.is_ok()), "{created:?}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (idem_acks, idem) = produce_until(&bootstrap, true, "i", stop.clone());
    let (plain_acks, plain) = produce_until(&bootstrap, false, "p", stop.clone());
    // The group's first offset fetches fail as at a coordinator that just moved, so the
    // member's recovery below is exercised on every run, not only when a move lands there.
    admin_ok(
        &admin,
        "POST",
        "/admin/faults",
        Some(serde_json::json!({"api": "offset_fetch", "action": "error",
            "error": "NOT_COORDINATOR", "times": 5})),
    );
    // A consumer group member reading throughout, committing as it goes.
    let consumed: Arc<Mutex<HashMap<i32, usize>>> = Arc::default();
    let seen_values: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let group_stop = Arc::new(AtomicBool::new(false));
    let group = {
        let (consumed, seen, stop) = (consumed.clone(), seen_values.clone(), group_stop.clone());
        let c: BaseConsumer = cfg(&bootstrap)
            .set("group.id", "moves-group")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            .set("topic.metadata.refresh.interval.ms", "1000")
            .create()
            .unwrap();
        c.subscribe(&["moves"]).unwrap();
        std::thread::spawn(move || {
            let mut resubscribed = 0;
            while !stop.load(Ordering::Relaxed) {
                match c.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        *consumed.lock().unwrap().entry(m.partition()).or_default() += 1;
                        seen.lock().unwrap().insert(
                            String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                        );
                    }
                    // librdkafka 2.12 leaves an assignment's partitions unfetched when the
                    // OffsetFetch for them fails on a coordinator that just moved (they stay
                    // on its "queried" list until the application unassigns them), as it
                    // would against Kafka; an application recovers by joining again.
                    Some(Err(KafkaError::MessageConsumption(
                        RDKafkaErrorCode::NotCoordinator
                        | RDKafkaErrorCode::CoordinatorNotAvailable
                        | RDKafkaErrorCode::CoordinatorLoadInProgress,
                    ))) => {
                        c.unsubscribe();
                        c.subscribe(&["moves"]).unwrap();
                        resubscribed += 1;
                    }
                    _ => {}
                }
            }
            resubscribed
        })
    };
    let mut rnd = xorshift(0x5eed_1eade5);
    let started = Instant::now();
    let (mut moves, mut downs, mut shuffles, mut coordinators) = (0, 0, 0, 0);
    for _ in 0..cycles {
        std::thread::sleep(Duration::from_millis(30));
        match rnd(10) {
            0 => {
                let id = 1 + rnd(3);
                post(&format!("/admin/brokers/{id}/down"), serde_json::json!({}));
                std::thread::sleep(Duration::from_millis(100));
                post(&format!("/admin/brokers/{id}/up"), serde_json::json!({}));
                downs += 1;
            }
            1 => {
                post(
                    "/admin/leaders/shuffle",
                    serde_json::json!({"seed": rnd(1 << 30)}),
                );
                shuffles += 1;
            }
            2 => {
                post(
                    "/admin/coordinators/move",
                    serde_json::json!({"group": "moves-group", "to": 1 + rnd(3)}),
                );
                coordinators += 1;
            }
            _ => {
                post(
                    "/admin/leaders/move",
                    serde_json::json!({"topic": "moves", "partition": rnd(PARTITIONS as u64), "to": 1 + rnd(3)}),
                );
                moves += 1;
            }
        }
    }
    let churn = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let sent_idem = idem.join().unwrap();
    let sent_plain = plain.join().unwrap();
    let idem_acked: Vec<String> = idem_acks.acked.lock().unwrap().clone();
    let plain_acked: Vec<String> = plain_acks.acked.lock().unwrap().clone();
    assert!(
        idem_acks.errors.lock().unwrap().is_empty() && plain_acks.errors.lock().unwrap().is_empty(),
        "delivery errors: {:?} {:?}",
        idem_acks.errors.lock().unwrap(),
        plain_acks.errors.lock().unwrap()
    );
    assert_eq!(
        idem_acked.len(),
        sent_idem,
        "every idempotent record acknowledged"
    );
    assert_eq!(
        plain_acked.len(),
        sent_plain,
        "every plain record acknowledged"
    );
    let stored = read_all(&bootstrap, "moves", PARTITIONS);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, v) in &stored {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    let lost: Vec<&String> = idem_acked
        .iter()
        .chain(&plain_acked)
        .filter(|v| !counts.contains_key(v.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged records lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    let idem_dups = idem_acked.iter().filter(|v| counts[v.as_str()] > 1).count();
    let plain_dups = plain_acked
        .iter()
        .filter(|v| counts[v.as_str()] > 1)
        .count();
    assert_eq!(idem_dups, 0, "the idempotent producer stored nothing twice");
    // The group member catches up with everything stored, on every partition.
    let deadline = Instant::now() + Duration::from_secs(120);
    let want: BTreeSet<String> = stored.iter().map(|(_, v)| v.clone()).collect();
    while seen_values.lock().unwrap().len() < want.len() {
        assert!(
            Instant::now() < deadline,
            "the group read {} of {} values",
            seen_values.lock().unwrap().len(),
            want.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    group_stop.store(true, Ordering::Relaxed);
    let resubscribed = group.join().unwrap();
    let per_partition = consumed.lock().unwrap().clone();
    assert_eq!(
        per_partition.len(),
        PARTITIONS as usize,
        "every partition consumed: {per_partition:?}"
    );
    assert_eq!(*seen_values.lock().unwrap(), want);
    assert!(
        broker.errors().is_empty(),
        "broker errors: {:?}",
        broker.errors()
    );
    println!(
        "leader-move loop: {cycles} actions in {:.1} s ({moves} leader moves, {shuffles} shuffles, \
         {coordinators} coordinator moves, {downs} broker down/up cycles); acknowledged \
         {} idempotent + {} plain records, stored {}, lost 0, idempotent duplicates 0, plain \
         duplicates {plain_dups}; the group read every partition ({per_partition:?}; it joined \
         again {resubscribed} time(s) after a failed offset fetch)",
        churn.as_secs_f64(),
        idem_acked.len(),
        plain_acked.len(),
        stored.len(),
    );
}

/// Runs a future to completion on a throwaway runtime (rdkafka's admin calls are async).
fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// ElectLeaders (preferred) for elect-0: its error code.
async fn elect(c: &mut RawClient) -> i16 {
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
    let req = ElectLeadersRequest::default()
        .with_election_type(0)
        .with_timeout_ms(5000)
        .with_topic_partitions(Some(vec![TopicPartitions::default()
            .with_topic(TopicName(sb("elect")))
            .with_partitions(vec![0])]));
    match c.call(RequestKind::ElectLeaders(req), 2).await {
        ResponseKind::ElectLeaders(r) => {
            r.replica_election_results[0].partition_result[0].error_code
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_tools_elections_and_reassignments_move_leaders() {
    use kafka_protocol::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    let (b, addrs) = three().await;
    let cluster = b.cluster().clone();
    cluster
        .topics
        .create("elect", 1, 2, Default::default())
        .unwrap();
    let p = cluster.topics.get("elect").unwrap().partition(0).unwrap();
    let replicas = p.replicas();
    let preferred = replicas[0];
    let mut c = RawClient::connect(addrs[0]).await;
    assert_eq!(elect(&mut c).await, ResponseError::ElectionNotNeeded.code());
    cluster.move_leader("elect", 0, replicas[1]).unwrap();
    assert_eq!(elect(&mut c).await, 0, "the preferred replica is elected");
    assert_eq!(p.leadership_now(), (preferred, 2));
    // A reassignment to the broker outside the set: complete at once, and it leads.
    let outside = (1..=3).find(|b| !replicas.contains(b)).unwrap();
    let req = AlterPartitionReassignmentsRequest::default().with_topics(vec![
        ReassignableTopic::default()
            .with_name(TopicName(sb("elect")))
            .with_partitions(vec![ReassignablePartition::default()
                .with_partition_index(0)
                .with_replicas(Some(vec![BrokerId(outside)]))]),
    ]);
    match c
        .call(RequestKind::AlterPartitionReassignments(req), 0)
        .await
    {
        ResponseKind::AlterPartitionReassignments(r) => {
            assert_eq!(r.responses[0].partitions[0].error_code, 0, "{r:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.replicas(), vec![outside]);
    assert_eq!(p.leader(), outside);
    // Preferred unavailable: its broker is down.
    cluster.move_leader("elect", 0, preferred).unwrap();
    p.set_replicas(vec![outside, preferred]);
    cluster.broker_down(outside).unwrap();
    assert_eq!(
        elect(&mut c).await,
        ResponseError::PreferredLeaderNotAvailable.code()
    );
}

/// An acks=0 producer hears nothing, so Kafka closes its connection when a write fails (a
/// moved leader): it reconnects and refreshes its metadata. A successful one gets no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acks0_produce_to_a_broker_that_does_not_lead_closes_the_connection() {
    let (b, addrs) = three().await;
    let cluster = b.cluster().clone();
    cluster
        .topics
        .create("quiet", 1, 1, Default::default())
        .unwrap();
    let leader = cluster
        .topics
        .get("quiet")
        .unwrap()
        .partition(0)
        .unwrap()
        .leader();
    let other = if leader == 1 { 2 } else { 1 };
    let acks0 = |topic: &str| match produce_req(topic, 0) {
        RequestKind::Produce(p) => RequestKind::Produce(p.with_acks(0)),
        _ => unreachable!(),
    };
    // At the leader: stored, no answer (the next request's answer comes first).
    let mut c = RawClient::connect(addrs[(leader - 1) as usize]).await;
    c.send_raw(&common::encode_request(
        &acks0("quiet"),
        ApiKey::Produce,
        9,
        1,
    ))
    .await;
    let req = RequestKind::ApiVersions(ApiVersionsRequest::default());
    c.send_raw(&common::encode_request(&req, ApiKey::ApiVersions, 0, 2))
        .await;
    let (header, _) = c.read_frame(0).await.expect("an answer");
    assert_eq!(
        header.correlation_id, 2,
        "nothing was sent for the acks=0 produce"
    );
    assert_eq!(common::end_offset(&mut c, "quiet", 0).await, 1);
    // At another broker: the connection closes.
    let mut c = RawClient::connect(addrs[(other - 1) as usize]).await;
    c.send_raw(&common::encode_request(
        &acks0("quiet"),
        ApiKey::Produce,
        9,
        1,
    ))
    .await;
    assert!(c.is_closed().await, "closed, so the producer notices");
}

/// Leader epochs are kept across a restart (clients cache the newest they saw), topology
/// changes run one at a time (two brokers taken down at once cannot leave none), and a new
/// partition is led by its first live replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epochs_survive_a_restart_and_topology_changes_are_serialised() {
    let mut b = TestBroker::start(&[("gregor.brokers", "2")]).await;
    let cluster = b.cluster().clone();
    cluster
        .topics
        .create("kept", 1, 2, Default::default())
        .unwrap();
    let p = cluster.topics.get("kept").unwrap().partition(0).unwrap();
    for _ in 0..5 {
        cluster.move_leader("kept", 0, 3 - p.leader()).unwrap();
    }
    assert_eq!(p.leader_epoch(), 5);
    // Both brokers down at once: one of the two calls is refused.
    let (c1, c2) = (cluster.clone(), cluster.clone());
    let t1 = std::thread::spawn(move || c1.broker_down(1));
    let t2 = std::thread::spawn(move || c2.broker_down(2));
    let results = [t1.join().unwrap(), t2.join().unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .any(|r| matches!(r, Err(TopologyError::LastBroker(_)))));
    assert_eq!(cluster.nodes().len(), 1, "one broker stays up");
    let up = cluster.nodes()[0].id;
    let down = 3 - up;
    // Created while a broker is down: its first live replica leads.
    cluster
        .topics
        .create_assigned("late", &[vec![down, up]], Default::default())
        .unwrap();
    let late = cluster.topics.get("late").unwrap().partition(0).unwrap();
    assert_eq!(late.leader(), up);
    cluster.broker_up(down).unwrap();
    let before = p.leader_epoch();
    assert!(before >= 5);
    drop((p, late, cluster));
    b.restart_on("127.0.0.1:0").await;
    let p = b
        .cluster()
        .topics
        .get("kept")
        .unwrap()
        .partition(0)
        .unwrap();
    assert!(
        p.leader_epoch() > before,
        "epoch {} after a restart, {before} before",
        p.leader_epoch()
    );
    assert_eq!(
        p.leader(),
        p.replicas()[0],
        "the preferred replica leads after a restart"
    );
}
