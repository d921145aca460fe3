/**
 * States of a background task. A task moves only along this table, through {@link canMove};
 * nothing else decides what a state may become.
 *
 * pending   → running   (its start, one microtask after `submit`, so the caller can still cancel)
 *           | cancelled (`cancel`, `endConversation`, `close` or the submit signal, before it started)
 * running   → succeeded (the function resolved; the workflow run or the state machine succeeded)
 *           | failed    (it threw or rejected; the run ended partial/failed; the machine failed)
 *           | cancelled (`cancel`, `endConversation`, `close`, the submit signal)
 *           | timed_out (its timeout elapsed on the executor's clock)
 * succeeded, failed, cancelled, timed_out: terminal. A result that arrives after a task was
 * cancelled or timed out is ignored, so a task never ends twice.
 * @module
 */

/** State of a background task. */
export type BackgroundStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'timed_out'

/** The states a task ends in. */
export type BackgroundFinalStatus = Exclude<BackgroundStatus, 'pending' | 'running'>

/** Allowed moves per state. */
export const BACKGROUND_TRANSITIONS = {
  pending: ['running', 'cancelled'],
  running: ['succeeded', 'failed', 'cancelled', 'timed_out'],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
} as const satisfies Record<BackgroundStatus, readonly BackgroundStatus[]>

/** Whether `from → to` is allowed. */
export function canMove(from: BackgroundStatus, to: BackgroundStatus): boolean {
  return (BACKGROUND_TRANSITIONS[from] as readonly BackgroundStatus[]).includes(to)
}

/** True for succeeded, failed, cancelled and timed_out. */
export function isFinal(status: BackgroundStatus): status is BackgroundFinalStatus {
  return status !== 'pending' && status !== 'running'
}
