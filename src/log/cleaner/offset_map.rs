//! The cleaner's key -> last offset map (Kafka's `SkimpyOffsetMap`): for each key seen in the
//! dirty part of a log, the offset of its latest record. Keys are not stored, only a 128-bit
//! hash of each (two SipHash-1-3 digests with random keys, where Kafka takes MD5), so an entry
//! is 24 bytes whatever the key's size, and the memory is bounded by
//! `log.cleaner.dedupe.buffer.size`: open addressing with linear probing in a slot array that
//! doubles as it fills, never past that many bytes. A full map ends the pass early; the rest of
//! the log waits for the next one.

use std::hash::{BuildHasher, Hasher};

/// Bytes of one slot: the key's hash and an offset.
pub const SLOT_BYTES: usize = 24;

/// The map's slots start this small and double as needed.
const INITIAL_SLOTS: usize = 1024;

/// Kafka's `log.cleaner.io.buffer.load.factor`: how full the largest slot array may get.
const MAX_LOAD: f64 = 0.9;

/// See the module documentation.
#[derive(Debug)]
pub struct OffsetMap {
    /// `(hash, offset)`; hash 0 marks an empty slot.
    slots: Vec<(u128, i64)>,
    /// Occupied slots.
    len: usize,
    /// Most slots the buffer allows (a power of two).
    max_slots: usize,
    /// Keys the map may hold before it is full.
    capacity: usize,
    /// Hashers of the two digests.
    hashers: (
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    ),
    /// The last offset put (or passed over) so far; -1 before any.
    latest_offset: i64,
}

impl OffsetMap {
    /// A map using at most `buffer_bytes` for its slots (at least one initial array).
    pub fn new(buffer_bytes: usize) -> OffsetMap {
        let fit = (buffer_bytes / SLOT_BYTES).max(INITIAL_SLOTS);
        // The largest power of two within the buffer.
        let max_slots = 1usize << (usize::BITS - 1 - fit.leading_zeros());
        OffsetMap {
            slots: Vec::new(),
            len: 0,
            max_slots,
            capacity: (max_slots as f64 * MAX_LOAD) as usize,
            hashers: Default::default(),
            latest_offset: -1,
        }
    }

    fn hash(&self, key: &[u8]) -> u128 {
        let digest = |s: &std::collections::hash_map::RandomState| {
            let mut h = s.build_hasher();
            h.write(key);
            h.finish()
        };
        let h = (u128::from(digest(&self.hashers.0)) << 64) | u128::from(digest(&self.hashers.1));
        h.max(1)
    }

    /// Index of `hash`'s slot, or of the empty slot where it would go.
    fn find(&self, hash: u128) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let (h, _) = self.slots[i];
            if h == 0 || h == hash {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let n = (self.slots.len() * 2).clamp(INITIAL_SLOTS, self.max_slots);
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); n]);
        for (h, o) in old.into_iter().filter(|&(h, _)| h != 0) {
            let i = self.find(h);
            self.slots[i] = (h, o);
        }
    }

    /// Records `offset` as `key`'s latest. Returns false (and changes nothing) when the key is
    /// new and the map is full.
    pub fn put(&mut self, key: &[u8], offset: i64) -> bool {
        let hash = self.hash(key);
        if self.slots.is_empty() {
            self.grow();
        }
        let mut i = self.find(hash);
        if self.slots[i].0 == 0 {
            if self.len >= self.capacity {
                return false;
            }
            if self.len + 1 > self.slots.len() / 4 * 3 && self.slots.len() < self.max_slots {
                self.grow();
                i = self.find(hash);
            }
            self.len += 1;
        }
        self.slots[i] = (hash, offset);
        self.latest_offset = self.latest_offset.max(offset);
        true
    }

    /// The latest offset recorded for `key`, if any.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        if self.slots.is_empty() {
            return None;
        }
        let (h, o) = self.slots[self.find(self.hash(key))];
        (h != 0).then_some(o)
    }

    /// Notes that everything up to `offset` was read into the map (a batch with no keys to
    /// put, an aborted batch, a marker).
    pub fn advance_to(&mut self, offset: i64) {
        self.latest_offset = self.latest_offset.max(offset);
    }

    /// The last offset the map covers: records after it are kept whatever their key.
    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No key yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys it may hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of its slot array now.
    pub fn allocated_bytes(&self) -> usize {
        self.slots.len() * SLOT_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_offset_per_key_and_grows_within_its_buffer() {
        let mut m = OffsetMap::new(1 << 20);
        assert_eq!(m.get(b"a"), None);
        for i in 0..10_000i64 {
            assert!(m.put(format!("key-{}", i % 5000).as_bytes(), i));
        }
        assert_eq!(m.len(), 5000);
        assert_eq!(m.get(b"key-7"), Some(5007));
        assert_eq!(m.get(b"key-4999"), Some(9999));
        assert_eq!(m.get(b"missing"), None);
        assert_eq!(m.latest_offset(), 9999);
        assert!(m.allocated_bytes() <= 1 << 20);
        m.advance_to(12_000);
        assert_eq!(m.latest_offset(), 12_000);
    }

    #[test]
    fn a_full_map_refuses_new_keys_but_updates_known_ones() {
        // The smallest buffer: 1,024 slots, 921 keys.
        let mut m = OffsetMap::new(0);
        assert_eq!(m.capacity(), 921);
        for i in 0..921 {
            assert!(m.put(&i.to_string().into_bytes(), i64::from(i)));
        }
        assert!(!m.put(b"one too many", 5000));
        assert_eq!(m.get(b"one too many"), None);
        assert!(m.put(b"3", 6000), "a known key is updated in a full map");
        assert_eq!(m.get(b"3"), Some(6000));
        assert_eq!(m.len(), 921);
        assert_eq!(m.allocated_bytes(), 1024 * SLOT_BYTES);
    }
}
