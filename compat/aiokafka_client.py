"""aiokafka (asyncio) scenarios.

Run: python compat/aiokafka_client.py --bootstrap 127.0.0.1:9092 [--scenario NAME]
Client defaults everywhere, except: group scenarios use session_timeout_ms=10000 and
heartbeat_interval_ms=1000, and topic read-backs use manual assign with no group.
"""

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import InvalidProducerEpoch, KafkaError, ProducerFenced
from aiokafka.structs import OffsetAndMetadata

from common import (CODECS, check_key_placement, key_records, HEARTBEAT_MS, SESSION_TIMEOUT_MS, WAIT_S, Failed, check,
                    compare_partitions, main, name, record, TXN_OFFSET_ABORTED,
                    TXN_OFFSET_COMMITTED, check_txn_reads, txn_partitions, txn_plan)

CLIENT = "aiokafka"


async def produce(bootstrap, topic, records, **conf):
    """Produce (key, value, headers); returns {partition: [record...]} in offset order."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, **conf)
    await p.start()
    try:
        futs = [(rec, await p.send(topic, key=rec[0], value=rec[1], headers=rec[2]))
                for rec in records]
        metas = [(await f, rec) for rec, f in futs]
    finally:
        await p.stop()
    by_part = {}
    for meta, rec in sorted(metas, key=lambda x: (x[0].partition, x[0].offset)):
        by_part.setdefault(meta.partition, []).append(rec)
    return by_part


async def drain(c, want, wait=WAIT_S):
    got, deadline = [], time.time() + wait
    while len(got) < want and time.time() < deadline:
        for tp, msgs in (await c.getmany(timeout_ms=300)).items():
            got += [(tp.partition, (m.key, m.value, list(m.headers))) for m in msgs]
    return got


async def read_all(bootstrap, topic, partitions, want, wait=WAIT_S):
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await c.start()
    try:
        c.assign([TopicPartition(topic, p) for p in partitions])
        for p in partitions:
            c.seek(TopicPartition(topic, p), 0)
        got = {}
        for part, rec in await drain(c, want, wait):
            got.setdefault(part, []).append(rec)
        return got
    finally:
        await c.stop()


async def admin(bootstrap):
    a = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await a.start()
    return a


async def create_topic(bootstrap, topic, partitions):
    a = await admin(bootstrap)
    await a.create_topics([NewTopic(topic, partitions, 1)])
    await until(lambda: a.describe_topics([topic]),
                lambda ts: ts[0]["error_code"] == 0 and len(ts[0]["partitions"]) == partitions,
                f"topic {topic} in metadata")
    return a


async def until(fetch, ok, what, wait=WAIT_S):
    deadline = time.time() + wait
    while time.time() < deadline:
        if ok(await fetch()):
            return
        await asyncio.sleep(0.1)
    raise Failed(f"timed out after {wait:.0f}s waiting for {what}")


async def codecs(bootstrap):
    for codec in CODECS:
        topic = name(f"codec-{codec}", CLIENT)
        await (await create_topic(bootstrap, topic, 3)).close()
        expected = await produce(bootstrap, topic, [record(codec, i) for i in range(30)],
                                 compression_type=None if codec == "none" else codec,
                                 linger_ms=50)
        compare_partitions(expected, await read_all(bootstrap, topic, [0, 1, 2], 30))
    return "none,gzip,snappy,lz4,zstd"


async def idempotent(bootstrap):
    topic = name("idem", CLIENT)
    n = 200
    await produce(bootstrap, topic, [(None, str(i).encode(), []) for i in range(n)],
                  enable_idempotence=True)
    got = await read_all(bootstrap, topic, [0], n + 1, wait=5)  # one more: a duplicate shows
    values = [r[1] for r in got.get(0, [])]
    check(values == [str(i).encode() for i in range(n)],
          f"read {len(values)} records, {len(set(values))} distinct, expected {n} in order")
    return f"{n} records, no duplicates"


def group_consumer(bootstrap, group, **extra):
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                            auto_offset_reset="earliest", session_timeout_ms=SESSION_TIMEOUT_MS,
                            heartbeat_interval_ms=HEARTBEAT_MS, **extra)


class Tracker(ConsumerRebalanceListener):
    def __init__(self):
        self.owned = set()

    async def on_partitions_revoked(self, revoked):
        self.owned = set()

    async def on_partitions_assigned(self, assigned):
        self.owned = {tp.partition for tp in assigned}


async def wait_for(cond, what, wait=WAIT_S):
    deadline = time.time() + wait
    while time.time() < deadline:
        if cond():
            return
        await asyncio.sleep(0.1)
    raise Failed(f"timed out after {wait:.0f}s waiting for {what}")


async def group_rebalance(bootstrap):
    topic, group = name("grp", CLIENT), name("grp", CLIENT)
    await (await create_topic(bootstrap, topic, 3)).close()
    members = []
    for _ in range(4):
        c, t = group_consumer(bootstrap, group), Tracker()
        c.subscribe([topic], listener=t)
        await c.start()
        members.append((c, t))
    # aiokafka rebalances in a background task; poll so the consumers count as live.
    pollers = [asyncio.create_task(poll_forever(c)) for c, _ in members]

    def balanced(live):
        sizes = sorted(len(t.owned) for _, t in live)
        union = set().union(*(t.owned for _, t in live))
        return union == {0, 1, 2} and sizes == [0] * (len(live) - 3) + [1, 1, 1]

    try:
        await wait_for(lambda: balanced(members), "3 of 4 members owning one partition each")
        i = next(i for i, (_, t) in enumerate(members) if t.owned)
        gone = members[i][1].owned
        pollers[i].cancel()
        await members[i][0].stop()  # sends LeaveGroup
        live = members[:i] + members[i + 1:]
        await wait_for(lambda: balanced(live), f"partition {sorted(gone)} moving to the others")
    finally:
        for p in pollers:
            p.cancel()
        for c, _ in members:
            await c.stop()
    return f"4 members: 3x1 + idle; member leaving with {sorted(gone)} -> reassigned"


async def poll_forever(c):
    while True:
        await c.getmany(timeout_ms=200)


async def commit_resume(bootstrap):
    topic, group = name("commit", CLIENT), name("commit", CLIENT)
    await produce(bootstrap, topic, [(None, f"v{i}".encode(), []) for i in range(10)])
    tp = TopicPartition(topic, 0)
    a = group_consumer(bootstrap, group, enable_auto_commit=False)
    a.subscribe([topic])
    await a.start()
    seen = await drain(a, 10)
    check(len(seen) == 10, f"first member read {len(seen)}/10")
    await a.commit({tp: OffsetAndMetadata(5, "")})  # v5.. count as unprocessed
    committed = await a.committed(tp)
    check(committed == 5, f"committed offset reads back as {committed}, expected 5")
    await a.stop()
    b = group_consumer(bootstrap, group, enable_auto_commit=False)
    b.subscribe([topic])
    await b.start()
    got = [r[1] for _, r in await drain(b, 5)]
    await b.stop()
    check(got == [f"v{i}".encode() for i in range(5, 10)], f"new member got {got}, expected v5..v9")
    return "committed 5, new member resumed at v5"


async def offset_reset(bootstrap):
    topic = name("reset", CLIENT)
    await produce(bootstrap, topic, [(None, f"a{i}".encode(), []) for i in range(5)])
    tp = TopicPartition(topic, 0)

    async def consumer(reset):
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset=reset,
                             enable_auto_commit=False)
        await c.start()
        c.assign([tp])  # no group, no position -> auto_offset_reset decides
        return c

    async def values(c, want, wait=WAIT_S):
        return [r[1] for _, r in await drain(c, want, wait)]

    early = await consumer("earliest")
    got = await values(early, 5)
    check(got == [f"a{i}".encode() for i in range(5)], f"earliest read {got}")
    late = await consumer("latest")
    pos = await late.position(tp)
    check(pos == 5, f"latest consumer positioned at {pos}, not 5")
    await produce(bootstrap, topic, [(None, f"b{i}".encode(), []) for i in range(3)])
    got = await values(late, 3)
    check(got == [b"b0", b"b1", b"b2"], f"latest read {got}, expected b0..b2")
    late.seek(tp, 0)
    got = await values(late, 8)
    want = [f"a{i}".encode() for i in range(5)] + [b"b0", b"b1", b"b2"]
    check(got == want, f"replay after seek(0) read {got}")
    await early.stop()
    await late.stop()
    return "earliest, latest, seek(0) replay"


async def key_partition(bootstrap):
    topic = name("keys", CLIENT)
    await (await create_topic(bootstrap, topic, 6)).close()
    # Two producer instances: the mapping must not depend on the instance.
    return check_key_placement([await produce(bootstrap, topic, key_records()) for _ in range(2)])


async def admin_topics(bootstrap):
    topic = name("admin", CLIENT)
    a = await create_topic(bootstrap, topic, 2)
    try:
        res = await a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        resources = res[0].to_object()["resources"]
        check(resources[0]["error_code"] == 0, f"describe_configs error {resources[0]}")
        configs = {e["config_names"]: e["config_value"] for e in resources[0]["config_entries"]}
        check("retention.ms" in configs and "cleanup.policy" in configs,
              f"describe_configs lacks retention.ms/cleanup.policy: {sorted(configs)[:10]}")
        await a.create_partitions({topic: NewPartitions(total_count=4)})
        await until(lambda: a.describe_topics([topic]),
                    lambda ts: len(ts[0]["partitions"]) == 4, "4 partitions in metadata")
        await a.delete_topics([topic])
        await until(a.list_topics, lambda ts: topic not in ts, "topic gone from metadata")
    finally:
        await a.close()
    return "create, describe_configs, create_partitions 2->4, delete"


async def admin_groups(bootstrap):
    topic, group = name("gadmin", CLIENT), name("gadmin", CLIENT)
    await (await create_topic(bootstrap, topic, 1)).close()
    c, t = group_consumer(bootstrap, group), Tracker()
    c.subscribe([topic], listener=t)
    await c.start()
    poller = asyncio.create_task(poll_forever(c))
    a = await admin(bootstrap)
    try:
        await wait_for(lambda: t.owned, "the member's assignment")
        ids = [g[0] for g in await a.list_consumer_groups()]
        check(group in ids, f"list_consumer_groups lacks {group}: {ids[:5]}")
        desc = (await a.describe_consumer_groups([group]))[0].to_object()["groups"][0]
        check(desc["error_code"] == 0, f"describe error {desc['error_code']}")
        check(desc["state"] == "Stable", f"group state {desc['state']}")
        check(len(desc["members"]) == 1, f"describe shows {len(desc['members'])} members")
    finally:
        poller.cancel()
        await c.stop()
        await a.close()
    return "list_consumer_groups, describe_consumer_groups (1 member, Stable)"


async def read_isolated(bootstrap, parts, want, isolation, wait=WAIT_S):
    """Read `want` records from the beginning of parts [(topic, partition)], assigned (no
    group), at the given isolation_level; returns {(topic, partition): [value, ...]}."""
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                         isolation_level=isolation)
    await c.start()
    try:
        tps = [TopicPartition(t, p) for t, p in parts]
        c.assign(tps)
        for tp in tps:
            c.seek(tp, 0)
        got, n, deadline = {}, 0, time.time() + wait
        while n < want and time.time() < deadline:
            for tp, msgs in (await c.getmany(timeout_ms=300)).items():
                got.setdefault((tp.topic, tp.partition), []).extend(m.value for m in msgs)
                n += len(msgs)
        return got
    finally:
        await c.stop()


def bounded(aw, what, wait=WAIT_S):
    async def run():
        try:
            return await asyncio.wait_for(aw, wait)
        except asyncio.TimeoutError:
            raise Failed(f"{what} did not finish within {wait:.0f}s")
    return run()


async def txn_send(p, recs):
    """Send (topic, partition, value) records in the open transaction, waiting for the acks
    (so an abort aborts records that are in the log)."""
    for t, part, v in recs:
        await bounded(p.send_and_wait(t, value=v, partition=part), "send_and_wait")


async def transactions(bootstrap):
    topic_a, topic_b = name("txa", CLIENT), name("txb", CLIENT)
    await (await create_topic(bootstrap, topic_a, 3)).close()
    await (await create_topic(bootstrap, topic_b, 2)).close()
    txid = name("txid", CLIENT)
    plan = txn_plan(topic_a, topic_b)
    # aiokafka's start() runs InitProducerId (in the background: begin_transaction waits for it).
    p1 = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=txid)
    p2 = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=txid)
    a = await admin(bootstrap)
    try:
        await bounded(p1.start(), "start")
        for commit, recs in plan:
            await bounded(p1.begin_transaction(), "begin_transaction")
            await txn_send(p1, recs)
            if commit:
                await bounded(p1.commit_transaction(), "commit_transaction")
            else:
                await bounded(p1.abort_transaction(), "abort_transaction")
        parts = txn_partitions(topic_a, topic_b)
        committed = await read_isolated(bootstrap, parts, 15, "read_committed")
        uncommitted = await read_isolated(bootstrap, parts, 22, "read_uncommitted")
        detail = check_txn_reads(plan, committed, uncommitted)

        # Fencing: a second producer with the same transactional_id (its begin_transaction
        # returns once its InitProducerId did); the first one's next transaction must fail
        # with ProducerFenced. p2's transaction goes on below, with offsets.
        await bounded(p2.start(), "start")
        await bounded(p2.begin_transaction(), "begin_transaction")
        fenced, step = None, "begin_transaction"
        try:
            await p1.begin_transaction()
            step = "send_and_wait"
            await bounded(p1.send_and_wait(topic_a, value=b"after-fencing", partition=0), step)
            step = "commit_transaction"
            await bounded(p1.commit_transaction(), step)
        except KafkaError as e:
            fenced = e
        check(fenced is not None, "the fenced producer committed a transaction")
        check(isinstance(fenced, (ProducerFenced, InvalidProducerEpoch)),
              f"the fenced producer failed with {type(fenced).__name__}: {fenced}, "
              f"not a fenced error")
        detail += f"; fenced: {step} raised {type(fenced).__name__}"

        # Offsets in a transaction (send_offsets_to_transaction takes a group id): a commit
        # makes them G's committed offset, an abort does not.
        group = name("txgroup", CLIENT)
        tp = TopicPartition(topic_a, 0)

        async def offset():
            got = await a.list_consumer_group_offsets(group, partitions=[tp])
            return got[tp].offset if tp in got else None

        for off, commit in ((TXN_OFFSET_COMMITTED, True), (TXN_OFFSET_ABORTED, False)):
            if off != TXN_OFFSET_COMMITTED:
                await bounded(p2.begin_transaction(), "begin_transaction")
            await txn_send(p2, [(topic_b, 0, f"offsets-{off}".encode())])
            await bounded(p2.send_offsets_to_transaction({tp: OffsetAndMetadata(off, "")}, group),
                          "send_offsets_to_transaction")
            if commit:
                await bounded(p2.commit_transaction(), "commit_transaction")
                await until(offset, lambda o: o == off, f"committed offset {off} of {group}")
            else:
                await bounded(p2.abort_transaction(), "abort_transaction")
        # The producer's next transaction starts only once the abort is complete on the broker.
        await bounded(p2.begin_transaction(), "begin_transaction")
        await txn_send(p2, [(topic_b, 0, b"offsets-after-abort")])
        got = await offset()
        check(got == TXN_OFFSET_COMMITTED, f"after the aborted transaction the committed offset "
              f"is {got}, expected {TXN_OFFSET_COMMITTED}")
        await bounded(p2.commit_transaction(), "commit_transaction")
    finally:
        for c in (p1, p2):
            try:
                await asyncio.wait_for(c.stop(), 10)
            except Exception:  # the fenced producer may fail to stop cleanly
                pass
        await a.close()
    return detail + (f"; send_offsets_to_transaction: commit -> {TXN_OFFSET_COMMITTED}, abort "
                     f"kept it")


def sync(fn):
    return lambda bootstrap: asyncio.run(fn(bootstrap))


if __name__ == "__main__":
    main(CLIENT, {s: sync(f) for s, f in {
        "codecs": codecs, "idempotent": idempotent, "group_rebalance": group_rebalance,
        "commit_resume": commit_resume, "offset_reset": offset_reset,
        "key_partition": key_partition, "admin_topics": admin_topics,
        "admin_groups": admin_groups, "transactions": transactions,
    }.items()})
