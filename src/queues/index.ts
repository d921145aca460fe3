/**
 * Message queues and attempt transports (`taskweave/queues`): the ports, the in-memory adapters,
 * and factories that open the adapter a deployment names (`memory`, `redis`, `rabbitmq`). The
 * Redis and RabbitMQ adapters live on their own subpaths (`taskweave/queues/redis`,
 * `taskweave/queues/rabbitmq`) and are loaded only when asked for, with their drivers (optional
 * peer dependencies).
 *
 * `messageQueueOptionsFromEnv()` reads the variables of seed 002: `MESSAGE_QUEUE_TYPE`
 * (`memory` | `redis` | `rabbitmq`, default `memory`), `REDIS_URL` (default
 * `redis://127.0.0.1:6379`), `RABBITMQ_URL` (default `amqp://127.0.0.1:5672`) and
 * `MAX_QUEUE_SIZE` (a positive integer, default unlimited).
 * @example
 * ```ts
 * import { createMessageQueue, messageQueueOptionsFromEnv } from 'taskweave/queues'
 * const queue = await createMessageQueue({ ...messageQueueOptionsFromEnv(), name: 'agent-tasks' })
 * ```
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import { refuseUnknownOptions } from '../core/known-options.js'
import type { MessageQueue, MessageQueueOptions } from '../core/queue.js'
import { describeThrown } from '../core/thrown.js'
import type { Transport } from '../core/transport.js'
import { createMemoryQueue } from './memory/message-queue.js'
import { createMemoryTransport } from './memory/transport.js'

export { createMemoryQueue } from './memory/message-queue.js'
export type { MemoryQueueOptions } from './memory/message-queue.js'
export { createMemoryTransport } from './memory/transport.js'
export type { MemoryTransportOptions } from './memory/transport.js'
export { createMemoryBroker } from './memory/broker.js'
export { createMemorySharedLimiter } from './memory/shared-limiter.js'
export type { SharedLimiter, SharedPermit } from '../core/shared-limiter.js'
export { createMemorySharedRateBudget } from './memory/shared-rate-budget.js'
export type { MemorySharedRateBudgetOptions } from './memory/shared-rate-budget.js'
export type { SharedRateAnswer, SharedRateBudget, SharedRateCharge } from '../core/shared-rate.js'
export type { MemoryBroker } from './memory/broker.js'
export { MAX_MESSAGE_PRIORITY, backoffDelayMs, priorityLevel } from '../core/queue.js'
export type {
  BackoffPolicy,
  Consumer,
  ConsumeOptions,
  DeadLetter,
  DeadLetterList,
  Delivery,
  DeliveryHandler,
  EnqueueOptions,
  MessageQueue,
  MessageQueueOptions,
  OutgoingMessage,
  QueueStats,
  RetryPolicy,
} from '../core/queue.js'
export { DEFAULT_WORK_QUEUE } from '../core/transport.js'
export type {
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
} from '../core/transport.js'
export { QueueFullError } from '../core/errors.js'

/** The adapters the factories know. */
export type QueueType = 'memory' | 'redis' | 'rabbitmq'

/** Every {@link QueueType}, in the order error messages list them. */
export const QUEUE_TYPES: readonly QueueType[] = ['memory', 'redis', 'rabbitmq']

/** Where a broker listens when `REDIS_URL` is not set. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'
/** Where a broker listens when `RABBITMQ_URL` is not set. */
export const DEFAULT_RABBITMQ_URL = 'amqp://127.0.0.1:5672'

/** Options of {@link createMessageQueue}: the adapter, its broker's URL, and the queue's own options. */
export interface CreateMessageQueueOptions extends MessageQueueOptions {
  readonly type: QueueType
  /** The broker (`redis://…`, `amqp://…`); the memory queue has none. @default the adapter's own default */
  readonly url?: string
}

/** Options of {@link createTransport}. */
export interface CreateTransportOptions {
  readonly type: QueueType
  /** The broker (`redis://…`, `amqp://…`); the memory transport has none (it uses the process's default broker). */
  readonly url?: string
  /** Names on the broker start with it, so several deployments (or test runs) share one broker apart. @default 'taskweave' */
  readonly prefix?: string
  /** How long a worker holds an attempt before a broker that detects dead workers by lease (Redis) hands it to another. @default 30000 */
  readonly leaseMs?: number
  /** How often a worker announces itself, in ms. @default 5000 */
  readonly heartbeatMs?: number
  /**
   * Deliveries of one attempt (each taken by a worker that died or gave it back) before it is
   * dead-lettered and its owner told (`TW_DELIVERY_LIMIT`). @default Redis 10, RabbitMQ 5
   */
  readonly maxDeliveries?: number
  /**
   * RabbitMQ: how long a worker runs an attempt before it claims it (acknowledges it while it
   * runs, so the broker's `consumer_timeout` cannot close the channel under it and deliver the
   * attempt again); 0 never. Redis renews its lease instead and has no use for it. @default 600000
   */
  readonly claimAfterMs?: number
  /**
   * Redis: most attempts published together for one queue that travel as one BullMQ job (a
   * worker claims them in one round trip; each is still settled on its own); 1 for a job per
   * attempt. RabbitMQ pushes each attempt to a worker on its own and has no use for it. @default 16
   */
  readonly batchSize?: number
}

