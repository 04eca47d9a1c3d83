//! The request log: the last `gregor.request.log.size` requests every node handled, for
//! `gregor ctl requests` and the admin endpoint (what did my application send, to which
//! broker, and which fault answered it).

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// One handled request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestEntry {
    /// Sequence number, from 1, across the whole log's life.
    pub seq: u64,
    /// When it arrived (cluster clock, ms since the epoch).
    pub at_ms: i64,
    /// The node it was sent to.
    pub broker: i32,
    /// API name (Kafka's, e.g. `Produce`).
    pub api: String,
    /// API version.
    pub version: i16,
    /// Header correlation id.
    pub correlation_id: i32,
    /// Header client id.
    pub client_id: String,
    /// Peer `ip:port`.
    pub peer: String,
    /// Topics named, each once, in request order.
    pub topics: Vec<String>,
    /// Time from decode to the response being ready, in microseconds.
    pub duration_us: u64,
    /// The fault rule that fired for it, if any.
    pub fault: Option<u64>,
    /// `answered`, `no-response` (acks=0) or `closed`.
    pub outcome: &'static str,
}

/// A bounded ring of [`RequestEntry`]s.
#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    inner: Mutex<(u64, VecDeque<RequestEntry>)>,
}

impl RequestLog {
    /// A log keeping the last `capacity` requests (0: keeps nothing).
    pub fn new(capacity: usize) -> RequestLog {
        RequestLog {
            capacity,
            inner: Mutex::new((0, VecDeque::with_capacity(capacity.min(1024)))),
        }
    }

    /// Whether entries are kept at all.
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Appends one entry (its `seq` is assigned here), dropping the oldest when full.
    pub fn push(&self, mut entry: RequestEntry) {
        if self.capacity == 0 {
            return;
        }
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        entry.seq = g.0;
        if g.1.len() == self.capacity {
            g.1.pop_front();
        }
        g.1.push_back(entry);
    }

    /// The newest `limit` entries, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<RequestEntry> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let skip = g.1.len().saturating_sub(limit);
        g.1.iter().skip(skip).cloned().collect()
    }

    /// Forgets every entry (sequence numbers go on).
    pub fn clear(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(api: &str) -> RequestEntry {
        RequestEntry {
            seq: 0,
            at_ms: 0,
            broker: 1,
            api: api.into(),
            version: 0,
            correlation_id: 0,
            client_id: String::new(),
            peer: String::new(),
            topics: Vec::new(),
            duration_us: 0,
            fault: None,
            outcome: "answered",
        }
    }

    #[test]
    fn keeps_the_newest_and_numbers_them() {
        let log = RequestLog::new(2);
        for api in ["a", "b", "c"] {
            log.push(entry(api));
        }
        let r = log.recent(10);
        assert_eq!(
            r.iter()
                .map(|e| (e.seq, e.api.as_str()))
                .collect::<Vec<_>>(),
            vec![(2, "b"), (3, "c")]
        );
        assert_eq!(log.recent(1)[0].api, "c");
        log.clear();
        assert!(log.recent(10).is_empty());
        log.push(entry("d"));
        assert_eq!(log.recent(10)[0].seq, 4);
        let off = RequestLog::new(0);
        off.push(entry("x"));
        assert!(off.recent(10).is_empty() && !off.enabled());
    }
}
