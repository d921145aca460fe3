/** The `ctx` a tool receives for one attempt. @module */
import { CancelledError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { Clock } from '../core/clock.js'
import type { ToolContext, ToolProgress } from '../core/tool.js'
import type { TaskSpec } from '../workflow/types.js'
import type { TaskNode } from './task-node.js'

/** What an attempt context needs from its run. */
export interface AttemptHost {
  readonly id: string
  runSignal(): AbortSignal
  progress(node: TaskNode, token: number, progress: ToolProgress): void
  baseLogger(): Logger
  readonly clock: Clock
  validateAddedTask(spec: TaskSpec, alsoTaken: ReadonlySet<string>, by: TaskNode, token: number): void
}

/** A tool's context; its signal and logger are created only when the tool asks for them. */
export class AttemptContext implements ToolContext {
  /** Tasks this attempt added; committed only if the attempt succeeds. */
  spawned: TaskSpec[] | undefined
  readonly #host: AttemptHost
  readonly #node: TaskNode
  readonly #token: number
  /** This attempt's number, fixed: a later retry of the same task must not change what this one reports. */
  readonly #attempt: number
  #logger: Logger | undefined

  constructor(host: AttemptHost, node: TaskNode, token: number) {
    this.#host = host
    this.#node = node
    this.#token = token
    this.#attempt = node.attempts
  }

  get signal(): AbortSignal {
    const node = this.#node
    // An attempt that already ended (timed out, failed, cancelled) gets an aborted signal.
    if (node.token !== this.#token || node.status !== 'running') return AbortSignal.abort(new CancelledError('this attempt is over'))
    if (node.controller === undefined) {
      const controller = new AbortController()
      node.controller = controller
      const runSignal = this.#host.runSignal()
      if (runSignal.aborted) controller.abort(runSignal.reason)
    }
    return node.controller.signal
  }

  get runId(): string {
    return this.#host.id
  }

  get taskId(): string {
    return this.#node.id
  }

  get attempt(): number {
    return this.#attempt
  }

  get idempotencyKey(): string {
    return `${this.#host.id}/${this.#node.id}`
  }

  get clock(): Clock {
    return this.#host.clock
  }

  get logger(): Logger {
    return (this.#logger ??= this.#host.baseLogger().child({ runId: this.#host.id, taskId: this.#node.id, attempt: this.#attempt }))
  }

  progress(progress: ToolProgress): void {
    this.#host.progress(this.#node, this.#token, progress)
  }

  addTask(task: TaskSpec): void {
    const taken = new Set((this.spawned ?? []).map((t) => t.id))
    this.#host.validateAddedTask(task, taken, this.#node, this.#token)
    ;(this.spawned ??= []).push(task)
  }
}
