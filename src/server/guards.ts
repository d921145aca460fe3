/**
 * The checks every request meets before a route sees it: the Host it was addressed to (DNS
 * rebinding), a token in the query string (refused: it would land in logs), the bearer token,
 * and cross-origin access (granted only to configured origins, never `*`).
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { ServerSettings } from './options.js'

/** A refusal: the HTTP status and what to tell the client. */
export interface Refusal {
  readonly status: number
  readonly message: string
  readonly headers?: Readonly<Record<string, string>>
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

/**
 * Compares a presented bearer token with the configured one in constant time: both are hashed
 * first, so the comparison is of equal-length digests and reveals neither length nor content.
 */
export function tokenChecker(token: string): (presented: string) => boolean {
  const expected = digest(token)
  return (presented) => timingSafeEqual(digest(presented), expected)
}

/** The Host a request names must be one the server answers to (421 otherwise). */
export function checkHost(headers: IncomingHttpHeaders, settings: ServerSettings, port: number): Refusal | undefined {
  const host = headers.host?.toLowerCase()
  if (host === undefined || host === '') return { status: 400, message: 'the request has no Host header' }
  // name[:port], where name is a host name, an IPv4 address or a bracketed IPv6 address.
  const parts = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host)
  const name = parts?.[1]
  const hostPort = parts?.[2]
  if (name !== undefined && ((settings.allowedHosts.has(name) && (hostPort === undefined || hostPort === String(port))) || settings.allowedHosts.has(host))) return undefined
  return { status: 421, message: `this server does not answer to host "${host.slice(0, 100)}" (add it to allowedHosts / --allow-host)` }
}

/** Query parameters that look like credentials: refused, whatever their value. */
const TOKEN_PARAMETERS = new Set(['token', 'access_token', 'api_key', 'apikey', 'auth', 'authorization', 'bearer'])

/** A token in the query string is refused before anything else (it would be kept in access logs). */
export function checkQueryToken(url: string): Refusal | undefined {
  const query = url.indexOf('?')
  if (query < 0) return undefined
  // Names as a server would read them: percent-decoded (`%74oken` is `token`), any case.
  for (const name of new URLSearchParams(url.slice(query + 1)).keys()) {
    if (TOKEN_PARAMETERS.has(name.trim().toLowerCase())) return { status: 400, message: 'a token in the query string is refused (it ends up in logs): send it as "Authorization: Bearer <token>"' }
  }
  return undefined
}

/**
 * A request that changes something (not GET, HEAD or OPTIONS) sent by a page of another site is
 * refused (403): a browser sends a form post or a body-less POST across sites without asking
 * first, and on an API without a token (loopback, `--no-auth`) nothing else would stop it. Same
 * origin (the dashboard) and configured origins pass; clients that are not browsers send no Origin.
 */
export function checkCrossSite(method: string, headers: IncomingHttpHeaders, settings: ServerSettings): Refusal | undefined {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return undefined
  const origin = headers.origin
  const site = headers['sec-fetch-site']
  // Same origin: the browser says so (a page cannot forge Sec-Fetch-Site), or the Origin names
  // the Host asked for (browsers without fetch metadata). Behind a proxy that rewrites Host, only
  // the first holds.
  const sameOrigin = site === 'same-origin' || (origin !== undefined && headers.host !== undefined && (origin === `http://${headers.host}` || origin === `https://${headers.host}`))
  if (sameOrigin || (origin !== undefined && settings.corsOrigins.has(origin))) return undefined
  if (origin === undefined && (site === undefined || site === 'none')) return undefined
  return { status: 403, message: `a ${method} from ${origin !== undefined ? `origin "${origin.slice(0, 100)}"` : 'another site'} is refused (add the origin to corsOrigins / --cors-origin)` }
}

/** The bearer token, when the server has one (401 when it is missing or wrong). */
export function checkToken(headers: IncomingHttpHeaders, matches: ((presented: string) => boolean) | undefined): Refusal | undefined {
  if (matches === undefined) return undefined
  const header = headers.authorization
  const challenge = { 'www-authenticate': 'Bearer realm="taskweave"' }
  if (header === undefined) return { status: 401, message: 'this API needs "Authorization: Bearer <token>"', headers: challenge }
  const match = /^Bearer ([^\s]+)$/i.exec(header.trim())
  if (match === null) return { status: 401, message: 'the Authorization header must be "Bearer <token>"', headers: challenge }
  return matches(match[1] ?? '') ? undefined : { status: 401, message: 'the token is not valid', headers: challenge }
}

/**
 * Cross-origin headers for a request that carries an `Origin`: the origin itself when it is
 * configured (never `*`, never an unlisted origin reflected), nothing otherwise.
 */
export function corsHeaders(origin: string | undefined, settings: ServerSettings): Record<string, string> {
  if (origin === undefined || !settings.corsOrigins.has(origin)) return {}
  return { 'access-control-allow-origin': origin, vary: 'Origin' }
}
