/**
 * Validation and compilation of a workflow, before anything runs. Every problem is collected (not
 * just the first) and pinned to file, task id, field and, for files, line and column: schema
 * errors, duplicate ids, unknown dependencies and tools, cycles (with their path), malformed
 * templates and conditions, and static inputs that fail their tool's schema.
 * @module
 */
import { canonicalJson } from '../core/canonical-json.js'
import { freezeDeep } from '../core/freeze.js'
import { describeThrown } from '../core/thrown.js'
import { ValidationError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'
import type { ToolRegistry } from '../core/registry.js'
import { formatBytes } from '../core/bytes.js'
import { resolveRateTable, type RateKeyLimits } from '../core/rate-spec.js'
import type { RunBudgetSpec } from '../core/rate.js'
import { ID_PATTERN, RESERVED_IDS, workflowSchemas } from './schema.js'
import type { WorkflowSchemas } from './schema.js'
import { plainShell } from './plain-shell.js'
import type { TaskSpec, WorkflowSpec } from './types.js'
import { findCycle, topologicalOrder } from './dag.js'
import { NOT_PLAIN, PLAIN_BARE, PLAIN_WITH_INPUT, plainTaskKind } from './fast-task-check.js'
import { compileFlatTask, FlatInput, flatTaskText } from './flat-task.js'
import type { FlatTaskCandidate, FlatTaskExtras } from './flat-task.js'
import { compileTaskSpec, TaskCompileCache, unknownToolMessage } from './compile-task.js'
import type { TaskCompileContext, TaskShape } from './compile-task.js'
import { childrenOf, parentsOf, TaskGraphBuilder } from './task-graph.js'
import type { TaskGraph } from './task-graph.js'
import { IdIndex, SMALL_INDEX } from './id-index.js'
import { firstInexactInteger, inexactIntegerMessage } from './exact-integers.js'
import { keyHint, notAWorkflow } from './not-a-workflow.js'
import { closestName } from '../core/closest.js'
import type * as Crypto from 'node:crypto'
import type { z } from 'zod'

/** A checked workflow shell: what compiling reads of the definition besides its tasks. */
type WorkflowShell = Omit<z.output<WorkflowSchemas['workflowShell']>, 'tasks'>

// node:crypto loads when the hash or the snapshot is first read, not with this module: checking a
// workflow needs neither, and loading it is a noticeable part of `taskweave validate`'s start-up.
const crypto = (): typeof Crypto => process.getBuiltinModule('node:crypto')

export { compileTaskSpec, itemShape, resolveRetry, TaskCompileCache } from './compile-task.js'
export type { TaskCompileContext, TaskShape } from './compile-task.js'
export type { TaskGraph } from './task-graph.js'

/**
 * A task as a plain object: its shape plus its place in the graph. The engine reads the workflow's
 * arrays directly; this view is for tools, tests and the CLI (`CompiledWorkflow.tasks`).
 */
export interface CompiledTask extends TaskShape {
  readonly index: number
  readonly id: string
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
  /** SHA-256 of {@link snapshot}: the same for the same definition, whatever its key order. */
  readonly hash: string
  /**
   * The definition as compiled, as canonical JSON (keys sorted). Pinned when the workflow is
   * compiled: changing the caller's object afterwards changes neither this nor the runs.
   */
  readonly snapshot: string
  /** Number of tasks. */
  readonly size: number
  /** Task ids by index. */
  readonly ids: readonly string[]
  /** What each task does, by index (tasks that differ only in id and dependencies share one). */
  readonly shapes: readonly TaskShape[]
  /** Dependencies by index. */
  readonly graph: TaskGraph
  /** Every task as an object (made on first read). */
  readonly tasks: readonly CompiledTask[]
  /** Task indices in a topological order (parents before children), made on first read. */
  readonly order: readonly number[]
  /** The same order as a typed array (what the engine reads). */
  readonly topoOrder: Int32Array
  /** Task id → index. */
  readonly indexById: ReadonlyMap<string, number>
  readonly inputs: Readonly<Record<string, CompiledInput>>
  readonly concurrency?: number
  readonly groups: Readonly<Record<string, number>>
  /** Budgets per rate key (`limits.rates`), resolved. */
  readonly rates: ReadonlyMap<string, RateKeyLimits>
  /** What one run may spend on LLM calls (`budget`). */
  readonly budget: RunBudgetSpec | undefined
  readonly failFast: boolean
  /** The workflow's `defaults` (retry, timeout, group), as compiled: what tasks added at run time get too. */
  readonly defaults: WorkflowSpec['defaults']
  /** The definition as compiled (plain data, deep-frozen; a copy, not the caller's object). */
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

  const notWorkflow = notAWorkflow(definition)
  if (notWorkflow !== undefined) {
    issue([], notWorkflow)
    throw new ValidationError(issues)
  }
  // A parser drops such keys of a record before its key schema sees them: look at the raw maps.
  for (const [path, map] of [
    [['limits', 'groups'], (definition as { limits?: { groups?: unknown } }).limits?.groups],
    [['inputs'], (definition as { inputs?: unknown }).inputs],
  ] as const) {
    if (typeof map !== 'object' || map === null) continue
    for (const name of RESERVED_IDS) if (Object.hasOwn(map, name)) issue([...path, name], `"${name}" cannot be a name here: use another (it is reserved by JavaScript objects)`)
  }
  // The common shell is checked by hand; the schema checks (and words) everything else.
  const plain = plainShell(definition)
  const parsed: { success: true; data: WorkflowShell } | ReturnType<WorkflowSchemas['workflowShell']['safeParse']> = plain !== undefined ? { success: true, data: plain } : workflowSchemas().workflowShell.safeParse(definition)
  if (!parsed.success) reportShellIssues(parsed.error.issues, definition, issue)
  const rawTasks = (definition as { tasks?: unknown }).tasks
  if (!Array.isArray(rawTasks)) throw new ValidationError(issues)
  // A mistake in the workflow's own fields does not hide those of its tasks: they are checked too
  // (without the declared inputs and defaults, which the shell's mistake may concern).
  const spec: WorkflowShell = parsed.success ? parsed.data : ({ id: '', tasks: rawTasks } as unknown as WorkflowShell)
  const tasks = rawTasks as TaskSpec[]
  const index = indexTasks(tasks, (path, message, taskId) => issue(['tasks', ...path], message, taskId ?? taskIdAt(definition, ['tasks', ...path])))
  const { shapes, graph, pinned } = compileTasks(tasks, index, spec, options.registry, (at, path, message) => issue(['tasks', at, ...path], message, tasks[at]?.id))
  const { ids, indexById } = index
  // The cycle check runs even when other problems were found: every problem is reported at once
  // (dependencies that did not resolve are simply not in the graph).
  const built = graph.finish()
  // Kahn's order doubles as the cycle check: a task left out of it sits on (or behind) a cycle,
  // and only then is the slower search for the cycle's path run.
  const order = topologicalOrder(built)
  if (order.length < tasks.length) reportCycle(built, tasks, issue)
  // The definition is pinned now: whatever the caller does to its object afterwards, the runs of
  // this compiled workflow, their added tasks' defaults and its hash see this version. Bare tasks
  // are pinned by what compiling them kept (ids, graph, hints); the rest, and the workflow's own
  // fields, as JSON text — so a 100,000-task workflow of bare tasks pays almost nothing here.
  let shellText = ''
  try {
    shellText = JSON.stringify({ ...(definition as object), tasks: undefined })
  } catch (err) {
    issue([], `the definition is not plain data: ${describeThrown(err)}`)
  }
  // A default is checked now, not only by the first run that falls back on it: `validate` then
  // reports it, with its line.
  if (spec.inputs !== undefined) checkInputDefaults(spec.inputs, issue)
  if (issues.length > 0) throw new ValidationError(issues)
  const inputs = spec.inputs === undefined ? {} : compiledInputs(spec.inputs)
  return compiledWorkflowOf(
    {
      id: spec.id,
      version: spec.version,
      name: spec.name,
      file: options.file,
      size: tasks.length,
      ids,
      shapes,
      graph: built,
      topoOrder: order,
      indexById,
      inputs,
      concurrency: spec.limits?.concurrency,
      groups: spec.limits?.groups ?? {},
      rates: resolveRateTable('limits.rates', spec.limits?.rates),
      budget: spec.budget,
      failFast: spec.failFast ?? false,
      defaults: spec.defaults === undefined ? undefined : freezeDeep(spec.defaults),
    },
    shellText,
    pinned,
  )
}

/** Where {@link compileWorkflow} records a problem. */
type IssueSink = (path: readonly (string | number)[], message: string, taskId?: string) => void

// The helpers below hold what a valid workflow never runs: apart from compileWorkflow, a fresh
// process does not compile them for its first workflow (V8 compiles a function on its first call).

/** The shell schema's problems, one per key where the schema gives one for several. */
function reportShellIssues(zodIssues: readonly z.core.$ZodIssue[], definition: unknown, issue: IssueSink): void {
  for (const zodIssue of zodIssues) {
    const path = zodIssue.path.filter((p): p is string | number => typeof p !== 'symbol')
    for (const one of perKey(path, zodIssue, shellKeysAt(path))) issue(one.path, one.message, taskIdAt(definition, path))
  }
}

/** The path of a cycle among `tasks`, found once Kahn's order left some out. */
function reportCycle(graph: TaskGraph, tasks: readonly TaskSpec[], issue: IssueSink): void {
  const cycle = findCycle(graph)
  if (!cycle) return
  const first = cycle[0] as number
  issue(['tasks', first], `dependency cycle: ${cycle.map((n) => tasks[n]?.id).join(' → ')}`, tasks[first]?.id)
}

/** Checks every declared input's default against its type. */
function checkInputDefaults(declaredInputs: NonNullable<WorkflowShell['inputs']>, issue: IssueSink): void {
  for (const [name, declared] of Object.entries(declaredInputs)) {
    const value: unknown = declared.default
    if (value === undefined) continue
    if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
      issue(['inputs', name, 'default'], `the default of input "${name}" is an integer beyond what a number holds exactly (±2^53): it may have been rounded already; write it as a string and declare the input type: string`)
    } else if (coerce(value, declared.type) === undefined) {
      issue(['inputs', name, 'default'], `the default of input "${name}" must be ${typeWithArticle(declared.type)}; received ${shown(value)}`)
    }
  }
}

