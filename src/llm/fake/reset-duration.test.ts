import { describe, expect, it } from 'vitest'
import { formatResetDuration } from './reset-duration.js'

describe('formatResetDuration (OpenAI x-ratelimit-reset-* text)', () => {
  it.each([
    [0, '0s'],
    [-5, '0s'],
    [20, '20ms'],
    [0.2, '1ms'],
    [999, '999ms'],
    [999.5, '1s'],
    [1000, '1s'],
    [1500, '1.5s'],
    [1250, '1.25s'],
    [1005, '1.005s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [123_250, '2m3.25s'],
    [3_600_000, '1h0m0s'],
    [3_723_500, '1h2m3.5s'],
    [20_000.000000001, '20.001s'],
  ])('%s ms → %s', (ms, text) => {
    expect(formatResetDuration(ms)).toBe(text)
  })

  it('refuses what no bucket produces', () => {
    expect(() => formatResetDuration(Number.NaN)).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', message: 'option "ms" must be a finite number of ms; received NaN' }))
    expect(() => formatResetDuration(Infinity)).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION' }))
  })
})
