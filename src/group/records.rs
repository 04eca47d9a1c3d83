//! Records of the internal `__consumer_offsets` log, in Kafka's own byte format so that Kafka's
//! tools (and a Kafka broker) could read a log Gregor wrote.
//!
//! Format (non-flexible schema versions, big-endian; `string` is an `i16` length then UTF-8,
//! length -1 meaning null; `bytes` is an `i32` length then the bytes):
//!
//! - key = `i16` version, then
//!   - version 0 or 1: OffsetCommitKey `{ group: string, topic: string, partition: i32 }`
//!     (Gregor writes version 1, as Kafka does);
//!   - version 2: GroupMetadataKey `{ group: string }`.
//! - OffsetCommitValue = `i16` version, then
//!   - v0: `offset i64, metadata string, commit_timestamp i64`
//!   - v1: `offset i64, metadata string, commit_timestamp i64, expire_timestamp i64`
//!   - v2: `offset i64, metadata string, commit_timestamp i64`
//!   - v3: `offset i64, leader_epoch i32, metadata string, commit_timestamp i64`
//!
//!   Gregor writes v3, or v1 when the client asked for an explicit retention (as Kafka does).
//! - GroupMetadataValue = `i16` version, then `protocol_type string, generation i32,
//!   protocol nullable string, leader nullable string, current_state_timestamp i64 (v2+),
//!   members [i32 count] of { member_id string, group_instance_id nullable string (v3+),
//!   client_id string, client_host string, rebalance_timeout i32 (v1+), session_timeout i32,
//!   subscription bytes, assignment bytes }`. Gregor writes v3.
//! - A null value is a tombstone: the offset (or the group's metadata) is deleted.
//!
//! Flexible versions (OffsetCommitValue v4+, GroupMetadataValue v4+) are rejected as unknown.
//! Decoding never panics: truncated or malformed input is a [`RecordError`]. Trailing bytes after
//! the known fields are ignored, as Kafka ignores fields of versions newer than it reads.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::ResponseError;

/// One record of the internal offsets log: what the caller appends and later replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetsLogRecord {
    /// Encoded [`RecordKey`]; records with equal keys supersede each other (log compaction).
    pub key: Bytes,
    /// Encoded value, or `None` for a tombstone that deletes the key.
    pub value: Option<Bytes>,
}

/// The decoded key of an [`OffsetsLogRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    /// A committed offset of one partition for one group.
    OffsetCommit {
        /// The group that committed.
        group: String,
        /// Topic of the committed partition.
        topic: String,
        /// Partition index.
        partition: i32,
    },
    /// A group's metadata (generation, protocol, members and their assignments).
    GroupMetadata {
        /// The group described.
        group: String,
    },
}

/// The value of an offset commit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    /// Next offset the group will consume.
    pub offset: i64,
    /// Leader epoch of the last consumed record, -1 when unknown.
    pub leader_epoch: i32,
    /// Free-form client metadata stored with the offset.
    pub metadata: String,
    /// When the commit happened (ms since epoch); the base of offset retention.
    pub commit_timestamp: i64,
    /// Explicit expiry requested by OffsetCommit v2-v4 `retention_time_ms`; written as value v1.
    pub expire_timestamp: Option<i64>,
}

/// One member inside a [`GroupMetadataValue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadataValue {
    /// The member id the coordinator assigned.
    pub member_id: String,
    /// KIP-345 static membership id.
    pub group_instance_id: Option<String>,
    /// Client id of the member's connection.
    pub client_id: String,
    /// Host the member connected from.
    pub client_host: String,
    /// The member's rebalance timeout (max time to rejoin).
    pub rebalance_timeout: i32,
    /// The member's session timeout.
    pub session_timeout: i32,
    /// The member's metadata for the group's selected protocol.
    pub subscription: Bytes,
    /// The assignment the leader gave this member.
    pub assignment: Bytes,
}

/// The value of a group metadata record: a snapshot of a group after a rebalance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// Protocol type ("consumer", "connect", ...); empty for none.
    pub protocol_type: String,
    /// Generation of the snapshot.
    pub generation: i32,
    /// Selected protocol (assignor) name.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// When the group entered its current state (ms); -1 when unknown.
    pub current_state_timestamp: i64,
    /// Members with their subscription and assignment.
    pub members: Vec<MemberMetadataValue>,
}

