//! ConsumerGroupHeartbeat: join, update and leave, with Kafka's validations, errors and
//! messages (`GroupMetadataManager.consumerGroupHeartbeat` and `consumerGroupLeave`), the
//! target assignment, and fencing.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use uuid::Uuid;

use super::assign::{assign, AssignMember, ASSIGNORS};
use super::reconcile::{reconcile, Target};
use super::records;
use super::{
    to_list, Assignment, ConsumerGroup, ConsumerHeartbeat, ConsumerHeartbeatResult, ConsumerMember,
    MemberState, MemberTimers, TopicImage, STATIC_LEAVE_EPOCH,
};
use crate::group::state::Group;
use crate::group::{Coordinator, Effects, GroupError, OffsetsLogRecord};

/// A refused heartbeat: the error and Kafka's message.
type Refusal = (GroupError, String);

fn invalid(message: &str) -> Result<(), Refusal> {
    Err((GroupError::InvalidRequest, message.to_string()))
}

/// A subscription regex, compiled for a full match (Kafka uses RE2/J's `matches`). Bounded:
/// a pattern whose program would exceed 1 MiB is refused.
pub(super) fn compile_regex(source: &str) -> Result<regex::Regex, String> {
    // The pattern alone must be valid: `a)|(b` is not, though it would be once wrapped.
    let build = |p: &str| {
        regex::RegexBuilder::new(p)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| e.to_string())
    };
    build(source)?;
    build(&format!("^(?:{source})$"))
}

/// Compiles `source` into `cache` unless it is there (a pattern that does not compile was
/// refused when a member sent it, so it is only skipped here).
pub(super) fn cache_regex(cache: &mut HashMap<String, regex::Regex>, source: &str) {
    if let Entry::Vacant(slot) = cache.entry(source.to_string()) {
        if let Ok(re) = compile_regex(source) {
            slot.insert(re);
        }
    }
}

