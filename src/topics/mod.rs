//! The topic registry: names, topic ids, partition counts and topic configs, persisted in the
//! data directory, plus each partition's shared state (leader, leader epoch, and its log behind
//! its own lock).
//!
//! On disk (all under the data directory):
//! - `meta.properties`: `cluster.id`, `node.id`, `version` (as Kafka's), written once.
//! - `__gregor_metadata/topics/<topic>.properties`: `topic.id`, `partitions`, `internal`,
//!   `replication.factor`, `replicas.<partition>` (its replica set, preferred leader first; see
//!   `placement`), and `config.<key>` for each topic-level override. Written atomically (temp file, fsync,
//!   rename); the file is the commit point of a create or delete.
//! - `<topic>-<partition>/`: the partition's log directory ([`crate::log`]).
//! - `.clean-shutdown`: present only after a clean stop; its absence at start means the logs
//!   are recovered (scanned) before use.
//!
//! The log cleaner's threads ([`cleaner::LogCleaner`]) compact the logs of compacted topics.
//!
//! Locking: the topic map is behind one `RwLock` taken briefly for lookups; creates and deletes
//! are serialised by a separate mutex so the slow part (creating directories) does not block
//! lookups. Each partition's log has its own mutex; nothing here holds two of them.

mod broker_configs;
pub mod cleaner;
mod naming;
mod parallel;
mod partition;
mod placement;
mod spec;

use spec::{read_spec, TopicSpec};

use parallel::parallel_map;
use partition::pack_leadership;
pub use partition::{Partition, Topic};

pub use naming::{validate_topic_name, TopicNameError};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use indexmap::IndexMap;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use crate::config::{topic_config_def, Config, ConfigSource, TOPIC_CONFIGS};
use crate::log::{LogConfig, LogDir, LogError, PartitionLog};
use crate::properties::{self, Properties};
use crate::record::validate::ProduceRules;

/// Errors of topic-level operations, each with the Kafka error code a client gets.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The name breaks Kafka's rules.
    #[error(transparent)]
    InvalidName(#[from] TopicNameError),
    /// No such topic.
    #[error("unknown topic {0}")]
    Unknown(String),
    /// No such topic id.
    #[error("unknown topic id {0}")]
    UnknownId(Uuid),
    /// Create of a name that exists.
    #[error("Topic '{0}' already exists.")]
    AlreadyExists(String),
    /// A partition count below 1 or above the limit.
    #[error("invalid partition count {0}")]
    InvalidPartitions(i32),
    /// A replication factor below 1 or above the brokers there are (Kafka's words).
    #[error("Unable to replicate the partition {asked} time(s): The target replication factor of {asked} cannot be reached because only {brokers} broker(s) are registered.")]
    InvalidReplicationFactor {
        /// The factor asked for.
        asked: i32,
        /// Brokers available.
        brokers: usize,
    },
    /// An explicit replica assignment Kafka would refuse.
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    /// A request Kafka refuses as a whole (INVALID_REQUEST), with Kafka's words.
    #[error("{0}")]
    InvalidRequest(String),
    /// An unknown config key or bad value.
    #[error("{0}")]
    InvalidConfig(String),
    /// Internal topics cannot be deleted or altered by clients.
    #[error("topic {0} is internal")]
    Internal(String),
    /// A dynamic broker config update Kafka would refuse (a key fixed at start, a bad value).
    #[error("{0}")]
    InvalidBrokerConfig(String),
    /// Reading or writing the data directory failed.
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
    /// The partition log failed.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl TopicError {
    /// The Kafka error code for this error.
    pub fn code(&self) -> ResponseError {
        match self {
            TopicError::InvalidName(_) => ResponseError::InvalidTopicException,
            TopicError::Unknown(_) => ResponseError::UnknownTopicOrPartition,
            TopicError::UnknownId(_) => ResponseError::UnknownTopicId,
            TopicError::AlreadyExists(_) => ResponseError::TopicAlreadyExists,
            TopicError::InvalidPartitions(_) => ResponseError::InvalidPartitions,
            TopicError::InvalidReplicationFactor { .. } => ResponseError::InvalidReplicationFactor,
            TopicError::InvalidReplicaAssignment(_) => ResponseError::InvalidReplicaAssignment,
            TopicError::InvalidRequest(_) => ResponseError::InvalidRequest,
            TopicError::InvalidConfig(_) => ResponseError::InvalidConfig,
            TopicError::Internal(_) => ResponseError::TopicAuthorizationFailed,
            TopicError::InvalidBrokerConfig(_) => ResponseError::InvalidRequest,
            TopicError::Io(_) => ResponseError::KafkaStorageError,
            TopicError::Log(e) => e.code(),
        }
    }
}

