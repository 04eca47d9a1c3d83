"""kafka-python (3.x, pure Python) scenarios.

Run: python compat/kafka_python.py --bootstrap 127.0.0.1:9092 [--scenario NAME]
Client defaults everywhere (kafka-python 3 enables idempotence by default, as the Java client
does), except: group scenarios use session_timeout_ms=10000 and heartbeat_interval_ms=1000,
and topic read-backs use manual assign with no group.
"""

import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import InvalidProducerEpochError, KafkaError, ProducerFencedError
from kafka.structs import OffsetAndMetadata

from common import (CODECS, check_key_placement, key_records, HEARTBEAT_MS, SESSION_TIMEOUT_MS, WAIT_S, Failed, check,
                    compare_partitions, main, name, record, wait_until, TXN_OFFSET_ABORTED,
                    TXN_OFFSET_COMMITTED, check_txn_reads, txn_partitions, txn_plan)

CLIENT = "kafka-python"


def produce(bootstrap, topic, records, **conf):
    """Produce (key, value, headers); returns {partition: [record...]} in offset order."""
    p = KafkaProducer(bootstrap_servers=bootstrap, **conf)
    futures = [(rec, p.send(topic, key=rec[0], value=rec[1], headers=rec[2]))
               for rec in records]
    p.flush(timeout=WAIT_S)
    delivered = sorted((f.get(timeout=WAIT_S).partition, f.get().offset, rec) for rec, f in futures)
    p.close()
    by_part = {}
    for part, _, rec in delivered:
        by_part.setdefault(part, []).append(rec)
    return by_part


def drain(c, want, wait=WAIT_S):
    """Poll `c` until `want` records arrived or `wait` passed; returns [(partition, record)]."""
    got, deadline = [], time.time() + wait
    while len(got) < want and time.time() < deadline:
        for tp, msgs in c.poll(timeout_ms=300).items():
            got += [(tp.partition, (m.key, m.value, list(m.headers))) for m in msgs]
    return got


def read_all(bootstrap, topic, partitions, want, wait=WAIT_S):
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    c.assign([TopicPartition(topic, p) for p in partitions])
    for p in partitions:
        c.seek(TopicPartition(topic, p), 0)
    got = {}
    for part, rec in drain(c, want, wait):
        got.setdefault(part, []).append(rec)
    c.close()
    return got


def admin(bootstrap):
    return KafkaAdminClient(bootstrap_servers=bootstrap)


def create_topic(bootstrap, topic, partitions):
    a = admin(bootstrap)
    a.create_topics({topic: {"num_partitions": partitions, "replication_factor": 1}},
                    wait_for_metadata=True)
    return a


def codecs(bootstrap):
    for codec in CODECS:
        topic = name(f"codec-{codec}", CLIENT)
        create_topic(bootstrap, topic, 3).close()
        recs = [record(codec, i) for i in range(30)]
        # kafka-python's headers are (str, bytes) tuples, as the common records are.
        expected = produce(bootstrap, topic, recs,
                           compression_type=None if codec == "none" else codec, linger_ms=50)
        compare_partitions(expected, read_all(bootstrap, topic, [0, 1, 2], 30))
    return "none,gzip,snappy,lz4,zstd"


def idempotent(bootstrap):
    topic = name("idem", CLIENT)
    n = 200
    produce(bootstrap, topic, [(None, str(i).encode(), []) for i in range(n)],
            enable_idempotence=True)
    # Ask for one more than produced, for a few seconds: a duplicate would show.
    values = [r[1] for r in read_all(bootstrap, topic, [0], n + 1, wait=5).get(0, [])]
    check(values == [str(i).encode() for i in range(n)],
          f"read {len(values)} records, {len(set(values))} distinct, expected {n} in order")
    return f"{n} records, no duplicates"


def group_consumer(bootstrap, group, **extra):
    return KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                         auto_offset_reset="earliest", session_timeout_ms=SESSION_TIMEOUT_MS,
                         heartbeat_interval_ms=HEARTBEAT_MS, **extra)


