/**
 * Compiling one task: its tool, templates, condition, fan-out, options and dependencies. The
 * result is split in two: the task's dependencies (indices, which go into the workflow's graph)
 * and its {@link TaskShape} (everything else). Tasks that differ only in id and dependencies (the
 * bulk of a large generated workflow) share one shape object.
 * @module
 */
import { freezeDeep } from '../core/freeze.js'
import { describeThrown } from '../core/thrown.js'
import { parseDuration } from '../core/duration.js'
import type { AnyTool } from '../core/tool.js'
import type { ToolRegistry } from '../core/registry.js'
import type { ResolvedRetry, RetrySpec, TaskSpec, TriggerRule, WorkflowSpec } from './types.js'
import { compileValue } from './value-template.js'
import type { CompiledValue, TemplateIssue } from './value-template.js'
import { compileCondition } from './expression.js'
import type { CompiledCondition } from './expression.js'

/**
 * What a task does and under which options, resolved to plain values (durations in ms). Every
 * field is present (possibly `undefined`) so all shapes share one object layout.
 */
export interface TaskShape {
  readonly toolName: string
  readonly tool: AnyTool
  readonly input: CompiledValue
  /** The tool-validated input, when the input holds no template (validated once, at compile time). */
  readonly staticInput: { readonly value: unknown } | undefined
  readonly when: CompiledCondition | undefined
  readonly forEach: CompiledValue | undefined
  readonly trigger: TriggerRule
  readonly priority: number
  readonly group: string | undefined
  readonly cost: number | undefined
  readonly retry: ResolvedRetry
  readonly timeoutMs: number | undefined
  /** The task's own rate key (`rateKey`); the tool's applies when this is undefined. */
  readonly rateKey: string | undefined
}

/** The input of a task without one, for a tool whose schema is a bare empty object (shared: frozen). */
const EMPTY_OBJECT_INPUT: { readonly value: unknown } = Object.freeze({ value: Object.freeze({}) })

/**
 * True when `schema` is zod's `z.object({})` with nothing added: its definition holds exactly a
 * type `object` and a shape without keys (no refinement, catch-all, transform or default, which
 * would add fields or wrap it). Parsing `{}` with it gives `{}`. Anything else: false.
 */
function isEmptyObjectSchema(schema: unknown): boolean {
  const def = (schema as { readonly def?: unknown } | null)?.def
  if (typeof def !== 'object' || def === null) return false
  let fields = 0
  for (const key in def) {
    if (key !== 'type' && key !== 'shape') return false
    fields++
  }
  const { type, shape } = def as { readonly type?: unknown; readonly shape?: unknown }
  if (fields !== 2 || type !== 'object' || typeof shape !== 'object' || shape === null) return false
  for (const key in shape) if (Object.hasOwn(shape, key)) return false
  return Object.getOwnPropertySymbols(shape).length === 0
}

const DEFAULT_RETRY: ResolvedRetry = { maxAttempts: 1, initialDelayMs: 200, factor: 2, maxDelayMs: 30_000, jitter: 'full', retryOn: undefined }

/**
 * Work shared by the tasks of one workflow: the default retry policy, the validated empty input of
 * each tool, and the shapes of tasks that name only a tool (and perhaps priority, group, cost).
 */
export class TaskCompileCache {
  readonly defaultRetry: ResolvedRetry
  readonly #emptyInputs = new Map<AnyTool, { readonly value: unknown } | false>()
  /** Shapes of tasks with nothing but a tool, by tool name. */
  readonly #toolOnly = new Map<string, TaskShape>()
  /** Shapes of tasks with a tool and some of priority, group and cost, by all four. */
  readonly #plain = new Map<string, TaskShape>()
  /** The last tool-only shape handed out, by tool name: consecutive tasks mostly share it. */
  #lastName: string | undefined
  #lastShape: TaskShape | undefined

  /** The workflow's default timeout in ms (undefined: none). */
  readonly #defaultTimeoutMs: number | undefined

