/**
 * The errors of the SQLite store. Every one is a `TaskweaveError` whose message starts with the
 * file it is about (`SQLite store ./runs.db: …`), so an operator reading a log knows which file
 * to look at, and whose `details.path` holds the same path for code.
 *
 * SQLite's result codes are translated into what they mean for the operator: a corrupt file must
 * be restored, not deleted (deleting it loses every run, and the store would create an empty one);
 * a full disk is retryable once space is freed; a busy file means another process owns it.
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import { describeThrown, readString } from '../../core/thrown.js'

/** What every corrupt-file message ends with: the one safe action, and the one unsafe one. */
export const RESTORE_ADVICE = 'restore from a backup; do not delete it'

/** A `TW_STORE` error about the file at `location`. */
export function storeError(location: string, message: string, options: { readonly retryable?: boolean; readonly cause?: unknown; readonly sqliteCode?: string } = {}): TaskweaveError {
  return new TaskweaveError('TW_STORE', `SQLite store ${location}: ${message}`, {
    retryable: options.retryable ?? true,
    details: { path: location, ...(options.sqliteCode !== undefined ? { sqliteCode: options.sqliteCode } : {}) },
    ...(options.cause !== undefined ? { cause: options.cause } : {}),
  })
}

/** The file is not a database SQLite can read, or not a whole one. Never retryable: the file must be restored. */
export function corruptFileError(location: string, why: string, options: { readonly cause?: unknown; readonly sqliteCode?: string } = {}): TaskweaveError {
  return storeError(location, `the file is not a valid SQLite database or is corrupt (${why}): ${RESTORE_ADVICE}`, { ...options, retryable: false })
}

/** Another process (or another store in this one) owns the file. */
export function lockedError(location: string, options: { readonly cause?: unknown; readonly sqliteCode?: string } = {}): TaskweaveError {
  return storeError(location, 'another process holds the file (one process at a time owns a SQLite store); stop it, or give this one another file', options)
}

/** The store was closed by its owner. */
export function closedError(location: string): TaskweaveError {
  return storeError(location, 'the store is closed', { retryable: false })
}

/** SQLite's extended result code of `err` (`SQLITE_FULL`…), or Node's errno code (`ENOSPC`…). */
export function errorCodeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? readString(err, 'code') : undefined
}

/**
 * Translates anything a SQLite call threw into a `TW_STORE` error naming `location`. A taskweave
 * error passes through; a `TW_STORE` one gets the file prefixed unless it already names it.
 */
export function toStoreError(location: string, err: unknown): TaskweaveError {
  if (TaskweaveError.is(err)) {
    if (err.code !== 'TW_STORE' || err.message.startsWith('SQLite store ')) return err
    return new TaskweaveError('TW_STORE', `SQLite store ${location}: ${err.message}`, { retryable: err.retryable, details: { ...err.details, path: location }, cause: err })
  }
  const code = errorCodeOf(err)
  const said = describeThrown(err)
  const options = { cause: err, ...(code !== undefined ? { sqliteCode: code } : {}) }
  if (code === undefined) return storeError(location, said, options)
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return corruptFileError(location, `${code}: ${said}`, options)
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return storeError(location, `disk full (${code}): the write was not committed; free space and retry`, options)
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return lockedError(location, options)
  if (code.startsWith('SQLITE_IOERR')) return storeError(location, `I/O error (${code}: ${said})`, options)
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return storeError(location, `cannot open or write the file (${code}: ${said})`, { ...options, retryable: false })
  }
  return storeError(location, `${code}: ${said}`, options)
}
