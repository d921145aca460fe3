/**
 * The time lease statements go by, as SQL: the caller's `now` when one is passed, PostgreSQL's
 * own clock when it is null. One statement text serves both, so each stays a single prepared plan.
 * @module
 */
import type { PostgresConnection } from '../connection.js'

/** PostgreSQL's clock, in epoch ms: what leases timed by the server go by. */
export async function serverNow(db: PostgresConnection): Promise<number> {
  const [row] = await db.rows<{ readonly now: string }>('now', `SELECT ${leaseNow(1)} AS now`, [null])
  return Number(row?.now)
}

/** SQL for "now" in epoch ms: parameter `$n` when it is not null, else the server's clock. */
export function leaseNow(param: number): string {
  return `coalesce($${param}::bigint, (extract(epoch from clock_timestamp()) * 1000)::bigint)`
}