  constructor(readonly defaults: WorkflowSpec['defaults'] | undefined) {
    this.defaultRetry = resolveRetry(defaults?.retry, undefined)
    this.#defaultTimeoutMs = defaultTimeoutMs(defaults)
  }

  /** The tool-validated form of an absent input, or false when the tool rejects it. */
  emptyInput(tool: AnyTool): { readonly value: unknown } | false {
    let entry = this.#emptyInputs.get(tool)
    if (entry === undefined && isEmptyObjectSchema(tool.input)) {
      // `z.object({})` and nothing more gives `{}` for `{}`: no parse, so a run of such tools in
      // a fresh process never pays zod's first parse (0.5–1 ms).
      entry = EMPTY_OBJECT_INPUT
      this.#emptyInputs.set(tool, entry)
    }
    if (entry === undefined) {
      // Checked once per tool and compile: zod's compiled fast path (code generated and compiled
      // on a schema's first parse) would cost more than this one check, in a fresh process.
      const checked = tool.input.safeParse({}, { jitless: true })
      // Shared by every task of this tool: frozen, so one task cannot change another's input.
      entry = checked.success ? { value: typeof checked.data === 'object' && checked.data !== null ? Object.freeze(checked.data) : checked.data } : false
      this.#emptyInputs.set(tool, entry)
    }
    return entry
  }

