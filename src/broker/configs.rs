//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics and brokers. A broker
//! resource is this broker (`1`) or the cluster-wide default (the empty name); what may change
//! at run time is decided, persisted and applied by the topic registry
//! ([`crate::topics::TopicRegistry::alter_broker_configs`]).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{sb, Node};
use crate::config::{
    classify_dynamic, topic_config_def, unit_synonyms, Config, ConfigSource, ConfigType,
    DynamicKey, Layer, TopicConfigDef, BROKER_CONFIGS, TOPIC_CONFIGS,
};
use crate::topics::TopicError;

/// Kafka's `ConfigResource.Type` codes.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// One described config before it is turned into the wire struct.
struct Entry {
    name: String,
    /// `None`: Kafka reports a null value (a broker key whose default is derived from another,
    /// or a sensitive one).
    value: Option<String>,
    source: ConfigSource,
    read_only: bool,
    sensitive: bool,
    /// `None`: a key Gregor does not know (Kafka's UNKNOWN type).
    kind: Option<ConfigType>,
    /// (name, value, source), most specific first, as Kafka lists synonyms.
    synonyms: Vec<Synonym>,
}

/// DescribeConfigs for topics and brokers.
pub fn describe(node: &Node, req: DescribeConfigsRequest, version: i16) -> DescribeConfigsResponse {
    let results = req
        .resources
        .into_iter()
        .map(|res| {
            let r = DescribeConfigsResult::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone());
            let entries = match res.resource_type {
                RESOURCE_TOPIC => topic_entries(node, &res.resource_name),
                RESOURCE_BROKER => match broker_entity(node, &res.resource_name) {
                    Ok(None) => Ok(cluster_default_entries(node)),
                    Ok(Some(_)) => Ok(broker_entries(node)),
                    Err(e) => Err(e),
                },
                _ => Err((
                    ResponseError::InvalidRequest,
                    "unsupported resource type".to_string(),
                )),
            };
            match entries {
                Ok(entries) => {
                    // Null or empty means every config, as Kafka's ConfigHelper reads it.
                    let keys = res.configuration_keys.as_ref().filter(|k| !k.is_empty());
                    r.with_configs(
                        entries
                            .into_iter()
                            .filter(|e| keys.is_none_or(|k| k.iter().any(|k| **k == *e.name)))
                            .map(|e| wire_entry(e, req.include_synonyms, version))
                            .collect(),
                    )
                }
                Err((code, msg)) => r
                    .with_error_code(code.code())
                    .with_error_message(Some(sb(msg))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn wire_entry(e: Entry, synonyms: bool, version: i16) -> DescribeConfigsResourceResult {
    let mut out = DescribeConfigsResourceResult::default()
        .with_name(sb(e.name))
        .with_value(e.value.map(sb))
        .with_read_only(e.read_only)
        .with_is_sensitive(e.sensitive)
        .with_config_source(e.source as i8)
        // Kafka answers null unless include_documentation was asked for; Gregor has none.
        .with_documentation(None);
    if synonyms {
        out = out.with_synonyms(
            e.synonyms
                .into_iter()
                .map(|(n, v, s)| {
                    DescribeConfigsSynonym::default()
                        .with_name(sb(n))
                        .with_value(v.map(sb))
                        .with_source(s as i8)
                })
                .collect(),
        );
    }
    if version >= 3 {
        out = out.with_config_type(e.kind.map_or(0, ConfigType::code));
    }
    out
}

/// A synonym as DescribeConfigs lists it: (name, value, source).
type Synonym = (String, Option<String>, ConfigSource);

/// Values set for broker keys, as synonyms.
fn layer_synonyms(layers: &[Layer]) -> Vec<Synonym> {
    layers
        .iter()
        .map(|l| (l.key.to_string(), Some(l.value.clone()), l.source))
        .collect()
}

/// The synonyms of a topic config's broker key as Kafka lists them: each value set for it and
/// the keys it falls back to (dynamic for this broker, dynamic default, static), then, if any
/// is set, the defaults of those fallback keys, then the broker key's own default if it has
/// one.
fn broker_key_synonyms(cfg: &Config, d: &TopicConfigDef) -> Vec<Synonym> {
    let layers = cfg.topic_default_layers(d);
    let mut out = layer_synonyms(&layers);
    if !layers.is_empty() {
        for u in unit_synonyms(d.broker_key) {
            if let Some(default) = u.default {
                out.push((
                    u.key.to_string(),
                    Some(default.to_string()),
                    ConfigSource::Default,
                ));
            }
        }
    }
    if d.default_synonym {
        out.push((
            d.broker_key.to_string(),
            Some(d.default.to_string()),
            ConfigSource::Default,
        ));
    }
    out
}

fn topic_entries(node: &Node, name: &str) -> Result<Vec<Entry>, (ResponseError, String)> {
    let topic = node.cluster.topics.get(name).ok_or_else(|| {
        (
            ResponseError::UnknownTopicOrPartition,
            format!("unknown topic {name}"),
        )
    })?;
    let overrides = topic.overrides();
    let cfg = node.cluster.topics.broker_config();
    Ok(TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.get(d.name) {
                synonyms.push((
                    d.name.to_string(),
                    Some(v.clone()),
                    ConfigSource::DynamicTopic,
                ));
            }
            synonyms.extend(broker_key_synonyms(cfg, d));
            let (value, source) = match overrides.get(d.name) {
                Some(v) => (v.clone(), ConfigSource::DynamicTopic),
                None => cfg.topic_default(d),
            };
            Entry {
                name: d.name.to_string(),
                value: Some(value),
                source,
                read_only: false,
                sensitive: false,
                kind: Some(d.kind),
                synonyms,
            }
        })
        .collect())
}

/// The broker a BROKER resource names: `None` for the cluster default (the empty name), this
/// broker's id, or an error for any other.
fn broker_entity(node: &Node, name: &str) -> Result<Option<i32>, (ResponseError, String)> {
    if name.is_empty() {
        return Ok(None);
    }
    if name == node.id.to_string() {
        return Ok(Some(node.id));
    }
    Err((
        ResponseError::InvalidRequest,
        format!(
            "Unexpected broker id, expected {} or empty string, but received {name}",
            node.id
        ),
    ))
}

/// A dynamic key Gregor does not know, as Kafka describes one: sensitive, read-only, value
/// null.
fn unknown_entry(key: &str, source: ConfigSource) -> Entry {
    Entry {
        name: key.to_string(),
        value: None,
        source,
        read_only: true,
        sensitive: true,
        kind: None,
        synonyms: vec![(key.to_string(), None, source)],
    }
}

/// The cluster-wide default entity: only the keys set there.
fn cluster_default_entries(node: &Node) -> Vec<Entry> {
    let source = ConfigSource::DynamicDefaultBroker;
    node.cluster
        .topics
        .broker_config()
        .dynamic_configs()
        .cluster_default
        .into_iter()
        .map(|(k, v)| {
            let kind = match classify_dynamic(&k) {
                DynamicKey::TopicDefault(d) => d.kind,
                DynamicKey::UnitSynonym => ConfigType::Int(1),
                DynamicKey::Unknown | DynamicKey::Static => return unknown_entry(&k, source),
            };
            Entry {
                synonyms: vec![(k.clone(), Some(v.clone()), source)],
                name: k,
                value: Some(v),
                source,
                read_only: false,
                sensitive: false,
                kind: Some(kind),
            }
        })
        .collect()
}

/// Every config of this broker: its own keys, the topic defaults, unknown dynamic keys.
fn broker_entries(node: &Node) -> Vec<Entry> {
    let cfg = node.cluster.topics.broker_config();
    let mut out: Vec<Entry> = BROKER_CONFIGS
        .iter()
        .map(|d| {
            let (configured, source) = cfg.broker_value(d);
            // What is in force where the broker resolved it at start.
            let value = match d.name {
                "node.id" => node.id.to_string(),
                "listeners" => format!("PLAINTEXT://{}", cfg.listen),
                "advertised.listeners" => {
                    let me = node.info();
                    format!("PLAINTEXT://{}:{}", me.host, me.port)
                }
                "log.dirs" => cfg.data_dir.display().to_string(),
                _ => configured,
            };
            let mut synonyms = Vec::new();
            if source == ConfigSource::StaticBroker {
                synonyms.push((d.name.to_string(), Some(value.clone()), source));
            }
            synonyms.push((
                d.name.to_string(),
                Some(d.default.to_string()),
                ConfigSource::Default,
            ));
            Entry {
                name: d.name.to_string(),
                value: Some(value),
                source,
                read_only: true,
                sensitive: false,
                kind: Some(d.kind),
                synonyms,
            }
        })
        .collect();
    for d in TOPIC_CONFIGS {
        if d.broker_key.is_empty() || out.iter().any(|e| e.name == d.broker_key) {
            continue;
        }
        let (value, source) = cfg.topic_default(d);
        // A broker key whose own default is null in Kafka (derived from another key) reads
        // null until it is set; topic defaults are dynamically alterable, so not read-only.
        let value = (source != ConfigSource::Default || d.default_synonym).then_some(value);
        out.push(Entry {
            name: d.broker_key.to_string(),
            value,
            source,
            read_only: false,
            sensitive: false,
            kind: Some(d.kind),
            synonyms: broker_key_synonyms(cfg, d),
        });
    }
    // The coarser-unit keys topic defaults fall back to (`log.retention.hours`, ...).
    for d in TOPIC_CONFIGS {
        for u in unit_synonyms(d.broker_key) {
            let layers = cfg.key_layers(u.key);
            let mut synonyms = layer_synonyms(&layers);
            if let Some(default) = u.default {
                synonyms.push((
                    u.key.to_string(),
                    Some(default.to_string()),
                    ConfigSource::Default,
                ));
            }
            let (value, source) = match layers.first() {
                Some(l) => (Some(l.value.clone()), l.source),
                None => (u.default.map(str::to_string), ConfigSource::Default),
            };
            out.push(Entry {
                name: u.key.to_string(),
                value,
                source,
                read_only: false,
                sensitive: false,
                kind: Some(if u.factor == 1 {
                    ConfigType::Long(1)
                } else {
                    ConfigType::Int(1)
                }),
                synonyms,
            });
        }
    }
    let dynamic = cfg.dynamic_configs();
    if let Some(own) = dynamic.entity(Some(node.id)) {
        for k in own.keys() {
            if matches!(classify_dynamic(k), DynamicKey::Unknown) {
                out.push(unknown_entry(k, ConfigSource::DynamicBroker));
            }
        }
    }
    out
}

fn alter_error(e: &TopicError) -> (i16, Option<StrBytes>) {
    (e.code().code(), Some(sb(e.to_string())))
}

/// Applies `f` to the overrides of a topic or to a broker entity's dynamic configs; a broker
/// key's current value for APPEND/SUBTRACT comes from `current`.
fn alter_resource(
    node: &Node,
    resource_type: i8,
    name: &str,
    validate_only: bool,
    f: impl FnOnce(&mut BTreeMap<String, String>),
) -> (i16, Option<StrBytes>) {
    let topics = &node.cluster.topics;
    let result = match resource_type {
        RESOURCE_TOPIC => topics.alter_configs(name, validate_only, f),
        RESOURCE_BROKER => match broker_entity(node, name) {
            Ok(entity) => topics.alter_broker_configs(entity, validate_only, f),
            Err((code, msg)) => return (code.code(), Some(sb(msg))),
        },
        _ => {
            return (
                ResponseError::InvalidRequest.code(),
                Some(sb(format!("unsupported resource type {resource_type}"))),
            )
        }
    };
    match result {
        Ok(()) => (0, None),
        Err(e) => alter_error(&e),
    }
}

/// AlterConfigs: replaces a resource's whole set of overrides (a topic's, or a broker
/// entity's dynamic configs).
pub fn alter(node: &Node, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let responses = req
        .resources
        .into_iter()
        .map(|res| {
            let set: Vec<(String, Option<String>)> = res
                .configs
                .iter()
                .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                .collect();
            let (code, msg) = alter_resource(
                node,
                res.resource_type,
                &res.resource_name,
                req.validate_only,
                |m| {
                    m.clear();
                    for (k, v) in set {
                        if let Some(v) = v {
                            m.insert(k, v);
                        }
                    }
                },
            );
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name)
                .with_error_code(code)
                .with_error_message(msg)
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}

/// IncrementalAlterConfigs: SET (0), DELETE (1), APPEND (2), SUBTRACT (3) per key.
pub fn incremental_alter(
    node: &Node,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let cfg = node.cluster.topics.broker_config();
    let responses = req
        .resources
        .into_iter()
        .map(|res| {
            let ops: Vec<(String, i8, Option<String>)> = res
                .configs
                .iter()
                .map(|c| {
                    (
                        c.name.to_string(),
                        c.config_operation,
                        c.value.as_ref().map(|v| v.to_string()),
                    )
                })
                .collect();
            let bad_op = ops
                .iter()
                .find(|(_, op, v)| !matches!((op, v), (0 | 2 | 3, Some(_)) | (1, _)))
                .map(|(k, _, _)| k.clone());
            let (code, msg) = match bad_op {
                Some(k) => (
                    ResponseError::InvalidConfig.code(),
                    Some(sb(format!("invalid operation or missing value for {k}"))),
                ),
                None => {
                    let is_topic = res.resource_type == RESOURCE_TOPIC;
                    // The value a list key has before APPEND/SUBTRACT when the resource does not
                    // set it: the broker-level default for a topic, the static or built-in
                    // value for a broker key.
                    let inherited = |k: &str| -> Option<String> {
                        if is_topic {
                            topic_config_def(k).map(|d| cfg.topic_default(d).0)
                        } else {
                            TOPIC_CONFIGS
                                .iter()
                                .find(|d| d.broker_key == k)
                                .map(|d| cfg.topic_default(d).0)
                        }
                    };
                    alter_resource(
                        node,
                        res.resource_type,
                        &res.resource_name,
                        req.validate_only,
                        |m| apply_ops(m, ops, inherited),
                    )
                }
            };
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name)
                .with_error_code(code)
                .with_error_message(msg)
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// The incremental operations on one resource's map (already checked: SET, APPEND and
/// SUBTRACT carry a value).
fn apply_ops(
    m: &mut BTreeMap<String, String>,
    ops: Vec<(String, i8, Option<String>)>,
    inherited: impl Fn(&str) -> Option<String>,
) {
    for (k, op, v) in ops {
        let current = m.get(&k).cloned().or_else(|| inherited(&k));
        match (op, v) {
            (0, Some(v)) => {
                m.insert(k, v);
            }
            (1, _) => {
                m.remove(&k);
            }
            (2, Some(v)) => {
                let mut items: Vec<String> = list_items(current);
                for i in v.split(',').map(str::trim) {
                    if !items.iter().any(|x| x == i) {
                        items.push(i.to_string());
                    }
                }
                m.insert(k, items.join(","));
            }
            (3, Some(v)) => {
                let drop: Vec<&str> = v.split(',').map(str::trim).collect();
                let items: Vec<String> = list_items(current)
                    .into_iter()
                    .filter(|x| !drop.contains(&x.as_str()))
                    .collect();
                m.insert(k, items.join(","));
            }
            _ => {}
        }
    }
}

fn list_items(v: Option<String>) -> Vec<String> {
    v.map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    })
    .unwrap_or_default()
}
