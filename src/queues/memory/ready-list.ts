/**
 * The messages of a memory queue that are ready for delivery: one FIFO per priority level, the
 * highest level served first. Pure: no timers, no I/O.
 * @module
 */
import { MAX_MESSAGE_PRIORITY } from '../../core/queue.js'

/** A FIFO over an array with a moving head, so `shift` costs O(1) amortised. */
class Fifo<T> {
  #items: (T | undefined)[] = []
  #head = 0

  get size(): number {
    return this.#items.length - this.#head
  }

  push(item: T): void {
    this.#items.push(item)
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined
    // Compact once the dead prefix is half the array, so memory follows the live size.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[]
    this.#items = []
    this.#head = 0
    return items
  }
}

/** Ready messages by priority level (0…{@link MAX_MESSAGE_PRIORITY}), FIFO within a level. */
export class ReadyList<T> {
  readonly #levels: Fifo<T>[] = Array.from({ length: MAX_MESSAGE_PRIORITY + 1 }, () => new Fifo<T>())
  #size = 0

  /** Messages ready now. */
  get size(): number {
    return this.#size
  }

  /** Adds `item` at the back of `level` (already a whole level 0…9). */
  push(level: number, item: T): void {
    ;(this.#levels[level] as Fifo<T>).push(item)
    this.#size++
  }

  /** The oldest item of the highest level that has one. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined
    for (let level = MAX_MESSAGE_PRIORITY; level >= 0; level--) {
      const fifo = this.#levels[level] as Fifo<T>
      if (fifo.size > 0) {
        this.#size--
        return fifo.shift()
      }
    }
    return undefined
  }

  /** Removes and returns every item. */
  drain(): T[] {
    this.#size = 0
    return this.#levels.flatMap((fifo) => fifo.drain())
  }
}
