/**
 * The message queue on Redis (BullMQ), against the shared Redis at TASKWEAVE_TEST_REDIS_URL
 * (default redis://127.0.0.1:6379): the conformance suite, then what is particular to this
 * adapter: how levels map onto BullMQ priorities, backoff timing, maxSize between racing
 * producers, counts shared by every handle, a lease renewed while a handler runs, what it leaves
 * in Redis. Every key is under a prefix unique to this run, and removed at the end. Faults
 * (crashes, restarts, a missing driver) are in redis-faults.test.ts.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { openRedisQueue } from 'taskweave/queues/redis'
import type { RedisQueueOptions } from 'taskweave/queues/redis'
import { TaskweaveError } from '../../src/core/errors.js'
import type { Delivery, MessageQueue } from '../../src/core/queue.js'
import { queueConformanceCases } from '../../src/testing/queue-conformance.js'
import { redisKeys, sleep, waitFor } from './broker-kit.js'

const URL = process.env['TASKWEAVE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const PREFIX = `twtest-${randomBytes(4).toString('hex')}`
const redis = new Redis(URL)

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})
afterAll(async () => {
  const left = await keysUnder(PREFIX)
  if (left.length > 0) await redis.del(...left)
  redis.disconnect()
})


function keysUnder(prefix: string): Promise<string[]> {
  return redisKeys(redis, `${prefix}:*`)
}

/** A queue with a name unique to the test, destroyed at the end. */
async function open<T = unknown>(options: Omit<RedisQueueOptions, 'name' | 'url' | 'prefix'> = {}, name = `q-${randomBytes(3).toString('hex')}`): Promise<MessageQueue<T>> {
  const queue = await openRedisQueue<T>({ ...options, name, url: URL, prefix: PREFIX })
  cleanups.push(() => queue.destroy())
  return queue
}

async function consume<T>(queue: MessageQueue<T>, handler: (delivery: Delivery<T>) => void | Promise<void>, concurrency = 1): Promise<void> {
  const consumer = await queue.consume(handler, { concurrency })
  cleanups.push(() => consumer.close({ graceMs: 0 }))
}

describe('Redis queue conformance', () => {
  const openCase = (options: Omit<RedisQueueOptions, 'url' | 'prefix'>): Promise<MessageQueue> => openRedisQueue({ ...options, url: URL, prefix: PREFIX })
  for (const c of queueConformanceCases(async (options) => ({ queue: await openCase(options), reopen: () => openCase(options) }))) it(c.name, c.run)
})

describe('priorities on BullMQ', () => {
  it('stores level L as BullMQ priority 10 − L, so higher levels come first and each level stays first in, first out', async () => {
    const queue = await open<{ k: string }>({}, 'levels')
    const ids = await queue.enqueueMany([
      { body: { k: 'a0' }, priority: 0 },
      { body: { k: 'a9' }, priority: 9 },
      { body: { k: 'a3' }, priority: 3 },
      { body: { k: 'b9' }, priority: 9 },
      { body: { k: 'b0' } },
      { body: { k: 'b3' }, priority: 3.4 },
    ])
    const stored = await Promise.all(ids.map((id) => redis.hget(`${PREFIX}:levels:${id}`, 'priority')))
    expect(stored).toEqual(['10', '1', '7', '1', '10', '7'])
    const seen: string[] = []
    await consume(queue, (d) => {
      seen.push(`${d.body.k}@${d.priority}`)
    })
    await waitFor('six deliveries', () => seen.length === 6)
    expect(seen).toEqual(['a9@9', 'b9@9', 'a3@3', 'b3@3', 'a0@0', 'b0@0'])
  })
})

