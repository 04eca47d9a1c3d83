// The web console's real-browser test (run by scripts/console-test).
//
//   node compat/console/console.test.mjs --bootstrap HOST:PORT --console http://HOST:PORT --out DIR
//
// Builds a scene with kafkajs (topic `orders`: 3 partitions, 30 keyed messages with headers;
// group `billing`: 4 consumers on it, one idle, committed then paused while 5 more messages
// arrive, so there is lag; group `audit`: committed and left, so Empty; an open transaction
// on `payments`), then drives the page in Chromium (playwright-core, the system's
// /usr/bin/chromium) and checks what it shows against the scene and the JSON API. Saves a
// full-page screenshot of each page into DIR. Prints `console test: N checks passed` and exits
// 0, or the failing check and exits 1. Hard timeout CONSOLE_TEST_TIMEOUT seconds (120).
import fs from 'node:fs'
import path from 'node:path'
import { chromium } from 'playwright-core'
import kafkajs from 'kafkajs'

const { Kafka, logLevel } = kafkajs

// ---- arguments, checks, timeout --------------------------------------------------------------

const args = {}
for (let i = 2; i < process.argv.length; i++) {
  const m = process.argv[i].match(/^--([a-z]+)(?:=(.*))?$/)
  if (!m) { console.error(`console test: unexpected argument ${process.argv[i]}`); process.exit(2) }
  args[m[1]] = m[2] ?? process.argv[++i]
}
for (const a of ['bootstrap', 'console', 'out']) {
  if (!args[a]) { console.error('usage: console.test.mjs --bootstrap HOST:PORT --console http://HOST:PORT --out DIR'); process.exit(2) }
}
const CONSOLE = args.console.replace(/\/+$/, '')
const OUT = args.out
fs.mkdirSync(OUT, { recursive: true })

