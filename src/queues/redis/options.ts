/** Options of the Redis message queue and transport, and their one-time resolution into plain values. @module */
import { InvalidOptionError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { silentLogger } from '../../core/logger.js'
import type { BackoffPolicy, MessageQueueOptions } from '../../core/queue.js'
import { DEFAULT_BATCH_SIZE } from './batches.js'
import { locationOf } from './location.js'

/** How the adapters talk to Redis. */
export interface RedisConnectionOptions {
  /**
   * Longest wait for the server when opening a queue, a consumer or a transport: an unreachable
   * server fails the call within it. @default 5000
   */
  readonly connectTimeoutMs?: number
  /**
   * Longest wait for the answer to one command of a producer or an admin call (enqueue, publish,
   * report, stats, dead letters). While the server is down such calls fail at once (ioredis keeps
   * no offline queue for them); a server that stopped answering fails them after this. @default 10000
   */
  readonly commandTimeoutMs?: number
  /**
   * Further ioredis options (`tls`, `db`, `username`, `password`, `family`…), passed as they are.
   * The adapter's own settings for reconnecting, offline queues and retries per request win.
   */
  readonly ioredis?: Readonly<Record<string, unknown>>
}

/** Options common to the queue and the transport. */
export interface RedisCommonOptions {
  /** The server. The password (`redis://:secret@host:6379`) never appears in messages. @default 'redis://127.0.0.1:6379' */
  readonly url?: string
  /**
   * The first part of every key (BullMQ's `prefix`): queues of different prefixes on one server
   * are unrelated. @default 'taskweave'
   */
  readonly prefix?: string
  readonly connection?: RedisConnectionOptions
  /** Where failures that no call can report go (a consumer losing its connection, a count that could not be written). @default silent */
  readonly logger?: Logger
  /**
   * The share of the server's `maxmemory` kept for consumers: once used memory passes the rest,
   * enqueues and publishes are refused (retryable, `details.outOfMemory`) while consumers go on
   * taking work off the server. A server at its limit refuses their writes too, and its queues
   * wedge. From 0 (off) to 0.5. @default 0.1
   */
  readonly memoryReserve?: number
}

/** Options of `openRedisQueue`. */
export interface RedisQueueOptions extends MessageQueueOptions, RedisCommonOptions {}

/** Options of `openRedisTransport`. */
export interface RedisTransportOptions extends RedisCommonOptions {
  /**
   * How often workers are expected to announce themselves; `stats().workers` lists those heard
   * from within three heartbeats. @default 5000
   */
  readonly heartbeatMs?: number
  /**
   * How long a worker holds an attempt before the broker may deliver it again if the worker went
   * silent (the BullMQ job lock, renewed while the attempt runs). @default 30000
   */
  readonly leaseMs?: number
  /**
   * Deliveries after which an attempt is dead-lettered instead of delivered again (a poison
   * attempt whose workers keep dying, or that every worker nacks). @default 10
   */
  readonly maxDeliveries?: number
  /**
   * About how many stream entries (each one report, or the burst a worker sent one owner in one
   * event-loop turn) are kept for an owner that does not read them; older ones are dropped. @default 100000
   */
  readonly reportBacklog?: number
  /**
   * Most attempts published together for one queue that travel as one BullMQ job (a batch). A
   * worker claims a batch in one round trip and runs as many of its attempts as it has free
   * slots, putting the rest back; each attempt is still acknowledged, given back and dead-lettered
   * on its own. 1 publishes every attempt as a job of its own. @default 16
   */
  readonly batchSize?: number
}

/** What both adapters need once resolved. */
export interface ResolvedCommon {
  readonly url: string
  /** The URL without its password, for messages. */
  readonly location: string
  readonly prefix: string
  readonly connectTimeoutMs: number
  readonly commandTimeoutMs: number
  readonly ioredis: Readonly<Record<string, unknown>>
  readonly logger: Logger
  readonly memoryReserve: number
}

/** The lock and the stalled check that together bound a lost consumer's redelivery by `leaseMs`. */
export interface LeaseTiming {
  readonly leaseMs: number
  /** BullMQ `lockDuration`: three quarters of the lease. */
  readonly lockMs: number
  /** BullMQ `stalledInterval`: the remaining quarter. */
  readonly stalledCheckMs: number
}

/** {@link RedisQueueOptions} resolved. */
export interface ResolvedQueueOptions extends ResolvedCommon {
  readonly name: string
  readonly maxSize: number | undefined
  readonly maxDeliveries: number
  readonly backoff: BackoffPolicy | undefined
  readonly lease: LeaseTiming
}

/** {@link RedisTransportOptions} resolved. */
export interface ResolvedTransportOptions extends ResolvedCommon {
  readonly heartbeatMs: number
  readonly maxDeliveries: number
  readonly reportBacklog: number
  readonly batchSize: number
  readonly lease: LeaseTiming
}

const QUEUE_NAME = /^[A-Za-z0-9._-]{1,100}$/
const PREFIX = /^[A-Za-z0-9._:{}-]{1,100}$/
/** The shortest lease: below it the lock would be renewed more often than Redis round trips allow for. */
const MIN_LEASE_MS = 200

/** Checks and resolves the queue's options; bad values throw `TW_INVALID_OPTION` naming the option. */
export function resolveQueueOptions(options: RedisQueueOptions): ResolvedQueueOptions {
  const common = resolveCommon(options)
  const { name } = options
  if (typeof name !== 'string' || !QUEUE_NAME.test(name)) throw new InvalidOptionError('name', 'letters, digits, ".", "-" or "_" (1–100 characters)', name)
  const maxSize = options.maxSize
  if (maxSize !== undefined && (!Number.isInteger(maxSize) || maxSize < 1)) throw new InvalidOptionError('maxSize', 'an integer ≥ 1', maxSize)
  const maxDeliveries = options.retry?.maxDeliveries ?? 5
  if (!Number.isInteger(maxDeliveries) || maxDeliveries < 1) throw new InvalidOptionError('retry.maxDeliveries', 'an integer ≥ 1', maxDeliveries)
  const backoff = options.retry?.backoff
  if (backoff !== undefined) checkBackoff(backoff)
  return { ...common, name, maxSize, maxDeliveries, backoff, lease: leaseTiming('leaseMs', options.leaseMs ?? 30_000) }
}

/** Checks and resolves the transport's options. */
export function resolveTransportOptions(options: RedisTransportOptions): ResolvedTransportOptions {
  const common = resolveCommon(options)
  const heartbeatMs = options.heartbeatMs ?? 5000
  if (!Number.isFinite(heartbeatMs) || heartbeatMs < 1) throw new InvalidOptionError('heartbeatMs', 'a number of ms ≥ 1', heartbeatMs)
  const maxDeliveries = options.maxDeliveries ?? 10
  if (!Number.isInteger(maxDeliveries) || maxDeliveries < 1) throw new InvalidOptionError('maxDeliveries', 'an integer ≥ 1', maxDeliveries)
  const reportBacklog = options.reportBacklog ?? 100_000
  if (!Number.isInteger(reportBacklog) || reportBacklog < 1) throw new InvalidOptionError('reportBacklog', 'an integer ≥ 1', reportBacklog)
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) throw new InvalidOptionError('batchSize', 'an integer from 1 to 1000', batchSize)
  return { ...common, heartbeatMs, maxDeliveries, reportBacklog, batchSize, lease: leaseTiming('leaseMs', options.leaseMs ?? 30_000) }
}

