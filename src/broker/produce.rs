//! Produce: validate each partition's record batch outside any lock (framing, CRC, every record
//! inside it: see [`crate::record::validate`]), then append under that partition's own lock,
//! which assigns offsets by rewriting the batch header. Errors are per partition, with Kafka's
//! `error_message` and `record_errors` from v8; acks=0 gets no response.
//!
//! Copies of batch bytes on this path: socket -> connection buffer (one read), then the log
//! writes patched 61-byte headers and the untouched request bytes with one `pwritev`.

use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse,
    TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::ResponseError;

use super::{check_leader, sb, Node, RequestContext};
use crate::log::LogError;
use crate::record::batch::{BatchError, RecordError};
use crate::record::validate::{validate_produce, ProduceRules};
use crate::topics::{Partition, TopicError};
use crate::txn::TxnError;

/// Why a partition's records were not stored: the code, Kafka's `error_message`, and the
/// refused records.
struct Refusal {
    code: ResponseError,
    /// Kafka's `error_message`: for refused records, a partition not in its transaction (and
    /// Gregor's injected faults).
    message: Option<String>,
    records: Vec<RecordError>,
    /// The partition's log start offset, for refusals Kafka answers after looking at the log.
    log_start_offset: i64,
}

impl Refusal {
    fn code(code: ResponseError) -> Self {
        Refusal {
            code,
            message: None,
            records: Vec::new(),
            log_start_offset: -1,
        }
    }
}

/// What a Produce request gets.
pub enum Reply {
    /// This response.
    Answer(ProduceResponse),
    /// Nothing (acks=0, everything stored).
    Silent,
    /// The connection closed (acks=0 and a partition failed: Kafka's only way to tell the
    /// producer, which then refreshes its metadata).
    Close,
}

/// Answers (or, for acks=0, just performs) a Produce request.
pub async fn handle(node: &Node, req: ProduceRequest, version: i16, ctx: &RequestContext) -> Reply {
    let acks = req.acks;
    let txn_id: Option<String> = req.transactional_id.as_ref().map(|t| t.to_string());
    let mut responses = Vec::with_capacity(req.topic_data.len());
    let mut appended = false;
    // KIP-951: where the partitions this node does not lead are led now.
    let mut moved = super::LeaderHints::default();
    for td in req.topic_data {
        let topic = if version >= 13 {
            node.cluster
                .topics
                .get_by_id(td.topic_id)
                .ok_or(TopicError::UnknownId(td.topic_id))
        } else {
            // Produce never creates topics (Kafka's clients create them through Metadata).
            node.cluster
                .topics
                .get(&td.name)
                .ok_or_else(|| TopicError::Unknown(td.name.to_string()))
        };
        let mut parts = Vec::with_capacity(td.partition_data.len());
        for pd in td.partition_data {
            parts.push({
                let mut r = PartitionProduceResponse::default()
                    .with_index(pd.index)
                    .with_base_offset(-1)
                    .with_log_append_time_ms(-1)
                    .with_log_start_offset(-1);
                let outcome = if !matches!(acks, -1..=1) {
                    Err(Refusal::code(ResponseError::InvalidRequiredAcks))
                } else {
                    match &topic {
                        Err(e) => Err(Refusal::code(e.code())),
                        Ok(t) if t.internal => {
                            Err(Refusal::code(ResponseError::InvalidTopicException))
                        }
                        Ok(t) => match t.partition(pd.index) {
                            None => Err(Refusal::code(ResponseError::UnknownTopicOrPartition)),
                            Some(p) if let Err(e) = check_leader(node, &p, -1) => {
                                if version >= 10 {
                                    let (leader, epoch) = moved.note(&p);
                                    r = r.with_current_leader(
                                        LeaderIdAndEpoch::default()
                                            .with_leader_id(BrokerId(leader))
                                            .with_leader_epoch(epoch),
                                    );
                                }
                                Err(Refusal::code(e))
                            }
                            Some(_)
                                if let Some(e) = ctx.partition_fault(node, &t.name, pd.index) =>
                            {
                                Err(Refusal {
                                    message: Some("injected fault".to_string()),
                                    ..Refusal::code(e)
                                })
                            }
                            Some(p) => {
                                let records = pd.records.as_deref().unwrap_or(&[]);
                                let stored = append(
                                    node,
                                    txn_id.as_deref(),
                                    &p,
                                    &t.produce_rules(),
                                    records,
                                )
                                .await;
                                if let Ok(info) = &stored {
                                    let n = info.last_offset - info.base_offset + 1;
                                    t.traffic.produced(records.len(), n.max(0) as u64);
                                }
                                stored
                            }
                        },
                    }
                };
                match outcome {
                    Ok(info) => {
                        appended = true;
                        r = r
                            .with_base_offset(info.base_offset)
                            .with_log_append_time_ms(info.log_append_time)
                            .with_log_start_offset(info.log_start_offset);
                    }
                    Err(refusal) => {
                        r = r
                            .with_error_code(refusal.code.code())
                            .with_log_start_offset(refusal.log_start_offset);
                        if version >= 8 {
                            r = r
                                .with_error_message(refusal.message.map(sb))
                                .with_record_errors(
                                    refusal
                                        .records
                                        .into_iter()
                                        .map(|e| {
                                            BatchIndexAndErrorMessage::default()
                                                .with_batch_index(e.batch_index)
                                                .with_batch_index_error_message(Some(sb(e.message)))
                                        })
                                        .collect(),
                                );
                        }
                    }
                }
                r
            });
        }
        let mut tr = TopicProduceResponse::default().with_partition_responses(parts);
        if version >= 13 {
            tr = tr.with_topic_id(td.topic_id);
        } else {
            tr = tr.with_name(TopicName(td.name.0));
        }
        responses.push(tr);
    }
    if appended {
        node.cluster.notify_appended();
    }
    if acks == 0 {
        let failed = responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .any(|p| p.error_code != 0);
        return if failed { Reply::Close } else { Reply::Silent };
    }
    Reply::Answer({
        ProduceResponse::default()
            .with_responses(responses)
            .with_node_endpoints(if version >= 10 {
                moved
                    .endpoints(node)
                    .into_iter()
                    .map(|n| {
                        NodeEndpoint::default()
                            .with_node_id(BrokerId(n.id))
                            .with_host(sb(n.host))
                            .with_port(n.port)
                    })
                    .collect()
            } else {
                Vec::new()
            })
    })
}

