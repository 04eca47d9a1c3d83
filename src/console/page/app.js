// Gregor's web console: one static page over the JSON API (src/console/API.md), no framework,
// nothing from the network. Hash routes: #/topics, #/topics/NAME, #/groups, #/groups/ID,
// #/transactions, #/brokers. Broker data only ever reaches the DOM as text (h() appends text
// nodes; attributes are set with setAttribute/dataset), never as HTML.
'use strict'

const view = document.getElementById('view')
const banner = document.querySelector('[data-testid=error-banner]')
let generation = 0 // bumped on every navigation: stale renders and the live tail stop

// ---- DOM and API helpers ----------------------------------------------------------------

// h('td', {testid, class, data: {...}, onclick, ...attributes}, ...children): children that
// are not nodes become text nodes; null/false children and attributes are left out.
function h (tag, attrs, ...kids) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue
    if (k === 'testid') el.dataset.testid = v
    else if (k === 'class') el.className = v
    else if (k === 'data') for (const [d, dv] of Object.entries(v)) { if (dv != null) el.dataset[d] = String(dv) }
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid))
  }
  return el
}
const enc = encodeURIComponent
const dash = v => (v == null ? '—' : v)

async function api (path, method = 'GET', body) {
  const init = { method, headers: {} }
  if (body !== undefined) {
    init.body = JSON.stringify(body)
    init.headers['content-type'] = 'application/json'
  }
  const res = await fetch(path, init)
  const text = await res.text()
  let data = null
  try { data = text ? JSON.parse(text) : null } catch { data = null }
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${(data && data.error) || text || res.statusText}`)
  return data
}

function showError (e) {
  banner.querySelector('[data-testid=error-text]').textContent = e instanceof Error ? e.message : String(e)
  banner.hidden = false
}
function clearError () { banner.hidden = true }
banner.querySelector('[data-testid=error-close]').addEventListener('click', clearError)

// Run an event handler's async work, reporting a failure in the banner.
const guarded = fn => async ev => {
  if (ev && ev.preventDefault) ev.preventDefault()
  clearError()
  try { await fn(ev) } catch (e) { showError(e) }
}

function fmtBytes (n) {
  if (n == null) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}
const fmtTime = ms => (ms == null || ms < 0 ? '—' : new Date(ms).toISOString().replace('T', ' ').replace('Z', ''))

function table (testid, headers, rows, empty = 'none') {
  return h('table', { testid },
    h('thead', {}, h('tr', {}, headers.map(x => h('th', {}, x)))),
    h('tbody', {}, rows.length ? rows : h('tr', { class: 'empty' }, h('td', { colspan: headers.length }, empty))))
}
const section = (title, ...kids) => h('section', {}, h('h2', {}, title), kids)
const field = (label, input) => h('label', { class: 'field' }, h('span', {}, label), input)
const select = (testid, options, value) =>
  h('select', { testid }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)))
const badge = (text, cls = '') => h('span', { class: `badge ${cls}` }, text)

// ---- bytes fields: {size, text|null, base64, truncated} or null ------------------------

function hexOf (b64) {
  const raw = atob(b64)
  let out = ''
  for (let i = 0; i < raw.length; i++) out += (i ? ' ' : '') + raw.charCodeAt(i).toString(16).padStart(2, '0')
  return out
}
function bytesNode (b, encoding) {
  if (b == null) return h('span', { class: 'null' }, 'null')
  let shown, note
  if (encoding === 'base64') shown = b.base64
  else if (encoding === 'text' && b.text != null) shown = b.text
  else { shown = hexOf(b.base64); if (encoding === 'text') note = 'binary, as hex' }
  return h('span', { class: 'bytes' }, shown,
    note && badge(note), b.truncated && badge(`truncated, ${b.size} B`))
}

// ---- router -------------------------------------------------------------------------------

async function route () {
  const g = ++generation
  clearError()
  const [page, ...rest] = location.hash.replace(/^#\/?/, '').split('/')
  const id = rest.length ? decodeURIComponent(rest.join('/')) : null
  const views = {
    topics: id == null ? topicsView : topicView,
    groups: id == null ? groupsView : groupView,
    transactions: transactionsView,
    brokers: brokersView,
  }
  if (!views[page]) { location.hash = '#/topics'; return }
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === page)
  document.title = `${id ?? page} · Gregor console`
  view.dataset.page = page
  view.dataset.route = location.hash
  view.dataset.ready = 'false'
  try {
    const node = await views[page](id, g)
    if (g !== generation) return
    view.replaceChildren(node)
    view.dataset.ready = 'true'
  } catch (e) {
    if (g !== generation) return
    view.replaceChildren(h('p', { class: 'muted' }, 'Could not load this page.'))
    showError(e)
  }
}

// ---- topics -------------------------------------------------------------------------------

let showInternal = false

async function deleteTopic (name) {
  if (!confirm(`Delete topic ${name}? Its messages are gone for good.`)) return false
  await api(`/api/topics/${enc(name)}`, 'DELETE')
  return true
}

async function topicsView () {
  const { topics } = await api('/api/topics' + (showInternal ? '?internal=true' : ''))
  const rows = topics.map(t => h('tr', { testid: 'topic-row', data: { topic: t.name } },
    h('td', {}, h('a', { href: `#/topics/${enc(t.name)}`, testid: 'topic-link' }, t.name), t.internal && badge('internal')),
    h('td', { class: 'num', testid: 'topic-partitions' }, t.partitions),
    h('td', { class: 'num', testid: 'topic-replication' }, t.replication_factor),
    h('td', { class: 'num', testid: 'topic-messages' }, t.messages),
    h('td', { class: 'num', testid: 'topic-size', title: `${t.size_bytes} bytes` }, fmtBytes(t.size_bytes)),
    h('td', { testid: 'topic-cleanup' }, t.cleanup_policy),
    h('td', {}, h('button', {
      type: 'button', class: 'danger small', testid: 'topic-delete', data: { topic: t.name },
      onclick: guarded(async () => { if (await deleteTopic(t.name)) await route() }),
    }, 'Delete'))))

  const name = h('input', { testid: 'topic-create-name', required: true, placeholder: 'name' })
  const partitions = h('input', { testid: 'topic-create-partitions', type: 'number', min: 1, placeholder: 'default' })
  const cleanup = select('topic-create-cleanup', [['', 'default'], ['delete', 'delete'], ['compact', 'compact'], ['compact,delete', 'compact,delete']], '')
  const configs = h('input', { testid: 'topic-create-configs', placeholder: 'retention.ms=86400000, …' })
  const form = h('form', {
    testid: 'topic-create-form', class: 'inline',
    onsubmit: guarded(async () => {
      const body = { name: name.value.trim() }
      if (partitions.value) body.partitions = Number(partitions.value)
      const cfg = {}
      for (const kv of configs.value.split(',').map(s => s.trim()).filter(Boolean)) {
        const i = kv.indexOf('=')
        if (i < 1) throw new Error(`config "${kv}": expected key=value`)
        cfg[kv.slice(0, i).trim()] = kv.slice(i + 1).trim()
      }
      if (cleanup.value) cfg['cleanup.policy'] = cleanup.value
      if (Object.keys(cfg).length) body.configs = cfg
      await api('/api/topics', 'POST', body)
      await route()
    }),
  }, field('Name', name), field('Partitions', partitions), field('Cleanup policy', cleanup), field('Configs', configs),
  h('button', { testid: 'topic-create-submit', type: 'submit' }, 'Create topic'))

  const internal = h('input', { type: 'checkbox', testid: 'topics-internal', checked: showInternal,
    onchange: guarded(async ev => { showInternal = ev.target.checked; await route() }) })
  return h('div', {},
    h('div', { class: 'title' }, h('h1', {}, 'Topics'), h('label', { class: 'check' }, internal, 'show internal topics')),
    table('topics-table', ['Name', 'Partitions', 'Replicas', 'Messages', 'Size on disk', 'Cleanup policy', ''], rows, 'no topics yet'),
    section('Create a topic', form))
}

