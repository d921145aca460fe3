/**
 * The finished tasks an executor still remembers, oldest first, bounded twice: by age (`ttlMs` on
 * the clock) and by count (`max`, the oldest evicted first).
 *
 * Because every entry lives the same `ttlMs`, finish order is expiry order: the oldest entry is
 * always the next to expire. So one timer, armed for the oldest entry only, serves the whole
 * index, however many tasks finish (a timer per task would cost a timer per task, and a manual
 * clock's timer list would grow with them). Pure bookkeeping: the owner drops its own records in
 * `onEvict`.
 * @module
 */
import { setLongTimeout, systemClock } from '../core/clock.js'
import type { CancelTimer, Clock } from '../core/clock.js'
import { setClockTimer } from '../core/clock-timer.js'

/**
 * Finish-ordered set of ids with a TTL and a size bound.
 *
 * A FIFO of parallel arrays (ids, expiry times) read from `#head`, plus a Set of the ids still
 * live. Not a Map iterated from its start: V8 leaves a deleted Map entry as a hole until the next
 * rehash, so finding the oldest entry after many evictions walks every hole, and 100,000 tasks
 * through a 10,000 bound took most of a second in this one step. `delete` only drops the id from
 * the live set; its slot is skipped when it reaches the head, and the arrays are compacted once
 * more than half of them is dead, so memory follows the live size.
 */
export class FinishedIndex {
  /** Ids in finish order, from `#head`; an id no longer in `#live` is a dead slot. */
  #ids: string[] = []
  /** Expiry time of the id in the same slot. */
  #expiries: number[] = []
  #head = 0
  readonly #live = new Set<string>()
  readonly #clock: Clock
  readonly #ttlMs: number
  readonly #max: number
  readonly #onEvict: (id: string) => void
  #cancelTimer: CancelTimer | undefined
  #closed = false

  /** @param onEvict called for every id removed by age or by the bound (not by {@link delete}) */
  constructor(clock: Clock, ttlMs: number, max: number, onEvict: (id: string) => void) {
    this.#clock = clock
    this.#ttlMs = ttlMs
    this.#max = max
    this.#onEvict = onEvict
  }

  /** Ids currently remembered. */
  get size(): number {
    return this.#live.size
  }

  /**
   * Records that `id` just finished; evicts the oldest entries beyond the bound.
   * @param now the clock time of the finish, when the caller has it (saves a clock read per task)
   */
  add(id: string, now?: number): void {
    if (this.#closed) return
    this.#ids.push(id)
    // The clock is read only when a TTL applies: `Infinity` needs no expiry time.
    this.#expiries.push(Number.isFinite(this.#ttlMs) ? (now ?? this.#clock.now()) + this.#ttlMs : Infinity)
    this.#live.add(id)
    while (this.#live.size > this.#max) this.#evictOldest()
    this.#arm()
  }

  /** Forgets `id` without calling `onEvict` (its owner is removing it). */
  delete(id: string): void {
    if (!this.#live.delete(id)) return
    if (this.#live.size === 0) {
      this.#reset()
      this.#disarm()
    } else if (this.#ids.length - this.#head > 2 * this.#live.size + 64) {
      this.#compact()
    }
  }

  /** Stops the timer; later adds are ignored. */
  close(): void {
    this.#closed = true
    this.#disarm()
  }

  /** Removes the head slot and reports it when it was live. */
  #evictOldest(): void {
    const id = this.#ids[this.#head] as string
    this.#head++
    if (this.#live.delete(id)) this.#onEvict(id)
    if (this.#head === this.#ids.length) this.#reset()
    else if (this.#head >= 1024 && this.#head * 2 >= this.#ids.length) this.#compact()
  }

  /** Skips dead slots at the head; the expiry of the oldest live id, if any. */
  #oldestExpiry(): number | undefined {
    while (this.#head < this.#ids.length && !this.#live.has(this.#ids[this.#head] as string)) this.#head++
    return this.#head < this.#ids.length ? this.#expiries[this.#head] : undefined
  }

  #reset(): void {
    this.#ids = []
    this.#expiries = []
    this.#head = 0
  }

  /** Drops the consumed head and every dead slot, keeping finish order. */
  #compact(): void {
    const ids: string[] = []
    const expiries: number[] = []
    for (let i = this.#head; i < this.#ids.length; i++) {
      const id = this.#ids[i] as string
      if (!this.#live.has(id)) continue
      ids.push(id)
      expiries.push(this.#expiries[i] as number)
    }
    this.#ids = ids
    this.#expiries = expiries
    this.#head = 0
  }

  #arm(): void {
    if (this.#cancelTimer !== undefined || !Number.isFinite(this.#ttlMs)) return
    const oldest = this.#oldestExpiry()
    if (oldest === undefined) return
    this.#cancelTimer = housekeepingTimer(this.#clock, Math.max(0, oldest - this.#clock.now()), () => {
      this.#cancelTimer = undefined
      this.#sweep()
    })
  }

  #disarm(): void {
    this.#cancelTimer?.()
    this.#cancelTimer = undefined
  }

  #sweep(): void {
    const now = this.#clock.now()
    for (let oldest = this.#oldestExpiry(); oldest !== undefined && oldest <= now; oldest = this.#oldestExpiry()) this.#evictOldest()
    this.#arm()
  }
}

/**
 * Housekeeping must never keep a process alive (an executor nobody closed would otherwise hold it
 * for up to `ttlMs` after its last task). The Clock port cannot unref a timer, so on the system
 * clock the sweep uses an unref'd Node timer directly; any injected clock is used through the port.
 * Either way a TTL past 2^31 ms is chained, not handed to one timer: a single `setTimeout` would
 * fire after 1 ms, find nothing expired and re-arm, a loop that kept a core 12% busy.
 */
function housekeepingTimer(clock: Clock, ms: number, fn: () => void): CancelTimer {
  if (clock !== systemClock) return setClockTimer(clock, ms, fn)
  return setLongTimeout(ms, fn, { unref: true })
}
