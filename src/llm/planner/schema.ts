/**
 * The shape of a plan: the part of the workflow schema a planner needs (a workflow id, a
 * description, and tasks with id, tool, input, dependsOn and description). It is derived from
 * `workflow/schema.ts` by picking those fields, so a plan is always a valid workflow file; the
 * fields a workflow file has beyond them (retries, conditions, fan-out, tool modules, limits…) are
 * left out on purpose: a model asked only for the DAG gets it right more often, and a plan
 * cannot, say, name a module to import.
 * @module
 */
import { z } from 'zod'
import { workflowSchemas } from '../../workflow/schema.js'

const { task: taskSchema, workflow: workflowSchema } = workflowSchemas()

/** The fields a planned workflow may have, in the order they are written. */
export const PLAN_WORKFLOW_FIELDS = ['id', 'description', 'tasks'] as const

/** The fields a planned task may have, in the order they are written. */
export const PLAN_TASK_FIELDS = ['id', 'description', 'tool', 'dependsOn', 'input'] as const

/** The workflow id used when neither the caller nor the model gives one. */
export const DEFAULT_PLAN_ID = 'plan'

// The workflow schema's id rule with a lookahead (`__proto__`… are refused); providers validate
// structured output with regex engines that lack lookaheads (RE2), so the plan's schema states the
// character rule only. Compilation still refuses the reserved names.
const planId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/)

/** One planned task: a tool call with its input and dependencies. */
export const planTaskSchema = taskSchema.pick({ id: true, tool: true, input: true, dependsOn: true, description: true }).extend({
  id: planId.describe('Unique task id: letters, digits, _ and -.'),
  // Required here, unlike in a workflow file (where `agent` may replace it): a plan calls tools only.
  tool: z.string().min(1).describe('Name of one of the listed tools.'),
  input: taskSchema.shape.input.describe("The tool's input, matching its input schema. A string may hold {{ tasks.<id>.output }} templates."),
  dependsOn: z.array(planId).optional().describe('Tasks that must finish first although no output of theirs is used.'),
  description: z.string().optional().describe('What the task does, in a few words.'),
})

/** A planned workflow. */
export const planSchema = workflowSchema.pick({ id: true, description: true }).extend({
  id: planId.describe('Workflow id: letters, digits, _ and -.'),
  description: z.string().optional().describe('What the workflow does, in one sentence.'),
  tasks: z.array(planTaskSchema).min(1),
})

/**
 * The JSON Schema sent as the `response_format` of a planning call: {@link planSchema} as JSON
 * Schema, without `$schema` (tokens the model does not need).
 */
export function planJsonSchema(): Record<string, unknown> {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(planSchema, { io: 'input', unrepresentable: 'any' })
  return schema
}
