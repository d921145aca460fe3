/** The three errors the filesystem tools raise; none is retryable, since retrying cannot change the answer. @module */
import { TaskweaveError } from '../../core/errors.js'

/** Longest path quoted in a message; a 4 KB hostile path should not flood the logs. */
const MAX_QUOTED = 200

/** Quotes a user-supplied path for a message: JSON escaping makes NUL and control bytes visible. */
export function quotePath(path: string): string {
  return JSON.stringify(path.length > MAX_QUOTED ? `${path.slice(0, MAX_QUOTED)}…` : path)
}

/** `TW_FS_DENIED`: the path escapes the root or names something the tools refuse to touch. */
export function fsDenied(path: string, reason: string, cause?: unknown): TaskweaveError {
  return new TaskweaveError('TW_FS_DENIED', `access to ${quotePath(path)} denied: ${reason}`, {
    retryable: false,
    details: { path: path.slice(0, MAX_QUOTED), reason },
    ...(cause === undefined ? {} : { cause }),
  })
}

/** `TW_FS_NOT_FOUND`: nothing exists at the path (inside the root). */
export function fsNotFound(path: string, cause?: unknown): TaskweaveError {
  return new TaskweaveError('TW_FS_NOT_FOUND', `${quotePath(path)} does not exist`, {
    retryable: false,
    details: { path: path.slice(0, MAX_QUOTED) },
    ...(cause === undefined ? {} : { cause }),
  })
}

/** What to do about a read over the limit; outputs are also capped by the engine, so both limits are named. */
const RAISE_LIMIT = "raise the fs tools' maxReadBytes option (and the engine's maxOutputBytes, 1 MiB by default, to at least 4/3 of it plus 32 KiB)"

/** `TW_FS_TOO_LARGE`: the file is bigger than `maxReadBytes`. `size` may be a lower bound for a growing file. */
export function fsTooLarge(path: string, size: number, limit: number): TaskweaveError {
  return new TaskweaveError('TW_FS_TOO_LARGE', `${quotePath(path)} is ${size} bytes, over the limit of ${limit} bytes; to read it, ${RAISE_LIMIT}`, {
    retryable: false,
    details: { path: path.slice(0, MAX_QUOTED), size, limit, option: 'maxReadBytes' },
  })
}

/**
 * `TW_FS_TOO_LARGE` for a file within `maxReadBytes` whose UTF-8 reading is too large as JSON
 * (invalid UTF-8 and control characters grow when decoded and escaped); base64 would fit.
 */
export function fsTextTooLarge(path: string, size: number, jsonBytes: number, budget: number): TaskweaveError {
  const message = `${quotePath(path)} (${size} bytes) is ${jsonBytes} bytes as UTF-8 text in JSON, over the ${budget} bytes its size allows; read it with encoding "base64", or ${RAISE_LIMIT}`
  return new TaskweaveError('TW_FS_TOO_LARGE', message, {
    retryable: false,
    details: { path: path.slice(0, MAX_QUOTED), size, jsonBytes, limit: budget, option: 'maxReadBytes' },
  })
}

/** The `code` of a Node system error, if it has one. */
export function systemCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}
