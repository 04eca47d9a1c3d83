//! Topic administration: CreateTopics, DeleteTopics, CreatePartitions, DescribeCluster.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest,
    CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse, DescribeClusterRequest,
    DescribeClusterResponse, TopicName,
};
use uuid::Uuid;

use super::{sb, security, Node};
use crate::topics::TopicError;

/// A CreateTopics entry's explicit replica assignment, one broker list per partition in
/// index order, checked as Kafka 4.4 does (its words): the count and factor must be -1, and
/// the indexes 0..n, each once.
fn explicit_assignment(
    t: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<Vec<Vec<i32>>, TopicError> {
    if t.num_partitions != -1 {
        return Err(TopicError::InvalidRequest(
            "A manual partition assignment was specified, but numPartitions was not set to -1."
                .into(),
        ));
    }
    if t.replication_factor != -1 {
        return Err(TopicError::InvalidRequest(
            "A manual partition assignment was specified, but replication factor was not set \
             to -1."
                .into(),
        ));
    }
    let mut by_index: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for a in &t.assignments {
        let brokers = a.broker_ids.iter().map(|b| b.0).collect();
        if by_index.insert(a.partition_index, brokers).is_some() {
            return Err(TopicError::InvalidReplicaAssignment(format!(
                "Found multiple manual partition assignments for partition {}",
                a.partition_index
            )));
        }
    }
    if by_index.keys().copied().ne(0..by_index.len() as i32) {
        return Err(TopicError::InvalidReplicaAssignment(
            "partitions should be a consecutive 0-based integer sequence".into(),
        ));
    }
    Ok(by_index.into_values().collect())
}

/// CreateTopics: validates everything first; `validate_only` stops there.
pub fn create_topics(node: &Node, req: CreateTopicsRequest, version: i16) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let name = t.name.to_string();
        let mut result = CreatableTopicResult::default().with_name(t.name.clone());
        let mut configs = BTreeMap::new();
        for c in &t.configs {
            if let Some(v) = &c.value {
                configs.insert(c.name.to_string(), v.to_string());
            }
        }
        let configs_for_validation = configs.clone();
        let replication = i32::from(t.replication_factor);
        let outcome = if !t.assignments.is_empty() {
            match explicit_assignment(&t) {
                Err(e) => Err(e),
                Ok(assignment) => {
                    let n = assignment.len() as i32;
                    if req.validate_only {
                        node.cluster
                            .topics
                            .validate_assignment(&assignment)
                            .and_then(|_| {
                                node.cluster.topics.validate_create(&name, n, -1, &configs)
                            })
                    } else {
                        node.cluster
                            .topics
                            .create_assigned(&name, &assignment, configs)
                            .map(|t| t.partition_count())
                    }
                }
            }
        } else if req.validate_only {
            node.cluster
                .topics
                .validate_create(&name, t.num_partitions, replication, &configs)
        } else {
            node.cluster
                .topics
                .create(&name, t.num_partitions, replication, configs)
                .map(|t| t.partition_count())
        };
        match outcome {
            Ok(count) => {
                // A validate-only create describes the topic it would make, with an id of its
                // own, as Kafka's does.
                let (id, effective) = match node
                    .cluster
                    .topics
                    .get(&name)
                    .filter(|_| !req.validate_only)
                {
                    Some(topic) => (topic.id, node.cluster.topics.effective_configs(&topic)),
                    None => (
                        Uuid::new_v4(),
                        node.cluster
                            .topics
                            .effective_configs_for(&configs_for_validation),
                    ),
                };
                result = result.with_error_message(None);
                if version >= 7 {
                    result = result.with_topic_id(id);
                }
                let rf = match node
                    .cluster
                    .topics
                    .get(&name)
                    .filter(|_| !req.validate_only)
                {
                    Some(topic) => topic.replication_factor,
                    None => match t.assignments.first() {
                        Some(a) => a.broker_ids.len() as i32,
                        None => node.cluster.topics.resolve_replication_factor(replication),
                    },
                };
                if version >= 5 {
                    result = result
                        .with_num_partitions(count)
                        .with_replication_factor(rf as i16)
                        .with_configs(Some(
                            effective
                                .into_iter()
                                .map(|c| {
                                    CreatableTopicConfigs::default()
                                        .with_name(sb(c.name))
                                        .with_value(Some(sb(c.value)))
                                        .with_config_source(c.source as i8)
                                })
                                .collect(),
                        ));
                }
            }
            Err(e) => {
                tracing::info!(topic = %name, error = %e, "create topic refused");
                result = result
                    .with_error_code(e.code().code())
                    .with_error_message(Some(sb(e.to_string())));
                if version >= 5 {
                    result = result.with_num_partitions(-1).with_replication_factor(-1);
                }
            }
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}

/// DeleteTopics, by name (all versions) or by topic id (v6+).
pub fn delete_topics(node: &Node, req: DeleteTopicsRequest, version: i16) -> DeleteTopicsResponse {
    let targets: Vec<(Option<TopicName>, Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::nil()))
            .collect()
    };
    let responses = targets
        .into_iter()
        .map(|(name, id)| {
            let resolved = match &name {
                Some(n) => Ok(n.to_string()),
                None => node
                    .cluster
                    .topics
                    .get_by_id(id)
                    .map(|t| t.name.clone())
                    .ok_or(TopicError::UnknownId(id)),
            };
            let outcome = resolved.and_then(|n| node.cluster.topics.delete(&n).map(|id| (n, id)));
            let mut r = DeletableTopicResult::default();
            match outcome {
                Ok((n, deleted_id)) => {
                    r = r.with_name(Some(TopicName(sb(n))));
                    if version >= 6 {
                        r = r.with_topic_id(deleted_id);
                    }
                }
                Err(e) => {
                    r = r.with_name(name).with_error_code(e.code().code());
                    if version >= 6 {
                        r = r.with_topic_id(id);
                    }
                    if version >= 5 {
                        r = r.with_error_message(Some(sb(e.to_string())));
                    }
                }
            }
            r
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}

/// CreatePartitions: grow only.
pub fn create_partitions(node: &Node, req: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let results = req
        .topics
        .into_iter()
        .map(|t| {
            let r = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            match node
                .cluster
                .topics
                .create_partitions(&t.name, t.count, req.validate_only)
            {
                Ok(()) => r,
                // Kafka gives no message for an unknown topic, one for the others.
                Err(e) => r.with_error_code(e.code().code()).with_error_message(
                    (!matches!(e, TopicError::Unknown(_))).then(|| sb(e.to_string())),
                ),
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}

/// DescribeCluster: this one broker, which is also the controller.
pub fn describe_cluster(node: &Node, req: DescribeClusterRequest) -> DescribeClusterResponse {
    DescribeClusterResponse::default()
        .with_cluster_authorized_operations(security::operations(
            req.include_cluster_authorized_operations,
            security::CLUSTER_OPERATIONS,
        ))
        .with_cluster_id(sb(node.cluster.cluster_id.clone()))
        .with_controller_id(BrokerId(node.cluster.controller_id()))
        .with_brokers(
            node.cluster
                .nodes()
                .into_iter()
                .map(|n| {
                    DescribeClusterBroker::default()
                        .with_broker_id(BrokerId(n.id))
                        .with_host(sb(n.host))
                        .with_port(n.port)
                })
                .collect(),
        )
}
