/**
 * Parsing the `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP date. Shared by
 * `http.fetch` and `llm.chat`. Pure: the caller passes the wall time an HTTP date is measured from.
 * @module
 */

/** Longest delay honoured; a server asking for more is capped rather than obeyed. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000

/**
 * Milliseconds to wait before retrying, or undefined when the header is absent or unparseable.
 * `now` is the wall time (epoch ms) an HTTP date is measured from (`clock.wallNow()`, or `Date.now()`).
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS)
  // HTTP dates start with a day name; Date.parse alone would read '1.5' as a date in 2001.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined
  const at = Date.parse(text)
  if (Number.isNaN(at)) return undefined
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS)
}
