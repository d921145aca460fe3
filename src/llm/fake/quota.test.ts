import { describe, expect, it } from 'vitest'
import { Quota } from './quota.js'

describe('Quota', () => {
  it('admits while both buckets hold enough and takes from both', () => {
    const quota = new Quota({ rpm: 2, tpm: 100, windowMs: 60_000 }, 0)
    expect(quota.admit(40, 0)).toEqual({ ok: true })
    expect(quota.admit(40, 0)).toEqual({ ok: true })
    expect(quota.requests?.level(0)).toBe(0)
    expect(quota.tokens?.level(0)).toBe(20)
  })

  it('refuses on requests without taking tokens, the wait covering both buckets', () => {
    const quota = new Quota({ rpm: 1, tpm: 100, windowMs: 60_000 }, 0)
    quota.admit(100, 0)
    // Requests: 60 s until one; tokens: 30 s until 50.
    expect(quota.admit(50, 0)).toEqual({ ok: false, limit: 'requests', waitMs: 60_000 })
    expect(quota.tokens?.level(0)).toBe(0)
  })

  it('refuses on tokens without taking a request', () => {
    const quota = new Quota({ rpm: 10, tpm: 100, windowMs: 1000 }, 0)
    quota.admit(90, 0)
    const refused = quota.admit(30, 0)
    expect(refused.ok).toBe(false)
    if (!refused.ok) {
      expect(refused.limit).toBe('tokens')
      expect(refused.waitMs).toBeCloseTo(200, 6)
    }
    expect(quota.requests?.level(0)).toBe(9)
  })

  it('calls a request needing more than the token quota too large, even with no requests left', () => {
    const quota = new Quota({ rpm: 1, tpm: 100, windowMs: 60_000 }, 0)
    quota.admit(1, 0)
    expect(quota.admit(101, 0)).toEqual({ ok: false, limit: 'tokens', waitMs: Infinity })
  })

  it('settles a reservation to the tokens used', () => {
    const quota = new Quota({ tpm: 1000, windowMs: 60_000 }, 0)
    quota.admit(600, 0)
    quota.settle(600, 250, 0)
    expect(quota.tokens?.level(0)).toBe(750)
  })

  it('returnRequest gives the request back; reset fills both', () => {
    const quota = new Quota({ rpm: 1, tpm: 10, windowMs: 60_000 }, 0)
    quota.admit(10, 0)
    quota.returnRequest(0)
    expect(quota.requests?.level(0)).toBe(1)
    quota.reset(0)
    expect(quota.tokens?.level(0)).toBe(10)
  })
})
