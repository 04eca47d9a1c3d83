//! `gregor ctl`: drives a running Gregor through its HTTP admin endpoint (see
//! [`crate::admin`]): fault rules, leader and coordinator moves, brokers down and up, the
//! request log. A leaf: it knows only the endpoint's JSON, so it speaks to any Gregor
//! version with the same paths.
//!
//! ```text
//! gregor ctl fault add produce --topic orders --lose-response
//! gregor ctl fault wait 1
//! gregor ctl move-leader orders 2 --to 3
//! gregor ctl broker down 2
//! gregor ctl requests --limit 20
//! ```

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

/// The binary's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive a running Gregor: faults, leader moves, brokers down and up, the request log.
    Ctl(Ctl),
}

/// `gregor ctl` and its options.
#[derive(Debug, Args)]
pub struct Ctl {
    /// The broker's admin endpoint (its `--admin`).
    #[arg(
        long,
        env = "GREGOR_ADMIN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub admin: String,
    /// Output: a readable table, or the endpoint's JSON.
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: Format,
    /// What to do.
    #[command(subcommand)]
    pub what: CtlCommand,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for people.
    Table,
    /// JSON, as the endpoint answered.
    Json,
}

/// `gregor ctl` subcommands.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// The brokers, up or down, and the controller.
    Cluster,
    /// Each partition's leader, epoch and replicas (one topic, or every user topic).
    Leaders {
        /// Only this topic.
        topic: Option<String>,
    },
    /// Move a partition's leader to another broker (the epoch bumps).
    MoveLeader {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The new leader's node id.
        #[arg(long)]
        to: i32,
    },
    /// Move every partition's leader (coordinators too) to another live broker.
    ShuffleLeaders {
        /// Seed of the choice (default a fixed one: the same moves from the same leaders).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Move a group's or a transactional id's coordinator.
    MoveCoordinator {
        /// The group id.
        #[arg(
            long,
            conflicts_with = "transactional_id",
            required_unless_present = "transactional_id"
        )]
        group: Option<String>,
        /// The transactional id.
        #[arg(long)]
        transactional_id: Option<String>,
        /// The new coordinator's node id.
        #[arg(long)]
        to: i32,
    },
    /// Take a broker down or bring it up.
    Broker {
        /// `down` or `up`.
        #[arg(value_parser = ["down", "up"])]
        state: String,
        /// Its node id.
        id: i32,
    },
    /// Fault rules.
    Fault {
        /// What to do with them.
        #[command(subcommand)]
        what: FaultCommand,
    },
    /// The request log: the last requests, oldest first.
    Requests {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Empty the log instead.
        #[arg(long)]
        clear: bool,
    },
}

/// `gregor ctl fault` subcommands.
#[derive(Debug, Subcommand)]
pub enum FaultCommand {
    /// Add a rule: which requests, what to do, how many times.
    Add(FaultAdd),
    /// Every rule, with its hits and remaining firings.
    List,
    /// Remove one rule.
    Remove {
        /// Its id.
        id: u64,
    },
    /// Remove every rule.
    Clear,
    /// Block until a rule has fired N times (exit status 1 on timeout).
    Wait {
        /// Its id.
        id: u64,
        /// Firings to wait for.
        #[arg(long, default_value_t = 1)]
        hits: u64,
        /// How long at most, e.g. `30s`, `500ms`.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        timeout: Duration,
    },
}

/// `gregor ctl fault add`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["error", "lose_response", "delay", "disconnect", "hang"])))]
pub struct FaultAdd {
    /// The API (produce, fetch, offset_commit, ... or its key), or `disk` for the log's file
    /// operations (with `--error ENOSPC`, `EIO`, ...).
    pub api: String,
    /// API versions matched, `3-9`, `3-` or `-9`.
    #[arg(long)]
    pub versions: Option<String>,
    /// Only requests with this client.id.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Only requests to this broker.
    #[arg(long)]
    pub broker: Option<i32>,
    /// Only requests naming this topic (Produce, Fetch, ListOffsets errors: only its
    /// partitions fail).
    #[arg(long)]
    pub topic: Option<String>,
    /// Only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// For `disk`: only this file operation (write, sync, create, open, rename, remove,
    /// set-len, create-dir).
    #[arg(long)]
    pub op: Option<String>,
    /// Answer with this Kafka error (NOT_ENOUGH_REPLICAS, or its code), doing nothing; for
    /// `disk`, the OS error (ENOSPC, EIO, ...).
    #[arg(long)]
    pub error: Option<String>,
    /// Do the work, then close the connection instead of answering.
    #[arg(long)]
    pub lose_response: bool,
    /// Wait this long before handling, e.g. `2s`.
    #[arg(long, value_parser = parse_duration)]
    pub delay: Option<Duration>,
    /// Close the connection without handling.
    #[arg(long)]
    pub disconnect: bool,
    /// Never answer.
    #[arg(long)]
    pub hang: bool,
    /// Fire this many times (default 1).
    #[arg(long, conflicts_with = "always")]
    pub times: Option<u32>,
    /// Fire on every match.
    #[arg(long)]
    pub always: bool,
}

