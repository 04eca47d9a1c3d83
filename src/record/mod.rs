//! Kafka's record format, shared by the protocol layer and the log (as Kafka keeps
//! `clients/.../common/record`): the v2 batch header view and its rewrites ([`batch`]), batches
//! built field by field ([`builder`]), the records inside a batch walked with bounded memory
//! ([`reader`]), streaming decompression ([`codec`]), transaction markers ([`control`]), produce-time validation ([`validate`]), and
//! [`FileSlice`], stored batches on their way to a fetcher. A leaf: it depends on nothing else in
//! the crate, and holds no state; its only I/O is reading a slice's file.

pub mod batch;
pub mod builder;
pub mod codec;
pub mod control;
mod file_slice;
pub mod partitioner;
pub mod reader;
pub mod validate;

pub use file_slice::{FileSlice, ReadFailure};
