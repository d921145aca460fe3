/** The run report: plain, serializable data describing how every task ended (what a journal, a worker or a caller may hold). @module */
import type { SerializedError } from './errors.js'
import type { RunStatus, TaskStatus } from './status.js'

/** One failed attempt of a task. */
export interface AttemptRecord {
  readonly attempt: number
  readonly startedAt: number
  readonly finishedAt: number
  readonly error: SerializedError
}

/** How one task ended. */
export interface TaskReport {
  readonly id: string
  readonly tool: string
  readonly status: TaskStatus
  /** Attempts started (0 for a task that never ran). */
  readonly attempts: number
  /** Clock time the first attempt started. */
  readonly startedAt?: number
  /** Clock time the task reached its final state. */
  readonly finishedAt?: number
  /** From the first attempt's start to the end. */
  readonly durationMs?: number
  readonly output?: unknown
  /** The last error (code, message, cause chain). */
  readonly error?: SerializedError
  /** Failed attempts before the last one. */
  readonly failedAttempts?: readonly AttemptRecord[]
  /** Why a skipped or cancelled task did not run. */
  readonly reason?: string
  /** Tasks that were skipped because this one failed. */
  readonly blocked?: readonly string[]
  /** For a forEach item: the forEach task it belongs to. */
  readonly forEachOf?: string
  /** For a task added at run time: the task whose completion (or tool) added it. */
  readonly addedBy?: string
  /** LLM tokens and cost its attempts reported (summed over attempts). */
  readonly usage?: RunUsage
  /** Times a 429 sent it back to ready without spending an attempt. */
  readonly throttled?: number
  /** The rate key its calls counted against. */
  readonly rateKey?: string
}

/** LLM usage summed over a task's attempts or a whole run. */
export interface RunUsage {
  readonly inputTokens: number
  readonly outputTokens: number
  /** US dollars, when the tools priced their calls. */
  readonly costUsd?: number
  /** Calls that reported usage. */
  readonly calls: number
}

/** The result of a run. */
export interface RunResult {
  readonly runId: string
  readonly workflowId: string
  /** SHA-256 of the definition the run executed. */
  readonly workflowHash: string
  /**
   * succeeded: no task failed. partial: some failed (or were skipped because of a failure) and
   * others succeeded. failed: `failFast` stopped the run, or tasks failed and none succeeded.
   * cancelled: the run was cancelled. A run whose budget ran out before every LLM task could
   * start is partial, with the reason in {@link reason}.
   */
  readonly status: RunStatus
  /**
   * Wall-clock start, ISO 8601: when `run()`/`start()` made the run (a durable run: when its store
   * accepted it and it started).
   */
  readonly startedAt: string
  /** From the run's start to its end on the engine's clock; 0 for a run cancelled before it started. */
  readonly durationMs: number
  /** Task counts per final state. */
  readonly counts: Readonly<Record<TaskStatus, number>>
  /** Every task, workflow order first, then items and added tasks. */
  readonly tasks: Readonly<Record<string, TaskReport>>
  /** Ids of failed tasks. */
  readonly failed: readonly string[]
  /** Why the run was cancelled or stopped early, when it was. */
  readonly reason?: string
  /** LLM tokens and cost reported by the run's tasks, when any reported usage. */
  readonly usage?: RunUsage
}
