import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, MemoryRunStore, TaskweaveError } from 'taskweave'
import type { RunHandle, RunResult, TaskSpec } from 'taskweave'
import type { JournalEntry } from 'taskweave/ports'
import { ManualClock } from 'taskweave/testing'

/** A store whose appends wait until the test lets them through. */
class GatedStore extends MemoryRunStore {
  gate: Promise<void> = Promise.resolve()
  open: () => void = () => undefined
  close_(): void {
    this.gate = new Promise((resolve) => (this.open = resolve))
  }
  override async append(...args: Parameters<MemoryRunStore['append']>): ReturnType<MemoryRunStore['append']> {
    await this.gate
    return super.append(...args)
  }
}

/** A store whose appends always fail. */
class BrokenStore extends MemoryRunStore {
  override async append(): ReturnType<MemoryRunStore['append']> {
    throw new TaskweaveError('TW_STORE', 'disk full: /tmp/x.db', { retryable: false })
  }
}

function counter() {
  const calls: string[] = []
  const tool = defineTool({
    name: 'step',
    input: z.object({ id: z.string(), fail: z.boolean().optional(), add: z.array(z.string()).optional() }),
    run: ({ id, fail, add }, ctx) => {
      calls.push(id)
      if (fail === true) throw new Error(`${id} failed`)
      let previous: string | undefined
      for (const child of add ?? []) {
        ctx.addTask({ id: child, tool: 'step', input: { id: child }, ...(previous !== undefined ? { dependsOn: [previous] } : {}) })
        previous = child
      }
      return { id }
    },
  })
  return { tool, calls }
}

const task = (id: string, extra: Partial<TaskSpec> = {}): TaskSpec => ({ id, tool: 'step', input: { id }, ...extra })

/** The run's result, moving `clock` on a second per turn of the event loop (the store's retries wait on it). */
async function resultWithClock(handle: RunHandle, clock: ManualClock): Promise<RunResult> {
  let settled = false
  void handle.result.then(() => (settled = true))
  for (let k = 0; k < 50 && !settled; k++) {
    await new Promise((resolve) => setImmediate(resolve))
    clock.advance(1_000)
  }
  return handle.result
}

/** Writes a run and a hand-made journal into `store`, as a crashed process would have left them. */
async function seed(store: MemoryRunStore, runId: string, tasks: TaskSpec[], entries: Omit<JournalEntry, 'seq' | 'at'>[], options: { failFast?: boolean } = {}): Promise<void> {
  const engine = createEngine({ tools: [counter().tool], builtins: false })
  const compiled = engine.compile({ id: 'flow', tasks })
  await store.createRun({ runId, workflowId: 'flow', workflowHash: compiled.hash, definition: compiled.snapshot, inputs: '{}', settings: JSON.stringify({ failFast: options.failFast ?? false }), createdAt: 0 }, { owner: 'dead', ttlMs: 1000, now: 0 })
  await store.append([{ runId, epoch: 1, entries: entries.map((e, k) => ({ ...e, seq: k + 1, at: k })) }])
  await engine.close()
}

describe('durable runs: dependents wait for durability', () => {
  it('a dependent starts only after its parent outcome is durable; the slot is freed at once', async () => {
    const store = new GatedStore()
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false })
    store.close_()
    const handle = engine.start({ id: 'flow', tasks: [task('a'), task('b', { dependsOn: ['a'] })] }, { runId: 'g1' })
    const succeeded: string[] = []
    handle.on('task:succeeded', (e) => void succeeded.push(e.taskId))
    // Let the run start (createRun is not gated) and 'a' finish.
    for (let k = 0; k < 20; k++) await new Promise((resolve) => setImmediate(resolve))
    expect(succeeded).toEqual(['a'])
    expect(c.calls).toEqual(['a'])
    expect(engine.stats().slots.used).toBe(0)
    store.open()
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    expect(c.calls).toEqual(['a', 'b'])
    await engine.close()
  })
})

