// segmentio/kafka-go (github.com/segmentio/kafka-go): Writer, Reader (by partition, and with
// GroupID), ConsumerGroup, Client admin calls.
//
// Client defaults everywhere, except: Writers use RequiredAcks=RequireAll (the default is
// RequireNone, acks=0, whose produce has no response and so no offsets to compare against) and
// AllowAutoTopicCreation (the scenarios that produce to a new topic rely on the broker
// auto-creating it, as the other clients do by default); key_partition uses
// kafka.Murmur2Balancer, the Java client's key hash (the default balancer, RoundRobin, ignores
// keys); group members use a 10 s session timeout and 1 s heartbeats. Topic read-backs use one
// Reader per partition (no group). Groups: commit_resume uses a Reader with GroupID; the group
// scenarios that must see each member's assignment use kafka.ConsumerGroup, the API the Reader
// is built on, since the Reader does not expose its assignment.
//
// kafka-go has no idempotent producer (its Writer and Client.Produce carry no producer id or
// sequence numbers), so `idempotent` is n/a; nor a transactional one, so `transactions` is n/a.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

const kafkaGoName = "kafka-go"

var kgErrLog = kafka.LoggerFunc(log.New(os.Stderr, "[kafka-go] ", log.Ltime|log.Lmicroseconds).Printf)

func init() {
	k := kafkaGo{}
	register(kafkaGoName, map[string]scenarioFn{
		"codecs": k.codecs, "idempotent": k.idempotent, "group_rebalance": k.groupRebalance,
		"commit_resume": k.commitResume, "offset_reset": k.offsetReset,
		"key_partition": k.keyPartition, "admin_topics": k.adminTopics, "admin_groups": k.adminGroups,
		"transactions": k.transactions,
	})
}

type kafkaGo struct{}

// fetchMaxWait for Readers: 500 ms, the Java client's and librdkafka's fetch max wait. kafka-go's
// default is 10 s, and Reader.Close waits for the fetch in flight, so each close took ~10 s.
const fetchMaxWait = 500 * time.Millisecond

func kgClient(bootstrap string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(bootstrap), Timeout: WAIT}
}

// kgProduce writes records with one Writer (WriteMessages, synchronous); returns
// {partition: records} in offset order, from the Completion callback's partitions and offsets.
func kgProduce(bootstrap, topic string, recs []Rec, tweak func(*kafka.Writer)) map[int32][]Rec {
	var mu sync.Mutex
	var acks []acked
	var errs []error
	w := &kafka.Writer{
		Addr:                   kafka.TCP(bootstrap),
		Topic:                  topic,
		RequiredAcks:           kafka.RequireAll,
		AllowAutoTopicCreation: true,
		ErrorLogger:            kgErrLog,
		Completion: func(msgs []kafka.Message, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			for _, m := range msgs {
				acks = append(acks, acked{int32(m.Partition), m.Offset, recs[m.WriterData.(int)]})
			}
		},
	}
	if tweak != nil {
		tweak(w)
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		m := kafka.Message{Key: r.Key, Value: r.Value, WriterData: i}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		msgs[i] = m
	}
	ctx, cancel := waitCtx()
	defer cancel()
	var err error
	for {
		err = w.WriteMessages(ctx, msgs...)
		// A topic being auto-created: the Writer's metadata lookup fails before anything is
		// written, and kafka-go's README says to retry (Kafka 4.4 answers
		// UNKNOWN_TOPIC_OR_PARTITION for the first lookup). Retrying then writes nothing twice.
		var ke kafka.Error
		var partial kafka.WriteErrors // per-message errors: something may have been written
		if !errors.As(err, &partial) && errors.As(err, &ke) && ctx.Err() == nil &&
			(ke == kafka.LeaderNotAvailable || ke == kafka.UnknownTopicOrPartition) {
			fmt.Fprintf(os.Stderr, "[kafka-go] WriteMessages: %v; retrying (topic being created)\n", err)
			time.Sleep(250 * time.Millisecond)
			continue
		}
		break
	}
	must(w.Close(), "Writer.Close")
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		fail("produce: %d of %d failed, first: %v", we.Count(), len(msgs), firstErr(we))
	}
	must(err, "produce")
	mu.Lock()
	defer mu.Unlock()
	check(len(errs) == 0, "produce: %v", errs)
	check(len(acks) == len(recs), "produce: %d acked of %d", len(acks), len(recs))
	return byPartition(acks)
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func fromKafkaGo(m kafka.Message) Rec {
	r := Rec{Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, Header{h.Key, h.Value})
	}
	return r
}

