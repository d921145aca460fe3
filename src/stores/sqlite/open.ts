/**
 * {@link openSqliteStore}: the way to a {@link SqliteRunStore}.
 * @module
 */
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { SqliteStoreOptions } from './options.js'
import { resolveSqliteStoreOptions } from './options.js'
import { toStoreError } from './errors.js'
import { SqliteRunStore } from './store.js'
import { SqliteThread } from './thread.js'

/**
 * Opens the run store in the SQLite file `options.path` (created with its directory when missing)
 * on a database thread of its own, and makes this process the file's only user until `close`.
 *
 * Rejects with `TW_STORE`, the message naming the file, when the file is in use by another
 * process, is not a valid database or is corrupt ("restore from a backup; do not delete it"; the
 * file is left untouched), belongs to another program, or needs a newer taskweave or SQLite
 * (≥ 3.51.3); with `TW_INVALID_OPTION` for a bad option; with `signal.reason` when aborted.
 *
 * @example
 * ```ts
 * import { openSqliteStore } from 'taskweave/stores/sqlite'
 *
 * await using store = await openSqliteStore({ path: './.taskweave/runs.db' })
 * const lease = await store.createRun(run, { owner: 'engine-1', ttlMs: 30_000, now: Date.now() })
 * ```
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteRunStore> {
  const resolved = resolveSqliteStoreOptions(options)
  resolved.signal?.throwIfAborted()
  try {
    await mkdir(dirname(resolved.file), { recursive: true })
  } catch (err) {
    throw toStoreError(resolved.location, err)
  }
  const thread = await SqliteThread.start({ file: resolved.file, location: resolved.location, busyTimeoutMs: resolved.busyTimeoutMs }, resolved.signal)
  return new SqliteRunStore(thread)
}
