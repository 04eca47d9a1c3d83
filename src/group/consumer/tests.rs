//! Reconciliation sequences with time passed by hand: joins, leaves, revoke-then-assign,
//! static rejoin, fencing, session and rebalance timeouts, regex subscriptions, replay.

use super::*;
use crate::group::{Coordinator, GroupConfig, GroupError, OffsetCommitRequest, OffsetsLogRecord};

fn coord() -> Coordinator {
    Coordinator::new(GroupConfig::default())
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn image(topics: &[(&str, u128, i32)]) -> TopicImage {
    let mut img = TopicImage::default();
    for (name, n, partitions) in topics {
        img.insert(
            name,
            TopicMeta {
                id: id(*n),
                partitions: *partitions,
                internal: name.starts_with("__"),
            },
        );
    }
    img
}

fn join(member: &str, topics: &[&str]) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(topics.iter().map(|t| t.to_string()).collect()),
        owned: Some(Vec::new()),
        client_id: member.into(),
        client_host: "/127.0.0.1".into(),
        version: 1,
        ..Default::default()
    }
}

/// An incremental heartbeat reporting what the member owns.
fn beat(member: &str, epoch: i32, owned: &[(u128, &[i32])]) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        owned: Some(owned.iter().map(|(t, ps)| (id(*t), ps.to_vec())).collect()),
        client_id: member.into(),
        client_host: "/127.0.0.1".into(),
        version: 1,
        ..Default::default()
    }
}

/// A static member (instance "inst") leaving for a restart (epoch -2).
fn static_leave(member: &str) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        instance_id: Some("inst".into()),
        ..beat(member, STATIC_LEAVE_EPOCH, &[])
    }
}

/// A simulated client: sends heartbeats, applies assignments (revoking at once).
struct Client {
    member: String,
    epoch: i32,
    owned: Vec<(Uuid, Vec<i32>)>,
}

impl Client {
    fn new(member: &str) -> Self {
        Client {
            member: member.into(),
            epoch: 0,
            owned: Vec::new(),
        }
    }

    fn partitions(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self.owned.iter().flat_map(|(_, ps)| ps.clone()).collect();
        v.sort();
        v
    }

    fn heartbeat(&mut self, c: &mut Coordinator, now: i64, img: &TopicImage, topics: &[&str]) {
        let req = if self.epoch == 0 {
            join(&self.member, topics)
        } else {
            ConsumerHeartbeat {
                owned: Some(self.owned.clone()),
                ..beat(&self.member, self.epoch, &[])
            }
        };
        let (r, _) = c.consumer_heartbeat(now, req, img);
        assert_eq!(r.error, None, "{:?}", r.message);
        self.epoch = r.member_epoch;
        if let Some(a) = r.assignment {
            self.owned = a;
        }
    }
}

fn owners_disjoint(clients: &[Client]) {
    let mut seen = std::collections::HashSet::new();
    for c in clients {
        for (t, ps) in &c.owned {
            for p in ps {
                assert!(seen.insert((*t, *p)), "{t}:{p} owned twice");
            }
        }
    }
}

/// Heartbeats every client in turn until nothing changes; checks that no partition is ever
/// owned by two clients.
fn settle(
    c: &mut Coordinator,
    now: i64,
    img: &TopicImage,
    clients: &mut [Client],
    topics: &[&str],
) {
    for _ in 0..10 {
        for i in 0..clients.len() {
            clients[i].heartbeat(c, now, img, topics);
            owners_disjoint(clients);
        }
    }
    assert_eq!(c.describe_consumer_group("g").state, "Stable");
}

