import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { TaskweaveError } from '../core/errors.js'
import { sleep } from '../core/clock.js'
import { ManualClock } from '../testing/manual-clock.js'
import { defineAgent } from './define-agent.js'
import { AgentSessionPool } from './session-pool.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
async function ticks(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await tick()
}

interface Instance {
  readonly id: number
  readonly sessionId: string
  readonly seen: string[]
}

/** An agent whose executions can be held open until the test releases them, logging every step. */
function harness(options: { concurrentSafe?: boolean; failCreate?: number } = {}) {
  const log: string[] = []
  const holds = new Map<string, () => void>()
  let created = 0
  let createFailures = options.failCreate ?? 0
  let running = 0
  let maxRunning = 0
  const agent = defineAgent({
    name: 'probe',
    input: z.object({ label: z.string(), hold: z.boolean().optional() }),
    ...(options.concurrentSafe !== undefined ? { concurrentSafe: options.concurrentSafe } : {}),
    create: (sessionId): Instance => {
      if (createFailures > 0) {
        createFailures--
        throw new Error('no capacity upstream')
      }
      const instance = { id: ++created, sessionId, seen: [] }
      log.push(`create ${sessionId}#${instance.id}`)
      return instance
    },
    async execute(instance: Instance, input, ctx) {
      log.push(`start ${input.label}`)
      running++
      maxRunning = Math.max(maxRunning, running)
      try {
        instance.seen.push(input.label)
        if (input.hold === true) {
          await new Promise<void>((resolve, reject) => {
            holds.set(input.label, resolve)
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
          })
        }
        log.push(`end ${input.label}`)
        return { instance: instance.id, label: input.label, turn: instance.seen.length }
      } finally {
        running--
      }
    },
    dispose: (instance: Instance) => {
      log.push(`dispose ${instance.sessionId}#${instance.id}`)
    },
  })
  const release = async (label: string): Promise<void> => {
    for (let i = 0; i < 50 && !holds.has(label); i++) await tick()
    const resolve = holds.get(label)
    if (resolve === undefined) throw new Error(`execution "${label}" never started`)
    holds.delete(label)
    resolve()
  }
  return { agent, log, release, maxRunning: () => maxRunning }
}

