/**
 * A run store that refuses writes for a while (read-only after a failover, a full disk, a server
 * down): durable runs pause their dispatch and go on by themselves once it takes writes again,
 * or stop, resumable, after `durability.storeOutageLimit`. Here on a store that refuses while told
 * to, on the engine's manual clock; test/stores/store-outage-real.test.ts does the same on a full
 * disk (SQLite) and a read-only database (PostgreSQL).
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, MemoryRunStore, TaskweaveError } from 'taskweave'
import type { Engine, TaskweaveEvent } from 'taskweave'
import { ManualClock } from 'taskweave/testing'

const T0 = 1_800_000_000_000

/** A store whose appends fail, as an unavailable store's do, while `down`. */
class Outage extends MemoryRunStore {
  down = false
  refused = 0
  override async append(batches: Parameters<MemoryRunStore['append']>[0]): ReturnType<MemoryRunStore['append']> {
    if (this.down) {
      this.refused++
      throw new TaskweaveError('TW_STORE', 'the database is read-only', { retryable: true })
    }
    return super.append(batches)
  }
  override async createRun(...args: Parameters<MemoryRunStore['createRun']>): ReturnType<MemoryRunStore['createRun']> {
    if (this.down) throw new TaskweaveError('TW_STORE', 'the database is read-only', { retryable: true })
    return super.createRun(...args)
  }
}

/** A tool whose calls wait until released, one by one (or aborted). */
function heldSteps() {
  const calls: string[] = []
  const waiting = new Map<string, () => void>()
  const tool = defineTool({
    name: 'step',
    input: z.object({ id: z.string() }),
    run: ({ id }, ctx) => {
      calls.push(id)
      return new Promise<string>((resolve, reject) => {
        waiting.set(id, () => resolve(id))
        ctx.signal.addEventListener('abort', () => {
          waiting.delete(id)
          reject(ctx.signal.reason)
        })
      })
    },
  })
  const release = (id: string): void => {
    const go = waiting.get(id)
    if (go === undefined) throw new Error(`step ${id} is not running`)
    waiting.delete(id)
    go()
  }
  return { tool, calls, release }
}

const four = { id: 'four', tasks: ['t1', 't2', 't3', 't4'].map((id) => ({ id, tool: 'step', input: { id } })) }

async function turns(n = 20): Promise<void> {
  for (let k = 0; k < n; k++) await new Promise((resolve) => setImmediate(resolve))
}

/** Advances the clock one timer at a time (with turns between) until `done()` or `limitMs` of clock time. */
async function advanceUntil(clock: ManualClock, done: () => boolean, limitMs = 60_000): Promise<void> {
  const end = clock.now() + limitMs
  await turns()
  while (!done()) {
    const next = clock.nextDue()
    if (next === undefined || next > end) throw new Error(`not done by clock time ${end}`)
    clock.advanceTo(next)
    await turns()
  }
}

/** The engine's `store:` events, as they come. */
function storeEvents(engine: Engine): TaskweaveEvent[] {
  const events: TaskweaveEvent[] = []
  engine.events.onAny((event) => {
    if (event.type.startsWith('store:')) events.push(event)
  })
  return events
}

