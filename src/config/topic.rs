//! The table of topic-level configs: every key Kafka 4 describes for a topic, its broker-level
//! synonym, Kafka's default, its type and whether Gregor acts on it; plus the value types and
//! sources DescribeConfigs reports.

/// Where a config value comes from, as DescribeConfigs reports it (Kafka's `ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic itself.
    DynamicTopic = 1,
    /// Set at run time for this broker.
    DynamicBroker = 2,
    /// Set at run time as the cluster-wide default.
    DynamicDefaultBroker = 3,
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
    /// Whether DescribeConfigs lists the broker key's default as a DEFAULT_CONFIG synonym.
    /// Kafka does not where the broker key has no default of its own (`log.retention.ms` is
    /// null by default, derived from `log.retention.hours`) or there is no broker key.
    pub default_synonym: bool,
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
        default_synonym: true,
    }
}

/// [`def`] for a key whose broker synonym has no default of its own (see
/// [`TopicConfigDef::default_synonym`]).
const fn def_no_default_synonym(
    name: &'static str,
    broker_key: &'static str,
    default: &'static str,
    kind: ConfigType,
    honoured: bool,
) -> TopicConfigDef {
    TopicConfigDef {
        default_synonym: false,
        ..def(name, broker_key, default, kind, honoured)
    }
}

/// A broker key Kafka reads after a topic config's own broker key, in a coarser unit:
/// `log.retention.ms` is unset by default and falls back to `log.retention.minutes`, then to
/// `log.retention.hours` (168).
#[derive(Debug)]
pub struct UnitSynonym {
    /// The broker key, e.g. `log.retention.hours`.
    pub key: &'static str,
    /// Milliseconds per unit of its value.
    pub factor: i64,
    /// Its default, if it has one (`log.retention.minutes` has none).
    pub default: Option<&'static str>,
}

const fn unit(key: &'static str, factor: i64, default: Option<&'static str>) -> UnitSynonym {
    UnitSynonym {
        key,
        factor,
        default,
    }
}

static RETENTION_UNITS: &[UnitSynonym] = &[
    unit("log.retention.minutes", 60_000, None),
    unit("log.retention.hours", 3_600_000, Some("168")),
];
static ROLL_UNITS: &[UnitSynonym] = &[unit("log.roll.hours", 3_600_000, Some("168"))];
static JITTER_UNITS: &[UnitSynonym] = &[unit("log.roll.jitter.hours", 3_600_000, Some("0"))];
static FLUSH_UNITS: &[UnitSynonym] = &[unit(
    "log.flush.scheduler.interval.ms",
    1,
    Some("9223372036854775807"),
)];

/// The keys a topic config's broker key falls back to, in Kafka's order of precedence.
pub fn unit_synonyms(broker_key: &str) -> &'static [UnitSynonym] {
    match broker_key {
        "log.retention.ms" => RETENTION_UNITS,
        "log.roll.ms" => ROLL_UNITS,
        "log.roll.jitter.ms" => JITTER_UNITS,
        "log.flush.interval.ms" => FLUSH_UNITS,
        _ => &[],
    }
}

/// The unit synonym named `key` and the topic config it serves, if `key` is one.
pub fn unit_synonym(key: &str) -> Option<(&'static TopicConfigDef, &'static UnitSynonym)> {
    TOPIC_CONFIGS.iter().find_map(|d| {
        unit_synonyms(d.broker_key)
            .iter()
            .find(|u| u.key == key)
            .map(|u| (d, u))
    })
}

const COMPRESSION: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

/// Every topic config Kafka 4.4 describes, with its broker synonym and default (as
/// `kafka-configs --describe --all` lists them for a new topic on a one-node Kafka 4.4).
#[rustfmt::skip]
pub static TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def("cleanup.policy", "log.cleanup.policy", "delete", ConfigType::EnumList(&["delete", "compact"]), false),
    def("compression.gzip.level", "compression.gzip.level", "-1", ConfigType::Int(-1), false),
    def("compression.lz4.level", "compression.lz4.level", "9", ConfigType::Int(1), false),
    def("compression.type", "compression.type", "producer", ConfigType::Enum(COMPRESSION), false),
    def("compression.zstd.level", "compression.zstd.level", "3", ConfigType::Int(-131072), false),
    def("delete.retention.ms", "log.cleaner.delete.retention.ms", "86400000", ConfigType::Long(0), false),
    def_no_default_synonym("errors.deadletterqueue.group.enable", "", "false", ConfigType::Boolean, false),
    def("file.delete.delay.ms", "log.segment.delete.delay.ms", "60000", ConfigType::Long(0), false),
    def("flush.messages", "log.flush.interval.messages", "9223372036854775807", ConfigType::Long(1), true),
    def_no_default_synonym("flush.ms", "log.flush.interval.ms", "9223372036854775807", ConfigType::Long(0), true),
    def_no_default_synonym("follower.replication.throttled.replicas", "", "", ConfigType::List, false),
    def("index.interval.bytes", "log.index.interval.bytes", "4096", ConfigType::Int(0), true),
    def_no_default_synonym("leader.replication.throttled.replicas", "", "", ConfigType::List, false),
    def("local.retention.bytes", "log.local.retention.bytes", "-2", ConfigType::Long(-2), false),
    def("local.retention.ms", "log.local.retention.ms", "-2", ConfigType::Long(-2), false),
    def("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", "9223372036854775807", ConfigType::Long(1), false),
    def("max.decompressed.message.bytes", "max.decompressed.message.bytes", "2147483639", ConfigType::Int(0), true),
    def("max.message.bytes", "message.max.bytes", "1048588", ConfigType::Int(0), true),
    def("message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms", "3600000", ConfigType::Long(0), true),
    def("message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms", "9223372036854775807", ConfigType::Long(0), true),
    def("message.timestamp.type", "log.message.timestamp.type", "CreateTime", ConfigType::Enum(&["CreateTime", "LogAppendTime"]), true),
    def("min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", "0.5", ConfigType::Ratio, false),
    def("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", "0", ConfigType::Long(0), false),
    def("min.insync.replicas", "min.insync.replicas", "1", ConfigType::Int(1), false),
    def("preallocate", "log.preallocate", "false", ConfigType::Boolean, false),
    def("remote.copy.lag.bytes", "log.remote.copy.lag.bytes", "-1", ConfigType::Long(-1), false),
    def("remote.copy.lag.ms", "log.remote.copy.lag.ms", "0", ConfigType::Long(0), false),
    def_no_default_synonym("remote.log.copy.disable", "", "false", ConfigType::Boolean, false),
    def_no_default_synonym("remote.log.delete.on.disable", "", "false", ConfigType::Boolean, false),
    def_no_default_synonym("remote.storage.enable", "", "false", ConfigType::Boolean, false),
    def("retention.bytes", "log.retention.bytes", "-1", ConfigType::Long(-1), true),
    def_no_default_synonym("retention.ms", "log.retention.ms", "604800000", ConfigType::Long(-1), true),
    def("segment.bytes", "log.segment.bytes", "1073741824", ConfigType::Int(14), true),
    def("segment.index.bytes", "log.index.size.max.bytes", "10485760", ConfigType::Int(4), false),
    def_no_default_synonym("segment.jitter.ms", "log.roll.jitter.ms", "0", ConfigType::Long(0), false),
    def_no_default_synonym("segment.ms", "log.roll.ms", "604800000", ConfigType::Long(1), true),
    def("unclean.leader.election.enable", "unclean.leader.election.enable", "false", ConfigType::Boolean, false),
];

/// Looks up a topic config definition by its topic-level name.
pub fn topic_config_def(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}
