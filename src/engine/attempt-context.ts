/** The `ctx` a tool receives for one attempt. @module */
import type { Logger } from '../core/logger.js'
import type { Clock } from '../core/clock.js'
import type { ToolContext, ToolProgress } from '../core/tool.js'
import type { TaskSpec } from '../workflow/types.js'

/** What an attempt context needs from its run; tasks are named by index, attempts by token. */
export interface AttemptHost {
  readonly id: string
  /** Whether the attempt holding `token` is still the running attempt of task `index`. */
  isCurrentAttempt(index: number, token: number): boolean
  /**
   * The abort signal of attempt `token` of task `index`, made on first use. An attempt that is
   * already over gets a signal aborted with the reason it ended (its timeout, its failure, the
   * run's cancellation).
   */
  attemptSignal(index: number, token: number): AbortSignal
  taskId(index: number): string
  progress(index: number, token: number, progress: ToolProgress): void
  baseLogger(): Logger
  readonly clock: Clock
  /** Checks a task the attempt adds (throws `TW_VALIDATION`) and returns the plain-data copy that will join. */
  validateAddedTask(spec: TaskSpec, earlier: readonly TaskSpec[], by: number, token: number): TaskSpec
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
    return this.#host.attemptSignal(this.#index, this.#token)
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
    const plain = this.#host.validateAddedTask(task, this.spawned ?? [], this.#index, this.#token)
    ;(this.spawned ??= []).push(plain)
  }
}
