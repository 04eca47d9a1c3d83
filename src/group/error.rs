//! Errors the group coordinator answers clients with, each mapped to its Kafka error code.

use kafka_protocol::ResponseError;

/// Why the coordinator refused (part of) a group request. Every variant is something a client
/// can provoke and is answered on the wire with [`GroupError::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// The group id is empty where Kafka requires one (JoinGroup, SyncGroup, Heartbeat, LeaveGroup).
    #[error("the group id is empty")]
    InvalidGroupId,
    /// The session timeout is outside `group.min.session.timeout.ms..=group.max.session.timeout.ms`.
    #[error("the session timeout is outside the range the broker allows")]
    InvalidSessionTimeout,
    /// The member id (or the group) is not known to the coordinator.
    #[error("the coordinator does not know this member")]
    UnknownMemberId,
    /// The request carries a generation other than the group's current one.
    #[error("the generation id is not the group's current generation")]
    IllegalGeneration,
    /// The group is rebalancing: the member must (re)join.
    #[error("the group is rebalancing; rejoin")]
    RebalanceInProgress,
    /// KIP-394: a new member must rejoin with the member id handed back in the response.
    #[error("a member id is required; rejoin with the one returned")]
    MemberIdRequired,
    /// KIP-345: another member id now owns this `group.instance.id`.
    #[error("another member with the same group.instance.id has taken over")]
    FencedInstanceId,
    /// Protocol type differs from the group's, or no protocol is supported by every member.
    #[error("the member's protocols are incompatible with the group's")]
    InconsistentGroupProtocol,
    /// The group already holds `group.max.size` members.
    #[error("the group has reached its maximum size")]
    GroupMaxSizeReached,
    /// The group still has members (DeleteGroups, OffsetDelete on a non-consumer group).
    #[error("the group is not empty")]
    NonEmptyGroup,
    /// The group does not exist (DeleteGroups, OffsetDelete).
    #[error("the group does not exist")]
    GroupIdNotFound,
    /// The group vanished while the request was handled; the client retries.
    #[error("the coordinator is not available")]
    CoordinatorNotAvailable,
    /// This broker cannot coordinate now (its `__consumer_offsets` log directory failed); the
    /// client looks the coordinator up again.
    #[error("this broker is not the coordinator")]
    NotCoordinator,
    /// `require_stable` OffsetFetch while a commit to the partition is not yet persisted.
    #[error("an offset commit for this partition is still pending")]
    UnstableOffsetCommit,
    /// The commit's metadata string is longer than `offset.metadata.max.bytes`.
    #[error("the offset metadata is too large")]
    OffsetMetadataTooLarge,
    /// OffsetDelete of a topic the (consumer) group is subscribed to.
    #[error("the group is subscribed to this topic")]
    GroupSubscribedToTopic,
    /// A TxnOffsetCommit whose transaction ended (its marker arrived) while it was verified.
    #[error("the transaction ended while its offset commit was being verified")]
    InvalidTxnState,
    /// KIP-848: the member's epoch is ahead of or behind the coordinator's; it must abandon its
    /// partitions and rejoin with epoch 0.
    #[error("the member epoch is fenced; rejoin")]
    FencedMemberEpoch,
    /// KIP-848: an OffsetCommit or OffsetFetch carries an older member epoch than the member's.
    #[error("the member epoch is stale")]
    StaleMemberEpoch,
    /// KIP-848: a static member joins while the previous holder of its `group.instance.id` has
    /// not left.
    #[error("the instance id is still used by another member")]
    UnreleasedInstanceId,
    /// KIP-848: the member names a server assignor the broker does not have.
    #[error("the assignor is not supported")]
    UnsupportedAssignor,
    /// KIP-848: the subscribed regular expression does not compile.
    #[error("the regular expression is not valid")]
    InvalidRegularExpression,
    /// A request whose fields contradict each other (ConsumerGroupHeartbeat validation).
    #[error("the request is invalid")]
    InvalidRequest,
    /// A consumer-protocol member committing with OffsetCommit below v9.
    #[error("this request version cannot be used by a consumer-protocol member")]
    UnsupportedVersion,
}

impl GroupError {
    /// The Kafka error code sent to the client.
    pub fn code(&self) -> ResponseError {
        match self {
            GroupError::InvalidGroupId => ResponseError::InvalidGroupId,
            GroupError::InvalidSessionTimeout => ResponseError::InvalidSessionTimeout,
            GroupError::UnknownMemberId => ResponseError::UnknownMemberId,
            GroupError::IllegalGeneration => ResponseError::IllegalGeneration,
            GroupError::RebalanceInProgress => ResponseError::RebalanceInProgress,
            GroupError::MemberIdRequired => ResponseError::MemberIdRequired,
            GroupError::FencedInstanceId => ResponseError::FencedInstanceId,
            GroupError::InconsistentGroupProtocol => ResponseError::InconsistentGroupProtocol,
            GroupError::GroupMaxSizeReached => ResponseError::GroupMaxSizeReached,
            GroupError::NonEmptyGroup => ResponseError::NonEmptyGroup,
            GroupError::GroupIdNotFound => ResponseError::GroupIdNotFound,
            GroupError::CoordinatorNotAvailable => ResponseError::CoordinatorNotAvailable,
            GroupError::NotCoordinator => ResponseError::NotCoordinator,
            GroupError::UnstableOffsetCommit => ResponseError::UnstableOffsetCommit,
            GroupError::OffsetMetadataTooLarge => ResponseError::OffsetMetadataTooLarge,
            GroupError::GroupSubscribedToTopic => ResponseError::GroupSubscribedToTopic,
            GroupError::InvalidTxnState => ResponseError::InvalidTxnState,
            GroupError::FencedMemberEpoch => ResponseError::FencedMemberEpoch,
            GroupError::StaleMemberEpoch => ResponseError::StaleMemberEpoch,
            GroupError::UnreleasedInstanceId => ResponseError::UnreleasedInstanceId,
            GroupError::UnsupportedAssignor => ResponseError::UnsupportedAssignor,
            GroupError::InvalidRegularExpression => ResponseError::InvalidRegularExpression,
            GroupError::InvalidRequest => ResponseError::InvalidRequest,
            GroupError::UnsupportedVersion => ResponseError::UnsupportedVersion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        assert_eq!(GroupError::UnknownMemberId.code().code(), 25);
        assert_eq!(GroupError::MemberIdRequired.code().code(), 79);
        assert_eq!(GroupError::FencedInstanceId.code().code(), 82);
        assert_eq!(GroupError::UnstableOffsetCommit.code().code(), 88);
        assert_eq!(GroupError::FencedMemberEpoch.code().code(), 110);
        assert_eq!(GroupError::StaleMemberEpoch.code().code(), 113);
    }
}