/// Kafka's `throwIfConsumerGroupHeartbeatRequestIsInvalid`, then the assignor and the regex.
fn validate(req: &ConsumerHeartbeat, assignors: &[String]) -> Result<(), Refusal> {
    if req.group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if req.member_id.is_empty() && (req.version >= 1 || req.member_epoch != 0) {
        return invalid("MemberId can't be empty.");
    }
    if req.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    // Ids are keys of __consumer_offsets records, whose strings hold at most i16::MAX bytes.
    let too_long = |s: &str| s.len() > i16::MAX as usize;
    if too_long(&req.member_id) || req.instance_id.as_deref().is_some_and(too_long) {
        return invalid("MemberId and InstanceId must be at most 32767 bytes.");
    }
    if req.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    match req.member_epoch {
        0 => {
            if req.rebalance_timeout_ms == -1 {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            if req.owned.as_ref().is_some_and(|o| !o.is_empty()) {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
            if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                return invalid(
                    "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
                );
            }
        }
        STATIC_LEAVE_EPOCH if req.instance_id.is_none() => {
            return invalid("InstanceId can't be null.");
        }
        e if e < STATIC_LEAVE_EPOCH => return invalid("MemberEpoch is invalid."),
        _ => {}
    }
    if let Some(a) = &req.server_assignor {
        if !assignors.iter().any(|x| x == a) || !ASSIGNORS.contains(&a.as_str()) {
            return Err((
                GroupError::UnsupportedAssignor,
                format!(
                    "ServerAssignor {a} is not supported. Supported assignors: {}.",
                    assignors.join(", ")
                ),
            ));
        }
    }
    if let Some(r) = req
        .subscribed_topic_regex
        .as_deref()
        .filter(|r| !r.is_empty())
    {
        if let Err(e) = compile_regex(r) {
            return Err((
                GroupError::InvalidRegularExpression,
                format!("SubscribedTopicRegex `{r}` is not a valid regular expression: {e}."),
            ));
        }
    }
    Ok(())
}

/// Whether every reported partition is in `assigned`.
fn is_subset(owned: &[(Uuid, Vec<i32>)], assigned: &Assignment) -> bool {
    owned.iter().all(|(t, ps)| {
        ps.iter()
            .all(|p| assigned.get(t).is_some_and(|a| a.contains(p)))
    })
}

/// Kafka's `throwIfMemberEpochIsInvalid`: a member one epoch behind that owns no more than its
/// assignment missed an answer and is let through; any other mismatch is fenced.
fn check_epoch(m: &ConsumerMember, req: &ConsumerHeartbeat) -> Result<(), Refusal> {
    let got = req.member_epoch;
    let fenced = |which: &str| {
        Err((
            GroupError::FencedMemberEpoch,
            format!(
                "The consumer group member has a {which} member epoch ({got}) than the one known \
                 by the group coordinator ({}). The member must abandon all its partitions and \
                 rejoin.",
                m.epoch
            ),
        ))
    };
    if got > m.epoch {
        return fenced("greater");
    }
    if got < m.epoch {
        let missed_answer = got == m.previous_epoch
            && req
                .owned
                .as_ref()
                .is_some_and(|o| is_subset(o, &m.assigned));
        if !missed_answer {
            return fenced("smaller");
        }
    }
    Ok(())
}

/// A static member joining again after its temporary leave (epoch -2): it keeps its
/// partitions and starts over at epoch 0, as Kafka's replacement does; anything it was
/// revoking is gone with the old instance.
fn back_from_away(m: &ConsumerMember) -> ConsumerMember {
    let mut m = m.clone();
    if m.epoch == STATIC_LEAVE_EPOCH {
        m.epoch = 0;
        m.previous_epoch = 0;
        m.state = MemberState::Stable;
        m.revoking.clear();
    }
    m
}

/// The member a heartbeat is about, as it is now (`None` for a new one), and the id of a
/// static member it replaces.
fn find_member(
    cg: &ConsumerGroup,
    req: &ConsumerHeartbeat,
    member_id: &str,
) -> Result<(Option<ConsumerMember>, Option<String>), Refusal> {
    let joining = req.member_epoch == 0;
    let group_id = &req.group_id;
    let Some(instance) = &req.instance_id else {
        let m = cg.members.get(member_id).cloned();
        if joining {
            return Ok((m, None));
        }
        let m = m.ok_or_else(|| {
            (
                GroupError::UnknownMemberId,
                format!("Member {member_id} is not a member of group {group_id}."),
            )
        })?;
        check_epoch(&m, req)?;
        return Ok((Some(m), None));
    };
    let holder = cg.static_member(instance);
    if joining {
        return match holder {
            None => Ok((cg.members.get(member_id).cloned(), None)),
            Some(h) if h == member_id => Ok((cg.members.get(member_id).map(back_from_away), None)),
            Some(h) => {
                let old = &cg.members[h];
                if old.epoch != STATIC_LEAVE_EPOCH {
                    return Err((
                        GroupError::UnreleasedInstanceId,
                        format!(
                            "Static member {h} with instance id {instance} cannot join the group \
                             {group_id} since the instance id is already in use."
                        ),
                    ));
                }
                let mut renamed = back_from_away(old);
                renamed.member_id = member_id.to_string();
                Ok((Some(renamed), Some(h.to_string())))
            }
        };
    }
    let h = holder.ok_or_else(|| {
        (
            GroupError::UnknownMemberId,
            format!("Instance id {instance} is unknown."),
        )
    })?;
    if h != member_id {
        return Err((
            GroupError::FencedInstanceId,
            format!(
                "Static member {member_id} with instance id {instance} was fenced by member {h}."
            ),
        ));
    }
    let m = cg.members[h].clone();
    check_epoch(&m, req)?;
    Ok((Some(m), None))
}

/// The topics `m` subscribes to that exist: its names, and every non-internal topic its regex
/// matches in full.
fn member_topics(cg: &ConsumerGroup, m: &ConsumerMember, topics: &TopicImage) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = m
        .subscribed_names
        .iter()
        .filter(|n| topics.get(n).is_some())
        .cloned()
        .collect();
    if let Some(matched) = m
        .subscribed_regex
        .as_ref()
        .and_then(|r| cg.regex_topics.get(r))
    {
        out.extend(matched.iter().cloned());
    }
    out
}