describe('durable runs while the store refuses writes', () => {
  it('pause their dispatch (nothing new starts, what runs finishes) and go on by themselves once it takes writes again: every task once', async () => {
    const store = new Outage()
    const clock = new ManualClock(0, T0)
    const steps = heldSteps()
    const engine = createEngine({ tools: [steps.tool], store, clock, builtins: false, concurrency: 1 })
    const events = storeEvents(engine)
    try {
      const handle = engine.start(four, { runId: 'r1' })
      expect(await handle.saved).toBe(true)
      await advanceUntil(clock, () => steps.calls.length === 1)
      store.down = true
      steps.release('t1')
      // t2 takes the freed slot before the store is found unavailable (an outcome is kept, not lost).
      await advanceUntil(clock, () => events.length === 1)
      expect(steps.calls).toEqual(['t1', 't2'])
      expect(events[0]).toMatchObject({ type: 'store:unavailable', store: store.location, error: expect.stringContaining('read-only'), since: T0 + clock.now() })
      expect(engine.stats().store).toMatchObject({ location: store.location, available: false, error: expect.stringContaining('read-only') })
      steps.release('t2')
      // Paused: t2's slot is free, t3 is ready, and nothing starts, however long the store stays away.
      clock.advance(30_000)
      await turns(50)
      expect(steps.calls).toEqual(['t1', 't2'])
      expect(handle.taskStatus('t3')).toBe('ready')
      expect(store.refused).toBeGreaterThan(4)

      store.down = false
      await advanceUntil(clock, () => steps.calls.length === 3, 10_000)
      expect(events.map((event) => event.type)).toEqual(['store:unavailable', 'store:available'])
      expect(events[1]).toMatchObject({ type: 'store:available', store: store.location })
      expect((events[1] as { downMs: number }).downMs).toBeGreaterThanOrEqual(30_000)
      expect(engine.stats().store).toEqual({ location: store.location, available: true })
      steps.release('t3')
      await advanceUntil(clock, () => steps.calls.length === 4)
      steps.release('t4')
      const result = await clock.runUntilSettled(handle.result)
      expect(result.status).toBe('succeeded')
      expect(steps.calls).toEqual(['t1', 't2', 't3', 't4'])
      const stored = await store.load('r1')
      expect(stored?.status).toBe('succeeded')
      // Each task's outcome written once, t1's and t2's included (kept through the outage).
      expect(stored?.entries.filter((entry) => entry.kind === 'ok').map((entry) => entry.taskId)).toEqual(['t1', 't2', 't3', 't4'])
    } finally {
      store.down = false
      await engine.close()
    }
  })

  it('a paused run holds no group permit it is not using: a run without a store takes the engine-wide group place meanwhile', async () => {
    const store = new Outage()
    const clock = new ManualClock(0, T0)
    const steps = heldSteps()
    const engine = createEngine({ tools: [steps.tool], store, clock, builtins: false, groups: { llm: 1 } })
    const events = storeEvents(engine)
    try {
      // a1 holds the one llm place; a2 waits for it, then b1 (a run kept in memory) behind it.
      const durable = engine.start({ id: 'a', tasks: [{ id: 'a0', tool: 'step', input: { id: 'a0' } }, { id: 'a1', tool: 'step', input: { id: 'a1' }, group: 'llm' }, { id: 'a2', tool: 'step', input: { id: 'a2' }, group: 'llm' }] }, { runId: 'a' })
      expect(await durable.saved).toBe(true)
      await advanceUntil(clock, () => steps.calls.length === 2)
      const memory = engine.start({ id: 'b', tasks: [{ id: 'b1', tool: 'step', input: { id: 'b1' }, group: 'llm' }] }, { durable: false })
      await turns()
      expect(steps.calls).toEqual(['a0', 'a1'])
      // The store goes away: a0's outcome cannot be written, and run a pauses.
      store.down = true
      steps.release('a0')
      await advanceUntil(clock, () => events.length === 1)
      // a1 ends; the llm place it frees goes past paused a2 to b1.
      steps.release('a1')
      await turns()
      expect(steps.calls).toEqual(['a0', 'a1', 'b1'])
      expect(durable.taskStatus('a2')).toBe('ready')
      steps.release('b1')
      expect((await clock.runUntilSettled(memory.result)).status).toBe('succeeded')
      // Back: a2 takes the place again and the run ends with every task once.
      store.down = false
      await advanceUntil(clock, () => steps.calls.length === 4, 10_000)
      steps.release('a2')
      expect((await clock.runUntilSettled(durable.result)).status).toBe('succeeded')
      expect(steps.calls).toEqual(['a0', 'a1', 'b1', 'a2'])
    } finally {
      store.down = false
      await engine.close()
    }
  })

  it('a run paused with a group permit its task has not used yet (it waits for a slot) hands the permit back', async () => {
    const store = new Outage()
    const clock = new ManualClock(0, T0)
    const steps = heldSteps()
    const engine = createEngine({ tools: [steps.tool], store, clock, builtins: false, groups: { llm: 1 }, concurrency: 2 })
    const events = storeEvents(engine)
    const step = (id: string, group?: string) => ({ id, tool: 'step', input: { id }, ...(group !== undefined ? { group } : {}) })
    try {
      // Both slots busy (d0 of a durable run, c0 of a run in memory, c1 waiting for a slot); a1
      // takes the llm place and waits for a slot behind c1; b1 waits for the llm place.
      const d = engine.start({ id: 'd', tasks: [step('d0')] }, { runId: 'd' })
      expect(await d.saved).toBe(true)
      await advanceUntil(clock, () => steps.calls.length === 1)
      const c = engine.start({ id: 'c', tasks: [step('c0'), step('c1')] }, { durable: false, concurrency: 2 })
      await turns()
      const a = engine.start({ id: 'a', tasks: [step('a1', 'llm')] }, { runId: 'a' })
      expect(await a.saved).toBe(true)
      await turns()
      const b = engine.start({ id: 'b', tasks: [step('b1', 'llm')] }, { durable: false })
      await turns()
      expect(steps.calls).toEqual(['d0', 'c0'])
      // The store goes away: d0's outcome cannot be written, and the durable runs pause. c1 took d0's slot.
      store.down = true
      steps.release('d0')
      await advanceUntil(clock, () => events.length === 1)
      expect(steps.calls).toEqual(['d0', 'c0', 'c1'])
      // c0's slot goes past paused a1 to b1, which has the llm place a1 handed back.
      steps.release('c0')
      await turns()
      expect(steps.calls).toEqual(['d0', 'c0', 'c1', 'b1'])
      steps.release('c1')
      steps.release('b1')
      expect((await clock.runUntilSettled(b.result)).status).toBe('succeeded')
      expect((await clock.runUntilSettled(c.result)).status).toBe('succeeded')
      store.down = false
      await advanceUntil(clock, () => steps.calls.length === 5, 10_000)
      steps.release('a1')
      expect((await clock.runUntilSettled(a.result)).status).toBe('succeeded')
      expect((await clock.runUntilSettled(d.result)).status).toBe('succeeded')
    } finally {
      store.down = false
      await engine.close()
    }
  })

  it('stop after durability.storeOutageLimit, unfinished in the store; a resume once it is back runs only what was not written', async () => {
    const store = new Outage()
    const clock = new ManualClock(0, T0)
    const steps = heldSteps()
    const engine = createEngine({ tools: [steps.tool], store, clock, builtins: false, concurrency: 1, durability: { storeOutageLimit: '1m' } })
    try {
      const handle = engine.start(four, { runId: 'r2' })
      await advanceUntil(clock, () => steps.calls.length === 1)
      steps.release('t1')
      await advanceUntil(clock, () => steps.calls.length === 2)
      // t1's outcome is written; the store goes away while t2 runs, and t3 takes t2's slot
      // before the store is found unavailable.
      await turns()
      store.down = true
      steps.release('t2')
      await advanceUntil(clock, () => steps.calls.length === 3)
      const result = await clock.runUntilSettled(handle.result, { idleTimeoutMs: 120_000 })
      expect(result.status).toBe('failed')
      expect(result.reason).toMatch(/^the run store stopped this run: the run store \(.*\) refused writes for longer than 60 s \(durability\.storeOutageLimit\): .*read-only/)
      expect(clock.now()).toBeGreaterThanOrEqual(60_000)
      expect(steps.calls).toEqual(['t1', 't2', 't3'])
      // t2's success was never written: not reported as one.
      expect(result.tasks['t2']).toMatchObject({ status: 'failed', error: { code: 'TW_STORE' } })

      store.down = false
      const stored = await store.load('r2')
      expect(stored?.status).toBe('running')
      expect(stored?.entries.filter((entry) => entry.kind === 'ok').map((entry) => entry.taskId)).toEqual(['t1'])
      // Its lease is this engine's: an engine taking it over after it expires (or this one, at once) resumes it.
      const resumed = await engine.resume('r2')
      for (const [k, id] of ['t2', 't3', 't4'].entries()) {
        await advanceUntil(clock, () => steps.calls.length === 4 + k)
        steps.release(id)
      }
      const again = await clock.runUntilSettled(resumed.result)
      expect(again.status).toBe('succeeded')
      expect(steps.calls).toEqual(['t1', 't2', 't3', 't2', 't3', 't4'])
    } finally {
      store.down = false
      await engine.close()
    }
  })

  it('engine.close() during an outage does not wait for the store: the run is suspended, resumable, and close resolves on the spot', async () => {
    const store = new Outage()
    const clock = new ManualClock(0, T0)
    const steps = heldSteps()
    const engine = createEngine({ tools: [steps.tool], store, clock, builtins: false, concurrency: 1 })
    const handle = engine.start(four, { runId: 'r3' })
    await advanceUntil(clock, () => steps.calls.length === 1)
    store.down = true
    steps.release('t1')
    let unavailable = false
    engine.events.on('store:unavailable', () => (unavailable = true))
    await advanceUntil(clock, () => unavailable)
    const timeBefore = clock.now()
    let closed = false
    const closing = engine.close().then((report) => {
      closed = true
      return report
    })
    await turns(50)
    // Resolved without the clock moving: neither the outage limit nor a retry's delay was waited for.
    expect(closed).toBe(true)
    expect(clock.now()).toBe(timeBefore)
    await closing
    expect((await handle.result).status).toBe('cancelled')
    store.down = false
    expect((await store.load('r3'))?.status).toBe('running')
  })

  it('review defects: a refusal the store calls final during an outage lets the other paused runs go on; after the limit, the engine no longer says the store is unavailable', async () => {
    /** Refuses while down; the next refusal, once set, is final (not "try later"). */
    class Outage2 extends Outage {
      finalNext = false
      override async append(batches: Parameters<MemoryRunStore['append']>[0]): ReturnType<MemoryRunStore['append']> {
        if (this.finalNext) {
          this.finalNext = false
          throw new TaskweaveError('TW_STORE', 'a constraint failed', { retryable: false })
        }
        return super.append(batches)
      }
    }
    const store = new Outage2()
    const clock = new ManualClock(0, T0)
    const steps = heldSteps()
    const engine = createEngine({ tools: [steps.tool], store, clock, builtins: false, concurrency: 4 })
    try {
      const a = engine.start({ id: 'a', tasks: [{ id: 'a1', tool: 'step', input: { id: 'a1' } }] }, { runId: 'A' })
      const b = engine.start({ id: 'b', tasks: [{ id: 'b1', tool: 'step', input: { id: 'b1' } }, { id: 'b2', tool: 'step', input: { id: 'b2' }, dependsOn: ['b1'] }] }, { runId: 'B' })
      await advanceUntil(clock, () => steps.calls.length === 2)
      let unavailable = false
      engine.events.on('store:unavailable', () => (unavailable = true))
      store.down = true
      // A's outcome meets the outage; B (its first task still running) waits paused with it.
      steps.release('a1')
      await advanceUntil(clock, () => unavailable)
      steps.release('b1')
      await turns()
      // The store comes back, answering A's batch with a final refusal: A fails; B goes on.
      store.down = false
      store.finalNext = true
      expect((await clock.runUntilSettled(a.result)).status).toBe('failed')
      await advanceUntil(clock, () => steps.calls.includes('b2'), 10_000)
      steps.release('b2')
      expect((await clock.runUntilSettled(b.result)).status).toBe('succeeded')
      expect(engine.stats().store?.available).toBe(true)
    } finally {
      await engine.close()
    }

    const store2 = new Outage()
    const clock2 = new ManualClock(0, T0)
    const steps2 = heldSteps()
    const engine2 = createEngine({ tools: [steps2.tool], store: store2, clock: clock2, builtins: false, durability: { storeOutageLimit: '5s' } })
    try {
      const c = engine2.start({ id: 'c', tasks: [{ id: 'c1', tool: 'step', input: { id: 'c1' } }] }, { runId: 'C' })
      await advanceUntil(clock2, () => steps2.calls.length === 1)
      store2.down = true
      steps2.release('c1')
      expect((await clock2.runUntilSettled(c.result, { idleTimeoutMs: 60_000 })).status).toBe('failed')
      // Every run that waited stopped: nothing tries the store, so nothing says it is down for good.
      expect(engine2.stats().store).toEqual({ location: store2.location, available: true })
    } finally {
      store2.down = false
      await engine2.close()
    }
  })

  it('a run started during an outage is refused at once, saying why; the limit is checked where given', async () => {
    const store = new Outage()
    const clock = new ManualClock(0, T0)
    const steps = heldSteps()
    const engine = createEngine({ tools: [steps.tool], store, clock, builtins: false })
    try {
      store.down = true
      // A store that refuses writes refuses a new run too: the run fails at once, saying so.
      const handle = engine.start(four, { runId: 'r4' })
      expect(await handle.saved).toBe(false)
      expect((await handle.result).reason).toMatch(/read-only/)
      expect(steps.calls).toEqual([])
    } finally {
      store.down = false
      await engine.close()
    }
    for (const bad of [-1, 'soon', Number.NaN]) {
      expect(() => createEngine({ store: new MemoryRunStore(), durability: { storeOutageLimit: bad as never } })).toThrow(/durability\.storeOutageLimit/)
    }
    expect(() => createEngine({ store: new MemoryRunStore(), durability: { storeOutageLimit: Infinity } })).not.toThrow()
  })
})
