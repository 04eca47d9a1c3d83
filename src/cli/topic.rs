//! `gregor topic create|list|describe|delete`: CreateTopics, Metadata, ListOffsets,
//! DescribeConfigs and DeleteTopics.

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{
    CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde_json::{json, Value};
use uuid::Uuid;

use super::client::{Client, Error, To, BROKER_TIMEOUT_MS};
use super::{ids, key_value, table, Format, Out, TopicArgs, TopicCommand};

/// DescribeConfigs' resource type for a topic.
const RESOURCE_TOPIC: i8 = 2;
/// DescribeConfigs' `config_source` of a value nobody set.
const DEFAULT_CONFIG: i8 = 5;

/// Runs `gregor topic ...`.
pub fn run(a: &TopicArgs) -> Result<(), Error> {
    let mut c = Client::connect(&a.conn.bootstrap)?;
    let mut out = Out::new();
    let f = a.conn.format;
    match &a.what {
        TopicCommand::Create {
            name,
            partitions,
            replication_factor,
            configs,
        } => create(
            &mut c,
            &mut out,
            f,
            name,
            *partitions,
            *replication_factor,
            configs,
        ),
        TopicCommand::List { internal } => list(&mut c, &mut out, f, *internal),
        TopicCommand::Describe { name } => describe(&mut c, &mut out, f, name),
        TopicCommand::Delete { names } => delete(&mut c, &mut out, f, names),
    }
}

/// A topic id as Kafka's tools print it: URL-safe base64 of its 16 bytes, unpadded.
pub fn kafka_uuid(id: &Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= u32::from(*b) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Where admin requests go: the controller Metadata names (Kafka's KRaft brokers forward
/// them anyway), else any broker.
fn admin_node(c: &mut Client) -> Result<To, Error> {
    let m = c.metadata(Some(&[]))?;
    Ok(if m.brokers.contains_key(&m.controller) {
        To::Node(m.controller)
    } else {
        To::Any
    })
}

fn create(
    c: &mut Client,
    out: &mut Out,
    f: Format,
    name: &str,
    partitions: Option<i32>,
    replication: Option<i16>,
    configs: &[String],
) -> Result<(), Error> {
    let configs = configs
        .iter()
        .map(|kv| key_value(kv, "config"))
        .collect::<Result<Vec<_>, _>>()?;
    let to = admin_node(c)?;
    let (_, resp) = c.call(to, |_| {
        CreateTopicsRequest::default()
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_num_partitions(partitions.unwrap_or(-1))
                .with_replication_factor(replication.unwrap_or(-1))
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(StrBytes::from_string(k.clone()))
                                .with_value(Some(StrBytes::from_string(v.clone())))
                        })
                        .collect(),
                )])
            .with_timeout_ms(BROKER_TIMEOUT_MS)
    })?;
    let t = resp
        .topics
        .into_iter()
        .next()
        .ok_or_else(|| Error::Invalid("CreateTopics answered no topic".into()))?;
    Error::check(t.error_code, t.error_message.as_ref(), || {
        format!("create topic '{name}'")
    })?;
    let known = |n: i64| (n >= 0).then_some(n);
    let (p, rf) = (
        known(i64::from(t.num_partitions)),
        known(i64::from(t.replication_factor)),
    );
    match f {
        Format::Json => out.json(&json!({
            "name": name,
            "topic_id": (!t.topic_id.is_nil()).then(|| kafka_uuid(&t.topic_id)),
            "partitions": p,
            "replication_factor": rf,
        })),
        Format::Table => out.put(&match (p, rf) {
            (Some(p), Some(rf)) => format!(
                "Created topic '{name}' ({p} partition{}, replication factor {rf}).\n",
                if p == 1 { "" } else { "s" }
            ),
            _ => format!("Created topic '{name}'.\n"),
        }),
    }
}

fn list(c: &mut Client, out: &mut Out, f: Format, internal: bool) -> Result<(), Error> {
    let m = c.metadata(None)?;
    let topics: Vec<_> = m
        .topics
        .iter()
        .filter(|t| internal || !t.internal)
        .filter(|t| t.error.is_none())
        .collect();
    let rf = |t: &super::metadata::TopicInfo| t.partitions.first().map_or(0, |p| p.replicas.len());
    match f {
        Format::Json => out.json(&Value::Array(
            topics
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "topic_id": (!t.id.is_nil()).then(|| kafka_uuid(&t.id)),
                        "partitions": t.partitions.len(),
                        "replication_factor": rf(t),
                        "internal": t.internal,
                    })
                })
                .collect(),
        )),
        Format::Table => {
            let rows: Vec<Vec<String>> = topics
                .iter()
                .map(|t| {
                    let mut r = vec![
                        t.name.clone(),
                        t.partitions.len().to_string(),
                        rf(t).to_string(),
                    ];
                    if internal {
                        r.push(if t.internal { "yes" } else { "no" }.to_string());
                    }
                    r
                })
                .collect();
            let mut head = vec!["NAME", "PARTITIONS", "REPLICAS"];
            if internal {
                head.push("INTERNAL");
            }
            out.put(&table(&head, &rows))
        }
    }
}

