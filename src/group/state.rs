//! One classic group and its members: the data the coordinator mutates, and the small queries
//! over it (protocol vote, who has joined, static member lookup). The transitions themselves
//! live in [`super::coordinator`].

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};

use super::consumer::ConsumerGroup;
use super::offsets::CommittedOffset;
use super::records::subscription_topics;
use super::ReplyId;

/// The protocol type of Kafka's Java consumer; only such groups have parseable subscriptions.
pub(super) const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// How long a brand-new member may wait parked in a JoinGroup before it is dropped (Kafka's
/// `NewMemberJoinTimeoutMs`): its socket is muted meanwhile, so a disconnect cannot be seen.
pub(super) const NEW_MEMBER_JOIN_TIMEOUT_MS: i64 = 5 * 60 * 1000;

/// State of a classic group, as in Kafka's `ClassicGroupState`.
///
/// **Empty**: the group has no members, but may have committed offsets (simple consumers, or a
/// consumer group whose members all left).
/// - JoinGroup: a new member is added and the group moves to PreparingRebalance (through the
///   initial rebalance delay).
/// - SyncGroup / Heartbeat: UNKNOWN_MEMBER_ID.
/// - LeaveGroup: UNKNOWN_MEMBER_ID (except a pending KIP-394 member, which is dropped).
/// - OffsetCommit: allowed with generation -1 and no member id (simple consumers); otherwise
///   UNKNOWN_MEMBER_ID.
/// - OffsetDelete / DeleteGroups: allowed.
/// - Retention: offsets expire `offsets.retention.ms` after the group became Empty; an Empty
///   group without offsets is removed (Dead).
///
/// **PreparingRebalance**: the group waits for every known member to (re)join.
/// - JoinGroup: parked until all members joined or the rebalance timeout (or, from Empty, the
///   initial delay) elapses; members that did not rejoin are removed (static ones are kept).
/// - SyncGroup / Heartbeat: REBALANCE_IN_PROGRESS (a heartbeat still refreshes the session).
/// - LeaveGroup: the member is removed, which may complete the join.
/// - OffsetCommit: allowed for current members (their heartbeat answer tells them to rejoin).
/// - OffsetDelete: only for topics the group is not subscribed to (GROUP_SUBSCRIBED_TO_TOPIC).
/// - DeleteGroups: NON_EMPTY_GROUP.
///
/// **CompletingRebalance**: everyone got its JoinGroup answer; the group waits for the leader's
/// assignment.
/// - JoinGroup: a member with unchanged metadata gets the current generation again; changed
///   metadata starts a new rebalance.
/// - SyncGroup: followers are parked; the leader's assignment is persisted, handed to every
///   parked member, and the group becomes Stable.
/// - Heartbeat: refreshes the session, no error.
/// - LeaveGroup / session expiry: member removed, new rebalance.
/// - OffsetCommit: REBALANCE_IN_PROGRESS.
/// - OffsetDelete / DeleteGroups: as in PreparingRebalance.
///
/// **Stable**: the assignment is known.
/// - JoinGroup: the leader, or a member with changed metadata, starts a rebalance; a follower
///   with unchanged metadata gets the current generation; a static member rejoining with an
///   unknown member id replaces its old id without a rebalance.
/// - SyncGroup: returns the member's assignment.
/// - Heartbeat: refreshes the session, no error.
/// - LeaveGroup / session expiry / missing SyncGroup: member removed, new rebalance.
/// - OffsetCommit: allowed for current members.
/// - OffsetDelete / DeleteGroups: as in PreparingRebalance.
///
/// **Dead**: the group is gone (deleted, or expired while Empty); Gregor removes it from the map
/// at once, so this state is only reported by DescribeGroups for an unknown group.
///
/// Transitions:
/// - Empty -> PreparingRebalance (a member joins), Empty -> Dead (deleted or expired).
/// - PreparingRebalance -> CompletingRebalance (join completes with members),
///   PreparingRebalance -> Empty (join completes with none left).
/// - CompletingRebalance -> Stable (leader's SyncGroup persisted),
///   CompletingRebalance -> PreparingRebalance (join of changed/new member, leave, expiry).
/// - Stable -> PreparingRebalance (leader rejoin, changed metadata, new member, leave, expiry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; see the type's documentation.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Waiting for the leader's assignment.
    CompletingRebalance,
    /// Assignment distributed.
    Stable,
    /// Removed.
    Dead,
}

