import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, MemoryRunStore, TaskweaveError } from 'taskweave'
import type { Logger, TaskSpec, TaskweaveEvent } from 'taskweave'
import type { JournalEntry } from 'taskweave/ports'
import { ManualClock } from 'taskweave/testing'

function counter() {
  const calls: string[] = []
  const tool = defineTool({
    name: 'step',
    input: z.object({ id: z.string(), from: z.unknown().optional() }),
    run: ({ id, from }) => {
      calls.push(id)
      return from === undefined ? { id } : { id, from }
    },
  })
  return { tool, calls }
}

const task = (id: string, extra: Partial<TaskSpec> = {}): TaskSpec => ({ id, tool: 'step', input: { id }, ...extra })

/** Writes a run and a hand-made journal into `store`, as a crashed process would have left them. */
async function seed(store: MemoryRunStore, runId: string, tasks: TaskSpec[], entries: Omit<JournalEntry, 'seq' | 'at'>[]): Promise<void> {
  const engine = createEngine({ tools: [counter().tool], builtins: false })
  const compiled = engine.compile({ id: 'flow', tasks })
  await store.createRun({ runId, workflowId: 'flow', workflowHash: compiled.hash, definition: compiled.snapshot, inputs: '{}', settings: JSON.stringify({ failFast: false }), createdAt: 0 }, { owner: 'dead', ttlMs: 1000, now: 0 })
  await store.append([{ runId, epoch: 1, entries: entries.map((e, k) => ({ ...e, seq: k + 1, at: k })) }])
  await engine.close()
}

/** A payment in flight when its process died, and a task that reads its output. */
const PAYMENT = [task('pay', { idempotent: false, onUncertain: 'park' }), task('receipt', { dependsOn: ['pay'], input: { id: 'receipt', from: '{{ tasks.pay.output }}' } })]

/** Seeds the payment run and resumes it once: it parks. */
async function parkedPayment(runId: string) {
  const store = new MemoryRunStore()
  await seed(store, runId, PAYMENT, [{ kind: 'start', taskId: 'pay', attempt: 1 }])
  const c = counter()
  const engine = createEngine({ tools: [c.tool], store, builtins: false })
  const events: TaskweaveEvent[] = []
  engine.events.onAny((event) => void events.push(event))
  const result = await (await engine.resume(runId)).result
  return { store, engine, c, result, events }
}

