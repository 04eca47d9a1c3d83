//! Transactional offset commits (KIP-98, KIP-447): TxnOffsetCommit stages offsets under the
//! transaction's producer id; the transaction's marker in `__consumer_offsets` applies them
//! (COMMIT) or drops them (ABORT), as Kafka's `GroupMetadataManager` does with
//! `pendingTransactionalOffsetCommits`.
//!
//! The staged offsets are written as offset-commit records in one transactional batch of the
//! producer, and the marker after them, so replaying `__consumer_offsets` rebuilds both the
//! open transactions' offsets and the outcome of the closed ones. While a transaction holds
//! offsets for a partition, a `require_stable` OffsetFetch answers UNSTABLE_OFFSET_COMMIT.
//!
//! Each call hands one append to the caller ([`Coordinator::complete_staged_txn`] after it).

use indexmap::IndexMap;

use super::consumer::stale_commit;
use super::coordinator::Coordinator;
use super::offsets::OffsetCommitRequest;
use super::offsets::{validate_offset_commit, CommitPartition, CommittedOffset, PartitionResult};
use super::records::{DecodedRecord, OffsetsLogRecord, RecordError};
use super::state::{Group, GroupState};
use super::types::{Effects, TxnMarker};
use super::GroupError;

/// A TxnOffsetCommit: an OffsetCommit made inside a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnOffsetCommitRequest {
    /// The transaction's producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The token of [`Coordinator::begin_txn_verification`] taken before the transaction
    /// coordinator verified the commit; `None`: not verified (refused if a marker came since).
    pub verification: Option<u64>,
    /// The commit itself (`retention_ms` is not used).
    pub commit: OffsetCommitRequest,
}

/// What was handed to the caller to append, applied by [`Coordinator::complete_staged_txn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StagedTxn {
    /// Offsets of an open transaction.
    Offsets {
        producer_id: i64,
        group_id: String,
        offsets: Vec<((String, i32), CommittedOffset)>,
    },
    /// The end of a transaction.
    Marker { producer_id: i64, commit: bool },
}

impl Coordinator {
    /// Starts the verification of a TxnOffsetCommit of `producer_id` (KIP-890): the token
    /// [`Coordinator::txn_commit_offsets`] must still find, removed by the transaction's marker,
    /// so a commit delayed past its transaction's end is refused instead of staging offsets no
    /// marker will ever apply. Commits of the same transaction share it.
    pub fn begin_txn_verification(&mut self, producer_id: i64) -> u64 {
        let next = &mut self.next_txn_verification;
        *self
            .txn_verifications
            .entry(producer_id)
            .or_insert_with(|| {
                *next += 1;
                *next
            })
    }

    /// TxnOffsetCommit: validated as an OffsetCommit of the same group (a group-managed member
    /// must be current; a simple commit needs an Empty group), then staged under the producer.
    pub fn txn_commit_offsets(
        &mut self,
        now_ms: i64,
        req: TxnOffsetCommitRequest,
    ) -> (Vec<PartitionResult>, Effects) {
        self.arm_sweep(now_ms);
        let c = &req.commit;
        let fail = |error: GroupError, parts: &[CommitPartition]| {
            parts
                .iter()
                .map(|p| PartitionResult {
                    topic: p.topic.clone(),
                    partition: p.partition,
                    error: Some(error),
                })
                .collect::<Vec<_>>()
        };
        let guard = self.txn_verifications.get(&req.producer_id).copied();
        if req.verification.is_none_or(|t| guard != Some(t)) {
            return (
                fail(GroupError::InvalidTxnState, &c.partitions),
                Effects::default(),
            );
        }
        if !self.groups.contains_key(&c.group_id) {
            if c.generation_id >= 0 {
                return (
                    fail(GroupError::IllegalGeneration, &c.partitions),
                    Effects::default(),
                );
            }
            self.groups
                .insert(c.group_id.clone(), Group::new(&c.group_id, now_ms));
        }
        let Some(group) = self.groups.get_mut(&c.group_id) else {
            return (
                fail(GroupError::CoordinatorNotAvailable, &c.partitions),
                Effects::default(),
            );
        };
        let mut stale = Default::default();
        let refused = match validate_offset_commit(group, c, true) {
            Err(e) => Some(e),
            Ok(_) if group.state == GroupState::Dead => Some(GroupError::CoordinatorNotAvailable),
            Ok(s) => {
                stale = s;
                None
            }
        };
        if let Some(e) = refused {
            let out = fail(e, &c.partitions);
            self.drop_if_unused(&req.commit.group_id);
            return (out, Effects::default());
        }
        let mut results = Vec::with_capacity(c.partitions.len());
        let mut fx = Effects {
            txn_producer: Some((req.producer_id, req.producer_epoch)),
            ..Effects::default()
        };
        let mut staged = Vec::new();
        for p in &c.partitions {
            let error = if stale.contains(&(p.topic.clone(), p.partition)) {
                Some(stale_commit(true))
            } else if p.metadata.len() > self.config.max_metadata_size {
                Some(GroupError::OffsetMetadataTooLarge)
            } else {
                let committed = CommittedOffset {
                    offset: p.offset,
                    leader_epoch: p.leader_epoch,
                    metadata: p.metadata.clone(),
                    commit_timestamp_ms: now_ms,
                    expire_timestamp_ms: None,
                };
                fx.records.push(OffsetsLogRecord::offset_commit(
                    &c.group_id,
                    &p.topic,
                    p.partition,
                    Some(&committed.to_value()),
                ));
                staged.push(((p.topic.clone(), p.partition), committed));
                None
            };
            results.push(PartitionResult {
                topic: p.topic.clone(),
                partition: p.partition,
                error,
            });
        }
        if !staged.is_empty() {
            self.staged_txn = Some(StagedTxn::Offsets {
                producer_id: req.producer_id,
                group_id: c.group_id.clone(),
                offsets: staged,
            });
        }
        (results, fx)
    }

