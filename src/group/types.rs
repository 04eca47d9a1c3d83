//! The coordinator's plain request and answer types. They carry what the wire requests carry,
//! already decoded; the broker layer converts to and from `kafka-protocol` messages.

use bytes::Bytes;

use super::records::OffsetsLogRecord;
use super::GroupError;

/// Identifies a parked request (JoinGroup, SyncGroup), chosen by the caller; the answer comes
/// back in [`Effects::replies`] under the same id, possibly from a later call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyId(pub u64);

/// What the caller must do after a coordinator call.
///
/// Contract: append `records` to `__consumer_offsets` first, then send `replies` (Kafka answers
/// a SyncGroup only once the assignment is in the log). If the append fails, the caller answers
/// the replies with its own error instead; the state machine has already moved on, as after a
/// broker crash right after the answer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use]
pub struct Effects {
    /// Answers to parked (or just-received) JoinGroup and SyncGroup requests.
    pub replies: Vec<(ReplyId, Reply)>,
    /// Records to append to the internal offsets log, in order.
    pub records: Vec<OffsetsLogRecord>,
    /// Write `records` as one transactional batch of this producer (id, epoch): a
    /// TxnOffsetCommit.
    pub txn_producer: Option<(i64, i16)>,
    /// A transaction marker to append instead of records.
    pub txn_marker: Option<TxnMarker>,
}

/// A transaction marker for `__consumer_offsets` (the transaction coordinator's, written here
/// so the group coordinator sees it in log order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    /// The transaction's producer id.
    pub producer_id: i64,
    /// Its producer epoch.
    pub producer_epoch: i16,
    /// COMMIT or ABORT.
    pub commit: bool,
    /// The transaction coordinator's epoch.
    pub coordinator_epoch: i32,
}

impl Effects {
    /// Appends another call's effects after these.
    pub fn extend(&mut self, other: Effects) {
        self.replies.extend(other.replies);
        self.records.extend(other.records);
    }
}

/// An answer to a parked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// JoinGroup answer.
    Join(JoinResult),
    /// SyncGroup answer.
    Sync(SyncResult),
}

/// A JoinGroup request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinRequest {
    /// The group to join.
    pub group_id: String,
    /// Empty for a member without an id yet.
    pub member_id: String,
    /// KIP-345 static membership id (`group.instance.id`).
    pub group_instance_id: Option<String>,
    /// Protocol type ("consumer", "connect", ...).
    pub protocol_type: String,
    /// Supported protocols in preference order, each with its metadata.
    pub protocols: Vec<(String, Bytes)>,
    /// Session timeout; must be within the configured range.
    pub session_timeout_ms: i32,
    /// Rebalance timeout (v1+; v0 clients use the session timeout).
    pub rebalance_timeout_ms: i32,
    /// Client id of the connection, prefix of generated member ids.
    pub client_id: String,
    /// Host of the connection, for DescribeGroups.
    pub client_host: String,
    /// Request version >= 4: a new member first gets MEMBER_ID_REQUIRED (KIP-394).
    pub require_known_member_id: bool,
    /// Request version >= 9: a static leader rejoining a Stable group may be told to skip the
    /// assignment (KIP-814).
    pub supports_skip_assignment: bool,
}

/// One member listed in the leader's JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinMember {
    /// The member's id.
    pub member_id: String,
    /// The member's static id.
    pub group_instance_id: Option<String>,
    /// The member's metadata for the selected protocol.
    pub metadata: Bytes,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    /// `None` on success.
    pub error: Option<GroupError>,
    /// Generation joined; -1 on error.
    pub generation_id: i32,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// Leader's member id; empty on error.
    pub leader: String,
    /// The member id to use from now on (the new one with MEMBER_ID_REQUIRED).
    pub member_id: String,
    /// All members with their metadata, only in the leader's answer.
    pub members: Vec<JoinMember>,
    /// KIP-814: the (static) leader must not compute a new assignment.
    pub skip_assignment: bool,
}

impl JoinResult {
    /// An error answer.
    pub fn error(error: GroupError, member_id: &str) -> Self {
        JoinResult {
            error: Some(error),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            members: Vec::new(),
            skip_assignment: false,
        }
    }
}

/// A SyncGroup request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncRequest {
    /// The group.
    pub group_id: String,
    /// Generation the member joined.
    pub generation_id: i32,
    /// The member.
    pub member_id: String,
    /// The member's static id.
    pub group_instance_id: Option<String>,
    /// v5+: must match the group's protocol type when present.
    pub protocol_type: Option<String>,
    /// v5+: must match the selected protocol when present.
    pub protocol_name: Option<String>,
    /// The leader's assignment per member id; empty from followers.
    pub assignments: Vec<(String, Bytes)>,
}

/// A SyncGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    /// `None` on success.
    pub error: Option<GroupError>,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// This member's assignment.
    pub assignment: Bytes,
}

impl SyncResult {
    /// An error answer.
    pub fn error(error: GroupError) -> Self {
        SyncResult {
            error: Some(error),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// A Heartbeat request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartbeatRequest {
    /// The group.
    pub group_id: String,
    /// Generation the member believes current.
    pub generation_id: i32,
    /// The member.
    pub member_id: String,
    /// The member's static id.
    pub group_instance_id: Option<String>,
}

/// One member leaving (LeaveGroup v3+ carries several, KIP-345).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaveMember {
    /// The member id; may be empty when `group_instance_id` names the member (admin removal).
    pub member_id: String,
    /// The member's static id.
    pub group_instance_id: Option<String>,
}

/// A LeaveGroup request (v0-v2 carry one member).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaveRequest {
    /// The group.
    pub group_id: String,
    /// Members leaving.
    pub members: Vec<LeaveMember>,
}

/// A LeaveGroup answer. For v0-v2 the broker reports the single member's error at top level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaveResult {
    /// Group-level error (invalid group id); per-member errors are then empty.
    pub error: Option<GroupError>,
    /// Each requested member with its outcome, in request order.
    pub members: Vec<(LeaveMember, Option<GroupError>)>,
}

/// One row of ListGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// Protocol type; empty for simple (offsets-only) groups.
    pub protocol_type: String,
    /// State name as Kafka spells it.
    pub state: &'static str,
    /// "classic" or "consumer" (ListGroups v5).
    pub group_type: &'static str,
}

/// One member in DescribeGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id.
    pub member_id: String,
    /// The member's static id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Metadata for the selected protocol (only in Stable, as Kafka).
    pub metadata: Bytes,
    /// Current assignment (only in Stable, as Kafka).
    pub assignment: Bytes,
}

/// DescribeGroups for one group. An unknown group is described as "Dead" without error, as
/// Kafka does (newer request versions may map that to GROUP_ID_NOT_FOUND in the broker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// `None` normally.
    pub error: Option<GroupError>,
    /// State name as Kafka spells it.
    pub state: &'static str,
    /// Protocol type, empty if none.
    pub protocol_type: String,
    /// Selected protocol while Stable, else empty.
    pub protocol: String,
    /// The members.
    pub members: Vec<MemberDescription>,
}