/// A topic's non-default configs (DescribeConfigs), sorted by name.
fn configs(c: &mut Client, name: &str) -> Result<Vec<(String, Option<String>)>, Error> {
    let (_, resp) = c.call(To::Any, |_| {
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(RESOURCE_TOPIC)
            .with_resource_name(StrBytes::from_string(name.to_string()))
            .with_configuration_keys(None)])
    })?;
    let r = resp
        .results
        .into_iter()
        .next()
        .ok_or_else(|| Error::Invalid("DescribeConfigs answered no resource".into()))?;
    Error::check(r.error_code, r.error_message.as_ref(), || {
        format!("configs of topic '{name}'")
    })?;
    let mut v: Vec<(String, Option<String>)> = r
        .configs
        .into_iter()
        .filter(|e| e.config_source != DEFAULT_CONFIG)
        .map(|e| {
            let value = if e.is_sensitive {
                Some("(sensitive)".to_string())
            } else {
                e.value.map(|v| v.to_string())
            };
            (e.name.to_string(), value)
        })
        .collect();
    v.sort();
    Ok(v)
}

fn describe(c: &mut Client, out: &mut Out, f: Format, name: &str) -> Result<(), Error> {
    let m = c.metadata_ready(&[name.to_string()])?;
    let t = m.require(name)?.clone();
    let parts: Vec<(String, i32)> = t
        .partitions
        .iter()
        .map(|p| (name.to_string(), p.partition))
        .collect();
    let start = c.list_offsets(&parts, -2, 0)?;
    let end = c.list_offsets(&parts, -1, 0)?;
    let configs = configs(c, name)?;
    let offsets = |p: i32| {
        let key = (name.to_string(), p);
        let s = start.get(&key).copied().unwrap_or(-1);
        let e = end.get(&key).copied().unwrap_or(-1);
        (s, e, (e - s).max(0))
    };
    let rf = t.partitions.first().map_or(0, |p| p.replicas.len());
    let id = (!t.id.is_nil()).then(|| kafka_uuid(&t.id));
    match f {
        Format::Json => out.json(&json!({
            "name": name,
            "topic_id": id,
            "internal": t.internal,
            "replication_factor": rf,
            "partitions": t.partitions.iter().map(|p| {
                let (s, e, n) = offsets(p.partition);
                json!({
                    "partition": p.partition,
                    "leader": p.leader,
                    "leader_epoch": p.leader_epoch,
                    "replicas": p.replicas,
                    "isr": p.isr,
                    "log_start_offset": s,
                    "log_end_offset": e,
                    "messages": n,
                })
            }).collect::<Vec<_>>(),
            "configs": configs.iter().map(|(k, v)| (k.clone(), json!(v)))
                .collect::<serde_json::Map<_, _>>(),
        })),
        Format::Table => {
            let configs_text = configs
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",");
            let head = [
                vec!["NAME".to_string(), name.to_string()],
                vec!["ID".into(), id.unwrap_or_else(|| "-".into())],
                vec!["PARTITIONS".into(), t.partitions.len().to_string()],
                vec!["REPLICATION".into(), rf.to_string()],
                vec![
                    "INTERNAL".into(),
                    if t.internal { "yes" } else { "no" }.into(),
                ],
                vec![
                    "CONFIGS".into(),
                    if configs_text.is_empty() {
                        "-".into()
                    } else {
                        configs_text
                    },
                ],
            ];
            let mut text = String::new();
            for row in head {
                text.push_str(&format!("{:<13}{}\n", row[0], row[1]));
            }
            let rows: Vec<Vec<String>> = t
                .partitions
                .iter()
                .map(|p| {
                    let (s, e, n) = offsets(p.partition);
                    vec![
                        p.partition.to_string(),
                        p.leader.to_string(),
                        p.leader_epoch.to_string(),
                        ids(&p.replicas),
                        ids(&p.isr),
                        s.to_string(),
                        e.to_string(),
                        n.to_string(),
                    ]
                })
                .collect();
            text.push('\n');
            text.push_str(&table(
                &[
                    "PARTITION",
                    "LEADER",
                    "EPOCH",
                    "REPLICAS",
                    "ISR",
                    "LOG-START",
                    "LOG-END",
                    "MESSAGES",
                ],
                &rows,
            ));
            out.put(&text)
        }
    }
}

fn delete(c: &mut Client, out: &mut Out, f: Format, names: &[String]) -> Result<(), Error> {
    let to = admin_node(c)?;
    let (v, resp) = c.call(to, |v| {
        let name = |n: &String| TopicName(StrBytes::from_string(n.clone()));
        let r = DeleteTopicsRequest::default().with_timeout_ms(BROKER_TIMEOUT_MS);
        if v >= 6 {
            r.with_topics(
                names
                    .iter()
                    .map(|n| DeleteTopicState::default().with_name(Some(name(n))))
                    .collect(),
            )
        } else {
            r.with_topic_names(names.iter().map(name).collect())
        }
    })?;
    let mut failed = Vec::new();
    let mut deleted = Vec::new();
    for r in resp.responses {
        let n = r.name.map(|n| n.to_string()).unwrap_or_default();
        let msg = if v >= 5 {
            r.error_message.as_ref()
        } else {
            None
        };
        match Error::check(r.error_code, msg, || format!("delete topic '{n}'")) {
            Ok(()) => deleted.push(n),
            Err(e) => failed.push(e),
        }
    }
    match f {
        Format::Json => out.json(&json!(deleted
            .iter()
            .map(|n| json!({ "name": n }))
            .collect::<Vec<_>>()))?,
        Format::Table => {
            for n in &deleted {
                out.put(&format!("Deleted topic '{n}'.\n"))?;
            }
        }
    }
    Error::all(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_print_as_kafka_does() {
        // Kafka's Uuid.toString of (mostSignificantBits 0, leastSignificantBits 1).
        assert_eq!(kafka_uuid(&Uuid::from_u128(1)), "AAAAAAAAAAAAAAAAAAAAAQ");
        assert_eq!(
            kafka_uuid(&Uuid::from_u128(u128::MAX)),
            "_____________________w"
        );
    }
}
