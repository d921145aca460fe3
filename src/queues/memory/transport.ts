/**
 * The in-process {@link Transport}: owners and workers in one process (tests, a single machine),
 * through a {@link MemoryBroker}. Every transport built on one broker is like a process connected
 * to one server: `createMemoryTransport()` twice (no broker given) gives two handles on the
 * process's default broker.
 *
 * Work queues are memory queues of the broker: one per queue name, plus one per worker id for
 * envelopes addressed to a worker (`envelope.worker`), which that worker's consumer takes from
 * along with its queues, under one concurrency bound. Attempts are ordered by
 * `request.priority` within a queue. `nack()` gives an attempt back at once (or after
 * `delayMs`), however often; a handler that throws gives it back after a backoff (100 ms doubling
 * to 10 s), so a failing worker does not spin. `close()` gives back at once what its consumers
 * still hold. Stats list the routes that hold attempts as queues named `worker:<id>`.
 * @module
 */
import type { Clock } from '../../core/clock.js'
import { InvalidOptionError, TaskweaveError } from '../../core/errors.js'
import type { SerializedError } from '../../core/errors.js'
import { priorityLevel } from '../../core/queue.js'
import type { AttemptDelivery, AttemptEnvelope, AttemptReport, Transport, TransportConsumeOptions, TransportStats, TransportSubscription, WorkerInfo, WorkQueueStats } from '../../core/transport.js'
import { DEFAULT_WORK_QUEUE } from '../../core/transport.js'
import { describeThrown } from '../../core/thrown.js'
import { brokerState, createMemoryBroker, defaultMemoryBroker } from './broker.js'
import type { BrokerState, MemoryBroker } from './broker.js'
import { MemoryConsumer } from './consumer.js'
import { toJsonText } from './json-body.js'
import { checkConcurrency, checkMs } from './options.js'
import type { Lease, QueueState } from './queue-state.js'
import { abandonLease, ackLease, deadLetterLease, nackLease } from './settle.js'
import type { ResolvedRetry } from './settle.js'

/** Options of {@link createMemoryTransport}. */
export interface MemoryTransportOptions {
  /** The broker to share with other transports. @default the process's default broker, or a new one when `clock` is given */
  readonly broker?: MemoryBroker
  /** The clock of a new broker of this transport's own (for tests on a manual clock); with `broker`, it must be the broker's. */
  readonly clock?: Clock
}

/** Attempts are given back as often as workers ask; a throwing handler's backoff keeps a broken worker from spinning. */
const WORK_RETRY: ResolvedRetry = { maxDeliveries: Infinity, backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 10_000 } }

/** How long `workers()` looks back by default. */
const DEFAULT_WITHIN_MS = 15_000

/**
 * A transport on a memory broker.
 * @example
 * ```ts
 * const broker = createMemoryBroker()
 * const owner = createMemoryTransport({ broker })
 * const worker = createMemoryTransport({ broker })
 * await worker.consume(async (d) => { await run(d.envelope); await d.ack() }, { worker: 'w1', queues: ['default'], concurrency: 4 })
 * await owner.receive('owner-1', (report) => console.log(report.kind, report.attemptId))
 * ```
 */
export function createMemoryTransport(options: MemoryTransportOptions = {}): Transport {
  const { broker, clock } = options
  if (broker !== undefined && clock !== undefined && clock !== broker.clock) throw new InvalidOptionError('clock', "the broker's own clock (or no clock with a broker)", clock)
  return new MemoryTransport(broker ?? (clock !== undefined ? createMemoryBroker({ clock }) : defaultMemoryBroker()))
}

class MemoryTransport implements Transport {
  readonly type = 'memory'
  readonly #broker: BrokerState
  readonly #consumers = new Set<MemoryConsumer>()
  readonly #subscriptions = new Set<() => void>()
  #closing: Promise<void> | undefined

  constructor(broker: MemoryBroker) {
    this.#broker = brokerState(broker)
  }

