/**
 * The agent session pool (the seed's `AgentTaskManager`): instances pooled per
 * `agentName#sessionId`, created on first use, reused by every execution of the session, disposed
 * after an idle timeout, on eviction and at shutdown. Executions are queued in memory.
 *
 * One execution goes through three waits, in this order, each abortable and first come, first served:
 * 1. its session's turn: one execution at a time per session, in submission order (all at once
 *    for `concurrentSafe` agents), so an instance never serves two executions at once;
 * 2. an instance place, when the session has none (`maxInstances`; see `session-table.ts`);
 * 3. a worker slot (`maxConcurrent`), so waiting on a busy session never holds a slot.
 * Then the instance is created if needed and the agent runs. Whatever happens to the caller, the
 * session's next execution starts only after this one has returned.
 *
 * Lifecycle: `running` → `draining` (after `close()`: no new executions, accepted ones finish,
 * idle instances are disposed as they become idle) → `closed`. `close({ force: true })` aborts the
 * executions still running or queued. Either way the close is bounded by `closeTimeout` on the
 * pool's clock: agent code may ignore its signal or never settle (`create`, `execute`, `dispose`),
 * so when the grace period runs out the pool aborts what is left, rejects the waiting callers with
 * `TW_AGENT_CLOSED`, stops waiting, and resolves `close()` with a report of what it abandoned.
 * A caller's promise never waits on agent code past an abort: it races the execution's signal.
 * @module
 */
import type { CancelTimer, Clock } from '../core/clock.js'
import { CancelledError, InvalidOptionError, TaskweaveError } from '../core/errors.js'
import { readThrown } from '../fsm/thrown.js'
import { checkPriority, checkSignal, refuseUnknownOptions } from '../core/known-options.js'
import type { Logger } from '../core/logger.js'
import { anySignal, untilAborted } from './abort.js'
import type { Agent, AgentExecutionContext, AnyAgent } from './define-agent.js'
import { abandonedError, agentInputError, createFailedError, poolClosedError, unknownAgentError } from './errors.js'
import { Gate } from './gate.js'
import type { KeyedLimiter } from '../scheduler/keyed-limiter.js'
import { callAgent, reportableAgentError } from './guard.js'
import { InFlight } from './in-flight.js'
import type { AgentPoolCloseReport } from './in-flight.js'
import { AgentCounters } from './metrics.js'
import type { AgentMetrics, AgentPoolHealth, AgentPoolMetrics } from './metrics.js'
import { resolveAgentSessionPoolOptions } from './options.js'
import type { AgentSessionPoolOptions, ResolvedAgentSessionPoolOptions } from './options.js'
import { SessionTable } from './session-table.js'
import type { Creation, InstanceHolder, ReleaseReason, Session } from './session-table.js'
import { ChunkStream, pumpStream } from './stream.js'
import type { ChunkSink } from './stream.js'
import type { AgentChunk } from './stream.js'

/** Options of one execution. */
export interface AgentExecuteOptions {
  /** Aborting it cancels the execution: it leaves the queue, or its `ctx.signal` aborts. */
  readonly signal?: AbortSignal
  /**
   * Higher runs first when executions wait for one of the pool's `maxConcurrent` places; honoured
   * when the pool takes them from a keyed limiter (an engine's pool does). @default 0
   */
  readonly priority?: number
}

/** Options of {@link AgentSessionPool.close}. */
export interface AgentPoolCloseOptions {
  /** Abort running and queued executions instead of letting them finish. @default false */
  readonly force?: boolean
}

type Body = (instance: unknown, ctx: AgentExecutionContext) => Promise<unknown>

/** Lets the agent tool run input its own schema already parsed (parsing twice would re-apply transforms). */
export const EXECUTE_PARSED = Symbol('taskweave.agents.executeParsed')

