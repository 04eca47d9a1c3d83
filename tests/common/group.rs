//! [`RawMember`]: a consumer-group member speaking the classic group protocol in raw frames
//! (JoinGroup with the KIP-394 member-id handshake, SyncGroup, Heartbeat, OffsetCommit,
//! LeaveGroup), for tests that script a rebalance step by step instead of through a client's
//! state machine.

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::RawClient;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// A JoinGroup protocol entry.
pub fn protocol(name: &str, metadata: Vec<u8>) -> JoinGroupRequestProtocol {
    JoinGroupRequestProtocol::default()
        .with_name(s(name))
        .with_metadata(Bytes::from(metadata))
}

/// What JoinGroup answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// Error code.
    pub error: i16,
    /// The member id given.
    pub member_id: String,
    /// The generation.
    pub generation: i32,
    /// The leader's member id.
    pub leader: String,
    /// The members and the size of their metadata (only the leader gets them).
    pub members: Vec<(String, usize)>,
}

/// One group member over its own connection.
pub struct RawMember {
    /// Its connection.
    pub client: RawClient,
    /// The group.
    pub group: String,
    /// Its member id once joined ("" before).
    pub member_id: String,
    /// The generation it last joined.
    pub generation: i32,
}

impl RawMember {
    /// A member of `group` that has not joined yet.
    pub async fn connect(addr: std::net::SocketAddr, group: &str) -> RawMember {
        RawMember {
            client: RawClient::connect(addr).await,
            group: group.to_string(),
            member_id: String::new(),
            generation: -1,
        }
    }

    /// JoinGroup at `version` with these timeouts and protocols, as sent (no handshake).
    pub async fn join_raw(
        &mut self,
        version: i16,
        session_ms: i32,
        rebalance_ms: i32,
        protocols: Vec<JoinGroupRequestProtocol>,
    ) -> Joined {
        let req = JoinGroupRequest::default()
            .with_group_id(GroupId(s(&self.group)))
            .with_member_id(s(&self.member_id))
            .with_session_timeout_ms(session_ms)
            .with_rebalance_timeout_ms(rebalance_ms)
            .with_protocol_type(s("consumer"))
            .with_protocols(protocols);
        let ResponseKind::JoinGroup(r) =
            self.client.call(RequestKind::JoinGroup(req), version).await
        else {
            panic!("not a JoinGroup response");
        };
        let joined = Joined {
            error: r.error_code,
            member_id: r.member_id.to_string(),
            generation: r.generation_id,
            leader: r.leader.to_string(),
            members: r
                .members
                .iter()
                .map(|m| (m.member_id.to_string(), m.metadata.len()))
                .collect(),
        };
        if !joined.member_id.is_empty() {
            self.member_id = joined.member_id.clone();
        }
        if joined.error == 0 {
            self.generation = joined.generation;
        }
        joined
    }

    /// Joins as a current client does (v5, KIP-394: MEMBER_ID_REQUIRED, then again with the
    /// id given), with a 10 s session and one `range` protocol.
    pub async fn join(&mut self) -> Joined {
        let first = self
            .join_raw(5, 10_000, 30_000, vec![protocol("range", vec![])])
            .await;
        if first.error != 79 {
            return first;
        }
        self.join_raw(5, 10_000, 30_000, vec![protocol("range", vec![])])
            .await
    }

    /// SyncGroup with the leader's `assignments` (empty for a follower); the error and this
    /// member's assignment.
    pub async fn sync(&mut self, assignments: &[(&str, &[u8])]) -> (i16, Bytes) {
        let req = SyncGroupRequest::default()
            .with_group_id(GroupId(s(&self.group)))
            .with_generation_id(self.generation)
            .with_member_id(s(&self.member_id))
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s("range")))
            .with_assignments(
                assignments
                    .iter()
                    .map(|(m, a)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(s(m))
                            .with_assignment(Bytes::copy_from_slice(a))
                    })
                    .collect(),
            );
        let ResponseKind::SyncGroup(r) = self.client.call(RequestKind::SyncGroup(req), 5).await
        else {
            panic!("not a SyncGroup response");
        };
        (r.error_code, r.assignment)
    }

    /// Heartbeat; the error code.
    pub async fn heartbeat(&mut self) -> i16 {
        let req = HeartbeatRequest::default()
            .with_group_id(GroupId(s(&self.group)))
            .with_generation_id(self.generation)
            .with_member_id(s(&self.member_id));
        let ResponseKind::Heartbeat(r) = self.client.call(RequestKind::Heartbeat(req), 4).await
        else {
            panic!("not a Heartbeat response");
        };
        r.error_code
    }

    /// OffsetCommit of one offset as this member (or standalone, generation -1, before it
    /// joined); the partition's error code.
    pub async fn commit(&mut self, topic: &str, partition: i32, offset: i64) -> i16 {
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(&self.group)))
            .with_generation_id_or_member_epoch(self.generation)
            .with_member_id(s(&self.member_id))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(partition)
                    .with_committed_offset(offset)])]);
        let ResponseKind::OffsetCommit(r) =
            self.client.call(RequestKind::OffsetCommit(req), 8).await
        else {
            panic!("not an OffsetCommit response");
        };
        r.topics[0].partitions[0].error_code
    }

    /// LeaveGroup (v3, this member); the top-level error code.
    pub async fn leave(&mut self) -> i16 {
        use kafka_protocol::messages::leave_group_request::MemberIdentity;
        let req = LeaveGroupRequest::default()
            .with_group_id(GroupId(s(&self.group)))
            .with_members(vec![
                MemberIdentity::default().with_member_id(s(&self.member_id))
            ]);
        let ResponseKind::LeaveGroup(r) = self.client.call(RequestKind::LeaveGroup(req), 3).await
        else {
            panic!("not a LeaveGroup response");
        };
        r.error_code
    }
}
