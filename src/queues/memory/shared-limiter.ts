/**
 * A shared limiter in one process: for tests, and for owners that share a process. Leases expire
 * by the given clock, as a backend's do by its own.
 * @module
 */
import type { Clock } from '../../core/clock.js'
import { systemClock } from '../../core/clock.js'
import type { SharedLimiter, SharedPermit } from '../../core/shared-limiter.js'

/** A {@link SharedLimiter} whose places live in this process's memory. */
export function createMemorySharedLimiter(options: { readonly clock?: Clock } = {}): SharedLimiter {
  const clock = options.clock ?? systemClock
  /** key → holder → lease end (clock ms). */
  const places = new Map<string, Map<string, number>>()
  const live = (key: string): Map<string, number> => {
    const held = places.get(key) ?? new Map<string, number>()
    const now = clock.now()
    for (const [holder, until] of held) if (until <= now) held.delete(holder)
    places.set(key, held)
    return held
  }
  return {
    tryAcquire(key, limit, holder, ttlMs) {
      const held = live(key)
      if (!held.has(holder) && held.size >= limit) return Promise.resolve(false)
      held.set(holder, clock.now() + ttlMs)
      return Promise.resolve(true)
    },
    release(key, holder) {
      places.get(key)?.delete(holder)
      return Promise.resolve()
    },
    renew(permits: readonly SharedPermit[], ttlMs) {
      for (const { key, holder } of permits) {
        const held = live(key)
        if (held.has(holder)) held.set(holder, clock.now() + ttlMs)
      }
      return Promise.resolve()
    },
    held: (key) => Promise.resolve(live(key).size),
    close: () => Promise.resolve(),
  }
}
