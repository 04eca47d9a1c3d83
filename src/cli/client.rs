//! A small blocking Kafka client for the command line: one `std::net::TcpStream` per broker,
//! requests encoded and answers decoded with the `kafka-protocol` crate, one request in flight
//! per connection.
//!
//! Every connection starts with ApiVersions; each request then goes at the highest version both
//! the broker and this client speak ([`implemented`] caps what the commands were written for).
//! A response frame's length is checked (0 to [`MAX_FRAME`] bytes) before anything is read into
//! memory, and every connection has connect, read and write timeouts, so a broker that stalls or
//! lies about a length gives an error, not a hang or an allocation. Kafka's errors keep Kafka's
//! names (`TOPIC_ALREADY_EXISTS: Topic 'x' already exists.`).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::ResponseError;

/// The largest response frame accepted (Kafka's consumers take 50 MiB fetches by default).
pub const MAX_FRAME: usize = 100 * 1024 * 1024;
/// How long a TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a broker may take to answer one request (Fetch waits at most 0.5 s of it).
pub const READ_TIMEOUT: Duration = Duration::from_secs(45);
/// How long retriable errors (no leader yet, coordinator loading) are retried.
pub const RETRY_FOR: Duration = Duration::from_secs(20);
/// The timeout sent in requests that carry one (CreateTopics, Produce, ...).
pub const BROKER_TIMEOUT_MS: i32 = 30_000;
const CLIENT_ID: &str = "gregor-cli";

/// What went wrong talking to a broker. Kafka's own errors are [`Error::Kafka`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No bootstrap address answered.
    #[error("cannot reach a broker at {bootstrap} ({last}); is it running? (--bootstrap, GREGOR_BOOTSTRAP)")]
    NoBroker {
        /// The addresses tried.
        bootstrap: String,
        /// The last failure.
        last: String,
    },
    /// A TCP connection could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
    /// Reading or writing a connection failed (or timed out).
    #[error("connection to {addr} failed: {source}")]
    Io {
        /// `host:port`.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
    /// A response frame length out of bounds.
    #[error("{addr} sent a frame of {len} bytes (accepted: 0 to {MAX_FRAME})")]
    FrameSize {
        /// `host:port`.
        addr: String,
        /// The length read.
        len: i64,
    },
    /// A request this client could not encode (a bug, or a value that does not fit).
    #[error("cannot encode {api} v{version}: {reason}")]
    Encode {
        /// The API's name.
        api: String,
        /// Its version.
        version: i16,
        /// The encoder's message.
        reason: String,
    },
    /// A response that does not decode.
    #[error("bad {api} v{version} answer from {addr}: {reason}")]
    Decode {
        /// The API's name.
        api: String,
        /// Its version.
        version: i16,
        /// `host:port`.
        addr: String,
        /// The decoder's message.
        reason: String,
    },
    /// The answer belongs to another request.
    #[error("{addr} answered correlation id {got}, expected {want}")]
    Correlation {
        /// `host:port`.
        addr: String,
        /// Received.
        got: i32,
        /// Sent.
        want: i32,
    },
    /// The broker speaks no version of the API this client knows.
    #[error("{addr} does not support {api} at a version this client speaks ({client})")]
    Unsupported {
        /// `host:port`.
        addr: String,
        /// The API's name.
        api: String,
        /// The versions this client speaks.
        client: String,
    },
    /// A Kafka error code in an answer.
    #[error("{}", kafka_message(.error, .message.as_deref(), .what))]
    Kafka {
        /// The error.
        error: ResponseError,
        /// The broker's message, if it sent one.
        message: Option<String>,
        /// What was being done (shown when the broker sent no message).
        what: String,
    },
    /// An answer that decodes but makes no sense (a partition without a leader, a bad batch).
    #[error("{0}")]
    Invalid(String),
    /// A bad argument or input line.
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(io::Error),
    /// Several of the things named failed (topics deleted, groups deleted).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<Error>),
}

fn kafka_message(error: &ResponseError, message: Option<&str>, what: &str) -> String {
    match message.filter(|m| !m.is_empty()) {
        Some(m) => format!("{}: {m}", error_name(*error)),
        None => format!("{} ({what})", error_name(*error)),
    }
}

