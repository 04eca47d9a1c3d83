//! Consumer groups with librdkafka (the rdkafka crate): partitions split across members, an
//! idle member beyond the partition count, rebalances on leave and on death, independent
//! groups, commit-and-resume (at-least-once), cooperative-sticky, and committed offsets that
//! survive a SIGKILL of the broker.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::members::{cfg, create_topic, describe_until, produce, wait_stable, Member};
use common::process::BrokerProcess;
use common::TestBroker;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_members_three_partitions_one_idle_then_leave_moves_partitions() {
    four_members_one_idle_then_leave(&[]).await;
}

/// The same story under KIP-848 (`group.protocol=consumer`): the broker assigns, with no
/// client-side assignor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_protocol_four_members_three_partitions_one_idle_then_leave() {
    four_members_one_idle_then_leave(&[("group.protocol", "consumer")]).await;
}

async fn four_members_one_idle_then_leave(extra: &'static [(&'static str, &'static str)]) {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "split", 3).await;
    produce(&bs, "split", "a", 300).await;
    let bs2 = bs.clone();
    tokio::task::spawn_blocking(move || {
        let members: Vec<Member> = (0..4)
            .map(|i| Member::start(&bs2, "g-split", "split", &format!("m{i}"), extra))
            .collect();
        let refs: Vec<&Member> = members.iter().collect();
        let took = wait_stable(&refs, 3, 1, Duration::from_secs(30));
        eprintln!("4 members stable after {took:?} ({extra:?})");
        // Every record consumed by exactly one member.
        let deadline = Instant::now() + Duration::from_secs(30);
        while members.iter().map(|m| m.values().len()).sum::<usize>() < 300 {
            assert!(Instant::now() < deadline, "group consumed everything");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut all: Vec<String> = members.iter().flat_map(|m| m.values()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 300, "no duplicates within a group");
        // The member owning partition 0 leaves: its partition moves to the idle one or another.
        let mut members = members;
        let leaver = members
            .iter()
            .position(|m| m.assignment().contains(&0))
            .unwrap();
        let gone = members.remove(leaver);
        drop(gone.stop());
        let refs: Vec<&Member> = members.iter().collect();
        let took = wait_stable(&refs, 3, 0, Duration::from_secs(30));
        eprintln!("rebalanced after a leave in {took:?} ({extra:?})");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_groups_each_read_everything() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "fanout", 2).await;
    produce(&bs, "fanout", "f", 200).await;
    let bs2 = bs.clone();
    tokio::task::spawn_blocking(move || {
        let a = Member::start(&bs2, "g-a", "fanout", "a", &[]);
        let b1 = Member::start(&bs2, "g-b", "fanout", "b1", &[]);
        let b2 = Member::start(&bs2, "g-b", "fanout", "b2", &[]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while a.values().len() < 200 || b1.values().len() + b2.values().len() < 200 {
            assert!(Instant::now() < deadline, "both groups read everything");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(a.values().len(), 200, "pub/sub: group a got all");
        let mut bv: Vec<String> = b1.values().into_iter().chain(b2.values()).collect();
        let n = bv.len();
        bv.sort();
        bv.dedup();
        assert_eq!(
            (n, bv.len()),
            (200, 200),
            "queue: group b split it, no duplicates"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_stop_resume_redelivers_only_uncommitted() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "resume", 1).await;
    produce(&bs, "resume", "r", 100).await;
    let bs2 = bs.clone();
    tokio::task::spawn_blocking(move || {
        let c: BaseConsumer = cfg(&bs2)
            .set("group.id", "g-resume")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
        c.subscribe(&["resume"]).unwrap();
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen.len() < 80 {
            assert!(Instant::now() < deadline);
            if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                seen.push(m.offset());
            }
        }
        // Commit offset 60 (next to read), though 80 were processed: 60..79 were not committed.
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("resume", 0, Offset::Offset(60))
            .unwrap();
        c.commit(&tpl, CommitMode::Sync).unwrap();
        // Read it back from another client (librdkafka's close hangs after `committed()` on a
        // subscribed consumer, client-side: no request reaches the broker).
        let checker: BaseConsumer = cfg(&bs2).set("group.id", "g-resume").create().unwrap();
        let mut want = TopicPartitionList::new();
        want.add_partition("resume", 0);
        let committed = checker
            .committed_offsets(want, Duration::from_secs(10))
            .unwrap();
        assert_eq!(committed.elements()[0].offset(), Offset::Offset(60));
        drop(checker);
        // Leave the group the way an application shuts down: unsubscribe, let the client serve
        // the revocation, then close.
        c.unsubscribe();
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            let _ = c.poll(Duration::from_millis(50));
        }
        drop(c);
        // The next member resumes at 60 and sees 60..99 again (at-least-once).
        let c2: BaseConsumer = cfg(&bs2)
            .set("group.id", "g-resume")
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
        c2.subscribe(&["resume"]).unwrap();
        let mut again = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while again.len() < 40 {
            assert!(Instant::now() < deadline, "resumed: {again:?}");
            if let Some(Ok(m)) = c2.poll(Duration::from_millis(100)) {
                again.push(m.offset());
            }
        }
        assert_eq!(again, (60..100).collect::<Vec<i64>>());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_committed_offset_resets_earliest_or_latest() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "reset", 1).await;
    produce(&bs, "reset", "old", 10).await;
    let bs2 = bs.clone();
    let (earliest, latest) = tokio::task::spawn_blocking(move || {
        let earliest = Member::start(
            &bs2,
            "g-earliest",
            "reset",
            "e",
            &[("auto.offset.reset", "earliest")],
        );
        let latest = Member::start(
            &bs2,
            "g-latest",
            "reset",
            "l",
            &[("auto.offset.reset", "latest")],
        );
        (earliest, latest)
    })
    .await
    .unwrap();
    // Keep producing new records until the latest member has seen one: it must never see the
    // ten that were there before it joined.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut round = 0;
    while latest.values().is_empty() {
        assert!(
            Instant::now() < deadline,
            "latest member received new records"
        );
        produce(&bs, "reset", &format!("new{round}-"), 1).await;
        round += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        latest.values().iter().all(|v| v.starts_with("new")),
        "{:?}",
        latest.values()
    );
    while earliest.values().len() < 10 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        earliest.values()[..10],
        (0..10).map(|i| format!("old{i}")).collect::<Vec<_>>()[..]
    );
    tokio::task::spawn_blocking(move || drop((earliest, latest)))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_member_partitions_move_after_session_timeout() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "dead", 2).await;
    let bs2 = bs.clone();
    tokio::task::spawn_blocking(move || {
        // A member in another process (Debian's kcat, librdkafka 2.0.2) that is then killed
        // with SIGKILL: no LeaveGroup, heartbeats just stop.
        let mut kcat = std::process::Command::new("kcat")
            .args(["-b", &bs2, "-G", "g-dead", "dead", "-q"])
            .args([
                "-X",
                "session.timeout.ms=6000",
                "-X",
                "heartbeat.interval.ms=500",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("kcat is installed by scripts/test");
        let m1 = Member::start(
            &bs2,
            "g-dead",
            "dead",
            "m1",
            &[("session.timeout.ms", "6000")],
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while m1.assignment().len() != 1 {
            assert!(
                Instant::now() < deadline,
                "kcat and m1 share the two partitions"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        kcat.kill().unwrap();
        kcat.wait().unwrap();
        let took = wait_stable(&[&m1], 2, 0, Duration::from_secs(60));
        eprintln!("dead member's partitions moved after {took:?}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_rebalances_incrementally() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "coop", 6).await;
    let bs2 = bs.clone();
    tokio::task::spawn_blocking(move || {
        let coop = [("partition.assignment.strategy", "cooperative-sticky")];
        let m1 = Member::start(&bs2, "g-coop", "coop", "c1", &coop);
        wait_stable(&[&m1], 6, 0, Duration::from_secs(30));
        let m2 = Member::start(&bs2, "g-coop", "coop", "c2", &coop);
        let m3 = Member::start(&bs2, "g-coop", "coop", "c3", &coop);
        wait_stable(&[&m1, &m2, &m3], 6, 0, Duration::from_secs(60));
        for m in [&m1, &m2, &m3] {
            assert_eq!(m.assignment().len(), 2, "{} got a fair share", m.name);
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_lists_describes_and_deletes_groups() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "adm", 2).await;
    let broker = b.running.as_ref().unwrap().cluster.clone();
    let bs2 = bs.clone();
    let m = tokio::task::spawn_blocking(move || {
        let m = Member::start(&bs2, "g-admin", "adm", "solo", &[]);
        wait_stable(&[&m], 2, 0, Duration::from_secs(30));
        m
    })
    .await
    .unwrap();
    let listed = broker.groups.list_groups(vec![]).await;
    assert!(listed
        .iter()
        .any(|g| g.group_id == "g-admin" && g.state == "Stable"));
    let a: AdminClient<DefaultClientContext> = cfg(&bs).create().unwrap();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    // A group with a member cannot be deleted.
    let r = a.delete_groups(&["g-admin"], &opts).await.unwrap();
    assert_eq!(
        r[0].as_ref().unwrap_err().1,
        rdkafka::types::RDKafkaErrorCode::NonEmptyGroup
    );
    tokio::task::spawn_blocking(move || drop(m.stop()))
        .await
        .unwrap();
    let d = broker.groups.describe_group("g-admin").await.unwrap();
    assert_eq!(d.state, "Empty");
    let r = a.delete_groups(&["g-admin"], &opts).await.unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    assert_eq!(
        broker.groups.describe_group("g-admin").await.unwrap().state,
        "Dead"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = BrokerProcess::spawn(dir.path(), &[]);
    let bs = b.addr.to_string();
    create_topic(&bs, "kept", 3).await;
    produce(&bs, "kept", "k", 90).await;
    let bs2 = bs.clone();
    tokio::task::spawn_blocking(move || {
        let c: BaseConsumer = cfg(&bs2).set("group.id", "g-kept").create().unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..3 {
            tpl.add_partition_offset("kept", p, Offset::Offset(10 + p as i64))
                .unwrap();
        }
        c.commit(&tpl, CommitMode::Sync).unwrap();
    })
    .await
    .unwrap();
    b.kill9();
    let b = BrokerProcess::spawn(dir.path(), &[]);
    let bs = b.addr.to_string();
    let committed = tokio::task::spawn_blocking(move || {
        let c: BaseConsumer = cfg(&bs).set("group.id", "g-kept").create().unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..3 {
            tpl.add_partition("kept", p);
        }
        c.committed_offsets(tpl, Duration::from_secs(10)).unwrap()
    })
    .await
    .unwrap();
    let got: BTreeMap<i32, Offset> = committed
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset()))
        .collect();
    assert_eq!(
        got,
        BTreeMap::from([
            (0, Offset::Offset(10)),
            (1, Offset::Offset(11)),
            (2, Offset::Offset(12))
        ])
    );
    let _ = HashMap::<(), ()>::new();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_members_fifty_partitions_churn_and_settle() {
    // Faster heartbeats so each rebalance is noticed quickly; otherwise client defaults.
    churn(&[
        ("heartbeat.interval.ms", "300"),
        ("session.timeout.ms", "6000"),
    ])
    .await;
}

/// The churn under KIP-848: heartbeats are the broker's (`group.consumer.heartbeat.interval.ms`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_protocol_twenty_members_fifty_partitions_churn_and_settle() {
    churn(&[("group.protocol", "consumer")]).await;
}

async fn churn(fast: &'static [(&'static str, &'static str)]) {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "churn", 50).await;
    let bs2 = bs.clone();
    let cluster = b.cluster().clone();
    let consumer_protocol = fast.contains(&("group.protocol", "consumer"));
    // Under KIP-848 the broker's own view must agree: every partition in exactly one
    // member's assignment, each member at its target.
    let broker_agrees = move || {
        if !consumer_protocol {
            return;
        }
        describe_until(&cluster, "g-churn", "broker view never settled", |d| {
            let mut owned: Vec<i32> = d
                .members
                .iter()
                .flat_map(|m| m.assignment.iter().flat_map(|(_, ps)| ps.clone()))
                .collect();
            owned.sort();
            let at_target = d
                .members
                .iter()
                .all(|m| m.assignment == m.target_assignment);
            d.state == "Stable" && at_target && owned == (0..50).collect::<Vec<_>>()
        });
    };
    tokio::task::spawn_blocking(move || {
        let mut seed = 0x2545f4914f6cdd1du64;
        let mut rnd = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut next_id = 0;
        let start = |next_id: &mut usize| {
            *next_id += 1;
            Member::start(&bs2, "g-churn", "churn", &format!("c{next_id}"), fast)
        };
        let mut live: Vec<Member> = (0..20).map(|_| start(&mut next_id)).collect();
        let mut settles = Vec::new();
        let rounds = 12;
        for round in 0..rounds {
            let refs: Vec<&Member> = live.iter().collect();
            settles.push(wait_stable(&refs, 50, 0, Duration::from_secs(60)));
            broker_agrees();
            // Leave or join at random, keeping between 10 and 20 members.
            let leave = live.len() > 10 && (live.len() == 20 || rnd(2) == 0);
            if leave {
                let k = 1 + rnd(3);
                for _ in 0..k.min(live.len() - 10) {
                    let gone = live.remove(rnd(live.len()));
                    drop(gone.stop());
                }
            } else {
                for _ in 0..(1 + rnd(3)).min(20 - live.len()) {
                    live.push(start(&mut next_id));
                }
            }
            eprintln!("round {round}: {} members", live.len());
        }
        let refs: Vec<&Member> = live.iter().collect();
        settles.push(wait_stable(&refs, 50, 0, Duration::from_secs(60)));
        broker_agrees();
        settles.sort();
        eprintln!(
            "churn ({fast:?}): {} settles, median {:?}, max {:?}",
            settles.len(),
            settles[settles.len() / 2],
            settles.last().unwrap()
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_flood_starves_neither_heartbeats_nor_fetches() {
    // Retention keeps the flood's disk use bounded: small segments, 16 MB per partition.
    let b = TestBroker::start(&[("log.retention.check.interval.ms", "200")]).await;
    let bs = b.bootstrap();
    let a: AdminClient<DefaultClientContext> = cfg(&bs).create().unwrap();
    let flood_topic = NewTopic::new("flood", 3, TopicReplication::Fixed(1))
        .set("segment.bytes", "4000000")
        .set("retention.bytes", "16000000");
    let r = a
        .create_topics(&[flood_topic], &AdminOptions::new())
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    create_topic(&bs, "calm", 2).await;
    let broker = b.running.as_ref().unwrap().cluster.clone();
    let bs2 = bs.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let fast = [("heartbeat.interval.ms", "500"), ("session.timeout.ms", "6000")];
        let m1 = Member::start(&bs2, "g-calm", "calm", "m1", &fast);
        let m2 = Member::start(&bs2, "g-calm", "calm", "m2", &fast);
        wait_stable(&[&m1, &m2], 2, 0, Duration::from_secs(30));
        let before = (m1.assignment(), m2.assignment());
        // Flood: as fast as librdkafka can send 256-byte records, for a few seconds.
        let stop = Arc::new(AtomicBool::new(false));
        let flood = {
            let (bs, stop) = (bs2.clone(), stop.clone());
            std::thread::spawn(move || {
                let p: rdkafka::producer::BaseProducer = cfg(&bs).set("linger.ms", "5").create().unwrap();
                let payload = vec![7u8; 256];
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if p.send(rdkafka::producer::BaseRecord::<(), _>::to("flood").payload(&payload)).is_ok() {
                        sent += 1;
                    } else {
                        p.poll(Duration::from_millis(1));
                    }
                }
                let _ = rdkafka::producer::Producer::flush(&p, Duration::from_secs(30));
                sent
            })
        };
        // Meanwhile a trickle on the calm topic must keep arriving, and the group must stay put.
        let trickle: rdkafka::producer::BaseProducer = cfg(&bs2).create().unwrap();
        let start = Instant::now();
        let mut produced = 0;
        let mut states = HashSet::new();
        while start.elapsed() < Duration::from_secs(5) {
            let v = format!("t{produced}");
            if trickle.send(rdkafka::producer::BaseRecord::to("calm").key(&v).payload(&v)).is_ok() {
                produced += 1;
            }
            trickle.poll(Duration::from_millis(0));
            let d = handle.block_on(broker.groups.describe_group("g-calm")).unwrap();
            states.insert(d.state);
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        let flooded = flood.join().unwrap();
        let _ = rdkafka::producer::Producer::flush(&trickle, Duration::from_secs(30));
        let deadline = Instant::now() + Duration::from_secs(30);
        while m1.values().len() + m2.values().len() < produced {
            assert!(Instant::now() < deadline, "calm consumers got {} of {produced}", m1.values().len() + m2.values().len());
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("flood: {flooded} records of 256 B; calm topic: {produced} records all consumed; group states seen: {states:?}");
        assert!(flooded > 10_000, "the flood was a flood ({flooded} records)");
        assert_eq!(states, HashSet::from(["Stable"]), "no rebalance during the flood");
        assert_eq!((m1.assignment(), m2.assignment()), before, "assignments unchanged");
    })
    .await
    .unwrap();
}

/// Two groups on different shards of `__consumer_offsets`, each with two raw members scripted
/// through join, sync, heartbeat, commit and leave: the sharded coordinator keeps them apart,
/// and a rebalance in one leaves the other Stable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_members_rebalance_commit_and_leave_in_groups_on_different_shards() {
    use common::group::RawMember;
    let b = TestBroker::start(&[]).await;
    let cluster = b.running.as_ref().unwrap().cluster.clone();
    // Two group ids that map to different partitions.
    let g1 = "raw-a".to_string();
    let g2 = (0..)
        .map(|i| format!("raw-b{i}"))
        .find(|g| cluster.groups.shard_of(g) != cluster.groups.shard_of(&g1))
        .unwrap();
    create_topic(&b.bootstrap(), "raw", 2).await;
    for group in [&g1, &g2] {
        let mut a = RawMember::connect(b.addr, group).await;
        let ja = a.join().await;
        assert_eq!((ja.error, ja.generation), (0, 1), "{group}: a alone");
        assert_eq!(
            a.sync(&[(ja.member_id.as_str(), b"p0,p1")]).await,
            (0, "p0,p1".into())
        );
        assert_eq!(a.heartbeat().await, 0);
        // b joins: a learns of the rebalance from its heartbeat and rejoins.
        let addr = b.addr;
        let g = group.clone();
        let joining = tokio::spawn(async move {
            let mut m = RawMember::connect(addr, &g).await;
            let j = m.join().await;
            (m, j)
        });
        // Bounded only so a broken coordinator fails instead of hanging (30 s).
        let mut code = 0;
        for _ in 0..3_000 {
            code = a.heartbeat().await;
            if code == 27 {
                break; // REBALANCE_IN_PROGRESS
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(code, 27, "{group}: a is told to rejoin");
        let ja = a.join().await;
        let (mut m, jb) = joining.await.unwrap();
        assert_eq!((ja.generation, jb.generation), (2, 2));
        assert_eq!(ja.leader, ja.member_id, "the first member leads");
        assert_eq!(ja.members.len(), 2);
        let plan = [
            (ja.member_id.as_str(), &b"p0"[..]),
            (jb.member_id.as_str(), &b"p1"[..]),
        ];
        assert_eq!(a.sync(&plan).await, (0, "p0".into()));
        assert_eq!(m.sync(&[]).await, (0, "p1".into()));
        assert_eq!(a.commit("raw", 0, 7).await, 0);
        assert_eq!(m.commit("raw", 1, 9).await, 0);
        let d = cluster.groups.describe_group(group).await.unwrap();
        assert_eq!((d.state, d.members.len()), ("Stable", 2), "{group}");
        assert_eq!(m.leave().await, 0);
        assert_eq!(a.leave().await, 0);
        assert_eq!(
            cluster.groups.describe_group(group).await.unwrap().state,
            "Empty"
        );
    }
    let listed = cluster.groups.list_groups(vec![]).await;
    assert!([&g1, &g2]
        .iter()
        .all(|g| listed.iter().any(|l| &l.group_id == *g)));
}

/// librdkafka's 0081 story: static members (`group.instance.id`) close without a LeaveGroup;
/// Kafka still expires them after `session.timeout.ms`, so the group empties and DeleteGroups
/// succeeds. (Gregor used to keep them, answering NON_EMPTY_GROUP.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_members_expire_after_their_session_and_the_group_can_be_deleted() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "static-exp", 2).await;
    let bs2 = bs.clone();
    tokio::task::spawn_blocking(move || {
        let members: Vec<Member> = (0..2)
            .map(|i| {
                Member::start(
                    &bs2,
                    "g-static-exp",
                    "static-exp",
                    &format!("s{i}"),
                    &[
                        ("group.instance.id", &format!("inst-{i}")),
                        ("session.timeout.ms", "6000"),
                    ],
                )
            })
            .collect();
        let refs: Vec<&Member> = members.iter().collect();
        wait_stable(&refs, 2, 0, Duration::from_secs(60));
        for m in members {
            drop(m.stop());
        }
    })
    .await
    .unwrap();
    let a: AdminClient<DefaultClientContext> = cfg(&bs).create().unwrap();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let start = Instant::now();
    loop {
        let r = a.delete_groups(&["g-static-exp"], &opts).await.unwrap();
        match &r[0] {
            Ok(_) => break,
            Err((_, code)) => {
                assert_eq!(*code, rdkafka::types::RDKafkaErrorCode::NonEmptyGroup);
                // The members' sessions are 6 s; the rebalance timeout (max.poll.interval.ms)
                // is 300 s. Well before that, the group must have emptied.
                assert!(
                    start.elapsed() < Duration::from_secs(120),
                    "static members never expired"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "static group deletable {:?} after its members closed",
        start.elapsed()
    );
}
