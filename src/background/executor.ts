/**
 * Background work beside a conversation: functions, workflow runs and state machines submitted
 * under a `conversationId`, watched with `status`/`result`/`peek`, stopped with `cancel`, and all
 * cancelled and forgotten by `endConversation`. A thin layer: functions run as they are, workflows
 * through `engine.start`, machines through `runStateMachine`; this class only keeps the books.
 *
 * Completions reach the conversation three ways, independent of each other: the `onComplete`
 * callback, a live `completions(conversationId)` iterator, and an inbox that `drainInbox` empties
 * (for "the next turn"). Finished tasks are remembered for `finishedTtl` and at most `maxFinished`
 * of them (oldest first out), so a long-lived process stays bounded however many tasks it runs.
 * Task states and their triggers are listed in `states.ts`.
 * @module
 */
import { CancelledError, deserializeError, InvalidOptionError, TaskweaveError, TimeoutError } from '../core/errors.js'
import { logFailure } from '../core/log-failure.js'
import { whenSettled } from '../core/returned.js'
import { setClockTimer } from '../core/clock-timer.js'
import { toLimitMs } from '../core/duration.js'
import { checkSignal, refuseUnknownOptions } from '../core/known-options.js'
import { untilAborted } from '../agents/abort.js'
import type { RunResult } from '../core/report.js'
import type { StateMachineResult } from '../fsm/run.js'
import { CompletionStream } from './completion-stream.js'
import { FinishedIndex } from './finished-index.js'
import { resolveExecutorOptions } from './options.js'
import type { ConcurrentExecutorOptions, ResolvedExecutorOptions } from './options.js'
import { canMove, isFinal } from './states.js'
import type { BackgroundFinalStatus, BackgroundStatus } from './states.js'
import { checkSubmit, newConversation, newEntry, toInfo, toOutcome } from './records.js'
import type { Conversation, Entry } from './records.js'
import { FunctionContext, keepFunctionContextShape } from './function-context.js'
import { seqOfId, TaskTable } from './task-table.js'
import type { FunctionHost } from './function-context.js'
import type { BackgroundFunction, BackgroundKind, BackgroundOutcome, BackgroundStats, RecoveredWork, RecoverySummary, BackgroundTaskId, BackgroundTaskInfo, SubmitFunction, SubmitOptions, SubmitStateMachine, SubmitWorkflow } from './types.js'
import { BACKGROUND_DEADLINE_LABEL } from './types.js'
import { fromRunResult, kindOf, startWork, unstartedMachineSnapshot } from './work.js'
import type { Work } from './work.js'
import { isStateMachine } from '../fsm/define.js'
import type { StateMachine } from '../fsm/define.js'
import { onMicrotask } from '../core/microtask.js'
import { keepResolver, takeResolver } from '../core/promise-resolver.js'

/**
 * Throws `TW_INVALID_OPTION` when the context of a state machine to be recorded in the run store
 * cannot be: it is stored as JSON, so a BigInt or a cycle would fail the task at its start, with a
 * message about serialisation rather than about the option to change.
 */
function checkStorableContext(options: SubmitStateMachine<unknown, string>): void {
  const context = options.context !== undefined ? options.context : options.run.context
  try {
    JSON.stringify(context)
  } catch (err) {
    throw new InvalidOptionError('context', `JSON data, since the engine's run store keeps a state machine's context (${err instanceof Error ? err.message : String(err)}); or submit with durable: false`, context)
  }
}

/** What `endConversation` did. */
export interface EndConversationResult {
  /** Tasks that were still pending or running. */
  readonly cancelled: number
  /** Tasks forgotten (the cancelled ones included). */
  readonly removed: number
}

/**
 * Runs work in the background, per conversation.
 * @example
 * await using background = new ConcurrentExecutor({ engine, onComplete: (c) => console.log(c.taskId, c.status) })
 * const id = background.submit({ conversationId: 'conv-1', name: 'balance', timeout: '30s', run: async ({ signal }) => bank.balance(signal) })
 * // … the conversation goes on; at the next turn:
 * for (const done of background.drainInbox('conv-1')) say(`By the way: ${JSON.stringify(done.value)}`)
 * background.endConversation('conv-1') // cancels what still runs, forgets everything of conv-1
 */
