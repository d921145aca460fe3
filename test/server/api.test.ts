import { gzipSync } from 'node:zlib'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../../src/core/tool.js'
import { createEngine } from '../../src/engine/engine.js'
import type { Engine } from '../../src/engine/engine.js'
import { MemoryRunStore } from '../../src/stores/memory.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { startServer } from '../../src/server/server.js'
import type { TaskweaveServer } from '../../src/server/server.js'
import type { ServerOptions } from '../../src/server/options.js'
import type { ApiRun } from '../../src/server/views.js'
import { readEvents, send } from './http-client.js'

const TOKEN = 'test-token-0123456789abcdef'
const AUTH = { authorization: `Bearer ${TOKEN}` }

/** A tool that runs until the test opens its gate (or the attempt is aborted). */
function gatedTool() {
  let open!: () => void
  const gate = new Promise<void>((resolve) => (open = resolve))
  const tool = defineTool({
    name: 'test.gate',
    input: z.object({ value: z.unknown().optional(), fail: z.boolean().default(false) }),
    async run(input, ctx) {
      await new Promise<void>((resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true })
        void gate.then(resolve)
      })
      if (input.fail) throw new Error('told to fail')
      return input.value ?? ctx.taskId
    },
  })
  return { tool, open }
}

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serve(options: Partial<ServerOptions> & { engine?: Engine } = {}): Promise<{ server: TaskweaveServer; engine: Engine; open: () => void }> {
  const { tool, open } = gatedTool()
  const engine = options.engine ?? createEngine({ builtins: false, tools: [tool] })
  const server = await startServer({ token: TOKEN, port: 0, ...options, engine })
  cleanups.push(() => engine.close(), () => server.close())
  return { server, engine, open }
}

const diamond = {
  id: 'diamond',
  tasks: [
    { id: 'a', tool: 'test.gate', input: { value: 1 } },
    { id: 'b', tool: 'test.gate', dependsOn: ['a'] },
    { id: 'c', tool: 'test.gate', dependsOn: ['a'], input: { fail: true } },
    { id: 'd', tool: 'test.gate', dependsOn: ['b', 'c'] },
  ],
}

async function finished(port: number, id: string): Promise<ApiRun> {
  for (;;) {
    const reply = await send(port, `/api/runs/${id}`, { headers: AUTH })
    const run = reply.json as ApiRun
    if (run.status !== 'running') return run
    await new Promise((resolve) => setImmediate(resolve))
  }
}

