import { describe, expect, it } from 'vitest'
import { DONE, defineStateMachine, runStateMachine, stateMachineTool } from './index.js'
import { TaskweaveError } from '../core/errors.js'
import { MAX_TIMER_MS } from '../core/clock.js'
import type { Clock } from '../core/clock.js'
import { createEngine } from '../engine/engine.js'
import { workflow } from '../workflow/builder.js'

describe('a machine aborted between a failed attempt and its retry', () => {
  it.each([0, 1, 2, 3])('settles cancelled, and the retry never runs with a live signal (aborted %i microtasks after the failure)', async (hops) => {
    const controller = new AbortController()
    const seen: string[] = []
    const machine = defineStateMachine({
      name: 'm',
      initial: 'a',
      context: {},
      states: {
        a: {
          retry: { maxAttempts: 3 },
          run: async ({ signal, attempt }) => {
            if (attempt === 1) {
              // Aborted a few microtasks after this attempt failed: about when its retry starts.
              let later = Promise.resolve()
              for (let k = 0; k < hops; k++) later = later.then(() => undefined)
              void later.then(() => controller.abort(new Error('stop')))
              throw new Error('first attempt failed')
            }
            seen.push(`machine aborted: ${controller.signal.aborted}, step signal aborted: ${signal.aborted}`)
            await new Promise((_resolve, reject) => {
              if (signal.aborted) reject(signal.reason as Error)
              signal.addEventListener('abort', () => reject(signal.reason as Error))
            })
            return DONE
          },
        },
      },
    })
    const result = await runStateMachine(machine, { signal: controller.signal })
    expect(result.status).toBe('cancelled')
    // A retry that starts after the abort does not run at all; one that started before sees it end.
    for (const line of seen) expect(line).toBe('machine aborted: false, step signal aborted: false')
  })
})

describe('a state timeout longer than one timer holds', () => {
  it('does not fire early on a clock built on setTimeout', async () => {
    // A clock that forwards to setTimeout, as an injected one may (the port promises no more than
    // MAX_TIMER_MS): past it, setTimeout fires after 1 ms.
    const clock: Clock = {
      now: () => performance.now(),
      wallNow: () => Date.now(),
      setTimer: (ms, fn) => {
        // What setTimeout does with a delay past MAX_TIMER_MS: fires after 1 ms.
        const handle = setTimeout(fn, ms > MAX_TIMER_MS ? 1 : ms)
        return () => clearTimeout(handle)
      },
    }
    const machine = defineStateMachine({
      name: 'long',
      initial: 'a',
      context: {},
      states: { a: { timeout: '30d', run: async () => (await new Promise((resolve) => setTimeout(resolve, 30)), DONE) } },
    })
    expect((await runStateMachine(machine, { clock })).status).toBe('succeeded')
  })
})

describe('a state machine run as a workflow task', () => {
  it('is retried by the workflow when the state failed with a retryable error, and not when it failed for good', async () => {
    let runs = 0
    const flaky = defineStateMachine({
      name: 'flaky',
      initial: 'a',
      context: {},
      states: {
        a: {
          run: () => {
            runs++
            if (runs === 1) throw new Error('a passing failure')
            return DONE
          },
        },
      },
    })
    const engine = createEngine({ builtins: false })
    const flow = workflow({ id: 'w' }).task('t', stateMachineTool('fsm.flaky', flaky), { input: {}, retry: { maxAttempts: 3, initialDelay: 0 } }).build()
    const result = await engine.run(flow)
    expect(result.status).toBe('succeeded')
    expect(runs).toBe(2)
    let terminalRuns = 0
    const broken = defineStateMachine({
      name: 'broken',
      initial: 'a',
      context: {},
      states: {
        a: {
          run: () => {
            terminalRuns++
            throw Object.assign(new Error('never works'), { retryable: false })
          },
        },
      },
    })
    const again = await engine.run(workflow({ id: 'w2' }).task('t', stateMachineTool('fsm.broken', broken), { input: {}, retry: { maxAttempts: 3, initialDelay: 0 } }).build())
    expect(again.tasks['t']?.error?.code).toBe('TW_FSM_STATE_FAILED')
    expect(terminalRuns).toBe(1)
    await engine.close()
  })
})


