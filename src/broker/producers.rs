//! What Kafka's `kafka-transactions` tool asks about producers: DescribeProducers (the
//! idempotent producers a partition tracks), ListTransactions and DescribeTransactions. Until
//! transactions land there are none: both answer as Kafka does with no transactional ids.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::describe_transactions_response::TransactionState;
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse, ProducerId,
};
use kafka_protocol::ResponseError;

use super::{sb, Node};

/// The transaction states ListTransactions filters on (Kafka's `TransactionState` names).
const TRANSACTION_STATES: &[&str] = &[
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

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
                                .with_coordinator_epoch(-1)
                                .with_current_txn_start_offset(-1)
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

/// ListTransactions: no transactional ids exist yet; filter values that name no state are
/// reported back as Kafka does.
pub fn list_transactions(req: ListTransactionsRequest) -> ListTransactionsResponse {
    ListTransactionsResponse::default().with_unknown_state_filters(
        req.state_filters
            .into_iter()
            .filter(|s| !TRANSACTION_STATES.contains(&s.as_str()))
            .collect(),
    )
}

/// DescribeTransactions: every id is unknown until transactions land.
pub fn describe_transactions(req: DescribeTransactionsRequest) -> DescribeTransactionsResponse {
    DescribeTransactionsResponse::default().with_transaction_states(
        req.transactional_ids
            .into_iter()
            .map(|id| {
                TransactionState::default()
                    .with_error_code(ResponseError::TransactionalIdNotFound.code())
                    .with_transactional_id(id)
            })
            .collect(),
    )
}
