//! Accept loop, connections and graceful shutdown (the mini-redis shape): a `Semaphore` bounds
//! connections, `accept` retries with backoff, a `broadcast` says "please stop", and each
//! connection task holds an `mpsc` sender whose drop means "done". Knows no API keys: frames go
//! to [`Broker::handle_frame`].

pub mod connection;
mod startup;

pub use startup::{start, start_with_fs, RunningBroker};

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, Semaphore};

use crate::broker::Broker;

/// The accept loop's state.
struct Listener {
    /// Bound listening socket.
    listener: TcpListener,
    /// Shared broker state handed to every connection.
    broker: Arc<Broker>,
    /// One permit per open connection (`max.connections`).
    limit: Arc<Semaphore>,
    /// Sends the "please stop" signal to connections.
    notify_shutdown: broadcast::Sender<()>,
    /// Cloned into each connection; when all clones drop, every connection has finished.
    shutdown_complete: mpsc::Sender<()>,
    /// Frame size, idle and buffered-bytes limits shared by all connections.
    limits: connection::ConnectionLimits,
}

impl Listener {
    async fn run(&mut self) -> std::io::Result<()> {
        loop {
            let permit = self
                .limit
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| std::io::Error::other("connection limit closed"))?;
            let socket = self.accept().await?;
            let _ = socket.set_nodelay(true);
            let peer = socket
                .peer_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            let broker = self.broker.clone();
            let shutdown = self.notify_shutdown.subscribe();
            let done = self.shutdown_complete.clone();
            let limits = self.limits.clone();
            tokio::spawn(async move {
                let span = tracing::debug_span!("connection", peer = %peer);
                let _ = tracing::Instrument::instrument(
                    connection::serve(socket, peer, broker, limits, shutdown),
                    span,
                )
                .await;
                drop(done);
                drop(permit);
            });
        }
    }

    /// Accepts with exponential backoff on errors (e.g. too many open files), as mini-redis does.
    async fn accept(&mut self) -> std::io::Result<TcpStream> {
        let mut backoff = 1;
        loop {
            match self.listener.accept().await {
                Ok((socket, _)) => return Ok(socket),
                Err(e) => {
                    if backoff > 64 {
                        return Err(e);
                    }
                    tracing::warn!(error = %e, "accept failed; retrying");
                }
            }
            tokio::time::sleep(Duration::from_millis(backoff * 10)).await;
            backoff *= 2;
        }
    }
}

/// Serves connections on `listener` until `shutdown` completes, then stops accepting, lets every
/// connection answer what it is handling, and returns when all connections are closed.
pub async fn serve(listener: TcpListener, broker: Arc<Broker>, shutdown: impl std::future::Future) {
    let (notify_shutdown, _) = broadcast::channel(1);
    let (shutdown_complete_tx, mut shutdown_complete_rx) = mpsc::channel::<()>(1);
    let cfg = &broker.config;
    let budget_total = cfg
        .queued_max_request_bytes
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let limits = connection::ConnectionLimits {
        max_frame: cfg.socket_request_max_bytes,
        idle: Duration::from_millis(cfg.connections_max_idle_ms),
        budget: Arc::new(Semaphore::new(budget_total)),
        budget_total,
    };
    let mut server = Listener {
        limits,
        listener,
        limit: Arc::new(Semaphore::new(broker.config.max_connections.max(1))),
        broker: broker.clone(),
        notify_shutdown,
        shutdown_complete: shutdown_complete_tx,
    };
    tokio::select! {
        res = server.run() => {
            if let Err(e) = res {
                tracing::error!(error = %e, "accept loop failed");
            }
        }
        _ = shutdown => {
            tracing::info!("shutting down: no new connections");
        }
    }
    broker.begin_shutdown();
    let Listener {
        notify_shutdown,
        shutdown_complete,
        ..
    } = server;
    drop(notify_shutdown);
    drop(shutdown_complete);
    let _ = shutdown_complete_rx.recv().await;
}