/** What {@link messageQueueOptionsFromEnv} read: spread it into {@link createMessageQueue} with a `name`, or pass it to {@link createTransport}. */
export interface MessageQueueEnvOptions {
  readonly type: QueueType
  /** Set for `redis` and `rabbitmq` only. */
  readonly url?: string
  readonly maxSize?: number
}

/** The parts of the Redis and RabbitMQ adapter modules the factories call. */
interface AdapterModules {
  readonly redis: {
    openRedisQueue<T>(options: MessageQueueOptions & { readonly url?: string }): Promise<MessageQueue<T>>
    openRedisTransport(options: { readonly url?: string; readonly prefix?: string; readonly leaseMs?: number; readonly heartbeatMs?: number; readonly maxDeliveries?: number; readonly batchSize?: number }): Promise<Transport>
  }
  readonly rabbitmq: {
    openRabbitQueue<T>(options: MessageQueueOptions & { readonly url?: string }): Promise<MessageQueue<T>>
    openRabbitTransport(options: { readonly url?: string; readonly prefix?: string; readonly heartbeatMs?: number; readonly maxDeliveries?: number; readonly claimAfterMs?: number }): Promise<Transport>
  }
}

/** Kept in variables so neither the type checker nor a bundler pulls an adapter (and its driver) in unasked. */
const ADAPTER_PATHS: Readonly<Record<keyof AdapterModules, string>> = { redis: './redis/index.js', rabbitmq: './rabbitmq/index.js' }
const ADAPTER_DRIVERS: Readonly<Record<keyof AdapterModules, string>> = { redis: 'bullmq and ioredis', rabbitmq: 'amqplib' }

/** The names a retry back-off takes (`retry.backoff`). */
const BACKOFF_OPTION_NAMES = ['type', 'delayMs', 'maxDelayMs']

/**
 * Opens a message queue on the adapter `options.type`; the Redis and RabbitMQ adapters are
 * imported on first use. An unknown type is refused with `TW_INVALID_OPTION`; an adapter that
 * cannot be loaded (its driver not installed) with `TW_QUEUE`.
 */
export async function createMessageQueue<T = unknown>(options: CreateMessageQueueOptions): Promise<MessageQueue<T>> {
  refuseUnknownOptions('createMessageQueue', options, ['type', 'url', 'name', 'maxSize', 'retry', 'leaseMs'])
  const retry: unknown = options.retry
  if (typeof retry === 'object' && retry !== null) {
    refuseUnknownOptions('createMessageQueue', retry, ['maxDeliveries', 'backoff'], 'retry.')
    const backoff: unknown = (retry as { readonly backoff?: unknown }).backoff
    if (typeof backoff === 'object' && backoff !== null) refuseUnknownOptions('createMessageQueue', backoff, BACKOFF_OPTION_NAMES, 'retry.backoff.')
  }
  const { type, url, ...queueOptions } = options
  const withUrl = url !== undefined ? { ...queueOptions, url } : queueOptions
  switch (type) {
    case 'memory':
      return createMemoryQueue<T>(queueOptions)
    case 'redis':
      return (await loadAdapter('redis', 'openRedisQueue')).openRedisQueue<T>(withUrl)
    case 'rabbitmq':
      return (await loadAdapter('rabbitmq', 'openRabbitQueue')).openRabbitQueue<T>(withUrl)
    default:
      throw unknownType(type)
  }
}

/** Opens an attempt transport on the adapter `options.type` (as {@link createMessageQueue} does). */
export async function createTransport(options: CreateTransportOptions): Promise<Transport> {
  // `maxSize` is what messageQueueOptionsFromEnv() may add (MAX_QUEUE_SIZE): a queue's, not a transport's, so accepted and unused.
  refuseUnknownOptions('createTransport', options, ['type', 'url', 'prefix', 'leaseMs', 'heartbeatMs', 'maxDeliveries', 'batchSize', 'claimAfterMs', 'maxSize'])
  const { type, url, prefix, leaseMs, heartbeatMs, maxDeliveries, batchSize, claimAfterMs } = options
  const common = {
    ...(url !== undefined ? { url } : {}),
    ...(prefix !== undefined ? { prefix } : {}),
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
    ...(maxDeliveries !== undefined ? { maxDeliveries } : {}),
  }
  switch (type) {
    case 'memory':
      return createMemoryTransport()
    case 'redis':
      return (await loadAdapter('redis', 'openRedisTransport')).openRedisTransport({ ...common, ...(leaseMs !== undefined ? { leaseMs } : {}), ...(batchSize !== undefined ? { batchSize } : {}) })
    case 'rabbitmq':
      // RabbitMQ sees a dead worker's connection close and redelivers at once: no lease to set;
      // it pushes attempts to workers one by one: no batches.
      return (await loadAdapter('rabbitmq', 'openRabbitTransport')).openRabbitTransport({ ...common, ...(claimAfterMs !== undefined ? { claimAfterMs } : {}) })
    default:
      throw unknownType(type)
  }
}