/** The declared inputs as a compiled workflow holds them. */
function compiledInputs(declaredInputs: NonNullable<WorkflowShell['inputs']>): Record<string, CompiledInput> {
  const inputs: Record<string, CompiledInput> = {}
  for (const [name, declared] of Object.entries(declaredInputs)) {
    inputs[name] = {
      type: declared.type,
      required: declared.required ?? declared.default === undefined,
      ...(declared.default !== undefined ? { default: declared.default } : {}),
      ...(declared.description !== undefined ? { description: declared.description } : {}),
    }
  }
  return inputs
}

/** What {@link compiledWorkflowOf} puts in a compiled workflow as it is. @internal */
export interface CompiledParts {
  readonly id: string
  readonly version: string | number | undefined
  readonly name: string | undefined
  readonly file: string | undefined
  readonly size: number
  readonly ids: string[]
  readonly shapes: TaskShape[]
  readonly graph: TaskGraph
  readonly topoOrder: Int32Array
  readonly indexById: IdIndex
  readonly inputs: Readonly<Record<string, CompiledInput>>
  readonly concurrency: number | undefined
  readonly groups: Readonly<Record<string, number>>
  readonly rates: ReadonlyMap<string, RateKeyLimits>
  readonly budget: RunBudgetSpec | undefined
  readonly failFast: boolean
  readonly defaults: WorkflowSpec['defaults']
}

