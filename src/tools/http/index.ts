/**
 * The built-in HTTP tool, `http.fetch`, guarded against SSRF (RELIABILITY TL-02): see
 * `address-guard.ts` for what is refused and `pinned-agent.ts` for why rebinding cannot help.
 * @module
 */
import { createFetchTool, type HttpFetchTool } from './fetch-tool.js'
import { resolveHttpToolOptions, type HttpToolOptions } from './options.js'

export type { AllowedHost, HostLookup, HttpToolOptions, ResolvedAddress, ResolvedHttpToolOptions } from './options.js'
export type { HttpFetchOutput, HttpFetchTool } from './fetch-tool.js'
export { isPublicAddress } from './address-guard.js'

/** The HTTP tools: `[http.fetch]`. */
export type HttpTools = readonly [HttpFetchTool]

/**
 * Creates the HTTP tool. Options are checked here (bad ones throw `TW_INVALID_OPTION`).
 *
 * Refused with `TW_HTTP_DENIED` (never retried): schemes other than http/https, hosts that are
 * or resolve to a non-public address (unless `allowPrivateNetwork`, or the host is in
 * `allowHosts`), and more than `maxRedirects` redirects. A body over `maxResponseBytes` gives
 * `TW_HTTP_TOO_LARGE`; status 429 and 5xx give a retryable `TW_HTTP_STATUS` (with
 * `details.retryAfterMs` when the server sent `Retry-After`), other 4xx a non-retryable one.
 * A network failure keeps the system code of its cause as the error code (`ECONNREFUSED`,
 * `ENOTFOUND`, `ERR_SSL_…`; TLS and certificate failures are not retryable), names it in the
 * message and carries it as `cause`. Each call uses its own connection pool, closed when the call ends.
 *
 * @example
 * const registry = new ToolRegistry(createHttpTools({ allowHosts: ['localhost:8080'], timeoutMs: 10_000 }))
 * // in a workflow: { id: 'page', tool: 'http.fetch', input: { url: 'https://example.com/', responseType: 'text' } }
 */
export function createHttpTools(options: HttpToolOptions = {}): HttpTools {
  return Object.freeze([createFetchTool(resolveHttpToolOptions(options))] as const)
}
