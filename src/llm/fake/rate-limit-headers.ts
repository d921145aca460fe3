/**
 * The rate-limit headers of OpenAI's responses, computed from the fake's buckets:
 *
 * - `x-ratelimit-limit-requests` / `-tokens`: the quota per window (the bucket's capacity);
 * - `x-ratelimit-remaining-requests` / `-tokens`: what the bucket holds now, after this request's
 *   reservation, floored to a whole number (0 while the bucket is in debt; floating-point noise
 *   such as `2.9999999999` counts as 3);
 * - `x-ratelimit-reset-requests` / `-tokens`: time until the bucket is full again, in OpenAI's
 *   duration text (`"20ms"`, `"1.5s"`, `"6m0s"`; see {@link formatResetDuration}).
 *
 * A quota that is unlimited has no headers. On a 429, `retry-after` (whole seconds, rounded
 * up) and `retry-after-ms` (milliseconds, rounded up) say when a retry can succeed; the OpenAI
 * client honours both.
 * @module
 */
import type { Quota } from './quota.js'
import { formatResetDuration } from './reset-duration.js'
import type { TokenBucket } from '../../core/token-bucket.js'

/** The `x-ratelimit-*` headers of `quota` at `now`. */
export function rateLimitHeaders(quota: Quota, now: number): Record<string, string> {
  return { ...bucketHeaders('requests', quota.requests, now), ...bucketHeaders('tokens', quota.tokens, now) }
}

function bucketHeaders(kind: 'requests' | 'tokens', bucket: TokenBucket | undefined, now: number): Record<string, string> {
  if (bucket === undefined) return {}
  return {
    [`x-ratelimit-limit-${kind}`]: String(bucket.capacity),
    [`x-ratelimit-remaining-${kind}`]: String(Math.max(0, Math.floor(bucket.level(now) + 1e-9))),
    [`x-ratelimit-reset-${kind}`]: formatResetDuration(bucket.msUntilFull(now)),
  }
}

/**
 * `retry-after` and `retry-after-ms` for a wait of `waitMs`. Rounded up so that a client waiting
 * that long finds room; the 1e-6 ms slack keeps floating-point noise (`20000.000000001`) from
 * adding a whole millisecond.
 */
export function retryAfterHeaders(waitMs: number): Record<string, string> {
  const ms = Math.max(0, Math.ceil(waitMs - 1e-6))
  return { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(ms) }
}
