//! KIP-848 consumer groups (`group.protocol=consumer`) with librdkafka and raw frames: a regex
//! subscription that picks up a topic created later, a static member's restart that keeps
//! its partitions, a broker restart that keeps members' epochs and assignments, the classic
//! and consumer protocols kept apart, and ConsumerGroupDescribe/ListGroups on the wire.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::members::{create_topic, describe_until, produce, wait_stable, Member};
use common::{RawClient, TestBroker};
use gregor::group::consumer::ConsumerGroupDescription;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rdkafka::consumer::Consumer;

const CONSUMER: (&str, &str) = ("group.protocol", "consumer");

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

/// Member id -> (epoch, partitions) in `d`.
fn picture(d: &ConsumerGroupDescription) -> BTreeMap<String, (i32, Vec<i32>)> {
    d.members
        .iter()
        .map(|m| {
            let mut ps: Vec<i32> = m.assignment.iter().flat_map(|(_, p)| p.clone()).collect();
            ps.sort();
            (m.member_id.clone(), (m.member_epoch, ps))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regex_subscription_picks_up_a_topic_created_later() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "orders-eu", 2).await;
    create_topic(&bs, "payments", 1).await;
    produce(&bs, "orders-eu", "eu", 10).await;
    produce(&bs, "payments", "pay", 10).await;
    let bs2 = bs.clone();
    let m = tokio::task::spawn_blocking(move || {
        let m = Member::start(&bs2, "g-regex", "^orders-.*", "r1", &[CONSUMER]);
        let start = Instant::now();
        while m.values().len() < 10 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{:?}",
                m.values()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        m
    })
    .await
    .unwrap();
    // A topic created after the subscription, and one that only matches a partial match.
    create_topic(&bs, "orders-us", 3).await;
    create_topic(&bs, "xorders-ca", 1).await;
    produce(&bs, "orders-us", "us", 10).await;
    produce(&bs, "xorders-ca", "ca", 10).await;
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        while m.values().len() < 20 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{:?}",
                m.values()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(500));
        let values = m.values();
        assert_eq!(values.len(), 20, "only the orders-* topics: {values:?}");
        assert!(values
            .iter()
            .all(|v| v.starts_with("eu") || v.starts_with("us")));
        let topics: std::collections::BTreeSet<String> = m
            .consumer
            .assignment()
            .unwrap()
            .elements()
            .iter()
            .map(|e| e.topic().to_string())
            .collect();
        assert_eq!(
            topics.into_iter().collect::<Vec<_>>(),
            ["orders-eu", "orders-us"]
        );
        drop(m.stop());
    })
    .await
    .unwrap();
    let d = b
        .cluster()
        .groups
        .describe_consumer_group("g-regex")
        .await
        .unwrap();
    assert_eq!(d.state, "Empty", "the member left on close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_restarting_within_its_session_keeps_its_partitions() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "static-848", 4).await;
    tokio::task::block_in_place(|| {
        let start = |name: &str, inst: &str| {
            Member::start(
                &bs,
                "g-static-848",
                "static-848",
                name,
                &[CONSUMER, ("group.instance.id", inst)],
            )
        };
        let a = start("a1", "inst-a");
        let other = start("b1", "inst-b");
        wait_stable(&[&a, &other], 4, 0, Duration::from_secs(60));
        let before = describe_until(b.cluster(), "g-static-848", "stable", |d| {
            d.state == "Stable"
        });
        let a_parts = a.assignment();
        let b_parts = other.assignment();
        // a restarts: closed (a static leave, epoch -2), then a new instance with the same
        // group.instance.id.
        drop(a.stop());
        let away = describe_until(b.cluster(), "g-static-848", "a away", |d| {
            d.members.iter().any(|m| m.member_epoch == -2)
        });
        assert_eq!(
            away.group_epoch, before.group_epoch,
            "leaving for a restart is no rebalance"
        );
        let a2 = start("a2", "inst-a");
        wait_stable(&[&a2, &other], 4, 0, Duration::from_secs(60));
        assert_eq!(a2.assignment(), a_parts, "the same partitions back");
        assert_eq!(
            other.assignment(),
            b_parts,
            "the other member was not disturbed"
        );
        let after = describe_until(b.cluster(), "g-static-848", "stable again", |d| {
            d.state == "Stable"
        });
        assert_eq!(after.group_epoch, before.group_epoch, "no new group epoch");
        assert_eq!(after.members.len(), 2);
        assert!(after
            .members
            .iter()
            .any(|m| m.instance_id.as_deref() == Some("inst-a") && m.client_id == "a2"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_keeps_member_epochs_and_assignments() {
    let mut b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "restart-848", 3).await;
    let members = tokio::task::block_in_place(|| {
        let ms: Vec<Member> = (0..2)
            .map(|i| {
                Member::start(
                    &bs,
                    "g-restart",
                    "restart-848",
                    &format!("m{i}"),
                    &[CONSUMER],
                )
            })
            .collect();
        let refs: Vec<&Member> = ms.iter().collect();
        wait_stable(&refs, 3, 0, Duration::from_secs(60));
        ms
    });
    let before = tokio::task::block_in_place(|| {
        describe_until(b.cluster(), "g-restart", "stable", |d| d.state == "Stable")
    });
    b.restart().await;
    // Replayed from __consumer_offsets: the same members at the same epochs, before any
    // heartbeat arrives.
    let replayed = b
        .cluster()
        .groups
        .describe_consumer_group("g-restart")
        .await
        .unwrap();
    assert_eq!(picture(&replayed), picture(&before));
    assert_eq!(replayed.group_epoch, before.group_epoch);
    // The clients carry on: their heartbeats are accepted (no fencing, no new epoch).
    tokio::task::block_in_place(|| {
        std::thread::sleep(Duration::from_secs(3));
        let refs: Vec<&Member> = members.iter().collect();
        wait_stable(&refs, 3, 0, Duration::from_secs(60));
        let after = describe_until(b.cluster(), "g-restart", "stable", |d| d.state == "Stable");
        assert_eq!(picture(&after), picture(&before));
        assert_eq!(after.group_epoch, before.group_epoch);
    });
    drop(members);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_and_consumer_groups_live_side_by_side_but_do_not_mix() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "mix", 2).await;
    produce(&bs, "mix", "v", 20).await;
    let (classic, modern) = tokio::task::block_in_place(|| {
        let classic = Member::start(&bs, "g-classic", "mix", "c", &[]);
        let modern = Member::start(&bs, "g-modern", "mix", "n", &[CONSUMER]);
        wait_stable(&[&classic], 2, 0, Duration::from_secs(60));
        wait_stable(&[&modern], 2, 0, Duration::from_secs(60));
        let start = Instant::now();
        while classic.values().len() < 20 || modern.values().len() < 20 {
            assert!(start.elapsed() < Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(20));
        }
        (classic, modern)
    });
    let mut c = RawClient::connect(b.running.as_ref().unwrap().addr).await;
    // A classic JoinGroup to the consumer group.
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(s("g-modern")))
        .with_member_id(s("x"))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
        )
        .with_name(s("range"))]);
    match c.call(RequestKind::JoinGroup(join), 9).await {
        ResponseKind::JoinGroup(r) => assert_eq!(
            r.error_code,
            ResponseError::InconsistentGroupProtocol.code()
        ),
        other => panic!("{other:?}"),
    }
    // A consumer-protocol heartbeat to the classic group.
    let hb = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("g-classic")))
        .with_member_id(s("y"))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(10_000)
        .with_subscribed_topic_names(Some(vec![TopicName(s("mix"))]))
        .with_topic_partitions(Some(vec![]));
    match c.call(RequestKind::ConsumerGroupHeartbeat(hb), 1).await {
        ResponseKind::ConsumerGroupHeartbeat(r) => {
            assert_eq!(r.error_code, ResponseError::GroupIdNotFound.code());
            assert_eq!(
                r.error_message.as_deref(),
                Some("Group g-classic is not a consumer group.")
            );
        }
        other => panic!("{other:?}"),
    }
    // ListGroups v5 by type, ConsumerGroupDescribe of both.
    let list = |types: Vec<&str>| {
        ListGroupsRequest::default().with_types_filter(types.into_iter().map(s).collect())
    };
    for (types, want) in [
        (vec!["consumer"], vec![("g-modern", "consumer", "Stable")]),
        (vec!["classic"], vec![("g-classic", "classic", "Stable")]),
    ] {
        match c.call(RequestKind::ListGroups(list(types)), 5).await {
            ResponseKind::ListGroups(r) => {
                let got: Vec<(String, String, String)> = r
                    .groups
                    .iter()
                    .map(|g| {
                        (
                            g.group_id.to_string(),
                            g.group_type.to_string(),
                            g.group_state.to_string(),
                        )
                    })
                    .collect();
                let want: Vec<(String, String, String)> = want
                    .iter()
                    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                    .collect();
                assert_eq!(got, want);
            }
            other => panic!("{other:?}"),
        }
    }
    let describe = ConsumerGroupDescribeRequest::default()
        .with_group_ids(vec![GroupId(s("g-modern")), GroupId(s("g-classic"))]);
    match c
        .call(RequestKind::ConsumerGroupDescribe(describe), 1)
        .await
    {
        ResponseKind::ConsumerGroupDescribe(r) => {
            let modern_g = &r.groups[0];
            assert_eq!(modern_g.error_code, 0);
            assert_eq!(modern_g.group_state.as_str(), "Stable");
            assert_eq!(modern_g.assignor_name.as_str(), "uniform");
            assert_eq!(modern_g.members.len(), 1);
            let m = &modern_g.members[0];
            assert_eq!(m.client_id.as_str(), "n");
            assert_eq!(m.member_type, 1);
            assert_eq!(m.member_epoch, modern_g.group_epoch);
            assert_eq!(m.assignment.topic_partitions[0].topic_name.as_str(), "mix");
            assert_eq!(m.assignment, m.target_assignment);
            assert_eq!(
                r.groups[1].error_code,
                ResponseError::GroupIdNotFound.code()
            );
        }
        other => panic!("{other:?}"),
    }
    tokio::task::block_in_place(|| {
        drop(classic.stop());
        drop(modern.stop());
    });
}
