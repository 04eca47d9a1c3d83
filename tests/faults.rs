//! Fault injection as users drive it: `gregor ctl`, the HTTP admin endpoint and a faults
//! file, against the real binary. The seeds' duplicate (a lost response, a retry, a record
//! stored twice without idempotence and once with it), every action and matcher, the wait
//! endpoint, the request log, bad rules, and the admin endpoint's loopback rule.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{admin_call, admin_ok, kill_loop_client as cfg, BrokerProcess};
use common::RawClient;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

/// Runs `gregor ctl --admin ADMIN args...`: (exit code, stdout, stderr).
fn ctl(admin: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gregor"))
        .args(["ctl", "--admin", admin])
        .args(args)
        .output()
        .expect("gregor ctl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ctl_ok(admin: &str, args: &[&str]) -> String {
    let (code, out, err) = ctl(admin, args);
    assert_eq!(code, 0, "gregor ctl {args:?}: {out}{err}");
    out
}

fn spawn(extra: &[&str]) -> (tempfile::TempDir, BrokerProcess, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--admin", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let b = BrokerProcess::spawn(dir.path(), &args);
    let admin = b.admin_addr();
    (dir, b, admin)
}

/// How many times each value is stored in `topic` partition 0.
fn stored(bootstrap: &str, topic: &str, value: &str) -> usize {
    let c: BaseConsumer = cfg(bootstrap).set("group.id", "count").create().unwrap();
    let end = c
        .fetch_watermarks(topic, 0, Duration::from_secs(30))
        .unwrap()
        .1;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let (mut read, mut n) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while read < end {
        assert!(Instant::now() < deadline, "read {read} of {end}");
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            read += 1;
            if m.payload() == Some(value.as_bytes()) {
                n += 1;
            }
        }
    }
    n
}

fn send_one(bootstrap: &str, idempotent: bool, value: &str) {
    let p: BaseProducer = cfg(bootstrap)
        .set("enable.idempotence", idempotent.to_string())
        .set("acks", "all")
        .set("retry.backoff.ms", "50")
        .create()
        .unwrap();
    p.send(
        BaseRecord::<(), _>::to("orders")
            .payload(value)
            .partition(0),
    )
    .map_err(|(e, _)| e)
    .unwrap();
    p.flush(Duration::from_secs(60)).expect("acknowledged");
}

/// The seeds' story, end to end through the CLI: message 4's response is lost, the producer
/// retries; without idempotence it is stored twice, with it once.
#[test]
fn a_lost_response_duplicates_without_idempotence_and_not_with_it() {
    let (_dir, broker, admin) = spawn(&[]);
    let bootstrap = broker.bootstrap.clone();
    send_one(&bootstrap, false, "warm-up");
    let out = ctl_ok(
        &admin,
        &[
            "fault",
            "add",
            "produce",
            "--topic",
            "orders",
            "--times",
            "1",
            "--lose-response",
        ],
    );
    assert!(
        out.starts_with("rule 1: Produce topic=orders -> lose-response"),
        "{out}"
    );
    send_one(&bootstrap, false, "message 4");
    ctl_ok(&admin, &["fault", "wait", "1", "--timeout", "10s"]);
    assert_eq!(
        stored(&bootstrap, "orders", "message 4"),
        2,
        "stored twice without idempotence"
    );

    ctl_ok(
        &admin,
        &[
            "fault",
            "add",
            "produce",
            "--topic",
            "orders",
            "--lose-response",
        ],
    );
    send_one(&bootstrap, true, "message 5");
    ctl_ok(&admin, &["fault", "wait", "2"]);
    assert_eq!(
        stored(&bootstrap, "orders", "message 5"),
        1,
        "stored once with idempotence"
    );
    let list = ctl_ok(&admin, &["fault", "list"]);
    assert!(
        list.contains("1    1     0          Produce topic=orders -> lose-response"),
        "{list}"
    );
    assert!(list.contains("2    1     0"), "{list}");
    assert!(
        broker.log_contains("fault injection: rule fired"),
        "every firing is logged"
    );
}

fn produce_req(topic: &str, partitions: &[i32]) -> RequestKind {
    RequestKind::Produce(
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.into())))
                .with_partition_data(
                    partitions
                        .iter()
                        .map(|&p| {
                            PartitionProduceData::default()
                                .with_index(p)
                                .with_records(Some(common::record_batch(1, None)))
                        })
                        .collect(),
                )]),
    )
}

