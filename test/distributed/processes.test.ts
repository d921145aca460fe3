/**
 * Distributed execution with real processes on the real brokers: `taskweave worker` children run
 * the attempts an owner (this test process, an engine with a remote runner) publishes. The ledger
 * the fixture tools write is the oracle: which task ran where, how often, and how many at once.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createEngine } from 'taskweave'
import type { AnyTool, TaskSpec } from 'taskweave'
import { createRemoteRunner } from 'taskweave/distributed'
import { createTransport } from 'taskweave/queues'
import type { Transport } from 'taskweave/queues'
import pg from 'pg'
import { openPostgresStore } from 'taskweave/stores/postgres'
import { ensureBuilt, root } from '../cli-bin.js'
import { BROKERS, FIXTURE_TOOLS, privateRabbit, privateRedis, readLedger, removeBrokerLeftovers, startWorkerChild, stopWorkerChild } from './harness.js'
import type { WorkerChild } from './harness.js'

let dir: string
let tools: AnyTool[]

beforeAll(async () => {
  await ensureBuilt()
  dir = mkdtempSync(join(tmpdir(), 'tw-dist-'))
  // The same module the workers load (it uses the built package, like a user's tools module).
  const fixture = (await import(pathToFileURL(FIXTURE_TOOLS).href)) as { work: AnyTool; poison: AnyTool }
  tools = [fixture.work, fixture.poison]
}, 180_000)

const PG_URL = process.env['TASKWEAVE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`)
  await client.end()
}

/** Every name this file puts on the brokers starts with it. */
const FILE_PREFIX = `twtest-${randomUUID().slice(0, 8)}`
let serial = 0
const newPrefix = (): string => `${FILE_PREFIX}-${++serial}`

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  for (const { type, url } of BROKERS) await removeBrokerLeftovers(type, url, FILE_PREFIX)
}, 60_000)

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

/** A layered DAG: `layers` × `width` ledger tasks, each depending on two tasks of the layer before. */
function layeredDag(layers: number, width: number, ms?: number): TaskSpec[] {
  const tasks: TaskSpec[] = []
  for (let layer = 0; layer < layers; layer++) {
    for (let k = 0; k < width; k++) {
      const deps = layer === 0 ? [] : [`t${layer - 1}_${k}`, `t${layer - 1}_${(k * 7 + 3) % width}`]
      tasks.push({ id: `t${layer}_${k}`, tool: 'ledger.work', input: { n: layer * width + k, ...(ms !== undefined ? { ms } : {}) }, ...(deps.length > 0 ? { dependsOn: [...new Set(deps)] } : {}) })
    }
  }
  return tasks
}

/** The most ledger attempts running at once (from their start and end lines). */
function peakInFlight(lines: ReturnType<typeof readLedger>): number {
  const points = lines.filter((l) => l.phase === 'start' || l.phase === 'end').map((l) => ({ at: l.at, d: l.phase === 'start' ? 1 : -1 }))
  // Ends before starts at the same millisecond: touching intervals do not overlap.
  points.sort((a, b) => a.at - b.at || a.d - b.d)
  let now = 0
  let peak = 0
  for (const p of points) peak = Math.max(peak, (now += p.d))
  return peak
}

