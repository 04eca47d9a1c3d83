//! `/metrics`: Prometheus' text format. The dispatch point's counters ([`crate::metrics`]),
//! then what a scrape reads from the cluster's state: each topic's traffic, each partition's
//! offsets and size, each group's members and per-partition lag, the brokers, the log
//! cleaner and the transactions by state.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::groups;
use crate::cluster::Cluster;
use crate::metrics::Exposition;

/// `GET /metrics`.
pub(super) async fn scrape(State(c): State<Arc<Cluster>>) -> Response {
    let group_rows = groups::lag_rows(&c).await;
    let txns = groups::all_transactions(&c).await;
    let cluster = c.clone();
    let text = tokio::task::spawn_blocking(move || {
        let c = cluster;
        let mut out = Exposition::default();
        c.metrics.render(&mut out);
        out.family("gregor_up", "1 while the broker serves.", "gauge");
        out.sample("gregor_up", &[("version", env!("CARGO_PKG_VERSION"))], 1);
        out.family(
            "gregor_brokers",
            "Virtual brokers of this process, by whether they are up.",
            "gauge",
        );
        let nodes = c.all_nodes();
        let up = nodes.iter().filter(|(_, u)| *u).count() as u64;
        out.sample("gregor_brokers", &[("state", "up")], up);
        out.sample("gregor_brokers", &[("state", "down")], nodes.len() as u64 - up);
        let mut topics = c.topics.all();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let traffic: Vec<_> = topics.iter().map(|t| (t.name.clone(), t.traffic.snapshot())).collect();
        for (name, help, pick) in [
            (
                "gregor_topic_bytes_in_total",
                "Batch bytes produced to a topic.",
                (|s: &crate::metrics::TrafficSnapshot| s.bytes_in) as fn(&_) -> u64,
            ),
            (
                "gregor_topic_records_in_total",
                "Records produced to a topic.",
                |s| s.records_in,
            ),
            (
                "gregor_topic_bytes_out_total",
                "Batch bytes fetched from a topic (consumers and tools; Kafka counts no records out either).",
                |s| s.bytes_out,
            ),
        ] {
            out.family(name, help, "counter");
            for (t, s) in &traffic {
                out.sample(name, &[("topic", t)], pick(s));
            }
        }
        let mut partitions = Vec::new();
        for t in &topics {
            for p in t.partitions() {
                partitions.push((t.name.clone(), p.index, super::topics::offsets(&p)));
            }
        }
        type Pick = fn(&super::topics::Offsets) -> i64;
        let gauges: [(&str, &str, Pick); 4] = [
            ("gregor_partition_log_start_offset", "A partition's log start offset.", |o| o.log_start),
            ("gregor_partition_high_watermark", "A partition's high watermark (its end offset for consumers).", |o| o.high_watermark),
            ("gregor_partition_last_stable_offset", "A partition's last stable offset (read_committed consumers stop here).", |o| o.last_stable),
            ("gregor_partition_size_bytes", "Bytes of a partition's log segments on disk.", |o| o.size_bytes as i64),
        ];
        for (name, help, pick) in gauges {
            out.family(name, help, "gauge");
            for (t, i, o) in &partitions {
                out.sample_i64(name, &[("topic", t), ("partition", &i.to_string())], pick(o));
            }
        }
        out.family(
            "gregor_consumer_group_members",
            "Members of a consumer group.",
            "gauge",
        );
        for g in &group_rows {
            out.sample(
                "gregor_consumer_group_members",
                &[("group", &g.group), ("protocol", g.protocol), ("state", g.state)],
                g.members as u64,
            );
        }
        for (name, help) in [
            ("gregor_consumer_group_committed_offset", "A group's committed offset for a partition."),
            ("gregor_consumer_group_lag", "High watermark minus the group's committed offset, per partition."),
        ] {
            out.family(name, help, "gauge");
            for g in &group_rows {
                for (topic, partition, committed, lag) in &g.partitions {
                    let v = if name.ends_with("_lag") { *lag } else { *committed };
                    out.sample_i64(
                        name,
                        &[("group", &g.group), ("topic", topic), ("partition", &partition.to_string())],
                        v,
                    );
                }
            }
        }
        let s = c.topics.cleaner_stats();
        for (name, help, v) in [
            ("gregor_log_cleaner_passes_total", "Log cleaner passes finished.", &s.passes),
            ("gregor_log_cleaner_bytes_read_total", "Bytes the log cleaner read.", &s.bytes_read),
            ("gregor_log_cleaner_bytes_written_total", "Bytes of cleaned segments written.", &s.bytes_written),
            ("gregor_log_cleaner_records_removed_total", "Records the log cleaner removed.", &s.records_removed),
            ("gregor_log_cleaner_uncleanable_partitions_total", "Partitions the cleaner left alone after an unreadable batch.", &s.uncleanable),
        ] {
            out.family(name, help, "counter");
            out.sample(name, &[], v.load(Ordering::Relaxed));
        }
        out.family(
            "gregor_transactions",
            "Transactional ids the coordinator knows, by state.",
            "gauge",
        );
        let mut by_state: BTreeMap<&str, u64> = BTreeMap::new();
        for m in &txns {
            *by_state.entry(m.state.name()).or_default() += 1;
        }
        for (state, n) in by_state {
            out.sample("gregor_transactions", &[("state", state)], n);
        }
        out.finish()
    })
    .await
    .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
