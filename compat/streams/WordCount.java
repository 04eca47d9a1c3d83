// The Kafka Streams client family (kafka-streams 4.4.0, the jars scripts/reference-kafka fetches
// into target/reference-kafka/libs from compat/reference/pom.xml).
//
// Compile: javac -nowarn -d CLASSES -cp 'target/reference-kafka/libs/*' compat/streams/WordCount.java
// Run:     java -cp 'CLASSES:target/reference-kafka/libs/*' WordCount --bootstrap HOST:PORT --scenario NAME
// Prints `RESULT <scenario> pass|fail|na <detail>` (see compat/common.py); everything else (the
// driver's and the Streams instances' logs) goes to stderr.
//
// One program, two roles. The driver (the command above) creates the topics, produces the input,
// watches progress through Admin (committed offsets, end offsets), reads the output with a plain
// consumer and checks it. The Streams application runs in a child JVM of the same classes
// (`WordCount --child ...`), so that "crash" can be a real SIGKILL (Process.destroyForcibly)
// rather than a close(); the child reports its state, restoration and errors to the driver on
// stdout as `@@ ...` lines, its log4j output goes to stderr (inherited: it lands in the
// driver's log).
//
// The topology: input (3 partitions, key = "line-N", value = the line) -> flatMapValues(words)
// -> groupBy(word) (so a repartition topic <app>-counts-repartition) -> count() with
// Materialized.as("counts") (a persistent RocksDB store with a changelog <app>-counts-changelog)
// -> output (3 partitions, key = word, value = count as a long).
//
// Scenarios:
//   word_count      processing.guarantee=at_least_once. Phase 1 of the corpus is produced and
//                   fully processed and committed, the instance is SIGKILLed, its state directory
//                   wiped, a new instance restores the store from the changelog, phase 2 is
//                   produced; every final count must be exact. (Why exact is the right check
//                   under at-least-once: see word_count().)
//   word_count_eos  processing.guarantee=exactly_once_v2. Phase 1 committed, then the instance is
//                   SIGKILLed while a transaction with repartition records is open, state wiped,
//                   restored, the aborted work is redone; counts read with read_committed must be
//                   exact, and the repartition topic must hold the aborted records (proof the kill
//                   really abandoned work in flight). Needs transactions on the broker.

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.*;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;

public class WordCount {
    static final List<String> SCENARIOS = List.of("word_count", "word_count_eos");
    // The matrix's plain-client scenarios (compat/common.py): not expressible as a Streams app, `na`.
    static final List<String> CLIENT_SCENARIOS = List.of("codecs", "idempotent", "group_rebalance",
            "commit_resume", "offset_reset", "key_partition", "admin_topics", "admin_groups");
    static final String STORE = "counts";
    static final int PARTITIONS = 3;
    // Bounded waits for a condition (never a correctness condition by themselves). Like the other
    // families, COMPAT_WAIT (seconds) sets the deadline of each single wait.
    static final long WAIT_MS = 1000L * Long.parseLong(System.getenv().getOrDefault("COMPAT_WAIT", "40"));
    static String bootstrap;
    static Path WORK;
    static final List<Run> RUNS = new CopyOnWriteArrayList<>();
    static final String LOG4J = String.join("\n", "appender.err.type = Console", "appender.err.name = ERR",
            "appender.err.target = SYSTEM_ERR", "appender.err.layout.type = PatternLayout",
            "appender.err.layout.pattern = [%d{HH:mm:ss.SSS}] %p %m (%c{1})%n",
            "rootLogger.level = WARN", "rootLogger.appenderRef.err.ref = ERR", "");

    static class Failed extends RuntimeException {
        Failed(String msg) { super(msg); }
    }

    static void check(boolean cond, String msg) { if (!cond) throw new Failed(msg); }

    static final long T0 = System.currentTimeMillis();

    static void log(String msg) {
        System.err.printf("[driver +%.1fs] %s%n", (System.currentTimeMillis() - T0) / 1000.0, msg);
        System.err.flush();
    }

    /** Poll until `notYet` returns null; it returns what is still missing, for the failure message. */
    static void waitFor(String what, long ms, Supplier<String> notYet) throws InterruptedException {
        long deadline = System.currentTimeMillis() + ms;
        String last = "nothing checked";
        while (true) {
            String s = notYet.get();
            if (s == null) return;
            last = s;
            if (System.currentTimeMillis() > deadline) break;
            Thread.sleep(50);
        }
        throw new Failed("timed out after " + ms / 1000 + "s waiting for " + what + " (" + last + ")");
    }