describe.each(BROKERS)('distributed execution on $type', ({ type, url }) => {
  async function owner(prefix: string, options: { concurrency?: number; reconcileEveryMs?: number } = {}) {
    const transport: Transport = await createTransport({ type, url, prefix })
    const runner = createRemoteRunner({ transport, reconcileEveryMs: options.reconcileEveryMs ?? 2000 })
    await runner.listen()
    const engine = createEngine({ tools, builtins: false, runner, concurrency: options.concurrency ?? 64 })
    cleanups.push(async () => {
      await engine.close()
      await transport.close()
    })
    return { engine, runner, transport }
  }

  async function workers(prefix: string, ledger: string, count: number, options: { concurrency?: number; lease?: string } = {}): Promise<WorkerChild[]> {
    const started = await Promise.all(
      Array.from({ length: count }, (_, k) =>
        startWorkerChild({ url, prefix, id: `${prefix}-w${k + 1}`, ledger, concurrency: options.concurrency ?? 16, ...(options.lease !== undefined ? { lease: options.lease } : {}) }),
      ),
    )
    cleanups.push(() => Promise.all(started.map((w) => stopWorkerChild(w))))
    return started
  }

  it('three workers finish a 5,000-task DAG, every task run once', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    const started = await workers(prefix, ledger, 3)
    const { engine, runner } = await owner(prefix, { concurrency: 48 })
    const result = await engine.run({ id: 'dag', tasks: layeredDag(10, 500) })
    expect(result.status).toBe('succeeded')
    expect(Object.values(result.tasks).filter((t) => t.status === 'succeeded')).toHaveLength(5000)
    const lines = readLedger(ledger).filter((l) => l.phase === 'end')
    const perTask = new Map<string, number>()
    for (const line of lines) perTask.set(line.taskId, (perTask.get(line.taskId) ?? 0) + 1)
    expect(perTask.size).toBe(5000)
    expect([...perTask.values()].every((n) => n === 1)).toBe(true)
    // The work was spread: every worker ran some of it, and none ran on the owner.
    const pids = new Set(lines.map((l) => l.pid))
    expect(pids).toEqual(new Set(started.map((w) => w.child.pid)))
    expect(runner.stats()).toMatchObject({ inFlight: 0, republished: 0 })
  }, 120_000)

  it('a worker killed with SIGKILL mid-task: its attempt finishes on another worker within the lease bound', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    // Redis sees a dead worker by its lease: a short one keeps the test short.
    const started = await workers(prefix, ledger, 2, { concurrency: 1, lease: '2s' })
    const { engine } = await owner(prefix)
    const handle = engine.start({ id: 'kill', tasks: [{ id: 'long', tool: 'ledger.work', input: { n: 1, ms: 1500 } }] })
    let first: ReturnType<typeof readLedger>[number] | undefined
    for (let k = 0; k < 200 && first === undefined; k++) {
      first = readLedger(ledger).find((l) => l.phase === 'start' && l.taskId === 'long')
      if (first === undefined) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(first).toBeDefined()
    const victim = started.find((w) => w.child.pid === first?.pid)
    expect(victim).toBeDefined()
    victim?.child.kill('SIGKILL')
    const killedAt = Date.now()
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    const starts = readLedger(ledger).filter((l) => l.phase === 'start' && l.taskId === 'long')
    expect(starts).toHaveLength(2)
    const again = starts[1]
    expect(again?.pid).not.toBe(first?.pid)
    // The same attempt, delivered again: no attempt of the task's retry budget was spent.
    expect(again?.attemptId).toBe(first?.attemptId)
    expect(result.tasks['long']?.attempts).toBe(1)
    // Within the lease (2 s) and the broker's check for stalled work after it, with room for a busy machine.
    expect((again?.at ?? Infinity) - killedAt).toBeLessThan(type === 'redis' ? 12_000 : 5_000)
  }, 60_000)

  it('a group cap holds across three workers: never more attempts of the group at once than the cap', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    await workers(prefix, ledger, 3, { concurrency: 8 })
    const { engine } = await owner(prefix)
    const tasks: TaskSpec[] = Array.from({ length: 40 }, (_, k) => ({ id: `g${k}`, tool: 'ledger.work', input: { n: k, ms: 40 }, group: 'llm' }))
    const result = await engine.run({ id: 'capped', limits: { groups: { llm: 4 } }, tasks })
    expect(result.status).toBe('succeeded')
    const peak = peakInFlight(readLedger(ledger))
    expect(peak).toBeLessThanOrEqual(4)
    // The cap, not the workers, was what bound it.
    expect(peak).toBe(4)
  }, 60_000)

  it('a poison attempt that kills every worker ends in the dead letters after its delivery limit, and its task fails', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    const { engine, transport } = await owner(prefix)
    const handle = engine.start({ id: 'poison', tasks: [{ id: 'bad', tool: 'ledger.poison' }, { id: 'fine', tool: 'ledger.work', input: { n: 1 } }] })
    let settled = false
    void handle.result.then(() => (settled = true))
    // Each worker dies on the attempt; a new one takes its place until the broker gives up on it.
    const spawned: WorkerChild[] = []
    cleanups.push(() => Promise.all(spawned.map((w) => stopWorkerChild(w))))
    for (let k = 0; k < 8 && !settled; k++) {
      const worker = await startWorkerChild({ url, prefix, id: `${prefix}-p${k}`, ledger, concurrency: 1, lease: '1s', maxDeliveries: 3, mayDie: true })
      spawned.push(worker)
      await Promise.race([worker.exited, handle.result])
    }
    const result = await handle.result
    expect(result.tasks['fine']?.status).toBe('succeeded')
    expect(result.tasks['bad']?.status).toBe('failed')
    expect(result.tasks['bad']?.error?.code).toBe('TW_DELIVERY_LIMIT')
    expect(readLedger(ledger).filter((l) => l.phase === 'poison')).toHaveLength(3)
    const stats = await transport.stats()
    expect(stats.queues.find((q) => q.queue === 'default')?.dead).toBe(1)
  }, 120_000)

  it('the owner killed with SIGKILL: a standby process takes the run over once its lease expires and finishes it', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    const schema = `${prefix.replace(/-/g, '_')}_${type}`
    cleanups.push(() => dropSchema(schema))
    await workers(prefix, ledger, 2, { concurrency: 4 })
    const runId = `run-${prefix}`
    const child = spawn(process.execPath, [join(root, 'test/distributed/owner-child.mjs'), PG_URL, schema, type, url, prefix, runId, '24', '150'], {
      cwd: root,
      env: { ...process.env, TW_LEDGER: ledger },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let childErr = ''
    child.stderr.on('data', (chunk: Buffer) => (childErr += chunk.toString()))
    const childExit = new Promise((resolve) => child.on('close', resolve))
    cleanups.push(async () => {
      child.kill('SIGKILL')
      await childExit
    })
    // Kill the owner once some tasks have finished and others are on the workers.
    for (let k = 0; k < 400 && readLedger(ledger).filter((l) => l.phase === 'end').length < 6; k++) await new Promise((resolve) => setTimeout(resolve, 25))
    expect(readLedger(ledger).filter((l) => l.phase === 'end').length, childErr).toBeGreaterThanOrEqual(6)
    child.kill('SIGKILL')
    await childExit
    const killedAt = Date.now()

    const store = await openPostgresStore({ connectionString: PG_URL, schema })
    const committedAtKill = new Set((await store.load(runId))?.entries.filter((e) => e.kind === 'ok').map((e) => e.taskId))
    const transport = await createTransport({ type, url, prefix })
    const runner = createRemoteRunner({ transport, reconcileEveryMs: 1000 })
    await runner.listen()
    const standby = createEngine({ tools, builtins: false, runner, store, concurrency: 4, durability: { leaseTtlMs: 2000, takeOverEvery: '250ms' } })
    cleanups.push(async () => {
      await standby.close()
      await transport.close()
      await store.close()
    })
    const takenOver = new Promise<number>((resolve) => standby.events.on('run:taken-over', (e) => void (e.runId === runId && resolve(Date.now()))))
    const tookOverAt = await takenOver
    // Within the lease (2 s) and one look (0.25 s), with room for a busy machine.
    expect(tookOverAt - killedAt).toBeLessThan(6000)
    for (let k = 0; k < 600 && (await store.load(runId))?.status === 'running'; k++) await new Promise((resolve) => setTimeout(resolve, 50))
    const stored = await store.load(runId)
    expect(stored?.status).toBe('succeeded')
    // No task whose outcome was committed before the kill ran again.
    const starts = readLedger(ledger).filter((l) => l.phase === 'start')
    for (const taskId of committedAtKill) expect(starts.filter((l) => l.taskId === taskId)).toHaveLength(1)
    // Every task finished at least once.
    expect(new Set(readLedger(ledger).filter((l) => l.phase === 'end').map((l) => l.taskId)).size).toBe(24)
  }, 120_000)
})

