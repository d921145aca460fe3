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
  start(definition: WorkflowInput, options: { readonly signal?: AbortSignal; readonly inputs?: Readonly<Record<string, unknown>>; readonly labels?: Readonly<Record<string, string>> }): { readonly id: string; readonly result: Promise<RunResult> }
  /** The durable side of background work: present when the engine has a run store. */
  readonly records?: BackgroundRecorder
}

/**
 * Keeps background work across restarts: an engine with a run store provides it. Workflows are
 * durable runs labelled with their conversation; functions and state machines get a record that
 * says they started and how they ended, so after a crash they come back (a state machine whose
 * definition is given again restarts) or are reported lost (a function cannot be resumed).
 */
export interface BackgroundRecorder {
  /** Records a function or state machine that starts now. */
  open(work: BackgroundWorkRecord): BackgroundRecordHandle
  /**
   * Takes over the unfinished background work of the store's conversations (after a restart),
   * leaving this engine's own and the tasks `known` names (already held by the executor).
   */
  recover(machineNames: ReadonlySet<string>, known: (taskId: string) => boolean): Promise<RecoveredWork[]>
  /** Removes the finished records of a conversation (its durable runs included). */
  forget(conversationId: string): Promise<void>
  /** Resolves once every record write begun so far (a creation, a finish) is done. */
  settled(): Promise<void>
  /** Whether the record with run id `runId` is of work alive in this engine. */
  holds(runId: string): boolean
}

/** What a background record says of a function or state machine. */
export interface BackgroundWorkRecord {
  /** `queued-workflow`: a workflow still waiting for a place (its durable run is made when it starts). */
  readonly kind: 'function' | 'state-machine' | 'queued-workflow'
  readonly name: string
  readonly conversationId: string
  readonly taskId: string
  /** A state machine's name and its initial context (JSON data), to restart it. */
  readonly machine?: { readonly name: string; readonly context: unknown }
  /** When its timeout ends (epoch ms), if it has one: a recovered task keeps its deadline. */
  readonly deadline?: number
  /** True for work still waiting for a place: its record says when it starts ({@link BackgroundRecordHandle.started}). */
  readonly queued?: boolean
  /** The timeout of work still waiting for a place, in ms: it starts when the work does. */
  readonly timeoutMs?: number
  /** The submit's priority of work still waiting for a place. */
  readonly priority?: number
}

/** The label holding when a background task's timeout ends (epoch ms, as text) on its stored record or run. */
export const BACKGROUND_DEADLINE_LABEL = 'backgroundDeadline'

/** An open background record. */
export interface BackgroundRecordHandle {
  /** Writes that work recorded while it waited for a place has started (it then holds one), with its deadline (epoch ms), if it has one. */
  started(deadline?: number): void
  /** Writes how the work ended; resolves once that is durable (it never rejects). */
  finish(status: BackgroundFinalStatus): Promise<void>
  /**
   * Calls `listener` (at once if it happened already) when the record is lost before the work
   * ended: another process took its lease (it may run the work now), or the store gave it up.
   */
  whenLost(listener: (reason: string) => void): void
}

/** What `ConcurrentExecutor.recover()` took over. */
export interface RecoverySummary {
  /** Workflow runs resumed under their conversations. */
  readonly workflows: number
  /** State machines restarted (their definitions were given). */
  readonly stateMachines: number
  /** Functions (and state machines not given) reported lost: `failed` with `TW_LOST`. */
  readonly lost: number
}

/** Background work found unfinished in the store, taken over by this process. */
export type RecoveredWork = (
  | { readonly kind: 'workflow'; readonly conversationId: string; readonly taskId: string; readonly name: string; readonly result: Promise<RunResult>; readonly cancel: (reason: string) => void }
  | { readonly kind: 'lost'; readonly work: 'function' | 'state-machine' | 'workflow'; readonly conversationId: string; readonly taskId: string; readonly name: string; readonly record: BackgroundRecordHandle }
  | {
      readonly kind: 'state-machine'
      readonly conversationId: string
      readonly taskId: string
      readonly name: string
      readonly machine: string
      readonly context: unknown
      readonly record: BackgroundRecordHandle
      /** It was still waiting for a place: it waits for one again instead of starting at once. */
      readonly queued: boolean
      /** The timeout it was submitted with, when it was still waiting (its deadline had not begun). */
      readonly timeoutMs?: number
      /** Its submit's priority, when it was still waiting. */
      readonly priority?: number
    }
) & {
  /** When the task's timeout ends (epoch ms), if it had one. */
  readonly deadline?: number | undefined
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
  /**
   * The task's id, chosen by the caller (the seed's `task_id="conversation123:my_task"`) instead
   * of `${conversationId}:${name}:${n}`. Refused while the executor still knows a task of that id
   * (running, or finished and not yet forgotten). @default generated
   */
  readonly taskId?: string
  /** Time limit from the task's start. @default the executor's `defaultTimeout` (none) */
  readonly timeout?: Duration
  /** Aborting it cancels the task. */
  readonly signal?: AbortSignal
  /** Higher starts first when the executor's `maxConcurrent` places are taken. @default 0 */
  readonly priority?: number
  /**
   * Whether the task is kept in the engine's run store (when the engine has one), so that after a
   * restart `background.recover()` brings it back under its conversation. @default true
   */
  readonly durable?: boolean
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
  /**
   * The run of a workflow task, once it started: its events on `engine.events` carry it, and a
   * durable one is in `engine.store` under it.
   */
  readonly runId?: string
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
