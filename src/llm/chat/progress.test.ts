import { describe, expect, it } from 'vitest'
import type { ToolProgress } from '../../core/tool.js'
import { createStreamProgress, type ChatProgressData } from './progress.js'

function harness(intervalMs: number, maxTokens?: number) {
  let now = 0
  const events: ToolProgress[] = []
  const progress = createStreamProgress({ emit: (p) => events.push(p), intervalMs, now: () => now, maxTokens })
  return {
    events,
    progress,
    advance(ms: number) {
      now += ms
    },
  }
}

const data = (p: ToolProgress | undefined) => p?.data as ChatProgressData

describe('createStreamProgress', () => {
  it('sends the first chunk at once, then at most one event per interval, then the rest', () => {
    const h = harness(100, 20)
    h.progress.push('a')
    for (const chunk of ['b', 'c', 'd']) {
      h.advance(30)
      h.progress.push(chunk)
    }
    h.advance(30)
    h.progress.push('e')
    h.progress.push('f')
    h.progress.finish()
    expect(h.events.map((e) => data(e).delta)).toEqual(['a', 'bcde', 'f'])
    expect(h.events.map((e) => data(e).tokens)).toEqual([1, 5, 6])
    expect(h.events.map((e) => e.fraction)).toEqual([1 / 20, 5 / 20, 1])
    expect(data(h.events.at(-1)).done).toBe(true)
  })

  it('keeps a thousand quick chunks to a handful of events, losing no text', () => {
    const h = harness(100)
    for (let i = 0; i < 1000; i++) {
      h.advance(1)
      h.progress.push('x')
    }
    h.progress.finish()
    expect(h.events.length).toBeLessThanOrEqual(12)
    expect(h.events.map((e) => data(e).delta ?? '').join('')).toBe('x'.repeat(1000))
    expect(h.events[0]?.fraction).toBeUndefined()
  })

  it('sends one event per chunk with interval 0, and a final one without text', () => {
    const h = harness(0)
    h.progress.push('a')
    h.progress.push('')
    h.progress.push('b')
    h.progress.finish()
    expect(h.events.map((e) => data(e))).toEqual([{ delta: 'a', tokens: 1 }, { delta: 'b', tokens: 2 }, { tokens: 2, done: true }])
  })
})
