/**
 * The permits of one consumer: how many deliveries it may hold at once, shared by the BullMQ
 * workers it runs (one per queue it takes from). Waiters are served first come, first served, so
 * a busy queue cannot starve the others of the consumer.
 * @module
 */

interface Waiter {
  readonly grant: (granted: boolean) => void
}

/** A counting semaphore whose waits end, without a permit, when their signal aborts. */
export class PermitPool {
  #free: number
  readonly #waiters: Waiter[] = []

  constructor(capacity: number) {
    this.#free = capacity
  }

  /** Whether someone waits for a permit (a finishing delivery then hands its permit over rather than keeping it for the next job of its own queue). */
  get hasWaiters(): boolean {
    return this.#waiters.length > 0
  }

  /** Takes a permit if one is free. */
  tryAcquire(): boolean {
    if (this.#free <= 0 || this.#waiters.length > 0) return false
    this.#free--
    return true
  }

  /** Waits for a permit: true once it is held, false if `signal` aborted first. */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false)
    if (this.tryAcquire()) return Promise.resolve(true)
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        grant: (granted) => {
          signal.removeEventListener('abort', onAbort)
          resolve(granted)
        },
      }
      const onAbort = (): void => {
        const at = this.#waiters.indexOf(waiter)
        if (at >= 0) this.#waiters.splice(at, 1)
        waiter.grant(false)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(waiter)
    })
  }

  /** Gives a permit back: to the first waiter, else to the pool. */
  release(): void {
    const next = this.#waiters.shift()
    if (next === undefined) this.#free++
    else next.grant(true)
  }
}
