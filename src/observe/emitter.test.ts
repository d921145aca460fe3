import { describe, expect, it } from 'vitest'
import { EventEmitter } from './emitter.js'

describe('EventEmitter.wants', () => {
  it('notices a listener added after it answered "no", here or on a parent, and one removed again', () => {
    const engine = new EventEmitter()
    const run = new EventEmitter([engine])
    expect(run.wants('task:started')).toBe(false)
    expect(run.wants('task:started')).toBe(false) // the cached answer
    const off = engine.on('task:started', () => undefined)
    expect(run.wants('task:started')).toBe(true)
    expect(run.wants('task:failed')).toBe(false)
    off()
    expect(run.wants('task:started')).toBe(false)
    const offAny = run.onAny(() => undefined)
    expect(run.wants('task:failed')).toBe(true)
    expect(engine.wants('task:failed')).toBe(false)
    offAny()
    expect(run.wants('task:failed')).toBe(false)
  })
})
