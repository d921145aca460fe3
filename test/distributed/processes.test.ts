/**
 * Distributed execution with real processes on the real brokers: `taskweave worker` children run
 * the attempts an owner (this test process, an engine with a remote runner) publishes. The ledger
 * the fixture tools write is the oracle: which task ran where, how often, and how many at once.
 */
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
import { ensureBuilt } from '../cli-bin.js'
import { BROKERS, FIXTURE_TOOLS, readLedger, startWorkerChild, stopWorkerChild } from './harness.js'
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

afterAll(() => rmSync(dir, { recursive: true, force: true }))

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
    const prefix = `twtest-${randomUUID().slice(0, 8)}`
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
    const prefix = `twtest-${randomUUID().slice(0, 8)}`
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
    const prefix = `twtest-${randomUUID().slice(0, 8)}`
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
})
