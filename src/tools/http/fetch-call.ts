/**
 * The part of `http.fetch` that talks to the network, with undici: the request, redirects, the
 * body. Imported by the tool on its first request (see `fetch-tool.ts`), so that creating the
 * built-in tools (which every engine does) does not load the HTTP client.
 * @module
 */
import { fetch, Headers, type Agent } from 'undici'
import { TaskweaveError } from '../../core/errors.js'
import type { AddressGuard } from './address-guard.js'
import { httpDenied, httpStatusError, redactUrl } from './errors.js'
import type { ResolvedHttpToolOptions } from './options.js'
import { decodeText, discard, readBodyPrefix, readCappedBody } from './read-body.js'
import { parseRetryAfter } from '../../core/retry-after.js'

export { createPinnedAgent } from './pinned-agent.js'

const REDIRECTS = new Set([301, 302, 303, 307, 308])
// Dropped when a redirect leaves the origin, as browsers do, so a redirect cannot exfiltrate them.
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization']
const ERROR_BODY_SNIPPET_BYTES = 2048

/** The input of `http.fetch` (defaults applied) as the request needs it. */
export interface FetchRequest {
  readonly url: string
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD'
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: string | undefined
  readonly responseType: 'text' | 'json'
}

/** Output of `http.fetch`. */
export interface HttpFetchOutput {
  /** The final URL, after redirects. */
  readonly url: string
  readonly status: number
  /** Response headers, names in lower case; repeated headers joined with `, `. */
  readonly headers: Record<string, string>
  /** The body: a string for `responseType: 'text'`, the parsed value for `'json'`; `''` when there is none (HEAD, a 204, an empty body). */
  readonly body: unknown
}

/** What one call of the tool works with. */
export interface Call {
  readonly guard: AddressGuard
  readonly agent: Agent
  readonly signal: AbortSignal
  readonly options: ResolvedHttpToolOptions
}

/** Makes the request of `input`, following redirects by hand (each hop re-validated). */
export async function fetchFollowingRedirects(input: FetchRequest, call: Call): Promise<HttpFetchOutput> {
  let url = parseUrl(input.url)
  let method: string = input.method
  let body = input.body
  const headers = new Headers(input.headers)
  for (let redirects = 0; ; redirects++) {
    call.guard.checkUrl(url)
    call.signal.throwIfAborted()
    const response = await fetch(url, { method, headers, body: body ?? null, redirect: 'manual', signal: call.signal, dispatcher: call.agent })
    const location = response.headers.get('location')
    if (REDIRECTS.has(response.status) && location !== null) {
      await discard(response)
      if (redirects >= call.options.maxRedirects) {
        throw httpDenied(url, `more than ${call.options.maxRedirects} redirects`, { maxRedirects: call.options.maxRedirects })
      }
      const next = parseUrl(location, url)
      // Fetch-standard method rewriting: 303 always becomes GET (except HEAD); 301/302 turn POST into GET.
      if ((response.status === 303 && method !== 'HEAD') || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET'
        body = undefined
        headers.delete('content-type')
      }
      if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name)
      url = next
      continue
    }
    if (response.status >= 400) {
      const snippet = decodeText(await readBodyPrefix(response, ERROR_BODY_SNIPPET_BYTES, call.signal), response.headers.get('content-type'))
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now())
      throw httpStatusError(url, response.status, { ...(retryAfterMs === undefined ? {} : { retryAfterMs }), bodySnippet: snippet })
    }
    const bytes = method === 'HEAD' ? new Uint8Array(0) : await readCappedBody(response, url, call.options.maxResponseBytes)
    const text = decodeText(bytes, response.headers.get('content-type'))
    // No body (HEAD, a 204, an empty 200) is no JSON to parse: the body stays '' as for text.
    return { url: url.href, status: response.status, headers: headersRecord(response.headers), body: input.responseType === 'json' && text !== '' ? parseJson(text, url) : text }
  }
}

function parseUrl(text: string, base?: URL): URL {
  try {
    return new URL(text, base)
  } catch {
    throw httpDenied(text, 'not a valid absolute URL')
  }
}

function parseJson(text: string, url: URL): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new TaskweaveError('TW_TOOL_FAILED', `response of ${redactUrl(url)} is not valid JSON: ${(err as Error).message}`, {
      retryable: false,
      cause: err,
      details: { url: redactUrl(url) },
    })
  }
}

/**
 * The response headers as a record. Null-prototype, and own-property checks only: header names
 * come from the server, and `constructor` or `toString` must be headers like any other, never
 * read through (or `__proto__` written into) `Object.prototype`.
 */
function headersRecord(headers: Headers): Record<string, string> {
  const record = Object.create(null) as Record<string, string>
  for (const [name, value] of headers) record[name] = Object.hasOwn(record, name) ? `${record[name]}, ${value}` : value
  return record
}
