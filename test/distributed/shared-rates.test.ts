/**
 * Rate budgets shared across owners: two owner engines, each with a remote runner on one
 * transport and one shared budget, start no more calls of a rate key together than the budget
 * allows. In memory, a manual clock drives the budget and both runners, so every refill is
 * counted exactly: no call starts before its unit is due. On Redis (the server's clock), a budget
 * of 3 an hour shows that exactly 3 start between the two owners while both wait for more. Token
 * budgets are settled with the usage the worker reported; an estimate over the budget fails.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import type { Engine, RunResult, TaskSpec } from 'taskweave'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import type { RemoteAttemptRunner, SharedRateSpec } from 'taskweave/distributed'
import { createMemoryBroker, createMemorySharedLimiter, createMemorySharedRateBudget, createMemoryTransport, createTransport } from 'taskweave/queues'
import type { SharedLimiter, SharedRateBudget, Transport } from 'taskweave/queues'
import { openRedisSharedRateBudget } from 'taskweave/queues/redis'
import { ManualClock } from 'taskweave/testing'
import type { AnyTool, Clock } from 'taskweave'
import { removeBrokerLeftovers } from '../queues/broker-kit.js'

const REDIS_URL = 'redis://127.0.0.1:6379'
const PREFIX = `twtest-${randomUUID().slice(0, 8)}`
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(() => removeBrokerLeftovers('redis', REDIS_URL, PREFIX), 60_000)

/** One owner's view of the shared budget, counting what it was granted and refused. */
function counted(budget: SharedRateBudget): SharedRateBudget & { granted: number; refused: number } {
  const view = {
    granted: 0,
    refused: 0,
    take: async (...args: Parameters<SharedRateBudget['take']>) => {
      const answer = await budget.take(...args)
      if (answer.granted) view.granted++
      else view.refused++
      return answer
    },
    adjust: (...args: Parameters<SharedRateBudget['adjust']>) => budget.adjust(...args),
    pause: (...args: Parameters<SharedRateBudget['pause']>) => budget.pause(...args),
    level: (...args: Parameters<SharedRateBudget['level']>) => budget.level(...args),
    close: () => Promise.resolve(),
  }
  return view
}

interface Deployment {
  readonly owners: readonly { readonly engine: Engine; readonly runner: RemoteAttemptRunner; readonly budget: ReturnType<typeof counted> }[]
}

/** Two workers and two owners on one transport; each owner's runner draws from `budget` under `rates`. */
async function deploy(options: { open: () => Promise<Transport>; budget: SharedRateBudget; rates: Record<string, SharedRateSpec>; tools: readonly AnyTool[]; clock?: Clock; owners?: number; groups?: { limiter: SharedLimiter; caps: Record<string, number> } }): Promise<Deployment> {
  const transports: Transport[] = []
  const handle = async (): Promise<Transport> => {
    const transport = await options.open()
    transports.push(transport)
    return transport
  }
  const workers = [] as Awaited<ReturnType<typeof startWorker>>[]
  cleanups.push(async () => {
    for (const w of workers) await w.close({ graceMs: 100 })
    for (const t of transports) await t.close()
  })
  for (let k = 0; k < 2; k++) workers.push(await startWorker({ transport: await handle(), tools: options.tools, builtins: false, worker: `w${k}`, concurrency: 8 }))
  const owners = []
  for (let k = 0; k < (options.owners ?? 2); k++) {
    const budget = counted(options.budget)
    const groups = options.groups ? { limiter: options.groups.limiter, groups: options.groups.caps } : {}
    const runner = createRemoteRunner({ transport: await handle(), reconcileEveryMs: 0, ...(options.clock ? { clock: options.clock } : {}), shared: { budget, rates: options.rates, tools: options.tools, ...groups } })
    await runner.listen()
    const engine = createEngine({ tools: options.tools, builtins: false, runner, concurrency: 16 })
    cleanups.push(() => engine.close())
    owners.push({ engine, runner, budget })
  }
  return { owners }
}

const callsOf = (n: number): TaskSpec[] => Array.from({ length: n }, (_, i) => ({ id: `c${i}`, tool: 'provider.call', input: { n: i } }))