/// `2s`, `500ms`, `1m`, or plain milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "ms"), |i| (&s[..i], &s[i..]));
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s or m)")),
    };
    Ok(Duration::from_millis(ms as u64))
}

impl FaultAdd {
    /// The rule as the endpoint takes it.
    pub fn to_json(&self) -> Result<Value, String> {
        let (min, max) = match self.versions.as_deref() {
            None => (None, None),
            Some(v) => {
                let (lo, hi) = v.split_once('-').unwrap_or((v, v));
                let p = |x: &str| -> Result<Option<i16>, String> {
                    if x.trim().is_empty() {
                        Ok(None)
                    } else {
                        x.trim()
                            .parse()
                            .map(Some)
                            .map_err(|_| format!("bad version range {v:?}"))
                    }
                };
                (p(lo)?, p(hi)?)
            }
        };
        let action = if self.error.is_some() {
            "error"
        } else if self.lose_response {
            "lose-response"
        } else if self.delay.is_some() {
            "delay"
        } else if self.disconnect {
            "disconnect"
        } else {
            "hang"
        };
        let mut v = json!({ "api": self.api, "action": action });
        let o = v.as_object_mut().expect("an object");
        let mut set = |k: &str, x: Value| {
            if !x.is_null() {
                o.insert(k.to_string(), x);
            }
        };
        set("min_version", json!(min));
        set("max_version", json!(max));
        set("client_id", json!(self.client_id));
        set("broker", json!(self.broker));
        set("topic", json!(self.topic));
        set("partition", json!(self.partition));
        set("op", json!(self.op));
        set("error", json!(self.error));
        set("delay_ms", json!(self.delay.map(|d| d.as_millis() as u64)));
        set("times", json!(self.times));
        if self.always {
            set("always", json!(true));
        }
        Ok(v)
    }
}

/// An HTTP call to the endpoint; `Err` carries the message to print.
fn call(
    admin: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    timeout: Duration,
) -> Result<Value, String> {
    let url = format!("http://{admin}{path}");
    let agent = ureq::AgentBuilder::new().timeout(timeout).build();
    let req = agent.request(method, &url);
    let res = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match res {
        Ok(r) => r.into_json().map_err(|e| format!("bad answer from {url}: {e}")),
        Err(ureq::Error::Status(code, r)) => {
            let text = r.into_string().unwrap_or_default();
            let msg = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or(text);
            Err(format!("{msg} (HTTP {code})"))
        }
        Err(e) => Err(format!(
            "cannot reach Gregor's admin endpoint at {admin} ({e}); is the broker running, and with --admin {admin}?"
        )),
    }
}

/// Runs `gregor ctl`; returns the process exit code.
pub fn run(ctl: &Ctl) -> i32 {
    let short = Duration::from_secs(30);
    let result = match &ctl.what {
        CtlCommand::Cluster => call(&ctl.admin, "GET", "/admin/cluster", None, short),
        CtlCommand::Leaders { topic } => {
            let q = topic
                .as_ref()
                .map_or(String::new(), |t| format!("?topic={}", encode(t)));
            call(
                &ctl.admin,
                "GET",
                &format!("/admin/partitions{q}"),
                None,
                short,
            )
        }
        CtlCommand::MoveLeader {
            topic,
            partition,
            to,
        } => call(
            &ctl.admin,
            "POST",
            "/admin/leaders/move",
            Some(json!({"topic": topic, "partition": partition, "to": to})),
            short,
        ),
        CtlCommand::ShuffleLeaders { seed } => call(
            &ctl.admin,
            "POST",
            "/admin/leaders/shuffle",
            Some(json!({ "seed": seed })),
            short,
        ),
        CtlCommand::MoveCoordinator {
            group,
            transactional_id,
            to,
        } => call(
            &ctl.admin,
            "POST",
            "/admin/coordinators/move",
            Some(json!({"group": group, "transactional_id": transactional_id, "to": to})),
            short,
        ),
        CtlCommand::Broker { state, id } => call(
            &ctl.admin,
            "POST",
            &format!("/admin/brokers/{id}/{state}"),
            None,
            short,
        ),
        CtlCommand::Fault { what } => match what {
            FaultCommand::Add(a) => match a.to_json() {
                Ok(body) => call(&ctl.admin, "POST", "/admin/faults", Some(body), short),
                Err(e) => Err(e),
            },
            FaultCommand::List => call(&ctl.admin, "GET", "/admin/faults", None, short),
            FaultCommand::Remove { id } => call(
                &ctl.admin,
                "DELETE",
                &format!("/admin/faults/{id}"),
                None,
                short,
            ),
            FaultCommand::Clear => call(&ctl.admin, "DELETE", "/admin/faults", None, short),
            FaultCommand::Wait { id, hits, timeout } => call(
                &ctl.admin,
                "GET",
                &format!(
                    "/admin/faults/{id}/wait?hits={hits}&timeout_ms={}",
                    timeout.as_millis()
                ),
                None,
                *timeout + Duration::from_secs(10),
            ),
        },
        CtlCommand::Requests { limit, clear } => {
            if *clear {
                call(&ctl.admin, "DELETE", "/admin/requests", None, short)
            } else {
                call(
                    &ctl.admin,
                    "GET",
                    &format!("/admin/requests?limit={limit}"),
                    None,
                    short,
                )
            }
        }
    };
    match result {
        Ok(v) => {
            match ctl.format {
                Format::Json => {
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())
                }
                Format::Table => print!("{}", table(&ctl.what, &v)),
            }
            0
        }
        Err(e) => {
            eprintln!("gregor ctl: {e}");
            1
        }
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => "-".to_string(),
        Some(x) => x.to_string(),
    }
}

