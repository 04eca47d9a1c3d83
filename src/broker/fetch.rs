//! Fetch: sessionless (session id 0, which every client accepts), long-polling on an append
//! notification until `min_bytes` are available or `max_wait_ms` passes. Partition locks are
//! held only to locate the bytes (a file slice). Slices of at least [`SEND_FROM_FILE_MIN`] bytes
//! stay in their files and are sent with `sendfile` by the connection
//! ([`crate::protocol::fetch_frame`]); smaller ones are read into the response after the lock is
//! released. Either way the bytes go out exactly as stored.
//!
//! `isolation_level=1` (read_committed) stops at each partition's last stable offset and lists
//! the aborted transactions overlapping the records returned; read_uncommitted returns
//! everything up to the high watermark and no list (the client filters nothing).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId, TopicName};
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::{check_leader, sb, LeaderHints, Node, RequestContext};
use crate::log::LogError;
use crate::protocol::fetch_frame::FileRecords;
use crate::record::FileSlice;
use crate::topics::{Partition, Topic};

/// Records of at least this many bytes are sent from their file by the kernel; smaller ones
/// are copied into the response, which costs less than a `sendfile` call each and keeps a
/// consumer's small fetches to one write.
pub const SEND_FROM_FILE_MIN: usize = 32 * 1024;

/// A Fetch answer: the response, with the records of the partitions in `files` left out
/// (`None`) to be sent from their segment files.
#[derive(Debug)]
pub struct FetchReply {
    /// The response body.
    pub response: FetchResponse,
    /// Partitions whose records are sent from a file, sorted by topic then partition index.
    pub files: Vec<FileRecords>,
}

/// What one partition will answer, before its bytes are read.
struct Planned {
    /// The response entry, records still empty.
    data: PartitionData,
    /// Where the records are, if any.
    slice: Option<FileSlice>,
}

/// Answers a Fetch request, parking it until data arrives, the wait ends or the broker stops.
pub async fn handle(
    node: &Node,
    req: FetchRequest,
    version: i16,
    ctx: &RequestContext,
) -> FetchReply {
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let deadline = tokio::time::Instant::now() + wait;
    let mut appends = node.cluster.subscribe_appends();
    let mut stopping = node.cluster.subscribe_stopping();
    // Resolve topics once: by id from v13, by name before.
    let topics: Vec<(
        Option<Arc<Topic>>,
        &kafka_protocol::messages::fetch_request::FetchTopic,
    )> = req
        .topics
        .iter()
        .map(|t| {
            let topic = if version >= 13 {
                node.cluster.topics.get_by_id(t.topic_id)
            } else {
                node.cluster.topics.get(&t.topic)
            };
            (topic, t)
        })
        .collect();
    loop {
        appends.borrow_and_update();
        let mut hints = LeaderHints::default();
        let (plan, available, errored) = plan(node, ctx, &topics, &req, version, &mut hints);
        let done = available >= i64::from(req.min_bytes.max(0))
            || errored
            || tokio::time::Instant::now() >= deadline
            || *stopping.borrow();
        if done {
            for ((topic, _), (_, _, parts)) in topics.iter().zip(&plan) {
                if let Some(t) = topic {
                    let bytes: usize = parts
                        .iter()
                        .filter_map(|p| p.slice.as_ref())
                        .map(|s| s.len)
                        .sum();
                    t.traffic.fetched(bytes);
                }
            }
            let mut reply = read(plan);
            if version >= 16 {
                reply.response.node_endpoints = hints
                    .endpoints(node)
                    .into_iter()
                    .map(|n| {
                        NodeEndpoint::default()
                            .with_node_id(BrokerId(n.id))
                            .with_host(sb(n.host))
                            .with_port(n.port)
                    })
                    .collect();
            }
            return reply;
        }
        tokio::select! {
            _ = appends.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = stopping.changed() => {}
        }
    }
}

type TopicPlan = (Option<TopicName>, Uuid, Vec<Planned>);

