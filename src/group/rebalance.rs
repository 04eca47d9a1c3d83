//! The classic rebalance protocol on one [`Group`]: Kafka's `GroupCoordinator` join, sync and
//! membership paths as free functions over the group, the settings and the [`Effects`] being
//! built. [`super::coordinator::Coordinator`] finds the group and calls in here.

use bytes::Bytes;

use super::records::{GroupMetadataValue, MemberMetadataValue, OffsetsLogRecord};
use super::state::{Group, GroupState, InitialDelay, Member, NEW_MEMBER_JOIN_TIMEOUT_MS};
use super::types::*;
use super::GroupError;
use crate::config::GroupConfig;

/// Fires the deadlines of one group.
pub(super) fn tick_group(cfg: &GroupConfig, g: &mut Group, now: i64, fx: &mut Effects) {
    let expired_pending: Vec<String> = g
        .pending_members
        .iter()
        .filter(|(_, deadline)| **deadline <= now)
        .map(|(id, _)| id.clone())
        .collect();
    for id in expired_pending {
        remove_pending_member_and_update(cfg, g, &id, now, fx);
    }
    let expired: Vec<String> = g
        .members
        .values()
        .filter(|m| m.expiry().is_some_and(|d| d <= now))
        .map(|m| m.member_id.clone())
        .collect();
    for id in expired {
        // An earlier removal may have completed a join and refreshed everyone's session.
        let still_expired = g
            .members
            .get(&id)
            .and_then(Member::expiry)
            .is_some_and(|d| d <= now);
        if still_expired {
            remove_member_and_update(cfg, g, &id, now, fx);
        }
    }
    if g.state == GroupState::PreparingRebalance && g.join_deadline_ms.is_some_and(|d| d <= now) {
        on_join_deadline(cfg, g, now, fx);
    }
    if matches!(
        g.state,
        GroupState::CompletingRebalance | GroupState::Stable
    ) && g.sync_deadline_ms.is_some_and(|d| d <= now)
    {
        // Members that got their JoinGroup answer but never synced (Kafka's DelayedSync).
        g.sync_deadline_ms = None;
        let missing: Vec<String> = g.pending_sync.drain(..).collect();
        for id in &missing {
            remove_member(g, id, fx);
        }
        if !missing.is_empty() {
            maybe_prepare_rebalance(cfg, g, now, fx);
        }
    }
}

/// Kafka's `acceptJoiningMember`: whether the group has room for `member_id`.
pub(super) fn accept_joining_member(cfg: &GroupConfig, g: &Group, member_id: &str) -> bool {
    match g.state {
        GroupState::Empty | GroupState::Dead => true,
        // Awaiting members are counted: the group may be above a lowered max size, and the
        // last members to rejoin are the ones turned away.
        GroupState::PreparingRebalance => {
            g.members
                .get(member_id)
                .is_some_and(|m| m.awaiting_join.is_some())
                || g.num_awaiting_join() < cfg.max_size
        }
        GroupState::CompletingRebalance | GroupState::Stable => {
            g.members.contains_key(member_id) || g.members.len() < cfg.max_size
        }
    }
}

/// Kafka's `validateCurrentMember`: a static id must map to this member id (else
/// FENCED_INSTANCE_ID), and the member must exist.
pub(super) fn validate_current_member(
    g: &Group,
    member_id: &str,
    instance_id: Option<&str>,
) -> Result<(), GroupError> {
    if let Some(instance) = instance_id {
        match g.static_member_id(instance) {
            Some(current) if current != member_id => return Err(GroupError::FencedInstanceId),
            Some(_) => {}
            None => return Err(GroupError::UnknownMemberId),
        }
    }
    if g.members.contains_key(member_id) {
        Ok(())
    } else {
        Err(GroupError::UnknownMemberId)
    }
}

/// JoinGroup from a member without an id (Kafka's `doNewMemberJoinGroup`).
pub(super) fn new_member_join(
    cfg: &GroupConfig,
    g: &mut Group,
    now: i64,
    reply: ReplyId,
    req: &JoinRequest,
    fx: &mut Effects,
) -> Result<(), GroupError> {
    if !g.supports_protocols(&req.protocol_type, &req.protocols) {
        return Err(GroupError::InconsistentGroupProtocol);
    }
    let uuid = uuid::Uuid::new_v4();
    match &req.group_instance_id {
        Some(instance) => {
            let new_id = format!("{instance}-{uuid}");
            match g.static_member_id(instance).map(str::to_string) {
                None => add_member_and_rebalance(cfg, g, now, reply, req, new_id, fx),
                Some(old_id) => {
                    update_static_member_and_rebalance(cfg, g, now, reply, req, &old_id, new_id, fx)
                }
            }
        }
        None => {
            let new_id = format!("{}-{uuid}", req.client_id);
            if req.require_known_member_id {
                // KIP-394: hand out the id and wait for the member to come back with it.
                g.pending_members
                    .insert(new_id.clone(), now + i64::from(req.session_timeout_ms));
                fx.replies.push((
                    reply,
                    Reply::Join(JoinResult::error(GroupError::MemberIdRequired, &new_id)),
                ));
            } else {
                add_member_and_rebalance(cfg, g, now, reply, req, new_id, fx);
            }
        }
    }
    Ok(())
}

