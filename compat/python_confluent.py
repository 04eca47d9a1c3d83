"""confluent-kafka (Python, librdkafka bundled in the wheel) scenarios.

Run: python compat/python_confluent.py --bootstrap 127.0.0.1:9092 [--scenario NAME]
Client defaults everywhere, except: group scenarios use session.timeout.ms=10000 and
heartbeat.interval.ms=1000, and consumers that read a topic back use manual assign (no group).
"""

import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, ConfigResource, NewPartitions, NewTopic)

from common import (CODECS, check_key_placement, key_records, HEARTBEAT_MS, SESSION_TIMEOUT_MS, WAIT_S, Failed, check,
                    compare_partitions, main, name, record, wait_until, TXN_OFFSET_ABORTED,
                    TXN_OFFSET_COMMITTED, check_txn_reads, txn_partitions, txn_plan)

CLIENT = "confluent"


def produce(bootstrap, topic, records, **conf):
    """Produce (key, value, headers) records; returns {partition: [record...]} in offset order."""
    p = Producer({"bootstrap.servers": bootstrap, **conf})
    delivered, errors = [], []

    def on_delivery(rec):
        def cb(err, msg):
            if err:
                errors.append(err)
            else:
                delivered.append((msg.partition(), msg.offset(), rec))
        return cb

    for rec in records:
        key, value, headers = rec
        p.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery(rec))
        p.poll(0)
    try:
        left = p.flush(WAIT_S)
    except Exception as e:  # fatal producer errors surface here, chained
        raise Failed(f"produce: {e.__cause__ or e}")
    check(left == 0 and not errors, f"produce: {left} undelivered, errors {errors[:3]}")
    by_part = {}
    for part, off, rec in sorted(delivered):
        by_part.setdefault(part, []).append(rec)
    return by_part


def read_all(bootstrap, topic, partitions, want, start=0, wait=WAIT_S):
    """Read `want` records from the given partitions with assign (no group), from `start`."""
    # confluent-kafka insists on a group.id even for assign(); it is never used to commit here.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": name("reader", CLIENT),
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, start) for p in partitions])
    got, n = {}, 0
    deadline = time.time() + wait
    while n < want and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise KafkaException(m.error())
        got.setdefault(m.partition(), []).append(
            (m.key(), m.value(), list(m.headers() or [])))
        n += 1
    c.close()
    return got


def create_topic(bootstrap, topic, partitions):
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(topic, partitions, 1)])[topic].result(WAIT_S)
    wait_until(lambda: topic in a.list_topics(timeout=5).topics, f"topic {topic} in metadata")
    return a


def codecs(bootstrap):
    for codec in CODECS:
        topic = name(f"codec-{codec}", CLIENT)
        create_topic(bootstrap, topic, 3)
        expected = produce(bootstrap, topic, [record(codec, i) for i in range(30)],
                           **{"compression.type": codec, "linger.ms": 50})
        got = read_all(bootstrap, topic, [0, 1, 2], 30)
        try:
            compare_partitions(expected, got)
        except Failed as e:
            raise Failed(f"{codec}: {e}")
    return "none,gzip,snappy,lz4,zstd"


def idempotent(bootstrap):
    topic = name("idem", CLIENT)
    n = 200
    expected = produce(bootstrap, topic, [(None, str(i).encode(), []) for i in range(n)],
                       **{"enable.idempotence": True})
    # Ask for one more than produced, for a few seconds: a duplicate would show.
    got = read_all(bootstrap, topic, [0], n + 1, wait=5)
    values = [v for _, v, _ in got.get(0, [])]
    check(values == [str(i).encode() for i in range(n)],
          f"read {len(values)} records, {len(set(values))} distinct, expected {n} in order")
    return f"{n} records, no duplicates"


def group_consumer(bootstrap, group, **extra):
    if extra.get("group.protocol") == "consumer":
        # KIP-848: session and heartbeat timings are the broker's.
        return Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", **extra})
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "auto.offset.reset": "earliest",
                     "session.timeout.ms": SESSION_TIMEOUT_MS,
                     "heartbeat.interval.ms": HEARTBEAT_MS, **extra})


