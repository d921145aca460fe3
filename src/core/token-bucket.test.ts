import { describe, expect, it } from 'vitest'
import { TokenBucket } from './token-bucket.js'

describe('TokenBucket', () => {
  it('starts full and refills continuously, never above capacity', () => {
    const bucket = new TokenBucket(600, 60_000, 0)
    expect(bucket.tryTake(600, 0)).toBe(true)
    expect(bucket.tryTake(1, 0)).toBe(false)
    expect(bucket.level(50)).toBeCloseTo(0.5)
    expect(bucket.tryTake(1, 100)).toBe(true)
    expect(bucket.level(10_000_000)).toBe(600)
  })

  it('says how long until an amount fits, and Infinity for more than it ever holds', () => {
    const bucket = new TokenBucket(10, 1000, 0)
    bucket.tryTake(10, 0)
    expect(bucket.waitFor(5, 0)).toBe(500)
    expect(bucket.waitFor(5, 500)).toBe(0)
    expect(bucket.waitFor(11, 500)).toBe(Infinity)
    expect(bucket.msUntilFull(500)).toBe(500)
  })

  it('charges overdraft and refunds up to capacity', () => {
    const bucket = new TokenBucket(100, 1000, 0)
    bucket.tryTake(50, 0)
    bucket.adjust(-80, 0)
    expect(bucket.level(0)).toBe(-30)
    expect(bucket.waitFor(10, 0)).toBe(400)
    bucket.adjust(500, 0)
    expect(bucket.level(0)).toBe(100)
  })

  it('resizes to limits learned later, keeping the level within the new capacity', () => {
    const bucket = new TokenBucket(1000, 1000, 0)
    bucket.resize(100, 10_000, 0)
    expect(bucket.level(0)).toBe(100)
    bucket.tryTake(100, 0)
    expect(bucket.waitFor(10, 0)).toBe(1000)
  })

  it('forgives floating-point dust, refills nothing when the clock steps back, and resets to full', () => {
    const bucket = new TokenBucket(3, 60_000, 0)
    bucket.tryTake(3, 0)
    // 20 s refill exactly one request, give or take the last bit of a double.
    expect(bucket.tryTake(1, 20_000 - 1e-7)).toBe(true)
    expect(bucket.level(10_000)).toBeCloseTo(0, 6)
    bucket.reset(30_000)
    expect(bucket.level(30_000)).toBe(3)
  })
})
