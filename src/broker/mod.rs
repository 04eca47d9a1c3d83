//! The one dispatch point every request passes through ([`Node::handle_frame`]), and one thin
//! file per API family: request -> domain call -> response, errors mapped per topic/partition.
//!
//! A [`Node`] is one broker of the [`Cluster`] as a listener serves it: its node id, and the
//! cluster's shared state. Cross-cutting features (fault injection, metrics, virtual brokers)
//! hook in here, at `Node::handle_request` and `Node::dispatch`, not in the handlers.

mod admin;
mod api_versions;
mod cluster_admin;
mod configs;
mod consumer_groups;
mod error_codes;
mod fault_response;
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

use crate::cluster::faults::{FaultAction, RequestFacts};
use crate::cluster::request_log::RequestEntry;
use crate::cluster::{Cluster, NodeInfo};
use crate::topics::Partition;

use crate::protocol::fetch_frame::{self, ResponseFrame};
use crate::protocol::{self, DecodeError, FramePrefix};
use crate::server::{ClientInfo, FrameHandler, Outcome};
pub use fault_response::supports as fault_error_supported;

/// A handler's answer, before encoding.
enum Answer {
    /// A response body encoded whole.
    Body(ResponseKind),
    /// A Fetch response whose large record sets are sent from their files.
    Fetch(fetch::FetchReply),
    /// No answer: close the connection (an acks=0 produce that failed, as Kafka does).
    Close,
}

/// What a handler may need to know about the request beyond its body.
#[derive(Debug)]
pub struct RequestContext {
    /// The header's client id (empty if null).
    pub client_id: String,
    /// Peer `ip:port`.
    pub peer: String,
    /// The API.
    pub api: ApiKey,
    /// Its version.
    pub version: i16,
    /// The node it was sent to.
    pub broker: i32,
    /// The last partition-scoped fault rule that fired for it (0: none), for the request log.
    partition_fault: std::sync::atomic::AtomicU64,
}

impl RequestContext {
    /// An injected error for one partition of this request, if a rule says so (Produce,
    /// Fetch and ListOffsets ask per partition).
    pub fn partition_fault(
        &self,
        node: &Node,
        topic: &str,
        partition: i32,
    ) -> Option<ResponseError> {
        let (id, e) = node
            .cluster
            .faults
            .partition_error(&self.facts(), topic, partition)?;
        self.partition_fault
            .store(id, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(rule = id, topic, partition, error = ?e, "fault injection: failing a partition");
        Some(e)
    }

    /// The request as fault rules match it (partitions are matched by the handler).
    pub fn facts(&self) -> RequestFacts<'_> {
        RequestFacts {
            api: self.api,
            version: self.version,
            client_id: &self.client_id,
            broker: self.broker,
            partitions: &[],
        }
    }

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

    fn kicks(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.cluster.subscribe_kicks())
    }

    fn kicked(&self) -> bool {
        self.cluster.is_down(self.id)
    }

    fn connection(&self, opened: bool) {
        self.cluster.metrics.connection(opened);
    }
}

/// The leaders named in NOT_LEADER_OR_FOLLOWER answers (KIP-951's `current_leader`), whose
/// endpoints the response lists so clients go there without a Metadata round trip.
#[derive(Debug, Default)]
pub(crate) struct LeaderHints {
    leaders: Vec<i32>,
}

impl LeaderHints {
    /// `p`'s leader and epoch, remembered for [`LeaderHints::endpoints`].
    pub(crate) fn note(&mut self, p: &Partition) -> (i32, i32) {
        let (leader, epoch) = p.leadership_now();
        if leader >= 0 && !self.leaders.contains(&leader) {
            self.leaders.push(leader);
        }
        (leader, epoch)
    }

    /// The live nodes noted.
    pub(crate) fn endpoints(&self, node: &Node) -> Vec<NodeInfo> {
        self.leaders
            .iter()
            .filter_map(|&id| node.cluster.live_node(id))
            .collect()
    }
}

/// Whether this node coordinates group `group_id`. With its partition's log directory
/// offline there is no coordinator, and the handler answers as it does for that.
pub(crate) fn owns_group(node: &Node, group_id: &str) -> bool {
    node.cluster
        .group_coordinator(group_id)
        .is_none_or(|n| n.id == node.id)
}