/**
 * The compiled workflow object, made apart from {@link compileWorkflow} on purpose: the closures
 * of its getters share the scope of the function that makes them, and in `compileWorkflow` that
 * scope holds the caller's definition (its issue reporters read it). Made there, a compiled
 * workflow kept every task object of the definition alive for as long as it lived: for a run,
 * a young-generation collection copied the whole definition again. Also what `flat-calls.ts`
 * assembles its workflows with. @internal
 */
export function compiledWorkflowOf(parts: CompiledParts, shellText: string, pinned: PinnedTasks): CompiledWorkflow {
  const { ids, shapes, graph: built, topoOrder: order } = parts
  let hash: string | undefined
  let snapshot: string | undefined
  let pinnedSpec: WorkflowSpec | undefined
  let views: CompiledTask[] | undefined
  let orderView: number[] | undefined
  return {
    [COMPILED]: true,
    [KNOWN_HASH]: () => hash,
    id: parts.id,
    ...(parts.version !== undefined ? { version: parts.version } : {}),
    ...(parts.name !== undefined ? { name: parts.name } : {}),
    ...(parts.file !== undefined ? { file: parts.file } : {}),
    // Canonical text and hash are derived from the pinned text on first read: a 100,000-task
    // definition costs tens of ms to canonicalise, which only runs that need it pay.
    get snapshot() {
      return (snapshot ??= pinnedSnapshot(shellText, ids, shapes, built, pinned))
    },
    get hash() {
      return (hash ??= crypto().createHash('sha256').update(this.snapshot).digest('hex'))
    },
    size: parts.size,
    ids,
    shapes,
    graph: built,
    get tasks() {
      return (views ??= ids.map((id, index) => taskView(shapes[index] as TaskShape, index, id, built)))
    },
    get order() {
      return (orderView ??= Array.from(order))
    },
    topoOrder: order,
    indexById: parts.indexById,
    inputs: parts.inputs,
    ...(parts.concurrency !== undefined ? { concurrency: parts.concurrency } : {}),
    groups: parts.groups,
    rates: parts.rates,
    budget: parts.budget,
    failFast: parts.failFast,
    defaults: parts.defaults,
    get spec() {
      return (pinnedSpec ??= freezeDeep(JSON.parse(this.snapshot) as WorkflowSpec))
    },
  } as CompiledWorkflow
}

