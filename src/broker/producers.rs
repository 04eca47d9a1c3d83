//! What Kafka's `kafka-transactions` tool asks about producers: DescribeProducers (the
//! producers a partition tracks, with the start of each one's open transaction),
//! ListTransactions and DescribeTransactions (from the transaction coordinator).

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedState;
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse, ProducerId,
    TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{sb, Node};
use crate::txn::{ListFilter, TxnState};

/// DescribeProducers: per partition, the producers whose state it keeps.
pub fn describe_producers(node: &Node, req: DescribeProducersRequest) -> DescribeProducersResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = node.cluster.topics.get(&t.name);
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&index| {
                    let r = PartitionResponse::default().with_partition_index(index);
                    // Kafka explains an unknown topic, not an unknown partition of a known one.
                    let Some(topic) = &topic else {
                        return r
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_error_message(Some(sb(
                                "This server does not host this topic-partition.",
                            )));
                    };
                    let Some(p) = topic.partition(index) else {
                        return r.with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    if p.leader() != node.id {
                        return r.with_error_code(ResponseError::NotLeaderOrFollower.code());
                    }
                    let log = p.log();
                    let mut active: Vec<ProducerState> = log
                        .producer_state()
                        .iter()
                        .map(|(id, e)| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(id))
                                .with_producer_epoch(i32::from(e.epoch))
                                .with_last_sequence(e.batches.back().map_or(-1, |b| b.last_seq))
                                .with_last_timestamp(e.last_timestamp)
                                .with_coordinator_epoch(e.coordinator_epoch)
                                .with_current_txn_start_offset(
                                    e.current_txn_first_offset.unwrap_or(-1),
                                )
                        })
                        .collect();
                    active.sort_by_key(|s| s.producer_id.0);
                    r.with_active_producers(active)
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}

/// ListTransactions: every transactional id the coordinator knows, filtered by state, producer
/// id and (v1) how long the transaction has been open; filter values that name no state are
/// reported back as Kafka does.
pub async fn list_transactions(
    node: &Node,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let unknown: Vec<StrBytes> = req
        .state_filters
        .iter()
        .filter(|s| TxnState::from_name(s).is_none())
        .cloned()
        .collect();
    let pattern = match req
        .transactional_id_pattern
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(p) => match regex::Regex::new(&format!("^(?:{p})$")) {
            Ok(r) => Some(r),
            Err(_) => {
                return ListTransactionsResponse::default()
                    .with_error_code(ResponseError::InvalidRegularExpression.code())
            }
        },
    };
    let filter = ListFilter {
        states: req
            .state_filters
            .iter()
            .filter_map(|s| TxnState::from_name(s))
            .collect(),
        producer_ids: req.producer_id_filters.iter().map(|p| p.0).collect(),
        min_duration_ms: req.duration_filter,
    };
    // A filter naming only unknown states matches nothing.
    let listed = if !req.state_filters.is_empty() && filter.states.is_empty() {
        Vec::new()
    } else {
        node.cluster.txns.list(filter).await
    };
    let states = listed
        .into_iter()
        // Each broker lists the transactions it coordinates; admin clients ask every broker.
        .filter(|m| super::owns_txn(node, &m.transactional_id))
        .filter(|m| {
            pattern
                .as_ref()
                .is_none_or(|r| r.is_match(&m.transactional_id))
        })
        .map(|m| {
            ListedState::default()
                .with_transactional_id(TransactionalId(sb(m.transactional_id)))
                .with_producer_id(ProducerId(m.producer_id))
                .with_transaction_state(sb(m.state.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(states)
}

/// DescribeTransactions: each id's state, producer, timeout, start time and partitions.
pub async fn describe_transactions(
    node: &Node,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let mut out = Vec::with_capacity(req.transactional_ids.len());
    for id in req.transactional_ids {
        let state = TransactionState::default().with_transactional_id(id.clone());
        if !super::owns_txn(node, &id) {
            out.push(state.with_error_code(ResponseError::NotCoordinator.code()));
            continue;
        }
        out.push(match node.cluster.txns.describe(&id).await {
            // Kafka leaves the other fields at their defaults.
            Err(e) => state.with_error_code(e.code().code()),
            Ok(m) => {
                let mut topics: Vec<TopicData> = Vec::new();
                for (topic, p) in &m.partitions {
                    match topics.last_mut() {
                        Some(t) if *t.topic == *topic.as_str() => t.partitions.push(*p),
                        _ => topics.push(
                            TopicData::default()
                                .with_topic(TopicName(sb(topic.clone())))
                                .with_partitions(vec![*p]),
                        ),
                    }
                }
                state
                    .with_transaction_state(sb(m.state.name()))
                    .with_transaction_timeout_ms(m.timeout_ms)
                    .with_transaction_start_time_ms(m.start_ms)
                    .with_producer_id(ProducerId(m.producer_id))
                    .with_producer_epoch(m.producer_epoch)
                    .with_topics(topics)
            }
        });
    }
    DescribeTransactionsResponse::default().with_transaction_states(out)
}
