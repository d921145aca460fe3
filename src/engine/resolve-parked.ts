/**
 * An operator's decision about a parked task (`onUncertain: 'park'`): a resume could not know
 * whether its attempt acted, so the run stopped and waits for a person to say. The decision is
 * written as the outcome the attempt never recorded, under the run's lease, and the next resume
 * replays it like any other: `succeeded` is an `ok` entry with the output given, `failed` a
 * `fail` entry that ends the task, `retry` a `fail` entry whose retry is due at once and that
 * counts as a stopped attempt (neither a spent attempt nor a start without an outcome).
 * @module
 */
import { serializeError, TaskweaveError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { JournalEntry, RunStore } from '../core/store.js'
import { refuseIfAborted, takeIdleLease } from './idle-lease.js'
import type { IdleLeaseContext } from './idle-lease.js'
import { toPlainDataWithText } from './plain-data.js'
import { ReplayLog } from './replay-log.js'
import type { ParkedTask } from './replay-log.js'

/**
 * What happened to a parked task's attempt, as the operator found out: it `succeeded` (with the
 * output its dependents will read), it `failed` (the task fails `TW_UNCERTAIN` with the reason,
 * and the run goes on as after any failure), or it must `retry` (it runs again as its next
 * attempt, with the same `ctx.idempotencyKey`).
 */
export type ParkedDecision =
  | { readonly outcome: 'succeeded'; readonly output?: unknown }
  | { readonly outcome: 'failed'; readonly reason?: string }
  | { readonly outcome: 'retry'; readonly reason?: string }

/** Options of {@link Engine.resolveParked}. */
export interface ResolveParkedOptions {
  /** Aborts the call before its decision is written. */
  readonly signal?: AbortSignal
}

/** What {@link Engine.resolveParked} recorded. */
export interface ParkedResolution {
  readonly runId: string
  readonly taskId: string
  /** The attempt whose outcome the decision is. */
  readonly attempt: number
  readonly outcome: ParkedDecision['outcome']
  /** The operator's reason, when one was given (`failed`, `retry`). */
  readonly reason?: string
  /** When the decision was written (epoch ms). */
  readonly decidedAt: number
  /** Why the task had parked. */
  readonly parkedBecause: string
}

/** What resolving needs of the engine. */
export interface ResolveParkedContext extends IdleLeaseContext {
  /** The largest output a `succeeded` decision may give, for a task of `tool` (undefined when the tool is not known here). */
  readonly maxOutputBytes: (tool: string | undefined) => number
  /** Told when the lease cannot be given back after the decision was written (it then expires by itself). */
  readonly logger?: Logger
}

const OUTCOMES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'retry'])

/** The command that decides parked task `taskId` of run `runId`, for messages. */
export function resolveHint(runId: string, taskId: string): string {
  return `taskweave resolve ${runId} ${taskId} --succeeded | --failed | --retry`
}

/** The parked tasks of a stored run not decided yet (none for a finished or unknown run). */
export async function parkedTasksOf(store: RunStore, runId: string): Promise<readonly ParkedTask[]> {
  const stored = await store.load(runId)
  if (stored === undefined || stored.status !== 'running') return []
  return new ReplayLog(stored.entries, runId).parked()
}

/** Checks a decision as given (from JavaScript or the CLI) before anything is read or written. */
export function checkDecision(decision: unknown): ParkedDecision {
  const given = decision as { outcome?: unknown; reason?: unknown } | null
  if (typeof given !== 'object' || given === null || typeof given.outcome !== 'string' || !OUTCOMES.has(given.outcome)) {
    throw new TaskweaveError('TW_INVALID_OPTION', `decision.outcome must be 'succeeded', 'failed' or 'retry'; received ${describe(given?.outcome)}`, { retryable: false, details: { field: 'decision.outcome' } })
  }
  const known = given.outcome === 'succeeded' ? ['outcome', 'output'] : ['outcome', 'reason']
  const unknown = Object.keys(given).filter((key) => !known.includes(key))
  if (unknown.length > 0) throw new TaskweaveError('TW_INVALID_OPTION', `unknown decision field${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `"${key}"`).join(', ')} (a '${given.outcome}' decision takes ${known.join(', ')})`, { retryable: false, details: { field: `decision.${unknown[0] as string}` } })
  if (given.reason !== undefined && typeof given.reason !== 'string') throw new TaskweaveError('TW_INVALID_OPTION', `decision.reason must be a string; received ${describe(given.reason)}`, { retryable: false, details: { field: 'decision.reason' } })
  return given as ParkedDecision
}

/**
 * Writes `decision` as the outcome of parked task `taskId` of run `runId`. Takes the run's lease
 * (so no process runs it meanwhile) and gives it back; the run stays unfinished, to be resumed.
 */
