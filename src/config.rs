//! Broker configuration and the table of topic-level configs.
//!
//! Precedence, highest first: a CLI flag, its `GREGOR_*` environment variable, an `--override
//! key=value`, the properties file (`--config`, Kafka's `server.properties` key names), the
//! built-in default. Defaults are Kafka's, except where local development wants otherwise
//! (listen on 127.0.0.1, `group.initial.rebalance.delay.ms=0`). This module opens no files or
//! sockets other than reading the properties file it is pointed at.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::properties::{self, Properties};

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
}

/// Everything the broker needs to know at start-up, resolved from [`Cli`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Socket address the broker binds.
    pub listen: SocketAddr,
    /// `host:port` advertised to clients; `None` means "the bound address".
    pub advertised: Option<(String, i32)>,
    /// Root of all on-disk state.
    pub data_dir: PathBuf,
    /// This broker's node id: data, not a constant, so several virtual brokers can come later.
    pub node_id: i32,
    /// Partitions for auto-created topics and CreateTopics without a count.
    pub num_partitions: i32,
    /// Whether Metadata and Produce may create unknown topics.
    pub auto_create_topics: bool,
    /// Largest request frame accepted; checked before allocating (Kafka's NetworkReceive).
    pub socket_request_max_bytes: usize,
    /// Bound on concurrently open client connections.
    pub max_connections: usize,
    /// `connections.max.idle.ms`: idle connections are closed after this long.
    pub connections_max_idle_ms: u64,
    /// `queued.max.request.bytes`: budget of request bytes buffered across all connections.
    pub queued_max_request_bytes: usize,
    /// `gregor.max.uncompressed.batch.bytes` (Gregor's own; Kafka has no such limit): the most
    /// bytes one compressed batch may decompress to when it is validated. Validation streams the
    /// records, so memory does not depend on it; it bounds the work a decompression bomb costs.
    pub max_uncompressed_batch_bytes: u64,
    /// `gregor.log.max.open.files` (Gregor's own): segment files kept open at once. `None`:
    /// half the open-file limit, at most 4,096 (see [`crate::log::file_cache`]).
    pub max_open_files: Option<usize>,
    /// `num.recovery.threads.per.data.dir`: threads that open (and after a crash recover) the
    /// logs at start and flush them at shutdown. Kafka's default is 2; Gregor's 8, since both
    /// are bound by fsync latency with thousands of small partitions.
    pub recovery_threads: usize,
    /// Broker-level keys that were set explicitly (properties file or overrides). Topic config
    /// defaults read their synonyms from here, and DescribeConfigs reports them as
    /// STATIC_BROKER_CONFIG.
    pub static_props: Properties,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:9092".parse().expect("valid literal"),
            advertised: None,
            data_dir: PathBuf::from("gregor-data"),
            node_id: 1,
            num_partitions: 1,
            auto_create_topics: true,
            socket_request_max_bytes: 100 * 1024 * 1024,
            max_connections: 10_000,
            connections_max_idle_ms: 600_000,
            queued_max_request_bytes: 512 * 1024 * 1024,
            max_uncompressed_batch_bytes: crate::record::validate::DEFAULT_MAX_UNCOMPRESSED_BYTES,
            max_open_files: None,
            recovery_threads: 8,
            static_props: Properties::new(),
        }
    }
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

fn parse_num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| invalid(key, v, "not a number in range"))
}

