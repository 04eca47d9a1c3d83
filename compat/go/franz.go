// franz-go (github.com/twmb/franz-go: kgo for producing and consuming, kadm for admin).
//
// Client defaults everywhere (kgo's producer is idempotent by default, acks=all, its group
// balancer cooperative-sticky over the classic group protocol), except: producers may create
// topics (AllowAutoTopicCreation: the scenarios that produce to a new topic rely on the broker
// auto-creating it, as the other clients do by default), group members use a 10 s session
// timeout and 1 s heartbeats, and topic read-backs consume partitions directly (no group).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const franzName = "franz-go"

func init() {
	f := franz{}
	register(franzName, map[string]scenarioFn{
		"codecs": f.codecs, "idempotent": f.idempotent, "group_rebalance": f.groupRebalance,
		"commit_resume": f.commitResume, "offset_reset": f.offsetReset,
		"key_partition": f.keyPartition, "admin_topics": f.adminTopics, "admin_groups": f.adminGroups,
		"transactions": f.transactions, "group_protocol": f.groupProtocol,
	})
}

type franz struct{}

func franzClient(bootstrap string, opts ...kgo.Opt) *kgo.Client {
	all := append([]kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, func() string {
			return time.Now().Format("15:04:05.000 ") + "[franz-go] "
		})),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	must(err, "kgo.NewClient")
	return cl
}

func franzGroupOpts(group, topic string, extra ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()), // auto.offset.reset=earliest
		kgo.SessionTimeout(SessionTimeout), kgo.HeartbeatInterval(Heartbeat),
	}, extra...)
}

func toKgo(topic string, r Rec) *kgo.Record {
	kr := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return kr
}

func fromKgo(kr *kgo.Record) Rec {
	r := Rec{Key: kr.Key, Value: kr.Value}
	for _, h := range kr.Headers {
		r.Headers = append(r.Headers, Header{h.Key, h.Value})
	}
	return r
}

// produceWith produces records with cl (ProduceSync); returns {partition: records} in offset order.
func franzProduceWith(cl *kgo.Client, topic string, recs []Rec) map[int32][]Rec {
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = toKgo(topic, r)
	}
	ctx, cancel := waitCtx()
	defer cancel()
	results := cl.ProduceSync(ctx, krs...)
	must(results.FirstErr(), "produce")
	// Results come in completion order: match them to the records sent by identity.
	index := map[*kgo.Record]int{}
	for i, kr := range krs {
		index[kr] = i
	}
	var acks []acked
	for _, res := range results {
		acks = append(acks, acked{res.Record.Partition, res.Record.Offset, recs[index[res.Record]]})
	}
	check(len(acks) == len(recs), "produce: %d results for %d records", len(acks), len(recs))
	return byPartition(acks)
}

func franzProduce(bootstrap, topic string, recs []Rec, opts ...kgo.Opt) map[int32][]Rec {
	cl := franzClient(bootstrap, append([]kgo.Opt{kgo.AllowAutoTopicCreation()}, opts...)...)
	defer cl.Close()
	return franzProduceWith(cl, topic, recs)
}

// franzDrain polls cl until want records arrived or wait passed.
func franzDrain(cl *kgo.Client, want int, wait time.Duration) *collector {
	got := newCollector()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for got.count() < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if fs.IsClientClosed() {
			fail("client closed while reading")
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fail("fetch %s[%d]: %v", t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { got.add(r.Partition, fromKgo(r)) })
	}
	return got
}

// franzReadAll reads want records from the given partitions from offset 0, no group.
func franzReadAll(bootstrap, topic string, partitions []int32, want int, wait time.Duration) map[int32][]Rec {
	offsets := map[int32]kgo.Offset{}
	for _, p := range partitions {
		offsets[p] = kgo.NewOffset().At(0)
	}
	cl := franzClient(bootstrap, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	defer cl.Close()
	return franzDrain(cl, want, wait).snapshot()
}

func franzCreateTopic(adm *kadm.Client, topic string, partitions int32) {
	ctx, cancel := waitCtx()
	defer cancel()
	_, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	must(err, "CreateTopics "+topic)
	waitUntil(func() bool { return franzPartitionCount(adm, topic) == int(partitions) },
		fmt.Sprintf("topic %s with %d partitions in metadata", topic, partitions), nil)
}

func franzPartitionCount(adm *kadm.Client, topic string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return -1
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		return -1
	}
	return len(d.Partitions)
}