def group_rebalance(bootstrap, **extra):
    topic, group = name("grp", CLIENT), name("grp", CLIENT)
    create_topic(bootstrap, topic, 3)
    members = [group_consumer(bootstrap, group, **extra) for _ in range(4)]
    owned = [set() for _ in members]

    def track(i):
        def on_assign(c, parts):
            owned[i] = {p.partition for p in parts}

        def on_revoke(c, parts):
            owned[i] = set()
        return on_assign, on_revoke

    for i, c in enumerate(members):
        a, r = track(i)
        c.subscribe([topic], on_assign=a, on_revoke=r)

    def poll_all(live):
        for i in live:
            members[i].poll(0.05)
            if extra:
                # KIP-848 rebalances are incremental: the callbacks name only the partitions
                # added or revoked, so read the whole assignment.
                owned[i] = {tp.partition for tp in members[i].assignment()}

    def balanced(live, n_busy):
        sizes = sorted(len(owned[i]) for i in live)
        union = set().union(*(owned[i] for i in live))
        return union == {0, 1, 2} and sizes == [0] * (len(live) - n_busy) + [1] * n_busy

    live = [0, 1, 2, 3]
    wait_until(lambda: balanced(live, 3), "3 of 4 members owning one partition each",
               tick=lambda: poll_all(live))
    leaver = next(i for i in live if owned[i])
    gone = owned[leaver]
    members[leaver].close()
    live.remove(leaver)
    wait_until(lambda: balanced(live, 3), f"partition {gone} moving to the remaining members",
               tick=lambda: poll_all(live))
    summary = f"4 members: 3x1 + idle; member leaving with {sorted(gone)} -> reassigned"
    if extra:
        summary += "; " + committed_and_described(bootstrap, group, topic,
                                                  [members[i] for i in live],
                                                  lambda: poll_all(live))
    for i in live:
        members[i].close()
    return summary


def group_protocol(bootstrap):
    """group_rebalance under KIP-848 (group.protocol=consumer: the broker assigns), then a
    commit at the member epoch read back, and the group described as a consumer group."""
    return group_rebalance(bootstrap, **{"group.protocol": "consumer"})


def committed_and_described(bootstrap, group, topic, live, tick):
    owner = next(c for c in live if c.assignment())
    tp = owner.assignment()[0]
    owner.commit(offsets=[TopicPartition(topic, tp.partition, 7)], asynchronous=False)
    got = owner.committed([TopicPartition(topic, tp.partition)], timeout=10)[0].offset
    check(got == 7, f"committed offset reads back as {got}, expected 7")
    a = AdminClient({"bootstrap.servers": bootstrap})
    desc = {}

    def described():
        tick()
        d = a.describe_consumer_groups([group])[group].result(WAIT_S)
        desc["d"] = d
        return str(d.state).endswith("STABLE") and len(d.members) == 3

    wait_until(described, "describe_consumer_groups: Stable with 3 members", tick=tick)
    d = desc["d"]
    kind = str(getattr(d, "type", "CONSUMER"))
    check(kind.endswith("CONSUMER"), f"group type {kind}")
    parts = sorted(tp.partition for m in d.members for tp in m.assignment.topic_partitions)
    check(parts == [0, 1, 2], f"described assignments {parts}")
    return "commit at the member epoch read back; described: consumer group, Stable, 3 members"


def commit_resume(bootstrap):
    topic, group = name("commit", CLIENT), name("commit", CLIENT)
    produce(bootstrap, topic, [(None, f"v{i}".encode(), []) for i in range(10)])
    a = group_consumer(bootstrap, group, **{"enable.auto.commit": False})
    a.subscribe([topic])
    seen = []
    deadline = time.time() + WAIT_S
    while len(seen) < 10 and time.time() < deadline:
        m = a.poll(0.5)
        if m is not None and not m.error():
            seen.append(m)
    check(len(seen) == 10, f"first member read {len(seen)}/10")
    a.commit(message=seen[4], asynchronous=False)  # commits offset 5: v5.. are "unprocessed"
    committed = a.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    check(committed == 5, f"committed offset reads back as {committed}, expected 5")
    a.close()
    b = group_consumer(bootstrap, group, **{"enable.auto.commit": False})
    b.subscribe([topic])
    got = []
    deadline = time.time() + WAIT_S
    while len(got) < 5 and time.time() < deadline:
        m = b.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    b.close()
    check(got == [f"v{i}".encode() for i in range(5, 10)],
          f"new member got {got}, expected v5..v9")
    return "committed 5, new member resumed at v5"