/// Whether this node coordinates `transactional_id` (see [`owns_group`]).
pub(crate) fn owns_txn(node: &Node, transactional_id: &str) -> bool {
    node.cluster
        .txn_coordinator(transactional_id)
        .is_none_or(|n| n.id == node.id)
}

/// The coordinator key of a request that goes to one coordinator: `(is_transactional, key)`.
fn coordinator_key(body: &RequestKind, version: i16) -> Option<(bool, &str)> {
    use RequestKind as Rq;
    Some(match body {
        Rq::JoinGroup(r) => (false, &r.group_id),
        Rq::SyncGroup(r) => (false, &r.group_id),
        Rq::Heartbeat(r) => (false, &r.group_id),
        Rq::ConsumerGroupHeartbeat(r) => (false, &r.group_id),
        Rq::LeaveGroup(r) => (false, &r.group_id),
        Rq::OffsetCommit(r) => (false, &r.group_id),
        Rq::OffsetFetch(r) if version < 8 => (false, &r.group_id),
        Rq::OffsetDelete(r) => (false, &r.group_id),
        Rq::TxnOffsetCommit(r) => (false, &r.group_id),
        Rq::AddOffsetsToTxn(r) => (true, &r.transactional_id),
        Rq::EndTxn(r) => (true, &r.transactional_id),
        Rq::AddPartitionsToTxn(r) if version < 4 => (true, &r.v3_and_below_transactional_id),
        Rq::InitProducerId(r) => (true, r.transactional_id.as_deref()?),
        _ => return None,
    })
}

