"""Gregor's own command line (`gregor topic|produce|consume|group`) as a client family.

Run: python compat/gregor_cli.py --bootstrap 127.0.0.1:9092 [--scenario NAME]
Needs the release binary (target/release/gregor, or GREGOR_BIN); scripts/compat builds it. The
commands speak only the Kafka protocol, so the same scenarios run against Gregor and, with
`scripts/compat --reference`, against Kafka 4.4. Every command run is logged to stderr (command
line, exit status, output).

The scenarios are this family's own:
  topics           topic create (3 partitions, -c configs), create again (TOPIC_ALREADY_EXISTS
                   in Kafka's words, exit 1), list (table and JSON), describe (leaders, replicas,
                   offsets, the configs set), describe a missing topic, delete, delete again
  produce_consume  produce with a key and headers, keyed stdin lines (each on the partition
                   murmur2 of its key picks, checked against a Python murmur2), a non-UTF-8
                   value; consume as JSON and as a table, --from OFFSET / @TIMESTAMP / newest,
                   -n, -p
  groups           reset-offsets on a fresh group: the dry run commits nothing, --execute
                   (--to-offset, --to-latest, --shift-by) creates its offsets; describe and list
                   it; a live confluent-kafka member, classic and KIP-848 (ConsumerGroupDescribe):
                   describe shows its partitions, reset is refused while Stable; delete
Independent checks inside a scenario all run, and a failing scenario names every failed step.
"""

import json
import os
import subprocess
import time

from common import SCENARIOS as MATRIX_SCENARIOS
from common import WAIT_S, Failed, NotApplicable, Steps, check, log, name, wait_until
from common import main as run_scenarios

CLIENT = "gregor-cli"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("GREGOR_BIN") or os.path.join(ROOT, "target", "release", "gregor")
TIMEOUT = 60  # per command


class Run:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.raw = args, rc, out
        self.out, self.err = out.decode(errors="replace"), err.decode(errors="replace")

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise Failed(f"gregor {' '.join(self.args)[:80]} printed no JSON ({e}): "
                         f"{self.out[:200]!r}")

    def json_lines(self):
        try:
            return [json.loads(l) for l in self.out.splitlines() if l.strip()]
        except ValueError as e:
            raise Failed(f"gregor {' '.join(self.args)[:80]}: a line is not JSON ({e}): "
                         f"{self.out[:200]!r}")


def gregor(b, *args, stdin=None, ok=True):
    """`gregor ARGS -b B`; Failed on a timeout, or on a non-zero exit if `ok`."""
    cmd = [BIN, *args, "-b", b]
    try:
        r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failed(f"gregor {' '.join(args)[:100]} did not finish within {TIMEOUT}s")
    run = Run(list(args), r.returncode, r.stdout, r.stderr)
    log(f"$ gregor {' '.join(args)}\n  exit {r.returncode}")
    for label, text in (("stdout", run.out), ("stderr", run.err)):
        if text.strip():
            log(f"  {label}:\n" + "\n".join("    " + l for l in text[-4000:].splitlines()))
    if ok and r.returncode != 0:
        raise Failed(f"gregor {' '.join(args)[:100]} exited {r.returncode}: {run.err.strip()[:300]}")
    return run


def fails(b, *args, stdin=None):
    """A command that must exit 1 with one line on stderr; that line."""
    r = gregor(b, *args, stdin=stdin, ok=False)
    check(r.rc == 1, f"gregor {' '.join(args)[:100]}: exit {r.rc}, expected 1 ({r.out[:100]!r})")
    lines = r.err.strip().splitlines()
    check(len(lines) == 1, f"gregor {' '.join(args)[:100]}: stderr is not one line: {r.err!r}")
    return lines[0]


def rows(text):
    """A table's rows as lists of cells (the header first)."""
    return [l.split() for l in text.splitlines() if l.strip()]