    static void waitFor(String what, Supplier<String> notYet) throws InterruptedException { waitFor(what, WAIT_MS, notYet); }

    // ---- the topology (shared by the child and, for the internal topic names, the driver) --------

    static List<String> words(String line) {
        List<String> out = new ArrayList<>();
        for (String w : line.toLowerCase(Locale.ROOT).split("[^a-z0-9']+")) if (!w.isEmpty()) out.add(w);
        return out;
    }

    static Topology topology(String input, String output) {
        StreamsBuilder b = new StreamsBuilder();
        b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(WordCount::words)
                .groupBy((line, word) -> word, Grouped.with(Serdes.String(), Serdes.String()))
                .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(STORE)
                        .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                .toStream()
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        return b.build();
    }

    /** The repartition topic's name as the topology names it (without the application id). */
    static String repartitionSink(String input, String output) {
        for (var st : topology(input, output).describe().subtopologies())
            for (var n : st.nodes())
                if (n instanceof TopologyDescription.Sink s && !s.topic().equals(output)) return s.topic();
        throw new IllegalStateException("no repartition sink in the topology");
    }

    // ---- the child: one Kafka Streams instance --------------------------------------------------

    static synchronized void emit(String line) {
        System.out.println("@@ " + line.replaceAll("\\s+", " "));
        System.out.flush();
    }

