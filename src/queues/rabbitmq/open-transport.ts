/** Opens a RabbitMQ transport: loads amqplib, connects, declares the exchanges, starts the worker registry. @module */
import type { Transport } from '../../core/transport.js'
import { RabbitConnection } from './connection.js'
import { loadAmqp } from './driver.js'
import type { Scope } from './errors.js'
import { declaring } from './topology.js'
import { Ledger } from './ledger.js'
import { Mover } from './moves.js'
import { transportNames } from './names.js'
import { resolveTransportOptions } from './options.js'
import type { RabbitTransportOptions } from './options.js'
import { Publisher } from './publisher.js'
import { WorkerRegistry } from './registry.js'
import { Reports } from './reports.js'
import { RabbitTransport } from './transport.js'

/**
 * Opens the attempt transport on a RabbitMQ broker (through `amqplib`, an optional peer
 * dependency: `npm install amqplib`). Every process of a deployment must use the same `prefix`,
 * `ownerExpiresMs` and `workerExpiresMs` (queue arguments are fixed when a queue is first
 * declared). The connection comes back by itself after the broker restarts or the network drops;
 * an unreachable broker fails the open at once with `TW_TRANSPORT` naming the URL.
 *
 * @example
 * ```ts
 * import { openRabbitTransport } from 'taskweave/queues/rabbitmq'
 * const transport = await openRabbitTransport({ url: 'amqp://guest:guest@localhost:5672' })
 * const runner = createRemoteRunner({ transport, owner: 'owner-1' })
 * ```
 */
export async function openRabbitTransport(options: RabbitTransportOptions = {}): Promise<Transport> {
  const resolved = resolveTransportOptions(options)
  const scope: Scope = { code: 'TW_TRANSPORT', subject: 'RabbitMQ transport', location: resolved.location }
  const amqp = await loadAmqp(scope)
  const names = transportNames(resolved.prefix)
  const connection = new RabbitConnection(amqp, resolved, scope)
  // The exchanges first: a publish to a missing exchange would close the publishing channel.
  await connection.addHook(async (session) => {
    const channel = await session.ops()
    await declaring(scope, async () => {
      await channel.assertExchange(names.cancels, 'fanout', { durable: true })
      await channel.assertExchange(names.workers, 'fanout', { durable: true })
      await channel.assertExchange(names.ledger, 'fanout', { durable: true })
    })
  })
  const publisher = new Publisher(connection, scope, resolved.publishTimeoutMs)
  const registry = new WorkerRegistry(connection, publisher, names.workers, resolved.heartbeatMs)
  await registry.start()
  const ledger = new Ledger(connection, publisher, names.ledger)
  await ledger.start()
  await connection.open()
  const mover = new Mover(connection, publisher, scope)
  const reports = new Reports(connection, publisher, scope, names, resolved.ownerExpiresMs, ledger)
  return new RabbitTransport({ connection, publisher, mover, scope, options: resolved, names, reports, registry, ledger })
}
