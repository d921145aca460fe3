/** Opening the attempt transport on Redis: load BullMQ, connect. @module */
import type { Transport } from '../../core/transport.js'
import { openClients } from './clients.js'
import { loadDrivers } from './driver.js'
import type { ErrorScope } from './errors.js'
import { resolveTransportOptions } from './options.js'
import type { RedisTransportOptions } from './options.js'
import { RedisTransport } from './transport.js'

/** A Redis transport handle: the port, plus `destroy()` for tests and teardown. */
export interface RedisTransportHandle extends Transport {
  /** Closes the handle, then removes every queue, report stream and worker record under its prefix (consumers of other handles keep running, against empty queues). */
  destroy(): Promise<void>
}

/**
 * Opens the attempt transport on the Redis server at `options.url`: attempts as BullMQ jobs (one
 * queue per work queue and one per worker for routed attempts, the job id being the attempt id),
 * reports in a Redis stream per owner, cancels over pub/sub, workers in a sorted set by time.
 * Handles with the same prefix, in any process, share everything.
 *
 * Semantics on Redis, beyond the port's:
 * - a worker that dies has its attempts delivered again within about `leaseMs` (its job locks
 *   expire, then a live worker's stalled check moves them back), with `deliveries` counting the
 *   lost delivery; past `maxDeliveries` an attempt is dead-lettered;
 * - attempts of one work queue are delivered by priority, first in first out within a level;
 * - Redis here may keep nothing on disk: a restart loses the attempts it held, which the owner's
 *   reconciler finds through `holds()` and publishes again. Workers and report readers reconnect
 *   by themselves; `publish`, `report` and the other calls reject with `TW_TRANSPORT` while Redis
 *   is down (at once, or after `connection.commandTimeoutMs` for a server that stopped answering).
 *
 * Rejects with `TW_TRANSPORT` when the server cannot be reached within
 * `connection.connectTimeoutMs` or BullMQ is not installed, and with `TW_INVALID_OPTION` for a bad
 * option.
 * @example
 * ```ts
 * import { openRedisTransport } from 'taskweave/queues/redis'
 * const transport = await openRedisTransport({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' })
 * const inbox = await transport.receive('owner-1', (report) => console.log(report.kind, report.attemptId))
 * // … publish attempts; workers consume them and report back …
 * await inbox.close()
 * await transport.close()
 * ```
 */
export async function openRedisTransport(options: RedisTransportOptions = {}): Promise<RedisTransportHandle> {
  const resolved = resolveTransportOptions(options)
  const scope: ErrorScope = { code: 'TW_TRANSPORT', location: resolved.location }
  const drivers = await loadDrivers(scope)
  const clients = await openClients(drivers.Redis, resolved, scope)
  return new RedisTransport(drivers, clients, resolved, scope)
}
