//! Metadata: the cluster's brokers, the cluster id, and the requested (or all) topics; auto-creates
//! unknown topics when the request and `auto.create.topics.enable` allow it. And
//! DescribeTopicPartitions (KIP-966), the paged per-partition view the AdminClient's
//! `describeTopics` uses: the same partition state, never creating topics.

use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, MetadataRequest,
    MetadataResponse, TopicName,
};
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::security::{operations, CLUSTER_OPERATIONS, TOPIC_OPERATIONS};
use super::{sb, Node};
use crate::cluster::NodeInfo;
use crate::topics::{Partition, Topic, TopicError};

/// Answers a Metadata request.
pub fn handle(node: &Node, req: MetadataRequest, version: i16) -> MetadataResponse {
    // v0-v3 have no flag and always allow auto-creation.
    let allow_create = version < 4 || req.allow_auto_topic_creation;
    let topic_ops = operations(req.include_topic_authorized_operations, TOPIC_OPERATIONS);
    let cluster_ops = operations(
        req.include_cluster_authorized_operations,
        CLUSTER_OPERATIONS,
    );
    let wanted = match req.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(t),
    };
    let topics: Vec<MetadataResponseTopic> = match wanted {
        None => node
            .cluster
            .topics
            .all()
            .iter()
            .map(|t| topic_entry(node, t))
            .collect(),
        Some(list) => list
            .into_iter()
            .map(|rt| match rt.name {
                Some(name) => match node.cluster.topic_or_create(&name, allow_create) {
                    Ok(t) => topic_entry(node, &t),
                    Err(e) => error_entry(Some(name), Uuid::nil(), &e),
                },
                None => match node.cluster.topics.get_by_id(rt.topic_id) {
                    Some(t) => topic_entry(node, &t),
                    None => error_entry(None, rt.topic_id, &TopicError::UnknownId(rt.topic_id)),
                },
            })
            .collect(),
    };
    let controller = node.cluster.controller_id();
    MetadataResponse::default()
        .with_brokers(node.cluster.nodes().into_iter().map(broker_entry).collect())
        .with_cluster_id((version >= 2).then(|| sb(node.cluster.cluster_id.clone())))
        .with_controller_id(BrokerId(if version >= 1 { controller } else { -1 }))
        .with_cluster_authorized_operations(cluster_ops)
        .with_topics(
            topics
                .into_iter()
                .map(|t| t.with_topic_authorized_operations(topic_ops))
                .collect(),
        )
}

/// A broker as Metadata lists it.
fn broker_entry(n: NodeInfo) -> MetadataResponseBroker {
    MetadataResponseBroker::default()
        .with_node_id(BrokerId(n.id))
        .with_host(sb(n.host))
        .with_port(n.port)
}

/// One partition as Metadata and DescribeTopicPartitions report it: (error, leader, epoch,
/// replicas, in-sync replicas, offline replicas).
struct PartitionView {
    error: i16,
    leader: i32,
    epoch: i32,
    replicas: Vec<BrokerId>,
    isr: Vec<BrokerId>,
    offline: Vec<BrokerId>,
}

fn partition_view(node: &Node, p: &Partition) -> PartitionView {
    let (leader, epoch) = p.leadership_now();
    let ids = p.replicas();
    let replicas: Vec<BrokerId> = ids.iter().map(|&b| BrokerId(b)).collect();
    if p.is_offline() {
        // The log directory failed: no leader, as Kafka's controller reports a partition
        // whose replicas are all offline.
        return PartitionView {
            error: ResponseError::LeaderNotAvailable.code(),
            leader: -1,
            epoch,
            isr: Vec::new(),
            offline: replicas.clone(),
            replicas,
        };
    }
    // The data is kept once, so every replica on a live broker is in sync.
    let (isr, offline): (Vec<BrokerId>, Vec<BrokerId>) =
        replicas.iter().partition(|b| !node.cluster.is_down(b.0));
    PartitionView {
        error: if leader < 0 {
            ResponseError::LeaderNotAvailable.code()
        } else {
            0
        },
        leader,
        epoch,
        isr,
        offline,
        replicas,
    }
}

