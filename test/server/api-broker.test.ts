/**
 * The HTTP API in front of workers whose broker cannot take work (RELIABILITY BR-03, BR-08): a
 * Redis server that is out of memory, a RabbitMQ node under a memory alarm. While the owner's
 * runner cannot hand attempts on, `/healthz` and new submissions answer 503 with `Retry-After`
 * (the runs would only wait in the server's memory), `taskweave_runner_up` is 0, and a run
 * accepted just before is not lost: it finishes once the broker takes work again, as do new ones.
 * Private servers, so the alarm and the full memory touch no other test.
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import type { Transport } from 'taskweave/queues'
import { openRabbitTransport } from 'taskweave/queues/rabbitmq'
import { openRedisTransport } from 'taskweave/queues/redis'
import { startServer } from 'taskweave/server'
import { PrivateRabbit, PrivateRedis } from '../private-servers.js'
import { send } from './http-client.js'

const TOKEN = 'test-token-0123456789abcdef'
const AUTH = { authorization: `Bearer ${TOKEN}` }
const PREFIX = `twtest-${randomUUID().slice(0, 8)}`

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: ({ n }) => n })
const flow = (n: number) => ({ workflow: { id: 'one', tasks: [{ id: 'a', tool: 'echo', input: { n } }] } })

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A server whose engine hands attempts to one worker through `open()`'s broker. */
async function serve(open: () => Promise<Transport>): Promise<{ readonly port: number; readonly status: (id: string) => Promise<string> }> {
  const workerSide = await open()
  const worker = await startWorker({ transport: workerSide, tools: [echo], builtins: false, worker: 'w0', concurrency: 4, heartbeatMs: 200 })
  const ownerSide = await open()
  const engine = createEngine({ tools: [echo], builtins: false, runner: createRemoteRunner({ transport: ownerSide, reconcileEveryMs: 1000 }) })
  const server = await startServer({ token: TOKEN, port: 0, engine })
  cleanups.push(() => workerSide.close(), () => worker.close({ graceMs: 0 }), () => ownerSide.close(), () => engine.close(), () => server.close())
  const status = async (id: string): Promise<string> => ((await send(server.port, `/api/runs/${id}`, { headers: AUTH })).json as { status: string }).status
  return { port: server.port, status }
}

/** Submits a run; its answer. */
const submit = (port: number, n: number) => send(port, '/api/runs', { method: 'POST', headers: AUTH, body: flow(n) })

/** Walks the server through an outage `block()` starts and `unblock()` ends. */
async function throughOutage(open: () => Promise<Transport>, block: () => Promise<void>, unblock: () => Promise<void>, problem: RegExp): Promise<void> {
  const { port, status } = await serve(open)
  const before = await submit(port, 1)
  expect(before.status).toBe(201)
  const beforeId = (before.json as { id: string }).id
  await waitFor('the first run to succeed', async () => (await status(beforeId)) === 'succeeded', 15_000)

  await block()
  // Nothing tells before a publish meets the broker (a Redis figure of used memory is a few
  // seconds old; RabbitMQ says it blocks a connection when it publishes): runs submitted until
  // then are accepted, and their attempts wait.
  const caught: string[] = []
  let refused: Awaited<ReturnType<typeof submit>> | undefined
  await waitFor('a submission to be refused', async () => {
    const res = await submit(port, 2)
    if (res.status === 201) caught.push((res.json as { id: string }).id)
    else refused = res
    return refused !== undefined
  }, 20_000)
  expect(refused?.status).toBe(503)
  expect(refused?.headers['retry-after']).toBe('1')
  expect((refused?.json as { error: { message: string } }).error.message).toMatch(problem)
  const health = await send(port, '/healthz')
  expect(health.status).toBe(503)
  expect(health.text).toMatch(/^unavailable: attempts cannot be handed to workers since \d{4}-/)
  expect((await send(port, '/readyz')).status).toBe(503)
  // Liveness says the process answers: a restart would bring no broker back and lose the runs waiting here.
  expect(await send(port, '/livez')).toMatchObject({ status: 200, text: 'ok' })
  expect((await send(port, '/metrics', { headers: AUTH })).text).toMatch(/^taskweave_runner_up 0$/m)
  expect(((await send(port, '/api/stats', { headers: AUTH })).json as { engine: { runner: { ok: boolean } } }).engine.runner.ok).toBe(false)
  process.stdout.write(`${JSON.stringify({ case: 'API under a broker that takes no work', acceptedBeforeRefusing: caught.length })}\n`)

  await unblock()
  // The runs accepted before the refusals are not lost: their attempts go out once the broker takes them.
  await waitFor('the runs accepted meanwhile to succeed', async () => (await Promise.all(caught.map(status))).every((s) => s === 'succeeded'), 30_000)
  await waitFor('/healthz to say ok', async () => (await send(port, '/healthz')).status === 200, 15_000)
  expect((await send(port, '/metrics', { headers: AUTH })).text).toMatch(/^taskweave_runner_up 1$/m)
  const after = await submit(port, 4)
  expect(after.status).toBe(201)
  await waitFor('a run submitted after the outage to succeed', async () => (await status((after.json as { id: string }).id)) === 'succeeded', 15_000)
}

describe('the HTTP API while the workers\' broker cannot take work', () => {
  it('Redis out of memory (BR-03): 503 with Retry-After on /healthz and new runs, nothing accepted is lost, all resumes once memory is freed', async () => {
    const redis = await PrivateRedis.start(['--maxmemory', '32mb', '--maxmemory-policy', 'noeviction'])
    cleanups.push(() => redis.stop())
    const direct = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await direct.connect()
    cleanups.push(async () => direct.disconnect())
    await throughOutage(
      () => openRedisTransport({ url: redis.url, prefix: PREFIX }),
      // Filled with 1 MiB values until the server refuses one (it counts a command's own bytes too).
      async () => {
        for (let k = 0; await direct.set(`${PREFIX}-filler-${k}`, 'x'.repeat(1024 * 1024)).then(() => true, () => false); k++);
      },
      async () => void (await direct.del(...(await direct.keys(`${PREFIX}-filler-*`)))),
      /^attempts cannot be handed to workers \(publishing attempts fails: .*memory/,
    )
  }, 90_000)

  it('RabbitMQ under a memory alarm (BR-08): 503 with Retry-After on /healthz and new runs, nothing accepted is lost, all resumes once the alarm clears', async () => {
    const rabbit = await PrivateRabbit.start()
    cleanups.push(() => rabbit.stop())
    await throughOutage(
      () => openRabbitTransport({ url: rabbit.url, prefix: PREFIX, publishTimeoutMs: 3000, maxReconnectDelayMs: 1000 }),
      async () => void (await rabbit.ctl('set_vm_memory_high_watermark', '0.0000001')),
      async () => void (await rabbit.ctl('set_vm_memory_high_watermark', '0.4')),
      /^attempts cannot be handed to workers \(.*the broker blocks publishing/,
    )
  }, 120_000)
})