/// Upper bound on partitions per topic: far beyond local use, low enough that a typo cannot
/// make the broker create a million directories.
pub const MAX_PARTITIONS: i32 = 10_000;

/// An effective config value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveConfig {
    /// Topic-level key.
    pub name: &'static str,
    /// Value in force.
    pub value: String,
    /// Where it came from.
    pub source: ConfigSource,
}

/// All topics of this broker.
#[derive(Debug)]
pub struct TopicRegistry {
    /// Broker configuration (defaults for topic configs, data directory).
    config: Arc<Config>,
    /// `__gregor_metadata/topics`.
    meta_dir: PathBuf,
    /// Topics by name, in creation order.
    topics: RwLock<IndexMap<String, Arc<Topic>>>,
    /// Serialises create/delete/alter so two admin calls cannot interleave their file writes.
    admin: Mutex<()>,
    /// Whether logs are opened with a recovery scan (the previous stop was not clean).
    recover: bool,
    /// The one log directory (the data directory): its file system and online state.
    log_dir: Arc<LogDir>,
    /// What the log cleaner has done so far (see [`cleaner`]).
    pub(crate) cleaner_stats: cleaner::CleanerStats,
    /// The live brokers new partitions are placed on, in id order (the cluster keeps it up to
    /// date as virtual brokers go down and up).
    brokers: RwLock<Vec<i32>>,
}

/// The effective value of a topic config: the override, else the broker default.
fn effective(config: &Config, overrides: &BTreeMap<String, String>, name: &str) -> String {
    overrides
        .get(name)
        .cloned()
        .unwrap_or_else(|| match topic_config_def(name) {
            Some(def) => config.topic_default(def).0,
            None => String::new(),
        })
}

/// Resolves the produce validation rules from a topic's overrides and the broker defaults.
pub fn produce_rules(config: &Config, overrides: &BTreeMap<String, String>) -> ProduceRules {
    let get = |name: &str| effective(config, overrides, name);
    let d = ProduceRules::default();
    ProduceRules {
        max_batch_bytes: get("max.message.bytes")
            .trim()
            .parse()
            .unwrap_or(d.max_batch_bytes),
        compacted: get("cleanup.policy")
            .split(',')
            .any(|p| p.trim() == "compact"),
        log_append_time: get("message.timestamp.type") == "LogAppendTime",
        timestamp_before_max_ms: get("message.timestamp.before.max.ms")
            .trim()
            .parse()
            .unwrap_or(d.timestamp_before_max_ms),
        timestamp_after_max_ms: get("message.timestamp.after.max.ms")
            .trim()
            .parse()
            .unwrap_or(d.timestamp_after_max_ms),
        max_uncompressed_bytes: get("max.decompressed.message.bytes")
            .trim()
            .parse()
            .unwrap_or(d.max_uncompressed_bytes),
    }
}

/// Resolves a topic's effective log config from its overrides and the broker defaults.
pub fn log_config(config: &Config, overrides: &BTreeMap<String, String>) -> LogConfig {
    let get = |name: &str| effective(config, overrides, name);
    let num = |name: &str| -> i64 { get(name).trim().parse().unwrap_or(-1) };
    // Time and size retention only apply with cleanup.policy=delete (Kafka never deletes a
    // compacted topic's data by age, which is what keeps __consumer_offsets' commits).
    let deletes = get("cleanup.policy")
        .split(',')
        .any(|p| p.trim() == "delete");
    LogConfig {
        segment_bytes: num("segment.bytes").max(14) as u64,
        segment_ms: num("segment.ms"),
        retention_ms: if deletes { num("retention.ms") } else { -1 },
        retention_bytes: if deletes { num("retention.bytes") } else { -1 },
        index_interval_bytes: num("index.interval.bytes").max(0) as u32,
        flush_messages: num("flush.messages").max(1) as u64,
        flush_ms: num("flush.ms"),
        message_timestamp_log_append: get("message.timestamp.type") == "LogAppendTime",
        compact: get("cleanup.policy")
            .split(',')
            .any(|p| p.trim() == "compact"),
        delete_retention_ms: num("delete.retention.ms").max(0),
        min_cleanable_ratio: get("min.cleanable.dirty.ratio")
            .trim()
            .parse()
            .unwrap_or(0.5),
        min_compaction_lag_ms: num("min.compaction.lag.ms").max(0),
        max_compaction_lag_ms: num("max.compaction.lag.ms"),
    }
}

