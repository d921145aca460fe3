/**
 * The task monitor (LAIOS `TaskMonitor`): named checkpoints and the execution time of each task,
 * taken from the run's events so it sees exactly what the engine did.
 * @module
 */
import type { Checkpoint, TaskMetrics } from './types.js'

/** One execution's metrics (what {@link TaskMonitor.begin} returns, to record into). */
export interface MetricsEntry {
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
  readonly #entries = new Map<string, MetricsEntry>()

  /**
   * Starts (or restarts) the metrics of a task with its `queued` checkpoint; returns the entry its
   * execution records into. Recording goes to the entry, not to the id: when the same id runs
   * twice at once (duplicate ids in one call), the earlier execution's checkpoints never mix into
   * the latest one's.
   */
  begin(taskId: string, toolName: string, at: number): MetricsEntry {
    const entry: MetricsEntry = { taskId, toolName, executionTimeMs: 0, checkpoints: [{ name: 'queued', at }] }
    this.#entries.delete(taskId)
    this.#entries.set(taskId, entry)
    return entry
  }

  /** Adds a checkpoint to an execution that was begun. */
  checkpoint(entry: MetricsEntry, checkpoint: Checkpoint): void {
    entry.checkpoints.push(checkpoint)
  }

  /** Adds the `finished` checkpoint and the execution time. */
  finish(entry: MetricsEntry, at: number, executionTimeMs: number): void {
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