async function topicView (name, g) {
  const base = `/api/topics/${enc(name)}`
  const [t, producers] = await Promise.all([api(base), api(`${base}/producers`).catch(e => e)])
  const parts = t.partitions.map(p => h('tr', { testid: 'partition-row', data: { partition: p.partition } },
    h('td', { class: 'num' }, p.partition), h('td', { class: 'num' }, dash(p.leader)), h('td', { class: 'num' }, dash(p.leader_epoch)),
    h('td', {}, (p.replicas || []).join(', ')), h('td', { class: 'num' }, p.log_start_offset),
    h('td', { class: 'num' }, p.high_watermark), h('td', { class: 'num' }, p.last_stable_offset),
    h('td', { class: 'num' }, p.messages), h('td', { class: 'num' }, fmtBytes(p.size_bytes))))
  const configs = t.configs.map(c => h('tr', { testid: 'config-row', data: { config: c.name }, class: c.source === 'topic' ? 'set' : '' },
    h('td', {}, c.name), h('td', { class: 'wrap' }, dash(c.value)), h('td', {}, c.source)))
  const prodRows = producers instanceof Error ? [] : producers.producers.map(producerRow)
  return h('div', {},
    h('div', { class: 'title' }, h('h1', {}, t.name, t.internal && badge('internal')),
      h('button', { type: 'button', class: 'danger', testid: 'topic-delete', data: { topic: t.name },
        onclick: guarded(async () => { if (await deleteTopic(t.name)) location.hash = '#/topics' }) }, 'Delete topic')),
    h('p', { class: 'meta', testid: 'topic-summary' },
      `${t.partitions.length} partitions · ${t.messages} messages · ${fmtBytes(t.size_bytes)} on disk · cleanup.policy=${t.cleanup_policy} · replication factor ${t.replication_factor} · id ${t.id}`),
    section('Partitions', table('topic-partitions-table',
      ['Partition', 'Leader', 'Leader epoch', 'Replicas', 'Log start', 'High watermark', 'Last stable', 'Messages', 'Size'], parts)),
    messageBrowser(t, g),
    h('section', {}, h('details', { testid: 'topic-configs' },
      h('summary', {}, h('h2', {}, `Configs (${t.configs.length}, ${t.configs.filter(c => c.source === 'topic').length} set on the topic)`)),
      table('topic-configs-table', ['Name', 'Value', 'Source'], configs))),
    section('Producers', producers instanceof Error
      ? h('p', { class: 'muted' }, producers.message)
      : producersTable(prodRows, false)))
}