describe('runs through the API', () => {
  it('starts a run, shows every task with its state and error, and streams its events to the end', async () => {
    const { server, open } = await serve()
    const started = await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond, labels: { team: 'x' } } })
    expect(started.status).toBe(201)
    const { id } = started.json as { id: string }
    expect(started.headers.location).toBe(`/api/runs/${id}`)

    const before = (await send(server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun
    expect(before.status).toBe('running')
    expect(before.tasks.map((task) => [task.id, task.status])).toEqual([['a', 'running'], ['b', 'pending'], ['c', 'pending'], ['d', 'pending']])
    expect(before.tasks[3]?.dependsOn).toEqual(['b', 'c'])

    const stream = readEvents(server.port, `/api/runs/${id}/events`, AUTH)
    open()
    const { status, events } = await stream
    expect(status).toBe(200)
    const types = events.map((event) => event.event)
    expect(types.at(-1)).toBe('end')
    expect(types).toContain('task:succeeded')
    expect(types).toContain('run:finished')
    const ids = events.filter((event) => event.id !== undefined).map((event) => Number(event.id))
    expect(ids).toEqual([...ids].sort((x, y) => x - y))

    const run = await finished(server.port, id)
    expect(run.status).toBe('partial')
    expect(run.labels).toEqual({ source: 'api', team: 'x' })
    const byId = Object.fromEntries(run.tasks.map((task) => [task.id, task]))
    expect(byId['a']?.status).toBe('succeeded')
    expect(byId['c']?.status).toBe('failed')
    expect(byId['c']?.error).toEqual({ code: 'TW_TOOL_FAILED', message: 'told to fail' })
    expect(byId['d']?.status).toBe('skipped')
    expect(byId['d']?.reason).toMatch(/c/)
    expect(byId['a']?.startedAt).toBeGreaterThan(Date.now() - 60_000)
    expect(byId['a']?.endedAt).toBeGreaterThanOrEqual(byId['a']?.startedAt ?? Infinity)

    const task = await send(server.port, `/api/runs/${id}/tasks/a`, { headers: AUTH })
    expect((task.json as { task: { output: unknown } }).task.output).toBe(1)
    const list = (await send(server.port, '/api/runs', { headers: AUTH })).json as { runs: Array<{ id: string; status: string }> }
    expect(list.runs).toEqual([expect.objectContaining({ id, status: 'partial' })])
  })

  it('a stream reopened with Last-Event-ID goes on after that event, and one for a finished run ends at once', async () => {
    const { server, open } = await serve()
    const { id } = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).json as { id: string }
    open()
    const run = await finished(server.port, id)
    const all = await readEvents(server.port, `/api/runs/${id}/events`, AUTH)
    const numbered = all.events.filter((event) => event.id !== undefined)
    expect(numbered.length).toBe(run.lastEventId)
    const rest = await readEvents(server.port, `/api/runs/${id}/events`, { ...AUTH, 'last-event-id': '3' })
    expect(rest.events.filter((event) => event.id !== undefined).map((event) => Number(event.id))).toEqual(numbered.slice(3).map((event) => Number(event.id)))
    expect(rest.events.at(-1)?.event).toBe('end')
  })

  it('cancels a running run', async () => {
    const { server } = await serve()
    const { id } = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).json as { id: string }
    const cancel = await send(server.port, `/api/runs/${id}/cancel`, { method: 'POST', headers: AUTH, body: { reason: 'no longer needed' } })
    expect(cancel.status).toBe(202)
    const run = await finished(server.port, id)
    expect(run.status).toBe('cancelled')
    expect(run.reason).toBe('no longer needed')
    expect(run.tasks.find((task) => task.id === 'a')?.status).toBe('cancelled')
  })

  it('refuses a bad run with every problem named, and starts nothing', async () => {
    const { server } = await serve()
    const bad = await send(server.port, '/api/runs', {
      method: 'POST',
      headers: AUTH,
      body: { workflow: { id: 'w', tasks: [{ id: 'a', tool: 'nope' }, { id: 'b', tool: 'test.gate', dependsOn: ['zzz'] }] } },
    })
    expect(bad.status).toBe(400)
    const error = (bad.json as { error: { code: string; issues: Array<{ taskId?: string }> } }).error
    expect(error.code).toBe('TW_VALIDATION')
    expect(error.issues.map((issue) => issue.taskId).sort()).toEqual(['a', 'b'])
    for (const [body, message] of [
      [[1, 2], /JSON object/],
      [{ workflow: diamond, extra: 1 }, /unknown field "extra"/],
      [{ workflow: { ...diamond, tools: ['./x.js'] } }, /workflow\.tools/],
      [{ workflow: diamond, inputs: 'x' }, /"inputs"/],
      [{ workflow: diamond, runId: '../x' }, /"runId"/],
      [{ workflow: diamond, labels: { a: 1 } }, /labels\.a/],
    ] as const) {
      const reply = await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body })
      expect(reply.status, JSON.stringify(body)).toBe(400)
      expect((reply.json as { error: { message: string } }).error.message).toMatch(message)
    }
    expect(((await send(server.port, '/api/runs', { headers: AUTH })).json as { runs: unknown[] }).runs).toEqual([])
  })

  it('refuses a second run with the same id (409), and runs past maxActiveRuns with 429 and Retry-After', async () => {
    const { server, open } = await serve({ maxActiveRuns: 2 })
    const first = await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond, runId: 'r1' } })
    expect(first.status).toBe(201)
    expect((await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond, runId: 'r1' } })).status).toBe(409)
    expect((await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).status).toBe(201)
    const busy = await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })
    expect(busy.status).toBe(429)
    expect(busy.headers['retry-after']).toBe('1')
    open()
    await finished(server.port, 'r1')
  })

  it('shows runs from the store after a restart, with their tasks as the journal has them', async () => {
    const store = new MemoryRunStore()
    const { tool, open } = gatedTool()
    const engine = createEngine({ builtins: false, tools: [tool], store })
    const first = await serve({ engine })
    const { id } = (await send(first.server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).json as { id: string }
    open()
    await finished(first.server.port, id)
    await first.server.close()

    const second = await serve({ engine: createEngine({ builtins: false, tools: [tool], store }) })
    const list = (await send(second.server.port, '/api/runs', { headers: AUTH })).json as { runs: Array<{ id: string; status: string; live: boolean }> }
    expect(list.runs).toEqual([expect.objectContaining({ id, status: 'partial', live: false })])
    const run = (await send(second.server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun
    expect(Object.fromEntries(run.tasks.map((task) => [task.id, task.status]))).toEqual({ a: 'succeeded', b: 'succeeded', c: 'failed', d: 'not-run' })
    const events = await send(second.server.port, `/api/runs/${id}/events`, { headers: AUTH })
    expect(events.status).toBe(409)
    expect((await send(second.server.port, `/api/runs/${id}/tasks/a`, { headers: AUTH })).json).toEqual({ task: expect.objectContaining({ output: 1 }) })
  })
})

describe('API security (RELIABILITY API-01 to API-04)', () => {
  const ROUTES: Array<[string, string]> = [
    ['GET', '/api/runs'],
    ['POST', '/api/runs'],
    ['GET', '/api/runs/x'],
    ['GET', '/api/runs/x/tasks/a'],
    ['POST', '/api/runs/x/cancel'],
    ['GET', '/api/runs/x/events'],
    ['GET', '/api/stats'],
    ['GET', '/api/tools'],
    ['GET', '/nowhere'],
  ]

  it('answers 401 on every route without the right token, and /healthz reveals nothing', async () => {
    const { server } = await serve()
    const wrongSameLength = `Bearer ${'x'.repeat(TOKEN.length)}`
    for (const [method, path] of ROUTES) {
      for (const headers of [{}, { authorization: 'Bearer ' }, { authorization: 'Bearer wrong' }, { authorization: wrongSameLength }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
        const reply = await send(server.port, path, { method, headers })
        expect(reply.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401)
        expect(reply.text).not.toContain(TOKEN)
      }
      const inQuery = await send(server.port, `${path}?token=${TOKEN}`, { method, headers: AUTH })
      expect(inQuery.status, `${method} ${path}?token=`).toBe(400)
      expect(inQuery.text).not.toContain(TOKEN)
    }
    const health = await send(server.port, '/healthz')
    expect([health.status, health.text]).toEqual([200, 'ok'])
  })

  it('grants cross-origin access only to a configured origin, never "*"', async () => {
    const { server } = await serve({ corsOrigins: ['https://app.example.com'] })
    for (const origin of ['https://evil.example', 'null', 'https://app.example.com.evil.example']) {
      const preflight = await send(server.port, '/api/runs', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } })
      expect(preflight.headers['access-control-allow-origin'], origin).toBeUndefined()
      const simple = await send(server.port, '/api/runs', { headers: { ...AUTH, origin } })
      expect(simple.headers['access-control-allow-origin'], origin).toBeUndefined()
    }
    const allowed = await send(server.port, '/api/runs', { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } })
    expect(allowed.status).toBe(204)
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com')
    expect((await send(server.port, '/api/runs', { headers: { ...AUTH, origin: 'https://app.example.com' } })).headers['access-control-allow-origin']).toBe('https://app.example.com')
    await expect(startServer({ engine: createEngine(), token: TOKEN, corsOrigins: ['*'] })).rejects.toThrow(/never "\*"/)
    await expect(startServer({ engine: createEngine(), token: TOKEN, corsOrigins: ['https://app.example.com/path'] })).rejects.toThrow(/exact origins/)
  })

  it('answers only to its own host names (DNS rebinding), and will not listen openly beyond loopback', async () => {
    const { server } = await serve({ allowedHosts: ['tw.internal'] })
    for (const host of ['attacker.example', `attacker.example:${server.port}`, `127.0.0.1.evil.example:${server.port}`, `localhost:${server.port + 1}`]) {
      const reply = await send(server.port, '/api/runs', { headers: { ...AUTH, host } })
      expect(reply.status, host).toBe(421)
    }
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, 'tw.internal']) expect((await send(server.port, '/api/runs', { headers: { ...AUTH, host } })).status, host).toBe(200)
    await expect(startServer({ engine: createEngine(), host: '0.0.0.0', port: 0, auth: 'none' })).rejects.toThrow(/loopback/)
    await expect(startServer({ engine: createEngine(), host: '0.0.0.0', port: 0 })).rejects.toThrow(/token/)
    const open = await serve({ auth: 'none', token: undefined })
    expect((await send(open.server.port, '/api/runs')).status).toBe(200)
  })

  it('refuses oversized, encoded, deep and poisoned bodies before acting on them', async () => {
    const { server } = await serve({ bodyLimit: 10_000 })
    const filler = (bytes: number): string => JSON.stringify({ workflow: diamond, labels: { pad: 'x'.repeat(bytes) } })
    const base = filler(0).length
    const exact = filler(10_000 - base)
    expect(Buffer.byteLength(exact)).toBe(10_000)
    expect((await send(server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: exact })).status).toBe(400) // within the limit: read (the label is too long)
    const over = filler(10_001 - base)
    expect((await send(server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: over })).status).toBe(413)
    const chunked = await send(server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, chunks: [Buffer.from(over.slice(0, 5000)), Buffer.from(over.slice(5000))] })
    expect(chunked.status).toBe(413)
    const lying = await send(server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json', 'content-length': '10' }, body: filler(100) })
    expect(lying.status).toBe(400)
    // 8 KB of gzip that inflates to 8 MB: within the body limit as sent, refused for its encoding.
    const bomb = gzipSync(Buffer.alloc(8_000_000, 32))
    expect(bomb.length).toBeLessThan(10_000)
    const gz = await send(server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: bomb })
    expect(gz.status).toBe(415)
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    const deepServer = await serve({ bodyLimit: 1_000_000 })
    const deepReply = await send(deepServer.server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: deep })
    expect(deepReply.status).toBe(400)
    expect((deepReply.json as { error: { message: string } }).error.message).toMatch(/deeper than 64/)
    for (const poison of ['{"__proto__": {"polluted": true}, "workflow": {}}', '{"constructor": {"prototype": {"polluted": true}}}']) {
      const reply = await send(server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: poison })
      expect(reply.status, poison).toBe(400)
    }
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
    expect((await send(server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'content-type': 'text/plain' }, body: JSON.stringify({ workflow: diamond }) })).status).toBe(415)
  })

  it('caps open event streams (503 with Retry-After)', async () => {
    const { server, open } = await serve({ maxSubscribers: 1 })
    const { id } = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).json as { id: string }
    let firstOpen!: () => void
    const opened = new Promise<void>((resolve) => (firstOpen = resolve))
    const first = readEvents(server.port, `/api/runs/${id}/events`, AUTH, (event) => (event.event === 'task:started' ? (firstOpen(), false) : false))
    await opened
    const second = await send(server.port, `/api/runs/${id}/events`, { headers: AUTH })
    expect(second.status).toBe(503)
    expect(second.headers['retry-after']).toBe('1')
    open()
    expect((await first).events.at(-1)?.event).toBe('end')
    expect(server.stats().subscribers).toBe(0)
  })
})

