/**
 * The attempt transport on Redis (BullMQ queues, a report stream per owner, pub/sub cancels),
 * against the shared Redis at TASKWEAVE_TEST_REDIS_URL (default redis://127.0.0.1:6379): the
 * conformance suite (owner and worker on separate handles, as separate processes would be), then
 * what is particular to this adapter: attempt ids as BullMQ job ids, `holds()` clearing dead
 * copies so a republish is accepted, the delivery limit, priorities within a work queue, reports
 * trimmed as read, the registry, what it leaves in Redis. Every key is under a prefix unique to
 * the test. Faults (crashes, restarts, a missing driver) are in redis-faults.test.ts.
 */
import { randomBytes } from 'node:crypto'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { openRedisTransport } from 'taskweave/queues/redis'
import type { RedisTransportHandle, RedisTransportOptions } from 'taskweave/queues/redis'
import type { AttemptDelivery, AttemptEnvelope, AttemptReport, WorkerInfo } from '../../src/core/transport.js'
import { transportConformanceCases } from '../../src/testing/transport-conformance.js'
import { redisKeys, sleep, waitFor } from './broker-kit.js'

const URL = process.env['TASKWEAVE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const RUN = `twtest-${randomBytes(4).toString('hex')}`
const redis = new Redis(URL)

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})
afterAll(async () => {
  const left = await keysUnder(RUN)
  if (left.length > 0) await redis.del(...left)
  redis.disconnect()
})


function keysUnder(prefix: string): Promise<string[]> {
  return redisKeys(redis, `${prefix}*`)
}

/** A transport under a prefix of its own, destroyed at the end; returns the prefix too. */
async function open(options: Omit<RedisTransportOptions, 'url' | 'prefix'> = {}): Promise<{ readonly transport: RedisTransportHandle; readonly prefix: string }> {
  const prefix = `${RUN}-${randomBytes(3).toString('hex')}`
  const transport = await openRedisTransport({ ...options, url: URL, prefix })
  cleanups.push(() => transport.destroy())
  return { transport, prefix }
}

function envelope(attemptId: string, options: { readonly queue?: string; readonly priority?: number; readonly worker?: string } = {}): AttemptEnvelope {
  return {
    request: { runId: 'run', taskId: attemptId, attempt: 1, attemptId, idempotencyKey: attemptId, tool: 'echo', input: { attemptId }, inputChecked: true, timeoutMs: 10_000, priority: options.priority ?? 0 },
    owner: 'owner',
    queue: options.queue ?? 'default',
    ...(options.worker === undefined ? {} : { worker: options.worker }),
    publishedAt: Date.now(),
  }
}

async function consume(transport: RedisTransportHandle, handler: (delivery: AttemptDelivery) => Promise<void>, queues: readonly string[] = ['default'], concurrency = 1): Promise<void> {
  const consumer = await transport.consume(handler, { worker: `w-${randomBytes(3).toString('hex')}`, queues, concurrency })
  cleanups.push(() => consumer.close({ graceMs: 0 }))
}

/** Acknowledges every attempt delivered; returns the ids seen, in delivery order. */
async function ackAll(transport: RedisTransportHandle, concurrency = 1): Promise<string[]> {
  const seen: string[] = []
  await consume(
    transport,
    async (d) => {
      seen.push(d.envelope.request.attemptId)
      await d.ack()
    },
    ['default'],
    concurrency,
  )
  return seen
}

describe('Redis transport conformance (owner and worker handles)', () => {
  let opened = 0
  const cases = transportConformanceCases(async () => {
    // A prefix per case: what the case leaves (queues it emptied, its registry entries) goes with it.
    const prefix = `${RUN}-c${++opened}`
    const open = (): Promise<RedisTransportHandle> => openRedisTransport({ url: URL, prefix })
    return { transport: await open(), second: open, cleanup: async () => (await open()).destroy() }
  })
  for (const c of cases) it(c.name, c.run)
})

