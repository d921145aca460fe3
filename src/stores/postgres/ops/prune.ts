/** `prune`: finished runs older than a bound, with their journals, in one statement. @module */
import type { PruneOptions } from '../../../core/store.js'
import type { PostgresConnection } from '../connection.js'

/** Removes the finished runs (and journals) `options` selects; resolves how many runs. */
export async function prune(db: PostgresConnection, options: PruneOptions): Promise<number> {
  const { runs, journal } = db.tables
  // Unfinished runs have no finished_at, so they never match. The rows are locked in key order
  // first, as every multi-run writer does. Both deletes see the same snapshot and commit together.
  const [row] = await db.rows<{ removed: number }>(
    'prune',
    `WITH doomed AS MATERIALIZED (
       SELECT key FROM ${runs} WHERE finished_at < $1 AND labels @> $2::jsonb ORDER BY key FOR UPDATE),
     entries AS (DELETE FROM ${journal} WHERE run_key IN (SELECT key FROM doomed)),
     removed AS (DELETE FROM ${runs} WHERE key IN (SELECT key FROM doomed) RETURNING 1)
     SELECT count(*)::int AS removed FROM removed`,
    [options.finishedBefore, JSON.stringify(options.labels ?? {})],
  )
  return row?.removed ?? 0
}
