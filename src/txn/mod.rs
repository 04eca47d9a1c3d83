//! The transaction coordinator (KIP-98), following Apache Kafka's `TransactionCoordinator` and
//! `TransactionMetadata`, without the parts only a multi-broker cluster needs.
//!
//! A pure state machine: no I/O, no tokio, no clock. Every call takes `now_ms`; persistence is
//! the caller's: each call returns the [`records`] to append to its `__transaction_state`
//! partition (Kafka's own key/value format) and, when a transaction ends, a [`MarkerJob`]: the
//! COMMIT or ABORT markers to write to every partition of the transaction. The caller writes
//! them, then calls [`TxnCoordinator::complete`]; until then the transaction is in PrepareCommit
//! or PrepareAbort and its producer's next request answers CONCURRENT_TRANSACTIONS.
//! [`TxnCoordinator::replay`] rebuilds the state on start; transactions found in a Prepare state
//! then have their markers written again ([`TxnCoordinator::take_stalled_jobs`]).
//!
//! This is transaction version 1 (KIP-890 part 1): EndTxn keeps the epoch, and the broker checks
//! that a transactional produce goes to a partition added to the transaction
//! ([`TxnCoordinator::verify_partition`]). Part 2 is not implemented and the `transaction.version`
//! feature is not advertised, so clients use the version 1 protocol.
//!
//! - [`state`]: [`TxnState`] with its transitions, and [`TxnMetadata`].
//! - `coordinator`: [`TxnCoordinator`], one per `__transaction_state` partition.
//! - [`records`]: the `__transaction_state` key/value codec.
//! - `error`: [`TxnError`] and its Kafka error codes.

mod coordinator;
mod error;
pub mod records;
pub mod state;

#[cfg(test)]
mod tests;

pub use crate::config::TxnConfig;
pub use coordinator::{InitResult, ListFilter, MarkerJob, TxnCoordinator, TxnOutcome};
pub use error::TxnError;
pub use records::TxnLogRecord;
pub use state::{TxnMetadata, TxnState};
