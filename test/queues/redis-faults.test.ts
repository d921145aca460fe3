/**
 * The Redis queue and transport when things fail: a consumer's process killed (its message must
 * come back within the lease, counted), a Redis server that restarts (calls fail fast and name the
 * server while it is down, consumers and report readers resume on their own once it is back), a
 * server that cannot be reached at all. The shared Redis at 127.0.0.1:6379 is never restarted:
 * the restart cases run a private `redis-server` of their own on a free port.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { openRedisQueue, openRedisTransport } from 'taskweave/queues/redis'
import type { RedisTransportHandle } from 'taskweave/queues/redis'
import { TaskweaveError } from '../../src/core/errors.js'
import type { Delivery, MessageQueue } from '../../src/core/queue.js'
import type { AttemptEnvelope, AttemptReport } from '../../src/core/transport.js'
import { freePort, kill, PrivateRedis } from '../private-servers.js'
import { rejection } from '../helpers.js'

const URL = process.env['TASKWEAVE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const ADAPTER = new globalThis.URL('../../src/queues/redis/index.ts', import.meta.url).href
const RUN = `twtest-${randomBytes(4).toString('hex')}`
/** What a redelivery may take beyond the lease: a stalled check's own round trips and the handler's start. */
const LEASE_SLACK_MS = 700

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(20)
  }
}

function envelope(taskId: string, queue: string, owner: string): AttemptEnvelope {
  return {
    request: { runId: `${RUN}-run`, taskId, attempt: 1, attemptId: `${RUN}-run/${taskId}#1`, idempotencyKey: `${RUN}-run/${taskId}`, tool: 'echo', input: { taskId }, inputChecked: true, timeoutMs: 10_000, priority: 0 },
    owner,
    queue,
    publishedAt: Date.now(),
  }
}

/**
 * A child process that consumes from Redis through the adapter and holds the first delivery for
 * ever, printing `holding <id> <deliveries>`: killing it is a consumer dying mid-message.
 */
function startHoldingChild(kind: 'queue' | 'transport', env: Record<string, string>): { readonly child: ChildProcess; readonly holding: Promise<string> } {
  const program =
    kind === 'queue'
      ? `const { openRedisQueue } = await import(process.env.TW_ADAPTER)
         const queue = await openRedisQueue({ url: process.env.TW_URL, prefix: process.env.TW_PREFIX, name: process.env.TW_NAME, leaseMs: Number(process.env.TW_LEASE_MS) })
         await queue.consume(async (d) => { process.stdout.write('holding ' + d.id + ' ' + d.deliveries + '\\n'); await new Promise(() => {}) })`
      : `const { openRedisTransport } = await import(process.env.TW_ADAPTER)
         const transport = await openRedisTransport({ url: process.env.TW_URL, prefix: process.env.TW_PREFIX, leaseMs: Number(process.env.TW_LEASE_MS) })
         await transport.consume(async (d) => { process.stdout.write('holding ' + d.envelope.request.attemptId + ' ' + d.deliveries + '\\n'); await new Promise(() => {}) }, { worker: 'doomed', queues: [process.env.TW_NAME], concurrency: 1 })`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
    env: { ...process.env, TW_ADAPTER: ADAPTER, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
  })
  const holding = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    lines.on('line', (line) => {
      if (line.startsWith('holding ')) resolve(line)
    })
    child.once('exit', (code, signal) => reject(new Error(`the consumer child exited (${code ?? signal}) before it held a message`)))
  })
  return { child, holding }
}