impl Error {
    /// A Kafka error from a code, `None` for 0.
    pub fn check(
        code: i16,
        message: Option<&StrBytes>,
        what: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        match ResponseError::try_from_code(code) {
            None => Ok(()),
            Some(error) => Err(Error::Kafka {
                error,
                message: message.map(|m| m.as_str().to_string()),
                what: what(),
            }),
        }
    }

    /// `Ok` if `errors` is empty, else the one error or [`Error::Several`].
    pub fn all(mut errors: Vec<Error>) -> Result<(), Error> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Several(errors)),
        }
    }

    /// The Kafka error, if this is one.
    pub fn kafka(&self) -> Option<ResponseError> {
        match self {
            Error::Kafka { error, .. } => Some(*error),
            _ => None,
        }
    }

    /// Worth trying again: a retriable Kafka error (a leader or coordinator moving or loading),
    /// not an unknown topic, which is retriable in Kafka's table but usually just missing.
    pub fn retriable(&self) -> bool {
        match self {
            Error::Kafka { error, .. } => {
                error.is_retriable() && *error != ResponseError::UnknownTopicOrPartition
            }
            _ => false,
        }
    }
}

/// Kafka's name of an error (`TOPIC_ALREADY_EXISTS`), as the metrics spell it.
pub fn error_name(e: ResponseError) -> String {
    crate::metrics::error_name(e.code())
}

/// The API's name for messages.
fn api_name(key: i16) -> String {
    crate::metrics::api_name(key)
}

/// The versions of each API the commands are written for (and tested at), before the
/// crate's own range and the broker's narrow them.
pub fn implemented(key: i16) -> (i16, i16) {
    use ApiKey as K;
    let k = ApiKey::try_from(key).ok();
    match k {
        Some(K::Produce) => (3, 13),
        Some(K::Fetch) => (4, 18),
        Some(K::ListOffsets) => (1, 10),
        Some(K::Metadata) => (4, 13),
        Some(K::OffsetCommit) => (2, 9),
        Some(K::OffsetFetch) => (2, 9),
        Some(K::FindCoordinator) => (0, 6),
        Some(K::DescribeGroups) => (0, 6),
        Some(K::ListGroups) => (0, 5),
        Some(K::CreateTopics) => (2, 7),
        Some(K::DeleteTopics) => (1, 6),
        Some(K::DescribeConfigs) => (1, 4),
        Some(K::DeleteGroups) => (0, 2),
        Some(K::ConsumerGroupDescribe) => (0, 1),
        _ => (0, -1),
    }
}

/// One broker connection.
struct Conn {
    /// `host:port`, for messages.
    addr: String,
    stream: TcpStream,
    /// The next request's correlation id.
    correlation: i32,
    /// The broker's range per API key, from ApiVersions.
    versions: HashMap<i16, (i16, i16)>,
}

