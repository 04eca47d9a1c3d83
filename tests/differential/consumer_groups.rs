//! KIP-848 cases: ConsumerGroupHeartbeat validation and errors, a two-member reconciliation
//! step by step (join, revoke, hand-over), fencing, OffsetCommit/OffsetFetch v9 member epochs,
//! ConsumerGroupDescribe, ListGroups by type, and leaving.

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::{Answer, Pair};

const TOPIC: &str = "diff-cg-topic";
const GROUP: &str = "diff-cg";

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn group_id(g: &str) -> GroupId {
    GroupId(s(g))
}

/// A heartbeat of `member` at `epoch`; a join (epoch 0) carries the full subscription.
fn heartbeat(group: &str, member: &str, epoch: i32) -> ConsumerGroupHeartbeatRequest {
    let r = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(group_id(group))
        .with_member_id(s(member))
        .with_member_epoch(epoch);
    if epoch == 0 {
        r.with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(vec![TopicName(s(TOPIC))]))
            .with_topic_partitions(Some(vec![]))
    } else {
        r
    }
}

fn owning(r: ConsumerGroupHeartbeatRequest, id: Uuid, partitions: &[i32]) -> RequestKind {
    RequestKind::ConsumerGroupHeartbeat(r.with_topic_partitions(Some(vec![
        TopicPartitions::default()
            .with_topic_id(id)
            .with_partitions(partitions.to_vec()),
    ])))
}

fn hb(r: ConsumerGroupHeartbeatRequest) -> RequestKind {
    RequestKind::ConsumerGroupHeartbeat(r)
}

/// Each broker's id of TOPIC (from its Metadata answer).
fn topic_id(a: &Answer) -> Uuid {
    match a {
        Answer::Response(r) => match r.as_ref() {
            ResponseKind::Metadata(m) => m
                .topics
                .iter()
                .find(|t| t.name.as_ref().is_some_and(|n| n.as_str() == TOPIC))
                .map(|t| t.topic_id)
                .expect("the topic in metadata"),
            other => panic!("{other:?}"),
        },
        Answer::Closed => panic!("closed"),
    }
}

/// (Gregor's, Kafka's) member epoch in a pair of heartbeat answers.
fn epochs(answers: &(Answer, Answer)) -> (i32, i32) {
    let one = |a: &Answer| match a {
        Answer::Response(r) => match r.as_ref() {
            ResponseKind::ConsumerGroupHeartbeat(h) => h.member_epoch,
            other => panic!("{other:?}"),
        },
        Answer::Closed => panic!("closed"),
    };
    (one(&answers.0), one(&answers.1))
}

fn commit(member: &str, epoch: i32) -> RequestKind {
    RequestKind::OffsetCommit(
        OffsetCommitRequest::default()
            .with_group_id(group_id(GROUP))
            .with_generation_id_or_member_epoch(epoch)
            .with_member_id(s(member))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(TOPIC)))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(0)])]),
    )
}

fn fetch(member: Option<&str>, epoch: i32) -> RequestKind {
    RequestKind::OffsetFetch(OffsetFetchRequest::default().with_groups(
        vec![OffsetFetchRequestGroup::default()
            .with_group_id(group_id(GROUP))
            .with_member_id(member.map(s))
            .with_member_epoch(epoch)
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(TopicName(s(TOPIC)))
                .with_partition_indexes(vec![0])]))],
    ))
}

