/**
 * A consumer of one or more work queues (their main and later queues) on a channel of its own,
 * with manual acks and a channel-wide prefetch equal to its concurrency, so it never holds more
 * messages than it runs.
 *
 * **Counting deliveries.** RabbitMQ classic queues keep no delivery count; they only flag a
 * message `redelivered` when it comes back after a consumer lost it (its connection or channel
 * closed before it settled). The count lives in the message's `x-tw-deliveries` header
 * instead, and every path that delivers a message again publishes a copy with the count raised:
 *
 * - a retry (`nack`, a handler that threw) publishes a copy counted with this delivery;
 * - a message that arrives flagged `redelivered` was delivered before, to a consumer that was
 *   lost: it is not handled; a copy counted with that lost delivery is published to the later
 *   queue (or dead-lettered when that delivery was the last allowed one) and the original acked.
 *   The copy is then delivered fresh, with its count right, however many consumers died before.
 *
 * The copy is confirmed before the original is acked, so a crash in between leaves two copies
 * (at least once), never none. A message given back after a lost consumer moves to the later
 * queue, behind messages of its priority that were waiting there.
 *
 * **Claims.** RabbitMQ closes a channel that kept a delivery unacknowledged past its
 * `consumer_timeout` and delivers the message again. A long handler therefore *claims* its
 * delivery ({@link RawDelivery.claim}): the message is acknowledged while the handler still runs,
 * and settling it later publishes only what must go on (a copy to retry or dead-letter). A claimed
 * delivery no longer counts against the channel's prefetch, so the consumer admits one delivery
 * fewer per claim: it lowers the prefetch, or cancels its subscriptions while every place is taken
 * by a claim, and takes them up again as claims end.
 *
 * **Lifecycle.** The consumer subscribes on every (re)connection (a connection hook). A channel
 * the broker closed while the connection stays up (a `consumer_timeout`, a queue deleted under
 * it) is opened again a second later. `close(graceMs)` cancels the subscriptions (no new
 * deliveries), waits up to `graceMs` for running handlers, then closes the channel: whatever is
 * still unsettled goes back to its queue, flagged `redelivered`, and so counted.
 * @module
 */
import type { Channel, Message } from 'amqplib'
import { TaskweaveError } from '../../core/errors.js'
import { Acker } from './acks.js'
import type { RabbitConnection, Session } from './connection.js'
import { describeCause } from './errors.js'
import type { Scope } from './errors.js'
import { metaOf } from './message.js'
import type { MessageMeta } from './message.js'
import type { Mover } from './moves.js'
import type { WorkQueueNames } from './names.js'
import { Subscriber } from './subscriber.js'
import type { SubscriberChannel } from './subscriber.js'
import { declareWorkQueue } from './topology.js'
import type { WorkQueueShape } from './topology.js'
import { settledWithin } from './bounded.js'

/** A delivery as the consumer hands it to its handler; settle it once (later calls do nothing). */
export interface RawDelivery {
  readonly message: Message
  readonly meta: MessageMeta
  /** 1 the first time, then one more per delivery before (retries and lost consumers). */
  readonly deliveries: number
  /** The work queue it came from. */
  readonly names: WorkQueueNames
  /** Whether it was settled (or is being settled). */
  readonly settled: boolean
  /** Whether this consumer still holds it: false once its channel closed (the broker then delivers it again). */
  readonly held: boolean
  /**
   * {@link held}, asked of the broker: a round trip on the channel that delivered it, so a channel
   * the broker closed while this process could not see it (paused past its heartbeat, its socket
   * dead but not yet read) answers false. False too when the broker does not answer within `ms`,
   * and when it was settled meanwhile (given back by its closing consumer).
   */
  confirmHeld(ms: number): Promise<boolean>
  /** Whether it was claimed (acknowledged while its handler runs): the broker no longer holds it. */
  readonly claimed: boolean
  /**
   * Acknowledges it while its handler still runs (see the module header), after `before` (which
   * tells whoever must know that the broker will no longer hold it) resolved. False when it cannot
   * be claimed (settled, or its channel closed); rejects when `before` or the acknowledgement did
   * (it is then not claimed).
   */
  claim(before: () => Promise<void>): Promise<boolean>
  /** Removes it from the queue. */
  ack(): Promise<void>
  /** Sends it back for another delivery after `delayMs` (counted with this one), then removes this copy. */
  retry(delayMs: number): Promise<void>
  /** Moves it to the dead letters with `reason`, then removes this copy. */
  deadLetter(reason: string): Promise<void>
}

