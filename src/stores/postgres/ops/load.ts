/** `load`: a run with its whole journal, read from one snapshot. @module */
import type { StoredRun } from '../../../core/store.js'
import { entryOf, JOURNAL_COLUMNS, SUMMARY_COLUMNS, summaryOf } from '../codec.js'
import type { SummaryRow } from '../codec.js'
import type { PostgresConnection } from '../connection.js'

interface RunRow extends SummaryRow {
  readonly key: number
  readonly definition: string
  readonly inputs: string
  readonly settings: string
}

/** The run and its journal in seq order, or undefined. */
export async function load(db: PostgresConnection, runId: string): Promise<StoredRun | undefined> {
  const t = db.tables
  // Repeatable read: the run row and the journal come from the same snapshot, so a concurrent
  // append can never show a journal with a finish entry next to a run still marked running.
  return db.transaction(
    'load',
    async (tx) => {
      const [run] = await tx.rows<RunRow>(`SELECT key, ${SUMMARY_COLUMNS}, definition, inputs, settings FROM ${t.runs} WHERE run_id = $1`, [runId])
      if (run === undefined) return undefined
      // Array rows: no object per row with column names to build, which counts at 100,000 entries.
      const rows = await tx.arrays(`SELECT ${JOURNAL_COLUMNS} FROM ${t.journal} WHERE run_key = $1 ORDER BY seq`, [run.key])
      const entries = rows.map((row) => entryOf(row, runId))
      return { ...summaryOf(run), definition: run.definition, inputs: run.inputs, settings: run.settings, entries }
    },
    'snapshot',
  )
}
