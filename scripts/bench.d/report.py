#!/usr/bin/env python3
"""Turns scripts/bench's raw per-run JSON (target/bench/raw.jsonl) into the markdown table and
one JSON line per figure. Each figure is the median of its runs, with min and max.

usage: report.py RAW.jsonl OUT_DIR ELAPSED_SECONDS QUICK(0|1)
Writes OUT_DIR/table.md and OUT_DIR/figures.jsonl and prints both."""
import json
import os
import re
import statistics
import sys

raw, out_dir, elapsed, quick = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
runs = {}
for line in open(raw):
    d = json.loads(line)
    runs.setdefault(d["tag"], []).append(d["r"])

MB, GB = 1e6, 1e9
rows = []  # (section, figure, unit, values, target text, met: True/False/None)


def fig(section, name, unit, values, target="", met=None):
    values = [v for v in values if v is not None]
    if values:
        rows.append((section, name, unit, values, target, met))


def med(vals):
    return statistics.median(vals) if vals else None


def per_run(tag, f):
    return [f(r) for r in runs.get(tag, [])]


def cpu_per_gb(r, key):
    if r.get(key) is None or not r["bytes"]:
        return None
    return r[key] / (r["bytes"] / GB)


# 1. ready
rd = runs.get("ready", [{}])[0]
ready = [float(x) for x in rd.get("ready_ms", [])]
m = med(ready)
fig("ready", "spawn to first ApiVersions answer", "ms", ready, "<= 5 ms", m is not None and m <= 5)
fig("ready", "broker's own 'ready in' figure", "ms", [x for x in rd.get("reported_ms", []) if x is not None])
idle = [x / 1024 for x in rd.get("rss_kb", [])]
m = med(idle)
fig("ready", "idle RSS (VmRSS 300 ms after ready)", "MiB", idle, "<= 8 MB", m is not None and m * 1.048576 <= 8)
bs = runs.get("binsize", [{}])[0]
if bs:
    fig("ready", "binary size (release, debug=1)", "MB", [bs["bytes"] / MB])
    fig("ready", "binary size after strip", "MB", [bs["stripped"] / MB])

# 2. produce
for tag, label in [("produce_1k", "1 KiB acks=1"), ("produce_100", "100 B acks=1"),
                   ("produce_idem", "1 KiB acks=all idempotent")]:
    rs = runs.get(tag, [])
    if not rs:
        continue
    fig("produce", f"{label}: throughput", "msgs/s", [r["msgs"] / r["secs"] for r in rs])
    fig("produce", f"{label}: throughput", "MB/s", [r["bytes"] / r["secs"] / MB for r in rs])
    b = [cpu_per_gb(r, "broker_cpu") for r in rs]
    target, met = ("", None)
    if tag == "produce_1k":
        target, met = "<= 0.3 s/GB", med(b) <= 0.3
    fig("produce", f"{label}: broker CPU per GB", "s/GB", b, target, met)
    fig("produce", f"{label}: broker CPU per GB, user part", "s/GB", [cpu_per_gb(r, "broker_user") for r in rs])
    fig("produce", f"{label}: client CPU per GB", "s/GB", [cpu_per_gb(r, "client_cpu") for r in rs])
    fig("produce", f"{label}: client CPU / broker CPU", "x",
        [r["client_cpu"] / r["broker_cpu"] for r in rs if r.get("broker_cpu")])

# Transactions: 1 KiB records in transactions of 100 and 10,000, and read_committed fetch.
for tag, label in [("txn_100", "1 KiB in transactions of 100"),
                   ("txn_10000", "1 KiB in transactions of 10,000")]:
    rs = runs.get(tag, [])
    if not rs:
        continue
    fig("transactions", f"{label}: throughput", "MB/s", [r["bytes"] / r["secs"] / MB for r in rs])
    fig("transactions", f"{label}: commit latency p50", "ms", [r["commit_p50_ms"] for r in rs])
    fig("transactions", f"{label}: commit latency p99", "ms", [r["commit_p99_ms"] for r in rs])
    fig("transactions", f"{label}: broker CPU per GB", "s/GB", [cpu_per_gb(r, "broker_cpu") for r in rs])
rs = runs.get("fetch_committed", [])
if rs:
    fig("transactions", "read_committed fetch of them: throughput", "MB/s",
        [r["bytes"] / r["secs"] / MB for r in rs])

