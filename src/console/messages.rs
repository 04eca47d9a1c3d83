//! `/api/topics/{t}/messages`: browse a topic from its newest or oldest record, an offset or a
//! timestamp, optionally searching keys, values and headers; and produce one record.
//!
//! Reading takes the partition's lock only to locate whole batches (as a fetch does), then
//! reads and decodes them without it. A call decodes at most [`SCAN_LIMIT`] records and
//! returns at most [`MAX_LIMIT`]; nothing past the high watermark is shown.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, decode_field, field_json, Answer, ApiError, FIELD_LIMIT};
use crate::cluster::Cluster;
use crate::log::LogError;
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
/// At most this many records (and log reads) decoded per call, shared fairly between the
/// partitions read (each gets at least [`SCAN_FLOOR`]); a search that stops there says `more`.
const SCAN_LIMIT: usize = 100_000;
/// Each partition's least share of [`SCAN_LIMIT`].
const SCAN_FLOOR: usize = 1_000;
/// At most this many bytes of fields kept per call.
const KEPT_LIMIT: usize = 16 * 1024 * 1024;
/// Bytes located per log read.
const READ_BYTES: usize = 1024 * 1024;
/// Offsets stepped back per window when searching newest-first (doubled after a window with
/// no match, up to [`MAX_WINDOW`]).
const WINDOW: i64 = 1_000;
const MAX_WINDOW: i64 = 1 << 20;

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

/// A field as kept: at most [`FIELD_LIMIT`] bytes of it, and its whole size.
#[derive(Debug)]
struct Field {
    shown: Vec<u8>,
    size: usize,
}

impl Field {
    fn cut(b: &[u8]) -> Field {
        Field {
            shown: b[..b.len().min(FIELD_LIMIT)].to_vec(),
            size: b.len(),
        }
    }

    fn json(f: &Option<Field>) -> Value {
        f.as_ref()
            .map_or(Value::Null, |f| field_json(&f.shown, f.size))
    }
}

/// One decoded record, its fields cut to what is shown.
#[derive(Debug)]
struct Message {
    partition: i32,
    offset: i64,
    timestamp: i64,
    log_append_time: bool,
    transactional: bool,
    key: Option<Field>,
    value: Option<Field>,
    headers: Vec<(String, Option<Field>)>,
}

impl Message {
    /// Bytes kept for this message, for the per-call memory bound.
    fn kept(&self) -> usize {
        let f = |x: &Option<Field>| x.as_ref().map_or(0, |f| f.shown.len());
        64 + f(&self.key)
            + f(&self.value)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + f(v))
                .sum::<usize>()
    }

    fn to_json(&self) -> Value {
        let headers: Vec<Value> = self
            .headers
            .iter()
            .map(|(k, v)| json!({"key": k, "value": Field::json(v)}))
            .collect();
        json!({
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "timestamp_type": if self.log_append_time { "log_append" } else { "create" },
            "key": Field::json(&self.key),
            "value": Field::json(&self.value),
            "headers": headers,
            "transactional": self.transactional,
        })
    }
}

/// Whether a record read with [`Want::Data`] contains `q` in its key, value, or a header's key
/// or value (the whole fields, not the cut ones). An empty `q` matches everything.
fn matches(r: &RecordReader<'_>, q: &[u8]) -> bool {
    if q.is_empty() {
        return true;
    }
    let has = |b: &[u8]| b.windows(q.len()).any(|w| w == q);
    r.key().is_some_and(has)
        || r.value().is_some_and(has)
        || r.headers().any(|(k, v)| has(k) || v.is_some_and(has))
}

/// What one call may still spend: records and batches decoded in this partition, and bytes
/// kept over the whole call.
struct Budget {
    left: usize,
    kept_left: usize,
    exhausted: bool,
    /// Records decoded (what the answer calls `scanned`).
    records: usize,
}

impl Budget {
    fn spend(&mut self) -> bool {
        if self.left == 0 {
            self.exhausted = true;
            return false;
        }
        self.left -= 1;
        true
    }
}

fn unreadable(offset: i64, e: impl std::fmt::Display) -> ApiError {
    ApiError(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the stored batch at offset {offset} cannot be read: {e}"),
    )
}