func (franz) codecs(bootstrap string) string {
	adminCl := franzClient(bootstrap)
	defer adminCl.Close()
	adm := kadm.NewClient(adminCl)
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for _, codec := range CODECS {
		topic := name("codec-"+codec, franzName)
		franzCreateTopic(adm, topic, 3)
		expected := franzProduce(bootstrap, topic, codecRecords(codec, 30),
			kgo.ProducerBatchCompression(codecs[codec]), kgo.ProducerLinger(50*time.Millisecond))
		got := franzReadAll(bootstrap, topic, []int32{0, 1, 2}, 30, WAIT)
		func() {
			defer func() {
				if r := recover(); r != nil {
					if f, ok := r.(failed); ok {
						fail("%s: %s", codec, f.msg)
					}
					panic(r)
				}
			}()
			comparePartitions(expected, got)
		}()
	}
	return "none,gzip,snappy,lz4,zstd"
}

func (franz) idempotent(bootstrap string) string {
	topic := name("idem", franzName)
	n := 200
	// kgo producers are idempotent unless DisableIdempotentWrite; nothing to switch on.
	cl := franzClient(bootstrap, kgo.AllowAutoTopicCreation())
	franzProduceWith(cl, topic, plain(seq("", 0, n)...))
	ctx, cancel := waitCtx()
	id, epoch, err := cl.ProducerID(ctx)
	cancel()
	cl.Close()
	must(err, "ProducerID")
	check(id >= 0, "producer id %d: the producer was not idempotent", id)
	// Ask for one more than produced, for a few seconds: a duplicate would show.
	got := franzReadAll(bootstrap, topic, []int32{0}, n+1, 5*time.Second)
	return idempotentCheck(values(got[0]), n) + fmt.Sprintf(" (producer id %d epoch %d)", id, epoch)
}

func (f franz) groupRebalance(bootstrap string) string { return f.rebalance(bootstrap, false) }

// groupProtocol: group_rebalance under KIP-848 (kgo.ServerSideBalancer: the broker assigns),
// a commit at the member epoch read back, and the group described by ConsumerGroupDescribe.
func (f franz) groupProtocol(bootstrap string) string { return f.rebalance(bootstrap, true) }

func (franz) rebalance(bootstrap string, serverSide bool) string {
	topic, group := name("grp", franzName), name("grp", franzName)
	adminCl := franzClient(bootstrap)
	defer adminCl.Close()
	franzCreateTopic(kadm.NewClient(adminCl), topic, 3)
	owned := make([]*ownedSet, 4)
	members := make([]*kgo.Client, 4)
	done := make([]chan struct{}, 4)
	for i := range members {
		o := newOwned()
		owned[i] = o
		parts := func(m map[string][]int32) []int32 { return m[topic] }
		opts := []kgo.Opt{
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.assign(parts(m)...) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.revoke(parts(m)...) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.revoke(parts(m)...) }),
		}
		if serverSide {
			opts = append(opts, kgo.ServerSideBalancer(), kgo.DisableAutoCommit())
		}
		members[i] = franzClient(bootstrap, franzGroupOpts(group, topic, opts...)...)
		done[i] = make(chan struct{})
		go func(cl *kgo.Client, done chan struct{}) { // the member's poll loop
			defer close(done)
			for {
				fs := cl.PollFetches(context.Background())
				if fs.IsClientClosed() {
					return
				}
				fs.EachError(func(t string, p int32, err error) {
					fmt.Fprintf(os.Stderr, "member fetch error %s[%d]: %v\n", t, p, err)
				})
			}
		}(members[i], done[i])
	}
	closed := make([]bool, 4)
	defer func() {
		for i, m := range members {
			if !closed[i] {
				m.Close()
			}
		}
	}()
	summary := rebalanceScenario(owned, func(i int) {
		members[i].Close() // leaves the group (LeaveGroup)
		closed[i] = true
		<-done[i]
	})
	if !serverSide {
		return summary
	}
	owner := -1
	for i := range members {
		if !closed[i] && len(owned[i].list()) > 0 {
			owner = i
			break
		}
	}
	p := owned[owner].list()[0]
	ctx, cancel := waitCtx()
	defer cancel()
	// CommitOffsetsSync sends the member id and epoch (OffsetCommit v9).
	var commitErr error
	members[owner].CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: {p: {Epoch: -1, Offset: 7}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			commitErr = err
			if err == nil {
				for _, t := range resp.Topics {
					for _, pr := range t.Partitions {
						if pr.ErrorCode != 0 {
							commitErr = kerr.ErrorForCode(pr.ErrorCode)
						}
					}
				}
			}
		})
	must(commitErr, "CommitOffsetsSync")
	adm := kadm.NewClient(adminCl)
	offsets, err := adm.FetchOffsets(ctx, group)
	must(err, "FetchOffsets")
	o, ok := offsets.Lookup(topic, p)
	check(ok && o.Err == nil && o.At == 7, "committed offset reads back as %v (%v)", o.At, o.Err)
	var d kadm.DescribedConsumerGroup
	waitUntil(func() bool {
		described, err := adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			return false
		}
		d = described[group]
		return d.Err == nil && d.State == "Stable" && len(d.Members) == 3
	}, "DescribeConsumerGroups: Stable with 3 members", nil)
	var parts []int32
	for _, ps := range d.AssignedPartitions() {
		for p := range ps {
			parts = append(parts, p)
		}
	}
	check(len(parts) == 3, "described assignments %v", parts)
	return summary + fmt.Sprintf("; commit at the member epoch read back; described: %s assignor, epoch %d, 3 members", d.AssignorName, d.Epoch)
}

