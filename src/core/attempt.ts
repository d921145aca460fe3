/**
 * The attempt boundary. A run splits each attempt of a task into four steps:
 *
 * 1. **dispatch** (the run): resolve the input, arm the deadline, take the attempt's token, and
 *    describe the attempt as an {@link AttemptRequest} — plain data only;
 * 2. **run** (an {@link AttemptRunner}): call the tool, locally or anywhere else, and report back
 *    through the {@link AttemptSink} the run handed it;
 * 3. **record** (the run): the task's state, its slot and permits, tool statistics, the event;
 * 4. **apply** (the run): tasks the attempt added, completion handlers, dependents, the next
 *    dispatch, the end of the run.
 *
 * Nothing but plain data crosses from the run to a runner, and a runner speaks back only through
 * its sink, so the same run can use the local runner (the default, with a fast path for
 * synchronous tools), a runner that replays a journal, or one that sends attempts to workers.
 * @module
 */
import type { SerializedError } from './errors.js'
import type { ToolProgress } from './tool.js'
import type { LlmUsage, ProviderLimits } from './rate.js'
import type { TaskSpec } from './spec.js'

/**
 * One attempt of one task, as plain data: everything a runner needs to run it anywhere. The
 * object a run hands its runner is also the run's record of the attempt, and reads some fields
 * through getters: a runner that copies it (to post it to a thread, to queue it) copies its
 * fields by name or through JSON (`JSON.stringify` writes them all), not with a spread or a
 * structured clone, which leave getters out.
 */
export interface AttemptRequest {
  readonly runId: string
  readonly taskId: string
  /** 1 for the first attempt, 2 for the first retry… */
  readonly attempt: number
  /** Names this attempt alone (see {@link attemptIdOf}): outcomes and cancels are matched by it. */
  readonly attemptId: string
  /** Stable across every attempt of the task (`runId/taskId`), so side effects can be made idempotent. */
  readonly idempotencyKey: string
  /** The tool to call, by name. */
  readonly tool: string
  /**
   * The resolved input: plain JSON data, deep-frozen where it is shared. `inputChecked` says
   * whether the tool's schema already parsed it (a static input is checked once, at compile
   * time); a runner elsewhere parses it with its own copy of the schema either way.
   */
  readonly input: unknown
  readonly inputChecked: boolean
  /** The attempt's time limit, in ms; the run enforces it (the runner only sees a cancel). */
  readonly timeoutMs: number | undefined
  /** The task's priority (higher first), for runners that queue. */
  readonly priority: number
  /** The task's concurrency group, if any: a remote runner sends the attempt to the work queue of that name. */
  readonly group?: string | undefined
  /**
   * Where the attempt's state lives, when a tool permit names it (an agent session's turn:
   * `session:<agent>#<session>`): a remote runner sends it to the worker that ran the last attempt
   * with the same route while that worker lives.
   */
  readonly route?: string | undefined
  /**
   * The rate key the engine counted the attempt against (the task's `rateKey`, else its tool's),
   * when it has one: a runner that enforces budgets shared by several processes charges this key.
   */
  readonly rateKey?: string | undefined
  /**
   * True when the task must not run twice (`idempotent: false`, without `onUncertain: retry`): a
   * runner that cannot tell whether an earlier delivery of this attempt ran it (a worker that held
   * it died, was stopped, or could not report) does not run it again, and fails it `TW_UNCERTAIN`.
   */
  readonly mustNotRepeat?: boolean | undefined
  /**
   * The W3C trace context (`traceparent`) of the attempt's span at its owner, when the owner
   * traces and sends attempts elsewhere: a worker's spans of the attempt join the owner's trace.
   */
  readonly traceparent?: string | undefined
}

/**
 * `request` as plain data, each field read once: the engine's own request object reads some
 * fields through getters (computed on demand), which a spread or a structured clone would leave
 * out. What a runner other than the engine's own, and a wrapper around its tool calls, receive.
 */
export function plainAttemptRequest(request: AttemptRequest, inputChecked = request.inputChecked): AttemptRequest {
  return {
    runId: request.runId,
    taskId: request.taskId,
    attempt: request.attempt,
    attemptId: request.attemptId,
    idempotencyKey: request.idempotencyKey,
    tool: request.tool,
    input: request.input,
    inputChecked,
    timeoutMs: request.timeoutMs,
    priority: request.priority,
    group: request.group,
    route: request.route,
    rateKey: request.rateKey,
    ...(request.mustNotRepeat === true ? { mustNotRepeat: true } : {}),
    ...(request.traceparent !== undefined ? { traceparent: request.traceparent } : {}),
  }
}

