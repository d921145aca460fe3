/**
 * One delivery of one job, from the moment a consumer's processor receives it to the moment its
 * outcome is in Redis. The handler settles it through the delivery object (ack, nack, dead
 * letter), by returning, or by throwing; the first verdict counts and later ones are refused. A
 * consumer that closes past its grace period forces it back to the queue instead.
 * @module
 */
import type { AnyJob } from './worker.js'

/** What becomes of a delivery. */
export type Verdict =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retry'; readonly delayMs: number }
  | { readonly kind: 'dead'; readonly reason: string }

/** A promise with its resolve and reject at hand. */
class Deferred<T> {
  readonly promise: Promise<T>
  resolve!: (value: T) => void
  reject!: (reason: unknown) => void

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }
}

/** A job a processor holds (see the module header). */
export class HeldJob {
  readonly job: AnyJob
  readonly token: string
  /** Which delivery this is: BullMQ's count of starts (`attemptsStarted`), crashes' redeliveries included. */
  readonly deliveries: number
  /** When the processor received it (`performance.now()`), for the processing time. */
  readonly startedAt = performance.now()
  #verdict: Verdict | undefined
  #forced = false
  readonly #decided = new Deferred<void>()
  readonly #written = new Deferred<void>()
  readonly #force = new Deferred<void>()

  constructor(job: AnyJob, token: string) {
    this.job = job
    this.token = token
    this.deliveries = Math.max(1, job.attemptsStarted)
    // Nobody may be waiting for the write (a handler that never settles by hand).
    this.#written.promise.catch(() => {})
  }

  /** The verdict, once given. */
  get verdict(): Verdict | undefined {
    return this.#verdict
  }

  /** Whether the consumer forced the job back to the queue. */
  get forced(): boolean {
    return this.#forced
  }

  /** Resolves when a verdict is given. */
  get decided(): Promise<void> {
    return this.#decided.promise
  }

  /** Resolves when the consumer forces the job back (its grace period ran out). */
  get forcedBack(): Promise<void> {
    return this.#force.promise
  }

  /** Resolves once the verdict is in Redis; rejects when it could not be written. */
  get written(): Promise<void> {
    return this.#written.promise
  }

  /**
   * Gives the verdict. Resolves once it is written; `refusal` is what a second verdict, or one
   * after the job was forced back, rejects with.
   */
  decide(verdict: Verdict, refusal: (why: 'settled' | 'released') => Error): Promise<void> {
    if (this.#forced) return Promise.reject(refusal('released'))
    if (this.#verdict !== undefined) return Promise.reject(refusal('settled'))
    this.#verdict = verdict
    this.#decided.resolve()
    return this.#written.promise
  }

  /** Gives the verdict only if none was given yet (the handler returned or threw). */
  decideIfOpen(verdict: Verdict): void {
    if (this.#verdict === undefined && !this.#forced) {
      this.#verdict = verdict
      this.#decided.resolve()
    }
  }

  /** Forces the job back to the queue unless a verdict was given. */
  forceBack(): void {
    if (this.#verdict !== undefined || this.#forced) return
    this.#forced = true
    this.#force.resolve()
  }

  /** The verdict is in Redis. */
  markWritten(): void {
    this.#written.resolve()
  }

  /** The verdict could not be written. */
  markFailed(error: unknown): void {
    this.#written.reject(error)
  }
}
