/**
 * The time lease statements go by, as SQL: the caller's `now` when one is passed, PostgreSQL's
 * own clock when it is null. One statement text serves both, so each stays a single prepared plan.
 * @module
 */

/** SQL for "now" in epoch ms: parameter `$n` when it is not null, else the server's clock. */
export function leaseNow(param: number): string {
  return `coalesce($${param}::bigint, (extract(epoch from clock_timestamp()) * 1000)::bigint)`
}
