import { describe, expect, it } from 'vitest'
import { parseProviderLimits, parseResetDuration, retryAfterMsOf } from './headers.js'

const headers = (values: Record<string, string>) => new Headers(values)

describe('parseResetDuration', () => {
  it.each([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['20ms', 20],
    ['1.5s', 1500],
    ['2m30.5s', 150_500],
    ['1h2m', 3_720_000],
    ['0s', 0],
    ['7.66s', 7660],
    ['1m0.5s', 60_500],
    ['500us', 0.5],
    [' 2s ', 2000],
    ['2', 2000],
    ['0.25', 250],
  ])('%s is %d ms', (text, ms) => {
    expect(parseResetDuration(text)).toBe(ms)
  })

  it.each([null, undefined, '', 'soon', '-1s', '1x', 's', '1s2', '1.s', 'Wed, 01 Jan 2025 00:00:30 GMT'])('ignores %j', (text) => {
    expect(parseResetDuration(text)).toBeUndefined()
  })
})

describe('parseProviderLimits', () => {
  it('reads the requests and tokens families', () => {
    const limits = parseProviderLimits(
      headers({
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '499',
        'x-ratelimit-reset-requests': '120ms',
        'x-ratelimit-limit-tokens': '200000',
        'x-ratelimit-remaining-tokens': '199900',
        'x-ratelimit-reset-tokens': '6m0s',
      }),
    )
    expect(limits).toEqual({ limitRequests: 500, remainingRequests: 499, resetRequestsMs: 120, limitTokens: 200_000, remainingTokens: 199_900, resetTokensMs: 360_000 })
  })

  it('leaves out what is missing or unreadable', () => {
    expect(parseProviderLimits(headers({ 'x-ratelimit-remaining-tokens': '10', 'x-ratelimit-limit-tokens': 'lots', 'x-ratelimit-reset-tokens': '?' }))).toEqual({ remainingTokens: 10 })
  })

  it('is undefined when no limit header is there', () => {
    expect(parseProviderLimits(headers({ 'content-type': 'application/json' }))).toBeUndefined()
  })
})

describe('retryAfterMsOf', () => {
  const now = Date.parse('2025-01-01T00:00:00Z')

  it('prefers retry-after-ms', () => {
    expect(retryAfterMsOf(headers({ 'retry-after-ms': '1500', 'retry-after': '9' }), now)).toBe(1500)
    expect(retryAfterMsOf(headers({ 'retry-after-ms': '20.4' }), now)).toBe(21)
  })

  it('falls back to retry-after, in seconds or as an HTTP date', () => {
    expect(retryAfterMsOf(headers({ 'retry-after': '3' }), now)).toBe(3000)
    expect(retryAfterMsOf(headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:30 GMT' }), now)).toBe(30_000)
    expect(retryAfterMsOf(headers({ 'retry-after-ms': 'soon', 'retry-after': '2' }), now)).toBe(2000)
  })

  it('falls back to the reset time of a spent budget', () => {
    const h = headers({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1.5s', 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '2s' })
    expect(retryAfterMsOf(h, now)).toBe(2000)
    expect(retryAfterMsOf(headers({ 'x-ratelimit-remaining-requests': '3', 'x-ratelimit-reset-requests': '1s' }), now)).toBeUndefined()
  })

  it('caps a wait at a day and is undefined when nothing says', () => {
    expect(retryAfterMsOf(headers({ 'retry-after-ms': '999999999999' }), now)).toBe(24 * 60 * 60 * 1000)
    expect(retryAfterMsOf(headers({}), now)).toBeUndefined()
  })
})
