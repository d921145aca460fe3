/**
 * What a function task receives. One object per task and nothing else: its abort signal and its
 * `progress` function are made only when the function reads them, because most short functions
 * read neither, and a signal, a getter closure and a progress closure per task were most of what a
 * submit allocated. The context also follows the function's promise for the executor (two bound
 * methods, no closure scope).
 * @module
 */
import type { ToolProgress } from '../core/tool.js'
import { whenSettled } from '../core/returned.js'
import type { Entry } from './records.js'
import { newConversation, newEntry } from './records.js'
import { isFinal } from './states.js'
import type { BackgroundContext } from './types.js'

/** What a function task's context needs from its executor. */
export interface FunctionHost {
  /** The task's signal, created on first read. */
  signalOf(entry: Entry): AbortSignal
  /** The function's promise settled (or its `then` could not be read). */
  settled(entry: Entry, succeeded: boolean, valueOrError: unknown): void
}

/** The context of one function task. */
export class FunctionContext implements BackgroundContext {
  readonly taskId: string
  readonly conversationId: string
  readonly name: string
  readonly #entry: Entry
  readonly #host: FunctionHost
  #progress: ((progress: ToolProgress) => void) | undefined

  constructor(entry: Entry, host: FunctionHost) {
    this.taskId = entry.id
    this.conversationId = entry.conversation.id
    this.name = entry.name
    this.#entry = entry
    this.#host = host
  }

  /** Aborted when the task is cancelled, times out, or its conversation ends. */
  get signal(): AbortSignal {
    return this.#host.signalOf(this.#entry)
  }

  /** Records progress (ignored once the task ended); a function, so it can be destructured. */
  get progress(): (progress: ToolProgress) => void {
    const entry = this.#entry
    return (this.#progress ??= (progress) => {
      if (!isFinal(entry.status)) entry.progress = progress
    })
  }

  /**
   * Reports to `ctx`'s host how `returned` (an object its function returned: a promise, a thenable
   * or a value) settles. Static, so the object a function receives has no such method.
   */
  static follow(ctx: FunctionContext, returned: object): void {
    whenSettled(returned, ctx.#fulfilled.bind(ctx), ctx.#rejected.bind(ctx))
  }

  #fulfilled(value: unknown): void {
    this.#host.settled(this.#entry, true, value)
  }

  #rejected(error: unknown): void {
    this.#host.settled(this.#entry, false, error)
  }
}

/**
 * One context of no task, kept for the life of the process once an executor exists. V8 frees the
 * hidden classes of a class none of whose objects is alive at a full collection, and throws away
 * the optimized code that checked them: a process whose background work comes in bursts would
 * otherwise run each burst after an idle collection in unoptimized code. This object (and the
 * conversation lists it holds) keeps them. See `engine/shape-anchors.ts`.
 */
let kept: FunctionContext | undefined

/** Makes {@link kept} on the first call. */
export function keepFunctionContextShape(): void {
  kept ??= new FunctionContext(newEntry('', newConversation(''), '', 'function', 0), NO_HOST)
}

/** The host of the kept context: it never runs, so nothing calls it. */
const NO_HOST: FunctionHost = {
  signalOf: () => new AbortController().signal,
  settled: () => undefined,
}