describe('attempt ids as BullMQ job ids', () => {
  it('keeps apart ids BullMQ would refuse or confuse (":", integers, "%") and finds each with holds()', async () => {
    const { transport } = await open()
    const ids = ['run:1/task:2#1', '42', '-7', '%3A', ':', 'run/t#1@2', 'ü ✓/τ#1']
    await transport.publish(ids.map((id) => envelope(id)))
    expect([...(await transport.holds([...ids, 'never published']))].sort()).toEqual([...ids].sort())
    const seen = await ackAll(transport, 4)
    await waitFor('every attempt', () => seen.length === ids.length)
    expect(seen.sort()).toEqual([...ids].sort())
    await waitFor('no attempt held', async () => (await transport.holds(ids)).size === 0)
  })

  it('a republished attempt the broker still holds is not delivered twice', async () => {
    const { transport } = await open()
    const sent = envelope('run/dup#1')
    await transport.publish([sent])
    await transport.publish([sent])
    const seen: number[] = []
    await consume(transport, async (d) => {
      seen.push(d.deliveries)
      await d.ack()
    })
    await waitFor('the delivery', () => seen.length === 1)
    await sleep(200)
    expect(seen).toEqual([1])
  })

  it('holds() clears a dead-lettered copy, so the reconciler’s republish is delivered again', async () => {
    const { transport } = await open()
    const sent = envelope('run/unlucky#1')
    await transport.publish([sent])
    const seen: number[] = []
    let bury = true
    await consume(transport, async (d) => {
      seen.push(d.deliveries)
      if (bury) {
        bury = false
        await d.deadLetter('worker could not load the tool')
      } else await d.ack()
    })
    await waitFor('the dead letter', async () => (await transport.stats()).queues.find((q) => q.queue === 'default')?.dead === 1)
    expect([...(await transport.holds([sent.request.attemptId]))]).toEqual([])
    expect((await transport.stats()).queues.find((q) => q.queue === 'default')?.dead).toBe(0)
    await transport.publish([sent])
    await waitFor('the republished attempt', () => seen.length === 2)
    expect(seen).toEqual([1, 1])
  })
})

describe('deliveries', () => {
  it('an attempt given back more than maxDeliveries times is dead-lettered, and its owner told (TW_DELIVERY_LIMIT)', async () => {
    const { transport } = await open({ maxDeliveries: 2 })
    const heard: AttemptReport[] = []
    const inbox = await transport.receive('owner', (report) => heard.push(report))
    cleanups.push(() => inbox.close())
    const sent = envelope('run/bounced#1')
    await transport.publish([sent])
    const seen: number[] = []
    await consume(transport, async (d) => {
      seen.push(d.deliveries)
      await d.nack()
    })
    await waitFor('the dead letter', async () => (await transport.stats()).queues.find((q) => q.queue === 'default')?.dead === 1)
    expect(seen).toEqual([1, 2])
    await waitFor('the owner to hear of it', () => heard.length === 1)
    const [report] = heard
    expect(report?.kind).toBe('outcome')
    if (report?.kind !== 'outcome' || report.outcome.ok) throw new Error('expected a failed outcome')
    expect(report.outcome.error).toMatchObject({ code: 'TW_DELIVERY_LIMIT', retryable: false })
    expect(report.outcome.error.message).toContain('delivered 3 times (at most 2)')
  })

  it('a handler that throws gives its attempt back at once', async () => {
    const { transport } = await open()
    await transport.publish([envelope('run/throws#1')])
    const seen: number[] = []
    await consume(transport, async (d) => {
      seen.push(d.deliveries)
      if (d.deliveries === 1) throw new Error('worker bug')
      await d.ack()
    })
    await waitFor('the second delivery', () => seen.length === 2)
    expect(seen).toEqual([1, 2])
  })

  it('follows the task priority within a work queue, first in first out within a level', async () => {
    const { transport } = await open()
    await transport.publish([envelope('p0-a', { priority: 0 }), envelope('p7-a', { priority: 7 }), envelope('p0-b', { priority: 0 }), envelope('p7-b', { priority: 7 }), envelope('p100', { priority: 100 })])
    const seen = await ackAll(transport)
    await waitFor('five deliveries', () => seen.length === 5)
    expect(seen).toEqual(['p100', 'p7-a', 'p7-b', 'p0-a', 'p0-b'])
  })

  it('stats list a worker’s route queue while it holds attempts, as @worker', async () => {
    const { transport } = await open()
    await transport.publish([envelope('routed', { worker: 'w:1' })])
    expect((await transport.stats()).queues).toContainEqual({ queue: '@w:1', waiting: 1, active: 0, delayed: 0, dead: 0 })
  })
})

