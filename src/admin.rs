//! The HTTP admin endpoint (`gregor.admin.listener`, 127.0.0.1:8080 by default, loopback only
//! unless `gregor.admin.allow.remote`): JSON under `/admin/` for what `gregor ctl` does:
//! fault rules, leader and coordinator moves, brokers down and up, the request log. It reads
//! and changes the [`Cluster`] directly; it is not a Kafka protocol and clients never need it.
//!
//! | method and path | body / query | answer |
//! |---|---|---|
//! | `GET /admin/cluster` | | brokers (id, host, port, up), controller |
//! | `GET /admin/partitions?topic=T` | | each partition's leader, epoch, replicas |
//! | `POST /admin/leaders/move` | `{"topic","partition","to"}` | the change |
//! | `POST /admin/leaders/shuffle` | `{"seed"}` | the changes |
//! | `POST /admin/coordinators/move` | `{"group"` or `"transactional_id", "to"}` | the change |
//! | `POST /admin/brokers/{id}/down`, `/up` | | the leadership changes |
//! | `GET /admin/faults` | | every rule with hits and remaining |
//! | `POST /admin/faults` | a rule ([`FaultSpec`]) | the rule with its id |
//! | `DELETE /admin/faults/{id}`, `DELETE /admin/faults` | | |
//! | `GET /admin/faults/{id}/wait?hits=N&timeout_ms=T` | | the rule once it fired N times; 408 on timeout |
//! | `GET /admin/requests?limit=N`, `DELETE /admin/requests` | | the request log, oldest first |
//!
//! Errors answer 400 (a bad rule or argument), 404 (no such rule, topic or broker) or 409
//! (a broker down), with `{"error": "..."}`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::cluster::faults::{FaultAction, FaultRule, FaultSpec, WaitOutcome};
use crate::cluster::topology::TopologyError;
use crate::cluster::Cluster;

/// Serves `app` (these routes and the console's) on `listener` until `stop` completes.
pub async fn serve(listener: TcpListener, app: Router, stop: impl Future + Send + 'static) {
    if let Ok(a) = listener.local_addr() {
        tracing::info!(addr = %a, "admin endpoint and console listening");
    }
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            stop.await;
        })
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "admin endpoint failed");
    }
}

/// The routes, on `cluster`.
pub fn router(cluster: Arc<Cluster>) -> Router {
    Router::new()
        .route("/admin/cluster", get(cluster_view))
        .route("/admin/partitions", get(partitions))
        .route("/admin/leaders/move", post(move_leader))
        .route("/admin/leaders/shuffle", post(shuffle))
        .route("/admin/coordinators/move", post(move_coordinator))
        .route("/admin/brokers/{id}/down", post(broker_down))
        .route("/admin/brokers/{id}/up", post(broker_up))
        .route(
            "/admin/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/admin/faults/{id}", get(get_fault).delete(remove_fault))
        .route("/admin/faults/{id}/wait", get(wait_fault))
        .route("/admin/requests", get(requests).delete(clear_requests))
        .with_state(cluster)
}

/// An error answer.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<TopologyError> for ApiError {
    fn from(e: TopologyError) -> Self {
        let status = match e {
            TopologyError::BrokerDown(_) | TopologyError::LastBroker(_) => StatusCode::CONFLICT,
            _ => StatusCode::NOT_FOUND,
        };
        ApiError(status, e.to_string())
    }
}

type Answer = Result<Json<Value>, ApiError>;

