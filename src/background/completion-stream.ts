/**
 * One `completions(conversationId)` subscriber: an async iterator over the outcomes pushed to it.
 * Buffered, so a consumer busy with a turn loses nothing; it ends (after the buffered outcomes) on
 * `end()`, on its signal, or when the consumer stops iterating, and then unregisters itself.
 * @module
 */
import { WakeList } from '../core/wake-list.js'
import type { BackgroundOutcome } from './types.js'

/** Async iterator of one conversation's completions. */
export class CompletionStream implements AsyncIterableIterator<BackgroundOutcome> {
  readonly #buffer: BackgroundOutcome[] = []
  readonly #onEnd: (stream: CompletionStream) => void
  readonly #signal: AbortSignal | undefined
  /** The `next()` calls waiting for an outcome (the protocol allows several at once). */
  readonly #waiting = new WakeList()
  #ended = false

  /** @param onEnd unregisters the stream from its conversation (called once) */
  constructor(onEnd: (stream: CompletionStream) => void, signal?: AbortSignal) {
    this.#onEnd = onEnd
    this.#signal = signal
    if (signal?.aborted === true) this.end()
    else signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  /** Queues an outcome for the consumer. Ignored once ended. */
  push(outcome: BackgroundOutcome): void {
    if (this.#ended) return
    this.#buffer.push(outcome)
    this.#waiting.wakeAll()
  }

  /** Ends the stream: the consumer still gets what is buffered, then `done`. Idempotent. */
  end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#onEnd(this)
    this.#waiting.wakeAll()
  }

  async next(): Promise<IteratorResult<BackgroundOutcome, undefined>> {
    for (;;) {
      const outcome = this.#buffer.shift()
      if (outcome !== undefined) return { value: outcome, done: false }
      if (this.#ended) return { value: undefined, done: true }
      await this.#waiting.next()
    }
  }

  /** Called by `break` in a `for await`: ends the stream and drops what is buffered. */
  async return(): Promise<IteratorResult<BackgroundOutcome, undefined>> {
    this.end()
    this.#buffer.length = 0
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  readonly #onAbort = (): void => this.end()
}
