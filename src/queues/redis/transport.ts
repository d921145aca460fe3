/**
 * The attempt transport on Redis:
 *
 * - **attempts** travel as BullMQ jobs, in one BullMQ queue per work queue (`work.<queue>`) and one
 *   per worker for routed attempts (`route.<worker>`); the job id is the attempt id (escaped, see
 *   `names.ts`), so `holds()` can look an attempt up, and the job's priority follows the task's.
 *   `publish` adds each queue's share in one `addBulk`. Workers consume through pooled BullMQ
 *   workers (see `consumer.ts`), so a worker's `concurrency` bounds what it holds across all its
 *   queues, and a worker that dies has its attempts delivered again within `leaseMs`;
 * - **reports** go to a Redis stream per owner (see `reports.ts`), which keeps them while the
 *   owner is not listening, in order;
 * - **cancels** are a pub/sub broadcast (see `cancels.ts`);
 * - **workers** announce themselves in a sorted set by time (see `registry.ts`).
 *
 * The names of the BullMQ queues in use are kept in a set (`<prefix>:tw-queues`), for `holds()`
 * and `stats()`, which look at every queue of the transport.
 * @module
 */
import type { Redis } from 'ioredis'
import { InvalidOptionError } from '../../core/errors.js'
import type { SerializedError } from '../../core/errors.js'
import type { AttemptDelivery, AttemptEnvelope, AttemptReport, Transport, TransportConsumeOptions, TransportHealth, TransportStats, TransportSubscription, WorkerInfo, WorkQueueStats } from '../../core/transport.js'
import { DEFAULT_WORK_QUEUE, deliveryLimitReport } from '../../core/transport.js'
import { CancelListener, cancelChannel, publishCancel } from './cancels.js'
import { blockingClient, dropClient, waitReady } from './clients.js'
import type { Clients } from './clients.js'
import { RedisConsumer } from './consumer.js'
import type { BullQueue } from './dead-letters.js'
import type { Drivers } from './driver.js'
import { closedError, describeCause, redisError, scopeText, throttledWarn } from './errors.js'
import type { ErrorScope } from './errors.js'
import { batchedKey, planPublish, unsettledByBatch } from './batches.js'
import type { BulkJob } from './batches.js'
import { jobIdOf, roleOf, routeQueueName, workQueueName } from './names.js'
import type { ResolvedTransportOptions } from './options.js'
import { announceWorker, registryKeys, workersWithin } from './registry.js'
import { watchHealth } from './connection-health.js'
import { MemoryGuard, messageBytes } from './memory-guard.js'
import type { RegistryKeys } from './registry.js'
import { ReportReader, ReportWriter, reportsKey } from './reports.js'
import { transportPolicy } from './transport-policy.js'

/** States in which BullMQ still holds a job for delivery. */
const HELD_STATES = new Set(['waiting', 'prioritized', 'delayed', 'active', 'waiting-children'])
/** How long `workers()` looks back by default, as the port says. */
const DEFAULT_WORKERS_WITHIN_MS = 15_000

/** The transport on Redis (see the module header). */
export class RedisTransport implements Transport {
  readonly type = 'redis'
  readonly #drivers: Drivers
  readonly #clients: Clients
  readonly #options: ResolvedTransportOptions
  readonly #scope: ErrorScope
  readonly #memory: MemoryGuard
  readonly #health: () => TransportHealth
  readonly #queues = new Map<string, BullQueue>()
  readonly #queueSet: string
  readonly #registry: RegistryKeys
  readonly #subscriptions = new Set<TransportSubscription>()
  readonly #reports: ReportWriter
  readonly #warn: (message: string) => void
  #closing: Promise<void> | undefined
  #closedAt = 0

  constructor(drivers: Drivers, clients: Clients, options: ResolvedTransportOptions, scope: ErrorScope) {
    this.#drivers = drivers
    this.#clients = clients
    this.#options = options
    this.#scope = scope
    this.#memory = new MemoryGuard(clients.command, options.memoryReserve, scope, options.logger)
    this.#health = watchHealth(clients.command, options.location)
    this.#queueSet = `${options.prefix}:tw-queues`
    this.#registry = registryKeys(options.prefix)
    this.#reports = new ReportWriter(clients.command, options.reportBacklog)
    this.#warn = throttledWarn(options.logger)
  }

