//! The wiring: start-up and shutdown of a whole broker process. Locks and opens the data
//! directory, reads the cluster identity, opens the topic registry (recovering after an unclean
//! stop), loads the coordinators, builds the [`Cluster`], binds a listener per node and serves
//! it, and runs the background tasks (retention, the coordinators' timer). Used by `main` and by
//! the integration tests, which start brokers in-process on `127.0.0.1:0`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::broker::Node;
use crate::clock::Clock;
use crate::cluster::faults::{DiskRules, Faults, RuleFileSystem};
use crate::cluster::producer_ids::ProducerIdAllocator;
use crate::cluster::{Cluster, NodeInfo};
use crate::config::Config;
use crate::coordinator::{GroupCoordinator, TransactionCoordinator};
use crate::log::dir_lock::DirLock;
use crate::log::{FileSystem, LogDir, StdFileSystem};
use crate::properties::{self, Properties};
use crate::server::ServeLimits;
use crate::topics::cleaner::LogCleaner;
use crate::topics::TopicRegistry;
use crate::txn::TxnError;

/// Name of the marker file written after a clean stop.
pub const CLEAN_SHUTDOWN_MARKER: &str = ".clean-shutdown";

/// A started broker.
pub struct RunningBroker {
    /// The first node's bound address (the real port when started on port 0).
    pub addr: SocketAddr,
    /// Every node's id and bound address, in id order.
    pub addrs: Vec<(i32, SocketAddr)>,
    /// The HTTP admin endpoint's address, if it runs.
    pub admin_addr: Option<SocketAddr>,
    /// The cluster's shared state.
    pub cluster: Arc<Cluster>,
    /// The first node.
    pub node: Arc<Node>,
    /// Time from the start of [`start`] to a bound, serving listener.
    pub startup: Duration,
    /// Whether the logs were recovered because the previous stop was not clean.
    pub recovered: bool,
    /// Fires the graceful shutdown.
    stop: Option<oneshot::Sender<()>>,
    /// The serving task; finishes after connections drained and logs were flushed.
    task: JoinHandle<()>,
}

impl RunningBroker {
    /// Stops accepting, lets connections answer what they are handling, flushes every log and
    /// writes the clean-shutdown marker.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the broker has stopped (after [`RunningBroker::shutdown`] was sent elsewhere).
    pub fn stop_handle(&mut self) -> Option<oneshot::Sender<()>> {
        self.stop.take()
    }

