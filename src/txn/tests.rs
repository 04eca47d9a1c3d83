//! The transaction state machine, every transition and every error, with time passed in.

use super::*;

const T0: i64 = 1_000_000;

fn coordinator() -> TxnCoordinator {
    TxnCoordinator::new(TxnConfig {
        id_expiration_ms: 3_600_000,
        ..TxnConfig::default()
    })
}

fn ids() -> impl FnMut() -> Result<i64, TxnError> {
    let mut next = 100;
    move || {
        next += 1;
        Ok(next)
    }
}

fn tp(t: &str, p: i32) -> (String, i32) {
    (t.to_string(), p)
}

/// A transactional id initialised at epoch 0 with producer id 101.
fn initialised() -> TxnCoordinator {
    let mut c = coordinator();
    let (r, out) = c.init_producer_id(T0, "t", 60_000, None, &mut ids());
    assert_eq!(
        r,
        Ok(InitResult {
            producer_id: 101,
            producer_epoch: 0
        })
    );
    assert_eq!(out.records.len(), 1);
    c.appended(true);
    c
}

fn state(c: &TxnCoordinator) -> TxnState {
    c.get("t").unwrap().state
}

#[test]
fn a_commit_goes_empty_ongoing_prepare_complete() {
    let mut c = initialised();
    assert_eq!(state(&c), TxnState::Empty);
    let (r, out) = c.add_partitions(T0 + 1, "t", 101, 0, &[tp("a", 0), tp("b", 1)]);
    assert_eq!(r, Ok(()));
    assert_eq!(out.records.len(), 1);
    assert_eq!(state(&c), TxnState::Ongoing);
    assert_eq!(c.get("t").unwrap().start_ms, T0 + 1);
    // Adding what is already there writes nothing.
    let (r, out) = c.add_partitions(T0 + 2, "t", 101, 0, &[tp("a", 0)]);
    assert_eq!((r, out.records.len()), (Ok(()), 0));
    assert_eq!(c.verify_partition("t", 101, 0, &tp("b", 1)), Ok(()));
    assert_eq!(
        c.verify_partition("t", 101, 0, &tp("c", 0)),
        Err(TxnError::InvalidTxnState)
    );
    let (r, out) = c.end_txn(T0 + 3, "t", 101, 0, true);
    assert_eq!(r, Ok(()));
    assert_eq!(state(&c), TxnState::PrepareCommit);
    let job = out.jobs.into_iter().next().unwrap();
    assert!(job.commit);
    assert_eq!(job.partitions, vec![tp("a", 0), tp("b", 1)]);
    // While the markers are written, the producer waits.
    let (r, _) = c.add_partitions(T0 + 4, "t", 101, 0, &[tp("a", 0)]);
    assert_eq!(r, Err(TxnError::ConcurrentTransactions));
    assert_eq!(
        c.end_txn(T0 + 4, "t", 101, 0, true).0,
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        c.end_txn(T0 + 4, "t", 101, 0, false).0,
        Err(TxnError::InvalidTxnState)
    );
    let out = c.complete(T0 + 5, &job);
    assert_eq!(out.records.len(), 1);
    assert_eq!(state(&c), TxnState::CompleteCommit);
    assert!(c.get("t").unwrap().partitions.is_empty());
    // A retried EndTxn(commit) is answered NONE; an abort now is refused.
    assert_eq!(c.end_txn(T0 + 6, "t", 101, 0, true).0, Ok(()));
    assert_eq!(
        c.end_txn(T0 + 6, "t", 101, 0, false).0,
        Err(TxnError::InvalidTxnState)
    );
    // The next transaction starts from CompleteCommit with the same epoch (transaction v1).
    assert_eq!(
        c.add_partitions(T0 + 7, "t", 101, 0, &[tp("c", 0)]).0,
        Ok(())
    );
    assert_eq!(c.get("t").unwrap().partitions.len(), 1, "only the new one");
}

#[test]
fn an_abort_and_the_errors_of_each_api() {
    let mut c = initialised();
    // EndTxn with no transaction.
    assert_eq!(
        c.end_txn(T0, "t", 101, 0, true).0,
        Err(TxnError::InvalidTxnState)
    );
    // Unknown id, wrong producer id, old epoch.
    assert_eq!(
        c.add_partitions(T0, "nope", 101, 0, &[tp("a", 0)]).0,
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        c.add_partitions(T0, "t", 7, 0, &[tp("a", 0)]).0,
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        c.add_partitions(T0, "t", 101, 3, &[tp("a", 0)]).0,
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        c.verify_partition("t", 101, 3, &tp("a", 0)),
        Err(TxnError::ProducerFenced)
    );
    c.add_partitions(T0, "t", 101, 0, &[tp("a", 0)]).0.unwrap();
    let (r, out) = c.end_txn(T0 + 1, "t", 101, 0, false);
    assert_eq!(r, Ok(()));
    assert_eq!(state(&c), TxnState::PrepareAbort);
    let job = &out.jobs[0];
    assert!(!job.commit);
    assert_eq!(
        c.end_txn(T0 + 2, "t", 101, 0, false).0,
        Err(TxnError::ConcurrentTransactions)
    );
    let _ = c.complete(T0 + 2, job);
    assert_eq!(state(&c), TxnState::CompleteAbort);
    assert_eq!(c.end_txn(T0 + 3, "t", 101, 0, false).0, Ok(()));
    assert_eq!(
        c.end_txn(T0 + 3, "t", 101, 0, true).0,
        Err(TxnError::InvalidTxnState)
    );
}

