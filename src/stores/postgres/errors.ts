/**
 * How failures of the PostgreSQL store are reported: every driver or server error becomes a
 * `TW_STORE` error that names the store's URL (without password), the operation and the cause.
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import { describeThrown, readProperty, readString } from '../../core/thrown.js'

/** SQLSTATE of a unique-constraint violation. */
export const UNIQUE_VIOLATION = '23505'

/**
 * SQLSTATEs after which trying the same call again may succeed: serialization failures and
 * deadlocks (the transaction was rolled back whole), a statement cancelled by `statement_timeout`
 * or a lock not available (another writer held the run longer), a server shutting down or
 * refusing connections, too many connections, a full disk or memory, a database turned read-only
 * (a failover in progress, a guard against a full disk), and the connection-exception class (08…).
 */
const RETRYABLE_STATES = new Set(['40001', '40P01', '57014', '55P03', '57P01', '57P02', '57P03', '53300', '53100', '53200', '25006'])

/** The SQLSTATE of a server error, or undefined for anything else (a socket error, a timeout). */
export function sqlStateOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const code = readString(err, 'code')
  // Node socket errors have codes too (ECONNREFUSED); a SQLSTATE is five digits or capitals.
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('E') ? code : undefined
}

/**
 * The cause in a few words: its message, else its code (Node reports a refused connection to a
 * host with several addresses as an AggregateError without a message), plus the SQLSTATE or
 * socket code when there is one.
 */
export function describeCause(err: unknown): string {
  const message = describeThrown(err)
  const code = typeof err === 'object' && err !== null ? readString(err, 'code') : undefined
  let text = message
  if (text === '' && typeof err === 'object' && err !== null) {
    const inner = readProperty(err, 'errors')
    const first: unknown = inner.ok && Array.isArray(inner.value) ? inner.value[0] : undefined
    text = first === undefined ? '' : describeThrown(first)
  }
  // pg wraps a timed-out connection attempt; its cause says what happened underneath.
  const cause = typeof err === 'object' && err !== null ? readProperty(err, 'cause') : undefined
  if (cause?.ok === true && cause.value !== undefined && cause.value !== err) text = `${text} (${describeThrown(cause.value)})`
  if (text === '') text = code ?? 'unknown error'
  else if (code !== undefined && !text.includes(code)) text = `${text} [${code}]`
  return text
}

/**
 * A `TW_STORE` error for a failed `operation`. `uncertain` says the connection broke while a
 * COMMIT was on its way: the transaction may or may not have been applied.
 */
export function storeError(location: string, operation: string, cause: unknown, uncertain = false): TaskweaveError {
  const state = sqlStateOf(cause)
  const retryable = state === undefined || state.startsWith('08') || RETRYABLE_STATES.has(state)
  const outcome = uncertain ? '; the connection broke while the change was being committed, so whether it was applied is unknown' : ''
  return new TaskweaveError('TW_STORE', `PostgreSQL store ${location}: ${operation} failed: ${describeCause(cause)}${outcome}`, {
    cause,
    retryable,
    details: { location, operation, ...(state === undefined ? {} : { sqlState: state }), ...(uncertain ? { uncertain: true } : {}) },
  })
}

/** The error of a call on a closed store. */
export function closedError(location: string, operation: string): TaskweaveError {
  return new TaskweaveError('TW_STORE', `PostgreSQL store ${location}: ${operation} called after close()`, { retryable: false, details: { location, operation } })
}
