//! The [`Coordinator`]: every classic group, driven by requests and by [`Coordinator::tick`].
//!
//! The logic follows Kafka's `GroupCoordinator.scala` (and the newer `GroupMetadataManager`'s
//! classic-group paths): the same validations in the same order, the same errors, the same
//! transitions. Kafka's purgatories become deadlines stored on the group (`join_deadline_ms`,
//! `sync_deadline_ms`, member heartbeat deadlines) that `tick` fires, and parked requests become
//! [`ReplyId`]s answered through [`Effects`].

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use indexmap::IndexMap;

use super::offsets::PendingCommit;
use super::rebalance::{
    accept_joining_member, current_member_join, group_record, new_member_join,
    propagate_assignment, remove_member_and_update, remove_pending_member_and_update,
    remove_pending_sync, supersede_sync, tick_group, try_complete_join, validate_current_member,
};
use super::records::{DecodedRecord, GroupMetadataValue, OffsetsLogRecord, RecordError};
use super::state::{Group, GroupState, Member};
use super::txn_offsets::StagedTxn;
use super::types::*;
use super::GroupError;
use crate::config::GroupConfig;

/// All classic groups of the broker, as a pure state machine: no I/O, no clock (every call
/// takes `now_ms`), no threads. The owner serialises calls (one task), executes the returned
/// [`Effects`], and calls [`Coordinator::tick`] at [`Coordinator::next_deadline`].
#[derive(Debug)]
pub struct Coordinator {
    /// The settings.
    pub(super) config: GroupConfig,
    /// Every live group by id; Dead groups are removed at once.
    pub(super) groups: IndexMap<String, Group>,
    /// Offset commits handed to the caller for appending, by token, until confirmed.
    pub(super) pending_commits: IndexMap<u64, PendingCommit>,
    /// Next commit token to hand out.
    pub(super) next_commit_token: u64,
    /// When the next offset-retention sweep runs; armed by the first call that has a time.
    pub(super) next_sweep_ms: Option<i64>,
    /// Groups holding offsets of each open transaction, by producer id.
    pub(super) txn_groups: HashMap<i64, BTreeSet<String>>,
    /// A transactional commit or marker handed to the caller, applied once it is stored.
    pub(super) staged_txn: Option<StagedTxn>,
    /// KIP-890 verification guards of TxnOffsetCommit, by producer id (see `txn_offsets`).
    pub(super) txn_verifications: HashMap<i64, u64>,
    /// Source of verification tokens.
    pub(super) next_txn_verification: u64,
}

