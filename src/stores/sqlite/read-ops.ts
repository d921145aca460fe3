/**
 * The reading calls of the store (`load`, `list`) and `prune`, run on the database thread.
 * @module
 */
import type { PruneOptions, RunFilter, RunSummary, StoredRun } from '../../core/store.js'
import { listWhere, pruneWhere } from './filters.js'
import { damagedError, runChecksum } from './checksum.js'
import { entryOf } from './journal-codec.js'
import { SUMMARY_COLUMNS, summaryOf } from './run-codec.js'
import type { SummaryRow } from './run-codec.js'
import type { Statements } from './statements.js'

/** How many runs `list` returns without a `limit`. */
const DEFAULT_LIMIT = 100

/** The run with its journal in seq order, or undefined. One transaction: the run and its journal agree. */
export function load(sql: Statements, runId: string): StoredRun | undefined {
  return sql.transaction(() => {
    const row = sql.runById.get(runId)
    if (row === undefined) return undefined
    if (row.crc !== null && row.crc !== runChecksum(row.definition, row.inputs, row.settings)) throw damagedError(runId, 'the definition, inputs or settings')
    return { ...summaryOf(row), definition: row.definition, inputs: row.inputs, settings: row.settings, entries: sql.journalOf.all(row.key).map((entry) => entryOf(entry, runId)) }
  })
}

/** Runs matching `filter`, newest first (the same creation time: the later created first). */
export function list(sql: Statements, filter: RunFilter): readonly RunSummary[] {
  const where = listWhere(filter)
  const rows = sql.cached<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM runs ${where.sql} ORDER BY created_at DESC, key DESC LIMIT ?`).all(...where.params, limitOf(filter.limit))
  return rows.map(summaryOf)
}

/** The LIMIT to bind: SQLite reads a negative one as no limit. */
function limitOf(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT
  if (limit === Number.POSITIVE_INFINITY) return -1
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0
}

/** Removes finished runs older than the bound (with their journals) in one transaction; returns how many. */
export function prune(sql: Statements, options: PruneOptions): number {
  const where = pruneWhere(options.finishedBefore, options.labels)
  return sql.transaction(() => {
    const keys = sql.cached<number>(`SELECT key FROM runs ${where.sql}`).pluck(true).all(...where.params)
    for (const key of keys) {
      sql.deleteJournal.run(key)
      sql.deleteRun.run(key)
    }
    return keys.length
  })
}
