import { describe, expect, it } from 'vitest'
import { ManualClock } from '../testing/manual-clock.js'
import { MAX_TIMER_MS } from './clock.js'
import type { Clock } from './clock.js'
import { setClockTimer } from './clock-timer.js'

const DAY = 24 * 3600 * 1000

/** A clock built on `setTimeout` semantics: a delay past 2^31 − 1 ms fires after 1 ms. */
function overflowingClock(clock: ManualClock): Clock & { readonly requests: number[] } {
  const requests: number[] = []
  return {
    requests,
    now: () => clock.now(),
    wallNow: () => clock.wallNow(),
    setTimer: (ms, fn) => {
      requests.push(ms)
      return clock.setTimer(ms > MAX_TIMER_MS ? 1 : ms, fn)
    },
  }
}

describe('setClockTimer', () => {
  it('fires a 30-day delay after 30 days on a clock that cannot hold it, never asking for more than MAX_TIMER_MS', () => {
    const manual = new ManualClock()
    const clock = overflowingClock(manual)
    let fired = 0
    setClockTimer(clock, 30 * DAY, () => fired++)
    manual.advance(29 * DAY)
    expect(fired).toBe(0)
    manual.advance(DAY)
    expect(fired).toBe(1)
    expect(Math.max(...clock.requests)).toBeLessThanOrEqual(MAX_TIMER_MS)
    expect(clock.requests.length).toBeLessThanOrEqual(3) // 30 days = two full hops and the rest
  })

  it('can be cancelled between hops, and Infinity holds no timer', () => {
    const manual = new ManualClock()
    let fired = 0
    const cancel = setClockTimer(manual, 3 * MAX_TIMER_MS, () => fired++)
    manual.advance(MAX_TIMER_MS + 5)
    cancel()
    manual.advance(5 * MAX_TIMER_MS)
    expect(fired).toBe(0)
    setClockTimer(manual, Infinity, () => fired++)
    expect(manual.pendingTimers).toBe(0)
  })

  it('passes short delays straight to the clock', () => {
    const manual = new ManualClock()
    const clock = overflowingClock(manual)
    let fired = 0
    setClockTimer(clock, 500, () => fired++)
    manual.advance(500)
    expect(fired).toBe(1)
    expect(clock.requests).toEqual([500])
  })
})
