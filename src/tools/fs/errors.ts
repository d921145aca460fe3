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

/** `TW_FS_TOO_LARGE`: the file is bigger than `maxReadBytes`. `size` may be a lower bound for a growing file. */
export function fsTooLarge(path: string, size: number, limit: number): TaskweaveError {
  return new TaskweaveError('TW_FS_TOO_LARGE', `${quotePath(path)} is ${size} bytes, over the limit of ${limit} bytes`, {
    retryable: false,
    details: { path: path.slice(0, MAX_QUOTED), size, limit },
  })
}

/** The `code` of a Node system error, if it has one. */
export function systemCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}