/// JoinGroup from a member with an id (Kafka's `doCurrentMemberJoinGroup`).
pub(super) fn current_member_join(
    cfg: &GroupConfig,
    g: &mut Group,
    now: i64,
    reply: ReplyId,
    req: &JoinRequest,
    fx: &mut Effects,
) -> Result<(), GroupError> {
    if !g.supports_protocols(&req.protocol_type, &req.protocols) {
        return Err(GroupError::InconsistentGroupProtocol);
    }
    if req.group_instance_id.is_none() && g.pending_members.contains_key(&req.member_id) {
        add_member_and_rebalance(cfg, g, now, reply, req, req.member_id.clone(), fx);
        return Ok(());
    }
    validate_current_member(g, &req.member_id, req.group_instance_id.as_deref())?;
    let member = g
        .members
        .get(&req.member_id)
        .ok_or(GroupError::UnknownMemberId)?;
    let unchanged = member.matches(&req.protocols);
    match g.state {
        GroupState::PreparingRebalance => {
            update_member_and_rebalance(cfg, g, now, reply, req, fx);
        }
        GroupState::CompletingRebalance => {
            if unchanged {
                // It probably missed the JoinGroup answer: give the current generation again.
                let with_members = g.is_leader(&req.member_id);
                let result = join_result(g, &req.member_id, with_members);
                fx.replies.push((reply, Reply::Join(result)));
            } else {
                update_member_and_rebalance(cfg, g, now, reply, req, fx);
            }
        }
        GroupState::Stable => {
            // The leader's rejoin always rebalances: it is how it reacts to changes (topic
            // metadata) that the member metadata does not show.
            if g.is_leader(&req.member_id) || !unchanged {
                update_member_and_rebalance(cfg, g, now, reply, req, fx);
            } else {
                let result = join_result(g, &req.member_id, false);
                fx.replies.push((reply, Reply::Join(result)));
            }
        }
        GroupState::Empty | GroupState::Dead => return Err(GroupError::UnknownMemberId),
    }
    Ok(())
}

/// Adds a member parked in its join and starts (or joins) a rebalance.
fn add_member_and_rebalance(
    cfg: &GroupConfig,
    g: &mut Group,
    now: i64,
    reply: ReplyId,
    req: &JoinRequest,
    member_id: String,
    fx: &mut Effects,
) {
    if g.state == GroupState::PreparingRebalance && g.generation_id == 0 {
        g.new_member_added = true;
    }
    if g.members.is_empty() {
        g.protocol_type = Some(req.protocol_type.clone());
    }
    if g.leader_id.is_none() {
        g.leader_id = Some(member_id.clone());
    }
    g.pending_members.shift_remove(&member_id);
    let member = Member {
        member_id: member_id.clone(),
        group_instance_id: req.group_instance_id.clone(),
        client_id: req.client_id.clone(),
        client_host: req.client_host.clone(),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        session_timeout_ms: req.session_timeout_ms,
        protocols: req.protocols.clone(),
        assignment: Bytes::new(),
        awaiting_join: Some(reply),
        awaiting_sync: None,
        is_new: true,
        // A parked new member cannot heartbeat and its disconnect is invisible: bound the wait.
        heartbeat_deadline_ms: now + NEW_MEMBER_JOIN_TIMEOUT_MS,
    };
    g.members.insert(member_id, member);
    maybe_prepare_rebalance(cfg, g, now, fx);
}

/// Records a rejoin's protocols and timeouts and parks it under `reply`.
fn update_member(
    g: &mut Group,
    member_id: &str,
    reply: ReplyId,
    req: &JoinRequest,
    fx: &mut Effects,
) {
    if let Some(member) = g.members.get_mut(member_id) {
        member.protocols = req.protocols.clone();
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.session_timeout_ms = req.session_timeout_ms;
        if let Some(old) = member.awaiting_join.replace(reply) {
            if old != reply {
                // A retried join replaces the first; the first must still get an answer.
                fx.replies.push((
                    old,
                    Reply::Join(JoinResult::error(
                        GroupError::RebalanceInProgress,
                        member_id,
                    )),
                ));
            }
        }
    }
}

