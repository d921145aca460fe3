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
 * @module
 */
import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import { deliverOutcome } from '../core/attempt.js'
import type { AttemptRequest, AttemptRunner, AttemptSink } from '../core/attempt.js'
import type { CancelTimer, Clock } from '../core/clock.js'
import { systemClock } from '../core/clock.js'
import { TaskweaveError, deserializeError, serializeError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import { silentLogger } from '../core/logger.js'
import { DEFAULT_WORK_QUEUE } from '../core/transport.js'
import type { AttemptEnvelope, AttemptReport, Transport, TransportSubscription } from '../core/transport.js'

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
  /** How often the reconciler looks for attempts the broker lost, in ms; 0 turns it off. @default 10000 */
  readonly reconcileEveryMs?: number
  /** A worker not heard from for this long is taken for dead: routes to it are forgotten. @default 15000 */
  readonly workerTimeoutMs?: number
  readonly clock?: Clock
  readonly logger?: Logger
}

/** An attempt sent and not yet answered. */
interface InFlight {
  envelope: AttemptEnvelope
  readonly sink: AttemptSink
  /** The worker that said it started it. */
  worker: string | undefined
  /** Reconciler rounds in a row in which the broker did not hold it. */
  missing: number
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
}

/** The owner side of distributed execution (see the module comment). */
export class RemoteAttemptRunner implements AttemptRunner {
  readonly owner: string
  readonly #transport: Transport
  readonly #queueOf: (request: AttemptRequest) => string
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
  /** Envelopes waiting for this tick's batch publish. */
  #batch: AttemptEnvelope[] = []
  #subscription: Promise<TransportSubscription> | undefined
  #reconcileTimer: CancelTimer | undefined
  #reconciling = false
  #closed = false
  #published = 0
  #republished = 0
  #stale = 0

  constructor(options: RemoteRunnerOptions) {
    this.#transport = options.transport
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    const queueOf = options.queueOf
    this.#queueOf = queueOf === 'group' ? (request) => request.group ?? DEFAULT_WORK_QUEUE : (queueOf ?? (() => DEFAULT_WORK_QUEUE))
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? silentLogger
    this.#reconcileEveryMs = options.reconcileEveryMs ?? 10_000
    this.#workerTimeoutMs = options.workerTimeoutMs ?? 15_000
  }

  /**
   * Starts listening on this owner's report channel. `start()` does it on first use; call it
   * first to be sure reports are heard before anything is published (and to see a broker error).
   */
  listen(): Promise<TransportSubscription> {
    this.#subscription ??= this.#transport.receive(this.owner, (report) => this.#onReport(report))
    return this.#subscription
  }