/// Locates the bytes for every partition; returns the plan, bytes available, and whether any
/// partition has an error (which answers the fetch at once, as Kafka does).
fn plan(
    node: &Node,
    ctx: &RequestContext,
    topics: &[(
        Option<Arc<Topic>>,
        &kafka_protocol::messages::fetch_request::FetchTopic,
    )],
    req: &FetchRequest,
    version: i16,
    hints: &mut LeaderHints,
) -> (Vec<TopicPlan>, i64, bool) {
    let mut remaining = i64::from(req.max_bytes.max(0));
    let read_committed = req.isolation_level == 1;
    let mut available = 0i64;
    let mut errored = false;
    let mut out = Vec::with_capacity(topics.len());
    for (topic, ft) in topics {
        let mut parts = Vec::with_capacity(ft.partitions.len());
        for fp in &ft.partitions {
            let mut data = PartitionData::default()
                .with_partition_index(fp.partition)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1)
                .with_aborted_transactions(None);
            let partition: Option<Arc<Partition>> =
                topic.as_ref().and_then(|t| t.partition(fp.partition));
            let Some(p) = partition else {
                let code = if version >= 13 && topic.is_none() {
                    ResponseError::UnknownTopicId
                } else {
                    ResponseError::UnknownTopicOrPartition
                };
                // Kafka's error-only partition answer carries an empty aborted list.
                data = data
                    .with_error_code(code.code())
                    .with_aborted_transactions(Some(Vec::new()));
                errored = true;
                parts.push(Planned { data, slice: None });
                continue;
            };
            let refused = check_leader(node, &p, fp.current_leader_epoch)
                .err()
                .or_else(|| ctx.partition_fault(node, &p.topic, p.index));
            if let Some(e) = refused {
                // KIP-951: both tell the client its view of the leader is out of date.
                let moved = matches!(
                    e,
                    ResponseError::NotLeaderOrFollower | ResponseError::FencedLeaderEpoch
                );
                if moved && version >= 12 {
                    let (leader, epoch) = hints.note(&p);
                    data = data.with_current_leader(
                        LeaderIdAndEpoch::default()
                            .with_leader_id(BrokerId(leader))
                            .with_leader_epoch(epoch),
                    );
                }
                data = data
                    .with_error_code(e.code())
                    .with_aborted_transactions(Some(Vec::new()));
                errored = true;
                parts.push(Planned { data, slice: None });
                continue;
            }
            let limit = i64::from(fp.partition_max_bytes.max(0)).min(remaining);
            let first_with_data = available == 0;
            let log = p.log();
            let (hw, start) = (log.high_watermark(), log.log_start_offset());
            data = data
                .with_high_watermark(hw)
                .with_last_stable_offset(log.last_stable_offset())
                .with_log_start_offset(start);
            let slice = if limit <= 0 && !first_with_data {
                None
            } else {
                let max = limit.max(1) as usize;
                let read = if read_committed {
                    // Only below the LSO, with the aborted transactions it overlaps.
                    log.read_committed(fp.fetch_offset, max).map(|r| {
                        data.aborted_transactions = Some(aborted_list(r.aborted));
                        r.slice
                    })
                } else {
                    log.read(fp.fetch_offset, max)
                };
                match read {
                    Ok(info) => Some(info),
                    Err(e @ LogError::OffsetOutOfRange { .. }) => {
                        tracing::debug!(topic = %p.topic, partition = p.index, error = %e, "fetch out of range");
                        // Kafka answers an out-of-range fetch without the partition's offsets.
                        data = data
                            .with_error_code(ResponseError::OffsetOutOfRange.code())
                            .with_high_watermark(-1)
                            .with_last_stable_offset(-1)
                            .with_log_start_offset(-1);
                        errored = true;
                        None
                    }
                    Err(e) => {
                        tracing::error!(topic = %p.topic, partition = p.index, error = %e, "fetch failed");
                        data = data.with_error_code(e.code().code());
                        errored = true;
                        None
                    }
                }
            };
            drop(log);
            // KIP-74: only the first partition with data may exceed the limits, by one batch.
            let slice = slice.filter(|s| s.len > 0 && (first_with_data || s.len as i64 <= limit));
            if let Some(s) = &slice {
                available += s.len as i64;
                remaining -= s.len as i64;
            }
            parts.push(Planned { data, slice });
        }
        let name = (version < 13).then(|| ft.topic.clone());
        out.push((name, ft.topic_id, parts));
    }
    (out, available, errored)
}

/// Kafka's AbortedTransaction entries.
fn aborted_list(aborted: Vec<(i64, i64)>) -> Vec<AbortedTransaction> {
    aborted
        .into_iter()
        .map(|(pid, first)| {
            AbortedTransaction::default()
                .with_producer_id(ProducerId(pid))
                .with_first_offset(first)
        })
        .collect()
}

/// Reads the planned bytes that are copied (no partition lock held) and builds the response.
fn read(plan: Vec<TopicPlan>) -> FetchReply {
    let mut files = Vec::new();
    let responses = plan
        .into_iter()
        .enumerate()
        .map(|(ti, (name, id, parts))| {
            let partitions = parts
                .into_iter()
                .enumerate()
                .map(|(pi, Planned { data, slice })| match slice {
                    None => data.with_records(Some(Bytes::new())),
                    Some(s) if s.len >= SEND_FROM_FILE_MIN => {
                        files.push(FileRecords {
                            topic: ti,
                            partition: pi,
                            slice: s,
                        });
                        data.with_records(None)
                    }
                    Some(s) => match s.read_bytes() {
                        Ok(b) => data.with_records(Some(b)),
                        Err(e) => {
                            tracing::error!(error = %e, "reading log bytes failed");
                            data.with_error_code(ResponseError::KafkaStorageError.code())
                                .with_records(Some(Bytes::new()))
                        }
                    },
                })
                .collect();
            let mut t = FetchableTopicResponse::default().with_partitions(partitions);
            match name {
                Some(n) => t = t.with_topic(n),
                None => t = t.with_topic_id(id),
            }
            t
        })
        .collect();
    FetchReply {
        response: FetchResponse::default()
            .with_session_id(0)
            .with_responses(responses),
        files,
    }
}
