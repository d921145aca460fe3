import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, MemoryRunStore, TaskweaveError } from 'taskweave'
import type { TaskSpec } from 'taskweave'
import { inAnotherProcess } from '../helpers.js'

/** Tools that count their calls per task id, and a gate that holds chosen tasks until released. */
function tools() {
  const calls = new Map<string, number>()
  const ctxs: { taskId: string; attemptId: string | undefined; idempotencyKey: string }[] = []
  const held = new Set<string>()
  const count = (id: string): void => void calls.set(id, (calls.get(id) ?? 0) + 1)
  const step = defineTool({
    name: 'step',
    input: z.object({ id: z.string(), hold: z.boolean().optional() }),
    run: async ({ id, hold }, ctx) => {
      count(id)
      ctxs.push({ taskId: ctx.taskId, attemptId: ctx.attemptId, idempotencyKey: ctx.idempotencyKey })
      if (hold === true && held.has(id)) await new Promise(() => undefined)
      return { id }
    },
  })
  return { step, calls, ctxs, held }
}

function chain(ids: string[], hold?: string): { id: string; tasks: TaskSpec[] } {
  return { id: 'flow', tasks: ids.map((id, k) => ({ id, tool: 'step', input: { id, ...(id === hold ? { hold: true } : {}) }, ...(k > 0 ? { dependsOn: [ids[k - 1] as string] } : {}) })) }
}

describe('durable runs', () => {
  it('handle.saved says when the store holds the run: true once created, false without a store or when the store refused it', async () => {
    const store = new MemoryRunStore()
    const t = tools()
    await using durable = createEngine({ tools: [t.step], store, builtins: false })
    const handle = durable.start(chain(['a']), { runId: 'kept' })
    expect(await handle.saved).toBe(true)
    expect(await store.load('kept')).toBeDefined()
    await handle.result
    // An id the store has already: it refuses the new run.
    const again = durable.start(chain(['a']), { runId: 'kept' })
    expect(await again.saved).toBe(false)
    expect((await again.result).status).toBe('failed')
    await using plain = createEngine({ tools: [t.step], builtins: false })
    expect(await plain.start(chain(['a'])).saved).toBe(false)
  })

  it('journals each task and marks the run finished in the store', async () => {
    const store = new MemoryRunStore()
    const t = tools()
    const engine = createEngine({ tools: [t.step], store, builtins: false })
    const result = await engine.run(chain(['a', 'b', 'c']), { runId: 'r1', labels: { source: 'x.yaml' } })
    expect(result.status).toBe('succeeded')
    const stored = await store.load('r1')
    expect(stored?.status).toBe('succeeded')
    expect(stored?.counts).toEqual({ succeeded: 3 })
    expect(stored?.labels).toEqual({ source: 'x.yaml' })
    // Each attempt's start was committed with its outcome, so only the outcome is written.
    expect(stored?.entries.map((e) => `${e.kind}:${e.taskId ?? ''}`)).toEqual(['ok:a', 'ok:b', 'ok:c', 'finish:'])
    expect(stored?.entries[0]?.data).toBe('{"id":"a"}')
    await engine.close()
  })

  it('resumes an interrupted run without running finished tasks again', async () => {
    const store = new MemoryRunStore()
    const first = tools()
    first.held.add('c')
    const engine1 = createEngine({ tools: [first.step], store: inAnotherProcess(store), builtins: false })
    const handle = engine1.start(chain(['a', 'b', 'c', 'd'], 'c'), { runId: 'r2' })
    await new Promise<void>((resolve) => handle.on('task:started', (e) => void (e.taskId === 'c' && resolve())))
    // c's start reaches the store with the next commit.
    while (!(await store.load('r2'))?.entries.some((e) => e.kind === 'start' && e.taskId === 'c')) await new Promise((resolve) => setImmediate(resolve))
    // The process "dies": nothing more is written by engine1 (its tool never returns).
    const second = tools()
    const engine2 = createEngine({ tools: [second.step], store, builtins: false })
    const resumed = await engine2.resume('r2')
    const result = await resumed.result
    expect(result.reason).toBeUndefined()
    expect(result.status).toBe('succeeded')
    expect([...second.calls.keys()].sort()).toEqual(['c', 'd'])
    expect(result.tasks['a']?.output).toEqual({ id: 'a' })
    expect(result.tasks['c']?.attempts).toBe(2)
    expect(result.tasks['c']?.failedAttempts?.[0]?.error.code).toBe('TW_INTERRUPTED')
    const firstC = first.ctxs.find((c) => c.taskId === 'c')
    const secondC = second.ctxs.find((c) => c.taskId === 'c')
    expect(secondC?.idempotencyKey).toBe(firstC?.idempotencyKey)
    expect(secondC?.attemptId).not.toBe(firstC?.attemptId)
    expect((await store.load('r2'))?.status).toBe('succeeded')
    await engine2.close()
    await engine1.close()
  })
})

