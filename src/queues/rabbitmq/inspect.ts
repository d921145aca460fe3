/**
 * Counting and purging queues that may not exist (a delay queue that expired, a queue another
 * handle deleted). The broker answers a check or purge of a missing queue by closing the channel
 * (`404 NOT_FOUND`), so these run on channels of their own, opening another after a miss.
 * @module
 */
import type { Channel } from 'amqplib'
import type { Session } from './connection.js'
import { replyCodeOf } from './errors.js'

const ignore = (): void => {}

async function eachQueue(session: Session, queues: readonly string[], fn: (channel: Channel, queue: string) => Promise<number>): Promise<Map<string, number>> {
  const found = new Map<string, number>()
  let channel: Channel | undefined
  try {
    for (const queue of queues) {
      if (channel === undefined) {
        channel = await session.model.createChannel()
        channel.on('error', ignore)
      }
      try {
        found.set(queue, await fn(channel, queue))
      } catch (err) {
        if (replyCodeOf(err) !== 404) throw err
        channel = undefined
      }
    }
  } finally {
    if (channel !== undefined) await channel.close().catch(ignore)
  }
  return found
}

/** The ready messages of each queue that exists (a missing queue is left out). */
export function countQueues(session: Session, queues: readonly string[]): Promise<Map<string, number>> {
  return eachQueue(session, queues, async (channel, queue) => (await channel.checkQueue(queue)).messageCount)
}

/** Purges each queue that exists; how many messages they held in all. */
export async function purgeQueues(session: Session, queues: readonly string[]): Promise<number> {
  const purged = await eachQueue(session, queues, async (channel, queue) => (await channel.purgeQueue(queue)).messageCount)
  let total = 0
  for (const n of purged.values()) total += n
  return total
}

/** The sum of the counts of `queues` in `counts` (missing ones count 0). */
export function sumOf(counts: ReadonlyMap<string, number>, queues: readonly string[]): number {
  let total = 0
  for (const queue of queues) total += counts.get(queue) ?? 0
  return total
}