# 9. compressed produce (after the uncompressed rows, same columns)
for tag, label in [("produce_lz4", "1 KiB lz4 acks=1"), ("produce_zstd", "1 KiB zstd acks=1")]:
    rs = runs.get(tag, [])
    if not rs:
        continue
    fig("produce", f"{label}: throughput", "MB/s", [r["bytes"] / r["secs"] / MB for r in rs])
    fig("produce", f"{label}: broker CPU per GB (uncompressed)", "s/GB", [cpu_per_gb(r, "broker_cpu") for r in rs],
        "well below client's", med([cpu_per_gb(r, "broker_cpu") for r in rs]) <= 0.5 * med([cpu_per_gb(r, "client_cpu") for r in rs]))
    fig("produce", f"{label}: broker CPU per GB, user part", "s/GB", [cpu_per_gb(r, "broker_user") for r in rs])
    fig("produce", f"{label}: client CPU per GB", "s/GB", [cpu_per_gb(r, "client_cpu") for r in rs])

# 3. fetch
rs = runs.get("fetch_1k", [])
if rs:
    mbs = [r["bytes"] / r["secs"] / MB for r in rs]
    fig("fetch", "1 KiB records from offset 0: throughput", "MB/s", mbs, ">= 1000 MB/s", med(mbs) >= 1000)
    fig("fetch", "1 KiB records from offset 0: throughput", "msgs/s", [r["msgs"] / r["secs"] for r in rs])
    b = [cpu_per_gb(r, "broker_cpu") for r in rs]
    c = [cpu_per_gb(r, "client_cpu") for r in rs]
    fig("fetch", "broker CPU per GB", "s/GB", b, "well below client's",
        med(b) is not None and med(c) is not None and med(b) <= 0.5 * med(c))
    fig("fetch", "broker CPU per GB, user part", "s/GB", [cpu_per_gb(r, "broker_user") for r in rs])
    fig("fetch", "client CPU per GB", "s/GB", c)

# 13. the console open or closed (issue 19)
for mode in ("closed", "open"):
    rs = runs.get(f"console_{mode}_produce", [])
    if rs:
        fig("console", f"100 B acks=1, console {mode}: throughput", "msgs/s", [r["msgs"] / r["secs"] for r in rs])
        fig("console", f"100 B acks=1, console {mode}: broker CPU per GB", "s/GB",
            [cpu_per_gb(r, "broker_cpu") for r in rs])
    rs = runs.get(f"console_{mode}_latency", [])
    if rs:
        fig("console", f"produce-to-consume p50, console {mode}", "ms", [r["p50_ms"] for r in rs])
        fig("console", f"produce-to-consume p99, console {mode}", "ms", [r["p99_ms"] for r in rs])

# 4. latency
rs = runs.get("latency", [])
if rs:
    fig("latency", "produce-to-consume p50 at 10k msgs/s (100 B)", "ms", [r["p50_ms"] for r in rs])
    fig("latency", "produce-to-consume p99 at 10k msgs/s (100 B)", "ms", [r["p99_ms"] for r in rs])
    fig("latency", "produce-to-consume max at 10k msgs/s (100 B)", "ms", [r["max_ms"] for r in rs])
    fig("latency", "records lost (sent - received)", "msgs", [r["sent"] - r["received"] for r in rs])
    if all("steal_ms" in r for r in rs):
        fig("latency", "CPU stolen by the hypervisor during the run", "ms", [r["steal_ms"] for r in rs])

# 5. groups
for tag, label in [("groups", "4 members, 3 partitions: stable after last subscribe"),
                   ("groups_delay", "same, broker group.initial.rebalance.delay.ms=0"),
                   ("groups_848", "same under KIP-848 (group.protocol=consumer)")]:
    rs = runs.get(tag, [])
    if rs:
        v = [r["stable_ms"] for r in rs]
        if tag == "groups":
            fig("groups", label, "ms", v, "<= 1000 ms", med(v) <= 1000)
        else:
            fig("groups", label, "ms", v)
for tag, label in [("groups", "a member with a partition closes: stable again (classic)"),
                   ("groups_848", "a member with a partition closes: stable again (KIP-848)")]:
    v = [r["recover_ms"] for r in runs.get(tag, []) if "recover_ms" in r]
    if v:
        fig("groups", label, "ms", v)

