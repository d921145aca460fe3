import { describe, expect, it } from 'vitest'
import { ToolStats } from './tool-stats.js'

describe('ToolStats', () => {
  it('keeps a running mean per tool, whatever order the tools complete in', () => {
    const stats = new ToolStats()
    expect(stats.meanMs('a')).toBeUndefined()
    for (const [tool, ms] of [['a', 10], ['a', 20], ['b', 5], ['a', 30], ['b', 7]] as const) stats.record(tool, ms)
    expect(stats.meanMs('a')).toBe(20)
    expect(stats.meanMs('b')).toBe(6)
  })
})