/// Compiles the members' regexes (dropping unused ones), records the topics the group
/// subscribes to (`topic_ids`) and returns the hash of their metadata.
fn resolve(cg: &mut ConsumerGroup, topics: &TopicImage) -> u64 {
    let used: BTreeSet<String> = cg
        .members
        .values()
        .filter_map(|m| m.subscribed_regex.clone())
        .collect();
    cg.regexes.retain(|r, _| used.contains(r));
    for r in &used {
        cache_regex(&mut cg.regexes, r);
    }
    // Each distinct regex is matched once against the topics.
    cg.regex_topics = cg
        .regexes
        .iter()
        .map(|(source, re)| {
            let matched = topics
                .iter()
                .filter(|(name, meta)| !meta.internal && re.is_match(name))
                .map(|(name, _)| name.clone())
                .collect();
            (source.clone(), matched)
        })
        .collect();
    cg.resolved = true;
    let mut all = BTreeSet::new();
    for m in cg.members.values() {
        all.extend(member_topics(cg, m, topics));
    }
    // FNV-1a over (name, id, partitions) in name order.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    cg.topic_ids.clear();
    for name in &all {
        if let Some(meta) = topics.get(name) {
            cg.topic_ids.insert(name.clone(), meta.id);
            eat(name.as_bytes());
            eat(meta.id.as_bytes());
            eat(&meta.partitions.to_be_bytes());
        }
    }
    hash
}

/// Recomputes every member's target at the group epoch; records the targets that changed and
/// the new assignment epoch.
fn compute_targets(
    cg: &mut ConsumerGroup,
    group_id: &str,
    topics: &TopicImage,
    default_assignor: &str,
    fx: &mut Effects,
) {
    let assignor = cg.assignor(default_assignor).to_string();
    let new = {
        let input: Vec<AssignMember<'_>> = cg
            .members
            .values()
            .map(|m| AssignMember {
                member_id: &m.member_id,
                topics: member_topics(cg, m, topics),
                previous: cg.targets.get(&m.member_id),
            })
            .collect();
        assign(&assignor, &input, topics)
    };
    for (id, a) in &new {
        if cg.targets.get(id) != Some(a) {
            fx.records.push(records::target(group_id, id, Some(a)));
        }
    }
    cg.targets = new;
    cg.assignment_epoch = cg.epoch;
    fx.records.push(records::target_metadata(
        group_id,
        Some(cg.assignment_epoch),
    ));
}

/// Removes a member: tombstones for its records, its partitions released, and a new group
/// epoch so that the others are reassigned (Kafka's `consumerGroupFenceMember`).
pub(super) fn fence(cg: &mut ConsumerGroup, group_id: &str, member_id: &str, fx: &mut Effects) {
    let Some(m) = cg.members.shift_remove(member_id) else {
        return;
    };
    cg.release_all(&m);
    cg.targets.remove(member_id);
    cg.timers.remove(member_id);
    fx.records.push(records::current(group_id, member_id, None));
    fx.records.push(records::target(group_id, member_id, None));
    fx.records.push(records::member(group_id, member_id, None));
    cg.epoch = cg.epoch.wrapping_add(1);
    fx.records.push(records::metadata(
        group_id,
        Some((cg.epoch, cg.metadata_hash)),
    ));
}

/// Whether anything stored in the member-metadata record differs.
fn metadata_differs(a: &ConsumerMember, b: &ConsumerMember) -> bool {
    a.instance_id != b.instance_id
        || a.rack_id != b.rack_id
        || a.client_id != b.client_id
        || a.client_host != b.client_host
        || !a.same_subscription(b)
        || a.rebalance_timeout_ms != b.rebalance_timeout_ms
        || a.server_assignor != b.server_assignor
}

fn to_assignment(owned: &[(Uuid, Vec<i32>)]) -> Assignment {
    let mut a = Assignment::new();
    for (t, ps) in owned {
        a.entry(*t).or_default().extend(ps.iter().copied());
    }
    a
}

impl Coordinator {
    /// ConsumerGroupHeartbeat: joins (epoch 0), updates and reconciles, or leaves (-1, -2).
    /// `topics` is the cluster's topic metadata as of the request.
    pub fn consumer_heartbeat(
        &mut self,
        now_ms: i64,
        req: ConsumerHeartbeat,
        topics: &TopicImage,
    ) -> (ConsumerHeartbeatResult, Effects) {
        self.arm_sweep(now_ms);
        let mut fx = Effects::default();
        let result = validate(&req, &self.config.consumer_assignors).and_then(|()| {
            if req.member_epoch < 0 {
                self.consumer_leave(now_ms, &req, &mut fx)
            } else {
                self.consumer_join_or_update(now_ms, &req, topics, &mut fx)
            }
        });
        match result {
            Ok(r) => (r, fx),
            Err((error, message)) => {
                self.drop_if_unused(&req.group_id);
                (ConsumerHeartbeatResult::error(error, message), fx)
            }
        }
    }

