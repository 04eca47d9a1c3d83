//! [`Embedded`]: Gregor inside a Rust test suite. One call starts a broker (or a cluster of
//! virtual brokers) on ephemeral ports over a temporary data directory; the handle gives the
//! `bootstrap.servers` to point any Kafka client at, drives faults and leader moves, and stops
//! the broker and removes the directory when dropped.
//!
//! ```no_run
//! use gregor::Embedded;
//! use kafka_protocol::messages::ApiKey;
//! use kafka_protocol::ResponseError;
//!
//! let cluster = Embedded::builder().brokers(3).start().expect("gregor starts");
//! let bootstrap = cluster.bootstrap_servers(); // "127.0.0.1:40001,127.0.0.1:40002,..."
//! // The next two produces to orders-0 fail with NOT_ENOUGH_REPLICAS (the client retries).
//! let rule = cluster
//!     .faults()
//!     .on(ApiKey::Produce)
//!     .partition("orders", 0)
//!     .times(2)
//!     .fail(ResponseError::NotEnoughReplicas)
//!     .expect("a valid rule");
//! // ... run the application against `bootstrap` ...
//! cluster.faults().wait(rule.id, 2, std::time::Duration::from_secs(30));
//! cluster.move_leader("orders", 0, 3).expect("broker 3 exists");
//! ```
//!
//! [`Embedded::start`](EmbeddedBuilder::start) is synchronous and runs the broker on a runtime
//! of its own, so blocking clients can be used from a plain `#[test]`; from async code, call it
//! inside `tokio::task::spawn_blocking`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;

use crate::cluster::faults::{
    error_name, FaultRule, FaultSpec, FaultSpecError, Faults, WaitOutcome,
};
use crate::cluster::request_log::RequestEntry;
use crate::cluster::topology::{LeaderChange, TopologyError};
use crate::cluster::Cluster;
use crate::config::Config;
use crate::node::RunningBroker;
use crate::properties::Properties;

/// Options for an [`Embedded`] broker; see [`Embedded::builder`].
#[derive(Debug, Clone, Default)]
pub struct EmbeddedBuilder {
    brokers: i32,
    data_dir: Option<PathBuf>,
    props: Vec<(String, String)>,
    admin: bool,
}

impl EmbeddedBuilder {
    /// Virtual brokers to start (1 to 16; default 1), each on its own ephemeral port.
    pub fn brokers(mut self, n: i32) -> Self {
        self.brokers = n;
        self
    }

    /// Sets a broker config key, as in `server.properties` (e.g. `num.partitions`, `3`).
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.props.push((key.to_string(), value.to_string()));
        self
    }

    /// Uses (and keeps) this data directory instead of a temporary one removed on drop.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Also serves the HTTP admin endpoint (on an ephemeral loopback port, see
    /// [`Embedded::admin_addr`]), so `gregor ctl --admin ADDR` can drive it.
    pub fn admin_endpoint(mut self, on: bool) -> Self {
        self.admin = on;
        self
    }

    /// Starts the broker and waits until every listener serves.
    pub fn start(self) -> anyhow::Result<Embedded> {
        let (dir, temporary) = match self.data_dir {
            Some(d) => (d, false),
            None => (temp_dir()?, true),
        };
        let mut p = Properties::new();
        p.insert("listeners".into(), "127.0.0.1:0".into());
        p.insert("log.dirs".into(), dir.display().to_string());
        p.insert("gregor.brokers".into(), self.brokers.max(1).to_string());
        p.insert(
            "gregor.admin.listener".into(),
            if self.admin { "127.0.0.1:0" } else { "off" }.into(),
        );
        for (k, v) in self.props {
            p.insert(k, v);
        }
        let config = Config::from_properties(p)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("gregor-embedded")
            .enable_all()
            .build()?;
        let running = match rt.block_on(crate::node::start(config)) {
            Ok(r) => r,
            Err(e) => {
                if temporary {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                return Err(e);
            }
        };
        Ok(Embedded {
            rt: Some(rt),
            running: Some(running),
            dir,
            temporary,
        })
    }
}