impl TopicRegistry {
    /// Loads every topic from the data directory, opening (and if `recover`, scanning) logs.
    pub fn open(
        config: Arc<Config>,
        log_dir: Arc<LogDir>,
        recover: bool,
    ) -> Result<TopicRegistry, TopicError> {
        let meta_dir = config.data_dir.join("__gregor_metadata").join("topics");
        std::fs::create_dir_all(&meta_dir)?;
        remove_deleted_dirs(&config.data_dir);
        broker_configs::load(&config)?;
        let reg = TopicRegistry {
            config: config.clone(),
            meta_dir,
            topics: RwLock::new(IndexMap::new()),
            admin: Mutex::new(()),
            recover,
            brokers: RwLock::new(
                (0..config.brokers.max(1))
                    .map(|i| config.node_id + i)
                    .collect(),
            ),
            log_dir,
            cleaner_stats: cleaner::CleanerStats::default(),
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&reg.meta_dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "properties"))
            .collect();
        entries.sort();
        let specs: Vec<TopicSpec> = entries
            .iter()
            .filter_map(|path| match read_spec(path) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "skipping topic");
                    None
                }
            })
            .collect();
        // Every partition of every topic, opened (and after a crash recovered) in parallel:
        // with thousands of partitions the start is fsync-bound, not CPU-bound.
        let jobs: Vec<(usize, i32)> = specs
            .iter()
            .enumerate()
            .flat_map(|(t, s)| (0..s.count).map(move |p| (t, p)))
            .collect();
        let configs: Vec<LogConfig> = specs
            .iter()
            .map(|s| log_config(&reg.config, &s.overrides))
            .collect();
        let mut opened = parallel_map(&jobs, reg.io_threads(), |&(t, p)| {
            let replicas = reg.stored_or_placed(&specs[t], p);
            let epoch = specs[t].epochs.get(&p).copied().unwrap_or(0);
            reg.open_partition(&specs[t].name, p, configs[t].clone(), replicas, Some(epoch))
        })
        .into_iter();
        for spec in specs {
            let parts: Result<Vec<Arc<Partition>>, TopicError> = opened
                .by_ref()
                .take(spec.count as usize)
                .map(|r| r.map(Arc::new))
                .collect();
            match parts {
                Ok(parts) => {
                    let t = reg.assemble(spec, parts);
                    reg.write_topics().insert(t.name.clone(), t);
                }
                Err(e) => tracing::error!(topic = %spec.name, error = %e, "skipping topic"),
            }
        }
        Ok(reg)
    }

    /// `num.recovery.threads.per.data.dir`: threads opening logs at start and flushing them at
    /// shutdown.
    fn io_threads(&self) -> usize {
        self.config.recovery_threads
    }

    /// Opens partitions `range` of `topic` in parallel, with replica sets from `assignment`
    /// (by position in the range) or else placed by [`Self::placement`].
    fn open_partitions(
        &self,
        topic: &str,
        range: std::ops::Range<i32>,
        lc: &LogConfig,
        replication_factor: i32,
        assignment: Option<&[Vec<i32>]>,
    ) -> Result<Vec<Arc<Partition>>, TopicError> {
        let start = range.start;
        let indexes: Vec<i32> = range.collect();
        parallel_map(&indexes, self.io_threads(), |&i| {
            let replicas = assignment
                .and_then(|a| a.get((i - start) as usize).cloned())
                .unwrap_or_else(|| self.placement(topic, i, replication_factor));
            self.open_partition(topic, i, lc.clone(), replicas, None)
                .map(Arc::new)
        })
        .into_iter()
        .collect()
    }
}

