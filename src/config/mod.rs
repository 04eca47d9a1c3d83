//! Broker configuration and the table of topic-level configs.
//!
//! Precedence, highest first: a CLI flag, its `GREGOR_*` environment variable, an `--override
//! key=value`, the properties file (`--config`, Kafka's `server.properties` key names), the
//! built-in default from the table in [`broker`] (topic-level keys: [`topic`]). Defaults are
//! Kafka's, except where local development wants otherwise (listen on 127.0.0.1,
//! `group.initial.rebalance.delay.ms=100`), as each entry's doc says. A leaf: it opens no files
//! or sockets other than reading the properties file it is pointed at.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use clap::Parser;

use crate::properties::{self, Properties};

mod broker;
mod dynamic;
mod topic;

pub use broker::{broker_config_def, BrokerConfigDef, BROKER_CONFIGS};
pub use dynamic::{classify as classify_dynamic, DynamicBrokerConfigs, DynamicKey};
pub use topic::{
    topic_config_def, unit_synonym, unit_synonyms, ConfigSource, ConfigType, TopicConfigDef,
    UnitSynonym, TOPIC_CONFIGS,
};

/// Command-line interface of the `gregor` binary.
#[derive(Debug, Parser, Default)]
#[command(
    name = "gregor",
    version,
    about = "A Kafka-wire-protocol-compatible broker for local development and tests"
)]
pub struct Cli {
    /// Address to listen on (Kafka: `listeners`). Default 127.0.0.1:9092.
    #[arg(long, env = "GREGOR_LISTEN", value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Address given to clients in metadata (Kafka: `advertised.listeners`). Default: the
    /// listen address (with the real port when listening on port 0).
    #[arg(long, env = "GREGOR_ADVERTISED", value_name = "HOST:PORT")]
    pub advertised: Option<String>,
    /// Directory holding logs and metadata (Kafka: `log.dirs`). Default ./gregor-data.
    #[arg(long, env = "GREGOR_DATA_DIR", value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
    /// Broker id reported in metadata (Kafka: `node.id`). Default 1.
    #[arg(long, env = "GREGOR_NODE_ID")]
    pub node_id: Option<i32>,
    /// A Kafka server.properties file; its keys are read as Kafka reads them.
    #[arg(long, short = 'c', env = "GREGOR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set any server.properties key, e.g. `-o num.partitions=3` (repeatable).
    #[arg(long = "override", short = 'o', value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Once listening, write the bound `host:port` to this file (atomically), for scripts
    /// and tests that start the broker on port 0. With several brokers: every node's
    /// address, comma-separated (a bootstrap list).
    #[arg(long, value_name = "FILE")]
    pub port_file: Option<PathBuf>,
    /// Virtual brokers in this process (`gregor.brokers`), on consecutive ports. Default 1.
    #[arg(long, env = "GREGOR_BROKERS", value_name = "N")]
    pub brokers: Option<i32>,
    /// The HTTP endpoint with the web console, `/metrics` and what `gregor ctl` talks to
    /// (`gregor.admin.listener`), or `off`. Default 127.0.0.1:8080, loopback only.
    #[arg(
        long,
        visible_alias = "console",
        env = "GREGOR_ADMIN",
        value_name = "HOST:PORT|off"
    )]
    pub admin: Option<String>,
    /// Fault rules to install at start (TOML; see the README's "Testing your application
    /// against failures").
    #[arg(long, env = "GREGOR_FAULTS", value_name = "FILE")]
    pub faults: Option<PathBuf>,
}

