/**
 * A running consumer: one BullMQ worker per queue it takes from, sharing one set of permits, and
 * a processor that turns each job into a delivery for the handler and writes the verdict.
 *
 * Lifecycle of a delivery: BullMQ claims the job (counting the start in `attemptsStarted`) and
 * calls the processor, which runs the handler until it settles the delivery, returns (ack) or
 * throws (the policy's verdict). An ack returns from the processor, so BullMQ writes the
 * completion and claims the next job in one round trip; a retry (`moveToDelayed`), a dead letter
 * (`moveToFailed`) or a hand-back (`moveToWait`) is written by the processor while it still holds
 * the job's lock. The settle call's promise resolves once the verdict is in Redis.
 *
 * A job that holds several messages (a transport's batch) is run by the policy's `fanOut`, which
 * settles each message on its own and tells the consumer whether the job is done (ack) or must be
 * delivered again (a settle could not be written).
 *
 * Closing: the workers stop claiming jobs and BullMQ waits for the running processors. Past the
 * grace period, every delivery not yet settled is handed back to the queue at once (its handler
 * keeps running, but its settle calls are refused); if even that cannot be written (Redis down),
 * the job's lock expires and a live consumer's stalled check moves it back within the lease.
 * Closing never waits on a Redis that is down for longer than the grace period plus
 * `closeSlackMs` (and about a second once nothing is left to write).
 * @module
 */