func kgReader(bootstrap, topic string, partition int) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{bootstrap}, Topic: topic, Partition: partition, ErrorLogger: kgErrLog,
		MaxWait: fetchMaxWait,
	})
}

// kgDrain reads from r until want records arrived or wait passed.
func kgDrain(r *kafka.Reader, want int, wait time.Duration) []Rec {
	var got []Rec
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for len(got) < want {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return got
			}
			must(err, "ReadMessage")
		}
		got = append(got, fromKafkaGo(m))
	}
	return got
}

// kgReadAll reads want records from the given partitions from offset 0, no group: one Reader
// per partition, read concurrently until want records arrived in all.
func kgReadAll(bootstrap, topic string, partitions []int, want int, wait time.Duration) map[int32][]Rec {
	got := newCollector()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var errs []error
	for _, p := range partitions {
		r := kgReader(bootstrap, topic, p)
		must(r.SetOffset(0), "SetOffset(0)")
		wg.Add(1)
		go func(r *kafka.Reader) {
			defer wg.Done()
			defer r.Close()
			for ctx.Err() == nil {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errMu.Lock()
						errs = append(errs, err)
						errMu.Unlock()
						cancel()
					}
					return
				}
				got.add(int32(m.Partition), fromKafkaGo(m))
				if got.count() >= want {
					cancel()
				}
			}
		}(r)
	}
	wg.Wait()
	check(len(errs) == 0, "ReadMessage: %v", errs)
	return got.snapshot()
}

func kgPartitionCount(c *kafka.Client, topic string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return -1
	}
	for _, t := range md.Topics {
		if t.Name == topic && t.Error == nil {
			return len(t.Partitions)
		}
	}
	return -1
}

func kgCreateTopic(c *kafka.Client, topic string, partitions int) {
	ctx, cancel := waitCtx()
	defer cancel()
	resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}},
	})
	must(err, "CreateTopics")
	must(resp.Errors[topic], "CreateTopics "+topic)
	waitUntil(func() bool { return kgPartitionCount(c, topic) == partitions },
		fmt.Sprintf("topic %s with %d partitions in metadata", topic, partitions), nil)
}

func (kafkaGo) codecs(bootstrap string) string {
	c := kgClient(bootstrap)
	codecs := map[string]kafka.Compression{
		"none": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
	}
	for _, codec := range CODECS {
		topic := name("codec-"+codec, kafkaGoName)
		kgCreateTopic(c, topic, 3)
		expected := kgProduce(bootstrap, topic, codecRecords(codec, 30), func(w *kafka.Writer) {
			w.Compression = codecs[codec]
			w.BatchTimeout = 50 * time.Millisecond // linger.ms=50
		})
		got := kgReadAll(bootstrap, topic, []int{0, 1, 2}, 30, WAIT)
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
	return "none,gzip,snappy,lz4,zstd (Writer round-robin balancer)"
}

func (kafkaGo) idempotent(string) string {
	na("kafka-go has no idempotent producer: its Writer and Client.Produce send no producer id or sequence numbers")
	return ""
}

func (kafkaGo) transactions(string) string {
	na("kafka-go has no transactional producer: its Writer and Client.Produce write every batch with producer id -1 " +
		"(only the raw InitProducerID, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn calls exist, " +
		"with no way to produce records into the transaction)")
	return ""
}

// kgMember is one kafka.ConsumerGroup member: a goroutine takes each generation's assignment.
type kgMember struct {
	cg    *kafka.ConsumerGroup
	owned *ownedSet
	done  chan struct{}
	once  sync.Once
}

func newKgMember(bootstrap, group, topic string) *kgMember {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: group, Brokers: []string{bootstrap}, Topics: []string{topic},
		SessionTimeout: SessionTimeout, HeartbeatInterval: Heartbeat,
		StartOffset: kafka.FirstOffset, ErrorLogger: kgErrLog,
	})
	must(err, "NewConsumerGroup")
	m := &kgMember{cg: cg, owned: newOwned(), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			gen, err := cg.Next(context.Background())
			if err != nil {
				if errors.Is(err, kafka.ErrGroupClosed) {
					return
				}
				fmt.Fprintf(os.Stderr, "[kafka-go] ConsumerGroup.Next: %v\n", err)
				continue
			}
			var ps []int32
			for _, pa := range gen.Assignments[topic] {
				ps = append(ps, int32(pa.ID))
			}
			m.owned.replace(ps...)
			// The generation ends at the next rebalance (or Close): the assignment is revoked.
			gen.Start(func(ctx context.Context) {
				<-ctx.Done()
				m.owned.replace()
			})
		}
	}()
	return m
}