impl Conn {
    fn open(addr: &str) -> Result<Conn, Error> {
        let connect = |source| Error::Connect {
            addr: addr.to_string(),
            source,
        };
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(connect)?.collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        let mut stream = None;
        for sa in addrs {
            match TcpStream::connect_timeout(&sa, CONNECT_TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or_else(|| connect(last))?;
        let setup = |s: &TcpStream| -> io::Result<()> {
            s.set_read_timeout(Some(READ_TIMEOUT))?;
            s.set_write_timeout(Some(READ_TIMEOUT))?;
            s.set_nodelay(true)
        };
        setup(&stream).map_err(connect)?;
        let mut conn = Conn {
            addr: addr.to_string(),
            stream,
            correlation: 1,
            versions: HashMap::new(),
        };
        conn.negotiate()?;
        Ok(conn)
    }

    /// ApiVersions v3 (what the Java client sends first), v0 if the broker knows no v3.
    fn negotiate(&mut self) -> Result<(), Error> {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str(CLIENT_ID))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let unsupported = ResponseError::UnsupportedVersion.code();
        let resp = match self.send(&req, 3) {
            Ok(r) if r.error_code != unsupported => r,
            // An older broker answers an unknown version in v0's format.
            Ok(_) | Err(Error::Decode { .. }) => self.send(&ApiVersionsRequest::default(), 0)?,
            Err(e) => return Err(e),
        };
        Error::check(resp.error_code, None, || {
            format!("ApiVersions to {}", self.addr)
        })?;
        self.versions = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(())
    }

    /// The version to send `R` at, if the broker and this client share one.
    fn version<R: Request>(&self) -> Result<i16, Error> {
        let (lo, hi) = implemented(R::KEY);
        let (lo, hi) = (lo.max(R::VERSIONS.min), hi.min(R::VERSIONS.max));
        let shared = self
            .versions
            .get(&R::KEY)
            .map(|&(bmin, bmax)| (lo.max(bmin), hi.min(bmax)))
            .filter(|(a, b)| a <= b);
        match shared {
            Some((_, v)) => Ok(v),
            None => Err(Error::Unsupported {
                addr: self.addr.clone(),
                api: api_name(R::KEY),
                client: format!("v{lo}-v{hi}"),
            }),
        }
    }

    fn io(&self, source: io::Error) -> Error {
        Error::Io {
            addr: self.addr.clone(),
            source,
        }
    }

    /// One request and its answer.
    fn send<R: Request>(&mut self, req: &R, version: i16) -> Result<R::Response, Error> {
        let api = || api_name(R::KEY);
        let encode = |e: anyhow::Error| Error::Encode {
            api: api(),
            version,
            reason: e.to_string(),
        };
        let correlation = self.correlation;
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation)
            .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0; 4]);
        header
            .encode(&mut buf, R::header_version(version))
            .map_err(encode)?;
        req.encode(&mut buf, version).map_err(encode)?;
        let len = i32::try_from(buf.len() - 4).map_err(|_| Error::Encode {
            api: api(),
            version,
            reason: format!("a request of {} bytes", buf.len()),
        })?;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).map_err(|e| self.io(e))?;
        let mut frame = self.read_frame()?;
        let decode = |e: anyhow::Error, addr: &str| Error::Decode {
            api: api(),
            version,
            addr: addr.to_string(),
            reason: e.to_string(),
        };
        let h = ResponseHeader::decode(&mut frame, R::Response::header_version(version))
            .map_err(|e| decode(e, &self.addr))?;
        if h.correlation_id != correlation {
            return Err(Error::Correlation {
                addr: self.addr.clone(),
                got: h.correlation_id,
                want: correlation,
            });
        }
        R::Response::decode(&mut frame, version).map_err(|e| decode(e, &self.addr))
    }

    /// One response frame: the length is checked before anything is read.
    fn read_frame(&mut self) -> Result<Bytes, Error> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(|e| self.io(e))?;
        let len = i32::from_be_bytes(len);
        let n = usize::try_from(len)
            .ok()
            .filter(|&n| n <= MAX_FRAME)
            .ok_or_else(|| Error::FrameSize {
                addr: self.addr.clone(),
                len: i64::from(len),
            })?;
        // Grows as bytes arrive: a broker that announces 100 MiB and sends 10 costs 10.
        let mut body = Vec::new();
        (&mut self.stream)
            .take(n as u64)
            .read_to_end(&mut body)
            .map_err(|e| self.io(e))?;
        if body.len() != n {
            return Err(self.io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the frame ended after {} of {n} bytes", body.len()),
            )));
        }
        Ok(Bytes::from(body))
    }
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    /// Any broker (the bootstrap connection, or one already open).
    Any,
    /// This node id (its address from Metadata or FindCoordinator).
    Node(i32),
}

