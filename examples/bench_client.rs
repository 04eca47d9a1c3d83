//! The client half of `scripts/bench`: one subcommand per measurement, each printing one JSON
//! line of raw numbers on stdout. The script repeats runs, takes medians and prints the table;
//! nothing here asserts anything.
//!
//! Producer and consumer figures use librdkafka (the `rdkafka` dev-dependency) because that is
//! what most Gregor users point at it. CPU seconds come from `/proc/PID/stat` (utime + stime,
//! divided by `getconf CLK_TCK`), read before and after the timed section, for the broker (its
//! pid is passed in) and for this process (all librdkafka threads included).
//!
//! Run by hand: `cargo run --release --example bench_client -- --help`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Parser, Subcommand};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

#[derive(Parser)]
#[command(about = "Gregor benchmark client (driven by scripts/bench)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the broker binary N times; time from spawn to the first ApiVersions answer.
    Ready {
        /// Path of the gregor binary.
        #[arg(long, required_unless_present = "cmd")]
        bin: Option<PathBuf>,
        /// Another broker instead: a command line with `{port}` and `{dir}` in it (split on
        /// spaces), e.g. `scripts/reference-kafka launch {dir} {port}`; its process must be the
        /// broker (exec), so its pid is the one measured and stopped.
        #[arg(long)]
        cmd: Option<String>,
        /// Run before each start, untimed, with `{dir}` replaced (e.g. formatting a new data
        /// directory); only with --cmd.
        #[arg(long)]
        prepare: Option<String>,
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Reuse this data dir for every start (restart figure); default: a fresh dir per start
        /// under --scratch.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Where fresh data dirs go.
        #[arg(long, default_value = "/tmp")]
        scratch: PathBuf,
        /// Stop each broker with SIGKILL instead of SIGTERM (keeps the log "unclean").
        #[arg(long)]
        kill9: bool,
        /// Broker stderr is appended here.
        #[arg(long, default_value = "/dev/null")]
        log: PathBuf,
        /// Extra `-o key=value` overrides for the broker.
        #[arg(short = 'o')]
        overrides: Vec<String>,
    },
    /// Produce COUNT records of SIZE bytes as fast as librdkafka will take them.
    Produce {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        topic: String,
        #[arg(long, default_value_t = 1024)]
        size: usize,
        #[arg(long)]
        count: u64,
        /// acks: 0, 1 or all.
        #[arg(long, default_value = "1")]
        acks: String,
        #[arg(long)]
        idempotent: bool,
        /// librdkafka compression.type: none, gzip, snappy, lz4, zstd. With a codec the
        /// records are text-like (compress about 3:1) rather than one repeated byte.
        #[arg(long, default_value = "none")]
        compression: String,
        #[arg(long)]
        broker_pid: Option<u32>,
    },
    /// Create TOPICS topics of PARTITIONS partitions, write one record to each partition,
    /// then report the broker's memory and open descriptors.
    Partitions {
        #[arg(long)]
        brokers: String,
        #[arg(long, default_value_t = 100)]
        topics: usize,
        #[arg(long, default_value_t = 100)]
        partitions: i32,
        #[arg(long)]
        broker_pid: u32,
    },
    /// Synchronous offset commits of one consumer in a loop for SECS: commits per second.
    Commits {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        group: String,
        #[arg(long, default_value_t = 3.0)]
        secs: f64,
        #[arg(long)]
        broker_pid: Option<u32>,
    },
    /// Log compaction: COUNT keyed records of SIZE bytes over KEYS keys into a new compacted
    /// topic held back by min.compaction.lag.ms, then the lag lifted: how long the cleaner
    /// takes to clean it all, from its own log lines (LOG) and its thread's CPU time.
    Compact {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 10_000)]
        keys: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// The broker's log file (its stderr).
        #[arg(long)]
        log: PathBuf,
        /// The broker is Kafka: its cleaner's statistics lines and thread name.
        #[arg(long)]
        kafka: bool,
        #[arg(long)]
        broker_pid: u32,
    },
    /// COUNT offset commits: synchronous commits of PARTITIONS partitions each (one request,
    /// one record per partition), as fast as they are answered.
    CommitMany {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        group: String,
        #[arg(long, default_value_t = 100)]
        partitions: i32,
        #[arg(long)]
        count: u64,
    },
    /// Read a topic from the start to its high watermark (assign, no group).
    Fetch {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        topic: String,
        /// isolation.level=read_committed (reads to each partition's end, markers skipped).
        #[arg(long)]
        read_committed: bool,
        #[arg(long)]
        broker_pid: Option<u32>,
    },
    /// Transactional produce: COUNT records of SIZE bytes in transactions of PER_TXN records,
    /// each committed before the next begins; throughput and commit latency.
    Txn {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        topic: String,
        #[arg(long, default_value_t = 1024)]
        size: usize,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 100)]
        per_txn: u64,
        #[arg(long)]
        broker_pid: Option<u32>,
    },
    /// Produce-to-consume latency at a fixed rate, producer and consumer in this process.
    Latency {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        topic: String,
        #[arg(long, default_value_t = 10_000)]
        rate: u64,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
    /// Time for MEMBERS consumers of one group to reach a stable assignment.
    Groups {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        group: String,
        #[arg(long, default_value_t = 4)]
        members: usize,
        #[arg(long, default_value_t = 3)]
        partitions: usize,
        /// `group.protocol`: classic or consumer (KIP-848).
        #[arg(long, default_value = "classic")]
        protocol: String,
    },
    /// Loopback TCP throughput (one sender thread, one receiver thread), for context.
    Loopback {
        #[arg(long, default_value_t = 3.0)]
        secs: f64,
    },
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Ready {
            bin,
            cmd,
            prepare,
            runs,
            data_dir,
            scratch,
            kill9,
            log,
            overrides,
        } => ready(
            &Broker { bin, cmd, prepare },
            runs,
            data_dir.as_deref(),
            &scratch,
            kill9,
            &log,
            &overrides,
        ),
        Cmd::Produce {
            brokers,
            topic,
            size,
            count,
            acks,
            idempotent,
            compression,
            broker_pid,
        } => produce(
            &brokers,
            &topic,
            size,
            count,
            &acks,
            idempotent,
            &compression,
            broker_pid,
        ),
        Cmd::Commits {
            brokers,
            topic,
            group,
            secs,
            broker_pid,
        } => commits(&brokers, &topic, &group, secs, broker_pid),
        Cmd::Partitions {
            brokers,
            topics,
            partitions,
            broker_pid,
        } => many_partitions(&brokers, topics, partitions, broker_pid),
        Cmd::Compact {
            brokers,
            topic,
            count,
            keys,
            size,
            log,
            kafka,
            broker_pid,
        } => compact(&brokers, &topic, count, keys, size, &log, kafka, broker_pid),
        Cmd::CommitMany {
            brokers,
            topic,
            group,
            partitions,
            count,
        } => commit_many(&brokers, &topic, &group, partitions, count),
        Cmd::Fetch {
            brokers,
            topic,
            read_committed,
            broker_pid,
        } => fetch(&brokers, &topic, read_committed, broker_pid),
        Cmd::Txn {
            brokers,
            topic,
            size,
            count,
            per_txn,
            broker_pid,
        } => txn(&brokers, &topic, size, count, per_txn, broker_pid),
        Cmd::Latency {
            brokers,
            topic,
            rate,
            secs,
            size,
        } => latency(&brokers, &topic, rate, secs, size),
        Cmd::Groups {
            brokers,
            topic,
            group,
            members,
            partitions,
            protocol,
        } => groups(&brokers, &topic, &group, members, partitions, &protocol),
        Cmd::Loopback { secs } => loopback(secs),
    }
}

