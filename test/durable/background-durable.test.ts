import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineStateMachine, defineTool, DONE, MemoryRunStore } from 'taskweave'
import type { Logger } from 'taskweave'
import { ManualClock } from 'taskweave/testing'
import { inAnotherProcess } from '../helpers.js'

const never = (): Promise<never> => new Promise(() => undefined)
const ticks = async (n = 10): Promise<void> => {
  for (let k = 0; k < n; k++) await new Promise((resolve) => setImmediate(resolve))
}

function toolsWith(hold: { value: boolean }) {
  const calls: string[] = []
  const step = defineTool({
    name: 'step',
    input: z.object({ id: z.string() }),
    run: async ({ id }) => {
      calls.push(id)
      if (hold.value && id === 'b') await never()
      return id
    },
  })
  return { step, calls }
}

const flow = { id: 'bg-flow', tasks: [{ id: 'a', tool: 'step', input: { id: 'a' } }, { id: 'b', tool: 'step', input: { id: 'b' }, dependsOn: ['a'] }] }

describe('background work in a durable engine', () => {
  it('a workflow under a conversation comes back under it after a restart, finished tasks not run again', async () => {
    const store = new MemoryRunStore()
    const first = toolsWith({ value: true })
    const engine1 = createEngine({ tools: [first.step], store: inAnotherProcess(store), builtins: false })
    const id = engine1.background.submit({ conversationId: 'conv-1', name: 'research', run: flow })
    await ticks()
    expect(first.calls).toEqual(['a', 'b'])
    // The process "dies" here. Another engine on the same store takes the conversation's work over.
    const second = toolsWith({ value: false })
    const engine2 = createEngine({ tools: [second.step], store, builtins: false })
    expect(await engine2.background.recover()).toEqual({ workflows: 1, stateMachines: 0, lost: 0 })
    const outcome = await engine2.background.result(id)
    expect(outcome).toMatchObject({ taskId: id, conversationId: 'conv-1', kind: 'workflow', status: 'succeeded' })
    expect(second.calls).toEqual(['b'])
    expect(engine2.background.list('conv-1').map((task) => task.taskId)).toEqual([id])
    expect(engine2.background.drainInbox('conv-1').map((o) => o.taskId)).toEqual([id])
    // A new submit does not reuse the recovered id.
    expect(engine2.background.submit({ conversationId: 'conv-1', name: 'research', run: () => 1 })).not.toBe(id)
    await engine2.close()
    await engine1.close()
  })

  it('a task submitted before recover() whose id ends in the same number as a recovered one: both are found by id', async () => {
    const store = new MemoryRunStore()
    const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false })
    const old = engine1.background.submit({ conversationId: 'conv-a', name: 'slow', run: never })
    await ticks()
    const engine2 = createEngine({ store, builtins: false })
    const fresh = engine2.background.submit({ conversationId: 'conv-b', name: 'wait', run: never })
    expect(fresh.split(':').at(-1)).toBe(old.split(':').at(-1))
    expect(await engine2.background.recover()).toEqual({ workflows: 0, stateMachines: 0, lost: 1 })
    expect(engine2.background.status(old)).toMatchObject({ taskId: old, status: 'failed' })
    expect(engine2.background.status(fresh)).toMatchObject({ taskId: fresh, status: 'running' })
    expect(engine2.background.cancel(fresh)).toBe(true)
    expect((await engine2.background.result(fresh))?.status).toBe('cancelled')
    expect((await engine2.background.result(old))?.error?.code).toBe('TW_LOST')
    expect(engine2.background.stats().tasks).toBe(2)
    const next = engine2.background.submit({ conversationId: 'conv-c', name: 'fn', run: () => 3 })
    expect((await engine2.background.result(next))?.value).toBe(3)
    await engine2.close()
    await engine1.close()
  })

  it('stored work whose taskId a task submitted before recover() took is ended in the store, not left running for ever', async () => {
    const store = new MemoryRunStore()
    const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false })
    engine1.background.submit({ conversationId: 'conv', name: 'my_task', taskId: 'conv:my_task', run: never })
    await ticks()
    const engine2 = createEngine({ store, builtins: false })
    // The app submits its fixed id again at start-up, then recovers.
    const fresh = engine2.background.submit({ conversationId: 'conv', name: 'my_task', taskId: 'conv:my_task', run: () => 'new' })
    expect(await engine2.background.recover()).toEqual({ workflows: 0, stateMachines: 0, lost: 1 })
    expect((await engine2.background.result(fresh))?.value).toBe('new')
    await ticks()
    const stored = await store.list({ labels: { conversation: 'conv' } })
    expect(stored.map((run) => run.status).sort()).toEqual(['failed', 'succeeded'])
    // A third process finds nothing left to recover.
    const engine3 = createEngine({ store, builtins: false })
    expect(await engine3.background.recover()).toEqual({ workflows: 0, stateMachines: 0, lost: 0 })
    await engine3.close()
    await engine2.close()
    await engine1.close()
  })

  it('a function that was running is reported lost; one that finished is recorded as finished', async () => {
    const store = new MemoryRunStore()
    const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false })
    const done = engine1.background.submit({ conversationId: 'conv-2', name: 'quick', run: () => 42 })
    const lost = engine1.background.submit({ conversationId: 'conv-2', name: 'slow', run: never })
    expect((await engine1.background.result(done))?.value).toBe(42)
    await ticks()
    const kept = await store.list({ labels: { conversation: 'conv-2' } })
    expect(kept.map((run) => `${run.labels['backgroundName']}:${run.status}`).sort()).toEqual(['quick:succeeded', 'slow:running'])
    const engine2 = createEngine({ store, builtins: false })
    expect(await engine2.background.recover()).toEqual({ workflows: 0, stateMachines: 0, lost: 1 })
    const outcome = await engine2.background.result(lost)
    expect(outcome).toMatchObject({ status: 'failed', kind: 'function', error: { code: 'TW_LOST' } })
    expect(outcome?.error?.message).toContain('a function cannot be resumed')
    await ticks()
    expect((await store.list({ labels: { conversation: 'conv-2', backgroundName: 'slow' } }))[0]?.status).toBe('failed')
    await engine2.close()
    await engine1.close()
  })

  it('recovered work holds its maxConcurrent place: new work waits for it', async () => {
    const hanging = defineStateMachine({ name: 'hang', initial: 'wait', context: {}, states: { wait: { run: () => never() } } })
    const store = new MemoryRunStore()
    const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false, background: { maxConcurrent: 1 } })
    const old = engine1.background.submit({ conversationId: 'conv-p', name: 'fsm', run: hanging })
    await ticks()
    const engine2 = createEngine({ store, builtins: false, background: { maxConcurrent: 1 } })
    expect(await engine2.background.recover({ machines: [hanging] })).toMatchObject({ stateMachines: 1 })
    const fresh = engine2.background.submit({ conversationId: 'conv-p', name: 'fn', run: () => 'done' })
    await ticks()
    expect(engine2.background.status(old)).toMatchObject({ status: 'running' })
    expect(engine2.background.status(fresh)).toMatchObject({ status: 'pending' })
    expect(engine2.background.cancel(old)).toBe(true)
    expect(await engine2.background.result(fresh)).toMatchObject({ status: 'succeeded', value: 'done' })
    await engine2.close()
    await engine1.close()
  })

  it('work still waiting for a place when its process stopped comes back too: a machine restarts, a function or a workflow is reported lost', async () => {
    const hanging = defineStateMachine({ name: 'hang', initial: 'wait', context: {}, states: { wait: { run: () => never() } } })
    const quick = defineStateMachine({ name: 'quick', initial: 'go', context: { n: 1 }, states: { go: { run: () => DONE } } })
    const store = new MemoryRunStore()
    const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false, background: { maxConcurrent: 1 } })
    const running = engine1.background.submit({ conversationId: 'conv-q', name: 'hang', run: hanging })
    const queuedMachine = engine1.background.submit({ conversationId: 'conv-q', name: 'quick', run: quick })
    const queuedFunction = engine1.background.submit({ conversationId: 'conv-q', name: 'fn', run: () => 'never ran' })
    const queuedFlow = engine1.background.submit({ conversationId: 'conv-q', name: 'flow', run: flow })
    await ticks()
    expect(engine1.background.status(queuedFunction)).toMatchObject({ status: 'pending' })
    const engine2 = createEngine({ store, builtins: false })
    expect(await engine2.background.recover({ machines: [hanging, quick] })).toEqual({ workflows: 0, stateMachines: 2, lost: 2 })
    expect(engine2.background.status(running)).toMatchObject({ status: 'running' })
    expect(await engine2.background.result(queuedMachine)).toMatchObject({ status: 'succeeded' })
    for (const id of [queuedFunction, queuedFlow]) expect(await engine2.background.result(id)).toMatchObject({ status: 'failed', error: { code: 'TW_LOST', message: expect.stringContaining('waiting for a place') } })
    await engine2.close()
    await engine1.close()
  })

  it('a machine that was still waiting for its place comes back waiting: recovered work stays within maxConcurrent', async () => {
    const hanging = defineStateMachine({ name: 'hang', initial: 'wait', context: {}, states: { wait: { run: () => never() } } })
    const store = new MemoryRunStore()
    const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false, background: { maxConcurrent: 1 } })
    const first = engine1.background.submit({ conversationId: 'conv-w', name: 'first', run: hanging })
    const second = engine1.background.submit({ conversationId: 'conv-w', name: 'second', run: hanging, timeout: '1h' })
    await ticks()
    expect(engine1.background.status(second)).toMatchObject({ status: 'pending' })
    const engine2 = createEngine({ store, builtins: false, background: { maxConcurrent: 1 } })
    expect(await engine2.background.recover({ machines: [hanging] })).toMatchObject({ stateMachines: 2 })
    await ticks()
    expect(engine2.background.status(first)).toMatchObject({ status: 'running' })
    expect(engine2.background.status(second)).toMatchObject({ status: 'pending' })
    expect(engine2.background.cancel(first)).toBe(true)
    await ticks()
    expect(engine2.background.status(second)).toMatchObject({ status: 'running' })
    // It started here: a third process finds it running (it holds its place), not waiting.
    await ticks(20)
    const engine3 = createEngine({ store: inAnotherProcess(store), builtins: false, background: { maxConcurrent: 1 } })
    const fresh = engine3.background.submit({ conversationId: 'conv-w', name: 'fresh', run: hanging })
    await ticks()
    expect(await engine3.background.recover({ machines: [hanging] })).toMatchObject({ stateMachines: 1 })
    expect(engine3.background.status(second)).toMatchObject({ status: 'running' })
    expect(engine3.background.status(fresh)).toMatchObject({ status: 'running' })
    await engine3.close()
    await engine2.close()
    await engine1.close()
  })

  it('recover() leaves this engine\'s own live work alone: its records and runs finish as they end, nothing is taken over', async () => {
    const store = new MemoryRunStore()
    const engine = createEngine({ tools: [toolsWith({ value: false }).step], store, builtins: false, background: { maxConcurrent: 4 } })
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const fn = engine.background.submit({ conversationId: 'conv-own', name: 'fn', run: async () => (await gate, 42) })
    const wf = engine.background.submit({ conversationId: 'conv-own', name: 'wf', run: flow })
    await ticks()
    expect(await engine.background.recover()).toEqual({ workflows: 0, stateMachines: 0, lost: 0 })
    release()
    expect(await engine.background.result(fn)).toMatchObject({ status: 'succeeded', value: 42 })
    expect(await engine.background.result(wf)).toMatchObject({ status: 'succeeded' })
    await ticks(20)
    for (const run of await store.list({ labels: { conversation: 'conv-own' } })) expect(run.status).toBe('succeeded')
    await engine.close()
  })

  it('a restart under the same configured owner name recovers what its earlier process left (the name is not taken for this engine\'s own live work)', async () => {
    const hanging = defineStateMachine({ name: 'hang', initial: 'wait', context: {}, states: { wait: { run: () => never() } } })
    const store = new MemoryRunStore()
    const before = createEngine({ store: inAnotherProcess(store), builtins: false, durability: { owner: 'svc-0' } })
    const id = before.background.submit({ conversationId: 'conv-same', name: 'fsm', run: hanging })
    await ticks()
    const after = createEngine({ store, builtins: false, durability: { owner: 'svc-0' } })
    expect(await after.background.recover({ machines: [hanging] })).toMatchObject({ stateMachines: 1 })
    expect(after.background.status(id)).toMatchObject({ status: 'running' })
    await after.close()
    await before.close()
  })

  it('a machine that waited for a place and then started keeps its deadline after a crash; recovered waiting work keeps its order and priority', async () => {
    const T0 = 1_800_000_000_000
    const hanging = defineStateMachine({ name: 'hang', initial: 'wait', context: {}, states: { wait: { run: () => never() } } })
    const order: string[] = []
    const quick = defineStateMachine({ name: 'quick', initial: 'go', context: { n: '' }, states: { go: { run: ({ context }) => (order.push(context.n), DONE) } } })
    const store = new MemoryRunStore()
    const clock1 = new ManualClock(0, T0)
    const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false, clock: clock1, background: { maxConcurrent: 1 } })
    const first = engine1.background.submit({ conversationId: 'conv-o', name: 'first', run: hanging })
    const timed = engine1.background.submit({ conversationId: 'conv-o', name: 'timed', run: hanging, timeout: '5s', priority: 20 })
    for (const [n, priority] of [['q1', 0], ['q2', 0], ['urgent', 10]] as const) {
      clock1.advance(10)
      engine1.background.submit({ conversationId: 'conv-o', name: n, run: quick, context: { n }, priority })
    }
    await ticks()
    engine1.background.cancel(first)
    await ticks(20)
    // "timed" started at T0 + 30 ms: its deadline is 5 s later, and it is recorded with its start.
    expect(engine1.background.status(timed)).toMatchObject({ status: 'running' })
    const clock2 = new ManualClock(0, T0 + 4_000)
    const engine2 = createEngine({ store, builtins: false, clock: clock2, background: { maxConcurrent: 1 } })
    expect(await engine2.background.recover({ machines: [hanging, quick] })).toMatchObject({ stateMachines: 4 })
    clock2.advance(1_100)
    await ticks()
    expect(await engine2.background.result(timed)).toMatchObject({ status: 'timed_out' })
    await ticks(20)
    expect(order).toEqual(['urgent', 'q1', 'q2'])
    await engine2.close()
    await engine1.close()
  })

  it('recovered after the wall clock went back 2 h, a machine keeps at most its own timeout (5 s), not 2 h more', async () => {
    const T0 = 1_800_000_000_000
    const hanging = defineStateMachine({ name: 'hang', initial: 'wait', context: {}, states: { wait: { run: () => never() } } })
    const store = new MemoryRunStore()
    const clock1 = new ManualClock(0, T0)
    const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false, clock: clock1 })
    const timed = engine1.background.submit({ conversationId: 'conv-j', name: 'timed', run: hanging, timeout: '5s' })
    await ticks()
    const clock2 = new ManualClock(0, T0 - 2 * 3_600_000)
    const engine2 = createEngine({ store, builtins: false, clock: clock2 })
    expect(await engine2.background.recover({ machines: [hanging] })).toMatchObject({ stateMachines: 1 })
    clock2.advance(5_100)
    await ticks()
    expect(await engine2.background.result(timed)).toMatchObject({ status: 'timed_out' })
    await engine2.close()
    await engine1.close()
  })

  it('engine.close() waits for a record still being made, and writes how its work ended', async () => {
    class SlowCreate extends MemoryRunStore {
      open: () => void = () => undefined
      gate: Promise<void> = new Promise((resolve) => (this.open = resolve))
      override async createRun(...args: Parameters<MemoryRunStore['createRun']>): ReturnType<MemoryRunStore['createRun']> {
        await this.gate
        return super.createRun(...args)
      }
    }
    const store = new SlowCreate()
    const engine = createEngine({ store, builtins: false })
    engine.background.submit({ conversationId: 'conv-slow', name: 'fn', run: () => never() })
    await ticks()
    const closing = engine.close()
    await ticks()
    // The record is made only now, while the engine closes.
    store.open()
    await closing
    const records = await store.list({ labels: { conversation: 'conv-slow' } })
    expect(records.map((run) => run.status)).toEqual(['cancelled'])
  })

  it('work whose record another process took over (its leases could not be renewed) stops here, cancelled TW_LEASE_LOST, with a warning', async () => {
    const T0 = 1_800_000_000_000
    const store = new MemoryRunStore({ exclusive: false })
    let outage = false
    class Flaky extends MemoryRunStore {
      override renew(...args: Parameters<MemoryRunStore['renew']>): ReturnType<MemoryRunStore['renew']> {
        return outage ? Promise.reject(new Error('connection refused')) : store.renew(...args)
      }
    }
    const flaky = new Flaky({ exclusive: false })
    for (const method of ['createRun', 'acquire', 'release', 'append', 'load', 'list', 'prune'] as const) (flaky as unknown as Record<string, unknown>)[method] = (store[method] as (...args: unknown[]) => unknown).bind(store)
    const warnings: string[] = []
    const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (message: string) => void warnings.push(message), error: () => undefined, child: () => logger }
    const clock = new ManualClock(0, T0)
    const a = createEngine({ store: flaky, builtins: false, clock, logger, durability: { owner: 'A', leaseTtlMs: 3_000 } })
    let aborted: unknown
    const id = a.background.submit({ conversationId: 'conv-f', name: 'fn', run: (ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject((aborted = ctx.signal.reason)))) })
    await ticks()
    outage = true
    for (let second = 1; second <= 5; second++) {
      clock.advance(1_000)
      await ticks()
    }
    outage = false
    const b = createEngine({ store, builtins: false, clock, durability: { owner: 'B', leaseTtlMs: 3_000 } })
    expect(await b.background.recover()).toMatchObject({ lost: 1 })
    for (let second = 1; second <= 5 && a.background.status(id)?.status === 'running'; second++) {
      clock.advance(1_000)
      await ticks()
    }
    expect(a.background.status(id)).toMatchObject({ status: 'cancelled' })
    expect(await a.background.result(id)).toMatchObject({ error: { code: 'TW_LEASE_LOST' } })
    expect(aborted).toMatchObject({ code: 'TW_LEASE_LOST' })
    expect(warnings).toContain('a background task lost its record in the run store; it stops here')
    await b.close()
    await a.close()
  })

  it('a live process keeps its records: their leases are renewed, so another process sharing the store recovers nothing of it', async () => {
    const T0 = 1_800_000_000_000
    const store = new MemoryRunStore({ exclusive: false })
    const clock = new ManualClock(0, T0)
    const live = createEngine({ store, builtins: false, clock, durability: { owner: 'live', leaseTtlMs: 3_000 }, background: { maxConcurrent: 1 } })
    const working = live.background.submit({ conversationId: 'conv-l', name: 'fn', run: () => never() })
    await ticks()
    for (let second = 1; second <= 10; second++) {
      clock.advance(1_000)
      await ticks()
    }
    const other = createEngine({ store, builtins: false, clock, durability: { owner: 'other', leaseTtlMs: 3_000 } })
    expect(await other.background.recover()).toEqual({ workflows: 0, stateMachines: 0, lost: 0 })
    expect(live.background.status(working)).toMatchObject({ status: 'running' })
    await other.close()
    await live.close()
  })

  it('a state machine restarts from its initial context when its definition is given, and is lost otherwise', async () => {
    const machine = (hang: boolean) =>
      defineStateMachine({
        name: 'counter',
        initial: 'count',
        context: { n: 0 },
        states: { count: { run: async ({ context }) => (hang ? never() : { next: 'end', context: { n: context.n + 1 } }) }, end: { run: () => DONE } },
      })
    for (const given of [true, false]) {
      const store = new MemoryRunStore()
      const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false })
      const id = engine1.background.submit({ conversationId: 'conv-3', name: 'fsm', run: machine(true), context: { n: 5 } })
      await ticks()
      const engine2 = createEngine({ store, builtins: false })
      const summary = await engine2.background.recover(given ? { machines: [machine(false)] } : {})
      expect(summary).toEqual(given ? { workflows: 0, stateMachines: 1, lost: 0 } : { workflows: 0, stateMachines: 0, lost: 1 })
      const outcome = await engine2.background.result(id)
      if (given) expect(outcome).toMatchObject({ status: 'succeeded', value: { context: { n: 6 } } })
      else expect(outcome).toMatchObject({ status: 'failed', error: { code: 'TW_LOST' } })
      await engine2.close()
      await engine1.close()
    }
  })

  it('endConversation removes the conversation\'s records from the store; other conversations keep theirs', async () => {
    const store = new MemoryRunStore()
    const t = toolsWith({ value: false })
    const engine = createEngine({ tools: [t.step], store, builtins: false })
    const a = engine.background.submit({ conversationId: 'conv-4', name: 'flow', run: flow })
    engine.background.submit({ conversationId: 'conv-4', name: 'fn', run: () => 'x' })
    engine.background.submit({ conversationId: 'conv-4', name: 'hang', run: never })
    const other = engine.background.submit({ conversationId: 'conv-5', name: 'fn', run: () => 'y' })
    await engine.background.result(a)
    await engine.background.result(other)
    await ticks()
    expect((await store.list({ labels: { conversation: 'conv-4' } })).length).toBe(3)
    expect(engine.background.endConversation('conv-4')).toEqual({ cancelled: 1, removed: 3 })
    await ticks(20)
    expect(await store.list({ labels: { conversation: 'conv-4' } })).toEqual([])
    expect((await store.list({ labels: { conversation: 'conv-5' } })).length).toBe(1)
    await engine.close()
  })

  it('durable: false keeps a task out of the store', async () => {
    const store = new MemoryRunStore()
    const engine = createEngine({ store, builtins: false })
    await engine.background.result(engine.background.submit({ conversationId: 'conv-6', name: 'fn', run: () => 1, durable: false }))
    await ticks()
    expect(await store.list()).toEqual([])
    await engine.close()
  })
})