/// The readable form of an answer.
fn table(what: &CtlCommand, v: &Value) -> String {
    let rows = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut out = String::new();
    let change = |c: &Value| {
        format!(
            "{}-{}: leader {} -> {}, epoch {}, replicas {}\n",
            s(c, "topic"),
            s(c, "partition"),
            s(c, "from"),
            s(c, "leader"),
            s(c, "epoch"),
            s(c, "replicas")
        )
    };
    match what {
        CtlCommand::Cluster => {
            out.push_str(&format!(
                "cluster {}  controller {}\n",
                s(v, "cluster_id"),
                s(v, "controller")
            ));
            out.push_str("ID  ADDRESS               STATE\n");
            for b in rows(&v["brokers"]) {
                let state = if b["up"].as_bool() == Some(true) {
                    "up"
                } else {
                    "down"
                };
                out.push_str(&format!(
                    "{:<3} {:<21} {state}\n",
                    s(&b, "id"),
                    format!("{}:{}", s(&b, "host"), s(&b, "port"))
                ));
            }
        }
        CtlCommand::Leaders { .. } => {
            out.push_str("TOPIC                PARTITION  LEADER  EPOCH  REPLICAS\n");
            for p in rows(v) {
                out.push_str(&format!(
                    "{:<20} {:<10} {:<7} {:<6} {}\n",
                    s(&p, "topic"),
                    s(&p, "partition"),
                    s(&p, "leader"),
                    s(&p, "epoch"),
                    s(&p, "replicas")
                ));
            }
        }
        CtlCommand::MoveLeader { .. } | CtlCommand::MoveCoordinator { .. } => {
            out.push_str(&change(v))
        }
        CtlCommand::ShuffleLeaders { .. } | CtlCommand::Broker { .. } => {
            let changes = rows(v);
            out.push_str(&format!("{} partition leader(s) changed\n", changes.len()));
            for c in changes {
                out.push_str(&change(&c));
            }
        }
        CtlCommand::Fault { what } => match what {
            FaultCommand::List => {
                out.push_str("ID   HITS  REMAINING  RULE\n");
                for r in rows(v) {
                    let remaining = if r["always"].as_bool() == Some(true) {
                        "always".to_string()
                    } else {
                        s(&r, "remaining")
                    };
                    out.push_str(&format!(
                        "{:<4} {:<5} {:<10} {}\n",
                        s(&r, "id"),
                        s(&r, "hits"),
                        remaining,
                        s(&r, "rule")
                    ));
                }
            }
            FaultCommand::Add(_) | FaultCommand::Wait { .. } => out.push_str(&format!(
                "rule {}: {} (hits {})\n",
                s(v, "id"),
                s(v, "rule"),
                s(v, "hits")
            )),
            FaultCommand::Remove { id } => out.push_str(&format!("removed rule {id}\n")),
            FaultCommand::Clear => out.push_str("removed every rule\n"),
        },
        CtlCommand::Requests { clear: true, .. } => out.push_str("request log emptied\n"),
        CtlCommand::Requests { .. } => {
            out.push_str("SEQ     BROKER  API                      V   CLIENT              TOPICS               US      FAULT  OUTCOME\n");
            for r in rows(v) {
                let topics: Vec<String> = rows(&r["topics"])
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect();
                out.push_str(&format!(
                    "{:<7} {:<7} {:<24} {:<3} {:<19} {:<20} {:<7} {:<6} {}\n",
                    s(&r, "seq"),
                    s(&r, "broker"),
                    s(&r, "api"),
                    s(&r, "version"),
                    s(&r, "client_id"),
                    topics.join(","),
                    s(&r, "duration_us"),
                    s(&r, "fault"),
                    s(&r, "outcome")
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rules_from_flags() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("40"), Ok(Duration::from_millis(40)));
        assert!(parse_duration("2h").is_err());
        let add = FaultAdd {
            api: "produce".into(),
            versions: Some("3-".into()),
            client_id: None,
            broker: Some(2),
            topic: Some("orders".into()),
            partition: None,
            op: None,
            error: None,
            lose_response: false,
            delay: Some(Duration::from_secs(2)),
            disconnect: false,
            hang: false,
            times: Some(3),
            always: false,
        };
        assert_eq!(
            add.to_json().unwrap(),
            json!({"api": "produce", "action": "delay", "min_version": 3, "broker": 2,
                   "topic": "orders", "delay_ms": 2000, "times": 3})
        );
        let bad = FaultAdd {
            versions: Some("x-2".into()),
            ..add
        };
        assert!(bad.to_json().is_err());
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