function producerRow (p, topic) {
  return h('tr', { testid: 'producer-row', data: { producer: p.producer_id, partition: p.partition } },
    topic && h('td', {}, topic), h('td', { class: 'num' }, p.partition), h('td', { class: 'num' }, p.producer_id),
    h('td', { class: 'num' }, p.producer_epoch), h('td', { class: 'num' }, p.last_sequence),
    h('td', {}, fmtTime(p.last_timestamp)), h('td', { class: 'num' }, dash(p.current_txn_start_offset)))
}
const producersTable = (rows, withTopic) => table('producers-table',
  [withTopic && 'Topic', 'Partition', 'Producer id', 'Epoch', 'Last sequence', 'Last write', 'Open transaction from'].filter(Boolean),
  rows, 'no idempotent or transactional producers')

// ---- messages: browse, search, live tail, produce -----------------------------------------

function messageBrowser (t, g) {
  const topicApi = `/api/topics/${enc(t.name)}/messages`
  const partitionOptions = t.partitions.map(p => [String(p.partition), String(p.partition)])
  const partition = select('messages-partition', [['', 'all'], ...partitionOptions], '')
  const from = select('messages-from', [['newest', 'newest'], ['oldest', 'oldest'], ['offset', 'offset'], ['timestamp', 'timestamp']], 'newest')
  const offset = h('input', { testid: 'messages-offset', type: 'number', min: 0, placeholder: 'offset', disabled: true })
  const timestamp = h('input', { testid: 'messages-timestamp', placeholder: 'ms or 2024-05-01T12:00:00Z', disabled: true })
  const limit = h('input', { testid: 'messages-limit', type: 'number', min: 1, max: 500, value: 50 })
  const search = h('input', { testid: 'messages-search', type: 'search', placeholder: 'in key, value, headers' })
  const encoding = select('messages-encoding', [['text', 'text'], ['hex', 'hex'], ['base64', 'base64']], 'text')
  const tail = h('input', { type: 'checkbox', testid: 'messages-tail' })
  const status = h('span', { class: 'muted', testid: 'messages-status' })
  const tbody = h('tbody', {})
  const tableEl = h('table', { testid: 'messages-table', data: { tailing: 'off' } },
    h('thead', {}, h('tr', {}, ['Partition', 'Offset', 'Timestamp (UTC)', 'Key', 'Value', 'Headers'].map(x => h('th', {}, x)))), tbody)
  let rows = []
  let loads = 0 // counts finished loads (data-seq on the status line), for scripts and tests
  let positions = null // the live tail's next offset per partition

  from.addEventListener('change', () => {
    offset.disabled = from.value !== 'offset'
    timestamp.disabled = from.value !== 'timestamp'
  })
  encoding.addEventListener('change', () => render())

  function render () {
    const e = encoding.value
    tbody.replaceChildren(...(rows.length ? rows.map(m => h('tr', { testid: 'message-row', data: { partition: m.partition, offset: m.offset } },
      h('td', { class: 'num' }, m.partition),
      h('td', { class: 'num' }, m.offset, m.transactional && badge('txn')),
      h('td', { title: m.timestamp_type === 'log_append' ? 'log append time' : 'create time' }, fmtTime(m.timestamp)),
      h('td', { testid: 'message-key', class: 'wrap' }, bytesNode(m.key, e)),
      h('td', { testid: 'message-value', class: 'wrap' }, bytesNode(m.value, e)),
      h('td', { testid: 'message-headers', class: 'wrap' }, m.headers.map(x =>
        h('div', { class: 'header', testid: 'message-header', data: { key: x.key } }, h('span', { class: 'hkey' }, x.key), ': ', bytesNode(x.value, e))))))
      : [h('tr', { class: 'empty' }, h('td', { colspan: 6 }, 'no messages'))]))
  }

  function query (params) {
    if (search.value) params.set('q', search.value)
    return api(`${topicApi}?${params}`)
  }

  async function load () {
    stopTail()
    const params = new URLSearchParams({ from: from.value, limit: limit.value || '50' })
    if (partition.value !== '') params.set('partition', partition.value)
    if (from.value === 'offset') params.set('offset', offset.value || '0')
    if (from.value === 'timestamp') {
      const v = timestamp.value.trim()
      const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v)
      if (Number.isNaN(ms)) throw new Error(`timestamp "${v}": expected milliseconds or a date`)
      params.set('timestamp', String(ms))
    }
    const r = await query(params)
    rows = r.messages
    render()
    status.textContent = `${rows.length} message${rows.length === 1 ? '' : 's'} · scanned ${r.scanned}` +
      (r.more ? ' · scan limit reached, narrow the search' : '')
    status.dataset.seq = ++loads
  }

  function stopTail () {
    positions = null
    tail.checked = false
    tableEl.dataset.tailing = 'off'
  }

  // The live tail starts at the end of the log and polls from=offset at each partition's `next`.
  async function startTail () {
    const cur = await api(`/api/topics/${enc(t.name)}`)
    positions = {}
    for (const p of cur.partitions) {
      if (partition.value === '' || String(p.partition) === partition.value) positions[p.partition] = p.high_watermark
    }
    rows = []
    render()
    tableEl.dataset.tailing = 'on'
    status.textContent = 'tailing: new messages appear at the top'
    const mine = positions
    const tick = async () => {
      if (positions !== mine || g !== generation) return
      try {
        const params = new URLSearchParams({ from: 'offset', limit: '500' })
        const ps = Object.keys(mine)
        if (ps.length === 1) { params.set('partition', ps[0]); params.set('offset', String(mine[ps[0]])) } else {
          params.set('offsets', ps.map(p => `${p}:${mine[p]}`).join(','))
        }
        const r = await query(params)
        if (positions !== mine) return
        for (const [p, n] of Object.entries(r.next || {})) if (p in mine) mine[p] = n
        if (r.messages.length) {
          const fresh = r.messages.slice().sort((a, b) => b.timestamp - a.timestamp || b.offset - a.offset)
          rows = fresh.concat(rows).slice(0, 500)
          render()
        }
      } catch (e) { showError(e) }
      setTimeout(tick, 1000)
    }
    setTimeout(tick, 1000)
  }

  tail.addEventListener('change', guarded(async () => {
    if (tail.checked) await startTail(); else stopTail()
  }))
  const controls = h('form', { class: 'inline', testid: 'messages-form', onsubmit: guarded(load) },
    field('Partition', partition), field('From', from), field('Offset', offset), field('Timestamp', timestamp),
    field('Limit', limit), field('Search', search),
    h('button', { type: 'submit', testid: 'messages-load' }, 'Load'),
    field('Show as', encoding), h('label', { class: 'check' }, tail, 'live tail'))
  // Produced from the form: show it (newest first) unless the tail will pick it up anyway.
  const produce = produceForm(t, () => (positions ? null : load()))
  guarded(load)()
  return h('div', {}, section('Messages', controls, status, h('div', { class: 'scroll' }, tableEl)), produce)
}

