//! The replica- and quorum-level admin APIs Kafka's tools call, answered for Gregor's shape (one
//! log directory, the data of a partition kept once whatever its replica set, no metadata
//! quorum of its own): DescribeLogDirs,
//! DescribeQuorum, ElectLeaders, ListPartitionReassignments, AlterPartitionReassignments.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::describe_quorum_response::{
    self, Listener, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    DescribeLogDirsRequest, DescribeLogDirsResponse, DescribeQuorumRequest, DescribeQuorumResponse,
    ElectLeadersRequest, ElectLeadersResponse, ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::ResponseError;

use super::{sb, Node};
use crate::cluster::topology::Election;

/// The name of Kafka's metadata log, the only partition DescribeQuorum knows.
const METADATA_TOPIC: &str = "__cluster_metadata";

/// DescribeLogDirs: the one data directory, with the size of every (requested) partition this
/// broker holds a replica of, and the file system's total and usable bytes (v4).
pub fn describe_log_dirs(node: &Node, req: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let topics = &node.cluster.topics;
    let dir = topics.log_dir();
    let mut result = DescribeLogDirsResult::default()
        .with_log_dir(sb(dir.path().display().to_string()))
        .with_total_bytes(-1)
        .with_usable_bytes(-1);
    if dir.is_offline() {
        return DescribeLogDirsResponse::default().with_results(vec![
            result.with_error_code(ResponseError::KafkaStorageError.code())
        ]);
    }
    if let Ok(st) = rustix::fs::statvfs(dir.path()) {
        let block = st.f_frsize as i64;
        result = result
            .with_total_bytes((st.f_blocks as i64).saturating_mul(block))
            .with_usable_bytes((st.f_bavail as i64).saturating_mul(block));
    }
    // Which partitions: all of them, or the requested ones that exist.
    let wanted: Option<BTreeMap<String, Vec<i32>>> = req.topics.map(|list| {
        let mut m: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for t in list {
            m.entry(t.topic.to_string())
                .or_default()
                .extend(t.partitions);
        }
        m
    });
    let mut out = Vec::new();
    for topic in topics.all() {
        let indexes: Option<&Vec<i32>> = match &wanted {
            None => None,
            Some(w) => match w.get(&topic.name) {
                Some(i) => Some(i),
                None => continue,
            },
        };
        let partitions: Vec<DescribeLogDirsPartition> = topic
            .partitions()
            .iter()
            .filter(|p| indexes.is_none_or(|i| i.contains(&p.index)))
            // Each broker lists the replicas it holds (the data is kept once, but the tools
            // add up per broker).
            .filter(|p| p.replicas().contains(&node.id))
            .filter(|p| !p.is_offline())
            .map(|p| {
                DescribeLogDirsPartition::default()
                    .with_partition_index(p.index)
                    .with_partition_size(p.log().size_bytes() as i64)
            })
            .collect();
        if !partitions.is_empty() {
            out.push(
                DescribeLogDirsTopic::default()
                    .with_name(TopicName(sb(topic.name.clone())))
                    .with_partitions(partitions),
            );
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    DescribeLogDirsResponse::default().with_results(vec![result.with_topics(out)])
}

/// DescribeQuorum: the controller is the single voter of a quorum that has no log of its own
/// (Gregor keeps no metadata log), so offsets read -1, "unknown"; the other nodes are
/// observers.
pub fn describe_quorum(
    node: &Node,
    req: DescribeQuorumRequest,
    version: i16,
) -> DescribeQuorumResponse {
    let is_metadata = req.topics.len() == 1
        && *req.topics[0].topic_name == *METADATA_TOPIC
        && req.topics[0].partitions.len() == 1
        && req.topics[0].partitions[0].partition_index == 0;
    if !is_metadata {
        return DescribeQuorumResponse::default()
            .with_error_code(ResponseError::InvalidRequest.code())
            .with_error_message(Some(sb(
                "DescribeQuorum only describes __cluster_metadata-0",
            )));
    }
    let now = node.cluster.clock.now_ms();
    let controller = node.cluster.controller_id();
    let replica = |id: i32| {
        ReplicaState::default()
            .with_replica_id(BrokerId(id))
            .with_log_end_offset(-1)
            .with_last_fetch_timestamp(now)
            .with_last_caught_up_timestamp(now)
    };
    let nodes = node.cluster.nodes();
    let partition = PartitionData::default()
        .with_leader_id(BrokerId(controller))
        .with_leader_epoch(1)
        .with_high_watermark(-1)
        .with_current_voters(vec![replica(controller)])
        .with_observers(
            nodes
                .iter()
                .filter(|n| n.id != controller)
                .map(|n| replica(n.id))
                .collect(),
        );
    let mut resp = DescribeQuorumResponse::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(sb(METADATA_TOPIC)))
        .with_partitions(vec![partition])]);
    if version >= 2 {
        resp = resp.with_nodes(
            nodes
                .iter()
                .filter(|n| n.id == controller)
                .map(|n| {
                    describe_quorum_response::Node::default()
                        .with_node_id(BrokerId(n.id))
                        .with_listeners(vec![Listener::default()
                            .with_name(sb("PLAINTEXT"))
                            .with_host(sb(n.host.clone()))
                            .with_port(u16::try_from(n.port).unwrap_or(0))])
                })
                .collect(),
        );
    }
    resp
}

