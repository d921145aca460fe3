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
import { createAgentTool } from './agent-tool.js'
import { checkExecuteWorkflowOptions, resolveOrchestratorOptions } from './options.js'
import type { ExecuteWorkflowOptions, ResolvedOrchestratorOptions, WorkflowOrchestratorOptions } from './options.js'
import { toWorkflowResult } from './result.js'
import { toTaskSpec } from './task-spec.js'
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
  readonly #agentTypes: readonly string[]
  /** The first part of its agents' tool names (see {@link WorkflowOrchestratorOptions.engine}). */
  readonly #namespace: string
  readonly #tasks = new Map<string, StaticTask>()
  readonly #listeners = new Map<string, TaskCompleteListener[]>()
  readonly #runs = new Map<string, ActiveRun>()
  #current: ActiveRun | undefined

  constructor(options: WorkflowOrchestratorOptions) {
    this.#options = resolveOrchestratorOptions(options)
    this.#agentTypes = Object.keys(options.agents)
    // On an engine of its own the agents are `agent.<type>`; on a shared one, names of this orchestrator's.
    this.#namespace = options.engine === undefined ? 'agent' : `orchestrator-${++orchestratorSerial}`
    const dataOf = (runId: string, taskId: string): AgentData => this.#runs.get(runId)?.data.get(taskId) ?? NO_DATA
    const tools = Object.entries(options.agents).map(([type, handler]) => createAgentTool(type, handler, dataOf, this.#namespace))
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
    const spec = toTaskSpec(task, this.#agentTypes, this.#namespace)
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
    const groups = this.#options.groups
    const workflow: WorkflowSpec = {
      id: 'orchestrator',
      ...(Object.keys(groups).length > 0 ? { limits: { groups } } : {}),
      tasks: [...this.#tasks.values()].map((t) => t.spec),
    }
    const run: ActiveRun = { id: randomId(), data: new Map(), handlerErrors: [] }
    for (const { task } of this.#tasks.values()) run.data.set(task.id, task.data ?? NO_DATA)
    // Throws TW_VALIDATION (unknown dependency, cycle) before anything is registered.
    const handle = this.engine.start(workflow, {
      runId: run.id,
      concurrency: this.#options.concurrency,
      onTaskComplete: this.#dispatcher(run),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    })
    run.handle = handle
    this.#current = run
    this.#runs.set(run.id, run)
    const off = options.onEvent !== undefined ? handle.onAny(options.onEvent) : undefined
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
        addTask: (task) => this.#addToRun(run, task, toTaskSpec(task, this.#agentTypes, this.#namespace), control),
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
