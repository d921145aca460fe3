import { describe, expect, it } from 'vitest'
import { backoffDelayMs, retryAfterHintMs, shouldRetry } from './retry.js'
import { TaskweaveError, TerminalError } from '../core/errors.js'
import type { ResolvedRetry } from '../workflow/types.js'

const policy: ResolvedRetry = { maxAttempts: 5, initialDelayMs: 100, factor: 3, maxDelayMs: 1000, jitter: 'full', retryOn: undefined }

describe('retry policy', () => {
  it('grows the ceiling exponentially up to maxDelay and draws uniformly below it', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs({ ...policy, jitter: 'none' }, n, Math.random))).toEqual([100, 300, 900, 1000])
    expect(backoffDelayMs(policy, 3, () => 0.25)).toBe(225)
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(0)
  })

  it('stops at maxAttempts, on terminal errors, and on codes outside retryOn', () => {
    const transient = new TaskweaveError('ECONNRESET', 'reset')
    expect(shouldRetry(policy, 4, transient)).toBe(true)
    expect(shouldRetry(policy, 5, transient)).toBe(false)
    expect(shouldRetry(policy, 1, new TerminalError('no'))).toBe(false)
    expect(shouldRetry({ ...policy, retryOn: ['ETIMEDOUT'] }, 1, transient)).toBe(false)
    expect(shouldRetry({ ...policy, retryOn: ['ECONNRESET'] }, 1, Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true)
  })

  it('reads a Retry-After hint from the error', () => {
    expect(retryAfterHintMs(new TaskweaveError('HTTP_429', 'slow', { details: { retryAfterMs: 1500 } }))).toBe(1500)
    expect(retryAfterHintMs(new Error('x'))).toBeUndefined()
  })
})
