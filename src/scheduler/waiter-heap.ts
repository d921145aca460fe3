/**
 * The queue of requests waiting for a key's permit: a binary heap, higher priority first, then
 * first come first served (lower `seq`) — so waiting work keeps priority order per key and no
 * run starves another at equal priority. Shared by the keyed limiter and the rate limiter.
 * @module
 */

/** What the heap orders by. */
export interface Queued {
  readonly priority: number
  readonly seq: number
}

function before(a: Queued, b: Queued): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq
}

/** Adds `item` to `heap`. */
export function heapPush<T extends Queued>(heap: T[], item: T): void {
  heap.push(item)
  let at = heap.length - 1
  while (at > 0) {
    const parent = (at - 1) >> 1
    if (!before(heap[at] as T, heap[parent] as T)) break
    ;[heap[at], heap[parent]] = [heap[parent] as T, heap[at] as T]
    at = parent
  }
}

/** Removes and returns the first item of a non-empty `heap`. */
export function heapPop<T extends Queued>(heap: T[]): T {
  const top = heap[0] as T
  const last = heap.pop() as T
  if (heap.length > 0) {
    heap[0] = last
    let at = 0
    for (;;) {
      const left = 2 * at + 1
      const right = left + 1
      let best = at
      if (left < heap.length && before(heap[left] as T, heap[best] as T)) best = left
      if (right < heap.length && before(heap[right] as T, heap[best] as T)) best = right
      if (best === at) break
      ;[heap[at], heap[best]] = [heap[best] as T, heap[at] as T]
      at = best
    }
  }
  return top
}

/** Rebuilds `heap` without the items `drop` selects; true when any was dropped. */
export function heapRemove<T extends Queued>(heap: T[], drop: (item: T) => boolean): boolean {
  const kept = heap.filter((item) => !drop(item))
  if (kept.length === heap.length) return false
  heap.length = 0
  for (const item of kept) heapPush(heap, item)
  return true
}
