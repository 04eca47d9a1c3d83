//! The one dispatch point every request passes through ([`Broker::handle_frame`]), and one thin
//! file per API family: request -> domain call -> response, errors mapped per topic/partition.
//!
//! Future cross-cutting features (fault injection, metrics, virtual brokers) hook in here, at
//! [`Broker::dispatch`], not in the handlers.

mod admin;
mod api_versions;
mod configs;
mod fetch;
mod groups;
mod metadata;
mod offsets;
mod produce;
mod producer_id;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::sync::watch;
use tracing::Instrument;

use crate::config::Config;
use crate::coordinator::GroupCoordinator;
use crate::faults::Faults;
use crate::producer_ids::ProducerIdAllocator;
use crate::protocol::fetch_frame::{self, ResponseFrame};
use crate::protocol::{self, DecodeError, FramePrefix};
use crate::topics::{TopicError, TopicRegistry};

/// What the connection should do with a frame's outcome.
#[derive(Debug)]
pub enum Outcome {
    /// Write this response frame (length prefix included; Fetch records may be file regions).
    Respond(ResponseFrame),
    /// Send nothing (Produce with acks=0).
    NoResponse,
    /// Close the connection; the reason has been logged.
    Close,
}

/// A handler's answer, before encoding.
enum Reply {
    /// A response body encoded whole.
    Body(ResponseKind),
    /// A Fetch response whose large record sets are sent from their files.
    Fetch(fetch::FetchReply),
}

/// Who sent a frame, for logs and (later) per-client state.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Peer address, as text.
    pub peer: String,
}

/// What a handler may need to know about the request beyond its body.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The header's client id (empty if null).
    pub client_id: String,
    /// Peer `ip:port`.
    pub peer: String,
}

impl RequestContext {
    /// The client host as Kafka reports it in DescribeGroups (`/ip`).
    pub fn client_host(&self) -> String {
        let ip = self
            .peer
            .rsplit_once(':')
            .map_or(self.peer.as_str(), |(ip, _)| ip);
        format!("/{ip}")
    }
}

/// Shared state of one broker: configuration, identity and the topic registry.
#[derive(Debug)]
pub struct Broker {
    /// Resolved configuration.
    pub config: Arc<Config>,
    /// Cluster id, stable across restarts (from `meta.properties`).
    pub cluster_id: String,
    /// `(host, port)` given to clients in Metadata and FindCoordinator.
    pub advertised: (String, i32),
    /// Topics and their partitions.
    pub topics: Arc<TopicRegistry>,
    /// Bumped after every append; long-polling fetches wait on it instead of sleeping.
    appended: watch::Sender<u64>,
    /// Set to true when the broker is stopping, so parked requests answer at once.
    stopping: watch::Sender<bool>,
    /// When the broker was created, for uptime in logs.
    pub started: Instant,
    /// Fault-injection rules (tests today; users later).
    pub faults: Faults,
    /// Producer id allocation for InitProducerId.
    pub producer_ids: ProducerIdAllocator,
    /// The consumer-group coordinator.
    pub groups: Arc<GroupCoordinator>,
}

impl Broker {
    /// Creates a broker over an opened topic registry.
    pub fn new(
        config: Arc<Config>,
        cluster_id: String,
        advertised: (String, i32),
        topics: Arc<TopicRegistry>,
        producer_ids: ProducerIdAllocator,
        groups: Arc<GroupCoordinator>,
    ) -> Broker {
        Broker {
            groups,
            faults: Faults::default(),
            producer_ids,
            config,
            cluster_id,
            advertised,
            topics,
            appended: watch::channel(0).0,
            stopping: watch::channel(false).0,
            started: Instant::now(),
        }
    }

    /// This broker's node id.
    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    /// Wakes long-polling fetches after data was appended.
    pub fn notify_appended(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes on every append (for long-polling).
    pub fn subscribe_appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Tells parked requests to answer now; called at shutdown.
    pub fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
    }

