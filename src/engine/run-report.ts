/** Builds the run result from the task nodes; the per-task report is built on first read. @module */
import type { RunResult, TaskReport } from './report.js'
import type { RunStatus, TaskStatus } from './states.js'
import type { TaskNode } from './task-node.js'

/** What the result needs besides the nodes. */
export interface RunSummary {
  readonly runId: string
  readonly workflowId: string
  readonly workflowHash: () => string
  readonly startedAt: string
  readonly durationMs: number
  /** Set when cancel or failFast decided the status. */
  readonly stopStatus: RunStatus | undefined
  readonly stopReason: string | undefined
}

/** The result of a finished run. */
export function buildRunResult(nodes: readonly TaskNode[], summary: RunSummary): RunResult {
  const counts: Record<TaskStatus, number> = { pending: 0, ready: 0, running: 0, retrying: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 }
  const failed: string[] = []
  let failureSkips = 0
  for (const node of nodes) {
    counts[node.status]++
    if (node.status === 'failed') failed.push(node.id)
    else if (node.status === 'skipped' && node.rootFailure >= 0) failureSkips++
  }
  let status: RunStatus
  if (summary.stopStatus !== undefined) status = summary.stopStatus
  else if (failed.length === 0 && failureSkips === 0) status = 'succeeded'
  else status = counts.succeeded > 0 ? 'partial' : 'failed'
  let tasks: Record<string, TaskReport> | undefined
  const result = {
    runId: summary.runId,
    workflowId: summary.workflowId,
    workflowHash: '',
    status,
    startedAt: summary.startedAt,
    durationMs: summary.durationMs,
    counts,
    tasks: {} as Record<string, TaskReport>,
    failed,
    ...(summary.stopReason !== undefined ? { reason: summary.stopReason } : {}),
  }
  // A run of 100,000 tasks should not pay for 100,000 report objects nobody reads: both are
  // computed on first access (enumerable, so JSON.stringify includes them).
  Object.defineProperty(result, 'tasks', { enumerable: true, get: () => (tasks ??= reportTasks(nodes)) })
  let hash: string | undefined
  Object.defineProperty(result, 'workflowHash', { enumerable: true, get: () => (hash ??= summary.workflowHash()) })
  return result
}

function reportTasks(nodes: readonly TaskNode[]): Record<string, TaskReport> {
  const tasks = Object.create(null) as Record<string, TaskReport>
  for (const node of nodes) tasks[node.id] = reportOf(node, nodes)
  return tasks
}

function reportOf(node: TaskNode, nodes: readonly TaskNode[]): TaskReport {
  const started = node.firstStartedAt >= 0
  const finished = node.finishedAt >= 0
  const report: Record<string, unknown> = { id: node.id, tool: node.task.toolName, status: node.status, attempts: node.attempts }
  if (started) report['startedAt'] = node.firstStartedAt
  if (finished) report['finishedAt'] = node.finishedAt
  if (started && finished) report['durationMs'] = node.finishedAt - node.firstStartedAt
  if (node.output !== undefined) report['output'] = node.output
  if (node.error !== undefined) report['error'] = node.error
  if (node.failedAttempts !== undefined) report['failedAttempts'] = node.failedAttempts
  if (node.reason !== undefined) report['reason'] = node.reason
  if (node.blocked !== undefined) report['blocked'] = node.blocked
  if (node.forEachOwner >= 0) report['forEachOf'] = (nodes[node.forEachOwner] as TaskNode).id
  if (node.addedBy !== undefined) report['addedBy'] = node.addedBy
  return report as unknown as TaskReport
}
