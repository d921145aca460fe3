/**
 * An owner engine with a remote runner and workers on the in-process transport: the engine's
 * semantics (dependencies, added tasks, retries, timeouts, groups, reports, agent sessions) hold
 * when every attempt crosses the transport as plain data. The same flows run on Redis and
 * RabbitMQ with real processes in `processes.test.ts`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineAgent, defineTool } from 'taskweave'
import type { TaskSpec } from 'taskweave'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import type { Worker } from 'taskweave/distributed'
import { createMemoryTransport } from 'taskweave/queues'
import type { Transport } from 'taskweave/queues'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

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

async function setup(workers: { name: string; queues?: string[] }[], ledger: string[], queueOf?: 'group') {
  const transport: Transport = createMemoryTransport()
  const started: Worker[] = []
  for (const w of workers) {
    started.push(await startWorker({ transport, tools: toolsFor(w.name, ledger), builtins: false, worker: w.name, concurrency: 4, ...(w.queues ? { queues: w.queues } : {}) }))
  }
  const runner = createRemoteRunner({ transport, owner: `owner-${Math.random().toString(36).slice(2)}`, ...(queueOf !== undefined ? { queueOf } : {}) })
  await runner.listen()
  const engine = createEngine({ tools: toolsFor('owner', []), builtins: false, runner, concurrency: 16 })
  cleanups.push(async () => {
    await engine.close()
    for (const w of started) await w.close({ graceMs: 100 })
    await transport.close()
  })
  return { transport, engine, runner, workers: started }
}

describe('remote execution on the in-process transport', () => {
  it('runs a layered DAG on two workers with every task run once and outputs passed along', async () => {
    const ledger: string[] = []
    const { engine } = await setup([{ name: 'w1' }, { name: 'w2' }], ledger)
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
    const { engine } = await setup([{ name: 'w1' }], ledger)
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
    const { engine } = await setup([{ name: 'w1' }], ledger)
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
    const { engine } = await setup([{ name: 'w1' }], ledger)
    const result = await engine.run({ id: 'slow', tasks: [{ id: 's', tool: 'slow', input: { ms: 5000 }, timeout: '100ms' }] })
    expect(result.tasks['s']?.status).toBe('failed')
    expect(result.tasks['s']?.error?.code).toBe('TW_TIMEOUT')
    for (let k = 0; k < 50 && !ledger.includes('w1:aborted:TW_TIMEOUT'); k++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(ledger).toContain('w1:aborted:TW_TIMEOUT')
  })

  it("with queueOf 'group', sends a grouped task to the workers of that group's queue only", async () => {
    const ledger: string[] = []
    const { engine } = await setup([{ name: 'general' }, { name: 'llm-worker', queues: ['llm'] }], ledger, 'group')
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
    const transport = createMemoryTransport()
    const worker = await startWorker({ transport, tools: [], builtins: false, worker: 'bare' })
    const runner = createRemoteRunner({ transport })
    const engine = createEngine({ tools: toolsFor('owner', []), builtins: false, runner })
    cleanups.push(async () => {
      await engine.close()
      await worker.close({ graceMs: 100 })
      await transport.close()
    })
    const result = await engine.run({ id: 'unknown', tasks: [{ id: 'a', tool: 'step', input: { id: 'a' } }] })
    expect(result.tasks['a']?.error?.code).toBe('TW_UNKNOWN_TOOL')
  })

  it("sends an agent session's executions to the worker that holds its instance", async () => {
    const transport = createMemoryTransport()
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
    for (const name of ['w1', 'w2', 'w3']) workers.push(await startWorker({ transport, agents: [chat(name)], builtins: false, worker: name, concurrency: 1, heartbeatMs: 50 }))
    const runner = createRemoteRunner({ transport })
    const engine = createEngine({ agents: [chat('owner')], builtins: false, runner })
    cleanups.push(async () => {
      await engine.close()
      for (const w of workers) await w.close({ graceMs: 100 })
      await transport.close()
    })
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