// close leaves the group (LeaveGroup) and waits for the member's goroutine.
func (m *kgMember) close() {
	m.once.Do(func() {
		if err := m.cg.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "[kafka-go] ConsumerGroup.Close: %v\n", err)
		}
		<-m.done
	})
}

func (kafkaGo) groupRebalance(bootstrap string) string {
	topic, group := name("grp", kafkaGoName), name("grp", kafkaGoName)
	kgCreateTopic(kgClient(bootstrap), topic, 3)
	members := make([]*kgMember, 4)
	owned := make([]*ownedSet, 4)
	for i := range members {
		members[i] = newKgMember(bootstrap, group, topic)
		owned[i] = members[i].owned
	}
	defer func() {
		for _, m := range members {
			m.close()
		}
	}()
	return rebalanceScenario(owned, func(i int) { members[i].close() }) + " (kafka.ConsumerGroup)"
}

func kgGroupReader(bootstrap, group, topic string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{bootstrap}, GroupID: group, Topic: topic,
		SessionTimeout: SessionTimeout, HeartbeatInterval: Heartbeat,
		StartOffset:    kafka.FirstOffset, // auto.offset.reset=earliest
		CommitInterval: 0,                 // CommitMessages commits synchronously; nothing auto-commits
		MaxWait:        fetchMaxWait,
		ErrorLogger:    kgErrLog,
	})
}

func (kafkaGo) commitResume(bootstrap string) string {
	topic, group := name("commit", kafkaGoName), name("commit", kafkaGoName)
	kgProduce(bootstrap, topic, plain(seq("v", 0, 10)...), nil)
	a := kgGroupReader(bootstrap, group, topic)
	var seen []kafka.Message
	ctx, cancel := waitCtx()
	defer cancel()
	for len(seen) < 10 {
		m, err := a.FetchMessage(ctx) // FetchMessage does not commit
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			must(err, "FetchMessage")
		}
		seen = append(seen, m)
	}
	check(len(seen) == 10, "first member read %d/10", len(seen))
	cctx, ccancel := waitCtx()
	defer ccancel()
	must(a.CommitMessages(cctx, seen[4]), "CommitMessages") // commits offset 5: v5.. are "unprocessed"
	resp, err := kgClient(bootstrap).OffsetFetch(cctx, &kafka.OffsetFetchRequest{
		GroupID: group, Topics: map[string][]int{topic: {0}},
	})
	must(err, "OffsetFetch")
	must(resp.Error, "OffsetFetch")
	ps := resp.Topics[topic]
	check(len(ps) == 1, "OffsetFetch returned %d partitions", len(ps))
	must(ps[0].Error, "OffsetFetch "+topic+"[0]")
	check(ps[0].CommittedOffset == 5, "committed offset reads back as %d, expected 5", ps[0].CommittedOffset)
	must(a.Close(), "Reader.Close")
	b := kgGroupReader(bootstrap, group, topic)
	defer b.Close()
	var got []string
	rctx, rcancel := waitCtx()
	defer rcancel()
	for len(got) < 5 {
		m, err := b.FetchMessage(rctx)
		if err != nil {
			if rctx.Err() != nil {
				break
			}
			must(err, "FetchMessage")
		}
		got = append(got, string(m.Value))
	}
	check(sameStrings(got, seq("v", 5, 10)), "new member got %v, expected v5..v9", got)
	return "committed 5, new member resumed at v5 (Reader with GroupID)"
}

func (kafkaGo) offsetReset(bootstrap string) string {
	topic := name("reset", kafkaGoName)
	kgProduce(bootstrap, topic, plain(seq("a", 0, 5)...), nil)
	// No group, no position: FirstOffset / LastOffset are resolved by the reader (ListOffsets).
	early := kgReader(bootstrap, topic, 0)
	defer early.Close()
	must(early.SetOffset(kafka.FirstOffset), "SetOffset(FirstOffset)")
	got := values(kgDrain(early, 5, WAIT))
	check(sameStrings(got, seq("a", 0, 5)), "earliest read %v", got)
	late := kgReader(bootstrap, topic, 0)
	defer late.Close()
	must(late.SetOffset(kafka.LastOffset), "SetOffset(LastOffset)")
	// The reader resolves LastOffset once reading starts; Stats().Offset is then its position.
	var stray []string
	var pos int64 = -1
	deadline := time.Now().Add(WAIT)
	for {
		stray = append(stray, values(kgDrain(late, 1, 200*time.Millisecond))...)
		if pos = late.Stats().Offset; pos == 5 || time.Now().After(deadline) {
			break
		}
	}
	check(pos == 5, "latest reader positioned at %d, not 5", pos)
	stray = append(stray, values(kgDrain(late, 1, time.Second))...)
	check(len(stray) == 0, "latest reader read old records %v", stray)
	kgProduce(bootstrap, topic, plain("b0", "b1", "b2"), nil)
	got = values(kgDrain(late, 3, WAIT))
	check(sameStrings(got, []string{"b0", "b1", "b2"}), "latest read %v, expected b0..b2", got)
	must(late.SetOffset(0), "SetOffset(0)")
	got = values(kgDrain(late, 8, WAIT))
	want := append(seq("a", 0, 5), "b0", "b1", "b2")
	check(sameStrings(got, want), "replay after SetOffset(0) read %v", got)
	return "SetOffset FirstOffset, LastOffset, SetOffset(0) replay (Reader without group)"
}

