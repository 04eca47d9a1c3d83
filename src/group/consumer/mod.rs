//! KIP-848 consumer groups (`group.protocol=consumer`): the group coordinator computes the
//! assignment and moves each member to it with ConsumerGroupHeartbeat, following Kafka 4's
//! `GroupMetadataManager` and `modern/consumer/` (ConsumerGroup, ConsumerGroupMember,
//! CurrentAssignmentBuilder, the uniform and range assignors).
//!
//! - The **group epoch** is bumped when membership, a subscription, or the metadata of a
//!   subscribed topic (partition count, a topic created that a regex matches) changes.
//! - The **target assignment** is recomputed at the group epoch by the server-side assignor
//!   (`uniform`, sticky and balanced, or `range`), the first heartbeat after the bump.
//! - Each member **reconciles** towards its target in its own heartbeats ([`reconcile`]): it
//!   first revokes what it must give up (state UNREVOKED_PARTITIONS, at its old epoch), then
//!   moves to the target epoch and is given the partitions that are free; a partition another
//!   member still holds is given only once that member reported it revoked
//!   (UNRELEASED_PARTITIONS).
//! - Members are fenced (removed) when their session runs out
//!   (`group.consumer.session.timeout.ms`), when they do not revoke within their rebalance
//!   timeout, or when they leave (epoch -1). A static member (`group.instance.id`) leaving with
//!   epoch -2 keeps its partitions until its session runs out, and a new instance with the same
//!   id takes them over.
//!
//! The group lives in the shared [`super::state::Group`] (whose committed offsets it uses) as
//! [`ConsumerGroup`]; its records are Kafka's (`records`), replayed on load. Pure: time and the
//! topic metadata ([`TopicImage`]) are passed in.

mod assign;
mod heartbeat;
mod ops;
mod reconcile;
pub(super) mod records;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use indexmap::IndexMap;
use uuid::Uuid;

use super::GroupError;

pub(super) use heartbeat::{stale_commit, validate_consumer_offset_commit};
pub(super) use ops::deletion_records;

/// Partitions by topic id: a member's assignment, target, or partitions to revoke.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// Member epoch of a heartbeat that leaves the group.
pub const LEAVE_EPOCH: i32 = -1;
/// Member epoch of a static member leaving for a restart (keeps its partitions).
pub const STATIC_LEAVE_EPOCH: i32 = -2;

/// One topic as the assignor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TopicMeta {
    /// The topic id the assignments use.
    pub id: Uuid,
    /// How many partitions it has.
    pub partitions: i32,
    /// Internal topics are never matched by a regex.
    pub internal: bool,
}

/// The topics of the cluster, as of the request: what subscriptions resolve against.
#[derive(Debug, Clone, Default)]
pub struct TopicImage {
    by_name: BTreeMap<String, TopicMeta>,
    names: HashMap<Uuid, String>,
}

impl TopicImage {
    /// Adds a topic.
    pub fn insert(&mut self, name: &str, meta: TopicMeta) {
        self.names.insert(meta.id, name.to_string());
        self.by_name.insert(name.to_string(), meta);
    }

    /// A topic by name.
    pub fn get(&self, name: &str) -> Option<&TopicMeta> {
        self.by_name.get(name)
    }

    /// A topic's name by id.
    pub fn name_of(&self, id: Uuid) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }

    /// Every topic, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &TopicMeta)> {
        self.by_name.iter()
    }
}

/// Where a member is in its reconciliation (Kafka's `MemberState`; the values are the ones
/// stored in the current-assignment record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// At its target epoch, owning everything it may own.
    Stable,
    /// Must revoke partitions before it moves on.
    UnrevokedPartitions,
    /// At the target epoch, waiting for partitions other members still hold.
    UnreleasedPartitions,
}

impl MemberState {
    pub(super) fn code(self) -> i8 {
        match self {
            MemberState::Stable => 1,
            MemberState::UnrevokedPartitions => 2,
            MemberState::UnreleasedPartitions => 3,
        }
    }

    pub(super) fn from_code(code: i8) -> MemberState {
        match code {
            2 => MemberState::UnrevokedPartitions,
            3 => MemberState::UnreleasedPartitions,
            _ => MemberState::Stable,
        }
    }
}

/// One member of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ConsumerMember {
    pub(super) member_id: String,
    pub(super) instance_id: Option<String>,
    pub(super) rack_id: Option<String>,
    pub(super) client_id: String,
    pub(super) client_host: String,
    /// Subscribed topic names, sorted and without repeats.
    pub(super) subscribed_names: Vec<String>,
    pub(super) subscribed_regex: Option<String>,
    pub(super) server_assignor: Option<String>,
    pub(super) rebalance_timeout_ms: i32,
    /// The epoch the member must send; -2 while a static member is away.
    pub(super) epoch: i32,
    /// The epoch before the last bump (a member that missed an answer may send it).
    pub(super) previous_epoch: i32,
    pub(super) state: MemberState,
    /// What the member owns (and was told it owns).
    pub(super) assigned: Assignment,
    /// What it owns and must give up.
    pub(super) revoking: Assignment,
    /// KIP-1251: the member epoch at which each assigned partition was given to it. A commit
    /// at an older epoch is accepted for a partition assigned at or before that epoch.
    pub(super) assignment_epochs: BTreeMap<(Uuid, i32), i32>,
}