function produceForm (t, produced) {
  const partition = select('produce-partition', [['', 'by key / round robin'], ...t.partitions.map(p => [String(p.partition), String(p.partition)])], '')
  const key = h('input', { testid: 'produce-key', placeholder: 'no key' })
  const value = h('textarea', { testid: 'produce-value', rows: 3, placeholder: 'value' })
  const headers = h('textarea', { testid: 'produce-headers', rows: 3, placeholder: 'one header a line: key=value' })
  const encoding = select('produce-encoding', [['text', 'text'], ['base64', 'base64']], 'text')
  const tombstone = h('input', { type: 'checkbox', testid: 'produce-tombstone' })
  const result = h('p', { testid: 'produce-result', class: 'result' })
  const form = h('form', {
    testid: 'produce-form', class: 'grid',
    onsubmit: guarded(async () => {
      result.textContent = ''
      const body = { key: key.value === '' ? null : key.value, value: tombstone.checked ? null : value.value, encoding: encoding.value }
      if (partition.value !== '') body.partition = Number(partition.value)
      body.headers = headers.value.split('\n').filter(l => l.trim() !== '').map(l => {
        const i = l.indexOf('=')
        return i < 0 ? { key: l.trim(), value: '' } : { key: l.slice(0, i).trim(), value: l.slice(i + 1) }
      })
      const r = await api(`/api/topics/${enc(t.name)}/messages`, 'POST', body)
      result.dataset.partition = r.partition
      result.dataset.offset = r.offset
      result.textContent = `Produced to partition ${r.partition} at offset ${r.offset} (${fmtTime(r.timestamp)} UTC)`
      await produced()
    }),
  }, field('Partition', partition), field('Key', key), field('Value', value), field('Headers', headers),
  field('Encoding', encoding), h('label', { class: 'check' }, tombstone, 'null value (tombstone)'),
  h('div', {}, h('button', { type: 'submit', testid: 'produce-submit' }, 'Produce')))
  return section('Produce a message', form, result)
}

