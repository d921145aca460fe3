/**
 * A memory broker: what memory transports in one process share, as processes share one Redis or
 * RabbitMQ server. It holds the work queues (one memory queue per queue name), the routes (one
 * per worker id, for envelopes addressed to a worker), the owners' report channels, the cancel
 * subscribers and the workers' heartbeats. Transports built without a broker share the process's
 * default one; tests make their own with {@link createMemoryBroker}.
 * @module
 */
import type { Clock } from '../../core/clock.js'
import { systemClock } from '../../core/clock.js'
import type { SerializedError } from '../../core/errors.js'
import type { WorkerInfo } from '../../core/transport.js'
import { QueueRegistry } from './registry.js'
import { ReportChannel } from './report-channel.js'

/** A worker's last heartbeat as the broker heard it. */
export interface Heartbeat {
  readonly info: WorkerInfo
  /** When the broker heard it (epoch ms on the broker's clock). */
  readonly heardAt: number
}

/** Heartbeats older than this are forgotten, so workers that came and went do not pile up. */
const FORGET_WORKERS_AFTER_MS = 3_600_000

/**
 * A memory broker, as its users see it: an identity and a clock. What it holds is kept by this
 * module ({@link brokerState}), so none of it is part of the public type. Make one with
 * {@link createMemoryBroker}.
 */
export class MemoryBroker {
  /** What every queue of the broker runs its delays and timings on. */
  readonly clock: Clock

  constructor(clock: Clock) {
    this.clock = clock
  }
}

/** What a broker holds. */
export class BrokerState {
  /** Work queues by queue name. */
  readonly work = new QueueRegistry()
  /** Routes by worker id. */
  readonly routes = new QueueRegistry()
  /** Report channels by owner. */
  readonly owners = new Map<string, ReportChannel>()
  /** Cancel subscribers. */
  readonly cancels = new Set<(attemptId: string, reason: SerializedError) => void>()
  readonly #workers = new Map<string, Heartbeat>()

  constructor(readonly clock: Clock) {}

  /** The report channel of `owner`, created on first use. */
  channel(owner: string): ReportChannel {
    let channel = this.owners.get(owner)
    if (channel === undefined) {
      channel = new ReportChannel()
      this.owners.set(owner, channel)
    }
    return channel
  }

  /** Records a heartbeat. */
  heard(info: WorkerInfo): void {
    const now = this.clock.wallNow()
    this.#workers.set(info.worker, { info, heardAt: now })
    for (const [worker, beat] of this.#workers) if (beat.heardAt < now - FORGET_WORKERS_AFTER_MS) this.#workers.delete(worker)
  }

  /** The workers heard from within `withinMs`. */
  heardWithin(withinMs: number): WorkerInfo[] {
    const since = this.clock.wallNow() - withinMs
    return [...this.#workers.values()].filter((beat) => beat.heardAt >= since).map((beat) => beat.info)
  }
}

const states = new WeakMap<MemoryBroker, BrokerState>()

/** What `broker` holds, made on first use (so any `MemoryBroker` works, however it was made). */
export function brokerState(broker: MemoryBroker): BrokerState {
  let state = states.get(broker)
  if (state === undefined) {
    state = new BrokerState(broker.clock)
    states.set(broker, state)
  }
  return state
}

/**
 * A new memory broker: transports built on it (`createMemoryTransport({ broker })`) see the same
 * queues, reports, cancels and workers, and nothing of other brokers.
 * @example
 * ```ts
 * const broker = createMemoryBroker()
 * const owner = createMemoryTransport({ broker })
 * const worker = createMemoryTransport({ broker })
 * ```
 */
export function createMemoryBroker(options: { readonly clock?: Clock } = {}): MemoryBroker {
  return new MemoryBroker(options.clock ?? systemClock)
}

let defaultBroker: MemoryBroker | undefined

/** The process's default broker (system clock), made on first use. */
export function defaultMemoryBroker(): MemoryBroker {
  defaultBroker ??= new MemoryBroker(systemClock)
  return defaultBroker
}
