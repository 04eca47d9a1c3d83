// IBM/sarama (github.com/IBM/sarama): SyncProducer, Consumer / PartitionConsumer, ConsumerGroup,
// ClusterAdmin.
//
// Client defaults everywhere (protocol version sarama.DefaultVersion, acks=1, hash partitioner
// FNV-1a, range group balancer), except: group members use a 10 s session timeout, 1 s
// heartbeats and Consumer.Offsets.Initial=OffsetOldest (auto.offset.reset=earliest); topic
// read-backs use PartitionConsumers (no group). sarama has no seek: offset_reset replays by
// re-opening the partition consumer at offset 0, which is how sarama programs seek.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

const saramaName = "sarama"

func init() {
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Ltime|log.Lmicroseconds)
	s := saramaClient{}
	register(saramaName, map[string]scenarioFn{
		"codecs": s.codecs, "idempotent": s.idempotent, "group_rebalance": s.groupRebalance,
		"commit_resume": s.commitResume, "offset_reset": s.offsetReset,
		"key_partition": s.keyPartition, "admin_topics": s.adminTopics, "admin_groups": s.adminGroups,
		"transactions": s.transactions,
	})
}

type saramaClient struct{}

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "gregor-compat"
	return c
}

func saramaGroupConfig() *sarama.Config {
	c := saramaConfig()
	c.Consumer.Group.Session.Timeout = SessionTimeout
	c.Consumer.Group.Heartbeat.Interval = Heartbeat
	c.Consumer.Offsets.Initial = sarama.OffsetOldest // auto.offset.reset=earliest
	return c
}

func saramaProduce(bootstrap, topic string, recs []Rec, tweak func(*sarama.Config)) map[int32][]Rec {
	cfg := saramaConfig()
	cfg.Producer.Return.Successes = true // SyncProducer needs it
	if tweak != nil {
		tweak(cfg)
	}
	p, err := sarama.NewSyncProducer([]string{bootstrap}, cfg)
	must(err, "NewSyncProducer")
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(r.Value)}
		if r.Key != nil {
			m.Key = sarama.ByteEncoder(r.Key)
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs[i] = m
	}
	if err := p.SendMessages(msgs); err != nil {
		var pe sarama.ProducerErrors
		if errors.As(err, &pe) && len(pe) > 0 {
			fail("produce: %d of %d failed, first: %v", len(pe), len(msgs), pe[0].Err)
		}
		must(err, "produce")
	}
	acks := make([]acked, len(msgs))
	for i, m := range msgs {
		acks[i] = acked{m.Partition, m.Offset, recs[i]}
	}
	return byPartition(acks)
}

func fromSarama(m *sarama.ConsumerMessage) Rec {
	r := Rec{Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, Header{string(h.Key), h.Value})
	}
	return r
}

// saramaDrain reads from one partition consumer until want records arrived or wait passed.
func saramaDrain(pc sarama.PartitionConsumer, want int, wait time.Duration) []Rec {
	var got []Rec
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(got) < want {
		select {
		case m, ok := <-pc.Messages():
			if !ok {
				fail("partition consumer closed after %d records", len(got))
			}
			got = append(got, fromSarama(m))
		case e, ok := <-pc.Errors():
			if ok {
				fail("consume %s[%d]: %v", e.Topic, e.Partition, e.Err)
			}
		case <-timer.C:
			return got
		}
	}
	return got
}

