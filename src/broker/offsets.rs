//! Offset queries and log-start changes: ListOffsets, OffsetForLeaderEpoch, DeleteRecords.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, ListOffsetsRequest, ListOffsetsResponse,
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};
use kafka_protocol::ResponseError;
use std::sync::Arc;

use super::{check_leader, Node, RequestContext};
use crate::topics::Partition;

/// ListOffsets special timestamps (Kafka's `ListOffsetsRequest`).
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

fn partition(node: &Node, topic: &str, index: i32) -> Result<Arc<Partition>, ResponseError> {
    node.cluster
        .topics
        .get(topic)
        .and_then(|t| t.partition(index))
        .ok_or(ResponseError::UnknownTopicOrPartition)
}

/// ListOffsets: earliest, latest, max timestamp, or the first offset at or after a timestamp.
pub fn list_offsets(
    node: &Node,
    req: ListOffsetsRequest,
    version: i16,
    ctx: &RequestContext,
) -> ListOffsetsResponse {
    // read_committed sees up to the last stable offset (Kafka's `lastFetchableOffset`).
    let read_committed = version >= 2 && req.isolation_level == 1;
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .into_iter()
                .map(|lp| {
                    let r = ListOffsetsPartitionResponse::default()
                        .with_partition_index(lp.partition_index);
                    let found = partition(node, &t.name, lp.partition_index).and_then(|p| {
                        check_leader(node, &p, lp.current_leader_epoch)?;
                        if let Some(e) = ctx.partition_fault(node, &t.name, lp.partition_index) {
                            return Err(e);
                        }
                        let log = p.log();
                        log.check_online().map_err(|e| e.code())?;
                        let fetchable = if read_committed {
                            log.last_stable_offset()
                        } else {
                            log.high_watermark()
                        };
                        let below = |found: Option<(i64, i64)>| {
                            found
                                .filter(|(o, _)| *o < fetchable)
                                .map_or((-1, -1), |(o, ts)| (o, ts))
                        };
                        let (offset, ts) = match lp.timestamp {
                            LATEST | LATEST_TIERED => (fetchable, -1),
                            EARLIEST | EARLIEST_LOCAL => (log.log_start_offset(), -1),
                            MAX_TIMESTAMP => below(log.max_timestamp()),
                            ts if ts >= 0 => below(log.offset_for_timestamp(ts)),
                            // Kafka 4.4 answers a special timestamp it does not know (below
                            // -5) with UNSUPPORTED_VERSION.
                            _ => return Err(ResponseError::UnsupportedVersion),
                        };
                        Ok((offset, ts, p.leader_epoch()))
                    });
                    match found {
                        Ok((offset, ts, epoch)) => {
                            let r = r.with_offset(offset).with_timestamp(ts);
                            if version >= 4 {
                                r.with_leader_epoch(if offset >= 0 { epoch } else { -1 })
                            } else {
                                r
                            }
                        }
                        Err(e) => r
                            .with_error_code(e.code())
                            .with_offset(-1)
                            .with_timestamp(-1),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// OffsetForLeaderEpoch: the end offset of the asked epoch (librdkafka calls this after
/// reconnecting, to detect log truncation).
pub fn offset_for_leader_epoch(
    node: &Node,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .into_iter()
                .map(|lp| {
                    let r = EpochEndOffset::default().with_partition(lp.partition);
                    match partition(node, &t.topic, lp.partition).and_then(|p| {
                        check_leader(node, &p, lp.current_leader_epoch)?;
                        let log = p.log();
                        log.check_online().map_err(|e| e.code())?;
                        Ok(log.end_offset_for_epoch(lp.leader_epoch))
                    }) {
                        Ok((epoch, end)) => r.with_leader_epoch(epoch).with_end_offset(end),
                        Err(e) => r
                            .with_error_code(e.code())
                            .with_leader_epoch(-1)
                            .with_end_offset(-1),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// DeleteRecords: advances the log start offset (-1 means the high watermark) and deletes
/// whole segments below it.
pub fn delete_records(node: &Node, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let internal = node.cluster.topics.get(&t.name).is_some_and(|t| t.internal);
            let partitions = t
                .partitions
                .into_iter()
                .map(|dp| {
                    let r = DeleteRecordsPartitionResult::default()
                        .with_partition_index(dp.partition_index);
                    let outcome = if internal {
                        Err(ResponseError::TopicAuthorizationFailed)
                    } else {
                        partition(node, &t.name, dp.partition_index).and_then(|p| {
                            check_leader(node, &p, -1)?;
                            let mut log = p.log();
                            let target = if dp.offset == -1 {
                                log.high_watermark()
                            } else {
                                dp.offset
                            };
                            if target < 0 {
                                return Err(ResponseError::OffsetOutOfRange);
                            }
                            log.delete_records_before(target).map_err(|e| e.code())
                        })
                    };
                    match outcome {
                        Ok(low) => r.with_low_watermark(low),
                        Err(e) => r.with_error_code(e.code()).with_low_watermark(-1),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}