/// Reads the records of `p` in `[from, to)` in offset order, calling `f` with each one that
/// matches `q` until it returns false. Returns the offset after the last record looked at (or
/// where the read stopped: the end, `f`'s refusal, or the budget).
fn read_range(
    p: &Partition,
    from: i64,
    to: i64,
    q: &[u8],
    budget: &mut Budget,
    mut f: impl FnMut(Message) -> bool,
) -> Result<i64, ApiError> {
    let mut pos = from;
    while pos < to {
        // Each log read costs one, so a range of compaction gaps is bounded too.
        if !budget.spend() {
            return Ok(pos);
        }
        let read = p.log().read(pos, READ_BYTES);
        let slice = match read {
            Ok(s) => s,
            // Retention moved the log start since the offsets were read: go on from there.
            Err(LogError::OffsetOutOfRange { .. }) => {
                let start = p.log().log_start_offset();
                if start <= pos {
                    return Ok(pos);
                }
                pos = start;
                continue;
            }
            Err(e) => return Err(unreadable(pos, e)),
        };
        if slice.is_empty() {
            return Ok(pos);
        }
        let bytes = slice.read_bytes().map_err(|e| unreadable(pos, e))?;
        let mut at = 0;
        while at < bytes.len() && pos < to {
            let h = check_batch(&bytes[at..], at).map_err(|e| unreadable(pos, e))?;
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
                .map_err(|e| unreadable(h.base_offset, e))?;
            while let Some(meta) = r
                .next_record(Want::Data)
                .map_err(|e| unreadable(h.base_offset, e))?
            {
                let offset = h.base_offset + i64::from(meta.offset_delta);
                if offset < pos {
                    continue;
                }
                if offset >= to {
                    return Ok(pos);
                }
                if !budget.spend() {
                    return Ok(pos);
                }
                budget.records += 1;
                pos = offset + 1;
                if !matches(&r, q) {
                    continue;
                }
                let log_append_time = h.timestamp_type_log_append();
                let m = Message {
                    partition: p.index,
                    offset,
                    timestamp: if log_append_time {
                        h.max_timestamp
                    } else {
                        h.base_timestamp.wrapping_add(meta.timestamp_delta)
                    },
                    log_append_time,
                    transactional: h.is_transactional(),
                    key: r.key().map(Field::cut),
                    value: r.value().map(Field::cut),
                    headers: r
                        .headers()
                        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.map(Field::cut)))
                        .collect(),
                };
                let kept = m.kept();
                if kept > budget.kept_left {
                    budget.exhausted = true;
                    return Ok(offset);
                }
                budget.kept_left -= kept;
                if !f(m) {
                    return Ok(pos);
                }
            }
            pos = pos.max(h.next_offset());
        }
    }
    Ok(pos)
}

/// The last `limit` records of `p` matching `q` below `hw`, oldest first: windows stepping
/// back from the high watermark. Without a search a window is what is still missing; with one
/// it starts at [`WINDOW`] and doubles after a window without a match. A window the budget
/// cut short is dropped whole, so what is returned has no hole.
fn newest(
    p: &Partition,
    start: i64,
    hw: i64,
    limit: usize,
    q: &[u8],
    budget: &mut Budget,
) -> Result<VecDeque<Message>, ApiError> {
    let mut mine: VecDeque<Message> = VecDeque::new();
    let mut end = hw;
    let mut window = if q.is_empty() { limit as i64 } else { WINDOW };
    while end > start && mine.len() < limit {
        let begin = end.saturating_sub(window).max(start);
        let mut got: VecDeque<Message> = VecDeque::new();
        let kept_before = budget.kept_left;
        let mut released = 0;
        read_range(p, begin, end, q, budget, |m| {
            got.push_back(m);
            if got.len() > limit {
                released += got.pop_front().map_or(0, |m| m.kept());
            }
            true
        })?;
        budget.kept_left += released;
        if budget.exhausted {
            budget.kept_left = kept_before;
            break;
        }
        let found = !got.is_empty();
        while let Some(m) = got.pop_back() {
            if mine.len() == limit {
                break;
            }
            mine.push_front(m);
        }
        end = begin;
        window = if !found {
            window.saturating_mul(2).min(MAX_WINDOW)
        } else if q.is_empty() {
            (limit - mine.len()).max(1) as i64
        } else {
            window
        };
    }
    Ok(mine)
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
        let t = super::topics::topic(&c, &name)?;
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
        let share = (SCAN_LIMIT / parts.len().max(1)).max(SCAN_FLOOR);
        let (mut scanned, mut more, mut kept_left) = (0, false, KEPT_LIMIT);
        let mut found: Vec<Message> = Vec::new();
        let mut next = BTreeMap::new();
        for p in &parts {
            let mut budget = Budget {
                left: share,
                kept_left,
                exhausted: false,
                records: 0,
            };
            let o = super::topics::offsets(p);
            let (start, hw) = (o.log_start, o.high_watermark);
            if from == "newest" {
                found.extend(newest(p, start, hw, limit, &needle, &mut budget)?);
                next.insert(p.index, hw);
            } else {
                let at = match from {
                    "oldest" | "earliest" => start,
                    "offset" => match (&positions, q.offset) {
                        (Some(m), _) => m.get(&p.index).copied().unwrap_or(start),
                        (None, Some(o)) => o,
                        (None, None) => {
                            return Err(ApiError::bad(
                                "from=offset needs offset=N or offsets=P:N,...",
                            ))
                        }
                    },
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
                let stopped = read_range(p, at, hw, &needle, &mut budget, |m| {
                    found.push(m);
                    taken += 1;
                    taken < limit
                })?;
                next.insert(p.index, stopped);
            }
            scanned += budget.records;
            more |= budget.exhausted;
            kept_left = budget.kept_left;
        }
        let newest = from == "newest";
        found.sort_by_key(|m| (m.timestamp, m.offset, m.partition));
        if newest {
            found.reverse();
        }
        if found.len() > limit {
            let dropped = found.split_off(limit);
            if !newest {
                // A partition goes on from its first record left out, and what it had after
                // that goes too, so the next page neither skips nor repeats.
                for m in &dropped {
                    let e = next.entry(m.partition).or_insert(m.offset);
                    *e = (*e).min(m.offset);
                }
                found.retain(|m| next.get(&m.partition).is_none_or(|&n| m.offset < n));
            }
        }
        let messages: Vec<Value> = found.iter().map(Message::to_json).collect();
        let next: BTreeMap<String, i64> =
            next.into_iter().map(|(p, o)| (p.to_string(), o)).collect();
        Ok(Json(json!({
            "messages": messages,
            "next": next,
            "scanned": scanned,
            "more": more,
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
        let t = super::topics::topic(&c, &name)?;
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
}
