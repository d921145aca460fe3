import { describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.js'
import { TaskweaveError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import { ManualClock } from '../testing/manual-clock.js'
import { LoadScaler } from './load-scaler.js'
import type { LoadScaledEvent, LoadScalerOptions } from './load-scaler.js'
import type { LoadProbe, LoadSample } from './load-probe.js'
import { SlotPool } from './slots.js'
import type { SlotWaiter } from './slots.js'

const HEALTHY: LoadSample = { eventLoopLagMs: 2, rssBytes: 100 }
const LAGGING: LoadSample = { eventLoopLagMs: 250, rssBytes: 100 }

/** A probe that plays back scripted readings, then reads healthy. */
class ScriptedProbe implements LoadProbe {
  readonly readings: LoadSample[] = []
  samples = 0
  closed = 0
  next(...readings: LoadSample[]): void {
    this.readings.push(...readings)
  }
  sample(): LoadSample {
    this.samples++
    return this.readings.shift() ?? HEALTHY
  }
  close(): void {
    this.closed++
  }
}

/** A scaler over a plain target, driven by a manual clock; `tick(n)` moves n intervals. */
function setup(capacity: number, options: Partial<LoadScalerOptions> = {}) {
  const clock = new ManualClock()
  const probe = new ScriptedProbe()
  const target = { capacity, setCapacity(n: number) { this.capacity = n } }
  const events: LoadScaledEvent[] = []
  const scaler = new LoadScaler({ target, max: capacity, clock, probe, onChange: (e) => events.push(e), ...options })
  scaler.start()
  const intervalMs = options.intervalMs ?? 1000
  const tick = (n = 1): void => clock.advance(n * intervalMs)
  return { clock, probe, target, events, scaler, tick }
}

describe('LoadScaler', () => {
  it('halves capacity when the event loop lags past its bound, and says why', () => {
    const { probe, target, events, scaler, tick } = setup(8)
    probe.next(LAGGING)
    tick()
    expect(target.capacity).toBe(4)
    expect(events).toEqual([{ from: 8, to: 4, reason: 'event-loop-lag', eventLoopLagMs: 250, rssBytes: 100 }])
    expect(scaler.stats()).toEqual({ capacity: 4, min: 1, max: 8, lastLagMs: 250, lastRssBytes: 100, decreases: 1, increases: 0 })
  })

  it('reads nothing before the first interval has passed', () => {
    const { probe, clock, scaler } = setup(8)
    clock.advance(999)
    expect(probe.samples).toBe(0)
    expect(scaler.stats().lastLagMs).toBeUndefined()
    clock.advance(1)
    expect(probe.samples).toBe(1)
  })

  it('keeps halving while the lag lasts, never below min', () => {
    const { probe, target, events, scaler, tick } = setup(16, { min: 3 })
    probe.next(LAGGING, LAGGING, LAGGING, LAGGING, LAGGING)
    tick(5)
    expect(target.capacity).toBe(3)
    expect(events.map((e) => [e.from, e.to])).toEqual([[16, 8], [8, 4], [4, 3]])
    expect(scaler.stats().decreases).toBe(3)
  })

  it('lowers capacity when RSS passes maxRssBytes, and names memory when both bounds are passed', () => {
    const { probe, target, events, tick } = setup(10, { maxRssBytes: 1_000 })
    probe.next({ eventLoopLagMs: 1, rssBytes: 1_001 }, { eventLoopLagMs: 500, rssBytes: 5_000 })
    tick(2)
    expect(target.capacity).toBe(2)
    expect(events.map((e) => [e.reason, e.to])).toEqual([['memory', 5], ['memory', 2]])
  })

  it('ignores RSS when no maxRssBytes is given', () => {
    const { probe, target, events, tick } = setup(10)
    probe.next({ eventLoopLagMs: 1, rssBytes: 64 * 2 ** 30 })
    tick()
    expect(target.capacity).toBe(10)
    expect(events).toEqual([])
  })

  it('uses decreaseFactor, flooring the product', () => {
    const { probe, target, tick } = setup(10, { decreaseFactor: 0.75 })
    probe.next(LAGGING, LAGGING)
    tick(2)
    expect(target.capacity).toBe(5) // 10 → 7 → 5
  })

  it('adds increaseStep after N healthy intervals in a row, up to max', () => {
    const { probe, target, events, scaler, tick } = setup(9, { min: 1, healthyIntervalsBeforeRaise: 3, increaseStep: 2 })
    probe.next(LAGGING, LAGGING) // 9 → 4 → 2
    tick(2)
    tick(2)
    expect(target.capacity).toBe(2) // two healthy intervals are not enough
    tick()
    expect(target.capacity).toBe(4)
    tick(3)
    expect(target.capacity).toBe(6)
    tick(6)
    expect(target.capacity).toBe(9) // 8, then clamped to max
    tick(9)
    expect(target.capacity).toBe(9)
    expect(events.filter((e) => e.reason === 'healthy').map((e) => [e.from, e.to])).toEqual([[2, 4], [4, 6], [6, 8], [8, 9]])
    expect(scaler.stats()).toMatchObject({ decreases: 2, increases: 4 })
  })

  it('steps by a tenth of max (at least one) by default', () => {
    const { probe, target, tick } = setup(64, { healthyIntervalsBeforeRaise: 1 })
    probe.next(LAGGING)
    tick()
    expect(target.capacity).toBe(32)
    tick()
    expect(target.capacity).toBe(39)
    const small = setup(4, { healthyIntervalsBeforeRaise: 1 })
    small.probe.next(LAGGING)
    small.tick(2)
    expect(small.target.capacity).toBe(3)
  })

  it('starts the healthy count again after an overloaded interval', () => {
    const { probe, target, tick } = setup(8, { healthyIntervalsBeforeRaise: 3 })
    probe.next(LAGGING, HEALTHY, HEALTHY, LAGGING, HEALTHY, HEALTHY)
    tick(6)
    expect(target.capacity).toBe(2)
    tick()
    expect(target.capacity).toBe(3)
  })

  it('reports no event when a reading changes nothing', () => {
    const { probe, target, events, scaler, tick } = setup(4, { min: 4 })
    probe.next(LAGGING, LAGGING)
    tick(10) // lag at the floor, then healthy at the ceiling
    expect(target.capacity).toBe(4)
    expect(events).toEqual([])
    expect(scaler.stats()).toMatchObject({ decreases: 0, increases: 0, lastLagMs: HEALTHY.eventLoopLagMs })
  })

  it('decides nothing on a reading that is not a number', () => {
    const { probe, target, events, tick } = setup(8)
    probe.next({ eventLoopLagMs: Number.NaN, rssBytes: 1 }, { eventLoopLagMs: 1, rssBytes: Number.POSITIVE_INFINITY })
    tick(2)
    expect(target.capacity).toBe(8)
    expect(events).toEqual([])
  })

  it('stop() clears the timer and start() arms it again', () => {
    const { probe, clock, scaler, tick } = setup(8)
    expect(clock.pendingTimers).toBe(1)
    scaler.start() // idempotent: still one timer
    expect(clock.pendingTimers).toBe(1)
    tick()
    expect(probe.samples).toBe(1)
    scaler.stop()
    expect(scaler.isRunning).toBe(false)
    expect(clock.pendingTimers).toBe(0)
    tick(5)
    expect(probe.samples).toBe(1)
    expect(probe.closed).toBe(0) // a given probe belongs to the caller
    scaler.start()
    tick()
    expect(probe.samples).toBe(2)
    scaler[Symbol.dispose]()
    expect(clock.pendingTimers).toBe(0)
  })

  it('may be stopped from its own onChange', () => {
    const clock = new ManualClock()
    const probe = new ScriptedProbe()
    probe.next(LAGGING, LAGGING)
    const target = new SlotPool(8)
    const scaler: LoadScaler = new LoadScaler({ target, max: 8, clock, probe, onChange: () => scaler.stop() })
    scaler.start()
    clock.advance(5_000)
    expect(target.capacity).toBe(4)
    expect(clock.pendingTimers).toBe(0)
  })

  it('keeps scaling when onChange or the probe throws, and logs each failure', () => {
    const logged: string[] = []
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m) => logged.push(m), child: () => logger }
    const clock = new ManualClock()
    let calls = 0
    const probe: LoadProbe = {
      sample: () => {
        if (++calls === 1) throw new Error('no /proc')
        return LAGGING
      },
    }
    const target = new SlotPool(8)
    const scaler = new LoadScaler({ target, max: 8, clock, probe, logger, onChange: () => { throw new Error('listener bug') } })
    scaler.start()
    clock.advance(3_000)
    expect(target.capacity).toBe(2) // first reading failed; the next two halved
    expect(logged).toEqual(['load probe failed; capacity left as it is', 'load scaler onChange listener failed', 'load scaler onChange listener failed'])
    scaler.stop()
  })

  it('setMax lowers a capacity above the new ceiling at once, without an event, and a raised ceiling is climbed to', () => {
    const { target, events, scaler, tick } = setup(8, { healthyIntervalsBeforeRaise: 1, increaseStep: 2 })
    scaler.setMax(5)
    expect(target.capacity).toBe(5)
    expect(events).toEqual([])
    scaler.setMax(9)
    tick(2)
    expect(target.capacity).toBe(9)
    expect(() => scaler.setMax(0)).toThrow(/option "max"/)
  })

  it('drives a SlotPool: a cut revokes no held slot, and a raise wakes waiters', async () => {
    const clock = new ManualClock()
    const probe = new ScriptedProbe()
    const pool = new SlotPool(4)
    const granted: string[] = []
    const waiter = (name: string): SlotWaiter => ({ grant: () => (granted.push(name), true) })
    for (let i = 0; i < 4; i++) expect(pool.tryAcquire(waiter('held'))).toBe(true)
    const late = waiter('late')
    expect(pool.tryAcquire(late)).toBe(false)
    const scaler = new LoadScaler({ target: pool, max: 4, clock, probe, healthyIntervalsBeforeRaise: 1, increaseStep: 4 })
    scaler.start()
    probe.next(LAGGING)
    clock.advance(1_000)
    expect(pool.capacity).toBe(2)
    expect(pool.used).toBe(4) // nothing interrupted
    pool.release()
    pool.release()
    await Promise.resolve()
    expect(granted).toEqual([]) // 2 held of 2: the freed slots are not granted again
    clock.advance(1_000) // healthy: back to 4
    await Promise.resolve()
    expect(pool.capacity).toBe(4)
    expect(granted).toEqual(['late'])
    expect(pool.used).toBe(3)
    scaler.stop()
  })

  it('on the system clock, never keeps the process alive', () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const probe = new ScriptedProbe()
    const scaler = new LoadScaler({ target: new SlotPool(2), max: 2, clock: systemClock, probe })
    scaler.start()
    try {
      expect(scaler.isRunning).toBe(true)
      // Unref'd timers are not among the resources that keep the loop alive.
      expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before)
    } finally {
      scaler.stop()
    }
  })

  it('creates and closes a default probe of its own when given none', () => {
    const scaler = new LoadScaler({ target: new SlotPool(2), max: 2, clock: new ManualClock() })
    scaler.start()
    scaler.stop()
    scaler.stop()
    expect(scaler.isRunning).toBe(false)
  })

  it.each([
    ['min', { min: 0 }],
    ['min', { min: 1.5 }],
    ['max', { max: Number.POSITIVE_INFINITY }],
    ['max', { min: 5, max: 4 }],
    ['maxEventLoopLagMs', { maxEventLoopLagMs: 0 }],
    ['maxRssBytes', { maxRssBytes: -1 }],
    ['intervalMs', { intervalMs: 0 }],
    ['intervalMs', { intervalMs: Number.NaN }],
    ['healthyIntervalsBeforeRaise', { healthyIntervalsBeforeRaise: 0 }],
    ['decreaseFactor', { decreaseFactor: 1 }],
    ['decreaseFactor', { decreaseFactor: 0 }],
    ['increaseStep', { increaseStep: 0.5 }],
  ] as const)('refuses a bad %s', (name, bad) => {
    const make = (): LoadScaler => new LoadScaler({ target: new SlotPool(4), max: 4, probe: new ScriptedProbe(), ...bad })
    expect(make).toThrow(TaskweaveError)
    expect(make).toThrow(new RegExp(`option "${name}"`))
  })
})
