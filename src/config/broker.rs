//! The table of broker-level keys: each key Gregor reads, its default (Kafka's, except where
//! local development wants otherwise, which the doc says), its type, and how it lands in
//! [`Config`]. Every key is parsed once, here; nothing else reads a key by name. Keys of the
//! topic-config table's broker synonyms (`log.retention.ms`, ...) are validated against that
//! table and kept as the topics' defaults.

use super::{invalid, parse_host_port, resolve_listen, Config, ConfigError, ConfigType};

/// One broker-level key.
#[derive(Debug)]
pub struct BrokerConfigDef {
    /// The server.properties key.
    pub name: &'static str,
    /// Other names Kafka accepts for it.
    pub aliases: &'static [&'static str],
    /// The default, as text (parsed like a configured value).
    pub default: &'static str,
    /// Value type and lower bound (DescribeConfigs' `config_type`).
    pub kind: ConfigType,
    /// What it does, and how Gregor's default differs from Kafka's.
    pub doc: &'static str,
}

const fn key(
    name: &'static str,
    aliases: &'static [&'static str],
    default: &'static str,
    kind: ConfigType,
    doc: &'static str,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        aliases,
        default,
        kind,
        doc,
    }
}

/// Every broker key Gregor reads.
#[rustfmt::skip]
pub static BROKER_CONFIGS: &[BrokerConfigDef] = &[
    key("listeners", &[], "PLAINTEXT://127.0.0.1:9092", ConfigType::List, "Address to listen on; the first listener is used. Kafka listens on all interfaces."),
    key("advertised.listeners", &[], "", ConfigType::List, "Address given to clients; empty: the bound address."),
    key("log.dirs", &["log.dir"], "gregor-data", ConfigType::List, "The data directory; the first entry is used."),
    key("node.id", &["broker.id"], "1", ConfigType::Int(0), "This broker's node id."),
    key("num.partitions", &[], "1", ConfigType::Int(1), "Partitions of auto-created topics and of CreateTopics without a count."),
    key("auto.create.topics.enable", &[], "true", ConfigType::Boolean, "Metadata and Produce create unknown topics."),
    key("socket.request.max.bytes", &[], "104857600", ConfigType::Int(1), "Largest request frame accepted."),
    key("max.connections", &[], "10000", ConfigType::Int(1), "Open client connections at once (Kafka: unlimited)."),
    key("connections.max.idle.ms", &[], "600000", ConfigType::Long(0), "Idle connections are closed after this long."),
    key("queued.max.request.bytes", &[], "536870912", ConfigType::Long(-1), "Request bytes buffered across all connections; -1: unlimited (Kafka's default)."),
    key("num.recovery.threads.per.data.dir", &[], "8", ConfigType::Int(1), "Threads opening logs at start and flushing them at shutdown (Kafka: 2)."),
    key("log.retention.check.interval.ms", &[], "300000", ConfigType::Long(1), "How often retention, flush.ms and producer expiry run."),
    key("producer.id.expiration.ms", &[], "86400000", ConfigType::Int(1), "Idle producer ids are forgotten after this long."),
    key("group.initial.rebalance.delay.ms", &[], "100", ConfigType::Int(0), "How long a new group's first rebalance waits for more members (Kafka: 3000)."),
    key("group.min.session.timeout.ms", &[], "6000", ConfigType::Int(0), "Smallest session timeout a member may ask for."),
    key("group.max.session.timeout.ms", &[], "1800000", ConfigType::Int(0), "Largest session timeout a member may ask for."),
    key("group.max.size", &[], "2147483647", ConfigType::Int(1), "Members per group."),
    key("group.consumer.heartbeat.interval.ms", &[], "250", ConfigType::Int(1), "KIP-848 groups: how often members heartbeat, which bounds how fast an assignment moves (Kafka: 5000)."),
    key("group.consumer.session.timeout.ms", &[], "10000", ConfigType::Int(1), "KIP-848 groups: a member silent this long is removed (Kafka: 45000)."),
    key("group.consumer.assignors", &[], "uniform,range", ConfigType::EnumList(&["uniform", "range"]), "KIP-848 server-side assignors; the first is the default."),
    key("group.consumer.max.size", &[], "2147483647", ConfigType::Int(1), "Members per KIP-848 group."),
    key("group.consumer.migration.policy", &[], "disabled", ConfigType::Enum(&["disabled"]), "Classic members cannot join consumer groups nor the reverse (Kafka 4's default, bidirectional, converts groups; not served)."),
    key("offsets.retention.minutes", &[], "10080", ConfigType::Int(1), "How long an empty group's offsets are kept."),
    key("offsets.retention.check.interval.ms", &[], "600000", ConfigType::Long(1), "How often expired offsets are removed."),
    key("offset.metadata.max.bytes", &[], "4096", ConfigType::Int(0), "Longest metadata string of a committed offset."),
    key("offsets.topic.num.partitions", &[], "50", ConfigType::Int(1), "Partitions of __consumer_offsets (at most 1000 here)."),
    key("offsets.topic.segment.bytes", &[], "10485760", ConfigType::Int(1), "segment.bytes of __consumer_offsets when it is created (Kafka: 104857600). The cleaner never cleans the active segment, so a start replays all of it: 10 MiB (about 230,000 commits) bounds that to about 50 ms."),
    key("transaction.state.log.segment.bytes", &[], "104857600", ConfigType::Int(1), "segment.bytes of __transaction_state when it is created."),
    key("transaction.state.log.num.partitions", &[], "50", ConfigType::Int(1), "Partitions of __transaction_state (at most 1000 here)."),
    key("transaction.max.timeout.ms", &[], "900000", ConfigType::Int(1), "Largest transaction.timeout.ms a producer may ask for."),
    key("transactional.id.expiration.ms", &[], "604800000", ConfigType::Int(1), "Idle transactional ids are forgotten after this long."),
    key("transaction.abort.timed.out.transaction.cleanup.interval.ms", &[], "10000", ConfigType::Int(1), "Accepted for Kafka's sake: Gregor aborts a transaction the moment its timeout passes, on its own timer, rather than on a scan."),
    key("transaction.partition.verification.enable", &[], "true", ConfigType::Boolean, "KIP-890: a transactional produce to a partition not added to the transaction is refused."),
    key("log.cleaner.enable", &[], "true", ConfigType::Boolean, "Run the log cleaner, which compacts cleanup.policy=compact topics (__consumer_offsets and __transaction_state among them)."),
    key("log.cleaner.threads", &[], "1", ConfigType::Int(0), "Cleaner threads; each cleans one log at a time (0: none, as log.cleaner.enable=false)."),
    key("log.cleaner.dedupe.buffer.size", &[], "134217728", ConfigType::Long(0), "Memory for the cleaners' key maps, shared by the threads; a map grows as it fills, up to its share (24 bytes a key)."),
    key("log.cleaner.io.buffer.size", &[], "524288", ConfigType::Int(0), "Bytes of a segment a cleaner reads (and writes) at once."),
    key("log.cleaner.backoff.ms", &[], "15000", ConfigType::Long(0), "How long a cleaner with nothing to clean waits before looking again."),
    key("default.replication.factor", &[], "1", ConfigType::Int(1), "Replicas of auto-created topics and of CreateTopics without a factor (at most the virtual brokers there are)."),
    key("gregor.brokers", &[], "1", ConfigType::Int(1), "Gregor's own: virtual brokers in this process (at most 16). Node ids node.id, node.id+1, ...; ports the listener's, +1, ... (each ephemeral with port 0). Partition leaders spread across them and move on request (gregor ctl)."),
    key("gregor.admin.listener", &[], "127.0.0.1:8080", ConfigType::List, "Gregor's own: the HTTP admin endpoint (/admin: faults, leader moves, brokers down and up, the request log) that gregor ctl talks to; off: none. Loopback only unless gregor.admin.allow.remote=true. The default is skipped with a warning when its port is taken; an address set explicitly must bind."),
    key("gregor.admin.allow.remote", &[], "false", ConfigType::Boolean, "Gregor's own: let gregor.admin.listener bind a non-loopback address."),
    key("gregor.request.log.size", &[], "1000", ConfigType::Int(0), "Gregor's own: requests kept in the request log (gregor ctl requests); 0: none."),
    key("gregor.log.max.open.files", &[], "0", ConfigType::Int(0), "Gregor's own: segment files kept open; 0: half the open-file limit, at most 4096."),
];

