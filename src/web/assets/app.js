// The taskweave dashboard: runs, a run's tasks, timeline and graph, live over the HTTP API.
// Plain browser JavaScript, no build step; every value from the server is set as text, never as HTML.

const main = document.getElementById('main')
const STATUS_ORDER = ['running', 'retrying', 'ready', 'pending', 'parked', 'succeeded', 'failed', 'skipped', 'cancelled', 'not-run']
const MAX_ROWS = 1000
const MAX_BARS = 500
const MAX_NODES = 400
const SVG = 'http://www.w3.org/2000/svg'

let token = sessionStorage.getItem('taskweave-token') ?? ''
let leaveView = () => {}

/** An element with attributes and children (text children become text nodes). */
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value)
    else element.setAttribute(key, value === true ? '' : String(value))
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) element.append(child instanceof Node ? child : String(child))
  return element
}

function svg(tag, attrs = {}, text) {
  const element = document.createElementNS(SVG, tag)
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value))
  if (text !== undefined) element.textContent = text
  return element
}

function badge(status) {
  return h('span', { class: `badge ${status}` }, status)
}

function time(ms) {
  return ms === undefined ? '' : new Date(ms).toLocaleString()
}

function duration(ms) {
  if (ms === undefined || ms < 0) return ''
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}

/** Asks for the token (after a 401) and resolves once one is given. */
function askToken(message) {
  const dialog = document.getElementById('token-dialog')
  document.getElementById('token-error').textContent = message ?? ''
  return new Promise((resolve) => {
    const form = document.getElementById('token-form')
    const submit = (event) => {
      event.preventDefault()
      token = document.getElementById('token-input').value.trim()
      sessionStorage.setItem('taskweave-token', token)
      form.removeEventListener('submit', submit)
      dialog.close()
      resolve()
    }
    form.addEventListener('submit', submit)
    if (!dialog.open) dialog.showModal()
  })
}

function headers(extra = {}) {
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra
}

/** Calls the API; asks for a token and tries again on 401; throws the API's error message otherwise. */
async function api(path, options = {}) {
  for (;;) {
    const response = await fetch(path, { ...options, headers: headers(options.headers) })
    if (response.status === 401) {
      await askToken(token ? 'That token was refused.' : '')
      continue
    }
    const body = await response.json().catch(() => undefined)
    if (!response.ok) {
      const error = new Error(body?.error?.message ?? `${response.status} ${response.statusText}`)
      error.status = response.status
      error.issues = body?.error?.issues
      throw error
    }
    return body
  }
}

/**
 * Follows a run's events (SSE over fetch, so the token travels in a header); calls `onEvent` for
 * each, and `onEnd` once: `end` (the run finished), `gap` (events were missed: read the run again),
 * `refused` (the server would not stream it) or `lost` (the connection kept failing).
 */
function followEvents(runId, lastEventId, onEvent, onEnd) {
  const controller = new AbortController()
  ;(async () => {
    let last = lastEventId
    let failures = 0
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(`/api/runs/${encodeURIComponent(runId)}/events`, { headers: headers({ 'last-event-id': String(last) }), signal: controller.signal })
        if (!response.ok || response.body === null) return onEnd('refused')
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
        let buffer = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          failures = 0
          buffer += value
          let end
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const fields = {}
            for (const line of block.split('\n')) {
              const colon = line.indexOf(':')
              if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart()
            }
            if (fields.event === 'end' || fields.event === 'gap') return onEnd(fields.event)
            if (fields.data === undefined) continue
            if (fields.id !== undefined) last = Number(fields.id)
            onEvent(JSON.parse(fields.data))
          }
        }
      } catch {
        // A dropped connection: try again below, from the last event seen.
        if (controller.signal.aborted) return
      }
      if (++failures >= 20) return onEnd('lost')
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  })()
  return () => controller.abort()
}

