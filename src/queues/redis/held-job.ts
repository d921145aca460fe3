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
  /** Resolves when a verdict is given or the job is forced back: what the processor waits for besides the handler. */
  readonly #wake = new Deferred<undefined>()
  /** Made on the first settle call: most deliveries are settled by the handler returning, and nobody waits for their write. */
  #written: Deferred<void> | undefined
  #writeResult: { readonly error: unknown } | undefined

  /** Made on first read: see {@link lost}. */
  #lost: AbortController | undefined

  constructor(job: AnyJob, token: string) {
    this.job = job
    this.token = token
    this.deliveries = Math.max(1, job.attemptsStarted)
  }

  /** Aborts when BullMQ could not renew the job's lock (another worker may hold it now). */
  get lost(): AbortSignal {
    return (this.#lost ??= new AbortController()).signal
  }

  /** BullMQ could not renew the job's lock: {@link lost} aborts with `reason`. */
  loseLock(reason: Error): void {
    ;(this.#lost ??= new AbortController()).abort(reason)
  }

  /** The verdict, once given. */
  get verdict(): Verdict | undefined {
    return this.#verdict
  }

  /** Whether the consumer forced the job back to the queue. */
  get forced(): boolean {
    return this.#forced
  }

  /** Resolves (to undefined) when a verdict is given or the job is forced back. */
  get woken(): Promise<undefined> {
    return this.#wake.promise
  }

  /**
   * Gives the verdict. Resolves once it is written; `refusal` is what a second verdict, or one
   * after the job was forced back, rejects with.
   */
  decide(verdict: Verdict, refusal: (why: 'settled' | 'released') => Error): Promise<void> {
    if (this.#forced) return Promise.reject(refusal('released'))
    if (this.#verdict !== undefined) return Promise.reject(refusal('settled'))
    this.#verdict = verdict
    this.#wake.resolve(undefined)
    return this.#whenWritten()
  }

  /** Gives the verdict only if none was given yet (the handler returned or threw). */
  decideIfOpen(verdict: Verdict): void {
    if (this.#verdict === undefined && !this.#forced) {
      this.#verdict = verdict
      this.#wake.resolve(undefined)
    }
  }

  /** Forces the job back to the queue unless a verdict was given. */
  forceBack(): void {
    if (this.#verdict !== undefined || this.#forced) return
    this.#forced = true
    this.#wake.resolve(undefined)
  }

  /** The verdict is in Redis. */
  markWritten(): void {
    this.#settleWrite({ error: undefined })
  }

  /** The verdict could not be written. */
  markFailed(error: unknown): void {
    this.#settleWrite({ error: error ?? new Error('unknown error') })
  }

  #settleWrite(result: { readonly error: unknown }): void {
    if (this.#writeResult !== undefined) return
    this.#writeResult = result
    if (this.#written === undefined) return
    if (result.error === undefined) this.#written.resolve()
    else this.#written.reject(result.error)
  }

  #whenWritten(): Promise<void> {
    if (this.#writeResult !== undefined) return this.#writeResult.error === undefined ? Promise.resolve() : Promise.reject(this.#writeResult.error)
    this.#written ??= new Deferred<void>()
    return this.#written.promise
  }
}
