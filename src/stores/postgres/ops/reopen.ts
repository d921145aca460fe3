/**
 * `reopen`: a run that ended failed, partial or cancelled is running again under a new lease, with
 * a `reopen` entry after its journal (see `RunStore.reopen`), in one statement. Two callers
 * racing for the same run: the second waits for the first's row lock, then PostgreSQL re-checks
 * the status on the updated row, which is `running` by then, so exactly one reopens it. A
 * finished run takes no appends, so the next seq read in the same statement is the last; with
 * `afterSeq`, a journal that moved past the caller's reading (a retry by another process that ran
 * and ended between the caller's read and this statement) leaves the run as it is.
 * @module
 */
import { TaskweaveError } from '../../../core/errors.js'
import type { Lease, ReopenRequest } from '../../../core/store.js'
import type { PostgresConnection } from '../connection.js'
import { kindCode } from '../codec.js'
import { leaseNow } from './lease-clock.js'

/** Reopens `runId` for `request.owner` at `now` (null: the server's time); undefined when it is running or succeeded. */
export async function reopen(db: PostgresConnection, runId: string, request: ReopenRequest, now: number | null): Promise<Lease | undefined> {
  const { runs, journal } = db.tables
  const [row] = await db.rows<{ found: boolean; epoch: number | null; expires_at: number | null }>(
    'reopen',
    `WITH clock AS (SELECT ${leaseNow(3)} AS now),
     target AS (SELECT key FROM ${runs} WHERE run_id = $1),
     reopened AS (
       UPDATE ${runs} SET status = 'running', counts = '{}', finished_at = NULL,
         lease_owner = $2, lease_epoch = lease_epoch + 1, lease_expires_at = (SELECT now FROM clock) + $4::bigint
       WHERE key = (SELECT key FROM target) AND status IN ('failed', 'partial', 'cancelled')
         AND ($8::integer IS NULL OR coalesce((SELECT max(j.seq) FROM ${journal} j WHERE j.run_key = (SELECT key FROM target)), 0) = $8::integer)
       RETURNING key, lease_epoch, lease_expires_at),
     entry AS (
       INSERT INTO ${journal} (run_key, seq, kind, at, data)
       SELECT r.key, coalesce((SELECT max(j.seq) FROM ${journal} j WHERE j.run_key = r.key), 0) + 1, $5::smallint, $6::bigint, $7::text
       FROM reopened r
       RETURNING seq)
     SELECT EXISTS (SELECT 1 FROM target) AS found, (SELECT lease_epoch FROM reopened) AS epoch, (SELECT lease_expires_at FROM reopened) AS expires_at,
       (SELECT seq FROM entry) AS seq`,
    [runId, request.owner, now, request.ttlMs, kindCode('reopen'), request.entry.at, request.entry.data, request.afterSeq ?? null],
    true,
  )
  if (row?.found !== true) throw new TaskweaveError('TW_STORE_NOT_FOUND', `no run "${runId}" in the store ${db.location}`, { retryable: false, details: { runId, location: db.location } })
  return row.epoch === null ? undefined : { runId, owner: request.owner, epoch: row.epoch, expiresAt: Number(row.expires_at) }
}
