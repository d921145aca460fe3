/**
 * The ready queue: a binary heap of task slots ordered by `priority` (higher first), then rank
 * (longest remaining critical path first), then FIFO by the order tasks became ready.
 * Pure: no timers, no I/O. Entries are small integers (task indices) so the heap does no allocation
 * per push beyond array growth.
 * @module
 */

/** Keys the queue orders by, looked up per entry. */
export interface ReadyKeys {
  readonly priority: ArrayLike<number>
  readonly rank: ArrayLike<number>
  readonly seq: ArrayLike<number>
}

/** A heap of task indices. */
export class ReadyQueue {
  readonly #heap: number[] = []
  readonly #keys: ReadyKeys

  constructor(keys: ReadyKeys) {
    this.#keys = keys
  }

  /** Number of queued entries. */
  get size(): number {
    return this.#heap.length
  }

  /** Adds a task index. */
  push(node: number): void {
    const heap = this.#heap
    heap.push(node)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent] as number
      if (!this.#before(node, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = node
  }

  /** Removes and returns the first task index, or -1 when empty. */
  pop(): number {
    const heap = this.#heap
    const n = heap.length
    if (n === 0) return -1
    const top = heap[0] as number
    const last = heap.pop() as number
    if (n > 1) {
      const size = n - 1
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        if (left >= size) break
        const right = left + 1
        let child = left
        if (right < size && this.#before(heap[right] as number, heap[left] as number)) child = right
        const c = heap[child] as number
        if (!this.#before(c, last)) break
        heap[i] = c
        i = child
      }
      heap[i] = last
    }
    return top
  }

  /** The first task index without removing it, or -1. */
  peek(): number {
    return this.#heap.length > 0 ? (this.#heap[0] as number) : -1
  }

  /** Removes every entry for which `drop` is true (used by cancellation). */
  removeWhere(drop: (node: number) => boolean): number[] {
    const kept: number[] = []
    const removed: number[] = []
    for (const node of this.#heap) (drop(node) ? removed : kept).push(node)
    this.#heap.length = 0
    for (const node of kept) this.push(node)
    return removed
  }

  #before(a: number, b: number): boolean {
    const { priority, rank, seq } = this.#keys
    const pa = priority[a] as number
    const pb = priority[b] as number
    if (pa !== pb) return pa > pb
    const ra = rank[a] as number
    const rb = rank[b] as number
    if (ra !== rb) return ra > rb
    return (seq[a] as number) < (seq[b] as number)
  }
}
