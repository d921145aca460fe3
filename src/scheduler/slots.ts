/**
 * Engine-wide slots: the global concurrency limit shared by every run of one engine. A run that
 * finds no free slot registers to be woken when one is released.
 * @module
 */

/** Something that can be woken to try again (a run's dispatch loop). */
export interface SlotWaiter {
  wake(): void
}

/** A counting semaphore without promises: try, or wait to be woken. */
export class SlotPool {
  #used = 0
  readonly #waiters = new Set<SlotWaiter>()

  /** @param capacity slots in all (Infinity for no limit) */
  constructor(readonly capacity: number) {}

  /** Slots in use. */
  get used(): number {
    return this.#used
  }

  /** Takes a slot if one is free; otherwise remembers `waiter` and returns false. */
  tryAcquire(waiter: SlotWaiter): boolean {
    if (this.#used < this.capacity) {
      this.#used++
      return true
    }
    this.#waiters.add(waiter)
    return false
  }

  /** Gives a slot back and wakes the waiters (each retries; the first ones get the slot). */
  release(): void {
    this.#used--
    if (this.#waiters.size === 0) return
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const waiter of waiters) waiter.wake()
  }

  /** Forgets a waiter (its run ended). */
  forget(waiter: SlotWaiter): void {
    this.#waiters.delete(waiter)
  }
}
