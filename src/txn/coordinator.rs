//! [`TxnCoordinator`]: the transactional ids of one `__transaction_state` partition and the
//! transaction APIs on them (Kafka's `TransactionCoordinator` handlers).
//!
//! Each call returns its answer and a [`TxnOutcome`]: records to append and, when a
//! transaction moved to a Prepare state, the [`MarkerJob`] to carry out. The state changes at
//! once; if the append fails the caller says so ([`TxnCoordinator::appended`]) and the change
//! is undone, so a client's retry meets the state as it was.

use std::collections::{BTreeSet, HashMap};

use super::error::TxnError;
use super::records::TxnLogRecord;
use super::state::{TxnMetadata, TxnState};
use crate::config::TxnConfig;

/// How long a failed marker write waits before it is tried again.
pub const MARKER_RETRY_MS: i64 = 1_000;

/// Markers to write: every partition of a transaction, then [`TxnCoordinator::complete`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerJob {
    /// The transactional id.
    pub transactional_id: String,
    /// The transaction's producer id.
    pub producer_id: i64,
    /// The epoch the markers carry (bumped when the transaction was fenced or timed out).
    pub producer_epoch: i16,
    /// COMMIT or ABORT.
    pub commit: bool,
    /// The partitions.
    pub partitions: Vec<(String, i32)>,
}

/// What the caller does after a call: append `records`, then carry out `jobs`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use]
pub struct TxnOutcome {
    /// Records for the shard's `__transaction_state` partition.
    pub records: Vec<TxnLogRecord>,
    /// Transactions whose markers are to be written.
    pub jobs: Vec<MarkerJob>,
}

/// InitProducerId's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitResult {
    /// The producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
}

/// ListTransactions' filters (empty: any).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// States, by Kafka's name.
    pub states: Vec<TxnState>,
    /// Producer ids.
    pub producer_ids: Vec<i64>,
    /// Only transactions running longer than this (v1; -1: any).
    pub min_duration_ms: i64,
}

/// See the module documentation.
#[derive(Debug)]
pub struct TxnCoordinator {
    config: TxnConfig,
    txns: HashMap<String, TxnMetadata>,
    /// What the last call changed, to undo if its records are not stored.
    undo: Vec<(String, Option<TxnMetadata>)>,
}

fn fenced_or_unknown(
    m: Option<&TxnMetadata>,
    producer_id: i64,
    epoch: i16,
) -> Result<&TxnMetadata, TxnError> {
    let m = m.ok_or(TxnError::InvalidProducerIdMapping)?;
    if m.producer_id != producer_id {
        return Err(TxnError::InvalidProducerIdMapping);
    }
    if m.producer_epoch != epoch {
        return Err(TxnError::ProducerFenced);
    }
    Ok(m)
}

impl TxnCoordinator {
    /// An empty shard.
    pub fn new(config: TxnConfig) -> Self {
        TxnCoordinator {
            config,
            txns: HashMap::new(),
            undo: Vec::new(),
        }
    }

    /// The metadata of one transactional id.
    pub fn get(&self, transactional_id: &str) -> Option<&TxnMetadata> {
        self.txns.get(transactional_id)
    }

    /// Mutable metadata, for tests that need a state hard to reach by calls.
    #[cfg(test)]
    pub(crate) fn txns_mut_for_test(&mut self, id: &str) -> &mut TxnMetadata {
        self.txns.get_mut(id).expect("known id")
    }

    /// Replaces `id`'s metadata (remembering the old one for [`Self::appended`]) and returns
    /// its record.
    fn put(&mut self, m: TxnMetadata) -> TxnLogRecord {
        let id = m.transactional_id.clone();
        let record = TxnLogRecord::of(&m);
        let old = if m.state == TxnState::Dead {
            self.txns.remove(&id)
        } else {
            self.txns.insert(id.clone(), m)
        };
        self.undo.push((id, old));
        record
    }

    /// Whether the records of the last call were stored; if not, its changes are undone.
    pub fn appended(&mut self, stored: bool) {
        let undo = std::mem::take(&mut self.undo);
        if stored {
            return;
        }
        for (id, old) in undo.into_iter().rev() {
            match old {
                Some(m) => self.txns.insert(id, m),
                None => self.txns.remove(&id),
            };
        }
    }

