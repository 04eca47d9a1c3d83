//! The transaction coordinator on the [`CoordinatorRuntime`]: one [`TxnCoordinator`] state
//! machine per partition of `__transaction_state`, each holding the transactional ids that map
//! to it (Kafka's `partitionFor`), and the one place transaction markers are written.
//!
//! Markers: when EndTxn moves a transaction to PrepareCommit or PrepareAbort (durably, in
//! `__transaction_state`), the markers are written to every partition of the transaction here,
//! before EndTxn is answered (Kafka answers after the Prepare record and writes the markers
//! afterwards; on one node they are local appends, so waiting for them costs little and spares
//! the client its CONCURRENT_TRANSACTIONS retries). A marker for `__consumer_offsets` goes
//! through the group coordinator, so it applies the transaction's offsets in log order. Then
//! the Complete record is written. Transactions the timer aborts (timeouts), and those found in
//! a Prepare state after a restart or a failed write, reach [`TransactionCoordinator`]'s marker
//! task through the runtime's work sink.
//!
//! Fencing: InitProducerId for a transactional id with an Ongoing transaction aborts it with a
//! bumped epoch (the markers carry that epoch, so the old producer's next write is refused) and
//! answers CONCURRENT_TRANSACTIONS as Kafka does; the producer's retry gets the next epoch.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use tokio::sync::{mpsc, watch};

use super::groups::{GroupCoordinator, OFFSETS_TOPIC};
use super::runtime::{
    AppendError, CoordinatorRuntime, InternalTopic, NotLoaded, Replayed, Shard, ShardEffects,
    ShardRecord,
};
use crate::clock::Clock;
use crate::config::Config;
use crate::group::{partition_for, TxnMarker};
use crate::record::control::ControlMarker;
use crate::topics::{TopicError, TopicRegistry};
use crate::txn::{
    InitResult, ListFilter, MarkerJob, TxnCoordinator, TxnError, TxnLogRecord, TxnMetadata,
    TxnOutcome,
};

/// Name of the internal transaction log, as Kafka's.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// Allocates producer ids (the cluster's allocator).
pub type AllocateProducerId = Arc<dyn Fn() -> Result<i64, TxnError> + Send + Sync>;

fn shard_effects(out: TxnOutcome, work: bool) -> (Vec<MarkerJob>, ShardEffects<(), MarkerJob>) {
    let records = out
        .records
        .into_iter()
        .map(|r| ShardRecord {
            key: r.key,
            value: r.value,
        })
        .collect();
    if work {
        (
            Vec::new(),
            ShardEffects {
                records,
                work: out.jobs,
                ..ShardEffects::default()
            },
        )
    } else {
        (
            out.jobs,
            ShardEffects {
                records,
                ..ShardEffects::default()
            },
        )
    }
}

impl Shard for TxnCoordinator {
    type Reply = ();
    type Work = MarkerJob;

    fn replay(&mut self, _now_ms: i64, item: Replayed) {
        if let Replayed::Record { record, .. } = item {
            let record = TxnLogRecord {
                key: record.key,
                value: record.value,
            };
            if let Err(e) = TxnCoordinator::replay(self, &record) {
                tracing::warn!(error = %e, "skipping {TRANSACTION_STATE_TOPIC} record");
            }
        }
    }

    fn tick(&mut self, now_ms: i64) -> ShardEffects<(), MarkerJob> {
        shard_effects(TxnCoordinator::tick(self, now_ms), true).1
    }

    fn next_deadline(&self) -> Option<i64> {
        TxnCoordinator::next_deadline(self)
    }

    fn appended(&mut self, stored: Result<(), &AppendError>) {
        TxnCoordinator::appended(self, stored.is_ok());
    }

    fn failed_reply(reply: (), _: &AppendError) {
        reply
    }
}

/// A transaction error for a failed append (as the group coordinator's).
fn append_error(e: &AppendError) -> TxnError {
    match e.code {
        ResponseError::KafkaStorageError | ResponseError::NotLeaderOrFollower => {
            TxnError::NotCoordinator
        }
        _ => TxnError::CoordinatorNotAvailable,
    }
}

/// The transaction coordinator of the cluster.
pub struct TransactionCoordinator {
    runtime: Arc<CoordinatorRuntime<TxnCoordinator>>,
    groups: Arc<GroupCoordinator>,
    topics: Arc<TopicRegistry>,
    allocate: AllocateProducerId,
    /// Called after markers were appended (wakes long-polling fetches: the LSO moved).
    on_markers: Arc<dyn Fn() + Send + Sync>,
    /// Jobs from the timer and from retries, for [`Self::run_marker_task`].
    jobs: std::sync::Mutex<Option<mpsc::UnboundedReceiver<(i32, MarkerJob)>>>,
}

