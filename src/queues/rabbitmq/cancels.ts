/**
 * Cancels: a broadcast on a fanout exchange (`prefix:cancels`). Every subscriber listens on an
 * exclusive, auto-deleted queue of its own bound to it, so each hears every cancel sent while it
 * listens; a cancel sent while a subscriber was disconnected is not heard by it (a cancel is a
 * request, and the owner's deadline ends the attempt anyway).
 * @module
 */
import type { SerializedError } from '../../core/errors.js'
import type { TransportSubscription } from '../../core/transport.js'
import type { RabbitConnection } from './connection.js'
import type { Publisher } from './publisher.js'
import { Subscriber } from './subscriber.js'

interface CancelMessage {
  readonly attemptId: string
  readonly reason: SerializedError
}

/** Sends a cancel to every subscriber. */
export async function sendCancel(publisher: Publisher, exchange: string, attemptId: string, reason: SerializedError): Promise<void> {
  const message: CancelMessage = { attemptId, reason }
  await publisher.publish([{ exchange, routingKey: '', content: Buffer.from(JSON.stringify(message)), options: { persistent: false, contentType: 'application/json' } }], 'sending a cancel')
}

/** Hears cancels until closed. */
export async function listenCancels(connection: RabbitConnection, exchange: string, handler: (attemptId: string, reason: SerializedError) => void): Promise<TransportSubscription> {
  const subscriber = new Subscriber(connection, async ({ channel }) => {
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false })
    await channel.bindQueue(queue, exchange, '')
    await channel.consume(queue, (message) => {
      if (message === null) return
      let cancel: CancelMessage
      try {
        cancel = JSON.parse(message.content.toString('utf8')) as CancelMessage
      } catch {
        return // not a cancel of ours
      }
      if (typeof cancel?.attemptId !== 'string') return
      try {
        handler(cancel.attemptId, cancel.reason)
      } catch {
        // The handler's own failure: later cancels still go to it.
      }
    }, { noAck: true })
  })
  await subscriber.start()
  return { close: () => subscriber.close() }
}
