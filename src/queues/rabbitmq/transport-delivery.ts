/**
 * The transport's view of a delivery: the worker's `AttemptDelivery` over a consumer's raw one.
 * A message that is not an attempt envelope is dead-lettered at once. Settling through it keeps
 * the ledger (`ledger.ts`) and the per-queue count of attempts held by this handle's workers.
 * @module
 */
import type { AttemptDelivery, AttemptEnvelope } from '../../core/transport.js'
import { envelopeProblem } from '../../core/transport.js'
import { TaskweaveError } from '../../core/errors.js'
import { describeThrown } from '../../core/thrown.js'
import type { RawDelivery } from './consumer.js'
import type { Ledger } from './ledger.js'

/** What handling an attempt touches besides the delivery. */
export interface AttemptContext {
  /** Whether the consumer is closing: an attempt its handler left unsettled then goes back with the channel. */
  readonly closing: () => boolean
  readonly ledger: Ledger
  /** Attempts held by this handle's workers now, per work queue. */
  readonly active: Map<string, number>
}

const ignore = (): void => {}

/** How long the broker has to say a delivery is still held before the worker takes it as lost. */
const CONFIRM_HELD_MS = 5000

/**
 * Runs `handler` on one raw delivery. A handler that throws gives the attempt back at once, as
 * does one that returns without settling it (unless the consumer is closing). Never rejects.
 */
export async function handleAttempt(raw: RawDelivery, handler: (delivery: AttemptDelivery) => Promise<void>, context: AttemptContext): Promise<void> {
  const { ledger, active } = context
  let envelope: AttemptEnvelope
  try {
    envelope = JSON.parse(raw.message.content.toString('utf8')) as AttemptEnvelope
    const problem = envelopeProblem(envelope)
    if (problem !== undefined) throw new Error(problem)
  } catch (err) {
    await raw.deadLetter(`the message is not an attempt: ${describeThrown(err)}`).catch(ignore)
    return
  }
  const queue = envelope.queue
  active.set(queue, (active.get(queue) ?? 0) + 1)
  const attemptId = envelope.request.attemptId
  const delivery: AttemptDelivery = {
    envelope,
    deliveries: raw.deliveries,
    ack: async () => {
      await raw.ack()
      ledger.gone(attemptId)
    },
    nack: (options) => raw.retry(options?.delayMs ?? 0),
    deadLetter: async (reason) => {
      await raw.deadLetter(reason)
      ledger.gone(attemptId)
    },
    // RabbitMQ needs no renewal; what it can tell is whether this consumer still holds the
    // attempt, which it asks the broker (a local flag is stale in a process just woken from a pause).
    extend: async () => {
      if (!(await raw.confirmHeld(CONFIRM_HELD_MS))) throw new TaskweaveError('TW_TRANSPORT', `attempt ${attemptId} lost its lease (the channel that delivered it closed); it is delivered again`, { retryable: true, details: { attemptId, leaseLost: true } })
    },
  }
  try {
    await handler(delivery)
    if (!raw.settled && !context.closing()) await raw.retry(0)
  } catch {
    if (!raw.settled) await raw.retry(0).catch(ignore)
  } finally {
    const left = (active.get(queue) ?? 1) - 1
    if (left > 0) active.set(queue, left)
    else active.delete(queue)
  }
}
