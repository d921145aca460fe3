/**
 * {@link SqliteRunStore}: the run store in one SQLite file, owned by one process at a time. Every
 * call goes to the database thread (`thread.ts`), which holds the only connection; this class
 * only forwards, so the caller's event loop never waits on the disk.
 * @module
 */
import { checkPruneOptions, checkRunFilter } from '../../core/store.js'
import type { AppendResult, JournalBatch, Lease, AcquireRequest, LeaseRequest, NewRun, PruneOptions, ReopenRequest, RunFilter, RunStore, RunSummary, StoredRun } from '../../core/store.js'
import type { SqliteThread } from './thread.js'

/**
 * A {@link RunStore} in a SQLite file (WAL, `synchronous=FULL`), held exclusively by this process.
 * Open one with `openSqliteStore`; close it to release the file (`await using` works too).
 */
export class SqliteRunStore implements RunStore, AsyncDisposable {
  readonly kind = 'sqlite'
  /** The database file, as given to `openSqliteStore`. */
  readonly location: string
  /** Always true: the file lock makes this process the store's only user. */
  readonly exclusive = true
  /** The version of the SQLite library serving the store. */
  readonly sqliteVersion: string
  readonly #thread: SqliteThread
  #closing: Promise<void> | undefined

  /** Wraps a thread that has opened its file; `openSqliteStore` is the way to get one. */
  constructor(thread: SqliteThread) {
    this.#thread = thread
    this.location = thread.location
    this.sqliteVersion = thread.info.sqliteVersion
  }

  createRun(run: NewRun, lease: LeaseRequest): Promise<Lease> {
    return this.#thread.call('createRun', run, lease)
  }

  acquire(runId: string, lease: AcquireRequest): Promise<Lease | undefined> {
    return this.#thread.call('acquire', runId, lease)
  }

  reopen(runId: string, request: ReopenRequest): Promise<Lease | undefined> {
    return this.#thread.call('reopen', runId, request)
  }

  /**
   * Runs SQLite's `PRAGMA integrity_check` on the whole file (every page, index and constraint;
   * it reads all of it): `['ok']`, or up to 100 lines saying what is damaged. Values themselves
   * are checked by their checksums as they are read (`load`).
   */
  integrityCheck(): Promise<readonly string[]> {
    return this.#thread.call('integrityCheck')
  }

  renew(leases: readonly Lease[], now: number, ttlMs: number): Promise<readonly string[]> {
    return this.#thread.call('renew', leases, now, ttlMs)
  }

  release(leases: readonly Lease[]): Promise<void> {
    return this.#thread.call('release', leases)
  }

  append(batches: readonly JournalBatch[]): Promise<AppendResult> {
    return this.#thread.call('append', batches)
  }

  load(runId: string): Promise<StoredRun | undefined> {
    return this.#thread.call('load', runId)
  }

  list(filter: RunFilter = {}): Promise<readonly RunSummary[]> {
    try {
      checkRunFilter(filter)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#thread.call('list', filter)
  }

  prune(options: PruneOptions): Promise<number> {
    try {
      checkPruneOptions(options)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#thread.call('prune', options)
  }

  /**
   * Lets the calls already made finish, closes the connection (SQLite folds the WAL back into the
   * file) and ends the thread, which releases the file for another process. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#thread.close()
    return this.#closing
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
