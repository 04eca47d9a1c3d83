// kafkajs 2.x scenarios.
//
// Run: node compat/node/kafkajs.js --bootstrap 127.0.0.1:9092 [--scenario NAME]
// Prints `RESULT <scenario> pass|fail|na <detail>` per scenario (see compat/common.py).
// kafkajs has no group-less consumer: every read goes through a consumer group, so reading
// back needs the group APIs. gzip is built in; snappy and zstd use pure-JS codecs
// (kafkajs-snappy, zstd-codec), lz4 kafkajs-lz4 (the codec kafkajs documents, on the native
// `lz4` package), registered the way kafkajs documents. (The pure-JS lz4js writes frames with
// dependent blocks, which Kafka refuses with UNKNOWN_SERVER_ERROR: found by running this
// scenario against Kafka 4.4.) Client defaults otherwise, except sessionTimeout 10000 /
// heartbeatInterval 1000 on consumers.
'use strict'
const crypto = require('crypto')
const {
  Kafka, CompressionTypes, CompressionCodecs, ConfigResourceTypes, AssignerProtocol, logLevel,
} = require('kafkajs')
const LZ4Codec = require('kafkajs-lz4')
const { ZstdCodec } = require('zstd-codec')

CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec
const zstd = new Promise(resolve => ZstdCodec.run(z => resolve(new z.Simple())))
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  async compress (encoder) { return Buffer.from((await zstd).compress(encoder.buffer, 3)) },
  async decompress (buffer) { return Buffer.from((await zstd).decompress(buffer)) },
})

const CLIENT = 'kafkajs'
const WAIT_MS = 1000 * Number(process.env.COMPAT_WAIT || 40)
const SCENARIOS = ['codecs', 'idempotent', 'group_rebalance', 'commit_resume', 'offset_reset',
  'key_partition', 'admin_topics', 'admin_groups', 'transactions', 'group_protocol']
const CODECS = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }

class Failed extends Error {}
const check = (cond, msg) => { if (!cond) throw new Failed(msg) }
const name = kind => `compat-${kind}-${CLIENT}-${Math.floor(Date.now() / 1000)}-${crypto.randomBytes(3).toString('hex')}`
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
async function waitUntil (cond, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await cond()) return
    await sleep(100)
  }
  throw new Failed(`timed out after ${ms / 1000}s waiting for ${what}`)
}

let kafka
const closers = []
const admin = async () => { const a = kafka.admin(); await a.connect(); closers.push(() => a.disconnect()); return a }
async function createTopic (topic, numPartitions) {
  const a = await admin()
  await a.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true })
  return a
}
async function produce (topic, messages, opts = {}, sendOpts = {}) {
  const p = kafka.producer(opts)
  await p.connect()
  try { return await p.send({ topic, messages, ...sendOpts }) } finally { await p.disconnect() }
}
function consumer (groupId) {
  const c = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 })
  closers.push(() => c.disconnect())
  return c
}
// Subscribe a fresh group from the beginning and collect records until `want` arrived.
async function readAll (topic, want, ms = WAIT_MS) {
  const c = consumer(name('reader'))
  await c.connect()
  await c.subscribe({ topic, fromBeginning: true })
  const got = []
  await c.run({ eachMessage: async ({ partition, message }) => { got.push({ partition, message }) } })
  // kafkajs reads only through a consumer group, so this needs the group APIs.
  await waitUntil(() => got.length >= want, `${want} records via a consumer group (have ${got.length})`, ms)
    .catch(e => { if (ms === WAIT_MS) throw e })
  await c.disconnect()
  return got
}

// Read `want` records of `topics` from the beginning through a fresh group, read_committed
// (kafkajs's default) or with readUncommitted; returns { 'topic[partition]': [value, ...] }.
async function readIsolated (topics, want, readUncommitted) {
  // maxWaitTimeInMs 500 (default 5000): disconnect waits for the fetch in flight.
  const c = kafka.consumer({ groupId: name('reader'), sessionTimeout: 10000, heartbeatInterval: 1000, readUncommitted, maxWaitTimeInMs: 500 })
  closers.push(() => c.disconnect())
  await c.connect()
  await c.subscribe({ topics, fromBeginning: true })
  const got = {}
  let n = 0
  await c.run({
    eachMessage: async ({ topic, partition, message }) => {
      (got[`${topic}[${partition}]`] = got[`${topic}[${partition}]`] || []).push(message.value.toString())
      n++
    },
  })
  await waitUntil(() => n >= want, `${want} records (${readUncommitted ? 'read_uncommitted' : 'read_committed'}) via a consumer group (have ${n})`)
  await c.disconnect()
  return got
}

