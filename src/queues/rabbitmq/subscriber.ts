/**
 * A subscription that outlives connections: `setup` declares what it needs and starts consuming
 * on a channel of its own, on the current connection and again on every later one (a connection
 * hook). A channel the broker closed while the connection stays up, or a subscription the broker
 * cancelled (its queue deleted), is set up again a second later, until `close()`; so is a setup
 * that failed on a later connection (only the first failure is the caller's).
 * @module
 */
import type { Channel } from 'amqplib'
import type { RabbitConnection, Session, SessionHook } from './connection.js'
import { settledWithin } from './bounded.js'

const ignore = (): void => {}

/** Delay before setting up again after the broker closed the channel. */
const RESUBSCRIBE_MS = 1000

/** What `setup` gets: the channel, and a way to say the broker cancelled the subscription. */
export interface SubscriberChannel {
  readonly channel: Channel
  readonly session: Session
  /** Call on a `null` delivery (the broker cancelled the consumer): starts over on a new channel. */
  readonly cancelled: () => void
}

/** A subscription set up again on every connection (see the module header). */
export class Subscriber {
  readonly #connection: RabbitConnection
  readonly #setup: (sub: SubscriberChannel) => Promise<void>
  readonly #hook: SessionHook = async (session) => {
    try {
      await this.#subscribe(session)
      this.#subscribed = true
    } catch (err) {
      // The first setup's failure is the caller's (a refused declaration); a later one must not
      // keep the whole connection from coming back: this subscription tries again by itself.
      if (!this.#subscribed) throw err
      if (!session.closed) this.#later(session)
    }
  }
  #subscribed = false
  #channel: Channel | undefined
  #closed = false
  #timer: NodeJS.Timeout | undefined

  constructor(connection: RabbitConnection, setup: (sub: SubscriberChannel) => Promise<void>) {
    this.#connection = connection
    this.#setup = setup
  }

  /** Sets up now (rejects when that fails) and on every later connection. */
  async start(): Promise<void> {
    await this.#connection.addHook(this.#hook)
  }

  /** Stops: no more setups; the channel is closed (what it holds unacked goes back). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#connection.removeHook(this.#hook)
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    const channel = this.#channel
    this.#channel = undefined
    if (channel !== undefined) await settledWithin(channel.close())
  }

  async #subscribe(session: Session): Promise<void> {
    if (this.#closed) return
    const channel = await session.model.createChannel()
    channel.on('error', ignore)
    let open = true
    channel.on('close', () => {
      open = false
      if (this.#channel !== channel) return
      this.#channel = undefined
      if (!this.#closed && !session.closed) this.#later(session)
    })
    this.#channel = channel
    try {
      await this.#setup({ channel, session, cancelled: () => void channel.close().catch(ignore) })
    } catch (err) {
      if (this.#channel === channel) this.#channel = undefined
      if (open) await channel.close().catch(ignore)
      throw err
    }
  }

  #later(session: Session): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#closed || this.#channel !== undefined || session.closed) return
      this.#subscribe(session).catch(() => {
        if (!session.closed) this.#later(session)
      })
    }, RESUBSCRIBE_MS)
  }
}
