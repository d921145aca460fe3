/** Options of the RabbitMQ queue and transport, and their one-time resolution into plain values. @module */
import { InvalidOptionError } from '../../core/errors.js'
import { backoffDelayMs } from '../../core/queue.js'
import type { BackoffPolicy, MessageQueueOptions } from '../../core/queue.js'
import { locationOf } from './location.js'

/** How to reach the broker; what the queue and the transport share. */
export interface RabbitConnectionOptions {
  /** `amqp://user:password@host:5672/vhost` (or `amqps://`). The password never appears in messages. @default 'amqp://127.0.0.1:5672' */
  readonly url?: string
  /** Starts the name of every queue and exchange made: letters, digits, `.`, `-`, `_` (1–100). @default 'taskweave' */
  readonly prefix?: string
  /** AMQP heartbeat: how soon a silent broker or a dead network is noticed (sent in whole seconds, at least 1). @default 10000 */
  readonly amqpHeartbeatMs?: number
  /** Longest wait to open a connection (TCP, TLS, handshake); an unreachable broker fails within it. @default 5000 */
  readonly connectTimeoutMs?: number
  /**
   * Longest wait for the broker to confirm a publish, a reconnection included: while the
   * connection is down, publishes wait for it this long, then reject naming the URL. @default 10000
   */
  readonly publishTimeoutMs?: number
  /** First wait before reconnecting after the connection was lost; doubled after each failed try. @default 100 */
  readonly reconnectDelayMs?: number
  /** Longest wait between two reconnection tries. @default 5000 */
  readonly maxReconnectDelayMs?: number
  /** The name the broker shows for the connection (`rabbitmqctl list_connections client_properties`). @default 'taskweave' plus what it serves */
  readonly connectionName?: string
}

/** Options of `openRabbitQueue`: the queue port's options and how to reach the broker. `leaseMs` is unused: RabbitMQ sees a consumer's connection close. */
export type RabbitQueueOptions = MessageQueueOptions & RabbitConnectionOptions

/** Options of `openRabbitTransport`. */
export interface RabbitTransportOptions extends RabbitConnectionOptions {
  /**
   * How often workers announce themselves (`announce()`): `stats().workers` lists those heard
   * from within three heartbeats, and a handle answers a fresh handle's ping for the workers it
   * announced within twenty (at least a minute). @default 5000
   */
  readonly heartbeatMs?: number
  /**
   * How long an owner's report queue outlives its last reader: an owner that died without
   * `removeOwner` leaves a queue the broker deletes, reports and all, once nobody read or
   * declared it for this long (RabbitMQ `x-expires`). @default 3600000 (1 h)
   */
  readonly ownerExpiresMs?: number
  /**
   * How long a worker's own queue (attempts routed to that worker) outlives its last consumer;
   * a worker that comes back sooner with the same id finds them. @default 900000 (15 min)
   */
  readonly workerExpiresMs?: number
  /**
   * Deliveries after which an attempt whose worker died again (the broker gave it back) is
   * dead-lettered instead: a poison attempt that kills its worker cannot loop for ever.
   * `nack()` gives an attempt back without counting towards it. @default 5
   */
  readonly maxDeliveries?: number
  /**
   * How long a worker runs an attempt before it *claims* it: RabbitMQ closes a channel that kept a
   * delivery unacknowledged past its `consumer_timeout` (30 min by default) and delivers the
   * message again, so a longer attempt would run twice. A claimed attempt is acknowledged while it
   * still runs; its worker lists it in every heartbeat (so `holds()` counts it held while the
   * worker lives), tells the owner (a `started` report), and takes one attempt fewer until it
   * ends. Lost with its worker, its owner publishes it again (counted as a delivery) or, for a task
   * that must not run twice, fails it `TW_UNCERTAIN`. Keep it well under the broker's
   * `consumer_timeout`; 0 never claims. @default 600000 (10 min)
   */
  readonly claimAfterMs?: number
}

/** The connection options with every default applied. */
export interface ResolvedConnectionOptions {
  readonly url: string
  /** The URL without password, for messages. */
  readonly location: string
  readonly prefix: string
  readonly heartbeatSeconds: number
  readonly connectTimeoutMs: number
  readonly publishTimeoutMs: number
  readonly reconnectDelayMs: number
  readonly maxReconnectDelayMs: number
  readonly connectionName: string
}

/** The queue's options with every default applied. */
export interface ResolvedRabbitQueueOptions extends ResolvedConnectionOptions {
  readonly name: string
  readonly maxSize: number | undefined
  readonly maxDeliveries: number
  readonly backoff: BackoffPolicy
}

/** The transport's options with every default applied. */
export interface ResolvedRabbitTransportOptions extends ResolvedConnectionOptions {
  readonly heartbeatMs: number
  readonly claimAfterMs: number
  readonly ownerExpiresMs: number
  readonly workerExpiresMs: number
  readonly maxDeliveries: number
}

