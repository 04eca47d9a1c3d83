//! `/api/topics/{t}/messages`: browse a topic from its newest or oldest record, an offset or a
//! timestamp, optionally searching keys, values and headers; and produce one record.
//!
//! Reading takes the partition's lock only to locate whole batches (as a fetch does), then
//! reads and decodes them without it. A call decodes at most [`SCAN_LIMIT`] records and
//! returns at most [`MAX_LIMIT`]; nothing past the high watermark is shown.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, bytes_field, decode_field, Answer, ApiError};
use crate::cluster::Cluster;
use crate::record::batch::check_batch;
use crate::record::builder::{simple_batch, RecordFields};
use crate::record::partitioner::partition_for_key;
use crate::record::reader::{RecordReader, Want};
use crate::record::validate::{validate_produce, DEFAULT_MAX_UNCOMPRESSED_BYTES};
use crate::topics::Partition;

/// Messages returned by default.
const DEFAULT_LIMIT: usize = 50;
/// At most this many messages per answer.
const MAX_LIMIT: usize = 500;
/// At most this many records decoded per call (a search over a big topic says `more`).
const SCAN_LIMIT: usize = 100_000;
/// Bytes located per log read.
const READ_BYTES: usize = 1024 * 1024;
/// Offsets stepped back per window when reading newest-first.
const WINDOW: i64 = 1_000;

/// The query string.
#[derive(Debug, Deserialize)]
pub(super) struct Browse {
    partition: Option<i32>,
    from: Option<String>,
    offset: Option<i64>,
    offsets: Option<String>,
    timestamp: Option<i64>,
    limit: Option<usize>,
    q: Option<String>,
}

/// One decoded record.
#[derive(Debug)]
struct Message {
    partition: i32,
    offset: i64,
    timestamp: i64,
    log_append_time: bool,
    transactional: bool,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Message {
    fn matches(&self, q: &[u8]) -> bool {
        if q.is_empty() {
            return true;
        }
        let has = |b: &[u8]| b.windows(q.len()).any(|w| w == q);
        self.key.as_deref().is_some_and(has)
            || self.value.as_deref().is_some_and(has)
            || self
                .headers
                .iter()
                .any(|(k, v)| has(k) || v.as_deref().is_some_and(has))
    }

    fn to_json(&self) -> Value {
        let headers: Vec<Value> = self
            .headers
            .iter()
            .map(|(k, v)| {
                json!({"key": String::from_utf8_lossy(k), "value": bytes_field(v.as_deref())})
            })
            .collect();
        json!({
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "timestamp_type": if self.log_append_time { "log_append" } else { "create" },
            "key": bytes_field(self.key.as_deref()),
            "value": bytes_field(self.value.as_deref()),
            "headers": headers,
            "transactional": self.transactional,
        })
    }
}

/// A scan's shared budget of decoded records.
struct Budget {
    left: usize,
    exhausted: bool,
}

/// Reads the records of `p` in `[from, to)` in offset order, calling `f` for each until it
/// returns false. Returns the offset after the last record passed to `f` (or where the read
/// stopped).
fn read_range(
    p: &Partition,
    from: i64,
    to: i64,
    budget: &mut Budget,
    mut f: impl FnMut(Message) -> bool,
) -> Result<i64, ApiError> {
    let mut pos = from;
    while pos < to {
        if budget.left == 0 {
            budget.exhausted = true;
            return Ok(pos);
        }
        let slice = match p.log().read(pos, READ_BYTES) {
            Ok(s) => s,
            Err(e) => return Err(ApiError::bad(e.to_string())),
        };
        if slice.is_empty() {
            return Ok(pos);
        }
        let bytes = slice
            .read_bytes()
            .map_err(|e| ApiError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let mut at = 0;
        let start = pos;
        while at < bytes.len() && pos < to {
            let Ok(h) = check_batch(&bytes[at..], at) else {
                break;
            };
            let batch = &bytes[at..at + h.total_len()];
            at += h.total_len();
            if h.next_offset() <= pos {
                continue;
            }
            if h.is_control() {
                pos = h.next_offset();
                continue;
            }
            let mut r = RecordReader::new(batch, &h, DEFAULT_MAX_UNCOMPRESSED_BYTES)
                .map_err(|e| ApiError::bad(e.to_string()))?;
            while let Some(meta) = r
                .next_record(Want::Data)
                .map_err(|e| ApiError::bad(e.to_string()))?
            {
                let offset = h.base_offset + i64::from(meta.offset_delta);
                if offset < pos {
                    continue;
                }
                if offset >= to {
                    return Ok(pos);
                }
                if budget.left == 0 {
                    budget.exhausted = true;
                    return Ok(pos);
                }
                budget.left -= 1;
                let log_append_time = h.timestamp_type_log_append();
                let m = Message {
                    partition: p.index,
                    offset,
                    timestamp: if log_append_time {
                        h.max_timestamp
                    } else {
                        h.base_timestamp + meta.timestamp_delta
                    },
                    log_append_time,
                    transactional: h.is_transactional(),
                    key: r.key().map(<[u8]>::to_vec),
                    value: r.value().map(<[u8]>::to_vec),
                    headers: r
                        .headers()
                        .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
                        .collect(),
                };
                pos = offset + 1;
                if !f(m) {
                    return Ok(pos);
                }
            }
            pos = pos.max(h.next_offset());
        }
        if pos == start {
            // Nothing decodable where the log says a batch starts: stop rather than spin.
            return Ok(pos);
        }
    }
    Ok(pos)
}

/// Per-partition positions `P:N,P:N`.
fn parse_positions(s: &str) -> Result<BTreeMap<i32, i64>, ApiError> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| {
            let (p, o) = x
                .split_once(':')
                .ok_or_else(|| ApiError::bad(format!("bad position {x:?}: want P:N")))?;
            Ok((
                p.trim()
                    .parse()
                    .map_err(|_| ApiError::bad(format!("bad partition {p:?}")))?,
                o.trim()
                    .parse()
                    .map_err(|_| ApiError::bad(format!("bad offset {o:?}")))?,
            ))
        })
        .collect()
}

