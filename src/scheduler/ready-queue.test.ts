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

describe('ReadyQueue bucket reuse', () => {
  it('refills an emptied bucket over its old entries without popping a stale one', () => {
    const n = 8
    const zeros = new Array<number>(n).fill(0)
    const seq = Array.from({ length: n }, (_, i) => i)
    const queue = new ReadyQueue({ priority: zeros, rank: zeros, seq })
    for (let i = 0; i < 6; i++) queue.push(i)
    for (let i = 0; i < 6; i++) expect(queue.pop()).toBe(i)
    // The bucket is empty with six old entries in its array: refill it, then hand back an older
    // entry that lands between the live ones (the ordered insert).
    queue.push(5)
    queue.push(7)
    queue.push(6)
    expect(queue.size).toBe(3)
    const out: number[] = []
    while (queue.size > 0) out.push(queue.pop())
    expect(out).toEqual([5, 6, 7])
    expect(queue.pop()).toBe(-1)
  })

  it('passes the array of a drained key to the next key that fills, layer after layer', () => {
    // Three layers of four tasks, each layer a rank of its own (the deeper, the lower).
    const n = 12
    const priority = new Array<number>(n).fill(0)
    const rank = Array.from({ length: n }, (_, i) => 3 - Math.floor(i / 4))
    const seq = Array.from({ length: n }, (_, i) => i)
    const queue = new ReadyQueue({ priority, rank, seq })
    const out: number[] = []
    for (let layer = 0; layer < 3; layer++) {
      for (let k = 0; k < 4; k++) queue.push(layer * 4 + k)
      // Half of the layer runs before the next one fills: two keys are live at once.
      if (layer > 0) while (queue.size > 4) out.push(queue.pop())
      out.push(queue.pop(), queue.pop())
    }
    while (queue.size > 0) out.push(queue.pop())
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
  })
})

describe('ReadyQueue against a reference', () => {
  it('pops in exactly the order of a sorted list under random pushes and pops', () => {
    let seed = 7
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const n = 5000
    const priority = Array.from({ length: n }, () => Math.floor(random() * 3))
    const rank = Array.from({ length: n }, () => Math.floor(random() * 4))
    const seq = Array.from({ length: n }, (_, i) => i)
    const queue = new ReadyQueue({ priority, rank, seq })
    const reference: number[] = []
    const better = (a: number, b: number): number => (priority[b]! - priority[a]!) || (rank[b]! - rank[a]!) || (seq[a]! - seq[b]!)
    const popped: number[] = []
    const expected: number[] = []
    let next = 0
    while (next < n || reference.length > 0) {
      // Bursts of pushes in order (a layer becoming ready) and at random, mixed with pops.
      const action = random()
      if (next < n && action < 0.6) {
        const burst = action < 0.3 ? 1 + Math.floor(random() * 50) : 1
        for (let k = 0; k < burst && next < n; k++, next++) {
          queue.push(next)
          reference.push(next)
        }
      } else if (reference.length > 0) {
        reference.sort(better)
        expected.push(reference.shift()!)
        expect(queue.peek()).toBe(expected.at(-1))
        popped.push(queue.pop())
      }
      expect(queue.size).toBe(reference.length)
    }
    expect(popped).toEqual(expected)
    expect(queue.pop()).toBe(-1)
  })

  it('keeps its order through removals and through emptying and refilling its heap of keys', () => {
    const n = 60
    const priority = Array.from({ length: n }, (_, i) => i % 3)
    const rank = Array.from({ length: n }, (_, i) => (i * 7) % 5)
    const seq = Array.from({ length: n }, (_, i) => i)
    const queue = new ReadyQueue({ priority, rank, seq })
    const order = (ids: number[]): number[] => [...ids].sort((a, b) => priority[b]! - priority[a]! || rank[b]! - rank[a]! || a - b)
    const drain = (): number[] => {
      const out: number[] = []
      while (queue.size > 0) out.push(queue.pop())
      return out
    }
    // Empty and refill the heap of keys several times: nothing stale comes back out.
    for (let round = 0; round < 3; round++) {
      const ids = seq.slice(round * 20, round * 20 + 20)
      for (const i of ids) queue.push(i)
      expect(drain()).toEqual(order(ids))
    }
    // Removal rebuilds the heap from the keys still holding entries; pushes after it keep the order.
    for (let i = 0; i < 30; i++) queue.push(i)
    const removed = queue.removeWhere((i) => priority[i] === 1 || rank[i] === 0)
    expect(removed.sort((a, b) => a - b)).toEqual(seq.slice(0, 30).filter((i) => priority[i] === 1 || rank[i] === 0))
    for (let i = 30; i < 40; i++) queue.push(i)
    const kept = seq.slice(0, 40).filter((i) => i >= 30 || !(priority[i] === 1 || rank[i] === 0))
    expect(drain()).toEqual(order(kept))
    expect(queue.pop()).toBe(-1)
    expect(queue.peek()).toBe(-1)
  })

  it('keeps FIFO order among tasks whose rank is NaN (a tool cost of NaN)', () => {
    const n = 12
    const queue = new ReadyQueue({ priority: new Array<number>(n).fill(0), rank: new Array<number>(n).fill(Number.NaN), seq: Array.from({ length: n }, (_, i) => i) })
    for (let i = 0; i < n; i++) queue.push(i)
    const popped: number[] = []
    while (queue.size > 0) popped.push(queue.pop())
    expect(popped).toEqual(Array.from({ length: n }, (_, i) => i))
  })

  it('keeps the order when entries come back out of order (handed back, moved from a group queue)', () => {
    let seed = 11
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const n = 3000
    const priority = Array.from({ length: n }, () => (random() < 0.1 ? 1 : 0))
    const rank = Array.from({ length: n }, () => Math.floor(random() * 3))
    const seq = Array.from({ length: n }, (_, i) => i)
    const queue = new ReadyQueue({ priority, rank, seq })
    const better = (a: number, b: number): number => (priority[b]! - priority[a]!) || (rank[b]! - rank[a]!) || (seq[a]! - seq[b]!)
    const reference: number[] = []
    // Entries arrive in a shuffled order; some popped entries are handed straight back.
    const arrival = Array.from({ length: n }, (_, i) => i).sort(() => random() - 0.5)
    for (const node of arrival) {
      queue.push(node)
      reference.push(node)
      if (random() < 0.3) {
        reference.sort(better)
        const popped = queue.pop()
        expect(popped).toBe(reference.shift())
        if (random() < 0.5) {
          queue.push(popped)
          reference.push(popped)
        }
      }
      if (random() < 0.01) {
        const gone = queue.removeWhere((i) => i % 7 === 0)
        for (const g of gone) reference.splice(reference.indexOf(g), 1)
        expect(gone.every((g) => g % 7 === 0)).toBe(true)
      }
      expect(queue.size).toBe(reference.length)
    }
    reference.sort(better)
    const rest: number[] = []
    while (queue.size > 0) rest.push(queue.pop())
    expect(rest).toEqual(reference)
  })
})
