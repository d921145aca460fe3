/**
 * Cancels: a Redis pub/sub channel every worker subscribes to (a broadcast: whichever worker runs
 * the attempt stops it, the others ignore it). Pub/sub keeps nothing: a worker that is not
 * connected when a cancel is published never hears it, which the owner's own attempt timeout
 * covers. A subscriber resubscribes by itself after a reconnect (ioredis `autoResubscribe`).
 * @module
 */
import type { Redis } from 'ioredis'
import type { SerializedError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { logFailure } from '../../core/log-failure.js'
import type { TransportSubscription } from '../../core/transport.js'
import { scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'

/** The channel of the transport's cancels. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:tw-cancels`
}

/** A cancel as published. */
interface CancelMessage {
  readonly attemptId: string
  readonly reason: SerializedError
}

/** Publishes a cancel of `attemptId`. */
export async function publishCancel(client: Redis, channel: string, attemptId: string, reason: SerializedError): Promise<void> {
  const message: CancelMessage = { attemptId, reason }
  await client.publish(channel, JSON.stringify(message))
}

/** Hears the cancels of one channel on a subscriber connection of its own. */
export class CancelListener implements TransportSubscription {
  readonly #subscriber: Redis
  #closed = false

  private constructor(subscriber: Redis) {
    this.#subscriber = subscriber
  }

  /** Subscribes `subscriber` to `channel`; resolves once subscribed. */
  static async listen(subscriber: Redis, channel: string, handler: (attemptId: string, reason: SerializedError) => void, logger: Logger, scope: ErrorScope): Promise<CancelListener> {
    const listener = new CancelListener(subscriber)
    subscriber.on('message', (from: string, text: string) => {
      // Messages already read from the socket when close() cut it are not heard.
      if (from !== channel || listener.#closed) return
      let message: CancelMessage
      try {
        message = JSON.parse(text) as CancelMessage
      } catch (err) {
        logFailure(logger, `${scopeText(scope)}: a cancel could not be read`, err)
        return
      }
      try {
        handler(message.attemptId, message.reason)
      } catch (err) {
        logFailure(logger, `${scopeText(scope)}: the cancel handler threw`, err)
      }
    })
    await subscriber.subscribe(channel)
    return listener
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#subscriber.disconnect()
  }
}
