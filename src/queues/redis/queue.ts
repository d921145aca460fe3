/**
 * The message queue on Redis through BullMQ: one BullMQ queue per message queue, jobs added with
 * one attempt and a BullMQ priority per level (see `priority.ts`), consumed by pooled BullMQ
 * workers (see `consumer.ts`), dead letters in BullMQ's failed set (see `dead-letters.ts`), the
 * counts BullMQ does not keep in a hash of their own (see `counts.ts`), `maxSize` under an enqueue
 * lock (see `size-guard.ts`).
 * @module
 */
import { InvalidOptionError, QueueFullError, TaskweaveError } from '../../core/errors.js'
import { checkDeliveryHandler, checkEnqueueOptions, checkOutgoingMessages } from '../../core/queue.js'
import type { Consumer, ConsumeOptions, DeadLetterList, Delivery, DeliveryHandler, EnqueueOptions, MessageQueue, OutgoingMessage, QueueStats } from '../../core/queue.js'
import type { Clients } from './clients.js'
import { dropClient } from './clients.js'
import { RedisConsumer } from './consumer.js'
import { countsKey, readCounts } from './counts.js'
import { RedisDeadLetters } from './dead-letters.js'
import type { BullQueue } from './dead-letters.js'
import type { Drivers } from './driver.js'
import { closedError, redisError, scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'
import type { ResolvedQueueOptions } from './options.js'
import { bullPriority } from './priority.js'
import { queuePolicy } from './queue-policy.js'
import { MemoryGuard, messageBytes } from './memory-guard.js'
import { enqueueLockKey, withinSize } from './size-guard.js'

/** The name BullMQ stores on each job (BullMQ jobs are named; messages are not): short, as it is kept per job. */
const JOB_NAME = 'm'

/** A message queue on Redis (see the module header). */
export class RedisMessageQueue<T> implements MessageQueue<T> {
  readonly type = 'redis'
  readonly name: string
  readonly deadLetters: DeadLetterList<T>
  readonly #drivers: Drivers
  readonly #clients: Clients
  readonly #queue: BullQueue
  readonly #options: ResolvedQueueOptions
  readonly #scope: ErrorScope
  readonly #memory: MemoryGuard
  readonly #consumers = new Set<RedisConsumer<Delivery<T>>>()
  #closing: Promise<void> | undefined

  constructor(drivers: Drivers, clients: Clients, queue: BullQueue, options: ResolvedQueueOptions, scope: ErrorScope) {
    this.#drivers = drivers
    this.#clients = clients
    this.#queue = queue
    this.#options = options
    this.#scope = scope
    this.#memory = new MemoryGuard(clients.command, options.memoryReserve, scope, options.logger)
    this.name = options.name
    this.deadLetters = new RedisDeadLetters<T>(queue, scope, (operation) => this.#checkOpen(operation))
  }

  /** `<prefix>:<name>`: the start of every key of this queue. */
  get #queueKey(): string {
    return `${this.#options.prefix}:${this.#options.name}`
  }

  async enqueue(body: T, options: EnqueueOptions = {}): Promise<string> {
    checkEnqueueOptions(options)
    const [id] = await this.enqueueMany([{ ...options, body }])
    return id ?? ''
  }

  async enqueueMany(messages: readonly OutgoingMessage<T>[]): Promise<readonly string[]> {
    this.#checkOpen('enqueue')
    checkOutgoingMessages(messages)
    if (messages.length === 0) return []
    const jobs = messages.map((message, index) => {
      const delayMs = message.delayMs ?? 0
      if (!Number.isFinite(delayMs) || delayMs < 0) throw new InvalidOptionError(`messages[${index}].delayMs`, 'a number of ms ≥ 0', delayMs)
      // BullMQ would store these as `{}`: refused, as JSON.stringify has nothing to write for them.
      const kind = typeof message.body
      if (kind === 'undefined' || kind === 'function' || kind === 'symbol') throw notJson(this.#scope, index, messages.length, `it is ${kind === 'undefined' ? 'undefined' : `a ${kind}`}`)
      return {
        name: JOB_NAME,
        data: message.body,
        opts: { priority: bullPriority(message.priority), attempts: 1, removeOnComplete: true, ...(delayMs > 0 ? { delay: Math.round(delayMs) } : {}) },
      }
    })
    const add = (): Promise<readonly string[]> => this.#queue.addBulk(jobs).then((added) => added.map((job) => job.id ?? ''))
    const { maxSize } = this.#options
    let finished: (() => void) | undefined
    try {
      finished = await this.#memory.admit('enqueue', () => jobs.reduce((sum, job) => sum + messageBytes(Buffer.byteLength(JSON.stringify(job.data))), 0))
      if (maxSize === undefined) return await add()
      const keys = this.#queue.keys
      return await withinSize(
        this.#clients.command,
        enqueueLockKey(this.#queueKey),
        { wait: keys.wait ?? '', prioritized: keys.prioritized ?? '', paused: keys.paused ?? '' },
        maxSize,
        jobs.length,
        this.#options.commandTimeoutMs,
        this.#scope,
        () => new QueueFullError(this.name, maxSize, { details: { location: this.#options.location, adding: jobs.length } }),
        add,
      )
    } catch (err) {
      // BullMQ writes each body with JSON.stringify, which throws a TypeError for a cycle or a BigInt.
      if (err instanceof TypeError) throw notJson(this.#scope, undefined, messages.length, err.message)
      throw redisError(this.#scope, 'enqueue', err)
    } finally {
      finished?.()
    }
  }

  async consume(handler: DeliveryHandler<T>, options: ConsumeOptions = {}): Promise<Consumer> {
    this.#checkOpen('consume')
    checkDeliveryHandler(handler)
    const concurrency = options.concurrency ?? 1
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidOptionError('concurrency', 'an integer ≥ 1', concurrency)
    const { logger } = this.#options
    const consumer = await RedisConsumer.start<Delivery<T>>(
      {
        bullmq: this.#drivers.bullmq,
        queues: [this.name],
        prefix: this.#options.prefix,
        connection: this.#clients.consumerTemplate,
        lease: this.#options.lease,
        concurrency,
        handler,
        policy: queuePolicy<T>({ maxDeliveries: this.#options.maxDeliveries, backoff: this.#options.backoff, command: this.#clients.command, countsKey: countsKey(this.#queueKey), scope: this.#scope, logger }),
        scope: this.#scope,
        logger,
        connectTimeoutMs: this.#options.connectTimeoutMs,
        closeSlackMs: this.#options.commandTimeoutMs,
        signal: options.signal,
      },
      (closed) => this.#consumers.delete(closed),
    )
    this.#consumers.add(consumer)
    return { close: (closeOptions) => consumer.close(closeOptions) }
  }

  async stats(): Promise<QueueStats> {
    this.#checkOpen('stats')
    try {
      const [jobs, counts] = await Promise.all([this.#queue.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'failed'), readCounts(this.#clients.command, countsKey(this.#queueKey))])
      const count = (type: string): number => jobs[type] ?? 0
      return {
        pending: count('wait') + count('prioritized'),
        delayed: count('delayed'),
        processing: count('active'),
        completed: counts.completed,
        failed: counts.failed,
        deadLettered: count('failed'),
        meanProcessingMs: counts.completed > 0 ? counts.processingMs / counts.completed : 0,
        countsScope: 'queue',
      }
    } catch (err) {
      throw redisError(this.#scope, 'stats', err)
    }
  }

  async purge(): Promise<number> {
    this.#checkOpen('purge')
    try {
      let removed = 0
      for (const type of ['wait', 'prioritized', 'delayed'] as const) removed += (await this.#queue.clean(0, 0, type)).length
      return removed
    } catch (err) {
      throw redisError(this.#scope, 'purge', err)
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close(false)
    return this.#closing
  }

  async destroy(): Promise<void> {
    if (this.#closing !== undefined) {
      await this.#closing
      throw closedError(this.#scope, 'destroy')
    }
    this.#closing = this.#close(true)
    return this.#closing
  }

  async #close(destroy: boolean): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.close()))
    try {
      if (destroy) {
        await this.#queue.obliterate({ force: true })
        await this.#clients.command.del(countsKey(this.#queueKey), enqueueLockKey(this.#queueKey))
      }
    } catch (err) {
      throw redisError(this.#scope, 'destroy', err)
    } finally {
      await this.#queue.close().catch(() => {})
      dropClient(this.#clients.command)
      dropClient(this.#clients.consumerTemplate)
    }
  }

  #checkOpen(operation: string): void {
    if (this.#closing !== undefined) throw closedError(this.#scope, operation)
  }
}

/** The error of a body that is not JSON data (message `index` of `count`, when known): not retryable. */
function notJson(scope: ErrorScope, index: number | undefined, count: number, problem: string): TaskweaveError {
  const which = index === undefined ? (count === 1 ? 'the body' : 'a body') : `the body of message ${index + 1} of ${count}`
  return new TaskweaveError(scope.code, `${scopeText(scope)}: enqueue failed: ${which} is not JSON data: ${problem}`, {
    retryable: false,
    details: { location: scope.location, queue: scope.queue, operation: 'enqueue', ...(index === undefined ? {} : { index }) },
  })
}
