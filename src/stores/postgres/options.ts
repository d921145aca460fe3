/** Options of the PostgreSQL run store, and their one-time resolution into plain values. @module */
import { toMs } from '../../core/duration.js'
import type { Duration } from '../../core/duration.js'
import { refuseUnknownOptions } from '../../core/known-options.js'
import { InvalidOptionError } from '../../core/errors.js'
import { locationOf } from './location.js'

/** Options of {@link openPostgresStore}. */
export interface PostgresStoreOptions {
  /** A libpq URL: `postgres://user:password@host:5432/database`. The password never appears in messages. */
  readonly connectionString: string
  /**
   * The schema that holds the store's tables, created (with its tables) on first open. Several
   * stores may share one database under different schemas; tests use one schema each.
   * Letters, digits and `_`, starting with a letter or `_`, at most 63 characters.
   * @default 'taskweave'
   */
  readonly schema?: string
  /** Connections the store keeps open at most. @default 10 */
  readonly poolSize?: number
  /**
   * Longest wait for a connection: to open a new one (TCP, TLS, authentication) or to take one
   * from a full pool. An unreachable server fails within it with `TW_STORE`. @default '5s'
   */
  readonly connectTimeout?: Duration
  /**
   * Longest wait for the answer to one statement. The server is asked to cancel a statement that
   * runs longer (`statement_timeout`), and the client gives up on a server that stopped answering
   * (a half-open connection) a little later. @default '30s'
   */
  readonly queryTimeout?: Duration
  /** Aborts the opening (connecting and migrating); the promise then rejects with `signal.reason`. */
  readonly signal?: AbortSignal
  /**
   * Whose clock times leases: `'server'` (PostgreSQL's `clock_timestamp()`), so a process whose
   * clock runs ahead cannot take a live run and one whose clock lags cannot keep a dead one; or
   * `'caller'` (the `now` each call passes), for tests that move time with a manual clock.
   * @default 'server'
   */
  readonly leaseClock?: 'server' | 'caller'
}

/** {@link PostgresStoreOptions} with every default applied and durations in ms. */
export interface ResolvedPostgresStoreOptions {
  readonly connectionString: string
  readonly schema: string
  readonly poolSize: number
  readonly connectTimeoutMs: number
  readonly queryTimeoutMs: number
  readonly signal: AbortSignal | undefined
  readonly leaseClock: 'server' | 'caller'
}

/**
 * A schema name is spliced into SQL text (identifiers cannot be parameters), so it is checked
 * here as well as quoted there: a plain identifier never needs escaping, and case is kept.
 */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/** Checks and resolves the options; bad values throw `TW_INVALID_OPTION` naming the option. */
export function resolvePostgresStoreOptions(options: PostgresStoreOptions): ResolvedPostgresStoreOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object with a connectionString', options)
  refuseUnknownOptions('openPostgresStore', options, ['connectionString', 'schema', 'poolSize', 'connectTimeout', 'queryTimeout', 'signal', 'leaseClock'])
  const { connectionString } = options
  if (typeof connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(connectionString)) {
    throw new InvalidOptionError('connectionString', 'a postgres:// URL', typeof connectionString === 'string' ? locationOf(connectionString) : connectionString)
  }
  const schema = options.schema ?? 'taskweave'
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) throw new InvalidOptionError('schema', 'an identifier (letters, digits, _; at most 63 characters)', schema)
  const poolSize = options.poolSize ?? 10
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new InvalidOptionError('poolSize', 'an integer ≥ 1', poolSize)
  const connectTimeoutMs = toMs('connectTimeout', options.connectTimeout ?? '5s')
  const queryTimeoutMs = toMs('queryTimeout', options.queryTimeout ?? '30s')
  // pg treats 0 as "no timeout": a store must never wait forever, so 0 is refused.
  if (connectTimeoutMs < 1) throw new InvalidOptionError('connectTimeout', 'a duration of at least 1 ms', options.connectTimeout)
  if (queryTimeoutMs < 1) throw new InvalidOptionError('queryTimeout', 'a duration of at least 1 ms', options.queryTimeout)
  const leaseClock = options.leaseClock ?? 'server'
  if (leaseClock !== 'server' && leaseClock !== 'caller') throw new InvalidOptionError('leaseClock', "'server' or 'caller'", leaseClock)
  return { connectionString, schema, poolSize, connectTimeoutMs, queryTimeoutMs, signal: options.signal, leaseClock }
}
