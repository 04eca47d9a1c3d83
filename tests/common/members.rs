//! librdkafka group members for the group tests: a [`Member`] polling on its own thread,
//! [`wait_stable`] for an assignment that covers every partition once, and the topic and
//! produce helpers they use.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

pub fn cfg(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4");
    c
}

pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let a: AdminClient<DefaultClientContext> = cfg(bootstrap).create().unwrap();
    let r = a
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
}

/// Produces `n` records with values `"{prefix}{i}"`, spread by key over the partitions.
pub async fn produce(bootstrap: &str, topic: &str, prefix: &str, n: usize) {
    let p: FutureProducer = cfg(bootstrap).set("linger.ms", "5").create().unwrap();
    let mut futs = Vec::new();
    for i in 0..n {
        let v = format!("{prefix}{i}");
        futs.push(
            p.send_result(FutureRecord::to(topic).key(&v).payload(&v))
                .map_err(|(e, _)| e)
                .unwrap(),
        );
    }
    for f in futs {
        f.await.unwrap().unwrap();
    }
}

/// A group member polling on its own thread, recording what it received and owns.
pub struct Member {
    pub name: String,
    pub consumer: Arc<BaseConsumer>,
    pub received: Arc<Mutex<Vec<(i32, i64, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    pub fn start(
        bootstrap: &str,
        group: &str,
        topic: &str,
        name: &str,
        extra: &[(&str, &str)],
    ) -> Member {
        let mut c = cfg(bootstrap);
        c.set("group.id", group)
            .set("client.id", name)
            .set("auto.offset.reset", "earliest");
        for (k, v) in extra {
            c.set(*k, *v);
        }
        let consumer: Arc<BaseConsumer> = Arc::new(c.create().unwrap());
        consumer.subscribe(&[topic]).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (consumer, received, stop) = (consumer.clone(), received.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
                        let v =
                            String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                        received
                            .lock()
                            .unwrap()
                            .push((m.partition(), m.offset(), v));
                    }
                }
            })
        };
        Member {
            name: name.to_string(),
            consumer,
            received,
            stop,
            thread: Some(thread),
        }
    }

    pub fn assignment(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self
            .consumer
            .assignment()
            .map(|tpl| tpl.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    pub fn values(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.2.clone())
            .collect()
    }

    /// Stops polling; the consumer is closed (LeaveGroup) when the last handle drops.
    pub fn stop(mut self) -> Arc<BaseConsumer> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.consumer.clone()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits until the members' assignments cover `partitions` exactly once, with `idle` members
/// owning nothing; returns how long it took.
pub fn wait_stable(members: &[&Member], partitions: i32, idle: usize, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let all: Vec<Vec<i32>> = members.iter().map(|m| m.assignment()).collect();
        let owned: Vec<i32> = all.iter().flatten().copied().collect();
        let unique: HashSet<i32> = owned.iter().copied().collect();
        if owned.len() == partitions as usize
            && unique.len() == partitions as usize
            && all.iter().filter(|a| a.is_empty()).count() == idle
        {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "no stable assignment within {limit:?}: {:?}",
            members
                .iter()
                .map(|m| (&m.name, m.assignment()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The broker's description of consumer group `group` once `ok` holds (a failure naming
/// `what` after 60 s). Call from a blocking thread inside the test's runtime.
pub fn describe_until(
    cluster: &gregor::cluster::Cluster,
    group: &str,
    what: &str,
    ok: impl Fn(&gregor::group::consumer::ConsumerGroupDescription) -> bool,
) -> gregor::group::consumer::ConsumerGroupDescription {
    let rt = tokio::runtime::Handle::current();
    let start = Instant::now();
    loop {
        let d = rt
            .block_on(cluster.groups.describe_consumer_group(group))
            .unwrap();
        if ok(&d) {
            return d;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: {d:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
