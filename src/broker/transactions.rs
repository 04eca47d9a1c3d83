//! The transaction APIs: InitProducerId with a transactional id, AddPartitionsToTxn,
//! AddOffsetsToTxn, EndTxn, TxnOffsetCommit and WriteTxnMarkers. Each converts the request,
//! calls the transaction coordinator (or, for TxnOffsetCommit, the group coordinator), and
//! maps [`TxnError`]s to Kafka's codes as `KafkaApis` does, including the older codes some
//! versions expect (PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before InitProducerId v4,
//! AddPartitionsToTxn v2, AddOffsetsToTxn v2 and EndTxn v2).

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, ProducerId, TopicName,
    TxnOffsetCommitRequest, TxnOffsetCommitResponse, WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
};
use kafka_protocol::ResponseError;

use super::groups::{by_topic, known_commits, WireCommit};
use super::{sb, Node};
use crate::coordinator::{OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC};
use crate::group::{self, GroupError, TxnOffsetCommitRequest as GroupTxnCommit};
use crate::record::control::ControlMarker;
use crate::txn::TxnError;

/// The code of `e` for a request at `version`, where versions below `fenced_since` know
/// PRODUCER_FENCED as INVALID_PRODUCER_EPOCH.
pub(super) fn txn_code(e: TxnError, version: i16, fenced_since: i16) -> ResponseError {
    match e.code() {
        ResponseError::ProducerFenced if version < fenced_since => {
            ResponseError::InvalidProducerEpoch
        }
        c => c,
    }
}

fn code_of(r: Result<(), TxnError>, version: i16, fenced_since: i16) -> i16 {
    r.err()
        .map_or(0, |e| txn_code(e, version, fenced_since).code())
}

/// One transaction of an AddPartitionsToTxn (the client form, or one entry of the v4+ batch).
async fn add_one(
    node: &Node,
    transactional_id: &str,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    topics: Vec<AddPartitionsToTxnTopic>,
    version: i16,
) -> Vec<AddPartitionsToTxnTopicResult> {
    // Unknown partitions fail the request before the coordinator sees it (Kafka's KafkaApis):
    // they get UNKNOWN_TOPIC_OR_PARTITION, the others OPERATION_NOT_ATTEMPTED.
    let wanted: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.to_string(), *p)))
        .collect();
    let known = |t: &str, p: i32| {
        node.cluster
            .topics
            .get(t)
            .is_some_and(|topic| !topic.internal && topic.partition(p).is_some())
    };
    let codes: Vec<i16> = if wanted.iter().any(|(t, p)| !known(t, *p)) {
        wanted
            .iter()
            .map(|(t, p)| {
                if known(t, *p) {
                    ResponseError::OperationNotAttempted.code()
                } else {
                    ResponseError::UnknownTopicOrPartition.code()
                }
            })
            .collect()
    } else if verify_only {
        let mut out = Vec::with_capacity(wanted.len());
        for tp in &wanted {
            let r = node
                .cluster
                .txns
                .verify_partition(transactional_id, producer_id, epoch, tp.clone())
                .await;
            // Kafka 4.4 reports a partition not in the transaction as TRANSACTION_ABORTABLE
            // to the (broker) caller of a verification.
            out.push(match r {
                Err(TxnError::InvalidTxnState) => ResponseError::TransactionAbortable.code(),
                r => code_of(r, version, 2),
            });
        }
        out
    } else {
        let r = node
            .cluster
            .txns
            .add_partitions(transactional_id, producer_id, epoch, wanted.clone())
            .await;
        vec![code_of(r, version, 2); wanted.len()]
    };
    let mut results: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((topic, partition), code) in wanted.into_iter().zip(codes) {
        let entry = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(partition)
            .with_partition_error_code(code);
        match results.iter_mut().find(|r| *r.name == *topic.as_str()) {
            Some(r) => r.results_by_partition.push(entry),
            None => results.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(TopicName(sb(topic)))
                    .with_results_by_partition(vec![entry]),
            ),
        }
    }
    results
}

/// AddPartitionsToTxn v0-v5.
pub async fn add_partitions_to_txn(
    node: &Node,
    req: AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    if version <= 3 {
        let results = add_one(
            node,
            &req.v3_and_below_transactional_id,
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            false,
            req.v3_and_below_topics,
            version,
        )
        .await;
        return AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results);
    }
    let mut out = Vec::with_capacity(req.transactions.len());
    for t in req.transactions {
        let results = add_one(
            node,
            &t.transactional_id,
            t.producer_id.0,
            t.producer_epoch,
            t.verify_only,
            t.topics,
            version,
        )
        .await;
        out.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(t.transactional_id)
                .with_topic_results(results),
        );
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(out)
}

/// AddOffsetsToTxn: adds the group's `__consumer_offsets` partition to the transaction.
pub async fn add_offsets_to_txn(
    node: &Node,
    req: AddOffsetsToTxnRequest,
    version: i16,
) -> AddOffsetsToTxnResponse {
    let partition = node.cluster.txns.offsets_partition(&req.group_id);
    let r = node
        .cluster
        .txns
        .add_partitions(
            &req.transactional_id,
            req.producer_id.0,
            req.producer_epoch,
            vec![partition],
        )
        .await;
    AddOffsetsToTxnResponse::default().with_error_code(code_of(r, version, 2))
}

