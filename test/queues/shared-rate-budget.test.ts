/**
 * Shared rate budgets, in memory and on Redis, held to the same cases: takes counted per budget,
 * all or none across a key's budgets, what an adjust gives back or charges, a refill after the
 * delay a refusal names, and two clients taking at once never getting more than the budget holds.
 * Budgets of an hour keep refills out of the counts (a second of real time, under load, refills
 * a few hundredths of a unit); the refill case uses a budget of a few hundred ms and waits the time
 * it was told. On Redis, each budget's key expires once the budget would be full again; in memory,
 * a manual clock checks the refill arithmetic exactly.
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createMemorySharedRateBudget } from 'taskweave/queues'
import type { SharedRateBudget, SharedRateCharge } from 'taskweave/queues'
import { openRedisSharedRateBudget } from 'taskweave/queues/redis'
import { ManualClock } from 'taskweave/testing'
import { TaskweaveError } from 'taskweave'
import { redisKeys, removeBrokerLeftovers } from './broker-kit.js'

const REDIS_URL = 'redis://127.0.0.1:6379'
const PREFIX = `twtest-${randomUUID().slice(0, 8)}`
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(() => removeBrokerLeftovers('redis', REDIS_URL, PREFIX), 60_000)

/** Two clients on one backend, as two processes would hold. */
type Open = () => Promise<{ readonly a: SharedRateBudget; readonly b: SharedRateBudget }>

const BACKENDS: readonly { readonly type: string; readonly open: Open }[] = [
  {
    type: 'memory',
    open: () => {
      const budget = createMemorySharedRateBudget()
      return Promise.resolve({ a: budget, b: budget })
    },
  },
  {
    type: 'redis',
    open: async () => {
      const prefix = `${PREFIX}-${randomUUID().slice(0, 4)}`
      const a = await openRedisSharedRateBudget({ url: REDIS_URL, prefix })
      const b = await openRedisSharedRateBudget({ url: REDIS_URL, prefix })
      cleanups.push(() => a.close(), () => b.close())
      return { a, b }
    },
  },
]

const requests = (limit: number, windowMs: number, amount = 1): SharedRateCharge => ({ budget: 'requests', limit, windowMs, amount })
const tokens = (limit: number, windowMs: number, amount: number): SharedRateCharge => ({ budget: 'tokens', limit, windowMs, amount })
const key = (): string => `openai:${randomUUID().slice(0, 6)}`
const MINUTE = 60_000
const HOUR = 3_600_000

