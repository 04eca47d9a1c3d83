"""Kafka's own command-line tools (Apache Kafka 4.4) as a client family, driven from Python.

Run: python compat/kafka_tools.py --bootstrap 127.0.0.1:9092 [--scenario NAME]
Needs Java 17 and the jars of `scripts/reference-kafka fetch` (target/reference-kafka/libs).
Each tool invocation is one JVM on those jars (what bin/kafka-*.sh runs: same main class, same
jars, warnings and errors to stderr), started with client-side JIT and serial GC to keep a
start near one second. Every tool run is logged to stderr (command line, exit code, output);
KAFKA_TOOLS_TRACE=1 also logs each request the tool sends and its answer (the Java client's
NetworkClient at DEBUG), which names the API key and version of a failing request.

The scenarios are this family's own (the tools are admin programs, not a client library):
  topics                  kafka-topics: create (3 partitions, --config), create again (error),
                          list, describe, alter --partitions 5, describe a missing topic, delete
  console                 kafka-console-producer with parse.key, each codec by both
                          --compression-codec and compression.type; kafka-console-consumer
                          --from-beginning --max-messages with print.key: byte-identical output
  consumer_groups         kafka-consumer-groups: list, describe (offsets, --members --verbose,
                          --state) with a live console consumer and without, lag,
                          reset-offsets --to-earliest / --shift-by, delete-offsets, delete
  configs                 kafka-configs: topic describe / --all / add-config / delete-config;
                          broker describe / --all, a dynamic per-broker config set and removed
  delete_records_offsets  kafka-get-offsets (--time -1, -2, -3, a timestamp),
                          kafka-delete-records, then the new log start and a consumer from it
  admin_misc              kafka-log-dirs, kafka-transactions (describe-producers for an
                          idempotent producer's partition, list), kafka-metadata-quorum,
                          kafka-broker-api-versions
  transactions            a transactional kafka-producer-perf-test, kafka-transactions list /
                          describe showing it
  consumer_protocol       a group.protocol=consumer (KIP-848) member described
  client_quotas           kafka-configs --entity-type clients: quotas set, described, removed
  features                kafka-features describe
Independent checks inside a scenario all run, and a failing scenario names every failed step.
Options are the Kafka 4.4 names (--reader-property, --formatter-property, --command-property);
the deprecated --property / --producer-property / --consumer-property still work but the
console consumer prints its deprecation warning on stdout, into the records.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from common import SCENARIOS as MATRIX_SCENARIOS
from common import WAIT_S, Failed, NotApplicable, Steps, check, name

CLIENT = "tools"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBS = os.path.join(ROOT, "target", "reference-kafka", "libs")
TOOL_TIMEOUT = float(os.environ.get("KAFKA_TOOLS_TIMEOUT", "60"))  # per tool invocation
JAVA_OPTS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData"]
CODECS = ["gzip", "snappy", "lz4", "zstd"]
TRACING = bool(os.environ.get("KAFKA_TOOLS_TRACE"))
LOG_TAIL = 10**8 if TRACING else 6000  # characters of each tool output kept in the log

# bin/kafka-*.sh name -> main class in the 4.4 jars.
TOOLS = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-configs": "org.apache.kafka.tools.ConfigCommand",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-transactions": "org.apache.kafka.tools.TransactionsCommand",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-features": "org.apache.kafka.tools.FeatureCommand",
    "kafka-broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
}

LOG4J = """Configuration:
  Appenders:
    Console:
      name: STDERR
      target: SYSTEM_ERR
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
{trace}    Root:
      level: WARN
      AppenderRef:
        - ref: STDERR
"""
TRACE = """    Logger:
      - name: org.apache.kafka.clients.NetworkClient
        level: DEBUG
        additivity: false
        AppenderRef:
          - ref: STDERR
"""

WORK = tempfile.mkdtemp(prefix="kafka-tools-")
CHILDREN = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def java_cmd(script, args):
    cfg = os.path.join(WORK, "log4j2.yaml")
    if not os.path.exists(cfg):
        trace = TRACE if TRACING else ""
        with open(cfg, "w") as f:
            f.write(LOG4J.format(trace=trace))
    return ["java", *JAVA_OPTS, f"-Dlog4j2.configurationFile={cfg}", "-cp",
            os.path.join(LIBS, "*"), TOOLS[script], *args]


class Run:
    def __init__(self, script, args, rc, out, err, secs):
        self.script, self.args, self.rc, self.raw, self.err, self.secs = (
            script, args, rc, out, err.decode(errors="replace"), secs)
        self.out = out.decode(errors="replace")

    def what(self):
        """The command line for a message, without --bootstrap-server."""
        args, skip = [], False
        for a in self.args:
            if a == "--bootstrap-server" or skip:
                skip = not skip
                continue
            args.append(a)
        return " ".join([self.script, *args])[:120]

    def error(self):
        """The tool's own words for what went wrong: error and exception lines, no stacks."""
        lines = [l.strip() for l in (self.err + "\n" + self.out).splitlines()]
        hits = [l for l in lines if re.search(r"error|exception|not support|fail", l, re.I)
                and not l.startswith("at ") and "(org.apache.kafka.clients.NetworkClient)" not in l]
        causes = [l for l in hits if l.startswith("Caused by")]
        pick = causes[-1:] or hits[:1]
        text = " | ".join(pick) or " ".join(l for l in lines if l)[-300:] or "no output"
        return text[:400]


