/**
 * Seeds 001 (parallel workflow, CPU work off the event loop) and 002 (agent sessions): the
 * examples' results, agents and worker tools inside `engine.run`, and the event loop staying
 * responsive while CPU-heavy tasks run in a worker pool.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { main as seedOne } from '../examples/seeds/001-parallel-workflow.js'
import { configFromEnv, main as seedTwo } from '../examples/seeds/002-agent-sessions.js'
import { main as seedTwoQueue } from '../examples/seeds/002-agent-queue.js'
import { removeBrokerLeftovers } from './queues/broker-kit.js'
import { AgentSessionPool, createAgentTool, defineAgent } from '../src/agents/index.js'
import { createEngine, silentLogger, workflow } from '../src/index.js'
import { defineWorkerTool, WorkerPools } from '../src/workers/index.js'

const cpuWork = new URL('../examples/seeds/fixtures/cpu-work.ts', import.meta.url)

describe('seed 002: agent sessions', () => {
  it('runs the example: standard, reused, streamed and parallel executions, then health and metrics', async () => {
    const lines: string[] = []
    const out = await seedTwo((line) => lines.push(line))
    expect(out.first).toEqual({ reply: 'Hello! You said "Hi there".', turn: 1, instance: 1 })
    // Same session, same instance, and the conversation so far is remembered.
    expect(out.second).toMatchObject({ turn: 2, instance: 1 })
    expect(out.second.reply).toContain('after 1 earlier message(s)')
    expect(out.streamed.text).toBe('Turn 3: you said "Stream it", after 2 earlier message(s).')
    expect(out.streamed.chunks.map((c) => c.index)).toEqual(out.streamed.chunks.map((_, i) => i))
    expect(out.streamed.chunks.at(-1)).toEqual({ type: 'done', data: { turn: 3, instance: 1 }, index: out.streamed.chunks.length - 1 })
    expect(out.parallel).toEqual({ sessions: 3, maxRunning: 3 })
    expect(out.health).toEqual({
      running: true,
      state: 'running',
      workerCount: 10,
      activeInstances: 4,
      runningTasks: 0,
      queueType: 'memory',
      queue: { pending: 0, completed: 6, failed: 0 },
    })
    expect(out.metrics.agents['assistant']).toMatchObject({ executions: 6, failures: 0, instancesCreated: 4, instancesDisposed: 0, activeInstances: 4 })
    expect(out.metrics.agents['assistant']!.meanDurationMs).toBeGreaterThan(0)
    expect(out.afterClose.agents['assistant']).toMatchObject({ instancesDisposed: 4, activeInstances: 0 })
    expect(lines).toHaveLength(7)
  })

  it('reads the seed settings from the environment and sends broker queues to the queue example', () => {
    expect(configFromEnv({ TASK_MANAGER_WORKERS: '4', INSTANCE_TIMEOUT: '60' })).toEqual({ maxConcurrent: 4, idleTimeoutMs: 60_000 })
    expect(() => configFromEnv({ MESSAGE_QUEUE_TYPE: 'redis' })).toThrow(/002-agent-queue\.ts/)
  })

  it('lets workflow tasks talk to agent sessions through agent tools', async () => {
    const notes = defineAgent({
      name: 'notes',
      input: z.object({ add: z.string().optional() }),
      create: () => ({ items: [] as string[] }),
      execute: (state: { items: string[] }, { add }) => {
        if (add !== undefined) state.items.push(add)
        return { items: [...state.items] }
      },
    })
    await using pool = new AgentSessionPool({ agents: [notes] })
    await using engine = createEngine({ tools: [createAgentTool(pool, 'notes')], builtins: false })
    const flow = workflow({ id: 'notes' })
      .task('a', 'agent.notes', { input: { session: 'shared', input: { add: 'alpha' } } })
      .task('b', 'agent.notes', { input: { session: 'shared', input: { add: 'beta' } } })
      .task('read', 'agent.notes', { input: { session: 'shared', input: {} }, dependsOn: ['a', 'b'] })
      .build()
    const result = await engine.run(flow)
    expect(result.status).toBe('succeeded')
    // a and b ran on the same instance one after the other; read sees both.
    expect((result.tasks['read']!.output as { items: string[] }).items.toSorted()).toEqual(['alpha', 'beta'])
    expect(pool.health().queue).toEqual({ pending: 0, completed: 3, failed: 0 })
  })
})

describe('seed 001: parallel workflow', () => {
  it('runs the example: independent tasks overlap, outputs flow into dependents, a failure stays in its branch', async () => {
    const out = await seedOne(() => {})
    const { result } = out
    expect(result.status).toBe('partial')
    expect(out.ranInParallel).toBe(true)
    expect(out.calculateThread).not.toBe(0)
    expect(result.tasks['task_2']!.output).toMatchObject({ below: 200_000, primes: 17_984 })
    expect(result.tasks['task_3']!.output).toBe(
      '3 sources (parallel workflows: overview; parallel workflows: benchmarks; parallel workflows: pitfalls); 17984 primes below 200000.',
    )
    expect(result.tasks['task_4']).toMatchObject({ status: 'failed', error: { code: 'TW_TERMINAL' }, blocked: ['task_5'] })
    expect(result.tasks['task_5']).toMatchObject({ status: 'skipped' })
    expect(result.tasks['task_6']).toMatchObject({ status: 'succeeded', output: { published: true } })
    // Real-time reporting: task_3 became ready only after both of its inputs succeeded.
    const at = (needle: string): number => out.lines.findIndex((l) => l.includes(needle))
    expect(at('task:ready     task_3')).toBeGreaterThan(at('task:succeeded task_1'))
    expect(at('task:ready     task_3')).toBeGreaterThan(at('task:succeeded task_2'))
    expect(at('task:skipped   task_5')).toBeGreaterThan(at('task:failed    task_4'))
  })
})

/** Largest gap between ticks of a 10 ms interval beyond its period: how long the event loop was blocked. */
function lagProbe(periodMs = 10): { stop(): number } {
  let last = performance.now()
  let maxLag = 0
  const timer = setInterval(() => {
    const now = performance.now()
    maxLag = Math.max(maxLag, now - last - periodMs)
    last = now
  }, periodMs)
  return {
    stop() {
      clearInterval(timer)
      return Math.max(maxLag, performance.now() - last - periodMs)
    },
  }
}