describe('batches', () => {
  /** BullMQ's own count of the jobs waiting in a work queue (a batch is one job). */
  async function jobsWaiting(prefix: string, queue = 'default'): Promise<number> {
    const bull = new Queue(`work.${queue}`, { connection: redis, prefix })
    const counts = await bull.getJobCounts('wait', 'prioritized')
    await bull.close()
    return (counts['wait'] ?? 0) + (counts['prioritized'] ?? 0)
  }

  it('attempts published together travel as jobs of at most batchSize attempts of one priority level; stats count attempts', async () => {
    const { transport, prefix } = await open({ batchSize: 4 })
    await transport.publish([...Array.from({ length: 9 }, (_, k) => envelope(`low-${k}`)), envelope('high-0', { priority: 5 }), envelope('high-1', { priority: 5 })])
    // low: 4 + 4 + 1; high: 2.
    expect(await jobsWaiting(prefix)).toBe(4)
    expect((await transport.stats()).queues).toContainEqual({ queue: 'default', waiting: 11, active: 0, delayed: 0, dead: 0 })
    const seen = await ackAll(transport)
    await waitFor('every attempt', () => seen.length === 11)
    expect(seen.slice(0, 2)).toEqual(['high-0', 'high-1'])
    expect(seen.slice(2)).toEqual(Array.from({ length: 9 }, (_, k) => `low-${k}`))
    await sleep(200)
    expect(seen.length).toBe(11)
  })

  it('batchSize 1 publishes a job per attempt; a bad batchSize is refused naming it', async () => {
    const { transport, prefix } = await open({ batchSize: 1 })
    await transport.publish([envelope('a'), envelope('b'), envelope('c')])
    expect(await jobsWaiting(prefix)).toBe(3)
    for (const batchSize of [0, 1.5, 1001, '4' as unknown as number]) {
      await expect(openRedisTransport({ url: URL, prefix: `${RUN}-bad`, batchSize })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringMatching(/"batchSize"/) as unknown })
    }
  })

  it('a worker with fewer free slots than a batch runs what it can and puts the rest back: never more than its concurrency, each attempt once', async () => {
    const { transport } = await open()
    const sent = Array.from({ length: 16 }, (_, k) => envelope(`t${k}`))
    await transport.publish(sent)
    let running = 0
    let most = 0
    const seen: string[] = []
    await consume(
      transport,
      async (d) => {
        seen.push(d.envelope.request.attemptId)
        most = Math.max(most, ++running)
        await sleep(20)
        running--
        await d.ack()
      },
      ['default'],
      3,
    )
    await waitFor('every attempt', () => seen.length === 16)
    expect(most).toBe(3)
    expect([...seen].sort()).toEqual(sent.map((e) => e.request.attemptId).sort())
    await waitFor('nothing held', async () => (await transport.holds(sent.map((e) => e.request.attemptId))).size === 0)
  })

  it('the same attempts published again while their batch is held are not delivered twice', async () => {
    const { transport } = await open()
    const sent = [envelope('run/x#1'), envelope('run/y#1')]
    await transport.publish(sent)
    await transport.publish(sent)
    const seen = await ackAll(transport)
    await waitFor('the deliveries', () => seen.length === 2)
    await sleep(200)
    expect(seen.sort()).toEqual(['run/x#1', 'run/y#1'])
  })

  it('a publish retried with fewer of the attempts, or one alone, runs each attempt once', async () => {
    const { transport } = await open()
    // As an owner retrying a publish whose answer it lost, after some attempts had resolved.
    await transport.publish([envelope('run/a#1'), envelope('run/b#1'), envelope('run/c#1'), envelope('run/d#1')])
    await transport.publish([envelope('run/a#1'), envelope('run/b#1')])
    await transport.publish([envelope('run/c#1')])
    const seen = await ackAll(transport, 4)
    await waitFor('the deliveries', () => seen.length === 4)
    await sleep(300)
    expect(seen.sort()).toEqual(['run/a#1', 'run/b#1', 'run/c#1', 'run/d#1'])
    expect((await transport.stats()).queues.find((q) => q.queue === 'default')).toMatchObject({ waiting: 0, active: 0 })
  })

  it('a batch given back is split: a poison attempt meets its delivery limit alone, its owner is told, the others are not run again', async () => {
    const { transport } = await open({ maxDeliveries: 2 })
    const heard: AttemptReport[] = []
    const inbox = await transport.receive('owner', (report) => heard.push(report))
    cleanups.push(() => inbox.close())
    await transport.publish([envelope('run/poison#1'), envelope('run/fine#1')])
    const seen: string[] = []
    // Each worker hangs on the poison attempt and is closed past its grace, as a dying one would be.
    for (let k = 1; k <= 2; k++) {
      let hung = false
      const consumer = await transport.consume(
        async (d) => {
          seen.push(`${d.envelope.request.attemptId}@${d.deliveries}`)
          if (d.envelope.request.attemptId === 'run/fine#1') return d.ack()
          hung = true
          await new Promise(() => {})
        },
        { worker: `w${k}`, queues: ['default'], concurrency: 2 },
      )
      await waitFor(`worker ${k} to hang`, () => hung)
      await consumer.close({ graceMs: 0 })
    }
    await consume(transport, async (d) => {
      seen.push(`${d.envelope.request.attemptId}@${d.deliveries}`)
      await d.ack()
    })
    await waitFor('the owner to hear of the dead letter', () => heard.length === 1)
    const [report] = heard
    if (report?.kind !== 'outcome' || report.outcome.ok) throw new Error('expected a failed outcome')
    expect(report.outcome.error).toMatchObject({ code: 'TW_DELIVERY_LIMIT' })
    expect(report.outcome.error.message).toContain('delivered 3 times (at most 2)')
    await sleep(200)
    expect(seen).toEqual(['run/poison#1@1', 'run/fine#1@1', 'run/poison#1@2'])
    expect((await transport.stats()).queues).toContainEqual({ queue: 'default', waiting: 0, active: 0, delayed: 0, dead: 1 })
  })
})