/// ElectLeaders (preferred; an unclean election is answered the same way, as every replica is
/// in sync): each partition's first replica leads again if it is up and does not already
/// (ELECTION_NOT_NEEDED; PREFERRED_LEADER_NOT_AVAILABLE if it is down). With no partitions
/// named, every partition is tried and, as Kafka, only those elected are listed.
pub fn elect_leaders(node: &Node, req: ElectLeadersRequest) -> ElectLeadersResponse {
    let cluster = &node.cluster;
    let Some(requested) = req.topic_partitions else {
        let mut topics: Vec<_> = cluster.topics.all();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        return ElectLeadersResponse::default().with_replica_election_results(
            topics
                .into_iter()
                .map(|t| {
                    let elected = t
                        .partitions()
                        .iter()
                        .filter(|p| {
                            matches!(
                                cluster.elect_preferred(&t.name, p.index),
                                Ok(Election::Elected(_))
                            )
                        })
                        .map(|p| PartitionResult::default().with_partition_id(p.index))
                        .collect();
                    ReplicaElectionResult::default()
                        .with_topic(TopicName(sb(t.name.clone())))
                        .with_partition_result(elected)
                })
                .collect(),
        );
    };
    let results = requested
        .into_iter()
        .map(|t| {
            let partition_result = t
                .partitions
                .iter()
                .map(|&index| {
                    let r = PartitionResult::default().with_partition_id(index);
                    match cluster.elect_preferred(&t.topic, index) {
                        Err(_) => r
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_error_message(Some(sb(format!(
                                "No such topic as {}",
                                t.topic.as_str()
                            )))),
                        Ok(Election::Elected(_)) => r,
                        Ok(Election::NotNeeded) => {
                            r.with_error_code(ResponseError::ElectionNotNeeded.code())
                        }
                        Ok(Election::PreferredUnavailable) => {
                            r.with_error_code(ResponseError::PreferredLeaderNotAvailable.code())
                        }
                    }
                })
                .collect();
            ReplicaElectionResult::default()
                .with_topic(t.topic)
                .with_partition_result(partition_result)
        })
        .collect();
    ElectLeadersResponse::default().with_replica_election_results(results)
}

/// ListPartitionReassignments: reassignments complete at once, so nothing is ever moving.
pub fn list_partition_reassignments(
    _node: &Node,
    _req: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    ListPartitionReassignmentsResponse::default().with_error_message(None)
}

/// AlterPartitionReassignments: the target replica set (known brokers, no repeats) replaces
/// the partition's at once, as the data is kept once; the leader moves to its first live
/// broker if it is not in it.
pub fn alter_partition_reassignments(
    node: &Node,
    req: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    let responses = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = node.cluster.topics.get(&t.name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|rp| {
                    let r = ReassignablePartitionResponse::default()
                        .with_partition_index(rp.partition_index);
                    let Some(p) = topic.as_ref().and_then(|t| t.partition(rp.partition_index))
                    else {
                        return r.with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    let Some(target) = rp.replicas else {
                        return r
                            .with_error_code(ResponseError::NoReassignmentInProgress.code())
                            .with_error_message(None);
                    };
                    let ids: Vec<i32> = target.iter().map(|b| b.0).collect();
                    let mut unique = ids.clone();
                    unique.sort_unstable();
                    unique.dedup();
                    let message =
                        if let Some(b) = ids.iter().find(|&&b| node.cluster.node(b).is_none()) {
                            format!(
                                "The manual partition assignment includes broker {b}, but no such \
                             broker is registered."
                            )
                        } else if ids.is_empty() || unique.len() != ids.len() {
                            "The manual partition assignment includes an empty replica list or \
                         duplicate replicas."
                                .to_string()
                        } else {
                            // The data is kept once: the reassignment is complete at once.
                            return match node.cluster.reassign(&p.topic, p.index, ids) {
                                Ok(_) => r.with_error_message(None),
                                Err(e) => r
                                    .with_error_code(ResponseError::InvalidReplicaAssignment.code())
                                    .with_error_message(Some(sb(e.to_string()))),
                            };
                        };
                    r.with_error_code(ResponseError::InvalidReplicaAssignment.code())
                        .with_error_message(Some(sb(message)))
                })
                .collect();
            ReassignableTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    AlterPartitionReassignmentsResponse::default()
        .with_error_message(None)
        .with_responses(responses)
}
