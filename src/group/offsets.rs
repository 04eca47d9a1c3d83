//! Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete and retention.
//!
//! A commit is applied to the in-memory map only once the caller confirms that its records
//! reached the log ([`Coordinator::complete_commit`]), as Kafka applies a commit after the
//! append succeeded. Until then the partitions are "pending": a `require_stable` OffsetFetch
//! answers UNSTABLE_OFFSET_COMMIT for them, and retention leaves them alone.

use std::collections::HashSet;

use super::consumer::{stale_commit, validate_consumer_offset_commit};
use super::coordinator::Coordinator;
use super::rebalance::validate_current_member;
use super::records::{OffsetCommitValue, OffsetsLogRecord};
use super::state::{Group, GroupState, CONSUMER_PROTOCOL_TYPE};
use super::types::Effects;
use super::GroupError;

/// One committed offset of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// Next offset to consume.
    pub offset: i64,
    /// Leader epoch of the last consumed record, -1 when unknown.
    pub leader_epoch: i32,
    /// Client metadata stored with the offset.
    pub metadata: String,
    /// When it was committed: the base of retention for subscribed consumer groups.
    pub commit_timestamp_ms: i64,
    /// Explicit expiry from OffsetCommit v2-v4 `retention_time_ms`, which overrides retention.
    pub expire_timestamp_ms: Option<i64>,
}

impl From<OffsetCommitValue> for CommittedOffset {
    fn from(v: OffsetCommitValue) -> Self {
        CommittedOffset {
            offset: v.offset,
            leader_epoch: v.leader_epoch,
            metadata: v.metadata,
            commit_timestamp_ms: v.commit_timestamp,
            expire_timestamp_ms: v.expire_timestamp,
        }
    }
}

impl CommittedOffset {
    pub(super) fn to_value(&self) -> OffsetCommitValue {
        OffsetCommitValue {
            offset: self.offset,
            leader_epoch: self.leader_epoch,
            metadata: self.metadata.clone(),
            commit_timestamp: self.commit_timestamp_ms,
            expire_timestamp: self.expire_timestamp_ms,
        }
    }
}

/// One partition of an OffsetCommit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Offset to commit.
    pub offset: i64,
    /// Leader epoch, -1 when the client sent none.
    pub leader_epoch: i32,
    /// Metadata; a null from the client is the empty string, as in Kafka.
    pub metadata: String,
}

/// An OffsetCommit request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetCommitRequest {
    /// The group.
    pub group_id: String,
    /// The member's generation, or -1 for a simple (non-group-managed) commit.
    pub generation_id: i32,
    /// The member id, empty for a simple commit.
    pub member_id: String,
    /// The member's static id.
    pub group_instance_id: Option<String>,
    /// v2-v4 `retention_time_ms` when not -1: the offsets expire this long after the commit.
    pub retention_ms: Option<i64>,
    /// Partitions to commit.
    pub partitions: Vec<CommitPartition>,
    /// The OffsetCommit version (consumer-protocol members must use v9+).
    pub api_version: i16,
}

/// Identifies a commit whose records the caller is appending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommitToken(pub u64);

/// A commit handed to the caller, applied on confirmation.
#[derive(Debug, Clone)]
pub(super) struct PendingCommit {
    /// The group committed to.
    pub(super) group_id: String,
    /// The offsets to apply once persisted.
    pub(super) offsets: Vec<((String, i32), CommittedOffset)>,
}

/// Per-partition outcome of an OffsetCommit or OffsetDelete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionResult {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// `None` when accepted.
    pub error: Option<GroupError>,
}

/// What [`Coordinator::commit_offsets`] asks of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CommitOutcome {
    /// Per-partition answer, valid once the records are persisted (if the append fails, the
    /// caller answers its own error for the partitions without one).
    pub results: Vec<PartitionResult>,
    /// Records to append.
    pub effects: Effects,
    /// Pass to [`Coordinator::complete_commit`] after the append; `None` if nothing to append.
    pub token: Option<CommitToken>,
}

/// One partition of an OffsetFetch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Committed offset, -1 when none.
    pub offset: i64,
    /// Leader epoch, -1 when none.
    pub leader_epoch: i32,
    /// Metadata, empty when none.
    pub metadata: String,
    /// UNSTABLE_OFFSET_COMMIT for a pending commit under `require_stable`.
    pub error: Option<GroupError>,
}

