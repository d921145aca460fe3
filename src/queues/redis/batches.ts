/**
 * Batches: several attempts in one BullMQ job.
 *
 * A BullMQ worker claims one job per round trip, and every job costs Redis three scripts (add,
 * claim, finish). Attempts published together for one queue (an owner publishes what became
 * ready in one event-loop turn) therefore travel as one job of up to `batchSize` attempts: one
 * claim hands a worker all of them. Each attempt in it is still acknowledged, given back and
 * dead-lettered on its own:
 *
 * - a per-queue hash (`<prefix>:tw-batched:<queue>`) maps each attempt of a batch that is not
 *   settled yet to the job that carries it: `holds()` and `stats()` read it, a worker that claims a
 *   batch runs only the attempts whose entry names that batch (an attempt published again since,
 *   in another batch or alone, is that job's to run), and settling an attempt deletes its entry
 *   (an entry already gone means the batch was delivered again meanwhile: the settle is refused as
 *   a lost lease);
 * - an attempt given back (nack, a throwing handler) or dead-lettered goes back to its queue as a
 *   job of its own (a {@link LooseAttempt}: job id its attempt id, with the deliveries it had),
 *   added before its entry is deleted, so no failure between the two loses it; a dead-lettered one
 *   is failed by the first consumer that claims it, unrun;
 * - a worker takes as many attempts of a batch as it has free slots, and puts the rest back as
 *   jobs of their own, so a batch never makes a worker hold more than its `concurrency`;
 * - a batch delivered again (its worker died or gave it back) is split: every attempt of it not
 *   settled yet goes back as a job of its own with its delivery count, so a poison attempt meets
 *   its delivery limit alone, and attempts settled before the crash are not run again.
 * @module
 */
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { AttemptEnvelope } from '../../core/transport.js'
import { jobIdOf } from './names.js'
import { bullPriority } from './priority.js'

/** BullMQ's name for single attempt jobs. */
export const ATTEMPT_JOB = 'a'
/** BullMQ's name for batch jobs. */
export const BATCH_JOB = 'b'
/** Attempts per BullMQ job at most, unless the transport's `batchSize` says otherwise. */
export const DEFAULT_BATCH_SIZE = 16

/** The data of a batch job. */
export interface BatchData {
  readonly batch: readonly AttemptEnvelope[]
}

/** The data of an attempt that left its batch (given back or dead-lettered): a job of its own. */
export interface LooseAttempt {
  readonly envelope: AttemptEnvelope
  /** Deliveries it had before this job. */
  readonly prior: number
  /** Set when it was dead-lettered: the consumer that claims it fails it unrun. */
  readonly dead?: string
}

/** What a transport job holds: an attempt as published, a batch, or a loose attempt. */
export type TransportJobData = AttemptEnvelope | BatchData | LooseAttempt

/** Whether `data` is a batch. */
export function isBatch(data: unknown): data is BatchData {
  return typeof data === 'object' && data !== null && Array.isArray((data as { batch?: unknown }).batch)
}

/** Whether `data` is a loose attempt. */
function isLoose(data: unknown): data is LooseAttempt {
  return typeof data === 'object' && data !== null && 'envelope' in data && 'prior' in data
}

/** The attempt of a single job (published alone or loose). */
export function envelopeOf(data: unknown): AttemptEnvelope {
  return isLoose(data) ? data.envelope : (data as AttemptEnvelope)
}

/** Deliveries a single job's attempt had before this job (0 unless it left a batch). */
export function priorDeliveries(data: unknown): number {
  return isLoose(data) ? data.prior : 0
}

/** The dead-letter reason of a loose attempt that was dead-lettered. */
export function deadReason(data: unknown): string | undefined {
  return isLoose(data) ? data.dead : undefined
}

/** The hash of a BullMQ queue's unsettled batched attempts (attempt id → batch job id). */
export function batchedKey(prefix: string, bullQueue: string): string {
  return `${prefix}:tw-batched:${bullQueue}`
}

/**
 * The hash, beside a queue's batched hash, of the attempts that must not run twice and began
 * running in a batch: attempt id → batch job id. A batch delivered again tells by it which of them
 * may have run (those count their earlier delivery) and which never did (they go back as new).
 */
export function startedKey(batched: string): string {
  return `${batched}:started`
}

/** A job as `addBulk` takes it. */
export interface BulkJob {
  readonly name: string
  readonly data: TransportJobData
  readonly opts: { readonly jobId: string; readonly priority: number; readonly attempts: 1; readonly removeOnComplete: true; readonly delay?: number }
}

