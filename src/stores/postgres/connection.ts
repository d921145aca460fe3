/**
 * What the store's operations need from PostgreSQL: single statements, and transactions on one
 * connection. Driver types stay behind it (the implementation is `pool-connection.ts`).
 * @module
 */
import type { Tables } from './tables.js'

/** Statements within a transaction. Errors are the driver's; the transaction maps them. */
export interface Queryable {
  /**
   * Rows as objects keyed by column name. A `name` makes it a prepared statement, parsed and
   * planned once per connection (for the hot path; one name must always go with one text).
   */
  rows<R extends object>(text: string, values?: readonly unknown[], name?: string): Promise<R[]>
  /** Rows as arrays of column values, in select order (cheaper for many rows). */
  arrays(text: string, values?: readonly unknown[]): Promise<unknown[][]>
}

/** How a transaction reads: `write` (read committed), or `snapshot` (repeatable read, read only: one consistent view). */
export type TransactionMode = 'write' | 'snapshot'

/** What the operations of the store need from the database; driver types stay behind it. */
export interface PostgresConnection {
  /** The URL without password, for messages. */
  readonly location: string
  readonly tables: Tables
  /**
   * One statement on any pooled connection (its own transaction). `writes`: when the connection
   * breaks after the statement was sent, the error says whether it was applied is unknown.
   */
  rows<R extends object>(operation: string, text: string, values?: readonly unknown[], writes?: boolean): Promise<R[]>
  /** `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(operation: string, fn: (tx: Queryable) => Promise<T>, mode?: TransactionMode): Promise<T>
  /** Waits for the calls in flight, then closes every connection. Idempotent. */
  end(): Promise<void>
}
