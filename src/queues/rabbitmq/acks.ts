/**
 * Acknowledgements of one consumer channel, sent together. Every settlement of this adapter is a
 * `basic.ack` (a retry or a dead letter is published as a copy first, then the original is
 * acked), so acks of one event-loop turn go out as one frame where they can: the longest run of
 * settled deliveries at the head of the channel's unacked ones as a single `multiple` ack, the
 * rest one by one. Tags rise in delivery order, so the head is the oldest delivery.
 * @module
 */
import type { Channel, Message } from 'amqplib'

interface Held {
  readonly message: Message
  settled: boolean
}

type Waiter = { readonly resolve: () => void; readonly reject: (err: unknown) => void }

/** The acks of one channel (see the module header). */
export class Acker {
  readonly #channel: Channel
  /** Delivered and not yet acked, by delivery tag (Map keeps insertion order, which is tag order). */
  readonly #held = new Map<number, Held>()
  #waiters: Waiter[] = []
  #scheduled = false
  #closed = false

  constructor(channel: Channel) {
    this.#channel = channel
  }

  /** Deliveries held and not yet acked. */
  get size(): number {
    return this.#held.size
  }

  /** Records a delivery. */
  delivered(message: Message): void {
    this.#held.set(message.fields.deliveryTag, { message, settled: false })
  }

  /** Acks `message` with the others of this turn; rejects when the channel closed first (the broker then gives the message back). */
  ack(message: Message): Promise<void> {
    const held = this.#held.get(message.fields.deliveryTag)
    if (this.#closed) return Promise.reject(new Error('the channel closed before the message was acknowledged'))
    if (held === undefined || held.settled) return Promise.resolve()
    held.settled = true
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /** Gives `message` back to the queue at once (`basic.nack` with requeue), after the acks already due. */
  requeue(message: Message): void {
    this.flush()
    if (!this.#held.delete(message.fields.deliveryTag) || this.#closed) return
    try {
      this.#channel.nack(message, false, true)
    } catch {
      // The channel closed: the broker gives it back anyway.
    }
  }

  /** Sends the acks due now. */
  flush(): void {
    this.#scheduled = false
    const waiters = this.#waiters
    if (waiters.length === 0) return
    this.#waiters = []
    try {
      let head: Held | undefined
      let run = 0
      let inHead = true
      const singles: Held[] = []
      for (const [tag, held] of this.#held) {
        if (!held.settled) {
          inHead = false
          continue
        }
        this.#held.delete(tag)
        if (inHead) {
          head = held
          run++
        } else singles.push(held)
      }
      if (head !== undefined) this.#channel.ack(head.message, run > 1)
      for (const held of singles) this.#channel.ack(held.message)
    } catch (err) {
      for (const w of waiters) w.reject(err)
      return
    }
    for (const w of waiters) w.resolve()
  }

  /** The channel closed: acks not sent fail (the broker gives those messages back). */
  close(): void {
    this.#closed = true
    const waiters = this.#waiters
    this.#waiters = []
    this.#held.clear()
    for (const w of waiters) w.reject(new Error('the channel closed before the message was acknowledged'))
  }
}
