//! Producer id allocation for InitProducerId. Ids are never reused, even across restarts: like
//! Kafka's controller (`AllocateProducerIds`), ids are handed out from blocks whose upper bound
//! is written to disk (atomically, fsync'd) before any id of the block is used, so a crash only
//! skips the rest of a block.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::properties::{self, Properties};

/// Ids per persisted block (Kafka: 1000).
pub const BLOCK_SIZE: i64 = 1000;

/// The allocator's state.
#[derive(Debug)]
struct State {
    /// Next id to hand out.
    next: i64,
    /// First id not covered by the persisted reservation.
    reserved_until: i64,
}

/// Allocates producer ids.
#[derive(Debug)]
pub struct ProducerIdAllocator {
    /// `__gregor_metadata/producer-ids.properties`.
    path: PathBuf,
    /// Next id and the persisted bound, under one small lock.
    state: Mutex<State>,
}

impl ProducerIdAllocator {
    /// Opens the allocator; ids continue after the last persisted block.
    pub fn open(data_dir: &std::path::Path) -> std::io::Result<ProducerIdAllocator> {
        let path = data_dir
            .join("__gregor_metadata")
            .join("producer-ids.properties");
        let start = match properties::read(&path) {
            Ok(p) => p
                .get("next.block.start")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            Err(_) => 0,
        };
        Ok(ProducerIdAllocator {
            path,
            state: Mutex::new(State {
                next: start,
                reserved_until: start,
            }),
        })
    }

    /// A fresh producer id.
    pub fn allocate(&self) -> std::io::Result<i64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.next >= s.reserved_until {
            let until = s.next + BLOCK_SIZE;
            let mut p = Properties::new();
            p.insert("next.block.start".into(), until.to_string());
            properties::write_atomic(&self.path, &p)?;
            s.reserved_until = until;
        }
        let id = s.next;
        s.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = ProducerIdAllocator::open(dir.path()).unwrap();
        let first: Vec<i64> = (0..3).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(first, vec![0, 1, 2]);
        drop(a);
        let b = ProducerIdAllocator::open(dir.path()).unwrap();
        assert_eq!(b.allocate().unwrap(), BLOCK_SIZE);
    }
}
