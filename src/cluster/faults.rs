//! Fault injection: rules that make chosen requests fail, wait, hang, lose their response or
//! lose their connection, driven by users (`gregor ctl fault ...`, the HTTP admin endpoint,
//! `--faults faults.toml`, the Rust API) and by Gregor's own tests.
//!
//! A rule is plain data ([`FaultSpec`]): a matcher (API key, version range, client id, broker,
//! topic, partition), an action, and how many times it fires (`times`, default 1, or
//! `always`). Rules are kept in the order they were added; for each request the first rule
//! that matches and has firings left fires (count-based FIFO, as franz-go's `kfake` controls
//! and librdkafka's mock cluster `push_request_errors`). A rule that has no firings left stays
//! listed, with its hits, until it is removed, so a test can wait for it.
//!
//! Where rules are asked, all at the one dispatch point ([`crate::broker`]):
//! - [`Faults::before`] once per request, before it is handled: errors for the whole request,
//!   delays, disconnects, hangs and lost responses. A rule with a topic or partition matches a
//!   request that names that topic or partition.
//! - [`Faults::partition_error`] per partition by the handlers that answer per partition
//!   (Produce, Fetch, ListOffsets): an error rule with a topic or partition matcher for those
//!   APIs fails only the matching partitions, once per partition; the others are served.
//!
//! Every firing is logged with the rule's id and text.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::log::FsOp;

/// A rule as users write it (JSON on the admin endpoint, TOML in a faults file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// API name (`produce`, `Fetch`, `offset_commit`, `OffsetCommit`) or key number; `disk`
    /// for a rule that fails the log's file operations (with `action = "error"` and an OS
    /// error in `error`: `ENOSPC`, `EIO`, ...).
    pub api: String,
    /// Lowest API version matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<i16>,
    /// Highest API version matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<i16>,
    /// Only requests with this client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Only requests to this broker (node id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<i32>,
    /// Only requests naming this topic (for Produce, Fetch and ListOffsets errors: only its
    /// partitions fail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Only this partition (of `topic`, or of any topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// For `disk`: only this file operation (`write`, `sync`, `create`, `open`, `rename`,
    /// `remove`, `set-len`, `create-dir`); default every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// `error`, `lose-response`, `delay`, `disconnect` or `hang`.
    pub action: String,
    /// For `error`: Kafka's name (`NOT_ENOUGH_REPLICAS`) or code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `delay`: milliseconds before the request is handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Firings before the rule is spent; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Fire on every match, never spent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub always: bool,
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this error without doing the work: the whole request (every partition of
    /// it, or its top-level error code), or the matching partitions.
    Error(ResponseError),
    /// Do the work, then close the connection instead of answering (a lost response).
    LoseResponse,
    /// Wait this long, then handle the request.
    Delay(Duration),
    /// Close the connection without handling the request.
    Disconnect,
    /// Never answer (until the connection closes or the broker stops).
    Hang,
    /// Fail a file operation of the log with this OS error (a `disk` rule): the log
    /// directory goes offline, as on a real disk error.
    DiskError(i32),
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultSpecError {
    /// The API is not a Kafka API name or key.
    #[error("unknown API {0:?} (a Kafka API name such as produce or OffsetCommit, or its key)")]
    UnknownApi(String),
    /// The action is not one of the five.
    #[error("unknown action {0:?} (error, lose-response, delay, disconnect or hang)")]
    UnknownAction(String),
    /// `error` without a valid error.
    #[error("unknown error {0:?} (a Kafka error name such as NOT_ENOUGH_REPLICAS, or its code)")]
    UnknownError(String),
    /// An action's required field is missing.
    #[error("action {action} needs {field}")]
    Missing {
        /// The action.
        action: &'static str,
        /// The field it needs.
        field: &'static str,
    },
    /// `times` of 0, or `times` with `always`.
    #[error("times must be at least 1, and not given with always")]
    BadTimes,
    /// A version range that matches nothing.
    #[error("min_version {0} is above max_version {1}")]
    BadVersions(i16, i16),
    /// An error rule for an API whose answer Gregor cannot build as an error.
    #[error("{0:?} cannot answer an injected error; use delay, disconnect, hang or lose-response")]
    ErrorNotSupported(ApiKey),
    /// A `disk` rule that is not `error` with a known OS error, or an `op` elsewhere.
    #[error("{0}")]
    BadDisk(String),
    /// A delay beyond the limit.
    #[error("a delay of {0} ms is over the 10-minute limit")]
    DelayTooLong(u64),
}

/// A rule as stored: its spec, parsed, with its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Id, assigned when added (from 1).
    pub id: u64,
    /// The spec it was made from.
    pub spec: FaultSpec,
    /// The API matched; `None` for a `disk` rule.
    pub api: Option<ApiKey>,
    /// For a `disk` rule: the file operation matched (`None`: any).
    pub op: Option<FsOp>,
    /// What it does.
    pub action: FaultAction,
    /// Firings left; `None`: always.
    pub remaining: Option<u32>,
    /// Times it fired.
    pub hits: u64,
}

