//! Offset commit, fetch, delete and retention tests.

use bytes::Bytes;

use crate::group::test_util::*;
use crate::group::*;

fn commit(
    group: &str,
    generation: i32,
    member: &str,
    parts: &[(&str, i32, i64)],
) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.to_string(),
        generation_id: generation,
        member_id: member.to_string(),
        partitions: parts
            .iter()
            .map(|(t, p, o)| CommitPartition {
                topic: t.to_string(),
                partition: *p,
                offset: *o,
                leader_epoch: -1,
                metadata: String::new(),
            })
            .collect(),
        ..Default::default()
    }
}

fn errors(out: &CommitOutcome) -> Vec<Option<GroupError>> {
    out.results.iter().map(|r| r.error).collect()
}

fn key(t: &str, p: i32) -> (String, i32) {
    (t.to_string(), p)
}

#[test]
fn simple_commit_applies_only_once_persisted() {
    let mut c = Coordinator::new(GroupConfig::default());
    let out = c.commit_offsets(5, commit("simple", -1, "", &[("t", 0, 42), ("t", 1, 43)]));
    assert_eq!(errors(&out), vec![None, None]);
    assert_eq!(out.effects.records.len(), 2);
    let token = out.token.unwrap();
    // Not yet persisted: invisible, and unstable for require_stable fetches.
    let f = c.fetch_offsets("simple", Some(&[key("t", 0)]), false);
    assert_eq!((f[0].offset, f[0].error), (-1, None));
    let f = c.fetch_offsets("simple", Some(&[key("t", 0)]), true);
    assert_eq!(f[0].error, Some(GroupError::UnstableOffsetCommit));
    c.complete_commit(token, true);
    let f = c.fetch_offsets("simple", None, true);
    let got: Vec<(i32, i64)> = f.iter().map(|o| (o.partition, o.offset)).collect();
    assert_eq!(got, vec![(0, 42), (1, 43)]);
    // Unknown partition and unknown group answer -1.
    assert_eq!(
        c.fetch_offsets("simple", Some(&[key("u", 0)]), true)[0].offset,
        -1
    );
    assert_eq!(
        c.fetch_offsets("nope", Some(&[key("t", 0)]), true)[0].offset,
        -1
    );
    assert!(c.fetch_offsets("nope", None, true).is_empty());

    // A failed append leaves the old offset.
    let out = c.commit_offsets(6, commit("simple", -1, "", &[("t", 0, 99)]));
    c.complete_commit(out.token.unwrap(), false);
    assert_eq!(
        c.fetch_offsets("simple", Some(&[key("t", 0)]), true)[0].offset,
        42
    );
    // An abandoned commit to a brand-new group leaves no group behind.
    let out = c.commit_offsets(6, commit("fresh", -1, "", &[("t", 0, 1)]));
    c.complete_commit(out.token.unwrap(), false);
    assert_eq!(c.describe_group("fresh").state, "Dead");
}

#[test]
fn commit_generation_checks() {
    let mut c = Coordinator::new(GroupConfig::default());
    // A generation for an unknown group is stale.
    let out = c.commit_offsets(0, commit("g", 1, "m", &[("t", 0, 1)]));
    assert_eq!(errors(&out), vec![Some(GroupError::IllegalGeneration)]);
    assert_eq!(c.describe_group("g").state, "Dead");

    let a = stable_single(&mut c, 0, "g");
    let ok = c.commit_offsets(1, commit("g", 1, &a, &[("t", 0, 1)]));
    assert_eq!(errors(&ok), vec![None]);
    let out = c.commit_offsets(1, commit("g", 0, &a, &[("t", 0, 1)]));
    assert_eq!(errors(&out), vec![Some(GroupError::IllegalGeneration)]);
    let out = c.commit_offsets(1, commit("g", 1, "ghost", &[("t", 0, 1)]));
    assert_eq!(errors(&out), vec![Some(GroupError::UnknownMemberId)]);
    // Anonymous commits are refused while the group has members.
    let out = c.commit_offsets(1, commit("g", -1, "", &[("t", 0, 1)]));
    assert_eq!(errors(&out), vec![Some(GroupError::UnknownMemberId)]);
    let mut big = commit("g", 1, &a, &[("t", 0, 1), ("t", 1, 1)]);
    big.partitions[0].metadata = "x".repeat(4097);
    let out = c.commit_offsets(1, big);
    assert_eq!(
        errors(&out),
        vec![Some(GroupError::OffsetMetadataTooLarge), None]
    );
    assert_eq!(out.effects.records.len(), 1);

    // The leader rejoins: CompletingRebalance refuses commits of the new generation.
    let fx = c.join(2, ReplyId(7), join_req("g", &a, "c1"));
    assert_eq!(join_reply(&fx, ReplyId(7)).unwrap().generation_id, 2);
    let out = c.commit_offsets(3, commit("g", 2, &a, &[("t", 0, 1)]));
    assert_eq!(errors(&out), vec![Some(GroupError::RebalanceInProgress)]);
}

