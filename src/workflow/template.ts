/**
 * Templates in task inputs: `{{ inputs.x }}`, `{{ tasks.id.output.items[0].url }}`, `{{ item.path }}`.
 *
 * A string that is exactly one reference keeps the referenced value's type; any other string with
 * references renders each as text. Paths read own properties only, and `__proto__`, `constructor`
 * and `prototype` are refused when the template is parsed, so a template can never reach a prototype.
 * Substituted values are data: they are never parsed for templates again.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'

/** Where a reference starts. */
export type TemplateRoot = 'inputs' | 'tasks' | 'item' | 'index'

/** One `{{ … }}` reference, parsed. */
export interface TemplateRef {
  /** The text between the braces, trimmed (for messages). */
  readonly expression: string
  readonly root: TemplateRoot
  /** Path after the root; for `tasks`, `[taskId, 'output' | 'status', …]`. */
  readonly path: readonly (string | number)[]
}

/** A parsed template string. */
export type ParsedTemplate =
  | { readonly kind: 'whole'; readonly ref: TemplateRef }
  | { readonly kind: 'interpolated'; readonly parts: readonly (string | TemplateRef)[] }

/** Path segments that would reach a prototype; never resolved. */
export const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

const ROOTS: ReadonlySet<string> = new Set(['inputs', 'tasks', 'item', 'index'])
const TASK_FIELDS: ReadonlySet<string> = new Set(['output', 'status'])

/** A template could not be parsed; `message` says what and where in the expression. */
export class TemplateSyntaxError extends TaskweaveError {
  constructor(message: string, expression: string) {
    super('TW_TEMPLATE', message, { retryable: false, details: { expression } })
    this.name = 'TemplateSyntaxError'
  }
}

/** True when the string holds at least one `{{`. Cheap pre-check before parsing. */
export function hasTemplate(text: string): boolean {
  return text.includes('{{')
}

/** Parses a string; returns undefined when it holds no template. Throws {@link TemplateSyntaxError}. */
export function parseTemplate(text: string): ParsedTemplate | undefined {
  if (!text.includes('{{')) return undefined
  const parts: (string | TemplateRef)[] = []
  let cursor = 0
  while (cursor < text.length) {
    const open = text.indexOf('{{', cursor)
    if (open < 0) {
      parts.push(text.slice(cursor))
      break
    }
    const close = text.indexOf('}}', open + 2)
    if (close < 0) throw new TemplateSyntaxError(`unclosed "{{" at offset ${open} in ${JSON.stringify(text)}`, text)
    if (open > cursor) parts.push(text.slice(cursor, open))
    parts.push(parseReference(text.slice(open + 2, close).trim()))
    cursor = close + 2
  }
  const only = parts[0]
  if (parts.length === 1 && only !== undefined && typeof only !== 'string') return { kind: 'whole', ref: only }
  return { kind: 'interpolated', parts }
}

const SEGMENT = /^(?:\.([A-Za-z0-9_$-]+)|\[\s*(\d+)\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*'((?:[^'\\]|\\.)*)'\s*\])/
const HEAD = /^([A-Za-z_][A-Za-z0-9_]*)/

/** Parses the inside of `{{ … }}`: a root name followed by `.name`, `[0]` or `["key"]` segments. */
export function parseReference(expression: string): TemplateRef {
  if (expression.length === 0) throw new TemplateSyntaxError('empty template "{{ }}"', expression)
  const head = HEAD.exec(expression)
  const root = head?.[1]
  if (root === undefined || !ROOTS.has(root)) {
    throw new TemplateSyntaxError(
      `template "{{ ${expression} }}" must start with inputs, tasks, item or index`,
      expression,
    )
  }
  const path: (string | number)[] = []
  let rest = expression.slice(root.length)
  while (rest.length > 0) {
    const match = SEGMENT.exec(rest)
    if (!match) throw new TemplateSyntaxError(`template "{{ ${expression} }}": cannot parse "${rest}"`, expression)
    const segment = match[2] !== undefined ? Number(match[2]) : (match[1] ?? unescape(match[3] ?? match[4] ?? ''))
    if (typeof segment === 'string' && FORBIDDEN_SEGMENTS.has(segment)) {
      throw new TemplateSyntaxError(`template "{{ ${expression} }}": the path segment "${segment}" is not allowed`, expression)
    }
    path.push(segment)
    rest = rest.slice(match[0].length)
  }
  if (root === 'tasks') {
    if (typeof path[0] !== 'string') throw new TemplateSyntaxError(`template "{{ ${expression} }}" must name a task: tasks.<id>.output`, expression)
    const field = path[1]
    if (typeof field !== 'string' || !TASK_FIELDS.has(field)) {
      throw new TemplateSyntaxError(`template "{{ ${expression} }}" must read tasks.<id>.output or tasks.<id>.status`, expression)
    }
  }
  if (root === 'index' && path.length > 0) throw new TemplateSyntaxError(`template "{{ ${expression} }}": index is a number and has no fields`, expression)
  return { expression, root: root as TemplateRoot, path }
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, '$1')
}