#[test]
fn four_members_three_partitions_one_idle_then_a_leave_moves_the_partition() {
    let mut c = coord();
    let img = image(&[("t", 1, 3)]);
    let mut clients: Vec<Client> = (0..4).map(|i| Client::new(&format!("m{i}"))).collect();
    settle(&mut c, 0, &img, &mut clients, &["t"]);
    let counts: Vec<usize> = clients.iter().map(|c| c.partitions().len()).collect();
    assert_eq!(counts.iter().sum::<usize>(), 3);
    assert_eq!(counts.iter().filter(|n| **n == 0).count(), 1, "{counts:?}");
    let d = c.describe_consumer_group("g");
    assert_eq!(d.members.len(), 4);
    assert_eq!(d.assignor, "uniform");
    assert!(d.members.iter().all(|m| m.member_epoch == d.group_epoch));

    // A member with a partition leaves; the idle one gets it, the others keep theirs.
    let leaver = clients.iter().position(|c| !c.owned.is_empty()).unwrap();
    let gone = clients.remove(leaver);
    let before: Vec<Vec<i32>> = clients.iter().map(Client::partitions).collect();
    let (r, fx) = c.consumer_heartbeat(1, beat(&gone.member, LEAVE_EPOCH, &[]), &img);
    assert_eq!(r.error, None);
    assert_eq!(r.member_epoch, LEAVE_EPOCH);
    assert!(
        !fx.records.is_empty(),
        "tombstones and a new epoch are written"
    );
    settle(&mut c, 2, &img, &mut clients, &["t"]);
    let after: Vec<Vec<i32>> = clients.iter().map(Client::partitions).collect();
    for (b, a) in before.iter().zip(&after) {
        if !b.is_empty() {
            assert_eq!(b, a, "sticky: members keep what they had");
        }
    }
    assert_eq!(after.iter().map(Vec::len).sum::<usize>(), 3);
    assert!(after.iter().all(|a| a.len() == 1));
}

#[test]
fn a_partition_moves_only_after_its_owner_revoked_it() {
    let mut c = coord();
    let img = image(&[("t", 1, 2)]);
    let (r, _) = c.consumer_heartbeat(0, join("a", &["t"]), &img);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(r.assignment, Some(vec![(id(1), vec![0, 1])]));
    // b joins: the target gives it one of a's partitions, which a still owns.
    let (r, _) = c.consumer_heartbeat(1, join("b", &["t"]), &img);
    assert_eq!(r.member_epoch, 3, "b is at the new epoch");
    assert_eq!(r.assignment, Some(vec![]), "nothing free yet");
    assert_eq!(c.describe_consumer_group("g").state, "Reconciling");
    let target_b = c.describe_consumer_group("g").members[1]
        .target_assignment
        .clone();
    assert_eq!(target_b.len(), 1);
    let moving = target_b[0].1[0];
    let keep = 1 - moving;
    // a heartbeats still owning both: told to revoke, stays at epoch 1.
    let (r, _) = c.consumer_heartbeat(2, beat("a", 2, &[(1, &[0, 1])]), &img);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(r.assignment, Some(vec![(id(1), vec![keep])]));
    // b still gets nothing while a has not confirmed.
    let (r, _) = c.consumer_heartbeat(3, beat("b", 3, &[]), &img);
    assert_eq!(r.assignment, None);
    // a confirms (reports only what it keeps) and moves to epoch 2.
    let (r, _) = c.consumer_heartbeat(4, beat("a", 2, &[(1, &[keep])]), &img);
    assert_eq!(r.member_epoch, 3);
    // Now b gets it.
    let (r, _) = c.consumer_heartbeat(5, beat("b", 3, &[]), &img);
    assert_eq!(r.assignment, Some(vec![(id(1), vec![moving])]));
    assert_eq!(c.describe_consumer_group("g").state, "Stable");
}