    /// Waits for the serving task to finish.
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// Every node's address, comma-separated: a `bootstrap.servers` value.
    pub fn bootstrap(&self) -> String {
        self.addrs
            .iter()
            .map(|(_, a)| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Kafka's cluster id format: a UUID as 22 characters of URL-safe base64 without padding.
fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut out = String::with_capacity(22);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

/// Reads `meta.properties`, creating it with a new cluster id on first start.
fn load_or_create_meta(config: &Config) -> anyhow::Result<String> {
    let path = config.data_dir.join("meta.properties");
    if path.exists() {
        let props = properties::read(&path)?;
        if let Some(id) = props.get("cluster.id") {
            return Ok(id.clone());
        }
    }
    let id = new_cluster_id();
    let mut props = Properties::new();
    props.insert("cluster.id".into(), id.clone());
    props.insert("node.id".into(), config.node_id.to_string());
    props.insert("version".into(), "1".into());
    properties::write_atomic(&path, &props)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Opens the data directory, binds the listener and starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningBroker> {
    start_with_fs(config, Arc::new(StdFileSystem)).await
}

/// [`start`], with every log write going through `fs` (tests inject I/O errors this way).
pub async fn start_with_fs(
    config: Config,
    fs: Arc<dyn FileSystem>,
) -> anyhow::Result<RunningBroker> {
    start_with(config, fs, Clock::system()).await
}

/// [`start_with_fs`] on `clock` (tests drive time with [`Clock::manual`]).
pub async fn start_with(
    config: Config,
    fs: Arc<dyn FileSystem>,
    clock: Clock,
) -> anyhow::Result<RunningBroker> {
    let t0 = Instant::now();
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    // Before any other file is touched: one broker per data directory.
    let dir_lock = DirLock::acquire(&config.data_dir)?;
    if !config.unknown_keys.is_empty() {
        tracing::warn!(keys = ?config.unknown_keys, "ignoring broker config keys Gregor does not know");
    }
    let open_files = config.max_open_files.unwrap_or_else(|| {
        let soft = open_file_limit();
        usize::try_from(soft / 2)
            .unwrap_or(usize::MAX)
            .clamp(16, 4096)
    });
    let cluster_id = load_or_create_meta(&config)?;
    let marker = config.data_dir.join(CLEAN_SHUTDOWN_MARKER);
    // No marker: the last stop was not clean (or this is the first start, with nothing to scan).
    let recover = !marker.exists();
    let config = Arc::new(config);
    // The fault rules, from a faults file if given; `disk` rules sit in front of every log
    // write.
    let faults = Arc::new(Faults::new(crate::broker::fault_error_supported));
    if let Some(path) = &config.faults_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading faults file {}", path.display()))?;
        let specs = crate::cluster::faults::parse_faults_file(&text)
            .with_context(|| format!("faults file {}", path.display()))?;
        let added = faults.add_all(specs).map_err(|(i, e)| {
            anyhow::anyhow!("faults file {}: rule {}: {e}", path.display(), i + 1)
        })?;
        tracing::info!(file = %path.display(), rules = added.len(), "installed fault rules");
    }
    let fs: Arc<dyn FileSystem> = Arc::new(RuleFileSystem::wrap(fs, DiskRules(faults.clone())));
    let log_dir = LogDir::with_options(config.data_dir.clone(), fs, open_files, clock.clone());
    let registry =
        Arc::new(TopicRegistry::open(config.clone(), log_dir, recover).context("opening topics")?);
    if !recover {
        std::fs::remove_file(&marker).context("removing clean-shutdown marker")?;
        sync_dir(&config.data_dir);
    }
    // One listener per virtual broker, on consecutive ports (each ephemeral with port 0).
    let mut listeners = Vec::new();
    for i in 0..config.brokers.max(1) {
        let mut at = config.listen;
        if at.port() != 0 {
            let port = u16::try_from(i32::from(at.port()) + i)
                .with_context(|| format!("no port {} + {i} for broker {i}", at.port()))?;
            at.set_port(port);
        }
        let listener = TcpListener::bind(at)
            .await
            .with_context(|| format!("binding {at} (broker {})", config.node_id + i))?;
        listeners.push((config.node_id + i, listener));
    }
    let addrs: Vec<(i32, SocketAddr)> = listeners
        .iter()
        .map(|(id, l)| l.local_addr().map(|a| (*id, a)))
        .collect::<std::io::Result<_>>()?;
    let addr = addrs[0].1;
    let advertise = |i: usize, bound: SocketAddr| match &config.advertised {
        Some((host, port)) => (host.clone(), port + i as i32),
        None => {
            let host = if bound.ip().is_unspecified() {
                "localhost".to_string()
            } else {
                bound.ip().to_string()
            };
            (host, i32::from(bound.port()))
        }
    };
    let admin_listener = bind_admin(&config).await?;
    let producer_ids = Arc::new(
        ProducerIdAllocator::open(&config.data_dir).context("opening the producer id allocator")?,
    );
    let groups = Arc::new(
        GroupCoordinator::open(registry.clone(), clock.clone(), &config)
            .context("loading consumer groups")?,
    );
    // Markers move partitions' last stable offsets: they wake long-polling fetches like any
    // append. The cluster is built after its coordinators, so the hook finds it later.
    let cluster_slot: Arc<std::sync::OnceLock<std::sync::Weak<Cluster>>> = Arc::default();
    let allocator = producer_ids.clone();
    let hook = cluster_slot.clone();
    let txns = TransactionCoordinator::open(
        registry.clone(),
        groups.clone(),
        clock.clone(),
        &config,
        Arc::new(move || {
            allocator.allocate().map_err(|e| {
                tracing::error!(error = %e, "cannot persist the producer id block");
                TxnError::ProducerIdUnavailable
            })
        }),
        Arc::new(move || {
            if let Some(c) = hook.get().and_then(std::sync::Weak::upgrade) {
                c.notify_appended();
            }
        }),
    )
    .context("loading transactions")?;
    let cluster = Arc::new(
        Cluster::new(
            config.clone(),
            cluster_id,
            registry.clone(),
            groups.clone(),
            txns.clone(),
            producer_ids,
            clock,
        )
        .with_faults(faults),
    );
    let _ = cluster_slot.set(Arc::downgrade(&cluster));
    for (i, (id, bound)) in addrs.iter().enumerate() {
        let (host, port) = advertise(i, *bound);
        cluster.add_node(NodeInfo {
            id: *id,
            host,
            port,
        });
    }
    let nodes: Vec<Arc<Node>> = addrs
        .iter()
        .map(|(id, _)| Arc::new(Node::new(*id, cluster.clone())))
        .collect();
    let node = nodes[0].clone();
    let group_timer = tokio::spawn(groups.run_timer(cluster.subscribe_stopping()));
    let txn_timer = tokio::spawn(txns.clone().run_timer(cluster.subscribe_stopping()));
    let txn_markers = tokio::spawn(txns.run_marker_task(cluster.subscribe_stopping()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let retention = tokio::spawn(retention_task(cluster.clone()));
    let mut log_cleaner = LogCleaner::start(registry.clone(), &config.cleaner);
    let limits = ServeLimits {
        max_connections: config.max_connections,
        max_frame: config.socket_request_max_bytes,
        idle: Duration::from_millis(config.connections_max_idle_ms),
        queued_max_request_bytes: config.queued_max_request_bytes,
    };
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for ((_, listener), n) in listeners.into_iter().zip(nodes) {
        let mut stop = stopping_rx.clone();
        servers.push(tokio::spawn(crate::server::serve(
            listener,
            n,
            limits.clone(),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        )));
    }
    let admin_addr = match admin_listener {
        Some(l) => {
            let a = l.local_addr()?;
            let mut stop = stopping_rx.clone();
            let app = crate::admin::router(cluster.clone())
                .merge(crate::console::router(cluster.clone()));
            servers.push(tokio::spawn(crate::admin::serve(l, app, async move {
                let _ = stop.wait_for(|s| *s).await;
            })));
            Some(a)
        }
        None => None,
    };
    let serving = node.clone();
    let task = tokio::spawn(async move {
        let _ = stop_rx.await;
        let _ = stopping_tx.send(true);
        for s in servers {
            let _ = s.await;
        }
        retention.abort();
        group_timer.abort();
        txn_timer.abort();
        txn_markers.abort();
        let registry = serving.cluster.topics.clone();
        let data_dir = serving.cluster.config.data_dir.clone();
        let flushed = tokio::task::spawn_blocking(move || {
            // A pass in progress stops at its next batch; what it wrote is removed.
            log_cleaner.stop();
            if !registry.flush_all() {
                return std::io::Result::Ok(false);
            }
            std::fs::write(data_dir.join(CLEAN_SHUTDOWN_MARKER), b"")?;
            sync_dir(&data_dir);
            std::io::Result::Ok(true)
        })
        .await;
        match flushed {
            Ok(Ok(true)) => tracing::info!("stopped cleanly"),
            Ok(Ok(false)) => {
                tracing::error!("stopped with the log directory offline; next start will recover")
            }
            other => tracing::error!(?other, "shutdown flush failed; next start will recover"),
        }
        // Only now may another broker use the directory.
        drop(dir_lock);
    });
    Ok(RunningBroker {
        addr,
        addrs,
        admin_addr,
        cluster,
        node,
        startup: t0.elapsed(),
        recovered: recover && !registry.all().is_empty(),
        stop: Some(stop_tx),
        task,
    })
}

/// Binds the admin endpoint: loopback only unless `gregor.admin.allow.remote`; an address
/// set explicitly must bind, the default is skipped with a warning when its port is taken.
async fn bind_admin(config: &Config) -> anyhow::Result<Option<TcpListener>> {
    let Some(at) = config.admin.listen else {
        return Ok(None);
    };
    if !at.ip().is_loopback() && !config.admin.allow_remote {
        anyhow::bail!(
            "the admin endpoint {at} is not a loopback address: it can change the broker's \
             behaviour, so it binds 127.0.0.1 unless gregor.admin.allow.remote=true"
        );
    }
    match TcpListener::bind(at).await {
        Ok(l) => Ok(Some(l)),
        Err(e) if !config.admin.explicit => {
            tracing::warn!(addr = %at, error = %e, "admin endpoint not started (use --admin HOST:PORT or --admin off)");
            Ok(None)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("binding the admin endpoint {at}"))),
    }
}

/// Raises this process's soft open-file limit to the hard limit, once, logging both, and returns
/// the soft limit in force. Segment files are kept in a bounded cache sized from it, so the
/// broker works under a low `ulimit -n`; raising it leaves more room for connections.
pub fn open_file_limit() -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let before = getrlimit(Resource::Nofile);
        let soft = before.current.unwrap_or(u64::MAX);
        let hard = before.maximum.unwrap_or(u64::MAX);
        if soft >= hard {
            tracing::info!(soft, hard, "open-file limit");
            return soft;
        }
        let raised = rustix::process::Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::info!(
                    from = soft,
                    to = hard,
                    hard,
                    "raised the open-file limit to the hard limit"
                );
                hard
            }
            Err(e) => {
                tracing::warn!(soft, hard, error = %e, "cannot raise the open-file limit");
                soft
            }
        }
    })
}

