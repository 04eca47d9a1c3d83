//! Transaction markers: the control batches a transaction coordinator writes to every partition
//! of a transaction when it ends (Kafka's `EndTransactionMarker`, `ControlRecordType`).
//!
//! A marker is a batch with the transactional (0x10) and control (0x20) attribute bits, the
//! transaction's producer id and epoch, no sequence (-1), and one record:
//!
//! ```text
//! key   = version i16 (0), type i16 (0 = ABORT, 1 = COMMIT)
//! value = version i16 (0), coordinator epoch i32
//! ```

use super::batch::{BatchHeader, CONTROL_BIT, TRANSACTIONAL_BIT};
use super::builder::{build_batch, put_record, BatchFields, RecordFields};
use super::reader::{RecordReader, Want};

/// One transaction marker to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlMarker {
    /// The transaction's producer id.
    pub producer_id: i64,
    /// Its producer epoch (after a fencing bump, the bumped one).
    pub producer_epoch: i16,
    /// COMMIT (`true`) or ABORT.
    pub commit: bool,
    /// The coordinator's epoch (the leader epoch of its `__transaction_state` partition).
    pub coordinator_epoch: i32,
}

impl ControlMarker {
    /// The marker as a v2 batch at offset 0, timestamped `now_ms`.
    pub fn batch(&self, now_ms: i64) -> Vec<u8> {
        let key = [0u8, 0, 0, u8::from(self.commit)];
        let mut value = vec![0u8, 0];
        value.extend_from_slice(&self.coordinator_epoch.to_be_bytes());
        let mut section = Vec::with_capacity(32);
        put_record(
            &mut section,
            &RecordFields {
                key: Some(&key),
                value: Some(&value),
                ..RecordFields::default()
            },
        );
        build_batch(
            &BatchFields {
                attributes: TRANSACTIONAL_BIT | CONTROL_BIT,
                base_timestamp: now_ms,
                max_timestamp: now_ms,
                producer_id: self.producer_id,
                producer_epoch: self.producer_epoch,
                base_sequence: -1,
                ..BatchFields::default()
            },
            &section,
        )
    }
}

/// The type of a control record key: `Some(true)` COMMIT, `Some(false)` ABORT, `None` for
/// anything else (a control type this broker does not know, or a malformed key).
pub fn parse_control_key(key: &[u8]) -> Option<bool> {
    match key {
        [0, 0, 0, 0, ..] => Some(false),
        [0, 0, 0, 1, ..] => Some(true),
        _ => None,
    }
}

/// A whole control batch's marker (`batch` starts at its header): COMMIT (`true`) or ABORT
/// from its first record's key, and the coordinator epoch from its value (-1 if the value is
/// missing or of another version); `None` if it is not a control batch or the key is unknown.
pub fn read_marker(batch: &[u8], h: &BatchHeader) -> Option<(bool, i32)> {
    if !h.is_control() {
        return None;
    }
    let mut records = RecordReader::new(batch, h, 4096).ok()?;
    records.next_record(Want::Data).ok()??;
    let commit = parse_control_key(records.key()?)?;
    let epoch = match records.value() {
        Some([0, 0, e @ ..]) if e.len() >= 4 => i32::from_be_bytes([e[0], e[1], e[2], e[3]]),
        _ => -1,
    };
    Some((commit, epoch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::batch::check_batch;

    #[test]
    fn a_marker_is_a_valid_control_batch_that_reads_back() {
        for commit in [true, false] {
            let m = ControlMarker {
                producer_id: 42,
                producer_epoch: 3,
                commit,
                coordinator_epoch: 7,
            };
            let b = m.batch(1_000);
            let h = check_batch(&b, 0).unwrap();
            assert!(h.is_control() && h.is_transactional());
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (42, 3, -1)
            );
            assert_eq!(h.records_count, 1);
            assert_eq!(read_marker(&b, &h), Some((commit, 7)));
        }
        assert_eq!(parse_control_key(&[0, 0, 0, 9]), None);
        assert_eq!(parse_control_key(&[0]), None);
    }
}
