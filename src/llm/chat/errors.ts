/**
 * What a failed `llm.chat` call becomes, so the engine does the right thing with it:
 *
 * - the task's signal aborted: its reason, as is (the engine sees its own abort);
 * - 429 (a rate limit): `RateLimitedError` with `retryAfterMs` from the headers, which pauses the
 *   rate key and sends the task back to ready without spending an attempt; but a 429 for an
 *   exhausted quota (`insufficient_quota`) or a request larger than the per-minute token limit
 *   ("Request too large") cannot succeed by waiting, and is a non-retryable `TW_LLM`;
 * - 400 for a prompt over the context length, other 4xx (bad request, unknown model), 401 and
 *   403: non-retryable `TW_LLM`; 408 and 409: retryable;
 * - 5xx, an error event in the stream, a connection failure or a stream cut short: retryable `TW_LLM`;
 * - no answer within `timeoutMs`: retryable `TW_TIMEOUT`.
 *
 * Details carry `{ provider, model, status, type, code, … }`. Every string taken from the
 * response is passed through `redact`, and the client's error travels only as a sanitized copy,
 * so the API key never reaches a message, a detail or a cause.
 * @module
 */
import { RateLimitedError, TaskweaveError, TimeoutError } from '../../core/errors.js'
import type { ProviderLimits } from '../../core/rate.js'
import type { OpenAiModule } from './client.js'
import { parseProviderLimits, retryAfterMsOf } from './headers.js'
import { redact, sanitizedError } from './redact.js'

type ApiError = InstanceType<OpenAiModule['APIError']>

/** Longest provider message quoted in an error. */
const MAX_MESSAGE_CHARS = 500

/** What the translation needs to know about the call. */
export interface CallFacts {
  readonly provider: string
  readonly model: string
  readonly timeoutMs: number
  /** The API key, to redact (undefined when none is sent). */
  readonly secret: string | undefined
  /** The task's signal. */
  readonly signal: AbortSignal
  /** Wall time now (epoch ms), for a `Retry-After` date. */
  readonly now: number
  /** Called with the limits a refusal's headers carry, before the error is returned. */
  readonly reportLimits?: ((limits: ProviderLimits) => void) | undefined
}

/** The error the task should see for `err`, thrown by the client (or the stream) during a call. */
export function translateChatError(err: unknown, module: OpenAiModule, facts: CallFacts): unknown {
  if (facts.signal.aborted) return facts.signal.reason
  if (TaskweaveError.is(err)) return err
  const where = `llm.chat ${facts.provider}:${facts.model}`
  const base = { provider: facts.provider, model: facts.model }
  const cause = sanitizedError(err, facts.secret)
  if (err instanceof module.APIConnectionTimeoutError) {
    return new TimeoutError(`${where}: no answer within ${facts.timeoutMs} ms`, { cause, details: { ...base, timeoutMs: facts.timeoutMs } })
  }
  if (err instanceof module.APIConnectionError) {
    return new TaskweaveError('TW_LLM', `${where} could not reach the provider: ${clip(redact(messageOf(err), facts.secret))}`, {
      cause,
      details: { ...base, type: 'connection' },
    })
  }
  if (err instanceof module.APIError) return fromApiError(err as ApiError, where, base, cause, facts)
  // Anything else happened while reading the answer (the connection dropped mid-stream, a chunk
  // that is not JSON): the provider may do better next time.
  return new TaskweaveError('TW_LLM', `${where} failed while reading the answer: ${clip(redact(messageOf(err), facts.secret))}`, {
    cause,
    details: { ...base, type: 'response' },
  })
}

function fromApiError(err: ApiError, where: string, base: Record<string, string>, cause: Error, facts: CallFacts): TaskweaveError {
  const status = err.status
  const type = safe(err.type, facts.secret)
  const code = safe(typeof err.code === 'string' ? err.code : undefined, facts.secret)
  // The client's message starts with the status already ("404 model not found"): said once.
  const message = clip(redact(messageOf(err), facts.secret).replace(status === undefined ? /^$/ : new RegExp(`^${status}\\s+`), ''))
  const details: Record<string, unknown> = { ...base, ...(status === undefined ? {} : { status }), ...(type === undefined ? {} : { type }), ...(code === undefined ? {} : { code }) }
  const requestId = safe(err.requestID ?? undefined, facts.secret)
  if (requestId !== undefined) details['requestId'] = requestId
  const fail = (reason: string, retryable: boolean): TaskweaveError =>
    new TaskweaveError('TW_LLM', `${where}: ${status === undefined ? '' : `HTTP ${status} `}${message}`, { cause, retryable, details: { ...details, reason } })

  if (status === 429) {
    const limits = err.headers === undefined ? undefined : parseProviderLimits(err.headers)
    if (limits !== undefined) facts.reportLimits?.(limits)
    if (code === 'insufficient_quota' || type === 'insufficient_quota') return fail('quota', false)
    if (/request too large/i.test(message)) return fail('request_too_large', false)
    const retryAfterMs = err.headers === undefined ? undefined : retryAfterMsOf(err.headers, facts.now, limits)
    return new RateLimitedError(`${where}: rate limited by the provider (HTTP 429)${retryAfterMs === undefined ? '' : `, retry after ${retryAfterMs} ms`}: ${message}`, {
      cause,
      retryAfterMs,
      details,
    })
  }
  if (status === undefined) return fail('stream_error', true)
  if (status === 401 || status === 403) return fail('auth', false)
  if (status === 408 || status === 409) return fail('transient', true)
  if (status >= 500) return fail('server', true)
  if (code === 'context_length_exceeded' || /context length|context window|too many tokens|request too large|maximum.*tokens/i.test(message)) return fail('context_length', false)
  return fail('rejected', false)
}

function messageOf(err: unknown): string {
  try {
    const message = (err as { message?: unknown }).message
    return typeof message === 'string' && message.length > 0 ? message : String(err)
  } catch {
    return 'an unreadable error'
  }
}

function safe(value: string | null | undefined, secret: string | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? clip(redact(value, secret), 200) : undefined
}

function clip(text: string, max = MAX_MESSAGE_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}