/// Every `log.retention.check.interval.ms` (Kafka's default: 5 minutes) until the broker stops:
/// expires idle producer ids, flushes logs whose `flush.ms` passed, applies retention. Each
/// partition is locked only for its own check.
async fn retention_task(cluster: Arc<Cluster>) {
    let every =
        Duration::from_millis(cluster.config.log_retention_check_interval_ms.max(10) as u64);
    let producer_expiration_ms = cluster.config.producer_id_expiration_ms;
    let mut stopping = cluster.subscribe_stopping();
    loop {
        tokio::select! {
            _ = cluster.clock.sleep(every.as_millis() as i64) => {}
            _ = stopping.changed() => return,
        }
        let now = cluster.clock.now_ms();
        for topic in cluster.topics.all() {
            for p in topic.partitions() {
                let mut log = p.log();
                let expired = log.expire_producers(now, producer_expiration_ms);
                if expired > 0 {
                    tracing::info!(topic = %topic.name, partition = p.index, expired, "expired idle producer ids");
                }
                if let Err(e) = log.maybe_flush(now) {
                    tracing::error!(topic = %topic.name, partition = p.index, error = %e, "periodic flush failed");
                }
                match log.apply_retention(now) {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(topic = %topic.name, partition = p.index, segments = n, "retention deleted segments")
                    }
                    Err(e) => {
                        tracing::error!(topic = %topic.name, partition = p.index, error = %e, "retention failed")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_id_looks_like_kafkas() {
        let id = super::new_cluster_id();
        assert_eq!(id.len(), 22);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
