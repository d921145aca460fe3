/**
 * A worker process's loop: take attempts from the transport, run each with this process's copy of
 * the tools (the same registry an engine builds), report the outcome to the attempt's owner, then
 * acknowledge it. The report goes before the acknowledgement, so a worker that dies in between
 * leaves the attempt to run again (at least once), never an attempt acknowledged and unreported.
 *
 * Cancels from owners abort the tool's `ctx.signal` with the owner's reason. A heartbeat announces
 * the worker (queues, capacity, attempts running) so owners and `taskweave queues` see it. Closing
 * drains: no new attempts, running ones get `graceMs` to finish, then what is left goes back to
 * the broker for another worker.
 * @module
 */
import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { CancelTimer, Clock } from '../core/clock.js'
import { systemClock } from '../core/clock.js'
import { describeThrown } from '../core/thrown.js'
import { InvalidOptionError, TaskweaveError, TimeoutError, deserializeError, serializeError } from '../core/errors.js'
import { refuseUnknownOptions } from '../core/known-options.js'
import { checkTransport } from './check-transport.js'
import type { Logger } from '../core/logger.js'
import { silentLogger } from '../core/logger.js'
import type { AnyTool } from '../core/tool.js'
import { DEFAULT_WORK_QUEUE } from '../core/transport.js'
import type { AttemptDelivery, AttemptReport, Transport, TransportSubscription } from '../core/transport.js'
import type { AttemptOutcome, AttemptRequest } from '../core/attempt.js'
import { LocalAttemptRunner } from '../engine/local-runner.js'
import type { AttemptWrapper } from '../engine/local-runner.js'
import { DEFAULT_MAX_OUTPUT_BYTES } from '../core/bytes.js'
import { buildToolRegistry } from '../engine/tool-registry.js'
import type { BuiltinsOption } from '../engine/tool-registry.js'
import { WorkerAttempt } from './worker-attempt.js'
import { AgentSessionPool, createAgentTool } from '../agents/index.js'
import type { AgentSessionPoolOptions, AnyAgent } from '../agents/index.js'
import { KeyedLimiter } from '../scheduler/keyed-limiter.js'

/**
 * An attempt that ran this long is asked of the broker before its outcome is reported (one round
 * trip on Redis, so not for the short ones): a worker paused past its lease must not report over
 * the worker that took the attempt over. Every lease is longer than this (Redis: at least 200 ms).
 */
const LEASE_CHECK_AFTER_MS = 100
/** How long that check extends the lease (the outcome and the ack follow at once). */
const LEASE_CHECK_EXTEND_MS = 30_000
/** How long a drain waits, after its grace, for the attempts it cancelled to go back to the broker. */
const GIVE_BACK_MS = 5000
/** Ids of attempts cancelled elsewhere that a worker remembers, in case the broker delivers them later. */
const MAX_REMEMBERED_CANCELS = 10_000

/** The names {@link WorkerOptions} has. */
const WORKER_OPTION_NAMES: readonly (keyof WorkerOptions)[] = ['transport', 'tools', 'agents', 'agentPool', 'builtins', 'worker', 'queues', 'concurrency', 'heartbeatMs', 'maxOutputBytes', 'wrapAttempts', 'signal', 'clock', 'logger']

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  readonly transport: Transport
  /** Tools this worker runs, besides the built-in ones. Owners and workers must agree on them. */
  readonly tools?: Iterable<AnyTool>
  /**
   * Agents whose tasks this worker runs. Their instances live here, one per session, reused while
   * the owner routes the session's next executions to this worker (it does while the worker lives).
   */
  readonly agents?: Iterable<AnyAgent>
  /** The agent pool's settings (instance timeout, cleanup interval…), as on `createEngine`. */
  readonly agentPool?: Omit<AgentSessionPoolOptions, 'agents' | 'clock' | 'limiter'>
  /** Built-in tools, as on `createEngine`. @default all */
  readonly builtins?: BuiltinsOption
  /** This worker's id. @default `<host>:<pid>:<random>` */
  readonly worker?: string
  /** Work queues to take attempts from. @default ['default'] */
  readonly queues?: readonly string[]
  /** Most attempts run at once. @default 16 */
  readonly concurrency?: number
  /** How often it announces itself, in ms. @default 5000 */
  readonly heartbeatMs?: number
  /** Largest output, in bytes of JSON, as on `createEngine`. */
  readonly maxOutputBytes?: number
  /**
   * Runs each tool call inside the caller's scope, as `engine.wrapAttempts` does on an engine:
   * `traceWorkerAttempts()` (`taskweave/otel`) makes spans of the attempts, children of the
   * owner's attempt spans (their `traceparent` travels with them).
   */
  readonly wrapAttempts?: AttemptWrapper
  /** Aborting it closes the worker as `close()` would. */
  readonly signal?: AbortSignal
  readonly clock?: Clock
  readonly logger?: Logger
}

