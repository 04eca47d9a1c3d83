//! The `__consumer_offsets` records of consumer groups, in Kafka's format.
//!
//! Keys (not flexible): `i16` type, then `group string` and, for member records,
//! `member string`. Values: `i16` version 0, then flexible fields (compact strings and arrays,
//! a tagged-field section after every struct):
//!
//! | type | key | value |
//! |---|---|---|
//! | 3 | ConsumerGroupMetadata | `epoch i32`, tag 0 `metadata_hash i64` |
//! | 4 | ConsumerGroupPartitionMetadata | read and ignored (Kafka 4.1 replaced it by the hash) |
//! | 5 | ConsumerGroupMemberMetadata | `instance_id?, rack_id?, client_id, client_host, subscribed_topic_names [string], subscribed_topic_regex?, rebalance_timeout_ms i32, server_assignor?` |
//! | 6 | ConsumerGroupTargetAssignmentMetadata | `assignment_epoch i32` |
//! | 7 | ConsumerGroupTargetAssignmentMember | `topic_partitions [{topic_id uuid, partitions [i32]}]` |
//! | 8 | ConsumerGroupCurrentMemberAssignment | `member_epoch i32, previous_member_epoch i32, state i8, assigned [..], revoking [..]` |
//!
//! Decoding is bounded: array counts are checked against the bytes left before anything is
//! allocated, and unknown tagged fields are skipped.

use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

use super::super::records::{put_string, OffsetsLogRecord, Reader, RecordError};
use super::{Assignment, ConsumerMember, MemberState};

const METADATA: i16 = 3;
const PARTITION_METADATA: i16 = 4;
const MEMBER: i16 = 5;
const TARGET_METADATA: i16 = 6;
const TARGET: i16 = 7;
const CURRENT: i16 = 8;

/// A member's subscription and client details (record type 5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(in crate::group) struct MemberValue {
    pub(in crate::group) instance_id: Option<String>,
    pub(in crate::group) rack_id: Option<String>,
    pub(in crate::group) client_id: String,
    pub(in crate::group) client_host: String,
    pub(in crate::group) subscribed_names: Vec<String>,
    pub(in crate::group) subscribed_regex: Option<String>,
    pub(in crate::group) rebalance_timeout_ms: i32,
    pub(in crate::group) server_assignor: Option<String>,
}

/// A member's current assignment (record type 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::group) struct CurrentValue {
    pub(in crate::group) epoch: i32,
    pub(in crate::group) previous_epoch: i32,
    pub(in crate::group) state: MemberState,
    pub(in crate::group) assigned: Assignment,
    pub(in crate::group) revoking: Assignment,
    /// As stored; partitions without one (older records) are missing.
    pub(in crate::group) assignment_epochs: AssignmentEpochs,
}

/// A decoded consumer-group record; `None` values are tombstones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::group) enum ConsumerRecord {
    Metadata {
        group: String,
        value: Option<(i32, u64)>,
    },
    PartitionMetadata,
    Member {
        group: String,
        member: String,
        value: Option<MemberValue>,
    },
    TargetMetadata {
        group: String,
        value: Option<i32>,
    },
    Target {
        group: String,
        member: String,
        value: Option<Assignment>,
    },
    Current {
        group: String,
        member: String,
        value: Option<CurrentValue>,
    },
}

impl ConsumerRecord {
    /// The group the record belongs to.
    pub(in crate::group) fn group(&self) -> Option<&str> {
        match self {
            ConsumerRecord::Metadata { group, .. }
            | ConsumerRecord::Member { group, .. }
            | ConsumerRecord::TargetMetadata { group, .. }
            | ConsumerRecord::Target { group, .. }
            | ConsumerRecord::Current { group, .. } => Some(group),
            ConsumerRecord::PartitionMetadata => None,
        }
    }
}

/// Whether `key` is a consumer-group record's.
pub(in crate::group) fn is_consumer_key(key: &[u8]) -> bool {
    key.len() >= 2 && (METADATA..=CURRENT).contains(&i16::from_be_bytes([key[0], key[1]]))
}

fn key(kind: i16, group: &str, member: Option<&str>) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(kind);
    put_string(&mut buf, group);
    if let Some(m) = member {
        put_string(&mut buf, m);
    }
    buf.freeze()
}

fn record(key: Bytes, value: Option<BytesMut>) -> OffsetsLogRecord {
    OffsetsLogRecord {
        key,
        value: value.map(BytesMut::freeze),
    }
}

fn put_uvarint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn put_compact_string(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        None => put_uvarint(buf, 0),
        Some(s) => {
            put_uvarint(buf, s.len() as u64 + 1);
            buf.put_slice(s.as_bytes());
        }
    }
}