class Member(threading.Thread):
    """One group member polling in its own thread (KafkaConsumer is not thread-safe)."""

    def __init__(self, bootstrap, group, topic):
        super().__init__(daemon=True)
        self.bootstrap, self.group, self.topic = bootstrap, group, topic
        self.owned, self.stop, self.error = set(), threading.Event(), None

    def run(self):
        member = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                member.owned = set()

            def on_partitions_assigned(self, assigned):
                member.owned = {tp.partition for tp in assigned}

        try:
            c = group_consumer(self.bootstrap, self.group)
            c.subscribe([self.topic], listener=Listener())
            while not self.stop.is_set():
                c.poll(timeout_ms=100)
            c.close()  # sends LeaveGroup
        except Exception as e:
            self.error = e


def group_rebalance(bootstrap):
    topic, group = name("grp", CLIENT), name("grp", CLIENT)
    create_topic(bootstrap, topic, 3).close()
    members = [Member(bootstrap, group, topic) for _ in range(4)]
    for m in members:
        m.start()

    def balanced(live):
        errors = [m.error for m in live if m.error]
        check(not errors, f"member failed: {errors[:1]}")
        sizes = sorted(len(m.owned) for m in live)
        union = set().union(*(m.owned for m in live))
        return union == {0, 1, 2} and sizes == [0] * (len(live) - 3) + [1, 1, 1]

    try:
        wait_until(lambda: balanced(members), "3 of 4 members owning one partition each")
        leaver = next(m for m in members if m.owned)
        gone = leaver.owned
        leaver.stop.set()
        leaver.join(WAIT_S)
        live = [m for m in members if m is not leaver]
        wait_until(lambda: balanced(live), f"partition {sorted(gone)} moving to the others")
    finally:
        for m in members:
            m.stop.set()
        for m in members:
            m.join(15)
    return f"4 members: 3x1 + idle; member leaving with {sorted(gone)} -> reassigned"


def commit_resume(bootstrap):
    topic, group = name("commit", CLIENT), name("commit", CLIENT)
    produce(bootstrap, topic, [(None, f"v{i}".encode(), []) for i in range(10)])
    tp = TopicPartition(topic, 0)
    a = group_consumer(bootstrap, group, enable_auto_commit=False)
    a.subscribe([topic])
    seen = drain(a, 10)
    check(len(seen) == 10, f"first member read {len(seen)}/10")
    a.commit({tp: OffsetAndMetadata(5, "", -1)})  # v5.. count as unprocessed
    check(a.committed(tp) == 5, f"committed offset reads back as {a.committed(tp)}, expected 5")
    a.close()
    b = group_consumer(bootstrap, group, enable_auto_commit=False)
    b.subscribe([topic])
    got = [r[1] for _, r in drain(b, 5)]
    b.close()
    check(got == [f"v{i}".encode() for i in range(5, 10)], f"new member got {got}, expected v5..v9")
    return "committed 5, new member resumed at v5"


def offset_reset(bootstrap):
    topic = name("reset", CLIENT)
    produce(bootstrap, topic, [(None, f"a{i}".encode(), []) for i in range(5)])
    tp = TopicPartition(topic, 0)

    def consumer(reset):
        c = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset=reset,
                          enable_auto_commit=False)
        c.assign([tp])  # no group, no position -> auto_offset_reset decides
        return c

    def values(c, want, wait=WAIT_S):
        return [r[1] for _, r in drain(c, want, wait)]

    early = consumer("earliest")
    got = values(early, 5)
    check(got == [f"a{i}".encode() for i in range(5)], f"earliest read {got}")
    late = consumer("latest")
    check(late.position(tp) == 5, f"latest consumer positioned at {late.position(tp)}, not 5")
    produce(bootstrap, topic, [(None, f"b{i}".encode(), []) for i in range(3)])
    got = values(late, 3)
    check(got == [b"b0", b"b1", b"b2"], f"latest read {got}, expected b0..b2")
    late.seek(tp, 0)
    got = values(late, 8)
    want = [f"a{i}".encode() for i in range(5)] + [b"b0", b"b1", b"b2"]
    check(got == want, f"replay after seek(0) read {got}")
    early.close()
    late.close()
    return "earliest, latest, seek(0) replay"


