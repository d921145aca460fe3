/**
 * The standard streaming shape of an agent execution (the seed's `StreamingChunk`) and the buffered
 * iterator that carries it to the consumer.
 *
 * A stream is `delta*` followed by exactly one `done` or one `error`; `index` counts every chunk
 * from 0. Failures arrive as an `error` chunk (plain data), never as a thrown error, so a consumer
 * of a long stream handles one shape. The execution runs whether or not the consumer reads: chunks
 * are buffered, nothing is lost, and the session's next execution is never held up by a slow reader.
 * Calling `return()` on the iterator (a `break` out of `for await`) aborts the execution.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import { CancelledError, serializeError } from '../core/errors.js'
import type { SerializedError } from '../core/errors.js'
import type { AgentExecutionContext, AnyAgent } from './define-agent.js'
import { WakeList } from '../core/wake-list.js'
import { callAgent, reportableAgentError } from './guard.js'

/** One chunk of a streamed execution. */
export type AgentChunk<Data = unknown, Result = unknown> =
  /** A piece of output, as the agent's `stream()` yielded it. */
  | { readonly type: 'delta'; readonly data: Data; readonly index: number }
  /** The end: `data` is the agent stream's return value (or `execute()`'s output when the agent has no `stream`). */
  | { readonly type: 'done'; readonly data?: Result; readonly index: number }
  /** The execution failed (or was cancelled): the error as plain data, with its code. Last chunk. */
  | { readonly type: 'error'; readonly data: SerializedError; readonly index: number }

/** A buffered, single-consumer iterator of chunks; the pool writes, the caller reads. */
export class ChunkStream<Data> implements AsyncIterableIterator<AgentChunk<Data>> {
  readonly #stop = new AbortController()
  #buffer: AgentChunk<Data>[] = []
  #index = 0
  /** No more chunks will be written (the last one was, or the consumer left). */
  #sealed = false
  /** The `next()` calls waiting for a chunk (the protocol allows several at once). */
  readonly #waiting = new WakeList()

  /** Aborts when the consumer stops reading; the pool folds it into the execution's signal. */
  get stopSignal(): AbortSignal {
    return this.#stop.signal
  }

  /** Writes a `delta` chunk. */
  delta(data: Data): void {
    this.#push({ type: 'delta', data, index: this.#index })
  }

  /** Writes the `done` chunk and seals the stream. */
  done(data: unknown): void {
    this.#push(data === undefined ? { type: 'done', index: this.#index } : { type: 'done', data, index: this.#index })
    this.#seal()
  }

  /** Writes the `error` chunk and seals the stream. */
  fail(err: unknown): void {
    this.#push({ type: 'error', data: serializeError(err), index: this.#index })
    this.#seal()
  }

  async next(): Promise<IteratorResult<AgentChunk<Data>, undefined>> {
    while (this.#buffer.length === 0 && !this.#sealed) {
      await this.#waiting.next()
    }
    const chunk = this.#buffer.shift()
    return chunk === undefined ? { done: true, value: undefined } : { done: false, value: chunk }
  }

  /** Stops reading: drops what is buffered and aborts the execution (if it still runs). */
  async return(): Promise<IteratorResult<AgentChunk<Data>, undefined>> {
    if (!this.#sealed) this.#stop.abort(new CancelledError('the stream consumer stopped reading'))
    this.#buffer = []
    this.#seal()
    return { done: true, value: undefined }
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  #push(chunk: AgentChunk<Data>): void {
    if (this.#sealed) return
    this.#buffer.push(chunk)
    this.#index++
    this.#wakeReader()
  }

  #seal(): void {
    this.#sealed = true
    this.#wakeReader()
  }

  #wakeReader(): void {
    this.#waiting.wakeAll()
  }
}

/**
 * Feeds one streamed execution into `chunks`; falls back to `execute` for agents without `stream`.
 * Every call into the agent's code (the stream, its iterator's `next` and `return`, reading a
 * step) goes through the pool's guard, so what it throws arrives as a reportable error.
 */
/** Where {@link pumpStream} writes: a {@link ChunkStream}, or an engine task reporting its chunks. */
export interface ChunkSink {
  delta(data: unknown): void
  done(data: unknown): void
}

export async function pumpStream(agent: AnyAgent, instance: unknown, input: unknown, ctx: AgentExecutionContext, chunks: ChunkSink): Promise<void> {
  const onThrown = reportableAgentError(agent.name, ctx.sessionId)
  if (agent.stream === undefined) {
    chunks.done(await callAgent(() => agent.execute(instance, input, ctx), onThrown))
    return
  }
  const startStream = agent.stream.bind(agent)
  const iterator = await callAgent(() => {
    const stream = startStream(instance, input, ctx) as Partial<AsyncIterable<unknown>> | null | undefined
    // Said plainly, and not retryable: another try of the same code returns the same thing.
    if (typeof stream?.[Symbol.asyncIterator] !== 'function') throw new TaskweaveError('TW_INVALID_OPTION', `agent "${agent.name}": stream() must return an AsyncIterable (an async generator); it returned ${stream === null ? 'null' : typeof stream === 'object' && typeof (stream as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function' ? 'a synchronous iterable' : typeof stream}`, { retryable: false, details: { agent: agent.name } })
    return (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]()
  }, onThrown)
  for (;;) {
    const step = await callAgent(async () => {
      const result: IteratorResult<unknown, unknown> = await iterator.next()
      return { done: result.done === true, value: result.value }
    }, onThrown)
    if (step.done) {
      chunks.done(step.value)
      return
    }
    if (ctx.signal.aborted) {
      // The agent kept yielding after the abort: close its iterator so its `finally` blocks run.
      await callAgent(() => iterator.return?.(), onThrown)
      throw ctx.signal.reason
    }
    chunks.delta(step.value)
  }
}
