/**
 * The in-process {@link MessageQueue}: the reference adapter of the queue conformance suite, and
 * the queue of tests and of single-process deployments (`MESSAGE_QUEUE_TYPE=memory`). Nothing
 * survives the process.
 *
 * Handles opened with the same `name` (in one process) are the same queue: they share one state
 * through a module-level registry, as handles on one broker share a queue, until `destroy()`
 * removes it. Each handle applies its own options (its `maxSize` to its enqueues, its retry policy
 * to its consumers' deliveries), as on the brokers. Bodies are kept as JSON text, so every
 * delivery is a fresh copy, and a body that is not JSON data is refused at enqueue (`TW_QUEUE`,
 * naming the queue and the offending value). Delays run on the injected clock. A consumer holds
 * its messages until they are settled or it closes (there is no lease to lose in one process),
 * so `leaseMs` is checked but changes nothing; `extend()` is a no-op.
 * @module
 */
import type { Clock } from '../../core/clock.js'
import { systemClock } from '../../core/clock.js'
import { InvalidOptionError, TaskweaveError } from '../../core/errors.js'
import { checkDeliveryHandler, checkEnqueueOptions, checkOutgoingMessages, priorityLevel } from '../../core/queue.js'
import type { Consumer, ConsumeOptions, DeadLetter, DeadLetterList, Delivery, DeliveryHandler, EnqueueOptions, MessageQueue, MessageQueueOptions, OutgoingMessage, QueueStats } from '../../core/queue.js'
import { describeThrown } from '../../core/thrown.js'
import { MemoryConsumer } from './consumer.js'
import { toJsonText } from './json-body.js'
import { checkConcurrency, checkMs, resolveQueueOptions } from './options.js'
import type { ResolvedQueueOptions } from './options.js'
import type { Lease, NewMessage, QueueState } from './queue-state.js'
import { defaultQueueRegistry } from './registry.js'
import { abandonLease, ackLease, deadLetterLease, nackLease } from './settle.js'

/** Options of {@link createMemoryQueue}. */
export interface MemoryQueueOptions extends MessageQueueOptions {
  /** What delays, backoffs and timings run on; every handle on one queue must share it. @default systemClock */
  readonly clock?: Clock
}

/**
 * Opens a handle on the memory queue `options.name`, creating the queue on first use.
 * @example
 * ```ts
 * const queue = createMemoryQueue<{ url: string }>({ name: 'fetch', maxSize: 1000, retry: { maxDeliveries: 3 } })
 * await queue.enqueue({ url: 'https://example.com' }, { priority: 5 })
 * const consumer = await queue.consume(async ({ body }) => void (await fetch(body.url)), { concurrency: 4 })
 * ```
 */
export function createMemoryQueue<T = unknown>(options: MemoryQueueOptions): MessageQueue<T> {
  return new MemoryQueue<T>(options)
}

class MemoryQueue<T> implements MessageQueue<T> {
  readonly type = 'memory'
  readonly name: string
  readonly deadLetters: DeadLetterList<T>
  readonly #options: ResolvedQueueOptions
  readonly #clock: Clock
  readonly #consumers = new Set<MemoryConsumer>()
  #closed = false

  constructor(options: MemoryQueueOptions) {
    this.#options = resolveQueueOptions(options)
    this.name = this.#options.name
    this.#clock = options.clock ?? systemClock
    defaultQueueRegistry.acquire(this.name, this.#clock) // refuses a second clock now, not at first use
    this.deadLetters = {
      list: async (listOptions = {}) => {
        const limit = listOptions.limit ?? 100
        if (!(Number.isSafeInteger(limit) && limit > 0)) throw new InvalidOptionError('limit', 'a positive integer', limit)
        return this.#state().deadLetters(limit).map((b): DeadLetter<T> => ({ id: b.message.id, body: JSON.parse(b.message.text) as T, priority: b.message.priority, reason: b.reason, deliveries: b.message.deliveries, enqueuedAt: b.message.enqueuedAt, deadLetteredAt: b.deadLetteredAt }))
      },
      requeue: async (ids) => this.#state().requeueDead(ids),
      purge: async () => this.#state().purgeDead(),
    }
  }

  async enqueue(body: T, options: EnqueueOptions = {}): Promise<string> {
    checkEnqueueOptions(options)
    const [id] = await this.enqueueMany([{ ...options, body }])
    return id as string
  }

  async enqueueMany(messages: readonly OutgoingMessage<T>[]): Promise<readonly string[]> {
    const state = this.#state()
    checkOutgoingMessages(messages)
    // Every message is checked before any is added: all or nothing, for bad bodies as for maxSize.
    const prepared = messages.map((m, k): NewMessage => {
      checkMs('delayMs', m.delayMs)
      const text = toJsonText(m.body, (problem) => new TaskweaveError('TW_QUEUE', `queue "${this.name}": the body of message ${k + 1} of ${messages.length} is not JSON data: ${problem}`, { retryable: false, details: { queue: this.name, index: k } }))
      return { text, priority: priorityLevel(m.priority), delayMs: m.delayMs ?? 0 }
    })
    return state.push(prepared, this.#options.maxSize)
  }

  async consume(handler: DeliveryHandler<T>, options: ConsumeOptions = {}): Promise<Consumer> {
    const state = this.#state()
    checkDeliveryHandler(handler)
    const concurrency = checkConcurrency(options.concurrency)
    const retry = this.#options.retry
    const consumer = new MemoryConsumer({
      sources: [state],
      concurrency,
      clock: this.#clock,
      signal: options.signal,
      run: (lease) => this.#run(handler, state, lease),
      abandon: (lease) => abandonLease(state, lease, retry),
    })
    this.#consumers.add(consumer)
    return {
      close: async (closeOptions) => {
        await consumer.close(closeOptions)
        this.#consumers.delete(consumer)
      },
    }
  }

  async stats(): Promise<QueueStats> {
    return this.#state().stats()
  }

  async purge(): Promise<number> {
    return this.#state().purge()
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#consumers].map((c) => c.close()))
    this.#consumers.clear()
  }

  async destroy(): Promise<void> {
    this.#closed = true
    defaultQueueRegistry.destroy(this.name)
    await Promise.all([...this.#consumers].map((c) => c.close({ graceMs: 0 })))
    this.#consumers.clear()
  }

  /** The queue's state, looked up on every call so a queue destroyed through another handle starts afresh. */
  #state(): QueueState {
    if (this.#closed) throw new TaskweaveError('TW_QUEUE', `queue "${this.name}": this handle is closed`, { retryable: false, details: { queue: this.name } })
    return defaultQueueRegistry.acquire(this.name, this.#clock)
  }

  /** Runs the handler for one delivery; acks when it returns unsettled, nacks when it throws. Never rejects. */
  async #run(handler: DeliveryHandler<T>, state: QueueState, lease: Lease): Promise<void> {
    const retry = this.#options.retry
    const { message } = lease
    const delivery: Delivery<T> = {
      id: message.id,
      body: JSON.parse(message.text) as T,
      priority: message.priority,
      deliveries: message.deliveries,
      enqueuedAt: message.enqueuedAt,
      ack: async () => ackLease(state, lease),
      nack: async (options = {}) => {
        checkMs('delayMs', options.delayMs)
        nackLease(state, lease, retry, options)
      },
      deadLetter: async (reason) => deadLetterLease(state, lease, String(reason)),
      extend: async () => {},
    }
    try {
      await handler(delivery)
      if (state.holds(lease)) ackLease(state, lease)
    } catch (err) {
      if (state.holds(lease)) nackLease(state, lease, retry, { reason: describeThrown(err) })
    }
  }
}
