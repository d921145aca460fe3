/** The PostgreSQL adapter of the run store port. @module */
import { checkPruneOptions, checkRunFilter } from '../../core/store.js'
import type { AppendResult, JournalBatch, Lease, AcquireRequest, LeaseRequest, NewRun, PruneOptions, ReopenRequest, RunFilter, RunStore, RunSummary, StoredRun } from '../../core/store.js'
import type { PostgresConnection } from './connection.js'
import { append } from './ops/append.js'
import { createRun } from './ops/create-run.js'
import { serverNow } from './ops/lease-clock.js'
import { acquire, release, renew } from './ops/leases.js'
import { reopen } from './ops/reopen.js'
import { list } from './ops/list.js'
import { load } from './ops/load.js'
import { prune } from './ops/prune.js'

/**
 * A {@link RunStore} in a PostgreSQL schema, shared by any number of processes (leases and epochs
 * decide who writes a run). Make one with {@link openPostgresStore}, which also creates or
 * migrates the schema. Every method is one statement or one transaction; failures reject with
 * `TW_STORE` naming the URL (without password) and the cause, and never hang longer than the
 * connect or query timeout.
 */
export class PostgresRunStore implements RunStore, AsyncDisposable {
  readonly kind = 'postgres'
  /** The URL without its password. */
  readonly location: string
  /** False: other processes may hold live leases, so `takeOver` never takes an unexpired one. */
  readonly exclusive = false
  readonly #db: PostgresConnection
  /** Leases timed by the server (`now` passed as null) or by the caller's `now`. */
  readonly #serverClock: boolean
  /** PostgreSQL's clock, when leases go by it (see {@link RunStore.now}). */
  readonly now?: () => Promise<number>

  /** Use {@link openPostgresStore}; this wraps a connection whose schema is already migrated. */
  constructor(db: PostgresConnection, leaseClock: 'server' | 'caller' = 'server') {
    this.#db = db
    this.#serverClock = leaseClock === 'server'
    this.location = db.location
    if (this.#serverClock) this.now = () => serverNow(db)
  }

  createRun(run: NewRun, lease: LeaseRequest): Promise<Lease> {
    return createRun(this.#db, run, lease.owner, this.#now(lease.now), lease.ttlMs)
  }

  acquire(runId: string, lease: AcquireRequest): Promise<Lease | undefined> {
    return acquire(this.#db, runId, lease.owner, this.#now(lease.now), lease.ttlMs)
  }

  reopen(runId: string, request: ReopenRequest): Promise<Lease | undefined> {
    return reopen(this.#db, runId, request, this.#now(request.now))
  }

  renew(leases: readonly Lease[], now: number, ttlMs: number): Promise<readonly string[]> {
    return renew(this.#db, leases, this.#now(now), ttlMs)
  }

  release(leases: readonly Lease[]): Promise<void> {
    return release(this.#db, leases)
  }

  append(batches: readonly JournalBatch[]): Promise<AppendResult> {
    return append(this.#db, batches)
  }

  load(runId: string): Promise<StoredRun | undefined> {
    return load(this.#db, runId)
  }

  list(filter?: RunFilter): Promise<readonly RunSummary[]> {
    try {
      checkRunFilter(filter)
    } catch (err) {
      return Promise.reject(err)
    }
    return list(this.#db, filter)
  }

  prune(options: PruneOptions): Promise<number> {
    try {
      checkPruneOptions(options)
    } catch (err) {
      return Promise.reject(err)
    }
    return prune(this.#db, options)
  }

  /** Waits for the calls in flight, then closes the pool. Later calls reject with `TW_STORE`. Idempotent. */
  /** The time a lease operation goes by: the caller's, or null for the server's. */
  #now(callerNow: number): number | null {
    return this.#serverClock ? null : callerNow
  }

  close(): Promise<void> {
    return this.#db.end()
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
