/** Builds the run result from the task nodes; the per-task report is built on first read. @module */
import type { RunResult, RunUsage, TaskReport } from './report.js'
import type { RunStatus, TaskStatus } from './states.js'
import type { CompiledWorkflow, TaskShape } from '../workflow/compile.js'
import { knownHash } from '../workflow/compile.js'
import type { RunState } from './run-state.js'
import { FAILED, SKIPPED, STATUS_NAMES, SUCCEEDED } from './states.js'

/** What the result needs besides the nodes. */
export interface RunSummary {
  readonly runId: string
  readonly workflowId: string
  /** The workflow run (its hash is read on first access to `result.workflowHash`, unless known already). */
  readonly workflow: CompiledWorkflow
  readonly startedAt: string
  readonly durationMs: number
  /** Set when cancel or failFast decided the status. */
  readonly stopStatus: RunStatus | undefined
  readonly stopReason: string | undefined
  /**
   * Why the run's budget fell short, if it did (it spent more than allowed, or left tasks
   * unstarted): a run that would have succeeded is `partial`, and this is its reason unless a stop
   * gave one.
   */
  readonly budgetExhausted: string | undefined
  /** LLM usage the run's tools reported, if any. */
  readonly usage: RunUsage | undefined
}

/** The result of a finished run. */
export function buildRunResult(state: RunState, summary: RunSummary): RunResult {
  const byCode = new Array<number>(STATUS_NAMES.length).fill(0)
  const failed: string[] = []
  let failureSkips = 0
  const status_ = state.status
  for (let i = 0; i < state.size; i++) {
    const s = status_[i] as number
    byCode[s] = (byCode[s] as number) + 1
    if (s === FAILED) failed.push(state.ids[i] as string)
    else if (s === SKIPPED && state.peek(i).rootFailure >= 0) failureSkips++
  }
  const counts: Record<TaskStatus, number> = {
    pending: byCode[0] as number,
    ready: byCode[1] as number,
    running: byCode[2] as number,
    retrying: byCode[3] as number,
    succeeded: byCode[4] as number,
    failed: byCode[5] as number,
    skipped: byCode[6] as number,
    cancelled: byCode[7] as number,
  }
  let status: RunStatus
  if (summary.stopStatus !== undefined) status = summary.stopStatus
  else if (failed.length === 0 && failureSkips === 0) status = summary.budgetExhausted !== undefined ? 'partial' : 'succeeded'
  else status = counts.succeeded > 0 ? 'partial' : 'failed'
  // A run of 100,000 tasks should not pay for 100,000 report objects nobody reads: the report and
  // the hash are getters, computed on first read (own and enumerable, so JSON.stringify includes
  // them). They are shared functions defined one by one on a plain object, in the documented key
  // order: an object literal with getters is made in dictionary mode, slower to make and to read.
  //
  // What a getter reads is found through a symbol the result holds: a primitive, so a Proxy around
  // the result (Vue's reactive(), a read-only view) hands it through unchanged, where an object
  // would be wrapped. A symbol lives in the old generation, so its entry (and all it reaches)
  // outlives the result until the next full collection: a small run's report is therefore made
  // now, as plain data, and its hash is found through its workflow's symbol, one per workflow,
  // so a service running thousands of small runs a second leaves no run state behind its results.
  const workflow = summary.workflow
  const small = state.size <= EAGER_REPORT_TASKS
  // A workflow run a second time pays its hash once (its later results then hold it as plain
  // data, with no getter to define); a definition run once, as a new one per run, pays it only if read.
  const hash = knownHash(workflow) ?? (small && workflowKeys.has(workflow) ? workflow.hash : undefined)
  const result = { runId: summary.runId, workflowId: summary.workflowId } as Partial<Record<keyof RunResult, unknown>>
  if (hash !== undefined) result.workflowHash = hash
  else Object.defineProperty(result, 'workflowHash', HASH_PROPERTY)
  result.status = status
  result.startedAt = summary.startedAt
  result.durationMs = summary.durationMs
  result.counts = counts
  if (small) result.tasks = reportTasks(state)
  else Object.defineProperty(result, 'tasks', TASKS_PROPERTY)
  result.failed = failed
  const reason = summary.stopReason ?? summary.budgetExhausted
  if (reason !== undefined) result.reason = reason
  if (summary.usage !== undefined) result.usage = summary.usage
  if (!small) {
    const key = Symbol('run result')
    statesByKey.set(key, { state, workflow, hash, tasks: undefined })
    Object.defineProperty(result, RESULT_KEY, { value: key })
  } else if (hash === undefined) {
    Object.defineProperty(result, RESULT_KEY, { value: keyOfWorkflow(workflow) })
  }
  return result as unknown as RunResult
}

