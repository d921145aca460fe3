/**
 * The transport port: how an owner (the process that holds a run's lease and orders its tasks)
 * hands attempts to worker processes and hears back from them. **The store is the truth, the
 * transport is delivery, the owner orders**: the transport never decides what runs next. An owner
 * publishes only the attempts it has admitted (a bounded window), a worker runs each with its own
 * copy of the tools and reports the outcome to the owner's own channel, and the owner commits it.
 *
 * Delivery is at least once, so the owner matches every report to a current attempt by its id and
 * drops the rest (an outcome from an attempt that timed out, was cancelled, or lost its lease).
 *
 * Adapters: in-process (`memory`), BullMQ on Redis, RabbitMQ through amqplib. Every guarantee
 * below is checked by `transportConformanceCases` in `taskweave/testing` against each.
 * @module
 */
import type { AttemptOutcome, AttemptRequest } from './attempt.js'
import type { SerializedError } from './errors.js'
import { serializeError, TaskweaveError } from './errors.js'
import type { LlmUsage, ProviderLimits } from './rate.js'
import type { ToolProgress } from './tool.js'

/** The queue attempts go to when their task names none. */
export const DEFAULT_WORK_QUEUE = 'default'

/** One attempt on its way to a worker. Plain JSON data. */
export interface AttemptEnvelope {
  readonly request: AttemptRequest
  /** The owner that published it: where reports about it go. */
  readonly owner: string
  /** The work queue: workers consume the queues they are started with (`--queues llm,io`). */
  readonly queue: string
  /**
   * A worker id: deliver to that worker only (session affinity: it holds the agent session's
   * instance). The owner routes so only while the worker is alive.
   */
  readonly worker?: string
  /** When the owner published it (epoch ms): workers measure dispatch latency from it. */
  readonly publishedAt: number
  /** W3C trace context of the task's span, when tracing is on. */
  readonly traceparent?: string
  /**
   * Deliveries the attempt had before this publication: set when an owner publishes again an
   * attempt lost with the worker that had claimed it, so the count goes on. @default 0
   */
  readonly deliveries?: number
}

/**
 * What is wrong with a message taken for an {@link AttemptEnvelope}, or undefined when it has the
 * shape a worker and the report path rely on. Consumers dead-letter such a message at its first
 * delivery, with this as the reason: a poison message delivered again would only come back.
 */
export function envelopeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not an object'
  const envelope = value as Record<string, unknown>
  for (const field of ENVELOPE_TEXTS) if (!isText(envelope[field])) return `"${field}" is not a non-empty string`
  if (envelope['worker'] !== undefined && !isText(envelope['worker'])) return '"worker" is not a non-empty string'
  if (typeof envelope['publishedAt'] !== 'number') return '"publishedAt" is not a number'
  const request = envelope['request']
  if (typeof request !== 'object' || request === null || Array.isArray(request)) return '"request" is not an object'
  const r = request as Record<string, unknown>
  for (const field of REQUEST_TEXTS) if (!isText(r[field])) return `"request.${field}" is not a non-empty string`
  if (!Number.isSafeInteger(r['attempt']) || (r['attempt'] as number) < 1) return '"request.attempt" is not a whole number ≥ 1'
  if (r['timeoutMs'] !== undefined && r['timeoutMs'] !== null && !(typeof r['timeoutMs'] === 'number' && r['timeoutMs'] > 0)) return '"request.timeoutMs" is not a number of ms > 0'
  if (typeof r['inputChecked'] !== 'boolean') return '"request.inputChecked" is not a boolean'
  if (typeof r['priority'] !== 'number') return '"request.priority" is not a number'
  return undefined
}

/** The text fields {@link envelopeProblem} checks (made once: it runs on every delivery). */
const ENVELOPE_TEXTS = ['owner', 'queue'] as const
const REQUEST_TEXTS = ['runId', 'taskId', 'attemptId', 'idempotencyKey', 'tool'] as const

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0
}

/**
 * What a worker tells the owner about an attempt. Plain JSON data. `started`: a worker holds the
 * attempt where the broker no longer does (a RabbitMQ claim), at its delivery number
 * `deliveries`: lost with that worker, it may have acted. `returned`: a stopping worker gives
 * back such an attempt routed to it, not run to its end: the owner sends it to any worker.
 */
