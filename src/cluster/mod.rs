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

use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::coordinator::{GroupCoordinator, TransactionCoordinator};
use crate::topics::{Topic, TopicError, TopicRegistry};
use faults::Faults;
use producer_ids::ProducerIdAllocator;

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
    /// Fault-injection rules (tests today; users later).
    pub faults: Faults,
    /// The one clock.
    pub clock: Clock,
    /// The brokers, in node id order; the first is the controller.
    nodes: RwLock<Vec<NodeInfo>>,
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
            config,
            cluster_id,
            topics,
            groups,
            txns,
            producer_ids,
            faults: Faults::default(),
            clock,
            nodes: RwLock::new(Vec::new()),
            appended: watch::channel(0).0,
            stopping: watch::channel(false).0,
            started: Instant::now(),
        }
    }

    /// Adds (or replaces) a node.
    pub fn add_node(&self, node: NodeInfo) {
        let mut nodes = self.nodes.write().unwrap_or_else(|p| p.into_inner());
        nodes.retain(|n| n.id != node.id);
        nodes.push(node);
        nodes.sort_by_key(|n| n.id);
    }

    /// Every node, in id order.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.nodes.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One node by id.
    pub fn node(&self, id: i32) -> Option<NodeInfo> {
        self.nodes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|n| n.id == id)
            .cloned()
    }

    /// The controller's node id (the lowest; -1 before any node is up).
    pub fn controller_id(&self) -> i32 {
        self.nodes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .map_or(-1, |n| n.id)
    }

    /// The node coordinating group `group_id`: the leader of its `__consumer_offsets`
    /// partition (before that topic exists, the controller, which creates it on first use).
    /// `None` while that partition has no leader (its log directory is offline).
    pub fn group_coordinator(&self, group_id: &str) -> Option<NodeInfo> {
        if self.topics.log_dir().is_offline() {
            return None;
        }
        let shard = self.groups.shard_of(group_id);
        let leader = match self.topics.get(crate::coordinator::OFFSETS_TOPIC) {
            Some(t) => t.partition(shard).map(|p| p.leader())?,
            None => self.controller_id(),
        };
        self.node(leader)
    }

    /// The node coordinating transactional id `transactional_id`: the leader of its
    /// `__transaction_state` partition (before that topic exists, the controller).
    pub fn txn_coordinator(&self, transactional_id: &str) -> Option<NodeInfo> {
        if self.topics.log_dir().is_offline() {
            return None;
        }
        let shard = self.txns.shard_of(transactional_id);
        let leader = match self.topics.get(crate::coordinator::TRANSACTION_STATE_TOPIC) {
            Some(t) => t.partition(shard).map(|p| p.leader())?,
            None => self.controller_id(),
        };
        self.node(leader)
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