def offset_reset(bootstrap):
    topic = name("reset", CLIENT)
    produce(bootstrap, topic, [(None, f"a{i}".encode(), []) for i in range(5)])
    tp = TopicPartition(topic, 0)

    def consumer(reset):
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": name("reset", CLIENT),
                      "auto.offset.reset": reset, "enable.auto.commit": False})
        c.assign([tp])  # no committed offset -> auto.offset.reset decides
        return c

    def drain(c, want, wait=WAIT_S):
        got, deadline = [], time.time() + wait
        while len(got) < want and time.time() < deadline:
            m = c.poll(0.3)
            if m is not None and not m.error():
                got.append(m.value())
        return got

    early = consumer("earliest")
    got = drain(early, 5)
    check(got == [f"a{i}".encode() for i in range(5)], f"earliest read {got}")
    late = consumer("latest")
    stray = drain(late, 1, wait=3)  # also lets the consumer resolve "latest" first
    check(stray == [], f"latest consumer read old records {stray}")
    produce(bootstrap, topic, [(None, f"b{i}".encode(), []) for i in range(3)])
    got = drain(late, 3)
    check(got == [b"b0", b"b1", b"b2"], f"latest read {got}, expected b0..b2")
    late.seek(TopicPartition(topic, 0, 0))
    got = drain(late, 8)
    want = [f"a{i}".encode() for i in range(5)] + [b"b0", b"b1", b"b2"]
    check(got == want, f"replay after seek(0) read {got}")
    early.close()
    late.close()
    return "earliest, latest, seek(0) replay"


def key_partition(bootstrap):
    topic = name("keys", CLIENT)
    create_topic(bootstrap, topic, 6)
    # Two producer instances: the mapping must not depend on the instance.
    return check_key_placement([produce(bootstrap, topic, key_records()) for _ in range(2)])


def admin_topics(bootstrap):
    topic = name("admin", CLIENT)
    a = create_topic(bootstrap, topic, 2)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = a.describe_configs([res])[res].result(WAIT_S)
    check("retention.ms" in configs and "cleanup.policy" in configs,
          f"describe_configs lacks retention.ms/cleanup.policy: {sorted(configs)[:10]}")
    a.create_partitions([NewPartitions(topic, 4)])[topic].result(WAIT_S)
    wait_until(lambda: len(a.list_topics(topic, timeout=5).topics[topic].partitions) == 4,
               "4 partitions in metadata")
    a.delete_topics([topic])[topic].result(WAIT_S)
    wait_until(lambda: topic not in a.list_topics(timeout=5).topics, "topic gone from metadata")
    return "create, describe_configs, create_partitions 2->4, delete"


def admin_groups(bootstrap):
    topic, group = name("gadmin", CLIENT), name("gadmin", CLIENT)
    create_topic(bootstrap, topic, 1)
    c = group_consumer(bootstrap, group)
    assigned = []
    c.subscribe([topic], on_assign=lambda c_, parts: assigned.extend(parts))
    wait_until(lambda: assigned, "the member's assignment", tick=lambda: c.poll(0.1))
    a = AdminClient({"bootstrap.servers": bootstrap})
    listed = a.list_consumer_groups().result(WAIT_S)
    ids = [g.group_id for g in listed.valid]
    check(group in ids, f"list_consumer_groups lacks {group}: {ids[:5]} errors {listed.errors}")
    desc = a.describe_consumer_groups([group])[group].result(WAIT_S)
    check(len(desc.members) == 1, f"describe shows {len(desc.members)} members")
    check(str(desc.state).endswith("STABLE"), f"group state {desc.state}")
    parts = [tp.partition for tp in desc.members[0].assignment.topic_partitions]
    check(parts == [0], f"described assignment {parts}")
    c.close()
    return "list_consumer_groups, describe_consumer_groups (1 member, Stable, [0])"


