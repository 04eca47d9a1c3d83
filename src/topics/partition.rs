//! [`Partition`] and [`Topic`]: what the registry holds. A partition's leader and leader epoch
//! are mutable cluster state, read without a lock; its log sits behind its own mutex.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use uuid::Uuid;

use crate::log::{LogDir, PartitionLog};
use crate::metrics::Traffic;
use crate::record::validate::ProduceRules;

/// One partition: where it lives, who leads it, and its log.
#[derive(Debug)]
pub struct Partition {
    /// Topic name, for logs and directory names.
    pub topic: String,
    /// Partition index.
    pub index: i32,
    /// Leader node id and leader epoch, packed as `(epoch << 32) | node` so both change
    /// together: mutable cluster state (leaders move between virtual brokers, and every move
    /// bumps the epoch), read without a lock on every produce and fetch.
    pub(super) leadership: AtomicU64,
    /// The replica set, preferred leader first (the data is kept once; the set is what
    /// Metadata lists and where the leader may move without a reassignment).
    pub(super) replicas: RwLock<Vec<i32>>,
    /// The log, behind this partition's own lock.
    pub(super) log: Mutex<PartitionLog>,
    /// The log directory the log lives in (readable without the lock).
    pub(super) log_dir: Arc<LogDir>,
}

impl Partition {
    /// The leader's node id.
    pub fn leader(&self) -> i32 {
        self.leadership_now().0
    }

    /// The leader epoch, stamped on appended batches and reported in metadata.
    pub fn leader_epoch(&self) -> i32 {
        self.leadership_now().1
    }

    /// `(leader, leader epoch)`, read together.
    pub fn leadership_now(&self) -> (i32, i32) {
        let v = self.leadership.load(Ordering::Acquire);
        (v as u32 as i32, (v >> 32) as u32 as i32)
    }

    /// Makes `node` the leader with the next epoch; returns the new epoch.
    pub fn move_leader(&self, node: i32) -> i32 {
        let mut current = self.leadership.load(Ordering::Acquire);
        loop {
            let epoch = ((current >> 32) as u32 as i32).saturating_add(1);
            let next = pack_leadership(node, epoch);
            match self.leadership.compare_exchange(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return epoch,
                Err(seen) => current = seen,
            }
        }
    }

    /// The replica set, preferred leader first.
    pub fn replicas(&self) -> Vec<i32> {
        self.replicas
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the replica set (a reassignment, or a leader moved outside the set).
    pub fn set_replicas(&self, replicas: Vec<i32>) {
        *self.replicas.write().unwrap_or_else(|p| p.into_inner()) = replicas;
    }

    /// Locks this partition's log. A poisoned lock (a panic while appending) is recovered: the
    /// log's own state is only advanced after a successful write.
    pub fn log(&self) -> MutexGuard<'_, PartitionLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the partition's log directory went offline after an I/O error.
    pub fn is_offline(&self) -> bool {
        self.log_dir.is_offline()
    }
}

pub(super) fn pack_leadership(node: i32, epoch: i32) -> u64 {
    (u64::from(epoch as u32) << 32) | u64::from(node as u32)
}

/// A topic and its partitions.
#[derive(Debug)]
pub struct Topic {
    /// Topic name.
    pub name: String,
    /// Topic id (UUID), stable across restarts; Fetch v13+ and DeleteTopics v6 use it.
    pub id: Uuid,
    /// Internal topics (`__consumer_offsets`) are flagged in Metadata and protected.
    pub internal: bool,
    /// Replicas per partition (the data is kept once whatever it is).
    pub replication_factor: i32,
    /// Topic-level config overrides (only keys set on the topic).
    pub(super) configs: RwLock<BTreeMap<String, String>>,
    /// Partitions, index = partition id; grows with CreatePartitions.
    pub(super) partitions: RwLock<Vec<Arc<Partition>>>,
    /// What every produce to this topic is validated against (resolved from the effective
    /// configs, replaced on AlterConfigs).
    pub(super) produce_rules: RwLock<ProduceRules>,
    /// Bytes and records produced to and fetched from this topic, for `/metrics`.
    pub traffic: Traffic,
}

impl Topic {
    /// A snapshot of the partitions.
    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// One partition, if it exists.
    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        let parts = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        usize::try_from(index)
            .ok()
            .and_then(|i| parts.get(i).cloned())
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> i32 {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len() as i32
    }

    /// The rules a client batch for this topic must pass.
    pub fn produce_rules(&self) -> ProduceRules {
        *self.produce_rules.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The topic-level overrides.
    pub fn overrides(&self) -> BTreeMap<String, String> {
        self.configs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