/// The APIs whose error answer the dispatch point can build (see
/// `crate::broker::fault_response`); an error rule for another API is refused.
pub type ErrorSupport = fn(ApiKey) -> bool;

/// The APIs whose handlers ask [`Faults::partition_error`] per partition.
pub const PARTITION_SCOPED: &[ApiKey] = &[ApiKey::Produce, ApiKey::Fetch, ApiKey::ListOffsets];

impl FaultRule {
    /// Parses a spec; `supports_error` says which APIs can answer an injected error.
    pub fn parse(
        spec: FaultSpec,
        supports_error: ErrorSupport,
    ) -> Result<FaultRule, FaultSpecError> {
        if spec.api.trim().eq_ignore_ascii_case("disk") {
            return Self::parse_disk(spec);
        }
        if spec.op.is_some() {
            return Err(FaultSpecError::BadDisk("op is for disk rules only".into()));
        }
        let api =
            parse_api(&spec.api).ok_or_else(|| FaultSpecError::UnknownApi(spec.api.clone()))?;
        if let (Some(lo), Some(hi)) = (spec.min_version, spec.max_version) {
            if lo > hi {
                return Err(FaultSpecError::BadVersions(lo, hi));
            }
        }
        let action = match spec.action.to_ascii_lowercase().replace('_', "-").as_str() {
            "error" => {
                let name = spec.error.as_deref().ok_or(FaultSpecError::Missing {
                    action: "error",
                    field: "error",
                })?;
                let e = parse_error(name)
                    .ok_or_else(|| FaultSpecError::UnknownError(name.to_string()))?;
                if !supports_error(api) {
                    return Err(FaultSpecError::ErrorNotSupported(api));
                }
                FaultAction::Error(e)
            }
            "lose-response" => FaultAction::LoseResponse,
            "delay" => {
                let ms = spec.delay_ms.ok_or(FaultSpecError::Missing {
                    action: "delay",
                    field: "delay_ms",
                })?;
                if ms > 600_000 {
                    return Err(FaultSpecError::DelayTooLong(ms));
                }
                FaultAction::Delay(Duration::from_millis(ms))
            }
            "disconnect" => FaultAction::Disconnect,
            "hang" => FaultAction::Hang,
            _ => return Err(FaultSpecError::UnknownAction(spec.action.clone())),
        };
        Ok(FaultRule {
            id: 0,
            remaining: parse_times(&spec)?,
            spec,
            api: Some(api),
            op: None,
            action,
            hits: 0,
        })
    }