async fn produce_codes(
    c: &mut RawClient,
    topic: &str,
    partitions: &[i32],
    version: i16,
) -> Vec<i16> {
    match c.call(produce_req(topic, partitions), version).await {
        ResponseKind::Produce(r) => r.responses[0]
            .partition_responses
            .iter()
            .map(|p| p.error_code)
            .collect(),
        other => panic!("{other:?}"),
    }
}

/// Sends a Produce v9 and checks the connection closes without an answer.
async fn assert_unanswered(c: &mut RawClient, req: &RequestKind) {
    c.send_raw(&common::encode_request(req, ApiKey::Produce, 9, 99))
        .await;
    assert!(
        c.read_frame(ApiKey::Produce.response_header_version(9))
            .await
            .is_none(),
        "no answer"
    );
}

/// The rule id in `gregor ctl fault add`'s answer (`rule 3: ...`).
fn rule_id(ctl_out: &str) -> String {
    ctl_out
        .split(':')
        .next()
        .unwrap()
        .trim_start_matches("rule ")
        .to_string()
}

/// Sends ApiVersions v0 without reading the answer.
async fn send_api_versions(c: &mut RawClient, correlation_id: i32) {
    c.send_raw(&common::encode_request(
        &RequestKind::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::ApiVersions,
        0,
        correlation_id,
    ))
    .await;
}

/// `POST /admin/faults` with a rule given as JSON; returns its id.
fn add(admin: &str, rule: serde_json::Value) -> u64 {
    admin_ok(admin, "POST", "/admin/faults", Some(rule))["id"]
        .as_u64()
        .unwrap()
}

/// Metadata for topic t: its error code.
async fn meta(c: &mut RawClient) -> i16 {
    let req = MetadataRequest::default()
        .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
        )
        .with_name(Some(TopicName(StrBytes::from_static_str("t"))))]));
    match c.call(RequestKind::Metadata(req), 12).await {
        ResponseKind::Metadata(m) => m.topics[0].error_code,
        other => panic!("{other:?}"),
    }
}

