import { describe, expect, it } from 'vitest'
import { ManualClock } from '../testing/manual-clock.js'
import { resolveRateTable } from '../core/rate-spec.js'
import { RateLimiter, TOKENS_LATER } from './rate-limiter.js'
import type { RateHolder, RateLease } from './rate-limiter.js'

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function limiterWith(rates: Parameters<typeof resolveRateTable>[1]) {
  const clock = new ManualClock()
  return { clock, limiter: new RateLimiter(clock, resolveRateTable('rates', rates)) }
}

function lease(result: RateLease | { blocked: string }): RateLease {
  if ('blocked' in result) throw new Error(`blocked: ${result.blocked}`)
  return result
}

/** A holder that records grants and refusals. */
function recorder() {
  const granted: number[] = []
  const refused: string[] = []
  const leases: RateLease[] = []
  const holder: RateHolder = {
    rateGranted: (l, ticket) => {
      granted.push(ticket)
      leases.push(l)
      return true
    },
    rateRefused: (_key, ticket, reason) => refused.push(`${ticket}: ${reason}`),
  }
  return { holder, granted, refused, leases }
}

describe('RateLimiter', () => {
  it('admits while every budget allows, and says which one blocks and for how long', () => {
    const { limiter } = limiterWith({ k: { requests: '2/s', tokens: '100/s', concurrent: 5 } })
    lease(limiter.tryTake('k', 60))
    expect(limiter.tryTake('k', 60)).toEqual({ blocked: 'tokens', waitMs: 200 })
    lease(limiter.tryTake('k', 40))
    expect(limiter.tryTake('k', 0)).toEqual({ blocked: 'requests', waitMs: 500 })
  })

  it('serves waiters by priority, then arrival, when a budget refills', async () => {
    const { clock, limiter } = limiterWith({ k: { requests: '1/s', adaptive: false } })
    lease(limiter.tryTake('k', 0))
    const { holder, granted } = recorder()
    limiter.wait('k', 0, holder, 1, 0)
    limiter.wait('k', 0, holder, 2, 5)
    limiter.wait('k', 0, holder, 3, 0)
    await flush()
    expect(granted).toEqual([])
    clock.advance(1000)
    expect(granted).toEqual([2])
    clock.advance(1000)
    clock.advance(1000)
    expect(granted).toEqual([2, 1, 3])
  })

  it('asks a waiter queued with TOKENS_LATER for its tokens only at the head of the line, once', async () => {
    const { clock, limiter } = limiterWith({ k: { tokens: '100/s', adaptive: false } })
    lease(limiter.tryTake('k', 100))
    const asked: number[] = []
    const { holder: base, granted, refused, leases } = recorder()
    const tokensOf: Record<number, number> = { 1: 50, 2: 500, 3: 100 }
    const holder: RateHolder = { ...base, rateTokens: (ticket) => (asked.push(ticket), tokensOf[ticket] ?? 0) }
    expect(limiter.isQueued('k')).toBe(false)
    for (const ticket of [1, 2, 3]) limiter.wait('k', TOKENS_LATER, holder, ticket, 0)
    expect(limiter.isQueued('k')).toBe(true)
    await flush()
    expect(asked).toEqual([1])
    clock.advance(500)
    // 1 takes its 50; 2 can never fit a 100-token budget and is refused; 3 is asked and waits for a full bucket.
    expect(granted).toEqual([1])
    expect(leases[0]?.tokens).toBe(50)
    expect(refused).toEqual([expect.stringMatching(/^2: its estimate of 500 tokens/)])
    expect(asked).toEqual([1, 2, 3])
    clock.advance(1000)
    expect(granted).toEqual([1, 3])
    expect(asked).toEqual([1, 2, 3])
  })

  it('never asks a holder that left the line, and serves on when a holder cannot say (0 tokens)', async () => {
    const { clock, limiter } = limiterWith({ k: { requests: '1/s', tokens: '100/s', adaptive: false } })
    lease(limiter.tryTake('k', 0))
    const asked: string[] = []
    const gone = recorder()
    const broken = recorder()
    const silent = recorder()
    const leaving: RateHolder = { ...gone.holder, rateTokens: () => (asked.push('gone'), 10) }
    limiter.wait('k', TOKENS_LATER, leaving, 1, 0)
    limiter.wait('k', TOKENS_LATER, { ...broken.holder, rateTokens: () => (asked.push('broken'), Number.NaN) }, 2, 0)
    limiter.wait('k', TOKENS_LATER, silent.holder, 3, 0)
    limiter.forget(leaving)
    await flush()
    clock.advance(1000)
    clock.advance(1000)
    expect(asked).toEqual(['broken'])
    expect(gone.granted).toEqual([])
    expect([broken.leases[0]?.tokens, silent.leases[0]?.tokens]).toEqual([0, 0])
  })

  it('pauses the whole key after a 429 and gives the refused call its reservation back', async () => {
    const { clock, limiter } = limiterWith({ k: { requests: '10/s', concurrent: 4 } })
    const first = lease(limiter.tryTake('k', 0))
    expect(limiter.throttle(first, 3000)).toBe(3000)
    expect(limiter.tryTake('k', 0)).toEqual({ blocked: 'paused', waitMs: 3000 })
    expect(limiter.stats()[0]).toMatchObject({ inFlight: 0, requestsLeft: 10, throttled: 1, pausedUntil: 3000 })
    const { holder, granted } = recorder()
    limiter.wait('k', 0, holder, 7, 0)
    await flush()
    clock.advance(2999)
    expect(granted).toEqual([])
    clock.advance(1)
    expect(granted).toEqual([7])
  })

  it('backs off without a named wait by 429s in a row: a call that ends well starts the count again', () => {
    const { clock, limiter } = limiterWith({ k: { concurrent: 4 } })
    const pauseAfter429 = (): number => {
      const until = limiter.throttle(lease(limiter.tryTake('k', 0)), undefined)
      const pause = until - clock.now()
      clock.advance(pause)
      return pause
    }
    expect([pauseAfter429(), pauseAfter429(), pauseAfter429()]).toEqual([250, 500, 1000])
    limiter.settle(lease(limiter.tryTake('k', 0)), undefined)
    expect(pauseAfter429()).toBe(250)
    for (let k = 0; k < 12; k++) pauseAfter429()
    expect(pauseAfter429()).toBe(30_000)
    expect(limiter.stats()[0]).toMatchObject({ throttled: 17 })
  })

  it('counts the 429s of calls already in flight when a pause began as one episode: one pause, not a doubling each', () => {
    const { clock, limiter } = limiterWith({ k: { concurrent: 10 } })
    const inFlight = Array.from({ length: 10 }, () => lease(limiter.tryTake('k', 0)))
    // All ten come back 429 within a few ms of each other.
    const pauses = inFlight.map((l) => {
      clock.advance(1)
      return limiter.throttle(l, undefined) - clock.now()
    })
    expect(Math.max(...pauses)).toBeLessThanOrEqual(250)
    clock.advance(250)
    // A call sent after that pause is refused again: a new episode, a longer pause.
    const next = lease(limiter.tryTake('k', 0))
    expect(limiter.throttle(next, undefined) - clock.now()).toBe(500)
    expect(limiter.stats()[0]).toMatchObject({ throttled: 11 })
  })

  it('gives back unused tokens when a call settles with its usage, and charges overdraft', () => {
    const { limiter } = limiterWith({ k: { tokens: '1000/min' } })
    const a = lease(limiter.tryTake('k', 800))
    limiter.settle(a, 100)
    expect(limiter.stats()[0]?.tokensLeft).toBe(900)
    const b = lease(limiter.tryTake('k', 100))
    limiter.settle(b, 600)
    expect(limiter.stats()[0]?.tokensLeft).toBe(300)
  })

  it('learns unconfigured budgets from the provider, counting calls made since', () => {
    const { limiter } = limiterWith({})
    const a = lease(limiter.tryTake('k', 10))
    lease(limiter.tryTake('k', 10))
    // After a's call the provider had 599 of 600 requests left, full again in 100 ms: 600 per minute.
    limiter.observe(a, { limitRequests: 600, remainingRequests: 599, resetRequestsMs: 100, limitTokens: 10_000, remainingTokens: 9990, resetTokensMs: 60 })
    const stats = limiter.stats()[0]
    expect(stats?.learned).toBe(true)
    // 599 then, less the one call made after a, less the 2% margin kept for header rounding.
    expect(stats?.requestsLeft).toBe(Math.floor(599 * 0.98 - 1))
    expect(stats?.tokensLeft).toBe(Math.floor(9990 * 0.98 - 10))
  })

  it('revises a learned window that a first reading could only guess', () => {
    const { limiter } = limiterWith({ k: { adaptive: false } })
    const a = lease(limiter.tryTake('k', 0))
    // The answer came when the bucket was full again: nothing to work the window out from (a minute is assumed).
    limiter.observe(a, { limitRequests: 600, remainingRequests: 600, resetRequestsMs: 0 })
    const b = lease(limiter.tryTake('k', 0))
    // 100 used, full again in 1 s: 600 per 6 s.
    limiter.observe(b, { limitRequests: 600, remainingRequests: 500, resetRequestsMs: 1000 })
    for (let i = 0; i < 600; i++) if ('blocked' in limiter.tryTake('k', 0)) break
    const blocked = limiter.tryTake('k', 0)
    expect(blocked).toMatchObject({ blocked: 'requests' })
    // One request every 6000 / (600 × 0.98) ≈ 10.2 ms, not every 102 ms.
    expect((blocked as { waitMs: number }).waitMs).toBeLessThanOrEqual(11)
  })

  it('pulls a configured budget down when the provider has counted more (another client on the key)', () => {
    const { limiter } = limiterWith({ k: { requests: '100/min' } })
    const a = lease(limiter.tryTake('k', 0))
    limiter.observe(a, { remainingRequests: 50 })
    expect(limiter.stats()[0]?.requestsLeft).toBe(50)
    // Never up: a higher count from the provider is older than this engine's own.
    limiter.observe(a, { remainingRequests: 99 })
    expect(limiter.stats()[0]?.requestsLeft).toBe(50)
  })

  it('does not count twice the calls admitted while a call ran, whether the provider read its count at arrival or at answer', () => {
    const { limiter } = limiterWith({ k: { requests: '100/min' } })
    const a = lease(limiter.tryTake('k', 0))
    lease(limiter.tryTake('k', 0))
    lease(limiter.tryTake('k', 0))
    // Read when a's answer left: b and c are counted there too.
    limiter.observe(a, { remainingRequests: 97 })
    expect(limiter.stats()[0]?.requestsLeft).toBe(97)
    // Read when a arrived: 99.
    limiter.observe(a, { remainingRequests: 99 })
    expect(limiter.stats()[0]?.requestsLeft).toBe(97)
  })

  it('refuses a waiting call that can never fit once the key learns its budget', async () => {
    const { limiter } = limiterWith({ k: { concurrent: 1 } })
    const a = lease(limiter.tryTake('k', 0))
    const { holder, refused } = recorder()
    limiter.wait('k', 50_000, holder, 4, 0)
    limiter.observe(a, { limitTokens: 10_000, remainingTokens: 10_000, resetTokensMs: 0 })
    limiter.settle(a, undefined)
    await flush()
    expect(refused).toEqual([expect.stringMatching(/^4: its estimate of 50000 tokens is more than the key's whole token budget/)])
  })

  it('drops the waiters of a holder that left, and undoes a lease nobody used', async () => {
    const { limiter } = limiterWith({ k: { concurrent: 1 } })
    const a = lease(limiter.tryTake('k', 0))
    const { holder, granted } = recorder()
    limiter.wait('k', 0, holder, 1, 0)
    limiter.forget(holder)
    limiter.undo(a)
    await flush()
    expect(granted).toEqual([])
    expect(limiter.stats()[0]).toMatchObject({ inFlight: 0, waiting: 0 })
  })
})