fn update_member_and_rebalance(
    cfg: &GroupConfig,
    g: &mut Group,
    now: i64,
    reply: ReplyId,
    req: &JoinRequest,
    fx: &mut Effects,
) {
    update_member(g, &req.member_id, reply, req, fx);
    maybe_prepare_rebalance(cfg, g, now, fx);
}

/// A known `group.instance.id` joins with no member id: the new id replaces the old one
/// (Kafka's `updateStaticMemberAndRebalance`). In Stable, if the protocol choice does not
/// change, there is no rebalance: the member gets the current generation and assignment.
#[allow(clippy::too_many_arguments)]
fn update_static_member_and_rebalance(
    cfg: &GroupConfig,
    g: &mut Group,
    now: i64,
    reply: ReplyId,
    req: &JoinRequest,
    old_id: &str,
    new_id: String,
    fx: &mut Effects,
) {
    let current_leader = g.leader_id.clone();
    replace_static_member(g, old_id, &new_id, now, fx);
    update_member(g, &new_id, reply, req, fx);
    match g.state {
        GroupState::Stable => {
            let next_protocol = g.select_protocol();
            if next_protocol.is_some() && next_protocol == g.protocol_name {
                fx.records.push(group_record(g));
                if let Some(m) = g.members.get_mut(&new_id) {
                    m.awaiting_join = None;
                }
                // KIP-814: a static leader is told to skip the assignment (the group stays
                // Stable, so a new one would not be distributed). Older clients instead get the
                // old leader id, so that they do not believe they lead.
                let is_leader = g.is_leader(&new_id);
                let skip = is_leader && req.supports_skip_assignment;
                let mut result = join_result(g, &new_id, skip);
                result.skip_assignment = skip;
                if !req.supports_skip_assignment {
                    result.leader = current_leader.unwrap_or_default();
                }
                fx.replies.push((reply, Reply::Join(result)));
            } else {
                maybe_prepare_rebalance(cfg, g, now, fx);
            }
        }
        // The old id may already be in the leader's member list: a new round is needed.
        GroupState::CompletingRebalance => prepare_rebalance(cfg, g, now, fx),
        GroupState::PreparingRebalance => {}
        GroupState::Empty | GroupState::Dead => maybe_prepare_rebalance(cfg, g, now, fx),
    }
}

/// Renames static member `old_id` to `new_id`, fencing requests parked under the old id.
fn replace_static_member(g: &mut Group, old_id: &str, new_id: &str, now: i64, fx: &mut Effects) {
    let Some(index) = g.members.get_index_of(old_id) else {
        return;
    };
    let Some(mut member) = g.members.shift_remove(old_id) else {
        return;
    };
    if let Some(r) = member.awaiting_join.take() {
        fx.replies.push((
            r,
            Reply::Join(JoinResult::error(GroupError::FencedInstanceId, old_id)),
        ));
    }
    if let Some(r) = member.awaiting_sync.take() {
        fx.replies.push((
            r,
            Reply::Sync(SyncResult::error(GroupError::FencedInstanceId)),
        ));
    }
    member.member_id = new_id.to_string();
    member.heartbeat_deadline_ms = now + i64::from(member.session_timeout_ms);
    g.members.shift_insert(index, new_id.to_string(), member);
    if g.is_leader(old_id) {
        g.leader_id = Some(new_id.to_string());
    }
    if g.pending_sync.shift_remove(old_id) {
        g.pending_sync.insert(new_id.to_string());
    }
}

/// Removes a member (Kafka's `GroupMetadata.remove`); requests it had parked are answered
/// UNKNOWN_MEMBER_ID so that a still-alive client rejoins.
fn remove_member(g: &mut Group, member_id: &str, fx: &mut Effects) {
    if let Some(mut member) = g.members.shift_remove(member_id) {
        if let Some(r) = member.awaiting_join.take() {
            fx.replies.push((
                r,
                Reply::Join(JoinResult::error(GroupError::UnknownMemberId, "")),
            ));
        }
        if let Some(r) = member.awaiting_sync.take() {
            fx.replies.push((
                r,
                Reply::Sync(SyncResult::error(GroupError::UnknownMemberId)),
            ));
        }
    }
    if g.is_leader(member_id) {
        g.leader_id = g.members.keys().next().cloned();
    }
    remove_pending_sync(g, member_id);
}

