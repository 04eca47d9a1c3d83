//! The runtime around the pure group [`Coordinator`]: one lock, parked JoinGroup/SyncGroup
//! requests waiting on oneshot channels, one timer task sleeping until the coordinator's next
//! deadline, and persistence of its records to the internal topic `__consumer_offsets`, which
//! lives on the same log code as user topics and is replayed on start.
//!
//! Order of effects, as the coordinator's contract asks: records are appended first, replies
//! sent after. If the append fails, parked requests are answered COORDINATOR_NOT_AVAILABLE.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{oneshot, Notify};

use crate::group::records::RecordKey;
use crate::group::{
    partition_for, Coordinator, Effects, GroupError, JoinRequest, JoinResult, OffsetCommitRequest,
    OffsetsLogRecord, PartitionResult, Reply, ReplyId, SyncRequest, SyncResult,
};
use crate::record::batch;
use crate::record::builder::{simple_batch, RecordFields};
use crate::record::reader::{RecordReader, Want};
use crate::record::validate::DEFAULT_MAX_UNCOMPRESSED_BYTES;
use crate::topics::{Topic, TopicError, TopicRegistry};

/// Name of the internal offsets topic, as Kafka's.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// State under the service's one lock.
struct Inner {
    /// The pure state machine.
    coordinator: Coordinator,
    /// Parked requests by reply id.
    waiters: HashMap<ReplyId, oneshot::Sender<Reply>>,
}

/// The group coordinator service of one broker.
pub struct GroupService {
    /// Coordinator and waiters.
    inner: Mutex<Inner>,
    /// Wakes the timer task when a call may have moved the next deadline earlier.
    timer: Notify,
    /// Source of reply ids.
    next_reply: AtomicU64,
    /// Where `__consumer_offsets` lives.
    topics: Arc<TopicRegistry>,
    /// `offsets.topic.num.partitions` (Kafka: 50).
    partitions: i32,
}

impl std::fmt::Debug for GroupService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupService")
            .field("partitions", &self.partitions)
            .finish()
    }
}

