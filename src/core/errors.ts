/**
 * Errors carry a stable `code` (callers branch on it), structured `details`, and a `cause`.
 * Identity checks use the code or a symbol marker, never `instanceof` alone, so errors survive
 * duplicate package copies and a trip through JSON (a remote worker or a checkpoint).
 * @module
 */

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
    return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[MARK] === true &&
      (code === undefined || (err as TaskweaveError).code === code)
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

  constructor(issues: readonly ValidationIssue[], options: { readonly cause?: unknown } = {}) {
    const head = issues.length === 1 ? '1 problem' : `${issues.length} problems`
    super('TW_VALIDATION', `invalid workflow (${head}):\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`, {
      ...options,
      retryable: false,
      details: { issues },
    })
    this.name = 'ValidationError'
    this.issues = issues
  }
}

/** An option passed to a constructor or function is out of range or of the wrong type. */
export class InvalidOptionError extends TaskweaveError {
  constructor(option: string, expected: string, received: unknown) {
    super('TW_INVALID_OPTION', `option "${option}" must be ${expected}; received ${describe(received)}`, {
      retryable: false,
      details: { option, expected },
    })
    this.name = 'InvalidOptionError'
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value)
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`
}

/** Turns anything thrown into plain data, following the cause chain (bounded, cycle-safe). */
export function serializeError(err: unknown, depth = 0): SerializedError {
  if (TaskweaveError.is(err)) {
    const cause = depth < 8 && err.cause !== undefined ? serializeError(err.cause, depth + 1) : undefined
    return {
      name: err.name,
      code: err.code,
      message: err.message,
      retryable: err.retryable,
      ...(Object.keys(err.details).length > 0 ? { details: err.details } : {}),
      ...(err.stack !== undefined ? { stack: err.stack } : {}),
      ...(cause ? { cause } : {}),
    }
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const cause = depth < 8 && err.cause !== undefined ? serializeError(err.cause, depth + 1) : undefined
    return {
      name: err.name,
      code: typeof code === 'string' ? code : 'TW_TOOL_FAILED',
      message: err.message,
      retryable: true,
      ...(err.stack !== undefined ? { stack: err.stack } : {}),
      ...(cause ? { cause } : {}),
    }
  }
  return { name: 'Error', code: 'TW_TOOL_FAILED', message: typeof err === 'string' ? err : describe(err), retryable: true }
}

/** Rebuilds an error from its plain-data form; `TaskweaveError.is(e, code)` keeps working. */
export function deserializeError(data: SerializedError): TaskweaveError {
  const err = new TaskweaveError(data.code, data.message, {
    retryable: data.retryable,
    ...(data.details ? { details: data.details } : {}),
    ...(data.cause ? { cause: deserializeError(data.cause) } : {}),
  })
  err.name = data.name
  if (data.stack !== undefined) err.stack = data.stack
  return err
}

/** The code of any thrown value: a taskweave code, a Node `code` (e.g. `ECONNRESET`), or `TW_TOOL_FAILED`. */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return 'TW_TOOL_FAILED'
}

/** Whether a retry policy may retry this error (false for terminal and cancellation errors). */
export function isRetryable(err: unknown): boolean {
  if (TaskweaveError.is(err)) return err.retryable
  if (typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === false) return false
  return true
}
