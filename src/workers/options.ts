/** Options of a worker-thread pool, and their one-time resolution. @module */
import { availableParallelism } from 'node:os'
import { toMs } from '../core/duration.js'
import type { Duration } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'

/** How the threads of one worker pool are kept. */
export interface WorkerPoolOptions {
  /** Threads at most. CPU-bound work gains nothing beyond the core count. @default os.availableParallelism() */
  readonly maxThreads?: number
  /** Threads kept even when idle (started with the pool's first task). @default 0 */
  readonly minThreads?: number
  /**
   * How long an idle thread above `minThreads` lives. Long enough to span bursts: starting a
   * thread costs tens of ms for a JS module and about a second for a TypeScript one (tsx). @default '30s'
   */
  readonly idleTimeout?: Duration
  /**
   * Node flags of the threads. @default the process's own flags, plus `--import tsx` when the
   * module is TypeScript and the process does not load tsx already
   */
  readonly execArgv?: readonly string[]
}

/** Options with every default applied and durations in ms. */
export interface ResolvedWorkerPoolOptions {
  readonly maxThreads: number
  readonly minThreads: number
  readonly idleTimeoutMs: number
  readonly execArgv: readonly string[] | undefined
}

/** Checks and resolves pool options; bad values throw `TW_INVALID_OPTION` naming the option. */
export function resolveWorkerPoolOptions(options: WorkerPoolOptions = {}): ResolvedWorkerPoolOptions {
  const maxThreads = options.maxThreads ?? availableParallelism()
  if (!Number.isInteger(maxThreads) || maxThreads < 1) throw new InvalidOptionError('pool.maxThreads', 'an integer ≥ 1', maxThreads)
  const minThreads = options.minThreads ?? 0
  if (!Number.isInteger(minThreads) || minThreads < 0 || minThreads > maxThreads) {
    throw new InvalidOptionError('pool.minThreads', `an integer from 0 to maxThreads (${maxThreads})`, minThreads)
  }
  const idleTimeoutMs = toMs('pool.idleTimeout', options.idleTimeout ?? '30s')
  const execArgv: readonly string[] | undefined = options.execArgv
  if (execArgv !== undefined && !(Array.isArray(execArgv) && execArgv.every((arg) => typeof arg === 'string'))) {
    throw new InvalidOptionError('pool.execArgv', 'an array of strings', execArgv)
  }
  return { maxThreads, minThreads, idleTimeoutMs, execArgv: execArgv === undefined ? undefined : [...execArgv] }
}