#[test]
fn offsets_of_empty_groups_expire_after_retention() {
    let config = GroupConfig {
        offsets_retention_ms: 1_000,
        offsets_retention_check_interval_ms: 100,
        ..GroupConfig::default()
    };
    let mut c = Coordinator::new(config);
    let out = c.commit_offsets(0, commit("s", -1, "", &[("t", 0, 1)]));
    c.complete_commit(out.token.unwrap(), true);
    assert_eq!(c.next_deadline(), Some(100));
    assert!(c.tick(900).records.is_empty());
    let fx = c.tick(1_000);
    assert_eq!(
        fx.records,
        vec![OffsetsLogRecord::offset_commit("s", "t", 0, None)]
    );
    assert_eq!(c.describe_group("s").state, "Dead");

    // A consumer group's offsets are kept while it is Stable and subscribed.
    let a = stable_single(&mut c, 2_000, "g");
    let out = c.commit_offsets(2_000, commit("g", 1, &a, &[("t", 0, 5), ("gone", 0, 6)]));
    c.complete_commit(out.token.unwrap(), true);
    for t in (2_100..=4_000).step_by(100) {
        assert_eq!(c.heartbeat(t, hb("g", 1, &a)), Ok(()));
        let _ = c.tick(t);
    }
    let left: Vec<String> = c
        .fetch_offsets("g", None, false)
        .into_iter()
        .map(|o| o.topic)
        .collect();
    assert_eq!(left, vec!["t".to_string()], "unsubscribed topic expired");
}

#[test]
fn delete_offsets_follows_subscriptions() {
    let mut c = Coordinator::new(GroupConfig::default());
    let out = c.delete_offsets("nope", &[key("t", 0)]);
    assert_eq!(out.error, Some(GroupError::GroupIdNotFound));

    let a = stable_single(&mut c, 0, "g");
    let out = c.commit_offsets(0, commit("g", 1, &a, &[("t", 0, 5), ("other", 0, 6)]));
    c.complete_commit(out.token.unwrap(), true);
    let out = c.delete_offsets("g", &[key("t", 0), key("other", 0)]);
    assert_eq!(out.error, None);
    let errs: Vec<Option<GroupError>> = out.partitions.iter().map(|p| p.error).collect();
    assert_eq!(errs, vec![Some(GroupError::GroupSubscribedToTopic), None]);
    assert_eq!(
        out.effects.records,
        vec![OffsetsLogRecord::offset_commit("g", "other", 0, None)]
    );

    // A non-consumer group with members refuses.
    let mut conn = join_req("k", "", "w");
    conn.protocol_type = "connect".into();
    conn.require_known_member_id = false;
    conn.protocols = vec![("default".into(), Bytes::new())];
    let _ = c.join(0, ReplyId(1), conn);
    assert_eq!(
        c.delete_offsets("k", &[key("t", 0)]).error,
        Some(GroupError::NonEmptyGroup)
    );

    // Once Empty, everything goes, and the group with it.
    let (_, _) = c.leave(
        1,
        LeaveRequest {
            group_id: "g".into(),
            members: vec![LeaveMember {
                member_id: a,
                group_instance_id: None,
            }],
        },
    );
    let out = c.delete_offsets("g", &[key("t", 0)]);
    assert_eq!(out.partitions[0].error, None);
    assert_eq!(out.effects.records.len(), 1, "the offset's tombstone");
    // As Kafka: the group stays (Empty) until the retention sweep removes it.
    assert_eq!(c.describe_group("g").state, "Empty");
    let fx = c.tick(1_000_000);
    assert!(
        fx.records
            .contains(&OffsetsLogRecord::group_metadata("g", None)),
        "the group's tombstone: {:?}",
        fx.records
    );
    assert_eq!(c.describe_group("g").state, "Dead");
}

