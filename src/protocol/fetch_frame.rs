//! Response frames whose record bytes stay in the segment files: a Fetch response is encoded as
//! a list of parts, encoded bytes around file regions, so the connection can hand each region to
//! the kernel (`sendfile`) instead of reading it into memory and copying it into the response
//! (Kafka's `FileRecords.writeTo`). Memory per fetch is then the few bytes of framing, whatever
//! `fetch.max.bytes` is.
//!
//! Only the layout is produced here (no I/O): the connection writes the parts in order. The
//! top-level and per-topic fields are written with the crate's primitive types; each partition
//! is encoded by `kafka-protocol` with null records, and that null is replaced by the length of
//! the region that follows. A test checks the result is byte-identical to `kafka-protocol`'s
//! encoding with the records inline, at every supported version.

use anyhow::{bail, ensure};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{ApiKey, FetchResponse, ResponseHeader};
use kafka_protocol::protocol::Encodable;

use crate::record::FileSlice;

/// One piece of a response frame.
#[derive(Debug, Clone)]
pub enum FramePart {
    /// Encoded bytes.
    Bytes(Bytes),
    /// Bytes to send straight from a file.
    File(FileSlice),
}

/// A whole response frame (length prefix included), as parts to write in order.
#[derive(Debug, Clone, Default)]
pub struct ResponseFrame {
    /// The parts, in order.
    pub parts: Vec<FramePart>,
    /// Total bytes of the frame, length prefix included.
    pub len: usize,
}

impl ResponseFrame {
    fn push_bytes(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.parts.push(FramePart::Bytes(b));
        }
    }

    fn push_file(&mut self, s: FileSlice) {
        self.len += s.len;
        self.parts.push(FramePart::File(s));
    }
}

impl From<BytesMut> for ResponseFrame {
    fn from(b: BytesMut) -> Self {
        let mut f = ResponseFrame::default();
        f.push_bytes(b.freeze());
        f
    }
}

/// The records of one partition of a Fetch response that stay in their file.
#[derive(Debug, Clone)]
pub struct FileRecords {
    /// Index of the topic in `FetchResponse::responses`.
    pub topic: usize,
    /// Index of the partition in that topic's `partitions`.
    pub partition: usize,
    /// Where the bytes are.
    pub slice: FileSlice,
}

