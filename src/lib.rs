//! Gregor: a Kafka-wire-protocol-compatible broker for local development and tests.
//!
//! # Layout
//!
//! - [`config`]: broker [`config::Config`] (CLI flags, `GREGOR_*` variables, Kafka's
//!   `server.properties` keys) and the table of topic-level configs with their defaults. Opens no
//!   files or sockets.
//! - [`server`]: accept loop, per-connection framing, ordered pipelined responses, graceful
//!   shutdown. Knows no API keys: it hands every frame to [`broker::Broker::handle_frame`].
//! - [`protocol`]: request/response codec on top of the `kafka-protocol` crate, the table of
//!   supported API versions, and the zero-copy record-batch header view. No state, no I/O.
//! - [`broker`]: the one dispatch point every request passes through, and one thin file per API
//!   family (metadata, admin, produce, fetch, offsets): request -> domain call -> response.
//! - [`topics`]: the topic registry (names, ids, partition counts, configs), persisted atomically
//!   in the data directory, and the partitions' shared state (leader, epoch, log handle).
//! - [`log`]: one partition's segmented on-disk log: segments, offset and time indexes, recovery,
//!   retention. Knows nothing of topics or the network. Every write goes through its
//!   file-system seam ([`log::FileSystem`]); an I/O error takes the [`log::LogDir`] offline.
//! - [`group`]: the classic consumer-group coordinator as a pure state machine (time passed in).
//! - [`producer_ids`]: producer id allocation for InitProducerId, persisted in blocks so ids are
//!   never reused across restarts.
//! - [`faults`]: fault-injection rules (fail or lose the response of chosen requests), consulted
//!   by the dispatch point and per-partition handlers.
//! - [`fuzzing`]: entry points for the fuzz targets in `fuzz/` and their regression test.
//! - [`properties`]: the `key=value` file format shared by `server.properties` and the metadata
//!   files Gregor writes.

pub mod broker;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod coordinator;
pub mod fuzzing;
pub mod group;
pub mod log;
pub mod node;
pub mod properties;
pub mod protocol;
pub mod record;
pub mod server;
pub mod topics;
