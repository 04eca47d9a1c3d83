//! The KIP-848 consumer-group APIs: ConsumerGroupHeartbeat and ConsumerGroupDescribe. Each
//! converts the wire message to the coordinator's plain types and back; the logic is in
//! [`crate::group::consumer`].

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment as DescribedAssignment, DescribedGroup, Member, TopicPartitions as DescribedTp,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::*;
use uuid::Uuid;

use super::{owns_group, sb, security, Node, RequestContext};
use crate::group::consumer::{ConsumerHeartbeat, TopicImage, TopicMeta};

/// The cluster's topics as the consumer groups see them, as of now.
pub(super) fn topic_image(node: &Node) -> TopicImage {
    let mut image = TopicImage::default();
    for t in node.cluster.topics.all() {
        image.insert(
            &t.name,
            TopicMeta {
                id: t.id,
                partitions: t.partition_count(),
                internal: t.internal,
            },
        );
    }
    image
}

/// ConsumerGroupHeartbeat: join, reconcile, leave (the coordinator check is at the dispatch
/// point).
pub async fn consumer_group_heartbeat(
    node: &Node,
    req: ConsumerGroupHeartbeatRequest,
    version: i16,
    ctx: &RequestContext,
) -> ConsumerGroupHeartbeatResponse {
    let opt = |s: Option<kafka_protocol::protocol::StrBytes>| s.map(|s| s.to_string());
    let hb = ConsumerHeartbeat {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: opt(req.instance_id),
        rack_id: opt(req.rack_id),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topic_names: req
            .subscribed_topic_names
            .map(|names| names.into_iter().map(|n| n.to_string()).collect()),
        subscribed_topic_regex: if version >= 1 {
            opt(req.subscribed_topic_regex)
        } else {
            None
        },
        server_assignor: opt(req.server_assignor),
        owned: req.topic_partitions.map(|tps| {
            tps.into_iter()
                .map(|tp| (tp.topic_id, tp.partitions))
                .collect()
        }),
        client_id: ctx.client_id.clone(),
        client_host: ctx.client_host(),
        version,
    };
    let r = node
        .cluster
        .groups
        .consumer_heartbeat(hb, topic_image(node))
        .await;
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(r.error.map_or(0, |e| e.code().code()))
        .with_error_message(r.message.map(sb))
        .with_member_id(r.member_id.map(sb))
        .with_member_epoch(r.member_epoch)
        .with_heartbeat_interval_ms(r.heartbeat_interval_ms)
        .with_assignment(r.assignment.map(|a| {
            Assignment::default().with_topic_partitions(
                a.into_iter()
                    .map(|(id, partitions)| {
                        TopicPartitions::default()
                            .with_topic_id(id)
                            .with_partitions(partitions)
                    })
                    .collect(),
            )
        }))
}

/// An assignment with topic names (ids of topics deleted meanwhile are left out).
fn described(image: &TopicImage, a: Vec<(Uuid, Vec<i32>)>) -> DescribedAssignment {
    DescribedAssignment::default().with_topic_partitions(
        a.into_iter()
            .filter_map(|(id, partitions)| {
                let name = image.name_of(id)?;
                Some(
                    DescribedTp::default()
                        .with_topic_id(id)
                        .with_topic_name(TopicName(sb(name)))
                        .with_partitions(partitions),
                )
            })
            .collect(),
    )
}

/// ConsumerGroupDescribe: each group from its coordinator (NOT_COORDINATOR elsewhere).
pub async fn consumer_group_describe(
    node: &Node,
    req: ConsumerGroupDescribeRequest,
    version: i16,
) -> ConsumerGroupDescribeResponse {
    let image = topic_image(node);
    let ops = security::operations(
        req.include_authorized_operations,
        security::GROUP_OPERATIONS,
    );
    let mut groups = Vec::with_capacity(req.group_ids.len());
    for id in req.group_ids {
        let d = if owns_group(node, &id) {
            node.cluster.groups.describe_consumer_group(&id).await
        } else {
            Err(crate::group::GroupError::NotCoordinator)
        };
        let d = match d {
            Ok(d) => d,
            Err(e) => {
                groups.push(
                    DescribedGroup::default()
                        .with_group_id(id)
                        .with_error_code(e.code().code())
                        .with_authorized_operations(ops),
                );
                continue;
            }
        };
        let members = d
            .members
            .into_iter()
            .map(|m| {
                let mut w = Member::default()
                    .with_member_id(sb(m.member_id))
                    .with_instance_id(m.instance_id.map(sb))
                    .with_rack_id(m.rack_id.map(sb))
                    .with_member_epoch(m.member_epoch)
                    .with_client_id(sb(m.client_id))
                    .with_client_host(sb(m.client_host))
                    .with_subscribed_topic_names(
                        m.subscribed_topic_names
                            .into_iter()
                            .map(|n| TopicName(sb(n)))
                            .collect(),
                    )
                    // Kafka answers "" for a member without a regex.
                    .with_subscribed_topic_regex(Some(sb(m
                        .subscribed_topic_regex
                        .unwrap_or_default())))
                    .with_assignment(described(&image, m.assignment))
                    .with_target_assignment(described(&image, m.target_assignment));
                if version >= 1 {
                    // MemberType 1: the consumer protocol.
                    w = w.with_member_type(1);
                }
                w
            })
            .collect();
        let error = d.error.map_or(0, |e| e.code().code());
        groups.push(
            DescribedGroup::default()
                .with_group_id(id)
                .with_error_code(error)
                .with_error_message(d.message.map(sb))
                .with_group_state(sb(if error == 0 { d.state } else { "" }))
                .with_group_epoch(d.group_epoch)
                .with_assignment_epoch(d.assignment_epoch)
                .with_assignor_name(sb(d.assignor))
                .with_members(members)
                .with_authorized_operations(ops),
        );
    }
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}
