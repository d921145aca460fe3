/**
 * How a delivery of a memory queue is settled under its handle's retry policy: ack, nack (with
 * backoff, or dead-lettered on the last allowed delivery), dead-letter, and giving back a lease
 * whose consumer closed before settling it (counted as a delivery, dead-lettered past the limit,
 * never counted as failed). The first settlement wins; later ones, and any on a lease given back,
 * change nothing.
 * @module
 */
import { backoffDelayMs } from '../../core/queue.js'
import type { BackoffPolicy } from '../../core/queue.js'
import type { Lease, QueueState } from './queue-state.js'

/** A retry policy with its defaults filled in. */
export interface ResolvedRetry {
  /** Deliveries after which a failure dead-letters (`Infinity`: never). */
  readonly maxDeliveries: number
  readonly backoff: BackoffPolicy | undefined
}

/** Acknowledges: the message is gone and counts as completed. */
export function ackLease(state: QueueState, lease: Lease): void {
  state.complete(lease)
}

/**
 * Fails a delivery: delivered again after `delayMs` (default: the policy's backoff for this
 * delivery), or dead-lettered with `reason` when this was its last allowed delivery.
 */
export function nackLease(state: QueueState, lease: Lease, retry: ResolvedRetry, options: { readonly delayMs?: number | undefined; readonly reason?: string | undefined } = {}): void {
  const deliveries = lease.message.deliveries
  if (deliveries >= retry.maxDeliveries) {
    state.bury(lease, options.reason ?? `failed on delivery ${deliveries}, the last one allowed`, true)
    return
  }
  state.retry(lease, options.delayMs ?? backoffDelayMs(retry.backoff, deliveries), true)
}

/** Dead-letters a delivery at once with `reason`. */
export function deadLetterLease(state: QueueState, lease: Lease, reason: string): void {
  state.bury(lease, reason, true)
}

/**
 * Gives back a delivery whose consumer closed before it was settled: ready again at once, or
 * dead-lettered when it used its last allowed delivery (a message that keeps outliving its
 * consumers must not loop for ever either).
 */
export function abandonLease(state: QueueState, lease: Lease, retry: ResolvedRetry): void {
  const deliveries = lease.message.deliveries
  if (deliveries >= retry.maxDeliveries) {
    state.bury(lease, `delivery ${deliveries}, the last one allowed, was not settled before its consumer closed`, false)
    return
  }
  state.retry(lease, 0, false)
}
