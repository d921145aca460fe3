/**
 * What a Redis message queue's consumer decides about its deliveries: the delivery object the
 * handler gets, retry with backoff up to `maxDeliveries`, dead letters, and the counts written
 * after each outcome.
 * @module
 */
import type { Redis } from 'ioredis'
import { TaskweaveError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { logFailure } from '../../core/log-failure.js'
import { backoffDelayMs } from '../../core/queue.js'
import type { BackoffPolicy, Delivery } from '../../core/queue.js'
import { describeThrown } from '../../core/thrown.js'
import type { ConsumerPolicy } from './consumer.js'
import { countCompleted, countFailed } from './counts.js'
import { redisError, scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'
import type { HeldJob, Verdict } from './held-job.js'
import { levelOf } from './priority.js'

/** What the policy needs to know of its queue. */
export interface QueuePolicySetup {
  readonly maxDeliveries: number
  readonly backoff: BackoffPolicy | undefined
  readonly command: Redis
  readonly countsKey: string
  readonly scope: ErrorScope
  readonly logger: Logger
}

/** The consumer policy of a Redis message queue. */
export function queuePolicy<T>(setup: QueuePolicySetup): ConsumerPolicy<Delivery<T>> {
  const { maxDeliveries, backoff, scope } = setup

  /** A failed delivery: another one after the backoff, or a dead letter after the last allowed one. */
  const failure = (held: HeldJob, delayMs: number | undefined, reason: string | undefined): Verdict => {
    if (held.deliveries >= maxDeliveries) return { kind: 'dead', reason: reason ?? `failed on delivery ${held.deliveries}, the last of the ${maxDeliveries} allowed` }
    return { kind: 'retry', delayMs: delayMs ?? backoffDelayMs(backoff, held.deliveries) }
  }

  return {
    precheck(held) {
      if (held.deliveries <= maxDeliveries) return undefined
      return { kind: 'dead', reason: `delivered ${held.deliveries} times, more than the ${maxDeliveries} allowed: its consumers stopped without settling it` }
    },
    onThrow(held, error) {
      return failure(held, undefined, describeThrown(error))
    },
    delivery(held, settle) {
      const { job } = held
      return {
        id: job.id ?? '',
        body: job.data as T,
        priority: levelOf(job.priority),
        deliveries: held.deliveries,
        enqueuedAt: job.timestamp,
        ack: () => settle({ kind: 'ack' }),
        nack: (options = {}) => {
          const { delayMs } = options
          if (delayMs !== undefined && (!Number.isFinite(delayMs) || delayMs < 0)) return Promise.reject(badArgument(scope, 'nack', 'delayMs', 'a number of ms ≥ 0', delayMs))
          return settle(failure(held, delayMs, options.reason))
        },
        deadLetter: (reason) => settle({ kind: 'dead', reason: String(reason) }),
        extend: async (ms) => {
          if (!Number.isFinite(ms) || ms <= 0) throw badArgument(scope, 'extend', 'ms', 'a number of ms > 0', ms)
          let extended: number
          try {
            extended = await job.extendLock(held.token, Math.ceil(ms))
          } catch (err) {
            throw redisError(scope, `extending message ${job.id ?? '?'}`, err)
          }
          if (!extended) throw new TaskweaveError(scope.code, `${scopeText(scope)}: message ${job.id ?? '?'} lost its lease (its lock expired); it may be delivered again`, { details: { location: scope.location, queue: scope.queue, messageId: job.id } })
        },
      }
    },
    async afterWrite(held, verdict) {
      try {
        if (verdict.kind === 'ack') await countCompleted(setup.command, setup.countsKey, performance.now() - held.startedAt)
        else await countFailed(setup.command, setup.countsKey)
      } catch (err) {
        logFailure(setup.logger, `${scopeText(scope)}: a count could not be written`, err)
      }
    },
  }
}

function badArgument(scope: ErrorScope, call: string, argument: string, expected: string, value: unknown): TaskweaveError {
  return new TaskweaveError('TW_INVALID_OPTION', `${scopeText(scope)}: ${call}(): ${argument} must be ${expected}; received ${String(value)}`, { retryable: false, details: { option: argument, expected } })
}
