"""Shared helpers for the Python scenario programs of the compatibility matrix.

Every scenario program (one per client family) takes `--bootstrap HOST:PORT` and `--scenario
NAME` (or `all`) and prints one line per scenario run:

    RESULT <scenario> pass|fail|na <detail>

scripts/compat runs each scenario in its own process under a hard timeout and builds the matrix
from these lines; everything else a program prints (client logs) goes to a log file.
"""

import argparse
import contextlib
import os
import sys
import time
import traceback
import uuid

# The scenario names, in matrix column order. Keep in step with scripts/compat, the Node, Java
# and Go programs.
SCENARIOS = [
    "codecs",           # 1. keyed records with headers, each codec, byte-identical, in order
    "idempotent",       # 2. idempotent producer: N produced, exactly N read back
    "group_rebalance",  # 3. 3 partitions, 4 members: 3 busy, 1 idle; one leaves, others take over
    "commit_resume",    # 4. commit, stop, a new member resumes from the committed offset
    "offset_reset",     # 5. auto.offset.reset earliest / latest, seek back and replay
    "key_partition",    # 6. same key -> same partition, every time, across producers
    "admin_topics",     # 7a. create topic, describe configs, add partitions, delete topic
    "admin_groups",     # 7b. list and describe groups
    "transactions",     # 8. commit / abort / read_committed, fencing, offsets in a transaction
    "group_protocol",   # 9. group_rebalance under KIP-848 (group.protocol=consumer), commit, describe
]

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]

# Scenario-internal deadline for waits (assignment, records). The driver's hard timeout per
# scenario process is longer (COMPAT_TIMEOUT, default 60 s), so a wait that runs out still
# reports what it saw.
WAIT_S = float(os.environ.get("COMPAT_WAIT", "40"))

# Group timings used by group scenarios: shorter than the defaults so a lost member is noticed
# quickly; leaving members send LeaveGroup, so these only matter when something goes wrong.
SESSION_TIMEOUT_MS = 10000
HEARTBEAT_MS = 1000


class NotApplicable(Exception):
    """The client cannot express this scenario; the message says why."""


class Failed(Exception):
    """The scenario ran and saw something a Kafka broker would not do."""


def check(cond, msg):
    if not cond:
        raise Failed(msg)


def name(kind, client):
    """A topic or group name unique to this run, so runs and clients never share state."""
    return f"compat-{kind}-{client}-{int(time.time())}-{uuid.uuid4().hex[:6]}"


def record(codec, i, n_keys=3):
    """Key, value and headers of record i: binary bytes, all 256 byte values, compressible."""
    key = f"key-{i % n_keys}".encode()
    value = f"{codec}-{i}-".encode() + bytes(range(256)) * 4 + b"\x00end"
    headers = [("trace", f"t-{i}".encode()), ("bin", bytes([0, 1, 254, 255, i % 256]))]
    return key, value, headers


def compare_partitions(expected, got):
    """expected/got: {partition: [(key, value, headers), ...]} in offset order."""
    check(set(got) == set(expected),
          f"partitions differ: produced to {sorted(expected)}, read from {sorted(got)}")
    for p, recs in expected.items():
        g = got[p]
        check(len(g) == len(recs), f"partition {p}: produced {len(recs)}, read {len(g)}")
        for j, (e, r) in enumerate(zip(recs, g)):
            for what, a, b in zip(("key", "value", "headers"), e, r):
                if a != b:
                    raise Failed(f"partition {p} record {j}: {what} differs: "
                                 f"sent {short(a)}, got {short(b)}")


KEYS = [f"user-{k}".encode() for k in range(12)]


def key_records():
    """Five sends of each of the 12 keys, for the key -> partition scenario."""
    return [(k, b"x", []) for _ in range(5) for k in KEYS]


def check_key_placement(rounds):
    """`rounds`: for each producer instance, {partition: [(key, value, headers)]} as acked.
    Every key must land on one partition, the same for every instance, and the keys spread."""
    placement = {}
    for by_partition in rounds:
        for part, rs in by_partition.items():
            for k, _, _ in rs:
                placement.setdefault(k, set()).add(part)
    spread = {k: p for k, p in placement.items() if len(p) != 1}
    check(not spread, f"keys on more than one partition: {spread}")
    used = {next(iter(p)) for p in placement.values()}
    check(len(used) > 1, "all 12 keys landed on one partition of 6")
    return f"12 keys x 10 sends, {len(used)} partitions used, each key on one partition"


# The transactions scenario: three transactions of one transactional producer over 5 partitions
# of two topics (3 + 2), record i of a transaction on partition i % 5. The second aborts.
TXNS = [("t1", True, 10), ("t2", False, 7), ("t3", True, 5)]
# Offsets the scenario sends to a transaction: committed, then aborted (must not stick).
TXN_OFFSET_COMMITTED, TXN_OFFSET_ABORTED = 4, 6


