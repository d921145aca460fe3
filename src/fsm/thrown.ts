/**
 * Reading values thrown by user code without ever throwing. A step (or an agent) can throw
 * anything: an Error whose `code` getter throws, a revoked Proxy (every property access and even
 * `instanceof` throws), an object whose `toString` throws. Reporting such a value naively (its
 * message, its code, `String(value)`) throws again, from the engine's own code, where nothing
 * catches it: the process crashes or a promise never settles.
 *
 * {@link readThrown} reads what can be read, each field under its own try/catch.
 * {@link toReportable} keeps a value that reads cleanly (so an agent's own errors keep their
 * identity, code and retryability) and replaces anything else with a `TaskweaveError` built from
 * what could be read. Neither ever throws. (Kept in `fsm/`, the lowest layer that needs it, so the
 * agent pool above can share it; it belongs in `core/errors.ts` beside the serializer.)
 * @module
 */
import { types } from 'node:util'
import { TaskweaveError } from '../core/errors.js'

/** What could be read of a thrown value. */
export interface ThrownFacts {
  /** Its message, `String(value)`, or a description of why neither could be read. */
  readonly message: string
  /** Its `code`, when that is a readable string. */
  readonly code: string | undefined
  /** Its `retryable`, when that is a readable boolean. */
  readonly retryable: boolean | undefined
}

/** Longest chain of causes checked by {@link toReportable} (the serializer follows 8). */
const MAX_CAUSES = 8

function attempt<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}

function field(value: object, key: string): unknown {
  return attempt(() => (value as Record<string, unknown>)[key])
}

/** Reads the message, code and retryability of anything thrown. Never throws. */
export function readThrown(value: unknown): ThrownFacts {
  if (typeof value !== 'object' && typeof value !== 'function') {
    return { message: typeof value === 'string' ? value : (attempt(() => String(value as number | boolean | symbol | bigint | undefined)) ?? typeof value), code: undefined, retryable: undefined }
  }
  if (value === null) return { message: 'null', code: undefined, retryable: undefined }
  if (types.isProxy(value) && attempt(() => Object.getPrototypeOf(value) as unknown) === undefined) {
    return { message: 'an unreadable value (a revoked Proxy)', code: undefined, retryable: undefined }
  }
  const message = field(value, 'message')
  const code = field(value, 'code')
  const retryable = field(value, 'retryable')
  return {
    // String() is what would print it; an object's own toString is user code, hence attempt().
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    message: typeof message === 'string' ? message : (attempt(() => String(value)) ?? 'an unreadable value (reading its message and toString threw)'),
    code: typeof code === 'string' ? code : undefined,
    retryable: typeof retryable === 'boolean' ? retryable : undefined,
  }
}

/**
 * True when `value` can be reported as it is: a primitive, or a genuine Error (no Proxy) whose
 * name, message, stack, code, retryable, details and causes read without throwing.
 */
export function isReportable(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' && typeof value !== 'function') return true
  if (value === null) return true
  if (depth > MAX_CAUSES) return false
  try {
    if (types.isProxy(value) || !(value instanceof Error)) return false
    const { name, message, stack, details } = value as Error & { details?: unknown }
    const code: unknown = (value as { code?: unknown }).code
    const retryable: unknown = (value as { retryable?: unknown }).retryable
    void [name, stack, code, retryable]
    if (typeof message !== 'string') return false
    if (details !== undefined && (typeof details !== 'object' || types.isProxy(details))) return false
    return value.cause === undefined || isReportable(value.cause, depth + 1)
  } catch {
    return false
  }
}

/**
 * `value` itself when it {@link isReportable | reads cleanly}; otherwise a `TaskweaveError` with
 * the value's own code when readable (else `fallbackCode`), its message prefixed by `context`.
 * Never throws.
 */
export function toReportable(value: unknown, fallbackCode: string, context: string): unknown {
  if (isReportable(value)) return value
  const facts = readThrown(value)
  return new TaskweaveError(facts.code ?? fallbackCode, `${context}: ${facts.message}`, { retryable: facts.retryable ?? true })
}
