//! [`CoordinatorRuntime`]: one runtime, many coordinators (Kafka 4's `CoordinatorRuntime`).
//!
//! A coordinator's state is split into shards, one per partition of its internal topic
//! (`__consumer_offsets` for groups, `__transaction_state` for transactions). A key (a group id,
//! a transactional id) belongs to the shard of `partition_for(key)`. Each shard is a pure state
//! machine ([`Shard`]) behind its own lock, and owns its partition:
//!
//! - **Load**: the shard is built empty and replays its partition's records in log order
//!   ([`CoordinatorRuntime::load`]); a shard that is not loaded answers [`NotLoaded`] (the
//!   caller's NOT_COORDINATOR). [`CoordinatorRuntime::unload`] drops it again, answering its
//!   parked requests the same way; leadership moves load and unload shards.
//! - **Write**: an operation runs against the state machine with the time passed in and
//!   returns its answer plus [`ShardEffects`]: records to append and replies to parked
//!   requests. The records are appended to the shard's partition *before* any reply leaves,
//!   then the machine is told whether they were stored ([`Shard::appended`]); a parked reply
//!   whose records were not stored is replaced by [`Shard::failed_reply`].
//! - **Park**: an operation may leave a request unanswered (JoinGroup, SyncGroup) under a reply
//!   id; a later operation or a deadline answers it through its effects.
//! - **Deadlines**: one timer task for all shards sleeps on the cluster clock until the earliest
//!   [`Shard::next_deadline`], then ticks the shards that are due.
//!
//! Every operation that takes a shard's lock runs off the reactor (`block_in_place`, or the
//! blocking pool on a single-threaded runtime): an append is a disk write (an fsync with
//! `flush.messages=1`), and a lock held across one must not stall other connections.
//!
//! The runtime knows nothing of groups or transactions: the first shard type is the classic
//! group coordinator ([`super::groups`]), the second will be the transaction coordinator.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::{oneshot, watch, Notify};

use crate::clock::Clock;
use crate::record::batch;
use crate::record::builder::{build_batch, simple_batch, BatchFields, RecordFields};
use crate::record::control::{self, ControlMarker};
use crate::record::reader::{RecordReader, Want};
use crate::record::validate::DEFAULT_MAX_UNCOMPRESSED_BYTES;
use crate::topics::{Topic, TopicError, TopicRegistry};

/// How long a tick whose records could not be stored waits before the next attempt.
const TICK_RETRY_MS: i64 = 1_000;

/// One record of a coordinator's internal topic: a key and a value (`None`: a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRecord {
    /// The record key (the coordinator's own format).
    pub key: Bytes,
    /// The record value; `None` deletes the key.
    pub value: Option<Bytes>,
}

/// What the runtime must do after an operation: append `records` (or `marker`), then send
/// `replies`, then (if the append succeeded) hand `work` to the runtime's work sink.
#[derive(Debug)]
#[must_use]
pub struct ShardEffects<R, W = ()> {
    /// Records for the shard's partition, in order.
    pub records: Vec<ShardRecord>,
    /// Write `records` as one transactional batch of this producer (id, epoch): a transactional
    /// offset commit, which the transaction's marker later commits or aborts.
    pub producer: Option<(i64, i16)>,
    /// A transaction marker to append instead of records.
    pub marker: Option<ControlMarker>,
    /// Answers to parked requests, by reply id.
    pub replies: Vec<(u64, R)>,
    /// Work for the coordinator outside the shard lock (the transaction coordinator's markers
    /// of a transaction its timer aborted), given to [`CoordinatorRuntime::set_work_sink`]'s
    /// sink once the records are stored.
    pub work: Vec<W>,
}

impl<R, W> Default for ShardEffects<R, W> {
    fn default() -> Self {
        ShardEffects {
            records: Vec::new(),
            producer: None,
            marker: None,
            replies: Vec::new(),
            work: Vec::new(),
        }
    }
}

impl<R, W> ShardEffects<R, W> {
    /// Whether there is anything to append.
    fn appends(&self) -> bool {
        !self.records.is_empty() || self.marker.is_some()
    }
}