/** A worker's figures. */
export interface WorkerStats {
  readonly worker: string
  readonly queues: readonly string[]
  readonly concurrency: number
  readonly running: number
  readonly completed: number
  readonly failed: number
  /** Attempts whose report or acknowledgement failed: they go back to the broker. */
  readonly returned: number
}

/** How a worker is doing, for health checks. */
export interface WorkerHealth {
  /**
   * `ok`: it takes attempts. `degraded`: it runs, but its broker cannot be reached or blocks
   * publishing (a resource alarm): no attempt reaches it, and outcomes it cannot report go back to
   * the broker; it recovers by itself. `starting`, `draining`: before `start` resolved, after
   * `close` was called.
   */
  readonly status: 'ok' | 'degraded' | 'starting' | 'draining'
  /** What is wrong, when degraded. */
  readonly problem?: string
  /** Since when (epoch ms) the broker connection is in its state, when the transport says. */
  readonly since?: number
}

/** A running worker. */
export interface Worker {
  readonly id: string
  stats(): WorkerStats
  /** Whether it takes attempts (started, not draining). */
  ready(): boolean
  /** Its status, with the broker connection's (see {@link WorkerHealth}). */
  health(): WorkerHealth
  /** Stops taking attempts, gives running ones `graceMs` (default 30 s) to finish, then closes the transport handle it was given only if `closeTransport`. */
  close(options?: { readonly graceMs?: number; readonly closeTransport?: boolean }): Promise<void>
}

/** Starts a worker on `options.transport`; resolves once it consumes. */
export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const worker = new TransportWorker(options)
  await worker.start()
  return worker
}

class TransportWorker implements Worker {
  readonly id: string
  readonly #transport: Transport
  readonly #queues: readonly string[]
  readonly #concurrency: number
  readonly #heartbeatMs: number
  readonly #maxOutputBytes: number
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #runner: LocalAttemptRunner
  readonly #signal: AbortSignal | undefined
  readonly #running = new Map<string, WorkerAttempt>()
  /** The delivery each running attempt is held by now (a redelivery it joined replaces the first): a `lost` signal counts only from it. */
  readonly #heldBy = new Map<WorkerAttempt, AttemptDelivery>()
  /** Attempts stopped because their lease was lost: their delivery goes back to the broker, never acknowledged. */
  readonly #lostLease = new WeakSet<WorkerAttempt>()
  /** Attempts cancelled before they reached this worker (see {@link #rememberCancel}). */
  readonly #cancelled = new Set<string>()
  readonly #agents: AgentSessionPool | undefined
  #consumer: TransportSubscription | undefined
  #cancels: TransportSubscription | undefined
  #heartbeat: CancelTimer | undefined
  /** Set when a drain starts (before `close()` has its promise). */
  #draining = false
  /** Set once a drain ended: no more heartbeats. */
  #heartbeatStopped = false
  /** Attempts a drain stopped: nothing of them is reported. */
  readonly #dropped = new WeakSet<WorkerAttempt>()
  /** Handlers running now (a drain waits for those it cancelled to give their attempts back). */
  readonly #handling = new Set<Promise<void>>()
  #closing: Promise<void> | undefined
  #completed = 0
  #failed = 0
  #returned = 0
  #degraded = false
  /** Since when announcing this worker fails, how many times in a row, and the last reason: cleared by the next that succeeds. */
  #heartbeatFailure: { readonly since: number; readonly times: number; readonly error: string } | undefined