func (franz) commitResume(bootstrap string) string {
	topic, group := name("commit", franzName), name("commit", franzName)
	franzProduce(bootstrap, topic, plain(seq("v", 0, 10)...))
	var seen []*kgo.Record
	a := franzClient(bootstrap, franzGroupOpts(group, topic, kgo.DisableAutoCommit())...)
	{
		ctx, cancel := waitCtx()
		for len(seen) < 10 && ctx.Err() == nil {
			fs := a.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { seen = append(seen, r) })
		}
		cancel()
	}
	check(len(seen) == 10, "first member read %d/10", len(seen))
	ctx, cancel := waitCtx()
	defer cancel()
	must(a.CommitRecords(ctx, seen[4]), "CommitRecords") // commits offset 5: v5.. are "unprocessed"
	offsets, err := kadm.NewClient(a).FetchOffsets(ctx, group)
	must(err, "FetchOffsets")
	o, ok := offsets.Lookup(topic, 0)
	check(ok && o.Err == nil, "committed offset not returned: %v %v", ok, o.Err)
	check(o.At == 5, "committed offset reads back as %d, expected 5", o.At)
	a.Close()
	b := franzClient(bootstrap, franzGroupOpts(group, topic, kgo.DisableAutoCommit())...)
	defer b.Close()
	got := values(franzDrain(b, 5, WAIT).snapshot()[0])
	check(sameStrings(got, seq("v", 5, 10)), "new member got %v, expected v5..v9", got)
	return "committed 5, new member resumed at v5"
}

// fetchSeen counts Fetch requests written: a consumer fetches only once it has a position.
type fetchSeen struct{ n atomic.Int64 }

func (f *fetchSeen) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 1 && err == nil { // Fetch
		f.n.Add(1)
	}
}

