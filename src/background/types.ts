/** Public types of background work: what is submitted, what a task looks like, how it ended. @module */
import type { SerializedError } from '../core/errors.js'
import type { Duration } from '../core/duration.js'
import type { ToolProgress } from '../core/tool.js'
import type { Clock } from '../core/clock.js'
import type { RunResult } from '../core/report.js'
import type { WorkflowInput } from '../workflow/input.js'
import type { StateMachine } from '../fsm/define.js'
import type { BackgroundFinalStatus, BackgroundStatus } from './states.js'

declare const VALUE: unique symbol

/**
 * A task id, `${conversationId}:${name}:${n}`. A plain string at run time; the type remembers what
 * the task resolves to, so `result(id)` is typed. Any string is accepted where an id is expected.
 */
export type BackgroundTaskId<T = unknown> = string & { readonly [VALUE]?: T }

/**
 * What the executor needs from an engine: its clock, and `start` for workflow tasks. An engine
 * made by `createEngine()` is one; the executor sits below the engine and names only this port.
 */
export interface BackgroundEngine {
  readonly clock: Clock
  start(definition: WorkflowInput, options: { readonly signal?: AbortSignal; readonly inputs?: Readonly<Record<string, unknown>> }): { readonly result: Promise<RunResult> }
}

/** What a function task receives. */
export interface BackgroundContext {
  /** Aborted when the task is cancelled, times out, or its conversation ends. Pass it to every I/O call. */
  readonly signal: AbortSignal
  readonly taskId: string
  readonly conversationId: string
  readonly name: string
  /** Records progress; the latest is shown by `status(id).progress`. */
  readonly progress: (progress: ToolProgress) => void
}

/** A function task. */
export type BackgroundFunction<T> = (ctx: BackgroundContext) => Promise<T> | T

/** What kind of work a task runs. */
export type BackgroundKind = 'function' | 'workflow' | 'state-machine'

/** Options common to every submit. */
export interface SubmitBase {
  /** The conversation the task belongs to; `endConversation` cancels and removes all of them. */
  readonly conversationId: string
  /** A short name (ids are `${conversationId}:${name}:${n}`). */
  readonly name: string
  /** Time limit from the task's start. @default the executor's `defaultTimeout` (none) */
  readonly timeout?: Duration
  /** Aborting it cancels the task. */
  readonly signal?: AbortSignal
  /** Higher starts first when the executor's `maxConcurrent` places are taken. @default 0 */
  readonly priority?: number
}

/** Submits a function. */
export interface SubmitFunction<T> extends SubmitBase {
  readonly run: BackgroundFunction<T>
}

/** Submits a workflow (anything `engine.start` accepts); needs an engine. */
export interface SubmitWorkflow extends SubmitBase {
  readonly run: WorkflowInput
  /** Values for the workflow's declared inputs. */
  readonly inputs?: Readonly<Record<string, unknown>>
}

/** Submits a state machine. */
export interface SubmitStateMachine<C, S extends string> extends SubmitBase {
  readonly run: StateMachine<C, S>
  /** Initial context for this run. @default the machine's context */
  readonly context?: C
}

/** Any submit. */
export type SubmitOptions = SubmitFunction<unknown> | SubmitWorkflow | SubmitStateMachine<unknown, string>

/**
 * How a task ended: delivered by `result`, `peek`, `onComplete`, `completions` and `drainInbox`.
 * `value` is the function's value, the `RunResult` of a workflow (also when it failed), or the
 * `StateMachineResult` of a machine (also when it failed, was cancelled or timed out: then it holds
 * the transitions made so far).
 */
export interface BackgroundOutcome<T = unknown> {
  readonly taskId: BackgroundTaskId<T>
  readonly conversationId: string
  readonly name: string
  readonly kind: BackgroundKind
  readonly status: BackgroundFinalStatus
  readonly value?: T
  /** Code (`TW_TIMEOUT`, `TW_CANCELLED`, `TW_RUN_FAILED`, the thrown error's…), message, cause chain. */
  readonly error?: SerializedError
  /** Clock times, in ms. */
  readonly submittedAt: number
  readonly startedAt?: number
  readonly finishedAt: number
  /** From the start (or the submit, for a task that never started) to the end. */
  readonly durationMs: number
}

/** A task as `status` and `list` show it. */
export interface BackgroundTaskInfo {
  readonly taskId: string
  readonly conversationId: string
  readonly name: string
  readonly kind: BackgroundKind
  readonly status: BackgroundStatus
  readonly submittedAt: number
  readonly startedAt?: number
  readonly finishedAt?: number
  /** Until now for a running task. */
  readonly durationMs?: number
  /** The latest progress a function task reported. */
  readonly progress?: ToolProgress
}

/** Sizes of the executor's bookkeeping (for monitoring, and for tests of its memory bound). */
export interface BackgroundStats {
  /** Tasks known (pending, running and finished ones not yet removed). */
  readonly tasks: number
  /** Pending and running tasks. */
  readonly active: number
  /** Finished tasks kept for `result`/`peek` (≤ `maxFinished`). */
  readonly finished: number
  /** Conversations with tasks or listeners. */
  readonly conversations: number
  /** Completions waiting in inboxes. */
  readonly inboxed: number
}