describe('durability.resumeOnStart', () => {
  it('resumes unfinished runs when the engine is created', async () => {
    const store = new MemoryRunStore()
    const first = tools()
    first.held.add('b')
    const engine1 = createEngine({ tools: [first.step], store: inAnotherProcess(store), builtins: false })
    const handle = engine1.start(chain(['a', 'b'], 'b'), { runId: 'ros' })
    await new Promise<void>((resolve) => handle.on('task:started', (e) => void (e.taskId === 'b' && resolve())))
    await new Promise((resolve) => setImmediate(resolve))
    // engine1 stands for a process that died holding the run (its tool never returns).
    const second = tools()
    const engine2 = createEngine({ tools: [second.step], store, builtins: false, durability: { resumeOnStart: true } })
    const finished = await new Promise<string>((resolve) => engine2.events.on('run:finished', (e) => resolve(`${e.runId}:${e.status}`)))
    expect(finished).toBe('ros:succeeded')
    expect([...second.calls.keys()]).toEqual(['b'])
    await engine2.close()
    await engine1.close()
  })

  it('a store that fails while runs are resumed fails the call, rather than calling each run unresumable', async () => {
    class DownStore extends MemoryRunStore {
      down = false
      override acquire(...args: Parameters<MemoryRunStore['acquire']>): ReturnType<MemoryRunStore['acquire']> {
        return this.down ? Promise.reject(new TaskweaveError('TW_STORE', 'the store is unreachable', { retryable: true })) : super.acquire(...args)
      }
    }
    const store = new DownStore()
    const first = tools()
    first.held.add('b')
    const engine1 = createEngine({ tools: [first.step], store, builtins: false })
    const handle = engine1.start(chain(['a', 'b'], 'b'), { runId: 'down' })
    await new Promise<void>((resolve) => handle.on('task:started', (e) => void (e.taskId === 'b' && resolve())))
    await engine1.close()
    store.down = true
    const engine2 = createEngine({ tools: [tools().step], store, builtins: false })
    const failures: string[] = []
    engine2.events.on('run:resume-failed', (e) => void failures.push(e.runId))
    await expect(engine2.resumeUnfinished()).rejects.toMatchObject({ code: 'TW_STORE' })
    expect(failures).toEqual([])
    await engine2.close()
  })

  it('close() given anything but options (a signal name from process.once) closes as ever; unknown options reject', async () => {
    const engine = createEngine({ tools: [tools().step], builtins: false })
    await expect(engine.close({ reson: 'x' } as never)).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect((engine.close as (signal: string) => Promise<unknown>)('SIGTERM')).resolves.toMatchObject({ clean: true })
    await expect(engine.close()).resolves.toMatchObject({ clean: true })
  })

  it('a run this engine cannot resume is reported and does not keep the others from resuming', async () => {
    const store = new MemoryRunStore()
    const first = tools()
    first.held.add('b')
    const extra = defineTool({ name: 'extra', input: z.object({}), run: () => new Promise(() => undefined) })
    const engine1 = createEngine({ tools: [first.step, extra], store, builtins: false })
    const old = engine1.start(chain(['a', 'b'], 'b'), { runId: 'run-old' })
    const poison = engine1.start({ id: 'other', tasks: [{ id: 'x', tool: 'extra' }] }, { runId: 'run-new' })
    await Promise.all([old, poison].map((h) => new Promise<void>((resolve) => h.on('task:started', (e) => void (e.taskId !== 'a' && resolve())))))
    await engine1.close()
    // A deploy dropped the tool `extra`.
    const second = tools()
    const engine2 = createEngine({ tools: [second.step], store, builtins: false })
    const failures: string[] = []
    engine2.events.on('run:resume-failed', (e) => void failures.push(`${e.runId}:${e.error.code ?? ''}:${e.error.message}`))
    const handles = await engine2.resumeUnfinished()
    expect(handles.map((h) => h.id)).toEqual(['run-old'])
    expect((await handles[0]?.result)?.status).toBe('succeeded')
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatch(/^run-new:TW_VALIDATION:.*unknown tool "extra"/s)
    const stored = await store.load('run-new')
    expect(stored?.status).toBe('running')
    expect(stored?.lease?.expiresAt).toBe(0)
    // Asked again, it is not reported twice.
    expect(await engine2.resumeUnfinished()).toEqual([])
    expect(failures).toHaveLength(1)
    await engine2.close()
  })

  it('two engines of one process sharing a store leave the live runs of the other alone', async () => {
    const store = new MemoryRunStore()
    const first = tools()
    first.held.add('b')
    const engineA = createEngine({ tools: [first.step], store, builtins: false })
    const handle = engineA.start(chain(['a', 'b'], 'b'), { runId: 'shared' })
    await new Promise<void>((resolve) => handle.on('task:started', (e) => void (e.taskId === 'b' && resolve())))
    await new Promise((resolve) => setImmediate(resolve))
    const second = tools()
    const engineB = createEngine({ tools: [second.step], store, builtins: false })
    expect(await engineB.resumeUnfinished()).toEqual([])
    await expect(engineB.resume('shared')).rejects.toMatchObject({ code: 'TW_INVALID_STATE' })
    expect(second.calls.size).toBe(0)
    // Once A has closed, its run is B's to resume.
    await engineA.close()
    const handles = await engineB.resumeUnfinished()
    expect(handles.map((h) => h.id)).toEqual(['shared'])
    expect((await handles[0]?.result)?.status).toBe('succeeded')
    expect([...second.calls.keys()]).toEqual(['b'])
    await engineB.close()
  })
})