describe('a consumer whose process dies', () => {
  it('queue: its message is delivered again within the lease, with deliveries 2', async () => {
    const leaseMs = 1500
    const name = `crash-${randomBytes(3).toString('hex')}`
    const queue = await openRedisQueue<{ k: string }>({ url: URL, prefix: RUN, name, leaseMs })
    cleanups.push(() => queue.destroy())
    const id = await queue.enqueue({ k: 'held by the doomed consumer' })
    const { child, holding } = startHoldingChild('queue', { TW_URL: URL, TW_PREFIX: RUN, TW_NAME: name, TW_LEASE_MS: String(leaseMs) })
    expect(await holding).toBe(`holding ${id} 1`)
    const seen: Array<{ readonly delivery: Delivery<{ k: string }>; readonly at: number }> = []
    const survivor = await queue.consume((delivery) => {
      seen.push({ delivery, at: Date.now() })
    })
    cleanups.push(() => survivor.close({ graceMs: 0 }))
    await kill(child)
    const killedAt = Date.now()
    await waitFor('the redelivery', () => seen.length === 1, leaseMs + 5000)
    const [again] = seen
    expect(again?.delivery.id).toBe(id)
    expect(again?.delivery.deliveries).toBe(2)
    expect(again?.delivery.body).toEqual({ k: 'held by the doomed consumer' })
    expect((again?.at ?? Infinity) - killedAt).toBeLessThan(leaseMs + LEASE_SLACK_MS)
    await waitFor('the acknowledgement', async () => (await queue.stats()).completed === 1, 3000)
    expect(await queue.stats()).toMatchObject({ pending: 0, processing: 0, completed: 1, deadLettered: 0 })
  })

  it('queue: past maxDeliveries, a message whose consumers keep dying is dead-lettered unseen', async () => {
    const leaseMs = 800
    const name = `poison-${randomBytes(3).toString('hex')}`
    const queue = await openRedisQueue({ url: URL, prefix: RUN, name, leaseMs, retry: { maxDeliveries: 1 } })
    cleanups.push(() => queue.destroy())
    const id = await queue.enqueue({ k: 'kills its consumer' })
    const { child, holding } = startHoldingChild('queue', { TW_URL: URL, TW_PREFIX: RUN, TW_NAME: name, TW_LEASE_MS: String(leaseMs) })
    await holding
    let handled = 0
    const survivor = await queue.consume(() => {
      handled++
    })
    cleanups.push(() => survivor.close({ graceMs: 0 }))
    await kill(child)
    await waitFor('the dead letter and its count', async () => (await queue.deadLetters.list()).length === 1 && (await queue.stats()).failed === 1, leaseMs + 5000)
    const [letter] = await queue.deadLetters.list()
    expect(letter?.id).toBe(id)
    expect(letter?.reason).toMatch(/delivered 2 times, more than the 1 allowed/)
    expect(handled).toBe(0)
    expect(await queue.stats()).toMatchObject({ completed: 0, failed: 1, deadLettered: 1 })
  })

  it('transport: its attempt is delivered again within the lease, with deliveries 2', async () => {
    const leaseMs = 1500
    const queueName = `crash-${randomBytes(3).toString('hex')}`
    const prefix = `${RUN}-t1`
    const transport = await openRedisTransport({ url: URL, prefix, leaseMs })
    cleanups.push(() => transport.destroy())
    const sent = envelope('doomed', queueName, 'owner')
    await transport.publish([sent])
    const { child, holding } = startHoldingChild('transport', { TW_URL: URL, TW_PREFIX: prefix, TW_NAME: queueName, TW_LEASE_MS: String(leaseMs) })
    expect(await holding).toBe(`holding ${sent.request.attemptId} 1`)
    expect([...(await transport.holds([sent.request.attemptId]))]).toEqual([sent.request.attemptId])
    const seen: Array<{ readonly deliveries: number; readonly envelope: AttemptEnvelope; readonly at: number }> = []
    const survivor = await transport.consume(
      async (delivery) => {
        seen.push({ deliveries: delivery.deliveries, envelope: delivery.envelope, at: Date.now() })
        await delivery.ack()
      },
      { worker: 'survivor', queues: [queueName], concurrency: 1 },
    )
    cleanups.push(() => survivor.close({ graceMs: 0 }))
    await kill(child)
    const killedAt = Date.now()
    await waitFor('the redelivery', () => seen.length === 1, leaseMs + 5000)
    expect(seen[0]?.deliveries).toBe(2)
    expect(seen[0]?.envelope).toEqual(sent)
    expect((seen[0]?.at ?? Infinity) - killedAt).toBeLessThan(leaseMs + LEASE_SLACK_MS)
    await waitFor('the attempt to leave the broker', async () => (await transport.holds([sent.request.attemptId])).size === 0, 3000)
  })
})

