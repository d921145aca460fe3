/**
 * A consumer's side of a batch job (see `batches.ts`): the first delivery runs its attempts, as
 * many at once as the consumer has free slots, and puts the rest back as jobs of their own; a
 * later delivery (the worker that held it died or gave it back) runs nothing and puts back every
 * attempt not settled yet. The batch job itself is acknowledged once every attempt in it is
 * settled, or given back for another split when a settle could not be written.
 * @module
 */
import type { Redis } from 'ioredis'
import type { AttemptDelivery, AttemptEnvelope } from '../../core/transport.js'
import type { LooseAttempt, BulkJob } from './batches.js'
import { looseJob, unsettledOf } from './batches.js'
import type { HeldJob, Verdict } from './held-job.js'
import type { PermitPool } from './permits.js'
import { redisNowMs } from './server-time.js'

/**
 * Deletes an attempt's entry in a batched hash (and its started mark) if it still names this
 * batch: 1 when deleted, 0 when the batch was split meanwhile (another delivery put the attempt
 * back).
 */
const UNMAP = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[2], ARGV[1]) return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0"

/** What running a batch takes from the transport. */
export interface BatchContext {
  readonly permits: PermitPool
  /** The command connection. */
  readonly client: Redis
  /** The batched hash of the job's queue. */
  readonly hash: string
  /** Its hash of started marks ({@link startedKey}). */
  readonly started: string
  /** Adds jobs to the job's queue. */
  readonly add: (jobs: readonly BulkJob[]) => Promise<void>
  readonly handler: (delivery: AttemptDelivery) => Promise<void>
  /** The delivery of one attempt of the batch; `settle` gives its verdict and resolves once written. */
  readonly delivery: (envelope: AttemptEnvelope, deliveries: number, settle: (verdict: Verdict) => Promise<void>) => AttemptDelivery
  /** The verdict for a handler that threw without settling. */
  readonly onThrow: (error: unknown) => Verdict
  /** The error of a settle call refused: a second verdict, one after the batch was forced back, or one for an attempt split off meanwhile. */
  readonly refusal: (why: 'settled' | 'released' | 'split', attemptId: string) => Error
  /** Hears a verdict that could not be written (the batch is split again later). */
  readonly onWriteFailure: (attemptId: string, error: unknown) => void
}

/** Runs or splits the batch `held` holds (see the module header); true when every attempt in it is settled. */
export async function runBatch(held: HeldJob, batch: readonly AttemptEnvelope[], ctx: BatchContext): Promise<boolean> {
  const jobId = String(held.job.id)
  // Only the attempts whose entry still names this batch: the others were settled before a crash,
  // or published again since (a publish retried after a lost answer, with fewer attempts or alone)
  // and travel in that job now.
  const carried = await unsettledOf(ctx.client, ctx.hash, jobId, batch)
  if (held.deliveries > 1) {
    // An attempt that must not run twice and was never started here goes back as new: only
    // those that may have run count the deliveries before (and are refused as uncertain).
    const guarded = carried.filter(mustNotRepeat)
    const marks = guarded.length > 0 ? await ctx.client.hmget(ctx.started, ...guarded.map((e) => e.request.attemptId)) : []
    const startedHere = new Set(guarded.filter((_, i) => marks[i] === jobId))
    await putBack(ctx, jobId, carried.map((envelope) => ({ envelope, prior: mustNotRepeat(envelope) && !startedHere.has(envelope) ? 0 : held.deliveries - 1 })))
    return true
  }
  // The job holds one slot; its other attempts run as far as slots are free now.
  let slots = Math.min(1, carried.length)
  while (slots < carried.length && ctx.permits.tryAcquire()) slots++
  let extraSlots = slots - 1
  // Those that must not run twice are marked started before they run (see startedKey).
  const marking = carried.slice(0, slots).filter(mustNotRepeat)
  if (marking.length > 0) {
    try {
      await ctx.client.hset(ctx.started, Object.fromEntries(marking.map((e) => [e.request.attemptId, jobId])))
    } catch (err) {
      for (; extraSlots > 0; extraSlots--) ctx.permits.release()
      throw err
    }
  }
  const freeSlot = (): void => {
    if (extraSlots > 0) {
      extraSlots--
      ctx.permits.release()
    }
  }
  const surplus = carried.slice(slots).map((envelope) => ({ envelope, prior: 0 }))
  const results = await Promise.all([
    putBack(ctx, jobId, surplus).then(
      () => true,
      (err: unknown) => {
        for (const { envelope } of surplus) ctx.onWriteFailure(envelope.request.attemptId, err)
        return false
      },
    ),
    ...carried.slice(0, slots).map((envelope) => runAttempt(held, jobId, envelope, ctx).finally(freeSlot)),
  ])
  return results.every(Boolean)
}

