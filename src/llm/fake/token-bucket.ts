/**
 * A token bucket refilled continuously, the way OpenAI-style providers count requests and tokens
 * per minute: it holds at most `capacity`, gains `refillPerMs` every millisecond, and a call may
 * take from it only what it holds. Pure: every method takes the current time, so the arithmetic
 * is tested with explicit times and no sleeps.
 * @module
 */

/**
 * Shortfalls smaller than this count as none. The refill is `elapsed × rate` in floating point:
 * a client that waited exactly the advertised `retry-after-ms` may find `0.9999999999` where
 * `1` is due, and must not be refused again for it.
 */
const EPSILON = 1e-9

/** The answer of {@link TokenBucket.take}. */
export type TakeResult =
  /** Taken: the bucket is lower by the amount. */
  | { readonly ok: true; readonly waitMs: 0 }
  /**
   * Not taken (the bucket is unchanged): `waitMs` until it will hold the amount, or `Infinity`
   * when the amount exceeds the capacity and never can.
   */
  | { readonly ok: false; readonly waitMs: number }

/** A continuously refilled bucket; starts full. */
export class TokenBucket {
  /** The most the bucket holds. */
  readonly capacity: number
  /** What the bucket gains per millisecond. */
  readonly refillPerMs: number
  #level: number
  #at: number

  /**
   * @param capacity the most the bucket holds (e.g. the RPM quota).
   * @param refillPerMs what it gains per millisecond (e.g. `rpm / 60_000`).
   * @param now the current time in ms; the bucket is full at that time.
   */
  constructor(capacity: number, refillPerMs: number, now: number) {
    if (!(capacity > 0) || !Number.isFinite(capacity)) throw new RangeError(`capacity must be a finite number > 0; received ${capacity}`)
    if (!(refillPerMs > 0) || !Number.isFinite(refillPerMs)) throw new RangeError(`refillPerMs must be a finite number > 0; received ${refillPerMs}`)
    this.capacity = capacity
    this.refillPerMs = refillPerMs
    this.#level = capacity
    this.#at = now
  }

  /** What the bucket holds at `now` (below zero while it is in debt, see {@link refund}). */
  level(now: number): number {
    this.#refill(now)
    return this.#level
  }

  /** Milliseconds from `now` until the bucket holds `amount` (0 if it does; `Infinity` if `amount > capacity`). */
  waitMs(amount: number, now: number): number {
    if (amount > this.capacity + EPSILON) return Infinity
    const short = amount - this.level(now)
    return short <= EPSILON ? 0 : short / this.refillPerMs
  }

  /** Takes `amount` if the bucket holds it at `now`; otherwise takes nothing and says how long to wait. */
  take(amount: number, now: number): TakeResult {
    const waitMs = this.waitMs(amount, now)
    if (waitMs > 0) return { ok: false, waitMs }
    this.#level -= amount
    return { ok: true, waitMs: 0 }
  }

  /**
   * Gives back `amount` at `now` (a reservation larger than what was used), never above the
   * capacity. A negative amount charges more than was reserved and may leave the bucket below
   * zero: a provider bills an answer that outgrew its reservation, and later callers wait for it.
   */
  refund(amount: number, now: number): void {
    this.#refill(now)
    this.#level = Math.min(this.capacity, this.#level + amount)
  }

  /** Milliseconds from `now` until the bucket is full again (what `x-ratelimit-reset-*` reports). */
  msUntilFull(now: number): number {
    const missing = this.capacity - this.level(now)
    return missing <= EPSILON ? 0 : missing / this.refillPerMs
  }

  /** Fills the bucket at `now`, as if it had just been made. */
  reset(now: number): void {
    this.#level = this.capacity
    this.#at = now
  }

  #refill(now: number): void {
    // A clock that steps back refills nothing (and does not drain the bucket either).
    if (now <= this.#at) return
    this.#level = Math.min(this.capacity, this.#level + (now - this.#at) * this.refillPerMs)
    this.#at = now
  }
}
