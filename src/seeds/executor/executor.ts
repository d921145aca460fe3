/**
 * The LAIOS-style executor: runs tool calls alone, in parallel or with retries, and returns one
 * result per task in input order. It is a thin layer over one engine: every call becomes one run
 * of a workflow of independent tasks (see `batch.ts`), so limits, timeouts, retries and
 * cancellation are the engine's.
 *
 * Lifecycle: open → (shutdown) draining → closed. Open accepts calls. Draining refuses new calls
 * (`TW_CANCELLED`) and waits for running ones; `shutdown({ mode: 'cancel' })` also cancels them,
 * and may escalate a drain already under way. Closed: the engine is closed; `shutdown()` returns
 * the same promise every time.
 * @module
 */
import { createEngine } from '../../engine/engine.js'
import type { Engine, RunHandle } from '../../engine/engine.js'
import type { RunResult } from '../../engine/report.js'
import { succeededTaskReader, taskReportReader } from '../../engine/run-report.js'
import type { CompiledWorkflow } from '../../workflow/compile.js'
import { InvalidOptionError, TaskweaveError, ValidationError } from '../../core/errors.js'
import type { TaskweaveEvent } from '../../observe/events.js'
import { planBatch, planFlatBatch, refusedParameters, slotIndexOf, succeededResult, toTaskResult } from './batch.js'
import { compileFlatCalls } from '../../workflow/flat-calls.js'
import type { Batch, BatchSettings } from './batch.js'
import type { TaskErrorInfo } from './types.js'
import { progressName, TaskMonitor } from './monitor.js'
import type { MetricsEntry } from './monitor.js'
import { checkCallOptions, resolveExecutorOptions, resolveRetryOptions } from './options.js'
import type { ExecuteOptions, ExecutorOptions, ResolvedExecutorOptions, RetryPolicy, RetryOptions, ShutdownOptions } from './options.js'
import type { Context, ProgressData, ProgressListener, Task, TaskMetrics, TaskResult } from './types.js'

/** Numbers the executors that share an engine: each caps its tasks with a concurrency group of its own. */
let executorSerial = 0

/**
 * Executes tool calls for a session (LAIOS `Executor`). Dispose it (`await using`) to drain it.
 * @example
 * import { ToolRegistry } from 'taskweave/ports'
 * import { builtinTools } from 'taskweave/tools'
 * import { Executor } from 'taskweave/compat/laios'
 *
 * await using executor = new Executor({ registry: new ToolRegistry(builtinTools()), limits: { timeout: '30s' }, maxWorkers: 4 })
 * const context = { sessionId: 'tutorial-03', userId: 'demo' }
 * const results = await executor.executeParallel(
 *   [
 *     { toolName: 'fs.readFile', parameters: { path: 'README.md' } },
 *     { toolName: 'fs.listDirectory', parameters: { path: '.' } },
 *   ],
 *   context,
 * )
 * for (const r of results) console.log(r.success ? 'OK' : `FAIL ${r.error?.code}`, r.taskId, `${r.executionTimeMs} ms`)
 */
export class Executor implements AsyncDisposable {
  /** The engine underneath: its `events` see every run; its `registry` holds the tools. */
  readonly engine: Engine
  readonly #options: ResolvedExecutorOptions
  readonly #monitor = new TaskMonitor()
  readonly #active = new Set<RunHandle>()
  readonly #contexts = new Map<string, Context>()
  #state: 'open' | 'draining' | 'closed' = 'open'
  /** False when the engine was given (`{ engine }`): shutdown then leaves it open. */
  readonly #ownsEngine: boolean
  /** On a given engine, the group this executor's tasks share (capped at maxWorkers). */
  readonly #group: { readonly name: string; readonly cap: number } | undefined
  #closing: Promise<void> | undefined

  constructor(options: ExecutorOptions = {}) {
    this.#options = resolveExecutorOptions(options)
    const tools = [...(options.registry?.list() ?? []), ...(options.tools ?? [])]
    if (options.engine !== undefined) {
      // Calls share the engine's slots; maxWorkers caps this executor's tasks together.
      for (const tool of tools) options.engine.registry.register(tool)
      this.engine = options.engine
      this.#ownsEngine = false
      this.#group = { name: `executor-${++executorSerial}`, cap: this.#options.maxWorkers }
    } else {
      this.engine = createEngine({
        tools,
        builtins: options.builtins ?? (options.registry !== undefined ? false : {}),
        concurrency: this.#options.maxWorkers,
        ...(options.clock !== undefined ? { clock: options.clock } : {}),
        ...(options.logger !== undefined ? { logger: options.logger } : {}),
      })
      this.#ownsEngine = true
      this.#group = undefined
    }
  }

