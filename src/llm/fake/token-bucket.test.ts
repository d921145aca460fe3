import { describe, expect, it } from 'vitest'
import { TokenBucket } from './token-bucket.js'

// 3 per minute: one every 20 s.
const perMinute = (n: number): number => n / 60_000

describe('TokenBucket', () => {
  it('starts full and takes while it holds enough', () => {
    const bucket = new TokenBucket(3, perMinute(3), 1000)
    expect(bucket.level(1000)).toBe(3)
    expect(bucket.take(1, 1000)).toEqual({ ok: true, waitMs: 0 })
    expect(bucket.take(2, 1000)).toEqual({ ok: true, waitMs: 0 })
    expect(bucket.level(1000)).toBe(0)
  })

  it('refuses without taking and says how long until the amount is there', () => {
    const bucket = new TokenBucket(3, perMinute(3), 0)
    bucket.take(3, 0)
    expect(bucket.take(1, 0)).toEqual({ ok: false, waitMs: 20_000 })
    expect(bucket.level(0)).toBe(0)
    // Half way there: 10 s to go.
    expect(bucket.take(1, 10_000)).toEqual({ ok: false, waitMs: 10_000 })
    expect(bucket.level(10_000)).toBeCloseTo(0.5, 9)
  })

  it('refills continuously, and a client waiting exactly the advertised time is admitted', () => {
    const bucket = new TokenBucket(600, perMinute(600), 0)
    bucket.take(600, 0)
    const { waitMs } = bucket.take(7, 0)
    expect(waitMs).toBeCloseTo(700, 6)
    expect(bucket.take(7, waitMs).ok).toBe(true)
  })

  it('never holds more than its capacity', () => {
    const bucket = new TokenBucket(10, perMinute(10), 0)
    bucket.take(4, 0)
    expect(bucket.level(10 * 60_000)).toBe(10)
    bucket.refund(100, 10 * 60_000)
    expect(bucket.level(10 * 60_000)).toBe(10)
  })

  it('an amount above the capacity can never be taken', () => {
    const bucket = new TokenBucket(100, perMinute(100), 0)
    expect(bucket.take(101, 0)).toEqual({ ok: false, waitMs: Infinity })
    expect(bucket.level(0)).toBe(100)
  })

  it('refund gives back a reservation; a negative refund charges and may leave a debt', () => {
    const bucket = new TokenBucket(1000, perMinute(1000), 0)
    bucket.take(800, 0)
    bucket.refund(300, 0)
    expect(bucket.level(0)).toBe(500)
    bucket.refund(-700, 0)
    expect(bucket.level(0)).toBe(-200)
    // The debt is paid by the refill before anything can be taken: 200 + 100 tokens at 1000/min.
    expect(bucket.waitMs(100, 0)).toBeCloseTo(18_000, 6)
  })

  it('msUntilFull measures the missing amount at the refill rate', () => {
    const bucket = new TokenBucket(200_000, perMinute(200_000), 0)
    expect(bucket.msUntilFull(0)).toBe(0)
    bucket.take(50_000, 0)
    expect(bucket.msUntilFull(0)).toBeCloseTo(15_000, 6)
    expect(bucket.msUntilFull(5_000)).toBeCloseTo(10_000, 6)
    expect(bucket.msUntilFull(15_000)).toBe(0)
  })

  it('a clock stepping back neither refills nor drains', () => {
    const bucket = new TokenBucket(3, perMinute(3), 60_000)
    bucket.take(3, 60_000)
    expect(bucket.level(0)).toBe(0)
    expect(bucket.level(80_000)).toBeCloseTo(1, 9)
  })

  it('reset fills the bucket', () => {
    const bucket = new TokenBucket(5, perMinute(5), 0)
    bucket.take(5, 0)
    bucket.reset(1)
    expect(bucket.level(1)).toBe(5)
  })

  it('refuses a capacity or rate that is not a finite positive number', () => {
    expect(() => new TokenBucket(0, 1, 0)).toThrow(RangeError)
    expect(() => new TokenBucket(1, Number.NaN, 0)).toThrow(RangeError)
    expect(() => new TokenBucket(Infinity, 1, 0)).toThrow(RangeError)
  })
})