def key_partition(bootstrap):
    topic = name("keys", CLIENT)
    create_topic(bootstrap, topic, 6).close()
    # Two producer instances: the mapping must not depend on the instance.
    return check_key_placement([produce(bootstrap, topic, key_records()) for _ in range(2)])


def admin_topics(bootstrap):
    topic = name("admin", CLIENT)
    a = create_topic(bootstrap, topic, 2)
    res = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                             config_filter="all")
    configs = res["topic"][topic]
    check("retention.ms" in configs and "cleanup.policy" in configs,
          f"describe_configs lacks retention.ms/cleanup.policy: {sorted(configs)[:10]}")
    a.create_partitions({topic: 4})
    wait_until(lambda: len(a.describe_topics([topic])[0]["partitions"]) == 4,
               "4 partitions in metadata")
    a.delete_topics([topic])
    wait_until(lambda: topic not in a.list_topics(), "topic gone from metadata")
    a.close()
    return "create, describe_configs, create_partitions 2->4, delete"


def admin_groups(bootstrap):
    topic, group = name("gadmin", CLIENT), name("gadmin", CLIENT)
    create_topic(bootstrap, topic, 1).close()
    m = Member(bootstrap, group, topic)
    m.start()
    try:
        wait_until(lambda: m.owned or m.error, "the member's assignment")
        check(not m.error, f"member failed: {m.error}")
        a = admin(bootstrap)
        ids = [g["group_id"] for g in a.list_groups()]
        check(group in ids, f"list_groups lacks {group}: {ids[:5]}")
        desc = a.describe_groups([group])[group]
        check(desc["error"] is None, f"describe_groups error {desc['error']}")
        check(desc["group_state"] == "Stable", f"group state {desc['group_state']}")
        check(len(desc["members"]) == 1, f"describe shows {len(desc['members'])} members")
        assignment = desc["members"][0]["member_assignment"]
        if isinstance(assignment, dict):  # decoded to a dict by kafka-python 3's to_dict()
            parts = [p for t in assignment["assigned_partitions"] for p in t["partitions"]]
        else:
            parts = [p for t in assignment.assigned_partitions for p in t.partitions]
        check(parts == [0], f"described assignment {assignment}")
        a.close()
    finally:
        m.stop.set()
        m.join(15)
    return "list_groups, describe_groups (1 member, Stable, [0])"


def bounded(fn, what, wait=WAIT_S):
    """Run a blocking call that takes no timeout (kafka-python's commit_transaction,
    abort_transaction, send_offsets_to_transaction) in a thread; Failed after `wait`."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # re-raised in the caller
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(wait)
    if t.is_alive():
        raise Failed(f"{what} did not return within {wait:.0f}s")
    if "error" in out:
        raise out["error"]
    return out.get("value")


def read_isolated(bootstrap, parts, want, isolation, wait=WAIT_S):
    """Read `want` records from the beginning of parts [(topic, partition)], assigned (no
    group), at the given isolation_level; returns {(topic, partition): [value, ...]}."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      isolation_level=isolation)
    tps = [TopicPartition(t, p) for t, p in parts]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    got, n, deadline = {}, 0, time.time() + wait
    while n < want and time.time() < deadline:
        for tp, msgs in c.poll(timeout_ms=300).items():
            got.setdefault((tp.topic, tp.partition), []).extend(m.value for m in msgs)
            n += len(msgs)
    c.close()
    return got


def txn_producer(bootstrap, txid):
    p = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=txid, max_block_ms=WAIT_S * 1000)
    p.init_transactions()
    return p


def txn_send(p, recs):
    """Send (topic, partition, value) records in the open transaction and wait for the acks
    (abort_transaction would otherwise drop records not yet sent)."""
    futures = [p.send(t, value=v, partition=part) for t, part, v in recs]
    p.flush(timeout=WAIT_S)
    for f in futures:
        f.get(timeout=WAIT_S)


