/**
 * RabbitMQ claims (RELIABILITY BR-07): a worker acknowledges an attempt that has run
 * `claimAfterMs` while it still runs, so the broker's `consumer_timeout` cannot close the channel
 * under it and deliver the attempt again. These tests check what must stay true around a claim,
 * on the real broker: the worker takes no more than its concurrency while a claim holds a place;
 * the owner counts a claimed attempt held (its reconciler sends nothing again) while the worker
 * announces it, draining included; a claimed attempt given back keeps its delivery count; and a
 * worker killed with claims loses them to the owner, which sends them again or, for a task that
 * must not run twice, fails it `TW_UNCERTAIN`. The real `consumer_timeout` is in
 * `consumer-timeout.test.ts` (it takes over a minute).
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { setTimeout as delay } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import type { AnyTool } from 'taskweave'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import type { Worker } from 'taskweave/distributed'
import { createTransport } from 'taskweave/queues'
import { openRabbitTransport } from 'taskweave/queues/rabbitmq'
import type { Transport } from 'taskweave/queues'
import { bin, ensureBuilt } from '../cli-bin.js'
import { FIXTURE_TOOLS, readLedger, removeBrokerLeftovers, startWorkerChild, stopWorkerChild, turnAgent } from './harness.js'

const URL = 'amqp://guest:guest@127.0.0.1:5672'

const FILE_PREFIX = `twtest-${randomUUID().slice(0, 8)}`
let serial = 0
const newPrefix = (): string => `${FILE_PREFIX}-${++serial}`
let dir: string

beforeAll(async () => {
  await ensureBuilt()
  dir = mkdtempSync(join(tmpdir(), 'tw-claims-'))
}, 180_000)

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await removeBrokerLeftovers('rabbitmq', URL, FILE_PREFIX)
}, 60_000)

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

/** When each attempt of the `claims.wait` tool started and ended, in this process. */
interface Span {
  readonly taskId: string
  readonly start: number
  end?: number
  aborted?: string
}

function waitTool(spans: Span[]): AnyTool {
  return defineTool({
    name: 'claims.wait',
    input: z.object({ ms: z.number() }),
    run: async ({ ms }, ctx) => {
      // A task run again (after a worker gave it back) finishes at once.
      const wait = spans.some((s) => s.taskId === ctx.taskId) ? 50 : ms
      const span: Span = { taskId: ctx.taskId, start: Date.now() }
      spans.push(span)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, wait)
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer)
          span.aborted = String((ctx.signal.reason as Error | undefined)?.message ?? ctx.signal.reason)
          reject(ctx.signal.reason)
        })
      })
      span.end = Date.now()
      return { ms }
    },
  })
}

async function transport(prefix: string, options: { claimAfterMs?: number } = {}): Promise<Transport> {
  const t = await createTransport({ type: 'rabbitmq', url: URL, prefix, heartbeatMs: 100, ...options })
  cleanups.push(() => t.close())
  return t
}

async function owner(prefix: string, tools: AnyTool[], reconcileEveryMs = 150) {
  const t = await transport(prefix)
  const runner = createRemoteRunner({ transport: t, reconcileEveryMs, workerTimeoutMs: 1000 })
  await runner.listen()
  const engine = createEngine({ tools, builtins: false, runner, concurrency: 8 })
  cleanups.push(() => engine.close())
  return { engine, runner, transport: t }
}

async function worker(prefix: string, tools: AnyTool[], options: { concurrency?: number; claimAfterMs?: number; id?: string } = {}): Promise<Worker> {
  const t = await transport(prefix, { claimAfterMs: options.claimAfterMs ?? 150 })
  const w = await startWorker({ transport: t, tools, builtins: false, concurrency: options.concurrency ?? 1, heartbeatMs: 100, ...(options.id !== undefined ? { worker: options.id } : {}) })
  cleanups.push(() => w.close({ graceMs: 0 }))
  return w
}