describe('the worker registry', () => {
  it("is timed by the server's clock: a worker whose clock runs 2 h ahead neither drops the others (and their route queues) nor is listed past its time", async () => {
    const { transport } = await open()
    const info = (worker: string, at: number): WorkerInfo => ({ worker, queues: ['default'], concurrency: 1, running: 0, sessions: [], host: 'h', pid: 1, at })
    await transport.announce(info('on-time', Date.now()))
    await transport.announce(info('ahead', Date.now() + 2 * 3_600_000))
    await transport.announce(info('ahead', Date.now() + 2 * 3_600_000))
    expect((await transport.workers()).map((w) => w.worker).sort()).toEqual(['ahead', 'on-time'])
    // Listed by when the server heard them: one heard within the last 50 ms or not, whatever it said its time was.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await transport.workers({ withinMs: 50 })).toEqual([])
  })
})

describe('reports', () => {
  it('are trimmed from the owner’s stream once handed to its handler', async () => {
    const { transport, prefix } = await open()
    const attemptId = 'run/t#1'
    for (let k = 0; k < 50; k++) await transport.report('owner', { kind: 'progress', attemptId, progress: { message: `p${k}` } })
    expect(await redis.xlen(`${prefix}:tw-reports:owner`)).toBe(50)
    const heard: AttemptReport[] = []
    const inbox = await transport.receive('owner', (report) => heard.push(report))
    cleanups.push(() => inbox.close())
    await waitFor('every report', () => heard.length === 50)
    await waitFor('the stream to be trimmed', async () => (await redis.xlen(`${prefix}:tw-reports:owner`)) === 0)
    expect(heard.map((r) => (r.kind === 'progress' ? r.progress.message : ''))).toEqual(Array.from({ length: 50 }, (_, k) => `p${k}`))
  })

  it('a handler that throws loses only that report', async () => {
    const { transport } = await open()
    const heard: string[] = []
    const inbox = await transport.receive('owner', (report) => {
      if (report.kind === 'started') throw new Error('owner bug')
      heard.push(report.kind)
    })
    cleanups.push(() => inbox.close())
    await transport.report('owner', { kind: 'started', attemptId: 'a', worker: 'w' })
    await transport.report('owner', { kind: 'outcome', attemptId: 'a', worker: 'w', outcome: { attemptId: 'a', ok: true, output: 1 } })
    await waitFor('the outcome', () => heard.length === 1)
    expect(heard).toEqual(['outcome'])
  })
})

