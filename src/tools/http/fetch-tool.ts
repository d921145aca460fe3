/**
 * The `http.fetch` tool: one HTTP request, SSRF-guarded (RELIABILITY TL-02), with redirects
 * followed by hand so every hop is re-validated, the body capped while streaming, and the whole
 * call (all hops and the body) bounded by `timeoutMs` and the task's signal.
 * @module
 */
import { fetch, Headers, type Agent } from 'undici'
import { z } from 'zod'
import { TaskweaveError, TimeoutError } from '../../core/errors.js'
import { defineTool, type Tool } from '../../core/tool.js'
import { createAddressGuard, type AddressGuard } from './address-guard.js'
import { startDeadline } from './deadline.js'
import { httpDenied, httpStatusError, redactUrl } from './errors.js'
import type { ResolvedHttpToolOptions } from './options.js'
import { describeNetworkFailure } from './network-error.js'
import { createPinnedAgent } from './pinned-agent.js'
import { decodeText, discard, readBodyPrefix, readCappedBody } from './read-body.js'
import { parseRetryAfter } from './retry-after.js'

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// Headers that describe the connection or the framing: set by the client, never by the caller.
const RESERVED_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'proxy-connection'])
const REDIRECTS = new Set([301, 302, 303, 307, 308])
// Dropped when a redirect leaves the origin, as browsers do, so a redirect cannot exfiltrate them.
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization']
const ERROR_BODY_SNIPPET_BYTES = 2048

const fetchInput = z
  .object({
    url: z.string().min(1).max(8192).describe('Absolute http: or https: URL.'),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET'),
    headers: z
      .record(
        z.string().regex(TOKEN, 'must be a header name').refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), 'this header is set by the client'),
        z.string().regex(/^[^\r\n\0]*$/, 'must not contain CR, LF or NUL'),
      )
      .optional()
      .describe('Request headers.'),
    body: z.string().optional().describe('Request body (not allowed with GET or HEAD).'),
    responseType: z.enum(['text', 'json']).default('text').describe('json parses the body; text returns it as a string.'),
  })
  .refine((input) => input.body === undefined || (input.method !== 'GET' && input.method !== 'HEAD'), {
    message: 'GET and HEAD requests cannot have a body',
    path: ['body'],
  })

type FetchInput = z.output<typeof fetchInput>

/** Output of `http.fetch`. */
export interface HttpFetchOutput {
  /** The final URL, after redirects. */
  readonly url: string
  readonly status: number
  /** Response headers, names in lower case; repeated headers joined with `, `. */
  readonly headers: Record<string, string>
  /** The body: a string for `responseType: 'text'`, the parsed value for `'json'`, `''` for HEAD. */
  readonly body: unknown
}

/** The `http.fetch` tool. */
export type HttpFetchTool = Tool<typeof fetchInput, HttpFetchOutput>

/** Creates `http.fetch` for resolved options. */
export function createFetchTool(options: ResolvedHttpToolOptions): HttpFetchTool {
  const guard = createAddressGuard(options)
  return defineTool({
    name: 'http.fetch',
    description: 'Makes an HTTP(S) request to a public address and returns the status, headers and body (text or parsed JSON).',
    input: fetchInput,
    cost: 500,
    async run(input, ctx): Promise<HttpFetchOutput> {
      ctx.signal.throwIfAborted()
      // Held in this frame until `finally`: the timer must outlive every await of the call, the body read included.
      const deadline = startDeadline(ctx.signal, options.timeoutMs, () => timeoutError(input, options.timeoutMs))
      // One agent per call: its sockets and pinned addresses die with the call, so nothing leaks
      // between calls and no pool outlives the tool (tools have no close hook).
      const agent = createPinnedAgent(guard)
      try {
        return await fetchFollowingRedirects(input, { guard, agent, signal: deadline.signal, options })
      } catch (err) {
        throw translateError(err, input, ctx.signal, deadline.timedOut, options.timeoutMs)
      } finally {
        deadline[Symbol.dispose]()
        await agent.destroy().catch(() => undefined)
      }
    },
  })
}

interface Call {
  readonly guard: AddressGuard
  readonly agent: Agent
  readonly signal: AbortSignal
  readonly options: ResolvedHttpToolOptions
}

async function fetchFollowingRedirects(input: FetchInput, call: Call): Promise<HttpFetchOutput> {
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
      const snippet = decodeText(await readBodyPrefix(response, ERROR_BODY_SNIPPET_BYTES), response.headers.get('content-type'))
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'))
      throw httpStatusError(url, response.status, { ...(retryAfterMs === undefined ? {} : { retryAfterMs }), bodySnippet: snippet })
    }
    const bytes = method === 'HEAD' ? new Uint8Array(0) : await readCappedBody(response, url, call.options.maxResponseBytes)
    const text = decodeText(bytes, response.headers.get('content-type'))
    return { url: url.href, status: response.status, headers: headersRecord(response.headers), body: input.responseType === 'json' ? parseJson(text, url) : text }
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

/**
 * Maps what `fetch` threw to what the task should see: our own errors (even when undici wrapped
 * them in "fetch failed"), the caller's abort reason, a timeout, or the network failure under
 * undici's wrapper: its message in ours, its system code (`ECONNREFUSED`…) as the code so
 * `retryOn` can name it, and the failure itself as the cause.
 */
function translateError(err: unknown, input: FetchInput, callerSignal: AbortSignal, timedOut: boolean, timeoutMs: number): unknown {
  const own = findInCauses(err, (e) => TaskweaveError.is(e))
  if (own !== undefined) return own
  if (callerSignal.aborted) return callerSignal.reason
  if (timedOut) return timeoutError(input, timeoutMs, err)
  const url = redactUrl(input.url)
  const failure = describeNetworkFailure(err)
  // undici refuses the fetch standard's "bad ports" (SMTP, IRC…) itself, before connecting: a refusal, not a failure.
  if (failure.code === undefined && failure.description === 'bad port') {
    return httpDenied(input.url, 'it (or a redirect) names a port the fetch standard blocks, such as 9, 25 or 6667')
  }
  return new TaskweaveError(failure.code ?? 'TW_TOOL_FAILED', `http.fetch ${input.method} ${url} failed: ${failure.description}`, {
    cause: failure.cause,
    retryable: failure.retryable,
    details: { url, ...(failure.code === undefined ? {} : { systemCode: failure.code }) },
  })
}

function timeoutError(input: FetchInput, timeoutMs: number, cause?: unknown): TimeoutError {
  const url = redactUrl(input.url)
  return new TimeoutError(`http.fetch ${input.method} ${url} took longer than ${timeoutMs} ms`, { ...(cause === undefined ? {} : { cause }), details: { url, timeoutMs } })
}

function findInCauses(err: unknown, test: (e: object) => boolean): unknown {
  let current = err
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    if (test(current)) return current
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}
