//! The broker's own counters for `/metrics`: requests per API and version, error codes per
//! API, request latency histograms, connections, and each topic's [`Traffic`]; and
//! [`Exposition`], a writer of Prometheus' text format (0.0.4) for them and for what the
//! scrape reads from the cluster's state.
//!
//! Everything on the data path is a relaxed atomic add into a slot chosen by the API key and
//! version (fixed arrays, no lock, no allocation); only a response that carries an error code
//! takes a short lock, on a map bounded by the number of (API, code) pairs that exist.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;

/// API keys counted (Kafka's keys are below 100).
const API_SLOTS: usize = 128;
/// Versions counted per API (higher ones share the last slot).
const VERSION_SLOTS: usize = 32;

/// Upper bounds of the latency buckets, in microseconds (0.1 ms to 10 s; then `+Inf`).
pub const LATENCY_BOUNDS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    2_500_000, 10_000_000,
];

/// A latency histogram: per-bucket counts (not cumulative), the count and the sum.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BOUNDS_US.len() + 1],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, us: u64) {
        let i = LATENCY_BOUNDS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(LATENCY_BOUNDS_US.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }
}

/// Bytes and records through one topic.
#[derive(Debug, Default)]
pub struct Traffic {
    bytes_in: AtomicU64,
    records_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// A [`Traffic`] read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficSnapshot {
    /// Batch bytes appended by producers.
    pub bytes_in: u64,
    /// Records appended by producers.
    pub records_in: u64,
    /// Batch bytes sent to fetchers (consumers and Kafka's tools).
    pub bytes_out: u64,
}

impl Traffic {
    /// A produced batch of `bytes` holding `records` records was stored.
    pub fn produced(&self, bytes: usize, records: u64) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
        self.records_in.fetch_add(records, Ordering::Relaxed);
    }

    /// `bytes` of stored batches are on their way to a fetcher.
    pub fn fetched(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> TrafficSnapshot {
        TrafficSnapshot {
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            records_in: self.records_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
        }
    }
}

/// The broker-wide counters (see the module documentation).
#[derive(Debug)]
pub struct Metrics {
    /// Requests, `API_SLOTS * VERSION_SLOTS`.
    requests: Box<[AtomicU64]>,
    /// Latency per API key.
    latency: Box<[Histogram]>,
    /// Error codes answered, per (API key, code).
    errors: Mutex<BTreeMap<(i16, i16), u64>>,
    /// Requests whose connection was closed instead of answered, per API key.
    closed: Box<[AtomicU64]>,
    /// Frames refused before any handler (too short, undecodable, an unknown API or version),
    /// per API key; the last slot holds the frames without a known key.
    rejected: Box<[AtomicU64]>,
    connections_open: AtomicI64,
    connections_accepted: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..API_SLOTS * VERSION_SLOTS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: (0..API_SLOTS).map(|_| Histogram::default()).collect(),
            errors: Mutex::new(BTreeMap::new()),
            closed: (0..API_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            rejected: (0..=API_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            connections_open: AtomicI64::new(0),
            connections_accepted: AtomicU64::new(0),
        }
    }
}

fn api_slot(api: ApiKey) -> usize {
    (api as i16 as usize).min(API_SLOTS - 1)
}