/**
 * Runs agent executions on pooled, per-session instances.
 * @example
 * await using pool = new AgentSessionPool({ agents: [chat], idleTimeout: '2h', maxConcurrent: 10 })
 * await pool.execute('chat', 'conversation-1', { message: 'hi' })        // creates the instance
 * const second = await pool.execute(chat, 'conversation-1', { message: 'again' }) // reuses it, typed
 * for await (const chunk of pool.stream('chat', 'conversation-1', { message: 'tell me more' })) {
 *   if (chunk.type === 'delta') process.stdout.write(String(chunk.data))
 * }
 * console.log(pool.health(), pool.metrics())
 */
export class AgentSessionPool implements AsyncDisposable {
  /** The clock idle timeouts and durations are measured on. */
  readonly clock: Clock
  readonly #options: ResolvedAgentSessionPoolOptions
  readonly #table: SessionTable
  readonly #workers: WorkerPlaces
  readonly #counters = new Map<string, AgentCounters>()
  /**
   * One controller per execution in flight, which a forced close aborts. Not one pool-wide signal
   * linked into each execution's: on Node 20, a signal kept for the pool's life holds on to every
   * signal `AbortSignal.any` ever derived from it (about 60 bytes per execution, for good).
   */
  readonly #executions = new Set<AbortController>()
  /** Why a forced close aborted the executions, once it did. */
  #forced: unknown = undefined
  readonly #disposals = new Set<Promise<void>>()
  readonly #inFlight = new InFlight()
  #state: 'running' | 'draining' | 'closed' = 'running'
  #closing: Promise<AgentPoolCloseReport> | undefined
  #drained: (() => void) | undefined
  #work = 0
  #pending = 0
  #running = 0
  #completed = 0
  #failed = 0
  #seq = 0

