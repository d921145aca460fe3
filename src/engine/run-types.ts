/**
 * The types a run is made of: what completion handlers receive and may do, the settings of one
 * run, and what a run borrows from its engine.
 * @module
 */
import type { AttemptRunner } from '../core/attempt.js'
import type { Clock } from '../core/clock.js'
import type { SerializedError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { ToolRegistry } from '../core/registry.js'
import type { EventEmitter } from '../observe/emitter.js'
import type { KeyedLimiter } from '../scheduler/keyed-limiter.js'
import type { SlotPool } from '../scheduler/slots.js'
import type { RateLimiter } from '../scheduler/rate-limiter.js'
import type { RunBudgetSpec } from '../core/rate.js'
import type { TaskSpec } from '../workflow/types.js'
import type { TaskStatus } from './states.js'
import type { ToolStats } from './tool-stats.js'

/** What a completion handler receives. */
export interface TaskCompletion {
  readonly runId: string
  readonly taskId: string
  readonly status: TaskStatus
  readonly output: unknown
  readonly error?: SerializedError
}

/** Lets a completion handler grow the running workflow. */
export interface RunControl {
  readonly runId: string
  /** Adds a task; throws `TW_VALIDATION` naming the problem (unknown tool, unknown dependency…). */
  addTask(task: TaskSpec): void
}

/** Called when a task reaches a final state; may add tasks. */
export type TaskCompleteHandler = (completion: TaskCompletion, run: RunControl) => void | Promise<void>

/** Settings of one run, resolved by the engine. */
export interface RunSettings {
  readonly runId?: string | undefined
  readonly inputs: Readonly<Record<string, unknown>>
  readonly concurrency: number
  readonly failFast: boolean
  readonly signal?: AbortSignal | undefined
  readonly onTaskComplete?: TaskCompleteHandler | Readonly<Record<string, TaskCompleteHandler>> | undefined
  /** Whether group caps count across the engine's runs (default) or within this run only. */
  readonly groupScope?: 'engine' | 'run' | undefined
  /** What the run may spend on LLM calls (overrides the workflow's `budget`). */
  readonly budget?: RunBudgetSpec | undefined
}

/** What a run borrows from its engine. */
export interface RunEnvironment {
  readonly clock: Clock
  readonly random: () => number
  readonly logger: Logger
  readonly registry: ToolRegistry
  readonly slots: SlotPool
  /** Runs the attempts the run dispatches (the local runner, unless the engine was given another). */
  readonly runner: AttemptRunner
  /**
   * Whether {@link runner} is one the engine was given: it gets each request as plain data (the
   * engine's own request object reads fields through getters, which its own runner alone expects).
   */
  readonly plainRequests: boolean
  /** Engine-wide keyed permits (concurrency groups, and later rate keys and sessions). */
  readonly limiter: KeyedLimiter
  /** Group caps set on the engine; they override what a workflow declares for the same group. */
  readonly groupLimits?: Readonly<Record<string, number>> | undefined
  /** Engine-wide rate keys: budgets per provider key, shared by every run. */
  readonly rates: RateLimiter
  readonly events: EventEmitter
  readonly toolStats: ToolStats
  readonly maxOutputBytes: number
  readonly maxForEachItems: number
  /**
   * Told that a run ended, just before its result resolves (the engine drops it from its active
   * runs): one engine function for every run, where a reaction to each run's promise cost an
   * allocation and a microtask per run.
   */
  readonly onRunEnded?: ((run: object) => void) | undefined
}