/** Task `index` as a plain object (a flat task's shared input/static-input object shown as the `{ value }` every static input is). */
function taskView(shape: TaskShape, index: number, id: string, graph: TaskGraph): CompiledTask {
  const staticInput = shape.staticInput instanceof FlatInput ? { value: shape.staticInput.value } : shape.staticInput
  return { ...shape, staticInput, index, id, parents: parentsOf(graph, index), children: childrenOf(graph, index) }
}

/** Marks objects made by {@link compileWorkflow}. */
const COMPILED = Symbol.for('taskweave.compiledWorkflow')

/** Reads a compiled workflow's hash without computing it. */
const KNOWN_HASH = Symbol('taskweave.knownHash')

/**
 * The hash of `workflow` when it was computed already (by an earlier read of `hash`), else
 * undefined: for code that can use it at once but must not pay for it (canonical text and
 * SHA-256 of a definition) when nobody asked.
 */
export function knownHash(workflow: CompiledWorkflow): string | undefined {
  return (workflow as unknown as { [KNOWN_HASH]?: () => string | undefined })[KNOWN_HASH]?.()
}

/** True when `value` was made by {@link compileWorkflow}. */
export function isCompiledWorkflow(value: unknown): value is CompiledWorkflow {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[COMPILED] === true
}

/**
 * A schema issue as reported: an unknown-keys issue once per key, at the key (its line, its name as
 * the field), with the field meant when the key is a known slip (`keyHint`) or close to one of
 * `known`; any other issue as it is.
 */
function perKey(path: readonly (string | number)[], zodIssue: { readonly code?: string; readonly message: string; readonly keys?: readonly string[] }, known: readonly string[]): { path: (string | number)[]; message: string }[] {
  if (zodIssue.code !== 'unrecognized_keys' || zodIssue.keys === undefined) return [{ path: [...path], message: zodIssue.message }]
  return zodIssue.keys.map((key) => {
    const hint = keyHint({ code: 'unrecognized_keys', keys: [key], path })
    const close = hint === '' ? closestName(key, known) : undefined
    return { path: [...path, key], message: `unknown key "${key}"${hint !== '' ? hint : close !== undefined ? ` (did you mean "${close}"?)` : ''}` }
  })
}

/** The keys the workflow schema knows at `path` (its top level, `limits`, `budget`, `defaults`), for hints. */
function shellKeysAt(path: readonly (string | number)[]): readonly string[] {
  const shape = schemaShapeAt(workflowSchemas().workflowShell, path)
  return shape === undefined ? [] : Object.keys(shape)
}

/** The keys the task schema knows at `path` (the task, its `retry`), for hints. */
function taskKeysAt(path: readonly (string | number)[]): readonly string[] {
  const shape = schemaShapeAt(workflowSchemas().task, path)
  return shape === undefined ? [] : Object.keys(shape)
}

/** The shape of the object schema at `path` inside `schema` (through optional and default wrappers), if any. */
function schemaShapeAt(schema: unknown, path: readonly (string | number)[]): Record<string, unknown> | undefined {
  let at: unknown = schema
  for (let k = 0; k <= path.length; k++) {
    // Unwrap optional/default/nullable wrappers (zod keeps the inner schema in def.innerType).
    for (let unwrap = 0; unwrap < 5; unwrap++) {
      const inner = (at as { def?: { innerType?: unknown } } | undefined)?.def?.innerType
      if (inner === undefined) break
      at = inner
    }
    const shape = (at as { shape?: Record<string, unknown> } | undefined)?.shape
    if (k === path.length) return typeof shape === 'object' && shape !== null ? shape : undefined
    const key = path[k]
    if (typeof key !== 'string' || shape === undefined || !Object.hasOwn(shape, key)) return undefined
    at = shape[key]
  }
  return undefined
}

/** Task ids, their index, and how each task is to be compiled. */
interface TaskIndex {
  /** Task ids by index ('' for a task whose id is invalid). */
  readonly ids: string[]
  readonly indexById: IdIndex
  /** Per task: 0 invalid (schema errors), FULL to compile in full, BARE or WITH_INPUT for a fast path. */
  readonly kinds: Uint8Array
}