#[test]
fn fencing_and_unknown_members() {
    let mut c = coord();
    let img = image(&[("t", 1, 1)]);
    let (r, _) = c.consumer_heartbeat(0, join("a", &["t"]), &img);
    assert_eq!(r.member_epoch, 2);
    let (r, _) = c.consumer_heartbeat(1, beat("a", 5, &[]), &img);
    assert_eq!(r.error, Some(GroupError::FencedMemberEpoch));
    assert!(r.message.unwrap().contains("greater member epoch (5)"));
    let (r, _) = c.consumer_heartbeat(1, beat("zz", 2, &[]), &img);
    assert_eq!(r.error, Some(GroupError::UnknownMemberId));
    // The previous epoch with a subset of the assignment is let through (a lost answer).
    let (_, _) = c.consumer_heartbeat(1, join("b", &["t"]), &img);
    let (r, _) = c.consumer_heartbeat(2, beat("a", 2, &[(1, &[0])]), &img);
    assert_eq!(r.error, None, "{:?}", r.message);
    // Bad requests.
    let mut bad = join("c", &["t"]);
    bad.rebalance_timeout_ms = -1;
    let (r, _) = c.consumer_heartbeat(3, bad, &img);
    assert_eq!(r.error, Some(GroupError::InvalidRequest));
    assert_eq!(
        r.message.as_deref(),
        Some("RebalanceTimeoutMs must be provided in first request.")
    );
    let mut bad = join("c", &["t"]);
    bad.server_assignor = Some("sticky".into());
    assert_eq!(
        c.consumer_heartbeat(3, bad, &img).0.error,
        Some(GroupError::UnsupportedAssignor)
    );
    let mut bad = join("c", &[]);
    bad.subscribed_topic_regex = Some("(".into());
    assert_eq!(
        c.consumer_heartbeat(3, bad, &img).0.error,
        Some(GroupError::InvalidRegularExpression)
    );
    let mut bad = join("", &["t"]);
    bad.version = 1;
    assert_eq!(
        c.consumer_heartbeat(3, bad, &img).0.error,
        Some(GroupError::InvalidRequest)
    );
    // v0 joins without an id get one.
    let mut v0 = join("", &["t"]);
    v0.version = 0;
    let (r, _) = c.consumer_heartbeat(3, v0, &img);
    assert_eq!(r.error, None);
    assert_eq!(r.member_id.unwrap().len(), 36);
}

#[test]
fn session_timeout_fences_and_frees_the_partitions() {
    let mut c = coord();
    let img = image(&[("t", 1, 2)]);
    let mut a = Client::new("a");
    let mut b = Client::new("b");
    let mut both = [a, b];
    settle(&mut c, 0, &img, &mut both, &["t"]);
    [a, b] = both;
    assert_eq!(a.partitions().len(), 1);
    let session = i64::from(GroupConfig::default().consumer_session_timeout_ms);
    // a keeps heartbeating; b goes silent.
    a.heartbeat(&mut c, session / 2, &img, &["t"]);
    let deadline = c.next_deadline().unwrap();
    assert_eq!(deadline, session, "b's session");
    let fx = c.tick(deadline);
    assert!(!fx.records.is_empty());
    assert_eq!(c.describe_consumer_group("g").members.len(), 1);
    a.heartbeat(&mut c, deadline + 1, &img, &["t"]);
    assert_eq!(a.partitions(), vec![0, 1]);
    let _ = b;
}

#[test]
fn a_member_that_does_not_revoke_within_its_rebalance_timeout_is_fenced() {
    let mut c = coord();
    let img = image(&[("t", 1, 2)]);
    let slow = ConsumerHeartbeat {
        rebalance_timeout_ms: 5_000,
        ..join("a", &["t"])
    };
    let _ = c.consumer_heartbeat(0, slow, &img);
    let _ = c.consumer_heartbeat(1, join("b", &["t"]), &img);
    // a is told to revoke at t=2 and never confirms, though it keeps heartbeating.
    let (r, _) = c.consumer_heartbeat(2, beat("a", 2, &[(1, &[0, 1])]), &img);
    assert_eq!(r.member_epoch, 2);
    let (r, _) = c.consumer_heartbeat(4_000, beat("a", 2, &[(1, &[0, 1])]), &img);
    assert_eq!(r.error, None);
    assert_eq!(c.next_deadline(), Some(2 + 5_000));
    let _ = c.tick(2 + 5_000);
    let d = c.describe_consumer_group("g");
    assert_eq!(d.members.len(), 1, "a was fenced");
    assert_eq!(d.members[0].member_id, "b");
}