def transactions(bootstrap):
    topic_a, topic_b = name("txa", CLIENT), name("txb", CLIENT)
    create_topic(bootstrap, topic_a, 3).close()
    create_topic(bootstrap, topic_b, 2).close()
    txid = name("txid", CLIENT)
    plan = txn_plan(topic_a, topic_b)
    p1 = txn_producer(bootstrap, txid)
    for commit, recs in plan:
        p1.begin_transaction()
        txn_send(p1, recs)
        if commit:
            bounded(p1.commit_transaction, "commit_transaction")
        else:
            bounded(p1.abort_transaction, "abort_transaction")
    parts = txn_partitions(topic_a, topic_b)
    committed = read_isolated(bootstrap, parts, 15, "read_committed")
    uncommitted = read_isolated(bootstrap, parts, 22, "read_uncommitted")
    detail = check_txn_reads(plan, committed, uncommitted)

    # Fencing: a second producer with the same transactional_id; the first one's next
    # transaction must fail with ProducerFencedError (or the broker's INVALID_PRODUCER_EPOCH).
    p2 = txn_producer(bootstrap, txid)
    # The send's future is waited for: once the producer is in its error state, kafka-python's
    # transactional methods raise a bare KafkaError("... in an error state: <the error>").
    fenced, step = None, "begin_transaction"
    try:
        p1.begin_transaction()
        step = "send"
        p1.send(topic_a, value=b"after-fencing", partition=0).get(timeout=WAIT_S)
        step = "commit_transaction"
        bounded(p1.commit_transaction, "commit_transaction of the fenced producer")
    except KafkaError as e:
        fenced = e
    check(fenced is not None, "the fenced producer committed a transaction")
    check(isinstance(fenced, (ProducerFencedError, InvalidProducerEpochError)),
          f"the fenced producer failed with {type(fenced).__name__}: {fenced}, not a fenced error")
    detail += f"; fenced: {step} raised {type(fenced).__name__}"
    p1.close(timeout=5)

    # Offsets in a transaction (send_offsets_to_transaction with the group metadata of a
    # consumer in group G): a commit makes them G's committed offset, an abort does not.
    group = name("txgroup", CLIENT)
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    tp = TopicPartition(topic_a, 0)
    for off, commit in ((TXN_OFFSET_COMMITTED, True), (TXN_OFFSET_ABORTED, False)):
        p2.begin_transaction()
        txn_send(p2, [(topic_b, 0, f"offsets-{off}".encode())])
        bounded(lambda: p2.send_offsets_to_transaction({tp: OffsetAndMetadata(off, "", -1)},
                                                       c.group_metadata()),
                "send_offsets_to_transaction")
        if commit:
            bounded(p2.commit_transaction, "commit_transaction")
            wait_until(lambda: c.committed(tp) == off, f"committed offset {off} of {group}")
        else:
            bounded(p2.abort_transaction, "abort_transaction")
    # The producer's next transaction starts only once the abort is complete on the broker.
    p2.begin_transaction()
    txn_send(p2, [(topic_b, 0, b"offsets-after-abort")])
    got = c.committed(tp)
    check(got == TXN_OFFSET_COMMITTED, f"after the aborted transaction the committed offset is "
          f"{got}, expected {TXN_OFFSET_COMMITTED}")
    bounded(p2.commit_transaction, "commit_transaction")
    p2.close(timeout=5)
    c.close()
    return detail + (f"; send_offsets_to_transaction: commit -> {TXN_OFFSET_COMMITTED}, abort "
                     f"kept it")


if __name__ == "__main__":
    main(CLIENT, {
        "codecs": codecs, "idempotent": idempotent, "group_rebalance": group_rebalance,
        "commit_resume": commit_resume, "offset_reset": offset_reset,
        "key_partition": key_partition, "admin_topics": admin_topics,
        "admin_groups": admin_groups, "transactions": transactions,
    })