describe('retries', () => {
  it('backs off exponentially between deliveries, then dead-letters with the last error message', async () => {
    const queue = await open<{ k: string }>({ retry: { maxDeliveries: 3, backoff: { type: 'exponential', delayMs: 150 } } })
    const id = await queue.enqueue({ k: 'flaky' })
    const at: number[] = []
    await consume(queue, (d) => {
      at.push(Date.now())
      throw new Error(`boom #${d.deliveries}`)
    })
    await waitFor('the dead letter and its count', async () => (await queue.deadLetters.list()).length === 1 && (await queue.stats()).failed === 3)
    expect(at).toHaveLength(3)
    const [first = 0, second = 0, third = 0] = at
    // 150 ms after the first failure, 300 ms after the second (BullMQ's delayed set has a granularity of a few ms).
    expect(second - first).toBeGreaterThanOrEqual(140)
    expect(third - second).toBeGreaterThanOrEqual(290)
    const [letter] = await queue.deadLetters.list()
    expect(letter).toMatchObject({ id, reason: 'boom #3', deliveries: 3, body: { k: 'flaky' } })
    expect(await queue.stats()).toMatchObject({ failed: 3, deadLettered: 1, completed: 0 })
  })

  it('a message retried at once goes behind those waiting at its priority, as before any retry', async () => {
    const queue = await open<{ k: string }>({ retry: { maxDeliveries: 3 } })
    await queue.enqueueMany(['A', 'B', 'C', 'D'].map((k) => ({ body: { k } })))
    const seen: string[] = []
    await consume(queue, async (d) => {
      seen.push(`${d.body.k}#${d.deliveries}`)
      if (d.body.k === 'A') await d.nack({ delayMs: 0 })
      else await d.ack()
    })
    await waitFor('A dead-lettered after three deliveries', async () => (await queue.deadLetters.list()).length === 1)
    expect(seen).toEqual(['A#1', 'B#1', 'C#1', 'D#1', 'A#2', 'A#3'])
  })

  it('a delay is due by Redis\'s clock, whatever the clock of the process that asked for it', async () => {
    const name = `skew-${randomBytes(3).toString('hex')}`
    const queue = await open<{ k: string }>({ retry: { maxDeliveries: 5 } }, name)
    await queue.enqueue({ k: 'later' })
    let nacked = false
    // This process's wall clock 10 minutes ahead while it asks for the delay (as under faketime +10m).
    const realNow = Date.now.bind(Date)
    await consume(queue, async (d) => {
      if (d.deliveries > 1) return d.ack()
      const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 600_000)
      try {
        await d.nack({ delayMs: 2_000 })
      } finally {
        spy.mockRestore()
      }
      nacked = true
    })
    await waitFor('the nack', () => nacked)
    const [seconds, micros] = await redis.time()
    const [, score] = await redis.zrange(`${PREFIX}:${name}:delayed`, 0, -1, 'WITHSCORES')
    const dueInMs = Math.floor(Number(score) / 0x1000) - (Number(seconds) * 1000 + Math.floor(Number(micros) / 1000))
    expect(dueInMs).toBeGreaterThan(0)
    expect(dueInMs).toBeLessThanOrEqual(2_000)
  })

  it('refuses a second verdict on one delivery', async () => {
    const queue = await open()
    await queue.enqueue({ k: 'once' })
    let second: unknown
    await consume(queue, async (d) => {
      await d.ack()
      second = await d.nack({ reason: 'too late' }).then(
        () => 'accepted',
        (err: unknown) => err,
      )
    })
    await waitFor('the refusal', () => second !== undefined)
    expect(TaskweaveError.is(second, 'TW_QUEUE')).toBe(true)
    expect((second as Error).message).toMatch(/already settled/)
    expect(await queue.stats()).toMatchObject({ completed: 1, failed: 0, deadLettered: 0 })
  })
})

describe('maxSize', () => {
  it('holds exactly between producers racing on two handles', async () => {
    const name = `sized-${randomBytes(3).toString('hex')}`
    const a = await open({ maxSize: 5 }, name)
    const b = await openRedisQueue({ name, url: URL, prefix: PREFIX, maxSize: 5 })
    cleanups.push(() => b.close())
    const attempts = await Promise.allSettled(Array.from({ length: 24 }, (_, k) => (k % 2 === 0 ? a : b).enqueue({ k })))
    const accepted = attempts.filter((r) => r.status === 'fulfilled')
    const refused = attempts.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(accepted).toHaveLength(5)
    expect(refused).toHaveLength(19)
    for (const r of refused) expect(TaskweaveError.is(r.reason, 'TW_QUEUE_FULL')).toBe(true)
    expect((await a.stats()).pending).toBe(5)
    // A call's delayed messages count against the limit too: they will be ready soon.
    await expect(a.enqueueMany([{ body: { k: 'later' }, delayMs: 60_000 }])).rejects.toMatchObject({ code: 'TW_QUEUE_FULL' })
  })
})

describe('counts kept in Redis', () => {
  it('are the whole queue’s: what one handle acknowledges, another counts', async () => {
    const name = `counted-${randomBytes(3).toString('hex')}`
    const worker = await open<{ k: string }>({}, name)
    const watcher = await openRedisQueue({ name, url: URL, prefix: PREFIX })
    cleanups.push(() => watcher.close())
    await watcher.enqueueMany([{ body: { k: 'a' } }, { body: { k: 'b' } }, { body: { k: 'bad' } }])
    await consume(worker, async (d) => {
      await sleep(40)
      if (d.body.k === 'bad') await d.deadLetter('bad body')
    })
    // A count is written just after its outcome: wait for the counts, not only the outcomes.
    await waitFor('every outcome and its count, seen from the other handle', async () => {
      const stats = await watcher.stats()
      return stats.completed === 2 && stats.deadLettered === 1 && stats.failed === 1
    })
    const stats = await watcher.stats()
    expect(stats).toMatchObject({ pending: 0, processing: 0, completed: 2, failed: 1, deadLettered: 1, countsScope: 'queue' })
    expect(stats.meanProcessingMs).toBeGreaterThanOrEqual(35)
  })

  it('keep no completed job in Redis, only its count', async () => {
    const name = `lean-${randomBytes(3).toString('hex')}`
    const queue = await open({}, name)
    await queue.enqueueMany(Array.from({ length: 20 }, (_, k) => ({ body: { k } })))
    await consume(queue, () => {}, 4)
    await waitFor('20 acknowledgements', async () => (await queue.stats()).completed === 20)
    expect(await redis.zcard(`${PREFIX}:${name}:completed`)).toBe(0)
    const jobKeys = (await keysUnder(`${PREFIX}:${name}`)).filter((key) => /:\d+$/.test(key))
    expect(jobKeys).toEqual([])
  })
})

