/**
 * Turns a list of executor tasks into one workflow of independent tasks, and the run's report back
 * into results in the input order. Pure: no engine, no clock.
 *
 * Each task becomes workflow task `t<index>`, so caller ids may be anything (even duplicates) and
 * results map back by position. A task that cannot run (unknown tool, parameters its tool rejects)
 * is left out of the workflow and fails in its own slot, so it never fails the batch.
 *
 * Parameters are data, never templates. Most calls' parameters are plain JSON data without a `{{`:
 * they become the task's static input, copied (deep by `static-input.ts`; flat ones, left to the
 * workflow's compilation, which pins them as a copy of its own), so the batch costs the
 * same per call whatever its size. Any other call keeps the general path: its parameters travel as a declared run input, read by
 * whole-value templates (`{{ inputs.t0["path"] }}`), so a substituted value is never parsed again
 * and the engine's checks (plain data, size) apply to it unchanged. Declared inputs are checked
 * against each other when a run starts, so only those few calls use them.
 * @module
 */
import { randomId } from '../../core/uuid.js'
import type { ToolRegistry } from '../../core/registry.js'
import type { AnyTool } from '../../core/tool.js'
import type { TaskReport } from '../../engine/report.js'
import { FORBIDDEN_SEGMENTS } from '../../workflow/template.js'
import type { TaskSpec, WorkflowSpec } from '../../workflow/types.js'
import type { FlatCall } from '../../workflow/flat-calls.js'
import type { RetryPolicy } from './options.js'
import { AS_IS, FORBIDDEN_NAME, NOT_AS_IS, parametersKind, staticCopy } from './static-input.js'
import type { Task, TaskErrorInfo, TaskResult } from './types.js'

/** One input task, as planned. */
export interface BatchSlot {
  readonly taskId: string
  readonly toolName: string
  readonly planId?: string
  /** Id of its workflow task; undefined when it failed before running. */
  readonly nodeId?: string
  /** Index of its workflow task in the compiled workflow (with `nodeId`). */
  readonly nodeIndex?: number
  /** Why it cannot run, when it cannot. */
  readonly failure?: TaskErrorInfo
}

/** A planned batch: the slots in input order, and the workflow running the runnable ones. */
export interface Batch {
  readonly slots: readonly BatchSlot[]
  /** Undefined when no task can run. */
  readonly spec?: WorkflowSpec
  readonly inputs: Readonly<Record<string, unknown>>
}

/** Settings applied to every task of a batch. */
export interface BatchSettings {
  readonly timeoutMs?: number | undefined
  readonly retry?: RetryPolicy | undefined
  /**
   * Leave the schema check of exactly copied parameters to the workflow's compilation, which checks
   * every static input anyway: one validation per call instead of two. The caller must then plan the
   * batch again without it when compilation reports a problem, so a rejected call fails in its own
   * slot. @default false
   */
  readonly deferSchemaCheck?: boolean
  /** Ids of the tasks without one of their own, by index, from an earlier plan of the same call (so a second plan keeps them). */
  readonly taskIds?: readonly string[] | undefined
  /** Tasks that fail in their slot without running, by index (parameters the engine refused as run inputs). */
  readonly failed?: ReadonlyMap<number, TaskErrorInfo> | undefined
  /** A concurrency group every task joins, with its cap (an executor on a shared engine: its `maxWorkers`). */
  readonly group?: { readonly name: string; readonly cap: number } | undefined
}

/**
 * The tasks of `batch` whose parameters the engine refused as run inputs (issues on `inputs.t<i>`:
 * not plain data, too large), each with its failure named after the task: the batch then runs
 * without them instead of failing as a whole. Empty when no issue is about one task's parameters.
 */
export function refusedParameters(batch: Batch, issues: readonly { readonly field?: string; readonly message: string }[]): Map<number, TaskErrorInfo> {
  const refused = new Map<number, TaskErrorInfo>()
  for (const issue of issues) {
    const nodeId = /^inputs\.(t\d+)$/.exec(issue.field ?? '')?.[1]
    const index = nodeId === undefined ? undefined : slotIndexOf(batch, nodeId)
    if (index === undefined) continue
    const slot = batch.slots[index] as BatchSlot
    refused.set(index, { code: 'TW_TOOL_INPUT', message: issue.message.replace(/^input "t\d+"/, `the parameters of task "${slot.taskId}"`) })
  }
  return refused
}

