/**
 * The messages between a SQLite store on the caller's thread and its database thread. The thread
 * serves one call at a time, in the order they were posted, so every call is atomic and a `close`
 * posted after writes answers only once they are committed.
 *
 * Everything here crosses the thread boundary by structured clone: plain data only.
 * @module
 */
import type { SerializedError } from '../../core/errors.js'
import type { AppendResult, JournalBatch, Lease, AcquireRequest, LeaseRequest, NewRun, PruneOptions, ReopenRequest, RunFilter, RunSummary, StoredRun } from '../../core/store.js'

/** Every call the database thread serves: its arguments and its answer. */
export interface ThreadCalls {
  readonly createRun: { readonly args: readonly [run: NewRun, lease: LeaseRequest]; readonly result: Lease }
  readonly acquire: { readonly args: readonly [runId: string, lease: AcquireRequest]; readonly result: Lease | undefined }
  readonly renew: { readonly args: readonly [leases: readonly Lease[], now: number, ttlMs: number]; readonly result: readonly string[] }
  readonly release: { readonly args: readonly [leases: readonly Lease[]]; readonly result: void }
  readonly append: { readonly args: readonly [batches: readonly JournalBatch[]]; readonly result: AppendResult }
  readonly reopen: { readonly args: readonly [runId: string, request: ReopenRequest]; readonly result: Lease | undefined }
  readonly load: { readonly args: readonly [runId: string]; readonly result: StoredRun | undefined }
  readonly list: { readonly args: readonly [filter: RunFilter]; readonly result: readonly RunSummary[] }
  readonly prune: { readonly args: readonly [options: PruneOptions]; readonly result: number }
  /** `PRAGMA integrity_check`: `['ok']`, or what SQLite found wrong (at most 100 lines). */
  readonly integrityCheck: { readonly args: readonly []; readonly result: readonly string[] }
  /** Closes the connection (SQLite checkpoints the WAL into the file); the thread then exits. */
  readonly close: { readonly args: readonly []; readonly result: void }
}

/** The name of a call. */
export type CallName = keyof ThreadCalls

/** What the thread does for each call, synchronously, on its connection. */
export type CallHandlers = { readonly [N in CallName]: (...args: ThreadCalls[N]['args']) => ThreadCalls[N]['result'] }

/** What the thread starts with (`workerData`). */
export interface ThreadData {
  /** Absolute path of the database file. */
  readonly file: string
  /** The path as the caller gave it: what messages name. */
  readonly location: string
  /** SQLite's busy_timeout: how long opening waits for another process to let go of the file. */
  readonly busyTimeoutMs: number
}

/** The caller's thread → the database thread: one call. */
export interface CallMessage {
  readonly id: number
  readonly name: CallName
  readonly args: readonly unknown[]
}

/** The database thread → the caller's thread. */
export type ThreadMessage =
  /** The file is open, locked and migrated; calls may follow. */
  | { readonly type: 'opened'; readonly sqliteVersion: string; readonly schemaVersion: number }
  /** Opening failed; the thread exits after this message. */
  | { readonly type: 'failed'; readonly error: SerializedError }
  /** The answer to the call `id`. */
  | { readonly type: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'reply'; readonly id: number; readonly ok: false; readonly error: SerializedError }
