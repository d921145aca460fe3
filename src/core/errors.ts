/**
 * Errors carry a stable `code` (callers branch on it), structured `details`, and a `cause`.
 * Identity checks use the code or a symbol marker, never `instanceof` alone, so errors survive
 * duplicate package copies and a trip through JSON (a remote worker or a checkpoint). Thrown values
 * are read only through `thrown.ts`, so no helper here throws, whatever was thrown.
 * @module
 */

import { capString, describeThrown, isErrorLike, readProperty, readString, MAX_STACK_CHARS } from './thrown.js'

const MARK = Symbol.for('taskweave.error')

/** Every error code taskweave raises. */
export type ErrorCode =
  | 'TW_VALIDATION'
  | 'TW_INVALID_OPTION'
  | 'TW_TERMINAL'
  | 'TW_TIMEOUT'
  | 'TW_CANCELLED'
  | 'TW_TEMPLATE'
  | 'TW_EXPRESSION'
  | 'TW_UNKNOWN_TOOL'
  | 'TW_TOOL_INPUT'
  | 'TW_TOOL_FAILED'
  | 'TW_OUTPUT_TOO_LARGE'
  | 'TW_INPUT_TOO_LARGE'
  | 'TW_OUTPUT_NOT_SERIALIZABLE'
  | 'TW_FOR_EACH'
  | 'TW_DYNAMIC_TASK'
  | 'TW_FS_DENIED'
  | 'TW_FS_NOT_FOUND'
  | 'TW_FS_TOO_LARGE'
  | 'TW_HTTP_DENIED'
  | 'TW_HTTP_TOO_LARGE'
  | 'TW_HTTP_STATUS'
  | 'TW_FAIL_FAST'
  | 'TW_INVALID_STATE'
  | 'TW_FSM_UNKNOWN_STATE'
  | 'TW_FSM_MAX_TRANSITIONS'
  | 'TW_FSM_STATE_FAILED'
  | 'TW_RUN_FAILED'
  | 'TW_STORE'
  | 'TW_STORE_CONFLICT'
  | 'TW_STORE_NOT_FOUND'
  | 'TW_LEASE_LOST'
  | 'TW_INTERRUPTED'
  | 'TW_UNCERTAIN'
  | 'TW_PARKED'
  | 'TW_LOST'
  | 'TW_RATE_LIMITED'
  | 'TW_RATE_NEVER_FITS'
  | 'TW_BUDGET_EXHAUSTED'
  | 'TW_LLM'
  | 'TW_MCP'
  | 'TW_PLAN'
  | 'TW_QUEUE'
  | 'TW_QUEUE_FULL'
  | 'TW_TRANSPORT'
  | 'TW_DELIVERY_LIMIT'
  | 'TW_API'

/** The plain-data form of an error: what a report, a checkpoint or a wire message holds. */
export interface SerializedError {
  readonly name: string
  readonly code: string
  readonly message: string
  readonly retryable: boolean
  readonly details?: Readonly<Record<string, unknown>>
  readonly stack?: string
  readonly cause?: SerializedError
}

/** Options common to every taskweave error. */
export interface TaskweaveErrorOptions {
  /** The underlying error. */
  readonly cause?: unknown
  /** Structured fields (task id, file, field…) that explain the error. */
  readonly details?: Readonly<Record<string, unknown>>
  /** Whether a retry policy may try again. @default true */
  readonly retryable?: boolean
}

/** Base class of every error taskweave throws. */
export class TaskweaveError extends Error {
  /** Stable code; branch on this, not on the message. */
  readonly code: string
  /** Structured context: ids, fields, limits. */
  readonly details: Readonly<Record<string, unknown>>
  /** False when retrying cannot help. */
  readonly retryable: boolean
  readonly [MARK] = true

  constructor(code: ErrorCode | (string & {}), message: string, options: TaskweaveErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TaskweaveError'
    this.code = code
    this.details = options.details ?? {}
    this.retryable = options.retryable ?? true
  }

  /** True when `err` is a taskweave error, optionally with the given code. */
  static is(err: unknown, code?: ErrorCode | (string & {})): err is TaskweaveError {
    if (typeof err !== 'object' || err === null) return false
    const mark = readProperty(err, MARK)
    if (!mark.ok || mark.value !== true) return false
    return code === undefined || readString(err, 'code') === code
  }

  /** Plain-data form (for reports, checkpoints and the wire). */
  toJSON(): SerializedError {
    return serializeError(this)
  }
}