/**
 * Reads the queue settings from the environment (seed 002's variables; see the module comment).
 * Blank values count as unset. A bad value throws `TW_INVALID_OPTION` naming the variable; URLs
 * are never echoed whole (they may hold a password), only their scheme.
 */
export function messageQueueOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): MessageQueueEnvOptions {
  const rawType = read(env, 'MESSAGE_QUEUE_TYPE')
  const type = rawType === undefined ? 'memory' : QUEUE_TYPES.find((t) => t === rawType.toLowerCase())
  if (type === undefined) throw badVariable('MESSAGE_QUEUE_TYPE', `must be ${listTypes()}; received ${JSON.stringify(rawType)}`)
  const maxSize = readMaxSize(env)
  const withSize = maxSize !== undefined ? { maxSize } : {}
  if (type === 'redis') return { type, url: readUrl(env, 'REDIS_URL', DEFAULT_REDIS_URL, ['redis:', 'rediss:']), ...withSize }
  if (type === 'rabbitmq') return { type, url: readUrl(env, 'RABBITMQ_URL', DEFAULT_RABBITMQ_URL, ['amqp:', 'amqps:']), ...withSize }
  return { type, ...withSize }
}

/** Imports adapter `type` and checks it offers `fn`. */
async function loadAdapter<K extends keyof AdapterModules>(type: K, fn: keyof AdapterModules[K] & string): Promise<AdapterModules[K]> {
  let mod: AdapterModules[K]
  try {
    mod = (await import(ADAPTER_PATHS[type])) as AdapterModules[K]
  } catch (err) {
    throw new TaskweaveError('TW_QUEUE', `the ${type} queue adapter could not be loaded (it needs ${ADAPTER_DRIVERS[type]} installed): ${describeThrown(err)}`, { cause: err, retryable: false, details: { type } })
  }
  if (typeof (mod as Record<string, unknown>)[fn] !== 'function') {
    throw new TaskweaveError('TW_QUEUE', `the ${type} queue adapter has no ${fn}()`, { retryable: false, details: { type } })
  }
  return mod
}

function unknownType(type: unknown): TaskweaveError {
  return new TaskweaveError('TW_INVALID_OPTION', `option "type" must be ${listTypes()}; received ${typeof type === 'string' ? JSON.stringify(type) : String(type)}`, { retryable: false, details: { option: 'type', expected: QUEUE_TYPES } })
}

function listTypes(): string {
  return `${QUEUE_TYPES.slice(0, -1).join(', ')} or ${QUEUE_TYPES.at(-1)}`
}

/** A variable's trimmed value; undefined when unset or blank. */
function read(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

function readMaxSize(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const raw = read(env, 'MAX_QUEUE_SIZE')
  if (raw === undefined) return undefined
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN
  if (!(Number.isSafeInteger(value) && value > 0)) throw badVariable('MAX_QUEUE_SIZE', `must be a positive integer; received ${JSON.stringify(raw)}`)
  return value
}

function readUrl(env: Readonly<Record<string, string | undefined>>, name: string, fallback: string, schemes: readonly string[]): string {
  const raw = read(env, name)
  if (raw === undefined) return fallback
  const expected = schemes.map((s) => `${s}//`).join(' or ')
  const article = /^[aeiou]/.test(expected) ? 'an' : 'a'
  let protocol: string | undefined
  try {
    // Without "://" the part before a colon is likely a host ("cache:6379"), not a scheme: never echo it.
    protocol = raw.includes('://') ? new URL(raw).protocol : undefined
  } catch {
    protocol = undefined
  }
  if (protocol === undefined) throw badVariable(name, `must be ${article} ${expected} URL; received a value that is not a URL`)
  if (!schemes.includes(protocol)) throw badVariable(name, `must be ${article} ${expected} URL; received a ${protocol}// URL`)
  return raw
}

function badVariable(name: string, problem: string): TaskweaveError {
  return new TaskweaveError('TW_INVALID_OPTION', `environment variable ${name} ${problem}`, { retryable: false, details: { variable: name } })
}
