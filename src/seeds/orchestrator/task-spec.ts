/**
 * Checks an {@link AgentTask} eagerly (at `addTask`, not at run time) and turns it into the
 * engine's task spec. Problems throw `TW_VALIDATION` naming the task and the field.
 * @module
 */
import { TaskweaveError, ValidationError } from '../../core/errors.js'
import type { ValidationIssue } from '../../core/errors.js'
import { workflowSchemas } from '../../workflow/schema.js'
import type { TaskSpec } from '../../workflow/types.js'
import { plainTaskSpec } from '../../engine/plain-spec.js'
import { agentInputOf, agentToolName, encodeAgentData } from './agent-tool.js'
import type { AgentData, AgentTask } from './types.js'

// Engine field → the name the caller wrote, so messages speak the orchestrator's language.
const FIELD_NAMES: Readonly<Record<string, string>> = { tool: 'agentType', dependsOn: 'dependencies', group: 'concurrencyGroup' }

/** The fields of an {@link AgentTask}. */
const AGENT_TASK_FIELDS: readonly string[] = ['id', 'agentType', 'data', 'dependencies', 'concurrencyGroup', 'priority', 'retry', 'timeout', 'description', 'rateKey']

/** Names from the engine's task spec and the seed's Python fields, and the field meant. */
const FIELD_HINTS: Readonly<Record<string, string>> = {
  dependsOn: 'dependencies',
  depends_on: 'dependencies',
  group: 'concurrencyGroup',
  concurrency_group: 'concurrencyGroup',
  agent_type: 'agentType',
  agent: 'agentType',
  tool: 'agentType',
  timeout_seconds: 'timeout',
  input: 'data',
  task_id: 'id',
  rate_key: 'rateKey',
}

/** How an orchestrator turns its tasks into specs. */
export interface TaskSpecContext {
  readonly agentTypes: readonly string[]
  /** The first part of its agents' tool names. */
  readonly namespace: string
  /** Whether a task's data travels in its spec (a durable engine journals it) rather than in memory. */
  readonly carryData: boolean
}

/** Validates a task against the known agent types and returns its engine spec. */
export function toTaskSpec(task: AgentTask, context: TaskSpecContext): TaskSpec {
  const { agentTypes, namespace, carryData } = context
  if (typeof task !== 'object' || task === null) throw new ValidationError([{ message: 'a task must be an object with id and agentType' }])
  const where = typeof task.id === 'string' ? { taskId: task.id } : {}
  const issues: ValidationIssue[] = []
  // A field this task shape does not have would otherwise be dropped in silence (a `dependsOn`
  // written the engine's way would run the task before its dependency).
  for (const key of Object.keys(task)) {
    if (AGENT_TASK_FIELDS.includes(key)) continue
    const meant = FIELD_HINTS[key]
    issues.push({ ...where, field: key, message: `unknown field${meant !== undefined ? `; did you mean "${meant}"?` : `; the fields are ${AGENT_TASK_FIELDS.join(', ')}`}` })
  }
  if (!agentTypes.includes(task.agentType)) {
    issues.push({ ...where, field: 'agentType', message: `unknown agent type ${JSON.stringify(task.agentType)} (known: ${agentTypes.map((t) => `"${t}"`).join(', ') || 'none'})` })
  }
  const data: unknown = task.data
  if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) issues.push({ ...where, field: 'data', message: 'data must be an object' })
  const dependencies: unknown = task.dependencies ?? []
  if (!Array.isArray(dependencies)) issues.push({ ...where, field: 'dependencies', message: 'dependencies must be a list of task ids' })
  const deps = Array.isArray(dependencies) ? (dependencies as string[]) : []
  const dataText = carryData && issues.length === 0 && data !== undefined ? journaledData(task.id, data as AgentData, issues) : undefined
  const input = agentInputOf(
    deps.filter((d) => typeof d === 'string'),
    dataText,
  )
  const spec: TaskSpec = {
    id: task.id,
    tool: agentToolName(String(task.agentType), namespace),
    ...(task.description !== undefined ? { description: task.description } : {}),
    ...(deps.length > 0 ? { dependsOn: deps } : {}),
    ...(input !== undefined ? { input } : {}),
    ...(task.concurrencyGroup !== undefined ? { group: task.concurrencyGroup } : {}),
    ...(task.priority !== undefined ? { priority: task.priority } : {}),
    ...(task.retry !== undefined ? { retry: task.retry } : {}),
    ...(task.timeout !== undefined ? { timeout: task.timeout } : {}),
    ...(task.rateKey !== undefined ? { rateKey: task.rateKey } : {}),
  }
  const parsed = workflowSchemas().task.safeParse(spec)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [head, ...rest] = issue.path.map(String)
      // Input problems come from dependency ids, which are reported under `dependencies` already.
      if (head === 'input') continue
      const field = [FIELD_NAMES[head ?? ''] ?? head, ...rest].filter((s) => s !== undefined).join('.')
      issues.push({ ...where, ...(field !== '' ? { field } : {}), message: issue.message })
    }
  }
  if (issues.length > 0) throw new ValidationError(issues)
  return spec
}

/**
 * The data of a task of a durable orchestrator as text for its spec; undefined, with an issue
 * naming the field, when it is not plain data (a journal could not hold it as it is).
 */
function journaledData(taskId: string, data: AgentData, issues: ValidationIssue[]): string | undefined {
  try {
    plainTaskSpec({ id: taskId, input: { data } })
  } catch (err) {
    const field = err instanceof TaskweaveError && typeof err.details?.['field'] === 'string' ? err.details['field'].replace(/^input\./, '') : 'data'
    // The checker's words for what is wrong ("is a Date, not a plain object"), without its preamble.
    const problem = err instanceof Error ? (err.message.replace(/^added task "[^"]*": \S+ /, '').split(';')[0] ?? '') : ''
    issues.push({ taskId, field, message: `${problem}: the engine has a store, which journals every task's data, so it must be plain data (strings, numbers, booleans, null, arrays, objects)` })
    return undefined
  }
  return encodeAgentData(data)
}