// ---------------------------------------------------------------------------------------------
// /proc helpers

fn clk_tck() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process, in seconds. `pid` None means this process.
fn cpu_secs(pid: Option<u32>) -> Result<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    let rest = &stat[stat.rfind(')').ok_or_else(|| anyhow!("bad {path}"))? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    Ok(ticks as f64 / clk_tck())
}

/// utime alone, in seconds: the part of `cpu_secs` spent in the process's own code rather than
/// in the kernel (socket copies, page-cache writes and reclaim).
fn user_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let utime: u64 = rest.split_whitespace().nth(11)?.parse().ok()?;
    Some(utime as f64 / clk_tck())
}

/// (VmRSS, VmHWM, RssAnon) in KiB. RssAnon is the heap and stacks: VmRSS minus mapped files.
fn rss_kb(pid: u32) -> Result<(u64, u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:"), field("RssAnon:")))
}

fn opt_cpu(pid: Option<u32>) -> Option<f64> {
    pid.and_then(|p| cpu_secs(Some(p)).ok())
}

fn json_opt(v: Option<f64>) -> String {
    v.map_or("null".to_string(), |v| format!("{v:.4}"))
}

fn json_list<T: std::fmt::Display>(v: &[T]) -> String {
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(","))
}

// ---------------------------------------------------------------------------------------------
// ready / restart

/// One ApiVersions v0 request, framed: length, api_key 18, version 0, correlation id, client id.
fn api_versions_v0() -> Vec<u8> {
    let client_id = b"bench";
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Connect (retrying while refused), send ApiVersions v0, read the whole answer.
fn first_api_versions(port: u16, child: &mut Child, deadline: Instant) -> Result<()> {
    let req = api_versions_v0();
    loop {
        if Instant::now() > deadline {
            bail!("no ApiVersions answer before the deadline");
        }
        if let Some(status) = child.try_wait()? {
            bail!("broker exited early: {status}");
        }
        let mut s = match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => s,
            Err(_) => {
                // Short, so the resolution stays well under a millisecond, without hogging a
                // core the starting broker needs.
                std::thread::sleep(Duration::from_micros(100));
                continue;
            }
        };
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        if s.write_all(&req).is_err() {
            continue;
        }
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).is_err() {
            continue;
        }
        let n = i32::from_be_bytes(len);
        if !(4..=1 << 20).contains(&n) {
            bail!("odd ApiVersions response length {n}");
        }
        let mut body = vec![0u8; n as usize];
        s.read_exact(&mut body)?;
        let corr = i32::from_be_bytes(body[..4].try_into().unwrap());
        if corr != 1 {
            bail!("ApiVersions answer with correlation id {corr}");
        }
        return Ok(());
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The broker's own "ready in X ms" figure from its stdout line.
fn reported_ready_ms(line: &str) -> Option<f64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "ready")?;
    (words.get(i + 1) == Some(&"in")).then_some(())?;
    words.get(i + 2)?.parse().ok()
}

