/**
 * Task and run states. A task moves only along this table, through {@link assertTransition};
 * nothing else decides what a state may become.
 *
 * pending   → ready (its trigger rule and condition hold) | skipped (they do not) | running (a
 *             forEach task expanding into items) | failed (a condition or forEach list could not
 *             be evaluated) | cancelled
 * ready     → running (a slot was free) | skipped (the run's budget is used up before an LLM
 *             task could start) | failed (its call can never fit its rate key) | cancelled
 * running   → succeeded | failed | retrying (the error is retryable and attempts remain) | cancelled
 * retrying  → ready (the backoff elapsed) | cancelled
 * succeeded, failed, skipped, cancelled: terminal.
 * @module
 */

import type { RunStatus, TaskStatus } from '../core/status.js'

export type { RunStatus, TaskStatus }

/** Allowed moves per state. */
export const TASK_TRANSITIONS = {
  pending: ['ready', 'skipped', 'running', 'failed', 'cancelled'],
  ready: ['running', 'skipped', 'failed', 'cancelled'],
  running: ['succeeded', 'failed', 'retrying', 'cancelled'],
  retrying: ['ready', 'cancelled'],
  succeeded: [],
  failed: [],
  skipped: [],
  cancelled: [],
} as const satisfies Record<TaskStatus, readonly TaskStatus[]>

const ALLOWED: ReadonlyMap<TaskStatus, ReadonlySet<TaskStatus>> = new Map(
  Object.entries(TASK_TRANSITIONS).map(([from, to]) => [from as TaskStatus, new Set<TaskStatus>(to)]),
)

/** True for succeeded, failed, skipped and cancelled. */
export function isTerminal(status: TaskStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'skipped' || status === 'cancelled'
}

/** Whether `from → to` is allowed. */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return ALLOWED.get(from)?.has(to) ?? false
}

/** Throws when `from → to` is not in the table (an engine bug, never a user error). */
export function assertTransition(taskId: string, from: TaskStatus, to: TaskStatus): void {
  if (!canTransition(from, to)) throw new Error(`taskweave internal error: task "${taskId}" cannot go from ${from} to ${to}`)
}

/**
 * Task states as small integers, the form the engine keeps per task (in a `Uint8Array`); the
 * order matters: every code from {@link SUCCEEDED} up is terminal.
 */
export const PENDING = 0
/** See {@link PENDING}. */
export const READY = 1
/** See {@link PENDING}. */
export const RUNNING = 2
/** See {@link PENDING}. */
export const RETRYING = 3
/** See {@link PENDING}. */
export const SUCCEEDED = 4
/** See {@link PENDING}. */
export const FAILED = 5
/** See {@link PENDING}. */
export const SKIPPED = 6
/** See {@link PENDING}. */
export const CANCELLED = 7

/** The name of each state code. */
export const STATUS_NAMES: readonly TaskStatus[] = ['pending', 'ready', 'running', 'retrying', 'succeeded', 'failed', 'skipped', 'cancelled']

/** Bit `to` of `ALLOWED_CODES[from]` is set when `from → to` is allowed (the table above, by code). */
export const ALLOWED_CODES: Uint8Array = Uint8Array.from(STATUS_NAMES, (from) => {
  let mask = 0
  for (const to of TASK_TRANSITIONS[from]) mask |= 1 << STATUS_NAMES.indexOf(to)
  return mask
})

/** Throws when the move between two state codes is not in the table (an engine bug, never a user error). */
export function assertTransitionCode(taskId: string, from: number, to: number): void {
  if (((ALLOWED_CODES[from] as number) & (1 << to)) === 0) assertTransition(taskId, STATUS_NAMES[from] as TaskStatus, STATUS_NAMES[to] as TaskStatus)
}