    /// Ends a transaction in this shard: the marker to append; the producer's staged offsets
    /// are applied (COMMIT) or dropped once it is stored.
    pub fn complete_transaction(&mut self, marker: TxnMarker) -> Effects {
        self.txn_verifications.remove(&marker.producer_id);
        self.staged_txn = Some(StagedTxn::Marker {
            producer_id: marker.producer_id,
            commit: marker.commit,
        });
        Effects {
            txn_marker: Some(marker),
            ..Effects::default()
        }
    }

    /// Applies (`stored`) or forgets what the last call staged.
    pub fn complete_staged_txn(&mut self, stored: bool) {
        match self.staged_txn.take() {
            Some(StagedTxn::Offsets {
                producer_id,
                group_id,
                offsets,
            }) if stored => {
                for (key, committed) in offsets {
                    self.stage_txn_offset(producer_id, &group_id, key, committed);
                }
            }
            Some(StagedTxn::Marker {
                producer_id,
                commit,
            }) if stored => self.end_txn_offsets(producer_id, commit),
            // Not stored: a group the commit created for itself goes again.
            Some(StagedTxn::Offsets { group_id, .. }) => self.drop_if_unused(&group_id),
            _ => {}
        }
    }

    /// Whether a transaction holds offsets for this partition of the group.
    pub(super) fn has_txn_offset(&self, group: &Group, key: &(String, i32)) -> bool {
        group.txn_offsets.values().any(|o| o.contains_key(key))
    }

    /// Open transactions holding offsets in this shard, by producer id, with their groups.
    pub fn open_transactions(&self) -> Vec<(i64, Vec<String>)> {
        let mut out: Vec<(i64, Vec<String>)> = self
            .txn_groups
            .iter()
            .map(|(pid, groups)| (*pid, groups.iter().cloned().collect()))
            .collect();
        out.sort();
        out
    }

    /// Replays a record of a transactional batch of `producer_id`.
    pub fn replay_txn_record(
        &mut self,
        now_ms: i64,
        producer_id: i64,
        record: &OffsetsLogRecord,
    ) -> Result<(), RecordError> {
        match record.decode()? {
            DecodedRecord::OffsetCommit {
                group,
                topic,
                partition,
                value: Some(value),
            } => {
                if !self.groups.contains_key(&group) {
                    self.groups
                        .insert(group.clone(), Group::new(&group, now_ms));
                }
                self.stage_txn_offset(producer_id, &group, (topic, partition), value.into());
                Ok(())
            }
            // Kafka writes nothing else transactionally; apply it as a plain record.
            _ => self.replay(now_ms, record),
        }
    }

    /// Replays a transaction marker.
    pub fn replay_marker(&mut self, producer_id: i64, commit: bool) {
        self.end_txn_offsets(producer_id, commit);
    }

    fn stage_txn_offset(
        &mut self,
        producer_id: i64,
        group_id: &str,
        key: (String, i32),
        committed: CommittedOffset,
    ) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        group
            .txn_offsets
            .entry(producer_id)
            .or_insert_with(IndexMap::new)
            .insert(key, committed);
        self.txn_groups
            .entry(producer_id)
            .or_default()
            .insert(group_id.to_string());
    }

    fn end_txn_offsets(&mut self, producer_id: i64, commit: bool) {
        let Some(groups) = self.txn_groups.remove(&producer_id) else {
            return;
        };
        for group_id in groups {
            let Some(group) = self.groups.get_mut(&group_id) else {
                continue;
            };
            if let Some(offsets) = group.txn_offsets.remove(&producer_id) {
                if commit {
                    group.offsets.extend(offsets);
                }
            }
            self.drop_if_unused(&group_id);
        }
    }
}
