/** Opens a RabbitMQ queue: loads amqplib, connects, declares the queue's parts. @module */
import type { MessageQueue } from '../../core/queue.js'
import { RabbitConnection } from './connection.js'
import { loadAmqp } from './driver.js'
import type { Scope } from './errors.js'
import { Mover } from './moves.js'
import { workQueueNames } from './names.js'
import { resolveQueueOptions } from './options.js'
import type { RabbitQueueOptions } from './options.js'
import { Publisher } from './publisher.js'
import { RabbitMessageQueue } from './queue.js'
import { declareWorkQueue } from './topology.js'
import type { WorkQueueShape } from './topology.js'

/**
 * Opens the queue `options.name` on a RabbitMQ broker (through `amqplib`, an optional peer
 * dependency: `npm install amqplib`), declaring it if it is new. The connection comes back by
 * itself after the broker restarts or the network drops; an unreachable broker fails the open at
 * once with `TW_QUEUE` naming the URL (without password).
 *
 * @example
 * ```ts
 * import { openRabbitQueue } from 'taskweave/queues/rabbitmq'
 * const queue = await openRabbitQueue<{ url: string }>({ name: 'crawl', url: 'amqp://guest:guest@localhost:5672', maxSize: 10_000 })
 * await queue.enqueue({ url: 'https://example.com' }, { priority: 5 })
 * const consumer = await queue.consume(async (delivery) => crawl(delivery.body.url), { concurrency: 8 })
 * ```
 */
export async function openRabbitQueue<T = unknown>(options: RabbitQueueOptions): Promise<MessageQueue<T>> {
  const resolved = resolveQueueOptions(options)
  const scope: Scope = { code: 'TW_QUEUE', subject: `RabbitMQ queue "${resolved.name}"`, location: resolved.location }
  const amqp = await loadAmqp(scope)
  const names = workQueueNames(`${resolved.prefix}.${resolved.name}`)
  const shape: WorkQueueShape = { names, maxLength: resolved.maxSize }
  const connection = new RabbitConnection(amqp, resolved, scope)
  await connection.addHook(async (session) => declareWorkQueue(await session.ops(), scope, shape))
  await connection.open()
  const publisher = new Publisher(connection, scope, resolved.publishTimeoutMs)
  const mover = new Mover(connection, publisher, scope)
  return new RabbitMessageQueue<T>({ connection, publisher, mover, scope, options: resolved, shape })
}
