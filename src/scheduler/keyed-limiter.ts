/**
 * The keyed limiter: engine-wide permits per key (`group:llm`, `session:agent#s1`, …), shared by
 * every run, background function and agent execution of one engine.
 *
 * A key allows `limit` holders at once. The limit travels with each request rather than living on
 * the key, so two workflows that declare different caps for one group each see their own cap
 * against the same engine-wide count (a run with `llm: 1` waits while any `llm` call is in flight;
 * a run with `llm: 4` may join up to four). Requests that cannot be served at once wait per key in
 * `priority` order (higher first), then first come first served across every run — so no run can
 * starve another at equal priority. A freed permit is granted on a microtask, never inside
 * `release()`: the releasing code finishes its own bookkeeping before anyone starts anything.
 *
 * Modes of one key: idle (no holder, no waiter; the key is dropped) → busy (holders below or at
 * the limit) → contended (waiters queued). Triggers: `tryAcquire`, `wait`, `release`, `forget`.
 * Pure: no timers, no I/O; the next issue's rate budgets plug in as another check per key.
 * @module
 */

import { heapPop, heapPush, heapRemove } from './waiter-heap.js'
import { onMicrotask, uncaughtOnThrow } from '../core/microtask.js'

/** Someone who can be handed a permit it waited for (a run, the background executor, the agent pool). */
export interface PermitHolder {
  /**
   * Receives the permit for `key` asked for with `ticket`. Returns false when it has no use for it
   * any more (its task was cancelled): the permit then goes to the next waiter.
   */
  permitGranted(key: string, ticket: number): boolean
}

/** One queued request. */
interface Waiter {
  readonly holder: PermitHolder
  readonly ticket: number
  readonly limit: number
  readonly priority: number
  readonly seq: number
}

/** State of one key while it has holders or waiters. */
class KeyState {
  inUse = 0
  /** Waiters, a binary heap: higher priority first, then lower seq (older) first. */
  readonly waiters: Waiter[] = []
}

/**
 * The state of a key nobody holds, for code that keeps one object of the class alive so that its
 * shape outlives idle keys (see `engine/shape-anchors.ts`).
 */
export function keyStateExample(): object {
  return new KeyState()
}

/** A snapshot of one key, for `engine.stats()` and tests. */
export interface KeyStats {
  readonly key: string
  readonly inUse: number
  readonly waiting: number
}

/** Engine-wide permits per key. */
export class KeyedLimiter {
  readonly #keys = new Map<string, KeyState>()
  #seq = 0
  /** Keys with a permit freed while waiters queue, to serve on the next microtask. */
  readonly #toDrain = new Set<string>()
  #drainScheduled = false

  /** Takes a permit of `key` if fewer than `limit` are held and nobody waits ahead; false otherwise (nothing queued). */
  tryAcquire(key: string, limit: number): boolean {
    const state = this.#keys.get(key)
    if (state === undefined) {
      if (limit < 1) return false
      const fresh = new KeyState()
      fresh.inUse = 1
      this.#keys.set(key, fresh)
      return true
    }
    if (state.inUse >= limit || state.waiters.length > 0) return false
    state.inUse++
    return true
  }

  /**
   * Takes a permit of `key` whatever its limit, for work that holds one already in substance (a
   * task that was running when its process stopped, taken over after the restart): those asking
   * after it wait until it gives the permit back. Give it back with {@link release}.
   */
  hold(key: string): void {
    let state = this.#keys.get(key)
    if (state === undefined) {
      state = new KeyState()
      this.#keys.set(key, state)
    }
    state.inUse++
  }

  /**
   * Queues a request for a permit of `key`; `holder.permitGranted(key, ticket)` is called once it
   * is granted. A request never jumps ahead of one of equal or higher priority that waits already.
   */
  wait(key: string, limit: number, holder: PermitHolder, ticket: number, priority = 0): void {
    let state = this.#keys.get(key)
    if (state === undefined) {
      state = new KeyState()
      this.#keys.set(key, state)
    }
    heapPush(state.waiters, { holder, ticket, limit, priority, seq: this.#seq++ })
    // A request that could be served now (the key has room) must not wait for a release.
    if (state.inUse < limit) this.#scheduleDrain(key)
  }

  /**
   * Takes a permit of `key` for code that awaits (the agent pool, background work): resolves once
   * it is held, in the same priority-then-arrival order as every other request of the key; rejects
   * with the signal's reason if the signal aborts first (the request leaves the queue). Give the
   * permit back with {@link release}.
   */
  acquire(key: string, limit: number, options: { readonly priority?: number; readonly signal?: AbortSignal } = {}): Promise<void> {
    const signal = options.signal
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error)
    if (this.tryAcquire(key, limit)) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const onAbort = (): void => {
        if (settled) return
        settled = true
        this.forget(holder)
        reject(signal?.reason as Error)
      }
      const holder: PermitHolder = {
        permitGranted: () => {
          if (settled) return false
          settled = true
          signal?.removeEventListener('abort', onAbort)
          resolve()
          return true
        },
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.wait(key, limit, holder, 0, options.priority ?? 0)
    })
  }

  /** Gives back one permit of `key`. */
  release(key: string): void {
    const state = this.#keys.get(key)
    if (state === undefined) return
    state.inUse--
    if (state.waiters.length > 0) this.#scheduleDrain(key)
    else if (state.inUse <= 0) this.#keys.delete(key)
  }

  /** Drops every queued request of `holder` (its run ended, or it was cancelled). Permits it holds stay held until released. */
  forget(holder: PermitHolder): void {
    // Most runs end with no key in use: the walk below (and its closure's context) is skipped.
    if (this.#keys.size > 0) this.#forgetIn(holder)
  }

  #forgetIn(holder: PermitHolder): void {
    for (const [key, state] of this.#keys) {
      if (!heapRemove(state.waiters, (w) => w.holder === holder)) continue
      if (state.waiters.length === 0 && state.inUse <= 0) this.#keys.delete(key)
      else this.#scheduleDrain(key)
    }
  }

  /** Permits held and requests waiting, per key in use. */
  stats(): KeyStats[] {
    return [...this.#keys].map(([key, state]) => ({ key, inUse: state.inUse, waiting: state.waiters.length }))
  }

  /** Permits of `key` held now. */
  inUse(key: string): number {
    return this.#keys.get(key)?.inUse ?? 0
  }

  #scheduleDrain(key: string): void {
    this.#toDrain.add(key)
    if (this.#drainScheduled) return
    this.#drainScheduled = true
    onMicrotask(this.#drainNow)
  }

  /** {@link #drain} bound once; what a granted holder throws surfaces as an uncaught exception. */
  readonly #drainNow = uncaughtOnThrow(() => this.#drain())

  #drain(): void {
    this.#drainScheduled = false
    const keys = [...this.#toDrain]
    this.#toDrain.clear()
    for (const key of keys) {
      const state = this.#keys.get(key)
      if (state === undefined) continue
      // The head waiter decides: a later one with a higher limit does not overtake it, so a
      // strict workflow's task is not starved by laxer ones.
      while (state.waiters.length > 0 && state.inUse < (state.waiters[0] as Waiter).limit) {
        const next = heapPop(state.waiters)
        state.inUse++
        if (!next.holder.permitGranted(key, next.ticket)) state.inUse--
      }
      if (state.waiters.length === 0 && state.inUse <= 0) this.#keys.delete(key)
    }
  }
}