export type AttemptReport =
  | { readonly kind: 'started'; readonly attemptId: string; readonly worker: string; readonly deliveries?: number }
  | { readonly kind: 'returned'; readonly attemptId: string; readonly worker: string; readonly deliveries: number }
  | { readonly kind: 'progress'; readonly attemptId: string; readonly progress: ToolProgress }
  | { readonly kind: 'usage'; readonly attemptId: string; readonly usage: LlmUsage }
  | { readonly kind: 'limits'; readonly attemptId: string; readonly limits: ProviderLimits }
  | { readonly kind: 'outcome'; readonly attemptId: string; readonly worker: string; readonly outcome: AttemptOutcome }

/**
 * The report a transport sends an attempt's owner when it dead-letters the attempt past its
 * delivery limit (each worker that took it died or gave it back): a failed outcome with
 * `TW_DELIVERY_LIMIT`, not retryable, so the task fails instead of waiting for an answer that
 * will never come, and the owner's reconciler does not publish a poison attempt again.
 */
export function deliveryLimitReport(envelope: AttemptEnvelope, deliveries: number, maxDeliveries: number): AttemptReport {
  const { attemptId, taskId } = envelope.request
  const error = new TaskweaveError(
    'TW_DELIVERY_LIMIT',
    `task "${taskId}": attempt ${attemptId} was delivered ${deliveries} times (at most ${maxDeliveries}) and no worker finished it — each one died or gave it back; it is in the dead letters of work queue "${envelope.queue}"`,
    { retryable: false, details: { taskId, attemptId, deliveries, queue: envelope.queue } },
  )
  return { kind: 'outcome', attemptId, worker: 'broker', outcome: { attemptId, ok: false, error: serializeError(error) } }
}

/** An attempt as a worker receives it. */
export interface AttemptDelivery {
  readonly envelope: AttemptEnvelope
  /** 1 the first time; more after a nack or after a worker that held it died. */
  readonly deliveries: number
  /** The attempt was run and its outcome reported: remove it. */
  ack(): Promise<void>
  /** Give it back, to be delivered again after `delayMs` (default at once). */
  nack(options?: { readonly delayMs?: number }): Promise<void>
  /** Never deliver it again (a worker that cannot even read it). */
  deadLetter(reason: string): Promise<void>
  /** Keep holding it for `ms` more (a long attempt); a no-op where the broker needs none. */
  extend(ms: number): Promise<void>
  /**
   * Aborts when the broker says this worker no longer holds the attempt while it runs (its lease
   * expired and may have gone to another worker: the process stalled, or its renewals failed);
   * the worker then stops the tool, a zombie otherwise. Optional: a transport that cannot tell
   * leaves it out, and the worker asks `extend()` now and then instead.
   */
  readonly lost?: AbortSignal
}

/** Options of a worker's `consume`. */
export interface TransportConsumeOptions {
  /** This worker's id: it also receives attempts routed to it. */
  readonly worker: string
  /** The work queues it takes attempts from. @default ['default'] */
  readonly queues?: readonly string[]
  /** Most attempts it holds at once. */
  readonly concurrency: number
  readonly signal?: AbortSignal
}

/** A running subscription or consumer. */
export interface TransportSubscription {
  /** Stops it; a consumer waits for its running handlers for at most `graceMs`, then gives their attempts back. */
  close(options?: { readonly graceMs?: number }): Promise<void>
}

/** A worker, as it announces itself. */
export interface WorkerInfo {
  readonly worker: string
  readonly queues: readonly string[]
  readonly concurrency: number
  /** Attempts it runs now. */
  readonly running: number
  /** Of those, how many per work queue (a broker that cannot count what workers hold reads it here). */
  readonly runningByQueue?: Readonly<Record<string, number>>
  /** Agent sessions (`agent#session`) whose instances it holds. */
  readonly sessions: readonly string[]
  readonly host: string
  readonly pid: number
  /** When it said so (epoch ms). */
  readonly at: number
  /** How often it announces itself, in ms: it counts as gone once about three of them were missed. */
  readonly heartbeatMs?: number
  /** It is shutting down: it finishes what it holds but takes nothing new (owners route nothing to it). */
  readonly draining?: boolean
  /**
   * Said by a draining worker that claims the attempts it runs (RabbitMQ, `claimAfterMs`): it
   * claimed all of them as it started to drain, so an owner can tell an attempt it runs (claimed)
   * from one waiting in its queue.
   */
  readonly claims?: boolean
  /**
   * Attempts it runs that the broker no longer holds for it (RabbitMQ: acknowledged while still
   * running, see `claimAfterMs`): they count as held while it keeps announcing them.
   */
  readonly claimed?: readonly string[]
  /**
   * Every attempt it holds now, claimed or not (RabbitMQ): with it an owner tells an attempt a
   * worker runs from one a deleted or purged queue lost, which the broker cannot say.
   */
  readonly holding?: readonly string[]
}