describe('background state machines after a restart, with resumeOnStart', () => {
  it('come back when the engine lists them (background.machines), once each, even with an explicit recover() overlapping the automatic one', async () => {
    const store = new MemoryRunStore()
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    const machine = defineStateMachine({ name: 'verify', initial: 'a', context: { n: 1 }, states: { a: { run: async () => (await gate, DONE) } } })
    const crashed = createEngine({ store: inAnotherProcess(store), builtins: false })
    const id = crashed.background.submit({ conversationId: 'conv', name: 'verify', run: machine })
    await ticks(20)
    // The first process "crashes": it is never closed; a second one starts on the same store.
    const seen: string[] = []
    const engine = createEngine({ store, builtins: false, durability: { resumeOnStart: true }, background: { machines: [machine], onComplete: (o) => void seen.push(`${o.taskId} ${o.status}`) } })
    await new Promise((resolve) => setImmediate(resolve))
    const explicit = await engine.background.recover({ machines: [machine] })
    expect(explicit).toEqual({ workflows: 0, stateMachines: 0, lost: 0 })
    release()
    expect((await engine.background.result(id))?.status).toBe('succeeded')
    expect(seen).toEqual([`${id} succeeded`])
    expect(engine.background.list('conv').map((t) => t.status)).toEqual(['succeeded'])
    await engine.close()
  })
})