describe.each(BACKENDS)('shared rate budget ($type)', ({ open }) => {
  it('grants takes while the budget holds them, then names the wait for the next unit', async () => {
    const { a } = await open()
    const k = key()
    for (let n = 0; n < 3; n++) expect(await a.take(k, [requests(3, HOUR)])).toEqual({ granted: true })
    const refused = await a.take(k, [requests(3, HOUR)])
    expect(refused.granted).toBe(false)
    // One unit of 3 an hour comes back in 20 minutes.
    if (!refused.granted) expect(refused.retryAfterMs).toBeGreaterThan(1_190_000)
    if (!refused.granted) expect(refused.retryAfterMs).toBeLessThanOrEqual(1_200_000)
    expect(await a.level(k, requests(3, HOUR))).toBeLessThan(0.01)
    // Another key is a budget of its own.
    expect(await a.take(key(), [requests(3, HOUR)])).toEqual({ granted: true })
  })

  it('takes from every budget of a key or from none', async () => {
    const { a } = await open()
    const k = key()
    expect(await a.take(k, [requests(10, HOUR), tokens(100, HOUR, 80)])).toEqual({ granted: true })
    const refused = await a.take(k, [requests(10, HOUR), tokens(100, HOUR, 30)])
    expect(refused.granted).toBe(false)
    // 10 tokens short at 100 an hour: 6 minutes.
    if (!refused.granted) expect(refused.retryAfterMs).toBeGreaterThan(350_000)
    if (!refused.granted) expect(refused.retryAfterMs).toBeLessThanOrEqual(360_000)
    // The refused take spent no request.
    expect(await a.level(k, requests(10, HOUR))).toBeCloseTo(9, 1)
    expect(await a.level(k, tokens(100, HOUR, 0))).toBeCloseTo(20, 1)
  })

  it('gives back what an adjust returns, charges what it takes, and never fills past the limit', async () => {
    const { a } = await open()
    const k = key()
    expect(await a.take(k, [tokens(100, HOUR, 90)])).toEqual({ granted: true })
    await a.adjust(k, [tokens(100, HOUR, 50)])
    expect(await a.level(k, tokens(100, HOUR, 0))).toBeCloseTo(60, 1)
    // A call that used more than it reserved: the budget owes, and even a take of nothing waits.
    await a.adjust(k, [tokens(100, HOUR, -80)])
    expect(await a.level(k, tokens(100, HOUR, 0))).toBeCloseTo(-20, 1)
    const owing = await a.take(k, [tokens(100, HOUR, 0)])
    expect(owing.granted).toBe(false)
    if (!owing.granted) expect(owing.retryAfterMs).toBeGreaterThan(0.19 * HOUR)
    await a.adjust(k, [tokens(100, HOUR, 1000)])
    expect(await a.level(k, tokens(100, HOUR, 0))).toBe(100)
  })

  it('refuses for ever a take larger than its budget', async () => {
    const { a } = await open()
    expect(await a.take(key(), [requests(5, MINUTE), tokens(100, MINUTE, 101)])).toEqual({ granted: false, retryAfterMs: Infinity })
  })

  it('refills: a take refused is granted after the delay it was told', async () => {
    const { a } = await open()
    const k = key()
    expect(await a.take(k, [requests(2, 300)])).toEqual({ granted: true })
    expect(await a.take(k, [requests(2, 300)])).toEqual({ granted: true })
    const refused = await a.take(k, [requests(2, 300)])
    expect(refused.granted).toBe(false)
    if (refused.granted) return
    expect(refused.retryAfterMs).toBeLessThanOrEqual(150)
    // A timer may fire a millisecond before its time as Date.now() counts it.
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs + 5))
    expect(await a.take(k, [requests(2, 300)])).toEqual({ granted: true })
  })

  it('a pause refuses every take of the key until it ends, and a shorter pause does not shorten it', async () => {
    const { a, b } = await open()
    const long = key()
    await a.pause(long, HOUR)
    await b.pause(long, 10)
    const refused = await b.take(long, [requests(100, HOUR)])
    expect(refused.granted).toBe(false)
    if (!refused.granted) expect(refused.retryAfterMs).toBeGreaterThan(HOUR - MINUTE)
    expect(await a.level(long, requests(100, HOUR))).toBe(100)
    const short = key()
    await a.pause(short, 200)
    const waiting = await b.take(short, [requests(100, HOUR)])
    expect(waiting.granted).toBe(false)
    if (waiting.granted) return
    expect(waiting.retryAfterMs).toBeLessThanOrEqual(200)
    await new Promise((resolve) => setTimeout(resolve, waiting.retryAfterMs + 5))
    expect(await b.take(short, [requests(100, HOUR)])).toEqual({ granted: true })
    await expect(a.pause(short, -1)).rejects.toSatisfy((err: unknown) => TaskweaveError.is(err, 'TW_INVALID_OPTION'))
  })

  it('two clients taking at once together get no more than the budget holds', async () => {
    const { a, b } = await open()
    const k = key()
    const takes = Array.from({ length: 60 }, (_, n) => (n % 2 === 0 ? a : b).take(k, [requests(20, HOUR), tokens(1000, HOUR, 40)]))
    const answers = await Promise.all(takes)
    // 20 requests, and 1000 / 40 = 25 tokens' worth: the requests run out first.
    expect(answers.filter((x) => x.granted)).toHaveLength(20)
    expect(await a.level(k, tokens(1000, HOUR, 0))).toBeCloseTo(200, 0)
  })

  it('refuses a charge no budget can count with (TW_INVALID_OPTION)', async () => {
    const { a } = await open()
    const bad = [requests(0, MINUTE), requests(5, -1), { ...requests(5, MINUTE), amount: Number.NaN }, { ...requests(5, MINUTE), budget: '' }]
    for (const charge of bad) await expect(a.take(key(), [charge])).rejects.toSatisfy((err: unknown) => TaskweaveError.is(err, 'TW_INVALID_OPTION'))
    await expect(a.take(key(), [requests(5, MINUTE), requests(6, MINUTE)])).rejects.toSatisfy((err: unknown) => TaskweaveError.is(err, 'TW_INVALID_OPTION'))
    await expect(a.take('', [requests(5, MINUTE)])).rejects.toSatisfy((err: unknown) => TaskweaveError.is(err, 'TW_INVALID_OPTION'))
  })
})