fn txn_commit(pid: i64, token: Option<u64>, offset: i64) -> TxnOffsetCommitRequest {
    TxnOffsetCommitRequest {
        producer_id: pid,
        producer_epoch: 0,
        verification: token,
        commit: commit("tg", -1, "", &[("t", 0, offset)]),
    }
}

fn marker(pid: i64, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id: pid,
        producer_epoch: 0,
        commit,
        coordinator_epoch: 0,
    }
}

/// What a test writes to `__consumer_offsets`, in order.
enum Logged {
    /// A record of a transactional batch of this producer.
    Record(i64, OffsetsLogRecord),
    /// A marker: producer, COMMIT.
    Marker(i64, bool),
}

#[test]
fn transactional_offsets_wait_for_their_marker_and_survive_replay() {
    let mut c = Coordinator::new(GroupConfig::default());
    let mut log: Vec<Logged> = Vec::new();
    let want = vec![key("t", 0)];
    // Unverified (no guard, or a stale one): refused, nothing staged.
    let (r, fx) = c.txn_commit_offsets(1, txn_commit(9, None, 5));
    assert_eq!(r[0].error, Some(GroupError::InvalidTxnState));
    assert!(fx.records.is_empty());
    let token = c.begin_txn_verification(9);
    let (r, fx) = c.txn_commit_offsets(1, txn_commit(9, Some(token), 5));
    assert_eq!(r[0].error, None);
    assert_eq!(fx.txn_producer, Some((9, 0)));
    c.complete_staged_txn(true);
    log.extend(fx.records.into_iter().map(|r| Logged::Record(9, r)));
    // Pending: not visible, and unstable for require_stable.
    assert_eq!(c.fetch_offsets("tg", Some(&want), false)[0].offset, -1);
    assert_eq!(
        c.fetch_offsets("tg", Some(&want), true)[0].error,
        Some(GroupError::UnstableOffsetCommit)
    );
    let fx = c.complete_transaction(marker(9, true));
    assert!(fx.txn_marker.is_some());
    c.complete_staged_txn(true);
    log.push(Logged::Marker(9, true));
    assert_eq!(c.fetch_offsets("tg", Some(&want), true)[0].offset, 5);
    // The marker removed the guard: a commit verified before it is refused now.
    let (r, _) = c.txn_commit_offsets(2, txn_commit(9, Some(token), 7));
    assert_eq!(r[0].error, Some(GroupError::InvalidTxnState));
    // An aborted transaction's offsets are dropped.
    let token = c.begin_txn_verification(9);
    let (_, fx) = c.txn_commit_offsets(3, txn_commit(9, Some(token), 8));
    c.complete_staged_txn(true);
    log.extend(fx.records.into_iter().map(|r| Logged::Record(9, r)));
    let _ = c.complete_transaction(marker(9, false));
    c.complete_staged_txn(true);
    log.push(Logged::Marker(9, false));
    assert_eq!(c.fetch_offsets("tg", Some(&want), true)[0].offset, 5);
    // Replay of the same log gives the same answer.
    let mut again = Coordinator::new(GroupConfig::default());
    for item in log {
        match item {
            Logged::Record(pid, r) => again.replay_txn_record(10, pid, &r).unwrap(),
            Logged::Marker(pid, commit) => again.replay_marker(pid, commit),
        }
    }
    assert_eq!(again.fetch_offsets("tg", Some(&want), true)[0].offset, 5);
    assert!(again.open_transactions().is_empty());
}
