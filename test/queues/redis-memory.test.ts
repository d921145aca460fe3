/**
 * Redis short of memory (RELIABILITY BR-03), on private servers (a memory limit or another eviction
 * policy on the shared server would reach every test at once): a server that may evict keys is
 * refused when the queue or transport opens, naming the setting; a full server's refusal reaches
 * the caller as a clear, retryable error, and nothing it accepted is lost.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { openRedisQueue, openRedisTransport } from 'taskweave/queues/redis'
import { TaskweaveError } from '../../src/core/errors.js'
import type { MessageQueue } from '../../src/core/queue.js'
import type { AttemptEnvelope } from '../../src/core/transport.js'
import { PrivateRedis } from '../private-servers.js'
import { rejection } from '../helpers.js'

const RUN = `twtest-${randomBytes(4).toString('hex')}`
const PAYLOAD = 'x'.repeat(10 * 1024)

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

async function server(settings: readonly string[]): Promise<PrivateRedis> {
  const redis = await PrivateRedis.start(settings)
  cleanups.push(() => redis.stop())
  return redis
}

/** Consumes `queue` until `count` distinct messages came (or 30 s passed); their numbers. */
async function drain(queue: MessageQueue<{ n: number; pad: string }>, count: number): Promise<Set<number>> {
  const seen = new Set<number>()
  const consumer = await queue.consume((d) => {
    seen.add(d.body.n)
  }, { concurrency: 8 })
  cleanups.push(() => consumer.close({ graceMs: 0 }))
  const deadline = Date.now() + 30_000
  while (seen.size < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  return seen
}

function envelope(n: number): AttemptEnvelope {
  const attemptId = `${RUN}/t${n}#1`
  return { request: { runId: RUN, taskId: `t${n}`, attempt: 1, attemptId, idempotencyKey: `${RUN}/t${n}`, tool: 'echo', input: { n, pad: PAYLOAD }, inputChecked: true, timeoutMs: 10_000, priority: 0 }, owner: 'owner', queue: 'work', publishedAt: Date.now() }
}

describe('a Redis server that may evict keys', () => {
  for (const policy of ['allkeys-lru', 'volatile-ttl']) {
    it(`under maxmemory-policy ${policy} is refused by the queue and the transport, naming the setting`, async () => {
      const redis = await server(['--maxmemory-policy', policy])
      const queueErr = await rejection(openRedisQueue({ url: redis.url, prefix: RUN, name: 'evicting' }))
      expect(TaskweaveError.is(queueErr, 'TW_QUEUE')).toBe(true)
      expect((queueErr as TaskweaveError).retryable).toBe(false)
      expect((queueErr as Error).message).toContain(`maxmemory-policy is "${policy}"`)
      expect((queueErr as Error).message).toContain('CONFIG SET maxmemory-policy noeviction')
      expect((queueErr as Error).message).not.toContain(redis.password)
      expect((queueErr as TaskweaveError).details).toMatchObject({ setting: 'maxmemory-policy', value: policy, queue: 'evicting' })
      const transportErr = await rejection(openRedisTransport({ url: redis.url, prefix: RUN }))
      expect(TaskweaveError.is(transportErr, 'TW_TRANSPORT')).toBe(true)
      expect((transportErr as Error).message).toContain(`maxmemory-policy is "${policy}"`)
    })
  }

  it('is refused too when CONFIG is renamed away (a managed service): the policy is read from INFO', async () => {
    const redis = await server(['--maxmemory-policy', 'allkeys-random', '--rename-command', 'CONFIG', '""'])
    const err = await rejection(openRedisTransport({ url: redis.url, prefix: RUN }))
    expect(TaskweaveError.is(err, 'TW_TRANSPORT')).toBe(true)
    expect((err as Error).message).toContain('maxmemory-policy is "allkeys-random"')
  })
})

describe('a full Redis server (maxmemory 32mb, noeviction, 10 KB messages)', () => {
  it('queue: enqueue fails TW_QUEUE before the server is full, saying why; every message it accepted is delivered; it takes more once drained', async () => {
    const redis = await server(['--maxmemory', '32mb', '--maxmemory-policy', 'noeviction'])
    const queue = await openRedisQueue<{ n: number; pad: string }>({ url: redis.url, prefix: RUN, name: 'full' })
    cleanups.push(() => queue.close())
    const accepted = new Set<number>()
    let refusal: unknown
    for (let n = 0; n < 10_000 && refusal === undefined; n++) {
      try {
        await queue.enqueue({ n, pad: PAYLOAD })
        accepted.add(n)
      } catch (err) {
        refusal = err
      }
    }
    expect(refusal).toBeDefined()
    expect(accepted.size).toBeGreaterThan(1000)
    expect(TaskweaveError.is(refusal, 'TW_QUEUE')).toBe(true)
    expect((refusal as TaskweaveError).retryable).toBe(true)
    expect((refusal as TaskweaveError).details).toMatchObject({ outOfMemory: true, queue: 'full', operation: 'enqueue' })
    expect((refusal as Error).message).toMatch(/enqueue refused: the server's memory is nearly full \(about \d+\.\d MiB used of maxmemory 32\.0 MiB; the last 10% is kept so consumers can still take work off it\)/)
    // A batch is refused the same way (50 messages: well past what a reading's jitter could free).
    const batchErr = await rejection(queue.enqueueMany(Array.from({ length: 50 }, (_, k) => ({ body: { n: -1 - k, pad: PAYLOAD } }))))
    expect((batchErr as TaskweaveError).details).toMatchObject({ outOfMemory: true })

    // Accepted then lost: none. Every accepted message is delivered, and no refused one.
    const seen = await drain(queue, accepted.size)
    expect([...seen].filter((n) => !accepted.has(n))).toEqual([])
    expect(seen.size).toBe(accepted.size)
    // Drained, the server takes messages again.
    await queue.enqueue({ n: 10_001, pad: PAYLOAD })
  }, 60_000)

  it('transport: publish fails TW_TRANSPORT before the server is full; every attempt it accepted reaches a worker', async () => {
    const redis = await server(['--maxmemory', '32mb', '--maxmemory-policy', 'noeviction'])
    const transport = await openRedisTransport({ url: redis.url, prefix: RUN })
    cleanups.push(() => transport.close())
    const accepted = new Set<string>()
    let refusal: unknown
    for (let n = 0; n < 10_000 && refusal === undefined; n++) {
      const e = envelope(n)
      try {
        await transport.publish([e])
        accepted.add(e.request.attemptId)
      } catch (err) {
        refusal = err
      }
    }
    expect(accepted.size).toBeGreaterThan(1000)
    expect(TaskweaveError.is(refusal, 'TW_TRANSPORT')).toBe(true)
    expect((refusal as TaskweaveError).details).toMatchObject({ outOfMemory: true })
    expect((refusal as Error).message).toMatch(/publish refused: the server's memory is nearly full/)
    const seen = new Set<string>()
    const consumer = await transport.consume(
      async (d) => {
        seen.add(d.envelope.request.attemptId)
        await d.ack()
      },
      { worker: 'w', queues: ['work'], concurrency: 8 },
    )
    cleanups.push(() => consumer.close({ graceMs: 0 }))
    const deadline = Date.now() + 30_000
    while (seen.size < accepted.size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    expect([...accepted].filter((id) => !seen.has(id))).toEqual([])
  }, 60_000)

  it('a burst of 4,000 concurrent enqueues is counted whole: the reserve holds, and consumers drain every accepted message', async () => {
    const redis = await server(['--maxmemory', '32mb', '--maxmemory-policy', 'noeviction'])
    const queue = await openRedisQueue<{ n: number; pad: string }>({ url: redis.url, prefix: RUN, name: 'burst' })
    cleanups.push(() => queue.close())
    const outcomes = await Promise.allSettled(Array.from({ length: 4000 }, (_, n) => queue.enqueue({ n, pad: PAYLOAD })))
    const accepted = new Set(outcomes.flatMap((outcome, n) => (outcome.status === 'fulfilled' ? [n] : [])))
    const refusals = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String((outcome.reason as Error).message)] : []))
    expect(accepted.size).toBeGreaterThan(1000)
    expect(refusals.length).toBeGreaterThan(0)
    // Every refusal is the reserve's, none the full server's own.
    expect(refusals.filter((message) => !message.includes('refused: the server\'s memory is nearly full'))).toEqual([])
    expect((await drain(queue, accepted.size)).size).toBe(accepted.size)
  }, 60_000)

  it('with no reserve (memoryReserve: 0), the server\'s own refusal reaches the caller as TW_QUEUE saying it is out of memory', async () => {
    const redis = await server(['--maxmemory', '32mb', '--maxmemory-policy', 'noeviction'])
    const queue = await openRedisQueue<{ n: number; pad: string }>({ url: redis.url, prefix: RUN, name: 'raw', memoryReserve: 0 })
    cleanups.push(() => queue.close())
    let refusal: unknown
    for (let n = 0; n < 10_000 && refusal === undefined; n++) refusal = await queue.enqueue({ n, pad: PAYLOAD }).then(() => undefined, (err: unknown) => err)
    expect(TaskweaveError.is(refusal, 'TW_QUEUE')).toBe(true)
    expect((refusal as TaskweaveError).retryable).toBe(true)
    expect((refusal as TaskweaveError).details).toMatchObject({ outOfMemory: true, operation: 'enqueue' })
    expect((refusal as Error).message).toMatch(/enqueue failed: the server is out of memory .*OOM command not allowed/)
  }, 60_000)

  it('memoryReserve outside 0–0.5 is refused by name', async () => {
    await expect(openRedisQueue({ prefix: RUN, name: 'x', memoryReserve: 0.9 })).rejects.toThrow(/memoryReserve/)
  })
})
