/**
 * The plain types of workflow definitions: what a user writes (YAML, JSON or code), what a task
 * added at run time is, what a journal or a worker message carries. They live in `core` so every
 * layer can name them; the zod schema in `workflow/schema.ts` validates them, and a type check
 * there keeps the two the same.
 * @module
 */
import type { RateLimitSpec, RunBudgetSpec } from './rate.js'

/** A duration: milliseconds, or a string like `'500ms'`, `'30s'`, `'5m'`, `'1h'`. */
export type DurationSpec = number | string

/** How a task's parents must have ended for it to run. */
export type TriggerRule = 'all_succeeded' | 'all_done' | 'any_succeeded' | 'none_failed'

/** A retry policy as written; every field has a default. */
export interface RetrySpec {
  /** Attempts in all, the first included. @default 1 */
  maxAttempts?: number | undefined
  /** Backoff ceiling before the first retry. @default 200 */
  initialDelay?: DurationSpec | undefined
  /** Growth of the backoff ceiling per retry. @default 2 */
  factor?: number | undefined
  /** Largest backoff ceiling. @default 30s */
  maxDelay?: DurationSpec | undefined
  /** `full`: wait a random time between 0 and the ceiling. @default 'full' */
  jitter?: 'full' | 'none' | undefined
  /** Retry only errors with one of these codes (e.g. `ECONNRESET`, `TW_TIMEOUT`). */
  retryOn?: string[] | undefined
}

/** A retry policy with every default filled and durations in ms. */
export interface ResolvedRetry {
  readonly maxAttempts: number
  readonly initialDelayMs: number
  readonly factor: number
  readonly maxDelayMs: number
  readonly jitter: 'full' | 'none'
  readonly retryOn: readonly string[] | undefined
}

/** A task as written by a user (YAML, JSON or code), or added at run time. */
export interface TaskSpec {
  /** Unique id within the workflow: letters, digits, `_` and `-`. */
  id: string
  /** Name of the tool to run (or give `agent`). */
  tool?: string | undefined
  /** Name of the agent to run instead of a tool; the task input is the agent input. */
  agent?: string | undefined
  /** Agent session whose instance runs the task (may be a template). Default: the run id. */
  session?: string | undefined
  /**
   * Agent tasks: run the agent's `stream()` and report each chunk as it comes, as a `task:progress`
   * event (`progress: { message: 'delta', data: <chunk> }`); the output is the stream's return value.
   */
  stream?: boolean | undefined
  description?: string | undefined
  /** Tool input; string values may hold `{{ templates }}`. */
  input?: Record<string, unknown> | undefined
  /** Tasks that must finish first (templates add their own). */
  dependsOn?: string[] | undefined
  /** CEL condition; the task is skipped when false. */
  when?: string | undefined
  /** Rule over parents. @default 'all_succeeded' */
  trigger?: TriggerRule | undefined
  /** Template giving a list; one task per item (`{{ item }}`, `{{ index }}`). */
  forEach?: string | undefined
  /** Higher runs first when slots are scarce. @default 0 */
  priority?: number | undefined
  /** Concurrency group (`limits.groups` caps it). */
  group?: string | undefined
  /** Expected duration hint (ms) for critical-path ordering. */
  cost?: number | undefined
  retry?: RetrySpec | undefined
  /** Per-attempt time limit. */
  timeout?: DurationSpec | undefined
  /**
   * False when running the task twice would do harm: a durable run then writes its start before
   * the tool runs, and after a crash during the attempt fails it `TW_UNCERTAIN` for a person to
   * decide instead of running it again. @default true (the tool's `idempotent`, else true)
   */
  idempotent?: boolean | undefined
  /**
   * What a resume does with this task when it may have run without its outcome being recorded
   * (it was `idempotent: false` and in flight when its process died, or it started
   * `durability.maxStartsWithoutOutcome` times without an outcome): `'fail'` fails it
   * `TW_UNCERTAIN` and the run goes on without it; `'retry'` runs it again with the same
   * `ctx.idempotencyKey`, for a tool whose service applies a key once (a payment API); `'park'`
   * stops the run, unfinished, until an operator records what happened (`engine.resolveParked()`,
   * `taskweave resolve`): it succeeded (with its output), it failed, or it must run again.
   * @default 'fail'
   */
  onUncertain?: 'fail' | 'retry' | 'park' | undefined
  /**
   * The rate key whose budgets the task's calls count against (`openai:gpt-4o`): requests,
   * tokens and concurrent calls as `limits.rates` sets them, engine-wide. Overrides the tool's.
   */
  rateKey?: string | undefined
}

/** A declared workflow input. */
export interface InputSpec {
  type?: 'string' | 'number' | 'boolean' | 'object' | 'array' | undefined
  description?: string | undefined
  default?: unknown
  required?: boolean | undefined
}

/** A workflow as written by a user. */
export interface WorkflowSpec {
  id: string
  name?: string | undefined
  version?: string | number | undefined
  description?: string | undefined
  /** Modules (relative to the workflow file) whose exported tools join the registry. */
  tools?: string[] | undefined
  inputs?: Record<string, InputSpec> | undefined
  defaults?: { retry?: RetrySpec | undefined; timeout?: DurationSpec | undefined; group?: string | undefined } | undefined
  limits?:
    | {
        concurrency?: number | undefined
        groups?: Record<string, number> | undefined
        /** Budgets per rate key (`openai:gpt-4o: { requests: 500/min, tokens: 200000/min }`). */
        rates?: Record<string, RateLimitSpec> | undefined
      }
    | undefined
  /** What one run may spend on LLM calls. */
  budget?: RunBudgetSpec | undefined
  /** Stop the run at the first task failure. */
  failFast?: boolean | undefined
  tasks: TaskSpec[]
}