/// Validates, checks a transactional batch against its transaction, and appends.
async fn append(
    node: &Node,
    transactional_id: Option<&str>,
    p: &Partition,
    rules: &ProduceRules,
    records: &[u8],
) -> Result<crate::log::AppendInfo, Refusal> {
    let now = node.cluster.clock.now_ms();
    let header = validate_produce(records, rules, now).map_err(|e| {
        tracing::info!(topic = %p.topic, partition = p.index, error = %e, "rejected produce batch");
        let log_start_offset = if e.before_log() {
            -1
        } else {
            p.log().log_start_offset()
        };
        match e {
            BatchError::RecordErrors {
                code,
                message,
                errors,
            } => Refusal {
                code,
                message: Some(message),
                records: errors,
                log_start_offset,
            },
            e => Refusal {
                log_start_offset,
                ..Refusal::code(e.code())
            },
        }
    })?;
    let result = if header.is_transactional() {
        let token = verify_transactional(node, transactional_id, p, &header).await?;
        p.log().append_verified(
            records,
            &[header],
            p.leader_epoch(),
            now,
            (header.producer_id, token),
        )
    } else {
        p.log().append(records, &[header], p.leader_epoch(), now)
    };
    result.map_err(|e: LogError| {
        tracing::error!(topic = %p.topic, partition = p.index, error = %e, "append failed");
        Refusal::code(e.code())
    })
}

/// KIP-890 part 1 (`transaction.partition.verification.enable`): a transactional batch must
/// come with its transactional id, from the transaction's current producer, to a partition
/// added to the transaction. A batch of a fenced producer answers INVALID_PRODUCER_EPOCH (as
/// the partition's own epoch check would); any other mismatch INVALID_TXN_STATE.
///
/// Returns the partition's verification token, begun before asking the coordinator, which the
/// append must still find: a marker written meanwhile (the transaction ended while this batch
/// waited) removes it, and the batch is then refused instead of opening a transaction no
/// coordinator knows.
async fn verify_transactional(
    node: &Node,
    transactional_id: Option<&str>,
    p: &Partition,
    h: &crate::record::batch::BatchHeader,
) -> Result<u64, Refusal> {
    let Some(id) = transactional_id.filter(|t| !t.is_empty()) else {
        // Kafka's authorizer check on the (missing) transactional id refuses it.
        tracing::info!(topic = %p.topic, partition = p.index, "transactional batch without a transactional id");
        return Err(Refusal::code(
            ResponseError::TransactionalIdAuthorizationFailed,
        ));
    };
    let token = p.log().begin_verification(h.producer_id);
    if !node.cluster.config.txn.partition_verification {
        return Ok(token);
    }
    let verified = node
        .cluster
        .txns
        .verify_partition(
            id,
            h.producer_id,
            h.producer_epoch,
            (p.topic.clone(), p.index),
        )
        .await;
    if verified.is_err() {
        p.log().end_verification(h.producer_id, token);
    }
    verified.map(|()| token).map_err(|e| {
        tracing::info!(topic = %p.topic, partition = p.index, transactional_id = id, error = %e, "refused a transactional batch");
        match e {
            TxnError::ProducerFenced => Refusal::code(ResponseError::InvalidProducerEpoch),
            TxnError::NotCoordinator | TxnError::CoordinatorNotAvailable => {
                Refusal::code(ResponseError::NotEnoughReplicas)
            }
            _ => Refusal {
                // Kafka 4.4's words.
                message: Some("Partition was not added to the transaction".to_string()),
                ..Refusal::code(ResponseError::InvalidTxnState)
            },
        }
    })
}
