/**
 * The attempt transport on RabbitMQ. Attempts travel as persistent messages (id = attempt id,
 * priority = the task's priority as a level 0–9) through work queues built like the message
 * queue's (`names.ts`): one per work queue name (`prefix:work:<queue>`) and one per worker id for
 * routed attempts (`prefix:worker:<id>`, expiring `workerExpiresMs` after its worker stopped
 * consuming). Reports, cancels and the worker registry are in `reports.ts`, `cancels.ts` and
 * `registry.ts`; `holds()` is answered from the ledger (`ledger.ts`).
 *
 * A worker's consumer takes from its work queues and its own queue on one channel, at most
 * `concurrency` attempts at once. `nack()` gives an attempt back (counted in `deliveries`, never
 * dead-lettered); an attempt whose worker died is given back by the broker and counted, and
 * past `maxDeliveries` it is dead-lettered instead. A handler that throws gives its attempt back
 * at once; one that returns without settling does too, except while its consumer closes (the
 * channel's close then gives it back). An attempt that runs `claimAfterMs` is claimed: acknowledged
 * while it runs, listed in its worker's heartbeats (`claims.ts`), and counted held by `holds()`
 * while that worker announces itself, so the broker's `consumer_timeout` cannot cut it.
 * @module
 */
import type { SerializedError } from '../../core/errors.js'
import { priorityLevel } from '../../core/queue.js'
import { DEFAULT_WORK_QUEUE, deliveryLimitReport, envelopeProblem } from '../../core/transport.js'
import type {
  AttemptDelivery,
  AttemptEnvelope,
  AttemptReport,
  Transport,
  TransportConsumeOptions,
  TransportHealth,
  TransportStats,
  TransportSubscription,
  WorkerInfo,
  WorkQueueStats,
} from '../../core/transport.js'
import type { Message } from 'amqplib'
import { hostname } from 'node:os'
import { Claims } from './claims.js'
import { listenCancels, sendCancel } from './cancels.js'
import type { RabbitConnection } from './connection.js'
import { RabbitConsumer } from './consumer.js'
import { closedError, guarded, rabbitError } from './errors.js'
import type { Scope } from './errors.js'
import type { Ledger, LedgerEntry } from './ledger.js'
import { countQueues, sumOf } from './inspect.js'
import { publishOptions } from './message.js'
import type { Mover } from './moves.js'
import type { TransportNames, WorkQueueNames } from './names.js'
import type { ResolvedRabbitTransportOptions } from './options.js'
import type { Outgoing, Publisher } from './publisher.js'
import { handleAttempt } from './transport-delivery.js'
import type { ClaimContext } from './transport-delivery.js'
import { LIVE_HEARTBEATS } from './registry.js'
import type { WorkerRegistry } from './registry.js'
import type { Reports } from './reports.js'
import { declareWorkQueue } from './topology.js'
import type { WorkQueueShape } from './topology.js'

/** What a transport handle is built from. */
export interface TransportParts {
  readonly connection: RabbitConnection
  readonly publisher: Publisher
  readonly mover: Mover
  readonly scope: Scope
  readonly options: ResolvedRabbitTransportOptions
  readonly names: TransportNames
  readonly reports: Reports
  readonly registry: WorkerRegistry
  readonly ledger: Ledger
}

/** A work queue declared by a publisher recently enough to publish to without declaring it again. */
const REDECLARE_MS = 60_000
const DEFAULT_WITHIN_MS = 15_000
const ignore = (): void => {}

/** A RabbitMQ transport (see the module header). */
export class RabbitTransport implements Transport {
  readonly type = 'rabbitmq'
  readonly #parts: TransportParts
  readonly #consumers = new Set<RabbitConsumer>()
  readonly #subscriptions = new Set<TransportSubscription>()
  readonly #declared = new Map<string, { readonly generation: number; readonly at: number }>()
  /** Attempts this handle's workers hold now, per work queue. */
  readonly #active = new Map<string, number>()
  /** The workers consuming through this handle (their attempts are counted here, not from heartbeats). */
  readonly #workerIds = new Set<string>()
  /** Attempts this handle's workers claimed (see `claimAfterMs`). */
  readonly #claims: Claims
  /** Attempts each of this handle's workers holds now (listed in its heartbeats as `holding`). */
  readonly #holding = new Map<string, Map<string, number>>()
  /**
   * Attempts no live worker holds while every queue they could wait in is empty, with the time
   * (monotonic ms) that was first seen: a deleted or purged queue lost them (see {@link holds}).
   */
  readonly #unaccountedSince = new Map<string, number>()
  #closing: Promise<void> | undefined

