/**
 * A consumer of one or more memory queues with one concurrency bound across all of them (a
 * transport worker takes from its work queues and its own route). Modes:
 *
 * - **taking**: whenever a slot is free and a source has a ready message, it takes one (sources
 *   in turn, so one busy queue cannot starve the others) and runs `run(lease, source)` on a later
 *   macrotask turn (`setImmediate`). A slot stays taken until `run` returns, whether or not it
 *   settled its lease earlier: the bound counts handlers running, not messages held.
 * - **closing** (`close`, the signal, or a source destroyed): takes nothing more, waits for the
 *   running handlers for at most `graceMs` on the queue's clock, then hands every lease still
 *   unsettled to `abandon` (the message goes back to its queue, delivery counted).
 * - **closed**: `close()` again returns the same promise.
 * @module
 */
import type { Clock } from '../../core/clock.js'
import { setClockTimer } from '../../core/clock-timer.js'
import type { Lease, QueueState } from './queue-state.js'

/** Default time `close()` waits for running handlers. */
export const DEFAULT_GRACE_MS = 30_000

/** What a consumer is made of. */
export interface ConsumerParts {
  readonly sources: readonly QueueState[]
  readonly concurrency: number
  readonly clock: Clock
  /** Runs the handler for a lease; settles it (ack or nack) when the handler did not. Must not reject. */
  readonly run: (lease: Lease, source: QueueState) => Promise<void>
  /** Gives back a lease still unsettled after the grace. */
  readonly abandon: (lease: Lease, source: QueueState) => void
  readonly signal?: AbortSignal | undefined
}

/** A running consumer over memory queues. */
export class MemoryConsumer {
  readonly #parts: ConsumerParts
  readonly #running = new Map<Lease, { readonly source: QueueState; readonly done: Promise<void> }>()
  readonly #unwatch: (() => void)[]
  #next = 0
  #closing: Promise<void> | undefined
  readonly #onAbort = (): void => void this.close()

  constructor(parts: ConsumerParts) {
    this.#parts = parts
    this.#unwatch = parts.sources.map((source) =>
      source.watch((event) => {
        if (event === 'ready') this.#pump()
        // The queue is gone and its leases with it: nothing to wait for or give back.
        else void this.close({ graceMs: 0 })
      }),
    )
    if (parts.signal?.aborted === true) void this.close()
    else {
      parts.signal?.addEventListener('abort', this.#onAbort, { once: true })
      this.#pump()
    }
  }

  /** Handlers running now. */
  get running(): number {
    return this.#running.size
  }

  /** Stops taking, waits for running handlers up to `graceMs`, gives back what is still unsettled. Idempotent. */
  close(options: { readonly graceMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.graceMs ?? DEFAULT_GRACE_MS)
    return this.#closing
  }

  async #close(graceMs: number): Promise<void> {
    for (const unwatch of this.#unwatch) unwatch()
    this.#parts.signal?.removeEventListener('abort', this.#onAbort)
    if (this.#running.size > 0 && graceMs > 0) {
      let cancel = (): void => {}
      const grace = new Promise<void>((resolve) => {
        cancel = setClockTimer(this.#parts.clock, graceMs, resolve)
      })
      await Promise.race([Promise.all([...this.#running.values()].map((r) => r.done)), grace])
      cancel()
    }
    for (const [lease, { source }] of this.#running) {
      if (source.holds(lease)) this.#parts.abandon(lease, source)
    }
    this.#running.clear()
  }

  #pump(): void {
    const { sources, concurrency } = this.#parts
    while (this.#closing === undefined && this.#running.size < concurrency) {
      let taken: { readonly lease: Lease; readonly source: QueueState } | undefined
      for (let k = 0; k < sources.length && taken === undefined; k++) {
        const source = sources[(this.#next + k) % sources.length] as QueueState
        const lease = source.take()
        if (lease !== undefined) {
          taken = { lease, source }
          this.#next = (this.#next + k + 1) % sources.length
        }
      }
      if (taken === undefined) return
      const { lease, source } = taken
      // Started on a later macrotask turn, never inside enqueue() or another handler's ack(): a
      // handler that keeps giving its message back at once would otherwise redeliver it on
      // microtasks alone and starve timers and I/O (a broker has a network round trip here).
      const done = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => this.#parts.run(lease, source))
        .finally(() => {
          if (this.#running.get(lease)?.done !== done) return
          this.#running.delete(lease)
          this.#pump()
        })
      this.#running.set(lease, { source, done })
    }
  }
}
