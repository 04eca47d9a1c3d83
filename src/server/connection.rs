//! One client connection: 4-byte length-prefixed frames in, responses out in request order.
//!
//! Requests on a connection are handled one after another, as Kafka does (it mutes a channel
//! until its response is sent); pipelined requests wait, already read, in the buffer. That keeps
//! a producer's in-flight batches in order, which idempotence relies on. Responses are written
//! to a buffered writer and flushed when no further complete request is waiting, so a burst of
//! pipelined requests costs one write.

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, OwnedSemaphorePermit, Semaphore};

use super::{ClientInfo, FrameHandler, Outcome};
use crate::protocol::fetch_frame::{FramePart, ResponseFrame};
use crate::record::FileSlice;

/// Why a connection was closed by the broker.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A length prefix below zero or above `socket.request.max.bytes`; nothing was allocated.
    #[error("frame length {len} outside 0..={max}")]
    BadLength {
        /// The length the client sent.
        len: i32,
        /// The configured limit.
        max: usize,
    },
}

/// Takes one whole frame out of `buf` if it is there. The length is checked against `max`
/// before any space is reserved for the body.
pub fn take_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 || len as usize > max {
        return Err(FrameError::BadLength { len, max });
    }
    let total = 4 + len as usize;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    frame.advance(4);
    Ok(Some(frame.freeze()))
}

/// Limits shared by every connection.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// `socket.request.max.bytes`: largest frame accepted.
    pub max_frame: usize,
    /// `connections.max.idle.ms`: a connection with no request for this long is closed.
    pub idle: std::time::Duration,
    /// `queued.max.request.bytes`: bytes of requests buffered across all connections. A
    /// connection that cannot reserve room for its next frame stops reading its socket until
    /// others finish, so memory is bounded by this budget rather than by the clients.
    pub budget: Arc<Semaphore>,
    /// Total permits of `budget`, so one frame larger than it can still be served alone.
    pub budget_total: usize,
}

