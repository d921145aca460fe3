/**
 * Cooperative multitasking for work that stays on the main thread (seed 003, "resource-intensive
 * agents"): a long loop that yields to the event loop now and then lets timers, I/O and other
 * tasks run in between. Prefer a worker tool for real CPU work; use this where moving the work to
 * a thread is not worth it (a loop over in-memory state, incremental parsing).
 * @module
 */
import { systemClock } from '../core/clock.js'
import type { Clock } from '../core/clock.js'

/** Lets every pending callback run (a macrotask turn), then throws if `signal` aborted meanwhile. */
export async function yieldToEventLoop(signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve))
  signal?.throwIfAborted()
}

/** Options of {@link createYielder}. */
export interface YielderOptions {
  /** Longest stretch (ms) of work between two yields. @default 10 */
  readonly budgetMs?: number
  /** Checked at every yield. */
  readonly signal?: AbortSignal
  /** @default the system clock */
  readonly clock?: Clock
}

/**
 * Returns a function to call often inside a hot loop: it yields only once the time budget since
 * the last yield is spent, so calling it every iteration is cheap.
 * @example
 * const pause = createYielder({ budgetMs: 10, signal: ctx.signal })
 * for (const row of rows) {
 *   score(row)
 *   await pause()
 * }
 */
export function createYielder(options: YielderOptions = {}): () => Promise<void> {
  const budgetMs = options.budgetMs ?? 10
  const clock = options.clock ?? systemClock
  let since = clock.now()
  return async () => {
    if (clock.now() - since < budgetMs) return
    await yieldToEventLoop(options.signal)
    since = clock.now()
  }
}