/// Removes a member and moves the group on (Kafka's `removeMemberAndUpdateGroup`).
pub(super) fn remove_member_and_update(
    cfg: &GroupConfig,
    g: &mut Group,
    member_id: &str,
    now: i64,
    fx: &mut Effects,
) {
    remove_member(g, member_id, fx);
    match g.state {
        GroupState::Stable | GroupState::CompletingRebalance => {
            maybe_prepare_rebalance(cfg, g, now, fx)
        }
        GroupState::PreparingRebalance => try_complete_join(cfg, g, now, fx),
        GroupState::Empty | GroupState::Dead => {}
    }
}

pub(super) fn remove_pending_member_and_update(
    cfg: &GroupConfig,
    g: &mut Group,
    member_id: &str,
    now: i64,
    fx: &mut Effects,
) {
    g.pending_members.shift_remove(member_id);
    if g.state == GroupState::PreparingRebalance {
        try_complete_join(cfg, g, now, fx);
    }
}

pub(super) fn remove_pending_sync(g: &mut Group, member_id: &str) {
    g.pending_sync.shift_remove(member_id);
    if g.pending_sync.is_empty() {
        g.sync_deadline_ms = None;
    }
}

fn maybe_prepare_rebalance(cfg: &GroupConfig, g: &mut Group, now: i64, fx: &mut Effects) {
    if g.can_rebalance() {
        prepare_rebalance(cfg, g, now, fx);
    }
}

/// Starts a join phase (Kafka's `prepareRebalance`): members parked in SyncGroup are told to
/// rejoin, and the join waits for everyone until the rebalance timeout, or (from Empty) for
/// the initial delay.
fn prepare_rebalance(cfg: &GroupConfig, g: &mut Group, now: i64, fx: &mut Effects) {
    if g.state == GroupState::CompletingRebalance {
        for member in g.members.values_mut() {
            member.assignment = Bytes::new();
            if let Some(r) = member.awaiting_sync.take() {
                fx.replies.push((
                    r,
                    Reply::Sync(SyncResult::error(GroupError::RebalanceInProgress)),
                ));
                member.heartbeat_deadline_ms = now + i64::from(member.session_timeout_ms);
            }
        }
    }
    g.sync_deadline_ms = None;
    g.new_member_added = false;
    let timeout = g.rebalance_timeout_ms();
    if g.state == GroupState::Empty && cfg.initial_rebalance_delay_ms > 0 {
        let delay = cfg.initial_rebalance_delay_ms;
        g.initial_delay = Some(InitialDelay {
            delay_ms: delay,
            remaining_ms: (timeout - delay).max(0),
        });
        g.join_deadline_ms = Some(now + delay);
    } else {
        g.initial_delay = None;
        g.join_deadline_ms = Some(now + timeout);
    }
    g.transition(GroupState::PreparingRebalance, now);
    try_complete_join(cfg, g, now, fx);
}

/// Completes the join early if every member is in (never during the initial delay).
pub(super) fn try_complete_join(cfg: &GroupConfig, g: &mut Group, now: i64, fx: &mut Effects) {
    if g.state == GroupState::PreparingRebalance
        && g.initial_delay.is_none()
        && g.all_members_joined()
    {
        complete_join(cfg, g, now, fx);
    }
}

/// The join deadline fired: extend the initial delay if new members keep coming (Kafka's
/// `InitialDelayedJoin`), else complete the join with whoever is in.
fn on_join_deadline(cfg: &GroupConfig, g: &mut Group, now: i64, fx: &mut Effects) {
    if let Some(delay) = g.initial_delay {
        if g.new_member_added && delay.remaining_ms != 0 {
            g.new_member_added = false;
            let next = cfg.initial_rebalance_delay_ms.min(delay.remaining_ms);
            g.initial_delay = Some(InitialDelay {
                delay_ms: next,
                remaining_ms: (delay.remaining_ms - delay.delay_ms).max(0),
            });
            g.join_deadline_ms = Some(now + next);
            return;
        }
    }
    complete_join(cfg, g, now, fx);
}

