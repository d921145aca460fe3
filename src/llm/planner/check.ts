/**
 * Checking one answer of the model: is it JSON, does it keep to the fields of a plan, and does it
 * compile as a workflow against the tools (unknown tools, unknown dependencies, cycles, inputs that
 * fail their tool's schema, malformed templates). Every problem becomes a `ValidationIssue` naming
 * the task and field, which is what the repair message shows the model. Pure: no I/O.
 * @module
 */
import { ValidationError, type ValidationIssue } from '../../core/errors.js'
import type { ToolRegistry } from '../../core/registry.js'
import type { WorkflowSpec } from '../../core/spec.js'
import { compileWorkflow, type CompiledWorkflow } from '../../workflow/compile.js'
import { compileValue, type TemplateIssue } from '../../workflow/value-template.js'
import { DEFAULT_PLAN_ID, PLAN_TASK_FIELDS, PLAN_WORKFLOW_FIELDS } from './schema.js'

/** What the model answered, as far as checking needs it. */
export interface PlanAnswer {
  readonly content: string
  readonly finishReason: string
  readonly refusal: string | undefined
}

/** The outcome of {@link checkPlanAnswer}. */
export type PlanCheck =
  | { readonly ok: true; readonly workflow: CompiledWorkflow; readonly spec: WorkflowSpec }
  | { readonly ok: false; readonly issues: readonly ValidationIssue[] }

/**
 * Checks an answer. `id`, when given, becomes the workflow's id whatever the model named it (a
 * missing id becomes {@link DEFAULT_PLAN_ID}: not worth a repair). The returned spec holds the
 * plan's fields only, in the order a person reads them (id, description, tasks).
 */
export function checkPlanAnswer(answer: PlanAnswer, registry: ToolRegistry, id?: string): PlanCheck {
  if (answer.refusal !== undefined && answer.refusal !== '') return fail({ message: `the model refused: ${answer.refusal}` })
  // Cut off by the length limit: the JSON is incomplete, and saying why helps more than a parse error.
  if (answer.finishReason === 'length') return fail({ message: 'the answer was cut off by the length limit before it ended: plan fewer tasks or shorter inputs' })
  const parsed = parseJson(answer.content)
  if (!parsed.ok) return fail({ message: parsed.message })

  const issues: ValidationIssue[] = []
  const spec = planSpecOf(parsed.value, id, issues)
  if (spec === undefined) return { ok: false, issues }
  try {
    const workflow = compileWorkflow(spec, { registry })
    return issues.length === 0 ? { ok: true, workflow, spec } : { ok: false, issues }
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    return { ok: false, issues: [...issues, ...err.issues] }
  }
}

function fail(issue: ValidationIssue): PlanCheck {
  return { ok: false, issues: [issue] }
}

/** Parses the answer as JSON; a whole answer fenced as a code block is unwrapped first. */
function parseJson(content: string): { ok: true; value: unknown } | { ok: false; message: string } {
  // Models on servers that ignore `response_format` (older Ollama, some gateways) often fence the
  // JSON in ```json … ```: unwrapping it saves a repair round for a correct plan.
  const text = /^\s*```[A-Za-z]*[ \t]*\r?\n([\s\S]*?)\r?\n?```\s*$/.exec(content)?.[1] ?? content
  if (text.trim() === '') return { ok: false, message: 'the answer is empty: answer with the workflow as one JSON object' }
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch (err) {
    return { ok: false, message: `the answer is not valid JSON (${err instanceof Error ? err.message : String(err)}): answer with the workflow as one JSON object only` }
  }
}

/**
 * The plan's fields of `value`, in order, as the definition to compile; undefined when `value` is
 * not an object. Fields beyond a plan's, and `{{ inputs.… }}` templates (a plan declares no
 * inputs, so they would fail only at run time), are pushed to `issues`.
 */
function planSpecOf(value: unknown, id: string | undefined, issues: ValidationIssue[]): WorkflowSpec | undefined {
  if (!isObject(value)) {
    issues.push({ message: `the answer must be one JSON object {"id", "description", "tasks": [...]}; received ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}` })
    return undefined
  }
  for (const key of Object.keys(value)) {
    if (!(PLAN_WORKFLOW_FIELDS as readonly string[]).includes(key)) issues.push({ field: key, message: `"${key}" is not a field of a planned workflow (allowed: ${PLAN_WORKFLOW_FIELDS.join(', ')})` })
  }
  const tasks = Array.isArray(value['tasks']) ? value['tasks'].map((task: unknown, i) => planTaskOf(task, i, issues)) : value['tasks']
  return {
    id: id ?? (value['id'] === undefined ? DEFAULT_PLAN_ID : value['id']),
    ...(value['description'] === undefined ? {} : { description: value['description'] }),
    tasks,
  } as WorkflowSpec
}

/** Task `i` with its plan fields only (in order); a non-object is left as it is, for compilation to report. */
function planTaskOf(task: unknown, i: number, issues: ValidationIssue[]): unknown {
  if (!isObject(task)) return task
  const taskId = typeof task['id'] === 'string' ? { taskId: task['id'] } : {}
  for (const key of Object.keys(task)) {
    if (!(PLAN_TASK_FIELDS as readonly string[]).includes(key)) issues.push({ ...taskId, field: `tasks[${i}].${key}`, message: `"${key}" is not a field of a planned task (allowed: ${PLAN_TASK_FIELDS.join(', ')})` })
  }
  const input = task['input']
  if (input !== undefined) {
    const ignored: TemplateIssue[] = [] // syntax errors: compilation reports them, with the same field
    for (const { field, ref } of compileValue(input, `tasks[${i}].input`, ignored).refs) {
      if (ref.root === 'inputs') issues.push({ ...taskId, field, message: `{{ ${ref.expression} }}: a planned workflow has no inputs; write the value itself` })
    }
  }
  const picked: Record<string, unknown> = {}
  for (const key of PLAN_TASK_FIELDS) if (task[key] !== undefined) picked[key] = task[key]
  return picked
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
