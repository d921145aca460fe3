/**
 * The BeeAI-style workflow orchestrator: agent tasks with dependencies, concurrency groups and
 * priorities, run by one engine; completion handlers may add tasks while the workflow runs.
 *
 * Modes: idle (tasks added go to the static list, run by every `executeWorkflow()`) and running
 * (one `executeWorkflow()` in progress: a task added now joins that run only, and only when
 * `dynamicTasks` is on; a second `executeWorkflow()` is refused). The run ends → idle again.
 * @module
 */
import { randomId } from '../../core/uuid.js'
import { TaskweaveError, ValidationError, serializeError } from '../../core/errors.js'
import { createEngine } from '../../engine/engine.js'
import type { Engine, RunHandle } from '../../engine/engine.js'
import type { RunControl, TaskCompleteHandler } from '../../engine/run-types.js'
import type { Unsubscribe } from '../../observe/emitter.js'
import type { TaskSpec, WorkflowSpec } from '../../workflow/types.js'
import { orchestratorAgentTool } from './agent-tool.js'
import { checkExecuteWorkflowOptions, checkResumeWorkflowOptions, resolveOrchestratorOptions } from './options.js'
import type { ExecuteWorkflowOptions, ResolvedOrchestratorOptions, ResumeWorkflowOptions, WorkflowOrchestratorOptions } from './options.js'
import { toWorkflowResult } from './result.js'
import { toTaskSpec } from './task-spec.js'
import type { TaskSpecContext } from './task-spec.js'
import type { AgentData, AgentTask, AgentTaskResult, HandlerFailure, OrchestratorControl, TaskCompleteListener, WorkflowResult } from './types.js'

interface StaticTask {
  readonly task: AgentTask
  readonly spec: TaskSpec
}

/** One `executeWorkflow()` in progress. */
interface ActiveRun {
  readonly id: string
  /** Data of every task of the run, static and added, by task id. */
  readonly data: Map<string, AgentData>
  readonly handlerErrors: HandlerFailure[]
  handle?: RunHandle
}

const NO_DATA: AgentData = Object.freeze({})

/** Numbers the orchestrators that share an engine, so their agents' tool names never clash. */
let orchestratorSerial = 0

/**
 * Runs agent tasks in parallel while respecting their dependencies (BeeAI `WorkflowOrchestrator`).
 * @example
 * const orchestrator = new WorkflowOrchestrator({
 *   agents: { data_processing: processData, analysis: analyse, report: writeReport },
 *   maxConcurrentTasks: 10,
 *   concurrencyLimits: { data_processing: 2 },
 * })
 * orchestrator.addTask({ id: 'process_a', agentType: 'data_processing', data: { dataset: 'a.csv' }, concurrencyGroup: 'data_processing' })
 * orchestrator.addTask({ id: 'analyze_a', agentType: 'analysis', dependencies: ['process_a'] })
 * orchestrator.addTask({ id: 'report', agentType: 'report', dependencies: ['analyze_a'] })
 * const { status, results, errors } = await orchestrator.executeWorkflow()
 */
export class WorkflowOrchestrator {
  /** The engine underneath (its `events` see every run; its `registry` holds the `agent.*` tools). */
  readonly engine: Engine
  readonly #options: ResolvedOrchestratorOptions
  /** Agent types, tool name prefix, and whether data travels in the specs. */
  readonly #specs: TaskSpecContext
  readonly #tasks = new Map<string, StaticTask>()
  readonly #listeners = new Map<string, TaskCompleteListener[]>()
  readonly #runs = new Map<string, ActiveRun>()
  #current: ActiveRun | undefined

  constructor(options: WorkflowOrchestratorOptions) {
    this.#options = resolveOrchestratorOptions(options)
    // On an engine of its own the agents are `agent.<type>`; on a shared one, names of this
    // orchestrator's: from its name when it has one (the same in the next process, which a resume
    // needs), else numbered.
    const namespace = options.engine === undefined ? 'agent' : this.#options.named ? `orchestrator.${this.#options.name}` : `orchestrator-${++orchestratorSerial}`
    // On an engine with a store a task's data goes into its spec, so the journal holds it.
    this.#specs = { agentTypes: Object.keys(options.agents), namespace, carryData: options.engine?.store !== undefined }
    const dataOf = (runId: string, taskId: string): AgentData => this.#runs.get(runId)?.data.get(taskId) ?? NO_DATA
    const tools = Object.entries(options.agents).map(([type, handler]) => orchestratorAgentTool(type, handler, dataOf, namespace))
    if (options.engine !== undefined) {
      for (const tool of tools) options.engine.registry.register(tool)
      this.engine = options.engine
    } else {
      this.engine = createEngine({
        tools,
        builtins: false,
        concurrency: this.#options.concurrency,
        ...(options.clock !== undefined ? { clock: options.clock } : {}),
        ...(options.logger !== undefined ? { logger: options.logger } : {}),
        ...(options.autoscale !== undefined ? { autoscale: options.autoscale } : {}),
      })
    }
  }