/** What a consumer consumes and how. */
export interface ConsumerSpec {
  readonly sources: readonly WorkQueueShape[]
  readonly concurrency: number
  /** Deliveries after which a message whose consumer was lost once more is dead-lettered. */
  readonly maxDeliveries: number
  /** Handles one delivery; never rejects (the caller settles on its own failures). */
  readonly handle: (delivery: RawDelivery) => Promise<void>
  /** A redelivered message was dead-lettered for the limit without being handled. */
  readonly onLimit?: (meta: MessageMeta, deliveries: number, message: Message) => void
}

interface Subscription {
  readonly session: Session
  readonly channel: Channel
  readonly acker: Acker
  readonly tags: string[]
  open: boolean
  /** Whether its subscriptions are cancelled because claims take every place. */
  paused: boolean
  readonly cancelled: () => void
}

const ignore = (): void => {}

class Delivery implements RawDelivery {
  settled = false
  claimed = false

  get held(): boolean {
    return this.claimed || this.sub.open
  }

  async confirmHeld(ms: number): Promise<boolean> {
    // Settled by someone else meanwhile (a closing consumer gave it back past its grace): its
    // handler no longer holds it, whatever the copy on its way.
    if (this.settled) return false
    // Acknowledged already: no broker can give it to another consumer.
    if (this.claimed) return true
    if (!this.sub.open) return false
    let answered = false
    const asked = this.sub.channel.checkQueue(this.names.main).then(() => (answered = true))
    asked.catch(ignore)
    await settledWithin(asked, ms)
    return answered && this.sub.open
  }

  constructor(
    readonly message: Message,
    readonly meta: MessageMeta,
    readonly deliveries: number,
    readonly names: WorkQueueNames,
    readonly sub: Subscription,
    readonly consumer: RabbitConsumer,
  ) {}

  claim(before: () => Promise<void>): Promise<boolean> {
    return this.consumer.claim(this, before)
  }

  ack(): Promise<void> {
    if (this.settled) return Promise.resolve()
    this.settled = true
    if (this.claimed) {
      this.consumer.release(this)
      return Promise.resolve()
    }
    return this.consumer.ack(this)
  }

  async retry(delayMs: number): Promise<void> {
    if (this.settled) return
    this.settled = true
    await this.consumer.move(this, 'retrying', (mover) => mover.retry(this.names, this.message, this.meta, this.deliveries, delayMs))
  }

  async deadLetter(reason: string): Promise<void> {
    if (this.settled) return
    this.settled = true
    await this.consumer.move(this, 'dead-lettering', (mover) => mover.deadLetter(this.names, this.message, this.meta, this.deliveries, reason))
  }
}

/** A running consumer (see the module header). */
export class RabbitConsumer {
  readonly #mover: Mover
  readonly #scope: Scope
  readonly #spec: ConsumerSpec
  readonly #subscriber: Subscriber
  #sub: Subscription | undefined
  #running = 0
  /** Deliveries claimed and not yet settled: each takes a place the prefetch no longer counts. */
  #claimed = 0
  /** The last change of the channel's admission (prefetch, paused), so changes apply in order. */
  #admitting: Promise<void> = Promise.resolve()
  #idle: (() => void) | undefined
  #closing: Promise<void> | undefined

