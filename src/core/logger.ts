/** The logger port handed to tools and used by the engine. Structured: a message plus fields. @module */

/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>

/** Minimal structured logger (pino-compatible in shape: `logger.info(fields, msg)` is not required). */
export interface Logger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger
}

/** A logger that drops everything (the default: the engine reports through events). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger
  },
}

/** A logger writing one JSON line per entry to stderr, at or above `level`. */
export function createConsoleLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'info', base: LogFields = {}): Logger {
  const order = { debug: 10, info: 20, warn: 30, error: 40 } as const
  const min = order[level]
  const write = (lvl: keyof typeof order, message: string, fields?: LogFields): void => {
    if (order[lvl] < min) return
    process.stderr.write(`${JSON.stringify({ level: lvl, time: new Date().toISOString(), msg: message, ...base, ...fields })}\n`)
  }
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createConsoleLogger(level, { ...base, ...fields }),
  }
}
