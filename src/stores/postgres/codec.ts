/** Rows of the store's tables to and from the port's records. @module */
import { TaskweaveError } from '../../core/errors.js'
import type { JournalEntry, JournalKind, Lease, RunSummary, StoredRunStatus } from '../../core/store.js'
import { entryFromColumns, unknownKindError } from '../shared.js'

/**
 * Journal kinds as small integers (a `smallint` column: two bytes a row instead of a string).
 * The numbers are stored: never renumber, only add.
 */
const KIND_CODES: Readonly<Record<JournalKind, number>> = { start: 1, ok: 2, fail: 3, add: 4, handled: 5, stop: 6, finish: 7, park: 8, reopen: 9 }
const KINDS: readonly (JournalKind | undefined)[] = [undefined, 'start', 'ok', 'fail', 'add', 'handled', 'stop', 'finish', 'park', 'reopen']

/** The stored code of a journal kind. */
export function kindCode(kind: JournalKind): number {
  const code = KIND_CODES[kind]
  if (code === undefined) throw new TaskweaveError('TW_STORE', `unknown journal entry kind "${String(kind)}"`, { retryable: false })
  return code
}

/** The columns of a journal row, in the order {@link JOURNAL_COLUMNS} selects them. */
export const JOURNAL_COLUMNS = 'seq, kind, task_id, attempt, at, data, added'

/** A journal entry from a row selected as {@link JOURNAL_COLUMNS} (array row mode); absent fields stay absent. */
export function entryOf(row: readonly unknown[], runId: string): JournalEntry {
  const [seq, code, taskId, attempt, at, data, added] = row as [number, number, string | null, number | null, number, string | null, string | null]
  const kind = KINDS[code]
  if (kind === undefined) throw unknownKindError(runId, seq, code)
  return entryFromColumns(seq, kind, taskId, attempt, at, data, added)
}

/** The columns of `runs` a summary needs. */
export const SUMMARY_COLUMNS = 'run_id, workflow_id, workflow_hash, status, created_at, finished_at, counts, labels, lease_owner, lease_epoch, lease_expires_at'

/** A `runs` row selected with {@link SUMMARY_COLUMNS} (bigint columns arrive as numbers, jsonb parsed). */
export interface SummaryRow {
  readonly run_id: string
  readonly workflow_id: string
  readonly workflow_hash: string
  readonly status: StoredRunStatus
  readonly created_at: number
  readonly finished_at: number | null
  readonly counts: Record<string, number>
  readonly labels: Record<string, string>
  readonly lease_owner: string | null
  readonly lease_epoch: number
  readonly lease_expires_at: number | null
}

/** The summary of a run from its row. A finished run has no lease. */
export function summaryOf(row: SummaryRow): RunSummary {
  const lease: Lease | undefined =
    row.status === 'running' && row.lease_owner !== null ? { runId: row.run_id, owner: row.lease_owner, epoch: row.lease_epoch, expiresAt: row.lease_expires_at ?? 0 } : undefined
  return {
    runId: row.run_id,
    workflowId: row.workflow_id,
    workflowHash: row.workflow_hash,
    status: row.status,
    createdAt: row.created_at,
    finishedAt: row.finished_at ?? undefined,
    counts: row.counts,
    labels: row.labels,
    lease,
  }
}
