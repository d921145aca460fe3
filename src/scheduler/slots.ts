/**
 * Engine-wide slots: the global concurrency limit shared by every run of one engine.
 *
 * A run takes a free slot directly while nobody waits. Once runs wait, freed slots go to them in
 * first-come order (a served run that wants more goes to the back of the line), so one busy run
 * cannot starve another. A freed slot is granted on a microtask rather than inside `release()`:
 * the releasing run finishes its own bookkeeping before any run (itself included) starts anything.
 * @module
 */
import { onMicrotask, uncaughtOnThrow } from '../core/microtask.js'

/** Something that can be handed a slot (a run's dispatch loop). */
export interface SlotWaiter {
  /** Receives a slot it holds from now on; returns false (and keeps nothing) when it has no use for it. */
  grant(): boolean
  /**
   * Whether it is in a pool's line now. Only the pool writes it: kept on the waiter rather than in
   * a `Set` of the pool's, whose retired tables would keep every run that ever waited alive
   * through young-generation collections (see `core/indexed-set.ts`).
   */
  inSlotLine?: boolean
}

/** A counting semaphore without promises: take a free slot, or queue to be granted one. */
export class SlotPool {
  #used = 0
  /**
   * The line: `#waiters[#head]` onward, first come first. Served from the front by moving `#head`
   * rather than `shift()`, which copies the rest of the line on every grant (a tenth of the CPU of
   * many small runs waiting for slots); the served front is cut off once it is the larger half.
   */
  readonly #waiters: (SlotWaiter | undefined)[] = []
  #head = 0
  #draining = false

  #capacity: number

  /** @param capacity slots in all (Infinity for no limit) */
  constructor(capacity: number) {
    this.#capacity = capacity
  }

  /** Slots in all. */
  get capacity(): number {
    return this.#capacity
  }

  /**
   * Changes the number of slots at run time (load-aware scaling). More slots are granted to
   * waiting runs at once; fewer take effect as running attempts end (nothing is interrupted).
   */
  setCapacity(capacity: number): void {
    this.#capacity = capacity
    if (this.#waiting() > 0) this.#scheduleDrain()
  }

  /** Slots in use. */
  get used(): number {
    return this.#used
  }

  /** Takes a slot if one is free and nobody is waiting; otherwise queues `waiter` and returns false. */
  tryAcquire(waiter: SlotWaiter): boolean {
    // Fields rather than the getter and #waiting(): a call each, on every task, in code not yet optimized.
    if (this.#used < this.#capacity && this.#waiters.length === this.#head) {
      this.#used++
      return true
    }
    if (waiter.inSlotLine !== true) {
      waiter.inSlotLine = true
      this.#waiters.push(waiter)
    }
    this.#scheduleDrain()
    return false
  }

  /** Gives a slot back; waiting runs are served on the next microtask. */
  release(): void {
    this.#used--
    if (this.#waiters.length > this.#head) this.#scheduleDrain()
  }

  /** Forgets a waiter (its run ended or needs no slot any more). */
  forget(waiter: SlotWaiter): void {
    if (waiter.inSlotLine !== true) return
    waiter.inSlotLine = false
    const at = this.#waiters.indexOf(waiter, this.#head)
    if (at >= 0) this.#waiters.splice(at, 1)
  }

  /** Waiters in the line. */
  #waiting(): number {
    return this.#waiters.length - this.#head
  }

  #scheduleDrain(): void {
    if (this.#draining || this.#used >= this.#capacity) return
    this.#draining = true
    onMicrotask(this.#drainNow)
  }

  /**
   * {@link #drain} bound once: a drain is scheduled whenever a slot frees while runs wait. What a
   * granted run throws (a runner that breaks its contract) surfaces as an uncaught exception.
   */
  readonly #drainNow = uncaughtOnThrow(() => this.#drain())

  #drain(): void {
    this.#draining = false
    const line = this.#waiters
    while (this.#used < this.#capacity && this.#head < line.length) {
      const waiter = line[this.#head] as SlotWaiter
      line[this.#head++] = undefined
      waiter.inSlotLine = false
      this.#used++
      if (!waiter.grant()) this.#used--
    }
    if (this.#head === line.length) {
      line.length = 0
      this.#head = 0
    } else if (this.#head >= 64 && this.#head * 2 >= line.length) {
      line.splice(0, this.#head)
      this.#head = 0
    }
  }
}
