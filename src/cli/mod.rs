//! `gregor topic|produce|consume|group`: the everyday Kafka command-line tools in the broker's
//! own binary (as Redpanda's `rpk`). They speak only the Kafka protocol, through the small
//! blocking client in [`client`], so they work against any Kafka broker as well as Gregor.
//! Output is a readable table, or JSON with `--format json`; an error is one line on stderr
//! and exit status 1.
//!
//! ```text
//! gregor topic create orders -p 3 -c retention.ms=3600000
//! gregor produce orders -k user-1 -H source=cli 'hello'
//! gregor consume orders --from @1767225600000 -n 10 --format json
//! gregor group describe billing
//! gregor group reset-offsets billing --topic orders --to-earliest --execute
//! ```
//!
//! Nothing of the broker: besides the `kafka-protocol` crate it uses [`crate::record`] (the batch
//! builder for Produce, the batch framing and record reader for Fetch), [`crate::metrics`]'
//! names of APIs and errors, [`crate::ctl`]'s output format, and [`crate::group::records`]' decoding of a classic consumer's
//! assignment.

/// Output format: the same `--format table|json` as `gregor ctl` (JSON is one object per line
/// for records).
pub use crate::ctl::Format;
pub mod client;
mod consume;
mod group;
mod members;
pub mod metadata;
mod produce;
mod topic;

use std::io::{self, Write};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

pub use client::{Client, Error};

/// The Kafka-protocol subcommands of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Topics: create, list, describe, delete (any Kafka broker).
    Topic(TopicArgs),
    /// Produce records: one from the command line, or one per line of stdin.
    Produce(ProduceArgs),
    /// Print a topic's records, read from the partition leaders.
    Consume(ConsumeArgs),
    /// Consumer groups: list, describe with lag, reset offsets, delete.
    Group(GroupArgs),
}

/// The options every Kafka-protocol subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Bootstrap brokers, comma-separated `host:port`.
    #[arg(
        short = 'b',
        long,
        env = "GREGOR_BOOTSTRAP",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub bootstrap: String,
    /// Output: a readable table, or JSON.
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: Format,
}

/// `gregor topic`.
#[derive(Debug, Args)]
pub struct TopicArgs {
    /// Broker and output.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub what: TopicCommand,
}

/// `gregor topic` subcommands.
#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        /// Its name.
        name: String,
        /// Partitions (default: the broker's num.partitions).
        #[arg(short = 'p', long)]
        partitions: Option<i32>,
        /// Replication factor (default: the broker's default.replication.factor).
        #[arg(short = 'r', long)]
        replication_factor: Option<i16>,
        /// A topic config, `key=value` (repeatable).
        #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
    /// Every topic: name, partitions, replication factor.
    List {
        /// Include internal topics (`__consumer_offsets`, ...).
        #[arg(long)]
        internal: bool,
    },
    /// One topic: its partitions (leader, epoch, replicas, offsets) and non-default configs.
    Describe {
        /// Its name.
        name: String,
    },
    /// Delete topics.
    Delete {
        /// Their names.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// `gregor produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Broker and output.
    #[command(flatten)]
    pub conn: Connection,
    /// The topic.
    pub topic: String,
    /// The record's value; without it, one record per line of stdin.
    pub value: Option<String>,
    /// The key (every record's, with stdin); no key by default.
    #[arg(short = 'k', long)]
    pub key: Option<String>,
    /// A header, `key=value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// The partition (default: keyed records by murmur2 of the key, as the Java client;
    /// unkeyed ones to one partition per batch).
    #[arg(short = 'p', long)]
    pub partition: Option<i32>,
    /// With stdin: each line is KEY SEP VALUE, split at the first SEP.
    #[arg(long, value_name = "SEP")]
    pub key_separator: Option<String>,
}

/// Where `gregor consume` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// The log start offset.
    Oldest,
    /// The end offset: only records written from now on.
    Newest,
    /// This offset.
    Offset(i64),
    /// The first record at or after this time (ms since the epoch).
    Timestamp(i64),
}