  constructor(parts: TransportParts) {
    this.#parts = parts
    this.#claims = new Claims(parts.registry, parts.options.claimAfterMs > 0)
  }

  get maxDeliveries(): number {
    return this.#parts.options.maxDeliveries
  }

  health(): TransportHealth {
    return this.#parts.connection.health()
  }

  publish(envelopes: readonly AttemptEnvelope[]): Promise<void> {
    return guarded(this.#parts.scope, 'publish', async () => {
      this.#checkOpen('publish')
      if (envelopes.length === 0) return
      // Before any declaration: the broker reads nothing from a blocked connection.
      const blocked = this.#parts.connection.blockedError('publish')
      if (blocked !== undefined) throw blocked
      const { publisher, ledger, scope } = this.#parts
      const outgoing: Outgoing[] = []
      const shapes = new Set<WorkQueueShape>()
      const attempts: [string, LedgerEntry][] = []
      for (const envelope of envelopes) {
        const shape = this.#shapeOf(envelope)
        shapes.add(shape)
        let content: string
        try {
          content = JSON.stringify(envelope)
        } catch (err) {
          throw rabbitError(scope, 'encoding an attempt as JSON', err, { retryable: false })
        }
        const attemptId = envelope.request.attemptId
        attempts.push([attemptId, { queue: envelope.queue, worker: envelope.worker }])
        outgoing.push({ exchange: '', routingKey: shape.names.main, content: Buffer.from(content), options: publishOptions(attemptId, priorityLevel(envelope.request.priority), undefined, deliveriesOf(envelope)) })
      }
      for (const shape of shapes) await this.#ensureDeclared(shape)
      // The ledger's notice goes first: every handle has it before any worker can settle one of these.
      const results = await publisher.publish([ledger.publishing(attempts), ...outgoing], 'publishing attempts').catch((err: unknown) => {
        for (const [id] of attempts) ledger.forget(id)
        throw err
      })
      const refused = results.slice(1).filter((r) => r !== 'ok').length
      if (refused > 0) throw rabbitError(scope, 'publishing attempts', new Error(`the broker refused ${refused} of ${envelopes.length} attempts`))
    })
  }

  consume(handler: (delivery: AttemptDelivery) => Promise<void>, options: TransportConsumeOptions): Promise<TransportSubscription> {
    return guarded(this.#parts.scope, 'consume', async () => {
      this.#checkOpen('consume')
      options.signal?.throwIfAborted()
      const { connection, mover, scope, options: resolved, names, ledger } = this.#parts
      const concurrency = options.concurrency
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 65535) throw rabbitError(scope, 'starting a consumer', new Error(`concurrency must be an integer from 1 to 65535, not ${String(concurrency)}`), { retryable: false })
      const queues = options.queues ?? [DEFAULT_WORK_QUEUE]
      for (const queue of queues) ledger.noteQueue(queue)
      this.#workerIds.add(options.worker)
      let holding = this.#holding.get(options.worker)
      if (holding === undefined) this.#holding.set(options.worker, (holding = new Map<string, number>()))
      const route: WorkQueueShape = { names: names.worker(options.worker), expiresMs: resolved.workerExpiresMs }
      const sources: WorkQueueShape[] = [...queues.map((q) => ({ names: names.work(q) })), route]
      let closing = false
      const claim: ClaimContext = {
        afterMs: resolved.claimAfterMs,
        worker: options.worker,
        claims: this.#claims,
        pending: new Set(),
        info: () => ({ worker: options.worker, queues, concurrency, running: 0, sessions: [], host: hostname(), pid: process.pid, at: Date.now(), heartbeatMs: resolved.heartbeatMs }),
        report: (owner, report) => this.#parts.reports.send(owner, report),
      }
      // The route's dead queue has no consumer: declared again now and then, it (and the
      // auto-delete exchange bound to it) lives as long as the worker, and expires after it.
      const keepRoute = setInterval(() => {
        connection.withSession('keeping the worker route', async (session) => declareWorkQueue(await session.ops(), scope, route)).catch(() => undefined)
      }, Math.min(60_000, Math.max(100, Math.floor(resolved.workerExpiresMs / 3))))
      keepRoute.unref()
      const consumer = new RabbitConsumer(connection, mover, scope, {
        sources,
        concurrency,
        maxDeliveries: resolved.maxDeliveries,
        handle: (raw) => handleAttempt(raw, handler, { closing: () => closing, ledger, active: this.#active, holding, claim }),
        onLimit: (meta, deliveries, message) => {
          ledger.gone(meta.id)
          this.#reportLimit(message, deliveries)
        },
      })
      this.#consumers.add(consumer)
      try {
        await consumer.start()
      } catch (err) {
        clearInterval(keepRoute)
        this.#consumers.delete(consumer)
        await consumer.close(0)
        throw err
      }
      const close = async (graceMs = 30_000): Promise<void> => {
        clearInterval(keepRoute)
        closing = true
        // What runs through a drain is claimed at once: its owner then knows it runs here, and
        // takes what still waits in this worker's own queue for stranded (another worker runs it).
        const claimRunning = graceMs > 0 && claim.afterMs > 0 ? async () => void (await Promise.all([...claim.pending].map((c) => c.now()))) : undefined
        await consumer.close(graceMs, claimRunning)
        // Past the grace, what still runs claimed goes back now, as the channel's close gives back the rest.
        await Promise.all([...claim.pending].map((c) => c.returnIfClaimed().catch(ignore)))
        this.#consumers.delete(consumer)
      }
      options.signal?.addEventListener('abort', () => void close(), { once: true })
      return { close: (o) => close(o?.graceMs) }
    })
  }

  report(owner: string, report: AttemptReport): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(closedError(this.#parts.scope, 'report'))
    return this.#parts.reports.send(owner, report)
  }

  receive(owner: string, handler: (report: AttemptReport) => void): Promise<TransportSubscription> {
    return guarded(this.#parts.scope, 'receive', async () => {
      this.#checkOpen('receive')
      return this.#track(await this.#parts.reports.receive(owner, handler))
    })
  }

  removeOwner(owner: string): Promise<void> {
    return guarded(this.#parts.scope, 'removeOwner', async () => {
      this.#checkOpen('removeOwner')
      await this.#parts.reports.remove(owner)
    })
  }

  cancel(attemptId: string, reason: SerializedError): Promise<void> {
    return guarded(this.#parts.scope, 'cancel', async () => {
      this.#checkOpen('cancel')
      await sendCancel(this.#parts.publisher, this.#parts.names.cancels, attemptId, reason)
    })
  }

  onCancel(handler: (attemptId: string, reason: SerializedError) => void): Promise<TransportSubscription> {
    return guarded(this.#parts.scope, 'onCancel', async () => {
      this.#checkOpen('onCancel')
      return this.#track(await listenCancels(this.#parts.connection, this.#parts.names.cancels, handler))
    })
  }

  /**
   * Which of `attemptIds` the broker or a live worker still holds. A worker that still announces
   * itself holds what it claimed or lists as held (running). Anything else waits in a queue: held
   * while that queue exists and is not empty. A queue that exists yet is empty while no live
   * worker holds the attempt has lost it (deleted and declared again, or purged): said so once
   * that has been true for three heartbeats, the time a worker that has just taken the attempt
   * needs to list it. A queue some live worker consumes without listing what it holds (an older
   * worker) keeps its attempts held while it exists, as before.
   */
  holds(attemptIds: readonly string[]): Promise<ReadonlySet<string>> {
    return guarded(this.#parts.scope, 'holds', async () => {
      this.#checkOpen('holds')
      if (attemptIds.length === 0) return new Set<string>()
      const { connection, ledger, names, options, registry, mover } = this.#parts
      await ledger.sync(options.publishTimeoutMs)
      // Marks of attempts not asked about any more (ended, or reported) go.
      if (this.#unaccountedSince.size > 0) {
        const asked = new Set(attemptIds)
        for (const id of this.#unaccountedSince.keys()) if (!asked.has(id)) this.#unaccountedSince.delete(id)
      }
      const claimedByLive = registry.claimedByLive(options.heartbeatMs)
      const { held, unlisted, slowestHeartbeatMs } = registry.heldByLive(options.heartbeatMs)
      const found = new Set<string>()
      const byQueue = new Map<string, { readonly names: WorkQueueNames; readonly unlisted: boolean; readonly ids: string[] }>()
      for (const id of attemptIds) {
        if (claimedByLive.has(id) || held.has(id) || this.#holdsHere(id)) {
          found.add(id)
          this.#unaccountedSince.delete(id)
          continue
        }
        const entry = ledger.entry(id)
        if (entry === undefined) continue
        const queueNames = entry.worker !== undefined ? names.worker(entry.worker) : names.work(entry.queue)
        let group = byQueue.get(queueNames.main)
        if (group === undefined) byQueue.set(queueNames.main, (group = { names: queueNames, unlisted: unlisted.has(entry.worker ?? entry.queue), ids: [] }))
        group.ids.push(id)
      }
      if (byQueue.size === 0) return found
      // Where a waiting attempt can be: the main queue, the later one, a delay queue.
      const where = (n: WorkQueueNames): string[] => [n.main, n.later, ...mover.delaysUsed(n).map((d) => n.delay(d))]
      const counts = await connection.withSession('checking which attempts the broker holds', (session) => countQueues(session, [...byQueue.values()].flatMap((g) => where(g.names))))
      const now = performance.now()
      const lostAfterMs = LIVE_HEARTBEATS * slowestHeartbeatMs
      for (const [main, group] of byQueue) {
        // A queue that is gone lost its messages.
        if (!counts.has(main)) continue
        const waiting = sumOf(counts, where(group.names)) > 0
        for (const id of group.ids) {
          if (waiting || group.unlisted) {
            this.#unaccountedSince.delete(id)
            found.add(id)
            continue
          }
          // The mark stays once the attempt is said lost: the runner asks twice before it sends it again.
          const since = this.#unaccountedSince.get(id)
          if (since === undefined) this.#unaccountedSince.set(id, now)
          if (since === undefined || now - since < lostAfterMs) found.add(id)
        }
      }
      return found
    })
  }

  /** Whether one of this handle's workers holds attempt `id` now (known here before any heartbeat says so). */
  #holdsHere(id: string): boolean {
    for (const holding of this.#holding.values()) if (holding.has(id)) return true
    return false
  }

  announce(info: WorkerInfo): Promise<void> {
    return guarded(this.#parts.scope, 'announce', async () => {
      this.#checkOpen('announce')
      const holding = this.#holding.get(info.worker)
      const listed = this.#claims.withClaims(info)
      await this.#parts.registry.announce(holding === undefined ? listed : { ...listed, holding: [...holding.keys()] })
    })
  }

  async workers(options: { readonly withinMs?: number } = {}): Promise<readonly WorkerInfo[]> {
    this.#checkOpen('workers')
    return this.#parts.registry.workers(options.withinMs ?? DEFAULT_WITHIN_MS)
  }

  stats(): Promise<TransportStats> {
    return guarded(this.#parts.scope, 'stats', async () => {
      this.#checkOpen('stats')
      const { connection, names, mover, registry } = this.#parts
      // A fresh handle (the CLI's) knows the workers once its ping was answered, and the queues
      // from them: those published to through it, those the live workers consume, the default.
      await registry.settled()
      // Closed while it waited: said as any call after close() is.
      this.#checkOpen('stats')
      const workers = registry.workers(3 * this.#parts.options.heartbeatMs)
      const known = new Set([...this.#parts.ledger.queues, ...workers.flatMap((w) => w.queues), DEFAULT_WORK_QUEUE])
      const perQueue: { readonly queue: string; readonly names: WorkQueueNames; readonly delays: string[] }[] = [...known].map((queue) => {
        const n = names.work(queue)
        return { queue, names: n, delays: mover.delaysUsed(n).map((d) => n.delay(d)) }
      })
      const counts = await connection.withSession('reading stats', (session) => countQueues(session, perQueue.flatMap((q) => [q.names.main, q.names.later, q.names.dead, ...q.delays])))
      // What other processes' workers hold, the broker does not say: their last heartbeats do.
      const heldElsewhere = new Map<string, number>()
      for (const w of workers) {
        if (this.#workerIds.has(w.worker) || typeof w.runningByQueue !== 'object' || w.runningByQueue === null) continue
        for (const [queue, n] of Object.entries(w.runningByQueue)) if (typeof n === 'number' && n > 0) heldElsewhere.set(queue, (heldElsewhere.get(queue) ?? 0) + n)
      }
      // A queue that does not exist on the broker (nothing ever used it) is left out.
      const queues: WorkQueueStats[] = perQueue.filter((q) => counts.has(q.names.main)).map((q) => ({
        queue: q.queue,
        waiting: sumOf(counts, [q.names.main, q.names.later]),
        active: (this.#active.get(q.queue) ?? 0) + (heldElsewhere.get(q.queue) ?? 0),
        delayed: sumOf(counts, q.delays),
        dead: counts.get(q.names.dead) ?? 0,
      }))
      return { type: this.type, queues, workers }
    })
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    const { connection, publisher, reports, registry, ledger, scope } = this.#parts
    await Promise.all([...this.#consumers].map((c) => c.close(0)))
    this.#consumers.clear()
    await Promise.all([...this.#subscriptions].map((s) => s.close().catch(ignore)))
    this.#subscriptions.clear()
    await reports.close()
    await registry.close()
    await ledger.close()
    publisher.failAll(closedError(scope, 'publishing'))
    await connection.close()
  }

  #shapeOf(envelope: AttemptEnvelope): WorkQueueShape {
    const { names, options } = this.#parts
    if (envelope.worker !== undefined) return this.#shape(names.worker(envelope.worker), options.workerExpiresMs)
    return this.#shape(names.work(envelope.queue), undefined)
  }

  /** One shape object per main queue name, so a batch declares each queue once. */
  readonly #shapes = new Map<string, WorkQueueShape>()
  #shape(names: WorkQueueNames, expiresMs: number | undefined): WorkQueueShape {
    let shape = this.#shapes.get(names.main)
    if (shape === undefined) this.#shapes.set(names.main, (shape = { names, expiresMs }))
    return shape
  }

  async #ensureDeclared(shape: WorkQueueShape): Promise<void> {
    const { connection, scope } = this.#parts
    await connection.withSession('publishing attempts', async (session) => {
      const last = this.#declared.get(shape.names.main)
      if (last !== undefined && last.generation === session.generation && Date.now() - last.at < REDECLARE_MS) return
      await declareWorkQueue(await session.ops(), scope, shape)
      this.#declared.set(shape.names.main, { generation: session.generation, at: Date.now() })
    })
  }

  #track(subscription: TransportSubscription): TransportSubscription {
    this.#subscriptions.add(subscription)
    return {
      close: async (options) => {
        this.#subscriptions.delete(subscription)
        await subscription.close(options)
      },
    }
  }

  /** Tells the owner of an attempt dead-lettered past the delivery limit (a broken message tells no one). */
  #reportLimit(message: Message, deliveries: number): void {
    let envelope: AttemptEnvelope
    try {
      envelope = JSON.parse(message.content.toString('utf8')) as AttemptEnvelope
      if (envelopeProblem(envelope) !== undefined) return
    } catch {
      return
    }
    this.report(envelope.owner, deliveryLimitReport(envelope, deliveries, this.#parts.options.maxDeliveries)).catch(() => undefined)
  }

  #checkOpen(operation: string): void {
    if (this.#closing !== undefined) throw closedError(this.#parts.scope, operation)
  }
}

/** The deliveries an envelope says its attempt had before (a whole number ≥ 0). */
function deliveriesOf(envelope: AttemptEnvelope): number {
  const d = envelope.deliveries
  return typeof d === 'number' && Number.isSafeInteger(d) && d > 0 ? d : 0
}
