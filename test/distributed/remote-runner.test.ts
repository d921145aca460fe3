/**
 * An owner engine with a remote runner and workers in this process, on each transport (in-process,
 * Redis, RabbitMQ; owner and each worker on a handle of their own, as separate processes would
 * be): the engine's semantics (dependencies, added tasks, retries, timeouts, groups, reports,
 * agent sessions) hold when every attempt crosses the transport as plain data. Real worker
 * processes, kills and restarts are in `processes.test.ts`.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineAgent, defineTool, MemoryRunStore } from 'taskweave'
import type { TaskSpec } from 'taskweave'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import type { Worker } from 'taskweave/distributed'
import { createMemoryBroker, createMemoryTransport, createTransport } from 'taskweave/queues'
import type { Transport } from 'taskweave/queues'
import { removeBrokerLeftovers } from '../queues/broker-kit.js'
import { turnAgent } from './harness.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const PREFIX = `twtest-${randomUUID().slice(0, 8)}`
afterAll(async () => {
  await removeBrokerLeftovers('redis', 'redis://127.0.0.1:6379', PREFIX)
  await removeBrokerLeftovers('rabbitmq', 'amqp://guest:guest@127.0.0.1:5672', PREFIX)
}, 60_000)

/** Opens handles on one broker: each call is another process's connection. */
type Opener = () => Promise<Transport>

const TRANSPORTS: readonly { readonly type: string; readonly opener: (prefix: string) => Opener }[] = [
  {
    type: 'memory',
    opener: () => {
      const broker = createMemoryBroker()
      return () => Promise.resolve(createMemoryTransport({ broker }))
    },
  },
  { type: 'redis', opener: (prefix) => () => createTransport({ type: 'redis', url: 'redis://127.0.0.1:6379', prefix }) },
  { type: 'rabbitmq', opener: (prefix) => () => createTransport({ type: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:5672', prefix }) },
]
let serial = 0

/** Tools that say which worker ran them (each worker gets its own copy, as another process would). */
function toolsFor(name: string, ledger: string[]) {
  const step = defineTool({
    name: 'step',
    input: z.object({ id: z.string(), n: z.number().optional() }),
    run: ({ id, n }) => {
      ledger.push(`${name}:${id}`)
      return { id, by: name, doubled: (n ?? 0) * 2 }
    },
  })
  const flaky = defineTool({
    name: 'flaky',
    input: z.object({ id: z.string() }),
    run: ({ id }, ctx) => {
      ledger.push(`${name}:${id}#${ctx.attempt}`)
      if (ctx.attempt === 1) throw new Error(`first attempt of ${id} fails`)
      return { attempt: ctx.attempt }
    },
  })
  const slow = defineTool({
    name: 'slow',
    input: z.object({ ms: z.number() }),
    run: async ({ ms }, ctx) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve({ slept: ms }), ms)
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer)
          ledger.push(`${name}:aborted:${(ctx.signal.reason as { code?: string }).code ?? 'none'}`)
          reject(ctx.signal.reason)
        })
      }),
  })
  const spawner = defineTool({
    name: 'spawner',
    input: z.object({}),
    run: (_input, ctx) => {
      ctx.addTask({ id: 'second', tool: 'step', input: { id: 'second', n: 2 } })
      ctx.addTask({ id: 'third', tool: 'step', input: { id: 'third', n: '{{ tasks.second.output.doubled }}' as unknown as number }, dependsOn: ['second'] })
      ctx.progress({ message: 'added two tasks' })
      return { added: 2 }
    },
  })
  const bigint = defineTool({ name: 'bigint', input: z.object({}), run: () => ({ n: 10n }) })
  return [step, flaky, slow, spawner, bigint]
}