  /**
   * The shared shape of a task made of a tool name and perhaps priority, group and cost; undefined
   * when the tool is unknown or rejects an empty input (the full compile then reports why).
   */
  bareShape(registry: ToolRegistry, toolName: string, priority: number | undefined, group: string | undefined, cost: number | undefined): TaskShape | undefined {
    const simple = priority === undefined && group === undefined && cost === undefined
    if (simple && toolName === this.#lastName) return this.#lastShape
    const tool = registry.get(toolName)
    if (tool === undefined) return undefined
    const empty = this.emptyInput(tool)
    if (empty === false) return undefined
    const shape = this.plainShape(tool, empty, priority, group, cost)
    if (simple) {
      this.#lastName = toolName
      this.#lastShape = shape
    }
    return shape
  }

  /** The shared shape of a task that names only these (its tool accepts an empty input). */
  plainShape(tool: AnyTool, staticInput: { readonly value: unknown }, priority: number | undefined, group: string | undefined, cost: number | undefined): TaskShape {
    const simple = priority === undefined && group === undefined && cost === undefined
    const key = simple ? tool.name : `${tool.name}\u0000${priority ?? ''}\u0000${group ?? ''}\u0000${cost ?? ''}`
    const cache = simple ? this.#toolOnly : this.#plain
    let shape = cache.get(key)
    if (shape === undefined || shape.tool !== tool) {
      shape = this.inputShape(tool, EMPTY_INPUT, staticInput, priority, group, cost)
      cache.set(key, shape)
    }
    return shape
  }

  /** The shape of a task that names a tool, a static input and perhaps priority, group and cost (the workflow's defaults for the rest). */
  inputShape(tool: AnyTool, input: CompiledValue, staticInput: { readonly value: unknown }, priority: number | undefined, group: string | undefined, cost: number | undefined): TaskShape {
    return makeShape(tool.name, tool, input, staticInput, undefined, undefined, 'all_succeeded', priority ?? 0, group ?? this.defaults?.group, cost ?? tool.cost, this.defaultRetry, this.#defaultTimeoutMs)
  }
}

/** What {@link compileTaskSpec} needs to know about the workflow around the task. */
export interface TaskCompileContext {
  readonly registry: ToolRegistry
  /** Index of a task id in the workflow, or undefined when there is no such task. */
  readonly indexOf: (id: string) => number | undefined
  /** The task id closest to a mistyped one, for the hint in its error (made only then). */
  readonly nearId?: (id: string) => string | undefined
  readonly declaredInputs?: Readonly<Record<string, unknown>> | undefined
  readonly defaults?: WorkflowSpec['defaults'] | undefined
  /** Records a problem at a path relative to the task. */
  issue: (path: (string | number)[], message: string) => void
  /** Work shared across the tasks of one workflow. */
  readonly cache?: TaskCompileCache
  /** Receives the task's dependencies (cleared first): explicit `dependsOn` plus references. */
  readonly deps: number[]
}

/**
 * Compiles one schema-valid task: resolves its tool, compiles templates and its condition, gathers
 * its dependencies (into `ctx.deps`) and validates a static input. Shared by whole-workflow
 * compilation and tasks added while a run is going.
 */
export function compileTaskSpec(task: TaskSpec, index: number, ctx: TaskCompileContext): TaskShape {
  const { issue, deps } = ctx
  if (deps.length > 0) deps.length = 0
  const cache = ctx.cache ?? new TaskCompileCache(ctx.defaults)
  const defaults = ctx.defaults
  const dependsOn = task.dependsOn
  if (dependsOn !== undefined) {
    for (let k = 0; k < dependsOn.length; k++) {
      const id = dependsOn[k] as string
      const dep = ctx.indexOf(id)
      // The common case, inlined: no closure per dependency unless one is wrong.
      if (dep !== undefined && dep !== index) {
        if (!deps.includes(dep)) deps.push(dep)
      } else addDependency(ctx, index, id, () => ['dependsOn', k], 'dependency')
    }
  }

  let tool: AnyTool | undefined
  // An agent task runs the tool `agent.<name>` with `{ session, input }` (see agents/agent-tool.ts).
  const toolName = task.agent !== undefined ? `agent.${task.agent}` : task.tool
  // A session means something to an agent task only: on a tool task it would be ignored in silence.
  if (task.session !== undefined && task.agent === undefined) issue(['session'], 'session applies to agent tasks (agent: <name>) only; a tool task has none (an agent tool called as a tool takes it in its input)')
  if (task.stream !== undefined && task.agent === undefined) issue(['stream'], 'stream applies to agent tasks (agent: <name>) only; a tool task reports progress through ctx.progress()')
  if (task.agent !== undefined && task.tool !== undefined) issue([], 'a task names either a tool or an agent, not both')
  else if (toolName === undefined) issue([], 'a task needs a tool (or an agent)')
  else {
    tool = ctx.registry.get(toolName)
    if (tool === undefined) {
      const kind = task.agent !== undefined ? 'agent' : 'tool'
      issue([kind], unknownToolMessage(ctx.registry, kind, (task.agent ?? task.tool) as string))
    }
  }

  // The bulk of a large workflow: a tool and options, nothing to compile. One shared shape.
  if (tool !== undefined && task.agent === undefined && task.input === undefined && task.when === undefined && task.forEach === undefined && task.retry === undefined && task.timeout === undefined && task.trigger === undefined && task.rateKey === undefined) {
    const empty = cache.emptyInput(tool)
    if (empty !== false) return cache.plainShape(tool, empty, task.priority, task.group, task.cost)
  }

  // Most tasks of a big workflow have no input, condition or fan-out: no issue list for them.
  const templateIssues: TemplateIssue[] = task.input === undefined && task.forEach === undefined && task.agent === undefined ? NO_ISSUES : []
  const rawInput = pinTemplated(task.agent !== undefined ? { input: task.input ?? {}, ...(task.session !== undefined ? { session: task.session } : {}), ...(task.stream === true ? { stream: true } : {}) } : task.input)
  const input = rawInput === undefined ? EMPTY_INPUT : compileValue(rawInput, 'input', templateIssues)
  for (const { field, ref } of input.refs) {
    if (ref.root === 'tasks') addDependency(ctx, index, ref.path[0] as string, () => splitField(field), 'template reference to task')
    if ((ref.root === 'item' || ref.root === 'index') && task.forEach === undefined) {
      templateIssues.push({ field, message: `{{ ${ref.expression} }} is only available in a forEach task` })
    }
    if (ref.root === 'inputs' && typeof ref.path[0] === 'string' && ctx.declaredInputs !== undefined && !Object.hasOwn(ctx.declaredInputs, ref.path[0])) {
      templateIssues.push({ field, message: `{{ ${ref.expression} }}: "${ref.path[0]}" is not a declared input` })
    }
  }
  let forEach: CompiledValue | undefined
  if (task.forEach !== undefined) {
    // Compiled without the whitespace around it (a YAML folded scalar ends in a line feed): the
    // whole reference is then the value itself, a list, not a text with the list written in it.
    const text = task.forEach.trim()
    forEach = compileValue(text, 'forEach', templateIssues)
    if (forEach.isStatic || forEach.refs.length !== 1 || !text.startsWith('{{') || !text.endsWith('}}')) {
      templateIssues.push({ field: 'forEach', message: 'forEach must be one whole reference to a list, e.g. "{{ tasks.list.output.items }}"' })
    }
    for (const { ref } of forEach.refs) {
      if (ref.root === 'item' || ref.root === 'index') templateIssues.push({ field: 'forEach', message: `forEach cannot read {{ ${ref.expression} }}: the items do not exist yet; name a task's output or an input` })
    }
    for (const { ref } of forEach.refs) if (ref.root === 'tasks') addDependency(ctx, index, ref.path[0] as string, () => ['forEach'], 'forEach reference to task')
  }
  // An agent task's input sits under `input.input` of the agent tool; report it where the user wrote it.
  const where = task.agent === undefined ? (field: string) => field : (field: string) => field.replace(/^input\.input\b/, 'input').replace(/^input\.session\b/, 'session')
  for (const t of templateIssues) issue(splitField(where(t.field)), t.message)

  let when: CompiledCondition | undefined
  if (task.when !== undefined) {
    try {
      when = compileCondition(task.when)
      for (const ref of when.taskRefs) addDependency(ctx, index, ref, () => ['when'], 'condition reference to task')
      // As for templates: a condition reading an input the workflow does not declare is a typo.
      const declared = ctx.declaredInputs
      if (declared !== undefined) for (const name of when.inputRefs) if (!Object.hasOwn(declared, name)) issue(['when'], `condition reads inputs.${name}, which is not a declared input (declared: ${Object.keys(declared).join(', ') || 'none'})`)
    } catch (err) {
      issue(['when'], describeThrown(err))
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
  } else if (tool !== undefined && forEach === undefined && task.agent === undefined) {
    // The fields written as they are can be wrong already (`count: "x"` beside a template): said
    // now, with the rest of the file's problems, not at the first attempt.
    reportPlainFieldIssues(tool, rawInput, issue)
  }

  const timeout = task.timeout ?? defaults?.timeout
  return makeShape(
    toolName ?? '',
    tool as AnyTool,
    input,
    staticInput,
    when,
    forEach,
    task.trigger ?? 'all_succeeded',
    task.priority ?? 0,
    task.group ?? defaults?.group,
    task.cost ?? tool?.cost,
    task.retry === undefined ? cache.defaultRetry : resolveRetry(defaults?.retry, task.retry),
    timeout === undefined ? undefined : parseDuration(timeout),
    task.rateKey,
  )
}

/** The one place shapes are made, so every shape has the same fields in the same order. */
function makeShape(
  toolName: string,
  tool: AnyTool,
  input: CompiledValue,
  staticInput: { readonly value: unknown } | undefined,
  when: CompiledCondition | undefined,
  forEach: CompiledValue | undefined,
  trigger: TriggerRule,
  priority: number,
  group: string | undefined,
  cost: number | undefined,
  retry: ResolvedRetry,
  timeoutMs: number | undefined,
  rateKey: string | undefined = undefined,
): TaskShape {
  return { toolName, tool, input, staticInput, when, forEach, trigger, priority, group, cost, retry, timeoutMs, rateKey }
}

/** A fan-out item's shape: its owner's, without the fan-out. */
export function itemShape(owner: TaskShape): TaskShape {
  return makeShape(owner.toolName, owner.tool, owner.input, owner.staticInput, owner.when, undefined, owner.trigger, owner.priority, owner.group, owner.cost, owner.retry, owner.timeoutMs, owner.rateKey)
}

function defaultTimeoutMs(defaults: WorkflowSpec['defaults'] | undefined): number | undefined {
  return defaults?.timeout === undefined ? undefined : parseDuration(defaults.timeout)
}

/** Records a dependency found by a reference (or a wrong `dependsOn` entry), or the problem with it. */
function addDependency(ctx: TaskCompileContext, index: number, id: string, path: () => (string | number)[], what: string): void {
  const dep = ctx.indexOf(id)
  if (dep === undefined) {
    const near = ctx.nearId?.(id)
    ctx.issue(path(), `${what} "${id}" is not a task of this workflow${near !== undefined ? ` (did you mean "${near}"?)` : ''}`)
  }
  else if (dep === index) ctx.issue(path(), 'task depends on itself')
  else if (!ctx.deps.includes(dep)) ctx.deps.push(dep)
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

// "input.items[0].url" → ['input', 'items', 0, 'url'] so the file locator can find its line.
function splitField(field: string): (string | number)[] {
  const out: (string | number)[] = []
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string))
  return out
}

/**
 * A copy of an input that holds a template, deep-frozen: the template's static parts are handed
 * to every attempt as they are, so they must not be the caller's objects (changed afterwards, they
 * would change what runs, and the compiled definition the compile cache hands out again) nor be
 * changed by a tool. An input without a template is copied when its tool's schema checks it.
 */
function pinTemplated(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input
  let text: string
  try {
    text = JSON.stringify(input)
  } catch {
    return input // not plain data: the schema check reports it
  }
  return text.includes('{{') ? freezeDeep(JSON.parse(text) as unknown) : input
}

/**
 * Reports what an object schema refuses among the fields of a templated input written without a
 * template, each checked by its own field schema: a field with a template waits for the run, and
 * the schema's checks of the whole object (which would see template text) run only then too.
 */
function reportPlainFieldIssues(tool: AnyTool, input: unknown, issue: TaskCompileContext['issue']): void {
  const shape = (tool.input as { readonly shape?: unknown }).shape
  if (typeof shape !== 'object' || shape === null || typeof input !== 'object' || input === null || Array.isArray(input)) return
  for (const [key, field] of Object.entries(shape as Record<string, { safeParse?: (value: unknown) => { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } } }>)) {
    const value = (input as Record<string, unknown>)[key]
    if (typeof field?.safeParse !== 'function' || holdsTemplate(value)) continue
    const checked = field.safeParse(value)
    if (checked.success) continue
    for (const zi of checked.error?.issues ?? []) {
      const path = zi.path.filter((p): p is string | number => typeof p !== 'symbol')
      issue(['input', key, ...path], `input rejected by tool "${tool.name}": ${zi.message}`)
    }
  }
}

/** Whether `value` is or holds a template. */
function holdsTemplate(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{')
  if (typeof value !== 'object' || value === null) return false
  for (const inner of Object.values(value)) if (holdsTemplate(inner)) return true
  return false
}

/** The problem of a task naming a tool (or an agent) the registry lacks, with the close names it has. */
export function unknownToolMessage(registry: ToolRegistry, kind: 'tool' | 'agent', name: string): string {
  const close = registry.suggest(kind === 'agent' ? `agent.${name}` : name).filter((known) => (kind === 'agent') === known.startsWith('agent.'))
  const shown = kind === 'agent' ? close.map((known) => known.slice('agent.'.length)) : close
  return `unknown ${kind} "${name}"${shown.length > 0 ? `; did you mean ${shown.map((c) => `"${c}"`).join(', ')}?` : ''}`
}