/// Encodes a Fetch response frame at `version` with the records of the partitions named in
/// `files` (sorted by topic then partition; their `records` must be `None`) sent from their
/// files. Fails if a structure this encoder writes by hand carries tagged fields (Gregor never
/// sets them in a Fetch response).
pub fn encode_fetch_response(
    correlation_id: i32,
    version: i16,
    resp: &FetchResponse,
    files: Vec<FileRecords>,
) -> anyhow::Result<ResponseFrame> {
    let flexible = version >= 12;
    ensure!(
        resp.unknown_tagged_fields.is_empty() && (version >= 16 || resp.node_endpoints.is_empty()),
        "fetch response with top-level tagged fields"
    );
    let mut frame = ResponseFrame::default();
    // Room for the fixed fields of every partition and the records copied inline, so the
    // buffer is not regrown (and recopied) while encoding.
    let inline: usize = resp
        .responses
        .iter()
        .map(|t| {
            64 + t.topic.len()
                + t.partitions
                    .iter()
                    .map(|p| 64 + p.records.as_ref().map_or(0, Bytes::len))
                    .sum::<usize>()
        })
        .sum();
    let mut cur = BytesMut::with_capacity(64 + inline);
    cur.put_i32(0); // the frame length, set at the end
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut cur, ApiKey::Fetch.response_header_version(version))?;
    if version >= 1 {
        cur.put_i32(resp.throttle_time_ms);
    }
    if version >= 7 {
        cur.put_i16(resp.error_code);
        cur.put_i32(resp.session_id);
    }
    put_len(&mut cur, flexible, resp.responses.len())?;
    let mut files = files.into_iter().peekable();
    for (ti, t) in resp.responses.iter().enumerate() {
        ensure!(
            t.unknown_tagged_fields.is_empty(),
            "fetch topic with tagged fields"
        );
        if version >= 13 {
            cur.put_slice(t.topic_id.as_bytes());
        } else {
            let name = t.topic.as_bytes();
            if flexible {
                put_varint(&mut cur, u32::try_from(name.len())? + 1);
            } else {
                cur.put_i16(i16::try_from(name.len())?);
            }
            cur.put_slice(name);
        }
        put_len(&mut cur, flexible, t.partitions.len())?;
        for (pi, p) in t.partitions.iter().enumerate() {
            let Some(f) = files.next_if(|f| (f.topic, f.partition) == (ti, pi)) else {
                p.encode(&mut cur, version)?;
                continue;
            };
            ensure!(
                p.records.is_none(),
                "partition sent from a file has inline records"
            );
            if flexible && has_tagged_fields(p) {
                bail!("partition sent from a file has tagged fields");
            }
            p.encode(&mut cur, version)?;
            // Null records (then, when flexible, an empty tagged-field section) end the
            // partition; replace the null with the region's length and put the region after.
            let tail: &[u8] = if flexible { &[0, 0] } else { &[0xff; 4] };
            ensure!(cur.ends_with(tail), "unexpected partition encoding");
            cur.truncate(cur.len() - tail.len());
            let len = u32::try_from(f.slice.len)?;
            if flexible {
                put_varint(&mut cur, len + 1);
            } else {
                cur.put_i32(i32::try_from(len)?);
            }
            frame.push_bytes(cur.split().freeze());
            frame.push_file(f.slice);
            if flexible {
                cur.put_u8(0);
            }
        }
        if flexible {
            cur.put_u8(0);
        }
    }
    ensure!(
        files.next().is_none(),
        "file records for a partition not in the response"
    );
    if flexible && !resp.node_endpoints.is_empty() {
        // Tagged field 0 (v16+, KIP-951): where the leaders named in the partitions are.
        let mut tag = BytesMut::new();
        put_len(&mut tag, true, resp.node_endpoints.len())?;
        for e in &resp.node_endpoints {
            e.encode(&mut tag, version)?;
        }
        put_varint(&mut cur, 1);
        put_varint(&mut cur, 0);
        put_varint(&mut cur, u32::try_from(tag.len())?);
        cur.put_slice(&tag);
    } else if flexible {
        cur.put_u8(0);
    }
    if frame.parts.is_empty() {
        // All records inline: one buffer, its length set in place.
        let body_len = i32::try_from(cur.len() - 4)?;
        cur[..4].copy_from_slice(&body_len.to_be_bytes());
        frame.push_bytes(cur.freeze());
        return Ok(frame);
    }
    frame.push_bytes(cur.freeze());
    let body_len = i32::try_from(frame.len - 4)?;
    let Some(FramePart::Bytes(first)) = frame.parts.first_mut() else {
        bail!("empty frame");
    };
    let mut head = BytesMut::from(&first[..]);
    head[..4].copy_from_slice(&body_len.to_be_bytes());
    *first = head.freeze();
    Ok(frame)
}

fn has_tagged_fields(p: &PartitionData) -> bool {
    let d = PartitionData::default();
    p.diverging_epoch != d.diverging_epoch
        || p.current_leader != d.current_leader
        || p.snapshot_id != d.snapshot_id
        || !p.unknown_tagged_fields.is_empty()
}

/// An array length: compact (unsigned varint of n + 1) when flexible, else an i32.
fn put_len(buf: &mut BytesMut, flexible: bool, n: usize) -> anyhow::Result<()> {
    if flexible {
        put_varint(buf, u32::try_from(n)? + 1);
    } else {
        buf.put_i32(i32::try_from(n)?);
    }
    Ok(())
}

