/**
 * A durable run's journal, read back for a resume: per task, its attempts in order (succeeded,
 * failed with a retry due, failed for good, or started with no outcome); the tasks added by
 * handlers and the handle; the handlers that settled; a stop in progress. The run replays these
 * facts through its unchanged scheduler: readiness, skips, conditions and forEach expansion are
 * recomputed, never read.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import type { SerializedError } from '../core/errors.js'
import type { JournalEntry } from '../core/store.js'
import type { TaskSpec } from '../core/spec.js'
import type { RunStatus } from './states.js'

/** One recorded attempt of a task. */
export type RecordedAttempt =
  | { readonly outcome: 'ok'; readonly attempt: number; readonly at: number; readonly output: string | undefined; readonly added: string | undefined }
  | {
      readonly outcome: 'fail'
      readonly attempt: number
      readonly at: number
      readonly error: SerializedError
      readonly retryAt: number | undefined
      /** The retry's delay as chosen (recorded, or its due time less the entry's time). */
      readonly delayMs: number | undefined
      readonly bounce: boolean
      readonly stopped: boolean
      /** Set on a final failure an operator retried (a `reopen` entry): the retry is due, with the task's retry budget whole again. */
      readonly reopened?: true
    }
  | { readonly outcome: 'none'; readonly attempt: number; readonly at: number }

/** A task added by a handler or the handle. */
export interface RecordedAdd {
  readonly spec: TaskSpec
  /** Canonical text of the spec, for the no-op when it is added again. */
  readonly text: string
  readonly addedBy: string | undefined
}

/** A task whose attempt's outcome is unknown, waiting for an operator's decision (a `park` entry). */
export interface ParkedTask {
  readonly taskId: string
  /** The attempt whose outcome the decision records. */
  readonly attempt: number
  /** Why it parked, as the run worded it. */
  readonly reason: string
  /** When it parked (epoch ms). */
  readonly at: number
}

/** The facts of a journal, ready for replay. */
export class ReplayLog {
  /**
   * Attempts per task id, in order: most tasks have one, kept as is; several make a list. (A
   * 100,000-task journal should not cost 100,000 arrays.)
   */
  readonly #attempts = new Map<string, RecordedAttempt | RecordedAttempt[]>()
  readonly adds: RecordedAdd[] = []
  /** {@link adds} by who added them, made on first use (see {@link addedBy}). */
  #addsBy: Map<string | undefined, RecordedAdd[]> | undefined
  readonly handled = new Set<string>()

  /**
   * The tasks `addedBy` added (undefined: the run handle), in journal order: looked up on every
   * task end of a resumed run, so by key rather than a scan of every add (a run with many added
   * tasks would be quadratic).
   */
  addedBy(addedBy: string | undefined): readonly RecordedAdd[] {
    if (this.#addsBy === undefined) {
      this.#addsBy = new Map()
      for (const add of this.adds) {
        const list = this.#addsBy.get(add.addedBy)
        if (list === undefined) this.#addsBy.set(add.addedBy, [add])
        else list.push(add)
      }
    }
    return this.#addsBy.get(addedBy) ?? NO_ADDS
  }
  stop: { readonly status: RunStatus; readonly reason: string } | undefined
  /** Tasks whose final failure an operator's retry left as it was: replayed, it stops no run by failFast again. */
  readonly keptFailures = new Set<string>()
  /** Tasks whose completion handler ran after the last stop (they were cancelled by it). */
  #handledAfterStop: string[] = []
  /** The operators' retries of the run (`reopen` entries), oldest first. */
  readonly reopens: { readonly by: string; readonly at: number; readonly tasks: readonly { readonly taskId: string; readonly attempt: number }[] }[] = []
  /** Parked tasks not decided yet (a later `ok` or `fail` of the same attempt decides one); made on first use. */
  #parked: Map<string, ParkedTask> | undefined
  /** Entries in the journal (the next append continues after them). */
  readonly lastSeq: number

  constructor(entries: readonly JournalEntry[], runId: string) {
    this.lastSeq = entries.length === 0 ? 0 : (entries[entries.length - 1] as JournalEntry).seq
    for (const entry of entries) {
      try {
        this.#read(entry)
      } catch (err) {
        throw new TaskweaveError('TW_STORE', `journal of run "${runId}", entry ${entry.seq} (${entry.kind}) cannot be read: ${err instanceof Error ? err.message : String(err)}`, { retryable: false, cause: err })
      }
    }
  }