  constructor(options: WorkerOptions) {
    refuseUnknownOptions('startWorker', options, WORKER_OPTION_NAMES)
    checkTransport(options.transport, 'startWorker')
    this.#transport = options.transport
    this.id = options.worker ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    this.#queues = options.queues !== undefined && options.queues.length > 0 ? [...options.queues] : [DEFAULT_WORK_QUEUE]
    this.#concurrency = options.concurrency ?? 16
    if (!(Number.isInteger(this.#concurrency) && this.#concurrency >= 1)) throw new TaskweaveError('TW_INVALID_OPTION', `worker concurrency must be a whole number ≥ 1; received ${String(options.concurrency)}`, { retryable: false })
    this.#heartbeatMs = options.heartbeatMs ?? 5000
    if (!(Number.isFinite(this.#heartbeatMs) && this.#heartbeatMs >= 10)) throw new InvalidOptionError('heartbeatMs', 'a number of ms ≥ 10', options.heartbeatMs)
    this.#maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? silentLogger
    this.#signal = options.signal
    const registry = buildToolRegistry(options.builtins, options.tools, 'startWorker')
    const agents = [...(options.agents ?? [])]
    // The owner admits one execution per session at a time: the pool's own turn-taking stays idle.
    this.#agents = agents.length > 0 ? new AgentSessionPool({ ...options.agentPool, agents, limiter: new KeyedLimiter(), ...(options.clock ? { clock: options.clock } : {}) }) : undefined
    if (this.#agents !== undefined) for (const agent of agents) registry.register(createAgentTool(this.#agents, agent.name))
    // A tool missing here (the owner has it) is said to be the worker's: its --tools are what to fix.
    this.#runner = new LocalAttemptRunner({ lookup: (name) => registry.get(name), clock: this.#clock, logger: this.#logger, where: `worker ${this.id} (${hostname()}:${process.pid}): give it a tool of that name (taskweave worker --tools)` })
    if (options.wrapAttempts !== undefined) {
      if (typeof options.wrapAttempts !== 'function') throw new InvalidOptionError('wrapAttempts', 'a function (attempt, run) => run()', options.wrapAttempts)
      this.#runner.wrapper = options.wrapAttempts
    }
  }

  async start(): Promise<void> {
    this.#cancels = await this.#transport.onCancel((attemptId, reason) => this.#cancel(attemptId, reason))
    this.#consumer = await this.#transport.consume((delivery) => this.#track(this.#handle(delivery)), {
      worker: this.id,
      queues: this.#queues,
      concurrency: this.#concurrency,
    })
    await this.#announce()
    this.#armHeartbeat()
    if (this.#signal !== undefined) {
      if (this.#signal.aborted) await this.close()
      else this.#signal.addEventListener('abort', () => void this.close(), { once: true })
    }
  }

  stats(): WorkerStats {
    return { worker: this.id, queues: this.#queues, concurrency: this.#concurrency, running: this.#running.size, completed: this.#completed, failed: this.#failed, returned: this.#returned }
  }

  ready(): boolean {
    return this.#consumer !== undefined && this.#closing === undefined
  }

  health(): WorkerHealth {
    if (this.#closing !== undefined) return { status: 'draining' }
    if (this.#consumer === undefined) return { status: 'starting' }
    const broker = this.#transport.health?.()
    if (broker !== undefined && !broker.ok) return { status: 'degraded', problem: broker.problem ?? 'the broker cannot be reached', since: broker.since }
    // Connected but not answering (a hung server): the heartbeat says so, once it failed twice
    // in a row (one lost to a passing blip does not take the worker out of rotation).
    const unheard = this.#heartbeatFailure
    if (unheard !== undefined && unheard.times >= 2) return { status: 'degraded', problem: `its heartbeat could not reach the broker: ${unheard.error}`, since: unheard.since }
    return broker === undefined ? { status: 'ok' } : { status: 'ok', since: broker.since }
  }

  /** Logs when the broker connection goes bad or comes back (checked at each heartbeat). */
  #noteHealth(): void {
    const health = this.health()
    const degraded = health.status === 'degraded'
    if (degraded === this.#degraded) return
    this.#degraded = degraded
    if (degraded) this.#logger.warn(`worker ${this.id} is degraded: ${health.problem ?? 'its broker cannot be reached'}`, { worker: this.id, since: health.since })
    else this.#logger.info(`worker ${this.id} reaches its broker again`, { worker: this.id })
  }

  close(options: { readonly graceMs?: number; readonly closeTransport?: boolean } = {}): Promise<void> {
    this.#closing ??= this.#drain(options.graceMs ?? 30_000, options.closeTransport === true)
    return this.#closing
  }

  async #drain(graceMs: number, closeTransport: boolean): Promise<void> {
    // Heard as draining at once: owners route nothing new here. The heartbeat goes on until what
    // runs here ended, so attempts it claimed (RabbitMQ) still count as held meanwhile.
    this.#draining = true
    this.#announce().catch(() => undefined)
    await this.#consumer?.close({ graceMs })
    // Past the grace, what still runs has gone back to the broker, and another worker runs it: its
    // tool is stopped, and no outcome of it is reported (it would fail a task that still runs).
    const left = [...this.#running]
    this.#running.clear()
    // They go back to the broker (the worker's exit line counts them).
    this.#returned += left.length
    const error = new TaskweaveError('TW_CANCELLED', 'the worker is shutting down', { retryable: true })
    for (const [attemptId, attempt] of left) {
      this.#dropped.add(attempt)
      this.#runner.cancel(attemptId, error)
      attempt.cancelled(error)
    }
    // The attempts cancelled just now go back to the broker (a claimed one as a new message).
    let giveUp: CancelTimer | undefined
    await Promise.race([Promise.allSettled(this.#handling), new Promise<void>((resolve) => (giveUp = this.#clock.setTimer(GIVE_BACK_MS, resolve)))])
    giveUp?.()
    this.#heartbeatStopped = true
    this.#heartbeat?.()
    this.#heartbeat = undefined
    await this.#cancels?.close()
    await this.#agents?.close({ force: true })
    if (closeTransport) await this.#transport.close()
  }

  /** Keeps `handling` among the handlers running, until it settles. */
  #track(handling: Promise<void>): Promise<void> {
    this.#handling.add(handling)
    const forget = (): void => void this.#handling.delete(handling)
    handling.then(forget, forget)
    return handling
  }

  async #handle(delivery: AttemptDelivery): Promise<void> {
    const { owner, traceparent } = delivery.envelope
    // The owner's trace context rides on the envelope; the tool's scope (wrapAttempts) reads it on the request.
    const request = typeof traceparent === 'string' ? { ...delivery.envelope.request, traceparent } : delivery.envelope.request
    const send = (report: AttemptReport): void => {
      this.#transport.report(owner, report).catch((err: unknown) => this.#logger.warn('could not send a report to the owner', { owner, attemptId: request.attemptId, error: String(err) }))
    }
    // Delivered again while it still runs here (the channel of its first delivery closed in a
    // blip): it is not started twice.
    const running = this.#running.get(request.attemptId)
    if (running !== undefined && running.isCurrent()) return this.#joinRunning(delivery, running)
    // Cancelled before it reached this worker (it waited in the broker): done with, unrun.
    if (this.#cancelled.delete(request.attemptId)) {
      await delivery.ack()
      return
    }
    // Delivered before to a worker that did not finish it (it died, was stopped, or could not
    // report): that one may have acted. A task that must not run twice is not run again here.
    if (request.mustNotRepeat === true && delivery.deliveries > 1) return this.#refuseRepeat(delivery)
    const attempt = new WorkerAttempt(request.attemptId, request.taskId, delivery.envelope.queue, send, this.#maxOutputBytes)
    this.#running.set(request.attemptId, attempt)
    const startedAt = this.#clock.now()
    const stopWatching = this.#watchLease(attempt, delivery)
    // The owner times the attempt too, but it may have died, or its cancel may not get here (a
    // broker blip): the worker stops the tool itself at the deadline, so a hung attempt neither
    // runs on beside its retry nor holds a slot for ever.
    // (A null off the wire, as JSON writes Infinity, is no deadline.)
    const deadline = typeof request.timeoutMs === 'number' ? this.#clock.setTimer(request.timeoutMs, () => this.#timedOut(request, attempt)) : undefined
    try {
      this.#runner.start(request, attempt)
      const outcome = await attempt.outcome
      deadline?.()
      if (this.#running.get(request.attemptId) !== attempt) {
        // Stopped for a lost lease: given back (where the broker delivered it again, refused as stale), never acknowledged.
        if (this.#lostLease.has(attempt)) throw leaseLostError(attempt.attemptId, this.id, undefined)
        return
      }
      // A long attempt (or a worker paused past its lease) may have lost the attempt to another
      // worker meanwhile: its outcome must not beat that one's to the owner.
      if (this.#clock.now() - startedAt >= LEASE_CHECK_AFTER_MS) await this.#checkStillHeld(delivery, request.attemptId)
      await this.#transport.report(owner, { kind: 'outcome', attemptId: request.attemptId, worker: this.id, outcome })
      // Reported, it no longer runs here: counted finished and not running in one step, so
      // `stats()` never shows it as both while the broker's ack is on its way.
      if (this.#running.get(request.attemptId) === attempt) this.#running.delete(request.attemptId)
      if (outcome.ok) this.#completed++
      else this.#failed++
      await delivery.ack()
    } catch (err) {
      // The owner may not have heard: the broker keeps the attempt for another try.
      this.#returned++
      this.#logger.warn('could not report an attempt; it goes back to the broker', { owner, attemptId: request.attemptId, error: String(err) })
      throw err
    } finally {
      deadline?.()
      stopWatching()
      if (this.#running.get(request.attemptId) === attempt) this.#running.delete(request.attemptId)
    }
  }

  /**
   * Stops a running attempt's tool when the broker says, through its delivery's `lost` signal,
   * that this worker no longer holds it (Redis: a lock BullMQ could not renew, as when the process
   * was stopped past its lease): a zombie's tool must not act on beside the worker that took the
   * attempt over. The signal counts only while `delivery` is the one the attempt is held by.
   * Returns what stops listening.
   */
  #watchLease(attempt: WorkerAttempt, delivery: AttemptDelivery): () => void {
    this.#heldBy.set(attempt, delivery)
    const lost = delivery.lost
    if (lost === undefined) return () => void (this.#heldBy.get(attempt) === delivery && this.#heldBy.delete(attempt))
    const onLost = (): void => {
      if (this.#heldBy.get(attempt) === delivery) this.#leaseLost(attempt, lost.reason)
    }
    lost.addEventListener('abort', onLost, { once: true })
    // Lost before this handler listened (a batch's lock, lost while its attempts were being read).
    if (lost.aborted) onLost()
    return () => {
      lost.removeEventListener('abort', onLost)
      if (this.#heldBy.get(attempt) === delivery) this.#heldBy.delete(attempt)
    }
  }

  /** A running attempt whose lease is lost: its tool is stopped (`TW_LEASE_LOST`) and its outcome dropped. */
  #leaseLost(attempt: WorkerAttempt, cause: unknown): void {
    // Its tool has ended and its outcome is on its way: the check before the report decides.
    if (this.#running.get(attempt.attemptId) !== attempt || !attempt.isCurrent()) return
    this.#running.delete(attempt.attemptId)
    this.#heldBy.delete(attempt)
    this.#lostLease.add(attempt)
    const { attemptId } = attempt
    this.#logger.warn('an attempt lost its lease while it ran (this process stalled, or the broker gave it to another worker): its tool is stopped and its outcome dropped', { attemptId, error: String(cause) })
    const error = leaseLostError(attemptId, this.id, cause)
    this.#runner.cancel(attemptId, error)
    attempt.cancelled(error)
  }

  /**
   * A second delivery of an attempt running here waits for that run and settles with it: it
   * reports the outcome too (the first delivery may have lost its lease with its channel, and then
   * reports nothing; the owner keeps the first outcome it hears) and is acknowledged. An attempt a
   * drain stopped is given back instead, as its first delivery is.
   */
  async #joinRunning(delivery: AttemptDelivery, attempt: WorkerAttempt): Promise<void> {
    // Held by this delivery now: the first one's lease is gone with its channel or lock.
    const stopWatching = this.#watchLease(attempt, delivery)
    let outcome: AttemptOutcome
    try {
      outcome = await attempt.outcome
    } finally {
      stopWatching()
    }
    if (this.#lostLease.has(attempt)) throw leaseLostError(attempt.attemptId, this.id, undefined)
    if (this.#dropped.has(attempt)) return
    await this.#checkStillHeld(delivery, attempt.attemptId)
    await this.#transport.report(delivery.envelope.owner, { kind: 'outcome', attemptId: attempt.attemptId, worker: this.id, outcome })
    await delivery.ack()
  }

  /** Fails a redelivered attempt of a task that must not run twice `TW_UNCERTAIN`, unrun, and takes it off the queue. */
  async #refuseRepeat(delivery: AttemptDelivery): Promise<void> {
    const { request } = delivery.envelope
    const error = new TaskweaveError(
      'TW_UNCERTAIN',
      `task "${request.taskId}" attempt ${request.attempt} was delivered ${delivery.deliveries} times: a worker that held it before did not finish it (it died, was stopped, or could not report) and may have acted; the task is marked idempotent: false, so worker ${this.id} does not run it again`,
      { retryable: false, details: { taskId: request.taskId, attempt: request.attempt, deliveries: delivery.deliveries, worker: this.id, redelivered: true } },
    )
    // Told before it is taken off the queue: a refusal the owner never hears would leave the
    // attempt to its reconciler, which sends it again as new. Unheard, it goes back to the broker.
    await this.#transport.report(delivery.envelope.owner, { kind: 'outcome', attemptId: request.attemptId, worker: this.id, outcome: { attemptId: request.attemptId, ok: false, error: serializeError(error) } })
    this.#failed++
    await delivery.ack()
  }

  /** The attempt's deadline passed while it still runs here: its tool is stopped, and the attempt fails with a timeout. */
  #timedOut(request: AttemptRequest, attempt: WorkerAttempt): void {
    if (this.#running.get(request.attemptId) !== attempt) return
    const error = new TimeoutError(`task "${request.taskId}" attempt ${request.attempt} timed out after ${request.timeoutMs} ms (on worker ${this.id})`, { details: { taskId: request.taskId, timeoutMs: request.timeoutMs, worker: this.id } })
    this.#runner.cancel(request.attemptId, error)
    attempt.cancelled(error)
  }

  /**
   * Throws when the broker says this worker no longer holds the attempt (its lease went to another
   * delivery): the outcome is not reported, and the give-back that follows is refused as stale,
   * which changes nothing. Any other failure of the check (a passing broker error) is not taken
   * for a lost lease: the outcome is reported as usual.
   */
  async #checkStillHeld(delivery: AttemptDelivery, attemptId: string): Promise<void> {
    try {
      await delivery.extend(LEASE_CHECK_EXTEND_MS)
    } catch (err) {
      if ((err as { readonly details?: { readonly leaseLost?: unknown } } | null)?.details?.leaseLost !== true) return
      this.#logger.warn('an attempt lost its lease before its outcome was reported; its outcome is dropped', { attemptId, error: String(err) })
      throw err
    }
  }

  #cancel(attemptId: string, reason: unknown): void {
    const attempt = this.#running.get(attemptId)
    if (attempt === undefined) {
      this.#rememberCancel(attemptId)
      return
    }
    const error = deserializeErrorSafe(reason)
    this.#runner.cancel(attemptId, error)
    attempt.cancelled(error)
  }

  /**
   * Keeps the id of an attempt cancelled while it is not running here: if the broker delivers it
   * to this worker later, it is acknowledged unrun. Bounded: the oldest ids go first.
   */
  #rememberCancel(attemptId: string): void {
    this.#cancelled.add(attemptId)
    if (this.#cancelled.size > MAX_REMEMBERED_CANCELS) this.#cancelled.delete(this.#cancelled.values().next().value as string)
  }

  async #announce(): Promise<void> {
    await this.#transport.announce({
      worker: this.id,
      queues: this.#queues,
      concurrency: this.#concurrency,
      running: this.#running.size,
      runningByQueue: this.#runningByQueue(),
      sessions: [],
      host: hostname(),
      pid: process.pid,
      at: this.#clock.wallNow(),
      heartbeatMs: this.#heartbeatMs,
      ...(this.#draining ? { draining: true } : {}),
    })
  }

  #runningByQueue(): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const attempt of this.#running.values()) counts[attempt.queue] = (counts[attempt.queue] ?? 0) + 1
    return counts
  }

  #armHeartbeat(): void {
    this.#heartbeat = this.#clock.setTimer(this.#heartbeatMs, () => {
      this.#announce()
        .then(
          () => (this.#heartbeatFailure = undefined),
          (err: unknown) => {
            const before = this.#heartbeatFailure
            this.#heartbeatFailure = { since: before?.since ?? this.#clock.wallNow(), times: (before?.times ?? 0) + 1, error: describeThrown(err) }
            this.#logger.warn('heartbeat failed', { error: String(err) })
          },
        )
        .finally(() => {
          this.#noteHealth()
          if (!this.#heartbeatStopped) this.#armHeartbeat()
        })
    })
  }
}

/** A cancel reason off the wire, as an error (a malformed one still cancels). */
function deserializeErrorSafe(reason: unknown): unknown {
  try {
    return deserializeError(reason as Parameters<typeof deserializeError>[0])
  } catch {
    return new TaskweaveError('TW_CANCELLED', 'cancelled by the owner', { retryable: false })
  }
}

/** The error a tool's signal carries when its attempt's lease is lost, and that gives its delivery back. */
function leaseLostError(attemptId: string, worker: string, cause: unknown): TaskweaveError {
  return new TaskweaveError('TW_LEASE_LOST', `attempt ${attemptId} lost its lease on worker ${worker} while it ran (this process stalled, or the broker gave it to another worker): its tool is stopped, and the attempt runs where the broker delivers it`, { retryable: true, ...(cause !== undefined ? { cause } : {}), details: { attemptId, worker } })
}
