import { describe, expect, it } from 'vitest'
import { compareVersions, isSupportedSqlite, MIN_SQLITE_VERSION } from './version.js'

describe('SQLite version check', () => {
  it('compares numerically, part by part', () => {
    expect(compareVersions('3.10.0', '3.9.9')).toBe(1)
    expect(compareVersions('3.51.3', '3.51.3')).toBe(0)
    expect(compareVersions('3.51', '3.51.0')).toBe(0)
    expect(compareVersions('3.51.2', '3.51.3')).toBe(-1)
    expect(() => compareVersions('3.x', '3.1')).toThrow(RangeError)
  })

  it('accepts 3.51.3 and later, refuses earlier (the WAL-reset fix)', () => {
    expect(MIN_SQLITE_VERSION).toBe('3.51.3')
    expect(isSupportedSqlite('3.51.3')).toBe(true)
    expect(isSupportedSqlite('3.53.2')).toBe(true)
    expect(isSupportedSqlite('4.0.0')).toBe(true)
    expect(isSupportedSqlite('3.51.2')).toBe(false)
    expect(isSupportedSqlite('3.45.1')).toBe(false)
  })
})
