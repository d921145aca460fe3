/**
 * The fast path for a task whose input is one flat object of plain values (`{ path: 'a.txt',
 * n: 3 }`): the shape of most calls a program generates in bulk (an executor batch of thousands of
 * tool calls, a fan-out written in code). Such an input holds no template, so compiling it is one
 * schema check; and since it is flat, the definition is pinned without writing it as JSON text:
 * the tool-checked value (or, when the schema changed it, a one-level copy) is the pinned input,
 * and the task's text is written only when the workflow's snapshot is first read.
 *
 * Anything else (a nested value, a `{{` in a string, an unknown tool, a rejected input, a wrong
 * dependency) returns undefined here and takes the full compile, which words the problems.
 * @module
 */
import { canonicalJson } from '../core/canonical-json.js'
import type { ToolRegistry } from '../core/registry.js'
import type { AnyTool } from '../core/tool.js'
import type { CompiledValue } from './value-template.js'
import type { TaskCompileCache, TaskShape } from './compile-task.js'
import type { IdIndex } from './id-index.js'
import type { TaskGraphBuilder } from './task-graph.js'

/** A task {@link plainTaskKind} found valid with an input (the input's values not yet looked at). */
export interface FlatTaskCandidate {
  readonly tool: string
  readonly input: Readonly<Record<string, unknown>>
  readonly dependsOn?: readonly string[]
  readonly priority?: number
  readonly group?: string
  readonly cost?: number
}

const NO_REFS: CompiledValue['refs'] = Object.freeze([])

/**
 * A flat input, pinned: what templates would resolve it to (itself: it has none) and, when the
 * tool's schema returned it unchanged, also the task's static input, so one object serves as both.
 */
export class FlatInput implements CompiledValue {
  readonly isStatic = true
  readonly refs = NO_REFS
  /** The pinned input: private to the workflow, never handed to a tool (attempts get a copy). */
  readonly value: Readonly<Record<string, unknown>>

  constructor(value: Readonly<Record<string, unknown>>) {
    this.value = value
  }

  resolve(): unknown {
    return this.value
  }
}

/**
 * True when `input` is an object whose own values are all plain: strings without `{{`, finite
 * numbers, booleans and null. Allocates nothing. `__proto__` as an own key (possible only through
 * `JSON.parse` or `defineProperty`) is left to the full compile.
 */
export function isFlatInput(input: Readonly<Record<string, unknown>>): boolean {
  // The caller checked the prototype (Object.prototype or null) and symbol keys: for…in sees own keys only.
  for (const key in input) if (key === '__proto__' || !isFlatValue(input[key])) return false
  return true
}

/** True for the values a flat input holds: a string without `{{`, a finite number, a boolean, null. */
export function isFlatValue(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
      return !value.includes('{{')
    case 'number':
      return Number.isFinite(value)
    case 'boolean':
      return true
    case 'object':
      return value === null
    default:
      return false
  }
}

/**
 * Compiles task `index` on the flat path: its dependencies into the graph's current row (ended
 * here) and its shape. Returns undefined, with nothing added to the graph, when the task needs the
 * full compile.
 */
export function compileFlatTask(task: FlatTaskCandidate, index: number, indexById: IdIndex, cache: TaskCompileCache, registry: ToolRegistry, graph: TaskGraphBuilder): TaskShape | undefined {
  const input = task.input
  if (!isFlatInput(input)) return undefined
  const tool = registry.get(task.tool)
  if (tool === undefined) return undefined
  const shape = flatInputShape(tool, input, cache, task.priority, task.group, task.cost)
  if (shape === undefined || !graph.addRowOfIds(task.dependsOn, index, indexById)) return undefined
  return shape
}

/**
 * The shape of a task calling `tool` with `input`, which {@link isFlatInput} accepted: one schema
 * check, and the input pinned. Undefined when the tool's schema rejects the input.
 */
export function flatInputShape(tool: AnyTool, input: Readonly<Record<string, unknown>>, cache: TaskCompileCache, priority: number | undefined, group: string | undefined, cost: number | undefined): TaskShape | undefined {
  const checked = tool.input.safeParse(input)
  if (!checked.success) return undefined
  const data: unknown = checked.data
  // The schema's output is usually a new object (zod copies): when it equals the input, it pins the
  // input too. A schema that hands the input back as is (`z.any()`) gets the copy instead: the
  // caller's object must not reach the workflow. Frozen: the compiled workflow shows it
  // (`compiled.tasks[i].staticInput`), and its snapshot is written from it later.
  const same = data === input || isSameFlat(data, input)
  const pinned = Object.freeze(same && data !== input ? (data as Record<string, unknown>) : flatCopy(input))
  const flat = new FlatInput(pinned)
  return cache.inputShape(tool, flat, same ? flat : { value: data }, priority, group, cost)
}

/** True when `value` is an object with exactly the keys of `input`, each holding the same value. */
function isSameFlat(value: unknown, input: Readonly<Record<string, unknown>>): boolean {
  if (typeof value !== 'object' || value === null || value === input || Array.isArray(value)) return false
  const record = value as Record<string, unknown>
  let count = 0
  for (const key in input) {
    if (!Object.is(record[key], input[key]) || !Object.hasOwn(record, key)) return false
    count++
  }
  for (const key in record) if (--count < 0 || !Object.hasOwn(record, key)) return false
  return count === 0 && Object.getPrototypeOf(record) === Object.prototype
}

function flatCopy(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key in input) out[key] = input[key]
  return out
}

/** What compiling kept of a flat task beside its shape and graph row. */
export interface FlatTaskExtras {
  readonly description: string | undefined
  readonly priority: number | undefined
  readonly group: string | undefined
  readonly cost: number | undefined
  /** Its timeout in ms (only a batch of calls compiled together has one: see `flat-calls.ts`). */
  readonly timeout?: number | undefined
}

/**
 * The canonical text of a flat task, as the full compile would have pinned it (the canonical form
 * of its JSON): its dependencies as the graph holds them.
 */
export function flatTaskText(id: string, tool: string, input: FlatInput, parents: readonly string[], extras: FlatTaskExtras | undefined): string {
  const task: Record<string, unknown> = { id, tool, input: input.value }
  if (parents.length > 0) task['dependsOn'] = parents
  if (extras !== undefined) {
    if (extras.description !== undefined) task['description'] = extras.description
    if (extras.priority !== undefined) task['priority'] = extras.priority
    if (extras.group !== undefined) task['group'] = extras.group
    if (extras.cost !== undefined) task['cost'] = extras.cost
    if (extras.timeout !== undefined) task['timeout'] = extras.timeout
  }
  return canonicalJson(task)
}
