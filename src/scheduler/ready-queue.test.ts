import { describe, expect, it } from 'vitest'
import { ReadyQueue } from './ready-queue.js'

describe('ReadyQueue', () => {
  it('pops by priority, then rank, then arrival order', () => {
    const priority = [0, 0, 5, 0, 5, 0]
    const rank = [1, 9, 1, 1, 3, 9]
    const seq = [0, 1, 2, 3, 4, 5]
    const queue = new ReadyQueue({ priority, rank, seq })
    for (const i of [0, 1, 2, 3, 4, 5]) queue.push(i)
    const order: number[] = []
    while (queue.size > 0) order.push(queue.pop())
    expect(order).toEqual([4, 2, 1, 5, 0, 3])
    expect(queue.pop()).toBe(-1)
  })

  it('keeps FIFO order among equal keys at scale and removes entries on demand', () => {
    const n = 10_000
    const zeros = new Array<number>(n).fill(0)
    const seq = Array.from({ length: n }, (_, i) => i)
    const queue = new ReadyQueue({ priority: zeros, rank: zeros, seq })
    for (let i = n - 1; i >= 0; i--) queue.push(i)
    expect(queue.removeWhere((i) => i % 2 === 1)).toHaveLength(n / 2)
    const out: number[] = []
    while (queue.size > 0) out.push(queue.pop())
    expect(out).toEqual(seq.filter((i) => i % 2 === 0))
  })
})