describe('slow clients (RELIABILITY API-05)', () => {
  it('closes connections whose headers never finish, and keeps answering and running meanwhile', async () => {
    const { server, open } = await serve({ headersTimeoutMs: 500 })
    const { connect } = await import('node:net')
    const sockets = Array.from({ length: 200 }, () => {
      const socket = connect(server.port, '127.0.0.1')
      socket.on('error', () => undefined)
      return socket
    })
    const closedByServer = sockets.map((socket) => new Promise<void>((resolve) => socket.on('close', () => resolve())))
    // Slowloris: a request line, then a header byte now and then, never the blank line.
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.once('connect', () => resolve()))))
    for (const socket of sockets) socket.write(`GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-A: `)
    const drip = setInterval(() => {
      for (const socket of sockets) if (!socket.destroyed) socket.write('a')
    }, 100)
    try {
      expect((await send(server.port, '/healthz')).text).toBe('ok')
      const { id } = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).json as { id: string }
      open()
      expect((await finished(server.port, id)).status).toBe('partial')
      await Promise.all(closedByServer)
    } finally {
      clearInterval(drip)
      for (const socket of sockets) socket.destroy()
    }
  }, 20_000)
})

describe('review findings', () => {
  const quick = defineTool({ name: 'test.quick', input: z.object({ chunks: z.number().default(0) }), run: (input, ctx) => {
    for (let i = 0; i < input.chunks; i++) ctx.progress({ message: `chunk ${i}`, data: 'p'.repeat(100_000) })
    return ctx.taskId
  } })
  const wide = (n: number) => ({ id: 'wide', tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, tool: 'test.quick' })) })

  it('cuts off an event stream whose client stops reading: its socket is destroyed and its place freed', async () => {
    const engine = createEngine({ builtins: false, tools: [quick] })
    const { server } = await serve({ engine, bodyLimit: 8 * 1024 * 1024 })
    const { tool, open } = gatedTool()
    engine.registry.register(tool)
    // The run waits at its first task until the reader is in place, then makes about 100,000 events.
    const workflow = { id: 'flood', tasks: [{ id: 'start', tool: 'test.gate' }, ...wide(25_000).tasks.map((task) => ({ ...task, dependsOn: ['start'] }))] }
    const started = await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow } })
    expect(started.status).toBe(201)
    const { id } = started.json as { id: string }
    const { connect } = await import('node:net')
    const socket = connect(server.port, '127.0.0.1')
    socket.on('error', () => undefined)
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write(`GET /api/runs/${id}/events HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)
    socket.pause() // never reads
    await expect.poll(() => server.stats().subscribers).toBe(1)
    open()
    await expect.poll(() => server.stats().subscribers, { timeout: 20_000 }).toBe(0)
    expect((await finished(server.port, id)).status).toBe('succeeded')
    // Reading again, the client gets what was on its way, then the connection closes: the server
    // dropped it (kept open, it would hold the whole backlog and wait for the client forever).
    let received = 0
    socket.on('data', (chunk: Buffer) => (received += chunk.length))
    socket.resume()
    await closed
    expect(received).toBeLessThan(16 * 1024 * 1024)
  }, 30_000)

  it('confirms a durable run (201) only once its store holds it, and answers 503 when the store refuses it', async () => {
    let admit!: () => void
    let creations = 0
    let refusals = 0
    class GatedStore extends MemoryRunStore {
      override async createRun(...args: Parameters<MemoryRunStore['createRun']>) {
        creations++
        if (args[0].runId === 'refused' && refusals++ === 0) throw new Error('disk full')
        if (args[0].runId === 'refused') return super.createRun(...args)
        await new Promise<void>((resolve) => (admit = resolve))
        return super.createRun(...args)
      }
    }
    const store = new GatedStore()
    const { tool, open } = gatedTool()
    const engine = createEngine({ builtins: false, tools: [tool], store })
    const { server } = await serve({ engine })
    let replied = false
    const reply = send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond, runId: 'kept' } }).then((r) => {
      replied = true
      return r
    })
    await expect.poll(() => creations).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 30))
    // The store has not committed the run yet: no confirmation.
    expect(replied).toBe(false)
    expect(await store.load('kept')).toBeUndefined()
    admit()
    expect((await reply).status).toBe(201)
    expect((await store.load('kept'))?.status).toBe('running')
    const refused = await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond, runId: 'refused' } })
    expect(refused.status).toBe(503)
    expect((refused.json as { error: { message: string } }).error.message).toMatch(/^the run was not started: the run store \(memory\) did not accept the run: disk full/)
    // A run that never was leaves its id free: the retry a 503 invites starts it.
    const retried = await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond, runId: 'refused' } })
    expect(retried.status).toBe(201)
    open()
  })

  it('starts one run for concurrent requests with the same id', async () => {
    class SlowLoadStore extends MemoryRunStore {
      override async load(runId: string) {
        const run = await super.load(runId)
        await new Promise((resolve) => setTimeout(resolve, 20))
        return run
      }
    }
    const { tool, open } = gatedTool()
    const engine = createEngine({ builtins: false, tools: [tool], store: new SlowLoadStore() })
    const { server } = await serve({ engine })
    const replies = await Promise.all([1, 2, 3].map(() => send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond, runId: 'same' } })))
    expect(replies.map((reply) => reply.status).sort()).toEqual([201, 409, 409])
    const view = (await send(server.port, '/api/runs/same', { headers: AUTH })).json as ApiRun
    expect([view.status, view.live]).toEqual(['running', true])
    open()
    expect((await finished(server.port, 'same')).status).toBe('partial')
  })

  it('shows a suspended run as the store has it (unfinished), and a run whose resume failed as stored, not as a run in progress', async () => {
    const store = new MemoryRunStore()
    const first = gatedTool()
    const engineA = createEngine({ builtins: false, tools: [first.tool], store })
    const a = await serve({ engine: engineA })
    const { id } = (await send(a.server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).json as { id: string }
    await expect.poll(async () => ((await send(a.server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun).tasks[0]?.status).toBe('running')
    await engineA.close() // suspends the run: unfinished in the store
    const suspended = (await send(a.server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun
    expect([suspended.status, suspended.live]).toEqual(['running', false])

    // Another engine without the workflow's tool: its resume fails, and the run stays as stored.
    const engineB = createEngine({ builtins: false, tools: [quick], store })
    const b = await serve({ engine: engineB, maxActiveRuns: 1 })
    expect(await engineB.resumeUnfinished()).toEqual([])
    const stored = (await send(b.server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun
    expect([stored.status, stored.live, stored.tasks.length]).toEqual(['running', false, 4])
    expect((await send(b.server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: wide(2) } })).status).toBe(201)
  })

  it('refuses a state-changing request from another site, even without a token', async () => {
    const { server } = await serve({ auth: 'none', token: undefined, corsOrigins: ['https://app.example.com'] })
    const { id } = (await send(server.port, '/api/runs', { method: 'POST', body: { workflow: diamond } })).json as { id: string }
    for (const headers of [{ origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }]) {
      const reply = await send(server.port, `/api/runs/${id}/cancel`, { method: 'POST', headers: { ...headers, 'content-length': '0' } })
      expect(reply.status, JSON.stringify(headers)).toBe(403)
    }
    expect(((await send(server.port, `/api/runs/${id}`)).json as ApiRun).status).toBe('running')
    expect((await send(server.port, `/api/runs/${id}/cancel`, { method: 'POST', headers: { origin: `http://127.0.0.1:${server.port}` } })).status).toBe(202)
    expect((await send(server.port, '/api/runs', { method: 'POST', headers: { origin: 'https://app.example.com' }, body: { workflow: diamond } })).status).toBe(201)
  })

  it('keeps at most a megabyte of a run\'s events, and a stream with no Last-Event-ID starts at the oldest kept', async () => {
    const engine = createEngine({ builtins: false, tools: [quick] })
    const { server } = await serve({ engine, eventsPerRun: 10_000 })
    const { id } = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: { id: 'p', tasks: [{ id: 'big', tool: 'test.quick', input: { chunks: 40 } }] } } })).json as { id: string }
    const run = await finished(server.port, id)
    const { events } = await readEvents(server.port, `/api/runs/${id}/events`, AUTH)
    const kept = events.filter((event) => event.id !== undefined)
    expect(kept.reduce((bytes, event) => bytes + event.data.length, 0)).toBeLessThanOrEqual(1024 * 1024)
    expect(kept.length).toBeLessThan(run.lastEventId)
    expect(Number(kept.at(-1)?.id)).toBe(run.lastEventId)
    expect(events.at(-1)?.event).toBe('end')
    const gap = await readEvents(server.port, `/api/runs/${id}/events`, { ...AUTH, 'last-event-id': '1' })
    expect(gap.events).toEqual([{ id: String(Number(kept[0]?.id) - 1), event: 'gap', data: expect.stringContaining('resumeAfter') }])
  })

  it('tells a task\'s times as wall time, and refuses encoded tokens in the query, loose hosts, and keeps HEAD of the page open', async () => {
    const engine = createEngine({ builtins: false, tools: [quick] })
    const { server } = await serve({ engine })
    const before = Date.now()
    const { id } = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: wide(1) } })).json as { id: string }
    await finished(server.port, id)
    await expect.poll(async () => (await send(server.port, `/api/runs/${id}/tasks/t0`, { headers: AUTH })).json).toMatchObject({ task: { output: 't0' } })
    const { task } = (await send(server.port, `/api/runs/${id}/tasks/t0`, { headers: AUTH })).json as { task: { startedAt: number; endedAt: number } }
    expect(task.startedAt).toBeGreaterThanOrEqual(before - 1000)
    expect(task.endedAt).toBeGreaterThanOrEqual(task.startedAt)
    expect((await send(server.port, `/api/runs?%74oken=${TOKEN}`, { headers: AUTH })).status).toBe(400)
    expect((await send(server.port, '/api/runs', { headers: { ...AUTH, host: `[::1]junk:${server.port}` } })).status).toBe(421)
    expect((await send(server.port, '/', { method: 'HEAD' })).status).toBe(200)
  })
})