/// Everything the broker needs to know at start-up, resolved from [`Cli`]. Each field comes
/// from one key of [`BROKER_CONFIGS`], whose table holds its default.
#[derive(Debug, Clone)]
pub struct Config {
    /// `listeners`: the socket address the broker binds.
    pub listen: SocketAddr,
    /// `advertised.listeners`: `host:port` advertised to clients; `None` means "the bound
    /// address".
    pub advertised: Option<(String, i32)>,
    /// `log.dirs`: root of all on-disk state.
    pub data_dir: PathBuf,
    /// `node.id`: this broker's node id (the first node's, with several virtual brokers).
    pub node_id: i32,
    /// `gregor.brokers`: virtual brokers served by this process (node ids `node_id..`).
    pub brokers: i32,
    /// `default.replication.factor`: replicas of topics created without a factor.
    pub default_replication_factor: i32,
    /// The `gregor.admin.*` keys.
    pub admin: AdminSettings,
    /// `gregor.request.log.size`: requests kept in the request log.
    pub request_log_size: usize,
    /// `--faults`: a TOML file of fault rules installed at start.
    pub faults_file: Option<PathBuf>,
    /// `num.partitions`: partitions for auto-created topics and CreateTopics without a count.
    pub num_partitions: i32,
    /// `auto.create.topics.enable`: whether Metadata and Produce may create unknown topics.
    pub auto_create_topics: bool,
    /// `socket.request.max.bytes`: largest frame accepted; checked before allocating (Kafka's
    /// NetworkReceive).
    pub socket_request_max_bytes: usize,
    /// `max.connections`: bound on concurrently open client connections.
    pub max_connections: usize,
    /// `connections.max.idle.ms`: idle connections are closed after this long.
    pub connections_max_idle_ms: u64,
    /// `queued.max.request.bytes`: budget of request bytes buffered across all connections.
    pub queued_max_request_bytes: usize,
    /// `num.recovery.threads.per.data.dir`: threads that open (and after a crash recover) the
    /// logs at start and flush them at shutdown.
    pub recovery_threads: usize,
    /// `log.retention.check.interval.ms`: how often retention, `flush.ms` and producer expiry
    /// run.
    pub log_retention_check_interval_ms: i64,
    /// `producer.id.expiration.ms`: idle producer ids are forgotten after this long.
    pub producer_id_expiration_ms: i64,
    /// The `group.*`, `offsets.retention.*` and `offset.metadata.max.bytes` keys.
    pub group: GroupConfig,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`.
    pub offsets_topic_partitions: i32,
    /// `offsets.topic.segment.bytes`: `segment.bytes` of `__consumer_offsets` when created.
    pub offsets_topic_segment_bytes: i32,
    /// The `transaction.*` and `transactional.id.*` keys.
    pub txn: TxnConfig,
    /// The `log.cleaner.*` keys.
    pub cleaner: CleanerSettings,
    /// `gregor.log.max.open.files` (Gregor's own): segment files kept open at once. `None`:
    /// half the open-file limit, at most 4,096 (see [`crate::log::file_cache`]).
    pub max_open_files: Option<usize>,
    /// Keys that were set explicitly (properties file or overrides). Topic config defaults read
    /// their synonyms from here, and DescribeConfigs reports them as STATIC_BROKER_CONFIG.
    pub static_props: Properties,
    /// Keys set that Gregor does not know; warned about at start, otherwise ignored.
    pub unknown_keys: Vec<String>,
    /// Keys set at run time ([`DynamicBrokerConfigs`]): above the static ones. Shared by every
    /// clone; the topic registry loads, changes and persists it.
    pub dynamic: Arc<RwLock<DynamicBrokerConfigs>>,
}

impl Default for Config {
    /// Every key at its table default.
    fn default() -> Self {
        let mut c = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised: None,
            data_dir: PathBuf::new(),
            node_id: 0,
            brokers: 1,
            default_replication_factor: 1,
            admin: AdminSettings::default(),
            request_log_size: 0,
            faults_file: None,
            num_partitions: 0,
            auto_create_topics: false,
            socket_request_max_bytes: 0,
            max_connections: 0,
            connections_max_idle_ms: 0,
            queued_max_request_bytes: 0,
            recovery_threads: 0,
            log_retention_check_interval_ms: 0,
            producer_id_expiration_ms: 0,
            group: GroupConfig::default(),
            offsets_topic_partitions: 0,
            offsets_topic_segment_bytes: 0,
            txn: TxnConfig::default(),
            cleaner: CleanerSettings::default(),
            max_open_files: None,
            static_props: Properties::new(),
            unknown_keys: Vec::new(),
            dynamic: Arc::default(),
        };
        for def in BROKER_CONFIGS {
            // The table's defaults parse (a unit test applies each one).
            if let Err(e) = broker::apply(&mut c, def, def.default) {
                tracing::error!(error = %e, "bad default in the broker config table");
            }
        }
        c
    }
}

/// The HTTP admin endpoint's settings.
#[derive(Debug, Clone, Default)]
pub struct AdminSettings {
    /// Where it listens; `None`: off.
    pub listen: Option<SocketAddr>,
    /// Set by the user (`--admin` or the key): it must bind. The default is skipped with a
    /// warning when its port is taken.
    pub explicit: bool,
    /// `gregor.admin.allow.remote`: a non-loopback address is allowed.
    pub allow_remote: bool,
}

/// A configuration that cannot be used; reported at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("invalid value for {key}: {value:?} ({reason})")]
    Invalid {
        /// The offending key.
        key: String,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The properties file could not be read.
    #[error(transparent)]
    Properties(#[from] properties::PropertiesError),
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

/// Parses `host:port` where host may be a name; used for advertised addresses.
pub fn parse_host_port(key: &str, s: &str) -> Result<(String, i32), ConfigError> {
    let s = strip_listener_scheme(s);
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| invalid(key, s, "expected HOST:PORT"))?;
    let port: u16 = port.parse().map_err(|_| invalid(key, s, "bad port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_string(), i32::from(port)))
}

/// Kafka listener strings look like `PLAINTEXT://host:port`; take the first, drop the scheme.
fn strip_listener_scheme(s: &str) -> &str {
    let first = s.split(',').next().unwrap_or(s).trim();
    first.split_once("://").map_or(first, |(_, rest)| rest)
}

impl Config {
    /// Resolves the CLI (with its environment variables) against the properties file, overrides
    /// and defaults.
    pub fn from_cli(cli: &Cli) -> Result<Config, ConfigError> {
        let mut props = match &cli.config {
            Some(path) => properties::read(path)?,
            None => Properties::new(),
        };
        for o in &cli.overrides {
            let (k, v) = o
                .split_once('=')
                .ok_or_else(|| invalid("--override", o, "expected KEY=VALUE"))?;
            props.insert(k.trim().to_string(), v.trim().to_string());
        }
        let mut c = Config::from_properties(props)?;
        if let Some(l) = &cli.listen {
            c.listen = resolve_listen("--listen", l)?;
        }
        if let Some(a) = &cli.advertised {
            c.advertised = Some(parse_host_port("--advertised", a)?);
        }
        if let Some(d) = &cli.data_dir {
            c.data_dir = d.clone();
        }
        if let Some(n) = cli.node_id {
            c.node_id = n;
        }
        if let Some(n) = cli.brokers {
            if !(1..=16).contains(&n) {
                return Err(invalid("--brokers", &n.to_string(), "expected 1 to 16"));
            }
            c.brokers = n;
        }
        if let Some(a) = &cli.admin {
            c.admin.listen = broker::parse_admin_listener("--admin", a)?;
            c.admin.explicit = true;
        } else if c.static_props.contains_key("gregor.admin.listener") {
            c.admin.explicit = true;
        }
        c.faults_file = cli.faults.clone();
        Ok(c)
    }