#[test]
fn a_static_member_back_within_its_session_keeps_its_partitions() {
    let mut c = coord();
    let img = image(&[("t", 1, 4)]);
    let stat = |member: &str| ConsumerHeartbeat {
        instance_id: Some("inst".into()),
        ..join(member, &["t"])
    };
    let (r, _) = c.consumer_heartbeat(0, stat("s1"), &img);
    let mine = r.assignment.clone().unwrap();
    let _ = c.consumer_heartbeat(0, join("d", &["t"]), &img);
    let _ = c.consumer_heartbeat(
        1,
        ConsumerHeartbeat {
            owned: Some(mine.clone()),
            instance_id: Some("inst".into()),
            ..beat("s1", 2, &[])
        },
        &img,
    );
    let d = c.describe_consumer_group("g");
    let epoch = d.group_epoch;
    let held = d.members[0].assignment.clone();
    // Another instance with the same id while s1 is there: refused.
    let (r, _) = c.consumer_heartbeat(2, stat("s2"), &img);
    assert_eq!(r.error, Some(GroupError::UnreleasedInstanceId));
    // s1 leaves for a restart (-2): it keeps its partitions.
    let s1 = d.members[0].member_epoch;
    let (r, _) = c.consumer_heartbeat(3, static_leave("s1"), &img);
    assert_eq!((r.error, r.member_epoch), (None, STATIC_LEAVE_EPOCH));
    // The new instance takes over, with the same partitions and no new group epoch.
    let (r, _) = c.consumer_heartbeat(4, stat("s2"), &img);
    assert_eq!(r.error, None, "{:?}", r.message);
    assert_eq!(r.assignment.unwrap(), held);
    let d = c.describe_consumer_group("g");
    assert_eq!(d.group_epoch, epoch, "no rebalance");
    assert!(d.members.iter().any(|m| m.member_id == "s2"));
    assert!(!d.members.iter().any(|m| m.member_id == "s1"));
    // The old id is fenced.
    let (r, _) = c.consumer_heartbeat(
        5,
        ConsumerHeartbeat {
            instance_id: Some("inst".into()),
            ..beat("s1", s1, &[])
        },
        &img,
    );
    assert_eq!(r.error, Some(GroupError::FencedInstanceId));
}

#[test]
fn a_static_member_away_past_its_session_is_removed() {
    let mut c = coord();
    let img = image(&[("t", 1, 1)]);
    let stat = ConsumerHeartbeat {
        instance_id: Some("inst".into()),
        ..join("s1", &["t"])
    };
    let _ = c.consumer_heartbeat(0, stat, &img);
    let _ = c.consumer_heartbeat(1, static_leave("s1"), &img);
    let d = c.next_deadline().unwrap();
    let _ = c.tick(d);
    assert_eq!(c.describe_consumer_group("g").state, "Empty");
    let (res, _) = c.delete_groups(&["g".to_string()]);
    assert_eq!(res[0].1, None);
}

#[test]
fn a_regex_picks_up_a_topic_created_later() {
    let mut c = coord();
    let img = image(&[
        ("orders-eu", 1, 1),
        ("payments", 2, 1),
        ("__consumer_offsets", 9, 1),
    ]);
    let req = ConsumerHeartbeat {
        subscribed_topic_names: None,
        subscribed_topic_regex: Some("orders-.*".into()),
        ..join("a", &[])
    };
    let (r, _) = c.consumer_heartbeat(0, req, &img);
    assert_eq!(r.assignment, Some(vec![(id(1), vec![0])]));
    // Full match: "xorders-us" does not match; a new "orders-us" does.
    let img = image(&[
        ("orders-eu", 1, 1),
        ("payments", 2, 1),
        ("xorders-us", 4, 1),
        ("orders-us", 3, 2),
    ]);
    let (r, _) = c.consumer_heartbeat(1, beat("a", 2, &[(1, &[0])]), &img);
    assert_eq!(r.member_epoch, 3, "the new topic bumps the epoch");
    assert_eq!(
        r.assignment,
        Some(vec![(id(1), vec![0]), (id(3), vec![0, 1])])
    );
    let d = c.describe_consumer_group("g");
    assert_eq!(
        d.members[0].subscribed_topic_regex.as_deref(),
        Some("orders-.*")
    );
}

