/**
 * Redis's own clock, for the times BullMQ takes from its caller: a delayed job's due time is
 * the caller's `Date.now()` plus the delay, and a worker whose clock is ten minutes fast would
 * otherwise hand back a job nobody takes for ten minutes.
 * @module
 */
import type { Redis } from 'ioredis'
import type { AnyJob } from './worker.js'

/** Redis's `TIME`, in epoch ms. */
export async function redisNowMs(client: Redis): Promise<number> {
  const [seconds, micros] = await client.time()
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
}

/** BullMQ's own move to the delayed set, which takes the time the delay counts from. */
interface DelayingBackend {
  moveToDelayed(jobId: string, timestamp: number, delay: number, token: string, opts: { readonly skipAttempt: boolean }): Promise<unknown>
}

/**
 * Moves an active job to the delayed set, due `delayMs` after `nowMs` (Redis's time). BullMQ's
 * `job.moveToDelayed(at)` counts the delay from this process's clock (`at - Date.now()`, at least
 * 0, from `Date.now()`): a worker 10 min fast made every delay 10 min. Its queue backend takes the
 * time itself; should a BullMQ lack it, the job's own method is the fallback.
 */
export async function moveToDelayedBy(job: AnyJob, nowMs: number, delayMs: number, token: string): Promise<void> {
  const backend = (job as unknown as { readonly backend?: Partial<DelayingBackend> }).backend
  if (typeof backend?.moveToDelayed === 'function' && job.id !== undefined) await backend.moveToDelayed(job.id, nowMs, delayMs, token, { skipAttempt: true })
  else await job.moveToDelayed(nowMs + delayMs, token)
}

/**
 * Gives an active job back to its queue at the back of its priority level, as a retry through the
 * delayed set went: `moveToWait` alone puts it at the front (it is for jobs a rate limit sent
 * back), so a message retried at once would run again before every one waiting with it.
 */
export async function backOfItsLevel(job: AnyJob, token: string): Promise<void> {
  await job.moveToWait(token)
  await job.changePriority({ priority: job.priority })
}
