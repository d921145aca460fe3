/** Compiling a task added while a run goes on (by a completion handler or a tool). @module */
import { ValidationError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'
import type { ToolRegistry } from '../core/registry.js'
import { compileTaskSpec } from '../workflow/compile.js'
import type { CompiledWorkflow, TaskShape } from '../workflow/compile.js'
import { workflowSchemas } from '../workflow/schema.js'
import type { TaskSpec } from '../workflow/types.js'

/** What the run knows that an added task is checked against. */
export interface AddedTaskContext {
  readonly registry: ToolRegistry
  readonly workflow: CompiledWorkflow
  /** The index the task will take in the run. */
  readonly index: number
  /** Index of an existing task (workflow task, item or added task). */
  readonly indexOf: (id: string) => number | undefined
  /** Ids taken by other tasks being added in the same batch. */
  readonly alsoTaken: ReadonlySet<string>
}

/** An added task, compiled. */
export interface AddedTask {
  readonly id: string
  readonly shape: TaskShape
  readonly parents: readonly number[]
}

/** Validates and compiles an added task; throws `TW_VALIDATION` naming every problem. */
export function compileAddedTask(spec: TaskSpec, ctx: AddedTaskContext): AddedTask {
  const parsed = workflowSchemas().task.safeParse(spec)
  const where = typeof (spec as { id?: unknown }).id === 'string' ? { taskId: spec.id } : {}
  if (!parsed.success) {
    throw new ValidationError(parsed.error.issues.map((i): ValidationIssue => ({ ...where, field: i.path.map(String).join('.'), message: i.message })))
  }
  const issues: ValidationIssue[] = []
  const task = parsed.data
  if (ctx.indexOf(task.id) !== undefined || ctx.alsoTaken.has(task.id)) issues.push({ ...where, field: 'id', message: `duplicate task id "${task.id}"` })
  const inputs = ctx.workflow.inputs
  const deps: number[] = []
  const shape = compileTaskSpec(task, ctx.index, {
    deps,
    registry: ctx.registry,
    indexOf: ctx.indexOf,
    declaredInputs: Object.keys(inputs).length > 0 ? inputs : undefined,
    defaults: ctx.workflow.defaults,
    issue: (path, message) => issues.push({ ...where, ...(path.length > 0 ? { field: path.map(String).join('.') } : {}), message }),
  })
  if (issues.length > 0) throw new ValidationError(issues)
  return { id: task.id, shape, parents: deps }
}
