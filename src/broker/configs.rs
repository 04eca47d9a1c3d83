//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topic resources, and
//! DescribeConfigs for this broker (its configs are static: set at start-up).

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
use crate::config::{ConfigSource, ConfigType, BROKER_CONFIGS, TOPIC_CONFIGS};
use crate::topics::TopicError;

/// Kafka's `ConfigResource.Type` codes.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// One described config before it is turned into the wire struct.
struct Entry {
    name: String,
    value: String,
    source: ConfigSource,
    read_only: bool,
    kind: ConfigType,
    /// (name, value, source), most specific first, as Kafka lists synonyms.
    synonyms: Vec<(String, String, ConfigSource)>,
}

/// DescribeConfigs for topics and for this broker.
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
                RESOURCE_BROKER => broker_entries(node, &res.resource_name),
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
        .with_value(Some(sb(e.value)))
        .with_read_only(e.read_only)
        .with_config_source(e.source as i8);
    if synonyms {
        out = out.with_synonyms(
            e.synonyms
                .into_iter()
                .map(|(n, v, s)| {
                    DescribeConfigsSynonym::default()
                        .with_name(sb(n))
                        .with_value(Some(sb(v)))
                        .with_source(s as i8)
                })
                .collect(),
        );
    }
    if version >= 3 {
        out = out.with_config_type(e.kind.code());
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
            let (broker_value, broker_source) = cfg.topic_default(d);
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.get(d.name) {
                synonyms.push((d.name.to_string(), v.clone(), ConfigSource::DynamicTopic));
            }
            if broker_source == ConfigSource::StaticBroker {
                synonyms.push((
                    d.broker_key.to_string(),
                    broker_value.clone(),
                    ConfigSource::StaticBroker,
                ));
            }
            synonyms.push((
                d.broker_key.to_string(),
                d.default.to_string(),
                ConfigSource::Default,
            ));
            let (value, source) = match overrides.get(d.name) {
                Some(v) => (v.clone(), ConfigSource::DynamicTopic),
                None => (broker_value, broker_source),
            };
            Entry {
                name: d.name.to_string(),
                value,
                source,
                read_only: false,
                kind: d.kind,
                synonyms,
            }
        })
        .collect())
}

fn broker_entries(node: &Node, name: &str) -> Result<Vec<Entry>, (ResponseError, String)> {
    if !name.is_empty() && name != node.id.to_string() {
        return Err((
            ResponseError::InvalidRequest,
            format!("unknown broker {name}"),
        ));
    }
    let cfg = node.cluster.topics.broker_config();
    let entry = |key: &str, value: String, source: ConfigSource, kind: ConfigType| Entry {
        name: key.to_string(),
        synonyms: vec![(key.to_string(), value.clone(), source)],
        value,
        source,
        read_only: true,
        kind,
    };
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
            entry(d.name, value, source, d.kind)
        })
        .collect();
    for d in TOPIC_CONFIGS {
        if out.iter().any(|e| e.name == d.broker_key) {
            continue;
        }
        let (value, source) = cfg.topic_default(d);
        out.push(entry(d.broker_key, value, source, d.kind));
    }
    Ok(out)
}

fn alter_error(e: &TopicError) -> (i16, Option<StrBytes>) {
    (e.code().code(), Some(sb(e.to_string())))
}

fn broker_refusal() -> (i16, Option<StrBytes>) {
    (
        ResponseError::InvalidRequest.code(),
        Some(sb(
            "broker configs are static in Gregor: set them at start-up",
        )),
    )
}

/// AlterConfigs: replaces a topic's whole set of overrides.
pub fn alter(node: &Node, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let responses = req
        .resources
        .into_iter()
        .map(|res| {
            let (code, msg) = match res.resource_type {
                RESOURCE_TOPIC => {
                    let set: Vec<(String, Option<String>)> = res
                        .configs
                        .iter()
                        .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                        .collect();
                    match node.cluster.topics.alter_configs(
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
                    ) {
                        Ok(()) => (0, None),
                        Err(e) => alter_error(&e),
                    }
                }
                _ => broker_refusal(),
            };
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
    let responses = req
        .resources
        .into_iter()
        .map(|res| {
            let (code, msg) = match res.resource_type {
                RESOURCE_TOPIC => {
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
                    let cfg = node.cluster.topics.broker_config();
                    let result = match &bad_op {
                        Some(_) => Ok(()),
                        None => node.cluster.topics.alter_configs(
                            &res.resource_name,
                            req.validate_only,
                            |m| {
                                for (k, op, v) in ops {
                                    let current = || {
                                        m.get(&k).cloned().or_else(|| {
                                            crate::config::topic_config_def(&k)
                                                .map(|d| cfg.topic_default(d).0)
                                        })
                                    };
                                    match (op, v) {
                                        (0, Some(v)) => {
                                            m.insert(k, v);
                                        }
                                        (1, _) => {
                                            m.remove(&k);
                                        }
                                        (2, Some(v)) => {
                                            let mut items: Vec<String> = list_items(current());
                                            for i in v.split(',').map(str::trim) {
                                                if !items.iter().any(|x| x == i) {
                                                    items.push(i.to_string());
                                                }
                                            }
                                            m.insert(k, items.join(","));
                                        }
                                        (3, Some(v)) => {
                                            let drop: Vec<&str> =
                                                v.split(',').map(str::trim).collect();
                                            let items: Vec<String> = list_items(current())
                                                .into_iter()
                                                .filter(|x| !drop.contains(&x.as_str()))
                                                .collect();
                                            m.insert(k, items.join(","));
                                        }
                                        _ => {}
                                    }
                                }
                            },
                        ),
                    };
                    match (result, bad_op) {
                        (_, Some(k)) => (
                            ResponseError::InvalidConfig.code(),
                            Some(sb(format!("invalid operation or missing value for {k}"))),
                        ),
                        (Ok(()), None) => (0, None),
                        (Err(e), None) => alter_error(&e),
                    }
                }
                _ => broker_refusal(),
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
