//! Group protocol tests, with time as plain numbers.

use super::*;
use crate::group::records::DecodedRecord;
use crate::group::test_util::*;
use crate::group::*;

fn coord() -> Coordinator {
    Coordinator::new(GroupConfig::default())
}

fn state(c: &Coordinator, group: &str) -> &'static str {
    c.describe_group(group).state
}

/// Two members A (leader) and B, Stable at generation 2 with assignments "a" and "b".
fn stable_pair(c: &mut Coordinator, now: i64) -> (String, String) {
    let a = stable_single(c, now, "g");
    let b = member_id_for(c, now, "g", "c2");
    let fx = c.join(now, ReplyId(10), join_req("g", &b, "c2"));
    assert!(
        join_reply(&fx, ReplyId(10)).is_none(),
        "B waits for A to rejoin"
    );
    assert_eq!(state(c, "g"), "PreparingRebalance");
    let fx = c.join(now, ReplyId(11), join_req("g", &a, "c1"));
    let ja = join_reply(&fx, ReplyId(11)).unwrap();
    let jb = join_reply(&fx, ReplyId(10)).unwrap();
    assert_eq!((ja.generation_id, jb.generation_id), (2, 2));
    let fx = c.sync(
        now,
        ReplyId(12),
        sync_req("g", 2, &a, &[(a.as_str(), "a"), (b.as_str(), "b")]),
    );
    assert_eq!(sync_reply(&fx, ReplyId(12)).unwrap().assignment, &b"a"[..]);
    let fx = c.sync(now, ReplyId(13), sync_req("g", 2, &b, &[]));
    assert_eq!(sync_reply(&fx, ReplyId(13)).unwrap().assignment, &b"b"[..]);
    (a, b)
}