#[test]
fn partitions_added_to_a_subscribed_topic_are_assigned() {
    let mut c = coord();
    let (r, _) = c.consumer_heartbeat(0, join("a", &["t"]), &image(&[("t", 1, 1)]));
    assert_eq!(r.member_epoch, 2);
    let (r, _) = c.consumer_heartbeat(1, beat("a", 2, &[(1, &[0])]), &image(&[("t", 1, 3)]));
    assert_eq!(r.member_epoch, 3);
    assert_eq!(r.assignment, Some(vec![(id(1), vec![0, 1, 2])]));
}

#[test]
fn range_assignor_gives_consecutive_ranges() {
    let mut c = coord();
    let img = image(&[("t", 1, 5)]);
    let mut clients: Vec<Client> = ["a", "b"].iter().map(|m| Client::new(m)).collect();
    for cl in &mut clients {
        let req = ConsumerHeartbeat {
            server_assignor: Some("range".into()),
            ..join(&cl.member, &["t"])
        };
        let (r, _) = c.consumer_heartbeat(0, req, &img);
        cl.epoch = r.member_epoch;
        cl.owned = r.assignment.unwrap();
    }
    settle(&mut c, 1, &img, &mut clients, &["t"]);
    assert_eq!(clients[0].partitions(), vec![0, 1, 2]);
    assert_eq!(clients[1].partitions(), vec![3, 4]);
    assert_eq!(c.describe_consumer_group("g").assignor, "range");
}

#[test]
fn twenty_members_fifty_partitions_churn_keeps_owners_disjoint() {
    let mut c = coord();
    let img = image(&[("t", 1, 50)]);
    let mut clients: Vec<Client> = (0..20).map(|i| Client::new(&format!("m{i}"))).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut next = 20;
    for round in 0..30 {
        let now = round * 10;
        // Interleaved heartbeats with a random order each pass.
        for _ in 0..clients.len() * 6 {
            let i = rnd(clients.len());
            clients[i].heartbeat(&mut c, now, &img, &["t"]);
            owners_disjoint(&clients);
        }
        settle(&mut c, now, &img, &mut clients, &["t"]);
        let counts: Vec<usize> = clients.iter().map(|c| c.partitions().len()).collect();
        assert_eq!(counts.iter().sum::<usize>(), 50);
        assert!(
            counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
            "{counts:?}"
        );
        if clients.len() > 10 && rnd(2) == 0 {
            let gone = clients.remove(rnd(clients.len()));
            let (r, _) = c.consumer_heartbeat(now, beat(&gone.member, LEAVE_EPOCH, &[]), &img);
            assert_eq!(r.error, None);
        } else {
            next += 1;
            clients.push(Client::new(&format!("m{next}")));
        }
    }
}

#[test]
fn records_replay_into_the_same_group() {
    let mut c = coord();
    let img = image(&[("t", 1, 3)]);
    let mut log: Vec<OffsetsLogRecord> = Vec::new();
    let mut clients: Vec<Client> = (0..2).map(|i| Client::new(&format!("m{i}"))).collect();
    for _ in 0..5 {
        for cl in &mut clients {
            let req = if cl.epoch == 0 {
                join(&cl.member, &["t"])
            } else {
                ConsumerHeartbeat {
                    owned: Some(cl.owned.clone()),
                    ..beat(&cl.member, cl.epoch, &[])
                }
            };
            let (r, fx) = c.consumer_heartbeat(0, req, &img);
            log.extend(fx.records);
            cl.epoch = r.member_epoch;
            if let Some(a) = r.assignment {
                cl.owned = a;
            }
        }
    }
    let before = c.describe_consumer_group("g");
    let mut fresh = coord();
    for r in &log {
        fresh.replay(100, r).unwrap();
    }
    assert_eq!(fresh.describe_consumer_group("g"), before);
    // The members carry on at their epochs after the reload.
    for cl in &clients {
        let (r, _) = fresh.consumer_heartbeat(
            101,
            ConsumerHeartbeat {
                owned: Some(cl.owned.clone()),
                ..beat(&cl.member, cl.epoch, &[])
            },
            &img,
        );
        assert_eq!((r.error, r.member_epoch), (None, cl.epoch));
    }
    // Garbage never panics.
    for r in &log {
        if let Some(v) = &r.value {
            for cut in 0..v.len() {
                let broken = OffsetsLogRecord {
                    key: r.key.clone(),
                    value: Some(v.slice(..cut)),
                };
                let _ = coord().replay(0, &broken);
            }
        }
    }
    let huge = OffsetsLogRecord {
        key: r_key(),
        value: Some(bytes::Bytes::from_static(&[
            0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f,
        ])),
    };
    assert!(coord().replay(0, &huge).is_err());
}