#[test]
fn init_producer_id_bumps_the_epoch_fences_an_open_transaction_and_checks_its_input() {
    let mut c = initialised();
    let mut alloc = ids();
    assert_eq!(
        c.init_producer_id(T0, "t", 0, None, &mut alloc).0,
        Err(TxnError::InvalidTransactionTimeout)
    );
    assert_eq!(
        c.init_producer_id(T0, "t", 900_001, None, &mut alloc).0,
        Err(TxnError::InvalidTransactionTimeout)
    );
    // From Empty: epoch + 1, same id.
    let (r, _) = c.init_producer_id(T0, "t", 60_000, None, &mut alloc);
    assert_eq!(r.unwrap().producer_epoch, 1);
    // KIP-360: naming the epoch just bumped from is a retry whose answer was lost: the same
    // answer, nothing written.
    let (r, out) = c.init_producer_id(T0, "t", 60_000, Some((101, 0)), &mut alloc);
    assert_eq!(r.unwrap().producer_epoch, 1);
    assert!(out.records.is_empty());
    // Any other id or epoch than the current one is fenced.
    assert_eq!(
        c.init_producer_id(T0, "t", 60_000, Some((101, 7)), &mut alloc)
            .0,
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        c.init_producer_id(T0, "t", 60_000, Some((5, 1)), &mut alloc)
            .0,
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        c.init_producer_id(T0, "t", 60_000, Some((101, 1)), &mut alloc)
            .0
            .unwrap()
            .producer_epoch,
        2
    );
    // An id the coordinator forgot starts afresh whatever the producer names.
    let (r, _) = c.init_producer_id(T0, "gone", 60_000, Some((77, 4)), &mut || Ok(900));
    assert_eq!(r.unwrap().producer_id, 900);
    // An open transaction is aborted with the epoch bumped past the old producer's.
    c.add_partitions(T0, "t", 101, 2, &[tp("a", 0)]).0.unwrap();
    let (r, out) = c.init_producer_id(T0 + 1, "t", 60_000, None, &mut alloc);
    assert_eq!(r, Err(TxnError::ConcurrentTransactions));
    assert_eq!(state(&c), TxnState::PrepareAbort);
    let job = &out.jobs[0];
    assert_eq!((job.producer_epoch, job.commit), (3, false));
    assert_eq!(
        c.add_partitions(T0 + 1, "t", 101, 2, &[tp("a", 0)]).0,
        Err(TxnError::ProducerFenced),
        "the zombie is fenced at once"
    );
    assert_eq!(
        c.init_producer_id(T0 + 1, "t", 60_000, None, &mut alloc).0,
        Err(TxnError::ConcurrentTransactions)
    );
    let _ = c.complete(T0 + 2, job);
    let r = c
        .init_producer_id(T0 + 3, "t", 60_000, None, &mut alloc)
        .0
        .unwrap();
    assert_eq!((r.producer_id, r.producer_epoch), (101, 4));
    // An exhausted epoch moves to a new producer id at epoch 0.
    c.txns_mut_for_test("t").producer_epoch = i16::MAX - 1;
    let r = c
        .init_producer_id(T0 + 4, "t", 60_000, None, &mut || Ok(555))
        .0
        .unwrap();
    assert_eq!((r.producer_id, r.producer_epoch), (555, 0));
}

#[test]
fn a_failed_append_undoes_the_change() {
    let mut c = initialised();
    let before = c.get("t").cloned();
    let (r, _) = c.add_partitions(T0, "t", 101, 0, &[tp("a", 0)]);
    assert_eq!(r, Ok(()));
    c.appended(false);
    assert_eq!(c.get("t").cloned(), before);
    let mut fresh = coordinator();
    let _ = fresh.init_producer_id(T0, "new", 1000, None, &mut ids());
    fresh.appended(false);
    assert!(fresh.get("new").is_none());
}

