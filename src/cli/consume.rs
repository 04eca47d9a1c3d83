//! `gregor consume`: Fetch from each partition's leader, batches framed and checked with
//! [`crate::record::batch`] and their records read (decompressed if need be) with
//! [`crate::record::reader::RecordReader`]. No group: positions live in this process only.
//!
//! read_committed (the default) follows the Java consumer's `CompletedFetch`: a transactional
//! batch of a producer the Fetch answer lists as aborted (from its first offset on) is skipped
//! until that producer's ABORT marker; control batches are never shown.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::AbortedTransaction;
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use serde_json::{json, Value};
use uuid::Uuid;

use super::client::{Client, Error, To, RETRY_FOR};
use super::metadata::Metadata;
use super::{json_bytes, show_bytes, ConsumeArgs, Format, Out, StartAt};
use crate::record::batch::{check_batch, BatchHeader, BATCH_HEADER_LEN, MAGIC_V2};
use crate::record::control::read_marker;
use crate::record::reader::{RecordReader, Want};

/// How long a Fetch waits at the broker for new records.
const MAX_WAIT_MS: i32 = 500;
/// Bytes per Fetch answer (the Java consumer's `fetch.max.bytes`).
const FETCH_MAX_BYTES: i32 = 50 * 1024 * 1024;
/// Bytes per partition (`max.partition.fetch.bytes`; a larger first batch still comes whole).
const PARTITION_MAX_BYTES: i32 = 1024 * 1024;
/// Decompressed bytes read from one batch at most (a decompression bomb stops here).
const MAX_DECOMPRESSED: u64 = 256 * 1024 * 1024;

/// One record as printed.
struct Record<'a> {
    partition: i32,
    offset: i64,
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: Vec<(&'a [u8], Option<&'a [u8]>)>,
}

/// Prints records in the chosen format and counts them.
struct Printer {
    out: Out,
    format: Format,
    topic: String,
    printed: u64,
    limit: Option<u64>,
    header_done: bool,
}

impl Printer {
    fn full(&self) -> bool {
        self.limit.is_some_and(|n| self.printed >= n)
    }

    fn print(&mut self, r: &Record<'_>) -> Result<(), Error> {
        self.printed += 1;
        match self.format {
            Format::Json => {
                let mut v = json!({
                    "topic": self.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "timestamp": r.timestamp,
                });
                let o = v
                    .as_object_mut()
                    .ok_or_else(|| Error::Invalid("json".into()))?;
                for (name, bytes) in [("key", r.key), ("value", r.value)] {
                    let (text, is_hex) = json_bytes(bytes);
                    o.insert(name.to_string(), text);
                    if is_hex {
                        o.insert(format!("{name}_encoding"), json!("hex"));
                    }
                }
                let headers: Vec<Value> = r
                    .headers
                    .iter()
                    .map(|(k, val)| {
                        let (value, is_hex) = json_bytes(*val);
                        let mut h = json!({ "key": String::from_utf8_lossy(k), "value": value });
                        if is_hex {
                            h["value_encoding"] = json!("hex");
                        }
                        h
                    })
                    .collect();
                o.insert("headers".to_string(), Value::Array(headers));
                self.out.json_line(&v)
            }
            Format::Table => {
                if !self.header_done {
                    self.header_done = true;
                    self.out
                        .put("PARTITION  OFFSET  TIMESTAMP      KEY  VALUE  HEADERS\n")?;
                }
                let headers: Vec<String> = r
                    .headers
                    .iter()
                    .map(|(k, v)| format!("{}={}", show_bytes(Some(k)), show_bytes(*v)))
                    .collect();
                let line = format!(
                    "{:<9}  {:<6}  {:<13}  {}  {}  {}",
                    r.partition,
                    r.offset,
                    r.timestamp,
                    show_bytes(r.key),
                    show_bytes(r.value),
                    headers.join(",")
                );
                self.out.put(line.trim_end())?;
                self.out.put("\n")
            }
        }
    }
}

/// A partition being read.
struct Position {
    partition: i32,
    /// The next offset to read.
    next: i64,
    /// Stop here (the end offset as of the start), unless following.
    end: Option<i64>,
}

impl Position {
    fn done(&self) -> bool {
        self.end.is_some_and(|e| self.next >= e)
    }
}

