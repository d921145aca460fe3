/**
 * A token bucket that refills continuously: it holds at most `capacity` and gains `capacity` per
 * `windowMs`, the way LLM providers count requests and tokens per minute. Pure arithmetic over
 * times the caller passes in, so a manual clock drives it in tests.
 *
 * The level may go below zero: a call that used more than it reserved is charged in full, and
 * the bucket then owes until it refills.
 * @module
 */

/** A continuously refilled budget. */
export class TokenBucket {
  #capacity: number
  #perMs: number
  #level: number
  #at: number

  /** A full bucket of `capacity` that refills completely in `windowMs`, observed at `now`. */
  constructor(capacity: number, windowMs: number, now: number) {
    this.#capacity = capacity
    this.#perMs = capacity / windowMs
    this.#level = capacity
    this.#at = now
  }

  /** The most the bucket holds. */
  get capacity(): number {
    return this.#capacity
  }

  /** The time it takes to refill from empty, in ms. */
  get windowMs(): number {
    return this.#capacity / this.#perMs
  }

  /** What the bucket holds at `now`. */
  level(now: number): number {
    this.#refill(now)
    return this.#level
  }

  /** Takes `amount` if the bucket holds it at `now`; false (nothing taken) otherwise. */
  tryTake(amount: number, now: number): boolean {
    this.#refill(now)
    if (this.#level < amount) return false
    this.#level -= amount
    return true
  }

  /** Milliseconds from `now` until the bucket holds `amount` (0 if it does; Infinity if it never can). */
  waitFor(amount: number, now: number): number {
    if (amount > this.#capacity) return Infinity
    this.#refill(now)
    return this.#level >= amount ? 0 : Math.ceil((amount - this.#level) / this.#perMs)
  }

  /** Gives back `amount` (or charges more, when negative), never above capacity. */
  adjust(amount: number, now: number): void {
    this.#refill(now)
    this.#level = Math.min(this.#capacity, this.#level + amount)
  }

  /** Milliseconds from `now` until the bucket is full. */
  msUntilFull(now: number): number {
    this.#refill(now)
    return Math.ceil((this.#capacity - this.#level) / this.#perMs)
  }

  /** Changes the capacity and window (a provider said what its limits are), keeping the level within the new capacity. */
  resize(capacity: number, windowMs: number, now: number): void {
    this.#refill(now)
    this.#capacity = capacity
    this.#perMs = capacity / windowMs
    this.#level = Math.min(this.#level, capacity)
  }

  #refill(now: number): void {
    if (now <= this.#at) return
    this.#level = Math.min(this.#capacity, this.#level + (now - this.#at) * this.#perMs)
    this.#at = now
  }
}
