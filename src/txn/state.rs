//! A transactional id's state (Kafka's `TransactionState` and `TransactionMetadata`).
//!
//! # States and transitions
//!
//! ```text
//!                 AddPartitions/AddOffsets
//!   Empty ───────────────────────────────────────────> Ongoing <──┐ more partitions
//!     ^  ^                                              │  │  └───┘
//!     │  │ InitProducerId (epoch + 1)          EndTxn   │  │ EndTxn(abort), timeout, or
//!     │  │                                   (commit)   │  │ InitProducerId fencing (epoch + 1)
//!     │  │                                              v  v
//!     │  │                                PrepareCommit    PrepareAbort
//!     │  │                                      │ markers      │ markers
//!     │  │                                      v  written     v  written
//!     │  └──────────────────────────── CompleteCommit    CompleteAbort
//!     │                                  │  AddPartitions: Ongoing again │
//!     └────────── InitProducerId ────────┴────────────────────────────────┘
//!
//!   Empty / CompleteCommit / CompleteAbort ── transactional.id.expiration.ms ──> Dead (removed)
//! ```
//!
//! - Ongoing may be entered from Empty, Ongoing, CompleteCommit or CompleteAbort.
//! - PrepareCommit only from Ongoing; PrepareAbort from Ongoing (or PrepareEpochFence, Kafka's
//!   transient state while the epoch is bumped to fence an ongoing transaction: here the bump
//!   and the move to PrepareAbort are one step, so PrepareEpochFence is never stored).
//! - CompleteCommit / CompleteAbort only from their Prepare state, once every marker is written.
//! - Empty from Empty, CompleteCommit or CompleteAbort (InitProducerId); Dead from those three
//!   (expiry).

use std::collections::BTreeSet;

/// A transaction's state, with Kafka's ids (the `__transaction_state` value's status byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// No transaction: right after InitProducerId.
    Empty,
    /// Partitions were added; records may be written.
    Ongoing,
    /// EndTxn(commit) arrived; markers are being written.
    PrepareCommit,
    /// EndTxn(abort), a timeout or fencing; markers are being written.
    PrepareAbort,
    /// Every COMMIT marker is written.
    CompleteCommit,
    /// Every ABORT marker is written.
    CompleteAbort,
    /// Expired; about to be removed.
    Dead,
    /// Fencing in progress (Kafka's transient state; not used here, see the module doc).
    PrepareEpochFence,
}

impl TxnState {
    /// Every state, in id order.
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// Kafka's id.
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    /// The state with Kafka's id `id`.
    pub fn from_id(id: i8) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Kafka's name (DescribeTransactions, ListTransactions' filter).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The state named `name`.
    pub fn from_name(name: &str) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether `self -> next` is one of the transitions of the module doc.
    pub fn can_move_to(self, next: TxnState) -> bool {
        use TxnState::*;
        match next {
            Empty => matches!(self, Empty | CompleteCommit | CompleteAbort),
            Ongoing => matches!(self, Empty | Ongoing | CompleteCommit | CompleteAbort),
            PrepareCommit => self == Ongoing,
            PrepareAbort => matches!(self, Ongoing | PrepareEpochFence),
            CompleteCommit => self == PrepareCommit,
            CompleteAbort => self == PrepareAbort,
            Dead => matches!(self, Empty | CompleteCommit | CompleteAbort),
            PrepareEpochFence => self == Ongoing,
        }
    }

    /// PrepareCommit or PrepareAbort: markers are (to be) written.
    pub fn is_prepare(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// One transactional id's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// Its current epoch (-1 before the first InitProducerId completes).
    pub producer_epoch: i16,
    /// `transaction.timeout.ms` of the producer.
    pub timeout_ms: i32,
    /// The state.
    pub state: TxnState,
    /// Partitions of the ongoing (or completing) transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// When the transaction started (-1: none).
    pub start_ms: i64,
    /// Last change.
    pub last_update_ms: i64,
    /// Markers of the Prepare state are being written (not persisted: after a restart they are
    /// written again).
    pub markers_in_flight: bool,
    /// When markers that failed to be written are tried again (not persisted: 0 after load).
    pub markers_retry_ms: i64,
    /// The (producer id, epoch) the last InitProducerId bumped from, so a producer retrying that
    /// call (its answer lost) gets the same answer (KIP-360; in memory only, as Kafka's).
    pub previous: Option<(i64, i16)>,
}

impl TxnMetadata {
    /// Whether the open transaction has run past its timeout at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && self.start_ms >= 0
            && now_ms.saturating_sub(self.start_ms) > i64::from(self.timeout_ms)
    }
}