/** The values templates read. Lookups go through functions so no context object is built per task. */
export interface TemplateScope {
  readonly inputs: Readonly<Record<string, unknown>>
  /** Status and output of a task, or undefined when the task does not exist. */
  task(id: string): { readonly status: string; readonly output: unknown } | undefined
  readonly item?: unknown
  readonly index?: number
  readonly hasItem: boolean
}

/** A reference could not be resolved at run time (missing field, index out of range…). */
export class TemplateResolutionError extends TaskweaveError {
  constructor(message: string, details: Record<string, unknown>) {
    super('TW_TEMPLATE', message, { retryable: false, details })
    this.name = 'TemplateResolutionError'
  }
}

/** Resolves one reference; throws {@link TemplateResolutionError} naming the expression and what is missing. */
export function resolveReference(ref: TemplateRef, scope: TemplateScope): unknown {
  let value: unknown
  let start = 0
  let owner: string
  switch (ref.root) {
    case 'inputs':
      value = scope.inputs
      owner = 'the run inputs'
      break
    case 'item':
    case 'index':
      if (!scope.hasItem) throw new TemplateResolutionError(`{{ ${ref.expression} }} is only available in a forEach task`, { expression: ref.expression })
      if (ref.root === 'index') return scope.index
      value = scope.item
      owner = 'the forEach item'
      break
    case 'tasks': {
      const taskId = ref.path[0] as string
      const task = scope.task(taskId)
      if (task === undefined) throw new TemplateResolutionError(`{{ ${ref.expression} }}: there is no task "${taskId}"`, { expression: ref.expression, taskId })
      if (ref.path[1] === 'status') return task.status
      if (task.status !== 'succeeded') {
        throw new TemplateResolutionError(`{{ ${ref.expression} }}: task "${taskId}" has no output (it ${task.status === 'skipped' ? 'was skipped' : task.status})`, { expression: ref.expression, taskId })
      }
      value = task.output
      start = 2
      owner = `the output of task "${taskId}"`
      break
    }
  }
  for (let i = start; i < ref.path.length; i++) {
    const segment = ref.path[i] as string | number
    value = step(value, segment, ref, owner)
  }
  return value
}

function step(value: unknown, segment: string | number, ref: TemplateRef, owner: string): unknown {
  if (typeof segment === 'number') {
    if (!Array.isArray(value)) throw missing(ref, owner, `[${segment}] needs a list, found ${kindOf(value)}`)
    if (segment >= value.length) throw missing(ref, owner, `index ${segment} is out of range (length ${value.length})`)
    return value[segment]
  }
  if (typeof value !== 'object' || value === null) throw missing(ref, owner, `field "${segment}" needs an object, found ${kindOf(value)}`)
  if (!Object.hasOwn(value, segment)) throw missing(ref, owner, `field "${segment}" is not in ${owner}`)
  return (value as Record<string, unknown>)[segment]
}

function missing(ref: TemplateRef, owner: string, what: string): TemplateResolutionError {
  return new TemplateResolutionError(`{{ ${ref.expression} }}: ${what}`, { expression: ref.expression, in: owner })
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`
}

/** Resolves a parsed template: a whole reference keeps its type; interpolation renders text. */
export function renderTemplate(template: ParsedTemplate, scope: TemplateScope): unknown {
  if (template.kind === 'whole') return resolveReference(template.ref, scope)
  let out = ''
  for (const part of template.parts) {
    if (typeof part === 'string') {
      out += part
      continue
    }
    const value = resolveReference(part, scope)
    if (value === undefined) throw new TemplateResolutionError(`{{ ${part.expression} }} has no value`, { expression: part.expression })
    out += typeof value === 'string' ? value : JSON.stringify(value)
  }
  return out
}