const execFileAsync = promisify(execFile)

/** A queue's ready and unacknowledged messages, as the broker counts them. */
async function queueCounts(queue: string): Promise<[number, number]> {
  const { stdout } = await execFileAsync('rabbitmqctl', ['list_queues', '-q', '--no-table-headers', 'name', 'messages_ready', 'messages_unacknowledged'])
  const row = stdout.split('\n').map((line) => line.trim().split(/\s+/)).find((cells) => cells[0] === queue)
  return row === undefined ? [-1, -1] : [Number(row[1]), Number(row[2])]
}

/** Has the broker close the connection whose client named itself `name` (a network blip). */
async function closeConnection(name: string): Promise<void> {
  const { stdout } = await execFileAsync('rabbitmqctl', ['list_connections', '-q', '--no-table-headers', 'pid', 'client_properties'])
  const line = stdout.split('\n').find((l) => l.includes(`"${name}"`))
  if (line === undefined) throw new Error(`no connection named ${name}:\n${stdout}`)
  await execFileAsync('rabbitmqctl', ['close_connection', line.trim().split(/\s+/)[0] as string, 'test: a network blip'])
}

/** Whether the worker `id` was heard listing `claims` claimed attempts. */
function announces(t: Transport, id: string, claims: number): () => Promise<boolean> {
  return async () => (await t.workers()).some((info) => info.worker === id && info.claimed?.length === claims)
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await delay(25)
  }
}

/** A worker of concurrency 1 that claims after 150 ms, an owner, and the spans of their tool. */
async function scenario() {
  const prefix = newPrefix()
  const spans: Span[] = []
  const tools = [waitTool(spans)]
  const w = await worker(prefix, tools)
  const { engine, runner, transport: ownerTransport } = await owner(prefix, tools)
  return { spans, w, engine, runner, ownerTransport, prefix }
}

