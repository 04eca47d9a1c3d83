//! [`Cluster`]: the process-wide state every node serves from. One process may pretend to be
//! several brokers (virtual nodes, each with its own listener); they share one cluster: its
//! topics and partitions (whose leader and epoch are mutable data, see
//! [`crate::topics::Partition`]), its coordinators, producer ids, fault rules and clock.
//!
//! - [`faults`]: fault-injection rules consulted at the dispatch point.
//! - [`producer_ids`]: producer id allocation for InitProducerId.
//!
//! Metadata, FindCoordinator and DescribeCluster answer from this view: [`Cluster::nodes`] lists
//! the brokers, each partition names its leader, and a coordinator key's node is the leader of
//! its internal partition.

pub mod faults;
pub mod producer_ids;
pub mod request_log;
pub mod topology;

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::coordinator::{GroupCoordinator, TransactionCoordinator};
use crate::metrics::Metrics;
use crate::topics::{Topic, TopicError, TopicRegistry};
use faults::Faults;
use producer_ids::ProducerIdAllocator;
use request_log::RequestLog;

/// One broker of the cluster as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Cluster {
    /// Resolved configuration.
    pub config: Arc<Config>,
    /// Cluster id, stable across restarts (from `meta.properties`).
    pub cluster_id: String,
    /// Topics and their partitions.
    pub topics: Arc<TopicRegistry>,
    /// The classic group coordinator.
    pub groups: Arc<GroupCoordinator>,
    /// The transaction coordinator.
    pub txns: Arc<TransactionCoordinator>,
    /// Producer id allocation for InitProducerId.
    pub producer_ids: Arc<ProducerIdAllocator>,
    /// Fault-injection rules, consulted at the dispatch point.
    pub faults: Arc<Faults>,
    /// The last requests handled, by every node.
    pub requests: RequestLog,
    /// The one clock.
    pub clock: Clock,
    /// The counters `/metrics` serves, kept at the dispatch point.
    pub metrics: Metrics,
    /// The brokers, in node id order, up or down; the first up is the controller.
    nodes: RwLock<Vec<NodeInfo>>,
    /// The brokers taken down (see [`topology`]).
    down: RwLock<BTreeSet<i32>>,
    /// Bumped when a broker goes down, so its open connections close.
    kicks: watch::Sender<u64>,
    /// Serialises topology changes (see [`topology`]).
    topology: std::sync::Mutex<()>,
    /// Bumped after every append; long-polling fetches wait on it instead of sleeping.
    appended: watch::Sender<u64>,
    /// Set to true when the process is stopping, so parked requests answer at once.
    stopping: watch::Sender<bool>,
    /// When the cluster was created, for uptime in logs.
    pub started: Instant,
}

impl Cluster {
    /// A cluster with no nodes yet; [`Cluster::add_node`] adds them as their listeners bind.
    pub fn new(
        config: Arc<Config>,
        cluster_id: String,
        topics: Arc<TopicRegistry>,
        groups: Arc<GroupCoordinator>,
        txns: Arc<TransactionCoordinator>,
        producer_ids: Arc<ProducerIdAllocator>,
        clock: Clock,
    ) -> Cluster {
        Cluster {
            requests: RequestLog::new(config.request_log_size),
            config,
            cluster_id,
            topics,
            groups,
            txns,
            producer_ids,
            faults: Arc::new(Faults::default()),
            clock,
            metrics: Metrics::default(),
            nodes: RwLock::new(Vec::new()),
            down: RwLock::new(BTreeSet::new()),
            kicks: watch::channel(0).0,
            topology: std::sync::Mutex::new(()),
            appended: watch::channel(0).0,
            stopping: watch::channel(false).0,
            started: Instant::now(),
        }
    }

    /// The same cluster with these fault rules (built with the dispatch point's list of
    /// APIs that can answer an injected error).
    pub fn with_faults(mut self, faults: Arc<Faults>) -> Cluster {
        self.faults = faults;
        self
    }

    /// Adds (or replaces) a node.
    pub fn add_node(&self, node: NodeInfo) {
        let mut nodes = self.nodes.write().unwrap_or_else(|p| p.into_inner());
        nodes.retain(|n| n.id != node.id);
        nodes.push(node);
        nodes.sort_by_key(|n| n.id);
    }

