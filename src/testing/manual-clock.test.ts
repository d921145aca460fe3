import { describe, expect, it } from 'vitest'
import { ManualClock } from './manual-clock.js'
import { sleep } from '../core/clock.js'

describe('ManualClock', () => {
  it('fires due timers in time order, FIFO among equal times, and skips cancelled ones', () => {
    const clock = new ManualClock(1000)
    const fired: string[] = []
    clock.setTimer(50, () => fired.push('b'))
    clock.setTimer(10, () => fired.push('a'))
    const cancel = clock.setTimer(20, () => fired.push('never'))
    clock.setTimer(50, () => fired.push('c'))
    cancel()
    clock.advance(49)
    expect(fired).toEqual(['a'])
    expect(clock.now()).toBe(1049)
    clock.advance(1)
    expect(fired).toEqual(['a', 'b', 'c'])
    expect(clock.pendingTimers).toBe(0)
  })

  it('drives async code that waits on it until it settles', async () => {
    const clock = new ManualClock()
    const work = (async () => {
      await sleep(clock, 3_600_000)
      await sleep(clock, 60_000)
      return clock.now()
    })()
    await expect(clock.runUntilSettled(work)).resolves.toBe(3_660_000)
  })

  it('rejects a sleep when its signal aborts', async () => {
    const clock = new ManualClock()
    const controller = new AbortController()
    const waiting = sleep(clock, 1000, controller.signal)
    controller.abort(new Error('stop'))
    await expect(waiting).rejects.toThrow('stop')
    expect(clock.nextDue()).toBeUndefined()
  })
})
