/**
 * The owner's side of distributed execution: an {@link AttemptRunner} that sends each attempt the
 * engine dispatches to worker processes through a {@link Transport} and hands their reports to
 * the attempt's sink. The engine keeps ordering, limits, retries, timeouts and the journal: it
 * dispatches only what its slots and permits admit, so the transport holds a bounded window of
 * attempts (the engine's `concurrency`) and priority order stays with the owner.
 *
 * An attempt with a `route` (an agent session's turn) goes to the worker that ran the route's last
 * attempt while that worker announces itself, so the session's instance is reused; otherwise to
 * any worker of its queue.
 *
 * A reconciler looks, every `reconcileEveryMs`, for attempts that are neither reported on nor held
 * by the broker (a broker restarted without its data, a queue purged), and for attempts routed to a
 * worker that stopped announcing itself: one missing twice in a row is published again (a routed
 * one to any worker). A report for an attempt the owner no longer waits for (it timed out, was
 * cancelled, or belongs to an earlier owner of the run) is dropped.
 *
 * With `shared`, an attempt passes two gates shared with other owners before it is published, in
 * this order: a place of its group (`shared.groups`, see `shared-groups.ts`), then its rate key's
 * budgets (`shared.rates`, see `shared-rates.ts`). The budget comes last so that it is spent when
 * the call goes out, not while the attempt still waits for a place.
 * @module
 */
import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import { deliverOutcome, plainAttemptRequest } from '../core/attempt.js'
import type { AttemptOutcome, AttemptRequest, AttemptRunner, AttemptSink, RunnerHealth } from '../core/attempt.js'
import type { CancelTimer, Clock } from '../core/clock.js'
import { systemClock } from '../core/clock.js'
import { InvalidOptionError, TaskweaveError, deserializeError, serializeError } from '../core/errors.js'
import { refuseUnknownOptions } from '../core/known-options.js'
import { checkTransport } from './check-transport.js'
import type { Logger } from '../core/logger.js'
import { silentLogger } from '../core/logger.js'
import { DEFAULT_WORK_QUEUE } from '../core/transport.js'
import type { AttemptEnvelope, AttemptReport, Transport, TransportSubscription } from '../core/transport.js'
import type { SharedLimiter } from '../core/shared-limiter.js'
import type { SharedRateBudget } from '../core/shared-rate.js'
import type { AnyTool } from '../core/tool.js'
import { SharedGroupGate } from './shared-groups.js'
import { SharedRateGate } from './shared-rates.js'
import type { RatePlan, SharedRateSpec } from './shared-rates.js'

/** Routes (agent sessions) remembered at most; beyond, the least recently used is forgotten (its next turn goes to any worker). */
const MAX_ROUTES = 100_000
/** How often claimed attempts are looked at while the reconciler is off (`reconcileEveryMs: 0`). */
const CLAIM_CHECK_MS = 10_000
/** Losses with a worker after which an attempt fails, for a transport that names no `maxDeliveries`. */
const DEFAULT_MAX_DELIVERIES = 5

/** Options of {@link createRemoteRunner}. */
export interface RemoteRunnerOptions {
  readonly transport: Transport
  /** This owner's name: its report channel. @default `<host>:<pid>:<random>` */
  readonly owner?: string
  /**
   * The work queue of an attempt: `'group'` sends each task to the queue named for its
   * concurrency group (`default` without one), so workers started with `--queues llm` take the
   * `llm` group's tasks; a function decides per attempt. @default every attempt to `default`
   */
  readonly queueOf?: 'group' | ((request: AttemptRequest) => string)
  /**
   * How often the reconciler looks for attempts the broker lost, in ms; 0 turns it off, except for
   * attempts a worker claimed (RabbitMQ, `claimAfterMs`), looked at every 10 s: when their worker
   * dies no broker gives them back. @default 10000
   */
  readonly reconcileEveryMs?: number
  /** A worker not heard from for this long is taken for dead: routes to it are forgotten. @default 15000 */
  readonly workerTimeoutMs?: number
  /**
   * Limits that hold across every owner using the same backend, besides this engine's own:
   * group caps (`limiter` and `groups`) and rate key budgets (`budget` and `rates`). See
   * {@link SharedLimits}. The wait for them counts towards the attempt's timeout.
   */
  readonly shared?: SharedLimits
  /**
   * The W3C trace context of an attempt, sent with it so a worker's spans join the owner's trace:
   * `(await traceEngine(engine)).traceparent` gives each attempt's span's.
   */
  readonly traceparent?: (request: AttemptRequest) => string | undefined
  readonly clock?: Clock
  readonly logger?: Logger
}