/** The job of one attempt published alone. */
function singleJob(envelope: AttemptEnvelope): BulkJob {
  return { name: ATTEMPT_JOB, data: envelope, opts: { jobId: jobIdOf(envelope.request.attemptId), priority: bullPriority(envelope.request.priority), attempts: 1, removeOnComplete: true } }
}

/**
 * The job of a loose attempt. `front`: ahead of every prioritized job (BullMQ serves its plain
 * wait list first), for attempts that were at the head of the line already (the part of a batch a
 * worker had no slots for, the rest of a batch delivered again) and for dead ones (failed at
 * once); otherwise at its own level, after `delayMs` (a give-back).
 */
export function looseJob(loose: LooseAttempt, placement: { readonly front: true } | { readonly front: false; readonly delayMs: number; readonly at?: number }): BulkJob {
  const { envelope } = loose
  const jobId = jobIdOf(envelope.request.attemptId)
  if (placement.front) return { name: ATTEMPT_JOB, data: loose, opts: { jobId, priority: 0, attempts: 1, removeOnComplete: true } }
  return { name: ATTEMPT_JOB, data: loose, opts: { jobId, priority: bullPriority(envelope.request.priority), attempts: 1, removeOnComplete: true, ...(placement.delayMs > 0 ? { delay: placement.delayMs, ...(placement.at !== undefined ? { timestamp: placement.at } : {}) } : {}) } }
}

/** One queue's share of a publish: its jobs and the hash entries of their batched attempts. */
export interface PublishPlan {
  readonly jobs: readonly BulkJob[]
  /** attempt id → batch job id, for the queue's batched hash. */
  readonly batched: Readonly<Record<string, string>>
  readonly batchedCount: number
  /** Attempts published as jobs of their own: an entry an earlier publish left for them goes (see `runBatch`). */
  readonly singles: readonly string[]
}

/**
 * Cuts one queue's envelopes into jobs of at most `batchSize` attempts of one priority level:
 * higher levels first, the owner's order within a level (BullMQ serves a level first in, first
 * out, so a batch of one level keeps the order a job per attempt would have).
 */
export function planPublish(envelopes: readonly AttemptEnvelope[], batchSize: number): PublishPlan {
  const jobs: BulkJob[] = []
  const batched: Record<string, string> = {}
  const singles: string[] = []
  let batchedCount = 0
  const levels = envelopes.map((e) => bullPriority(e.request.priority))
  const order = envelopes.map((_, i) => i)
  if (levels.some((level) => level !== levels[0])) order.sort((a, b) => (levels[a] as number) - (levels[b] as number) || a - b)
  let from = 0
  while (from < order.length) {
    const priority = levels[order[from] as number] as number
    let to = from + 1
    while (to < order.length && to - from < batchSize && levels[order[to] as number] === priority) to++
    const part = order.slice(from, to).map((i) => envelopes[i] as AttemptEnvelope)
    from = to
    if (part.length === 1) {
      const envelope = part[0] as AttemptEnvelope
      jobs.push(singleJob(envelope))
      singles.push(envelope.request.attemptId)
      continue
    }
    const jobId = batchJobId(part)
    for (const envelope of part) batched[envelope.request.attemptId] = jobId
    batchedCount += part.length
    jobs.push({ name: BATCH_JOB, data: { batch: part }, opts: { jobId, priority, attempts: 1, removeOnComplete: true } })
  }
  return { jobs, batched, batchedCount, singles }
}

/**
 * A batch's job id: made from its attempt ids, so publishing the same attempts again (an owner
 * that retries a publish whose answer it lost) adds nothing while the batch is held, as BullMQ
 * ignores an add of a job id it holds. `%b.` cannot begin an attempt's job id (see `names.ts`).
 */
function batchJobId(batch: readonly AttemptEnvelope[]): string {
  const hash = createHash('sha256')
  for (const envelope of batch) hash.update(`${envelope.request.attemptId.length}:${envelope.request.attemptId}`)
  return `%b.${hash.digest('base64url')}`
}

/**
 * Which attempts of `batch` are still unsettled in `hash` (their entry names `jobId`): a batch
 * delivered again holds only those.
 */
export async function unsettledOf(client: Redis, hash: string, jobId: string, batch: readonly AttemptEnvelope[]): Promise<AttemptEnvelope[]> {
  const owners = await client.hmget(hash, ...batch.map((e) => e.request.attemptId))
  return batch.filter((_, i) => owners[i] === jobId)
}

/**
 * Per batch job id, how many of its attempts are unsettled: what `stats()` counts a batch job as
 * (a batch is one BullMQ job but stands for that many attempts).
 */
export async function unsettledByBatch(client: Redis, hash: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (const jobId of await client.hvals(hash)) counts.set(jobId, (counts.get(jobId) ?? 0) + 1)
  return counts
}
