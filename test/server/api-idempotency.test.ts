/**
 * Ambiguous submits (RELIABILITY CR-09): a client whose answer was lost sends its request again
 * with the same `Idempotency-Key` and gets the run the first request made, never a second run. A
 * proxy forwards every request and drops 30% of the answers, with a store and without one.
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
    // Seeded: the same answers are dropped on every run of the test.
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
})