fn r_key() -> bytes::Bytes {
    records::target("g", "m", None).key
}

#[test]
fn classic_and_consumer_groups_do_not_mix() {
    let mut c = coord();
    let img = image(&[("t", 1, 1)]);
    let _ = c.consumer_heartbeat(0, join("a", &["t"]), &img);
    // A classic JoinGroup to a consumer group with members.
    let fx = c.join(1, crate::group::ReplyId(1), classic_join("g", ""));
    match &fx.replies[0].1 {
        crate::group::Reply::Join(j) => {
            assert_eq!(j.error, Some(GroupError::InconsistentGroupProtocol))
        }
        other => panic!("{other:?}"),
    }
    // A consumer heartbeat to a classic group with members.
    let fx = c.join(1, crate::group::ReplyId(2), classic_join("classic", ""));
    assert!(!fx.replies.is_empty());
    let (r, _) = c.consumer_heartbeat(
        2,
        ConsumerHeartbeat {
            group_id: "classic".into(),
            ..join("x", &["t"])
        },
        &img,
    );
    assert_eq!(r.error, Some(GroupError::GroupIdNotFound));
    assert_eq!(
        r.message.as_deref(),
        Some("Group classic is not a consumer group.")
    );
    let listed = c.list_groups(&[]);
    assert!(listed
        .iter()
        .any(|l| l.group_id == "g" && l.group_type == "consumer" && l.state == "Stable"));
    assert!(listed
        .iter()
        .any(|l| l.group_id == "classic" && l.group_type == "classic"));
    assert_eq!(c.describe_group("g").state, "Dead", "not a classic group");
}

#[test]
fn offset_commits_check_the_member_epoch() {
    let mut c = coord();
    let img = image(&[("t", 1, 1)]);
    let (r, _) = c.consumer_heartbeat(0, join("a", &["t"]), &img);
    let commit = |epoch: i32, version: i16| OffsetCommitRequest {
        group_id: "g".into(),
        generation_id: epoch,
        member_id: "a".into(),
        api_version: version,
        partitions: vec![crate::group::CommitPartition {
            topic: "t".into(),
            partition: 0,
            offset: 5,
            leader_epoch: -1,
            metadata: String::new(),
        }],
        ..Default::default()
    };
    let e = |o: crate::group::CommitOutcome| o.results[0].error;
    assert_eq!(e(c.commit_offsets(1, commit(r.member_epoch, 9))), None);
    assert_eq!(
        e(c.commit_offsets(1, commit(r.member_epoch + 1, 9))),
        Some(GroupError::StaleMemberEpoch)
    );
    assert_eq!(
        e(c.commit_offsets(1, commit(r.member_epoch, 8))),
        Some(GroupError::UnsupportedVersion)
    );
    // KIP-1251: after an epoch bump, a commit at the older epoch is accepted for a partition
    // the member has held since then, and refused at an epoch before it got it.
    let _ = c.consumer_heartbeat(1, join("b", &["t"]), &img);
    let (r2, _) = c.consumer_heartbeat(1, beat("a", r.member_epoch, &[(1, &[0])]), &img);
    assert_eq!(r2.member_epoch, r.member_epoch + 1);
    assert_eq!(e(c.commit_offsets(1, commit(r.member_epoch, 9))), None);
    assert_eq!(
        e(c.commit_offsets(1, commit(r.member_epoch - 1, 9))),
        Some(GroupError::StaleMemberEpoch)
    );
    let r = r2;
    assert_eq!(
        c.check_offset_fetch_member("g", Some("a"), r.member_epoch + 1),
        Err(GroupError::StaleMemberEpoch)
    );
    assert_eq!(c.check_offset_fetch_member("g", None, -1), Ok(()));
    assert_eq!(
        c.check_offset_fetch_member("g", Some("nobody"), 1),
        Err(GroupError::UnknownMemberId)
    );
    // Non-empty: not deletable; its subscribed topic's offsets cannot be deleted.
    let (res, _) = c.delete_groups(&["g".to_string()]);
    assert_eq!(res[0].1, Some(GroupError::NonEmptyGroup));
    c.complete_pending_commits(true);
    let o = c.delete_offsets("g", &[("t".into(), 0)]);
    assert_eq!(
        o.partitions[0].error,
        Some(GroupError::GroupSubscribedToTopic)
    );
}

