//! Helpers shared by the group tests: request builders and reply lookups.

use bytes::{BufMut, Bytes, BytesMut};

use super::*;

/// Session timeout used by test members.
pub(super) const SESSION: i32 = 10_000;
/// Rebalance timeout used by test members.
pub(super) const REBALANCE: i32 = 30_000;

/// A consumer-protocol subscription (v0) to `topics`.
pub(super) fn subscription(topics: &[&str]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    buf.put_i32(topics.len() as i32);
    for t in topics {
        buf.put_i16(t.len() as i16);
        buf.put_slice(t.as_bytes());
    }
    buf.put_i32(-1);
    buf.freeze()
}

/// A JoinGroup (v4+ style: member id required) for a consumer subscribed to "t".
pub(super) fn join_req(group: &str, member_id: &str, client: &str) -> JoinRequest {
    JoinRequest {
        group_id: group.to_string(),
        member_id: member_id.to_string(),
        group_instance_id: None,
        protocol_type: "consumer".to_string(),
        protocols: vec![("range".to_string(), subscription(&["t"]))],
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: REBALANCE,
        client_id: client.to_string(),
        client_host: "/127.0.0.1".to_string(),
        require_known_member_id: true,
        supports_skip_assignment: true,
    }
}

/// The JoinGroup answer for `reply` in `fx`, if any.
pub(super) fn join_reply(fx: &Effects, reply: ReplyId) -> Option<JoinResult> {
    fx.replies.iter().find_map(|(id, r)| match r {
        Reply::Join(j) if *id == reply => Some(j.clone()),
        _ => None,
    })
}

/// The SyncGroup answer for `reply` in `fx`, if any.
pub(super) fn sync_reply(fx: &Effects, reply: ReplyId) -> Option<SyncResult> {
    fx.replies.iter().find_map(|(id, r)| match r {
        Reply::Sync(s) if *id == reply => Some(s.clone()),
        _ => None,
    })
}

/// KIP-394 handshake: a join without id gets MEMBER_ID_REQUIRED; returns the handed-out id.
pub(super) fn member_id_for(c: &mut Coordinator, now: i64, group: &str, client: &str) -> String {
    let fx = c.join(now, ReplyId(u64::MAX), join_req(group, "", client));
    let r = join_reply(&fx, ReplyId(u64::MAX)).expect("join answered at once");
    assert_eq!(r.error, Some(GroupError::MemberIdRequired));
    assert!(r.member_id.starts_with(&format!("{client}-")));
    r.member_id
}

/// A sync request.
pub(super) fn sync_req(
    group: &str,
    generation: i32,
    member: &str,
    assignments: &[(&str, &str)],
) -> SyncRequest {
    SyncRequest {
        group_id: group.to_string(),
        generation_id: generation,
        member_id: member.to_string(),
        group_instance_id: None,
        protocol_type: Some("consumer".to_string()),
        protocol_name: Some("range".to_string()),
        assignments: assignments
            .iter()
            .map(|(m, a)| (m.to_string(), Bytes::copy_from_slice(a.as_bytes())))
            .collect(),
    }
}

/// A heartbeat request.
pub(super) fn hb(group: &str, generation: i32, member: &str) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: group.to_string(),
        generation_id: generation,
        member_id: member.to_string(),
        group_instance_id: None,
    }
}

/// One member alone in `group`, Stable at generation 1 with assignment "a1". Returns its id.
pub(super) fn stable_single(c: &mut Coordinator, now: i64, group: &str) -> String {
    let id = member_id_for(c, now, group, "c1");
    let fx = c.join(now, ReplyId(1), join_req(group, &id, "c1"));
    let j = join_reply(&fx, ReplyId(1)).expect("single member completes at once");
    assert_eq!(j.generation_id, 1);
    let fx = c.sync(
        now,
        ReplyId(2),
        sync_req(group, 1, &id, &[(id.as_str(), "a1")]),
    );
    assert_eq!(sync_reply(&fx, ReplyId(2)).unwrap().assignment, &b"a1"[..]);
    id
}