/**
 * Takes attempts out of the batch: adds each as a job of its own at the front of the queue (they
 * were at its head when the batch was claimed), then deletes their entries. In that order, a
 * crash or a failed write between the two leaves the attempt in the batch, to be put back again
 * when the batch is delivered again; adding twice adds nothing (the job id is the attempt's).
 */
async function putBack(ctx: BatchContext, jobId: string, items: readonly LooseAttempt[]): Promise<void> {
  if (items.length === 0) return
  await ctx.add(items.map((loose) => looseJob(loose, { front: true })))
  await Promise.all(items.map((loose) => unmap(ctx, loose.envelope.request.attemptId, jobId)))
}

async function unmap(ctx: BatchContext, attemptId: string, jobId: string): Promise<boolean> {
  return (await ctx.client.eval(UNMAP, 2, ctx.hash, ctx.started, attemptId, jobId)) === 1
}

function mustNotRepeat(envelope: AttemptEnvelope): boolean {
  return envelope.request.mustNotRepeat === true
}

/**
 * Runs one attempt of a batch: its handler settles it (or returns: ack; or throws: the policy's
 * verdict), and the verdict is written: the attempt's entry deleted, and for a give-back or a dead
 * letter, the attempt added back as a job of its own. Resolves, true once written, when both the
 * handler and the write are done.
 */
async function runAttempt(held: HeldJob, jobId: string, envelope: AttemptEnvelope, ctx: BatchContext): Promise<boolean> {
  const { attemptId } = envelope.request
  let verdict: Verdict | undefined
  let written: Promise<void> | undefined
  const write = async (given: Verdict): Promise<void> => {
    if (given.kind !== 'ack') {
      // Added before the entry goes (see putBack), unless the batch was split meanwhile.
      if ((await ctx.client.hget(ctx.hash, attemptId)) !== jobId) throw ctx.refusal('split', attemptId)
      // A delayed retry is due by Redis's clock, not this process's (see server-time.ts).
      const at = given.kind === 'retry' && given.delayMs > 0 ? await redisNowMs(ctx.client) : undefined
      await ctx.add([given.kind === 'retry' ? looseJob({ envelope, prior: 1 }, { front: false, delayMs: given.delayMs, ...(at !== undefined ? { at } : {}) }) : looseJob({ envelope, prior: 1, dead: given.reason }, { front: true })])
    }
    if (!(await unmap(ctx, attemptId, jobId))) throw ctx.refusal('split', attemptId)
  }
  const settle = (given: Verdict): Promise<void> => {
    if (held.forced) return Promise.reject(ctx.refusal('released', attemptId))
    if (verdict !== undefined) return Promise.reject(ctx.refusal('settled', attemptId))
    verdict = given
    written = write(given)
    return written
  }
  let thrown: { readonly error: unknown } | undefined
  try {
    await ctx.handler(ctx.delivery(envelope, 1, settle))
  } catch (error) {
    thrown = { error }
  }
  if (verdict === undefined && !held.forced) void settle(thrown === undefined ? { kind: 'ack' } : ctx.onThrow(thrown.error)).catch(() => {})
  if (written === undefined) return false
  try {
    await written
    return true
  } catch (err) {
    ctx.onWriteFailure(attemptId, err)
    return false
  }
}