#[test]
fn a_static_member_back_after_leaving_mid_revocation_gets_a_real_epoch() {
    let mut c = coord();
    let img = image(&[("t", 1, 2)]);
    let stat = |member: &str| ConsumerHeartbeat {
        instance_id: Some("inst".into()),
        ..join(member, &["t"])
    };
    let (r, _) = c.consumer_heartbeat(0, stat("s1"), &img);
    let _ = c.consumer_heartbeat(1, join("d", &["t"]), &img);
    // s1 is told to revoke, then leaves for a restart before confirming.
    let owned = r.assignment.unwrap();
    let _ = c.consumer_heartbeat(
        2,
        ConsumerHeartbeat {
            instance_id: Some("inst".into()),
            owned: Some(owned.clone()),
            ..beat("s1", r.member_epoch, &[])
        },
        &img,
    );
    let _ = c.consumer_heartbeat(3, static_leave("s1"), &img);
    // The new instance joins without reporting anything owned.
    let (r, _) = c.consumer_heartbeat(
        4,
        ConsumerHeartbeat {
            owned: None,
            ..stat("s2")
        },
        &img,
    );
    assert_eq!(r.error, None, "{:?}", r.message);
    assert!(r.member_epoch > 0, "epoch {}", r.member_epoch);
}

#[test]
fn transactional_commits_need_no_member_and_stale_classic_joins_do_not_convert() {
    let mut c = coord();
    let img = image(&[("t", 1, 1)]);
    let _ = c.consumer_heartbeat(0, join("a", &["t"]), &img);
    let token = c.begin_txn_verification(7);
    let (res, _) = c.txn_commit_offsets(
        1,
        crate::group::TxnOffsetCommitRequest {
            producer_id: 7,
            producer_epoch: 0,
            verification: Some(token),
            commit: OffsetCommitRequest {
                group_id: "g".into(),
                generation_id: -1,
                partitions: vec![crate::group::CommitPartition {
                    topic: "t".into(),
                    partition: 0,
                    offset: 3,
                    leader_epoch: -1,
                    metadata: String::new(),
                }],
                ..Default::default()
            },
        },
    );
    assert_eq!(
        res[0].error, None,
        "sendOffsetsToTransaction(offsets, groupId)"
    );
    // The member leaves: the group is Empty. A classic rejoin with a stale member id does
    // not turn it into a classic group.
    let _ = c.consumer_heartbeat(2, beat("a", LEAVE_EPOCH, &[]), &img);
    let fx = c.join(3, crate::group::ReplyId(1), classic_join("g", "stale"));
    assert!(fx.records.is_empty());
    assert_eq!(
        c.describe_consumer_group("g").state,
        "Empty",
        "still a consumer group"
    );
    // A pattern that is only valid once wrapped is refused.
    let mut bad = join("z", &[]);
    bad.subscribed_topic_regex = Some("a)|(b".into());
    assert_eq!(
        c.consumer_heartbeat(4, bad, &img).0.error,
        Some(GroupError::InvalidRegularExpression)
    );
}

/// A classic JoinGroup of `member` ("" for a new one) to `group`.
fn classic_join(group: &str, member: &str) -> crate::group::JoinRequest {
    crate::group::JoinRequest {
        group_id: group.into(),
        member_id: member.into(),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), bytes::Bytes::new())],
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        ..Default::default()
    }
}
