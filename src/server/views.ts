/**
 * What the HTTP API answers about runs and tasks: plain JSON views built the same way from a run
 * this process is running (its events) and from a run in the store (its journal).
 * @module
 */
import type { SerializedError } from '../core/errors.js'
import type { RunSummary, StoredRun } from '../core/store.js'
import { journaledTasks } from '../engine/journaled-tasks.js'
import type { JournaledTask } from '../engine/journaled-tasks.js'
import type { CompiledWorkflow } from '../workflow/compile.js'
import { parentsOf } from '../workflow/task-graph.js'

/** An error as the task list shows it. */
export interface ShortError {
  readonly code: string
  readonly message: string
}

/** A task as the API shows it. */
export interface ApiTask {
  readonly id: string
  readonly tool?: string
  readonly dependsOn: readonly string[]
  /** `pending`, `ready`, `running`, `retrying`, `succeeded`, `failed`, `skipped`, `cancelled`, `parked`, or `not-run` (a finished stored run's task that never started). */
  readonly status: string
  readonly attempts: number
  /** Wall time (epoch ms) its first attempt started. */
  readonly startedAt?: number
  /** Wall time (epoch ms) it ended. */
  readonly endedAt?: number
  readonly error?: ShortError
  /** Why it was skipped or cancelled. */
  readonly reason?: string
  readonly addedBy?: string
}

/** A run as the runs list shows it. */
export interface ApiRunSummary {
  readonly id: string
  readonly workflowId: string
  /** `running`, or how it ended: `succeeded`, `partial`, `failed`, `cancelled`. */
  readonly status: string
  /** Wall time (epoch ms) it started. */
  readonly createdAt: number
  readonly finishedAt?: number
  readonly counts: Readonly<Record<string, number>>
  readonly labels: Readonly<Record<string, string>>
  /** Whether this process runs it now (its events stream live). */
  readonly live: boolean
}

/** A run with its tasks. */
export interface ApiRun extends ApiRunSummary {
  readonly tasks: readonly ApiTask[]
  /** Id of the last event this view includes: a stream opened with it as `Last-Event-ID` goes on from there. */
  readonly lastEventId: number
  readonly reason?: string
}

/** A task as its definition declares it: id, tool, and the tasks it runs after. */
export interface DeclaredTask {
  id: string
  tool?: string
  dependsOn: string[]
}

/**
 * The tasks of a compiled workflow with every parent the engine waits for: named in `dependsOn`,
 * or implied by a template (`{{ tasks.a.output }}`), a `when` condition or a `forEach`.
 */
export function declaredTasksOf(workflow: CompiledWorkflow): DeclaredTask[] {
  const { ids, shapes, graph } = workflow
  const declared: DeclaredTask[] = []
  for (let i = 0; i < ids.length; i++) {
    const tool = shapes[i]?.toolName
    declared.push({ id: ids[i] as string, ...(tool !== undefined && tool !== '' ? { tool } : {}), dependsOn: parentsOf(graph, i).map((p) => ids[p] as string) })
  }
  return declared
}

/**
 * The tasks of a stored definition: compiled by `compile` when it can (every parent, as
 * {@link declaredTasksOf}), else as written (`dependsOn` alone; a definition that cannot be read
 * gives none).
 */
export function declaredTasks(snapshot: string, compile?: (definition: unknown) => CompiledWorkflow): DeclaredTask[] {
  if (compile !== undefined) {
    try {
      return declaredTasksOf(compile(JSON.parse(snapshot)))
    } catch {
      // Its tools are not registered here, or it no longer compiles: what it says is what it has.
    }
  }
  return writtenTasks(snapshot)
}

function writtenTasks(snapshot: string): DeclaredTask[] {
  let definition: unknown
  try {
    definition = JSON.parse(snapshot)
  } catch {
    return []
  }
  const tasks = (definition as { tasks?: unknown } | null)?.tasks
  if (!Array.isArray(tasks)) return []
  const declared: Array<{ id: string; tool?: string; dependsOn: string[] }> = []
  for (const task of tasks as unknown[]) {
    const { id, tool, agent, dependsOn } = (task ?? {}) as { id?: unknown; tool?: unknown; agent?: unknown; dependsOn?: unknown }
    if (typeof id !== 'string') continue
    const name = typeof tool === 'string' ? tool : typeof agent === 'string' ? `agent:${agent}` : undefined
    const parents = typeof dependsOn === 'string' ? [dependsOn] : Array.isArray(dependsOn) ? dependsOn.filter((p): p is string => typeof p === 'string') : []
    declared.push({ id, ...(name !== undefined ? { tool: name } : {}), dependsOn: parents })
  }
  return declared
}

/** The short form of an error the task list shows. */
export function shortError(error: SerializedError): ShortError {
  return { code: error.code, message: error.message }
}

/** A stored run's summary as the API shows it. */
export function summaryView(run: RunSummary, live: boolean): ApiRunSummary {
  return {
    id: run.runId,
    workflowId: run.workflowId,
    status: run.status,
    createdAt: run.createdAt,
    ...(run.finishedAt !== undefined ? { finishedAt: run.finishedAt } : {}),
    counts: run.counts,
    labels: run.labels,
    live,
  }
}

/** A task as the journal tells it, beside what its definition says (`declared`). */
function journaledView(seen: JournaledTask, declared: { readonly id: string; readonly tool?: string; readonly dependsOn: readonly string[] }): ApiTask {
  return {
    ...declared,
    status: seen.status,
    attempts: seen.attempts,
    ...(seen.startedAt !== undefined ? { startedAt: seen.startedAt } : {}),
    ...(seen.endedAt !== undefined && seen.status !== 'running' ? { endedAt: seen.endedAt } : {}),
    ...(seen.error !== undefined ? { error: shortError(seen.error) } : {}),
    ...(seen.parkedBecause !== undefined ? { reason: seen.parkedBecause } : {}),
    ...(seen.addedBy !== undefined ? { addedBy: seen.addedBy } : {}),
  }
}

/** A stored run with its tasks, from its definition and its journal. */
export function storedRunView(run: StoredRun, declaredOf: (run: StoredRun) => readonly DeclaredTask[] = (stored) => declaredTasks(stored.definition)): ApiRun {
  const journaled = new Map(journaledTasks(run).map((task) => [task.id, task]))
  const declared = declaredOf(run)
  const finished = run.status !== 'running'
  const tasks: ApiTask[] = declared.map((task) => {
    const seen = journaled.get(task.id)
    journaled.delete(task.id)
    return seen === undefined ? { ...task, status: finished ? 'not-run' : 'pending', attempts: 0 } : journaledView(seen, task)
  })
  // Tasks added at run time (by a tool, a handler, forEach items), in journal order.
  for (const seen of journaled.values()) tasks.push(journaledView(seen, { id: seen.id, dependsOn: [] }))
  // A stop an operator's retry came after no longer says why the run is as it is.
  const stop = run.entries.findLast((entry) => entry.kind === 'stop' || entry.kind === 'reopen')
  const reason = stop?.kind === 'stop' ? (JSON.parse(stop.data ?? '{}') as { reason?: unknown }).reason : undefined
  return { ...summaryView(run, false), tasks, lastEventId: 0, ...(typeof reason === 'string' ? { reason } : {}) }
}
