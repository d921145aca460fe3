/**
 * Ambiguous submits (RELIABILITY CR-09): a client whose answer was lost sends its request again
 * with the same `Idempotency-Key` and gets the run the first request made, never a second run. A
 * proxy forwards every request and drops 30% of the answers, with a store and without one. And
 * the moments a store is still taking a run: a copy of its request, a cancel.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, MemoryRunStore } from 'taskweave'
import { startServer } from 'taskweave/server'
import { mulberry32 } from '../../bench/lib/prng.js'
import { droppingProxy, send } from './http-client.js'

const TOKEN = 'test-token-0123456789abcdef'
const AUTH = { authorization: `Bearer ${TOKEN}` }

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: ({ n }) => n })
const body = (n: number) => ({ workflow: { id: 'one', tasks: [{ id: 'a', tool: 'echo', input: { n } }] } })

/** Submits until an answer comes back (a lost one is sent again, with the same key); the answers. */
async function submitUntilAnswered(port: number, n: number): Promise<{ readonly status: number; readonly id: string; readonly tries: number }> {
  for (let tries = 1; tries <= 20; tries++) {
    const res = await send(port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'idempotency-key': `order-${n}` }, body: body(n) }).catch(() => undefined)
    if (res === undefined) continue
    expect([200, 201]).toContain(res.status)
    return { status: res.status, id: (res.json as { id: string }).id, tries }
  }
  throw new Error(`request ${n} was never answered`)
}

describe('POST /api/runs with an Idempotency-Key', () => {
  it.each([
    { where: 'with a store', withStore: true },
    { where: 'without a store', withStore: false },
  ])('$where: 500 submits through a proxy that drops 3 answers in 10 make exactly 500 runs; a request sent again gets the first one\'s run', async ({ withStore }) => {
    const engine = createEngine({ tools: [echo], builtins: false, ...(withStore ? { store: new MemoryRunStore() } : {}) })
    const server = await startServer({ token: TOKEN, port: 0, engine, keepFinishedRuns: 1000 })
    cleanups.push(() => engine.close(), () => server.close())
    // Seeded, about 3 answers in 10 (which ones depends on the order answers complete in).
    const coin = mulberry32(9)
    const proxy = await droppingProxy(server.port, () => coin() < 0.3)
    cleanups.push(() => proxy.close())
    const answers = new Array<{ status: number; id: string; tries: number }>(500)
    let next = 0
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < 500) {
        const n = next++
        answers[n] = await submitUntilAnswered(proxy.port, n)
      }
    }))
    const retried = answers.filter((answer) => answer.tries > 1)
    process.stdout.write(`${JSON.stringify({ case: 'CR-09', withStore, requests: answers.reduce((sum, a) => sum + a.tries, 0), dropped: proxy.dropped, retried: retried.length })}\n`)
    expect(proxy.dropped).toBeGreaterThan(100)
    // A request whose answer was lost was sent again and answered 200 with the run the first made.
    expect(retried.length).toBeGreaterThan(100)
    for (const answer of retried) expect(answer.status).toBe(200)
    expect(new Set(answers.map((answer) => answer.id)).size).toBe(500)
    const listed = (await send(server.port, '/api/runs?limit=1000', { headers: AUTH })).json as { runs: { id: string }[] }
    expect(listed.runs).toHaveLength(500)
    expect(new Set(listed.runs.map((run) => run.id))).toEqual(new Set(answers.map((answer) => answer.id)))
  }, 60_000)

  it('refuses the key with another request (409), an ill-formed key (400), and keeps 409 for a reused runId without a key', async () => {
    const engine = createEngine({ tools: [echo], builtins: false, store: new MemoryRunStore() })
    const server = await startServer({ token: TOKEN, port: 0, engine })
    cleanups.push(() => engine.close(), () => server.close())
    const post = (headers: Record<string, string>, payload: object) => send(server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, ...headers }, body: payload })
    const first = await post({ 'idempotency-key': 'k1' }, body(1))
    expect(first.status).toBe(201)
    const again = await post({ 'idempotency-key': 'k1' }, body(1))
    expect(again.status).toBe(200)
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.json).toMatchObject({ id: (first.json as { id: string }).id, workflowId: 'one' })
    const other = await post({ 'idempotency-key': 'k1' }, body(2))
    expect(other.status).toBe(409)
    expect((other.json as { error: { message: string } }).error.message).toMatch(/^the Idempotency-Key was used before for a different request/)
    expect((await post({ 'idempotency-key': '' }, body(1))).status).toBe(400)
    expect((await post({ 'idempotency-key': 'é'.repeat(3) }, body(1))).status).toBe(400)
    expect((await post({}, { ...body(3), runId: 'mine' })).status).toBe(201)
    expect((await post({}, { ...body(3), runId: 'mine' })).status).toBe(409)
    // Another key naming an existing run id: that run exists (the key names no run of its own).
    const named = await post({ 'idempotency-key': 'k2' }, { ...body(3), runId: 'mine' })
    expect(named.status).toBe(409)
    expect((named.json as { error: { message: string } }).error.message).toBe('a run "mine" exists already')
    const replayed = await post({ 'idempotency-key': 'k3' }, { ...body(4), runId: 'theirs' })
    expect(replayed.status).toBe(201)
    expect((await post({ 'idempotency-key': 'k3' }, { ...body(4), runId: 'theirs' })).status).toBe(200)
  })

  it('while the store has not yet taken the first request\'s run, a copy is told to try again (409, Retry-After); a replay is answered even at maxActiveRuns', async () => {
    const store = new SlowCreate()
    let open!: () => void
    const opened = new Promise<void>((resolve) => (open = resolve))
    const gate = defineTool({ name: 'gate', input: z.object({ n: z.number() }), run: async () => opened })
    const engine = createEngine({ tools: [gate], builtins: false, store })
    const server = await startServer({ token: TOKEN, port: 0, engine, maxActiveRuns: 1 })
    cleanups.push(() => engine.close(), () => server.close(), async () => open())
    const post = (n: number) => send(server.port, '/api/runs', { method: 'POST', headers: { ...AUTH, 'idempotency-key': 'slow' }, body: { workflow: { id: 'held', tasks: [{ id: 'a', tool: 'gate', input: { n } }] } } })
    store.hold = true
    const first = post(1)
    await expect.poll(() => store.waiting).toBe(1)
    const copy = await post(1)
    expect(copy.status).toBe(409)
    expect(copy.headers['retry-after']).toBe('1')
    expect((copy.json as { error: { message: string } }).error.message).toBe('a request with this Idempotency-Key is being handled: try again')
    store.letGo()
    expect((await first).status).toBe(201)
    // The one run the server takes is running (its gate is shut): a new one is refused, a replay needs no room of its own.
    expect((await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: body(2) })).status).toBe(429)
    const replay = await post(1)
    expect(replay.status).toBe(200)
    expect(replay.json).toMatchObject({ id: ((await first).json as { id: string }).id })
  })
})

