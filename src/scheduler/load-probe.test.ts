import { describe, expect, it } from 'vitest'
import { createLoadProbe } from './load-probe.js'

/** Blocks the event loop for `ms` of real time. */
function busy(ms: number): void {
  const start = performance.now()
  while (performance.now() - start < ms) {
    // spin: the stall is the point
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// The only tests here on real time: what they measure is the real event loop. Bounds are loose
// (a 150 ms stall must read over 50 ms) so a slow or loaded machine cannot make them flake.
describe('createLoadProbe (real event loop)', () => {
  it('returns finite, non-negative numbers', async () => {
    const probe = createLoadProbe()
    try {
      await pause(30)
      const { eventLoopLagMs, rssBytes } = probe.sample()
      expect(Number.isFinite(eventLoopLagMs) && eventLoopLagMs >= 0).toBe(true)
      expect(Number.isFinite(rssBytes) && rssBytes > 0).toBe(true)
    } finally {
      probe.close()
    }
  })

  it('reads a 150 ms stall in the middle of an interval as lag over 50 ms', async () => {
    const probe = createLoadProbe()
    try {
      await pause(30)
      probe.sample()
      await pause(30)
      busy(150)
      await pause(20)
      expect(probe.sample().eventLoopLagMs).toBeGreaterThan(50)
    } finally {
      probe.close()
    }
  })

  it('reads a stall that starts right after a sample, which the histogram alone misses after reset()', async () => {
    const probe = createLoadProbe()
    try {
      await pause(30)
      probe.sample()
      busy(150)
      await pause(20)
      expect(probe.sample().eventLoopLagMs).toBeGreaterThan(50)
    } finally {
      probe.close()
    }
  })

  it('refuses a resolution the histogram cannot take, and closes idempotently', () => {
    expect(() => createLoadProbe({ resolutionMs: 0 })).toThrow(/option "resolutionMs"/)
    expect(() => createLoadProbe({ resolutionMs: 2.5 })).toThrow(/option "resolutionMs"/)
    const probe = createLoadProbe({ resolutionMs: 20 })
    probe.close()
    probe.close()
  })
})
