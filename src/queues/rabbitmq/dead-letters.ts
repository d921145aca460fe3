/**
 * The dead letters of a work queue: its dead-letter queue, read with `basic.get`. RabbitMQ cannot
 * look at a queue without taking its messages, so reading takes them unacknowledged on a channel
 * of its own and closing that channel gives them back, in their place (classic queues put a
 * message given back where it was). While a `list()` or `requeue()` runs, the messages it holds
 * are invisible to another reader; they are never lost.
 *
 * Order: oldest dead-lettered first (the queue's order). `requeue` publishes each chosen dead
 * letter (confirmed) to the later queue with its deliveries reset, then removes it; the others
 * stay, in order.
 * @module
 */
import type { GetMessage } from 'amqplib'
import { priorityLevel } from '../../core/queue.js'
import type { DeadLetter, DeadLetterList } from '../../core/queue.js'
import type { RabbitConnection } from './connection.js'
import { guarded } from './errors.js'
import type { Scope } from './errors.js'
import { DEAD_AT_HEADER, DELIVERIES_HEADER, ENQUEUED_AT_HEADER, metaOf, publishOptions, REASON_HEADER } from './message.js'
import type { WorkQueueNames } from './names.js'
import type { Outgoing, Publisher } from './publisher.js'

/** Dead letters requeued per confirmed batch. */
const REQUEUE_BATCH = 500

interface XDeath {
  readonly reason?: string
  readonly queue?: string
  readonly time?: { readonly value?: unknown }
}

/** A dead letter as the port shows it, from a message of the dead-letter queue. */
export function deadLetterOf<T>(message: GetMessage): DeadLetter<T> {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>
  const meta = metaOf(message)
  const deaths = Array.isArray(headers['x-death']) ? (headers['x-death'] as XDeath[]) : []
  const death = deaths[0]
  const reason = typeof headers[REASON_HEADER] === 'string' ? headers[REASON_HEADER] : `dead-lettered by the broker (${death?.reason ?? 'unknown'} from ${death?.queue ?? 'unknown'})`
  const deadAt = typeof headers[DEAD_AT_HEADER] === 'number' ? headers[DEAD_AT_HEADER] : typeof death?.time?.value === 'number' ? death.time.value * 1000 : meta.enqueuedAt
  const text = message.content.toString('utf8')
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    // Not JSON (another publisher's message): shown as its text.
    body = text
  }
  return {
    id: meta.id,
    body: body as T,
    priority: priorityLevel(meta.priority),
    reason,
    deliveries: typeof headers[DELIVERIES_HEADER] === 'number' ? headers[DELIVERIES_HEADER] : 0,
    enqueuedAt: typeof headers[ENQUEUED_AT_HEADER] === 'number' ? headers[ENQUEUED_AT_HEADER] : meta.enqueuedAt,
    deadLetteredAt: deadAt,
  }
}

/** The dead letters of one work queue (see the module header). */
export class RabbitDeadLetters<T> implements DeadLetterList<T> {
  readonly #connection: RabbitConnection
  readonly #publisher: Publisher
  readonly #names: WorkQueueNames
  readonly #scope: Scope

  constructor(connection: RabbitConnection, publisher: Publisher, scope: Scope, names: WorkQueueNames) {
    this.#connection = connection
    this.#scope = scope
    this.#publisher = publisher
    this.#names = names
  }

  list(options: { readonly limit?: number } = {}): Promise<readonly DeadLetter<T>[]> {
    return guarded(this.#scope, 'list', async () => {
      const limit = Math.max(0, Math.floor(options.limit ?? 100))
      return this.#connection.withSession('listing dead letters', (session) => session.scratch(async (channel) => {
        const found: DeadLetter<T>[] = []
        while (found.length < limit) {
          const message = await channel.get(this.#names.dead, { noAck: false })
          if (message === false) break
          found.push(deadLetterOf<T>(message))
        }
        // Closing the channel (scratch does) gives every message back, in place.
        return found
      }), { long: true })
    })
  }

  requeue(ids?: readonly string[]): Promise<readonly string[]> {
    return guarded(this.#scope, 'requeue', async () => {
      const wanted = ids === undefined ? undefined : new Set(ids)
      if (wanted?.size === 0) return []
      return this.#connection.withSession('requeueing dead letters', (session) => session.scratch(async (channel) => {
        const requeued: string[] = []
        // Only what was there when it began: dead letters that arrive meanwhile wait for the next call.
        let left = (await channel.checkQueue(this.#names.dead)).messageCount
        let batch: GetMessage[] = []
        const send = async (): Promise<void> => {
          if (batch.length === 0) return
          const outgoing: Outgoing[] = batch.map((message) => {
            const meta = metaOf(message)
            return { exchange: '', routingKey: this.#names.later, content: message.content, options: publishOptions(meta.id, meta.priority, meta.enqueuedAt) }
          })
          const results = await this.#publisher.publish(outgoing, 'requeueing dead letters')
          for (let k = 0; k < batch.length; k++) {
            const message = batch[k] as GetMessage
            if (results[k] !== 'ok') continue
            channel.ack(message)
            requeued.push(metaOf(message).id)
          }
          batch = []
        }
        while (left-- > 0) {
          const message = await channel.get(this.#names.dead, { noAck: false })
          if (message === false) break
          const id = metaOf(message).id
          if (wanted !== undefined && !wanted.has(id)) continue
          batch.push(message)
          if (batch.length >= REQUEUE_BATCH) await send()
        }
        await send()
        return requeued
      }), { long: true })
    })
  }

  purge(): Promise<number> {
    return guarded(this.#scope, 'purge', async () => {
      return this.#connection.withSession('purging dead letters', async (session) => (await (await session.ops()).purgeQueue(this.#names.dead)).messageCount)
    })
  }
}