describe('durable runs: replay', () => {
  it('replays outcomes, retries and failures from the journal without calling tools', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'rp', [task('a'), task('b', { retry: { maxAttempts: 3 } }), task('c', { dependsOn: ['a'] }), task('d', { dependsOn: ['b', 'c'] })], [
      { kind: 'start', taskId: 'a', attempt: 1 },
      { kind: 'ok', taskId: 'a', attempt: 1, data: '{"id":"a","from":"journal"}' },
      { kind: 'start', taskId: 'b', attempt: 1 },
      { kind: 'fail', taskId: 'b', attempt: 1, data: JSON.stringify({ error: { name: 'Error', code: 'TW_TOOL_FAILED', message: 'flaky', retryable: true }, retryAt: 5 }) },
      { kind: 'start', taskId: 'b', attempt: 2 },
      { kind: 'ok', taskId: 'b', attempt: 2, data: '{"id":"b"}' },
      { kind: 'start', taskId: 'c', attempt: 1 },
    ])
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false })
    const result = await (await engine.resume('rp')).result
    expect(result.status).toBe('succeeded')
    expect(c.calls).toEqual(['c', 'd'])
    expect(result.tasks['a']?.output).toEqual({ id: 'a', from: 'journal' })
    expect(result.tasks['b']?.attempts).toBe(2)
    expect(result.tasks['b']?.failedAttempts?.[0]?.error.message).toBe('flaky')
    expect(result.tasks['c']?.attempts).toBe(2)
    const entries = (await store.load('rp'))?.entries ?? []
    // The journal goes on after what was there: c's second attempt, d, the finish.
    // (A start committed together with its outcome is written as the outcome alone.)
    expect(entries.slice(7).map((e) => `${e.seq}:${e.kind}:${e.taskId ?? ''}:${e.attempt ?? ''}`)).toEqual(['8:ok:c:2', '9:ok:d:1', '10:finish::'])
    await engine.close()
  })

  it('a task marked idempotent: false that was in flight fails TW_UNCERTAIN instead of running again', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'un', [task('pay', { idempotent: false }), task('after', { dependsOn: ['pay'] })], [{ kind: 'start', taskId: 'pay', attempt: 1 }])
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false })
    const result = await (await engine.resume('un')).result
    expect(c.calls).toEqual([])
    expect(result.tasks['pay']?.status).toBe('failed')
    expect(result.tasks['pay']?.error?.code).toBe('TW_UNCERTAIN')
    expect(result.tasks['after']?.status).toBe('skipped')
    expect(result.status).toBe('failed')
    await engine.close()
  })

  it('a task marked idempotent: false with onUncertain: retry runs again on resume instead of failing TW_UNCERTAIN', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'ur', [task('pay', { idempotent: false, onUncertain: 'retry' }), task('after', { dependsOn: ['pay'] })], [{ kind: 'start', taskId: 'pay', attempt: 1 }])
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false })
    const result = await (await engine.resume('ur')).result
    expect(c.calls).toEqual(['pay', 'after'])
    expect(result.status).toBe('succeeded')
    expect(result.tasks['pay']?.attempts).toBe(2)
    expect(result.tasks['pay']?.failedAttempts?.[0]?.error.code).toBe('TW_INTERRUPTED')
    await engine.close()
  })

  it('after maxStartsWithoutOutcome starts without an outcome a task fails TW_UNCERTAIN', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'ms', [task('a')], [{ kind: 'start', taskId: 'a', attempt: 1 }, { kind: 'start', taskId: 'a', attempt: 2 }])
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false, durability: { maxStartsWithoutOutcome: 2 } })
    const result = await (await engine.resume('ms')).result
    expect(c.calls).toEqual([])
    expect(result.tasks['a']?.error?.code).toBe('TW_UNCERTAIN')
    await engine.close()
  })

  it('tasks a tool added (a chain) come back from the ok entry and are not added twice', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'ad', [task('root', { input: { id: 'root', add: ['x', 'y'] } })], [
      { kind: 'start', taskId: 'root', attempt: 1 },
      { kind: 'ok', taskId: 'root', attempt: 1, data: '{"id":"root"}', added: JSON.stringify([{ id: 'x', tool: 'step', input: { id: 'x' } }, { id: 'y', tool: 'step', input: { id: 'y' }, dependsOn: ['x'] }]) },
      { kind: 'start', taskId: 'x', attempt: 1 },
      { kind: 'ok', taskId: 'x', attempt: 1, data: '{"id":"x"}' },
    ])
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false })
    const result = await (await engine.resume('ad')).result
    expect(result.status).toBe('succeeded')
    expect(c.calls).toEqual(['y'])
    expect(Object.keys(result.tasks).sort()).toEqual(['root', 'x', 'y'])
    expect(result.tasks['y']?.addedBy).toBe('root')
    await engine.close()
  })

  it('handler-added tasks come back; a handler that had settled does not run again, one that had not runs again (a no-op add)', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'hd', [task('a'), task('b')], [
      { kind: 'start', taskId: 'a', attempt: 1 },
      { kind: 'ok', taskId: 'a', attempt: 1, data: '{"id":"a"}' },
      { kind: 'add', taskId: 'a', data: JSON.stringify({ id: 'a2', input: { id: 'a2' }, tool: 'step' }) },
      { kind: 'handled', taskId: 'a' },
      { kind: 'start', taskId: 'b', attempt: 1 },
      { kind: 'ok', taskId: 'b', attempt: 1, data: '{"id":"b"}' },
      { kind: 'add', taskId: 'b', data: JSON.stringify({ id: 'b2', input: { id: 'b2' }, tool: 'step' }) },
    ])
    const c = counter()
    const handled: string[] = []
    const engine = createEngine({ tools: [c.tool], store, builtins: false })
    const handle = await engine.resume('hd', {
      onTaskComplete: {
        a: (_completion, run) => {
          handled.push('a')
          run.addTask(task('a2'))
        },
        b: (_completion, run) => {
          handled.push('b')
          run.addTask(task('b2'))
        },
      },
    })
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    expect(handled).toEqual(['b'])
    expect(c.calls.sort()).toEqual(['a2', 'b2'])
    await engine.close()
  })

  it('a stop in progress is replayed: finished tasks keep their outcome, nothing new starts, the run ends cancelled', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'st', [task('a'), task('b'), task('c', { dependsOn: ['a'] })], [
      { kind: 'start', taskId: 'a', attempt: 1 },
      { kind: 'ok', taskId: 'a', attempt: 1, data: '{"id":"a"}' },
      { kind: 'start', taskId: 'b', attempt: 1 },
      { kind: 'stop', data: JSON.stringify({ status: 'cancelled', reason: 'the user pressed stop' }) },
    ])
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false })
    const result = await (await engine.resume('st')).result
    expect(c.calls).toEqual([])
    expect(result.status).toBe('cancelled')
    expect(result.reason).toBe('the user pressed stop')
    expect(result.tasks['a']?.status).toBe('succeeded')
    expect(result.tasks['b']?.status).toBe('cancelled')
    expect(result.tasks['c']?.status).toBe('cancelled')
    expect((await store.load('st'))?.status).toBe('cancelled')
    await engine.close()
  })

  it('a retry waiting for its time when the process died waits out the rest of it', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'rt', [task('a', { retry: { maxAttempts: 2 } })], [
      { kind: 'start', taskId: 'a', attempt: 1 },
      { kind: 'fail', taskId: 'a', attempt: 1, data: JSON.stringify({ error: { name: 'Error', code: 'TW_TOOL_FAILED', message: 'flaky', retryable: true }, retryAt: 10_000 }) },
    ])
    const clock = new ManualClock(0, 4_000)
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false, clock })
    const handle = await engine.resume('rt')
    for (let k = 0; k < 5; k++) await new Promise((resolve) => setImmediate(resolve))
    expect(c.calls).toEqual([])
    clock.advance(5_999)
    for (let k = 0; k < 5; k++) await new Promise((resolve) => setImmediate(resolve))
    expect(c.calls).toEqual([])
    clock.advance(1)
    const result = await handle.result
    expect(c.calls).toEqual(['a'])
    expect(result.tasks['a']?.attempts).toBe(2)
    await engine.close()
  })
})

