/**
 * One attempt of one task as a runner sees it (see `core/attempt.ts`): the plain-data request and
 * the sink it reports to. The run that dispatched it is seen only through {@link AttemptHost}.
 * @module
 */
import { attemptIdOf, plainAttemptRequest } from '../core/attempt.js'
import type { AttemptRequest, AttemptSink } from '../core/attempt.js'
import type { CancelTimer } from '../core/clock.js'
import type { ToolProgress } from '../core/tool.js'
import type { LlmUsage, ProviderLimits } from '../core/rate.js'
import type { TaskShape } from '../workflow/compile.js'
import type { TaskSpec } from '../workflow/types.js'

/** What an attempt needs of the run that dispatched it (`RunExecution` is one). */
export interface AttemptHost {
  readonly id: string
  /** The lease epoch of a durable run (1 otherwise): it goes into attempt ids after a resume. */
  readonly epoch: number
  progress(i: number, token: number, progress: ToolProgress): void
  usage(i: number, token: number, usage: LlmUsage): void
  providerLimits(i: number, token: number, limits: ProviderLimits): void
  validateAddedTask(spec: TaskSpec, earlier: readonly TaskSpec[], by: number, token: number): TaskSpec
  attemptSucceeded(i: number, token: number, value: unknown, added: readonly TaskSpec[] | undefined): void
  attemptFailed(i: number, token: number, err: unknown): void
  isCurrentAttempt(i: number, token: number): boolean
  endReasonOf(i: number, token: number): unknown
  /** Whether task `i` must not run twice (see `AttemptRequest.mustNotRepeat`). */
  mustNotRepeat(i: number): boolean
}

/**
 * One attempt, as the runner sees it: the plain-data request (its public fields) and the sink it
 * reports to (its methods), in one object per attempt. The sink carries the task index and the
 * attempt's token, so a report from an attempt that is no longer current changes nothing.
 */
export class RunAttempt implements AttemptRequest, AttemptSink {
  // The request: public fields and getters, plain data (what `toJSON` carries). The sink's state
  // is private, so it never travels with the request. The two ids are made on first read: the
  // local runner reads them only for a tool that asks, and building them for every attempt of a
  // no-op task was a tenth of its allocations. What the task's shape holds (tool, timeout,
  // priority, group) and the run's id are read through them rather than copied: every attempt
  // is one of these objects, and each field is 8 bytes of it.
  readonly taskId: string
  readonly attempt: number
  readonly input: unknown
  readonly route: string | undefined
  readonly rateKey: string | undefined
  readonly #run: AttemptHost
  readonly #shape: TaskShape
  readonly #index: number
  readonly #token: number
  /** The run's lease epoch when the attempt started (it names the attempt even if the lease moves on). */
  readonly #epoch: number
  /** What few attempts need (see {@link RareAttemptState}), made on first use. */
  #rare: RareAttemptState | undefined = undefined

  constructor(run: AttemptHost, index: number, token: number, taskId: string, attempt: number, shape: TaskShape, input: unknown, route: string | undefined, rateKey: string | undefined) {
    this.taskId = taskId
    this.attempt = attempt
    this.input = input
    this.route = route
    this.rateKey = rateKey
    this.#run = run
    this.#shape = shape
    this.#epoch = run.epoch
    this.#index = index
    this.#token = token
  }

  get runId(): string {
    return this.#run.id
  }

  get tool(): string {
    return this.#shape.toolName
  }

  /** The engine checked the input against the tool's schema before dispatch. */
  get inputChecked(): boolean {
    return true
  }

  get timeoutMs(): number | undefined {
    return this.#shape.timeoutMs
  }

  get priority(): number {
    return this.#shape.priority
  }

  get group(): string | undefined {
    return this.#shape.group
  }

  /** Names this attempt alone (see {@link attemptIdOf}). */
  get attemptId(): string {
    const rare = this.#rareState()
    return (rare.attemptId ??= attemptIdOf(this.runId, this.taskId, this.attempt, this.#epoch))
  }

  /** Stable across every attempt of the task. */
  get idempotencyKey(): string {
    return `${this.runId}/${this.taskId}`
  }

  /** Read through the run: only runners that send attempts elsewhere ask. */
  get mustNotRepeat(): boolean {
    return this.#run.mustNotRepeat(this.#index)
  }

  /** The request as plain data (what a runner that sends it elsewhere carries). */
  toJSON(): AttemptRequest {
    return plainAttemptRequest(this)
  }

  progress(progress: ToolProgress): void {
    this.#run.progress(this.#index, this.#token, progress)
  }

  usage(usage: LlmUsage): void {
    this.#run.usage(this.#index, this.#token, usage)
  }

  limits(limits: ProviderLimits): void {
    this.#run.providerLimits(this.#index, this.#token, limits)
  }

  addTask(spec: TaskSpec): TaskSpec {
    const rare = this.#rareState()
    const plain = this.#run.validateAddedTask(spec, rare.added ?? [], this.#index, this.#token)
    ;(rare.added ??= []).push(plain)
    return plain
  }

  succeeded(output: unknown): void {
    this.#run.attemptSucceeded(this.#index, this.#token, output, this.#rare?.added)
    this.#rare?.lingering?.()
  }

  failed(error: unknown): void {
    this.#run.attemptFailed(this.#index, this.#token, error)
    this.#rare?.lingering?.()
  }

  /**
   * @internal The run gave up on this attempt (it timed out, or the run was cancelled) while its
   * tool may still be running: `release` is called when the tool returns after all (its outcome,
   * stale by then, still reaches this sink), or after `boundMs` (timed by `setTimer`) if it never
   * does (then `abandoned` first).
   */
  linger(release: () => void, setTimer: (ms: number, fn: () => void) => CancelTimer, boundMs: number, abandoned: () => void): void {
    let cancelTimer: CancelTimer | undefined
    const once = (): void => {
      const rare = this.#rareState()
      if (rare.lingering !== once) return
      rare.lingering = undefined
      cancelTimer?.()
      release()
    }
    this.#rareState().lingering = once
    cancelTimer = setTimer(boundMs, () => {
      cancelTimer = undefined
      if (this.#rare?.lingering !== once) return
      abandoned()
      once()
    })
  }

  #rareState(): RareAttemptState {
    return (this.#rare ??= { attemptId: undefined, added: undefined, lingering: undefined })
  }

  isCurrent(): boolean {
    return this.#run.isCurrentAttempt(this.#index, this.#token)
  }

  endReason(): unknown {
    return this.#run.endReasonOf(this.#index, this.#token)
  }
}

/**
 * The state only some attempts need, kept apart so the attempt of a plain task stays small: its
 * id once read, the tasks it added (plain-data copies; they join only if it succeeds), and the
 * release of a permit kept while its tool runs on after the engine gave up on it.
 */
interface RareAttemptState {
  attemptId: string | undefined
  added: TaskSpec[] | undefined
  lingering: (() => void) | undefined
}