    /// The group a joining (`create`) or current member heartbeats to. An Empty classic group
    /// (offsets only) becomes a consumer group, keeping its offsets, as in Kafka; a classic
    /// group with members is not a consumer group.
    fn consumer_group_mut(
        &mut self,
        group_id: &str,
        create: bool,
        now: i64,
        fx: &mut Effects,
    ) -> Result<&mut Group, Refusal> {
        if !self.groups.contains_key(group_id) {
            if !create {
                return Err((
                    GroupError::GroupIdNotFound,
                    format!("Consumer group {group_id} not found."),
                ));
            }
            let mut g = Group::new(group_id, now);
            g.consumer = Some(Box::default());
            self.groups.insert(group_id.to_string(), g);
        }
        let not_consumer = || {
            (
                GroupError::GroupIdNotFound,
                format!("Group {group_id} is not a consumer group."),
            )
        };
        let g = self.groups.get_mut(group_id).ok_or_else(not_consumer)?;
        if g.consumer.is_none() {
            if !(create && g.is_classic_without_members()) {
                return Err(not_consumer());
            }
            if g.generation_id > 0 {
                fx.records
                    .push(OffsetsLogRecord::group_metadata(group_id, None));
            }
            g.generation_id = 0;
            g.protocol_type = None;
            g.protocol_name = None;
            g.leader_id = None;
            g.subscribed_topics = None;
            g.consumer = Some(Box::default());
        }
        Ok(g)
    }

    fn consumer_join_or_update(
        &mut self,
        now: i64,
        req: &ConsumerHeartbeat,
        topics: &TopicImage,
        fx: &mut Effects,
    ) -> Result<ConsumerHeartbeatResult, Refusal> {
        let interval = self.config.consumer_heartbeat_interval_ms;
        let session = i64::from(self.config.consumer_session_timeout_ms);
        let max_size = self.config.consumer_max_size;
        let default_assignor = self
            .config
            .consumer_assignors
            .first()
            .cloned()
            .unwrap_or_else(|| ASSIGNORS[0].to_string());
        let joining = req.member_epoch == 0;
        let group_id = req.group_id.as_str();
        let g = self.consumer_group_mut(group_id, joining, now, fx)?;
        let cg = g.consumer.get_or_insert_with(Box::default);
        let member_id = if req.member_id.is_empty() {
            Uuid::new_v4().to_string()
        } else {
            req.member_id.clone()
        };
        let (old, replaced) = find_member(cg, req, &member_id)?;
        if old.is_none() && cg.members.len() >= max_size {
            return Err((
                GroupError::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {max_size} members."
                ),
            ));
        }

