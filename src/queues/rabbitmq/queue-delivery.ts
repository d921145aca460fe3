/**
 * The queue port's view of a delivery: the handler's `Delivery<T>` over a consumer's raw one,
 * the retry policy applied to `nack`, and this process's counts (completed, failed, processing
 * time) kept as deliveries settle.
 * @module
 */
import { describeThrown } from '../../core/thrown.js'
import { backoffDelayMs } from '../../core/queue.js'
import type { BackoffPolicy, Delivery, DeliveryHandler } from '../../core/queue.js'
import type { RawDelivery } from './consumer.js'

/** What this process counted, for `stats()` (RabbitMQ keeps no such counts). */
export class ProcessCounts {
  processing = 0
  completed = 0
  failed = 0
  #processingMs = 0

  /** A delivery was acknowledged after `ms` of processing. */
  completedIn(ms: number): void {
    this.completed++
    this.#processingMs += ms
  }

  /** Mean time from delivery to acknowledgement (0 before the first). */
  get meanProcessingMs(): number {
    return this.completed === 0 ? 0 : this.#processingMs / this.completed
  }
}

/** The retry policy, resolved. */
export interface RetryRules {
  readonly maxDeliveries: number
  readonly backoff: BackoffPolicy
}

const ignore = (): void => {}

/**
 * Runs `handler` on one raw delivery: a body that is not JSON is dead-lettered at once; a
 * handler that returns without settling acks, one that throws nacks with its error as the reason.
 * Never rejects.
 */
export async function handleDelivery<T>(raw: RawDelivery, handler: DeliveryHandler<T>, rules: RetryRules, counts: ProcessCounts): Promise<void> {
  let body: T
  try {
    body = JSON.parse(raw.message.content.toString('utf8')) as T
  } catch (err) {
    await raw.deadLetter(`the body is not JSON: ${describeThrown(err)}`).then(() => counts.failed++, ignore)
    return
  }
  const started = performance.now()
  const fail = async (reason: string | undefined, deadNow: boolean, delayMs: number | undefined): Promise<void> => {
    if (raw.settled) return
    if (deadNow || raw.deliveries >= rules.maxDeliveries) {
      await raw.deadLetter(deadNow ? (reason ?? 'dead-lettered') : (reason ?? `delivery limit reached: delivered ${raw.deliveries} times (at most ${rules.maxDeliveries})`))
    } else await raw.retry(delayMs ?? backoffDelayMs(rules.backoff, raw.deliveries))
    counts.failed++
  }
  const delivery: Delivery<T> = {
    id: raw.meta.id,
    body,
    priority: raw.meta.priority,
    deliveries: raw.deliveries,
    enqueuedAt: raw.meta.enqueuedAt,
    ack: async () => {
      if (raw.settled) return
      await raw.ack()
      counts.completedIn(performance.now() - started)
    },
    nack: (options) => fail(options?.reason, false, options?.delayMs),
    deadLetter: (reason) => fail(reason, true, undefined),
    extend: async () => {},
  }
  counts.processing++
  try {
    await handler(delivery)
    if (!raw.settled) await delivery.ack()
  } catch (err) {
    if (!raw.settled) await fail(describeThrown(err), false, undefined).catch(ignore)
  } finally {
    counts.processing--
  }
}
