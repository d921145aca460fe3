/**
 * The RabbitMQ queue against the broker at `RABBITMQ_URL` (default amqp://guest:guest@127.0.0.1:5672):
 * the conformance suite, then what it cannot show on its own: consumers whose process is killed, a poison
 * message that kills every consumer, delays that do not hold each other up, a size limit fixed at
 * declaration, a connection cut (through a TCP proxy in the test) and one closed by the broker
 * (`rabbitmqctl close_connection`, when rabbitmqctl is on this host), an unreachable broker, and a
 * missing amqplib. Every name starts with `twtest-<random>`; what a test leaves is deleted after.
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { pathToFileURL } from 'node:url'
import { removeBrokerLeftovers, sleep, TcpProxy, waitFor } from './broker-kit.js'
import { afterAll, describe, expect, it, vi } from 'vitest'
import type { Delivery, MessageQueue } from '../../src/core/queue.js'
import { openRabbitQueue } from '../../src/queues/rabbitmq/index.js'
import type { RabbitQueueOptions } from '../../src/queues/rabbitmq/index.js'
import { inequivalentError } from '../../src/queues/rabbitmq/errors.js'
import { locationOf } from '../../src/queues/rabbitmq/location.js'
import { delayBucket, namePart, workQueueNames } from '../../src/queues/rabbitmq/names.js'
import { queueConformanceCases } from '../../src/testing/queue-conformance.js'

const URL_ = process.env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672'
const PREFIX = `twtest-${randomBytes(4).toString('hex')}`
const run = promisify(execFile)
const opened: MessageQueue[] = []

/** A queue of this file, closed (not destroyed) after the file unless the test destroys it. */
async function open<T = unknown>(name: string, options: Partial<RabbitQueueOptions> = {}): Promise<MessageQueue<T>> {
  const queue = await openRabbitQueue<T>({ url: URL_, prefix: PREFIX, reconnectDelayMs: 50, maxReconnectDelayMs: 500, ...options, name })
  opened.push(queue)
  return queue
}



afterAll(async () => {
  for (const queue of opened) await queue.close().catch(() => {})
  await removeBrokerLeftovers('rabbitmq', URL_, PREFIX)
}, 60_000)


/** A child process that opens the queue and consumes; `onDelivery` is JS run on each delivery `d`. */
function consumerProcess(name: string, options: Partial<RabbitQueueOptions>, onDelivery: string): ChildProcess & { readonly lines: string[] } {
  const entry = pathToFileURL(new URL('../../src/queues/rabbitmq/index.ts', import.meta.url).pathname).href
  const code = `
    const { openRabbitQueue } = await import(${JSON.stringify(entry)})
    const queue = await openRabbitQueue({ ...${JSON.stringify({ url: URL_, prefix: PREFIX, ...options })}, name: ${JSON.stringify(name)} })
    await queue.consume(async (d) => { ${onDelivery} })
    console.log('ready')
  `
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: string[] = []
  let rest = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n')
    rest = parts.pop() ?? ''
    lines.push(...parts)
  })
  return Object.assign(child, { lines })
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))
}

describe('RabbitMQ queue conformance', () => {
  for (const c of queueConformanceCases(async (options) => ({ queue: await open(options.name, options), reopen: () => open(options.name, options) }))) it(c.name, c.run)
})

