//! Gregor: a Kafka-wire-protocol-compatible broker for local development and tests.
//!
//! # Layout
//!
//! Leaves (import nothing else of the crate but each other's leaves):
//! - [`record`]: Kafka's record format: the v2 batch view and its rewrites, a batch builder,
//!   records walked with bounded memory, streaming decompression, produce validation
//!   (`LogValidator`), and [`record::FileSlice`], stored batches on their way to a fetcher.
//! - [`config`]: broker [`config::Config`] (CLI flags, `GREGOR_*` variables, Kafka's
//!   `server.properties` keys), each key parsed once from one table with its default; the table
//!   of topic-level configs. Opens no files or sockets.
//! - [`clock`]: the one [`clock::Clock`], real or driven by hand, for every timestamp and
//!   deadline.
//! - [`properties`]: the `key=value` file format shared by `server.properties` and the metadata
//!   files Gregor writes.
//! - [`metrics`]: the broker's counters (requests, errors and latency per API, connections,
//!   each topic's traffic) and a writer of Prometheus' text format.
//! - [`ctl`]: `gregor ctl`, the command line that drives a running broker through its admin
//!   endpoint (knows only that endpoint's JSON).
//!
//! Pure state machines (time passed in, no I/O; import leaves only):
//! - [`group`]: the classic consumer-group protocol, Kafka's `GroupCoordinator` semantics, and
//!   the KIP-848 consumer protocol.
//! - [`txn`]: the transaction coordinator, Kafka's `TransactionCoordinator` semantics.
//!
//! Storage:
//! - [`log`]: one partition's segmented on-disk log: segments, indexes, the loader and crash
//!   recovery, retention, producer state, the bounded file cache, the data-directory lock. Knows
//!   nothing of topics or the network. Every write goes through its file-system seam
//!   ([`log::FileSystem`]); an I/O error takes the [`log::LogDir`] offline.
//! - [`topics`]: the topic registry (names, ids, partition counts, configs), persisted
//!   atomically, and each [`topics::Partition`] with its mutable leader and epoch and its log.
//!
//! Coordination and cluster state:
//! - [`coordinator`]: the coordinator runtime, shards over internal-topic partitions with one
//!   deadline timer; the classic group coordinator and the transaction coordinator are its
//!   shard types, and the transaction markers are written from here.
//! - [`cluster`]: the [`cluster::Cluster`] every node serves from: nodes (virtual brokers, up
//!   or down), topics, coordinators, producer ids, fault rules, the request log, the clock;
//!   leader, coordinator and broker moves ([`cluster::topology`]).
//!
//! Serving:
//! - [`protocol`]: request/response codec on top of the `kafka-protocol` crate, the table of
//!   supported API versions, Fetch responses with file regions. No state, no I/O.
//! - [`server`]: accept loop, per-connection framing, ordered pipelined responses, graceful
//!   shutdown. Knows only frames: each goes to a [`server::FrameHandler`].
//! - [`broker`]: [`broker::Node`], one broker of the cluster: the one dispatch point every request
//!   passes through, and one thin file per API family (request -> domain call -> response).
//! - [`admin`]: the HTTP admin endpoint (`/admin/...`: faults, leader moves, brokers down and
//!   up, the request log) that `gregor ctl` talks to.
//! - [`cli`]: `gregor topic|produce|consume|group`, Kafka's everyday tools over a small blocking
//!   Kafka-protocol client of their own, so they work against any Kafka (imports [`record`],
//!   for the batches it builds and reads, and [`group::records`]' consumer-protocol decoding).
//! - [`console`]: the web console (a page embedded in the binary and its JSON API under
//!   `/api/`) and `/metrics`, served with the admin endpoint, read from the cluster's state.
//! - [`node`]: the wiring: locks and opens the data directory, builds the cluster, binds and
//!   serves each node's listener and the admin endpoint, runs the background tasks, shuts
//!   down.
//! - [`embedded`]: [`Embedded`], Gregor started from a Rust test suite, with the faults and
//!   leader moves on its handle.
//!
//! - [`fuzzing`]: entry points for the fuzz targets in `fuzz/` and their regression test.
//!
//! No two top-level modules import each other, directly or round a loop (a test in
//! `tests/layout.rs` checks the `use crate::` lines).

pub mod admin;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod console;
pub mod coordinator;
pub mod ctl;
pub mod embedded;
pub mod fuzzing;
pub mod group;
pub mod log;
pub mod metrics;
pub mod node;
pub mod properties;
pub mod protocol;
pub mod record;
pub mod server;
pub mod topics;
pub mod txn;

pub use embedded::Embedded;