fn topic_entry(node: &Node, t: &Topic) -> MetadataResponseTopic {
    let partitions = t
        .partitions()
        .iter()
        .map(|p| {
            let v = partition_view(node, p);
            MetadataResponsePartition::default()
                .with_error_code(v.error)
                .with_partition_index(p.index)
                .with_leader_id(BrokerId(v.leader))
                .with_leader_epoch(v.epoch)
                .with_replica_nodes(v.replicas)
                .with_isr_nodes(v.isr)
                .with_offline_replicas(v.offline)
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(sb(t.name.clone()))))
        .with_topic_id(t.id)
        .with_is_internal(t.internal)
        .with_partitions(partitions)
}

/// The most partitions one DescribeTopicPartitions response carries (Kafka's
/// `max.request.partition.size.limit` default).
const MAX_RESPONSE_PARTITIONS: i32 = 2000;

/// DescribeTopicPartitions: the named topics (or all, by name), from the cursor on, at most
/// `response_partition_limit` partitions (capped at 2000), with a cursor to the next one.
pub fn describe_topic_partitions(
    node: &Node,
    req: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    // Every topic to report, sorted by name: Some(topic) or None for an unknown name.
    let mut names: Vec<(String, Option<std::sync::Arc<Topic>>)> = if req.topics.is_empty() {
        node.cluster
            .topics
            .all()
            .into_iter()
            .map(|t| (t.name.clone(), Some(t)))
            .collect()
    } else {
        req.topics
            .iter()
            .map(|t| (t.name.to_string(), node.cluster.topics.get(&t.name)))
            .collect()
    };
    names.sort_by(|a, b| a.0.cmp(&b.0));
    names.dedup_by(|a, b| a.0 == b.0);
    let (start_topic, start_partition) = match &req.cursor {
        Some(c) => (Some(c.topic_name.to_string()), c.partition_index.max(0)),
        None => (None, 0),
    };
    let mut budget = req
        .response_partition_limit
        .clamp(1, MAX_RESPONSE_PARTITIONS);
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for (name, topic) in names {
        if start_topic.as_ref().is_some_and(|s| name < *s) {
            continue;
        }
        let first = if start_topic.as_ref() == Some(&name) {
            start_partition
        } else {
            0
        };
        let Some(topic) = topic else {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                    .with_name(Some(TopicName(sb(name))))
                    .with_topic_authorized_operations(TOPIC_OPERATIONS),
            );
            continue;
        };
        if budget == 0 {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(TopicName(sb(name)))
                    .with_partition_index(first),
            );
            break;
        }
        let mut partitions = Vec::new();
        for p in topic.partitions().iter().filter(|p| p.index >= first) {
            if budget == 0 {
                next_cursor = Some(
                    Cursor::default()
                        .with_topic_name(TopicName(sb(name.clone())))
                        .with_partition_index(p.index),
                );
                break;
            }
            budget -= 1;
            let v = partition_view(node, p);
            partitions.push(
                DescribeTopicPartitionsResponsePartition::default()
                    .with_error_code(v.error)
                    .with_partition_index(p.index)
                    .with_leader_id(BrokerId(v.leader))
                    .with_leader_epoch(v.epoch)
                    .with_replica_nodes(v.replicas)
                    .with_isr_nodes(v.isr)
                    .with_eligible_leader_replicas(Some(Vec::new()))
                    .with_last_known_elr(Some(Vec::new()))
                    .with_offline_replicas(v.offline),
            );
        }
        topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(TopicName(sb(name))))
                .with_topic_id(topic.id)
                .with_is_internal(topic.internal)
                .with_partitions(partitions)
                .with_topic_authorized_operations(TOPIC_OPERATIONS),
        );
        if next_cursor.is_some() {
            break;
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}

fn error_entry(name: Option<TopicName>, id: Uuid, e: &TopicError) -> MetadataResponseTopic {
    let code = match e {
        TopicError::Unknown(_) => ResponseError::UnknownTopicOrPartition,
        other => other.code(),
    };
    MetadataResponseTopic::default()
        .with_error_code(code.code())
        .with_name(name)
        .with_topic_id(id)
}