// The transactions scenario's plan (compat/common.py txn_plan): three transactions over 5
// partitions of two topics, the second aborted.
const TXNS = [['t1', true, 10], ['t2', false, 7], ['t3', true, 5]]
const txnPlan = (a, b) => {
  const parts = [[a, 0], [a, 1], [a, 2], [b, 0], [b, 1]]
  return TXNS.map(([t, commit, n]) => ({
    commit,
    recs: [...Array(n).keys()].map(i => ({ topic: parts[i % 5][0], partition: parts[i % 5][1], value: `${t}-${i}` })),
  }))
}
function checkTxnReads (plan, committed, uncommitted) {
  const want = {}; const every = {}; const aborted = new Set()
  for (const { commit, recs } of plan) {
    for (const { topic, partition, value } of recs) {
      const k = `${topic}[${partition}]`;
      (every[k] = every[k] || []).push(value)
      if (commit) (want[k] = want[k] || []).push(value)
      else aborted.add(value)
    }
  }
  const leaked = Object.values(committed).flat().filter(v => aborted.has(v))
  check(leaked.length === 0, `read_committed consumer saw aborted records ${leaked}`)
  for (const k of Object.keys(want).sort()) {
    check(JSON.stringify(committed[k] || []) === JSON.stringify(want[k]),
      `read_committed ${k}: got ${committed[k] || []}, expected ${want[k]}`)
  }
  const count = o => Object.values(o).reduce((n, vs) => n + vs.length, 0)
  check(count(uncommitted) === count(every), `read_uncommitted consumer read ${count(uncommitted)} records, expected ${count(every)} (committed and aborted)`)
  for (const k of Object.keys(every).sort()) {
    check(JSON.stringify([...(uncommitted[k] || [])].sort()) === JSON.stringify([...every[k]].sort()),
      `read_uncommitted ${k}: got ${uncommitted[k] || []}, expected ${every[k]}`)
  }
  return `3 transactions over 5 partitions of 2 topics: read_committed ${count(want)} (no aborted), read_uncommitted ${count(every)}`
}

// Record i: binary value with all 256 byte values, 3 keys, two headers (one binary).
const record = (codec, i) => ({
  key: Buffer.from(`key-${i % 3}`),
  value: Buffer.concat([Buffer.from(`${codec}-${i}-`), Buffer.from([...Array(256).keys()]),
    Buffer.from([...Array(256).keys()]), Buffer.from('\x00end')]),
  headers: { trace: Buffer.from(`t-${i}`), bin: Buffer.from([0, 1, 254, 255, i % 256]) },
})
const same = (a, b) => Buffer.compare(Buffer.from(a ?? ''), Buffer.from(b ?? '')) === 0