/// A fully decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedRecord {
    /// An offset commit, or its tombstone (`value: None`).
    OffsetCommit {
        /// The group that committed.
        group: String,
        /// Topic of the committed partition.
        topic: String,
        /// Partition index.
        partition: i32,
        /// The commit, or `None` for a tombstone.
        value: Option<OffsetCommitValue>,
    },
    /// A group metadata snapshot, or its tombstone (`value: None`).
    GroupMetadata {
        /// The group described.
        group: String,
        /// The snapshot, or `None` for a tombstone.
        value: Option<GroupMetadataValue>,
    },
}

/// Why bytes of the offsets log could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The input ended inside a field.
    #[error("record truncated")]
    Truncated,
    /// A length prefix was negative (other than -1 for a nullable field) or overflowed.
    #[error("invalid length {0}")]
    InvalidLength(i64),
    /// A non-nullable string was null.
    #[error("unexpected null string")]
    UnexpectedNull,
    /// A string was not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A key version Gregor does not know.
    #[error("unknown record key version {0}")]
    UnknownKeyVersion(i16),
    /// A value version Gregor does not know.
    #[error("unknown record value version {0}")]
    UnknownValueVersion(i16),
}

impl RecordError {
    /// Kafka error code for a corrupt internal record.
    pub fn code(&self) -> ResponseError {
        ResponseError::CorruptMessage
    }
}

/// Kafka's `__consumer_offsets` partition for a group: `Utils.abs(groupId.hashCode) % partitions`,
/// where `hashCode` is Java's `String.hashCode` over UTF-16 code units and `Utils.abs(x)` is
/// `x & 0x7fffffff`. A non-positive `partitions` yields 0 rather than dividing by zero.
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    let hash = group.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    (hash & 0x7fff_ffff) % partitions
}

const OFFSET_KEY_VERSION: i16 = 1;
const GROUP_KEY_VERSION: i16 = 2;
const GROUP_VALUE_VERSION: i16 = 3;

impl RecordKey {
    /// Encodes the key in Kafka's format.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        match self {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => {
                buf.put_i16(OFFSET_KEY_VERSION);
                put_string(&mut buf, group);
                put_string(&mut buf, topic);
                buf.put_i32(*partition);
            }
            RecordKey::GroupMetadata { group } => {
                buf.put_i16(GROUP_KEY_VERSION);
                put_string(&mut buf, group);
            }
        }
        buf.freeze()
    }

    /// Decodes a key.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader(bytes);
        match r.i16()? {
            0 | 1 => Ok(RecordKey::OffsetCommit {
                group: r.string()?,
                topic: r.string()?,
                partition: r.i32()?,
            }),
            2 => Ok(RecordKey::GroupMetadata { group: r.string()? }),
            v => Err(RecordError::UnknownKeyVersion(v)),
        }
    }
}

impl OffsetCommitValue {
    /// Encodes as value v3, or v1 when an explicit expire timestamp is present.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        match self.expire_timestamp {
            Some(expire) => {
                buf.put_i16(1);
                buf.put_i64(self.offset);
                put_string(&mut buf, &self.metadata);
                buf.put_i64(self.commit_timestamp);
                buf.put_i64(expire);
            }
            None => {
                buf.put_i16(3);
                buf.put_i64(self.offset);
                buf.put_i32(self.leader_epoch);
                put_string(&mut buf, &self.metadata);
                buf.put_i64(self.commit_timestamp);
            }
        }
        buf.freeze()
    }

    /// Decodes value versions 0 to 3.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader(bytes);
        let version = r.i16()?;
        if !(0..=3).contains(&version) {
            return Err(RecordError::UnknownValueVersion(version));
        }
        let offset = r.i64()?;
        let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
        let metadata = r.string()?;
        let commit_timestamp = r.i64()?;
        let expire_timestamp = if version == 1 { Some(r.i64()?) } else { None };
        Ok(OffsetCommitValue {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp,
            expire_timestamp,
        })
    }
}

