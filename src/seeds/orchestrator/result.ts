/** Maps the engine's run report to the orchestrator's result with partial completion. @module */
import type { RunResult } from '../../engine/report.js'
import type { HandlerFailure, TaskFailure, WorkflowResult } from './types.js'

/** Splits a report into outputs, failures and skips (records without a prototype: ids are data). */
export function toWorkflowResult(report: RunResult, handlerErrors: readonly HandlerFailure[]): WorkflowResult {
  const results = Object.create(null) as Record<string, unknown>
  const errors = Object.create(null) as Record<string, TaskFailure>
  const skipped = Object.create(null) as Record<string, string>
  for (const [id, task] of Object.entries(report.tasks)) {
    switch (task.status) {
      case 'succeeded':
        results[id] = task.output
        break
      case 'failed':
        errors[id] = { code: task.error?.code ?? 'TW_TOOL_FAILED', message: task.error?.message ?? 'the task failed', attempts: task.attempts, blocked: task.blocked ?? [] }
        break
      case 'cancelled':
        errors[id] = { code: 'TW_CANCELLED', message: task.reason ?? 'the task was cancelled', attempts: task.attempts, blocked: [] }
        break
      case 'skipped':
        skipped[id] = task.reason ?? 'skipped'
        break
      default:
        break
    }
  }
  return { status: report.status, results, errors, skipped, handlerErrors: [...handlerErrors], report }
}
