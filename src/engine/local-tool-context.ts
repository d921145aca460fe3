/**
 * The `ctx` a tool receives from the local runner. Its signal and logger are made only when the
 * tool asks for them, so a tool that never looks costs nothing; a tool that asks after its attempt
 * ended gets a signal already aborted with the reason it ended.
 * @module
 */
import type { AttemptRequest, AttemptSink } from '../core/attempt.js'
import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/logger.js'
import type { ToolContext, ToolProgress } from '../core/tool.js'
import type { LlmUsage, ProviderLimits } from '../core/rate.js'
import type { TaskSpec } from '../workflow/types.js'

/**
 * The runner a context belongs to: where it registers once its tool asked for a signal (so a
 * cancel can reach it), where it says its attempt's outcome was reported, and the clock and logger
 * its tool sees (read through it, not kept per attempt).
 */
export interface SignalRegistry {
  readonly clock: Clock
  readonly logger: Logger
  track(ctx: LocalToolContext): void
  settled(ctx: LocalToolContext): void
}

/**
 * The runner's list of tool calls whose promise has not settled (see {@link LocalToolContext.pend}):
 * small nodes naming each call, never the context, which reaches its whole run; a tool whose
 * promise never settles must not keep its run alive through this list.
 */
export interface PendingCalls {
  first: PendingNode | undefined
  count: number
  /** Called when the last call on the list settles. */
  onEmpty: (() => void) | undefined
}

/** One call on a {@link PendingCalls} list. */
interface PendingNode {
  readonly tool: string
  readonly runId: string
  readonly taskId: string
  readonly attempt: number
  prev: PendingNode | undefined
  next: PendingNode | undefined
}

/** A tool call that had not returned when its engine finished closing (it ignored its abort signal). */
export interface AbandonedToolCall {
  readonly stage: 'tool'
  readonly tool: string
  readonly runId: string
  readonly taskId: string
  readonly attempt: number
}

/** A tool's context for one local attempt. */
export class LocalToolContext implements ToolContext {
  readonly #request: AttemptRequest
  readonly #sink: AttemptSink
  readonly #registry: SignalRegistry
  #controller: AbortController | undefined
  #logger: Logger | undefined
  /** Whether the runner tracks this attempt (its tool asked for the signal while it ran). */
  tracked = false
  /** This call's node on the runner's list of calls whose promise has not settled (see {@link PendingCalls}). */
  #pending: PendingNode | undefined

  constructor(request: AttemptRequest, sink: AttemptSink, registry: SignalRegistry) {
    this.#request = request
    this.#sink = sink
    this.#registry = registry
  }

  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal
    const controller = (this.#controller = new AbortController())
    if (!this.#sink.isCurrent()) controller.abort(this.#sink.endReason())
    else {
      this.tracked = true
      this.#registry.track(this)
    }
    return controller.signal
  }

  /** @internal Aborts this attempt's signal (made now if the tool has not asked for it yet). */
  abort(reason: unknown): void {
    ;(this.#controller ??= new AbortController()).abort(reason)
  }

  get attemptId(): string {
    return this.#request.attemptId
  }

  get runId(): string {
    return this.#request.runId
  }

  get taskId(): string {
    return this.#request.taskId
  }

  get attempt(): number {
    return this.#request.attempt
  }

  get idempotencyKey(): string {
    return this.#request.idempotencyKey
  }

  get clock(): Clock {
    return this.#registry.clock
  }

  get logger(): Logger {
    const r = this.#request
    return (this.#logger ??= this.#registry.logger.child({ runId: r.runId, taskId: r.taskId, attempt: r.attempt, attemptId: r.attemptId }))
  }

  /**
   * Reports the outcome of `ctx`'s tool's promise (`then`, read from it once) to its sink, then
   * lets the runner stop tracking the attempt. Bound methods rather than arrow functions: two
   * small objects per attempt, with no closure scope beside them. Static, so the context a tool
   * receives has no such method. Throws what `then` throws.
   */
  static follow(ctx: LocalToolContext, then: PromiseLike<unknown>['then'], outcome: unknown): void {
    then.call(outcome, ctx.#fulfilled.bind(ctx), ctx.#rejected.bind(ctx))
  }

  /**
   * Puts `ctx` on `list`, the calls whose promise has not settled: a doubly linked list of small
   * nodes, so the cost per async call is one node and a few field writes (no set to hash into).
   */
  static pend(list: PendingCalls, ctx: LocalToolContext): void {
    const r = ctx.#request
    const first = list.first
    const node: PendingNode = { tool: r.tool, runId: r.runId, taskId: r.taskId, attempt: r.attempt, prev: undefined, next: first }
    if (first !== undefined) first.prev = node
    list.first = node
    list.count++
    ctx.#pending = node
  }

  /** Takes `ctx` off `list` if it is on it; calls `list.onEmpty` when it was the last. */
  static unpend(list: PendingCalls, ctx: LocalToolContext): void {
    const node = ctx.#pending
    if (node === undefined) return
    ctx.#pending = undefined
    const { prev, next } = node
    if (prev !== undefined) prev.next = next
    else list.first = next
    if (next !== undefined) next.prev = prev
    node.prev = undefined
    node.next = undefined
    list.count--
    if (list.count === 0) list.onEmpty?.()
  }

  /** The calls on `list`, described. */
  static describePending(list: PendingCalls): AbandonedToolCall[] {
    const calls: AbandonedToolCall[] = []
    for (let node = list.first; node !== undefined; node = node.next) calls.push({ stage: 'tool', tool: node.tool, runId: node.runId, taskId: node.taskId, attempt: node.attempt })
    return calls
  }

  #fulfilled(value: unknown): void {
    this.#sink.succeeded(value)
    this.#registry.settled(this)
  }

  #rejected(err: unknown): void {
    this.#sink.failed(err)
    this.#registry.settled(this)
  }

  progress(progress: ToolProgress): void {
    this.#sink.progress(progress)
  }

  addTask(task: TaskSpec): void {
    this.#sink.addTask(task)
  }

  reportUsage(usage: LlmUsage): void {
    this.#sink.usage(usage)
  }

  reportLimits(limits: ProviderLimits): void {
    this.#sink.limits(limits)
  }
}
