/**
 * A BullMQ `Worker` that shares a consumer's permits with the consumer's other workers and tells
 * the consumer when BullMQ has written a job's completion.
 *
 * **Permits.** A consumer holds at most `concurrency` deliveries across every queue it takes
 * from, but each BullMQ worker serves one queue. So every job a worker takes costs a permit of the
 * consumer's {@link PermitPool}, taken in `moveToActive` before BullMQ claims the job:
 *
 * - a permit is free: take it and claim;
 * - none is free and this worker has a job it fetched but has not started: claim nothing now, so
 *   BullMQ's fetch loop goes on to start that job;
 * - none is free otherwise: wait for one. BullMQ's fetch loop awaits each fetch, so a job of this
 *   worker that arrived while it waits (BullMQ's "fetch next", below) would sit unstarted, holding
 *   its permit, until the wait ended: such an arrival ends the wait, without a permit.
 *
 * (Answering "none now" at once in every case would not do: BullMQ would ask again at once, in a
 * loop of resolved promises that never yields to I/O.)
 *
 * A job finished by BullMQ with "fetch next" (completion and the next claim in one round trip, its
 * fast path) hands its permit to the job it fetched, unless another worker waits for a permit:
 * then the finishing job gives its permit back instead, so a busy queue cannot starve the others.
 *
 * **Completions.** A handler's `ack()` lets the processor return, and BullMQ then writes the
 * completion (with the next claim). The consumer learns that it was written, or why it was not,
 * through {@link WorkerHooks.completionWritten}, which settles the `ack()` promise. Every other
 * outcome (retry, dead letter, hand-back) is written by the processor itself while it holds the
 * job's lock, after which it throws BullMQ's `DelayedError` so BullMQ leaves the job alone.
 *
 * This relies on four methods BullMQ declares `protected` for subclasses (`moveToActive`,
 * `callProcessJob`, `handleCompleted`, `handleFailed`), as of BullMQ 6.7.
 * @module
 */
import type { Job, Processor, Span, Worker, WorkerOptions } from 'bullmq'
import type { BullModule } from './driver.js'
import type { PermitPool } from './permits.js'

/** A job as the adapters use it: JSON data, no return value. */
export type AnyJob = Job<unknown, unknown, string>

/** What a pooled worker reports to, and takes its permits from. */
export interface WorkerHooks {
  readonly permits: PermitPool
  /** Aborted when the consumer closes: ends waits for a permit. */
  readonly stopSignal: AbortSignal
  /** BullMQ wrote the completion of `job` (`error` undefined), or gave up writing it. */
  completionWritten(job: AnyJob, error: unknown): void
}

/** A BullMQ worker of the adapters. */
export type BullWorker = Worker<unknown, unknown, string>

/** The pooled worker class over the loaded BullMQ module. */
export type PooledWorkerClass = new (name: string, processor: Processor<unknown, unknown, string>, options: WorkerOptions, hooks: WorkerHooks) => BullWorker

const classes = new WeakMap<BullModule, PooledWorkerClass>()

/** The pooled worker class for `bullmq` (made once per module). */
export function pooledWorkerClass(bullmq: BullModule): PooledWorkerClass {
  const known = classes.get(bullmq)
  if (known !== undefined) return known
  const made = makeClass(bullmq)
  classes.set(bullmq, made)
  return made
}

function makeClass(bullmq: BullModule): PooledWorkerClass {
  return class extends bullmq.Worker<unknown, unknown, string> {
    readonly #hooks: WorkerHooks
    /** Jobs of this worker that hold a permit (fetched, running or finishing). */
    readonly #holding = new WeakSet<AnyJob>()
    /** Jobs of this worker that hold a permit and whose processing has not started. */
    readonly #unstarted = new WeakSet<AnyJob>()
    #unstartedCount = 0
    /** Ends the current wait for a permit (a job of this worker arrived meanwhile). */
    #wake: AbortController | undefined

    constructor(name: string, processor: Processor<unknown, unknown, string>, options: WorkerOptions, hooks: WorkerHooks) {
      super(name, processor, { ...options, autorun: false })
      this.#hooks = hooks
    }

    protected override async moveToActive(token: string, name?: string): Promise<AnyJob> {
      const { permits, stopSignal } = this.#hooks
      if (!permits.tryAcquire()) {
        // BullMQ reads a missing job as "none now" (its types say otherwise).
        if (this.#unstartedCount > 0) return undefined as unknown as AnyJob
        const wake = new AbortController()
        this.#wake = wake
        let granted: boolean
        try {
          granted = await permits.acquire(AbortSignal.any([stopSignal, wake.signal]))
        } finally {
          if (this.#wake === wake) this.#wake = undefined
        }
        if (!granted) return undefined as unknown as AnyJob
      }
      let job: AnyJob | undefined
      try {
        job = await super.moveToActive(token, name)
      } catch (err) {
        permits.release()
        throw err
      }
      if (job === undefined) permits.release()
      else this.#hold(job)
      return job
    }

    protected override callProcessJob(job: AnyJob, token: string, signal?: AbortSignal): Promise<unknown> {
      this.#start(job)
      return super.callProcessJob(job, token, signal)
    }

    protected override async handleCompleted(result: unknown, job: AnyJob, token: string, fetchNextCallback: () => boolean = () => true, span?: Span): Promise<AnyJob> {
      const { permits } = this.#hooks
      if (this.backend.closing !== undefined) {
        // BullMQ skips the write once its connections close: the job stays active and its lock expires.
        this.#release(job)
        this.#hooks.completionWritten(job, new Error('the consumer closed before the completion was written'))
        return undefined as unknown as AnyJob
      }
      let next: AnyJob | undefined
      try {
        next = await super.handleCompleted(result, job, token, () => fetchNextCallback() && !permits.hasWaiters, span)
      } catch (err) {
        // BullMQ retries a write cut by a lost connection; anything else it hands to handleFailed.
        if (err instanceof Error && bullmq.isNotConnectionError(err)) this.#hooks.completionWritten(job, err)
        throw err
      }
      this.#hooks.completionWritten(job, undefined)
      if (next === undefined) this.#release(job)
      else this.#pass(job, next)
      return next
    }

    protected override async handleFailed(err: Error, job: AnyJob, token: string, _fetchNextCallback?: () => boolean, span?: Span): Promise<AnyJob> {
      try {
        // No fetch here: the next claim goes through moveToActive and its permit check.
        return await super.handleFailed(err, job, token, () => false, span)
      } finally {
        this.#release(job)
      }
    }

    #hold(job: AnyJob): void {
      this.#holding.add(job)
      this.#unstarted.add(job)
      this.#unstartedCount++
    }

    #start(job: AnyJob): void {
      if (this.#unstarted.delete(job)) this.#unstartedCount--
    }

    #release(job: AnyJob): void {
      this.#start(job)
      if (this.#holding.delete(job)) this.#hooks.permits.release()
    }

    /** `from` finished and BullMQ fetched `to` with its completion: `to` takes over the permit. */
    #pass(from: AnyJob, to: AnyJob): void {
      this.#start(from)
      if (!this.#holding.delete(from)) return
      this.#hold(to)
      this.#wake?.abort()
    }
  }
}
