/**
 * Redis's own clock, for the times BullMQ takes from its caller: a delayed job's due time is
 * the caller's `Date.now()` plus the delay, and a worker whose clock is ten minutes fast would
 * otherwise hand back a job nobody takes for ten minutes.
 * @module
 */
import type { Redis } from 'ioredis'

/** Redis's `TIME`, in epoch ms. */
export async function redisNowMs(client: Redis): Promise<number> {
  const [seconds, micros] = await client.time()
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
}
