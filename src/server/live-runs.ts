/**
 * The runs of the engine while this process runs them, as the API shows them: every task's state
 * and times, and the last events of each run for the streams (SSE) that follow it. Built from the
 * engine's events, so a run started by library code beside the server shows up as well as one
 * started through the API. Finished runs are kept for a while (an engine without a store has no
 * other record of them).
 * @module
 */
import type { RunResult } from '../core/report.js'
import type { Engine } from '../engine/engine.js'
import { activeWorkflowOf } from '../engine/active-workflows.js'
import type { TaskweaveEvent } from '../observe/events.js'
import type { Unsubscribe } from '../observe/emitter.js'
import type { JournaledTask } from '../engine/journaled-tasks.js'
import type { CompiledWorkflow } from '../workflow/compile.js'
import { declaredTasksOf, shortError } from './views.js'
import type { ApiRun, ApiRunSummary, ApiTask, ShortError } from './views.js'

/** One event as a stream sends it: its id in the run, its wall time, the event. */
export interface LiveEvent {
  readonly id: number
  readonly wallAt: number
  readonly event: TaskweaveEvent
  /** The event as an SSE message, once written (progress events are written when they arrive, to know their size). */
  frame?: string
}

/** What {@link LiveRuns.follow} found. */
export type Followed =
  /** Following: call it to stop. */
  | { readonly stop: Unsubscribe }
  /** Events after the client's last one are no longer kept: the oldest kept follows `resumeAfter`. */
  | { readonly gap: true; readonly resumeAfter: number }
  /** No such run here. */
  | undefined

/** Bytes of events kept per run, beside their count: errors and progress can be large. */
const EVENT_BYTES_PER_RUN = 1024 * 1024
/** Largest event a stream sends whole; a larger one goes without its payload (a stream's backlog limit is 4 MiB). */
const MAX_FRAME_BYTES = 256 * 1024
/** What an event's fixed part is reckoned to take (type, ids, times). */
const EVENT_BASE_BYTES = 200

/** One event as an SSE message (an event that cannot be written as JSON, or too large, goes without its payload). */
export function eventFrame(entry: LiveEvent): string {
  if (entry.frame !== undefined) return entry.frame
  const { event } = entry
  let data: string
  try {
    data = JSON.stringify({ ...event, wallAt: entry.wallAt })
    if (data.length > MAX_FRAME_BYTES) data = JSON.stringify({ type: event.type, runId: event.runId, ...('taskId' in event ? { taskId: event.taskId } : {}), wallAt: entry.wallAt, truncated: `the event took ${data.length} bytes as JSON (at most ${MAX_FRAME_BYTES} are streamed): read the task for its whole error or output` })
  } catch {
    data = JSON.stringify({ type: event.type, runId: event.runId, wallAt: entry.wallAt, unserializable: true })
  }
  return (entry.frame = `id: ${entry.id}\nevent: ${event.type}\ndata: ${data}\n\n`)
}

/**
 * What an event takes, reckoned without writing it: the fixed part, plus its texts (reasons,
 * messages) and errors, whose messages, stacks and causes can be long. Progress, whose data can be
 * anything, is written once and measured.
 */
function eventBytes(entry: LiveEvent): number {
  const { event } = entry
  if (event.type === 'task:progress') return eventFrame(entry).length
  let bytes = EVENT_BASE_BYTES
  for (const value of Object.values(event)) {
    if (typeof value === 'string') bytes += value.length
    else if (typeof value === 'object' && value !== null) bytes += errorBytes(value as { message?: unknown; stack?: unknown; cause?: unknown }, 0)
  }
  return bytes
}

function errorBytes(error: { message?: unknown; stack?: unknown; cause?: unknown; details?: unknown }, depth: number): number {
  let bytes = 100
  if (typeof error.message === 'string') bytes += error.message.length
  if (typeof error.stack === 'string') bytes += error.stack.length
  if (error.details !== undefined) bytes += 500
  if (depth < 10 && typeof error.cause === 'object' && error.cause !== null) bytes += errorBytes(error.cause, depth + 1)
  return bytes
}

