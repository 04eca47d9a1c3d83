//! `/api/cluster` and `/api/topics`: the list (messages and bytes from each partition's log),
//! one topic's partitions and configs, create, delete, and a partition's producers.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, Answer, ApiError};
use crate::cluster::Cluster;
use crate::config::ConfigSource;
use crate::topics::{Partition, Topic};

/// One partition's offsets and size, read under its lock (no I/O).
#[derive(Debug, Clone, Copy)]
pub(super) struct Offsets {
    pub(super) log_start: i64,
    pub(super) high_watermark: i64,
    pub(super) last_stable: i64,
    pub(super) size_bytes: u64,
}

pub(super) fn offsets(p: &Partition) -> Offsets {
    let log = p.log();
    Offsets {
        log_start: log.log_start_offset(),
        high_watermark: log.high_watermark(),
        last_stable: log.last_stable_offset(),
        size_bytes: log.size_bytes(),
    }
}

fn cleanup_policy(c: &Cluster, t: &Topic) -> String {
    c.topics
        .effective_configs(t)
        .into_iter()
        .find(|e| e.name == "cleanup.policy")
        .map_or_else(|| "delete".to_string(), |e| e.value)
}

/// A topic as the list shows it.
fn summary(c: &Cluster, t: &Topic) -> Value {
    let (mut messages, mut size) = (0i64, 0u64);
    for p in t.partitions() {
        let o = offsets(&p);
        messages += (o.high_watermark - o.log_start).max(0);
        size += o.size_bytes;
    }
    json!({
        "name": t.name,
        "id": t.id.to_string(),
        "internal": t.internal,
        "partitions": t.partition_count(),
        "replication_factor": t.replication_factor,
        "messages": messages,
        "size_bytes": size,
        "cleanup_policy": cleanup_policy(c, t),
    })
}

/// The topic `name`, or 404.
pub(super) fn topic(c: &Cluster, name: &str) -> Result<Arc<Topic>, ApiError> {
    c.topics
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("no topic {name}")))
}

/// `GET /api/cluster`.
pub(super) async fn cluster(State(c): State<Arc<Cluster>>) -> Json<Value> {
    let brokers: Vec<Value> = c
        .all_nodes()
        .into_iter()
        .map(|(n, up)| json!({"id": n.id, "host": n.host, "port": n.port, "up": up}))
        .collect();
    let groups = c.groups.list_groups(Vec::new()).await.len();
    Json(json!({
        "cluster_id": c.cluster_id,
        "version": env!("CARGO_PKG_VERSION"),
        "controller": c.controller_id(),
        "brokers": brokers,
        "topics": c.topics.all().iter().filter(|t| !t.internal).count(),
        "groups": groups,
        "started_ms": c.clock.now_ms() - c.started.elapsed().as_millis() as i64,
        "now_ms": c.clock.now_ms(),
    }))
}

/// `?internal=true`.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    internal: bool,
}

/// `GET /api/topics`.
pub(super) async fn list(State(c): State<Arc<Cluster>>, Query(q): Query<ListQuery>) -> Answer {
    blocking(move || {
        let mut topics = c.topics.all();
        topics.retain(|t| q.internal || !t.internal);
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let list: Vec<Value> = topics.iter().map(|t| summary(&c, t)).collect();
        Ok(Json(json!({ "topics": list })))
    })
    .await
}

/// `POST /api/topics` body.
#[derive(Debug, Deserialize)]
pub(super) struct Create {
    name: String,
    #[serde(default = "minus_one")]
    partitions: i32,
    #[serde(default = "minus_one")]
    replication_factor: i32,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

fn minus_one() -> i32 {
    -1
}

/// `POST /api/topics`.
pub(super) async fn create(
    State(c): State<Arc<Cluster>>,
    Json(req): Json<Create>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    blocking(move || {
        let t = c
            .topics
            .create(&req.name, req.partitions, req.replication_factor, req.configs)?;
        tracing::info!(topic = %t.name, partitions = t.partition_count(), "topic created from the console");
        Ok((StatusCode::CREATED, Json(summary(&c, &t))))
    })
    .await
}

/// `GET /api/topics/{t}`.
pub(super) async fn describe(State(c): State<Arc<Cluster>>, Path(name): Path<String>) -> Answer {
    blocking(move || {
        let t = topic(&c, &name)?;
        let mut out = summary(&c, &t);
        let partitions: Vec<Value> = t
            .partitions()
            .iter()
            .map(|p| {
                let o = offsets(p);
                let (leader, epoch) = p.leadership_now();
                json!({
                    "partition": p.index,
                    "leader": leader,
                    "leader_epoch": epoch,
                    "replicas": p.replicas(),
                    "log_start_offset": o.log_start,
                    "high_watermark": o.high_watermark,
                    "last_stable_offset": o.last_stable,
                    "size_bytes": o.size_bytes,
                    "messages": (o.high_watermark - o.log_start).max(0),
                })
            })
            .collect();
        let configs: Vec<Value> = c
            .topics
            .effective_configs(&t)
            .into_iter()
            .map(|e| {
                let source = match e.source {
                    ConfigSource::DynamicTopic => "topic",
                    ConfigSource::Default => "default",
                    _ => "broker",
                };
                json!({"name": e.name, "value": e.value, "source": source})
            })
            .collect();
        out["partitions"] = json!(partitions);
        out["configs"] = json!(configs);
        Ok(Json(out))
    })
    .await
}

/// `DELETE /api/topics/{t}`.
pub(super) async fn delete(State(c): State<Arc<Cluster>>, Path(name): Path<String>) -> Answer {
    blocking(move || {
        c.topics.delete(&name)?;
        tracing::info!(topic = %name, "topic deleted from the console");
        Ok(Json(json!({ "deleted": name })))
    })
    .await
}

/// `GET /api/topics/{t}/producers`: the producer state each partition keeps.
pub(super) async fn producers(State(c): State<Arc<Cluster>>, Path(name): Path<String>) -> Answer {
    blocking(move || {
        let t = topic(&c, &name)?;
        let mut out = Vec::new();
        for p in t.partitions() {
            let log = p.log();
            for (id, e) in log.producer_state().iter() {
                out.push(json!({
                    "partition": p.index,
                    "producer_id": id,
                    "producer_epoch": e.epoch,
                    "last_sequence": e.batches.back().map_or(-1, |b| b.last_seq),
                    "last_timestamp": e.last_timestamp,
                    "current_txn_start_offset": e.current_txn_first_offset,
                }));
            }
        }
        Ok(Json(json!({ "producers": out })))
    })
    .await
}
