"""kcat (Debian's, librdkafka 2.0.2: an old client) scenarios, driven from Python.

Run: python compat/kcat_client.py --bootstrap 127.0.0.1:9092 [--scenario NAME]
kcat has no admin API, so its topics are auto-created with the broker's default partition count
(1 on Gregor and on a stock Kafka): the group scenario uses three 1-partition topics and the
round-robin assignor instead of one 3-partition topic, and key -> partition cannot be expressed;
nor can transactions (see transactions()).
Client defaults otherwise, except session.timeout.ms=10000 and heartbeat.interval.ms=1000 in
group scenarios.
"""

import json
import os
import selectors
import re
import subprocess
import time

from common import (CODECS, HEARTBEAT_MS, SESSION_TIMEOUT_MS, WAIT_S, Failed, NotApplicable,
                    check, main, name, wait_until)

CLIENT = "kcat"
CHILDREN = []


def kcat(bootstrap, *args, stdin=None, timeout=WAIT_S):
    """Run kcat to completion; returns stdout (bytes). Failed on a non-zero exit."""
    r = subprocess.run(["kcat", "-b", bootstrap, *args], input=stdin, capture_output=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise Failed(f"kcat {' '.join(args)} exited {r.returncode}: "
                     f"{r.stderr.decode(errors='replace').strip()[-300:]}")
    return r.stdout


def spawn(bootstrap, *args):
    p = subprocess.Popen(["kcat", "-b", bootstrap, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    CHILDREN.append(p)
    return p


def consume_json(bootstrap, topic, *args):
    """Every record of a 1-partition topic from the start, as kcat's JSON envelopes."""
    out = kcat(bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-J", *args)
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


def produce_lines(bootstrap, topic, lines, *args):
    kcat(bootstrap, "-P", "-t", topic, *args, stdin="".join(l + "\n" for l in lines).encode())


def codecs(bootstrap):
    # kcat reads records as lines and prints JSON, so values are text: UTF-8, quotes,
    # backslashes, tabs. -H sets the same headers on every record of one invocation.
    for codec in CODECS:
        topic = name(f"codec-{codec}", CLIENT)
        recs = [(f"key-{i % 3}", f"{codec}-{i} ünïcødé ✓ \"q\" back\\slash\ttab {'x' * 300}")
                for i in range(30)]
        produce_lines(bootstrap, topic, [f"{k}#{v}" for k, v in recs], "-K", "#", "-z", codec,
                      "-H", "trace=t-1", "-H", "bin=ü\x01\x7f", "-X", "linger.ms=50")
        got = consume_json(bootstrap, topic)
        check(len(got) == 30, f"{codec}: produced 30, read {len(got)}")
        for i, (m, (k, v)) in enumerate(zip(got, recs)):
            check(m["offset"] == i, f"{codec}: record {i} at offset {m['offset']}")
            check(m["key"] == k, f"{codec}: record {i} key {m['key']!r}, sent {k!r}")
            check(m["payload"] == v, f"{codec}: record {i} value differs: {m['payload'][:60]!r}")
            check(m.get("headers") == ["trace", "t-1", "bin", "ü\x01\x7f"],
                  f"{codec}: record {i} headers {m.get('headers')}")
    meta = json.loads(kcat(bootstrap, "-L", "-J"))
    check(any(t["topic"] == topic for t in meta["topics"]), "kcat -L lacks the topic")
    return "none,gzip,snappy,lz4,zstd (text values; metadata -L -J)"


def idempotent(bootstrap):
    topic, n = name("idem", CLIENT), 200
    produce_lines(bootstrap, topic, [str(i) for i in range(n)], "-X", "enable.idempotence=true")
    values = [m["payload"] for m in consume_json(bootstrap, topic)]
    check(values == [str(i) for i in range(n)],
          f"read {len(values)} records, {len(set(values))} distinct, expected {n} in order")
    return f"{n} records, no duplicates"


GROUP_CONF = ["-X", f"session.timeout.ms={SESSION_TIMEOUT_MS}",
              "-X", f"heartbeat.interval.ms={HEARTBEAT_MS}", "-X", "auto.offset.reset=earliest"]
REBALANCE = re.compile(r"rebalanced.*?: (assigned|revoked): (.*)")


def group_rebalance(bootstrap):
    group = name("grp", CLIENT)
    topics = [name(f"grp{i}", CLIENT) for i in range(3)]
    for t in topics:  # auto-create the three 1-partition topics
        produce_lines(bootstrap, t, ["x"])
    # kcat reports each rebalance on stderr ("% Group G rebalanced ...: assigned: t [0]").
    members = [spawn(bootstrap, "-G", group, *GROUP_CONF, "-X",
                     "partition.assignment.strategy=roundrobin", *topics)
               for _ in range(4)]
    owned = [set() for _ in members]
    sel = selectors.DefaultSelector()
    for i, p in enumerate(members):
        os.set_blocking(p.stderr.fileno(), False)
        sel.register(p.stderr, selectors.EVENT_READ, i)
    buf = [b""] * 4

    def read_stderr():
        for key, _ in sel.select(0.2):
            i = key.data
            chunk = key.fileobj.read() or b""
            buf[i] += chunk
            *lines, buf[i] = buf[i].split(b"\n")
            for line in lines:
                m = REBALANCE.search(line.decode(errors="replace"))
                if m:
                    # "assigned: topicA [0], topicB [0]"
                    parts = set(re.findall(r"(\S+) \[(\d+)\]", m.group(2)))
                    owned[i] = parts if m.group(1) == "assigned" else set()
            if not chunk:
                sel.unregister(key.fileobj)

    everything = {(t, "0") for t in topics}

    def balanced(live):
        sizes = sorted(len(owned[i]) for i in live)
        union = set().union(*(owned[i] for i in live))
        return union == everything and sizes == [0] * (len(live) - 3) + [1, 1, 1]

    live = [0, 1, 2, 3]
    wait_until(lambda: balanced(live), "3 of 4 members owning one partition each",
               tick=read_stderr)
    leaver = next(i for i in live if owned[i])
    gone = owned[leaver]
    members[leaver].terminate()  # kcat closes the consumer on SIGTERM: LeaveGroup
    members[leaver].wait(15)
    live.remove(leaver)
    wait_until(lambda: balanced(live), f"{sorted(gone)} moving to the others", tick=read_stderr)
    return "4 members over 3 partitions (3 topics, roundrobin): 3x1 + idle; leaver's moved"


def commit_resume(bootstrap):
    topic, group = name("commit", CLIENT), name("commit", CLIENT)
    produce_lines(bootstrap, topic, [f"v{i}" for i in range(10)])
    # kcat -G commits the offsets of the records it printed (auto commit) when it closes: stop
    # after 5, so v5.. are "unprocessed".
    first = kcat(bootstrap, "-G", group, *GROUP_CONF, "-c", "5", "-f", "%s\n", topic)
    check(first.split() == [f"v{i}".encode() for i in range(5)], f"first member read {first}")
    second = kcat(bootstrap, "-G", group, *GROUP_CONF, "-e", "-f", "%s\n", topic)
    got = second.split()
    check(got == [f"v{i}".encode() for i in range(5, 10)], f"new member got {got}")
    return "auto-commit after 5 on close; new member resumed at v5"


def offset_reset(bootstrap):
    # kcat's simple consumer has no auto.offset.reset of its own; -o beginning / end / N are
    # the same resolution (ListOffsets earliest / latest) and an explicit seek.
    topic = name("reset", CLIENT)
    produce_lines(bootstrap, topic, [f"a{i}" for i in range(5)])
    early = [m["payload"] for m in consume_json(bootstrap, topic)]
    check(early == [f"a{i}" for i in range(5)], f"-o beginning read {early}")
    late = spawn(bootstrap, "-C", "-t", topic, "-o", "end", "-c", "3", "-f", "%s\n")
    time.sleep(3)  # let it resolve "end" before producing
    produce_lines(bootstrap, topic, ["b0", "b1", "b2"])
    out, _ = late.communicate(timeout=WAIT_S)
    check(out.split() == [b"b0", b"b1", b"b2"], f"-o end read {out.split()}")
    replay = kcat(bootstrap, "-C", "-t", topic, "-o", "0", "-e", "-f", "%s\n").split()
    want = [f"a{i}".encode() for i in range(5)] + [b"b0", b"b1", b"b2"]
    check(replay == want, f"replay from -o 0 read {replay}")
    return "-o beginning, -o end, -o 0 replay (explicit offsets, not auto.offset.reset)"


def key_partition(bootstrap):
    raise NotApplicable("kcat cannot create a multi-partition topic (no admin API)")


def admin_topics(bootstrap):
    raise NotApplicable("kcat has no admin API (metadata listing -L is checked in codecs)")


def admin_groups(bootstrap):
    raise NotApplicable("kcat has no admin API for groups")


def transactions(bootstrap):
    # kcat 1.7.1 does have a transactional producer (-X transactional.id=..), but only as "all of
    # this invocation's input in one transaction, committed at the end of input". Checked on
    # Kafka 4.4: kcat reads stdin in blocks, so records reach the broker only once a block fills
    # or input ends, and it notices a signal only between reads (then exits with "Program
    # terminated while producing"): a transaction cannot be aborted with its records in the log.
    raise NotApplicable("kcat's transactional producer (-X transactional.id) sends all its input "
                        "as one transaction on one topic, committed at end of input: no abort "
                        "(a signal is noticed only between reads of its block-buffered stdin), "
                        "no sendOffsetsToTransaction, and no admin API for the multi-partition "
                        "topics")


def run_and_reap(fn):
    def wrapped(bootstrap):
        try:
            return fn(bootstrap)
        finally:
            for p in CHILDREN:
                if p.poll() is None:
                    p.kill()
    return wrapped


if __name__ == "__main__":
    main(CLIENT, {s: run_and_reap(f) for s, f in {
        "codecs": codecs, "idempotent": idempotent, "group_rebalance": group_rebalance,
        "commit_resume": commit_resume, "offset_reset": offset_reset,
        "key_partition": key_partition, "admin_topics": admin_topics,
        "admin_groups": admin_groups, "transactions": transactions,
    }.items()})
