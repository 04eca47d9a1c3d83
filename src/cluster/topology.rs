//! Moving leaders between the virtual brokers, and taking brokers down and up: what Kafka's
//! controller does after an election, a reassignment or a broker failure, done on request
//! (`gregor ctl`, the admin endpoint, the Rust API) so applications can be tested against it.
//!
//! A move bumps the partition's leader epoch, so the old leader answers NOT_LEADER_OR_FOLLOWER
//! and requests carrying the old epoch get FENCED_LEADER_EPOCH. Moving the leader of an
//! internal partition (`__consumer_offsets`, `__transaction_state`) moves its coordinator: the
//! runtime unloads the shard, answering its parked requests NOT_COORDINATOR, and loads it
//! again from its log, as a new coordinator does in Kafka.
//!
//! A broker that goes down closes its connections and refuses requests until it is up;
//! Metadata leaves it out, and the partitions it led move to another live replica, or have no
//! leader (LEADER_NOT_AVAILABLE) if it was their only one, until it is back. Leaders stay
//! where they moved, as in Kafka before a preferred-leader election.
//!
//! Leaders and replica sets changed here are kept in memory: a restart places partitions on
//! their stored replica sets, led by the first (Kafka's preferred leader), at the newest epoch
//! their log has seen.

use std::sync::Arc;

use serde::Serialize;

use super::Cluster;
use crate::coordinator::{OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC};
use crate::topics::Partition;

/// Why a topology change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// No such topic.
    #[error("unknown topic {0}")]
    UnknownTopic(String),
    /// No such partition.
    #[error("topic {0} has no partition {1}")]
    UnknownPartition(String, i32),
    /// No such broker.
    #[error("no broker {0} (brokers: {1:?})")]
    UnknownBroker(i32, Vec<i32>),
    /// The broker is down.
    #[error("broker {0} is down")]
    BrokerDown(i32),
    /// Every other broker is down already.
    #[error("broker {0} is the last one up")]
    LastBroker(i32),
}

/// A partition's leadership after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaderChange {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The leader before (-1: none).
    pub from: i32,
    /// The leader now (-1: none).
    pub leader: i32,
    /// The leader epoch now.
    pub epoch: i32,
    /// The replica set now.
    pub replicas: Vec<i32>,
}

/// What a preferred leader election did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Election {
    /// The preferred replica leads now.
    Elected(LeaderChange),
    /// It led already (ELECTION_NOT_NEEDED).
    NotNeeded,
    /// It is down (PREFERRED_LEADER_NOT_AVAILABLE).
    PreferredUnavailable,
}

/// A small deterministic generator for [`Cluster::shuffle_leaders`] (explicit seed only).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

impl Cluster {
    /// One topology change at a time (two concurrent downs must not take the last broker
    /// down, two reloads of a shard must not interleave).
    fn topology_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.topology.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `id` is one of the brokers, up or down.
    fn check_known(&self, id: i32) -> Result<(), TopologyError> {
        let all: Vec<i32> = self.all_nodes().iter().map(|(n, _)| n.id).collect();
        if all.contains(&id) {
            Ok(())
        } else {
            Err(TopologyError::UnknownBroker(id, all))
        }
    }

    /// [`Self::set_leader`], then the change on disk.
    fn lead_and_save(&self, p: &Partition, to: i32) -> LeaderChange {
        let change = self.set_leader(p, to);
        self.save(std::slice::from_ref(&change));
        change
    }

    fn check_broker(&self, id: i32) -> Result<(), TopologyError> {
        self.check_known(id)?;
        if self.is_down(id) {
            return Err(TopologyError::BrokerDown(id));
        }
        Ok(())
    }

    fn partition_of(&self, topic: &str, partition: i32) -> Result<Arc<Partition>, TopologyError> {
        let t = self
            .topics
            .get(topic)
            .ok_or_else(|| TopologyError::UnknownTopic(topic.to_string()))?;
        t.partition(partition)
            .ok_or_else(|| TopologyError::UnknownPartition(topic.to_string(), partition))
    }

    /// Makes broker `to` the leader of `topic`-`partition` with the next epoch. A broker
    /// outside the replica set takes the old leader's place in it. Moving to the current
    /// leader changes nothing.
    pub fn move_leader(
        &self,
        topic: &str,
        partition: i32,
        to: i32,
    ) -> Result<LeaderChange, TopologyError> {
        let _one = self.topology_lock();
        self.check_broker(to)?;
        let p = self.partition_of(topic, partition)?;
        Ok(self.lead_and_save(&p, to))
    }