export class ConcurrentExecutor implements AsyncDisposable {
  readonly #options: ResolvedExecutorOptions
  /** The limiter key of this executor's `maxConcurrent` places. */
  readonly #placesKey = `background:${++executorSerial}`
  /** Every remembered task (`entry.remembered`), by id. */
  readonly #tasks = new TaskTable<Entry>()
  readonly #conversations = new Map<string, Conversation>()
  readonly #finished: FinishedIndex<Entry>
  #active = 0
  #seq = 0
  /** The last `recover()` call, settled or not (calls run one after another). */
  #recovering: Promise<unknown> = Promise.resolve()
  #closing: Promise<void> | undefined
  /** Set as close() begins: no submit is taken from then on. */
  #closed = false
  // Tasks submitted and not started yet, in submit order, as parallel arrays: one microtask starts
  // them all, instead of a microtask and a closure per submit.
  #toStart: Entry[] = []
  #toStartOptions: SubmitOptions[] = []
  #toStartTimeouts: (number | undefined)[] = []
  /** `#signalOf` bound once, for workflows and state machines. */
  readonly #signalOfEntry = (entry: Entry): AbortSignal => this.#signalOf(entry)
  /** What every function task's context calls back, made once. */
  readonly #functionHost: FunctionHost = {
    signalOf: this.#signalOfEntry,
    settled: (entry, succeeded, valueOrError) => (succeeded ? this.#finish(entry, 'succeeded', valueOrError, undefined) : this.#finish(entry, 'failed', undefined, valueOrError)),
  }

  constructor(options: ConcurrentExecutorOptions = {}) {
    this.#options = resolveExecutorOptions(options)
    keepFunctionContextShape()
    this.#finished = new FinishedIndex(this.#options.clock, this.#options.finishedTtlMs, this.#options.maxFinished, (entry) => this.#forget(entry))
  }