/** The slot index of workflow task `nodeId` (`t<index>`), or undefined when it is not one of the batch's. */
export function slotIndexOf(batch: Batch, nodeId: string): number | undefined {
  const index = nodeId.startsWith('t') ? Number(nodeId.slice(1)) : Number.NaN
  return Number.isInteger(index) && batch.slots[index]?.nodeId === nodeId ? index : undefined
}

/** Plans a batch; never throws for a bad task (that task fails in its slot). */
export function planBatch(tasks: readonly Task[], registry: ToolRegistry, settings: BatchSettings): Batch {
  const slots: BatchSlot[] = []
  const specs: TaskSpec[] = []
  const inputs: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  const declared: Record<string, { type: 'object' }> = {}
  const defer = settings.deferSchemaCheck === true
  // Literal objects rather than conditional spreads below: a batch may hold many thousands of calls.
  for (let index = 0; index < tasks.length; index++) {
    const call = checkCall(tasks[index], index, registry, settings)
    if (call.failure !== undefined) {
      slots.push(call)
      continue
    }
    const checked = checkParameters(call, defer)
    if ('failure' in checked) {
      slots.push(failedSlot(call, checked.failure))
      continue
    }
    const { task, toolName } = call
    const nodeId = `t${index}`
    let input: Record<string, unknown>
    if (checked.staticInput !== undefined) input = checked.staticInput
    else {
      input = {}
      for (const [key, value] of Object.entries(task.parameters)) if (value !== undefined) input[key] = `{{ inputs.${nodeId}[${quote(key)}] }}`
      declared[nodeId] = { type: 'object' }
      inputs[nodeId] = task.parameters
    }
    const spec: TaskSpec = { id: nodeId, tool: toolName, input }
    if (task.description !== undefined) spec.description = task.description
    if (settings.timeoutMs !== undefined) spec.timeout = settings.timeoutMs
    if (settings.retry !== undefined) spec.retry = settings.retry
    if (settings.group !== undefined) spec.group = settings.group.name
    specs.push(spec)
    slots.push(runnableSlot(call, nodeId, specs.length - 1))
  }
  if (specs.length === 0) return { slots, inputs }
  const hasDeclared = Object.keys(declared).length > 0
  const spec: WorkflowSpec = hasDeclared ? { id: 'executor', inputs: declared, tasks: specs } : { id: 'executor', tasks: specs }
  return { slots, inputs, spec: settings.group === undefined ? spec : { ...spec, limits: { groups: { [settings.group.name]: settings.group.cap } } } }
}

/** A batch planned by {@link planFlatBatch}: its slots, and the calls of its workflow. */
export interface FlatBatch {
  /** Every input task's slot, in input order (a runnable one names its workflow task). */
  readonly slots: readonly BatchSlot[]
  /** The runnable tasks, in input order: the workflow's tasks, by index. */
  readonly calls: readonly FlatCall[]
}

/**
 * Plans a batch whose every runnable call has parameters that can be its static input as they are
 * (flat plain values: see `parametersKind`), the common shape of a large batch, for
 * `compileFlatCalls`: each call's parameters are looked at once here and once by its tool's schema
 * there. Undefined when a call's parameters are not so, its description is not a string, or the
 * settings ask for more than such a workflow holds (a retry policy, tasks that already failed):
 * the batch then takes {@link planBatch}. A task that cannot run fails in its slot, as there.
 */
export function planFlatBatch(tasks: readonly Task[], registry: ToolRegistry, settings: BatchSettings): FlatBatch | undefined {
  if (settings.retry !== undefined || settings.failed !== undefined) return undefined
  const slots: BatchSlot[] = []
  const calls: FlatCall[] = []
  for (let index = 0; index < tasks.length; index++) {
    const call = checkCall(tasks[index], index, registry, settings)
    if (call.failure !== undefined) {
      slots.push(call)
      continue
    }
    const kind = parametersKind(call.parameters)
    // A description that is not a string is the workflow schema's to refuse (the batch then
    // rejects, as it always has): the full path words it.
    if (kind === NOT_AS_IS || (call.task.description !== undefined && typeof call.task.description !== 'string')) return undefined
    if (kind === FORBIDDEN_NAME) {
      slots.push(failedSlot(call, forbiddenName(call.parameters)))
      continue
    }
    const nodeId = `t${index}`
    slots.push(runnableSlot(call, nodeId, calls.length))
    calls.push({ id: nodeId, tool: call.tool, input: call.parameters as Readonly<Record<string, unknown>>, description: call.task.description })
  }
  return { slots, calls }
}

