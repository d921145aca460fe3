/**
 * Worker tools: tools whose work runs in a worker-thread pool, so CPU-heavy steps (parsing,
 * scoring, embedding maths, compression) never block the scheduler's event loop.
 *
 * The tool's input is validated on the main thread as usual, then posted to a thread (structured
 * clone) where the module's exported function runs; its return value comes back the same way.
 * Aborting `ctx.signal` (run cancel, task timeout) or the tool's own `timeout` firing removes a
 * queued task, or terminates the thread running it: synchronous code cannot be interrupted any
 * other way. The pool replaces the thread. An error thrown by the function comes back as plain
 * data and is rebuilt with its code and retryability, so the retry policy treats it exactly as
 * it would the same error thrown by an in-process tool.
 * @module
 */
import { pathToFileURL } from 'node:url'
import type { z } from 'zod'
import { systemClock } from '../core/clock.js'
import type { Clock } from '../core/clock.js'
import { toMs } from '../core/duration.js'
import type { Duration } from '../core/duration.js'
import { InvalidOptionError, TaskweaveError, TimeoutError } from '../core/errors.js'
import { defineToolWith } from '../core/tool.js'
import type { Tool, ToolContext, ToolDefinition } from '../core/tool.js'
import { locateWorkerModule } from './module.js'
import type { WorkerModule } from './module.js'
import { resolveWorkerPoolOptions } from './options.js'
import type { WorkerPoolOptions } from './options.js'
import { sharedWorkerPools } from './pools.js'
import type { WorkerPools } from './pools.js'

/** Definition of a worker tool, as passed to {@link defineWorkerTool}. */
export interface WorkerToolDefinition<Schema extends z.ZodType, Output> {
  /** Unique tool name. */
  readonly name: string
  readonly description?: string
  /** Schema of the input; checked on the main thread before the task is posted. */
  readonly input: Schema
  /** Schema of the function's return value; checked when it comes back (`TW_WORKER_OUTPUT` when it fails). */
  readonly output?: z.ZodType<Output>
  /**
   * The module holding the function: a file URL (`new URL('./work.ts', import.meta.url)`) or an
   * absolute path, `.js`/`.mjs` or `.ts`/`.mts` (loaded through tsx in the thread).
   */
  readonly module: URL | string
  /** The export to call with the input; may be async. @default 'default' */
  readonly exportName?: string
  /** Threads of the pool; tools with the same module and pool options share one pool. */
  readonly pool?: WorkerPoolOptions
  /** Per-task limit, counted from submission (queueing for a thread included); the thread is terminated when it fires. */
  readonly timeout?: Duration
  /**
   * `pool` runs in a worker thread. `inline` imports the module and calls the function on the
   * calling thread, blocking it (for debugging, comparisons, or where threads are unwelcome);
   * inline, a timeout or abort is only seen before and after the call. @default 'pool'
   */
  readonly mode?: 'pool' | 'inline'
  /** Pools to run in. @default the shared pools closed by `closeWorkerPools()` */
  readonly pools?: WorkerPools
  /** Clock of the `timeout`. @default the system clock */
  readonly clock?: Clock
  /** Mean cost hint (ms) for the ready queue. */
  readonly cost?: number
  /** Limit on the JSON size of the output, in bytes. */
  readonly maxOutputBytes?: number
}

/** What a worker tool says about where it runs. */
export interface WorkerToolInfo {
  readonly module: string
  readonly exportName: string
  readonly mode: 'pool' | 'inline'
}

/** A tool made by {@link defineWorkerTool}. */
export type WorkerTool<Schema extends z.ZodType = z.ZodType, Output = unknown> = Tool<Schema, Output> & { readonly worker: WorkerToolInfo }

/**
 * Defines a tool whose function runs in a worker-thread pool.
 * @example
 * // primes.ts: export default function countPrimes({ below }: { below: number }) { … }
 * const primes = defineWorkerTool({
 *   name: 'math.countPrimes',
 *   input: z.object({ below: z.number().int().positive() }),
 *   output: z.number(),
 *   module: new URL('./primes.ts', import.meta.url),
 *   pool: { maxThreads: 4 },
 *   timeout: '10s',
 * })
 * await using engine = createEngine({ tools: [primes] })
 * // … and at shutdown: await closeWorkerPools()
 */
