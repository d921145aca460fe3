import { describe, expect, it } from 'vitest'
import { isoTime } from './iso-time.js'

describe('isoTime', () => {
  it('writes what toISOString writes, within one second and across seconds, years and signs', () => {
    const samples = [0, 1, 999, 1000, 1001, -1, -999, -1000, -1001, 1.5, 999.9, -0.5, 1_764_000_000_123, 1_764_000_000_999, 1_764_000_001_000, 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_001, 8.64e15, -8.64e15]
    for (let k = 0; k < 2000; k++) samples.push(1_764_000_000_000 + k * 7, -5_000 + k * 3)
    for (const ms of samples) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString())
  })

  it('writes every day of four centuries and the years at the edges of four digits as a Date does', () => {
    // 1600-03-01 to 2000-03-01: leap years by 4, 1700, 1800 and 1900 (not leap), 2000 (leap by
    // 400); each day at midnight, the millisecond before it and an hour of the afternoon.
    for (let day = Date.UTC(1600, 2, 1); day < Date.UTC(2000, 2, 1); day += 86_400_000) {
      for (const ms of [day, day - 1, day + 45_296_789]) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString())
    }
    // Date.UTC reads years 0–99 as 1900–1999: the year is set apart.
    const utc = (year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number => {
      const date = new Date(Date.UTC(2000, month, day, hour, minute, second, ms))
      return date.setUTCFullYear(year, month, day)
    }
    const edges = [utc(0, 0, 1), utc(0, 1, 29, 12), utc(-1, 11, 31, 23, 59, 59, 999), utc(1, 1, 28), utc(4, 1, 29, 6, 7, 8, 9), utc(100, 1, 28, 23, 59, 59, 999), utc(9999, 11, 31, 23, 59, 59, 999), utc(10000, 0, 1)]
    expect(new Date(edges[0] as number).toISOString()).toBe('0000-01-01T00:00:00.000Z')
    for (const ms of [...edges, 951_782_400_000, 1_709_164_800_000]) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString())
  })

  it('refuses a time no Date can hold, as toISOString does, and keeps working afterwards', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, 8.64e15 + 1000, 8.64e15 + 1, -8.64e15 - 1]) expect(() => isoTime(bad)).toThrow(RangeError)
    expect(isoTime(1_764_000_000_042)).toBe(new Date(1_764_000_000_042).toISOString())
  })
})
