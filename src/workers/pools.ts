/**
 * Worker-thread pools (piscina), shared: every worker tool whose module and pool options are the
 * same uses one pool, created on its first task. `closeWorkerPools()` closes the shared pools;
 * a later task starts a fresh pool, so closing is safe at the end of any unit of work (a test, a
 * CLI command).
 *
 * Every thread runs `thread-entry`, named with each task rather than when the pool is made: piscina
 * then reports an entry that fails to load as that task's error, instead of a pool-level error
 * event with the task left waiting forever. The entry loads the worker module and answers with an
 * envelope (see `thread-entry.ts`).
 * @module
 */
import { createRequire } from 'node:module'
import type { Piscina } from 'piscina'
import { silentLogger } from '../core/logger.js'
import type { Logger } from '../core/logger.js'
import { deserializeError } from '../core/errors.js'
import type { WorkerModule } from './module.js'
import { THREAD_ENTRY, threadExecArgv } from './module.js'
import type { ResolvedWorkerPoolOptions } from './options.js'
import type { ThreadResult, ThreadTask } from './thread-entry.js'

let piscina: typeof Piscina | undefined

// piscina loads with the first pool, not with the package: most processes never start a thread.
// It is CommonJS, so it loads synchronously here (the same module `import` would give).
function loadPiscina(): typeof Piscina {
  piscina ??= (createRequire(import.meta.url)('piscina') as { Piscina: typeof Piscina }).Piscina
  return piscina
}

/** A snapshot of one pool. */
export interface WorkerPoolStats {
  /** Absolute path of the module the pool runs. */
  readonly module: string
  readonly threads: number
  readonly maxThreads: number
  /** Tasks waiting for a free thread. */
  readonly queued: number
  /** Tasks finished since the pool started. */
  readonly completed: number
  /** Share of thread time spent running tasks since the pool started, 0–1. */
  readonly utilization: number
}

/** One task for a pool: the input goes to the thread by structured clone. */
export interface PoolTask {
  readonly module: WorkerModule
  readonly exportName: string
  readonly input: unknown
  readonly signal: AbortSignal
}

interface Entry {
  readonly module: WorkerModule
  readonly pool: Piscina
}

/** A set of pools keyed by module and options. Dispose it (`await using`) to close them all. */
export class WorkerPools implements AsyncDisposable {
  readonly #entries = new Map<string, Entry>()
  readonly #logger: Logger

  /** @param options.logger where thread-level errors are reported @default silent */
  constructor(options: { readonly logger?: Logger } = {}) {
    this.#logger = options.logger ?? silentLogger
  }

  /**
   * Runs one task in the pool for `task.module` with `options`, starting the pool if needed.
   * Rejects with the function's error rebuilt from plain data (its code and retryability kept),
   * or with piscina's error when the thread itself failed or the signal aborted.
   */
  async run(task: PoolTask, options: ResolvedWorkerPoolOptions): Promise<unknown> {
    const { pool } = this.#entry(task.module, options)
    const message: ThreadTask = { filename: task.module.filename, exportName: task.exportName, input: task.input }
    const result = (await pool.run(message, { filename: THREAD_ENTRY.filename, signal: task.signal })) as ThreadResult
    if (result.ok) return result.value
    throw deserializeError(result.error)
  }

  /** Number of open pools. */
  get size(): number {
    return this.#entries.size
  }

  /** A snapshot of every open pool. */
  stats(): WorkerPoolStats[] {
    return [...this.#entries.values()].map(({ module, pool }) => ({
      module: module.filename,
      threads: pool.threads.length,
      maxThreads: pool.maxThreads,
      queued: pool.queueSize,
      completed: pool.completed,
      utilization: pool.utilization,
    }))
  }

  /**
   * Closes every open pool: running and queued tasks finish first, then the threads exit; with
   * `force`, queued tasks are rejected and running threads terminated at once. Every pool is
   * closed even when one fails; the first failure is rethrown. A later task opens a fresh pool.
   */
  async close(options: { readonly force?: boolean } = {}): Promise<void> {
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    const results = await Promise.allSettled(entries.map(({ pool }) => (options.force === true ? pool.destroy() : pool.close())))
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure !== undefined) throw failure.reason
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #entry(module: WorkerModule, options: ResolvedWorkerPoolOptions): Entry {
    const execArgv = threadExecArgv(module, options.execArgv)
    const key = JSON.stringify([module.filename, options.maxThreads, options.minThreads, options.idleTimeoutMs, execArgv ?? null])
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      const PiscinaPool = loadPiscina()
      const pool = new PiscinaPool({
        maxThreads: options.maxThreads,
        minThreads: options.minThreads,
        idleTimeout: options.idleTimeoutMs,
        ...(execArgv !== undefined ? { execArgv: [...execArgv] } : {}),
      })
      // Without a listener a thread-level error would be thrown as an unhandled 'error' event.
      pool.on('error', (err: unknown) => this.#logger.error('worker pool error', { module: module.filename, error: String(err) }))
      entry = { module, pool }
      this.#entries.set(key, entry)
    }
    return entry
  }
}

/** The pools worker tools use unless given their own. */
export const sharedWorkerPools: WorkerPools = new WorkerPools()

/**
 * Closes the shared worker pools (call it at shutdown, or in a test's `afterAll`).
 * @example
 * try { await engine.run(flow) } finally { await closeWorkerPools() }
 */
export function closeWorkerPools(options: { readonly force?: boolean } = {}): Promise<void> {
  return sharedWorkerPools.close(options)
}