  constructor(connection: RabbitConnection, mover: Mover, scope: Scope, spec: ConsumerSpec) {
    this.#mover = mover
    this.#scope = scope
    this.#spec = spec
    this.#subscriber = new Subscriber(connection, (sub) => this.#subscribe(sub))
  }

  /** Handlers (and redelivery moves) running now. */
  get running(): number {
    return this.#running
  }

  /** Subscribes now and on every later connection; rejects when the first subscription fails (a refused declaration). */
  async start(): Promise<void> {
    await this.#subscriber.start()
  }

  /** Acks a delivery (see {@link Acker}). */
  async ack(delivery: Delivery): Promise<void> {
    try {
      await delivery.sub.acker.ack(delivery.message)
    } catch (err) {
      throw this.#lost(delivery, 'acknowledging', err)
    }
  }

  /** Claims a delivery (see the module header and {@link RawDelivery.claim}). */
  async claim(delivery: Delivery, before: () => Promise<void>): Promise<boolean> {
    const sub = delivery.sub
    if (delivery.settled || delivery.claimed || !sub.open) return false
    // The place is taken from the prefetch before the ack frees it there.
    this.#claimed++
    try {
      await this.#admit()
      await before()
      if (delivery.settled || !sub.open) throw new Error('settled or lost while it was being claimed')
      await sub.acker.ack(delivery.message)
    } catch (err) {
      this.#claimed--
      void this.#admit().catch(ignore)
      if (delivery.settled || !sub.open) return false
      throw err
    }
    // Settled while the ack was on its way (its own ack or copy went with it): nothing is claimed.
    if (delivery.settled) {
      this.#claimed--
      void this.#admit().catch(ignore)
      return false
    }
    delivery.claimed = true
    return true
  }

  /** A claimed delivery was settled: its place is the prefetch's again. */
  release(delivery: Delivery): void {
    if (!delivery.claimed) return
    delivery.claimed = false
    this.#claimed--
    void this.#admit().catch(ignore)
  }

