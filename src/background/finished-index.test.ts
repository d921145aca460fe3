import { describe, expect, it } from 'vitest'
import { ManualClock } from '../testing/manual-clock.js'
import { FinishedIndex } from './finished-index.js'

describe('FinishedIndex', () => {
  it('evicts entries when their TTL elapses, with one timer for all of them', () => {
    const clock = new ManualClock()
    const evicted: string[] = []
    const index = new FinishedIndex(clock, 1000, 100, (id) => evicted.push(id))
    index.add('a')
    clock.advance(400)
    index.add('b')
    index.add('c')
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
    const index = new FinishedIndex(new ManualClock(), Infinity, 2, (id) => evicted.push(id))
    for (const id of ['a', 'b', 'c', 'd']) index.add(id)
    expect(evicted).toEqual(['a', 'b'])
    expect(index.size).toBe(2)
  })

  it('forgets deleted ids without reporting them, and stops on close', () => {
    const clock = new ManualClock()
    const evicted: string[] = []
    const index = new FinishedIndex(clock, 10, 5, (id) => evicted.push(id))
    index.add('a')
    index.add('b')
    index.delete('a')
    clock.advance(10)
    expect(evicted).toEqual(['b'])
    index.add('c')
    index.close()
    index.add('d')
    clock.advance(100)
    expect(evicted).toEqual(['b'])
    expect(clock.pendingTimers).toBe(0)
  })
})