/**
 * Limits shared across owners (see {@link RemoteRunnerOptions.shared}).
 *
 * **Group caps**: an attempt of a group in `groups` is published only once it holds one of the
 * group's places in `limiter` (Redis: `openRedisSharedLimiter`), and gives it back with its
 * outcome. Places are leases renewed while the attempt runs, so an owner that dies leaks none.
 *
 * **Rate budgets**: an attempt whose rate key is in `rates` is published only once it took one
 * request and its token estimate from the key's budgets in `budget` (Redis:
 * `openRedisSharedRateBudget`); when it ends, the estimate it did not use goes back and tokens it
 * used beyond it are charged, from the usage its worker reported. Budgets refill by themselves, so
 * an owner that dies leaks nothing. The attempt's key is the one the engine counted it against
 * (`request.rateKey`: the task's `rateKey`, else its tool's), else, for a task the engine counted
 * under no key, the tool's found the same way (pass the owner's `tools`: its `rateKeyOf(input)`,
 * else its `rateKey`), else `tool:<name>`; `rateKeyOf` overrides all of these.
 */
export interface SharedLimits {
  /** Where group places are held; required with `groups`. */
  readonly limiter?: SharedLimiter
  /** Places per group name. */
  readonly groups?: Readonly<Record<string, number>>
  /** A place's lease, renewed every third of it. @default 30000 */
  readonly leaseMs?: number
  /** Where rate budgets are counted; required with `rates`. */
  readonly budget?: SharedRateBudget
  /** Budgets per rate key (`{ 'openai:gpt-4o': { requests: '500/min', tokens: '200000/min' } }`), for every owner together. */
  readonly rates?: Readonly<Record<string, SharedRateSpec>>
  /** The owner's tools: their `rateKey`, `rateKeyOf` and `estimateTokens` decide an attempt's key and estimate. */
  readonly tools?: readonly AnyTool[]
  /** An attempt's rate key, instead of the tool's (undefined: no shared budget). */
  readonly rateKeyOf?: (request: AttemptRequest) => string | undefined
  /**
   * An attempt's token estimate, instead of the tool's `estimateTokens`; asked when the attempt
   * reaches the head of its key's line. One that throws fails the attempt with its error.
   */
  readonly estimateTokens?: (request: AttemptRequest) => number
}

/** An attempt sent and not yet answered. */
interface InFlight {
  envelope: AttemptEnvelope
  readonly sink: AttemptSink
  /** The worker that said it started it. */
  worker: string | undefined
  /** Reconciler rounds in a row in which the broker did not hold it. */
  missing: number
  /** The delivery of it that the worker which started it held (see {@link Transport.maxDeliveries}). */
  delivery: number
  /** Whether it went to the broker: one still waiting for a shared place or budget is not the broker's to lose. */
  sent: boolean
  /** When it last went out, on the monotonic clock (what the reconciler counts from; `publishedAt` is wall time, for workers). */
  sentAt: number
  /** Its shared rate key and what it takes there, if any. */
  readonly rate: RatePlan | undefined
}

/** Figures of a remote runner, for `engine.stats()`-style reporting and tests. */
export interface RemoteRunnerStats {
  readonly owner: string
  /** Attempts published and not answered. */
  readonly inFlight: number
  readonly published: number
  /** Attempts the reconciler published again. */
  readonly republished: number
  /** Reports dropped: for attempts this owner no longer waits for. */
  readonly stale: number
  /** Attempts waiting for a shared group place or rate budget before they are published. */
  readonly sharedWaiting: number
}