// saramaReadAll reads want records from the given partitions from offset 0, no group.
func saramaReadAll(bootstrap, topic string, partitions []int32, want int, wait time.Duration) map[int32][]Rec {
	cfg := saramaConfig()
	cfg.Consumer.Return.Errors = true
	c, err := sarama.NewConsumer([]string{bootstrap}, cfg)
	must(err, "NewConsumer")
	defer c.Close()
	got := newCollector()
	var errMu sync.Mutex
	var errs []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range partitions {
		pc, err := c.ConsumePartition(topic, p, 0)
		must(err, fmt.Sprintf("ConsumePartition %s[%d]", topic, p))
		wg.Add(1)
		go func(pc sarama.PartitionConsumer) {
			defer wg.Done()
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						return
					}
					got.add(m.Partition, fromSarama(m))
				case e, ok := <-pc.Errors():
					if ok {
						errMu.Lock()
						errs = append(errs, fmt.Sprintf("%s[%d]: %v", e.Topic, e.Partition, e.Err))
						errMu.Unlock()
					}
				case <-stop:
					return
				}
			}
		}(pc)
	}
	deadline := time.Now().Add(wait)
	for got.count() < want && time.Now().Before(deadline) {
		errMu.Lock()
		n := len(errs)
		errMu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	check(len(errs) == 0, "consume: %v", errs)
	return got.snapshot()
}

func saramaAdmin(bootstrap string) sarama.ClusterAdmin {
	a, err := sarama.NewClusterAdmin([]string{bootstrap}, saramaConfig())
	must(err, "NewClusterAdmin")
	return a
}

func saramaPartitionCount(a sarama.ClusterAdmin, topic string) int {
	md, err := a.DescribeTopics([]string{topic})
	if err != nil || len(md) != 1 || md[0].Err != sarama.ErrNoError {
		return -1
	}
	return len(md[0].Partitions)
}

func saramaCreateTopic(a sarama.ClusterAdmin, topic string, partitions int32) {
	must(a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false),
		"CreateTopic "+topic)
	waitUntil(func() bool { return saramaPartitionCount(a, topic) == int(partitions) },
		fmt.Sprintf("topic %s with %d partitions in metadata", topic, partitions), nil)
}

func (saramaClient) codecs(bootstrap string) string {
	a := saramaAdmin(bootstrap)
	defer a.Close()
	codecs := map[string]sarama.CompressionCodec{
		"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
		"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
	}
	for _, codec := range CODECS {
		topic := name("codec-"+codec, saramaName)
		saramaCreateTopic(a, topic, 3)
		expected := saramaProduce(bootstrap, topic, codecRecords(codec, 30), func(c *sarama.Config) {
			c.Producer.Compression = codecs[codec]
			c.Producer.Flush.Frequency = 50 * time.Millisecond // linger.ms=50
		})
		got := saramaReadAll(bootstrap, topic, []int32{0, 1, 2}, 30, WAIT)
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

func (saramaClient) idempotent(bootstrap string) string {
	topic := name("idem", saramaName)
	n := 200
	saramaProduce(bootstrap, topic, plain(seq("", 0, n)...), func(c *sarama.Config) {
		// What sarama's config validation requires of an idempotent producer.
		c.Producer.Idempotent = true
		c.Producer.RequiredAcks = sarama.WaitForAll
		c.Net.MaxOpenRequests = 1
	})
	// Ask for one more than produced, for a few seconds: a duplicate would show.
	got := saramaReadAll(bootstrap, topic, []int32{0}, n+1, 5*time.Second)
	return idempotentCheck(values(got[0]), n)
}

// saramaMember is one ConsumerGroup member running Consume in its own goroutine.
type saramaMember struct {
	cg     sarama.ConsumerGroup
	topic  string
	owned  *ownedSet
	cancel context.CancelFunc
	done   chan struct{}
	sess   atomic.Pointer[sarama.ConsumerGroupSession]
	onMsg  func(*sarama.ConsumerMessage)
	closed bool
}

func (m *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	m.sess.Store(&s)
	m.owned.replace(s.Claims()[m.topic]...)
	return nil
}

func (m *saramaMember) Cleanup(sarama.ConsumerGroupSession) error {
	m.owned.replace()
	return nil
}

func (m *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if m.onMsg != nil {
				m.onMsg(msg)
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

func newSaramaMember(bootstrap, group, topic string, tweak func(*sarama.Config), onMsg func(*sarama.ConsumerMessage)) *saramaMember {
	cfg := saramaGroupConfig()
	if tweak != nil {
		tweak(cfg)
	}
	cg, err := sarama.NewConsumerGroup([]string{bootstrap}, group, cfg)
	must(err, "NewConsumerGroup")
	ctx, cancel := context.WithCancel(context.Background())
	m := &saramaMember{cg: cg, topic: topic, owned: newOwned(), cancel: cancel, done: make(chan struct{}), onMsg: onMsg}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, m); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				fmt.Fprintf(os.Stderr, "[sarama] member Consume: %v\n", err)
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}()
	return m
}

// close ends the session, then leaves the group (LeaveGroup) and closes the client.
func (m *saramaMember) close() {
	if m.closed {
		return
	}
	m.closed = true
	m.cancel()
	<-m.done
	if err := m.cg.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "[sarama] ConsumerGroup.Close: %v\n", err)
	}
}