/// What [`Coordinator::delete_offsets`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct OffsetDeleteOutcome {
    /// Group-level error (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP); partitions are then empty.
    pub error: Option<GroupError>,
    /// Per-partition answers.
    pub partitions: Vec<PartitionResult>,
    /// Tombstones to append.
    pub effects: Effects,
}

impl Coordinator {
    /// OffsetCommit. Validates like Kafka's `validateOffsetCommit` and returns the records to
    /// append; the offsets become visible after [`Coordinator::complete_commit`].
    pub fn commit_offsets(&mut self, now_ms: i64, req: OffsetCommitRequest) -> CommitOutcome {
        self.arm_sweep(now_ms);
        let fail = |error: GroupError| CommitOutcome {
            results: req
                .partitions
                .iter()
                .map(|p| PartitionResult {
                    topic: p.topic.clone(),
                    partition: p.partition,
                    error: Some(error),
                })
                .collect(),
            effects: Effects::default(),
            token: None,
        };
        if !self.groups.contains_key(&req.group_id) {
            if req.generation_id >= 0 {
                // A generation for a group the coordinator does not know: a stale member.
                return fail(GroupError::IllegalGeneration);
            }
            // Not group-managed (`assign()`): the group exists only to hold offsets.
            self.groups
                .insert(req.group_id.clone(), Group::new(&req.group_id, now_ms));
        }
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return fail(GroupError::CoordinatorNotAvailable);
        };
        let stale = match validate_offset_commit(group, &req, false) {
            Ok(stale) => stale,
            Err(error) => {
                let out = fail(error);
                self.drop_if_unused(&req.group_id);
                return out;
            }
        };
        match group.state {
            GroupState::Empty => {}
            GroupState::Stable | GroupState::PreparingRebalance => {
                // A commit counts as a sign of life; during PreparingRebalance the next
                // heartbeat tells the member to rejoin.
                if let Some(m) = group.members.get_mut(&req.member_id) {
                    m.heartbeat_deadline_ms = now_ms + i64::from(m.session_timeout_ms);
                }
            }
            GroupState::CompletingRebalance => return fail(GroupError::RebalanceInProgress),
            GroupState::Dead => return fail(GroupError::CoordinatorNotAvailable),
        }
        let mut results = Vec::with_capacity(req.partitions.len());
        let mut effects = Effects::default();
        let mut staged = Vec::new();
        for p in req.partitions {
            let error = if stale.contains(&(p.topic.clone(), p.partition)) {
                Some(stale_commit(false))
            } else if p.metadata.len() > self.config.max_metadata_size {
                Some(GroupError::OffsetMetadataTooLarge)
            } else {
                let committed = CommittedOffset {
                    offset: p.offset,
                    leader_epoch: p.leader_epoch,
                    metadata: p.metadata,
                    commit_timestamp_ms: now_ms,
                    expire_timestamp_ms: req.retention_ms.map(|r| now_ms.saturating_add(r)),
                };
                effects.records.push(OffsetsLogRecord::offset_commit(
                    &req.group_id,
                    &p.topic,
                    p.partition,
                    Some(&committed.to_value()),
                ));
                *group
                    .pending_offsets
                    .entry((p.topic.clone(), p.partition))
                    .or_insert(0) += 1;
                staged.push(((p.topic.clone(), p.partition), committed));
                None
            };
            results.push(PartitionResult {
                topic: p.topic,
                partition: p.partition,
                error,
            });
        }
        let token = if staged.is_empty() {
            None
        } else {
            let token = self.next_commit_token;
            self.next_commit_token = self.next_commit_token.wrapping_add(1);
            self.pending_commits.insert(
                token,
                PendingCommit {
                    group_id: req.group_id.clone(),
                    offsets: staged,
                },
            );
            Some(CommitToken(token))
        };
        self.drop_if_unused(&req.group_id);
        CommitOutcome {
            results,
            effects,
            token,
        }
    }

    /// Confirms (`persisted`) or abandons every commit handed out and not yet confirmed, oldest
    /// first. An owner that appends each call's records before making the next call (the
    /// coordinator runtime) calls this after every append.
    pub fn complete_pending_commits(&mut self, persisted: bool) {
        let tokens: Vec<u64> = self.pending_commits.keys().copied().collect();
        for t in tokens {
            self.complete_commit(CommitToken(t), persisted);
        }
    }

    /// Confirms (`persisted`) or abandons a commit returned by `commit_offsets`. Commits to
    /// the same group must be confirmed in the order they were appended.
    pub fn complete_commit(&mut self, token: CommitToken, persisted: bool) {
        let Some(pending) = self.pending_commits.shift_remove(&token.0) else {
            return;
        };
        let Some(group) = self.groups.get_mut(&pending.group_id) else {
            // Deleted meanwhile; its tombstones follow the commit in the log.
            return;
        };
        for (key, committed) in pending.offsets {
            if let Some(count) = group.pending_offsets.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    group.pending_offsets.remove(&key);
                }
            }
            if persisted {
                group.offsets.insert(key, committed);
            }
        }
        self.drop_if_unused(&pending.group_id);
    }

    /// OffsetFetch: the committed offsets of `partitions` (every committed partition when
    /// `None`), -1 for those without one. With `require_stable` (KIP-447), a partition with a
    /// commit not yet persisted answers UNSTABLE_OFFSET_COMMIT.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[(String, i32)]>,
        require_stable: bool,
    ) -> Vec<FetchedOffset> {
        let unknown = |topic: &str, partition: i32, error: Option<GroupError>| FetchedOffset {
            topic: topic.to_string(),
            partition,
            offset: -1,
            leader_epoch: -1,
            metadata: String::new(),
            error,
        };
        let Some(group) = self.groups.get(group_id) else {
            return partitions
                .unwrap_or_default()
                .iter()
                .map(|(t, p)| unknown(t, *p, None))
                .collect();
        };
        let keys: Vec<(String, i32)> = match partitions {
            Some(list) => list.to_vec(),
            None => group.offsets.keys().cloned().collect(),
        };
        keys.into_iter()
            .map(|key| {
                let pending =
                    group.pending_offsets.contains_key(&key) || self.has_txn_offset(group, &key);
                if require_stable && pending {
                    return unknown(&key.0, key.1, Some(GroupError::UnstableOffsetCommit));
                }
                match group.offsets.get(&key) {
                    Some(c) => FetchedOffset {
                        topic: key.0,
                        partition: key.1,
                        offset: c.offset,
                        leader_epoch: c.leader_epoch,
                        metadata: c.metadata.clone(),
                        error: None,
                    },
                    None => unknown(&key.0, key.1, None),
                }
            })
            .collect()
    }

    /// OffsetDelete (KIP-496): allowed for an Empty group, and for a consumer group only on
    /// topics it does not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC); other groups with members
    /// get NON_EMPTY_GROUP. An Empty group left without offsets is removed by the next sweep.
    pub fn delete_offsets(
        &mut self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> OffsetDeleteOutcome {
        let mut effects = Effects::default();
        let Some(group) = self.groups.get_mut(group_id) else {
            return OffsetDeleteOutcome {
                error: Some(GroupError::GroupIdNotFound),
                partitions: Vec::new(),
                effects,
            };
        };
        let is_consumer = group.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE)
            || group.consumer.is_some();
        let active = group.is_active();
        if active && !is_consumer {
            return OffsetDeleteOutcome {
                error: Some(GroupError::NonEmptyGroup),
                partitions: Vec::new(),
                effects,
            };
        }
        let mut results = Vec::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            let error = if active && group.is_subscribed_to(topic) {
                Some(GroupError::GroupSubscribedToTopic)
            } else {
                if group
                    .offsets
                    .shift_remove(&(topic.clone(), *partition))
                    .is_some()
                {
                    effects.records.push(OffsetsLogRecord::offset_commit(
                        group_id, topic, *partition, None,
                    ));
                }
                None
            };
            results.push(PartitionResult {
                topic: topic.clone(),
                partition: *partition,
                error,
            });
        }
        // An Empty group left without offsets stays until the next retention sweep removes
        // it, as Kafka's cleanupGroupMetadata does (DescribeGroups meanwhile reads Empty).
        OffsetDeleteOutcome {
            error: None,
            partitions: results,
            effects,
        }
    }

    /// Offset retention (Kafka's `removeExpiredOffsets` and `cleanupGroupMetadata`): expired
    /// offsets get tombstones, and Empty groups left with nothing are removed.
    pub(super) fn sweep(&mut self, now: i64, fx: &mut Effects) {
        let retention = self.config.offsets_retention_ms;
        let mut dead = Vec::new();
        for group in self.groups.values_mut() {
            // Where retention counts from, or None when this group's offsets do not expire now.
            let since_state_change = group.state_since_ms;
            let base = match (group.protocol_type.as_deref(), group.state) {
                // Consumer groups: from each commit, except topics the group consumes.
                _ if group.consumer.is_some() => Some(None),
                // Offsets of an Empty group expire `retention` after it became Empty.
                (Some(_), GroupState::Empty) => Some(Some(since_state_change)),
                // A Stable consumer group drops offsets of topics it no longer subscribes.
                (Some(CONSUMER_PROTOCOL_TYPE), GroupState::Stable)
                    if group.subscribed_topics.is_some() =>
                {
                    Some(None)
                }
                // Simple groups: retention runs from each commit.
                (None, _) => Some(None),
                _ => None,
            };
            if let Some(fixed_base) = base {
                let stable = group.state == GroupState::Stable;
                let expired: Vec<(String, i32)> = group
                    .offsets
                    .iter()
                    .filter(|(key, c)| {
                        let kept = group.pending_offsets.contains_key(*key)
                            || ((stable || group.consumer.is_some())
                                && group.is_subscribed_to(&key.0));
                        let due = match c.expire_timestamp_ms {
                            Some(expire) => now >= expire,
                            None => {
                                now.saturating_sub(fixed_base.unwrap_or(c.commit_timestamp_ms))
                                    >= retention
                            }
                        };
                        !kept && due
                    })
                    .map(|(key, _)| key.clone())
                    .collect();
                for key in expired {
                    group.offsets.shift_remove(&key);
                    fx.records.push(OffsetsLogRecord::offset_commit(
                        &group.group_id,
                        &key.0,
                        key.1,
                        None,
                    ));
                }
            }
            if !group.is_active() && !group.has_offsets() && group.pending_members.is_empty() {
                if group.consumer.is_some() {
                    super::consumer::deletion_records(&group.group_id, fx);
                }
                if group.generation_id > 0 {
                    fx.records
                        .push(OffsetsLogRecord::group_metadata(&group.group_id, None));
                }
                dead.push(group.group_id.clone());
            }
        }
        for id in dead {
            self.groups.shift_remove(&id);
        }
    }
}