impl ConsumerMember {
    fn new(member_id: &str) -> Self {
        ConsumerMember {
            member_id: member_id.to_string(),
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            subscribed_names: Vec::new(),
            subscribed_regex: None,
            server_assignor: None,
            rebalance_timeout_ms: -1,
            epoch: 0,
            previous_epoch: -1,
            state: MemberState::Stable,
            assigned: Assignment::new(),
            revoking: Assignment::new(),
            assignment_epochs: BTreeMap::new(),
        }
    }

    /// Keeps the assignment epochs of partitions still assigned; partitions new to `assigned`
    /// get `epoch`.
    pub(super) fn stamp_assignment_epochs(&mut self, previous: &ConsumerMember, epoch: i32) {
        let mut epochs = BTreeMap::new();
        for (t, ps) in &self.assigned {
            for p in ps {
                let e = previous.assignment_epochs.get(&(*t, *p)).copied();
                let held = previous.assigned.get(t).is_some_and(|a| a.contains(p));
                epochs.insert((*t, *p), e.filter(|_| held).unwrap_or(epoch));
            }
        }
        self.assignment_epochs = epochs;
    }

    /// At the target epoch with nothing left to do (Kafka's `isReconciledTo`).
    pub(super) fn is_reconciled_to(&self, epoch: i32) -> bool {
        self.state == MemberState::Stable && self.epoch == epoch
    }

    /// The same subscription (what bumps the group epoch when it changes).
    fn same_subscription(&self, other: &ConsumerMember) -> bool {
        self.subscribed_names == other.subscribed_names
            && self.subscribed_regex == other.subscribed_regex
    }
}

/// Deadlines of one member, not persisted: a loaded group starts every session afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MemberTimers {
    /// When the member is fenced for silence.
    pub(super) session_deadline_ms: i64,
    /// When the member is fenced for not revoking, while it must revoke.
    pub(super) rebalance_deadline_ms: Option<i64>,
}

/// A KIP-848 group: epochs, members, target assignment and who holds which partition.
#[derive(Debug, Clone, Default)]
pub(super) struct ConsumerGroup {
    /// Bumped by every change that needs a new assignment; 0 before the first member.
    pub(super) epoch: i32,
    /// The epoch the target assignment was computed at.
    pub(super) assignment_epoch: i32,
    /// Hash of the subscribed topics' metadata at the last bump.
    pub(super) metadata_hash: u64,
    pub(super) members: IndexMap<String, ConsumerMember>,
    pub(super) timers: HashMap<String, MemberTimers>,
    /// Target assignment by member id.
    pub(super) targets: HashMap<String, Assignment>,
    /// Which member holds each partition (assigned or revoking).
    pub(super) owners: HashMap<(Uuid, i32), String>,
    /// Compiled subscription regexes, by source.
    pub(super) regexes: HashMap<String, regex::Regex>,
    /// The topics the members subscribe to (regexes resolved), with their ids, as of the last
    /// heartbeat (commits name topics).
    pub(super) topic_ids: HashMap<String, Uuid>,
    /// The topics each regex matched at the last heartbeat.
    pub(super) regex_topics: HashMap<String, BTreeSet<String>>,
    /// Whether the subscriptions were resolved against the topics since the group was loaded.
    pub(super) resolved: bool,
}

