/**
 * Loads the `pg` driver (an optional peer dependency: only this folder imports it, and only when
 * a PostgreSQL store is opened) and makes the connection pool with the store's settings.
 * @module
 */
import type pgModule from 'pg'
import type { Pool } from 'pg'
import { TaskweaveError } from '../../core/errors.js'
import { describeCause } from './errors.js'
import type { ResolvedPostgresStoreOptions } from './options.js'

type Pg = typeof pgModule

/** The `pg` module, or `TW_STORE` saying how to install it. */
export async function loadDriver(location: string): Promise<Pg> {
  try {
    return (await import('pg')).default
  } catch (err) {
    throw new TaskweaveError('TW_STORE', `PostgreSQL store ${location}: the "pg" package could not be loaded (install it with \`npm install pg\`): ${describeCause(err)}`, {
      cause: err,
      retryable: false,
      details: { location },
    })
  }
}

/**
 * The client gives up on an answer this long after the server was asked to cancel the statement:
 * a slow statement is then cancelled by the server (and the connection stays usable), while a
 * server that stopped answering altogether (a half-open connection) is still noticed.
 */
function clientGraceMs(queryTimeoutMs: number): number {
  return Math.min(1000, Math.ceil(queryTimeoutMs / 10))
}

/** A pool for the store, with bounded waits everywhere and listeners that keep a dropped connection from crashing the process. */
export function createPool(pg: Pg, options: ResolvedPostgresStoreOptions): Pool {
  // bigint columns (epoch ms, run keys) as numbers: every value the store keeps is far below 2^53.
  // Set on this pool only, so the application's own `pg` users keep their parsers.
  const types = new pg.TypeOverrides()
  types.setTypeParser(pg.types.builtins.INT8, Number)
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize,
    // Bounds both opening a connection (an unreachable or silent server) and waiting for a free one.
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.queryTimeoutMs,
    query_timeout: options.queryTimeoutMs + clientGraceMs(options.queryTimeoutMs),
    // A process that stops between two statements of a transaction (frozen, partitioned) would hold
    // its row locks, and so every other writer of those runs, until the server ends the session.
    idle_in_transaction_session_timeout: Math.max(options.queryTimeoutMs, 1000),
    // TCP keepalive, so the OS notices a peer that vanished while the connection sat idle.
    keepAlive: true,
    application_name: 'taskweave',
    types,
    idleTimeoutMillis: 10_000,
    // Idle connections alone do not keep a finished program running (a CLI that forgot close()).
    allowExitOnIdle: true,
  })
  // A connection the server or the network drops is reported as an 'error' event: on the pool for
  // an idle client, on the client itself while it is checked out. An 'error' event without a
  // listener ends the process, so both get one. Nothing else needs doing here: the pool discards an
  // idle client that failed, the store releases a failed checked-out client with its error (which
  // destroys it), and the call that was using it rejects with the error.
  pool.on('error', ignore)
  pool.on('connect', (client) => {
    client.on('error', ignore)
  })
  return pool
}

function ignore(): void {}