/// The records of one partition's Fetch answer, printed from `pos.next` on.
fn read_batches(
    pos: &mut Position,
    data: &[u8],
    aborted: Option<&[AbortedTransaction]>,
    read_committed: bool,
    printer: &mut Printer,
) -> Result<(), Error> {
    let mut aborted: Vec<(i64, i64)> = aborted
        .unwrap_or_default()
        .iter()
        .map(|a| (a.first_offset, a.producer_id.0))
        .collect();
    aborted.sort_unstable();
    let mut next_aborted = 0;
    let mut aborted_producers: HashSet<i64> = HashSet::new();
    let mut at = 0;
    while at < data.len() && !printer.full() {
        let rest = &data[at..];
        // A batch cut short at the end of the answer comes whole in the next Fetch.
        let Some(h) = BatchHeader::parse(rest) else {
            break;
        };
        if h.magic != MAGIC_V2 {
            return Err(Error::Invalid(format!(
                "{}-{} at offset {}: record format v{} (only v2 is read)",
                printer.topic, pos.partition, h.base_offset, h.magic
            )));
        }
        if h.total_len() < BATCH_HEADER_LEN || h.total_len() > rest.len() {
            break;
        }
        let batch = &rest[..h.total_len()];
        check_batch(batch, at).map_err(|e| {
            Error::Invalid(format!(
                "{}-{} at offset {}: {e}",
                printer.topic, pos.partition, h.base_offset
            ))
        })?;
        at += h.total_len();
        if h.last_offset() < pos.next {
            continue;
        }
        let mut skip = h.is_control();
        if read_committed && h.has_producer_id() {
            while let Some(&(first, pid)) = aborted.get(next_aborted) {
                if first > h.last_offset() {
                    break;
                }
                aborted_producers.insert(pid);
                next_aborted += 1;
            }
            if h.is_control() {
                if matches!(read_marker(batch, &h), Some((false, _))) {
                    aborted_producers.remove(&h.producer_id);
                }
            } else if h.is_transactional() && aborted_producers.contains(&h.producer_id) {
                skip = true;
            }
        }
        if !skip {
            let (topic, partition) = (printer.topic.clone(), pos.partition);
            let bad = |e: crate::record::reader::ReadError| {
                Error::Invalid(format!(
                    "{topic}-{partition} batch at offset {}: {e}",
                    h.base_offset
                ))
            };
            let mut records = RecordReader::new(batch, &h, MAX_DECOMPRESSED).map_err(bad)?;
            while let Some(m) = records.next_record(Want::Data).map_err(bad)? {
                let offset = h.base_offset.saturating_add(i64::from(m.offset_delta));
                if offset < pos.next {
                    continue;
                }
                let timestamp = if h.timestamp_type_log_append() {
                    h.max_timestamp
                } else {
                    h.base_timestamp.saturating_add(m.timestamp_delta)
                };
                printer.print(&Record {
                    partition: pos.partition,
                    offset,
                    timestamp,
                    key: records.key(),
                    value: records.value(),
                    headers: records.headers().collect(),
                })?;
                pos.next = offset + 1;
                if printer.full() {
                    return Ok(());
                }
            }
        }
        pos.next = pos.next.max(h.next_offset());
    }
    Ok(())
}

/// Where each partition starts.
fn start_offsets(
    c: &mut Client,
    keys: &[(String, i32)],
    from: StartAt,
    isolation: i8,
) -> Result<BTreeMap<(String, i32), i64>, Error> {
    Ok(match from {
        StartAt::Oldest => c.list_offsets(keys, -2, isolation)?,
        StartAt::Newest => c.list_offsets(keys, -1, isolation)?,
        StartAt::Offset(o) => keys.iter().map(|k| (k.clone(), o)).collect(),
        StartAt::Timestamp(ts) => {
            let mut at = c.list_offsets(keys, ts, isolation)?;
            // No record at or after the time: start at the end, as Kafka's tools do.
            if at.values().any(|o| *o < 0) {
                let end = c.list_offsets(keys, -1, isolation)?;
                for (k, o) in at.iter_mut() {
                    if *o < 0 {
                        *o = end.get(k).copied().unwrap_or(0);
                    }
                }
            }
            at
        }
    })
}

