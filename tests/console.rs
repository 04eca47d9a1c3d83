//! The console's JSON API and `/metrics`, against a real broker over HTTP, with librdkafka
//! producing and consuming over TCP: topics, the message browser (newest, oldest, offset,
//! timestamp, search across headers, the tail positions, produce), groups with an idle member
//! and lag, offset resets, and the exposition format with counters that move with traffic.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::members::{cfg, create_topic, Member};
use common::TestBroker;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

async fn broker() -> (TestBroker, String) {
    let b = TestBroker::start(&[("gregor.admin.listener", "127.0.0.1:0")]).await;
    let admin: SocketAddr = b
        .running
        .as_ref()
        .and_then(|r| r.admin_addr)
        .expect("admin endpoint");
    (b, format!("http://{admin}"))
}

/// `(status, body)` of one call; 4xx and 5xx are answers too.
fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let req = ureq::request(method, url).timeout(Duration::from_secs(30));
    let res = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn get(url: &str) -> Value {
    let (s, v) = call("GET", url, None);
    assert_eq!(s, 200, "GET {url}: {v}");
    v
}

fn text(v: &Value) -> &str {
    v["text"].as_str().unwrap_or_default()
}

async fn produce_with_headers(bootstrap: &str, topic: &str, n: usize) {
    // The Java client's partitioner (librdkafka's default hashes keys with CRC32 instead).
    let p: FutureProducer = cfg(bootstrap)
        .set("linger.ms", "0")
        .set("partitioner", "murmur2_random")
        .create()
        .unwrap();
    // One millisecond apart, so "newest first" has one answer whatever the partitions.
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 60_000;
    for i in 0..n {
        let (k, v) = (format!("key-{i}"), format!("value-{i}"));
        let trace = format!("trace-{}", i % 3);
        let headers = OwnedHeaders::new().insert(Header {
            key: "trace-id",
            value: Some(trace.as_str()),
        });
        p.send(
            FutureRecord::to(topic)
                .key(&k)
                .payload(&v)
                .headers(headers)
                .timestamp(base + i as i64),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_can_be_listed_described_created_and_deleted() {
    let (b, api) = broker().await;
    let (s, v) = call(
        "POST",
        &format!("{api}/api/topics"),
        Some(json!({"name": "orders", "partitions": 3, "configs": {"retention.ms": "60000"}})),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["partitions"], 3);
    let (s, v) = call(
        "POST",
        &format!("{api}/api/topics"),
        Some(json!({"name": "orders"})),
    );
    assert_eq!(s, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("orders"), "{v}");
    let (s, _) = call(
        "POST",
        &format!("{api}/api/topics"),
        Some(json!({"name": "bad name!"})),
    );
    assert_eq!(s, 400);
    let (s, _) = call(
        "POST",
        &format!("{api}/api/topics"),
        Some(json!({"name": "x", "configs": {"cleanup.policy": "sometimes"}})),
    );
    assert_eq!(s, 400);

    produce_with_headers(&b.bootstrap(), "orders", 12).await;
    let list = get(&format!("{api}/api/topics"));
    let topics = list["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 1, "internal topics are hidden: {list}");
    assert_eq!(topics[0]["name"], "orders");
    assert_eq!(topics[0]["messages"], 12);
    assert!(topics[0]["size_bytes"].as_u64().unwrap() > 12 * 20);
    assert_eq!(topics[0]["cleanup_policy"], "delete");
    // Offsets committed for a group that does not exist yet: it is created, and with it
    // __consumer_offsets.
    let (s, v) = call(
        "POST",
        &format!("{api}/api/groups/probe/offsets"),
        Some(json!({"topic": "orders", "to": "latest"})),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["offsets"].as_array().unwrap().len(), 3);
    let all = get(&format!("{api}/api/topics?internal=true"));
    assert!(all["topics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "__consumer_offsets" && t["internal"] == true));

    let d = get(&format!("{api}/api/topics/orders"));
    let parts = d["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    let hw: i64 = parts
        .iter()
        .map(|p| p["high_watermark"].as_i64().unwrap())
        .sum();
    assert_eq!(hw, 12);
    assert!(parts
        .iter()
        .all(|p| p["leader"] == 1 && p["log_start_offset"] == 0));
    let retention = d["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "retention.ms")
        .unwrap();
    assert_eq!(retention["value"], "60000");
    assert_eq!(retention["source"], "topic");

    let (s, v) = call("DELETE", &format!("{api}/api/topics/orders"), None);
    assert_eq!(s, 200, "{v}");
    let (s, _) = call("GET", &format!("{api}/api/topics/orders"), None);
    assert_eq!(s, 404);
    let (s, _) = call(
        "DELETE",
        &format!("{api}/api/topics/__consumer_offsets"),
        None,
    );
    assert_eq!(s, 400, "internal topics cannot be deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_browser_reads_searches_and_produces() {
    let (b, api) = broker().await;
    let bootstrap = b.bootstrap();
    create_topic(&bootstrap, "orders", 3).await;
    produce_with_headers(&bootstrap, "orders", 30).await;
    let url = format!("{api}/api/topics/orders/messages");

    // Newest first, across partitions, with keys, values and headers.
    let v = get(&format!("{url}?limit=5"));
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 5);
    assert_eq!(text(&msgs[0]["value"]), "value-29");
    let ts: Vec<i64> = msgs
        .iter()
        .map(|m| m["timestamp"].as_i64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "newest first: {ts:?}");
    assert_eq!(text(&msgs[0]["key"]), "key-29");
    assert_eq!(msgs[0]["headers"][0]["key"], "trace-id");
    assert_eq!(text(&msgs[0]["headers"][0]["value"]), "trace-2");
    assert_eq!(msgs[0]["value"]["base64"], "dmFsdWUtMjk=");

    // Oldest, one partition, then from an offset: ascending.
    let v = get(&format!("{url}?from=oldest&partition=1&limit=500"));
    let p1: Vec<i64> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_i64().unwrap())
        .collect();
    assert!(!p1.is_empty());
    assert_eq!(p1, (0..p1.len() as i64).collect::<Vec<_>>());
    assert_eq!(v["next"]["1"], p1.len() as i64);
    let v = get(&format!("{url}?from=offset&partition=1&offset=1&limit=2"));
    let offs: Vec<i64> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_i64().unwrap())
        .collect();
    assert_eq!(
        offs,
        vec![1, 2]
            .into_iter()
            .filter(|o| *o < p1.len() as i64)
            .collect::<Vec<_>>()
    );

    // From a timestamp: nothing before it.
    let all = get(&format!("{url}?from=oldest&limit=500"));
    let all = all["messages"].as_array().unwrap().clone();
    assert_eq!(all.len(), 30);
    let mid = all[15]["timestamp"].as_i64().unwrap();
    let v = get(&format!("{url}?from=timestamp&timestamp={mid}&limit=500"));
    let since = v["messages"].as_array().unwrap();
    assert!(since
        .iter()
        .all(|m| m["timestamp"].as_i64().unwrap() >= mid));
    let want = all
        .iter()
        .filter(|m| m["timestamp"].as_i64().unwrap() >= mid)
        .count();
    assert_eq!(since.len(), want);

    // Search: a header value finds exactly the records carrying it.
    let v = get(&format!("{url}?from=oldest&limit=500&q=trace-1"));
    let hits = v["messages"].as_array().unwrap();
    assert_eq!(hits.len(), 10, "{v}");
    assert!(hits
        .iter()
        .all(|m| text(&m["headers"][0]["value"]) == "trace-1"));
    let v = get(&format!("{url}?q=value-17"));
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    assert_eq!(v["scanned"], 30);

    // The tail: from the `next` positions, only what came after.
    let v = get(&format!("{url}?limit=1"));
    let next: BTreeMap<String, i64> = serde_json::from_value(v["next"].clone()).unwrap();
    let positions: Vec<String> = next.iter().map(|(p, o)| format!("{p}:{o}")).collect();
    let tail = format!("{url}?from=offset&offsets={}", positions.join(","));
    assert_eq!(get(&tail)["messages"].as_array().unwrap().len(), 0);
    // A partition the positions leave out (one added since) is read from its start.
    let only0 = format!("{url}?from=offset&offsets=0:{}&limit=500", next["0"]);
    let v = get(&only0);
    let others = v["messages"].as_array().unwrap();
    assert!(!others.is_empty());
    assert!(others.iter().all(|m| m["partition"] != 0), "{v}");
    assert_eq!(v["next"]["0"], next["0"]);

    // Produce from the console: keyed records go where the Java client would put them.
    let (s, r) = call(
        "POST",
        &url,
        Some(json!({"key": "key-29", "value": "from the console",
                    "headers": [{"key": "source", "value": "console"}]})),
    );
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["partition"], msgs[0]["partition"],
        "same key, same partition"
    );
    let v = get(&tail);
    let new = v["messages"].as_array().unwrap();
    assert_eq!(new.len(), 1, "{v}");
    assert_eq!(text(&new[0]["value"]), "from the console");
    assert_eq!(new[0]["offset"], r["offset"]);

    // ... and librdkafka reads it back, headers included.
    let c: BaseConsumer = cfg(&bootstrap).set("group.id", "reader").create().unwrap();
    let mut tpl = TopicPartitionList::new();
    let (p, o) = (
        r["partition"].as_i64().unwrap() as i32,
        r["offset"].as_i64().unwrap(),
    );
    tpl.add_partition_offset("orders", p, Offset::Offset(o))
        .unwrap();
    c.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let m = loop {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            break m.detach();
        }
        assert!(Instant::now() < deadline, "nothing read back");
    };
    assert_eq!(m.payload(), Some(&b"from the console"[..]));
    let h = m.headers().unwrap().get(0);
    assert_eq!((h.key, h.value), ("source", Some(&b"console"[..])));

    // Binary values: base64 in, base64 out, no text.
    let (s, r) = call(
        "POST",
        &url,
        Some(json!({"partition": 2, "value": "AP8=", "encoding": "base64"})),
    );
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["partition"], 2);
    let v = get(&format!("{url}?partition=2&limit=1"));
    assert_eq!(v["messages"][0]["value"]["base64"], "AP8=");
    assert_eq!(v["messages"][0]["value"]["text"], Value::Null);
    assert_eq!(v["messages"][0]["key"], Value::Null);

    // Bad input gets a clear answer.
    assert_eq!(call("GET", &format!("{url}?from=sometime"), None).0, 400);
    assert_eq!(call("GET", &format!("{url}?from=offset"), None).0, 400);
    assert_eq!(call("GET", &format!("{url}?partition=9"), None).0, 404);
    assert_eq!(
        call("GET", &format!("{api}/api/topics/nope/messages"), None).0,
        404
    );
    assert_eq!(
        call("POST", &url, Some(json!({"partition": 7, "value": "x"}))).0,
        400
    );
    assert_eq!(
        call(
            "POST",
            &url,
            Some(json!({"value": "!!", "encoding": "base64"}))
        )
        .0,
        400
    );
    // More than a page exists: the limit is capped at 500.
    common::members::produce(&bootstrap, "orders", "bulk-", 600).await;
    let v = get(&format!("{url}?from=oldest&limit=100000"));
    assert_eq!(v["messages"].as_array().unwrap().len(), 500);
    let v = get(&format!("{url}?limit=100000&q=bulk-"));
    assert_eq!(v["messages"].as_array().unwrap().len(), 500);
    assert!(v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| text(&m["value"]).starts_with("bulk-")));

    // A compacted topic refuses a record without a key, as a produce would.
    let (s, _) = call(
        "POST",
        &format!("{api}/api/topics"),
        Some(json!({"name": "state", "partitions": 1, "configs": {"cleanup.policy": "compact"}})),
    );
    assert_eq!(s, 201);
    let (s, v) = call(
        "POST",
        &format!("{api}/api/topics/state/messages"),
        Some(json!({"value": "v"})),
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(get(&format!("{api}/api/topics/state"))["messages"], 0);
}

/// Polls `/api/groups/{g}` until `ok` holds (60 s).
fn group_until(api: &str, g: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (s, v) = call("GET", &format!("{api}/api/groups/{g}"), None);
        if s == 200 && ok(&v) {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn commit_all(m: &Member) {
    m.consumer
        .commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
        .unwrap_or(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_picture_shows_owners_the_idle_member_and_lag() {
    let (b, api) = broker().await;
    let bootstrap = b.bootstrap();
    create_topic(&bootstrap, "orders", 3).await;
    produce_with_headers(&bootstrap, "orders", 30).await;
    let extra = [("enable.auto.commit", "false")];
    let members: Vec<Member> = (0..4)
        .map(|i| Member::start(&bootstrap, "billing", "orders", &format!("m{i}"), &extra))
        .collect();
    let refs: Vec<&Member> = members.iter().collect();
    common::members::wait_stable(&refs, 3, 1, Duration::from_secs(60));
    let start = Instant::now();
    while members.iter().map(|m| m.values().len()).sum::<usize>() < 30 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not everything consumed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for m in &members {
        commit_all(m);
    }
    // Five more, not consumed-and-committed: lag 5 in all.
    produce_with_headers(&bootstrap, "orders", 5).await;
    let g = group_until(&api, "billing", "lag 5 over 3 owned partitions", |v| {
        v["state"] == "Stable"
            && v["lag"] == 5
            && v["partitions"]
                .as_array()
                .is_some_and(|p| p.len() == 3 && p.iter().all(|r| r["owner"].is_string()))
    });
    assert_eq!(g["protocol"], "classic");
    let ms = g["members"].as_array().unwrap();
    assert_eq!(ms.len(), 4);
    let idle: Vec<&Value> = ms
        .iter()
        .filter(|m| m["assignment"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(idle.len(), 1, "one idle member: {g}");
    for row in g["partitions"].as_array().unwrap() {
        let owner = ms.iter().find(|m| m["member_id"] == row["owner"]).unwrap();
        assert!(owner["assignment"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["partition"] == row["partition"]));
        assert_eq!(
            row["lag"].as_i64().unwrap(),
            row["end_offset"].as_i64().unwrap() - row["committed"].as_i64().unwrap()
        );
    }
    let list = get(&format!("{api}/api/groups"));
    let entry = &list["groups"][0];
    assert_eq!(
        (
            entry["group_id"].as_str(),
            entry["members"].as_i64(),
            entry["lag"].as_i64()
        ),
        (Some("billing"), Some(4), Some(5))
    );

    // A reset is refused while the group has members...
    let reset = json!({"topic": "orders", "to": "earliest"});
    let (s, v) = call(
        "POST",
        &format!("{api}/api/groups/billing/offsets"),
        Some(reset.clone()),
    );
    assert_eq!(s, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("Stable"), "{v}");
    // ... and done once it is Empty.
    for m in members {
        drop(m.stop());
    }
    group_until(&api, "billing", "Empty after the members closed", |v| {
        v["state"] == "Empty"
    });
    let (s, v) = call(
        "POST",
        &format!("{api}/api/groups/billing/offsets"),
        Some(reset),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["offsets"].as_array().unwrap().len(), 3);
    let g = get(&format!("{api}/api/groups/billing"));
    assert_eq!(g["lag"], 35, "{g}");
    // The committed offsets are what a client reads.
    let c: BaseConsumer = cfg(&bootstrap).set("group.id", "billing").create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition("orders", p);
    }
    let committed = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    assert!(committed
        .elements()
        .iter()
        .all(|e| e.offset() == Offset::Offset(0)));
    // To an offset past the end: moved to the end, as kafka-consumer-groups does.
    let (s, v) = call(
        "POST",
        &format!("{api}/api/groups/billing/offsets"),
        Some(json!({"topic": "orders", "partitions": [0], "to": "offset", "offset": 1000000})),
    );
    assert_eq!(s, 200, "{v}");
    let end = get(&format!("{api}/api/topics/orders"))["partitions"][0]["high_watermark"].clone();
    assert_eq!(v["offsets"][0]["offset"], end);
    assert_eq!(call("GET", &format!("{api}/api/groups/nope"), None).0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kip848_group_shows_member_epochs_and_targets() {
    let (b, api) = broker().await;
    let bootstrap = b.bootstrap();
    create_topic(&bootstrap, "events", 2).await;
    let extra = [("group.protocol", "consumer")];
    let a = Member::start(&bootstrap, "new-style", "events", "a", &extra);
    let bm = Member::start(&bootstrap, "new-style", "events", "b", &extra);
    let c = Member::start(&bootstrap, "new-style", "events", "c", &extra);
    common::members::wait_stable(&[&a, &bm, &c], 2, 1, Duration::from_secs(60));
    let g = group_until(&api, "new-style", "stable with targets owned", |v| {
        v["state"] == "Stable"
            && v["partitions"].as_array().is_some_and(|p| {
                p.len() == 2
                    && p.iter()
                        .all(|r| r["owner"].is_string() && r["owner"] == r["target_owner"])
            })
    });
    assert_eq!(g["protocol"], "consumer");
    assert_eq!(g["assignor"], "uniform");
    assert!(g["epoch"].as_i64().unwrap() > 1);
    for m in g["members"].as_array().unwrap() {
        assert!(m["member_epoch"].as_i64().unwrap() > 0);
        assert_eq!(m["assignment"], m["target"]);
    }
}

/// A parsed exposition: sample name with labels -> value; every family typed.
fn scrape(api: &str) -> BTreeMap<String, f64> {
    let resp = ureq::get(&format!("{api}/metrics")).call().unwrap();
    assert!(resp.content_type().starts_with("text/plain"));
    let body = resp.into_string().unwrap();
    let mut typed = std::collections::BTreeSet::new();
    let mut out = BTreeMap::new();
    let name_ok = |n: &str| {
        n.starts_with("gregor_")
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(name_ok(name), "{line}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counters end in _total: {line}");
            }
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample before its TYPE: {line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            }
        }
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        out.insert(series.to_string(), v);
    }
    out
}

fn sample(m: &BTreeMap<String, f64>, series: &str) -> f64 {
    m.get(series).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_real_traffic() {
    let (b, api) = broker().await;
    let bootstrap = b.bootstrap();
    create_topic(&bootstrap, "orders", 2).await;
    let before = scrape(&api);
    produce_with_headers(&bootstrap, "orders", 20).await;
    let m = scrape(&api);
    let produces: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("gregor_requests_total{api=\"Produce\""))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        produces, 20.0,
        "linger.ms=0 and one at a time: 20 Produce requests"
    );
    assert_eq!(
        sample(&m, "gregor_topic_records_in_total{topic=\"orders\"}"),
        20.0
    );
    let bytes_in = sample(&m, "gregor_topic_bytes_in_total{topic=\"orders\"}");
    assert!(bytes_in > 20.0 * 30.0, "{bytes_in}");
    let hw: f64 = (0..2)
        .map(|p| {
            sample(
                &m,
                &format!("gregor_partition_high_watermark{{topic=\"orders\",partition=\"{p}\"}}"),
            )
        })
        .sum();
    assert_eq!(hw, 20.0);
    assert!(
        sample(
            &m,
            "gregor_partition_size_bytes{topic=\"orders\",partition=\"0\"}"
        ) > 0.0
    );
    assert_eq!(
        sample(&m, "gregor_request_duration_seconds_count{api=\"Produce\"}"),
        20.0,
        "the histogram counts every request"
    );
    assert_eq!(
        sample(
            &m,
            "gregor_request_duration_seconds_bucket{api=\"Produce\",le=\"+Inf\"}"
        ),
        20.0
    );
    assert_eq!(
        sample(&before, "gregor_topic_bytes_out_total{topic=\"orders\"}"),
        0.0
    );

    // A consumer: bytes out, connections, committed offsets and lag.
    let member = Member::start(
        &bootstrap,
        "g",
        "orders",
        "m",
        &[("enable.auto.commit", "false")],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while member.values().len() < 15 {
        assert!(
            Instant::now() < deadline,
            "consumed only {}",
            member.values().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    commit_all(&member);
    let committed: i64 = member
        .consumer
        .committed(Duration::from_secs(10))
        .unwrap()
        .elements()
        .iter()
        .filter_map(|e| e.offset().to_raw())
        .filter(|o| *o >= 0)
        .sum();
    assert!(committed >= 15, "{committed}");
    let m = scrape(&api);
    assert!(sample(&m, "gregor_topic_bytes_out_total{topic=\"orders\"}") >= bytes_in * 0.5);
    assert!(sample(&m, "gregor_connections") >= 1.0);
    assert!(sample(&m, "gregor_connections_accepted_total") >= 2.0);
    let lag: f64 = (0..2)
        .map(|p| {
            sample(
                &m,
                &format!(
                    "gregor_consumer_group_lag{{group=\"g\",topic=\"orders\",partition=\"{p}\"}}"
                ),
            )
        })
        .sum();
    assert_eq!(lag, (20 - committed) as f64, "{m:?}");
    assert_eq!(
        sample(
            &m,
            "gregor_consumer_group_members{group=\"g\",protocol=\"classic\",state=\"Stable\"}"
        ),
        1.0
    );

    // Errors are counted by Kafka's name: a produce to a partition that does not exist (sent
    // by hand: librdkafka refuses an unknown partition itself).
    let mut raw = common::RawClient::connect(b.addr).await;
    let before = scrape(&api);
    let req = kafka_protocol::messages::ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![
            kafka_protocol::messages::produce_request::TopicProduceData::default()
                .with_name(kafka_protocol::messages::TopicName(
                    kafka_protocol::protocol::StrBytes::from_static_str("orders"),
                ))
                .with_partition_data(vec![
                    kafka_protocol::messages::produce_request::PartitionProduceData::default()
                        .with_index(7)
                        .with_records(Some(common::record_batch(1, None))),
                ]),
        ]);
    raw.call(kafka_protocol::messages::RequestKind::Produce(req), 9)
        .await;
    let after = scrape(&api);
    let key = "gregor_request_errors_total{api=\"Produce\",error=\"UNKNOWN_TOPIC_OR_PARTITION\"}";
    assert_eq!(sample(&after, key) - sample(&before, key), 1.0);
    drop(member.stop());
    // Frames refused before any handler are counted, and closed connections leave the gauge.
    let open = sample(&after, "gregor_connections");
    raw.send_raw(&common::framed(&[0, 0, 0])).await;
    assert!(raw.is_closed().await);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = scrape(&api);
        let rejected = sample(&m, "gregor_requests_rejected_total{api=\"unknown\"}");
        if rejected == 1.0 && sample(&m, "gregor_connections") < open {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rejected {rejected}, open {open}: {m:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
