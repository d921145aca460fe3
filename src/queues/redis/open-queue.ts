/** Opening a message queue on Redis: load BullMQ, connect, make the BullMQ queue. @module */
import type { MessageQueue } from '../../core/queue.js'
import { dropClient, openClients } from './clients.js'
import { loadDrivers } from './driver.js'
import { describeCause, redisError, scopeText, throttledWarn } from './errors.js'
import type { ErrorScope } from './errors.js'
import { resolveQueueOptions } from './options.js'
import type { RedisQueueOptions } from './options.js'
import { RedisMessageQueue } from './queue.js'

/**
 * Opens the message queue `options.name` on the Redis server at `options.url`, built on BullMQ.
 * Handles with the same name and prefix, in any process, are the same queue.
 *
 * Semantics on Redis, beyond the port's:
 * - **Redelivery.** A consumer that dies leaves its messages locked for three quarters of
 *   `leaseMs`; a live consumer's stalled check (every quarter) then delivers them again, so within
 *   about `leaseMs` of the death, with `deliveries` counting the lost delivery. No live consumer,
 *   no redelivery: the first one to start picks them up.
 * - **Order.** First in, first out within a priority level. A message handed back by a consumer
 *   that closed is delivered first in its level, and one recovered from a dead consumer before
 *   every level.
 * - **maxSize** is exact between producers, which take turns under a lock; messages that become
 *   ready on their own (delays, retries, recovered or requeued messages) are never refused.
 * - **Counts** (`completed`, `failed`, `meanProcessingMs`) are the whole queue's, kept in Redis;
 *   one is lost if a process dies between writing an outcome and counting it.
 * - **Redis down.** `enqueue`, `stats` and the other calls reject with `TW_QUEUE` at once (or after
 *   `connection.commandTimeoutMs` for a server that stopped answering), naming the URL without
 *   its password. Consumers wait and resume by themselves once Redis is back; Redis keeps what it
 *   had only if it persists its data (the messages are otherwise lost with it).
 *
 * Rejects with `TW_QUEUE` when the server cannot be reached within `connection.connectTimeoutMs`
 * or BullMQ is not installed, and with `TW_INVALID_OPTION` for a bad option.
 * @example
 * ```ts
 * import { openRedisQueue } from 'taskweave/queues/redis'
 * const queue = await openRedisQueue<{ url: string }>({ name: 'fetches', url: 'redis://127.0.0.1:6379', leaseMs: 10_000 })
 * await queue.enqueue({ url: 'https://example.com' }, { priority: 5 })
 * const consumer = await queue.consume(async (delivery) => {
 *   await fetch(delivery.body.url)
 * }, { concurrency: 8 })
 * // …
 * await consumer.close({ graceMs: 5000 })
 * await queue.close()
 * ```
 */
export async function openRedisQueue<T = unknown>(options: RedisQueueOptions): Promise<MessageQueue<T>> {
  const resolved = resolveQueueOptions(options)
  const scope: ErrorScope = { code: 'TW_QUEUE', location: resolved.location, queue: resolved.name }
  const drivers = await loadDrivers(scope)
  const clients = await openClients(drivers.Redis, resolved, scope)
  try {
    const queue = new drivers.bullmq.Queue<unknown, unknown, string>(resolved.name, {
      connection: clients.command,
      prefix: resolved.prefix,
      skipVersionCheck: true,
    })
    const warn = throttledWarn(resolved.logger)
    queue.on('error', (err) => warn(`${scopeText(scope)}: ${describeCause(err)}`))
    await queue.waitUntilReady()
    return new RedisMessageQueue<T>(drivers, clients, queue, resolved, scope)
  } catch (err) {
    dropClient(clients.command)
    dropClient(clients.consumerTemplate)
    throw redisError(scope, 'open', err)
  }
}