/// Runs `f` until it succeeds, fails with an error that is not [retriable](Error::retriable),
/// or [`RETRY_FOR`] has passed; backs off from 50 ms to 1 s between tries.
pub fn retry<T>(mut f: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let start = Instant::now();
    let mut backoff = Duration::from_millis(50);
    loop {
        match f() {
            Err(e) if e.retriable() && start.elapsed() + backoff < RETRY_FOR => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// A blocking client for a cluster: a bootstrap connection, then one per broker used.
pub struct Client {
    /// The bootstrap addresses, for messages.
    bootstrap: String,
    /// The first bootstrap address that answered (its node id is not known).
    boot: Conn,
    /// Connections by node id.
    conns: HashMap<i32, Conn>,
    /// Broker addresses by node id, from Metadata and FindCoordinator.
    addrs: HashMap<i32, String>,
}

impl Client {
    /// Connects to the first of the comma-separated `host:port` addresses that answers.
    pub fn connect(bootstrap: &str) -> Result<Client, Error> {
        let mut last = "no address given".to_string();
        for addr in bootstrap
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match Conn::open(addr) {
                Ok(boot) => {
                    return Ok(Client {
                        bootstrap: bootstrap.to_string(),
                        boot,
                        conns: HashMap::new(),
                        addrs: HashMap::new(),
                    })
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(Error::NoBroker {
            bootstrap: bootstrap.to_string(),
            last,
        })
    }

    fn conn(&mut self, to: To) -> Result<&mut Conn, Error> {
        let id = match to {
            To::Any => return Ok(&mut self.boot),
            To::Node(id) => id,
        };
        if !self.conns.contains_key(&id) {
            let addr = self.addrs.get(&id).cloned().ok_or_else(|| {
                Error::Invalid(format!(
                    "no address known for broker {id} (bootstrap {})",
                    self.bootstrap
                ))
            })?;
            let c = Conn::open(&addr)?;
            self.conns.insert(id, c);
        }
        self.conns
            .get_mut(&id)
            .ok_or_else(|| Error::Invalid(format!("broker {id} has no connection")))
    }

    /// Learns (or updates) a broker's address.
    pub fn add_broker(&mut self, id: i32, addr: String) {
        if self.addrs.get(&id) != Some(&addr) {
            self.conns.remove(&id);
            self.addrs.insert(id, addr);
        }
    }

    /// The version `R` would go at to `to`, `None` if the broker speaks none this client does.
    pub fn version<R: Request>(&mut self, to: To) -> Result<Option<i16>, Error> {
        match self.conn(to)?.version::<R>() {
            Ok(v) => Ok(Some(v)),
            Err(Error::Unsupported { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends the request `build` makes for the negotiated version; returns the version and the
    /// answer. A failed connection is dropped (the next call reconnects).
    pub fn call<R: Request>(
        &mut self,
        to: To,
        build: impl FnOnce(i16) -> R,
    ) -> Result<(i16, R::Response), Error> {
        let conn = self.conn(to)?;
        let v = conn.version::<R>()?;
        let req = build(v);
        match conn.send(&req, v) {
            Ok(r) => Ok((v, r)),
            Err(e) => {
                if let (Error::Io { .. } | Error::Correlation { .. }, To::Node(id)) = (&e, to) {
                    self.conns.remove(&id);
                }
                Err(e)
            }
        }
    }

    /// The node ids of the brokers Metadata listed.
    pub fn known_brokers(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self.addrs.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_read_like_kafka() {
        assert_eq!(
            error_name(ResponseError::TopicAlreadyExists),
            "TOPIC_ALREADY_EXISTS"
        );
        assert_eq!(
            error_name(ResponseError::InvalidTopicException),
            "INVALID_TOPIC_EXCEPTION"
        );
        assert_eq!(
            error_name(ResponseError::Unknown(999)),
            "UNKNOWN_ERROR_CODE_999"
        );
        let e = Error::check(
            36,
            Some(&StrBytes::from_static_str("Topic 'x' already exists.")),
            || "create".into(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "TOPIC_ALREADY_EXISTS: Topic 'x' already exists."
        );
        let e = Error::check(3, None, || "topic 'y'".into()).unwrap_err();
        assert_eq!(e.to_string(), "UNKNOWN_TOPIC_OR_PARTITION (topic 'y')");
        assert!(!e.retriable());
        assert!(Error::check(5, None, String::new).unwrap_err().retriable());
        assert!(Error::check(0, None, String::new).is_ok());
    }

    #[test]
    fn a_frame_length_out_of_bounds_is_refused_before_reading() {
        use std::net::TcpListener;
        for len in [-1i32, (MAX_FRAME + 1) as i32] {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap().to_string();
            let server = std::thread::spawn(move || {
                let (mut s, _) = l.accept().unwrap();
                let mut req = [0u8; 4];
                s.read_exact(&mut req).unwrap();
                s.write_all(&len.to_be_bytes()).unwrap();
                s
            });
            let err = match Conn::open(&addr) {
                Err(e) => e,
                Ok(_) => panic!("a bad frame length was accepted"),
            };
            assert!(
                matches!(err, Error::FrameSize { len: l, .. } if l == i64::from(len)),
                "{err}"
            );
            drop(server.join());
        }
    }
}