    static String chain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null && sb.length() < 600; c = c.getCause()) {
            if (sb.length() > 0) sb.append(" <- ");
            sb.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
        }
        return sb.toString();
    }

    static void child(Map<String, String> a) throws Exception {
        // The driver holds our stdin open; EOF means it is gone, and so should we be (no orphans).
        Thread guard = new Thread(() -> {
            try { while (System.in.read() >= 0) { } } catch (IOException ignored) { }
            Runtime.getRuntime().halt(3);
        }, "parent-guard");
        guard.setDaemon(true);
        guard.start();

        boolean eos = a.get("guarantee").equals(StreamsConfig.EXACTLY_ONCE_V2);
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, a.get("app-id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("bootstrap"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, a.get("guarantee"));
        p.put(StreamsConfig.STATE_DIR_CONFIG, a.get("state-dir"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        // Defaults are 30 s (ALO) and 100 ms (EOS). ALO: 500 ms so the test waits less for a commit.
        // EOS: 3 s, so that a transaction stays open long enough for the driver to see it and kill
        // the instance inside it (if a commit wins the race, the driver simply tries again).
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, eos ? "3000" : "500");
        // The killed member's session must expire before the group rebalances onto the new one
        // (classic protocol; the consumer default is 45 s). 6 s is the broker's minimum.
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), "6000");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), "1000");
        if (eos) {
            // The killed instance's open transaction is aborted by the coordinator when it times
            // out (Streams' default for EOS is 10 s); until then the new instance cannot read its
            // offsets (require_stable) or restore past the open transaction (read_committed).
            p.put(StreamsConfig.producerPrefix(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG), "6000");
            // Keep the repartition records (no DeleteRecords after commit), so the driver can count
            // the aborted ones at the end: the proof that the kill left a transaction open.
            p.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, String.valueOf(Long.MAX_VALUE));
        } else {
            // Default 30 s, longer than the scenario: purge (DeleteRecords below the committed
            // offsets of the repartition topic) after the commits, as a long-running app does.
            p.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, "1000");
        }

        KafkaStreams streams = new KafkaStreams(topology(a.get("input"), a.get("output")), p);
        streams.setStateListener((now, before) -> emit("STATE " + now));
        streams.setGlobalStateRestoreListener(new StateRestoreListener() {
            public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
                emit("RESTORE_START " + store + " " + tp + " " + start + " " + end);
            }
            public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) { }
            public void onRestoreEnd(TopicPartition tp, String store, long total) {
                emit("RESTORE_END " + store + " " + tp + " " + total);
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            emit("UNCAUGHT " + chain(e));
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        emit("STARTED pid " + ProcessHandle.current().pid());
        streams.start();
        // Runs until the driver kills us (SIGKILL: no shutdown hook, no close, no LeaveGroup).
        new CountDownLatch(1).await();
    }

    // ---- the driver's view of a child -----------------------------------------------------------

    static class Child {
        final int n;
        final Process proc;
        volatile String state = "";
        final List<String> errors = Collections.synchronizedList(new ArrayList<>());
        final Map<String, Long> restoreStart = new ConcurrentHashMap<>(); // changelog partition -> records to restore
        final Map<String, Long> restoreEnd = new ConcurrentHashMap<>();   // changelog partition -> records restored

        Child(int n, List<String> cmd) throws IOException {
            this.n = n;
            log("starting streams instance #" + n);
            proc = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            Thread t = new Thread(this::read, "child-" + n + "-stdout");
            t.setDaemon(true);
            t.start();
        }

        void read() {
            try (var r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    System.err.println("[streams #" + n + "] " + line);
                    if (!line.startsWith("@@ ")) continue;
                    String[] f = line.substring(3).split(" ");
                    switch (f[0]) {
                        case "STATE" -> state = f[1];
                        case "UNCAUGHT" -> errors.add(line.substring(3 + "UNCAUGHT ".length()));
                        case "RESTORE_START" -> { if (f[1].equals(STORE)) restoreStart.put(f[2], Long.parseLong(f[4]) - Long.parseLong(f[3])); }
                        case "RESTORE_END" -> { if (f[1].equals(STORE)) restoreEnd.put(f[2], Long.parseLong(f[3])); }
                        default -> { }
                    }
                }
            } catch (IOException ignored) { }
        }

        /** Throws Failed if the instance died, hit an uncaught exception or went to ERROR. */
        void healthy() {
            if (!errors.isEmpty()) throw new Failed("streams instance #" + n + " failed: " + errors.get(0));
            if (state.equals("ERROR") || state.equals("PENDING_ERROR"))
                throw new Failed("streams instance #" + n + " went to state " + state);
            if (!proc.isAlive()) throw new Failed("streams instance #" + n + " exited with status " + proc.exitValue());
        }

        long restored() { return restoreEnd.values().stream().mapToLong(Long::longValue).sum(); }

        void kill() throws InterruptedException {
            proc.destroyForcibly(); // SIGKILL
            check(proc.waitFor(10, TimeUnit.SECONDS), "streams instance #" + n + " survived SIGKILL");
            log("killed streams instance #" + n + " (SIGKILL), exit status " + proc.exitValue());
        }
    }

    // ---- corpus -----------------------------------------------------------------------------------

    static final String[] VOCAB = ("the of and to in is that it was for on are as with his they at be this from "
            + "have or by one had not but what all were when we there can an your which their said if do will "
            + "each about how up out them then she many some so these would other into has more her two like "
            + "him see time could no make than first been its who now people my made over did down only way "
            + "find use may water long little very after words called just where most know kafka stream broker")
            .split(" ");

    /** A fixed text: `n` lines of 3..14 words, word frequencies skewed (a few words are common). */
    static List<String> corpus(int n) {
        Random r = new Random(20240601L);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = 3 + r.nextInt(12);
            StringBuilder sb = new StringBuilder();
            for (int j = 0; j < len; j++) {
                String w = VOCAB[(int) (Math.pow(r.nextDouble(), 2.5) * VOCAB.length)];
                if (j == 0) w = Character.toUpperCase(w.charAt(0)) + w.substring(1);
                sb.append(j == 0 ? "" : r.nextInt(8) == 0 ? ", " : " ").append(w);
            }
            lines.add(sb.append(".").toString());
        }
        return lines;
    }

    static Map<String, Long> trueCounts(List<String> lines, int upTo) {
        Map<String, Long> c = new TreeMap<>();
        for (String l : lines.subList(0, upTo)) for (String w : words(l)) c.merge(w, 1L, Long::sum);
        return c;
    }

    // ---- Kafka helpers ----------------------------------------------------------------------------

    static Properties props(Object... kv) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        for (int i = 0; i < kv.length; i += 2) p.put(kv[i], kv[i + 1]);
        return p;
    }

    static void produce(String topic, List<String> lines, int from, int to) throws Exception {
        try (var p = new KafkaProducer<>(props("acks", "all", "linger.ms", "5"), new StringSerializer(), new StringSerializer())) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = from; i < to; i++) fs.add(p.send(new ProducerRecord<>(topic, "line-" + i, lines.get(i))));
            for (var f : fs) f.get(WAIT_MS, TimeUnit.MILLISECONDS);
        }
        log("produced lines " + from + ".." + (to - 1) + " to " + topic);
    }

    static List<TopicPartition> tps(String topic) {
        List<TopicPartition> out = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) out.add(new TopicPartition(topic, p));
        return out;
    }

    static Map<TopicPartition, Long> ends(Admin a, String topic, IsolationLevel iso) {
        return offsets(a, topic, iso, OffsetSpec.latest());
    }

    static Map<TopicPartition, Long> offsets(Admin a, String topic, IsolationLevel iso, OffsetSpec spec) {
        try {
            Map<TopicPartition, OffsetSpec> req = new HashMap<>();
            for (var tp : tps(topic)) req.put(tp, spec);
            var res = a.listOffsets(req, new ListOffsetsOptions(iso)).all().get(WAIT_MS, TimeUnit.MILLISECONDS);
            Map<TopicPartition, Long> out = new TreeMap<>(Comparator.comparing(TopicPartition::toString));
            res.forEach((tp, info) -> out.put(tp, info.offset()));
            return out;
        } catch (Exception e) {
            throw new Failed("listOffsets " + topic + " (" + iso + "): " + chain(e));
        }
    }

    /**
     * Null once the application has consumed and committed everything produced so far: committed
     * offset == end offset on every input partition, and then (read after, so it includes all the
     * repartition records the committed input produced) on every repartition partition. At that
     * point every count update has been flushed to the changelog and the output (Streams flushes
     * the store caches and the producer before it commits offsets), and nothing is left to process.
     */
    static String lag(Admin a, String app, String input, String repartition) {
        try {
            Map<TopicPartition, OffsetAndMetadata> committed = a.listConsumerGroupOffsets(app)
                    .partitionsToOffsetAndMetadata().get(WAIT_MS, TimeUnit.MILLISECONDS);
            for (String topic : List.of(input, repartition)) {
                for (var e : ends(a, topic, IsolationLevel.READ_UNCOMMITTED).entrySet()) {
                    OffsetAndMetadata c = committed.get(e.getKey());
                    if (c == null || c.offset() != e.getValue())
                        return e.getKey() + " committed " + (c == null ? "none" : c.offset()) + " of end " + e.getValue();
                }
            }
            return null;
        } catch (Failed f) {
            return f.getMessage();
        } catch (Exception e) {
            return "listConsumerGroupOffsets: " + chain(e);
        }
    }

    /** Partitions of `topic` with an open transaction (last stable offset below the high watermark). */
    static List<String> openTxns(Admin a, String topic) {
        var hw = ends(a, topic, IsolationLevel.READ_UNCOMMITTED);
        var lso = ends(a, topic, IsolationLevel.READ_COMMITTED);
        List<String> open = new ArrayList<>();
        hw.forEach((tp, h) -> { if (lso.get(tp) < h) open.add(tp + " lso " + lso.get(tp) + " < hw " + h); });
        return open;
    }

    /** Every record of `topic` from the beginning to the end offset seen at the start (the LSO with read_committed). */
    static <V> List<ConsumerRecord<String, V>> readAll(String topic, Deserializer<V> vd, boolean readCommitted) {
        try (var c = new KafkaConsumer<>(props("isolation.level", readCommitted ? "read_committed" : "read_uncommitted",
                "enable.auto.commit", "false"), new StringDeserializer(), vd)) {
            var parts = tps(topic);
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            List<ConsumerRecord<String, V>> got = new ArrayList<>();
            long deadline = System.currentTimeMillis() + WAIT_MS;
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.currentTimeMillis() > deadline)
                    throw new Failed("reading " + topic + ": stuck below end offsets " + end);
                for (var r : c.poll(Duration.ofMillis(200))) got.add(r);
            }
            return got;
        }
    }

    /** The output topic as a table: the latest count per word. */
    static Map<String, Long> latest(String output, boolean readCommitted) {
        Map<String, Long> t = new TreeMap<>();
        for (var r : readAll(output, new LongDeserializer(), readCommitted)) t.put(r.key(), r.value());
        return t;
    }

    static String diff(Map<String, Long> want, Map<String, Long> got) {
        List<String> d = new ArrayList<>();
        Set<String> keys = new TreeSet<>(want.keySet());
        keys.addAll(got.keySet());
        for (String k : keys)
            if (!Objects.equals(want.get(k), got.get(k))) d.add(k + "=" + got.get(k) + " (true " + want.get(k) + ")");
        if (d.isEmpty()) return null;
        return d.size() + " of " + keys.size() + " words wrong: " + String.join(", ", d.subList(0, Math.min(8, d.size())))
                + (d.size() > 8 ? ", ..." : "");
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) Files.delete(q);
        }
    }

    // ---- the scenario -----------------------------------------------------------------------------

    /** Everything one run needs: names, the temp dirs, the children it started (killed on exit). */
    static class Run implements AutoCloseable {
        final boolean eos;
        final String app, input, output, repartition, changelog;
        final Path tmp, stateDir, log4j;
        final Admin admin;
        final List<Child> children = new ArrayList<>();
        Child current;

        Run(String scenario, boolean eos) throws IOException {
            this.eos = eos;
            String id = "compat-" + scenario.replace('_', '-') + "-" + System.currentTimeMillis() / 1000 + "-"
                    + UUID.randomUUID().toString().substring(0, 6);
            app = id;
            input = id + "-input";
            output = id + "-output";
            repartition = app + "-" + repartitionSink(input, output);
            changelog = app + "-" + STORE + "-changelog";
            tmp = Files.createTempDirectory(WORK, scenario + "-");
            stateDir = tmp.resolve("state");
            log4j = tmp.resolve("log4j2.properties");
            Files.writeString(log4j, LOG4J + String.join("\n",
                    "logger.ks.name = org.apache.kafka.streams.KafkaStreams", "logger.ks.level = INFO",
                    "logger.st.name = org.apache.kafka.streams.processor.internals.StreamThread", "logger.st.level = INFO",
                    "logger.cc.name = org.apache.kafka.clients.consumer.internals.ConsumerCoordinator", "logger.cc.level = INFO",
                    "logger.tm.name = org.apache.kafka.clients.producer.internals.TransactionManager", "logger.tm.level = INFO",
                    ""));
            admin = Admin.create(props());
            RUNS.add(this);
        }

        void createTopics() throws Exception {
            admin.createTopics(List.of(new NewTopic(input, PARTITIONS, (short) 1), new NewTopic(output, PARTITIONS, (short) 1)))
                    .all().get(WAIT_MS, TimeUnit.MILLISECONDS);
            waitFor("input and output topics in metadata", () -> {
                try {
                    var d = admin.describeTopics(List.of(input, output)).allTopicNames().get();
                    return d.values().stream().allMatch(t -> t.partitions().size() == PARTITIONS) ? null : d.toString();
                } catch (Exception e) {
                    return chain(e);
                }
            });
        }

        Child start() throws IOException {
            String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
            List<String> cmd = List.of(java, "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Dlog4j2.configurationFile=" + log4j, "-cp", System.getProperty("java.class.path"),
                    "WordCount", "--child", "--bootstrap", bootstrap, "--app-id", app, "--input", input,
                    "--output", output, "--guarantee", eos ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE,
                    "--state-dir", stateDir.toString());
            current = new Child(children.size() + 1, cmd);
            children.add(current);
            return current;
        }

        /** Wait until the current instance has consumed and committed everything produced so far. */
        void awaitCaughtUp(String what) throws InterruptedException {
            waitFor(what, () -> { current.healthy(); return lag(admin, app, input, repartition); });
            log("caught up: " + what);
        }

        /** The output as a table, read once nothing more can come (no open transaction on it). */
        Map<String, Long> table() throws InterruptedException {
            if (eos) waitFor("no open transaction on " + output, () -> {
                List<String> open = openTxns(admin, output);
                return open.isEmpty() ? null : open.toString();
            });
            return latest(output, eos);
        }

        void checkCounts(List<String> corpus, int produced, String when) throws InterruptedException {
            Map<String, Long> truth = trueCounts(corpus, produced);
            String d = diff(truth, table());
            check(d == null, when + " (lines 0.." + (produced - 1) + " produced and committed): " + d);
            log("counts exact " + when + ": " + truth.size() + " words");
        }

        /** SIGKILL the current instance and wipe its state directory (so restore must use the changelog). */
        void killAndWipe() throws Exception {
            current.kill();
            deleteTree(stateDir);
            check(!Files.exists(stateDir), "state dir " + stateDir + " still there");
        }

        /** Start a new instance on the empty state dir and wait until it restored the store. */
        Child restartAndRestore(long atLeast) throws Exception {
            Child c = start();
            // onRestoreEnd fires per changelog partition that had anything to restore; wait until
            // every partition whose restore started has ended and they add up to at least one
            // changelog record per word the committed state holds (compaction keeps the latest).
            waitFor("instance #" + c.n + " to restore store '" + STORE + "' from " + changelog, 2 * WAIT_MS, () -> {
                c.healthy();
                if (c.restoreStart.isEmpty() || !c.restoreEnd.keySet().containsAll(c.restoreStart.keySet()))
                    return "restore started " + c.restoreStart + ", ended " + c.restoreEnd + ", state " + c.state;
                return c.restored() >= atLeast ? null : "restored " + c.restored() + " records, expected >= " + atLeast;
            });
            waitFor("instance #" + c.n + " RUNNING", () -> { c.healthy(); return c.state.equals("RUNNING") ? null : "state " + c.state; });
            log("instance #" + c.n + " restored " + c.restored() + " records from " + changelog + " " + c.restoreEnd);
            return c;
        }

        /** The internal topics Streams created: names, partition counts, cleanup.policy. */
        String internalTopics() throws Exception {
            Set<String> names = admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get();
            check(names.contains(changelog), "changelog topic " + changelog + " missing; topics: "
                    + names.stream().filter(t -> t.startsWith(app)).collect(Collectors.toList()));
            check(names.contains(repartition), "repartition topic " + repartition + " missing; topics: "
                    + names.stream().filter(t -> t.startsWith(app)).collect(Collectors.toList()));
            var d = admin.describeTopics(List.of(changelog, repartition)).allTopicNames().get();
            for (var t : d.values())
                check(t.partitions().size() == PARTITIONS, t.name() + " has " + t.partitions().size() + " partitions, expected " + PARTITIONS);
            var res = new ConfigResource(ConfigResource.Type.TOPIC, changelog);
            var cfg = admin.describeConfigs(List.of(res)).all().get().get(res).get("cleanup.policy");
            return "changelog " + changelog.substring(app.length() + 1) + " (cleanup.policy=" + (cfg == null ? "?" : cfg.value())
                    + ") and " + repartition.substring(app.length() + 1) + ", 3 partitions each";
        }

        void killAll() {
            for (Child c : children) if (c.proc.isAlive()) c.proc.destroyForcibly();
            for (Child c : children) try { c.proc.waitFor(10, TimeUnit.SECONDS); } catch (InterruptedException ignored) { }
        }

        public void close() {
            killAll();
            admin.close(Duration.ofSeconds(5));
            RUNS.remove(this);
            try { deleteTree(tmp); } catch (IOException ignored) { }
        }
    }

    static Child awaitRunning(Child c) throws InterruptedException {
        waitFor("instance #" + c.n + " RUNNING", () -> { c.healthy(); return c.state.equals("RUNNING") ? null : "state " + c.state; });
        return c;
    }

    static long distinctWords(List<String> corpus, int upTo) { return trueCounts(corpus, upTo).size(); }

    /*
     * At-least-once. What the guarantee promises: every input record is reflected in the output at
     * least once; after a crash, the records processed since the last commit are processed again
     * (their repartition records re-sent, their count updates re-applied to a state that may
     * already contain them), so counts may end up higher than the truth, by an amount that depends
     * on where the crash fell. A check of the form "final >= true" would pass with lost restores
     * and duplicates alike (restore nothing, re-read from 0: still >=), so it is not a test.
     *
     * Design: the kill happens at a point where at-least-once promises exact counts. Phase 1 is
     * produced and the driver waits until the application has committed offsets equal to the end
     * offsets on all input partitions and then on all repartition partitions. Streams flushes its
     * caches (changelog and output writes) and its producer before it commits, so at that point the
     * changelog holds every count and nothing is in flight: nothing is processed after the last
     * commit, and a restart re-processes nothing. The phase-1 output is checked exact, the instance
     * is SIGKILLed (no close, no LeaveGroup, no final commit), its state dir deleted. The new
     * instance must restore the store from the changelog (the restore listener reports it; at least
     * one record per word of phase 1), then phase 2, which repeats the same words, is produced.
     * Final counts are exact only if the restored state was exactly phase 1's: a lost or stale
     * restore under-counts the words of phase 1, a replay of already-committed input over-counts.
     */
    static String word_count() throws Exception {
        List<String> corpus = corpus(600);
        int half = 300;
        try (Run run = new Run("word_count", false)) {
            run.createTopics();
            awaitRunning(run.start());
            produce(run.input, corpus, 0, half);
            run.awaitCaughtUp("phase 1 (lines 0.." + (half - 1) + ") committed");
            run.checkCounts(corpus, half, "before the kill");
            String topics = run.internalTopics();
            run.killAndWipe();
            Child c2 = run.restartAndRestore(distinctWords(corpus, half));
            produce(run.input, corpus, half, corpus.size());
            run.awaitCaughtUp("phase 2 (lines " + half + ".." + (corpus.size() - 1) + ") committed");
            run.checkCounts(corpus, corpus.size(), "after the restart");
            // Information only (when Streams purges depends on its commit timing): how far it has
            // deleted the repartition topic (DeleteRecords below its committed offsets).
            var starts = offsets(run.admin, run.repartition, IsolationLevel.READ_UNCOMMITTED, OffsetSpec.earliest()).values();
            log("repartition log start offsets " + starts);
            return corpus.size() + " lines, " + distinctWords(corpus, corpus.size()) + " words exact after SIGKILL at line "
                    + half + " + state wipe; restart restored " + c2.restored() + " records from the changelog; " + topics
                    + "; repartition purged to " + starts;
        }
    }

    /*
     * Exactly-once v2. Counts must be exact whenever the crash happens, so here the kill is made to
     * land inside an open transaction: phase 1 is processed and committed (and checked), then a
     * chunk of lines is produced and the driver polls ListOffsets until the repartition topic's
     * last stable offset is below its high watermark (Streams has sent records of the chunk in a
     * transaction it has not committed: commit.interval.ms is 3 s), and SIGKILLs the instance
     * there; its state dir is wiped. The transaction is left to the coordinator, which aborts it
     * when it times out; the new instance restores the committed state, reprocesses the chunk from
     * the committed offsets, and the output, read with read_committed once caught up, must be
     * exact. The repartition topic (not purged, see the child) is then read both ways: records
     * seen with read_uncommitted but not with read_committed are aborted ones, so a count > 0
     * proves the kill abandoned work in flight, and the read_committed count must equal the
     * number of words in the input exactly (no duplicate got through a commit). If a commit beat
     * the kill (no aborted records yet), the next chunk tries again, a few times at most.
     */
    static String word_count_eos() throws Exception {
        List<String> corpus = corpus(600);
        int phase1 = 200, chunk = 50, maxAttempts = 4;
        try (Run run = new Run("word_count_eos", true)) {
            run.createTopics();
            awaitRunning(run.start());
            produce(run.input, corpus, 0, phase1);
            run.awaitCaughtUp("phase 1 (lines 0.." + (phase1 - 1) + ") committed");
            run.checkCounts(corpus, phase1, "before the kill");
            String topics = run.internalTopics();
            int produced = phase1, attempts = 0;
            long aborted = 0, restored = 0;
            List<String> sawOpen = List.of();
            while (aborted == 0) {
                check(attempts < maxAttempts, attempts + " kills, none inside an open transaction");
                attempts++;
                produce(run.input, corpus, produced, produced + chunk);
                produced += chunk;
                final Run r = run;
                List<List<String>> open = new ArrayList<>(List.of(List.of()));
                // Until a transaction is seen open (kill now) or the chunk is committed (missed).
                waitFor("an open transaction on " + run.repartition + " or the chunk committed", () -> {
                    r.current.healthy();
                    open.set(0, openTxns(r.admin, r.repartition));
                    return !open.get(0).isEmpty() || lag(r.admin, r.app, r.input, r.repartition) == null ? null : "neither";
                });
                if (open.get(0).isEmpty()) {
                    log("attempt " + attempts + ": the chunk was committed before a transaction was seen open; next chunk");
                    continue;
                }
                sawOpen = open.get(0);
                log("attempt " + attempts + ": open transaction " + sawOpen + "; killing");
                run.killAndWipe();
                restored = run.restartAndRestore(distinctWords(corpus, phase1)).restored();
                run.awaitCaughtUp("lines 0.." + (produced - 1) + " committed after restart #" + attempts);
                run.checkCounts(corpus, produced, "after restart #" + attempts);
                long uncommitted = readAll(run.repartition, new StringDeserializer(), false).size();
                long committed = readAll(run.repartition, new StringDeserializer(), true).size();
                long words = trueCounts(corpus, produced).values().stream().mapToLong(Long::longValue).sum();
                check(committed == words, "repartition topic holds " + committed + " committed records for " + words
                        + " words produced (duplicates or losses through a commit)");
                aborted = uncommitted - committed;
                log("repartition: " + uncommitted + " records, " + committed + " committed, " + aborted + " aborted");
            }
            produce(run.input, corpus, produced, corpus.size());
            run.awaitCaughtUp("all " + corpus.size() + " lines committed");
            run.checkCounts(corpus, corpus.size(), "at the end");
            return corpus.size() + " lines, " + distinctWords(corpus, corpus.size()) + " words exact (read_committed) after SIGKILL "
                    + "inside an open transaction (" + sawOpen.size() + " repartition partitions open; " + aborted
                    + " records aborted and redone; kill attempt " + attempts + ") + state wipe; restart restored " + restored
                    + " records from the changelog; " + topics;
        }
    }

    // ---- main ---------------------------------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        boolean isChild = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--child")) isChild = true;
            else if (args[i].startsWith("--") && i + 1 < args.length) a.put(args[i].substring(2), args[++i]);
        }
        if (isChild) {
            child(a);
            return;
        }
        bootstrap = a.get("bootstrap");
        String which = a.getOrDefault("scenario", "all");
        if (bootstrap != null && CLIENT_SCENARIOS.contains(which)) {
            System.out.println("RESULT " + which + " na a plain-client scenario; the Streams family runs word_count, word_count_eos");
            System.out.flush();
            Runtime.getRuntime().halt(0);
        }
        if (bootstrap == null || !(which.equals("all") || SCENARIOS.contains(which))) {
            System.err.println("usage: WordCount --bootstrap HOST:PORT [--scenario " + String.join("|", SCENARIOS) + "|all]");
            System.exit(2);
        }
        // Driver. One temp dir for everything (child state dirs, log4j configs), removed at the end
        // and on SIGTERM (the matrix's timeout), which also SIGKILLs any child still running.
        WORK = Files.createTempDirectory("compat-streams-");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Run r : new ArrayList<>(RUNS)) r.killAll();
            try { deleteTree(WORK); } catch (IOException ignored) { }
        }));
        // The driver's own client logs: WARN to stderr (unless the caller configured log4j).
        if (System.getProperty("log4j2.configurationFile") == null) {
            Path cfg = WORK.resolve("driver-log4j2.properties");
            Files.writeString(cfg, LOG4J);
            System.setProperty("log4j2.configurationFile", cfg.toString());
        }
        boolean failed = false;
        for (String s : which.equals("all") ? SCENARIOS : List.of(which)) {
            long t0 = System.currentTimeMillis();
            String result, detail;
            try {
                detail = (String) WordCount.class.getDeclaredMethod(s).invoke(null);
                result = "pass";
            } catch (java.lang.reflect.InvocationTargetException ite) {
                Throwable e = ite.getCause();
                if (e instanceof ExecutionException && e.getCause() != null) e = e.getCause();
                e.printStackTrace();
                result = "fail";
                detail = e instanceof Failed ? e.getMessage() : chain(e);
                failed = true;
            }
            System.out.printf("RESULT %s %s %s (%.1fs)%n", s, result, String.valueOf(detail).replaceAll("\\s+", " "),
                    (System.currentTimeMillis() - t0) / 1000.0);
            System.out.flush();
        }
        try { deleteTree(WORK); } catch (IOException ignored) { }
        // Client libraries leave non-daemon threads; exit without waiting for them.
        Runtime.getRuntime().halt(failed ? 1 : 0);
    }
}
