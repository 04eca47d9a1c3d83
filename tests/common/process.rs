//! The `gregor` binary run as a separate process, so tests can SIGKILL it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A broker process and the stderr lines it printed.
pub struct BrokerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything written to stderr so far (the tracing log).
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

    /// Runs `cmd` (a `gregor` command line) and waits for its "listening" line.
    pub fn spawn_command(mut cmd: Command) -> BrokerProcess {
        let mut child = cmd
            .env("RUST_LOG", "info")
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
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("startup line");
        let addr = line
            .split_whitespace()
            .nth(3)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        BrokerProcess { child, addr, log }
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
