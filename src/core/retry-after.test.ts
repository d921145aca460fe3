import { describe, expect, it } from 'vitest'
import { parseRetryAfter } from './retry-after.js'

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z')

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('7', now)).toBe(7000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
  })

  it('reads an HTTP date, never below zero', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0)
  })

  it('caps absurd delays at a day', () => {
    expect(parseRetryAfter('99999999', now)).toBe(24 * 60 * 60 * 1000)
  })

  it('ignores missing and malformed values', () => {
    for (const value of [null, undefined, '', 'soon', '1.5', '-3']) expect(parseRetryAfter(value, now)).toBeUndefined()
  })
})
