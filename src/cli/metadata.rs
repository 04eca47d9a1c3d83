//! The cluster as the commands see it: Metadata (brokers, topics, partition leaders), group
//! coordinators (FindCoordinator), and ListOffsets from each partition's leader.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::client::{retry, Client, Error, To, BROKER_TIMEOUT_MS};

/// A broker as Metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub id: i32,
    /// `host:port`.
    pub addr: String,
    /// Rack, if set.
    pub rack: Option<String>,
}

/// One partition as Metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Index.
    pub partition: i32,
    /// Leader node id, -1 if none.
    pub leader: i32,
    /// Leader epoch, -1 if not sent.
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// A partition-level error (LEADER_NOT_AVAILABLE, ...).
    pub error: Option<ResponseError>,
}

/// One topic as Metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Name.
    pub name: String,
    /// Topic id (nil before Metadata v10).
    pub id: Uuid,
    /// `__consumer_offsets` and the like.
    pub internal: bool,
    /// A topic-level error (UNKNOWN_TOPIC_OR_PARTITION, ...).
    pub error: Option<ResponseError>,
    /// Partitions, by index.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// The partition with this index.
    pub fn partition(&self, p: i32) -> Option<&PartitionInfo> {
        self.partitions.iter().find(|x| x.partition == p)
    }
}

/// A Metadata answer.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// The cluster id.
    pub cluster_id: Option<String>,
    /// The controller's node id.
    pub controller: i32,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics, sorted by name.
    pub topics: Vec<TopicInfo>,
}

impl Metadata {
    /// The topic with this name.
    pub fn topic(&self, name: &str) -> Option<&TopicInfo> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// The topic, or its error (UNKNOWN_TOPIC_OR_PARTITION when absent).
    pub fn require(&self, name: &str) -> Result<&TopicInfo, Error> {
        let missing = || Error::Kafka {
            error: ResponseError::UnknownTopicOrPartition,
            message: Some(format!("Topic '{name}' does not exist.")),
            what: format!("topic '{name}'"),
        };
        let t = self.topic(name).ok_or_else(missing)?;
        match t.error {
            Some(ResponseError::UnknownTopicOrPartition) => Err(missing()),
            Some(error) => Err(Error::Kafka {
                error,
                message: None,
                what: format!("metadata of topic '{name}'"),
            }),
            None => Ok(t),
        }
    }

    /// The leader of a partition, an error if it has none (yet).
    pub fn leader(&self, topic: &str, partition: i32) -> Result<i32, Error> {
        let t = self.require(topic)?;
        let p = t.partition(partition).ok_or_else(|| {
            Error::Usage(format!(
                "topic '{topic}' has no partition {partition} (it has {})",
                t.partitions.len()
            ))
        })?;
        if let Some(error) = p.error.filter(|_| p.leader < 0) {
            return Err(Error::Kafka {
                error,
                message: None,
                what: format!("leader of {topic}-{partition}"),
            });
        }
        if p.leader < 0 || !self.brokers.contains_key(&p.leader) {
            return Err(Error::Kafka {
                error: ResponseError::LeaderNotAvailable,
                message: None,
                what: format!("leader of {topic}-{partition}"),
            });
        }
        Ok(p.leader)
    }
}