describe('second review findings', () => {
  const failing = defineTool({ name: 'test.failing', input: z.object({}), run: () => {
    throw new Error(`e${'x'.repeat(8_000)}`)
  } })
  const loud = defineTool({ name: 'test.loud', input: z.object({}), run: (_input, ctx) => {
    ctx.progress({ message: 'huge', data: 'h'.repeat(600_000) })
    return 1
  } })

  it('counts errors in the events kept per run, streams a huge event without its payload, and never cuts off a new client for what is kept', async () => {
    const engine = createEngine({ builtins: false, tools: [failing, loud] })
    const { server } = await serve({ engine, bodyLimit: 4 * 1024 * 1024 })
    const workflow = { id: 'errors', tasks: [{ id: 'loud', tool: 'test.loud' }, ...Array.from({ length: 600 }, (_, i) => ({ id: `f${i}`, tool: 'test.failing', dependsOn: ['loud'] }))] }
    const { id } = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow } })).json as { id: string }
    await finished(server.port, id)
    const { events } = await readEvents(server.port, `/api/runs/${id}/events`, AUTH)
    expect(events.at(-1)?.event).toBe('end')
    const kept = events.filter((event) => event.id !== undefined)
    expect(kept.reduce((bytes, event) => bytes + event.data.length, 0)).toBeLessThan(1.2 * 1024 * 1024)
    expect(kept.some((event) => event.event === 'task:failed')).toBe(true)

    const loudRun = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: { id: 'loud', tasks: [{ id: 'loud', tool: 'test.loud' }] } } })).json as { id: string }
    await finished(server.port, loudRun.id)
    const progress = (await readEvents(server.port, `/api/runs/${loudRun.id}/events`, AUTH)).events.find((event) => event.event === 'task:progress')
    expect(progress?.data.length).toBeLessThan(1000)
    expect(JSON.parse(progress?.data ?? '{}')).toMatchObject({ taskId: 'loud', truncated: expect.stringContaining('read the task') })
  }, 30_000)

  it('a Last-Event-ID past the run\'s last event (from before a resume) gets a gap', async () => {
    const { server, open } = await serve()
    const { id } = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).json as { id: string }
    open()
    const run = await finished(server.port, id)
    const { events } = await readEvents(server.port, `/api/runs/${id}/events`, { ...AUTH, 'last-event-id': String(run.lastEventId + 100) })
    expect(events.map((event) => event.event)).toEqual(['gap'])
  })

  it('lets the dashboard post behind a proxy that rewrites Host (the browser says same-origin)', async () => {
    const { server } = await serve()
    const behindProxy = { ...AUTH, origin: 'https://tasks.example.com', 'sec-fetch-site': 'same-origin' }
    expect((await send(server.port, '/api/runs', { method: 'POST', headers: behindProxy, body: { workflow: diamond } })).status).toBe(201)
    expect((await send(server.port, '/api/runs', { method: 'POST', headers: { ...behindProxy, 'sec-fetch-site': 'cross-site' }, body: { workflow: diamond } })).status).toBe(403)
    expect((await send(server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'sec-fetch-site': 'same-site' }, body: { workflow: diamond } })).status).toBe(403)
  })

  it('shows a run resumed here with what the store knows: its labels, start and declared tasks', async () => {
    const store = new MemoryRunStore()
    const first = gatedTool()
    // Wall time moves on at every reading: the view's start is the one the store has, not a reading of its own.
    const clock = new (class extends ManualClock {
      override wallNow(): number {
        const now = super.wallNow()
        this.setWallTime(now + 1)
        return now
      }
    })(0, Date.now())
    const engineA = createEngine({ builtins: false, tools: [first.tool], store, clock })
    const a = await serve({ engine: engineA })
    const { id } = (await send(a.server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond, labels: { team: 'x' } } })).json as { id: string }
    await expect.poll(async () => ((await send(a.server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun).tasks[0]?.status).toBe('running')
    const createdAt = ((await send(a.server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun).createdAt
    expect(createdAt).toBe((await store.load(id))?.createdAt)
    await engineA.close()

    const second = gatedTool()
    const engineB = createEngine({ builtins: false, tools: [second.tool], store })
    const b = await serve({ engine: engineB })
    expect(await engineB.resumeUnfinished()).toHaveLength(1)
    await expect.poll(async () => ((await send(b.server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun).labels).toEqual({ source: 'api', team: 'x' })
    const view = (await send(b.server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun
    expect([view.live, view.createdAt, view.tasks.map((task) => task.id)]).toEqual([true, createdAt, ['a', 'b', 'c', 'd']])
    expect(view.tasks[3]?.dependsOn).toEqual(['b', 'c'])
    second.open()
    expect((await finished(b.server.port, id)).status).toBe('partial')
  })

  it('shows the tasks a run resumed here had finished before with their attempts and times from the journal, not the resume\'s', async () => {
    const store = new MemoryRunStore()
    const quick = defineTool({ name: 'test.quick', input: z.object({}), run: () => 'done' })
    const first = gatedTool()
    const flow = { id: 'two', tasks: [{ id: 'a', tool: 'test.quick' }, { id: 'b', tool: 'test.gate', dependsOn: ['a'] }] }
    const engineA = createEngine({ builtins: false, tools: [quick, first.tool], store })
    const handle = engineA.start(flow)
    await new Promise<void>((resolve) => handle.on('task:started', (event) => void (event.taskId === 'b' && resolve())))
    await engineA.close()
    const before = (await store.load(handle.id))?.entries.find((entry) => entry.kind === 'ok' && entry.taskId === 'a')
    expect(before).toBeDefined()

    const second = gatedTool()
    const engineB = createEngine({ builtins: false, tools: [quick, second.tool], store })
    const b = await serve({ engine: engineB })
    expect(await engineB.resumeUnfinished()).toHaveLength(1)
    // Later than anything the first process did: a time the resume would have given is told apart.
    await new Promise((resolve) => setTimeout(resolve, 20))
    const taskA = async (): Promise<ApiRun['tasks'][number] | undefined> => ((await send(b.server.port, `/api/runs/${handle.id}`, { headers: AUTH })).json as ApiRun).tasks.find((task) => task.id === 'a')
    await expect.poll(async () => (await taskA())?.attempts).toBe(1)
    const shown = await taskA()
    expect(shown?.status).toBe('succeeded')
    expect(shown?.endedAt).toBe(before?.at)
    // A start committed with its outcome is journaled as the outcome alone: no start time to show, and none made up.
    expect(shown?.startedAt === undefined || shown.startedAt <= (before?.at as number)).toBe(true)
    expect(Object.keys(shown ?? {})).not.toContain('journaled')
    second.open()
    const done = await finished(b.server.port, handle.id)
    expect(done.tasks.map((task) => [task.id, task.status, task.attempts])).toEqual([
      ['a', 'succeeded', 1],
      ['b', 'succeeded', 2],
    ])
    expect(done.tasks.find((task) => task.id === 'a')?.endedAt).toBe(before?.at)
  })

  it('draws a run started beside the server by library code, without a store, with its declared tasks and dependencies', async () => {
    const { server, engine, open } = await serve()
    const handle = engine.start(diamond)
    // From its first event: every declared task, the ones not started yet among them.
    await expect.poll(async () => (await send(server.port, `/api/runs/${handle.id}`, { headers: AUTH })).status).toBe(200)
    const view = (await send(server.port, `/api/runs/${handle.id}`, { headers: AUTH })).json as ApiRun
    expect(view.tasks.map((task) => [task.id, task.tool, task.dependsOn])).toEqual([
      ['a', 'test.gate', []],
      ['b', 'test.gate', ['a']],
      ['c', 'test.gate', ['a']],
      ['d', 'test.gate', ['b', 'c']],
    ])
    expect(view.tasks.find((task) => task.id === 'd')?.status).toBe('pending')
    open()
    expect((await handle.result).status).toBe('partial')
    expect((await finished(server.port, handle.id)).tasks.find((task) => task.id === 'd')?.dependsOn).toEqual(['b', 'c'])
  })

  it('draws the parents a template or a condition implies, not only those dependsOn names, for a live and a stored run', async () => {
    const store = new MemoryRunStore()
    const { tool, open } = gatedTool()
    const engine = createEngine({ builtins: false, tools: [tool], store })
    const { server } = await serve({ engine })
    const implied = {
      id: 'implied',
      tasks: [
        { id: 'a', tool: 'test.gate', input: { value: 2 } },
        { id: 'b', tool: 'test.gate', input: { value: '{{ tasks.a.output }}' } },
        { id: 'c', tool: 'test.gate', when: 'tasks.a.output > 1' },
        { id: 'd', tool: 'test.gate', dependsOn: ['b'], input: { value: '{{ tasks.c.status }}' } },
      ],
    }
    const parents = (run: ApiRun): unknown => run.tasks.map((task) => [task.id, task.dependsOn])
    const expected = [['a', []], ['b', ['a']], ['c', ['a']], ['d', ['b', 'c']]]
    const { id } = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: implied } })).json as { id: string }
    expect(parents((await send(server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun)).toEqual(expected)
    const beside = engine.start(implied)
    await expect.poll(async () => (await send(server.port, `/api/runs/${beside.id}`, { headers: AUTH })).status).toBe(200)
    expect(parents((await send(server.port, `/api/runs/${beside.id}`, { headers: AUTH })).json as ApiRun)).toEqual(expected)
    open()
    await beside.result
    expect((await finished(server.port, id)).status).toBe('succeeded')
    // Read back from the store (a second server on the same store never saw it run).
    const otherEngine = createEngine({ builtins: false, tools: [tool], store })
    const compiles = vi.spyOn(otherEngine, 'compile')
    const other = await serve({ engine: otherEngine })
    expect(parents((await send(other.server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun)).toEqual(expected)
    // Compiled once, not at every read (a large definition cost 100–200 ms a read).
    expect(parents((await send(other.server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun)).toEqual(expected)
    expect(compiles).toHaveBeenCalledTimes(1)
  })

  it('close() does not wait for the keep-alive of a client whose event stream it ended (Node\'s fetch keeps one 4 s)', async () => {
    const { server, engine } = await serve()
    const handle = engine.start(diamond)
    await expect.poll(async () => (await send(server.port, `/api/runs/${handle.id}`, { headers: AUTH })).status).toBe(200)
    const response = await fetch(`http://127.0.0.1:${server.port}/api/runs/${handle.id}/events`, { headers: AUTH })
    expect(response.status).toBe(200)
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const drained = (async () => {
      while (!(await reader.read()).done);
    })()
    const outcome = await Promise.race([server.close().then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2_000))])
    expect(outcome).toBe('closed')
    await drained
  })

  it('closes the stream of a run suspended by the engine closing without its end, so clients open it again', async () => {
    const store = new MemoryRunStore()
    const { tool } = gatedTool()
    const engine = createEngine({ builtins: false, tools: [tool], store })
    const { server } = await serve({ engine })
    const { id } = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).json as { id: string }
    await expect.poll(async () => ((await send(server.port, `/api/runs/${id}`, { headers: AUTH })).json as ApiRun).tasks[0]?.status).toBe('running')
    const stream = readEvents(server.port, `/api/runs/${id}/events`, AUTH)
    await expect.poll(() => server.stats().subscribers).toBe(1)
    await engine.close()
    const { events } = await stream
    const names = events.map((event) => event.event)
    // The suspension's run:finished is sent; `end` (the run is over) is not: it goes on when resumed.
    expect(names).toContain('run:finished')
    expect(names).not.toContain('end')
    expect((await store.load(id))?.status).toBe('running')
  })

  it('forgets a result with its run, and leaves nothing subscribed when it cannot listen', async () => {
    const { server, open, engine } = await serve({ keepFinishedRuns: 1 })
    const first = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).json as { id: string }
    open()
    await finished(server.port, first.id)
    expect((await send(server.port, `/api/runs/${first.id}/tasks/a`, { headers: AUTH })).status).toBe(200)
    const second = (await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: diamond } })).json as { id: string }
    await finished(server.port, second.id)
    expect((await send(server.port, `/api/runs/${first.id}`, { headers: AUTH })).status).toBe(404)
    expect((await send(server.port, `/api/runs/${first.id}/tasks/a`, { headers: AUTH })).status).toBe(404)

    const other = createEngine({ builtins: false })
    cleanups.push(() => other.close())
    await expect(startServer({ engine: other, token: TOKEN, port: server.port })).rejects.toThrow(/EADDRINUSE/)
    expect(other.events.wants('run:started')).toBe(false)
    expect(engine.events.wants('run:started')).toBe(true)
  })
})

