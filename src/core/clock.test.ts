import { afterEach, describe, expect, it, vi } from 'vitest'
import { MAX_TIMER_MS, setLongTimeout, sleep, systemClock } from './clock.js'
import type { ToolContext } from './tool.js'

describe('setLongTimeout', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('fires a delay past 2^31 ms only when it is due, not after 1 ms', () => {
    vi.useFakeTimers()
    const fired = vi.fn()
    const thirtyDays = 30 * 24 * 3600 * 1000
    setLongTimeout(thirtyDays, fired)
    vi.advanceTimersByTime(1000)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(MAX_TIMER_MS)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(thirtyDays - MAX_TIMER_MS - 1000)
    expect(fired).toHaveBeenCalledTimes(1)
  })

  it('never fires once cancelled, even between two hops', () => {
    vi.useFakeTimers()
    const fired = vi.fn()
    const cancel = setLongTimeout(3 * MAX_TIMER_MS, fired)
    vi.advanceTimersByTime(MAX_TIMER_MS + 5)
    cancel()
    vi.advanceTimersByTime(3 * MAX_TIMER_MS)
    expect(fired).not.toHaveBeenCalled()
  })

  it('is what the system clock uses for long timers', () => {
    vi.useFakeTimers()
    const fired = vi.fn()
    systemClock.setTimer(MAX_TIMER_MS * 2, fired)
    vi.advanceTimersByTime(10)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(MAX_TIMER_MS * 2)
    expect(fired).toHaveBeenCalledTimes(1)
  })
})

describe('sleep', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('waits on the clock a tool context has, and on the system clock when a hand-made context has none', async () => {
    vi.useFakeTimers()
    // Typed as ToolContext types it (`clock?: Clock`): the documented `sleep(ctx.clock, ms, ctx.signal)` type-checks.
    const ctx: Pick<ToolContext, 'clock' | 'signal'> = { signal: new AbortController().signal }
    let done = false
    const waiting = sleep(ctx.clock, 1_000, ctx.signal).then(() => (done = true))
    await vi.advanceTimersByTimeAsync(999)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    await waiting
    expect(done).toBe(true)
  })
})