describe('AgentSessionPool: instances', () => {
  it('reuses the instance of a session and creates another for another session', async () => {
    const { agent, log } = harness()
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    const a1 = await pool.execute(agent, 's1', { label: 'a1' })
    const a2 = await pool.execute(agent, 's1', { label: 'a2' })
    const b1 = await pool.execute('probe', 's2', { label: 'b1' })
    expect(a1).toEqual({ instance: 1, label: 'a1', turn: 1 })
    expect(a2).toEqual({ instance: 1, label: 'a2', turn: 2 })
    expect(b1).toMatchObject({ instance: 2, turn: 1 })
    expect(log.filter((line) => line.startsWith('create'))).toEqual(['create s1#1', 'create s2#2'])
    expect(pool.metrics().agents['probe']).toMatchObject({ executions: 3, failures: 0, instancesCreated: 2, activeInstances: 2 })
  })

  it('disposes an instance after the idle timeout on the injected clock, and recreates it on next use', async () => {
    const clock = new ManualClock()
    const { agent, log } = harness()
    await using pool = new AgentSessionPool({ agents: [agent], clock, idleTimeout: '5m' })
    await pool.execute(agent, 's1', { label: 'a1' })
    clock.advance(4 * 60_000)
    await pool.execute(agent, 's1', { label: 'a2' }) // resets the idle timer
    clock.advance(5 * 60_000 - 1)
    expect(pool.hasInstance('probe', 's1')).toBe(true)
    clock.advance(1)
    await ticks()
    expect(pool.hasInstance('probe', 's1')).toBe(false)
    expect(log).toContain('dispose s1#1')
    expect(pool.health().activeInstances).toBe(0)
    const again = await pool.execute(agent, 's1', { label: 'a3' })
    expect(again).toEqual({ instance: 2, label: 'a3', turn: 1 })
    expect(pool.metrics().agents['probe']).toMatchObject({ instancesCreated: 2, instancesDisposed: 1, instancesEvicted: 0 })
  })

  it('evicts the least recently used idle instance beyond maxInstances', async () => {
    const { agent, log } = harness()
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock(), maxInstances: 2 })
    await pool.execute(agent, 'a', { label: 'a1' })
    await pool.execute(agent, 'b', { label: 'b1' })
    await pool.execute(agent, 'a', { label: 'a2' }) // a is now the most recently used
    await pool.execute(agent, 'c', { label: 'c1' })
    expect(log).toContain('dispose b#2')
    expect(log.indexOf('dispose b#2')).toBeLessThan(log.indexOf('create c#3'))
    expect([pool.hasInstance('probe', 'a'), pool.hasInstance('probe', 'b'), pool.hasInstance('probe', 'c')]).toEqual([true, false, true])
    expect(pool.metrics().agents['probe']).toMatchObject({ instancesEvicted: 1, instancesDisposed: 1, activeInstances: 2 })
  })

  it('never evicts a busy instance: a new session waits for one to become idle', async () => {
    const { agent, log, release } = harness()
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock(), maxInstances: 1 })
    const a = pool.execute(agent, 'a', { label: 'a1', hold: true })
    await ticks()
    const b = pool.execute(agent, 'b', { label: 'b1' })
    await ticks()
    expect(log).toEqual(['create a#1', 'start a1'])
    expect(pool.health().queue.pending).toBe(1)
    await release('a1')
    await expect(b).resolves.toMatchObject({ instance: 2 })
    await a
    expect(log).toEqual(['create a#1', 'start a1', 'end a1', 'dispose a#1', 'create b#2', 'start b1', 'end b1'])
  })

  it('lets later executions of a concurrentSafe session through once it holds a place, even behind a blocked waiter', async () => {
    const { agent, release } = harness({ concurrentSafe: true })
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock(), maxInstances: 1 })
    const x1 = pool.execute(agent, 'x', { label: 'x1', hold: true })
    await ticks()
    // Queue order for a place: y1, z1, y2. When x goes idle, y takes its place; z cannot (y is busy),
    // but y2 must still run, or y would never become idle and z would wait forever.
    const y1 = pool.execute(agent, 'y', { label: 'y1' })
    const z1 = pool.execute(agent, 'z', { label: 'z1' })
    const y2 = pool.execute(agent, 'y', { label: 'y2' })
    await ticks()
    await release('x1')
    await expect(Promise.all([x1, y1, y2, z1])).resolves.toHaveLength(4)
  })

  it('lets a session waiting for an instance place give up through its signal', async () => {
    const { agent, release } = harness()
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock(), maxInstances: 1 })
    const a = pool.execute(agent, 'a', { label: 'a1', hold: true })
    const controller = new AbortController()
    const b = pool.execute(agent, 'b', { label: 'b1' }, { signal: controller.signal })
    await ticks()
    controller.abort(new Error('no longer needed'))
    await expect(b).rejects.toThrow('no longer needed')
    expect(pool.health().queue).toEqual({ pending: 0, completed: 0, failed: 1 })
    await release('a1')
    await a
  })

  it('retries creation on the next execution after create() failed', async () => {
    const { agent } = harness({ failCreate: 1 })
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    const failed = await pool.execute(agent, 's', { label: 'x' }).catch((err: unknown) => err)
    expect(TaskweaveError.is(failed, 'TW_AGENT_CREATE_FAILED')).toBe(true)
    expect((failed as Error).message).toContain('no capacity upstream')
    expect(pool.hasInstance('probe', 's')).toBe(false)
    await expect(pool.execute(agent, 's', { label: 'y' })).resolves.toMatchObject({ instance: 1 })
    expect(pool.metrics().agents['probe']).toMatchObject({ executions: 2, failures: 1, instancesCreated: 1, activeInstances: 1 })
  })
})