/// What `ready` starts: the gregor binary, or a command line template.
struct Broker {
    bin: Option<PathBuf>,
    cmd: Option<String>,
    prepare: Option<String>,
}

fn fill(template: &str, dir: &Path, port: u16) -> Vec<String> {
    template
        .split_whitespace()
        .map(|w| {
            w.replace("{dir}", &dir.display().to_string())
                .replace("{port}", &port.to_string())
        })
        .collect()
}

impl Broker {
    /// The command for one start on `port` with data in `dir`, after the untimed preparation.
    fn command(&self, dir: &Path, port: u16, overrides: &[String]) -> Result<Command> {
        if let Some(template) = &self.cmd {
            if let Some(prep) = &self.prepare {
                let words = fill(prep, dir, port);
                let status = Command::new(&words[0]).args(&words[1..]).status()?;
                if !status.success() {
                    bail!("{prep}: {status}");
                }
            }
            let words = fill(template, dir, port);
            let mut cmd = Command::new(&words[0]);
            cmd.args(&words[1..]);
            return Ok(cmd);
        }
        let bin = self.bin.as_ref().context("--bin or --cmd")?;
        let mut cmd = Command::new(bin);
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir);
        for o in overrides {
            cmd.arg("-o").arg(o);
        }
        Ok(cmd)
    }
}

