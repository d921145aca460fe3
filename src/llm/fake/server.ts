/**
 * {@link startFakeLlm}: the HTTP server of the fake OpenAI-compatible provider. It routes
 * requests, reads bodies, and owns the server's life (listen, close, abort signal); the chat
 * completion itself is {@link handleChat}.
 * @module
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { InvalidOptionError } from '../../core/errors.js'
import { handleChat } from './chat.js'
import type { ChatContext } from './chat.js'
import { readBody, sendJson } from './http-io.js'
import { Quota } from './quota.js'
import { errorBody, modelsBody } from './responses.js'
import { FakeState } from './state.js'
import { loadTokenCounter } from './tokens.js'
import type { FakeJson, FakeLlm, FakeLlmOptions } from './types.js'

/** The quota window when none is given: the minute of RPM and TPM. */
export const DEFAULT_WINDOW_MS = 60_000

/**
 * Starts a fake OpenAI-compatible chat completions server and resolves once it listens.
 *
 * Routes: `POST /v1/chat/completions` (plain and streamed), `GET /v1/models`; anything else is
 * answered 404 with an OpenAI error body. Quotas (`rpm`, `tpm`) are token buckets refilled
 * continuously over `windowMs`. A request needs one request and reserves its prompt tokens plus
 * its `max_completion_tokens` / `max_tokens` (0 if neither); if either bucket is short it is
 * answered 429 (type `requests` or `tokens`, code `rate_limit_exceeded`, with `retry-after` and
 * `retry-after-ms`) and takes nothing. A request that needs more tokens than `tpm` is answered
 * 429 type `tokens` with a message starting "Request too large" and no retry headers, since no
 * wait can help it. Once answered, the reservation is reconciled with the reported usage.
 *
 * Throws `TW_INVALID_OPTION` for an invalid option; rejects with the listen error (such as
 * `EADDRINUSE`) or, if `signal` is already aborted, with its reason.
 */
export async function startFakeLlm(options: FakeLlmOptions = {}): Promise<FakeLlm> {
  validateOptions(options)
  options.signal?.throwIfAborted()
  const tokens = await loadTokenCounter()
  const now = (): number => performance.now()
  const quota = new Quota({ rpm: options.rpm, tpm: options.tpm, windowMs: options.windowMs ?? DEFAULT_WINDOW_MS }, now())
  const state = new FakeState({ script: options.script, recordRequests: options.recordRequests ?? true, timeline: options.timeline ?? false }, quota, now)
  let completions = 0
  let requestIds = 0
  const ctx: ChatContext = {
    state,
    quota,
    tokens,
    latency: options.latencyMs,
    errorRate: options.errorRate ?? 0,
    headers: options.headers ?? true,
    refusalsCount: options.refusalsCount ?? true,
    random: options.random ?? Math.random,
    tokensPerSecond: options.tokensPerSecond,
    now,
    nextId: () => `chatcmpl-fake-${++completions}`,
  }

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // One signal per request: aborted when its response closes, finished or not, so a request
    // whose client went away (or that close() cut off) clears its timers at once.
    const controller = new AbortController()
    res.once('close', () => controller.abort())
    res.setHeader('x-request-id', `req_fake_${++requestIds}`)
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      const body = await readBody(req)
      if (!body.ok) {
        if (body.reason === 'too-large') sendJson(res, 413, errorBody('The request body is too large.', 'invalid_request_error', 'request_too_large'))
        return
      }
      let json: FakeJson
      try {
        // JSON.parse yields only JSON values.
        json = JSON.parse(body.text) as FakeJson
      } catch {
        return sendJson(res, 400, errorBody('We could not parse the JSON body of your request. (HINT: This likely means you aren’t using your HTTP library correctly.)', 'invalid_request_error', 'invalid_json'))
      }
      return handleChat(ctx, req, res, json, controller.signal)
    }
    if (req.method === 'GET' && path === '/v1/models') return sendJson(res, 200, modelsBody(Math.floor(Date.now() / 1000)))
    // Drain what the client sent, so the 404 is read as an answer and not as a reset connection.
    req.resume()
    sendJson(res, 404, errorBody(`Invalid URL (${req.method ?? '?'} ${path})`, 'invalid_request_error', 'unknown_url'))
  }

  // Requests being handled: close() waits for them, so that once it resolves every request has
  // ended and is counted (the sockets' close events come after the server's own).
  const handling = new Set<Promise<void>>()
  const server = createServer((req, res) => {
    const handled = route(req, res)
      .catch((err: unknown) => {
        // Only a bug in the fake gets here (handleChat catches its own): answer 500 rather than crash.
        if (res.headersSent) res.destroy()
        else sendJson(res, 500, errorBody(`fake LLM: ${err instanceof Error ? err.message : String(err)}`, 'server_error', 'fake_internal_error'))
      })
      .finally(() => handling.delete(handled))
    handling.add(handled)
  })
  // A malformed request or a socket reset must not crash the process.
  server.on('clientError', (_err, socket) => socket.destroy())

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address

  let closing: Promise<void> | undefined
  const onAbort = (): void => void close()
  const close = (): Promise<void> => {
    closing ??= (async () => {
      options.signal?.removeEventListener('abort', onAbort)
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // Keep-alive sockets and answers in progress would hold close() open: end them now.
      server.closeAllConnections()
      await closed
      await Promise.all(handling)
    })()
    return closing
  }
  if (options.signal?.aborted === true) await close()
  else options.signal?.addEventListener('abort', onAbort, { once: true })

  return {
    url: `http://${host}:${address.port}/v1`,
    port: address.port,
    stats: () => state.stats(),
    requests: () => state.requests(),
    reset: () => state.reset(),
    close,
  }
}

function validateOptions(options: FakeLlmOptions): void {
  const positive = (name: string, value: number | undefined): void => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new InvalidOptionError(name, 'a finite number > 0', value)
  }
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port <= 65535)) throw new InvalidOptionError('port', 'an integer from 0 to 65535', options.port)
  positive('rpm', options.rpm)
  positive('tpm', options.tpm)
  positive('windowMs', options.windowMs)
  positive('tokensPerSecond', options.tokensPerSecond)
  const rate = options.errorRate
  if (rate !== undefined && !(rate >= 0 && rate <= 1)) throw new InvalidOptionError('errorRate', 'a fraction from 0 to 1', rate)
  const latency = options.latencyMs
  if (typeof latency === 'number' && !(Number.isFinite(latency) && latency >= 0)) throw new InvalidOptionError('latencyMs', 'a finite number ≥ 0', latency)
  if (typeof latency === 'object' && !(Number.isFinite(latency.min) && Number.isFinite(latency.max) && latency.min >= 0 && latency.max >= latency.min)) {
    throw new InvalidOptionError('latencyMs', 'a range { min, max } with 0 ≤ min ≤ max', `${latency.min}..${latency.max}`)
  }
}
