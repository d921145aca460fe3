/**
 * `engine.retry()`: an operator runs a durable run that ended failed, partial or cancelled again
 * from where it failed (RELIABILITY.md RT-06, redrive). What succeeded never runs again; a retried
 * task keeps its idempotency key, its attempts go on from the last one, and its retry budget is
 * whole again; the journal says who retried it and when.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, MemoryRunStore, TaskweaveError } from 'taskweave'
import type { Engine } from 'taskweave'
import type { RunStore } from 'taskweave/ports'
import { openSqliteStore } from 'taskweave/stores/sqlite'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inAnotherProcess } from '../helpers.js'

/** A tool that fails while its task id is in `broken`, and notes every call with its attempt and idempotency key. */
function flakyTool(broken: Set<string>) {
  const calls: { id: string; attempt: number; key: string }[] = []
  const tool = defineTool({
    name: 'flaky',
    input: z.object({ id: z.string() }),
    run: async ({ id }, ctx) => {
      calls.push({ id, attempt: ctx.attempt, key: ctx.idempotencyKey })
      await new Promise((resolve) => setImmediate(resolve))
      if (broken.has(id)) throw new Error(`${id} is broken`)
      return id
    },
  })
  return { tool, calls, ran: (id: string) => calls.filter((call) => call.id === id).length }
}

const retry2 = { maxAttempts: 2, initialDelay: 1 } as const

/** a → b → c, and d beside them; b has two attempts. */
const chain = {
  id: 'chain',
  tasks: [
    { id: 'a', tool: 'flaky', input: { id: 'a' } },
    { id: 'b', tool: 'flaky', input: { id: 'b' }, dependsOn: ['a'], retry: retry2 },
    { id: 'c', tool: 'flaky', input: { id: 'c' }, dependsOn: ['b'] },
    { id: 'd', tool: 'flaky', input: { id: 'd' } },
  ],
}

async function rejection(promise: Promise<unknown>): Promise<TaskweaveError> {
  try {
    await promise
  } catch (err) {
    if (TaskweaveError.is(err)) return err
    throw err
  }
  throw new Error('it did not reject')
}

