/**
 * The table of calls the database thread serves, each bound to the thread's one connection.
 * @module
 */
import type { Database } from 'better-sqlite3'
import { append } from './append.js'
import { acquire, createRun, release, renew, reopen } from './lease-ops.js'
import type { CallHandlers, CallMessage } from './protocol.js'
import { list, load, prune } from './read-ops.js'
import { prepareStatements } from './statements.js'
import type { CommitMark } from './commit-mark.js'

/** The handlers of every call, on `db` (open and migrated); `mark` follows the newest commit that adds facts. */
export function callHandlers(db: Database, mark: CommitMark): CallHandlers {
  const sql = prepareStatements(db)
  /** Runs a call that adds facts: once it has committed, the mark says where its newest fact is. */
  const marked = <T>(call: () => T): T => {
    try {
      const result = call()
      mark.committed()
      return result
    } catch (err) {
      mark.rolledBack()
      throw err
    }
  }
  const wrote = (key: number, seq: number): void => mark.wrote(key, seq)
  return {
    createRun: (run, lease) =>
      marked(() => {
        const created = createRun(sql, run, lease)
        wrote(sql.fenceOf.get(run.runId)?.[0] ?? 0, 0)
        return created
      }),
    acquire: (runId, lease) => acquire(sql, runId, lease),
    renew: (leases, now, ttlMs) => renew(sql, leases, now, ttlMs),
    release: (leases) => release(sql, leases),
    append: (batches) => marked(() => append(sql, batches, wrote)),
    reopen: (runId, request) => marked(() => reopen(sql, runId, request, wrote)),
    load: (runId) => load(sql, runId),
    integrityCheck: () => (db.pragma('integrity_check(100)') as { integrity_check: string }[]).map((row) => row.integrity_check),
    list: (filter) => list(sql, filter),
    prune: (options) => {
      // Cleared first: a prune may delete the run the mark names, and a crash right after must not
      // find the mark pointing at a run that is rightly gone.
      mark.clear()
      return prune(sql, options)
    },
    close: () => {
      try {
        db.close()
      } finally {
        mark.close()
      }
    },
  }
}

/** Runs one call. The message came from the store's own thread, which typed its arguments. */
export function dispatch(handlers: CallHandlers, call: CallMessage): unknown {
  const handler = handlers[call.name] as (...args: readonly unknown[]) => unknown
  return handler(...call.args)
}
