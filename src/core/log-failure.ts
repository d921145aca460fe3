/**
 * Reporting a failure of user code (a listener, a completion handler) through the logger port.
 * The report itself must never fail: the error is serialised by the never-throwing
 * `serializeError`, and a logger that throws is ignored, so one failure never turns into a crash.
 * @module
 */
import { serializeError } from './errors.js'
import type { LogFields, Logger } from './logger.js'

/** Logs `message` at error level with `error` serialised beside `fields`. Never throws. */
export function logFailure(logger: Logger, message: string, error: unknown, fields?: LogFields): void {
  try {
    logger.error(message, { ...fields, error: serializeError(error) })
  } catch {
    // The logger is user code too; nowhere is left to report its failure.
  }
}
