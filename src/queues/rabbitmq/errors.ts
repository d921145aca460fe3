/**
 * How failures of the RabbitMQ adapters are reported: every driver or broker error becomes a
 * `TW_QUEUE` (queue) or `TW_TRANSPORT` (transport) error that names the broker's URL (without
 * password), what was being done and the cause.
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import { describeThrown, readProperty, readString } from '../../core/thrown.js'

/** Which adapter reports, and about what: the code its errors carry and the words that name it. */
export interface Scope {
  readonly code: 'TW_QUEUE' | 'TW_TRANSPORT'
  /** What the messages name, e.g. `RabbitMQ queue "jobs"` or `RabbitMQ transport`. */
  readonly subject: string
  /** The broker's URL without password. */
  readonly location: string
}

/**
 * The cause in a few words: its message, else its code (Node reports a refused connection to a
 * host with several addresses as an AggregateError without a message).
 */
export function describeCause(err: unknown): string {
  let text = describeThrown(err)
  if (typeof err === 'object' && err !== null) {
    const code = readProperty(err, 'code')
    const inner = readProperty(err, 'errors')
    const first: unknown = inner.ok && Array.isArray(inner.value) ? inner.value[0] : undefined
    if (text === '' && first !== undefined) text = describeThrown(first)
    if (text === '' && code.ok && (typeof code.value === 'string' || typeof code.value === 'number')) text = String(code.value)
  }
  if (text === '') return 'unknown error'
  // amqplib's words when the broker refuses the connection.open of a vhost it does not have (or
  // one the user may not use): say so.
  if (text.includes('Expected ConnectionOpenOk') && text.includes('ConnectionClose')) return `${text} (the broker refused the virtual host: it does not exist, or this user has no access to it; the URL's path names it)`
  return text
}

/** The AMQP reply code of a broker error (404 not found, 406 precondition failed, 320 connection forced…), if it is one. */
export function replyCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const code = readProperty(err, 'code')
  return code.ok && typeof code.value === 'number' ? code.value : undefined
}

/** A `TW_QUEUE` / `TW_TRANSPORT` error for a failed `operation`. */
export function rabbitError(scope: Scope, operation: string, cause: unknown, options: { readonly retryable?: boolean; readonly details?: Readonly<Record<string, unknown>> } = {}): TaskweaveError {
  return new TaskweaveError(scope.code, `${scope.subject} at ${scope.location}: ${operation} failed: ${describeCause(cause)}`, {
    cause,
    retryable: options.retryable ?? true,
    details: { location: scope.location, operation, ...options.details },
  })
}

/** Runs `fn`, turning what it throws into a `TW_QUEUE` / `TW_TRANSPORT` error for `operation` (taskweave errors pass as they are). */
export async function guarded<R>(scope: Scope, operation: string, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn()
  } catch (err) {
    throw TaskweaveError.is(err) ? err : rabbitError(scope, operation, err)
  }
}

/** The error of a call on a closed handle. */
export function closedError(scope: Scope, operation: string): TaskweaveError {
  return new TaskweaveError(scope.code, `${scope.subject} at ${scope.location}: ${operation} called after close()`, { retryable: false, details: { location: scope.location, operation } })
}

const INEQUIVALENT = /inequivalent arg '([^']+)' for (?:queue|exchange) '([^']+)'[^:]*: received (.+) but current is (.+?)"?$/

/**
 * The error for a declaration the broker refused because the queue or exchange exists with other
 * arguments (`PRECONDITION_FAILED - inequivalent arg 'x-max-length' …`): a queue's arguments are
 * fixed when it is first declared, so the message names the queue, the argument and both values,
 * and says what to do. Undefined when `err` is not such a refusal.
 */
export function inequivalentError(scope: Scope, err: unknown): TaskweaveError | undefined {
  if (replyCodeOf(err) !== 406) return undefined
  const text = typeof err === 'object' && err !== null ? (readString(err, 'message', 2000) ?? '') : ''
  const match = INEQUIVALENT.exec(text)
  if (match === null) return undefined
  const [, argument = '', name = '', received = '', current = ''] = match
  return new TaskweaveError(
    scope.code,
    `${scope.subject} at ${scope.location}: "${name}" already exists on the broker with ${argument} ${current}, and this handle asks for ${received}; ` +
      `a queue's arguments are fixed when it is first declared: open it with the same options, or delete it first (destroy(), or \`rabbitmqctl delete_queue ${name}\`)`,
    { cause: err, retryable: false, details: { location: scope.location, queue: name, argument, current, requested: received } },
  )
}
