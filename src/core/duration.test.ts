import { describe, expect, it } from 'vitest'
import { parseDuration, toMs } from './duration.js'

describe('durations', () => {
  it('read milliseconds, strings with a unit, and a string of digits as milliseconds (what a command-line flag gives)', () => {
    expect(parseDuration(250)).toBe(250)
    expect(parseDuration('1.5s')).toBe(1500)
    expect(parseDuration('2m')).toBe(120_000)
    expect(parseDuration('5000')).toBe(5000)
    expect(parseDuration(' 30 ms ')).toBe(30)
  })

  it('refuse what is not one, naming the option', () => {
    expect(parseDuration('soon')).toBeUndefined()
    expect(parseDuration(-1)).toBeUndefined()
    expect(parseDuration('5 weeks')).toBeUndefined()
    expect(() => toMs('--since', 'yesterday')).toThrow(/option "--since" must be a duration/)
  })
})