/**
 * How an attempt ended, as plain data: what a remote runner sends back (the local runner calls
 * the sink's methods directly). `output` is the tool's result before the run normalises it.
 */
export type AttemptOutcome =
  | { readonly attemptId: string; readonly ok: true; readonly output: unknown; readonly added?: readonly TaskSpec[] }
  | { readonly attemptId: string; readonly ok: false; readonly error: SerializedError }

/** What a runner reports to while an attempt runs. One sink per attempt; calls after the first outcome are ignored. */
export interface AttemptSink {
  /** The tool reported progress. */
  progress(progress: ToolProgress): void
  /**
   * The tool adds a task: checked now against the run (throws `TW_VALIDATION` naming the task and
   * field) and returned as the plain-data copy that joins the run if the attempt succeeds.
   */
  addTask(spec: TaskSpec): TaskSpec
  /** The tool reported what its call consumed (tokens, cost). */
  usage(usage: LlmUsage): void
  /** The tool reported the provider's view of its limits. */
  limits(limits: ProviderLimits): void
  /** The attempt succeeded with `output` (not yet normalised). */
  succeeded(output: unknown): void
  /** The attempt failed with `error` (any thrown value). */
  failed(error: unknown): void
  /** Whether the attempt is still the task's current one (not timed out, cancelled or ended). */
  isCurrent(): boolean
  /** Why the attempt ended, once it has: its timeout, its failure, the run's cancellation. */
  endReason(): unknown
}

/** Runs attempts: locally (the default), from a journal, or on workers. */
export interface AttemptRunner {
  /** Starts the attempt `request` describes; reports through `sink`. Never throws: failures go to `sink.failed`. */
  start(request: AttemptRequest, sink: AttemptSink): void
  /** Asks a running attempt to stop: its tool's `ctx.signal` is aborted with `reason`. Unknown ids are ignored. */
  cancel(attemptId: string, reason: unknown): void
  /** Stops taking attempts and releases what the runner holds. */
  close(): Promise<void>
  /**
   * True when the sink still hears from an attempt after `cancel()` (its late outcome, ignored by
   * the run): the run then knows when a tool that ignored the cancel has really stopped, and keeps
   * the attempt's group permit until then. A runner that forgets cancelled attempts leaves it out.
   */
  readonly reportsAfterCancel?: boolean
  /**
   * Whether the runner can hand attempts on now (a remote runner: whether its broker takes them).
   * Optional: a runner without it is taken as always able to. `engine.stats().runner` reports it.
   */
  health?(): RunnerHealth
}

/** Whether an {@link AttemptRunner} can hand attempts on now. */
export interface RunnerHealth {
  readonly ok: boolean
  /** What is wrong when not ok: the broker cannot be reached, blocks publishing, or refuses what is published (and its error). */
  readonly problem?: string
  /** Since when (epoch ms) the runner is in this state; 0 when it never changed. */
  readonly since: number
}

/**
 * The id of attempt `attempt` of task `taskId` in run `runId`: unique per attempt, readable in
 * logs. `epoch` is the lease epoch of a durable run: from its first resume on, the id carries it
 * (`#2@3`), so an attempt that runs again after a crash (its start perhaps never written) never
 * shares its id with the one that was lost.
 */
export function attemptIdOf(runId: string, taskId: string, attempt: number, epoch = 1): string {
  return epoch > 1 ? `${runId}/${taskId}#${attempt}@${epoch}` : `${runId}/${taskId}#${attempt}`
}

/** Delivers an outcome that arrived as plain data (from a remote runner) to the attempt's sink. */
export function deliverOutcome(outcome: AttemptOutcome, sink: AttemptSink, toError: (error: SerializedError) => unknown): void {
  if (outcome.ok) {
    try {
      for (const spec of outcome.added ?? []) sink.addTask(spec)
    } catch (err) {
      sink.failed(err)
      return
    }
    sink.succeeded(outcome.output)
  } else sink.failed(toError(outcome.error))
}