/**
 * Two workers (1 s leases) and an owner on the shared Redis; one task of `ms` starts on one of
 * them, which is then stopped (SIGSTOP) until the other worker has taken the attempt over.
 */
async function stallTheWorkerOfALongTask(ms: number) {
  const url = 'redis://127.0.0.1:6379'
  const prefix = newPrefix()
  const ledger = join(dir, `${prefix}.jsonl`)
  const started = await Promise.all([1, 2].map((k) => startWorkerChild({ url, prefix, id: `${prefix}-w${k}`, ledger, concurrency: 1, lease: '1s' })))
  cleanups.push(() => Promise.all(started.map((w) => stopWorkerChild(w))))
  const transport = await createTransport({ type: 'redis', url, prefix })
  const runner = createRemoteRunner({ transport, reconcileEveryMs: 0 })
  await runner.listen()
  const engine = createEngine({ tools, builtins: false, runner, concurrency: 4 })
  cleanups.push(async () => {
    await engine.close()
    await transport.close()
  })
  const handle = engine.start({ id: 'zombie', tasks: [{ id: 'long', tool: 'ledger.work', input: { n: 1, ms } }] })
  const lineOf = (phase: ReturnType<typeof readLedger>[number]['phase'], pid?: number, other = false) => readLedger(ledger).find((l) => l.phase === phase && (pid === undefined || (other ? l.pid !== pid : l.pid === pid)))
  const waitFor = async (find: () => ReturnType<typeof lineOf>, tries: number): Promise<ReturnType<typeof lineOf>> => {
    let line = find()
    for (let k = 0; k < tries && line === undefined; k++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      line = find()
    }
    return line
  }
  const first = await waitFor(() => lineOf('start'), 200)
  const paused = started.find((w) => w.child.pid === first?.pid)
  expect(paused).toBeDefined()
  paused?.child.kill('SIGSTOP')
  cleanups.push(async () => void paused?.child.kill('SIGCONT'))
  // Its lease ends; the other worker takes the attempt.
  const second = await waitFor(() => lineOf('start', first?.pid, true), 600)
  expect(second).toBeDefined()
  return { ledger, handle, first, second, paused, lineOf, waitFor }
}