/** An error that must never be retried (bad input, a refused request). */
export class TerminalError extends TaskweaveError {
  constructor(message: string, options: Omit<TaskweaveErrorOptions, 'retryable'> & { readonly type?: string } = {}) {
    super('TW_TERMINAL', message, { ...options, retryable: false, details: { ...options.details, ...(options.type ? { type: options.type } : {}) } })
    this.name = 'TerminalError'
  }
}

/** An attempt (or a whole task) exceeded its time limit. */
export class TimeoutError extends TaskweaveError {
  constructor(message: string, options: TaskweaveErrorOptions = {}) {
    super('TW_TIMEOUT', message, options)
    this.name = 'TimeoutError'
  }
}

/** Work stopped because its run or task was cancelled. */
export class CancelledError extends TaskweaveError {
  constructor(message = 'cancelled', options: TaskweaveErrorOptions = {}) {
    super('TW_CANCELLED', message, { ...options, retryable: false })
    this.name = 'CancelledError'
  }
}

/**
 * A provider refused a call for its rate limit (HTTP 429). Thrown by a tool whose task has a rate
 * key, it pauses the whole key until `retryAfterMs` has passed and sends the task back to ready
 * without spending an attempt (up to the key's `maxBounces`). Elsewhere it is an ordinary,
 * retryable failure.
 */
export class RateLimitedError extends TaskweaveError {
  constructor(message: string, options: Omit<TaskweaveErrorOptions, 'retryable'> & { readonly retryAfterMs?: number | undefined } = {}) {
    const retryAfterMs = options.retryAfterMs
    super('TW_RATE_LIMITED', message, { ...options, retryable: true, details: { ...options.details, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } })
    this.name = 'RateLimitedError'
  }
}

/**
 * A message queue refused messages because it holds its `maxSize` already (`TW_QUEUE_FULL`).
 * Nothing of the refused call was enqueued; retryable once consumers catch up.
 */
export class QueueFullError extends TaskweaveError {
  constructor(queue: string, maxSize: number, options: Omit<TaskweaveErrorOptions, 'retryable'> = {}) {
    super('TW_QUEUE_FULL', `queue "${queue}" is full: it holds its maximum of ${maxSize} waiting messages`, { ...options, retryable: true, details: { ...options.details, queue, maxSize } })
    this.name = 'QueueFullError'
  }
}

/** One problem found while validating a workflow, pinned to where it is. */
export interface ValidationIssue {
  /** What is wrong, in words. */
  readonly message: string
  /** The file the workflow came from, when it came from one. */
  readonly file?: string
  /** The task the problem belongs to. */
  readonly taskId?: string
  /** Dotted path of the offending field, e.g. `tasks[2].input.url`. */
  readonly field?: string
  /** 1-based line in the file, when known. */
  readonly line?: number
  /** 1-based column in the file, when known. */
  readonly column?: number
}

/** Formats one issue as `file:line:col task "id" field: message`. */
export function formatIssue(issue: ValidationIssue): string {
  const where: string[] = []
  if (issue.file !== undefined) {
    where.push(issue.line !== undefined ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file)
  } else if (issue.line !== undefined) {
    where.push(`line ${issue.line}, column ${issue.column ?? 1}`)
  }
  if (issue.taskId !== undefined) where.push(`task "${issue.taskId}"`)
  if (issue.field !== undefined) where.push(issue.field)
  return where.length > 0 ? `${where.join(' ')}: ${issue.message}` : issue.message
}

/** A workflow (or an option) is invalid; lists every problem found, not just the first. */
export class ValidationError extends TaskweaveError {
  readonly issues: readonly ValidationIssue[]
  /** What was invalid: `workflow` (the default), or another input read like one (`configuration`). */
  readonly subject: string

  constructor(issues: readonly ValidationIssue[], options: { readonly cause?: unknown; readonly subject?: string } = {}) {
    const head = issues.length === 1 ? '1 problem' : `${issues.length} problems`
    const subject = options.subject ?? 'workflow'
    super('TW_VALIDATION', `invalid ${subject} (${head}):\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`, {
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
      retryable: false,
      details: { issues },
    })
    this.name = 'ValidationError'
    this.issues = issues
    this.subject = subject
  }
}

/** An option passed to a constructor or function is out of range or of the wrong type. */
export class InvalidOptionError extends TaskweaveError {
  constructor(option: string, expected: string, received: unknown) {
    super('TW_INVALID_OPTION', `option "${option}" must be ${expected}; received ${describeValue(received)}`, {
      retryable: false,
      details: { option, expected },
    })
    this.name = 'InvalidOptionError'
  }
}

