/**
 * The message-queue port on RabbitMQ. One queue is a handful of broker objects (see `names.ts`):
 * the main priority queue (`maxSize` as `x-max-length` with `reject-publish`), the later queue
 * (retries, delayed and requeued messages), one delay queue per delay, and the dead letters.
 *
 * - **enqueue**: persistent messages through the confirm channel; resolves once confirmed. A
 *   message the full main queue refuses (a `basic.nack`) becomes `QueueFullError`.
 * - **enqueueMany** against `maxSize`: the ready count is checked first and the whole call is
 *   refused when it would not fit, so with one publisher it is all or nothing. With publishers
 *   racing, the broker's limit still holds for every message, but a call near the limit may be
 *   taken in part: the `QueueFullError` then lists in `details.accepted` the ids that were.
 * - **stats**: pending, delayed and dead-lettered from the broker's counts (delayed: the delay
 *   queues of the queue's backoff steps and of every delay this handle used; a delay used only
 *   by another process is not seen); processing, completed, failed and meanProcessingMs are this
 *   process's (`countsScope: 'process'`).
 * @module
 */
import { randomUUID } from 'node:crypto'
import { QueueFullError, TaskweaveError } from '../../core/errors.js'
import { checkDeliveryHandler, checkEnqueueOptions, checkOutgoingMessages, priorityLevel } from '../../core/queue.js'
import type { ConsumeOptions, Consumer, DeliveryHandler, EnqueueOptions, MessageQueue, OutgoingMessage, QueueStats } from '../../core/queue.js'
import type { RabbitConnection } from './connection.js'
import { RabbitConsumer } from './consumer.js'
import { RabbitDeadLetters } from './dead-letters.js'
import { closedError, guarded, rabbitError } from './errors.js'
import type { Scope } from './errors.js'
import { countQueues, purgeQueues, sumOf } from './inspect.js'
import { publishOptions } from './message.js'
import type { Mover } from './moves.js'
import { delayBucket } from './names.js'
import type { WorkQueueNames } from './names.js'
import { backoffSteps } from './options.js'
import type { ResolvedRabbitQueueOptions } from './options.js'
import type { Outgoing, Publisher } from './publisher.js'
import { handleDelivery, ProcessCounts } from './queue-delivery.js'
import type { WorkQueueShape } from './topology.js'

/** What a queue handle is built from. */
export interface QueueParts {
  readonly connection: RabbitConnection
  readonly publisher: Publisher
  readonly mover: Mover
  readonly scope: Scope
  readonly options: ResolvedRabbitQueueOptions
  readonly shape: WorkQueueShape
}

const DEFAULT_GRACE_MS = 30_000

/** JSON text of a body, or `TW_QUEUE` when it is not JSON data. */
function encodeBody(scope: Scope, body: unknown): Buffer {
  let text: string | undefined
  try {
    text = JSON.stringify(body)
  } catch (err) {
    throw rabbitError(scope, 'encoding a message body as JSON', err, { retryable: false })
  }
  if (text === undefined) throw rabbitError(scope, 'encoding a message body as JSON', new Error(`a ${typeof body} is not JSON data`), { retryable: false })
  return Buffer.from(text)
}

/** A RabbitMQ queue (see the module header). */
export class RabbitMessageQueue<T> implements MessageQueue<T> {
  readonly type = 'rabbitmq'
  readonly name: string
  readonly deadLetters: RabbitDeadLetters<T>
  readonly #parts: QueueParts
  readonly #names: WorkQueueNames
  readonly #counts = new ProcessCounts()
  readonly #consumers = new Set<RabbitConsumer>()
  #closing: Promise<void> | undefined

