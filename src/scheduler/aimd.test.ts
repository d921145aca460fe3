import { describe, expect, it } from 'vitest'
import { AimdLimit } from './aimd.js'

describe('AimdLimit', () => {
  it('starts slow-start: one more per healthy call until the first congestion signal', () => {
    const limit = new AimdLimit({ initial: 4, min: 1, max: 64 })
    for (let i = 0; i < 4; i++) limit.succeeded()
    expect(limit.limit).toBe(8)
    limit.congested(0, 8)
    expect(limit.limit).toBe(4)
    for (let i = 0; i < 4; i++) limit.succeeded()
    expect(limit.limit).toBe(5)
  })

  it('after slow start, grows by one after a window of `limit` healthy calls, up to max', () => {
    const limit = new AimdLimit({ initial: 4, min: 1, max: 3 })
    limit.congested(0, 0)
    expect(limit.limit).toBe(2)
    limit.succeeded()
    expect(limit.limit).toBe(2)
    limit.succeeded()
    expect(limit.limit).toBe(3)
    for (let i = 0; i < 10; i++) limit.succeeded()
    expect(limit.limit).toBe(3)
    expect(limit.increases).toBe(1)
  })


  it('halves once per congestion episode, never below min', () => {
    const limit = new AimdLimit({ initial: 16, min: 3, max: 64 })
    // Calls 0..15 were in flight; the first 429 halves, the others of the same episode do not.
    expect(limit.congested(3, 16)).toBe(true)
    expect(limit.limit).toBe(8)
    expect(limit.congested(7, 16)).toBe(false)
    expect(limit.limit).toBe(8)
    // A call started after the halving answers anew.
    expect(limit.congested(17, 20)).toBe(true)
    expect(limit.limit).toBe(4)
    limit.congested(25, 26)
    expect(limit.limit).toBe(3)
    expect(limit.decreases).toBe(3)
    // No slow start after congestion: one per window.
    limit.succeeded()
    expect(limit.limit).toBe(3)
  })
})