describe('a poison job on a work queue (added by hand, by an older or newer producer)', () => {
  it('transport: is dead-lettered at its first delivery, a batch too, and the attempts after it run', async () => {
    const queueName = `poison-${randomBytes(3).toString('hex')}`
    const prefix = `${RUN}-p`
    const transport = await openRedisTransport({ url: URL, prefix })
    cleanups.push(() => transport.destroy())
    const connection = new Redis(URL, { maxRetriesPerRequest: null })
    const bull = new Queue(`work.${queueName}`, { connection, prefix })
    cleanups.push(async () => {
      await bull.close()
      connection.disconnect()
    })
    const healthy = envelope('healthy', queueName, 'owner')
    const poison: Record<string, unknown> = {
      text: 'garbage',
      empty: {},
      noRequest: { owner: 'nobody', queue: queueName, publishedAt: 1 },
      noOwner: { ...healthy, owner: undefined, request: { ...healthy.request, attemptId: 'no-owner#1' } },
      garbageBatch: { batch: [null, 42] },
      emptyBatch: { batch: [] },
    }
    for (const [id, data] of Object.entries(poison)) await bull.add('a', data, { jobId: id, attempts: 1 })
    const seen: string[] = []
    const consumer = await transport.consume(
      async (delivery) => {
        seen.push(delivery.envelope.request.attemptId)
        await delivery.ack()
      },
      { worker: 'w', queues: [queueName], concurrency: 2 },
    )
    cleanups.push(() => consumer.close({ graceMs: 0 }))
    await transport.publish([healthy])
    await waitFor('the healthy attempt', () => seen.includes(healthy.request.attemptId), 10_000)
    for (const id of Object.keys(poison)) {
      await waitFor(`job ${id} to be dead`, async () => (await bull.getJob(id))?.failedReason !== undefined, 5_000)
      const job = await bull.getJob(id)
      expect(job?.attemptsStarted, id).toBe(1)
      expect(job?.failedReason, id).toMatch(/^the job is not an attempt: /)
    }
    expect((await bull.getJob('garbageBatch'))?.failedReason).toContain('batch item 0: it is not an object')
    expect((await bull.getJob('noOwner'))?.failedReason).toContain('"owner" is not a non-empty string')
    expect(seen).toEqual([healthy.request.attemptId])
  })
})