impl GroupState {
    /// The state's name as Kafka spells it in DescribeGroups and ListGroups.
    pub fn as_str(&self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// Kafka's `InitialDelayedJoin`: a rebalance of an Empty group waits `delay_ms`, and again
/// (up to `remaining_ms` in total) each time a new member arrived during the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct InitialDelay {
    /// Length of the wait now running (the join deadline is its end).
    pub(super) delay_ms: i64,
    /// Budget left for further extensions (rebalance timeout minus waits so far).
    pub(super) remaining_ms: i64,
}

/// One member of a classic group.
#[derive(Debug, Clone)]
pub(super) struct Member {
    /// The coordinator-assigned id the member uses in every request.
    pub(super) member_id: String,
    /// KIP-345 static membership id; survives restarts of the client.
    pub(super) group_instance_id: Option<String>,
    /// Client id, for DescribeGroups.
    pub(super) client_id: String,
    /// Client host, for DescribeGroups.
    pub(super) client_host: String,
    /// How long the group waits for this member to rejoin (the group uses the max).
    pub(super) rebalance_timeout_ms: i32,
    /// How long the member may go without a heartbeat.
    pub(super) session_timeout_ms: i32,
    /// Supported protocols in preference order, each with its metadata (subscription).
    pub(super) protocols: Vec<(String, Bytes)>,
    /// The assignment of the current generation (empty until the leader's SyncGroup).
    pub(super) assignment: Bytes,
    /// The parked JoinGroup request, while the member waits for the join to complete.
    pub(super) awaiting_join: Option<ReplyId>,
    /// The parked SyncGroup request, while the member waits for the leader's assignment.
    pub(super) awaiting_sync: Option<ReplyId>,
    /// Joined in the current rebalance and never answered yet: expires after
    /// [`NEW_MEMBER_JOIN_TIMEOUT_MS`] even while parked.
    pub(super) is_new: bool,
    /// When the member's session (or new-member join wait) runs out.
    pub(super) heartbeat_deadline_ms: i64,
}

impl Member {
    /// The member's metadata for `protocol`, empty if it does not support it.
    pub(super) fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// Whether a rejoin with `protocols` changes nothing (Kafka's `MemberMetadata.matches`).
    pub(super) fn matches(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    /// When the member expires, if it can: members parked in a join (unless new) or a sync
    /// are kept alive by the coordinator, as in Kafka's `hasSatisfiedHeartbeat`.
    pub(super) fn expiry(&self) -> Option<i64> {
        if self.is_new || (self.awaiting_join.is_none() && self.awaiting_sync.is_none()) {
            Some(self.heartbeat_deadline_ms)
        } else {
            None
        }
    }
}

/// One classic group: membership, rebalance progress and committed offsets.
#[derive(Debug, Clone)]
pub(super) struct Group {
    /// The group id.
    pub(super) group_id: String,
    /// Current state; see [`GroupState`].
    pub(super) state: GroupState,
    /// When the group entered `state` (Kafka's `currentStateTimestamp`): the base of offset
    /// retention for Empty groups.
    pub(super) state_since_ms: i64,
    /// Generation of the last completed join; 0 before the first.
    pub(super) generation_id: i32,
    /// Protocol type of the members ("consumer", ...); `None` for simple (offsets-only) groups.
    pub(super) protocol_type: Option<String>,
    /// Protocol chosen by the last completed join.
    pub(super) protocol_name: Option<String>,
    /// The member that computes the assignment.
    pub(super) leader_id: Option<String>,
    /// Members by id, in join order (the first one becomes leader when needed).
    pub(super) members: IndexMap<String, Member>,
    /// KIP-394 members that were handed an id but have not joined with it yet, with the
    /// deadline after which they are forgotten.
    pub(super) pending_members: IndexMap<String, i64>,
    /// Members that got the join answer but have not sent SyncGroup yet.
    pub(super) pending_sync: IndexSet<String>,
    /// When members still in `pending_sync` are removed (Kafka's DelayedSync).
    pub(super) sync_deadline_ms: Option<i64>,
    /// When the current PreparingRebalance stops waiting for members.
    pub(super) join_deadline_ms: Option<i64>,
    /// Set while the join runs under Kafka's initial rebalance delay.
    pub(super) initial_delay: Option<InitialDelay>,
    /// A new member joined during the initial delay, which extends it once more.
    pub(super) new_member_added: bool,
    /// Topics the members subscribe to (consumer protocol), `None` when unknown.
    pub(super) subscribed_topics: Option<HashSet<String>>,
    /// Committed offsets that were persisted.
    pub(super) offsets: IndexMap<(String, i32), CommittedOffset>,
    /// Partitions with commits handed to the log but not yet confirmed, with their count.
    pub(super) pending_offsets: HashMap<(String, i32), usize>,
    /// Offsets of open transactions (TxnOffsetCommit), by producer id: applied by the
    /// transaction's COMMIT marker, dropped by its ABORT.
    pub(super) txn_offsets: HashMap<i64, IndexMap<(String, i32), CommittedOffset>>,
    /// Set for a KIP-848 consumer group: its members and assignment (the classic membership
    /// fields above then stay empty).
    pub(super) consumer: Option<Box<ConsumerGroup>>,
}

impl Group {
    /// A new Empty group.
    pub(super) fn new(group_id: &str, now_ms: i64) -> Self {
        Group {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            state_since_ms: now_ms,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: IndexMap::new(),
            pending_members: IndexMap::new(),
            pending_sync: IndexSet::new(),
            sync_deadline_ms: None,
            join_deadline_ms: None,
            initial_delay: None,
            new_member_added: false,
            subscribed_topics: None,
            offsets: IndexMap::new(),
            pending_offsets: HashMap::new(),
            txn_offsets: HashMap::new(),
            consumer: None,
        }
    }