impl GroupService {
    /// Builds the service and replays `__consumer_offsets` if it exists.
    pub fn open(topics: Arc<TopicRegistry>, now_ms: i64) -> Result<GroupService, TopicError> {
        let cfg = topics.broker_config();
        let partitions = cfg.offsets_topic_partitions;
        let mut coordinator = Coordinator::new(cfg.group.clone());
        if let Some(topic) = topics.get(OFFSETS_TOPIC) {
            let n = replay(&topic, &mut coordinator, now_ms)?;
            tracing::info!(records = n, "replayed {OFFSETS_TOPIC}");
        }
        Ok(GroupService {
            inner: Mutex::new(Inner {
                coordinator,
                waiters: HashMap::new(),
            }),
            timer: Notify::new(),
            next_reply: AtomicU64::new(1),
            topics,
            partitions,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the coordinator, executes its effects, and wakes the timer.
    pub fn call<T>(&self, f: impl FnOnce(&mut Coordinator, i64) -> (T, Effects)) -> T {
        let mut inner = self.lock();
        let (out, effects) = f(&mut inner.coordinator, super::now_ms());
        self.execute(&mut inner, effects);
        drop(inner);
        self.timer.notify_one();
        out
    }

    /// Reads the coordinator without changing it.
    pub fn read<T>(&self, f: impl FnOnce(&Coordinator) -> T) -> T {
        f(&self.lock().coordinator)
    }

    /// Appends the records, then answers the parked requests.
    fn execute(&self, inner: &mut Inner, effects: Effects) {
        let failure = self.persist(&effects.records).err().map(|e| {
            tracing::error!(error = %e, "cannot persist group metadata");
            persist_error(&e)
        });
        for (id, reply) in effects.replies {
            let Some(tx) = inner.waiters.remove(&id) else {
                continue;
            };
            let reply = match (&failure, reply) {
                (None, r) => r,
                (Some(e), Reply::Join(r)) => Reply::Join(JoinResult::error(*e, &r.member_id)),
                (Some(e), Reply::Sync(_)) => Reply::Sync(SyncResult::error(*e)),
            };
            // The client may have gone away meanwhile; nothing to do then.
            let _ = tx.send(reply);
        }
    }

    /// Appends records to `__consumer_offsets` (created on first use), one batch per
    /// partition, each group's records in the partition Kafka would use for it.
    fn persist(&self, records: &[OffsetsLogRecord]) -> Result<(), TopicError> {
        if records.is_empty() {
            return Ok(());
        }
        let topic = match self.topics.get(OFFSETS_TOPIC) {
            Some(t) => t,
            None => self.topics.ensure_internal(
                OFFSETS_TOPIC,
                self.partitions,
                BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact".to_string()),
                    ("segment.bytes".to_string(), "104857600".to_string()),
                ]),
            )?,
        };
        let mut by_partition: BTreeMap<i32, Vec<&OffsetsLogRecord>> = BTreeMap::new();
        for r in records {
            let group = match RecordKey::decode(&r.key) {
                Ok(RecordKey::OffsetCommit { group, .. } | RecordKey::GroupMetadata { group }) => {
                    group
                }
                Err(e) => {
                    tracing::error!(error = %e, "coordinator produced an undecodable key");
                    continue;
                }
            };
            by_partition
                .entry(partition_for(&group, topic.partition_count()))
                .or_default()
                .push(r);
        }
        let now = super::now_ms();
        for (index, recs) in by_partition {
            let p = topic
                .partition(index)
                .ok_or_else(|| TopicError::Unknown(format!("{OFFSETS_TOPIC}-{index}")))?;
            let buf = encode_batch(&recs, now);
            let headers = batch::frame_batches(&buf).map_err(|e| {
                TopicError::InvalidConfig(format!("internal batch failed validation: {e}"))
            })?;
            p.log().append(&buf, &headers, p.leader_epoch, now)?;
        }
        Ok(())
    }

    /// JoinGroup: parked until the rebalance completes (or answered at once).
    pub async fn join(&self, req: JoinRequest) -> JoinResult {
        let member = req.member_id.clone();
        match self.park(|c, now, id| c.join(now, id, req)).await {
            Some(Reply::Join(r)) => r,
            _ => JoinResult::error(GroupError::CoordinatorNotAvailable, &member),
        }
    }

    /// SyncGroup: parked until the leader's assignment arrives (or answered at once).
    pub async fn sync(&self, req: SyncRequest) -> SyncResult {
        match self.park(|c, now, id| c.sync(now, id, req)).await {
            Some(Reply::Sync(r)) => r,
            _ => SyncResult::error(GroupError::CoordinatorNotAvailable),
        }
    }

    async fn park(
        &self,
        f: impl FnOnce(&mut Coordinator, i64, ReplyId) -> Effects,
    ) -> Option<Reply> {
        let id = ReplyId(self.next_reply.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.lock();
            inner.waiters.insert(id, tx);
            let effects = f(&mut inner.coordinator, super::now_ms(), id);
            self.execute(&mut inner, effects);
        }
        self.timer.notify_one();
        // If the client goes away first this future is dropped; the coordinator's answer
        // then finds a closed channel, as Kafka's answer would find a closed socket.
        rx.await.ok()
    }

    /// OffsetCommit: validate, append, then make the offsets visible.
    pub fn commit(&self, req: OffsetCommitRequest) -> Vec<PartitionResult> {
        let mut inner = self.lock();
        let outcome = inner.coordinator.commit_offsets(super::now_ms(), req);
        let persisted = self.persist(&outcome.effects.records);
        if let Some(token) = outcome.token {
            inner.coordinator.complete_commit(token, persisted.is_ok());
        }
        let mut results = outcome.results;
        if let Err(e) = persisted {
            tracing::error!(error = %e, "cannot persist committed offsets");
            let code = persist_error(&e);
            for r in results.iter_mut().filter(|r| r.error.is_none()) {
                r.error = Some(code);
            }
        }
        for (id, reply) in outcome.effects.replies {
            if let Some(tx) = inner.waiters.remove(&id) {
                let _ = tx.send(reply);
            }
        }
        results
    }

    /// The timer: sleeps until the coordinator's next deadline (or until a call may have
    /// moved it), then ticks. Ends when `stopping` turns true.
    pub async fn run_timer(self: Arc<Self>, mut stopping: tokio::sync::watch::Receiver<bool>) {
        loop {
            let next = self.read(Coordinator::next_deadline);
            let sleep = match next {
                Some(at) => {
                    let wait = (at - super::now_ms()).max(0) as u64;
                    tokio::time::sleep(std::time::Duration::from_millis(wait))
                }
                None => tokio::time::sleep(std::time::Duration::from_secs(3600)),
            };
            tokio::select! {
                _ = sleep => {
                    self.call(|c, now| ((), c.tick(now)));
                }
                _ = self.timer.notified() => {}
                _ = stopping.changed() => return,
            }
        }
    }
}

/// Kafka's mapping of a failed append to `__consumer_offsets` (`GroupMetadataManager`): a
/// storage error means this broker cannot coordinate the group now (NOT_COORDINATOR, and the
/// client looks the coordinator up again); anything else is COORDINATOR_NOT_AVAILABLE.
fn persist_error(e: &TopicError) -> GroupError {
    match e.code() {
        kafka_protocol::ResponseError::KafkaStorageError
        | kafka_protocol::ResponseError::NotLeaderOrFollower => GroupError::NotCoordinator,
        _ => GroupError::CoordinatorNotAvailable,
    }
}

/// One uncompressed batch holding the records, as Kafka's coordinator writes them.
fn encode_batch(records: &[&OffsetsLogRecord], now_ms: i64) -> Vec<u8> {
    let fields: Vec<RecordFields<'_>> = records
        .iter()
        .map(|r| RecordFields {
            key: Some(&r.key),
            value: r.value.as_deref(),
            ..RecordFields::default()
        })
        .collect();
    simple_batch(now_ms, &fields)
}

/// Replays every record of the offsets topic into the coordinator; returns how many. Batches
/// are read a megabyte at a time and their records walked with bounded memory.
fn replay(topic: &Topic, coordinator: &mut Coordinator, now_ms: i64) -> Result<usize, TopicError> {
    let mut n = 0;
    for p in topic.partitions() {
        let (mut offset, end) = {
            let log = p.log();
            (log.log_start_offset(), log.log_end_offset())
        };
        while offset < end {
            let slice = p.log().read(offset, 1 << 20)?;
            if slice.len == 0 {
                break;
            }
            let bytes = slice.read_bytes()?;
            let undecodable = |e: &dyn std::fmt::Display| {
                TopicError::InvalidConfig(format!(
                    "{OFFSETS_TOPIC}-{}: undecodable batch: {e}",
                    p.index
                ))
            };
            let mut next = offset;
            let mut pos = 0;
            while pos < bytes.len() {
                let h = batch::check_batch(&bytes[pos..], pos).map_err(|e| undecodable(&e))?;
                let mut records =
                    RecordReader::new(&bytes[pos..], &h, DEFAULT_MAX_UNCOMPRESSED_BYTES)
                        .map_err(|e| undecodable(&e))?;
                while let Some(r) = records
                    .next_record(Want::Data)
                    .map_err(|e| undecodable(&e))?
                {
                    let record_offset = h.base_offset + i64::from(r.offset_delta);
                    if record_offset < offset {
                        continue;
                    }
                    let Some(key) = records.key() else { continue };
                    let record = OffsetsLogRecord {
                        key: Bytes::copy_from_slice(key),
                        value: records.value().map(Bytes::copy_from_slice),
                    };
                    match coordinator.replay(now_ms, &record) {
                        Ok(()) => n += 1,
                        Err(e) => {
                            tracing::warn!(partition = p.index, offset = record_offset, error = %e, "skipping offsets record")
                        }
                    }
                }
                next = next.max(h.next_offset());
                pos += h.total_len();
            }
            if next <= offset {
                break;
            }
            offset = next;
        }
    }
    Ok(n)
}