describe('durability.retention', () => {
  it('prunes finished runs older than the retention when the engine starts, and keeps the rest', async () => {
    const { ManualClock } = await import('taskweave/testing')
    const day = 86_400_000
    const store = new MemoryRunStore()
    const clock = new ManualClock(0, 1_000 * day)
    const t = tools()
    const engine1 = createEngine({ tools: [t.step], store, builtins: false, clock })
    await engine1.run(chain(['a']), { runId: 'old' })
    clock.setWallTime(1_006 * day)
    await engine1.run(chain(['a']), { runId: 'recent' })
    const unfinished = engine1.start(chain(['a', 'b'], 'b'), { runId: 'unfinished' })
    t.held.add('b')
    await new Promise<void>((resolve) => unfinished.on('task:started', (e) => void (e.taskId === 'b' && resolve())))
    clock.setWallTime(1_008 * day)
    const engine2 = createEngine({ tools: [t.step], store, builtins: false, clock, durability: { retention: '7d' } })
    await new Promise((resolve) => setImmediate(resolve))
    expect((await store.list()).map((run) => run.runId).sort()).toEqual(['recent', 'unfinished'])
    await engine2.close()
    await engine1.close()
  })
})

describe('a durable run closed before the store accepted it', () => {
  it('ends at once, leaves nothing joined, and stays resumable', async () => {
    // The store accepts the run only after the engine has closed (a slow disk, a remote database).
    let accept: () => void = () => undefined
    const accepted = new Promise<void>((resolve) => (accept = resolve))
    class SlowStore extends MemoryRunStore {
      override async createRun(...args: Parameters<MemoryRunStore['createRun']>): ReturnType<MemoryRunStore['createRun']> {
        await accepted
        return super.createRun(...args)
      }
    }
    const store = new SlowStore()
    const t = tools()
    const engine = createEngine({ tools: [t.step], store, builtins: false })
    const handle = engine.start(chain(['a']), { runId: 'early' })
    await engine.close()
    expect((await handle.result).status).toBe('cancelled')
    accept()
    for (let k = 0; k < 5; k++) await new Promise((resolve) => setImmediate(resolve))
    expect(t.calls.size).toBe(0)
    const stored = await store.load('early')
    expect(stored?.status).toBe('running')
    // Its lease was given back, so any process may resume it at once.
    expect(stored?.lease?.expiresAt).toBe(0)
    const again = createEngine({ tools: [t.step], store, builtins: false })
    expect((await (await again.resume('early')).result).status).toBe('succeeded')
    await again.close()
  })
})

