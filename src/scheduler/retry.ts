/** Retry timing and eligibility: exponential backoff with full jitter, `retryOn` codes, terminal errors. @module */
import { errorCode, isRetryable } from '../core/errors.js'
import type { ResolvedRetry } from '../workflow/types.js'

/**
 * Delay before retry number `retry` (1 for the first retry): the ceiling grows as
 * `initialDelay × factor^(retry-1)` up to `maxDelay`; with full jitter the wait is uniform in
 * [0, ceiling], which spreads a herd of failing tasks instead of retrying them in lockstep.
 */
export function backoffDelayMs(policy: ResolvedRetry, retry: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (retry - 1))
  return policy.jitter === 'full' ? Math.floor(random() * ceiling) : ceiling
}

/** Whether another attempt may start after `attempt` failed with `error`. */
export function shouldRetry(policy: ResolvedRetry, attempt: number, error: unknown): boolean {
  if (attempt >= policy.maxAttempts) return false
  if (!isRetryable(error)) return false
  return policy.retryOn === undefined || policy.retryOn.includes(errorCode(error))
}

/** A provider's `Retry-After` hint carried by the error (`details.retryAfterMs`), if any. */
export function retryAfterHintMs(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const details = (error as { details?: { retryAfterMs?: unknown } }).details
  const hint = details?.retryAfterMs ?? (error as { retryAfterMs?: unknown }).retryAfterMs
  return typeof hint === 'number' && Number.isFinite(hint) && hint >= 0 ? hint : undefined
}
