/**
 * An operator's retry of a durable run that ended `failed`, `partial` or `cancelled` (the run
 * engine's redrive): the store reopens it under this engine's lease with a `reopen` entry that
 * names who retried it and which failed tasks run again, and the engine then resumes it. What
 * succeeded never runs again; each retried task keeps its idempotency key (`runId/taskId`), its
 * attempts go on from the last one (attempt 3 after a failed attempt 2) and its retry budget is
 * whole again; the tasks a failure skipped, or a stop cancelled, run once their parents allow.
 * @module
 */
import { InvalidOptionError, TaskweaveError } from '../core/errors.js'
import type { JournalEntry, Lease, RunStore, StoredRun } from '../core/store.js'
import type { Clock } from '../core/clock.js'
import { ReplayLog } from './replay-log.js'
import type { TaskCompleteHandler } from './run-types.js'

/** Options of {@link Engine.retry}. */
export interface RetryRunOptions {
  /** Retry only these of the run's failed tasks. @default every task whose last attempt failed for good */
  readonly tasks?: readonly string[]
  /** Who retries it, kept in the journal with the time (`taskweave show`). @default this engine's owner name */
  readonly by?: string
  /** Aborting it before the store is written changes nothing; after, it cancels the resumed run. */
  readonly signal?: AbortSignal
  /** Completion handlers, as given to the run (they are code, so the store cannot keep them). */
  readonly onTaskComplete?: TaskCompleteHandler | Readonly<Record<string, TaskCompleteHandler>>
}

/** A task an operator's retry runs again: its id and its attempt that failed for good. */
export interface RetriedTask {
  readonly taskId: string
  readonly attempt: number
}

/** What reopening needs of the engine. */
export interface ReopenContext {
  readonly store: RunStore
  readonly clock: Clock
  readonly owner: string
  readonly leaseTtlMs: number
}

/** Checks {@link RetryRunOptions} (the engine's own options, `signal` and `onTaskComplete`, are checked by resume). */
export function checkRetryOptions(options: RetryRunOptions): void {
  if (options.tasks !== undefined && !(Array.isArray(options.tasks) && options.tasks.every((id) => typeof id === 'string' && id !== ''))) throw new InvalidOptionError('tasks', 'an array of task ids', options.tasks)
  if (options.by !== undefined && (typeof options.by !== 'string' || options.by.trim() === '')) throw new InvalidOptionError('by', 'a non-empty string', options.by)
}

/**
 * Reopens run `runId` for a retry, after checking it can be: it exists, it ended `failed`,
 * `partial` or `cancelled`, and it has a failed task to run again (or a stop to go past: a
 * cancelled run whose tasks were interrupted). Resolves the tasks it retries, once the store has
 * written the `reopen` entry under the caller's lease.
 */
export async function reopenForRetry(ctx: ReopenContext, runId: string, options: RetryRunOptions, resumable: (stored: StoredRun, replay: ReplayLog) => void = () => undefined): Promise<{ readonly lease: Lease; readonly tasks: readonly RetriedTask[] }> {
  const { store } = ctx
  const reopen = store.reopen?.bind(store)
  if (reopen === undefined) throw new TaskweaveError('TW_INVALID_STATE', `the run store (${store.location}) cannot reopen finished runs (its adapter has no reopen())`, { retryable: false, details: { runId } })
  const stored = await store.load(runId)
  if (stored === undefined) throw new TaskweaveError('TW_STORE_NOT_FOUND', `no run "${runId}" in the store ${store.location}`, { retryable: false, details: { runId } })
  if (stored.status === 'running') throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" has not finished: resume it instead (engine.resume, taskweave resume ${runId})`, { retryable: false, details: { runId, status: stored.status } })
  if (stored.status === 'succeeded') throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" succeeded: there is nothing to retry`, { retryable: false, details: { runId, status: stored.status } })
  const log = new ReplayLog(stored.entries, runId)
  const failed = log.failedForGood()
  let tasks = failed
  if (options.tasks !== undefined) {
    const byId = new Map(failed.map((task) => [task.taskId, task]))
    const unknown = options.tasks.filter((id) => !byId.has(id))
    if (unknown.length > 0) {
      const names = failed.length === 0 ? 'none failed' : `the failed ones: ${failed.map((task) => `"${task.taskId}"`).join(', ')}`
      throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" cannot retry ${unknown.map((id) => `"${id}"`).join(', ')}: only a task whose last attempt failed for good is retried (${names})`, { retryable: false, details: { runId, tasks: unknown } })
    }
    tasks = [...new Set(options.tasks)].map((id) => byId.get(id) as RetriedTask)
  }
  // A cancelled run may have nothing that failed: its stop is what the retry goes past.
  if (tasks.length === 0 && log.stop === undefined) throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" ended ${stored.status} without a failed task to retry`, { retryable: false, details: { runId } })
  const now = ctx.clock.wallNow()
  const by = options.by ?? ctx.owner
  const entry = { at: now, data: JSON.stringify({ by, tasks }) }
  // The journal as it will read once reopened: it must read (and the run resume) before it is written.
  const last = stored.entries.length === 0 ? 0 : (stored.entries[stored.entries.length - 1] as JournalEntry).seq
  resumable(stored, new ReplayLog([...stored.entries, { seq: last + 1, kind: 'reopen', ...entry }], runId))
  options.signal?.throwIfAborted()
  // Only from the journal as read: a retry by another process in between changed what failed.
  const lease = await reopen(runId, { owner: ctx.owner, ttlMs: ctx.leaseTtlMs, now, entry, afterSeq: last })
  if (lease === undefined) throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" was retried by another process meanwhile: look at it again (taskweave show ${runId}) before retrying it`, { retryable: false, details: { runId } })
  return { lease, tasks }
}