def tool(script, *args, stdin=None, ok=True, timeout=TOOL_TIMEOUT):
    """Run a Kafka tool to completion. Failed on a timeout, or on a non-zero exit if `ok`."""
    t0 = time.time()
    try:
        r = subprocess.run(java_cmd(script, args), input=stdin, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        log(f"$ {script} {' '.join(args)}\n  timed out after {timeout:.0f}s\n"
            f"  stdout: {(e.stdout or b'')[-2000:]!r}\n  stderr: {(e.stderr or b'')[-2000:]!r}")
        raise Failed(f"{script} {' '.join(args)[:100]} did not finish within {timeout:.0f}s")
    run = Run(script, args, r.returncode, r.stdout, r.stderr, time.time() - t0)
    log(f"$ {script} {' '.join(args)}\n  exit {r.returncode} after {run.secs:.1f}s")
    for label, text in (("stdout", run.out), ("stderr", run.err)):
        if text.strip():
            log(f"  {label}:\n" + "\n".join("    " + l for l in text[-LOG_TAIL:].splitlines()))
    if ok and r.returncode != 0:
        raise Failed(f"{run.what()} exited {r.returncode}: {run.error()}")
    return run


def spawn(script, *args, stdout):
    """A tool in the background; its stderr goes to a file (p.err_path), logged when reaped."""
    err_path = os.path.join(WORK, f"spawn-{len(CHILDREN)}.err")
    with open(err_path, "wb") as err:
        p = subprocess.Popen(java_cmd(script, args), stdout=stdout, stderr=err)
    p.err_path, p.what = err_path, f"{script} {' '.join(args)}"
    log(f"$ {p.what} &  (pid {p.pid})")
    CHILDREN.append(p)
    return p


def reap():
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            p.wait()
        with open(p.err_path, errors="replace") as f:
            err = f.read()
        log(f"$ {p.what} (pid {p.pid}) ended, exit {p.returncode}"
            + (f"\n  stderr:\n" + "\n".join("    " + l for l in err[-LOG_TAIL:].splitlines())
               if err.strip() else ""))
    CHILDREN.clear()


# ---------------------------------------------------------------------------------------------
# Tool wrappers and output parsers
# ---------------------------------------------------------------------------------------------

def create_topic(b, topic, partitions, *extra):
    r = tool("kafka-topics", "--bootstrap-server", b, "--create", "--topic", topic,
             "--partitions", str(partitions), "--replication-factor", "1", *extra)
    check(f"Created topic {topic}." in r.out, f"kafka-topics --create printed {r.out.strip()!r}")


def produce(b, topic, lines, *extra):
    """kafka-console-producer, keyed lines `key:value`."""
    data = "".join(l + "\n" for l in lines).encode()
    tool("kafka-console-producer", "--bootstrap-server", b, "--topic", topic,
         "--reader-property", "parse.key=true", "--reader-property", "key.separator=:",
         *extra, stdin=data)


def consume(b, topic, n, *extra):
    """kafka-console-consumer printing `key:value` lines; stdout as bytes."""
    r = tool("kafka-console-consumer", "--bootstrap-server", b, "--topic", topic,
             "--max-messages", str(n), "--timeout-ms", str(int(WAIT_S * 1000)),
             "--formatter-property", "print.key=true", "--formatter-property", "key.separator=:",
             *extra)
    return r.raw


def describe_topic(b, topic):
    """kafka-topics --describe: ({PartitionCount, Configs, ...}, [{Partition, Leader, ...}])."""
    r = tool("kafka-topics", "--bootstrap-server", b, "--describe", "--topic", topic)
    head, parts = None, []
    for line in r.out.splitlines():
        fields = dict(re.findall(r"(\w+): ?([^\t]*)", line))
        if "PartitionCount" in fields:
            head = fields
        elif "Partition" in fields:
            parts.append(fields)
    check(head is not None, f"kafka-topics --describe {topic}: no topic line in {r.out[:200]!r}")
    return head, parts, r


def table(text, first):
    """Whitespace-separated tables (kafka-consumer-groups, kafka-transactions): the rows under
    each header line whose first column is `first`, as dicts."""
    rows, header = [], None
    for line in text.splitlines():
        cells = line.split()
        if not cells:
            header = None
        elif cells[0] == first:
            header = cells
        elif header:
            rows.append(dict(zip(header, cells)))
    return rows


def offsets(b, topic, time_spec):
    """kafka-get-offsets --time X: {partition: offset} (None for an empty answer)."""
    r = tool("kafka-get-offsets", "--bootstrap-server", b, "--topic", topic, "--time",
             str(time_spec))
    got = {}
    for line in r.out.splitlines():
        m = re.fullmatch(rf"{re.escape(topic)}:(\d+):(-?\d*)", line.strip())
        if m:
            got[int(m.group(1))] = int(m.group(2)) if m.group(2) else None
    check(got, f"kafka-get-offsets --time {time_spec} printed no offsets: {r.out.strip()[:200]!r}")
    return got


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------

def topics(b):
    topic, missing = name("topics", CLIENT), name("missing", CLIENT)
    steps = Steps()
    create_topic(b, topic, 3, "--config", "retention.ms=7200000", "--config",
                 "max.message.bytes=2000000")
    with steps.step("create again"):
        r = tool("kafka-topics", "--bootstrap-server", b, "--create", "--topic", topic,
                 "--partitions", "3", ok=False)
        # Kafka says "Topic 'T' already exists."; the exception class and the words are what a
        # script would look for.
        check(r.rc != 0 and "TopicExistsException" in r.err
              and re.search(rf"{re.escape(topic)}'? already exists", r.out, re.I),
              f"exit {r.rc}, expected TopicExistsException '... already exists': {r.error()}")
    with steps.step("list"):
        r = tool("kafka-topics", "--bootstrap-server", b, "--list")
        check(topic in r.out.split(), f"--list lacks {topic}: {r.out.split()[:20]}")
    elr = ""
    with steps.step("describe"):
        head, parts, r = describe_topic(b, topic)
        check(head.get("Topic") == topic and head.get("PartitionCount") == "3"
              and head.get("ReplicationFactor") == "1",
              f"topic line {head}")
        configs = dict(c.split("=", 1) for c in head.get("Configs", "").split(",") if "=" in c)
        check(configs.get("retention.ms") == "7200000"
              and configs.get("max.message.bytes") == "2000000",
              f"Configs shows {head.get('Configs')!r}, want retention.ms=7200000 and "
              f"max.message.bytes=2000000")
        check(sorted(p.get("Partition") for p in parts) == ["0", "1", "2"],
              f"partition lines {[p.get('Partition') for p in parts]}")
        for p in parts:
            check(p.get("Leader", "").isdigit() and p["Leader"] in p.get("Replicas", "").split(",")
                  and p["Leader"] in p.get("Isr", "").split(","),
                  f"partition {p.get('Partition')}: Leader {p.get('Leader')!r} Replicas "
                  f"{p.get('Replicas')!r} Isr {p.get('Isr')!r}")
        if any(p.get("Elr") == "N/A" for p in parts):
            # TopicCommand prints N/A when the broker lacks DescribeTopicPartitions (KIP-966)
            # and it fell back to Metadata; what a pre-3.7 broker shows too.
            elr = " (Elr N/A: described via the Metadata fallback)"
    with steps.step("alter --partitions 5"):
        tool("kafka-topics", "--bootstrap-server", b, "--alter", "--topic", topic,
             "--partitions", "5")
        head, parts, _ = describe_topic(b, topic)
        check(head.get("PartitionCount") == "5" and len(parts) == 5,
              f"after --alter: PartitionCount {head.get('PartitionCount')}, {len(parts)} "
              f"partition lines")
    with steps.step("describe missing"):
        r = tool("kafka-topics", "--bootstrap-server", b, "--describe", "--topic", missing,
                 ok=False)
        check(r.rc != 0 and f"Topic '{missing}' does not exist as expected" in r.out + r.err,
              f"exit {r.rc}: {r.error()}")
    with steps.step("delete"):
        tool("kafka-topics", "--bootstrap-server", b, "--delete", "--topic", topic)
        for _ in range(5):  # deletion is asynchronous on Kafka
            listed = tool("kafka-topics", "--bootstrap-server", b, "--list").out.split()
            if topic not in listed:
                break
            time.sleep(0.5)
        check(topic not in listed, "topic still listed after --delete")
    return steps.result("create (3 partitions, 2 configs), create again (already exists), list, "
                        "describe (count, leaders, configs), alter to 5, describe missing "
                        f"(does not exist), delete{elr}")


def console_lines(codec, how, n=12):
    """Keyed lines: the key stops at the first ':'; values hold ':' and non-ASCII text."""
    return [f"{codec}-{how}-k{i % 3}:{codec} {how} #{i}: ünïcødé ✓ \"q\" back\\slash\ttab "
            f"a:b:c {'x' * (40 * i)}" for i in range(n)]


def console(b):
    topic = name("console", CLIENT)
    create_topic(b, topic, 1)
    sent = []
    for codec in CODECS:
        for how, flags in (("codec-flag", ["--compression-codec", codec]),
                           ("property", ["--command-property", f"compression.type={codec}"])):
            lines = console_lines(codec, how)
            produce(b, topic, lines, *flags)
            sent += lines
    want = "".join(l + "\n" for l in sent).encode()
    got = consume(b, topic, len(sent), "--from-beginning")
    if got != want:
        g, w = got.decode(errors="replace").split("\n"), want.decode().split("\n")
        i = next((i for i, (x, y) in enumerate(zip(g, w)) if x != y), min(len(g), len(w)))
        raise Failed(f"console consumer output differs from what was produced ({len(g) - 1} "
                     f"lines read, {len(sent)} sent); first difference at line {i}: read "
                     f"{(g[i] if i < len(g) else '<end>')[:80]!r}, sent "
                     f"{(w[i] if i < len(w) else '<end>')[:80]!r}")
    return (f"{len(sent)} keyed lines, gzip/snappy/lz4/zstd each by --compression-codec and by "
            f"compression.type, read back byte-identical in order")


def group_describe(b, group, *extra):
    r = tool("kafka-consumer-groups", "--bootstrap-server", b, "--describe", "--group", group,
             *extra)
    return table(r.out, "GROUP"), r


def live_consumer(b, topic, group, n, *extra):
    """A console consumer in `group` running in the background until it has printed n records
    (and stays, a live member). Returns the process; Failed if it exits or stalls."""
    out_path = os.path.join(WORK, f"{group}.out")
    with open(out_path, "wb") as out:
        p = spawn("kafka-console-consumer", "--bootstrap-server", b, "--topic", topic,
                  "--group", group, "--from-beginning", "--command-property",
                  "auto.commit.interval.ms=300", *extra, stdout=out)

    def lines_read():
        with open(out_path, "rb") as f:
            return f.read().count(b"\n")

    t0 = time.time()
    while lines_read() < n:
        if p.poll() is not None:  # it exits 0 even when it gave up on an error
            with open(p.err_path, errors="replace") as f:
                err = f.read()
            why = [l for l in err.splitlines() if re.search(r"Exception|ERROR", l)]
            raise Failed(f"the console consumer --group exited {p.returncode} after "
                         f"{lines_read()} of {n} records: {' | '.join(why[-2:])[:400]}")
        check(time.time() - t0 < WAIT_S, f"console consumer --group read {lines_read()} of {n}")
        time.sleep(0.2)
    return p


def stop(p):
    """SIGTERM: the console consumer's shutdown hook closes it (commit, leave the group)."""
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Failed("the console consumer did not exit within 30s of SIGTERM")


def consumer_groups(b):
    topic, group = name("cg", CLIENT), name("cg", CLIENT)
    steps = Steps()
    create_topic(b, topic, 3)
    produce(b, topic, [f"k{i % 10}:v{i}" for i in range(30)])
    member = live_consumer(b, topic, group, 30)

    with steps.step("describe --members --verbose"):
        rows, _ = group_describe(b, group, "--members", "--verbose")
        check(len(rows) == 1, f"{len(rows)} member rows, want 1: {rows}")
        m = rows[0]
        check(m.get("CLIENT-ID") == "console-consumer" and m.get("HOST", "").startswith("/")
              and m.get("#PARTITIONS") == "3"
              and m.get("CURRENT-ASSIGNMENT") == f"{topic}:0,1,2",
              f"member row {m}")
    with steps.step("describe --state (live)"):
        rows, _ = group_describe(b, group, "--state")
        check(len(rows) == 1 and rows[0].get("STATE") == "Stable"
              and rows[0].get("#MEMBERS") == "1" and rows[0].get("ASSIGNMENT-STRATEGY") == "range",
              f"state rows {rows}")
    with steps.step("describe (live, committed)"):
        for _ in range(10):  # auto-commit every 300 ms
            rows, _ = group_describe(b, group)
            if sum(int(r["CURRENT-OFFSET"]) for r in rows if r["CURRENT-OFFSET"].isdigit()) >= 30:
                break
            time.sleep(0.3)
        check(sorted(r.get("PARTITION") for r in rows) == ["0", "1", "2"]
              and all(r.get("TOPIC") == topic for r in rows), f"rows {rows}")
        check(all(r["CURRENT-OFFSET"] == r["LOG-END-OFFSET"] and r["LAG"] == "0"
                  and r["CONSUMER-ID"].startswith("console-consumer") for r in rows),
              f"want every partition committed to its end, LAG 0, owned: {rows}")
        check(sum(int(r["LOG-END-OFFSET"]) for r in rows) == 30, f"LOG-END-OFFSETs {rows}")
    with steps.step("list"):
        r = tool("kafka-consumer-groups", "--bootstrap-server", b, "--list")
        check(group in r.out.split(), f"--list lacks {group}: {r.out.split()[:20]}")

    stop(member)
    produce(b, topic, [f"k{i % 10}:w{i}" for i in range(6)])

    leo = {}
    with steps.step("describe (no members, lag)"):
        rows, r = group_describe(b, group)
        check(f"Consumer group '{group}' has no active members." in r.out + r.err,
              "no 'has no active members' line")
        check(len(rows) == 3 and all(r["CONSUMER-ID"] == "-" for r in rows), f"rows {rows}")
        for row in rows:
            check(int(row["LAG"]) == int(row["LOG-END-OFFSET"]) - int(row["CURRENT-OFFSET"]),
                  f"LAG is not LOG-END-OFFSET - CURRENT-OFFSET: {row}")
            leo[row["PARTITION"]] = int(row["LOG-END-OFFSET"])
        check(sum(int(r["CURRENT-OFFSET"]) for r in rows) == 30
              and sum(leo.values()) == 36 and sum(int(r["LAG"]) for r in rows) == 6,
              f"want 30 committed, 36 at the end, lag 6: {rows}")
    with steps.step("describe --state (empty)"):
        rows, _ = group_describe(b, group, "--state")
        check(len(rows) == 1 and rows[0].get("STATE") == "Empty" and rows[0].get("#MEMBERS") == "0",
              f"state rows {rows}")

    def reset(label, *how, want):
        r = tool("kafka-consumer-groups", "--bootstrap-server", b, "--reset-offsets",
                 "--group", group, "--topic", topic, *how, "--execute")
        got = {row["PARTITION"]: row.get("NEW-OFFSET") for row in table(r.out, "GROUP")}
        check(got == want, f"{label} printed NEW-OFFSET {got}, want {want}")
        rows, _ = group_describe(b, group)
        now = {row["PARTITION"]: row["CURRENT-OFFSET"] for row in rows}
        check(now == want, f"after {label} describe shows CURRENT-OFFSET {now}, want {want}")
        check(all(int(row["LAG"]) == int(row["LOG-END-OFFSET"]) - int(row["CURRENT-OFFSET"])
                  for row in rows), f"lag after {label}: {rows}")

    with steps.step("reset-offsets --to-earliest"):
        reset("--to-earliest", "--to-earliest", want={"0": "0", "1": "0", "2": "0"})
    with steps.step("reset-offsets --shift-by 2"):
        reset("--shift-by 2", "--shift-by", "2",
              want={p: str(min(2, leo.get(p, 2))) for p in ("0", "1", "2")})
    with steps.step("delete-offsets (partitions 0,1)"):
        # Not every partition: a group left with no offsets at all is removed by Kafka only at
        # its next offsets-retention check (up to 10 min later), so --delete below would race.
        r = tool("kafka-consumer-groups", "--bootstrap-server", b, "--delete-offsets",
                 "--group", group, "--topic", f"{topic}:0,1")
        statuses = {row.get("PARTITION"): row.get("STATUS") for row in table(r.out, "TOPIC")}
        check(re.search(rf"Request succeed(ed)? for deleting offsets from group "
                        rf"{re.escape(group)}\.", r.out)
              and statuses == {"0": "Successful", "1": "Successful"},
              f"printed {r.out.strip()[:300]!r}")
        rows, r = group_describe(b, group)
        left = {row.get("PARTITION"): row.get("CURRENT-OFFSET") for row in rows
                if row.get("TOPIC") == topic}
        check(left == {"2": str(min(2, leo.get("2", 2)))},
              f"after --delete-offsets of 0,1 describe shows {left or r.out.strip()[:200]!r}, "
              f"want only partition 2")
    with steps.step("delete"):
        r = tool("kafka-consumer-groups", "--bootstrap-server", b, "--delete", "--group", group)
        check(f"Deletion of requested consumer groups ('{group}') was successful." in r.out,
              f"printed {r.out.strip()[:300]!r}")
        r = tool("kafka-consumer-groups", "--bootstrap-server", b, "--list")
        check(group not in r.out.split(), "group still listed after --delete")
    return steps.result("live member: describe --members/--state/offsets, list; after it left: "
                        "lag 6, state Empty; reset --to-earliest, --shift-by 2, "
                        "delete-offsets of 2 partitions, delete")


def consumer_protocol(b):
    """A group.protocol=consumer (KIP-848) console consumer, described by the tools."""
    topic = name("cg848", CLIENT)
    steps = Steps()
    create_topic(b, topic, 3)
    produce(b, topic, [f"k{i % 10}:v{i}" for i in range(36)])
    group2, member = name("cg848", CLIENT), None
    with steps.step("KIP-848 group (group.protocol=consumer)"):
        # The console consumer's banner suggests it; describe then goes by ConsumerGroupDescribe.
        member = live_consumer(b, topic, group2, 36, "--command-property",
                               "group.protocol=consumer")
        rows, _ = group_describe(b, group2, "--members", "--verbose")
        check(len(rows) == 1 and rows[0].get("CURRENT-EPOCH", "").isdigit()
              and rows[0].get("CURRENT-ASSIGNMENT") == f"{topic}:0,1,2"
              and rows[0].get("TARGET-ASSIGNMENT") == f"{topic}:0,1,2",
              f"member rows {rows}")
        rows, _ = group_describe(b, group2, "--state")
        check(len(rows) == 1 and rows[0].get("STATE") == "Stable"
              and rows[0].get("#MEMBERS") == "1", f"state rows {rows}")
    with steps.step("KIP-848 group: offsets and lag"):
        for _ in range(20):  # auto-commit every 300 ms (OffsetCommit v9, at the member epoch)
            rows, _ = group_describe(b, group2)
            if sum(int(r["CURRENT-OFFSET"]) for r in rows if r["CURRENT-OFFSET"].isdigit()) >= 36:
                break
            time.sleep(0.3)
        check(sorted(r.get("PARTITION") for r in rows) == ["0", "1", "2"]
              and all(r["CURRENT-OFFSET"] == r["LOG-END-OFFSET"] and r["LAG"] == "0"
                      for r in rows), f"want every partition committed to its end, LAG 0: {rows}")
    if member:
        stop(member)
    return steps.result("a KIP-848 member: describe --members --verbose, --state, offsets and lag")


def config_lines(out):
    """kafka-configs --describe: {key: (value, synonyms text)} of the `  key=value sensitive=..`
    lines."""
    got = {}
    for line in out.splitlines():
        m = re.match(r"  ([\w.-]+)=(.*?) sensitive=(?:true|false) synonyms=\{(.*)\}$", line)
        if m:
            got[m.group(1)] = (m.group(2), m.group(3))
    return got


def configs(b):
    topic = name("configs", CLIENT)
    steps = Steps()
    create_topic(b, topic, 1)
    cfg = ["kafka-configs", "--bootstrap-server", b]
    tcfg = [*cfg, "--entity-type", "topics", "--entity-name", topic]

    with steps.step("topic describe"):
        r = tool(*tcfg, "--describe")
        check(f"Dynamic configs for topic {topic} are:" in r.out and not config_lines(r.out),
              f"a fresh topic: {r.out.strip()[:300]!r}")
    with steps.step("topic add-config"):
        r = tool(*tcfg, "--alter", "--add-config",
                 "retention.ms=3600000,cleanup.policy=[compact,delete],segment.bytes=10485760")
        check(f"Completed updating config for topic {topic}." in r.out, f"{r.out.strip()!r}")
        got = config_lines(tool(*tcfg, "--describe").out)
        want = {"retention.ms": "3600000", "cleanup.policy": "compact,delete",
                "segment.bytes": "10485760"}
        check({k: v for k, (v, _) in got.items()} == want, f"describe shows {got}, want {want}")
        check("DYNAMIC_TOPIC_CONFIG:retention.ms=3600000" in got["retention.ms"][1],
              f"retention.ms synonyms {got['retention.ms'][1]!r}")
    with steps.step("topic delete-config"):
        r = tool(*tcfg, "--alter", "--delete-config", "cleanup.policy,segment.bytes")
        check(f"Completed updating config for topic {topic}." in r.out, f"{r.out.strip()!r}")
        got = config_lines(tool(*tcfg, "--describe").out)
        check(list(got) == ["retention.ms"], f"after --delete-config describe shows {got}")
    with steps.step("topic describe --all"):
        r = tool(*tcfg, "--describe", "--all")
        got = config_lines(r.out)
        check(f"All configs for topic {topic} are:" in r.out and len(got) >= 20,
              f"{len(got)} configs: {r.out.strip()[:200]!r}")
        check(got.get("retention.ms", ("",))[0] == "3600000"
              and got.get("cleanup.policy", ("",))[0] == "delete"
              and "DEFAULT_CONFIG:log.cleanup.policy=delete" in got["cleanup.policy"][1],
              f"retention.ms {got.get('retention.ms')}, cleanup.policy {got.get('cleanup.policy')}")

    broker = None
    with steps.step("brokers describe"):
        r = tool(*cfg, "--entity-type", "brokers", "--describe")
        ids = re.findall(r"^Dynamic configs for broker (\d+) are:", r.out, re.M)
        check(ids, f"no 'Dynamic configs for broker N' line: {r.out.strip()[:300]!r}")
        broker = ids[0]
        check("Default configs for brokers in the cluster are:" in r.out,
              f"no cluster-default section: {r.out.strip()[:300]!r}")
    if broker is None:  # fall back to the leader kafka-topics reports
        broker = describe_topic(b, topic)[1][0].get("Leader", "1")
    bcfg = [*cfg, "--entity-type", "brokers", "--entity-name", broker]
    with steps.step(f"broker {broker} describe"):
        r = tool(*bcfg, "--describe")
        check(f"Dynamic configs for broker {broker} are:" in r.out, f"{r.out.strip()[:300]!r}")
    with steps.step(f"broker {broker} describe --all"):
        r = tool(*bcfg, "--describe", "--all")
        got = config_lines(r.out)
        check(f"All configs for broker {broker} are:" in r.out and len(got) >= 50,
              f"{len(got)} configs: {r.out.strip()[:200]!r}")
        # Keys of the stock server.properties a user looks up (Kafka 4.4 lists ~350 in all).
        lacks = [k for k in ("message.max.bytes", "num.partitions", "log.retention.hours",
                             "log.segment.bytes", "auto.create.topics.enable", "log.dirs")
                 if k not in got]
        check(not lacks, f"--all ({len(got)} configs) lacks {', '.join(lacks)}")
        check(got["message.max.bytes"][0] == "1048588", f"message.max.bytes {got['message.max.bytes']}")
    # message.max.bytes is per-broker dynamic in Kafka (DynamicLogConfig); raised, not lowered,
    # so nothing else running against this broker is affected, and removed again at the end.
    with steps.step(f"broker {broker} dynamic message.max.bytes"):
        r = tool(*bcfg, "--alter", "--add-config", "message.max.bytes=2097152")
        check(f"Completed updating config for broker {broker}." in r.out, f"{r.out.strip()!r}")
        got = config_lines(tool(*bcfg, "--describe").out)
        check(got.get("message.max.bytes", ("",))[0] == "2097152"
              and "DYNAMIC_BROKER_CONFIG:message.max.bytes=2097152" in got["message.max.bytes"][1],
              f"describe after --add-config shows {got}")
        r = tool(*bcfg, "--alter", "--delete-config", "message.max.bytes")
        check(f"Completed updating config for broker {broker}." in r.out, f"{r.out.strip()!r}")
        got = config_lines(tool(*bcfg, "--describe").out)
        check("message.max.bytes" not in got, f"describe after --delete-config shows {got}")
    return steps.result("topic: describe, add-config (list value), delete-config, --all; broker "
                        f"{broker}: describe, --all, dynamic message.max.bytes set and removed")


def client_quotas(b):
    """kafka-configs --entity-type clients: quotas set, described, removed."""
    steps = Steps()
    cfg = ["kafka-configs", "--bootstrap-server", b]
    client = name("quota", CLIENT)
    ccfg = [*cfg, "--entity-type", "clients", "--entity-name", client]
    with steps.step("client quotas"):
        r = tool(*ccfg, "--alter", "--add-config",
                 "producer_byte_rate=1048576,consumer_byte_rate=2097152")
        check(f"Completed updating config for client {client}." in r.out, f"{r.out.strip()!r}")
        r = tool(*ccfg, "--describe")
        check(f"Quota configs for client-id '{client}' are consumer_byte_rate=2097152.0, "
              f"producer_byte_rate=1048576.0" in r.out, f"describe: {r.out.strip()[:300]!r}")
        tool(*ccfg, "--alter", "--delete-config", "producer_byte_rate,consumer_byte_rate")
        r = tool(*ccfg, "--describe")
        check("byte_rate" not in r.out, f"after --delete-config: {r.out.strip()[:300]!r}")
    return steps.result("client quotas set, described, removed")


def delete_records_offsets(b):
    topic = name("delrec", CLIENT)
    steps = Steps()
    create_topic(b, topic, 2)
    # Keys k0..k9 spread over both partitions (the client's murmur2 partitioner).
    produce(b, topic, [f"k{i % 10}:a{i}" for i in range(20)])
    leo1 = offsets(b, topic, -1)
    check(len(leo1) == 2 and all(v for v in leo1.values()), f"after batch 1: {leo1}")
    time.sleep(0.05)
    t_mid = int(time.time() * 1000)
    time.sleep(0.05)
    produce(b, topic, [f"k{i % 10}:b{i}" for i in range(20)])
    leo2 = {}
    with steps.step("get-offsets --time -1"):
        leo2 = offsets(b, topic, -1)
        check(sum(leo2.values()) == 40 and all(leo2[p] > leo1[p] for p in leo1),
              f"latest {leo2}, after the first 20 {leo1}")
    with steps.step("get-offsets --time -2"):
        got = offsets(b, topic, -2)
        check(got == {0: 0, 1: 0}, f"earliest {got}")
    with steps.step("get-offsets --time <timestamp>"):
        got = offsets(b, topic, t_mid)
        check(got == leo1, f"--time {t_mid} (between the batches) gave {got}, want {leo1}")
    with steps.step("get-offsets --time -3"):
        got = offsets(b, topic, -3)
        check(all(got.get(p) is not None and leo1[p] <= got[p] < leo2.get(p, 0) for p in leo1),
              f"max-timestamp offsets {got}, want within the second batch {leo1}..{leo2}")
    if not leo2:
        leo2 = {0: leo1[0] + 1, 1: leo1[1] + 1}
    spec = os.path.join(WORK, "delete-records.json")
    with open(spec, "w") as f:  # partition 0 up to the second batch, partition 1 all (-1 = HW)
        json.dump({"version": 1, "partitions": [
            {"topic": topic, "partition": 0, "offset": leo1[0]},
            {"topic": topic, "partition": 1, "offset": -1}]}, f)
    with steps.step("delete-records"):
        r = tool("kafka-delete-records", "--bootstrap-server", b, "--offset-json-file", spec)
        low = {int(p): int(o) for p, o in re.findall(
            rf"partition: {re.escape(topic)}-(\d+)\tlow_watermark: (-?\d+)", r.out)}
        check(low == {0: leo1[0], 1: leo2[1]},
              f"low_watermark {low}, want {{0: {leo1[0]}, 1: {leo2[1]}}}: {r.out.strip()[:300]!r}")
    with steps.step("get-offsets after delete"):
        got = offsets(b, topic, -2)
        check(got == {0: leo1[0], 1: leo2[1]}, f"earliest after delete {got}")
        got = offsets(b, topic, -1)
        check(got == leo2, f"latest after delete {got}, before {leo2}")
    with steps.step("consume from the new log start"):
        n = leo2[0] - leo1[0]
        got = consume(b, topic, n, "--partition", "0", "--offset", "earliest").decode().split()
        check(len(got) == n and all(":b" in line for line in got),
              f"partition 0 from earliest: {got[:5]}..., want {n} records of the second batch")
    return steps.result(f"get-offsets -1/-2/-3/timestamp, delete-records (offset and -1), new "
                        f"log start {leo1[0]} and {leo2.get(1)}, consumer starts there")


def admin_misc(b):
    topic = name("misc", CLIENT)
    steps = Steps()
    create_topic(b, topic, 1)
    produce(b, topic, [f"k{i}:v{i}" for i in range(10)],
            "--command-property", "enable.idempotence=true", "--command-property", "acks=all")
    notes = []

    with steps.step("log-dirs"):
        r = tool("kafka-log-dirs", "--bootstrap-server", b, "--describe", "--topic-list", topic)
        doc = next((json.loads(l) for l in r.out.splitlines() if l.startswith("{")), None)
        check(doc is not None, f"no JSON line: {r.out.strip()[:300]!r}")
        dirs = [d for br in doc.get("brokers", []) for d in br.get("logDirs", [])]
        parts = [p for d in dirs for p in d.get("partitions", [])]
        check(dirs and all(d.get("error") is None and d.get("logDir") for d in dirs),
              f"log dirs {dirs}")
        mine = [p for p in parts if p.get("partition") == f"{topic}-0"]
        check(len(mine) == 1 and mine[0].get("size", 0) > 0 and mine[0].get("isFuture") is False,
              f"{topic}-0 in the log dirs: {mine}")
    with steps.step("transactions describe-producers"):
        r = tool("kafka-transactions", "--bootstrap-server", b, "describe-producers",
                 "--topic", topic, "--partition", "0")
        rows = table(r.out, "ProducerId")
        check(len(rows) == 1 and rows[0].get("ProducerId", "-1").isdigit()
              and rows[0].get("LastSequence") == "9"
              and rows[0].get("CurrentTransactionStartOffset") == "None",
              f"want one producer with LastSequence 9, no open transaction: {rows}")
    with steps.step("transactions list (none)"):
        r = tool("kafka-transactions", "--bootstrap-server", b, "list")
        check(r.out.split()[:4] == ["TransactionalId", "Coordinator", "ProducerId",
                                    "TransactionState"], f"header {r.out[:100]!r}")
    with steps.step("metadata-quorum describe --status"):
        r = tool("kafka-metadata-quorum", "--bootstrap-server", b, "describe", "--status")
        st = dict(re.findall(r"^(\w+):\s+(.*)$", r.out, re.M))
        check(st.get("LeaderId", "").isdigit() and st.get("ClusterId")
              # -1 is KRaft's "unknown": Gregor keeps no metadata log to have one.
              and re.fullmatch(r"-1|\d+", st.get("HighWatermark", "")),
              f"status {st or r.out[:200]!r}")
        voters = json.loads(st.get("CurrentVoters", "[]"))
        check(any(v.get("id") == int(st["LeaderId"]) for v in voters),
              f"leader {st['LeaderId']} not among CurrentVoters {voters}")
    with steps.step("broker-api-versions"):
        r = tool("kafka-broker-api-versions", "--bootstrap-server", b)
        check(re.search(r"\(id: \d+ rack: \S+ isFenced: false\) -> \(", r.out),
              f"no broker line: {r.out[:200]!r}")
        apis = dict(re.findall(r"^\s+(\w+)\(\d+\): (.*?),?$", r.out, re.M))
        usable = [a for a, v in apis.items() if "usable" in v]
        for a in ("Produce", "Fetch", "ListOffsets", "Metadata", "ApiVersions", "CreateTopics"):
            check(a in usable, f"{a}: {apis.get(a)}")
        notes.append(f"{len(usable)} of {len(apis)} APIs usable")
    return steps.result("log-dirs, describe-producers, transactions list, metadata-quorum, "
                        "broker-api-versions (" + ", ".join(notes) + ")")


def transactions(b):
    """A transactional kafka-producer-perf-test, then kafka-transactions list / describe."""
    txn_topic, txn_id = name("txn", CLIENT), name("txn", CLIENT)
    steps = Steps()
    txn_ok = False
    with steps.step("transactional producer (kafka-producer-perf-test --transactional-id)"):
        r = tool("kafka-producer-perf-test", "--bootstrap-server", b, "--topic", txn_topic,
                 "--num-records", "20", "--record-size", "100", "--throughput", "-1",
                 "--transactional-id", txn_id, "--transaction-duration-ms", "100")
        check("20 records sent" in r.out, f"{r.out.strip()[:200]!r}")
        txn_ok = True
    with steps.step("transactions list"):
        r = tool("kafka-transactions", "--bootstrap-server", b, "list")
        check(r.out.split()[:4] == ["TransactionalId", "Coordinator", "ProducerId",
                                    "TransactionState"], f"header {r.out[:100]!r}")
        if txn_ok:
            rows = [row for row in table(r.out, "TransactionalId")
                    if row.get("TransactionalId") == txn_id]
            check(len(rows) == 1 and rows[0].get("TransactionState") == "CompleteCommit",
                  f"{txn_id} in the list: {rows}")
    if txn_ok:
        with steps.step("transactions describe"):
            r = tool("kafka-transactions", "--bootstrap-server", b, "describe",
                     "--transactional-id", txn_id)
            rows = table(r.out, "CoordinatorId")
            check(len(rows) == 1 and rows[0].get("TransactionalId") == txn_id
                  and rows[0].get("TransactionState") == "CompleteCommit", f"rows {rows}")
    return steps.result("transactional perf-test, transactions list/describe")


def features(b):
    """kafka-features describe: the feature levels ApiVersions carries."""
    steps = Steps()
    notes = []
    with steps.step("features describe"):
        r = tool("kafka-features", "--bootstrap-server", b, "describe")
        feats = {m.group(1): dict(re.findall(r"(\w+): (\S+)", m.group(0)))
                 for m in re.finditer(r"^Feature: (\S+).*$", r.out, re.M)}
        mv = feats.get("metadata.version", {})
        # describeFeatures reads nothing but the ApiVersions answer (its tagged fields
        # SupportedFeatures, FinalizedFeaturesEpoch, FinalizedFeatures).
        check(feats, "printed no features: the ApiVersions response carries no "
                     f"SupportedFeatures/FinalizedFeatures ({r.out.strip()[:100]!r})")
        check(mv.get("FinalizedVersionLevel") and mv.get("SupportedMaxVersion"),
              f"no finalized metadata.version among {sorted(feats)}: {mv}")
        notes.append(f"{len(feats)} features")
    return steps.result(", ".join(notes))


SCENARIOS = {
    "topics": topics,
    "console": console,
    "consumer_groups": consumer_groups,
    "configs": configs,
    "delete_records_offsets": delete_records_offsets,
    "admin_misc": admin_misc,
    "transactions": transactions,
    "consumer_protocol": consumer_protocol,
    "client_quotas": client_quotas,
    "features": features,
}


def main():
    """common.main's contract (one RESULT line per scenario, exit status) for this family's own
    scenario names; the matrix's client-library scenarios answer n/a."""
    ap = argparse.ArgumentParser(description="Kafka command-line tools compatibility scenarios")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--scenario", default="all",
                    choices=["all", *SCENARIOS, *[s for s in MATRIX_SCENARIOS if s not in SCENARIOS]])
    args = ap.parse_args()
    todo = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    failed = False
    for s in todo:
        t0 = time.time()
        try:
            if s not in SCENARIOS:
                raise NotApplicable(f"the Kafka tools family runs its own scenarios: "
                                    f"{', '.join(SCENARIOS)}")
            if not os.path.exists(os.path.join(LIBS, "kafka-tools-4.4.0.jar")):
                raise Failed(f"no Kafka 4.4 jars in {LIBS}: run scripts/reference-kafka fetch")
            if not shutil.which("java"):
                raise Failed("java not found (the Kafka 4.4 tools need Java 17)")
            detail = SCENARIOS[s](args.bootstrap) or ""
            result = "pass"
        except NotApplicable as e:
            result, detail = "na", str(e)
        except Failed as e:
            result, detail = "fail", str(e)
            failed = True
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            result, detail = "fail", f"{type(e).__name__}: {e}"
            failed = True
        finally:
            reap()
        detail = " ".join(str(detail).split())
        print(f"RESULT {s} {result} {detail} ({time.time() - t0:.1f}s)", flush=True)
    shutil.rmtree(WORK, ignore_errors=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if failed else 0)


if __name__ == "__main__":
    main()