  /** `open`, `draining` (after `shutdown()`, while calls finish) or `closed`. */
  get state(): 'open' | 'draining' | 'closed' {
    return this.#state
  }

  /** Runs one task (LAIOS `execute_async`); aborting `signal` cancels it. */
  execute(task: Task, context: Context, options: ExecuteOptions = {}): Promise<TaskResult> {
    return this.executeTask(task, context, options)
  }

  /**
   * Runs one task, reporting `started`, each `progress` of its tool, and `finished` to `onProgress`.
   * @example
   * const result = await executor.executeTask(task, context, {
   *   onProgress: (event, data) => console.log(`[Progress] ${event}: task=${data.taskId.slice(0, 8)}`),
   * })
   */
  async executeTask(task: Task, context: Context, options: ExecuteOptions = {}): Promise<TaskResult> {
    const [result] = await this.#run([task], context, options, undefined)
    return result as TaskResult
  }

  /**
   * Runs independent tasks at once (up to `maxWorkers` across the executor) and resolves with
   * their results in input order, whatever order they finish in. A failing task gets
   * `success: false` in its own slot and does not disturb the others; the promise rejects only on
   * misuse (a shut-down executor, a context without `sessionId`).
   */
  executeParallel(tasks: readonly Task[], context: Context, options: ExecuteOptions = {}): Promise<TaskResult[]> {
    return this.#run(tasks, context, options, undefined)
  }

  /**
   * Runs one task with the engine's retry policy: `maxAttempts = maxRetries + 1`, waiting
   * `retryDelay × backoffFactor^(n-1)` (no jitter unless asked) before retry n. Only retryable
   * errors are retried (a `TerminalError` or a missing file fails at once). The result's
   * `metadata.retries` counts the retries made; `metadata.retryExhausted` says every attempt failed.
   * @example
   * const result = await executor.executeWithRetry(task, context, { maxRetries: 3, retryDelay: '500ms' })
   * console.log(result.success, result.metadata.retries, result.metadata.retryExhausted)
   */
  async executeWithRetry(task: Task, context: Context, options: RetryOptions = {}): Promise<TaskResult> {
    checkCallOptions(options, true)
    const [result] = await this.#run([task], context, options, resolveRetryOptions(options))
    return result as TaskResult
  }

  /** Metrics of every task executed while monitoring was on, oldest first (LAIOS `get_all_metrics`). */
  getAllMetrics(): TaskMetrics[] {
    return this.#monitor.all()
  }

  /** Forgets the metrics collected so far (the monitor keeps one entry per task id otherwise). */
  clearMetrics(): void {
    this.#monitor.clear()
  }

  /** The context of a call in progress, by run id: how a tool reads the session (`executor.contextOf(ctx.runId)`). */
  contextOf(runId: string): Context | undefined {
    return this.#contexts.get(runId)
  }