describe('a Redis server that restarts (empty: it keeps nothing on disk)', () => {
  it('queue: calls fail fast naming the server (not its password) while it is down; the consumer resumes once it is back', async () => {
    const server = await PrivateRedis.start()
    cleanups.push(() => server.stop())
    const queue: MessageQueue<{ k: string }> = await openRedisQueue({ url: server.url, prefix: RUN, name: 'restarts', leaseMs: 1000, connection: { connectTimeoutMs: 1000, commandTimeoutMs: 1000 } })
    cleanups.push(() => queue.close())
    const seen: string[] = []
    const consumer = await queue.consume((d) => {
      seen.push(d.body.k)
    })
    cleanups.push(() => consumer.close({ graceMs: 0 }))
    const spare = await queue.consume(() => {})
    await queue.enqueue({ k: 'before' })
    await waitFor('the first message', () => seen.includes('before'), 5000)

    await server.stop()
    let started = Date.now()
    const err = await rejection(queue.enqueue({ k: 'while down' }))
    expect(Date.now() - started).toBeLessThan(1500)
    expect(TaskweaveError.is(err, 'TW_QUEUE')).toBe(true)
    const message = (err as Error).message
    expect(message).toContain(`127.0.0.1:${server.port}`)
    expect(message).toContain('"restarts"')
    expect(message).not.toContain(server.password)
    expect(TaskweaveError.is(await rejection(queue.stats()), 'TW_QUEUE')).toBe(true)
    // A new consumer cannot connect: it says so within the connect timeout. One closing while
    // Redis is down does not wait for Redis.
    started = Date.now()
    expect(TaskweaveError.is(await rejection(queue.consume(() => {})), 'TW_QUEUE')).toBe(true)
    await spare.close({ graceMs: 0 })
    expect(Date.now() - started).toBeLessThan(1000 + 2500)

    await server.start()
    // The command connection comes back on its own (reconnect attempts at most 2 s apart).
    await waitFor(
      'enqueue to work again',
      async () => {
        try {
          await queue.enqueue({ k: 'after' })
          return true
        } catch {
          return false
        }
      },
      10_000,
    )
    await waitFor('the consumer to take a message again', () => seen.includes('after'), 10_000)
    expect(seen).toEqual(['before', 'after'])
    await waitFor('the acknowledgement to be counted', async () => (await queue.stats()).completed === 1, 5000)
  }, 40_000)

  it('transport: publish and report fail fast while it is down; workers and the report reader resume once it is back', async () => {
    const server = await PrivateRedis.start()
    cleanups.push(() => server.stop())
    const options = { url: server.url, prefix: RUN, leaseMs: 1000, connection: { connectTimeoutMs: 1000, commandTimeoutMs: 1000 } }
    const owner = await openRedisTransport(options)
    const worker = await openRedisTransport(options)
    cleanups.push(() => owner.close(), () => worker.close())
    const heard: AttemptReport[] = []
    const inbox = await owner.receive('owner', (report) => heard.push(report))
    cleanups.push(() => inbox.close())
    const consumer = await worker.consume(
      async (delivery) => {
        const { attemptId } = delivery.envelope.request
        await worker.report(delivery.envelope.owner, { kind: 'outcome', attemptId, worker: 'w', outcome: { attemptId, ok: true, output: delivery.envelope.request.input } })
        await delivery.ack()
      },
      { worker: 'w', queues: ['work'], concurrency: 2 },
    )
    cleanups.push(() => consumer.close({ graceMs: 0 }))
    const first = envelope('first', 'work', 'owner')
    await owner.publish([first])
    await waitFor('the first outcome', () => heard.length === 1, 5000)

    await server.stop()
    const started = Date.now()
    const err = await rejection(owner.publish([envelope('lost', 'work', 'owner')]))
    expect(Date.now() - started).toBeLessThan(1500)
    expect(TaskweaveError.is(err, 'TW_TRANSPORT')).toBe(true)
    expect((err as Error).message).toContain(`127.0.0.1:${server.port}`)
    expect((err as Error).message).not.toContain(server.password)
    expect(TaskweaveError.is(await rejection(worker.report('owner', { kind: 'started', attemptId: 'x', worker: 'w' })), 'TW_TRANSPORT')).toBe(true)

    await server.start()
    const second = envelope('second', 'work', 'owner')
    await waitFor(
      'publish to work again',
      async () => {
        try {
          await owner.publish([second])
          return true
        } catch {
          return false
        }
      },
      10_000,
    )
    await waitFor('the outcome of the attempt published after the restart', () => heard.length === 2, 10_000)
    expect(heard.map((r) => r.attemptId)).toEqual([first.request.attemptId, second.request.attemptId])
  }, 40_000)
})