// ---- groups -------------------------------------------------------------------------------

async function groupsView () {
  const { groups } = await api('/api/groups')
  const rows = groups.map(x => h('tr', { testid: 'group-row', data: { group: x.group_id, state: x.state } },
    h('td', {}, h('a', { href: `#/groups/${enc(x.group_id)}` }, x.group_id)),
    h('td', { testid: 'group-protocol' }, x.protocol, x.protocol_type && x.protocol_type !== 'consumer' ? ` (${x.protocol_type})` : ''),
    h('td', { testid: 'group-state' }, badge(x.state, `state-${x.state}`)),
    h('td', { class: 'num', testid: 'group-members' }, x.members),
    h('td', { class: 'num', testid: 'group-lag' }, dash(x.lag)),
    h('td', { class: 'num' }, x.topics)))
  return h('div', {}, h('div', { class: 'title' }, h('h1', {}, 'Consumer groups')),
    table('groups-table', ['Group', 'Protocol', 'State', 'Members', 'Lag', 'Topics'], rows, 'no groups'))
}

const tpKey = tp => `${tp.topic}\u0000${tp.partition}`

function chip (tp, state, info) {
  return h('span', {
    class: `chip ${state}`, testid: 'partition-chip',
    data: { topic: tp.topic, partition: tp.partition, lag: info && info.lag != null ? info.lag : '', state },
    title: `${tp.topic}-${tp.partition}: ${state}; committed ${dash(info && info.committed)}, end ${dash(info && info.end_offset)}`,
  }, h('span', { class: 'tp' }, `${tp.topic}-${tp.partition}`), h('span', { class: 'lag' }, `lag ${dash(info && info.lag)}`))
}