/** First pass: checks each task's fields (fast path first, the schema otherwise) and indexes the ids. */
function indexTasks(tasks: readonly unknown[], issue: (path: (string | number)[], message: string, taskId?: string) => void): TaskIndex {
  // Filled by push: `new Array(n)` of a large n may give slow dictionary elements.
  const ids: string[] = []
  const indexById = new IdIndex(ids, tasks.length)
  const kinds = new Uint8Array(tasks.length)
  // A small workflow is checked with what needs no warm-up (see plainTaskKind and IdIndex).
  const small = tasks.length <= SMALL_INDEX
  for (let i = 0; i < tasks.length; i++) {
    const raw = tasks[i]
    ids.push('')
    const kind = plainTaskKind(raw, small)
    if (kind === NOT_PLAIN) {
      indexBySchema(raw, i, ids, indexById, kinds, issue)
      continue
    }
    const id = (raw as { id: string }).id
    kinds[i] = kind === PLAIN_BARE ? BARE : kind === PLAIN_WITH_INPUT ? WITH_INPUT : FULL
    ids[i] = id
    const first = indexById.add(i)
    if (first >= 0) issue([i, 'id'], `duplicate task id "${id}" (first defined at tasks[${first}])`, id)
  }
  return { ids, indexById, kinds }
}

/**
 * {@link indexTasks} for a task the fast check could not vouch for: the schema decides, and words
 * its problems. Apart, so a workflow of plain tasks never compiles it.
 */
function indexBySchema(raw: unknown, i: number, ids: string[], indexById: IdIndex, kinds: Uint8Array, issue: (path: (string | number)[], message: string, taskId?: string) => void): void {
  const checked = workflowSchemas().task.safeParse(raw)
  let id: string
  if (!checked.success) {
    for (const zodIssue of checked.error.issues) {
      const path = zodIssue.path.filter((p): p is string | number => typeof p !== 'symbol')
      for (const one of perKey(path, zodIssue, taskKeysAt(path))) issue([i, ...one.path], one.message)
    }
    // A task with a valid id and a wrong field is still a task: its dependents are not told it
    // does not exist (it stays invalid, and the workflow with it).
    // Even an id the schema refused: it is reported once, on the task, and not again on every
    // task that names it.
    const rawId = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined
    if (typeof rawId !== 'string' || rawId === '') return
    id = rawId
  } else {
    id = checked.data.id
    kinds[i] = FULL
  }
  ids[i] = id
  const first = indexById.add(i)
  if (first >= 0) issue([i, 'id'], `duplicate task id "${id}" (first defined at tasks[${first}])`, id)
}

/** Second pass: each task's shape and dependencies (bare tasks on the fast path). */
function compileTasks(
  tasks: readonly TaskSpec[],
  index: TaskIndex,
  spec: Pick<WorkflowSpec, 'inputs' | 'defaults'>,
  registry: ToolRegistry,
  issue: (at: number, path: (string | number)[], message: string) => void,
): { shapes: TaskShape[]; graph: TaskGraphBuilder; pinned: PinnedTasks } {
  const { indexById, kinds } = index
  const pinned: PinnedTasks = { texts: undefined, hints: undefined, flat: undefined }
  const cache = new TaskCompileCache(spec.defaults)
  /** For tasks off the fast paths, made on first use. */
  let full: FullTaskCompile | undefined
  const shapes: TaskShape[] = []
  const graph = new TaskGraphBuilder(tasks.length)
  for (let at = 0; at < tasks.length; at++) {
    const kind = kinds[at]
    if (kind === BARE) {
      const bare = tasks[at] as BareTask
      const shape = compileBareTask(bare, at, indexById, cache, registry, graph)
      if (shape !== undefined) {
        shapes.push(shape)
        // Kept as written too, so the snapshot (and the hash, and a durable run's stored definition) holds it.
        if (bare.priority !== undefined || bare.group !== undefined || bare.cost !== undefined || bare.description !== undefined) (pinned.hints ??= new Map()).set(at, { priority: bare.priority, group: bare.group, cost: bare.cost, description: bare.description })
        continue
      }
    } else if (kind === WITH_INPUT) {
      const task = tasks[at] as FlatTaskCandidate & { readonly description?: string }
      const shape = compileFlatTask(task, at, indexById, cache, registry, graph)
      if (shape !== undefined) {
        shapes.push(shape)
        const { description, priority, group, cost } = task
        if (description !== undefined || priority !== undefined || group !== undefined || cost !== undefined) (pinned.flat ??= new Map()).set(at, { description, priority, group, cost })
        continue
      }
    }
    full ??= new FullTaskCompile(tasks, index, spec, registry, cache, issue)
    shapes.push(full.compile(at, kind as number, pinned, graph))
  }
  return { shapes, graph, pinned }
}

