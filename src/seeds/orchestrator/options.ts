/** Options of the {@link WorkflowOrchestrator}, resolved once at construction. @module */
import type { Clock } from '../../core/clock.js'
import { InvalidOptionError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import type { TaskweaveEvent } from '../../observe/events.js'
import { ID_PATTERN } from '../../workflow/schema.js'
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
}

/** Options of one `executeWorkflow()`. */
export interface ExecuteWorkflowOptions {
  /** Aborting it cancels the workflow; the result says `cancelled` and lists what had finished. */
  readonly signal?: AbortSignal
  /** Receives every engine event of this run (real-time monitoring). */
  readonly onEvent?: (event: TaskweaveEvent) => void
}

/** Options after validation. */
export interface ResolvedOrchestratorOptions {
  readonly concurrency: number
  readonly dynamicTasks: boolean
  readonly groups: Readonly<Record<string, number>>
}

const AGENT_TYPE = /^[\w.-]{1,100}$/

/** Checks the options; names the offending option on error. */
export function resolveOrchestratorOptions(options: WorkflowOrchestratorOptions): ResolvedOrchestratorOptions {
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
  return { concurrency: parallel ? max : 1, dynamicTasks: options.dynamicTasks ?? false, groups }
}