rs = runs.get("commits", [])
if rs:
    fig("groups", "synchronous OffsetCommits, one consumer", "commits/s", [r["commits"] / r["secs"] for r in rs])
    fig("groups", "broker CPU per commit", "us", [r["broker_cpu"] / r["commits"] * 1e6 for r in rs if r.get("broker_cpu")])

# 6. restart
def restart_vals(tag, key):
    return [float(x) for r in runs.get(tag, []) for x in r.get(key, []) if x is not None]


loaded = runs.get("main_loaded", [{}])[0]
size = loaded.get("data_bytes", 0) / GB
v = restart_vals("restart", "ready_ms")
fig("restart", f"after SIGKILL with {size:.2f} GB of log: first ApiVersions answer", "ms", v,
    "<= 500 ms", med(v) is not None and med(v) <= 500)
fig("restart", "after SIGKILL: broker's own 'ready in' figure", "ms", restart_vals("restart", "reported_ms"))
fig("restart", "SIGKILL again once recovered, restart: first ApiVersions answer", "ms",
    restart_vals("restart_again", "ready_ms"))

# 12. log compaction
for r in runs.get("compact", []):
    secs = r["cleaner_ms"] / 1e3
    fig("compaction", f"cleaner: {r['records']:,} records of 100 B over {r['keys']:,} keys, log cleaned",
        "MB/s", [r["bytes_read"] / MB / secs] if secs else [])
    fig("compaction", "cleaner: all log read (key map + cleaning)", "MB/s",
        [(r["bytes_read"] + r["map_bytes_read"]) / MB / secs] if secs else [])
    fig("compaction", "cleaner thread CPU per GB of log cleaned", "s/GB",
        [r["cleaner_cpu"] / (r["bytes_read"] / GB)] if r["bytes_read"] else [])
    fig("compaction", "cleaner: bytes written / bytes read", "%",
        [100 * r["bytes_written"] / r["bytes_read"]] if r["bytes_read"] else [])
for mode, label in [("cleaned", "cleaned"), ("history", "log.cleaner.enable=false")]:
    for r in runs.get(f"restart_commits_{mode}", []):
        n = runs.get(f"commit_many_{mode}", [{}])[0].get("commits", 0)
        fig("compaction", f"start after {n:,} offset commits ({label}): first answer", "ms",
            [float(x) for x in r.get("ready_ms", [])], "< 100 ms" if mode == "cleaned" else "",
            med([float(x) for x in r.get("ready_ms", [])]) < 100 if mode == "cleaned" and r.get("ready_ms") else None)
        if r.get("replayed") is not None:
            fig("compaction", f"  __consumer_offsets records replayed ({label})", "records", [r["replayed"]])
        fig("compaction", f"  __consumer_offsets on disk ({label})", "MB", [r["offsets_bytes"] / MB])

# 10. many partitions
many = runs.get("many", [{}])[0]
if many:
    n = many["partitions"]
    fig("partitions", f"{n:,} partitions: create (CreateTopics)", "s", [many["create_secs"]])
    fig("partitions", f"{n:,} partitions: broker VmRSS with one record in each", "MiB", [many["rss_kb"] / 1024])
    fig("partitions", f"{n:,} partitions: broker open descriptors", "fds", [many["fds"]])
    fig("partitions", f"{n:,} partitions: clean stop (SIGTERM to exit)", "ms",
        [r["stop_ms"] for r in runs.get("many_stop", [])])
    fig("partitions", f"{n:,} partitions: start after a clean stop, first answer", "ms",
        restart_vals("many_clean", "ready_ms"))
    fig("partitions", f"{n:,} partitions: idle RSS after that start", "MiB",
        [x / 1024 for r in runs.get("many_clean", []) for x in r.get("rss_kb", [])])
    fig("partitions", f"{n:,} partitions: start after SIGKILL, first answer", "ms",
        restart_vals("many_unclean", "ready_ms"))

# 7. memory
idle_main = runs.get("main_idle", [{}])[0]
if loaded:
    total = 0
    for i, r in enumerate(runs.get("produce_1k", [])):
        total += r["bytes"]
        fig("memory", f"broker VmRSS after produce run {i + 1} ({total / GB:.2f} GB in)",
            "MiB", [r["rss_kb"] / 1024])
    for i, r in enumerate(runs.get("fetch_1k", [])):
        fig("memory", f"broker VmRSS after fetch run {i + 1} ({(i + 1) * r['bytes'] / GB:.2f} GB out)",
            "MiB", [r["rss_kb"] / 1024])
    fig("memory", f"broker VmRSS after {size:.2f} GB produced and read back", "MiB",
        [loaded["rss_kb"] / 1024], "bounded", None)
    fig("memory", "  of which RssAnon (heap, not file pages)", "MiB", [loaded["anon_kb"] / 1024])
    fig("memory", "broker VmHWM (peak) over the same", "MiB", [loaded["hwm_kb"] / 1024])