/**
 * {@link compileTasks} for the tasks off its fast paths: the full compile, and what an invalid
 * task can still report. Apart, so a workflow of bare and flat tasks never compiles it.
 */
class FullTaskCompile {
  readonly #tasks: readonly TaskSpec[]
  readonly #indexById: IdIndex
  readonly #issue: (at: number, path: (string | number)[], message: string) => void
  readonly #ctx: TaskCompileContext
  /** The task being compiled (its problems are recorded at this index). */
  #at = 0
  readonly #ids: readonly string[]
  /** "Did you mean" hints given so far (at most MAX_NEAR_ID_HINTS). */
  #hints = 0

  constructor(tasks: readonly TaskSpec[], index: TaskIndex, spec: Pick<WorkflowSpec, 'inputs' | 'defaults'>, registry: ToolRegistry, cache: TaskCompileCache, issue: (at: number, path: (string | number)[], message: string) => void) {
    const { indexById, ids } = index
    this.#ids = ids
    this.#tasks = tasks
    this.#indexById = indexById
    this.#issue = issue
    this.#ctx = {
      registry,
      indexOf: (id) => indexById.get(id),
      nearId: (id) => this.#nearId(id),
      declaredInputs: spec.inputs,
      defaults: spec.defaults,
      issue: (path, message) => issue(this.#at, path, message),
      cache,
      deps: [],
    }
  }