    fn parse_disk(spec: FaultSpec) -> Result<FaultRule, FaultSpecError> {
        if !spec.action.eq_ignore_ascii_case("error") {
            return Err(FaultSpecError::BadDisk(format!(
                "a disk rule's action is error (with an OS error such as ENOSPC or EIO), not {:?}",
                spec.action
            )));
        }
        let name = spec.error.as_deref().ok_or(FaultSpecError::Missing {
            action: "error",
            field: "error",
        })?;
        let errno = parse_errno(name).ok_or_else(|| {
            FaultSpecError::BadDisk(format!(
                "unknown OS error {name:?} (ENOSPC, EIO, EROFS, ENOENT, EMFILE, EACCES, EDQUOT or a number)"
            ))
        })?;
        let op = match spec.op.as_deref() {
            None => None,
            Some(o) => Some(parse_op(o).ok_or_else(|| {
                FaultSpecError::BadDisk(format!(
                    "unknown file operation {o:?} (write, sync, create, open, rename, remove, set-len, create-dir)"
                ))
            })?),
        };
        if spec.min_version.is_some()
            || spec.max_version.is_some()
            || spec.client_id.is_some()
            || spec.broker.is_some()
        {
            return Err(FaultSpecError::BadDisk(
                "a disk rule matches topic, partition and op only".into(),
            ));
        }
        Ok(FaultRule {
            id: 0,
            remaining: parse_times(&spec)?,
            spec,
            api: None,
            op,
            action: FaultAction::DiskError(errno),
            hits: 0,
        })
    }

    /// Whether this rule fails single partitions (inside the handler) rather than whole
    /// requests.
    pub fn partition_scoped(&self) -> bool {
        matches!(self.action, FaultAction::Error(_))
            && (self.spec.topic.is_some() || self.spec.partition.is_some())
            && self.api.is_some_and(|a| PARTITION_SCOPED.contains(&a))
    }

    fn matches_request(&self, req: &RequestFacts<'_>) -> bool {
        let s = &self.spec;
        self.api == Some(req.api)
            && s.min_version.is_none_or(|v| req.version >= v)
            && s.max_version.is_none_or(|v| req.version <= v)
            && s.client_id.as_deref().is_none_or(|c| c == req.client_id)
            && s.broker.is_none_or(|b| b == req.broker)
    }

    fn matches_partition(&self, topic: &str, partition: Option<i32>) -> bool {
        self.spec.topic.as_deref().is_none_or(|t| t == topic)
            && self
                .spec
                .partition
                .is_none_or(|p| partition.is_none_or(|q| p == q))
    }

    /// A one-line description for logs and `gregor ctl fault list`.
    pub fn describe(&self) -> String {
        let s = &self.spec;
        let mut out = match self.api {
            Some(a) => format!("{a:?}"),
            None => "disk".to_string(),
        };
        if let Some(o) = &s.op {
            out.push_str(&format!(" op={o}"));
        }
        match (s.min_version, s.max_version) {
            (None, None) => {}
            (lo, hi) => out.push_str(&format!(
                " v{}-{}",
                lo.map_or(String::new(), |v| v.to_string()),
                hi.map_or(String::new(), |v| v.to_string())
            )),
        }
        if let Some(c) = &s.client_id {
            out.push_str(&format!(" client.id={c}"));
        }
        if let Some(b) = s.broker {
            out.push_str(&format!(" broker={b}"));
        }
        if let Some(t) = &s.topic {
            out.push_str(&format!(" topic={t}"));
        }
        if let Some(p) = s.partition {
            out.push_str(&format!(" partition={p}"));
        }
        out.push_str(&match self.action {
            FaultAction::Error(e) => format!(" -> error {}", error_name(e)),
            FaultAction::LoseResponse => " -> lose-response".to_string(),
            FaultAction::Delay(d) => format!(" -> delay {} ms", d.as_millis()),
            FaultAction::Disconnect => " -> disconnect".to_string(),
            FaultAction::Hang => " -> hang".to_string(),
            FaultAction::DiskError(e) => format!(" -> {}", std::io::Error::from_raw_os_error(e)),
        });
        out
    }
}

