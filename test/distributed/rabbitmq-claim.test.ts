/**
 * Long attempts on RabbitMQ (RELIABILITY BR-07): a worker never holds a delivery unacknowledged for
 * an attempt's whole life, since past `consumer_timeout` RabbitMQ closes the channel and sends
 * every delivery of it again. An attempt running past `--claim-after` is claimed: its owner is told
 * which worker runs it, and the broker lets it go. The owner counts it held while that worker
 * announces itself, and publishes it again when the worker dies.
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createEngine } from 'taskweave'
import type { AnyTool } from 'taskweave'
import { createRemoteRunner } from 'taskweave/distributed'
import { createTransport } from 'taskweave/queues'
import { ensureBuilt } from '../cli-bin.js'
import { FIXTURE_TOOLS, readLedger, removeBrokerLeftovers, startWorkerChild, stopWorkerChild } from './harness.js'
import type { LedgerLine, WorkerChild } from './harness.js'

const exec = promisify(execFile)
const URL = 'amqp://guest:guest@127.0.0.1:5672'
const FILE_PREFIX = `twclaim-${randomUUID().slice(0, 8)}`
let serial = 0
const newPrefix = (): string => `${FILE_PREFIX}-${++serial}`

let dir: string
let tools: AnyTool[]
beforeAll(async () => {
  await ensureBuilt()
  dir = mkdtempSync(join(tmpdir(), 'tw-claim-'))
  tools = [((await import(pathToFileURL(FIXTURE_TOOLS).href)) as { work: AnyTool }).work]
}, 180_000)
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await removeBrokerLeftovers('rabbitmq', URL, FILE_PREFIX)
}, 60_000)

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

/** Deliveries the broker counts unacknowledged on queues whose names start with `prefix` (what consumer_timeout watches). */
async function unacknowledged(prefix: string): Promise<number> {
  const { stdout } = await exec('rabbitmqctl', ['list_queues', '-q', 'name', 'messages_unacknowledged'])
  let total = 0
  for (const line of stdout.split('\n')) {
    const [name, count] = line.trim().split(/\s+/)
    if (name?.startsWith(prefix) === true) total += Number(count)
  }
  return total
}

async function owner(prefix: string) {
  const transport = await createTransport({ type: 'rabbitmq', url: URL, prefix })
  // Short rounds: a claimed attempt taken for lost would be published again within the test.
  const runner = createRemoteRunner({ transport, reconcileEveryMs: 300, workerTimeoutMs: 1500 })
  await runner.listen()
  const engine = createEngine({ tools, builtins: false, runner })
  cleanups.push(async () => {
    await engine.close()
    await transport.close()
  })
  return { engine, runner }
}

async function workers(prefix: string, ledger: string, count: number, claimAfter: string): Promise<WorkerChild[]> {
  const started = await Promise.all(
    Array.from({ length: count }, (_, k) => startWorkerChild({ url: URL, prefix, id: `${prefix}-w${k + 1}`, ledger, concurrency: 1, extraArgs: ['--claim-after', claimAfter, '--heartbeat', '200ms'] })),
  )
  cleanups.push(() => Promise.all(started.map((w) => stopWorkerChild(w))))
  return started
}

async function firstStart(ledger: string, taskId: string): Promise<LedgerLine> {
  for (let k = 0; k < 400; k++) {
    const line = readLedger(ledger).find((l) => l.phase === 'start' && l.taskId === taskId)
    if (line !== undefined) return line
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`task ${taskId} never started`)
}

describe('long attempts on RabbitMQ', () => {
  it('a claimed attempt holds no delivery while it runs, runs once, and is not published again while its worker lives', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    await workers(prefix, ledger, 2, '150ms')
    const { engine, runner } = await owner(prefix)
    const handle = engine.start({ id: 'long', tasks: [{ id: 'long', tool: 'ledger.work', input: { n: 1, ms: 3000 } }] })
    await firstStart(ledger, 'long')
    // Claimed: the broker holds nothing unacknowledged for the rest of the attempt's life.
    await expect.poll(() => unacknowledged(prefix), { timeout: 2500, interval: 100 }).toBe(0)
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    // Many reconcile rounds passed while it ran: the living worker's claim kept it from being sent again.
    expect(readLedger(ledger).filter((l) => l.phase === 'start' && l.taskId === 'long')).toHaveLength(1)
    expect(runner.stats()).toMatchObject({ inFlight: 0, republished: 0 })
  }, 60_000)

  it('without a claim the delivery stays unacknowledged for the whole attempt (what consumer_timeout would cut)', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    await workers(prefix, ledger, 1, '1h')
    const { engine } = await owner(prefix)
    const handle = engine.start({ id: 'held', tasks: [{ id: 'held', tool: 'ledger.work', input: { n: 1, ms: 2000 } }] })
    await firstStart(ledger, 'held')
    expect(await unacknowledged(prefix)).toBe(1)
    expect((await handle.result).status).toBe('succeeded')
  }, 60_000)

  it('a worker killed with SIGKILL after it claimed: the owner publishes the attempt again once the worker stops announcing itself', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    const started = await workers(prefix, ledger, 2, '150ms')
    const { engine, runner } = await owner(prefix)
    const handle = engine.start({ id: 'kill', tasks: [{ id: 'long', tool: 'ledger.work', input: { n: 1, ms: 2500 } }] })
    const first = await firstStart(ledger, 'long')
    await expect.poll(() => unacknowledged(prefix), { timeout: 2500, interval: 100 }).toBe(0)
    const victim = started.find((w) => w.child.pid === first.pid) as WorkerChild
    victim.child.kill('SIGKILL')
    const killedAt = Date.now()
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    const starts = readLedger(ledger).filter((l) => l.phase === 'start' && l.taskId === 'long')
    expect(starts).toHaveLength(2)
    // The same attempt, sent again: no attempt of the task's retry budget was spent.
    expect(starts[1]?.attemptId).toBe(first.attemptId)
    expect(starts[1]?.pid).not.toBe(first.pid)
    expect(result.tasks['long']?.attempts).toBe(1)
    expect(runner.stats().republished).toBe(1)
    // The worker timeout (1.5 s) and two reconcile rounds, with room for a busy machine.
    expect((starts[1]?.at ?? Infinity) - killedAt).toBeLessThan(10_000)
  }, 60_000)
})