fn hits(admin: &str, id: u64) -> u64 {
    admin_ok(admin, "GET", &format!("/admin/faults/{id}"), None)["hits"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_and_matcher_does_what_it_says() {
    let (_dir, broker, admin) = spawn(&["--brokers", "2", "-o", "num.partitions=2"]);
    let addrs: Vec<std::net::SocketAddr> = broker
        .bootstrap
        .split(',')
        .map(|a| a.parse().unwrap())
        .collect();
    let mut c = RawClient::connect(addrs[0]).await;
    common::ensure_topic(&mut c, "t").await;
    // Both partitions led by broker 1, so one request carries both.
    ctl_ok(&admin, &["move-leader", "t", "1", "--to", "1"]);
    ctl_ok(&admin, &["move-leader", "t", "0", "--to", "1"]);
    assert_eq!(produce_codes(&mut c, "t", &[0, 1], 9).await, vec![0, 0]);

    // A whole-request error: every partition, nothing stored.
    let before = (
        common::end_offset(&mut c, "t", 0).await,
        common::end_offset(&mut c, "t", 1).await,
    );
    let id = add(
        &admin,
        json!({"api": "produce", "action": "error", "error": "NOT_ENOUGH_REPLICAS"}),
    );
    assert_eq!(produce_codes(&mut c, "t", &[0, 1], 9).await, vec![19, 19]);
    assert_eq!(
        (
            common::end_offset(&mut c, "t", 0).await,
            common::end_offset(&mut c, "t", 1).await
        ),
        before,
        "nothing stored"
    );
    assert_eq!(hits(&admin, id), 1);
    // A partition error: only partition 1 fails, partition 0 is stored.
    ctl_ok(
        &admin,
        &[
            "fault",
            "add",
            "produce",
            "--topic",
            "t",
            "--partition",
            "1",
            "--error",
            "KAFKA_STORAGE_ERROR",
        ],
    );
    assert_eq!(produce_codes(&mut c, "t", &[0, 1], 9).await, vec![0, 56]);
    assert_eq!(common::end_offset(&mut c, "t", 0).await, before.0 + 1);
    // Version range: v9 is outside 3-8 and served; v8 fails.
    ctl_ok(
        &admin,
        &[
            "fault",
            "add",
            "produce",
            "--versions",
            "3-8",
            "--error",
            "19",
            "--times",
            "1",
        ],
    );
    assert_eq!(produce_codes(&mut c, "t", &[0], 9).await, vec![0]);
    assert_eq!(produce_codes(&mut c, "t", &[0], 8).await, vec![19]);
    // client.id: ours is raw-test.
    ctl_ok(
        &admin,
        &[
            "fault",
            "add",
            "produce",
            "--client-id",
            "someone-else",
            "--error",
            "19",
        ],
    );
    assert_eq!(produce_codes(&mut c, "t", &[0], 9).await, vec![0]);
    ctl_ok(
        &admin,
        &[
            "fault",
            "add",
            "produce",
            "--client-id",
            "raw-test",
            "--error",
            "19",
        ],
    );
    assert_eq!(produce_codes(&mut c, "t", &[0], 9).await, vec![19]);
    // broker: a rule for broker 2 leaves broker 1 alone.
    let on2 = add(
        &admin,
        json!({"api": "metadata", "action": "error", "error": "UNKNOWN_SERVER_ERROR", "broker": 2, "always": true}),
    );
    assert_eq!(meta(&mut c).await, 0);
    let mut c2 = RawClient::connect(addrs[1]).await;
    assert_eq!(meta(&mut c2).await, -1);
    assert_eq!(meta(&mut c2).await, -1, "always keeps firing");
    assert_eq!(hits(&admin, on2), 2);
    ctl_ok(&admin, &["fault", "remove", &on2.to_string()]);
    assert_eq!(meta(&mut c2).await, 0);

    // delay: the request waits, then is served.
    ctl_ok(&admin, &["fault", "add", "metadata", "--delay", "1s"]);
    let t0 = Instant::now();
    assert_eq!(meta(&mut c).await, 0);
    assert!(t0.elapsed() >= Duration::from_secs(1), "held for the delay");
    // disconnect: closed before handling, nothing stored.
    let end0 = common::end_offset(&mut c, "t", 0).await;
    ctl_ok(&admin, &["fault", "add", "produce", "--disconnect"]);
    assert_unanswered(&mut c, &produce_req("t", &[0])).await;
    let mut c = RawClient::connect(addrs[0]).await;
    assert_eq!(
        common::end_offset(&mut c, "t", 0).await,
        end0,
        "not handled"
    );
    // lose-response: handled, then closed.
    ctl_ok(&admin, &["fault", "add", "produce", "--lose-response"]);
    assert_unanswered(&mut c, &produce_req("t", &[0])).await;
    let mut c = RawClient::connect(addrs[0]).await;
    assert_eq!(
        common::end_offset(&mut c, "t", 0).await,
        end0 + 1,
        "handled"
    );
    // hang: no answer until the connection closes (here: broker 2 goes down).
    let hang = ctl_ok(
        &admin,
        &["fault", "add", "api_versions", "--broker", "2", "--hang"],
    );
    let hang_id = rule_id(&hang);
    let mut c2 = RawClient::connect(addrs[1]).await;
    send_api_versions(&mut c2, 7).await;
    ctl_ok(&admin, &["fault", "wait", &hang_id]);
    ctl_ok(&admin, &["broker", "down", "2"]);
    assert!(
        c2.read_frame(0).await.is_none(),
        "hung until its broker went down, unanswered"
    );
    ctl_ok(&admin, &["broker", "up", "2"]);
    // A hang also ends when its rule is removed.
    let hang = ctl_ok(
        &admin,
        &["fault", "add", "api_versions", "--hang", "--always"],
    );
    let hang_id = rule_id(&hang);
    let mut c3 = RawClient::connect(addrs[0]).await;
    send_api_versions(&mut c3, 8).await;
    ctl_ok(&admin, &["fault", "wait", &hang_id]);
    ctl_ok(&admin, &["fault", "remove", &hang_id]);
    assert!(
        c3.read_frame(0).await.is_none(),
        "closed once the rule went"
    );

    // wait: a timeout is exit status 1 (HTTP 408), a missing rule 404.
    let pending = add(&admin, json!({"api": "delete_topics", "action": "hang"}));
    let (code, _, err) = ctl(
        &admin,
        &["fault", "wait", &pending.to_string(), "--timeout", "200ms"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("fired 0 time(s), not 1") && err.contains("HTTP 408"),
        "{err}"
    );
    assert_eq!(
        admin_call(&admin, "GET", "/admin/faults/999/wait", None).0,
        404
    );

    // The request log names the API, the broker, the topic and the rule that fired.
    let log = admin_ok(&admin, "GET", "/admin/requests?limit=1000", None);
    let entries = log.as_array().unwrap();
    assert!(entries.iter().any(|e| e["api"] == "Produce"
        && e["topics"] == json!(["t"])
        && e["fault"] == json!(id)
        && e["broker"] == 1
        && e["client_id"] == "raw-test"));
    assert!(entries
        .iter()
        .any(|e| e["api"] == "ApiVersions" && e["broker"] == 2 && e["outcome"] == "closed"));
    let table = ctl_ok(&admin, &["requests", "--limit", "5"]);
    assert!(table.starts_with("SEQ"), "{table}");
    ctl_ok(&admin, &["requests", "--clear"]);

    // Bad rules: a clear error and nothing changed.
    let count = admin_ok(&admin, "GET", "/admin/faults", None)
        .as_array()
        .unwrap()
        .len();
    let (code, _, err) = ctl(&admin, &["fault", "add", "producer", "--hang"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown API \"producer\""), "{err}");
    let (code, _, err) = ctl(
        &admin,
        &["fault", "add", "produce", "--error", "NOT_A_REAL_ERROR"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("unknown error \"NOT_A_REAL_ERROR\""), "{err}");
    let (code, _, err) = ctl(&admin, &["fault", "add", "sasl_handshake", "--error", "19"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot answer an injected error"), "{err}");
    let (status, body) = admin_call(
        &admin,
        "POST",
        "/admin/faults",
        Some(json!({"api": "produce", "action": "hang", "times": 0})),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = admin_call(
        &admin,
        "POST",
        "/admin/faults",
        Some(json!({"api": "produce", "action": "hang", "colour": "red"})),
    );
    assert_eq!(status, 400, "unknown fields are refused: {body}");
    let (code, _, _) = ctl(&admin, &["fault", "add", "produce"]);
    assert_eq!(code, 2, "an action is required (clap's usage error)");
    assert_eq!(
        admin_ok(&admin, "GET", "/admin/faults", None)
            .as_array()
            .unwrap()
            .len(),
        count
    );
    let (code, _, err) = ctl(&admin, &["move-leader", "nope", "0", "--to", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown topic nope"), "{err}");
    let (code, _, err) = ctl(&admin, &["move-leader", "t", "0", "--to", "9"]);
    assert_eq!(code, 1);
    assert!(err.contains("no broker 9"), "{err}");
    ctl_ok(&admin, &["fault", "clear"]);
    assert!(admin_ok(&admin, "GET", "/admin/faults", None)
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(produce_codes(&mut c, "t", &[0], 9).await, vec![0]);
    assert!(broker.errors().is_empty(), "{:?}", broker.errors());
}

#[test]
fn a_faults_file_installs_its_rules_at_start_and_a_bad_one_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.toml");
    std::fs::write(
        &file,
        r#"
# The first two produces to orders fail, then every fetch waits 10 ms.
[[fault]]
api = "produce"
topic = "orders"
action = "error"
error = "NOT_ENOUGH_REPLICAS"
times = 2

[[fault]]
api = "fetch"
action = "delay"
delay_ms = 10
always = true
"#,
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let b = BrokerProcess::spawn(
        data.path(),
        &["--admin", "127.0.0.1:0", "--faults", file.to_str().unwrap()],
    );
    let admin = b.admin_addr();
    let list = ctl_ok(&admin, &["fault", "list"]);
    assert!(
        list.contains("1    0     2          Produce topic=orders -> error NOT_ENOUGH_REPLICAS"),
        "{list}"
    );
    assert!(
        list.contains("2    0     always     Fetch -> delay 10 ms"),
        "{list}"
    );
    // The producer retries through both errors.
    send_one(&b.bootstrap, true, "after two errors");
    assert_eq!(hits(&admin, 1), 2);
    drop(b);

    // A bad rule: the broker does not start, and says which rule and why.
    std::fs::write(
        &file,
        "[[fault]]\napi = \"produce\"\naction = \"error\"\nerror = \"NOPE\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gregor"))
        .args(["--listen", "127.0.0.1:0", "--admin", "off", "--data-dir"])
        .arg(data.path())
        .arg("--faults")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rule 1: unknown error \"NOPE\""), "{err}");
    std::fs::write(&file, "[[fault]]\napi = \"produce\"\nshape = \"round\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gregor"))
        .args(["--listen", "127.0.0.1:0", "--admin", "off", "--data-dir"])
        .arg(data.path())
        .arg("--faults")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `shape`"));
}

#[test]
fn the_admin_endpoint_refuses_a_non_loopback_address_unless_allowed() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gregor"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a loopback address") && err.contains("gregor.admin.allow.remote"),
        "{err}"
    );
    let b = BrokerProcess::spawn(
        data.path(),
        &[
            "--admin",
            "0.0.0.0:0",
            "-o",
            "gregor.admin.allow.remote=true",
        ],
    );
    assert!(b.admin_addr().starts_with("0.0.0.0:"));
    drop(b);
    // `--admin off`: no endpoint (the banner says so), and ctl pointed at nothing says why.
    let off = BrokerProcess::spawn(data.path(), &["--admin", "off"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !off.log_contains("console and admin endpoint off") {
        assert!(Instant::now() < deadline, "no banner");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!off.log_contains("console listening"));
    let (code, _, err) = ctl("127.0.0.1:1", &["cluster"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot reach Gregor's admin endpoint"),
        "{err}"
    );
}

/// A `disk` rule: the partition's next write fails with ENOSPC; the broker answers
/// KAFKA_STORAGE_ERROR and takes its log directory offline, as on a real full disk, and a
/// restart serves everything acknowledged before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_rule_fails_a_write_as_a_full_disk_would() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = BrokerProcess::spawn(dir.path(), &["--admin", "127.0.0.1:0"]);
    let admin = broker.admin_addr();
    let mut c = RawClient::connect(broker.addr).await;
    common::ensure_topic(&mut c, "orders").await;
    assert_eq!(produce_codes(&mut c, "orders", &[0], 9).await, vec![0]);
    let (code, _, err) = ctl(
        &admin,
        &["fault", "add", "disk", "--error", "ENOSPC", "--hang"],
    );
    assert_eq!(code, 2, "one action: {err}");
    let (code, _, err) = ctl(
        &admin,
        &[
            "fault", "add", "disk", "--topic", "orders", "--error", "EWHAT",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("unknown OS error \"EWHAT\""), "{err}");
    let (code, _, err) = ctl(
        &admin,
        &["fault", "add", "disk", "--op", "scribble", "--error", "EIO"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("unknown file operation"), "{err}");
    let out = ctl_ok(
        &admin,
        &[
            "fault",
            "add",
            "disk",
            "--topic",
            "orders",
            "--partition",
            "0",
            "--op",
            "write",
            "--error",
            "ENOSPC",
        ],
    );
    assert!(
        out.contains("disk op=write topic=orders partition=0 -> No space left on device"),
        "{out}"
    );
    assert_eq!(
        produce_codes(&mut c, "orders", &[0], 9).await,
        vec![56],
        "KAFKA_STORAGE_ERROR"
    );
    assert_eq!(hits(&admin, 1), 1);
    assert!(broker.log_contains("fault injection: failing a file operation"));
    // The log directory is offline now, as after a real write error: nothing else is stored.
    assert_eq!(produce_codes(&mut c, "orders", &[0], 9).await, vec![56]);
    drop(c);
    // SIGTERM: the flush finds the directory offline, so the next start recovers.
    broker.terminate();
    let broker = BrokerProcess::spawn_at(&broker.addr.to_string(), dir.path(), &[]);
    let mut c = RawClient::connect(broker.addr).await;
    assert_eq!(
        common::end_offset(&mut c, "orders", 0).await,
        1,
        "the acknowledged record is there"
    );
    assert_eq!(
        produce_codes(&mut c, "orders", &[0], 9).await,
        vec![0],
        "and the disk works again"
    );
}

/// The seeds' at-least-once story: a consumer whose commits fail (here by a rule) and which
/// then stops is redelivered what it had not committed when the group starts again.
#[test]
fn records_not_committed_before_a_crash_are_delivered_again() {
    let (_dir, broker, admin) = spawn(&[]);
    let bootstrap = broker.bootstrap.clone();
    for i in 0..20 {
        send_one(&bootstrap, true, &format!("r{i}"));
    }
    let consumer = || -> BaseConsumer {
        let c: BaseConsumer = cfg(&bootstrap)
            .set("group.id", "alo")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .create()
            .unwrap();
        c.subscribe(&["orders"]).unwrap();
        c
    };
    let read = |c: &BaseConsumer, n: usize| -> Vec<String> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while out.len() < n {
            assert!(Instant::now() < deadline, "read {out:?}");
            if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
                out.push(String::from_utf8_lossy(m.payload().unwrap()).into_owned());
            }
        }
        out
    };
    let c = consumer();
    let first = read(&c, 10);
    assert_eq!(first[0], "r0");
    c.commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
        .unwrap();
    ctl_ok(
        &admin,
        &[
            "fault",
            "add",
            "offset_commit",
            "--error",
            "COORDINATOR_NOT_AVAILABLE",
            "--always",
        ],
    );
    let second = read(&c, 10);
    assert_eq!(second[0], "r10");
    assert!(
        c.commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
            .is_err(),
        "the commit fails"
    );
    drop(c); // the "crash": its last ten records were never committed
    ctl_ok(&admin, &["fault", "clear"]);
    let c = consumer();
    let again = read(&c, 10);
    assert_eq!(again, second, "redelivered from the last committed offset");
}
