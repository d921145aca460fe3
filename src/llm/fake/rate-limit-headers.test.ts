import { describe, expect, it } from 'vitest'
import { Quota } from './quota.js'
import { rateLimitHeaders, retryAfterHeaders } from './rate-limit-headers.js'

describe('rateLimitHeaders', () => {
  it('reports limit, floored remaining after the reservation, and time until full', () => {
    const quota = new Quota({ rpm: 600, tpm: 200_000, windowMs: 60_000 }, 0)
    expect(quota.admit(1234.5, 0)).toEqual({ ok: true })
    expect(rateLimitHeaders(quota, 0)).toEqual({
      'x-ratelimit-limit-requests': '600',
      'x-ratelimit-remaining-requests': '599',
      'x-ratelimit-reset-requests': '100ms',
      'x-ratelimit-limit-tokens': '200000',
      'x-ratelimit-remaining-tokens': '198765',
      // 1234.5 tokens at 200000 per minute: 370.35 ms, rounded up.
      'x-ratelimit-reset-tokens': '371ms',
    })
  })

  it('has no headers for an unlimited quota', () => {
    expect(rateLimitHeaders(new Quota({ windowMs: 60_000 }, 0), 0)).toEqual({})
    expect(Object.keys(rateLimitHeaders(new Quota({ rpm: 5, windowMs: 60_000 }, 0), 0))).toEqual(['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'])
  })

  it('reports 0 remaining while the token bucket is in debt', () => {
    const quota = new Quota({ tpm: 100, windowMs: 60_000 }, 0)
    quota.admit(50, 0)
    quota.settle(50, 180, 0)
    const headers = rateLimitHeaders(quota, 0)
    expect(headers['x-ratelimit-remaining-tokens']).toBe('0')
    // 180 tokens missing at 100 per minute.
    expect(headers['x-ratelimit-reset-tokens']).toBe('1m48s')
  })

  it('counts refill noise just under a whole number as the whole number', () => {
    const quota = new Quota({ rpm: 3, windowMs: 60_000 }, 0)
    quota.admit(0, 0)
    // Refilling in 1 ms steps adds up to 2.9999999999976694 after the 20 s one request takes.
    for (let t = 1; t < 20_000; t++) quota.requests?.level(t)
    expect(quota.requests?.level(20_000)).toBeLessThan(3)
    expect(rateLimitHeaders(quota, 20_000)['x-ratelimit-remaining-requests']).toBe('3')
  })
})

describe('retryAfterHeaders', () => {
  it('gives whole seconds rounded up and milliseconds', () => {
    expect(retryAfterHeaders(20_000)).toEqual({ 'retry-after': '20', 'retry-after-ms': '20000' })
    expect(retryAfterHeaders(1500.2)).toEqual({ 'retry-after': '2', 'retry-after-ms': '1501' })
    expect(retryAfterHeaders(20_000.000000004)).toEqual({ 'retry-after': '20', 'retry-after-ms': '20000' })
  })
})