    /// Moves `p`'s leadership to `to` (which is up), bumping the epoch, and moves its
    /// coordinator if it is an internal partition.
    fn set_leader(&self, p: &Partition, to: i32) -> LeaderChange {
        let (from, epoch) = p.leadership_now();
        let mut replicas = p.replicas();
        if from == to {
            return LeaderChange {
                topic: p.topic.clone(),
                partition: p.index,
                from,
                leader: to,
                epoch,
                replicas,
            };
        }
        if !replicas.contains(&to) {
            match replicas.iter().position(|&r| r == from) {
                Some(i) => replicas[i] = to,
                None => replicas.insert(0, to),
            }
            p.set_replicas(replicas.clone());
        }
        let epoch = p.move_leader(to);
        tracing::info!(topic = %p.topic, partition = p.index, from, to, epoch, "moved partition leader");
        self.leadership_moved(p);
        LeaderChange {
            topic: p.topic.clone(),
            partition: p.index,
            from,
            leader: to,
            epoch,
            replicas,
        }
    }

    /// An internal partition left without a leader: its coordinator shard is unloaded.
    fn unload_coordinator(&self, p: &Partition) {
        if p.topic == OFFSETS_TOPIC {
            self.groups.runtime().unload(p.index);
        } else if p.topic == TRANSACTION_STATE_TOPIC {
            self.txns.runtime().unload(p.index);
        }
    }

    /// Keeps the changed topics' leader epochs and replica sets on disk (one write per
    /// topic), so a restart never goes back to an epoch clients have already seen.
    fn save(&self, changes: &[LeaderChange]) {
        let mut done: Vec<&str> = Vec::new();
        for c in changes {
            if done.contains(&c.topic.as_str()) {
                continue;
            }
            done.push(&c.topic);
            if let Err(e) = self.topics.save_leadership(&c.topic) {
                tracing::error!(topic = %c.topic, error = %e, "cannot persist leader epochs");
            }
        }
    }

    /// After an internal partition's leader moved: its coordinator shard is unloaded and
    /// loaded again (parked requests answer NOT_COORDINATOR; the state comes back from the log).
    fn leadership_moved(&self, p: &Partition) {
        let reload = |name: &str, result: Result<usize, crate::topics::TopicError>| match result {
            Ok(n) => tracing::info!(
                coordinator = name,
                shard = p.index,
                records = n,
                "coordinator moved: shard reloaded"
            ),
            Err(e) => {
                tracing::error!(coordinator = name, shard = p.index, error = %e, "coordinator moved: shard reload failed")
            }
        };
        if p.topic == OFFSETS_TOPIC {
            let rt = self.groups.runtime();
            rt.unload(p.index);
            reload("groups", rt.load(p.index));
        } else if p.topic == TRANSACTION_STATE_TOPIC {
            let rt = self.txns.runtime();
            rt.unload(p.index);
            reload("transactions", rt.load(p.index));
        }
    }

    /// Moves every partition's leader (internal topics' too, so coordinators move) to a broker
    /// chosen from the live ones by a generator seeded with `seed`, never the current leader
    /// when another is up. Returns the changes.
    pub fn shuffle_leaders(&self, seed: u64) -> Vec<LeaderChange> {
        let _one = self.topology_lock();
        let live = self.live_ids();
        let mut state = seed | 1;
        let mut out = Vec::new();
        for t in self.topics.all() {
            for p in t.partitions() {
                let current = p.leader();
                let choices: Vec<i32> = live.iter().copied().filter(|&b| b != current).collect();
                if choices.is_empty() {
                    continue;
                }
                let to = choices[(next(&mut state) % choices.len() as u64) as usize];
                out.push(self.set_leader(&p, to));
            }
        }
        self.save(&out);
        tracing::info!(moved = out.len(), seed, "shuffled partition leaders");
        out
    }

    /// Makes the node coordinating group `group_id` be `to`: moves the leader of its
    /// `__consumer_offsets` partition (creating the topic if needed).
    pub fn move_group_coordinator(
        &self,
        group_id: &str,
        to: i32,
    ) -> Result<LeaderChange, TopologyError> {
        self.move_coordinator(OFFSETS_TOPIC, self.groups.shard_of(group_id), to)
    }

    /// Makes the node coordinating `transactional_id` be `to`.
    pub fn move_txn_coordinator(
        &self,
        transactional_id: &str,
        to: i32,
    ) -> Result<LeaderChange, TopologyError> {
        self.move_coordinator(
            TRANSACTION_STATE_TOPIC,
            self.txns.shard_of(transactional_id),
            to,
        )
    }

    /// Moves the leader of `shard` of internal topic `name` (creating it if needed) to `to`.
    fn move_coordinator(
        &self,
        name: &str,
        shard: i32,
        to: i32,
    ) -> Result<LeaderChange, TopologyError> {
        let _one = self.topology_lock();
        self.check_broker(to)?;
        let p = self.internal_partition(name, shard)?;
        Ok(self.lead_and_save(&p, to))
    }

