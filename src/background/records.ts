/**
 * The executor's records: one per task (live fields dropped when it ends, so a finished task
 * costs little) and one per conversation, plus the pure functions that turn a record into what
 * callers see.
 * @module
 */
import { InvalidOptionError, serializeError } from '../core/errors.js'
import { checkPriority, checkSignal, refuseUnknownOptions } from '../core/known-options.js'
import type { ToolProgress } from '../core/tool.js'
import { isStorableText, STORABLE_TEXT } from '../core/storable-text.js'
import type { PermitHolder } from '../scheduler/keyed-limiter.js'
import { isStateMachine } from '../fsm/define.js'
import type { CompletionStream } from './completion-stream.js'
import { EntryList } from './entry-list.js'
import type { BackgroundFinalStatus, BackgroundStatus } from './states.js'
import type { BackgroundKind, BackgroundOutcome, BackgroundRecordHandle, BackgroundTaskInfo, SubmitOptions } from './types.js'

/** A conversation's books. */
export interface Conversation {
  readonly id: string
  /** Every task of the conversation still remembered (`remembered`), in submit order. */
  readonly tasks: EntryList<Entry>
  /** Finished tasks not yet drained (`inInbox`; a subset of `tasks`). */
  readonly inbox: EntryList<Entry>
  readonly streams: Set<CompletionStream>
}

/** One task's books. */
export interface Entry {
  readonly id: string
  readonly conversation: Conversation
  readonly name: string
  readonly kind: BackgroundKind
  /** Taken over from the run store by `recover()` (not submitted in this process). */
  recovered?: boolean
  readonly submittedAt: number
  status: BackgroundStatus
  startedAt: number | undefined
  progress: ToolProgress | undefined
  /** The run of a workflow task, once it started. */
  runId?: string
  outcome: BackgroundOutcome | undefined
  // Live-only fields, dropped when the task ends.
  controller: AbortController | undefined
  cancelTimer: (() => void) | undefined
  /** The limiter key of the `maxConcurrent` place the task holds, if any. */
  permit: string | undefined
  /** Its request in the limiter's queue while it waits for such a place (forgotten if it ends first). */
  placeRequest: PermitHolder | undefined
  unhookSignal: (() => void) | undefined
  snapshot: ((error: unknown) => unknown) | undefined
  /** The task's record in the run store (a durable function or state machine), until it ends. */
  record: BackgroundRecordHandle | undefined
  /** Settles once what the store keeps of the task is final (its record or its run finished). */
  durableDone: Promise<unknown> | undefined
  /** What `result()` returned while the task runs, and its resolver. */
  waiting: Promise<BackgroundOutcome> | undefined
  resolveWaiting: ((outcome: BackgroundOutcome) => void) | undefined
  // Membership flags (see EntryList and FinishedIndex): no hash table per list.
  /** In the executor's tasks and its conversation's `tasks`. */
  remembered: boolean
  /** In its conversation's `inbox`. */
  inInbox: boolean
  /** In the executor's finished index. */
  inFinishedIndex: boolean
  /** Its number in the executor's task table (see TaskTable), -1 when not numbered. */
  key: number
}

/** An empty conversation. */
export function newConversation(id: string): Conversation {
  return { id, tasks: new EntryList(isRemembered), inbox: new EntryList(isInInbox), streams: new Set() }
}

function isRemembered(entry: Entry): boolean {
  return entry.remembered
}

function isInInbox(entry: Entry): boolean {
  return entry.inInbox
}

/** A pending task. Every field is present from the start, so all entries share one object shape. */
export function newEntry(id: string, conversation: Conversation, name: string, kind: BackgroundKind, submittedAt: number): Entry {
  return {
    id, conversation, name, kind, submittedAt, status: 'pending',
    startedAt: undefined, progress: undefined, outcome: undefined,
    controller: undefined, cancelTimer: undefined, permit: undefined, placeRequest: undefined, unhookSignal: undefined, snapshot: undefined, record: undefined, durableDone: undefined, waiting: undefined, resolveWaiting: undefined,
    remembered: false, inInbox: false, inFinishedIndex: false, key: -1,
  }
}

/**
 * The outcome of a task ending now with `status`. The usual ending (a started task that returned a
 * value) is one object literal of fixed shape; other endings add their optional fields one by
 * one, in the same key order, with no throw-away object per conditional field.
 */
