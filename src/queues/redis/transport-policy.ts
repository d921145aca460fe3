/**
 * What a transport consumer decides about its deliveries: the attempt delivery a worker gets, a
 * nack or a throwing handler delivered again (at once by default), and a dead letter past
 * `maxDeliveries` (an attempt whose workers keep dying or giving it back).
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import type { AttemptDelivery, AttemptEnvelope } from '../../core/transport.js'
import type { ConsumerPolicy } from './consumer.js'
import { redisError, scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'

/**
 * The consumer policy of the Redis transport. `onLimit` hears of each attempt dead-lettered past
 * `maxDeliveries` (the transport reports it to the attempt's owner).
 */
export function transportPolicy(maxDeliveries: number, scope: ErrorScope, onLimit: (envelope: AttemptEnvelope, deliveries: number) => void): ConsumerPolicy<AttemptDelivery> {
  return {
    precheck(held) {
      if (held.deliveries <= maxDeliveries) return undefined
      return { kind: 'dead', reason: `delivered ${held.deliveries} times, more than the ${maxDeliveries} allowed` }
    },
    onThrow() {
      return { kind: 'retry', delayMs: 0 }
    },
    delivery(held, settle) {
      const { job } = held
      return {
        envelope: job.data as AttemptEnvelope,
        deliveries: held.deliveries,
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
            extended = await job.extendLock(held.token, Math.ceil(ms))
          } catch (err) {
            throw redisError(scope, `extending attempt ${(job.data as AttemptEnvelope).request.attemptId}`, err)
          }
          if (!extended) throw new TaskweaveError(scope.code, `${scopeText(scope)}: attempt ${(job.data as AttemptEnvelope).request.attemptId} lost its lease (its lock expired); it may be delivered again`, { details: { location: scope.location, leaseLost: true } })
        },
      }
    },
    async afterWrite(held, verdict) {
      if (verdict.kind === 'dead' && held.deliveries > maxDeliveries) onLimit(held.job.data as AttemptEnvelope, held.deliveries)
    },
  }
}