func (saramaClient) groupRebalance(bootstrap string) string {
	topic, group := name("grp", saramaName), name("grp", saramaName)
	a := saramaAdmin(bootstrap)
	saramaCreateTopic(a, topic, 3)
	a.Close()
	members := make([]*saramaMember, 4)
	owned := make([]*ownedSet, 4)
	for i := range members {
		members[i] = newSaramaMember(bootstrap, group, topic, nil, nil)
		owned[i] = members[i].owned
	}
	defer func() {
		for _, m := range members {
			m.close()
		}
	}()
	return rebalanceScenario(owned, func(i int) { members[i].close() })
}

func (saramaClient) commitResume(bootstrap string) string {
	topic, group := name("commit", saramaName), name("commit", saramaName)
	saramaProduce(bootstrap, topic, plain(seq("v", 0, 10)...), nil)
	noAutoCommit := func(c *sarama.Config) { c.Consumer.Offsets.AutoCommit.Enable = false }
	var mu sync.Mutex
	var seen []*sarama.ConsumerMessage
	a := newSaramaMember(bootstrap, group, topic, noAutoCommit, func(m *sarama.ConsumerMessage) {
		mu.Lock()
		seen = append(seen, m)
		mu.Unlock()
	})
	defer a.close()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	deadline := time.Now().Add(WAIT)
	for count() < 10 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	check(count() == 10, "first member read %d/10", count())
	sess := a.sess.Load()
	check(sess != nil, "no group session after reading 10 records")
	mu.Lock()
	fifth := seen[4]
	mu.Unlock()
	(*sess).MarkMessage(fifth, "") // marks offset 5: v5.. are "unprocessed"
	(*sess).Commit()               // synchronous commit of the marked offsets
	ad := saramaAdmin(bootstrap)
	defer ad.Close()
	resp, err := ad.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	must(err, "ListConsumerGroupOffsets")
	block := resp.GetBlock(topic, 0)
	check(block != nil, "committed offset not returned")
	check(block.Err == sarama.ErrNoError, "OffsetFetch %s[0]: %v", topic, block.Err)
	check(block.Offset == 5, "committed offset reads back as %d, expected 5", block.Offset)
	a.close()
	var got []string
	b := newSaramaMember(bootstrap, group, topic, noAutoCommit, func(m *sarama.ConsumerMessage) {
		mu.Lock()
		got = append(got, string(m.Value))
		mu.Unlock()
	})
	defer b.close()
	deadline = time.Now().Add(WAIT)
	n := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	for n() < 5 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	final := append([]string(nil), got...)
	mu.Unlock()
	check(sameStrings(final, seq("v", 5, 10)), "new member got %v, expected v5..v9", final)
	return "committed 5, new member resumed at v5"
}

