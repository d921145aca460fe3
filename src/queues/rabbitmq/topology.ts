/**
 * Declares a work queue's parts (see `names.ts`): idempotent, run on every (re)connection and
 * before every consumer starts. Every queue is a durable classic queue (RabbitMQ 3.10 quorum
 * queues have no priorities); the main and later queues are priority queues with ten levels.
 * A queue declared before with other arguments (another `maxSize`) is refused by the broker
 * (`PRECONDITION_FAILED`), which becomes a `TW_QUEUE` / `TW_TRANSPORT` error naming the queue and
 * the argument.
 * @module
 */
import type { Channel } from 'amqplib'
import { MAX_MESSAGE_PRIORITY } from '../../core/queue.js'
import { inequivalentError } from './errors.js'
import type { Scope } from './errors.js'
import type { WorkQueueNames } from './names.js'

/** What a work queue's declaration needs besides its names. */
export interface WorkQueueShape {
  readonly names: WorkQueueNames
  /** The main queue's `x-max-length` (ready messages), refusing publishes past it. */
  readonly maxLength?: number | undefined
  /** `x-expires` of every part: the broker deletes the queue once unused this long. */
  readonly expiresMs?: number | undefined
}

/**
 * How much longer than its delay a delay queue lives unused. Sending to it declares it again
 * (which renews its lease) when the last declaration is older than {@link DELAY_REDECLARE_MS},
 * so a message never outlives its queue.
 */
export const DELAY_EXPIRES_MARGIN_MS = 120_000
/** A delay queue is declared again before a publish when its last declaration is older than this. */
export const DELAY_REDECLARE_MS = 30_000

/** `fn` with a refused declaration turned into a clear error. */
export async function declaring<R>(scope: Scope, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn()
  } catch (err) {
    throw inequivalentError(scope, err) ?? err
  }
}

/** Declares the work queue's main and later queues, dead-letter exchange and queue. */
export async function declareWorkQueue(channel: Channel, scope: Scope, shape: WorkQueueShape): Promise<void> {
  const { names, maxLength, expiresMs } = shape
  const expires = expiresMs === undefined ? {} : { 'x-expires': expiresMs }
  await declaring(scope, async () => {
    // An expiring shape's exchange goes with its dead queue (see TransportNames.worker).
    await channel.assertExchange(names.deadExchange, 'fanout', { durable: true, autoDelete: expiresMs !== undefined, arguments: {} })
    await channel.assertQueue(names.dead, { durable: true, arguments: { 'x-queue-type': 'classic', ...expires } })
    await channel.bindQueue(names.dead, names.deadExchange, '')
    const priority = { 'x-queue-type': 'classic', 'x-max-priority': MAX_MESSAGE_PRIORITY, 'x-dead-letter-exchange': names.deadExchange, ...expires }
    await channel.assertQueue(names.main, { durable: true, arguments: maxLength === undefined ? priority : { ...priority, 'x-max-length': maxLength, 'x-overflow': 'reject-publish' } })
    await channel.assertQueue(names.later, { durable: true, arguments: priority })
  })
}

/**
 * Declares the delay queue of `delayMs` (a bucket): its messages expire after the delay and are
 * dead-lettered, through the default exchange, into the later queue. One queue per delay, so
 * a long delay never holds up a shorter one behind it (messages expire only at a queue's head).
 */
export async function declareDelayQueue(channel: Channel, scope: Scope, names: WorkQueueNames, delayMs: number): Promise<void> {
  await declaring(scope, () =>
    channel.assertQueue(names.delay(delayMs), {
      durable: true,
      arguments: {
        'x-queue-type': 'classic',
        'x-message-ttl': delayMs,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': names.later,
        'x-expires': delayMs + DELAY_EXPIRES_MARGIN_MS,
      },
    }),
  )
}
