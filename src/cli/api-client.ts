/**
 * The CLI's client of `taskweave serve`'s HTTP API: start, read, list and cancel runs, and follow a
 * run's event stream. Every request has a deadline (`timeoutMs`), so an unreachable or silent
 * server gives a clear error instead of a hang; every failure is a `TW_API` error whose message
 * names the server and says what to do, and whose `details.status` is the HTTP status the server
 * answered (absent when it never answered).
 * @module
 */
import { TaskweaveError, ValidationError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'
import type { ApiRun, ApiRunSummary } from '../server/views.js'

/** Connection errors that mean no server got the request. */
const UNREACHED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

/** Largest JSON answer read (a run view of a very large workflow stays well under it). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024

/** What the client needs to reach a server. */
export interface ApiClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:7600`. */
  readonly url: string
  /** The bearer token, or undefined for a server started with `--no-auth`. */
  readonly token: string | undefined
  /** Deadline of each request (connecting and the whole answer; for a stream, its headers). */
  readonly timeoutMs: number
}

/** What starting a run sends. */
export interface StartRunBody {
  readonly workflow: unknown
  readonly inputs?: Readonly<Record<string, unknown>>
  readonly labels?: Readonly<Record<string, string>>
  readonly runId?: string
  readonly concurrency?: number
}

/** The error body every refusal of the API has. */
interface ApiErrorBody {
  readonly error?: { readonly code?: unknown; readonly message?: unknown; readonly issues?: unknown }
}

/** Checks a `--server` URL: http or https, no credentials, no query or fragment. */
export function parseServerUrl(text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new TaskweaveError('TW_INVALID_OPTION', `--server must be a URL such as http://127.0.0.1:7600; received "${text}"`, { retryable: false })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TaskweaveError('TW_INVALID_OPTION', `--server must be an http:// or https:// URL; received "${text}"`, { retryable: false })
  // A token in the URL would be in the process list and in proxies' logs: the API refuses it too.
  if (url.username !== '' || url.password !== '') throw new TaskweaveError('TW_INVALID_OPTION', '--server must not hold a user or password: the token comes from TASKWEAVE_TOKEN or --token-file', { retryable: false })
  if (url.search !== '' || url.hash !== '') throw new TaskweaveError('TW_INVALID_OPTION', `--server must be the server's address alone, without a query or fragment; received "${text}"`, { retryable: false })
  return url
}

/** A client of one server. */
export class ApiClient {
  readonly #base: string
  readonly #token: string | undefined
  readonly #timeoutMs: number

  constructor(options: ApiClientOptions) {
    this.#base = parseServerUrl(options.url).href.replace(/\/+$/, '')
    this.#token = options.token
    this.#timeoutMs = options.timeoutMs
  }

  /** The server's address, as messages show it. */
  get url(): string {
    return this.#base
  }

  /**
   * Starts a run; resolves its id. A workflow the server finds invalid rejects with a
   * {@link ValidationError}. With `idempotencyKey`, a request sent again after a lost answer gets
   * the run the first one made (the server answers it with that run instead of a second one).
   */
  async startRun(body: StartRunBody, signal?: AbortSignal, idempotencyKey?: string): Promise<{ readonly id: string; readonly workflowId: string }> {
    const answer = await this.#json('POST', '/api/runs', body, signal, idempotencyKey !== undefined ? { 'idempotency-key': idempotencyKey } : {})
    return this.#shaped('POST /api/runs', answer, typeof (answer as { id?: unknown } | null)?.id === 'string') as { id: string; workflowId: string }
  }