  /**
   * Stops accepting calls. `drain` (the default) waits for running calls; `cancel` cancels them.
   * Idempotent: every call returns the same promise, and a `cancel` escalates a drain.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const mode = options.mode ?? 'drain'
    if (mode !== 'drain' && mode !== 'cancel') return Promise.reject(new InvalidOptionError('mode', "'drain' or 'cancel'", mode))
    if (this.#state === 'open') this.#state = 'draining'
    if (mode === 'cancel') for (const handle of this.#active) handle.cancel('the executor is shutting down')
    this.#closing ??= (async () => {
      while (this.#active.size > 0) await Promise.all([...this.#active].map((handle) => handle.result))
      if (this.#ownsEngine) await this.engine.close()
      this.#state = 'closed'
    })()
    return this.#closing
  }

  /** Drains the executor (`await using executor = new Executor(…)`), like LAIOS's `with Executor(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown({ mode: 'drain' })
  }

  async #run(tasks: readonly Task[], context: Context, options: ExecuteOptions, retry: RetryPolicy | undefined): Promise<TaskResult[]> {
    if (this.#state !== 'open') throw new TaskweaveError('TW_CANCELLED', 'the executor is shut down; create a new one', { retryable: false })
    if (retry === undefined) checkCallOptions(options, false)
    if (!Array.isArray(tasks)) throw new InvalidOptionError('tasks', 'an array of tasks', tasks)
    checkContext(context)
    const clock = this.engine.clock
    const settings = { timeoutMs: this.#options.timeoutMs, retry, group: this.#group }
    let { batch, workflow } = planAndCompile(this.engine, tasks, settings)
    const start = (compiled: CompiledWorkflow, inputs: Batch['inputs']): RunHandle => this.engine.start(compiled, { inputs, ...(options.signal !== undefined ? { signal: options.signal } : {}) })
    let handle: RunHandle | undefined
    if (workflow !== undefined) {
      try {
        handle = start(workflow, batch.inputs)
      } catch (err) {
        // Parameters the engine refused as run inputs (not plain data, too large) fail their own
        // task; the others run.
        const refused = err instanceof ValidationError ? refusedParameters(batch, err.issues) : new Map<number, TaskErrorInfo>()
        if (refused.size === 0) throw err
        ;({ batch, workflow } = planAndCompile(this.engine, tasks, { ...settings, failed: refused, taskIds: batch.slots.map((slot) => slot.taskId) }))
        handle = workflow === undefined ? undefined : start(workflow, batch.inputs)
      }
    }
    const monitor = this.#options.monitoring ? this.#monitor : undefined
    const queuedAt = clock.now()
    const metrics = monitor === undefined ? undefined : batch.slots.map((slot) => monitor.begin(slot.taskId, slot.toolName, queuedAt))
    let runResult: RunResult | undefined
    if (handle !== undefined) {
      this.#active.add(handle)
      this.#contexts.set(handle.id, context)
      const observer = new BatchObserver(batch, context, monitor, metrics, options.onProgress)
      const off = monitor !== undefined || options.onProgress !== undefined ? handle.onAny((event) => observer.observe(event)) : undefined
      try {
        runResult = await handle.result
      } finally {
        off?.()
        this.#active.delete(handle)
        this.#contexts.delete(handle.id)
      }
    }
    const endedAt = clock.now()
    // By index: a batch of 10,000 calls need not build the run's 10,000-entry `tasks` record, nor
    // a report per call that succeeded.
    const reportAt = runResult !== undefined ? taskReportReader(runResult) : undefined
    const succeededAt = runResult !== undefined ? succeededTaskReader(runResult) : undefined
    return batch.slots.map((slot, index) => {
      const node = slot.nodeIndex
      const id = slot.nodeId
      const done = succeededAt !== undefined && node !== undefined && id !== undefined ? succeededAt(node, id) : undefined
      let result: TaskResult
      let at: number
      if (done !== undefined) {
        result = succeededResult(slot, done.attempts, done.durationMs, done.output, retry)
        at = done.finishedAt
      } else {
        const report = reportAt !== undefined && node !== undefined && id !== undefined ? reportAt(node, id) : undefined
        result = toTaskResult(slot, report, retry)
        at = report?.finishedAt ?? (slot.failure !== undefined ? queuedAt : endedAt)
      }
      const entry = metrics?.[index]
      if (entry !== undefined) monitor?.finish(entry, at, result.executionTimeMs)
      // Emitted once the call's run ended (for a single task, that is when it ended), in input order.
      if (options.onProgress !== undefined) notify(options.onProgress, { event: 'finished', ...eventBase(slot, context, at), result })
      return result
    })
  }
}

/**
 * Plans a call's batch and compiles its workflow. A batch whose calls all have flat parameters
 * (the common shape of a large one) is compiled in one pass over its calls, each call's parameters
 * checked once by its tool's schema. Otherwise plain parameters are first left to the
 * compilation's own schema check (one validation per call instead of two). When a schema rejects
 * a call on either path, the batch is planned again with every call checked on its own, so a
 * rejected call fails in its slot and the others run, exactly as if each had been checked first.
 */
function planAndCompile(engine: Engine, tasks: readonly Task[], settings: BatchSettings): { batch: Batch; workflow: CompiledWorkflow | undefined } {
  const flat = planFlatBatch(tasks, engine.registry, settings)
  if (flat !== undefined) {
    if (flat.calls.length === 0) return { batch: { slots: flat.slots, inputs: NO_INPUTS }, workflow: undefined }
    // The calls' ids are the batch's own `t<index>`: valid and distinct.
    const workflow = compileFlatCalls(flat.calls, { id: 'executor', group: settings.group, timeoutMs: settings.timeoutMs, distinctIds: true })
    if (workflow !== undefined) return { batch: { slots: flat.slots, inputs: NO_INPUTS }, workflow }
  } else {
    const optimistic = planBatch(tasks, engine.registry, { ...settings, deferSchemaCheck: true })
    if (optimistic.spec === undefined) return { batch: optimistic, workflow: undefined }
    try {
      return { batch: withoutSpec(optimistic), workflow: engine.compile(optimistic.spec) }
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
    }
  }
  const batch = planBatch(tasks, engine.registry, settings)
  return { batch: withoutSpec(batch), workflow: batch.spec === undefined ? undefined : engine.compile(batch.spec) }
}

/** The run inputs of a batch that needs none (shared: frozen). */
const NO_INPUTS: Readonly<Record<string, unknown>> = Object.freeze(Object.create(null) as Record<string, unknown>)

/**
 * The batch without its workflow definition, once compiled: the call keeps its slots until the
 * run ends, and a definition of 10,000 task objects kept beside them would be copied by every
 * young-generation collection during the run.
 */
function withoutSpec(batch: Batch): Batch {
  return { slots: batch.slots, inputs: batch.inputs }
}

/** Turns a run's task events into checkpoints and progress events. */
class BatchObserver {
  constructor(
    readonly batch: Batch,
    readonly context: Context,
    readonly monitor: TaskMonitor | undefined,
    /** Each slot's metrics entry, by slot index (with a monitor). */
    readonly metrics: readonly MetricsEntry[] | undefined,
    readonly listener: ProgressListener | undefined,
  ) {}

