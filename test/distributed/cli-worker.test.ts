/**
 * `taskweave worker` and `taskweave queues` as a user runs them: health, readiness and metrics
 * over HTTP, a drain on SIGTERM that lets a running attempt finish, the queue listing, and clear
 * errors for a bad or unreachable broker.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { connect, createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine } from 'taskweave'
import type { AnyTool } from 'taskweave'
import { createRemoteRunner } from 'taskweave/distributed'
import { createTransport } from 'taskweave/queues'
import { bin, ensureBuilt } from '../cli-bin.js'
import { openRemoteExecution } from '../../src/cli/remote-execution.js'
import { FIXTURE_TOOLS, readLedger, removeBrokerLeftovers, startWorkerChild, stopWorkerChild } from './harness.js'

const URL_ = 'redis://127.0.0.1:6379'
const PREFIX = `twtest-${randomUUID().slice(0, 8)}`
let dir: string
let tools: AnyTool[]

beforeAll(async () => {
  await ensureBuilt()
  dir = mkdtempSync(join(tmpdir(), 'tw-cli-worker-'))
  tools = Object.values((await import(pathToFileURL(FIXTURE_TOOLS).href)) as Record<string, AnyTool>)
}, 180_000)

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await removeBrokerLeftovers('redis', URL_, PREFIX)
}, 60_000)

describe('taskweave worker', () => {
  it('serves /healthz, /readyz and /metrics, and drains on SIGTERM: a running attempt finishes, then it exits 0', async () => {
    const ledger = join(dir, 'drain.jsonl')
    const worker = await startWorkerChild({ url: URL_, prefix: PREFIX, id: `${PREFIX}-w`, ledger, concurrency: 2, extraArgs: ['--port', '0'] })
    try {
      const port = Number(/on port (\d+)/.exec(worker.stderr())?.[1])
      expect(port).toBeGreaterThan(0)
      const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`)
      expect((await get('/healthz')).status).toBe(200)
      expect((await get('/readyz')).status).toBe(200)
      const metrics = await (await get('/metrics')).text()
      expect(metrics).toMatch(/taskweave_worker_concurrency\{worker="[^"]+"\} 2/)
      expect(metrics).toContain('taskweave_worker_ready')

      const transport = await createTransport({ type: 'redis', url: URL_, prefix: PREFIX })
      const runner = createRemoteRunner({ transport })
      await runner.listen()
      const engine = createEngine({ tools, builtins: false, runner })
      try {
        const handle = engine.start({ id: 'drain', tasks: [{ id: 'long', tool: 'ledger.work', input: { n: 1, ms: 1500 } }] })
        while (!readLedger(ledger).some((l) => l.phase === 'start')) await new Promise((resolve) => setTimeout(resolve, 20))
        worker.child.kill('SIGTERM')
        // Draining: not ready any more, still alive, and the attempt it runs goes on to the end.
        for (let k = 0; k < 50 && (await get('/readyz').then((r) => r.status)) !== 503; k++) await new Promise((resolve) => setTimeout(resolve, 20))
        expect((await get('/readyz')).status).toBe(503)
        expect((await handle.result).status).toBe('succeeded')
        expect(await worker.exited).toEqual({ code: 0, signal: null })
        expect(worker.stderr()).toMatch(/draining/)
        expect(worker.stderr()).toMatch(/stopped: 1 succeeded, 0 failed, 0 returned/)
      } finally {
        await engine.close()
        await transport.close()
      }
    } finally {
      await stopWorkerChild(worker)
    }
  }, 60_000)

  it('a SIGTERM that comes while the worker is starting makes it drain and exit 0 once started', async () => {
    // Every new Redis connection is held back for a while (a slow network), so the start takes
    // long enough to signal inside it: when the worker opens its second connection, after its
    // signal handler is in place and before it consumes.
    let connections = 0
    let signal: () => void = () => undefined
    const sockets = new Set<Socket>()
    const proxy = createServer((client) => {
      sockets.add(client)
      client.pause()
      if (++connections === 2) signal()
      setTimeout(() => {
        const upstream = connect(6379, '127.0.0.1')
        sockets.add(upstream)
        for (const socket of [client, upstream]) socket.on('error', () => undefined)
        client.pipe(upstream).pipe(client)
        client.resume()
      }, 600)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const prefix = `${PREFIX}-start`
    const worker = await startWorkerChild({ url: `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`, prefix, id: `${PREFIX}-starting`, ledger: join(dir, 'start.jsonl'), mayDie: true, wait: false })
    signal = () => worker.child.kill('SIGTERM')
    try {
      const exited = await Promise.race([worker.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000))])
      expect(exited).toEqual({ code: 0, signal: null })
      expect(worker.stderr()).toMatch(/draining/)
      expect(worker.stderr()).toMatch(/stopped: 0 succeeded, 0 failed, 0 returned/)
    } finally {
      await stopWorkerChild(worker)
      for (const socket of sockets) socket.destroy()
      proxy.close()
      await removeBrokerLeftovers('redis', URL_, prefix)
    }
  }, 60_000)

  it('run with a broker and no worker says so once, instead of waiting silently', async () => {
    const prefix = `${PREFIX}-none`
    const warnings: string[] = []
    const remote = await openRemoteExecution(URL_, prefix, (text) => warnings.push(text), {}, 100)
    const engine = createEngine({ tools, builtins: false, ...remote.engineOptions })
    try {
      const handle = engine.start({ id: 'alone', tasks: [{ id: 'a', tool: 'ledger.work', input: { n: 1 } }] })
      for (let k = 0; k < 100 && warnings.length === 0; k++) await new Promise((resolve) => setTimeout(resolve, 20))
      expect(warnings).toEqual([`no worker has been heard from on ${URL_} --prefix ${prefix}: the run's attempts wait in the broker until one starts (taskweave worker --transport ${URL_} --prefix ${prefix} --tools …)`])
      handle.cancel('no worker')
      expect((await handle.result).status).toBe('cancelled')
    } finally {
      await engine.close()
      await remote.close()
      await removeBrokerLeftovers('redis', URL_, prefix)
    }
  }, 30_000)

  it('taskweave queues lists the work queues and the workers heard from', async () => {
    const ledger = join(dir, 'queues.jsonl')
    // A prefix of its own: the worker of the test before is still remembered for a few seconds.
    const prefix = `${PREFIX}-q`
    const worker = await startWorkerChild({ url: URL_, prefix, id: `${PREFIX}-listed`, ledger, concurrency: 3 })
    try {
      const out = await bin(['queues', '--transport', URL_, '--prefix', prefix])
      expect(out.code).toBe(0)
      expect(out.stdout).toMatch(/redis broker redis:\/\/127\.0\.0\.1:6379/)
      expect(out.stdout).toMatch(new RegExp(`worker ${PREFIX}-listed .*0/3 running, queues default`))
      const json = await bin(['queues', '--transport', URL_, '--prefix', prefix, '--json'])
      expect(JSON.parse(json.stdout)).toMatchObject({ type: 'redis', workers: [{ worker: `${PREFIX}-listed`, concurrency: 3 }] })
    } finally {
      await stopWorkerChild(worker)
    }
  }, 60_000)

  it('says what is wrong with a bad or unreachable broker, and that a worker needs one', async () => {
    const bad = await bin(['worker', '--transport', 'kafka://x:1'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--transport: "kafka:\/\/x:1" is not a transport URL; expected redis:\/\/host:6379 or amqp:\/\//)
    const none = await bin(['worker'], { env: { ...process.env, MESSAGE_QUEUE_TYPE: '', TASKWEAVE_TRANSPORT: '' } })
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/a worker needs a broker/)
    const down = await bin(['queues', '--transport', 'redis://:secret@127.0.0.1:1'])
    expect(down.code).toBe(4)
    expect(down.stderr).toMatch(/127\.0\.0\.1:1/)
    expect(down.stderr).not.toContain('secret')
  }, 60_000)

  it('a duration flag given as a bare number is said to be milliseconds, and a lease too short for Redis names --lease', async () => {
    const short = await bin(['worker', '--transport', 'redis://127.0.0.1:6379', '--prefix', `${PREFIX}-lease`, '--lease', '30'])
    expect(short.code).toBe(2)
    expect(short.stderr).toContain('warning: --lease 30 is 30 ms (a number without a unit is milliseconds; write 30s for seconds)')
    expect(short.stderr).toContain('option "--lease" must be a duration of at least 200ms (e.g. 30s); received 30')
  }, 30_000)
})
