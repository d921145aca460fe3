import { afterEach, describe, expect, it, vi } from 'vitest'
import { MAX_TIMER_MS, systemClock } from '../core/clock.js'
import { ManualClock } from '../testing/manual-clock.js'
import { FinishedIndex } from './finished-index.js'

interface Item {
  readonly id: string
  inFinishedIndex: boolean
}

/** Records named by id, one per name (the index holds records, not ids). */
function items(): (id: string) => Item {
  const made = new Map<string, Item>()
  return (id) => {
    let item = made.get(id)
    if (item === undefined) made.set(id, (item = { id, inFinishedIndex: false }))
    return item
  }
}

describe('FinishedIndex', () => {
  it('evicts entries when their TTL elapses, with one timer for all of them', () => {
    const clock = new ManualClock()
    const evicted: string[] = []
    const item = items()
    const index = new FinishedIndex(clock, 1000, 100, (evictedItem: Item) => evicted.push(evictedItem.id))
    index.add(item('a'))
    clock.advance(400)
    index.add(item('b'))
    index.add(item('c'))
    expect(clock.pendingTimers).toBe(1)
    clock.advance(600)
    expect(evicted).toEqual(['a'])
    clock.advance(399)
    expect(evicted).toEqual(['a'])
    clock.advance(1)
    expect(evicted).toEqual(['a', 'b', 'c'])
    expect(index.size).toBe(0)
    expect(clock.pendingTimers).toBe(0)
  })

  it('evicts the oldest first beyond its bound', () => {
    const evicted: string[] = []
    const item = items()
    const index = new FinishedIndex(new ManualClock(), Infinity, 2, (evictedItem: Item) => evicted.push(evictedItem.id))
    for (const id of ['a', 'b', 'c', 'd']) index.add(item(id))
    expect(evicted).toEqual(['a', 'b'])
    expect(index.size).toBe(2)
  })

  it('forgets deleted ids without reporting them, and stops on close', () => {
    const clock = new ManualClock()
    const evicted: string[] = []
    const item = items()
    const index = new FinishedIndex(clock, 10, 5, (evictedItem: Item) => evicted.push(evictedItem.id))
    index.add(item('a'))
    index.add(item('b'))
    index.delete(item('a'))
    clock.advance(10)
    expect(evicted).toEqual(['b'])
    index.add(item('c'))
    index.close()
    index.add(item('d'))
    clock.advance(100)
    expect(evicted).toEqual(['b'])
    expect(clock.pendingTimers).toBe(0)
  })

  it('evicts through its bound in constant time per add, however many evictions came before', () => {
    // A Map iterated from its start walks every entry deleted before it: evicting through a
    // 10,000 bound cost ~15 µs per add. Compared with a plain Set doing the same adds and deletes,
    // so the check holds on a slow or loaded machine.
    const n = 200_000
    const ids = Array.from({ length: n }, (_, i) => `c:task:${i}`)
    const records = ids.map((id): Item => ({ id, inFinishedIndex: false }))
    const baseline = (): number => {
      const start = performance.now()
      const set = new Set<string>()
      for (let i = 0; i < n; i++) {
        set.add(ids[i] as string)
        if (i >= 10_000) set.delete(ids[i - 10_000] as string)
      }
      return performance.now() - start
    }
    const indexed = (): number => {
      const start = performance.now()
      const index = new FinishedIndex<Item>(new ManualClock(), Infinity, 10_000, () => {})
      for (const record of records) record.inFinishedIndex = false
      for (let i = 0; i < n; i++) index.add(records[i] as Item)
      return performance.now() - start
    }
    baseline()
    indexed() // warm both up
    expect(indexed()).toBeLessThan(8 * baseline() + 20)
  })

  describe('a TTL past 2^31 ms', () => {
    const thirtyDays = 30 * 24 * 3600 * 1000
    afterEach(() => {
      vi.useRealTimers()
      vi.restoreAllMocks()
    })

    it('on the system clock: one unref\'d timer chain, no re-arm loop, eviction after 30 days', () => {
      vi.useFakeTimers()
      // systemClock.now is bound to the real performance.now at load: read the faked one instead.
      vi.spyOn(systemClock, 'now').mockImplementation(() => performance.now())
      const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout')
      const evicted: string[] = []
      const item = items()
      const index = new FinishedIndex(systemClock, thirtyDays, 10, (evictedItem: Item) => evicted.push(evictedItem.id))
      index.add(item('a'))
      vi.advanceTimersByTime(1000)
      expect(evicted).toEqual([])
      expect(setTimeoutSpy.mock.calls.length).toBe(1) // a spinning sweep re-arms every millisecond
      expect(setTimeoutSpy.mock.calls.every(([, ms]) => (ms ?? 0) <= MAX_TIMER_MS)).toBe(true)
      vi.advanceTimersByTime(thirtyDays)
      expect(evicted).toEqual(['a'])
      index.close()
    })

    it('on an injected clock: never asks it for more than MAX_TIMER_MS, so a setTimeout-based clock cannot spin', () => {
      const manual = new ManualClock()
      const requests: number[] = []
      const clock = {
        now: () => manual.now(),
        wallNow: () => manual.wallNow(),
        setTimer: (ms: number, fn: () => void) => {
          requests.push(ms)
          return manual.setTimer(ms > MAX_TIMER_MS ? 1 : ms, fn) // setTimeout semantics
        },
      }
      const evicted: string[] = []
      const item = items()
      const index = new FinishedIndex(clock, thirtyDays, 10, (evictedItem: Item) => evicted.push(evictedItem.id))
      index.add(item('a'))
      manual.advance(1000)
      expect(requests).toHaveLength(1)
      manual.advance(thirtyDays)
      expect(evicted).toEqual(['a'])
      expect(Math.max(...requests)).toBeLessThanOrEqual(MAX_TIMER_MS)
    })
  })
})
