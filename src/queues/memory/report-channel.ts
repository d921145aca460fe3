/**
 * One owner's report channel in a memory broker: a FIFO of reports (as JSON text) that waits for
 * the owner to listen. Each report goes to one subscription (the oldest one open), in the order
 * the reports were sent, on a later microtask, so a worker's `report()` never runs the owner's
 * handler inside its own call. Reports sent while nobody listens wait for the next `receive`.
 * @module
 */
import type { AttemptReport } from '../../core/transport.js'

/** A handler of reports; what it throws is dropped (it is the owner's code, not the broker's). */
export type ReportHandler = (report: AttemptReport) => void

/** The reports waiting for one owner and the owner's subscriptions. */
export class ReportChannel {
  readonly #waiting: string[] = []
  #head = 0
  readonly #handlers: ReportHandler[] = []
  #scheduled = false
  #removed = false

  /** Reports waiting for a listener. */
  get waiting(): number {
    return this.#waiting.length - this.#head
  }

  /** Queues a report (JSON text) for the owner. */
  push(text: string): void {
    this.#waiting.push(text)
    this.#schedule()
  }

  /** Starts listening; returns the function that stops. */
  subscribe(handler: ReportHandler): () => void {
    const entry: ReportHandler = (report) => handler(report) // a distinct function per subscription
    if (!this.#removed) this.#handlers.push(entry)
    this.#schedule()
    return () => {
      const k = this.#handlers.indexOf(entry)
      if (k >= 0) this.#handlers.splice(k, 1)
    }
  }

  /** Drops the waiting reports and ends every subscription (the owner is gone). */
  remove(): void {
    this.#removed = true
    this.#waiting.length = 0
    this.#head = 0
    this.#handlers.length = 0
  }

  #schedule(): void {
    if (this.#scheduled || this.#handlers.length === 0 || this.waiting === 0) return
    this.#scheduled = true
    queueMicrotask(() => this.#drain())
  }

  #drain(): void {
    this.#scheduled = false
    while (this.waiting > 0) {
      const handler = this.#handlers[0]
      if (handler === undefined) break
      const text = this.#waiting[this.#head] as string
      this.#head++
      try {
        handler(JSON.parse(text) as AttemptReport)
      } catch {
        // The owner's handler failed on this report; the next ones still reach it.
      }
    }
    if (this.#head > 0 && this.waiting === 0) {
      this.#waiting.length = 0
      this.#head = 0
    }
  }
}