/** What the store knows of a run resumed here. */
export interface Seed {
  readonly labels: Readonly<Record<string, string>>
  readonly createdAt: number
  readonly tasks: ReadonlyArray<{ readonly id: string; readonly tool?: string; readonly dependsOn: readonly string[] }>
  /** What the journal said of its tasks when the run was resumed here (attempts and times before). */
  readonly journaled?: readonly JournaledTask[]
}

/** Told of each event of a run, and of its end. */
export interface LiveSubscriber {
  event(entry: LiveEvent): void
  /** The run ended: nothing more will come. */
  end(): void
  /**
   * The stream stops while the run has not ended (it was suspended, or the server closes): a
   * client should open it again, here or on the server that resumes the run.
   */
  close(): void
}

interface TaskState {
  id: string
  tool?: string
  dependsOn: readonly string[]
  status: string
  attempts: number
  startedAt?: number
  endedAt?: number
  error?: ShortError
  reason?: string
  addedBy?: string
  /** An attempt of it started in this process (a resumed run's finished tasks are replayed, not run). */
  ranHere?: boolean
  /** What the journal said of it when the run was resumed here. */
  journaled?: JournaledTask
}

const ENDED = new Set(['succeeded', 'failed', 'skipped', 'cancelled'])

/** One run this process runs (or ran). */
class LiveRun {
  workflowId: string
  status = 'running'
  createdAt: number
  finishedAt: number | undefined
  reason: string | undefined
  labels: Readonly<Record<string, string>>
  readonly tasks = new Map<string, TaskState>()
  /** Whether {@link tasks} holds every declared task, from the compiled workflow. */
  declared = false
  /** Wall time minus clock time, set when the run starts: events carry clock time. */
  offset: number
  /** The last events, oldest first, within the count and byte budgets. */
  readonly events: LiveEvent[] = []
  /** What {@link events} take, as reckoned for the byte budget. */
  eventBytes = 0
  /** Bytes reckoned for each kept event, in the same order. */
  readonly sizes: number[] = []
  nextEventId: number
  readonly subscribers = new Set<LiveSubscriber>()

  constructor(
    readonly id: string,
    workflowId: string,
    labels: Readonly<Record<string, string>>,
    wallNow: number,
    clockNow: number,
    firstEventId: number,
  ) {
    this.nextEventId = firstEventId
    this.workflowId = workflowId
    this.labels = labels
    this.createdAt = wallNow
    this.offset = wallNow - clockNow
  }

  task(id: string): TaskState {
    let task = this.tasks.get(id)
    if (task === undefined) this.tasks.set(id, (task = { id, dependsOn: [], status: 'pending', attempts: 0 }))
    return task
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const task of this.tasks.values()) counts[task.status] = (counts[task.status] ?? 0) + 1
    return counts
  }
}

/** Tracks the engine's runs from its events. */
export class LiveRuns {
  readonly #engine: Engine
  readonly #runs = new Map<string, LiveRun>()
  /** Finished runs, oldest first, for eviction. */
  readonly #finished: string[] = []
  readonly #keepFinished: number
  readonly #eventsPerRun: number
  readonly #stop: Unsubscribe

  readonly #seed: ((runId: string) => Promise<Seed | undefined>) | undefined
  readonly #evicted: ((runId: string) => void) | undefined

  /**
   * @param options.seed - what is known of a run that starts here without being registered (a
   *   resume): its labels, start and declared tasks, from the store
   * @param options.evicted - told when a finished run is no longer kept
   */
  constructor(engine: Engine, options: { readonly keepFinished: number; readonly eventsPerRun: number; readonly seed?: (runId: string) => Promise<Seed | undefined>; readonly evicted?: (runId: string) => void }) {
    this.#engine = engine
    this.#keepFinished = options.keepFinished
    this.#eventsPerRun = options.eventsPerRun
    this.#seed = options.seed
    this.#evicted = options.evicted
    this.#stop = engine.events.onAny((event) => this.#onEvent(event))
  }

