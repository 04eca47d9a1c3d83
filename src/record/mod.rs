//! Kafka's record format, shared by the protocol layer and the log: the v2 batch header view and
//! its rewrites ([`batch`]), the records inside a batch walked with bounded memory ([`reader`]),
//! streaming decompression ([`codec`]) and produce-time validation ([`validate`]). A leaf: it
//! depends on nothing else in the crate. No I/O, no state.

pub mod batch;
pub mod builder;
pub mod codec;
pub mod reader;
pub mod validate;