impl GroupMetadataValue {
    /// Encodes as value v3.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_i16(GROUP_VALUE_VERSION);
        put_string(&mut buf, &self.protocol_type);
        buf.put_i32(self.generation);
        put_nullable_string(&mut buf, self.protocol.as_deref());
        put_nullable_string(&mut buf, self.leader.as_deref());
        buf.put_i64(self.current_state_timestamp);
        buf.put_i32(len_i32(self.members.len()));
        for m in &self.members {
            put_string(&mut buf, &m.member_id);
            put_nullable_string(&mut buf, m.group_instance_id.as_deref());
            put_string(&mut buf, &m.client_id);
            put_string(&mut buf, &m.client_host);
            buf.put_i32(m.rebalance_timeout);
            buf.put_i32(m.session_timeout);
            put_bytes(&mut buf, &m.subscription);
            put_bytes(&mut buf, &m.assignment);
        }
        buf.freeze()
    }

    /// Decodes value versions 0 to 3.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader(bytes);
        let version = r.i16()?;
        if !(0..=3).contains(&version) {
            return Err(RecordError::UnknownValueVersion(version));
        }
        let protocol_type = r.string()?;
        let generation = r.i32()?;
        let protocol = r.nullable_string()?;
        let leader = r.nullable_string()?;
        let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
        let count = r.i32()?;
        if count < 0 {
            return Err(RecordError::InvalidLength(i64::from(count)));
        }
        // Each member takes at least 22 bytes, so a count the input cannot hold is rejected
        // before anything is allocated for it.
        let mut members = Vec::with_capacity((count as usize).min(r.0.len() / 22));
        for _ in 0..count {
            let member_id = r.string()?;
            let group_instance_id = if version >= 3 {
                r.nullable_string()?
            } else {
                None
            };
            let client_id = r.string()?;
            let client_host = r.string()?;
            let session_or_rebalance = r.i32()?;
            let (rebalance_timeout, session_timeout) = if version >= 1 {
                (session_or_rebalance, r.i32()?)
            } else {
                (session_or_rebalance, session_or_rebalance)
            };
            members.push(MemberMetadataValue {
                member_id,
                group_instance_id,
                client_id,
                client_host,
                rebalance_timeout,
                session_timeout,
                subscription: r.bytes()?,
                assignment: r.bytes()?,
            });
        }
        Ok(GroupMetadataValue {
            protocol_type,
            generation,
            protocol,
            leader,
            current_state_timestamp,
            members,
        })
    }
}

impl OffsetsLogRecord {
    /// An offset commit record, or its tombstone when `value` is `None`.
    pub fn offset_commit(
        group: &str,
        topic: &str,
        partition: i32,
        value: Option<&OffsetCommitValue>,
    ) -> Self {
        let key = RecordKey::OffsetCommit {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
        };
        OffsetsLogRecord {
            key: key.encode(),
            value: value.map(OffsetCommitValue::encode),
        }
    }

    /// A group metadata record, or its tombstone when `value` is `None`.
    pub fn group_metadata(group: &str, value: Option<&GroupMetadataValue>) -> Self {
        let key = RecordKey::GroupMetadata {
            group: group.to_string(),
        };
        OffsetsLogRecord {
            key: key.encode(),
            value: value.map(GroupMetadataValue::encode),
        }
    }

    /// Decodes key and value.
    pub fn decode(&self) -> Result<DecodedRecord, RecordError> {
        match RecordKey::decode(&self.key)? {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => Ok(DecodedRecord::OffsetCommit {
                group,
                topic,
                partition,
                value: self
                    .value
                    .as_deref()
                    .map(OffsetCommitValue::decode)
                    .transpose()?,
            }),
            RecordKey::GroupMetadata { group } => Ok(DecodedRecord::GroupMetadata {
                group,
                value: self
                    .value
                    .as_deref()
                    .map(GroupMetadataValue::decode)
                    .transpose()?,
            }),
        }
    }
}

/// Topics listed in a consumer-protocol subscription (`ConsumerProtocolSubscription`, any of the
/// non-flexible versions 0-3: `i16 version, [i32 count] of string topics, ...`). `None` when the
/// bytes are not a subscription, in which case Kafka treats every topic as subscribed.
pub fn subscription_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut r = Reader(metadata);
    let version = r.i16().ok()?;
    if version < 0 {
        return None;
    }
    let count = r.i32().ok()?;
    if count < 0 {
        return None;
    }
    let mut topics = Vec::with_capacity((count as usize).min(r.0.len() / 2));
    for _ in 0..count {
        topics.push(r.string().ok()?);
    }
    Some(topics)
}