impl ConsumerGroup {
    /// The state as Kafka names it (ConsumerGroupDescribe, ListGroups).
    pub(super) fn state(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.epoch > self.assignment_epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| !m.is_reconciled_to(self.assignment_epoch))
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    /// The member id holding static `instance_id`.
    pub(super) fn static_member(&self, instance_id: &str) -> Option<&str> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
            .map(|m| m.member_id.as_str())
    }

    /// The assignor the group uses: the one most members name, else the configured default.
    pub(super) fn assignor<'a>(&'a self, default: &'a str) -> &'a str {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = m.server_assignor.as_deref() {
                *votes.entry(a).or_insert(0) += 1;
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, n) in votes {
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((name, n));
            }
        }
        best.map_or(default, |(name, _)| name)
    }

    /// Records `member` as the holder of its assigned and revoking partitions, forgetting
    /// what it held before.
    pub(super) fn set_owner(&mut self, old: Option<&ConsumerMember>, new: &ConsumerMember) {
        if let Some(old) = old {
            self.release_all(old);
        }
        for (topic, parts) in new.assigned.iter().chain(new.revoking.iter()) {
            for p in parts {
                self.owners.insert((*topic, *p), new.member_id.clone());
            }
        }
    }

    /// Forgets `member` as the holder of anything.
    pub(super) fn release_all(&mut self, member: &ConsumerMember) {
        for (topic, parts) in member.assigned.iter().chain(member.revoking.iter()) {
            for p in parts {
                if self.owners.get(&(*topic, *p)) == Some(&member.member_id) {
                    self.owners.remove(&(*topic, *p));
                }
            }
        }
    }

    /// Kafka's commit rule for a member committing at an older epoch (KIP-1251):
    /// `assignment epoch of the partition <= request epoch`, and the member holds it.
    pub(super) fn may_commit_at(
        &self,
        member_id: &str,
        epoch: i32,
        topic: &str,
        partition: i32,
    ) -> bool {
        let Some(m) = self.members.get(member_id) else {
            return false;
        };
        let Some(id) = self.topic_ids.get(topic) else {
            return false;
        };
        m.assignment_epochs
            .get(&(*id, partition))
            .is_some_and(|assigned_at| *assigned_at <= epoch)
    }

    /// Whether the group consumes `topic` (offsets of subscribed topics do not expire and
    /// cannot be deleted).
    pub(super) fn is_subscribed_to(&self, topic: &str) -> bool {
        if self.members.is_empty() {
            return false;
        }
        if self.resolved {
            return self.topic_ids.contains_key(topic);
        }
        // Loaded and not heartbeated to yet: the names are known, what a regex matches is not,
        // and an unknown subscription counts as subscribed (as Kafka's `isSubscribedToTopic`).
        self.members
            .values()
            .any(|m| m.subscribed_regex.is_some() || m.subscribed_names.iter().any(|n| n == topic))
    }
}

/// A ConsumerGroupHeartbeat, decoded. `None` fields mean "unchanged".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerHeartbeat {
    /// The group.
    pub group_id: String,
    /// The member's id (v1: chosen by the client; v0: empty on join).
    pub member_id: String,
    /// 0 to join, -1 to leave, -2 for a static member's temporary leave, else the current one.
    pub member_epoch: i32,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// `client.rack`.
    pub rack_id: Option<String>,
    /// -1 for unchanged.
    pub rebalance_timeout_ms: i32,
    /// Subscribed topic names.
    pub subscribed_topic_names: Option<Vec<String>>,
    /// Subscribed regex (v1), evaluated on the broker as a full match.
    pub subscribed_topic_regex: Option<String>,
    /// The server assignor the member asks for.
    pub server_assignor: Option<String>,
    /// The partitions the member owns, when it reports them.
    pub owned: Option<Vec<(Uuid, Vec<i32>)>>,
    /// Client id of the connection.
    pub client_id: String,
    /// Host of the connection.
    pub client_host: String,
    /// Request version (v1 requires a member id).
    pub version: i16,
}

/// A ConsumerGroupHeartbeat answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerHeartbeatResult {
    /// `None` on success.
    pub error: Option<GroupError>,
    /// Kafka's error message, when there is one.
    pub message: Option<String>,
    /// The member id.
    pub member_id: Option<String>,
    /// The epoch the member must use from now on.
    pub member_epoch: i32,
    /// How often to heartbeat.
    pub heartbeat_interval_ms: i32,
    /// The member's partitions, when they changed or the request was a full one.
    pub assignment: Option<Vec<(Uuid, Vec<i32>)>>,
}

impl ConsumerHeartbeatResult {
    /// A refusal with Kafka's message.
    pub fn error(error: GroupError, message: String) -> Self {
        ConsumerHeartbeatResult {
            error: Some(error),
            message: Some(message),
            member_epoch: 0,
            ..Default::default()
        }
    }
}

/// One member in a ConsumerGroupDescribe answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static id.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack_id: Option<String>,
    /// Current epoch.
    pub member_epoch: i32,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Subscribed names.
    pub subscribed_topic_names: Vec<String>,
    /// Subscribed regex.
    pub subscribed_topic_regex: Option<String>,
    /// What it owns.
    pub assignment: Vec<(Uuid, Vec<i32>)>,
    /// What it is moving to.
    pub target_assignment: Vec<(Uuid, Vec<i32>)>,
}

/// A ConsumerGroupDescribe answer for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupDescription {
    /// The group.
    pub group_id: String,
    /// GROUP_ID_NOT_FOUND for an unknown or classic group.
    pub error: Option<GroupError>,
    /// Kafka's message with the error.
    pub message: Option<String>,
    /// Empty, Assigning, Reconciling or Stable.
    pub state: &'static str,
    /// Group epoch.
    pub group_epoch: i32,
    /// Target assignment epoch.
    pub assignment_epoch: i32,
    /// The assignor in use.
    pub assignor: String,
    /// Members.
    pub members: Vec<ConsumerMemberDescription>,
}

pub(super) fn to_list(a: &Assignment) -> Vec<(Uuid, Vec<i32>)> {
    a.iter()
        .filter(|(_, ps)| !ps.is_empty())
        .map(|(t, ps)| (*t, ps.iter().copied().collect()))
        .collect()
}
