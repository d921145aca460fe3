import { describe, expect, it } from 'vitest'
import { locateWorkerModule } from './module.js'
import { resolveWorkerPoolOptions } from './options.js'
import { WorkerPools } from './pools.js'

const module = locateWorkerModule(new URL('../../examples/seeds/fixtures/cpu-work.ts', import.meta.url))
const options = resolveWorkerPoolOptions({ maxThreads: 1 })

describe('WorkerPools', () => {
  it('opens one pool per module and options, and a fresh one after close', async () => {
    const pools = new WorkerPools()
    const signal = new AbortController().signal
    const task = { module, exportName: 'countPrimes', input: { below: 20 }, signal }
    await expect(pools.run(task, options)).resolves.toMatchObject({ primes: 8 })
    await pools.run(task, options)
    expect(pools.stats()).toEqual([{ module: module.filename, threads: 1, maxThreads: 1, queued: 0, completed: 2, utilization: expect.any(Number) }])
    await pools.close()
    expect(pools.size).toBe(0)
  })

  it('terminates running tasks on close({ force: true })', async () => {
    const pools = new WorkerPools()
    const running = pools.run({ module, exportName: 'spinForever', input: {}, signal: new AbortController().signal }, options)
    const outcome = running.then(
      () => 'resolved',
      () => 'rejected',
    )
    await new Promise((resolve) => setTimeout(resolve, 100))
    await pools.close({ force: true })
    expect(await outcome).toBe('rejected')
  })

  it('resolves options once, naming the bad one', () => {
    expect(resolveWorkerPoolOptions({ maxThreads: 2, idleTimeout: '2s' })).toEqual({ maxThreads: 2, minThreads: 0, idleTimeoutMs: 2000, execArgv: undefined })
    expect(() => resolveWorkerPoolOptions({ maxThreads: 0 })).toThrow(/pool.maxThreads/)
    expect(() => resolveWorkerPoolOptions({ execArgv: [1 as unknown as string] })).toThrow(/pool.execArgv/)
  })
})
