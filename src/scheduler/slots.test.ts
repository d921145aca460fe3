import { describe, expect, it } from 'vitest'
import { SlotPool } from './slots.js'
import type { SlotWaiter } from './slots.js'

describe('SlotPool', () => {
  it('serves waiting runs in turn, on a microtask, so none starves', async () => {
    const pool = new SlotPool(1)
    const served: string[] = []
    const waiter = (name: string, wants: { n: number }): SlotWaiter => ({
      grant: () => {
        if (wants.n === 0) return false
        wants.n--
        served.push(name)
        queueMicrotask(() => {
          pool.release()
          if (wants.n > 0) pool.tryAcquire(self[name]!)
        })
        return true
      },
    })
    const self: Record<string, SlotWaiter> = {}
    self['a'] = waiter('a', { n: 3 })
    self['b'] = waiter('b', { n: 3 })
    expect(pool.tryAcquire(self['a'])).toBe(true) // free and nobody waits
    expect(pool.tryAcquire(self['b'])).toBe(false)
    expect(pool.tryAcquire(self['a'])).toBe(false)
    pool.release()
    for (let i = 0; i < 20; i++) await Promise.resolve()
    expect(served).toEqual(['b', 'a', 'b', 'a', 'b', 'a'])
    expect(pool.used).toBe(0)
  })

  it('takes back a granted slot the waiter has no use for', async () => {
    const pool = new SlotPool(1)
    const idle: SlotWaiter = { grant: () => false }
    const holder: SlotWaiter = { grant: () => true }
    pool.tryAcquire(holder)
    pool.tryAcquire(idle)
    pool.release()
    await Promise.resolve()
    expect(pool.used).toBe(0)
  })

  it('lowering capacity revokes no held slot: freed slots are not granted again until fewer are held', async () => {
    const pool = new SlotPool(3)
    const granted: string[] = []
    const holder: SlotWaiter = { grant: () => true }
    const waiter: SlotWaiter = { grant: () => (granted.push('w'), true) }
    for (let i = 0; i < 3; i++) expect(pool.tryAcquire(holder)).toBe(true)
    pool.setCapacity(1)
    expect(pool.used).toBe(3)
    expect(pool.tryAcquire(waiter)).toBe(false)
    pool.release()
    pool.release()
    await Promise.resolve()
    expect(granted).toEqual([]) // 1 held of 1
    pool.release()
    await Promise.resolve()
    expect(granted).toEqual(['w'])
    expect(pool.used).toBe(1)
  })

  it('raising capacity wakes waiters at once, up to the new capacity', async () => {
    const pool = new SlotPool(1)
    const granted: string[] = []
    const waiter = (name: string): SlotWaiter => ({ grant: () => (granted.push(name), true) })
    expect(pool.tryAcquire(waiter('a'))).toBe(true)
    for (const name of ['b', 'c', 'd']) expect(pool.tryAcquire(waiter(name))).toBe(false)
    pool.setCapacity(3)
    await Promise.resolve()
    expect(granted).toEqual(['b', 'c'])
    expect(pool.used).toBe(3)
    expect(pool.tryAcquire(waiter('e'))).toBe(false) // full, and d still waits ahead
  })
  it('serves a long line first come first, across the cut of its served front, and forgets a waiter anywhere in it', async () => {
    const pool = new SlotPool(1)
    const served: number[] = []
    const waiters: SlotWaiter[] = []
    for (let i = 0; i < 300; i++) {
      waiters.push({
        grant: () => {
          served.push(i)
          // Each holds its slot until the next microtask, so the line is served one by one.
          queueMicrotask(() => pool.release())
          return true
        },
      })
    }
    const holder: SlotWaiter = { grant: () => true }
    expect(pool.tryAcquire(holder)).toBe(true)
    for (const w of waiters) expect(pool.tryAcquire(w)).toBe(false)
    pool.forget(waiters[5] as SlotWaiter)
    pool.release()
    for (let i = 0; i < 10_000 && served.length < 200; i++) await Promise.resolve()
    expect(served.length).toBe(200)
    // Past the point where the served front is cut off: a forget and a newcomer still land right.
    pool.forget(waiters[250] as SlotWaiter)
    const late: SlotWaiter = { grant: () => (served.push(1000), queueMicrotask(() => pool.release()), true) }
    expect(pool.tryAcquire(late)).toBe(false)
    for (let i = 0; i < 1000; i++) await Promise.resolve()
    const expected = [...Array.from({ length: 300 }, (_, i) => i).filter((i) => i !== 5 && i !== 250), 1000]
    expect(served).toEqual(expected)
    expect(pool.used).toBe(0)
    expect(waiters[250]?.inSlotLine).toBe(false)
  })
})