impl Metrics {
    /// One request of `api` at `version` handled in `took`; `closed` if the connection was
    /// closed instead of answered.
    pub fn request(&self, api: ApiKey, version: i16, took: Duration, closed: bool) {
        let a = api_slot(api);
        let v = usize::try_from(version).unwrap_or(0).min(VERSION_SLOTS - 1);
        self.requests[a * VERSION_SLOTS + v].fetch_add(1, Ordering::Relaxed);
        self.latency[a].observe(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        if closed {
            self.closed[a].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The error codes of one response of `api` (0s are ignored).
    pub fn errors(&self, api: ApiKey, codes: &[i16]) {
        if codes.iter().all(|&c| c == 0) {
            return;
        }
        let mut map = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        for &c in codes.iter().filter(|&&c| c != 0) {
            *map.entry((api as i16, c)).or_default() += 1;
        }
    }

    /// A frame refused before any handler, with its API if it names a known one; its
    /// connection is closed.
    pub fn rejected(&self, api: Option<ApiKey>) {
        let slot = api.map_or(API_SLOTS, api_slot);
        self.rejected[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was accepted (`true`) or closed (`false`).
    pub fn connection(&self, opened: bool) {
        if opened {
            self.connections_open.fetch_add(1, Ordering::Relaxed);
            self.connections_accepted.fetch_add(1, Ordering::Relaxed);
        } else {
            self.connections_open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Connections open now.
    pub fn connections_open(&self) -> i64 {
        self.connections_open.load(Ordering::Relaxed)
    }

    /// Requests of `api` at every version, for tests and the console.
    pub fn requests_of(&self, api: ApiKey) -> u64 {
        let a = api_slot(api);
        self.requests[a * VERSION_SLOTS..(a + 1) * VERSION_SLOTS]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Writes every family of these counters.
    pub fn render(&self, out: &mut Exposition) {
        out.family(
            "gregor_requests_total",
            "Requests handled, by API and version.",
            "counter",
        );
        for a in 0..API_SLOTS {
            for v in 0..VERSION_SLOTS {
                let n = self.requests[a * VERSION_SLOTS + v].load(Ordering::Relaxed);
                if n > 0 {
                    let name = api_name(a as i16);
                    out.sample(
                        "gregor_requests_total",
                        &[("api", &name), ("version", &v.to_string())],
                        n,
                    );
                }
            }
        }
        out.family(
            "gregor_request_errors_total",
            "Error codes answered, by API and Kafka error (each partition or entry counts once).",
            "counter",
        );
        let errors = self
            .errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for ((api, code), n) in errors {
            out.sample(
                "gregor_request_errors_total",
                &[("api", &api_name(api)), ("error", &error_name(code))],
                n,
            );
        }
        out.family(
            "gregor_requests_closed_total",
            "Requests answered by closing the connection (an acks=0 produce that failed, a \
             fault rule, a broker taken down, a response that cannot be encoded), by API.",
            "counter",
        );
        for (a, c) in self.closed.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                out.sample(
                    "gregor_requests_closed_total",
                    &[("api", &api_name(a as i16))],
                    n,
                );
            }
        }
        out.family(
            "gregor_requests_rejected_total",
            "Frames refused before any handler and answered by closing the connection: too \
             short for a header, undecodable, or an unknown API or version (api=\"unknown\" \
             when the key is not one Kafka defines).",
            "counter",
        );
        for (a, c) in self.rejected.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                let name = if a == API_SLOTS {
                    "unknown".to_string()
                } else {
                    api_name(a as i16)
                };
                out.sample("gregor_requests_rejected_total", &[("api", &name)], n);
            }
        }
        out.family(
            "gregor_request_duration_seconds",
            "Time from a request's decoding to its encoded answer, by API.",
            "histogram",
        );
        for (a, h) in self.latency.iter().enumerate() {
            let count = h.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let name = api_name(a as i16);
            let mut cumulative = 0;
            for (i, b) in h.buckets.iter().enumerate() {
                cumulative += b.load(Ordering::Relaxed);
                let le = LATENCY_BOUNDS_US
                    .get(i)
                    .map_or("+Inf".to_string(), |us| seconds(*us));
                out.sample(
                    "gregor_request_duration_seconds_bucket",
                    &[("api", &name), ("le", &le)],
                    cumulative,
                );
            }
            out.sample_f64(
                "gregor_request_duration_seconds_sum",
                &[("api", &name)],
                h.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            );
            out.sample(
                "gregor_request_duration_seconds_count",
                &[("api", &name)],
                count,
            );
        }
        out.family(
            "gregor_connections",
            "Client connections open now, over every listener.",
            "gauge",
        );
        out.sample_i64("gregor_connections", &[], self.connections_open());
        out.family(
            "gregor_connections_accepted_total",
            "Client connections accepted.",
            "counter",
        );
        out.sample(
            "gregor_connections_accepted_total",
            &[],
            self.connections_accepted.load(Ordering::Relaxed),
        );
    }
}

/// `us` microseconds as a Prometheus `le` label in seconds (`0.0001`, `2.5`, `10`).
fn seconds(us: u64) -> String {
    let s = format!("{:.6}", us as f64 / 1e6);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Kafka's request name for an API key (`Produce`, `OffsetCommit`), or the number.
pub fn api_name(key: i16) -> String {
    ApiKey::try_from(key).map_or_else(|_| key.to_string(), |k| format!("{k:?}"))
}

/// Kafka's error name for a code (`NOT_LEADER_OR_FOLLOWER`; `NONE` for 0,
/// `UNKNOWN_ERROR_CODE_n` for a code Kafka does not define).
pub fn error_name(code: i16) -> String {
    let e = match ResponseError::try_from_code(code) {
        None => return "NONE".to_string(),
        Some(ResponseError::Unknown(c)) => return format!("UNKNOWN_ERROR_CODE_{c}"),
        Some(e) => e,
    };
    let camel = format!("{e:?}");
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Prometheus' text exposition format, written family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", help.replace('\n', " "));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn labels(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                for c in v.chars() {
                    match c {
                        '\\' => self.out.push_str("\\\\"),
                        '"' => self.out.push_str("\\\""),
                        '\n' => self.out.push_str("\\n"),
                        c => self.out.push(c),
                    }
                }
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
    }

    /// One sample with an integer value.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.labels(name, labels);
        let _ = writeln!(self.out, "{value}");
    }

    /// One sample with a signed integer value.
    pub fn sample_i64(&mut self, name: &str, labels: &[(&str, &str)], value: i64) {
        self.labels(name, labels);
        let _ = writeln!(self.out, "{value}");
    }

    /// One sample with a real value.
    pub fn sample_f64(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.labels(name, labels);
        let _ = writeln!(self.out, "{value}");
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kafka() {
        assert_eq!(api_name(0), "Produce");
        assert_eq!(api_name(68), "ConsumerGroupHeartbeat");
        assert_eq!(api_name(999), "999");
        assert_eq!(error_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_name(17), "INVALID_TOPIC_EXCEPTION");
        assert_eq!(error_name(58), "SASL_AUTHENTICATION_FAILED");
        assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(error_name(0), "NONE");
        assert_eq!(error_name(999), "UNKNOWN_ERROR_CODE_999");
        assert_eq!(seconds(100), "0.0001");
        assert_eq!(seconds(2_500_000), "2.5");
        assert_eq!(seconds(10_000_000), "10");
    }

    #[test]
    fn histogram_is_cumulative_and_labels_are_escaped() {
        let m = Metrics::default();
        m.request(ApiKey::Produce, 9, Duration::from_micros(50), false);
        m.request(ApiKey::Produce, 9, Duration::from_millis(3), false);
        m.request(ApiKey::Produce, 99, Duration::from_secs(60), true);
        m.errors(ApiKey::Produce, &[0, 6, 6]);
        let mut e = Exposition::default();
        m.render(&mut e);
        let text = e.finish();
        assert!(text.contains("gregor_requests_total{api=\"Produce\",version=\"9\"} 2\n"));
        assert!(text.contains("gregor_requests_total{api=\"Produce\",version=\"31\"} 1\n"));
        assert!(text.contains(
            "gregor_request_errors_total{api=\"Produce\",error=\"NOT_LEADER_OR_FOLLOWER\"} 2\n"
        ));
        assert!(text
            .contains("gregor_request_duration_seconds_bucket{api=\"Produce\",le=\"0.0001\"} 1\n"));
        assert!(text
            .contains("gregor_request_duration_seconds_bucket{api=\"Produce\",le=\"0.005\"} 2\n"));
        assert!(text
            .contains("gregor_request_duration_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("gregor_request_duration_seconds_count{api=\"Produce\"} 3\n"));
        assert!(text.contains("gregor_requests_closed_total{api=\"Produce\"} 1\n"));
        let mut e = Exposition::default();
        e.sample("x", &[("topic", "a\"b\\c\nd")], 1);
        assert_eq!(e.finish(), "x{topic=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
