import { describe, expect, it } from 'vitest'
import { matchGlob, matchesAny } from './glob.js'

describe('matchGlob', () => {
  it.each([
    ['*.ts', 'index.ts', true],
    ['*.ts', 'index.tsx', false],
    ['*.ts', '.ts', true],
    ['?.md', 'a.md', true],
    ['?.md', 'ab.md', false],
    ['test-*-*.json', 'test-a-b.json', true],
    ['README', 'README', true],
    ['README', 'readme', false],
    ['*', '', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXbY', false],
    ['[ab].ts', '[ab].ts', true],
    ['(x).ts', 'x.ts', false],
  ])('%s against %s is %s', (pattern, name, expected) => {
    expect(matchGlob(pattern, name)).toBe(expected)
  })

  it('stays fast on patterns that make a backtracking matcher explode', () => {
    const started = Date.now()
    expect(matchGlob('*a*a*a*a*a*a*a*a*b', 'a'.repeat(255))).toBe(false)
    expect(Date.now() - started).toBeLessThan(100)
  })

  it('matches everything when there are no patterns', () => {
    expect(matchesAny(undefined, 'x')).toBe(true)
    expect(matchesAny([], 'x')).toBe(true)
    expect(matchesAny(['*.js', '*.ts'], 'x.ts')).toBe(true)
  })
})