function resolveCommon(options: RedisCommonOptions): ResolvedCommon {
  const url = options.url ?? 'redis://127.0.0.1:6379'
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) throw new InvalidOptionError('url', 'a redis:// or rediss:// URL', typeof url === 'string' ? locationOf(url) : url)
  const prefix = options.prefix ?? 'taskweave'
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) throw new InvalidOptionError('prefix', 'letters, digits, ".", ":", "{", "}", "-" or "_" (1–100 characters)', prefix)
  const connection = options.connection ?? {}
  const connectTimeoutMs = connection.connectTimeoutMs ?? 5000
  if (!Number.isFinite(connectTimeoutMs) || connectTimeoutMs < 1) throw new InvalidOptionError('connection.connectTimeoutMs', 'a number of ms ≥ 1', connectTimeoutMs)
  const commandTimeoutMs = connection.commandTimeoutMs ?? 10_000
  if (!Number.isFinite(commandTimeoutMs) || commandTimeoutMs < 1) throw new InvalidOptionError('connection.commandTimeoutMs', 'a number of ms ≥ 1', commandTimeoutMs)
  const memoryReserve = options.memoryReserve ?? 0.1
  if (typeof memoryReserve !== 'number' || !(memoryReserve >= 0 && memoryReserve <= 0.5)) throw new InvalidOptionError('memoryReserve', 'a share of maxmemory from 0 to 0.5', memoryReserve)
  return { url, location: locationOf(url), prefix, connectTimeoutMs, commandTimeoutMs, ioredis: connection.ioredis ?? {}, logger: options.logger ?? silentLogger, memoryReserve }
}

function checkBackoff(backoff: BackoffPolicy): void {
  if (backoff.type !== undefined && backoff.type !== 'fixed' && backoff.type !== 'exponential') throw new InvalidOptionError('retry.backoff.type', '"fixed" or "exponential"', backoff.type)
  for (const key of ['delayMs', 'maxDelayMs'] as const) {
    const value = backoff[key]
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) throw new InvalidOptionError(`retry.backoff.${key}`, 'a number of ms ≥ 0', value)
  }
}

/**
 * BullMQ notices a lost consumer in two steps: its job lock expires (`lockDuration`), then a stalled
 * check of a live consumer (every `stalledInterval`, shared by all consumers of the queue) moves
 * the job back. Splitting the lease 3:1 between the two keeps their sum, the longest wait before a
 * redelivery, within `leaseMs`.
 */
function leaseTiming(option: string, leaseMs: number): LeaseTiming {
  if (!Number.isFinite(leaseMs) || leaseMs < MIN_LEASE_MS) throw new InvalidOptionError(option, `a number of ms ≥ ${MIN_LEASE_MS}`, leaseMs)
  const stalledCheckMs = Math.max(50, Math.floor(leaseMs / 4))
  return { leaseMs, lockMs: leaseMs - stalledCheckMs, stalledCheckMs }
}
