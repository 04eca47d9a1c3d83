//! The log cleaner's threads (Kafka's `LogCleaner` and the choice of `LogCleanerManager`): each
//! repeatedly picks the dirtiest compacted partition that wants cleaning and no other thread is
//! cleaning, runs a pass over it ([`crate::log::cleaner::clean`]), and waits
//! `log.cleaner.backoff.ms` when there is none. A partition whose log does not read back is
//! logged and left alone until the next start (Kafka's "uncleanable" partitions).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Partition, TopicRegistry};
use crate::config::CleanerSettings;
use crate::log::cleaner::{self, CleanError, CleanStats, CleanerConfig};

/// Running totals of every pass, for logs and the metrics.
#[derive(Debug, Default)]
pub struct CleanerStats {
    /// Passes that finished.
    pub passes: AtomicU64,
    /// Bytes of log read (offset maps and cleaning).
    pub bytes_read: AtomicU64,
    /// Bytes of cleaned segments written.
    pub bytes_written: AtomicU64,
    /// Records read while cleaning.
    pub records_read: AtomicU64,
    /// Records removed.
    pub records_removed: AtomicU64,
    /// Wall time of all passes, in milliseconds.
    pub busy_ms: AtomicU64,
    /// Partitions left alone after an unreadable batch.
    pub uncleanable: AtomicU64,
}

impl CleanerStats {
    fn add(&self, s: &CleanStats) {
        let add = |a: &AtomicU64, v: u64| a.fetch_add(v, Ordering::Relaxed);
        add(&self.passes, 1);
        add(&self.bytes_read, s.bytes_read + s.map_bytes_read);
        add(&self.bytes_written, s.bytes_written);
        add(&self.records_read, s.records_read);
        add(&self.records_removed, s.records_read - s.records_kept);
        add(&self.busy_ms, s.duration_ms);
    }
}

type Key = (String, i32);

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    wake: (Mutex<bool>, Condvar),
    in_progress: Mutex<HashSet<Key>>,
    uncleanable: Mutex<HashSet<Key>>,
}

/// The cleaner threads; stopped (and joined) by [`LogCleaner::stop`] or on drop.
#[derive(Debug)]
pub struct LogCleaner {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl LogCleaner {
    /// Starts `settings.threads` threads over the registry's topics (none if the cleaner is
    /// disabled).
    pub fn start(registry: Arc<TopicRegistry>, settings: &CleanerSettings) -> LogCleaner {
        let shared = Arc::new(Shared::default());
        let n = if settings.enable { settings.threads } else { 0 };
        let config = CleanerConfig {
            dedupe_buffer_bytes: settings.dedupe_buffer_bytes / n.max(1),
            io_buffer_bytes: settings.io_buffer_bytes,
        };
        let backoff = Duration::from_millis(settings.backoff_ms.max(1) as u64);
        let threads = (0..n)
            .map(|i| {
                let (registry, shared) = (registry.clone(), shared.clone());
                std::thread::Builder::new()
                    .name(format!("log-cleaner-{i}"))
                    .spawn(move || run(&registry, &shared, &config, backoff))
                    .expect("spawn a log cleaner thread")
            })
            .collect();
        if n > 0 {
            tracing::info!(
                threads = n,
                dedupe_buffer_bytes = settings.dedupe_buffer_bytes,
                backoff_ms = settings.backoff_ms,
                "log cleaner started"
            );
        }
        LogCleaner { shared, threads }
    }

    /// Asks the threads to stop (a pass in progress is abandoned, leaving the log as it was)
    /// and waits for them.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let (m, cv) = &self.shared.wake;
        *m.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// Wakes idle threads to look for work now.
    pub fn wake(&self) {
        let (m, cv) = &self.shared.wake;
        *m.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
    }
}

impl Drop for LogCleaner {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(registry: &TopicRegistry, shared: &Shared, config: &CleanerConfig, backoff: Duration) {
    while !shared.stop.load(Ordering::Relaxed) {
        let cleaned = pick(registry, shared).is_some_and(|(key, partition)| {
            let done = clean_one(registry, shared, config, &key, &partition);
            shared
                .in_progress
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            done
        });
        // Nothing to clean, or a pass that did not finish (the log changed under it, it failed):
        // wait before looking again rather than retrying at once.
        if !cleaned {
            let (m, cv) = &shared.wake;
            let mut woken = m.lock().unwrap_or_else(|p| p.into_inner());
            if !*woken {
                woken = cv
                    .wait_timeout(woken, backoff)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            *woken = false;
        }
    }
}

/// The dirtiest compacted partition that wants cleaning, marked in progress.
fn pick(registry: &TopicRegistry, shared: &Shared) -> Option<(Key, Arc<Partition>)> {
    let mut best: Option<(f64, Key, Arc<Partition>)> = None;
    let in_progress = shared.in_progress.lock().unwrap_or_else(|p| p.into_inner());
    let uncleanable = shared.uncleanable.lock().unwrap_or_else(|p| p.into_inner());
    for topic in registry.all() {
        if !topic.produce_rules().compacted {
            continue;
        }
        for p in topic.partitions() {
            let key = (topic.name.clone(), p.index);
            if in_progress.contains(&key) || uncleanable.contains(&key) {
                continue;
            }
            let d = {
                let log = p.log();
                log.dirtiness(registry.log_dir.clock().now_ms())
            };
            let Some(d) = d.filter(|d| d.wants_cleaning()) else {
                continue;
            };
            // Overdue logs and passed horizons first, then by ratio (Kafka: by ratio).
            let score = if d.overdue || d.horizon_passed {
                2.0
            } else {
                d.ratio
            };
            if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                best = Some((score, key, p));
            }
        }
    }
    drop(uncleanable);
    let (_, key, p) = best?;
    let mut in_progress = in_progress;
    in_progress.insert(key.clone());
    Some((key, p))
}

/// One pass over `partition`; whether it finished.
fn clean_one(
    registry: &TopicRegistry,
    shared: &Shared,
    config: &CleanerConfig,
    key: &Key,
    partition: &Partition,
) -> bool {
    match cleaner::clean(&partition.log, config, false, &shared.stop) {
        Ok(Some(stats)) => {
            registry.cleaner_stats.add(&stats);
            return true;
        }
        Ok(None) => {}
        Err(CleanError::Abandoned(why)) => {
            tracing::info!(topic = %key.0, partition = key.1, why, "log cleaning abandoned");
        }
        Err(e @ CleanError::Corrupt { .. }) => {
            tracing::error!(topic = %key.0, partition = key.1, error = %e, "cannot clean this partition's log; leaving it alone until the next start");
            registry
                .cleaner_stats
                .uncleanable
                .fetch_add(1, Ordering::Relaxed);
            shared
                .uncleanable
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.clone());
        }
        Err(CleanError::Log(e)) => {
            tracing::error!(topic = %key.0, partition = key.1, error = %e, "log cleaning failed");
        }
    }
    false
}