#[test]
fn single_member_join_needs_member_id_then_leads_generation_one() {
    let mut c = coord();
    let id = member_id_for(&mut c, 0, "g", "client");
    assert_eq!(state(&c, "g"), "Empty");
    let fx = c.join(1, ReplyId(1), join_req("g", &id, "client"));
    let j = join_reply(&fx, ReplyId(1)).unwrap();
    assert_eq!(j.error, None);
    assert_eq!(j.generation_id, 1);
    assert_eq!(j.leader, id);
    assert_eq!(j.member_id, id);
    assert_eq!(j.protocol_name.as_deref(), Some("range"));
    assert_eq!(j.members.len(), 1);
    assert_eq!(j.members[0].metadata, subscription(&["t"]));
    assert_eq!(state(&c, "g"), "CompletingRebalance");

    let fx = c.sync(
        2,
        ReplyId(2),
        sync_req("g", 1, &id, &[(id.as_str(), "asg")]),
    );
    let s = sync_reply(&fx, ReplyId(2)).unwrap();
    assert_eq!((s.error, &s.assignment[..]), (None, &b"asg"[..]));
    assert_eq!(s.protocol_type.as_deref(), Some("consumer"));
    // The assignment is persisted as a group metadata record.
    assert_eq!(fx.records.len(), 1);
    match fx.records[0].decode().unwrap() {
        DecodedRecord::GroupMetadata {
            group,
            value: Some(v),
        } => {
            assert_eq!(group, "g");
            assert_eq!(v.generation, 1);
            assert_eq!(v.members[0].assignment, &b"asg"[..]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let d = c.describe_group("g");
    assert_eq!(
        (d.state, d.protocol.as_str(), d.protocol_type.as_str()),
        ("Stable", "range", "consumer")
    );
    assert_eq!(d.members[0].assignment, &b"asg"[..]);
    assert_eq!(d.members[0].client_id, "client");
}

#[test]
fn join_validation_errors() {
    let mut c = coord();
    let err = |fx: &Effects| join_reply(fx, ReplyId(1)).unwrap().error;
    let mut req = join_req("", "", "c");
    assert_eq!(
        err(&c.join(0, ReplyId(1), req.clone())),
        Some(GroupError::InvalidGroupId)
    );
    req.group_id = "g".into();
    req.session_timeout_ms = 10;
    assert_eq!(
        err(&c.join(0, ReplyId(1), req.clone())),
        Some(GroupError::InvalidSessionTimeout)
    );
    req.session_timeout_ms = SESSION;
    req.protocols.clear();
    assert_eq!(
        err(&c.join(0, ReplyId(1), req.clone())),
        Some(GroupError::InconsistentGroupProtocol)
    );
    // A failed join leaves no group behind.
    assert!(c.list_groups(&[]).is_empty());
    assert_eq!(
        err(&c.join(0, ReplyId(1), join_req("g", "stale", "c"))),
        Some(GroupError::UnknownMemberId)
    );

    stable_single(&mut c, 0, "g");
    let mut other_type = join_req("g", "", "c");
    other_type.protocol_type = "connect".into();
    assert_eq!(
        err(&c.join(0, ReplyId(1), other_type)),
        Some(GroupError::InconsistentGroupProtocol)
    );
    let mut no_common = join_req("g", "", "c");
    no_common.protocols = vec![("roundrobin".into(), Bytes::new())];
    assert_eq!(
        err(&c.join(0, ReplyId(1), no_common)),
        Some(GroupError::InconsistentGroupProtocol)
    );
}

#[test]
fn group_max_size() {
    let mut c = Coordinator::new(GroupConfig {
        max_size: 1,
        ..GroupConfig::default()
    });
    stable_single(&mut c, 0, "g");
    let fx = c.join(0, ReplyId(5), join_req("g", "", "c2"));
    let j = join_reply(&fx, ReplyId(5)).unwrap();
    assert_eq!(
        (j.error, j.member_id.as_str()),
        (Some(GroupError::GroupMaxSizeReached), "")
    );
}

#[test]
fn three_members_leader_gets_all_and_followers_wait_for_leader_sync() {
    let mut c = coord();
    let a = stable_single(&mut c, 0, "g");
    let b = member_id_for(&mut c, 1, "g", "cb");
    let cc = member_id_for(&mut c, 1, "g", "cc");
    assert!(join_reply(
        &c.join(2, ReplyId(20), join_req("g", &b, "cb")),
        ReplyId(20)
    )
    .is_none());
    assert!(join_reply(
        &c.join(2, ReplyId(30), join_req("g", &cc, "cc")),
        ReplyId(30)
    )
    .is_none());
    assert_eq!(
        c.heartbeat(3, hb("g", 1, &a)),
        Err(GroupError::RebalanceInProgress)
    );
    let fx = c.join(4, ReplyId(10), join_req("g", &a, "c1"));
    assert_eq!(fx.replies.len(), 3);
    let (ja, jb, jc) = (
        join_reply(&fx, ReplyId(10)).unwrap(),
        join_reply(&fx, ReplyId(20)).unwrap(),
        join_reply(&fx, ReplyId(30)).unwrap(),
    );
    for j in [&ja, &jb, &jc] {
        assert_eq!((j.generation_id, j.leader.as_str()), (2, a.as_str()));
    }
    let listed: Vec<&str> = ja.members.iter().map(|m| m.member_id.as_str()).collect();
    assert_eq!(listed, vec![a.as_str(), b.as_str(), cc.as_str()]);
    assert!(jb.members.is_empty() && jc.members.is_empty());

    // Followers are parked until the leader's assignment arrives.
    assert!(c
        .sync(5, ReplyId(21), sync_req("g", 2, &b, &[]))
        .replies
        .is_empty());
    assert!(c
        .sync(5, ReplyId(31), sync_req("g", 2, &cc, &[]))
        .replies
        .is_empty());
    assert_eq!(c.heartbeat(5, hb("g", 2, &b)), Ok(()));
    let fx = c.sync(
        6,
        ReplyId(11),
        sync_req("g", 2, &a, &[(a.as_str(), "A"), (b.as_str(), "B")]),
    );
    assert_eq!(sync_reply(&fx, ReplyId(11)).unwrap().assignment, &b"A"[..]);
    assert_eq!(sync_reply(&fx, ReplyId(21)).unwrap().assignment, &b"B"[..]);
    // Left out by the leader: empty assignment.
    assert_eq!(
        sync_reply(&fx, ReplyId(31)).unwrap().assignment,
        Bytes::new()
    );
    assert_eq!(state(&c, "g"), "Stable");
    // In Stable, SyncGroup returns the stored assignment.
    let fx = c.sync(7, ReplyId(22), sync_req("g", 2, &b, &[]));
    assert_eq!(sync_reply(&fx, ReplyId(22)).unwrap().assignment, &b"B"[..]);
}

#[test]
fn sync_errors() {
    let mut c = coord();
    let (a, b) = stable_pair(&mut c, 0);
    let err = |fx: Effects| sync_reply(&fx, ReplyId(1)).unwrap().error;
    assert_eq!(
        err(c.sync(1, ReplyId(1), sync_req("g", 1, &a, &[]))),
        Some(GroupError::IllegalGeneration)
    );
    assert_eq!(
        err(c.sync(1, ReplyId(1), sync_req("g", 2, "nobody", &[]))),
        Some(GroupError::UnknownMemberId)
    );
    assert_eq!(
        err(c.sync(1, ReplyId(1), sync_req("nope", 2, &a, &[]))),
        Some(GroupError::UnknownMemberId)
    );
    let mut wrong = sync_req("g", 2, &a, &[]);
    wrong.protocol_name = Some("sticky".into());
    assert_eq!(
        err(c.sync(1, ReplyId(1), wrong)),
        Some(GroupError::InconsistentGroupProtocol)
    );
    // The leader's rejoin starts a rebalance: a follower's sync then is told so.
    let fx = c.join(2, ReplyId(2), join_req("g", &a, "c1"));
    assert!(fx.replies.is_empty());
    assert_eq!(
        err(c.sync(3, ReplyId(1), sync_req("g", 2, &b, &[]))),
        Some(GroupError::RebalanceInProgress)
    );
}

#[test]
fn parked_followers_are_told_to_rejoin_when_a_rebalance_starts() {
    let mut c = coord();
    let (a, b) = stable_pair(&mut c, 0);
    // Leader rejoins, then B: generation 3 in CompletingRebalance.
    let _ = c.join(1, ReplyId(1), join_req("g", &a, "c1"));
    let fx = c.join(1, ReplyId(2), join_req("g", &b, "c2"));
    assert_eq!(join_reply(&fx, ReplyId(2)).unwrap().generation_id, 3);
    assert!(c
        .sync(2, ReplyId(3), sync_req("g", 3, &b, &[]))
        .replies
        .is_empty());
    // A new member arrives before the leader synced.
    let d = member_id_for(&mut c, 3, "g", "cd");
    let fx = c.join(3, ReplyId(4), join_req("g", &d, "cd"));
    assert_eq!(
        sync_reply(&fx, ReplyId(3)).unwrap().error,
        Some(GroupError::RebalanceInProgress)
    );
    assert_eq!(state(&c, "g"), "PreparingRebalance");
}

#[test]
fn heartbeat_outcomes() {
    let mut c = coord();
    let (a, b) = stable_pair(&mut c, 0);
    assert_eq!(c.heartbeat(1, hb("g", 2, &a)), Ok(()));
    assert_eq!(
        c.heartbeat(1, hb("g", 1, &a)),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        c.heartbeat(1, hb("g", 2, "ghost")),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        c.heartbeat(1, hb("other", 2, &a)),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        c.heartbeat(1, hb("", 2, &a)),
        Err(GroupError::InvalidGroupId)
    );
    // Leader rejoin in Stable always rebalances; B hears about it on its heartbeat.
    let _ = c.join(2, ReplyId(1), join_req("g", &a, "c1"));
    assert_eq!(
        c.heartbeat(3, hb("g", 2, &b)),
        Err(GroupError::RebalanceInProgress)
    );
}

#[test]
fn follower_rejoin_rebalances_only_when_metadata_changed() {
    let mut c = coord();
    let (_a, b) = stable_pair(&mut c, 0);
    let fx = c.join(1, ReplyId(1), join_req("g", &b, "c2"));
    let j = join_reply(&fx, ReplyId(1)).unwrap();
    assert_eq!((j.error, j.generation_id), (None, 2));
    assert_eq!(state(&c, "g"), "Stable");
    let mut changed = join_req("g", &b, "c2");
    changed.protocols = vec![("range".into(), subscription(&["t", "u"]))];
    let fx = c.join(2, ReplyId(2), changed);
    assert!(fx.replies.is_empty());
    assert_eq!(state(&c, "g"), "PreparingRebalance");
}

#[test]
fn session_expiry_removes_member_and_rebalances() {
    let mut c = coord();
    let (a, b) = stable_pair(&mut c, 0);
    let session = i64::from(SESSION);
    assert_eq!(c.next_deadline(), Some(session));
    assert_eq!(c.heartbeat(6_000, hb("g", 2, &a)), Ok(()));
    assert_eq!(
        c.next_deadline(),
        Some(session),
        "B still due at its old deadline"
    );
    let fx = c.tick(session - 1);
    assert!(fx.replies.is_empty() && fx.records.is_empty());
    assert_eq!(state(&c, "g"), "Stable");
    let _ = c.tick(session);
    assert_eq!(state(&c, "g"), "PreparingRebalance");
    assert_eq!(c.describe_group("g").members.len(), 1);
    assert_eq!(
        c.heartbeat(session + 1, hb("g", 2, &b)),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        c.heartbeat(session + 1, hb("g", 2, &a)),
        Err(GroupError::RebalanceInProgress)
    );
    let fx = c.join(session + 2, ReplyId(1), join_req("g", &a, "c1"));
    let j = join_reply(&fx, ReplyId(1)).unwrap();
    assert_eq!((j.generation_id, j.members.len()), (3, 1));
}

#[test]
fn rebalance_timeout_removes_members_that_did_not_rejoin() {
    let mut c = coord();
    let (a, b) = stable_pair(&mut c, 0);
    let d = member_id_for(&mut c, 1_000, "g", "cd");
    let _ = c.join(1_000, ReplyId(40), join_req("g", &d, "cd"));
    let _ = c.join(1_000, ReplyId(10), join_req("g", &a, "c1"));
    let deadline = 1_000 + i64::from(REBALANCE);
    // B keeps heartbeating (and is told to rejoin) but never does.
    let mut now = 1_000;
    while now + 5_000 < deadline {
        now += 5_000;
        assert_eq!(
            c.heartbeat(now, hb("g", 2, &b)),
            Err(GroupError::RebalanceInProgress)
        );
        assert!(c.tick(now).replies.is_empty());
    }
    assert_eq!(c.next_deadline(), Some(deadline));
    let fx = c.tick(deadline);
    let ja = join_reply(&fx, ReplyId(10)).unwrap();
    assert!(join_reply(&fx, ReplyId(40)).is_some());
    assert_eq!(ja.generation_id, 3);
    let ids: Vec<&str> = ja.members.iter().map(|m| m.member_id.as_str()).collect();
    assert_eq!(ids, vec![a.as_str(), d.as_str()]);
    assert_eq!(
        c.heartbeat(deadline, hb("g", 3, &b)),
        Err(GroupError::UnknownMemberId)
    );
}

#[test]
fn missing_sync_removes_member_after_rebalance_timeout() {
    let mut c = coord();
    let (a, b) = stable_pair(&mut c, 0);
    let _ = c.join(1, ReplyId(1), join_req("g", &a, "c1"));
    let _ = c.join(1, ReplyId(2), join_req("g", &b, "c2"));
    let _ = c.sync(2, ReplyId(3), sync_req("g", 3, &a, &[]));
    // B heartbeats but never syncs.
    for t in (5_000..i64::from(REBALANCE)).step_by(5_000) {
        assert_eq!(c.heartbeat(t, hb("g", 3, &a)), Ok(()));
        assert_eq!(c.heartbeat(t, hb("g", 3, &b)), Ok(()));
    }
    let _ = c.tick(1 + i64::from(REBALANCE));
    assert_eq!(state(&c, "g"), "PreparingRebalance");
    assert_eq!(
        c.heartbeat(1 + i64::from(REBALANCE), hb("g", 3, &b)),
        Err(GroupError::UnknownMemberId)
    );
}

#[test]
fn leave_rebalances_and_last_leave_empties_group() {
    let mut c = coord();
    let (a, b) = stable_pair(&mut c, 0);
    let (res, _) = c.leave(
        1,
        LeaveRequest {
            group_id: "g".into(),
            members: vec![
                LeaveMember {
                    member_id: b.clone(),
                    group_instance_id: None,
                },
                LeaveMember {
                    member_id: "ghost".into(),
                    group_instance_id: None,
                },
            ],
        },
    );
    assert_eq!(res.error, None);
    assert_eq!(res.members[0].1, None);
    assert_eq!(res.members[1].1, Some(GroupError::UnknownMemberId));
    assert_eq!(state(&c, "g"), "PreparingRebalance");
    let fx = c.join(2, ReplyId(1), join_req("g", &a, "c1"));
    assert_eq!(join_reply(&fx, ReplyId(1)).unwrap().generation_id, 3);

    let (res, fx) = c.leave(
        3,
        LeaveRequest {
            group_id: "g".into(),
            members: vec![LeaveMember {
                member_id: a.clone(),
                group_instance_id: None,
            }],
        },
    );
    assert_eq!(res.members[0].1, None);
    // Nobody left: the join completes at once into Empty, and that is persisted.
    assert_eq!(state(&c, "g"), "Empty");
    match fx.records.last().unwrap().decode().unwrap() {
        DecodedRecord::GroupMetadata { value: Some(v), .. } => {
            assert_eq!((v.generation, v.members.len()), (4, 0));
        }
        other => panic!("unexpected {other:?}"),
    }
    let (res, _) = c.leave(
        3,
        LeaveRequest {
            group_id: "".into(),
            members: vec![],
        },
    );
    assert_eq!(res.error, Some(GroupError::InvalidGroupId));
}

fn static_join(group: &str, member_id: &str, instance: &str) -> JoinRequest {
    JoinRequest {
        group_instance_id: Some(instance.to_string()),
        ..join_req(group, member_id, "static-client")
    }
}

#[test]
fn static_member_rejoin_replaces_id_without_rebalance_and_fences_old_id() {
    let mut c = coord();
    let (a, _b) = stable_pair(&mut c, 0);
    // A static member S joins (static members skip MEMBER_ID_REQUIRED).
    let fx = c.join(1, ReplyId(1), static_join("g", "", "inst"));
    assert!(fx.replies.is_empty());
    let fx = c.join(1, ReplyId(2), join_req("g", &a, "c1"));
    // B never rejoins; let the rebalance time out.
    assert!(fx.replies.is_empty());
    let fx = c.tick(1 + i64::from(REBALANCE));
    let js = join_reply(&fx, ReplyId(1)).unwrap();
    let old = js.member_id.clone();
    assert!(old.starts_with("inst-"));
    assert_eq!(js.generation_id, 3);
    let t = 1 + i64::from(REBALANCE);
    let _ = c.sync(
        t,
        ReplyId(3),
        sync_req("g", 3, &a, &[(a.as_str(), "A"), (old.as_str(), "S")]),
    );
    assert_eq!(state(&c, "g"), "Stable");

    // S restarts: same instance id, no member id.
    let fx = c.join(t + 1, ReplyId(4), static_join("g", "", "inst"));
    let j = join_reply(&fx, ReplyId(4)).unwrap();
    assert_eq!(j.error, None);
    assert_eq!(j.generation_id, 3);
    assert_ne!(j.member_id, old);
    assert_eq!(j.leader, a);
    assert!(!j.skip_assignment && j.members.is_empty());
    assert_eq!(fx.records.len(), 1, "the new member id is persisted");
    assert_eq!(state(&c, "g"), "Stable");
    let new = j.member_id;

    let mut old_hb = hb("g", 3, &old);
    old_hb.group_instance_id = Some("inst".into());
    assert_eq!(
        c.heartbeat(t + 2, old_hb),
        Err(GroupError::FencedInstanceId)
    );
    assert_eq!(
        c.heartbeat(t + 2, hb("g", 3, &old)),
        Err(GroupError::UnknownMemberId)
    );
    let mut sync = sync_req("g", 3, &new, &[]);
    sync.group_instance_id = Some("inst".into());
    let fx = c.sync(t + 2, ReplyId(5), sync);
    assert_eq!(sync_reply(&fx, ReplyId(5)).unwrap().assignment, &b"S"[..]);

    // An impostor with the instance id and some other member id is fenced.
    let fx = c.join(t + 3, ReplyId(6), static_join("g", "impostor", "inst"));
    assert_eq!(
        join_reply(&fx, ReplyId(6)).unwrap().error,
        Some(GroupError::FencedInstanceId)
    );
    assert_eq!(state(&c, "g"), "Stable");
    // Admin removal by instance id alone.
    let (res, _) = c.leave(
        t + 4,
        LeaveRequest {
            group_id: "g".into(),
            members: vec![LeaveMember {
                member_id: String::new(),
                group_instance_id: Some("inst".into()),
            }],
        },
    );
    assert_eq!(res.members[0].1, None);
    assert_eq!(state(&c, "g"), "PreparingRebalance");
}

#[test]
fn static_leader_rejoin_is_told_to_skip_assignment() {
    let mut c = coord();
    let fx = c.join(0, ReplyId(1), static_join("g", "", "lead"));
    let j = join_reply(&fx, ReplyId(1)).unwrap();
    let _ = c.sync(
        0,
        ReplyId(2),
        sync_req("g", 1, &j.member_id, &[(j.member_id.as_str(), "x")]),
    );
    let fx = c.join(1, ReplyId(3), static_join("g", "", "lead"));
    let r = join_reply(&fx, ReplyId(3)).unwrap();
    assert!(r.skip_assignment);
    assert_eq!(r.leader, r.member_id);
    assert_eq!(r.members.len(), 1);
    assert_eq!(state(&c, "g"), "Stable");
    // An old client (no KIP-814) is told the old leader id instead.
    let mut old_client = static_join("g", "", "lead");
    old_client.supports_skip_assignment = false;
    let fx = c.join(2, ReplyId(4), old_client);
    let o = join_reply(&fx, ReplyId(4)).unwrap();
    assert!(!o.skip_assignment && o.members.is_empty());
    assert_eq!(o.leader, r.member_id);
    assert_ne!(o.member_id, r.member_id);
}

#[test]
fn initial_rebalance_delay_is_honoured_via_tick() {
    let mut c = Coordinator::new(GroupConfig {
        initial_rebalance_delay_ms: 3_000,
        ..GroupConfig::default()
    });
    let mut ja = join_req("g", "", "ca");
    ja.require_known_member_id = false;
    assert!(c.join(0, ReplyId(1), ja).replies.is_empty());
    assert_eq!(c.next_deadline(), Some(3_000));
    let mut jb = join_req("g", "", "cb");
    jb.require_known_member_id = false;
    assert!(c.join(1_000, ReplyId(2), jb).replies.is_empty());
    assert!(c.tick(2_999).replies.is_empty());
    // B arrived during the delay: it is extended once more.
    assert!(c.tick(3_000).replies.is_empty());
    assert_eq!(c.next_deadline(), Some(6_000));
    let fx = c.tick(6_000);
    let a = join_reply(&fx, ReplyId(1)).unwrap();
    let b = join_reply(&fx, ReplyId(2)).unwrap();
    assert_eq!((a.generation_id, b.generation_id), (1, 1));
    assert_eq!(a.members.len(), 2);
    assert_eq!(b.leader, a.member_id);
}

#[test]
fn pending_member_expires_after_session_timeout() {
    let mut c = coord();
    let _ = member_id_for(&mut c, 0, "g", "c");
    assert_eq!(c.next_deadline(), Some(i64::from(SESSION)));
    assert_eq!(c.list_groups(&[]).len(), 1);
    let _ = c.tick(i64::from(SESSION));
    assert!(c.list_groups(&[]).is_empty());
}

#[test]
fn next_deadline_follows_the_group() {
    let mut c = coord();
    assert_eq!(c.next_deadline(), None);
    let a = stable_single(&mut c, 100, "g");
    assert_eq!(c.next_deadline(), Some(100 + i64::from(SESSION)));
    assert_eq!(c.heartbeat(2_000, hb("g", 1, &a)), Ok(()));
    assert_eq!(c.next_deadline(), Some(2_000 + i64::from(SESSION)));
    // Once the member is gone, the Empty group waits for the retention sweep.
    let _ = c.tick(2_000 + i64::from(SESSION));
    assert_eq!(state(&c, "g"), "Empty");
    assert_eq!(
        c.next_deadline(),
        Some(100 + GroupConfig::default().offsets_retention_check_interval_ms)
    );
}

#[test]
fn cancelled_sync_is_not_answered() {
    let mut c = coord();
    let (a, b) = stable_pair(&mut c, 0);
    let _ = c.join(1, ReplyId(1), join_req("g", &a, "c1"));
    let _ = c.join(1, ReplyId(2), join_req("g", &b, "c2"));
    let _ = c.join(2, ReplyId(3), join_req("g", &a, "c1"));
    let _ = c.sync(2, ReplyId(4), sync_req("g", 3, &a, &[]));
    // A follower's sync connection goes away: nothing is answered for it later.
    let _ = c.sync(2, ReplyId(5), sync_req("g", 3, &b, &[]));
    c.cancel(ReplyId(5));
    let fx = c.sync(3, ReplyId(6), sync_req("g", 3, &a, &[]));
    assert!(sync_reply(&fx, ReplyId(5)).is_none());
}

#[test]
fn list_describe_and_delete_groups() {
    let mut c = coord();
    stable_single(&mut c, 0, "busy");
    let _ = c.commit_offsets(
        0,
        OffsetCommitRequest {
            group_id: "simple".into(),
            generation_id: -1,
            partitions: vec![CommitPartition {
                topic: "t".into(),
                partition: 0,
                offset: 5,
                leader_epoch: -1,
                metadata: String::new(),
            }],
            ..Default::default()
        },
    );
    let all = c.list_groups(&[]);
    assert_eq!(all.len(), 2);
    let stable = c.list_groups(&["stable".to_string()]);
    assert_eq!(stable.len(), 1);
    assert_eq!(
        (
            stable[0].group_id.as_str(),
            stable[0].protocol_type.as_str()
        ),
        ("busy", "consumer")
    );
    let empty = c.list_groups(&["Empty".to_string()]);
    assert_eq!(
        (empty[0].group_id.as_str(), empty[0].protocol_type.as_str()),
        ("simple", "")
    );
    assert_eq!(c.describe_group("nope").state, "Dead");

    let (res, fx) = c.delete_groups(&["busy".into(), "simple".into(), "nope".into()]);
    assert_eq!(res[0].1, Some(GroupError::NonEmptyGroup));
    assert_eq!(res[1].1, None);
    assert_eq!(res[2].1, Some(GroupError::GroupIdNotFound));
    // The offset commit was never confirmed, so there is nothing to tombstone.
    assert!(fx.records.is_empty());
    assert_eq!(c.list_groups(&[]).len(), 1);
}

fn commit(group: &str, generation: i32, member: &str, offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.to_string(),
        partitions: vec![CommitPartition {
            topic: "t".into(),
            partition: 0,
            offset,
            leader_epoch: 4,
            metadata: "md".into(),
        }],
        ..Default::default()
    }
}

#[test]
fn replay_restores_groups_and_offsets() {
    let mut c = coord();
    let mut log: Vec<OffsetsLogRecord> = Vec::new();
    let id = member_id_for(&mut c, 0, "h", "x");
    log.extend(c.join(0, ReplyId(1), join_req("h", &id, "x")).records);
    log.extend(
        c.sync(
            0,
            ReplyId(2),
            sync_req("h", 1, &id, &[(id.as_str(), "asg")]),
        )
        .records,
    );
    for (group, generation, member, offset) in [
        ("h", 1, id.as_str(), 10),
        ("h", 1, id.as_str(), 11),
        ("s", -1, "", 7),
    ] {
        let out = c.commit_offsets(1, commit(group, generation, member, offset));
        log.extend(out.effects.records);
        c.complete_commit(out.token.unwrap(), true);
    }
    assert_eq!(log.len(), 4);

    let mut restored = coord();
    for r in &log {
        restored.replay(100, r).unwrap();
    }
    let d = restored.describe_group("h");
    assert_eq!(d.state, "Stable");
    assert_eq!(d.protocol, "range");
    assert_eq!(d.members[0].member_id, id);
    assert_eq!(d.members[0].assignment, &b"asg"[..]);
    assert_eq!(d.members[0].metadata, subscription(&["t"]));
    // The restored member carries on in generation 1 without rejoining.
    assert_eq!(restored.heartbeat(101, hb("h", 1, &id)), Ok(()));
    let f = restored.fetch_offsets("h", Some(&[("t".to_string(), 0)]), true);
    assert_eq!(
        (
            f[0].offset,
            f[0].leader_epoch,
            f[0].metadata.as_str(),
            f[0].error
        ),
        (11, 4, "md", None)
    );
    assert_eq!(restored.fetch_offsets("s", None, false)[0].offset, 7);
    // Restored members that do not come back expire; the group becomes Empty.
    let _ = restored.tick(101 + i64::from(SESSION));
    assert_eq!(restored.describe_group("h").state, "Empty");

    // Tombstones delete: the group's metadata first (its offsets stay), then the offset.
    restored
        .replay(200, &OffsetsLogRecord::group_metadata("h", None))
        .unwrap();
    assert_eq!(restored.describe_group("h").state, "Empty");
    assert_eq!(restored.fetch_offsets("h", None, false).len(), 1);
    restored
        .replay(200, &OffsetsLogRecord::offset_commit("h", "t", 0, None))
        .unwrap();
    assert_eq!(restored.describe_group("h").state, "Dead");
    restored
        .replay(200, &OffsetsLogRecord::offset_commit("s", "t", 0, None))
        .unwrap();
    assert!(restored.list_groups(&[]).is_empty());
    // Garbage is an error, not a panic.
    let garbage = OffsetsLogRecord {
        key: Bytes::from_static(b"\x00\x07zz"),
        value: None,
    };
    assert!(restored.replay(200, &garbage).is_err());
}

/// librdkafka's 0081: static members close without LeaveGroup; their sessions still expire, so
/// the group empties and can be deleted.
#[test]
fn static_members_that_stop_heartbeating_expire() {
    let mut c = coord();
    let fx = c.join(0, ReplyId(1), static_join("g", "", "i1"));
    let j1 = join_reply(&fx, ReplyId(1)).unwrap();
    assert_eq!(j1.error, None);
    let _ = c.sync(
        0,
        ReplyId(2),
        sync_req("g", 1, &j1.member_id, &[(j1.member_id.as_str(), "x")]),
    );
    // A second static member joins: the group rebalances.
    let fx = c.join(1, ReplyId(3), static_join("g", "", "i2"));
    assert!(fx.replies.is_empty());
    let mut rejoin = static_join("g", &j1.member_id, "i1");
    rejoin.member_id = j1.member_id.clone();
    let fx = c.join(2, ReplyId(4), rejoin);
    let j2 = join_reply(&fx, ReplyId(3)).unwrap();
    let _ = c.sync(
        2,
        ReplyId(5),
        sync_req("g", j2.generation_id, &j1.member_id, &[]),
    );
    let _ = c.sync(
        2,
        ReplyId(6),
        sync_req("g", j2.generation_id, &j2.member_id, &[]),
    );
    assert_eq!(state(&c, "g"), "Stable");
    // Both stop heartbeating.
    let mut now = 2;
    while let Some(d) = c.next_deadline() {
        if d > 10 * i64::from(REBALANCE) {
            break;
        }
        now = d;
        let _ = c.tick(now);
        if state(&c, "g") == "Empty" {
            break;
        }
    }
    assert_eq!(state(&c, "g"), "Empty", "at {now}");
    assert!(now <= 2 + i64::from(SESSION), "at {now}");
    let (res, _) = c.delete_groups(&["g".to_string()]);
    assert_eq!(res[0].1, None);
}