small = runs.get("small_loaded", [{}])[0]
if small:
    fig("memory", f"second broker VmRSS after {small['data_bytes'] / GB:.2f} GB of 100 B + idempotent produce",
        "MiB", [small["rss_kb"] / 1024])
    fig("memory", "second broker VmHWM", "MiB", [small["hwm_kb"] / 1024])

# 8. machine
for r in runs.get("loopback", []):
    fig("machine", "loopback TCP, 1 sender + 1 receiver thread", "MB/s", [r["bytes"] / r["secs"] / MB])
for tag, label in [("dd_fdatasync", "dd to data dir, conv=fdatasync"), ("dd_cached", "dd to data dir, no sync")]:
    for r in runs.get(tag, []):
        fig("machine", label, "MB/s", [r["bytes_per_s"] / MB])
        if "cpu_s_per_gb" in r:
            fig("machine", f"{label}: dd's CPU per GB", "s/GB", [r["cpu_s_per_gb"]])


def fmt(x):
    if x is None:
        return "-"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


lines = ["| section | figure | median | min | max | unit | runs | target |",
         "|---|---|---:|---:|---:|---|---:|---|"]
for section, name, unit, vals, target, met in rows:
    t = target
    if met is not None:
        t = f"{target}: {'met' if met else '**not met**'}"
    lines.append(f"| {section} | {name} | {fmt(med(vals))} | {fmt(min(vals))} | {fmt(max(vals))} | "
                 f"{unit} | {len(vals)} | {t} |")
mode = "quick" if quick else "full"
lines.append("")
lines.append(f"MB = 10^6 bytes, GB = 10^9 bytes of record payload; CPU = utime+stime from /proc. "
             f"CPU per GB is user+system; the user part is the broker's own code, the rest is kernel time "
             f"(socket copies, page-cache writes and reclaim). Mode: {mode}, took {elapsed} s.")
table = "\n".join(lines)

figs = []
for section, name, unit, vals, target, met in rows:
    figs.append(json.dumps({"figure": f"{section}: {name}", "value": round(med(vals), 4), "unit": unit,
                            "min": round(min(vals), 4), "max": round(max(vals), 4), "runs": len(vals)}))
open(os.path.join(out_dir, "table.md"), "w").write(table + "\n")
open(os.path.join(out_dir, "figures.jsonl"), "w").write("\n".join(figs) + "\n")
print(table)
print()
print("\n".join(figs))