/// Runs `gregor consume`.
pub fn run(a: &ConsumeArgs) -> Result<(), Error> {
    let mut c = Client::connect(&a.conn.bootstrap)?;
    let topics = [a.topic.clone()];
    let mut meta = c.metadata_ready(&topics)?;
    let t = meta.require(&a.topic)?;
    let topic_id = t.id;
    let all: Vec<i32> = t.partitions.iter().map(|p| p.partition).collect();
    let parts = if a.partitions.is_empty() {
        all
    } else {
        for p in &a.partitions {
            if !all.contains(p) {
                return Err(Error::Usage(format!(
                    "topic '{}' has no partition {p} (it has {})",
                    a.topic,
                    all.len()
                )));
            }
        }
        let mut v = a.partitions.clone();
        v.sort_unstable();
        v.dedup();
        v
    };
    let isolation: i8 = if a.read_uncommitted { 0 } else { 1 };
    let keys: Vec<(String, i32)> = parts.iter().map(|p| (a.topic.clone(), *p)).collect();
    let start = start_offsets(&mut c, &keys, a.from, isolation)?;
    let end = if a.follow {
        None
    } else {
        Some(c.list_offsets(&keys, -1, isolation)?)
    };
    let mut positions: Vec<Position> = keys
        .iter()
        .map(|k| Position {
            partition: k.1,
            next: start.get(k).copied().unwrap_or(0),
            end: end.as_ref().map(|e| e.get(k).copied().unwrap_or(0)),
        })
        .collect();
    let mut printer = Printer {
        out: Out::new(),
        format: a.conn.format,
        topic: a.topic.clone(),
        printed: 0,
        limit: a.count,
        header_done: false,
    };
    let mut fetcher = Fetcher {
        topic: a.topic.clone(),
        topic_id,
        isolation,
        failures: 0,
    };
    while !printer.full() && positions.iter().any(|p| !p.done()) {
        if fetcher.round(&mut c, &meta, &mut positions, &mut printer)? {
            std::thread::sleep(Duration::from_millis(100));
            meta = c.metadata_ready(&topics)?;
        }
        printer.out.flush()?;
    }
    printer.out.flush()
}

/// Fetch rounds: one request per leader for its partitions not done.
struct Fetcher {
    topic: String,
    topic_id: Uuid,
    isolation: i8,
    /// Rounds in a row that met a leader error.
    failures: u32,
}

