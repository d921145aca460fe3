import { describe, expect, it } from 'vitest'
import { DONE, defineStateMachine } from '../src/fsm/define.js'
import { runStateMachine } from '../src/fsm/run.js'
import { ManualClock } from '../src/testing/manual-clock.js'

describe('a long state machine of synchronous steps', () => {
  it('makes 100,000 transitions in linear time and lets macrotasks run meanwhile', async () => {
    const total = 100_000
    const machine = defineStateMachine({
      initial: 'tick',
      context: { n: 0 },
      maxTransitions: total,
      states: {
        tick: { run: ({ context }) => (context.n + 1 >= total ? { next: DONE, context: { n: context.n + 1 } } : { next: 'tick', context: { n: context.n + 1 } }) },
      },
    })
    let transitionsWhenMacrotaskRan: number | undefined
    let made = 0
    setImmediate(() => (transitionsWhenMacrotaskRan = made))
    const started = performance.now()
    // A manual clock never moves here: yielding must not depend on it.
    const result = await runStateMachine(machine, { clock: new ManualClock(), onTransition: () => made++ })
    const elapsedMs = performance.now() - started
    expect(result.status).toBe('succeeded')
    expect(result.transitions).toHaveLength(total)
    expect(transitionsWhenMacrotaskRan).toBeDefined()
    expect(transitionsWhenMacrotaskRan).toBeLessThan(total)
    // Quadratic copying took about 25 s for this machine; linear takes well under one.
    expect(elapsedMs).toBeLessThan(10_000)
  })
})