describe('onUncertain: park', () => {
  it('a resume that finds the task uncertain stops the run, unfinished, with a park entry and a run:parked event; nothing runs', async () => {
    const { store, engine, c, result, events } = await parkedPayment('p1')
    expect(c.calls).toEqual([])
    expect(result.status).toBe('cancelled')
    expect(result.reason).toMatch(/^parked: task "pay" started 1 time\(s\) without a recorded outcome .*idempotent: false.*taskweave resolve p1 pay --succeeded \| --failed \| --retry/)
    const parked = events.find((event) => event.type === 'run:parked')
    expect(parked).toMatchObject({ type: 'run:parked', runId: 'p1', taskId: 'pay', attempt: 1 })
    const stored = await store.load('p1')
    expect(stored?.status).toBe('running')
    expect(stored?.lease?.expiresAt ?? 0).toBeLessThanOrEqual(Date.now())
    expect(stored?.entries.map((e) => `${e.kind}:${e.taskId ?? ''}:${e.attempt ?? ''}`)).toEqual(['start:pay:1', 'park:pay:1'])
    expect(await engine.parkedTasks('p1')).toEqual([expect.objectContaining({ taskId: 'pay', attempt: 1, reason: expect.stringContaining('idempotent: false') })])
    await engine.close()
  })

  it('a parked run is not resumed until it is decided: resume rejects TW_PARKED, resumeUnfinished reports it once and goes on', async () => {
    const { store, engine } = await parkedPayment('p2')
    const error = await engine.resume('p2').catch((err: unknown) => err)
    expect(TaskweaveError.is(error, 'TW_PARKED')).toBe(true)
    expect((error as Error).message).toMatch(/run "p2" is parked: "pay" waits for an operator .*taskweave resolve p2 pay/)
    expect((await store.load('p2'))?.lease?.expiresAt ?? 0).toBeLessThanOrEqual(Date.now())
    const failed: TaskweaveEvent[] = []
    engine.events.on('run:resume-failed', (event) => void failed.push(event))
    // This engine parked it (and said so with run:parked): it passes it by.
    expect(await engine.resumeUnfinished()).toEqual([])
    expect(failed).toEqual([])
    await engine.close()
    // Another engine finds it parked, says so once, and passes it by from then on.
    const other = createEngine({ tools: [counter().tool], store, builtins: false })
    other.events.on('run:resume-failed', (event) => void failed.push(event))
    expect(await other.resumeUnfinished()).toEqual([])
    expect(await other.resumeUnfinished()).toEqual([])
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ runId: 'p2', error: { code: 'TW_PARKED' } })
    await other.close()
  })

  it('decided succeeded: the resume takes the given output as the attempt\'s, never calls the tool, and the dependents read it', async () => {
    const { store, engine, c } = await parkedPayment('p3')
    const resolution = await engine.resolveParked('p3', 'pay', { outcome: 'succeeded', output: { chargeId: 'ch_1' } })
    expect(resolution).toMatchObject({ runId: 'p3', taskId: 'pay', attempt: 1, outcome: 'succeeded' })
    expect(await engine.parkedTasks('p3')).toEqual([])
    const result = await (await engine.resume('p3')).result
    expect(result.status).toBe('succeeded')
    expect(c.calls).toEqual(['receipt'])
    expect(result.tasks['pay']?.output).toEqual({ chargeId: 'ch_1' })
    expect(result.tasks['receipt']?.output).toEqual({ id: 'receipt', from: { chargeId: 'ch_1' } })
    expect((await store.load('p3'))?.status).toBe('succeeded')
    await engine.close()
  })

  it('decided failed: the task fails TW_UNCERTAIN with the operator\'s reason and the run goes on as after any failure', async () => {
    const { engine, c } = await parkedPayment('p4')
    await engine.resolveParked('p4', 'pay', { outcome: 'failed', reason: 'the provider has no charge for this key' })
    const result = await (await engine.resume('p4')).result
    expect(c.calls).toEqual([])
    expect(result.status).toBe('failed')
    expect(result.tasks['pay']?.error).toMatchObject({ code: 'TW_UNCERTAIN', message: 'task "pay" (attempt 1) was resolved as failed by an operator: the provider has no charge for this key' })
    expect(result.tasks['receipt']?.status).toBe('skipped')
    await engine.close()
  })

  it('decided retry: the task runs again as its next attempt, the stopped one listed, with no attempt spent', async () => {
    const { engine, c } = await parkedPayment('p5')
    await engine.resolveParked('p5', 'pay', { outcome: 'retry', reason: 'no charge found' })
    const result = await (await engine.resume('p5')).result
    expect(result.status).toBe('succeeded')
    expect(c.calls).toEqual(['pay', 'receipt'])
    expect(result.tasks['pay']?.attempts).toBe(2)
    expect(result.tasks['pay']?.failedAttempts?.[0]?.error).toMatchObject({ code: 'TW_INTERRUPTED', message: expect.stringContaining('an operator asked for it to run again: no charge found') })
    await engine.close()
  })

  it('a task that started maxStartsWithoutOutcome times parks at its last attempt; a decision there is replayed over the earlier ones', async () => {
    for (const [outcome, calls, attempts] of [['retry', ['a'], 4], ['succeeded', [], 3]] as const) {
      const store = new MemoryRunStore()
      await seed(store, `ms-${outcome}`, [task('a', { onUncertain: 'park' })], [1, 2, 3].map((attempt) => ({ kind: 'start', taskId: 'a', attempt })))
      const c = counter()
      const engine = createEngine({ tools: [c.tool], store, builtins: false })
      const parked = await (await engine.resume(`ms-${outcome}`)).result
      expect(parked.reason).toContain('it is not run again after 3 such starts')
      expect(await engine.parkedTasks(`ms-${outcome}`)).toEqual([expect.objectContaining({ taskId: 'a', attempt: 3 })])
      await engine.resolveParked(`ms-${outcome}`, 'a', outcome === 'retry' ? { outcome } : { outcome, output: 'done' })
      const result = await (await engine.resume(`ms-${outcome}`)).result
      expect(result.status).toBe('succeeded')
      expect(c.calls).toEqual(calls)
      expect(result.tasks['a']?.attempts).toBe(attempts)
      const entries = (await store.load(`ms-${outcome}`))?.entries ?? []
      // No attempt the journal holds is started again over it.
      expect(entries.filter((e) => e.kind === 'start' && e.taskId === 'a').map((e) => e.attempt)).toEqual([1, 2, 3])
      await engine.close()
    }
  })

  it('every uncertain task parks in the same resume, and the run goes on once each is decided', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'p8', [task('pay1', { idempotent: false, onUncertain: 'park' }), task('pay2', { idempotent: false, onUncertain: 'park' }), task('done', { dependsOn: ['pay1', 'pay2'] })], [
      { kind: 'start', taskId: 'pay1', attempt: 1 },
      { kind: 'start', taskId: 'pay2', attempt: 1 },
    ])
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false })
    const parked = await (await engine.resume('p8')).result
    expect(parked.reason).toMatch(/^parked: the outcomes of 2 tasks \("pay1", "pay2"\) are unknown/)
    expect((await engine.parkedTasks('p8')).map((one) => one.taskId)).toEqual(['pay1', 'pay2'])
    await engine.resolveParked('p8', 'pay1', { outcome: 'succeeded', output: 1 })
    const stillParked = await engine.resume('p8').catch((err: unknown) => err)
    expect(stillParked).toMatchObject({ code: 'TW_PARKED', message: expect.stringContaining('"pay2" waits') })
    await engine.resolveParked('p8', 'pay2', { outcome: 'retry' })
    const result = await (await engine.resume('p8')).result
    expect(result.status).toBe('succeeded')
    expect(c.calls).toEqual(['pay2', 'done'])
    await engine.close()
  })

  it('a resume whose park entry is committed together with an earlier failure still ends (its result, the lease given up)', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'p9', [task('x', { idempotent: false }), ...PAYMENT], [
      { kind: 'start', taskId: 'x', attempt: 1 },
      { kind: 'start', taskId: 'pay', attempt: 1 },
    ])
    const engine = createEngine({ tools: [counter().tool], store, builtins: false })
    const result = await (await engine.resume('p9')).result
    expect(result.reason).toMatch(/^parked:/)
    expect(result.tasks['x']?.error?.code).toBe('TW_UNCERTAIN')
    expect((await store.load('p9'))?.entries.map((e) => `${e.kind}:${e.taskId ?? ''}`).sort()).toEqual(['fail:x', 'park:pay', 'start:pay', 'start:x'])
    await engine.resolveParked('p9', 'pay', { outcome: 'failed' })
    await engine.close()
  })

  it('a task added by the handle or by a tool parks as its spec says (it is not run again)', async () => {
    const pay = { id: 'pay', tool: 'step', input: { id: 'pay' }, idempotent: false, onUncertain: 'park' } as const
    for (const [runId, entries] of [
      ['byHandle', [{ kind: 'add', data: JSON.stringify(pay) }, { kind: 'start', taskId: 'pay', attempt: 1 }]],
      ['byTool', [{ kind: 'ok', taskId: 'a', attempt: 1, data: '{"id":"a"}', added: JSON.stringify([pay]) }, { kind: 'start', taskId: 'pay', attempt: 1 }]],
    ] as const) {
      const store = new MemoryRunStore()
      await seed(store, runId, [task('a')], entries.map((entry) => ({ ...entry })))
      const c = counter()
      const engine = createEngine({ tools: [c.tool], store, builtins: false })
      const result = await (await engine.resume(runId)).result
      expect(c.calls).not.toContain('pay')
      expect(result.reason).toMatch(/^parked: task "pay"/)
      await engine.close()
    }
  })

  it('a park the store never wrote is not reported as one: the run ends failed with the store\'s reason, and parks again on the next resume', async () => {
    class RefusesParks extends MemoryRunStore {
      override async append(...args: Parameters<MemoryRunStore['append']>): ReturnType<MemoryRunStore['append']> {
        if (args[0].some((batch) => batch.entries.some((entry) => entry.kind === 'park'))) throw new TaskweaveError('TW_STORE', 'disk full', { retryable: false })
        return super.append(...args)
      }
    }
    const store = new RefusesParks()
    await seed(store, 'p10', PAYMENT, [{ kind: 'start', taskId: 'pay', attempt: 1 }])
    const engine = createEngine({ tools: [counter().tool], store, builtins: false })
    const parked: unknown[] = []
    engine.events.on('run:parked', (event) => void parked.push(event))
    const result = await (await engine.resume('p10')).result
    expect(parked).toEqual([])
    expect(result.status).toBe('failed')
    expect(result.reason).toMatch(/^the run store stopped this run: .*disk full.*a resume parks them again/)
    expect(await engine.parkedTasks('p10')).toEqual([])
    await engine.close()
  })

  it('a standby taking over expired runs reads a parked run once, then leaves it until a decision moves its lease on', async () => {
    const T0 = 1_800_000_000_000
    class Counting extends MemoryRunStore {
      acquires = 0
      override async acquire(...args: Parameters<MemoryRunStore['acquire']>): ReturnType<MemoryRunStore['acquire']> {
        this.acquires++
        return super.acquire(...args)
      }
    }
    const store = new Counting({ exclusive: false })
    await seed(store, 'p11', PAYMENT, [{ kind: 'start', taskId: 'pay', attempt: 1 }])
    const clock = new ManualClock(0, T0)
    const c = counter()
    const standby = createEngine({ tools: [c.tool], store, builtins: false, clock, durability: { owner: 'standby', takeOverEvery: '1s' } })
    const parked: TaskweaveEvent[] = []
    standby.events.on('run:parked', (event) => void parked.push(event))
    const settle = async (): Promise<void> => {
      for (let k = 0; k < 30; k++) await new Promise((resolve) => setImmediate(resolve))
    }
    for (let second = 0; second < 3; second++) {
      clock.advance(1_000)
      await settle()
    }
    const afterParking = store.acquires
    for (let second = 0; second < 5; second++) {
      clock.advance(1_000)
      await settle()
    }
    expect(store.acquires).toBe(afterParking)
    expect(parked).toHaveLength(1)
    // Another process records the decision: the next look resumes the run, which finishes.
    const operator = createEngine({ tools: [counter().tool], store, builtins: false, durability: { owner: 'operator' } })
    const resolution = await operator.resolveParked('p11', 'pay', { outcome: 'failed', reason: 'declined' })
    expect(resolution).toEqual({ runId: 'p11', taskId: 'pay', attempt: 1, outcome: 'failed', reason: 'declined', decidedAt: expect.any(Number), parkedBecause: expect.stringContaining('idempotent: false') })
    await operator.close()
    while ((await store.load('p11'))?.status === 'running') {
      clock.advance(1_000)
      await settle()
    }
    expect((await store.load('p11'))?.status).toBe('failed')
    await standby.close()
  })

  it('a decision written whose lease cannot be given back is still reported recorded (the lease expires); a second one at once is told to wait', async () => {
    class ReleaseFails extends MemoryRunStore {
      failReleases = false
      override async release(...args: Parameters<MemoryRunStore['release']>): ReturnType<MemoryRunStore['release']> {
        if (this.failReleases) throw new TaskweaveError('TW_STORE', 'connection reset', { retryable: true })
        return super.release(...args)
      }
    }
    const store = new ReleaseFails()
    await seed(store, 'p12', PAYMENT, [{ kind: 'start', taskId: 'pay', attempt: 1 }])
    const warnings: string[] = []
    const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (message: string) => void warnings.push(message), error: () => undefined, child: () => logger }
    const engine = createEngine({ tools: [counter().tool], store, builtins: false, logger })
    await (await engine.resume('p12')).result
    store.failReleases = true
    const first = engine.resolveParked('p12', 'pay', { outcome: 'retry' })
    const second = await engine.resolveParked('p12', 'pay', { outcome: 'failed' }).catch((err: unknown) => err)
    expect(second).toMatchObject({ code: 'TW_INVALID_STATE', retryable: true, message: 'run "p12" is being resumed, or decided, in this engine: try again once that is done' })
    expect(await first).toMatchObject({ outcome: 'retry' })
    expect(warnings).toContain('the decision is written, but the run\'s lease could not be given back; it expires by itself')
    expect((await store.load('p12'))?.entries.at(-1)).toMatchObject({ kind: 'fail', taskId: 'pay', attempt: 1 })
    store.failReleases = false
    await engine.close()
  })

  it('a succeeded decision\'s output may be as large as the task\'s tool allows', async () => {
    const big = defineTool({ name: 'big', input: z.object({}), idempotent: false, maxOutputBytes: 4 * 1024 * 1024, run: () => 'x' })
    const store = new MemoryRunStore()
    const seeder = createEngine({ tools: [big], builtins: false })
    const compiled = seeder.compile({ id: 'flow', tasks: [{ id: 'pay', tool: 'big', onUncertain: 'park' }] })
    await store.createRun({ runId: 'p13', workflowId: 'flow', workflowHash: compiled.hash, definition: compiled.snapshot, inputs: '{}', settings: '{}', createdAt: 0 }, { owner: 'dead', ttlMs: 1000, now: 0 })
    await store.append([{ runId: 'p13', epoch: 1, entries: [{ seq: 1, kind: 'start', taskId: 'pay', attempt: 1, at: 0 }] }])
    await seeder.close()
    const engine = createEngine({ tools: [big], store, builtins: false })
    await (await engine.resume('p13')).result
    await engine.resolveParked('p13', 'pay', { outcome: 'succeeded', output: 'y'.repeat(2 * 1024 * 1024) })
    const result = await (await engine.resume('p13')).result
    expect((result.tasks['pay']?.output as string).length).toBe(2 * 1024 * 1024)
    await engine.close()
  })

  it('a task a tool adds with idempotent: false runs only once its start is durable, as a declared one does', async () => {
    const adder = defineTool({
      name: 'adder',
      input: z.object({}),
      run: (_input, ctx) => {
        ctx.addTask({ id: 'pay', tool: 'step', input: { id: 'pay' }, idempotent: false })
        ctx.addTask({ id: 'free', tool: 'step', input: { id: 'free' } })
        return 'added'
      },
    })
    const store = new MemoryRunStore()
    const engine = createEngine({ tools: [adder, counter().tool], store, builtins: false })
    const result = await engine.run({ id: 'adds', tasks: [{ id: 'a', tool: 'adder' }] }, { runId: 'p14' })
    expect(result.status).toBe('succeeded')
    const kinds = (await store.load('p14'))?.entries.map((e) => `${e.kind}:${e.taskId ?? ''}`) ?? []
    // Its start was written on its own, before the tool ran; an idempotent one's goes with its outcome.
    expect(kinds.indexOf('start:pay')).toBeGreaterThan(-1)
    expect(kinds.indexOf('start:pay')).toBeLessThan(kinds.indexOf('ok:pay'))
    expect(kinds).not.toContain('start:free')
    await engine.close()
  })

  it('an independent task waiting beside the parked one starts only once the run goes on', async () => {
    const store = new MemoryRunStore()
    await seed(store, 'p6', [...PAYMENT, task('other')], [{ kind: 'start', taskId: 'pay', attempt: 1 }])
    const c = counter()
    const engine = createEngine({ tools: [c.tool], store, builtins: false })
    const parked = await (await engine.resume('p6')).result
    expect(parked.reason).toMatch(/^parked:/)
    expect(c.calls).toEqual([])
    await engine.resolveParked('p6', 'pay', { outcome: 'succeeded', output: 'ch_2' })
    const result = await (await engine.resume('p6')).result
    expect(result.status).toBe('succeeded')
    expect(c.calls.sort()).toEqual(['other', 'receipt'])
    await engine.close()
  })

  it('refuses a decision it cannot record, naming what is wrong, and writes nothing', async () => {
    const { store, engine } = await parkedPayment('p7')
    const before = (await store.load('p7'))?.entries.length
    const refused = async (call: Promise<unknown>) => call.then(() => { throw new Error('accepted') }, (err: unknown) => err as TaskweaveError)
    expect(await refused(engine.resolveParked('p7', 'receipt', { outcome: 'failed' }))).toMatchObject({ code: 'TW_INVALID_STATE', message: 'task "receipt" of run "p7" is not waiting for a decision (parked: "pay")' })
    expect(await refused(engine.resolveParked('p7', 'pay', { outcome: 'done' } as never))).toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining("decision.outcome must be 'succeeded', 'failed' or 'retry'; received \"done\"") })
    expect(await refused(engine.resolveParked('p7', 'pay', { outcome: 'failed', output: 1 } as never))).toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('unknown decision field "output"') })
    expect(await refused(engine.resolveParked('p7', 'pay', { outcome: 'succeeded', output: { n: 1n } }))).toMatchObject({ code: 'TW_OUTPUT_NOT_SERIALIZABLE' })
    expect(await refused(engine.resolveParked('nope', 'pay', { outcome: 'retry' }))).toMatchObject({ code: 'TW_STORE_NOT_FOUND' })
    expect(await refused(engine.resolveParked('p7', 'pay', { outcome: 'retry' }, { signal: AbortSignal.abort() }))).toMatchObject({ code: 'TW_CANCELLED' })
    expect((await store.load('p7'))?.entries.length).toBe(before)
    expect((await store.load('p7'))?.lease?.expiresAt ?? 0).toBeLessThanOrEqual(Date.now())
    // Decided once, it is decided: a second decision is refused.
    await engine.resolveParked('p7', 'pay', { outcome: 'retry' })
    expect(await refused(engine.resolveParked('p7', 'pay', { outcome: 'failed' }))).toMatchObject({ code: 'TW_INVALID_STATE', message: expect.stringContaining('(it has none)') })
    await engine.close()
  })
})