/// A temporary directory of our own (removed by [`Embedded`]'s drop).
fn temp_dir() -> std::io::Result<PathBuf> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "gregor-embedded-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A running embedded broker; see the module documentation. Dropping it stops the broker
/// (cleanly) and removes a temporary data directory.
pub struct Embedded {
    rt: Option<tokio::runtime::Runtime>,
    running: Option<RunningBroker>,
    dir: PathBuf,
    temporary: bool,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("bootstrap", &self.bootstrap_servers())
            .field("dir", &self.dir)
            .finish()
    }
}

impl Embedded {
    /// Options for a new broker: one virtual broker, a temporary data directory, no admin
    /// endpoint, Gregor's defaults.
    pub fn builder() -> EmbeddedBuilder {
        EmbeddedBuilder {
            brokers: 1,
            ..EmbeddedBuilder::default()
        }
    }

    fn running(&self) -> &RunningBroker {
        self.running.as_ref().expect("running until dropped")
    }

    /// The value for a client's `bootstrap.servers`: every broker's address.
    pub fn bootstrap_servers(&self) -> String {
        self.running
            .as_ref()
            .map_or_else(String::new, RunningBroker::bootstrap)
    }

    /// Each broker's node id and address.
    pub fn brokers(&self) -> Vec<(i32, SocketAddr)> {
        self.running().addrs.clone()
    }

    /// The HTTP admin endpoint's address, if [`EmbeddedBuilder::admin_endpoint`] asked for it.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.running().admin_addr
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// The cluster state, for what this handle does not wrap.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.running().cluster
    }

    /// The fault rules: add, list, wait for, remove.
    pub fn faults(&self) -> FaultsHandle<'_> {
        FaultsHandle {
            faults: &self.running().cluster.faults,
            rt: self.rt.as_ref().expect("running until dropped"),
        }
    }

    /// Makes broker `to` lead `topic`-`partition` (the epoch bumps; the old leader answers
    /// NOT_LEADER_OR_FOLLOWER).
    pub fn move_leader(
        &self,
        topic: &str,
        partition: i32,
        to: i32,
    ) -> Result<LeaderChange, TopologyError> {
        self.cluster().move_leader(topic, partition, to)
    }

    /// Moves every partition's leader (coordinators too) to another live broker, chosen by a
    /// generator seeded with `seed`.
    pub fn shuffle_leaders(&self, seed: u64) -> Vec<LeaderChange> {
        self.cluster().shuffle_leaders(seed)
    }

    /// Takes broker `id` down (its connections close; its partitions move or lose their
    /// leader).
    pub fn broker_down(&self, id: i32) -> Result<Vec<LeaderChange>, TopologyError> {
        self.cluster().broker_down(id)
    }

    /// Brings broker `id` back up.
    pub fn broker_up(&self, id: i32) -> Result<Vec<LeaderChange>, TopologyError> {
        self.cluster().broker_up(id)
    }

    /// Moves group `group_id`'s coordinator to broker `to`.
    pub fn move_group_coordinator(
        &self,
        group_id: &str,
        to: i32,
    ) -> Result<LeaderChange, TopologyError> {
        self.cluster().move_group_coordinator(group_id, to)
    }

    /// Moves `transactional_id`'s coordinator to broker `to`.
    pub fn move_txn_coordinator(
        &self,
        transactional_id: &str,
        to: i32,
    ) -> Result<LeaderChange, TopologyError> {
        self.cluster().move_txn_coordinator(transactional_id, to)
    }

    /// The newest `limit` entries of the request log, oldest first.
    pub fn requests(&self, limit: usize) -> Vec<RequestEntry> {
        self.cluster().requests.recent(limit)
    }

    /// Stops the broker cleanly (as dropping it does) and removes a temporary directory.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(rt) = self.rt.take() {
            let running = self.running.take();
            // A clean stop (flush, marker), then the runtime. On a thread of its own: from
            // inside another runtime block_on would panic.
            let stopped = std::thread::spawn(move || {
                if let Some(r) = running {
                    rt.block_on(r.shutdown());
                }
                rt.shutdown_background();
            })
            .join();
            if stopped.is_err() {
                tracing::error!("the embedded broker's shutdown panicked");
            }
        }
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The fault rules of an [`Embedded`] broker.
#[derive(Debug, Clone, Copy)]
pub struct FaultsHandle<'a> {
    faults: &'a Arc<Faults>,
    rt: &'a tokio::runtime::Runtime,
}

