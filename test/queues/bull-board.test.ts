/**
 * The Redis adapters' queues in bull-board, against the shared Redis at TASKWEAVE_TEST_REDIS_URL
 * (default redis://127.0.0.1:6379): a message queue and a transport under a prefix unique to the
 * test, a board over the BullMQ queues the naming helpers give, served on an ephemeral port, and
 * its JSON API (`/api/queues`) read as the dashboard reads it. taskweave adds every job with a
 * priority, so BullMQ keeps waiting jobs as "prioritized"; a dead letter is a failed job.
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { RequestListener, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { ExpressAdapter } from '@bull-board/express'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { listRedisTransportQueues, openRedisQueue, openRedisTransport, redisQueueName, redisTransportQueueNames } from 'taskweave/queues/redis'
import type { BullQueueName } from 'taskweave/queues/redis'
import type { AttemptEnvelope } from '../../src/core/transport.js'
import { removeBrokerLeftovers, waitFor } from './broker-kit.js'

const URL = process.env['TASKWEAVE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const PREFIX = `twtest-board-${randomBytes(4).toString('hex')}`
const redis = new Redis(URL)
const cleanups: Array<() => Promise<unknown>> = []

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  await removeBrokerLeftovers('redis', URL, PREFIX)
  redis.disconnect()
})

/** Counts of one queue as bull-board's API gives them. */
interface BoardQueue {
  readonly name: string
  readonly counts: Readonly<Record<string, number>>
}

function envelope(attemptId: string, queue: string): AttemptEnvelope {
  return {
    request: { runId: 'run', taskId: attemptId, attempt: 1, attemptId, idempotencyKey: attemptId, tool: 'echo', input: {}, inputChecked: true, timeoutMs: 10_000, priority: 0 },
    owner: 'owner',
    queue,
    publishedAt: Date.now(),
  }
}

/** A bull-board over `queues`, served on an ephemeral port of 127.0.0.1; resolves with its base URL. */
async function serveBoard(queues: readonly BullQueueName[]): Promise<string> {
  const adapters = queues.map(({ name, prefix }) => {
    const queue = new Queue(name, { connection: redisAddress(), prefix })
    cleanups.push(() => queue.close())
    return new BullMQAdapter(queue, { readOnlyMode: true })
  })
  const serverAdapter = new ExpressAdapter()
  createBullBoard({ queues: adapters, serverAdapter })
  // The adapter's router is an Express app, a plain request listener: served at the root (an app
  // of one's own mounts it under a path with `app.use(path, router)` and `setBasePath(path)`).
  const server: Server = createServer(serverAdapter.getRouter() as RequestListener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Host and port of the test Redis. */
function redisAddress(): { host: string; port: number } {
  const url = new globalThis.URL(URL)
  return { host: url.hostname, port: Number(url.port || 6379) }
}

async function boardQueues(base: string): Promise<Map<string, BoardQueue>> {
  const response = await fetch(`${base}/api/queues`)
  expect(response.status).toBe(200)
  const body = (await response.json()) as { queues: BoardQueue[] }
  return new Map(body.queues.map((queue) => [queue.name, queue]))
}

/** Jobs not yet taken: BullMQ's wait list and its prioritized set. */
function waiting(queue: BoardQueue | undefined): number {
  return (queue?.counts['waiting'] ?? 0) + (queue?.counts['prioritized'] ?? 0)
}

describe('BullMQ queues in bull-board', () => {
  it('shows the message queue and the transport queues with their waiting and dead (failed) jobs', async () => {
    const queue = await openRedisQueue<{ n: number }>({ name: 'fetches', url: URL, prefix: PREFIX })
    cleanups.push(() => queue.close())
    // A poison message, dead-lettered by its consumer: the board shows it as failed.
    await queue.enqueue({ n: 0 })
    const consumer = await queue.consume((delivery) => delivery.deadLetter('poison'))
    await waitFor('the dead letter', async () => (await queue.deadLetters.list()).length === 1)
    await consumer.close()
    await queue.enqueueMany([1, 2, 3].map((n) => ({ body: { n } })))

    const transport = await openRedisTransport({ url: URL, prefix: PREFIX })
    cleanups.push(() => transport.close())
    await transport.publish([envelope('a1', 'default'), envelope('a2', 'default'), envelope('b1', 'llm')])

    const named = [redisQueueName({ name: 'fetches', prefix: PREFIX }), ...redisTransportQueueNames({ prefix: PREFIX, queues: ['default', 'llm'] })]
    // The transport's own list of its queues names the same ones.
    expect(await listRedisTransportQueues(redis, PREFIX)).toEqual(redisTransportQueueNames({ prefix: PREFIX, queues: ['default', 'llm'] }))

    const board = await serveBoard(named)
    const shown = await boardQueues(board)
    expect([...shown.keys()].sort()).toEqual(['fetches', 'work.default', 'work.llm'])
    const fetches = shown.get('fetches')
    expect(fetches?.counts['failed']).toBe(1)
    expect(waiting(fetches)).toBe(3)
    // The two attempts published together for one queue travel as one batch job.
    expect(waiting(shown.get('work.default'))).toBe(1)
    expect((await transport.stats()).queues.find((q) => q.queue === 'default')?.waiting).toBe(2)
    expect(waiting(shown.get('work.llm'))).toBe(1)
    expect(shown.get('work.default')?.counts['failed']).toBe(0)

    // What the page serves: the dashboard itself.
    const page = await fetch(`${board}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<html')
  })

  it('names the queues as the adapters do: prefix and name for a message queue, work.Q and route.W (escaped) for the transport', () => {
    expect(redisQueueName({ name: 'fetches' })).toEqual({ name: 'fetches', prefix: 'taskweave' })
    expect(redisTransportQueueNames()).toEqual([{ name: 'work.default', prefix: 'taskweave' }])
    expect(redisTransportQueueNames({ prefix: 'prod', queues: ['llm', 'a:b'], workers: ['w%1'] })).toEqual([
      { name: 'work.llm', prefix: 'prod' },
      { name: 'work.a%3Ab', prefix: 'prod' },
      { name: 'route.w%251', prefix: 'prod' },
    ])
  })
})