/** The owner side of distributed execution (see the module comment). */
export class RemoteAttemptRunner implements AttemptRunner {
  readonly owner: string
  readonly #transport: Transport
  readonly #queueOf: (request: AttemptRequest) => string
  readonly #traceparent: ((request: AttemptRequest) => string | undefined) | undefined
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #reconcileEveryMs: number
  readonly #inFlight = new Map<string, InFlight>()
  readonly #workerTimeoutMs: number
  /** Route → the worker that ran its last attempt. */
  readonly #routes = new Map<string, string>()
  /** Workers heard from lately (by id → when), refreshed while routes exist. */
  #alive = new Map<string, number>()
  #aliveReadAt = -Infinity
  #aliveReading: Promise<void> | undefined
  readonly #groups: SharedGroupGate | undefined
  readonly #rates: SharedRateGate | undefined
  /** Envelopes waiting for this tick's batch publish. */
  #batch: AttemptEnvelope[] = []
  #subscription: Promise<TransportSubscription> | undefined
  /** Workers heard draining at the last reading (see {@link #refreshAlive}). */
  #draining = new Set<string>()
  #reconcileTimer: CancelTimer | undefined
  #reconciling = false
  #closed = false
  #published = 0
  #republished = 0
  #stale = 0
  /** Attempts in flight whose last publish failed and is to be tried again: see {@link health}. */
  readonly #unpublished = new Set<string>()
  /** When {@link #unpublished} last went from empty to not (or back), and the last publish error. */
  #publishingSince = 0
  #publishError = ''

  constructor(options: RemoteRunnerOptions) {
    checkRunnerOptions(options)
    this.#transport = options.transport
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    const queueOf = options.queueOf
    this.#queueOf = queueOf === 'group' ? (request) => request.group ?? DEFAULT_WORK_QUEUE : (queueOf ?? (() => DEFAULT_WORK_QUEUE))
    this.#clock = options.clock ?? systemClock
    this.#traceparent = options.traceparent
    this.#logger = options.logger ?? silentLogger
    this.#reconcileEveryMs = options.reconcileEveryMs ?? 10_000
    this.#workerTimeoutMs = options.workerTimeoutMs ?? 15_000
    const { limiter, groups } = options.shared ?? {}
    if (groups !== undefined && Object.keys(groups).length > 0 && limiter === undefined) throw new InvalidOptionError('shared.limiter', 'a SharedLimiter when shared.groups is given', undefined)
    this.#groups = limiter === undefined || groups === undefined ? undefined : new SharedGroupGate(limiter, groups, options.shared?.leaseMs ?? 30_000, this.#clock, this.#logger)
    const budget = options.shared?.budget
    const rates = options.shared?.rates
    if (rates !== undefined && Object.keys(rates).length > 0 && budget === undefined) throw new InvalidOptionError('shared.budget', 'a SharedRateBudget when shared.rates is given', undefined)
    this.#rates = budget === undefined || rates === undefined ? undefined : new SharedRateGate({ ...options.shared, budget, rates }, this.#clock, this.#logger)
  }

