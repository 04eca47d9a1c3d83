//! InitProducerId: a fresh producer id for an idempotent producer, or the transaction
//! coordinator's answer for a transactional id (epoch bump, fencing).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::transactions::txn_code;
use super::Node;

/// Answers InitProducerId.
pub async fn init_producer_id(
    node: &Node,
    req: InitProducerIdRequest,
    version: i16,
) -> InitProducerIdResponse {
    let fail = |e: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(e.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    // As Kafka's request handler checks: an id without an epoch (or the reverse) is malformed.
    let expected = match (req.producer_id.0, req.producer_epoch) {
        (-1, -1) => None,
        (-1, _) | (_, -1) => return fail(ResponseError::InvalidRequest),
        (pid, epoch) => Some((pid, epoch)),
    };
    match req.transactional_id.as_ref().map(|t| t.as_str()) {
        None => {}
        // Kafka's transaction coordinator refuses an empty transactional id; one longer than
        // `__transaction_state`'s key format holds (i16 length) is refused too.
        Some("") => return fail(ResponseError::InvalidRequest),
        Some(t) if t.len() > i16::MAX as usize => return fail(ResponseError::InvalidRequest),
        Some(t) => {
            return match node
                .cluster
                .txns
                .init_producer_id(t, req.transaction_timeout_ms, expected)
                .await
            {
                Ok(r) => InitProducerIdResponse::default()
                    .with_producer_id(ProducerId(r.producer_id))
                    .with_producer_epoch(r.producer_epoch),
                Err(e) => fail(txn_code(e, version, 4)),
            };
        }
    }
    // Without a transactional id Kafka hands out a fresh producer id every time, whatever the
    // request names (an idempotent producer's KIP-360 epoch bump is a new id at epoch 0).
    match node.cluster.producer_ids.allocate() {
        Ok(id) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => {
            tracing::error!(error = %e, "cannot persist the producer id block");
            fail(ResponseError::KafkaStorageError)
        }
    }
}