/// One item of a shard's partition, replayed in log order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// A record; `producer_id` is set for a record of a transactional batch.
    Record {
        /// The record.
        record: ShardRecord,
        /// The producer of its transactional batch.
        producer_id: Option<i64>,
    },
    /// A transaction marker of this producer.
    Marker {
        /// The transaction's producer id.
        producer_id: i64,
        /// COMMIT or ABORT.
        commit: bool,
    },
}

/// Why records could not be appended: the code the coordinator maps to its own answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendError {
    /// The partition's error code (KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER, ...).
    pub code: ResponseError,
    /// What failed.
    pub message: String,
}

/// The shard is not loaded here (not yet, or no longer): the caller answers NOT_COORDINATOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("coordinator shard {0} is not loaded")]
pub struct NotLoaded(pub i32);

/// A coordinator's state machine for one shard: pure, time passed in.
pub trait Shard: Send + 'static {
    /// The answer to a parked request.
    type Reply: Send + 'static;
    /// Work handed out of the shard lock (see [`ShardEffects::work`]).
    type Work: Send + 'static;

    /// Applies one record or marker of the shard's partition while loading, in log order.
    fn replay(&mut self, now_ms: i64, item: Replayed);

    /// Fires every deadline that is due.
    fn tick(&mut self, now_ms: i64) -> ShardEffects<Self::Reply, Self::Work>;

    /// The earliest time [`Shard::tick`] has something to do.
    fn next_deadline(&self) -> Option<i64>;

    /// Whether the records of the operation just run were stored; a machine that makes state
    /// visible only once it is durable (committed offsets) finishes it here.
    fn appended(&mut self, stored: Result<(), &AppendError>) {
        let _ = stored;
    }

    /// What a parked request gets instead of `reply` when its records were not stored.
    fn failed_reply(reply: Self::Reply, error: &AppendError) -> Self::Reply;
}

/// An operation's answer and whether its records were stored.
#[derive(Debug)]
pub struct Written<T> {
    /// What the operation returned.
    pub value: T,
    /// `Err` if its records could not be appended.
    pub appended: Result<(), AppendError>,
}

/// How a runtime's internal topic looks.
#[derive(Debug, Clone)]
pub struct InternalTopic {
    /// Its name.
    pub name: &'static str,
    /// Partitions when it is created (an existing topic keeps its own count).
    pub partitions: i32,
    /// Topic configs it is created with.
    pub configs: BTreeMap<String, String>,
}

/// A loaded shard: the machine and its parked requests.
struct Loaded<S: Shard> {
    machine: S,
    waiters: HashMap<u64, oneshot::Sender<S::Reply>>,
}

/// See the module documentation.
pub struct CoordinatorRuntime<S: Shard> {
    /// For logs: "group", "transaction".
    name: &'static str,
    /// The internal topic.
    topic: InternalTopic,
    /// Shards, partitions of `topic`: the count is fixed at creation.
    shards: Vec<Mutex<Option<Loaded<S>>>>,
    /// Where the internal topic lives.
    topics: Arc<TopicRegistry>,
    /// The cluster's clock.
    clock: Clock,
    /// Wakes the timer when an operation moved a deadline before the one it sleeps until.
    wake: Notify,
    /// The deadline the timer sleeps until, so an operation wakes it only when it made
    /// something due earlier, not on every commit. `i64::MAX` while the timer is scanning the
    /// shards: every deadline then counts as earlier, and the wake-up permit it leaves makes
    /// the timer scan again instead of missing a deadline set during its scan.
    timer_target: AtomicI64,
    /// Source of reply ids.
    next_reply: AtomicU64,
    /// Builds an empty shard for a partition.
    new_shard: Box<dyn Fn(i32) -> S + Send + Sync>,
    /// Where work from operations and ticks goes (dropped while unset).
    work_sink: Mutex<Option<WorkSink<S::Work>>>,
}

/// Receives a shard's work items, outside its lock.
type WorkSink<W> = Arc<dyn Fn(i32, Vec<W>) + Send + Sync>;