export function defineWorkerTool<Schema extends z.ZodType, Output = unknown>(definition: WorkerToolDefinition<Schema, Output>): WorkerTool<Schema, Output> {
  const module = locateWorkerModule(definition.module)
  const exportName = definition.exportName ?? 'default'
  if (typeof exportName !== 'string' || exportName.length === 0) throw new InvalidOptionError('exportName', 'a non-empty export name', exportName)
  const mode = definition.mode ?? 'pool'
  if (mode !== 'pool' && mode !== 'inline') throw new InvalidOptionError('mode', "'pool' or 'inline'", mode)
  const poolOptions = resolveWorkerPoolOptions(definition.pool)
  const timeoutMs = definition.timeout === undefined ? undefined : toMs('timeout', definition.timeout)
  const pools = definition.pools ?? sharedWorkerPools
  const clock = definition.clock ?? systemClock
  const where = { module: module.filename, exportName, tool: definition.name }

  const runInPool = async (input: unknown, ctx: ToolContext): Promise<unknown> => {
    ctx.signal.throwIfAborted()
    const timer = new AbortController()
    const cancelTimer =
      timeoutMs === undefined
        ? undefined
        : clock.setTimer(timeoutMs, () => timer.abort(new TimeoutError(`worker tool "${definition.name}" exceeded its ${timeoutMs} ms timeout`, { details: { ...where, timeoutMs } })))
    const signal = timeoutMs === undefined ? ctx.signal : AbortSignal.any([ctx.signal, timer.signal])
    try {
      return await pools.run({ module, exportName, input, signal }, poolOptions)
    } catch (err) {
      // piscina rejects with its own AbortError; the reason we aborted with is the useful error.
      if (signal.aborted) throw signal.reason
      throw workerFailed(err, where)
    } finally {
      cancelTimer?.()
    }
  }

  let inlineFn: Promise<(input: unknown) => unknown> | undefined
  const runInline = async (input: unknown, ctx: ToolContext): Promise<unknown> => {
    ctx.signal.throwIfAborted()
    inlineFn ??= importExport(module, exportName)
    const fn = await inlineFn
    const startedAt = clock.now()
    const result = await fn(input)
    ctx.signal.throwIfAborted()
    if (timeoutMs !== undefined && clock.now() - startedAt > timeoutMs) {
      throw new TimeoutError(`worker tool "${definition.name}" exceeded its ${timeoutMs} ms timeout`, { details: { ...where, timeoutMs } })
    }
    return result
  }

  const run = mode === 'pool' ? runInPool : runInline
  // In a workflow, a task waits for one of its pool's threads before it takes an engine slot (and
  // before its timeout starts), through the engine's keyed limiter, instead of inside piscina's queue.
  const threadKey = `workers:${JSON.stringify([module.filename, poolOptions.maxThreads, poolOptions.minThreads, poolOptions.idleTimeoutMs])}`
  const tool: ToolDefinition<Schema, Output> = {
    name: definition.name,
    input: definition.input,
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    ...(definition.cost !== undefined ? { cost: definition.cost } : {}),
    ...(definition.maxOutputBytes !== undefined ? { maxOutputBytes: definition.maxOutputBytes } : {}),
    ...(mode === 'pool' ? { permit: { key: () => threadKey, limit: poolOptions.maxThreads } } : {}),
    run: async (input, ctx) => checkOutput(await run(input, ctx), definition.output, where),
  }
  return defineToolWith(tool, { worker: { module: module.filename, exportName, mode } satisfies WorkerToolInfo })
}

function checkOutput<Output>(value: unknown, schema: z.ZodType<Output> | undefined, where: Readonly<Record<string, string>>): Output {
  if (schema === undefined) return value as Output
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  throw new TaskweaveError('TW_WORKER_OUTPUT', `worker tool "${where['tool']}" returned output its schema rejects: ${parsed.error.issues.map((i) => i.message).join('; ')}`, {
    retryable: false,
    cause: parsed.error,
    details: where,
  })
}

/**
 * A failure of the thread itself (it crashed, exited, or could not post the result back) as a
 * retryable `TW_WORKER_FAILED`. Errors thrown by the function arrive already rebuilt with their
 * own code and pass through.
 */
function workerFailed(err: unknown, where: Readonly<Record<string, string>>): unknown {
  if (TaskweaveError.is(err)) return err
  // A thread's own error may arrive as a plain object (a DOMException does): its message still says what happened.
  const message = err instanceof Error ? err.message : typeof (err as { message?: unknown } | null)?.message === 'string' ? (err as { message: string }).message : String(err)
  return new TaskweaveError('TW_WORKER_FAILED', `worker tool "${where['tool']}" failed in its thread: ${message}`, { cause: err, details: where })
}

async function importExport(module: WorkerModule, exportName: string): Promise<(input: unknown) => unknown> {
  const namespace = (await import(pathToFileURL(module.filename).href)) as Record<string, unknown>
  const fn = namespace[exportName]
  if (typeof fn !== 'function') {
    throw new TaskweaveError('TW_WORKER_EXPORT', `${module.filename} has no function export "${exportName}"`, { retryable: false, details: { module: module.filename, exportName } })
  }
  return fn as (input: unknown) => unknown
}