  constructor(parts: QueueParts) {
    this.#parts = parts
    this.name = parts.options.name
    this.#names = parts.shape.names
    this.deadLetters = new RabbitDeadLetters<T>(parts.connection, parts.publisher, parts.scope, this.#names)
  }

  async enqueue(body: T, options: EnqueueOptions = {}): Promise<string> {
    checkEnqueueOptions(options)
    const [id] = await this.enqueueMany([{ ...options, body }])
    return id as string
  }

  enqueueMany(messages: readonly OutgoingMessage<T>[]): Promise<readonly string[]> {
    return guarded(this.#parts.scope, 'enqueueMany', async () => {
      this.#checkOpen('enqueue')
      checkOutgoingMessages(messages)
      const { scope, options, publisher, mover, connection } = this.#parts
      // Before any check or declaration: the broker reads nothing from a blocked connection.
      const blocked = connection.blockedError('enqueue')
      if (blocked !== undefined) throw blocked
      const now = Date.now()
      const ids: string[] = []
      const outgoing: Outgoing[] = []
      const delays = new Set<number>()
      let ready = 0
      for (const message of messages) {
        const id = randomUUID()
        ids.push(id)
        const delay = delayBucket(message.delayMs ?? 0)
        if (delay > 0) delays.add(delay)
        else ready++
        outgoing.push({ exchange: '', routingKey: delay > 0 ? this.#names.delay(delay) : this.#names.main, content: encodeBody(scope, message.body), options: publishOptions(id, priorityLevel(message.priority), now) })
      }
      if (outgoing.length === 0) return []
      // One message needs no check: the broker refuses it alone when the queue is full.
      if (options.maxSize !== undefined && ready > 1) await this.#checkRoom(ready, options.maxSize)
      for (const delay of delays) await mover.ensureDelayQueue(this.#names, delay)
      const results = await publisher.publish(outgoing, 'enqueueing')
      const refused = results.filter((r) => r !== 'ok').length
      if (refused > 0) {
        const accepted = ids.filter((_, k) => results[k] === 'ok')
        throw new QueueFullError(this.name, options.maxSize ?? 0, { details: { location: connection.location, accepted, refused } })
      }
      return ids
    })
  }

  consume(handler: DeliveryHandler<T>, options: ConsumeOptions = {}): Promise<Consumer> {
    return guarded(this.#parts.scope, 'consume', async () => {
      this.#checkOpen('consume')
      checkDeliveryHandler(handler)
      const concurrency = options.concurrency ?? 1
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 65535) throw rabbitError(this.#parts.scope, 'starting a consumer', new Error(`concurrency must be an integer from 1 to 65535, not ${String(concurrency)}`), { retryable: false })
      options.signal?.throwIfAborted()
      const { connection, mover, scope, options: resolved } = this.#parts
      const rules = { maxDeliveries: resolved.maxDeliveries, backoff: resolved.backoff }
      const counts = this.#counts
      const consumer = new RabbitConsumer(connection, mover, scope, {
        sources: [this.#parts.shape],
        concurrency,
        maxDeliveries: resolved.maxDeliveries,
        handle: (raw) => handleDelivery(raw, handler, rules, counts),
        onLimit: () => counts.failed++,
      })
      this.#consumers.add(consumer)
      try {
        await consumer.start()
      } catch (err) {
        this.#consumers.delete(consumer)
        await consumer.close(0)
        throw err
      }
      const close = async (graceMs = DEFAULT_GRACE_MS): Promise<void> => {
        await consumer.close(graceMs)
        this.#consumers.delete(consumer)
      }
      options.signal?.addEventListener('abort', () => void close(), { once: true })
      return { close: (o) => close(o?.graceMs) }
    })
  }

  stats(): Promise<QueueStats> {
    return guarded(this.#parts.scope, 'stats', async () => {
      this.#checkOpen('stats')
      const delayQueues = this.#delayQueues()
      const counts = await this.#parts.connection.withSession('reading stats', (session) => countQueues(session, [this.#names.main, this.#names.later, this.#names.dead, ...delayQueues]))
      const c = this.#counts
      return {
        pending: sumOf(counts, [this.#names.main, this.#names.later]),
        delayed: sumOf(counts, delayQueues),
        processing: c.processing,
        completed: c.completed,
        failed: c.failed,
        deadLettered: counts.get(this.#names.dead) ?? 0,
        meanProcessingMs: c.meanProcessingMs,
        countsScope: 'process',
      }
    })
  }

  purge(): Promise<number> {
    return guarded(this.#parts.scope, 'purge', async () => {
      this.#checkOpen('purge')
      return this.#parts.connection.withSession('purging', (session) => purgeQueues(session, [this.#names.main, this.#names.later, ...this.#delayQueues()]))
    })
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async destroy(): Promise<void> {
    if (this.#closing !== undefined) throw closedError(this.#parts.scope, 'destroy')
    const { connection } = this.#parts
    let failure: unknown
    this.#closing = (async () => {
      await this.#closeConsumers()
      try {
        await connection.withSession('destroying the queue', async (session) => {
          const channel = await session.ops()
          for (const queue of [this.#names.main, this.#names.later, this.#names.dead, ...this.#delayQueues()]) await channel.deleteQueue(queue)
          await channel.deleteExchange(this.#names.deadExchange)
        })
      } catch (err) {
        failure = TaskweaveError.is(err) ? err : rabbitError(this.#parts.scope, 'destroying the queue', err)
      }
      await this.#closeConnection()
    })()
    await this.#closing
    if (failure !== undefined) throw failure
  }

  /** The delay queues this queue may have messages in: its backoff's steps and the delays this handle used. */
  #delayQueues(): string[] {
    const { backoff, maxDeliveries } = this.#parts.options
    const delays = new Set([...backoffSteps(backoff, maxDeliveries).map(delayBucket), ...this.#parts.mover.delaysUsed(this.#names)])
    delays.delete(0)
    return [...delays].map((d) => this.#names.delay(d))
  }

  async #checkRoom(adding: number, maxSize: number): Promise<void> {
    const { connection } = this.#parts
    if (adding > maxSize) throw new QueueFullError(this.name, maxSize, { details: { location: connection.location, adding } })
    const { messageCount } = await connection.withSession('enqueueing', async (session) => (await session.ops()).checkQueue(this.#names.main))
    if (messageCount + adding > maxSize) throw new QueueFullError(this.name, maxSize, { details: { location: connection.location, waiting: messageCount, adding } })
  }

  async #close(): Promise<void> {
    await this.#closeConsumers()
    await this.#closeConnection()
  }

  async #closeConsumers(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.close(DEFAULT_GRACE_MS)))
    this.#consumers.clear()
  }

  async #closeConnection(): Promise<void> {
    this.#parts.publisher.failAll(closedError(this.#parts.scope, 'publishing'))
    await this.#parts.connection.close()
  }

  #checkOpen(operation: string): void {
    if (this.#closing !== undefined) throw closedError(this.#parts.scope, operation)
  }
}