impl<S: Shard> std::fmt::Debug for CoordinatorRuntime<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoordinatorRuntime")
            .field("name", &self.name)
            .field("topic", &self.topic.name)
            .field("shards", &self.shards.len())
            .finish()
    }
}

impl<S: Shard> CoordinatorRuntime<S> {
    /// A runtime with every shard unloaded. If the internal topic exists its partition count
    /// wins over `topic.partitions` (as Kafka's), since keys are placed by it.
    pub fn new(
        name: &'static str,
        mut topic: InternalTopic,
        topics: Arc<TopicRegistry>,
        clock: Clock,
        new_shard: impl Fn(i32) -> S + Send + Sync + 'static,
    ) -> Arc<Self> {
        if let Some(t) = topics.get(topic.name) {
            topic.partitions = t.partition_count();
        }
        Arc::new(CoordinatorRuntime {
            name,
            shards: (0..topic.partitions.max(1))
                .map(|_| Mutex::new(None))
                .collect(),
            topic,
            topics,
            clock,
            wake: Notify::new(),
            timer_target: AtomicI64::new(i64::MAX),
            next_reply: AtomicU64::new(1),
            new_shard: Box::new(new_shard),
            work_sink: Mutex::new(None),
        })
    }

    /// Sets where work items go (see [`ShardEffects::work`]).
    pub fn set_work_sink(&self, sink: impl Fn(i32, Vec<S::Work>) + Send + Sync + 'static) {
        *self.work_sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(sink));
    }

    /// Hands work to the sink (no shard lock held).
    fn deliver(&self, shard: i32, work: Vec<S::Work>) {
        if work.is_empty() {
            return;
        }
        let sink = self
            .work_sink
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match sink {
            Some(sink) => sink(shard, work),
            None => tracing::warn!(
                coordinator = self.name,
                shard,
                "no work sink; dropping work"
            ),
        }
    }

    /// Number of shards (partitions of the internal topic).
    pub fn shard_count(&self) -> i32 {
        self.shards.len() as i32
    }

    /// The clock operations are given.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn slot(&self, shard: i32) -> Option<MutexGuard<'_, Option<Loaded<S>>>> {
        let slot = self.shards.get(usize::try_from(shard).ok()?)?;
        Some(slot.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Loads one shard: an empty machine that replays its partition (if the topic exists yet).
    /// Returns the records replayed.
    pub fn load(&self, shard: i32) -> Result<usize, TopicError> {
        let now = self.clock.now_ms();
        let mut machine = (self.new_shard)(shard);
        let replayed = match self.topics.get(self.topic.name) {
            Some(topic) => replay_partition(&topic, shard, |r| machine.replay(now, r))?,
            None => 0,
        };
        if let Some(mut slot) = self.slot(shard) {
            *slot = Some(Loaded {
                machine,
                waiters: HashMap::new(),
            });
        }
        self.wake.notify_one();
        Ok(replayed)
    }

    /// Loads every shard; returns the records replayed in all.
    pub fn load_all(&self) -> Result<usize, TopicError> {
        let mut n = 0;
        for shard in 0..self.shard_count() {
            n += self.load(shard)?;
        }
        tracing::info!(
            coordinator = self.name,
            topic = self.topic.name,
            records = n,
            "loaded coordinator shards"
        );
        Ok(n)
    }

    /// Unloads a shard: its state is dropped (the log keeps it) and its parked requests are
    /// answered as not loaded.
    pub fn unload(&self, shard: i32) {
        if let Some(mut slot) = self.slot(shard) {
            *slot = None;
        }
    }

    /// The shards' internal topic, created (with the coordinator's partition count and
    /// configs) if it does not exist yet.
    pub fn ensure_topic(&self) -> Result<Arc<Topic>, TopicError> {
        match self.topics.get(self.topic.name) {
            Some(t) => Ok(t),
            None => self.topics.ensure_internal(
                self.topic.name,
                self.shard_count(),
                self.topic.configs.clone(),
            ),
        }
    }

    /// Whether a shard is loaded.
    pub fn is_loaded(&self, shard: i32) -> bool {
        self.slot(shard).is_some_and(|s| s.is_some())
    }

    /// Runs `op` on the shard, appends its records, then delivers its replies (see the module
    /// documentation), off the reactor.
    pub async fn write<T, F>(self: &Arc<Self>, shard: i32, op: F) -> Result<Written<T>, NotLoaded>
    where
        T: Send + 'static,
        F: FnOnce(&mut S, i64) -> (T, ShardEffects<S::Reply, S::Work>) + Send + 'static,
    {
        let rt = Arc::clone(self);
        off_reactor(move || rt.write_now(shard, op))
            .await
            .unwrap_or(Err(NotLoaded(shard)))
    }

    /// [`Self::write`] on the calling thread.
    fn write_now<T>(
        &self,
        shard: i32,
        op: impl FnOnce(&mut S, i64) -> (T, ShardEffects<S::Reply, S::Work>),
    ) -> Result<Written<T>, NotLoaded> {
        let mut slot = self.slot(shard).ok_or(NotLoaded(shard))?;
        let loaded = slot.as_mut().ok_or(NotLoaded(shard))?;
        let now = self.clock.now_ms();
        let (value, effects) = op(&mut loaded.machine, now);
        let (appended, work) = self.apply(shard, loaded, effects, now);
        let next = loaded.machine.next_deadline();
        drop(slot);
        self.deliver(shard, work);
        self.wake_if_earlier(next);
        Ok(Written { value, appended })
    }

    /// Wakes the timer if `deadline` comes before the one it sleeps until.
    fn wake_if_earlier(&self, deadline: Option<i64>) {
        if deadline.is_some_and(|d| d < self.timer_target.load(Ordering::Acquire)) {
            self.wake.notify_one();
        }
    }

    /// Runs `op` with a fresh reply id registered, then waits for the reply to that id, which
    /// `op`'s own effects or a later operation deliver.
    pub async fn park<F>(self: &Arc<Self>, shard: i32, op: F) -> Result<S::Reply, NotLoaded>
    where
        F: FnOnce(&mut S, i64, u64) -> ShardEffects<S::Reply, S::Work> + Send + 'static,
    {
        let id = self.next_reply.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let rt = Arc::clone(self);
        let registered = off_reactor(move || {
            let mut slot = rt.slot(shard).ok_or(NotLoaded(shard))?;
            let loaded = slot.as_mut().ok_or(NotLoaded(shard))?;
            loaded.waiters.insert(id, tx);
            let now = rt.clock.now_ms();
            let effects = op(&mut loaded.machine, now, id);
            // A failed append has already answered the parked replies: nothing more to do.
            let (_, work) = rt.apply(shard, loaded, effects, now);
            let next = loaded.machine.next_deadline();
            drop(slot);
            rt.deliver(shard, work);
            rt.wake_if_earlier(next);
            Ok::<(), NotLoaded>(())
        })
        .await;
        registered.unwrap_or(Err(NotLoaded(shard)))?;
        // If the client goes away first this future is dropped; the reply then finds a closed
        // channel, as Kafka's would find a closed socket. An unloaded shard drops the sender.
        rx.await.map_err(|_| NotLoaded(shard))
    }

    /// Reads the shard's state, off the reactor (the lock may be held across an append).
    pub async fn read<T, F>(self: &Arc<Self>, shard: i32, f: F) -> Result<T, NotLoaded>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> T + Send + 'static,
    {
        let rt = Arc::clone(self);
        let done = off_reactor(move || {
            let slot = rt.slot(shard).ok_or(NotLoaded(shard))?;
            let loaded = slot.as_ref().ok_or(NotLoaded(shard))?;
            Ok(f(&loaded.machine))
        })
        .await;
        done.unwrap_or(Err(NotLoaded(shard)))
    }

    /// Reads every loaded shard, in shard order.
    pub async fn read_all<T, F>(self: &Arc<Self>, f: F) -> Vec<T>
    where
        T: Send + 'static,
        F: Fn(&S) -> T + Send + 'static,
    {
        let rt = Arc::clone(self);
        off_reactor(move || {
            (0..rt.shard_count())
                .filter_map(|s| {
                    let slot = rt.slot(s)?;
                    slot.as_ref().map(|l| f(&l.machine))
                })
                .collect()
        })
        .await
        .unwrap_or_default()
    }

    /// Appends the effects' records, tells the machine, then answers the replies; returns the
    /// work to deliver (none if the append failed).
    fn apply(
        &self,
        shard: i32,
        loaded: &mut Loaded<S>,
        mut effects: ShardEffects<S::Reply, S::Work>,
        now: i64,
    ) -> (Result<(), AppendError>, Vec<S::Work>) {
        let stored = self.append(shard, &effects, now);
        if let Err(e) = &stored {
            tracing::error!(coordinator = self.name, shard, error = %e.message, "cannot persist coordinator records");
        }
        if effects.appends() {
            loaded.machine.appended(stored.as_ref().map(|_| ()));
        }
        for (id, reply) in effects.replies {
            let Some(tx) = loaded.waiters.remove(&id) else {
                continue;
            };
            let reply = match &stored {
                Ok(()) => reply,
                Err(e) => S::failed_reply(reply, e),
            };
            // The client may have gone away meanwhile; nothing to do then.
            let _ = tx.send(reply);
        }
        let work = if stored.is_ok() {
            std::mem::take(&mut effects.work)
        } else {
            Vec::new()
        };
        (stored, work)
    }

    /// Appends the effects' records to the shard's partition of the internal topic (created
    /// on first use) as one uncompressed batch, or their marker.
    fn append(
        &self,
        shard: i32,
        effects: &ShardEffects<S::Reply, S::Work>,
        now: i64,
    ) -> Result<(), AppendError> {
        if !effects.appends() {
            return Ok(());
        }
        let fail = |e: TopicError| AppendError {
            code: e.code(),
            message: e.to_string(),
        };
        let topic = self.ensure_topic().map_err(fail)?;
        let p = topic
            .partition(shard)
            .ok_or_else(|| fail(TopicError::Unknown(format!("{}-{shard}", self.topic.name))))?;
        if let Some(marker) = &effects.marker {
            let appended = p.log().append_marker(marker, p.leader_epoch(), now);
            return appended.map(|_| ()).map_err(|e| fail(TopicError::Log(e)));
        }
        let fields: Vec<RecordFields<'_>> = effects
            .records
            .iter()
            .map(|r| RecordFields {
                key: Some(&r.key),
                value: r.value.as_deref(),
                ..RecordFields::default()
            })
            .collect();
        let mut buf = simple_batch(now, &fields);
        if let Some((pid, epoch)) = effects.producer {
            buf = transactional(&buf, pid, epoch);
        }
        let headers = batch::frame_batches(&buf).map_err(|e| AppendError {
            code: ResponseError::CorruptMessage,
            message: format!("internal batch failed its own check: {e}"),
        })?;
        let appended = p.log().append(&buf, &headers, p.leader_epoch(), now);
        appended.map(|_| ()).map_err(|e| fail(TopicError::Log(e)))
    }

    /// Ticks every loaded shard that is due; returns the earliest deadline after that.
    fn tick_due(&self) -> Option<i64> {
        let mut next: Option<i64> = None;
        for shard in 0..self.shard_count() {
            let Some(mut slot) = self.slot(shard) else {
                continue;
            };
            let Some(loaded) = slot.as_mut() else {
                continue;
            };
            let now = self.clock.now_ms();
            let mut work = Vec::new();
            let mut failed = false;
            if loaded.machine.next_deadline().is_some_and(|d| d <= now) {
                let effects = loaded.machine.tick(now);
                let (stored, w) = self.apply(shard, loaded, effects, now);
                failed = stored.is_err();
                work = w;
            }
            if let Some(mut d) = loaded.machine.next_deadline() {
                if failed {
                    // The machine undid what could not be stored, so its deadline is still due:
                    // try again a second later instead of spinning on a failing disk.
                    d = d.max(now.saturating_add(TICK_RETRY_MS));
                }
                next = Some(next.map_or(d, |n| n.min(d)));
            }
            drop(slot);
            self.deliver(shard, work);
        }
        next
    }

    /// The one deadline timer of all shards: sleeps on the clock until the earliest deadline
    /// (or until an operation may have moved it), then ticks the shards that are due. Ends when
    /// `stopping` turns true.
    pub async fn run_timer(self: Arc<Self>, mut stopping: watch::Receiver<bool>) {
        loop {
            self.timer_target.store(i64::MAX, Ordering::Release);
            let rt = Arc::clone(&self);
            let next = off_reactor(move || rt.tick_due()).await.flatten();
            // No deadline: wake in an hour anyway (or when an operation says so).
            let until = next.unwrap_or_else(|| self.clock.now_ms().saturating_add(3_600_000));
            self.timer_target.store(until, Ordering::Release);
            tokio::select! {
                _ = self.clock.sleep_until(until) => {}
                _ = self.wake.notified() => {}
                _ = stopping.changed() => return,
            }
        }
    }
}