        // 1. The member with what the request changes.
        let mut m = old
            .clone()
            .unwrap_or_else(|| ConsumerMember::new(&member_id));
        if let Some(i) = &req.instance_id {
            m.instance_id = Some(i.clone());
        }
        if let Some(r) = &req.rack_id {
            m.rack_id = Some(r.clone());
        }
        if req.rebalance_timeout_ms != -1 {
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        if let Some(a) = &req.server_assignor {
            m.server_assignor = Some(a.clone());
        }
        if let Some(names) = &req.subscribed_topic_names {
            let mut names = names.clone();
            names.sort();
            names.dedup();
            m.subscribed_names = names;
        }
        if let Some(r) = &req.subscribed_topic_regex {
            m.subscribed_regex = Some(r.clone()).filter(|r| !r.is_empty());
        }
        m.client_id = req.client_id.clone();
        m.client_host = req.client_host.clone();
        if let Some(old_id) = &replaced {
            // A static member back under a new member id takes over the old one's state. A
            // different member already using that id (ids are the clients' own) is removed
            // first, so that nothing it holds is left behind.
            if cg.members.contains_key(&member_id) {
                fence(cg, group_id, &member_id, fx);
            }
            cg.members.shift_remove(old_id);
            cg.timers.remove(old_id);
            for owner in cg.owners.values_mut().filter(|o| *o == old_id) {
                owner.clone_from(&member_id);
            }
            if let Some(t) = cg.targets.remove(old_id) {
                fx.records
                    .push(records::target(group_id, &member_id, Some(&t)));
                cg.targets.insert(member_id.clone(), t);
            }
            fx.records.push(records::current(group_id, old_id, None));
            fx.records.push(records::target(group_id, old_id, None));
            fx.records.push(records::member(group_id, old_id, None));
        }
        let changed_subscription = old.as_ref().is_none_or(|o| !o.same_subscription(&m));
        if replaced.is_some() || old.as_ref().is_none_or(|o| metadata_differs(o, &m)) {
            fx.records
                .push(records::member(group_id, &member_id, Some(&m)));
        }
        cg.members.insert(member_id.clone(), m.clone());

        // 2. The group epoch: bumped for a new group, a changed subscription, or changed
        // metadata of the subscribed topics.
        let hash = resolve(cg, topics);
        let hash_changed = hash != cg.metadata_hash;
        let bump = cg.epoch == 0
            || changed_subscription
            || (hash_changed && cg.epoch <= cg.assignment_epoch);
        cg.metadata_hash = hash;
        if cg.epoch == 0 {
            // As Kafka 4.3+ (KAFKA-20268): a new group starts at epoch 1 with an empty target
            // assignment at epoch 1; the first computed assignment is epoch 2.
            cg.epoch = 1;
            cg.assignment_epoch = 1;
        }
        if bump {
            cg.epoch = cg.epoch.wrapping_add(1);
        }
        if bump || hash_changed {
            fx.records.push(records::metadata(
                group_id,
                Some((cg.epoch, cg.metadata_hash)),
            ));
        }

        // 3. The target assignment at the group epoch.
        if cg.epoch > cg.assignment_epoch {
            compute_targets(cg, group_id, topics, &default_assignor, fx);
        }

        // 4. One reconciliation step for this member.
        let owned = req.owned.as_deref().map(to_assignment);
        let target = cg.targets.get(&member_id).cloned().unwrap_or_default();
        let updated = {
            let owners = &cg.owners;
            let held = |t: Uuid, p: i32| owners.get(&(t, p)).is_some_and(|o| *o != member_id);
            reconcile(
                &m,
                &Target {
                    epoch: cg.assignment_epoch,
                    partitions: &target,
                    held_by_other: &held,
                },
                owned.as_ref(),
            )
        };
        if updated != m || old.is_none() || replaced.is_some() {
            cg.set_owner(Some(&m), &updated);
            fx.records
                .push(records::current(group_id, &member_id, Some(&updated)));
            cg.members.insert(member_id.clone(), updated.clone());
        }
        let timers = cg.timers.entry(member_id.clone()).or_insert(MemberTimers {
            session_deadline_ms: 0,
            rebalance_deadline_ms: None,
        });
        timers.session_deadline_ms = now.saturating_add(session);
        if updated.state == MemberState::UnrevokedPartitions {
            // Armed on every new revocation (Kafka reschedules whenever the member changed).
            if updated != m || timers.rebalance_deadline_ms.is_none() {
                timers.rebalance_deadline_ms =
                    Some(now.saturating_add(i64::from(updated.rebalance_timeout_ms.max(0))));
            }
        } else {
            timers.rebalance_deadline_ms = None;
        }

        // The assignment goes back when it changed, or to a full request (a join, or every
        // field set as after an error).
        let full = joining
            || (req.rebalance_timeout_ms != -1
                && (req.subscribed_topic_names.is_some() || req.subscribed_topic_regex.is_some())
                && req.owned.is_some());
        let changed = old.as_ref().is_none_or(|o| o.assigned != updated.assigned);
        Ok(ConsumerHeartbeatResult {
            error: None,
            message: None,
            member_id: Some(member_id),
            member_epoch: updated.epoch,
            heartbeat_interval_ms: interval,
            assignment: (full || changed).then(|| to_list(&updated.assigned)),
        })
    }