/** A short description of an option's value for an error message; never throws (the value may be a revoked Proxy). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(capString(value, 200))
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value)
  try {
    return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`
  } catch {
    return 'a revoked Proxy'
  }
}

/** Deepest cause serialised; a deeper chain is cut there. */
export const MAX_CAUSE_DEPTH = 8

/**
 * Turns anything thrown into plain data, following the cause chain (at most
 * {@link MAX_CAUSE_DEPTH} deep; a cause met twice ends the chain). Never throws: a value whose
 * properties cannot be read (revoked Proxy, throwing getters, throwing `toString`) becomes
 * `TW_TOOL_FAILED` with a message saying why it cannot be described; messages and stacks are
 * capped at {@link MAX_MESSAGE_CHARS} and {@link MAX_STACK_CHARS}.
 */
export function serializeError(err: unknown, depth = 0): SerializedError {
  return serializeOne(err, depth, new Set())
}

function serializeOne(err: unknown, depth: number, seen: Set<unknown>): SerializedError {
  if ((typeof err !== 'object' && typeof err !== 'function') || err === null) {
    return { name: 'Error', code: 'TW_TOOL_FAILED', message: describeThrown(err), retryable: true }
  }
  seen.add(err)
  const isOurs = TaskweaveError.is(err)
  const isError = isOurs || isErrorLike(err)
  const name = readString(err, 'name') ?? 'Error'
  const code = readString(err, 'code') ?? 'TW_TOOL_FAILED'
  const message = describeThrown(err)
  const stack = isError ? readString(err, 'stack', MAX_STACK_CHARS) : undefined
  const details = isOurs ? readDetails(err) : undefined
  const cause = isError && depth < MAX_CAUSE_DEPTH ? readProperty(err, 'cause') : undefined
  const next = cause?.ok === true && cause.value !== undefined && !seen.has(cause.value) ? serializeOne(cause.value, depth + 1, seen) : undefined
  if (!isError) return { name: 'Error', code: 'TW_TOOL_FAILED', message, retryable: true }
  return {
    name,
    code,
    message,
    retryable: isRetryable(err),
    ...(details !== undefined ? { details } : {}),
    ...(stack !== undefined ? { stack } : {}),
    ...(next !== undefined ? { cause: next } : {}),
  }
}

/** A taskweave error's details when it has any; never throws. */
function readDetails(err: object): Readonly<Record<string, unknown>> | undefined {
  const read = readProperty(err, 'details')
  if (!read.ok || typeof read.value !== 'object' || read.value === null) return undefined
  try {
    return Object.keys(read.value).length > 0 ? (read.value as Readonly<Record<string, unknown>>) : undefined
  } catch {
    return undefined
  }
}

/** Rebuilds an error from its plain-data form; `TaskweaveError.is(e, code)` keeps working. */
export function deserializeError(data: SerializedError): TaskweaveError {
  // What arrived over a wire may be anything: a value that is no serialised error becomes one that says so.
  if (typeof data !== 'object' || data === null) return new TaskweaveError('TW_TOOL_FAILED', `an error arrived as ${describeValue(data)}, not as a serialised error`, { retryable: false })
  const err = new TaskweaveError(data.code, data.message, {
    retryable: data.retryable,
    ...(data.details ? { details: data.details } : {}),
    ...(data.cause ? { cause: deserializeError(data.cause) } : {}),
  })
  err.name = data.name
  if (data.stack !== undefined) err.stack = data.stack
  return err
}

/**
 * The code of any thrown value: a taskweave code, a Node `code` (e.g. `ECONNRESET`), or
 * `TW_TOOL_FAILED`. Never throws (a throwing `code` getter counts as no code).
 */
export function errorCode(err: unknown): string {
  if ((typeof err === 'object' || typeof err === 'function') && err !== null) return readString(err, 'code') ?? 'TW_TOOL_FAILED'
  return 'TW_TOOL_FAILED'
}

/**
 * Whether a retry policy may retry this error (false for terminal and cancellation errors, and for
 * anything with `retryable: false`). Never throws: an unreadable flag counts as retryable.
 */
export function isRetryable(err: unknown): boolean {
  if ((typeof err !== 'object' && typeof err !== 'function') || err === null) return true
  const read = readProperty(err, 'retryable')
  return !(read.ok && read.value === false)
}
