/**
 * Callers waiting for something to change (an async iterator's `next()` calls: the protocol lets
 * several wait at once). Each waits for the next wake; a wake releases them all, in the order they
 * began to wait, and each then looks again and takes what there is or waits once more.
 * @module
 */

/** A list of waiters, all released by one {@link WakeList.wakeAll}. */
export class WakeList {
  #waiting: (() => void)[] = []

  /** Resolves at the next {@link wakeAll}. */
  next(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiting.push(resolve))
  }

  /** Releases every waiter, in the order they began to wait. */
  wakeAll(): void {
    const waiting = this.#waiting
    if (waiting.length === 0) return
    this.#waiting = []
    for (const resolve of waiting) resolve()
  }
}
