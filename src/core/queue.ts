/**
 * The message-queue port: a named, durable work queue with priorities, acknowledgement, retry
 * with backoff, a dead-letter list, a size limit and statistics. It is the public queue
 * interface (the same API on every adapter: in memory, Redis through BullMQ, RabbitMQ through
 * amqplib) and what the distributed transport builds on.
 *
 * Delivery is **at least once**: a message is removed only when a consumer acknowledges it; a
 * consumer that dies (its process killed, its connection lost) leaves its messages to be delivered
 * again, after at most {@link MessageQueueOptions.leaseMs} on brokers that detect it by lease
 * (Redis) and at once on brokers that see the connection close (RabbitMQ). Every delivery counts
 * towards {@link RetryPolicy.maxDeliveries}, a crash's redelivery included; past it the message is
 * dead-lettered, so a poison message cannot loop for ever.
 *
 * Every guarantee below is checked by the conformance suite in `taskweave/testing`
 * (`queueConformanceCases`), which each adapter passes against its real broker.
 * @module
 */
import { InvalidOptionError } from './errors.js'
import { checkPriority, refuseUnknownOptions } from './known-options.js'

/**
 * Priorities are compared as whole levels from 0 to {@link MAX_MESSAGE_PRIORITY} (higher first;
 * other values are rounded and clamped): ten levels, what a RabbitMQ priority queue serves
 * efficiently, and the same on every adapter so ordering does not change with the broker. Within
 * a level, messages are delivered in the order they were enqueued.
 */
export const MAX_MESSAGE_PRIORITY = 9

/** The level a priority value is compared at: rounded, clamped to 0…{@link MAX_MESSAGE_PRIORITY}; not a finite number → 0. */
export function priorityLevel(priority: number | undefined): number {
  if (priority === undefined || !Number.isFinite(priority)) return 0
  return Math.min(MAX_MESSAGE_PRIORITY, Math.max(0, Math.round(priority)))
}

/** How a queue retries a message whose handler failed (threw or called `nack()` without a delay). */
export interface RetryPolicy {
  /**
   * Deliveries after which a message that failed again is dead-lettered instead (the first
   * delivery counts as 1). @default 5
   */
  readonly maxDeliveries?: number
  /** Delay before the next delivery after a failure. @default exponential from 1 s, at most 60 s */
  readonly backoff?: BackoffPolicy
}

/** The delay before redelivering a failed message. */
export interface BackoffPolicy {
  /** `fixed`: always `delayMs`; `exponential`: `delayMs × 2^(deliveries − 1)`. @default 'exponential' */
  readonly type?: 'fixed' | 'exponential'
  /** @default 1000 */
  readonly delayMs?: number
  /** Upper bound of the delay. @default 60000 */
  readonly maxDelayMs?: number
}

/** The delay before delivery `deliveries + 1` of a message under `backoff` (after `deliveries` failed deliveries). */
export function backoffDelayMs(backoff: BackoffPolicy | undefined, deliveries: number): number {
  const base = backoff?.delayMs ?? 1000
  const max = backoff?.maxDelayMs ?? 60_000
  const delay = (backoff?.type ?? 'exponential') === 'fixed' ? base : base * 2 ** Math.max(0, deliveries - 1)
  return Math.max(0, Math.min(max, delay))
}

/** What every adapter takes besides its connection. */
export interface MessageQueueOptions {
  /** The queue's name: letters, digits, `.`, `-`, `_` (1–100 characters). Queues with the same name (and prefix) on the same broker are the same queue. */
  readonly name: string
  /**
   * The most messages that may wait to be delivered (ready, not delayed, not being processed);
   * `enqueue` past it rejects with `TW_QUEUE_FULL` and enqueues nothing of that call.
   * @default unlimited
   */
  readonly maxSize?: number
  /** @default { maxDeliveries: 5, backoff: exponential from 1 s } */
  readonly retry?: RetryPolicy
  /**
   * How long a consumer holds a message before the queue may deliver it again if the consumer
   * went silent (Redis: the job lock, renewed while the handler runs). @default 30000
   */
  readonly leaseMs?: number
}

/** Options of one `enqueue`. */
export interface EnqueueOptions {
  /** 0–9, higher first (see {@link MAX_MESSAGE_PRIORITY}). @default 0 */
  readonly priority?: number
  /** Deliver no sooner than this many ms from now. @default 0 */
  readonly delayMs?: number
}

/** One message of an `enqueueMany`. */
export interface OutgoingMessage<T> extends EnqueueOptions {
  readonly body: T
}

/** A message as a consumer receives it. */
export interface Delivery<T> {
  /** The message's id, unique in its queue, the same on every delivery. */
  readonly id: string
  /** The body, as JSON data (a fresh copy per delivery). */
  readonly body: T
  /** The priority level it was enqueued with. */
  readonly priority: number
  /** Which delivery this is: 1 the first time, 2 after one failure or lost consumer… */
  readonly deliveries: number
  /** When it was first enqueued (epoch ms). */
  readonly enqueuedAt: number
  /** Done: the message leaves the queue and counts as completed. */
  ack(): Promise<void>
  /**
   * Failed: deliver it again after `delayMs` (default: the queue's backoff for this delivery),
   * or dead-letter it when this was its last allowed delivery. `reason` is kept with a dead letter.
   */
  nack(options?: { readonly delayMs?: number; readonly reason?: string }): Promise<void>
  /** Poison: move it to the dead letters now, with `reason`, whatever its deliveries. */
  deadLetter(reason: string): Promise<void>
  /** Keep holding it for `ms` more from now (a long handler); a no-op where the broker needs none. */
  extend(ms: number): Promise<void>
}

