/**
 * What a durable run does once a journal entry is durable: the consequences of an outcome (its
 * dependents, its handler, the tasks its tool added), the start of a task that must not run
 * twice, the end of the run. Kept in ticket order, taken from the front as commits come back.
 * @module
 */
import type { RunResult } from './report.js'
import type { RunAttempt } from './run-attempt.js'
import type { TaskSpec } from '../workflow/types.js'

/** A task added by a tool, checked and waiting for its attempt to be recorded. */
export interface PreparedTask {
  readonly spec: TaskSpec
  /** Its place among the tasks the attempt added. */
  readonly position: number
}

/** Work that waits for the journal entry with this ticket to be durable. */
export type AfterDurable =
  | { readonly ticket: number; readonly kind: 'ok'; readonly index: number; readonly spawned: readonly PreparedTask[] | undefined }
  | { readonly ticket: number; readonly kind: 'fail'; readonly index: number }
  | { readonly ticket: number; readonly kind: 'start'; readonly index: number; readonly request: RunAttempt }
  | { readonly ticket: number; readonly kind: 'finish'; readonly result: RunResult }
  | { readonly ticket: number; readonly kind: 'parked' }

/** Work waiting for durability, in ticket order. */
export class DurableQueue {
  #items: AfterDurable[] = []
  #head = 0

  /** Queues `item` (its ticket is after every item queued before). */
  push(item: AfterDurable): void {
    this.#items.push(item)
  }

  /** Calls `apply` for each item with a ticket up to `ticket`, in order; items queued meanwhile wait for their own commit. */
  takeUpTo(ticket: number, apply: (item: AfterDurable) => void): void {
    const items = this.#items
    while (this.#head < items.length && (items[this.#head] as AfterDurable).ticket <= ticket) {
      const item = items[this.#head] as AfterDurable
      this.#head++
      apply(item)
    }
    if (this.#head === items.length) {
      this.#items = []
      this.#head = 0
    }
  }

  /** Calls `visit` for every item still waiting, in order, and leaves them queued. */
  forEachWaiting(visit: (item: AfterDurable) => void): void {
    for (let k = this.#head; k < this.#items.length; k++) visit(this.#items[k] as AfterDurable)
  }

  /** Calls `apply` for every item left (the journal gave up: nothing more will be durable). */
  drain(apply: (item: AfterDurable) => void): void {
    const items = this.#items
    const head = this.#head
    this.#items = []
    this.#head = 0
    for (let k = head; k < items.length; k++) apply(items[k] as AfterDurable)
  }
}