fn parse_bool(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, v, "expected true or false")),
    }
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
        Ok(c)
    }

    /// Builds a config from server.properties keys alone (tests use this too).
    pub fn from_properties(props: Properties) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        for (k, v) in &props {
            match k.as_str() {
                "listeners" => c.listen = resolve_listen(k, v)?,
                "advertised.listeners" => c.advertised = Some(parse_host_port(k, v)?),
                "log.dirs" | "log.dir" => {
                    c.data_dir = PathBuf::from(v.split(',').next().unwrap_or(v).trim())
                }
                "node.id" | "broker.id" => c.node_id = parse_num(k, v)?,
                "num.partitions" => {
                    c.num_partitions = parse_num(k, v)?;
                    if c.num_partitions < 1 {
                        return Err(invalid(k, v, "must be at least 1"));
                    }
                }
                "auto.create.topics.enable" => c.auto_create_topics = parse_bool(k, v)?,
                "socket.request.max.bytes" => {
                    let n: i32 = parse_num(k, v)?;
                    if n < 1 {
                        return Err(invalid(k, v, "must be positive"));
                    }
                    c.socket_request_max_bytes = n as usize;
                }
                "max.connections" => c.max_connections = parse_num(k, v)?,
                "connections.max.idle.ms" => c.connections_max_idle_ms = parse_num(k, v)?,
                "queued.max.request.bytes" => {
                    // Kafka's -1 means unlimited.
                    let n: i64 = parse_num(k, v)?;
                    c.queued_max_request_bytes = if n < 0 { usize::MAX } else { n.max(1) as usize };
                }
                "num.recovery.threads.per.data.dir" => {
                    let n: usize = parse_num(k, v)?;
                    if n < 1 {
                        return Err(invalid(k, v, "must be at least 1"));
                    }
                    c.recovery_threads = n;
                }
                "gregor.log.max.open.files" => {
                    let n: usize = parse_num(k, v)?;
                    if n < 1 {
                        return Err(invalid(k, v, "must be at least 1"));
                    }
                    c.max_open_files = Some(n);
                }
                "gregor.max.uncompressed.batch.bytes" => {
                    let n: i64 = parse_num(k, v)?;
                    if n < 1 {
                        return Err(invalid(k, v, "must be positive"));
                    }
                    c.max_uncompressed_batch_bytes = n as u64;
                }
                _ => {
                    if let Some(def) = TOPIC_CONFIGS.iter().find(|d| d.broker_key == k) {
                        def.validate(v).map_err(|reason| invalid(k, v, reason))?;
                    }
                }
            }
        }
        c.static_props = props;
        Ok(c)
    }

    /// The effective broker-level default for a topic config: the static broker setting if
    /// there is one, else Kafka's default.
    pub fn topic_default(&self, def: &TopicConfigDef) -> (String, ConfigSource) {
        match self.static_props.get(def.broker_key) {
            Some(v) => (v.clone(), ConfigSource::StaticBroker),
            None => (def.default.to_string(), ConfigSource::Default),
        }
    }

    /// A broker-level numeric setting from the properties, or `default`.
    pub fn broker_i64(&self, key: &str, default: i64) -> i64 {
        self.static_props
            .get(key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
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

/// Where a config value comes from, as DescribeConfigs reports it (Kafka's `ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic itself.
    DynamicTopic = 1,
    /// Set in the broker's properties file or overrides.
    StaticBroker = 4,
    /// Kafka's built-in default.
    Default = 5,
}

/// The type of a config value, for validation and DescribeConfigs' `config_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// true / false.
    Boolean,
    /// A 32-bit integer with an inclusive lower bound.
    Int(i64),
    /// A 64-bit integer with an inclusive lower bound.
    Long(i64),
    /// A floating point number in [0, 1].
    Ratio,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// A comma-separated list, each item one of the listed strings.
    EnumList(&'static [&'static str]),
    /// A comma-separated list of anything.
    List,
}

impl ConfigType {
    /// Kafka's DescribeConfigs `config_type` code.
    pub fn code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::Enum(_) => 2,
            ConfigType::Int(_) => 3,
            ConfigType::Long(_) => 5,
            ConfigType::Ratio => 6,
            ConfigType::EnumList(_) | ConfigType::List => 7,
        }
    }
}

/// One topic-level config: its name, the broker key it falls back to, and Kafka's default.
#[derive(Debug)]
pub struct TopicConfigDef {
    /// Topic-level key, e.g. `retention.ms`.
    pub name: &'static str,
    /// Broker-level synonym, e.g. `log.retention.ms`.
    pub broker_key: &'static str,
    /// Kafka's default value, as text.
    pub default: &'static str,
    /// Value type and range.
    pub kind: ConfigType,
    /// Whether Gregor acts on it (the others are accepted and stored, as a single-node Kafka
    /// accepts replication settings it cannot act on).
    pub honoured: bool,
}

