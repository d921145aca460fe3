/**
 * An abortable FIFO semaphore. It serializes the executions of one agent session (capacity 1)
 * and caps executions across the pool (`maxConcurrent`).
 *
 * A released slot is handed straight to the oldest waiter, so no late caller can barge ahead:
 * that is what makes "executions of one session run in submission order" hold. A waiter whose
 * signal aborts leaves the queue and rejects with `signal.reason`; its listener is removed
 * whichever way the wait ends.
 * @module
 */

interface Waiter {
  readonly resolve: () => void
  readonly onAbort: () => void
}

/** A counting semaphore whose waiters are served first come, first served. */
export class Gate {
  #used = 0
  readonly #waiters: Waiter[] = []

  /** @param capacity slots in all; `Infinity` never makes anyone wait */
  constructor(readonly capacity: number) {}

  /** Slots held. */
  get used(): number {
    return this.#used
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length
  }

  /**
   * Takes a slot; resolves once it is held. Takes it synchronously when one is free and nobody
   * waits, so the order of `acquire()` calls is the order slots are granted.
   */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    if (this.#used < this.capacity && this.#waiters.length === 0) {
      this.#used++
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', waiter.onAbort)
          resolve()
        },
        onAbort: () => {
          const at = this.#waiters.indexOf(waiter)
          if (at >= 0) this.#waiters.splice(at, 1)
          reject(signal?.reason)
        },
      }
      this.#waiters.push(waiter)
      signal?.addEventListener('abort', waiter.onAbort, { once: true })
    })
  }

  /** Gives a slot back: the oldest waiter gets it, else it becomes free. */
  release(): void {
    const next = this.#waiters.shift()
    if (next !== undefined) {
      next.resolve()
      return
    }
    if (this.#used === 0) throw new Error('Gate.release() without a matching acquire()')
    this.#used--
  }
}
