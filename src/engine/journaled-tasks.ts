/**
 * Each task of a stored run as its journal tells it: status, attempts, output or error, and when
 * its first attempt started and its last one ended. Read by `taskweave show` and the HTTP API.
 * @module
 */
import type { SerializedError } from '../core/errors.js'
import type { StoredRun } from '../core/store.js'

/** A task as the journal tells it. */
export interface JournaledTask {
  readonly id: string
  /**
   * `succeeded`, `failed`, `retrying`, `running` (started, no outcome yet: in flight or
   * interrupted), `parked` (its outcome is unknown and waits for `taskweave resolve`), or, in a
   * run that has finished, `cancelled` (it started and the run ended without its outcome).
   */
  readonly status: 'succeeded' | 'failed' | 'retrying' | 'running' | 'parked' | 'cancelled'
  /** Why the task parked, while it is parked. */
  readonly parkedBecause?: string
  readonly attempts: number
  readonly output?: unknown
  readonly error?: SerializedError
  readonly addedBy?: string
  /** Wall time (epoch ms) its first attempt started. */
  readonly startedAt?: number
  /** Wall time (epoch ms) of its last outcome (`ok`, `fail` or `park`). */
  readonly endedAt?: number
}

interface TaskRecord {
  status: JournaledTask['status']
  attempts: number
  output?: unknown
  error?: SerializedError
  parkedBecause?: string
  startedAt?: number
  endedAt?: number
}

/** Each task's outcome from the journal, in the order tasks first appear in it. */
export function journaledTasks(run: StoredRun): JournaledTask[] {
  const tasks = new Map<string, TaskRecord>()
  const addedBy = new Map<string, string>()
  for (const entry of run.entries) {
    if (entry.kind === 'add' && entry.data !== undefined && entry.taskId !== undefined) {
      const spec = JSON.parse(entry.data) as { id?: string }
      if (spec.id !== undefined) addedBy.set(spec.id, entry.taskId)
    }
    if (entry.taskId === undefined || (entry.kind !== 'start' && entry.kind !== 'ok' && entry.kind !== 'fail' && entry.kind !== 'park')) continue
    let task = tasks.get(entry.taskId)
    if (task === undefined) tasks.set(entry.taskId, (task = { status: 'running', attempts: 0 }))
    task.attempts = Math.max(task.attempts, entry.attempt ?? 0)
    delete task.parkedBecause
    if (entry.kind === 'start') {
      task.status = 'running'
      task.startedAt ??= entry.at
      continue
    }
    task.endedAt = entry.at
    if (entry.kind === 'park') {
      task.status = 'parked'
      task.parkedBecause = (JSON.parse(entry.data ?? '{}') as { reason?: string }).reason ?? 'its outcome is unknown'
    } else if (entry.kind === 'ok') {
      task.status = 'succeeded'
      if (entry.data !== undefined) task.output = JSON.parse(entry.data) as unknown
    } else {
      const data = JSON.parse(entry.data ?? '{}') as { error?: SerializedError; retryAt?: number }
      task.status = data.retryAt !== undefined ? 'retrying' : 'failed'
      if (data.error !== undefined) task.error = data.error
    }
  }
  const ended = run.status !== 'running'
  return [...tasks].map(([id, task]) => ({ id, ...task, ...(ended && (task.status === 'running' || task.status === 'retrying' || task.status === 'parked') ? { status: 'cancelled' } : {}), ...(addedBy.has(id) ? { addedBy: addedBy.get(id) } : {}) }) as JournaledTask)
}