/// An assignment; with `epochs`, each topic also carries tag 0 `AssignmentEpochs`, aligned
/// with its partitions (KIP-1251).
fn put_assignment(buf: &mut BytesMut, a: &Assignment, epochs: Option<&AssignmentEpochs>) {
    put_uvarint(buf, a.len() as u64 + 1);
    for (topic, parts) in a {
        buf.put_slice(topic.as_bytes());
        put_uvarint(buf, parts.len() as u64 + 1);
        for p in parts {
            buf.put_i32(*p);
        }
        match epochs {
            None => put_uvarint(buf, 0),
            Some(e) => {
                let mut tag = BytesMut::new();
                put_uvarint(&mut tag, parts.len() as u64 + 1);
                for p in parts {
                    tag.put_i32(e.get(&(*topic, *p)).copied().unwrap_or(-1));
                }
                put_uvarint(buf, 1);
                put_uvarint(buf, 0);
                put_uvarint(buf, tag.len() as u64);
                buf.put_slice(&tag);
            }
        }
    }
}

/// Partition -> the member epoch it was assigned at.
pub(in crate::group) type AssignmentEpochs = std::collections::BTreeMap<(Uuid, i32), i32>;

fn value_buf() -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    buf
}

/// Type 3: the group epoch (and the metadata hash, tag 0).
pub(in crate::group) fn metadata(group: &str, value: Option<(i32, u64)>) -> OffsetsLogRecord {
    let value = value.map(|(epoch, hash)| {
        let mut buf = value_buf();
        buf.put_i32(epoch);
        put_uvarint(&mut buf, 1);
        put_uvarint(&mut buf, 0);
        put_uvarint(&mut buf, 8);
        buf.put_u64(hash);
        buf
    });
    record(key(METADATA, group, None), value)
}

/// Type 5: a member's subscription, or its tombstone.
pub(in crate::group) fn member(
    group: &str,
    member_id: &str,
    m: Option<&ConsumerMember>,
) -> OffsetsLogRecord {
    let value = m.map(|m| {
        let mut buf = value_buf();
        put_compact_string(&mut buf, m.instance_id.as_deref());
        put_compact_string(&mut buf, m.rack_id.as_deref());
        put_compact_string(&mut buf, Some(&m.client_id));
        put_compact_string(&mut buf, Some(&m.client_host));
        put_uvarint(&mut buf, m.subscribed_names.len() as u64 + 1);
        for n in &m.subscribed_names {
            put_compact_string(&mut buf, Some(n));
        }
        put_compact_string(&mut buf, m.subscribed_regex.as_deref());
        buf.put_i32(m.rebalance_timeout_ms);
        put_compact_string(&mut buf, m.server_assignor.as_deref());
        put_uvarint(&mut buf, 0);
        buf
    });
    record(key(MEMBER, group, Some(member_id)), value)
}

/// Type 6: the epoch of the target assignment.
pub(in crate::group) fn target_metadata(group: &str, epoch: Option<i32>) -> OffsetsLogRecord {
    let value = epoch.map(|e| {
        let mut buf = value_buf();
        buf.put_i32(e);
        put_uvarint(&mut buf, 0);
        buf
    });
    record(key(TARGET_METADATA, group, None), value)
}

/// Type 7: one member's target, or its tombstone.
pub(in crate::group) fn target(
    group: &str,
    member_id: &str,
    a: Option<&Assignment>,
) -> OffsetsLogRecord {
    let value = a.map(|a| {
        let mut buf = value_buf();
        put_assignment(&mut buf, a, None);
        put_uvarint(&mut buf, 0);
        buf
    });
    record(key(TARGET, group, Some(member_id)), value)
}

/// Type 8: one member's current assignment, or its tombstone.
pub(in crate::group) fn current(
    group: &str,
    member_id: &str,
    m: Option<&ConsumerMember>,
) -> OffsetsLogRecord {
    let value = m.map(|m| {
        let mut buf = value_buf();
        buf.put_i32(m.epoch);
        buf.put_i32(m.previous_epoch);
        buf.put_i8(m.state.code());
        put_assignment(&mut buf, &m.assigned, Some(&m.assignment_epochs));
        put_assignment(&mut buf, &m.revoking, None);
        put_uvarint(&mut buf, 0);
        buf
    });
    record(key(CURRENT, group, Some(member_id)), value)
}

/// Reading the flexible encoding on top of the bounded cursor.
trait Flexible<'a> {
    fn uvarint(&mut self) -> Result<u64, RecordError>;
    fn count(&mut self, min_size: usize) -> Result<Option<usize>, RecordError>;
    fn compact_string(&mut self) -> Result<Option<String>, RecordError>;
    fn tags(&mut self) -> Result<Vec<(u64, &'a [u8])>, RecordError>;
    fn assignment(&mut self) -> Result<Assignment, RecordError>;
    fn assignment_with_epochs(&mut self) -> Result<(Assignment, AssignmentEpochs), RecordError>;
}

