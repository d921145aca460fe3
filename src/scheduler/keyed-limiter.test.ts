import { describe, expect, it } from 'vitest'
import { KeyedLimiter } from './keyed-limiter.js'
import type { PermitHolder } from './keyed-limiter.js'

/** A holder that records what it was granted, and may refuse. */
function holder(name: string, log: string[], accept = true): PermitHolder {
  return {
    permitGranted: (key, ticket) => {
      log.push(`${name}:${key}:${ticket}`)
      return accept
    },
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('KeyedLimiter', () => {
  it('grants at most `limit` permits per key and none ahead of a waiter', () => {
    const limiter = new KeyedLimiter()
    expect(limiter.tryAcquire('group:llm', 2)).toBe(true)
    expect(limiter.tryAcquire('group:llm', 2)).toBe(true)
    expect(limiter.tryAcquire('group:llm', 2)).toBe(false)
    expect(limiter.tryAcquire('group:io', 1)).toBe(true)
    expect(limiter.stats()).toEqual([
      { key: 'group:llm', inUse: 2, waiting: 0 },
      { key: 'group:io', inUse: 1, waiting: 0 },
    ])
  })

  it('serves waiters by priority, then first come first served across holders', async () => {
    const limiter = new KeyedLimiter()
    const log: string[] = []
    limiter.tryAcquire('k', 1)
    limiter.wait('k', 1, holder('a', log), 1, 0)
    limiter.wait('k', 1, holder('b', log), 2, 5)
    limiter.wait('k', 1, holder('c', log), 3, 0)
    expect(limiter.tryAcquire('k', 5)).toBe(false)
    for (let k = 0; k < 3; k++) {
      limiter.release('k')
      await flush()
    }
    expect(log).toEqual(['b:k:2', 'a:k:1', 'c:k:3'])
  })

  it('checks each request against its own limit, so a strict request is not overtaken by lax ones', async () => {
    const limiter = new KeyedLimiter()
    const log: string[] = []
    limiter.tryAcquire('k', 4)
    limiter.tryAcquire('k', 4)
    limiter.wait('k', 1, holder('strict', log), 1)
    limiter.wait('k', 4, holder('lax', log), 2)
    await flush()
    expect(log).toEqual([])
    limiter.release('k')
    limiter.release('k')
    await flush()
    expect(log).toEqual(['strict:k:1', 'lax:k:2'])
  })

  it('passes a permit its holder refuses on to the next waiter, and forgets a holder', async () => {
    const limiter = new KeyedLimiter()
    const log: string[] = []
    const gone = holder('gone', log)
    limiter.tryAcquire('k', 1)
    limiter.wait('k', 1, holder('refuses', log, false), 1)
    limiter.wait('k', 1, gone, 2)
    limiter.wait('k', 1, holder('takes', log), 3)
    limiter.forget(gone)
    limiter.release('k')
    await flush()
    expect(log).toEqual(['refuses:k:1', 'takes:k:3'])
    expect(limiter.inUse('k')).toBe(1)
    limiter.release('k')
    expect(limiter.stats()).toEqual([])
  })

  it('lets awaiting code take permits in the same order, and leave the queue when its signal aborts', async () => {
    const limiter = new KeyedLimiter()
    const log: string[] = []
    await limiter.acquire('k', 1)
    const aborted = new AbortController()
    const low = limiter.acquire('k', 1, { priority: 1 }).then(() => log.push('low'))
    const gone = limiter.acquire('k', 1, { priority: 5, signal: aborted.signal }).catch((err: unknown) => log.push(`gone: ${String(err)}`))
    const high = limiter.acquire('k', 1, { priority: 9 }).then(() => log.push('high'))
    aborted.abort('no longer needed')
    await gone
    limiter.release('k')
    await high
    limiter.release('k')
    await low
    expect(log).toEqual(['gone: no longer needed', 'high', 'low'])
    expect(limiter.stats()).toEqual([{ key: 'k', inUse: 1, waiting: 0 }])
  })
})