/// What the dispatch point knows of a request when it asks the rules.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// API key.
    pub api: ApiKey,
    /// API version.
    pub version: i16,
    /// Header client id.
    pub client_id: &'a str,
    /// The broker (node id) it was sent to.
    pub broker: i32,
    /// The topics and partitions it names (`None`: a whole topic).
    pub partitions: &'a [(String, Option<i32>)],
}

/// The active rules, shared by every node of the cluster.
#[derive(Debug)]
pub struct Faults {
    inner: Mutex<Inner>,
    /// Bumped on every firing and change, for [`Faults::wait`].
    changed: watch::Sender<u64>,
    /// Which APIs can answer an injected error.
    supports_error: ErrorSupport,
    /// What kinds of live rules exist, read without the lock on every request and every file
    /// operation (kept up to date under the lock).
    flags: Flags,
}

#[derive(Debug, Default)]
struct Flags {
    /// A rule has firings left.
    live: AtomicBool,
    /// A live rule looks at topics or partitions.
    topic: AtomicBool,
    /// A live `disk` rule exists.
    disk: AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    rules: Vec<FaultRule>,
    next_id: u64,
}

/// `times` and `always` as firings left (`None`: always).
fn parse_times(s: &FaultSpec) -> Result<Option<u32>, FaultSpecError> {
    match (s.times, s.always) {
        (Some(0), _) | (Some(_), true) => Err(FaultSpecError::BadTimes),
        (_, true) => Ok(None),
        (t, false) => Ok(Some(t.unwrap_or(1))),
    }
}

impl Inner {
    fn recompute(&self, flags: &Flags) {
        let live = || self.rules.iter().filter(|r| r.remaining != Some(0));
        flags.live.store(live().next().is_some(), Ordering::Relaxed);
        flags
            .disk
            .store(live().any(|r| r.api.is_none()), Ordering::Relaxed);
        flags.topic.store(
            live().any(|r| r.spec.topic.is_some() || r.spec.partition.is_some()),
            Ordering::Relaxed,
        );
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(|_| true)
    }
}

/// Takes one firing of `r`, logging it.
fn fire(r: &mut FaultRule, changed: &watch::Sender<u64>) -> FaultAction {
    r.hits += 1;
    if let Some(n) = r.remaining.as_mut() {
        *n -= 1;
    }
    changed.send_modify(|n| *n = n.wrapping_add(1));
    tracing::warn!(rule = r.id, fault = %r.describe(), hits = r.hits, "fault injection: rule fired");
    r.action
}

impl Faults {
    /// No rules; `supports_error` says which APIs can answer an injected error.
    pub fn new(supports_error: ErrorSupport) -> Faults {
        Faults {
            inner: Mutex::new(Inner {
                next_id: 1,
                ..Inner::default()
            }),
            changed: watch::channel(0).0,
            supports_error,
            flags: Flags::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Parses and adds a rule; returns it with its id.
    pub fn add(&self, spec: FaultSpec) -> Result<FaultRule, FaultSpecError> {
        let mut rule = FaultRule::parse(spec, self.supports_error)?;
        let mut inner = self.lock();
        rule.id = inner.next_id;
        inner.next_id += 1;
        inner.rules.push(rule.clone());
        inner.recompute(&self.flags);
        drop(inner);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        let times = rule
            .remaining
            .map_or("always".to_string(), |n| n.to_string());
        tracing::info!(rule = rule.id, fault = %rule.describe(), times = %times, "fault rule added");
        Ok(rule)
    }

    /// Parses every spec first, then adds them all, or none if one is bad.
    pub fn add_all(
        &self,
        specs: Vec<FaultSpec>,
    ) -> Result<Vec<FaultRule>, (usize, FaultSpecError)> {
        for (i, s) in specs.iter().enumerate() {
            FaultRule::parse(s.clone(), self.supports_error).map_err(|e| (i, e))?;
        }
        Ok(specs.into_iter().filter_map(|s| self.add(s).ok()).collect())
    }

    /// Removes one rule; false if there was none with that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let before = inner.rules.len();
        inner.rules.retain(|r| r.id != id);
        let removed = inner.rules.len() != before;
        inner.recompute(&self.flags);
        drop(inner);
        if removed {
            self.changed.send_modify(|n| *n = n.wrapping_add(1));
            tracing::info!(rule = id, "fault rule removed");
        }
        removed
    }

    /// Removes every rule.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.rules.clear();
        inner.recompute(&self.flags);
        drop(inner);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        tracing::info!("fault rules cleared");
    }

