/** Small helpers around AbortSignal used by the agent session pool. @module */

/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts, whichever
 * comes first. The listener is removed either way. A later rejection of `promise` is handled
 * here, so giving up on it never surfaces as an unhandled rejection.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) {
    promise.catch(() => {})
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

/**
 * A new signal of its own that aborts when any of `signals` does. Always a new one, even for a
 * single source: the pool's shared signal handed to every execution collected one `abort`
 * listener per waiting execution (queue waits, the caller's race) and Node warned
 * (`MaxListenersExceededWarning`) past ten. `AbortSignal.any` links sources without listeners.
 */
export function anySignal(signals: readonly (AbortSignal | undefined)[]): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined))
}