describe('shared rate budget (memory, manual clock)', () => {
  it('refills continuously: limit per window, never above the limit', async () => {
    const clock = new ManualClock()
    const budget = createMemorySharedRateBudget({ clock })
    const charge = requests(4, MINUTE)
    for (let n = 0; n < 4; n++) expect(await budget.take('k', [charge])).toEqual({ granted: true })
    expect(await budget.take('k', [charge])).toEqual({ granted: false, retryAfterMs: 15_000 })
    clock.advance(14_999)
    expect((await budget.take('k', [charge])).granted).toBe(false)
    clock.advance(1)
    expect(await budget.take('k', [charge])).toEqual({ granted: true })
    // Hours later the budget holds 4, not more.
    clock.advance(HOUR)
    expect(await budget.level('k', charge)).toBe(4)
    for (let n = 0; n < 4; n++) expect(await budget.take('k', [charge])).toEqual({ granted: true })
    expect((await budget.take('k', [charge])).granted).toBe(false)
  })
})

describe('shared rate budget (redis keys)', () => {
  it('keeps a budget only until it would be full again, then its key is gone', async () => {
    const prefix = `${PREFIX}-${randomUUID().slice(0, 4)}`
    const budget = await openRedisSharedRateBudget({ url: REDIS_URL, prefix })
    const redis = new Redis(REDIS_URL)
    cleanups.push(() => budget.close(), () => redis.quit())
    const k = key()
    expect(await budget.take(k, [requests(10, HOUR), tokens(1000, 200, 500)])).toEqual({ granted: true })
    const [requestKey, tokenKey] = [`${prefix}:rate:{${k}}:requests`, `${prefix}:rate:{${k}}:tokens`]
    expect((await redisKeys(redis, `${prefix}:rate:*`)).sort()).toEqual([requestKey, tokenKey].sort())
    // One request of 10 per hour refills in 6 minutes; 500 tokens of 1000 per 200 ms in 100 ms.
    const requestTtl = await redis.pttl(requestKey)
    expect(requestTtl).toBeGreaterThan(0.09 * HOUR)
    expect(requestTtl).toBeLessThanOrEqual(0.1 * HOUR + 1)
    expect(await redis.pttl(tokenKey)).toBeLessThanOrEqual(101)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(await redis.exists(tokenKey)).toBe(0)
    // Given back in full: the budget is full, its key goes at once.
    await budget.adjust(k, [requests(10, HOUR, 1)])
    expect(await redis.exists(requestKey)).toBe(0)
    // A pause lasts as long as its key.
    await budget.pause(k, 5000)
    const pauseTtl = await redis.pttl(`${prefix}:rate-pause:{${k}}`)
    expect(pauseTtl).toBeGreaterThan(4000)
    expect(pauseTtl).toBeLessThanOrEqual(5000)
  })
})