/** What a result's getters read: the run's state, and what they computed already. */
interface ResultState {
  /** The run's state, for a report made on first read (undefined when it was made with the result). */
  readonly state: RunState | undefined
  /** Only the workflow: a closure made inside the run would keep the whole run alive as long as the entry. */
  readonly workflow: CompiledWorkflow
  hash: string | undefined
  tasks: Record<string, TaskReport> | undefined
}

/** The property of a result holding its key into {@link statesByKey} (not enumerable: JSON, spreads and structured clones leave it out). */
const RESULT_KEY = Symbol('taskweave.runResult')

/**
 * Each large result's {@link ResultState} by the result's own symbol, and each workflow's (without
 * a run state) by the workflow's symbol; dropped with the result or the workflow.
 */
const statesByKey = new WeakMap<symbol, ResultState>()

/** The symbol of each workflow a small run's result found its hash through. */
const workflowKeys = new WeakMap<CompiledWorkflow, symbol>()

function keyOfWorkflow(workflow: CompiledWorkflow): symbol {
  let key = workflowKeys.get(workflow)
  if (key === undefined) {
    key = Symbol('workflow')
    workflowKeys.set(workflow, key)
    statesByKey.set(key, { state: undefined, workflow, hash: undefined, tasks: undefined })
  }
  return key
}

function stateBehind(result: unknown): ResultState | undefined {
  if (typeof result !== 'object' || result === null) return undefined
  const key = (result as Record<symbol, unknown>)[RESULT_KEY]
  return typeof key === 'symbol' ? statesByKey.get(key) : undefined
}

/** Runs of at most this many tasks get their `tasks` report with the result (see {@link buildRunResult}). */
const EAGER_REPORT_TASKS = 16

const HASH_PROPERTY: PropertyDescriptor = {
  get(this: unknown): string | undefined {
    const behind = stateBehind(this)
    return behind === undefined ? undefined : (behind.hash ??= behind.workflow.hash)
  },
  enumerable: true,
  configurable: true,
}

const TASKS_PROPERTY: PropertyDescriptor = {
  get(this: unknown): Record<string, TaskReport> | undefined {
    const behind = stateBehind(this)
    return behind?.state === undefined ? undefined : (behind.tasks ??= reportTasks(behind.state))
  },
  enumerable: true,
  configurable: true,
}

/**
 * The report of task `taskId`, at `index` (its place in the compiled workflow), of a finished run,
 * built alone: for code inside the package that knows its tasks by index (the executor facade maps
 * a batch back this way), without making the whole `result.tasks` record of a large run. Undefined
 * when the run has no task of that index and id.
 */
export function taskReportAt(result: RunResult, index: number, taskId: string): TaskReport | undefined {
  return taskReportReader(result)(index, taskId)
}

/**
 * {@link taskReportAt} for many tasks of one result: the run's state is found once, not once per
 * task (a batch of 10,000 calls maps its reports back this way).
 */
export function taskReportReader(result: RunResult): (index: number, taskId: string) => TaskReport | undefined {
  const state = stateBehind(result)?.state
  // A small run's report was made with the result.
  if (state === undefined) return (_index, taskId) => (Object.hasOwn(result, 'tasks') && Object.hasOwn(result.tasks, taskId) ? result.tasks[taskId] : undefined)
  return (index, taskId) => (index >= 0 && index < state.size && state.ids[index] === taskId ? reportOf(state, index) : undefined)
}

