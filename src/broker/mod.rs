//! The one dispatch point every request passes through ([`Node::handle_frame`]), and one thin
//! file per API family: request -> domain call -> response, errors mapped per topic/partition.
//!
//! A [`Node`] is one broker of the [`Cluster`] as a listener serves it: its node id, and the
//! cluster's shared state. Cross-cutting features (fault injection, metrics, virtual brokers)
//! hook in here, at [`Node::dispatch`], not in the handlers.

mod admin;
mod api_versions;
mod cluster_admin;
mod configs;
mod fetch;
mod groups;
mod init_producer_id;
mod metadata;
mod offsets;
mod produce;
mod producers;
mod security;
mod transactions;

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tracing::Instrument;

use crate::cluster::{Cluster, NodeInfo};
use crate::protocol::fetch_frame::{self, ResponseFrame};
use crate::protocol::{self, DecodeError, FramePrefix};
use crate::server::{ClientInfo, FrameHandler, Outcome};

/// A handler's answer, before encoding.
enum Answer {
    /// A response body encoded whole.
    Body(ResponseKind),
    /// A Fetch response whose large record sets are sent from their files.
    Fetch(fetch::FetchReply),
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

/// One broker of the cluster, as its listener serves it.
#[derive(Debug)]
pub struct Node {
    /// This broker's node id.
    pub id: i32,
    /// The shared state every node serves from.
    pub cluster: Arc<Cluster>,
}

impl FrameHandler for Node {
    async fn handle_frame(&self, frame: Bytes, client: &ClientInfo) -> Outcome {
        Node::handle_frame(self, frame, client).await
    }

    fn shutting_down(&self) {
        self.cluster.begin_shutdown();
    }
}

impl Node {
    /// Node `id` of `cluster`.
    pub fn new(id: i32, cluster: Arc<Cluster>) -> Node {
        Node { id, cluster }
    }

    /// This node as Metadata lists it (its advertised address).
    pub fn info(&self) -> NodeInfo {
        self.cluster.node(self.id).unwrap_or(NodeInfo {
            id: self.id,
            host: String::new(),
            port: -1,
        })
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
                if self.cluster.faults.drop_response(api_key) {
                    tracing::warn!(
                        "fault injection: dropping the response and closing the connection"
                    );
                    return Outcome::Close;
                }
                let encoded = match result {
                    None => return Outcome::NoResponse,
                    Some(Answer::Body(body)) => {
                        protocol::encode_response(prefix.correlation_id, api_key, version, &body)
                            .map(ResponseFrame::from)
                    }
                    Some(Answer::Fetch(f)) => fetch_frame::encode_fetch_response(
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
    ) -> Option<Answer> {
        use RequestKind as Rq;
        use ResponseKind as Rs;
        Some(Answer::Body(match body {
            Rq::ApiVersions(_) => Rs::ApiVersions(api_versions::response(0)),
            Rq::Metadata(r) => Rs::Metadata(metadata::handle(self, r, version)),
            Rq::CreateTopics(r) => Rs::CreateTopics(admin::create_topics(self, r, version)),
            Rq::DeleteTopics(r) => Rs::DeleteTopics(admin::delete_topics(self, r, version)),
            Rq::CreatePartitions(r) => Rs::CreatePartitions(admin::create_partitions(self, r)),
            Rq::DescribeCluster(r) => Rs::DescribeCluster(admin::describe_cluster(self, r)),
            Rq::DescribeTopicPartitions(r) => {
                Rs::DescribeTopicPartitions(metadata::describe_topic_partitions(self, r))
            }
            Rq::DescribeLogDirs(r) => {
                Rs::DescribeLogDirs(cluster_admin::describe_log_dirs(self, r))
            }
            Rq::DescribeQuorum(r) => {
                Rs::DescribeQuorum(cluster_admin::describe_quorum(self, r, version))
            }
            Rq::ElectLeaders(r) => Rs::ElectLeaders(cluster_admin::elect_leaders(self, r)),
            Rq::ListPartitionReassignments(r) => {
                Rs::ListPartitionReassignments(cluster_admin::list_partition_reassignments(self, r))
            }
            Rq::AlterPartitionReassignments(r) => Rs::AlterPartitionReassignments(
                cluster_admin::alter_partition_reassignments(self, r),
            ),
            Rq::DescribeAcls(r) => Rs::DescribeAcls(security::describe_acls(r)),
            Rq::CreateAcls(r) => Rs::CreateAcls(security::create_acls(r)),
            Rq::DeleteAcls(r) => Rs::DeleteAcls(security::delete_acls(r)),
            Rq::DescribeClientQuotas(r) => {
                Rs::DescribeClientQuotas(security::describe_client_quotas(r))
            }
            Rq::DescribeProducers(r) => {
                Rs::DescribeProducers(producers::describe_producers(self, r))
            }
            Rq::ListTransactions(r) => {
                Rs::ListTransactions(producers::list_transactions(self, r).await)
            }
            Rq::DescribeTransactions(r) => {
                Rs::DescribeTransactions(producers::describe_transactions(self, r).await)
            }
            Rq::DescribeConfigs(r) => Rs::DescribeConfigs(configs::describe(self, r, version)),
            Rq::AlterConfigs(r) => Rs::AlterConfigs(configs::alter(self, r)),
            Rq::IncrementalAlterConfigs(r) => {
                Rs::IncrementalAlterConfigs(configs::incremental_alter(self, r))
            }
            Rq::Produce(r) => {
                let r = produce::handle(self, r, version).await?;
                return Some(Answer::Body(Rs::Produce(r)));
            }
            Rq::Fetch(r) => return Some(Answer::Fetch(fetch::handle(self, r, version).await)),
            Rq::ListOffsets(r) => Rs::ListOffsets(offsets::list_offsets(self, r, version)),
            Rq::OffsetForLeaderEpoch(r) => {
                Rs::OffsetForLeaderEpoch(offsets::offset_for_leader_epoch(self, r))
            }
            Rq::DeleteRecords(r) => Rs::DeleteRecords(offsets::delete_records(self, r)),
            Rq::InitProducerId(r) => {
                Rs::InitProducerId(init_producer_id::init_producer_id(self, r, version).await)
            }
            Rq::AddPartitionsToTxn(r) => {
                Rs::AddPartitionsToTxn(transactions::add_partitions_to_txn(self, r, version).await)
            }
            Rq::AddOffsetsToTxn(r) => {
                Rs::AddOffsetsToTxn(transactions::add_offsets_to_txn(self, r, version).await)
            }
            Rq::EndTxn(r) => Rs::EndTxn(transactions::end_txn(self, r, version).await),
            Rq::TxnOffsetCommit(r) => {
                Rs::TxnOffsetCommit(transactions::txn_offset_commit(self, r, version).await)
            }
            Rq::WriteTxnMarkers(r) => {
                Rs::WriteTxnMarkers(transactions::write_txn_markers(self, r).await)
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
}

/// `StrBytes` from an owned string.
pub(crate) fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
