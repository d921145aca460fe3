/**
 * The data the LAIOS-style {@link Executor} takes and returns: tasks, the session context, results,
 * progress events and metrics. Plain objects only, so results can be logged, stored or sent as JSON.
 * @module
 */
import { randomId } from '../../core/uuid.js'

/**
 * One tool call to execute (LAIOS `Task`). `toolName` names a tool of the executor's registry:
 * the built-in `fs.readFile`, `fs.listDirectory`, `fs.getInfo` and `http.fetch` stand in for
 * LAIOS's `filesystem.read_file`, `filesystem.list_directory`, `filesystem.get_info` and `web.fetch`.
 */
export interface Task {
  /** Identifies the task in results, progress events and metrics. @default a random UUID, drawn per call (use {@link createTask} to fix it once) */
  readonly id?: string
  /** The plan the task belongs to; echoed in progress events, otherwise informational. */
  readonly planId?: string
  /** What the task does, for people reading logs and reports. */
  readonly description?: string
  /** Name of the tool to run, e.g. `fs.readFile`. */
  readonly toolName: string
  /** The tool's input. Passed as data: a `{{ … }}` inside a value is never read as a template. */
  readonly parameters: Readonly<Record<string, unknown>>
}

/** A task whose id is fixed (what {@link createTask} returns). */
export type IdentifiedTask = Task & { readonly id: string }

/**
 * The session a call runs for (LAIOS `Context`). The executor does not put it into tool inputs
 * (tool schemas stay the tools' own); a tool that needs it looks it up with
 * `executor.contextOf(ctx.runId)` while the call runs. Progress events carry its `sessionId`.
 */
export interface Context {
  readonly sessionId: string
  readonly userId?: string
  /** Anything else the caller wants to carry along. */
  readonly [key: string]: unknown
}

/** Why a task did not succeed: a stable code (branch on it) and a message for people. */
export interface TaskErrorInfo {
  /** e.g. `TW_FS_NOT_FOUND`, `TW_TIMEOUT`, `TW_CANCELLED`, `TW_UNKNOWN_TOOL`, or a tool's own code. */
  readonly code: string
  readonly message: string
}

/** How many attempts a task took. */
export interface TaskResultMetadata {
  /** Attempts started (0 when the task never ran: unknown tool, cancelled while queued). */
  readonly attempts: number
  /** Attempts after the first. */
  readonly retries: number
  /**
   * Only from `executeWithRetry`: true when every allowed attempt was used and the task still
   * failed; false when it succeeded, or stopped early on a non-retryable error or a cancel.
   */
  readonly retryExhausted?: boolean
}

/** The outcome of one task (LAIOS `TaskResult`); never thrown, always returned in the task's slot. */
export interface TaskResult {
  readonly taskId: string
  readonly success: boolean
  /** The tool's output (plain JSON data) when `success` is true. */
  readonly output?: unknown
  readonly error?: TaskErrorInfo
  /** From the first attempt's start to the end, on the executor's clock (0 when it never ran). */
  readonly executionTimeMs: number
  readonly metadata: TaskResultMetadata
}

/** A named moment in a task's life, recorded when monitoring is on. */
export interface Checkpoint {
  /** `queued`, `started`, `retrying`, `progress: <message>` (or `progress <n>%`), `finished`. */
  readonly name: string
  /** Clock time, in ms (the executor's clock: only differences matter). */
  readonly at: number
  /** The attempt it belongs to, for `started`, `progress` and `retrying`. */
  readonly attempt?: number
}

/** What the executor's monitor retains about one task (LAIOS `TaskMetrics`). */
export interface TaskMetrics {
  readonly taskId: string
  readonly toolName: string
  /** Same as the result's `executionTimeMs`; 0 until the task finished. */
  readonly executionTimeMs: number
  readonly checkpoints: readonly Checkpoint[]
}

interface EventBase {
  readonly taskId: string
  readonly sessionId: string
  readonly planId?: string
  /** Clock time of the event, in ms. */
  readonly at: number
}

/** Progress event name → its data (the `data` dict of LAIOS's `on_progress(event, data)`). */
export interface ProgressEventMap {
  /** An attempt started (once per attempt). */
  started: EventBase & { readonly attempt: number; readonly toolName: string }
  /** The tool reported progress through `ctx.progress()`. */
  progress: EventBase & { readonly attempt: number; readonly fraction?: number; readonly message?: string; readonly data?: unknown }
  /** An attempt failed and another will start after `delayMs`. */
  retrying: EventBase & { readonly attempt: number; readonly delayMs: number; readonly error: TaskErrorInfo }
  /** The task ended (always the last event of a task, also when it failed or never ran). */
  finished: EventBase & { readonly result: TaskResult }
}

/** Name of a progress event. */
export type ProgressEvent = keyof ProgressEventMap

/** The data of any progress event; `data.event` repeats the name, so `if (data.event === 'progress')` narrows it. */
export type ProgressData = { [K in ProgressEvent]: { readonly event: K } & ProgressEventMap[K] }[ProgressEvent]

/**
 * Receives progress events, as LAIOS's `on_progress(event, data)`; `(event) => …` works too. A
 * listener that throws is ignored: it never changes a task's outcome.
 * @example
 * const onProgress: ProgressListener = (event, data) => {
 *   if (data.event === 'progress') console.log(data.taskId, data.message)
 *   else console.log(event, data.taskId)
 * }
 */
export type ProgressListener = (event: ProgressEvent, data: ProgressData) => void

/**
 * Makes a task with its id fixed now, so the id can be matched to results and metrics later.
 * @example
 * const readme = createTask({ toolName: 'fs.readFile', parameters: { path: 'README.md' } })
 * const [result] = await executor.executeParallel([readme], { sessionId: 's1' })
 * result.taskId === readme.id // true
 */
export function createTask(fields: Task): IdentifiedTask {
  return { ...fields, id: fields.id ?? randomId() }
}
