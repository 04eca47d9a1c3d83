//! The classic consumer-group coordinator (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit/Fetch/Delete, ListGroups, DescribeGroups, DeleteGroups), following Apache
//! Kafka's `GroupCoordinator` semantics.
//!
//! It is a pure state machine: no I/O, no tokio, no clock. Every call takes `now_ms`; requests
//! Kafka parks (JoinGroup, SyncGroup) carry a caller-chosen [`ReplyId`] and are answered through
//! the returned [`Effects`], possibly by a later call. Deadlines (session expiry, rebalance
//! timeout, initial rebalance delay, offset retention) fire in [`Coordinator::tick`]; the owner
//! sleeps until [`Coordinator::next_deadline`].
//!
//! Persistence is the caller's: [`Effects::records`] are [`OffsetsLogRecord`]s in Kafka's own
//! `__consumer_offsets` format ([`records`]) to append before sending the replies, and
//! [`Coordinator::replay`] rebuilds groups and offsets from them on start. This module opens no
//! files and knows nothing of the network or of topics.
//!
//! - [`state`]: a group, its members, and [`GroupState`] with the per-state API table.
//! - `coordinator`: [`Coordinator`] and the group protocol (join, sync, heartbeat, leave,
//!   expiry, describe, list, delete, replay).
//! - `rebalance`: the join/sync/membership transitions of one group, as free functions.
//! - `offsets`: offset commit (applied on confirmation), fetch, delete, retention.
//! - [`records`]: the `__consumer_offsets` key/value codec and [`partition_for`].
//! - `txn_offsets`: TxnOffsetCommit, staged under the producer until its transaction's marker.
//! - `types`: the plain request and answer types.
//! - `error`: [`GroupError`] and its Kafka error codes.
//! - [`consumer`]: KIP-848 consumer groups (ConsumerGroupHeartbeat, server-side assignors),
//!   living in the same group map and sharing its offsets.

pub mod consumer;
mod coordinator;
mod error;
mod offsets;
mod rebalance;
pub mod records;
pub mod state;
mod txn_offsets;
mod types;

#[cfg(test)]
mod test_util;

pub use crate::config::GroupConfig;
pub use coordinator::Coordinator;
pub use error::GroupError;
pub use offsets::{
    CommitOutcome, CommitPartition, CommitToken, CommittedOffset, FetchedOffset,
    OffsetCommitRequest, OffsetDeleteOutcome, PartitionResult,
};
pub use records::{partition_for, OffsetsLogRecord, RecordError};
pub use state::GroupState;
pub use txn_offsets::TxnOffsetCommitRequest;
pub use types::{
    Effects, GroupDescription, GroupListing, HeartbeatRequest, JoinMember, JoinRequest, JoinResult,
    LeaveMember, LeaveRequest, LeaveResult, MemberDescription, Reply, ReplyId, SyncRequest,
    SyncResult, TxnMarker,
};