    fn consumer_leave(
        &mut self,
        now: i64,
        req: &ConsumerHeartbeat,
        fx: &mut Effects,
    ) -> Result<ConsumerHeartbeatResult, Refusal> {
        let session = i64::from(self.config.consumer_session_timeout_ms);
        let group_id = req.group_id.as_str();
        let g = self.groups.get_mut(group_id).ok_or_else(|| {
            (
                GroupError::GroupIdNotFound,
                format!("Group {group_id} not found."),
            )
        })?;
        let cg = g.consumer.as_deref_mut().ok_or_else(|| {
            (
                GroupError::GroupIdNotFound,
                format!("Group {group_id} is not a consumer group."),
            )
        })?;
        let left = |epoch| ConsumerHeartbeatResult {
            member_id: Some(req.member_id.clone()),
            member_epoch: epoch,
            ..Default::default()
        };
        let member_id = match &req.instance_id {
            None => {
                if !cg.members.contains_key(&req.member_id) {
                    return Err((
                        GroupError::UnknownMemberId,
                        format!(
                            "Member {} is not a member of group {group_id}.",
                            req.member_id
                        ),
                    ));
                }
                req.member_id.clone()
            }
            Some(instance) => {
                let h = cg.static_member(instance).ok_or_else(|| {
                    (
                        GroupError::UnknownMemberId,
                        format!("Instance id {instance} is unknown."),
                    )
                })?;
                if h != req.member_id {
                    return Err((
                        GroupError::FencedInstanceId,
                        format!(
                            "Static member {} with instance id {instance} was fenced by member {h}.",
                            req.member_id
                        ),
                    ));
                }
                if req.member_epoch == STATIC_LEAVE_EPOCH {
                    // Away for a restart: it keeps its partitions until its session ends.
                    let h = h.to_string();
                    let Some(old) = cg.members.get(&h).cloned() else {
                        return Ok(left(STATIC_LEAVE_EPOCH));
                    };
                    let mut away = old.clone();
                    away.epoch = STATIC_LEAVE_EPOCH;
                    away.revoking.clear();
                    cg.set_owner(Some(&old), &away);
                    fx.records.push(records::current(group_id, &h, Some(&away)));
                    cg.members.insert(h.clone(), away);
                    cg.timers.insert(
                        h,
                        MemberTimers {
                            session_deadline_ms: now.saturating_add(session),
                            rebalance_deadline_ms: None,
                        },
                    );
                    return Ok(left(STATIC_LEAVE_EPOCH));
                }
                h.to_string()
            }
        };
        fence(cg, group_id, &member_id, fx);
        Ok(left(super::LEAVE_EPOCH))
    }
}

/// Kafka's `ConsumerGroup.validateOffsetCommit`: with members, a commit must come from one of
/// them (OffsetCommit v9+; a transactional one may use any version), at its current epoch, or
/// at an older one for partitions it was assigned at or before that epoch (KIP-1251; the
/// partitions are checked one by one with [`ConsumerGroup::may_commit_at`]). Returns the older
/// epoch to check the partitions against, if any.
pub(in crate::group) fn validate_consumer_offset_commit(
    cg: &ConsumerGroup,
    member_id: &str,
    instance_id: Option<&str>,
    member_epoch: i32,
    transactional: bool,
    api_version: i16,
) -> Result<Option<i32>, GroupError> {
    if member_epoch < 0 && cg.members.is_empty() {
        return Ok(None);
    }
    // A TxnOffsetCommit need not name a member (`sendOffsetsToTransaction(offsets, groupId)`).
    if transactional && member_epoch == -1 && member_id.is_empty() && instance_id.is_none() {
        return Ok(None);
    }
    let m = cg
        .members
        .get(member_id)
        .ok_or(GroupError::UnknownMemberId)?;
    if !transactional && api_version < 9 {
        return Err(GroupError::UnsupportedVersion);
    }
    if member_epoch == m.epoch {
        return Ok(None);
    }
    if member_epoch > m.epoch || member_epoch < 0 {
        return Err(stale_commit(transactional));
    }
    Ok(Some(member_epoch))
}

/// The error for a commit at a stale epoch: STALE_MEMBER_EPOCH, or ILLEGAL_GENERATION for a
/// transactional one (older clients know no other), as Kafka answers.
pub(in crate::group) fn stale_commit(transactional: bool) -> GroupError {
    if transactional {
        GroupError::IllegalGeneration
    } else {
        GroupError::StaleMemberEpoch
    }
}