/// Checks that this node leads `p` and that the client's epoch (-1: not given) is current,
/// in Kafka's order: the epoch first (FENCED_LEADER_EPOCH if older, UNKNOWN_LEADER_EPOCH if
/// newer), then leadership (NOT_LEADER_OR_FOLLOWER).
pub fn check_leader(node: &Node, p: &Partition, current_epoch: i32) -> Result<(), ResponseError> {
    let (leader, epoch) = p.leadership_now();
    if current_epoch >= 0 {
        if current_epoch < epoch {
            return Err(ResponseError::FencedLeaderEpoch);
        }
        if current_epoch > epoch {
            return Err(ResponseError::UnknownLeaderEpoch);
        }
    }
    if leader != node.id {
        return Err(ResponseError::NotLeaderOrFollower);
    }
    Ok(())
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
            self.cluster.metrics.rejected(None);
            return Outcome::Close;
        };
        let started = std::time::Instant::now();
        match protocol::decode_request(frame) {
            Ok(req) => self.handle_request(req, prefix, client).await,
            Err(DecodeError::UnsupportedVersion {
                api: ApiKey::ApiVersions,
                version,
            }) => {
                tracing::info!(peer = %client.peer, version, "ApiVersions at an unknown version; answering v0 with UNSUPPORTED_VERSION");
                let body = api_versions::response(ResponseError::UnsupportedVersion.code(), 0);
                let metrics = &self.cluster.metrics;
                metrics.request(ApiKey::ApiVersions, version, started.elapsed(), false);
                metrics.errors(ApiKey::ApiVersions, &[body.error_code]);
                match protocol::encode_api_versions_v0(prefix.correlation_id, &body) {
                    Ok(out) => Outcome::Respond(out.into()),
                    Err(_) => Outcome::Close,
                }
            }
            Err(e) => {
                tracing::warn!(peer = %client.peer, correlation_id = prefix.correlation_id, error = %e, "bad request; closing connection");
                self.cluster
                    .metrics
                    .rejected(ApiKey::try_from(prefix.api_key).ok());
                Outcome::Close
            }
        }
    }

    /// Serves one decoded request: the fault rules first, then its handler, then the request
    /// log.
    async fn handle_request(
        &self,
        req: protocol::Request,
        prefix: FramePrefix,
        client: &ClientInfo,
    ) -> Outcome {
        let started = std::time::Instant::now();
        let client_id = req.header.client_id.as_deref().unwrap_or("").to_string();
        let span = tracing::debug_span!(
            "request",
            api_key = ?req.api_key,
            api_version = prefix.api_version,
            correlation_id = prefix.correlation_id,
            client_id = %client_id,
            broker = self.id,
        );
        let version = prefix.api_version;
        let api_key = req.api_key;
        let ctx = RequestContext {
            client_id,
            peer: client.peer.clone(),
            api: api_key,
            version,
            broker: self.id,
            partition_fault: Default::default(),
        };
        let faults = &self.cluster.faults;
        let log = &self.cluster.requests;
        let name_of = |id| self.cluster.topics.get_by_id(id).map(|t| t.name.clone());
        // Every partition, but only while a rule matches topics or partitions.
        let topic_rules = faults.any_topic_rule();
        let partitions = if topic_rules {
            fault_response::request_partitions(&req.body, name_of, usize::MAX)
        } else {
            Vec::new()
        };
        // For the log, each topic once, at most LOGGED_TOPICS (then `...`), so an entry stays
        // small whatever the request names; no per-partition work when no rule needs it.
        let logged_topics = if !log.enabled() {
            Vec::new()
        } else if topic_rules {
            distinct_topics(partitions.iter().map(|(t, _)| t.clone()))
        } else {
            distinct_topics(fault_response::request_topics(
                &req.body,
                name_of,
                LOGGED_TOPICS + 1,
            ))
        };
        let fired = if faults.any_live() {
            faults.before(&RequestFacts {
                partitions: &partitions,
                ..ctx.facts()
            })
        } else {
            None
        };
        let record = |outcome: &'static str| {
            self.cluster
                .metrics
                .request(api_key, version, started.elapsed(), outcome == "closed");
            if !log.enabled() {
                return;
            }
            log.push(RequestEntry {
                seq: 0,
                at_ms: self.cluster.clock.now_ms(),
                broker: self.id,
                api: format!("{api_key:?}"),
                version,
                correlation_id: prefix.correlation_id,
                client_id: ctx.client_id.clone(),
                peer: ctx.peer.clone(),
                topics: logged_topics.clone(),
                duration_us: started.elapsed().as_micros() as u64,
                fault: fired.map(|(id, _)| id).or_else(|| {
                    Some(
                        ctx.partition_fault
                            .load(std::sync::atomic::Ordering::Relaxed),
                    )
                    .filter(|&id| id != 0)
                }),
                outcome,
            });
        };
        if self.cluster.is_down(self.id) {
            tracing::info!(parent: &span, peer = %client.peer, "broker is down: closing the connection");
            record("closed");
            return Outcome::Close;
        }
        let result = match fired {
            Some((rule, FaultAction::Disconnect)) => {
                tracing::warn!(parent: &span, rule, "fault injection: closing the connection before handling");
                record("closed");
                return Outcome::Close;
            }
            Some((rule, FaultAction::Hang)) => {
                tracing::warn!(parent: &span, rule, "fault injection: not answering");
                // Until the rule is removed, this broker goes down or the broker stops; then
                // the connection closes, unanswered.
                let mut stopping = self.cluster.subscribe_stopping();
                let mut kicks = self.cluster.subscribe_kicks();
                let mut rules = self.cluster.faults.subscribe_changes();
                loop {
                    kicks.borrow_and_update();
                    rules.borrow_and_update();
                    if *stopping.borrow_and_update()
                        || self.cluster.is_down(self.id)
                        || self.cluster.faults.get(rule).is_none()
                    {
                        break;
                    }
                    tokio::select! {
                        _ = stopping.changed() => {}
                        _ = kicks.changed() => {}
                        _ = rules.changed() => {}
                    }
                }
                record("closed");
                return Outcome::Close;
            }
            Some((rule, FaultAction::Error(e))) => {
                tracing::warn!(parent: &span, rule, error = ?e, "fault injection: answering with an error");
                match fault_response::error_response(&req.body, version, e) {
                    // Kafka closes an acks=0 producer's connection on an error, its only way
                    // to tell it.
                    Some(_) if matches!(&req.body, RequestKind::Produce(p) if p.acks == 0) => {
                        record("closed");
                        return Outcome::Close;
                    }
                    Some(body) => Some(Answer::Body(body)),
                    None => {
                        record("closed");
                        return Outcome::Close;
                    }
                }
            }
            other => {
                if let Some((rule, FaultAction::Delay(d))) = other {
                    tracing::warn!(parent: &span, rule, delay_ms = d.as_millis() as u64, "fault injection: delaying the request");
                    let mut stopping = self.cluster.subscribe_stopping();
                    if !*stopping.borrow_and_update() {
                        tokio::select! {
                            _ = self.cluster.clock.sleep(d.as_millis() as i64) => {}
                            _ = stopping.changed() => {}
                        }
                    }
                }
                if self.cluster.is_down(self.id) {
                    // Taken down while the request waited.
                    record("closed");
                    return Outcome::Close;
                }
                // A request for a coordinator this node is not: NOT_COORDINATOR, so the client
                // looks it up again (after a coordinator moved).
                let elsewhere = coordinator_key(&req.body, version).is_some_and(|(txn, key)| {
                    if txn {
                        !owns_txn(self, key)
                    } else {
                        !owns_group(self, key)
                    }
                });
                if elsewhere {
                    tracing::debug!(parent: &span, "not the coordinator");
                    fault_response::error_response(
                        &req.body,
                        version,
                        ResponseError::NotCoordinator,
                    )
                    .map(Answer::Body)
                } else {
                    self.dispatch(req.body, version, &ctx)
                        .instrument(span.clone())
                        .await
                }
            }
        };
        let _g = span.enter();
        if let Some((rule, FaultAction::LoseResponse)) = fired {
            tracing::warn!(
                rule,
                "fault injection: handled, then closing the connection instead of answering"
            );
            record("closed");
            return Outcome::Close;
        }
        let encoded = match result {
            None => {
                record("no-response");
                return Outcome::NoResponse;
            }
            Some(Answer::Close) => {
                tracing::info!(
                    "acks=0 produce failed: closing the connection so the producer notices"
                );
                record("closed");
                return Outcome::Close;
            }
            Some(Answer::Body(body)) => {
                self.cluster
                    .metrics
                    .errors(api_key, &error_codes::of(&body));
                protocol::encode_response(prefix.correlation_id, api_key, version, &body)
                    .map(ResponseFrame::from)
            }
            Some(Answer::Fetch(f)) => {
                self.cluster
                    .metrics
                    .errors(api_key, &error_codes::of_fetch(&f.response));
                fetch_frame::encode_fetch_response(
                    prefix.correlation_id,
                    version,
                    &f.response,
                    f.files,
                )
            }
        };
        match encoded {
            Ok(frame) => {
                record("answered");
                Outcome::Respond(frame)
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot encode response; closing");
                record("closed");
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
            Rq::ApiVersions(_) => Rs::ApiVersions(api_versions::response(0, version)),
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
            // Leadership changes may reload coordinator shards from disk: off the reactor.
            Rq::ElectLeaders(r) => {
                Rs::ElectLeaders(off_reactor(|| cluster_admin::elect_leaders(self, r)))
            }
            Rq::ListPartitionReassignments(r) => {
                Rs::ListPartitionReassignments(cluster_admin::list_partition_reassignments(self, r))
            }
            Rq::AlterPartitionReassignments(r) => {
                Rs::AlterPartitionReassignments(off_reactor(|| {
                    cluster_admin::alter_partition_reassignments(self, r)
                }))
            }
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
                return match produce::handle(self, r, version, ctx).await {
                    produce::Reply::Answer(r) => Some(Answer::Body(Rs::Produce(r))),
                    produce::Reply::Silent => None,
                    produce::Reply::Close => Some(Answer::Close),
                };
            }
            Rq::Fetch(r) => return Some(Answer::Fetch(fetch::handle(self, r, version, ctx).await)),
            Rq::ListOffsets(r) => Rs::ListOffsets(offsets::list_offsets(self, r, version, ctx)),
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
            Rq::ConsumerGroupHeartbeat(r) => Rs::ConsumerGroupHeartbeat(
                consumer_groups::consumer_group_heartbeat(self, r, version, ctx).await,
            ),
            Rq::ConsumerGroupDescribe(r) => Rs::ConsumerGroupDescribe(
                consumer_groups::consumer_group_describe(self, r, version).await,
            ),
            other => {
                // Unreachable while the versions table and this match agree; a test checks that.
                tracing::error!(request = ?std::mem::discriminant(&other), "no handler for a request in the versions table");
                return None;
            }
        }))
    }
}

/// Runs `f`, which may block on disk, without stalling the other tasks of a multi-threaded
/// runtime (`block_in_place`); on a single-threaded one it just runs.
fn off_reactor<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Topics named in one request log entry (then `...`).
const LOGGED_TOPICS: usize = 16;

/// The first LOGGED_TOPICS distinct names of `names`, then `...` if there were more.
fn distinct_topics(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut topics: Vec<String> = Vec::new();
    for t in names {
        if topics.contains(&t) {
            continue;
        }
        if topics.len() == LOGGED_TOPICS {
            topics.push("...".to_string());
            break;
        }
        topics.push(t);
    }
    topics
}

/// `StrBytes` from an owned string.
pub(crate) fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
