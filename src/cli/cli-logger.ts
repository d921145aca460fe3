/**
 * The engine's logger in `run` and `resume`: warnings and errors as plain lines on stderr
 * (`warning: …`), where the progress goes, rather than dropped; the rest stays quiet.
 * @module
 */
import type { Logger } from '../core/logger.js'
import type { CliIo } from './io.js'
import { terminalSafe } from './terminal-text.js'

/** A logger writing warnings and errors to `io`'s stderr. */
export function cliLogger(io: CliIo): Logger {
  const line = (label: string, message: string): void => io.stderr(`${label}: ${terminalSafe(message)}`)
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message) => line('warning', message),
    error: (message, fields) => line('error', typeof fields?.['error'] === 'string' ? `${message}: ${fields['error']}` : message),
    child: () => logger,
  }
  return logger
}