describe('durable runs: tasks added at run time, after a restart', () => {
  /** A run whose handler of `a` adds `x` (tool `extra`), which hangs in the first process. */
  async function crashWithAdded(): Promise<{ store: MemoryRunStore; engine1: ReturnType<typeof createEngine> }> {
    const store = new MemoryRunStore()
    const hang = defineTool({ name: 'extra', input: z.object({}), run: () => new Promise<never>(() => undefined) })
    const first = tools()
    const engine1 = createEngine({ tools: [first.step, hang], store: inAnotherProcess(store), builtins: false })
    const handle = engine1.start(chain(['a']), { runId: 'added-1', onTaskComplete: { a: (_completion, run) => run.addTask({ id: 'x', tool: 'extra', dependsOn: ['a'] }) } })
    await new Promise<void>((resolve) => handle.on('task:started', (e) => void (e.taskId === 'x' && resolve())))
    while (!(await store.load('added-1'))?.entries.some((e) => e.kind === 'start' && e.taskId === 'x')) await new Promise((resolve) => setImmediate(resolve))
    return { store, engine1 }
  }

  it('come back even when the resume is not given the handler that added them', async () => {
    const { store, engine1 } = await crashWithAdded()
    const second = tools()
    const ran: string[] = []
    const extra = defineTool({ name: 'extra', input: z.object({}), run: (_input, ctx) => void ran.push(ctx.taskId) })
    const engine2 = createEngine({ tools: [second.step, extra], store, builtins: false })
    const result = await (await engine2.resume('added-1')).result
    expect(result.status).toBe('succeeded')
    expect(Object.keys(result.tasks).sort()).toEqual(['a', 'x'])
    expect(result.tasks['x']).toMatchObject({ status: 'succeeded', addedBy: 'a' })
    expect(ran).toEqual(['x'])
    await engine2.close()
    await engine1.close()
  })

  it('one that cannot be added again (its tool now refuses its input) leaves the run unfinished, not finished without it', async () => {
    const { store, engine1 } = await crashWithAdded()
    const stricter = defineTool({ name: 'extra', input: z.object({ needed: z.string() }).strict(), run: () => 'done' })
    const engine2 = createEngine({ tools: [tools().step, stricter], store, builtins: false })
    const result = await (await engine2.resume('added-1')).result
    expect(result.status).toBe('cancelled')
    expect(result.reason).toContain('task "x", added by "a" before the restart, could not be added again')
    expect((await store.load('added-1'))?.status).toBe('running')
    await engine2.close()
    await engine1.close()
  })

  it('a resume on an engine without their tool is refused, naming the task and tool, and the run stays resumable', async () => {
    const { store, engine1 } = await crashWithAdded()
    const engine2 = createEngine({ tools: [tools().step], store, builtins: false })
    const refused = await engine2.resume('added-1').catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(TaskweaveError)
    expect(refused).toMatchObject({ code: 'TW_VALIDATION', message: expect.stringContaining('task "x", added by "a" before the restart, names tool "extra", which this engine does not have') as unknown })
    expect((await store.load('added-1'))?.status).toBe('running')
    const extra = defineTool({ name: 'extra', input: z.object({}), run: () => 'done' })
    const engine3 = createEngine({ tools: [tools().step, extra], store, builtins: false })
    const result = await (await engine3.resume('added-1')).result
    expect(result.tasks['x']).toMatchObject({ status: 'succeeded', output: 'done' })
    await engine3.close()
    await engine2.close()
    await engine1.close()
  })
})
