/**
 * What went wrong below HTTP. undici reports every network failure as a `TypeError('fetch
 * failed')` whose `cause` holds the real error (a system error such as `connect ECONNREFUSED
 * 127.0.0.1:8080`, a DNS failure, a TLS alert, an `AggregateError` of one failure per address,
 * or a bare message such as "bad port"). This module digs that error out so the task's error
 * names it, in its message, its `code` and its `cause`.
 * @module
 */

/** The failure under undici's wrapper. */
export interface NetworkFailure {
  /** The underlying error (the one to report as `cause`). */
  readonly cause: unknown
  /** Its system or OpenSSL code (`ECONNREFUSED`, `ENOTFOUND`, `ERR_SSL_…`), when it has one. */
  readonly code: string | undefined
  /** A one-line description: the underlying message, with the code when the message lacks it. */
  readonly description: string
  /** False for failures a retry cannot fix: TLS and certificate errors. */
  readonly retryable: boolean
}

const MAX_DEPTH = 8
// Certificate and TLS failures come from configuration, not from a transient condition.
const PERMANENT_CODE = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$|ERR_INVALID_URL$)/

/**
 * Finds the error under `err`'s wrappers: the outermost one with a code (an `AggregateError`
 * carries the code of its parts and lists them all), else the innermost one.
 */
export function describeNetworkFailure(err: unknown): NetworkFailure {
  let withCode: { error: object; code: string } | undefined
  let innermost: unknown = err
  let current: unknown = err
  for (let depth = 0; depth < MAX_DEPTH && isObject(current) && withCode === undefined; depth++) {
    const code = codeOf(current)
    if (code !== undefined) withCode = { error: current, code }
    innermost = current
    current = next(current)
  }
  const cause = withCode?.error ?? innermost
  const code = withCode?.code
  const message = messageOf(cause) || (code ?? 'unknown network error')
  const description = code === undefined || message.includes(code) ? message : `${message} (${code})`
  return { cause, code, description, retryable: code === undefined || !PERMANENT_CODE.test(code) }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null
}

function codeOf(error: object): string | undefined {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && code.length > 0 ? code : undefined
}

/** The next error down: `cause`, or for an `AggregateError` (one failure per address tried) its first error. */
function next(error: object): unknown {
  const cause = (error as { cause?: unknown }).cause
  if (cause !== undefined) return cause
  const errors = (error as { errors?: unknown }).errors
  return Array.isArray(errors) ? (errors[0] as unknown) : undefined
}

function messageOf(error: unknown): string {
  if (!isObject(error)) return String(error)
  const message = (error as { message?: unknown }).message
  if (typeof message === 'string' && message.length > 0) return message.split('\n')[0] ?? message
  // An AggregateError of connection failures has an empty message; its parts say what happened.
  const errors = (error as { errors?: unknown }).errors
  if (Array.isArray(errors)) return errors.map(messageOf).filter((part) => part.length > 0).join('; ')
  return ''
}