function groupPicture (grp) {
  const info = new Map(grp.partitions.map(p => [tpKey(p), p]))
  const kip848 = grp.protocol === 'consumer'
  const rows = grp.members.map(m => {
    const owned = new Set(m.assignment.map(tpKey))
    const target = kip848 && m.target ? new Set(m.target.map(tpKey)) : null
    const chips = m.assignment.map(tp => chip(tp, target && !target.has(tpKey(tp)) ? 'revoking' : 'owned', info.get(tpKey(tp))))
    if (target) for (const tp of m.target) if (!owned.has(tpKey(tp))) chips.push(chip(tp, 'pending', info.get(tpKey(tp))))
    const idle = chips.length === 0
    return h('div', { class: `member-row${idle ? ' idle' : ''}`, testid: 'member-row', data: { member: m.member_id, idle: String(idle) } },
      h('div', { class: 'member-label' },
        h('strong', {}, m.client_id || m.member_id),
        h('small', { title: m.member_id }, m.member_id),
        h('small', {}, [m.host, m.instance_id && `instance ${m.instance_id}`, m.member_epoch != null && `epoch ${m.member_epoch}`].filter(Boolean).join(' · '))),
      h('div', { class: 'chips' }, idle
        ? h('span', { class: 'idle-label', testid: 'idle-label' },
          grp.members.length > grp.partitions.length ? 'idle: more members than partitions' : 'idle: no partitions assigned')
        : chips))
  })
  // Unowned: nobody owns it, and (KIP-848) nobody is about to.
  const unowned = grp.partitions.filter(p => p.owner == null && !(kip848 && p.target_owner != null))
  if (unowned.length) {
    rows.push(h('div', { class: 'member-row unowned', testid: 'unowned-row' },
      h('div', { class: 'member-label' }, h('strong', {}, 'unowned'), h('small', {}, `${unowned.length} partition${unowned.length === 1 ? '' : 's'} no member holds`)),
      h('div', { class: 'chips' }, unowned.map(p => chip(p, 'unowned', p)))))
  }
  if (!grp.members.length) rows.unshift(h('p', { class: 'muted' }, 'No members: the group is not consuming.'))
  // KIP-848: a member's target can differ from what it owns while it reconciles.
  const sample = state => h('span', { class: `chip ${state}` }, h('span', { class: 'tp' }, 'topic-n'))
  const legend = kip848 && h('p', { class: 'legend' }, sample('owned'), ' owned ', sample('pending'), ' target, not yet owned ',
    sample('revoking'), ' owned, awaiting revocation')
  return h('div', { testid: 'group-picture', class: 'picture' }, rows, legend)
}