  async publish(envelopes: readonly AttemptEnvelope[]): Promise<void> {
    this.#open()
    // Checked and written first, added after: a bad envelope publishes none of the call.
    const prepared = envelopes.map((envelope, k) => {
      const attemptId = envelope?.request?.attemptId
      if (typeof attemptId !== 'string' || typeof envelope.queue !== 'string' || envelope.queue === '') {
        throw this.#error(`envelope ${k + 1} of ${envelopes.length} needs a request.attemptId and a queue name`, { index: k })
      }
      if (envelope.worker !== undefined && (typeof envelope.worker !== 'string' || envelope.worker === '')) throw this.#error(`envelope ${k + 1} (attempt "${attemptId}") names an empty worker`, { index: k })
      const text = toJsonText(envelope, (problem) => this.#error(`envelope ${k + 1} (attempt "${attemptId}") is not JSON data: ${problem}`, { index: k, attemptId }))
      return { envelope, attemptId, text }
    })
    const broker = this.#broker
    for (const { envelope, attemptId, text } of prepared) {
      const state = envelope.worker !== undefined ? broker.routes.acquire(envelope.worker, broker.clock) : broker.work.acquire(envelope.queue, broker.clock)
      state.push([{ text, priority: priorityLevel(envelope.request.priority), delayMs: 0, key: attemptId }], Infinity)
    }
  }

  async consume(handler: (delivery: AttemptDelivery) => Promise<void>, options: TransportConsumeOptions): Promise<TransportSubscription> {
    this.#open()
    const { worker, signal } = options
    if (typeof worker !== 'string' || worker === '') throw new InvalidOptionError('worker', 'a non-empty worker id', worker)
    const queues: readonly string[] = options.queues ?? [DEFAULT_WORK_QUEUE]
    const isList = (value: unknown): value is readonly unknown[] => Array.isArray(value)
    if (!isList(queues) || queues.length === 0 || queues.some((q) => typeof q !== 'string' || q === '')) throw new InvalidOptionError('queues', 'a non-empty list of queue names', queues)
    const concurrency = checkConcurrency(options.concurrency)
    const broker = this.#broker
    const sources = [broker.routes.acquire(worker, broker.clock), ...[...new Set(queues)].map((q) => broker.work.acquire(q, broker.clock))]
    const consumer = new MemoryConsumer({
      sources,
      concurrency,
      clock: broker.clock,
      signal,
      run: (lease, source) => this.#run(handler, source, lease),
      abandon: (lease, source) => abandonLease(source, lease, WORK_RETRY),
    })
    this.#consumers.add(consumer)
    return {
      close: async (closeOptions) => {
        await consumer.close(closeOptions)
        this.#consumers.delete(consumer)
      },
    }
  }

  async report(owner: string, report: AttemptReport): Promise<void> {
    this.#open()
    const text = toJsonText(report, (problem) => this.#error(`the report to owner "${owner}" is not JSON data: ${problem}`, { owner }))
    this.#broker.channel(owner).push(text)
  }

  async receive(owner: string, handler: (report: AttemptReport) => void): Promise<TransportSubscription> {
    this.#open()
    return this.#subscription(this.#broker.channel(owner).subscribe(handler))
  }

  async removeOwner(owner: string): Promise<void> {
    this.#open()
    this.#broker.owners.get(owner)?.remove()
    this.#broker.owners.delete(owner)
  }

  async cancel(attemptId: string, reason: SerializedError): Promise<void> {
    this.#open()
    const text = toJsonText(reason, (problem) => this.#error(`the reason to cancel attempt "${attemptId}" is not JSON data: ${problem}`, { attemptId }))
    for (const listener of this.#broker.cancels) {
      // Each subscriber gets its own copy, on a later microtask, as from a broadcast on a broker.
      queueMicrotask(() => {
        try {
          listener(attemptId, JSON.parse(text) as SerializedError)
        } catch {
          // A subscriber's failure is its own; the others still hear the cancel.
        }
      })
    }
  }

  async onCancel(handler: (attemptId: string, reason: SerializedError) => void): Promise<TransportSubscription> {
    this.#open()
    const listener = (attemptId: string, reason: SerializedError): void => handler(attemptId, reason)
    this.#broker.cancels.add(listener)
    return this.#subscription(() => this.#broker.cancels.delete(listener))
  }

  async holds(attemptIds: readonly string[]): Promise<ReadonlySet<string>> {
    this.#open()
    const held = new Set<string>()
    const states = [...this.#broker.work.states(), ...this.#broker.routes.states()]
    for (const id of attemptIds) if (states.some((s) => s.hasKey(id))) held.add(id)
    return held
  }

  async announce(info: WorkerInfo): Promise<void> {
    this.#open()
    const text = toJsonText(info, (problem) => this.#error(`the announcement of worker "${info?.worker}" is not JSON data: ${problem}`, {}))
    this.#broker.heard(JSON.parse(text) as WorkerInfo)
  }

  async workers(options: { readonly withinMs?: number } = {}): Promise<readonly WorkerInfo[]> {
    this.#open()
    const withinMs = options.withinMs ?? DEFAULT_WITHIN_MS
    checkMs('withinMs', withinMs)
    return this.#broker.heardWithin(withinMs).map((info) => ({ ...info, queues: [...info.queues], sessions: [...info.sessions] }))
  }

  async stats(): Promise<TransportStats> {
    this.#open()
    const queues: WorkQueueStats[] = []
    const add = (state: QueueState, queue: string, isRoute: boolean): void => {
      const s = state.stats()
      // Every worker that ever consumed has a route; only those holding something are worth a line.
      if (isRoute && s.pending + s.processing + s.delayed + s.deadLettered === 0) return
      queues.push({ queue, waiting: s.pending, active: s.processing, delayed: s.delayed, dead: s.deadLettered })
    }
    for (const state of this.#broker.work.states()) add(state, state.name, false)
    for (const state of this.#broker.routes.states()) add(state, `worker:${state.name}`, true)
    return { type: this.type, queues, workers: await this.workers() }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const unsubscribe of this.#subscriptions) unsubscribe()
      this.#subscriptions.clear()
      await Promise.all([...this.#consumers].map((c) => c.close({ graceMs: 0 })))
      this.#consumers.clear()
    })()
    return this.#closing
  }

  /** Runs the handler for one attempt; acks when it returns unsettled, gives it back after a backoff when it throws. Never rejects. */
  async #run(handler: (delivery: AttemptDelivery) => Promise<void>, state: QueueState, lease: Lease): Promise<void> {
    const delivery: AttemptDelivery = {
      envelope: JSON.parse(lease.message.text) as AttemptEnvelope,
      deliveries: lease.message.deliveries,
      ack: async () => ackLease(state, lease),
      nack: async (options = {}) => {
        checkMs('delayMs', options.delayMs)
        nackLease(state, lease, WORK_RETRY, { delayMs: options.delayMs ?? 0 })
      },
      deadLetter: async (reason) => deadLetterLease(state, lease, String(reason)),
      extend: async () => {},
    }
    try {
      await handler(delivery)
      if (state.holds(lease)) ackLease(state, lease)
    } catch (err) {
      if (state.holds(lease)) nackLease(state, lease, WORK_RETRY, { reason: describeThrown(err) })
    }
  }

  #subscription(stop: () => void): TransportSubscription {
    this.#subscriptions.add(stop)
    return {
      close: async () => {
        stop()
        this.#subscriptions.delete(stop)
      },
    }
  }

  #open(): void {
    if (this.#closing !== undefined) throw this.#error('this transport is closed', {})
  }

  #error(message: string, details: Readonly<Record<string, unknown>>): TaskweaveError {
    return new TaskweaveError('TW_TRANSPORT', `memory transport: ${message}`, { retryable: false, details })
  }
}
