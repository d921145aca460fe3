/**
 * The `http.fetch` tool: one HTTP request, SSRF-guarded (RELIABILITY TL-02), with redirects
 * followed by hand so every hop is re-validated, the body capped while streaming, and the whole
 * call (all hops and the body) bounded by `timeoutMs` and the task's signal.
 * @module
 */
import { z } from 'zod'
import { TaskweaveError, TimeoutError } from '../../core/errors.js'
import { defineTool, type Tool } from '../../core/tool.js'
import { createAddressGuard } from './address-guard.js'
import { startDeadline } from './deadline.js'
import { httpDenied, redactUrl } from './errors.js'
import type { ResolvedHttpToolOptions } from './options.js'
import { describeNetworkFailure } from './network-error.js'
import type { HttpFetchOutput } from './fetch-call.js'

export type { HttpFetchOutput } from './fetch-call.js'

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// Headers that describe the connection or the framing: set by the client, never by the caller.
const RESERVED_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'proxy-connection'])

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

/** The `http.fetch` tool. */
export type HttpFetchTool = Tool<typeof fetchInput, HttpFetchOutput>

/** What an output holds besides the body: the URL, the status, the headers (at most a few KiB), JSON punctuation. */
const HTTP_OUTPUT_ENVELOPE_BYTES = 256 * 1024

/** Creates `http.fetch` for resolved options. */
export function createFetchTool(options: ResolvedHttpToolOptions): HttpFetchTool {
  const guard = createAddressGuard(options)
  return defineTool({
    name: 'http.fetch',
    description: 'Makes an HTTP(S) request to a public address and returns the status, headers and body (text or parsed JSON).',
    input: fetchInput,
    cost: 500,
    // A body within maxResponseBytes must fit the output: as JSON text, a byte becomes at most
    // 6 (a control character, \u0000), and headers and the envelope add some.
    maxOutputBytes: options.maxResponseBytes * 6 + HTTP_OUTPUT_ENVELOPE_BYTES,
    async run(input, ctx): Promise<HttpFetchOutput> {
      ctx.signal.throwIfAborted()
      // The HTTP client (undici) loads on the first request, not with the tool: most processes
      // that create the built-in tools never fetch anything. Loaded before the deadline starts.
      const { createPinnedAgent, fetchFollowingRedirects } = await import('./fetch-call.js')
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
