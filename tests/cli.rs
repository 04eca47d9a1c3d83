//! `gregor topic|produce|consume|group`, the built binary run as users run it, against a real
//! broker over TCP: topics created, listed, described and deleted (and the error for one that
//! exists); records with keys and headers produced and read back as a table and as JSON
//! (compressed batches from librdkafka too); keyed records on the partition the Java client
//! picks; consuming from an offset, a timestamp, the end, with a count; groups of live
//! librdkafka members (classic and KIP-848) described with their partitions, an idle member and
//! lag; reset-offsets refused on a Stable group, planned and executed on an Empty one.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::members::{cfg, create_topic, produce, wait_stable, Member};
use common::TestBroker;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;

/// Runs `gregor ARGS -b BOOTSTRAP` with `stdin`: (exit status, stdout, stderr).
fn gregor(bs: &str, args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gregor"))
        .args(args)
        .args(["-b", bs])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gregor runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `gregor ARGS`, which must succeed; its stdout.
fn ok(bs: &str, args: &[&str]) -> String {
    let (code, out, err) = gregor(bs, args, None);
    assert_eq!(code, 0, "gregor {args:?} exited {code}: {out}{err}");
    out
}

/// `gregor ARGS`, which must fail with one line on stderr; that line.
fn fails(bs: &str, args: &[&str]) -> String {
    let (code, out, err) = gregor(bs, args, None);
    assert_eq!(code, 1, "gregor {args:?} should fail: {out}{err}");
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    err.trim_end().to_string()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// One JSON object per line.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(json).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_listed_described_and_deleted() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    let out = ok(
        &bs,
        &[
            "topic",
            "create",
            "orders",
            "-p",
            "3",
            "-c",
            "retention.ms=7200000",
        ],
    );
    assert_eq!(
        out,
        "Created topic 'orders' (3 partitions, replication factor 1).\n"
    );
    // The same words as Kafka's controller.
    assert_eq!(
        fails(&bs, &["topic", "create", "orders", "-p", "3"]),
        "gregor topic: TOPIC_ALREADY_EXISTS: Topic 'orders' already exists."
    );
    let created = json(&ok(&bs, &["topic", "create", "single", "--format", "json"]));
    assert_eq!(created["name"], "single");
    assert_eq!(created["partitions"], 1, "the broker's num.partitions");
    assert_eq!(
        created["topic_id"].as_str().map(str::len),
        Some(22),
        "{created}"
    );
    // A group's coordinator lookup creates __consumer_offsets, which only --internal shows.
    ok(
        &bs,
        &[
            "group",
            "reset-offsets",
            "g",
            "--topic",
            "orders",
            "--to-earliest",
            "--execute",
        ],
    );
    let table = ok(&bs, &["topic", "list"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["NAME", "PARTITIONS", "REPLICAS"],
            vec!["orders", "3", "1"],
            vec!["single", "1", "1"]
        ]
    );
    let all = json(&ok(
        &bs,
        &["topic", "list", "--internal", "--format", "json"],
    ));
    let internal: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["internal"] == true)
        .collect();
    assert_eq!(internal.len(), 1, "{all}");
    assert_eq!(internal[0]["name"], "__consumer_offsets");
    // Describe: partitions with leaders and offsets, the non-default config.
    let (code, out, err) = gregor(
        &bs,
        &["produce", "orders", "-p", "1"],
        Some(b"a\nb\nc\nd\ne\n"),
    );
    assert_eq!(code, 0, "{out}{err}");
    let d = json(&ok(
        &bs,
        &["topic", "describe", "orders", "--format", "json"],
    ));
    assert_eq!(d["configs"]["retention.ms"], "7200000", "{d}");
    let parts = d["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["partition"], i);
        assert_eq!(p["leader"], 1);
        assert_eq!(p["replicas"], serde_json::json!([1]));
        assert_eq!(p["log_start_offset"], 0);
        let n = if i == 1 { 5 } else { 0 };
        assert_eq!(
            (p["log_end_offset"].as_i64(), p["messages"].as_i64()),
            (Some(n), Some(n))
        );
    }
    let text = ok(&bs, &["topic", "describe", "orders"]);
    assert!(text.contains("retention.ms=7200000"), "{text}");
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("1 "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(row, ["1", "1", "0", "1", "1", "0", "5", "5"], "{text}");
    // Delete; a second delete and a describe name the missing topic.
    assert_eq!(
        ok(&bs, &["topic", "delete", "orders", "single"]),
        "Deleted topic 'orders'.\nDeleted topic 'single'.\n"
    );
    assert_eq!(ok(&bs, &["topic", "list"]), "NAME  PARTITIONS  REPLICAS\n");
    assert!(fails(&bs, &["topic", "delete", "orders"]).contains("UNKNOWN_TOPIC_OR_PARTITION"));
    assert_eq!(
        fails(&bs, &["topic", "describe", "orders"]),
        "gregor topic: UNKNOWN_TOPIC_OR_PARTITION: Topic 'orders' does not exist."
    );
    assert!(fails(&bs, &["topic", "create", "x", "-c", "nonsense"]).contains("KEY=VALUE"));
    // No broker there: one line, exit 1.
    assert!(fails("127.0.0.1:1", &["topic", "list"]).contains("cannot reach a broker"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_with_keys_and_headers_read_back_as_a_table_and_as_json() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    ok(&bs, &["topic", "create", "rec", "-p", "1"]);
    let out = ok(
        &bs,
        &[
            "produce",
            "rec",
            "-k",
            "user-1",
            "-H",
            "trace=abc",
            "-H",
            "n=1",
            "hello",
        ],
    );
    assert_eq!(out, "PARTITION  OFFSET\n0          0\n");
    // stdin: key and value per line, a value that is not UTF-8, JSON output.
    let (code, out, err) = gregor(
        &bs,
        &[
            "produce",
            "rec",
            "--key-separator",
            "::",
            "--format",
            "json",
        ],
        Some(b"k1::v1\nk2::a::b\r\nk3::\xff\xfe\n"),
    );
    assert_eq!(code, 0, "{out}{err}");
    let acks = json_lines(&out);
    assert_eq!(
        acks.iter()
            .map(|a| a["offset"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(acks
        .iter()
        .all(|a| a["topic"] == "rec" && a["partition"] == 0));
    // A line without the separator is refused.
    let (code, _, err) = gregor(
        &bs,
        &["produce", "rec", "--key-separator", ":"],
        Some(b"nokey\n"),
    );
    assert_eq!(
        (code, err.trim()),
        (1, "gregor produce: no key separator \":\" on line 1")
    );
    // A zstd batch with headers from librdkafka.
    let p: FutureProducer = cfg(&bs)
        .set("compression.type", "zstd")
        .set("linger.ms", "50")
        .create()
        .unwrap();
    let sends: Vec<_> = (0..3)
        .map(|i| {
            let v = format!("zstd-{i}");
            let headers = OwnedHeaders::new().insert(Header {
                key: "bin",
                value: Some(&[0u8, 0xff][..]),
            });
            p.send_result(
                FutureRecord::to("rec")
                    .key("z")
                    .payload(&v)
                    .headers(headers),
            )
            .map_err(|(e, _)| e)
            .unwrap()
        })
        .collect();
    for s in sends {
        s.await.unwrap().unwrap();
    }
    let records = json_lines(&ok(&bs, &["consume", "rec", "--format", "json"]));
    assert_eq!(records.len(), 7, "{records:?}");
    let r0 = &records[0];
    assert_eq!(
        (
            &r0["topic"],
            &r0["partition"],
            &r0["offset"],
            &r0["key"],
            &r0["value"]
        ),
        (
            &"rec".into(),
            &0.into(),
            &0.into(),
            &"user-1".into(),
            &"hello".into()
        )
    );
    assert_eq!(
        r0["headers"],
        serde_json::json!([{"key": "trace", "value": "abc"}, {"key": "n", "value": "1"}])
    );
    assert!(r0["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(
        (&records[2]["key"], &records[2]["value"]),
        (&"k2".into(), &"a::b".into())
    );
    assert_eq!(records[3]["value"], "fffe");
    assert_eq!(records[3]["value_encoding"], "hex");
    for (i, r) in records[4..].iter().enumerate() {
        assert_eq!(r["value"], format!("zstd-{i}"));
        assert_eq!(r["headers"][0]["value"], "00ff");
        assert_eq!(r["headers"][0]["value_encoding"], "hex");
    }
    let table = ok(&bs, &["consume", "rec", "-n", "2"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "PARTITION",
            "OFFSET",
            "TIMESTAMP",
            "KEY",
            "VALUE",
            "HEADERS"
        ]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!((row[0], row[1]), ("0", "0"));
    assert_eq!(&row[3..], ["user-1", "hello", "trace=abc,n=1"]);
    assert!(lines[2].ends_with("k1  v1"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_land_on_the_partition_the_java_client_picks() {
    // Kafka's UtilsTest.testMurmur2 vectors.
    for (key, hash) in [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        ("abc", 479_470_107),
    ] {
        assert_eq!(
            gregor::record::partitioner::murmur2(key.as_bytes()),
            hash,
            "{key}"
        );
    }
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    ok(&bs, &["topic", "create", "keys", "-p", "7"]);
    let mut keys: Vec<String> = ["21", "foobar", "abc", "a-little-bit-long-string"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    keys.extend((0..40).map(|i| format!("user-{i}")));
    let input: String = keys.iter().map(|k| format!("{k}\t{k}-value\n")).collect();
    let (code, out, err) = gregor(
        &bs,
        &[
            "produce",
            "keys",
            "--key-separator",
            "\t",
            "--format",
            "json",
        ],
        Some(input.as_bytes()),
    );
    assert_eq!(code, 0, "{out}{err}");
    let acks = json_lines(&out);
    assert_eq!(acks.len(), keys.len());
    // toPositive(murmur2) % 7, from the vectors by hand for the first three.
    let expect = |k: &str| match k {
        "21" => (-973_932_308i32 & 0x7fff_ffff) % 7,
        "foobar" => (-790_332_482i32 & 0x7fff_ffff) % 7,
        "abc" => 479_470_107 % 7,
        k => gregor::record::partitioner::partition_for_key(k.as_bytes(), 7),
    };
    let mut used = BTreeSet::new();
    for (k, a) in keys.iter().zip(&acks) {
        assert_eq!(a["partition"].as_i64(), Some(i64::from(expect(k))), "{k}");
        used.insert(a["partition"].as_i64().unwrap());
    }
    assert!(used.len() >= 5, "keys spread: {used:?}");
    // librdkafka's Java-compatible partitioner puts each key where gregor produce did.
    let p: FutureProducer = cfg(&bs)
        .set("partitioner", "murmur2_random")
        .create()
        .unwrap();
    for (k, a) in keys.iter().zip(&acks) {
        let partition = p
            .send(
                FutureRecord::to("keys").key(k).payload("again"),
                Duration::from_secs(10),
            )
            .await
            .unwrap()
            .partition;
        assert_eq!(Some(i64::from(partition)), a["partition"].as_i64(), "{k}");
    }
    // Unkeyed records of one batch share a partition.
    let (code, out, _) = gregor(
        &bs,
        &["produce", "keys", "--format", "json"],
        Some(b"a\nb\nc\n"),
    );
    assert_eq!(code, 0);
    let p: BTreeSet<i64> = json_lines(&out)
        .iter()
        .map(|a| a["partition"].as_i64().unwrap())
        .collect();
    assert_eq!(p.len(), 1, "{out}");
}

/// Offsets of the records `gregor consume ARGS --format json` prints.
fn consumed(bs: &str, args: &[&str]) -> Vec<i64> {
    let mut all = vec!["consume"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    json_lines(&ok(bs, &all))
        .iter()
        .map(|r| r["offset"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_from_an_offset_a_timestamp_the_end_and_with_a_count() {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    ok(&bs, &["topic", "create", "timed", "-p", "2"]);
    let base = 1_700_000_000_000i64;
    let p: FutureProducer = cfg(&bs).create().unwrap();
    for i in 0..10i64 {
        p.send(
            FutureRecord::to("timed")
                .partition(0)
                .payload(&format!("v{i}"))
                .key("k")
                .timestamp(base + i * 1000),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
    assert_eq!(consumed(&bs, &["timed"]), (0..10).collect::<Vec<_>>());
    assert_eq!(
        consumed(&bs, &["timed", "-p", "0", "--from", "7"]),
        [7, 8, 9]
    );
    assert_eq!(consumed(&bs, &["timed", "--from", "3", "-n", "2"]), [3, 4]);
    let at = format!("@{}", base + 5000);
    assert_eq!(consumed(&bs, &["timed", "--from", &at]), [5, 6, 7, 8, 9]);
    let between = format!("@{}", base + 5500);
    assert_eq!(
        consumed(&bs, &["timed", "--from", &between, "-n", "1"]),
        [6]
    );
    let after = format!("@{}", base + 60_000);
    assert_eq!(
        consumed(&bs, &["timed", "--from", &after]),
        Vec::<i64>::new()
    );
    assert_eq!(
        consumed(&bs, &["timed", "--from", "newest"]),
        Vec::<i64>::new()
    );
    assert_eq!(consumed(&bs, &["timed", "-p", "1"]), Vec::<i64>::new());
    let one = json_lines(&ok(
        &bs,
        &["consume", "timed", "--from", "9", "--format", "json"],
    ));
    assert_eq!(one[0]["timestamp"], base + 9000);
    assert_eq!(one[0]["value"], "v9");
    // --from newest --follow: only a record written after the start, then -n 1 stops it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_gregor"))
        .args([
            "consume", "timed", "-p", "0", "--from", "newest", "-f", "-n", "1",
        ])
        .args(["--format", "json", "-b", &bs])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 0;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "consume -f -n 1 never saw a new record"
        );
        p.send(
            FutureRecord::to("timed")
                .partition(0)
                .payload(&format!("late-{i}"))
                .key("k"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        i += 1;
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{out}");
    let got = json_lines(&out);
    assert_eq!(got.len(), 1, "{out}");
    assert!(got[0]["offset"].as_i64().unwrap() >= 10);
    assert!(
        got[0]["value"].as_str().unwrap().starts_with("late-"),
        "{out}"
    );
    assert!(fails(&bs, &["consume", "timed", "-p", "5"]).contains("no partition 5"));
    // A bad flag is clap's usage error (exit status 2).
    let (code, _, err) = gregor(&bs, &["consume", "timed", "--from", "soon"], None);
    assert_eq!(code, 2);
    assert!(err.contains("expected oldest"), "{err}");
}

/// `gregor group describe G --format json`, once `ok` holds (60 s at most).
fn describe_until(bs: &str, group: &str, what: &str, ok_when: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (code, out, err) = gregor(bs, &["group", "describe", group, "--format", "json"], None);
        if code == 0 {
            let d = json(&out);
            if ok_when(&d) {
                return d;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "{what}: {d:#}");
        } else {
            assert!(start.elapsed() < Duration::from_secs(60), "{what}: {err}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A partition's committed offset, end offset and lag, as `group describe` shows them.
type Lag = (Option<i64>, Option<i64>, Option<i64>);

/// Per partition of `d`'s offsets: (committed, end, lag).
fn lags(d: &Value) -> BTreeMap<i64, Lag> {
    d["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["partition"].as_i64().unwrap(),
                (
                    o["committed"].as_i64(),
                    o["end"].as_i64(),
                    o["lag"].as_i64(),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_group_with_an_idle_member_shows_members_lag_and_resets_when_empty() {
    group_story(&[], "classic", "g-classic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_protocol_group_is_described_with_consumer_group_describe() {
    group_story(&[("group.protocol", "consumer")], "consumer", "g-848").await;
}

async fn group_story(extra: &'static [(&'static str, &'static str)], kind: &str, group: &str) {
    let b = TestBroker::start(&[]).await;
    let bs = b.bootstrap();
    create_topic(&bs, "live", 3).await;
    produce(&bs, "live", "a", 30).await;
    let mut opts = vec![("auto.commit.interval.ms", "100")];
    opts.extend_from_slice(extra);
    let members: Vec<Member> = (0..4)
        .map(|i| Member::start(&bs, group, "live", &format!("m{i}"), &opts))
        .collect();
    let refs: Vec<&Member> = members.iter().collect();
    wait_stable(&refs, 3, 1, Duration::from_secs(60));
    // Everything consumed and committed: lag 0 on each partition.
    let d = describe_until(&bs, group, "all committed", |d| {
        d["state"] == "Stable"
            && d["members"].as_array().is_some_and(|m| m.len() == 4)
            && lags(d).len() == 3
            && lags(d)
                .values()
                .all(|(c, e, l)| c.is_some() && c == e && *l == Some(0))
            && lags(d)
                .values()
                .map(|(_, e, _)| e.unwrap_or(0))
                .sum::<i64>()
                == 30
    });
    assert_eq!(d["type"], kind);
    // Members stop polling (they stay in the group): nothing more is committed.
    let owned: BTreeMap<String, Vec<i32>> = members
        .iter()
        .map(|m| (m.name.clone(), m.assignment()))
        .collect();
    let consumers: Vec<_> = members.into_iter().map(Member::stop).collect();
    produce(&bs, "live", "b", 9).await;
    let d = describe_until(&bs, group, "lag after producing more", |d| {
        lags(d)
            .values()
            .map(|(_, _, l)| l.unwrap_or(0))
            .sum::<i64>()
            == 9
    });
    for (p, (c, e, l)) in lags(&d) {
        assert_eq!(Some(e.unwrap() - c.unwrap()), l, "partition {p}");
    }
    // Each partition's owner is the member librdkafka says owns it; one member is idle.
    let members = d["members"].as_array().unwrap();
    for o in d["offsets"].as_array().unwrap() {
        let client = o["client_id"].as_str().unwrap();
        let p = o["partition"].as_i64().unwrap() as i32;
        assert!(owned[client].contains(&p), "{client} owns {p}: {owned:?}");
    }
    let idle: Vec<&Value> = members
        .iter()
        .filter(|m| {
            m["assignment"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["partitions"] == serde_json::json!([]))
        })
        .collect();
    assert_eq!(idle.len(), 1, "{d:#}");
    assert!(owned[idle[0]["client_id"].as_str().unwrap()].is_empty());
    let text = ok(&bs, &["group", "describe", group]);
    assert!(
        text.contains("(idle)") && text.contains("STATE        Stable"),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("live ")).count(),
        3,
        "{text}"
    );
    let list = ok(&bs, &["group", "list"]);
    let row: Vec<&str> = list
        .lines()
        .find(|l| l.starts_with(group))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(row, [group, "Stable", kind, "consumer"], "{list}");
    // A live group's offsets are not reset (kafka-consumer-groups' words).
    let reset = [
        "group",
        "reset-offsets",
        group,
        "--topic",
        "live",
        "--to-earliest",
    ];
    assert_eq!(
        fails(&bs, &[&reset[..], &["--execute"]].concat()),
        format!(
            "gregor group: Assignments can only be reset if the group '{group}' is inactive, but \
             the current state is Stable."
        )
    );
    // The members leave: Empty. A dry run changes nothing; --execute commits.
    drop(consumers);
    let before = describe_until(&bs, group, "Empty after the members left", |d| {
        d["state"] == "Empty"
    });
    let (code, plan, err) = gregor(&bs, &reset, None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--execute"), "the dry run says so: {err}");
    let rows: Vec<Vec<&str>> = plan
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]);
    assert_eq!(rows[1..].len(), 3);
    assert!(rows[1..]
        .iter()
        .all(|r| r[0] == group && r[1] == "live" && r[3] == "0"));
    assert_eq!(
        lags(&ok_describe(&bs, group)),
        lags(&before),
        "a dry run commits nothing"
    );
    let done = json(&ok(
        &bs,
        &[&reset[..], &["--execute", "--format", "json"]].concat(),
    ));
    assert_eq!(done["executed"], true);
    let after = lags(&ok_describe(&bs, group));
    assert!(
        after.values().all(|(c, e, l)| *c == Some(0) && l == e),
        "{after:?}"
    );
    // Partition by partition, and relative.
    ok(
        &bs,
        &[
            "group",
            "reset-offsets",
            group,
            "--topic",
            "live:1",
            "--to-latest",
            "--execute",
        ],
    );
    ok(
        &bs,
        &[
            "group",
            "reset-offsets",
            group,
            "--topic",
            "live:2",
            "--to-offset",
            "2",
            "--execute",
        ],
    );
    ok(
        &bs,
        &[
            "group",
            "reset-offsets",
            group,
            "--topic",
            "live:2",
            "--shift-by",
            "-1",
            "--execute",
        ],
    );
    // By time: every record is older than a day from now, none older than the epoch.
    let day_ahead = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 86_400_000)
        .to_string();
    let plan = ok(
        &bs,
        &[
            "group",
            "reset-offsets",
            group,
            "--topic",
            "live:0",
            "--to-timestamp",
            "0",
        ],
    );
    assert!(plan.lines().nth(1).unwrap().ends_with(" 0"), "{plan}");
    ok(
        &bs,
        &[
            "group",
            "reset-offsets",
            group,
            "--topic",
            "live:0",
            "--to-timestamp",
            &day_ahead,
            "--execute",
        ],
    );
    let after = lags(&ok_describe(&bs, group));
    assert_eq!(
        after[&0].0, after[&0].1,
        "no record after the time: the end"
    );
    assert_eq!(after[&1].0, after[&1].1);
    let end2 = after[&2].1.unwrap();
    assert_eq!(after[&2].0, Some((end2.min(2) - 1).max(0)));
    assert_eq!(
        ok(&bs, &["group", "delete", group]),
        format!("Deleted group '{group}'.\n")
    );
    assert!(fails(&bs, &["group", "describe", group]).contains("GROUP_ID_NOT_FOUND"));
}

fn ok_describe(bs: &str, group: &str) -> Value {
    json(&ok(bs, &["group", "describe", group, "--format", "json"]))
}