/// Runs `f`, which may block on disk I/O under a shard lock, without stalling the reactor: on a
/// multi-threaded runtime the current worker hands its other tasks to another thread for the
/// duration (`block_in_place`, no thread hop: a commit is one append), elsewhere on the blocking
/// pool. `None` if `f` panicked on the pool.
async fn off_reactor<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => Some(tokio::task::block_in_place(f)),
        _ => tokio::task::spawn_blocking(f).await.ok(),
    }
}

/// `batch` (one uncompressed batch from `simple_batch`) rebuilt as a transactional batch of
/// `producer_id` at `epoch`, with no sequence (the broker writes it: Kafka's coordinators do the
/// same).
fn transactional(batch: &[u8], producer_id: i64, epoch: i16) -> Vec<u8> {
    let Some(h) = batch::BatchHeader::parse(batch) else {
        return batch.to_vec();
    };
    build_batch(
        &BatchFields {
            attributes: h.attributes | batch::TRANSACTIONAL_BIT,
            last_offset_delta: h.last_offset_delta,
            base_timestamp: h.base_timestamp,
            max_timestamp: h.max_timestamp,
            producer_id,
            producer_epoch: epoch,
            base_sequence: -1,
            records_count: h.records_count,
            ..BatchFields::default()
        },
        &batch[batch::BATCH_HEADER_LEN..],
    )
}