impl Coordinator {
    /// An empty coordinator.
    pub fn new(config: GroupConfig) -> Self {
        Coordinator {
            config,
            groups: IndexMap::new(),
            pending_commits: IndexMap::new(),
            next_commit_token: 0,
            next_sweep_ms: None,
            txn_groups: HashMap::new(),
            staged_txn: None,
            txn_verifications: HashMap::new(),
            next_txn_verification: 0,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Arms the retention sweep the first time the coordinator learns the time.
    pub(super) fn arm_sweep(&mut self, now_ms: i64) {
        if self.next_sweep_ms.is_none() {
            self.next_sweep_ms =
                Some(now_ms.saturating_add(self.config.offsets_retention_check_interval_ms));
        }
    }

    /// Drops a group that holds nothing (e.g. created by a join that then failed).
    pub(super) fn drop_if_unused(&mut self, group_id: &str) {
        if self.groups.get(group_id).is_some_and(Group::is_unused) {
            self.groups.shift_remove(group_id);
        }
    }

    /// JoinGroup. The answer is either in the returned effects or comes later (from another
    /// member's join, a leave, or `tick`) under `reply`.
    pub fn join(&mut self, now_ms: i64, reply: ReplyId, req: JoinRequest) -> Effects {
        self.arm_sweep(now_ms);
        let mut fx = Effects::default();
        if let Err(error) = self.do_join(now_ms, reply, &req, &mut fx) {
            let member_id = if error == GroupError::GroupMaxSizeReached {
                ""
            } else {
                req.member_id.as_str()
            };
            fx.replies
                .push((reply, Reply::Join(JoinResult::error(error, member_id))));
        }
        self.drop_if_unused(&req.group_id);
        fx
    }

    fn do_join(
        &mut self,
        now: i64,
        reply: ReplyId,
        req: &JoinRequest,
        fx: &mut Effects,
    ) -> Result<(), GroupError> {
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let cfg = &self.config;
        if req.session_timeout_ms < cfg.min_session_timeout_ms
            || req.session_timeout_ms > cfg.max_session_timeout_ms
        {
            return Err(GroupError::InvalidSessionTimeout);
        }
        if let Some(g) = self.groups.get_mut(&req.group_id) {
            if let Some(cg) = &g.consumer {
                // Classic members cannot join a consumer group (migration policy "disabled");
                // an Empty one becomes a classic group, as in Kafka.
                if !cg.members.is_empty() {
                    return Err(GroupError::InconsistentGroupProtocol);
                }
                if !req.member_id.is_empty() {
                    // A stale classic member: the group is not converted for it.
                    return Err(GroupError::UnknownMemberId);
                }
                super::consumer::deletion_records(&req.group_id, fx);
                g.consumer = None;
            }
        }
        let is_unknown = req.member_id.is_empty();
        // A group is created only for a member without an id; a member id for a group the
        // coordinator does not know is stale.
        let group = if is_unknown {
            self.groups
                .entry(req.group_id.clone())
                .or_insert_with(|| Group::new(&req.group_id, now))
        } else {
            self.groups
                .get_mut(&req.group_id)
                .ok_or(GroupError::UnknownMemberId)?
        };
        if !accept_joining_member(cfg, group, &req.member_id) {
            if group.members.contains_key(&req.member_id) {
                remove_member_and_update(cfg, group, &req.member_id, now, fx);
            }
            return Err(GroupError::GroupMaxSizeReached);
        }
        let result = if is_unknown {
            new_member_join(cfg, group, now, reply, req, fx)
        } else {
            current_member_join(cfg, group, now, reply, req, fx)
        };
        if group.state == GroupState::PreparingRebalance {
            try_complete_join(cfg, group, now, fx);
        }
        result
    }

    /// SyncGroup. Followers in CompletingRebalance are parked until the leader's assignment.
    pub fn sync(&mut self, now_ms: i64, reply: ReplyId, req: SyncRequest) -> Effects {
        self.arm_sweep(now_ms);
        let mut fx = Effects::default();
        if let Err(error) = self.do_sync(now_ms, reply, &req, &mut fx) {
            fx.replies
                .push((reply, Reply::Sync(SyncResult::error(error))));
        }
        fx
    }

    fn do_sync(
        &mut self,
        now: i64,
        reply: ReplyId,
        req: &SyncRequest,
        fx: &mut Effects,
    ) -> Result<(), GroupError> {
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let group = self
            .groups
            .get_mut(&req.group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        validate_current_member(group, &req.member_id, req.group_instance_id.as_deref())?;
        if req.generation_id != group.generation_id {
            return Err(GroupError::IllegalGeneration);
        }
        if req
            .protocol_type
            .as_ref()
            .is_some_and(|t| group.protocol_type.as_ref() != Some(t))
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|n| group.protocol_name.as_ref() != Some(n))
        {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        match group.state {
            GroupState::Empty => Err(GroupError::UnknownMemberId),
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            GroupState::Dead => Err(GroupError::CoordinatorNotAvailable),
            GroupState::CompletingRebalance => {
                let member = group
                    .members
                    .get_mut(&req.member_id)
                    .ok_or(GroupError::UnknownMemberId)?;
                if let Some(old) = member.awaiting_sync.replace(reply) {
                    supersede_sync(old, reply, fx);
                }
                remove_pending_sync(group, &req.member_id);
                if group.is_leader(&req.member_id) {
                    // Members the leader left out get an empty assignment.
                    let assignments: HashMap<&str, &Bytes> = req
                        .assignments
                        .iter()
                        .map(|(id, a)| (id.as_str(), a))
                        .collect();
                    for (id, member) in group.members.iter_mut() {
                        member.assignment = assignments
                            .get(id.as_str())
                            .map(|a| (*a).clone())
                            .unwrap_or_default();
                    }
                    fx.records.push(group_record(group));
                    group.transition(GroupState::Stable, now);
                    propagate_assignment(group, now, fx);
                }
                Ok(())
            }
            GroupState::Stable => {
                remove_pending_sync(group, &req.member_id);
                let member = group
                    .members
                    .get_mut(&req.member_id)
                    .ok_or(GroupError::UnknownMemberId)?;
                member.heartbeat_deadline_ms = now + i64::from(member.session_timeout_ms);
                let result = SyncResult {
                    error: None,
                    protocol_type: group.protocol_type.clone(),
                    protocol_name: group.protocol_name.clone(),
                    assignment: member.assignment.clone(),
                };
                fx.replies.push((reply, Reply::Sync(result)));
                Ok(())
            }
        }
    }

    /// Heartbeat: refreshes the member's session. REBALANCE_IN_PROGRESS tells it to rejoin.
    pub fn heartbeat(&mut self, now_ms: i64, req: HeartbeatRequest) -> Result<(), GroupError> {
        self.arm_sweep(now_ms);
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let group = self
            .groups
            .get_mut(&req.group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        validate_current_member(group, &req.member_id, req.group_instance_id.as_deref())?;
        if req.generation_id != group.generation_id {
            return Err(GroupError::IllegalGeneration);
        }
        let state = group.state;
        let member = group
            .members
            .get_mut(&req.member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        match state {
            GroupState::Empty => Err(GroupError::UnknownMemberId),
            GroupState::Dead => Err(GroupError::CoordinatorNotAvailable),
            GroupState::CompletingRebalance | GroupState::Stable => {
                member.heartbeat_deadline_ms = now_ms + i64::from(member.session_timeout_ms);
                Ok(())
            }
            GroupState::PreparingRebalance => {
                member.heartbeat_deadline_ms = now_ms + i64::from(member.session_timeout_ms);
                Err(GroupError::RebalanceInProgress)
            }
        }
    }

    /// LeaveGroup for one or more members (KIP-345 batch). Each leaving member is removed and
    /// the group rebalances.
    pub fn leave(&mut self, now_ms: i64, req: LeaveRequest) -> (LeaveResult, Effects) {
        self.arm_sweep(now_ms);
        let mut fx = Effects::default();
        if req.group_id.is_empty() {
            let result = LeaveResult {
                error: Some(GroupError::InvalidGroupId),
                members: Vec::new(),
            };
            return (result, fx);
        }
        let cfg = &self.config;
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            let members = req
                .members
                .into_iter()
                .map(|m| (m, Some(GroupError::UnknownMemberId)))
                .collect();
            return (
                LeaveResult {
                    error: None,
                    members,
                },
                fx,
            );
        };
        let mut results = Vec::with_capacity(req.members.len());
        for leaving in req.members {
            let outcome = if leaving.member_id.is_empty() {
                // Administrative removal by group.instance.id.
                let current = leaving
                    .group_instance_id
                    .as_deref()
                    .and_then(|i| group.static_member_id(i))
                    .map(str::to_string);
                match current {
                    Some(id) => {
                        remove_member_and_update(cfg, group, &id, now_ms, &mut fx);
                        None
                    }
                    None => Some(GroupError::UnknownMemberId),
                }
            } else if group.pending_members.contains_key(&leaving.member_id) {
                remove_pending_member_and_update(cfg, group, &leaving.member_id, now_ms, &mut fx);
                None
            } else {
                match validate_current_member(
                    group,
                    &leaving.member_id,
                    leaving.group_instance_id.as_deref(),
                ) {
                    Ok(()) => {
                        remove_member_and_update(cfg, group, &leaving.member_id, now_ms, &mut fx);
                        None
                    }
                    Err(e) => Some(e),
                }
            };
            results.push((leaving, outcome));
        }
        (
            LeaveResult {
                error: None,
                members: results,
            },
            fx,
        )
    }

    /// Fires every deadline that is due: session expiry of members and pending members, the
    /// end of a join phase (rebalance timeout or initial delay), the SyncGroup deadline, and
    /// the offset-retention sweep.
    pub fn tick(&mut self, now_ms: i64) -> Effects {
        self.arm_sweep(now_ms);
        let mut fx = Effects::default();
        let cfg = &self.config;
        for group in self.groups.values_mut() {
            tick_group(cfg, group, now_ms, &mut fx);
        }
        self.tick_consumer_groups(now_ms, &mut fx);
        // E.g. a group whose only trace was a KIP-394 pending member that never came back.
        self.groups.retain(|_, g| !g.is_unused());
        if self.next_sweep_ms.is_some_and(|t| t <= now_ms) {
            self.sweep(now_ms, &mut fx);
            self.next_sweep_ms =
                Some(now_ms.saturating_add(self.config.offsets_retention_check_interval_ms));
        }
        fx
    }

    /// The earliest time `tick` has something to do, if any.
    pub fn next_deadline(&self) -> Option<i64> {
        let groups = self.groups.values().flat_map(|g| {
            let members = g.members.values().filter_map(Member::expiry);
            let pending = g.pending_members.values().copied();
            let join = g
                .join_deadline_ms
                .filter(|_| g.state == GroupState::PreparingRebalance);
            let sync = g.sync_deadline_ms.filter(|_| {
                matches!(
                    g.state,
                    GroupState::CompletingRebalance | GroupState::Stable
                )
            });
            members.chain(pending).chain(join).chain(sync)
        });
        let sweep = self.next_sweep_ms.filter(|_| !self.groups.is_empty());
        groups
            .chain(sweep)
            .chain(self.next_consumer_deadline())
            .min()
    }

    /// Forgets a parked request whose connection went away. The member stays; if it does not
    /// come back it is removed by its session timeout or the rebalance timeout.
    pub fn cancel(&mut self, reply: ReplyId) {
        for group in self.groups.values_mut() {
            for member in group.members.values_mut() {
                if member.awaiting_join == Some(reply) {
                    member.awaiting_join = None;
                }
                if member.awaiting_sync == Some(reply) {
                    member.awaiting_sync = None;
                }
            }
        }
    }

    /// ListGroups; `states_filter` (KIP-518) matches state names case-insensitively, empty
    /// means all.
    pub fn list_groups(&self, states_filter: &[String]) -> Vec<GroupListing> {
        self.groups
            .values()
            .map(|g| match &g.consumer {
                Some(cg) => GroupListing {
                    group_id: g.group_id.clone(),
                    protocol_type: "consumer".to_string(),
                    state: cg.state(),
                    group_type: "consumer",
                },
                None => GroupListing {
                    group_id: g.group_id.clone(),
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    state: g.state.as_str(),
                    group_type: "classic",
                },
            })
            .filter(|g| {
                states_filter.is_empty()
                    || states_filter
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state))
            })
            .collect()
    }

    /// DescribeGroups for one group. Member metadata and assignments are only shown while
    /// Stable, as Kafka does.
    pub fn describe_group(&self, group_id: &str) -> GroupDescription {
        // A consumer group is not a classic group: described as unknown, as Kafka does.
        let Some(group) = self.groups.get(group_id).filter(|g| g.consumer.is_none()) else {
            return GroupDescription {
                group_id: group_id.to_string(),
                error: None,
                state: GroupState::Dead.as_str(),
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            };
        };
        let stable = group.state == GroupState::Stable;
        let protocol = if stable {
            group.protocol_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        let members = group
            .members
            .values()
            .map(|m| MemberDescription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: if stable {
                    m.metadata(&protocol)
                } else {
                    Bytes::new()
                },
                assignment: if stable {
                    m.assignment.clone()
                } else {
                    Bytes::new()
                },
            })
            .collect();
        GroupDescription {
            group_id: group_id.to_string(),
            error: None,
            state: group.state.as_str(),
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            protocol,
            members,
        }
    }

    /// DeleteGroups: only Empty groups are deleted (their offsets too, with tombstones);
    /// others get NON_EMPTY_GROUP, unknown ones GROUP_ID_NOT_FOUND.
    pub fn delete_groups(
        &mut self,
        group_ids: &[String],
    ) -> (Vec<(String, Option<GroupError>)>, Effects) {
        let mut fx = Effects::default();
        let results = group_ids
            .iter()
            .map(|id| {
                let error = match self.groups.get(id) {
                    None => Some(GroupError::GroupIdNotFound),
                    Some(g) if g.is_active() => Some(GroupError::NonEmptyGroup),
                    Some(_) => {
                        if let Some(group) = self.groups.shift_remove(id) {
                            if group.consumer.is_some() {
                                super::consumer::deletion_records(id, &mut fx);
                            }
                            for (topic, partition) in group.offsets.keys() {
                                fx.records.push(OffsetsLogRecord::offset_commit(
                                    id, topic, *partition, None,
                                ));
                            }
                            if group.generation_id > 0 {
                                fx.records.push(OffsetsLogRecord::group_metadata(id, None));
                            }
                        }
                        None
                    }
                };
                (id.clone(), error)
            })
            .collect();
        (results, fx)
    }

    /// Applies one record of `__consumer_offsets` while loading, in log order (last write wins,
    /// tombstones delete). As in Kafka, a group snapshot with members comes back Stable with
    /// those members, whose sessions start at `now_ms`: clients that reconnect in time carry on
    /// without a rebalance, the others expire. A snapshot without members comes back Empty.
    pub fn replay(&mut self, now_ms: i64, record: &OffsetsLogRecord) -> Result<(), RecordError> {
        self.arm_sweep(now_ms);
        if super::consumer::records::is_consumer_key(&record.key) {
            return self.replay_consumer(now_ms, record);
        }
        match record.decode()? {
            DecodedRecord::OffsetCommit {
                group,
                topic,
                partition,
                value,
            } => match value {
                Some(value) => {
                    let g = self
                        .groups
                        .entry(group.clone())
                        .or_insert_with(|| Group::new(&group, now_ms));
                    g.offsets.insert((topic, partition), value.into());
                }
                None => {
                    if let Some(g) = self.groups.get_mut(&group) {
                        g.offsets.shift_remove(&(topic, partition));
                    }
                    self.drop_if_unused(&group);
                }
            },
            DecodedRecord::GroupMetadata { group, value } => match value {
                Some(value) => {
                    let g = self
                        .groups
                        .entry(group.clone())
                        .or_insert_with(|| Group::new(&group, now_ms));
                    load_group(g, value, now_ms);
                }
                None => {
                    if let Some(g) = self.groups.get_mut(&group) {
                        let offsets = std::mem::take(&mut g.offsets);
                        *g = Group::new(&group, now_ms);
                        g.offsets = offsets;
                    }
                    self.drop_if_unused(&group);
                }
            },
        }
        Ok(())
    }
}

/// Rebuilds a group from its snapshot (Kafka's `GroupMetadata.loadGroup`).
fn load_group(g: &mut Group, value: GroupMetadataValue, now: i64) {
    let protocol = value.protocol.clone().unwrap_or_default();
    g.generation_id = value.generation;
    g.protocol_type = Some(value.protocol_type).filter(|t| !t.is_empty());
    g.protocol_name = value.protocol;
    g.members = value
        .members
        .into_iter()
        .map(|m| {
            let member = Member {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                rebalance_timeout_ms: m.rebalance_timeout,
                session_timeout_ms: m.session_timeout,
                protocols: vec![(protocol.clone(), m.subscription)],
                assignment: m.assignment,
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                heartbeat_deadline_ms: now + i64::from(m.session_timeout),
            };
            (m.member_id, member)
        })
        .collect();
    g.leader_id = value
        .leader
        .filter(|l| g.members.contains_key(l))
        .or_else(|| g.members.keys().next().cloned());
    g.pending_members.clear();
    g.pending_sync.clear();
    g.sync_deadline_ms = None;
    g.join_deadline_ms = None;
    g.initial_delay = None;
    g.new_member_added = false;
    g.state = if g.members.is_empty() {
        GroupState::Empty
    } else {
        GroupState::Stable
    };
    g.state_since_ms = if value.current_state_timestamp >= 0 {
        value.current_state_timestamp
    } else {
        now
    };
    g.subscribed_topics = g.compute_subscribed_topics();
}

#[cfg(test)]
#[path = "coordinator_tests.rs"]
mod tests;