def txn_partitions(topic_a, topic_b):
    return [(topic_a, 0), (topic_a, 1), (topic_a, 2), (topic_b, 0), (topic_b, 1)]


def txn_plan(topic_a, topic_b):
    """[(commit, [(topic, partition, value)])] for the three transactions, in order."""
    parts = txn_partitions(topic_a, topic_b)
    return [(commit, [(*parts[i % len(parts)], f"{t}-{i}".encode()) for i in range(n)])
            for t, commit, n in TXNS]


def check_txn_reads(plan, committed, uncommitted):
    """committed / uncommitted: {(topic, partition): [value, ...]} in offset order, as read
    with isolation.level read_committed / read_uncommitted. read_committed must see exactly the
    committed transactions' records, per partition in order; read_uncommitted all of them
    (Kafka hands aborted records to read_uncommitted consumers)."""
    want, every = {}, {}
    for commit, recs in plan:
        for t, p, v in recs:
            every.setdefault((t, p), []).append(v)
            if commit:
                want.setdefault((t, p), []).append(v)
    aborted = {v for commit, recs in plan if not commit for _, _, v in recs}
    leaked = sorted(v.decode() for vs in committed.values() for v in vs if v in aborted)
    check(not leaked, f"read_committed consumer saw aborted records {leaked}")
    for tp in sorted(want):
        got = committed.get(tp, [])
        check(got == want[tp], f"read_committed {tp[0]}[{tp[1]}]: got "
              f"{[v.decode() for v in got]}, expected {[v.decode() for v in want[tp]]}")
    n_committed, n_all = sum(map(len, want.values())), sum(map(len, every.values()))
    n = sum(map(len, uncommitted.values()))
    check(n == n_all, f"read_uncommitted consumer read {n} records, expected {n_all} "
          f"(committed and aborted)")
    for tp in sorted(every):
        got = uncommitted.get(tp, [])
        check(sorted(got) == sorted(every[tp]), f"read_uncommitted {tp[0]}[{tp[1]}]: got "
              f"{[v.decode() for v in got]}, expected {[v.decode() for v in every[tp]]}")
    return (f"3 transactions over 5 partitions of 2 topics: read_committed {n_committed} "
            f"(no aborted), read_uncommitted {n_all}")


def short(x, n=120):
    s = repr(x)
    return s if len(s) <= n else s[:n] + "..."


def wait_until(cond, what, timeout=None, step=0.1, tick=None):
    """Poll `cond` (calling `tick` between tries) until true; Failed after the deadline."""
    deadline = time.time() + (timeout or WAIT_S)
    while time.time() < deadline:
        if cond():
            return
        if tick:
            tick()
        else:
            time.sleep(step)
    raise Failed(f"timed out after {timeout or WAIT_S:.0f}s waiting for {what}")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Steps:
    """Checks that do not depend on each other: each runs, the scenario fails naming all that
    failed."""

    def __init__(self):
        self.passed, self.failed = [], []

    @contextlib.contextmanager
    def step(self, label):
        try:
            yield
            self.passed.append(label)
        except Failed as e:
            log(f"STEP FAILED {label}: {e}")
            self.failed.append(f"[{label}] {e}")

    def result(self, summary):
        if self.failed:
            raise Failed(f"{len(self.failed)} of {len(self.failed) + len(self.passed)} steps "
                         f"failed: " + "; ".join(self.failed)
                         + (f" (passed: {', '.join(self.passed)})" if self.passed else ""))
        return summary


def main(client, scenarios, names=None):
    """Parse arguments and run the chosen scenarios; scenarios maps name -> fn(bootstrap), and
    `names` (default: the library scenarios) are those that may be asked for, in order."""
    names = SCENARIOS if names is None else names
    ap = argparse.ArgumentParser(description=f"{client} compatibility scenarios")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--scenario", default="all", choices=["all"] + list(names))
    args = ap.parse_args()
    todo = list(names) if args.scenario == "all" else [args.scenario]
    failed = False
    for s in todo:
        fn = scenarios.get(s)
        t0 = time.time()
        try:
            if fn is None:
                raise NotApplicable("not implemented for this client")
            detail = fn(args.bootstrap) or ""
            result = "pass"
        except NotApplicable as e:
            result, detail = "na", str(e)
        except Failed as e:
            result, detail = "fail", str(e)
            failed = True
        except Exception as e:  # a client error is a failure of the scenario, with its message
            traceback.print_exc(file=sys.stderr)
            result, detail = "fail", f"{type(e).__name__}: {e}"
            failed = True
        detail = " ".join(str(detail).split())
        print(f"RESULT {s} {result} {detail} ({time.time() - t0:.1f}s)", flush=True)
    # Client libraries may leave background threads; exit without waiting for them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if failed else 0)