impl<'a> Flexible<'a> for Reader<'a> {
    fn uvarint(&mut self) -> Result<u64, RecordError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(RecordError::InvalidLength(-1))
    }

    /// A compact array count (`None` for null), checked against the bytes left, each element
    /// taking at least `min_size` bytes.
    fn count(&mut self, min_size: usize) -> Result<Option<usize>, RecordError> {
        let n = self.uvarint()?;
        if n == 0 {
            return Ok(None);
        }
        let n = usize::try_from(n - 1).map_err(|_| RecordError::InvalidLength(-1))?;
        if n.saturating_mul(min_size.max(1)) > self.0.len() {
            return Err(RecordError::Truncated);
        }
        Ok(Some(n))
    }

    fn compact_string(&mut self) -> Result<Option<String>, RecordError> {
        let Some(len) = self.count(1)? else {
            return Ok(None);
        };
        String::from_utf8(self.take(len)?.to_vec())
            .map(Some)
            .map_err(|_| RecordError::InvalidUtf8)
    }

    fn tags(&mut self) -> Result<Vec<(u64, &'a [u8])>, RecordError> {
        let n = self.uvarint()?;
        let mut out = Vec::new();
        for _ in 0..n {
            let tag = self.uvarint()?;
            let size = usize::try_from(self.uvarint()?).map_err(|_| RecordError::Truncated)?;
            out.push((tag, self.take(size)?));
        }
        Ok(out)
    }

    fn assignment(&mut self) -> Result<Assignment, RecordError> {
        Ok(self.assignment_with_epochs()?.0)
    }

    fn assignment_with_epochs(&mut self) -> Result<(Assignment, AssignmentEpochs), RecordError> {
        let mut a = Assignment::new();
        let mut epochs = AssignmentEpochs::new();
        let n = self.count(18)?.unwrap_or(0);
        for _ in 0..n {
            let id = Uuid::from_bytes(self.array()?);
            let m = self.count(4)?.unwrap_or(0);
            let mut order = Vec::with_capacity(m);
            for _ in 0..m {
                order.push(self.i32()?);
            }
            for (tag, data) in self.tags()? {
                if tag != 0 {
                    continue;
                }
                let mut r = Reader(data);
                let k = r.count(4)?.unwrap_or(0);
                for p in order.iter().take(k) {
                    epochs.insert((id, *p), r.i32()?);
                }
            }
            a.entry(id).or_default().extend(order);
        }
        Ok((a, epochs))
    }
}

fn version(r: &mut Reader<'_>) -> Result<(), RecordError> {
    match r.i16()? {
        0 => Ok(()),
        v => Err(RecordError::UnknownValueVersion(v)),
    }
}

fn required(s: Option<String>) -> Result<String, RecordError> {
    s.ok_or(RecordError::UnexpectedNull)
}

/// Decodes a record whose key [`is_consumer_key`].
pub(in crate::group) fn decode(rec: &OffsetsLogRecord) -> Result<ConsumerRecord, RecordError> {
    let mut k = Reader(&rec.key);
    let kind = k.i16()?;
    let group = k.string()?;
    let mut v = rec.value.as_deref().map(Reader);
    if let Some(r) = v.as_mut() {
        version(r)?;
    }
    Ok(match kind {
        METADATA => ConsumerRecord::Metadata {
            group,
            value: match v {
                None => None,
                Some(mut r) => {
                    let epoch = r.i32()?;
                    let mut hash = 0;
                    for (tag, data) in r.tags()? {
                        if tag == 0 && data.len() == 8 {
                            hash = Reader(data).i64()? as u64;
                        }
                    }
                    Some((epoch, hash))
                }
            },
        },
        PARTITION_METADATA => ConsumerRecord::PartitionMetadata,
        MEMBER => ConsumerRecord::Member {
            group,
            member: k.string()?,
            value: match v {
                None => None,
                Some(mut r) => {
                    let instance_id = r.compact_string()?;
                    let rack_id = r.compact_string()?;
                    let client_id = required(r.compact_string()?)?;
                    let client_host = required(r.compact_string()?)?;
                    let n = r.count(1)?.unwrap_or(0);
                    let mut subscribed_names = Vec::with_capacity(n);
                    for _ in 0..n {
                        subscribed_names.push(required(r.compact_string()?)?);
                    }
                    Some(MemberValue {
                        instance_id,
                        rack_id,
                        client_id,
                        client_host,
                        subscribed_names,
                        subscribed_regex: r.compact_string()?,
                        rebalance_timeout_ms: r.i32()?,
                        server_assignor: r.compact_string()?,
                    })
                }
            },
        },
        TARGET_METADATA => ConsumerRecord::TargetMetadata {
            group,
            value: v.map(|mut r| r.i32()).transpose()?,
        },
        TARGET => ConsumerRecord::Target {
            group,
            member: k.string()?,
            value: v.map(|mut r| r.assignment()).transpose()?,
        },
        CURRENT => ConsumerRecord::Current {
            group,
            member: k.string()?,
            value: match v {
                None => None,
                Some(mut r) => {
                    let epoch = r.i32()?;
                    let previous_epoch = r.i32()?;
                    let state = MemberState::from_code(i8::from_be_bytes(r.array()?));
                    let (assigned, assignment_epochs) = r.assignment_with_epochs()?;
                    Some(CurrentValue {
                        epoch,
                        previous_epoch,
                        state,
                        assigned,
                        revoking: r.assignment()?,
                        assignment_epochs,
                    })
                }
            },
        },
        other => return Err(RecordError::UnknownKeyVersion(other)),
    })
}