/// The definition of `name` (or of the key it is an alias of).
pub fn broker_config_def(name: &str) -> Option<&'static BrokerConfigDef> {
    BROKER_CONFIGS
        .iter()
        .find(|d| d.name == name || d.aliases.contains(&name))
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| invalid(key, v, "not a number in range"))
}

/// Validates `value` against `def` and stores it in `c`.
pub(super) fn apply(c: &mut Config, def: &BrokerConfigDef, value: &str) -> Result<(), ConfigError> {
    let k = def.name;
    def_check(def, value)?;
    match k {
        "listeners" => c.listen = resolve_listen(k, value)?,
        "advertised.listeners" => {
            c.advertised = if value.trim().is_empty() {
                None
            } else {
                Some(parse_host_port(k, value)?)
            }
        }
        "log.dirs" => {
            c.data_dir = value.split(',').next().unwrap_or(value).trim().into();
        }
        "node.id" => c.node_id = num(k, value)?,
        "num.partitions" => c.num_partitions = num(k, value)?,
        "auto.create.topics.enable" => {
            c.auto_create_topics = value.trim().eq_ignore_ascii_case("true")
        }
        "socket.request.max.bytes" => c.socket_request_max_bytes = num(k, value)?,
        "max.connections" => c.max_connections = num(k, value)?,
        "connections.max.idle.ms" => c.connections_max_idle_ms = num(k, value)?,
        "queued.max.request.bytes" => {
            let n: i64 = num(k, value)?;
            c.queued_max_request_bytes = if n < 0 { usize::MAX } else { n.max(1) as usize };
        }
        "num.recovery.threads.per.data.dir" => c.recovery_threads = num(k, value)?,
        "log.retention.check.interval.ms" => c.log_retention_check_interval_ms = num(k, value)?,
        "producer.id.expiration.ms" => c.producer_id_expiration_ms = num(k, value)?,
        "group.initial.rebalance.delay.ms" => c.group.initial_rebalance_delay_ms = num(k, value)?,
        "group.min.session.timeout.ms" => c.group.min_session_timeout_ms = num(k, value)?,
        "group.max.session.timeout.ms" => c.group.max_session_timeout_ms = num(k, value)?,
        "group.max.size" => c.group.max_size = num(k, value)?,
        "group.consumer.heartbeat.interval.ms" => {
            c.group.consumer_heartbeat_interval_ms = num(k, value)?
        }
        "group.consumer.session.timeout.ms" => c.group.consumer_session_timeout_ms = num(k, value)?,
        "group.consumer.assignors" => {
            c.group.consumer_assignors = value
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect();
            if c.group.consumer_assignors.is_empty() {
                return Err(invalid(k, value, "names no assignor"));
            }
        }
        "group.consumer.max.size" => c.group.consumer_max_size = num(k, value)?,
        "group.consumer.migration.policy" => {}
        "offsets.retention.minutes" => {
            let m: i64 = num(k, value)?;
            c.group.offsets_retention_ms = m.saturating_mul(60_000);
        }
        "offsets.retention.check.interval.ms" => {
            c.group.offsets_retention_check_interval_ms = num(k, value)?
        }
        "offset.metadata.max.bytes" => c.group.max_metadata_size = num(k, value)?,
        "offsets.topic.num.partitions" => {
            c.offsets_topic_partitions = num::<i32>(k, value)?.clamp(1, 1000)
        }
        "offsets.topic.segment.bytes" => c.offsets_topic_segment_bytes = num(k, value)?,
        "transaction.state.log.segment.bytes" => c.txn.state_log_segment_bytes = num(k, value)?,
        "transaction.state.log.num.partitions" => {
            c.txn.state_log_partitions = num::<i32>(k, value)?.clamp(1, 1000)
        }
        "transaction.max.timeout.ms" => c.txn.max_timeout_ms = num(k, value)?,
        "transactional.id.expiration.ms" => c.txn.id_expiration_ms = num(k, value)?,
        "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
            num::<i64>(k, value)?;
        }
        "transaction.partition.verification.enable" => {
            c.txn.partition_verification = value.trim().eq_ignore_ascii_case("true")
        }
        "log.cleaner.enable" => c.cleaner.enable = value.trim().eq_ignore_ascii_case("true"),
        "log.cleaner.threads" => c.cleaner.threads = num::<usize>(k, value)?.min(64),
        "log.cleaner.dedupe.buffer.size" => c.cleaner.dedupe_buffer_bytes = num(k, value)?,
        "log.cleaner.io.buffer.size" => {
            c.cleaner.io_buffer_bytes = num::<usize>(k, value)?.max(4096)
        }
        "log.cleaner.backoff.ms" => c.cleaner.backoff_ms = num(k, value)?,
        "default.replication.factor" => c.default_replication_factor = num(k, value)?,
        "gregor.brokers" => c.brokers = num::<i32>(k, value)?.clamp(1, 16),
        "gregor.admin.listener" => c.admin.listen = parse_admin_listener(k, value)?,
        "gregor.admin.allow.remote" => {
            c.admin.allow_remote = value.trim().eq_ignore_ascii_case("true")
        }
        "gregor.request.log.size" => c.request_log_size = num::<usize>(k, value)?.min(1_000_000),
        "gregor.log.max.open.files" => {
            let n: usize = num(k, value)?;
            c.max_open_files = (n > 0).then_some(n);
        }
        // A table entry with no arm: a bug, caught by the test that applies every default.
        other => return Err(invalid(other, value, "key in the table but not applied")),
    }
    Ok(())
}