/// `GET /api/topics/{t}/messages`.
pub(super) async fn browse(
    State(c): State<Arc<Cluster>>,
    Path(name): Path<String>,
    Query(q): Query<Browse>,
) -> Answer {
    blocking(move || {
        let t = c
            .topics
            .get(&name)
            .ok_or_else(|| ApiError::not_found(format!("no topic {name}")))?;
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let needle = q.q.clone().unwrap_or_default().into_bytes();
        let from = q.from.as_deref().unwrap_or("newest");
        let positions = q.offsets.as_deref().map(parse_positions).transpose()?;
        let parts: Vec<Arc<Partition>> = match q.partition {
            Some(i) => vec![t
                .partition(i)
                .ok_or_else(|| ApiError::not_found(format!("no partition {name}-{i}")))?],
            None => t.partitions(),
        };
        let mut budget = Budget {
            left: SCAN_LIMIT,
            exhausted: false,
        };
        let mut found: Vec<Message> = Vec::new();
        let mut next = BTreeMap::new();
        for p in &parts {
            let o = super::topics::offsets(p);
            let (start, hw) = (o.log_start, o.high_watermark);
            if from == "newest" {
                // Windows stepping back from the high watermark until `limit` matches.
                let mut mine: Vec<Message> = Vec::new();
                let mut end = hw;
                while end > start && mine.len() < limit && !budget.exhausted {
                    let begin = (end - WINDOW.max(limit as i64)).max(start);
                    let mut window = Vec::new();
                    read_range(p, begin, end, &mut budget, |m| {
                        if m.matches(&needle) {
                            window.push(m);
                        }
                        true
                    })?;
                    window.append(&mut mine);
                    mine = window;
                    end = begin;
                }
                let skip = mine.len().saturating_sub(limit);
                found.extend(mine.into_iter().skip(skip));
                next.insert(p.index, hw);
                continue;
            }
            let at = match from {
                "oldest" | "earliest" => start,
                "offset" => positions
                    .as_ref()
                    .and_then(|m| m.get(&p.index).copied())
                    .or(q.offset)
                    .ok_or_else(|| {
                        ApiError::bad("from=offset needs offset=N or offsets=P:N,...")
                    })?,
                "timestamp" => {
                    let ts = q
                        .timestamp
                        .ok_or_else(|| ApiError::bad("from=timestamp needs timestamp=MS"))?;
                    p.log().offset_for_timestamp(ts).map_or(hw, |(off, _)| off)
                }
                other => {
                    return Err(ApiError::bad(format!(
                        "from must be newest, oldest, offset or timestamp, not {other:?}"
                    )))
                }
            }
            .clamp(start, hw);
            let mut taken = 0;
            let stopped = read_range(p, at, hw, &mut budget, |m| {
                if m.matches(&needle) {
                    found.push(m);
                    taken += 1;
                }
                taken < limit
            })?;
            next.insert(p.index, stopped);
        }
        let newest = from == "newest";
        found.sort_by_key(|m| (m.timestamp, m.offset, m.partition));
        if newest {
            found.reverse();
        }
        if found.len() > limit {
            if !newest {
                // The first record left out of each partition is where that partition goes on.
                for m in &found[limit..] {
                    let e = next.entry(m.partition).or_insert(m.offset);
                    *e = (*e).min(m.offset);
                }
            }
            found.truncate(limit);
        }
        let messages: Vec<Value> = found.iter().map(Message::to_json).collect();
        let next: BTreeMap<String, i64> =
            next.into_iter().map(|(p, o)| (p.to_string(), o)).collect();
        Ok(Json(json!({
            "messages": messages,
            "next": next,
            "scanned": SCAN_LIMIT - budget.left,
            "more": budget.exhausted,
        })))
    })
    .await
}