describe('a state machine definition with a misspelt or malformed field', () => {
  it('is refused with TW_INVALID_OPTION naming the field, instead of a setting silently not applied', () => {
    const run = (): null => DONE
    const define = (extra: Record<string, unknown>, state: Record<string, unknown> = {}): unknown => defineStateMachine({ initial: 'a', context: {}, states: { a: { run, ...state } }, ...extra })
    expect(() => define({}, { retry: 3 })).toThrow(/option "states\.a\.retry" must be an object/)
    expect(() => define({}, { retry: { attempts: 3 } })).toThrow(/unknown option "states\.a\.retry\.attempts" of defineStateMachine\(\)/)
    expect(() => define({}, { retry: { maxAttempts: 3, dealy: '10ms' } })).toThrow(/unknown option "states\.a\.retry\.dealy"; did you mean "states\.a\.retry\.delay"\?|unknown option "states\.a\.retry\.dealy" of defineStateMachine\(\)/)
    expect(() => define({}, { timeoutMs: 10 })).toThrow(/unknown option "states\.a\.timeoutMs" of defineStateMachine\(\); did you mean "states\.a\.timeout"\?/)
    expect(() => define({ contxt: {} })).toThrow(/unknown option "contxt" of defineStateMachine\(\); did you mean "context"\?/)
    expect(() => define({}, { retry: { maxAttempts: 2, delay: '5ms' }, timeout: '1s', description: 'fine' })).not.toThrow()
  })
})

describe('runStateMachine and stateMachineTool: calls checked, every stop names its state', () => {
  const machine = defineStateMachine<Record<string, never>, 'wait'>({
    name: 'm',
    initial: 'wait',
    context: {},
    states: { wait: { run: (ctx) => new Promise<typeof DONE>((resolve) => ctx.signal.addEventListener('abort', () => resolve(DONE))) } },
  })

  it('refuses options it does not know, and what is not a machine, with a code', async () => {
    await expect(runStateMachine(machine, { timeout: 20 } as never)).rejects.toThrow(/unknown option "timeout" of runStateMachine\(\)/)
    await expect(runStateMachine({ name: 'raw', initial: 'a', states: {} } as never)).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringMatching(/made by defineStateMachine/) })
    await expect(runStateMachine(undefined as never)).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    expect(() => stateMachineTool('t', machine, { descripton: 'x' } as never)).toThrow(/unknown option "descripton" of stateMachineTool\(\)/)
  })

  it('a stop with an error of its own (a timeout) keeps its code and names the state', async () => {
    const controller = new AbortController()
    const running = runStateMachine(machine, { signal: controller.signal })
    controller.abort(new TaskweaveError('TW_TIMEOUT', 'task "x" attempt 1 timed out after 10 ms', { retryable: true }))
    const result = await running
    expect(result.status).toBe('cancelled')
    expect(result.error).toMatchObject({ code: 'TW_TIMEOUT', details: { state: 'wait' } })
    expect(result.error?.message).toContain('in state "wait"')
  })
})

describe('a state written as a class instance with fields of its own (the seed\'s `MyInitialState()`)', () => {
  it('runs, with `this` the instance, its fields kept between steps', async () => {
    class Polling {
      polls = 0
      readonly description = 'polls until the third try'
      constructor(readonly limit: number) {}
      run(): 'poll' | null {
        this.polls++
        return this.polls < this.limit ? 'poll' : DONE
      }
    }
    const polling = new Polling(3)
    const machine = defineStateMachine({ name: 'poller', initial: 'poll', context: {}, states: { poll: polling } })
    const result = await runStateMachine(machine)
    expect(result.status).toBe('succeeded')
    expect(result.transitions.map((t) => t.to)).toEqual(['poll', 'poll', null])
    expect(polling.polls).toBe(3)
  })

  it('still has its options read and checked (a bad retry is refused)', () => {
    class Bad {
      readonly retry = { maxAttempts: 0 }
      run(): null {
        return DONE
      }
    }
    expect(() => defineStateMachine({ initial: 'a', context: {}, states: { a: new Bad() } })).toThrow(/states\.a\.retry\.maxAttempts/)
  })
})
