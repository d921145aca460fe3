/**
 * One run of a compiled workflow: the scheduler loop. Tasks are numbered (workflow tasks first,
 * then forEach items and added tasks) and their state lives in the columns of a {@link RunState}.
 *
 * Tasks wait (`pending`) until every parent is terminal; then the trigger rule and the `when`
 * condition decide between `ready` and `skipped`, and skips propagate along the same rules.
 * Ready tasks sit in a heap ordered by priority, critical path, then FIFO, and start while the
 * run's limit, the engine's global slots and their group's limit allow. An attempt's result is
 * accepted only if the attempt still holds its token (a timed-out or cancelled attempt that
 * finishes late is ignored), so a task never completes twice.
 *
 * Modes: running → (cancel() or failFast) cancelling → finished. Once cancelling, nothing new
 * starts, running attempts are aborted through their signals and every unfinished task is marked
 * cancelled with the reason.
 * @module
 */
import { randomId } from '../core/uuid.js'
import { isoTime, MAX_DATE_MS } from '../core/iso-time.js'
import type { Clock } from '../core/clock.js'
import { setLongTimeout, systemClock } from '../core/clock.js'
import { CancelledError, serializeError, TaskweaveError, TimeoutError, InvalidOptionError } from '../core/errors.js'
import type { SerializedError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { ToolPermit, ToolProgress } from '../core/tool.js'
import type { EventEmitter } from '../observe/emitter.js'
import type { EventMap, EventName } from '../observe/events.js'
import { ReadyQueue } from '../scheduler/ready-queue.js'
import { backoffDelayMs, retryAfterHintMs, shouldRetry } from '../scheduler/retry.js'
import type { SlotWaiter } from '../scheduler/slots.js'
import type { PermitHolder } from '../scheduler/keyed-limiter.js'
import type { LlmUsage, ProviderLimits } from '../core/rate.js'
import { addUsage, neverFits, RunRates } from './run-rates.js'
import type { RateGrantTarget } from './run-rates.js'
import { itemShape, NO_TASKS } from '../workflow/compile.js'
import type { CompiledWorkflow, TaskShape } from '../workflow/compile.js'
import { criticalPathRanks, taskCost, taskCosts } from '../workflow/dag.js'
import type { TemplateScope } from '../workflow/template.js'
import type { TaskSpec } from '../workflow/types.js'
import { compileAddedTask } from './added-task.js'
import type { AddedTask } from './added-task.js'
import { triggerVerdict } from './trigger-rules.js'
import { conditionScope, namingTask, resolveNamingTask, resolveToolInput, templateScope } from './scopes.js'
import { freezeDeep, jsonExceeds, privateStaticInput, toPlainData, toPlainDataWithText } from './plain-data.js'
import type { Journal, JournalRun, NewEntry } from './journal.js'
import type { RecordedAttempt, ReplayLog } from './replay-log.js'
import type { Lease } from '../core/store.js'
import { canonicalJson } from '../core/canonical-json.js'
import type { AttemptRecord } from './report.js'
import { plainTaskSpec } from './plain-spec.js'
import type { RunResult } from './report.js'
import { RunAttempt } from './run-attempt.js'
import type { AttemptHost } from './run-attempt.js'
import { DurableQueue } from './durable-queue.js'
import type { AfterDurable, PreparedTask } from './durable-queue.js'
import type { RunControl, RunEnvironment, RunSettings, TaskCompleteHandler, TaskCompletion } from './run-types.js'
export type { RunControl, RunEnvironment, RunSettings, TaskCompleteHandler, TaskCompletion } from './run-types.js'
import { buildRunResult } from './run-report.js'
import { RunState } from './run-state.js'
import type { TaskExtra } from './run-state.js'
import { attemptIdOf, plainAttemptRequest } from '../core/attempt.js'
import type { Indexed } from '../core/indexed-set.js'
import { logFailure } from '../core/log-failure.js'
import { describeThrown } from '../core/thrown.js'
import { whenSettled } from '../core/returned.js'
import { ALLOWED_CODES, assertTransitionCode, CANCELLED, FAILED, PENDING, READY, RETRYING, RUNNING, SKIPPED, STATUS_NAMES, SUCCEEDED } from './states.js'
import type { RunStatus, TaskStatus } from './states.js'
import { keepResolver, takeResolver } from '../core/promise-resolver.js'
import { resolveHint } from './resolve-parked.js'
import { retryDelayAfterResume } from './clock-jump.js'

/** How long a group permit stays taken by a tool still running after its attempt ended (see RunExecution#lingerPermit). */
export const LINGER_MS = 60_000

/** Roots made ready between two starts of a run of independent tasks (see `start`). */
const START_WHILE_READYING = 128

/**
 * True when the workflow's tasks are independent (no dependency at all), none fans out, and all
 * share one priority and one rank: the ready queue then hands them out in declaration order
 * however many of them it holds, so starting some before the others are queued changes no order.
 */
function independentOfOneKey(s: RunState): boolean {
  if (s.base <= START_WHILE_READYING || s.graph.children.length > 0) return false
  const { priority, rank, shapes } = s
  const p = priority[0]
  const r = rank[0]
  for (let i = 0; i < s.base; i++) {
    if (priority[i] !== p || rank[i] !== r || (shapes[i] as TaskShape).forEach !== undefined) return false
  }
  return true
}

/** What #attemptInput gives when resolving the input failed the attempt. */
const NO_INPUT: unique symbol = Symbol('no input')

/** Whether a task is admitted by an engine slot alone: no tool permit, group cap or rate key to take first. */
function needsOnlySlot(shape: TaskShape, toolRateKeys: boolean): boolean {
  const tool = shape.tool
  return tool.permit === undefined && shape.group === undefined && shape.rateKey === undefined && tool.rateKey === undefined && tool.rateKeyOf === undefined && !toolRateKeys
}

/** Workflows whose unused rate keys were warned about already (see `#warnUnusedRateKeys`). */
const rateKeysChecked = new WeakSet<CompiledWorkflow>()

/** A task a resume parked (`onUncertain: 'park'`), until its entry is durable and the run ends. */
interface ParkedHere {
  readonly taskId: string
  readonly attempt: number
  readonly reason: string
}

/** Executes one run. Create through the engine. */
export class RunExecution implements SlotWaiter, PermitHolder, AttemptHost, RateGrantTarget, Indexed {
  readonly id: string
  /** @internal Its place among the engine's active runs. */
  indexInSet = -1
  /** @internal Whether it waits in the engine's line for a slot. */
  inSlotLine = false
  readonly result: Promise<RunResult>
  readonly #workflow: CompiledWorkflow
  readonly #env: RunEnvironment
  readonly #settings: RunSettings
  readonly #events: EventEmitter
  readonly #s: RunState
  /** Ids of tasks not in the compiled workflow (forEach items, added tasks). */
  #extraIds: Map<string, number> | undefined
  /** Task id → index over all tasks of the run, as a function value (for the scopes). */
  #indexOfTaskFn: ((id: string) => number | undefined) | undefined
  /** Made on first use: only runs with templates or conditions need it. */
  get #indexOfTask(): (id: string) => number | undefined {
    return (this.#indexOfTaskFn ??= (id) => this.#indexOf(id))
  }
  /**
   * Work stack of #settle, `#settleStack[0…#settleTop)`, reused across calls (and nested calls) to
   * avoid an allocation per task. Written by index, never pushed and popped: in code V8 has not
   * optimized yet, a fast array popped empty drops its storage, and the next push allocates it again.
   */
  readonly #settleStack: number[] = []
  #settleTop = 0
  readonly #queue: ReadyQueue
  /** Keyed permits (limiter key by task index) held by tasks of this run: waiting for a slot, or running. */
  #heldPermits: Map<number, string> | undefined
  /** The same for the keys tools ask for per call (`ToolDefinition.permit`). */
  #heldToolPermits: Map<number, string> | undefined
  /** The running attempt of each task that holds a keyed permit (its permits may outlive the attempt: see #lingerPermit). */
  #permitAttempts: Map<number, RunAttempt> | undefined
  /** Rate keys and the run's budget: admissions its tasks hold, usage its tools reported. */
  /** Made when a task first has a rate key or a tool first reports usage: most runs never need it. */
  #ratesMade: RunRates | undefined
  /** Why the run was stopped (what a tool asking for its signal afterwards sees), once it was. */
  #abortReason: { readonly reason: unknown } | undefined
  readonly #resolve: (result: RunResult) => void
  #nextSeq = 0
  #running = 0
  #settled = 0
  #pendingHandlers = 0
  #pumping = false
  #state: 'idle' | 'running' | 'cancelling' | 'finished' = 'idle'
  #stopStatus: RunStatus | undefined
  #stopReason: string | undefined
  /** The engine clock's reading when the run started, or -1 before (a run that never started took no time). */
  #startedAt = -1
  /** Wall-clock start (epoch ms); written as ISO text only in the result. */
  #startedWall: number
  /** Slots granted by the engine's pool and not yet used by the dispatch loop. */
  #granted = 0
  /** Depth of event delivery in progress (listeners may call back into the run). */
  #emitting = 0
  /**
   * The time of the completion being handled, or -1: one clock read serves the completion and the
   * bookkeeping it sets off synchronously (children decided, the next task started). User code
   * (a tool's synchronous part, a completion handler, an event listener) may take time, so the
   * cached time is dropped whenever some has run.
   */
  #eventTime = -1
  /** Ids of tasks that tools added during attempts still running (reserved until the attempt ends), with the adding task. */
  #reservedIds: Map<string, number> | undefined
  #unhookSignal: (() => void) | undefined
  /** Set while a cancel asked for from an event listener waits for the report in progress to end. */
  #stopRequested = false
  /** Tasks added through the handle before the run started; they join when it starts. */
  #early: TaskSpec[] | undefined
  // ------------------------------------------------------------- durable mode (see attachJournal)
  #journal: Journal | undefined
  #jrun: JournalRun | undefined
  /** The journal of an earlier life of this run, replayed on resume. */
  #replay: ReplayLog | undefined
  /** True during the first pass of a replay (committed outcomes are answered from the journal). */
  #replaying = false
  /** Starts without an outcome after which a resumed task fails `TW_UNCERTAIN`. */
  #maxStarts = 3
  /** The ticket of the run's last `park` entry, once it parked: its result waits for that entry and the lease's release. */
  #parkTicket: number | undefined
  /** Tasks that parked (see {@link #park}); undefined while none. */
  #parked: ParkedHere[] | undefined
  /** The ticket of the last journal entry known durable. */
  #durableTicket = 0
  /** The journal ticket of this run's `stop` entry (0: none written), and who waits for it to be durable (see {@link stopSaved}). */
  #stopTicket = 0
  /** The result is out (set as it resolves; `#state` is `finished` earlier, while the `finish` entry is written). */
  #ended = false
  #stopSavedWaiters: ((saved: boolean) => void)[] | undefined
  /** Why the journal gave the run up, once it did. */
  #journalLostReason: string | undefined
  /** Set by suspend(): the run stops here and writes nothing more, so it stays resumable. */
  #suspended = false
  /** Set when the journal refused or lost the run: nothing more is written. */
  #journalLost = false
  /** Set while the store refuses writes: nothing new starts (what runs goes on, its outcomes wait to be written). */
  #storePaused = false
  /** Set while a stop read from the journal is applied (it is not written again). */
  #stopFromJournal = false
  /** Work waiting for its journal entry to be durable. */
  #afterDurableQueue: DurableQueue | undefined
  /** Made on first use: only durable runs wait for commits. */
  get #afterDurable(): DurableQueue {
    return (this.#afterDurableQueue ??= new DurableQueue())
  }
  /** Task-level `idempotent` settings (they override the tool's). */
  #idempotent: Map<string, boolean> | undefined
  /** Whether the definition's task-level settings were read (see {@link #readUncertainSettings}). */
  #uncertainSettingsRead = false
  /** Tasks (by id) with `onUncertain: 'retry'` or `'park'`; undefined while none. */
  #onUncertain: Map<string, 'retry' | 'park'> | undefined
  /** Canonical text of tasks added by handlers and the handle, so adding the same task again is a no-op. */
  #addedText: Map<string, string> | undefined

  constructor(workflow: CompiledWorkflow, env: RunEnvironment, settings: RunSettings, events: EventEmitter) {
    this.id = settings.runId ?? randomId()
    this.#workflow = workflow
    this.#env = env
    this.#settings = settings
    this.#events = events
    const s = (this.#s = new RunState(workflow))
    this.#queue = new ReadyQueue(s)
    if (workflow.rates.size > 0) for (const [key, limits] of workflow.rates) env.rates.declare(key, limits)
    this.result = new Promise<RunResult>(keepResolver)
    this.#resolve = takeResolver<RunResult>()
    // Read (and checked) here, so a run cancelled before it starts still has a start time, and a
    // clock that cannot give one refuses the run before it exists.
    this.#startedWall = checkedWallTime(env.clock.wallNow())
    criticalPathRanks(workflow.graph, workflow.topoOrder, taskCosts(s.shapes, workflow.size, env.toolStats), s.rank)
  }

  /** Current status of a task, or undefined when there is no such task. */
  taskStatus(taskId: string): TaskStatus | undefined {
    const index = this.#indexOf(taskId)
    return index === undefined ? undefined : STATUS_NAMES[this.#s.status[index] as number]
  }

  #indexOf(id: string): number | undefined {
    return this.#workflow.indexById.get(id) ?? this.#extraIds?.get(id)
  }

  /** The workflow this run executes (as compiled when it started). */
  get workflow(): CompiledWorkflow {
    return this.#workflow
  }

  /** Whether the run has ended. */
  get isFinished(): boolean {
    return this.#state === 'finished'
  }

  /** Starts the run (called once by the engine). */
  start(): void {
    if (this.#state !== 'idle') return
    this.#state = 'running'
    this.#startedAt = this.#env.clock.now()
    // A run started on the microtask after it was made keeps the wall time read then; a durable
    // one waited for its store, so it reads it again. Checked when the run was made; a clock that
    // goes wrong since keeps that time.
    if (this.#journal !== undefined) {
      const wall = this.#env.clock.wallNow()
      if (Math.abs(wall) <= MAX_DATE_MS) this.#startedWall = wall
    }
    const signal = this.#settings.signal
    if (signal !== undefined && !this.#hookSignal(signal)) return
    if (this.#events.wants('run:started')) this.#emit('run:started', { workflowId: this.#workflow.id, taskCount: this.#s.size })
    // Roots in declaration order. A root's consequences may decide later tasks (they are then no
    // longer pending) and a fan-out appends items (beyond `base`, made ready on their own).
    const s = this.#s
    // The first attempts start at the run's start time (until a tool's synchronous part has run).
    this.#eventTime = this.#startedAt
    try {
      this.#startRoots(s)
      this.#pump()
    } finally {
      this.#eventTime = -1
    }
    this.#maybeFinish()
  }

  /**
   * Follows the run's abort signal; false when it was aborted already (the run is then cancelled).
   * A method of its own: the listener's closure inside {@link start} would give every run's start
   * a context, signal or not.
   */
  #hookSignal(signal: AbortSignal): boolean {
    if (signal.aborted) {
      this.#joinEarlyUnstarted()
      this.#emit('run:started', { workflowId: this.#workflow.id, taskCount: this.#s.size })
      this.cancel(reasonText(signal.reason) ?? 'the run was aborted')
      return false
    }
    const onAbort = (): void => this.cancel(reasonText(signal.reason) ?? 'the run was aborted')
    signal.addEventListener('abort', onAbort, { once: true })
    this.#unhookSignal = () => signal.removeEventListener('abort', onAbort)
    return true
  }

  /** Start, past its first checks: the roots, tasks added early, a replay. */
  #startRoots(s: RunState): void {
    const startEvery = this.#early === undefined && this.#replay === undefined && independentOfOneKey(s) ? START_WHILE_READYING : 0
    for (let i = 0; i < s.base; i++) {
      if (s.waiting[i] === 0 && s.status[i] === PENDING && this.#evaluate(i)) this.#settle(i)
      // Independent tasks of one key leave the queue in declaration order whenever they join it,
      // so the first ones start (and the waits of their tools begin) while the rest join.
      if (startEvery > 0 && i % startEvery === startEvery - 1) {
        this.#pump()
        if (this.#state !== 'running') break
      }
    }
    if (this.#early !== undefined || this.#replay !== undefined) this.#startLater()
  }

  /** The rest of {@link #startRoots} for a run with tasks added early or a journal to replay. */
  #startLater(): void {
    const early = this.#early
    this.#early = undefined
    if (early !== undefined) for (const spec of early) if (this.#state === 'running') this.#addEarly(spec)
    const replay = this.#replay
    if (replay !== undefined) {
      const later: TaskSpec[] = []
      this.#replayAdds(undefined, later)
      this.#replayPass()
      if (later.length > 0 && this.#state === 'running') this.#replayAdds(undefined, undefined)
      if (replay.stop !== undefined && this.#state === 'running') {
        this.#stopFromJournal = true
        this.#stop(replay.stop.status, replay.stop.reason)
      }
    }
  }

  /** The tasks added through the handle before the run started join it as pending, none made ready (the run is being stopped). */
  #joinEarlyUnstarted(): void {
    const early = this.#early
    this.#early = undefined
    for (const spec of early ?? []) {
      if (this.#durable()) this.#writeAdd(spec, undefined)
      const added = this.#compileAdded(spec, [])
      this.#appendTask(added.id, added.shape, added.parents)
    }
  }

  /** A task added through the handle before the run started joins now (and is journaled). */
  #addEarly(spec: TaskSpec): void {
    if (this.#durable()) this.#writeAdd(spec, undefined)
    this.#commitAddedTask(spec, undefined)
  }

  #writeAdd(spec: TaskSpec, addedBy: string | undefined): void {
    const text = canonicalJson(spec)
    ;(this.#addedText ??= new Map()).set(spec.id, text)
    this.#noteUncertainSettings(spec)
    this.#write({ kind: 'add', ...(addedBy !== undefined ? { taskId: addedBy } : {}), data: text })
  }

  /**
   * Cancels the run: nothing new starts, running attempts are aborted, the result says `cancelled`.
   * Called from an event listener, it takes effect right after the transition being reported,
   * never in the middle of it.
   */
  cancel(reason = 'the run was cancelled'): void {
    if (this.#emitting > 0) {
      // Nothing new starts from here on (the dispatch loop and a starting attempt check this flag).
      this.#stopRequested = true
      queueMicrotask(() => this.#stop('cancelled', reason))
    } else this.#stop('cancelled', reason)
  }

  /** Dispatches what the run's limits now allow (called when the engine's slot count changed). */
  wake(): void {
    if (this.#state !== 'running') return
    this.#pump()
    this.#maybeFinish()
  }

  /** Called by the slot pool with a slot this run now holds; false hands it back unused. */
  grant(): boolean {
    this.#granted++
    this.#pump()
    const unused = this.#granted
    this.#granted = 0
    this.#maybeFinish()
    return unused === 0
  }

  // ---------------------------------------------------------------- durable mode

  /**
   * Makes the run durable (called by the engine before start): its facts go to `journal` under
   * `lease`, and with `replay` the run first answers the attempts that journal recorded. A
   * dependent then starts only once its parents' outcomes are durable.
   */
  attachJournal(journal: Journal, lease: Lease, replay: ReplayLog | undefined, maxStartsWithoutOutcome: number, definitionText: string): void {
    this.#journal = journal
    this.#replay = replay
    this.#maxStarts = maxStartsWithoutOutcome
    this.#jrun = journal.join(lease, replay?.lastSeq ?? 0, {
      durable: (ticket) => this.#onDurable(ticket),
      fenced: (reason) => this.#onJournalLost(reason),
      failed: (error) => this.#onJournalLost(error.message),
      paused: () => {
        this.#storePaused = true
        this.#yieldUnusedPermits()
      },
      resumed: () => {
        this.#storePaused = false
        this.#pump()
        this.#maybeFinish()
      },
    })
    this.#readUncertainSettings(definitionText)
  }

  /**
   * Task-level `idempotent` and `onUncertain` settings, read from a definition's text (as stored)
   * only when it has any, once: a durable run reads its pinned definition when it starts; another
   * run only when a runner asks (see {@link mustNotRepeat}).
   */
  #readUncertainSettings(definitionText: string): void {
    if (this.#uncertainSettingsRead) return
    this.#uncertainSettingsRead = true
    if (definitionText.includes('"idempotent":') || definitionText.includes('"onUncertain":')) {
      for (const task of (JSON.parse(definitionText) as { tasks: TaskSpec[] }).tasks) this.#noteUncertainSettings(task)
    }
  }

  /** Ends a run that could not be accepted (the store refused it) before it started: `failed`, with the reason. */
  refuse(reason: string): void {
    this.#stop('failed', reason)
  }

  /**
   * Stops the run without writing a stop: running attempts are aborted, nothing new starts, and
   * the journal keeps the run unfinished so it can be resumed (an engine closing, Ctrl-C).
   */
  suspend(reason: string): void {
    if (this.#state === 'finished') return
    if (this.#durable()) this.#journalStopped(reason)
    this.#suspended = true
    this.cancel(reason)
  }

  /**
   * A suspension is not a crash: each attempt in flight is journaled as stopped (a `fail` whose
   * retry is due at once), so the resume runs it again without counting it as a start without an
   * outcome (`maxStartsWithoutOutcome`) or as a spent attempt. A task that must not run twice is
   * journaled so only while its tool was still waiting for its start to be durable; once called,
   * the tool may have acted before it saw the abort, and the resume treats it as uncertain.
   */
  #journalStopped(reason: string): void {
    const s = this.#s
    let notCalled: Set<number> | undefined
    this.#afterDurable.forEachWaiting((item) => {
      if (item.kind === 'start' && item.request.isCurrent()) (notCalled ??= new Set()).add(item.index)
    })
    const retryAt = this.#env.clock.wallNow()
    for (let i = 0; i < s.size; i++) {
      // A forEach task in progress runs no attempt of its own (its items do).
      if (s.status[i] !== RUNNING || s.extraOrUndefined(i)?.items !== undefined) continue
      if (this.#isNonIdempotent(i) && notCalled?.has(i) !== true) continue
      const taskId = s.ids[i] as string
      const attempt = s.attempts[i] as number
      const error = serializeError(new TaskweaveError('TW_INTERRUPTED', `attempt ${attempt} of task "${taskId}" was stopped: ${reason}`, { retryable: true }))
      this.#write({ kind: 'fail', taskId, attempt, data: JSON.stringify({ error, retryAt, stopped: true }) })
    }
  }

  /** The lease epoch of a durable run (1 for a run without a journal). */
  get epoch(): number {
    return this.#jrun?.lease.epoch ?? 1
  }

  /** Whether outcomes go to the journal (and their consequences wait until they are durable). */
  #durable(): boolean {
    return this.#jrun !== undefined && !this.#journalLost && !this.#suspended
  }

  #write(entry: NewEntry): number {
    return (this.#journal as Journal).append(this.#jrun as JournalRun, entry)
  }

  #onDurable(ticket: number): void {
    this.#durableTicket = ticket
    if (this.#stopSavedWaiters !== undefined && this.#stopTicket > 0 && ticket >= this.#stopTicket) this.#settleStopSaved(true)
    this.#eventTime = -1
    this.#afterDurable.takeUpTo(ticket, this.#applyDurableItem)
    this.#pump()
    this.#maybeFinish()
  }

  /** {@link #applyDurable} as a function value, made on first use: only durable runs need it (a field initialised per run costs every run a closure). */
  #applyDurableFn: ((item: AfterDurable) => void) | undefined
  get #applyDurableItem(): (item: AfterDurable) => void {
    return (this.#applyDurableFn ??= (item) => this.#applyDurable(item))
  }

  /** What an outcome sets off, once its journal entry is durable. */
  #applyDurable(item: AfterDurable): void {
    switch (item.kind) {
      case 'ok':
        if (item.spawned !== undefined) this.#commitSpawned(item.index, item.spawned)
        this.#afterTerminal(item.index)
        this.#settle(item.index)
        return
      case 'fail':
        this.#afterFailure(item.index)
        return
      case 'start':
        if (item.request.isCurrent()) this.#dispatch(item.request)
        return
      case 'finish':
        this.#finished(item.result)
        return
      case 'parked':
        this.#parkedDurable()
        return
    }
  }

  /** The journal refused or lost the run: stop here, write nothing more, let everything waiting go. */
  #onJournalLost(reason: string): void {
    if (this.#journalLost) return
    this.#journalLost = true
    this.#settleStopSaved(false)
    this.#journalLostReason = reason
    this.#eventTime = -1
    const why = `the run store stopped this run: ${reason}`
    this.#stop('failed', why)
    // What still waits was not committed: a success among it is not reported as one (a resume
    // runs that task again); the rest goes on as if durable, so everything waiting is let go.
    this.#afterDurable.drain((item) => {
      if (item.kind === 'ok') this.#successNotCommitted(item.index, why)
      else this.#applyDurable(item)
    })
    this.#pump()
    this.#maybeFinish()
  }

  /**
   * Task `i` succeeded, but its `ok` entry never became durable: it ends `failed` with `TW_STORE`,
   * without its output, the tasks it added or its dependents. Its `task:succeeded` event went out
   * when the attempt ended; this `task:failed` corrects it.
   */
  #successNotCommitted(i: number, why: string): void {
    const s = this.#s
    const taskId = s.ids[i] as string
    const attempt = s.attempts[i] as number
    const error = serializeError(new TaskweaveError('TW_STORE', `attempt ${attempt} of task "${taskId}" succeeded, but its result was not committed (${why}); resuming the run runs it again`, { retryable: true, details: { taskId, attempt } }))
    s.extra(i).error = error
    s.setOutput(i, undefined)
    // Outside the transition table, which describes how a task moves while its outcomes are
    // kept: this one's success is withdrawn because it could not be kept.
    s.status[i] = FAILED
    if (this.#events.wants('task:failed')) this.#emit('task:failed', { taskId, attempt, error })
    this.#afterFailure(i)
  }

  /** Keeps what a task says of running twice (`idempotent`, `onUncertain`), for a resume to read. */
  #noteUncertainSettings(spec: TaskSpec): void {
    if (typeof spec.idempotent === 'boolean') (this.#idempotent ??= new Map()).set(spec.id, spec.idempotent)
    if (spec.onUncertain === 'retry' || spec.onUncertain === 'park') (this.#onUncertain ??= new Map()).set(spec.id, spec.onUncertain)
  }

  /** Task `i`'s own `onUncertain`, else its forEach owner's (`'fail'` when neither says). */
  #uncertainPolicy(i: number): 'fail' | 'retry' | 'park' {
    const policies = this.#onUncertain
    if (policies === undefined) return 'fail'
    const s = this.#s
    const own = policies.get(s.ids[i] as string)
    if (own !== undefined) return own
    const owner = s.peek(i).forEachOwner
    return (owner >= 0 ? policies.get(s.ids[owner] as string) : undefined) ?? 'fail'
  }

  /** Whether task `i` must not run twice whatever happened to its attempt (for runners: `AttemptRequest.mustNotRepeat`). */
  mustNotRepeat(i: number): boolean {
    this.#readUncertainSettings(this.#workflow.snapshot)
    return this.#isNonIdempotent(i) && this.#uncertainPolicy(i) !== 'retry'
  }

  /** Whether task `i` must not run twice: its own setting, its forEach owner's, else its tool's. */
  #isNonIdempotent(i: number): boolean {
    const s = this.#s
    const settings = this.#idempotent
    if (settings !== undefined) {
      const own = settings.get(s.ids[i] as string)
      if (own !== undefined) return !own
      const owner = s.peek(i).forEachOwner
      const inherited = owner >= 0 ? settings.get(s.ids[owner] as string) : undefined
      if (inherited !== undefined) return !inherited
    }
    return (s.shapes[i] as TaskShape).tool.idempotent === false
  }

  // ---------------------------------------------------------------- replay

  /**
   * Answers task `i`'s next attempt from the journal being replayed, if it recorded one: no tool
   * call, no slot. Returns true when the task was handled here; false when it must run for real
   * (nothing recorded, or the recorded attempt was interrupted by the crash).
   */
  #replayNext(i: number): boolean {
    const replay = this.#replay as ReplayLog
    const s = this.#s
    const id = s.ids[i] as string
    const attempt = (s.attempts[i] as number) + 1
    const recorded = replay.attempt(id, attempt)
    if (recorded === undefined) {
      // A replay that ends in a recorded stop starts nothing new: the stop cancels what is left.
      return this.#replaying && replay.stop !== undefined
    }
    const now = this.#now()
    s.attempts[i] = attempt
    s.token[i] = (s.token[i] as number) + 1
    if ((s.firstStartedAt[i] as number) < 0) s.firstStartedAt[i] = now
    s.attemptStartedAt[i] = now
    switch (recorded.outcome) {
      case 'ok':
        this.#replaySucceeded(i, recorded, now)
        return true
      case 'fail':
        this.#transition(i, RUNNING)
        if (recorded.retryAt === undefined) {
          this.#failedForGood(i, recorded.error, now, false)
          return true
        }
        this.#transition(i, RETRYING)
        // A 429 that sent the task back spent no attempt: it is counted as a bounce again.
        if (recorded.bounce) s.extra(i).bounces++
        else if (recorded.reopened === true) {
          // An operator retried it: the attempts so far no longer count against its retry budget.
          const x = s.extra(i)
          this.#recordFailedAttempt(i, { attempt, startedAt: now, finishedAt: now, error: recorded.error })
          x.retryBase = attempt
          x.bounces = 0
          x.stops = 0
        } else {
          // Nor did an attempt a suspension stopped; it is listed among the failed ones, though.
          if (recorded.stopped) s.extra(i).stops++
          this.#recordFailedAttempt(i, { attempt, startedAt: now, finishedAt: now, error: recorded.error })
        }
        // The retry's own attempt is recorded too: no need to wait for its time.
        if (replay.attempt(id, attempt + 1) !== undefined) this.#makeReady(i)
        else this.#armRetry(i, retryDelayAfterResume(recorded.retryAt, recorded.delayMs, this.#env.clock.wallNow()), recorded.error)
        return true
      case 'none': {
        const starts = replay.startsWithoutOutcome(id)
        const policy = this.#uncertainPolicy(i)
        const nonIdempotent = this.#isNonIdempotent(i) && policy !== 'retry'
        if (!nonIdempotent && starts < this.#maxStarts) {
          // Interrupted by the crash: it runs again as the next attempt (a new attemptId, the same idempotency key).
          this.#recordFailedAttempt(i, { attempt, startedAt: now, finishedAt: now, error: serializeError(new TaskweaveError('TW_INTERRUPTED', `attempt ${attempt} of task "${id}" was interrupted: the process running it stopped`, { retryable: true })) })
          // Later attempts recorded too (an operator asked for one, or each started and was
          // interrupted in turn) are answered from the journal as well, not run again over them.
          return replay.lastAttempt(id) > attempt ? this.#replayNext(i) : false
        }
        if (policy === 'park') {
          const why = nonIdempotent ? 'it is marked idempotent: false, so it is not run again' : `it is not run again after ${starts} such starts`
          // The decision is recorded as the outcome of the last attempt that has none.
          this.#park(i, replay.lastStartWithoutOutcome(id), `task "${id}" started ${starts} time(s) without a recorded outcome (the process running it stopped); ${why}`)
          return true
        }
        const why = nonIdempotent ? 'it is marked idempotent: false, so it is not run again' : `after ${starts} such starts it is not run again`
        // The failure is the outcome of the last start: the journal then reads as one attempt after another.
        s.attempts[i] = replay.lastStartWithoutOutcome(id)
        this.#transition(i, RUNNING)
        const error = new TaskweaveError('TW_UNCERTAIN', `task "${id}" started ${starts} time(s) without a recorded outcome (the process running it stopped); ${why}. Check what it did, then add it again if it must run.`, { retryable: false, details: { taskId: id, starts } })
        this.#failedForGood(i, serializeError(error), now, true)
        return true
      }
    }
  }

  /**
   * `onUncertain: 'park'`: the outcome of task `i`'s attempt `attempt` is unknown, and a person
   * must say what it was. The run writes a `park` entry and stops, unfinished and resumable, as a
   * graceful stop does; a resume refuses it (`TW_PARKED`) until an `ok` or `fail` of that attempt
   * decides it (`engine.resolveParked()`).
   */
  #park(i: number, attempt: number, reason: string): void {
    const taskId = this.#s.ids[i] as string
    if (this.#durable()) this.#parkTicket = this.#write({ kind: 'park', taskId, attempt, data: JSON.stringify({ reason }) })
    ;(this.#parked ??= []).push({ taskId, attempt, reason })
    // Found while the journal is replayed, every task that must park parks in this one resume (a
    // crash during a batch of payments leaves them all uncertain): the run stops after the pass.
    if (!this.#replaying) this.#suspendParked()
  }

  /** Stops the run, unfinished, once tasks parked (see {@link #park}). */
  #suspendParked(): void {
    const parked = this.#parked
    if (parked === undefined || this.#state === 'finished') return
    const first = parked[0] as ParkedHere
    const why =
      parked.length === 1
        ? `${first.reason}; it waits for an operator to record what happened (${resolveHint(this.id, first.taskId)})`
        : `the outcomes of ${parked.length} tasks (${parked.map((task) => `"${task.taskId}"`).join(', ')}) are unknown; they wait for an operator to record what happened (${resolveHint(this.id, first.taskId)}, and so on)`
    this.suspend(`parked: ${why}`)
  }

  /**
   * The end of a parked run, once its `park` entries are durable: `run:parked` for each task, the
   * lease given up, then the result, so that whoever reads it may decide at once, from anywhere.
   * If the journal lost them instead, nothing was parked: the run ends `failed` with the store's
   * reason, and a resume parks the same tasks again.
   */
  #parkedDurable(): void {
    const result = this.#buildResult()
    if (this.#journalLost) {
      this.#finished({ ...result, status: 'failed', reason: `the run store stopped this run: ${this.#journalLostReason ?? 'its journal was lost'}; the tasks it was parking were not recorded, and a resume parks them again` })
      return
    }
    for (const { taskId, attempt, reason } of this.#parked ?? []) if (this.#events.wants('run:parked')) this.#emit('run:parked', { taskId, attempt, reason })
    void (this.#journal as Journal).leaveAndRelease(this.#jrun as JournalRun).then(() => this.#finished(result))
  }

  #replaySucceeded(i: number, recorded: Extract<RecordedAttempt, { outcome: 'ok' }>, now: number): void {
    const s = this.#s
    this.#transition(i, RUNNING)
    let output: unknown
    let spawned: PreparedTask[] | undefined
    try {
      output = recorded.output === undefined ? undefined : freezeDeep(JSON.parse(recorded.output) as unknown)
      if (recorded.added !== undefined) spawned = this.#prepareSpawned((JSON.parse(recorded.added) as TaskSpec[]).map((spec) => plainTaskSpec(spec)))
    } catch (err) {
      this.#failedForGood(i, serializeError(err), now, false)
      return
    }
    s.setOutput(i, output)
    s.finishedAt[i] = now
    this.#transition(i, SUCCEEDED)
    if (this.#events.wants('task:succeeded')) this.#emit('task:succeeded', { taskId: s.ids[i] as string, attempt: s.attempts[i] as number, durationMs: now - (s.firstStartedAt[i] as number) })
    if (spawned !== undefined) this.#commitSpawned(i, spawned)
    this.#afterTerminal(i)
    this.#settle(i)
  }

  /**
   * A task that is RUNNING without holding a slot fails for good with `error`: a failure read from
   * the journal (`write` false) or one decided on resume (`write` true: it is a new fact).
   */
  #failedForGood(i: number, error: SerializedError, now: number, write: boolean): void {
    const s = this.#s
    s.extra(i).error = error
    s.finishedAt[i] = now
    this.#transition(i, FAILED)
    const taskId = s.ids[i] as string
    if (this.#events.wants('task:failed')) this.#emit('task:failed', { taskId, attempt: s.attempts[i] as number, error })
    if (write && this.#durable()) {
      const ticket = this.#write({ kind: 'fail', taskId, attempt: s.attempts[i] as number, data: JSON.stringify({ error }) })
      this.#afterDurable.push({ ticket, kind: 'fail', index: i })
      return
    }
    this.#afterFailure(i)
  }

  /** What a task's final failure sets off: its handler, its dependents, failFast. */
  #afterFailure(i: number): void {
    this.#afterTerminal(i)
    this.#settle(i)
    // A failure an operator's retry left as it was does not stop the retried run again.
    if (this.#settings.failFast && this.#state === 'running' && !(this.#replaying && this.#replay?.keptFailures.has(this.#s.ids[i] as string) === true)) this.#stop('failed', `failFast: task "${this.#s.ids[i]}" failed`)
  }

  #recordFailedAttempt(i: number, record: AttemptRecord): void {
    ;(this.#s.extra(i).failedAttempts ??= []).push(record)
  }

  /**
   * The first pass of a resume: every ready task whose attempt the journal recorded is answered
   * from it, which makes its dependents ready, and so on; tasks with nothing recorded go back to
   * the queue to run for real once the pass is over (or are cancelled by a recorded stop).
   */
  #replayPass(): void {
    const queue = this.#queue
    const live: number[] = []
    const wasPumping = this.#pumping
    this.#pumping = true
    this.#replaying = true
    try {
      while (this.#state === 'running' && queue.size > 0) {
        const index = queue.pop()
        if (!this.#replayNext(index)) live.push(index)
      }
    } finally {
      this.#replaying = false
      this.#pumping = wasPumping
    }
    if (this.#parked !== undefined) return this.#suspendParked()
    for (const index of live) if (this.#s.status[index] === READY) queue.push(index)
  }

  /** Adds the tasks the journal says the handle added (or a handler of `addedBy`), as they were. */
  #replayAdds(addedBy: string | undefined, later: TaskSpec[] | undefined): void {
    const replay = this.#replay
    if (replay === undefined) return
    for (const add of replay.addedBy(addedBy)) {
      if (this.#indexOf(add.spec.id) !== undefined) continue
      try {
        ;(this.#addedText ??= new Map()).set(add.spec.id, add.text)
        this.#commitAddedTask(plainTaskSpec(add.spec), addedBy)
      } catch (err) {
        // Its dependencies may not exist yet (added later in the replay): tried again at the end.
        if (later !== undefined) later.push(add.spec)
        else {
          // Finishing without it would record work as done that never ran: the run stays
          // unfinished (resumable once what refused the task is mended).
          logFailure(this.#env.logger, 'a task recorded in the journal could not be added again', err, { runId: this.id, taskId: add.spec.id })
          this.suspend(`task "${add.spec.id}", added ${add.addedBy === undefined ? 'to the run' : `by "${add.addedBy}"`} before the restart, could not be added again: ${describeThrown(err)}; the run stays unfinished, to be resumed once that is mended`)
          return
        }
      }
    }
  }

  // ---------------------------------------------------------------- graph

  /** Appends a task that is not in the compiled workflow; it waits for its parents not yet terminal. */
  #appendTask(id: string, shape: TaskShape, parents: readonly number[]): number {
    const s = this.#s
    const index = s.append(id, shape, parents)
    let waiting = 0
    for (const p of parents) if ((s.status[p] as number) < SUCCEEDED) waiting++
    s.waiting[index] = waiting
    ;(this.#extraIds ??= new Map()).set(id, index)
    return index
  }

  #now(): number {
    const t = this.#eventTime
    return t >= 0 ? t : this.#env.clock.now()
  }

  #costOf(shape: TaskShape): number {
    return taskCost(shape, this.#env.toolStats)
  }

  /**
   * Decides a task whose parents are all terminal: skipped, failed (condition or forEach error),
   * expanded (forEach) or ready. Returns true when the task became terminal right here.
   */
  #evaluate(i: number): boolean {
    if (this.#state !== 'running') return false
    const verdict = triggerVerdict(this.#s, i)
    if (verdict !== undefined) {
      this.#skip(i, verdict.reason, verdict.root)
      return true
    }
    const shape = this.#s.shapes[i] as TaskShape
    if (shape.when !== undefined && this.#conditionDecided(i, shape.when)) return true
    if (shape.forEach !== undefined) return this.#expandForEach(i)
    this.#makeReady(i)
    return false
  }

  /** Evaluates task `i`'s condition: true when that decided the task (skipped, or failed by an error). */
  #conditionDecided(i: number, when: NonNullable<TaskShape['when']>): boolean {
    let holds: boolean
    try {
      holds = when.evaluate(conditionScope(this.#s, this.#indexOfTask, this.#settings.inputs, when.taskRefs))
    } catch (err) {
      this.#failWithoutAttempt(i, namingTask(err, this.#s.ids[i] as string))
      return true
    }
    if (holds) return false
    this.#skip(i, `condition is false: ${when.source}`, -1)
    return true
  }

  #scope(i: number): TemplateScope {
    return templateScope(this.#s, this.#indexOfTask, this.#settings.inputs, i)
  }

  #expandForEach(owner: number): boolean {
    const s = this.#s
    const shape = s.shapes[owner] as TaskShape
    const ownerId = s.ids[owner] as string
    let list: unknown
    try {
      list = resolveNamingTask(() => shape.forEach?.resolve(this.#scope(owner)), ownerId)
    } catch (err) {
      this.#failWithoutAttempt(owner, err)
      return true
    }
    if (!Array.isArray(list)) {
      this.#failWithoutAttempt(owner, new TaskweaveError('TW_FOR_EACH', `forEach of task "${ownerId}" must give a list; it gave ${list === null ? 'null' : typeof list}`, { retryable: false }))
      return true
    }
    if (list.length > this.#env.maxForEachItems) {
      this.#failWithoutAttempt(owner, new TaskweaveError('TW_FOR_EACH', `forEach of task "${ownerId}" gave ${list.length} items; the limit is ${this.#env.maxForEachItems}`, { retryable: false }))
      return true
    }
    this.#transition(owner, RUNNING)
    const now = this.#now()
    s.firstStartedAt[owner] = now
    if (list.length === 0) {
      s.setOutput(owner, [])
      this.#transition(owner, SUCCEEDED)
      s.finishedAt[owner] = now
      if (this.#events.wants('task:succeeded')) this.#emit('task:succeeded', { taskId: ownerId, attempt: 0, durationMs: 0 })
      this.#afterTerminal(owner)
      return true
    }
    const items = itemShape(shape)
    const rank = s.rank[owner] as number
    const ox = s.extra(owner)
    const indices: number[] = (ox.items = [])
    ox.pendingItems = list.length
    // Every item is made ready before any is reported, so a listener that cancels the run sees
    // (and cancels) all of them.
    for (let k = 0; k < list.length; k++) {
      const child = this.#appendTask(`${ownerId}[${k}]`, items, NO_TASKS)
      const cx = s.extra(child)
      cx.item = list[k]
      cx.itemIndex = k
      cx.hasItem = true
      cx.forEachOwner = owner
      s.rank[child] = rank
      indices.push(child)
      this.#makeReady(child, false)
    }
    if (this.#events.wants('task:added') || this.#events.wants('task:ready')) {
      for (const child of indices) {
        const childId = s.ids[child] as string
        this.#emit('task:added', { taskId: childId, tool: shape.toolName, forEachOf: ownerId })
        this.#emit('task:ready', { taskId: childId })
      }
    }
    return false
  }

  #finishForEach(owner: number): void {
    const s = this.#s
    const ownerId = s.ids[owner] as string
    const items = s.peek(owner).items ?? []
    const now = this.#now()
    s.finishedAt[owner] = now
    const failed = items.filter((item) => s.status[item] !== SUCCEEDED)
    const gathered = failed.length === 0 ? items.map((item) => s.output(item)) : undefined
    if (gathered !== undefined && jsonExceeds(gathered, this.#env.maxOutputBytes)) {
      this.#failWithoutAttempt(owner, new TaskweaveError('TW_OUTPUT_TOO_LARGE', `the ${items.length} item outputs of forEach task "${ownerId}" together are over the output limit (raise the engine's maxOutputBytes, or have items write files and return their paths)`, { retryable: false, details: { taskId: ownerId, maxBytes: this.#env.maxOutputBytes } }))
      return
    }
    if (gathered !== undefined) {
      s.setOutput(owner, freezeDeep(gathered))
      this.#transition(owner, SUCCEEDED)
      if (this.#events.wants('task:succeeded')) this.#emit('task:succeeded', { taskId: ownerId, attempt: 0, durationMs: now - (s.firstStartedAt[owner] as number) })
    } else {
      const first = failed[0] as number
      const error = new TaskweaveError('TW_FOR_EACH', `${failed.length} of ${items.length} items of task "${ownerId}" did not succeed (first: "${s.ids[first]}" ${STATUS_NAMES[s.status[first] as number]})`, {
        retryable: false,
        details: { failedItems: failed.map((f) => s.ids[f]) },
      })
      const serialized = serializeError(error)
      s.extra(owner).error = serialized
      this.#transition(owner, FAILED)
      if (this.#events.wants('task:failed')) this.#emit('task:failed', { taskId: ownerId, attempt: 0, error: serialized })
    }
    this.#afterTerminal(owner)
  }

  /** Marks a task terminal-handled and walks the consequences iteratively (no recursion on long chains). */
  #settle(first: number): void {
    const stack = this.#settleStack
    const bottom = this.#settleTop
    stack[this.#settleTop++] = first
    const s = this.#s
    const { childStart, children } = s.graph
    while (this.#settleTop > bottom) {
      const i = stack[--this.#settleTop] as number
      this.#settled++
      const x = s.extraOrUndefined(i)
      if (x !== undefined && x.forEachOwner >= 0) {
        const owner = x.forEachOwner
        const ox = s.extra(owner)
        ox.pendingItems--
        if (ox.pendingItems === 0 && s.status[owner] === RUNNING) {
          this.#finishForEach(owner)
          stack[this.#settleTop++] = owner
        }
      }
      if (i < s.base) {
        const end = childStart[i + 1] as number
        for (let k = childStart[i] as number; k < end; k++) this.#parentSettled(children[k] as number)
      }
      const more = x?.children
      if (more !== undefined) for (let k = 0; k < more.length; k++) this.#parentSettled(more[k] as number)
    }
  }

  /** One parent of `child` became terminal: once none is left, the child is decided. */
  #parentSettled(child: number): void {
    const s = this.#s
    if (s.status[child] !== PENDING) return
    const waiting = (s.waiting[child] as number) - 1
    s.waiting[child] = waiting
    if (waiting === 0 && this.#evaluate(child)) this.#settleStack[this.#settleTop++] = child
  }

  // ---------------------------------------------------------------- transitions

  #transition(i: number, to: number): void {
    const s = this.#s
    const from = s.status[i] as number
    // The table checked here rather than through a call: this runs on every move of every task.
    if (((ALLOWED_CODES[from] as number) & (1 << to)) === 0) assertTransitionCode(s.ids[i] as string, from, to)
    s.status[i] = to
  }

  #makeReady(i: number, report = true): void {
    this.#transition(i, READY)
    this.#s.seq[i] = this.#nextSeq++
    this.#queue.push(i)
    if (report && this.#events.wants('task:ready')) this.#emit('task:ready', { taskId: this.#s.ids[i] as string })
  }

  #skip(i: number, reason: string, root: number): void {
    const s = this.#s
    this.#transition(i, SKIPPED)
    const x = s.extra(i)
    x.reason = reason
    x.rootFailure = root
    s.finishedAt[i] = this.#now()
    if (root >= 0) (s.extra(root).blocked ??= []).push(s.ids[i] as string)
    if (this.#events.wants('task:skipped')) this.#emit('task:skipped', { taskId: s.ids[i] as string, reason })
    this.#afterTerminal(i)
  }

  #failWithoutAttempt(i: number, err: unknown): void {
    const s = this.#s
    const error = serializeError(err)
    s.extra(i).error = error
    s.finishedAt[i] = this.#now()
    this.#transition(i, FAILED)
    if (this.#events.wants('task:failed')) this.#emit('task:failed', { taskId: s.ids[i] as string, attempt: s.attempts[i] as number, error })
    this.#afterTerminal(i)
    if (this.#settings.failFast && this.#state === 'running') this.#stop('failed', `failFast: task "${s.ids[i]}" failed`)
  }

  // ---------------------------------------------------------------- dispatch

  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      const queue = this.#queue
      // Never more than the engine has slots: a run alone then takes a freed slot at once instead
      // of queueing for it (and the engine's slot count may change at run time).
      const limit = Math.min(this.#settings.concurrency, this.#env.slots.capacity)
      const shapes = this.#s.shapes
      // Admission: the run's own limit, then the task's keyed permit (engine-wide), then an engine
      // slot. A task waiting for a key holds no slot; one waiting for a slot keeps its permit.
      while (this.#state === 'running' && !this.#stopRequested && !this.#storePaused && this.#running < limit && queue.size > 0) {
        // A task that needs nothing but a slot takes it before leaving the queue: when every slot
        // is taken (many runs share them) it stays where it is, instead of being taken out and
        // handed back on every try.
        if (this.#granted === 0 && this.#replay === undefined && needsOnlySlot(shapes[queue.peek()] as TaskShape, this.#env.rates.hasToolKeys)) {
          if (!this.#env.slots.tryAcquire(this)) break
          this.#granted++
        }
        const index = queue.pop()
        if (this.#replay !== undefined && this.#replayNext(index)) continue
        const shape = shapes[index] as TaskShape
        const permit = shape.tool.permit
        if (permit !== undefined && this.#heldToolPermits?.has(index) !== true && !this.#admitToolPermit(index, shape, permit)) continue
        if (shape.group !== undefined && this.#heldPermits?.has(index) !== true && !this.#admitGroup(index, shape.group, shape.priority)) continue
        if ((shape.rateKey !== undefined || shape.tool.rateKey !== undefined || shape.tool.rateKeyOf !== undefined || this.#env.rates.hasToolKeys) && !this.#admitRate(index, shape)) continue
        if (this.#granted > 0) this.#granted--
        else if (!this.#env.slots.tryAcquire(this)) {
          queue.push(index)
          break
        }
        this.#startAttempt(index)
      }
    } finally {
      this.#pumping = false
    }
  }

  /**
   * Takes a permit of the task's capped group, if its group is capped. False when the task must
   * wait: it is queued in the limiter and holds nothing else.
   */
  #admitGroup(index: number, group: string, priority: number): boolean {
    const cap = this.#groupCap(group)
    if (cap === undefined) return true
    const key = this.#groupKey(group)
    if (!this.#env.limiter.tryAcquire(key, cap)) {
      this.#env.limiter.wait(key, cap, this, index, priority)
      return false
    }
    ;(this.#heldPermits ??= new Map()).set(index, key)
    return true
  }

  /**
   * Takes the keyed permit the task's tool asks for (an agent session's turn, say), resolving the
   * input now since the key depends on it. False when the task must wait (it is queued in the
   * limiter and holds nothing else) or ended here. Input that cannot be resolved admits the task:
   * its attempt then fails the usual way. A key function that throws or gives something other
   * than a string fails the task (not retried): running it without its limit would break the
   * promise the limit makes, and the key function would throw again on a retry.
   */
  #admitToolPermit(index: number, shape: TaskShape, permit: ToolPermit<unknown>): boolean {
    const x = this.#admittedInput(index, shape)
    if (x === undefined) return true
    let key: string | undefined
    try {
      const given: unknown = permit.key(x.admittedInput, { runId: this.id })
      if (given !== undefined && (typeof given !== 'string' || given.length === 0)) throw new TypeError(`it gave ${given === '' ? 'an empty string' : given === null ? 'null' : `a ${typeof given}`}, where a non-empty string (or undefined for no limit) was expected`)
      key = given
    } catch (err) {
      this.#dropPermits(index)
      this.#failWithoutAttempt(index, badPermitKey(shape.toolName, this.#s.ids[index] as string, err))
      this.#settle(index)
      return false
    } finally {
      // User code ran: the attempt's start reads the clock again.
      this.#eventTime = -1
    }
    if (key === undefined) return true
    if (!this.#env.limiter.tryAcquire(key, permit.limit)) {
      this.#env.limiter.wait(key, permit.limit, this, -(index + 1), shape.priority)
      return false
    }
    ;(this.#heldToolPermits ??= new Map()).set(index, key)
    return true
  }

  /**
   * Resolves task `index`'s input at admission (a permit or rate key depends on it), once: the
   * attempt then uses that input. Undefined when it cannot be resolved: the task is admitted and
   * its attempt fails the usual way.
   */
  #admittedInput(index: number, shape: TaskShape): TaskExtra | undefined {
    const x = this.#s.extra(index)
    if (!x.hasAdmittedInput) {
      try {
        x.admittedInput = this.#resolveInput(index, shape)
      } catch {
        return undefined
      } finally {
        // The tool's schema (its transforms) ran: the attempt's start reads the clock again.
        this.#eventTime = -1
      }
      x.hasAdmittedInput = true
    }
    return x
  }

  /**
   * Takes task `index`'s admission under its rate key, if it has one. False when the task must
   * wait (it is queued in the rate limiter and is handed back through {@link rateAdmitted}), or
   * ended here: skipped because the run's budget is used up, failed because its estimate can
   * never fit the key's token budget.
   */
  #admitRate(index: number, shape: TaskShape): boolean {
    const rates = this.#rates()
    if (rates.holds(index)) {
      if (rates.exhausted === undefined) return true
      rates.undo(index)
      this.#skipForBudget(index)
      return false
    }
    const needsInput = shape.tool.rateKeyOf !== undefined || shape.tool.estimateTokens !== undefined
    let input: unknown
    if (needsInput) {
      const x = this.#admittedInput(index, shape)
      if (x === undefined) return true
      input = x.admittedInput
    }
    const key = rates.keyOf(shape, input)
    if (needsInput) this.#eventTime = -1 // rateKeyOf ran (estimateTokens runs below, or at the head of the key's line): the start reads the clock again
    if (key === undefined) return true
    if (rates.exhausted !== undefined) {
      this.#skipForBudget(index)
      return false
    }
    this.#s.extra(index).rateKey = key
    rates.keysUsed.add(key)
    const admission = shape.tool.estimateTokens === undefined ? rates.admit(index, key, 0, shape.priority) : rates.admitEstimated(index, key, shape.priority)
    if (needsInput) this.#eventTime = -1
    if (admission.admitted) return true
    const block = admission.block
    if (block.blocked === 'never') {
      this.#dropPermits(index)
      this.#failWithoutAttempt(index, neverFits(key, block.reason))
      this.#settle(index)
      return false
    }
    if (this.#events.wants('task:throttled')) {
      const until = block.waitMs === undefined ? undefined : this.#env.clock.wallNow() + block.waitMs
      this.#emit('task:throttled', { taskId: this.#s.ids[index] as string, key, reason: block.blocked, ...(until !== undefined ? { until } : {}) })
    }
    return false
  }

  /** The run's rate bookkeeping, made on first use. */
  #rates(): RunRates {
    return (this.#ratesMade ??= new RunRates(this.#env.rates, this, this.#settings.budget ?? this.#workflow.budget, this.id))
  }

  /** An LLM task that will not start because the run's budget is used up: skipped, with the reason. */
  #skipForBudget(index: number): void {
    this.#dropPermits(index)
    this.#rates().budgetSkipped++
    this.#skip(index, this.#rates().exhausted as string, -1)
    this.#settle(index)
  }

  /**
   * The run gives up on the running attempt of task `i` (it timed out, or the run is stopped) while
   * its tool may still be running. A group is a provider cap: a call the tool has not given up is
   * still in flight there; a tool's own key (an agent session's turn) guards state the tool still
   * uses. So the attempt's keyed permits are given back only when the tool returns,
   * or {@link LINGER_MS} later if it never does (a tool that ignores its abort signal must not
   * block its group for ever). The engine slot is freed at once. For tools run in this process:
   * a remote runner forgets a cancelled attempt (its workers free their cross-process group places).
   */
  #lingerPermit(i: number): void {
    // Only a runner that reports after a cancel can say when the tool stopped.
    if (this.#env.runner.reportsAfterCancel !== true) return
    const request = this.#permitAttempts?.get(i)
    if (request === undefined) return
    ;(this.#permitAttempts as Map<number, RunAttempt>).delete(i)
    const keys: string[] = []
    const group = this.#heldPermits?.get(i)
    if (group !== undefined) {
      ;(this.#heldPermits as Map<number, string>).delete(i)
      keys.push(group)
    }
    const toolKey = this.#heldToolPermits?.get(i)
    if (toolKey !== undefined) {
      ;(this.#heldToolPermits as Map<number, string>).delete(i)
      keys.push(toolKey)
    }
    if (keys.length === 0) return
    const { limiter, logger } = this.#env
    const taskId = this.#s.ids[i] as string
    // Housekeeping: on the real clock the bound does not keep the process alive by itself.
    const clock = this.#env.clock
    const setTimer = clock === systemClock ? (ms: number, fn: () => void) => setLongTimeout(ms, fn, { unref: true }) : (ms: number, fn: () => void) => clock.setTimer(ms, fn)
    request.linger(() => {
      for (const key of keys) limiter.release(key)
    }, setTimer, LINGER_MS, () =>
      logger.warn(`the tool of task "${taskId}" still runs ${LINGER_MS / 1000} s after its attempt ended (it ignores its abort signal): its permit of ${keys.map((key) => `"${key}"`).join(' and ')} is given back`, { runId: this.id, taskId, keys }),
    )
  }

  /**
   * Hands back the keyed permits of tasks that hold one and have not started: while the store
   * refuses writes nothing starts here, and another run (one without a store, or one on a store
   * that works) may use them meanwhile. The tasks stay in the queue and ask again once it is back.
   */
  #yieldUnusedPermits(): void {
    const status = this.#s.status
    for (const held of [this.#heldPermits, this.#heldToolPermits]) {
      if (held === undefined) continue
      for (const [i, key] of held) {
        if (status[i] !== READY) continue
        held.delete(i)
        this.#env.limiter.release(key)
      }
    }
  }

  /** Gives back the keyed permits task `i` took but will not use (it ends without an attempt). */
  #dropPermits(i: number): void {
    const key = this.#heldPermits?.get(i)
    if (key !== undefined) {
      ;(this.#heldPermits as Map<number, string>).delete(i)
      this.#env.limiter.release(key)
    }
    const toolKey = this.#heldToolPermits?.get(i)
    if (toolKey !== undefined) {
      ;(this.#heldToolPermits as Map<number, string>).delete(i)
      this.#env.limiter.release(toolKey)
    }
  }

  /** @internal Called by the rate limiter (through {@link RunRates}) with an admission task `index` waited for. */
  rateAdmitted(index: number): boolean {
    if (this.#state !== 'running' || this.#stopRequested || this.#s.status[index] !== READY) return false
    this.#queue.push(index)
    this.#pump()
    this.#maybeFinish()
    return true
  }

  /** @internal The tokens task `index` reserves under its rate key: its tool's estimate for the input it was admitted with. */
  rateTokens(index: number): number {
    // A task that will not start when admitted (the run is stopping, the task is no longer ready,
    // the budget is used up) reserves nothing and costs no tokenizer pass: the grant is refused.
    if (this.#state !== 'running' || this.#stopRequested || this.#s.status[index] !== READY || this.#rates().exhausted !== undefined) return 0
    const tokens = this.#rates().estimateOf(this.#s.shapes[index] as TaskShape, this.#s.extraOrUndefined(index)?.admittedInput)
    this.#eventTime = -1 // the estimate ran the tool's code: the next event reads the clock again
    return tokens
  }

  /** @internal Task `index` can never be admitted under its rate key. */
  rateRefused(index: number, error: TaskweaveError): void {
    if (this.#state !== 'running' || this.#s.status[index] !== READY) return
    this.#dropPermits(index)
    this.#failWithoutAttempt(index, error)
    this.#settle(index)
    this.#pump()
    this.#maybeFinish()
  }

  /** The input of task `i`'s next attempt: a private copy of a static input, or its templates resolved. */
  #resolveInput(i: number, shape: TaskShape): unknown {
    if (shape.staticInput !== undefined) return privateStaticInput(shape.staticInput.value)
    return resolveToolInput(shape, this.#scope(i), this.#env.maxOutputBytes, this.#s.ids[i] as string)
  }

  /** The cap of `group`: the engine's setting for it, else the workflow's; undefined when uncapped. */
  #groupCap(group: string): number | undefined {
    const engineCaps = this.#env.groupLimits
    if (engineCaps !== undefined && Object.hasOwn(engineCaps, group)) return engineCaps[group]
    const caps = this.#workflow.groups
    return Object.hasOwn(caps, group) ? caps[group] : undefined
  }

  /** The limiter key of `group`: shared by the engine's runs, or this run's own with `groupScope: 'run'`. */
  #groupKey(group: string): string {
    return this.#settings.groupScope === 'run' ? `run:${this.id}:group:${group}` : `group:${group}`
  }

  /**
   * Called by the limiter with a permit a task waited for: `ticket` is the task index for its
   * group, `-(index + 1)` for its tool's key. False hands the permit back unused.
   */
  permitGranted(key: string, ticket: number): boolean {
    const index = ticket < 0 ? -ticket - 1 : ticket
    if (this.#state !== 'running' || this.#stopRequested || this.#s.status[index] !== READY) return false
    // Paused while the store refuses writes: the permit goes to a run that can use it, and the
    // task, back in this run's queue, asks again once the store is back.
    if (this.#storePaused) {
      this.#queue.push(index)
      return false
    }
    ;(ticket < 0 ? (this.#heldToolPermits ??= new Map()) : (this.#heldPermits ??= new Map())).set(index, key)
    this.#queue.push(index)
    this.#pump()
    this.#maybeFinish()
    return true
  }

  #releaseSlot(i: number): void {
    this.#running--
    this.#env.slots.release()
    this.#permitAttempts?.delete(i)
    this.#dropPermits(i)
    this.#ratesMade?.settle(i, false)
  }

  #startAttempt(i: number): void {
    const s = this.#s
    this.#transition(i, RUNNING)
    this.#running++
    const shape = s.shapes[i] as TaskShape
    const attempt = (s.attempts[i] as number) + 1
    s.attempts[i] = attempt
    const token = (s.token[i] as number) + 1
    s.token[i] = token
    const now = this.#now()
    s.attemptStartedAt[i] = now
    if ((s.firstStartedAt[i] as number) < 0) s.firstStartedAt[i] = now
    if (this.#events.wants('task:started') && !this.#reportStarted(i, attempt, token, shape)) return
    const startTicket = this.#durable() ? this.#writeStart(i, attempt) : -1
    const admitted = s.extraOrUndefined(i)
    let input: unknown
    if (admitted === undefined && shape.staticInput !== undefined) input = privateStaticInput(shape.staticInput.value)
    else {
      input = this.#attemptInput(i, shape, admitted, token)
      if (input === NO_INPUT) return
    }
    if (shape.timeoutMs !== undefined) this.#armTimeout(i, token, attempt, shape.timeoutMs)
    // A tool permit (an agent session's turn) names where the work's state lives: a remote runner
    // sends the attempt to the worker that ran the key's last one.
    const request = new RunAttempt(this, i, token, s.ids[i] as string, attempt, shape, input, shape.tool.permit === undefined ? undefined : this.#heldToolPermits?.get(i), admitted?.rateKey)
    if (this.#heldPermits !== undefined || this.#heldToolPermits !== undefined) this.#notePermitAttempt(i, request)
    // A task that must not run twice runs only once its start is durable: after a crash the
    // journal then says it may have run, and it is not run again blindly.
    if (startTicket > 0 && this.#isNonIdempotent(i)) this.#afterDurable.push({ ticket: startTicket, kind: 'start', index: i, request })
    else {
      this.#dispatch(request)
      // The tool's synchronous part ran (it may have taken a while): the next start reads the clock.
      this.#eventTime = -1
    }
  }

  // What #startAttempt needs for some tasks only, in methods of their own: a fresh process then
  // compiles (V8 compiles a function on its first call) only what its first run uses.

  /** Hands an attempt to the runner: the request as plain data to a runner the engine was given, as it is to its own. */
  #dispatch(request: RunAttempt): void {
    const env = this.#env
    env.runner.start(env.plainRequests ? plainAttemptRequest(request) : request, request)
  }

  /** Reports `task:started`; false when a listener ended the attempt or asked the run to stop (the tool then never runs). */
  #reportStarted(i: number, attempt: number, token: number, shape: TaskShape): boolean {
    const s = this.#s
    this.#emit('task:started', { taskId: s.ids[i] as string, attempt, tool: shape.toolName })
    return s.token[i] === token && s.status[i] === RUNNING && !this.#stopRequested
  }

  #writeStart(i: number, attempt: number): number {
    return this.#write({ kind: 'start', taskId: this.#s.ids[i] as string, attempt })
  }

  /**
   * The input of an attempt whose task was admitted with its input resolved, or has no static
   * input; {@link NO_INPUT} when resolving it failed the attempt.
   */
  #attemptInput(i: number, shape: TaskShape, admitted: TaskExtra | undefined, token: number): unknown {
    if (admitted !== undefined && admitted.hasAdmittedInput) {
      const input = admitted.admittedInput
      admitted.admittedInput = undefined
      admitted.hasAdmittedInput = false
      return input
    }
    if (shape.staticInput !== undefined) return privateStaticInput(shape.staticInput.value)
    let input: unknown
    try {
      input = this.#resolveInput(i, shape)
    } catch (err) {
      // The tool's schema (its refinements and transforms) ran: the failure reads the clock again.
      this.#eventTime = -1
      this.#attemptFailed(i, token, err)
      return NO_INPUT
    }
    this.#eventTime = -1
    return input
  }

  /** Keeps the attempt of a task that holds a keyed permit (its permits may outlive it: see #lingerPermit). */
  #notePermitAttempt(i: number, request: RunAttempt): void {
    if (this.#heldPermits?.has(i) === true || this.#heldToolPermits?.has(i) === true) (this.#permitAttempts ??= new Map()).set(i, request)
  }

  /**
   * Arms the deadline of attempt `attempt` (token `token`) of task `i`. A method of its own: a
   * closure inside {@link #startAttempt} would give every call of it a context for the variables
   * the closure reads, timeout or not.
   */
  #armTimeout(i: number, token: number, attempt: number, timeoutMs: number): void {
    const s = this.#s
    s.extra(i).timer = this.#env.clock.setTimer(timeoutMs, () => {
      const tx = s.extra(i)
      tx.timer = undefined
      if (s.token[i] !== token || s.status[i] !== RUNNING) return
      this.#lingerPermit(i)
      this.#attemptFailed(i, token, this.#timeoutError(i, attempt, timeoutMs))
      this.#maybeFinish()
    })
  }

  #timeoutError(i: number, attempt: number, timeoutMs: number): TimeoutError {
    const taskId = this.#s.ids[i] as string
    return new TimeoutError(`task "${taskId}" attempt ${attempt} timed out after ${timeoutMs} ms`, { details: { taskId, timeoutMs } })
  }

  /** @internal Records a successful attempt (the runner's sink calls it). */
  attemptSucceeded(i: number, token: number, value: unknown, added: readonly TaskSpec[] | undefined): void {
    // User code ran since the last clock read.
    this.#eventTime = -1
    this.#attemptSucceeded(i, token, value, added)
    this.#maybeFinish()
  }

  /** @internal Records a failed attempt (the runner's sink calls it). */
  attemptFailed(i: number, token: number, err: unknown): void {
    this.#eventTime = -1
    this.#attemptFailed(i, token, err)
    this.#maybeFinish()
  }

  #attemptSucceeded(i: number, token: number, value: unknown, added: readonly TaskSpec[] | undefined): void {
    const s = this.#s
    if (s.token[i] !== token || s.status[i] !== RUNNING) return
    const shape = s.shapes[i] as TaskShape
    // A tool that kept the event loop busy past its deadline returns before its timer could fire:
    // the deadline is checked here too, so such an attempt is a timeout, not a success.
    if (shape.timeoutMs !== undefined && this.#env.clock.now() - (s.attemptStartedAt[i] as number) > shape.timeoutMs) {
      this.#attemptFailed(i, token, this.#timeoutError(i, s.attempts[i] as number, shape.timeoutMs))
      return
    }
    let output: unknown
    let text: string | undefined
    let spawned: PreparedTask[] | undefined
    try {
      const maxBytes = shape.tool.maxOutputBytes ?? this.#env.maxOutputBytes
      if (value === undefined) output = undefined
      else if (this.#durable()) ({ value: output, text } = toPlainDataWithText(value, maxBytes, s.ids[i] as string))
      else output = toPlainData(value, maxBytes, s.ids[i] as string)
      if (added !== undefined) spawned = this.#prepareSpawned(added)
    } catch (err) {
      this.#attemptFailed(i, token, err)
      return
    }
    const x = s.extraOrUndefined(i)
    if (x !== undefined) {
      x.timer?.()
      x.timer = undefined
    }
    s.setOutput(i, output)
    const now = this.#env.clock.now()
    this.#eventTime = now
    try {
      this.#succeeded(i, now, spawned, text)
    } finally {
      this.#eventTime = -1
    }
  }

  /** The bookkeeping of a successful attempt, at `now` (the time everything it sets off also reads). */
  #succeeded(i: number, now: number, spawned: readonly PreparedTask[] | undefined, text: string | undefined): void {
    const s = this.#s
    const shape = s.shapes[i] as TaskShape
    s.finishedAt[i] = now
    this.#transition(i, SUCCEEDED)
    this.#releaseSlot(i)
    this.#env.toolStats.record(shape.toolName, now - (s.attemptStartedAt[i] as number))
    if (this.#events.wants('task:succeeded')) this.#emit('task:succeeded', { taskId: s.ids[i] as string, attempt: s.attempts[i] as number, durationMs: now - (s.firstStartedAt[i] as number) })
    if (this.#durable()) {
      this.#succeededDurably(i, spawned, text)
      return
    }
    if (spawned !== undefined) this.#commitSpawned(i, spawned)
    this.#afterTerminal(i)
    this.#settle(i)
    this.#pump()
    this.#maybeFinish()
  }

  /**
   * {@link #succeeded} in a durable run: recorded now (the slot is free for the next task), applied
   * once durable: the tasks it added join, its handler runs and its dependents start only then.
   */
  #succeededDurably(i: number, spawned: readonly PreparedTask[] | undefined, text: string | undefined): void {
    const s = this.#s
    const entry: NewEntry = { kind: 'ok', taskId: s.ids[i] as string, attempt: s.attempts[i] as number }
    const ticket = this.#write(text === undefined && spawned === undefined ? entry : { ...entry, ...(text !== undefined ? { data: text } : {}), ...(spawned !== undefined ? { added: JSON.stringify(spawned.map((p) => p.spec)) } : {}) })
    this.#afterDurable.push({ ticket, kind: 'ok', index: i, spawned })
    this.#pump()
  }

  #attemptFailed(i: number, token: number, err: unknown): void {
    const s = this.#s
    if (s.token[i] !== token || s.status[i] !== RUNNING) return
    this.#releaseReserved(i)
    const x = s.extra(i)
    x.timer?.()
    x.timer = undefined
    const now = this.#now()
    const error = serializeError(err)
    this.#endAttemptSignal(i, token, isTimeout(err) ? err : new CancelledError(`attempt ${s.attempts[i]} of task "${s.ids[i]}" failed: ${error.message}`))
    const policy = (s.shapes[i] as TaskShape).retry
    const attempt = s.attempts[i] as number
    const taskId = s.ids[i] as string
    if (this.#ratesMade?.holds(i) === true) {
      if (TaskweaveError.is(err, 'TW_RATE_LIMITED')) {
        if (this.#bounce(i, err, error, now)) return
      } else this.#rates().settle(i, isTimeout(err))
    }
    // A worker that would not run a redelivered attempt of a task that must not run twice: the
    // attempt may have acted. With `onUncertain: 'park'` the run parks on it, as a resume would.
    if (this.#state === 'running' && this.#durable() && TaskweaveError.is(err, 'TW_UNCERTAIN') && (err.details as { readonly redelivered?: unknown } | undefined)?.redelivered === true && this.#uncertainPolicy(i) === 'park') {
      this.#park(i, attempt, `task "${taskId}" attempt ${attempt} had no outcome when its worker stopped (${error.message})`)
      return
    }
    // Attempts a 429 sent back to ready, or a suspension stopped, are not spent: the retry policy counts the others.
    const counted = attempt - x.retryBase - x.bounces - x.stops
    // The state changes before the slot is released, so nothing the release sets off can see this
    // attempt as still running.
    if (this.#state === 'running' && shouldRetry(policy, counted, err)) {
      ;(x.failedAttempts ??= []).push({ attempt, startedAt: s.attemptStartedAt[i] as number, finishedAt: now, error })
      const delayMs = Math.max(backoffDelayMs(policy, counted, this.#env.random), retryAfterHintMs(err) ?? 0)
      this.#transition(i, RETRYING)
      this.#releaseSlot(i)
      if (this.#durable()) this.#write({ kind: 'fail', taskId, attempt, data: JSON.stringify({ error, retryAt: this.#env.clock.wallNow() + delayMs, delayMs }) })
      this.#armRetry(i, delayMs, error)
      this.#pump()
      return
    }
    x.error = error
    s.finishedAt[i] = now
    this.#transition(i, FAILED)
    this.#releaseSlot(i)
    if (this.#events.wants('task:failed')) this.#emit('task:failed', { taskId, attempt, error })
    if (this.#durable()) {
      const ticket = this.#write({ kind: 'fail', taskId, attempt, data: JSON.stringify({ error }) })
      this.#afterDurable.push({ ticket, kind: 'fail', index: i })
    } else this.#afterFailure(i)
    this.#pump()
    this.#maybeFinish()
  }

  /**
   * Attempt of task `i` got a 429 under its rate key: the whole key pauses, and the task goes
   * back to ready without spending an attempt — unless it has bounced `maxBounces` times already,
   * when the 429 counts as an ordinary failure (false: the caller goes on with the retry policy).
   */
  #bounce(i: number, err: TaskweaveError, error: SerializedError, now: number): boolean {
    const s = this.#s
    const x = s.extra(i)
    const throttled = this.#rates().throttle(i, retryAfterHintMs(err))
    if (throttled === undefined || this.#state !== 'running' || x.bounces >= this.#env.rates.limitsOf(throttled.key).maxBounces) return false
    x.bounces++
    const taskId = s.ids[i] as string
    const attempt = s.attempts[i] as number
    const until = this.#env.clock.wallNow() + Math.max(0, throttled.until - now)
    this.#transition(i, RETRYING)
    this.#releaseSlot(i)
    if (this.#durable()) this.#write({ kind: 'fail', taskId, attempt, data: JSON.stringify({ error, retryAt: this.#env.clock.wallNow(), bounce: true }) })
    if (this.#events.wants('task:throttled')) this.#emit('task:throttled', { taskId, key: throttled.key, reason: 'rate-limited', until, bounces: x.bounces })
    this.#makeReady(i)
    this.#pump()
    return true
  }

  /** Task `i` (retrying) becomes ready again after `delayMs`. */
  #armRetry(i: number, delayMs: number, error: SerializedError): void {
    const s = this.#s
    const x = s.extra(i)
    x.retryTimer = this.#env.clock.setTimer(delayMs, () => {
      x.retryTimer = undefined
      if (s.status[i] !== RETRYING || this.#state !== 'running') return
      this.#makeReady(i)
      this.#pump()
      this.#maybeFinish()
    })
    if (this.#events.wants('task:retrying')) this.#emit('task:retrying', { taskId: s.ids[i] as string, attempt: s.attempts[i] as number, delayMs, error })
  }

  /** Runs the completion handler of a task that just became terminal, if it has one. */
  #afterTerminal(i: number): void {
    // What a handler of this task added before a restart joins as it was, whether or not the
    // resume was given the handler again: leaving it out would let the run finish without it.
    if (this.#replay !== undefined && this.#replay.adds.length > 0) this.#replayAdds(this.#s.ids[i], undefined)
    const handlers = this.#settings.onTaskComplete
    if (handlers === undefined) return
    const taskId = this.#s.ids[i] as string
    const handler = typeof handlers === 'function' ? handlers : Object.hasOwn(handlers, taskId) ? handlers[taskId] : undefined
    if (handler !== undefined) this.#runHandler(i, taskId, handler)
  }

  /**
   * {@link #afterTerminal} with a handler to run. Apart because its closures would otherwise give
   * every task's call a context, handler or not.
   */
  #runHandler(i: number, taskId: string, handler: TaskCompleteHandler): void {
    const s = this.#s
    // What the handler added before the crash joined already (#afterTerminal); a handler that had
    // settled does not run again (one that had not runs again: adding the same task twice is a no-op).
    if (this.#replay !== undefined && this.#replay.handled.has(taskId)) return
    const error = s.peek(i).error
    const completion: TaskCompletion = {
      runId: this.id,
      taskId,
      status: STATUS_NAMES[s.status[i] as number] as TaskStatus,
      output: s.output(i),
      ...(error ? { error } : {}),
    }
    const control: RunControl = { runId: this.id, addTask: (spec) => this.addTask(spec, taskId) }
    this.#pendingHandlers++
    let outcome: unknown
    try {
      outcome = handler(completion, control)
      this.#eventTime = -1
    } catch (err) {
      this.#eventTime = -1
      logFailure(this.#env.logger, 'a task completion handler threw', err, { runId: this.id, taskId })
      if (this.#durable()) this.#write({ kind: 'handled', taskId })
      this.#pendingHandlers--
      return
    }
    // A handler that returned a plain value is done now; a promise (or a hostile `then`) later.
    let sync = true
    const done = (): void => {
      if (this.#durable()) this.#write({ kind: 'handled', taskId })
      this.#pendingHandlers--
      if (!sync) this.#maybeFinish()
    }
    whenSettled(outcome, done, (err) => {
      logFailure(this.#env.logger, 'a task completion handler failed', err, { runId: this.id, taskId })
      done()
    })
    sync = false
  }

  // ---------------------------------------------------------------- dynamic tasks

  /**
   * Checks a task a running tool adds with `ctx.addTask` (throws `TW_VALIDATION` naming the task
   * and field) and returns its plain-data copy, which is what joins the run if the attempt
   * succeeds. `earlier` are the tasks this attempt added before, in order: the new task may
   * depend on them (a chain added in one attempt).
   */
  validateAddedTask(spec: TaskSpec, earlier: readonly TaskSpec[], by: number, token: number): TaskSpec {
    if (!this.isCurrentAttempt(by, token)) {
      throw new TaskweaveError('TW_DYNAMIC_TASK', `task "${this.#s.ids[by]}" cannot add tasks: its attempt is over`, { retryable: false })
    }
    const plain = plainTaskSpec(spec)
    if (this.#reservedIds?.has(plain.id) === true) {
      throw new TaskweaveError('TW_VALIDATION', `duplicate task id "${plain.id}": another running task already added it`, { retryable: false, details: { taskId: plain.id } })
    }
    this.#compileAdded(plain, earlier)
    // Reserved until the adding attempt ends, so two running tools cannot add the same id.
    ;(this.#reservedIds ??= new Map()).set(plain.id, by)
    return plain
  }

  /**
   * Adds a task to the running workflow; it joins the same report. Before the run has started
   * (right after `engine.start()`), the task is checked now and joins when the run starts.
   */
  addTask(spec: TaskSpec, addedBy?: string): void {
    if (this.#state === 'idle') {
      const plain = plainTaskSpec(spec)
      this.#compileAdded(plain, this.#early ?? [])
      ;(this.#early ??= []).push(plain)
      return
    }
    if (this.#state !== 'running') {
      throw new TaskweaveError('TW_DYNAMIC_TASK', `cannot add task "${safeId(spec)}": the run is ending`, { retryable: false })
    }
    const plain = plainTaskSpec(spec)
    if (this.#reservedIds?.has(plain.id) === true) {
      throw new TaskweaveError('TW_VALIDATION', `duplicate task id "${plain.id}": a running task already added it`, { retryable: false, details: { taskId: plain.id } })
    }
    // In a durable run a handler may run again after a resume: the same task added again is a no-op.
    if (this.#jrun !== undefined && this.#addedText?.get(plain.id) === canonicalJson(plain) && this.#indexOf(plain.id) !== undefined) return
    if (this.#durable()) {
      this.#compileAdded(plain, [])
      this.#writeAdd(plain, addedBy)
    }
    this.#commitAddedTask(plain, addedBy)
    // Called from outside the run's own call stack (the handle, a handler): the task may have
    // failed or been skipped at once, or a listener may have cancelled the run.
    this.#maybeFinish()
  }

  #compileAdded(spec: TaskSpec, earlier: readonly TaskSpec[]): AddedTask {
    const base = this.#s.size
    // The tool's schema checks a static input (user code): what follows reads the clock again.
    this.#eventTime = -1
    return compileAddedTask(spec, {
      registry: this.#env.registry,
      workflow: this.#workflow,
      index: base + earlier.length,
      indexOf: (id) => {
        const index = this.#indexOf(id)
        if (index !== undefined) return index
        // A task added before this one in the same batch takes the next index when committed.
        const k = earlier.findIndex((t) => t.id === id)
        return k < 0 ? undefined : base + k
      },
      alsoTaken: new Set(earlier.map((t) => t.id)),
    })
  }

  #commitAddedTask(spec: TaskSpec, addedBy: string | undefined): void {
    if (this.#state !== 'running') return
    // A replayed one too: what it says of running twice holds after a crash as before it.
    this.#noteUncertainSettings(spec)
    this.#appendAdded(this.#compileAdded(spec, []), addedBy)
  }

  #appendAdded(added: AddedTask, addedBy: string | undefined): void {
    const s = this.#s
    const i = this.#appendTask(added.id, added.shape, added.parents)
    if (addedBy !== undefined) s.extra(i).addedBy = addedBy
    for (const p of added.parents) if ((s.status[p] as number) < SUCCEEDED) s.addChild(p, i)
    s.rank[i] = this.#costOf(added.shape)
    if (this.#events.wants('task:added')) this.#emit('task:added', { taskId: added.id, tool: added.shape.toolName, ...(addedBy !== undefined ? { addedBy } : {}) })
    if (s.waiting[i] === 0 && this.#evaluate(i)) this.#settle(i)
    this.#pump()
  }

  /**
   * Checks, before a successful attempt is recorded, the tasks it added: a task that cannot join
   * (its dependency was removed meanwhile, say) fails the attempt that added it, so no added task
   * ever vanishes while the run reports success.
   */
  #prepareSpawned(spawned: readonly TaskSpec[]): PreparedTask[] {
    const prepared: PreparedTask[] = []
    for (let k = 0; k < spawned.length; k++) {
      const spec = spawned[k] as TaskSpec
      if (this.#reservedIds?.get(spec.id) === undefined && this.#indexOf(spec.id) !== undefined) {
        throw new TaskweaveError('TW_VALIDATION', `duplicate task id "${spec.id}"`, { retryable: false, details: { taskId: spec.id } })
      }
      prepared.push({ spec, position: k })
    }
    // Compiled against the run as it is now, in order, so a chain resolves to its own members.
    for (const p of prepared) this.#compileAdded(p.spec, spawned.slice(0, p.position))
    return prepared
  }

  /**
   * Commits the tasks a successful attempt of task `i` added with `ctx.addTask`. Nothing starts
   * until all are in and their ids released, so no tool started meanwhile can claim one of them.
   */
  #commitSpawned(i: number, spawned: readonly PreparedTask[]): void {
    const wasPumping = this.#pumping
    this.#pumping = true
    try {
      // Tasks added by a tool join only a run that is still going (a cancelled run adds nothing).
      for (const { spec } of spawned) {
        if (this.#state !== 'running') break
        // Its start waits for durability if it must not run twice, and a resume treats it so.
        this.#noteUncertainSettings(spec)
        this.#appendAdded(this.#compileAdded(spec, []), this.#s.ids[i])
      }
    } finally {
      this.#pumping = wasPumping
      this.#releaseReserved(i)
    }
  }

  /** Frees the task ids an attempt of task `i` reserved with `ctx.addTask`. */
  #releaseReserved(i: number): void {
    const reserved = this.#reservedIds
    if (reserved === undefined || reserved.size === 0) return
    for (const [id, by] of reserved) if (by === i) reserved.delete(id)
  }

  // ---------------------------------------------------------------- ending

  #stop(status: RunStatus, reason: string): void {
    if (this.#state === 'finished' || this.#state === 'cancelling') return
    if (this.#state === 'idle') {
      // Stopped before it started: the tasks added through the handle meanwhile are part of the
      // run (cancelled with the rest), and the run did start, to end at once.
      this.#state = 'running'
      this.#joinEarlyUnstarted()
      if (this.#events.wants('run:started')) this.#emit('run:started', { workflowId: this.#workflow.id, taskCount: this.#s.size })
    }
    this.#state = 'cancelling'
    this.#stopStatus = status
    this.#stopReason = reason
    if (this.#durable() && !this.#stopFromJournal) this.#stopTicket = this.#write({ kind: 'stop', data: JSON.stringify({ status, reason }) })
    else this.#settleStopSaved(this.#stopFromJournal)
    if (this.#events.wants('run:cancelling')) this.#emit('run:cancelling', { reason })
    const now = this.#now()
    const abortReason = new CancelledError(reason)
    const s = this.#s
    for (let i = 0; i < s.size; i++) {
      const current = s.status[i] as number
      if (current >= SUCCEEDED) continue
      const x = s.extra(i)
      // A forEach task in progress holds no slot; its items are cancelled one by one here.
      if (current === RUNNING && x.items === undefined) {
        x.timer?.()
        x.timer = undefined
        this.#lingerPermit(i)
        this.#endAttemptSignal(i, s.token[i] as number, abortReason)
        this.#releaseSlot(i)
      }
      x.retryTimer?.()
      x.retryTimer = undefined
      s.token[i] = (s.token[i] as number) + 1
      this.#transition(i, CANCELLED)
      x.reason = reason
      s.finishedAt[i] = now
      this.#settled++
      if (this.#events.wants('task:cancelled')) this.#emit('task:cancelled', { taskId: s.ids[i] as string, reason })
      this.#afterTerminal(i)
    }
    this.#queue.removeWhere(() => true)
    this.#env.limiter.forget(this)
    this.#ratesMade?.close((index) => s.status[index] === RUNNING)
    // Permits of tasks that were waiting for a slot (running ones were released above).
    for (const key of this.#heldPermits?.values() ?? []) this.#env.limiter.release(key)
    this.#heldPermits?.clear()
    for (const key of this.#heldToolPermits?.values() ?? []) this.#env.limiter.release(key)
    this.#heldToolPermits?.clear()
    this.#abortReason ??= { reason: abortReason }
    this.#maybeFinish()
  }

  #maybeFinish(): void {
    if (this.#state === 'finished' || this.#state === 'idle') return
    // A cancelled run does not wait for completion handlers: they can add nothing to it any more.
    if (this.#settled < this.#s.size || (this.#pendingHandlers > 0 && this.#state === 'running')) return
    if (this.#running > 0) return
    this.#state = 'finished'
    this.#unhookSignal?.()
    this.#env.slots.forget(this)
    this.#env.limiter.forget(this)
    this.#ratesMade?.close(() => false)
    const result = this.#buildResult()
    if (this.#parkTicket !== undefined && !this.#journalLost) {
      // The park entries may be durable already (committed with an entry written before them).
      if (this.#parkTicket <= this.#durableTicket) this.#parkedDurable()
      else this.#afterDurable.push({ ticket: this.#parkTicket, kind: 'parked' })
      return
    }
    if (this.#durable()) {
      const ticket = this.#write({ kind: 'finish', data: JSON.stringify({ status: result.status, counts: nonZero(result.counts) }) })
      this.#afterDurable.push({ ticket, kind: 'finish', result })
      return
    }
    this.#finished(result)
  }

  /** The end, once the `finish` entry is durable (at once for a run without a journal). */
  #finished(result: RunResult): void {
    if (this.#jrun !== undefined) (this.#journal as Journal).leave(this.#jrun, this.#suspended)
    if (this.#workflow.rates.size > 0 && this.#ratesMade !== undefined && result.status !== 'cancelled' && !rateKeysChecked.has(this.#workflow)) this.#warnUnusedRateKeys(this.#ratesMade.keysUsed)
    if (this.#events.wants('run:finished')) this.#emit('run:finished', { workflowId: this.#workflow.id, status: result.status, durationMs: result.durationMs })
    this.#env.onRunEnded?.(this)
    this.#ended = true
    this.#settleStopSaved(this.#stopTicket > 0 && this.#stopTicket <= this.#durableTicket)
    this.#resolve(result)
  }

  /**
   * Resolves true once the store holds this run's stop (it was cancelled, and its `stop` entry is
   * durable: a process that crashes after that starts nothing new of it on resume), false when
   * there is none to hold: the run is not durable, was not stopped, or the store lost it.
   */
  stopSaved(): Promise<boolean> {
    // A stop replayed from the journal is in the store already.
    if (this.#stopFromJournal || (this.#stopTicket > 0 && this.#stopTicket <= this.#durableTicket)) return Promise.resolve(true)
    if (this.#ended || this.#journalLost) return Promise.resolve(false)
    // A stop asked for from inside an event listener is made a microtask later: wait for it.
    const coming = this.#stopTicket > 0 || (this.#stopRequested && this.#state === 'running' && this.#durable())
    if (!coming) return Promise.resolve(false)
    return new Promise((resolve) => (this.#stopSavedWaiters ??= []).push(resolve))
  }

  #settleStopSaved(saved: boolean): void {
    const waiters = this.#stopSavedWaiters
    if (waiters === undefined) return
    this.#stopSavedWaiters = undefined
    for (const resolve of waiters) resolve(saved)
  }

  /**
   * Says which keys of the workflow's `limits.rates` no task went by while others were used: a key
   * written for one provider (`openai:gpt-4o-mini`) limits nothing once the calls go to another
   * server (`127.0.0.1:8787:gpt-4o-mini`), and nothing else would tell.
   */
  #warnUnusedRateKeys(used: ReadonlySet<string>): void {
    if (used.size === 0) return
    // Once per workflow: a service running it a thousand times needs to hear it once.
    rateKeysChecked.add(this.#workflow)
    const unused = [...this.#workflow.rates.keys()].filter((key) => !used.has(key))
    if (unused.length === 0) return
    this.#env.logger.warn(`limits.rates of workflow "${this.#workflow.id}" names ${unused.map((key) => `"${key}"`).join(', ')}, which no task of run ${this.id} went by; its calls went by ${[...used].map((key) => `"${key}"`).join(', ')}`, { runId: this.id, unused, used: [...used] })
  }

  #buildResult(): RunResult {
    const workflow = this.#workflow
    return buildRunResult(this.#s, {
      runId: this.id,
      workflowId: workflow.id,
      workflow,
      startedAt: isoTime(this.#startedWall),
      durationMs: this.#startedAt >= 0 ? this.#now() - this.#startedAt : 0,
      stopStatus: this.#stopStatus,
      stopReason: this.#stopReason,
      budgetExhausted: this.#ratesMade?.budgetShortfall,
      usage: this.#ratesMade?.usage(),
    })
  }

  // ---------------------------------------------------------------- attempt context support

  /** @internal */ isCurrentAttempt(i: number, token: number): boolean {
    return this.#s.token[i] === token && this.#s.status[i] === RUNNING
  }

  /** @internal Why attempt `token` of task `i` is over, for a tool that asks for its signal only afterwards. */
  endReasonOf(i: number, token: number): unknown {
    const ended = this.#s.peek(i).ended
    if (ended !== undefined && ended.token === token) return ended.reason
    if (this.#abortReason !== undefined) return this.#abortReason.reason
    return new CancelledError('this attempt is over')
  }

  /**
   * Remembers why the current attempt of task `i` ended and asks the runner to stop it: the signal
   * its tool was handed (if it asked for one) is aborted with `reason`.
   */
  #endAttemptSignal(i: number, token: number, reason: unknown): void {
    const s = this.#s
    s.extra(i).ended = { token, reason }
    this.#env.runner.cancel(attemptIdOf(this.id, s.ids[i] as string, s.attempts[i] as number, this.epoch), reason)
  }

  #recordUsage(i: number, usage: LlmUsage): void {
    const { usage: cleaned, exhaustedNow } = this.#rates().record(i, usage)
    const x = this.#s.extra(i)
    x.usage = addUsage(x.usage, cleaned)
    if (exhaustedNow && this.#events.wants('run:budget-exhausted')) this.#emit('run:budget-exhausted', { reason: this.#rates().exhausted as string, usage: this.#rates().usage() ?? cleaned })
  }

  #observeProviderLimits(i: number, limits: ProviderLimits): void {
    this.#rates().observe(i, limits)
  }

  /** @internal */ taskId(i: number): string {
    return this.#s.ids[i] as string
  }

  /** @internal */ progress(i: number, token: number, progress: ToolProgress): void {
    if (!this.isCurrentAttempt(i, token)) return
    if (this.#events.wants('task:progress')) this.#emit('task:progress', { taskId: this.#s.ids[i] as string, attempt: this.#s.attempts[i] as number, progress })
  }

  /** @internal */ usage(i: number, token: number, usage: LlmUsage): void {
    if (!this.isCurrentAttempt(i, token)) return
    this.#recordUsage(i, usage)
  }

  /** @internal */ providerLimits(i: number, token: number, limits: ProviderLimits): void {
    if (!this.isCurrentAttempt(i, token)) return
    this.#observeProviderLimits(i, limits)
  }

  /** The engine's clock (tools read it through `ctx.clock`). */
  get clock(): Clock {
    return this.#env.clock
  }

  /** @internal */ baseLogger(): Logger {
    return this.#env.logger
  }

  #emit<K extends EventName>(type: K, payload: Omit<EventMap[K], 'runId' | 'at'>): void {
    this.#emitting++
    try {
      const event = { type, runId: this.id, at: this.#now(), ...payload }
      // Marks for listeners that count: a fact replayed from the journal happened in an earlier
      // process; a task cancelled by a suspension will run again when the run is resumed.
      if (this.#replaying) (event as { replayed?: true }).replayed = true
      else if (this.#suspended && this.#jrun !== undefined) (event as { suspended?: true }).suspended = true
      this.#events.emit(event as unknown as Parameters<EventEmitter['emit']>[0])
    } finally {
      this.#emitting--
      // Listeners are user code: time may have passed.
      this.#eventTime = -1
    }
  }
}

/** Counts without the zeros, for the `finish` entry. */
function nonZero(counts: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [key, n] of Object.entries(counts)) if (n > 0) out[key] = n
  return out
}

/** The text of an abort reason, without trusting it (a getter may throw). */
function reasonText(reason: unknown): string | undefined {
  try {
    if (reason instanceof Error) return String(reason.message)
    return typeof reason === 'string' ? reason : undefined
  } catch {
    return undefined
  }
}

function isTimeout(err: unknown): err is TimeoutError {
  // `instanceof` throws for a revoked Proxy a tool may throw: that is simply not a timeout.
  try {
    return err instanceof TimeoutError
  } catch {
    return false
  }
}

/** The id of a spec that may not be plain data, for an error message. */
function safeId(spec: unknown): string {
  try {
    const id = (spec as { id?: unknown } | null)?.id
    return typeof id === 'string' ? id : '(no id)'
  } catch {
    return '(no id)'
  }
}

/** The failure of a task whose tool's `permit.key` threw or gave no usable key. */
function badPermitKey(tool: string, taskId: string, err: unknown): TaskweaveError {
  const why = err instanceof Error ? err.message : String(err)
  return new TaskweaveError('TW_INVALID_OPTION', `task "${taskId}": the permit.key function of tool "${tool}" failed: ${why}`, { retryable: false, cause: err, details: { taskId, tool, option: 'permit.key' } })
}

/**
 * A clock's wall time, refused at once when a `Date` cannot hold it (NaN, or past ±8.64e15 ms):
 * the result writes it as ISO text only when the run ends, too late to fail.
 */
function checkedWallTime(ms: number): number {
  if (!(Math.abs(ms) <= MAX_DATE_MS)) throw new InvalidOptionError('clock.wallNow()', 'epoch milliseconds a Date can hold', ms)
  return ms
}