describe('the lease', () => {
  it('is renewed while a handler runs: a handler longer than the lease keeps its message', async () => {
    const name = `long-${randomBytes(3).toString('hex')}`
    const queue = await open<{ k: string }>({ leaseMs: 400 }, name)
    const other = await openRedisQueue<{ k: string }>({ name, url: URL, prefix: PREFIX, leaseMs: 400 })
    cleanups.push(() => other.close())
    await queue.enqueue({ k: 'slow' })
    const deliveries: number[] = []
    await consume(queue, async (d) => {
      deliveries.push(d.deliveries)
      await sleep(1500)
    })
    // A live consumer runs stalled checks all along: it would take the message if the lock lapsed.
    await consume(other, (d) => {
      deliveries.push(d.deliveries)
    })
    await waitFor('the acknowledgement', async () => (await queue.stats()).completed === 1, 5000)
    expect(deliveries).toEqual([1])
  })

  it('extend() keeps holding the message; after the consumer let it go, extend() says the lease is lost', async () => {
    const queue = await open({ leaseMs: 1000 })
    await queue.enqueue({ k: 'extended' })
    let kept: Delivery<unknown> | undefined
    await consume(queue, async (d) => {
      await d.extend(5000)
      kept = d
    })
    await waitFor('the delivery', () => kept !== undefined)
    await waitFor('the acknowledgement', async () => (await queue.stats()).completed === 1)
    await expect(kept?.extend(1000)).rejects.toMatchObject({ code: 'TW_QUEUE', message: expect.stringMatching(/lost its lease/) as unknown })
  })
})

describe('housekeeping', () => {
  it('destroy leaves no key of the queue behind', async () => {
    const name = `gone-${randomBytes(3).toString('hex')}`
    const queue = await openRedisQueue<{ k: string }>({ name, url: URL, prefix: PREFIX, maxSize: 100 })
    await queue.enqueueMany([{ body: { k: 'ok' } }, { body: { k: 'dead' } }, { body: { k: 'later' }, delayMs: 60_000 }])
    const consumer = await queue.consume((d) => (d.body.k === 'dead' ? d.deadLetter('x') : undefined))
    await waitFor('both outcomes', async () => {
      const stats = await queue.stats()
      return stats.completed === 1 && stats.deadLettered === 1
    })
    await consumer.close({ graceMs: 1000 })
    expect((await keysUnder(`${PREFIX}:${name}`)).length).toBeGreaterThan(0)
    await queue.destroy()
    expect(await keysUnder(`${PREFIX}:${name}`)).toEqual([])
    await expect(queue.enqueue({ k: 'after' })).rejects.toMatchObject({ code: 'TW_QUEUE' })
  })

  it('refuses a body that is not JSON data (BullMQ would store it as something else), adding nothing of the call', async () => {
    const queue = await open()
    const cycle: Record<string, unknown> = {}
    cycle['self'] = cycle
    for (const call of [queue.enqueue(undefined), queue.enqueueMany([{ body: { k: 'fine' } }, { body: () => 1 }]), queue.enqueue(cycle), queue.enqueue({ n: 10n })]) {
      const err: unknown = await call.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(TaskweaveError.is(err, 'TW_QUEUE')).toBe(true)
      expect((err as TaskweaveError).retryable).toBe(false)
      expect((err as Error).message).toMatch(/is not JSON data/)
    }
    expect((await queue.stats()).pending).toBe(0)
  })

  it('checks its options: a bad one is TW_INVALID_OPTION naming it, before any connection', async () => {
    await expect(openRedisQueue({ name: 'has space' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringMatching(/"name"/) as unknown })
    await expect(openRedisQueue({ name: 'ok', leaseMs: 10 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringMatching(/"leaseMs"/) as unknown })
    await expect(openRedisQueue({ name: 'ok', maxSize: 0 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(openRedisQueue({ name: 'ok', url: 'http://:secret@host' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.not.stringMatching(/secret/) as unknown })
    const queue = await open()
    await expect(queue.consume(() => {}, { concurrency: 0 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(queue.enqueue({}, { delayMs: -1 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
  })
})
