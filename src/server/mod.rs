//! Accept loop, connections and graceful shutdown (the mini-redis shape): a `Semaphore` bounds
//! connections, `accept` retries with backoff, a `broadcast` says "please stop", and each
//! connection task holds an `mpsc` sender whose drop means "done". Knows only frames: each one
//! goes to a [`FrameHandler`] (the broker's dispatch point), whose [`Outcome`] says what to send.

pub mod connection;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, Semaphore};

use crate::protocol::fetch_frame::ResponseFrame;

/// What the connection should do with a frame's outcome.
#[derive(Debug)]
pub enum Outcome {
    /// Write this response frame (length prefix included; Fetch records may be file regions).
    Respond(ResponseFrame),
    /// Send nothing (Produce with acks=0).
    NoResponse,
    /// Close the connection; the reason has been logged.
    Close,
}

/// Who sent a frame, for logs and per-client state.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Peer address, as text.
    pub peer: String,
}

/// What serves the frames of a listener's connections.
pub trait FrameHandler: Send + Sync + 'static {
    /// Handles one request frame (without its length prefix).
    fn handle_frame(
        &self,
        frame: Bytes,
        client: &ClientInfo,
    ) -> impl Future<Output = Outcome> + Send;

    /// The listener stopped accepting: requests parked waiting for something should answer
    /// now, so connections can drain.
    fn shutting_down(&self);

    /// A receiver that changes when open connections should ask [`FrameHandler::kicked`]
    /// whether to close (a virtual broker going down); `None`: never.
    fn kicks(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Whether open connections should close now.
    fn kicked(&self) -> bool {
        false
    }

    /// A connection was accepted (`true`) or has closed (`false`), for the metrics.
    fn connection(&self, _opened: bool) {}
}

/// Tells the handler a connection opened, and that it closed when dropped (however the
/// connection's task ends).
struct OpenConnection<H: FrameHandler>(Arc<H>);

impl<H: FrameHandler> OpenConnection<H> {
    fn new(handler: Arc<H>) -> Self {
        handler.connection(true);
        OpenConnection(handler)
    }
}

impl<H: FrameHandler> Drop for OpenConnection<H> {
    fn drop(&mut self) {
        self.0.connection(false);
    }
}

/// Per-listener limits: connections, frame size, idle time, buffered request bytes.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// `max.connections`.
    pub max_connections: usize,
    /// `socket.request.max.bytes`.
    pub max_frame: usize,
    /// `connections.max.idle.ms`.
    pub idle: Duration,
    /// `queued.max.request.bytes`.
    pub queued_max_request_bytes: usize,
}

/// The accept loop's state.
struct Listener<H: FrameHandler> {
    /// Bound listening socket.
    listener: TcpListener,
    /// What serves every connection's frames.
    handler: Arc<H>,
    /// One permit per open connection (`max.connections`).
    limit: Arc<Semaphore>,
    /// Sends the "please stop" signal to connections.
    notify_shutdown: broadcast::Sender<()>,
    /// Cloned into each connection; when all clones drop, every connection has finished.
    shutdown_complete: mpsc::Sender<()>,
    /// Frame size, idle and buffered-bytes limits shared by all connections.
    limits: connection::ConnectionLimits,
}

impl<H: FrameHandler> Listener<H> {
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
            let handler = self.handler.clone();
            let shutdown = self.notify_shutdown.subscribe();
            let done = self.shutdown_complete.clone();
            let limits = self.limits.clone();
            let open = OpenConnection::new(handler.clone());
            tokio::spawn(async move {
                let span = tracing::debug_span!("connection", peer = %peer);
                let _ = tracing::Instrument::instrument(
                    connection::serve(socket, peer, handler, limits, shutdown),
                    span,
                )
                .await;
                drop(open);
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
pub async fn serve<H: FrameHandler>(
    listener: TcpListener,
    handler: Arc<H>,
    limits: ServeLimits,
    shutdown: impl Future,
) {
    let (notify_shutdown, _) = broadcast::channel(1);
    let (shutdown_complete_tx, mut shutdown_complete_rx) = mpsc::channel::<()>(1);
    let budget_total = limits
        .queued_max_request_bytes
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let connection_limits = connection::ConnectionLimits {
        max_frame: limits.max_frame,
        idle: limits.idle,
        budget: Arc::new(Semaphore::new(budget_total)),
        budget_total,
    };
    let mut server = Listener {
        limits: connection_limits,
        listener,
        limit: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        handler: handler.clone(),
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
    handler.shutting_down();
    let Listener {
        notify_shutdown,
        shutdown_complete,
        ..
    } = server;
    drop(notify_shutdown);
    drop(shutdown_complete);
    let _ = shutdown_complete_rx.recv().await;
}