describe('AgentSessionPool: ordering and concurrency', () => {
  it('serializes the executions of one session in submission order', async () => {
    const { agent, log, release, maxRunning } = harness()
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    const runs = ['x1', 'x2', 'x3'].map((label) => pool.execute(agent, 's', { label, hold: true }))
    await ticks()
    expect(pool.health()).toMatchObject({ runningTasks: 1, queue: { pending: 2 } })
    for (const label of ['x1', 'x2', 'x3']) await release(label)
    const results = await Promise.all(runs)
    expect(results.map((r) => r.turn)).toEqual([1, 2, 3])
    expect(log.filter((l) => !l.startsWith('create'))).toEqual(['start x1', 'end x1', 'start x2', 'end x2', 'start x3', 'end x3'])
    expect(maxRunning()).toBe(1)
  })

  it('overlaps executions of one session when the agent is concurrentSafe', async () => {
    const { agent, log, release, maxRunning } = harness({ concurrentSafe: true })
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    const runs = ['y1', 'y2', 'y3'].map((label) => pool.execute(agent, 's', { label, hold: true }))
    await ticks()
    expect(maxRunning()).toBe(3)
    expect(log.filter((l) => l.startsWith('create'))).toEqual(['create s#1'])
    for (const label of ['y3', 'y1', 'y2']) await release(label)
    expect((await Promise.all(runs)).map((r) => r.instance)).toEqual([1, 1, 1])
  })

  it('runs different sessions in parallel, up to maxConcurrent', async () => {
    const { agent, release, maxRunning } = harness()
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock(), maxConcurrent: 2 })
    const runs = ['a', 'b', 'c'].map((session) => pool.execute(agent, session, { label: session, hold: true }))
    await ticks()
    expect(pool.health()).toMatchObject({ workerCount: 2, runningTasks: 2, queue: { pending: 1 } })
    await release('a')
    await release('b')
    await release('c')
    await Promise.all(runs)
    expect(maxRunning()).toBe(2)
  })

  it('rejects a queued execution whose signal aborts, and runs the next one', async () => {
    const { agent, log, release } = harness()
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    const first = pool.execute(agent, 's', { label: 'q1', hold: true })
    const controller = new AbortController()
    const second = pool.execute(agent, 's', { label: 'q2' }, { signal: controller.signal })
    const third = pool.execute(agent, 's', { label: 'q3' })
    controller.abort(new Error('user left'))
    await expect(second).rejects.toThrow('user left')
    await release('q1')
    await Promise.all([first, third])
    expect(log).not.toContain('start q2')
    expect(pool.health().queue).toEqual({ pending: 0, completed: 2, failed: 1 })
  })

  it('aborts a running execution through ctx.signal and rejects at once with the reason', async () => {
    const { agent, log } = harness()
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    const controller = new AbortController()
    const run = pool.execute(agent, 's', { label: 'r1', hold: true }, { signal: controller.signal })
    await ticks()
    controller.abort(new Error('stop'))
    await expect(run).rejects.toThrow('stop')
    await ticks()
    expect(log).toEqual(['create s#1', 'start r1'])
    expect(pool.metrics().agents['probe']).toMatchObject({ executions: 1, failures: 1 })
  })
})