/** Applies one event to a run view (the same rules the server follows). */
function applyEvent(run, event) {
  const task = (id) => {
    let found = run.byId.get(id)
    if (found === undefined) {
      found = { id, dependsOn: [], status: 'pending', attempts: 0 }
      run.byId.set(id, found)
      run.tasks.push(found)
    }
    return found
  }
  switch (event.type) {
    // A suspended run stopped here unfinished (the server is closing): it is still running as far as anyone knows.
    case 'run:finished': if (event.suspended === true) break; run.status = event.status; run.finishedAt = event.wallAt; run.live = false; break
    case 'run:cancelling': run.reason = event.reason; break
    case 'task:added': Object.assign(task(event.taskId), { tool: event.tool, addedBy: event.addedBy }); break
    case 'task:ready': task(event.taskId).status = 'ready'; break
    case 'task:started': { const t = task(event.taskId); t.status = 'running'; t.attempts = event.attempt; t.tool ??= event.tool; t.startedAt ??= event.wallAt; break }
    case 'task:retrying': Object.assign(task(event.taskId), { status: 'retrying', error: { code: event.error.code, message: event.error.message } }); break
    case 'run:parked': task(event.taskId).status = 'parked'; break
    case 'task:succeeded': Object.assign(task(event.taskId), { status: 'succeeded', endedAt: event.wallAt }); break
    case 'task:failed': Object.assign(task(event.taskId), { status: 'failed', endedAt: event.wallAt, error: { code: event.error.code, message: event.error.message } }); break
    case 'task:skipped': Object.assign(task(event.taskId), { status: 'skipped', endedAt: event.wallAt, reason: event.reason }); break
    case 'task:cancelled': Object.assign(task(event.taskId), { status: 'cancelled', endedAt: event.wallAt, reason: event.reason }); break
    default: break
  }
}

function counts(tasks) {
  const result = {}
  for (const task of tasks) result[task.status] = (result[task.status] ?? 0) + 1
  return result
}

function countsLine(byStatus) {
  const entries = Object.entries(byStatus).sort((a, b) => STATUS_ORDER.indexOf(a[0]) - STATUS_ORDER.indexOf(b[0]))
  return h('span', { class: 'counts' }, entries.map(([status, n]) => h('span', {}, badge(status), ` ${n}`)))
}

// ---- views

