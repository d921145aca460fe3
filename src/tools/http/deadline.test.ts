import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startDeadline } from './deadline.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('startDeadline', () => {
  it('aborts with the timeout reason once timeoutMs has passed', () => {
    const reason = new Error('too slow')
    const deadline = startDeadline(new AbortController().signal, 1000, () => reason)
    vi.advanceTimersByTime(999)
    expect(deadline.signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(deadline.signal.reason).toBe(reason)
    expect(deadline.timedOut).toBe(true)
  })

  it("follows the caller's signal with the caller's reason", () => {
    const caller = new AbortController()
    const deadline = startDeadline(caller.signal, 1000, () => new Error('too slow'))
    const reason = new Error('cancelled')
    caller.abort(reason)
    expect(deadline.signal.reason).toBe(reason)
    expect(deadline.timedOut).toBe(false)
  })

  it('stops the timer and the listener when disposed', () => {
    const caller = new AbortController()
    const deadline = startDeadline(caller.signal, 1000, () => new Error('too slow'))
    deadline[Symbol.dispose]()
    vi.advanceTimersByTime(5000)
    caller.abort(new Error('late'))
    expect(deadline.signal.aborted).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })
})