async function groupView (id) {
  const path = `/api/groups/${enc(id)}`
  const [first, all] = await Promise.all([api(path), api('/api/topics')])
  const meta = h('p', { class: 'meta', testid: 'group-summary' })
  const picture = h('div', {})
  const offsets = h('div', {})
  const state = h('span', {})

  function fill (grp) {
    const byId = new Map(grp.members.map(m => [m.member_id, m.client_id || m.member_id]))
    state.replaceChildren(badge(grp.state, `state-${grp.state}`))
    state.dataset.state = grp.state
    const lags = grp.partitions.filter(p => p.lag != null)
    meta.textContent = `protocol ${grp.protocol} (${grp.protocol_type}) · ${grp.members.length} members · assignor ${dash(grp.assignor)} · ` +
      `epoch ${dash(grp.epoch)} · lag ${lags.length ? lags.reduce((n, p) => n + p.lag, 0) : '—'}`
    picture.replaceChildren(groupPicture(grp))
    offsets.replaceChildren(table('group-offsets-table', ['Topic', 'Partition', 'Owner', grp.protocol === 'consumer' && 'Target owner', 'Committed', 'End offset', 'Lag'].filter(Boolean),
      grp.partitions.map(p => h('tr', { testid: 'group-offset-row', data: { topic: p.topic, partition: p.partition, committed: p.committed ?? '' } },
        h('td', {}, p.topic), h('td', { class: 'num' }, p.partition), h('td', {}, p.owner == null ? '—' : byId.get(p.owner) || p.owner),
        grp.protocol === 'consumer' && h('td', {}, p.target_owner == null ? '—' : byId.get(p.target_owner) || p.target_owner),
        h('td', { class: 'num', testid: 'offset-committed' }, dash(p.committed)), h('td', { class: 'num' }, p.end_offset),
        h('td', { class: 'num', testid: 'offset-lag' }, dash(p.lag)))), 'no committed offsets'))
  }
  const refresh = async () => fill(await api(path))
  fill(first)

  const topics = [...new Set([...first.partitions.map(p => p.topic), ...all.topics.map(t => t.name)])]
  const topic = select('reset-topic', topics.map(t => [t, t]), topics[0])
  const parts = h('input', { testid: 'reset-partitions', placeholder: 'all, or 0,1,2' })
  const to = select('reset-to', [['earliest', 'earliest'], ['latest', 'latest'], ['offset', 'offset'], ['timestamp', 'timestamp']], 'earliest')
  const value = h('input', { testid: 'reset-value', placeholder: 'offset, or timestamp (ms or date)' })
  const result = h('p', { testid: 'reset-result', class: 'result' })
  const form = h('form', {
    testid: 'reset-form', class: 'inline',
    onsubmit: guarded(async () => {
      result.textContent = ''
      const body = { topic: topic.value, to: to.value }
      if (parts.value.trim()) body.partitions = parts.value.split(',').map(s => Number(s.trim()))
      const v = value.value.trim()
      if (to.value === 'offset') {
        if (!/^\d+$/.test(v)) throw new Error('Reset to an offset: give the offset (a number)')
        body.offset = Number(v)
      }
      if (to.value === 'timestamp') {
        body.timestamp = /^\d+$/.test(v) ? Number(v) : Date.parse(v)
        if (!Number.isFinite(body.timestamp)) throw new Error('Reset to a timestamp: give milliseconds or a date')
      }
      if (!confirm(`Reset ${id}'s committed offsets on ${topic.value} to ${to.value}${v ? ' ' + v : ''}?`)) return
      const r = await api(`${path}/offsets`, 'POST', body)
      result.textContent = 'Reset: ' + r.offsets.map(o => `${o.topic}-${o.partition} → ${o.offset}`).join(', ')
      await refresh()
    }),
  }, field('Topic', topic), field('Partitions', parts), field('To', to), field('Offset / timestamp', value),
  h('button', { type: 'submit', testid: 'reset-submit' }, 'Reset offsets'))

  return h('div', {},
    h('div', { class: 'title' }, h('h1', {}, id, ' ', state),
      h('button', { type: 'button', testid: 'refresh', onclick: guarded(refresh) }, 'Refresh')),
    meta,
    section('Assignment', picture),
    section('Offsets', offsets),
    section('Reset offsets', h('p', { class: 'muted' }, 'Only for an Empty group (no members): stop its consumers first.'), form, result))
}

// ---- transactions and producers -----------------------------------------------------------

