/**
 * One attempt on a worker: the sink the local runner reports to, which turns the tool's reports
 * into plain-data reports for the owner and settles once with the attempt's outcome.
 * @module
 */
import type { AttemptOutcome, AttemptSink } from '../core/attempt.js'
import { serializeError } from '../core/errors.js'
import type { LlmUsage, ProviderLimits } from '../core/rate.js'
import type { ToolProgress } from '../core/tool.js'
import type { AttemptReport } from '../core/transport.js'
import type { TaskSpec } from '../core/spec.js'
import { plainTaskSpec } from '../engine/plain-spec.js'
import { toPlainData } from '../engine/plain-data.js'

/** Where a worker attempt sends its reports (to the attempt's owner). */
export type ReportSender = (report: AttemptReport) => void

/** The sink of one attempt run on a worker. */
export class WorkerAttempt implements AttemptSink {
  readonly attemptId: string
  /** The work queue it came from. */
  readonly queue: string
  /** Resolves once with how the attempt ended. */
  readonly outcome: Promise<AttemptOutcome>
  readonly #taskId: string
  readonly #send: ReportSender
  readonly #maxOutputBytes: number
  #added: TaskSpec[] | undefined
  #settle!: (outcome: AttemptOutcome) => void
  #ended = false
  #endReason: unknown

  constructor(attemptId: string, taskId: string, queue: string, send: ReportSender, maxOutputBytes: number) {
    this.attemptId = attemptId
    this.queue = queue
    this.#taskId = taskId
    this.#send = send
    this.#maxOutputBytes = maxOutputBytes
    this.outcome = new Promise((resolve) => (this.#settle = resolve))
  }

  progress(progress: ToolProgress): void {
    if (!this.#ended) this.#send({ kind: 'progress', attemptId: this.attemptId, progress })
  }

  /** Checked for structure here (plain data); the owner checks references and duplicates when it commits. */
  addTask(spec: TaskSpec): TaskSpec {
    const plain = plainTaskSpec(spec)
    ;(this.#added ??= []).push(plain)
    return plain
  }

  usage(usage: LlmUsage): void {
    this.#send({ kind: 'usage', attemptId: this.attemptId, usage })
  }

  limits(limits: ProviderLimits): void {
    this.#send({ kind: 'limits', attemptId: this.attemptId, limits })
  }

  succeeded(output: unknown): void {
    if (this.#ended) return
    let plain: unknown
    try {
      // What cannot travel as JSON fails here, naming the task, not as a broker error.
      plain = toPlainData(output, this.#maxOutputBytes, this.#taskId)
    } catch (err) {
      this.failed(err)
      return
    }
    this.#end(undefined)
    this.#settle(this.#added === undefined ? { attemptId: this.attemptId, ok: true, output: plain } : { attemptId: this.attemptId, ok: true, output: plain, added: this.#added })
  }

  failed(error: unknown): void {
    if (this.#ended) return
    this.#end(error)
    this.#settle({ attemptId: this.attemptId, ok: false, error: serializeError(error) })
  }

  /** The owner cancelled the attempt (its timeout, a failure elsewhere, the run's cancel): the tool's signal says why. */
  cancelled(reason: unknown): void {
    this.failed(reason)
  }

  isCurrent(): boolean {
    return !this.#ended
  }

  endReason(): unknown {
    return this.#endReason
  }

  #end(reason: unknown): void {
    this.#ended = true
    this.#endReason = reason
  }
}
