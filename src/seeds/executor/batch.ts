/**
 * Turns a list of executor tasks into one workflow of independent tasks, and the run's report back
 * into results in the input order. Pure: no engine, no clock.
 *
 * Each task becomes workflow task `t<index>`, so caller ids may be anything (even duplicates) and
 * results map back by position. A task that cannot run (unknown tool, parameters its tool rejects)
 * is left out of the workflow and fails in its own slot, so it never fails the batch.
 * Parameters travel as run inputs, read by whole-value templates (`{{ inputs.t0["path"] }}`): a
 * substituted value is data and never parsed again, so a `{{ … }}` inside a parameter stays text.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { ToolRegistry } from '../../core/registry.js'
import type { TaskReport } from '../../engine/report.js'
import { FORBIDDEN_SEGMENTS } from '../../workflow/template.js'
import type { TaskSpec, WorkflowSpec } from '../../workflow/types.js'
import type { RetryPolicy } from './options.js'
import type { Task, TaskErrorInfo, TaskResult } from './types.js'

/** One input task, as planned. */
export interface BatchSlot {
  readonly taskId: string
  readonly toolName: string
  readonly planId?: string
  /** Id of its workflow task; undefined when it failed before running. */
  readonly nodeId?: string
  /** Why it cannot run, when it cannot. */
  readonly failure?: TaskErrorInfo
}

/** A planned batch: the slots in input order, and the workflow running the runnable ones. */
export interface Batch {
  readonly slots: readonly BatchSlot[]
  /** Undefined when no task can run. */
  readonly spec?: WorkflowSpec
  readonly inputs: Readonly<Record<string, unknown>>
  /** Workflow task id → slot index. */
  readonly slotOf: ReadonlyMap<string, number>
}

/** Settings applied to every task of a batch. */
export interface BatchSettings {
  readonly timeoutMs?: number | undefined
  readonly retry?: RetryPolicy | undefined
}

/** Plans a batch; never throws for a bad task (that task fails in its slot). */
export function planBatch(tasks: readonly Task[], registry: ToolRegistry, settings: BatchSettings): Batch {
  const slots: BatchSlot[] = []
  const specs: TaskSpec[] = []
  const inputs: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  const declared: Record<string, { type: 'object' }> = {}
  const slotOf = new Map<string, number>()
  tasks.forEach((task, index) => {
    const taskId = typeof task.id === 'string' && task.id !== '' ? task.id : randomUUID()
    const toolName = String(task.toolName)
    const base = { taskId, toolName, ...(task.planId !== undefined ? { planId: task.planId } : {}) }
    const failure = checkTask(task, registry)
    if (failure !== undefined) {
      slots.push({ ...base, failure })
      return
    }
    const nodeId = `t${index}`
    const input: Record<string, string> = {}
    for (const [key, value] of Object.entries(task.parameters)) if (value !== undefined) input[key] = `{{ inputs.${nodeId}[${quote(key)}] }}`
    specs.push({
      id: nodeId,
      tool: toolName,
      input,
      ...(task.description !== undefined ? { description: task.description } : {}),
      ...(settings.timeoutMs !== undefined ? { timeout: settings.timeoutMs } : {}),
      ...(settings.retry !== undefined ? { retry: settings.retry } : {}),
    })
    declared[nodeId] = { type: 'object' }
    inputs[nodeId] = task.parameters
    slotOf.set(nodeId, index)
    slots.push({ ...base, nodeId })
  })
  const spec: WorkflowSpec | undefined = specs.length > 0 ? { id: 'executor', inputs: declared, tasks: specs } : undefined
  return { slots, inputs, slotOf, ...(spec !== undefined ? { spec } : {}) }
}

/** Why a task cannot run, or undefined when it can. */
function checkTask(task: Task, registry: ToolRegistry): TaskErrorInfo | undefined {
  const tool = typeof task.toolName === 'string' ? registry.get(task.toolName) : undefined
  if (tool === undefined) {
    const hints = typeof task.toolName === 'string' ? registry.suggest(task.toolName) : []
    const hint = hints.length > 0 ? `; did you mean ${hints.map((h) => `"${h}"`).join(', ')}?` : ''
    return { code: 'TW_UNKNOWN_TOOL', message: `unknown tool "${String(task.toolName)}"${hint}` }
  }
  const parameters: unknown = task.parameters
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    return { code: 'TW_TOOL_INPUT', message: `parameters of tool "${tool.name}" must be an object` }
  }
  for (const key of Object.keys(parameters)) {
    // A template path cannot hold these keys; refusing here keeps the failure in this task's slot.
    if (FORBIDDEN_SEGMENTS.has(key) || key.includes('}}')) return { code: 'TW_TOOL_INPUT', message: `parameter name ${JSON.stringify(key)} is not allowed` }
  }
  // Checked now so a bad input fails this task alone, before the batch starts.
  const checked = tool.input.safeParse(parameters)
  if (!checked.success) {
    const problems = checked.error.issues.map((i) => `${['input', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ')
    return { code: 'TW_TOOL_INPUT', message: `input rejected by tool "${tool.name}": ${problems}` }
  }
  return undefined
}

function quote(key: string): string {
  return `"${key.replace(/[\\"]/g, '\\$&')}"`
}

/** The result of one slot, from its task report (absent when the task never joined the run). */
export function toTaskResult(slot: BatchSlot, report: TaskReport | undefined, retry: RetryPolicy | undefined): TaskResult {
  const attempts = report?.attempts ?? 0
  const success = report?.status === 'succeeded'
  const metadata = {
    attempts,
    retries: Math.max(0, attempts - 1),
    ...(retry !== undefined ? { retryExhausted: report?.status === 'failed' && attempts >= retry.maxAttempts } : {}),
  }
  const base = { taskId: slot.taskId, executionTimeMs: report?.durationMs ?? 0, metadata }
  if (success) return { ...base, success: true, ...(report.output !== undefined ? { output: report.output } : {}) }
  return { ...base, success: false, error: errorOf(slot, report) }
}

function errorOf(slot: BatchSlot, report: TaskReport | undefined): TaskErrorInfo {
  if (slot.failure !== undefined) return slot.failure
  if (report?.error !== undefined) return { code: report.error.code, message: report.error.message }
  if (report === undefined || report.status === 'cancelled') return { code: 'TW_CANCELLED', message: report?.reason ?? 'the task was cancelled' }
  return { code: 'TW_TOOL_FAILED', message: report.reason ?? `the task ended ${report.status}` }
}