describe('AgentSessionPool: input, errors, metrics, shutdown', () => {
  it('checks input against the agent schema and names unknown agents', async () => {
    const { agent } = harness()
    await using pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    const bad = await pool.execute('probe', 's', { label: 7 }).catch((err: unknown) => err)
    expect(TaskweaveError.is(bad, 'TW_AGENT_INPUT')).toBe(true)
    expect((bad as Error).message).toContain('label')
    const unknown = await pool.execute('nope', 's', {}).catch((err: unknown) => err)
    expect(TaskweaveError.is(unknown, 'TW_AGENT_UNKNOWN')).toBe(true)
    expect((unknown as Error).message).toContain('"probe"')
  })

  it('rejects bad options with TW_INVALID_OPTION', () => {
    const { agent } = harness()
    expect(() => new AgentSessionPool({ agents: [agent, agent] })).toThrow(/duplicate "probe"/)
    expect(() => new AgentSessionPool({ agents: [agent], maxInstances: 0 })).toThrow(/maxInstances/)
    expect(() => new AgentSessionPool({ agents: [agent], maxConcurrent: 1.5 })).toThrow(/maxConcurrent/)
    expect(() => new AgentSessionPool({ agents: [agent], idleTimeout: 'soon' as '1s' })).toThrow(/idleTimeout/)
  })

  it('measures mean execution time on the clock', async () => {
    const clock = new ManualClock()
    const slow = defineAgent({
      name: 'slow',
      create: () => ({}),
      execute: async (_instance, input: { ms: number }) => {
        await sleep(clock, input.ms)
        return input.ms
      },
    })
    await using pool = new AgentSessionPool({ agents: [slow], clock })
    await clock.runUntilSettled(pool.execute(slow, 'a', { ms: 100 }))
    await clock.runUntilSettled(pool.execute(slow, 'a', { ms: 300 }))
    expect(pool.metrics()).toEqual({
      agents: { slow: { executions: 2, failures: 0, meanDurationMs: 200, instancesCreated: 1, instancesDisposed: 0, instancesEvicted: 0, activeInstances: 1 } },
      meanDurationMs: 200,
    })
  })

  it('drains accepted executions on close, disposes every instance, and refuses new work', async () => {
    const { agent, log, release } = harness()
    const pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    await pool.execute(agent, 'idle', { label: 'i1' })
    const busy = pool.execute(agent, 'busy', { label: 'b1', hold: true })
    await ticks()
    const closing = pool.close()
    expect(pool.close()).toBe(closing)
    await ticks()
    expect(log).toContain('dispose idle#1')
    expect(pool.health()).toMatchObject({ running: false, state: 'draining' })
    await expect(pool.execute(agent, 'new', { label: 'n' })).rejects.toMatchObject({ code: 'TW_AGENT_CLOSED' })
    await release('b1')
    await closing
    await expect(busy).resolves.toMatchObject({ label: 'b1' })
    expect(log).toContain('dispose busy#2')
    expect(pool.health()).toMatchObject({ state: 'closed', activeInstances: 0 })
    expect(pool.metrics().agents['probe']).toMatchObject({ instancesCreated: 2, instancesDisposed: 2 })
  })

  it('aborts running and queued executions on close({ force: true })', async () => {
    const { agent, log } = harness()
    const pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    const running = pool.execute(agent, 's', { label: 'f1', hold: true })
    const queued = pool.execute(agent, 's', { label: 'f2' })
    await ticks()
    await pool.close({ force: true })
    await expect(running).rejects.toMatchObject({ code: 'TW_CANCELLED' })
    await expect(queued).rejects.toMatchObject({ code: 'TW_CANCELLED' })
    expect(log).toEqual(['create s#1', 'start f1', 'dispose s#1'])
  })

  it('keeps disposing the other instances when one dispose throws', async () => {
    const warnings: string[] = []
    const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {}, child: () => logger }
    let disposed = 0
    const fragile = defineAgent({
      name: 'fragile',
      create: (sessionId) => sessionId,
      execute: (id) => id,
      dispose: (id) => {
        disposed++
        if (id === 'a') throw new Error('socket already gone')
      },
    })
    const pool = new AgentSessionPool({ agents: [fragile], clock: new ManualClock(), logger })
    await pool.execute(fragile, 'a', null)
    await pool.execute(fragile, 'b', null)
    await pool.close()
    expect(disposed).toBe(2)
    expect(warnings).toEqual(['agent instance dispose failed'])
  })

  describe('close within a grace period', () => {
    const never = <T>(): Promise<T> => new Promise<T>(() => {})

    it('abandons a dispose that never settles once closeTimeout passes on the clock, and reports it', async () => {
      const clock = new ManualClock()
      const stuck = defineAgent({ name: 'stuck', create: () => ({}), execute: () => 'ok', dispose: () => never<void>() })
      const pool = new AgentSessionPool({ agents: [stuck], clock, closeTimeout: '2s' })
      await pool.execute(stuck, 's1', null)
      let done = false
      const closing = pool.close().finally(() => (done = true))
      await ticks()
      clock.advance(1999)
      await ticks()
      expect(done).toBe(false)
      clock.advance(1)
      const report = await closing
      expect(report).toEqual({ clean: false, graceMs: 2000, abandoned: [{ stage: 'dispose', agent: 'stuck', sessionId: 's1' }] })
      expect(pool.health().state).toBe('closed')
    })

    it('rejects the caller of an execution that ignores its signal with TW_AGENT_CLOSED and reports the execution', async () => {
      const clock = new ManualClock()
      const deaf = defineAgent({ name: 'deaf', create: () => ({}), execute: () => never<string>() })
      const pool = new AgentSessionPool({ agents: [deaf], clock, closeTimeout: 1000 })
      const caller = pool.execute(deaf, 's1', null).catch((err: unknown) => err)
      const queued = pool.execute(deaf, 's1', null).catch((err: unknown) => err)
      await ticks()
      const closing = pool.close()
      clock.advance(1000)
      const report = await closing
      expect(await caller).toMatchObject({ code: 'TW_AGENT_CLOSED', message: expect.stringContaining('1000 ms grace period') })
      expect(await queued).toMatchObject({ code: 'TW_AGENT_CLOSED' })
      expect(report.abandoned).toEqual([{ stage: 'execute', agent: 'deaf', sessionId: 's1', executionId: 'deaf#s1/1' }])
    })

    it('reports a create() that ignores its signal', async () => {
      const clock = new ManualClock()
      const slowStart = defineAgent({ name: 'slowStart', create: () => never<object>(), execute: () => 'ok' })
      const pool = new AgentSessionPool({ agents: [slowStart], clock, closeTimeout: 500 })
      const caller = pool.execute(slowStart, 'x', null).catch((err: unknown) => err)
      await ticks()
      const closing = pool.close()
      clock.advance(500)
      const report = await closing
      expect(await caller).toMatchObject({ code: 'TW_AGENT_CLOSED' })
      expect(report.abandoned).toEqual([{ stage: 'create', agent: 'slowStart', sessionId: 'x' }])
    })

    it('settles the callers at once on close({ force: true }) and still bounds the close', async () => {
      const clock = new ManualClock()
      const deaf = defineAgent({ name: 'deaf', create: () => ({}), execute: () => never<string>() })
      const pool = new AgentSessionPool({ agents: [deaf], clock, closeTimeout: 300 })
      const caller = pool.execute(deaf, 's1', null)
      await ticks()
      const closing = pool.close({ force: true })
      await expect(caller).rejects.toMatchObject({ code: 'TW_CANCELLED' })
      clock.advance(300)
      expect((await closing).abandoned.map((w) => w.stage)).toEqual(['execute'])
    })

    it('reports a clean close when everything settles', async () => {
      const { agent } = harness()
      const pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
      await pool.execute(agent, 's', { label: 'a' })
      await expect(pool.close()).resolves.toEqual({ clean: true, graceMs: 5000, abandoned: [] })
    })
  })

  it('runs more than 10 concurrent executions without a MaxListenersExceededWarning', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => {
      warnings.push(warning.name)
    }
    process.on('warning', onWarning)
    try {
      const { agent, release } = harness({ concurrentSafe: true })
      const pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
      const labels = Array.from({ length: 30 }, (_, i) => `w${i}`)
      // Ten run and twenty wait for a worker slot, half on one session, half on their own.
      const runs = labels.map((label, i) => pool.execute(agent, i % 2 === 0 ? 'shared' : label, { label, hold: true }))
      await ticks()
      for (const label of labels) await release(label)
      await Promise.all(runs)
      await pool.close()
      await ticks()
      expect(warnings).toEqual([])
    } finally {
      process.off('warning', onWarning)
    }
  })
})