fn parse_start(s: &str) -> Result<StartAt, String> {
    match s {
        "oldest" | "earliest" | "beginning" => Ok(StartAt::Oldest),
        "newest" | "latest" | "end" => Ok(StartAt::Newest),
        _ => match s.strip_prefix('@') {
            Some(ts) => ts
                .parse::<i64>()
                .ok()
                .filter(|t| *t >= 0)
                .map(StartAt::Timestamp)
                .ok_or_else(|| format!("bad timestamp {ts:?} (milliseconds since the epoch)")),
            None => s
                .parse::<i64>()
                .ok()
                .filter(|o| *o >= 0)
                .map(StartAt::Offset)
                .ok_or_else(|| {
                    format!("{s:?}: expected oldest, newest, an offset or @TIMESTAMP_MS")
                }),
        },
    }
}

/// `gregor consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Broker and output.
    #[command(flatten)]
    pub conn: Connection,
    /// The topic.
    pub topic: String,
    /// Only these partitions (repeatable, or comma-separated).
    #[arg(short = 'p', long = "partition", value_delimiter = ',')]
    pub partitions: Vec<i32>,
    /// Where to start: oldest, newest, an offset, or @TIMESTAMP_MS.
    #[arg(long, default_value = "oldest", value_parser = parse_start)]
    pub from: StartAt,
    /// Stop after this many records.
    #[arg(short = 'n', long)]
    pub count: Option<u64>,
    /// Keep waiting for new records (default: stop at the end offsets as of the start).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show records of open and aborted transactions too (default: read_committed).
    #[arg(long)]
    pub read_uncommitted: bool,
}

/// `gregor group`.
#[derive(Debug, Args)]
pub struct GroupArgs {
    /// Broker and output.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub what: GroupCommand,
}

/// `gregor group` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Every group: id, state, type, protocol type.
    List,
    /// One group: members and their partitions, committed offsets, end offsets and lag.
    Describe {
        /// The group id.
        group: String,
    },
    /// Set a group's committed offsets (as kafka-consumer-groups --reset-offsets); prints the
    /// plan only, unless --execute.
    ResetOffsets(ResetArgs),
    /// Delete groups (empty ones only, as Kafka).
    Delete {
        /// Their ids.
        #[arg(required = true)]
        groups: Vec<String>,
    },
}

/// `gregor group reset-offsets`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The group id.
    pub group: String,
    /// A topic, or `topic:0,2` for some of its partitions (repeatable).
    #[arg(
        long = "topic",
        value_name = "TOPIC[:P,P]",
        required_unless_present = "all_topics"
    )]
    pub topics: Vec<String>,
    /// Every topic the group has committed offsets for.
    #[arg(long, conflicts_with = "topics")]
    pub all_topics: bool,
    /// The new offsets.
    #[command(flatten)]
    pub to: ResetTo,
    /// Commit the new offsets (without it, only the plan is printed).
    #[arg(long)]
    pub execute: bool,
}

/// Where `reset-offsets` moves each partition (exactly one).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ResetTo {
    /// The log start offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// The log end offset.
    #[arg(long)]
    pub to_latest: bool,
    /// This offset (kept within log start and end).
    #[arg(long, value_name = "OFFSET")]
    pub to_offset: Option<i64>,
    /// The first offset at or after this time, ms since the epoch (the end if none).
    #[arg(long, value_name = "MS")]
    pub to_timestamp: Option<i64>,
    /// The committed offset plus N (negative: back), kept within log start and end.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
}

/// Runs a subcommand; returns the exit status (an error is one line on stderr).
pub fn run(cmd: &Command) -> i32 {
    let (name, result) = match cmd {
        Command::Topic(a) => ("topic", topic::run(a)),
        Command::Produce(a) => ("produce", produce::run(a)),
        Command::Consume(a) => ("consume", consume::run(a)),
        Command::Group(a) => ("group", group::run(a)),
    };
    match result {
        Ok(()) => 0,
        // `gregor consume ... | head`: the reader has gone, which is not an error.
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("gregor {name}: {e}");
            1
        }
    }
}

