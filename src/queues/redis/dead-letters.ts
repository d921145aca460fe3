/**
 * The dead letters of a Redis queue: BullMQ's failed set. A dead-lettered message is a failed job
 * (it was added with one attempt, so BullMQ never retries it by itself), its reason the job's
 * `failedReason`; requeueing is BullMQ's `retry` with both attempt counters reset, so the message
 * starts again at delivery 1; purging is BullMQ's `clean` of the failed set.
 * @module
 */
import type { Queue } from 'bullmq'
import type { DeadLetter, DeadLetterList } from '../../core/queue.js'
import { redisError } from './errors.js'
import type { ErrorScope } from './errors.js'
import { levelOf } from './priority.js'

/** A BullMQ queue of the adapters. */
export type BullQueue = Queue<unknown, unknown, string>

/** The dead letters of `queue`. */
export class RedisDeadLetters<T> implements DeadLetterList<T> {
  readonly #queue: BullQueue
  readonly #scope: ErrorScope
  readonly #checkOpen: (operation: string) => void

  constructor(queue: BullQueue, scope: ErrorScope, checkOpen: (operation: string) => void) {
    this.#queue = queue
    this.#scope = scope
    this.#checkOpen = checkOpen
  }

  async list(options: { readonly limit?: number } = {}): Promise<readonly DeadLetter<T>[]> {
    this.#checkOpen('deadLetters.list')
    const limit = options.limit ?? 100
    if (limit <= 0) return []
    try {
      // Ascending by the time they failed: the oldest first.
      const jobs = await this.#queue.getJobs(['failed'], 0, limit - 1, true)
      return jobs
        .filter((job) => job !== undefined && job.id !== undefined)
        .map((job) => ({
          id: job.id ?? '',
          body: job.data as T,
          priority: levelOf(job.priority),
          reason: job.failedReason ?? '',
          deliveries: job.attemptsStarted,
          enqueuedAt: job.timestamp,
          deadLetteredAt: job.finishedOn ?? job.timestamp,
        }))
    } catch (err) {
      throw redisError(this.#scope, 'listing dead letters', err)
    }
  }

  async requeue(ids?: readonly string[]): Promise<readonly string[]> {
    this.#checkOpen('deadLetters.requeue')
    try {
      const wanted = ids ?? (await this.#queue.getRanges(['failed'], 0, -1, true))
      const requeued: string[] = []
      for (const id of wanted) {
        const job = await this.#queue.getJob(id)
        if (job === undefined) continue
        try {
          await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })
          requeued.push(id)
        } catch {
          // Not (or no longer) a dead letter: requeued by another caller, or never failed.
        }
      }
      return requeued
    } catch (err) {
      throw redisError(this.#scope, 'requeueing dead letters', err)
    }
  }

  async purge(): Promise<number> {
    this.#checkOpen('deadLetters.purge')
    try {
      return (await this.#queue.clean(0, 0, 'failed')).length
    } catch (err) {
      throw redisError(this.#scope, 'purging dead letters', err)
    }
  }
}