export async function resolveParkedTask(ctx: ResolveParkedContext, runId: string, taskId: string, decision: ParkedDecision, options: ResolveParkedOptions = {}): Promise<ParkedResolution> {
  const { store, clock } = ctx
  const lease = await takeIdleLease(ctx, runId, { finished: 'it has no parked task', held: 'a decision is written only while no process holds the run' }, () => refuseIfAborted(options.signal, 'the decision was not recorded'))
  let written: ParkedResolution
  try {
    const stored = await store.load(runId)
    if (stored === undefined || stored.status !== 'running') throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" finished meanwhile: it has no parked task`, { retryable: false, details: { runId } })
    const replay = new ReplayLog(stored.entries, runId)
    const parked = replay.parked()
    const task = parked.find((one) => one.taskId === taskId)
    if (task === undefined) {
      const waiting = parked.length === 0 ? 'it has none' : `parked: ${parked.map((one) => `"${one.taskId}"`).join(', ')}`
      throw new TaskweaveError('TW_INVALID_STATE', `task "${taskId}" of run "${runId}" is not waiting for a decision (${waiting})`, { retryable: false, details: { runId, taskId, parked: parked.map((one) => one.taskId) } })
    }
    refuseIfAborted(options.signal, 'the decision was not recorded')
    const at = clock.wallNow()
    const entry = decisionEntry(task, decision, replay.lastSeq + 1, at, ctx.maxOutputBytes(toolOf(stored.definition, stored.entries, taskId)))
    const { fenced } = await store.append([{ runId, epoch: lease.epoch, entries: [entry] }])
    if (fenced.length > 0) throw new TaskweaveError('TW_LEASE_LOST', `run "${runId}" was taken by another owner while its decision was being written; nothing was written`, { retryable: true, details: { runId } })
    const reason = decision.outcome !== 'succeeded' ? decision.reason : undefined
    written = { runId, taskId, attempt: task.attempt, outcome: decision.outcome, ...(reason !== undefined ? { reason } : {}), decidedAt: at, parkedBecause: task.reason }
  } catch (err) {
    // Nothing was written: the lease goes back (or expires, if the store cannot take it now), and the error is the one to tell.
    await store.release([lease]).catch(() => undefined)
    throw err
  }
  try {
    await store.release([lease])
  } catch (err) {
    // Once the decision is written, a lease that cannot be given back changes nothing: it expires.
    ctx.logger?.warn('the decision is written, but the run\'s lease could not be given back; it expires by itself', { runId, error: err instanceof Error ? err.message : String(err) })
  }
  return written
}



/**
 * The tool of task `taskId` as the run knows it: in its pinned definition, or in the spec of a task
 * added while it ran (by the handle, a handler or a tool). Undefined for one it cannot find.
 */
function toolOf(definition: string, entries: readonly JournalEntry[], taskId: string): string | undefined {
  const named = (spec: unknown): string | undefined => {
    const task = spec as { id?: unknown; tool?: unknown } | null
    return typeof task === 'object' && task !== null && task.id === taskId && typeof task.tool === 'string' ? task.tool : undefined
  }
  try {
    for (const spec of (JSON.parse(definition) as { tasks?: unknown[] }).tasks ?? []) {
      const tool = named(spec)
      if (tool !== undefined) return tool
    }
    for (const entry of entries) {
      const specs = entry.kind === 'add' && entry.data !== undefined ? [JSON.parse(entry.data) as unknown] : entry.kind === 'ok' && entry.added !== undefined ? (JSON.parse(entry.added) as unknown[]) : []
      for (const spec of specs) {
        const tool = named(spec)
        if (tool !== undefined) return tool
      }
    }
  } catch {
    // A journal the resume could read is read here too; anything else leaves the default limit.
  }
  return undefined
}

/** The journal entry that records `decision` as the parked attempt's outcome. */
function decisionEntry(task: ParkedTask, decision: ParkedDecision, seq: number, at: number, maxOutputBytes: number): JournalEntry {
  const { taskId, attempt } = task
  const said = decision.outcome !== 'succeeded' && decision.reason !== undefined && decision.reason !== '' ? `: ${decision.reason}` : ''
  switch (decision.outcome) {
    case 'succeeded': {
      const { text } = toPlainDataWithText(decision.output, maxOutputBytes, taskId)
      return { seq, kind: 'ok', taskId, attempt, at, ...(text !== undefined ? { data: text } : {}) }
    }
    case 'failed': {
      const error = serializeError(new TaskweaveError('TW_UNCERTAIN', `task "${taskId}" (attempt ${attempt}) was resolved as failed by an operator${said}`, { retryable: false, details: { taskId, attempt, resolvedBy: 'operator' } }))
      return { seq, kind: 'fail', taskId, attempt, at, data: JSON.stringify({ error }) }
    }
    case 'retry': {
      const error = serializeError(new TaskweaveError('TW_INTERRUPTED', `attempt ${attempt} of task "${taskId}" had an unknown outcome; an operator asked for it to run again${said}`, { retryable: true, details: { taskId, attempt, resolvedBy: 'operator' } }))
      return { seq, kind: 'fail', taskId, attempt, at, data: JSON.stringify({ error, retryAt: at, stopped: true }) }
    }
  }
}


function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  return value === null ? 'null' : typeof value
}