  /** Wall time minus clock time of a run (events and reports carry clock time), or undefined. */
  offsetOf(runId: string): number | undefined {
    return this.#runs.get(runId)?.offset
  }

  /**
   * Makes the view of a run just started with `engine.start()` (before its first event, which
   * comes on a later tick), with every declared task pending.
   */
  register(runId: string, workflow: CompiledWorkflow, labels: Readonly<Record<string, string>>, createdAt: number): void {
    const run = this.#ensure(runId, workflow.id, labels, true)
    run.createdAt = createdAt
    for (const declared of declaredTasksOf(workflow)) Object.assign(run.task(declared.id), declared)
    run.declared = true
  }

  /** Fills in what only the result knows (reasons, final states) once a run started here ends. */
  settle(result: RunResult): void {
    const run = this.#runs.get(result.runId)
    if (run === undefined) return
    if (result.reason !== undefined) run.reason = result.reason
    for (const report of Object.values(result.tasks)) {
      const task = run.task(report.id)
      task.tool ??= report.tool
      task.status = report.status
      task.attempts = report.attempts
      if (report.error !== undefined) task.error = shortError(report.error)
      if (report.reason !== undefined) task.reason = report.reason
      if (report.startedAt !== undefined) task.startedAt = report.startedAt + run.offset
      if (report.finishedAt !== undefined) task.endedAt = report.finishedAt + run.offset
    }
  }

  has(runId: string): boolean {
    return this.#runs.has(runId)
  }

  /** Forgets a run that never was (its store refused it): its id is free again. */
  forget(runId: string): void {
    this.#runs.delete(runId)
    const at = this.#finished.indexOf(runId)
    if (at >= 0) this.#finished.splice(at, 1)
  }