/** The slot of a task that cannot run. */
type FailedSlot = BatchSlot & { readonly failure: TaskErrorInfo }

/** A task that passed the checks every call gets, before its parameters are looked at. */
interface CheckedCall {
  readonly failure?: undefined
  readonly task: Task
  readonly taskId: string
  readonly toolName: string
  readonly tool: AnyTool
  readonly parameters: object
}

/**
 * The failed slot of an entry that cannot be a call (not a task object, an unusable id, an unknown
 * tool, parameters that are not an object), or the call it makes.
 */
function checkCall(entry: Task | null | undefined, index: number, registry: ToolRegistry, settings: BatchSettings): FailedSlot | CheckedCall {
  // An entry that is not a task, or whose id is not a usable one, fails in its own slot, named
  // by its place in the list (never by an id the caller did not give).
  if (typeof entry !== 'object' || entry === null) {
    return { taskId: `tasks[${index}]`, toolName: '', failure: { code: 'TW_TOOL_INPUT', message: `tasks[${index}] must be a task object ({ toolName, parameters }); received ${entry === null ? 'null' : typeof entry}` } }
  }
  const task = entry
  const id: unknown = task.id
  if (id !== undefined && (typeof id !== 'string' || id === '')) {
    return { taskId: `tasks[${index}]`, toolName: String(task.toolName), failure: { code: 'TW_TOOL_INPUT', message: `tasks[${index}].id must be a non-empty string; received ${typeof id === 'string' ? 'an empty string' : typeof id === 'number' || typeof id === 'boolean' ? String(id) : typeof id}` } }
  }
  const taskId = id ?? settings.taskIds?.[index] ?? randomId()
  const toolName = String(task.toolName)
  const tool = typeof task.toolName === 'string' ? registry.get(task.toolName) : undefined
  const failure = settings.failed?.get(index) ?? (tool === undefined ? unknownTool(task, registry) : parametersNotAnObject(tool, task.parameters))
  if (failure !== undefined) return task.planId !== undefined ? { taskId, toolName, planId: task.planId, failure } : { taskId, toolName, failure }
  return { task, taskId, toolName, tool: tool as AnyTool, parameters: task.parameters }
}

function unknownTool(task: Task, registry: ToolRegistry): TaskErrorInfo {
  const hints = typeof task.toolName === 'string' ? registry.suggest(task.toolName) : []
  const hint = hints.length > 0 ? `; did you mean ${hints.map((h) => `"${h}"`).join(', ')}?` : ''
  return { code: 'TW_UNKNOWN_TOOL', message: `unknown tool "${String(task.toolName)}"${hint}` }
}

function parametersNotAnObject(tool: AnyTool, parameters: unknown): TaskErrorInfo | undefined {
  return typeof parameters !== 'object' || parameters === null || Array.isArray(parameters) ? { code: 'TW_TOOL_INPUT', message: `parameters of tool "${tool.name}" must be an object` } : undefined
}

/** The slot of a call that cannot run. */
function failedSlot(call: CheckedCall, failure: TaskErrorInfo): FailedSlot {
  const { task, taskId, toolName } = call
  return task.planId !== undefined ? { taskId, toolName, planId: task.planId, failure } : { taskId, toolName, failure }
}

/** The slot of a call that runs as workflow task `nodeId`, at `nodeIndex`. */
function runnableSlot(call: CheckedCall, nodeId: string, nodeIndex: number): BatchSlot {
  const { task, taskId, toolName } = call
  // Literal objects rather than a conditional spread: a batch may hold many thousands of calls.
  return task.planId !== undefined ? { taskId, toolName, planId: task.planId, nodeId, nodeIndex } : { taskId, toolName, nodeId, nodeIndex }
}

/** The failure of parameters {@link parametersKind} found a refused name in. */
function forbiddenName(parameters: object): TaskErrorInfo {
  const key = Object.keys(parameters).find((k) => FORBIDDEN_SEGMENTS.has(k) || k.includes('}}')) ?? ''
  // A template path cannot hold these keys; refusing here keeps the failure in this task's slot.
  return { code: 'TW_TOOL_INPUT', message: `parameter name ${JSON.stringify(key)} is not allowed` }
}

