/**
 * How failures of the Redis adapters are reported: every driver or server error becomes a
 * `TW_QUEUE` (message queue) or `TW_TRANSPORT` (transport) error naming the server's URL without
 * its password, the queue, the operation and the cause.
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { describeThrown, readProperty, readString } from '../../core/thrown.js'

/** Which port an error belongs to: the message queue or the transport. */
export type RedisErrorCode = 'TW_QUEUE' | 'TW_TRANSPORT'

/** Where an operation ran: the port's code, the server and (for a queue) its name. */
export interface ErrorScope {
  readonly code: RedisErrorCode
  /** The server's URL without its password. */
  readonly location: string
  /** The queue's name; absent for the transport as a whole. */
  readonly queue?: string
}

/**
 * The cause in a few words: its message, else its code (Node reports a refused connection to a
 * host with several addresses as an AggregateError without a message), with the socket code when
 * the message does not already say it.
 */
export function describeCause(err: unknown): string {
  let text = describeThrown(err)
  const code = typeof err === 'object' && err !== null ? readString(err, 'code') : undefined
  if (text === '' && typeof err === 'object' && err !== null) {
    const inner = readProperty(err, 'errors')
    const first: unknown = inner.ok && Array.isArray(inner.value) ? inner.value[0] : undefined
    text = first === undefined ? '' : describeThrown(first)
  }
  if (text === '') return code ?? 'unknown error'
  return code !== undefined && !text.includes(code) ? `${text} [${code}]` : text
}

/** `Redis queue "jobs" at redis://host:6379/` or `Redis transport at redis://host:6379/`. */
export function scopeText(scope: ErrorScope): string {
  return scope.queue === undefined ? `Redis transport at ${scope.location}` : `Redis queue "${scope.queue}" at ${scope.location}`
}

/** Whether `err` is the server refusing a write because its memory is full (`OOM command not allowed…`). */
export function isOutOfMemory(err: unknown): boolean {
  return /^OOM\b/.test(describeCause(err))
}

/**
 * The error of a failed `operation`, with its cause. Errors that already carry a taskweave code
 * pass through unchanged. A write refused for want of memory says so (`details.outOfMemory`): it
 * was not made, and may succeed once consumers have taken work off the server.
 */
export function redisError(scope: ErrorScope, operation: string, cause: unknown): TaskweaveError {
  if (TaskweaveError.is(cause)) return cause
  if (isOutOfMemory(cause)) {
    return new TaskweaveError(scope.code, `${scopeText(scope)}: ${operation} failed: the server is out of memory (its maxmemory is reached and it evicts nothing, so it refuses writes); try again once consumers have taken work off it, or raise maxmemory: ${describeCause(cause)}`, {
      cause,
      retryable: true,
      details: { location: scope.location, operation, outOfMemory: true, ...(scope.queue === undefined ? {} : { queue: scope.queue }) },
    })
  }
  return new TaskweaveError(scope.code, `${scopeText(scope)}: ${operation} failed: ${describeCause(cause)}`, {
    cause,
    details: { location: scope.location, operation, ...(scope.queue === undefined ? {} : { queue: scope.queue }) },
  })
}

/** The error of a call on a handle that was closed. */
export function closedError(scope: ErrorScope, operation: string): TaskweaveError {
  return new TaskweaveError(scope.code, `${scopeText(scope)}: ${operation} called after close()`, {
    retryable: false,
    details: { location: scope.location, operation, ...(scope.queue === undefined ? {} : { queue: scope.queue }) },
  })
}

/** How long the same warning is not repeated. */
const REPEAT_AFTER_MS = 30_000

/**
 * A warning function that says each message once per {@link REPEAT_AFTER_MS}: while Redis is down,
 * BullMQ reports every failed reconnect, several times a second.
 */
export function throttledWarn(logger: Logger): (message: string) => void {
  const said = new Map<string, number>()
  return (message) => {
    const now = performance.now()
    const last = said.get(message)
    if (last !== undefined && now - last < REPEAT_AFTER_MS) return
    if (said.size > 100) said.clear()
    said.set(message, now)
    logger.warn(message)
  }
}
