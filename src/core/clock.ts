/**
 * The clock port. Everything time-based in the engine (timeouts, backoff, timings) reads this port,
 * so a manual clock can run a workflow with hour-long backoffs instantly and deterministically.
 * @module
 */

/** Cancels a timer; calling it again is harmless. */
export type CancelTimer = () => void

/** Source of time and timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number
  /** Calls `fn` once after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): CancelTimer
}

/**
 * The real clock: `performance.now()` and `setTimeout`. Timers are not unref'd on purpose: a run
 * waiting only on a retry backoff must keep the process alive until it ends.
 */
export const systemClock: Clock = {
  // Bound once: skips the receiver check a `performance.now()` call pays (measurable at one call per task).
  now: performance.now.bind(performance),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, ms)
    return () => clearTimeout(handle)
  },
}

/** Resolves after `ms` on `clock`; rejects with the signal's reason when aborted first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      cancel()
      reject(signal?.reason)
    }
    const cancel = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    })
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