/// `off` (or empty) or a socket address (`:8080` means loopback).
pub(super) fn parse_admin_listener(
    key: &str,
    value: &str,
) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    resolve_listen(key, v).map(Some)
}

fn def_check(def: &BrokerConfigDef, value: &str) -> Result<(), ConfigError> {
    let v = value.trim();
    let ok = match def.kind {
        ConfigType::Int(min) => v.parse::<i32>().is_ok_and(|n| i64::from(n) >= min),
        ConfigType::Long(min) => v.parse::<i64>().is_ok_and(|n| n >= min),
        ConfigType::Boolean => matches!(v.to_ascii_lowercase().as_str(), "true" | "false"),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(def.name, value, format!("expected {:?}", def.kind)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses_and_every_key_is_applied() {
        let mut c = Config::default();
        for d in BROKER_CONFIGS {
            apply(&mut c, d, d.default).unwrap_or_else(|e| panic!("{}: {e}", d.name));
        }
        assert_eq!(c.group.initial_rebalance_delay_ms, 100);
        assert_eq!(c.offsets_topic_partitions, 50);
        assert_eq!(c.log_retention_check_interval_ms, 300_000);
        assert_eq!(c.producer_id_expiration_ms, 86_400_000);
        assert_eq!(c.max_open_files, None);
        assert!(broker_config_def("broker.id").is_some_and(|d| d.name == "node.id"));
    }
}