func (saramaClient) offsetReset(bootstrap string) string {
	topic := name("reset", saramaName)
	saramaProduce(bootstrap, topic, plain(seq("a", 0, 5)...), nil)
	consumer := func() sarama.Consumer {
		cfg := saramaConfig()
		cfg.Consumer.Return.Errors = true
		c, err := sarama.NewConsumer([]string{bootstrap}, cfg)
		must(err, "NewConsumer")
		return c
	}
	early := consumer()
	defer early.Close()
	pc, err := early.ConsumePartition(topic, 0, sarama.OffsetOldest) // no group, no position
	must(err, "ConsumePartition OffsetOldest")
	got := values(saramaDrain(pc, 5, WAIT))
	check(sameStrings(got, seq("a", 0, 5)), "earliest read %v", got)
	late := consumer()
	defer late.Close()
	// ConsumePartition resolves OffsetNewest (ListOffsets) before it returns.
	lpc, err := late.ConsumePartition(topic, 0, sarama.OffsetNewest)
	must(err, "ConsumePartition OffsetNewest")
	stray := values(saramaDrain(lpc, 1, time.Second))
	check(len(stray) == 0, "latest consumer read old records %v", stray)
	saramaProduce(bootstrap, topic, plain("b0", "b1", "b2"), nil)
	got = values(saramaDrain(lpc, 3, WAIT))
	check(sameStrings(got, []string{"b0", "b1", "b2"}), "latest read %v, expected b0..b2", got)
	must(lpc.Close(), "PartitionConsumer.Close")
	rpc, err := late.ConsumePartition(topic, 0, 0) // sarama's seek: re-open at offset 0
	must(err, "ConsumePartition 0")
	got = values(saramaDrain(rpc, 8, WAIT))
	want := append(seq("a", 0, 5), "b0", "b1", "b2")
	check(sameStrings(got, want), "replay from offset 0 read %v", got)
	return "OffsetOldest, OffsetNewest, re-open at offset 0 replay (sarama has no seek)"
}

func (saramaClient) keyPartition(bootstrap string) string {
	topic := name("keys", saramaName)
	a := saramaAdmin(bootstrap)
	saramaCreateTopic(a, topic, 6)
	a.Close()
	// Two producer instances: the mapping must not depend on the instance.
	var rounds []map[int32][]Rec
	for i := 0; i < 2; i++ {
		rounds = append(rounds, saramaProduce(bootstrap, topic, keyRecords(), nil))
	}
	return checkKeyPlacement(rounds) + " (default hash partitioner, FNV-1a)"
}

func (saramaClient) adminTopics(bootstrap string) string {
	topic := name("admin", saramaName)
	a := saramaAdmin(bootstrap)
	defer a.Close()
	saramaCreateTopic(a, topic, 2)
	entries, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	must(err, "DescribeConfig")
	names := map[string]bool{}
	var first []string
	for _, e := range entries {
		names[e.Name] = true
		first = append(first, e.Name)
	}
	sort.Strings(first)
	if len(first) > 10 {
		first = first[:10]
	}
	check(names["retention.ms"] && names["cleanup.policy"],
		"DescribeConfig lacks retention.ms/cleanup.policy: %v", first)
	must(a.CreatePartitions(topic, 4, nil, false), "CreatePartitions")
	waitUntil(func() bool { return saramaPartitionCount(a, topic) == 4 }, "4 partitions in metadata", nil)
	must(a.DeleteTopic(topic), "DeleteTopic")
	waitUntil(func() bool {
		ts, err := a.ListTopics()
		_, there := ts[topic]
		return err == nil && !there
	}, "topic gone from metadata", nil)
	return "CreateTopic, DescribeConfig, CreatePartitions 2->4, DeleteTopic (ClusterAdmin)"
}

