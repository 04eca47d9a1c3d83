//! The web console and `/metrics`, served by the admin endpoint (`gregor.admin.listener`,
//! 127.0.0.1:8080 by default, `--console ADDR|off`): a page embedded in the binary (`page/`),
//! the JSON API under `/api/` it uses (`API.md` is the contract), and Prometheus' text format
//! at `/metrics`.
//!
//! Everything is read from the broker's own state (the registry, the logs, the coordinators),
//! never through the Kafka protocol. Each read takes a partition's lock only for as long as a
//! log lookup takes; record bytes are read and decoded after it is released, and every
//! answer is bounded (message pages, search scans, field sizes). Work that may touch the disk
//! runs on the blocking pool, never on the reactor the listeners share.
//!
//! - [`topics`]: the topic list and detail, create and delete, producers.
//! - [`messages`]: browse, search and produce.
//! - [`groups`]: groups with their lag and assignment picture, offset resets, transactions.
//! - [`prometheus`]: the `/metrics` exposition.

mod groups;
mod messages;
mod prometheus;
mod topics;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::cluster::Cluster;
use crate::topics::TopicError;

/// The page, its script and its style sheet, compiled in.
const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const STYLE_CSS: &str = include_str!("page/style.css");

/// A shown field is cut at this many bytes (`truncated` in the answer).
const FIELD_LIMIT: usize = 16 * 1024;

/// The console's routes, on `cluster`.
pub fn router(cluster: Arc<Cluster>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/console/app.js",
            get(|| async { page("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/console/style.css",
            get(|| async { page("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route("/metrics", get(prometheus::scrape))
        .route("/api/cluster", get(topics::cluster))
        .route("/api/topics", get(topics::list).post(topics::create))
        .route(
            "/api/topics/{topic}",
            get(topics::describe).delete(topics::delete),
        )
        .route("/api/topics/{topic}/producers", get(topics::producers))
        .route(
            "/api/topics/{topic}/messages",
            get(messages::browse).post(messages::produce),
        )
        .route("/api/groups", get(groups::list))
        .route("/api/groups/{group}", get(groups::describe))
        .route("/api/groups/{group}/offsets", post(groups::reset_offsets))
        .route("/api/transactions", get(groups::transactions))
        .with_state(cluster)
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// An error answer: `{"error": "..."}` with a status.
#[derive(Debug)]
pub(crate) struct ApiError(StatusCode, String);

impl ApiError {
    fn bad(msg: impl Into<String>) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, msg.into())
    }

    fn not_found(msg: impl Into<String>) -> ApiError {
        ApiError(StatusCode::NOT_FOUND, msg.into())
    }

    fn conflict(msg: impl Into<String>) -> ApiError {
        ApiError(StatusCode::CONFLICT, msg.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<TopicError> for ApiError {
    fn from(e: TopicError) -> Self {
        let status = match &e {
            TopicError::Unknown(_) | TopicError::UnknownId(_) => StatusCode::NOT_FOUND,
            TopicError::AlreadyExists(_) => StatusCode::CONFLICT,
            TopicError::Io(_) | TopicError::Log(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError(status, e.to_string())
    }
}

type Answer = Result<Json<Value>, ApiError>;

/// Runs `f` (which may read or write the disk) on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())))
}

/// A bytes field as the API shows it (see `API.md`).
#[cfg(test)]
fn bytes_field(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, |b| {
        field_json(&b[..b.len().min(FIELD_LIMIT)], b.len())
    })
}

/// `shown`, the first bytes (at most [`FIELD_LIMIT`]) of a field of `size` bytes, as the API
/// shows it.
fn field_json(shown: &[u8], size: usize) -> Value {
    // A cut may split a UTF-8 sequence: text up to the last whole character.
    let text = match std::str::from_utf8(shown) {
        Ok(t) => Some(t),
        Err(e) if shown.len() < size && e.error_len().is_none() => {
            std::str::from_utf8(&shown[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    json!({
        "size": size,
        "text": text,
        "base64": base64::engine::general_purpose::STANDARD.encode(shown),
        "truncated": shown.len() < size,
    })
}

/// A field sent by the page: text, or base64 when `encoding` says so.
fn decode_field(v: Option<&str>, base64: bool) -> Result<Option<Vec<u8>>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) if base64 => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Some)
            .map_err(|e| ApiError::bad(format!("not base64: {e}"))),
        Some(s) => Ok(Some(s.as_bytes().to_vec())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_fields_are_cut_and_keep_whole_characters() {
        assert_eq!(bytes_field(None), Value::Null);
        let v = bytes_field(Some(b"hi"));
        assert_eq!(v["text"], "hi");
        assert_eq!(v["base64"], "aGk=");
        assert_eq!(v["truncated"], false);
        let v = bytes_field(Some(&[0xff, 0x00]));
        assert_eq!(v["text"], Value::Null);
        // 'é' is two bytes; one straddles the cut.
        let mut long = vec![b'a'; FIELD_LIMIT - 1];
        long.extend("é".as_bytes());
        let v = bytes_field(Some(&long));
        assert_eq!(v["truncated"], true);
        assert_eq!(v["size"], FIELD_LIMIT + 1);
        assert_eq!(v["text"].as_str().map(str::len), Some(FIELD_LIMIT - 1));
        assert!(decode_field(Some("!!"), true).is_err());
        assert_eq!(
            decode_field(Some("aGk="), true).unwrap(),
            Some(b"hi".to_vec())
        );
    }
}