func (franz) offsetReset(bootstrap string) string {
	topic := name("reset", franzName)
	franzProduce(bootstrap, topic, plain(seq("a", 0, 5)...))
	// No group, no position: the start offset (kgo's auto.offset.reset) decides.
	early := franzClient(bootstrap, kgo.ConsumeTopics(topic), kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()))
	defer early.Close()
	got := values(franzDrain(early, 5, WAIT).snapshot()[0])
	check(sameStrings(got, seq("a", 0, 5)), "earliest read %v", got)
	hook := &fetchSeen{}
	late := franzClient(bootstrap, kgo.ConsumeTopics(topic), kgo.ConsumeStartOffset(kgo.NewOffset().AtEnd()),
		kgo.WithHooks(hook))
	defer late.Close()
	var stray []string
	waitUntil(func() bool {
		stray = append(stray, values(franzDrain(late, 1, 200*time.Millisecond).snapshot()[0])...)
		return hook.n.Load() > 0
	}, "the latest consumer resolving its position (its first Fetch)", func() {})
	stray = append(stray, values(franzDrain(late, 1, time.Second).snapshot()[0])...)
	check(len(stray) == 0, "latest consumer read old records %v", stray)
	franzProduce(bootstrap, topic, plain("b0", "b1", "b2"))
	got = values(franzDrain(late, 3, WAIT).snapshot()[0])
	check(sameStrings(got, []string{"b0", "b1", "b2"}), "latest read %v, expected b0..b2", got)
	late.SetOffsets(map[string]map[int32]kgo.EpochOffset{topic: {0: {Epoch: -1, Offset: 0}}})
	got = values(franzDrain(late, 8, WAIT).snapshot()[0])
	want := append(seq("a", 0, 5), "b0", "b1", "b2")
	check(sameStrings(got, want), "replay after SetOffsets(0) read %v", got)
	return "ConsumeStartOffset AtStart, AtEnd, SetOffsets(0) replay"
}

func (franz) keyPartition(bootstrap string) string {
	topic := name("keys", franzName)
	adminCl := franzClient(bootstrap)
	defer adminCl.Close()
	franzCreateTopic(kadm.NewClient(adminCl), topic, 6)
	// Two producer instances: the mapping must not depend on the instance.
	var rounds []map[int32][]Rec
	for i := 0; i < 2; i++ {
		rounds = append(rounds, franzProduce(bootstrap, topic, keyRecords()))
	}
	return checkKeyPlacement(rounds)
}

func (franz) adminTopics(bootstrap string) string {
	topic := name("admin", franzName)
	cl := franzClient(bootstrap)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	franzCreateTopic(adm, topic, 2)
	ctx, cancel := waitCtx()
	defer cancel()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	must(err, "DescribeConfigs")
	rc, err := rcs.On(topic, nil)
	must(err, "DescribeConfigs "+topic)
	must(rc.Err, "DescribeConfigs "+topic)
	names := map[string]bool{}
	var first []string
	for _, c := range rc.Configs {
		names[c.Key] = true
		if len(first) < 10 {
			first = append(first, c.Key)
		}
	}
	check(names["retention.ms"] && names["cleanup.policy"],
		"DescribeConfigs lacks retention.ms/cleanup.policy: %v", first)
	cps, err := adm.UpdatePartitions(ctx, 4, topic)
	must(err, "CreatePartitions")
	cp, err := cps.On(topic, nil)
	must(err, "CreatePartitions "+topic)
	must(cp.Err, "CreatePartitions "+topic)
	waitUntil(func() bool { return franzPartitionCount(adm, topic) == 4 }, "4 partitions in metadata", nil)
	dts, err := adm.DeleteTopics(ctx, topic)
	must(err, "DeleteTopics")
	dt, err := dts.On(topic, nil)
	must(err, "DeleteTopics "+topic)
	must(dt.Err, "DeleteTopics "+topic)
	waitUntil(func() bool {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		td, err := adm.ListTopics(c)
		return err == nil && !td.Has(topic)
	}, "topic gone from metadata", nil)
	return "CreateTopics, DescribeConfigs, CreatePartitions 2->4, DeleteTopics (kadm)"
}