    /// An internal topic's partition, creating the topic as its coordinator would.
    fn internal_partition(&self, name: &str, shard: i32) -> Result<Arc<Partition>, TopologyError> {
        if self.topics.get(name).is_none() {
            self.ensure_internal_topic(name);
        }
        self.partition_of(name, shard)
    }

    /// Kafka's preferred leader election for one partition: the first replica leads again if
    /// it is up and does not already.
    pub fn elect_preferred(&self, topic: &str, partition: i32) -> Result<Election, TopologyError> {
        let _one = self.topology_lock();
        let p = self.partition_of(topic, partition)?;
        let Some(&preferred) = p.replicas().first() else {
            return Ok(Election::PreferredUnavailable);
        };
        if p.leader() == preferred {
            return Ok(Election::NotNeeded);
        }
        if self.is_down(preferred) {
            return Ok(Election::PreferredUnavailable);
        }
        Ok(Election::Elected(self.lead_and_save(&p, preferred)))
    }

    /// A reassignment, complete at once (the data is kept once): `replicas` becomes the
    /// partition's replica set, and its first live broker leads if the leader is not in it.
    pub fn reassign(
        &self,
        topic: &str,
        partition: i32,
        replicas: Vec<i32>,
    ) -> Result<LeaderChange, TopologyError> {
        let _one = self.topology_lock();
        let p = self.partition_of(topic, partition)?;
        for &b in &replicas {
            self.check_known(b)?;
        }
        p.set_replicas(replicas.clone());
        let leader = p.leader();
        if !replicas.contains(&leader) {
            match replicas.iter().find(|&&b| !self.is_down(b)) {
                Some(&to) => return Ok(self.lead_and_save(&p, to)),
                None => {
                    // Every target broker is down: no leader until one is up.
                    p.move_leader(-1);
                    self.unload_coordinator(&p);
                }
            }
        }
        self.save(&[LeaderChange {
            topic: topic.to_string(),
            partition,
            from: leader,
            leader: p.leader(),
            epoch: p.leader_epoch(),
            replicas: replicas.clone(),
        }]);
        let (leader, epoch) = p.leadership_now();
        tracing::info!(topic, partition, ?replicas, "reassigned partition");
        Ok(LeaderChange {
            topic: topic.to_string(),
            partition,
            from: leader,
            leader,
            epoch,
            replicas,
        })
    }

    /// Takes broker `id` down: its connections close, it refuses requests, Metadata leaves
    /// it out, and the partitions it led move to another live replica (or have no leader).
    pub fn broker_down(&self, id: i32) -> Result<Vec<LeaderChange>, TopologyError> {
        let _one = self.topology_lock();
        self.check_broker(id)?;
        let live = self.live_ids();
        if live.len() <= 1 {
            return Err(TopologyError::LastBroker(id));
        }
        self.set_down(id, true);
        self.topics.set_brokers(self.live_ids());
        let mut out = Vec::new();
        for t in self.topics.all() {
            for p in t.partitions() {
                if p.leader() != id {
                    continue;
                }
                let next = p
                    .replicas()
                    .into_iter()
                    .find(|&r| r != id && !self.is_down(r));
                match next {
                    Some(to) => out.push(self.set_leader(&p, to)),
                    None => {
                        // Its only replica is down: no leader until it is back (and no
                        // coordinator: its shard is unloaded until then).
                        let epoch = p.move_leader(-1);
                        self.unload_coordinator(&p);
                        out.push(LeaderChange {
                            topic: p.topic.clone(),
                            partition: p.index,
                            from: id,
                            leader: -1,
                            epoch,
                            replicas: p.replicas(),
                        });
                    }
                }
            }
        }
        self.save(&out);
        tracing::warn!(broker = id, moved = out.len(), "broker down");
        Ok(out)
    }

    /// Brings broker `id` back: it serves again, and partitions left without a leader whose
    /// replicas include it are led by it again.
    pub fn broker_up(&self, id: i32) -> Result<Vec<LeaderChange>, TopologyError> {
        let _one = self.topology_lock();
        self.check_known(id)?;
        self.set_down(id, false);
        self.topics.set_brokers(self.live_ids());
        let mut out = Vec::new();
        for t in self.topics.all() {
            for p in t.partitions() {
                if p.leader() == -1 && p.replicas().contains(&id) {
                    out.push(self.set_leader(&p, id));
                }
            }
        }
        self.save(&out);
        tracing::warn!(broker = id, led_again = out.len(), "broker up");
        Ok(out)
    }
}
