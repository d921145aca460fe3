/** Retry timing and eligibility: exponential backoff with full jitter, `retryOn` codes, terminal errors. @module */
import { readProperty } from '../core/thrown.js'
import { errorCode, isRetryable } from '../core/errors.js'
import type { ResolvedRetry } from '../core/spec.js'

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
  // The thrown value is user code's: a getter or a revoked Proxy must not throw out of here.
  const details = readProperty(error, 'details')
  let hint: unknown
  if (details.ok && typeof details.value === 'object' && details.value !== null) {
    const inDetails = readProperty(details.value, 'retryAfterMs')
    if (inDetails.ok) hint = inDetails.value
  }
  if (hint === undefined) {
    const own = readProperty(error, 'retryAfterMs')
    if (own.ok) hint = own.value
  }
  return typeof hint === 'number' && Number.isFinite(hint) && hint >= 0 ? hint : undefined
}
