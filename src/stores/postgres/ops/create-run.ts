/** `createRun`: one INSERT that records the run and its first lease. @module */
import { TaskweaveError } from '../../../core/errors.js'
import type { Lease, LeaseRequest, NewRun } from '../../../core/store.js'
import type { PostgresConnection } from '../connection.js'

/** Records `run` with a lease of epoch 1; `TW_STORE_CONFLICT` when the run id exists. */
export async function createRun(db: PostgresConnection, run: NewRun, request: LeaseRequest): Promise<Lease> {
  const expiresAt = request.now + request.ttlMs
  // ON CONFLICT DO NOTHING rather than catching the unique violation: no error is logged on the
  // server, and a conflict is told apart from a failure without parsing messages.
  const inserted = await db.rows<{ key: number }>(
    'createRun',
    `INSERT INTO ${db.tables.runs} (run_id, workflow_id, workflow_hash, definition, inputs, settings, labels, created_at, lease_owner, lease_epoch, lease_expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, 1, $10)
     ON CONFLICT (run_id) DO NOTHING
     RETURNING key`,
    [run.runId, run.workflowId, run.workflowHash, run.definition, run.inputs, run.settings, JSON.stringify(run.labels ?? {}), run.createdAt, request.owner, expiresAt],
  )
  if (inserted.length === 0) {
    throw new TaskweaveError('TW_STORE_CONFLICT', `run "${run.runId}" already exists in the store ${db.location}`, { retryable: false, details: { runId: run.runId, location: db.location } })
  }
  return { runId: run.runId, owner: request.owner, epoch: 1, expiresAt }
}