  /**
   * The task id closest to a mistyped one (one edit in four characters at most: "zz" is not taken
   * for "a"), for the first {@link MAX_NEAR_ID_HINTS} unknown ids only: each looks through every
   * id, and a workflow of thousands of wrong references (a request to the server) must not cost
   * their product.
   */
  #nearId(id: string): string | undefined {
    if (this.#hints++ >= MAX_NEAR_ID_HINTS) return undefined
    const maxDistance = Math.min(2, Math.max(1, Math.floor(id.length / 4)))
    return closestName(id, this.#ids.filter((known) => known !== '' && Math.abs(known.length - id.length) <= maxDistance), maxDistance)
  }

  /** Task `at`'s shape (its row of the graph added); `kind` 0 for a task the schema refused. */
  compile(at: number, kind: number, pinned: PinnedTasks, graph: TaskGraphBuilder): TaskShape {
    const tasks = this.#tasks
    const issue = this.#issue
    this.#at = at
    if (kind !== 0) {
      try {
        ;(pinned.texts ??= new Map()).set(at, JSON.stringify(tasks[at]))
      } catch (err) {
        issue(at, [], `the task is not plain data: ${describeThrown(err)}`)
      }
      const shape = compileTaskSpec(tasks[at] as TaskSpec, at, this.#ctx)
      graph.addRow(this.#ctx.deps)
      return shape
    }
    // Its other fields are wrong, but a dependency it names that no task has, or a tool this engine
    // lacks, is one more problem to report now, not after the first are fixed.
    try {
      const named = tasks[at] as { tool?: unknown; agent?: unknown } | null
      if (typeof named?.tool === 'string' && named.agent === undefined && this.#ctx.registry.get(named.tool) === undefined) issue(at, ['tool'], unknownToolMessage(this.#ctx.registry, 'tool', named.tool))
      const dependsOn = (tasks[at] as { dependsOn?: unknown } | null)?.dependsOn
      if (Array.isArray(dependsOn)) {
        dependsOn.forEach((id: unknown, k) => {
          // An id the schema refused is reported already (as not a valid id).
          if (typeof id === 'string' && ID_PATTERN.test(id) && this.#indexById.get(id) === undefined) issue(at, ['dependsOn', k], `dependency "${id}" is not a task of this workflow${nearIdHint(this.#ctx.nearId?.(id))}`)
        })
      }
    } catch {
      // A getter or Proxy trap that throws: the schema's problems with the task stand alone.
    }
    graph.endRow()
    return INVALID_SHAPE
  }
}

/** Unknown task ids given a "did you mean" hint in one compile, at most. */
const MAX_NEAR_ID_HINTS = 20

/** ` (did you mean "plan"?)` for a task id close to a mistyped one, or nothing. */
export function nearIdHint(near: string | undefined): string {
  return near !== undefined ? ` (did you mean "${near}"?)` : ''
}

/** What compiling kept of each task to pin the definition: JSON text of full tasks, hints of bare ones. @internal */
export interface PinnedTasks {
  /** Made on first use: a workflow of bare tasks has none. */
  texts: Map<number, string> | undefined
  hints: Map<number, { readonly priority: number | undefined; readonly group: string | undefined; readonly cost: number | undefined; readonly description: string | undefined }> | undefined
  /** Fields of flat tasks (see `flat-task.ts`) that their shape does not keep as written, for those that have any. */
  flat: Map<number, FlatTaskExtras> | undefined
}

/**
 * The canonical text of the definition as compiled, rebuilt from what compiling pinned. A bare
 * task's text is written directly (its keys in canonical order), so the snapshot of a 100,000-task
 * workflow costs a few ms: a durable run takes it when it starts.
 */
function pinnedSnapshot(shellText: string, ids: readonly string[], shapes: readonly TaskShape[], graph: TaskGraph, pinned: PinnedTasks): string {
  const shell = JSON.parse(shellText) as Record<string, unknown>
  // A placeholder no definition can hold, replaced by the tasks' text.
  const placeholder = `\u0000tasks-${crypto().randomUUID()}`
  shell['tasks'] = placeholder
  const parts: string[] = []
  for (let i = 0; i < ids.length; i++) {
    const text = pinned.texts?.get(i)
    const shape = shapes[i] as TaskShape
    if (text !== undefined) parts.push(canonicalJson(JSON.parse(text)))
    else if (shape.input instanceof FlatInput) parts.push(flatTaskText(ids[i] as string, shape.toolName, shape.input, parentsOf(graph, i).map((p) => ids[p] as string), pinned.flat?.get(i)))
    else parts.push(bareTaskText(ids, i, shape.toolName, parentsOf(graph, i), pinned.hints?.get(i)))
  }
  return canonicalJson(shell).replace(JSON.stringify(placeholder), () => `[${parts.join(',')}]`)
}

/** The canonical text of bare task `i`: its keys (cost, dependsOn, group, id, priority, tool) in order. */
function bareTaskText(ids: readonly string[], i: number, tool: string, parents: readonly number[], hints: { readonly priority: number | undefined; readonly group: string | undefined; readonly cost: number | undefined; readonly description: string | undefined } | undefined): string {
  let out = '{'
  if (hints?.cost !== undefined) out += `"cost":${JSON.stringify(hints.cost)},`
  if (parents.length > 0) {
    out += '"dependsOn":['
    for (let k = 0; k < parents.length; k++) out += `${k > 0 ? ',' : ''}${JSON.stringify(ids[parents[k] as number])}`
    out += '],'
  }
  if (hints?.description !== undefined) out += `"description":${JSON.stringify(hints.description)},`
  if (hints?.group !== undefined) out += `"group":${JSON.stringify(hints.group)},`
  out += `"id":${JSON.stringify(ids[i])},`
  if (hints?.priority !== undefined) out += `"priority":${JSON.stringify(hints.priority)},`
  return `${out}"tool":${JSON.stringify(tool)}}`
}

const FULL = 1
const BARE = 2
/** Valid with an input: the flat path first (see `flat-task.ts`), else in full. */
const WITH_INPUT = 3

/** A task {@link plainTaskKind} found bare: a tool, dependencies and scheduling hints. */
interface BareTask {
  readonly tool: string
  readonly dependsOn?: readonly string[]
  readonly priority?: number
  readonly group?: string
  readonly cost?: number
  readonly description?: string
}

/**
 * The fast path for the bulk of a large workflow: a bare task whose dependencies all resolve and
 * whose tool takes an empty input gets the shared shape and its graph row; anything else returns
 * undefined (with no row added) for the full compile, which also words the problems.
 */
function compileBareTask(task: BareTask, index: number, indexById: IdIndex, cache: TaskCompileCache, registry: ToolRegistry, graph: TaskGraphBuilder): TaskShape | undefined {
  const shape = cache.bareShape(registry, task.tool, task.priority, task.group, task.cost)
  if (shape === undefined || !graph.addRowOfIds(task.dependsOn, index, indexById)) return undefined
  return shape
}

/** Stands in for a task that failed validation (the workflow is then rejected before use). */
const INVALID_SHAPE = undefined as unknown as TaskShape

/** The shared empty list of task indices (never mutated). */
export const NO_TASKS: readonly number[] = Object.freeze([])

/** The inputs of a run that declares and gets none (frozen: shared by every such run). */
const NO_INPUTS: Record<string, unknown> = Object.freeze(Object.create(null) as Record<string, unknown>)

/** Largest JSON size of one run input, in bytes, unless the engine says otherwise. */
export const DEFAULT_MAX_INPUT_BYTES = 1024 * 1024

/**
 * Checks run inputs against the declared ones: fills defaults, rejects missing, mistyped and
 * undeclared inputs, and inputs that are not plain data or exceed `maxBytes` as JSON. Returns the
 * inputs as plain data (what templates read, and what a checkpoint can hold); with none declared
 * and none given, a shared frozen empty record.
 */
export function resolveInputs(workflow: CompiledWorkflow, given: Readonly<Record<string, unknown>>, maxBytes = DEFAULT_MAX_INPUT_BYTES): Record<string, unknown> {
  // Most runs declare and get no inputs: nothing to check, no list of keys to make, and one shared
  // frozen record (an object without a prototype is a dictionary in V8: making and freezing one
  // per run cost a small run about half a µs).
  if (isEmptyRecord(given) && isEmptyRecord(workflow.inputs)) return NO_INPUTS
  return resolveGivenInputs(workflow, given, maxBytes)
}

/**
 * {@link resolveInputs} for a run that gets or declares inputs. Apart, so the first run of a
 * workflow without inputs (most) does not compile it.
 */
function resolveGivenInputs(workflow: CompiledWorkflow, given: Readonly<Record<string, unknown>>, maxBytes: number): Record<string, unknown> {
  const issues: ValidationIssue[] = []
  const out = Object.create(null) as Record<string, unknown>
  const declared = workflow.inputs
  const file = workflow.file !== undefined ? { file: workflow.file } : {}
  // Counted once: per given input it made a run with many inputs quadratic.
  const declaresInputs = Object.keys(declared).length > 0
  for (const [name, value] of Object.entries(given)) {
    if (declaresInputs && !Object.hasOwn(declared, name)) issues.push({ ...file, field: `inputs.${name}`, message: `"${name}" is not a declared input (declared: ${Object.keys(declared).join(', ')})` })
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
    const inexact = typeof value === 'string' && input.type !== 'string' ? firstInexactInteger(value) : undefined
    if (inexact !== undefined) {
      issues.push({ ...file, field: `inputs.${name}`, message: inexactIntegerMessage(name, inexact) })
      continue
    }
    const coerced = coerce(value, input.type)
    if (coerced === undefined) issues.push({ ...file, field: `inputs.${name}`, message: `input "${name}" must be ${typeWithArticle(input.type)}; received ${JSON.stringify(value)}` })
    else out[name] = coerced
  }
  for (const name of Object.keys(out)) {
    const checked = plainInput(name, out[name], maxBytes)
    if (typeof checked === 'string') issues.push({ ...file, field: `inputs.${name}`, message: checked })
    else out[name] = checked.value
  }
  if (issues.length > 0) throw new ValidationError(issues)
  return out
}

function isEmptyRecord(record: Readonly<Record<string, unknown>>): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return false
  return true
}

/** A run input as plain JSON data, or what is wrong with it. */
function plainInput(name: string, value: unknown, maxBytes: number): { value: unknown } | string {
  if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return { value }
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (err) {
    return `input "${name}" is not plain data: ${describeThrown(err)}`
  }
  if (text === undefined) return `input "${name}" is not plain data (a ${typeof value})`
  // A UTF-8 byte is at most 3 per UTF-16 unit: measure exactly only when it could matter.
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text)
    if (bytes > maxBytes) return `input "${name}" is ${formatBytes(bytes)} as JSON; the limit is ${formatBytes(maxBytes)} (raise the engine's maxInputBytes, or pass a file path and read it in a task)`
  }
  return { value: typeof value === 'string' ? value : (JSON.parse(text) as unknown) }
}

// CLI inputs arrive as text; a declared type turns them into the value the workflow expects.
/** A value as JSON for a message, or its type when it has no JSON form. */
function shown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? typeof value
  } catch {
    return typeof value
  }
}

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

function taskIdAt(definition: unknown, path: readonly (string | number)[]): string | undefined {
  if (path[0] !== 'tasks' || typeof path[1] !== 'number') return undefined
  const tasks = (definition as { tasks?: unknown }).tasks
  if (!Array.isArray(tasks)) return undefined
  const id = (tasks[path[1]] as { id?: unknown } | undefined)?.id
  return typeof id === 'string' ? id : undefined
}



/** `a string`, `an object`, `an array`: a declared input type as a message says it. */
function typeWithArticle(type: string): string {
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`
}