const scenarios = {
  async codecs () {
    for (const [codec, compression] of Object.entries(CODECS)) {
      const topic = name(`codec-${codec}`)
      await createTopic(topic, 3)
      const sent = [...Array(30).keys()].map(i => record(codec, i))
      await produce(topic, sent, {}, { compression })
      const got = await readAll(topic, 30)
      check(got.length === 30, `${codec}: produced 30, read ${got.length}`)
      // Per partition, the records read must be exactly those sent with its keys, in order.
      const partitions = [...new Set(got.map(g => g.partition))]
      for (const p of partitions) {
        const read = got.filter(g => g.partition === p).map(g => g.message)
        const keys = new Set(read.map(m => m.key.toString()))
        const want = sent.filter(m => keys.has(m.key.toString()))
        check(read.length === want.length, `${codec}: partition ${p}: ${read.length} read, ${want.length} sent with its keys`)
        want.forEach((w, j) => {
          const r = read[j]
          check(same(r.key, w.key), `${codec}: partition ${p} record ${j}: key differs`)
          check(same(r.value, w.value), `${codec}: partition ${p} record ${j}: value differs`)
          check(JSON.stringify(Object.keys(r.headers)) === JSON.stringify(Object.keys(w.headers)) &&
            Object.keys(w.headers).every(h => same(r.headers[h], w.headers[h])),
          `${codec}: partition ${p} record ${j}: headers differ`)
        })
      }
    }
    return 'none,gzip,snappy (kafkajs-snappy),lz4 (kafkajs-lz4),zstd (zstd-codec)'
  },

  async idempotent () {
    const topic = name('idem')
    const n = 200
    await produce(topic, [...Array(n).keys()].map(i => ({ value: String(i) })),
      { idempotent: true, maxInFlightRequests: 1 })
    const got = await readAll(topic, n + 1, 5000) // ask for one more: a duplicate would show
    const values = got.map(g => g.message.value.toString())
    check(values.length > 0, `produced ${n} (acked), read back 0 through a consumer group`)
    check(JSON.stringify(values) === JSON.stringify([...Array(n).keys()].map(String)),
      `read ${values.length} records, ${new Set(values).size} distinct, expected ${n} in order`)
    return `${n} records, no duplicates`
  },

  async group_rebalance () {
    const topic = name('grp'); const group = name('grp')
    await createTopic(topic, 3)
    const members = [0, 1, 2, 3].map(() => ({ c: consumer(group), owned: [] }))
    for (const m of members) {
      m.c.on(m.c.events.GROUP_JOIN, e => { m.owned = e.payload.memberAssignment[topic] || [] })
      await m.c.connect()
      await m.c.subscribe({ topic })
      await m.c.run({ eachMessage: async () => {} })
    }
    const balanced = live => {
      const sizes = live.map(m => m.owned.length).sort()
      const union = new Set(live.flatMap(m => m.owned))
      return union.size === 3 && JSON.stringify(sizes) ===
        JSON.stringify([...Array(live.length - 3).fill(0), 1, 1, 1])
    }
    await waitUntil(() => balanced(members), '3 of 4 members owning one partition each')
    const leaver = members.find(m => m.owned.length)
    const gone = leaver.owned
    await leaver.c.disconnect() // LeaveGroup
    const live = members.filter(m => m !== leaver)
    await waitUntil(() => balanced(live), `partition ${gone} moving to the others`)
    return `4 members: 3x1 + idle; member leaving with [${gone}] -> reassigned`
  },

  async commit_resume () {
    const topic = name('commit'); const group = name('commit')
    await produce(topic, [...Array(10).keys()].map(i => ({ value: `v${i}` })))
    const a = consumer(group)
    await a.connect()
    await a.subscribe({ topic, fromBeginning: true })
    const seen = []
    await a.run({ autoCommit: false, eachMessage: async ({ message }) => { seen.push(message) } })
    await waitUntil(() => seen.length >= 10, `first member reading 10 (has ${seen.length})`)
    await a.commitOffsets([{ topic, partition: 0, offset: '5' }]) // v5.. count as unprocessed
    const ad = await admin()
    const [{ partitions }] = await ad.fetchOffsets({ groupId: group, topics: [topic] })
    check(partitions[0].offset === '5', `committed offset reads back as ${partitions[0].offset}`)
    await a.disconnect()
    const b = consumer(group)
    await b.connect()
    await b.subscribe({ topic, fromBeginning: true })
    const got = []
    await b.run({ autoCommit: false, eachMessage: async ({ message }) => { got.push(message.value.toString()) } })
    await waitUntil(() => got.length >= 5, `new member reading 5 (has ${got})`)
    await sleep(500)
    check(got.join() === 'v5,v6,v7,v8,v9', `new member got ${got}, expected v5..v9`)
    return 'committed 5, new member resumed at v5'
  },

  async offset_reset () {
    const topic = name('reset')
    await produce(topic, [0, 1, 2, 3, 4].map(i => ({ value: `a${i}` })))
    const early = await readAll(topic, 5) // fromBeginning: true is auto.offset.reset=earliest
    check(early.map(g => g.message.value.toString()).join() === 'a0,a1,a2,a3,a4', 'earliest read ' + early.length)
    const late = consumer(name('reset'))
    let joined = false
    late.on(late.events.GROUP_JOIN, () => { joined = true })
    await late.connect()
    await late.subscribe({ topic, fromBeginning: false }) // auto.offset.reset=latest
    const got = []
    await late.run({ eachMessage: async ({ message }) => { got.push(message.value.toString()) } })
    await waitUntil(() => joined, 'the latest consumer joining its group')
    await sleep(2000) // let it resolve "latest" before producing
    await produce(topic, [0, 1, 2].map(i => ({ value: `b${i}` })))
    await waitUntil(() => got.length >= 3, `latest consumer reading 3 (has ${got})`)
    check(got.join() === 'b0,b1,b2', `latest read ${got}, expected b0..b2`)
    got.length = 0
    late.seek({ topic, partition: 0, offset: '0' })
    await waitUntil(() => got.length >= 8, `replay after seek(0) (has ${got})`)
    check(got.join() === 'a0,a1,a2,a3,a4,b0,b1,b2', `replay after seek(0) read ${got}`)
    return 'fromBeginning true/false, seek(0) replay'
  },

  async key_partition () {
    const topic = name('keys')
    await createTopic(topic, 6)
    const placement = {}
    for (let round = 0; round < 2; round++) { // two producer instances
      const p = kafka.producer()
      await p.connect()
      for (let i = 0; i < 5; i++) {
        for (let k = 0; k < 12; k++) {
          const [meta] = await p.send({ topic, messages: [{ key: `user-${k}`, value: 'x' }] });
          (placement[k] = placement[k] || new Set()).add(meta.partition)
        }
      }
      await p.disconnect()
    }
    const spread = Object.entries(placement).filter(([, s]) => s.size !== 1)
    check(spread.length === 0, `keys on more than one partition: ${spread.map(([k, s]) => k + ':' + [...s])}`)
    const used = new Set(Object.values(placement).map(s => [...s][0]))
    check(used.size > 1, 'all 12 keys landed on one partition of 6')
    return `12 keys x 10 sends, ${used.size} partitions used, each key on one partition`
  },

  async admin_topics () {
    const topic = name('admin')
    const a = await createTopic(topic, 2)
    const { resources } = await a.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false,
    })
    const names = resources[0].configEntries.map(e => e.configName)
    check(names.includes('retention.ms') && names.includes('cleanup.policy'),
      `describeConfigs lacks retention.ms/cleanup.policy: ${names.slice(0, 10)}`)
    await a.createPartitions({ topicPartitions: [{ topic, count: 4 }] })
    await waitUntil(async () => (await a.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length === 4,
      '4 partitions in metadata')
    await a.deleteTopics({ topics: [topic] })
    await waitUntil(async () => !(await a.listTopics()).includes(topic), 'topic gone from metadata')
    return 'createTopics, describeConfigs, createPartitions 2->4, deleteTopics'
  },

  async admin_groups () {
    const topic = name('gadmin'); const group = name('gadmin')
    const a = await createTopic(topic, 1)
    const c = consumer(group)
    let joined = false
    c.on(c.events.GROUP_JOIN, () => { joined = true })
    await c.connect()
    await c.subscribe({ topic })
    await c.run({ eachMessage: async () => {} })
    await waitUntil(() => joined, "the member's assignment")
    const { groups } = await a.listGroups()
    check(groups.some(g => g.groupId === group), `listGroups lacks ${group}`)
    const [desc] = (await a.describeGroups([group])).groups
    check(desc.state === 'Stable', `group state ${desc.state}`)
    check(desc.members.length === 1, `describe shows ${desc.members.length} members`)
    const assignment = AssignerProtocol.MemberAssignment.decode(desc.members[0].memberAssignment)
    check(JSON.stringify(assignment.assignment[topic]) === '[0]', `described assignment ${JSON.stringify(assignment.assignment)}`)
    return 'listGroups, describeGroups (1 member, Stable, [0])'
  },

  async transactions () {
    const topicA = name('txa'); const topicB = name('txb')
    // Both topics in one CreateTopics, then wait for their metadata here: createTopics'
    // waitForLeaders retries only LEADER_NOT_AVAILABLE and fails on the UNKNOWN_TOPIC_OR_PARTITION
    // a just-created topic can still answer with (seen on Kafka 4.4).
    const a = await admin()
    await a.createTopics({ topics: [{ topic: topicA, numPartitions: 3 }, { topic: topicB, numPartitions: 2 }], waitForLeaders: false })
    await waitUntil(async () => {
      try {
        const { topics } = await a.fetchTopicMetadata({ topics: [topicA, topicB] })
        const led = Object.fromEntries(topics.map(t => [t.name, t.partitions.filter(p => p.leader >= 0).length]))
        return led[topicA] === 3 && led[topicB] === 2
      } catch (e) {
        return false
      }
    }, `topics ${topicA} (3 partitions) and ${topicB} (2) in metadata`)
    const transactionalId = name('txid')
    const plan = txnPlan(topicA, topicB)
    const txnProducer = async () => {
      const p = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 })
      closers.push(() => p.disconnect())
      await p.connect()
      return p
    }
    const send = (txn, recs) => txn.sendBatch({
      topicMessages: recs.map(({ topic, partition, value }) => ({ topic, messages: [{ partition, value }] })),
    })
    // kafkajs runs InitProducerId on the producer's first transaction().
    const p1 = await txnProducer()
    for (const { commit, recs } of plan) {
      const txn = await p1.transaction()
      await send(txn, recs) // acked: an abort aborts records that are in the log
      if (commit) await txn.commit(); else await txn.abort()
    }
    const committed = await readIsolated([topicA, topicB], 15, false)
    const uncommitted = await readIsolated([topicA, topicB], 22, true)
    let detail = checkTxnReads(plan, committed, uncommitted)

    // Fencing: a second producer with the same transactional id (its first transaction() runs
    // InitProducerId); the first one's next transaction must fail with the broker's
    // INVALID_PRODUCER_EPOCH / PRODUCER_FENCED. p2's transaction goes on below, with offsets.
    const p2 = await txnProducer()
    let txn2 = await p2.transaction()
    let fenced = null; let step = 'transaction'
    try {
      const t = await p1.transaction()
      step = 'send'
      await t.send({ topic: topicA, messages: [{ partition: 0, value: 'after-fencing' }] })
      step = 'commit'
      await t.commit()
    } catch (e) {
      fenced = e
    }
    check(fenced !== null, 'the fenced producer committed a transaction')
    const type = fenced.type || (fenced.cause && fenced.cause.type)
    check(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED'].includes(type),
      `the fenced producer failed with ${fenced.name}: ${fenced.message} (type ${type}), not a fenced error`)
    detail += `; fenced: ${step} raised ${fenced.name} ${type}`

    // Offsets in a transaction (sendOffsets takes a consumer group id): a commit makes them
    // G's committed offset, an abort does not.
    const group = name('txgroup')
    const offset = async () => {
      const [{ partitions }] = await a.fetchOffsets({ groupId: group, topics: [topicA] })
      return partitions.find(p => p.partition === 0).offset
    }
    for (const [off, commit] of [[4, true], [6, false]]) {
      if (off !== 4) txn2 = await p2.transaction()
      await txn2.send({ topic: topicB, messages: [{ partition: 0, value: `offsets-${off}` }] })
      await txn2.sendOffsets({ consumerGroupId: group, topics: [{ topic: topicA, partitions: [{ partition: 0, offset: String(off) }] }] })
      if (commit) {
        await txn2.commit()
        await waitUntil(async () => (await offset()) === String(off), `committed offset ${off} of ${group}`)
      } else {
        await txn2.abort()
      }
    }
    // The producer's next transaction starts only once the abort is complete on the broker.
    const txn3 = await p2.transaction()
    await txn3.send({ topic: topicB, messages: [{ partition: 0, value: 'offsets-after-abort' }] })
    const got = await offset()
    check(got === '4', `after the aborted transaction the committed offset is ${got}, expected 4`)
    await txn3.commit()
    return detail + '; sendOffsets: commit -> 4, abort kept it'
  },
}

