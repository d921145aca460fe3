/**
 * The executor's remembered tasks by id. An id is `<conversationId>:<name>:<n>` with `n` the
 * executor's submit counter, so the table is keyed by `n`, a small integer, rather than by the id
 * string: hashing a freshly built id (a rope V8 must flatten first) was the largest single cost of
 * a `submit`, more than the rest of it together. A lookup reads `n` back from the end of the id
 * and checks the whole id, so an id of another conversation with the same number is not found.
 *
 * Tasks taken over from a run store keep the ids an earlier process gave them; one whose number is
 * already taken here (work submitted before `recover()`), or that does not end in a number, is
 * kept by its id instead.
 * @module
 */

/** A record the table can hold: the table alone sets `key`. */
export interface Keyed {
  readonly id: string
  /** The record's number in the table, or -1 while it is kept by its id (or not in the table). */
  key: number
}

/** The largest counter value read back from an id: beyond it digits are not an exact number. */
const MAX_SEQ = Number.MAX_SAFE_INTEGER

/**
 * The number at the end of `id` (the digits after its last `:`), or -1 when there is none, it has
 * a leading zero (`String(n)` would not give the id back) or it is too large to be exact.
 */
export function seqOfId(id: string): number {
  let n = 0
  let scale = 1
  let i = id.length - 1
  for (; i >= 0; i--) {
    const c = id.charCodeAt(i)
    if (c === 58 /* : */) break
    if (c < 48 || c > 57) return -1
    n += (c - 48) * scale
    scale *= 10
  }
  const digits = id.length - 1 - i
  if (i < 0 || digits === 0 || digits > 15 || n > MAX_SEQ) return -1
  if (digits > 1 && id.charCodeAt(i + 1) === 48) return -1
  return n
}

/** Records by id: by the id's number, or by the whole id where the number cannot serve. */
export class TaskTable<T extends Keyed> {
  readonly #bySeq = new Map<number, T>()
  readonly #byId = new Map<string, T>()
  /** The record added last: `result(submit(…))` finds it without reading the id back. */
  #last: T | undefined

  /** Records in the table. */
  get size(): number {
    return this.#bySeq.size + this.#byId.size
  }

  /** Adds a new record whose id ends in `seq`, a number no record in the table has. */
  add(item: T, seq: number): void {
    item.key = seq
    this.#bySeq.set(seq, item)
    this.#last = item
  }

  /** Adds a record under an id made elsewhere (an earlier process's); false when that id is already here. */
  adopt(item: T): boolean {
    if (this.get(item.id) !== undefined) return false
    const seq = seqOfId(item.id)
    if (seq >= 0 && !this.#bySeq.has(seq)) {
      item.key = seq
      this.#bySeq.set(seq, item)
    } else {
      item.key = -1
      this.#byId.set(item.id, item)
    }
    return true
  }

  /** The record with this id, or undefined. */
  get(id: string): T | undefined {
    const last = this.#last
    if (last !== undefined && last.id === id) return last
    // A JavaScript caller may pass anything: such an id is simply not found.
    if (typeof id !== 'string') return undefined
    const seq = seqOfId(id)
    if (seq >= 0) {
      const item = this.#bySeq.get(seq)
      if (item !== undefined && item.id === id) return item
    }
    return this.#byId.size === 0 ? undefined : this.#byId.get(id)
  }

  /** True when a record with this id is in the table. */
  has(id: string): boolean {
    return this.get(id) !== undefined
  }

  /** Removes `item` (a record of this table). */
  delete(item: T): void {
    if (item.key >= 0) {
      if (this.#bySeq.get(item.key) === item) this.#bySeq.delete(item.key)
    } else if (this.#byId.get(item.id) === item) {
      this.#byId.delete(item.id)
    }
    if (this.#last === item) this.#last = undefined
  }

  /** Every record (a copy: the caller may change the table while going through it). */
  values(): T[] {
    return [...this.#bySeq.values(), ...this.#byId.values()]
  }
}
