// compat-go: the Go client families of the compatibility matrix (see compat/common.py and
// scripts/compat): franz-go (kgo + kadm), IBM/sarama and segmentio/kafka-go, one binary.
//
// Build (versions pinned in go.mod / go.sum):
//
//	cd compat/go && go build -o ../../target/compat-go/compat-go .
//
// Run:
//
//	compat-go --client franz-go|sarama|kafka-go --bootstrap HOST:PORT [--scenario NAME|all]
//
// Prints one line per scenario run, as every program of the matrix does:
//
//	RESULT <scenario> pass|fail|na <detail> (<seconds>s)
//
// Client logs go to stderr. Exits 1 if a scenario failed. COMPAT_WAIT (seconds, default 40) is
// the deadline of every wait inside a scenario (assignment, records); the driver's hard timeout
// per process is longer, so a wait that runs out still reports what it saw.
//
// The scenarios are those of compat/common.py, with the same semantics: records from record()
// (binary values with all 256 byte values, two headers, one binary), topic and group names from
// name(), read-backs compared per partition in offset order, group scenarios with a 10 s
// session timeout and 1 s heartbeats. One file per client (franz.go, sarama.go, kafkago.go);
// this file holds what they share. A scenario answers `na` only where the client cannot express
// it at all, and says why.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SCENARIOS in matrix column order; keep in step with compat/common.py and scripts/compat.
var SCENARIOS = []string{
	"codecs",          // keyed records with headers, each codec, byte-identical, in order
	"idempotent",      // idempotent producer: N produced, exactly N read back
	"group_rebalance", // 3 partitions, 4 members: 3 busy, 1 idle; one leaves, others take over
	"commit_resume",   // commit, stop, a new member resumes from the committed offset
	"offset_reset",    // auto.offset.reset earliest / latest, seek back and replay
	"key_partition",   // same key -> same partition, every time, across producers
	"admin_topics",    // create topic, describe configs, add partitions, delete topic
	"admin_groups",    // list and describe groups
	"transactions",    // commit / abort / read_committed, fencing, offsets in a transaction
	"group_protocol",  // group_rebalance under KIP-848 (the broker assigns), commit, describe
}

var CODECS = []string{"none", "gzip", "snappy", "lz4", "zstd"}

const (
	SessionTimeout = 10 * time.Second
	Heartbeat      = 1 * time.Second
)

// WAIT is the scenario-internal deadline for waits (COMPAT_WAIT seconds, default 40).
var WAIT = func() time.Duration {
	if s := os.Getenv("COMPAT_WAIT"); s != "" {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
			return time.Duration(f * float64(time.Second))
		}
	}
	return 40 * time.Second
}()

// ---- results ----------------------------------------------------------------------------

// failed: the scenario ran and saw something a Kafka broker would not do.
type failed struct{ msg string }

// notApplicable: the client cannot express this scenario; the message says why.
type notApplicable struct{ msg string }

func check(cond bool, format string, args ...any) {
	if !cond {
		panic(failed{fmt.Sprintf(format, args...)})
	}
}

func fail(format string, args ...any) { panic(failed{fmt.Sprintf(format, args...)}) }

func na(format string, args ...any) { panic(notApplicable{fmt.Sprintf(format, args...)}) }

// must turns a client error into a failure of the scenario, with what was being done.
func must(err error, what string) {
	if err != nil {
		panic(failed{fmt.Sprintf("%s: %T: %v", what, err, err)})
	}
}

func waitCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), WAIT)
}