async function main () {
  const args = process.argv.slice(2)
  const arg = (flag, dflt) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : dflt }
  const bootstrap = arg('--bootstrap')
  const which = arg('--scenario', 'all')
  if (!bootstrap || (which !== 'all' && !SCENARIOS.includes(which))) {
    console.error(`usage: kafkajs.js --bootstrap HOST:PORT [--scenario ${SCENARIOS.join('|')}|all]`)
    process.exit(2)
  }
  kafka = new Kafka({ clientId: 'gregor-compat', brokers: [bootstrap], logLevel: logLevel.WARN })
  let failed = false
  for (const s of which === 'all' ? SCENARIOS : [which]) {
    const t0 = Date.now()
    let result, detail
    try {
      if (!scenarios[s]) {
        // e.g. group_protocol: kafkajs has no KIP-848 consumer protocol.
        console.log(`RESULT ${s} na not implemented for this client (0.0s)`)
        continue
      }
      detail = await scenarios[s]()
      result = 'pass'
    } catch (e) {
      console.error(e)
      result = 'fail'
      detail = e instanceof Failed ? e.message : `${e.name}: ${e.message}`
      failed = true
    }
    for (const close of closers.splice(0)) await close().catch(() => {})
    console.log(`RESULT ${s} ${result} ${String(detail).replace(/\s+/g, ' ')} (${((Date.now() - t0) / 1000).toFixed(1)}s)`)
  }
  process.exit(failed ? 1 : 0)
}
main()