describe('durable runs: ownership and failures', () => {
  it('engine.close() suspends a durable run; another engine resumes it', async () => {
    const store = new MemoryRunStore()
    let release: () => void = () => undefined
    const slow = defineTool({ name: 'slow', input: z.object({}), run: (_input, ctx) => new Promise<string>((resolve, reject) => {
      release = () => resolve('late')
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))
    }) })
    const c = counter()
    const engine1 = createEngine({ tools: [c.tool, slow], store, builtins: false })
    const handle = engine1.start({ id: 'flow', tasks: [task('a'), { id: 's', tool: 'slow', dependsOn: ['a'] }] }, { runId: 'sus' })
    await new Promise<void>((resolve) => handle.on('task:started', (e) => void (e.taskId === 's' && resolve())))
    await engine1.close()
    const suspended = await handle.result
    expect(suspended.status).toBe('cancelled')
    expect(suspended.reason).toContain('engine.resume("sus")')
    const stored = await store.load('sus')
    expect(stored?.status).toBe('running')
    expect(stored?.lease?.expiresAt).toBe(0)
    const engine2 = createEngine({ tools: [c.tool, slow], store, builtins: false })
    const resumed = await engine2.resume('sus')
    await new Promise<void>((resolve) => resumed.on('task:started', () => resolve()))
    release()
    const result = await resumed.result
    expect(result.status).toBe('succeeded')
    expect(c.calls).toEqual(['a'])
    await engine2.close()
  })

  it('suspensions are not crashes: a task stopped by close() many times runs again, without TW_UNCERTAIN or a spent attempt', async () => {
    const store = new MemoryRunStore()
    let finish = false
    let calls = 0
    const blocking = defineTool({ name: 'blocking', input: z.object({}), run: (_input, ctx) => {
      calls++
      if (finish) return 'done'
      return new Promise<string>((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
    } })
    const spec = { id: 'flow', tasks: [{ id: 'b', tool: 'blocking' }] }
    // One more suspension than durability.maxStartsWithoutOutcome (3).
    for (let life = 0; life < 4; life++) {
      const engine = createEngine({ tools: [blocking], store, builtins: false })
      const handle = life === 0 ? engine.start(spec, { runId: 'many' }) : await engine.resume('many')
      await new Promise<void>((resolve) => handle.on('task:started', () => resolve()))
      await engine.close()
      expect((await handle.result).status).toBe('cancelled')
    }
    finish = true
    const engine = createEngine({ tools: [blocking], store, builtins: false })
    const result = await (await engine.resume('many')).result
    expect(result.status).toBe('succeeded')
    expect(calls).toBe(5)
    expect(result.tasks['b']?.attempts).toBe(5)
    expect(result.tasks['b']?.failedAttempts?.map((a) => a.error.code)).toEqual(['TW_INTERRUPTED', 'TW_INTERRUPTED', 'TW_INTERRUPTED', 'TW_INTERRUPTED'])
    expect(result.tasks['b']?.failedAttempts?.[0]?.error.message).toContain('was stopped: the engine closed')
    await engine.close()
  })

  it('a suspended non-idempotent task whose tool was not called yet runs on resume; one whose tool was called is uncertain', async () => {
    const store = new GatedStore()
    const called: string[] = []
    const charge = defineTool({ name: 'charge', idempotent: false, input: z.object({ id: z.string() }), run: ({ id }, ctx) => {
      called.push(id)
      return new Promise<string>((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
    } })
    const engine1 = createEngine({ tools: [charge], store, builtins: false })
    const spec = { id: 'pay', tasks: [{ id: 'p', tool: 'charge', input: { id: 'p' } }] }
    const handle = engine1.start(spec, { runId: 'nc1' })
    // The run is accepted, then its start entry is held back: the tool waits for it.
    await new Promise<void>((resolve) => handle.on('task:started', () => resolve()))
    store.close_()
    await new Promise((resolve) => setImmediate(resolve))
    const closed = engine1.close()
    store.open()
    await closed
    expect(called).toEqual([])
    const engine2 = createEngine({ tools: [charge], store, builtins: false })
    const resumed = await engine2.resume('nc1')
    await new Promise<void>((resolve) => resumed.on('task:started', () => resolve()))
    // This time the tool runs (its start is durable) before the engine closes: the outcome is uncertain.
    for (let k = 0; k < 20 && called.length === 0; k++) await new Promise((resolve) => setImmediate(resolve))
    expect(called).toEqual(['p'])
    await engine2.close()
    const engine3 = createEngine({ tools: [charge], store, builtins: false })
    const result = await (await engine3.resume('nc1')).result
    expect(result.status).toBe('failed')
    expect(result.tasks['p']?.error?.code).toBe('TW_UNCERTAIN')
    expect(called).toEqual(['p'])
    await engine3.close()
  })

  it('a run whose lease another owner took is fenced: its late outcome is refused and it stops', async () => {
    const store = new MemoryRunStore()
    let release: () => void = () => undefined
    const held = defineTool({ name: 'held', input: z.object({}), run: () => new Promise<string>((resolve) => (release = () => resolve('late'))) })
    const engine1 = createEngine({ tools: [held], store, builtins: false })
    const first = engine1.start({ id: 'flow', tasks: [{ id: 'h', tool: 'held' }] }, { runId: 'fe' })
    await new Promise<void>((resolve) => first.on('task:started', () => resolve()))
    await new Promise((resolve) => setImmediate(resolve))
    const taken = await store.acquire('fe', { owner: 'someone-else', ttlMs: 60_000, now: Date.now(), takeOver: true })
    expect(taken?.epoch).toBe(2)
    release()
    const result = await first.result
    expect(result.status).toBe('failed')
    expect(result.reason).toContain('owned elsewhere')
    const stored = await store.load('fe')
    expect(stored?.entries.map((e) => e.kind)).toEqual(['start'])
    await engine1.close()
  })

  it('a store that keeps failing fails the run with the store error after bounded retries; nothing hangs', async () => {
    const store = new BrokenStore()
    const clock = new ManualClock(0, 1_000)
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false, clock })
    const handle = engine.start({ id: 'flow', tasks: [task('a'), task('b', { dependsOn: ['a'] })] }, { runId: 'br' })
    const result = await resultWithClock(handle, clock)
    expect(result.status).toBe('failed')
    expect(result.reason).toContain('disk full: /tmp/x.db')
    expect(c.calls).toEqual(['a'])
    expect(result.tasks['b']?.status).toBe('cancelled')
    await engine.close()
  })

  it('a success whose result the store never committed is not reported as one', async () => {
    const store = new BrokenStore()
    const clock = new ManualClock(0, 1_000)
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false, clock })
    const handle = engine.start({ id: 'flow', tasks: [task('a'), task('b', { dependsOn: ['a'] })] }, { runId: 'nc' })
    const failedEvents: string[] = []
    handle.on('task:failed', (e) => void failedEvents.push(`${e.taskId}:${e.error.code ?? ''}`))
    const result = await resultWithClock(handle, clock)
    expect(c.calls).toEqual(['a'])
    expect(result.counts.succeeded).toBe(0)
    expect(result.tasks['a']).toMatchObject({ status: 'failed', error: { code: 'TW_STORE' } })
    expect(result.tasks['a']?.output).toBeUndefined()
    expect(result.tasks['a']?.error?.message).toContain('succeeded, but its result was not committed')
    expect(result.failed).toEqual(['a'])
    expect(failedEvents).toEqual(['a:TW_STORE'])
    await engine.close()
  })

  it('resume refuses a finished run, an unknown run, and an engine without a store', async () => {
    const store = new MemoryRunStore()
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false })
    await engine.run({ id: 'flow', tasks: [task('a')] }, { runId: 'done' })
    await expect(engine.resume('done')).rejects.toMatchObject({ code: 'TW_INVALID_STATE' })
    await expect(engine.resume('nope')).rejects.toMatchObject({ code: 'TW_STORE_NOT_FOUND' })
    const plain = createEngine({ tools: [c.tool], builtins: false })
    await expect(plain.resume('done')).rejects.toMatchObject({ code: 'TW_INVALID_STATE' })
    expect(() => plain.start({ id: 'flow', tasks: [task('a')] }, { durable: true })).toThrow(/store/)
    expect(plain.stats().activeRuns).toBe(0)
    await engine.close()
    await plain.close()
  })
})