func (franz) adminGroups(bootstrap string) string {
	topic, group := name("gadmin", franzName), name("gadmin", franzName)
	cl := franzClient(bootstrap)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	franzCreateTopic(adm, topic, 1)
	o := newOwned()
	member := franzClient(bootstrap, franzGroupOpts(group, topic,
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.assign(m[topic]...) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.revoke(m[topic]...) }),
	)...)
	defer member.Close()
	go func() {
		for !member.PollFetches(context.Background()).IsClientClosed() {
		}
	}()
	waitUntil(func() bool { return len(o.list()) > 0 }, "the member's assignment", nil)
	ctx, cancel := waitCtx()
	defer cancel()
	listed, err := adm.ListGroups(ctx)
	must(err, "ListGroups")
	_, listedOK := listed[group]
	check(listedOK, "ListGroups lacks %s: %v", group, listed.Groups())
	described, err := adm.DescribeGroups(ctx, group)
	must(err, "DescribeGroups")
	d, ok := described[group]
	check(ok, "DescribeGroups did not return %s", group)
	must(d.Err, "DescribeGroups "+group)
	check(d.State == "Stable", "group state %s", d.State)
	check(len(d.Members) == 1, "describe shows %d members", len(d.Members))
	ca, ok := d.Members[0].Assigned.AsConsumer()
	check(ok, "member assignment is not a consumer assignment")
	var parts []int32
	for _, t := range ca.Topics {
		if t.Topic == topic {
			parts = append(parts, t.Partitions...)
		}
	}
	check(fmt.Sprint(parts) == "[0]", "described assignment %v", parts)
	return "ListGroups, DescribeGroups (1 member, Stable, [0]) (kadm)"
}

// franzReadIsolated reads want records of parts from offset 0 (no group) at the given isolation
// level.
func franzReadIsolated(bootstrap string, parts []topicPartition, want int, level kgo.IsolationLevel) map[topicPartition][]string {
	offsets := map[string]map[int32]kgo.Offset{}
	for _, tp := range parts {
		if offsets[tp.Topic] == nil {
			offsets[tp.Topic] = map[int32]kgo.Offset{}
		}
		offsets[tp.Topic][tp.Partition] = kgo.NewOffset().At(0)
	}
	cl := franzClient(bootstrap, kgo.ConsumePartitions(offsets), kgo.FetchIsolationLevel(level))
	defer cl.Close()
	got := newTxnReads()
	ctx, cancel := waitCtx()
	defer cancel()
	for got.count() < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fail("fetch %s[%d]: %v", t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { got.add(r.Topic, r.Partition, r.Value) })
	}
	return got.snapshot()
}

func franzTxnRecords(recs []txnRec) []*kgo.Record {
	var out []*kgo.Record
	for _, r := range recs {
		out = append(out, &kgo.Record{Topic: r.Topic, Partition: r.Partition, Value: []byte(r.Value)})
	}
	return out
}

