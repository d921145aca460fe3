/**
 * An insertion-ordered list of records whose membership is a flag on the record itself, so adding
 * and removing cost no hash-table operation: a conversation's tasks and its inbox hold up to every
 * task the executor remembers, and two Sets per task were a large share of a submit's cost.
 *
 * The owner sets the flag before {@link EntryList.push} and clears it before
 * {@link EntryList.dropped}; a slot whose record is no longer a member is skipped when read and
 * dropped when more than half of the list is dead, so memory follows the live size. A record is
 * pushed at most once while it is a member.
 * @module
 */

/** Records in insertion order; membership decided by `isMember`. */
export class EntryList<T> {
  #items: T[] = []
  #size = 0
  readonly #isMember: (item: T) => boolean

  /** @param isMember reads the record's membership flag for this list */
  constructor(isMember: (item: T) => boolean) {
    this.#isMember = isMember
  }

  /** Members in the list. */
  get size(): number {
    return this.#size
  }

  /** Appends a record whose flag the owner has just set. */
  push(item: T): void {
    this.#items.push(item)
    this.#size++
  }

  /** Records that the owner cleared one member's flag. */
  dropped(): void {
    this.#size--
    if (this.#size === 0) this.#items = []
    else if (this.#items.length > 2 * this.#size + 64) this.#items = this.#items.filter(this.#isMember)
  }

  /** The members, oldest first (a copy: the owner may change flags while going through it). */
  members(): T[] {
    return this.#items.filter(this.#isMember)
  }

  /** Forgets every slot; the owner clears the members' flags. */
  clear(): void {
    this.#items = []
    this.#size = 0
  }
}