  /** The tasks every `executeWorkflow()` starts with, in the order they were added. */
  get tasks(): readonly AgentTask[] {
    return [...this.#tasks.values()].map((t) => t.task)
  }

  /** Whether a workflow is running. */
  get isRunning(): boolean {
    return this.#current !== undefined
  }

  /**
   * Adds a task. Checked at once: an unknown agent type, a bad id or field, or a duplicate id
   * throws `TW_VALIDATION` naming the task. Dependencies may name tasks added later; they are
   * checked when the workflow starts. While a workflow runs, the task joins that run (only with
   * `dynamicTasks: true`; otherwise `TW_DYNAMIC_TASK`), and there its dependencies must exist.
   */
  addTask(task: AgentTask): this {
    const spec = toTaskSpec(task, this.#specs)
    const run = this.#current
    if (run !== undefined) {
      this.#addToRun(run, task, spec, undefined)
      return this
    }
    if (this.#tasks.has(task.id)) throw duplicate(task.id)
    this.#tasks.set(task.id, { task, spec })
    return this
  }

  /**
   * Calls `listener` each time the task `taskId` ends (succeeded, failed or skipped), in every run;
   * the task may be one added later. A listener that throws or rejects is recorded in the result's
   * `handlerErrors`. Returns a function that removes the listener.
   * @example
   * orchestrator.onTaskComplete('create_plan', (result, run) => {
   *   const { steps } = result.output as { steps: string[] }
   *   steps.forEach((step, i) => run.addTask({ id: `execute_step_${i}`, agentType: 'executor', data: { step }, dependencies: i === 0 ? [] : [`execute_step_${i - 1}`] }))
   * })
   */
  onTaskComplete(taskId: string, listener: TaskCompleteListener): Unsubscribe {
    let list = this.#listeners.get(taskId)
    if (list === undefined) this.#listeners.set(taskId, (list = []))
    list.push(listener)
    return () => {
      const at = list.indexOf(listener)
      if (at >= 0) list.splice(at, 1)
    }
  }

  /**
   * Runs the workflow to its end. Never rejects for task failures: the result holds what
   * succeeded (`results`), what failed (`errors`) and what was skipped, with status `succeeded`,
   * `partial`, `failed` or `cancelled`. Throws `TW_VALIDATION` when the workflow is invalid
   * (no tasks, unknown dependency, cycle) and `TW_INVALID_STATE` while another run is in progress.
   */
  async executeWorkflow(options: ExecuteWorkflowOptions = {}): Promise<WorkflowResult> {
    checkExecuteWorkflowOptions(options)
    if (this.#current !== undefined) throw new TaskweaveError('TW_INVALID_STATE', 'a workflow is already running on this orchestrator; await it first', { retryable: false })
    if (this.#tasks.size === 0) throw new ValidationError([{ message: 'the workflow has no tasks: add some with addTask() first' }])
    const { groups, rates, defaults, name } = this.#options
    const limits = { ...(Object.keys(groups).length > 0 ? { groups } : {}), ...(rates !== undefined ? { rates } : {}) }
    const workflow: WorkflowSpec = {
      id: name,
      ...(Object.keys(limits).length > 0 ? { limits } : {}),
      ...(defaults !== undefined ? { defaults } : {}),
      tasks: [...this.#tasks.values()].map((t) => t.spec),
    }
    const run: ActiveRun = { id: options.runId ?? randomId(), data: new Map(), handlerErrors: [] }
    for (const { task } of this.#tasks.values()) run.data.set(task.id, task.data ?? NO_DATA)
    // Throws TW_VALIDATION (unknown dependency, cycle) before anything is registered.
    const handle = this.engine.start(workflow, {
      runId: run.id,
      concurrency: this.#options.concurrency,
      onTaskComplete: this.#dispatcher(run),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(this.#specs.carryData ? { labels: { orchestrator: name } } : {}),
    })
    return this.#follow(run, handle, options.onEvent)
  }

  /**
   * Runs the rest of a workflow that did not finish (the process crashed, was killed or its
   * engine closed), on an engine with a store: what the journal says finished is not run again,
   * tasks that completion handlers added come back with their data, and the handlers registered
   * on this orchestrator (`onTaskComplete`) are called for the tasks that end from now on. The
   * orchestrator must have the same `name` and agent types as the one that started the run.
   * Rejects with `TW_INVALID_STATE` without a store, while a workflow runs here, or for a run
   * that finished; `TW_VALIDATION` when the run names an agent this orchestrator lacks.
   * @example
   * const orchestrator = new WorkflowOrchestrator({ engine, name: 'research', agents })
   * const unfinished = await engine.store.list({ status: 'running', labels: { orchestrator: 'research' } })
   * for (const run of unfinished) console.log(await orchestrator.resumeWorkflow(run.runId))
   */
  async resumeWorkflow(runId: string, options: ResumeWorkflowOptions = {}): Promise<WorkflowResult> {
    checkResumeWorkflowOptions(runId, options)
    const store = this.engine.store
    if (store === undefined) throw new TaskweaveError('TW_INVALID_STATE', 'resumeWorkflow() needs an engine with a store: create the orchestrator with new WorkflowOrchestrator({ engine: createEngine({ store }), name, agents })', { retryable: false })
    // Without a name its tools are numbered in the order orchestrators are made: nothing says the
    // run was this one's.
    if (!this.#options.named) throw new TaskweaveError('TW_INVALID_STATE', 'resumeWorkflow() needs an orchestrator with a name (new WorkflowOrchestrator({ engine, name, agents })), the one the run was started by', { retryable: false })
    if (this.#current !== undefined) throw new TaskweaveError('TW_INVALID_STATE', 'a workflow is already running on this orchestrator; await it first', { retryable: false })
    const run: ActiveRun = { id: runId, data: new Map(), handlerErrors: [] }
    // Taken before the first await: a second call meanwhile is refused as above.
    this.#current = run
    try {
      // The run must be this orchestrator's: another's may name tools the shared engine has too.
      const stored = await store.load(runId)
      const owner = stored?.labels['orchestrator']
      if (stored !== undefined && owner !== this.#options.name) {
        throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" ${owner === undefined ? 'was not started by an orchestrator' : `belongs to orchestrator "${owner}"`}, not to "${this.#options.name}": resume it with that one`, { retryable: false, details: { runId, orchestrator: owner } })
      }
      const handle = await this.engine.resume(runId, { onTaskComplete: this.#dispatcher(run), ...(options.signal !== undefined ? { signal: options.signal } : {}) })
      return await this.#follow(run, handle, options.onEvent)
    } finally {
      if (this.#current === run) this.#current = undefined
    }
  }

  /** Follows a started (or resumed) run to its result. */
  async #follow(run: ActiveRun, handle: RunHandle, onEvent: ExecuteWorkflowOptions['onEvent']): Promise<WorkflowResult> {
    run.handle = handle
    this.#current = run
    this.#runs.set(run.id, run)
    const off = onEvent !== undefined ? handle.onAny(onEvent) : undefined
    try {
      return toWorkflowResult(await handle.result, run.handlerErrors)
    } finally {
      off?.()
      this.#runs.delete(run.id)
      if (this.#current === run) this.#current = undefined
    }
  }

  #addToRun(run: ActiveRun, task: AgentTask, spec: TaskSpec, control: RunControl | undefined): void {
    if (!this.#options.dynamicTasks) {
      throw new TaskweaveError('TW_DYNAMIC_TASK', `cannot add task "${task.id}" while the workflow runs: create the orchestrator with dynamicTasks: true`, {
        retryable: false,
        details: { taskId: task.id },
      })
    }
    // A resume still reading the store has no run to add to yet.
    if (control === undefined && run.handle === undefined) {
      throw new TaskweaveError('TW_INVALID_STATE', `cannot add task "${task.id}" while run "${run.id}" is being resumed: add it once resumeWorkflow() has started it (from a completion handler, or after the first event)`, { retryable: true, details: { taskId: task.id, runId: run.id } })
    }
    // Checked here too: the data of a task already in the run must never be replaced.
    if (run.data.has(task.id)) throw duplicate(task.id)
    run.data.set(task.id, task.data ?? NO_DATA)
    try {
      if (control !== undefined) control.addTask(spec)
      else if (run.handle !== undefined) run.handle.addTask(spec)
    } catch (err) {
      run.data.delete(task.id)
      throw err
    }
  }

  /** The engine's completion handler for one run: calls the listeners of the task that ended. */
  #dispatcher(run: ActiveRun): TaskCompleteHandler {
    return (completion, control) => {
      const listeners = this.#listeners.get(completion.taskId)
      if (listeners === undefined || listeners.length === 0) return
      const result: AgentTaskResult = {
        taskId: completion.taskId,
        status: completion.status,
        output: completion.output,
        ...(completion.error !== undefined ? { error: { code: completion.error.code, message: completion.error.message } } : {}),
      }
      const scope: OrchestratorControl = {
        runId: run.id,
        addTask: (task) => this.#addToRun(run, task, toTaskSpec(task, this.#specs), control),
      }
      const record = (err: unknown): void => {
        const { code, message } = serializeError(err)
        run.handlerErrors.push({ taskId: completion.taskId, code, message })
      }
      const pending: Promise<void>[] = []
      for (const listener of [...listeners]) {
        try {
          const outcome = listener(result, scope)
          if (outcome instanceof Promise) pending.push(outcome.catch(record))
        } catch (err) {
          record(err)
        }
      }
      // The engine keeps the run open until this settles, so tasks added late still join it.
      return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined
    }
  }
}

function duplicate(taskId: string): ValidationError {
  return new ValidationError([{ taskId, field: 'id', message: `duplicate task id "${taskId}"` }])
}