/// EndTxn: commit or abort; answered once the markers are written.
pub async fn end_txn(node: &Node, req: EndTxnRequest, version: i16) -> EndTxnResponse {
    let r = node
        .cluster
        .txns
        .end_txn(
            &req.transactional_id,
            req.producer_id.0,
            req.producer_epoch,
            req.committed,
        )
        .await;
    EndTxnResponse::default()
        .with_error_code(code_of(r, version, 2))
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

/// TxnOffsetCommit: the group's offsets, staged until the transaction ends. The producer must
/// be current and the group's partition added to the transaction (AddOffsetsToTxn).
pub async fn txn_offset_commit(
    node: &Node,
    req: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    let offsets_partition = node.cluster.txns.offsets_partition(&req.group_id);
    // The guard first, then the transaction coordinator's word (see the group coordinator).
    let guard = node
        .cluster
        .groups
        .begin_txn_verification(&req.group_id, req.producer_id.0)
        .await;
    let verified = node
        .cluster
        .txns
        .verify_partition(
            &req.transactional_id,
            req.producer_id.0,
            req.producer_epoch,
            offsets_partition,
        )
        .await;
    let (partitions, unknown) = known_commits(
        node,
        req.topics.iter().flat_map(|t| {
            t.partitions.iter().map(move |p| WireCommit {
                topic: &t.name,
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 2 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: p.committed_metadata.as_ref(),
            })
        }),
    );
    let results: Vec<(String, i32, i16)> = match verified {
        Err(e) => {
            let code = match e {
                TxnError::ProducerFenced => ResponseError::InvalidProducerEpoch,
                e => e.code(),
            };
            partitions
                .into_iter()
                .map(|p| (p.topic, p.partition, code.code()))
                .collect()
        }
        Ok(()) if partitions.is_empty() => Vec::new(),
        Ok(()) => {
            let commit = GroupTxnCommit {
                producer_id: req.producer_id.0,
                producer_epoch: req.producer_epoch,
                verification: guard.ok(),
                commit: group::OffsetCommitRequest {
                    api_version: version,
                    group_id: req.group_id.to_string(),
                    generation_id: if version >= 3 { req.generation_id } else { -1 },
                    member_id: if version >= 3 {
                        req.member_id.to_string()
                    } else {
                        String::new()
                    },
                    group_instance_id: if version >= 3 {
                        req.group_instance_id.as_ref().map(|s| s.to_string())
                    } else {
                        None
                    },
                    retention_ms: None,
                    partitions,
                },
            };
            node.cluster
                .groups
                .txn_commit(commit)
                .await
                .into_iter()
                .map(|r| {
                    (
                        r.topic,
                        r.partition,
                        r.error.map_or(0, |e: GroupError| e.code().code()),
                    )
                })
                .collect()
        }
    };
    let all = results.into_iter().chain(
        unknown
            .into_iter()
            .map(|(t, p)| (t, p, ResponseError::UnknownTopicOrPartition.code())),
    );
    let by_topic = by_topic(
        all,
        |partition, error| {
            TxnOffsetCommitResponsePartition::default()
                .with_partition_index(partition)
                .with_error_code(error)
        },
        |topic, partitions| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(TopicName(sb(topic)))
                .with_partitions(partitions)
        },
    );
    TxnOffsetCommitResponse::default().with_topics(by_topic)
}

/// WriteTxnMarkers (what `kafka-transactions abort` sends to a partition's leader to end a
/// hanging transaction): each marker appended to each partition named.
pub async fn write_txn_markers(
    node: &Node,
    req: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let mut out = Vec::with_capacity(req.markers.len());
    for m in req.markers {
        let marker = ControlMarker {
            producer_id: m.producer_id.0,
            producer_epoch: m.producer_epoch,
            commit: m.transaction_result,
            coordinator_epoch: m.coordinator_epoch,
        };
        let mut topics = Vec::with_capacity(m.topics.len());
        for t in m.topics {
            let topic = node.cluster.topics.get(&t.name);
            let mut partitions = Vec::with_capacity(t.partition_indexes.len());
            for index in t.partition_indexes {
                let code = match &topic {
                    None => ResponseError::UnknownTopicOrPartition.code(),
                    Some(topic) if topic.partition(index).is_none() => {
                        ResponseError::UnknownTopicOrPartition.code()
                    }
                    Some(topic)
                        if topic.name == OFFSETS_TOPIC || topic.name == TRANSACTION_STATE_TOPIC =>
                    {
                        // Markers for the coordinators' own logs come from the coordinators.
                        ResponseError::InvalidRequest.code()
                    }
                    Some(_) => match node.cluster.txns.write_marker(&t.name, index, &marker) {
                        Ok(()) => 0,
                        Err(e) => e.code.code(),
                    },
                };
                partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(index)
                        .with_error_code(code),
                );
            }
            topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(t.name)
                    .with_partitions(partitions),
            );
        }
        out.push(
            WritableTxnMarkerResult::default()
                .with_producer_id(m.producer_id)
                .with_topics(topics),
        );
    }
    node.cluster.notify_appended();
    WriteTxnMarkersResponse::default().with_markers(out)
}