/// Partitions in a consumer-protocol assignment (`ConsumerProtocolAssignment` v0-3: `i16
/// version, [i32 count] of (string topic, [i32 count] of i32), bytes user data`), for the
/// console's picture of a classic group. `None` when the bytes are not an assignment; every
/// count is checked against the bytes left before anything is allocated.
pub fn assignment_partitions(assignment: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    // A member outside Stable is described with no assignment bytes: nothing assigned.
    if assignment.is_empty() {
        return Some(Vec::new());
    }
    let mut r = Reader(assignment);
    if r.i16().ok()? < 0 {
        return None;
    }
    let topics = usize::try_from(r.i32().ok()?).ok()?;
    if topics > r.0.len() / 6 {
        return None;
    }
    let mut out = Vec::with_capacity(topics);
    for _ in 0..topics {
        let topic = r.string().ok()?;
        let n = usize::try_from(r.i32().ok()?).ok()?;
        if n > r.0.len() / 4 {
            return None;
        }
        let mut parts = Vec::with_capacity(n);
        for _ in 0..n {
            parts.push(r.i32().ok()?);
        }
        out.push((topic, parts));
    }
    Some(out)
}

/// Lengths in this module come from strings and vectors Gregor itself built; saturate instead
/// of wrapping if one ever exceeds the wire format's range.
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

pub(super) fn put_string(buf: &mut BytesMut, s: &str) {
    // Kafka strings are at most i16::MAX bytes; longer ones are cut at a char boundary.
    let mut end = s.len().min(i16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    buf.put_i16(end as i16);
    buf.put_slice(&s.as_bytes()[..end]);
}

fn put_nullable_string(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(buf, s),
        None => buf.put_i16(-1),
    }
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(len_i32(b.len()));
    buf.put_slice(b);
}

