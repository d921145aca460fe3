/**
 * `acquire`, `renew` and `release`: each one statement, whatever the number of leases.
 *
 * Lock order: a statement that changes several runs first locks their rows in `key` order (the
 * `locked` CTE), as `append` does, so two writers never hold one row each while waiting for the
 * other's (a deadlock PostgreSQL would break by failing one of them after a second).
 * @module
 */
import { TaskweaveError } from '../../../core/errors.js'
import type { Lease } from '../../../core/store.js'
import type { PostgresConnection } from '../connection.js'
import { leaseNow } from './lease-clock.js'

/**
 * Takes the lease of an unfinished run (epoch + 1) for `owner` when it is free at `now` (null: the
 * server's time), already `owner`'s, or released. `takeOver` never applies: this store is shared
 * by processes, so an unexpired lease may belong to a live one.
 */
export async function acquire(db: PostgresConnection, runId: string, owner: string, now: number | null, ttlMs: number): Promise<Lease | undefined> {
  const { runs } = db.tables
  // One round trip tells "no such run" from "not granted". Two acquirers racing for the same run:
  // the second waits for the first's row lock, then PostgreSQL re-checks the WHERE on the updated
  // row, which no longer matches, so exactly one wins.
  const [row] = await db.rows<{ found: boolean; epoch: number | null; expires_at: number | null }>(
    'acquire',
    `WITH clock AS (SELECT ${leaseNow(3)} AS now),
     target AS (SELECT key FROM ${runs} WHERE run_id = $1),
     taken AS (
       UPDATE ${runs} SET lease_owner = $2, lease_epoch = lease_epoch + 1, lease_expires_at = (SELECT now FROM clock) + $4::bigint
       WHERE key = (SELECT key FROM target) AND status = 'running'
         AND (lease_owner IS NULL OR lease_expires_at <= (SELECT now FROM clock) OR lease_owner = $2)
       RETURNING lease_epoch, lease_expires_at)
     SELECT EXISTS (SELECT 1 FROM target) AS found, (SELECT lease_epoch FROM taken) AS epoch, (SELECT lease_expires_at FROM taken) AS expires_at`,
    [runId, owner, now, ttlMs],
  )
  if (row?.found !== true) throw new TaskweaveError('TW_STORE_NOT_FOUND', `no run "${runId}" in the store ${db.location}`, { retryable: false, details: { runId, location: db.location } })
  return row.epoch === null ? undefined : { runId, owner, epoch: row.epoch, expiresAt: Number(row.expires_at) }
}

/** Extends the leases still held as given to `now + ttlMs` (`now` null: the server's time); resolves the run ids of the others, in the order given. */
export async function renew(db: PostgresConnection, leases: readonly Lease[], now: number | null, ttlMs: number): Promise<readonly string[]> {
  if (leases.length === 0) return []
  const { runs } = db.tables
  const rows = await db.rows<{ run_id: string }>(
    'renew',
    `WITH wanted AS (SELECT * FROM unnest($1::text[], $2::int[], $3::text[]) WITH ORDINALITY AS w(run_id, epoch, owner, ord)),
     locked AS MATERIALIZED (SELECT key FROM ${runs} WHERE run_id IN (SELECT run_id FROM wanted) ORDER BY key FOR UPDATE),
     renewed AS (
       UPDATE ${runs} r SET lease_expires_at = ${leaseNow(4)} + $5::bigint
       FROM wanted w
       WHERE r.key IN (SELECT key FROM locked) AND r.run_id = w.run_id
         AND r.status = 'running' AND r.lease_epoch = w.epoch AND r.lease_owner = w.owner
       RETURNING r.run_id)
     SELECT run_id FROM wanted WHERE run_id NOT IN (SELECT run_id FROM renewed) ORDER BY ord`,
    [...columnsOf(leases), now, ttlMs],
  )
  return rows.map((row) => row.run_id)
}

/**
 * Ends the leases still held as given, without finishing their runs: the expiry drops to 0, so any
 * owner's next acquire takes the run at once. The epoch stays; that acquire moves past it.
 */
export async function release(db: PostgresConnection, leases: readonly Lease[]): Promise<void> {
  if (leases.length === 0) return
  const { runs } = db.tables
  await db.rows(
    'release',
    `WITH wanted AS (SELECT * FROM unnest($1::text[], $2::int[], $3::text[]) AS w(run_id, epoch, owner)),
     locked AS MATERIALIZED (SELECT key FROM ${runs} WHERE run_id IN (SELECT run_id FROM wanted) ORDER BY key FOR UPDATE)
     UPDATE ${runs} r SET lease_expires_at = 0
     FROM wanted w
     WHERE r.key IN (SELECT key FROM locked) AND r.run_id = w.run_id AND r.lease_epoch = w.epoch AND r.lease_owner = w.owner`,
    columnsOf(leases),
  )
}

/** Run ids, epochs and owners as three parallel arrays (one parameter each, whatever the count). */
function columnsOf(leases: readonly Lease[]): [string[], number[], string[]] {
  return [leases.map((l) => l.runId), leases.map((l) => l.epoch), leases.map((l) => l.owner)]
}