impl TopicConfigDef {
    /// Checks a value; the error is the reason Kafka would give.
    pub fn validate(&self, v: &str) -> Result<(), String> {
        let v = v.trim();
        match self.kind {
            ConfigType::Boolean => match v.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(()),
                _ => Err("expected true or false".into()),
            },
            ConfigType::Int(min) => match v.parse::<i32>() {
                Ok(n) if i64::from(n) >= min => Ok(()),
                Ok(_) => Err(format!("value must be at least {min}")),
                Err(_) => Err("not a 32-bit integer".into()),
            },
            ConfigType::Long(min) => match v.parse::<i64>() {
                Ok(n) if n >= min => Ok(()),
                Ok(_) => Err(format!("value must be at least {min}")),
                Err(_) => Err("not a 64-bit integer".into()),
            },
            ConfigType::Ratio => match v.parse::<f64>() {
                Ok(x) if (0.0..=1.0).contains(&x) => Ok(()),
                _ => Err("expected a number between 0 and 1".into()),
            },
            ConfigType::Enum(allowed) => {
                if allowed.contains(&v) {
                    Ok(())
                } else {
                    Err(format!("expected one of {allowed:?}"))
                }
            }
            ConfigType::EnumList(allowed) => {
                let items: Vec<&str> = v.split(',').map(str::trim).collect();
                if !items.is_empty() && items.iter().all(|i| allowed.contains(i)) {
                    Ok(())
                } else {
                    Err(format!("expected a list of {allowed:?}"))
                }
            }
            ConfigType::List => Ok(()),
        }
    }
}

const fn def(
    name: &'static str,
    broker_key: &'static str,
    default: &'static str,
    kind: ConfigType,
    honoured: bool,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_key,
        default,
        kind,
        honoured,
    }
}

const COMPRESSION: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

/// Every topic config Kafka 4.x describes, with its broker synonym and default.
#[rustfmt::skip]
pub static TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def("cleanup.policy", "log.cleanup.policy", "delete", ConfigType::EnumList(&["delete", "compact"]), false),
    def("compression.type", "compression.type", "producer", ConfigType::Enum(COMPRESSION), false),
    def("delete.retention.ms", "log.cleaner.delete.retention.ms", "86400000", ConfigType::Long(0), false),
    def("file.delete.delay.ms", "log.segment.delete.delay.ms", "60000", ConfigType::Long(0), false),
    def("flush.messages", "log.flush.interval.messages", "9223372036854775807", ConfigType::Long(1), true),
    def("flush.ms", "log.flush.interval.ms", "9223372036854775807", ConfigType::Long(0), true),
    def("follower.replication.throttled.replicas", "follower.replication.throttled.replicas", "", ConfigType::List, false),
    def("index.interval.bytes", "log.index.interval.bytes", "4096", ConfigType::Int(0), true),
    def("leader.replication.throttled.replicas", "leader.replication.throttled.replicas", "", ConfigType::List, false),
    def("local.retention.bytes", "log.local.retention.bytes", "-2", ConfigType::Long(-2), false),
    def("local.retention.ms", "log.local.retention.ms", "-2", ConfigType::Long(-2), false),
    def("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", "9223372036854775807", ConfigType::Long(1), false),
    def("max.message.bytes", "message.max.bytes", "1048588", ConfigType::Int(0), true),
    def("message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms", "3600000", ConfigType::Long(0), true),
    def("message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms", "9223372036854775807", ConfigType::Long(0), true),
    def("message.timestamp.type", "log.message.timestamp.type", "CreateTime", ConfigType::Enum(&["CreateTime", "LogAppendTime"]), true),
    def("min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", "0.5", ConfigType::Ratio, false),
    def("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", "0", ConfigType::Long(0), false),
    def("min.insync.replicas", "min.insync.replicas", "1", ConfigType::Int(1), false),
    def("preallocate", "log.preallocate", "false", ConfigType::Boolean, false),
    def("remote.storage.enable", "remote.log.storage.enable", "false", ConfigType::Boolean, false),
    def("retention.bytes", "log.retention.bytes", "-1", ConfigType::Long(-1), true),
    def("retention.ms", "log.retention.ms", "604800000", ConfigType::Long(-1), true),
    def("segment.bytes", "log.segment.bytes", "1073741824", ConfigType::Int(14), true),
    def("segment.index.bytes", "log.index.size.max.bytes", "10485760", ConfigType::Int(4), false),
    def("segment.jitter.ms", "log.roll.jitter.ms", "0", ConfigType::Long(0), false),
    def("segment.ms", "log.roll.ms", "604800000", ConfigType::Long(1), true),
    def("unclean.leader.election.enable", "unclean.leader.election.enable", "false", ConfigType::Boolean, false),
];

/// Looks up a topic config definition by its topic-level name.
pub fn topic_config_def(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
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
