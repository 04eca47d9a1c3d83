//! The classic group coordinator on the [`CoordinatorRuntime`]: one [`group::Coordinator`]
//! state machine per partition of `__consumer_offsets`, each holding the groups whose id maps to
//! that partition (Kafka's `partitionFor`), and the calls the group APIs make, routed to the
//! right shard. The protocol-level conversion is in `broker::groups`; the logic is the pure
//! state machine in [`crate::group`].
//!
//! Failed appends are answered as Kafka's `GroupMetadataManager` does: a storage error means
//! this broker cannot coordinate the group now (NOT_COORDINATOR, so the client looks the
//! coordinator up again); anything else is COORDINATOR_NOT_AVAILABLE.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use tokio::sync::watch;

use super::runtime::{
    AppendError, CoordinatorRuntime, InternalTopic, NotLoaded, Replayed, Shard, ShardEffects,
    ShardRecord, Written,
};
use crate::clock::Clock;
use crate::config::Config;
use crate::group::consumer::{
    ConsumerGroupDescription, ConsumerHeartbeat, ConsumerHeartbeatResult, TopicImage,
};
use crate::group::{
    self, partition_for, Coordinator, Effects, FetchedOffset, GroupDescription, GroupError,
    GroupListing, HeartbeatRequest, JoinRequest, JoinResult, LeaveRequest, LeaveResult,
    OffsetCommitRequest, OffsetDeleteOutcome, OffsetsLogRecord, PartitionResult, Reply, ReplyId,
    SyncRequest, SyncResult, TxnMarker, TxnOffsetCommitRequest,
};
use crate::record::control::ControlMarker;
use crate::topics::{TopicError, TopicRegistry};

/// Name of the internal offsets topic, as Kafka's.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// A group error for a failed append (see the module documentation).
fn append_error(e: &AppendError) -> GroupError {
    match e.code {
        ResponseError::KafkaStorageError | ResponseError::NotLeaderOrFollower => {
            GroupError::NotCoordinator
        }
        _ => GroupError::CoordinatorNotAvailable,
    }
}

fn effects(fx: Effects) -> ShardEffects<Reply> {
    ShardEffects {
        producer: fx.txn_producer,
        marker: fx.txn_marker.map(|m| ControlMarker {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            commit: m.commit,
            coordinator_epoch: m.coordinator_epoch,
        }),
        records: fx
            .records
            .into_iter()
            .map(|r| ShardRecord {
                key: r.key,
                value: r.value,
            })
            .collect(),
        replies: fx
            .replies
            .into_iter()
            .map(|(ReplyId(id), r)| (id, r))
            .collect(),
        work: Vec::new(),
    }
}

impl Shard for Coordinator {
    type Reply = Reply;
    type Work = ();

    fn replay(&mut self, now_ms: i64, item: Replayed) {
        let (record, producer_id) = match item {
            Replayed::Marker {
                producer_id,
                commit,
            } => return self.replay_marker(producer_id, commit),
            Replayed::Record {
                record,
                producer_id,
            } => (
                OffsetsLogRecord {
                    key: record.key,
                    value: record.value,
                },
                producer_id,
            ),
        };
        let replayed = match producer_id {
            Some(pid) => self.replay_txn_record(now_ms, pid, &record),
            None => Coordinator::replay(self, now_ms, &record),
        };
        if let Err(e) = replayed {
            tracing::warn!(error = %e, "skipping {OFFSETS_TOPIC} record");
        }
    }

    fn tick(&mut self, now_ms: i64) -> ShardEffects<Reply> {
        effects(Coordinator::tick(self, now_ms))
    }

    fn next_deadline(&self) -> Option<i64> {
        Coordinator::next_deadline(self)
    }

    fn appended(&mut self, stored: Result<(), &AppendError>) {
        // Offsets committed by the operation become visible only once they are in the log.
        self.complete_pending_commits(stored.is_ok());
        self.complete_staged_txn(stored.is_ok());
    }