func (saramaClient) adminGroups(bootstrap string) string {
	topic, group := name("gadmin", saramaName), name("gadmin", saramaName)
	a := saramaAdmin(bootstrap)
	defer a.Close()
	saramaCreateTopic(a, topic, 1)
	m := newSaramaMember(bootstrap, group, topic, nil, nil)
	defer m.close()
	waitUntil(func() bool { return len(m.owned.list()) > 0 }, "the member's assignment", nil)
	groups, err := a.ListConsumerGroups()
	must(err, "ListConsumerGroups")
	_, listed := groups[group]
	check(listed, "ListConsumerGroups lacks %s (%d groups listed)", group, len(groups))
	descs, err := a.DescribeConsumerGroups([]string{group})
	must(err, "DescribeConsumerGroups")
	check(len(descs) == 1, "DescribeConsumerGroups returned %d groups", len(descs))
	d := descs[0]
	check(d.Err == sarama.ErrNoError, "DescribeConsumerGroups %s: %v", group, d.Err)
	check(d.State == "Stable", "group state %s", d.State)
	check(len(d.Members) == 1, "describe shows %d members", len(d.Members))
	var parts []int32
	for _, md := range d.Members {
		as, err := md.GetMemberAssignment()
		must(err, "decoding the member assignment")
		check(as != nil, "member has no assignment")
		parts = as.Topics[topic]
	}
	check(fmt.Sprint(parts) == "[0]", "described assignment %v", parts)
	return "ListConsumerGroups, DescribeConsumerGroups (1 member, Stable, [0]) (ClusterAdmin)"
}

// saramaReadIsolated reads want records of parts from offset 0 with PartitionConsumers (no
// group) at the given isolation level.
func saramaReadIsolated(bootstrap string, parts []topicPartition, want int, level sarama.IsolationLevel) map[topicPartition][]string {
	cfg := saramaConfig()
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.IsolationLevel = level
	c, err := sarama.NewConsumer([]string{bootstrap}, cfg)
	must(err, "NewConsumer")
	defer c.Close()
	got := newTxnReads()
	errs := make(chan string, 16)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, tp := range parts {
		pc, err := c.ConsumePartition(tp.Topic, tp.Partition, 0)
		must(err, "ConsumePartition "+tp.String())
		wg.Add(1)
		go func(pc sarama.PartitionConsumer) {
			defer wg.Done()
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						return
					}
					got.add(m.Topic, m.Partition, m.Value)
				case e, ok := <-pc.Errors():
					if ok {
						select {
						case errs <- fmt.Sprintf("%s[%d]: %v", e.Topic, e.Partition, e.Err):
						default:
						}
					}
				case <-stop:
					return
				}
			}
		}(pc)
	}
	deadline := time.Now().Add(WAIT)
	for got.count() < want && time.Now().Before(deadline) && len(errs) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	select {
	case e := <-errs:
		fail("consume: %s", e)
	default:
	}
	return got.snapshot()
}

func saramaTxnProducer(bootstrap, txid string) sarama.SyncProducer {
	cfg := saramaConfig()
	// What sarama's config validation requires of a transactional producer.
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Transaction.ID = txid
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{bootstrap}, cfg) // runs InitProducerId
	must(err, "NewSyncProducer (transactional)")
	return p
}

func saramaTxnMessages(recs []txnRec) []*sarama.ProducerMessage {
	var out []*sarama.ProducerMessage
	for _, r := range recs {
		out = append(out, &sarama.ProducerMessage{Topic: r.Topic, Partition: r.Partition, Value: sarama.StringEncoder(r.Value)})
	}
	return out
}

// saramaFenced: the errors sarama returns to a fenced transactional producer.
func saramaFenced(err error) bool {
	return errors.Is(err, sarama.ErrProducerFenced) || errors.Is(err, sarama.ErrInvalidProducerEpoch)
}