describe('engine.retry(): an operator retries a finished durable run', () => {
  it('runs the failed task again (same idempotency key, next attempt, whole retry budget) and what its failure skipped; what succeeded does not run again', async () => {
    const store = new MemoryRunStore()
    const broken = new Set(['b'])
    const flaky = flakyTool(broken)
    const engine: Engine = createEngine({ tools: [flaky.tool], store, builtins: false })
    try {
      const first = await engine.run(chain, { runId: 'r1' })
      expect(first.status).toBe('partial')
      expect(first.tasks['c']?.status).toBe('skipped')
      expect(flaky.ran('b')).toBe(2)

      // Still broken: the retry gets a whole budget again (attempts 3 and 4), then fails again.
      const again = await (await engine.retry('r1', { by: 'ops@example' })).result
      expect(again.status).toBe('partial')
      expect(flaky.calls.filter((call) => call.id === 'b').map((call) => call.attempt)).toEqual([1, 2, 3, 4])

      broken.clear()
      const handle = await engine.retry('r1', { by: 'ada' })
      const fixed = await handle.result
      expect(fixed.status).toBe('succeeded')
      expect(fixed.tasks['b']).toMatchObject({ status: 'succeeded', attempts: 5 })
      expect(fixed.tasks['c']?.status).toBe('succeeded')
      expect(['a', 'b', 'c', 'd'].map((id) => flaky.ran(id))).toEqual([1, 5, 1, 1])
      expect(new Set(flaky.calls.filter((call) => call.id === 'b').map((call) => call.key))).toEqual(new Set(['r1/b']))

      const stored = await store.load('r1')
      expect(stored?.status).toBe('succeeded')
      const reopens = stored?.entries.filter((entry) => entry.kind === 'reopen').map((entry) => JSON.parse(entry.data ?? '{}') as unknown)
      expect(reopens).toEqual([
        { by: 'ops@example', tasks: [{ taskId: 'b', attempt: 2 }] },
        { by: 'ada', tasks: [{ taskId: 'b', attempt: 4 }] },
      ])
      // A resume of the finished run replays all of it: nothing runs.
      await expect(engine.resume('r1')).rejects.toMatchObject({ code: 'TW_INVALID_STATE' })
    } finally {
      await engine.close()
    }
  })

  it('retries only the tasks named; the others stay failed and the run ends partial again', async () => {
    const store = new MemoryRunStore()
    const broken = new Set(['x', 'y'])
    const flaky = flakyTool(broken)
    const engine = createEngine({ tools: [flaky.tool], store, builtins: false })
    try {
      const flow = { id: 'two', tasks: ['x', 'y', 'z'].map((id) => ({ id, tool: 'flaky', input: { id } })) }
      expect((await engine.run(flow, { runId: 'r2' })).status).toBe('partial')
      broken.clear()
      const result = await (await engine.retry('r2', { tasks: ['x'] })).result
      expect(result.status).toBe('partial')
      expect(result.tasks['x']?.status).toBe('succeeded')
      expect(result.tasks['y']?.status).toBe('failed')
      expect(['x', 'y', 'z'].map((id) => flaky.ran(id))).toEqual([2, 1, 1])
      // y is still retryable later; z, which succeeded, never is.
      const err = await rejection(engine.retry('r2', { tasks: ['z'] }))
      expect(err.code).toBe('TW_INVALID_STATE')
      expect(err.message).toMatch(/cannot retry "z": only a task whose last attempt failed for good is retried \(the failed ones: "y"\)/)
      expect((await (await engine.retry('r2')).result).status).toBe('succeeded')
      expect(flaky.ran('y')).toBe(2)
    } finally {
      await engine.close()
    }
  })

  it('goes on with a run that was cancelled or stopped by failFast: the interrupted and never-started tasks run, the finished ones do not', async () => {
    const store = new MemoryRunStore()
    const broken = new Set(['boom'])
    const flaky = flakyTool(broken)
    const held: (() => void)[] = []
    const slow = defineTool({ name: 'slow', input: z.object({ id: z.string() }), run: ({ id }, ctx) => new Promise<string>((resolve, reject) => {
      held.push(() => resolve(id))
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))
    }) })
    const engine = createEngine({ tools: [flaky.tool, slow], store, builtins: false, concurrency: 2 })
    try {
      // failFast: boom fails, long (running) is cancelled, later ones never start.
      const flow = {
        id: 'ff',
        tasks: [
          { id: 'ok1', tool: 'flaky', input: { id: 'ok1' } },
          { id: 'boom', tool: 'flaky', input: { id: 'boom' }, dependsOn: ['ok1'] },
          { id: 'long', tool: 'slow', input: { id: 'long' }, dependsOn: ['ok1'] },
          { id: 'after', tool: 'flaky', input: { id: 'after' }, dependsOn: ['long'] },
        ],
      }
      const first = await engine.run(flow, { runId: 'r3', failFast: true })
      expect(first.status).toBe('failed')
      expect(first.tasks['long']?.status).toBe('cancelled')
      // long's call was aborted: what it left here is no call of the retry's.
      held.length = 0
      broken.clear()
      const handle = await engine.retry('r3')
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve))
      held.splice(0).forEach((go) => go())
      const result = await handle.result
      expect(result.status).toBe('succeeded')
      expect(['ok1', 'boom', 'after'].map((id) => flaky.ran(id))).toEqual([1, 2, 1])

      // Cancelled by its caller with nothing failed: the retry goes past the stop.
      const controller = new AbortController()
      const cancelled = engine.start({ id: 'c', tasks: [{ id: 'wait', tool: 'slow', input: { id: 'wait' } }, { id: 'next', tool: 'flaky', input: { id: 'next' }, dependsOn: ['wait'] }] }, { runId: 'r4', signal: controller.signal })
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve))
      held.length = 0
      controller.abort()
      expect((await cancelled.result).status).toBe('cancelled')
      expect((await store.load('r4'))?.status).toBe('cancelled')
      const resumed = await engine.retry('r4')
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve))
      held.splice(0).forEach((go) => go())
      expect((await resumed.result).status).toBe('succeeded')
      expect(flaky.ran('next')).toBe(1)
    } finally {
      await engine.close()
    }
  })

  it('refuses what cannot be retried, naming why, and writes nothing', async () => {
    const store = new MemoryRunStore()
    const flaky = flakyTool(new Set())
    const engine = createEngine({ tools: [flaky.tool], store, builtins: false })
    try {
      await engine.run(chain, { runId: 'done' })
      const finished = await rejection(engine.retry('done'))
      expect(finished).toMatchObject({ code: 'TW_INVALID_STATE', message: 'run "done" succeeded: there is nothing to retry' })
      expect((await rejection(engine.retry('nope'))).code).toBe('TW_STORE_NOT_FOUND')
      expect((await rejection(engine.retry('done', { tasks: 'b' } as never))).code).toBe('TW_INVALID_OPTION')
      expect((await rejection(engine.retry('done', { by: '' }))).code).toBe('TW_INVALID_OPTION')
      expect((await rejection(engine.retry('done', { taks: ['b'] } as never))).message).toMatch(/did you mean "tasks"/)
      expect((await store.load('done'))?.entries.some((entry) => entry.kind === 'reopen')).toBe(false)
      const running = engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'flaky', input: { id: 'a' } }] }, { runId: 'live' })
      expect((await rejection(engine.retry('live'))).code).toBe('TW_INVALID_STATE')
      await running.result
      // A store without reopen() (a third party's, written before it): refused, saying so.
      const withoutReopen: RunStore = inAnotherProcess(store)
      delete (withoutReopen as { reopen?: unknown }).reopen
      const bare = createEngine({ tools: [flaky.tool], store: withoutReopen, builtins: false })
      expect((await rejection(bare.retry('done'))).message).toMatch(/cannot reopen finished runs/)
      await bare.close()
    } finally {
      await engine.close()
    }
  })

  it('review defects: a task failed TW_UNCERTAIN after its starts without outcome is retried (its failure is that of its last start); a failFast run retried for one task does not stop again on the other; the handlers of tasks the stop cancelled run', async () => {
    // A journal left by three processes that each died with "t" started.
    const flow = { id: 'f', tasks: [{ id: 't', tool: 'flaky', input: { id: 't' } }] }
    const flaky = flakyTool(new Set())
    // The run's record as an engine writes it, then three starts of "t" and nothing else.
    const scratch = new MemoryRunStore()
    const maker = createEngine({ tools: [flaky.tool], store: scratch, builtins: false })
    await maker.run(flow, { runId: 'u' })
    await maker.close()
    const made = await scratch.load('u')
    if (made === undefined) throw new Error('no run made')
    flaky.calls.length = 0
    const store = new MemoryRunStore()
    const lease = await store.createRun({ runId: 'u', workflowId: made.workflowId, workflowHash: made.workflowHash, definition: made.definition, inputs: made.inputs, settings: made.settings, createdAt: made.createdAt }, { owner: 'dead', ttlMs: 1, now: 0 })
    const at = Date.now()
    await store.append([{ runId: 'u', epoch: lease.epoch, entries: [1, 2, 3].map((attempt) => ({ seq: attempt, kind: 'start' as const, taskId: 't', attempt, at })) }])
    const engine = createEngine({ tools: [flaky.tool], store, builtins: false })
    try {
      const uncertain = await (await engine.resume('u')).result
      expect(uncertain.tasks['t']).toMatchObject({ status: 'failed', error: { code: 'TW_UNCERTAIN' } })
      expect((await store.load('u'))?.entries.filter((entry) => entry.kind === 'fail').map((entry) => entry.attempt)).toEqual([3])
      const retried = await (await engine.retry('u')).result
      expect(retried.status).toBe('succeeded')
      expect(flaky.calls.filter((call) => call.id === 't').map((call) => call.attempt)).toEqual([4])

      // failFast: a and b both fail; retrying a alone leaves b failed without stopping the run again.
      const broken = new Set(['a', 'b'])
      const two = flakyTool(broken)
      const heard: string[] = []
      const engine2 = createEngine({ tools: [two.tool], store, builtins: false })
      const pair = { id: 'ff', tasks: [{ id: 'a', tool: 'flaky', input: { id: 'a' } }, { id: 'b', tool: 'flaky', input: { id: 'b' } }, { id: 'c', tool: 'flaky', input: { id: 'c' }, dependsOn: ['a', 'b'] }] }
      expect((await engine2.run(pair, { runId: 'ff', failFast: true })).status).toBe('failed')
      broken.clear()
      const onlyA = await (await engine2.retry('ff', { tasks: ['a'] })).result
      expect(onlyA.tasks['a']?.status).toBe('succeeded')
      expect(onlyA.tasks['b']?.status).toBe('failed')
      expect(onlyA.status).toBe('partial')
      await engine2.close()

      // A stop cancels b and c (their handlers run and are journaled); after the retry they run, and so do their handlers.
      const broken3 = new Set(['x'])
      const three = flakyTool(broken3)
      const held: (() => void)[] = []
      const slow = defineTool({ name: 'slow', input: z.object({ id: z.string() }), run: ({ id }, ctx) => new Promise<string>((resolve, reject) => {
        held.push(() => resolve(id))
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))
      }) })
      const engine3 = createEngine({ tools: [three.tool, slow], store, builtins: false })
      const flow3 = { id: 'h', tasks: [{ id: 'x', tool: 'flaky', input: { id: 'x' } }, { id: 'y', tool: 'slow', input: { id: 'y' } }] }
      const onTaskComplete = (completion: { taskId: string; status: string }): void => void heard.push(`${completion.taskId}:${completion.status}`)
      expect((await engine3.run(flow3, { runId: 'h', failFast: true, onTaskComplete })).tasks['y']?.status).toBe('cancelled')
      expect(heard).toEqual(['x:failed', 'y:cancelled'])
      broken3.clear()
      held.length = 0
      const handle = await engine3.retry('h', { onTaskComplete })
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve))
      held.splice(0).forEach((go) => go())
      expect((await handle.result).status).toBe('succeeded')
      expect(heard.slice(2).sort()).toEqual(['x:succeeded', 'y:succeeded'])
      await engine3.close()
    } finally {
      await engine.close()
    }
  })

  it('review defects: what would stop the resume is found before the store reopens the run (an unknown tool, a parked task): the run stays as it ended', async () => {
    const store = new MemoryRunStore()
    const broken = new Set(['a'])
    const flaky = flakyTool(broken)
    const engine = createEngine({ tools: [flaky.tool], store, builtins: false })
    try {
      expect((await engine.run({ id: 'one', tasks: [{ id: 'a', tool: 'flaky', input: { id: 'a' } }] }, { runId: 'gone' })).status).toBe('failed')
    } finally {
      await engine.close()
    }
    const without = createEngine({ tools: [], store, builtins: false })
    try {
      const err = await rejection(without.retry('gone'))
      expect(err.code).toBe('TW_VALIDATION')
      const stored = await store.load('gone')
      expect(stored?.status).toBe('failed')
      expect(stored?.entries.some((entry) => entry.kind === 'reopen')).toBe(false)
    } finally {
      await without.close()
    }
  })

  it('works the same on SQLite, across processes: a retry in a new engine over the same file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-retry-'))
    try {
      const path = join(dir, 'runs.db')
      const broken = new Set(['b'])
      const flaky = flakyTool(broken)
      const store1 = await openSqliteStore({ path })
      const engine1 = createEngine({ tools: [flaky.tool], store: store1, builtins: false })
      expect((await engine1.run(chain, { runId: 'sq' })).status).toBe('partial')
      await engine1.close()
      await store1.close()

      broken.clear()
      const store2 = await openSqliteStore({ path })
      const engine2 = createEngine({ tools: [flaky.tool], store: store2, builtins: false })
      const result = await (await engine2.retry('sq', { by: 'night shift' })).result
      expect(result.status).toBe('succeeded')
      expect(['a', 'b', 'c', 'd'].map((id) => flaky.ran(id))).toEqual([1, 3, 1, 1])
      const stored = await store2.load('sq')
      expect(stored?.status).toBe('succeeded')
      expect(stored?.entries.find((entry) => entry.kind === 'reopen')?.data).toBe('{"by":"night shift","tasks":[{"taskId":"b","attempt":2}]}')
      await engine2.close()
      await store2.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