// isFenced: the errors franz-go returns to a fenced transactional producer.
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// transactions: kgo's transactional producer (BeginTransaction / EndTransaction) for the three
// transactions and fencing. kgo has no sendOffsetsToTransaction: offsets join a transaction only
// through a GroupTransactSession, whose End commits, inside the transaction, the offsets the
// session's group member consumed. So the offsets part consumes a third topic (one partition,
// 6 records) in group G with a session: 4 records then End(TryCommit) -> G's offset is 4; 2 more
// then End(TryAbort) -> still 4, and the session rewinds to 4.
func (franz) transactions(bootstrap string) string {
	topicA, topicB, input := name("txa", franzName), name("txb", franzName), name("txin", franzName)
	txid, group := name("txid", franzName), name("txgroup", franzName)
	adminCl := franzClient(bootstrap)
	defer adminCl.Close()
	adm := kadm.NewClient(adminCl)
	franzCreateTopic(adm, topicA, 3)
	franzCreateTopic(adm, topicB, 2)
	franzCreateTopic(adm, input, 1)
	franzProduce(bootstrap, input, plain(seq("in", 0, 6)...))
	ctx, cancel := waitCtx()
	defer cancel()

	plan := txnPlan(topicA, topicB)
	p1 := franzClient(bootstrap, kgo.TransactionalID(txid), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	defer p1.Close()
	for _, t := range plan {
		must(p1.BeginTransaction(), "BeginTransaction")
		// ProduceSync waits for the acks: an abort aborts records that are in the log.
		must(p1.ProduceSync(ctx, franzTxnRecords(t.Recs)...).FirstErr(), "transactional produce")
		must(p1.EndTransaction(ctx, kgo.TransactionEndTry(t.Commit)), "EndTransaction")
	}
	parts := txnPartitions(topicA, topicB)
	detail := checkTxnReads(plan, franzReadIsolated(bootstrap, parts, 15, kgo.ReadCommitted()),
		franzReadIsolated(bootstrap, parts, 22, kgo.ReadUncommitted()))

	// Fencing: a second producer with the same transactional id (a GroupTransactSession, used for
	// the offsets below; ProducerID runs its InitProducerId). The first producer's next
	// transaction must fail with PRODUCER_FENCED / INVALID_PRODUCER_EPOCH.
	s, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(bootstrap), kgo.TransactionalID(txid), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(input), kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.SessionTimeout(SessionTimeout), kgo.HeartbeatInterval(Heartbeat),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, func() string {
			return time.Now().Format("15:04:05.000 ") + "[franz-go session] "
		})))
	must(err, "NewGroupTransactSession")
	defer s.Close()
	_, _, err = s.Client().ProducerID(ctx)
	must(err, "ProducerID (InitProducerId) of the second producer")
	step, then := "BeginTransaction", ""
	err = p1.BeginTransaction()
	if err == nil {
		step = "ProduceSync"
		err = p1.ProduceSync(ctx, &kgo.Record{Topic: topicA, Partition: 0, Value: []byte("after-fencing")}).FirstErr()
		if err == nil {
			step = "EndTransaction(TryCommit)"
			err = p1.EndTransaction(ctx, kgo.TryCommit)
		} else {
			// After a failed produce, kgo's way out is an abort; reported, not required to fail
			// (kgo may answer it locally).
			then = fmt.Sprintf(", then EndTransaction(TryAbort) returned %v", p1.EndTransaction(ctx, kgo.TryAbort))
		}
	}
	check(err != nil, "the fenced producer committed a transaction")
	check(isFenced(err), "the fenced producer failed with %T: %v, not a fenced error", err, err)
	detail += fmt.Sprintf("; fenced: %s returned %v%s", step, err, then)

	offset := func() int64 {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(c, group)
		if err != nil {
			return -2
		}
		o, ok := offs.Lookup(input, 0)
		if !ok || o.Err != nil {
			return -1
		}
		return o.At
	}
	poll := func(n int) []string {
		var got []string
		pctx, cancel := waitCtx()
		defer cancel()
		for len(got) < n && pctx.Err() == nil {
			fs := s.PollRecords(pctx, n-len(got))
			fs.EachError(func(t string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					fail("fetch %s[%d]: %v", t, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		check(len(got) == n, "the session consumed %v, expected %d records", got, n)
		return got
	}
	out := func(v string) {
		must(s.ProduceSync(ctx, &kgo.Record{Topic: topicB, Partition: 0, Value: []byte(v)}).FirstErr(), "produce "+v)
	}
	must(s.Begin(), "session Begin")
	got := poll(txnOffsetCommitted)
	check(sameStrings(got, seq("in", 0, 4)), "the session consumed %v, expected in0..in3", got)
	out("offsets-4")
	committed, err := s.End(ctx, kgo.TryCommit)
	must(err, "session End(TryCommit)")
	check(committed, "session End(TryCommit) aborted")
	waitUntil(func() bool { return offset() == txnOffsetCommitted }, fmt.Sprintf("committed offset 4 of %s", group), nil)

	must(s.Begin(), "session Begin")
	aborted := poll(txnOffsetAborted - txnOffsetCommitted)
	out("offsets-6")
	committed, err = s.End(ctx, kgo.TryAbort)
	must(err, "session End(TryAbort)")
	check(!committed, "session End(TryAbort) committed")
	// The producer's next transaction starts only once the abort is complete on the broker.
	must(s.Begin(), "session Begin")
	again := poll(txnOffsetAborted - txnOffsetCommitted)
	check(sameStrings(again, aborted), "after the abort the session consumed %v, expected %v again (rewound to 4)", again, aborted)
	out("offsets-after-abort")
	o := offset()
	check(o == txnOffsetCommitted, "after the aborted transaction the committed offset is %d, expected 4", o)
	committed, err = s.End(ctx, kgo.TryCommit)
	must(err, "session End(TryCommit)")
	check(committed, "session End(TryCommit) aborted")
	waitUntil(func() bool { return offset() == txnOffsetAborted }, fmt.Sprintf("committed offset 6 of %s", group), nil)
	return detail + "; GroupTransactSession offsets: commit -> 4, abort kept 4 (session rewound), commit -> 6"
}