/** Names of queues, prefixes and work queues: what RabbitMQ takes, kept short and plain. */
export const NAME = /^[A-Za-z0-9._-]{1,100}$/

function positiveInteger(option: string, value: unknown, fallback: number, min = 1): number {
  const resolved = value ?? fallback
  if (typeof resolved !== 'number' || !Number.isInteger(resolved) || resolved < min) throw new InvalidOptionError(option, `an integer ≥ ${min}`, value)
  return resolved
}

/** Checks and resolves the connection options; bad values throw `TW_INVALID_OPTION` naming the option. */
export function resolveConnectionOptions(options: RabbitConnectionOptions, serves: string): ResolvedConnectionOptions {
  const url = options.url ?? 'amqp://127.0.0.1:5672'
  if (typeof url !== 'string' || !/^amqps?:\/\//.test(url)) throw new InvalidOptionError('url', 'an amqp:// or amqps:// URL', typeof url === 'string' ? locationOf(url) : url)
  const prefix = options.prefix ?? 'taskweave'
  if (typeof prefix !== 'string' || !NAME.test(prefix)) throw new InvalidOptionError('prefix', 'letters, digits, ".", "-" or "_" (1–100 characters)', prefix)
  const amqpHeartbeatMs = positiveInteger('amqpHeartbeatMs', options.amqpHeartbeatMs, 10_000)
  const reconnectDelayMs = positiveInteger('reconnectDelayMs', options.reconnectDelayMs, 100)
  const maxReconnectDelayMs = positiveInteger('maxReconnectDelayMs', options.maxReconnectDelayMs, 5000)
  if (maxReconnectDelayMs < reconnectDelayMs) throw new InvalidOptionError('maxReconnectDelayMs', `at least reconnectDelayMs (${reconnectDelayMs})`, maxReconnectDelayMs)
  const connectionName = options.connectionName ?? `taskweave ${serves}`
  if (typeof connectionName !== 'string') throw new InvalidOptionError('connectionName', 'a string', connectionName)
  return {
    url,
    location: locationOf(url),
    prefix,
    heartbeatSeconds: Math.max(1, Math.ceil(amqpHeartbeatMs / 1000)),
    connectTimeoutMs: positiveInteger('connectTimeoutMs', options.connectTimeoutMs, 5000),
    publishTimeoutMs: positiveInteger('publishTimeoutMs', options.publishTimeoutMs, 10_000),
    reconnectDelayMs,
    maxReconnectDelayMs,
    connectionName,
  }
}

/** Checks and resolves the queue's options. */
export function resolveQueueOptions(options: RabbitQueueOptions): ResolvedRabbitQueueOptions {
  const name: unknown = options.name
  if (typeof name !== 'string' || !NAME.test(name)) throw new InvalidOptionError('name', 'letters, digits, ".", "-" or "_" (1–100 characters)', name)
  const maxSize = options.maxSize === undefined ? undefined : positiveInteger('maxSize', options.maxSize, 0, 0)
  const maxDeliveries = positiveInteger('retry.maxDeliveries', options.retry?.maxDeliveries, 5)
  const backoff = options.retry?.backoff ?? {}
  if (backoff.type !== undefined && backoff.type !== 'fixed' && backoff.type !== 'exponential') throw new InvalidOptionError('retry.backoff.type', '"fixed" or "exponential"', backoff.type)
  if (backoff.delayMs !== undefined) positiveInteger('retry.backoff.delayMs', backoff.delayMs, 0, 0)
  if (backoff.maxDelayMs !== undefined) positiveInteger('retry.backoff.maxDelayMs', backoff.maxDelayMs, 0, 0)
  if (options.leaseMs !== undefined) positiveInteger('leaseMs', options.leaseMs, 1)
  return { ...resolveConnectionOptions(options, `queue ${name}`), name, maxSize, maxDeliveries, backoff }
}

/** Checks and resolves the transport's options. */
export function resolveTransportOptions(options: RabbitTransportOptions): ResolvedRabbitTransportOptions {
  return {
    ...resolveConnectionOptions(options, 'transport'),
    heartbeatMs: positiveInteger('heartbeatMs', options.heartbeatMs, 5000),
    ownerExpiresMs: positiveInteger('ownerExpiresMs', options.ownerExpiresMs, 3_600_000),
    workerExpiresMs: positiveInteger('workerExpiresMs', options.workerExpiresMs, 900_000),
    maxDeliveries: positiveInteger('maxDeliveries', options.maxDeliveries, 5),
    claimAfterMs: positiveInteger('claimAfterMs', options.claimAfterMs, 600_000, 0),
  }
}

/** The delays a queue's backoff can ask for (one per delivery up to the limit), to count and remove delayed messages. */
export function backoffSteps(backoff: BackoffPolicy, maxDeliveries: number): readonly number[] {
  const steps = new Set<number>()
  for (let deliveries = 1; deliveries < maxDeliveries && deliveries <= 64; deliveries++) steps.add(backoffDelayMs(backoff, deliveries))
  return [...steps]
}