    /// Builds a config from server.properties keys alone (tests use this too): every known
    /// key parsed and checked once, topic-config synonyms validated, unknown keys collected.
    pub fn from_properties(props: Properties) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        for (k, v) in &props {
            if let Some(def) = broker_config_def(k) {
                broker::apply(&mut c, def, v)?;
            } else if let Some(def) = TOPIC_CONFIGS.iter().find(|d| d.broker_key == k) {
                def.validate(v).map_err(|reason| invalid(k, v, reason))?;
            } else if unit_synonym(k).is_some() {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| invalid(k, v, "not a number"))?;
            } else {
                c.unknown_keys.push(k.clone());
            }
        }
        c.static_props = props;
        Ok(c)
    }

    /// The value of a broker key as configured, or its table default (DescribeConfigs).
    pub fn broker_value(&self, def: &BrokerConfigDef) -> (String, ConfigSource) {
        let set = std::iter::once(def.name)
            .chain(def.aliases.iter().copied())
            .find_map(|k| self.static_props.get(k));
        match set {
            Some(v) => (v.clone(), ConfigSource::StaticBroker),
            None => (def.default.to_string(), ConfigSource::Default),
        }
    }

    /// The effective broker-level default for a topic config: the first value set (see
    /// [`Self::topic_default_layers`]) in milliseconds where it is a coarser unit (a negative
    /// one means -1, unlimited, as Kafka reads `log.retention.hours=-1`), else Kafka's default.
    pub fn topic_default(&self, def: &TopicConfigDef) -> (String, ConfigSource) {
        let Some(first) = self.topic_default_layers(def).into_iter().next() else {
            return (def.default.to_string(), ConfigSource::Default);
        };
        let value = match unit_synonyms(def.broker_key)
            .iter()
            .find(|u| u.key == first.key)
        {
            Some(u) => match first.value.trim().parse::<i64>() {
                Ok(v) if v < 0 => "-1".to_string(),
                Ok(v) => v.saturating_mul(u.factor).to_string(),
                Err(_) => def.default.to_string(),
            },
            None => first.value,
        };
        (value, first.source)
    }

    /// Every value set for a topic config's broker key and the keys it falls back to (in
    /// Kafka's order: `log.retention.ms`, `.minutes`, `.hours`), each dynamic for this broker,
    /// dynamic default, static: what DescribeConfigs lists as synonyms before the defaults.
    pub fn topic_default_layers(&self, def: &TopicConfigDef) -> Vec<Layer> {
        if def.broker_key.is_empty() {
            return Vec::new();
        }
        let keys = std::iter::once(def.broker_key)
            .chain(unit_synonyms(def.broker_key).iter().map(|u| u.key));
        let mut out = Vec::new();
        for key in keys {
            out.extend(self.key_layers(key));
        }
        out
    }

    /// The values set for one broker key: dynamic for this broker, dynamic default, static.
    pub fn key_layers(&self, key: &'static str) -> Vec<Layer> {
        let mut out: Vec<Layer> = self
            .dynamic
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .layers(self.node_id, key)
            .into_iter()
            .map(|(value, source)| Layer { key, value, source })
            .collect();
        if let Some(v) = self.static_props.get(key) {
            out.push(Layer {
                key,
                value: v.clone(),
                source: ConfigSource::StaticBroker,
            });
        }
        out
    }

    /// A snapshot of the dynamic layer.
    pub fn dynamic_configs(&self) -> DynamicBrokerConfigs {
        self.dynamic
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the dynamic layer (the topic registry persists it first).
    pub fn set_dynamic_configs(&self, c: DynamicBrokerConfigs) {
        *self.dynamic.write().unwrap_or_else(|p| p.into_inner()) = c;
    }
}

