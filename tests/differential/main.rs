//! Differential protocol tests: a corpus of requests (`corpus.rs`), valid and invalid, sent over
//! raw sockets to a fresh Gregor and to the reference Apache Kafka 4.4; the responses are decoded
//! and compared field by field after normalising what must differ (`diff.rs`). Every remaining
//! difference must be listed, with its reason, in `compat/reference/accepted-differences.txt`;
//! a difference not listed there fails, and so does a listed one that no longer occurs.
//!
//! The reference is found through `GREGOR_REFERENCE_BOOTSTRAP` (scripts/test starts one with
//! `scripts/reference-kafka start`). Without it the test is reported as ignored, not passed:
//! this binary has its own `main` and prints libtest's summary line.

#[path = "../common/mod.rs"]
mod common;
mod compaction;
mod consumer_groups;
mod corpus;
mod diff;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{api_key_of, encode_request, RawClient, TestBroker};
use kafka_protocol::messages::{RequestKind, ResponseKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One accepted difference: a case (glob), a field path (glob) and why.
struct Accepted {
    case: String,
    path: String,
    reason: String,
    used: bool,
}

fn accepted() -> Vec<Accepted> {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/reference/accepted-differences.txt");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(3, '|').map(str::trim);
            let case = parts.next().unwrap_or_default().to_string();
            let path = parts.next().unwrap_or_default().to_string();
            let reason = parts.next().unwrap_or_default().to_string();
            assert!(
                !reason.is_empty(),
                "accepted difference without a reason: {l}"
            );
            Accepted {
                case,
                path,
                reason,
                used: false,
            }
        })
        .collect()
}

/// What one broker did with a request.
#[derive(Debug)]
pub enum Answer {
    /// A decoded response.
    Response(Box<ResponseKind>),
    /// It closed the connection (or sent nothing within 10 s).
    Closed,
}

fn answer_text(a: &Answer) -> String {
    match a {
        Answer::Response(r) => format!("{r:#?}"),
        Answer::Closed => "Closed".to_string(),
    }
}

/// The two brokers, one connection to each, and the differences found so far.
pub struct Pair {
    gregor_addr: SocketAddr,
    kafka_addr: SocketAddr,
    gregor: RawClient,
    kafka: RawClient,
    correlation: i32,
    /// (case, differences) of every comparison.
    pub results: Vec<(String, Vec<diff::Difference>)>,
}

impl Pair {
    async fn send(
        client: &mut RawClient,
        addr: SocketAddr,
        req: &RequestKind,
        version: i16,
        correlation: i32,
    ) -> Answer {
        let key = api_key_of(req);
        let frame = encode_request(req, key, version, correlation);
        if client.stream.write_all(&frame).await.is_err() {
            *client = RawClient::connect(addr).await;
            return Answer::Closed;
        }
        match client
            .read_frame(key.response_header_version(version))
            .await
        {
            Some((_, mut body)) => match ResponseKind::decode(key, &mut body, version) {
                Ok(r) => Answer::Response(Box::new(r)),
                Err(e) => panic!("{key:?} v{version}: undecodable response: {e}"),
            },
            None => {
                *client = RawClient::connect(addr).await;
                Answer::Closed
            }
        }
    }

    /// One request to each broker under one correlation id: (Gregor's answer, Kafka's).
    async fn send_both(
        &mut self,
        gregor_req: &RequestKind,
        kafka_req: &RequestKind,
        version: i16,
    ) -> (Answer, Answer) {
        self.correlation += 1;
        let g = Self::send(
            &mut self.gregor,
            self.gregor_addr,
            gregor_req,
            version,
            self.correlation,
        )
        .await;
        let k = Self::send(
            &mut self.kafka,
            self.kafka_addr,
            kafka_req,
            version,
            self.correlation,
        )
        .await;
        (g, k)
    }

    /// Sends `req` at `version` to both brokers, compares the answers, and returns them
    /// (Gregor's, Kafka's).
    pub async fn compare(
        &mut self,
        case: &str,
        req: RequestKind,
        version: i16,
    ) -> (Answer, Answer) {
        self.compare_each(req.clone(), req, case, version).await
    }

    /// [`Self::compare`] with a request of its own for each broker (carrying the member id
    /// each one handed out).
    pub async fn compare_each(
        &mut self,
        gregor_req: RequestKind,
        kafka_req: RequestKind,
        case: &str,
        version: i16,
    ) -> (Answer, Answer) {
        let (g, k) = self.send_both(&gregor_req, &kafka_req, version).await;
        let d = diff::compare(
            &diff::fields(&answer_text(&g)),
            &diff::fields(&answer_text(&k)),
        );
        if !d.is_empty() && std::env::var("DIFF_RAW").is_ok_and(|c| case.contains(&c)) {
            println!("{case}: gregor {g:?}\n{case}: kafka {k:?}");
        }
        self.results.push((case.to_string(), d));
        (g, k)
    }

