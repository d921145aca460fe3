/**
 * The local attempt runner: calls the tool in this process. A synchronous tool's result is
 * reported before `start()` returns (no promise, no microtask: the fast path that keeps a no-op
 * task cheaper than a promise pool's), an async one's when its promise settles. A tool's
 * `ctx.signal` is made only when the tool asks for it; only then does the runner track the attempt,
 * so `cancel()` can abort it.
 * @module
 */
import { plainAttemptRequest } from '../core/attempt.js'
import type { AttemptRequest, AttemptRunner, AttemptSink } from '../core/attempt.js'
import type { Clock } from '../core/clock.js'
import { TaskweaveError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { AnyTool } from '../core/tool.js'
import { LocalToolContext } from './local-tool-context.js'
import type { AbandonedToolCall, PendingCalls, SignalRegistry } from './local-tool-context.js'

/** What the local runner needs from its engine. */
export interface LocalRunnerOptions {
  /** The tool of a name (the engine's registry). */
  readonly lookup: (name: string) => AnyTool | undefined
  readonly clock: Clock
  readonly logger: Logger
  /** Where it runs, in the error for a tool it lacks: `this engine` unless given (`worker w1 on host:pid`). */
  readonly where?: string
}

/**
 * Runs a tool's call inside a scope of the caller's (an OpenTelemetry context, an
 * AsyncLocalStorage store): it must call `run` once, synchronously, and return what it returns.
 */
export type AttemptWrapper = (attempt: AttemptRequest, run: () => unknown) => unknown

/** Runs attempts in this process. */
export class LocalAttemptRunner implements AttemptRunner, SignalRegistry {
  readonly #options: LocalRunnerOptions
  /** Wraps each tool call (see {@link AttemptWrapper}); absent in the common case, checked once per attempt. */
  wrapper: AttemptWrapper | undefined
  /**
   * Running attempts whose tool asked for its signal, by attempt id: a dictionary object, not a
   * `Map`, because every attempt comes and goes here and a long-lived `Map`'s retired tables keep
   * what they held alive through young-generation collections (see `core/indexed-set.ts`).
   */
  readonly #live: Record<string, LocalToolContext | undefined> = Object.create(null) as Record<string, LocalToolContext | undefined>

  /** Tool calls whose promise has not settled: what {@link settle} waits for when the engine closes. */
  readonly #pending: PendingCalls = { first: undefined, count: 0, onEmpty: undefined }

  /** A tool's late outcome still reaches its sink after a cancel (see {@link AttemptRunner.reportsAfterCancel}). */
  readonly reportsAfterCancel = true

  constructor(options: LocalRunnerOptions) {
    this.#options = options
  }

  start(request: AttemptRequest, sink: AttemptSink): void {
    const tool = this.#options.lookup(request.tool)
    if (tool === undefined) {
      sink.failed(unknownTool(request.tool, this.#options.where))
      return
    }
    let input = request.input
    if (!request.inputChecked) {
      input = parsedInput(tool, input, sink)
      if (input === INPUT_REJECTED) return
    }
    const ctx = new LocalToolContext(request, sink, this)
    let outcome: unknown
    let then: unknown
    try {
      const wrapper = this.wrapper
      // A wrapper is the caller's code: it sees the request as plain data.
      outcome = wrapper === undefined ? tool.run(input, ctx) : wrapper(plainAttemptRequest(request), () => tool.run(input, ctx))
      // Reading `then` runs user code too (a getter, a Proxy trap): it may throw.
      then = typeof outcome === 'object' || typeof outcome === 'function' ? (outcome as { then?: unknown } | null)?.then : undefined
    } catch (err) {
      sink.failed(err)
      this.settled(ctx)
      return
    }
    if (typeof then !== 'function') {
      sink.succeeded(outcome)
      this.settled(ctx)
      return
    }
    LocalToolContext.pend(this.#pending, ctx)
    try {
      LocalToolContext.follow(ctx, then as PromiseLike<unknown>['then'], outcome)
    } catch (err) {
      sink.failed(err)
      this.settled(ctx)
    }
  }

  /**
   * Resolves once every tool call this runner made has returned, or after `graceMs` (real time:
   * an engine on a manual clock still closes); {@link pendingCalls} then says which have not.
   */
  async settle(graceMs: number): Promise<void> {
    const list = this.#pending
    if (list.count > 0) {
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        list.onEmpty = resolve
        timer = setTimeout(resolve, graceMs)
        timer.unref()
      })
      clearTimeout(timer)
      list.onEmpty = undefined
    }
  }

  /** The tool calls this runner made that have not returned (their tools may ignore their abort signal). */
  pendingCalls(): readonly AbandonedToolCall[] {
    return LocalToolContext.describePending(this.#pending)
  }

  /** The clock tools see (`ctx.clock`). */
  get clock(): Clock {
    return this.#options.clock
  }

  /** The logger tools' loggers derive from (`ctx.logger`). */
  get logger(): Logger {
    return this.#options.logger
  }

  cancel(attemptId: string, reason: unknown): void {
    const ctx = this.#live[attemptId]
    if (ctx === undefined) return
    delete this.#live[attemptId]
    ctx.abort(reason)
  }

  /** Nothing to release: attempts still running are cancelled by their runs. */
  close(): Promise<void> {
    return Promise.resolve()
  }

  /** @internal */ track(ctx: LocalToolContext): void {
    this.#live[ctx.attemptId] = ctx
  }

  /** @internal Stops tracking an attempt once its outcome is reported (after the report, so a failure's cancel still reaches its signal). */
  settled(ctx: LocalToolContext): void {
    if (ctx.tracked && this.#live[ctx.attemptId] === ctx) delete this.#live[ctx.attemptId]
    LocalToolContext.unpend(this.#pending, ctx)
  }
}

// What the engine's own requests never need (their tool is registered and their input checked):
// apart from start(), so a fresh process does not compile it for its first attempt.

/** What {@link parsedInput} returns for an input the tool's schema rejected (the sink was told). */
const INPUT_REJECTED: unique symbol = Symbol('input rejected')

/** `input` as the tool's schema parses it; {@link INPUT_REJECTED}, reported to `sink`, when it does not. */
function parsedInput(tool: AnyTool, input: unknown, sink: AttemptSink): unknown {
  const checked = tool.input.safeParse(input)
  if (checked.success) return checked.data
  sink.failed(new TaskweaveError('TW_TOOL_INPUT', `input rejected by tool "${tool.name}": ${checked.error.issues.map((i) => i.message).join('; ')}`, { retryable: false }))
  return INPUT_REJECTED
}

function unknownTool(name: string, where = 'this engine'): TaskweaveError {
  return new TaskweaveError('TW_UNKNOWN_TOOL', `tool "${name}" is not registered with ${where}`, { retryable: false, details: { tool: name } })
}
