/** Options of the {@link WorkflowOrchestrator}, resolved once at construction. @module */
import type { Clock } from '../../core/clock.js'
import type { DurationSpec, RetrySpec } from '../../core/spec.js'
import type { RateLimitSpec } from '../../core/rate.js'
import { resolveRateTable } from '../../core/rate-spec.js'
import { InvalidOptionError } from '../../core/errors.js'
import { checkFunction, checkSignal, refuseUnknownOptions } from '../../core/known-options.js'
import type { Logger } from '../../core/logger.js'
import type { Engine, EngineOptions } from '../../engine/engine.js'
import type { TaskweaveEvent } from '../../observe/events.js'
import { ID_PATTERN, workflowSchemas } from '../../workflow/schema.js'
import type { AgentHandler } from './types.js'

/** Options of `new WorkflowOrchestrator()`. */
export interface WorkflowOrchestratorOptions {
  /** Agents by type; each becomes the tool `agent.<type>`. Types: letters, digits, `_`, `.`, `-`. */
  readonly agents: Readonly<Record<string, AgentHandler>>
  /** `false` runs one task at a time, in dependency and priority order. @default true */
  readonly parallelExecution?: boolean
  /** Tasks running at once when `parallelExecution` is on. @default 10 */
  readonly maxConcurrentTasks?: number
  /** Let tasks be added while the workflow runs (from completion handlers or directly). @default false */
  readonly dynamicTasks?: boolean
  /** Cap per concurrency group; a group not listed is capped only by `maxConcurrentTasks`. @default {} */
  readonly concurrencyLimits?: Readonly<Record<string, number>>
  /** Source of time and timers; pass a `ManualClock` in tests. @default the system clock */
  readonly clock?: Clock
  /** Structured logger handed to the engine and agents. @default silent */
  readonly logger?: Logger
  /**
   * An engine to run on instead of one of its own: the workflows then share its slots, its
   * limits (a group cap counts this orchestrator's tasks with everyone else's) and its store.
   * The agents become its tools `orchestrator-<n>.<type>` (n per orchestrator, so two
   * orchestrators on one engine never clash); `clock` and `logger` are the engine's.
   */
  readonly engine?: Engine
  /**
   * A name that stays the same from one process to the next: the id of its workflows, and on a
   * shared engine the prefix of its agents' tools (`orchestrator.<name>.<type>` instead of
   * `orchestrator-<n>.<type>`). An orchestrator on an engine with a store needs one to resume
   * its runs after a restart (`resumeWorkflow`). Letters, digits, `_` and `-`. @default 'orchestrator'
   */
  readonly name?: string
  /**
   * Rate budgets by key (requests and tokens per minute…, as a workflow's `limits.rates`), for
   * tasks that name a `rateKey`: an LLM provider's quota shared by every task that calls it.
   */
  readonly rates?: Readonly<Record<string, RateLimitSpec>>
  /** Retry policy of every task that sets none (the engine's `retry`). @default one attempt */
  readonly defaultRetry?: Partial<RetrySpec>
  /** Per-attempt time limit of every task that sets none. @default none */
  readonly defaultTimeout?: DurationSpec
  /**
   * Scaling with the load (the seed's "dynamic scaling of concurrent tasks based on system load"):
   * the orchestrator's engine lowers its slots while the event loop lags or memory runs high, and
   * raises them back up to `maxConcurrentTasks` (the engine's `autoscale`). On an engine of your
   * own, give it to `createEngine` instead. @default off
   */
  readonly autoscale?: EngineOptions['autoscale']
}

/** Options of one `executeWorkflow()`. */
export interface ExecuteWorkflowOptions {
  /** Aborting it cancels the workflow; the result says `cancelled` and lists what had finished. */
  readonly signal?: AbortSignal
  /** Receives every engine event of this run (real-time monitoring). */
  readonly onEvent?: (event: TaskweaveEvent) => void
  /** Id of the run (what `resumeWorkflow` takes after a restart). @default a random UUID */
  readonly runId?: string
}

/** Options of one `resumeWorkflow()`. */
export interface ResumeWorkflowOptions {
  /** Aborting it cancels the workflow; the result says `cancelled` and lists what had finished. */
  readonly signal?: AbortSignal
  /** Receives every engine event of the resumed run. */
  readonly onEvent?: (event: TaskweaveEvent) => void
}

/** Options after validation. */
export interface ResolvedOrchestratorOptions {
  readonly concurrency: number
  readonly dynamicTasks: boolean
  readonly groups: Readonly<Record<string, number>>
  /** The workflow id of its runs. */
  readonly name: string
  /** Whether `name` was given (a stable tool prefix on a shared engine). */
  readonly named: boolean
  readonly rates: Readonly<Record<string, RateLimitSpec>> | undefined
  readonly defaults: { readonly retry?: Partial<RetrySpec>; readonly timeout?: DurationSpec } | undefined
}

const AGENT_TYPE = /^[\w.-]{1,100}$/

const ORCHESTRATOR_OPTION_NAMES: readonly (keyof WorkflowOrchestratorOptions)[] = ['agents', 'parallelExecution', 'maxConcurrentTasks', 'dynamicTasks', 'concurrencyLimits', 'clock', 'logger', 'engine', 'name', 'rates', 'defaultRetry', 'defaultTimeout', 'autoscale']