impl std::fmt::Debug for TransactionCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionCoordinator")
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl TransactionCoordinator {
    /// The coordinator with every shard loaded from `__transaction_state` (if it exists).
    pub fn open(
        topics: Arc<TopicRegistry>,
        groups: Arc<GroupCoordinator>,
        clock: Clock,
        config: &Config,
        allocate: AllocateProducerId,
        on_markers: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Arc<Self>, TopicError> {
        let txn_config = config.txn.clone();
        let runtime = CoordinatorRuntime::new(
            "transaction",
            InternalTopic {
                name: TRANSACTION_STATE_TOPIC,
                partitions: config.txn.state_log_partitions,
                configs: BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact".to_string()),
                    (
                        "segment.bytes".to_string(),
                        config.txn.state_log_segment_bytes.to_string(),
                    ),
                    ("min.insync.replicas".to_string(), "1".to_string()),
                ]),
            },
            Arc::clone(&topics),
            clock,
            move |_| TxnCoordinator::new(txn_config.clone()),
        );
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.set_work_sink(move |shard, jobs| {
            for job in jobs {
                // The receiver lives as long as the process serves.
                let _ = tx.send((shard, job));
            }
        });
        runtime.load_all()?;
        Ok(Arc::new(TransactionCoordinator {
            runtime,
            groups,
            topics,
            allocate,
            on_markers,
            jobs: std::sync::Mutex::new(Some(rx)),
        }))
    }

    /// The shard (partition of `__transaction_state`) that owns `transactional_id`.
    pub fn shard_of(&self, transactional_id: &str) -> i32 {
        partition_for(transactional_id, self.runtime.shard_count())
    }

    /// The runtime (to load and unload shards when leadership moves).
    pub fn runtime(&self) -> &Arc<CoordinatorRuntime<TxnCoordinator>> {
        &self.runtime
    }

    /// Runs a state-machine call on the transactional id's shard; returns its answer (with an
    /// append failure as the error) and the marker jobs it started.
    async fn call<T: Send + 'static>(
        &self,
        transactional_id: &str,
        op: impl FnOnce(&mut TxnCoordinator, i64) -> (Result<T, TxnError>, TxnOutcome) + Send + 'static,
    ) -> (Result<T, TxnError>, Vec<MarkerJob>) {
        let shard = self.shard_of(transactional_id);
        let written = self
            .runtime
            .write(shard, move |c, now| {
                let (value, out) = op(c, now);
                let (jobs, fx) = shard_effects(out, false);
                ((value, jobs), fx)
            })
            .await;
        match written {
            Err(NotLoaded(_)) => (Err(TxnError::NotCoordinator), Vec::new()),
            Ok(w) => match w.appended {
                Err(e) => (Err(append_error(&e)), Vec::new()),
                Ok(()) => w.value,
            },
        }
    }

    /// InitProducerId with a transactional id. Fencing an Ongoing transaction aborts it (its
    /// markers written before the answer) and answers CONCURRENT_TRANSACTIONS, as Kafka does;
    /// the producer's retry then finds the abort complete and gets its epoch.
    pub async fn init_producer_id(
        &self,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<InitResult, TxnError> {
        let id = transactional_id.to_string();
        let allocate = Arc::clone(&self.allocate);
        let (result, jobs) = self
            .call(transactional_id, move |c, now| {
                c.init_producer_id(now, &id, timeout_ms, expected, &mut || allocate())
            })
            .await;
        let shard = self.shard_of(transactional_id);
        for job in jobs {
            self.finish(shard, job).await;
        }
        result
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn.
    pub async fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<(), TxnError> {
        let id = transactional_id.to_string();
        self.call(transactional_id, move |c, now| {
            c.add_partitions(now, &id, producer_id, epoch, &partitions)
        })
        .await
        .0
    }

    /// The `__consumer_offsets` partition AddOffsetsToTxn adds for `group_id`.
    pub fn offsets_partition(&self, group_id: &str) -> (String, i32) {
        (OFFSETS_TOPIC.to_string(), self.groups.shard_of(group_id))
    }

    /// Whether a transactional produce may write to `partition` (KIP-890 part 1).
    pub async fn verify_partition(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partition: (String, i32),
    ) -> Result<(), TxnError> {
        let id = transactional_id.to_string();
        self.runtime
            .read(self.shard_of(transactional_id), move |c| {
                c.verify_partition(&id, producer_id, epoch, &partition)
            })
            .await
            .unwrap_or(Err(TxnError::NotCoordinator))
    }

    /// EndTxn: Prepare record, markers, Complete record. A failed marker write still answers
    /// NONE (the Prepare state is durable); the markers are retried in the background.
    pub async fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(), TxnError> {
        let id = transactional_id.to_string();
        let (result, jobs) = self
            .call(transactional_id, move |c, now| {
                c.end_txn(now, &id, producer_id, epoch, commit)
            })
            .await;
        let shard = self.shard_of(transactional_id);
        for job in jobs {
            self.finish(shard, job).await;
        }
        result
    }

    /// Writes a job's markers and completes it; on failure releases it for a retry. Returns
    /// whether it completed.
    async fn finish(&self, shard: i32, job: MarkerJob) -> bool {
        let coordinator_epoch = self
            .topics
            .get(TRANSACTION_STATE_TOPIC)
            .and_then(|t| t.partition(shard))
            .map_or(0, |p| p.leader_epoch());
        let written = self.write_markers(&job, coordinator_epoch).await;
        (self.on_markers)();
        match written {
            Ok(()) => {
                let completed = job.clone();
                let done = self
                    .runtime
                    .write(shard, move |c, now| {
                        ((), shard_effects(c.complete(now, &completed), false).1)
                    })
                    .await;
                if matches!(done, Ok(w) if w.appended.is_ok()) {
                    return true;
                }
                // The markers are written but the Complete record is not: hand the job out again
                // (writing the markers twice is harmless), rather than leave it marked in flight.
                let _ = self
                    .runtime
                    .write(shard, move |c, now| {
                        c.release(now, &job);
                        ((), ShardEffects::default())
                    })
                    .await;
                false
            }
            Err(e) => {
                tracing::warn!(transactional_id = %job.transactional_id, error = %e.message, "cannot write transaction markers; retrying later");
                let _ = self
                    .runtime
                    .write(shard, move |c, now| {
                        c.release(now, &job);
                        ((), ShardEffects::default())
                    })
                    .await;
                false
            }
        }
    }

    /// Appends the job's marker to every partition of its transaction. A partition that no
    /// longer exists is skipped (as Kafka drops markers for deleted partitions).
    async fn write_markers(
        &self,
        job: &MarkerJob,
        coordinator_epoch: i32,
    ) -> Result<(), AppendError> {
        let marker = ControlMarker {
            producer_id: job.producer_id,
            producer_epoch: job.producer_epoch,
            commit: job.commit,
            coordinator_epoch,
        };
        for (topic, index) in &job.partitions {
            if topic == OFFSETS_TOPIC {
                let m = TxnMarker {
                    producer_id: marker.producer_id,
                    producer_epoch: marker.producer_epoch,
                    commit: marker.commit,
                    coordinator_epoch,
                };
                self.groups.complete_transaction(*index, m).await?;
                continue;
            }
            self.write_marker(topic, *index, &marker)?;
        }
        Ok(())
    }

    /// Appends one marker to one partition of a user topic (WriteTxnMarkers, and the
    /// coordinator's own markers). `Ok` if the partition does not exist.
    pub fn write_marker(
        &self,
        topic: &str,
        index: i32,
        marker: &ControlMarker,
    ) -> Result<(), AppendError> {
        let Some(p) = self.topics.get(topic).and_then(|t| t.partition(index)) else {
            tracing::info!(
                topic,
                partition = index,
                "skipping a marker for a partition that no longer exists"
            );
            return Ok(());
        };
        let now = self.runtime.clock().now_ms();
        let appended = p.log().append_marker(marker, p.leader_epoch(), now);
        appended.map(|_| ()).map_err(|e| {
            let e = TopicError::Log(e);
            AppendError {
                code: e.code(),
                message: e.to_string(),
            }
        })
    }

    /// One transactional id's metadata.
    pub async fn describe(&self, transactional_id: &str) -> Result<TxnMetadata, TxnError> {
        let id = transactional_id.to_string();
        self.runtime
            .read(self.shard_of(transactional_id), move |c| {
                c.get(&id).cloned()
            })
            .await
            .map_err(|_| TxnError::NotCoordinator)?
            .ok_or(TxnError::TransactionalIdNotFound)
    }

    /// ListTransactions over every shard, by transactional id.
    pub async fn list(&self, filter: ListFilter) -> Vec<TxnMetadata> {
        let now = self.runtime.clock().now_ms();
        let mut all: Vec<TxnMetadata> = self
            .runtime
            .read_all(move |c| c.list(now, &filter))
            .await
            .into_iter()
            .flatten()
            .collect();
        all.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        all
    }

    /// The deadline timer of every shard (timeouts, expiry, marker retries).
    pub async fn run_timer(self: Arc<Self>, stopping: watch::Receiver<bool>) {
        Arc::clone(&self.runtime).run_timer(stopping).await;
    }

    /// Writes the markers of jobs the timer hands out (timed-out transactions, retries, and
    /// those left in a Prepare state by a crash). Ends when `stopping` turns true.
    pub async fn run_marker_task(self: Arc<Self>, mut stopping: watch::Receiver<bool>) {
        let rx = self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(mut rx) = rx else { return };
        loop {
            tokio::select! {
                job = rx.recv() => match job {
                    Some((shard, job)) => { self.finish(shard, job).await; }
                    None => return,
                },
                _ = stopping.changed() => return,
            }
        }
    }
}
