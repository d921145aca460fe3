import { describe, expect, it } from 'vitest'
import { isoTime } from './iso-time.js'

describe('isoTime', () => {
  it('writes what toISOString writes, within one second and across seconds, years and signs', () => {
    const samples = [0, 1, 999, 1000, 1001, -1, -999, -1000, -1001, 1.5, 999.9, -0.5, 1_764_000_000_123, 1_764_000_000_999, 1_764_000_001_000, 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_001, 8.64e15, -8.64e15]
    for (let k = 0; k < 2000; k++) samples.push(1_764_000_000_000 + k * 7, -5_000 + k * 3)
    for (const ms of samples) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString())
  })

  it('refuses a time no Date can hold, as toISOString does, and keeps working afterwards', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, 8.64e15 + 1000, 8.64e15 + 1, -8.64e15 - 1]) expect(() => isoTime(bad)).toThrow(RangeError)
    expect(isoTime(1_764_000_000_042)).toBe(new Date(1_764_000_000_042).toISOString())
  })
})
