/**
 * What a provider's response headers say about its limits, in numbers: the `x-ratelimit-*`
 * family OpenAI sends (and most compatible servers copy), and the wait a 429 asks for.
 *
 * OpenAI writes reset times as Go durations (`'1s'`, `'6m0s'`, `'20ms'`, `'1.5s'`,
 * `'2m30.5s'`, `'1h2m'`); some compatible servers send a bare number of seconds instead. Both
 * are read. A header that is missing or unreadable is left out, never guessed.
 * @module
 */
import type { ProviderLimits } from '../../core/rate.js'
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from '../../core/retry-after.js'

/** The part of `Headers` read here (a fetch `Headers` object fits). */
export interface HeaderSource {
  get(name: string): string | null
}

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, 'µs': 1e-3, ns: 1e-6 }
// Longer units first, so `ms` is not read as minutes followed by garbage.
const DURATION_PART = /(\d+(?:\.\d+)?|\.\d+)(ms|us|µs|ns|h|m|s)/y

/**
 * Milliseconds in a reset duration: a Go duration (`'6m0s'`, `'1.5s'`, `'20ms'`, `'1h2m'`) or a
 * bare number of seconds (`'2'`, `'0.5'`). Undefined for anything else, or for a negative value.
 */
export function parseResetDuration(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined
  const text = value.trim()
  if (text === '') return undefined
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text) * 1000
  let total = 0
  DURATION_PART.lastIndex = 0
  while (DURATION_PART.lastIndex < text.length) {
    const at = DURATION_PART.lastIndex
    const match = DURATION_PART.exec(text)
    if (match === null || match.index !== at) return undefined
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN)
  }
  return Number.isFinite(total) ? Math.round(total * 1000) / 1000 : undefined
}

/**
 * The provider's limits as its `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` headers
 * give them, or undefined when none of them is there.
 */
export function parseProviderLimits(headers: HeaderSource): ProviderLimits | undefined {
  const limits: Record<string, number> = {}
  const put = (key: keyof ProviderLimits, value: number | undefined): void => {
    if (value !== undefined) limits[key] = value
  }
  put('limitRequests', count(headers.get('x-ratelimit-limit-requests')))
  put('remainingRequests', count(headers.get('x-ratelimit-remaining-requests')))
  put('resetRequestsMs', parseResetDuration(headers.get('x-ratelimit-reset-requests')))
  put('limitTokens', count(headers.get('x-ratelimit-limit-tokens')))
  put('remainingTokens', count(headers.get('x-ratelimit-remaining-tokens')))
  put('resetTokensMs', parseResetDuration(headers.get('x-ratelimit-reset-tokens')))
  return Object.keys(limits).length > 0 ? limits : undefined
}

/**
 * The wait a refused call asks for, in ms: `retry-after-ms` (OpenAI's, preferred), else
 * `retry-after` (seconds or an HTTP date measured from `now`, epoch ms), else, when the limits
 * say a budget is spent, the time until it resets. Capped at a day; undefined when nothing says.
 */
export function retryAfterMsOf(headers: HeaderSource, now: number, limits: ProviderLimits | undefined = parseProviderLimits(headers)): number | undefined {
  const ms = headers.get('retry-after-ms')?.trim()
  if (ms !== undefined && /^\d+(?:\.\d+)?$/.test(ms)) return Math.min(Math.ceil(Number(ms)), MAX_RETRY_AFTER_MS)
  const after = parseRetryAfter(headers.get('retry-after'), now)
  if (after !== undefined) return after
  const waits: number[] = []
  if (limits?.remainingRequests === 0 && limits.resetRequestsMs !== undefined) waits.push(limits.resetRequestsMs)
  if (limits?.remainingTokens === 0 && limits.resetTokensMs !== undefined) waits.push(limits.resetTokensMs)
  return waits.length > 0 ? Math.min(Math.ceil(Math.max(...waits)), MAX_RETRY_AFTER_MS) : undefined
}

/** A non-negative integer header value. */
function count(value: string | null): number | undefined {
  if (value === null) return undefined
  const text = value.trim()
  return /^\d+$/.test(text) ? Number(text) : undefined
}
