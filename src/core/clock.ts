/**
 * The clock port. Everything time-based in the engine (timeouts, backoff, timings) reads this port,
 * so a manual clock can run a workflow with hour-long backoffs instantly and deterministically.
 * @module
 */
import { InvalidOptionError } from './errors.js'

/** Cancels a timer; calling it again is harmless. */
export type CancelTimer = () => void

/** Source of time and timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number
  /**
   * Wall-clock time in milliseconds since the Unix epoch: what reports, journals and leases
   * record, since it must mean the same in another process or after a restart.
   */
  wallNow(): number
  /** Calls `fn` once after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): CancelTimer
}

/**
 * Longest delay one Node timer holds: a larger value (or a non-finite one) makes `setTimeout`
 * fire after 1 ms with a warning, so `timeout: '30d'` would fail at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** Options of {@link setLongTimeout}. */
export interface LongTimeoutOptions {
  /** Let the process exit while only this timer is pending (housekeeping, idle timeouts). */
  readonly unref?: boolean
}

/**
 * `setTimeout` for any delay: delays past {@link MAX_TIMER_MS} are chained as several Node timers,
 * so a 30-day deadline fires after 30 days, not after 1 ms. Negative or NaN delays fire on the
 * next turn; `Infinity` never fires.
 */
export function setLongTimeout(ms: number, fn: () => void, options: LongTimeoutOptions = {}): CancelTimer {
  if (ms <= MAX_TIMER_MS || Number.isNaN(ms)) {
    const handle = setTimeout(fn, ms)
    if (options.unref === true) handle.unref()
    return () => clearTimeout(handle)
  }
  let handle: NodeJS.Timeout | undefined
  let cancelled = false
  // Chained from an absolute deadline, so the drift of each hop does not add up.
  const deadline = performance.now() + ms
  const arm = (): void => {
    if (cancelled) return
    const left = deadline - performance.now()
    if (left <= 0) return fn()
    if (!Number.isFinite(left)) return // Infinity: never fires; nothing to hold either
    handle = setTimeout(arm, Math.min(left, MAX_TIMER_MS))
    if (options.unref === true) handle.unref()
  }
  arm()
  return () => {
    cancelled = true
    if (handle !== undefined) clearTimeout(handle)
  }
}

/**
 * The real clock: `performance.now()` and `setTimeout` (chained past {@link MAX_TIMER_MS}). Timers
 * are not unref'd on purpose: a run waiting only on a retry backoff must keep the process alive
 * until it ends.
 */
export const systemClock: Clock = {
  // Bound once: skips the receiver check a `performance.now()` call pays (measurable at one call per task).
  now: performance.now.bind(performance),
  wallNow: Date.now,
  setTimer(ms, fn) {
    if (ms <= MAX_TIMER_MS) {
      const handle = setTimeout(fn, ms)
      return () => clearTimeout(handle)
    }
    return setLongTimeout(ms, fn)
  },
}

/**
 * Calls `fn` once after `ms` on `clock`, whatever the size of `ms`; returns a function that
 * cancels it (see `clock-timer.ts`). A delay within {@link MAX_TIMER_MS} is one `clock.setTimer`
 * call (no extra cost); a longer one is split into hops from one absolute deadline; `Infinity`
 * never fires and holds no timer.
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

/**
 * Resolves after `ms` on `clock` (any length: see {@link setClockTimer}); rejects with the signal's
 * reason when aborted first. `clock` undefined is the system clock: `sleep(ctx.clock, ms,
 * ctx.signal)` in a tool waits on the engine's clock, and on the system's in a context made by hand.
 */
export function sleep(clock: Clock | undefined, ms: number, signal?: AbortSignal): Promise<void> {
  // A string ('1s') or NaN would otherwise wait for ever or not at all.
  if (typeof ms !== 'number' || Number.isNaN(ms)) return Promise.reject(new InvalidOptionError('ms', 'a number of ms', ms))
  signal?.throwIfAborted()
  clock ??= systemClock
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      cancel()
      reject(signal?.reason)
    }
    const cancel = setClockTimer(clock, ms, () => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    })
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
