/**
 * Waiting for the broker while closing, within a bound: a broker that went silent (a host gone, a
 * connection half-open) answers a channel's cancel or close only when the heartbeat gives the
 * connection up, 30 s or more later, and a worker's drain must not wait for that.
 * @module
 */

/** How long a close waits for each answer from the broker. */
export const CLOSE_ANSWER_MS = 1000

/** Resolves once `pending` settles or `ms` have passed, whichever comes first; never rejects. */
export function settledWithin(pending: Promise<unknown>, ms: number = CLOSE_ANSWER_MS): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    const done = (): void => {
      clearTimeout(timer)
      resolve()
    }
    pending.then(done, done)
  })
}
