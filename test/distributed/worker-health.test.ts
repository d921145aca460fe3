/**
 * Workers through broker outages and resource alarms, on private servers (RELIABILITY BR-02 and
 * BR-08): health and readiness say `degraded` and why while the broker cannot be reached or
 * blocks publishing, `/metrics` keeps serving, and the workers take attempts again by themselves
 * once it is back. Publishing while RabbitMQ blocks fails at once instead of piling up in memory.
 */
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from 'taskweave'
import { startWorker } from 'taskweave/distributed'
import type { Worker } from 'taskweave/distributed'
import { openRedisTransport } from 'taskweave/queues/redis'
import { openRabbitTransport } from 'taskweave/queues/rabbitmq'
import type { AttemptEnvelope, AttemptReport, Transport } from 'taskweave/queues'
import { startWorkerServer } from '../../src/cli/worker-server.js'
import type { WorkerServer } from '../../src/cli/worker-server.js'
import { TaskweaveError } from '../../src/core/errors.js'
import { rejection } from '../helpers.js'
import { PrivateRabbit, PrivateRedis } from '../private-servers.js'

const RUN = `twtest-${randomUUID().slice(0, 8)}`
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

/** Takes 30 ms: 1,000 of them keep 4 workers busy for about 2 s, longer than their reconnections are spread. */
const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: async ({ n }) => new Promise((resolve) => setTimeout(() => resolve(n), 30)) })

function envelope(n: number, owner: string): AttemptEnvelope {
  const attemptId = `${RUN}/t${n}#1-${randomUUID().slice(0, 6)}`
  return { request: { runId: RUN, taskId: `t${n}`, attempt: 1, attemptId, idempotencyKey: `${RUN}/t${n}`, tool: 'echo', input: { n }, inputChecked: false, timeoutMs: 10_000, priority: 0 }, owner, queue: 'default', publishedAt: Date.now() }
}

