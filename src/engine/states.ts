/**
 * Task and run states. A task moves only along this table, through {@link assertTransition};
 * nothing else decides what a state may become.
 *
 * pending   → ready (its trigger rule and condition hold) | skipped (they do not) | running (a
 *             forEach task expanding into items) | failed (a condition or forEach list could not
 *             be evaluated) | cancelled
 * ready     → running (a slot was free) | cancelled
 * running   → succeeded | failed | retrying (the error is retryable and attempts remain) | cancelled
 * retrying  → ready (the backoff elapsed) | cancelled
 * succeeded, failed, skipped, cancelled: terminal.
 * @module
 */

/** State of one task. */
export type TaskStatus = 'pending' | 'ready' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'cancelled'

/** Final state of a run. */
export type RunStatus = 'succeeded' | 'partial' | 'failed' | 'cancelled'

/** Allowed moves per state. */
export const TASK_TRANSITIONS = {
  pending: ['ready', 'skipped', 'running', 'failed', 'cancelled'],
  ready: ['running', 'cancelled'],
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