impl<'a> FaultsHandle<'a> {
    /// Starts a rule for requests of `api`; finish it with an action
    /// ([`FaultBuilder::fail`], [`FaultBuilder::lose_response`], ...).
    pub fn on(self, api: ApiKey) -> FaultBuilder<'a> {
        FaultBuilder {
            faults: self.faults,
            spec: FaultSpec {
                api: format!("{api:?}"),
                ..FaultSpec::default()
            },
        }
    }

    /// Adds a rule written as data (the admin endpoint's and the faults file's form).
    pub fn add_spec(self, spec: FaultSpec) -> Result<FaultRule, FaultSpecError> {
        self.faults.add(spec)
    }

    /// Every rule, with its hits and remaining firings.
    pub fn list(self) -> Vec<FaultRule> {
        self.faults.list()
    }

    /// Removes one rule.
    pub fn remove(self, id: u64) -> bool {
        self.faults.remove(id)
    }

    /// Removes every rule.
    pub fn clear(self) {
        self.faults.clear()
    }

    /// Blocks until rule `id` has fired `hits` times or `timeout` passes; returns what it saw.
    pub fn wait(self, id: u64, hits: u64, timeout: Duration) -> WaitOutcome {
        let faults = self.faults.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        self.rt.spawn(async move {
            let _ = tx.send(faults.wait(id, hits, timeout).await);
        });
        rx.recv().unwrap_or(WaitOutcome::Gone)
    }
}

/// A rule being built; see [`FaultsHandle::on`].
#[derive(Debug, Clone)]
pub struct FaultBuilder<'a> {
    faults: &'a Arc<Faults>,
    spec: FaultSpec,
}

impl FaultBuilder<'_> {
    /// Only these API versions.
    pub fn versions(mut self, versions: std::ops::RangeInclusive<i16>) -> Self {
        self.spec.min_version = Some(*versions.start());
        self.spec.max_version = Some(*versions.end());
        self
    }

    /// Only requests with this `client.id`.
    pub fn client_id(mut self, id: &str) -> Self {
        self.spec.client_id = Some(id.to_string());
        self
    }

    /// Only requests sent to this broker.
    pub fn broker(mut self, id: i32) -> Self {
        self.spec.broker = Some(id);
        self
    }

    /// Only requests naming this topic (Produce, Fetch, ListOffsets errors: only its
    /// partitions fail).
    pub fn topic(mut self, topic: &str) -> Self {
        self.spec.topic = Some(topic.to_string());
        self
    }

    /// Only this partition of `topic`.
    pub fn partition(mut self, topic: &str, partition: i32) -> Self {
        self.spec.topic = Some(topic.to_string());
        self.spec.partition = Some(partition);
        self
    }

    /// Fire this many times (default 1).
    pub fn times(mut self, n: u32) -> Self {
        self.spec.times = Some(n);
        self.spec.always = false;
        self
    }

    /// Fire on every match.
    pub fn always(mut self) -> Self {
        self.spec.always = true;
        self.spec.times = None;
        self
    }

    fn finish(mut self, action: &str) -> Result<FaultRule, FaultSpecError> {
        self.spec.action = action.to_string();
        self.faults.add(self.spec)
    }

    /// Answer with `error`, doing nothing.
    pub fn fail(mut self, error: ResponseError) -> Result<FaultRule, FaultSpecError> {
        self.spec.error = Some(error_name(error));
        self.finish("error")
    }

    /// Do the work, then close the connection instead of answering.
    pub fn lose_response(self) -> Result<FaultRule, FaultSpecError> {
        self.finish("lose-response")
    }

    /// Wait `delay`, then handle the request.
    pub fn delay(mut self, delay: Duration) -> Result<FaultRule, FaultSpecError> {
        self.spec.delay_ms = Some(delay.as_millis() as u64);
        self.finish("delay")
    }

    /// Close the connection without handling the request.
    pub fn disconnect(self) -> Result<FaultRule, FaultSpecError> {
        self.finish("disconnect")
    }

    /// Never answer.
    pub fn hang(self) -> Result<FaultRule, FaultSpecError> {
        self.finish("hang")
    }
}