// waitUntil polls cond (calling tick between tries, or sleeping 100 ms) until it is true;
// fails after the WAIT deadline.
func waitUntil(cond func() bool, what string, tick func()) {
	deadline := time.Now().Add(WAIT)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		if tick != nil {
			tick()
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	fail("timed out after %.0fs waiting for %s", WAIT.Seconds(), what)
}

// ---- names and records --------------------------------------------------------------------

// name is a topic or group name unique to this run, so runs and clients never share state.
func name(kind, client string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("compat-%s-%s-%d-%s", kind, client, time.Now().Unix(), hex.EncodeToString(b))
}

type Header struct {
	Key   string
	Value []byte
}

// Rec is one record as (key, value, headers); a nil Key is a null key.
type Rec struct {
	Key     []byte
	Value   []byte
	Headers []Header
}

// record i: binary bytes, all 256 byte values, compressible (compat/common.py record()).
func record(codec string, i int) Rec {
	var v bytes.Buffer
	v.WriteString(fmt.Sprintf("%s-%d-", codec, i))
	for r := 0; r < 4; r++ {
		for b := 0; b < 256; b++ {
			v.WriteByte(byte(b))
		}
	}
	v.WriteString("\x00end")
	return Rec{
		Key:   []byte(fmt.Sprintf("key-%d", i%3)),
		Value: v.Bytes(),
		Headers: []Header{
			{"trace", []byte(fmt.Sprintf("t-%d", i))},
			{"bin", []byte{0, 1, 254, 255, byte(i % 256)}},
		},
	}
}

func codecRecords(codec string, n int) []Rec {
	out := make([]Rec, n)
	for i := range out {
		out[i] = record(codec, i)
	}
	return out
}

// plain records: null key, the given values, no headers.
func plain(values ...string) []Rec {
	out := make([]Rec, len(values))
	for i, v := range values {
		out[i] = Rec{Value: []byte(v)}
	}
	return out
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

var KEYS = func() [][]byte {
	var ks [][]byte
	for k := 0; k < 12; k++ {
		ks = append(ks, []byte(fmt.Sprintf("user-%d", k)))
	}
	return ks
}()

// keyRecords: five sends of each of the 12 keys, for the key -> partition scenario.
func keyRecords() []Rec {
	var out []Rec
	for i := 0; i < 5; i++ {
		for _, k := range KEYS {
			out = append(out, Rec{Key: k, Value: []byte("x")})
		}
	}
	return out
}

// ---- produce results and comparison -------------------------------------------------------

// acked is a produced record as the broker acknowledged it.
type acked struct {
	partition int32
	offset    int64
	rec       Rec
}

// byPartition turns acks into {partition: records in offset order}.
func byPartition(acks []acked) map[int32][]Rec {
	sort.Slice(acks, func(i, j int) bool {
		if acks[i].partition != acks[j].partition {
			return acks[i].partition < acks[j].partition
		}
		return acks[i].offset < acks[j].offset
	})
	out := map[int32][]Rec{}
	for _, a := range acks {
		out[a.partition] = append(out[a.partition], a.rec)
	}
	return out
}

// collector gathers records read back, from any goroutine.
type collector struct {
	mu  sync.Mutex
	got map[int32][]Rec
	n   int
}

func newCollector() *collector { return &collector{got: map[int32][]Rec{}} }

func (c *collector) add(p int32, r Rec) {
	c.mu.Lock()
	c.got[p] = append(c.got[p], r)
	c.n++
	c.mu.Unlock()
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *collector) snapshot() map[int32][]Rec {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int32][]Rec{}
	for p, rs := range c.got {
		out[p] = append([]Rec(nil), rs...)
	}
	return out
}

func partitionList(m map[int32][]Rec) []int32 {
	var ps []int32
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func sameHeaders(a, b []Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// comparePartitions: expected/got are {partition: records in offset order}.
func comparePartitions(expected, got map[int32][]Rec) {
	ep, gp := partitionList(expected), partitionList(got)
	check(fmt.Sprint(ep) == fmt.Sprint(gp), "partitions differ: produced to %v, read from %v", ep, gp)
	for _, p := range ep {
		recs, g := expected[p], got[p]
		check(len(g) == len(recs), "partition %d: produced %d, read %d", p, len(recs), len(g))
		for j := range recs {
			e, r := recs[j], g[j]
			switch {
			case !sameBytes(e.Key, r.Key):
				fail("partition %d record %d: key differs: sent %s, got %s", p, j, short(e.Key), short(r.Key))
			case !sameBytes(e.Value, r.Value):
				fail("partition %d record %d: value differs: sent %s, got %s", p, j, short(e.Value), short(r.Value))
			case !sameHeaders(e.Headers, r.Headers):
				fail("partition %d record %d: headers differ: sent %s, got %s", p, j, shortHeaders(e.Headers), shortHeaders(r.Headers))
			}
		}
	}
}

// checkKeyPlacement: rounds holds, per producer instance, {partition: records} as acked. Every
// key must land on one partition, the same for every instance, and the keys must spread.
func checkKeyPlacement(rounds []map[int32][]Rec) string {
	placement := map[string]map[int32]bool{}
	for _, byPart := range rounds {
		for p, rs := range byPart {
			for _, r := range rs {
				k := string(r.Key)
				if placement[k] == nil {
					placement[k] = map[int32]bool{}
				}
				placement[k][p] = true
			}
		}
	}
	var spread []string
	used := map[int32]bool{}
	for k, ps := range placement {
		if len(ps) != 1 {
			spread = append(spread, fmt.Sprintf("%s:%v", k, ps))
		}
		for p := range ps {
			used[p] = true
		}
	}
	sort.Strings(spread)
	check(len(placement) == len(KEYS), "acks name %d keys, sent %d", len(placement), len(KEYS))
	check(len(spread) == 0, "keys on more than one partition: %v", spread)
	check(len(used) > 1, "all 12 keys landed on one partition of 6")
	return fmt.Sprintf("12 keys x 10 sends, %d partitions used, each key on one partition", len(used))
}

func values(rs []Rec) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, string(r.Value))
	}
	return out
}

