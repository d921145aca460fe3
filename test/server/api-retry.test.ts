/**
 * `POST /api/runs/:id/retry`: a durable run that ended failed runs again from where it failed,
 * through the HTTP API (what `taskweave retry` and `engine.retry()` do), and what it refuses.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, MemoryRunStore } from 'taskweave'
import type { Engine } from 'taskweave'
import { startServer } from 'taskweave/server'
import type { TaskweaveServer } from 'taskweave/server'
import { send } from './http-client.js'

const TOKEN = 'test-token-0123456789abcdef'
const AUTH = { authorization: `Bearer ${TOKEN}` }

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A server on an engine whose tool fails for the ids in `broken`. */
async function serve(broken: Set<string>, store?: MemoryRunStore): Promise<{ server: TaskweaveServer; engine: Engine; calls: string[] }> {
  const calls: string[] = []
  const flaky = defineTool({
    name: 'flaky',
    input: z.object({ id: z.string() }),
    run: async ({ id }) => {
      calls.push(id)
      await new Promise((resolve) => setImmediate(resolve))
      if (broken.has(id)) throw new Error(`${id} is broken`)
      return id
    },
  })
  const engine = createEngine({ builtins: false, tools: [flaky], ...(store !== undefined ? { store } : {}) })
  const server = await startServer({ token: TOKEN, port: 0, engine })
  cleanups.push(() => engine.close(), () => server.close())
  return { server, engine, calls }
}

const flow = {
  id: 'pair',
  tasks: [
    { id: 'a', tool: 'flaky', input: { id: 'a' } },
    { id: 'b', tool: 'flaky', input: { id: 'b' }, dependsOn: ['a'] },
    { id: 'c', tool: 'flaky', input: { id: 'c' }, dependsOn: ['b'] },
  ],
}

async function ended(port: number, id: string): Promise<{ status: string; tasks: { id: string; status: string }[] }> {
  for (;;) {
    const res = await send(port, `/api/runs/${id}`, { headers: AUTH })
    const run = res.json as { status: string; tasks: { id: string; status: string }[] }
    if (run.status !== 'running') return run
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('POST /api/runs/:id/retry', () => {
  it('runs a failed run again from where it failed (202), and the run ends succeeded; what succeeded ran once', async () => {
    const broken = new Set(['b'])
    const store = new MemoryRunStore()
    const { server, calls } = await serve(broken, store)
    const started = await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: flow, runId: 'r1', failFast: true } })
    expect(started.status).toBe(201)
    const failed = await ended(server.port, 'r1')
    expect(failed.status).toBe('failed')
    expect((failed as { reason?: string }).reason).toBe('failFast: task "b" failed')

    broken.clear()
    const retried = await send(server.port, '/api/runs/r1/retry', { method: 'POST', headers: AUTH, body: { by: 'ops dashboard' } })
    expect(retried.status).toBe(202)
    expect(retried.json).toEqual({ id: 'r1', status: 'running' })
    expect(retried.headers.location).toBe('/api/runs/r1')
    const run = await ended(server.port, 'r1')
    expect(run.status).toBe('succeeded')
    expect((run as { reason?: string }).reason).toBeUndefined()
    expect(run.tasks.map((task) => `${task.id}:${task.status}`)).toEqual(['a:succeeded', 'b:succeeded', 'c:succeeded'])
    expect(calls).toEqual(['a', 'b', 'b', 'c'])
    const reopen = (await store.load('r1'))?.entries.find((entry) => entry.kind === 'reopen')
    expect(JSON.parse(reopen?.data ?? '{}')).toEqual({ by: 'ops dashboard', tasks: [{ taskId: 'b', attempt: 1 }] })
  })

  it('refuses what cannot be retried: a run that succeeded or is unknown, a task that did not fail, a bad body, a server without a store', async () => {
    const { server } = await serve(new Set(), new MemoryRunStore())
    await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: flow, runId: 'ok' } })
    expect((await ended(server.port, 'ok')).status).toBe('succeeded')
    const succeeded = await send(server.port, '/api/runs/ok/retry', { method: 'POST', headers: AUTH })
    expect(succeeded.status).toBe(409)
    expect(succeeded.text).toContain('succeeded: there is nothing to retry')
    expect((await send(server.port, '/api/runs/nope/retry', { method: 'POST', headers: AUTH })).status).toBe(404)
    for (const body of [{ tasks: 'b' }, { tasks: [5] }, { by: 7 }, { bogus: true }, [1]]) {
      expect((await send(server.port, '/api/runs/ok/retry', { method: 'POST', headers: AUTH, body })).status, JSON.stringify(body)).toBe(400)
    }
    expect((await send(server.port, '/api/runs/ok/retry', { method: 'POST' })).status).toBe(401)

    const { server: bare } = await serve(new Set(['a']))
    await send(bare.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow: flow, runId: 'mem' } })
    await ended(bare.port, 'mem')
    const noStore = await send(bare.port, '/api/runs/mem/retry', { method: 'POST', headers: AUTH })
    expect(noStore.status).toBe(409)
    expect(noStore.text).toContain('no run store')
  })
})
