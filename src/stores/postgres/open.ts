/** Opening a PostgreSQL run store: load the driver, make the pool, migrate the schema. @module */
import { PoolConnection } from './pool-connection.js'
import { createPool, loadDriver } from './driver.js'
import { locationOf } from './location.js'
import { migrate } from './migrate.js'
import { resolvePostgresStoreOptions } from './options.js'
import type { PostgresStoreOptions } from './options.js'
import { PostgresRunStore } from './store.js'
import { tablesOf } from './tables.js'

/**
 * Opens the run store in `options.schema` of the database at `options.connectionString`, creating
 * the schema and its tables, or applying the migrations it lacks, first. Processes may open the
 * same store at once: the migrations run under an advisory lock, each once.
 *
 * Rejects with `TW_STORE` (naming the URL without its password, and the cause) when the server
 * cannot be reached within `connectTimeout`, with `TW_INVALID_OPTION` for a bad option, and with
 * `signal.reason` when `signal` aborts first.
 * @example
 * ```ts
 * import { openPostgresStore } from 'taskweave/stores/postgres'
 * const store = await openPostgresStore({ connectionString: process.env.DATABASE_URL ?? 'postgres://localhost/app' })
 * try {
 *   console.log(await store.list({ status: 'running' }))
 * } finally {
 *   await store.close()
 * }
 * ```
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresRunStore> {
  const resolved = resolvePostgresStoreOptions(options)
  const { signal } = resolved
  signal?.throwIfAborted()
  const location = locationOf(resolved.connectionString)
  const pg = await loadDriver(location)
  signal?.throwIfAborted()
  const db = new PoolConnection(createPool(pg, resolved), location, tablesOf(resolved.schema))
  try {
    await untilAborted(migrate(db, resolved.schema), signal)
  } catch (err) {
    // end() waits for a migration still in flight (after an abort) to let go of its connection.
    void db.end()
    throw err
  }
  return new PostgresRunStore(db, resolved.leaseClock)
}

/** Settles like `work`, or rejects with `signal.reason` as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    void work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