describe('a worker paused past its lease (Redis)', () => {
  it('reports nothing when it resumes: the outcome committed is that of the worker that took the attempt over', async () => {
    const { ledger, handle, second, paused } = await stallTheWorkerOfALongTask(1500)
    // Resumed, the paused worker finishes at once (its 1.5 s are over) while the other still runs.
    paused?.child.kill('SIGCONT')
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    const ends = readLedger(ledger).filter((l) => l.phase === 'end')
    // The run waited for the live worker's outcome: its end is in the ledger when the run ends.
    expect(ends.map((l) => l.pid)).toContain(second?.pid)
  }, 60_000)
})

describe('a worker stalled past its lease in the middle of a long attempt (Redis, CR-06)', () => {
  it('stops the zombie\'s tool when it resumes (its signal aborts with TW_LEASE_LOST), and the run takes the other worker\'s outcome', async () => {
    const { ledger, handle, first, second, paused, lineOf, waitFor } = await stallTheWorkerOfALongTask(6000)
    // Resumed with 4 s of its 6 s still to wait, the zombie learns at once that it lost the lease.
    const resumedAt = Date.now()
    paused?.child.kill('SIGCONT')
    const aborted = await waitFor(() => lineOf('abort', first?.pid), 150)
    expect(aborted).toMatchObject({ code: 'TW_LEASE_LOST' })
    const abortMs = (aborted?.at ?? 0) - resumedAt
    process.stdout.write(`${JSON.stringify({ case: 'CR-06', backend: 'redis', zombieAbortedAfterResumeMs: abortMs })}\n`)
    expect(abortMs).toBeLessThan(3000)
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    // The zombie never finished its tool: the only end is the live worker's.
    expect(readLedger(ledger).filter((l) => l.phase === 'end').map((l) => l.pid)).toEqual([second?.pid])
  }, 60_000)
})

describe.each([
  { type: 'redis' as const, start: privateRedis },
  { type: 'rabbitmq' as const, start: privateRabbit },
])('a $type broker killed (SIGKILL) and restarted mid-run (BR-01, BR-06)', ({ type, start }) => {
  it('workers and the owner reconnect by themselves and the run finishes', async () => {
    const broker = await start()
    cleanups.push(() => broker.dispose())
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    const started = await Promise.all([1, 2].map((k) => startWorkerChild({ url: broker.url, prefix, id: `${prefix}-w${k}`, ledger, concurrency: 4, lease: '2s' })))
    cleanups.push(() => Promise.all(started.map((w) => stopWorkerChild(w))))
    const transport = await createTransport({ type, url: broker.url, prefix })
    const runner = createRemoteRunner({ transport, reconcileEveryMs: 1000 })
    await runner.listen()
    const engine = createEngine({ tools, builtins: false, runner, concurrency: 8 })
    cleanups.push(async () => {
      await engine.close()
      await transport.close()
    })
    const tasks: TaskSpec[] = Array.from({ length: 60 }, (_, k) => ({ id: `r${k}`, tool: 'ledger.work', input: { n: k, ms: 100 } }))
    const handle = engine.start({ id: 'restart', tasks })
    for (let k = 0; k < 400 && readLedger(ledger).filter((l) => l.phase === 'end').length < 10; k++) await new Promise((resolve) => setTimeout(resolve, 25))
    await broker.crash()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await broker.start()
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    expect(new Set(readLedger(ledger).filter((l) => l.phase === 'end').map((l) => l.taskId)).size).toBe(60)
    // The workers lived through it.
    for (const w of started) expect(w.child.exitCode).toBeNull()
  }, 180_000)
})
