/**
 * Task outputs become plain JSON data before anyone sees them: that is what a report, a checkpoint
 * or a remote worker can carry, and it is deterministic (JSON semantics: `undefined` fields drop,
 * `Date` becomes its ISO string, `NaN` becomes null). What JSON cannot carry (BigInt, a cycle)
 * fails the task with a clear error, and so does an output over the size limit.
 * @module
 */
import { formatBytes } from '../core/bytes.js'
import { TaskweaveError } from '../core/errors.js'

/** Returns `value` as plain JSON data; throws `TW_OUTPUT_TOO_LARGE` or `TW_OUTPUT_NOT_SERIALIZABLE`. */
export function toPlainData(value: unknown, maxBytes: number, taskId: string): unknown {
  switch (typeof value) {
    case 'undefined':
    case 'boolean':
      return value
    case 'number':
      return Number.isFinite(value) ? value : null
    case 'string':
      // A UTF-8 byte is at most 3 per UTF-16 unit: measure exactly only when it could matter.
      if (value.length * 3 > maxBytes) checkSize(Buffer.byteLength(value), maxBytes, taskId)
      return value
    case 'object': {
      if (value === null) return null
      let text: string | undefined
      try {
        text = JSON.stringify(value)
      } catch (err) {
        throw new TaskweaveError('TW_OUTPUT_NOT_SERIALIZABLE', `output of task "${taskId}" is not plain data: ${err instanceof Error ? err.message : String(err)}`, { retryable: false, cause: err, details: { taskId } })
      }
      if (text === undefined) return undefined
      if (text.length * 3 > maxBytes) checkSize(Buffer.byteLength(text), maxBytes, taskId)
      return JSON.parse(text) as unknown
    }
    default:
      throw new TaskweaveError('TW_OUTPUT_NOT_SERIALIZABLE', `output of task "${taskId}" is a ${typeof value}, which is not plain data`, { retryable: false, details: { taskId } })
  }
}

function checkSize(bytes: number, maxBytes: number, taskId: string): void {
  if (bytes <= maxBytes) return
  throw new TaskweaveError('TW_OUTPUT_TOO_LARGE', `output of task "${taskId}" is ${formatBytes(bytes)}; the limit is ${formatBytes(maxBytes)} (raise maxOutputBytes, or store large data in files and pass their paths)`, {
    retryable: false,
    details: { taskId, bytes, maxBytes },
  })
}

export { formatBytes }
