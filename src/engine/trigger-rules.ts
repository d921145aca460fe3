/**
 * Trigger rules: given a task whose parents are all terminal, whether it may run, and if not, why
 * and which failed task is to blame (-1 when a condition, not a failure, is the cause).
 *
 * all_succeeded (default): every parent succeeded. all_done: always. any_succeeded: at least one
 * parent succeeded. none_failed: no parent failed or was cancelled, and no parent was skipped
 * because of a failure (a parent skipped by its condition is fine).
 * @module
 */
import type { TaskNode } from './task-node.js'
import type { TaskStatus } from './states.js'

/** Undefined when the task may run; otherwise the skip reason and the index of the failed task behind it (or -1). */
export function triggerVerdict(node: TaskNode, nodes: readonly TaskNode[]): { reason: string; root: number } | undefined {
  const parents = node.parents
  if (parents.length === 0) return undefined
  switch (node.task.trigger) {
    case 'all_succeeded':
      for (const p of parents) {
        const parent = nodes[p] as TaskNode
        if (parent.status !== 'succeeded') return { reason: `upstream task "${parent.id}" ${verb(parent.status)}`, root: rootOf(parent) }
      }
      return undefined
    case 'all_done':
      return undefined
    case 'any_succeeded': {
      let root = -1
      for (const p of parents) {
        const parent = nodes[p] as TaskNode
        if (parent.status === 'succeeded') return undefined
        if (root < 0) root = rootOf(parent)
      }
      return { reason: 'no upstream task succeeded', root }
    }
    case 'none_failed':
      for (const p of parents) {
        const parent = nodes[p] as TaskNode
        if (parent.status === 'failed' || parent.status === 'cancelled') return { reason: `upstream task "${parent.id}" ${verb(parent.status)}`, root: rootOf(parent) }
        if (parent.status === 'skipped' && parent.rootFailure >= 0) return { reason: `upstream task "${parent.id}" was skipped because "${(nodes[parent.rootFailure] as TaskNode).id}" failed`, root: parent.rootFailure }
      }
      return undefined
  }
}

/** The failed task behind a parent's state: itself when it failed, else what it was skipped for. */
function rootOf(parent: TaskNode): number {
  if (parent.status === 'failed') return parent.index
  return parent.rootFailure
}

function verb(status: TaskStatus): string {
  return status === 'skipped' ? 'was skipped' : status === 'cancelled' ? 'was cancelled' : status
}