    /// A receiver that turns true when the broker starts stopping.
    pub fn subscribe_stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Handles one request frame (without its length prefix) from a client.
    pub async fn handle_frame(&self, frame: Bytes, client: &ClientInfo) -> Outcome {
        let Some(prefix) = FramePrefix::peek(&frame) else {
            tracing::warn!(peer = %client.peer, len = frame.len(), "frame too short for a request header; closing");
            return Outcome::Close;
        };
        match protocol::decode_request(frame) {
            Ok(req) => {
                let client_id = req.header.client_id.as_deref().unwrap_or("").to_string();
                let span = tracing::debug_span!(
                    "request",
                    api_key = ?req.api_key,
                    api_version = prefix.api_version,
                    correlation_id = prefix.correlation_id,
                    client_id = %client_id,
                );
                let version = prefix.api_version;
                let api_key = req.api_key;
                let ctx = RequestContext {
                    client_id: client_id.clone(),
                    peer: client.peer.clone(),
                };
                let result = self
                    .dispatch(req.body, version, &ctx)
                    .instrument(span.clone())
                    .await;
                let _g = span.enter();
                if self.faults.drop_response(api_key) {
                    tracing::warn!(
                        "fault injection: dropping the response and closing the connection"
                    );
                    return Outcome::Close;
                }
                let encoded = match result {
                    None => return Outcome::NoResponse,
                    Some(Reply::Body(body)) => {
                        protocol::encode_response(prefix.correlation_id, api_key, version, &body)
                            .map(ResponseFrame::from)
                    }
                    Some(Reply::Fetch(f)) => fetch_frame::encode_fetch_response(
                        prefix.correlation_id,
                        version,
                        &f.response,
                        f.files,
                    ),
                };
                match encoded {
                    Ok(frame) => Outcome::Respond(frame),
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "cannot encode response; closing");
                        Outcome::Close
                    }
                }
            }
            Err(DecodeError::UnsupportedVersion {
                api: ApiKey::ApiVersions,
                version,
            }) => {
                tracing::info!(peer = %client.peer, version, "ApiVersions at an unknown version; answering v0 with UNSUPPORTED_VERSION");
                let body = api_versions::response(ResponseError::UnsupportedVersion.code());
                match protocol::encode_api_versions_v0(prefix.correlation_id, &body) {
                    Ok(out) => Outcome::Respond(out.into()),
                    Err(_) => Outcome::Close,
                }
            }
            Err(e) => {
                tracing::warn!(peer = %client.peer, correlation_id = prefix.correlation_id, error = %e, "bad request; closing connection");
                Outcome::Close
            }
        }
    }

    /// Routes a decoded request to its handler. `None` means no response is sent.
    async fn dispatch(
        &self,
        body: RequestKind,
        version: i16,
        ctx: &RequestContext,
    ) -> Option<Reply> {
        use RequestKind as Rq;
        use ResponseKind as Rs;
        Some(Reply::Body(match body {
            Rq::ApiVersions(_) => Rs::ApiVersions(api_versions::response(0)),
            Rq::Metadata(r) => Rs::Metadata(metadata::handle(self, r, version)),
            Rq::CreateTopics(r) => Rs::CreateTopics(admin::create_topics(self, r, version)),
            Rq::DeleteTopics(r) => Rs::DeleteTopics(admin::delete_topics(self, r, version)),
            Rq::CreatePartitions(r) => Rs::CreatePartitions(admin::create_partitions(self, r)),
            Rq::DescribeCluster(r) => Rs::DescribeCluster(admin::describe_cluster(self, r)),
            Rq::DescribeConfigs(r) => Rs::DescribeConfigs(configs::describe(self, r, version)),
            Rq::AlterConfigs(r) => Rs::AlterConfigs(configs::alter(self, r)),
            Rq::IncrementalAlterConfigs(r) => {
                Rs::IncrementalAlterConfigs(configs::incremental_alter(self, r))
            }
            Rq::Produce(r) => {
                let r = produce::handle(self, r, version).await?;
                return Some(Reply::Body(Rs::Produce(r)));
            }
            Rq::Fetch(r) => return Some(Reply::Fetch(fetch::handle(self, r, version).await)),
            Rq::ListOffsets(r) => Rs::ListOffsets(offsets::list_offsets(self, r, version)),
            Rq::OffsetForLeaderEpoch(r) => {
                Rs::OffsetForLeaderEpoch(offsets::offset_for_leader_epoch(self, r))
            }
            Rq::DeleteRecords(r) => Rs::DeleteRecords(offsets::delete_records(self, r)),
            Rq::InitProducerId(r) => {
                Rs::InitProducerId(producer_id::init_producer_id(self, r, version))
            }
            Rq::FindCoordinator(r) => {
                Rs::FindCoordinator(groups::find_coordinator(self, r, version))
            }
            Rq::JoinGroup(r) => Rs::JoinGroup(groups::join_group(self, r, version, ctx).await),
            Rq::SyncGroup(r) => Rs::SyncGroup(groups::sync_group(self, r, version).await),
            Rq::Heartbeat(r) => Rs::Heartbeat(groups::heartbeat(self, r).await),
            Rq::LeaveGroup(r) => Rs::LeaveGroup(groups::leave_group(self, r, version).await),
            Rq::OffsetCommit(r) => Rs::OffsetCommit(groups::offset_commit(self, r, version).await),
            Rq::OffsetFetch(r) => Rs::OffsetFetch(groups::offset_fetch(self, r, version).await),
            Rq::OffsetDelete(r) => Rs::OffsetDelete(groups::offset_delete(self, r).await),
            Rq::ListGroups(r) => Rs::ListGroups(groups::list_groups(self, r, version).await),
            Rq::DescribeGroups(r) => {
                Rs::DescribeGroups(groups::describe_groups(self, r, version).await)
            }
            Rq::DeleteGroups(r) => Rs::DeleteGroups(groups::delete_groups(self, r).await),
            other => {
                // Unreachable while the versions table and this match agree; a test checks that.
                tracing::error!(request = ?std::mem::discriminant(&other), "no handler for a request in the versions table");
                return None;
            }
        }))
    }

    /// Looks a topic up, creating it when auto-creation is on and the caller allows it.
    pub fn topic_or_create(
        &self,
        name: &str,
        allow_create: bool,
    ) -> Result<Arc<crate::topics::Topic>, TopicError> {
        if let Some(t) = self.topics.get(name) {
            return Ok(t);
        }
        if allow_create && self.config.auto_create_topics {
            self.topics.auto_create(name)
        } else {
            crate::topics::validate_topic_name(name)?;
            Err(TopicError::Unknown(name.to_string()))
        }
    }
}

/// `StrBytes` from an owned string.
pub(crate) fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// Milliseconds since the Unix epoch: the clock for timestamps and deadlines.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