  /** Summaries of the runs known here, newest first. */
  list(): ApiRunSummary[] {
    return [...this.#runs.values()].reverse().map((run) => this.#summary(run))
  }

  /** A run with its tasks, or undefined. */
  view(runId: string): ApiRun | undefined {
    const run = this.#runs.get(runId)
    if (run === undefined) return undefined
    const tasks: ApiTask[] = []
    for (const task of run.tasks.values()) {
      // What the view keeps for itself (where a resumed task's facts came from) is not the API's.
      const { ranHere: _ranHere, journaled: _journaled, ...shown } = task
      tasks.push(shown)
    }
    return { ...this.#summary(run), tasks, lastEventId: run.nextEventId - 1, ...(run.reason !== undefined ? { reason: run.reason } : {}) }
  }

  /**
   * Follows a run: `subscriber` is given every kept event after `afterId`, then each new one, then
   * the end. Returns how to stop, or `gap` when events after `afterId` are no longer kept (the
   * client should read the run again and follow from its `lastEventId`), or undefined for an
   * unknown run.
   */
  follow(runId: string, afterId: number | undefined, subscriber: LiveSubscriber): Followed {
    const run = this.#runs.get(runId)
    if (run === undefined) return undefined
    const oldest = run.events[0]?.id ?? run.nextEventId
    // No Last-Event-ID: from the oldest event kept (a client new to the run misses nothing it could get).
    const after = afterId ?? oldest - 1
    // Older than what is kept, or newer than any event (an id from before the run was resumed,
    // when its ids started again): the client has to read the run again.
    if (after < oldest - 1 || after > run.nextEventId - 1) return { gap: true, resumeAfter: oldest - 1 }
    for (const entry of run.events) if (entry.id > after) subscriber.event(entry)
    if (run.status !== 'running') {
      subscriber.end()
      return { stop: () => undefined }
    }
    run.subscribers.add(subscriber)
    return { stop: () => run.subscribers.delete(subscriber) }
  }

  /** Stops listening to the engine and closes every stream (without its end: the runs did not end). */
  close(): void {
    this.#stop()
    for (const run of this.#runs.values()) {
      for (const subscriber of run.subscribers) subscriber.close()
      run.subscribers.clear()
    }
  }

  #summary(run: LiveRun): ApiRunSummary {
    return {
      id: run.id,
      workflowId: run.workflowId,
      status: run.status,
      createdAt: run.createdAt,
      ...(run.finishedAt !== undefined ? { finishedAt: run.finishedAt } : {}),
      counts: run.counts(),
      labels: run.labels,
      live: run.status === 'running',
    }
  }

  /**
   * The view of a run, made when missing. A run started here numbers its events from 1; one that
   * is followed from its first event here without being started here (a resume, after a restart
   * or a suspension) numbers them from its wall time × 1000, above any id an earlier life of the
   * run gave: a client's Last-Event-ID from before is then older than anything kept, and it gets
   * a `gap` instead of a stream that skips what this life sent first.
   */
  #ensure(runId: string, workflowId: string, labels: Readonly<Record<string, string>>, startedHere: boolean): LiveRun {
    let run = this.#runs.get(runId)
    if (run === undefined) {
      const wallNow = this.#engine.clock.wallNow()
      run = new LiveRun(runId, workflowId, labels, wallNow, this.#engine.clock.now(), startedHere ? 1 : Math.max(1, Math.floor(wallNow)) * 1000 + 1)
      this.#runs.set(runId, run)
    }
    return run
  }

  #onEvent(event: TaskweaveEvent): void {
    if (event.runId === undefined) return
    let run = this.#runs.get(event.runId)
    if (run === undefined) {
      // A run started beside the server (library code, a resume) is followed from its start; an
      // event of a run that never started here (a resume that failed) makes no run.
      if (event.type !== 'run:started') return
      run = this.#ensure(event.runId, event.workflowId, {}, false)
      this.#fillFromEngine(run)
      this.#fillFromStore(run)
    } else if (event.type === 'run:started' && run.status !== 'running') {
      // Resumed in this process after it was suspended here, or retried after it ended: why it
      // stopped then no longer says anything about it.
      run.status = 'running'
      run.finishedAt = undefined
      run.reason = undefined
      const at = this.#finished.indexOf(run.id)
      if (at >= 0) this.#finished.splice(at, 1)
    }
    const wallAt = event.at + run.offset
    this.#apply(run, event, wallAt)
    const entry: LiveEvent = { id: run.nextEventId++, wallAt, event }
    const bytes = eventBytes(entry)
    run.events.push(entry)
    run.sizes.push(bytes)
    run.eventBytes += bytes
    let drop = 0
    while (drop < run.events.length - 1 && (run.events.length - drop > this.#eventsPerRun || run.eventBytes > EVENT_BYTES_PER_RUN)) run.eventBytes -= run.sizes[drop++] as number
    if (drop > 0) {
      run.events.splice(0, drop)
      run.sizes.splice(0, drop)
    }
    for (const subscriber of run.subscribers) subscriber.event(entry)
    if (event.type === 'run:finished') {
      for (const subscriber of run.subscribers) if (event.suspended === true) subscriber.close()
      else subscriber.end()
      run.subscribers.clear()
      if (event.suspended === true) {
        // Unfinished in the store, to be resumed: the store tells it from now on.
        this.#runs.delete(run.id)
        return
      }
      this.#finished.push(run.id)
      while (this.#finished.length > this.#keepFinished) {
        const evicted = this.#finished.shift() as string
        this.#runs.delete(evicted)
        this.#evicted?.(evicted)
      }
    }
  }

  /** Fills in, from the store, what a run resumed here had before: labels, start, declared tasks. */
  /**
   * The declared tasks of a run that starts here without being registered, from the workflow the
   * engine runs: a run started beside the server by library code (with or without a store, durable
   * or not) and a resumed one are drawn with their dependencies from their first event.
   */
  #fillFromEngine(run: LiveRun): void {
    const workflow = activeWorkflowOf(this.#engine, run.id)
    if (workflow === undefined) return
    for (const declared of declaredTasksOf(workflow)) Object.assign(run.task(declared.id), declared)
    run.declared = true
  }

  #fillFromStore(run: LiveRun): void {
    if (this.#seed === undefined) return
    this.#seed(run.id).then(
      (seed) => {
        if (seed === undefined || this.#runs.get(run.id) !== run) return
        run.labels = seed.labels
        run.createdAt = seed.createdAt
        for (const journaled of seed.journaled ?? []) withJournal(run.task(journaled.id), journaled)
        // The engine's compiled workflow said it all already (in declared order).
        if (run.declared) return
        const known = new Map(run.tasks)
        run.tasks.clear()
        // Declared order first (as a registered run has it), with what was seen since kept.
        for (const declared of seed.tasks) run.tasks.set(declared.id, Object.assign(known.get(declared.id) ?? { status: 'pending', attempts: 0 }, declared))
        for (const [id, task] of known) if (!run.tasks.has(id)) run.tasks.set(id, task)
      },
      () => undefined,
    )
  }

  #apply(run: LiveRun, event: TaskweaveEvent, wallAt: number): void {
    switch (event.type) {
      case 'run:started':
        run.workflowId = event.workflowId
        return
      case 'run:finished':
        run.status = event.status
        run.finishedAt = wallAt
        return
      case 'run:cancelling':
        run.reason = event.reason
        return
      case 'task:added': {
        const task = run.task(event.taskId)
        task.tool = event.tool
        if (event.addedBy !== undefined) task.addedBy = event.addedBy
        return
      }
      case 'task:ready':
        run.task(event.taskId).status = 'ready'
        return
      case 'task:started': {
        const task = run.task(event.taskId)
        task.status = 'running'
        task.attempts = event.attempt
        task.tool ??= event.tool
        // A resumed task's first attempt may have started in an earlier process.
        task.startedAt ??= task.journaled?.startedAt ?? wallAt
        task.ranHere = true
        return
      }
      case 'task:retrying': {
        const task = run.task(event.taskId)
        task.status = 'retrying'
        task.error = shortError(event.error)
        return
      }
      case 'run:parked':
        run.task(event.taskId).status = 'parked'
        return
      default:
        break
    }
    if (event.type === 'task:succeeded' || event.type === 'task:failed' || event.type === 'task:skipped' || event.type === 'task:cancelled') {
      const task = run.task(event.taskId)
      task.status = event.type.slice(5)
      // A finished task a resumed run replays ended when the journal says, not now.
      if (ENDED.has(task.status)) task.endedAt = task.ranHere !== true && task.journaled?.endedAt !== undefined ? task.journaled.endedAt : wallAt
      if (event.type === 'task:failed') task.error = shortError(event.error)
      if (event.type === 'task:skipped' || event.type === 'task:cancelled') task.reason = event.reason
    }
  }
}

/**
 * Adds what the journal said of a task of a run resumed here: its attempts and first start from
 * the earlier processes, and, for one replayed rather than run here, when it ended. The journal
 * may be read before or after the replay's events reach the view: either order gives the same.
 */
function withJournal(task: TaskState, journaled: JournaledTask): void {
  task.journaled = journaled
  if (journaled.attempts > task.attempts) task.attempts = journaled.attempts
  if (journaled.startedAt !== undefined && (task.startedAt === undefined || journaled.startedAt < task.startedAt)) task.startedAt = journaled.startedAt
  if (task.ranHere !== true && ENDED.has(task.status) && journaled.endedAt !== undefined) task.endedAt = journaled.endedAt
}