/** What {@link succeededTaskReader} reads of a succeeded task. */
export interface SucceededTask {
  readonly attempts: number
  /** The engine clock's reading when it finished. */
  readonly finishedAt: number
  /** From its first attempt's start to its end. */
  readonly durationMs: number
  readonly output: unknown
}

/**
 * For code inside the package that maps every task of a large result back by index (the executor
 * facade, 10,000 calls in a batch): the attempts, finish, duration and output of a succeeded task
 * without a report made per task. The answer is one object, reused: it holds the last task read,
 * until the next call. Undefined when the task is not the one at that index, did not succeed, or
 * has rare state (retries, usage, a parent by `forEach`…): those need their whole report
 * ({@link taskReportReader}). Always undefined for a small run's result, whose reports were made
 * with it.
 */
export function succeededTaskReader(result: RunResult): (index: number, taskId: string) => SucceededTask | undefined {
  const state = stateBehind(result)?.state
  if (state === undefined) return () => undefined
  const found = { attempts: 0, finishedAt: 0, durationMs: 0, output: undefined as unknown }
  return (index, taskId) => {
    if (!(index >= 0 && index < state.size && state.ids[index] === taskId) || state.status[index] !== SUCCEEDED) return undefined
    const firstStartedAt = state.firstStartedAt[index] as number
    const finishedAt = state.finishedAt[index] as number
    if (firstStartedAt < 0 || finishedAt < 0 || state.extraOrUndefined(index) !== undefined) return undefined
    found.attempts = state.attempts[index] as number
    found.finishedAt = finishedAt
    found.durationMs = finishedAt - firstStartedAt
    found.output = state.output(index)
    return found
  }
}

function reportTasks(state: RunState): Record<string, TaskReport> {
  const tasks = Object.create(null) as Record<string, TaskReport>
  for (let i = 0; i < state.size; i++) tasks[state.ids[i] as string] = reportOf(state, i)
  return tasks
}

function reportOf(state: RunState, i: number): TaskReport {
  const firstStartedAt = state.firstStartedAt[i] as number
  const finishedAt = state.finishedAt[i] as number
  const started = firstStartedAt >= 0
  const finished = finishedAt >= 0
  // The common case (a task that ran and has no rare state) as one literal of a fixed shape:
  // half the cost of adding the fields one by one, which matters at 100,000 tasks.
  if (started && finished && state.extraOrUndefined(i) === undefined) {
    const id = state.ids[i] as string
    const tool = (state.shapes[i] as TaskShape).toolName
    const status = STATUS_NAMES[state.status[i] as number] as TaskStatus
    const attempts = state.attempts[i] as number
    const output = state.output(i)
    const durationMs = finishedAt - firstStartedAt
    return output === undefined
      ? { id, tool, status, attempts, startedAt: firstStartedAt, finishedAt, durationMs }
      : { id, tool, status, attempts, startedAt: firstStartedAt, finishedAt, durationMs, output }
  }
  const x = state.peek(i)
  const report: Record<string, unknown> = { id: state.ids[i], tool: (state.shapes[i] as TaskShape).toolName, status: STATUS_NAMES[state.status[i] as number], attempts: state.attempts[i] }
  if (started) report['startedAt'] = firstStartedAt
  if (finished) report['finishedAt'] = finishedAt
  if (started && finished) report['durationMs'] = finishedAt - firstStartedAt
  const output = state.output(i)
  if (output !== undefined) report['output'] = output
  if (x.error !== undefined) report['error'] = x.error
  if (x.failedAttempts !== undefined) report['failedAttempts'] = x.failedAttempts
  if (x.reason !== undefined) report['reason'] = x.reason
  if (x.blocked !== undefined) report['blocked'] = x.blocked
  if (x.forEachOwner >= 0) report['forEachOf'] = state.ids[x.forEachOwner]
  if (x.addedBy !== undefined) report['addedBy'] = x.addedBy
  if (x.rateKey !== undefined) report['rateKey'] = x.rateKey
  if (x.usage !== undefined) report['usage'] = x.usage
  if (x.bounces > 0) report['throttled'] = x.bounces
  return report as unknown as TaskReport
}