/// Ends the join phase (Kafka's `onCompleteJoin`): dynamic members that did not rejoin are
/// removed, the generation advances, the protocol is chosen, and every parked member gets its
/// answer (the leader with the member list).
fn complete_join(_cfg: &GroupConfig, g: &mut Group, now: i64, fx: &mut Effects) {
    g.join_deadline_ms = None;
    g.initial_delay = None;
    g.new_member_added = false;
    let gone: Vec<String> = g
        .members
        .values()
        .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
        .map(|m| m.member_id.clone())
        .collect();
    for id in &gone {
        remove_member(g, id, fx);
    }
    if !g.members.is_empty() && !elect_joined_leader(g) {
        // Only static members that have not rejoined are left: wait another round; their
        // sessions will expire if they are gone.
        g.join_deadline_ms = Some(now + g.rebalance_timeout_ms());
        return;
    }
    g.generation_id = g.generation_id.wrapping_add(1);
    g.pending_sync.clear();
    if g.members.is_empty() {
        g.protocol_name = None;
        g.leader_id = None;
        g.subscribed_topics = None;
        g.transition(GroupState::Empty, now);
        fx.records.push(group_record(g));
        return;
    }
    g.protocol_name = g.select_protocol();
    g.subscribed_topics = g.compute_subscribed_topics();
    g.transition(GroupState::CompletingRebalance, now);
    let ids: Vec<String> = g.members.keys().cloned().collect();
    for id in ids {
        let with_members = g.is_leader(&id);
        let result = join_result(g, &id, with_members);
        if let Some(member) = g.members.get_mut(&id) {
            if let Some(r) = member.awaiting_join.take() {
                fx.replies.push((r, Reply::Join(result)));
            }
            member.heartbeat_deadline_ms = now + i64::from(member.session_timeout_ms);
            member.is_new = false;
        }
        g.pending_sync.insert(id);
    }
    g.sync_deadline_ms = Some(now + g.rebalance_timeout_ms());
}

/// Keeps the leader if it rejoined, else picks the first member that did (Kafka's
/// `maybeElectNewJoinedLeader`); false if nobody rejoined.
fn elect_joined_leader(g: &mut Group) -> bool {
    let leader_joined = g
        .leader_id
        .as_ref()
        .and_then(|id| g.members.get(id))
        .is_some_and(|m| m.awaiting_join.is_some());
    if leader_joined {
        return true;
    }
    match g.members.values().find(|m| m.awaiting_join.is_some()) {
        Some(m) => {
            g.leader_id = Some(m.member_id.clone());
            true
        }
        None => false,
    }
}

/// Hands every parked follower its assignment and restarts its session (Kafka's
/// `propagateAssignment`).
pub(super) fn propagate_assignment(g: &mut Group, now: i64, fx: &mut Effects) {
    for member in g.members.values_mut() {
        if let Some(r) = member.awaiting_sync.take() {
            let result = SyncResult {
                error: None,
                protocol_type: g.protocol_type.clone(),
                protocol_name: g.protocol_name.clone(),
                assignment: member.assignment.clone(),
            };
            fx.replies.push((r, Reply::Sync(result)));
            member.heartbeat_deadline_ms = now + i64::from(member.session_timeout_ms);
        }
    }
}

pub(super) fn supersede_sync(old: ReplyId, new: ReplyId, fx: &mut Effects) {
    if old != new {
        fx.replies.push((
            old,
            Reply::Sync(SyncResult::error(GroupError::RebalanceInProgress)),
        ));
    }
}

/// A successful JoinGroup answer for the current generation.
fn join_result(g: &Group, member_id: &str, with_members: bool) -> JoinResult {
    let protocol = g.protocol_name.clone().unwrap_or_default();
    let members = if with_members {
        g.members
            .values()
            .map(|m| JoinMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m.metadata(&protocol),
            })
            .collect()
    } else {
        Vec::new()
    };
    JoinResult {
        error: None,
        generation_id: g.generation_id,
        protocol_type: g.protocol_type.clone(),
        protocol_name: g.protocol_name.clone(),
        leader: g.leader_id.clone().unwrap_or_default(),
        member_id: member_id.to_string(),
        members,
        skip_assignment: false,
    }
}

/// The group's snapshot record (Kafka's `storeGroup`).
pub(super) fn group_record(g: &Group) -> OffsetsLogRecord {
    let protocol = g.protocol_name.clone().unwrap_or_default();
    let value = GroupMetadataValue {
        protocol_type: g.protocol_type.clone().unwrap_or_default(),
        generation: g.generation_id,
        protocol: g.protocol_name.clone(),
        leader: g.leader_id.clone(),
        current_state_timestamp: g.state_since_ms,
        members: g
            .members
            .values()
            .map(|m| MemberMetadataValue {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout: m.rebalance_timeout_ms,
                session_timeout: m.session_timeout_ms,
                subscription: m.metadata(&protocol),
                assignment: m.assignment.clone(),
            })
            .collect(),
    };
    OffsetsLogRecord::group_metadata(&g.group_id, Some(&value))
}