#[test]
fn the_timer_aborts_a_transaction_past_its_timeout_and_expires_idle_ids() {
    let mut c = coordinator();
    let _ = c.init_producer_id(T0, "t", 10_000, None, &mut ids());
    c.add_partitions(T0, "t", 101, 0, &[tp("a", 0)]).0.unwrap();
    assert_eq!(c.next_deadline(), Some(T0 + 10_001));
    assert_eq!(c.tick(T0 + 10_000), TxnOutcome::default(), "not yet");
    let out = c.tick(T0 + 10_001);
    assert_eq!(out.jobs.len(), 1);
    assert_eq!(out.jobs[0].producer_epoch, 1, "fenced");
    assert_eq!(state(&c), TxnState::PrepareAbort);
    // A failed marker write is retried a second later, by the timer.
    c.release(T0 + 10_002, &out.jobs[0]);
    assert_eq!(c.next_deadline(), Some(T0 + 11_002));
    assert!(c.tick(T0 + 10_500).jobs.is_empty());
    let again = c.tick(T0 + 11_002);
    assert_eq!(again.jobs, out.jobs);
    let _ = c.complete(T0 + 11_003, &again.jobs[0]);
    assert_eq!(state(&c), TxnState::CompleteAbort);
    // Idle for longer than transactional.id.expiration.ms: a tombstone, and it is gone.
    let out = c.tick(T0 + 11_003 + 3_600_001);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].value, None);
    assert!(c.get("t").is_none());
}

#[test]
fn replay_rebuilds_the_state_and_stalled_prepares_are_handed_out() {
    let mut c = initialised();
    let mut log = Vec::new();
    let (_, out) = c.add_partitions(T0, "t", 101, 0, &[tp("a", 0), tp("a", 1), tp("b", 0)]);
    log.extend(out.records);
    let (_, out) = c.end_txn(T0 + 1, "t", 101, 0, true);
    log.extend(out.records);
    // Crash before the markers: a new shard replays PrepareCommit and writes them again.
    let mut fresh = coordinator();
    for r in &log {
        fresh.replay(r).unwrap();
    }
    let m = fresh.get("t").unwrap();
    assert_eq!(m.state, TxnState::PrepareCommit);
    assert_eq!(m.partitions.len(), 3);
    assert!(!m.markers_in_flight);
    assert_eq!(fresh.next_deadline(), Some(0), "at once");
    let jobs = fresh.take_stalled_jobs(T0 + 2);
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].commit);
    assert!(fresh.take_stalled_jobs(T0 + 2).is_empty(), "taken once");
}

#[test]
fn records_round_trip_and_refuse_garbage() {
    let c = initialised();
    let m = c.get("t").unwrap().clone();
    let r = TxnLogRecord::of(&m);
    assert_eq!(r.decode().unwrap(), ("t".to_string(), Some(m.clone())));
    let mut bytes = r.value.clone().unwrap().to_vec();
    // A huge partition count is refused before anything is allocated.
    bytes[17..21].copy_from_slice(&i32::MAX.to_be_bytes());
    let bad = TxnLogRecord {
        key: r.key.clone(),
        value: Some(bytes.into()),
    };
    assert!(bad.decode().is_err());
    for cut in 0..r.value.as_ref().unwrap().len() {
        let truncated = TxnLogRecord {
            key: r.key.clone(),
            value: Some(r.value.as_ref().unwrap().slice(..cut)),
        };
        assert!(truncated.decode().is_err());
    }
}

#[test]
fn list_filters_by_state_producer_and_duration() {
    let mut c = initialised();
    let _ = c.init_producer_id(T0, "u", 60_000, None, &mut || Ok(7));
    c.add_partitions(T0, "u", 7, 0, &[tp("a", 0)]).0.unwrap();
    let all = c.list(
        T0 + 5_000,
        &ListFilter {
            min_duration_ms: -1,
            ..ListFilter::default()
        },
    );
    assert_eq!(all.len(), 2);
    let ongoing = c.list(
        T0 + 5_000,
        &ListFilter {
            states: vec![TxnState::Ongoing],
            min_duration_ms: -1,
            ..ListFilter::default()
        },
    );
    assert_eq!(ongoing.len(), 1);
    assert_eq!(ongoing[0].transactional_id, "u");
    let by_pid = c.list(
        T0,
        &ListFilter {
            producer_ids: vec![101],
            min_duration_ms: -1,
            ..ListFilter::default()
        },
    );
    assert_eq!(by_pid[0].transactional_id, "t");
    let long = c.list(
        T0 + 5_000,
        &ListFilter {
            min_duration_ms: 4_000,
            ..ListFilter::default()
        },
    );
    assert_eq!(long.len(), 1);
    assert!(c
        .list(
            T0 + 5_000,
            &ListFilter {
                min_duration_ms: 6_000,
                ..ListFilter::default()
            }
        )
        .is_empty());
}

#[test]
fn the_transition_table_is_kafkas() {
    use TxnState::*;
    for s in TxnState::ALL {
        assert_eq!(TxnState::from_id(s.id()), Some(s));
        assert_eq!(TxnState::from_name(s.name()), Some(s));
    }
    assert!(Empty.can_move_to(Ongoing) && CompleteAbort.can_move_to(Ongoing));
    assert!(!PrepareCommit.can_move_to(Ongoing));
    assert!(Ongoing.can_move_to(PrepareAbort) && PrepareEpochFence.can_move_to(PrepareAbort));
    assert!(!Empty.can_move_to(PrepareCommit));
    assert!(PrepareCommit.can_move_to(CompleteCommit) && !PrepareAbort.can_move_to(CompleteCommit));
    assert!(CompleteCommit.can_move_to(Dead) && !Ongoing.can_move_to(Dead));
}