# --reference: the same figures on Apache Kafka 4.4, side by side. "Gregor's edge" is how many
# times better Gregor's median is (higher throughput, or lower time / CPU / memory).
if any(t.startswith("kafka_") for t in runs):
    pairs = []  # (figure, unit, gregor values, kafka values, higher_is_better)

    def both(tag, f):
        return per_run(tag, f), per_run("kafka_" + tag, f)

    def ready_list(tag, key, scale=1.0):
        return [float(x) * scale for r in runs.get(tag, []) for x in r.get(key, []) if x is not None]

    pairs.append(("start: spawn to first ApiVersions answer", "ms",
                  ready_list("ready", "ready_ms"), ready_list("kafka_ready", "ready_ms"), False))
    pairs.append(("idle RSS after start", "MiB",
                  ready_list("ready", "rss_kb", 1 / 1024), ready_list("kafka_ready", "rss_kb", 1 / 1024), False))
    for tag, label in [("produce_1k", "produce 1 KiB acks=1"), ("produce_100", "produce 100 B acks=1"),
                       ("produce_idem", "produce 1 KiB acks=all idempotent")]:
        g, k = both(tag, lambda r: r["bytes"] / r["secs"] / MB)
        pairs.append((f"{label}: throughput", "MB/s", g, k, True))
        g, k = both(tag, lambda r: cpu_per_gb(r, "broker_cpu"))
        pairs.append((f"{label}: broker CPU per GB", "s/GB", g, k, False))
    for tag, label in [("txn_100", "produce 1 KiB in transactions of 100"),
                       ("txn_10000", "produce 1 KiB in transactions of 10,000")]:
        g, k = both(tag, lambda r: r["bytes"] / r["secs"] / MB)
        pairs.append((f"{label}: throughput", "MB/s", g, k, True))
        g, k = both(tag, lambda r: r["commit_p50_ms"])
        pairs.append((f"{label}: commit latency p50", "ms", g, k, False))
        g, k = both(tag, lambda r: r["commit_p99_ms"])
        pairs.append((f"{label}: commit latency p99", "ms", g, k, False))
    g, k = both("fetch_committed", lambda r: r["bytes"] / r["secs"] / MB)
    pairs.append(("read_committed fetch of the transactional topic", "MB/s", g, k, True))
    g, k = both("fetch_1k", lambda r: r["bytes"] / r["secs"] / MB)
    pairs.append(("fetch 1 KiB from offset 0: throughput", "MB/s", g, k, True))
    g, k = both("fetch_1k", lambda r: cpu_per_gb(r, "broker_cpu"))
    pairs.append(("fetch: broker CPU per GB", "s/GB", g, k, False))
    g, k = both("main_loaded", lambda r: r["rss_kb"] / 1024)
    pairs.append(("broker RSS after 1 GB in and out", "MiB", g, k, False))
    g, k = both("groups", lambda r: r["stable_ms"])
    pairs.append(("group of 4 stable after the last subscribe", "ms", g, k, False))
    g, k = both("groups", lambda r: r.get("recover_ms"))
    pairs.append(("group stable again after a member closes", "ms", g, k, False))
    g, k = both("groups_848", lambda r: r["stable_ms"])
    pairs.append(("KIP-848 group of 4 stable after the last subscribe", "ms", g, k, False))
    g, k = both("groups_848", lambda r: r.get("recover_ms"))
    pairs.append(("KIP-848 group stable again after a member closes", "ms", g, k, False))
    g, k = both("commits", lambda r: r["commits"] / r["secs"])
    pairs.append(("synchronous OffsetCommits, one consumer", "commits/s", g, k, True))
    pairs.append(("restart after SIGKILL with the 1 GB log", "ms",
                  ready_list("restart", "ready_ms"), ready_list("kafka_restart", "ready_ms"), False))
    g, k = both("compact", lambda r: r["bytes_read"] / MB / (r["cleaner_ms"] / 1e3) if r["cleaner_ms"] else None)
    pairs.append(("log cleaner: MB/s of log cleaned", "MB/s", g, k, True))
    g, k = both("compact", lambda r: r["cleaner_cpu"] / (r["bytes_read"] / GB) if r["bytes_read"] else None)
    pairs.append(("log cleaner: thread CPU per GB cleaned", "s/GB", g, k, False))
    cmp_lines = ["| figure | Gregor | Kafka 4.4 | unit | Gregor's edge |", "|---|---:|---:|---|---:|"]
    for name, unit, g, k, higher in pairs:
        g = [x for x in g if x is not None]
        k = [x for x in k if x is not None]
        if not g or not k:
            continue
        gm, km = med(g), med(k)
        edge = (gm / km if higher else km / gm) if gm and km else None
        cmp_lines.append(f"| {name} | {fmt(gm)} | {fmt(km)} | {unit} | "
                         f"{'-' if edge is None else fmt(edge) + 'x'} |")
    cmp_lines.append("")
    cmp_lines.append("Medians of the same runs as above; Kafka 4.4 is one KRaft node (broker and controller), "
                     "JVM as bin/kafka-server-start.sh (1 GiB heap, G1), group.initial.rebalance.delay.ms=100 "
                     "on both. Gregor's edge: Kafka's figure over Gregor's (Gregor's over Kafka's for "
                     "throughput); above 1 means Gregor is better.")
    cmp = "\n".join(cmp_lines)
    open(os.path.join(out_dir, "reference.md"), "w").write(cmp + "\n")
    print()
    print(cmp)

# Broker log lines at WARN or above, so stalls and errors are not missed.
bad = []
for name in sorted(os.listdir(out_dir)):
    if name.startswith("broker-") and name.endswith(".log"):
        for line in open(os.path.join(out_dir, name), errors="replace"):
            plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
            if re.search(r"\b(WARN|ERROR)\b", plain):
                bad.append(f"{name}: {plain.rstrip()}")
print()
print(f"broker log lines at WARN/ERROR: {len(bad)}" + (" (first 20 below)" if bad else ""))
for b in bad[:20]:
    print("  " + b)