describe('names and messages', () => {
  it('rounds a delay up to two significant digits and keeps the backoff steps exact', () => {
    expect([0, -5, 1, 99, 100, 1000, 1234, 2000, 4000, 60_000, 61_234].map(delayBucket)).toEqual([0, 0, 1, 99, 100, 1000, 1300, 2000, 4000, 60_000, 62_000])
  })

  it('names the parts of a queue so that no two queues clash', () => {
    const jobs = workQueueNames('taskweave.jobs')
    expect([jobs.main, jobs.later, jobs.dead, jobs.deadExchange, jobs.delay(2000)]).toEqual(['taskweave.jobs', 'taskweave.jobs:later', 'taskweave.jobs:dead', 'taskweave.jobs:dlx', 'taskweave.jobs:delay:2000'])
    expect(namePart('w-1')).toBe('w-1')
    const long = namePart('x'.repeat(300))
    expect(Buffer.byteLength(long)).toBeLessThan(100)
    expect(namePart('host:1234')).not.toContain(':')
  })

  it('keeps the password out of the URL it shows', () => {
    expect(locationOf('amqp://user:s3cret@broker:5672/vh')).toBe('amqp://user@broker:5672/vh')
    expect(locationOf('not a url user:s3cret@broker')).not.toContain('s3cret')
  })

  it('explains a refused declaration: the queue, the argument and both values', () => {
    const refusal = Object.assign(new Error(`Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'taskweave.jobs' in vhost '/': received '3' but current is '2'"`), { code: 406 })
    const err = inequivalentError({ code: 'TW_QUEUE', subject: 'RabbitMQ queue "jobs"', location: 'amqp://guest@localhost:5672' }, refusal)
    expect(err?.code).toBe('TW_QUEUE')
    expect(err?.message).toContain('"taskweave.jobs" already exists on the broker with x-max-length \'2\'')
    expect(err?.details).toMatchObject({ queue: 'taskweave.jobs', argument: 'x-max-length', current: "'2'", requested: "'3'" })
    expect(inequivalentError({ code: 'TW_QUEUE', subject: 'q', location: 'l' }, new Error('other'))).toBeUndefined()
  })
})