    /// InitProducerId with a transactional id. `expected` is the (producer id, epoch) a
    /// producer recovering from an error sends (KIP-360); `new_producer_id` allocates an id for
    /// a new transactional id or an exhausted epoch.
    ///
    /// An Ongoing transaction is fenced: aborted with the epoch bumped, and this call answers
    /// CONCURRENT_TRANSACTIONS; the producer retries once the abort completes.
    pub fn init_producer_id(
        &mut self,
        now_ms: i64,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        new_producer_id: &mut dyn FnMut() -> Result<i64, TxnError>,
    ) -> (Result<InitResult, TxnError>, TxnOutcome) {
        self.undo.clear();
        let fail = |e| (Err(e), TxnOutcome::default());
        if timeout_ms <= 0 || i64::from(timeout_ms) > self.config.max_timeout_ms {
            return fail(TxnError::InvalidTransactionTimeout);
        }
        // An id the coordinator does not know (new, or expired) starts afresh even when the
        // producer names its old id and epoch, as Kafka does.
        let Some(current) = self.txns.get(transactional_id).cloned() else {
            let producer_id = match new_producer_id() {
                Ok(id) => id,
                Err(e) => return fail(e),
            };
            let m = TxnMetadata {
                transactional_id: transactional_id.to_string(),
                producer_id,
                producer_epoch: 0,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now_ms,
                markers_in_flight: false,
                markers_retry_ms: 0,
                previous: None,
            };
            let record = self.put(m);
            return (
                Ok(InitResult {
                    producer_id,
                    producer_epoch: 0,
                }),
                TxnOutcome {
                    records: vec![record],
                    jobs: Vec::new(),
                },
            );
        };
        if let Some(named) = expected {
            if current.previous == Some(named) && current.state == TxnState::Empty {
                // A retry of the bump from `named` whose answer was lost: the same answer.
                return (
                    Ok(InitResult {
                        producer_id: current.producer_id,
                        producer_epoch: current.producer_epoch,
                    }),
                    TxnOutcome::default(),
                );
            }
            if named != (current.producer_id, current.producer_epoch) {
                return fail(TxnError::ProducerFenced);
            }
        }
        match current.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                fail(TxnError::ConcurrentTransactions)
            }
            TxnState::Ongoing => {
                // Fence the producer of the open transaction and abort it.
                let (m, job) = self.fence_and_abort(current, now_ms);
                let record = self.put(m);
                (
                    Err(TxnError::ConcurrentTransactions),
                    TxnOutcome {
                        records: vec![record],
                        jobs: vec![job],
                    },
                )
            }
            TxnState::Empty
            | TxnState::CompleteCommit
            | TxnState::CompleteAbort
            | TxnState::Dead => {
                let mut m = current;
                m.previous = Some((m.producer_id, m.producer_epoch));
                if m.producer_epoch >= i16::MAX - 1 {
                    m.producer_id = match new_producer_id() {
                        Ok(id) => id,
                        Err(e) => return fail(e),
                    };
                    m.producer_epoch = 0;
                } else {
                    m.producer_epoch += 1;
                }
                m.state = TxnState::Empty;
                m.timeout_ms = timeout_ms;
                m.partitions.clear();
                m.start_ms = -1;
                m.last_update_ms = now_ms;
                let out = InitResult {
                    producer_id: m.producer_id,
                    producer_epoch: m.producer_epoch,
                };
                let record = self.put(m);
                (
                    Ok(out),
                    TxnOutcome {
                        records: vec![record],
                        jobs: Vec::new(),
                    },
                )
            }
        }
    }

    /// `m` (Ongoing) moved to PrepareAbort with its epoch bumped, and the markers to write.
    fn fence_and_abort(&self, mut m: TxnMetadata, now_ms: i64) -> (TxnMetadata, MarkerJob) {
        m.producer_epoch = m.producer_epoch.saturating_add(1).min(i16::MAX - 1);
        m.state = TxnState::PrepareAbort;
        m.last_update_ms = now_ms;
        m.markers_in_flight = true;
        let job = job_of(&m);
        (m, job)
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn with the group's `__consumer_offsets`
    /// partition): the transaction becomes (or stays) Ongoing with these partitions.
    pub fn add_partitions(
        &mut self,
        now_ms: i64,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> (Result<(), TxnError>, TxnOutcome) {
        self.undo.clear();
        let m = match fenced_or_unknown(self.txns.get(transactional_id), producer_id, epoch) {
            Ok(m) => m,
            Err(e) => return (Err(e), TxnOutcome::default()),
        };
        if m.state.is_prepare() || m.state == TxnState::PrepareEpochFence {
            return (Err(TxnError::ConcurrentTransactions), TxnOutcome::default());
        }
        if !m.state.can_move_to(TxnState::Ongoing) {
            return (Err(TxnError::InvalidTxnState), TxnOutcome::default());
        }
        if m.state == TxnState::Ongoing && partitions.iter().all(|p| m.partitions.contains(p)) {
            return (Ok(()), TxnOutcome::default());
        }
        let mut m = m.clone();
        if m.state != TxnState::Ongoing {
            m.partitions.clear();
            m.start_ms = now_ms;
        }
        m.state = TxnState::Ongoing;
        m.partitions.extend(partitions.iter().cloned());
        m.last_update_ms = now_ms;
        let record = self.put(m);
        (
            Ok(()),
            TxnOutcome {
                records: vec![record],
                jobs: Vec::new(),
            },
        )
    }

    /// The check behind KIP-890 part 1 (and AddPartitionsToTxn v4+ `verify_only`): the producer
    /// is current and the partition is in its ongoing transaction.
    pub fn verify_partition(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partition: &(String, i32),
    ) -> Result<(), TxnError> {
        let m = fenced_or_unknown(self.txns.get(transactional_id), producer_id, epoch)?;
        if m.state == TxnState::Ongoing && m.partitions.contains(partition) {
            Ok(())
        } else {
            Err(TxnError::InvalidTxnState)
        }
    }

    /// EndTxn. A retry of a completed end answers NONE; one still writing markers answers
    /// CONCURRENT_TRANSACTIONS.
    pub fn end_txn(
        &mut self,
        now_ms: i64,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> (Result<(), TxnError>, TxnOutcome) {
        self.undo.clear();
        let fail = |e| (Err(e), TxnOutcome::default());
        let m = match fenced_or_unknown(self.txns.get(transactional_id), producer_id, epoch) {
            Ok(m) => m,
            Err(e) => return fail(e),
        };
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {
                let mut m = m.clone();
                m.state = if commit {
                    TxnState::PrepareCommit
                } else {
                    TxnState::PrepareAbort
                };
                m.last_update_ms = now_ms;
                m.markers_in_flight = true;
                let job = job_of(&m);
                let record = self.put(m);
                (
                    Ok(()),
                    TxnOutcome {
                        records: vec![record],
                        jobs: vec![job],
                    },
                )
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                (Ok(()), TxnOutcome::default())
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                fail(TxnError::ConcurrentTransactions)
            }
            _ => fail(TxnError::InvalidTxnState),
        }
    }

    /// Every marker of `job` is written: the transaction completes.
    pub fn complete(&mut self, now_ms: i64, job: &MarkerJob) -> TxnOutcome {
        self.undo.clear();
        let Some(m) = self.txns.get(&job.transactional_id) else {
            return TxnOutcome::default();
        };
        let expected = if job.commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        if m.state != expected || m.producer_id != job.producer_id {
            return TxnOutcome::default();
        }
        let mut m = m.clone();
        m.state = if job.commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        m.partitions.clear();
        m.last_update_ms = now_ms;
        m.markers_in_flight = false;
        TxnOutcome {
            records: vec![self.put(m)],
            jobs: Vec::new(),
        }
    }

    /// Writing `job`'s markers failed: [`Self::tick`] hands it out again a second later.
    pub fn release(&mut self, now_ms: i64, job: &MarkerJob) {
        if let Some(m) = self.txns.get_mut(&job.transactional_id) {
            m.markers_in_flight = false;
            m.markers_retry_ms = now_ms.saturating_add(MARKER_RETRY_MS);
        }
    }

    /// Transactions in a Prepare state whose markers nobody is writing (after a restart, or a
    /// failed attempt, once its retry time came): taken by the caller, who writes them.
    pub fn take_stalled_jobs(&mut self, now_ms: i64) -> Vec<MarkerJob> {
        let mut ids: Vec<String> = self
            .txns
            .values()
            .filter(|m| {
                m.state.is_prepare() && !m.markers_in_flight && m.markers_retry_ms <= now_ms
            })
            .map(|m| m.transactional_id.clone())
            .collect();
        ids.sort();
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(m) = self.txns.get_mut(&id) {
                // Undone with the call's other changes if its records are not stored, so the
                // job is handed out again rather than left marked as in flight.
                self.undo.push((id, Some(m.clone())));
                m.markers_in_flight = true;
                jobs.push(job_of(m));
            }
        }
        jobs
    }

    /// Aborts every transaction open for longer than its timeout, with the epoch bumped so
    /// the producer is fenced (Kafka's `abortTimedOutTransactions`); expires transactional
    /// ids idle for `transactional.id.expiration.ms`.
    pub fn tick(&mut self, now_ms: i64) -> TxnOutcome {
        self.undo.clear();
        let mut ids: Vec<String> = self.txns.keys().cloned().collect();
        ids.sort();
        let mut out = TxnOutcome::default();
        for id in ids {
            let Some(m) = self.txns.get(&id).cloned() else {
                continue;
            };
            if m.expired(now_ms) && !m.markers_in_flight {
                tracing::info!(transactional_id = %id, producer_id = m.producer_id, timeout_ms = m.timeout_ms, "aborting a transaction past its timeout");
                let (m, job) = self.fence_and_abort(m, now_ms);
                out.records.push(self.put(m));
                out.jobs.push(job);
            } else if TxnState::Dead.can_move_to_from(m.state)
                && now_ms.saturating_sub(m.last_update_ms) > self.config.id_expiration_ms
            {
                out.records.push(self.put(TxnMetadata {
                    state: TxnState::Dead,
                    ..m
                }));
            }
        }
        out.jobs.extend(self.take_stalled_jobs(now_ms));
        out
    }

    /// The earliest time [`Self::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<i64> {
        self.txns
            .values()
            .filter_map(|m| match m.state {
                TxnState::Ongoing => Some(m.start_ms.saturating_add(i64::from(m.timeout_ms)) + 1),
                s if TxnState::Dead.can_move_to_from(s) => Some(
                    m.last_update_ms
                        .saturating_add(self.config.id_expiration_ms)
                        + 1,
                ),
                s if s.is_prepare() && !m.markers_in_flight => Some(m.markers_retry_ms),
                _ => None,
            })
            .min()
    }

    /// Applies one record while loading.
    pub fn replay(&mut self, record: &TxnLogRecord) -> Result<(), super::records::TxnRecordError> {
        let (id, m) = record.decode()?;
        match m {
            Some(m) => self.txns.insert(id, m),
            None => self.txns.remove(&id),
        };
        Ok(())
    }

    /// ListTransactions over this shard.
    pub fn list(&self, now_ms: i64, filter: &ListFilter) -> Vec<TxnMetadata> {
        let mut out: Vec<TxnMetadata> = self
            .txns
            .values()
            .filter(|m| filter.states.is_empty() || filter.states.contains(&m.state))
            .filter(|m| {
                filter.producer_ids.is_empty() || filter.producer_ids.contains(&m.producer_id)
            })
            .filter(|m| {
                filter.min_duration_ms < 0
                    || (m.start_ms >= 0
                        && now_ms.saturating_sub(m.start_ms) > filter.min_duration_ms)
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }
}

impl TxnState {
    /// `from -> self` is allowed (for reading the transitions the other way round).
    fn can_move_to_from(self, from: TxnState) -> bool {
        from.can_move_to(self)
    }
}

fn job_of(m: &TxnMetadata) -> MarkerJob {
    MarkerJob {
        transactional_id: m.transactional_id.clone(),
        producer_id: m.producer_id,
        producer_epoch: m.producer_epoch,
        commit: m.state == TxnState::PrepareCommit,
        partitions: m.partitions.iter().cloned().collect(),
    }
}
