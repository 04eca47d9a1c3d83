//! Errors the transaction coordinator answers clients with, each mapped to its Kafka code.

use kafka_protocol::ResponseError;

/// Why the coordinator refused a transactional request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// `transaction.timeout.ms` above `transaction.max.timeout.ms` (or not positive).
    #[error("the transaction timeout is larger than transaction.max.timeout.ms")]
    InvalidTransactionTimeout,
    /// The transactional id is unknown, or maps to another producer id.
    #[error("the producer id does not match the transactional id")]
    InvalidProducerIdMapping,
    /// A newer producer with the same transactional id exists (its epoch is higher).
    #[error("a newer producer with the same transactional id has fenced this one")]
    ProducerFenced,
    /// The previous transaction is still completing (markers being written); retry.
    #[error("the previous transaction is still completing")]
    ConcurrentTransactions,
    /// The request does not fit the transaction's state (EndTxn with no transaction, commit
    /// after abort, a produce to a partition not in the transaction).
    #[error("the request does not fit the transaction's state")]
    InvalidTxnState,
    /// The transactional id is not known (DescribeTransactions).
    #[error("the transactional id is not known")]
    TransactionalIdNotFound,
    /// No producer id could be allocated (the allocator's file could not be written).
    #[error("no producer id could be allocated")]
    ProducerIdUnavailable,
    /// The coordinator shard is not loaded here.
    #[error("this broker is not the transaction coordinator")]
    NotCoordinator,
    /// The coordinator's log could not be written; the client retries.
    #[error("the coordinator is not available")]
    CoordinatorNotAvailable,
}

impl TxnError {
    /// The Kafka error code.
    pub fn code(self) -> ResponseError {
        match self {
            TxnError::InvalidTransactionTimeout => ResponseError::InvalidTransactionTimeout,
            TxnError::InvalidProducerIdMapping => ResponseError::InvalidProducerIdMapping,
            TxnError::ProducerFenced => ResponseError::ProducerFenced,
            TxnError::ConcurrentTransactions => ResponseError::ConcurrentTransactions,
            TxnError::InvalidTxnState => ResponseError::InvalidTxnState,
            TxnError::TransactionalIdNotFound => ResponseError::TransactionalIdNotFound,
            TxnError::ProducerIdUnavailable => ResponseError::UnknownServerError,
            TxnError::NotCoordinator => ResponseError::NotCoordinator,
            TxnError::CoordinatorNotAvailable => ResponseError::CoordinatorNotAvailable,
        }
    }
}
