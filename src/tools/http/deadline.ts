/**
 * The deadline of one `http.fetch` call: a signal that aborts when the caller's signal does or
 * when `timeoutMs` has passed, whichever comes first.
 *
 * Why not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: Node holds the sources of a
 * combined signal weakly, and nothing else holds an `AbortSignal.timeout` signal, so a garbage
 * collection during a long body read can collect the timeout and the call then never times out
 * (a server dripping one byte every 200 ms held it forever). Here the timer is an ordinary
 * timer, held by the event loop until it fires or is cancelled, and its callback holds the
 * controller; the call holds the deadline until its `finally` disposes of it.
 * @module
 */
import { setLongTimeout } from '../../core/clock.js'

/** A running deadline; dispose of it (or use `using`) when the call ends, so the timer and the listener go. */
export interface CallDeadline extends Disposable {
  /** Aborted with the caller's reason, or with `timeoutReason()` once `timeoutMs` has passed. */
  readonly signal: AbortSignal
  /** True once the deadline (not the caller) aborted the signal. */
  readonly timedOut: boolean
}

/** Starts a deadline of `timeoutMs` that also follows `callerSignal`. */
export function startDeadline(callerSignal: AbortSignal, timeoutMs: number, timeoutReason: () => unknown): CallDeadline {
  const controller = new AbortController()
  let timedOut = false
  const onAbort = (): void => controller.abort(callerSignal.reason)
  if (callerSignal.aborted) onAbort()
  else callerSignal.addEventListener('abort', onAbort, { once: true })
  const cancelTimer = setLongTimeout(timeoutMs, () => {
    timedOut = true
    controller.abort(timeoutReason())
  })
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut
    },
    [Symbol.dispose]() {
      cancelTimer()
      callerSignal.removeEventListener('abort', onAbort)
    },
  }
}
