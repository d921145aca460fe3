/**
 * The BullMQ queues behind the Redis adapters, as BullMQ knows them: for what reads BullMQ
 * directly, such as a bull-board dashboard (`new BullMQAdapter(new Queue(name, { connection,
 * prefix }))`) or a script. Naming needs no connection; listing what a transport has used reads the
 * set of queue names it keeps, through a client of the caller's.
 * @module
 */
import { DEFAULT_WORK_QUEUE } from '../../core/transport.js'
import { roleOf, routeQueueName, workQueueName } from './names.js'

/** The adapters' prefix when given none (`RedisCommonOptions.prefix`). */
const DEFAULT_PREFIX = 'taskweave'

/** A BullMQ queue: what `new Queue(name, { connection, prefix })` takes to open it. */
export interface BullQueueName {
  /** BullMQ's queue name. */
  readonly name: string
  /** BullMQ's key prefix: the adapter's `prefix` option. */
  readonly prefix: string
}

/** The BullMQ queue of the message queue that `openRedisQueue({ name, prefix })` opens: the same name, the same prefix. */
export function redisQueueName(options: { readonly name: string; readonly prefix?: string }): BullQueueName {
  return { name: options.name, prefix: options.prefix ?? DEFAULT_PREFIX }
}

/**
 * The BullMQ queues of the transport that `openRedisTransport({ prefix })` opens: one per work
 * queue (`work.NAME`; `queues` defaults to the default work queue) and one per worker for the
 * attempts routed to it (`route.ID`), `:` and `%` escaped in both.
 */
export function redisTransportQueueNames(options: { readonly prefix?: string; readonly queues?: readonly string[]; readonly workers?: readonly string[] } = {}): BullQueueName[] {
  const prefix = options.prefix ?? DEFAULT_PREFIX
  const names = [...(options.queues ?? [DEFAULT_WORK_QUEUE]).map(workQueueName), ...(options.workers ?? []).map(routeQueueName)]
  return [...new Set(names)].map((name) => ({ name, prefix }))
}

/** The part of an ioredis client {@link listRedisTransportQueues} uses. */
export interface SetReader {
  smembers(key: string): Promise<string[]>
}

/**
 * Every BullMQ queue the transport under `prefix` has published to or consumed from, sorted: the
 * Redis set of names it keeps (`PREFIX:tw-queues`), read with `redis` (an ioredis client). A
 * dashboard that lists these again now and then sees work queues and workers as they appear.
 */
export async function listRedisTransportQueues(redis: SetReader, prefix: string = DEFAULT_PREFIX): Promise<BullQueueName[]> {
  const names = await redis.smembers(`${prefix}:tw-queues`)
  return names
    .filter((name) => roleOf(name) !== undefined)
    .sort()
    .map((name) => ({ name, prefix }))
}