func distinct(xs []string) int {
	s := map[string]bool{}
	for _, x := range xs {
		s[x] = true
	}
	return len(s)
}

func sameStrings(a, b []string) bool { return fmt.Sprintf("%q", a) == fmt.Sprintf("%q", b) }

// idempotentCheck: the values read back must be exactly 0..n-1 in order.
func idempotentCheck(got []string, n int) string {
	check(sameStrings(got, seq("", 0, n)), "read %d records, %d distinct, expected %d in order",
		len(got), distinct(got), n)
	return fmt.Sprintf("%d records, no duplicates", n)
}

// balanced: the live members' owned partitions cover {0,1,2}, three own one each, others none.
func balanced(owned [][]int32) bool {
	var sizes []int
	union := map[int32]bool{}
	for _, o := range owned {
		sizes = append(sizes, len(o))
		for _, p := range o {
			union[p] = true
		}
	}
	sort.Ints(sizes)
	var want []int
	for i := 0; i < len(owned)-3; i++ {
		want = append(want, 0)
	}
	want = append(want, 1, 1, 1)
	return len(union) == 3 && union[0] && union[1] && union[2] && fmt.Sprint(sizes) == fmt.Sprint(want)
}

// ownedSet is a member's current assignment, updated from client callbacks.
type ownedSet struct {
	mu  sync.Mutex
	set map[int32]bool
	err error
}

func newOwned() *ownedSet { return &ownedSet{set: map[int32]bool{}} }

func (o *ownedSet) assign(ps ...int32) {
	o.mu.Lock()
	for _, p := range ps {
		o.set[p] = true
	}
	o.mu.Unlock()
}

func (o *ownedSet) revoke(ps ...int32) {
	o.mu.Lock()
	for _, p := range ps {
		delete(o.set, p)
	}
	o.mu.Unlock()
}

func (o *ownedSet) replace(ps ...int32) {
	o.mu.Lock()
	o.set = map[int32]bool{}
	for _, p := range ps {
		o.set[p] = true
	}
	o.mu.Unlock()
}

func (o *ownedSet) setErr(err error) {
	o.mu.Lock()
	o.err = err
	o.mu.Unlock()
}

