//! InitProducerId for idempotent producers (no transactional id yet).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::Node;

/// Allocates a producer id (epoch 0), or, when the client names its current id and epoch
/// (KIP-360, v3+), bumps the epoch; at the epoch limit a new id is allocated.
pub fn init_producer_id(
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
    if req.transactional_id.as_ref().is_some_and(|t| !t.is_empty()) {
        tracing::warn!(transactional_id = ?req.transactional_id, "transactions are not supported yet");
        return fail(ResponseError::TransactionalIdAuthorizationFailed);
    }
    let (current, epoch) = (req.producer_id.0, req.producer_epoch);
    if version >= 3 && current >= 0 && (0..i16::MAX - 1).contains(&epoch) {
        return InitProducerIdResponse::default()
            .with_producer_id(ProducerId(current))
            .with_producer_epoch(epoch + 1);
    }
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
