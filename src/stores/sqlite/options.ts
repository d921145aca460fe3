/**
 * Options of {@link openSqliteStore}, checked once: the rest of the store sees only the resolved form.
 * @module
 */
import { resolve } from 'node:path'
import { refuseUnknownOptions } from '../../core/known-options.js'
import { InvalidOptionError } from '../../core/errors.js'

/** Options of `openSqliteStore`. */
export interface SqliteStoreOptions {
  /**
   * The database file (`./.taskweave/runs.db`). Created, with its parent directories, when
   * missing; an existing file must be a taskweave store. SQLite adds `<path>-wal` beside it while
   * the store is open: copy or move the two together, and never delete a `-wal` file left by a
   * crash (it holds the last commits).
   */
  readonly path: string
  /**
   * How long opening waits for another process to let go of the file before failing with
   * `TW_STORE` (SQLite's `busy_timeout`, set on the connection). Once open, the store holds the
   * file alone for its whole life, so nothing else ever waits on it. @default 0 (fail at once: a
   * second orchestrator on the same file is refused, not queued)
   */
  readonly busyTimeoutMs?: number
  /** Aborts the open: it rejects with `signal.reason` and the database thread is stopped. */
  readonly signal?: AbortSignal
}

/** {@link SqliteStoreOptions} checked, with the file's absolute path. */
export interface ResolvedSqliteStoreOptions {
  /** The path as given: what messages and `location` name. */
  readonly location: string
  /** The absolute path the thread opens (immune to a later `process.chdir`). */
  readonly file: string
  readonly busyTimeoutMs: number
  readonly signal: AbortSignal | undefined
}

/** The longest wait SQLite's busy_timeout takes (a C int of milliseconds). */
const MAX_BUSY_TIMEOUT_MS = 2 ** 31 - 1

/** Checks `options`; throws `TW_INVALID_OPTION` naming the option. */
export function resolveSqliteStoreOptions(options: SqliteStoreOptions): ResolvedSqliteStoreOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object with a path', options)
  refuseUnknownOptions('openSqliteStore', options, ['path', 'busyTimeoutMs', 'signal'])
  const { path, busyTimeoutMs = 0, signal } = options
  if (typeof path !== 'string' || path.trim() === '' || path.includes('\0')) throw new InvalidOptionError('path', 'a file path', path)
  if (path === ':memory:' || path.startsWith('file:')) throw new InvalidOptionError('path', 'a file path (for a store in memory, use MemoryRunStore)', path)
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0 || busyTimeoutMs > MAX_BUSY_TIMEOUT_MS) {
    throw new InvalidOptionError('busyTimeoutMs', `an integer number of milliseconds from 0 to ${MAX_BUSY_TIMEOUT_MS}`, busyTimeoutMs)
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidOptionError('signal', 'an AbortSignal', signal)
  return { location: path, file: resolve(path), busyTimeoutMs, signal }
}
