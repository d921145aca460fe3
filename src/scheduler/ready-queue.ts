/**
 * The ready queue: task indices ordered by `priority` (higher first), then rank (longest remaining
 * critical path first), then FIFO by the order tasks became ready.
 *
 * Two structures hold the entries: a sorted run (entries pushed in queue order, the common case when
 * a whole layer of equal tasks becomes ready, consumed from its head in O(1)) and a binary heap for
 * entries that arrive out of order. `pop` takes the better of the two heads, so the order is exactly
 * the heap's order. Pure: no timers, no I/O, no allocation per entry beyond array growth.
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
  /** Entries in queue order; the live ones are `#run[#runHead…]`. */
  #run: number[] = []
  #runHead = 0
  readonly #keys: ReadyKeys

  constructor(keys: ReadyKeys) {
    this.#keys = keys
  }

  /** Number of queued entries. */
  get size(): number {
    return this.#heap.length + this.#run.length - this.#runHead
  }

  /** Adds a task index. */
  push(node: number): void {
    const run = this.#run
    if (this.#runHead === run.length) {
      if (run.length > 0) {
        run.length = 0
        this.#runHead = 0
      }
      run.push(node)
      return
    }
    if (!this.#before(node, run[run.length - 1] as number)) {
      run.push(node)
      return
    }
    this.#heapPush(node)
  }

  /** Removes and returns the first task index, or -1 when empty. */
  pop(): number {
    const run = this.#run
    const head = this.#runHead
    if (head < run.length) {
      const candidate = run[head] as number
      if (this.#heap.length === 0 || !this.#before(this.#heap[0] as number, candidate)) {
        this.#runHead = head + 1
        // Drop the consumed prefix now and then, so a run that never empties does not grow forever.
        if (this.#runHead > 1024 && this.#runHead * 2 > run.length) {
          this.#run = run.slice(this.#runHead)
          this.#runHead = 0
        }
        return candidate
      }
    }
    return this.#heapPop()
  }

  /** The first task index without removing it, or -1. */
  peek(): number {
    const head = this.#runHead < this.#run.length ? (this.#run[this.#runHead] as number) : -1
    const top = this.#heap.length > 0 ? (this.#heap[0] as number) : -1
    if (head < 0) return top
    if (top < 0) return head
    return this.#before(top, head) ? top : head
  }

  /** Removes every entry for which `drop` is true (used by cancellation). */
  removeWhere(drop: (node: number) => boolean): number[] {
    const kept: number[] = []
    const removed: number[] = []
    for (const node of this.#heap) (drop(node) ? removed : kept).push(node)
    for (let i = this.#runHead; i < this.#run.length; i++) {
      const node = this.#run[i] as number
      ;(drop(node) ? removed : kept).push(node)
    }
    this.#heap.length = 0
    this.#run = []
    this.#runHead = 0
    for (const node of kept) this.#heapPush(node)
    return removed
  }

  #heapPush(node: number): void {
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

  #heapPop(): number {
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
