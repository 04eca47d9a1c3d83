//! The `__transaction_state` record format, Kafka's `TransactionLogKey` (version 0) and
//! `TransactionLogValue` (version 0), big-endian:
//!
//! ```text
//! key   = version i16 (0), transactional_id string (i16 length)
//! value = version i16 (0), producer_id i64, producer_epoch i16, transaction_timeout_ms i32,
//!         transaction_status i8, transaction_partitions array (i32 count) of
//!         { topic string (i16 length), partition_ids array (i32 count) of i32 },
//!         transaction_last_update_timestamp_ms i64, transaction_start_timestamp_ms i64
//! ```
//!
//! A null value is a tombstone (an expired transactional id). Decoding never allocates from a
//! count before checking that the bytes for it are there.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::state::{TxnMetadata, TxnState};

/// One record of `__transaction_state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogRecord {
    /// The encoded key.
    pub key: Bytes,
    /// The encoded value; `None` is a tombstone.
    pub value: Option<Bytes>,
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable __transaction_state record: {0}")]
pub struct TxnRecordError(pub &'static str);

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = i16::try_from(s.len()).unwrap_or(i16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..len as usize]);
}

impl TxnLogRecord {
    /// The record of `m` (a tombstone when `m` is Dead).
    pub fn of(m: &TxnMetadata) -> TxnLogRecord {
        let mut key = Vec::with_capacity(4 + m.transactional_id.len());
        key.extend_from_slice(&0i16.to_be_bytes());
        put_str(&mut key, &m.transactional_id);
        if m.state == TxnState::Dead {
            return TxnLogRecord {
                key: key.into(),
                value: None,
            };
        }
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&0i16.to_be_bytes());
        v.extend_from_slice(&m.producer_id.to_be_bytes());
        v.extend_from_slice(&m.producer_epoch.to_be_bytes());
        v.extend_from_slice(&m.timeout_ms.to_be_bytes());
        v.push(m.state.id() as u8);
        let mut topics: Vec<(&str, Vec<i32>)> = Vec::new();
        for (t, p) in &m.partitions {
            match topics.last_mut() {
                Some((last, ps)) if *last == t => ps.push(*p),
                _ => topics.push((t, vec![*p])),
            }
        }
        v.extend_from_slice(&(topics.len() as i32).to_be_bytes());
        for (t, ps) in topics {
            put_str(&mut v, t);
            v.extend_from_slice(&(ps.len() as i32).to_be_bytes());
            for p in ps {
                v.extend_from_slice(&p.to_be_bytes());
            }
        }
        v.extend_from_slice(&m.last_update_ms.to_be_bytes());
        v.extend_from_slice(&m.start_ms.to_be_bytes());
        TxnLogRecord {
            key: key.into(),
            value: Some(v.into()),
        }
    }

    /// Decodes the record: the transactional id and its metadata (`None`: a tombstone).
    pub fn decode(&self) -> Result<(String, Option<TxnMetadata>), TxnRecordError> {
        let mut k = Cursor(&self.key);
        if k.i16()? != 0 {
            return Err(TxnRecordError("unknown key version"));
        }
        let id = k.string()?;
        let Some(value) = &self.value else {
            return Ok((id, None));
        };
        let mut v = Cursor(value);
        if v.i16()? != 0 {
            return Err(TxnRecordError("unknown value version"));
        }
        let producer_id = v.i64()?;
        let producer_epoch = v.i16()?;
        let timeout_ms = v.i32()?;
        let state = TxnState::from_id(v.i8()?).ok_or(TxnRecordError("unknown state"))?;
        let mut partitions = BTreeSet::new();
        let topics = v.count(4)?;
        for _ in 0..topics {
            let topic = v.string()?;
            for _ in 0..v.count(4)? {
                partitions.insert((topic.clone(), v.i32()?));
            }
        }
        let last_update_ms = v.i64()?;
        let start_ms = v.i64()?;
        Ok((
            id.clone(),
            Some(TxnMetadata {
                transactional_id: id,
                producer_id,
                producer_epoch,
                timeout_ms,
                state,
                partitions,
                start_ms,
                last_update_ms,
                markers_in_flight: false,
                markers_retry_ms: 0,
                previous: None,
            }),
        ))
    }
}

/// A bounds-checked big-endian reader.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], TxnRecordError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(TxnRecordError("truncated"))?;
        self.0 = rest;
        Ok(*head)
    }
    fn i8(&mut self) -> Result<i8, TxnRecordError> {
        Ok(i8::from_be_bytes(self.take()?))
    }
    fn i16(&mut self) -> Result<i16, TxnRecordError> {
        Ok(i16::from_be_bytes(self.take()?))
    }
    fn i32(&mut self) -> Result<i32, TxnRecordError> {
        Ok(i32::from_be_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, TxnRecordError> {
        Ok(i64::from_be_bytes(self.take()?))
    }
    /// An array count, checked against the bytes left (each element at least `min` bytes).
    fn count(&mut self, min: usize) -> Result<usize, TxnRecordError> {
        let n = usize::try_from(self.i32()?).map_err(|_| TxnRecordError("negative count"))?;
        if n.saturating_mul(min) > self.0.len() {
            return Err(TxnRecordError("count larger than the record"));
        }
        Ok(n)
    }
    fn string(&mut self) -> Result<String, TxnRecordError> {
        let n = usize::try_from(self.i16()?).map_err(|_| TxnRecordError("null string"))?;
        let (s, rest) = self
            .0
            .split_at_checked(n)
            .ok_or(TxnRecordError("truncated string"))?;
        self.0 = rest;
        String::from_utf8(s.to_vec()).map_err(|_| TxnRecordError("string is not UTF-8"))
    }
}