/// Kafka's unsigned varint: 7 bits per byte, low bits first, high bit set on all but the last.
fn put_varint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
    use kafka_protocol::messages::fetch_response::NodeEndpoint;
    use kafka_protocol::messages::{BrokerId, ResponseKind, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::protocol::versions;

    /// Materialises a frame by reading its file parts.
    fn flatten(frame: &ResponseFrame) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &frame.parts {
            match p {
                FramePart::Bytes(b) => out.extend_from_slice(b),
                FramePart::File(s) => out.extend_from_slice(&s.read_bytes().unwrap()),
            }
        }
        out
    }

    #[test]
    fn file_backed_frames_are_byte_identical_to_inline_encoding() {
        let mut file = tempfile::tempfile().unwrap();
        let content: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&content).unwrap();
        let file = Arc::new(file);
        let log_dir = crate::log::LogDir::std("unused");
        let slice = |position: u64, len: usize| FileSlice {
            file: Some(file.clone()),
            position,
            len,
            failure: log_dir.clone(),
        };
        let support = versions::support(ApiKey::Fetch).unwrap();
        for version in support.served_min..=support.max {
            // Two topics; partitions with file records, inline records, empty records and an
            // error, in mixed order.
            let regions = [
                (0usize, 0usize, 10u64, 300usize),
                (0, 2, 0, 4000),
                (1, 1, 4000, 1000),
            ];
            let mut resp = FetchResponse::default().with_throttle_time_ms(7);
            for ti in 0..2 {
                let mut t = FetchableTopicResponse::default()
                    .with_topic(TopicName(StrBytes::from_static_str(if ti == 0 {
                        "alpha"
                    } else {
                        "b"
                    })))
                    .with_topic_id(uuid::Uuid::from_u128(0x1234 + ti as u128));
                for pi in 0..3 {
                    t.partitions.push(
                        PartitionData::default()
                            .with_partition_index(pi)
                            .with_high_watermark(100 + pi as i64)
                            .with_last_stable_offset(100)
                            .with_log_start_offset(3)
                            .with_error_code(if (ti, pi) == (1, 2) { 1 } else { 0 })
                            .with_records(Some(Bytes::from_static(b"inline"))),
                    );
                }
                resp.responses.push(t);
            }
            if version >= 12 {
                // The error partition names its leader (KIP-951) ...
                resp.responses[1].partitions[2].current_leader.leader_id = BrokerId(2);
                resp.responses[1].partitions[2].current_leader.leader_epoch = 5;
            }
            if version >= 16 {
                // ... and the response where it is.
                resp.node_endpoints = vec![NodeEndpoint::default()
                    .with_node_id(BrokerId(2))
                    .with_host(StrBytes::from_static_str("localhost"))
                    .with_port(9093)];
            }
            let mut expected_resp = resp.clone();
            let mut files = Vec::new();
            for (ti, pi, pos, len) in regions {
                expected_resp.responses[ti].partitions[pi].records = Some(Bytes::copy_from_slice(
                    &content[pos as usize..pos as usize + len],
                ));
                resp.responses[ti].partitions[pi].records = None;
                files.push(FileRecords {
                    topic: ti,
                    partition: pi,
                    slice: slice(pos, len),
                });
            }
            let frame = encode_fetch_response(42, version, &resp, files).unwrap();
            let expected = crate::protocol::encode_response(
                42,
                ApiKey::Fetch,
                version,
                &ResponseKind::Fetch(expected_resp),
            )
            .unwrap();
            let got = flatten(&frame);
            assert_eq!(got.len(), frame.len, "v{version}");
            assert_eq!(got, expected.to_vec(), "v{version}");
            assert_eq!(
                frame.parts.len(),
                7,
                "v{version}: 3 files between 4 byte parts"
            );
        }
    }

    #[test]
    fn tagged_fields_on_a_file_partition_are_refused() {
        let mut resp = FetchResponse::default();
        let mut t = FetchableTopicResponse::default();
        let mut p = PartitionData::default().with_records(None);
        p.snapshot_id.epoch = 3;
        t.partitions.push(p);
        resp.responses.push(t);
        let file = Arc::new(tempfile::tempfile().unwrap());
        let files = vec![FileRecords {
            topic: 0,
            partition: 0,
            slice: FileSlice {
                file: Some(file),
                position: 0,
                len: 0,
                failure: crate::log::LogDir::std("unused"),
            },
        }];
        assert!(encode_fetch_response(1, 12, &resp, files.clone()).is_err());
        resp.responses[0].partitions[0].snapshot_id.epoch = -1;
        encode_fetch_response(1, 12, &resp, files).unwrap();
    }
}
