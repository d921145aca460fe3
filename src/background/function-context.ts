/**
 * What a function task receives. One object per task and nothing else: its abort signal and its
 * `progress` function are made only when the function reads them, because most short functions
 * read neither, and a signal, a getter closure and a progress closure per task were most of what a
 * submit allocated.
 * @module
 */
import type { ToolProgress } from '../core/tool.js'
import type { Entry } from './records.js'
import { isFinal } from './states.js'
import type { BackgroundContext } from './types.js'

/** The context of one function task. */
export class FunctionContext implements BackgroundContext {
  readonly taskId: string
  readonly conversationId: string
  readonly name: string
  readonly #entry: Entry
  readonly #signalOf: (entry: Entry) => AbortSignal
  #progress: ((progress: ToolProgress) => void) | undefined

  /** @param signalOf the executor's lazy signal of a task (created on first read) */
  constructor(entry: Entry, signalOf: (entry: Entry) => AbortSignal) {
    this.taskId = entry.id
    this.conversationId = entry.conversation.id
    this.name = entry.name
    this.#entry = entry
    this.#signalOf = signalOf
  }

  /** Aborted when the task is cancelled, times out, or its conversation ends. */
  get signal(): AbortSignal {
    return this.#signalOf(this.#entry)
  }

  /** Records progress (ignored once the task ended); a function, so it can be destructured. */
  get progress(): (progress: ToolProgress) => void {
    const entry = this.#entry
    return (this.#progress ??= (progress) => {
      if (!isFinal(entry.status)) entry.progress = progress
    })
  }
}
