//! `gregor produce`: records from the command line or stdin, in v2 batches built with
//! [`crate::record::builder`], sent with acks=all to each partition's leader.
//!
//! Partitioning is the Java client's: a keyed record goes to `toPositive(murmur2(key)) %
//! partitions` ([`crate::record::partitioner`], so a key lands where a Java, librdkafka
//! `murmur2_random` or franz-go producer would put it); unkeyed records go to one partition
//! per batch, the next batch to the next partition (the sticky idea of KIP-480 without the
//! Java client's load weighting). No idempotence: a batch is only sent again after an error answer (nothing was
//! written), never after a lost connection.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use serde_json::json;
use uuid::Uuid;

use super::client::{retry, Client, Error, To, BROKER_TIMEOUT_MS};
use super::{key_value, Format, Out, ProduceArgs};
use crate::record::builder::{simple_batch, RecordFields};
use crate::record::partitioner::partition_for_key;

/// Records are sent once this many bytes of keys and values are waiting (well under the
/// broker's default `max.message.bytes`, 1 MiB, for the batch of one partition).
const FLUSH_BYTES: usize = 512 * 1024;
/// ... or this many records.
const FLUSH_RECORDS: usize = 10_000;
/// The longest stdin line taken.
const MAX_LINE: u64 = 16 * 1024 * 1024;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A record waiting to be sent.
struct Pending {
    partition: i32,
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    timestamp: i64,
}

/// Batches records per partition and sends them.
struct Producer {
    client: Client,
    topic: String,
    /// The topic id, for Produce v13.
    topic_id: Uuid,
    partitions: i32,
    /// `-p`, if given.
    fixed: Option<i32>,
    /// Where the next unkeyed batch goes.
    sticky: i32,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    pending: Vec<Pending>,
    pending_bytes: usize,
    out: Out,
    format: Format,
    /// The table header is printed before the first row.
    printed_header: bool,
}

impl Producer {
    fn add(&mut self, key: Option<Vec<u8>>, value: Vec<u8>) -> Result<(), Error> {
        let partition = match (self.fixed, &key) {
            (Some(p), _) => p,
            (None, Some(k)) => partition_for_key(k, self.partitions),
            (None, None) => self.sticky,
        };
        self.pending_bytes += value.len() + key.as_ref().map_or(0, Vec::len);
        self.pending.push(Pending {
            partition,
            key,
            value,
            timestamp: now_ms(),
        });
        if self.pending_bytes >= FLUSH_BYTES || self.pending.len() >= FLUSH_RECORDS {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends everything pending; prints each record's partition and offset in input order.
    fn flush(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        self.sticky = (self.sticky + 1) % self.partitions.max(1);
        let headers: Vec<(&[u8], Option<&[u8]>)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_slice(), Some(v.as_slice())))
            .collect();
        // Per partition: the batch, and which pending records it holds (in order).
        let mut members: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (i, r) in pending.iter().enumerate() {
            members.entry(r.partition).or_default().push(i);
        }
        let mut batches: BTreeMap<i32, Bytes> = BTreeMap::new();
        for (&p, idx) in &members {
            let base = pending[idx[0]].timestamp;
            let fields: Vec<RecordFields<'_>> = idx
                .iter()
                .map(|&i| RecordFields {
                    timestamp_delta: pending[i].timestamp - base,
                    offset_delta: 0,
                    key: pending[i].key.as_deref(),
                    value: Some(&pending[i].value),
                    headers: &headers,
                })
                .collect();
            batches.insert(p, Bytes::from(simple_batch(base, &fields)));
        }
        let results = self.send(batches)?;
        let mut acks = vec![(0, 0, 0); pending.len()];
        for (&p, idx) in &members {
            let (base, append_time) = results[&p];
            for (n, &i) in idx.iter().enumerate() {
                let ts = if append_time >= 0 {
                    append_time
                } else {
                    pending[i].timestamp
                };
                acks[i] = (p, base + n as i64, ts);
            }
        }
        for (p, offset, ts) in acks {
            self.print(p, offset, ts)?;
        }
        self.out.flush()
    }

    fn print(&mut self, partition: i32, offset: i64, timestamp: i64) -> Result<(), Error> {
        match self.format {
            Format::Json => self.out.json_line(&json!({
                "topic": self.topic,
                "partition": partition,
                "offset": offset,
                "timestamp": timestamp,
            })),
            Format::Table => {
                if !self.printed_header {
                    self.printed_header = true;
                    self.out.put("PARTITION  OFFSET\n")?;
                }
                self.out.put(&format!("{partition:<9}  {offset}\n"))
            }
        }
    }

