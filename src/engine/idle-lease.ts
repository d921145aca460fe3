/**
 * The lease of a stored run that no process is running, taken to write to it from outside a run
 * (an operator's decision, a cancel): granted, or an error that says why not (the run finished,
 * or a live process holds it, and until when).
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import type { Clock } from '../core/clock.js'
import type { Lease, RunStore } from '../core/store.js'
import type { Journal } from './journal.js'
import { resumeLeaseRequest } from './live-owners.js'

/** Who asks, and how. */
export interface IdleLeaseContext {
  readonly store: RunStore
  /** The caller's own journal, if it has one (an engine): what it still has to write goes first. */
  readonly journal?: Journal
  readonly clock: Clock
  readonly owner: string
  readonly leaseTtlMs: number
}

/** What to say when the lease is refused: the end of the sentence for a finished run, and for a held one. */
export interface IdleLeaseRefusal {
  /** After `run "x" has finished (status): `. */
  readonly finished: string
  /** After `run "x" is held by o until t (it runs there…): `. */
  readonly held: string
}

/** Takes the lease of run `runId` once this engine's pending entries are written; throws `TW_INVALID_STATE` when it cannot. */
export async function takeIdleLease(ctx: IdleLeaseContext, runId: string, refusal: IdleLeaseRefusal, ready: () => void): Promise<Lease> {
  const { store, clock } = ctx
  // This engine's own entries first: a run it stopped a moment ago may still be writing its last ones.
  await ctx.journal?.drained()
  ready()
  const lease = await store.acquire(runId, resumeLeaseRequest(store, ctx.owner, ctx.leaseTtlMs, clock.wallNow()))
  if (lease !== undefined) return lease
  const held = await store.load(runId)
  if (held !== undefined && held.status !== 'running') throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" has finished (${held.status}): ${refusal.finished}`, { retryable: false, details: { runId, status: held.status } })
  const owner = held?.lease
  throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" is held by ${owner?.owner ?? 'another process'}${owner !== undefined ? ` until ${new Date(owner.expiresAt).toISOString()}` : ''} (it runs there, or is being resumed or decided): ${refusal.held}`, { retryable: true, details: { runId } })
}

/** Throws `TW_CANCELLED` once the caller gave up (`signal` aborted): nothing is written after that. `notDone` says what was not done. */
export function refuseIfAborted(signal: AbortSignal | undefined, notDone: string): void {
  if (signal?.aborted !== true) return
  const why = signal.reason instanceof Error ? signal.reason.message : signal.reason !== undefined ? String(signal.reason) : 'the call was aborted'
  throw new TaskweaveError('TW_CANCELLED', `${notDone}: ${why}`, { retryable: false })
}