/** One work queue's numbers. */
export interface WorkQueueStats {
  readonly queue: string
  /** Waiting for a worker. */
  readonly waiting: number
  /** Held by workers. */
  readonly active: number
  /** Waiting for a delay. */
  readonly delayed: number
  /** Given up (dead-lettered). */
  readonly dead: number
}

/** A transport's numbers. */
export interface TransportStats {
  readonly type: string
  readonly queues: readonly WorkQueueStats[]
  /** Workers that announced themselves within the last heartbeat timeout. */
  readonly workers: readonly WorkerInfo[]
}

/** Whether a transport handle reaches its broker now. */
export interface TransportHealth {
  /** True while the broker answers and takes publishes. */
  readonly ok: boolean
  /** What is wrong when not ok: the broker cannot be reached (and the last error), or it blocks publishing (a resource alarm). */
  readonly problem?: string
  /** Since when (epoch ms) the handle is in this state. */
  readonly since: number
}

/** Delivers attempts from owners to workers and reports back. */
export interface Transport {
  /** `memory`, `redis`, `rabbitmq` or a third party's. */
  readonly type: string
  /**
   * Deliveries of one attempt before it is dead-lettered (the transport's `maxDeliveries`): an
   * owner that publishes an attempt again after the worker that held it was lost counts that
   * delivery against it too.
   */
  readonly maxDeliveries?: number
  /** Publishes attempts; resolves once the broker holds every one (durably where it can). */
  publish(envelopes: readonly AttemptEnvelope[]): Promise<void>
  /**
   * Worker side: takes attempts from its queues and its own route, at most `concurrency` at once.
   * An attempt delivered more often than the transport's delivery limit is dead-lettered instead of
   * handed to `handler`, and its owner gets {@link deliveryLimitReport}.
   */
  consume(handler: (delivery: AttemptDelivery) => Promise<void>, options: TransportConsumeOptions): Promise<TransportSubscription>
  /** Worker side: sends a report to `owner`. Reports to one owner arrive in the order they were sent. */
  report(owner: string, report: AttemptReport): Promise<void>
  /**
   * Owner side: hears the reports sent to `owner`, including those sent while it was not listening
   * (they wait on the broker until it is, or until {@link removeOwner}).
   */
  receive(owner: string, handler: (report: AttemptReport) => void): Promise<TransportSubscription>
  /** Removes what the broker keeps for `owner` (its report channel): an owner that closes cleanly calls it. */
  removeOwner(owner: string): Promise<void>
  /** Asks whichever worker runs `attemptId` to stop it (every worker hears it; a broadcast). */
  cancel(attemptId: string, reason: SerializedError): Promise<void>
  /** Worker side: hears cancels. */
  onCancel(handler: (attemptId: string, reason: SerializedError) => void): Promise<TransportSubscription>
  /**
   * Which of `attemptIds` the broker still holds (waiting, delayed or being processed), for the
   * owner's reconciler: an attempt the owner started that the broker no longer holds and that no
   * worker reported is published again. A broker that cannot look messages up answers from what
   * it can know (a durable queue that exists holds its messages).
   */
  holds(attemptIds: readonly string[]): Promise<ReadonlySet<string>>
  /** Worker side: says this worker is alive (a heartbeat), with what it runs and holds. */
  announce(info: WorkerInfo): Promise<void>
  /** The workers heard from within `withinMs` (default 15 s). */
  workers(options?: { readonly withinMs?: number }): Promise<readonly WorkerInfo[]>
  stats(): Promise<TransportStats>
  /**
   * Whether the handle reaches its broker now, from what its connections last saw (no round
   * trip): for health checks. Optional for third-party transports (taken as always healthy).
   */
  health?(): TransportHealth
  /** Closes connections and every consumer and subscription of this handle. */
  close(): Promise<void>
}
