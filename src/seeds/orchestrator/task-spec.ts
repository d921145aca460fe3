/**
 * Checks an {@link AgentTask} eagerly (at `addTask`, not at run time) and turns it into the
 * engine's task spec. Problems throw `TW_VALIDATION` naming the task and the field.
 * @module
 */
import { ValidationError } from '../../core/errors.js'
import type { ValidationIssue } from '../../core/errors.js'
import { workflowSchemas } from '../../workflow/schema.js'
import type { TaskSpec } from '../../workflow/types.js'
import { agentInputOf, agentToolName } from './agent-tool.js'
import type { AgentTask } from './types.js'

// Engine field → the name the caller wrote, so messages speak the orchestrator's language.
const FIELD_NAMES: Readonly<Record<string, string>> = { tool: 'agentType', dependsOn: 'dependencies', group: 'concurrencyGroup' }

/** The fields of an {@link AgentTask}. */
const AGENT_TASK_FIELDS: readonly string[] = ['id', 'agentType', 'data', 'dependencies', 'concurrencyGroup', 'priority', 'retry', 'timeout', 'description']

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
}

/** Validates a task against the known agent types and returns its engine spec. */
export function toTaskSpec(task: AgentTask, agentTypes: readonly string[], namespace = 'agent'): TaskSpec {
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
  const input = agentInputOf(deps.filter((d) => typeof d === 'string'))
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
