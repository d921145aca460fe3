/**
 * How a journal entry sits in a `journal` row: the kind as a small integer (the two kinds of
 * every task, `start` and `ok`, get 0 and 1, which SQLite stores in no bytes at all), and an
 * absent field as NULL. These codes are on disk: never renumber one, only add.
 * @module
 */
import type { JournalEntry, JournalKind } from '../../core/store.js'
import { entryFromColumns, unknownKindError } from '../shared.js'
import { damagedError, entryChecksum } from './checksum.js'

/** The code of each kind in the `journal.kind` column. */
export const KIND_CODES: Readonly<Record<JournalKind, number>> = { start: 0, ok: 1, fail: 2, add: 3, handled: 4, stop: 5, finish: 6, park: 7, reopen: 8 }

const CODE_OF: ReadonlyMap<string, number> = new Map(Object.entries(KIND_CODES))

/** The code of `kind`, or undefined for a string that is no kind (looked up by own key only). */
export function kindCode(kind: string): number | undefined {
  return CODE_OF.get(kind)
}

const KIND_OF: readonly (JournalKind | undefined)[] = (() => {
  const kinds: (JournalKind | undefined)[] = []
  for (const [kind, code] of Object.entries(KIND_CODES) as [JournalKind, number][]) kinds[code] = kind
  return kinds
})()

/** The kind stored as `code`, or undefined for a code this version does not know. */
export function kindOf(code: number): JournalKind | undefined {
  return KIND_OF[code]
}

/** A row as `SELECT seq, kind, task_id, attempt, at, data, added, crc` returns it in raw mode (`crc` NULL in rows of schema version 1). */
export type JournalRow = readonly [seq: number, kind: number, taskId: string | null, attempt: number | null, at: number, data: string | null, added: string | null, crc?: number | null]

/**
 * The entry a row holds. Absent fields stay absent (not `undefined`-valued), so an entry read
 * back equals the one written, key for key.
 */
export function entryOf(row: JournalRow, runId: string): JournalEntry {
  const [seq, code, taskId, attempt, at, data, added, crc] = row
  // A kind this version does not know is said first: a newer taskweave may have written it.
  const kind = kindOf(code)
  if (kind === undefined) throw unknownKindError(runId, seq, code)
  if (crc !== undefined && crc !== null && crc !== entryChecksum(seq, code, taskId, attempt, at, data, added)) throw damagedError(runId, `journal entry ${seq}`)
  return entryFromColumns(seq, kind, taskId, attempt, at, data, added)
}