impl Client {
    /// Metadata for these topics (`None`: every topic), without creating any; the brokers'
    /// addresses are remembered.
    pub fn metadata(&mut self, topics: Option<&[String]>) -> Result<Metadata, Error> {
        let (v, resp) = self.call(To::Any, |_| {
            MetadataRequest::default()
                .with_topics(topics.map(|ts| {
                    ts.iter()
                        .map(|t| {
                            MetadataRequestTopic::default()
                                .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                        })
                        .collect()
                }))
                .with_allow_auto_topic_creation(false)
        })?;
        if v >= 13 {
            Error::check(resp.error_code, None, || "Metadata".to_string())?;
        }
        let mut m = Metadata {
            cluster_id: resp.cluster_id.map(|c| c.to_string()),
            controller: resp.controller_id.0,
            ..Metadata::default()
        };
        for b in resp.brokers {
            let addr = format!("{}:{}", b.host.as_str(), b.port);
            self.add_broker(b.node_id.0, addr.clone());
            m.brokers.insert(
                b.node_id.0,
                BrokerInfo {
                    id: b.node_id.0,
                    addr,
                    rack: b.rack.map(|r| r.to_string()),
                },
            );
        }
        for t in resp.topics {
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .into_iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|r| r.0).collect(),
                    isr: p.isr_nodes.iter().map(|r| r.0).collect(),
                    error: ResponseError::try_from_code(p.error_code),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            m.topics.push(TopicInfo {
                name: t.name.map(|n| n.to_string()).unwrap_or_default(),
                id: t.topic_id,
                internal: t.is_internal,
                error: ResponseError::try_from_code(t.error_code),
                partitions,
            });
        }
        m.topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(m)
    }

    /// Metadata for `topics` once each exists and every partition has a live leader: retried
    /// while a leader is being elected, and for half a second while a topic just created is not
    /// known yet (Kafka's brokers learn of it from the controller a moment after CreateTopics
    /// answers).
    pub fn metadata_ready(&mut self, topics: &[String]) -> Result<Metadata, Error> {
        let start = Instant::now();
        retry(|| {
            let m = self.metadata(Some(topics))?;
            for t in topics {
                let info = match m.require(t) {
                    // A retriable stand-in for the first second; after it, the real error.
                    Err(e) if start.elapsed() < Duration::from_millis(500) => {
                        return Err(Error::Kafka {
                            error: ResponseError::LeaderNotAvailable,
                            message: None,
                            what: e.to_string(),
                        })
                    }
                    other => other?,
                };
                for p in &info.partitions {
                    m.leader(t, p.partition)?;
                }
            }
            Ok(m)
        })
    }

    /// The coordinator of `group` (FindCoordinator), retried while it loads.
    pub fn coordinator(&mut self, group: &str) -> Result<i32, Error> {
        retry(|| {
            let (v, resp) = self.call(To::Any, |v| {
                let r = FindCoordinatorRequest::default();
                if v >= 4 {
                    r.with_coordinator_keys(vec![StrBytes::from_string(group.to_string())])
                } else {
                    r.with_key(StrBytes::from_string(group.to_string()))
                }
            })?;
            let what = || format!("coordinator of group '{group}'");
            let (id, host, port) = if v >= 4 {
                let c = resp.coordinators.into_iter().next().ok_or_else(|| {
                    Error::Invalid(format!("FindCoordinator named no {}", what()))
                })?;
                Error::check(c.error_code, c.error_message.as_ref(), what)?;
                (c.node_id.0, c.host, c.port)
            } else {
                Error::check(resp.error_code, resp.error_message.as_ref(), what)?;
                (resp.node_id.0, resp.host, resp.port)
            };
            self.add_broker(id, format!("{}:{port}", host.as_str()));
            Ok(id)
        })
    }

    /// ListOffsets for each partition at `timestamp` (-2 earliest, -1 latest, else the first
    /// offset at or after that time, -1 if none), from each partition's leader; `isolation` 1
    /// gives the last stable offset for latest. Retried (with fresh leaders) while a leader
    /// moves.
    pub fn list_offsets(
        &mut self,
        parts: &[(String, i32)],
        timestamp: i64,
        isolation: i8,
    ) -> Result<BTreeMap<(String, i32), i64>, Error> {
        let mut topics: Vec<String> = parts.iter().map(|(t, _)| t.clone()).collect();
        topics.sort();
        topics.dedup();
        retry(|| {
            let meta = self.metadata_ready(&topics)?;
            let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
            for (t, p) in parts {
                let leader = meta.leader(t, *p)?;
                by_leader
                    .entry(leader)
                    .or_default()
                    .entry(t.as_str())
                    .or_default()
                    .push(*p);
            }
            let mut out = BTreeMap::new();
            for (leader, topics) in by_leader {
                let (_, resp) = self.call(To::Node(leader), |v| {
                    let mut r = ListOffsetsRequest::default()
                        .with_replica_id(BrokerId(-1))
                        .with_topics(
                            topics
                                .iter()
                                .map(|(t, ps)| {
                                    ListOffsetsTopic::default()
                                        .with_name(TopicName(StrBytes::from_string(t.to_string())))
                                        .with_partitions(
                                            ps.iter()
                                                .map(|&p| {
                                                    ListOffsetsPartition::default()
                                                        .with_partition_index(p)
                                                        .with_timestamp(timestamp)
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        );
                    if v >= 2 {
                        r = r.with_isolation_level(isolation);
                    }
                    if v >= 10 {
                        r = r.with_timeout_ms(BROKER_TIMEOUT_MS);
                    }
                    r
                })?;
                for t in resp.topics {
                    for p in t.partitions {
                        let name = t.name.to_string();
                        Error::check(p.error_code, None, || {
                            format!("offsets of {name}-{}", p.partition_index)
                        })?;
                        out.insert((name, p.partition_index), p.offset);
                    }
                }
            }
            for (t, p) in parts {
                if !out.contains_key(&(t.clone(), *p)) {
                    return Err(Error::Invalid(format!("ListOffsets left out {t}-{p}")));
                }
            }
            Ok(out)
        })
    }
}