/// A header sent by the page.
#[derive(Debug, Deserialize)]
pub(super) struct Header {
    key: String,
    value: Option<String>,
}

/// `POST /api/topics/{t}/messages` body.
#[derive(Debug, Deserialize)]
pub(super) struct Produce {
    partition: Option<i32>,
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    headers: Vec<Header>,
    encoding: Option<String>,
}

/// Where the next unkeyed record goes.
static ROUND_ROBIN: AtomicUsize = AtomicUsize::new(0);

/// `POST /api/topics/{t}/messages`: one record, validated and appended as a produce would be.
pub(super) async fn produce(
    State(c): State<Arc<Cluster>>,
    Path(name): Path<String>,
    Json(req): Json<Produce>,
) -> Answer {
    blocking(move || {
        let t = c
            .topics
            .get(&name)
            .ok_or_else(|| ApiError::not_found(format!("no topic {name}")))?;
        if t.internal {
            return Err(ApiError::bad(format!("{name} is an internal topic")));
        }
        let b64 = match req.encoding.as_deref() {
            None | Some("text") => false,
            Some("base64") => true,
            Some(other) => return Err(ApiError::bad(format!("unknown encoding {other:?}"))),
        };
        let key = decode_field(req.key.as_deref(), b64)?;
        let value = decode_field(req.value.as_deref(), b64)?;
        let mut headers = Vec::with_capacity(req.headers.len());
        for h in &req.headers {
            headers.push((
                h.key.clone().into_bytes(),
                decode_field(h.value.as_deref(), b64)?,
            ));
        }
        let count = t.partition_count();
        let index = match (req.partition, &key) {
            (Some(i), _) => i,
            (None, Some(k)) => partition_for_key(k, count),
            (None, None) => {
                (ROUND_ROBIN.fetch_add(1, Ordering::Relaxed) % count.max(1) as usize) as i32
            }
        };
        let p = t
            .partition(index)
            .ok_or_else(|| ApiError::bad(format!("no partition {name}-{index}")))?;
        let header_refs: Vec<(&[u8], Option<&[u8]>)> = headers
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
            .collect();
        let now = c.clock.now_ms();
        let batch = simple_batch(
            now,
            &[RecordFields {
                key: key.as_deref(),
                value: value.as_deref(),
                headers: &header_refs,
                ..RecordFields::default()
            }],
        );
        let header = validate_produce(&batch, &t.produce_rules(), now)
            .map_err(|e| ApiError::bad(e.to_string()))?;
        let info = p
            .log()
            .append(&batch, &[header], p.leader_epoch(), now)
            .map_err(|e| ApiError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        t.traffic.produced(batch.len(), 1);
        c.notify_appended();
        Ok(Json(json!({
            "partition": index,
            "offset": info.base_offset,
            "timestamp": if info.log_append_time >= 0 { info.log_append_time } else { now },
        })))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_or_say_why() {
        let m = parse_positions("0:5,2:7").unwrap();
        assert_eq!(m.get(&0), Some(&5));
        assert_eq!(m.get(&2), Some(&7));
        assert!(parse_positions("0-5").is_err());
        assert!(parse_positions("x:5").is_err());
    }

    #[test]
    fn search_covers_key_value_and_headers() {
        let m = Message {
            partition: 0,
            offset: 0,
            timestamp: 0,
            log_append_time: false,
            transactional: false,
            key: Some(b"order-7".to_vec()),
            value: None,
            headers: vec![(b"trace-id".to_vec(), Some(b"abc".to_vec()))],
        };
        assert!(m.matches(b"der-7"));
        assert!(m.matches(b"trace"));
        assert!(m.matches(b"abc"));
        assert!(!m.matches(b"zzz"));
        assert!(m.matches(b""));
    }
}