async function transactionsView () {
  const [{ transactions }, { topics }] = await Promise.all([api('/api/transactions'), api('/api/topics')])
  const rows = transactions.map(x => h('tr', { testid: 'transaction-row', data: { txn: x.transactional_id, state: x.state } },
    h('td', {}, x.transactional_id), h('td', { class: 'num' }, x.producer_id), h('td', { class: 'num' }, x.producer_epoch),
    h('td', {}, badge(x.state)), h('td', { class: 'num' }, x.timeout_ms),
    h('td', { class: 'wrap' }, x.partitions.map(p => `${p.topic}-${p.partition}`).join(', ') || '—')))
  const perTopic = await Promise.all(topics.slice(0, 100).map(t =>
    api(`/api/topics/${enc(t.name)}/producers`).then(r => r.producers.map(p => producerRow(p, t.name)), () => [])))
  return h('div', {}, h('div', { class: 'title' }, h('h1', {}, 'Transactions')),
    table('transactions-table', ['Transactional id', 'Producer id', 'Epoch', 'State', 'Timeout (ms)', 'Partitions'], rows, 'no transactional producers'),
    section('Producers (idempotent and transactional, by partition)', producersTable(perTopic.flat(), true)))
}

// ---- virtual brokers, fault rules, request log (the admin endpoint) -----------------------

async function brokersView () {
  const [cluster, faults, requests] = await Promise.all([api('/admin/cluster'), api('/admin/faults'), api('/admin/requests?limit=50')])
  const brokers = cluster.brokers.map(b => h('tr', { testid: 'broker-row', data: { broker: b.id, up: b.up } },
    h('td', { class: 'num' }, b.id, b.id === cluster.controller && badge('controller')), h('td', {}, `${b.host}:${b.port}`),
    h('td', {}, badge(b.up ? 'up' : 'down', b.up ? 'ok' : 'bad'))))
  const rules = (Array.isArray(faults) ? faults : faults.rules || []).map(r => h('tr', { testid: 'fault-row', data: { fault: r.id } },
    h('td', { class: 'num' }, r.id), h('td', { class: 'wrap' }, r.rule), h('td', {}, r.api), h('td', {}, r.action),
    h('td', { class: 'num' }, r.hits), h('td', { class: 'num' }, r.always ? 'always' : dash(r.remaining))))
  const reqs = (Array.isArray(requests) ? requests : requests.requests || []).slice().reverse().map(r => h('tr', { testid: 'request-row' },
    h('td', { class: 'num' }, r.seq), h('td', {}, fmtTime(r.at_ms)), h('td', { class: 'num' }, r.broker), h('td', {}, `${r.api} v${r.version}`),
    h('td', {}, r.client_id), h('td', { class: 'wrap' }, (r.topics || []).join(', ')), h('td', { class: 'num' }, `${r.duration_us} µs`),
    h('td', {}, r.outcome, r.fault != null && badge(`fault ${r.fault}`, 'bad'))))
  return h('div', {}, h('div', { class: 'title' }, h('h1', {}, 'Brokers')),
    h('p', { class: 'meta' }, `cluster ${cluster.cluster_id} · controller ${dash(cluster.controller)}`),
    table('brokers-table', ['Node', 'Address', 'Status'], brokers),
    section('Fault rules', table('faults-table', ['Id', 'Rule', 'API', 'Action', 'Hits', 'Remaining'], rules, 'no fault rules')),
    section('Recent requests', h('div', { class: 'scroll' },
      table('requests-table', ['#', 'At (UTC)', 'Broker', 'API', 'Client', 'Topics', 'Took', 'Outcome'], reqs, 'no requests logged'))))
}

// ---- start ----------------------------------------------------------------------------------

api('/api/cluster').then(c => {
  document.querySelector('[data-testid=cluster-summary]').textContent =
    `${c.cluster_id} · ${c.version} · ${c.brokers.length} broker${c.brokers.length === 1 ? '' : 's'} · ${c.topics} topics · ${c.groups} groups`
}, () => {})
window.addEventListener('hashchange', route)
route()