import type { Redis } from 'ioredis'
import { TaskweaveError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { logFailure } from '../../core/log-failure.js'
import type { BullModule } from './driver.js'
import { describeCause, redisError, scopeText, throttledWarn } from './errors.js'
import type { ErrorScope } from './errors.js'
import { HeldJob } from './held-job.js'
import type { Verdict } from './held-job.js'
import type { LeaseTiming } from './options.js'
import { PermitPool } from './permits.js'
import { pooledWorkerClass } from './worker.js'
import type { AnyJob, BullWorker } from './worker.js'
import { backOfItsLevel, moveToDelayedBy, redisNowMs } from './server-time.js'

/** How long a closing consumer with nothing left to write waits for BullMQ to finish before cutting its connections. */
const IDLE_WAIT_MS = 1000
/** How long a consumer whose connections were cut waits for BullMQ's close to notice. */
const CUT_WAIT_MS = 200

/**
 * Drops a worker's own connection, the blocking one, without a word to Redis (which may be down).
 * BullMQ's own disconnect waits for an `end` event that a client between two reconnect attempts
 * never emits: so the connection is closed by force if BullMQ has not begun closing it, and its
 * client disconnected if it has (which also stops its reconnects). The worker's other connection is the handle's consumer client, which BullMQ shares
 * between all the handle's workers and never closes: it is the handle's to close.
 */
function cutConnections(worker: BullWorker): void {
  const { blockingConnection } = worker.backend
  if (blockingConnection === undefined) return
  blockingConnection.close(true).catch(() => {})
  blockingConnection.client.then(
    (client) => client.disconnect(),
    () => {},
  )
}

/** What a consumer of one port (queue or transport) decides. */
export interface ConsumerPolicy<D> {
  /** A verdict given before the handler runs: a job past its delivery limit is dead-lettered unseen. */
  precheck(held: HeldJob): Verdict | undefined
  /** The verdict for a handler that threw without settling. */
  onThrow(held: HeldJob, error: unknown): Verdict
  /** The delivery the handler receives; `settle` gives a verdict and resolves once it is written. */
  delivery(held: HeldJob, settle: (verdict: Verdict) => Promise<void>): D
  /** Runs once a verdict is written, before the settle call resolves (the queue counts it here). Must not throw. */
  afterWrite(held: HeldJob, verdict: Verdict): Promise<void>
  /**
   * For a job that holds several messages (a transport's batch): runs them itself, with the
   * consumer's permits (the job holds one), and resolves true once every one is settled (the job
   * is then acknowledged) or false when a settle could not be written (the job is given back, to
   * be delivered again). Undefined for a job of one message.
   */
  fanOut?(held: HeldJob, permits: PermitPool): Promise<boolean> | undefined
}

/** What starting a consumer takes. */
export interface ConsumerSetup<D> {
  readonly bullmq: BullModule
  /** BullMQ queue names to take from. */
  readonly queues: readonly string[]
  readonly prefix: string
  /** The handle's consumer client: every worker's command connection (BullMQ shares it), and the template of each worker's blocking connection. */
  readonly connection: Redis
  readonly lease: LeaseTiming
  readonly concurrency: number
  readonly handler: (delivery: D) => void | Promise<void>
  readonly policy: ConsumerPolicy<D>
  readonly scope: ErrorScope
  readonly logger: Logger
  readonly connectTimeoutMs: number
  /** How long, past the grace period, closing waits for writes in flight before it cuts the connections. */
  readonly closeSlackMs: number
  readonly signal?: AbortSignal | undefined
}

/** A running consumer of one or more queues. */
export class RedisConsumer<D> {
  readonly #setup: ConsumerSetup<D>
  readonly #stop = new AbortController()
  readonly #workers: BullWorker[] = []
  readonly #permits: PermitPool
  /** Jobs whose processor is running. */
  readonly #held = new Map<AnyJob, HeldJob>()
  /** Acknowledged jobs whose completion BullMQ is writing. */
  readonly #acking = new Map<AnyJob, HeldJob>()
  #closing: Promise<void> | undefined
  #onIdle: (() => void) | undefined
  readonly #onClosed: (consumer: RedisConsumer<D>) => void

  private constructor(setup: ConsumerSetup<D>, onClosed: (consumer: RedisConsumer<D>) => void) {
    this.#setup = setup
    this.#onClosed = onClosed
    this.#permits = new PermitPool(setup.concurrency)
  }

  /** Starts the workers and resolves once they are connected; rejects (closing them) when they are not within `connectTimeoutMs`. */
  static async start<D>(setup: ConsumerSetup<D>, onClosed: (consumer: RedisConsumer<D>) => void): Promise<RedisConsumer<D>> {
    setup.signal?.throwIfAborted()
    const consumer = new RedisConsumer(setup, onClosed)
    consumer.#startWorkers()
    try {
      await consumer.#ready()
    } catch (err) {
      consumer.#closing = consumer.#abandon()
      await consumer.#closing
      throw err
    }
    setup.signal?.addEventListener('abort', consumer.#onAbort, { once: true })
    return consumer
  }

  /**
   * Stops taking jobs, waits for running handlers for at most `graceMs`, then hands the unsettled
   * ones back. Idempotent: later calls return the first call's promise.
   */
  close(options: { readonly graceMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.graceMs ?? 30_000)
    return this.#closing
  }

  readonly #onAbort = (): void => void this.close()

  #startWorkers(): void {
    const { bullmq, queues, prefix, connection, lease, concurrency, logger, scope } = this.#setup
    const Worker = pooledWorkerClass(bullmq)
    const warn = throttledWarn(logger)
    const hooks = {
      permits: this.#permits,
      stopSignal: this.#stop.signal,
      completionWritten: (job: AnyJob, error: unknown) => this.#completionWritten(job, error),
    }
    for (const name of queues) {
      const worker = new Worker(
        name,
        (job, token) => this.#process(job, token ?? ''),
        {
          connection,
          prefix,
          concurrency,
          lockDuration: lease.lockMs,
          stalledInterval: lease.stalledCheckMs,
          // Deliveries are counted and limited here, from attemptsStarted; BullMQ's own stall limit is off.
          maxStalledCount: Number.MAX_SAFE_INTEGER,
          removeOnComplete: { count: 0 },
          // After a lost connection BullMQ waits this long before trying again (15 s by default).
          runRetryDelay: 1000,
        },
        hooks,
      )
      worker.on('error', (err) => {
        if (this.#closing === undefined) warn(`${scopeText(scope)}: consumer: ${describeCause(err)}`)
      })
      // A lock BullMQ could not renew (this process stalled past it, or Redis gave the job to
      // another worker): the delivery's `lost` signal tells whoever runs it.
      worker.on('lockRenewalFailed', (jobIds: string[]) => {
        const lost = new Set(jobIds)
        for (const [job, held] of this.#held) {
          if (job.id === undefined || !lost.has(job.id)) continue
          // Deliveries of one job share its id (one redelivered here while the old one still runs):
          // only the one whose own token no longer holds the lock has lost it.
          held.job.extendLock(held.token, lease.lockMs).then(
            (kept) => {
              if (!kept) held.loseLock(new TaskweaveError(scope.code, `${scopeText(scope)}: the lock of job ${job.id} could not be renewed: its lease is lost, and it may be delivered again`, { details: { location: scope.location, leaseLost: true } }))
            },
            () => undefined,
          )
        }
      })
      this.#workers.push(worker)
      worker.run().catch((err: unknown) => logFailure(logger, `${scopeText(scope)}: consumer stopped`, err, { queue: name }))
    }
  }

  async #ready(): Promise<void> {
    const { connectTimeoutMs, scope } = this.#setup
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new TaskweaveError(scope.code, `${scopeText(scope)}: the consumer could not connect within ${connectTimeoutMs} ms`, { details: { location: scope.location, operation: 'consume' } }))
      }, connectTimeoutMs)
    })
    try {
      await Promise.race([Promise.all(this.#workers.map((w) => w.waitUntilReady())), timeout])
    } catch (err) {
      throw redisError(scope, 'consume', err)
    } finally {
      clearTimeout(timer)
    }
  }

  async #process(job: AnyJob, token: string): Promise<void> {
    const held = new HeldJob(job, token)
    this.#held.set(job, held)
    try {
      await this.#settle(held)
    } finally {
      this.#held.delete(job)
      this.#checkIdle()
    }
  }

  /** Resolves once no processor runs and no acknowledgement waits to be written. */
  #whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.#onIdle = resolve
      this.#checkIdle()
    })
  }

  #checkIdle(): void {
    if (this.#onIdle !== undefined && this.#held.size === 0 && this.#acking.size === 0) {
      this.#onIdle()
      this.#onIdle = undefined
    }
  }

  /** Runs the handler until a verdict, then writes it (see the module header). */
  async #settle(held: HeldJob): Promise<void> {
    const { policy, handler, bullmq } = this.#setup
    const early = policy.precheck(held)
    const fanOut = early === undefined ? policy.fanOut?.(held, this.#permits) : undefined
    if (early !== undefined) held.decideIfOpen(early)
    else if (fanOut !== undefined) {
      const settled = fanOut.then(
        (all) => ({ threw: false as const, all }),
        (error: unknown) => ({ threw: true as const, error }),
      )
      const first = await Promise.race([settled, held.woken])
      if (first !== undefined) held.decideIfOpen(first.threw ? policy.onThrow(held, first.error) : first.all ? { kind: 'ack' } : { kind: 'retry', delayMs: 0 })
    } else {
      const delivery = policy.delivery(held, (verdict) => held.decide(verdict, (why) => this.#refusal(held, why)))
      const handled = (async () => {
        await handler(delivery)
      })().then(
        () => ({ threw: false as const }),
        (error: unknown) => ({ threw: true as const, error }),
      )
      const first = await Promise.race([handled, held.woken])
      if (first !== undefined) held.decideIfOpen(first.threw ? policy.onThrow(held, first.error) : { kind: 'ack' })
    }
    const verdict = held.verdict
    if (held.forced || verdict === undefined) return this.#handBack(held)
    if (verdict.kind === 'ack') {
      // Returning lets BullMQ write the completion; completionWritten settles the ack.
      this.#acking.set(held.job, held)
      return
    }
    try {
      // With no delay, straight back to the queue (no clock at all), behind what waits at its
      // priority, as a retry went before; with one, due by Redis's clock (see server-time.ts).
      if (verdict.kind === 'retry' && verdict.delayMs <= 0) await backOfItsLevel(held.job, held.token)
      else if (verdict.kind === 'retry') await moveToDelayedBy(held.job, await redisNowMs(this.#setup.connection), verdict.delayMs, held.token)
      else await held.job.moveToFailed(new Error(verdict.reason), held.token, false)
      await policy.afterWrite(held, verdict)
      held.markWritten()
    } catch (err) {
      held.markFailed(redisError(this.#setup.scope, verdict.kind === 'retry' ? `retrying message ${held.job.id ?? '?'}` : `dead-lettering message ${held.job.id ?? '?'}`, err))
    }
    throw new bullmq.DelayedError()
  }

  /** Gives an unsettled job back to the queue now; failing that, its lock expires and a stalled check gives it back. */
  async #handBack(held: HeldJob): Promise<never> {
    try {
      await held.job.moveToWait(held.token)
    } catch (err) {
      logFailure(this.#setup.logger, `${scopeText(this.#setup.scope)}: message ${held.job.id ?? '?'} could not be handed back; it is delivered again once its lease runs out`, err)
    }
    throw new this.#setup.bullmq.DelayedError()
  }

  #completionWritten(job: AnyJob, error: unknown): void {
    const held = this.#acking.get(job)
    if (held === undefined) return
    this.#acking.delete(job)
    this.#checkIdle()
    if (error !== undefined) {
      held.markFailed(redisError(this.#setup.scope, `acknowledging message ${job.id ?? '?'}`, error))
      return
    }
    void this.#setup.policy.afterWrite(held, { kind: 'ack' }).then(() => held.markWritten())
  }

  #refusal(held: HeldJob, why: 'settled' | 'released' | 'unwritten'): Error {
    const { scope } = this.#setup
    const id = held.job.id ?? '?'
    const text =
      why === 'settled'
        ? `message ${id} was already settled`
        : why === 'released'
          ? `the consumer closed and gave message ${id} back to the queue`
          : `the consumer closed before the acknowledgement of message ${id} was written; it will be delivered again`
    return new TaskweaveError(scope.code, `${scopeText(scope)}: ${text}`, { retryable: false, details: { location: scope.location, messageId: id, ...(scope.queue === undefined ? {} : { queue: scope.queue }) } })
  }

  async #close(graceMs: number): Promise<void> {
    this.#stop.abort()
    const { closeSlackMs, logger, scope } = this.#setup
    const closed = Promise.allSettled(this.#workers.map((w) => w.close())).then(() => 'closed' as const)
    const force = setTimeout(() => {
      for (const held of this.#held.values()) held.forceBack()
    }, graceMs)
    const timers: NodeJS.Timeout[] = []
    const after = (ms: number): Promise<'cut'> => new Promise((resolve) => timers.push(setTimeout(() => resolve('cut'), ms).unref()))
    let done = false
    // Once nothing is left to write, all BullMQ still does is drop its blocking connection, which
    // on a Redis that is down waits for ever for an event that never comes: give it a moment,
    // then cut, if still nothing runs (a job fetched just before the close may have started
    // meanwhile). Writes still waiting past the grace and the slack are cut as well.
    const idleThenCut = (async (): Promise<'cut'> => {
      for (;;) {
        await this.#whenIdle()
        await after(Math.min(IDLE_WAIT_MS, closeSlackMs))
        if (done || (this.#held.size === 0 && this.#acking.size === 0)) return 'cut'
      }
    })()
    try {
      if ((await Promise.race([closed, idleThenCut, after(graceMs + closeSlackMs)])) === 'cut') {
        if (this.#held.size > 0 || this.#acking.size > 0) logger.warn(`${scopeText(scope)}: consumer did not close within ${graceMs + closeSlackMs} ms; cutting its connections`)
        for (const worker of this.#workers) cutConnections(worker)
        // BullMQ's close may never settle now (it waits for events a cut client does not emit).
        await Promise.race([closed, after(Math.min(CUT_WAIT_MS, closeSlackMs))])
      }
    } finally {
      done = true
      clearTimeout(force)
      for (const timer of timers) clearTimeout(timer)
      this.#onIdle = undefined
      for (const held of this.#acking.values()) held.markFailed(this.#refusal(held, 'unwritten'))
      this.#acking.clear()
      this.#setup.signal?.removeEventListener('abort', this.#onAbort)
      this.#onClosed(this)
    }
  }

  /** Closes workers that never got ready: nothing of theirs can be running, so nothing is waited for. */
  async #abandon(): Promise<void> {
    this.#stop.abort()
    for (const worker of this.#workers) {
      void worker.close(true).catch(() => {})
      cutConnections(worker)
    }
    this.#onClosed(this)
  }
}