def murmur2(data):
    """Kafka's Utils.murmur2, independently of the binary under test."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = data[4 * n4:]
    if tail:
        for i in reversed(range(len(tail))):
            h ^= tail[i] << (8 * i)
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key, n):
    return (murmur2(key) & 0x7FFFFFFF) % n


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------

def topics(b):
    topic, missing = name("topics", CLIENT), name("missing", CLIENT)
    steps = Steps()
    r = gregor(b, "topic", "create", topic, "-p", "3", "-r", "1", "-c", "retention.ms=7200000",
               "-c", "max.message.bytes=2000000")
    check(r.out == f"Created topic '{topic}' (3 partitions, replication factor 1).\n",
          f"create printed {r.out!r}")
    with steps.step("create again"):
        line = fails(b, "topic", "create", topic, "-p", "3")
        want = f"gregor topic: TOPIC_ALREADY_EXISTS: Topic '{topic}' already exists."
        check(line == want, f"said {line!r}, expected {want!r}")
    with steps.step("list"):
        listed = {t["name"]: t for t in gregor(b, "topic", "list", "--format", "json").json()}
        t = listed.get(topic)
        check(t and t["partitions"] == 3 and t["replication_factor"] == 1
              and t["internal"] is False and len(t["topic_id"] or "") == 22, f"listed as {t}")
        check(not any(x["internal"] for x in listed.values()),
              f"internal topics listed without --internal: {sorted(listed)}")
        table = rows(gregor(b, "topic", "list").out)
        check(table[0] == ["NAME", "PARTITIONS", "REPLICAS"] and [topic, "3", "1"] in table,
              f"table {table[:5]}")
    with steps.step("describe"):
        d = gregor(b, "topic", "describe", topic, "--format", "json").json()
        parts = d["partitions"]
        check([p["partition"] for p in parts] == [0, 1, 2], f"partitions {parts}")
        for p in parts:
            check(p["leader"] >= 0 and p["leader"] in p["replicas"] and p["leader"] in p["isr"]
                  and p["log_start_offset"] == 0 and p["log_end_offset"] == 0
                  and p["messages"] == 0, f"partition {p}")
        check(d["configs"].get("retention.ms") == "7200000"
              and d["configs"].get("max.message.bytes") == "2000000", f"configs {d['configs']}")
        text = gregor(b, "topic", "describe", topic).out
        check("retention.ms=7200000" in text and "max.message.bytes=2000000" in text,
              f"table lacks the configs: {text[:300]!r}")
    with steps.step("describe missing"):
        line = fails(b, "topic", "describe", missing)
        check("UNKNOWN_TOPIC_OR_PARTITION" in line, line)
    with steps.step("delete"):
        r = gregor(b, "topic", "delete", topic)
        check(r.out == f"Deleted topic '{topic}'.\n", f"delete printed {r.out!r}")

        def gone():
            return gregor(b, "topic", "describe", topic, ok=False).rc == 1
        wait_until(gone, f"{topic} to disappear")
        line = fails(b, "topic", "delete", topic)
        check("UNKNOWN_TOPIC_OR_PARTITION" in line, line)
    return steps.result("create, create again, list, describe, delete")


def produce_consume(b):
    topic = name("records", CLIENT)
    steps = Steps()
    gregor(b, "topic", "create", topic, "-p", "3")
    first = gregor(b, "produce", topic, "-k", "user-1", "-H", "trace=abc", "-H", "n=1", "hello",
                   "--format", "json").json_lines()
    check(len(first) == 1 and first[0]["partition"] == partition_for(b"user-1", 3),
          f"user-1 went to {first}, murmur2 says {partition_for(b'user-1', 3)}")
    keys = [f"key-{i}".encode() for i in range(20)]
    lines = b"".join(k + b":value-" + k + b"\n" for k in keys) + b"bin:\xff\x00\xfe\n"
    acks = gregor(b, "produce", topic, "--key-separator", ":", "--format", "json",
                  stdin=lines).json_lines()
    check(len(acks) == 21, f"{len(acks)} acks for 21 lines")
    wrong = [(k, a["partition"]) for k, a in zip(keys + [b"bin"], acks)
             if a["partition"] != partition_for(k, 3)]
    check(not wrong, f"keys not on their murmur2 partition: {wrong}")
    time.sleep(0.02)  # the next record's timestamp is later than these
    last = gregor(b, "produce", topic, "-p", "1", "late", "--format", "json").json_lines()[0]
    # What was sent, per partition in offset order: (key, value, headers).
    sent = {}
    for k, a in [(b"user-1", first[0])] + list(zip(keys + [b"bin"], acks)):
        value = b"hello" if k == b"user-1" else (b"\xff\x00\xfe" if k == b"bin"
                                                 else b"value-" + k)
        hdrs = [("trace", "abc"), ("n", "1")] if k == b"user-1" else []
        sent.setdefault(a["partition"], []).append((a["offset"], k, value, hdrs))
    sent.setdefault(1, []).append((last["offset"], None, b"late", []))

    def decoded(r, field):
        v = r[field]
        if v is None:
            return None
        return bytes.fromhex(v) if r.get(f"{field}_encoding") == "hex" else v.encode()

    with steps.step("consume json"):
        got = {}
        for r in gregor(b, "consume", topic, "--format", "json").json_lines():
            check(r["topic"] == topic, f"topic {r['topic']}")
            got.setdefault(r["partition"], []).append(
                (r["offset"], decoded(r, "key"), decoded(r, "value"),
                 [(h["key"], h["value"]) for h in r["headers"]]))
        for p in sent:
            check(sorted(sent[p]) == got.get(p), f"partition {p}: sent {sorted(sent[p])[:3]}..., "
                  f"read {got.get(p, [])[:3]}...")
        check(set(got) == set(sent), f"partitions read {sorted(got)}, sent {sorted(sent)}")
    with steps.step("consume table -n"):
        t = rows(gregor(b, "consume", topic, "-p", str(first[0]["partition"]), "-n", "1").out)
        check(t[0] == ["PARTITION", "OFFSET", "TIMESTAMP", "KEY", "VALUE", "HEADERS"]
              and len(t) == 2 and t[1][3:] == ["user-1", "hello", "trace=abc,n=1"], f"table {t}")
    with steps.step("consume --from offset"):
        p = max(sent, key=lambda x: len(sent[x]))
        offs = [r["offset"] for r in gregor(b, "consume", topic, "-p", str(p), "--from", "2",
                                            "--format", "json").json_lines()]
        check(offs == [o for o, *_ in sorted(sent[p]) if o >= 2], f"offsets {offs}")
    with steps.step("consume --from @timestamp"):
        ts = last["timestamp"]
        got = gregor(b, "consume", topic, "-p", "1", "--from", f"@{ts}",
                     "--format", "json").json_lines()
        # The first record at or after the time, and everything after it.
        earlier = [a["offset"] for a in first + acks if a["partition"] == 1
                   and a["timestamp"] < ts]
        want = [a["offset"] for a in first + acks + [last] if a["partition"] == 1
                and a["offset"] not in earlier]
        check([r["offset"] for r in got] == sorted(want) and got[-1]["value"] == "late"
              and all(r["timestamp"] >= ts for r in got),
              f"from @{ts}: {[(r['offset'], r['timestamp']) for r in got]}, expected {want}")
    with steps.step("consume --from newest"):
        got = gregor(b, "consume", topic, "--from", "newest", "--format", "json").json_lines()
        check(got == [], f"newest without -f printed {got}")
    with steps.step("consume -n --read-uncommitted"):
        got = gregor(b, "consume", topic, "-n", "5", "--read-uncommitted",
                     "--format", "json").json_lines()
        check(len(got) == 5, f"-n 5 printed {len(got)}")
    return steps.result("23 records with keys, headers and binary values, each read back; "
                        "--from offset, @timestamp, newest; -n")


def describe(b, group):
    return gregor(b, "group", "describe", group, "--format", "json").json()


def offsets_of(d):
    return {o["partition"]: (o["committed"], o["end"], o["lag"]) for o in d["offsets"]}


def live_member(b, topic, group, protocol, kind):
    """A confluent-kafka member of `group` (group.protocol `protocol`) owning the topic's three
    partitions: described with them, reset refused while Stable, Empty once it closed."""
    from confluent_kafka import Consumer
    conf = {"bootstrap.servers": b, "group.id": group, "client.id": "cli-member",
            "auto.offset.reset": "earliest", "broker.address.family": "v4",
            "group.protocol": protocol}
    c = Consumer(conf)
    try:
        c.subscribe([topic])

        def described():
            c.poll(0.05)
            r = gregor(b, "group", "describe", group, "--format", "json", ok=False)
            d = r.json() if r.rc == 0 else {}
            m = d.get("members", [])
            return (d.get("state") == "Stable" and len(m) == 1
                    and m[0]["assignment"] == [{"topic": topic, "partitions": [0, 1, 2]}])
        wait_until(described, f"{group} Stable with one member owning 3 partitions")
        d = describe(b, group)
        check(d["type"] == kind and d["members"][0]["client_id"] == "cli-member"
              and [o["client_id"] for o in d["offsets"]] == ["cli-member"] * 3,
              f"described as {d}")
        listed = {g["group"]: g for g in gregor(b, "group", "list", "--format", "json").json()}
        check(listed.get(group, {}).get("type") == kind, f"listed as {listed.get(group)}")
        line = fails(b, "group", "reset-offsets", group, "--topic", topic, "--to-earliest",
                     "--execute")
        want = (f"gregor group: Assignments can only be reset if the group '{group}' is "
                f"inactive, but the current state is Stable.")
        check(line == want, f"said {line!r}")
    finally:
        c.close()
    wait_until(lambda: describe(b, group)["state"] == "Empty", f"{group} Empty after close")


def groups(b):
    topic, group = name("groups", CLIENT), name("group", CLIENT)
    live, live848 = name("live", CLIENT), name("live848", CLIENT)
    steps = Steps()
    gregor(b, "topic", "create", topic, "-p", "3")
    data = b"".join(f"k{i % 3}-{i}:v{i}\n".encode() for i in range(30))
    acks = gregor(b, "produce", topic, "--key-separator", ":", "--format", "json",
                  stdin=data).json_lines()
    ends = {p: sum(1 for a in acks if a["partition"] == p) for p in range(3)}
    with steps.step("dry run"):
        r = gregor(b, "group", "reset-offsets", group, "--topic", topic, "--to-earliest")
        t = rows(r.out)
        check(t[0] == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
              and t[1:] == [[group, topic, str(p), "0"] for p in range(3)], f"plan {t}")
        check("--execute" in r.err, f"no dry-run note: {r.err!r}")
        line = fails(b, "group", "describe", group)
        check("GROUP_ID_NOT_FOUND" in line, f"after a dry run: {line}")
    with steps.step("execute"):
        gregor(b, "group", "reset-offsets", group, "--topic", f"{topic}:0,1", "--to-offset", "2",
               "--execute")
        gregor(b, "group", "reset-offsets", group, "--topic", f"{topic}:2", "--to-latest",
               "--execute")
        gregor(b, "group", "reset-offsets", group, "--topic", f"{topic}:1", "--shift-by", "-1",
               "--execute")
        d = describe(b, group)
        want = {0: min(2, ends[0]), 1: max(min(2, ends[1]) - 1, 0), 2: ends[2]}
        got = offsets_of(d)
        check(d["state"] == "Empty" and d["members"] == [], f"state {d['state']}, "
              f"members {d['members']}")
        check(got == {p: (want[p], ends[p], ends[p] - want[p]) for p in range(3)},
              f"offsets {got}, expected committed {want} of ends {ends}")
        t = rows(gregor(b, "group", "describe", group).out)
        check(["STATE", "Empty"] in t and any(r[:2] == [topic, "2"] for r in t), f"table {t}")
    with steps.step("list"):
        listed = {g["group"]: g for g in gregor(b, "group", "list", "--format", "json").json()}
        check(listed.get(group, {}).get("state") == "Empty", f"{group} listed as "
              f"{listed.get(group)}")
    for protocol, kind, g in (("classic", "classic", live), ("consumer", "consumer", live848)):
        with steps.step(f"live {protocol} member"):
            live_member(b, topic, g, protocol, kind)
    with steps.step("delete"):
        r = gregor(b, "group", "delete", group, live, live848)
        check(r.out == "".join(f"Deleted group '{g}'.\n" for g in (group, live, live848)),
              f"{r.out!r}")
        check("GROUP_ID_NOT_FOUND" in fails(b, "group", "describe", group), "still there")
    return steps.result("reset-offsets dry run and --execute on a fresh group, describe, list; "
                        "live classic and KIP-848 members described, reset refused while "
                        "Stable; delete")


SCENARIOS = {
    "topics": topics,
    "produce_consume": produce_consume,
    "groups": groups,
}


def needs_binary(fn):
    """A scenario that first checks the gregor binary is there."""
    def run(b):
        if not os.access(BIN, os.X_OK):
            raise Failed(f"no gregor binary at {BIN}: cargo build --release --bin gregor")
        return fn(b)
    return run


def main():
    """This family's own scenarios; the matrix's client-library scenarios answer n/a."""
    run_scenarios("gregor command-line", {n: needs_binary(f) for n, f in SCENARIOS.items()},
                  names=[*SCENARIOS, *[s for s in MATRIX_SCENARIOS if s not in SCENARIOS]])


if __name__ == "__main__":
    main()