func (saramaClient) transactions(bootstrap string) string {
	topicA, topicB := name("txa", saramaName), name("txb", saramaName)
	txid, group := name("txid", saramaName), name("txgroup", saramaName)
	a := saramaAdmin(bootstrap)
	defer a.Close()
	saramaCreateTopic(a, topicA, 3)
	saramaCreateTopic(a, topicB, 2)
	plan := txnPlan(topicA, topicB)
	p1 := saramaTxnProducer(bootstrap, txid)
	defer p1.Close()
	for _, t := range plan {
		must(p1.BeginTxn(), "BeginTxn")
		// SendMessages waits for the acks: an abort aborts records that are in the log.
		must(p1.SendMessages(saramaTxnMessages(t.Recs)), "transactional SendMessages")
		if t.Commit {
			must(p1.CommitTxn(), "CommitTxn")
		} else {
			must(p1.AbortTxn(), "AbortTxn")
		}
	}
	parts := txnPartitions(topicA, topicB)
	detail := checkTxnReads(plan, saramaReadIsolated(bootstrap, parts, 15, sarama.ReadCommitted),
		saramaReadIsolated(bootstrap, parts, 22, sarama.ReadUncommitted))

	// Fencing: a second producer with the same transactional id (NewSyncProducer runs its
	// InitProducerId); the first producer's next transaction must fail with PRODUCER_FENCED /
	// INVALID_PRODUCER_EPOCH.
	p2 := saramaTxnProducer(bootstrap, txid)
	defer p2.Close()
	step := "BeginTxn"
	err := p1.BeginTxn()
	if err == nil {
		step = "SendMessage"
		_, _, err = p1.SendMessage(&sarama.ProducerMessage{Topic: topicA, Partition: 0, Value: sarama.StringEncoder("after-fencing")})
		if err == nil {
			step = "CommitTxn"
			err = p1.CommitTxn()
		}
	}
	check(err != nil, "the fenced producer committed a transaction")
	check(saramaFenced(err), "the fenced producer failed with %T: %v, not a fenced error", err, err)
	// sarama 1.61 has ErrProducerFenced (KError 90) but no text for it: its Error() reads
	// "Unknown error, how did this happen? Error code = 90". Name it by its constant.
	errName := err.Error()
	switch {
	case errors.Is(err, sarama.ErrProducerFenced):
		errName = "ErrProducerFenced (KError 90)"
	case errors.Is(err, sarama.ErrInvalidProducerEpoch):
		errName = "ErrInvalidProducerEpoch (KError 47)"
	}
	detail += fmt.Sprintf("; fenced: %s returned %s (TxnStatus %v)", step, errName, p1.TxnStatus())

	// Offsets in a transaction (AddOffsetsToTxn takes a group id): a commit makes them G's
	// committed offset, an abort does not.
	offset := func() int64 {
		resp, err := a.ListConsumerGroupOffsets(group, map[string][]int32{topicA: {0}})
		if err != nil {
			return -2
		}
		b := resp.GetBlock(topicA, 0)
		if b == nil || b.Err != sarama.ErrNoError {
			return -1
		}
		return b.Offset
	}
	out := func(v string) {
		_, _, err := p2.SendMessage(&sarama.ProducerMessage{Topic: topicB, Partition: 0, Value: sarama.StringEncoder(v)})
		must(err, "SendMessage "+v)
	}
	for _, off := range []int64{txnOffsetCommitted, txnOffsetAborted} {
		must(p2.BeginTxn(), "BeginTxn")
		out(fmt.Sprintf("offsets-%d", off))
		must(p2.AddOffsetsToTxn(map[string][]*sarama.PartitionOffsetMetadata{
			topicA: {{Partition: 0, Offset: off}},
		}, group), "AddOffsetsToTxn")
		if off == txnOffsetCommitted {
			must(p2.CommitTxn(), "CommitTxn")
			waitUntil(func() bool { return offset() == off }, fmt.Sprintf("committed offset %d of %s", off, group), nil)
		} else {
			must(p2.AbortTxn(), "AbortTxn")
		}
	}
	// The producer's next transaction starts only once the abort is complete on the broker.
	must(p2.BeginTxn(), "BeginTxn")
	out("offsets-after-abort")
	o := offset()
	check(o == txnOffsetCommitted, "after the aborted transaction the committed offset is %d, expected 4", o)
	must(p2.CommitTxn(), "CommitTxn")
	return detail + "; AddOffsetsToTxn: commit -> 4, abort kept it"
}
