/**
 * The RabbitMQ transport against the broker at `RABBITMQ_URL` (default amqp://guest:guest@127.0.0.1:5672),
 * as an owner and workers on separate connections: the conformance suite, then what it cannot show
 * on its own: priorities, large report bursts in order, connections cut under a running attempt and a
 * listening owner (a TCP proxy in the test), a poison attempt, the worker registry of a fresh
 * handle, arguments every process must share, and an unreachable broker. Every name starts with
 * `twtest-<random>`; what a test leaves is deleted after.
 */
import { randomBytes } from 'node:crypto'
import amqp from 'amqplib'
import { removeBrokerLeftovers, TcpProxy, waitFor } from './broker-kit.js'
import { afterAll, describe, expect, it } from 'vitest'
import type { AttemptDelivery, AttemptEnvelope, AttemptReport, Transport, WorkerInfo } from '../../src/core/transport.js'
import { openRabbitTransport } from '../../src/queues/rabbitmq/index.js'
import type { RabbitTransportOptions } from '../../src/queues/rabbitmq/index.js'
import { transportConformanceCases } from '../../src/testing/transport-conformance.js'

const URL_ = process.env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672'
const PREFIX = `twtest-${randomBytes(4).toString('hex')}`
const opened: Transport[] = []

async function open(options: Partial<RabbitTransportOptions> = {}): Promise<Transport> {
  const transport = await openRabbitTransport({ url: URL_, prefix: PREFIX, reconnectDelayMs: 50, maxReconnectDelayMs: 500, ...options })
  opened.push(transport)
  return transport
}


let tasks = 0
/** An envelope for a new task of this file's run. */
function envelope(queue: string, owner: string, options: { readonly priority?: number; readonly worker?: string } = {}): AttemptEnvelope {
  const taskId = `task-${++tasks}`
  const attemptId = `${PREFIX}-run/${taskId}#1`
  return {
    request: { runId: `${PREFIX}-run`, taskId, attempt: 1, attemptId, idempotencyKey: `${PREFIX}-run/${taskId}`, tool: 'echo', input: { taskId }, inputChecked: true, timeoutMs: 30_000, priority: options.priority ?? 0 },
    owner,
    queue,
    ...(options.worker !== undefined ? { worker: options.worker } : {}),
    publishedAt: Date.now(),
  }
}


afterAll(async () => {
  for (const transport of opened) await transport.close().catch(() => {})
  await removeBrokerLeftovers('rabbitmq', URL_, PREFIX)
}, 60_000)


describe('RabbitMQ transport conformance (owner and worker handles)', () => {
  for (const c of transportConformanceCases(async () => ({ transport: await open(), second: () => open() }))) it(c.name, c.run)
})

describe('RabbitMQ transport conformance (one handle)', () => {
  for (const c of transportConformanceCases(async () => ({ transport: await open() }))) it(c.name, c.run)
})

