//! [`Clock`]: the one source of wall-clock time (milliseconds since the Unix epoch) for
//! timestamps, deadlines, retention and timeouts, either the system's or one tests drive by
//! hand (Kafka's `MockTime`).
//!
//! Everything that needs "now" takes it from the clock it was given (the cluster's): the log
//! directory (flush times), the coordinator runtime (session and rebalance deadlines), the
//! retention task, the produce path (append time, timestamp checks). A manual clock only moves
//! when told, and [`Clock::sleep_until`] on it wakes when it is moved past the deadline, so a
//! test can expire a session timeout without waiting for it. Request-scoped waits that are not
//! broker state (a Fetch's `max_wait_ms`, idle connections) stay on tokio's timer.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// A clock; cheap to clone (an `Arc`). See the module documentation.
#[derive(Debug, Clone)]
pub struct Clock(Arc<Inner>);

#[derive(Debug)]
enum Inner {
    /// The system's wall clock.
    System,
    /// Moved by [`Clock::advance`] and [`Clock::set`] only.
    Manual {
        /// Milliseconds since the epoch.
        now_ms: AtomicI64,
        /// Woken whenever the time moves.
        moved: Notify,
    },
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Inner::System))
    }

    /// A clock that stands at `start_ms` until moved.
    pub fn manual(start_ms: i64) -> Clock {
        Clock(Arc::new(Inner::Manual {
            now_ms: AtomicI64::new(start_ms),
            moved: Notify::new(),
        }))
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &*self.0 {
            Inner::System => system_now_ms(),
            Inner::Manual { now_ms, .. } => now_ms.load(Ordering::Acquire),
        }
    }

    /// Whether this clock is driven by hand.
    pub fn is_manual(&self) -> bool {
        matches!(&*self.0, Inner::Manual { .. })
    }

    /// Moves a manual clock forward by `ms` and wakes its sleepers. Returns false (and does
    /// nothing) on the system clock.
    pub fn advance(&self, ms: i64) -> bool {
        match &*self.0 {
            Inner::System => false,
            Inner::Manual { now_ms, moved } => {
                now_ms.fetch_add(ms.max(0), Ordering::AcqRel);
                moved.notify_waiters();
                true
            }
        }
    }

    /// Sets a manual clock (never backwards) and wakes its sleepers. False on the system clock.
    pub fn set(&self, to_ms: i64) -> bool {
        match &*self.0 {
            Inner::System => false,
            Inner::Manual { now_ms, moved } => {
                now_ms.fetch_max(to_ms, Ordering::AcqRel);
                moved.notify_waiters();
                true
            }
        }
    }

    /// Returns once the clock reads at least `deadline_ms`.
    pub async fn sleep_until(&self, deadline_ms: i64) {
        match &*self.0 {
            Inner::System => {
                let wait = deadline_ms.saturating_sub(system_now_ms()).max(0) as u64;
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            Inner::Manual { now_ms, moved } => loop {
                // Registered before the check, so a move in between is not missed.
                let notified = moved.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if now_ms.load(Ordering::Acquire) >= deadline_ms {
                    return;
                }
                notified.await;
            },
        }
    }

    /// Returns after `ms` milliseconds of this clock.
    pub async fn sleep(&self, ms: i64) {
        self.sleep_until(self.now_ms().saturating_add(ms)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_moved_past_their_deadline() {
        let c = Clock::manual(1_000);
        assert_eq!(c.now_ms(), 1_000);
        let sleeper = {
            let c = c.clone();
            tokio::spawn(async move {
                c.sleep_until(1_500).await;
                c.now_ms()
            })
        };
        tokio::task::yield_now().await;
        assert!(c.advance(200));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "1200 is before the deadline");
        assert!(c.set(1_600));
        assert_eq!(sleeper.await.unwrap(), 1_600);
        c.set(10);
        assert_eq!(c.now_ms(), 1_600, "never backwards");
        assert!(!Clock::system().advance(1));
        assert!(Clock::system().now_ms() > 1_700_000_000_000);
    }
}