    /// Moves to `state`, remembering when.
    pub(super) fn transition(&mut self, state: GroupState, now_ms: i64) {
        self.state = state;
        self.state_since_ms = now_ms;
    }

    /// Whether a rebalance may start from the current state (Kafka's `canRebalance`).
    pub(super) fn can_rebalance(&self) -> bool {
        matches!(
            self.state,
            GroupState::Empty | GroupState::Stable | GroupState::CompletingRebalance
        )
    }

    /// Whether `member_id` leads the group.
    pub(super) fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    /// The member id currently holding static `instance_id`.
    pub(super) fn static_member_id(&self, instance_id: &str) -> Option<&str> {
        self.members
            .values()
            .find(|m| m.group_instance_id.as_deref() == Some(instance_id))
            .map(|m| m.member_id.as_str())
    }

    /// The largest rebalance timeout of the members: how long a rebalance waits.
    pub(super) fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    /// Members parked in JoinGroup.
    pub(super) fn num_awaiting_join(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.awaiting_join.is_some())
            .count()
    }

    /// Every member rejoined and no KIP-394 member is on its way (Kafka's `hasAllMembersJoined`).
    pub(super) fn all_members_joined(&self) -> bool {
        self.num_awaiting_join() == self.members.len() && self.pending_members.is_empty()
    }

    /// Whether a member with `protocol_type` and `protocols` may join (Kafka's
    /// `supportsProtocols`): an Empty group takes any non-empty type and list; otherwise the type
    /// must match and one of the protocols must be supported by every current member.
    pub(super) fn supports_protocols(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
    ) -> bool {
        if self.state == GroupState::Empty {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(name, _)| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == name))
            })
    }

    /// The protocol for the next generation: among those every member supports, each member
    /// votes for its most preferred one and the most votes win (ties: first voted). If no
    /// protocol is common (a member changed its list mid-rebalance), the leader's (or first
    /// member's) favourite is used rather than failing.
    pub(super) fn select_protocol(&self) -> Option<String> {
        let mut votes: IndexMap<&str, usize> = IndexMap::new();
        for member in self.members.values() {
            let vote = member
                .protocols
                .iter()
                .map(|(n, _)| n.as_str())
                .find(|name| {
                    self.members
                        .values()
                        .all(|m| m.protocols.iter().any(|(n, _)| n == name))
                });
            if let Some(vote) = vote {
                *votes.entry(vote).or_insert(0) += 1;
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, count) in votes {
            if best.is_none_or(|(_, c)| count > c) {
                best = Some((name, count));
            }
        }
        if let Some((name, _)) = best {
            return Some(name.to_string());
        }
        let fallback = self
            .leader_id
            .as_ref()
            .and_then(|id| self.members.get(id))
            .or_else(|| self.members.values().next())?;
        fallback.protocols.first().map(|(n, _)| n.clone())
    }

    /// Topics subscribed by the members under the selected protocol (Kafka's
    /// `computeSubscribedTopics`); `None` if not a consumer group or a subscription is unreadable.
    pub(super) fn compute_subscribed_topics(&self) -> Option<HashSet<String>> {
        if self.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
            return None;
        }
        let protocol = self.protocol_name.as_deref()?;
        if self.members.is_empty() {
            return None;
        }
        let mut topics = HashSet::new();
        for member in self.members.values() {
            topics.extend(subscription_topics(&member.metadata(protocol))?);
        }
        Some(topics)
    }

    /// Whether the group consumes `topic` (unknown subscriptions count as subscribed, as in
    /// Kafka's `isSubscribedToTopic`).
    pub(super) fn is_subscribed_to(&self, topic: &str) -> bool {
        if let Some(cg) = &self.consumer {
            return cg.is_subscribed_to(topic);
        }
        match &self.subscribed_topics {
            Some(topics) => topics.contains(topic),
            None => true,
        }
    }

    /// Whether the group has offsets, persisted or pending.
    pub(super) fn has_offsets(&self) -> bool {
        !self.offsets.is_empty() || !self.pending_offsets.is_empty() || !self.txn_offsets.is_empty()
    }

    /// Nothing worth keeping: no members, no pending members, no offsets, no rebalance history.
    pub(super) fn is_unused(&self) -> bool {
        self.state == GroupState::Empty
            && self.members.is_empty()
            && self.pending_members.is_empty()
            && !self.has_offsets()
            && self.generation_id == 0
            && self
                .consumer
                .as_ref()
                .is_none_or(|c| c.members.is_empty() && c.epoch == 0)
    }

    /// A classic group with no members (offsets only): it may become a consumer group.
    pub(super) fn is_classic_without_members(&self) -> bool {
        self.consumer.is_none()
            && self.state == GroupState::Empty
            && self.members.is_empty()
            && self.pending_members.is_empty()
    }

    /// Whether the group has members, of either protocol.
    pub(super) fn is_active(&self) -> bool {
        self.state != GroupState::Empty
            || self
                .consumer
                .as_ref()
                .is_some_and(|c| !c.members.is_empty())
    }
}