describe('shared rate budgets across owners (memory, manual clock)', () => {
  it('two owners together start no more calls of a key than its budget allows, refill by refill', async () => {
    const clock = new ManualClock()
    const starts: number[] = []
    const call = defineTool({ name: 'provider.call', input: z.object({ n: z.number() }), rateKey: 'openai', run: ({ n }) => (starts.push(clock.now()), { n }) })
    const broker = createMemoryBroker()
    const { owners } = await deploy({ open: () => Promise.resolve(createMemoryTransport({ broker })), budget: createMemorySharedRateBudget({ clock }), rates: { openai: { requests: '4/min' } }, tools: [call], clock })
    const granted = (): number => owners.reduce((sum, o) => sum + o.budget.granted, 0)
    // Calls a budget of 4 a minute, full at time 0, allows by clock time `t`.
    const allowed = (t: number): number => 4 + Math.floor((t * 4) / 60_000)
    const reports: RunResult[] = []
    const runs = owners.map(({ engine }) => engine.run({ id: 'calls', tasks: callsOf(6) }).then((report) => reports.push(report)))

    // Time stands still: both owners are refused once the 4 the budget holds have started.
    await vi.waitFor(() => {
      expect(owners.every((o) => o.budget.refused > 0)).toBe(true)
      expect(starts).toHaveLength(granted())
    })
    expect(granted()).toBe(4)

    // Each step fires every waiting key's retry (at most a second away); then the owners settle.
    for (let step = 0; step < 400 && reports.length < 2; step++) {
      clock.advance(1000)
      await vi.waitFor(
        () => {
          const waiting = owners.filter((o) => o.runner.stats().sharedWaiting > 0).length
          expect(clock.pendingTimers).toBe(waiting)
          expect(starts).toHaveLength(granted())
        },
        { interval: 2 },
      )
      expect(granted()).toBeLessThanOrEqual(allowed(clock.now()))
    }
    await Promise.all(runs)
    expect(reports.map((r) => r.status)).toEqual(['succeeded', 'succeeded'])
    expect(starts).toHaveLength(12)
    for (const [i, at] of [...starts].sort((a, b) => a - b).entries()) expect(i + 1).toBeLessThanOrEqual(allowed(at))
    // 8 calls past the first 4 need 8 refills of 15 s.
    expect(Math.max(...starts)).toBeGreaterThanOrEqual(120_000)
  }, 60_000)

  it('settles token budgets with the usage workers report, and fails an estimate the budget can never hold', async () => {
    const clock = new ManualClock()
    const call = defineTool({
      name: 'provider.call',
      input: z.object({ n: z.number() }),
      rateKey: 'openai',
      estimateTokens: ({ n }) => (n === 99 ? 5000 : 100),
      run: ({ n }, ctx) => {
        ctx.reportUsage?.({ inputTokens: 20, outputTokens: 10 })
        return { n }
      },
    })
    const budget = createMemorySharedRateBudget({ clock })
    const broker = createMemoryBroker()
    const { owners } = await deploy({ open: () => Promise.resolve(createMemoryTransport({ broker })), budget, rates: { openai: { requests: '100/h', tokens: '1000/h' } }, tools: [call], clock })
    const [first, second] = owners.map(({ engine }) => engine)
    const results = await Promise.all([first?.run({ id: 'a', tasks: callsOf(5) }), second?.run({ id: 'b', tasks: [...callsOf(5), { id: 'big', tool: 'provider.call', input: { n: 99 } }] })])
    expect(results[0]?.status).toBe('succeeded')
    // Each call reserved 100 tokens and used 30: the budget is down by 30 a call, not 100.
    expect(await budget.level('openai', { budget: 'tokens', limit: 1000, windowMs: 3_600_000, amount: 0 })).toBe(1000 - 10 * 30)
    expect(await budget.level('openai', { budget: 'requests', limit: 100, windowMs: 3_600_000, amount: 0 })).toBe(100 - 10)
    const big = results[1]?.tasks['big']
    expect(big?.status).toBe('failed')
    expect(big?.error?.code).toBe('TW_RATE_NEVER_FITS')
  }, 30_000)
})

