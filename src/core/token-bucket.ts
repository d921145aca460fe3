/**
 * A token bucket that refills continuously: it holds at most `capacity` and gains `capacity` per
 * `windowMs`, the way LLM providers count requests and tokens per minute. Pure arithmetic over
 * times the caller passes in, so a manual clock drives it in tests.
 *
 * The level may go below zero: a call that used more than it reserved is charged in full, and
 * the bucket then owes until it refills.
 * @module
 */

/**
 * Shortfalls smaller than this count as none. The refill is `elapsed × rate` in floating point: a
 * caller that waited exactly the advertised time may find `0.9999999999` where `1` is due, and
 * must not be refused again for it.
 */
const EPSILON = 1e-9

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
    if (amount - this.#level > EPSILON) return false
    this.#level -= amount
    return true
  }

  /** Milliseconds from `now` until the bucket holds `amount` (0 if it does; Infinity if it never can). */
  waitFor(amount: number, now: number): number {
    if (amount > this.#capacity + EPSILON) return Infinity
    this.#refill(now)
    const short = amount - this.#level
    return short <= EPSILON ? 0 : Math.ceil(short / this.#perMs)
  }

  /** Gives back `amount` (or charges more, when negative), never above capacity. */
  adjust(amount: number, now: number): void {
    this.#refill(now)
    this.#level = Math.min(this.#capacity, this.#level + amount)
  }

  /** Milliseconds from `now` until the bucket is full. */
  msUntilFull(now: number): number {
    this.#refill(now)
    const missing = this.#capacity - this.#level
    return missing <= EPSILON ? 0 : Math.ceil(missing / this.#perMs)
  }

  /** Fills the bucket at `now`, as if it had just been made. */
  reset(now: number): void {
    this.#level = this.#capacity
    this.#at = now
  }

  /** Changes the capacity and window (a provider said what its limits are), keeping the level within the new capacity. */
  resize(capacity: number, windowMs: number, now: number): void {
    this.#refill(now)
    this.#capacity = capacity
    this.#perMs = capacity / windowMs
    this.#level = Math.min(this.#level, capacity)
  }

  #refill(now: number): void {
    // A clock that steps back refills nothing (and does not drain the bucket either).
    if (now <= this.#at) return
    this.#level = Math.min(this.#capacity, this.#level + (now - this.#at) * this.#perMs)
    this.#at = now
  }
}