/// Kafka's `validateOffsetCommit`: a commit naming a member or generation must come from a
/// current member of the current generation; an anonymous commit (generation -1, no member) is
/// only accepted while the group has no members.
///
/// Returns the partitions refused on their own: a consumer-group member committing at an
/// older epoch may commit only partitions it held at that epoch (KIP-1251).
pub(super) fn validate_offset_commit(
    group: &Group,
    req: &OffsetCommitRequest,
    transactional: bool,
) -> Result<HashSet<(String, i32)>, GroupError> {
    if let Some(cg) = &group.consumer {
        let older = validate_consumer_offset_commit(
            cg,
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id,
            transactional,
            req.api_version,
        )?;
        return Ok(match older {
            None => HashSet::new(),
            Some(epoch) => req
                .partitions
                .iter()
                .filter(|p| !cg.may_commit_at(&req.member_id, epoch, &p.topic, p.partition))
                .map(|p| (p.topic.clone(), p.partition))
                .collect(),
        });
    }
    if req.generation_id >= 0 || !req.member_id.is_empty() || req.group_instance_id.is_some() {
        validate_current_member(group, &req.member_id, req.group_instance_id.as_deref())?;
        if req.generation_id != group.generation_id {
            return Err(GroupError::IllegalGeneration);
        }
        Ok(HashSet::new())
    } else if group.state != GroupState::Empty && !transactional {
        // A TxnOffsetCommit without a member is accepted, as in Kafka.
        Err(GroupError::UnknownMemberId)
    } else {
        Ok(HashSet::new())
    }
}

#[cfg(test)]
#[path = "offsets_tests.rs"]
mod tests;