describe('AgentSessionPool: maxQueued (the seed\'s MAX_QUEUE_SIZE)', () => {
  it('refuses a direct execution or stream with TW_QUEUE_FULL while maxQueued executions wait, and takes them again once one started', async () => {
    const releases: (() => void)[] = []
    const agent = defineAgent({
      name: 'slow',
      create: () => ({}),
      execute: () => new Promise<string>((resolve) => releases.push(() => resolve('done'))),
    })
    await using pool = new AgentSessionPool({ agents: [agent], maxConcurrent: 1, maxQueued: 2 })
    const running = pool.execute('slow', 's1', {})
    await tick()
    // One runs, two wait: the queue is full.
    const waiting = [pool.execute('slow', 's2', {}), pool.execute('slow', 's3', {})]
    await tick()
    expect(pool.health().queue.pending).toBe(2)
    const refused = await pool.execute('slow', 's4', {}).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(TaskweaveError)
    expect(refused).toMatchObject({ code: 'TW_QUEUE_FULL', retryable: true, message: expect.stringContaining('maxQueued (2)') as unknown })
    expect(() => pool.stream('slow', 's4', {})).toThrow(expect.objectContaining({ code: 'TW_QUEUE_FULL' }))
    // The first ends, the next starts: room for one more.
    releases.shift()?.()
    expect(await running).toBe('done')
    for (let k = 0; k < 5 && pool.health().queue.pending > 1; k++) await tick()
    const later = pool.execute('slow', 's5', {})
    while (releases.length > 0 || pool.health().queue.pending > 0) {
      releases.shift()?.()
      await tick()
    }
    expect(await Promise.all([...waiting, later])).toEqual(['done', 'done', 'done'])
  })

  it('never refuses what free places take at once: maxQueued 0 means no waiting, not nothing running', async () => {
    const agent = defineAgent({ name: 'quick', create: () => ({}), execute: async () => {
      await tick()
      return 'ok'
    } })
    await using pool = new AgentSessionPool({ agents: [agent], maxConcurrent: 3, maxQueued: 0 })
    const burst = [pool.execute('quick', 'a', {}), pool.execute('quick', 'b', {}), pool.execute('quick', 'c', {})]
    // The fourth would wait for a place: refused.
    expect(await pool.execute('quick', 'd', {}).catch((err: unknown) => (err as TaskweaveError).code)).toBe('TW_QUEUE_FULL')
    expect(await Promise.all(burst)).toEqual(['ok', 'ok', 'ok'])
  })

  it('is checked at construction', () => {
    const agent = defineAgent({ name: 'a', create: () => ({}), execute: () => 1 })
    expect(() => new AgentSessionPool({ agents: [agent], maxQueued: -1 })).toThrow(/option "maxQueued" must be an integer ≥ 0 or Infinity/)
  })
})