fn resolve_listen(key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
    use std::net::ToSocketAddrs;
    let s = strip_listener_scheme(s);
    let s = if s.starts_with(':') {
        format!("127.0.0.1{s}")
    } else {
        s.to_string()
    };
    s.to_socket_addrs()
        .map_err(|e| invalid(key, &s, e.to_string()))?
        .next()
        .ok_or_else(|| invalid(key, &s, "resolves to no address"))
}

/// One value set for a broker key, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The broker key.
    pub key: &'static str,
    /// Its value as set.
    pub value: String,
    /// Dynamic (this broker or the default) or static.
    pub source: ConfigSource,
}

/// Coordinator settings, named after Kafka's broker configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an Empty group waits
    /// for more members. Kafka's default is 3000; this type defaults to 0 (tests of the state
    /// machine); the broker's comes from the broker-key table (100 ms).
    pub initial_rebalance_delay_ms: i64,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `group.max.size`.
    pub max_size: usize,
    /// `offsets.retention.ms`: how long offsets of an Empty group are kept.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`: how often expired offsets and groups are swept.
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`: longest metadata string an OffsetCommit may carry.
    pub max_metadata_size: usize,
    /// `group.consumer.heartbeat.interval.ms`: the interval KIP-848 members are told to use.
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.session.timeout.ms`: how long a KIP-848 member may stay silent.
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.assignors`: the server-side assignors, the default first.
    pub consumer_assignors: Vec<String>,
    /// `group.consumer.max.size`: members per KIP-848 group.
    pub consumer_max_size: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay_ms: 0,
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            max_size: i32::MAX as usize,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
            max_metadata_size: 4096,
            consumer_heartbeat_interval_ms: 250,
            consumer_session_timeout_ms: 10_000,
            consumer_assignors: vec!["uniform".to_string(), "range".to_string()],
            consumer_max_size: i32::MAX as usize,
        }
    }
}

/// The log cleaner's settings (the `log.cleaner.*` keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanerSettings {
    /// `log.cleaner.enable`.
    pub enable: bool,
    /// `log.cleaner.threads`.
    pub threads: usize,
    /// `log.cleaner.dedupe.buffer.size`: offset-map memory, shared by the threads.
    pub dedupe_buffer_bytes: usize,
    /// `log.cleaner.io.buffer.size`: how much of a segment is read at once.
    pub io_buffer_bytes: usize,
    /// `log.cleaner.backoff.ms`: how long an idle cleaner waits before looking again.
    pub backoff_ms: i64,
}

impl Default for CleanerSettings {
    /// Kafka's defaults.
    fn default() -> Self {
        CleanerSettings {
            enable: true,
            threads: 1,
            dedupe_buffer_bytes: 128 << 20,
            io_buffer_bytes: 512 << 10,
            backoff_ms: 15_000,
        }
    }
}

/// The transaction coordinator's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.state.log.num.partitions`: partitions of `__transaction_state`.
    pub state_log_partitions: i32,
    /// `transaction.state.log.segment.bytes`: `segment.bytes` of `__transaction_state` when
    /// created.
    pub state_log_segment_bytes: i32,
    /// `transaction.max.timeout.ms`: the largest `transaction.timeout.ms` a producer may ask for.
    pub max_timeout_ms: i64,
    /// `transactional.id.expiration.ms`: idle transactional ids are forgotten after this long.
    pub id_expiration_ms: i64,
    /// `transaction.partition.verification.enable` (KIP-890 part 1): a transactional produce to
    /// a partition not added to the transaction is refused.
    pub partition_verification: bool,
}