describe('housekeeping', () => {
  it('destroy leaves no key under the prefix', async () => {
    const prefix = `${RUN}-gone`
    const transport = await openRedisTransport({ url: URL, prefix })
    await transport.publish([envelope('a', { queue: 'q1' }), envelope('b', { queue: 'q2' }), envelope('c', { worker: 'w1' })])
    await transport.report('owner', { kind: 'started', attemptId: 'a', worker: 'w1' })
    await transport.announce({ worker: 'w1', queues: ['q1'], concurrency: 1, running: 0, sessions: [], host: 'h', pid: 1, at: Date.now() })
    expect((await keysUnder(`${prefix}:`)).length).toBeGreaterThan(0)
    await transport.destroy()
    expect(await keysUnder(`${prefix}:`)).toEqual([])
  })

  it('the registry forgets workers silent for long when another announces, and drops their route queues', async () => {
    const { transport, prefix } = await open({ heartbeatMs: 1000 })
    const info = { queues: ['q'], concurrency: 1, running: 0, sessions: [], host: 'h', pid: 1 }
    await transport.publish([envelope('stranded', { worker: 'gone' }), envelope('live', { worker: 'alive' })])
    await transport.announce({ ...info, worker: 'gone', at: Date.now() })
    // Heard an hour ago by the server's clock (the registry's own), as a worker that died then.
    const [seconds] = await redis.time()
    await redis.zadd(`${prefix}:tw-workers`, Number(seconds) * 1000 - 3_600_000, 'gone')
    await transport.announce({ ...info, worker: 'alive', at: Date.now() })
    expect((await transport.workers({ withinMs: 7_200_000 })).map((w) => w.worker)).toEqual(['alive'])
    await waitFor('the route queue of the gone worker to be removed', async () => (await keysUnder(`${prefix}:route.gone:`)).length === 0 && (await redis.smembers(`${prefix}:tw-queues`)).length === 1)
    expect(await redis.smembers(`${prefix}:tw-queues`)).toEqual(['route.alive'])
    expect([...(await transport.holds(['stranded', 'live']))]).toEqual(['live'])
  })

  it('checks its options: a bad one is TW_INVALID_OPTION naming it', async () => {
    await expect(openRedisTransport({ prefix: 'has space' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringMatching(/"prefix"/) as unknown })
    await expect(openRedisTransport({ maxDeliveries: 0 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    const { transport } = await open()
    await expect(transport.consume(async () => {}, { worker: '', concurrency: 1 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(transport.consume(async () => {}, { worker: 'w', concurrency: 0 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
  })
})