describe('load (RELIABILITY LD-02, short)', () => {
  it('under more submissions than it takes, answers 429 with Retry-After and completes every run it accepted', async () => {
    const slow = defineTool({ name: 'test.slow', input: z.object({}), run: async (_input, ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 50))
      return ctx.taskId
    } })
    const engine = createEngine({ builtins: false, tools: [slow] })
    // Every accepted run stays readable (more than the 200 finished runs kept by default may be accepted).
    const { server } = await serve({ engine, maxActiveRuns: 20, keepFinishedRuns: 1000 })
    const accepted: string[] = []
    let refused = 0
    let next = 0
    const submissions = 600
    const client = async (): Promise<void> => {
      while (next < submissions) {
        next++
        const reply = await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: { id: 'load', tasks: [{ id: 'a', tool: 'test.slow' }, { id: 'b', tool: 'test.slow', dependsOn: ['a'] }] } } })
        if (reply.status === 201) accepted.push((reply.json as { id: string }).id)
        else {
          expect(reply.status).toBe(429)
          expect(reply.headers['retry-after']).toBe('1')
          refused++
        }
      }
    }
    await Promise.all(Array.from({ length: 32 }, client))
    expect(accepted.length + refused).toBe(submissions)
    expect(refused).toBeGreaterThan(0)
    expect(accepted.length).toBeGreaterThanOrEqual(20)
    for (const id of accepted) expect((await finished(server.port, id)).status, id).toBe('succeeded')
    expect(server.stats().activeRuns).toBe(0)
  }, 60_000)
})
