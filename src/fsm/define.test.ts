import { describe, expect, it } from 'vitest'
import { TaskweaveError } from '../core/errors.js'
import { DONE, defineStateMachine, isStateMachine } from './define.js'

const done = (): null => DONE
const states = { a: { run: done } }

describe('defineStateMachine', () => {
  it('returns a frozen, recognisable machine with its defaults', () => {
    const machine = defineStateMachine({ initial: 'a', context: { x: 1 }, states })
    expect(isStateMachine(machine)).toBe(true)
    expect(isStateMachine({ initial: 'a' })).toBe(false)
    expect(machine).toMatchObject({ name: 'state-machine', initial: 'a', maxTransitions: 1000, stateNames: ['a'], context: { x: 1 } })
    expect(Object.isFrozen(machine)).toBe(true)
  })

  it('rejects an initial state that is not a state with TW_FSM_UNKNOWN_STATE', () => {
    const define = (): unknown => defineStateMachine<object, string>({ initial: 'b', context: {}, states })
    expect(define).toThrow(/initial state "b" is not one of "a"/)
    try {
      define()
    } catch (err) {
      expect(TaskweaveError.is(err, 'TW_FSM_UNKNOWN_STATE')).toBe(true)
    }
  })

  it.each([
    [{ maxTransitions: 0 }, /option "maxTransitions" must be an integer ≥ 1; received 0/],
    [{ states: {} }, /option "states" must be at least one state/],
    [{ states: { a: { run: 'nope' } } }, /option "states.a.run" must be a function; received "nope"/],
    [{ states: { a: { run: done, timeout: 'soon' } } }, /option "states.a.timeout" must be a duration/],
    [{ states: { a: { run: done, retry: { maxAttempts: 0 } } } }, /option "states.a.retry.maxAttempts" must be an integer ≥ 1/],
    [{ states: { a: { run: done, retry: { maxAttempts: 2, delay: -1 } } } }, /option "states.a.retry.delay" must be a duration/],
  ])('rejects a bad definition with TW_INVALID_OPTION naming the option (%#)', (override, message) => {
    const definition = { initial: 'a', context: {}, states, ...override } as unknown as Parameters<typeof defineStateMachine>[0]
    expect(() => defineStateMachine(definition)).toThrow(message)
  })

  it('types state names: a step may only name a declared state', () => {
    defineStateMachine({
      initial: 'a',
      context: {},
      states: {
        a: { run: () => 'b' },
        // @ts-expect-error 'c' is not a state of this machine
        b: { run: () => 'c' },
      },
    })
    defineStateMachine({
      initial: 'a',
      context: {},
      states: {
        // An async step may return a bare name (TypeScript widens it; the run checks it).
        a: {
          run: async ({ sleep }) => {
            await sleep(1)
            return 'b'
          },
        },
        // @ts-expect-error an async step's { next } is still checked
        b: { run: async () => ({ next: 'c' }) },
      },
    })
  })
})