impl Fetcher {
    /// One request to each leader; `Ok(true)` if a leader moved (fetch Metadata again).
    fn round(
        &mut self,
        c: &mut Client,
        meta: &Metadata,
        positions: &mut [Position],
        printer: &mut Printer,
    ) -> Result<bool, Error> {
        let mut by_leader: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (i, p) in positions.iter().enumerate().filter(|(_, p)| !p.done()) {
            by_leader
                .entry(meta.leader(&self.topic, p.partition)?)
                .or_default()
                .push(i);
        }
        let mut moved = None;
        for (leader, idx) in by_leader {
            let partitions: Vec<FetchPartition> = idx
                .iter()
                .map(|&i| {
                    FetchPartition::default()
                        .with_partition(positions[i].partition)
                        .with_fetch_offset(positions[i].next)
                        .with_partition_max_bytes(PARTITION_MAX_BYTES)
                })
                .collect();
            let (topic, topic_id) = (self.topic.clone(), self.topic_id);
            let (v, resp) = c.call(To::Node(leader), |v| {
                let mut t = FetchTopic::default().with_partitions(partitions);
                if v >= 13 {
                    t = t.with_topic_id(topic_id);
                } else {
                    t = t.with_topic(TopicName(StrBytes::from_string(topic)));
                }
                FetchRequest::default()
                    .with_max_wait_ms(MAX_WAIT_MS)
                    .with_min_bytes(1)
                    .with_max_bytes(FETCH_MAX_BYTES)
                    .with_isolation_level(self.isolation)
                    .with_topics(vec![t])
            })?;
            if v >= 7 {
                Error::check(resp.error_code, None, || {
                    format!("fetch from broker {leader}")
                })?;
            }
            for t in resp.responses {
                for p in t.partitions {
                    let Some(pos) = positions
                        .iter_mut()
                        .find(|x| x.partition == p.partition_index)
                    else {
                        continue;
                    };
                    let what = || {
                        format!(
                            "fetch {}-{} at offset {}",
                            self.topic, pos.partition, pos.next
                        )
                    };
                    match Error::check(p.error_code, None, what) {
                        Ok(()) => {}
                        Err(e) if leader_moved(&e) => {
                            moved = Some(e);
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                    if let Some(data) = &p.records {
                        read_batches(
                            pos,
                            data,
                            p.aborted_transactions.as_deref(),
                            self.isolation == 1,
                            printer,
                        )?;
                    }
                    if printer.full() {
                        return Ok(false);
                    }
                }
            }
        }
        match moved {
            None => {
                self.failures = 0;
                Ok(false)
            }
            // About RETRY_FOR of rounds that each wait 100 ms.
            Some(e) if u128::from(self.failures) * 100 >= RETRY_FOR.as_millis() => Err(e),
            Some(_) => {
                self.failures += 1;
                Ok(true)
            }
        }
    }
}

/// A partition error that a Metadata refresh and another Fetch cure.
fn leader_moved(e: &Error) -> bool {
    matches!(
        e.kafka(),
        Some(
            ResponseError::NotLeaderOrFollower
                | ResponseError::LeaderNotAvailable
                | ResponseError::FencedLeaderEpoch
                | ResponseError::UnknownLeaderEpoch
                | ResponseError::KafkaStorageError
                | ResponseError::NotCoordinator
                | ResponseError::OffsetNotAvailable
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::builder::{
        build_batch, put_record, simple_batch, BatchFields, RecordFields,
    };
    use crate::record::control::ControlMarker;

    fn printer(format: Format) -> Printer {
        Printer {
            out: Out::new(),
            format,
            topic: "t".into(),
            printed: 0,
            limit: None,
            header_done: true,
        }
    }

    fn txn_batch(base: i64, pid: i64, value: &[u8]) -> Vec<u8> {
        let mut section = Vec::new();
        put_record(
            &mut section,
            &RecordFields {
                value: Some(value),
                ..RecordFields::default()
            },
        );
        build_batch(
            &BatchFields {
                base_offset: base,
                attributes: crate::record::batch::TRANSACTIONAL_BIT,
                producer_id: pid,
                producer_epoch: 0,
                base_sequence: 0,
                ..BatchFields::default()
            },
            &section,
        )
    }

    #[test]
    fn aborted_and_control_batches_are_skipped_and_a_cut_batch_waits() {
        // Offsets 0-1: plain; 2: pid 7 (aborted); 3: its ABORT marker; 4: pid 7 again (its
        // next transaction, committed); 5: a cut-off batch.
        let mut data = simple_batch(
            1000,
            &[
                RecordFields {
                    value: Some(b"a"),
                    ..RecordFields::default()
                },
                RecordFields {
                    value: Some(b"b"),
                    timestamp_delta: 5,
                    ..RecordFields::default()
                },
            ],
        );
        data.extend(txn_batch(2, 7, b"aborted"));
        let mut marker = ControlMarker {
            producer_id: 7,
            producer_epoch: 0,
            commit: false,
            coordinator_epoch: 0,
        }
        .batch(0);
        crate::record::batch::set_base_offset(&mut marker, 3);
        data.extend(marker);
        data.extend(txn_batch(4, 7, b"kept"));
        let cut = simple_batch(0, &[RecordFields::default()]);
        data.extend(&cut[..cut.len() - 3]);
        let aborted = [AbortedTransaction::default()
            .with_producer_id(7.into())
            .with_first_offset(2)];
        let mut pos = Position {
            partition: 0,
            next: 1,
            end: None,
        };
        let mut p = printer(Format::Json);
        read_batches(&mut pos, &data, Some(&aborted), true, &mut p).unwrap();
        // Offset 0 was before the position; 1 and 4 printed; the cut batch waits.
        assert_eq!((p.printed, pos.next), (2, 5));
        let mut pos = Position {
            partition: 0,
            next: 0,
            end: None,
        };
        let mut p = printer(Format::Table);
        read_batches(&mut pos, &data, Some(&aborted), false, &mut p).unwrap();
        assert_eq!(
            (p.printed, pos.next),
            (4, 5),
            "read_uncommitted shows the aborted one"
        );
        let mut p = printer(Format::Json);
        p.limit = Some(1);
        let mut pos = Position {
            partition: 0,
            next: 0,
            end: None,
        };
        read_batches(&mut pos, &data, None, true, &mut p).unwrap();
        assert_eq!((p.printed, pos.next), (1, 1), "-n stops inside a batch");
    }

    #[test]
    fn a_corrupt_batch_is_an_error_not_a_panic() {
        let mut data = simple_batch(0, &[RecordFields::default()]);
        let last = data.len() - 1;
        data[last] ^= 0xff;
        let mut pos = Position {
            partition: 0,
            next: 0,
            end: None,
        };
        assert!(read_batches(&mut pos, &data, None, true, &mut printer(Format::Json)).is_err());
        let mut old = simple_batch(0, &[RecordFields::default()]);
        old[16] = 1;
        assert!(read_batches(&mut pos, &old, None, true, &mut printer(Format::Json)).is_err());
    }
}