describe('RabbitMQ claims', () => {
  it('a claimed attempt holds its place: a worker of concurrency 1 runs one attempt at a time, and the owner sends nothing again', async () => {
    const { spans, w, engine, runner, ownerTransport, prefix } = await scenario()
    const run = engine.run({ id: 'long', tasks: [{ id: 'a', tool: 'claims.wait', input: { ms: 3000 } }, { id: 'b', tool: 'claims.wait', input: { ms: 3000 } }] })
    // The first attempt is claimed: its worker lists it, and the broker no longer holds it.
    await until('the worker announces a claim', announces(ownerTransport, w.id, 1))
    // `taskweave queues` (a fresh handle) shows the claim.
    const listed = await bin(['queues', '--transport', URL, '--prefix', prefix])
    expect(listed.stdout).toContain(`worker ${w.id} `)
    expect(listed.stdout).toMatch(/1\/1 running \(1 claimed\), queues default/)
    // One waits in the queue; the one the worker runs is counted from its heartbeat (a fresh handle holds none).
    expect(listed.stdout).toMatch(/^default\s+1\s+1\s+0\s+0$/m)
    const result = await run
    expect(result.status).toBe('succeeded')
    // Each ran once, one after the other: the claim kept the second waiting in its queue.
    expect(spans.map((s) => s.taskId).sort()).toEqual(['a', 'b'])
    const [first, second] = [...spans].sort((x, y) => x.start - y.start) as [Span, Span]
    expect(second.start).toBeGreaterThanOrEqual(first.end as number)
    // The reconciler looked every 150 ms while the claimed attempts ran unheld by the broker.
    expect(runner.stats().republished).toBe(0)
  }, 30_000)

  it('a draining worker goes on announcing its claims: the owner sends nothing again while it finishes within its grace', async () => {
    const { spans, w, engine, runner, ownerTransport } = await scenario()
    const run = engine.run({ id: 'drain', tasks: [{ id: 'a', tool: 'claims.wait', input: { ms: 2000 } }] })
    await until('the worker announces a claim', announces(ownerTransport, w.id, 1))
    const closing = w.close({ graceMs: 10_000 })
    await until('the worker is heard draining', async () => (await ownerTransport.workers()).some((info) => info.worker === w.id && info.draining === true))
    const result = await run
    await closing
    expect(result.status).toBe('succeeded')
    expect(spans).toHaveLength(1)
    expect(runner.stats().republished).toBe(0)
  }, 30_000)

  it('a claimed attempt given back keeps its delivery count: a task that must not run twice is refused by the next worker', async () => {
    const prefix = newPrefix()
    const spans: Span[] = []
    const tools = [waitTool(spans)]
    const first = await worker(prefix, tools, { concurrency: 2 })
    const { engine, runner, transport: ownerTransport } = await owner(prefix, tools)
    const run = engine.run({
      id: 'give-back',
      tasks: [
        { id: 'again', tool: 'claims.wait', input: { ms: 60_000 } },
        { id: 'once', tool: 'claims.wait', input: { ms: 60_000 }, idempotent: false },
      ],
    })
    await until('the worker announces both claims', announces(ownerTransport, first.id, 2))
    // No grace: both are stopped and given back, as new messages (the broker held them no more).
    await first.close({ graceMs: 0 })
    await worker(prefix, tools, { concurrency: 2 })
    const result = await run
    expect(result.tasks['again']?.status).toBe('succeeded')
    expect(result.tasks['once']?.status).toBe('failed')
    expect(result.tasks['once']?.error?.code).toBe('TW_UNCERTAIN')
    expect(result.tasks['once']?.error?.message).toContain('delivered 2 times')
    // "again" ran on both workers (the first stopped it); "once" only on the first.
    expect(spans.filter((s) => s.taskId === 'again')).toHaveLength(2)
    expect(spans.filter((s) => s.taskId === 'once')).toHaveLength(1)
    expect(runner.stats().republished).toBe(0)
  }, 30_000)

  it('a blip that delivers a running attempt again to its worker does not start it twice: the second delivery waits for the run and reports it', async () => {
    const prefix = newPrefix()
    const spans: Span[] = []
    const tools = [waitTool(spans)]
    const connectionName = `${prefix}-blip`
    const t = await openRabbitTransport({ url: URL, prefix, heartbeatMs: 100, claimAfterMs: 1500, connectionName })
    cleanups.push(() => t.close())
    const w = await startWorker({ transport: t, tools, builtins: false, concurrency: 2, heartbeatMs: 100 })
    cleanups.push(() => w.close({ graceMs: 0 }))
    const { engine, runner } = await owner(prefix, tools)
    const run = engine.run({ id: 'blip', tasks: [{ id: 'a', tool: 'claims.wait', input: { ms: 3000 } }] })
    await until('the attempt runs', () => spans.length === 1)
    // The broker closes the worker's connection: it reconnects, and gets the attempt again.
    await closeConnection(connectionName)
    const result = await run
    expect(result.status).toBe('succeeded')
    expect(spans).toHaveLength(1)
    expect(runner.stats().republished).toBe(0)
  }, 30_000)

  it("a session's turn a draining worker gives back at the end of its grace goes to another worker at once, not to the stopping worker's own queue", async () => {
    const prefix = newPrefix()
    const runs: string[] = []
    const chat = (worker: string) => turnAgent(worker, runs)
    const workers: Worker[] = []
    for (const name of ['w1', 'w2']) {
      const t = await transport(prefix, { claimAfterMs: 150 })
      const w = await startWorker({ transport: t, agents: [chat(name)], builtins: false, worker: `${prefix}-${name}`, concurrency: 2, heartbeatMs: 100 })
      cleanups.push(() => w.close({ graceMs: 0 }))
      workers.push(w)
    }
    const t = await transport(prefix)
    const runner = createRemoteRunner({ transport: t, reconcileEveryMs: 150, workerTimeoutMs: 3000 })
    await runner.listen()
    const engine = createEngine({ agents: [chat('owner')], builtins: false, runner })
    cleanups.push(() => engine.close())
    const run = engine.run({
      id: 'given-back-turn',
      tasks: [
        { id: 't1', agent: 'chat', session: 'ada', input: { turn: 't1', ms: 10 } },
        { id: 't2', agent: 'chat', session: 'ada', input: { turn: 't2', ms: 60_000 }, dependsOn: ['t1'] },
      ],
    })
    await until('t2 runs', () => runs.some((r) => r.startsWith('t2@')))
    const holderName = (runs.find((r) => r.startsWith('t2@')) as string).split('@')[1] as string
    const holder = workers.find((w) => w.id === `${prefix}-${holderName}`) as Worker
    const drainedAt = Date.now()
    await holder.close({ graceMs: 500 })
    const result = await run
    expect(result.status).toBe('succeeded')
    // Sent on by its owner at once (not left for the stopping worker's queue and the reconciler).
    expect(Date.now() - drainedAt).toBeLessThan(5000)
    expect(runs.filter((r) => r.startsWith('t2@'))).toEqual([`t2@${holderName}`, `t2@${holderName === 'w1' ? 'w2' : 'w1'}`])
    expect(await queueCounts(`${prefix}:worker:${holder.id}:later`)).toEqual([0, 0])
    expect(await queueCounts(`${prefix}:worker:${holder.id}`)).toEqual([0, 0])
    expect(runner.stats().republished).toBe(0)
  }, 30_000)

  it('a worker killed with claims loses them: the owner sends one again to another worker and fails the one that must not run twice (its reconciler off: claims are still looked at)', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    const fixture = (await import(pathToFileURL(FIXTURE_TOOLS).href)) as { work: AnyTool }
    const { engine, runner, transport: ownerTransport } = await owner(prefix, [fixture.work], 0)
    const doomed = await startWorkerChild({ url: URL, prefix, id: `${prefix}-doomed`, ledger, concurrency: 2, extraArgs: ['--claim-after', '200ms'] })
    cleanups.push(() => stopWorkerChild(doomed))
    const run = engine.run({
      id: 'killed',
      tasks: [
        { id: 'again', tool: 'ledger.work', input: { n: 1, ms: 120_000 } },
        { id: 'once', tool: 'ledger.work', input: { n: 2, ms: 120_000 }, idempotent: false },
      ],
    })
    await until('the doomed worker announces both claims', announces(ownerTransport, doomed.id, 2), 20_000)
    // Killed once the broker holds neither attempt (both acknowledged): only the claims hold them.
    await until('the broker holds neither attempt', async () => (await queueCounts(`${prefix}:work:default`)).join() === '0,0', 20_000)
    doomed.child.kill('SIGKILL')
    await doomed.exited
    // The next worker finishes at once what it is sent (TW_MAX_MS caps the fixture's wait).
    const next = await startWorkerChild({ url: URL, prefix, id: `${prefix}-next`, ledger, concurrency: 2, extraArgs: ['--claim-after', '200ms'], extraEnv: { TW_MAX_MS: '50' } })
    cleanups.push(() => stopWorkerChild(next))
    const result = await run
    expect(result.tasks['again']?.status).toBe('succeeded')
    expect(result.tasks['once']?.status).toBe('failed')
    expect(result.tasks['once']?.error?.code).toBe('TW_UNCERTAIN')
    const starts = readLedger(ledger).filter((l) => l.phase === 'start')
    expect(starts.filter((l) => l.taskId === 'again').map((l) => l.pid)).toEqual([doomed.child.pid, next.child.pid])
    expect(starts.filter((l) => l.taskId === 'once').map((l) => l.pid)).toEqual([doomed.child.pid])
    expect(runner.stats().republished).toBe(1)
    // The next worker got it counted: its second delivery.
    expect(result.tasks['again']?.attempts).toBe(1)
  }, 90_000)
})