  #read(entry: JournalEntry): void {
    switch (entry.kind) {
      case 'start':
        this.#add(entry.taskId, { outcome: 'none', attempt: entry.attempt ?? 0, at: entry.at })
        return
      case 'ok':
        this.#settle(entry.taskId, { outcome: 'ok', attempt: entry.attempt ?? 0, at: entry.at, output: entry.data, added: entry.added })
        return
      case 'fail': {
        const data = JSON.parse(entry.data ?? '{}') as { error?: SerializedError; retryAt?: number; delayMs?: number; bounce?: boolean; stopped?: boolean }
        if (data.error === undefined) throw new Error('a fail entry needs an error')
        // The delay as chosen; entries that do not record it (a stop, a bounce, an operator's
        // retry, a journal written before it was) were stamped in the same step as their due
        // time, so the two give it exactly.
        const delayMs = typeof data.delayMs === 'number' && data.delayMs >= 0 ? data.delayMs : typeof data.retryAt === 'number' ? Math.max(0, data.retryAt - entry.at) : undefined
        this.#settle(entry.taskId, { outcome: 'fail', attempt: entry.attempt ?? 0, at: entry.at, error: data.error, retryAt: data.retryAt, delayMs, bounce: data.bounce === true, stopped: data.stopped === true })
        return
      }
      case 'add': {
        const text = entry.data ?? ''
        this.adds.push({ spec: JSON.parse(text) as TaskSpec, text, addedBy: entry.taskId })
        return
      }
      case 'handled':
        if (entry.taskId !== undefined) {
          this.handled.add(entry.taskId)
          // The handler of a task the stop cancelled: a reopen runs that task again, and its handler with it.
          if (this.stop !== undefined) this.#handledAfterStop.push(entry.taskId)
        }
        return
      case 'stop': {
        const data = JSON.parse(entry.data ?? '{}') as { status?: RunStatus; reason?: string }
        this.stop = { status: data.status ?? 'cancelled', reason: data.reason ?? 'the run was stopped' }
        return
      }
      case 'park': {
        if (entry.taskId === undefined || entry.attempt === undefined) throw new Error('a park entry names a task and an attempt')
        const data = JSON.parse(entry.data ?? '{}') as { reason?: unknown }
        const reason = typeof data.reason === 'string' ? data.reason : 'its outcome is unknown'
        ;(this.#parked ??= new Map()).set(entry.taskId, { taskId: entry.taskId, attempt: entry.attempt, reason, at: entry.at })
        return
      }
      case 'reopen': {
        const data = JSON.parse(entry.data ?? '{}') as { by?: unknown; tasks?: unknown }
        if (!Array.isArray(data.tasks)) throw new Error('a reopen entry lists its tasks')
        // The stop and finish before it no longer hold: the run goes on from here, and the tasks
        // the stop cancelled run again, their completion handlers too.
        this.stop = undefined
        for (const taskId of this.#handledAfterStop) this.handled.delete(taskId)
        this.#handledAfterStop = []
        const tasks: { taskId: string; attempt: number }[] = []
        for (const item of data.tasks as { taskId?: unknown; attempt?: unknown }[]) {
          if (typeof item.taskId !== 'string' || typeof item.attempt !== 'number') throw new Error('a reopen entry names each task and its attempt')
          tasks.push({ taskId: item.taskId, attempt: item.attempt })
        }
        // Failures the operator left as they were stay final, and set off no failFast again.
        const retried = new Set(tasks.map((task) => task.taskId))
        for (const failed of this.failedForGood()) if (!retried.has(failed.taskId)) this.keptFailures.add(failed.taskId)
        for (const task of tasks) {
          this.keptFailures.delete(task.taskId)
          this.#retryAfterReopen(task.taskId, task.attempt, entry.at)
        }
        this.reopens.push({ by: typeof data.by === 'string' ? data.by : 'unknown', at: entry.at, tasks })
        return
      }
      case 'finish':
        return
    }
  }

  /** The final failure of `taskId`'s attempt `attempt` becomes one with a retry due at `at`; its completion handler runs again on the next outcome. */
  #retryAfterReopen(taskId: string, attempt: number, at: number): void {
    const known = this.#attempts.get(taskId)
    if (known === undefined) throw new Error(`it reopens task "${taskId}", which has no attempt in the journal`)
    const list = Array.isArray(known) ? known : [known]
    // The last failure of that attempt (an earlier record of it may be its start).
    const k = list.findLastIndex((recorded) => recorded.attempt === attempt && recorded.outcome === 'fail')
    const failed = list[k]
    if (failed?.outcome !== 'fail') throw new Error(`it reopens attempt ${attempt} of task "${taskId}", which did not fail`)
    list[k] = { ...failed, retryAt: at, delayMs: 0, reopened: true }
    this.#attempts.set(taskId, list.length === 1 ? (list[0] as RecordedAttempt) : list)
    this.handled.delete(taskId)
  }