describe('a missing driver package', () => {
  it('is TW_QUEUE / TW_TRANSPORT saying how to install it', async () => {
    // A resolve hook makes "bullmq" missing for the child, as in an application that never installed it.
    const hook = `export async function resolve(specifier, context, next) {
      if (specifier === 'bullmq') throw Object.assign(new Error("Cannot find package 'bullmq'"), { code: 'ERR_MODULE_NOT_FOUND' })
      return next(specifier, context)
    }`
    const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)})`
    const program = `const { openRedisQueue, openRedisTransport } = await import(process.env.TW_ADAPTER)
      const errors = []
      for (const open of [() => openRedisQueue({ name: 'q' }), () => openRedisTransport({})]) {
        try { await open(); errors.push(null) } catch (err) { errors.push({ code: err.code, message: err.message }) }
      }
      process.stdout.write(JSON.stringify(errors))`
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', program], {
      env: { ...process.env, TW_ADAPTER: ADAPTER },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    await once(child, 'exit')
    const [queueError, transportError] = JSON.parse(output) as Array<{ code: string; message: string } | null>
    expect(queueError?.code).toBe('TW_QUEUE')
    expect(queueError?.message).toContain('the "bullmq" package could not be loaded (install it with `npm install bullmq ioredis`)')
    expect(transportError?.code).toBe('TW_TRANSPORT')
    expect(transportError?.message).toContain('npm install bullmq')
  })
})

describe('a server that cannot be reached', () => {
  it('openRedisQueue rejects with TW_QUEUE within the connect timeout, naming the URL without its password', async () => {
    const port = await freePort()
    const started = Date.now()
    const err = await rejection(openRedisQueue({ url: `redis://:hunter2@127.0.0.1:${port}`, name: 'nowhere', connection: { connectTimeoutMs: 500 } }))
    expect(Date.now() - started).toBeLessThan(2000)
    expect(TaskweaveError.is(err, 'TW_QUEUE')).toBe(true)
    const message = (err as Error).message
    expect(message).toContain(`redis://:***@127.0.0.1:${port}`)
    expect(message).toContain('could not connect within 500 ms')
    expect(message).toContain('ECONNREFUSED')
    expect(message).not.toContain('hunter2')
  })

  it('openRedisTransport rejects with TW_TRANSPORT within the connect timeout', async () => {
    const port = await freePort()
    const started = Date.now()
    const err = await rejection(openRedisTransport({ url: `redis://127.0.0.1:${port}`, connection: { connectTimeoutMs: 500 } }))
    expect(Date.now() - started).toBeLessThan(2000)
    expect(TaskweaveError.is(err, 'TW_TRANSPORT')).toBe(true)
    expect((err as Error).message).toContain(`redis://127.0.0.1:${port}`)
  })

  it('a URL naming a database the server does not have is refused, not served from database 0', async () => {
    const err = await rejection(openRedisTransport({ url: `${URL}/999`, prefix: RUN, connection: { connectTimeoutMs: 2000 } }))
    expect(TaskweaveError.is(err, 'TW_TRANSPORT')).toBe(true)
    expect((err as Error).message).toMatch(/database 999 cannot be used: .*DB index is out of range/)
    // A database the server has is used as asked.
    const transport = await openRedisTransport({ url: `${URL}/3`, prefix: RUN })
    await transport.close()
  })

  it('a transport whose server went away rejects receive() and onCancel() within the connect timeout instead of waiting', async () => {
    const server = await PrivateRedis.start()
    cleanups.push(() => server.stop())
    const transport: RedisTransportHandle = await openRedisTransport({ url: server.url, prefix: RUN, connection: { connectTimeoutMs: 500, commandTimeoutMs: 500 } })
    cleanups.push(() => transport.close())
    await server.stop()
    const started = Date.now()
    expect(TaskweaveError.is(await rejection(transport.receive('owner', () => {})), 'TW_TRANSPORT')).toBe(true)
    expect(TaskweaveError.is(await rejection(transport.onCancel(() => {})), 'TW_TRANSPORT')).toBe(true)
    expect(TaskweaveError.is(await rejection(transport.consume(async () => {}, { worker: 'w', concurrency: 1 })), 'TW_TRANSPORT')).toBe(true)
    expect(Date.now() - started).toBeLessThan(4000)
  })
})
