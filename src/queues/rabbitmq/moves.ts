/**
 * Copies of a delivered message sent where it goes next: back to the later queue (at once or
 * through a delay queue) or to the dead letters. The copy is confirmed before the caller acks the
 * original, so a crash in between leaves the message twice (at least once), never nowhere.
 * @module
 */
import type { Message, Options } from 'amqplib'
import { TaskweaveError } from '../../core/errors.js'
import type { RabbitConnection } from './connection.js'
import type { Scope } from './errors.js'
import { copyOptions, DEAD_AT_HEADER, REASON_HEADER } from './message.js'
import type { MessageMeta } from './message.js'
import { delayBucket } from './names.js'
import type { WorkQueueNames } from './names.js'
import type { Publisher } from './publisher.js'
import { declareDelayQueue, DELAY_REDECLARE_MS } from './topology.js'

/** Longest reason kept on a dead letter: it travels in a header (amqplib refuses a headers table over 64 KiB). */
export const MAX_REASON_CHARS = 4000

/** Sends copies of messages on (see the module header). */
export class Mover {
  readonly #connection: RabbitConnection
  readonly #publisher: Publisher
  readonly #scope: Scope
  /** When each delay queue was last declared, and on which connection. */
  readonly #declared = new Map<string, { readonly generation: number; readonly at: number }>()

  constructor(connection: RabbitConnection, publisher: Publisher, scope: Scope) {
    this.#connection = connection
    this.#publisher = publisher
    this.#scope = scope
  }

  /** The delay queues this handle declared (bucketed delays), per work queue main name. */
  delaysUsed(names: WorkQueueNames): number[] {
    const prefix = names.delay(0).slice(0, -1)
    const delays: number[] = []
    for (const name of this.#declared.keys()) if (name.startsWith(prefix)) delays.push(Number(name.slice(prefix.length)))
    return delays
  }

  /**
   * Makes sure the delay queue of `delayMs` (a bucket) exists long enough for a message sent now:
   * declaring it renews its `x-expires` lease.
   */
  async ensureDelayQueue(names: WorkQueueNames, delayMs: number): Promise<void> {
    const name = names.delay(delayMs)
    await this.#connection.withSession('declaring a delay queue', async (session) => {
      const last = this.#declared.get(name)
      if (last !== undefined && last.generation === session.generation && Date.now() - last.at < DELAY_REDECLARE_MS) return
      await declareDelayQueue(await session.ops(), this.#scope, names, delayMs)
      this.#declared.set(name, { generation: session.generation, at: Date.now() })
    })
  }

  /** Publishes `content` (a new message or a copy) to wait `delayMs`, then land in the later queue. */
  async toLater(names: WorkQueueNames, content: Buffer, options: Options.Publish, delayMs: number, operation: string): Promise<void> {
    const bucket = delayBucket(delayMs)
    if (bucket > 0) await this.ensureDelayQueue(names, bucket)
    const [result] = await this.#publisher.publish([{ exchange: '', routingKey: bucket > 0 ? names.delay(bucket) : names.later, content, options }], operation)
    if (result !== 'ok') throw this.#refused(operation, bucket > 0 ? names.delay(bucket) : names.later)
  }

  /** A copy of `message` for another delivery after `delayMs`, counted as delivered `deliveriesBefore` times. */
  async retry(names: WorkQueueNames, message: Message, meta: MessageMeta, deliveriesBefore: number, delayMs: number): Promise<void> {
    await this.toLater(names, message.content, copyOptions(message, meta, deliveriesBefore), delayMs, 'sending a message back for another delivery')
  }

  /** A copy of `message` in the dead letters, with `reason`. */
  async deadLetter(names: WorkQueueNames, message: Message, meta: MessageMeta, deliveries: number, reason: string): Promise<void> {
    const capped = reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason
    const options = copyOptions(message, meta, deliveries, { [REASON_HEADER]: capped, [DEAD_AT_HEADER]: Date.now() })
    const [result] = await this.#publisher.publish([{ exchange: names.deadExchange, routingKey: '', content: message.content, options }], 'dead-lettering a message')
    if (result !== 'ok') throw this.#refused('dead-lettering a message', names.dead)
  }

  #refused(operation: string, queue: string): TaskweaveError {
    return new TaskweaveError(this.#scope.code, `${this.#scope.subject} at ${this.#scope.location}: ${operation} failed: the broker refused the message for "${queue}"`, {
      retryable: true,
      details: { location: this.#scope.location, queue },
    })
  }
}