  #add(taskId: string | undefined, recorded: RecordedAttempt): void {
    if (taskId === undefined) throw new Error('the entry names no task')
    const known = this.#attempts.get(taskId)
    if (known === undefined) this.#attempts.set(taskId, recorded)
    else if (Array.isArray(known)) known.push(recorded)
    else this.#attempts.set(taskId, [known, recorded])
  }

  /** An outcome replaces the `start` of the same attempt (written before it). */
  #settle(taskId: string | undefined, outcome: RecordedAttempt): void {
    if (taskId === undefined) throw new Error('the entry names no task')
    if (this.#parked?.get(taskId)?.attempt === outcome.attempt) this.#parked.delete(taskId)
    const known = this.#attempts.get(taskId)
    if (known === undefined) return void this.#attempts.set(taskId, outcome)
    const list = Array.isArray(known) ? known : [known]
    const last = list[list.length - 1] as RecordedAttempt
    if (last.outcome === 'none' && last.attempt === outcome.attempt) list[list.length - 1] = outcome
    else list.push(outcome)
    this.#attempts.set(taskId, list.length === 1 ? (list[0] as RecordedAttempt) : list)
  }

  /** The recorded attempt `attempt` of a task, if any. */
  attempt(taskId: string, attempt: number): RecordedAttempt | undefined {
    const known = this.#attempts.get(taskId)
    if (known === undefined) return undefined
    if (!Array.isArray(known)) return known.attempt === attempt ? known : undefined
    for (const recorded of known) if (recorded.attempt === attempt) return recorded
    return undefined
  }

  /** The number of the last attempt of a task the journal recorded (0 for none). */
  lastAttempt(taskId: string): number {
    const known = this.#attempts.get(taskId)
    if (known === undefined) return 0
    if (!Array.isArray(known)) return known.attempt
    let last = 0
    for (const recorded of known) last = Math.max(last, recorded.attempt)
    return last
  }

  /** The number of the last attempt of a task that started and has no outcome in the journal (0 for none). */
  lastStartWithoutOutcome(taskId: string): number {
    const known = this.#attempts.get(taskId)
    if (known === undefined) return 0
    let last = 0
    for (const recorded of Array.isArray(known) ? known : [known]) if (recorded.outcome === 'none') last = Math.max(last, recorded.attempt)
    return last
  }

  /** Tasks whose last recorded attempt failed for good (no retry due), with that attempt: what an operator's retry runs again. */
  failedForGood(): { readonly taskId: string; readonly attempt: number }[] {
    const failed: { taskId: string; attempt: number }[] = []
    for (const [taskId, known] of this.#attempts) {
      const last = Array.isArray(known) ? (known[known.length - 1] as RecordedAttempt) : known
      if (last.outcome === 'fail' && last.retryAt === undefined) failed.push({ taskId, attempt: last.attempt })
    }
    return failed
  }

  /** Tasks parked for an operator and not decided yet, in the order they parked. */
  parked(): readonly ParkedTask[] {
    return this.#parked === undefined ? [] : [...this.#parked.values()]
  }

  /** How many attempts of a task started and never reported, from the journal. */
  startsWithoutOutcome(taskId: string): number {
    const known = this.#attempts.get(taskId)
    if (known === undefined) return 0
    if (!Array.isArray(known)) return known.outcome === 'none' ? 1 : 0
    let n = 0
    for (const recorded of known) if (recorded.outcome === 'none') n++
    return n
  }
}

const NO_ADDS: readonly RecordedAdd[] = Object.freeze([])
