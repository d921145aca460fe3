/**
 * The transport's view of a delivery: the worker's `AttemptDelivery` over a consumer's raw one.
 * A message that is not an attempt envelope is dead-lettered at once. Settling through it keeps
 * the ledger (`ledger.ts`) and the per-queue count of attempts held by this handle's workers.
 * @module
 */
import type { AttemptDelivery, AttemptEnvelope, AttemptReport, WorkerInfo } from '../../core/transport.js'
import { envelopeProblem } from '../../core/transport.js'
import { TaskweaveError } from '../../core/errors.js'
import { describeThrown } from '../../core/thrown.js'
import type { RawDelivery } from './consumer.js'
import type { Claims } from './claims.js'
import type { Ledger } from './ledger.js'

/** How a worker claims its long attempts (see `claimAfterMs` in options.ts and `claims.ts`). */
export interface ClaimContext {
  /** How long an attempt runs before it is claimed; 0 never. */
  readonly afterMs: number
  readonly worker: string
  readonly claims: Claims
  /** The claims on their way of the consumer's deliveries (a drain claims them all at once). */
  readonly pending: Set<Claiming>
  /** The worker's info when it never announced itself (a claim is announced at once). */
  readonly info: () => WorkerInfo
  /** Sends a report to an attempt's owner; resolves once the broker took it. */
  readonly report: (owner: string, report: AttemptReport) => Promise<void>
}

/** What handling an attempt touches besides the delivery. */
export interface AttemptContext {
  /** Whether the consumer is closing: an attempt its handler left unsettled then goes back with the channel. */
  readonly closing: () => boolean
  readonly ledger: Ledger
  /** Attempts held by this handle's workers now, per work queue. */
  readonly active: Map<string, number>
  /** The attempts the worker holds now, by id (a count: a redelivery may overlap the delivery it repeats); listed in its heartbeats. */
  readonly holding: Map<string, number>
  readonly claim: ClaimContext
}

const ignore = (): void => {}

/** How long the broker has to say a delivery is still held before the worker takes it as lost. */
const CONFIRM_HELD_MS = 5000
/** After a claim that failed (the broker unreachable a moment), how long until the next try. */
const RETRY_CLAIM_MS = 5000

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
  const holding = context.holding
  holding.set(attemptId, (holding.get(attemptId) ?? 0) + 1)
  let claiming: Claiming | undefined
  const giveBack = async (delayMs: number): Promise<void> => {
    // Routed to this worker, which stops: its own queue is read no more, so its owner is asked to
    // send the attempt to any worker (and knows it runs here no more). Unheard, it goes back here.
    if (envelope.worker !== undefined && context.closing() && raw.claimed) {
      const returned = await context.claim
        .report(envelope.owner, { kind: 'returned', attemptId, worker: context.claim.worker, deliveries: raw.deliveries })
        .then(() => true, () => false)
      if (returned) {
        await raw.ack()
        return
      }
    }
    const announcedGone = raw.claimed || claiming?.announcedGone() === true
    await raw.retry(delayMs)
    // Claimed (or being claimed), it was announced gone: the handles learn it waits in a queue again.
    if (announcedGone) await ledger.republished(attemptId, { queue, worker: envelope.worker })
  }
  const delivery: AttemptDelivery = {
    envelope,
    deliveries: raw.deliveries,
    ack: async () => {
      await raw.ack()
      ledger.gone(attemptId)
    },
    nack: (options) => giveBack(options?.delayMs ?? 0),
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
  if (context.claim.afterMs > 0) {
    claiming = armClaim(raw, envelope, context, giveBack)
    context.claim.pending.add(claiming)
  }
  try {
    await handler(delivery)
    // A claimed attempt is no longer the channel's to give back when it closes: it is sent back here.
    if (!raw.settled && (!context.closing() || raw.claimed)) await giveBack(0)
  } catch {
    if (!raw.settled) await giveBack(0).catch(ignore)
  } finally {
    if (claiming !== undefined) {
      claiming.stop()
      context.claim.pending.delete(claiming)
    }
    const left = (active.get(queue) ?? 1) - 1
    if (left > 0) active.set(queue, left)
    else active.delete(queue)
    const held = (holding.get(attemptId) ?? 1) - 1
    if (held > 0) holding.set(attemptId, held)
    else holding.delete(attemptId)
  }
}

/** A claim on its way (see {@link armClaim}). */
export interface Claiming {
  /** Claims now rather than at its time (a draining worker); resolves once the claim went or failed. */
  now(): Promise<void>
  /** No claim from now on; a claim this delivery listed is dropped (another delivery's of the same attempt stays). */
  stop(): void
  /** Whether the attempt was announced gone from its queue (a claim got that far). */
  announcedGone(): boolean
  /**
   * Gives the attempt back now if it is claimed and not settled: its consumer closed past its
   * grace with the handler still running, and a closing channel gives back only what it holds.
   */
  returnIfClaimed(): Promise<void>
}

/**
 * Claims `raw` once it has run `afterMs` (see `claimAfterMs`), each step confirmed before the
 * next: the worker announces the claim (a heartbeat listing it), the owner hears that the attempt
 * started (lost with this worker, it may have acted), every handle hears it gone from its queue,
 * and only then is the delivery acknowledged. A worker that dies on the way leaves the message
 * unacknowledged, and the broker delivers it again; one that dies after the ack leaves a claim
 * that expires with its heartbeats, and the owner sends the attempt again. A claim that fails
 * after the attempt was announced gone (its channel closed before the ack) announces it waiting
 * again, and is tried again a little later while the delivery is still held.
 */
function armClaim(raw: RawDelivery, envelope: AttemptEnvelope, context: AttemptContext, giveBack: (delayMs: number) => Promise<void>): Claiming {
  const { claim, ledger } = context
  const attemptId = envelope.request.attemptId
  let stopped = false
  /** Whether this delivery's claim is listed in the worker's heartbeats. */
  let listed = false
  let gone = false
  let timer: NodeJS.Timeout | undefined
  const unlist = (): void => {
    if (!listed) return
    listed = false
    claim.claims.delete(claim.worker, attemptId)
  }
  const attempt = async (): Promise<void> => {
    timer = undefined
    if (stopped || raw.settled || raw.claimed) return
    let claimed = false
    try {
      claimed = await raw.claim(async () => {
        await claim.claims.add(claim.worker, attemptId, claim.info)
        listed = true
        await claim.report(envelope.owner, { kind: 'started', attemptId, worker: claim.worker, deliveries: raw.deliveries })
        gone = true
        await ledger.goneNow(attemptId)
      })
    } catch {
      // Tried again below.
    }
    if (claimed) return
    unlist()
    // Announced gone, yet the broker still has it: the handles learn it waits in its queue again.
    if (gone && !raw.settled) {
      gone = false
      await ledger.republished(attemptId, { queue: envelope.queue, worker: envelope.worker }).catch(ignore)
    }
    if (!stopped && !raw.settled && raw.held) arm(RETRY_CLAIM_MS)
  }
  const arm = (ms: number): void => {
    timer = setTimeout(() => void attempt(), ms)
    timer.unref()
  }
  arm(claim.afterMs)
  return {
    now() {
      if (timer !== undefined) clearTimeout(timer)
      return attempt()
    },
    stop() {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      unlist()
    },
    announcedGone: () => gone,
    returnIfClaimed: () => (raw.claimed && !raw.settled ? giveBack(0) : Promise.resolve()),
  }
}
