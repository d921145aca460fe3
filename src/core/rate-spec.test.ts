import { describe, expect, it } from 'vitest'
import { parseRateWindow, resolveRateLimits, resolveRateTable, stricterLimits } from './rate-spec.js'

describe('parseRateWindow', () => {
  it.each([
    ['600/min', 600, 60_000],
    ['10/s', 10, 1000],
    ['200000/1m', 200_000, 60_000],
    ['5/250ms', 5, 250],
    ['3 / 2 minutes', 3, 120_000],
    ['1000/hour', 1000, 3_600_000],
  ])('reads %s', (text, limit, windowMs) => {
    expect(parseRateWindow('f', text)).toEqual({ limit, windowMs })
  })

  it('reads { limit, per }', () => {
    expect(parseRateWindow('f', { limit: 50, per: '30s' })).toEqual({ limit: 50, windowMs: 30_000 })
  })

  it.each(['lots', '0/min', '10/fortnight', '/s', '10/0s'])('refuses %s naming the field', (text) => {
    expect(() => parseRateWindow('rates.k.requests', text)).toThrow(/rates\.k\.requests/)
  })
})

describe('resolveRateLimits', () => {
  it('is adaptive by default, fixed with a concurrent cap, and both when asked', () => {
    expect(resolveRateLimits('rates', 'k', {}).adaptive).toEqual({ initial: 4, min: 1, max: 256 })
    expect(resolveRateLimits('rates', 'k', { concurrent: 8 }).adaptive).toBeUndefined()
    expect(resolveRateLimits('rates', 'k', { concurrent: 8, adaptive: true }).adaptive).toEqual({ initial: 4, min: 1, max: 8 })
    expect(resolveRateLimits('rates', 'k', { adaptive: false }).adaptive).toBeUndefined()
  })

  it('refuses unknown fields and bad bounds, naming them', () => {
    expect(() => resolveRateLimits('rates', 'k', { rpm: 5 } as never)).toThrow(/rates\.k\.rpm/)
    expect(() => resolveRateLimits('rates', 'k', { adaptive: { initial: 10, max: 5 } })).toThrow(/rates\.k\.adaptive/)
    expect(() => resolveRateLimits('rates', 'k', { maxBounces: -1 })).toThrow(/rates\.k\.maxBounces/)
    expect(() => resolveRateLimits('rates', 'k', { attemptsPerSecond: 0 })).toThrow(/rates\.k\.attemptsPerSecond/)
  })

  it('keeps __proto__ an ordinary key', () => {
    const table = resolveRateTable('rates', JSON.parse('{"__proto__": {"concurrent": 2}}') as Record<string, object>)
    expect(table.get('__proto__')?.concurrent).toBe(2)
  })
})

describe('stricterLimits', () => {
  it('keeps the lower rate and the smaller burst of each budget', () => {
    const a = resolveRateLimits('r', 'k', { requests: '600/min', tokens: '1000/s', concurrent: 10 })
    const b = resolveRateLimits('r', 'k', { requests: '100/10s', concurrent: 4 })
    const both = stricterLimits(a, b)
    // 600/min is 10/s; 100/10s is 10/s too but with a smaller burst: 100 per 10 s.
    expect(both.requests).toEqual({ limit: 100, windowMs: 10_000 })
    expect(both.tokens).toEqual({ limit: 1000, windowMs: 1000 })
    expect(both.concurrent).toBe(4)
  })
})