describe('RabbitMQ queue', () => {
  it('delivers by priority, retries after the backoff, and dead-letters at the limit with the reason', async () => {
    const queue = await open<{ k: string }>('basics', { retry: { maxDeliveries: 2, backoff: { type: 'fixed', delayMs: 100 } } })
    await queue.enqueueMany([{ body: { k: 'low' }, priority: 1 }, { body: { k: 'high' }, priority: 8 }, { body: { k: 'fails' }, priority: 5 }])
    const seen: string[] = []
    const consumer = await queue.consume((d) => {
      seen.push(`${d.body.k}#${d.deliveries}`)
      if (d.body.k === 'fails') throw new Error(`failed at delivery ${d.deliveries}`)
    })
    await waitFor('the dead letter', async () => (await queue.deadLetters.list()).length === 1)
    expect(seen).toEqual(['high#1', 'fails#1', 'low#1', 'fails#2'])
    const [letter] = await queue.deadLetters.list()
    expect(letter).toMatchObject({ body: { k: 'fails' }, reason: 'failed at delivery 2', deliveries: 2, priority: 5 })
    await consumer.close({ graceMs: 1000 })
    await queue.destroy()
  })

  it('a long delay does not hold up a shorter one: each delay has its own delay queue', async () => {
    const queue = await open<{ k: string }>('delays')
    const t0 = Date.now()
    await queue.enqueue({ k: 'slow' }, { delayMs: 1500 })
    await queue.enqueue({ k: 'fast' }, { delayMs: 200 })
    const seen: [string, number][] = []
    const consumer = await queue.consume((d) => {
      seen.push([d.body.k, Date.now() - t0])
    })
    await waitFor('both', () => seen.length === 2)
    expect(seen.map(([k]) => k)).toEqual(['fast', 'slow'])
    expect(seen[0]?.[1]).toBeGreaterThanOrEqual(190)
    expect(seen[0]?.[1]).toBeLessThan(1200)
    expect(seen[1]?.[1]).toBeGreaterThanOrEqual(1490)
    await consumer.close({ graceMs: 1000 })
    await queue.destroy()
  })

  it('a message whose consumer process was killed comes back with deliveries 2', async () => {
    const name = 'killed-consumer'
    const queue = await open<{ k: string }>(name)
    const id = await queue.enqueue({ k: 'crash' })
    const child = consumerProcess(name, {}, `console.log(JSON.stringify({ id: d.id, deliveries: d.deliveries })); await new Promise(() => {})`)
    try {
      await waitFor('the child to take the message', () => child.lines.some((l) => l.startsWith('{')), 15_000)
      expect(JSON.parse(child.lines.find((l) => l.startsWith('{')) ?? '{}')).toEqual({ id, deliveries: 1 })
    } finally {
      child.kill('SIGKILL')
      await exited(child)
    }
    const seen: Delivery<{ k: string }>[] = []
    const consumer = await queue.consume((d) => {
      seen.push(d)
    })
    await waitFor('the message given back', () => seen.length === 1)
    expect(seen[0]).toMatchObject({ id, deliveries: 2, body: { k: 'crash' } })
    await consumer.close({ graceMs: 1000 })
    await queue.destroy()
  }, 40_000)

  it('a poison message that kills every consumer ends in the dead letters after maxDeliveries', async () => {
    const name = 'poison'
    const queue = await open<{ k: string }>(name, { retry: { maxDeliveries: 3 } })
    const id = await queue.enqueue({ k: 'poison' })
    const deliveries: number[] = []
    for (let spawned = 0; spawned < 6; spawned++) {
      const child = consumerProcess(name, { retry: { maxDeliveries: 3 } }, `console.log(JSON.stringify({ deliveries: d.deliveries })); process.kill(process.pid, 'SIGKILL')`)
      // Until the child dies of the message, or (once the limit is reached) dead-letters it without handling it.
      const deadline = Date.now() + 20_000
      while (child.exitCode === null && child.signalCode === null && (await queue.deadLetters.list()).length === 0 && Date.now() < deadline) await sleep(50)
      deliveries.push(...child.lines.filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { deliveries: number }).deliveries))
      // A consumer dead-letters in two steps (publish the letter, then ack the message): killed
      // between them, it leaves the message to be delivered again. Wait for the ack first.
      if (child.exitCode === null && child.signalCode === null && (await queue.deadLetters.list()).length > 0) await waitFor('the dead-lettered message acked', async () => (await queue.stats()).pending === 0)
      child.kill('SIGKILL')
      await exited(child)
      if ((await queue.deadLetters.list()).length > 0) break
    }
    expect(deliveries).toEqual([1, 2, 3])
    const [letter] = await queue.deadLetters.list()
    expect(letter?.id).toBe(id)
    expect(letter?.deliveries).toBe(3)
    expect(letter?.reason).toMatch(/delivery limit reached: delivered 3 times/)
    expect((await queue.stats()).pending).toBe(0)
    await queue.destroy()
  }, 90_000)

  it('maxSize is the broker’s x-max-length: a handle asking for another size gets a clear TW_QUEUE error', async () => {
    const queue = await open('sized', { maxSize: 2 })
    await queue.enqueueMany([{ body: 1 }, { body: 2 }])
    await expect(queue.enqueue(3)).rejects.toMatchObject({ code: 'TW_QUEUE_FULL' })
    // Delayed messages wait outside the limit.
    await queue.enqueue(4, { delayMs: 60_000 })
    const other = openRabbitQueue({ url: URL_, prefix: PREFIX, name: 'sized', maxSize: 5 })
    await expect(other).rejects.toMatchObject({ code: 'TW_QUEUE', details: { queue: `${PREFIX}.sized`, argument: 'x-max-length', current: "'2'", requested: "'5'" } })
    await expect(other).rejects.toThrow(/already exists on the broker with x-max-length '2'.*open it with the same options/)
    expect(await queue.stats()).toMatchObject({ pending: 2, delayed: 1 })
    expect(await queue.purge()).toBe(3)
    await queue.destroy()
  })

  it('reconnects after the connection is cut: publishes wait, consumers resume, a running handler’s message comes back counted', async () => {
    const proxy = new TcpProxy(URL_)
    await proxy.start()
    const queue = await open<{ k: string }>('reconnect', { url: proxy.url, publishTimeoutMs: 8000 })
    const seen: string[] = []
    let holding: Delivery<{ k: string }> | undefined
    let release = (): void => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    const consumer = await queue.consume(
      async (d) => {
        seen.push(`${d.body.k}#${d.deliveries}`)
        if (d.body.k === 'held' && d.deliveries === 1) {
          holding = d
          await held
        }
      },
      { concurrency: 2 },
    )
    await queue.enqueue({ k: 'held' })
    await waitFor('the held delivery', () => holding !== undefined)
    proxy.cut()
    // Sent while the connection is down or coming back: waits for it, then resolves.
    await queue.enqueue({ k: 'after cut' })
    await waitFor('the message sent after the cut, and the held one again', () => seen.includes('after cut#1') && seen.includes('held#2'))
    // The first delivery's channel is gone: settling it fails, and the message was not lost.
    await expect((holding as Delivery<{ k: string }>).ack()).rejects.toMatchObject({ code: 'TW_QUEUE' })
    release()

    // A longer outage: publishes wait, then go through once the broker is reachable again.
    await proxy.stop()
    const waiting = queue.enqueue({ k: 'during outage' })
    await sleep(700)
    await proxy.start()
    await waiting
    await waitFor('the message sent during the outage', () => seen.includes('during outage#1'))
    await consumer.close({ graceMs: 1000 })
    await queue.destroy()
    await proxy.stop()
  }, 40_000)

  it('a publish during an outage longer than publishTimeoutMs rejects with TW_QUEUE naming the URL without its password', async () => {
    const proxy = new TcpProxy(URL_)
    await proxy.start()
    const queue = await open('outage', { url: proxy.url, publishTimeoutMs: 400 })
    await proxy.stop()
    const t0 = Date.now()
    const err = (await queue.enqueue(1).catch((e: unknown) => e)) as Error & { code: string }
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(err.code).toBe('TW_QUEUE')
    expect(err.message).toContain(`RabbitMQ queue "outage" at ${locationOf(proxy.url)}`)
    expect(err.message).not.toContain(':guest@')
    expect(err.message).toMatch(/could not be reached in time/)
    await proxy.start()
    // The reconnection loop comes back within its longest delay (500 ms here).
    await waitFor('a publish once the broker is back', () => queue.enqueue(2).then(() => true, () => false))
    await queue.destroy()
    await proxy.stop()
  })

  it('reconnects after the broker closed the connection (rabbitmqctl close_connection)', async (ctx) => {
    const connectionName = `${PREFIX} broker-close`
    const queue = await open<{ k: string }>('broker-close', { connectionName })
    const listing = await run('rabbitmqctl', ['list_connections', 'pid', 'client_properties', '-q', '--no-table-headers']).catch(() => undefined)
    if (listing === undefined) return ctx.skip()
    const seen: string[] = []
    const consumer = await queue.consume((d) => {
      seen.push(d.body.k)
    })
    const pid = listing.stdout.split('\n').find((line) => line.includes(`"${connectionName}"`))?.split('\t')[0]
    expect(pid).toBeDefined()
    await run('rabbitmqctl', ['close_connection', pid as string, 'taskweave test: the broker closes the connection'])
    await queue.enqueue({ k: 'after close' })
    await waitFor('the message sent after the broker closed the connection', () => seen.includes('after close'))
    await consumer.close({ graceMs: 1000 })
    await queue.destroy()
  }, 30_000)

  it('an unreachable broker fails the open at once with TW_QUEUE naming the URL without its password', async () => {
    const t0 = Date.now()
    const err = (await openRabbitQueue({ url: 'amqp://guest:secret@127.0.0.1:1', name: 'never' }).catch((e: unknown) => e)) as Error & { code: string }
    expect(Date.now() - t0).toBeLessThan(3000)
    expect(err.code).toBe('TW_QUEUE')
    expect(err.message).toContain('RabbitMQ queue "never" at amqp://guest@127.0.0.1:1')
    expect(err.message).toContain('ECONNREFUSED')
    expect(err.message).not.toContain('secret')
  })

  it('rejects bad options naming the option', async () => {
    await expect(openRabbitQueue({ name: 'bad name!' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'name' } })
    await expect(openRabbitQueue({ name: 'ok', url: 'http://localhost' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'url' } })
    await expect(openRabbitQueue({ name: 'ok', maxSize: -1 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'maxSize' } })
  })

  it('without amqplib, the open says to install it', async () => {
    vi.resetModules()
    vi.doMock('amqplib', () => {
      throw new Error("Cannot find package 'amqplib'")
    })
    try {
      const { openRabbitQueue: openWithout } = await import('../../src/queues/rabbitmq/index.js')
      await expect(openWithout({ name: 'x', url: 'amqp://guest:secret@127.0.0.1:5672' })).rejects.toThrow(/the "amqplib" package could not be loaded \(install it with `npm install amqplib`\)/)
    } finally {
      vi.doUnmock('amqplib')
      vi.resetModules()
    }
  })
})
