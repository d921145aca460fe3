import { describe, expect, it } from 'vitest'
import { ManualClock } from '../testing/manual-clock.js'
import { createYielder, yieldToEventLoop } from './cooperate.js'

describe('cooperative yielding', () => {
  it('lets timers and I/O callbacks run in between', async () => {
    let ran = false
    setImmediate(() => (ran = true))
    await yieldToEventLoop()
    expect(ran).toBe(true)
  })

  it('throws the abort reason after yielding', async () => {
    await expect(yieldToEventLoop(AbortSignal.abort(new Error('stop')))).rejects.toThrow('stop')
  })

  it('yields only once the time budget is spent', async () => {
    const clock = new ManualClock()
    const pause = createYielder({ budgetMs: 10, clock })
    let ran = 0
    setImmediate(() => ran++)
    await pause()
    await pause()
    expect(ran).toBe(0) // within the budget: no macrotask turn was given
    clock.advance(10)
    await pause()
    expect(ran).toBe(1)
  })

  it('checks the signal when it yields', async () => {
    const clock = new ManualClock()
    const controller = new AbortController()
    const pause = createYielder({ budgetMs: 5, clock, signal: controller.signal })
    controller.abort(new Error('cancelled'))
    await pause() // budget not spent: no yield, no check
    clock.advance(5)
    await expect(pause()).rejects.toThrow('cancelled')
  })
})
