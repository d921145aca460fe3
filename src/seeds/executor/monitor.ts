/**
 * The task monitor (LAIOS `TaskMonitor`): named checkpoints and the execution time of each task,
 * taken from the run's events so it sees exactly what the engine did.
 * @module
 */
import type { Checkpoint, TaskMetrics } from './types.js'

interface Entry {
  readonly taskId: string
  readonly toolName: string
  executionTimeMs: number
  readonly checkpoints: Checkpoint[]
}

/**
 * Metrics by task id. A task id seen again (the same task executed twice) starts a fresh entry, so
 * each id holds its latest execution; entries are in the order their latest execution was queued.
 */
export class TaskMonitor {
  readonly #entries = new Map<string, Entry>()

  /** Starts (or restarts) the metrics of a task with its `queued` checkpoint. */
  begin(taskId: string, toolName: string, at: number): void {
    this.#entries.delete(taskId)
    this.#entries.set(taskId, { taskId, toolName, executionTimeMs: 0, checkpoints: [{ name: 'queued', at }] })
  }

  /** Adds a checkpoint to a task that was begun. */
  checkpoint(taskId: string, checkpoint: Checkpoint): void {
    this.#entries.get(taskId)?.checkpoints.push(checkpoint)
  }

  /** Adds the `finished` checkpoint and the execution time. */
  finish(taskId: string, at: number, executionTimeMs: number): void {
    const entry = this.#entries.get(taskId)
    if (entry === undefined) return
    entry.executionTimeMs = executionTimeMs
    entry.checkpoints.push({ name: 'finished', at })
  }

  /** A snapshot of every task's metrics, oldest first. */
  all(): TaskMetrics[] {
    return [...this.#entries.values()].map((e) => ({ taskId: e.taskId, toolName: e.toolName, executionTimeMs: e.executionTimeMs, checkpoints: [...e.checkpoints] }))
  }

  /** Forgets every entry. */
  clear(): void {
    this.#entries.clear()
  }
}

/** Name of a progress checkpoint: its message, else its fraction as a percentage. */
export function progressName(progress: { readonly message?: string; readonly fraction?: number }): string {
  if (progress.message !== undefined) return `progress: ${progress.message}`
  return progress.fraction !== undefined ? `progress ${Math.round(progress.fraction * 100)}%` : 'progress'
}