  /** Applies the admission the claims leave (see the module header), after the changes before it. */
  #admit(): Promise<void> {
    const next = this.#admitting.then(() => this.#applyAdmission())
    this.#admitting = next.catch(ignore)
    return next
  }

  async #applyAdmission(): Promise<void> {
    const sub = this.#sub
    if (sub === undefined || !sub.open || this.#closing !== undefined) return
    const places = this.#spec.concurrency - this.#claimed
    if (places > 0) {
      await sub.channel.prefetch(places, true)
      if (sub.paused) {
        sub.paused = false
        await this.#consumeAll(sub)
      }
    } else if (!sub.paused) {
      sub.paused = true
      const tags = sub.tags.splice(0)
      await Promise.all(tags.map((tag) => sub.channel.cancel(tag)))
    }
  }

  /** Publishes a copy of a delivery with `send`, then acks the original; gives it back when the copy failed. */
  async move(delivery: Delivery, operation: string, send: (mover: Mover) => Promise<void>): Promise<void> {
    // Claimed: the broker holds it no more, so the copy is all that goes on (or nothing, when it failed).
    if (delivery.claimed) {
      try {
        await send(this.#mover)
      } finally {
        this.release(delivery)
      }
      return
    }
    // On a closed channel the broker gives the message back already: a copy would make two.
    if (!delivery.sub.open) throw this.#lost(delivery, operation, new Error('the channel closed first'))
    try {
      await send(this.#mover)
    } catch (err) {
      delivery.sub.acker.requeue(delivery.message)
      throw err
    }
    await this.ack(delivery)
  }

  /**
   * Stops (see the module header). Idempotent. `cancelled` runs once no delivery comes any more,
   * before the grace: a drain claims what runs then.
   */
  close(graceMs: number, cancelled?: () => Promise<void>): Promise<void> {
    this.#closing ??= this.#close(graceMs, cancelled)
    return this.#closing
  }

  async #close(graceMs: number, cancelled: (() => Promise<void>) | undefined): Promise<void> {
    // A change of admission under way (subscriptions taken up again as a claim ended) finishes
    // first, so every subscription it makes is among those cancelled; none starts after.
    await settledWithin(this.#admitting)
    const sub = this.#sub
    if (sub?.open === true) await settledWithin(Promise.all(sub.tags.map((tag) => sub.channel.cancel(tag))))
    if (cancelled !== undefined && this.#running > 0) await settledWithin(cancelled())
    if (this.#running > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs)
        this.#idle = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#idle = undefined
    }
    if (sub?.open === true) sub.acker.flush()
    this.#sub = undefined
    await this.#subscriber.close()
  }

  async #subscribe({ channel, session, cancelled }: SubscriberChannel): Promise<void> {
    if (this.#closing !== undefined) return
    const sub: Subscription = { session, channel, acker: new Acker(channel), tags: [], open: true, paused: false, cancelled }
    channel.on('close', () => {
      sub.open = false
      sub.acker.close()
      if (this.#sub === sub) this.#sub = undefined
    })
    for (const shape of this.#spec.sources) await declareWorkQueue(channel, this.#scope, shape)
    // Claimed deliveries still run on a new channel: they keep their places.
    const places = this.#spec.concurrency - this.#claimed
    await channel.prefetch(Math.max(1, places), true)
    this.#sub = sub
    if (places <= 0) sub.paused = true
    else await this.#consumeAll(sub)
  }

  async #consumeAll(sub: Subscription): Promise<void> {
    for (const shape of this.#spec.sources) {
      for (const queue of [shape.names.main, shape.names.later]) {
        if (this.#closing !== undefined || !sub.open) return
        const { consumerTag } = await sub.channel.consume(queue, (message) => this.#onMessage(sub, shape.names, message), { noAck: false })
        sub.tags.push(consumerTag)
      }
    }
  }

  #onMessage(sub: Subscription, names: WorkQueueNames, message: Message | null): void {
    if (message === null) {
      // The broker cancelled the subscription (its queue was deleted): start over on a new channel.
      sub.cancelled()
      return
    }
    // On a replaced channel: left unsettled, it goes back when that channel closes.
    if (this.#sub !== sub) return
    sub.acker.delivered(message)
    const meta = metaOf(message)
    this.#running++
    let work: Promise<void>
    if (message.fields.redelivered) work = this.#redelivered(sub, names, message, meta)
    // Arrived while close() cancels: never handled, so sent back uncounted.
    else if (this.#closing !== undefined) work = new Delivery(message, meta, meta.deliveriesBefore, names, sub, this).retry(0)
    else work = this.#spec.handle(new Delivery(message, meta, meta.deliveriesBefore + 1, names, sub, this))
    work.catch(ignore).finally(() => {
      if (--this.#running === 0) this.#idle?.()
    })
  }

  /** A message whose consumer was lost: count that delivery in a copy (or dead-letter it), drop this one. */
  async #redelivered(sub: Subscription, names: WorkQueueNames, message: Message, meta: MessageMeta): Promise<void> {
    const lost = meta.deliveriesBefore + 1
    const delivery = new Delivery(message, meta, lost, names, sub, this)
    if (lost >= this.#spec.maxDeliveries) {
      await delivery.deadLetter(`delivery limit reached: delivered ${lost} times (at most ${this.#spec.maxDeliveries}); the consumer of the last delivery was lost before it settled it`)
      this.#spec.onLimit?.(meta, lost, message)
    } else await delivery.retry(0)
  }

  #lost(delivery: Delivery, operation: string, cause: unknown): TaskweaveError {
    return new TaskweaveError(
      this.#scope.code,
      `${this.#scope.subject} at ${this.#scope.location}: ${operation} message "${delivery.meta.id}" failed: its channel closed first (${describeCause(cause)}); the broker delivers it again`,
      { cause, retryable: true, details: { location: this.#scope.location, id: delivery.meta.id } },
    )
  }
}