describe('durable runs: forEach items', () => {
  it('items that finished come back from the journal; the rest run; the gathered output is whole', async () => {
    const store = new MemoryRunStore()
    const list = defineTool({ name: 'list', input: z.object({}), run: () => ['x', 'y', 'z'] })
    const c = counter()
    const tasks: TaskSpec[] = [
      { id: 'list', tool: 'list' },
      { id: 'each', tool: 'step', forEach: '{{ tasks.list.output }}', input: { id: '{{ item }}' } },
      { id: 'after', tool: 'step', input: { id: 'after' }, dependsOn: ['each'] },
    ]
    const seeded = createEngine({ tools: [c.tool, list], builtins: false })
    const compiled = seeded.compile({ id: 'fe', tasks })
    await store.createRun({ runId: 'fe', workflowId: 'fe', workflowHash: compiled.hash, definition: compiled.snapshot, inputs: '{}', settings: '{"failFast":false}', createdAt: 0 }, { owner: 'dead', ttlMs: 1000, now: 0 })
    await store.append([{ runId: 'fe', epoch: 1, entries: [
      { seq: 1, at: 1, kind: 'ok', taskId: 'list', attempt: 1, data: '["x","y","z"]' },
      { seq: 2, at: 2, kind: 'ok', taskId: 'each[0]', attempt: 1, data: '{"id":"x"}' },
      { seq: 3, at: 3, kind: 'start', taskId: 'each[1]', attempt: 1 },
      { seq: 4, at: 4, kind: 'ok', taskId: 'each[2]', attempt: 1, data: '{"id":"z"}' },
    ] }])
    await seeded.close()
    const engine = createEngine({ tools: [c.tool, list], store, builtins: false })
    const result = await (await engine.resume('fe')).result
    expect(result.status).toBe('succeeded')
    expect(c.calls).toEqual(['y', 'after'])
    expect(result.tasks['each']?.output).toEqual([{ id: 'x' }, { id: 'y' }, { id: 'z' }])
    expect(result.tasks['each[1]']?.attempts).toBe(2)
    await engine.close()
  })
})
