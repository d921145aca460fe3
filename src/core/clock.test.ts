import { afterEach, describe, expect, it, vi } from 'vitest'
import { MAX_TIMER_MS, setLongTimeout, systemClock } from './clock.js'

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