async function runsView() {
  const table = h('table', { id: 'runs' })
  const note = h('p', { class: 'muted' })
  main.replaceChildren(h('h1', {}, 'Runs'), note, table)
  let stopped = false
  const refresh = async () => {
    try {
      const { runs } = await api('/api/runs?limit=200')
      note.className = 'muted'
      note.textContent = runs.length === 0 ? 'No runs yet. Start one from "New run", the CLI or your code.' : ''
      table.replaceChildren(
        h('thead', {}, h('tr', {}, ['Run', 'Workflow', 'Status', 'Started', 'Duration', 'Tasks'].map((name) => h('th', {}, name)))),
        h('tbody', {}, runs.map((run) => h('tr', { class: 'clickable', 'data-run': run.id, onclick: () => (location.hash = `#/runs/${encodeURIComponent(run.id)}`) },
          h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(run.id)}` }, run.id)),
          h('td', {}, run.workflowId),
          h('td', {}, badge(run.status), run.live ? h('span', { class: 'muted' }, ' live') : ''),
          h('td', {}, time(run.createdAt)),
          h('td', {}, duration((run.finishedAt ?? Date.now()) - run.createdAt)),
          h('td', {}, countsLine(run.counts)),
        ))),
      )
    } catch (error) {
      note.textContent = `Could not list runs: ${error.message}`
      note.className = 'error'
    }
    if (!stopped) timer = setTimeout(refresh, 2000)
  }
  let timer = setTimeout(refresh, 0)
  leaveView = () => { stopped = true; clearTimeout(timer) }
}

function tasksTable(run, onSelect) {
  const rows = run.tasks.slice(0, MAX_ROWS)
  return h('div', {},
    h('table', { id: 'tasks' },
      h('thead', {}, h('tr', {}, ['Task', 'Tool', 'Status', 'Attempts', 'Duration', 'Detail'].map((name) => h('th', {}, name)))),
      h('tbody', {}, rows.map((task) => h('tr', { class: 'clickable', 'data-task': task.id, onclick: () => onSelect(task.id) },
        h('td', {}, task.id),
        h('td', {}, task.tool ?? ''),
        h('td', {}, badge(task.status)),
        h('td', {}, String(task.attempts)),
        h('td', {}, task.startedAt !== undefined ? duration((task.endedAt ?? Date.now()) - task.startedAt) : ''),
        h('td', { class: task.error ? 'error' : 'muted' }, task.error ? `${task.error.code}: ${task.error.message}` : task.reason ?? (task.addedBy ? `added by ${task.addedBy}` : '')),
      ))),
    ),
    run.tasks.length > MAX_ROWS ? h('p', { class: 'muted' }, `First ${MAX_ROWS} of ${run.tasks.length} tasks shown.`) : '',
  )
}

function legend() {
  return h('p', { class: 'legend' }, STATUS_ORDER.map((status) => h('span', {}, h('i', { class: `swatch ${status}` }), status)))
}

function timeline(run, onSelect) {
  const started = run.tasks.filter((task) => task.startedAt !== undefined).sort((a, b) => a.startedAt - b.startedAt)
  if (started.length === 0) return h('p', { class: 'muted' }, 'No task has started yet.')
  const bars = started.slice(0, MAX_BARS)
  const t0 = Math.min(run.createdAt, bars[0].startedAt)
  const t1 = Math.max(...bars.map((task) => task.endedAt ?? Date.now()), t0 + 1)
  const labelWidth = 160
  const width = 1100
  const rowHeight = 16
  const scale = (width - labelWidth - 10) / (t1 - t0)
  const chart = svg('svg', { width, height: bars.length * rowHeight + 24, id: 'timeline', role: 'img', 'aria-label': 'task timeline' })
  chart.append(svg('text', { x: labelWidth, y: 12 }, '0'), svg('text', { x: width - 60, y: 12 }, duration(t1 - t0)))
  bars.forEach((task, i) => {
    const y = 20 + i * rowHeight
    const x = labelWidth + (task.startedAt - t0) * scale
    const w = Math.max(2, ((task.endedAt ?? Date.now()) - task.startedAt) * scale)
    const label = svg('text', { x: 0, y: y + 11 }, task.id.length > 24 ? `${task.id.slice(0, 23)}…` : task.id)
    const bar = svg('rect', { x, y: y + 2, width: w, height: rowHeight - 4, rx: 2, class: `bar ${task.status}`, 'data-task': task.id })
    bar.append(svg('title', {}, `${task.id}: ${task.status}, ${duration((task.endedAt ?? Date.now()) - task.startedAt)}`))
    bar.addEventListener('click', () => onSelect(task.id))
    chart.append(label, bar)
  })
  return h('div', {}, legend(), chart, started.length > MAX_BARS ? h('p', { class: 'muted' }, `First ${MAX_BARS} of ${started.length} started tasks shown.`) : '')
}

function graph(run, onSelect) {
  if (run.tasks.length > MAX_NODES) return h('p', { class: 'muted' }, `The graph is drawn for runs of up to ${MAX_NODES} tasks (this one has ${run.tasks.length}); the timeline and the task list show every task.`)
  const depth = new Map()
  const depthOf = (task, seen = new Set()) => {
    if (depth.has(task.id)) return depth.get(task.id)
    if (seen.has(task.id)) return 0
    seen.add(task.id)
    const parents = task.dependsOn.map((id) => run.byId.get(id)).filter(Boolean)
    const d = parents.length === 0 ? 0 : 1 + Math.max(...parents.map((parent) => depthOf(parent, seen)))
    depth.set(task.id, d)
    return d
  }
  const columns = []
  for (const task of run.tasks) (columns[depthOf(task)] ??= []).push(task)
  const colWidth = 170
  const rowHeight = 34
  const height = Math.max(...columns.map((column) => column?.length ?? 0)) * rowHeight + 20
  const chart = svg('svg', { width: columns.length * colWidth + 20, height, id: 'graph', role: 'img', 'aria-label': 'task graph' })
  const where = new Map()
  columns.forEach((column, c) => column?.forEach((task, r) => where.set(task.id, { x: 10 + c * colWidth, y: 10 + r * rowHeight })))
  for (const task of run.tasks) {
    const to = where.get(task.id)
    for (const parent of task.dependsOn) {
      const from = where.get(parent)
      if (from !== undefined) chart.append(svg('line', { x1: from.x + 130, y1: from.y + 12, x2: to.x, y2: to.y + 12, class: 'edge' }))
    }
  }
  for (const task of run.tasks) {
    const { x, y } = where.get(task.id)
    const node = svg('g', { 'data-task': task.id, class: 'node' })
    node.append(svg('rect', { x, y, width: 130, height: 24, rx: 5, class: `bar ${task.status}` }), svg('text', { x: x + 6, y: y + 16, class: 'on-bar' }, task.id.length > 18 ? `${task.id.slice(0, 17)}…` : task.id), svg('title', {}, `${task.id}: ${task.status}`))
    node.addEventListener('click', () => onSelect(task.id))
    chart.append(node)
  }
  const known = run.tasks.some((task) => task.dependsOn.length > 0)
  return h('div', {}, legend(), run.tasks.length > 1 && !known ? h('p', { class: 'muted', id: 'graph-note' }, 'No dependencies are known for this run: it was started by code beside the server, on an engine without a store, so its definition is not here.') : '', chart)
}

async function runView(runId) {
  let view
  try {
    view = await api(`/api/runs/${encodeURIComponent(runId)}`)
  } catch (error) {
    main.replaceChildren(h('p', { class: 'error' }, `Could not read run ${runId}: ${error.message}`))
    return
  }
  const run = { ...view, byId: new Map(view.tasks.map((task) => [task.id, task])) }
  let tab = 'tasks'
  let selected
  const header = h('div')
  const tabs = h('div', { class: 'tabs', role: 'tablist' })
  const body = h('div')
  const detail = h('div', { id: 'task-detail' })
  main.replaceChildren(header, tabs, body, detail)
  const select = async (taskId) => {
    selected = taskId
    detail.replaceChildren(h('p', { class: 'muted' }, `Loading ${taskId}…`))
    try {
      const { task } = await api(`/api/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(taskId)}`)
      if (selected !== taskId) return
      detail.replaceChildren(h('h3', {}, `Task ${taskId} `, badge(task.status)), h('pre', {}, JSON.stringify(task, null, 2)))
    } catch (error) {
      detail.replaceChildren(h('p', { class: 'error' }, error.message))
    }
  }
  const render = () => {
    // Cancel while it runs; retry once it ended failed, partial or cancelled (409 without a store).
    const action = run.status === 'running'
      ? h('button', { class: 'action danger', id: 'cancel', onclick: async () => {
          if (!confirm(`Cancel run ${runId}?`)) return
          try { await api(`/api/runs/${encodeURIComponent(runId)}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'cancelled from the dashboard' }) }) } catch (error) { alert(error.message) }
        } }, 'Cancel run')
      : ['failed', 'partial', 'cancelled'].includes(run.status)
        ? h('button', { class: 'action', id: 'retry', onclick: async () => {
            if (!confirm(`Retry run ${runId} from where it failed? Its failed tasks run again; what succeeded does not.`)) return
            try {
              await api(`/api/runs/${encodeURIComponent(runId)}/retry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: 'the dashboard' }) })
            } catch (error) {
              alert(error.message)
              return
            }
            // Running again: read it afresh and follow its events from where they were.
            if (await reread()) render()
            watch()
          } }, 'Retry run')
        : ''
    header.replaceChildren(
      h('h1', {}, `Run ${run.id}`),
      h('div', { class: 'toolbar' }, h('span', { id: 'run-status' }, badge(run.status)), h('span', {}, `workflow ${run.workflowId}`), h('span', { class: 'muted' }, `started ${time(run.createdAt)}`), h('span', { class: 'muted' }, duration((run.finishedAt ?? Date.now()) - run.createdAt)), run.live ? h('span', { class: 'muted' }, 'live') : '', action),
      h('p', {}, countsLine(counts(run.tasks))),
      run.reason ? h('p', { class: 'muted' }, `Reason: ${run.reason}`) : '',
    )
    tabs.replaceChildren(...[['tasks', 'Tasks'], ['timeline', 'Timeline'], ['graph', 'Graph']].map(([name, label]) => h('button', { class: tab === name ? 'active' : undefined, role: 'tab', 'data-tab': name, onclick: () => { tab = name; render() } }, label)))
    body.replaceChildren(tab === 'tasks' ? tasksTable(run, select) : tab === 'timeline' ? timeline(run, select) : graph(run, select))
  }
  render()
  let scheduled = false
  const rerender = () => {
    if (scheduled) return
    scheduled = true
    setTimeout(() => { scheduled = false; render() }, 150)
  }
  /** Reads the run again; false when that failed (the view keeps what it had). */
  const reread = async () => {
    try {
      Object.assign(run, await api(`/api/runs/${encodeURIComponent(runId)}`))
      run.byId = new Map(run.tasks.map((task) => [task.id, task]))
      return true
    } catch {
      return false
    }
  }
  let stopFollowing = () => {}
  let timer
  let left = false
  // Live while this server streams the run (again after a gap or a refusal, from a fresh read);
  // read every 2 s while it runs elsewhere or cannot be streamed; nothing once it has finished.
  const watch = () => {
    if (left || run.status !== 'running') return
    if (!run.live) {
      timer = setTimeout(async () => { if (await reread()) render(); watch() }, 2000)
      return
    }
    stopFollowing = followEvents(runId, run.lastEventId, (event) => { applyEvent(run, event); rerender() }, async (why) => {
      await reread()
      render()
      if (why === 'refused' || why === 'lost') run.live = false
      watch()
    })
  }
  watch()
  leaveView = () => { left = true; stopFollowing(); clearTimeout(timer) }
}

function newRunView() {
  const example = { id: 'hello', tasks: [{ id: 'list', tool: 'fs.listDirectory', input: { path: '.' } }, { id: 'about', tool: 'fs.getInfo', input: { path: 'package.json' }, dependsOn: ['list'] }] }
  const workflow = h('textarea', { id: 'workflow', spellcheck: 'false', 'aria-label': 'workflow JSON' })
  workflow.value = JSON.stringify(example, null, 2)
  const inputs = h('textarea', { id: 'inputs', class: 'short', spellcheck: 'false', 'aria-label': 'inputs JSON' })
  inputs.value = '{}'
  const message = h('div', { class: 'error', id: 'new-run-error' })
  const tools = h('p', { class: 'muted' })
  api('/api/tools').then(({ tools: list }) => { tools.textContent = `Tools: ${list.map((tool) => tool.name).join(', ')}` }).catch(() => {})
  const start = async () => {
    message.textContent = ''
    let body
    try {
      body = { workflow: JSON.parse(workflow.value), inputs: JSON.parse(inputs.value || '{}') }
    } catch (error) {
      message.textContent = `Not JSON: ${error.message}`
      return
    }
    try {
      const { id } = await api('/api/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      location.hash = `#/runs/${encodeURIComponent(id)}`
    } catch (error) {
      message.textContent = error.message
    }
  }
  main.replaceChildren(h('h1', {}, 'New run'), tools, h('p', {}, 'Workflow (JSON, the same schema as a YAML file):'), workflow, h('p', {}, 'Inputs:'), inputs, h('p', {}, h('button', { class: 'action', id: 'start', onclick: start }, 'Start run')), message)
  leaveView = () => {}
}

async function engineStats() {
  try {
    const { engine } = await api('/api/stats')
    document.getElementById('engine-stats').textContent = `slots ${engine.slots.used}/${engine.slots.capacity} · ${engine.activeRuns} active run${engine.activeRuns === 1 ? '' : 's'}`
  } catch {
    document.getElementById('engine-stats').textContent = ''
  }
  setTimeout(engineStats, 3000)
}

function route() {
  leaveView()
  const hash = location.hash
  if (hash.startsWith('#token=')) {
    token = decodeURIComponent(hash.slice(7))
    sessionStorage.setItem('taskweave-token', token)
    history.replaceState(null, '', '#/')
    return route()
  }
  const run = /^#\/runs\/(.+)$/.exec(hash)
  if (run) return runView(decodeURIComponent(run[1]))
  if (hash === '#/new') return newRunView()
  return runsView()
}

window.addEventListener('hashchange', route)
route()
engineStats()