  /** A run with its tasks. */
  async run(runId: string, signal?: AbortSignal): Promise<ApiRun> {
    const path = `/api/runs/${encodeURIComponent(runId)}`
    const answer = (await this.#json('GET', path, undefined, signal)) as Partial<ApiRun> | null
    return this.#shaped(`GET ${path}`, answer, typeof answer?.status === 'string' && typeof answer.createdAt === 'number' && Array.isArray(answer.tasks) && typeof answer.counts === 'object' && answer.counts !== null) as ApiRun
  }

  /** One task of a run, with its output or error when the server has them. */
  async task(runId: string, taskId: string, signal?: AbortSignal): Promise<{ readonly id: string; readonly status: string; readonly output?: unknown }> {
    const path = `/api/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(taskId)}`
    const task = ((await this.#json('GET', path, undefined, signal)) as { task?: unknown } | null)?.task
    return this.#shaped(`GET ${path}`, task, typeof task === 'object' && task !== null) as { id: string; status: string; output?: unknown }
  }

  /** `value` when `ok`; otherwise the error of an answer that is JSON but not the API's (exit 6). */
  #shaped(request: string, value: unknown, ok: boolean): unknown {
    if (ok) return value
    throw new TaskweaveError('TW_API', `${this.#base} answered ${request} with JSON that is not taskweave's API: is --server the address of taskweave serve?`, { retryable: false, details: { notApi: true } })
  }

  /** Runs, newest first. */
  async runs(query: { readonly status?: string; readonly limit?: number }, signal?: AbortSignal): Promise<readonly ApiRunSummary[]> {
    const params = new URLSearchParams()
    if (query.status !== undefined) params.set('status', query.status)
    if (query.limit !== undefined) params.set('limit', String(query.limit))
    const search = params.size > 0 ? `?${params.toString()}` : ''
    const answer = (await this.#json('GET', `/api/runs${search}`, undefined, signal)) as { runs?: unknown } | null
    const runs = answer?.runs
    return this.#shaped('GET /api/runs', runs, Array.isArray(runs) && runs.every((run) => typeof (run as { id?: unknown } | null)?.id === 'string' && typeof (run as { createdAt?: unknown }).createdAt === 'number')) as ApiRunSummary[]
  }

  /** Cancels a run; resolves what the server says of it (`cancelling`, or a stored run's new status). */
  async cancel(runId: string, reason: string, signal?: AbortSignal): Promise<{ readonly status: string }> {
    const path = `/api/runs/${encodeURIComponent(runId)}/cancel`
    const answer = await this.#json('POST', path, { reason }, signal)
    return this.#shaped(`POST ${path}`, answer, typeof (answer as { status?: unknown } | null)?.status === 'string') as { status: string }
  }

  /** Runs a durable run that ended failed again from where it failed (`POST /api/runs/:id/retry`). */
  async retry(runId: string, options: { readonly tasks?: readonly string[]; readonly by?: string }, signal?: AbortSignal): Promise<{ readonly status: string }> {
    const path = `/api/runs/${encodeURIComponent(runId)}/retry`
    const answer = await this.#json('POST', path, options, signal)
    return this.#shaped(`POST ${path}`, answer, typeof (answer as { status?: unknown } | null)?.status === 'string') as { status: string }
  }

  /**
   * Opens a run's event stream after event `afterId`; resolves the response once its headers
   * came (within the deadline; the stream itself has none). Aborting `signal` closes it.
   */
  async openEvents(runId: string, afterId: number | undefined, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/event-stream' }
    if (afterId !== undefined) headers['last-event-id'] = String(afterId)
    const request = this.#request('GET', `/api/runs/${encodeURIComponent(runId)}/events`, undefined, headers, signal)
    try {
      return await request.response
    } finally {
      // The deadline ends with the headers; `signal` still closes the stream (it is the stream's own).
      request.headersCame()
    }
  }

  async #json(method: string, path: string, body: unknown, signal: AbortSignal | undefined, headers: Readonly<Record<string, string>> = {}): Promise<unknown> {
    const request = this.#request(method, path, body, { accept: 'application/json', ...headers }, signal)
    let text: string
    let status: number
    try {
      const response = await request.response
      status = response.status
      text = await readLimited(response, MAX_ANSWER_BYTES).catch((error: unknown) => {
        throw request.failure(error)
      })
    } finally {
      request.headersCame()
      request.release()
    }
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new TaskweaveError('TW_API', `${this.#base} answered ${method} ${path} with something that is not JSON (${describeBody(text)}): is --server the address of taskweave serve?`, { retryable: false, details: { status } })
    }
  }

  /**
   * Sends a request under the deadline. `response` resolves a 2xx response and rejects with the
   * API's refusal otherwise; `headersCame()` ends the deadline (a stream's body has none);
   * `failure(error)` names what went wrong while the body was read.
   */
  #request(method: string, path: string, body: unknown, headers: Record<string, string>, signal: AbortSignal | undefined): { response: Promise<Response>; headersCame: () => void; release: () => void; failure: (error: unknown) => Error } {
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, this.#timeoutMs)
    const onAbort = (): void => controller.abort()
    if (signal?.aborted === true) controller.abort()
    else signal?.addEventListener('abort', onAbort, { once: true })
    const failure = (error: unknown): Error => {
      if (timedOut) return new TaskweaveError('TW_API', `${this.#base} did not answer ${method} ${path} within ${this.#timeoutMs} ms (--timeout): is taskweave serve running there?`, { retryable: true, cause: error })
      if (signal?.aborted === true) return signal.reason instanceof Error ? signal.reason : new TaskweaveError('TW_CANCELLED', 'interrupted', { retryable: false })
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause
      const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : error instanceof Error ? error.message : String(error)
      // Refused or not found: the request never reached a server (it cannot have acted on it).
      const unreached = typeof cause?.code === 'string' && UNREACHED.has(cause.code)
      return new TaskweaveError('TW_API', `cannot reach ${this.#base} (${why}): is taskweave serve running there? (--server, TASKWEAVE_SERVER)`, { retryable: true, cause: error, ...(unreached ? { details: { unreached: true } } : {}) })
    }
    const all = { ...headers, ...(this.#token !== undefined ? { authorization: `Bearer ${this.#token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }
    const response = (async (): Promise<Response> => {
      let answer: Response
      try {
        answer = await fetch(`${this.#base}${path}`, { method, headers: all, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: controller.signal, redirect: 'manual' })
      } catch (error) {
        throw failure(error)
      }
      if (answer.ok) return answer
      if (answer.status >= 300 && answer.status < 400) {
        // Not followed: the token would go wherever it points.
        await answer.body?.cancel()
        throw new TaskweaveError('TW_API', `${this.#base} answered ${method} ${path} with a redirect (${answer.status}) to ${answer.headers.get('location') ?? '?'}: give --server the address taskweave serve answers on`, { retryable: false, details: { status: answer.status, notApi: true } })
      }
      const text = await readLimited(answer, 1024 * 1024).catch(() => '')
      throw this.#refusal(answer, text)
    })()
    return {
      response,
      headersCame: () => {
        clearTimeout(timer)
      },
      // Done with: the caller's signal (used for many requests) keeps no listener of it.
      release: () => signal?.removeEventListener('abort', onAbort),
      failure,
    }
  }

  /** The error for a refusal: the API's own message, or what the status means. */
  #refusal(response: Response, text: string): Error {
    let body: ApiErrorBody | undefined
    try {
      body = JSON.parse(text) as ApiErrorBody
    } catch {
      body = undefined
    }
    const message = typeof body?.error?.message === 'string' ? body.error.message : undefined
    const issues = Array.isArray(body?.error?.issues) ? (body.error.issues as ValidationIssue[]) : undefined
    const status = response.status
    if (status === 400 && issues !== undefined && issues.length > 0) return new ValidationError(issues)
    if (status === 401) {
      const hint = this.#token === undefined ? 'no token was sent: set TASKWEAVE_TOKEN or give --token-file (the server prints where its token is)' : 'the token was refused: TASKWEAVE_TOKEN or --token-file must hold the token the server uses'
      return new TaskweaveError('TW_API', `${this.#base} refused the request (401): ${hint}`, { retryable: false, details: { status } })
    }
    const retryAfter = response.headers.get('retry-after')
    const later = status === 429 || status === 503 ? `; try again${retryAfter !== null ? ` in ${retryAfter} s` : ' later'}` : ''
    const retryable = status === 429 || status >= 500
    // Not the API's own refusal (a proxy's page, another server): the address is wrong, not the request.
    if (message === undefined) return new TaskweaveError('TW_API', `${this.#base} answered ${status}${text === '' ? ` ${response.statusText}` : ` with ${describeBody(text)}`}${later}: is --server the address of taskweave serve?`, { retryable, details: { status, notApi: true } })
    return new TaskweaveError('TW_API', `${this.#base} answered ${status}: ${message}${later}`, { retryable, details: { status, ...(retryAfter !== null ? { retryAfter } : {}) } })
  }
}

/** Reads a response's text, refusing one longer than `maxBytes`. */
async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? Number.NaN)
  if (length > maxBytes) {
    await response.body?.cancel()
    throw new Error(`the answer is ${length} bytes (at most ${maxBytes} are read)`)
  }
  if (response.body === null) return ''
  const chunks: Uint8Array[] = []
  let bytes = 0
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength
    if (bytes > maxBytes) throw new Error(`the answer is over ${maxBytes} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The start of a body, as an error message quotes it. */
function describeBody(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat === '' ? 'an empty body' : `"${flat.length > 80 ? `${flat.slice(0, 77)}…` : flat}"`
}