  constructor(options: AgentSessionPoolOptions) {
    this.#options = resolveAgentSessionPoolOptions(options)
    this.clock = this.#options.clock
    for (const name of this.#options.agents.keys()) this.#counters.set(name, new AgentCounters())
    this.#workers = workerPlaces(this.#options.maxConcurrent, this.#options.limiter)
    this.#table = new SessionTable(this.#options.maxInstances, {
      assigned: (session) => this.#countersOf(session.agent).activeInstances++,
      released: (session, holder, reason) => this.#dispose(session, holder, reason),
    })
  }

  /** The agent registered under `name`. */
  agent(name: string): AnyAgent | undefined {
    return this.#options.agents.get(name)
  }

  /** Names of the pool's agents. */
  get agentNames(): string[] {
    return [...this.#options.agents.keys()]
  }

  /** True while `agentName#sessionId` holds an instance (alive or being created). */
  hasInstance(agentName: string, sessionId: string): boolean {
    return this.#table.get(`${agentName}#${sessionId}`)?.instance !== undefined
  }

  /**
   * Runs one execution on the session's instance and resolves with the agent's output. Rejects
   * with the agent's error, `TW_AGENT_CREATE_FAILED`, `TW_AGENT_INPUT`, `TW_AGENT_UNKNOWN`,
   * `TW_AGENT_CLOSED`, or `signal.reason` as soon as the signal aborts.
   */
  execute<Input, Output>(agent: Agent<unknown, Input, Output, unknown>, sessionId: string, input: Input, options?: AgentExecuteOptions): Promise<Output>
  execute(agentName: string, sessionId: string, input: unknown, options?: AgentExecuteOptions): Promise<unknown>
  execute(agent: string | AnyAgent, sessionId: string, input: unknown, options: AgentExecuteOptions = {}): Promise<unknown> {
    try {
      checkCall('execute', sessionId, options)
      const resolved = this.#admit(agent)
      this.#checkRoom()
      return this[EXECUTE_PARSED](resolved, sessionId, this.#parse(resolved, input), options)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * {@link execute} for input already parsed by the agent's schema. Not public API. `turnHeld`:
   * the caller already holds the session's turn (an engine task took its `session:` permit).
   */
  [EXECUTE_PARSED](agent: AnyAgent, sessionId: string, input: unknown, options: AgentExecuteOptions, turnHeld = false, onDelta?: (data: unknown) => void): Promise<unknown> {
    if (this.#state !== 'running') return Promise.reject(poolClosedError())
    const own = this.#execution()
    const signal = anySignal([own.signal, options.signal])
    const body: Body = onDelta === undefined ? (instance, ctx) => callAgent(() => agent.execute(instance, input, ctx), reportableAgentError(agent.name, sessionId)) : (instance, ctx) => streamed(agent, instance, input, ctx, onDelta)
    const run = this.#run(agent, sessionId, signal, options.priority ?? 0, body, turnHeld)
    this.#forgetWhenSettled(run, own)
    // An engine task holding the session's turn settles only when the execution has ended, even
    // after an abort: the engine keeps the turn until then, so the session's next task neither
    // overlaps an execution that ignores its signal nor spends its timeout waiting behind it.
    return turnHeld ? run : untilAborted(run, signal)
  }

  /**
   * Runs one execution as a stream of {@link AgentChunk}s. Unknown agents, invalid input and a
   * closed pool throw at once; everything later arrives as an `error` chunk. The iterator's
   * `return()` (a `break`) aborts the execution.
   */
  stream<Input, Chunk>(agent: Agent<unknown, Input, unknown, Chunk>, sessionId: string, input: Input, options?: AgentExecuteOptions): AsyncIterableIterator<AgentChunk<Chunk>>
  stream(agentName: string, sessionId: string, input: unknown, options?: AgentExecuteOptions): AsyncIterableIterator<AgentChunk>
  stream(agentRef: string | AnyAgent, sessionId: string, input: unknown, options: AgentExecuteOptions = {}): AsyncIterableIterator<AgentChunk> {
    checkCall('stream', sessionId, options)
    const agent = this.#admit(agentRef)
    this.#checkRoom()
    const parsed = this.#parse(agent, input)
    if (this.#state !== 'running') throw poolClosedError()
    const chunks = new ChunkStream<unknown>()
    const own = this.#execution()
    const signal = anySignal([own.signal, options.signal, chunks.stopSignal])
    const run = this.#run(agent, sessionId, signal, options.priority ?? 0, (instance, ctx) => pumpStream(agent, instance, parsed, ctx, chunks))
    this.#forgetWhenSettled(run, own)
    untilAborted(run, signal).then(
      () => {},
      (err: unknown) => chunks.fail(err),
    )
    return chunks
  }

  /** Health in the seed's shape. */
  health(): AgentPoolHealth {
    return {
      running: this.#state === 'running',
      state: this.#state,
      workerCount: this.#options.maxConcurrent,
      activeInstances: this.#table.instances,
      runningTasks: this.#running,
      queueType: 'memory',
      queue: { pending: this.#pending, completed: this.#completed, failed: this.#failed },
    }
  }

  /** Per-agent counters and the overall mean execution time. */
  metrics(): AgentPoolMetrics {
    const agents: Record<string, AgentMetrics> = {}
    let executions = 0
    let totalMs = 0
    for (const [name, counters] of this.#counters) {
      agents[name] = counters.snapshot()
      executions += counters.executions
      totalMs += counters.totalDurationMs
    }
    return { agents, meanDurationMs: executions === 0 ? 0 : totalMs / executions }
  }

  /**
   * Stops taking executions, lets accepted ones finish (or aborts them with `force`), then disposes
   * every instance, within the `closeTimeout` grace period; resolves with what it had to abandon.
   * Idempotent: every call returns the same promise; a later `force` escalates.
   */
  close(options: AgentPoolCloseOptions = {}): Promise<AgentPoolCloseReport> {
    try {
      refuseUnknownOptions('close', options, ['force'])
    } catch (err) {
      return Promise.reject(err)
    }
    if (options.force === true) this.#force(new CancelledError('the agent session pool was force-closed'))
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  /** The controller of a new execution (aborted at once if the pool was force-closed). */
  #execution(): AbortController {
    const own = new AbortController()
    if (this.#forced !== undefined) own.abort(this.#forced)
    else this.#executions.add(own)
    return own
  }

  /** Forgets an execution's controller once its run settled. */
  #forgetWhenSettled(run: Promise<unknown>, own: AbortController): void {
    const done = (): void => void this.#executions.delete(own)
    run.then(done, done)
  }

  /** Aborts every execution in flight with `reason` (the first reason stands). */
  #force(reason: unknown): void {
    if (this.#forced !== undefined) return
    this.#forced = reason
    for (const own of this.#executions) own.abort(reason)
    this.#executions.clear()
  }

  /** Same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #shutdown(): Promise<AgentPoolCloseReport> {
    this.#state = 'draining'
    for (const session of this.#table.sessions()) if (session.work === 0) void this.#table.release(session, 'closed')
    const graceMs = this.#options.closeTimeoutMs
    const settled = this.#settled()
    let expired = false
    let cancelTimer: CancelTimer | undefined
    const timeUp = new Promise<void>((resolve) => {
      cancelTimer = this.#options.closeClock.setTimer(graceMs, () => {
        expired = true
        resolve()
      })
    })
    await Promise.race([settled, timeUp])
    cancelTimer?.()
    if (expired) {
      this.#force(abandonedError(graceMs))
      // Work that honours the abort settles within a turn; only what ignores it is abandoned.
      await Promise.race([settled, new Promise<void>((resolve) => setImmediate(resolve))])
    }
    this.#state = 'closed'
    const abandoned = this.#inFlight.list()
    const report: AgentPoolCloseReport = { clean: abandoned.length === 0, graceMs, abandoned }
    if (!report.clean) this.#options.logger.warn('agent session pool closed with work abandoned', { graceMs, abandoned })
    return report
  }

  /** Resolves once no execution is accepted and every released instance is disposed. */
  async #settled(): Promise<void> {
    if (this.#work > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
    // Sessions that went idle while draining were released as they did; wait for their disposal.
    while (this.#disposals.size > 0) await Promise.all([...this.#disposals])
  }

  /** The three waits, the instance, the body, and the bookkeeping (see the module header). */
  async #run(agent: AnyAgent, sessionId: string, signal: AbortSignal, priority: number, body: Body, turnHeld = false): Promise<unknown> {
    const counters = this.#countersOf(agent)
    // Everything up to the turn's acquire is synchronous: the call order is the session's queue order.
    const session = this.#table.enter(agent, sessionId)
    const turn = this.#turnOf(session, agent, sessionId, turnHeld)
    this.#work++
    this.#pending++
    let startedAt: number | undefined
    let failed = false
    try {
      await turn.acquire(signal, priority)
      try {
        await this.#table.reserve(session, signal)
        await this.#workers.acquire(signal, priority)
        try {
          this.#pending--
          this.#running++
          startedAt = this.clock.now()
          const executionId = `${session.key}/${++this.#seq}`
          const instance = await this.#instanceOf(session, signal)
          const logger: Logger = this.#options.logger.child({ agent: agent.name, sessionId, executionId })
          const work = { stage: 'execute', agent: agent.name, sessionId, executionId } as const
          return await this.#inFlight.track(work, body(instance, { signal, agentName: agent.name, sessionId, executionId, logger }))
        } finally {
          this.#workers.release()
        }
      } finally {
        turn.release()
      }
    } catch (err) {
      failed = true
      throw err
    } finally {
      if (startedAt === undefined) this.#pending--
      else {
        this.#running--
        counters.finished(this.clock.now() - startedAt, failed)
      }
      if (failed) this.#failed++
      else this.#completed++
      this.#work--
      this.#afterExecution(session)
    }
  }

  /**
   * The session's turn: with a keyed limiter (an engine's pool), the same `session:<agent>#<id>`
   * permit the engine's agent tasks take, so direct executions and workflow tasks of one session
   * queue together; otherwise a gate of the session's own. A caller that already holds the permit
   * (an engine task) does not take it again.
   *
   * Every execution also takes the session's own gate, held until its body has returned: the
   * engine gives an agent task's permit back as soon as the attempt ends (a timeout, a cancel),
   * while an agent slow to honour its signal may still be running on the instance, and the next
   * execution must not join it there.
   */
  #turnOf(session: Session, agent: AnyAgent, sessionId: string, turnHeld: boolean): WorkerPlaces {
    const own: WorkerPlaces = { acquire: (signal) => session.turn.acquire(signal), release: () => session.turn.release() }
    const limiter = this.#options.limiter
    if (turnHeld || limiter === undefined || agent.concurrentSafe === true) return own
    const key = sessionPermitKey(agent.name, sessionId)
    return {
      // The session's executions take their turn in submission order: priority orders the pool's places only.
      acquire: async (signal) => {
        await limiter.acquire(key, 1, { signal })
        try {
          await own.acquire(signal, 0)
        } catch (err) {
          limiter.release(key)
          throw err
        }
      },
      release: () => {
        own.release()
        limiter.release(key)
      },
    }
  }

  /** The session's instance, created by the first execution that needs it. */
  async #instanceOf(session: Session, signal: AbortSignal): Promise<unknown> {
    // A concurrent-safe session's place may have gone while this execution waited for its worker
    // slot (another execution's create() failed and gave it back): take one again, and create.
    while (session.instance === undefined) await this.#table.reserve(session, signal)
    const holder = session.instance
    holder.creation ??= this.#inFlight.track({ stage: 'create', agent: session.agent.name, sessionId: session.sessionId }, this.#create(session, holder))
    // An execution aborted while the instance is being created leaves; the creation goes on for the next one.
    const creation = await untilAborted(holder.creation, signal)
    if (creation.ok) return creation.instance
    throw createFailedError(session.agent.name, session.sessionId, creation.error)
  }

  async #create(session: Session, holder: InstanceHolder): Promise<Creation> {
    try {
      // The raw value is kept: createFailedError() reads it defensively and makes it reportable.
      const instance = await callAgent(() => session.agent.create(session.sessionId, holder.lifetime.signal), (thrown) => thrown)
      this.#countersOf(session.agent).instancesCreated++
      return { ok: true, instance }
    } catch (error) {
      // Give the place back, so the session's next execution tries again.
      if (session.instance === holder) void this.#table.release(session, 'failed')
      return { ok: false, error }
    }
  }

  #afterExecution(session: Session): void {
    const idle = this.#table.leave(session)
    if (idle && session.instance !== undefined) {
      if (this.#state === 'running') {
        session.cancelIdle = this.clock.setTimer(this.#options.idleTimeoutMs, () => {
          session.cancelIdle = undefined
          if (session.work === 0) void this.#table.release(session, 'idle')
        })
      } else {
        void this.#table.release(session, 'closed')
      }
    }
    if (this.#work === 0) this.#drained?.()
  }

  /** Disposes a released instance once its creation settles; failures are logged, never thrown. */
  #dispose(session: Session, holder: InstanceHolder, reason: ReleaseReason): Promise<void> {
    const counters = this.#countersOf(session.agent)
    counters.activeInstances--
    if (reason === 'evicted') counters.instancesEvicted++
    if (!holder.lifetime.signal.aborted) holder.lifetime.abort(new CancelledError(`the instance was released (${reason})`))
    const creation = holder.creation
    if (creation === undefined || reason === 'failed') return Promise.resolve()
    const disposal = (async () => {
      const created = await creation
      if (!created.ok) return
      try {
        const work = { stage: 'dispose', agent: session.agent.name, sessionId: session.sessionId } as const
        await this.#inFlight.track(work, callAgent(() => session.agent.dispose?.(created.instance), (thrown) => thrown))
      } catch (err) {
        this.#options.logger.warn('agent instance dispose failed', { agent: session.agent.name, sessionId: session.sessionId, reason, error: readThrown(err).message })
      } finally {
        counters.instancesDisposed++
      }
    })()
    this.#disposals.add(disposal)
    void disposal.then(() => this.#disposals.delete(disposal))
    return disposal
  }

  /**
   * Refuses a direct execution that would have to wait behind `maxQueued` others (the seed's
   * `MAX_QUEUE_SIZE`): executions accepted and not yet ended may be the `maxConcurrent` that run
   * plus `maxQueued` more. (One just accepted counts as waiting until it has its place, a tick
   * later: counting it against the places rather than the queue, a burst that the free places
   * take at once is never refused.)
   */
  #checkRoom(): void {
    const { maxQueued, maxConcurrent } = this.#options
    if (this.#pending + this.#running < maxConcurrent + maxQueued) return
    const accepted = this.#pending + this.#running
    throw new TaskweaveError('TW_QUEUE_FULL', `the agent session pool has ${accepted} executions accepted and not ended, the most maxConcurrent (${maxConcurrent}) running and maxQueued (${maxQueued}) waiting allow: try again once some have ended`, { retryable: true, details: { maxQueued, maxConcurrent, accepted } })
  }

  #admit(ref: string | AnyAgent): AnyAgent {
    const name = typeof ref === 'string' ? ref : ref.name
    const agent = this.#options.agents.get(name)
    if (agent === undefined || (typeof ref !== 'string' && ref !== agent)) throw unknownAgentError(name, this.agentNames)
    return agent
  }

  #parse(agent: AnyAgent, input: unknown): unknown {
    if (agent.input === undefined) return input
    const parsed = agent.input.safeParse(input)
    if (parsed.success) return parsed.data
    const issues = parsed.error.issues.map((issue) => ({ message: issue.message, ...(issue.path.length > 0 ? { field: issue.path.map(String).join('.') } : {}) }))
    throw agentInputError(agent.name, issues, parsed.error)
  }

  #countersOf(agent: AnyAgent): AgentCounters {
    return this.#counters.get(agent.name) as AgentCounters
  }
}

