/** Builds the run result from the task nodes; the per-task report is built on first read. @module */
import type { RunResult, RunUsage, TaskReport } from './report.js'
import type { RunStatus, TaskStatus } from './states.js'
import type { TaskShape } from '../workflow/compile.js'
import type { RunState } from './run-state.js'
import { FAILED, SKIPPED, STATUS_NAMES } from './states.js'

/** What the result needs besides the nodes. */
export interface RunSummary {
  readonly runId: string
  readonly workflowId: string
  readonly workflowHash: () => string
  readonly startedAt: string
  readonly durationMs: number
  /** Set when cancel or failFast decided the status. */
  readonly stopStatus: RunStatus | undefined
  readonly stopReason: string | undefined
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
  else if (failed.length === 0 && failureSkips === 0) status = 'succeeded'
  else status = counts.succeeded > 0 ? 'partial' : 'failed'
  // A run of 100,000 tasks should not pay for 100,000 report objects nobody reads: the report and
  // the hash are getters, computed on first read (own and enumerable, so JSON.stringify includes
  // them). They are shared functions defined one by one on a plain object, in the documented key
  // order: an object literal with getters is made in dictionary mode, slower to make and to read.
  const result = { runId: summary.runId, workflowId: summary.workflowId } as Partial<Record<keyof RunResult, unknown>>
  Object.defineProperty(result, 'workflowHash', HASH_PROPERTY)
  result.status = status
  result.startedAt = summary.startedAt
  result.durationMs = summary.durationMs
  result.counts = counts
  Object.defineProperty(result, 'tasks', TASKS_PROPERTY)
  result.failed = failed
  if (summary.stopReason !== undefined) result.reason = summary.stopReason
  if (summary.usage !== undefined) result.usage = summary.usage
  // The result holds a fresh symbol and the state is found by it: a primitive, so a Proxy around
  // the result (Vue's reactive(), a read-only view) hands it through unchanged, where an object
  // would be wrapped (and the run's state behind it would no longer be readable).
  const key = Symbol('run result')
  statesByKey.set(key, { state, workflowHash: summary.workflowHash, hash: undefined, tasks: undefined })
  Object.defineProperty(result, RESULT_KEY, { value: key })
  return result as unknown as RunResult
}

/** What a result's getters read: the run's state, and what they computed already. */
interface ResultState {
  readonly state: RunState
  readonly workflowHash: () => string
  hash: string | undefined
  tasks: Record<string, TaskReport> | undefined
}

/** The property of a result holding its key into {@link statesByKey} (not enumerable: JSON, spreads and structured clones leave it out). */
const RESULT_KEY = Symbol('taskweave.runResult')

/** Each result's {@link ResultState}, by the result's own symbol (dropped with the result). */
const statesByKey = new WeakMap<symbol, ResultState>()

function stateBehind(result: unknown): ResultState | undefined {
  if (typeof result !== 'object' || result === null) return undefined
  const key = (result as Record<symbol, unknown>)[RESULT_KEY]
  return typeof key === 'symbol' ? statesByKey.get(key) : undefined
}

const HASH_PROPERTY: PropertyDescriptor = {
  get(this: unknown): string | undefined {
    const behind = stateBehind(this)
    return behind === undefined ? undefined : (behind.hash ??= behind.workflowHash())
  },
  enumerable: true,
  configurable: true,
}

const TASKS_PROPERTY: PropertyDescriptor = {
  get(this: unknown): Record<string, TaskReport> | undefined {
    const behind = stateBehind(this)
    return behind === undefined ? undefined : (behind.tasks ??= reportTasks(behind.state))
  },
  enumerable: true,
  configurable: true,
}

/**
 * The report of the task at `index` (its place in the compiled workflow) of a finished run, built
 * alone: for code inside the package that knows its tasks by index (the executor facade maps a
 * batch back this way), without making the whole `result.tasks` record. Undefined for a result
 * not built here or an index out of range.
 */
export function taskReportAt(result: RunResult, index: number): TaskReport | undefined {
  const state = stateBehind(result)?.state
  if (state === undefined || !(index >= 0 && index < state.size)) return undefined
  return reportOf(state, index)
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
    const output = state.outputs[i]
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
  if (state.outputs[i] !== undefined) report['output'] = state.outputs[i]
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
