/**
 * A set of objects that keep their own place in it: an array with swap-remove instead of a `Set`,
 * for long-lived collections with many additions and removals (the engine's active runs).
 *
 * Why not a `Set`: V8 grows and compacts a `Set`'s table by copying it into a new one, and the old
 * table keeps a link to the new one (for iterators still on it). Once the collector has moved a
 * set to the old generation, each retired table is old too, so every table since, and every value
 * they held, stay alive through young-generation collections until the next full collection: a
 * service running thousands of small runs a second would copy every finished run again and again
 * (measured: 7.8 KB per run kept instead of 0.9 KB, three times the run's cost). An array holds
 * only its live members; a removed member's slot is overwritten or dropped at once.
 * @module
 */

/** What an {@link IndexedSet} holds: an object that keeps its place in the set (-1 when in none). */
export interface Indexed {
  /** Its index in the set that holds it, or -1. Only the set writes it. */
  indexInSet: number
}

/** Objects in no particular order; each may be in one `IndexedSet` at a time. */
export class IndexedSet<T extends Indexed> implements Iterable<T> {
  readonly #items: T[] = []

  /** Members now. */
  get size(): number {
    return this.#items.length
  }

  /** Adds `item` (nothing when it is a member already). */
  add(item: T): void {
    if (this.has(item)) return
    item.indexInSet = this.#items.length
    this.#items.push(item)
  }

  /** Whether `item` is a member. */
  has(item: T): boolean {
    const at = item.indexInSet
    return at >= 0 && this.#items[at] === item
  }

  /** Removes `item`; false when it was not a member. The last member takes its place. */
  delete(item: T): boolean {
    if (!this.has(item)) return false
    const at = item.indexInSet
    const last = this.#items.pop() as T
    if (last !== item) {
      this.#items[at] = last
      last.indexInSet = at
    }
    item.indexInSet = -1
    return true
  }

  /** The members now, as a new array (safe to change the set while going through it). */
  toArray(): T[] {
    return this.#items.slice()
  }

  /** Goes through a copy of the members: removing or adding during the loop is safe. */
  [Symbol.iterator](): Iterator<T> {
    return this.toArray()[Symbol.iterator]()
  }
}
