/**
 * The finished tasks an executor still remembers, oldest first, bounded twice: by age (`ttlMs` on
 * the clock) and by count (`max`, the oldest evicted first). It holds the owner's records and
 * marks membership with a flag on them (no hash table to update per task).
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

/** A record the index can hold: the index alone sets and clears its flag. */
export interface Indexable {
  /** True while the record is in a {@link FinishedIndex}. */
  inFinishedIndex: boolean
}

/**
 * Finish-ordered set of records with a TTL and a size bound.
 *
 * A FIFO of parallel arrays (records, expiry times) read from `#head`; a record whose flag is
 * cleared is a dead slot. Not a Map iterated from its start: V8 leaves a deleted Map entry as a
 * hole until the next rehash, so finding the oldest entry after many evictions walks every hole,
 * and 100,000 tasks through a 10,000 bound took most of a second in this one step. `delete` only
 * clears the flag; the slot is skipped when it reaches the head, and the arrays are compacted once
 * more than half of them is dead, so memory follows the live size.
 */
export class FinishedIndex<T extends Indexable> {
  /** Records in finish order, from `#head`; one whose flag is cleared is a dead slot. */
  #items: T[] = []
  /** Expiry time of the record in the same slot. */
  #expiries: number[] = []
  #head = 0
  #size = 0
  readonly #clock: Clock
  readonly #ttlMs: number
  readonly #max: number
  readonly #onEvict: (item: T) => void
  #cancelTimer: CancelTimer | undefined
  #closed = false

  /** @param onEvict called for every record removed by age or by the bound (not by {@link delete}) */
  constructor(clock: Clock, ttlMs: number, max: number, onEvict: (item: T) => void) {
    this.#clock = clock
    this.#ttlMs = ttlMs
    this.#max = max
    this.#onEvict = onEvict
  }

  /** Records currently remembered. */
  get size(): number {
    return this.#size
  }

  /**
   * Records that `item` just finished; evicts the oldest records beyond the bound. Ignored for a
   * record already in the index.
   * @param now the clock time of the finish, when the caller has it (saves a clock read per task)
   */
  add(item: T, now?: number): void {
    if (this.#closed || item.inFinishedIndex) return
    item.inFinishedIndex = true
    this.#items.push(item)
    // The clock is read only when a TTL applies: `Infinity` needs no expiry time.
    this.#expiries.push(Number.isFinite(this.#ttlMs) ? (now ?? this.#clock.now()) + this.#ttlMs : Infinity)
    this.#size++
    while (this.#size > this.#max) this.#evictOldest()
    this.#arm()
  }

  /** Forgets `item` without calling `onEvict` (its owner is removing it). */
  delete(item: T): void {
    if (!item.inFinishedIndex) return
    item.inFinishedIndex = false
    this.#size--
    if (this.#size === 0) {
      this.#reset()
      this.#disarm()
    } else if (this.#items.length - this.#head > 2 * this.#size + 64) {
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
    const item = this.#items[this.#head] as T
    this.#head++
    if (item.inFinishedIndex) {
      item.inFinishedIndex = false
      this.#size--
      this.#onEvict(item)
    }
    if (this.#head === this.#items.length) this.#reset()
    else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) this.#compact()
  }

  /** Skips dead slots at the head; the expiry of the oldest live record, if any. */
  #oldestExpiry(): number | undefined {
    while (this.#head < this.#items.length && !(this.#items[this.#head] as T).inFinishedIndex) this.#head++
    return this.#head < this.#items.length ? this.#expiries[this.#head] : undefined
  }

  #reset(): void {
    this.#items = []
    this.#expiries = []
    this.#head = 0
  }

  /** Drops the consumed head and every dead slot, keeping finish order. */
  #compact(): void {
    const items: T[] = []
    const expiries: number[] = []
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as T
      if (!item.inFinishedIndex) continue
      items.push(item)
      expiries.push(this.#expiries[i] as number)
    }
    this.#items = items
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
