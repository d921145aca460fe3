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

/**
 * A logger that takes its fields first and its message second, as pino does
 * (`logger.info({ runId }, 'run started')`); {@link pinoLogger} adapts one to {@link Logger}.
 */
export interface FieldsFirstLogger {
  debug(fields: object, message?: string): void
  info(fields: object, message?: string): void
  warn(fields: object, message?: string): void
  error(fields: object, message?: string): void
  child(bindings: object): FieldsFirstLogger
}

/**
 * The engine's {@link Logger} writing to a pino logger (or any {@link FieldsFirstLogger}): its
 * levels, destinations, redaction and transports apply to what the engine, its tools and the
 * server log; each line keeps its fields as pino fields and its message as `msg`.
 * @example
 * ```ts
 * import pino from 'pino'
 * const engine = createEngine({ logger: pinoLogger(pino({ level: 'info' })) })
 * ```
 */
export function pinoLogger(logger: FieldsFirstLogger): Logger {
  return {
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
    child: (fields) => pinoLogger(logger.child(fields)),
  }
}
