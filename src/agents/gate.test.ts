import { describe, expect, it } from 'vitest'
import { Gate } from './gate.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('Gate', () => {
  it('grants slots in acquire order, handing a released slot to the oldest waiter', async () => {
    const gate = new Gate(1)
    const order: number[] = []
    await gate.acquire()
    const waits = [1, 2, 3].map((n) => gate.acquire().then(() => order.push(n)))
    expect(gate.waiting).toBe(3)
    for (let i = 0; i < 3; i++) {
      gate.release()
      await tick()
    }
    await Promise.all(waits)
    expect(order).toEqual([1, 2, 3])
    expect(gate.used).toBe(1)
  })

  it('lets no late caller barge past waiters', async () => {
    const gate = new Gate(1)
    await gate.acquire()
    const first = gate.acquire()
    gate.release()
    // The slot went to `first`; a new caller must queue even though nobody "holds" it yet in user code.
    let lateGranted = false
    void gate.acquire().then(() => (lateGranted = true))
    await first
    await tick()
    expect(lateGranted).toBe(false)
  })

  it('removes an aborted waiter and rejects it with the signal reason', async () => {
    const gate = new Gate(1)
    await gate.acquire()
    const controller = new AbortController()
    const aborted = gate.acquire(controller.signal)
    const next = gate.acquire()
    controller.abort(new Error('gave up'))
    await expect(aborted).rejects.toThrow('gave up')
    expect(gate.waiting).toBe(1)
    gate.release()
    await next
    expect(gate.used).toBe(1)
  })

  it('rejects at once when the signal is already aborted', async () => {
    const gate = new Gate(1)
    await expect(gate.acquire(AbortSignal.abort(new Error('early')))).rejects.toThrow('early')
    expect(gate.used).toBe(0)
  })

  it('never makes anyone wait with an infinite capacity', async () => {
    const gate = new Gate(Infinity)
    await Promise.all([gate.acquire(), gate.acquire(), gate.acquire()])
    expect(gate.used).toBe(3)
    expect(gate.waiting).toBe(0)
  })

  it('throws on a release without an acquire', () => {
    expect(() => new Gate(1).release()).toThrow(/without a matching acquire/)
  })
})