  /**
   * Submits work; returns its id at once. The work starts on the next microtask. Throws only for
   * a bad call (`TW_INVALID_OPTION`) or a closed executor (`TW_CANCELLED`); failures of the work
   * itself are captured in its outcome.
   */
  submit<T>(options: SubmitFunction<T>): BackgroundTaskId<T>
  submit<C, S extends string>(options: SubmitStateMachine<C, S>): BackgroundTaskId<StateMachineResult<C, S>>
  submit(options: SubmitWorkflow): BackgroundTaskId<RunResult>
  submit(options: SubmitOptions): BackgroundTaskId {
    if (this.#closed) throw new TaskweaveError('TW_CANCELLED', 'the background executor is closed', { retryable: false })
    checkSubmit(options)
    if (isStateMachine(options.run) && options.durable !== false && this.#options.engine?.records !== undefined) checkStorableContext(options as SubmitStateMachine<unknown, string>)
    const timeoutMs = options.timeout !== undefined ? toLimitMs('timeout', options.timeout) : this.#options.defaultTimeoutMs
    if (options.taskId !== undefined && this.#tasks.get(options.taskId) !== undefined) {
      throw new TaskweaveError('TW_INVALID_OPTION', `option "taskId": this executor already has a task "${options.taskId}" (running, or finished and not yet forgotten): choose another id`, { retryable: false, details: { option: 'taskId', taskId: options.taskId } })
    }
    const conversation = this.#conversation(options.conversationId)
    let id: string
    let entry: Entry
    if (options.taskId === undefined) {
      const seq = ++this.#seq
      id = `${options.conversationId}:${options.name}:${seq}`
      entry = newEntry(id, conversation, options.name, kindOf(options.run), this.#options.clock.now())
      this.#tasks.add(entry, seq)
    } else {
      id = options.taskId
      entry = newEntry(id, conversation, options.name, kindOf(options.run), this.#options.clock.now())
      this.#keepUnderId(entry)
    }
    entry.remembered = true
    conversation.tasks.push(entry)
    this.#active++
    // A machine stopped before it starts still reports a machine's result (its initial state).
    if (isStateMachine(options.run)) entry.snapshot = unstartedMachineSnapshot(options as SubmitStateMachine<unknown, string>, () => this.#options.clock.now())
    const signal = options.signal
    if (signal !== undefined) {
      const onAbort = (): void => void this.#stop(entry, 'cancelled', new CancelledError(`background task "${id}" was aborted`, { cause: signal.reason, details: { taskId: id } }))
      if (signal.aborted) {
        onAbort()
        return id
      }
      signal.addEventListener('abort', onAbort, { once: true })
      entry.unhookSignal = () => signal.removeEventListener('abort', onAbort)
    }
    this.#queueStart(entry, options, timeoutMs)
    return id
  }

  /** The task's state and timings, or undefined when unknown or already forgotten. */
  status(id: string): BackgroundTaskInfo | undefined {
    const entry = this.#tasks.get(id)
    return entry === undefined ? undefined : this.#info(entry)
  }

  /**
   * Resolves with the task's outcome when it ends. Undefined when the id is unknown or forgotten.
   * Rejects only when `options.signal` aborts first (with its reason): the wait stops, the task
   * goes on (`cancel(id)` stops the task).
   */
  result<T>(id: BackgroundTaskId<T> | string, options: { readonly signal?: AbortSignal } = NO_RESULT_OPTIONS): Promise<BackgroundOutcome<T> | undefined> {
    // Checked only when given: result() is called once per task, 100,000 times a second.
    if (options !== NO_RESULT_OPTIONS) {
      refuseUnknownOptions('result', options, ['signal'])
      checkSignal(options.signal)
    }
    const entry = this.#tasks.get(id)
    if (entry === undefined) return Promise.resolve(undefined)
    if (entry.outcome !== undefined) return Promise.resolve(entry.outcome as BackgroundOutcome<T>)
    // One promise per task, however many callers wait: no waiter list to allocate, and no
    // closure per promise either (the shared executor hands its resolver over at once).
    if (entry.waiting === undefined) {
      entry.waiting = new Promise<BackgroundOutcome>(keepResolver)
      entry.resolveWaiting = takeResolver<BackgroundOutcome>()
    }
    const waiting = entry.waiting as Promise<BackgroundOutcome<T>>
    return options.signal === undefined ? waiting : untilAborted(waiting, options.signal)
  }

  /** The outcome if the task has ended; undefined while it runs (or when unknown). */
  peek<T>(id: BackgroundTaskId<T> | string): BackgroundOutcome<T> | undefined {
    return this.#tasks.get(id)?.outcome as BackgroundOutcome<T> | undefined
  }

  /** Cancels a pending or running task (its signal aborts; a workflow run is cancelled). False when it had already ended or is unknown. */
  cancel(id: string, reason?: string): boolean {
    const entry = this.#tasks.get(id)
    if (entry === undefined) return false
    return this.#stop(entry, 'cancelled', new CancelledError(reason ?? `background task "${id}" was cancelled`, { details: { taskId: id } }))
  }

  /** Every remembered task of a conversation, in submit order. */
  list(conversationId: string): BackgroundTaskInfo[] {
    const conversation = this.#conversations.get(conversationId)
    if (conversation === undefined) return []
    return conversation.tasks.members().map((entry) => this.#info(entry))
  }

  /**
   * Ends a conversation: cancels its pending and running tasks (their `result` promises resolve
   * `cancelled`, `onComplete` and its iterators see it), ends its iterators, and forgets all its
   * tasks and inbox. Other conversations are untouched.
   */
  endConversation(conversationId: string): EndConversationResult {
    const conversation = this.#conversations.get(conversationId)
    if (conversation === undefined) return { cancelled: 0, removed: 0 }
    // Detach first: work submitted from a callback below starts a fresh conversation.
    this.#conversations.delete(conversationId)
    const entries = conversation.tasks.members()
    let cancelled = 0
    for (const entry of entries) {
      if (isFinal(entry.status)) continue
      const reason = new CancelledError(`conversation "${conversationId}" ended`, { details: { conversationId, taskId: entry.id } })
      if (this.#stop(entry, 'cancelled', reason)) cancelled++
    }
    for (const entry of entries) {
      if (entry.remembered) this.#tasks.delete(entry)
      entry.remembered = entry.inInbox = false
      this.#finished.delete(entry)
    }
    conversation.tasks.clear()
    conversation.inbox.clear()
    for (const stream of [...conversation.streams]) stream.end()
    const records = this.#options.engine?.records
    if (records !== undefined) {
      // The store forgets the conversation once what it keeps of these tasks is final.
      void Promise.allSettled(entries.flatMap((entry) => (entry.durableDone !== undefined ? [entry.durableDone] : [])))
        .then(() => records.forget(conversationId))
        .catch((err: unknown) => logFailure(this.#options.logger, 'the run store could not forget a conversation', err, { conversationId }))
    }
    return { cancelled, removed: entries.length }
  }

  /**
   * After a restart, takes over the background work the engine's run store holds unfinished:
   * workflows are resumed (finished tasks are not run again), state machines named in `machines`
   * restart from their initial context, and functions (which cannot be resumed) end `failed` with
   * `TW_LOST`. Each comes back under its conversation with its id, and its outcome reaches the
   * conversation as any other (`result`, `completions`, `drainInbox`, `onComplete`).
   */
  recover(options: { readonly machines?: Iterable<StateMachine<unknown, string>> } = {}): Promise<RecoverySummary> {
    // One at a time: two overlapping calls would each take over the same records.
    const next = this.#recovering.then(() => this.#recover(options))
    this.#recovering = next.then(
      () => undefined,
      () => undefined,
    )
    return next
  }

  async #recover(options: { readonly machines?: Iterable<StateMachine<unknown, string>> }): Promise<RecoverySummary> {
    const records = this.#options.engine?.records
    if (records === undefined) return { workflows: 0, stateMachines: 0, lost: 0 }
    const machines = new Map<string, StateMachine<unknown, string>>()
    for (const machine of [...this.#options.machines, ...(options.machines ?? [])]) machines.set(machine.name ?? 'state-machine', machine)
    const summary = { workflows: 0, stateMachines: 0, lost: 0 }
    // Already back (an earlier recover of this process): never two entries for one task. A task
    // submitted here under the same id (a `taskId` of the caller's) is other work: the stored one
    // is taken over all the same, and ended below.
    for (const work of await records.recover(new Set(machines.keys()), (taskId) => this.#tasks.get(taskId)?.recovered === true)) {
      const held = this.#tasks.get(work.taskId)
      if (held?.recovered === true) continue
      if (held !== undefined) {
        summary.lost++
        this.#supersede(work)
        continue
      }
      if (work.kind === 'state-machine' && work.queued) {
        // It never started: it waits for a place again, as when it was submitted, and its timeout
        // (which had not begun) starts when it does.
        summary.stateMachines++
        const entry = this.#adoptPending(work.taskId, work.conversationId, work.name, 'state-machine')
        entry.record = work.record
        this.#watchRecord(entry)
        const submitted: SubmitStateMachine<unknown, string> = { conversationId: work.conversationId, name: work.name, run: machines.get(work.machine) as StateMachine<unknown, string>, context: work.context, ...(work.priority !== undefined ? { priority: work.priority } : {}) }
        entry.snapshot = unstartedMachineSnapshot(submitted, () => this.#options.clock.now())
        this.#queueStart(entry, submitted, work.timeoutMs ?? this.#options.defaultTimeoutMs)
        continue
      }
      const entry = this.#adopt(work.taskId, work.conversationId, work.name, work.kind === 'lost' ? work.work : work.kind)
      if (work.kind !== 'lost') this.#armRecoveredDeadline(entry, work.deadline)
      if (work.kind === 'workflow') {
        summary.workflows++
        entry.snapshot = undefined
        entry.controller = new AbortController()
        const aborted = entry.controller.signal
        aborted.addEventListener('abort', () => work.cancel(aborted.reason instanceof Error ? aborted.reason.message : 'the background task was stopped'), { once: true })
        entry.durableDone = work.result
        void work.result.then(
          (result) => {
            const ended = fromRunResult(result)
            this.#finish(entry, ended.status, result, ended.error)
          },
          (error: unknown) => this.#finish(entry, 'failed', undefined, error),
        )
      } else if (work.kind === 'state-machine') {
        const machine = machines.get(work.machine) as StateMachine<unknown, string>
        summary.stateMachines++
        entry.record = work.record
        this.#watchRecord(entry)
        this.#runRecoveredMachine(entry, machine, work.context)
      } else {
        summary.lost++
        entry.record = work.record
        this.#watchRecord(entry)
        const why = work.work === 'function' ? 'a function cannot be resumed' : work.work === 'workflow' ? 'it had not started, and a workflow is kept only once it starts: submit it again' : 'its state machine was not given to recover({ machines })'
        this.#finish(entry, 'failed', undefined, new TaskweaveError('TW_LOST', `background task "${work.taskId}" (a ${work.work}) was running, or waiting for a place, when its process stopped; ${why}, so it is lost`, { retryable: false, details: { taskId: work.taskId, conversationId: work.conversationId } }))
      }
    }
    return summary
  }

  /**
   * Ends stored work whose id a task submitted in this process took before `recover()` ran: it
   * cannot come back under that id, so it is not left running in the store for ever.
   */
  #supersede(work: RecoveredWork): void {
    const reason = `background task "${work.taskId}" was unfinished in the run store, and a task of the same id was submitted before recover(): the stored one is given up`
    logFailure(this.#options.logger, 'a recovered background task was superseded', new TaskweaveError('TW_LOST', reason, { retryable: false, details: { taskId: work.taskId, conversationId: work.conversationId } }), { taskId: work.taskId })
    if (work.kind === 'workflow') work.cancel(reason)
    else void work.record.finish('failed')
  }

  /**
   * Puts an entry under an id the caller chose: the generated ids that follow must not repeat it
   * (`conv:name:n`), as for a recovered id.
   */
  #keepUnderId(entry: Entry): void {
    const n = seqOfId(entry.id)
    if (n > this.#seq) this.#seq = n
    this.#tasks.adopt(entry)
  }

  /** An entry for work taken over from the store, under its old id, still pending. */
  #adoptPending(id: string, conversationId: string, name: string, kind: BackgroundKind): Entry {
    const conversation = this.#conversation(conversationId)
    const entry = newEntry(id, conversation, name, kind, this.#options.clock.now())
    entry.recovered = true
    // New ids must not repeat a recovered one.
    this.#keepUnderId(entry)
    entry.remembered = true
    conversation.tasks.push(entry)
    this.#active++
    return entry
  }

  /** An entry for work taken over from the store, running, under its old id. */
  #adopt(id: string, conversationId: string, name: string, kind: BackgroundKind): Entry {
    const entry = this.#adoptPending(id, conversationId, name, kind)
    this.#move(entry, 'running')
    entry.startedAt = entry.submittedAt
    // It was running, so it held a place: new work waits for it as for any running task.
    const limiter = this.#options.limiter
    if (limiter !== undefined) {
      limiter.hold(this.#placesKey)
      entry.permit = this.#placesKey
    }
    return entry
  }

  /**
   * A recovered task keeps the deadline it had (what is left of its timeout, at once when it has
   * passed); one recorded without a deadline gets the executor's `defaultTimeout`, if any.
   */
  #armRecoveredDeadline(entry: Entry, deadline: number | undefined): void {
    const clock = this.#options.clock
    const leftMs = deadline !== undefined ? Math.max(0, deadline - clock.wallNow()) : this.#options.defaultTimeoutMs
    if (leftMs === undefined) return
    entry.cancelTimer = setClockTimer(clock, leftMs, () =>
      this.#stop(entry, 'timed_out', new TimeoutError(`background task "${entry.id}" timed out (its deadline passed while it was being recovered or after)`, { retryable: false, details: { taskId: entry.id } })),
    )
  }

  #runRecoveredMachine(entry: Entry, machine: StateMachine<unknown, string>, context: unknown): void {
    this.#startWork(entry, { conversationId: entry.conversation.id, name: entry.name, run: machine, context }, undefined)
  }

  /** Starts a workflow or state machine for `entry` and finishes the entry when it ends; returns the work (undefined if it could not start). */
  #startWork(entry: Entry, options: SubmitWorkflow | SubmitStateMachine<unknown, string>, labels: Readonly<Record<string, string>> | undefined): Work | undefined {
    const signalOf = this.#signalOfEntry
    try {
      const work = startWork(options, {
        taskId: entry.id,
        get signal() {
          return signalOf(entry)
        },
        clock: this.#options.clock,
        engine: this.#options.engine,
        progress: (progress) => {
          if (!isFinal(entry.status)) entry.progress = progress
        },
        ...(labels !== undefined ? { labels } : {}),
      })
      entry.snapshot = work.snapshot
      if (work.runId !== undefined) entry.runId = work.runId
      void work.done.then(
        (result) => this.#finish(entry, result.status, result.value, result.error),
        (error: unknown) => this.#finish(entry, 'failed', undefined, error),
      )
      return work
    } catch (error) {
      this.#finish(entry, 'failed', undefined, error)
      return undefined
    }
  }

  /**
   * Completions of a conversation's tasks from now on, as they happen. Ends when `signal` aborts,
   * the conversation ends or the executor closes; `break` ends it too.
   */
  completions(conversationId: string, options: { readonly signal?: AbortSignal } = {}): AsyncIterableIterator<BackgroundOutcome> {
    if (this.#closing !== undefined || options.signal?.aborted === true) {
      const ended = new CompletionStream(() => {})
      ended.end()
      return ended
    }
    const conversation = this.#conversation(conversationId)
    const stream = new CompletionStream((s) => {
      conversation.streams.delete(s)
      this.#dropIfIdle(conversation)
    }, options.signal)
    conversation.streams.add(stream)
    return stream
  }

  /** Returns the conversation's completions not drained yet, oldest first, and empties its inbox. */
  drainInbox(conversationId: string): BackgroundOutcome[] {
    const conversation = this.#conversations.get(conversationId)
    if (conversation === undefined) return []
    const outcomes: BackgroundOutcome[] = []
    for (const entry of conversation.inbox.members()) {
      entry.inInbox = false
      if (entry.outcome !== undefined) outcomes.push(entry.outcome)
    }
    conversation.inbox.clear()
    return outcomes
  }

  /** Sizes of the bookkeeping. */
  stats(): BackgroundStats {
    let inboxed = 0
    for (const conversation of this.#conversations.values()) inboxed += conversation.inbox.size
    return { tasks: this.#tasks.size, active: this.#active, finished: this.#finished.size, conversations: this.#conversations.size, inboxed }
  }

  /** Cancels every pending and running task, ends every iterator and stops the TTL timer. Idempotent; outcomes stay readable. */
  close(): Promise<void> {
    // Closed before the cancels below run: an onComplete they call cannot submit work that would outlive close().
    this.#closed = true
    this.#closing ??= (async () => {
      const reason = (id: string): CancelledError => new CancelledError('the background executor is closing', { details: { taskId: id } })
      for (const entry of this.#tasks.values()) if (!isFinal(entry.status)) this.#stop(entry, 'cancelled', reason(entry.id))
      for (const conversation of [...this.#conversations.values()]) for (const stream of [...conversation.streams]) stream.end()
      this.#finished.close()
    })()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #queueStart(entry: Entry, options: SubmitOptions, timeoutMs: number | undefined): void {
    if (this.#toStart.push(entry) === 1) onMicrotask(this.#startQueued)
    this.#toStartOptions.push(options)
    this.#toStartTimeouts.push(timeoutMs)
  }

  /** Starts every queued task, in submit order; tasks submitted meanwhile (by a sync function) too. */
  readonly #startQueued = (): void => {
    const entries = this.#toStart
    const options = this.#toStartOptions
    const timeouts = this.#toStartTimeouts
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry
      try {
        this.#start(entry, options[i] as SubmitOptions, timeouts[i])
      } catch (error) {
        this.#finish(entry, 'failed', undefined, error) // e.g. an injected clock that throws: this task only
      }
    }
    this.#toStart = []
    this.#toStartOptions = []
    this.#toStartTimeouts = []
  }

  #start(entry: Entry, options: SubmitOptions, timeoutMs: number | undefined): void {
    if (entry.status !== 'pending') return // cancelled before it started
    const limiter = this.#options.limiter
    if (limiter !== undefined && entry.permit === undefined) {
      // A place first: a task waiting for one stays pending, and its timeout has not started.
      const cap = this.#options.maxConcurrent
      const key = this.#placesKey
      if (!limiter.tryAcquire(key, cap)) {
        const holder = {
          permitGranted: (): boolean => {
            entry.placeRequest = undefined
            if (entry.status !== 'pending') return false
            entry.permit = key
            try {
              this.#start(entry, options, timeoutMs)
            } catch (error) {
              this.#finish(entry, 'failed', undefined, error)
            }
            return true
          },
        }
        entry.placeRequest = holder
        // Accepted work must outlive a crash while it waits: its record is made now (a
        // recovered function or queued workflow is reported lost, a machine waits again).
        this.#openRecord(entry, options, undefined, timeoutMs)
        limiter.wait(key, cap, holder, 0, options.priority ?? 0)
        return
      }
      entry.permit = key
    }
    const clock = this.#options.clock
    this.#move(entry, 'running')
    entry.startedAt = clock.now()
    // Kept in the task's record, so that after a restart the recovered task keeps its deadline.
    const deadline = timeoutMs !== undefined && Number.isFinite(timeoutMs) ? clock.wallNow() + timeoutMs : undefined
    if (timeoutMs !== undefined) {
      // Through setClockTimer: an injected clock need not hold a delay past 2^31 ms (a '30d' timeout).
      entry.cancelTimer = setClockTimer(clock, timeoutMs, () =>
        this.#stop(entry, 'timed_out', new TimeoutError(`background task "${entry.id}" timed out after ${timeoutMs} ms`, { retryable: false, details: { taskId: entry.id, timeoutMs } })),
      )
    }
    const run = options.run
    const records = options.durable === false ? undefined : this.#options.engine?.records
    // A queued workflow's record gives way to its run, which is durable from now on; a function's
    // or a machine's made while it waited stays (without the deadline, which starts only now).
    if (entry.record !== undefined && !isStateMachine(run) && typeof run !== 'function') {
      void entry.record.finish('succeeded')
      entry.record = undefined
    }
    // A machine recorded while it waited: from now on a restart finds it running, holding its place.
    if (entry.record !== undefined && isStateMachine(run)) entry.record.started(deadline)
    if (typeof run === 'function') {
      this.#openRecord(entry, options, deadline)
      return this.#runFunction(entry, run)
    }
    if (isStateMachine(run)) this.#openRecord(entry, options, deadline)
    // A workflow is a durable run of the engine's own, labelled with its conversation.
    const labels = records !== undefined ? { conversation: entry.conversation.id, backgroundTask: entry.id, backgroundName: entry.name, ...(deadline !== undefined ? { [BACKGROUND_DEADLINE_LABEL]: String(deadline) } : {}) } : undefined
    const work = this.#startWork(entry, options as SubmitWorkflow | SubmitStateMachine<unknown, string>, labels)
    if (work !== undefined && records !== undefined && !isStateMachine(run)) entry.durableDone = work.done
  }

  /**
   * Opens the store record of durable work, unless it has one: when it starts (with its deadline),
   * or while it waits for a place (a workflow's then stands in until its run is made).
   */
  #openRecord(entry: Entry, options: SubmitOptions, deadline?: number, queuedTimeoutMs?: number): void {
    const records = options.durable === false ? undefined : this.#options.engine?.records
    if (records === undefined || entry.record !== undefined) return
    const run = options.run
    const base = { name: entry.name, conversationId: entry.conversation.id, taskId: entry.id, ...(deadline !== undefined ? { deadline } : {}) }
    if (typeof run === 'function') entry.record = records.open({ kind: 'function', ...base })
    else if (isStateMachine(run)) {
      const machine = options as SubmitStateMachine<unknown, string>
      // One recorded while it waits for a place says so (and its timeout, which starts when it does).
      const priority = options.priority ?? 0
      const queued = entry.status === 'pending' ? { queued: true, ...(queuedTimeoutMs !== undefined && Number.isFinite(queuedTimeoutMs) ? { timeoutMs: queuedTimeoutMs } : {}), ...(priority !== 0 ? { priority } : {}) } : {}
      entry.record = records.open({ kind: 'state-machine', ...base, ...queued, machine: { name: run.name ?? 'state-machine', context: machine.context !== undefined ? machine.context : run.context } })
    } else entry.record = records.open({ kind: 'queued-workflow', ...base })
    this.#watchRecord(entry)
  }

  /**
   * A task whose record is lost while it runs (another process took the record's lease after this
   * one could not renew it, and may run the work itself) stops here: `cancelled`, `TW_LEASE_LOST`.
   */
  #watchRecord(entry: Entry): void {
    entry.record?.whenLost((reason) => {
      if (isFinal(entry.status)) return
      this.#options.logger.warn('a background task lost its record in the run store; it stops here', { taskId: entry.id, reason })
      this.#stop(entry, 'cancelled', new TaskweaveError('TW_LEASE_LOST', `background task "${entry.id}" lost its record in the run store (${reason}): another process may run it now, so it stops here`, { retryable: false, details: { taskId: entry.id } }))
    })
  }

  /**
   * Calls a function task directly: a synchronous value finishes the task at once (no promise at
   * all), a promise is adopted once, and a throw, a rejection or an unreadable `then` fails it.
   */
  #runFunction(entry: Entry, run: BackgroundFunction<unknown>): void {
    let returned: unknown
    const ctx = new FunctionContext(entry, this.#functionHost)
    try {
      returned = run(ctx)
    } catch (error) {
      return this.#finish(entry, 'failed', undefined, error)
    }
    if ((typeof returned !== 'object' && typeof returned !== 'function') || returned === null) return this.#finish(entry, 'succeeded', returned, undefined)
    FunctionContext.follow(ctx, returned)
  }

  /**
   * The task's signal, created on first use: most short functions never look at it, and an
   * AbortController per task is the largest cost of a submit. Asked for after the task ended, it
   * comes already aborted.
   */
  #signalOf(entry: Entry): AbortSignal {
    if (entry.controller !== undefined) return entry.controller.signal
    const controller = new AbortController()
    if (isFinal(entry.status)) {
      // Asked for after the task was stopped: abort with why it stopped (TW_TIMEOUT, TW_CANCELLED…).
      const error = entry.outcome?.error
      controller.abort(error !== undefined ? deserializeError(error) : new CancelledError(`background task "${entry.id}" is over`, { details: { taskId: entry.id } }))
    }
    else entry.controller = controller
    return controller.signal
  }

  /** Stops a live task from outside (cancel, timeout, conversation end, close). False if it had ended. */
  #stop(entry: Entry, status: 'cancelled' | 'timed_out', error: TaskweaveError): boolean {
    if (isFinal(entry.status)) return false
    const controller = entry.controller
    this.#finish(entry, status, entry.snapshot?.(error), error)
    // Abort after the books are closed, so abort listeners already see the final state.
    controller?.abort(error)
    return true
  }

  #finish(entry: Entry, status: BackgroundFinalStatus, value: unknown, error: unknown): void {
    if (isFinal(entry.status)) return // a late result of a task already cancelled or timed out
    if (entry.permit !== undefined) {
      this.#options.limiter?.release(entry.permit)
      entry.permit = undefined
    }
    // Ended while waiting for a place: its request leaves the queue (it would keep the task alive there).
    if (entry.placeRequest !== undefined) {
      this.#options.limiter?.forget(entry.placeRequest)
      entry.placeRequest = undefined
    }
    const now = this.#options.clock.now()
    this.#move(entry, status)
    this.#active--
    entry.cancelTimer?.()
    entry.unhookSignal?.()
    const outcome = toOutcome(entry, status, value, error, now)
    entry.outcome = outcome
    if (entry.record !== undefined) {
      entry.durableDone = entry.record.finish(status)
      entry.record = undefined
    }
    const resolveWaiting = entry.resolveWaiting
    entry.controller = entry.cancelTimer = entry.unhookSignal = entry.snapshot = entry.waiting = entry.resolveWaiting = undefined
    resolveWaiting?.(outcome)
    const conversation = entry.conversation
    if (entry.remembered) {
      entry.inInbox = true // before the index: an immediate eviction must also empty the inbox
      conversation.inbox.push(entry)
      this.#finished.add(entry, now)
    }
    if (conversation.streams.size > 0) for (const stream of conversation.streams) stream.push(outcome) // no iterator when nobody listens
    this.#notify(outcome)
  }

  #notify(outcome: BackgroundOutcome): void {
    const onComplete = this.#options.onComplete
    if (onComplete === undefined) return
    const report = (err: unknown): void => logFailure(this.#options.logger, 'a background onComplete handler failed', err, { taskId: outcome.taskId })
    let returned: unknown
    try {
      returned = onComplete(outcome)
    } catch (err) {
      report(err)
      return
    }
    // A handler typed `void` may still be async: never let its rejection go unhandled.
    if (returned !== undefined) whenSettled(returned, ignore, report)
  }

  #move(entry: Entry, to: BackgroundStatus): void {
    if (!canMove(entry.status, to)) throw new Error(`taskweave internal error: background task "${entry.id}" cannot go from ${entry.status} to ${to}`)
    entry.status = to
  }

  #info(entry: Entry): BackgroundTaskInfo {
    return toInfo(entry, this.#options.clock.now())
  }

  #conversation(id: string): Conversation {
    let conversation = this.#conversations.get(id)
    if (conversation === undefined) this.#conversations.set(id, (conversation = newConversation(id)))
    return conversation
  }

  /** Called by the finished index when a task ages out or is evicted by the bound. */
  #forget(entry: Entry): void {
    if (!entry.remembered) return
    const conversation = entry.conversation
    this.#tasks.delete(entry)
    entry.remembered = false
    conversation.tasks.dropped()
    if (entry.inInbox) {
      entry.inInbox = false
      conversation.inbox.dropped()
    }
    this.#dropIfIdle(conversation)
  }

  #dropIfIdle(conversation: Conversation): void {
    if (conversation.tasks.size === 0 && conversation.streams.size === 0 && this.#conversations.get(conversation.id) === conversation) {
      this.#conversations.delete(conversation.id)
    }
  }
}

function ignore(): void {}

/** Distinguishes the keys of several executors sharing one limiter. */
let executorSerial = 0

/** The options of a `result()` call given none. */
const NO_RESULT_OPTIONS: { readonly signal?: AbortSignal } = Object.freeze({})