    /// Every node that is up, in id order (what Metadata lists).
    pub fn nodes(&self) -> Vec<NodeInfo> {
        let down = self.down.read().unwrap_or_else(|p| p.into_inner());
        self.nodes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|n| !down.contains(&n.id))
            .cloned()
            .collect()
    }

    /// Every node with whether it is up, in id order.
    pub fn all_nodes(&self) -> Vec<(NodeInfo, bool)> {
        self.nodes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|n| (n.clone(), !self.is_down(n.id)))
            .collect()
    }

    /// The ids of the nodes that are up.
    pub fn live_ids(&self) -> Vec<i32> {
        self.nodes().iter().map(|n| n.id).collect()
    }

    /// One node by id, up or down (a node's own address).
    pub fn node(&self, id: i32) -> Option<NodeInfo> {
        self.nodes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|n| n.id == id)
            .cloned()
    }

    /// One node by id if it is up.
    pub fn live_node(&self, id: i32) -> Option<NodeInfo> {
        self.node(id).filter(|_| !self.is_down(id))
    }

    /// Whether node `id` was taken down.
    pub fn is_down(&self, id: i32) -> bool {
        self.down
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id)
    }

    fn set_down(&self, id: i32, down: bool) {
        let mut set = self.down.write().unwrap_or_else(|p| p.into_inner());
        if down {
            set.insert(id);
        } else {
            set.remove(&id);
        }
        drop(set);
        if down {
            self.kicks.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// A receiver that changes when a broker goes down (its connections then close).
    pub fn subscribe_kicks(&self) -> watch::Receiver<u64> {
        self.kicks.subscribe()
    }

    /// The controller's node id (the lowest up; -1 before any node is up).
    pub fn controller_id(&self) -> i32 {
        self.nodes().first().map_or(-1, |n| n.id)
    }

    /// Creates an internal topic (`__consumer_offsets`, `__transaction_state`) as its
    /// coordinator would on first use.
    pub fn ensure_internal_topic(&self, name: &str) {
        let made = if name == crate::coordinator::OFFSETS_TOPIC {
            self.groups.runtime().ensure_topic()
        } else {
            self.txns.runtime().ensure_topic()
        };
        if let Err(e) = made {
            tracing::error!(topic = name, error = %e, "cannot create internal topic");
        }
    }

    /// The node leading `shard` of internal topic `name`, if it is up. With several brokers
    /// the topic is created first (as Kafka's FindCoordinator does), so the answer is where
    /// the coordinator will stay; with one, the controller answers until first use.
    fn internal_leader(&self, name: &str, shard: i32) -> Option<NodeInfo> {
        if self.topics.log_dir().is_offline() {
            return None;
        }
        if self.topics.get(name).is_none() && self.config.brokers > 1 {
            self.ensure_internal_topic(name);
        }
        let leader = match self.topics.get(name) {
            Some(t) => t.partition(shard).map(|p| p.leader())?,
            None => self.controller_id(),
        };
        self.live_node(leader)
    }

    /// The node coordinating group `group_id`: the leader of its `__consumer_offsets`
    /// partition (before that topic exists, the controller, which creates it on first use).
    /// `None` while that partition has no leader (its log directory is offline).
    pub fn group_coordinator(&self, group_id: &str) -> Option<NodeInfo> {
        let shard = self.groups.shard_of(group_id);
        self.internal_leader(crate::coordinator::OFFSETS_TOPIC, shard)
    }

    /// The node coordinating transactional id `transactional_id`: the leader of its
    /// `__transaction_state` partition (before that topic exists, the controller).
    pub fn txn_coordinator(&self, transactional_id: &str) -> Option<NodeInfo> {
        let shard = self.txns.shard_of(transactional_id);
        self.internal_leader(crate::coordinator::TRANSACTION_STATE_TOPIC, shard)
    }

    /// Wakes long-polling fetches after data was appended.
    pub fn notify_appended(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes on every append (for long-polling).
    pub fn subscribe_appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Tells parked requests to answer now; called when the process starts stopping.
    pub fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
    }

    /// A receiver that turns true when the process starts stopping.
    pub fn subscribe_stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Looks a topic up, creating it when auto-creation is on and the caller allows it.
    pub fn topic_or_create(
        &self,
        name: &str,
        allow_create: bool,
    ) -> Result<Arc<Topic>, TopicError> {
        if let Some(t) = self.topics.get(name) {
            return Ok(t);
        }
        if allow_create && self.config.auto_create_topics {
            self.topics.auto_create(name)
        } else {
            crate::topics::validate_topic_name(name)?;
            Err(TopicError::Unknown(name.to_string()))
        }
    }
}
