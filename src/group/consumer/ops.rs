//! The consumer groups' deadlines, ConsumerGroupDescribe, OffsetFetch's member check, deletion
//! records, and the replay of their records.

use super::heartbeat::fence;
use super::records::{self, ConsumerRecord};
use super::{
    to_list, ConsumerGroupDescription, ConsumerMember, ConsumerMemberDescription, MemberTimers,
};
use crate::group::records::RecordError;
use crate::group::state::Group;
use crate::group::{Coordinator, Effects, GroupError, OffsetsLogRecord};

impl Coordinator {
    /// Fences members whose session ran out, or that did not revoke within their rebalance
    /// timeout.
    pub(in crate::group) fn tick_consumer_groups(&mut self, now: i64, fx: &mut Effects) {
        for g in self.groups.values_mut() {
            let Group {
                group_id, consumer, ..
            } = g;
            let Some(cg) = consumer.as_deref_mut() else {
                continue;
            };
            let expired: Vec<String> = cg
                .timers
                .iter()
                .filter(|(_, t)| {
                    t.session_deadline_ms <= now
                        || t.rebalance_deadline_ms.is_some_and(|d| d <= now)
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired {
                fence(cg, group_id, &id, fx);
            }
        }
    }

    /// The earliest consumer-group deadline.
    pub(in crate::group) fn next_consumer_deadline(&self) -> Option<i64> {
        self.groups
            .values()
            .filter_map(|g| g.consumer.as_deref())
            .flat_map(|cg| cg.timers.values())
            .flat_map(|t| std::iter::once(t.session_deadline_ms).chain(t.rebalance_deadline_ms))
            .min()
    }

    /// ConsumerGroupDescribe for one group: GROUP_ID_NOT_FOUND for an unknown or a classic
    /// group (the admin client then falls back to DescribeGroups).
    pub fn describe_consumer_group(&self, group_id: &str) -> ConsumerGroupDescription {
        let not_found = |message: String| ConsumerGroupDescription {
            group_id: group_id.to_string(),
            error: Some(GroupError::GroupIdNotFound),
            message: Some(message),
            state: "Dead",
            group_epoch: 0,
            assignment_epoch: 0,
            assignor: String::new(),
            members: Vec::new(),
        };
        let Some(g) = self.groups.get(group_id) else {
            return not_found(format!("Group {group_id} not found."));
        };
        let Some(cg) = g.consumer.as_deref() else {
            return not_found(format!("Group {group_id} is not a consumer group."));
        };
        let default = self
            .config
            .consumer_assignors
            .first()
            .map_or("uniform", String::as_str);
        ConsumerGroupDescription {
            group_id: group_id.to_string(),
            error: None,
            message: None,
            state: cg.state(),
            group_epoch: cg.epoch,
            assignment_epoch: cg.assignment_epoch,
            assignor: cg.assignor(default).to_string(),
            members: cg
                .members
                .values()
                .map(|m| ConsumerMemberDescription {
                    member_id: m.member_id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    member_epoch: m.epoch,
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed_topic_names: m.subscribed_names.clone(),
                    subscribed_topic_regex: m.subscribed_regex.clone(),
                    assignment: to_list(&m.assigned),
                    target_assignment: cg
                        .targets
                        .get(&m.member_id)
                        .map(to_list)
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// OffsetFetch v9's check (Kafka's `validateOffsetFetch`): a fetch naming a member (or an
    /// epoch) must come from a current member at its epoch; no member id with a negative epoch
    /// (admin clients) and classic groups are not checked.
    pub fn check_offset_fetch_member(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), GroupError> {
        let Some(cg) = self
            .groups
            .get(group_id)
            .and_then(|g| g.consumer.as_deref())
        else {
            return Ok(());
        };
        if member_id.is_none() && member_epoch < 0 {
            return Ok(());
        }
        let m = member_id
            .and_then(|id| cg.members.get(id))
            .ok_or(GroupError::UnknownMemberId)?;
        if m.epoch != member_epoch {
            return Err(GroupError::StaleMemberEpoch);
        }
        Ok(())
    }

    /// Applies one consumer-group record while loading. Members come back with a fresh session.
    pub(in crate::group) fn replay_consumer(
        &mut self,
        now: i64,
        record: &OffsetsLogRecord,
    ) -> Result<(), RecordError> {
        let rec = records::decode(record)?;
        let Some(group_id) = rec.group().map(str::to_string) else {
            return Ok(());
        };
        let session = i64::from(self.config.consumer_session_timeout_ms);
        let g = self
            .groups
            .entry(group_id.clone())
            .or_insert_with(|| Group::new(&group_id, now));
        if let ConsumerRecord::Metadata { value: None, .. } = rec {
            // The group was deleted (or became a classic group).
            g.consumer = None;
            self.drop_if_unused(&group_id);
            return Ok(());
        }
        let cg = g.consumer.get_or_insert_with(Box::default);
        let fresh = MemberTimers {
            session_deadline_ms: now.saturating_add(session),
            rebalance_deadline_ms: None,
        };
        match rec {
            ConsumerRecord::Metadata { value, .. } => {
                if let Some((epoch, hash)) = value {
                    cg.epoch = epoch;
                    cg.metadata_hash = hash;
                }
            }
            ConsumerRecord::PartitionMetadata => {}
            ConsumerRecord::Member { member, value, .. } => match value {
                Some(v) => {
                    let m = cg
                        .members
                        .entry(member.clone())
                        .or_insert_with(|| ConsumerMember::new(&member));
                    m.instance_id = v.instance_id;
                    m.rack_id = v.rack_id;
                    m.client_id = v.client_id;
                    m.client_host = v.client_host;
                    m.subscribed_names = v.subscribed_names;
                    m.subscribed_regex = v.subscribed_regex;
                    m.rebalance_timeout_ms = v.rebalance_timeout_ms;
                    m.server_assignor = v.server_assignor;
                    cg.timers.entry(member).or_insert(fresh);
                }
                None => {
                    if let Some(m) = cg.members.shift_remove(&member) {
                        cg.release_all(&m);
                    }
                    cg.timers.remove(&member);
                }
            },
            ConsumerRecord::TargetMetadata { value, .. } => {
                if let Some(e) = value {
                    cg.assignment_epoch = e;
                }
            }
            ConsumerRecord::Target { member, value, .. } => match value {
                Some(a) => {
                    cg.targets.insert(member, a);
                }
                None => {
                    cg.targets.remove(&member);
                }
            },
            ConsumerRecord::Current { member, value, .. } => {
                let Some(v) = value else {
                    if let Some(m) = cg.members.get(&member).cloned() {
                        cg.release_all(&m);
                    }
                    return Ok(());
                };
                let old = cg.members.get(&member).cloned();
                let mut m = old.clone().unwrap_or_else(|| ConsumerMember::new(&member));
                m.epoch = v.epoch;
                m.previous_epoch = v.previous_epoch;
                m.state = v.state;
                // Partitions stored without an assignment epoch count as assigned at the
                // member's epoch.
                m.assignment_epochs = v
                    .assigned
                    .iter()
                    .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
                    .map(|k| (k, v.assignment_epochs.get(&k).copied().unwrap_or(v.epoch)))
                    .collect();
                m.assigned = v.assigned;
                m.revoking = v.revoking;
                cg.set_owner(old.as_ref(), &m);
                cg.members.insert(member.clone(), m);
                cg.timers.entry(member).or_insert(fresh);
            }
        }
        Ok(())
    }
}

/// Tombstones for a deleted consumer group's own records (its members have none left).
pub(in crate::group) fn deletion_records(group_id: &str, fx: &mut Effects) {
    fx.records.push(records::target_metadata(group_id, None));
    fx.records.push(records::metadata(group_id, None));
}