/// Runs a topology change (which may reload coordinator shards from disk) off the reactor.
async fn blocking<T: Serialize + Send + 'static>(
    f: impl FnOnce() -> Result<T, TopologyError> + Send + 'static,
) -> Answer {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(Json(json!(v))),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn cluster_view(State(c): State<Arc<Cluster>>) -> Json<Value> {
    let brokers: Vec<Value> = c
        .all_nodes()
        .into_iter()
        .map(|(n, up)| json!({"id": n.id, "host": n.host, "port": n.port, "up": up}))
        .collect();
    Json(json!({
        "cluster_id": c.cluster_id,
        "controller": c.controller_id(),
        "brokers": brokers,
    }))
}

#[derive(Deserialize)]
struct TopicQuery {
    topic: Option<String>,
}

async fn partitions(State(c): State<Arc<Cluster>>, Query(q): Query<TopicQuery>) -> Answer {
    let topics = match &q.topic {
        Some(t) => vec![c
            .topics
            .get(t)
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown topic {t}")))?],
        None => c.topics.all().into_iter().filter(|t| !t.internal).collect(),
    };
    let mut out = Vec::new();
    for t in topics {
        for p in t.partitions() {
            let (leader, epoch) = p.leadership_now();
            out.push(json!({
                "topic": t.name, "partition": p.index, "leader": leader,
                "epoch": epoch, "replicas": p.replicas(),
            }));
        }
    }
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
struct MoveLeader {
    topic: String,
    partition: i32,
    to: i32,
}

async fn move_leader(State(c): State<Arc<Cluster>>, Json(m): Json<MoveLeader>) -> Answer {
    blocking(move || c.move_leader(&m.topic, m.partition, m.to)).await
}

/// The seed of `POST /admin/leaders/shuffle` without one.
pub const DEFAULT_SHUFFLE_SEED: u64 = 0x5eed;

#[derive(Deserialize, Default)]
struct Shuffle {
    #[serde(default)]
    seed: Option<u64>,
}

async fn shuffle(State(c): State<Arc<Cluster>>, body: Option<Json<Shuffle>>) -> Answer {
    // Randomness only behind a seed: without one, the same fixed seed (each shuffle still
    // moves every leader, since it starts from where the last one left them).
    let seed = body.and_then(|b| b.0.seed).unwrap_or(DEFAULT_SHUFFLE_SEED);
    blocking(move || Ok(c.shuffle_leaders(seed))).await
}

#[derive(Deserialize)]
struct MoveCoordinator {
    group: Option<String>,
    transactional_id: Option<String>,
    to: i32,
}

async fn move_coordinator(State(c): State<Arc<Cluster>>, Json(m): Json<MoveCoordinator>) -> Answer {
    match (m.group, m.transactional_id) {
        (Some(g), None) => blocking(move || c.move_group_coordinator(&g, m.to)).await,
        (None, Some(t)) => blocking(move || c.move_txn_coordinator(&t, m.to)).await,
        _ => Err(ApiError(
            StatusCode::BAD_REQUEST,
            "give one of group or transactional_id".into(),
        )),
    }
}

async fn broker_down(State(c): State<Arc<Cluster>>, Path(id): Path<i32>) -> Answer {
    blocking(move || c.broker_down(id)).await
}

async fn broker_up(State(c): State<Arc<Cluster>>, Path(id): Path<i32>) -> Answer {
    blocking(move || c.broker_up(id)).await
}

/// A rule as the endpoint shows it.
pub fn rule_json(r: &FaultRule) -> Value {
    let action = match r.action {
        FaultAction::Error(_) => "error",
        FaultAction::LoseResponse => "lose-response",
        FaultAction::Delay(_) => "delay",
        FaultAction::Disconnect => "disconnect",
        FaultAction::Hang => "hang",
        FaultAction::DiskError(_) => "error",
    };
    json!({
        "id": r.id,
        "rule": r.describe(),
        "api": r.api.map_or("disk".to_string(), |a| format!("{a:?}")),
        "action": action,
        "spec": r.spec,
        "hits": r.hits,
        "remaining": r.remaining,
        "always": r.remaining.is_none(),
    })
}

async fn list_faults(State(c): State<Arc<Cluster>>) -> Json<Value> {
    Json(Value::Array(
        c.faults.list().iter().map(rule_json).collect(),
    ))
}

async fn add_fault(
    State(c): State<Arc<Cluster>>,
    body: Result<Json<FaultSpec>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let Json(spec) = body.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    match c.faults.add(spec) {
        Ok(r) => Ok(Json(rule_json(&r))),
        Err(e) => Err(ApiError(StatusCode::BAD_REQUEST, e.to_string())),
    }
}

async fn clear_faults(State(c): State<Arc<Cluster>>) -> Json<Value> {
    c.faults.clear();
    Json(json!({"cleared": true}))
}

async fn get_fault(State(c): State<Arc<Cluster>>, Path(id): Path<u64>) -> Answer {
    c.faults
        .get(id)
        .map(|r| Json(rule_json(&r)))
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no fault rule {id}")))
}

async fn remove_fault(State(c): State<Arc<Cluster>>, Path(id): Path<u64>) -> Answer {
    if c.faults.remove(id) {
        Ok(Json(json!({"removed": id})))
    } else {
        Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no fault rule {id}"),
        ))
    }
}

#[derive(Deserialize)]
struct WaitQuery {
    hits: Option<u64>,
    timeout_ms: Option<u64>,
}

async fn wait_fault(
    State(c): State<Arc<Cluster>>,
    Path(id): Path<u64>,
    Query(q): Query<WaitQuery>,
) -> Result<Json<Value>, ApiError> {
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(30_000).min(600_000));
    // A stopping broker answers at once, so a pending wait does not hold up the shutdown.
    let mut stopping = c.subscribe_stopping();
    let outcome = tokio::select! {
        o = c.faults.wait(id, q.hits.unwrap_or(1), timeout) => o,
        _ = stopping.wait_for(|s| *s) => {
            return Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, "the broker is stopping".into()));
        }
    };
    match outcome {
        WaitOutcome::Reached(r) => Ok(Json(rule_json(&r))),
        WaitOutcome::TimedOut(r) => Err(ApiError(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "rule {id} fired {} time(s), not {}, within {} ms",
                r.hits,
                q.hits.unwrap_or(1),
                timeout.as_millis()
            ),
        )),
        WaitOutcome::Gone => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no fault rule {id}"),
        )),
    }
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn requests(State(c): State<Arc<Cluster>>, Query(q): Query<Limit>) -> Json<Value> {
    Json(json!(c.requests.recent(q.limit.unwrap_or(100))))
}

async fn clear_requests(State(c): State<Arc<Cluster>>) -> Json<Value> {
    c.requests.clear();
    Json(json!({"cleared": true}))
}