const TIMEOUT_S = Number(process.env.CONSOLE_TEST_TIMEOUT || 120)
let step = 'start'
let passed = 0
class Failed extends Error {}
function check (name, cond, detail) {
  if (!cond) throw new Failed(`${name}${detail !== undefined ? `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`)
  passed++
  console.log(`  ok ${String(passed).padStart(2)}  ${name}`)
}
const hardTimeout = setTimeout(() => {
  console.error(`console test: FAILED: hard timeout after ${TIMEOUT_S} s (during: ${step})`)
  process.exit(1)
}, TIMEOUT_S * 1000)

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
async function waitFor (what, fn, ms = 30000) {
  const deadline = Date.now() + ms
  let last
  for (;;) {
    try { last = await fn(); if (last) return last } catch (e) { last = e }
    if (Date.now() > deadline) throw new Failed(`timed out waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`)
    await sleep(250)
  }
}
async function getJSON (p, init) {
  const res = await fetch(CONSOLE + p, init)
  const body = await res.json()
  if (!res.ok) throw new Error(`${p}: ${res.status} ${JSON.stringify(body)}`)
  return body
}
const sameSet = (a, b) => a.length === b.length && [...a].sort().join('|') === [...b].sort().join('|')

// ---- the scene -----------------------------------------------------------------------------

const kafka = new Kafka({ clientId: 'console-test', brokers: [args.bootstrap], logLevel: logLevel.NOTHING })
const admin = kafka.admin()
const producer = kafka.producer()
const consumers = []
let txnProducer = null
let transaction = null
let browser = null
let faultId = null

const TOPIC = 'orders'
const SPECIAL = 'tr-7f3a9c' // the trace-id of every fifth message: what the header search looks for
const T0 = Date.now() - 3600 * 1000 // the 30 messages' timestamps: T0 + i seconds
const first30 = [...Array(30).keys()].map(i => ({
  partition: i % 3, // message i is at offset floor(i / 3)
  key: `order-${i}`,
  value: JSON.stringify({ order: i, amount: ((i * 7) % 50) + 0.5, currency: 'EUR' }),
  headers: { 'trace-id': i % 5 === 0 ? SPECIAL : `tr-${1000 + i}`, source: 'kafkajs' },
  timestamp: String(T0 + i * 1000),
}))
const specials = first30.map((m, i) => [m, i]).filter(([m]) => m.headers['trace-id'] === SPECIAL)
  .map(([m, i]) => `${m.partition}/${Math.floor(i / 3)}`)

// Each member its own client id, so the picture tells them apart.
function groupConsumer (groupId, clientId) {
  const c = new Kafka({ clientId, brokers: [args.bootstrap], logLevel: logLevel.NOTHING })
    .consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 500 })
  consumers.push(c)
  return c
}
const committed = g => getJSON(`/api/groups/${g}`).then(x => x.partitions.filter(p => p.topic === TOPIC))

async function buildScene () {
  step = 'scene: topics'
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: 3 }, { topic: 'payments', numPartitions: 1 }] })
  await producer.connect()
  await producer.send({ topic: TOPIC, acks: -1, messages: first30 })

  step = 'scene: group audit (commits, leaves)'
  const audit = groupConsumer('audit', 'audit-job')
  await audit.connect()
  await audit.subscribe({ topic: TOPIC, fromBeginning: true })
  await audit.run({ eachMessage: async () => {} })
  await waitFor('audit to commit 10 per partition', async () => {
    const ps = await committed('audit')
    return ps.length === 3 && ps.every(p => p.committed === 10)
  })
  await audit.disconnect()
  consumers.splice(consumers.indexOf(audit), 1)
  await waitFor('audit to be Empty', async () => (await getJSON('/api/groups/audit')).state === 'Empty')

  step = 'scene: group billing (4 members, 3 partitions)'
  const billing = [1, 2, 3, 4].map(n => groupConsumer('billing', `billing-worker-${n}`))
  // Commits by hand and only the first 30 records (offsets below 10), so the 5 produced later
  // stay uncommitted however the fetches in flight come back: the lag is 8 whatever the timing.
  await Promise.all(billing.map(async c => {
    await c.connect()
    await c.subscribe({ topic: TOPIC, fromBeginning: true })
    await c.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const next = Number(message.offset) + 1
        if (next <= 10) await c.commitOffsets([{ topic, partition, offset: String(next) }])
      },
    })
  }))
  await waitFor('billing: Stable, 4 members, every partition owned and committed at 10', async () => {
    const g = await getJSON('/api/groups/billing')
    const ps = g.partitions.filter(p => p.topic === TOPIC)
    return g.state === 'Stable' && g.members.length === 4 && ps.length === 3 &&
      ps.every(p => p.owner != null && p.committed === 10)
  }, 45000)
  for (const c of billing) c.pause([{ topic: TOPIC }])
  step = 'scene: 5 more messages (lag)'
  const late = [0, 0, 1, 1, 2].map((partition, j) => ({
    partition, key: `late-${j}`, value: `late message ${j}`, headers: { 'trace-id': `tr-late-${j}` }, timestamp: String(Date.now() + j),
  }))
  await producer.send({ topic: TOPIC, acks: -1, messages: late })
}

// ---- the browser ---------------------------------------------------------------------------

async function main () {
  await buildScene()

  step = 'browser: launch'
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-dev-shm-usage',
      '--disable-gpu', '--disable-sync', '--no-first-run'],
  })
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: 'light' })
  const page = await context.newPage()
  page.setDefaultTimeout(15000)
  const requests = []
  const pageErrors = []
  page.on('request', r => requests.push(r.url()))
  page.on('pageerror', e => pageErrors.push(e.message))
  page.on('dialog', d => d.accept())
  const tid = id => page.getByTestId(id)
  const shot = name => page.screenshot({ path: path.join(OUT, name), fullPage: true })
  const text = loc => loc.textContent().then(s => s.trim())
  async function go (hash) {
    await page.evaluate(h => { location.hash = h }, hash)
    await page.locator(`#view[data-ready="true"][data-route="${hash}"]`).waitFor()
  }
  // Submit the message browser's form and wait for its answer to be rendered.
  async function loadMessages () {
    const before = Number(await tid('messages-status').getAttribute('data-seq') || 0)
    await tid('messages-load').click()
    await page.locator(`[data-testid=messages-status][data-seq="${before + 1}"]`).waitFor()
    return tid('message-row')
  }
  const rowKeys = async () => page.locator('[data-testid=message-row] [data-testid=message-key]').allTextContents()
  const rowPositions = async () => page.locator('[data-testid=message-row]')
    .evaluateAll(rows => rows.map(r => `${r.dataset.partition}/${r.dataset.offset}`))

  // Topics.
  step = 'page: topics'
  await page.goto(`${CONSOLE}/`)
  await page.locator('#view[data-ready="true"][data-route="#/topics"]').waitFor()
  check('the page is served at / and routes to #/topics', (await page.title()).includes('Gregor'), await page.title())
  const apiTopics = (await getJSON('/api/topics')).topics
  const apiOrders = apiTopics.find(t => t.name === TOPIC)
  check('API: orders has 3 partitions and 35 messages', apiOrders && apiOrders.partitions === 3 && apiOrders.messages === 35, apiOrders)
  const ordersRow = page.locator(`[data-testid=topic-row][data-topic="${TOPIC}"]`)
  check('topics table lists orders with 3 partitions',
    await text(ordersRow.getByTestId('topic-partitions')) === '3', await text(ordersRow))
  check('topics table shows orders\' message count (35)',
    await text(ordersRow.getByTestId('topic-messages')) === '35', await text(ordersRow))
  check('topics table shows size on disk and cleanup policy',
    apiOrders.size_bytes > 0 && !/^(—|0 B)$/.test(await text(ordersRow.getByTestId('topic-size'))) &&
    await text(ordersRow.getByTestId('topic-cleanup')) === 'delete', await text(ordersRow))
  check('topics table has one row per topic of the API (internal ones hidden)',
    sameSet(await page.locator('[data-testid=topic-row]').evaluateAll(r => r.map(x => x.dataset.topic)), apiTopics.map(t => t.name)))
  await shot('topics.png')

  // One topic: partitions, configs, messages.
  step = 'page: topic orders'
  await ordersRow.getByTestId('topic-link').click()
  await page.locator(`#view[data-ready="true"][data-route="#/topics/${TOPIC}"]`).waitFor()
  await page.locator('[data-testid=messages-status][data-seq="1"]').waitFor()
  check('partitions table has 3 partitions', await tid('topic-partitions-table').locator('[data-testid=partition-row]').count() === 3)
  check('message browser: newest first, all 35 messages', (await tid('message-row').count()) === 35 &&
    (await rowKeys())[0] === 'late-4', (await rowKeys()).slice(0, 3))
  const m7 = page.locator('[data-testid=message-row][data-partition="1"][data-offset="2"]')
  check('message 1/2 shows its key', await text(m7.getByTestId('message-key')) === 'order-7', await text(m7))
  check('message 1/2 shows its value', (await text(m7.getByTestId('message-value'))).includes('"order":7'), await text(m7))
  const m7headers = await text(m7.getByTestId('message-headers'))
  check('message 1/2 shows its trace-id header', m7headers.includes('trace-id') && m7headers.includes('tr-1007') && m7headers.includes('source'), m7headers)
  await shot('messages.png')
  const cleanupCfg = page.locator('[data-testid=topic-configs-table] [data-config="cleanup.policy"]')
  await page.locator('[data-testid=topic-configs] summary').click()
  check('configs table shows cleanup.policy', (await cleanupCfg.count()) === 1 && await cleanupCfg.isVisible() &&
    (await text(cleanupCfg)).includes('delete'))
  await tid('messages-encoding').selectOption('hex')
  check('as hex', await text(m7.getByTestId('message-key')) === '6f 72 64 65 72 2d 37', await text(m7.getByTestId('message-key')))
  await tid('messages-encoding').selectOption('base64')
  check('as base64', await text(m7.getByTestId('message-key')) === Buffer.from('order-7').toString('base64'))
  await tid('messages-encoding').selectOption('text')

  step = 'page: search'
  await tid('messages-search').fill(SPECIAL)
  await loadMessages()
  check(`search for header value ${SPECIAL} finds exactly the 6 messages with it`, sameSet(await rowPositions(), specials),
    { shown: await rowPositions(), expected: specials })
  const apiSearch = await getJSON(`/api/topics/${TOPIC}/messages?q=${SPECIAL}`)
  check('API search agrees', sameSet(apiSearch.messages.map(m => `${m.partition}/${m.offset}`), specials))
  await tid('messages-search').fill('order-2')
  await loadMessages()
  const order2 = first30.map((m, i) => [m, i]).filter(([m]) => m.key.startsWith('order-2')).map(([m, i]) => `${m.partition}/${Math.floor(i / 3)}`)
  check('search in keys: order-2 finds order-2 and order-20..29', sameSet(await rowPositions(), order2), await rowKeys())
  await tid('messages-search').fill('"amount":0.5')
  await loadMessages()
  check('search in values finds the one message with that amount', (await rowPositions()).join() === '0/0', await rowPositions())
  await tid('messages-search').fill('')

  step = 'page: from offset, from timestamp'
  await tid('messages-partition').selectOption('2')
  await tid('messages-from').selectOption('offset')
  await tid('messages-offset').fill('3')
  await tid('messages-limit').fill('4')
  await loadMessages()
  check('partition 2 from offset 3: offsets 3..6 ascending', (await rowPositions()).join(' ') === '2/3 2/4 2/5 2/6' &&
    (await rowKeys()).join(' ') === 'order-11 order-14 order-17 order-20', await rowPositions())
  await tid('messages-partition').selectOption('0')
  await tid('messages-from').selectOption('timestamp')
  await tid('messages-timestamp').fill(String(T0 + 15000))
  await loadMessages()
  check('partition 0 from a timestamp starts at the message written then', (await rowPositions())[0] === '0/5' &&
    (await rowKeys())[0] === 'order-15', await rowPositions())

  step = 'page: produce'
  await tid('messages-partition').selectOption('')
  await tid('messages-from').selectOption('newest')
  await tid('messages-limit').fill('50')
  await loadMessages()
  await tid('produce-partition').selectOption('1')
  await tid('produce-key').fill('form-key')
  await tid('produce-value').fill('hello from the console')
  await tid('produce-headers').fill('trace-id=form-1\nsource=console')
  let seq = Number(await tid('messages-status').getAttribute('data-seq'))
  await tid('produce-submit').click()
  await page.locator('[data-testid=produce-result][data-offset]').waitFor()
  await page.locator(`[data-testid=messages-status][data-seq="${seq + 1}"]`).waitFor()
  const produced = { partition: await tid('produce-result').getAttribute('data-partition'), offset: await tid('produce-result').getAttribute('data-offset') }
  check('produce-result tells partition 1, offset 12', produced.partition === '1' && produced.offset === '12' &&
    (await text(tid('produce-result'))).includes('offset 12'), produced)
  const top = tid('message-row').first()
  check('the produced message is shown first', `${await top.getAttribute('data-partition')}/${await top.getAttribute('data-offset')}` === '1/12' &&
    await text(top.getByTestId('message-key')) === 'form-key' && await text(top.getByTestId('message-value')) === 'hello from the console' &&
    (await text(top.getByTestId('message-headers'))).includes('form-1'), await text(top))
  const hw = await admin.fetchTopicOffsets(TOPIC)
  check('kafkajs sees it: partition 1 ends at 13', hw.find(p => p.partition === 1).high === '13', hw)

  // Broker data reaches the page as text only.
  const nasty = '<img src=x onerror="window.__xss=1">'
  await tid('produce-key').fill('<b>bold</b>')
  await tid('produce-value').fill(nasty)
  await tid('produce-headers').fill('')
  seq = Number(await tid('messages-status').getAttribute('data-seq'))
  await tid('produce-submit').click()
  await page.locator(`[data-testid=messages-status][data-seq="${seq + 1}"]`).waitFor()
  check('markup in a message is shown as text, never run', await text(tid('message-row').first().getByTestId('message-value')) === nasty &&
    await tid('messages-table').locator('img, b').count() === 0 && await page.evaluate(() => window.__xss === undefined))

  step = 'page: live tail'
  await tid('messages-tail').check()
  await page.locator('[data-testid=messages-table][data-tailing="on"]').waitFor()
  const [tailMeta] = await producer.send({ topic: TOPIC, acks: -1, messages: [{ partition: 0, key: 'tail-key', value: 'tail-value', headers: { 'trace-id': 'tail-1' } }] })
  const tailRow = page.locator(`[data-testid=message-row][data-partition="0"][data-offset="${tailMeta.baseOffset}"]`)
  await tailRow.waitFor({ timeout: 10000 }).catch(() => {})
  check('live tail shows a message kafkajs produced after it was switched on', (await tailRow.count()) === 1 &&
    await text(tailRow.getByTestId('message-key')) === 'tail-key' && (await text(tailRow.getByTestId('message-headers'))).includes('tail-1'),
  await rowPositions())
  await tid('messages-tail').uncheck()

  // Groups.
  step = 'page: groups'
  const total = Number((await getJSON(`/api/topics/${TOPIC}`)).messages)
  check('API: orders now has 38 messages', total === 38, total)
  await tid('nav-groups').click()
  await page.locator('#view[data-ready="true"][data-route="#/groups"]').waitFor()
  const apiGroups = (await getJSON('/api/groups')).groups
  for (const [g, state, members] of [['billing', 'Stable', 4], ['audit', 'Empty', 0]]) {
    const row = page.locator(`[data-testid=group-row][data-group="${g}"]`)
    const api = apiGroups.find(x => x.group_id === g)
    check(`API: ${g} is ${state} with ${members} members and lag 8`, api && api.state === state && api.members === members && api.lag === 8, api)
    check(`groups table: ${g} ${state}, ${members} members, lag 8, protocol classic`,
      await text(row.getByTestId('group-state')) === state && await text(row.getByTestId('group-members')) === String(members) &&
      await text(row.getByTestId('group-lag')) === '8' && (await text(row.getByTestId('group-protocol'))).startsWith('classic'), await text(row))
  }

  step = 'page: group billing'
  await page.locator('[data-testid=group-row][data-group="billing"] a').click()
  await page.locator('#view[data-ready="true"][data-route="#/groups/billing"]').waitFor()
  const billing = await getJSON('/api/groups/billing')
  const picture = tid('group-picture')
  const members = picture.getByTestId('member-row')
  check('group picture: 4 member rows, one per member of the API', (await members.count()) === 4 &&
    sameSet(await members.evaluateAll(r => r.map(x => x.dataset.member)), billing.members.map(m => m.member_id)))
  const idle = picture.locator('[data-testid=member-row][data-idle="true"]')
  check('exactly one member is idle, labelled so', (await idle.count()) === 1 &&
    await text(idle.getByTestId('idle-label')) === 'idle: more members than partitions' && (await idle.getByTestId('partition-chip').count()) === 0)
  const chips = await picture.getByTestId('partition-chip').evaluateAll(cs => cs.map(c => ({ ...c.dataset, member: c.closest('[data-member]').dataset.member })))
  check('3 chips: orders 0, 1, 2, each owned by a different busy member', chips.length === 3 &&
    sameSet(chips.map(c => `${c.topic}/${c.partition}`), ['orders/0', 'orders/1', 'orders/2']) &&
    chips.every(c => c.state === 'owned') && new Set(chips.map(c => c.member)).size === 3, chips)
  const apiLag = Object.fromEntries(billing.partitions.map(p => [p.partition, p]))
  check('API: billing committed 10 everywhere, lag = end - 10', billing.partitions.every(p => p.committed === 10 && p.lag === p.end_offset - 10) &&
    billing.partitions.reduce((s, p) => s + p.lag, 0) === 8, billing.partitions)
  check('each chip\'s lag is the API\'s', chips.every(c => c.lag === String(apiLag[c.partition].lag)), { chips, api: billing.partitions })
  check('each chip sits on the member that owns it (API)', chips.every(c => apiLag[c.partition].owner === c.member))
  check('no unowned row', (await picture.getByTestId('unowned-row').count()) === 0)
  const offsetRows = tid('group-offsets-table').getByTestId('group-offset-row')
  check('offsets table: 3 partitions committed at 10', (await offsetRows.count()) === 3 &&
    (await offsetRows.evaluateAll(r => r.map(x => x.dataset.committed))).every(c => c === '10'))
  await shot('group.png')

  // No client here speaks KIP-848 (kafkajs is classic only): the picture's consumer-protocol
  // states are checked by rendering a reconciling group as /api/groups/{g} describes one.
  const kip848 = await page.evaluate(() => {
    const tp = (partition) => ({ topic: 't', partition })
    const member = (id, epoch, assignment, target) => ({ member_id: id, client_id: id, host: '/127.0.0.1', instance_id: null, member_epoch: epoch, assignment, target })
    const el = groupPicture({
      group_id: 'kip848', protocol: 'consumer', protocol_type: 'consumer', state: 'Reconciling', assignor: 'uniform', epoch: 5,
      members: [member('m1', 5, [tp(0), tp(1)], [tp(0)]), member('m2', 4, [], [tp(1)]), member('m3', 5, [], [])],
      partitions: [
        { ...tp(0), owner: 'm1', target_owner: 'm1', committed: 1, end_offset: 3, lag: 2 },
        { ...tp(1), owner: 'm1', target_owner: 'm2', committed: null, end_offset: 3, lag: null },
        { ...tp(2), owner: null, target_owner: null, committed: 0, end_offset: 0, lag: 0 }],
    })
    document.getElementById('view').prepend(el)
    const chips = [...el.querySelectorAll('[data-testid=partition-chip]')].map(c => ({
      at: c.closest('[data-member]') ? c.closest('[data-member]').dataset.member : 'unowned',
      tp: `${c.dataset.topic}/${c.dataset.partition}`, state: c.dataset.state, lag: c.dataset.lag,
      strike: getComputedStyle(c.querySelector('.tp')).textDecorationLine, hatch: getComputedStyle(c).backgroundImage,
    }))
    const idle = [...el.querySelectorAll('[data-idle="true"]')].map(m => `${m.dataset.member}: ${m.querySelector('[data-testid=idle-label]').textContent}`)
    el.remove()
    return { chips, idle }
  })
  const chipAt = (at, tp) => kip848.chips.find(c => c.at === at && c.tp === tp)
  check('KIP-848 picture: owned, revoking (struck through) and pending (hatched) chips, the idle member, the unowned partition',
    kip848.chips.length === 4 && chipAt('m1', 't/0').state === 'owned' && chipAt('m1', 't/0').lag === '2' &&
    chipAt('m1', 't/1').state === 'revoking' && chipAt('m1', 't/1').strike.includes('line-through') &&
    chipAt('m2', 't/1').state === 'pending' && chipAt('m2', 't/1').hatch.includes('repeating-linear-gradient') &&
    chipAt('m1', 't/0').strike === 'none' && chipAt('m1', 't/0').hatch === 'none' &&
    chipAt('unowned', 't/2') && kip848.idle.join() === 'm3: idle: no partitions assigned', kip848)
  const lightBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
  await page.emulateMedia({ colorScheme: 'dark' })
  const darkBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
  check('dark theme follows prefers-color-scheme', lightBg !== darkBg, { lightBg, darkBg })
  await shot('group-dark.png')
  await page.emulateMedia({ colorScheme: 'light' })

  step = 'page: reset billing (not Empty)'
  await tid('reset-topic').selectOption(TOPIC)
  await tid('reset-to').selectOption('earliest')
  await tid('reset-submit').click()
  await tid('error-banner').waitFor()
  check('reset on a Stable group shows the API\'s error (409)', (await text(tid('error-banner'))).includes('409'), await text(tid('error-banner')))
  check('...and changes nothing', (await committed('billing')).every(p => p.committed === 10))

  step = 'page: group audit'
  await go('#/groups/audit')
  check('error banner cleared on navigation', await tid('error-banner').isHidden())
  check('audit: Empty, no member rows, its 3 partitions in the unowned row', (await tid('member-row').count()) === 0 &&
    (await tid('unowned-row').getByTestId('partition-chip').count()) === 3)
  await tid('reset-topic').selectOption(TOPIC)
  await tid('reset-to').selectOption('earliest')
  await tid('reset-submit').click()
  await page.locator('[data-testid=reset-result]:not(:empty)').waitFor()
  await page.locator('[data-testid=group-offset-row][data-committed="0"]').nth(2).waitFor()
  check('reset audit to earliest: result and offsets table show 0', (await text(tid('reset-result'))).includes('orders-0 → 0') &&
    (await tid('group-offset-row').evaluateAll(r => r.map(x => x.dataset.committed))).join(',') === '0,0,0')
  const auditOffsets = await admin.fetchOffsets({ groupId: 'audit', topics: [TOPIC] })
  check('kafkajs sees audit at 0', auditOffsets[0].partitions.every(p => p.offset === '0'), auditOffsets)
  await tid('reset-partitions').fill('1')
  await tid('reset-to').selectOption('offset')
  await tid('reset-value').fill('4')
  await tid('reset-submit').click()
  await page.locator('[data-testid=group-offset-row][data-partition="1"][data-committed="4"]').waitFor()
  check('reset partition 1 to offset 4 leaves the others', (await tid('group-offset-row').evaluateAll(r => r.map(x => x.dataset.committed))).join(',') === '0,4,0')

  // Topic create and delete.
  step = 'page: create and delete a topic'
  await go('#/topics')
  await tid('topic-create-name').fill('console-made')
  await tid('topic-create-partitions').fill('2')
  await tid('topic-create-cleanup').selectOption('compact')
  await tid('topic-create-submit').click()
  const made = page.locator('[data-testid=topic-row][data-topic="console-made"]')
  await made.waitFor()
  check('created topic is listed with 2 partitions, compact', await text(made.getByTestId('topic-partitions')) === '2' &&
    await text(made.getByTestId('topic-cleanup')) === 'compact', await text(made))
  const meta = await admin.fetchTopicMetadata({ topics: ['console-made'] })
  check('kafkajs sees the created topic with 2 partitions', meta.topics[0].partitions.length === 2)
  await tid('topic-create-name').fill(TOPIC)
  await tid('topic-create-partitions').fill('')
  await tid('topic-create-cleanup').selectOption('')
  await tid('topic-create-submit').click()
  await tid('error-banner').waitFor()
  check('creating an existing topic shows the 409', (await text(tid('error-banner'))).includes('409'))
  await made.getByTestId('topic-delete').click()
  await made.waitFor({ state: 'detached' })
  check('deleted topic is gone from the table', (await made.count()) === 0)
  await waitFor('kafkajs to stop listing console-made', async () => !(await admin.listTopics()).includes('console-made'), 10000)
  check('kafkajs no longer lists it', true)

  // Transactions and producers.
  step = 'page: transactions'
  txnProducer = kafka.producer({ transactionalId: 'console-txn', idempotent: true, maxInFlightRequests: 1 })
  await txnProducer.connect()
  transaction = await txnProducer.transaction()
  await transaction.send({ topic: 'payments', messages: [{ key: 'p-1', value: 'payment pending' }] })
  const txns = (await getJSON('/api/transactions')).transactions
  const apiTxn = txns.find(t => t.transactional_id === 'console-txn')
  check('API: console-txn is open on payments-0', apiTxn && apiTxn.partitions.some(p => p.topic === 'payments' && p.partition === 0), txns)
  await go('#/transactions')
  const txnRow = page.locator('[data-testid=transaction-row][data-txn="console-txn"]')
  check('transactions table shows console-txn, its state and payments-0', (await txnRow.count()) === 1 &&
    (await text(txnRow)).includes(apiTxn.state) && (await text(txnRow)).includes('payments-0') &&
    (await text(txnRow)).includes(String(apiTxn.producer_id)), await text(txnRow))
  check('producers table shows its producer id', (await page.locator(`[data-testid=producer-row][data-producer="${apiTxn.producer_id}"]`).count()) >= 1)
  await shot('transactions.png')
  await transaction.abort()
  transaction = null

  // Brokers, fault rules, request log.
  step = 'page: brokers'
  const rule = await getJSON('/admin/faults', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api: 'produce', topic: 'no-such-topic', action: 'delay', delay_ms: 1, times: 3 }),
  })
  faultId = rule.id
  await go('#/brokers')
  const cluster = await getJSON('/admin/cluster')
  const brokerIds = await tid('broker-row').evaluateAll(r => r.map(x => x.dataset.broker))
  check('brokers table lists the brokers of /admin/cluster', cluster.brokers.length >= 1 && sameSet(brokerIds, cluster.brokers.map(b => String(b.id))), { brokerIds, cluster })
  check('faults table lists the rule', (await page.locator(`[data-testid=fault-row][data-fault="${faultId}"]`).count()) === 1)
  check('request log is shown', (await tid('request-row').count()) > 0)
  await shot('brokers.png')

  step = 'page: hygiene'
  const foreign = requests.filter(u => !u.startsWith(CONSOLE + '/') && !u.startsWith('data:'))
  check('nothing is loaded from anywhere but the console', foreign.length === 0, foreign)
  check('no script errors on the page', pageErrors.length === 0, pageErrors)
}

// ---- run -----------------------------------------------------------------------------------

let status = 0
try {
  await main()
  console.log(`console test: ${passed} checks passed`)
} catch (e) {
  status = 1
  console.log(`console test: FAILED after ${passed} checks passed, during ${step}: ${e instanceof Failed ? e.message : e.stack || e}`)
} finally {
  step = 'cleanup'
  if (faultId != null) await fetch(`${CONSOLE}/admin/faults/${faultId}`, { method: 'DELETE' }).catch(() => {})
  if (transaction) await transaction.abort().catch(() => {})
  if (browser) await browser.close().catch(() => {})
  await Promise.all([...consumers, producer, admin, txnProducer].filter(Boolean).map(c => c.disconnect().catch(() => {})))
  clearTimeout(hardTimeout)
}
process.exit(status)