  start(request: AttemptRequest, sink: AttemptSink): void {
    if (this.#closed) {
      sink.failed(new TaskweaveError('TW_TRANSPORT', 'the remote runner is closed', { retryable: false }))
      return
    }
    const plain: AttemptRequest = {
      runId: request.runId,
      taskId: request.taskId,
      attempt: request.attempt,
      attemptId: request.attemptId,
      idempotencyKey: request.idempotencyKey,
      tool: request.tool,
      input: request.input,
      // The worker parses the input with its own copy of the tool's schema.
      inputChecked: false,
      timeoutMs: request.timeoutMs,
      priority: request.priority,
      group: request.group,
      route: request.route,
    }
    const worker = request.route === undefined ? undefined : this.#workerFor(request.route)
    const envelope: AttemptEnvelope = { request: plain, owner: this.owner, queue: this.#queueOf(request), publishedAt: this.#clock.wallNow(), ...(worker !== undefined ? { worker } : {}) }
    this.#inFlight.set(request.attemptId, { envelope, sink, worker: undefined, missing: 0 })
    if (this.#batch.length === 0) queueMicrotask(() => this.#flush())
    this.#batch.push(envelope)
    this.#armReconciler()
  }

  cancel(attemptId: string, reason: unknown): void {
    if (!this.#inFlight.delete(attemptId)) return
    this.#batch = this.#batch.filter((e) => e.request.attemptId !== attemptId)
    this.#transport.cancel(attemptId, serializeError(reason)).catch((err: unknown) => {
      this.#logger.warn('could not send a cancel to the workers', { attemptId, error: String(err) })
    })
  }

  /** Stops listening; attempts still out are left to their workers (their reports wait on the broker for the run's next owner). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#reconcileTimer?.()
    this.#reconcileTimer = undefined
    const subscription = this.#subscription
    if (subscription !== undefined) await (await subscription).close()
    // With nothing out, nothing can still report here: the channel goes.
    if (this.#inFlight.size === 0 && subscription !== undefined) await this.#transport.removeOwner(this.owner)
    this.#inFlight.clear()
  }

  /** How many attempts are out, published, republished; reports dropped. */
  stats(): RemoteRunnerStats {
    return { owner: this.owner, inFlight: this.#inFlight.size, published: this.#published, republished: this.#republished, stale: this.#stale }
  }

  #flush(): void {
    const batch = this.#batch
    this.#batch = []
    if (batch.length === 0) return
    this.#published += batch.length
    this.listen()
      .then(() => this.#transport.publish(batch))
      .catch((err: unknown) => {
        const error = new TaskweaveError('TW_TRANSPORT', `could not publish ${batch.length} attempt(s): ${err instanceof Error ? err.message : String(err)}`, { retryable: true, cause: err })
        for (const envelope of batch) {
          const live = this.#inFlight.get(envelope.request.attemptId)
          if (live === undefined || live.envelope !== envelope) continue
          this.#inFlight.delete(envelope.request.attemptId)
          live.sink.failed(error)
        }
      })
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
        live.missing = 0
        return
      case 'progress':
        live.sink.progress(report.progress)
        return
      case 'usage':
        live.sink.usage(report.usage)
        return
      case 'limits':
        live.sink.limits(report.limits)
        return
      case 'outcome':
        this.#inFlight.delete(report.attemptId)
        if (live.envelope.request.route !== undefined) {
          this.#routes.set(live.envelope.request.route, report.worker)
          // An outcome is as good as a heartbeat.
          this.#alive.set(report.worker, Math.max(this.#alive.get(report.worker) ?? 0, this.#clock.wallNow()))
          this.#refreshAlive()
        }
        deliverOutcome(report.outcome, live.sink, deserializeError)
        return
    }
  }

  /** The live worker that ran `route`'s last attempt, if any. */
  #workerFor(route: string): string | undefined {
    const worker = this.#routes.get(route)
    if (worker === undefined) return undefined
    this.#refreshAlive()
    const seen = this.#alive.get(worker)
    if (seen !== undefined && seen > this.#clock.wallNow() - this.#workerTimeoutMs) return worker
    // Not heard from lately: the session's instance went with it.
    this.#routes.delete(route)
    return undefined
  }

  /** Reads the workers' announcements again when the last reading is older than a third of the timeout. */
  #refreshAlive(): void {
    const now = this.#clock.wallNow()
    if (this.#aliveReading !== undefined || now - this.#aliveReadAt < this.#workerTimeoutMs / 3) return
    this.#aliveReading = this.#transport
      .workers({ withinMs: this.#workerTimeoutMs })
      .then((workers) => {
        // Keep what outcomes said meanwhile: the later of the two sightings counts.
        const alive = new Map(workers.map((w) => [w.worker, w.at]))
        for (const [worker, at] of this.#alive) if (at > (alive.get(worker) ?? 0)) alive.set(worker, at)
        this.#alive = alive
        this.#aliveReadAt = this.#clock.wallNow()
      })
      .catch((err: unknown) => this.#logger.warn('could not read the workers; routing to any worker', { error: String(err) }))
      .finally(() => (this.#aliveReading = undefined))
  }

  #armReconciler(): void {
    if (this.#reconcileEveryMs <= 0 || this.#reconcileTimer !== undefined || this.#closed) return
    this.#reconcileTimer = this.#clock.setTimer(this.#reconcileEveryMs, () => {
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
      const cutoff = this.#clock.wallNow() - this.#reconcileEveryMs
      const candidates = [...this.#inFlight.values()].filter((f) => f.envelope.publishedAt <= cutoff)
      if (candidates.length === 0) return
      const held = await this.#transport.holds(candidates.map((f) => f.envelope.request.attemptId))
      const routed = candidates.some((f) => f.envelope.worker !== undefined)
      const alive = routed ? new Set((await this.#transport.workers({ withinMs: this.#workerTimeoutMs })).map((w) => w.worker)) : undefined
      const again: AttemptEnvelope[] = []
      for (const f of candidates) {
        if (this.#inFlight.get(f.envelope.request.attemptId) !== f) continue
        const stranded = f.envelope.worker !== undefined && alive?.has(f.envelope.worker) === false
        if (held.has(f.envelope.request.attemptId) && !stranded) f.missing = 0
        else if (++f.missing >= 2) {
          f.missing = 0
          // Routed to a worker that is gone: any worker of the queue takes it now.
          const { worker: _gone, ...rest } = f.envelope
          f.envelope = { ...(stranded ? rest : f.envelope), publishedAt: this.#clock.wallNow() }
          again.push(f.envelope)
        }
      }
      if (again.length > 0) {
        this.#republished += again.length
        this.#logger.warn('publishing attempts again that the broker no longer holds', { count: again.length })
        await this.#transport.publish(again)
      }
    } catch (err) {
      this.#logger.warn('reconciling attempts with the broker failed; trying again next round', { error: String(err) })
    } finally {
      this.#reconciling = false
    }
  }
}

/** An attempt runner that sends attempts to workers through `options.transport` (see {@link RemoteAttemptRunner}). */
export function createRemoteRunner(options: RemoteRunnerOptions): RemoteAttemptRunner {
  return new RemoteAttemptRunner(options)
}
