/**
 * Timers of any length on any {@link Clock}. The port's `setTimer` is only promised to hold a
 * delay up to {@link MAX_TIMER_MS}: an injected clock built on `setTimeout` fires a longer one
 * after 1 ms, so a 30-day timeout would fire at once, and a loop that re-arms "until due" would
 * spin. Here a long delay is split into hops of at most `MAX_TIMER_MS`, each measured from one
 * absolute deadline on the same clock, so early hops cannot add up and none can spin.
 * @module
 */
import { MAX_TIMER_MS } from './clock.js'
import type { CancelTimer, Clock } from './clock.js'

/**
 * Calls `fn` once after `ms` on `clock`, whatever the size of `ms`; returns a function that
 * cancels it. A delay within {@link MAX_TIMER_MS} is one `clock.setTimer` call (no extra cost);
 * `Infinity` never fires and holds no timer.
 */
export function setClockTimer(clock: Clock, ms: number, fn: () => void): CancelTimer {
  if (!(ms > MAX_TIMER_MS)) return clock.setTimer(ms, fn)
  if (ms === Infinity) return () => {}
  const deadline = clock.now() + ms
  let cancelHop: CancelTimer | undefined
  let cancelled = false
  const hop = (): void => {
    if (cancelled) return
    const left = deadline - clock.now()
    if (left <= 0) return fn()
    cancelHop = clock.setTimer(Math.min(left, MAX_TIMER_MS), hop)
  }
  hop()
  return () => {
    cancelled = true
    cancelHop?.()
  }
}
