/**
 * The `ctx` a tool receives from the local runner. Its signal and logger are made only when the
 * tool asks for them, so a tool that never looks costs nothing; a tool that asks after its attempt
 * ended gets a signal already aborted with the reason it ended.
 * @module
 */
import type { AttemptRequest, AttemptSink } from '../core/attempt.js'
import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/logger.js'
import type { ToolContext, ToolProgress } from '../core/tool.js'
import type { LlmUsage, ProviderLimits } from '../core/rate.js'
import type { TaskSpec } from '../workflow/types.js'

/** Where a context registers once its tool asked for a signal (so a cancel can reach it). */
export interface SignalRegistry {
  track(ctx: LocalToolContext): void
}

/** A tool's context for one local attempt. */
export class LocalToolContext implements ToolContext {
  readonly #request: AttemptRequest
  readonly #sink: AttemptSink
  readonly #registry: SignalRegistry
  readonly #env: { readonly clock: Clock; readonly logger: Logger }
  #controller: AbortController | undefined
  #logger: Logger | undefined
  /** Whether the runner tracks this attempt (its tool asked for the signal while it ran). */
  tracked = false

  constructor(request: AttemptRequest, sink: AttemptSink, registry: SignalRegistry, env: { readonly clock: Clock; readonly logger: Logger }) {
    this.#request = request
    this.#sink = sink
    this.#registry = registry
    this.#env = env
  }

  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal
    const controller = (this.#controller = new AbortController())
    if (!this.#sink.isCurrent()) controller.abort(this.#sink.endReason())
    else {
      this.tracked = true
      this.#registry.track(this)
    }
    return controller.signal
  }

  /** @internal Aborts this attempt's signal (made now if the tool has not asked for it yet). */
  abort(reason: unknown): void {
    ;(this.#controller ??= new AbortController()).abort(reason)
  }

  get attemptId(): string {
    return this.#request.attemptId
  }

  get runId(): string {
    return this.#request.runId
  }

  get taskId(): string {
    return this.#request.taskId
  }

  get attempt(): number {
    return this.#request.attempt
  }

  get idempotencyKey(): string {
    return this.#request.idempotencyKey
  }

  get clock(): Clock {
    return this.#env.clock
  }

  get logger(): Logger {
    const r = this.#request
    return (this.#logger ??= this.#env.logger.child({ runId: r.runId, taskId: r.taskId, attempt: r.attempt, attemptId: r.attemptId }))
  }

  progress(progress: ToolProgress): void {
    this.#sink.progress(progress)
  }

  addTask(task: TaskSpec): void {
    this.#sink.addTask(task)
  }

  reportUsage(usage: LlmUsage): void {
    this.#sink.usage(usage)
  }

  reportLimits(limits: ProviderLimits): void {
    this.#sink.limits(limits)
  }
}