export function toOutcome(entry: Entry, status: BackgroundFinalStatus, value: unknown, error: unknown, now: number): BackgroundOutcome {
  const startedAt = entry.startedAt
  const taskId = entry.id
  const conversationId = entry.conversation.id
  const submittedAt = entry.submittedAt
  const durationMs = now - (startedAt ?? submittedAt)
  if (startedAt !== undefined && value !== undefined && error === undefined) {
    return { taskId, conversationId, name: entry.name, kind: entry.kind, status, value, submittedAt, startedAt, finishedAt: now, durationMs }
  }
  const outcome: Partial<Mutable<BackgroundOutcome>> = { taskId, conversationId, name: entry.name, kind: entry.kind, status }
  if (value !== undefined) outcome.value = value
  if (error !== undefined) outcome.error = serializeError(error)
  outcome.submittedAt = submittedAt
  if (startedAt !== undefined) outcome.startedAt = startedAt
  outcome.finishedAt = now
  outcome.durationMs = durationMs
  return outcome as BackgroundOutcome
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** What `status` and `list` show; a running task's duration runs until `now`. */
export function toInfo(entry: Entry, now: number): BackgroundTaskInfo {
  const finishedAt = entry.outcome?.finishedAt
  const from = entry.startedAt
  const durationMs = from === undefined ? undefined : (finishedAt ?? now) - from
  return {
    taskId: entry.id,
    conversationId: entry.conversation.id,
    name: entry.name,
    kind: entry.kind,
    status: entry.status,
    submittedAt: entry.submittedAt,
    ...(from !== undefined ? { startedAt: from } : {}),
    ...(finishedAt !== undefined ? { finishedAt } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(entry.progress !== undefined ? { progress: entry.progress } : {}),
    ...(entry.runId !== undefined ? { runId: entry.runId } : {}),
  }
}

/** Throws `TW_INVALID_OPTION` naming the first bad field of a submit. */
export function checkSubmit(options: SubmitOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('submit options', 'an object', options)
  if (typeof options.conversationId !== 'string' || options.conversationId.length === 0) throw new InvalidOptionError('conversationId', 'a non-empty string', options.conversationId)
  if (typeof options.name !== 'string' || options.name.length === 0) throw new InvalidOptionError('name', 'a non-empty string', options.name)
  // Both are kept as labels of a durable task's run: text every store keeps, durable or not, so a
  // submit that works in memory does not fail once a store is configured.
  if (!isStorableText(options.conversationId)) throw new InvalidOptionError('conversationId', STORABLE_TEXT, options.conversationId)
  if (!isStorableText(options.name)) throw new InvalidOptionError('name', STORABLE_TEXT, options.name)
  const run: unknown = options.run
  // A promise is work already started (Python's coroutine object has no such twin): the executor
  // could neither hold it for a slot nor stop it, so it is refused rather than taken for a workflow.
  if (isThenable(run)) throw new InvalidOptionError('run', 'a function that starts the work, e.g. run: (ctx) => myTask(ctx.signal) (a promise is work already started: the executor could neither queue it nor cancel it)', run)
  if (typeof run !== 'function' && !isStateMachine(run) && (typeof run !== 'object' || run === null)) {
    throw new InvalidOptionError('run', 'a function, a workflow definition or a state machine', run)
  }
  if (options.taskId !== undefined && (typeof options.taskId !== 'string' || options.taskId.length === 0 || options.taskId.length > 512 || !isStorableText(options.taskId))) throw new InvalidOptionError('taskId', `a non-empty string of at most 512 characters, ${STORABLE_TEXT}`, options.taskId)
  checkPriority(options.priority)
  checkSignal(options.signal)
  if (options.durable !== undefined && typeof options.durable !== 'boolean') throw new InvalidOptionError('durable', 'true or false', options.durable)
  // A misspelt option (`timeoutMs`) would otherwise be a setting silently not applied.
  refuseUnknownOptions('background.submit', options, typeof run === 'function' ? FUNCTION_OPTIONS : isStateMachine(run) ? MACHINE_OPTIONS : WORKFLOW_OPTIONS)
}

function isThenable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

const COMMON_OPTIONS = ['conversationId', 'name', 'taskId', 'run', 'timeout', 'signal', 'priority', 'durable']
const FUNCTION_OPTIONS: readonly string[] = COMMON_OPTIONS
const WORKFLOW_OPTIONS: readonly string[] = [...COMMON_OPTIONS, 'inputs']
const MACHINE_OPTIONS: readonly string[] = [...COMMON_OPTIONS, 'context']