describe('seed 001: CPU-heavy work in a worker pool', () => {
  const BURN_MS = 300
  const pools = new WorkerPools()
  const pool = { maxThreads: 2, minThreads: 2, idleTimeout: '1m' } as const
  const burn = (mode: 'pool' | 'inline') =>
    defineWorkerTool({ name: `cpu.burn-${mode}`, input: z.object({ ms: z.number() }), module: cpuWork, exportName: 'burn', mode, pools, pool })
  const fourBurns = (tool: ReturnType<typeof burn>) => {
    let flow = workflow({ id: `burn-${tool.worker.mode}` })
    for (const id of ['b1', 'b2', 'b3', 'b4']) flow = flow.task(id, tool, { input: { ms: BURN_MS } })
    return flow.build()
  }

  beforeAll(async () => {
    // Start both threads (and tsx in them) before measuring anything.
    const warm = burn('pool')
    const signal = new AbortController().signal
    const ctx = { signal, runId: 'warm', taskId: 'warm', attempt: 1, idempotencyKey: 'warm', logger: silentLogger, progress() {}, addTask() {} }
    await Promise.all([warm.run({ ms: 1 }, ctx), warm.run({ ms: 1 }, ctx)])
  })
  afterAll(() => pools.close())

  it('keeps the event loop responsive while 4 tasks burn CPU in the pool, unlike the same tasks inline', async () => {
    await using engine = createEngine({ builtins: false })

    let probe = lagProbe()
    const inline = await engine.run(fourBurns(burn('inline')))
    const inlineLag = probe.stop()

    probe = lagProbe()
    const pooled = await engine.run(fourBurns(burn('pool')))
    const pooledLag = probe.stop()

    expect(inline.status).toBe('succeeded')
    expect(pooled.status).toBe('succeeded')
    expect(Object.values(inline.tasks).map((t) => (t.output as { threadId: number }).threadId)).toEqual([0, 0, 0, 0])
    expect(Object.values(pooled.tasks).every((t) => (t.output as { threadId: number }).threadId !== 0)).toBe(true)
    // Inline, the loop is blocked for at least one whole burn (typically all four: ~1200 ms);
    // pooled, only scheduling noise (typically < 20 ms). Generous bounds for a busy 2-core machine.
    expect(inlineLag).toBeGreaterThanOrEqual(BURN_MS * 0.9)
    expect(pooledLag).toBeLessThan(BURN_MS)
    expect(pooledLag * 3).toBeLessThan(inlineLag)
  })

  it('terminates a stuck CPU task on its task timeout while the other branch finishes', async () => {
    await using engine = createEngine({ builtins: false })
    const spin = defineWorkerTool({ name: 'cpu.spin', input: z.object({}), module: cpuWork, exportName: 'spinForever', pools, pool })
    const flow = workflow({ id: 'stuck' })
      .task('stuck', spin, { input: {}, timeout: '200ms' })
      .task('fine', burn('pool'), { input: { ms: 20 } })
      .build()
    const result = await engine.run(flow)
    expect(result.status).toBe('partial')
    expect(result.tasks['stuck']).toMatchObject({ status: 'failed', error: { code: 'TW_TIMEOUT' } })
    expect(result.tasks['fine']).toMatchObject({ status: 'succeeded' })
  })

  it('terminates CPU tasks when the run is cancelled', async () => {
    await using engine = createEngine({ builtins: false })
    const spin = defineWorkerTool({ name: 'cpu.spin2', input: z.object({}), module: cpuWork, exportName: 'spinForever', pools, pool })
    const handle = engine.start(workflow({ id: 'cancel' }).task('a', spin, { input: {} }).task('b', spin, { input: {} }).build())
    let cancelling = false
    handle.on('task:started', () => {
      if (cancelling || handle.taskStatus('a') !== 'running' || handle.taskStatus('b') !== 'running') return
      cancelling = true
      setTimeout(() => handle.cancel('user pressed stop'), 50)
    })
    const result = await handle.result
    expect(result.status).toBe('cancelled')
    expect(result.tasks['a']!.status).toBe('cancelled')
    expect(result.tasks['b']!.status).toBe('cancelled')
  })
})