/**
 * Handles one delivery. If it returns (or its promise resolves) without settling the delivery, the
 * message is acknowledged; if it throws (or rejects), the message is nacked with the queue's
 * backoff, the error's message kept as the reason.
 */
export type DeliveryHandler<T> = (delivery: Delivery<T>) => void | Promise<void>

/** Options of `consume`. */
export interface ConsumeOptions {
  /** Most deliveries this consumer handles at once. @default 1 */
  readonly concurrency?: number
  /** Aborting it closes the consumer as `close()` would. */
  readonly signal?: AbortSignal
}

/** A running consumer. */
export interface Consumer {
  /**
   * Stops taking messages and waits for the handlers running to finish, for at most `graceMs`;
   * deliveries still unsettled then go back to the queue (delivered again, counted). @default graceMs 30000
   */
  close(options?: { readonly graceMs?: number }): Promise<void>
}

/** A message that was dead-lettered. */
export interface DeadLetter<T> {
  readonly id: string
  readonly body: T
  readonly priority: number
  /** Why: the handler's error message, `deadLetter(reason)`, or the delivery limit. */
  readonly reason: string
  readonly deliveries: number
  readonly enqueuedAt: number
  /** When it was dead-lettered (epoch ms). */
  readonly deadLetteredAt: number
}

/** The dead letters of a queue. */
export interface DeadLetterList<T> {
  /** The oldest `limit` dead letters first. @default limit 100 */
  list(options?: { readonly limit?: number }): Promise<readonly DeadLetter<T>[]>
  /** Puts dead letters back in the queue with their deliveries reset; the ids it requeued (all when `ids` is omitted). */
  requeue(ids?: readonly string[]): Promise<readonly string[]>
  /** Deletes every dead letter; how many. */
  purge(): Promise<number>
}

/** A queue's numbers. */
export interface QueueStats {
  /** Ready for delivery. */
  readonly pending: number
  /** Waiting for a delay (a retry's backoff or `delayMs`). */
  readonly delayed: number
  /** Held by consumers now. */
  readonly processing: number
  /** Acknowledged. */
  readonly completed: number
  /** Deliveries that failed (nacked or thrown), dead-lettered ones included. */
  readonly failed: number
  /** In the dead-letter list now. */
  readonly deadLettered: number
  /** Mean time from delivery to acknowledgement, in ms (0 before the first). */
  readonly meanProcessingMs: number
  /**
   * Whose count `completed`, `failed` and `meanProcessingMs` are: `queue` when every process using
   * the queue adds to them (kept by the broker), `process` when they are this process's only (a
   * broker that keeps no such counts).
   */
  readonly countsScope: 'queue' | 'process'
}

/** A named durable work queue on some broker. Bodies are JSON data. */
export interface MessageQueue<T = unknown> {
  /** `memory`, `redis`, `rabbitmq` or a third party's. */
  readonly type: string
  readonly name: string
  /** Adds one message; resolves with its id once the broker has it (RabbitMQ: confirmed). */
  enqueue(body: T, options?: EnqueueOptions): Promise<string>
  /** Adds many messages at once (one round trip where the broker allows); their ids in order. All or nothing against `maxSize`. */
  enqueueMany(messages: readonly OutgoingMessage<T>[]): Promise<readonly string[]>
  /** Starts a consumer. */
  consume(handler: DeliveryHandler<T>, options?: ConsumeOptions): Promise<Consumer>
  readonly deadLetters: DeadLetterList<T>
  stats(): Promise<QueueStats>
  /** Removes every message waiting or delayed (not those being processed, not dead letters); how many. */
  purge(): Promise<number>
  /** Closes this handle's consumers (as `Consumer.close`) and connections; the queue stays on the broker. */
  close(): Promise<void>
  /** Closes the handle and removes the queue, its messages, dead letters and counts from the broker. */
  destroy(): Promise<void>
}

/** The names a message of an `enqueueMany` may have. */
const OUTGOING_NAMES = ['body', 'priority', 'delayMs']

/**
 * Throws `TW_INVALID_OPTION` for messages of an `enqueueMany` that name an option no queue knows
 * (`prority`), or give a priority that is not a finite number (a NaN would be taken as 0): said,
 * naming the message, before any is added. Every queue adapter checks this way.
 */
export function checkOutgoingMessages(messages: readonly unknown[]): void {
  if (!Array.isArray(messages)) throw new InvalidOptionError('messages', 'an array of { body, priority?, delayMs? }', messages)
  for (let k = 0; k < messages.length; k++) {
    const message: unknown = messages[k]
    refuseUnknownOptions('enqueue', message as object, OUTGOING_NAMES, `messages[${k}].`)
    checkPriority((message as { priority?: unknown }).priority, `messages[${k}].priority`)
  }
}

/** {@link checkOutgoingMessages} for the options of one `enqueue(body, options)`, named as the caller wrote them. */
export function checkEnqueueOptions(options: unknown): void {
  refuseUnknownOptions('enqueue', options as object, ['priority', 'delayMs'])
  checkPriority((options as { priority?: unknown }).priority)
}

/** Throws `TW_INVALID_OPTION` unless `handler` (what `consume` runs per delivery) is a function. */
export function checkDeliveryHandler(handler: unknown): void {
  if (typeof handler !== 'function') throw new InvalidOptionError('handler', 'a function (delivery) => Promise<void>', handler)
}

