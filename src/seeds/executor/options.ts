/**
 * Options of the {@link Executor} and of its calls, resolved once at the boundary: bad values throw
 * `TW_INVALID_OPTION` naming the option, what was expected and what was received.
 * @module
 */
import type { Clock } from '../../core/clock.js'
import type { Duration } from '../../core/duration.js'
import { toMs } from '../../core/duration.js'
import { InvalidOptionError } from '../../core/errors.js'
import { checkFunction, checkSignal, refuseUnknownOptions } from '../../core/known-options.js'
import type { Logger } from '../../core/logger.js'
import { ToolRegistry } from '../../core/registry.js'
import type { Engine } from '../../engine/engine.js'
import type { AnyTool } from '../../core/tool.js'
import type { BuiltinToolOptions } from '../../tools/index.js'
import type { ProgressListener } from './types.js'

/** Limits applied to every task (LAIOS `ResourceLimits`). */
export interface ExecutorLimits {
  /** Per-attempt time limit: ms, or a string like `'30s'`. @default undefined (none) */
  readonly timeout?: Duration
}

/** Options of `new Executor()`. */
export interface ExecutorOptions {
  /**
   * The tools tasks may call, as a registry (copied when the executor is built: tools registered
   * later are not seen). When given, it is the whole tool set and `builtins` defaults to `false`.
   */
  readonly registry?: ToolRegistry
  /** Tools besides the built-ins (an alternative to `registry`; both may be given). */
  readonly tools?: Iterable<AnyTool>
  /** Built-in tools (`fs.*` confined to a root, `http.fetch`); `false` leaves them out. @default false with `registry`, else {} (fs rooted at the working directory) */
  readonly builtins?: BuiltinToolOptions | false
  /** Per-task limits. @default {} */
  readonly limits?: ExecutorLimits
  /** Tasks running at once across every call of this executor (the engine's slots). @default 4 */
  readonly maxWorkers?: number
  /** Record checkpoints and timings for `getAllMetrics()`. @default true */
  readonly monitoring?: boolean
  /** Source of time and timers; pass a `ManualClock` in tests. @default the system clock */
  readonly clock?: Clock
  /** Structured logger handed to the engine and tools. @default silent */
  readonly logger?: Logger
  /**
   * An engine to run on instead of one of its own: calls then share its slots, its limits and
   * its store with everything else it runs. The executor's tools (`registry`, `tools`) are added
   * to it; `maxWorkers` caps this executor's calls together (a concurrency group of its own);
   * `builtins`, `clock` and `logger` are the engine's. `shutdown()` ends this executor's calls and
   * leaves the engine open.
   */
  readonly engine?: Engine
}

/** Options of the executor after validation. */
export interface ResolvedExecutorOptions {
  readonly maxWorkers: number
  readonly timeoutMs: number | undefined
  readonly monitoring: boolean
}

/** Options of `execute`, `executeTask` and `executeParallel`. */
export interface ExecuteOptions {
  /** Aborting it cancels the call: queued tasks never start, running ones see `ctx.signal` abort. */
  readonly signal?: AbortSignal
  /** Receives `started`, `progress`, `retrying` and `finished` events of the call's tasks. */
  readonly onProgress?: ProgressListener
}

/** Options of `executeWithRetry`. */
export interface RetryOptions extends ExecuteOptions {
  /** Attempts after the first (the engine's `maxAttempts` is this + 1). @default 3 */
  readonly maxRetries?: number
  /** Wait before the first retry: ms, or a string like `'500ms'` (LAIOS takes seconds). @default 500 */
  readonly retryDelay?: Duration
  /** Growth of the wait per retry (`retryDelay × factor^(n-1)`). @default 2 */
  readonly backoffFactor?: number
  /** Largest wait between two attempts. @default '30s' */
  readonly maxDelay?: Duration
  /**
   * `none`: wait exactly the backoff, as LAIOS does. `full`: wait a random time up to it, which
   * spreads many clients retrying the same service. @default 'none'
   */
  readonly jitter?: 'none' | 'full'
}

/** Options of `shutdown()`. */
export interface ShutdownOptions {
  /**
   * `drain`: refuse new calls and wait for running ones to finish. `cancel`: also cancel them
   * (their results say `TW_CANCELLED`). A `cancel` during a drain escalates it. @default 'drain'
   */
  readonly mode?: 'drain' | 'cancel'
}