describe('a background state machine on an engine with a store', () => {
  it('whose context is not JSON is refused at submit, naming the context and the way out (durable: false)', async () => {
    const engine = createEngine({ store: new MemoryRunStore(), builtins: false })
    const machine = defineStateMachine({ name: 'm', initial: 'a', context: { amount: 10n }, states: { a: { run: () => DONE } } })
    expect(() => engine.background.submit({ conversationId: 'c', name: 'm', run: machine })).toThrow(/option "context" must be JSON data, since the engine's run store keeps a state machine's context \(Do not know how to serialize a BigInt\); or submit with durable: false/)
    const id = engine.background.submit({ conversationId: 'c', name: 'm', run: machine, durable: false })
    expect((await engine.background.result(id))?.status).toBe('succeeded')
    await engine.close()
  })
})

describe('a recovered background task', () => {
  it('keeps the deadline its timeout gave it (what is left of it), and times out then', async () => {
    const { ManualClock } = await import('taskweave/testing')
    const store = new MemoryRunStore()
    const waits = defineStateMachine({
      name: 'waits',
      initial: 'a',
      context: {},
      states: { a: { run: ({ signal }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))) } },
    })
    const first = new ManualClock(0, 1_000_000)
    const crashed = createEngine({ store: inAnotherProcess(store), builtins: false, clock: first })
    const id = crashed.background.submit({ conversationId: 'c', name: 'waits', run: waits, timeout: '300ms' })
    await ticks(20)
    // The process dies 50 ms in; another starts on the store and takes the machine back.
    const clock = new ManualClock(0, 1_000_050)
    const engine = createEngine({ store, builtins: false, clock })
    expect(await engine.background.recover({ machines: [waits] })).toEqual({ workflows: 0, stateMachines: 1, lost: 0 })
    clock.advance(249)
    await ticks(20)
    expect(engine.background.status(id)?.status).toBe('running')
    clock.advance(1)
    await ticks(20)
    expect((await engine.background.result(id))?.status).toBe('timed_out')
    await engine.close()
  })
})