describe('RabbitMQ transport', () => {
  it('carries attempts to a worker by priority and its reports back to the owner, in order', async () => {
    const owner = await open()
    const worker = await open()
    const queue = `${PREFIX}-prio`
    const ownerId = `${PREFIX}-owner-prio`
    const published = [0, 9, 4, 9, 12].map((priority) => envelope(queue, ownerId, { priority }))
    await owner.publish(published)
    const reports: AttemptReport[] = []
    const receiving = await owner.receive(ownerId, (r) => reports.push(r))
    const order: number[] = []
    const consumer = await worker.consume(
      async (d) => {
        const { attemptId } = d.envelope.request
        order.push(d.envelope.request.priority)
        await worker.report(d.envelope.owner, { kind: 'started', attemptId, worker: 'w1' })
        await worker.report(d.envelope.owner, { kind: 'outcome', attemptId, worker: 'w1', outcome: { attemptId, ok: true, output: d.envelope.request.input } })
        await d.ack()
      },
      { worker: `${PREFIX}-w1`, queues: [queue], concurrency: 1 },
    )
    await waitFor('every outcome', () => reports.filter((r) => r.kind === 'outcome').length === published.length)
    // Levels 0–9, higher first, FIFO within a level (12 is level 9).
    expect(order).toEqual([9, 9, 12, 4, 0])
    for (let k = 0; k < reports.length; k += 2) {
      expect(reports[k]?.kind).toBe('started')
      expect(reports[k + 1]).toMatchObject({ kind: 'outcome', attemptId: (reports[k] as { attemptId: string }).attemptId })
    }
    expect(await owner.holds(published.map((e) => e.request.attemptId))).toEqual(new Set())
    await consumer.close({ graceMs: 1000 })
    await receiving.close()
    await owner.removeOwner(ownerId)
  })

  it('a burst of reports larger than one batch arrives whole and in order', async () => {
    const owner = await open()
    const worker = await open()
    const ownerId = `${PREFIX}-owner-burst`
    const sent: AttemptReport[] = Array.from({ length: 2500 }, (_, k) => ({ kind: 'progress', attemptId: 'a#1', progress: { message: `step ${k}`, fraction: k / 2500 } }))
    await Promise.all(sent.map((r) => worker.report(ownerId, r)))
    const heard: AttemptReport[] = []
    const receiving = await owner.receive(ownerId, (r) => heard.push(r))
    await waitFor('every report', () => heard.length === sent.length)
    expect(heard).toEqual(sent)
    await receiving.close()
    await owner.removeOwner(ownerId)
  })

  it('connections cut under a running attempt and a listening owner come back: the attempt is delivered again with deliveries 2, reports still arrive', async () => {
    const proxy = new TcpProxy(URL_)
    await proxy.start()
    const owner = await open({ url: proxy.url })
    const worker = await open({ url: proxy.url })
    const queue = `${PREFIX}-cut`
    const ownerId = `${PREFIX}-owner-cut`
    const reports: AttemptReport[] = []
    const receiving = await owner.receive(ownerId, (r) => reports.push(r))
    const seen: number[] = []
    let first: AttemptDelivery | undefined
    const consumer = await worker.consume(
      async (d) => {
        seen.push(d.deliveries)
        if (d.deliveries === 1) {
          first = d
          return new Promise<void>(() => {}) // stuck, as a worker whose connection is about to go
        }
        const { attemptId } = d.envelope.request
        await worker.report(d.envelope.owner, { kind: 'outcome', attemptId, worker: 'w', outcome: { attemptId, ok: true, output: null } })
        await d.ack()
      },
      { worker: `${PREFIX}-w-cut`, queues: [queue], concurrency: 2 },
    )
    const attempt = envelope(queue, ownerId)
    await owner.publish([attempt])
    await waitFor('the first delivery', () => first !== undefined)
    proxy.cut()
    await waitFor('the outcome after the reconnection', () => reports.length === 1, 15_000)
    expect(seen).toEqual([1, 2])
    expect(reports[0]).toMatchObject({ kind: 'outcome', attemptId: attempt.request.attemptId })
    await expect((first as AttemptDelivery).ack()).rejects.toMatchObject({ code: 'TW_TRANSPORT' })
    await consumer.close({ graceMs: 0 })
    await receiving.close()
    await owner.removeOwner(ownerId)
    await proxy.stop()
  }, 30_000)

  it('a consumer and its handle close within seconds when the broker has gone silent (not at the heartbeat\'s 30 s)', async () => {
    const proxy = new TcpProxy(URL_)
    await proxy.start()
    const worker = await open({ url: proxy.url })
    const consumer = await worker.consume(async () => {}, { worker: `${PREFIX}-w-silent`, queues: [`${PREFIX}-silent`], concurrency: 2 })
    proxy.silence()
    const t0 = Date.now()
    await consumer.close({ graceMs: 100 })
    await worker.close()
    expect(Date.now() - t0).toBeLessThan(8_000)
    await proxy.stop()
  }, 20_000)

  it('an attempt whose worker dies at every delivery is dead-lettered after maxDeliveries, and no longer held', async () => {
    const proxy = new TcpProxy(URL_)
    await proxy.start()
    const owner = await open({ maxDeliveries: 3 })
    const worker = await open({ url: proxy.url, maxDeliveries: 3 })
    const queue = `${PREFIX}-poison`
    const seen: number[] = []
    const consumer = await worker.consume(
      async (d) => {
        seen.push(d.deliveries)
        // The worker's connection dies with the attempt in hand, as when its process is killed.
        proxy.cut()
        await new Promise<void>(() => {})
      },
      { worker: `${PREFIX}-w-poison`, queues: [queue], concurrency: 1 },
    )
    const poison = envelope(queue, `${PREFIX}-owner-poison`)
    await owner.publish([poison])
    await waitFor('the dead letter', async () => (await owner.stats()).queues.find((q) => q.queue === queue)?.dead === 1, 20_000)
    expect(seen).toEqual([1, 2, 3])
    await waitFor('the attempt no longer held', async () => (await owner.holds([poison.request.attemptId])).size === 0)
    await consumer.close({ graceMs: 0 })
    await proxy.stop()
  }, 40_000)

  it('an attempt a purged or deleted queue lost is not held once three heartbeats passed, while one a worker runs stays held', async () => {
    const owner = await open({ heartbeatMs: 100 })
    const workerHandle = await open({ heartbeatMs: 100 })
    const queue = `${PREFIX}-purged`
    const ownerId = `${PREFIX}-owner-purged`
    const workerId = `${PREFIX}-w-purged`
    const running = envelope(queue, ownerId)
    await owner.publish([running])
    let release: (() => void) | undefined
    const consumer = await workerHandle.consume(
      async (d) => {
        await new Promise<void>((resolve) => (release = resolve))
        await d.ack()
      },
      { worker: workerId, queues: [queue], concurrency: 1 },
    )
    // The worker announces itself as a worker process does (the transport adds what it holds).
    const info: WorkerInfo = { worker: workerId, queues: [queue], concurrency: 1, running: 1, sessions: [], host: 'test', pid: process.pid, at: Date.now(), heartbeatMs: 100 }
    const beat = setInterval(() => void workerHandle.announce({ ...info, at: Date.now() }).catch(() => undefined), 100)
    try {
      await waitFor('the first delivery', () => release !== undefined)
      // The worker is busy (concurrency 1): the next attempt waits in the queue, until the queue is purged.
      const lost = envelope(queue, ownerId)
      await owner.publish([lost])
      const ids = [running.request.attemptId, lost.request.attemptId]
      const connection = await amqp.connect(URL_)
      try {
        const channel = await connection.createChannel()
        expect((await channel.purgeQueue(`${PREFIX}:work:${queue}`)).messageCount).toBe(1)
      } finally {
        await connection.close()
      }
      // The first look cannot tell a lost attempt from one a worker took a moment ago.
      expect(await owner.holds(ids)).toEqual(new Set(ids))
      await waitFor('the lost attempt no longer held', async () => !(await owner.holds(ids)).has(lost.request.attemptId), 5000)
      expect(await owner.holds(ids)).toEqual(new Set([running.request.attemptId]))
    } finally {
      clearInterval(beat)
      release?.()
      await consumer.close({ graceMs: 1000 })
    }
  }, 20_000)

  it('a message that is not a whole attempt envelope (no owner, not JSON, empty, null, a list) is dead-lettered unseen; the attempts after it run', async () => {
    const transport = await open()
    const queue = `${PREFIX}-shape`
    const seen: string[] = []
    const consumer = await transport.consume(
      async (d) => {
        seen.push(d.envelope.request.attemptId)
        await d.ack()
      },
      { worker: `${PREFIX}-w-shape`, queues: [queue], concurrency: 1 },
    )
    const { owner: _owner, ...ownerless } = envelope(queue, 'nobody')
    const poison = [Buffer.from(JSON.stringify(ownerless)), Buffer.from('{"request": not json'), Buffer.alloc(0), Buffer.from('null'), Buffer.from('[]')]
    const connection = await amqp.connect(URL_)
    try {
      const channel = await connection.createConfirmChannel()
      for (const body of poison) channel.sendToQueue(`${PREFIX}:work:${queue}`, body, { persistent: true })
      await channel.waitForConfirms()
    } finally {
      await connection.close()
    }
    const healthy = envelope(queue, `${PREFIX}-owner-shape`)
    await transport.publish([healthy])
    await waitFor('the healthy attempt', () => seen.includes(healthy.request.attemptId))
    await waitFor('the dead letters', async () => (await transport.stats()).queues.find((q) => q.queue === queue)?.dead === poison.length)
    expect(seen).toEqual([healthy.request.attemptId])
    await consumer.close({ graceMs: 0 })
  })

  it('extend() asks the broker: a delivery on a connection gone silent (a paused process, a dead link) counts as lost', async () => {
    const proxy = new TcpProxy(URL_)
    await proxy.start()
    const owner = await open()
    const worker = await open({ url: proxy.url })
    const queue = `${PREFIX}-silent`
    let checked: (outcome: unknown) => void = () => undefined
    const outcome = new Promise<unknown>((resolve) => (checked = resolve))
    const consumer = await worker.consume(
      async (d) => {
        // The channel looks open here; only the broker can say whether it still is.
        await d.extend(1000)
        proxy.silence()
        checked(await d.extend(1000).then(() => 'held', (err: { details?: { leaseLost?: boolean }; message?: string }) => (err.details?.leaseLost === true ? 'lost' : (err.message ?? 'rejected'))))
      },
      { worker: `${PREFIX}-w-silent`, queues: [queue], concurrency: 1 },
    )
    await owner.publish([envelope(queue, `${PREFIX}-owner-silent`)])
    expect(await outcome).toBe('lost')
    await consumer.close({ graceMs: 0 })
    await proxy.stop()
  }, 30_000)

  it('extend() of a delivery given back meanwhile (a closing consumer sends it on past its grace) says its lease is lost', async () => {
    const owner = await open()
    const worker = await open()
    const queue = `${PREFIX}-given-back`
    let checked: (outcome: unknown) => void = () => undefined
    const outcome = new Promise<unknown>((resolve) => (checked = resolve))
    let first = true
    const consumer = await worker.consume(
      async (d) => {
        if (!first) return d.ack()
        first = false
        await d.nack()
        checked(await d.extend(1000).then(() => 'held', (err: { details?: { leaseLost?: boolean }; message?: string }) => (err.details?.leaseLost === true ? 'lost' : (err.message ?? 'rejected'))))
      },
      { worker: `${PREFIX}-w-given-back`, queues: [queue], concurrency: 1 },
    )
    await owner.publish([envelope(queue, `${PREFIX}-owner-given-back`)])
    expect(await outcome).toBe('lost')
    await consumer.close({ graceMs: 0 })
  }, 30_000)

  it("a worker's route leaves nothing on the broker once it expired, its dead-letter exchange included", async () => {
    const worker = `${PREFIX}-w-expiring`
    const transport = await open({ workerExpiresMs: 1000 })
    const consumer = await transport.consume(async (d) => d.ack(), { worker, queues: [`${PREFIX}-expiring`], concurrency: 1 })
    const exchange = `${PREFIX}:worker:${worker}:dlx-auto`
    const exists = async (): Promise<boolean> => {
      const connection = await amqp.connect(URL_)
      try {
        const channel = await connection.createChannel()
        channel.on('error', () => undefined)
        return await channel.checkExchange(exchange).then(() => true, () => false)
      } finally {
        await connection.close().catch(() => undefined)
      }
    }
    // While the worker lives, its route stays (its dead queue has no consumer, yet does not expire).
    await new Promise((resolve) => setTimeout(resolve, 3000))
    expect(await exists()).toBe(true)
    await consumer.close({ graceMs: 0 })
    await waitFor('the exchange to go', async () => !(await exists()), 20_000)
  }, 30_000)

  it('a report whose owner cannot be named fails alone: the reports sent with it arrive', async () => {
    const transport = await open()
    const owner = `${PREFIX}-owner-reports`
    const heard: string[] = []
    const subscription = await transport.receive(owner, (report) => void heard.push(report.attemptId))
    const sent = [transport.report(owner, { kind: 'started', attemptId: 'fine#1', worker: 'w' }), transport.report(undefined as unknown as string, { kind: 'started', attemptId: 'nameless#1', worker: 'w' })]
    expect((await Promise.allSettled(sent)).map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected'])
    await waitFor('the report', () => heard.includes('fine#1'))
    await subscription.close()
  })

  it('a fresh handle knows the live workers at once, without waiting for their next heartbeat', async () => {
    const workerSide = await open()
    const info: WorkerInfo = { worker: `${PREFIX}-w-reg`, queues: ['default'], concurrency: 4, running: 1, sessions: ['agent#s1'], host: 'test-host', pid: 1234, at: Date.now() }
    await workerSide.announce(info)
    const t0 = Date.now()
    const fresh = await open()
    await waitFor('the worker at the fresh handle', async () => (await fresh.workers()).some((w) => w.worker === info.worker), 2000)
    expect(Date.now() - t0).toBeLessThan(2000)
    expect((await fresh.workers()).find((w) => w.worker === info.worker)).toEqual(info)
    expect((await fresh.stats()).workers.map((w) => w.worker)).toContain(info.worker)
  })

  it('a fresh handle\'s first stats() lists the live workers and the queues they consume (what `taskweave queues` prints)', async () => {
    const workerSide = await open()
    const queue = `${PREFIX}-statsq`
    await workerSide.publish([envelope(queue, `${PREFIX}-o-stats`)])
    const info: WorkerInfo = { worker: `${PREFIX}-w-stats`, queues: [queue], concurrency: 4, running: 0, sessions: [], host: 'test-host', pid: 4321, at: Date.now() }
    await workerSide.announce(info)
    const fresh = await open()
    const stats = await fresh.stats()
    expect(stats.workers.map((w) => w.worker)).toContain(info.worker)
    expect(stats.queues.find((q) => q.queue === queue)).toMatchObject({ waiting: 1, dead: 0 })
  })

  it('stats() of a fresh handle closed while it waits for the workers\' answers ends at once, as any call after close()', async () => {
    const fresh = await openRabbitTransport({ url: URL_, prefix: `${PREFIX}-closing`, reconnectDelayMs: 50, maxReconnectDelayMs: 500 })
    // Its refusal is taken as it comes (during close()), so it is never an unhandled rejection.
    const asked = fresh.stats().then(
      () => undefined,
      (err: unknown) => err,
    )
    const t0 = Date.now()
    await fresh.close()
    expect(await asked).toMatchObject({ code: 'TW_TRANSPORT' })
    // The wait for answers (up to 3 s when the ping does not come back) does not hold it.
    expect(Date.now() - t0).toBeLessThan(1_500)
  })

  it('every process must use the same ownerExpiresMs: another value gets a clear TW_TRANSPORT error', async () => {
    const a = await open({ ownerExpiresMs: 3_600_000 })
    const b = await open({ ownerExpiresMs: 60_000 })
    const ownerId = `${PREFIX}-owner-args`
    await a.report(ownerId, { kind: 'progress', attemptId: 'x#1', progress: { message: 'hello' } })
    const err = (await b.report(ownerId, { kind: 'progress', attemptId: 'x#1', progress: { message: 'again' } }).catch((e: unknown) => e)) as Error & { code: string; details: Record<string, unknown> }
    expect(err.code).toBe('TW_TRANSPORT')
    expect(err.details).toMatchObject({ argument: 'x-expires', current: "'3600000'", requested: "'60000'" })
    await a.removeOwner(ownerId)
  })

  it('a publish while the broker is unreachable waits publishTimeoutMs, then rejects with TW_TRANSPORT naming the URL without its password', async () => {
    const proxy = new TcpProxy(URL_)
    await proxy.start()
    const owner = await open({ url: proxy.url, publishTimeoutMs: 400 })
    await proxy.stop()
    const t0 = Date.now()
    const err = (await owner.publish([envelope(`${PREFIX}-outage`, `${PREFIX}-owner-outage`)]).catch((e: unknown) => e)) as Error & { code: string }
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(err.code).toBe('TW_TRANSPORT')
    expect(err.message).toMatch(/^RabbitMQ transport at amqp:\/\/guest@127\.0\.0\.1:\d+: .*could not be reached in time/)
  })

  it('an unreachable broker fails the open at once with TW_TRANSPORT', async () => {
    const t0 = Date.now()
    const err = (await openRabbitTransport({ url: 'amqp://guest:secret@127.0.0.1:1' }).catch((e: unknown) => e)) as Error & { code: string }
    expect(Date.now() - t0).toBeLessThan(3000)
    expect(err.code).toBe('TW_TRANSPORT')
    expect(err.message).toContain('RabbitMQ transport at amqp://guest@127.0.0.1:1')
    expect(err.message).not.toContain('secret')
  })

  it('a virtual host the broker does not have fails the open naming it as the problem', async () => {
    const err = (await openRabbitTransport({ url: `amqp://guest:guest@127.0.0.1:5672/${PREFIX}-no-such-vhost` }).catch((e: unknown) => e)) as Error & { code: string }
    expect(err.code).toBe('TW_TRANSPORT')
    expect(err.message).toContain('the broker refused the virtual host: it does not exist, or this user has no access to it')
  })
})
