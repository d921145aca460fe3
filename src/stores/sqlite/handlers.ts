/**
 * The table of calls the database thread serves, each bound to the thread's one connection.
 * @module
 */
import type { Database } from 'better-sqlite3'
import { append } from './append.js'
import { acquire, createRun, release, renew } from './lease-ops.js'
import type { CallHandlers, CallMessage } from './protocol.js'
import { list, load, prune } from './read-ops.js'
import { prepareStatements } from './statements.js'
import type { GenerationMark } from './generation.js'

/** The handlers of every call, on `db` (open and migrated); `generation` counts the commits that add facts. */
export function callHandlers(db: Database, generation: GenerationMark): CallHandlers {
  const sql = prepareStatements(db)
  /** Runs a call that adds facts: its commit is counted, and recorded once it is durable. */
  const counted = <T>(call: () => T): T => {
    try {
      const result = call()
      generation.committed()
      return result
    } catch (err) {
      generation.rolledBack()
      throw err
    }
  }
  const count = (): void => generation.count()
  return {
    createRun: (run, lease) =>
      counted(() =>
        sql.transaction(() => {
          count()
          return createRun(sql, run, lease)
        }),
      ),
    acquire: (runId, lease) => acquire(sql, runId, lease),
    renew: (leases, now, ttlMs) => renew(sql, leases, now, ttlMs),
    release: (leases) => release(sql, leases),
    append: (batches) => counted(() => append(sql, batches, count)),
    load: (runId) => load(sql, runId),
    list: (filter) => list(sql, filter),
    prune: (options) => prune(sql, options),
    close: () => {
      try {
        db.close()
      } finally {
        generation.close()
      }
    },
  }
}

/** Runs one call. The message came from the store's own thread, which typed its arguments. */
export function dispatch(handlers: CallHandlers, call: CallMessage): unknown {
  const handler = handlers[call.name] as (...args: readonly unknown[]) => unknown
  return handler(...call.args)
}
