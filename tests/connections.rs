//! 1,000 concurrent connections against the real binary, eight times over: every one is served,
//! and the broker's memory settles (issue 8, "limits under load"). Prints the figures.

mod common;

use common::process::BrokerProcess;
use common::RawClient;
use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest, RequestKind, ResponseKind};

/// (VmRSS, VmHWM) of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Opens `n` connections and has each answered (ApiVersions, then Metadata); returns them open.
async fn round(addr: std::net::SocketAddr, n: usize) -> Vec<RawClient> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(RawClient::connect(addr).await);
    }
    for c in clients.iter_mut() {
        match c
            .call(RequestKind::ApiVersions(ApiVersionsRequest::default()), 3)
            .await
        {
            ResponseKind::ApiVersions(r) => assert_eq!(r.error_code, 0),
            other => panic!("{other:?}"),
        }
        match c
            .call(
                RequestKind::Metadata(MetadataRequest::default().with_topics(None)),
                12,
            )
            .await
        {
            ResponseKind::Metadata(r) => assert_eq!(r.brokers.len(), 1),
            other => panic!("{other:?}"),
        }
    }
    clients
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_eight_times_with_flat_memory() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::spawn(dir.path(), &[]);
    let pid = broker.child.id();
    let (idle, _) = memory_kib(pid);
    // RSS with 1,000 connections open, round after round (each round closes the previous).
    let mut held = Vec::new();
    for _ in 0..8 {
        let clients = round(broker.addr, 1000).await;
        held.push(memory_kib(pid).0);
        drop(clients);
    }
    let (_, peak) = memory_kib(pid);
    eprintln!(
        "connections: idle {idle} KiB; RSS with 1,000 open, by round: {held:?} KiB; peak {peak} \
         KiB; {:.1} KiB per connection",
        (peak.saturating_sub(idle)) as f64 / 1000.0
    );
    // Memory must settle, not ratchet up round after round (a per-connection leak, or
    // per-connection buffers so large that the allocator keeps handing out fresh pages of them:
    // 64 KiB write buffers grew RSS by 4-6 MiB every round here). The last three rounds stay
    // within 4 MiB of each other.
    let last = &held[5..];
    let (lo, hi) = (last.iter().min().unwrap(), last.iter().max().unwrap());
    assert!(
        hi - lo <= 4 * 1024,
        "RSS with 1,000 connections still moving in rounds 6-8: {held:?} KiB"
    );
    // Buffers are allocated as requests need them: under 48 KiB per open connection.
    assert!(
        peak < idle + 48 * 1000,
        "peak {peak} KiB for 1,000 connections (idle {idle} KiB)"
    );
}