impl Default for TxnConfig {
    /// Kafka's defaults.
    fn default() -> Self {
        TxnConfig {
            state_log_partitions: 50,
            state_log_segment_bytes: 104_857_600,
            max_timeout_ms: 900_000,
            id_expiration_ms: 7 * 24 * 60 * 60 * 1000,
            partition_verification: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_beats_overrides_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.properties");
        std::fs::write(
            &file,
            "listeners=PLAINTEXT://127.0.0.1:19092\nnum.partitions=4\nlog.dirs=/tmp/a,/tmp/b\n",
        )
        .unwrap();
        let cli = Cli {
            config: Some(file),
            overrides: vec!["num.partitions=5".into()],
            data_dir: Some("/tmp/cli".into()),
            ..Cli::default()
        };
        let c = Config::from_cli(&cli).unwrap();
        assert_eq!(c.listen.port(), 19092);
        assert_eq!(c.num_partitions, 5);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/cli"));
        assert_eq!(c.listen.ip().to_string(), "127.0.0.1");
    }

    #[test]
    fn defaults_listen_on_loopback() {
        let c = Config::from_cli(&Cli::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9092");
        assert!(c.auto_create_topics);
        assert_eq!(c.socket_request_max_bytes, 104_857_600);
    }

    #[test]
    fn bad_values_are_rejected_with_the_key() {
        let mut p = Properties::new();
        p.insert("log.retention.ms".into(), "soon".into());
        let e = Config::from_properties(p).unwrap_err().to_string();
        assert!(e.contains("log.retention.ms"), "{e}");
        let mut p = Properties::new();
        p.insert("num.partitions".into(), "0".into());
        assert!(Config::from_properties(p).is_err());
    }

    #[test]
    fn retention_falls_back_to_minutes_then_hours() {
        let cfg = |pairs: &[(&str, &str)]| {
            Config::from_properties(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
            .unwrap()
        };
        let d = topic_config_def("retention.ms").unwrap();
        assert_eq!(cfg(&[]).topic_default(d).0, "604800000");
        assert_eq!(
            cfg(&[("log.retention.hours", "1")]).topic_default(d),
            ("3600000".to_string(), ConfigSource::StaticBroker)
        );
        assert_eq!(
            cfg(&[("log.retention.hours", "1"), ("log.retention.minutes", "2")])
                .topic_default(d)
                .0,
            "120000"
        );
        assert_eq!(
            cfg(&[("log.retention.ms", "5"), ("log.retention.minutes", "2")])
                .topic_default(d)
                .0,
            "5"
        );
        assert_eq!(
            cfg(&[("log.retention.hours", "-1")]).topic_default(d).0,
            "-1"
        );
        assert!(Config::from_properties(
            [("log.retention.hours".to_string(), "a week".to_string())]
                .into_iter()
                .collect()
        )
        .is_err());
        let roll = topic_config_def("segment.ms").unwrap();
        assert_eq!(
            cfg(&[("log.roll.hours", "2")]).topic_default(roll).0,
            "7200000"
        );
    }

    #[test]
    fn topic_defaults_follow_broker_synonyms() {
        let mut p = Properties::new();
        p.insert("log.retention.ms".into(), "1000".into());
        let c = Config::from_properties(p).unwrap();
        let d = topic_config_def("retention.ms").unwrap();
        assert_eq!(
            c.topic_default(d),
            ("1000".into(), ConfigSource::StaticBroker)
        );
        let d = topic_config_def("segment.bytes").unwrap();
        assert_eq!(c.topic_default(d).1, ConfigSource::Default);
        assert!(d.validate("13").is_err());
        assert!(topic_config_def("cleanup.policy")
            .unwrap()
            .validate("compact,delete")
            .is_ok());
    }
}
