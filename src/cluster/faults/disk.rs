//! The `disk` fault rules in front of the log's file-system seam, so a user can make a
//! partition's disk fail (ENOSPC, EIO, ...) from the same rule set as the request faults. The
//! broker then does what it does on a real disk error: the log directory goes offline, appends
//! answer KAFKA_STORAGE_ERROR, and a restart recovers.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::Faults;
use crate::log::{FsGate, FsOp, GatedFileSystem};

/// The `disk` rules of a [`Faults`], as the gate of a [`GatedFileSystem`].
#[derive(Debug)]
pub struct DiskRules(pub Arc<Faults>);

impl FsGate for DiskRules {
    fn check(&self, op: FsOp, path: &Path) -> io::Result<()> {
        match self.0.disk_error(op, path) {
            Some(errno) => Err(io::Error::from_raw_os_error(errno)),
            None => Ok(()),
        }
    }
}

/// The log's file system behind the `disk` rules.
pub type RuleFileSystem = GatedFileSystem<DiskRules>;
