/**
 * The store's access to PostgreSQL over a `pg` pool: single statements on the pool, and
 * transactions on one checked-out connection. Every failure leaves here as `TW_STORE` naming the
 * URL and the operation, and every connection that failed in a way that may have left it in an
 * unknown state (a broken socket, a timed-out answer still on its way) is destroyed rather than
 * handed back to the pool, so a later call never reads a stale answer or inherits an open
 * transaction.
 * @module
 */
import type { Pool, PoolClient } from 'pg'
import { TaskweaveError } from '../../core/errors.js'
import type { PostgresConnection, Queryable, TransactionMode } from './connection.js'
import { closedError, sqlStateOf, storeError } from './errors.js'
import type { Tables } from './tables.js'

/** A {@link PostgresConnection} over a `pg` pool. */
export class PoolConnection implements PostgresConnection {
  readonly location: string
  readonly tables: Tables
  readonly #pool: Pool
  /** Calls begun and not yet settled: `end()` lets them finish (pg-pool serves no queued request once it is ending). */
  readonly #inFlight = new Set<Promise<unknown>>()
  #ending: Promise<void> | undefined

  constructor(pool: Pool, location: string, tables: Tables) {
    this.#pool = pool
    this.location = location
    this.tables = tables
  }

  rows<R extends object>(operation: string, text: string, values?: readonly unknown[], writes = false): Promise<R[]> {
    this.#open(operation)
    return this.#track(this.#rows<R>(operation, text, values, writes))
  }

  async #rows<R extends object>(operation: string, text: string, values: readonly unknown[] | undefined, writes: boolean): Promise<R[]> {
    if (writes) return this.#write<R>(operation, text, values ?? [])
    try {
      // pool.query releases the client with the error on failure, which destroys it.
      const result = await this.#pool.query<R>(text, values === undefined ? undefined : [...values])
      return result.rows
    } catch (err) {
      throw storeError(this.location, operation, err)
    }
  }

  transaction<T>(operation: string, fn: (tx: Queryable) => Promise<T>, mode: TransactionMode = 'write'): Promise<T> {
    this.#open(operation)
    return this.#track(this.#transaction(operation, fn, mode))
  }

  async #transaction<T>(operation: string, fn: (tx: Queryable) => Promise<T>, mode: TransactionMode): Promise<T> {
    let client: PoolClient
    try {
      client = await this.#pool.connect()
    } catch (err) {
      throw storeError(this.location, operation, err)
    }
    let committing = false
    try {
      await client.query(mode === 'snapshot' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN')
      const result = await fn(queryableOf(client))
      committing = true
      await client.query('COMMIT')
      client.release()
      return result
    } catch (err) {
      await abandon(client, err)
      if (TaskweaveError.is(err)) throw this.#located(operation, err)
      // A server error during COMMIT (a failed check) means it was rolled back; a broken or silent
      // connection during COMMIT leaves the outcome unknown, and the error says so.
      throw storeError(this.location, operation, err, committing && sqlStateOf(err) === undefined)
    }
  }

  /** A writing statement: connected first, so a failure to connect is known to have written nothing. */
  async #write<R extends object>(operation: string, text: string, values: readonly unknown[]): Promise<R[]> {
    let client: PoolClient
    try {
      client = await this.#pool.connect()
    } catch (err) {
      throw storeError(this.location, operation, err)
    }
    try {
      const result = await client.query<R>(text, [...values])
      client.release()
      return result.rows
    } catch (err) {
      // A server error: the statement (its own transaction) was rolled back and the connection is
      // sound. Anything else (a broken or silent connection): it may have been committed.
      const known = sqlStateOf(err) !== undefined
      client.release(known ? undefined : err instanceof Error ? err : true)
      throw storeError(this.location, operation, err, !known)
    }
  }

  /** Refuses new calls at once, lets the calls already begun finish, then closes the pool. */
  end(): Promise<void> {
    this.#ending ??= Promise.allSettled([...this.#inFlight])
      .then(() => this.#pool.end())
      .catch(() => undefined)
    return this.#ending
  }

  /** A store error raised inside a transaction (a damaged row, say), named with the store and operation like every other. */
  #located(operation: string, err: TaskweaveError): TaskweaveError {
    if (err.code !== 'TW_STORE' || err.message.startsWith('PostgreSQL store ')) return err
    return new TaskweaveError('TW_STORE', `PostgreSQL store ${this.location}: ${operation} failed: ${err.message}`, { retryable: err.retryable, details: { ...err.details, location: this.location, operation }, cause: err })
  }

  #track<T>(call: Promise<T>): Promise<T> {
    this.#inFlight.add(call)
    const forget = (): void => void this.#inFlight.delete(call)
    call.then(forget, forget)
    return call
  }

  #open(operation: string): void {
    if (this.#ending !== undefined) throw closedError(this.location, operation)
  }
}

function queryableOf(client: PoolClient): Queryable {
  const copy = (values: readonly unknown[] | undefined): unknown[] => (values === undefined ? [] : [...values])
  return {
    async rows<R extends object>(text: string, values?: readonly unknown[], name?: string): Promise<R[]> {
      // Without values and name, the simple protocol: it allows several statements in one text (migrations).
      const result = name === undefined && values === undefined ? await client.query<R>(text) : await client.query<R>({ text, values: copy(values), ...(name === undefined ? {} : { name }) })
      return result.rows
    },
    async arrays(text: string, values?: readonly unknown[]): Promise<unknown[][]> {
      return (await client.query<unknown[]>({ text, values: copy(values), rowMode: 'array' })).rows
    },
  }
}

/**
 * Ends a failed transaction. After a server error (or the store's own refusal) the connection is
 * sound: ROLLBACK, and it goes back to the pool. After anything else (a socket error, a timed-out
 * answer) its state is unknown: it is destroyed, and the server rolls back when the socket closes.
 */
async function abandon(client: PoolClient, err: unknown): Promise<void> {
  if (sqlStateOf(err) !== undefined || TaskweaveError.is(err)) {
    try {
      await client.query('ROLLBACK')
      client.release()
      return
    } catch (rollbackError) {
      client.release(rollbackError instanceof Error ? rollbackError : true)
      return
    }
  }
  client.release(err instanceof Error ? err : true)
}