describe('shared rate budgets with shared group caps (memory, manual clock)', () => {
  it('takes the budget after the group place, and a cancel gives the place back without touching the budget', async () => {
    const clock = new ManualClock()
    const starts: number[] = []
    const call = defineTool({ name: 'provider.call', input: z.object({ n: z.number() }), rateKey: 'openai', run: ({ n }) => (starts.push(n), { n }) })
    const budget = createMemorySharedRateBudget({ clock })
    const limiter = createMemorySharedLimiter({ clock })
    const broker = createMemoryBroker()
    const { owners } = await deploy({ open: () => Promise.resolve(createMemoryTransport({ broker })), budget, rates: { openai: { requests: '3/h' } }, tools: [call], clock, owners: 1, groups: { limiter, caps: { llm: 1 } } })
    const [owner] = owners
    if (owner === undefined) throw new Error('no owner')
    const stop = new AbortController()
    const run = owner.engine.run({ id: 'calls', tasks: callsOf(5).map((t) => ({ ...t, group: 'llm' })) }, { signal: stop.signal })
    // Three calls go one at a time; the fourth holds the group's place and waits for the budget, the fifth for the place.
    await vi.waitFor(() => {
      expect(owner.budget.refused).toBeGreaterThan(0)
      expect(owner.runner.stats().sharedWaiting).toBe(2)
    })
    expect(starts).toHaveLength(3)
    expect(await limiter.held('group:llm')).toBe(1)
    stop.abort()
    expect((await run).status).toBe('cancelled')
    await vi.waitFor(async () => expect(await limiter.held('group:llm')).toBe(0))
    expect(owner.runner.stats().sharedWaiting).toBe(0)
    expect(await budget.level('openai', { budget: 'requests', limit: 3, windowMs: 3_600_000, amount: 0 })).toBe(0)
    expect(starts).toHaveLength(3)
  }, 30_000)
})

describe('the key an attempt is charged to', () => {
  it("is the task's own rateKey, which the engine sends with the attempt", async () => {
    const started: number[] = []
    // The tool names no key: only the workflow's tasks do.
    const call = defineTool({ name: 'provider.call', input: z.object({ n: z.number() }), run: ({ n }) => (started.push(n), { n }) })
    const broker = createMemoryBroker()
    const { owners } = await deploy({ open: () => Promise.resolve(createMemoryTransport({ broker })), budget: createMemorySharedRateBudget({ clock: new ManualClock() }), rates: { 'openai:gpt-4o': { requests: '3/h' } }, tools: [call] })
    const stop = new AbortController()
    const tasks = (n: number): TaskSpec[] => callsOf(n).map((task) => ({ ...task, rateKey: 'openai:gpt-4o' }))
    const runs = owners.map(({ engine }) => engine.run({ id: 'calls', tasks: tasks(4) }, { signal: stop.signal }))
    await vi.waitFor(() => {
      expect(owners.every((o) => o.budget.refused > 0)).toBe(true)
      expect(started).toHaveLength(owners.reduce((sum, o) => sum + o.budget.granted, 0))
    })
    expect(started).toHaveLength(3)
    stop.abort()
    expect((await Promise.all(runs)).map((r) => r.status)).toEqual(['cancelled', 'cancelled'])
    // A task without the key is not charged.
    const free = await owners[0]?.engine.run({ id: 'free', tasks: callsOf(3) })
    expect(free?.status).toBe('succeeded')
    expect(started).toHaveLength(6)
  }, 30_000)
})

describe('shared rate budgets across owners (redis)', () => {
  it('two owners on one Redis budget start exactly what it holds, and wait for the rest', async () => {
    const prefix = `${PREFIX}-${randomUUID().slice(0, 4)}`
    const started: number[] = []
    const call = defineTool({ name: 'provider.call', input: z.object({ n: z.number() }), rateKey: 'openai', run: ({ n }) => (started.push(n), { n }) })
    const budget = await openRedisSharedRateBudget({ url: REDIS_URL, prefix })
    cleanups.push(() => budget.close())
    const { owners } = await deploy({ open: () => createTransport({ type: 'redis', url: REDIS_URL, prefix }), budget, rates: { openai: { requests: '3/h' } }, tools: [call] })
    const stop = new AbortController()
    const runs = owners.map(({ engine }) => engine.run({ id: 'calls', tasks: callsOf(5) }, { signal: stop.signal }))
    // Refills in this test's time are millionths of a call: the 3 the budget holds are all there is.
    await vi.waitFor(
      () => {
        expect(owners.every((o) => o.budget.refused > 0)).toBe(true)
        expect(started).toHaveLength(owners.reduce((sum, o) => sum + o.budget.granted, 0))
      },
      { timeout: 10_000 },
    )
    expect(started).toHaveLength(3)
    expect(owners.reduce((sum, o) => sum + o.runner.stats().sharedWaiting, 0)).toBeGreaterThan(0)
    stop.abort()
    const reports = await Promise.all(runs)
    expect(reports.map((r) => r.status)).toEqual(['cancelled', 'cancelled'])
    expect(started).toHaveLength(3)
  }, 30_000)
})
