/**
 * Task id → index, for the ids of one workflow. Two representations behind one class:
 *
 * - up to {@link SMALL_INDEX} ids, a `Map`: V8's own hashing needs no warm-up, so the first
 *   compile in a fresh process (interpreted code) builds it about 4× faster than the table below
 *   (2,000 ids: 0.6 ms against 2.4 ms);
 * - above that, an open-addressing hash table over the workflow's own id array: one `Int32Array`
 *   of slots, sized once, nothing per entry. Once warm it builds 100,000 ids in about half a
 *   `Map`'s time, and it is built on every compile.
 * @module
 */
const EMPTY = -1

/** Workflows of at most this many tasks index their ids with a `Map` (see the module comment). */
export const SMALL_INDEX = 4096

/**
 * An id table sized for `capacity` ids (it grows past that), each stored as its index into `ids`.
 * It is a read-only `Map` of id → index to its users (iteration in index order).
 */
export class IdIndex implements ReadonlyMap<string, number> {
  readonly #ids: readonly string[]
  /** The small representation, or undefined for the table. */
  readonly #map: Map<string, number> | undefined
  #slots: Int32Array
  #mask: number
  #size = 0
  /** Ids known distinct whose entries are not made yet (see {@link IdIndex.ofDistinct}). */
  #unbuilt = false

  /** @param ids the array the stored indices point into (read, never copied) */
  constructor(ids: readonly string[], capacity: number) {
    this.#ids = ids
    if (capacity <= SMALL_INDEX) {
      this.#map = new Map()
      this.#slots = NO_SLOTS
      this.#mask = 0
      return
    }
    this.#map = undefined
    // At most half full: short probe sequences.
    let slots = 16
    while (slots < capacity * 2) slots *= 2
    this.#slots = new Int32Array(slots).fill(EMPTY)
    this.#mask = slots - 1
  }

  /**
   * An index of ids the caller made itself, known valid and distinct: nothing is checked, and the
   * entries are made on the first lookup. A batch of generated ids (an executor's `t0`, `t1`, …)
   * often runs without any lookup by id, and 10,000 hashes are then never computed.
   * @param ids the array the index reads (it may still be filled: the entries are made from what it holds at the first lookup)
   * @param capacity how many ids it will hold
   */
  static ofDistinct(ids: readonly string[], capacity: number): IdIndex {
    const index = new IdIndex(ids, capacity)
    index.#unbuilt = true
    return index
  }

  get size(): number {
    if (this.#unbuilt) this.#build()
    return this.#map?.size ?? this.#size
  }

  /**
   * Stores `ids[index]` unless the id is already there; returns the index stored first for that
   * id (a duplicate) or -1 when it was added.
   */
  add(index: number): number {
    const id = this.#ids[index] as string
    const map = this.#map
    if (map !== undefined) {
      const held = map.get(id)
      if (held !== undefined) return held
      map.set(id, index)
      return -1
    }
    if ((this.#size + 1) * 2 > this.#slots.length) this.#grow()
    const slots = this.#slots
    const mask = this.#mask
    for (let at = hashOf(id) & mask; ; at = (at + 1) & mask) {
      const held = slots[at] as number
      if (held === EMPTY) {
        slots[at] = index
        this.#size++
        return -1
      }
      if (this.#ids[held] === id) return held
    }
  }

  get(id: string): number | undefined {
    if (this.#unbuilt) this.#build()
    if (this.#map !== undefined) return this.#map.get(id)
    // Not an id (a caller in plain JavaScript): missing, as the Map above says, rather than a TypeError from hashing.
    if (typeof id !== 'string') return undefined
    const slots = this.#slots
    const mask = this.#mask
    for (let at = hashOf(id) & mask; ; at = (at + 1) & mask) {
      const held = slots[at] as number
      if (held === EMPTY) return undefined
      if (this.#ids[held] === id) return held
    }
  }

  has(id: string): boolean {
    return this.get(id) !== undefined
  }

  forEach(callback: (value: number, key: string, map: ReadonlyMap<string, number>) => void, thisArg?: unknown): void {
    for (const [id, index] of this.entries()) callback.call(thisArg, index, id, this)
  }

  *entries(): MapIterator<[string, number]> {
    const ids = this.#ids
    // Each held id once, at the index that holds it (a later duplicate is not held).
    for (let i = 0; i < ids.length; i++) if (this.get(ids[i] as string) === i) yield [ids[i] as string, i]
  }

  *keys(): MapIterator<string> {
    for (const [id] of this.entries()) yield id
  }

  *values(): MapIterator<number> {
    for (const [, index] of this.entries()) yield index
  }

  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.entries()
  }

  #build(): void {
    this.#unbuilt = false
    for (let i = 0; i < this.#ids.length; i++) this.add(i)
  }

  #grow(): void {
    const old = this.#slots
    const slots = new Int32Array(old.length * 2).fill(EMPTY)
    const mask = slots.length - 1
    for (const held of old) {
      if (held === EMPTY) continue
      let at = hashOf(this.#ids[held] as string) & mask
      while (slots[at] !== EMPTY) at = (at + 1) & mask
      slots[at] = held
    }
    this.#slots = slots
    this.#mask = mask
  }
}

/** The slots of an index in its small representation (never written). */
const NO_SLOTS = new Int32Array(0)

/** FNV-1a over the UTF-16 code units. */
function hashOf(text: string): number {
  let h = 0x811c9dc5 | 0
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h
}