func (kafkaGo) keyPartition(bootstrap string) string {
	topic := name("keys", kafkaGoName)
	kgCreateTopic(kgClient(bootstrap), topic, 6)
	// Two producer instances: the mapping must not depend on the instance.
	var rounds []map[int32][]Rec
	for i := 0; i < 2; i++ {
		rounds = append(rounds, kgProduce(bootstrap, topic, keyRecords(), func(w *kafka.Writer) {
			w.Balancer = &kafka.Murmur2Balancer{}
		}))
	}
	return checkKeyPlacement(rounds) + " (Murmur2Balancer)"
}

func (kafkaGo) adminTopics(bootstrap string) string {
	topic := name("admin", kafkaGoName)
	c := kgClient(bootstrap)
	kgCreateTopic(c, topic, 2)
	ctx, cancel := waitCtx()
	defer cancel()
	dc, err := c.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic}},
	})
	must(err, "DescribeConfigs")
	check(len(dc.Resources) == 1, "DescribeConfigs returned %d resources", len(dc.Resources))
	must(dc.Resources[0].Error, "DescribeConfigs "+topic)
	names := map[string]bool{}
	var first []string
	for _, e := range dc.Resources[0].ConfigEntries {
		names[e.ConfigName] = true
		first = append(first, e.ConfigName)
	}
	sort.Strings(first)
	if len(first) > 10 {
		first = first[:10]
	}
	check(names["retention.ms"] && names["cleanup.policy"],
		"DescribeConfigs lacks retention.ms/cleanup.policy: %v", first)
	cp, err := c.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: 4}},
	})
	must(err, "CreatePartitions")
	must(cp.Errors[topic], "CreatePartitions "+topic)
	waitUntil(func() bool { return kgPartitionCount(c, topic) == 4 }, "4 partitions in metadata", nil)
	dt, err := c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	must(err, "DeleteTopics")
	must(dt.Errors[topic], "DeleteTopics "+topic)
	waitUntil(func() bool {
		mctx, mcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer mcancel()
		md, err := c.Metadata(mctx, &kafka.MetadataRequest{})
		if err != nil {
			return false
		}
		for _, t := range md.Topics {
			if t.Name == topic {
				return false
			}
		}
		return true
	}, "topic gone from metadata", nil)
	return "CreateTopics, DescribeConfigs, CreatePartitions 2->4, DeleteTopics (Client)"
}

func (kafkaGo) adminGroups(bootstrap string) string {
	topic, group := name("gadmin", kafkaGoName), name("gadmin", kafkaGoName)
	c := kgClient(bootstrap)
	kgCreateTopic(c, topic, 1)
	m := newKgMember(bootstrap, group, topic)
	defer m.close()
	waitUntil(func() bool { return len(m.owned.list()) > 0 }, "the member's assignment", nil)
	ctx, cancel := waitCtx()
	defer cancel()
	lg, err := c.ListGroups(ctx, &kafka.ListGroupsRequest{})
	must(err, "ListGroups")
	must(lg.Error, "ListGroups")
	listed := false
	for _, g := range lg.Groups {
		listed = listed || g.GroupID == group
	}
	check(listed, "ListGroups lacks %s (%d groups listed)", group, len(lg.Groups))
	dg, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	must(err, "DescribeGroups")
	check(len(dg.Groups) == 1, "DescribeGroups returned %d groups", len(dg.Groups))
	d := dg.Groups[0]
	must(d.Error, "DescribeGroups "+group)
	check(d.GroupState == "Stable", "group state %s", d.GroupState)
	check(len(d.Members) == 1, "describe shows %d members", len(d.Members))
	var parts []int
	for _, t := range d.Members[0].MemberAssignments.Topics {
		if t.Topic == topic {
			parts = append(parts, t.Partitions...)
		}
	}
	check(fmt.Sprint(parts) == "[0]", "described assignment %v", parts)
	return "ListGroups, DescribeGroups (1 member, Stable, [0]) (Client)"
}
