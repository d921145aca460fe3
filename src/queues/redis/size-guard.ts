/**
 * `maxSize` on BullMQ, which has no size limit of its own. Counting the ready messages and then
 * adding is a race between producers (two of them could both see room for one), so an enqueue
 * under a limit first takes the queue's **enqueue lock** (a Redis key set with `NX` and an
 * expiry), in the same script that counts the ready messages, adds while holding it, then lets
 * it go. Producers of one queue thus take turns, in every process, and the limit holds exactly
 * between them.
 *
 * What it does not hold against: messages that become ready without an enqueue (a delay or a
 * retry's backoff running out, a lost consumer's messages moved back, dead letters requeued) are
 * never refused, so the ready count can pass `maxSize` by those; and a producer that stalls longer
 * than the lock's expiry (`commandTimeoutMs`) while holding it lets the next one in early.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { TaskweaveError } from '../../core/errors.js'
import { scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'

/** Takes the lock if free and answers the ready count, else -1. */
const TAKE_AND_COUNT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('LLEN', KEYS[2]) + redis.call('ZCARD', KEYS[3]) + redis.call('LLEN', KEYS[4])
end
return -1`

/** Lets the lock go if it is still ours. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

/** The key of the enqueue lock of the queue whose BullMQ key prefix is `queueKey`. */
export function enqueueLockKey(queueKey: string): string {
  return `${queueKey}:tw-enqueue-lock`
}

/** The BullMQ keys whose lengths make the ready count. */
export interface ReadyKeys {
  readonly wait: string
  readonly prioritized: string
  readonly paused: string
}

/**
 * Runs `add` while holding the enqueue lock, when the ready count plus `adding` stays within
 * `maxSize`; otherwise throws `refuse()` and adds nothing. The lock expires `lockMs` after it was
 * taken (a producer that died holding it blocks the others that long at most); a producer waits
 * its turn for at most twice that.
 */
export async function withinSize<T>(client: Redis, lockKey: string, ready: ReadyKeys, maxSize: number, adding: number, lockMs: number, scope: ErrorScope, refuse: () => Error, add: () => Promise<T>): Promise<T> {
  const token = randomUUID()
  const waitMs = 2 * lockMs
  const deadline = performance.now() + waitMs
  let pause = 1
  for (;;) {
    const count = Number(await client.eval(TAKE_AND_COUNT, 4, lockKey, ready.wait, ready.prioritized, ready.paused, token, String(lockMs)))
    if (count >= 0) {
      try {
        if (count + adding > maxSize) throw refuse()
        return await add()
      } finally {
        await client.eval(RELEASE, 1, lockKey, token).catch(() => {
          // The lock expires by itself.
        })
      }
    }
    if (performance.now() >= deadline) {
      throw new TaskweaveError(scope.code, `${scopeText(scope)}: enqueue failed: another producer held the queue's enqueue lock for over ${waitMs} ms`, {
        details: { location: scope.location, operation: 'enqueue', ...(scope.queue === undefined ? {} : { queue: scope.queue }) },
      })
    }
    await new Promise((resolve) => setTimeout(resolve, pause))
    pause = Math.min(pause * 2, 20)
  }
}