describe.each([
  // One execution at a time per worker (TASK_MANAGER_WORKERS=1): four 20 ms sessions started
  // together cannot all go to one worker, so the spread is what the test can check. (A worker
  // with free places takes what it is offered: with the default 16 each, one worker may serve
  // all four.)
  { type: 'memory', env: { MESSAGE_QUEUE_TYPE: 'memory', TASK_MANAGER_WORKERS: '1' } },
  { type: 'redis', env: { MESSAGE_QUEUE_TYPE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379', TASK_MANAGER_WORKERS: '1', INSTANCE_TIMEOUT: '60' } },
  { type: 'rabbitmq', env: { MESSAGE_QUEUE_TYPE: 'rabbitmq', RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672', TASK_MANAGER_WORKERS: '1' } },
])('seed 002: agent executions through a $type queue', ({ type, env }) => {
  it('keeps a session on the worker that holds its instance and spreads sessions over busy workers', async () => {
    const prefix = `twtest-seed002-${randomUUID().slice(0, 8)}`
    try {
      const out = await seedTwoQueue(env, () => undefined, prefix)
      expect(out.queueType).toBe(type)
      expect(out.turns.map((t) => t.turn)).toEqual([1, 2, 3])
      expect(new Set(out.turns.map((t) => t.worker)).size).toBe(1)
      expect(Object.keys(out.parallel)).toHaveLength(4)
      expect(new Set(Object.values(out.parallel))).toEqual(new Set(['worker-a', 'worker-b']))
      expect(out.stats.workers.length).toBe(2)
    } finally {
      if (type !== 'memory') await removeBrokerLeftovers(type as 'redis' | 'rabbitmq', (env as Record<string, string>)[type === 'redis' ? 'REDIS_URL' : 'RABBITMQ_URL'] as string, prefix)
    }
  }, 60_000)
})