/// Serves one connection until the client closes it, it misbehaves, it idles too long, or the
/// broker stops.
pub async fn serve<H: FrameHandler>(
    socket: TcpStream,
    peer: String,
    handler: Arc<H>,
    limits: ConnectionLimits,
    mut shutdown: broadcast::Receiver<()>,
) -> std::io::Result<()> {
    let (mut rd, wr) = socket.into_split();
    // Small buffers: responses are small or go out as file regions, and per-connection
    // buffers of 64 KiB made RSS with 1,000 connections creep up ~5 MiB per round of
    // reconnects as the allocator handed out fresh pages of them (tests/connections.rs).
    let mut wr = BufWriter::with_capacity(8 * 1024, wr);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let client = ClientInfo { peer };
    let mut kicks = handler.kicks();
    let kicked = async |kicks: &mut Option<tokio::sync::watch::Receiver<u64>>| match kicks {
        Some(k) => {
            let _ = k.changed().await;
        }
        None => std::future::pending::<()>().await,
    };
    // Room reserved in the global budget for the frame being read.
    let mut reserved: Option<OwnedSemaphorePermit> = None;
    loop {
        if reserved.is_none() && buf.len() >= 4 {
            let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            if len >= 0 && (len as usize) <= limits.max_frame {
                let want = (len as usize).clamp(1, limits.budget_total) as u32;
                let permit = match limits.budget.clone().try_acquire_many_owned(want) {
                    Ok(p) => p,
                    Err(_) => {
                        tracing::debug!(peer = %client.peer, len, "request budget exhausted; pausing reads");
                        wr.flush().await?;
                        tokio::select! {
                            p = limits.budget.clone().acquire_many_owned(want) => {
                                p.map_err(|_| std::io::Error::other("request budget closed"))?
                            }
                            _ = shutdown.recv() => return Ok(()),
                        }
                    }
                };
                reserved = Some(permit);
            }
        }
        match take_frame(&mut buf, limits.max_frame) {
            Ok(Some(frame)) => {
                let outcome = handler.handle_frame(frame, &client).await;
                reserved = None;
                match outcome {
                    Outcome::Respond(frame) => write_frame(&mut wr, frame).await?,
                    Outcome::NoResponse => {}
                    Outcome::Close => return wr.flush().await,
                }
            }
            Ok(None) => {
                wr.flush().await?;
                tokio::select! {
                    n = rd.read_buf(&mut buf) => {
                        if n? == 0 {
                            if !buf.is_empty() {
                                tracing::info!(peer = %client.peer, pending = buf.len(), "client closed mid-frame");
                            }
                            return Ok(());
                        }
                    }
                    _ = tokio::time::sleep(limits.idle) => {
                        tracing::info!(peer = %client.peer, idle_ms = limits.idle.as_millis() as u64, "closing idle connection (connections.max.idle.ms)");
                        return Ok(());
                    }
                    _ = shutdown.recv() => return Ok(()),
                    _ = kicked(&mut kicks) => {
                        if handler.kicked() {
                            tracing::info!(peer = %client.peer, "closing the connection: its broker went down");
                            return Ok(());
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(peer = %client.peer, error = %e, "refusing frame; closing connection");
                return wr.flush().await;
            }
        }
    }
}

/// Writes a response frame: byte parts through the buffer, file parts straight from the file.
/// An error (a segment shorter than promised, a reset connection) leaves the frame half-sent,
/// so the caller closes the connection.
async fn write_frame(
    wr: &mut BufWriter<OwnedWriteHalf>,
    frame: ResponseFrame,
) -> std::io::Result<()> {
    for part in frame.parts {
        match part {
            FramePart::Bytes(b) => wr.write_all(&b).await?,
            FramePart::File(slice) => {
                wr.flush().await?;
                send_file(wr.get_ref().as_ref(), &slice).await?;
            }
        }
    }
    Ok(())
}

/// Sends a file region with `sendfile(2)`: the kernel moves the bytes from the page cache to
/// the socket, with no copy through this process.
#[cfg(target_os = "linux")]
async fn send_file(socket: &TcpStream, slice: &FileSlice) -> std::io::Result<()> {
    use tokio::io::Interest;
    let Some(file) = &slice.file else {
        return Err(std::io::Error::other("a file region without its file"));
    };
    let mut offset = slice.position;
    let end = slice.position + slice.len as u64;
    while offset < end {
        let want = usize::try_from(end - offset)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        socket.writable().await?;
        let sent = socket.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(socket, &**file, Some(&mut offset), want)
                .map_err(std::io::Error::from)
        });
        match sent {
            Ok(0) => {
                // The file ended inside the region: the log lost bytes it had acknowledged.
                let e = short_file(slice, offset);
                slice.read_failed(&e);
                return Err(e);
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Elsewhere: read the region and write it.
#[cfg(not(target_os = "linux"))]
async fn send_file(socket: &TcpStream, slice: &FileSlice) -> std::io::Result<()> {
    let bytes = slice.read_bytes()?;
    let mut written = 0;
    while written < bytes.len() {
        socket.writable().await?;
        match socket.try_write(&bytes[written..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn short_file(slice: &FileSlice, offset: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        format!(
            "segment file ended at byte {offset}, inside a fetch response region {}..{}",
            slice.position,
            slice.position + slice.len as u64
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_whole_and_bad_frames() {
        let mut b = BytesMut::from(&[0u8, 0, 0, 3, 1, 2][..]);
        assert_eq!(take_frame(&mut b, 100).unwrap(), None);
        b.extend_from_slice(&[3, 0, 0]);
        assert_eq!(
            take_frame(&mut b, 100).unwrap().unwrap(),
            Bytes::from_static(&[1, 2, 3])
        );
        assert_eq!(&b[..], &[0, 0]);
        let mut neg = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert!(take_frame(&mut neg, 100).is_err());
        let mut huge = BytesMut::from(&i32::MAX.to_be_bytes()[..]);
        assert!(take_frame(&mut huge, 100).is_err());
        assert!(
            huge.capacity() < 1024,
            "nothing reserved for a refused frame"
        );
    }
}