impl TopicRegistry {
    fn build_topic(
        &self,
        spec: TopicSpec,
        assignment: Option<&[Vec<i32>]>,
    ) -> Result<Arc<Topic>, TopicError> {
        let lc = log_config(&self.config, &spec.overrides);
        let parts = self.open_partitions(
            &spec.name,
            0..spec.count,
            &lc,
            spec.replication_factor,
            assignment,
        )?;
        Ok(self.assemble(spec, parts))
    }

    fn assemble(&self, spec: TopicSpec, parts: Vec<Arc<Partition>>) -> Arc<Topic> {
        let TopicSpec {
            name,
            id,
            internal,
            overrides,
            replication_factor,
            ..
        } = spec;
        Arc::new(Topic {
            name,
            id,
            internal,
            replication_factor,
            produce_rules: RwLock::new(produce_rules(&self.config, &overrides)),
            configs: RwLock::new(overrides),
            partitions: RwLock::new(parts),
            traffic: Default::default(),
        })
    }

    fn open_partition(
        &self,
        topic: &str,
        index: i32,
        lc: LogConfig,
        replicas: Vec<i32>,
        reopened_at: Option<i32>,
    ) -> Result<Partition, TopicError> {
        let dir = self.log_dir.path().join(format!("{topic}-{index}"));
        let log = PartitionLog::open_in(&self.log_dir, &dir, lc, self.recover)?;
        // Epochs never go back. A partition opened at start is led again, by its preferred
        // replica, so at the epoch after the newest its log has seen or a leader move recorded
        // (as Kafka's controller bumps it when a restarted broker leads again).
        let seen = log.latest_epoch().unwrap_or(0).max(0);
        let epoch = match reopened_at {
            Some(stored) => seen.max(stored).saturating_add(1),
            None => seen,
        };
        // The first replica on a live broker leads; none (all down): no leader.
        let live = self.brokers();
        let leader = replicas
            .iter()
            .copied()
            .find(|b| live.contains(b))
            .unwrap_or(if live.is_empty() {
                self.config.node_id
            } else {
                -1
            });
        Ok(Partition {
            topic: topic.to_string(),
            index,
            leadership: AtomicU64::new(pack_leadership(leader, epoch)),
            replicas: RwLock::new(replicas),
            log: Mutex::new(log),
            log_dir: Arc::clone(&self.log_dir),
        })
    }

