/**
 * What templates and conditions of a task see while a run goes on: the run's inputs, other tasks'
 * status and output, and a fan-out item. Built from the run's columns on demand, per evaluation.
 * @module
 */
import type { TaskShape } from '../workflow/compile.js'
import type { TemplateScope } from '../workflow/template.js'
import { TaskweaveError } from '../core/errors.js'
import type { RunState } from './run-state.js'
import { checkValueSize } from './plain-data.js'
import { STATUS_NAMES } from './states.js'

/** Finds a task of the run (workflow task, item or added task) by id. */
export type IndexOf = (id: string) => number | undefined

const NO_ITEM = { hasItem: false } as const

/** The scope of a `when` condition: inputs and, per referenced task, its status (and output once it succeeded). */
export function conditionScope(state: RunState, indexOf: IndexOf, inputs: Readonly<Record<string, unknown>>, taskRefs: readonly string[]): Record<string, unknown> {
  const tasks = Object.create(null) as Record<string, unknown>
  for (const id of taskRefs) {
    const index = indexOf(id)
    if (index === undefined) continue
    const status = STATUS_NAMES[state.status[index] as number]
    const output = state.output(index)
    tasks[id] = status === 'succeeded' && output !== undefined ? { status, output } : { status }
  }
  return { inputs, tasks }
}

/** The scope of task `i`'s templates (input and forEach). */
export function templateScope(state: RunState, indexOf: IndexOf, inputs: Readonly<Record<string, unknown>>, i: number): TemplateScope {
  const task = (id: string): { status: string; output: unknown } | undefined => {
    const index = indexOf(id)
    return index === undefined ? undefined : { status: STATUS_NAMES[state.status[index] as number] as string, output: state.output(index) }
  }
  const x = state.peek(i)
  return x.hasItem ? { inputs, task, item: x.item, index: x.itemIndex, hasItem: true } : { inputs, task, ...NO_ITEM }
}

/**
 * Resolves a templated input and validates it with the tool's schema; throws `TW_TOOL_INPUT`
 * naming each problem, or `TW_INPUT_TOO_LARGE` when what the templates built is over `maxBytes`
 * as JSON (a few references to one large output can make a huge value).
 */
export function resolveToolInput(shape: TaskShape, scope: TemplateScope, maxBytes: number, taskId: string): unknown {
  let resolved: unknown
  try {
    resolved = shape.input.resolve(scope)
  } catch (err) {
    throw namingTask(err, taskId)
  }
  checkValueSize(resolved, maxBytes, taskId, 'input')
  const checked = shape.tool.input.safeParse(resolved)
  if (checked.success) return checked.data
  const problems = checked.error.issues.map((issue) => `${['input', ...issue.path.map(String)].join('.')}: ${issue.message}`).join('; ')
  throw new TaskweaveError('TW_TOOL_INPUT', `input rejected by tool "${shape.toolName}": ${problems}`, { retryable: false })
}

/** Runs `resolve` (a template's resolution); a template error it throws names task `taskId` too. */
export function resolveNamingTask<T>(resolve: () => T, taskId: string): T {
  try {
    return resolve()
  } catch (err) {
    throw namingTask(err, taskId)
  }
}

/** A template or condition error raised at run time, naming task `taskId` too; anything else as it is. */
export function namingTask(err: unknown, taskId: string): unknown {
  if (!TaskweaveError.is(err, 'TW_TEMPLATE') && !TaskweaveError.is(err, 'TW_EXPRESSION')) return err
  return new TaskweaveError(err.code, `task "${taskId}": ${err.message}`, { retryable: err.retryable, details: { ...err.details, taskId } })
}
