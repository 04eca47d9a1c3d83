//! The `gregor` binary run as a separate process, so tests can SIGKILL it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A broker process and the lines it printed.
pub struct BrokerProcess {
    pub child: Child,
    /// The first node's address.
    pub addr: SocketAddr,
    /// Every node's address, comma-separated (the port file's contents).
    pub bootstrap: String,
    /// Everything written to stderr (the tracing log) and stdout (the banner) so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl BrokerProcess {
    /// Starts `gregor` on a free port over `data_dir` and waits for its "listening" line.
    pub fn spawn(data_dir: &Path, extra: &[&str]) -> BrokerProcess {
        Self::spawn_at("127.0.0.1:0", data_dir, extra)
    }

    /// Starts `gregor` listening on `listen` (e.g. the port of a previous run, so clients
    /// reconnect to the restarted broker).
    pub fn spawn_at(listen: &str, data_dir: &Path, extra: &[&str]) -> BrokerProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gregor"));
        cmd.args(["--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(extra);
        Self::spawn_command(cmd)
    }

    /// Starts `gregor` under `ulimit -n max_files` (soft and hard, so it cannot raise it).
    pub fn spawn_with_file_limit(max_files: u32, data_dir: &Path, extra: &[&str]) -> BrokerProcess {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {max_files} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_gregor"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra);
        Self::spawn_command(cmd)
    }

    /// Runs `cmd` (a `gregor` command line) and waits until it has written its bound address
    /// to a port file (`--port-file`).
    pub fn spawn_command(mut cmd: Command) -> BrokerProcess {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let port_file = std::env::temp_dir().join(format!(
            "gregor-test-port-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&port_file);
        cmd.arg("--port-file").arg(&port_file);
        let mut child = cmd
            .env("RUST_LOG", "info")
            // Tests that want the admin endpoint pass --admin.
            .env("GREGOR_ADMIN", "off")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gregor");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        // Keep stdout drained (the banner) so the broker never blocks writing it; its lines
        // join the log (the admin endpoint's address is one).
        let stdout = child.stdout.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let (addr, bootstrap) = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                // Several brokers: a bootstrap list, the first node's address first.
                if let Ok(a) = text.trim().split(',').next().unwrap_or("").parse() {
                    break (a, text.trim().to_string());
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "gregor exited with {status} before listening: {:?}",
                    log.lock().unwrap()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "gregor did not start in 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let _ = std::fs::remove_file(&port_file);
        BrokerProcess {
            child,
            addr,
            bootstrap,
            log,
        }
    }

    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("exits")
    }

    /// The admin endpoint's (and console's) address from the banner, waiting for it.
    pub fn admin_addr(&self) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let found = self.log.lock().unwrap().iter().find_map(|l| {
                l.strip_prefix("console http://")
                    .and_then(|r| r.split('/').next())
                    .map(str::to_string)
            });
            if let Some(a) = found {
                return a;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no admin endpoint banner"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Broker log lines at ERROR level.
    pub fn errors(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(" ERROR "))
            .cloned()
            .collect()
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    /// Open file descriptors of the process now.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// A line of `/proc/<pid>/status` as a number (e.g. `VmHWM` in kB).
    pub fn status_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Client settings for the kill -9 loops: IPv4, and quick reconnects to a restarted broker.
pub fn kill_loop_client(bootstrap: &str) -> rdkafka::ClientConfig {
    let mut c = rdkafka::ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("reconnect.backoff.ms", "20")
        .set("reconnect.backoff.max.ms", "200");
    c
}

/// A xorshift64 generator from `seed`: `rnd(n)` is in `0..n` (kill timings that repeat from
/// run to run).
pub fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}

/// A producer context keeping every acknowledged payload (as text) and every delivery error.
#[derive(Clone, Default)]
pub struct Acks {
    pub acked: Arc<Mutex<Vec<String>>>,
    pub errors: Arc<Mutex<Vec<String>>>,
}

impl rdkafka::ClientContext for Acks {}

impl rdkafka::producer::ProducerContext for Acks {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &rdkafka::producer::DeliveryResult<'_>, _: ()) {
        use rdkafka::message::Message;
        match result {
            Ok(m) => self
                .acked
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned()),
            Err((e, _)) => self.errors.lock().unwrap().push(e.to_string()),
        }
    }
}

/// One call to a broker's admin endpoint: (HTTP status, JSON body).
pub fn admin_call(
    admin: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let req = ureq::request(method, &format!("http://{admin}{path}"))
        .timeout(std::time::Duration::from_secs(60));
    let res = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match res {
        Ok(r) => (r.status(), r.into_json().unwrap_or(serde_json::Value::Null)),
        Err(ureq::Error::Status(code, r)) => {
            (code, r.into_json().unwrap_or(serde_json::Value::Null))
        }
        Err(e) => panic!("admin endpoint {admin}: {e}"),
    }
}

/// [`admin_call`] that must answer 200.
pub fn admin_ok(
    admin: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let (status, v) = admin_call(admin, method, path, body);
    assert_eq!(status, 200, "{method} {path}: {v}");
    v
}

/// Every value in `topic` (partition, payload as text), read from the beginning to the end
/// offsets the partitions have now.
pub fn read_all(bootstrap: &str, topic: &str, partitions: i32) -> Vec<(i32, String)> {
    use rdkafka::consumer::Consumer;
    use rdkafka::message::Message;
    let c: rdkafka::consumer::BaseConsumer = kill_loop_client(bootstrap)
        .set("group.id", "read-all")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    let mut total = 0;
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, rdkafka::Offset::Beginning)
            .unwrap();
        total += c
            .fetch_watermarks(topic, p, std::time::Duration::from_secs(30))
            .unwrap()
            .1;
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while (out.len() as i64) < total {
        assert!(
            std::time::Instant::now() < deadline,
            "read {} of {total}",
            out.len()
        );
        if let Some(Ok(m)) = c.poll(std::time::Duration::from_millis(200)) {
            out.push((
                m.partition(),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            ));
        }
    }
    out
}
