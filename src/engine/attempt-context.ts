/** The `ctx` a tool receives for one attempt. @module */
import { CancelledError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { Clock } from '../core/clock.js'
import type { ToolContext, ToolProgress } from '../core/tool.js'
import type { TaskSpec } from '../workflow/types.js'

/** What an attempt context needs from its run; tasks are named by index, attempts by token. */
export interface AttemptHost {
  readonly id: string
  /** Whether the attempt holding `token` is still the running attempt of task `index`. */
  isCurrentAttempt(index: number, token: number): boolean
  /** The abort signal of the running attempt of task `index` (made on first use). */
  attemptSignal(index: number): AbortSignal
  taskId(index: number): string
  progress(index: number, token: number, progress: ToolProgress): void
  baseLogger(): Logger
  readonly clock: Clock
  validateAddedTask(spec: TaskSpec, alsoTaken: ReadonlySet<string>, by: number, token: number): void
}

/** A tool's context; its signal and logger are created only when the tool asks for them. */
export class AttemptContext implements ToolContext {
  /** Tasks this attempt added; committed only if the attempt succeeds. */
  spawned: TaskSpec[] | undefined
  readonly #host: AttemptHost
  readonly #index: number
  readonly #token: number
  /** This attempt's number, fixed: a later retry of the same task must not change what this one reports. */
  readonly #attempt: number
  #logger: Logger | undefined

  constructor(host: AttemptHost, index: number, token: number, attempt: number) {
    this.#host = host
    this.#index = index
    this.#token = token
    this.#attempt = attempt
  }

  get signal(): AbortSignal {
    // An attempt that already ended (timed out, failed, cancelled) gets an aborted signal.
    if (!this.#host.isCurrentAttempt(this.#index, this.#token)) return AbortSignal.abort(new CancelledError('this attempt is over'))
    return this.#host.attemptSignal(this.#index)
  }

  get runId(): string {
    return this.#host.id
  }

  get taskId(): string {
    return this.#host.taskId(this.#index)
  }

  get attempt(): number {
    return this.#attempt
  }

  get idempotencyKey(): string {
    return `${this.#host.id}/${this.#host.taskId(this.#index)}`
  }

  get clock(): Clock {
    return this.#host.clock
  }

  get logger(): Logger {
    return (this.#logger ??= this.#host.baseLogger().child({ runId: this.#host.id, taskId: this.#host.taskId(this.#index), attempt: this.#attempt }))
  }

  progress(progress: ToolProgress): void {
    this.#host.progress(this.#index, this.#token, progress)
  }

  addTask(task: TaskSpec): void {
    const taken = new Set((this.spawned ?? []).map((t) => t.id))
    this.#host.validateAddedTask(task, taken, this.#index, this.#token)
    ;(this.spawned ??= []).push(task)
  }
}