    fn failed_reply(reply: Reply, error: &AppendError) -> Reply {
        let e = append_error(error);
        match reply {
            Reply::Join(r) => Reply::Join(JoinResult::error(e, &r.member_id)),
            Reply::Sync(_) => Reply::Sync(SyncResult::error(e)),
        }
    }
}

/// The group coordinator of the cluster: its shards and the group API calls.
#[derive(Debug)]
pub struct GroupCoordinator {
    runtime: Arc<CoordinatorRuntime<Coordinator>>,
    /// Records of `__consumer_offsets` replayed when it opened (bounded by live state once the
    /// log cleaner has been over it).
    replayed_at_open: usize,
}

impl GroupCoordinator {
    /// The coordinator with every shard loaded from `__consumer_offsets` (if it exists).
    pub fn open(
        topics: Arc<TopicRegistry>,
        clock: Clock,
        config: &Config,
    ) -> Result<Self, TopicError> {
        let group_config = config.group.clone();
        let runtime = CoordinatorRuntime::new(
            "group",
            InternalTopic {
                name: OFFSETS_TOPIC,
                partitions: config.offsets_topic_partitions,
                configs: BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact".to_string()),
                    (
                        "segment.bytes".to_string(),
                        config.offsets_topic_segment_bytes.to_string(),
                    ),
                ]),
            },
            topics,
            clock,
            move |_| Coordinator::new(group_config.clone()),
        );
        let replayed_at_open = runtime.load_all()?;
        Ok(GroupCoordinator {
            runtime,
            replayed_at_open,
        })
    }

    /// Records of `__consumer_offsets` replayed when the coordinator opened.
    pub fn replayed_at_open(&self) -> usize {
        self.replayed_at_open
    }

    /// The shard (partition of `__consumer_offsets`) that owns `group_id`.
    pub fn shard_of(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.runtime.shard_count())
    }

    /// The runtime (to load and unload shards when leadership moves).
    pub fn runtime(&self) -> &Arc<CoordinatorRuntime<Coordinator>> {
        &self.runtime
    }

    /// Runs `op` on the group's shard; the append's failure is logged by the runtime.
    async fn write<T: Send + 'static>(
        &self,
        group_id: &str,
        op: impl FnOnce(&mut Coordinator, i64) -> (T, Effects) + Send + 'static,
    ) -> Result<Written<T>, GroupError> {
        self.runtime
            .write(self.shard_of(group_id), move |c, now| {
                let (value, fx) = op(c, now);
                (value, effects(fx))
            })
            .await
            .map_err(not_coordinator)
    }

    async fn park(
        &self,
        group_id: &str,
        op: impl FnOnce(&mut Coordinator, i64, ReplyId) -> Effects + Send + 'static,
    ) -> Result<Reply, GroupError> {
        self.runtime
            .park(self.shard_of(group_id), move |c, now, id| {
                effects(op(c, now, ReplyId(id)))
            })
            .await
            .map_err(not_coordinator)
    }

    /// JoinGroup: parked until the rebalance completes (or answered at once).
    pub async fn join(&self, req: JoinRequest) -> JoinResult {
        let (group, member) = (req.group_id.clone(), req.member_id.clone());
        match self
            .park(&group, move |c, now, id| c.join(now, id, req))
            .await
        {
            Ok(Reply::Join(r)) => r,
            Ok(Reply::Sync(_)) => JoinResult::error(GroupError::CoordinatorNotAvailable, &member),
            Err(e) => JoinResult::error(e, &member),
        }
    }

    /// SyncGroup: parked until the leader's assignment arrives (or answered at once).
    pub async fn sync(&self, req: SyncRequest) -> SyncResult {
        let group = req.group_id.clone();
        match self
            .park(&group, move |c, now, id| c.sync(now, id, req))
            .await
        {
            Ok(Reply::Sync(r)) => r,
            Ok(Reply::Join(_)) => SyncResult::error(GroupError::CoordinatorNotAvailable),
            Err(e) => SyncResult::error(e),
        }
    }

    /// Heartbeat.
    pub async fn heartbeat(&self, req: HeartbeatRequest) -> Result<(), GroupError> {
        let group = req.group_id.clone();
        self.write(&group, move |c, now| {
            (c.heartbeat(now, req), Effects::default())
        })
        .await?
        .value
    }

    /// ConsumerGroupHeartbeat (KIP-848), answered once its records are stored.
    pub async fn consumer_heartbeat(
        &self,
        req: ConsumerHeartbeat,
        topics: TopicImage,
    ) -> ConsumerHeartbeatResult {
        let group = req.group_id.clone();
        let refused = |e: GroupError| ConsumerHeartbeatResult::error(e, e.to_string());
        match self
            .write(&group, move |c, now| {
                c.consumer_heartbeat(now, req, &topics)
            })
            .await
        {
            Err(e) => refused(e),
            Ok(Written {
                appended: Err(e), ..
            }) => refused(append_error(&e)),
            Ok(Written { value, .. }) => value,
        }
    }

    /// ConsumerGroupDescribe for one group.
    pub async fn describe_consumer_group(
        &self,
        group_id: &str,
    ) -> Result<ConsumerGroupDescription, GroupError> {
        let group = group_id.to_string();
        self.runtime
            .read(self.shard_of(group_id), move |c| {
                c.describe_consumer_group(&group)
            })
            .await
            .map_err(not_coordinator)
    }

    /// OffsetFetch v9's member check (see [`Coordinator::check_offset_fetch_member`]).
    pub async fn check_offset_fetch_member(
        &self,
        group_id: &str,
        member_id: Option<String>,
        member_epoch: i32,
    ) -> Result<(), GroupError> {
        let group = group_id.to_string();
        self.runtime
            .read(self.shard_of(group_id), move |c| {
                c.check_offset_fetch_member(&group, member_id.as_deref(), member_epoch)
            })
            .await
            .map_err(not_coordinator)?
    }

    /// LeaveGroup.
    pub async fn leave(&self, req: LeaveRequest) -> Result<LeaveResult, GroupError> {
        let group = req.group_id.clone();
        Ok(self
            .write(&group, move |c, now| c.leave(now, req))
            .await?
            .value)
    }

    /// OffsetCommit: validated, appended, then made visible; a failed append fails every
    /// partition that had no error of its own.
    pub async fn commit(&self, req: OffsetCommitRequest) -> Vec<PartitionResult> {
        let group = req.group_id.clone();
        let wanted = req
            .partitions
            .iter()
            .map(|p| (p.topic.clone(), p.partition))
            .collect();
        self.commit_with(&group, wanted, move |c, now| {
            let outcome = c.commit_offsets(now, req);
            (outcome.results, outcome.effects)
        })
        .await
    }

    /// TxnOffsetCommit: staged under the producer until its transaction ends; a failed append
    /// fails every partition that had no error of its own.
    pub async fn txn_commit(&self, req: TxnOffsetCommitRequest) -> Vec<PartitionResult> {
        let group = req.commit.group_id.clone();
        let wanted = req
            .commit
            .partitions
            .iter()
            .map(|p| (p.topic.clone(), p.partition))
            .collect();
        self.commit_with(&group, wanted, move |c, now| c.txn_commit_offsets(now, req))
            .await
    }

    /// Runs a commit on the group's shard: every partition of `wanted` fails with the shard's
    /// error, and a failed append fails those that had no error of their own.
    async fn commit_with(
        &self,
        group: &str,
        wanted: Vec<(String, i32)>,
        op: impl FnOnce(&mut Coordinator, i64) -> (Vec<PartitionResult>, Effects) + Send + 'static,
    ) -> Vec<PartitionResult> {
        match self.write(group, op).await {
            Err(e) => wanted
                .into_iter()
                .map(|(topic, partition)| PartitionResult {
                    topic,
                    partition,
                    error: Some(e),
                })
                .collect(),
            Ok(Written {
                mut value,
                appended,
            }) => {
                if let Err(e) = appended {
                    let code = append_error(&e);
                    for r in value.iter_mut().filter(|r| r.error.is_none()) {
                        r.error = Some(code);
                    }
                }
                value
            }
        }
    }

    /// Starts the verification of a TxnOffsetCommit (see
    /// [`Coordinator::begin_txn_verification`]).
    pub async fn begin_txn_verification(
        &self,
        group_id: &str,
        producer_id: i64,
    ) -> Result<u64, GroupError> {
        Ok(self
            .write(group_id, move |c, _| {
                (c.begin_txn_verification(producer_id), Effects::default())
            })
            .await?
            .value)
    }

    /// Writes a transaction's marker to one partition of `__consumer_offsets` (the shard's) and
    /// applies it to the offsets the transaction staged there.
    pub async fn complete_transaction(
        &self,
        shard: i32,
        marker: TxnMarker,
    ) -> Result<(), AppendError> {
        let written = self
            .runtime
            .write(shard, move |c, _| {
                ((), effects(c.complete_transaction(marker)))
            })
            .await
            .map_err(|e| AppendError {
                code: ResponseError::NotCoordinator,
                message: e.to_string(),
            })?;
        written.appended
    }

    /// OffsetFetch for one group.
    pub async fn fetch_offsets(
        &self,
        group_id: &str,
        wanted: Option<Vec<(String, i32)>>,
        require_stable: bool,
    ) -> Result<Vec<FetchedOffset>, GroupError> {
        let group = group_id.to_string();
        self.runtime
            .read(self.shard_of(group_id), move |c| {
                c.fetch_offsets(&group, wanted.as_deref(), require_stable)
            })
            .await
            .map_err(not_coordinator)
    }

    /// OffsetDelete.
    pub async fn delete_offsets(
        &self,
        group_id: &str,
        partitions: Vec<(String, i32)>,
    ) -> Result<OffsetDeleteOutcome, GroupError> {
        let group = group_id.to_string();
        Ok(self
            .write(group_id, move |c, _| {
                let mut o = c.delete_offsets(&group, &partitions);
                let fx = std::mem::take(&mut o.effects);
                (o, fx)
            })
            .await?
            .value)
    }

    /// ListGroups over every shard; `states_filter` as [`Coordinator::list_groups`].
    pub async fn list_groups(&self, states_filter: Vec<String>) -> Vec<GroupListing> {
        self.runtime
            .read_all(move |c| c.list_groups(&states_filter))
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// DescribeGroups for one group.
    pub async fn describe_group(&self, group_id: &str) -> Result<GroupDescription, GroupError> {
        let group = group_id.to_string();
        self.runtime
            .read(self.shard_of(group_id), move |c| c.describe_group(&group))
            .await
            .map_err(not_coordinator)
    }

    /// DeleteGroups: each group on its own shard; results in the order asked.
    pub async fn delete_groups(&self, group_ids: &[String]) -> Vec<(String, Option<GroupError>)> {
        let mut out = Vec::with_capacity(group_ids.len());
        for id in group_ids {
            let one = vec![id.clone()];
            match self.write(id, move |c, _| c.delete_groups(&one)).await {
                Ok(w) => out.extend(w.value),
                Err(e) => out.push((id.clone(), Some(e))),
            }
        }
        out
    }

    /// The deadline timer of every shard (see [`CoordinatorRuntime::run_timer`]).
    pub async fn run_timer(self: Arc<Self>, stopping: watch::Receiver<bool>) {
        Arc::clone(&self.runtime).run_timer(stopping).await;
    }
}

fn not_coordinator(_: NotLoaded) -> GroupError {
    GroupError::NotCoordinator
}

/// The plain request types the broker layer builds.
pub use group::{CommitPartition, LeaveMember};
