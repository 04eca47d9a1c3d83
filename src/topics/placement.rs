//! Where partitions live among the virtual brokers: the live brokers new partitions are
//! placed on, Kafka's round-robin placement, explicit assignments, and stored replica sets.

use super::{TopicError, TopicRegistry, TopicSpec};

impl TopicRegistry {
    /// The live brokers, in id order.
    pub fn brokers(&self) -> Vec<i32> {
        self.brokers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets the live brokers new partitions are placed on.
    pub fn set_brokers(&self, brokers: Vec<i32>) {
        *self.brokers.write().unwrap_or_else(|p| p.into_inner()) = brokers;
    }

    /// Where partition `index` of `topic` goes: `replication_factor` consecutive live brokers
    /// from a start that depends on the topic's name (so topics do not all lead on the first
    /// broker) plus the index (so a topic's partitions spread), as Kafka's round-robin
    /// placement. The first is the preferred leader.
    pub fn placement(&self, topic: &str, index: i32, replication_factor: i32) -> Vec<i32> {
        let brokers = self.brokers();
        if brokers.is_empty() {
            return vec![self.config.node_id];
        }
        let n = brokers.len();
        // FNV-1a: stable across runs and builds, unlike the std hasher.
        let start = topic.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }) as usize;
        let rf = (replication_factor.max(1) as usize).min(n);
        (0..rf)
            .map(|k| brokers[(start % n + index.max(0) as usize + k) % n])
            .collect()
    }

    /// A stored replica set whose brokers all still exist, else a fresh placement (a restart
    /// with fewer virtual brokers).
    pub(super) fn stored_or_placed(&self, spec: &TopicSpec, index: i32) -> Vec<i32> {
        let all: Vec<i32> = (0..self.config.brokers.max(1))
            .map(|i| self.config.node_id + i)
            .collect();
        spec.replicas
            .get(&index)
            .filter(|r| !r.is_empty() && r.iter().all(|b| all.contains(b)))
            .cloned()
            .unwrap_or_else(|| self.placement(&spec.name, index, spec.replication_factor))
    }

    /// Checks an explicit replica assignment (CreateTopics' `assignments`): one list per
    /// partition, each non-empty, of known brokers without repeats, all the same length.
    pub fn validate_assignment(&self, assignment: &[Vec<i32>]) -> Result<i32, TopicError> {
        let known: Vec<i32> = (0..self.config.brokers.max(1))
            .map(|i| self.config.node_id + i)
            .collect();
        let rf = assignment.first().map_or(0, Vec::len);
        for (i, a) in assignment.iter().enumerate() {
            if a.is_empty() || a.len() != rf {
                return Err(TopicError::InvalidReplicaAssignment(format!(
                    "Partition {i} has {} replicas where the others have {rf}.",
                    a.len()
                )));
            }
            if let Some(b) = a.iter().find(|b| !known.contains(b)) {
                return Err(TopicError::InvalidReplicaAssignment(format!(
                    "The manual partition assignment includes broker {b}, but no such broker is registered."
                )));
            }
            let mut sorted = a.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != a.len() {
                return Err(TopicError::InvalidReplicaAssignment(format!(
                    "The manual partition assignment of partition {i} lists a broker twice."
                )));
            }
        }
        Ok(rf as i32)
    }
}
