/**
 * Cancelling a durable run that no process is running: one a crash left unfinished that nobody
 * wants resumed, or a parked one an operator gives up on. Nothing runs: under the run's lease, a
 * `stop` entry (with the reason) and a `finish` entry (`cancelled`, with the counts its journal
 * gives) end it in the store, where `resumeUnfinished` no longer finds it and `prune` may remove it.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import type { JournalEntry } from '../core/store.js'
import { refuseIfAborted, takeIdleLease } from './idle-lease.js'
import type { IdleLeaseContext } from './idle-lease.js'

/** Options of {@link Engine.cancelUnfinished}. */
export interface CancelUnfinishedOptions {
  /** Why, kept with the run (`taskweave show`). @default 'cancelled by an operator' */
  readonly reason?: string
  /** Aborts the call before anything is written. */
  readonly signal?: AbortSignal
}

/** What {@link Engine.cancelUnfinished} did. */
export interface CancelledRun {
  readonly runId: string
  readonly status: 'cancelled'
  /** Its tasks as the journal tells them: how many `succeeded`, `failed`, and were interrupted (`cancelled`); tasks that never started are not counted. */
  readonly counts: Readonly<Record<string, number>>
  readonly reason: string
}

/** What cancelling needs of the engine (or the CLI). */
export type CancelStoredContext = IdleLeaseContext

/** Ends unfinished run `runId` of the store as `cancelled`, without running anything. */
export async function cancelStoredRun(ctx: CancelStoredContext, runId: string, options: CancelUnfinishedOptions = {}): Promise<CancelledRun> {
  const { store, clock } = ctx
  const reason = options.reason ?? 'cancelled by an operator'
  if (typeof reason !== 'string' || reason === '') throw new TaskweaveError('TW_INVALID_OPTION', 'reason must be a non-empty string', { retryable: false, details: { field: 'reason' } })
  const lease = await takeIdleLease(ctx, runId, { finished: 'there is nothing to cancel', held: 'cancel it there, or once that lease has expired' }, () => refuseIfAborted(options.signal, 'the run was not cancelled'))
  try {
    const stored = await store.load(runId)
    if (stored === undefined || stored.status !== 'running') throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" finished meanwhile: there is nothing to cancel`, { retryable: false, details: { runId } })
    refuseIfAborted(options.signal, 'the run was not cancelled')
    const counts = countsOf(stored.entries)
    const last = stored.entries.length === 0 ? 0 : (stored.entries[stored.entries.length - 1] as JournalEntry).seq
    const at = clock.wallNow()
    const entries: JournalEntry[] = [
      { seq: last + 1, kind: 'stop', at, data: JSON.stringify({ status: 'cancelled', reason }) },
      { seq: last + 2, kind: 'finish', at, data: JSON.stringify({ status: 'cancelled', counts }) },
    ]
    const { fenced } = await store.append([{ runId, epoch: lease.epoch, entries }])
    if (fenced.length > 0) throw new TaskweaveError('TW_LEASE_LOST', `run "${runId}" was taken by another owner while it was being cancelled; nothing was written`, { retryable: true, details: { runId } })
    return { runId, status: 'cancelled', counts, reason }
  } catch (err) {
    // Nothing was written: the lease goes back (or expires, if the store cannot take it now).
    await store.release([lease]).catch(() => undefined)
    throw err
  }
}

/**
 * The run's tasks as its journal tells them: those whose last outcome is a success or a final
 * failure, and those that started and have none (interrupted: they count as cancelled). Tasks that
 * never started are not counted; skips are decided by replay and were never written.
 */
function countsOf(entries: readonly JournalEntry[]): Record<string, number> {
  const outcome = new Map<string, 'succeeded' | 'failed' | 'cancelled'>()
  for (const entry of entries) {
    if (entry.taskId === undefined) continue
    if (entry.kind === 'ok') outcome.set(entry.taskId, 'succeeded')
    else if (entry.kind === 'fail') outcome.set(entry.taskId, (JSON.parse(entry.data ?? '{}') as { retryAt?: unknown }).retryAt === undefined ? 'failed' : 'cancelled')
    else if (entry.kind === 'start' || entry.kind === 'park') outcome.set(entry.taskId, 'cancelled')
  }
  const counts: Record<string, number> = {}
  for (const status of outcome.values()) counts[status] = (counts[status] ?? 0) + 1
  return counts
}