  health(): TransportHealth {
    if (this.#closing !== undefined) return { ok: false, since: this.#closedAt, problem: `${scopeText(this.#scope)}: the handle is closed` }
    return this.#health()
  }

  async publish(envelopes: readonly AttemptEnvelope[]): Promise<void> {
    this.#checkOpen('publish')
    if (envelopes.length === 0) return
    const groups = new Map<string, AttemptEnvelope[]>()
    for (const envelope of envelopes) {
      const name = envelope.worker === undefined ? workQueueName(envelope.queue) : routeQueueName(envelope.worker)
      const group = groups.get(name)
      if (group === undefined) groups.set(name, [envelope])
      else group.push(envelope)
    }
    const command = this.#clients.command
    let finished: (() => void) | undefined
    try {
      finished = await this.#memory.admit('publish', () => envelopes.reduce((sum, envelope) => sum + messageBytes(Buffer.byteLength(JSON.stringify(envelope))), 0))
      await Promise.all([
        command.sadd(this.#queueSet, ...groups.keys()),
        ...[...groups].map(async ([name, group]) => {
          const plan = planPublish(group, this.#options.batchSize)
          // The batched hash is written first (sent first on the same connection, so Redis runs it
          // first): a worker that claims a batch job finds its attempts there.
          // An attempt published again alone (a publish retried after a lost answer) is no longer
          // its earlier batch's to run.
          const hash = batchedKey(this.#options.prefix, name)
          const mapped = plan.batchedCount > 0 ? command.hset(hash, plan.batched) : undefined
          const unmapped = plan.singles.length > 0 ? command.hdel(hash, ...plan.singles) : undefined
          await Promise.all([mapped, unmapped, this.#queue(name).addBulk(plan.jobs as BulkJob[])])
        }),
      ])
    } catch (err) {
      throw redisError(this.#scope, 'publish', err)
    } finally {
      finished?.()
    }
  }

  async consume(handler: (delivery: AttemptDelivery) => Promise<void>, options: TransportConsumeOptions): Promise<TransportSubscription> {
    this.#checkOpen('consume')
    const { worker, concurrency } = options
    if (typeof worker !== 'string' || worker === '') throw new InvalidOptionError('worker', 'a non-empty string', worker)
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidOptionError('concurrency', 'an integer ≥ 1', concurrency)
    const queues = [...new Set(options.queues ?? [DEFAULT_WORK_QUEUE])].map(workQueueName)
    const names = [...queues, routeQueueName(worker)]
    try {
      await this.#clients.command.sadd(this.#queueSet, ...names)
    } catch (err) {
      throw redisError(this.#scope, 'consume', err)
    }
    const { logger, lease, prefix, connectTimeoutMs, commandTimeoutMs } = this.#options
    const consumer = await RedisConsumer.start<AttemptDelivery>(
      {
        bullmq: this.#drivers.bullmq,
        queues: names,
        prefix,
        connection: this.#clients.consumerTemplate,
        lease,
        concurrency,
        handler,
        policy: transportPolicy({
          maxDeliveries: this.#options.maxDeliveries,
          scope: this.#scope,
          prefix,
          client: this.#clients.command,
          add: async (name, jobs) => void (await this.#queue(name).addBulk(jobs as BulkJob[])),
          handler,
          logger,
          lockMs: lease.lockMs,
          onLimit: (envelope, deliveries) => {
            this.report(envelope.owner, deliveryLimitReport(envelope, deliveries, this.#options.maxDeliveries)).catch((err: unknown) =>
              logger.warn('could not tell an owner its attempt reached the delivery limit', { owner: envelope.owner, attemptId: envelope.request.attemptId, error: String(err) }),
            )
          },
        }),
        scope: this.#scope,
        logger,
        connectTimeoutMs,
        closeSlackMs: commandTimeoutMs,
        signal: options.signal,
      },
      (closed) => this.#subscriptions.delete(closed),
    )
    this.#subscriptions.add(consumer)
    return { close: (closeOptions) => consumer.close(closeOptions) }
  }

  async report(owner: string, report: AttemptReport): Promise<void> {
    this.#checkOpen('report')
    try {
      await this.#reports.append(reportsKey(this.#options.prefix, owner), report)
    } catch (err) {
      throw redisError(this.#scope, `report to owner ${owner}`, err)
    }
  }

  async receive(owner: string, handler: (report: AttemptReport) => void): Promise<TransportSubscription> {
    this.#checkOpen('receive')
    const client = blockingClient(this.#drivers.Redis, this.#options)
    try {
      await waitReady(client, this.#options.connectTimeoutMs, this.#scope)
    } catch (err) {
      dropClient(client)
      throw err
    }
    const reader = new ReportReader(client, this.#clients.command, reportsKey(this.#options.prefix, owner), handler, this.#options.logger, this.#scope)
    reader.start()
    return this.#track(reader)
  }

  async removeOwner(owner: string): Promise<void> {
    this.#checkOpen('removeOwner')
    try {
      await this.#clients.command.del(reportsKey(this.#options.prefix, owner))
    } catch (err) {
      throw redisError(this.#scope, `removing owner ${owner}`, err)
    }
  }

  async cancel(attemptId: string, reason: SerializedError): Promise<void> {
    this.#checkOpen('cancel')
    try {
      await publishCancel(this.#clients.command, cancelChannel(this.#options.prefix), attemptId, reason)
    } catch (err) {
      throw redisError(this.#scope, `cancelling attempt ${attemptId}`, err)
    }
  }

  async onCancel(handler: (attemptId: string, reason: SerializedError) => void): Promise<TransportSubscription> {
    this.#checkOpen('onCancel')
    const client = blockingClient(this.#drivers.Redis, this.#options)
    try {
      await waitReady(client, this.#options.connectTimeoutMs, this.#scope)
      const listener = await CancelListener.listen(client, cancelChannel(this.#options.prefix), handler, this.#options.logger, this.#scope)
      return this.#track(listener)
    } catch (err) {
      dropClient(client)
      throw redisError(this.#scope, 'onCancel', err)
    }
  }

  /**
   * Looks each attempt up in every queue of the transport. An attempt found dead-lettered (or
   * completed and kept) is not held, and its job is removed: BullMQ ignores an add whose job id
   * exists, so the reconciler's republish would otherwise be dropped.
   */
  async holds(attemptIds: readonly string[]): Promise<ReadonlySet<string>> {
    this.#checkOpen('holds')
    const held = new Set<string>()
    if (attemptIds.length === 0) return held
    try {
      const names = await this.#clients.command.smembers(this.#queueSet)
      const checks: Promise<void>[] = []
      for (const name of names) {
        if (roleOf(name) === undefined) continue
        const queue = this.#queue(name)
        checks.push(this.#lookUpBatched(name, queue, attemptIds, held))
        for (const attemptId of attemptIds) {
          checks.push(this.#lookUp(queue, attemptId, held))
        }
      }
      await Promise.all(checks)
    } catch (err) {
      throw redisError(this.#scope, 'holds', err)
    }
    return held
  }

  async #lookUp(queue: BullQueue, attemptId: string, held: Set<string>): Promise<void> {
    const jobId = jobIdOf(attemptId)
    // Most attempts are in no queue but one: an EXISTS (pipelined with the rest) settles those.
    if ((await this.#clients.command.exists(queue.toKey(jobId))) === 0) return
    const state = await queue.getJobState(jobId)
    if (HELD_STATES.has(state)) held.add(attemptId)
    else if (state === 'failed' || state === 'completed') await queue.remove(jobId).catch(() => 0)
  }

  /** Attempts of `attemptIds` in a batch of queue `name` that is still held, settled or not (a batch is held until every attempt in it is). */
  async #lookUpBatched(name: string, queue: BullQueue, attemptIds: readonly string[], held: Set<string>): Promise<void> {
    const batches = await this.#clients.command.hmget(batchedKey(this.#options.prefix, name), ...attemptIds)
    const states = new Map<string, Promise<boolean>>()
    await Promise.all(
      attemptIds.map(async (attemptId, i) => {
        const jobId = batches[i]
        if (jobId === null || jobId === undefined) return
        let state = states.get(jobId)
        if (state === undefined) {
          state = queue.getJobState(jobId).then((s) => HELD_STATES.has(s))
          states.set(jobId, state)
        }
        if (await state) held.add(attemptId)
      }),
    )
  }

  async announce(info: WorkerInfo): Promise<void> {
    this.#checkOpen('announce')
    let dropped: readonly string[]
    try {
      dropped = await announceWorker(this.#clients.command, this.#registry, info, Math.max(60_000, 20 * this.#options.heartbeatMs))
    } catch (err) {
      throw redisError(this.#scope, `announcing worker ${info.worker}`, err)
    }
    for (const worker of dropped) void this.#dropRoute(worker)
  }

  /**
   * Removes the route queue of a worker silent for long (its process is gone; each new process
   * has a new id), so `holds()` and `stats()` do not look through one queue per worker that ever
   * ran. An attempt still routed there is lost with it; the owner publishes it again to any worker
   * of its queue, as for any attempt routed to a worker that stopped announcing itself.
   */
  async #dropRoute(worker: string): Promise<void> {
    const name = routeQueueName(worker)
    try {
      // Out of the set last: a removal cut short is still found by destroy().
      await this.#queue(name).obliterate({ force: true })
      await this.#clients.command.del(batchedKey(this.#options.prefix, name))
      await this.#clients.command.srem(this.#queueSet, name)
    } catch (err) {
      this.#warn(`${scopeText(this.#scope)}: the route queue of worker ${worker}, silent for long, could not be removed: ${describeCause(err)}`)
    } finally {
      const queue = this.#queues.get(name)
      this.#queues.delete(name)
      await queue?.close().catch(() => {})
    }
  }

  async workers(options: { readonly withinMs?: number } = {}): Promise<readonly WorkerInfo[]> {
    this.#checkOpen('workers')
    try {
      return await workersWithin(this.#clients.command, this.#registry, options.withinMs ?? DEFAULT_WORKERS_WITHIN_MS)
    } catch (err) {
      throw redisError(this.#scope, 'workers', err)
    }
  }

  async stats(): Promise<TransportStats> {
    this.#checkOpen('stats')
    try {
      const names = (await this.#clients.command.smembers(this.#queueSet)).sort()
      const [queues, workers] = await Promise.all([Promise.all(names.map((name) => this.#queueStats(name))), this.workers({ withinMs: 3 * this.#options.heartbeatMs })])
      return { type: this.type, queues: queues.filter((q): q is WorkQueueStats => q !== undefined), workers }
    } catch (err) {
      throw redisError(this.#scope, 'stats', err)
    }
  }

  /** One queue's numbers; route queues only when they hold something (there is one per worker that ever ran). */
  async #queueStats(name: string): Promise<WorkQueueStats | undefined> {
    const role = roleOf(name)
    if (role === undefined) return undefined
    const queue = this.#queue(name)
    const [counts, batches] = await Promise.all([queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed'), unsettledByBatch(this.#clients.command, batchedKey(this.#options.prefix, name))])
    const count = (type: string): number => counts[type] ?? 0
    // A batch job counts as the attempts in it not settled yet, in the state of the job.
    const extra = { waiting: 0, active: 0, delayed: 0 }
    await Promise.all(
      [...batches].map(async ([jobId, attempts]) => {
        const state = await queue.getJobState(jobId)
        const key = state === 'active' ? 'active' : state === 'delayed' ? 'delayed' : state === 'waiting' || state === 'prioritized' ? 'waiting' : undefined
        if (key !== undefined) extra[key] += attempts - 1
      }),
    )
    const stats: WorkQueueStats = {
      queue: role.kind === 'work' ? role.queue : `@${role.worker}`,
      waiting: count('wait') + count('prioritized') + extra.waiting,
      active: count('active') + extra.active,
      delayed: count('delayed') + extra.delayed,
      dead: count('failed'),
    }
    if (role.kind === 'route' && stats.waiting + stats.active + stats.delayed + stats.dead === 0) return undefined
    return stats
  }

  close(): Promise<void> {
    this.#closedAt ||= Date.now()
    this.#closing ??= this.#close()
    return this.#closing
  }

  /**
   * Closes the handle, then removes every queue, report stream and worker record under its
   * prefix: for tests and for tearing a deployment down. Consumers of other handles keep running
   * against empty queues.
   */
  async destroy(): Promise<void> {
    this.#checkOpen('destroy')
    this.#closedAt = Date.now()
    this.#closing = this.#close(async () => {
      const command = this.#clients.command
      for (const name of await command.smembers(this.#queueSet)) {
        if (roleOf(name) !== undefined) await this.#queue(name).obliterate({ force: true })
      }
      const owners = await scanKeys(command, `${this.#options.prefix}:tw-reports:*`)
      const batched = await scanKeys(command, `${this.#options.prefix}:tw-batched:*`)
      await command.del(this.#queueSet, this.#registry.times, this.#registry.infos, ...owners, ...batched)
    })
    return this.#closing
  }

  /** Closes consumers and subscriptions first (so none of this handle's own handlers run against what `remove` deletes), then connections. */
  async #close(remove?: () => Promise<void>): Promise<void> {
    await Promise.allSettled([...this.#subscriptions].map((subscription) => subscription.close()))
    try {
      await remove?.()
    } catch (err) {
      throw redisError(this.#scope, 'destroy', err)
    } finally {
      await Promise.allSettled([...this.#queues.values()].map((queue) => queue.close()))
      dropClient(this.#clients.command)
      dropClient(this.#clients.consumerTemplate)
    }
  }

  /** The BullMQ queue `name`, made on first use (they share the command client). */
  #queue(name: string): BullQueue {
    let queue = this.#queues.get(name)
    if (queue === undefined) {
      queue = new this.#drivers.bullmq.Queue<unknown, unknown, string>(name, { connection: this.#clients.command, prefix: this.#options.prefix, skipVersionCheck: true })
      queue.on('error', (err) => this.#warn(`${scopeText(this.#scope)}: queue ${name}: ${describeCause(err)}`))
      this.#queues.set(name, queue)
    }
    return queue
  }

  #track(subscription: TransportSubscription): TransportSubscription {
    this.#subscriptions.add(subscription)
    return {
      close: async () => {
        this.#subscriptions.delete(subscription)
        await subscription.close()
      },
    }
  }

  #checkOpen(operation: string): void {
    if (this.#closing !== undefined) throw closedError(this.#scope, operation)
  }
}

/** Every key matching `pattern` (SCAN, so the server is never blocked for long). */
async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    keys.push(...found)
    cursor = next
  } while (cursor !== '0')
  return keys
}
