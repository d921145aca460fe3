/**
 * A shared rate budget in one process: for tests, and for owners that share a process. Budgets
 * refill by the given clock, as the Redis adapter's do by the server's, with the same arithmetic;
 * a budget that is full again is forgotten, as a Redis key expires.
 * @module
 */
import type { Clock } from '../../core/clock.js'
import { systemClock } from '../../core/clock.js'
import { checkCharges, checkPause } from '../../core/shared-rate.js'
import type { SharedRateAnswer, SharedRateBudget, SharedRateCharge } from '../../core/shared-rate.js'

/** Shortfalls smaller than this count as none: refills are floating point, and a caller that waited the time it was told must not be refused again for a rounding error. */
const EPSILON = 1e-9

/** One budget's state: its level when last seen, and when (clock ms). */
interface Bucket {
  level: number
  at: number
}

/** Options of {@link createMemorySharedRateBudget}. */
export interface MemorySharedRateBudgetOptions {
  /** Where refills take their time from. @default the system clock */
  readonly clock?: Clock
}

/**
 * A {@link SharedRateBudget} whose budgets live in this process's memory.
 * @example
 * ```ts
 * const budget = createMemorySharedRateBudget()
 * await budget.take('openai', [{ budget: 'requests', limit: 60, windowMs: 60_000, amount: 1 }])
 * ```
 */
export function createMemorySharedRateBudget(options: MemorySharedRateBudgetOptions = {}): SharedRateBudget {
  const clock = options.clock ?? systemClock
  /** `<key>\0<budget>` → state; absent means full. */
  const buckets = new Map<string, Bucket>()
  const idOf = (key: string, budget: string): string => `${key}\0${budget}`
  /** key → clock time its pause ends; dropped once over. */
  const pauses = new Map<string, number>()
  const pausedFor = (key: string, now: number): number => {
    const until = pauses.get(key)
    if (until === undefined) return 0
    if (until > now) return Math.ceil(until - now)
    pauses.delete(key)
    return 0
  }
  /** The level of `charge`'s budget at `now`, refilled since it was last seen. */
  const levelAt = (key: string, charge: SharedRateCharge, now: number): number => {
    const bucket = buckets.get(idOf(key, charge.budget))
    if (bucket === undefined) return charge.limit
    return Math.min(charge.limit, bucket.level + (Math.max(0, now - bucket.at) * charge.limit) / charge.windowMs)
  }
  const store = (key: string, charge: SharedRateCharge, level: number, now: number): void => {
    // Full again: the same as never used.
    if (level >= charge.limit - EPSILON) buckets.delete(idOf(key, charge.budget))
    else buckets.set(idOf(key, charge.budget), { level, at: now })
  }
  return {
    take: (key, charges) =>
      answer((): SharedRateAnswer => {
        checkCharges(key, charges)
        const now = clock.now()
        let waitMs = pausedFor(key, now)
        for (const charge of charges) {
          if (charge.amount > charge.limit + EPSILON) return { granted: false, retryAfterMs: Infinity }
          const short = charge.amount - levelAt(key, charge, now)
          if (short > EPSILON) waitMs = Math.max(waitMs, Math.ceil((short * charge.windowMs) / charge.limit))
        }
        if (waitMs > 0) return { granted: false, retryAfterMs: waitMs }
        for (const charge of charges) store(key, charge, levelAt(key, charge, now) - charge.amount, now)
        return { granted: true }
      }),
    adjust: (key, charges) =>
      answer(() => {
        checkCharges(key, charges)
        const now = clock.now()
        for (const charge of charges) store(key, charge, Math.min(charge.limit, levelAt(key, charge, now) + charge.amount), now)
      }),
    pause: (key, forMs) =>
      answer(() => {
        checkPause(key, forMs)
        const until = clock.now() + forMs
        if (until > (pauses.get(key) ?? -Infinity)) pauses.set(key, until)
      }),
    level: (key, charge) =>
      answer(() => {
        checkCharges(key, [charge])
        return levelAt(key, charge, clock.now())
      }),
    close: () => Promise.resolve(),
  }
}

/** `fn()`'s result as a promise, and what it throws as a rejection (as a backend's call would). */
function answer<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn())
  } catch (err) {
    return Promise.reject(err)
  }
}
