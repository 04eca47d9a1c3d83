//! InitProducerId for idempotent producers (no transactional id yet).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::Node;

/// Allocates a producer id (epoch 0) for an idempotent producer.
pub fn init_producer_id(node: &Node, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let fail = |e: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(e.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    // As Kafka's request handler checks: an id without an epoch (or the reverse) is malformed.
    match (req.producer_id.0, req.producer_epoch) {
        (-1, -1) => {}
        (-1, _) | (_, -1) => return fail(ResponseError::InvalidRequest),
        _ => {}
    }
    match req.transactional_id.as_ref().map(|t| t.as_str()) {
        None => {}
        // Kafka's transaction coordinator refuses an empty transactional id.
        Some("") => return fail(ResponseError::InvalidRequest),
        Some(t) => {
            tracing::warn!(transactional_id = t, "transactions are not supported yet");
            return fail(ResponseError::TransactionalIdAuthorizationFailed);
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