    /// Every rule, spent ones included, in the order they were added.
    pub fn list(&self) -> Vec<FaultRule> {
        self.lock().rules.clone()
    }

    /// A receiver that changes on every firing and every change of the rules.
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// One rule.
    pub fn get(&self, id: u64) -> Option<FaultRule> {
        self.lock().rules.iter().find(|r| r.id == id).cloned()
    }

    /// Whether any rule could still fire (the dispatch point skips everything else if not).
    pub fn any_live(&self) -> bool {
        self.flags.live.load(Ordering::Relaxed)
    }

    /// Whether any rule with firings left looks at topics or partitions (the dispatch point
    /// only then lists a request's partitions).
    pub fn any_topic_rule(&self) -> bool {
        self.flags.topic.load(Ordering::Relaxed)
    }

    /// The request-level rule that fires for this request, if any: takes one firing.
    pub fn before(&self, req: &RequestFacts<'_>) -> Option<(u64, FaultAction)> {
        let mut inner = self.lock();
        if !self.any_live() {
            return None;
        }
        let hit = inner.rules.iter_mut().find(|r| {
            r.remaining != Some(0)
                && r.api.is_some()
                && !r.partition_scoped()
                && r.matches_request(req)
                && (r.spec.topic.is_none() && r.spec.partition.is_none()
                    || req
                        .partitions
                        .iter()
                        .any(|(t, p)| r.matches_partition(t, *p)))
        })?;
        let out = (hit.id, fire(hit, &self.changed));
        inner.recompute(&self.flags);
        Some(out)
    }

    /// An injected error for one partition of a request, and the rule's id, if a
    /// partition-scoped rule says so: takes one firing.
    pub fn partition_error(
        &self,
        req: &RequestFacts<'_>,
        topic: &str,
        partition: i32,
    ) -> Option<(u64, ResponseError)> {
        let mut inner = self.lock();
        if !self.any_live() {
            return None;
        }
        let hit = inner.rules.iter_mut().find(|r| {
            r.remaining != Some(0)
                && r.partition_scoped()
                && r.matches_request(req)
                && r.matches_partition(topic, Some(partition))
        })?;
        let id = hit.id;
        let action = fire(hit, &self.changed);
        inner.recompute(&self.flags);
        match action {
            FaultAction::Error(e) => Some((id, e)),
            _ => None,
        }
    }

    /// The OS error a `disk` rule injects into file operation `op` on `path` (a file of a
    /// partition directory `<topic>-<partition>`, or another file of the data directory), if
    /// one matches: takes one firing.
    pub fn disk_error(&self, op: FsOp, path: &Path) -> Option<i32> {
        if !self.flags.disk.load(Ordering::Relaxed) {
            return None;
        }
        let partition = path.components().rev().find_map(|c| {
            let name = c.as_os_str().to_str()?;
            let (t, p) = name.rsplit_once('-')?;
            Some((t.to_string(), p.parse::<i32>().ok()?))
        });
        let mut inner = self.lock();
        let hit = inner.rules.iter_mut().find(|r| {
            r.remaining != Some(0)
                && r.api.is_none()
                && r.op.is_none_or(|o| o == op)
                && match &partition {
                    Some((t, p)) => r.matches_partition(t, Some(*p)),
                    None => r.spec.topic.is_none() && r.spec.partition.is_none(),
                }
        })?;
        let id = hit.id;
        let action = fire(hit, &self.changed);
        inner.recompute(&self.flags);
        tracing::error!(rule = id, path = %path.display(), ?op, "fault injection: failing a file operation");
        match action {
            FaultAction::DiskError(e) => Some(e),
            _ => None,
        }
    }

