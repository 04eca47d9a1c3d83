//! Coordinators as shards of one runtime over internal topics (Kafka 4's coordinator runtime):
//!
//! - [`runtime`]: [`CoordinatorRuntime`], the generic part. Shards keyed by partition of an
//!   internal topic, each with its own lock and pure state machine ([`Shard`]), replaying its
//!   partition on load, appending records before replying, one deadline timer for all, blocking
//!   I/O on tokio's blocking pool, shards loaded and unloaded as leadership moves.
//! - [`groups`]: the classic group coordinator, the first shard type, over
//!   `__consumer_offsets`.
//! - [`transactions`]: the transaction coordinator, the second, over `__transaction_state`,
//!   and the writing of transaction markers.
//!
//! The state machines themselves live in [`crate::group`] and [`crate::txn`] and know nothing
//! of the runtime; this module knows nothing of the wire protocol.

pub mod groups;
pub mod runtime;
pub mod transactions;

pub use groups::{GroupCoordinator, OFFSETS_TOPIC};
pub use runtime::{
    CoordinatorRuntime, InternalTopic, NotLoaded, Replayed, Shard, ShardEffects, ShardRecord,
};
pub use transactions::{TransactionCoordinator, TRANSACTION_STATE_TOPIC};