    /// Waits until `cond` holds for both brokers' answer to `req` (a group settling, a topic
    /// appearing), without comparing; bounded so a broken broker fails instead of hanging.
    pub async fn settle(
        &mut self,
        req: RequestKind,
        version: i16,
        cond: impl Fn(&ResponseKind) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (g, k) = self.send_both(&req, &req, version).await;
            let ok = |a: &Answer| matches!(a, Answer::Response(r) if cond(r));
            if ok(&g) && ok(&k) {
                return;
            }
            assert!(Instant::now() < deadline, "never settled: {g:?} / {k:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A fresh connection to each (for requests that must come first on a connection).
    pub async fn reconnect(&mut self) {
        self.gregor = RawClient::connect(self.gregor_addr).await;
        self.kafka = RawClient::connect(self.kafka_addr).await;
    }

    /// Raw bytes written to both, and what each answered: the raw frame's first bytes after
    /// the correlation id, or closed.
    pub async fn compare_raw(&mut self, case: &str, frame: &[u8]) {
        let mut outcome = Vec::new();
        for addr in [self.gregor_addr, self.kafka_addr] {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(frame).await.unwrap();
            let mut len = [0u8; 4];
            let got = tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut len)).await;
            outcome.push(match got {
                Ok(Ok(_)) => format!("answered ({} bytes)", i32::from_be_bytes(len)),
                _ => "Closed".to_string(),
            });
        }
        let d = diff::compare(&diff::fields(&outcome[0]), &diff::fields(&outcome[1]));
        self.results.push((case.to_string(), d));
    }
}

fn main() {
    diff::self_check();
    let Ok(reference) = std::env::var("GREGOR_REFERENCE_BOOTSTRAP") else {
        println!(
            "\nrunning 1 test\ntest differential ... ignored, no reference Kafka: set \
             GREGOR_REFERENCE_BOOTSTRAP (scripts/test starts one with scripts/reference-kafka)\n\n\
             test result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; \
             finished in 0.00s\n"
        );
        return;
    };
    let kafka_addr: SocketAddr = reference
        .parse()
        .unwrap_or_else(|_| panic!("GREGOR_REFERENCE_BOOTSTRAP={reference} is not host:port"));
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let results = rt.block_on(async move {
        // The keys scripts/reference-kafka sets, so both report them as static broker configs.
        let broker = TestBroker::start(&[
            ("group.initial.rebalance.delay.ms", "100"),
            ("num.partitions", "1"),
            ("auto.create.topics.enable", "true"),
            ("offsets.topic.num.partitions", "50"),
            // Kafka's default; Gregor's own is 250 for quicker local rebalances.
            ("group.consumer.heartbeat.interval.ms", "5000"),
        ])
        .await;
        let mut pair = Pair {
            gregor_addr: broker.addr,
            kafka_addr,
            gregor: RawClient::connect(broker.addr).await,
            kafka: RawClient::connect(kafka_addr).await,
            correlation: 0,
            results: Vec::new(),
        };
        corpus::run(&mut pair).await;
        drop(broker);
        pair.results
    });
    let mut accepted = accepted();
    let mut failed = Vec::new();
    let mut cases: Vec<String> = Vec::new();
    let mut accepted_count = 0;
    for (case, diffs) in &results {
        if !cases.contains(case) {
            cases.push(case.clone());
        }
        for d in diffs {
            match accepted
                .iter_mut()
                .find(|a| diff::glob(&a.case, case) && diff::glob(&a.path, &d.path))
            {
                Some(a) => {
                    a.used = true;
                    accepted_count += 1;
                }
                None => failed.push((case.clone(), d.clone())),
            }
        }
    }
    println!("\nrunning {} tests", cases.len());
    for case in &cases {
        let bad: Vec<_> = failed.iter().filter(|(c, _)| c == case).collect();
        println!(
            "test {case} ... {}",
            if bad.is_empty() { "ok" } else { "FAILED" }
        );
        for (_, d) in bad {
            println!("    {}: gregor {} | kafka {}", d.path, d.gregor, d.kafka);
        }
    }
    let stale: Vec<&Accepted> = accepted.iter().filter(|a| !a.used).collect();
    for a in &stale {
        println!(
            "stale accepted difference (no longer occurs; remove it): {} | {} | {}",
            a.case, a.path, a.reason
        );
    }
    let failed_cases = cases
        .iter()
        .filter(|c| failed.iter().any(|(f, _)| f == *c))
        .count();
    let failed_total = failed_cases + stale.len();
    println!(
        "\n{} comparisons in {} cases; {accepted_count} accepted differences; {} unaccepted",
        results.len(),
        cases.len(),
        failed.len()
    );
    println!(
        "\ntest result: {}. {} passed; {failed_total} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        if failed_total == 0 { "ok" } else { "FAILED" },
        cases.len() - failed_cases,
        started.elapsed().as_secs_f64()
    );
    if failed_total > 0 {
        std::process::exit(1);
    }
}