func (o *ownedSet) list() []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		panic(failed{fmt.Sprintf("member failed: %v", o.err)})
	}
	var ps []int32
	for p := range o.set {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// rebalanceScenario runs the group_rebalance steps over four members that report their owned
// partitions; leave(i) makes member i leave the group (LeaveGroup) and returns when it left.
func rebalanceScenario(owned []*ownedSet, leave func(i int)) string {
	live := []int{0, 1, 2, 3}
	ownedOf := func(live []int) [][]int32 {
		var out [][]int32
		for _, i := range live {
			out = append(out, owned[i].list())
		}
		return out
	}
	describe := func(live []int) string { return fmt.Sprint(ownedOf(live)) }
	waitUntil(func() bool { return balanced(ownedOf(live)) },
		"3 of 4 members owning one partition each", nil)
	leaver := -1
	for _, i := range live {
		if len(owned[i].list()) > 0 {
			leaver = i
			break
		}
	}
	gone := owned[leaver].list()
	leave(leaver)
	live = []int{}
	for i := 0; i < 4; i++ {
		if i != leaver {
			live = append(live, i)
		}
	}
	deadline := time.Now().Add(WAIT)
	for !balanced(ownedOf(live)) {
		if time.Now().After(deadline) {
			fail("timed out after %.0fs waiting for partition %v moving to the remaining members (owned: %s)",
				WAIT.Seconds(), gone, describe(live))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("4 members: 3x1 + idle; member leaving with %v -> reassigned", gone)
}

// ---- transactions ---------------------------------------------------------------------------

// The transactions scenario (compat/common.py txn_plan): three transactions of one transactional
// producer over 5 partitions of two topics (3 + 2), record i of a transaction on partition i % 5;
// the second aborts. Offsets sent to a transaction: 4 committed, then 6 aborted.
const (
	txnOffsetCommitted = 4
	txnOffsetAborted   = 6
)

type topicPartition struct {
	Topic     string
	Partition int32
}

func (tp topicPartition) String() string { return fmt.Sprintf("%s[%d]", tp.Topic, tp.Partition) }

type txnRec struct {
	topicPartition
	Value string
}

type txn struct {
	Commit bool
	Recs   []txnRec
}

func txnPartitions(a, b string) []topicPartition {
	return []topicPartition{{a, 0}, {a, 1}, {a, 2}, {b, 0}, {b, 1}}
}

func txnPlan(a, b string) []txn {
	parts := txnPartitions(a, b)
	var plan []txn
	for _, t := range []struct {
		name   string
		commit bool
		n      int
	}{{"t1", true, 10}, {"t2", false, 7}, {"t3", true, 5}} {
		x := txn{Commit: t.commit}
		for i := 0; i < t.n; i++ {
			x.Recs = append(x.Recs, txnRec{parts[i%len(parts)], fmt.Sprintf("%s-%d", t.name, i)})
		}
		plan = append(plan, x)
	}
	return plan
}

// txnReads collects values read back per partition, from any goroutine.
type txnReads struct {
	mu  sync.Mutex
	got map[topicPartition][]string
	n   int
}

func newTxnReads() *txnReads { return &txnReads{got: map[topicPartition][]string{}} }

func (r *txnReads) add(topic string, partition int32, value []byte) {
	r.mu.Lock()
	r.got[topicPartition{topic, partition}] = append(r.got[topicPartition{topic, partition}], string(value))
	r.n++
	r.mu.Unlock()
}

func (r *txnReads) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *txnReads) snapshot() map[topicPartition][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[topicPartition][]string{}
	for tp, vs := range r.got {
		out[tp] = append([]string(nil), vs...)
	}
	return out
}

// checkTxnReads: committed / uncommitted are the values read per partition in offset order with
// isolation level read_committed / read_uncommitted. read_committed must see exactly the
// committed transactions' records, in order; read_uncommitted all of them (Kafka hands aborted
// records to read_uncommitted consumers).
func checkTxnReads(plan []txn, committed, uncommitted map[topicPartition][]string) string {
	want, every := map[topicPartition][]string{}, map[topicPartition][]string{}
	aborted := map[string]bool{}
	nWant, nAll := 0, 0
	for _, t := range plan {
		for _, r := range t.Recs {
			every[r.topicPartition] = append(every[r.topicPartition], r.Value)
			nAll++
			if t.Commit {
				want[r.topicPartition] = append(want[r.topicPartition], r.Value)
				nWant++
			} else {
				aborted[r.Value] = true
			}
		}
	}
	var leaked []string
	for _, vs := range committed {
		for _, v := range vs {
			if aborted[v] {
				leaked = append(leaked, v)
			}
		}
	}
	sort.Strings(leaked)
	check(len(leaked) == 0, "read_committed consumer saw aborted records %v", leaked)
	var tps []topicPartition
	for tp := range every {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool { return tps[i].String() < tps[j].String() })
	for _, tp := range tps {
		check(sameStrings(committed[tp], want[tp]), "read_committed %s: got %v, expected %v", tp, committed[tp], want[tp])
	}
	n := 0
	for _, vs := range uncommitted {
		n += len(vs)
	}
	check(n == nAll, "read_uncommitted consumer read %d records, expected %d (committed and aborted)", n, nAll)
	for _, tp := range tps {
		got, exp := append([]string(nil), uncommitted[tp]...), append([]string(nil), every[tp]...)
		sort.Strings(got)
		sort.Strings(exp)
		check(sameStrings(got, exp), "read_uncommitted %s: got %v, expected %v", tp, uncommitted[tp], every[tp])
	}
	return fmt.Sprintf("3 transactions over 5 partitions of 2 topics: read_committed %d (no aborted), read_uncommitted %d", nWant, nAll)
}

func short(b []byte) string {
	if b == nil {
		return "null"
	}
	s := strconv.Quote(string(b))
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

func shortHeaders(hs []Header) string {
	var parts []string
	for _, h := range hs {
		parts = append(parts, h.Key+"="+short(h.Value))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// ---- main ---------------------------------------------------------------------------------

type scenarioFn func(bootstrap string) string

var clients = map[string]map[string]scenarioFn{}

func register(client string, scenarios map[string]scenarioFn) { clients[client] = scenarios }

func run(fn scenarioFn, bootstrap string) (result, detail string) {
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case failed:
				result, detail = "fail", e.msg
			case notApplicable:
				result, detail = "na", e.msg
			case error:
				fmt.Fprintf(os.Stderr, "panic: %v\n%s", e, debug.Stack())
				result, detail = "fail", fmt.Sprintf("%T: %v", e, e)
			default:
				fmt.Fprintf(os.Stderr, "panic: %v\n%s", e, debug.Stack())
				result, detail = "fail", fmt.Sprint(e)
			}
		}
	}()
	return "pass", fn(bootstrap)
}

func main() {
	var names []string
	for c := range clients {
		names = append(names, c)
	}
	sort.Strings(names)
	client := flag.String("client", "", "client family: "+strings.Join(names, "|"))
	bootstrap := flag.String("bootstrap", "", "HOST:PORT of the broker")
	which := flag.String("scenario", "all", strings.Join(SCENARIOS, "|")+"|all")
	flag.Parse()
	scenarios, ok := clients[*client]
	known := *which == "all"
	for _, s := range SCENARIOS {
		known = known || s == *which
	}
	if !ok || *bootstrap == "" || !known || flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "usage: compat-go --client %s --bootstrap HOST:PORT [--scenario %s|all]\n",
			strings.Join(names, "|"), strings.Join(SCENARIOS, "|"))
		os.Exit(2)
	}
	todo := SCENARIOS
	if *which != "all" {
		todo = []string{*which}
	}
	anyFailed := false
	for _, s := range todo {
		t0 := time.Now()
		fn := scenarios[s]
		result, detail := "na", "not implemented for this client"
		if fn != nil {
			result, detail = run(fn, *bootstrap)
		}
		anyFailed = anyFailed || result == "fail"
		detail = strings.Join(strings.Fields(detail), " ")
		fmt.Printf("RESULT %s %s %s (%.1fs)\n", s, result, detail, time.Since(t0).Seconds())
		os.Stdout.Sync()
	}
	// Clients may leave goroutines behind; exit without waiting for them.
	if anyFailed {
		os.Exit(1)
	}
	os.Exit(0)
}
