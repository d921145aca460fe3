/** Options of the HTTP tool, checked once when the tool is created. @module */
import type * as Dns from 'node:dns/promises'
import type * as Net from 'node:net'
import { InvalidOptionError } from '../../core/errors.js'
import { optionNames, refuseUnknownOptions } from '../../core/known-options.js'

/** One address a host name resolves to. */
export interface ResolvedAddress {
  readonly address: string
  readonly family: 4 | 6
}

/** Resolves a host name to every address it has (like `dns.lookup` with `all: true`). */
export type HostLookup = (hostname: string) => Promise<ReadonlyArray<ResolvedAddress>>

/** Options of {@link createHttpTools}. */
export interface HttpToolOptions {
  /**
   * Allow requests to loopback, private, link-local and every other non-public address. Leave
   * off unless every URL the tool can be given is trusted. @default false
   */
  readonly allowPrivateNetwork?: boolean
  /**
   * Hosts reachable even when they resolve to a non-public address: `'host'` (any port) or
   * `'host:port'`; IPv6 as `'[::1]:8080'`. Matched against the URL's host name, never the address.
   * @default []
   */
  readonly allowHosts?: readonly string[]
  /** Largest response body, in bytes after decompression; larger fails with `TW_HTTP_TOO_LARGE`. @default 1048576 (1 MiB) */
  readonly maxResponseBytes?: number
  /** Time limit for the whole call: every redirect hop and the full body. @default 30000 */
  readonly timeoutMs?: number
  /** Redirects followed before failing with `TW_HTTP_DENIED`; 0 refuses every redirect. @default 5 */
  readonly maxRedirects?: number
  /** Host name resolver (inject one in tests). @default `dns.lookup(hostname, { all: true })` */
  readonly lookup?: HostLookup
}

/** A parsed `allowHosts` entry. */
export interface AllowedHost {
  /** Host name as the WHATWG URL parser serialises it (lower case, IPv6 in brackets). */
  readonly hostname: string
  /** Only this port, when given. */
  readonly port?: number
}

/** {@link HttpToolOptions} with defaults applied and `allowHosts` parsed. */
export interface ResolvedHttpToolOptions {
  readonly allowPrivateNetwork: boolean
  readonly allowHosts: readonly AllowedHost[]
  readonly maxResponseBytes: number
  readonly timeoutMs: number
  readonly maxRedirects: number
  readonly lookup: HostLookup
}

// node:net and node:dns load with the first request or allowHosts entry, not with the built-in
// tools that every engine and CLI command creates: together they are about 4 ms of start-up.
let netModule: typeof Net | undefined
let dnsModule: typeof Dns | undefined
/** `node:net`, loaded on first use. */
export const net = (): typeof Net => (netModule ??= process.getBuiltinModule('node:net'))
const dns = (): typeof Dns => (dnsModule ??= process.getBuiltinModule('node:dns/promises'))

const defaultLookup: HostLookup = async (hostname) =>
  (await dns().lookup(hostname, { all: true })).map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }))

/** Every option of {@link HttpToolOptions}. */
export const HTTP_TOOL_OPTION_NAMES = optionNames<HttpToolOptions>()(['allowPrivateNetwork', 'allowHosts', 'maxResponseBytes', 'timeoutMs', 'maxRedirects', 'lookup'])

/** Checks the options (throwing `TW_INVALID_OPTION` naming the bad one) and applies defaults. */
export function resolveHttpToolOptions(options: HttpToolOptions = {}): ResolvedHttpToolOptions {
  refuseUnknownOptions('createHttpTools', options, HTTP_TOOL_OPTION_NAMES, 'http.')
  const { allowPrivateNetwork = false, allowHosts = [], maxResponseBytes = 1024 * 1024, timeoutMs = 30_000, maxRedirects = 5, lookup = defaultLookup } = options
  if (typeof allowPrivateNetwork !== 'boolean') throw new InvalidOptionError('http.allowPrivateNetwork', 'a boolean', allowPrivateNetwork)
  if (!Array.isArray(allowHosts)) throw new InvalidOptionError('http.allowHosts', "an array of 'host' or 'host:port' strings", allowHosts)
  checkInteger('http.maxResponseBytes', maxResponseBytes, 0, Number.MAX_SAFE_INTEGER)
  checkInteger('http.timeoutMs', timeoutMs, 1, 2 ** 31 - 1)
  checkInteger('http.maxRedirects', maxRedirects, 0, 100)
  if (typeof lookup !== 'function') throw new InvalidOptionError('http.lookup', 'a function', lookup)
  return Object.freeze({
    allowPrivateNetwork,
    allowHosts: Object.freeze(allowHosts.map((entry, i) => parseAllowedHost(entry, `http.allowHosts[${i}]`))),
    maxResponseBytes,
    timeoutMs,
    maxRedirects,
    lookup,
  })
}

function checkInteger(option: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, `an integer from ${min} to ${max}`, value)
  }
}

/** Parses `'host'`, `'host:port'`, `'[v6]'`, `'[v6]:port'` or a bare IPv6 address. */
export function parseAllowedHost(entry: unknown, option = 'http.allowHosts'): AllowedHost {
  const expected = "'host' or 'host:port' (IPv6 as '[::1]:8080')"
  if (typeof entry !== 'string') throw new InvalidOptionError(option, expected, entry)
  const text = net().isIPv6(entry) ? `[${entry}]` : entry.trim()
  const match = /^(\[[^\]]+\]|[^:[\]/@?#\s]+)(?::(\d{1,5}))?$/.exec(text)
  const port = match?.[2] === undefined ? undefined : Number(match[2])
  if (!match?.[1] || (port !== undefined && (port < 1 || port > 65535))) throw new InvalidOptionError(option, expected, entry)
  let hostname: string
  try {
    // The URL parser's own serialisation, so entries compare equal to what requests are checked against.
    hostname = new URL(`http://${match[1]}/`).hostname
  } catch {
    throw new InvalidOptionError(option, expected, entry)
  }
  return port === undefined ? { hostname: canonicalHostname(hostname) } : { hostname: canonicalHostname(hostname), port }
}

/** A host name as compared against `allowHosts`: lower case, without a trailing dot. */
export function canonicalHostname(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '')
}