  /**
   * Starts listening on this owner's report channel. `start()` does it on first use; call it
   * first to be sure reports are heard before anything is published (and to see a broker error).
   */
  listen(): Promise<TransportSubscription> {
    if (this.#subscription === undefined) {
      const subscription = this.#transport.receive(this.owner, (report) => this.#onReport(report))
      this.#subscription = subscription
      // A broker that refused now may take it later: the next call tries again.
      subscription.catch(() => {
        if (this.#subscription === subscription) this.#subscription = undefined
      })
    }
    return this.#subscription
  }

  start(request: AttemptRequest, sink: AttemptSink): void {
    if (this.#closed) {
      sink.failed(new TaskweaveError('TW_TRANSPORT', 'the remote runner is closed', { retryable: false }))
      return
    }
    // The worker parses the input with its own copy of the tool's schema.
    const plain = plainAttemptRequest(request, false)
    let rate: RatePlan | undefined
    try {
      // The caller's functions see the plain copy: the run's own request reads some fields
      // through getters, which a spread or a structured clone would leave out.
      rate = this.#rates?.plan(plain)
    } catch (err) {
      // The caller's rateKeyOf threw (estimateTokens runs at the head of the key's line).
      sink.failed(err)
      return
    }
    const worker = request.route === undefined ? undefined : this.#workerFor(request.route)
    const traceparent = this.#traceparentOf(plain)
    const envelope: AttemptEnvelope = { request: plain, owner: this.owner, queue: this.#queueOf(plain), publishedAt: this.#clock.wallNow(), ...(worker !== undefined ? { worker } : {}), ...(typeof traceparent === 'string' ? { traceparent } : {}) }
    const entry: InFlight = { envelope, sink, worker: undefined, missing: 0, delivery: 0, sent: false, sentAt: 0, rate }
    this.#inFlight.set(request.attemptId, entry)
    if (this.#groups?.has(request.group) === true) {
      this.#groups.wait(request.attemptId, request.group, () => {
        if (this.#inFlight.get(request.attemptId) === entry) this.#pass(entry)
      })
    } else this.#pass(entry)
    this.#armReconciler()
  }

  cancel(attemptId: string, reason: unknown): void {
    const entry = this.#inFlight.get(attemptId)
    if (entry === undefined) return
    this.#inFlight.delete(attemptId)
    this.#groups?.end(attemptId)
    const unsent = this.#batch.includes(entry.envelope)
    this.#rates?.end(attemptId, unsent ? 'unsent' : 'cancelled')
    this.#batch = this.#batch.filter((e) => e.request.attemptId !== attemptId)
    this.#transport.cancel(attemptId, serializeError(reason)).catch((err: unknown) => {
      this.#logger.warn('could not send a cancel to the workers', { attemptId, error: String(err) })
    })
  }

  /**
   * Stops listening. Attempts still out are left to their workers; their reports go unread (a
   * durable run's next owner runs them again under new attempt ids) and the broker lets this
   * owner's channel expire.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#reconcileTimer?.()
    this.#reconcileTimer = undefined
    // Places of attempts still out expire with their leases; waiters never got one. Budgets refill.
    this.#groups?.close()
    this.#rates?.close()
    const subscription = this.#subscription
    if (subscription !== undefined) await (await subscription.catch(() => undefined))?.close()
    // With nothing out, nothing can still report here: the channel goes.
    if (this.#inFlight.size === 0 && subscription !== undefined) await this.#transport.removeOwner(this.owner)
    this.#inFlight.clear()
  }

  /**
   * Whether attempts can be handed to workers now: not while the transport says its broker cannot
   * be reached or blocks publishing, nor while a publish failed and waits to be tried again (a
   * Redis server out of memory says so only when written to). What a server checks before it
   * accepts a run it could not start (`/healthz`, `POST /api/runs`: 503 with `Retry-After`).
   */
  health(): RunnerHealth {
    const transport = this.#transport.health?.()
    if (transport !== undefined && !transport.ok) return { ok: false, since: transport.since, problem: transport.problem ?? `the ${this.#transport.type} broker cannot be reached` }
    if (this.#pruneUnpublished() > 0) return { ok: false, since: this.#publishingSince, problem: `publishing attempts fails: ${this.#publishError}` }
    return { ok: true, since: Math.max(transport?.since ?? 0, this.#publishingSince) }
  }

  /** Forgets unpublished attempts no longer in flight (ended, cancelled); how many are left. */
  #pruneUnpublished(): number {
    if (this.#unpublished.size === 0) return 0
    for (const attemptId of this.#unpublished) if (!this.#inFlight.has(attemptId)) this.#unpublished.delete(attemptId)
    if (this.#unpublished.size === 0) this.#publishingSince = this.#clock.wallNow()
    return this.#unpublished.size
  }

  #markPublished(batch: readonly AttemptEnvelope[]): void {
    if (this.#unpublished.size === 0) return
    for (const envelope of batch) this.#unpublished.delete(envelope.request.attemptId)
    if (this.#unpublished.size === 0) this.#publishingSince = this.#clock.wallNow()
  }

  #markUnpublished(batch: readonly AttemptEnvelope[], error: string): void {
    if (this.#pruneUnpublished() === 0) this.#publishingSince = this.#clock.wallNow()
    for (const envelope of batch) this.#unpublished.add(envelope.request.attemptId)
    this.#publishError = error
  }

  /** The envelopes of `batch` still current: their attempt in flight, not sent again since under a newer envelope. */
  #current(batch: readonly AttemptEnvelope[]): AttemptEnvelope[] {
    return batch.filter((envelope) => this.#inFlight.get(envelope.request.attemptId)?.envelope === envelope)
  }

  /** How many attempts are out, published, republished; reports dropped. */
  stats(): RemoteRunnerStats {
    const sharedWaiting = (this.#groups?.waiting ?? 0) + (this.#rates?.waiting ?? 0)
    return { owner: this.owner, inFlight: this.#inFlight.size, published: this.#published, republished: this.#republished, stale: this.#stale, sharedWaiting }
  }

  /** Past its group's place (or without one): takes from its shared rate budget if it has one, then goes out. */
  #pass(entry: InFlight): void {
    const attemptId = entry.envelope.request.attemptId
    if (entry.rate === undefined || this.#rates === undefined) {
      this.#enqueue(entry.envelope)
      return
    }
    this.#rates.wait(
      attemptId,
      entry.rate,
      () => {
        if (this.#inFlight.get(attemptId) === entry) this.#enqueue(entry.envelope)
      },
      (error) => {
        if (this.#inFlight.get(attemptId) !== entry) return
        this.#inFlight.delete(attemptId)
        this.#groups?.end(attemptId)
        entry.sink.failed(error)
      },
    )
  }

  /** Adds `envelope` to this tick's batch. */
  /** The caller's trace context of an attempt; a function that throws only loses the link (tracing never fails an attempt). */
  #traceparentOf(request: AttemptRequest): string | undefined {
    try {
      return this.#traceparent?.(request)
    } catch {
      return undefined
    }
  }

  #enqueue(envelope: AttemptEnvelope): void {
    if (this.#batch.length === 0) queueMicrotask(() => this.#flush())
    this.#batch.push(envelope)
  }

  #flush(): void {
    const waiting = this.#batch
    this.#batch = []
    if (waiting.length === 0) return
    // Stamped now: the time it went out is what the reconciler counts from (an attempt may have
    // waited long for a shared place before).
    const now = this.#clock.wallNow()
    const sentAt = this.#clock.now()
    const batch: AttemptEnvelope[] = []
    for (const envelope of waiting) {
      const entry = this.#inFlight.get(envelope.request.attemptId)
      if (entry === undefined || entry.envelope !== envelope) continue
      entry.envelope = { ...envelope, publishedAt: now }
      entry.sent = true
      entry.sentAt = sentAt
      batch.push(entry.envelope)
    }
    this.#published += batch.length
    if (batch.length > 0) this.#publish(batch, 0)
  }

  /**
   * Publishes `batch`; while the broker cannot take it (down, restarting, blocking, full), tries
   * again with a growing pause: an outage delays attempts, it does not fail their tasks (a task's
   * timeout still applies), and the runner says it is not ok meanwhile. Attempts cancelled or sent
   * again under a newer envelope meanwhile are left out. A refusal the transport calls final (the
   * handle is closed, the attempt cannot be encoded) fails the attempts instead.
   */
  #publish(batch: readonly AttemptEnvelope[], failures: number): void {
    this.listen()
      .then(() => this.#transport.publish(batch))
      .then(
        () => this.#markPublished(batch),
        (err: unknown) => {
          const still = this.#current(batch)
          if (this.#closed || still.length === 0) return
          if (TaskweaveError.is(err) && !err.retryable) {
            this.#markPublished(still)
            for (const envelope of still) this.#giveUp(this.#inFlight.get(envelope.request.attemptId) as InFlight, err)
            return
          }
          const delayMs = Math.min(5000, 100 * 2 ** failures)
          const error = err instanceof Error ? err.message : String(err)
          if (failures === 0 || failures % 10 === 0) this.#logger.warn('could not publish attempts; trying again', { count: still.length, delayMs, error })
          this.#markUnpublished(still, error)
          this.#clock.setTimer(delayMs, () => {
            const again = this.#current(still)
            if (again.length > 0 && !this.#closed) this.#publish(again, failures + 1)
          })
        },
      )
  }

  #onReport(report: AttemptReport): void {
    const live = this.#inFlight.get(report.attemptId)
    if (live === undefined) {
      this.#stale++
      return
    }
    switch (report.kind) {
      case 'started':
        live.worker = report.worker
        live.delivery = typeof report.deliveries === 'number' && report.deliveries >= 1 ? report.deliveries : (live.envelope.deliveries ?? 0) + 1
        live.missing = 0
        this.#armReconciler()
        return
      case 'returned': {
        // A stopping worker gave back an attempt routed to it: any worker of its queue runs it
        // now, counted with that delivery; the session's instance went with that worker.
        const { worker: _stopping, ...anyWorker } = live.envelope
        if (live.envelope.request.route !== undefined && this.#routes.get(live.envelope.request.route) === report.worker) this.#routes.delete(live.envelope.request.route)
        live.worker = undefined
        live.missing = 0
        live.envelope = { ...anyWorker, publishedAt: this.#clock.wallNow(), deliveries: report.deliveries }
        live.sentAt = this.#clock.now()
        this.#publish([live.envelope], 0)
        return
      }
      case 'progress':
        live.sink.progress(report.progress)
        return
      case 'usage':
        this.#rates?.usage(report.attemptId, report.usage)
        live.sink.usage(report.usage)
        return
      case 'limits':
        live.sink.limits(report.limits)
        return
      case 'outcome':
        this.#inFlight.delete(report.attemptId)
        this.#groups?.end(report.attemptId)
        this.#rates?.end(report.attemptId, 'outcome', retryAfterOf(report.outcome))
        if (live.envelope.request.route !== undefined) {
          // Most recently used last; the oldest route goes once there are too many to keep.
          this.#routes.delete(live.envelope.request.route)
          this.#routes.set(live.envelope.request.route, report.worker)
          if (this.#routes.size > MAX_ROUTES) this.#routes.delete(this.#routes.keys().next().value as string)
          // An outcome is as good as a heartbeat (of a worker not known to drain).
          if (!this.#draining.has(report.worker)) this.#alive.set(report.worker, this.#clock.now())
          this.#refreshAlive()
        }
        deliverOutcome(report.outcome, live.sink, deserializeError)
        return
    }
  }

  /** Fails an in-flight attempt of a task that must not run twice `TW_UNCERTAIN`: it may have run, and is not sent again. */
  #uncertain(f: InFlight): void {
    const { request } = f.envelope
    this.#giveUp(
      f,
      new TaskweaveError(
        'TW_UNCERTAIN',
        `task "${request.taskId}" attempt ${request.attempt} was lost with ${f.worker !== undefined ? `worker ${f.worker}, which had started it` : 'the worker it was routed to'} (the broker no longer holds it); the task is marked idempotent: false, so it is not sent again`,
        { retryable: false, details: { taskId: request.taskId, attempt: request.attempt, redelivered: true, ...(f.worker !== undefined ? { worker: f.worker } : {}) } },
      ),
    )
  }

  /** Fails `TW_DELIVERY_LIMIT` an attempt lost with the worker that held its last allowed delivery: it is not sent again. */
  #lostTooOften(f: InFlight, limit: number): void {
    const { request } = f.envelope
    this.#giveUp(
      f,
      new TaskweaveError(
        'TW_DELIVERY_LIMIT',
        `task "${request.taskId}": attempt ${request.attemptId} was delivered ${f.delivery} times (at most ${limit}) and no worker finished it; the last, ${f.worker ?? 'unknown'}, had started it and then died or stopped announcing itself; it is not sent again`,
        { retryable: false, details: { taskId: request.taskId, attemptId: request.attemptId, deliveries: f.delivery, queue: f.envelope.queue, ...(f.worker !== undefined ? { worker: f.worker } : {}) } },
      ),
    )
  }

  /** Stops waiting for an in-flight attempt and fails it with `error`. */
  #giveUp(f: InFlight, error: TaskweaveError): void {
    const { attemptId } = f.envelope.request
    this.#inFlight.delete(attemptId)
    this.#groups?.end(attemptId)
    this.#rates?.end(attemptId, 'outcome', undefined)
    f.sink.failed(error)
  }

  /** The live worker that ran `route`'s last attempt, if any. */
  #workerFor(route: string): string | undefined {
    const worker = this.#routes.get(route)
    if (worker === undefined) return undefined
    this.#refreshAlive()
    const seen = this.#alive.get(worker)
    if (seen !== undefined && seen > this.#clock.now() - this.#workerTimeoutMs) return worker
    // Not heard from lately: the session's instance went with it.
    this.#routes.delete(route)
    return undefined
  }

  /** Reads the workers' announcements again when the last reading is older than a third of the timeout. */
  #refreshAlive(): void {
    const now = this.#clock.now()
    if (this.#aliveReading !== undefined || now - this.#aliveReadAt < this.#workerTimeoutMs / 3) return
    this.#aliveReading = this.#transport
      .workers({ withinMs: this.#workerTimeoutMs })
      .then((workers) => {
        // Heard by the broker within the timeout: seen now, on this owner's monotonic clock (a
        // worker's own `at` is its wall clock, which may be skewed or jump). Sightings from
        // outcomes meanwhile are kept when later.
        const readAt = this.#clock.now()
        const alive = new Map(workers.map((w) => [w.worker, readAt]))
        for (const [worker, at] of this.#alive) if (at > (alive.get(worker) ?? -Infinity)) alive.set(worker, at)
        // A draining worker finishes what it holds but takes nothing new: no session goes there.
        for (const w of workers) if (w.draining === true) alive.delete(w.worker)
        this.#draining = new Set(workers.filter((w) => w.draining === true).map((w) => w.worker))
        this.#alive = alive
        this.#aliveReadAt = readAt
      })
      .catch((err: unknown) => this.#logger.warn('could not read the workers; routing to any worker', { error: String(err) }))
      .finally(() => (this.#aliveReading = undefined))
  }

  /** How often the reconciler looks: `reconcileEveryMs`, or while it is off, {@link CLAIM_CHECK_MS} for attempts a worker claimed. */
  #reconcileEvery(): number {
    if (this.#reconcileEveryMs > 0) return this.#reconcileEveryMs
    for (const f of this.#inFlight.values()) if (f.worker !== undefined) return CLAIM_CHECK_MS
    return 0
  }

  #armReconciler(): void {
    if (this.#reconcileTimer !== undefined || this.#closed) return
    const every = this.#reconcileEvery()
    if (every <= 0) return
    this.#reconcileTimer = this.#clock.setTimer(every, () => {
      this.#reconcileTimer = undefined
      void this.#reconcile().finally(() => {
        if (this.#inFlight.size > 0) this.#armReconciler()
      })
    })
  }

  /** Publishes again what the broker lost: attempts neither reported on nor held, two rounds in a row. */
  async #reconcile(): Promise<void> {
    if (this.#reconciling || this.#closed) return
    this.#reconciling = true
    try {
      // Monotonic: a wall clock that went back would otherwise hold every attempt back for the jump.
      const off = this.#reconcileEveryMs <= 0
      const cutoff = this.#clock.now() - (off ? CLAIM_CHECK_MS : this.#reconcileEveryMs)
      // Off, only claimed attempts are looked at: no broker gives them back when their worker dies.
      const candidates = [...this.#inFlight.values()].filter((f) => f.sent && f.sentAt <= cutoff && (!off || f.worker !== undefined))
      if (candidates.length === 0) return
      const held = await this.#transport.holds(candidates.map((f) => f.envelope.request.attemptId))
      const routed = candidates.some((f) => f.envelope.worker !== undefined)
      const heard = routed ? await this.#transport.workers({ withinMs: this.#workerTimeoutMs }) : []
      const alive = new Set(heard.map((w) => w.worker))
      // Only a worker that claims what it runs tells a running attempt from a waiting one.
      const drainingClaimer = new Set(heard.filter((w) => w.draining === true && w.claims === true).map((w) => w.worker))
      const again: AttemptEnvelope[] = []
      for (const f of candidates) {
        if (this.#inFlight.get(f.envelope.request.attemptId) !== f) continue
        const route = f.envelope.worker
        // A worker that drains takes nothing from its own queue any more: when it claims what it
        // runs (all of it, as it starts draining), an attempt routed to it that it did not claim
        // waits there, stranded as with a worker gone.
        const stranded = route !== undefined && (!alive.has(route) || (drainingClaimer.has(route) && f.worker === undefined))
        if (held.has(f.envelope.request.attemptId) && !stranded) f.missing = 0
        else if (++f.missing >= 2) {
          f.missing = 0
          // A task that must not run twice: whether the lost attempt ran is unknown (a worker may
          // have started it before its queue or broker lost it), and sent again it would reach
          // the next worker as new. It fails here, as a worker would fail a redelivery of it.
          if (f.envelope.request.mustNotRepeat === true) {
            this.#uncertain(f)
            continue
          }
          // Lost with the worker that had started it (a claimed RabbitMQ attempt whose worker
          // died): that delivery counts, as a broker counts one whose consumer died, so an attempt
          // that kills every worker ends like a poison message instead of looping.
          let deliveries = f.envelope.deliveries
          if (f.worker !== undefined) {
            const limit = this.#transport.maxDeliveries ?? DEFAULT_MAX_DELIVERIES
            if (f.delivery >= limit) {
              this.#lostTooOften(f, limit)
              continue
            }
            deliveries = f.delivery
            f.worker = undefined
          }
          // Routed to a worker that is gone: any worker of the queue takes it now.
          const { worker: _gone, ...rest } = f.envelope
          f.envelope = { ...(stranded ? rest : f.envelope), publishedAt: this.#clock.wallNow(), ...(deliveries !== undefined ? { deliveries } : {}) }
          f.sentAt = this.#clock.now()
          again.push(f.envelope)
        }
      }
      if (again.length > 0) {
        this.#republished += again.length
        this.#logger.warn('publishing attempts again that the broker no longer holds', { count: again.length })
        // Through the same path as a first publish: a broker that refuses it is tried again soon, and the runner says so meanwhile.
        this.#publish(again, 0)
      }
    } catch (err) {
      this.#logger.warn('reconciling attempts with the broker failed; trying again next round', { error: String(err) })
    } finally {
      this.#reconciling = false
    }
  }
}

/** The `retryAfterMs` of an outcome that is a provider's 429 (`TW_RATE_LIMITED`), if it named one. */
function retryAfterOf(outcome: AttemptOutcome): number | undefined {
  if (outcome.ok || outcome.error.code !== 'TW_RATE_LIMITED') return undefined
  const ms = outcome.error.details?.['retryAfterMs']
  return typeof ms === 'number' ? ms : undefined
}

/** Throws `TW_INVALID_OPTION` naming the first unknown or bad option of a remote runner. */
function checkRunnerOptions(options: RemoteRunnerOptions): void {
  refuseUnknownOptions('createRemoteRunner', options, ['transport', 'owner', 'queueOf', 'reconcileEveryMs', 'workerTimeoutMs', 'shared', 'traceparent', 'clock', 'logger'])
  // Without one, the first attempt would fail far from here, as a TypeError.
  checkTransport(options.transport, 'createRemoteRunner')
  if (options.traceparent !== undefined && typeof options.traceparent !== 'function') throw new InvalidOptionError('traceparent', 'a function (attempt) => traceparent', options.traceparent)
  const { reconcileEveryMs, workerTimeoutMs, shared } = options
  if (reconcileEveryMs !== undefined && !(Number.isFinite(reconcileEveryMs) && reconcileEveryMs >= 0)) throw new InvalidOptionError('reconcileEveryMs', 'a number of ms ≥ 0 (0: off)', reconcileEveryMs)
  if (workerTimeoutMs !== undefined && !(Number.isFinite(workerTimeoutMs) && workerTimeoutMs > 0)) throw new InvalidOptionError('workerTimeoutMs', 'a number of ms > 0', workerTimeoutMs)
  if (shared === undefined) return
  refuseUnknownOptions('createRemoteRunner', shared, ['limiter', 'groups', 'leaseMs', 'budget', 'rates', 'tools', 'rateKeyOf', 'estimateTokens'], 'shared.')
  if (shared.leaseMs !== undefined && !(Number.isSafeInteger(shared.leaseMs) && shared.leaseMs >= 100)) throw new InvalidOptionError('shared.leaseMs', 'a whole number of ms ≥ 100', shared.leaseMs)
  for (const [group, cap] of Object.entries(shared.groups ?? {})) {
    if (!(Number.isSafeInteger(cap) && cap >= 1)) throw new InvalidOptionError(`shared.groups.${group}`, 'a whole number ≥ 1', cap)
  }
}

/** An attempt runner that sends attempts to workers through `options.transport` (see {@link RemoteAttemptRunner}). */
export function createRemoteRunner(options: RemoteRunnerOptions): RemoteAttemptRunner {
  return new RemoteAttemptRunner(options)
}
