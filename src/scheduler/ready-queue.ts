/**
 * The ready queue: task indices ordered by `priority` (higher first), then rank (longest remaining
 * critical path first), then FIFO by the order tasks became ready (`seq`).
 *
 * Tasks with the same priority and rank share a bucket, a FIFO list; a small binary heap orders
 * the non-empty buckets. Large workflows have few distinct keys (tasks of one tool at the same
 * depth of the graph share a rank), so a push or pop usually touches one array and no heap at all,
 * where a heap of tasks would sift through a dozen levels. Pure: no timers, no I/O.
 * @module
 */

/** Keys the queue orders by, looked up per entry; they must not change while an entry is queued. */
export interface ReadyKeys {
  readonly priority: ArrayLike<number>
  readonly rank: ArrayLike<number>
  readonly seq: ArrayLike<number>
}

/**
 * The entries of one (priority, rank) key, oldest first: the live ones are `items[head…tail)`.
 * An emptied bucket starts again at 0 over the same array: shortening it would give its storage
 * back, and refilling it would allocate that storage again, for every layer of a large workflow.
 */
class Bucket {
  items: number[] = []
  head = 0
  tail = 0
  constructor(
    readonly priority: number,
    readonly rank: number,
  ) {}

  get isEmpty(): boolean {
    return this.head === this.tail
  }

  /** Appends an entry after the live ones. */
  append(node: number): void {
    if (this.tail === this.items.length) this.items.push(node)
    else this.items[this.tail] = node
    this.tail++
  }
}

/**
 * A bucket of no entries, for code that keeps one object of the class alive so that its shape
 * outlives the runs (see `engine/shape-anchors.ts`). Its rank is fractional, as measured costs make ranks.
 */
export function bucketExample(): object {
  return new Bucket(0, 0.5)
}

/** Buckets looked up by a linear search before the queue makes its maps. */
const FEW_BUCKETS = 8

/** Ready task indices in queue order. */
export class ReadyQueue {
  readonly #keys: ReadyKeys
  /**
   * Buckets made so far (kept once made: a key that empties usually fills again): the first few
   * in a list searched in turn (a small run has a handful of keys, and two maps per run cost more
   * than the search), then by priority, then rank.
   */
  readonly #few: Bucket[] = []
  #buckets: Map<number, Map<number, Bucket>> | undefined
  /**
   * Non-empty buckets, a binary heap in `#heap[0…#heapSize)`: higher priority, then higher rank, on
   * top. Written by index rather than pushed and popped: in code V8 has not optimized yet, a
   * fast array popped empty drops its storage and the next push allocates it again, once or more
   * per run.
   */
  readonly #heap: (Bucket | undefined)[] = []
  #heapSize = 0
  /** The bucket of the last push: consecutive pushes mostly share a key. */
  #last: Bucket | undefined
  /**
   * The array of the last bucket that emptied, for the next one that fills: in a layered graph
   * every layer has a key of its own, filled once and drained once, and one array passed along
   * saves growing a new one per layer.
   */
  #spare: number[] | undefined
  #size = 0

  constructor(keys: ReadyKeys) {
    this.#keys = keys
  }

  /** Number of queued entries. */
  get size(): number {
    return this.#size
  }

  /** Adds a task index. */
  push(node: number): void {
    const keys = this.#keys
    const priority = keys.priority[node] as number
    const rank = keys.rank[node] as number
    let bucket = this.#last
    if (bucket === undefined || bucket.rank !== rank || bucket.priority !== priority) {
      bucket = this.#bucketOf(priority, rank)
      this.#last = bucket
    }
    if (bucket.isEmpty) {
      bucket.head = bucket.tail = 0
      if (bucket.items.length === 0 && this.#spare !== undefined) {
        bucket.items = this.#spare
        this.#spare = undefined
      }
      bucket.append(node)
      this.#heapPush(bucket)
    } else if ((keys.seq[node] as number) > (keys.seq[bucket.items[bucket.tail - 1] as number] as number)) {
      bucket.append(node)
    } else {
      // Older than the newest entry (a task handed back or moved from its group's queue): keep FIFO.
      insertBySeq(bucket, node, keys.seq)
    }
    this.#size++
  }