/// Standard output, with write errors as [`Error::Output`].
pub(crate) struct Out {
    w: io::BufWriter<io::Stdout>,
}

impl Out {
    /// Buffered stdout.
    pub(crate) fn new() -> Out {
        Out {
            w: io::BufWriter::new(io::stdout()),
        }
    }

    /// Writes `s` as is.
    pub(crate) fn put(&mut self, s: &str) -> Result<(), Error> {
        self.w.write_all(s.as_bytes()).map_err(Error::Output)
    }

    /// Writes `v` as one line of JSON.
    pub(crate) fn json_line(&mut self, v: &Value) -> Result<(), Error> {
        self.put(&format!("{v}\n"))
    }

    /// Writes `v` as indented JSON.
    pub(crate) fn json(&mut self, v: &Value) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(v).map_err(|e| Error::Output(e.into()))?;
        self.put(&format!("{text}\n"))
    }

    /// Sends what is buffered.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        self.w.flush().map_err(Error::Output)
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        let _ = self.w.flush();
    }
}

/// Rows under a header, each column as wide as its widest cell, two spaces apart.
pub(crate) fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = width.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(c);
            if i + 1 < width.len() {
                let pad = width[i].saturating_sub(c.chars().count());
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(&mut head.iter().copied());
    for r in rows {
        out.push_str(&line(&mut r.iter().map(String::as_str)));
    }
    out
}

/// Bytes for a table cell: the text if UTF-8 (control characters escaped), else `0x` and hex;
/// `-` for null.
pub(crate) fn show_bytes(b: Option<&[u8]>) -> String {
    match b {
        None => "-".to_string(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => s
                .chars()
                .flat_map(|c| {
                    let esc: Vec<char> = if c.is_control() {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    };
                    esc
                })
                .collect(),
            Err(_) => format!("0x{}", hex(b)),
        },
    }
}

/// Lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes for JSON: the text if UTF-8, else hex, with whether it is hex; `null` for null.
pub(crate) fn json_bytes(b: Option<&[u8]>) -> (Value, bool) {
    match b {
        None => (Value::Null, false),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => (json!(s), false),
            Err(_) => (json!(hex(b)), true),
        },
    }
}

/// `key=value` from the command line.
pub(crate) fn key_value(s: &str, what: &str) -> Result<(String, String), Error> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| Error::Usage(format!("bad {what} {s:?}: expected KEY=VALUE")))
}

/// A number or `-` for a table cell.
pub(crate) fn or_dash(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| x.to_string())
}

/// Node ids as `1,2,3`.
pub(crate) fn ids(v: &[i32]) -> String {
    v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_bytes_and_start_points() {
        let t = table(
            &["NAME", "PARTITIONS"],
            &[
                vec!["orders".into(), "3".into()],
                vec!["a".into(), "12".into()],
            ],
        );
        assert_eq!(t, "NAME    PARTITIONS\norders  3\na       12\n");
        assert_eq!(show_bytes(None), "-");
        assert_eq!(show_bytes(Some(b"a\nb")), "a\\nb");
        assert_eq!(show_bytes(Some(&[0xff, 0x00])), "0xff00");
        assert_eq!(json_bytes(Some(&[0xfe])), (json!("fe"), true));
        assert_eq!(json_bytes(Some("é".as_bytes())), (json!("é"), false));
        assert_eq!(parse_start("oldest"), Ok(StartAt::Oldest));
        assert_eq!(parse_start("newest"), Ok(StartAt::Newest));
        assert_eq!(parse_start("17"), Ok(StartAt::Offset(17)));
        assert_eq!(
            parse_start("@1700000000000"),
            Ok(StartAt::Timestamp(1_700_000_000_000))
        );
        assert!(parse_start("-3").is_err());
        assert!(parse_start("@x").is_err());
        assert!(parse_start("@-1").is_err());
        assert!(key_value("a=b=c", "header").is_ok_and(|kv| kv == ("a".into(), "b=c".into())));
        assert!(key_value("=b", "header").is_err());
        assert!(key_value("ab", "header").is_err());
    }
}