def read_isolated(bootstrap, parts, want, isolation, wait=WAIT_S):
    """Read `want` records from the beginning of parts [(topic, partition)], assigned (no
    group), at the given isolation.level; returns {(topic, partition): [value, ...]}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": name("reader", CLIENT),
                  "enable.auto.commit": False, "isolation.level": isolation})
    c.assign([TopicPartition(t, p, 0) for t, p in parts])
    got, n = {}, 0
    deadline = time.time() + wait
    while n < want and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise KafkaException(m.error())
        got.setdefault((m.topic(), m.partition()), []).append(m.value())
        n += 1
    c.close()
    return got


def txn_producer(bootstrap, txid):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txid})
    p.init_transactions(WAIT_S)
    return p


def txn_send(p, recs):
    """Produce (topic, partition, value) records in the open transaction; waits for the acks
    (abort_transaction would otherwise purge records not yet sent)."""
    errors = []
    for t, part, v in recs:
        p.produce(t, value=v, partition=part, on_delivery=lambda err, msg: err and errors.append(err))
    check(p.flush(WAIT_S) == 0 and not errors, f"transactional produce: errors {errors[:3]}")


def transactions(bootstrap):
    topic_a, topic_b = name("txa", CLIENT), name("txb", CLIENT)
    create_topic(bootstrap, topic_a, 3)
    create_topic(bootstrap, topic_b, 2)
    txid = name("txid", CLIENT)
    plan = txn_plan(topic_a, topic_b)
    p1 = txn_producer(bootstrap, txid)
    for commit, recs in plan:
        p1.begin_transaction()
        txn_send(p1, recs)
        if commit:
            p1.commit_transaction(WAIT_S)
        else:
            p1.abort_transaction(WAIT_S)
    parts = txn_partitions(topic_a, topic_b)
    committed = read_isolated(bootstrap, parts, 15, "read_committed")
    uncommitted = read_isolated(bootstrap, parts, 22, "read_uncommitted")
    detail = check_txn_reads(plan, committed, uncommitted)

    # Fencing: a second producer with the same transactional.id; the first one's next
    # transaction must fail with librdkafka's fenced error (fatal).
    p2 = txn_producer(bootstrap, txid)
    fenced, step = None, "begin_transaction"
    try:
        p1.begin_transaction()
        step = "produce"
        p1.produce(topic_a, value=b"after-fencing", partition=0)
        step = "commit_transaction"
        p1.commit_transaction(WAIT_S)
    except KafkaException as e:
        fenced = e.args[0]
    check(fenced is not None, "the fenced producer committed a transaction")
    check(fenced.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                            KafkaError.INVALID_PRODUCER_EPOCH),
          f"the fenced producer failed with {fenced.name()} ({fenced.str()}), not a fenced error")
    detail += f"; fenced: {step} raised {fenced.name()} (fatal={fenced.fatal()})"

    # Offsets in a transaction (send_offsets_to_transaction with the group metadata of a
    # consumer in group G): a commit makes them G's committed offset, an abort does not.
    group = name("txgroup", CLIENT)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    tp = TopicPartition(topic_a, 0)

    def offset():
        return c.committed([tp], timeout=10)[0].offset

    for off, commit in ((TXN_OFFSET_COMMITTED, True), (TXN_OFFSET_ABORTED, False)):
        p2.begin_transaction()
        txn_send(p2, [(topic_b, 0, f"offsets-{off}".encode())])
        p2.send_offsets_to_transaction([TopicPartition(topic_a, 0, off)],
                                       c.consumer_group_metadata(), WAIT_S)
        if commit:
            p2.commit_transaction(WAIT_S)
            wait_until(lambda: offset() == off, f"committed offset {off} of {group}")
        else:
            p2.abort_transaction(WAIT_S)
    # The producer's next transaction starts only once the abort is complete on the broker.
    p2.begin_transaction()
    txn_send(p2, [(topic_b, 0, b"offsets-after-abort")])
    got = offset()
    check(got == TXN_OFFSET_COMMITTED, f"after the aborted transaction the committed offset is "
          f"{got}, expected {TXN_OFFSET_COMMITTED}")
    p2.commit_transaction(WAIT_S)
    c.close()
    return detail + (f"; send_offsets_to_transaction: commit -> {TXN_OFFSET_COMMITTED}, abort "
                     f"kept it")


if __name__ == "__main__":
    main(CLIENT, {
        "codecs": codecs, "idempotent": idempotent, "group_rebalance": group_rebalance,
        "group_protocol": group_protocol,
        "commit_resume": commit_resume, "offset_reset": offset_reset,
        "key_partition": key_partition, "admin_topics": admin_topics,
        "admin_groups": admin_groups, "transactions": transactions,
    })