/** Retry settings of a task, in the engine's terms. */
export interface RetryPolicy {
  readonly maxAttempts: number
  readonly initialDelay: number
  readonly factor: number
  readonly maxDelay: number
  readonly jitter: 'none' | 'full'
}

const EXECUTOR_OPTION_NAMES: readonly (keyof ExecutorOptions)[] = ['registry', 'tools', 'builtins', 'limits', 'maxWorkers', 'monitoring', 'clock', 'logger', 'engine']

/** Checks the options of one call (`execute…`) before anything starts; `retry`: of `executeWithRetry`. */
export function checkCallOptions(options: ExecuteOptions | RetryOptions, retry: boolean): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options)
  refuseUnknownOptions(retry ? 'executeWithRetry' : 'execute', options, retry ? RETRY_OPTION_NAMES : CALL_OPTION_NAMES)
  checkSignal(options.signal)
  checkFunction(options.onProgress, 'onProgress')
}

const CALL_OPTION_NAMES: readonly string[] = ['signal', 'onProgress']
const RETRY_OPTION_NAMES: readonly string[] = [...CALL_OPTION_NAMES, 'maxRetries', 'retryDelay', 'backoffFactor', 'maxDelay', 'jitter']

/** Checks the executor's options. */
export function resolveExecutorOptions(options: ExecutorOptions): ResolvedExecutorOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options)
  // A LAIOS-style key (max_workers, timeout_seconds) or a typo would otherwise be a setting silently not applied.
  refuseUnknownOptions('new Executor', options, EXECUTOR_OPTION_NAMES)
  if (options.limits !== undefined) {
    if (typeof options.limits !== 'object' || options.limits === null) throw new InvalidOptionError('limits', 'an object ({ timeout })', options.limits)
    refuseUnknownOptions('new Executor', options.limits, ['timeout'], 'limits.')
  }
  if (options.registry !== undefined && !(options.registry instanceof ToolRegistry)) throw new InvalidOptionError('registry', 'a ToolRegistry (taskweave/ports)', options.registry)
  if (options.tools !== undefined && typeof (options.tools as { [Symbol.iterator]?: unknown } | null)?.[Symbol.iterator] !== 'function') throw new InvalidOptionError('tools', 'a list of tools', options.tools)
  if (options.monitoring !== undefined && typeof options.monitoring !== 'boolean') throw new InvalidOptionError('monitoring', 'true or false', options.monitoring)
  if (options.engine !== undefined) {
    if (typeof options.engine !== 'object' || options.engine === null || typeof options.engine.start !== 'function') throw new InvalidOptionError('engine', 'an engine from createEngine()', options.engine)
    for (const name of ['builtins', 'clock', 'logger'] as const) if (options[name] !== undefined) throw new InvalidOptionError(name, 'left out when an engine is given (the engine has its own)', options[name])
  }
  const maxWorkers = options.maxWorkers ?? 4
  if (!Number.isInteger(maxWorkers) || maxWorkers < 1) throw new InvalidOptionError('maxWorkers', 'an integer ≥ 1', maxWorkers)
  const timeout = options.limits?.timeout
  const timeoutMs = timeout === undefined ? undefined : toMs('limits.timeout', timeout)
  if (timeoutMs === 0) throw new InvalidOptionError('limits.timeout', 'a duration > 0', timeout)
  return { maxWorkers, timeoutMs, monitoring: options.monitoring ?? true }
}

/** Maps `executeWithRetry` options to the engine's retry policy. */
export function resolveRetryOptions(options: RetryOptions): RetryPolicy {
  const maxRetries = options.maxRetries ?? 3
  if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 999) throw new InvalidOptionError('maxRetries', 'an integer from 0 to 999', maxRetries)
  const factor = options.backoffFactor ?? 2
  if (!(factor >= 1 && factor <= 100)) throw new InvalidOptionError('backoffFactor', 'a number from 1 to 100', factor)
  const jitter = options.jitter ?? 'none'
  if (jitter !== 'none' && jitter !== 'full') throw new InvalidOptionError('jitter', "'none' or 'full'", jitter)
  return {
    maxAttempts: maxRetries + 1,
    initialDelay: toMs('retryDelay', options.retryDelay ?? 500),
    factor,
    maxDelay: toMs('maxDelay', options.maxDelay ?? 30_000),
    jitter,
  }
}
