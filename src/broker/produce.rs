//! Produce: validate each partition's record batches outside any lock (length, magic, CRC-32C,
//! record count), then append under that partition's own lock, which assigns offsets by
//! rewriting the batch headers in place. Errors are per partition; acks=0 gets no response.
//!
//! Copies of batch bytes on this path: socket -> connection buffer (one read), frame ->
//! mutable append buffer (one memcpy, because the frame is shared with the decoded request),
//! buffer -> file (one write).

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::ResponseError;

use super::{sb, Broker};
use crate::log::LogError;
use crate::protocol::batch;
use crate::topics::{Partition, TopicError};

/// Answers (or, for acks=0, just performs) a Produce request.
pub async fn handle(broker: &Broker, req: ProduceRequest, version: i16) -> Option<ProduceResponse> {
    let acks = req.acks;
    let mut responses = Vec::with_capacity(req.topic_data.len());
    let mut appended = false;
    for td in req.topic_data {
        let topic = if version >= 13 {
            broker
                .topics
                .get_by_id(td.topic_id)
                .ok_or(TopicError::UnknownId(td.topic_id))
        } else {
            broker.topic_or_create(&td.name, true)
        };
        let parts = td
            .partition_data
            .into_iter()
            .map(|pd| {
                let mut r = PartitionProduceResponse::default()
                    .with_index(pd.index)
                    .with_base_offset(-1)
                    .with_log_append_time_ms(-1)
                    .with_log_start_offset(-1);
                let outcome = if !matches!(acks, -1..=1) {
                    Err((ResponseError::InvalidRequiredAcks, None))
                } else {
                    match &topic {
                        Err(e) => Err((e.code(), None)),
                        Ok(t) if t.internal => Err((ResponseError::InvalidTopicException, None)),
                        Ok(t) => match t.partition(pd.index) {
                            None => Err((ResponseError::UnknownTopicOrPartition, None)),
                            Some(_)
                                if let Some(e) = broker.faults.partition_error(
                                    ApiKey::Produce,
                                    &t.name,
                                    pd.index,
                                ) =>
                            {
                                Err((e, Some("injected fault".to_string())))
                            }
                            Some(p) => append(
                                &p,
                                t.max_message_bytes(),
                                pd.records.as_deref().unwrap_or(&[]),
                            ),
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
                    Err((code, msg)) => {
                        r = r.with_error_code(code.code());
                        if version >= 8 {
                            r = r.with_error_message(msg.map(sb));
                        }
                    }
                }
                r
            })
            .collect();
        let mut tr = TopicProduceResponse::default().with_partition_responses(parts);
        if version >= 13 {
            tr = tr.with_topic_id(td.topic_id);
        } else {
            tr = tr.with_name(TopicName(td.name.0));
        }
        responses.push(tr);
    }
    if appended {
        broker.notify_appended();
    }
    (acks != 0).then(|| ProduceResponse::default().with_responses(responses))
}

fn append(
    p: &Partition,
    max: usize,
    records: &[u8],
) -> Result<crate::log::AppendInfo, (ResponseError, Option<String>)> {
    let headers = batch::validate_batches(records, max).map_err(|e| {
        tracing::info!(topic = %p.topic, partition = p.index, error = %e, "rejected produce batch");
        (e.code(), Some(e.to_string()))
    })?;
    let now = super::now_ms();
    let result = p.log().append(records, &headers, p.leader_epoch, now);
    result.map_err(|e: LogError| {
        tracing::error!(topic = %p.topic, partition = p.index, error = %e, "append failed");
        (e.code(), Some(e.to_string()))
    })
}
