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

/** Finish-ordered set of ids with a TTL and a size bound. */
export class FinishedIndex {
  /** id → expiry time; Map iteration order is insertion order, i.e. oldest first. */
  readonly #expiry = new Map<string, number>()
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

  get size(): number {
    return this.#expiry.size
  }

  /** Records that `id` just finished; evicts the oldest entries beyond the bound. */
  add(id: string): void {
    if (this.#closed) return
    this.#expiry.set(id, this.#clock.now() + this.#ttlMs)
    while (this.#expiry.size > this.#max) {
      const oldest = this.#expiry.keys().next().value as string
      this.#expiry.delete(oldest)
      this.#onEvict(oldest)
    }
    this.#arm()
  }

  /** Forgets `id` without calling `onEvict` (its owner is removing it). */
  delete(id: string): void {
    this.#expiry.delete(id)
    if (this.#expiry.size === 0) this.#disarm()
  }

  /** Stops the timer; later adds are ignored. */
  close(): void {
    this.#closed = true
    this.#disarm()
  }

  #arm(): void {
    if (this.#cancelTimer !== undefined || !Number.isFinite(this.#ttlMs)) return
    const oldest = this.#expiry.values().next()
    if (oldest.done === true) return
    this.#cancelTimer = housekeepingTimer(this.#clock, Math.max(0, oldest.value - this.#clock.now()), () => {
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
    const expired: string[] = []
    for (const [id, expiresAt] of this.#expiry) {
      if (expiresAt > now) break
      expired.push(id)
    }
    for (const id of expired) {
      this.#expiry.delete(id)
      this.#onEvict(id)
    }
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