fn ready(
    broker: &Broker,
    runs: usize,
    data_dir: Option<&Path>,
    scratch: &Path,
    kill9: bool,
    log: &Path,
    overrides: &[String],
) -> Result<()> {
    let mut ready_ms = Vec::new();
    let mut reported_ms = Vec::new();
    let mut rss = Vec::new();
    let mut stop_ms = Vec::new();
    for run in 0..runs {
        let fresh = scratch.join(format!("gregor-bench-ready-{}-{run}", std::process::id()));
        let dir = data_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| fresh.clone());
        let port = free_port()?;
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let mut cmd = broker.command(&dir, port, overrides)?;
        cmd.stdin(Stdio::null())
            .stdout(if broker.cmd.is_some() {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stderr(stderr);
        let t0 = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("spawning {cmd:?}"))?;
        let answered = first_api_versions(port, &mut child, t0 + Duration::from_secs(120));
        let elapsed = t0.elapsed();
        let pid = child.id();
        // Gregor's banner line carries its own "ready in" figure; another broker's stdout is
        // not read (it is /dev/null).
        let line = match child.stdout.take() {
            Some(stdout) => {
                let (tx, rx) = mpsc::channel();
                std::thread::spawn(move || {
                    let mut line = String::new();
                    let _ = BufReader::new(stdout).read_line(&mut line);
                    let _ = tx.send(line);
                });
                rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default()
            }
            None => String::new(),
        };
        // Idle RSS: once it answers, give it a moment to settle (lazy allocations, threads).
        std::thread::sleep(Duration::from_millis(300));
        let (r, _, _) = rss_kb(pid).unwrap_or((0, 0, 0));
        let stopping = Instant::now();
        if kill9 {
            child.kill()?;
        } else {
            Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()?;
        }
        child.wait()?;
        stop_ms.push(format!("{:.3}", stopping.elapsed().as_secs_f64() * 1e3));
        if data_dir.is_none() {
            let _ = std::fs::remove_dir_all(&fresh);
        }
        answered?;
        ready_ms.push(format!("{:.3}", elapsed.as_secs_f64() * 1e3));
        reported_ms.push(reported_ready_ms(&line).map_or("null".into(), |v| v.to_string()));
        rss.push(r);
    }
    println!(
        "{{\"ready_ms\":{},\"reported_ms\":{},\"rss_kb\":{},\"stop_ms\":{}}}",
        json_list(&ready_ms),
        json_list(&reported_ms),
        json_list(&rss),
        json_list(&stop_ms)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// produce

/// Counts acknowledgements from the delivery callback (run inside `poll`/`flush`).
#[derive(Default)]
struct AckCounter {
    acked: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for AckCounter {}

impl ProducerContext for AckCounter {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.acked.fetch_add(1, Ordering::Relaxed),
            Err((e, _)) => {
                self.first_error
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| e.to_string());
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

fn producer_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("batch.num.messages", "100000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("compression.type", "none");
    c
}

/// `n` payloads of `size` bytes of text-like data: words from a small vocabulary in a
/// pseudo-random order, which lz4 and zstd compress about 3:1 (a run of one byte would
/// compress ~100:1 and make decompression look free).
fn text_payloads(n: usize, size: usize) -> Vec<Vec<u8>> {
    const WORDS: &[&str] = &[
        "order",
        "customer",
        "shipped",
        "pending",
        "amount",
        "currency",
        "EUR",
        "USD",
        "warehouse",
        "item",
        "quantity",
        "status",
        "created",
        "updated",
        "id",
        "true",
        "false",
        "null",
        "region",
        "eu-west",
        "us-east",
        "price",
        "discount",
        "total",
    ];
    let mut seed = 0x2545f4914f6cdd1du64;
    (0..n)
        .map(|_| {
            let mut p = Vec::with_capacity(size + 16);
            while p.len() < size {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                p.extend_from_slice(WORDS[(seed % WORDS.len() as u64) as usize].as_bytes());
                p.push(if seed & 0x100 == 0 {
                    b' '
                } else {
                    b'0' + (seed % 10) as u8
                });
            }
            p.truncate(size);
            p
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn produce(
    brokers: &str,
    topic: &str,
    size: usize,
    count: u64,
    acks: &str,
    idempotent: bool,
    compression: &str,
    broker_pid: Option<u32>,
) -> Result<()> {
    let mut cfg = producer_config(brokers);
    cfg.set("acks", acks);
    cfg.set("compression.type", compression);
    if idempotent {
        cfg.set("enable.idempotence", "true");
    }
    let producer: BaseProducer<AckCounter> = cfg.create_with_context(AckCounter::default())?;
    let payloads = if compression == "none" {
        vec![vec![b'x'; size]]
    } else {
        text_payloads(256, size)
    };
    let payload = &payloads[0];

    // Warm-up outside the timed section: metadata, topic auto-creation, producer id.
    producer
        .send(BaseRecord::<(), [u8]>::to(topic).payload(&payload[..]))
        .map_err(|(e, _)| e)?;
    producer.flush(Duration::from_secs(30))?;
    producer.context().acked.store(0, Ordering::Relaxed);

    let (b0, c0) = (opt_cpu(broker_pid), cpu_secs(None)?);
    let u0 = broker_pid.and_then(user_secs);
    let t0 = Instant::now();
    for i in 0..count {
        let payload = &payloads[i as usize % payloads.len()];
        loop {
            match producer.send(BaseRecord::<(), [u8]>::to(topic).payload(&payload[..])) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(300))?;
    let secs = t0.elapsed().as_secs_f64();
    let (b1, c1) = (opt_cpu(broker_pid), cpu_secs(None)?);
    let u1 = broker_pid.and_then(user_secs);
    let ctx = producer.context();
    let acked = ctx.acked.load(Ordering::Relaxed);
    let failed = ctx.failed.load(Ordering::Relaxed);
    let (rss, hwm, anon) = broker_pid.and_then(|p| rss_kb(p).ok()).unwrap_or((0, 0, 0));
    let err = ctx.first_error.lock().unwrap().clone().unwrap_or_default();
    println!(
        "{{\"msgs\":{acked},\"failed\":{failed},\"bytes\":{},\"secs\":{secs:.4},\
         \"client_cpu\":{:.4},\"broker_cpu\":{},\"broker_user\":{},\"rss_kb\":{rss},\
         \"hwm_kb\":{hwm},\"anon_kb\":{anon},\"first_error\":{:?}}}",
        acked * size as u64,
        c1 - c0,
        json_opt(b1.zip(b0).map(|(a, b)| a - b)),
        json_opt(u1.zip(u0).map(|(a, b)| a - b)),
        err
    );
    if failed > 0 {
        bail!("{failed} records failed: {err}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// commits

fn commits(
    brokers: &str,
    topic: &str,
    group: &str,
    secs: f64,
    broker_pid: Option<u32>,
) -> Result<()> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(0))?;
    // Warm-up: coordinator lookup and the first commit (which creates __consumer_offsets).
    consumer.commit(&tpl, rdkafka::consumer::CommitMode::Sync)?;
    let (b0, c0) = (opt_cpu(broker_pid), cpu_secs(None)?);
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        n += 1;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Offset(n as i64))?;
        consumer.commit(&tpl, rdkafka::consumer::CommitMode::Sync)?;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let (b1, c1) = (opt_cpu(broker_pid), cpu_secs(None)?);
    println!(
        "{{\"commits\":{n},\"secs\":{elapsed:.4},\"client_cpu\":{:.4},\"broker_cpu\":{}}}",
        c1 - c0,
        json_opt(b1.zip(b0).map(|(a, b)| a - b))
    );
    Ok(())
}

/// `count` commit records: synchronous commits of `partitions` partitions at a time.
fn commit_many(brokers: &str, topic: &str, group: &str, partitions: i32, count: u64) -> Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let topic_spec = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    runtime.block_on(admin.create_topics(&[topic_spec], &AdminOptions::new()))?;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    let t0 = Instant::now();
    let rounds = count / partitions.max(1) as u64;
    for round in 0..rounds {
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Offset(round as i64))?;
        }
        consumer.commit(&tpl, rdkafka::consumer::CommitMode::Sync)?;
    }
    println!(
        "{{\"commits\":{},\"secs\":{:.3}}}",
        rounds * partitions as u64,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// log compaction

/// The `key=value` fields of the broker's "cleaned log" lines for `dir_suffix` (ANSI colours
/// removed), in order.
fn cleaned_lines(log: &Path, dir_suffix: &str) -> Result<CleanedLines> {
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut plain = String::with_capacity(line.len());
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                plain.push(c);
            }
        }
        if !plain.contains("cleaned log") {
            continue;
        }
        let fields: std::collections::HashMap<String, String> = plain
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if fields.get("dir").is_some_and(|d| d.ends_with(dir_suffix)) {
            out.push(fields);
        }
    }
    Ok(out)
}

/// The cleaner's per-pass fields, by line.
type CleanedLines = Vec<std::collections::HashMap<String, String>>;
/// Reads them from a broker's log for a partition.
type LinesOf = fn(&Path, &str) -> Result<CleanedLines>;

/// Kafka's cleaner statistics for `topic_partition` (its `LogCleaner` INFO lines on the
/// broker's stderr), in the fields of [`cleaned_lines`]: `cleaned_up_to` from "dirty section =
/// [from, to]", bytes from "MB of log processed" (Kafka's MB are MiB), "Indexed" and "End size",
/// `duration_ms` from the seconds processed.
fn kafka_cleaned_lines(log: &Path, topic_partition: &str) -> Result<CleanedLines> {
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let number = |s: &str| -> f64 { s.replace(',', "").parse().unwrap_or(0.0) };
    let mib = |s: &str| format!("{:.0}", number(s) * 1_048_576.0);
    let head = format!("cleaned log {topic_partition} (dirty section = [");
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(at) = line.find(&head) else { continue };
        let rest = &line[at + head.len()..];
        let Some(to) = rest.split(']').next().and_then(|r| r.split(", ").nth(1)) else {
            continue;
        };
        let mut f = std::collections::HashMap::new();
        f.insert("cleaned_up_to".to_string(), to.trim().to_string());
        for l in lines.iter().skip(i + 1).take(8) {
            let w: Vec<&str> = l.split_whitespace().collect();
            if l.contains("MB of log processed in") {
                f.insert("bytes_read".into(), mib(w[0]));
                f.insert(
                    "duration_ms".into(),
                    format!("{:.0}", number(w[6]) * 1000.0),
                );
            } else if l.trim_start().starts_with("Indexed") {
                f.insert("map_bytes_read".into(), mib(w[1]));
            } else if l.trim_start().starts_with("End size:") {
                f.insert("bytes_written".into(), mib(w[2]));
                f.insert(
                    "records_kept".into(),
                    w[4].trim_start_matches('(').replace(',', ""),
                );
            }
        }
        out.push(f);
    }
    Ok(out)
}

/// CPU seconds of the broker's thread whose name (`comm`, at most 15 bytes) starts with
/// `name`, if there is one.
fn thread_cpu_secs(pid: u32, name: &str) -> Option<f64> {
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let t = t.ok()?.path();
        let comm = std::fs::read_to_string(t.join("comm")).ok()?;
        if !comm.trim().starts_with(name) {
            continue;
        }
        let stat = std::fs::read_to_string(t.join("stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f[11].parse::<u64>().ok()? + f[12].parse::<u64>().ok()?;
        return Some(ticks as f64 / clk_tck());
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn compact(
    brokers: &str,
    topic: &str,
    count: u64,
    keys: u64,
    size: usize,
    log: &Path,
    kafka: bool,
    broker_pid: u32,
) -> Result<()> {
    let (thread, lines_of): (&str, LinesOf) = if kafka {
        ("kafka-log-clean", kafka_cleaned_lines)
    } else {
        ("log-cleaner-0", cleaned_lines)
    };
    use rdkafka::admin::{
        AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication,
    };
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let configs = |lag: &'static str| {
        [
            ("cleanup.policy", "compact"),
            ("segment.bytes", "67108864"),
            ("segment.ms", "1000"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("min.compaction.lag.ms", lag),
        ]
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut t = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    for (k, v) in configs("86400000") {
        t = t.set(k, v);
    }
    let created = runtime.block_on(admin.create_topics(&[t], &AdminOptions::new()))?;
    created[0]
        .clone()
        .map_err(|(t, e)| anyhow!("create {t}: {e}"))?;
    let producer: BaseProducer<AckCounter> =
        producer_config(brokers).create_with_context(AckCounter::default())?;
    let payloads = text_payloads(1000, size);
    let send = |key: &str, value: &[u8]| -> Result<()> {
        let mut r = BaseRecord::to(topic).partition(0).key(key).payload(value);
        loop {
            match producer.send(r) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    producer.poll(Duration::from_millis(5));
                    r = back;
                }
                Err((e, _)) => bail!("produce: {e}"),
            }
        }
    };
    for i in 0..count {
        send(&format!("key-{}", i % keys), &payloads[(i % 1000) as usize])?;
    }
    producer.flush(Duration::from_secs(120))?;
    // Past segment.ms, one more record rolls the segment: everything above becomes cleanable.
    std::thread::sleep(Duration::from_millis(1100));
    send("end", b"end")?;
    producer.flush(Duration::from_secs(60))?;
    let acks = producer.context();
    if acks.failed.load(Ordering::Relaxed) > 0 {
        bail!("produce failed: {:?}", acks.first_error.lock().unwrap());
    }
    let suffix = format!("{topic}-0");
    let before = lines_of(log, &suffix)?.len();
    let cpu0 = thread_cpu_secs(broker_pid, thread).unwrap_or(0.0);
    let t0 = Instant::now();
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (k, v) in configs("0") {
        alter = alter.set(k, v);
    }
    runtime.block_on(admin.alter_configs(&[alter], &AdminOptions::new()))?;
    let done = count.to_string();
    let lines = loop {
        let lines = lines_of(log, &suffix)?;
        if lines[before..]
            .iter()
            .any(|l| l.get("cleaned_up_to") == Some(&done))
        {
            break lines;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("the cleaner did not finish in 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = t0.elapsed().as_secs_f64();
    let cpu = thread_cpu_secs(broker_pid, thread).unwrap_or(0.0) - cpu0;
    let sum = |k: &str| -> u64 {
        lines[before..]
            .iter()
            .filter_map(|l| l.get(k)?.parse::<u64>().ok())
            .sum()
    };
    println!(
        "{{\"records\":{count},\"keys\":{keys},\"passes\":{},\"map_bytes_read\":{},\"bytes_read\":{},\"bytes_written\":{},\"records_kept\":{},\"cleaner_ms\":{},\"wall_secs\":{wall:.3},\"cleaner_cpu\":{cpu:.3}}}",
        lines.len() - before,
        sum("map_bytes_read"),
        sum("bytes_read"),
        sum("bytes_written"),
        sum("records_kept"),
        sum("duration_ms"),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// many partitions

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn many_partitions(brokers: &str, topics: usize, partitions: i32, broker_pid: u32) -> Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let names: Vec<String> = (0..topics).map(|t| format!("many-{t}")).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let t0 = Instant::now();
    for chunk in names.chunks(10) {
        let new: Vec<NewTopic<'_>> = chunk
            .iter()
            .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(120)));
        for r in rt.block_on(admin.create_topics(&new, &opts))? {
            r.map_err(|(t, e)| anyhow!("creating {t}: {e}"))?;
        }
    }
    let create_secs = t0.elapsed().as_secs_f64();
    let producer: BaseProducer<AckCounter> = producer_config(brokers)
        .set("acks", "1")
        .create_with_context(AckCounter::default())?;
    let t1 = Instant::now();
    for n in &names {
        for p in 0..partitions {
            let mut r = BaseRecord::<(), [u8]>::to(n)
                .partition(p)
                .payload(b"one record");
            loop {
                match producer.send(r) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        r = back;
                        producer.poll(Duration::from_millis(1));
                    }
                    Err((e, _)) => return Err(e.into()),
                }
            }
        }
    }
    producer.flush(Duration::from_secs(300))?;
    let produce_secs = t1.elapsed().as_secs_f64();
    let acked = producer.context().acked.load(Ordering::Relaxed);
    // Idle: let the broker settle before reading its memory.
    std::thread::sleep(Duration::from_millis(500));
    let (rss, hwm, anon) = rss_kb(broker_pid)?;
    println!(
        "{{\"partitions\":{},\"acked\":{acked},\"create_secs\":{create_secs:.3},\
         \"produce_secs\":{produce_secs:.3},\"rss_kb\":{rss},\"hwm_kb\":{hwm},\
         \"anon_kb\":{anon},\"fds\":{}}}",
        topics as i64 * i64::from(partitions),
        open_fds(broker_pid)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// fetch

fn fetch(brokers: &str, topic: &str, read_committed: bool, broker_pid: Option<u32>) -> Result<()> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        // librdkafka refuses `assign` without a group.id; it is never joined (no subscribe).
        .set("group.id", format!("bench-fetch-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        // read_committed: the last offsets are markers the application never sees, so a
        // partition is done at its end-of-partition event.
        .set("enable.partition.eof", read_committed.to_string())
        .set(
            "isolation.level",
            if read_committed {
                "read_committed"
            } else {
                "read_uncommitted"
            },
        )
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "8388608")
        .set("queued.max.messages.kbytes", "262144")
        .create()?;
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let parts: Vec<i32> = md
        .topics()
        .first()
        .ok_or_else(|| anyhow!("no topic {topic}"))?
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut tpl = TopicPartitionList::new();
    // Per partition: (high watermark, next offset still to read).
    let mut todo = Vec::new();
    for &p in &parts {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        tpl.add_partition_offset(topic, p, Offset::Offset(low))?;
        todo.push((p, high, low));
    }
    let mut remaining = todo.iter().filter(|(_, h, l)| h > l).count();

    let (b0, c0) = (opt_cpu(broker_pid), cpu_secs(None)?);
    let u0 = broker_pid.and_then(user_secs);
    let t0 = Instant::now();
    consumer.assign(&tpl)?;
    let (mut msgs, mut bytes) = (0u64, 0u64);
    let deadline = t0 + Duration::from_secs(600);
    while remaining > 0 {
        if Instant::now() > deadline {
            bail!("fetch did not reach the high watermark in 600 s");
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                if let Some(t) = todo.iter_mut().find(|t| t.0 == p && t.2 < t.1) {
                    t.2 = t.1;
                    remaining -= 1;
                }
            }
            Some(Err(e)) => bail!("consume error: {e}"),
            Some(Ok(m)) => {
                msgs += 1;
                bytes += m.payload_len() as u64;
                let (p, o) = (m.partition(), m.offset());
                if let Some(t) = todo.iter_mut().find(|t| t.0 == p) {
                    if t.2 < t.1 && o + 1 >= t.1 {
                        remaining -= 1;
                    }
                    t.2 = o + 1;
                }
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let (b1, c1) = (opt_cpu(broker_pid), cpu_secs(None)?);
    let u1 = broker_pid.and_then(user_secs);
    let (rss, hwm, anon) = broker_pid.and_then(|p| rss_kb(p).ok()).unwrap_or((0, 0, 0));
    println!(
        "{{\"msgs\":{msgs},\"bytes\":{bytes},\"secs\":{secs:.4},\"client_cpu\":{:.4},\
         \"broker_cpu\":{},\"broker_user\":{},\"rss_kb\":{rss},\"hwm_kb\":{hwm},\
         \"anon_kb\":{anon}}}",
        c1 - c0,
        json_opt(b1.zip(b0).map(|(a, b)| a - b)),
        json_opt(u1.zip(u0).map(|(a, b)| a - b)),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// transactions

fn txn(
    brokers: &str,
    topic: &str,
    size: usize,
    count: u64,
    per_txn: u64,
    broker_pid: Option<u32>,
) -> Result<()> {
    let mut cfg = producer_config(brokers);
    cfg.set(
        "transactional.id",
        format!("bench-txn-{}-{per_txn}", std::process::id()),
    );
    let producer: BaseProducer<AckCounter> = cfg.create_with_context(AckCounter::default())?;
    let t = Duration::from_secs(60);
    producer.init_transactions(t)?;
    let payload = vec![b'x'; size];
    // Warm-up: one transaction outside the timed section (metadata, partitions, coordinator).
    producer.begin_transaction()?;
    producer
        .send(BaseRecord::<(), [u8]>::to(topic).payload(&payload[..]))
        .map_err(|(e, _)| e)?;
    producer.commit_transaction(t)?;
    producer.context().acked.store(0, Ordering::Relaxed);

    let (b0, c0) = (opt_cpu(broker_pid), cpu_secs(None)?);
    let t0 = Instant::now();
    let mut commits_ms = Vec::new();
    let mut sent = 0u64;
    while sent < count {
        producer.begin_transaction()?;
        let n = per_txn.min(count - sent);
        for _ in 0..n {
            loop {
                match producer.send(BaseRecord::<(), [u8]>::to(topic).payload(&payload[..])) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        producer.poll(Duration::from_millis(1));
                    }
                    Err((e, _)) => return Err(e.into()),
                }
            }
        }
        sent += n;
        let c = Instant::now();
        producer.commit_transaction(t)?;
        commits_ms.push(c.elapsed().as_secs_f64() * 1000.0);
    }
    let secs = t0.elapsed().as_secs_f64();
    let (b1, c1) = (opt_cpu(broker_pid), cpu_secs(None)?);
    let acked = producer.context().acked.load(Ordering::Relaxed);
    commits_ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{{\"msgs\":{acked},\"bytes\":{},\"secs\":{secs:.4},\"transactions\":{},\
         \"commit_p50_ms\":{:.3},\"commit_p99_ms\":{:.3},\"client_cpu\":{:.4},\
         \"broker_cpu\":{}}}",
        acked * size as u64,
        commits_ms.len(),
        percentile(&commits_ms, 0.50),
        percentile(&commits_ms, 0.99),
        c1 - c0,
        json_opt(b1.zip(b0).map(|(a, b)| a - b)),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// latency

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i]
}

fn latency(brokers: &str, topic: &str, rate: u64, secs: f64, size: usize) -> Result<()> {
    let size = size.max(8);
    // Create the topic (auto-create) before the consumer looks for it.
    let producer: BaseProducer<AckCounter> = producer_config(brokers)
        .set("linger.ms", "0")
        .set("acks", "1")
        .create_with_context(AckCounter::default())?;
    producer
        .send(BaseRecord::<(), [u8]>::to(topic).payload(&[0u8; 8][..]))
        .map_err(|(e, _)| e)?;
    producer.flush(Duration::from_secs(30))?;

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("bench-latency-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()?;
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        let (_, high) = consumer.fetch_watermarks(topic, p.id(), Duration::from_secs(10))?;
        tpl.add_partition_offset(topic, p.id(), Offset::Offset(high))?;
    }
    consumer.assign(&tpl)?;
    // Let the consumer's first fetches go out (and park at the broker) before sending.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(1000) {
        consumer.poll(Duration::from_millis(50));
    }

    let base = Instant::now();
    let total = (rate as f64 * secs) as u64;
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let done = done.clone();
        let topic = topic.to_string();
        std::thread::spawn(move || -> Result<u64> {
            let mut payload = vec![0u8; size];
            let start = Instant::now();
            for i in 0..total {
                let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                loop {
                    let now = Instant::now();
                    if now >= due {
                        break;
                    }
                    producer.poll(Duration::ZERO);
                    std::thread::sleep((due - now).min(Duration::from_micros(200)));
                }
                let ns = base.elapsed().as_nanos() as u64;
                payload[..8].copy_from_slice(&ns.to_be_bytes());
                producer
                    .send(BaseRecord::<(), [u8]>::to(&topic).payload(&payload[..]))
                    .map_err(|(e, _)| e)?;
            }
            producer.flush(Duration::from_secs(30))?;
            done.store(true, Ordering::Relaxed);
            Ok(total)
        })
    };
    let mut lat_ms = Vec::with_capacity(total as usize);
    let mut drain_deadline = None;
    loop {
        if done.load(Ordering::Relaxed) && drain_deadline.is_none() {
            drain_deadline = Some(Instant::now() + Duration::from_secs(5));
        }
        if lat_ms.len() as u64 >= total || drain_deadline.is_some_and(|d| Instant::now() > d) {
            break;
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
            let now = base.elapsed().as_nanos() as u64;
            if let Some(p) = m.payload().filter(|p| p.len() >= 8) {
                let sent = u64::from_be_bytes(p[..8].try_into().unwrap());
                lat_ms.push(now.saturating_sub(sent) as f64 / 1e6);
            }
        }
    }
    let sent = sender.join().map_err(|_| anyhow!("sender panicked"))??;
    lat_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{{\"sent\":{sent},\"received\":{},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
        lat_ms.len(),
        percentile(&lat_ms, 0.5),
        percentile(&lat_ms, 0.99),
        lat_ms.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// groups

/// What one member owns, read from `assignment()` after each poll (KIP-848 rebalances are
/// incremental, so the rebalance callbacks name only what changed), and when that last changed.
#[derive(Default)]
struct MemberState {
    assigned: Mutex<BTreeSet<i32>>,
    changed: Mutex<Option<Instant>>,
}

/// Waits until `states` own every partition once with `idle` of them owning none; returns the
/// time of the last change.
fn wait_group_stable(
    states: &[&Arc<MemberState>],
    partitions: usize,
    idle: usize,
    deadline: Instant,
) -> Option<Instant> {
    loop {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
        let sets: Vec<BTreeSet<i32>> = states
            .iter()
            .map(|s| s.assigned.lock().unwrap().clone())
            .collect();
        let owned: usize = sets.iter().map(BTreeSet::len).sum();
        let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        if owned == partitions
            && union.len() == partitions
            && sets.iter().filter(|s| s.is_empty()).count() == idle
        {
            return states
                .iter()
                .filter_map(|s| *s.changed.lock().unwrap())
                .max();
        }
    }
}

/// MEMBERS consumers (`protocol` classic or consumer, client defaults otherwise) subscribe;
/// `stable_ms` is from the last subscribe to the last assignment change of a stable group,
/// `recover_ms` from the moment a member owning a partition closes to the others' last change.
fn groups(
    brokers: &str,
    topic: &str,
    group: &str,
    members: usize,
    partitions: usize,
    protocol: &str,
) -> Result<()> {
    // Make sure the topic exists (the broker runs with num.partitions = `partitions`).
    let producer: BaseProducer = producer_config(brokers).create()?;
    producer
        .send(BaseRecord::<(), [u8]>::to(topic).payload(&b"x"[..]))
        .map_err(|(e, _)| e)?;
    producer.flush(Duration::from_secs(30))?;

    let mut states = Vec::new();
    let mut stops = Vec::new();
    let mut threads = Vec::new();
    let (sub_tx, sub_rx) = mpsc::channel();
    for _ in 0..members {
        let state = Arc::new(MemberState::default());
        let stop = Arc::new(AtomicBool::new(false));
        states.push(state.clone());
        stops.push(stop.clone());
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", group)
            .set("group.protocol", protocol)
            .create()?;
        let (topic, sub_tx) = (topic.to_string(), sub_tx.clone());
        threads.push(std::thread::spawn(move || -> Result<()> {
            consumer.subscribe(&[&topic])?;
            sub_tx.send(Instant::now())?;
            while !stop.load(Ordering::Relaxed) {
                consumer.poll(Duration::from_millis(20));
                let now: BTreeSet<i32> = consumer
                    .assignment()?
                    .elements()
                    .iter()
                    .map(|e| e.partition())
                    .collect();
                let mut held = state.assigned.lock().unwrap();
                if *held != now {
                    *held = now;
                    *state.changed.lock().unwrap() = Some(Instant::now());
                }
            }
            Ok(())
        }));
    }
    let mut last_subscribed = None;
    for _ in 0..members {
        let t = sub_rx.recv_timeout(Duration::from_secs(10))?;
        last_subscribed = Some(last_subscribed.map_or(t, |l: Instant| l.max(t)));
    }
    let t0 = last_subscribed.unwrap();
    let all: Vec<&Arc<MemberState>> = states.iter().collect();
    let idle = members.saturating_sub(partitions);
    let stable_at = wait_group_stable(&all, partitions, idle, t0 + Duration::from_secs(120))
        .ok_or_else(|| anyhow!("no stable assignment within 120 s"))?;
    // The member owning partition 0 closes (LeaveGroup, or a heartbeat with epoch -1).
    let leaver = states
        .iter()
        .position(|s| s.assigned.lock().unwrap().contains(&0))
        .ok_or_else(|| anyhow!("nobody owns partition 0"))?;
    stops[leaver].store(true, Ordering::Relaxed);
    let left = Instant::now();
    let rest: Vec<&Arc<MemberState>> = states
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leaver)
        .map(|(_, s)| s)
        .collect();
    let idle_after = (members - 1).saturating_sub(partitions);
    let recovered_at = wait_group_stable(
        &rest,
        partitions,
        idle_after,
        left + Duration::from_secs(120),
    )
    .ok_or_else(|| anyhow!("no stable assignment within 120 s after a leave"))?;
    for s in &stops {
        s.store(true, Ordering::Relaxed);
    }
    for t in threads {
        t.join().map_err(|_| anyhow!("member panicked"))??;
    }
    println!(
        "{{\"stable_ms\":{:.3},\"recover_ms\":{:.3}}}",
        stable_at.saturating_duration_since(t0).as_secs_f64() * 1e3,
        recovered_at.saturating_duration_since(left).as_secs_f64() * 1e3
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// loopback

fn loopback(secs: f64) -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let receiver = std::thread::spawn(move || -> Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    });
    let mut s = TcpStream::connect(addr)?;
    let buf = vec![7u8; 1 << 20];
    let t0 = Instant::now();
    let dur = Duration::from_secs_f64(secs);
    while t0.elapsed() < dur {
        s.write_all(&buf)?;
    }
    drop(s);
    let total = receiver
        .join()
        .map_err(|_| anyhow!("receiver panicked"))??;
    let secs = t0.elapsed().as_secs_f64();
    println!("{{\"bytes\":{total},\"secs\":{secs:.4}}}");
    Ok(())
}
