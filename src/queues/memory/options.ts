/**
 * The memory queue's options, checked once when a handle is opened (a bad value throws
 * `TW_INVALID_OPTION` naming the option, what was expected and what was received), and the checks
 * of per-call values (priorities, delays, limits).
 * @module
 */
import { InvalidOptionError } from '../../core/errors.js'
import type { MessageQueueOptions } from '../../core/queue.js'
import type { ResolvedRetry } from './settle.js'

/** What the port allows as a queue name. */
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/

/** Default deliveries before a failing message is dead-lettered. */
export const DEFAULT_MAX_DELIVERIES = 5

/** {@link MessageQueueOptions} with defaults filled in. */
export interface ResolvedQueueOptions {
  readonly name: string
  /** `Infinity` when unlimited. */
  readonly maxSize: number
  readonly retry: ResolvedRetry
  readonly leaseMs: number
}

/** Checks `options` and fills in the defaults. */
export function resolveQueueOptions(options: MessageQueueOptions): ResolvedQueueOptions {
  const { name, maxSize, retry, leaseMs } = options
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) throw new InvalidOptionError('name', 'letters, digits, ".", "-" or "_" (1 to 100 characters)', name)
  if (maxSize !== undefined && !(Number.isSafeInteger(maxSize) && maxSize > 0)) throw new InvalidOptionError('maxSize', 'a positive integer', maxSize)
  const maxDeliveries = retry?.maxDeliveries ?? DEFAULT_MAX_DELIVERIES
  if (!((Number.isSafeInteger(maxDeliveries) && maxDeliveries >= 1) || maxDeliveries === Infinity)) {
    throw new InvalidOptionError('retry.maxDeliveries', 'an integer of at least 1', maxDeliveries)
  }
  const backoff = retry?.backoff
  if (backoff !== undefined) {
    if (backoff.type !== undefined && backoff.type !== 'fixed' && backoff.type !== 'exponential') throw new InvalidOptionError('retry.backoff.type', '"fixed" or "exponential"', backoff.type)
    checkMs('retry.backoff.delayMs', backoff.delayMs)
    checkMs('retry.backoff.maxDelayMs', backoff.maxDelayMs)
  }
  if (leaseMs !== undefined && !(Number.isFinite(leaseMs) && leaseMs > 0)) throw new InvalidOptionError('leaseMs', 'a positive number of ms', leaseMs)
  return { name, maxSize: maxSize ?? Infinity, retry: { maxDeliveries, backoff }, leaseMs: leaseMs ?? 30_000 }
}

/** Throws `TW_INVALID_OPTION` unless `value` is undefined or a finite number of ms ≥ 0. */
export function checkMs(option: string, value: number | undefined): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) throw new InvalidOptionError(option, 'a finite number of ms, 0 or more', value)
}

/** Throws `TW_INVALID_OPTION` unless `value` is undefined or a positive integer. */
export function checkConcurrency(value: number | undefined): number {
  if (value === undefined) return 1
  if (!(Number.isSafeInteger(value) && value > 0)) throw new InvalidOptionError('concurrency', 'a positive integer', value)
  return value
}