  /** Removes and returns the first task index, or -1 when empty. */
  pop(): number {
    if (this.#size === 0) return -1
    const bucket = this.#heap[0] as Bucket
    const node = bucket.items[bucket.head++] as number
    if (bucket.isEmpty) {
      this.#heapPopTop()
      if (this.#spare === undefined || bucket.items.length > this.#spare.length) {
        this.#spare = bucket.items
        bucket.items = []
      }
    }
    else if (bucket.head > 1024 && bucket.head * 2 > bucket.tail) {
      // Drop the consumed prefix now and then, so a bucket that never empties does not grow forever.
      bucket.items = bucket.items.slice(bucket.head, bucket.tail)
      bucket.tail -= bucket.head
      bucket.head = 0
    }
    this.#size--
    return node
  }

  /** The first task index without removing it, or -1. */
  peek(): number {
    if (this.#size === 0) return -1
    const bucket = this.#heap[0] as Bucket
    return bucket.items[bucket.head] as number
  }

  /** Removes every entry for which `drop` is true (used by cancellation). */
  removeWhere(drop: (node: number) => boolean): number[] {
    const removed: number[] = []
    const kept: Bucket[] = []
    for (let h = 0; h < this.#heapSize; h++) {
      const bucket = this.#heap[h] as Bucket
      const live: number[] = []
      for (let i = bucket.head; i < bucket.tail; i++) {
        const node = bucket.items[i] as number
        ;(drop(node) ? removed : live).push(node)
      }
      bucket.items = live
      bucket.head = 0
      bucket.tail = live.length
      if (live.length > 0) kept.push(bucket)
    }
    this.#heap.fill(undefined)
    this.#heapSize = 0
    for (const bucket of kept) this.#heapPush(bucket)
    this.#size -= removed.length
    return removed
  }

  #bucketOf(priority: number, rank: number): Bucket {
    const few = this.#few
    for (let k = 0; k < few.length; k++) {
      const bucket = few[k] as Bucket
      // NaN ranks (a tool whose cost is NaN) share one bucket, as they do as Map keys below.
      if ((bucket.rank === rank || (rank !== rank && bucket.rank !== bucket.rank)) && bucket.priority === priority) return bucket
    }
    if (few.length < FEW_BUCKETS) {
      const bucket = new Bucket(priority, rank)
      few.push(bucket)
      return bucket
    }
    const buckets = (this.#buckets ??= new Map<number, Map<number, Bucket>>())
    let byRank = buckets.get(priority)
    if (byRank === undefined) buckets.set(priority, (byRank = new Map<number, Bucket>()))
    let bucket = byRank.get(rank)
    if (bucket === undefined) byRank.set(rank, (bucket = new Bucket(priority, rank)))
    return bucket
  }

  #heapPush(bucket: Bucket): void {
    const heap = this.#heap
    let i = this.#heapSize++
    while (i > 0) {
      const parent = (i - 1) >> 1
      const above = heap[parent] as Bucket
      if (!before(bucket, above)) break
      heap[i] = above
      i = parent
    }
    heap[i] = bucket
  }

  #heapPopTop(): void {
    const heap = this.#heap
    const size = --this.#heapSize
    const last = heap[size] as Bucket
    // The slot past the heap lets go of its bucket (the array keeps its length and storage).
    heap[size] = undefined
    if (size === 0) return
    let i = 0
    for (;;) {
      let child = 2 * i + 1
      if (child >= size) break
      const right = child + 1
      if (right < size && before(heap[right] as Bucket, heap[child] as Bucket)) child = right
      const c = heap[child] as Bucket
      if (!before(c, last)) break
      heap[i] = c
      i = child
    }
    heap[i] = last
  }
}

/** Whether bucket `a` comes before bucket `b` (their keys differ). */
function before(a: Bucket, b: Bucket): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.rank > b.rank
}

/** Inserts `node` among the live entries of `bucket` by its seq (binary search). */
function insertBySeq(bucket: Bucket, node: number, seq: ArrayLike<number>): void {
  const items = bucket.items
  const key = seq[node] as number
  let lo = bucket.head
  let hi = bucket.tail
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((seq[items[mid] as number] as number) < key) lo = mid + 1
    else hi = mid
  }
  if (lo === bucket.head && bucket.head > 0) {
    // The common hand-back: the entry just popped goes back in front, without moving the rest.
    bucket.head--
    items[bucket.head] = node
  } else {
    // Past the live entries the array may hold stale ones: drop them before shifting the rest up.
    items.length = bucket.tail
    items.splice(lo, 0, node)
    bucket.tail++
  }
}
