/**
 * The data of the BeeAI-style {@link WorkflowOrchestrator}: agents, agent tasks, completion
 * handlers and the workflow result with partial completion.
 * @module
 */
import type { Duration } from '../../core/duration.js'
import type { Logger } from '../../core/logger.js'
import type { ToolProgress } from '../../core/tool.js'
import type { RunResult } from '../../engine/report.js'
import type { RunStatus, TaskStatus } from '../../engine/states.js'
import type { RetrySpec } from '../../workflow/types.js'

/** What an agent receives as its task's data: the `data` of its {@link AgentTask}, as given. */
export type AgentData = Readonly<Record<string, unknown>>

/** What an agent receives besides its data. */
export interface AgentContext {
  /** Aborted when the attempt times out or the workflow is cancelled: pass it to every wait and I/O call. */
  readonly signal: AbortSignal
  readonly taskId: string
  readonly agentType: string
  /** 1 for the first attempt, 2 for the first retry… */
  readonly attempt: number
  readonly runId: string
  readonly logger: Logger
  /** Output of each task this one depends on, by task id (read through `{{ tasks.<id>.output }}`). */
  readonly dependencies: Readonly<Record<string, unknown>>
  /** Reports progress; becomes a `task:progress` event. */
  progress(progress: ToolProgress): void
}

/** An agent as a function. Its return value (or what its promise resolves to) is the task's output: plain JSON data. */
export type AgentFunction = (data: AgentData, ctx: AgentContext) => unknown

/** An agent as an object with a `process` method (the shape of BeeAI's agent classes). */
export interface AgentObject {
  process(data: AgentData, ctx: AgentContext): unknown
}

/** An agent: a function or an object with `process(data, ctx)`. */
export type AgentHandler = AgentFunction | AgentObject

/** One task of the workflow (BeeAI `AgentTask`). */
export interface AgentTask {
  /** Unique in the workflow: letters, digits, `_` and `-`, at most 128 characters. */
  readonly id: string
  /** Key of the agent that runs it, in the orchestrator's `agents`. */
  readonly agentType: string
  /** Given to the agent as is (never read as a template). @default {} */
  readonly data?: AgentData
  /** Tasks that must succeed first; their outputs arrive in `ctx.dependencies`. @default [] */
  readonly dependencies?: readonly string[]
  /** Concurrency group, capped by the orchestrator's `concurrencyLimits[group]`. */
  readonly concurrencyGroup?: string
  /** Higher runs first when slots are scarce. @default 0 */
  readonly priority?: number
  /** Retry policy (the engine's: `maxAttempts`, `initialDelay`, `factor`, `maxDelay`, `jitter`, `retryOn`). @default one attempt */
  readonly retry?: Partial<RetrySpec>
  /** Per-attempt time limit: ms, or a string like `'30s'`. */
  readonly timeout?: Duration
  readonly description?: string
  /**
   * The rate key its calls count against (`openai:gpt-4o`), budgeted by the orchestrator's
   * `rates` or the engine's: a provider's quota shared by every task that calls it.
   */
  readonly rateKey?: string
}

/** What a completion handler learns about the task that ended. */
export interface AgentTaskResult {
  readonly taskId: string
  /** `succeeded`, `failed`, or `skipped` (a dependency did not succeed). */
  readonly status: TaskStatus
  /** The agent's output, when it succeeded. */
  readonly output: unknown
  readonly error?: { readonly code: string; readonly message: string }
}

/** Handed to completion handlers: adds tasks to the running workflow, credited to the task that ended. */
export interface OrchestratorControl {
  readonly runId: string
  /** Same checks as `WorkflowOrchestrator.addTask`; the task joins this run and its report (`addedBy`). */
  addTask(task: AgentTask): void
}

/** Called when a task ends (succeeded, failed or skipped); may add tasks when `dynamicTasks` is on. */
export type TaskCompleteListener = (result: AgentTaskResult, orchestrator: OrchestratorControl) => void | Promise<void>

/** Why a task did not succeed. */
export interface TaskFailure {
  readonly code: string
  readonly message: string
  /** Attempts started (0 when it was cancelled before it ran). */
  readonly attempts: number
  /** Tasks skipped because this one failed. */
  readonly blocked: readonly string[]
}

/** A completion handler that threw or rejected (the run goes on without it). */
export interface HandlerFailure {
  readonly taskId: string
  readonly code: string
  readonly message: string
}

/**
 * The outcome of `executeWorkflow()`. `partial` means some tasks succeeded and others failed or
 * were skipped because of a failure: `results` holds what was done, `errors` and `skipped` what was not.
 */
export interface WorkflowResult {
  readonly status: RunStatus
  /** Output of every task that succeeded, by id (static and added tasks alike). */
  readonly results: Readonly<Record<string, unknown>>
  /** Every failed or cancelled task, by id. */
  readonly errors: Readonly<Record<string, TaskFailure>>
  /** Every skipped task, by id, with the reason (e.g. `upstream task "x" failed`). */
  readonly skipped: Readonly<Record<string, string>>
  /** Completion handlers that failed, in the order they failed. */
  readonly handlerErrors: readonly HandlerFailure[]
  /** The engine's full run report (attempts, timings, `addedBy`…). */
  readonly report: RunResult
}
