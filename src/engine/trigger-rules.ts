/**
 * Trigger rules: given a task whose parents are all terminal, whether it may run, and if not, why
 * and which failed task is to blame (-1 when a condition, not a failure, is the cause).
 *
 * all_succeeded (default): every parent succeeded. all_done: always. any_succeeded: at least one
 * parent succeeded. none_failed: no parent failed or was cancelled, and no parent was skipped
 * because of a failure (a parent skipped by its condition is fine).
 * @module
 */
import type { TaskShape } from '../workflow/compile.js'
import type { RunState } from './run-state.js'
import { CANCELLED, FAILED, SKIPPED, STATUS_NAMES, SUCCEEDED } from './states.js'

/** Undefined when the task may run; otherwise the skip reason and the index of the failed task behind it (or -1). */
export function triggerVerdict(state: RunState, i: number): { reason: string; root: number } | undefined {
  const count = state.parentCount(i)
  if (count === 0) return undefined
  const trigger = (state.shapes[i] as TaskShape).trigger
  if (trigger !== 'all_succeeded') return otherTriggerVerdict(state, i, count, trigger)
  const status = state.status
  for (let k = 0; k < count; k++) {
    const p = state.parentAt(i, k)
    if (status[p] !== SUCCEEDED) return blockedBy(state, p)
  }
  return undefined
}

/** The skip of a task whose parent `p` did not succeed (failed, cancelled or skipped). */
function blockedBy(state: RunState, p: number): { reason: string; root: number } {
  return { reason: `upstream task "${state.ids[p]}" ${verb(state.status[p] as number)}`, root: rootOf(state, p) }
}

/**
 * {@link triggerVerdict} under a rule other than the default. Apart: a fresh process then compiles
 * it only for a workflow that uses one (V8 compiles a function on its first call).
 */
function otherTriggerVerdict(state: RunState, i: number, count: number, trigger: Exclude<TaskShape['trigger'], 'all_succeeded'>): { reason: string; root: number } | undefined {
  const status = state.status
  switch (trigger) {
    case 'all_done':
      return undefined
    case 'any_succeeded': {
      let root = -1
      for (let k = 0; k < count; k++) {
        const p = state.parentAt(i, k)
        if (status[p] === SUCCEEDED) return undefined
        if (root < 0) root = rootOf(state, p)
      }
      return { reason: 'no upstream task succeeded', root }
    }
    case 'none_failed':
      for (let k = 0; k < count; k++) {
        const p = state.parentAt(i, k)
        const s = status[p]
        if (s === FAILED || s === CANCELLED) return blockedBy(state, p)
        const root = state.peek(p).rootFailure
        if (s === SKIPPED && root >= 0) return { reason: `upstream task "${state.ids[p]}" was skipped because "${state.ids[root]}" failed`, root }
      }
      return undefined
  }
}

/** The failed task behind a parent's state: itself when it failed, else what it was skipped for. */
function rootOf(state: RunState, p: number): number {
  if (state.status[p] === FAILED) return p
  return state.peek(p).rootFailure
}

function verb(status: number): string {
  return status === SKIPPED ? 'was skipped' : status === CANCELLED ? 'was cancelled' : (STATUS_NAMES[status] as string)
}
