/**
 * Caps shared across owners: two owner engines, each uncapped on its own, put no more attempts of
 * a group in flight on the workers together than the shared cap; the limiters themselves (in
 * memory, on Redis) hand out leases that a dead holder cannot keep.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import type { TaskSpec } from 'taskweave'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import type { Worker } from 'taskweave/distributed'
import { createMemoryBroker, createMemorySharedLimiter, createMemoryTransport, createTransport } from 'taskweave/queues'
import type { SharedLimiter, Transport } from 'taskweave/queues'
import { openRedisSharedLimiter } from 'taskweave/queues/redis'
import { removeBrokerLeftovers } from '../queues/broker-kit.js'

const REDIS_URL = 'redis://127.0.0.1:6379'
const PREFIX = `twtest-${randomUUID().slice(0, 8)}`
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(() => removeBrokerLeftovers('redis', REDIS_URL, PREFIX), 60_000)

const BACKENDS = [
  {
    type: 'memory',
    setup: () => {
      const broker = createMemoryBroker()
      const limiter = createMemorySharedLimiter()
      return { open: (): Promise<Transport> => Promise.resolve(createMemoryTransport({ broker })), limiter: (): Promise<SharedLimiter> => Promise.resolve(limiter) }
    },
  },
  {
    type: 'redis',
    setup: () => {
      const prefix = `${PREFIX}-${randomUUID().slice(0, 4)}`
      return { open: () => createTransport({ type: 'redis', url: REDIS_URL, prefix }), limiter: () => openRedisSharedLimiter({ url: REDIS_URL, prefix }) }
    },
  },
] as const

describe.each(BACKENDS)('shared limits ($type)', ({ setup }) => {
  it('two owners together never have more attempts of a group in flight than its shared cap', async () => {
    const { open, limiter } = setup()
    const running = { now: 0, peak: 0 }
    const call = defineTool({
      name: 'provider.call',
      input: z.object({ n: z.number() }),
      run: async ({ n }) => {
        running.peak = Math.max(running.peak, ++running.now)
        await new Promise((resolve) => setTimeout(resolve, 30))
        running.now--
        return { n }
      },
    })
    const handles: Transport[] = []
    const handle = async (): Promise<Transport> => {
      const transport = await open()
      handles.push(transport)
      return transport
    }
    const workers: Worker[] = []
    const limiters: SharedLimiter[] = []
    cleanups.push(async () => {
      for (const w of workers) await w.close({ graceMs: 100 })
      for (const h of handles) await h.close()
      for (const l of limiters) await l.close()
    })
    for (let k = 0; k < 3; k++) workers.push(await startWorker({ transport: await handle(), tools: [call], builtins: false, worker: `w${k}`, concurrency: 8 }))
    const owners = []
    for (let k = 0; k < 2; k++) {
      const sharedLimiter = await limiter()
      limiters.push(sharedLimiter)
      const runner = createRemoteRunner({ transport: await handle(), shared: { limiter: sharedLimiter, groups: { llm: 3 }, leaseMs: 5000 } })
      await runner.listen()
      const engine = createEngine({ tools: [call], builtins: false, runner, concurrency: 16 })
      cleanups.push(() => engine.close())
      owners.push(engine)
    }
    const tasks: TaskSpec[] = Array.from({ length: 15 }, (_, n) => ({ id: `c${n}`, tool: 'provider.call', input: { n }, group: 'llm' }))
    const results = await Promise.all(owners.map((engine) => engine.run({ id: 'calls', tasks })))
    for (const result of results) expect(result.status).toBe('succeeded')
    expect(running.peak).toBeLessThanOrEqual(3)
    expect(running.peak).toBe(3)
  }, 60_000)

  it('the reconciler leaves alone an attempt still waiting for a shared place (it is not the broker\'s to lose)', async () => {
    const { open, limiter } = setup()
    const running = { now: 0, peak: 0 }
    const call = defineTool({
      name: 'provider.call',
      input: z.object({}),
      run: async () => {
        running.peak = Math.max(running.peak, ++running.now)
        await new Promise((resolve) => setTimeout(resolve, 600))
        running.now--
        return 'ok'
      },
    })
    const owner = await open()
    const workerHandle = await open()
    const sharedLimiter = await limiter()
    const worker = await startWorker({ transport: workerHandle, tools: [call], builtins: false, concurrency: 4 })
    cleanups.push(async () => {
      await worker.close({ graceMs: 100 })
      await workerHandle.close()
      await owner.close()
      await sharedLimiter.close()
    })
    // Rounds every 100 ms: the second task waits 600 ms for the one place, six rounds.
    const runner = createRemoteRunner({ transport: owner, reconcileEveryMs: 100, shared: { limiter: sharedLimiter, groups: { llm: 1 }, leaseMs: 5000 } })
    await runner.listen()
    const engine = createEngine({ tools: [call], builtins: false, runner, concurrency: 8 })
    cleanups.push(() => engine.close())
    const result = await engine.run({ id: 'capped', tasks: [{ id: 'a', tool: 'provider.call', group: 'llm' }, { id: 'b', tool: 'provider.call', group: 'llm' }] })
    expect(result.status).toBe('succeeded')
    expect(running.peak).toBe(1)
    expect(runner.stats().republished).toBe(0)
  }, 30_000)

  it('hands out leases: up to the limit, renewed by their holder, gone when released or expired', async () => {
    const { limiter } = setup()
    const shared = await limiter()
    cleanups.push(() => shared.close())
    const key = `group:${randomUUID().slice(0, 6)}`
    expect(await shared.tryAcquire(key, 2, 'a', 300)).toBe(true)
    expect(await shared.tryAcquire(key, 2, 'b', 300)).toBe(true)
    expect(await shared.tryAcquire(key, 2, 'c', 300)).toBe(false)
    // Taking a place one holds again renews it rather than taking a second.
    expect(await shared.tryAcquire(key, 2, 'a', 300)).toBe(true)
    expect(await shared.held(key)).toBe(2)
    await shared.release(key, 'b')
    expect(await shared.tryAcquire(key, 2, 'c', 300)).toBe(true)
    // a is renewed; c is not: after its lease, c's place is free and a's is still held.
    await new Promise((resolve) => setTimeout(resolve, 150))
    await shared.renew([{ key, holder: 'a' }], 1000)
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(await shared.held(key)).toBe(1)
    expect(await shared.tryAcquire(key, 2, 'd', 300)).toBe(true)
    expect(await shared.tryAcquire(key, 2, 'e', 300)).toBe(false)
  })

  it('a short lease taken after a long one does not cut the long one short', async () => {
    const { limiter } = setup()
    const shared = await limiter()
    cleanups.push(() => shared.close())
    const key = `group:${randomUUID().slice(0, 6)}`
    expect(await shared.tryAcquire(key, 2, 'long', 60_000)).toBe(true)
    expect(await shared.tryAcquire(key, 2, 'short', 100)).toBe(true)
    await shared.release(key, 'short')
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(await shared.held(key)).toBe(1)
    expect(await shared.tryAcquire(key, 1, 'third', 60_000)).toBe(false)
  })
})
