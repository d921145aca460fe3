/**
 * Helpers every store adapter shares: reading a `finish` entry, matching list filters.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import type { JournalEntry, JournalKind, RunFilter, StoredRunStatus } from '../core/store.js'

const FINISHED: ReadonlySet<string> = new Set(['succeeded', 'partial', 'failed', 'cancelled'])

/** The status and counts a `finish` entry carries; throws `TW_STORE` for a malformed one. */
export function finishOf(entry: JournalEntry): { readonly status: StoredRunStatus; readonly counts: Readonly<Record<string, number>> } {
  let parsed: unknown
  try {
    parsed = JSON.parse(entry.data ?? 'null')
  } catch {
    parsed = undefined
  }
  const status = (parsed as { status?: unknown } | null | undefined)?.status
  const counts = (parsed as { counts?: unknown } | null | undefined)?.counts
  if (typeof status !== 'string' || !FINISHED.has(status) || typeof counts !== 'object' || counts === null) {
    throw new TaskweaveError('TW_STORE', `journal entry ${entry.seq}: a finish entry needs { status, counts }`, { retryable: false })
  }
  return { status: status as StoredRunStatus, counts: counts as Record<string, number> }
}

/** Whether `status` passes the filter's status (one or several; none passes all). */
export function statusMatches(status: StoredRunStatus, wanted: RunFilter['status']): boolean {
  if (wanted === undefined) return true
  return typeof wanted === 'string' ? status === wanted : wanted.includes(status)
}

/** Whether `labels` carry every label of `wanted`. */
export function hasLabels(labels: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>> | undefined): boolean {
  if (wanted === undefined) return true
  for (const [key, value] of Object.entries(wanted)) if (!Object.hasOwn(labels, key) || labels[key] !== value) return false
  return true
}

/**
 * A journal entry from the columns of a stored row (NULL for an absent field). Built field by
 * field, so an entry read back has the keys of the one written, no `undefined`-valued ones.
 */
export function entryFromColumns(seq: number, kind: JournalKind, taskId: string | null, attempt: number | null, at: number, data: string | null, added: string | null): JournalEntry {
  const entry: { -readonly [K in keyof JournalEntry]: JournalEntry[K] } = { seq, kind, at }
  if (taskId !== null) entry.taskId = taskId
  if (attempt !== null) entry.attempt = attempt
  if (data !== null) entry.data = data
  if (added !== null) entry.added = added
  return entry
}

/**
 * A JSON column of run `runId` read back (`labels`, `counts`); a damaged one is a `TW_STORE`
 * error naming the run and the column, not the bare message of the JSON parser.
 */
export function jsonColumn<T>(runId: string, column: string, text: string): T {
  try {
    return JSON.parse(text) as T
  } catch (err) {
    throw new TaskweaveError('TW_STORE', `run "${runId}": its ${column} column does not hold JSON (${err instanceof Error ? err.message : String(err)}); the row is damaged`, { retryable: false, details: { runId, column } })
  }
}

/** The error for a journal row whose kind code this version does not know (a newer writer, or damage). */
export function unknownKindError(runId: string, seq: number, code: unknown): TaskweaveError {
  return new TaskweaveError('TW_STORE', `journal of run "${runId}": entry ${seq} has kind code ${String(code)}, unknown to this taskweave (a newer version wrote it: read this store with that version; or the row is damaged)`, { retryable: false, details: { runId, seq } })
}

/** The statuses of a finished run that `RunStore.reopen` reopens (an operator's retry). */
export const REOPENABLE: ReadonlySet<StoredRunStatus> = new Set<StoredRunStatus>(['failed', 'partial', 'cancelled'])