describe('POST /api/runs/:id/cancel while the store is still taking the run', () => {
  it('waits until the store holds the run, then cancels it there: the store says cancelled, not a run left for a resume', async () => {
    const store = new SlowCreate()
    const gate = defineTool({ name: 'gate', input: z.object({}), run: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error))) })
    const engine = createEngine({ tools: [gate], builtins: false, store })
    const server = await startServer({ token: TOKEN, port: 0, engine })
    cleanups.push(() => engine.close(), () => server.close())
    store.hold = true
    const made = send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: { id: 'held', tasks: [{ id: 'a', tool: 'gate' }] }, runId: 'early' } })
    await expect.poll(() => store.waiting).toBe(1)
    const cancel = send(server.port, '/api/runs/early/cancel', { method: 'POST', headers: AUTH, body: { reason: 'changed my mind' } })
    await new Promise((resolve) => setTimeout(resolve, 50))
    store.letGo()
    expect((await made).status).toBe(201)
    expect(await cancel).toMatchObject({ status: 202, json: { id: 'early', status: 'cancelling', saved: true } })
    await expect.poll(async () => (await store.load('early'))?.status).toBe('cancelled')
    expect((await store.load('early'))?.entries.find((entry) => entry.kind === 'stop')?.data).toContain('changed my mind')
  })
})

/** A store whose run creations wait while `hold` is set, until let go. */
class SlowCreate extends MemoryRunStore {
  hold = false
  readonly #waiting: (() => void)[] = []
  get waiting(): number {
    return this.#waiting.length
  }
  override async createRun(...args: Parameters<MemoryRunStore['createRun']>): ReturnType<MemoryRunStore['createRun']> {
    if (this.hold) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    return super.createRun(...args)
  }
  letGo(): void {
    this.hold = false
    for (const go of this.#waiting.splice(0)) go()
  }
}