    /// Waits until rule `id` has fired at least `hits` times; `None` if it was removed (or
    /// never existed), or `timeout` passed first (then the rule as it is).
    pub async fn wait(self: &Arc<Self>, id: u64, hits: u64, timeout: Duration) -> WaitOutcome {
        let mut rx = self.changed.subscribe();
        let now = tokio::time::Instant::now();
        let deadline = now
            .checked_add(timeout)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        loop {
            rx.borrow_and_update();
            match self.get(id) {
                None => return WaitOutcome::Gone,
                Some(r) if r.hits >= hits => return WaitOutcome::Reached(r),
                Some(r) => {
                    tokio::select! {
                        _ = rx.changed() => {}
                        _ = tokio::time::sleep_until(deadline) => return WaitOutcome::TimedOut(r),
                    }
                }
            }
        }
    }
}

/// What [`Faults::wait`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The rule reached the hits asked for.
    Reached(FaultRule),
    /// The time ran out; the rule as it was.
    TimedOut(FaultRule),
    /// No such rule.
    Gone,
}

/// The rules of a faults file (`--faults faults.toml`): a `[[fault]]` table per rule, with
/// the fields of [`FaultSpec`].
pub fn parse_faults_file(text: &str) -> Result<Vec<FaultSpec>, toml::de::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        fault: Vec<FaultSpec>,
    }
    toml::from_str::<File>(text).map(|f| f.fault)
}

/// An API by name (`produce`, `Produce`, `offset_commit`, `OffsetCommit`, `offset-commit`) or
/// key number.
pub fn parse_api(s: &str) -> Option<ApiKey> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i16>() {
        return ApiKey::try_from(n).ok();
    }
    let want: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    (0..=i16::MAX)
        .take(200)
        .filter_map(|k| ApiKey::try_from(k).ok())
        .find(|k| format!("{k:?}").to_ascii_lowercase() == want)
}

/// A file operation by name (`write`, `set-len`, ...).
pub fn parse_op(s: &str) -> Option<FsOp> {
    Some(
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "create" => FsOp::Create,
            "open" => FsOp::Open,
            "write" => FsOp::Write,
            "set-len" => FsOp::SetLen,
            "sync" => FsOp::Sync,
            "rename" => FsOp::Rename,
            "remove" => FsOp::Remove,
            "create-dir" => FsOp::CreateDir,
            _ => return None,
        },
    )
}

/// An OS error by name (`ENOSPC`) or number.
pub fn parse_errno(s: &str) -> Option<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return (1..4096).contains(&n).then_some(n);
    }
    Some(match s.to_ascii_uppercase().as_str() {
        "ENOSPC" => 28,
        "EIO" => 5,
        "EROFS" => 30,
        "ENOENT" => 2,
        "EMFILE" => 24,
        "EACCES" => 13,
        "EDQUOT" => 122,
        _ => return None,
    })
}

/// A Kafka error by name (`NOT_ENOUGH_REPLICAS`, case and `-`/`_` ignored) or code.
pub fn parse_error(s: &str) -> Option<ResponseError> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i16>() {
        return ResponseError::try_from_code(n).filter(|e| !matches!(e, ResponseError::Unknown(_)));
    }
    let want: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    (-1..=200)
        .filter_map(ResponseError::try_from_code)
        .find(|e| format!("{e:?}").to_ascii_lowercase() == want)
}

/// Kafka's name of an error (`NOT_ENOUGH_REPLICAS`).
pub fn error_name(e: ResponseError) -> String {
    let mut out = String::new();
    for (i, c) in format!("{e:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

mod disk;
pub use disk::{DiskRules, RuleFileSystem};

#[cfg(test)]
mod tests;