    /// Sends each partition's batch to its leader, again (to the new leader) after a
    /// retriable error; returns each partition's base offset and log-append time.
    fn send(
        &mut self,
        mut batches: BTreeMap<i32, Bytes>,
    ) -> Result<BTreeMap<i32, (i64, i64)>, Error> {
        let mut done = BTreeMap::new();
        let topics = [self.topic.clone()];
        retry(|| {
            let meta = self.client.metadata_ready(&topics)?;
            let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
            for &p in batches.keys() {
                by_leader
                    .entry(meta.leader(&self.topic, p)?)
                    .or_default()
                    .push(p);
            }
            let mut again = None;
            for (leader, parts) in by_leader {
                let (topic, topic_id) = (self.topic.clone(), self.topic_id);
                let data: Vec<PartitionProduceData> = parts
                    .iter()
                    .map(|p| {
                        PartitionProduceData::default()
                            .with_index(*p)
                            .with_records(Some(batches[p].clone()))
                    })
                    .collect();
                let (v, resp) = self.client.call(To::Node(leader), |v| {
                    let mut t = TopicProduceData::default().with_partition_data(data);
                    if v >= 13 {
                        t = t.with_topic_id(topic_id);
                    } else {
                        t = t.with_name(TopicName(StrBytes::from_string(topic)));
                    }
                    ProduceRequest::default()
                        .with_acks(-1)
                        .with_timeout_ms(BROKER_TIMEOUT_MS)
                        .with_topic_data(vec![t])
                })?;
                for t in resp.responses {
                    for p in t.partition_responses {
                        let msg = if v >= 8 {
                            p.error_message.as_ref()
                        } else {
                            None
                        };
                        match Error::check(p.error_code, msg, || {
                            format!("produce to {}-{}", self.topic, p.index)
                        }) {
                            Ok(()) => {
                                batches.remove(&p.index);
                                done.insert(p.index, (p.base_offset, p.log_append_time_ms));
                            }
                            Err(e) if e.retriable() => again = Some(e),
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
            match again {
                Some(e) => Err(e),
                None if batches.is_empty() => Ok(()),
                None => Err(Error::Invalid(format!(
                    "Produce answered nothing for partitions {:?}",
                    batches.keys().collect::<Vec<_>>()
                ))),
            }
        })?;
        Ok(done)
    }
}

/// One stdin line without its end (`\n`, `\r\n`), `None` at the end of input; a line longer
/// than [`MAX_LINE`] is an error, not an allocation.
fn read_line(input: &mut impl BufRead, number: usize) -> Result<Option<Vec<u8>>, Error> {
    let mut line = Vec::new();
    let n = input
        .take(MAX_LINE + 1)
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::Usage(format!("cannot read stdin: {e}")))?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if n as u64 > MAX_LINE {
        return Err(Error::Usage(format!(
            "line {number} of stdin is longer than {MAX_LINE} bytes"
        )));
    }
    Ok(Some(line))
}

/// Splits a stdin line at the first `sep` into key and value.
fn split_line(line: Vec<u8>, sep: &[u8], number: usize) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let at = line
        .windows(sep.len().max(1))
        .position(|w| w == sep)
        .filter(|_| !sep.is_empty())
        .ok_or_else(|| {
            Error::Usage(format!(
                "no key separator {:?} on line {number}",
                String::from_utf8_lossy(sep)
            ))
        })?;
    Ok((line[..at].to_vec(), line[at + sep.len()..].to_vec()))
}

/// Runs `gregor produce`.
pub fn run(a: &ProduceArgs) -> Result<(), Error> {
    let headers = a
        .headers
        .iter()
        .map(|h| key_value(h, "header").map(|(k, v)| (k.into_bytes(), v.into_bytes())))
        .collect::<Result<Vec<_>, _>>()?;
    if a.value.is_some() && a.key_separator.is_some() {
        return Err(Error::Usage(
            "--key-separator splits stdin lines; with a VALUE, give the key with -k".into(),
        ));
    }
    let mut client = Client::connect(&a.conn.bootstrap)?;
    let meta = client.metadata_ready(std::slice::from_ref(&a.topic))?;
    let t = meta.require(&a.topic)?;
    let partitions = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
    if let Some(p) = a.partition.filter(|p| *p < 0 || *p >= partitions) {
        return Err(Error::Usage(format!(
            "topic '{}' has no partition {p} (it has {partitions})",
            a.topic
        )));
    }
    let start = (Uuid::new_v4().as_u128() % partitions.max(1) as u128) as i32;
    let mut p = Producer {
        client,
        topic: a.topic.clone(),
        topic_id: t.id,
        partitions,
        fixed: a.partition,
        sticky: start,
        headers,
        pending: Vec::new(),
        pending_bytes: 0,
        out: Out::new(),
        format: a.conn.format,
        printed_header: false,
    };
    let key = a.key.as_ref().map(|k| k.as_bytes().to_vec());
    if let Some(v) = &a.value {
        p.add(key, v.as_bytes().to_vec())?;
        return p.flush();
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut input = stdin.lock();
    let mut number = 0;
    while let Some(line) = read_line(&mut input, number + 1)? {
        number += 1;
        match &a.key_separator {
            Some(sep) => {
                let (k, v) = split_line(line, sep.as_bytes(), number)?;
                p.add(Some(k), v)?;
            }
            None => p.add(key.clone(), line)?,
        }
        if interactive {
            p.flush()?;
        }
    }
    p.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_lines_and_key_separators() {
        let mut input = std::io::Cursor::new(b"a:1\r\nb:2:3\nlast".to_vec());
        let mut lines = Vec::new();
        while let Some(l) = read_line(&mut input, lines.len() + 1).unwrap() {
            lines.push(l);
        }
        assert_eq!(
            lines,
            [b"a:1".to_vec(), b"b:2:3".to_vec(), b"last".to_vec()]
        );
        assert_eq!(
            split_line(b"b:2:3".to_vec(), b":", 2).unwrap(),
            (b"b".to_vec(), b"2:3".to_vec())
        );
        assert_eq!(
            split_line(b"k::v".to_vec(), b"::", 1).unwrap(),
            (b"k".to_vec(), b"v".to_vec())
        );
        assert!(split_line(b"last".to_vec(), b":", 3).is_err());
    }
}