/** What {@link checkParameters} found: why the task cannot run, or the static input it can run with (undefined: use a run input). */
type TaskCheck = { readonly failure: TaskErrorInfo } | { readonly staticInput: Record<string, unknown> | undefined }

/** How a call's parameters reach its tool, or why they cannot (`defer`: see {@link BatchSettings.deferSchemaCheck}). */
function checkParameters(call: CheckedCall, defer: boolean): TaskCheck {
  const { tool, parameters } = call
  const kind = parametersKind(parameters)
  if (kind === FORBIDDEN_NAME) return { failure: forbiddenName(parameters) }
  // The workflow's compilation checks a static input against the same schema, and pins flat
  // parameters as a copy of its own.
  if (defer && kind === AS_IS) return { staticInput: parameters as Record<string, unknown> }
  const copy = staticCopy(parameters)
  if (defer && copy?.exact === true) return { staticInput: copy.value }
  // An exact copy has the parameters' very shape, so one schema check judges both.
  const checked = tool.input.safeParse(copy?.exact === true ? copy.value : parameters)
  // Checked now so a bad input fails this task alone, before the batch starts.
  if (!checked.success) {
    const problems = checked.error.issues.map((i) => `${['input', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ')
    return { failure: { code: 'TW_TOOL_INPUT', message: `input rejected by tool "${tool.name}": ${problems}` } }
  }
  if (copy === undefined) return { staticInput: undefined }
  // The copy is what the tool receives. It is static only when it passes the schema too: the
  // workflow's compile-time check of it then passes, so the batch never fails as a whole.
  if (copy.exact || tool.input.safeParse(copy.value).success) return { staticInput: copy.value }
  return { staticInput: undefined }
}

function quote(key: string): string {
  return `"${key.replace(/[\\"]/g, '\\$&')}"`
}

/** The result of one slot, from its task report (absent when the task never joined the run). */
export function toTaskResult(slot: BatchSlot, report: TaskReport | undefined, retry: RetryPolicy | undefined): TaskResult {
  if (report?.status === 'succeeded') return succeededResult(slot, report.attempts, report.durationMs ?? 0, report.output, retry)
  const attempts = report?.attempts ?? 0
  const retries = attempts > 1 ? attempts - 1 : 0
  const metadata = retry !== undefined ? { attempts, retries, retryExhausted: report?.status === 'failed' && attempts >= retry.maxAttempts } : { attempts, retries }
  return { taskId: slot.taskId, executionTimeMs: report?.durationMs ?? 0, metadata, success: false, error: errorOf(slot, report) }
}

/** The result of a call whose task succeeded ({@link toTaskResult}'s, from the fields it reads). */
export function succeededResult(slot: BatchSlot, attempts: number, executionTimeMs: number, output: unknown, retry: RetryPolicy | undefined): TaskResult {
  const retries = attempts > 1 ? attempts - 1 : 0
  const metadata = retry !== undefined ? { attempts, retries, retryExhausted: false } : { attempts, retries }
  // Literal objects rather than spreads: one result per call, and a batch may hold many thousands.
  return output !== undefined ? { taskId: slot.taskId, executionTimeMs, metadata, success: true, output } : { taskId: slot.taskId, executionTimeMs, metadata, success: true }
}

function errorOf(slot: BatchSlot, report: TaskReport | undefined): TaskErrorInfo {
  if (slot.failure !== undefined) return slot.failure
  if (report?.error !== undefined) return { code: report.error.code, message: callersNames(slot, report.error.message) }
  if (report === undefined || report.status === 'cancelled') return { code: 'TW_CANCELLED', message: callersNames(slot, report?.reason ?? 'the task was cancelled') }
  return { code: 'TW_TOOL_FAILED', message: callersNames(slot, report.reason ?? `the task ended ${report.status}`) }
}

/** `message` with the engine's name of the task (`task "t3"`) replaced by the caller's id. */
function callersNames(slot: BatchSlot, message: string): string {
  const nodeId = slot.nodeId
  return nodeId === undefined ? message : message.replaceAll(`task "${nodeId}"`, `task "${slot.taskId}"`)
}