/** The pool's `maxConcurrent` places: a gate of its own, or permits of a keyed limiter. */
interface WorkerPlaces {
  acquire(signal: AbortSignal, priority: number): Promise<void>
  release(): void
}

/** A turn the caller already holds. */

/** The keyed-limiter key of an agent session's turn (what the agent tool's permit takes too). */
export function sessionPermitKey(agentName: string, sessionId: string): string {
  return `session:${agentName}#${sessionId}`
}

/** Distinguishes the keys of several pools sharing one limiter. */
let poolSerial = 0

function workerPlaces(maxConcurrent: number, limiter: KeyedLimiter | undefined): WorkerPlaces {
  if (limiter === undefined) {
    const gate = new Gate(maxConcurrent)
    return { acquire: (signal) => gate.acquire(signal), release: () => gate.release() }
  }
  const key = `agents:pool-${++poolSerial}`
  return { acquire: (signal, priority) => limiter.acquire(key, maxConcurrent, { signal, priority }), release: () => limiter.release(key) }
}

/**
 * Checks what an execution is called with: a session id that keys nothing else (a non-string would
 * turn into one shared key, `[object Object]`, and mix sessions), and options it knows.
 */
function checkCall(method: string, sessionId: unknown, options: AgentExecuteOptions): void {
  if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > 512) throw new InvalidOptionError('sessionId', 'a non-empty string of at most 512 characters', sessionId)
  refuseUnknownOptions(method, options, ['signal', 'priority'])
  checkSignal(options.signal)
  checkPriority(options.priority)
}

/**
 * One execution through the agent's `stream()` (its `execute()` when it has none), each `delta`
 * handed to `onDelta` as it comes; resolves with the stream's return value.
 */
async function streamed(agent: AnyAgent, instance: unknown, input: unknown, ctx: AgentExecutionContext, onDelta: (data: unknown) => void): Promise<unknown> {
  let result: unknown
  const sink: ChunkSink = { delta: onDelta, done: (data) => void (result = data) }
  await pumpStream(agent, instance, input, ctx, sink)
  return result
}
