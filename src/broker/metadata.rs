//! Metadata: the cluster's brokers, the cluster id, and the requested (or all) topics; auto-creates
//! unknown topics when the request and `auto.create.topics.enable` allow it.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::{sb, Node};
use crate::cluster::NodeInfo;
use crate::topics::{Topic, TopicError};

/// Answers a Metadata request.
pub fn handle(node: &Node, req: MetadataRequest, version: i16) -> MetadataResponse {
    // v0-v3 have no flag and always allow auto-creation.
    let allow_create = version < 4 || req.allow_auto_topic_creation;
    let wanted = match req.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(t),
    };
    let topics = match wanted {
        None => node
            .cluster
            .topics
            .all()
            .iter()
            .map(|t| topic_entry(t))
            .collect(),
        Some(list) => list
            .into_iter()
            .map(|rt| match rt.name {
                Some(name) => match node.cluster.topic_or_create(&name, allow_create) {
                    Ok(t) => topic_entry(&t),
                    Err(e) => error_entry(Some(name), Uuid::nil(), &e),
                },
                None => match node.cluster.topics.get_by_id(rt.topic_id) {
                    Some(t) => topic_entry(&t),
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
        .with_topics(topics)
}

/// A broker as Metadata lists it.
fn broker_entry(n: NodeInfo) -> MetadataResponseBroker {
    MetadataResponseBroker::default()
        .with_node_id(BrokerId(n.id))
        .with_host(sb(n.host))
        .with_port(n.port)
}

fn topic_entry(t: &Topic) -> MetadataResponseTopic {
    let partitions = t
        .partitions()
        .iter()
        .map(|p| {
            let (leader, epoch) = p.leadership_now();
            let replicas = vec![BrokerId(leader)];
            let entry = MetadataResponsePartition::default()
                .with_partition_index(p.index)
                .with_leader_epoch(epoch)
                .with_replica_nodes(replicas.clone());
            if p.is_offline() {
                // The only replica's log directory failed: no leader, as Kafka's controller
                // reports a partition whose replicas are all offline.
                return entry
                    .with_error_code(ResponseError::LeaderNotAvailable.code())
                    .with_leader_id(BrokerId(-1))
                    .with_offline_replicas(replicas);
            }
            entry
                .with_leader_id(BrokerId(leader))
                .with_isr_nodes(replicas)
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(sb(t.name.clone()))))
        .with_topic_id(t.id)
        .with_is_internal(t.internal)
        .with_partitions(partitions)
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