/// A bounds-checked big-endian cursor over untrusted bytes.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.0.len() < n {
            return Err(RecordError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(super) fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(super) fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub(super) fn nullable_string(&mut self) -> Result<Option<String>, RecordError> {
        let len = self.i16()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| RecordError::InvalidLength(i64::from(len)))?;
        let raw = self.take(len)?;
        String::from_utf8(raw.to_vec())
            .map(Some)
            .map_err(|_| RecordError::InvalidUtf8)
    }

    pub(super) fn string(&mut self) -> Result<String, RecordError> {
        self.nullable_string()?.ok_or(RecordError::UnexpectedNull)
    }

    fn bytes(&mut self) -> Result<Bytes, RecordError> {
        let len = self.i32()?;
        if len == -1 {
            // Kafka's `bytes` fields here are non-nullable, but a null reads as empty.
            return Ok(Bytes::new());
        }
        let len = usize::try_from(len).map_err(|_| RecordError::InvalidLength(i64::from(len)))?;
        Ok(Bytes::copy_from_slice(self.take(len)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_value() -> GroupMetadataValue {
        GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 7,
            protocol: Some("range".into()),
            leader: Some("m-1".into()),
            current_state_timestamp: 1234,
            members: vec![
                MemberMetadataValue {
                    member_id: "m-1".into(),
                    group_instance_id: None,
                    client_id: "c".into(),
                    client_host: "/127.0.0.1".into(),
                    rebalance_timeout: 300_000,
                    session_timeout: 45_000,
                    subscription: Bytes::from_static(b"sub"),
                    assignment: Bytes::from_static(b"asg"),
                },
                MemberMetadataValue {
                    member_id: "m-2".into(),
                    group_instance_id: Some("i-2".into()),
                    client_id: "c2".into(),
                    client_host: "h".into(),
                    rebalance_timeout: 1,
                    session_timeout: 2,
                    subscription: Bytes::new(),
                    assignment: Bytes::new(),
                },
            ],
        }
    }

    #[test]
    fn partition_for_matches_java_hash_code() {
        assert_eq!(partition_for("", 50), 0);
        assert_eq!(partition_for("a", 50), 97 % 50);
        // "hello".hashCode() == 99162322
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        // "test-group".hashCode() == 627841412
        assert_eq!(partition_for("test-group", 50), 627_841_412 % 50);
        // "my-group".hashCode() == -1906497762: negative, so Utils.abs masks the sign bit.
        assert_eq!(partition_for("my-group", 50), 36);
        // "polygenelubricants".hashCode() == i32::MIN, where Math.abs would stay negative.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        // A non-BMP char hashes as two UTF-16 surrogates: 0xD83D * 31 + 0xDE00.
        assert_eq!(partition_for("\u{1F600}", 1 << 30), 1_772_899);
        assert_eq!(partition_for("x", 0), 0);
    }

    #[test]
    fn offset_record_round_trip() {
        let value = OffsetCommitValue {
            offset: 42,
            leader_epoch: 3,
            metadata: "meta".into(),
            commit_timestamp: 99,
            expire_timestamp: None,
        };
        let rec = OffsetsLogRecord::offset_commit("g", "t", 5, Some(&value));
        // Key: version 1, "g", "t", partition 5.
        assert_eq!(&rec.key[..], b"\x00\x01\x00\x01g\x00\x01t\x00\x00\x00\x05");
        assert_eq!(&rec.value.as_ref().unwrap()[..2], b"\x00\x03");
        assert_eq!(
            rec.decode().unwrap(),
            DecodedRecord::OffsetCommit {
                group: "g".into(),
                topic: "t".into(),
                partition: 5,
                value: Some(value.clone()),
            }
        );
        let with_expiry = OffsetCommitValue {
            expire_timestamp: Some(1000),
            leader_epoch: -1,
            ..value
        };
        let encoded = with_expiry.encode();
        assert_eq!(&encoded[..2], b"\x00\x01");
        assert_eq!(OffsetCommitValue::decode(&encoded).unwrap(), with_expiry);
        let tomb = OffsetsLogRecord::offset_commit("g", "t", 5, None);
        assert!(matches!(
            tomb.decode().unwrap(),
            DecodedRecord::OffsetCommit { value: None, .. }
        ));
    }

    #[test]
    fn group_record_round_trip() {
        let value = group_value();
        let rec = OffsetsLogRecord::group_metadata("grp", Some(&value));
        assert_eq!(&rec.key[..], b"\x00\x02\x00\x03grp");
        assert_eq!(
            rec.decode().unwrap(),
            DecodedRecord::GroupMetadata {
                group: "grp".into(),
                value: Some(value),
            }
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let full = OffsetsLogRecord::group_metadata("grp", Some(&group_value()));
        let value = full.value.clone().unwrap();
        // Every truncation of a valid value fails cleanly.
        for cut in 0..value.len() {
            assert!(
                GroupMetadataValue::decode(&value[..cut]).is_err(),
                "cut {cut}"
            );
        }
        assert_eq!(
            RecordKey::decode(b"\x00\x09abc"),
            Err(RecordError::UnknownKeyVersion(9))
        );
        assert_eq!(RecordKey::decode(b"\x00"), Err(RecordError::Truncated));
        assert_eq!(
            RecordKey::decode(b"\x00\x02\xff\xfe"),
            Err(RecordError::InvalidLength(-2))
        );
        assert_eq!(
            RecordKey::decode(b"\x00\x02\xff\xff"),
            Err(RecordError::UnexpectedNull)
        );
        assert_eq!(
            RecordKey::decode(b"\x00\x02\x00\x02\xff\xff"),
            Err(RecordError::InvalidUtf8)
        );
        // A huge member count with no data behind it must not allocate or panic.
        let mut huge = BytesMut::new();
        huge.put_i16(3);
        put_string(&mut huge, "consumer");
        huge.put_i32(1);
        huge.put_i16(-1);
        huge.put_i16(-1);
        huge.put_i64(0);
        huge.put_i32(i32::MAX);
        assert_eq!(
            GroupMetadataValue::decode(&huge),
            Err(RecordError::Truncated)
        );
        assert_eq!(
            OffsetCommitValue::decode(b"\x00\x04"),
            Err(RecordError::UnknownValueVersion(4))
        );
        // Pseudo-random bytes never panic.
        let mut x: u32 = 12345;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = RecordKey::decode(&bytes);
            let _ = OffsetCommitValue::decode(&bytes);
            let _ = GroupMetadataValue::decode(&bytes);
            let _ = subscription_topics(&bytes);
        }
    }

    #[test]
    fn subscription_topics_parses_consumer_protocol() {
        let mut buf = BytesMut::new();
        buf.put_i16(1);
        buf.put_i32(2);
        put_string(&mut buf, "a");
        put_string(&mut buf, "b");
        buf.put_i32(-1); // user data
        assert_eq!(
            subscription_topics(&buf),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(subscription_topics(b"\x00"), None);
    }
}
