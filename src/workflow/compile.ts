/**
 * Validation and compilation of a workflow, before anything runs. Every problem is collected (not
 * just the first) and pinned to file, task id, field and, for files, line and column: schema
 * errors, duplicate ids, unknown dependencies and tools, cycles (with their path), malformed
 * templates and conditions, and static inputs that fail their tool's schema.
 * @module
 */
import { createHash } from 'node:crypto'
import { ValidationError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'
import { parseDuration } from '../core/duration.js'
import type { AnyTool } from '../core/tool.js'
import type { ToolRegistry } from '../core/registry.js'
import { taskSchema, workflowShellSchema } from './schema.js'
import type { ResolvedRetry, RetrySpec, TaskSpec, TriggerRule, WorkflowSpec } from './types.js'
import { compileValue } from './value-template.js'
import type { CompiledValue, TemplateIssue } from './value-template.js'
import { compileCondition } from './expression.js'
import type { CompiledCondition } from './expression.js'
import { findCycle, topologicalOrder } from './dag.js'
import { isPlainValidTask } from './fast-task-check.js'

/**
 * A task ready to schedule: references resolved to indices, options resolved to plain ms. Every
 * field is present (possibly `undefined`) so all compiled tasks share one object shape.
 */
export interface CompiledTask {
  readonly index: number
  readonly id: string
  readonly toolName: string
  readonly tool: AnyTool
  readonly input: CompiledValue
  /** The tool-validated input, when the input holds no template (validated once, here). */
  readonly staticInput: { readonly value: unknown } | undefined
  readonly when: CompiledCondition | undefined
  readonly forEach: CompiledValue | undefined
  readonly trigger: TriggerRule
  readonly priority: number
  readonly group: string | undefined
  readonly cost: number | undefined
  readonly retry: ResolvedRetry
  readonly timeoutMs: number | undefined
  /** Indices of the tasks this one waits for (explicit `dependsOn` plus template and condition references). */
  readonly parents: readonly number[]
  /** Indices of the tasks that wait for this one. */
  readonly children: readonly number[]
}

/** A declared workflow input. */
export interface CompiledInput {
  readonly type: 'string' | 'number' | 'boolean' | 'object' | 'array'
  readonly required: boolean
  readonly default?: unknown
  readonly description?: string
}

/** A validated workflow, reusable across runs. */
export interface CompiledWorkflow {
  readonly id: string
  readonly version?: string | number
  readonly name?: string
  readonly file?: string
  /** SHA-256 of the definition: a run pins the definition it started with (computed on first read). */
  readonly hash: string
  readonly tasks: readonly CompiledTask[]
  /** Indices of `tasks` in a topological order (parents before children). */
  readonly order: readonly number[]
  /** Task id → index in `tasks`. */
  readonly indexById: ReadonlyMap<string, number>
  readonly inputs: Readonly<Record<string, CompiledInput>>
  readonly concurrency?: number
  readonly groups: Readonly<Record<string, number>>
  readonly failFast: boolean
  /** The definition as given (plain data). */
  readonly spec: WorkflowSpec
}

/** Where a workflow came from, to pin issues on lines. */
export interface CompileOptions {
  readonly registry: ToolRegistry
  /** File name shown in issues. */
  readonly file?: string
  /** Maps a path inside the definition to a 1-based line and column in the file. */
  readonly locate?: (path: readonly (string | number)[]) => { line: number; column: number } | undefined
}

const DEFAULT_RETRY: ResolvedRetry = { maxAttempts: 1, initialDelayMs: 200, factor: 2, maxDelayMs: 30_000, jitter: 'full', retryOn: undefined }

/** Validates and compiles; throws {@link ValidationError} listing every problem. */
export function compileWorkflow(definition: unknown, options: CompileOptions): CompiledWorkflow {
  const issues: ValidationIssue[] = []
  const issue = (path: readonly (string | number)[], message: string, taskId?: string): void => {
    const at = options.locate?.(path)
    issues.push({
      message,
      ...(options.file !== undefined ? { file: options.file } : {}),
      ...(taskId !== undefined ? { taskId } : {}),
      ...(path.length > 0 ? { field: formatPath(path) } : {}),
      ...(at ? { line: at.line, column: at.column } : {}),
    })
  }

  const parsed = workflowShellSchema.safeParse(definition)
  if (!parsed.success) {
    for (const zodIssue of parsed.error.issues) {
      const path = zodIssue.path.filter((p): p is string | number => typeof p !== 'symbol')
      issue(path, zodIssue.message, taskIdAt(definition, path))
    }
  }
  const rawTasks = (definition as { tasks?: unknown }).tasks
  if (!Array.isArray(rawTasks) || !parsed.success) throw new ValidationError(issues)
  const spec = parsed.data
  const tasks = rawTasks as TaskSpec[]
  const indexById = new Map<string, number>()
  const valid = new Uint8Array(tasks.length)
  for (let i = 0; i < tasks.length; i++) {
    const raw = tasks[i]
    let id: string
    if (isPlainValidTask(raw)) id = (raw as { id: string }).id
    else {
      const checked = taskSchema.safeParse(raw)
      if (!checked.success) {
        for (const zodIssue of checked.error.issues) {
          const path = ['tasks', i, ...zodIssue.path.filter((p): p is string | number => typeof p !== 'symbol')]
          issue(path, zodIssue.message, taskIdAt(definition, path))
        }
        continue
      }
      id = checked.data.id
    }
    valid[i] = 1
    const first = indexById.get(id)
    if (first !== undefined) issue(['tasks', i, 'id'], `duplicate task id "${id}" (first defined at tasks[${first}])`, id)
    else indexById.set(id, i)
  }

  const ctx: TaskCompileContext = {
    registry: options.registry,
    indexOf: (id) => indexById.get(id),
    declaredInputs: spec.inputs,
    defaults: spec.defaults,
    issue: () => undefined,
    cache: new TaskCompileCache(spec.defaults),
  }
  const compiledTasks: CompiledTask[] = new Array<CompiledTask>(tasks.length)
  let at = 0
  ctx.issue = (path, message) => issue(['tasks', at, ...path], message, tasks[at]?.id)
  for (; at < tasks.length; at++) if (valid[at] === 1) compiledTasks[at] = compileTaskSpec(tasks[at] as TaskSpec, at, ctx)
  if (issues.length > 0) throw new ValidationError(issues)

  // Children lists start as one shared empty array and get their own on the first child.
  for (const task of compiledTasks) {
    for (const p of task.parents) {
      const parent = compiledTasks[p] as unknown as { children: number[] }
      if (parent.children === NO_TASKS) parent.children = [task.index]
      else parent.children.push(task.index)
    }
  }
  // Kahn's order doubles as the cycle check: a task left out of it sits on (or behind) a cycle,
  // and only then is the slower search for the cycle's path run.
  const order = topologicalOrder(
    compiledTasks.map((t) => t.parents),
    compiledTasks.map((t) => t.children),
  )
  if (order.length < compiledTasks.length) {
    const cycle = findCycle(compiledTasks.map((t) => t.children))
    if (cycle) {
      const first = cycle[0] as number
      issue(['tasks', first], `dependency cycle: ${cycle.map((n) => tasks[n]?.id).join(' → ')}`, tasks[first]?.id)
    }
  }
  if (issues.length > 0) throw new ValidationError(issues)

  const inputs: Record<string, CompiledInput> = {}
  for (const [name, declared] of Object.entries(spec.inputs ?? {})) {
    inputs[name] = {
      type: declared.type,
      required: declared.required ?? declared.default === undefined,
      ...(declared.default !== undefined ? { default: declared.default } : {}),
      ...(declared.description !== undefined ? { description: declared.description } : {}),
    }
  }
  let hash: string | undefined
  return {
    [COMPILED]: true,
    id: spec.id,
    ...(spec.version !== undefined ? { version: spec.version } : {}),
    ...(spec.name !== undefined ? { name: spec.name } : {}),
    ...(options.file !== undefined ? { file: options.file } : {}),
    // Hashing a 100,000-task definition costs tens of ms; only runs that pin it pay for it.
    get hash() {
      return (hash ??= createHash('sha256').update(JSON.stringify(definition)).digest('hex'))
    },
    tasks: compiledTasks,
    order,
    indexById,
    inputs,
    ...(spec.limits?.concurrency !== undefined ? { concurrency: spec.limits.concurrency } : {}),
    groups: spec.limits?.groups ?? {},
    failFast: spec.failFast ?? false,
    spec: definition as WorkflowSpec,
  } as CompiledWorkflow
}

/** Marks objects made by {@link compileWorkflow}. */
const COMPILED = Symbol.for('taskweave.compiledWorkflow')

/** True when `value` was made by {@link compileWorkflow}. */
export function isCompiledWorkflow(value: unknown): value is CompiledWorkflow {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[COMPILED] === true
}

/** The shared empty list of task indices (never mutated). */
export const NO_TASKS: readonly number[] = Object.freeze([])

/**
 * Work shared by the tasks of one workflow: most tasks of a large workflow use the default retry
 * policy and the same tool with the same (or no) input, so those are resolved once.
 */
export class TaskCompileCache {
  readonly defaultRetry: ResolvedRetry
  readonly #emptyInputs = new Map<AnyTool, { readonly value: unknown } | false>()

  constructor(readonly defaults: WorkflowSpec['defaults'] | undefined) {
    this.defaultRetry = resolveRetry(defaults?.retry, undefined)
  }

  /** The tool-validated form of an absent input, or false when the tool rejects it. */
  emptyInput(tool: AnyTool): { readonly value: unknown } | false {
    let entry = this.#emptyInputs.get(tool)
    if (entry === undefined) {
      const checked = tool.input.safeParse({})
      // Shared by every task of this tool: frozen, so one task cannot change another's input.
      entry = checked.success ? { value: typeof checked.data === 'object' && checked.data !== null ? Object.freeze(checked.data) : checked.data } : false
      this.#emptyInputs.set(tool, entry)
    }
    return entry
  }
}

/** What {@link compileTaskSpec} needs to know about the workflow around the task. */
export interface TaskCompileContext {
  readonly registry: ToolRegistry
  /** Index of a task id in the workflow, or undefined when there is no such task. */
  readonly indexOf: (id: string) => number | undefined
  readonly declaredInputs?: Readonly<Record<string, unknown>> | undefined
  readonly defaults?: WorkflowSpec['defaults'] | undefined
  /** Records a problem at a path relative to the task. */
  issue: (path: (string | number)[], message: string) => void
  /** Work shared across the tasks of one workflow. */
  readonly cache?: TaskCompileCache
}

/**
 * Compiles one schema-valid task: resolves its tool, compiles templates and its condition, gathers
 * its dependencies (explicit and implied by references) and validates a static input. Shared by
 * whole-workflow compilation and tasks added while a run is going.
 */
export function compileTaskSpec(task: TaskSpec, index: number, ctx: TaskCompileContext): CompiledTask {
  const { issue } = ctx
  const cache = ctx.cache ?? new TaskCompileCache(ctx.defaults)
  const defaults = ctx.defaults
  // Dependencies in a small array (a task has few): no Set, and no path array unless there is a problem.
  let deps: number[] | undefined
  const addDep = (id: string, path: () => (string | number)[], what: string): void => {
    const dep = ctx.indexOf(id)
    if (dep === undefined) issue(path(), `${what} "${id}" is not a task of this workflow`)
    else if (dep === index) issue(path(), 'task depends on itself')
    else if (deps === undefined) deps = [dep]
    else if (!deps.includes(dep)) deps.push(dep)
  }
  const dependsOn = task.dependsOn
  if (dependsOn !== undefined) {
    // The common case, inlined: no closure per dependency unless one is wrong.
    for (let k = 0; k < dependsOn.length; k++) {
      const id = dependsOn[k] as string
      const dep = ctx.indexOf(id)
      if (dep !== undefined && dep !== index) {
        if (deps === undefined) deps = [dep]
        else if (!deps.includes(dep)) deps.push(dep)
      } else addDep(id, () => ['dependsOn', k], 'dependency')
    }
  }

  let tool: AnyTool | undefined
  // An agent task runs the tool `agent.<name>` with `{ session, input }` (see agents/agent-tool.ts).
  const toolName = task.agent !== undefined ? `agent.${task.agent}` : task.tool
  if (task.agent !== undefined && task.tool !== undefined) issue([], 'a task names either a tool or an agent, not both')
  else if (toolName === undefined) issue([], 'a task needs a tool (or an agent)')
  else {
    tool = ctx.registry.get(toolName)
    if (tool === undefined) {
      const kind = task.agent !== undefined ? 'agent' : 'tool'
      const close = ctx.registry.suggest(toolName).filter((name) => (kind === 'agent') === name.startsWith('agent.'))
      const shown = kind === 'agent' ? close.map((name) => name.slice('agent.'.length)) : close
      issue([kind], `unknown ${kind} "${task.agent ?? task.tool}"${shown.length > 0 ? `; did you mean ${shown.map((c) => `"${c}"`).join(', ')}?` : ''}`)
    }
  }

  // Most tasks of a big workflow have no input, condition or fan-out: no issue list for them.
  const templateIssues: TemplateIssue[] = task.input === undefined && task.forEach === undefined && task.agent === undefined ? NO_ISSUES : []
  const rawInput = task.agent !== undefined ? { input: task.input ?? {}, ...(task.session !== undefined ? { session: task.session } : {}) } : task.input
  const input = rawInput === undefined ? EMPTY_INPUT : compileValue(rawInput, 'input', templateIssues)
  for (const { field, ref } of input.refs) {
    if (ref.root === 'tasks') addDep(ref.path[0] as string, () => splitField(field), 'template reference to task')
    if ((ref.root === 'item' || ref.root === 'index') && task.forEach === undefined) {
      templateIssues.push({ field, message: `{{ ${ref.expression} }} is only available in a forEach task` })
    }
    if (ref.root === 'inputs' && typeof ref.path[0] === 'string' && ctx.declaredInputs !== undefined && !Object.hasOwn(ctx.declaredInputs, ref.path[0])) {
      templateIssues.push({ field, message: `{{ ${ref.expression} }}: "${ref.path[0]}" is not a declared input` })
    }
  }
  let forEach: CompiledValue | undefined
  if (task.forEach !== undefined) {
    forEach = compileValue(task.forEach, 'forEach', templateIssues)
    const text = task.forEach.trim()
    if (forEach.isStatic || forEach.refs.length !== 1 || !text.startsWith('{{') || !text.endsWith('}}')) {
      templateIssues.push({ field: 'forEach', message: 'forEach must be one whole reference to a list, e.g. "{{ tasks.list.output.items }}"' })
    }
    for (const { ref } of forEach.refs) if (ref.root === 'tasks') addDep(ref.path[0] as string, () => ['forEach'], 'forEach reference to task')
  }
  // An agent task's input sits under `input.input` of the agent tool; report it where the user wrote it.
  const where = task.agent === undefined ? (field: string) => field : (field: string) => field.replace(/^input\.input\b/, 'input').replace(/^input\.session\b/, 'session')
  for (const t of templateIssues) issue(splitField(where(t.field)), t.message)

  let when: CompiledCondition | undefined
  if (task.when !== undefined) {
    try {
      when = compileCondition(task.when)
      for (const ref of when.taskRefs) addDep(ref, () => ['when'], 'condition reference to task')
    } catch (err) {
      issue(['when'], err instanceof Error ? err.message : String(err))
    }
  }

  let staticInput: { value: unknown } | undefined
  if (tool !== undefined && input.isStatic && forEach === undefined) {
    if (rawInput === undefined) {
      const empty = cache.emptyInput(tool)
      if (empty !== false) staticInput = empty
      else reportInputIssues(tool, {}, issue, task.agent !== undefined)
    } else {
      const checked = tool.input.safeParse(rawInput)
      if (checked.success) staticInput = { value: checked.data }
      else reportInputIssues(tool, rawInput, issue, task.agent !== undefined)
    }
  }

  const timeout = task.timeout ?? defaults?.timeout
  return {
    index,
    id: task.id,
    toolName: toolName ?? '',
    tool: tool as AnyTool,
    input,
    staticInput,
    when,
    forEach,
    trigger: task.trigger ?? 'all_succeeded',
    priority: task.priority ?? 0,
    group: task.group ?? defaults?.group,
    cost: task.cost ?? tool?.cost,
    retry: task.retry === undefined ? cache.defaultRetry : resolveRetry(defaults?.retry, task.retry),
    timeoutMs: timeout === undefined ? undefined : parseDuration(timeout),
    parents: deps ?? NO_TASKS,
    children: NO_TASKS,
  }
}

/** Shared by tasks that cannot have template issues; frozen, so a wrong push would throw at once. */
const NO_ISSUES: TemplateIssue[] = Object.freeze([]) as unknown as TemplateIssue[]

const EMPTY_INPUT: CompiledValue = Object.freeze({ isStatic: true, refs: [], resolve: () => ({}) })

function reportInputIssues(tool: AnyTool, input: unknown, issue: TaskCompileContext['issue'], isAgent = false): void {
  const checked = tool.input.safeParse(input)
  if (checked.success) return
  for (const zi of checked.error.issues) {
    const path = zi.path.filter((p): p is string | number => typeof p !== 'symbol')
    // For an agent task, the tool's `input.x` is the task's `input.x` and the tool's `session` its `session`.
    const at = isAgent ? path : ['input', ...path]
    issue(at, `input rejected by ${isAgent ? `agent "${tool.name.slice('agent.'.length)}"` : `tool "${tool.name}"`}: ${zi.message}`)
  }
}

/** Fills a retry policy from task, then workflow defaults, then built-in defaults. */
export function resolveRetry(defaults: RetrySpec | undefined, own: RetrySpec | undefined): ResolvedRetry {
  const merged = { ...defaults, ...own }
  return {
    maxAttempts: merged.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
    initialDelayMs: parseDuration(merged.initialDelay) ?? DEFAULT_RETRY.initialDelayMs,
    factor: merged.factor ?? DEFAULT_RETRY.factor,
    maxDelayMs: parseDuration(merged.maxDelay) ?? DEFAULT_RETRY.maxDelayMs,
    jitter: merged.jitter ?? DEFAULT_RETRY.jitter,
    retryOn: merged.retryOn,
  }
}

/** Checks run inputs against the declared ones: fills defaults, rejects missing, mistyped and undeclared inputs. */
export function resolveInputs(workflow: CompiledWorkflow, given: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const issues: ValidationIssue[] = []
  const out = Object.create(null) as Record<string, unknown>
  const declared = workflow.inputs
  const file = workflow.file !== undefined ? { file: workflow.file } : {}
  for (const [name, value] of Object.entries(given)) {
    if (Object.keys(declared).length > 0 && !Object.hasOwn(declared, name)) issues.push({ ...file, field: `inputs.${name}`, message: `"${name}" is not a declared input (declared: ${Object.keys(declared).join(', ')})` })
    else out[name] = value
  }
  for (const [name, input] of Object.entries(declared)) {
    let value = out[name]
    if (value === undefined) {
      if (input.default !== undefined) value = input.default
      else if (input.required) {
        issues.push({ ...file, field: `inputs.${name}`, message: `required input "${name}" is missing` })
        continue
      } else continue
    }
    const coerced = coerce(value, input.type)
    if (coerced === undefined) issues.push({ ...file, field: `inputs.${name}`, message: `input "${name}" must be a ${input.type}; received ${JSON.stringify(value)}` })
    else out[name] = coerced
  }
  if (issues.length > 0) throw new ValidationError(issues)
  return out
}

// CLI inputs arrive as text; a declared type turns them into the value the workflow expects.
function coerce(value: unknown, type: CompiledInput['type']): unknown {
  switch (type) {
    case 'string':
      return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined
    case 'number': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
      return typeof n === 'number' && Number.isFinite(n) ? n : undefined
    }
    case 'boolean':
      if (typeof value === 'boolean') return value
      return value === 'true' ? true : value === 'false' ? false : undefined
    case 'object':
    case 'array': {
      let v = value
      if (typeof v === 'string') {
        try {
          v = JSON.parse(v)
        } catch {
          return undefined
        }
      }
      if (type === 'array') return Array.isArray(v) ? v : undefined
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined
    }
  }
}

function formatPath(path: readonly (string | number)[]): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`
  return out
}

// "input.items[0].url" → ['input', 'items', 0, 'url'] so the file locator can find its line.
function splitField(field: string): (string | number)[] {
  const out: (string | number)[] = []
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string))
  return out
}

function taskIdAt(definition: unknown, path: readonly (string | number)[]): string | undefined {
  if (path[0] !== 'tasks' || typeof path[1] !== 'number') return undefined
  const tasks = (definition as { tasks?: unknown }).tasks
  if (!Array.isArray(tasks)) return undefined
  const id = (tasks[path[1]] as { id?: unknown } | undefined)?.id
  return typeof id === 'string' ? id : undefined
}