/** Workers (each on its own handle) and an owner engine with a remote runner (on its own handle). */
async function setup(open: Opener, workers: { name: string; queues?: string[] }[], ledger: string[], queueOf?: 'group') {
  const handles: Transport[] = []
  const handle = async (): Promise<Transport> => {
    const transport = await open()
    handles.push(transport)
    return transport
  }
  const started: Worker[] = []
  cleanups.push(async () => {
    for (const w of started) await w.close({ graceMs: 100 })
    for (const h of handles) await h.close()
  })
  for (const w of workers) {
    started.push(await startWorker({ transport: await handle(), tools: toolsFor(w.name, ledger), builtins: false, worker: w.name, concurrency: 4, heartbeatMs: 200, ...(w.queues ? { queues: w.queues } : {}) }))
  }
  const runner = createRemoteRunner({ transport: await handle(), owner: `owner-${randomUUID().slice(0, 8)}`, ...(queueOf !== undefined ? { queueOf } : {}) })
  await runner.listen()
  return { runner, handle, workers: started }
}

/** An engine over `runner`, closed after the test (before the workers and handles). */
function ownerEngine(options: Parameters<typeof createEngine>[0]) {
  const engine = createEngine(options)
  cleanups.push(() => engine.close())
  return engine
}

describe.each(TRANSPORTS)('remote execution on the $type transport', ({ opener }) => {
  let open: Opener
  beforeEach(() => {
    open = opener(`${PREFIX}-${++serial}`)
  })

  it('runs a layered DAG on two workers with every task run once and outputs passed along', async () => {
    const ledger: string[] = []
    const { runner } = await setup(open, [{ name: 'w1' }, { name: 'w2' }], ledger)
    const engine = ownerEngine({ tools: toolsFor('owner', []), builtins: false, runner, concurrency: 16 })
    const tasks: TaskSpec[] = []
    for (let layer = 0; layer < 5; layer++) {
      for (let k = 0; k < 20; k++) {
        const id = `t${layer}_${k}`
        tasks.push({ id, tool: 'step', input: { id, n: k }, ...(layer > 0 ? { dependsOn: [`t${layer - 1}_${k}`, `t${layer - 1}_${(k + 1) % 20}`] } : {}) })
      }
    }
    tasks.push({ id: 'last', tool: 'step', input: { id: 'last', n: '{{ tasks.t4_3.output.doubled }}' as unknown as number }, dependsOn: ['t4_3'] })
    const result = await engine.run({ id: 'dag', tasks })
    expect(result.status).toBe('succeeded')
    expect(Object.keys(result.tasks)).toHaveLength(101)
    expect(result.tasks['last']?.output).toMatchObject({ doubled: 12 })
    // Every task ran exactly once, on one of the workers (never on the owner).
    const ran = ledger.map((line) => line.split(':')[1])
    expect(new Set(ran).size).toBe(101)
    expect(ran).toHaveLength(101)
    expect(ledger.every((line) => line.startsWith('w1:') || line.startsWith('w2:'))).toBe(true)
    expect(ledger.some((line) => line.startsWith('w1:')) && ledger.some((line) => line.startsWith('w2:'))).toBe(true)
  })

  it('adds the tasks a tool added on a worker, a chain included, and relays its progress', async () => {
    const ledger: string[] = []
    const { runner } = await setup(open, [{ name: 'w1' }], ledger)
    const engine = ownerEngine({ tools: toolsFor('owner', []), builtins: false, runner, concurrency: 16 })
    const handle = engine.start({ id: 'spawn', tasks: [{ id: 'first', tool: 'spawner' }] })
    const progress: string[] = []
    handle.on('task:progress', (e) => progress.push(`${e.taskId}:${e.progress.message ?? ''}`))
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    expect(result.tasks['third']?.output).toMatchObject({ doubled: 8 })
    expect(progress).toEqual(['first:added two tasks'])
  })

  it('retries a failed attempt and fails a task whose output cannot travel, naming it', async () => {
    const ledger: string[] = []
    const { runner } = await setup(open, [{ name: 'w1' }], ledger)
    const engine = ownerEngine({ tools: toolsFor('owner', []), builtins: false, runner, concurrency: 16 })
    const result = await engine.run({
      id: 'retry',
      tasks: [
        { id: 'f', tool: 'flaky', input: { id: 'f' }, retry: { maxAttempts: 2, initialDelay: '1ms' } },
        { id: 'b', tool: 'bigint' },
      ],
    })
    expect(result.tasks['f']?.status).toBe('succeeded')
    expect(result.tasks['f']?.attempts).toBe(2)
    expect(ledger.filter((l) => l.includes(':f#'))).toEqual(['w1:f#1', 'w1:f#2'])
    expect(result.tasks['b']?.status).toBe('failed')
    expect(result.tasks['b']?.error?.message).toMatch(/"b"/)
  })

  it("times out on the owner and aborts the worker's attempt with the timeout as its reason", async () => {
    const ledger: string[] = []
    const { runner } = await setup(open, [{ name: 'w1' }], ledger)
    const engine = ownerEngine({ tools: toolsFor('owner', []), builtins: false, runner, concurrency: 16 })
    const result = await engine.run({ id: 'slow', tasks: [{ id: 's', tool: 'slow', input: { ms: 5000 }, timeout: '100ms' }] })
    expect(result.tasks['s']?.status).toBe('failed')
    expect(result.tasks['s']?.error?.code).toBe('TW_TIMEOUT')
    for (let k = 0; k < 50 && !ledger.includes('w1:aborted:TW_TIMEOUT'); k++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(ledger).toContain('w1:aborted:TW_TIMEOUT')
  })

  it('a tool the worker lacks (the owner has it) fails its task naming the worker', async () => {
    const { runner } = await setup(open, [{ name: 'w1' }], [])
    const only = defineTool({ name: 'owner.only', input: z.object({}), run: () => 'here' })
    const engine = ownerEngine({ tools: [...toolsFor('owner', []), only], builtins: false, runner, concurrency: 4 })
    const result = await engine.run({ id: 'missing', tasks: [{ id: 'm', tool: 'owner.only' }] })
    expect(result.tasks['m']?.status).toBe('failed')
    expect(result.tasks['m']?.error?.code).toBe('TW_UNKNOWN_TOOL')
    expect(result.tasks['m']?.error?.message).toMatch(/^tool "owner\.only" is not registered with worker w1 \(/)
  })

  it('a worker stops an attempt at its deadline by itself when no owner is there to (it died)', async () => {
    const ledger: string[] = []
    const { handle, workers } = await setup(open, [{ name: 'w1' }], ledger)
    const orphan = await handle()
    await orphan.publish([
      {
        request: { runId: 'gone', taskId: 's', attempt: 1, attemptId: `gone/s#1-${randomUUID().slice(0, 6)}`, idempotencyKey: 'gone/s', tool: 'slow', input: { ms: 30_000 }, inputChecked: false, timeoutMs: 150, priority: 0 },
        owner: `dead-owner-${randomUUID().slice(0, 8)}`,
        queue: 'default',
        publishedAt: Date.now(),
      },
    ])
    const worker = workers[0] as Worker
    for (let k = 0; k < 300 && worker.stats().failed === 0; k++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(ledger).toEqual(['w1:aborted:TW_TIMEOUT'])
    expect(worker.stats()).toMatchObject({ running: 0, failed: 1 })
  })

  it('a worker closed while an attempt runs stops its tool and reports nothing: another worker runs it and the task succeeds', async () => {
    const { result } = await workerStopsMidCall({})
    expect(result.tasks['s']?.status).toBe('succeeded')
    expect(result.tasks['s']?.attempts).toBe(1)
  })

  /** A slow task whose worker is closed mid-call while a second worker waits: how it ends. */
  async function workerStopsMidCall(task: Partial<TaskSpec>, store?: MemoryRunStore) {
    const ledger: string[] = []
    const { runner, handle, workers } = await setup(open, [{ name: 'w1' }], ledger)
    const engine = ownerEngine({ tools: toolsFor('owner', []), builtins: false, runner, concurrency: 16, ...(store !== undefined ? { store } : {}) })
    const running = engine.run({ id: 'charge', tasks: [{ id: 's', tool: 'slow', input: { ms: 400 }, ...task }] })
    const first = workers[0] as Worker
    for (let k = 0; k < 400 && first.stats().running === 0; k++) await new Promise((resolve) => setTimeout(resolve, 5))
    const second = await startWorker({ transport: await handle(), tools: toolsFor('w2', ledger), builtins: false, worker: 'w2', concurrency: 4, heartbeatMs: 200 })
    cleanups.push(() => second.close({ graceMs: 100 }))
    await first.close({ graceMs: 20 })
    const result = await running
    expect(ledger).toContain('w1:aborted:TW_CANCELLED')
    return { result, ledger, engine }
  }

  it('a task marked idempotent: false whose worker stopped mid-call is not run again by the next worker: it fails TW_UNCERTAIN', async () => {
    const { result, ledger } = await workerStopsMidCall({ idempotent: false })
    expect(result.tasks['s']?.status).toBe('failed')
    expect(result.tasks['s']?.error).toMatchObject({ code: 'TW_UNCERTAIN', message: expect.stringContaining('was delivered 2 times: a worker that held it before did not finish it') })
    expect(ledger.filter((line) => line.startsWith('w2:'))).toEqual([])
  })

  it('with onUncertain: park in a durable run, the run parks on that task for an operator, and goes on from the decision', async () => {
    const store = new MemoryRunStore()
    const { result, ledger, engine } = await workerStopsMidCall({ idempotent: false, onUncertain: 'park' }, store)
    expect(result.status).toBe('cancelled')
    expect(result.reason).toMatch(/^parked: task "s" attempt 1 had no outcome when its worker stopped/)
    expect(ledger.filter((line) => line.startsWith('w2:'))).toEqual([])
    await engine.resolveParked(result.runId, 's', { outcome: 'succeeded', output: { slept: 400 } })
    const resumed = await (await engine.resume(result.runId)).result
    expect(resumed.status).toBe('succeeded')
    expect(resumed.tasks['s']?.output).toEqual({ slept: 400 })
  })

  it('with onUncertain: retry, that task runs again on the next worker with the same idempotency key', async () => {
    const { result } = await workerStopsMidCall({ idempotent: false, onUncertain: 'retry' })
    expect(result.tasks['s']?.status).toBe('succeeded')
  })

  it('an attempt cancelled while it waits in the broker is not run when a worker gets it', async () => {
    const ledger: string[] = []
    const { runner, workers } = await setup(open, [{ name: 'w1' }], ledger)
    const worker = workers[0] as Worker
    const engine = ownerEngine({ tools: toolsFor('owner', []), builtins: false, runner, concurrency: 16 })
    // The worker runs four at once: four slow attempts hold its slots, a fifth waits in the broker.
    const handle = engine.start({ id: 'queued', tasks: [...Array.from({ length: 4 }, (_, k) => ({ id: `s${k}`, tool: 'slow', input: { ms: 300 } })), { id: 'pay', tool: 'step', input: { id: 'pay' } }] })
    for (let k = 0; k < 400 && worker.stats().running < 4; k++) await new Promise((resolve) => setTimeout(resolve, 5))
    // The fifth is in the broker by now (published with the others, in one batch).
    await new Promise((resolve) => setTimeout(resolve, 50))
    handle.cancel('enough')
    const result = await handle.result
    expect(result.status).toBe('cancelled')
    // The worker's slots free up; the cancelled attempt it then receives is acknowledged unrun.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(ledger).not.toContain('w1:pay')
  })

  it("with queueOf 'group', sends a grouped task to the workers of that group's queue only", async () => {
    const ledger: string[] = []
    const { runner } = await setup(open, [{ name: 'general' }, { name: 'llm-worker', queues: ['llm'] }], ledger, 'group')
    const engine = ownerEngine({ tools: toolsFor('owner', []), builtins: false, runner, concurrency: 16 })
    const result = await engine.run({
      id: 'groups',
      tasks: [
        { id: 'a', tool: 'step', input: { id: 'a' }, group: 'llm' },
        { id: 'b', tool: 'step', input: { id: 'b' }, group: 'llm' },
        { id: 'c', tool: 'step', input: { id: 'c' } },
      ],
    })
    expect(result.status).toBe('succeeded')
    expect(ledger.sort()).toEqual(['general:c', 'llm-worker:a', 'llm-worker:b'])
  })

  it('fails a task whose tool the worker does not have with TW_UNKNOWN_TOOL', async () => {
    const worker = await startWorker({ transport: await open(), tools: [], builtins: false, worker: 'bare' })
    const { runner } = await setup(open, [], [])
    cleanups.push(() => worker.close({ graceMs: 100, closeTransport: true }))
    const engine = ownerEngine({ tools: toolsFor('owner', []), builtins: false, runner })
    const result = await engine.run({ id: 'unknown', tasks: [{ id: 'a', tool: 'step', input: { id: 'a' } }] })
    expect(result.tasks['a']?.error?.code).toBe('TW_UNKNOWN_TOOL')
  })

  it("a session's turn running on a worker that starts to drain runs there once: it is not sent to another worker meanwhile", async () => {
    const runs: string[] = []
    const chat = (worker: string) => turnAgent(worker, runs)
    const workers: Worker[] = []
    cleanups.push(async () => {
      for (const w of workers) await w.close({ graceMs: 100, closeTransport: true })
    })
    for (const name of ['w1', 'w2']) workers.push(await startWorker({ transport: await open(), agents: [chat(name)], builtins: false, worker: name, concurrency: 2, heartbeatMs: 100 }))
    const transport = await open()
    cleanups.push(() => transport.close())
    const runner = createRemoteRunner({ transport, owner: `owner-${randomUUID().slice(0, 8)}`, reconcileEveryMs: 150, workerTimeoutMs: 3000 })
    await runner.listen()
    const engine = ownerEngine({ agents: [chat('owner')], builtins: false, runner })
    const run = engine.run({
      id: 'drain-turn',
      tasks: [
        { id: 't1', agent: 'chat', session: 'ada', input: { turn: 't1', ms: 10 } },
        { id: 't2', agent: 'chat', session: 'ada', input: { turn: 't2', ms: 2000 }, dependsOn: ['t1'] },
      ],
    })
    await expect.poll(() => runs.find((r) => r.startsWith('t2@')), { timeout: 10_000, interval: 10 }).toBeDefined()
    const holder = workers.find((w) => w.id === (runs.find((r) => r.startsWith('t2@')) as string).split('@')[1]) as Worker
    // Its grace outlasts the turn, and the owner's reconciler looks every 150 ms meanwhile.
    const drained = holder.close({ graceMs: 10_000 })
    const result = await run
    await drained
    expect(result.status).toBe('succeeded')
    expect(runs.filter((r) => r.startsWith('t2@'))).toHaveLength(1)
    expect(runner.stats().republished).toBe(0)
  })

  it("sends an agent session's executions to the worker that holds its instance", async () => {
    const made: string[] = []
    const chat = (worker: string) =>
      defineAgent({
        name: 'chat',
        input: z.object({ message: z.string() }),
        create: (sessionId) => {
          made.push(`${worker}:${sessionId}`)
          return { worker, turns: 0 }
        },
        execute: async (instance, { message }, ctx) => {
          // Turns of unequal length, so which worker is free changes from turn to turn.
          await new Promise((resolve) => setTimeout(resolve, ctx.sessionId === 'bob' ? 15 : 1))
          return { worker: instance.worker, turn: ++instance.turns, message }
        },
      })
    const workers: Worker[] = []
    cleanups.push(async () => {
      for (const w of workers) await w.close({ graceMs: 100, closeTransport: true })
    })
    for (const name of ['w1', 'w2', 'w3']) workers.push(await startWorker({ transport: await open(), agents: [chat(name)], builtins: false, worker: name, concurrency: 1, heartbeatMs: 200 }))
    const { runner } = await setup(open, [], [])
    const engine = ownerEngine({ agents: [chat('owner')], builtins: false, runner })
    // Two sessions, six turns each, taking turns: a worker is often busy with the other session.
    const tasks: TaskSpec[] = []
    for (const session of ['ada', 'bob']) {
      for (let k = 0; k < 6; k++) tasks.push({ id: `${session}${k}`, agent: 'chat', session, input: { message: `m${k}` }, ...(k > 0 ? { dependsOn: [`${session}${k - 1}`] } : {}) })
    }
    const result = await engine.run({ id: 'session', tasks })
    expect(result.status).toBe('succeeded')
    // One instance per session, created once, and every turn of a session served by it.
    expect(made.map((m) => m.split(':')[1]).sort()).toEqual(['ada', 'bob'])
    for (const session of ['ada', 'bob']) {
      const first = result.tasks[`${session}0`]?.output as { worker: string }
      for (let k = 0; k < 6; k++) expect(result.tasks[`${session}${k}`]?.output).toMatchObject({ worker: first.worker, turn: k + 1 })
    }
  })
})