    fn write_topics(&self) -> std::sync::RwLockWriteGuard<'_, IndexMap<String, Arc<Topic>>> {
        self.topics.write().unwrap_or_else(|p| p.into_inner())
    }

    fn admin_lock(&self) -> MutexGuard<'_, ()> {
        self.admin.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The broker configuration.
    pub fn broker_config(&self) -> &Config {
        &self.config
    }

    /// A topic by name.
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// A topic by id.
    pub fn get_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|t| t.id == id)
            .cloned()
    }

    /// All topics, in creation order.
    pub fn all(&self) -> Vec<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Validates a create without doing it: name, count, replication factor, configs.
    pub fn validate_create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<i32, TopicError> {
        validate_topic_name(name)?;
        let count = if partitions == -1 {
            self.config.num_partitions
        } else {
            partitions
        };
        if !(1..=MAX_PARTITIONS).contains(&count) {
            return Err(TopicError::InvalidPartitions(partitions));
        }
        let brokers = self.brokers().len();
        let rf = self.resolve_replication_factor(replication_factor);
        if rf < 1 || rf as usize > brokers {
            return Err(TopicError::InvalidReplicationFactor { asked: rf, brokers });
        }
        for (k, v) in configs {
            validate_config(k, v)?;
        }
        if self.get(name).is_some() {
            return Err(TopicError::AlreadyExists(name.to_string()));
        }
        Ok(count)
    }

    /// A replication factor as asked, `default.replication.factor` for -1.
    pub fn resolve_replication_factor(&self, asked: i32) -> i32 {
        if asked == -1 {
            self.config.default_replication_factor
        } else {
            asked
        }
    }

    /// Creates a topic (`partitions == -1` means the broker default).
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        self.create_inner(name, partitions, replication_factor, configs, false, None)
    }

    /// Creates a topic with an explicit replica assignment, one list per partition.
    pub fn create_assigned(
        &self,
        name: &str,
        assignment: &[Vec<i32>],
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        let rf = self.validate_assignment(assignment)?;
        self.create_inner(
            name,
            assignment.len() as i32,
            rf,
            configs,
            false,
            Some(assignment),
        )
    }

    /// Creates an internal topic (e.g. `__consumer_offsets`) if it is missing.
    pub fn ensure_internal(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        // Kafka's offsets.topic.replication.factor is 3; with fewer brokers, as many as there are.
        let rf = (self.brokers().len() as i32).clamp(1, 3);
        match self.create_inner(name, partitions, rf, configs, true, None) {
            Err(TopicError::AlreadyExists(_)) => self
                .get(name)
                .ok_or_else(|| TopicError::Unknown(name.to_string())),
            other => other,
        }
    }

    fn create_inner(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
        configs: BTreeMap<String, String>,
        internal: bool,
        assignment: Option<&[Vec<i32>]>,
    ) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin_lock();
        // An explicit assignment was checked against the brokers that exist (some may be
        // down); a factor alone must fit the live ones.
        let checked_factor = if assignment.is_some() {
            -1
        } else {
            replication_factor
        };
        let count = self.validate_create(name, partitions, checked_factor, &configs)?;
        let id = Uuid::new_v4();
        let spec = TopicSpec {
            name: name.to_string(),
            id,
            internal,
            count,
            replication_factor: self.resolve_replication_factor(replication_factor),
            replicas: BTreeMap::new(),
            epochs: BTreeMap::new(),
            overrides: configs,
        };
        let topic = self.build_topic(spec, assignment)?;
        self.persist(&topic)?;
        self.write_topics().insert(name.to_string(), topic.clone());
        tracing::info!(topic = name, partitions = count, %id, "created topic");
        Ok(topic)
    }

    /// Creates a topic on first use when auto-creation is on (Metadata, Produce).
    pub fn auto_create(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        match self.create(name, -1, -1, BTreeMap::new()) {
            Err(TopicError::AlreadyExists(_)) => self
                .get(name)
                .ok_or_else(|| TopicError::Unknown(name.to_string())),
            other => other,
        }
    }

    fn persist(&self, topic: &Topic) -> Result<(), TopicError> {
        let mut p = Properties::new();
        p.insert("topic.id".into(), topic.id.to_string());
        p.insert("partitions".into(), topic.partition_count().to_string());
        p.insert("internal".into(), topic.internal.to_string());
        p.insert(
            "replication.factor".into(),
            topic.replication_factor.to_string(),
        );
        for part in topic.partitions() {
            let ids: Vec<String> = part.replicas().iter().map(i32::to_string).collect();
            p.insert(format!("replicas.{}", part.index), ids.join(","));
            if part.leader_epoch() > 0 {
                p.insert(
                    format!("leader.epoch.{}", part.index),
                    part.leader_epoch().to_string(),
                );
            }
        }
        for (k, v) in topic.overrides() {
            p.insert(format!("config.{k}"), v);
        }
        properties::write_atomic(
            &self.meta_dir.join(format!("{}.properties", topic.name)),
            &p,
        )?;
        Ok(())
    }

    /// Writes a topic's replica sets and leader epochs after a leadership change (the
    /// metadata file is the one place they are kept).
    pub fn save_leadership(&self, name: &str) -> Result<(), TopicError> {
        let _admin = self.admin_lock();
        match self.get(name) {
            Some(t) => self.persist(&t),
            // Deleted meanwhile: nothing to keep.
            None => Ok(()),
        }
    }

    /// Deletes a topic and its data. Internal topics cannot be deleted.
    pub fn delete(&self, name: &str) -> Result<Uuid, TopicError> {
        let _admin = self.admin_lock();
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        if topic.internal {
            return Err(TopicError::Internal(name.to_string()));
        }
        std::fs::remove_file(self.meta_dir.join(format!("{name}.properties")))?;
        self.write_topics().shift_remove(name);
        for p in topic.partitions() {
            // Requests that looked the topic up just before now get UNKNOWN_TOPIC_OR_PARTITION
            // rather than an I/O error from the vanished directory.
            p.log().mark_deleted();
            let dir = self
                .config
                .data_dir
                .join(format!("{}-{}", p.topic, p.index));
            let doomed = self.config.data_dir.join(format!(
                "{}-{}.{}-delete",
                p.topic,
                p.index,
                Uuid::new_v4().simple()
            ));
            if let Err(e) =
                std::fs::rename(&dir, &doomed).and_then(|_| std::fs::remove_dir_all(&doomed))
            {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove partition directory");
            }
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    /// Grows a topic to `count` partitions (never shrinks, as Kafka).
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _admin = self.admin_lock();
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        let current = topic.partition_count();
        if count <= current || count > MAX_PARTITIONS {
            return Err(TopicError::InvalidPartitions(count));
        }
        if validate_only {
            return Ok(());
        }
        let lc = log_config(&self.config, &topic.overrides());
        let new =
            self.open_partitions(name, current..count, &lc, topic.replication_factor, None)?;
        topic
            .partitions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(new);
        self.persist(&topic)?;
        tracing::info!(topic = name, from = current, to = count, "added partitions");
        Ok(())
    }

    /// Replaces a topic's overrides with `f(old)`, validating every key, and applies the new
    /// log config to its partitions.
    pub fn alter_configs(
        &self,
        name: &str,
        validate_only: bool,
        f: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), TopicError> {
        let _admin = self.admin_lock();
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        let mut next = topic.overrides();
        f(&mut next);
        for (k, v) in &next {
            validate_config(k, v)?;
        }
        if validate_only {
            return Ok(());
        }
        *topic.configs.write().unwrap_or_else(|p| p.into_inner()) = next;
        self.persist(&topic)?;
        self.apply_configs(&topic);
        Ok(())
    }

    /// Recomputes a topic's produce rules and its partitions' log config from its overrides and
    /// the broker defaults in force (after either changed).
    fn apply_configs(&self, topic: &Topic) {
        let overrides = topic.overrides();
        *topic
            .produce_rules
            .write()
            .unwrap_or_else(|p| p.into_inner()) = produce_rules(&self.config, &overrides);
        let lc = log_config(&self.config, &overrides);
        for p in topic.partitions() {
            p.log().set_config(lc.clone());
        }
    }

    /// Every topic config with its effective value and source.
    pub fn effective_configs(&self, topic: &Topic) -> Vec<EffectiveConfig> {
        self.effective_configs_for(&topic.overrides())
    }

    /// Every topic config with its effective value and source, for a topic with `overrides`
    /// (CreateTopics with `validate_only` describes the topic it would create).
    pub fn effective_configs_for(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> Vec<EffectiveConfig> {
        TOPIC_CONFIGS
            .iter()
            .map(|d| match overrides.get(d.name) {
                Some(v) => EffectiveConfig {
                    name: d.name,
                    value: v.clone(),
                    source: ConfigSource::DynamicTopic,
                },
                None => {
                    let (value, source) = self.config.topic_default(d);
                    EffectiveConfig {
                        name: d.name,
                        value,
                        source,
                    }
                }
            })
            .collect()
    }

    /// The log directory.
    pub fn log_dir(&self) -> &Arc<LogDir> {
        &self.log_dir
    }

    /// What the log cleaner has done since the start.
    pub fn cleaner_stats(&self) -> &cleaner::CleanerStats {
        &self.cleaner_stats
    }

    /// Flushes every log; called on clean shutdown before the marker is written. Returns
    /// whether everything was flushed (false if the log directory is offline or went offline:
    /// then the marker must not be written, so the next start recovers).
    pub fn flush_all(&self) -> bool {
        if self.log_dir.is_offline() {
            tracing::error!(dir = %self.log_dir.path().display(), "log directory is offline: not flushing; the next start recovers the logs");
            return false;
        }
        // In parallel: a clean stop of thousands of written-to partitions is thousands of
        // fsyncs, bound by the disk's latency rather than its bandwidth.
        let partitions: Vec<Arc<Partition>> =
            self.all().iter().flat_map(|t| t.partitions()).collect();
        parallel_map(&partitions, self.io_threads(), |p| {
            if let Err(e) = p.log().close() {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "flush failed");
            }
        });
        !self.log_dir.is_offline()
    }
}

/// Checks one topic-level config key and value.
pub fn validate_config(key: &str, value: &str) -> Result<(), TopicError> {
    let def = topic_config_def(key)
        .ok_or_else(|| TopicError::InvalidConfig(format!("Unknown topic config name: {key}")))?;
    def.validate(value).map_err(|r| {
        TopicError::InvalidConfig(format!(
            "Invalid value {value} for configuration {key}: {r}"
        ))
    })
}

/// Removes partition directories left behind by a delete that was interrupted.
fn remove_deleted_dirs(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().ends_with("-delete") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
