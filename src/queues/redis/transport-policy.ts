/**
 * What a transport consumer decides about its deliveries: the attempt delivery a worker gets, a
 * nack or a throwing handler delivered again (at once by default), a dead letter past
 * `maxDeliveries` (an attempt whose workers keep dying or giving it back), and batch jobs, whose
 * attempts are run and settled one by one (see `batches.ts`).
 * @module
 */
import type { Redis } from 'ioredis'
import { TaskweaveError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import type { AttemptDelivery, AttemptEnvelope } from '../../core/transport.js'
import { envelopeProblem } from '../../core/transport.js'
import { runBatch } from './batch-run.js'
import { batchedKey, startedKey, deadReason, envelopeOf, isBatch, priorDeliveries, unsettledOf } from './batches.js'
import type { BulkJob } from './batches.js'
import type { ConsumerPolicy } from './consumer.js'
import { redisError, scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'
import type { HeldJob, Verdict } from './held-job.js'

/** What the transport's consumer policy needs of the transport. */
export interface TransportPolicySetup {
  readonly maxDeliveries: number
  readonly scope: ErrorScope
  readonly prefix: string
  /** The command connection (batched hashes). */
  readonly client: Redis
  /** Adds jobs to the BullMQ queue `queue` (attempts leaving a batch). */
  readonly add: (queue: string, jobs: readonly BulkJob[]) => Promise<void>
  /** The worker's handler: the policy calls it itself for each attempt of a batch. */
  readonly handler: (delivery: AttemptDelivery) => Promise<void>
  readonly logger: Logger
  /** Hears of each attempt dead-lettered past `maxDeliveries` (the transport reports it to the attempt's owner). */
  readonly onLimit: (envelope: AttemptEnvelope, deliveries: number) => void
  /** The lock duration BullMQ renews an attempt's lock by while it runs: what `extend()` extends it by at most. */
  readonly lockMs: number
}

/** The consumer policy of the Redis transport. */
export function transportPolicy(setup: TransportPolicySetup): ConsumerPolicy<AttemptDelivery> {
  const { maxDeliveries, scope } = setup
  const deliveriesOf = (held: HeldJob): number => priorDeliveries(held.job.data) + held.deliveries
  const refusal = (why: 'settled' | 'released' | 'split', attemptId: string): Error => {
    const text =
      why === 'settled'
        ? `attempt ${attemptId} was already settled`
        : why === 'released'
          ? `the consumer closed and gave attempt ${attemptId} back to the queue`
          : `attempt ${attemptId} lost its lease (its batch was delivered again); it may be delivered again`
    return new TaskweaveError(scope.code, `${scopeText(scope)}: ${text}`, { retryable: false, details: { location: scope.location, attemptId, ...(why === 'split' ? { leaseLost: true } : {}) } })
  }

  /** The delivery of one attempt, of a single job or of a batch. */
  const attemptDelivery = (held: HeldJob, envelope: AttemptEnvelope, deliveries: number, settle: (verdict: Verdict) => Promise<void>): AttemptDelivery => ({
    envelope,
    deliveries,
    lost: held.lost,
    ack: () => settle({ kind: 'ack' }),
    nack: (options = {}) => {
      const delayMs = options.delayMs ?? 0
      if (!Number.isFinite(delayMs) || delayMs < 0) return Promise.reject(new TaskweaveError('TW_INVALID_OPTION', `${scopeText(scope)}: nack(): delayMs must be a number of ms ≥ 0; received ${String(delayMs)}`, { retryable: false, details: { option: 'delayMs' } }))
      return settle({ kind: 'retry', delayMs })
    },
    deadLetter: (reason) => settle({ kind: 'dead', reason: String(reason) }),
    extend: async (ms) => {
      if (!Number.isFinite(ms) || ms <= 0) throw new TaskweaveError('TW_INVALID_OPTION', `${scopeText(scope)}: extend(): ms must be a number of ms > 0; received ${String(ms)}`, { retryable: false, details: { option: 'ms' } })
      let extended: number
      try {
        // BullMQ renews the lock while the attempt runs: a longer extension would only keep a
        // worker that dies right after it from letting the attempt go for that long.
        extended = await held.job.extendLock(held.token, Math.ceil(Math.min(ms, setup.lockMs)))
      } catch (err) {
        throw redisError(scope, `extending attempt ${envelope.request.attemptId}`, err)
      }
      if (!extended) throw new TaskweaveError(scope.code, `${scopeText(scope)}: attempt ${envelope.request.attemptId} lost its lease (its lock expired); it may be delivered again`, { details: { location: scope.location, leaseLost: true } })
    },
  })

  return {
    precheck(held) {
      const { data } = held.job
      // A job that is not an attempt (or a batch of them) is dead at once: delivered again it
      // would only fail again, and a batch is never dead-lettered past maxDeliveries otherwise.
      const problem = jobProblem(data)
      if (problem !== undefined) return { kind: 'dead', reason: `the job is not an attempt: ${problem}` }
      if (isBatch(data)) {
        if (held.deliveries <= maxDeliveries) return undefined
        return { kind: 'dead', reason: `a batch delivered ${held.deliveries} times, more than the ${maxDeliveries} allowed` }
      }
      const dead = deadReason(data)
      if (dead !== undefined) return { kind: 'dead', reason: dead }
      const deliveries = deliveriesOf(held)
      if (deliveries <= maxDeliveries) return undefined
      return { kind: 'dead', reason: `delivered ${deliveries} times, more than the ${maxDeliveries} allowed` }
    },
    onThrow() {
      return { kind: 'retry', delayMs: 0 }
    },
    delivery(held, settle) {
      return attemptDelivery(held, envelopeOf(held.job.data), deliveriesOf(held), settle)
    },
    fanOut(held, permits) {
      const { data } = held.job
      if (!isBatch(data)) return undefined
      const queue = held.job.queueName
      const run = runBatch(held, data.batch, {
        permits,
        client: setup.client,
        hash: batchedKey(setup.prefix, queue),
        started: startedKey(batchedKey(setup.prefix, queue)),
        add: (jobs) => setup.add(queue, jobs),
        handler: setup.handler,
        delivery: (envelope, deliveries, settle) => attemptDelivery(held, envelope, deliveries, settle),
        onThrow: () => ({ kind: 'retry', delayMs: 0 }),
        refusal,
        onWriteFailure: (attemptId, error) => setup.logger.warn(`${scopeText(scope)}: the verdict on attempt ${attemptId} of a batch could not be written; the batch is delivered again and split`, { attemptId, error: String(error) }),
      })
      return run.catch((error: unknown) => {
        setup.logger.warn(`${scopeText(scope)}: batch ${String(held.job.id)} could not be split or started; it is delivered again`, { error: String(error) })
        throw error
      })
    },
    async afterWrite(held, verdict) {
      const { data } = held.job
      if (verdict.kind !== 'dead' || jobProblem(data) !== undefined) return
      // Their owners hear of attempts dead past the limit: a batch's, those it still carries (not
      // those settled before, or published again in a job of their own), whose entries then go.
      if (isBatch(data)) {
        if (held.deliveries <= maxDeliveries) return
        const hash = batchedKey(setup.prefix, held.job.queueName)
        const carried = await unsettledOf(setup.client, hash, String(held.job.id), data.batch)
        if (carried.length === 0) return
        const ids = carried.map((envelope) => envelope.request.attemptId)
        await Promise.all([setup.client.hdel(hash, ...ids), setup.client.hdel(startedKey(hash), ...ids)])
        for (const envelope of carried) setup.onLimit(envelope, held.deliveries)
        return
      }
      const deliveries = deliveriesOf(held)
      if (deliveries > maxDeliveries && deadReason(data) === undefined) setup.onLimit(envelopeOf(data), deliveries)
    },
  }
}

/** What is wrong with a job's data, or undefined for an attempt, a loose attempt or a non-empty batch of attempts. */
function jobProblem(data: unknown): string | undefined {
  if (!isBatch(data)) return envelopeProblem(envelopeOf(data))
  if (data.batch.length === 0) return 'an empty batch'
  for (let k = 0; k < data.batch.length; k++) {
    const problem = envelopeProblem(data.batch[k])
    if (problem !== undefined) return `batch item ${k}: ${problem}`
  }
  return undefined
}