pub async fn run(p: &mut Pair) {
    let create = RequestKind::CreateTopics(
        CreateTopicsRequest::default()
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(s(TOPIC)))
                .with_num_partitions(2)
                .with_replication_factor(1)])
            .with_timeout_ms(10_000),
    );
    p.compare("consumer_group/create_topic", create, 5).await;
    let meta = RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![
        metadata_request::MetadataRequestTopic::default().with_name(Some(TopicName(s(TOPIC)))),
    ])));
    p.settle(meta.clone(), 12, |r| {
        matches!(r, ResponseKind::Metadata(m) if m.topics.iter().all(|t| t.error_code == 0 && t.partitions.len() == 2))
    })
    .await;
    let (gm, km) = p.compare("consumer_group/metadata", meta, 12).await;
    let (gid, kid) = (topic_id(&gm), topic_id(&km));

    // Validation, before any group exists.
    p.compare(
        "consumer_group_heartbeat/empty_group_id",
        hb(heartbeat("", "m", 0)),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/empty_member_id",
        hb(heartbeat(GROUP, "", 0)),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/join_without_rebalance_timeout",
        hb(heartbeat(GROUP, "m", 0).with_rebalance_timeout_ms(-1)),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/join_without_subscription",
        hb(heartbeat(GROUP, "m", 0).with_subscribed_topic_names(None)),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/join_owning_partitions",
        owning(heartbeat(GROUP, "m", 0), Uuid::from_u128(1), &[0]),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/bad_regex",
        hb(heartbeat(GROUP, "m", 0)
            .with_subscribed_topic_names(None)
            .with_subscribed_topic_regex(Some(s("(")))),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/unsupported_assignor",
        hb(heartbeat(GROUP, "m", 0).with_server_assignor(Some(s("sticky")))),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/static_leave_without_instance",
        hb(heartbeat(GROUP, "m", -2)),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/bad_epoch",
        hb(heartbeat(GROUP, "m", -3)),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/unknown_group",
        hb(heartbeat("diff-cg-never", "m", 3)),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/leave_unknown_group",
        hb(heartbeat("diff-cg-never", "m", -1)),
        1,
    )
    .await;

    // m1 joins alone: both partitions. Epochs are each broker's own, carried from its answers.
    let first = p
        .compare(
            "consumer_group_heartbeat/first_join",
            hb(heartbeat(GROUP, "diff-m1", 0)),
            1,
        )
        .await;
    let m1 = epochs(&first);
    p.compare(
        "consumer_group_heartbeat/greater_epoch",
        hb(heartbeat(GROUP, "diff-m1", 99)),
        1,
    )
    .await;
    p.compare(
        "consumer_group_heartbeat/unknown_member",
        hb(heartbeat(GROUP, "diff-nobody", 1)),
        1,
    )
    .await;
    let each = |member: &str, (g, k): (i32, i32), owned: &[i32]| {
        (
            owning(heartbeat(GROUP, member, g), gid, owned),
            owning(heartbeat(GROUP, member, k), kid, owned),
        )
    };
    let (g, k) = each("diff-m1", m1, &[0, 1]);
    p.compare_each(g, k, "consumer_group_heartbeat/stable", 1)
        .await;
    // m2 joins: a new epoch, nothing free yet.
    let second = p
        .compare(
            "consumer_group_heartbeat/second_join",
            hb(heartbeat(GROUP, "diff-m2", 0)),
            1,
        )
        .await;
    let m2 = epochs(&second);
    // m1 is told to revoke one partition, at its old epoch.
    let (g, k) = each("diff-m1", m1, &[0, 1]);
    p.compare_each(g, k, "consumer_group_heartbeat/revoke", 1)
        .await;
    let (g, k) = each("diff-m2", m2, &[]);
    p.compare_each(g, k, "consumer_group_heartbeat/waiting_for_release", 1)
        .await;
    let (g, k) = each("diff-m1", m1, &[0]);
    let revoked = p
        .compare_each(g, k, "consumer_group_heartbeat/revoked", 1)
        .await;
    let m1 = epochs(&revoked);
    let (g, k) = each("diff-m2", m2, &[]);
    p.compare_each(g, k, "consumer_group_heartbeat/handed_over", 1)
        .await;
    // Offsets at the member epoch.
    let commits = |member: &str, (g, k): (i32, i32)| (commit(member, g), commit(member, k));
    let (g, k) = commits("diff-m1", m1);
    p.compare_each(g, k, "offset_commit/v9_member_epoch", 9)
        .await;
    let (g, k) = commits("diff-m1", (m1.0 - 1, m1.1 - 1));
    p.compare_each(g, k, "offset_commit/v9_stale_epoch", 9)
        .await;
    let (g, k) = commits("diff-m1", m1);
    p.compare_each(g, k, "offset_commit/v8_consumer_member", 8)
        .await;
    let (g, k) = commits("diff-nobody", m1);
    p.compare_each(g, k, "offset_commit/v9_unknown_member", 9)
        .await;
    let fetches = |member: Option<&str>, (g, k): (i32, i32)| (fetch(member, g), fetch(member, k));
    let (g, k) = fetches(Some("diff-m1"), m1);
    p.compare_each(g, k, "offset_fetch/v9_member_epoch", 9)
        .await;
    let (g, k) = fetches(Some("diff-m1"), (m1.0 - 1, m1.1 - 1));
    p.compare_each(g, k, "offset_fetch/v9_stale_epoch", 9).await;
    p.compare("offset_fetch/v9_empty_member_id", fetch(Some(""), -1), 9)
        .await;
    p.compare("offset_fetch/v9_admin", fetch(None, -1), 9).await;
    p.compare(
        "list_groups/v5_consumer",
        RequestKind::ListGroups(
            ListGroupsRequest::default().with_types_filter(vec![s("consumer")]),
        ),
        5,
    )
    .await;
    p.compare(
        "delete_groups/consumer_group_with_members",
        RequestKind::DeleteGroups(
            DeleteGroupsRequest::default().with_groups_names(vec![group_id(GROUP)]),
        ),
        2,
    )
    .await;
    // m2 leaves; the group is described with m1 alone (one member: no ordering to differ).
    p.compare(
        "consumer_group_heartbeat/leave",
        hb(heartbeat(GROUP, "diff-m2", -1)),
        1,
    )
    .await;
    let (g, k) = each("diff-m1", m1, &[0]);
    p.compare_each(g, k, "consumer_group_heartbeat/after_leave", 1)
        .await;
    p.settle(
        RequestKind::ConsumerGroupDescribe(
            ConsumerGroupDescribeRequest::default().with_group_ids(vec![group_id(GROUP)]),
        ),
        1,
        |r| matches!(r, ResponseKind::ConsumerGroupDescribe(d) if d.groups[0].members.len() == 1),
    )
    .await;
    for v in 0..=1 {
        p.compare(
            &format!("consumer_group_describe/v{v}"),
            RequestKind::ConsumerGroupDescribe(
                ConsumerGroupDescribeRequest::default()
                    .with_group_ids(vec![group_id(GROUP), group_id("diff-cg-never")]),
            ),
            v,
        )
        .await;
    }
    p.compare(
        "consumer_group_heartbeat/last_leave",
        hb(heartbeat(GROUP, "diff-m1", -1)),
        1,
    )
    .await;
    p.compare(
        "delete_groups/empty_consumer_group",
        RequestKind::DeleteGroups(
            DeleteGroupsRequest::default().with_groups_names(vec![group_id(GROUP)]),
        ),
        2,
    )
    .await;
    // The protocols do not mix in Gregor (group.consumer.migration.policy=disabled); Kafka
    // 4.4's default (bidirectional) takes a classic member into a consumer group.
    p.compare(
        "consumer_group/mix_member",
        hb(heartbeat("diff-cg-mix", "diff-m3", 0)),
        1,
    )
    .await;
    p.compare(
        "join_group/into_consumer_group",
        RequestKind::JoinGroup(
            JoinGroupRequest::default()
                .with_group_id(group_id("diff-cg-mix"))
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(30_000)
                .with_protocol_type(s("consumer"))
                .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
                )
                .with_name(s("range"))
                .with_metadata(bytes::Bytes::from_static(&[
                    0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                ]))]),
        ),
        5,
    )
    .await;
}
