/**
 * The queue's counts that BullMQ does not keep: acknowledged and failed deliveries and the total
 * processing time, in one Redis hash per queue that every process adds to (`HINCRBY`), so
 * `stats()` reports the whole queue's numbers (`countsScope: 'queue'`). Completed jobs themselves
 * are removed at once (BullMQ `removeOnComplete`), so only their count remains.
 *
 * A count is written just after the outcome it counts: a process that dies between the two loses
 * that one count. A count that cannot be written (Redis down) is logged, not retried.
 * @module
 */
import type { Redis } from 'ioredis'

/** The counts as stored. */
export interface StoredCounts {
  readonly completed: number
  readonly failed: number
  readonly processingMs: number
}

/** The key of the counts hash of the queue whose BullMQ key prefix is `queueKey` (`<prefix>:<name>`). */
export function countsKey(queueKey: string): string {
  return `${queueKey}:tw-counts`
}

/** Adds one acknowledged delivery that took `processingMs`. */
export async function countCompleted(client: Redis, key: string, processingMs: number): Promise<void> {
  await Promise.all([client.hincrby(key, 'completed', 1), client.hincrby(key, 'processingMs', Math.max(0, Math.round(processingMs)))])
}

/** Adds one failed delivery (nacked, thrown, dead-lettered). */
export async function countFailed(client: Redis, key: string): Promise<void> {
  await client.hincrby(key, 'failed', 1)
}

/** Reads the counts (zero for a queue that has none yet). */
export async function readCounts(client: Redis, key: string): Promise<StoredCounts> {
  const raw = await client.hgetall(key)
  const num = (field: string): number => {
    const value = Number(raw[field] ?? 0)
    return Number.isFinite(value) ? value : 0
  }
  return { completed: num('completed'), failed: num('failed'), processingMs: num('processingMs') }
}
