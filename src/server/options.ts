/**
 * The settings of the HTTP API server and their checks: where it listens, who may call it, and
 * the bounds that keep a misbehaving client from exhausting it.
 * @module
 */
import { InvalidOptionError, TaskweaveError } from '../core/errors.js'
import { checkMethods } from '../core/known-options.js'
import type { Logger } from '../core/logger.js'
import type { Engine } from '../engine/engine.js'

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** The engine whose runs the API starts, lists and streams. The server never closes it. */
  readonly engine: Engine
  /** Address to listen on. @default '127.0.0.1' */
  readonly host?: string
  /** Port (0: any free one). @default 7600 */
  readonly port?: number
  /**
   * The bearer token every route but `/healthz` and the dashboard's static files needs. Without
   * one the API is open, which only a loopback address allows (`auth: 'none'` must say so).
   */
  readonly token?: string | undefined
  /** `'none'`: no token on a loopback address (refused elsewhere). @default 'token' */
  readonly auth?: 'token' | 'none'
  /**
   * Host names (and `host:port`) requests may be addressed to, beside `localhost`, `127.0.0.1`,
   * `[::1]` and the listening address: anything else is answered 421 (DNS rebinding).
   */
  readonly allowedHosts?: readonly string[]
  /** Origins granted cross-origin access (exact `scheme://host[:port]`). @default none */
  readonly corsOrigins?: readonly string[]
  /** Largest request body, in bytes. @default 1 MiB */
  readonly bodyLimit?: number
  /** Deepest nesting of a JSON body. @default 64 */
  readonly maxJsonDepth?: number
  /** Runs started through the API that may be unfinished at once; more are answered 429. @default 1,000 */
  readonly maxActiveRuns?: number
  /** Event streams (SSE) open at once; more are answered 503. @default 256 */
  readonly maxSubscribers?: number
  /** Finished runs kept in memory for an engine without a store. @default 200 */
  readonly keepFinishedRuns?: number
  /** Events kept per run for streams that reconnect (`Last-Event-ID`). @default 2,000 */
  readonly eventsPerRun?: number
  /** Whether `/` serves the dashboard. @default true */
  readonly dashboard?: boolean
  /** Whether `/metrics` serves the engine's Prometheus metrics (behind the token, as every route). @default true */
  readonly metrics?: boolean
  /** Time to receive a request's headers, and the whole request, in ms. @default 10,000 and 30,000 */
  readonly headersTimeoutMs?: number
  readonly requestTimeoutMs?: number
  /** Where refusals and failures are logged (never a token). */
  readonly logger?: Logger
}

/** {@link ServerOptions} with every default applied. */
export interface ServerSettings {
  readonly host: string
  readonly port: number
  readonly token: string | undefined
  readonly allowedHosts: ReadonlySet<string>
  readonly corsOrigins: ReadonlySet<string>
  readonly bodyLimit: number
  readonly maxJsonDepth: number
  readonly maxActiveRuns: number
  readonly maxSubscribers: number
  readonly keepFinishedRuns: number
  readonly eventsPerRun: number
  readonly dashboard: boolean
  readonly metrics: boolean
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
}

const OPTION_NAMES = new Set(['engine', 'host', 'port', 'token', 'auth', 'allowedHosts', 'corsOrigins', 'bodyLimit', 'maxJsonDepth', 'maxActiveRuns', 'maxSubscribers', 'keepFinishedRuns', 'eventsPerRun', 'dashboard', 'metrics', 'headersTimeoutMs', 'requestTimeoutMs', 'logger'])

/** Whether `host` is a loopback address or name. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase()
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare)
}

function count(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min) throw new InvalidOptionError(name, `an integer ≥ ${min}`, value)
  return value
}

/** Checks the options and applies the defaults; throws `TW_INVALID_OPTION` naming the option. */
export function serverSettings(options: ServerOptions): ServerSettings {
  if (typeof options !== 'object' || options === null) throw new TaskweaveError('TW_INVALID_OPTION', `startServer() takes an object of options; received ${String(options)}`, { retryable: false })
  // The engine first: the options that follow are about serving it.
  if (options.engine === undefined) throw new TaskweaveError('TW_INVALID_OPTION', 'startServer() needs an engine: startServer({ engine: createEngine(…), token })', { retryable: false, details: { option: 'engine' } })
  checkMethods(options.engine, 'engine', ['start', 'run', 'compile', 'close'])
  for (const key of Object.keys(options)) if (!OPTION_NAMES.has(key)) throw new InvalidOptionError(key, `one of ${[...OPTION_NAMES].join(', ')} (startServer has no option "${key}")`, key)
  const host = options.host ?? '127.0.0.1'
  const port = count('port', options.port, 7600, 0)
  if (port > 65_535) throw new InvalidOptionError('port', 'a port number from 0 to 65535', port)
  const auth = options.auth ?? 'token'
  if (auth !== 'token' && auth !== 'none') throw new InvalidOptionError('auth', "'token' or 'none'", auth)
  const token = options.token
  if (auth === 'token') {
    if (typeof token !== 'string' || token.length < 16) throw new InvalidOptionError('token', "a secret of at least 16 characters (or auth: 'none' on a loopback address)", token === undefined ? undefined : 'a short or non-text value')
    if (/\s/.test(token)) throw new InvalidOptionError('token', 'a secret without white space', 'a value with white space')
  } else if (!isLoopbackHost(host)) {
    throw new InvalidOptionError('auth', `'token' when listening on ${host}: without a token only a loopback address (127.0.0.1, ::1, localhost) may be used`, auth)
  }
  const allowedHosts = new Set(['localhost', '127.0.0.1', '[::1]', ...(options.allowedHosts ?? []).map((name) => name.toLowerCase())])
  if (host !== '0.0.0.0' && host !== '::') allowedHosts.add(host.includes(':') && !host.startsWith('[') ? `[${host.toLowerCase()}]` : host.toLowerCase())
  const corsOrigins = new Set<string>()
  for (const origin of options.corsOrigins ?? []) {
    if (origin === '*') throw new InvalidOptionError('corsOrigins', 'exact origins (scheme://host[:port]), never "*"', origin)
    let parsed: URL
    try {
      parsed = new URL(origin)
    } catch {
      throw new InvalidOptionError('corsOrigins', 'origins like https://app.example.com', origin)
    }
    if (parsed.origin === 'null' || parsed.origin !== origin.replace(/\/$/, '')) throw new InvalidOptionError('corsOrigins', 'exact origins (scheme://host[:port], no path, never "*")', origin)
    corsOrigins.add(parsed.origin)
  }
  return {
    host,
    port,
    token: auth === 'token' ? token : undefined,
    allowedHosts,
    corsOrigins,
    bodyLimit: count('bodyLimit', options.bodyLimit, 1024 * 1024, 1),
    maxJsonDepth: count('maxJsonDepth', options.maxJsonDepth, 64, 2),
    maxActiveRuns: count('maxActiveRuns', options.maxActiveRuns, 1000, 1),
    maxSubscribers: count('maxSubscribers', options.maxSubscribers, 256, 1),
    keepFinishedRuns: count('keepFinishedRuns', options.keepFinishedRuns, 200, 0),
    eventsPerRun: count('eventsPerRun', options.eventsPerRun, 2000, 1),
    dashboard: options.dashboard ?? true,
    metrics: options.metrics ?? true,
    headersTimeoutMs: count('headersTimeoutMs', options.headersTimeoutMs, 10_000, 1),
    requestTimeoutMs: count('requestTimeoutMs', options.requestTimeoutMs, 30_000, 1),
  }
}