  observe(event: TaskweaveEvent): void {
    if (event.type !== 'task:started' && event.type !== 'task:progress' && event.type !== 'task:retrying') return
    const index = slotIndexOf(this.batch, event.taskId)
    const slot = index === undefined ? undefined : this.batch.slots[index]
    if (slot === undefined || index === undefined) return
    const entry = this.metrics?.[index]
    const base = { ...eventBase(slot, this.context, event.at), attempt: event.attempt }
    switch (event.type) {
      case 'task:started':
        if (entry !== undefined) this.monitor?.checkpoint(entry, { name: 'started', at: event.at, attempt: event.attempt })
        notify(this.listener, { event: 'started', ...base, toolName: slot.toolName })
        break
      case 'task:progress': {
        const { fraction, message, data } = event.progress
        if (entry !== undefined) this.monitor?.checkpoint(entry, { name: progressName(event.progress), at: event.at, attempt: event.attempt })
        notify(this.listener, { event: 'progress', ...base, ...(fraction !== undefined ? { fraction } : {}), ...(message !== undefined ? { message } : {}), ...(data !== undefined ? { data } : {}) })
        break
      }
      case 'task:retrying':
        if (entry !== undefined) this.monitor?.checkpoint(entry, { name: 'retrying', at: event.at, attempt: event.attempt })
        notify(this.listener, { event: 'retrying', ...base, delayMs: event.delayMs, error: { code: event.error.code, message: event.error.message } })
        break
    }
  }
}

function eventBase(slot: { readonly taskId: string; readonly planId?: string }, context: Context, at: number): { taskId: string; sessionId: string; planId?: string; at: number } {
  return { taskId: slot.taskId, sessionId: context.sessionId, ...(slot.planId !== undefined ? { planId: slot.planId } : {}), at }
}

function notify(listener: ProgressListener | undefined, data: ProgressData): void {
  if (listener === undefined) return
  try {
    listener(data.event, data)
  } catch {
    // A listener's bug must not change a task's outcome; listeners own their error handling.
  }
}

function checkContext(context: Context): void {
  if (typeof context !== 'object' || context === null) throw new InvalidOptionError('context', 'an object with a sessionId', context)
  if (typeof context.sessionId !== 'string' || context.sessionId === '') throw new InvalidOptionError('context.sessionId', 'a non-empty string', context.sessionId)
}