/// Replays one partition of the internal topic, a megabyte at a time, each record (and marker)
/// through `apply`; returns how many. Records are walked with bounded memory.
fn replay_partition(
    topic: &Topic,
    index: i32,
    mut apply: impl FnMut(Replayed),
) -> Result<usize, TopicError> {
    let Some(p) = topic.partition(index) else {
        return Ok(0);
    };
    let undecodable = |e: &dyn std::fmt::Display| {
        TopicError::InvalidConfig(format!("{}-{index}: undecodable batch: {e}", topic.name))
    };
    let (mut offset, end) = {
        let log = p.log();
        (log.log_start_offset(), log.log_end_offset())
    };
    let mut n = 0;
    while offset < end {
        let slice = p.log().read(offset, 1 << 20)?;
        if slice.len == 0 {
            break;
        }
        let bytes = slice.read_bytes().map_err(TopicError::Io)?;
        let mut next = offset;
        let mut pos = 0;
        while pos < bytes.len() {
            let h = batch::check_batch(&bytes[pos..], pos).map_err(|e| undecodable(&e))?;
            if h.is_control() {
                if let Some((commit, _)) = control::read_marker(&bytes[pos..], &h) {
                    if h.base_offset >= offset {
                        apply(Replayed::Marker {
                            producer_id: h.producer_id,
                            commit,
                        });
                        n += 1;
                    }
                }
                next = next.max(h.next_offset());
                pos += h.total_len();
                continue;
            }
            let producer_id = h.is_transactional().then_some(h.producer_id);
            let mut records = RecordReader::new(&bytes[pos..], &h, DEFAULT_MAX_UNCOMPRESSED_BYTES)
                .map_err(|e| undecodable(&e))?;
            while let Some(r) = records
                .next_record(Want::Data)
                .map_err(|e| undecodable(&e))?
            {
                if h.base_offset + i64::from(r.offset_delta) < offset {
                    continue;
                }
                let Some(key) = records.key() else { continue };
                apply(Replayed::Record {
                    record: ShardRecord {
                        key: Bytes::copy_from_slice(key),
                        value: records.value().map(Bytes::copy_from_slice),
                    },
                    producer_id,
                });
                n += 1;
            }
            next = next.max(h.next_offset());
            pos += h.total_len();
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::log::{FaultInjectingFileSystem, FsOp, LogDir};

    /// A shard that sums the numbers in its records, parks requests until the next write or
    /// tick, and fires one deadline.
    #[derive(Default)]
    struct Sum {
        total: i64,
        parked: Vec<u64>,
        deadline: Option<i64>,
        ticks: u32,
        appended: Vec<bool>,
    }

    fn number(n: i64) -> ShardRecord {
        ShardRecord {
            key: Bytes::from_static(b"n"),
            value: Some(Bytes::from(n.to_string())),
        }
    }

    impl Shard for Sum {
        type Reply = i64;
        type Work = ();
        fn replay(&mut self, _now: i64, item: Replayed) {
            let Replayed::Record { record: r, .. } = item else {
                return;
            };
            let v = r.value.unwrap_or_default();
            self.total += std::str::from_utf8(&v).unwrap().parse::<i64>().unwrap();
        }
        fn tick(&mut self, _now: i64) -> ShardEffects<i64> {
            self.ticks += 1;
            self.deadline = None;
            ShardEffects {
                replies: self.parked.drain(..).map(|id| (id, self.total)).collect(),
                ..ShardEffects::default()
            }
        }
        fn next_deadline(&self) -> Option<i64> {
            self.deadline
        }
        fn appended(&mut self, stored: Result<(), &AppendError>) {
            self.appended.push(stored.is_ok());
        }
        fn failed_reply(_: i64, _: &AppendError) -> i64 {
            -1
        }
    }

    fn add(n: i64) -> impl FnOnce(&mut Sum, i64) -> (i64, ShardEffects<i64>) {
        move |s, _| {
            s.total += n;
            let replies = s.parked.drain(..).map(|id| (id, s.total)).collect();
            (
                s.total,
                ShardEffects {
                    records: vec![number(n)],
                    replies,
                    ..ShardEffects::default()
                },
            )
        }
    }

    /// Waits (yielding) until `cond` holds; fails rather than hang if it never does.
    async fn until<F: std::future::Future<Output = bool>>(mut cond: impl FnMut() -> F) {
        let waited = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while !cond().await {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(waited.is_ok(), "condition never held");
    }

    fn runtime(registry: &Arc<TopicRegistry>, clock: Clock) -> Arc<CoordinatorRuntime<Sum>> {
        let rt = CoordinatorRuntime::new(
            "test",
            InternalTopic {
                name: "__sums",
                partitions: 3,
                configs: BTreeMap::new(),
            },
            Arc::clone(registry),
            clock,
            |_| Sum::default(),
        );
        rt.load_all().unwrap();
        rt
    }

    fn registry(dir: &std::path::Path, fs: Arc<dyn crate::log::FileSystem>) -> Arc<TopicRegistry> {
        let config = Arc::new(Config {
            data_dir: dir.to_path_buf(),
            ..Config::default()
        });
        Arc::new(TopicRegistry::open(config, LogDir::new(dir, fs), false).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_are_appended_to_the_shards_partition_and_replayed_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path(), Arc::new(crate::log::StdFileSystem));
        let rt = runtime(&reg, Clock::system());
        assert_eq!(rt.write(1, add(5)).await.unwrap().value, 5);
        assert_eq!(rt.write(1, add(7)).await.unwrap().value, 12);
        assert_eq!(rt.write(2, add(100)).await.unwrap().value, 100);
        let topic = reg.get("__sums").expect("created on first write");
        assert_eq!(topic.partition_count(), 3);
        let ends: Vec<i64> = topic
            .partitions()
            .iter()
            .map(|p| p.log().log_end_offset())
            .collect();
        assert_eq!(ends, [0, 2, 1]);
        // A second runtime over the same topic replays each partition into its own shard.
        let again = runtime(&reg, Clock::system());
        let totals = again.read_all(|s| s.total).await;
        assert_eq!(totals, [0, 12, 100]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parked_requests_are_answered_later_or_when_the_shard_unloads() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path(), Arc::new(crate::log::StdFileSystem));
        let rt = runtime(&reg, Clock::system());
        let parked = {
            let rt = Arc::clone(&rt);
            tokio::spawn(async move {
                rt.park(0, |s, _, id| {
                    s.parked.push(id);
                    ShardEffects::default()
                })
                .await
            })
        };
        until(|| async { rt.read(0, |s| s.parked.len()).await.unwrap() > 0 }).await;
        rt.write(0, add(3)).await.unwrap();
        assert_eq!(
            parked.await.unwrap(),
            Ok(3),
            "answered by the next write, after its append"
        );
        let parked = {
            let rt = Arc::clone(&rt);
            tokio::spawn(async move {
                rt.park(2, |s, _, id| {
                    s.parked.push(id);
                    ShardEffects::default()
                })
                .await
            })
        };
        until(|| async { rt.read(2, |s| s.parked.len()).await.unwrap() > 0 }).await;
        rt.unload(2);
        assert_eq!(parked.await.unwrap(), Err(NotLoaded(2)));
        assert!(!rt.is_loaded(2));
        assert!(matches!(rt.write(2, add(1)).await, Err(NotLoaded(2))));
        assert_eq!(
            rt.read_all(|s| s.total).await,
            [3, 0],
            "shard 2 is not listed"
        );
        rt.load(2).unwrap();
        assert_eq!(rt.read(2, |s| s.total).await, Ok(0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_append_answers_parked_requests_with_the_failure() {
        let dir = tempfile::tempdir().unwrap();
        let fs = Arc::new(FaultInjectingFileSystem::new());
        let reg = registry(dir.path(), fs.clone());
        let rt = runtime(&reg, Clock::system());
        rt.write(0, add(1)).await.unwrap();
        fs.fail(FsOp::Write, "__sums-0/", crate::log::fs::ENOSPC);
        let parked = {
            let rt = Arc::clone(&rt);
            tokio::spawn(async move {
                rt.park(0, |s, _, id| {
                    s.parked.push(id);
                    ShardEffects::default()
                })
                .await
            })
        };
        until(|| async { rt.read(0, |s| s.parked.len()).await.unwrap() > 0 }).await;
        let w = rt.write(0, add(2)).await.unwrap();
        let e = w.appended.unwrap_err();
        assert_eq!(e.code, ResponseError::KafkaStorageError);
        assert_eq!(parked.await.unwrap(), Ok(-1), "the failure, not the total");
        assert_eq!(
            rt.read(0, |s| s.appended.clone()).await,
            Ok(vec![true, false])
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_timer_fires_every_shards_deadline_on_the_clock_it_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path(), Arc::new(crate::log::StdFileSystem));
        let clock = Clock::manual(1_000_000);
        let rt = runtime(&reg, clock.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let timer = tokio::spawn(Arc::clone(&rt).run_timer(stop_rx));
        for shard in [0, 2] {
            rt.write(shard, |s, now| {
                s.deadline = Some(now + 30_000);
                ((), ShardEffects::default())
            })
            .await
            .unwrap();
        }
        // Nothing fires until the clock is moved, however long the test runs.
        tokio::task::yield_now().await;
        assert_eq!(rt.read_all(|s| s.ticks).await, [0, 0, 0]);
        clock.advance(30_000);
        until(|| async { rt.read_all(|s| s.ticks).await == [1, 0, 1] }).await;
        stop_tx.send_replace(true);
        timer.await.unwrap();
    }
}
