import { describe, expect, it } from 'vitest'
import { TerminalError } from '../core/errors.js'
import { ManualClock } from '../testing/manual-clock.js'
import { DONE, defineStateMachine } from './define.js'
import type { StateContext } from './define.js'
import { runStateMachine } from './run.js'

describe('runStateMachine', () => {
  it('records every transition with its time and duration on the clock', async () => {
    const clock = new ManualClock(1000)
    const initial = { user_data: 'example', steps: [] as string[] }
    const machine = defineStateMachine({
      initial: 'initial_state',
      context: initial,
      states: {
        initial_state: {
          run: async (ctx) => {
            await ctx.sleep(100)
            return { next: 'processing_state', context: { ...ctx.context, steps: [...ctx.context.steps, 'initial'] } }
          },
        },
        processing_state: {
          run: async (ctx) => {
            await ctx.sleep('250ms')
            return { next: 'final_state', context: { ...ctx.context, steps: [...ctx.context.steps, 'processing'] } }
          },
        },
        final_state: { run: () => DONE },
      },
    })
    const result = await clock.runUntilSettled(runStateMachine(machine, { clock }))
    expect(result).toMatchObject({ status: 'succeeded', finalState: 'final_state', startedAt: 1000, finishedAt: 1350, durationMs: 350 })
    expect(result.context).toEqual({ user_data: 'example', steps: ['initial', 'processing'] })
    expect(initial.steps).toEqual([]) // immutable updates: the caller's object is untouched
    expect(result.transitions).toEqual([
      { from: 'initial_state', to: 'processing_state', at: 1100, durationMs: 100, attempts: 1 },
      { from: 'processing_state', to: 'final_state', at: 1350, durationMs: 250, attempts: 1 },
      { from: 'final_state', to: null, at: 1350, durationMs: 0, attempts: 1 },
    ])
    expect(result.error).toBeUndefined()
  })

  it('gives each state its name, the context, the attempt and the transitions so far', async () => {
    const seen: Omit<StateContext<{ n: number }, string>, 'signal' | 'sleep'>[] = []
    const record = (ctx: StateContext<{ n: number }, string>): void => {
      seen.push({ state: ctx.state, context: ctx.context, attempt: ctx.attempt, transitions: ctx.transitions })
    }
    const machine = defineStateMachine({
      initial: 'a',
      context: { n: 0 },
      states: {
        a: { run: (ctx) => (record(ctx), { next: 'b', context: { n: ctx.context.n + 1 } }) },
        b: { run: (ctx) => (record(ctx), DONE) },
      },
    })
    const result = await runStateMachine(machine, { clock: new ManualClock() })
    expect(seen).toEqual([
      { state: 'a', context: { n: 0 }, attempt: 1, transitions: [] },
      { state: 'b', context: { n: 1 }, attempt: 1, transitions: [result.transitions[0]] },
    ])
  })

  it('finishes with a new context through { next: DONE, context }, and runs from a given context', async () => {
    const machine = defineStateMachine({ initial: 'only', context: { v: 1 }, states: { only: { run: ({ context }) => ({ next: DONE, context: { v: context.v * 10 } }) } } })
    expect((await runStateMachine(machine)).context).toEqual({ v: 10 })
    expect((await runStateMachine(machine, { context: { v: 7 } })).context).toEqual({ v: 70 })
  })

  it('retries a throwing state with its delay, then moves on', async () => {
    const clock = new ManualClock()
    let calls = 0
    const machine = defineStateMachine({
      initial: 'flaky',
      context: {},
      states: {
        flaky: {
          retry: { maxAttempts: 3, delay: '1s' },
          run: ({ attempt }) => {
            calls++
            if (attempt < 3) throw new Error(`boom ${attempt}`)
            return 'next'
          },
        },
        next: { run: () => DONE },
      },
    })
    const result = await clock.runUntilSettled(runStateMachine(machine, { clock }))
    expect(calls).toBe(3)
    expect(result.status).toBe('succeeded')
    expect(result.transitions[0]).toEqual({ from: 'flaky', to: 'next', at: 2000, durationMs: 2000, attempts: 3 })
  })

  it('fails with TW_FSM_STATE_FAILED naming the state once its retries are spent', async () => {
    const machine = defineStateMachine({
      initial: 'start',
      context: { x: 1 },
      states: {
        start: { run: () => 'lookup' },
        lookup: { retry: { maxAttempts: 2 }, run: () => Promise.reject(new Error('service down')) },
      },
    })
    const result = await runStateMachine(machine, { clock: new ManualClock() })
    expect(result).toMatchObject({ status: 'failed', finalState: 'lookup', context: { x: 1 } })
    expect(result.error).toMatchObject({ code: 'TW_FSM_STATE_FAILED', details: { state: 'lookup', attempts: 2 }, cause: { message: 'service down' } })
    expect(result.error?.message).toContain('state "lookup"')
    expect(result.transitions).toHaveLength(1)
  })

  it('does not retry an error marked non-retryable', async () => {
    let calls = 0
    const machine = defineStateMachine({
      initial: 'a',
      context: {},
      states: { a: { retry: { maxAttempts: 5 }, run: () => { calls++; throw new TerminalError('bad input') } } },
    })
    const result = await runStateMachine(machine)
    expect(calls).toBe(1)
    expect(result.error).toMatchObject({ code: 'TW_FSM_STATE_FAILED', cause: { code: 'TW_TERMINAL' } })
  })

  it('fails with TW_FSM_UNKNOWN_STATE when a state names no state (prototype names included)', async () => {
    for (const next of ['nowhere', 'constructor', '__proto__']) {
      const machine = defineStateMachine<object, string>({ initial: 'a', context: {}, states: { a: { run: () => next } } })
      const result = await runStateMachine(machine)
      expect(result).toMatchObject({ status: 'failed', finalState: 'a', transitions: [] })
      expect(result.error).toMatchObject({ code: 'TW_FSM_UNKNOWN_STATE', details: { state: 'a', next, known: ['a'] } })
      expect(result.error?.message).toContain(`unknown state "${next}"`)
    }
  })

  it('fails with TW_FSM_UNKNOWN_STATE when a step returns no step at all', async () => {
    const machine = defineStateMachine<object, string>({ initial: 'a', context: {}, states: { a: { run: () => undefined as unknown as string } } })
    const result = await runStateMachine(machine)
    expect(result.error).toMatchObject({ code: 'TW_FSM_UNKNOWN_STATE', details: { state: 'a' } })
    expect(result.error?.message).toContain('returned undefined')
  })

  it('stops an endless loop with TW_FSM_MAX_TRANSITIONS', async () => {
    const machine = defineStateMachine({
      initial: 'ping',
      context: {},
      maxTransitions: 10,
      states: { ping: { run: () => 'pong' }, pong: { run: () => 'ping' } },
    })
    const result = await runStateMachine(machine)
    expect(result.status).toBe('failed')
    expect(result.transitions).toHaveLength(10)
    expect(result.error).toMatchObject({ code: 'TW_FSM_MAX_TRANSITIONS', details: { state: 'ping', maxTransitions: 10 } })
  })

  it('times out a state with TW_TIMEOUT naming it, after aborting its signal', async () => {
    const clock = new ManualClock()
    let aborted: unknown
    const machine = defineStateMachine({
      initial: 'wait',
      context: {},
      states: {
        wait: {
          timeout: '5s',
          run: ({ signal }) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject((aborted = signal.reason)))),
        },
      },
    })
    const result = await clock.runUntilSettled(runStateMachine(machine, { clock }))
    expect(clock.now()).toBe(5000)
    expect(result).toMatchObject({ status: 'failed', finalState: 'wait' })
    expect(result.error).toMatchObject({ code: 'TW_TIMEOUT', details: { state: 'wait', timeoutMs: 5000, attempt: 1 } })
    expect(aborted).toMatchObject({ code: 'TW_TIMEOUT' })
  })

  it('retries a timed-out attempt like a failure', async () => {
    const clock = new ManualClock()
    const machine = defineStateMachine({
      initial: 'slow',
      context: {},
      states: { slow: { timeout: 1000, retry: { maxAttempts: 2 }, run: async ({ attempt, sleep }) => (await sleep(attempt === 1 ? 5000 : 10), DONE) } },
    })
    const result = await clock.runUntilSettled(runStateMachine(machine, { clock }))
    expect(result.status).toBe('succeeded')
    expect(result.transitions[0]).toMatchObject({ attempts: 2, durationMs: 1010 })
  })

  it('is cancelled by its signal: the running state sees the abort and its late result is ignored', async () => {
    const clock = new ManualClock()
    const controller = new AbortController()
    let stateSignal: AbortSignal | undefined
    const machine = defineStateMachine({
      initial: 'a',
      context: {},
      states: {
        a: { run: () => 'b' },
        b: {
          run: async ({ signal }) => {
            stateSignal = signal
            await new Promise((resolve) => setTimeout(resolve, 5))
            return DONE // ignores the abort on purpose
          },
        },
      },
    })
    const running = runStateMachine(machine, { clock, signal: controller.signal })
    await new Promise((resolve) => setImmediate(resolve))
    controller.abort()
    const result = await running
    expect(stateSignal?.aborted).toBe(true)
    expect(result).toMatchObject({ status: 'cancelled', finalState: 'b', error: { code: 'TW_CANCELLED', details: { state: 'b' } } })
    expect(result.transitions.map((t) => t.to)).toEqual(['b'])
  })

  it('reports every transition to onTransition and ignores an observer that throws', async () => {
    const seen: string[] = []
    const machine = defineStateMachine({ initial: 'a', context: { k: 0 }, states: { a: { run: () => ({ next: 'b', context: { k: 1 } }) }, b: { run: () => DONE } } })
    const result = await runStateMachine(machine, {
      onTransition: (t, context) => {
        seen.push(`${t.from}->${String(t.to)}:${context.k}`)
        throw new Error('observer bug')
      },
    })
    expect(result.status).toBe('succeeded')
    expect(seen).toEqual(['a->b:1', 'b->null:1'])
  })

  describe('hostile values from a step', () => {
    function hostileValues(): Record<string, unknown> {
      const { proxy: revoked, revoke } = Proxy.revocable({}, {})
      revoke()
      const codeGetterThrows = new Error('boom')
      Object.defineProperty(codeGetterThrows, 'code', { get: () => { throw new Error('code getter') } })
      return { revoked, codeGetterThrows, toStringThrows: { toString: () => { throw new Error('toString') } } }
    }

    it('fails the machine with TW_FSM_STATE_FAILED when a step throws an unreadable value, retries included', async () => {
      for (const [kind, value] of Object.entries(hostileValues())) {
        let attempts = 0
        const machine = defineStateMachine({
          initial: 'a',
          context: {},
          states: { a: { run: () => { attempts++; throw value }, retry: { maxAttempts: 2 } } },
        })
        const result = await runStateMachine(machine, { clock: new ManualClock() })
        expect(result.status, kind).toBe('failed')
        expect(result.error, kind).toMatchObject({ code: 'TW_FSM_STATE_FAILED', details: { state: 'a' } })
        expect(attempts, kind).toBe(2)
      }
    })

    it('fails the machine when a step returns a value that cannot be read', async () => {
      const { revoked } = hostileValues()
      const getterThrows = { get next(): string { throw new Error('next getter') } }
      // Awaiting a revoked Proxy reads its `then`, which throws: the step counts as throwing.
      for (const [step, code] of [[revoked, 'TW_FSM_STATE_FAILED'], [getterThrows, 'TW_FSM_UNKNOWN_STATE']] as const) {
        const machine = defineStateMachine({ initial: 'a', context: {}, states: { a: { run: () => step as never } } })
        const result = await runStateMachine(machine, { clock: new ManualClock() })
        expect(result).toMatchObject({ status: 'failed', error: { code, details: { state: 'a' } } })
      }
    })
  })
})