/** Checks the options of one `executeWorkflow()` (before anything starts). */
export function checkExecuteWorkflowOptions(options: ExecuteWorkflowOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options)
  refuseUnknownOptions('executeWorkflow', options, ['signal', 'onEvent', 'runId'])
  checkSignal(options.signal)
  checkFunction(options.onEvent, 'onEvent')
}

/** Checks the options of one `resumeWorkflow()`. */
export function checkResumeWorkflowOptions(runId: unknown, options: ResumeWorkflowOptions): void {
  if (typeof runId !== 'string' || runId.length === 0) throw new InvalidOptionError('runId', 'the id of a run to resume', runId)
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options)
  refuseUnknownOptions('resumeWorkflow', options, ['signal', 'onEvent'])
  checkSignal(options.signal)
  checkFunction(options.onEvent, 'onEvent')
}

/** Checks the options; names the offending option on error. */
export function resolveOrchestratorOptions(options: WorkflowOrchestratorOptions): ResolvedOrchestratorOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object with agents', options)
  // A BeeAI-style key (max_concurrent_tasks) or a typo would otherwise be a setting silently not applied.
  refuseUnknownOptions('new WorkflowOrchestrator', options, ORCHESTRATOR_OPTION_NAMES)
  for (const name of ['parallelExecution', 'dynamicTasks'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') throw new InvalidOptionError(name, 'true or false', options[name])
  }
  if (options.engine !== undefined) {
    if (typeof options.engine !== 'object' || options.engine === null || typeof options.engine.start !== 'function') throw new InvalidOptionError('engine', 'an engine from createEngine()', options.engine)
    for (const name of ['clock', 'logger', 'autoscale'] as const) if (options[name] !== undefined) throw new InvalidOptionError(name, 'left out when an engine is given (the engine has its own)', options[name])
  }
  if (typeof options.agents !== 'object' || options.agents === null) throw new InvalidOptionError('agents', 'an object of agent handlers by type', options.agents)
  for (const [type, handler] of Object.entries(options.agents)) {
    if (!AGENT_TYPE.test(type)) throw new InvalidOptionError(`agents.${type}`, 'a type of letters, digits, "_", "." or "-" (at most 100)', type)
    const ok = typeof handler === 'function' || (typeof handler === 'object' && handler !== null && typeof handler.process === 'function')
    if (!ok) throw new InvalidOptionError(`agents.${type}`, 'a function or an object with process(data, ctx)', handler)
  }
  const parallel = options.parallelExecution ?? true
  const max = options.maxConcurrentTasks ?? 10
  if (!Number.isInteger(max) || max < 1) throw new InvalidOptionError('maxConcurrentTasks', 'an integer ≥ 1', max)
  const groups: Record<string, number> = {}
  for (const [group, cap] of Object.entries(options.concurrencyLimits ?? {})) {
    if (!ID_PATTERN.test(group)) throw new InvalidOptionError(`concurrencyLimits.${group}`, 'a group name matching [A-Za-z0-9_-]{1,128}', group)
    if (!Number.isInteger(cap) || cap < 1) throw new InvalidOptionError(`concurrencyLimits.${group}`, 'an integer ≥ 1', cap)
    groups[group] = cap
  }
  if (options.name !== undefined && (typeof options.name !== 'string' || !ID_PATTERN.test(options.name))) throw new InvalidOptionError('name', 'a name matching [A-Za-z0-9_-]{1,128}', options.name)
  // Checked now, named as the caller wrote them, rather than by the first run's workflow.
  if (options.rates !== undefined) resolveRateTable('rates', options.rates)
  checkTaskDefaults(options.defaultRetry, options.defaultTimeout)
  const defaults = {
    ...(options.defaultRetry !== undefined ? { retry: options.defaultRetry } : {}),
    ...(options.defaultTimeout !== undefined ? { timeout: options.defaultTimeout } : {}),
  }
  return {
    concurrency: parallel ? max : 1,
    dynamicTasks: options.dynamicTasks ?? false,
    groups,
    name: options.name ?? 'orchestrator',
    named: options.name !== undefined,
    rates: options.rates,
    defaults: Object.keys(defaults).length > 0 ? defaults : undefined,
  }
}

/** Checks `defaultRetry` and `defaultTimeout` as the task schema would, naming the option. */
function checkTaskDefaults(retry: unknown, timeout: unknown): void {
  if (retry === undefined && timeout === undefined) return
  const checked = workflowSchemas().task.safeParse({ id: 'defaults', tool: 'defaults', ...(retry !== undefined ? { retry } : {}), ...(timeout !== undefined ? { timeout } : {}) })
  if (checked.success) return
  const issue = checked.error.issues[0]
  const [head, ...rest] = issue?.path.map(String) ?? []
  const option = [head === 'retry' ? 'defaultRetry' : 'defaultTimeout', ...rest].join('.')
  let received: unknown = head === 'retry' ? retry : timeout
  for (const key of rest) received = typeof received === 'object' && received !== null ? (received as Record<string, unknown>)[key] : undefined
  throw new InvalidOptionError(option, `valid (${issue?.message ?? 'see the retry options'})`, received)
}
