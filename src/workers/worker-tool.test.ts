import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { TaskweaveError } from '../core/errors.js'
import { silentLogger } from '../core/logger.js'
import type { ToolContext } from '../core/tool.js'
import { ManualClock } from '../testing/manual-clock.js'
import { WorkerPools } from './pools.js'
import { defineWorkerTool } from './worker-tool.js'
import { createEngine } from '../engine/engine.js'
import { defineTool } from '../core/tool.js'

const fixture = new URL('../../examples/seeds/fixtures/cpu-work.ts', import.meta.url)
const pools = new WorkerPools()
afterAll(() => pools.close())

function context(signal: AbortSignal = new AbortController().signal): ToolContext {
  return { signal, runId: 'run', taskId: 'task', attempt: 1, idempotencyKey: 'run/task', logger: silentLogger, progress() {}, addTask() {} }
}

// One thread, kept: the tests below reuse it rather than paying tsx's start-up again.
const pool = { maxThreads: 1, minThreads: 0, idleTimeout: '1m' } as const
const primes = defineWorkerTool({
  name: 'math.countPrimes',
  input: z.object({ below: z.number() }),
  output: z.object({ below: z.number(), primes: z.number(), threadId: z.number() }),
  module: fixture,
  pools,
  pool,
})

describe('defineWorkerTool', () => {
  it('runs the exported function in a worker thread, loading a TypeScript module through tsx', async () => {
    const out = await primes.run({ below: 100 }, context())
    expect(out.primes).toBe(25)
    expect(out.threadId).not.toBe(0)
    expect(primes.worker).toEqual({ module: expect.stringMatching(/cpu-work\.ts$/), exportName: 'default', mode: 'pool' })
    expect(pools.stats()).toEqual([expect.objectContaining({ maxThreads: 1, completed: 1 })])
  })

  it('shares one pool between tools of the same module and options, calling the named export', async () => {
    const burn = defineWorkerTool({ name: 'cpu.burn', input: z.object({ ms: z.number() }), module: fixture, exportName: 'burn', pools, pool })
    const out = (await burn.run({ ms: 5 }, context())) as { iterations: number; threadId: number }
    expect(out.iterations).toBeGreaterThan(0)
    expect(pools.size).toBe(1)
  })

  it('rebuilds an error thrown in the thread with its message and code', async () => {
    const explode = defineWorkerTool({ name: 'cpu.explode', input: z.object({ message: z.string(), code: z.string().optional() }), module: fixture, exportName: 'explode', pools, pool })
    const coded = await Promise.resolve(explode.run({ message: 'matrix is singular', code: 'E_SINGULAR' }, context())).catch((e: unknown) => e)
    expect(TaskweaveError.is(coded, 'E_SINGULAR')).toBe(true)
    expect(coded).toMatchObject({ message: 'matrix is singular', retryable: true })
    // A plain Error gets the code an in-process tool's plain Error would get.
    await expect(Promise.resolve(explode.run({ message: 'plain' }, context()))).rejects.toMatchObject({ code: 'TW_TOOL_FAILED', message: 'plain' })
  })

  it('reports a missing export as TW_WORKER_EXPORT, not retryable', async () => {
    const missing = defineWorkerTool({ name: 'cpu.missing', input: z.unknown(), module: fixture, exportName: 'nothingHere', pools, pool })
    const err = await Promise.resolve(missing.run({}, context())).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TW_WORKER_EXPORT', retryable: false, details: { exports: expect.arrayContaining(['burn', 'default']) } })
  })

  it('reports a module that fails to load with its own error as TW_WORKER_MODULE', async () => {
    const broken = defineWorkerTool({ name: 'cpu.broken', input: z.unknown(), module: new URL('../../examples/seeds/fixtures/broken-worker.ts', import.meta.url), pools, pool })
    const err = await Promise.resolve(broken.run({}, context())).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TW_WORKER_MODULE', retryable: false })
    expect((err as Error).message).toContain('MODEL_PATH is not set')
  })

  it('rejects output its schema refuses with TW_WORKER_OUTPUT', async () => {
    const wrong = defineWorkerTool({ name: 'cpu.wrong', input: z.object({ below: z.number() }), output: z.string(), module: fixture, pools, pool })
    await expect(Promise.resolve(wrong.run({ below: 10 }, context()))).rejects.toMatchObject({ code: 'TW_WORKER_OUTPUT', retryable: false })
  })

  it('runs inline on the calling thread when asked', async () => {
    const inline = defineWorkerTool({ name: 'cpu.inline', input: z.object({ below: z.number() }), module: fixture, exportName: 'countPrimes', mode: 'inline' })
    expect(await inline.run({ below: 100 }, context())).toEqual({ below: 100, primes: 25, threadId: 0 })
  })

  it('terminates a running task when ctx.signal aborts, and the pool recovers', async () => {
    const spin = defineWorkerTool({ name: 'cpu.spin', input: z.unknown(), module: fixture, exportName: 'spinForever', pools, pool })
    const controller = new AbortController()
    const running = Promise.resolve(spin.run({}, context(controller.signal)))
    setTimeout(() => controller.abort(new Error('run cancelled')), 50)
    await expect(running).rejects.toThrow('run cancelled')
    // The thread was terminated and replaced: the next task still runs.
    expect((await primes.run({ below: 30 }, context())).primes).toBe(10)
  })

  it('terminates a task that exceeds its timeout with TW_TIMEOUT', async () => {
    const clock = new ManualClock()
    const spin = defineWorkerTool({ name: 'cpu.spinLimited', input: z.unknown(), module: fixture, exportName: 'spinForever', pools, pool, timeout: '2s', clock })
    const running = Promise.resolve(spin.run({}, context())).catch((e: unknown) => e)
    clock.advance(2000)
    const err = await running
    expect(err).toMatchObject({ code: 'TW_TIMEOUT', details: { timeoutMs: 2000 } })
    expect(clock.pendingTimers).toBe(0)
  })

  it('refuses a task whose signal is already aborted without touching the pool', async () => {
    await expect(Promise.resolve(primes.run({ below: 10 }, context(AbortSignal.abort(new Error('too late')))))).rejects.toThrow('too late')
  })

  it('checks its definition', () => {
    const base = { name: 'x', input: z.unknown() }
    expect(() => defineWorkerTool({ ...base, module: 'relative/path.ts' })).toThrow(/file URL .* or an absolute path/)
    expect(() => defineWorkerTool({ ...base, module: new URL('./no-such-file.ts', import.meta.url) })).toThrow(/an existing file/)
    expect(() => defineWorkerTool({ ...base, module: fixture, pool: { maxThreads: 1, minThreads: 2 } })).toThrow(/pool.minThreads/)
    expect(() => defineWorkerTool({ ...base, module: fixture, timeout: 'later' as '1s' })).toThrow(/timeout/)
  })
})

describe('worker tools in a workflow', () => {
  it('wait for a thread of their pool without holding an engine slot', async () => {
    const burn = defineWorkerTool({ name: 'cpu.burn', input: z.object({ ms: z.number() }), module: fixture, exportName: 'burn', pools, pool })
    const quick = defineTool({ name: 'quick', input: z.object({}), run: () => 'quick' })
    const engine = createEngine({ builtins: false, concurrency: 2, tools: [burn, quick] })
    const handle = engine.start({
      id: 'w',
      tasks: [
        { id: 'w1', tool: 'cpu.burn', input: { ms: 200 }, priority: 2 },
        { id: 'w2', tool: 'cpu.burn', input: { ms: 200 }, priority: 2 },
        { id: 'quick', tool: 'quick', priority: 1 },
      ],
    })
    const done: string[] = []
    handle.on('task:succeeded', (e) => done.push(e.taskId))
    await new Promise((resolve) => setImmediate(resolve))
    // One thread: w2 waits for it in the limiter, so the second slot went to "quick".
    expect(engine.stats().keys).toEqual([expect.objectContaining({ key: expect.stringMatching(/^workers:/), inUse: 1, waiting: 1 })])
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    expect(done).toEqual(['quick', 'w1', 'w2'])
  })
})

