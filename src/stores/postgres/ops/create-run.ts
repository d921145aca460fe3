/** `createRun`: one INSERT that records the run and its first lease. @module */
import { TaskweaveError } from '../../../core/errors.js'
import type { Lease, NewRun } from '../../../core/store.js'
import type { PostgresConnection } from '../connection.js'
import { leaseNow } from './lease-clock.js'

/**
 * Records `run` with a lease of epoch 1 for `owner`, expiring `ttlMs` after `now` (null: the
 * server's time); `TW_STORE_CONFLICT` when the run id exists.
 */
export async function createRun(db: PostgresConnection, run: NewRun, owner: string, now: number | null, ttlMs: number): Promise<Lease> {
  // ON CONFLICT DO NOTHING rather than catching the unique violation: no error is logged on the
  // server, and a conflict is told apart from a failure without parsing messages.
  const inserted = await db.rows<{ key: number; lease_expires_at: number }>(
    'createRun',
    `INSERT INTO ${db.tables.runs} (run_id, workflow_id, workflow_hash, definition, inputs, settings, labels, created_at, lease_owner, lease_epoch, lease_expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, 1, ${leaseNow(10)} + $11::bigint)
     ON CONFLICT (run_id) DO NOTHING
     RETURNING key, lease_expires_at`,
    [run.runId, run.workflowId, run.workflowHash, run.definition, run.inputs, run.settings, JSON.stringify(run.labels ?? {}), run.createdAt, owner, now, ttlMs],
    // A write: a connection that breaks once the statement was sent leaves its outcome unknown (details.uncertain), and the engine reads the run back.
    true,
  )
  if (inserted.length === 0) {
    throw new TaskweaveError('TW_STORE_CONFLICT', `run "${run.runId}" already exists in the store ${db.location}`, { retryable: false, details: { runId: run.runId, location: db.location } })
  }
  return { runId: run.runId, owner, epoch: 1, expiresAt: Number(inserted[0]?.lease_expires_at) }
}