async function get(server: WorkerServer, path: string): Promise<{ readonly status: number; readonly body: string }> {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`)
  return { status: res.status, body: await res.text() }
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return Date.now() - started
}

/** Workers on their own handles, each with its HTTP side; an owner handle hearing the outcomes. */
async function fleet(open: () => Promise<Transport>, count: number): Promise<{ readonly owner: Transport; readonly workers: Worker[]; readonly servers: WorkerServer[]; readonly done: Set<string> }> {
  const owner = await open()
  cleanups.push(() => owner.close())
  const done = new Set<string>()
  const inbox = await owner.receive('owner', (report: AttemptReport) => {
    if (report.kind === 'outcome' && report.outcome.ok) done.add(report.attemptId)
  })
  cleanups.push(() => inbox.close())
  const workers: Worker[] = []
  const servers: WorkerServer[] = []
  for (let k = 0; k < count; k++) {
    const transport = await open()
    const worker = await startWorker({ transport, tools: [echo], builtins: false, worker: `w${k}`, concurrency: 4, heartbeatMs: 200 })
    const server = await startWorkerServer(worker, transport, 0, '127.0.0.1')
    cleanups.push(() => transport.close(), () => worker.close({ graceMs: 0 }), () => server.close())
    workers.push(worker)
    servers.push(server)
  }
  return { owner, workers, servers, done }
}

describe('workers while Redis is down longer than BullMQ\'s blocking timeout (BR-02)', () => {
  it('say degraded on /healthz and /readyz, serve /metrics, and all take attempts again within 10 s of Redis coming back', async () => {
    const redis = await PrivateRedis.start()
    cleanups.push(() => redis.stop())
    const open = (): Promise<Transport> => openRedisTransport({ url: redis.url, prefix: RUN, leaseMs: 2000, connection: { connectTimeoutMs: 1000, commandTimeoutMs: 1000 } })
    const { owner, workers, servers, done } = await fleet(open, 4)
    for (const server of servers) {
      expect(await get(server, '/healthz')).toEqual({ status: 200, body: 'ok\n' })
      expect(await get(server, '/readyz')).toEqual({ status: 200, body: 'ready\n' })
    }

    await redis.stop()
    const first = servers[0] as WorkerServer
    await waitFor('readiness to fail', async () => (await get(first, '/readyz')).status === 503, 5000)
    for (const server of servers) {
      const ready = await get(server, '/readyz')
      expect(ready.status).toBe(503)
      expect(ready.body).toMatch(new RegExp(`^degraded: Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}/? cannot be reached.* \\(since \\d{4}-\\d\\d-\\d\\dT`))
      expect(ready.body).not.toContain(redis.password)
      const health = await get(server, '/healthz')
      expect(health.status).toBe(200)
      expect(health.body).toMatch(/^degraded: /)
      const metrics = await get(server, '/metrics')
      expect(metrics.status).toBe(200)
      expect(metrics.body).toMatch(/^taskweave_worker_broker_up\{worker="w\d"\} 0$/m)
    }
    expect(workers.every((w) => w.health().status === 'degraded')).toBe(true)
    // Longer than BullMQ's blocking timeout (drainDelay, 5 s): the regression BullMQ #4585/#2964 wedged workers here.
    await new Promise((resolve) => setTimeout(resolve, 6000))

    await redis.start()
    const backAt = Date.now()
    const attempts = Array.from({ length: 1000 }, (_, n) => envelope(n, 'owner'))
    await waitFor(
      'a publish to go through',
      () =>
        owner.publish(attempts).then(
          () => true,
          () => false,
        ),
      10_000,
    )
    await waitFor('the first attempt published after the outage to finish', () => done.size > 0, 10_000)
    const firstJobMs = Date.now() - backAt
    expect(firstJobMs).toBeLessThan(10_000)
    await waitFor('every attempt published after the outage to finish', () => done.size === attempts.length, 30_000)
    await waitFor('every worker to say ok again', async () => (await Promise.all(servers.map((s) => get(s, '/readyz')))).every((r) => r.status === 200), 10_000)
    // Every worker took part: none stayed wedged.
    const wedged = workers.filter((w) => w.stats().completed === 0).length
    process.stdout.write(`${JSON.stringify({ case: 'BR-02', backend: 'redis', outageMs: 6000, firstJobMs, done: done.size, of: attempts.length, wedged })}\n`)
    expect(wedged).toBe(0)
    expect(workers.reduce((sum, w) => sum + w.stats().completed, 0)).toBe(attempts.length)
  }, 60_000)
})

describe('workers on a Redis server that hangs (SIGSTOP: connections open, nothing answers)', () => {
  it('say degraded once their heartbeat cannot reach it, serve /metrics at once, and say ok again when it answers', async () => {
    const redis = await PrivateRedis.start()
    cleanups.push(() => redis.stop())
    const open = (): Promise<Transport> => openRedisTransport({ url: redis.url, prefix: RUN, connection: { connectTimeoutMs: 1000, commandTimeoutMs: 500 } })
    const { servers } = await fleet(open, 1)
    const server = servers[0] as WorkerServer
    redis.pause()
    await waitFor('readiness to fail', async () => (await get(server, '/readyz')).status === 503, 10_000)
    expect((await get(server, '/readyz')).body).toMatch(/^degraded: its heartbeat could not reach the broker: .*timed out/i)
    const started = Date.now()
    const metrics = await get(server, '/metrics')
    expect(Date.now() - started).toBeLessThan(2000)
    expect(metrics.body).toMatch(/^taskweave_worker_broker_up\{worker="w0"\} 0$/m)
    redis.resume()
    await waitFor('readiness to come back', async () => (await get(server, '/readyz')).status === 200, 10_000)
  }, 40_000)
})

describe('a RabbitMQ node under a resource alarm (BR-08) and down (BR-02)', () => {
  it('publishing fails at once while blocked, the handle\'s health names the alarm, all recovers when it clears; down, workers say degraded', async () => {
    const rabbit = await PrivateRabbit.start()
    cleanups.push(() => rabbit.stop())
    const open = (): Promise<Transport> => openRabbitTransport({ url: rabbit.url, prefix: RUN, publishTimeoutMs: 3000, maxReconnectDelayMs: 1000 })
    const { owner, servers, done } = await fleet(open, 2)
    await owner.publish([envelope(0, 'owner')])
    await waitFor('the first attempt', () => done.size === 1, 10_000)

    await rabbit.ctl('set_vm_memory_high_watermark', '0.0000001')
    // The broker tells a connection it blocks it when that connection publishes: the first publish
    // waits (its messages are in flight) and fails at its timeout; the ones after fail at once.
    const stuck = rejection(owner.publish([envelope(1, 'owner')]))
    await waitFor('the owner handle to hear it is blocked', () => owner.health?.().ok === false, 10_000)
    expect(owner.health?.().problem).toMatch(/the broker blocks publishing: .*memory/i)
    const started = Date.now()
    const refused = await rejection(owner.publish([envelope(2, 'owner')]))
    const refusedMs = Date.now() - started
    process.stdout.write(`${JSON.stringify({ case: 'BR-08', backend: 'rabbitmq', refusedMs, blocked: owner.health?.().problem })}\n`)
    expect(refusedMs).toBeLessThan(200)
    expect(TaskweaveError.is(refused, 'TW_TRANSPORT')).toBe(true)
    expect((refused as TaskweaveError).retryable).toBe(true)
    expect((refused as TaskweaveError).details).toMatchObject({ blocked: true })
    expect((refused as Error).message).toMatch(/publish(ing attempts)? refused: the broker blocks publishing/)
    // A queue it never declared is refused at once too: nothing is sent to a broker that reads nothing.
    const fresh = { ...envelope(5, 'owner'), queue: `fresh-${randomUUID().slice(0, 6)}` }
    const freshStarted = Date.now()
    expect((await rejection(owner.publish([fresh])) as TaskweaveError).details).toMatchObject({ blocked: true })
    expect(Date.now() - freshStarted).toBeLessThan(200)
    // The first publish, which waited, names the alarm too.
    const late = await stuck
    expect(TaskweaveError.is(late, 'TW_TRANSPORT')).toBe(true)
    expect((late as Error).message).toMatch(/the broker blocks publishing/)

    await rabbit.ctl('set_vm_memory_high_watermark', '0.4')
    await waitFor('the alarm to clear for the owner', () => owner.health?.().ok === true, 10_000)
    await owner.publish([envelope(3, 'owner')])
    await waitFor('the attempt published after the alarm', () => done.size >= 2, 10_000)

    // Down: readiness says so, and comes back with the node.
    await rabbit.ctl('stop_app')
    const first = servers[0] as WorkerServer
    await waitFor('readiness to fail', async () => (await get(first, '/readyz')).status === 503, 10_000)
    expect((await get(first, '/readyz')).body).toMatch(/^degraded: RabbitMQ transport at amqp:\/\/\S+: the broker cannot be reached/)
    expect((await get(first, '/healthz')).status).toBe(200)
    const scrapeStarted = Date.now()
    expect((await get(first, '/metrics')).body).toMatch(/^taskweave_worker_broker_up\{worker="w0"\} 0$/m)
    expect(Date.now() - scrapeStarted).toBeLessThan(2000)
    await rabbit.ctl('start_app')
    await waitFor('readiness to come back', async () => (await get(first, '/readyz')).status === 200, 15_000)
    await waitFor('a publish to go through', () => owner.publish([envelope(4, 'owner')]).then(() => true, () => false), 15_000)
    await waitFor('the attempt published after the restart', () => done.size >= 3, 15_000)
  }, 90_000)
})
